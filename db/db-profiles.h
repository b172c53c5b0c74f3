/* db/db-profiles.h: profiles, stored as {"name","description","config","devices"} objects
 * whose config and devices were validated by the instance model before they got here. */
#pragma once

#include <jansson.h>

#include "lib/error.h"

struct db;

/* The profile called name as a new object; -ENOENT "Profile 'x' not found". */
int db_profile_get(struct db *db, const char *name, json_t **ret, struct error *err);

/* Every profile (objects, by name). */
int db_profile_list(struct db *db, json_t **ret, struct error *err);

/* Inserts profile (name, description, config, devices); -EEXIST when the name is taken. */
int db_profile_create(struct db *db, const json_t *profile, struct error *err);

/* Replaces description, config and devices of the profile called name. */
int db_profile_update(struct db *db, const char *name, const json_t *profile, struct error *err);

int db_profile_rename(struct db *db, const char *name, const char *new_name, struct error *err);

/* -EBUSY naming the users when instances use it. */
int db_profile_delete(struct db *db, const char *name, struct error *err);

/* Names of the instances that use the profile, as a new array. */
int db_profile_used_by(struct db *db, const char *name, json_t **ret, struct error *err);
