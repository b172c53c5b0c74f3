/* db/db-instances.h: instances and their snapshots.
 *
 * Rows travel as JSON objects (db/ knows nothing of the instance model):
 *   {"id", "name", "type", "architecture", "description", "ephemeral", "stateful",
 *    "config", "devices", "profiles": [names in apply order], "created_at", "last_used_at"}
 * Snapshots carry {"id", "name" (the snapshot's own name), "description", "stateful",
 * "config", "devices", "profiles", "created_at", "expires_at"}. The instance model validated
 * every config and device before it calls these.
 */
#pragma once

#include <jansson.h>
#include <stdint.h>

#include "lib/error.h"

struct db;

/* -ENOENT "Instance 'x' not found". */
int db_instance_get(struct db *db, const char *name, json_t **ret, struct error *err);

/* Every instance row, by name. */
int db_instance_list(struct db *db, json_t **ret, struct error *err);

/* Inserts the row and its profile links in one transaction; *ret_id is the new id.
 * -EEXIST when the name is taken, -ENOENT naming a missing profile. */
int db_instance_create(struct db *db, const json_t *row, int64_t *ret_id, struct error *err);

/* Replaces architecture, description, ephemeral, config, devices and profiles. */
int db_instance_update(struct db *db, const char *name, const json_t *row, struct error *err);

int db_instance_rename(struct db *db, const char *name, const char *new_name, struct error *err);

/* Removes the instance, its snapshots and profile links. */
int db_instance_delete(struct db *db, const char *name, struct error *err);

int db_instance_touch(struct db *db, const char *name, long long last_used_at, struct error *err);

/* Snapshots of the instance called instance, oldest first. */
int db_snapshot_list(struct db *db, const char *instance, json_t **ret, struct error *err);
int db_snapshot_get(struct db *db, const char *instance, const char *snap, json_t **ret,
		    struct error *err);
int db_snapshot_create(struct db *db, const char *instance, const json_t *row, struct error *err);
int db_snapshot_rename(struct db *db, const char *instance, const char *snap, const char *new_name,
		       struct error *err);
int db_snapshot_update(struct db *db, const char *instance, const char *snap, const json_t *row,
		       struct error *err);
int db_snapshot_delete(struct db *db, const char *instance, const char *snap, struct error *err);
