/* db/db-config.h: the server configuration (GET/PUT/PATCH /1.0), stored one row per key.
 *
 * These functions store what they are given: the caller validates first (through
 * daemon/server-config.h). Values are strings, as in the API. A key that is not stored is
 * unset and takes its default. Each call takes the database lock and blocks on disk I/O;
 * inside db_transaction() they join the running transaction, which is how PUT and PATCH
 * read, merge and write back without another request slipping in between:
 *
 *	db_config_load() -> server_config_patch() -> db_config_replace()
 */
#pragma once

#include <jansson.h>

#include "db/db.h"
#include "lib/error.h"

/* The whole configuration as a new JSON object of key -> string (empty when nothing is
 * set). The caller owns *ret. */
int db_config_load(struct db *db, json_t **ret, struct error *err);

/* The value of one key as a new string the caller frees; -ENOENT when the key is unset. */
int db_config_get(struct db *db, const char *key, char **ret, struct error *err);

/* Replaces the whole configuration with config (an object of key -> string; NULL or an
 * empty object clears it), in one transaction. -EINVAL, changing nothing, when a value is
 * not a string. */
int db_config_replace(struct db *db, const json_t *config, struct error *err);

/* Applies changes (an object) in one transaction: a string value sets its key, null or ""
 * unsets it; keys not mentioned stay as they are. -EINVAL, changing nothing, for a value of
 * another type. */
int db_config_update(struct db *db, const json_t *changes, struct error *err);
