/* db/db-storage.h: storage pools and volumes (tables storage_pools and storage_volumes),
 * and the two small reads of other tables that storage needs (profiles and instances that
 * use a pool or a volume, whether an image still exists).
 *
 * These functions store what they are given: storage/storage.c validates names and config
 * (against its key tables) first. Config is a JSON object of strings, stored as its text.
 * A volume snapshot is a volume row named "<volume>/<snapshot>" of its volume's type.
 *
 * Each call takes the database lock and blocks on disk I/O; inside db_transaction() they
 * join the running transaction.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db/db.h"
#include "lib/error.h"
#include "lib/macro.h"

struct db_storage_pool {
	int64_t id;
	char *name;
	char *driver;
	char *description;
	json_t *config; /* object of strings */
	char *status;	/* "Created" */
};

void db_storage_pool_free(struct db_storage_pool *pool);
DEFINE_FREEP(struct db_storage_pool, db_storage_pool_free)

struct db_storage_volume {
	int64_t id;
	int64_t pool_id;
	char *type; /* "container", "virtual-machine", "image", "custom" */
	char *name; /* "c1", or "c1/snap0" for a snapshot */
	char *description;
	char *content_type; /* "filesystem", "block" */
	json_t *config;	    /* object of strings */
	int64_t created_at; /* unix seconds */
};

void db_storage_volume_free(struct db_storage_volume *vol);
DEFINE_FREEP(struct db_storage_volume, db_storage_volume_free)

/* A list of volumes as the list functions return it. */
struct db_storage_volume_list {
	struct db_storage_volume **items;
	size_t n;
};

void db_storage_volume_list_release(struct db_storage_volume_list *list);

/* The pool called name; -ENOENT "Storage pool '<name>' not found". *ret is the caller's. */
int db_storage_pool_get(struct db *db, const char *name, struct db_storage_pool **ret,
			struct error *err);

/* The names of every pool, sorted, as a new JSON array of strings. */
int db_storage_pool_names(struct db *db, json_t **ret, struct error *err);

/* Adds a pool; -EEXIST "Storage pool '<name>' already exists". ret_id may be NULL. */
int db_storage_pool_insert(struct db *db, const char *name, const char *driver,
			   const char *description, const json_t *config, int64_t *ret_id,
			   struct error *err);

/* Replaces a pool's description and config. -ENOENT when the pool is gone. */
int db_storage_pool_update(struct db *db, int64_t id, const char *description, const json_t *config,
			   struct error *err);

/* Removes a pool and (by cascade) every volume row in it. */
int db_storage_pool_delete(struct db *db, int64_t id, struct error *err);

/* One volume of a pool; -ENOENT "Storage volume '<name>' of type '<type>' not found". */
int db_storage_volume_get(struct db *db, int64_t pool_id, const char *type, const char *name,
			  struct db_storage_volume **ret, struct error *err);

/* The volumes of a pool sorted by type and name: of one type (NULL: every type), and either
 * the volumes themselves (parent NULL: no snapshots) or the snapshots of volume parent
 * (parent non-NULL, type required). Fills *ret, which the caller releases. */
int db_storage_volume_list(struct db *db, int64_t pool_id, const char *type, const char *parent,
			   struct db_storage_volume_list *ret, struct error *err);

/* Adds vol (its id is ignored); -EEXIST "Storage volume '<name>' of type '<type>' already
 * exists". ret_id may be NULL. */
int db_storage_volume_insert(struct db *db, const struct db_storage_volume *vol, int64_t *ret_id,
			     struct error *err);

/* Replaces a volume's description and config. */
int db_storage_volume_update(struct db *db, int64_t id, const char *description,
			     const json_t *config, struct error *err);

/* Renames volume name of type in a pool, and its snapshots with it ("old/s" -> "new/s"), in
 * one transaction. -EEXIST when new_name is taken, -ENOENT when name is gone. */
int db_storage_volume_rename(struct db *db, int64_t pool_id, const char *type, const char *name,
			     const char *new_name, struct error *err);

/* Removes one volume row (a snapshot row is a volume row). */
int db_storage_volume_delete(struct db *db, int64_t id, struct error *err);

/* The names of the volumes (snapshots included) of type in a pool whose config has
 * key = value, as a new sorted JSON array of strings. */
int db_storage_volume_names_by_config(struct db *db, int64_t pool_id, const char *type,
				      const char *key, const char *value, json_t **ret,
				      struct error *err);

/* Whether an image with this fingerprint is in the images table. */
int db_image_exists(struct db *db, const char *fingerprint, bool *ret, struct error *err);

/* Profiles with a device whose "pool" is pool, as a new sorted JSON array of names. */
int db_storage_pool_profiles(struct db *db, const char *pool, json_t **ret, struct error *err);

/* Instances and profiles with a disk device attaching custom volume volume of pool
 * ({"type": "disk", "pool": pool, "source": volume}), as a new JSON array of API URLs
 * ("/1.0/instances/c1", "/1.0/profiles/p"). Only their own devices are read: an instance
 * that gets the device from a profile is reached through that profile. */
int db_storage_volume_users(struct db *db, const char *pool, const char *volume, json_t **ret,
			    struct error *err);

/* Gives profile a root disk device {"type": "disk", "path": "/", "pool": pool} named "root"
 * unless it already has a disk device with path "/". Returns 1 when it added one, 0 when
 * there was one already; -ENOENT when the profile does not exist. */
int db_profile_root_disk_ensure(struct db *db, const char *profile, const char *pool,
				struct error *err);
