#include <errno.h>
#include <stdint.h>
#include <time.h>

#include "db/db-internal.h"
#include "db/db.h"
#include "lib/log.h"

/* Last: makes the unsafe libc functions compile errors. */
#include "lib/banned.h"

/* The migrations, oldest first. A database's schema version is the number of them it has
 * run: schema_updates[0] takes an empty file to version 1, schema_updates[1] takes version
 * 1 to 2, and so on. Each runs in its own transaction together with the row that records
 * it in the `schema` table, so a crash leaves the database at one version or the next.
 *
 * To change the schema, append one entry at the end, after a comment naming its version and
 * what it is for:
 *
 *	"CREATE TABLE instances (\n"
 *	"    id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
 *	"    name TEXT NOT NULL UNIQUE,\n"
 *	"    ...\n"
 *	");",
 *
 * and never edit, reorder or remove an entry that was ever committed: databases out there
 * already ran it, and a binary that changed it would disagree with them. Fix a mistake
 * with a new entry. foreign_keys is ON and cannot be switched off inside a transaction; a
 * migration that rebuilds a referenced table uses SQLite's "create new, copy, drop old,
 * rename" procedure with `PRAGMA defer_foreign_keys = ON;` at its start. */
static const char *const schema_updates[] = {
	/* 1: server configuration (GET/PUT/PATCH /1.0), one row per key that is set */
	"CREATE TABLE config (\n"
	"    key TEXT PRIMARY KEY,\n"
	"    value TEXT NOT NULL\n"
	");",

	/* 2: images, storage, profiles, instances, snapshots, networks, certificates. Config
	 * and devices are JSON objects of strings (validated by their key tables before they
	 * are stored); lists of names are JSON arrays. Times are unix seconds. */
	"CREATE TABLE images (\n"
	"    id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
	"    fingerprint TEXT NOT NULL UNIQUE,\n"
	"    type TEXT NOT NULL DEFAULT 'container',\n"
	"    filename TEXT NOT NULL DEFAULT '',\n"
	"    size INTEGER NOT NULL DEFAULT 0,\n"
	"    public INTEGER NOT NULL DEFAULT 0,\n"
	"    cached INTEGER NOT NULL DEFAULT 0,\n"
	"    auto_update INTEGER NOT NULL DEFAULT 0,\n"
	"    architecture TEXT NOT NULL DEFAULT '',\n"
	"    properties TEXT NOT NULL DEFAULT '{}',\n"
	"    profiles TEXT NOT NULL DEFAULT '[\"default\"]',\n"
	"    update_source TEXT NOT NULL DEFAULT '{}',\n"
	"    created_at INTEGER NOT NULL DEFAULT 0,\n"
	"    uploaded_at INTEGER NOT NULL DEFAULT 0,\n"
	"    expires_at INTEGER NOT NULL DEFAULT 0,\n"
	"    last_used_at INTEGER NOT NULL DEFAULT 0\n"
	");\n"
	"CREATE TABLE image_aliases (\n"
	"    id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
	"    name TEXT NOT NULL UNIQUE,\n"
	"    image_id INTEGER NOT NULL REFERENCES images (id) ON DELETE CASCADE,\n"
	"    type TEXT NOT NULL DEFAULT 'container',\n"
	"    description TEXT NOT NULL DEFAULT ''\n"
	");\n"
	"CREATE TABLE storage_pools (\n"
	"    id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
	"    name TEXT NOT NULL UNIQUE,\n"
	"    driver TEXT NOT NULL,\n"
	"    description TEXT NOT NULL DEFAULT '',\n"
	"    config TEXT NOT NULL DEFAULT '{}',\n"
	"    status TEXT NOT NULL DEFAULT 'Created'\n"
	");\n"
	"CREATE TABLE storage_volumes (\n"
	"    id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
	"    pool_id INTEGER NOT NULL REFERENCES storage_pools (id) ON DELETE CASCADE,\n"
	"    type TEXT NOT NULL,\n"
	"    name TEXT NOT NULL,\n"
	"    description TEXT NOT NULL DEFAULT '',\n"
	"    content_type TEXT NOT NULL DEFAULT 'filesystem',\n"
	"    config TEXT NOT NULL DEFAULT '{}',\n"
	"    created_at INTEGER NOT NULL DEFAULT 0,\n"
	"    UNIQUE (pool_id, type, name)\n"
	");\n"
	"CREATE TABLE profiles (\n"
	"    id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
	"    name TEXT NOT NULL UNIQUE,\n"
	"    description TEXT NOT NULL DEFAULT '',\n"
	"    config TEXT NOT NULL DEFAULT '{}',\n"
	"    devices TEXT NOT NULL DEFAULT '{}'\n"
	");\n"
	"INSERT INTO profiles (name, description) VALUES ('default', 'Default lodge profile');\n"
	"CREATE TABLE instances (\n"
	"    id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
	"    name TEXT NOT NULL UNIQUE,\n"
	"    type TEXT NOT NULL,\n"
	"    architecture TEXT NOT NULL DEFAULT '',\n"
	"    description TEXT NOT NULL DEFAULT '',\n"
	"    ephemeral INTEGER NOT NULL DEFAULT 0,\n"
	"    stateful INTEGER NOT NULL DEFAULT 0,\n"
	"    config TEXT NOT NULL DEFAULT '{}',\n"
	"    devices TEXT NOT NULL DEFAULT '{}',\n"
	"    created_at INTEGER NOT NULL DEFAULT 0,\n"
	"    last_used_at INTEGER NOT NULL DEFAULT 0\n"
	");\n"
	"CREATE TABLE instance_profiles (\n"
	"    instance_id INTEGER NOT NULL REFERENCES instances (id) ON DELETE CASCADE,\n"
	"    profile_id INTEGER NOT NULL REFERENCES profiles (id),\n"
	"    apply_order INTEGER NOT NULL,\n"
	"    PRIMARY KEY (instance_id, profile_id)\n"
	");\n"
	"CREATE TABLE instance_snapshots (\n"
	"    id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
	"    instance_id INTEGER NOT NULL REFERENCES instances (id) ON DELETE CASCADE,\n"
	"    name TEXT NOT NULL,\n"
	"    description TEXT NOT NULL DEFAULT '',\n"
	"    stateful INTEGER NOT NULL DEFAULT 0,\n"
	"    config TEXT NOT NULL DEFAULT '{}',\n"
	"    devices TEXT NOT NULL DEFAULT '{}',\n"
	"    profiles TEXT NOT NULL DEFAULT '[]',\n"
	"    created_at INTEGER NOT NULL DEFAULT 0,\n"
	"    expires_at INTEGER NOT NULL DEFAULT 0,\n"
	"    UNIQUE (instance_id, name)\n"
	");\n"
	"CREATE TABLE networks (\n"
	"    id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
	"    name TEXT NOT NULL UNIQUE,\n"
	"    type TEXT NOT NULL DEFAULT 'bridge',\n"
	"    description TEXT NOT NULL DEFAULT '',\n"
	"    config TEXT NOT NULL DEFAULT '{}',\n"
	"    status TEXT NOT NULL DEFAULT 'Created'\n"
	");\n"
	"CREATE TABLE certificates (\n"
	"    id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
	"    fingerprint TEXT NOT NULL UNIQUE,\n"
	"    type TEXT NOT NULL DEFAULT 'client',\n"
	"    name TEXT NOT NULL DEFAULT '',\n"
	"    certificate TEXT NOT NULL,\n"
	"    restricted INTEGER NOT NULL DEFAULT 0,\n"
	"    projects TEXT NOT NULL DEFAULT '[]'\n"
	");",
};

static const char schema_table_sql[] = "CREATE TABLE IF NOT EXISTS schema (\n"
				       "    version INTEGER PRIMARY KEY,\n"
				       "    updated_at INTEGER NOT NULL\n"
				       ");";

int db_schema_latest(void)
{
	return (int)ARRAY_SIZE(schema_updates);
}

int db_schema_version(struct db *db, struct error *err)
{
	DB_LOCK_GUARD(db);
	int64_t n = 0;
	int r;

	r = db_query_int(
		db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema'",
		DB_NO_ARGS, &n, err);
	if (r < 0)
		return r;
	if (n == 0)
		return 0;

	r = db_query_int(db, "SELECT COALESCE(MAX(version), 0) FROM schema", DB_NO_ARGS, &n, err);
	if (r < 0)
		return r;
	if (n < 0 || n > INT32_MAX)
		return error_set(err, -EUCLEAN, "Database error: invalid schema version %lld",
				 (long long)n);
	return (int)n;
}

/* Runs migration *data (a version number) unless another process got there first. */
static int schema_update_apply(struct db *db, void *data, struct error *err)
{
	int target = *(const int *)data;
	int current;
	int r;

	r = db_exec_script(db, schema_table_sql, err);
	if (r < 0)
		return r;

	current = db_schema_version(db, err);
	if (current < 0)
		return current;
	if (current >= target)
		return 0;
	if (current != target - 1)
		return error_set(err, -EIO, "Database error: schema at version %d, expected %d",
				 current, target - 1);

	r = db_exec_script(db, schema_updates[target - 1], err);
	if (r < 0)
		return r;

	r = db_run(db, "INSERT INTO schema (version, updated_at) VALUES (?, ?)",
		   DB_ARGS(DB_INT(target), DB_INT(time(NULL))), err);
	return r < 0 ? r : 0;
}

int db_schema_update(struct db *db, struct error *err)
{
	int latest = db_schema_latest();
	int version;
	int r;

	version = db_schema_version(db, err);
	if (version < 0) {
		(void)error_prefix(err, "Failed to read the schema version of database '%s'",
				   db->path);
		return version;
	}
	if (version > latest)
		return error_set(
			err, -EPROTO,
			"Database '%s' has schema version %d, newer than the %d this lodge knows: it was written by a newer release, refusing to use it",
			db->path, version, latest);

	for (int v = version + 1; v <= latest; v++) {
		r = db_transaction(db, schema_update_apply, &v, err);
		if (r < 0) {
			(void)error_prefix(err,
					   "Failed to update database '%s' to schema version %d",
					   db->path, v);
			return r;
		}
		log_debug("Updated database '%s' to schema version %d", db->path, v);
	}
	return 0;
}
