#include "db/db-config.h"

#include <errno.h>
#include <jansson.h>

#include "db/db-internal.h"
#include "lib/json.h"
#include "lib/str.h"

/* Last: makes the unsafe libc functions compile errors. */
#include "lib/banned.h"

int db_config_load(struct db *db, json_t **ret, struct error *err)
{
	DB_LOCK_GUARD(db);
	autoclean(db_stmt_freep) sqlite3_stmt *stmt = NULL;
	autojson json_t *config = json_object();
	int r;

	r = db_prepare(db, "SELECT key, value FROM config ORDER BY key", DB_NO_ARGS, &stmt, err);
	if (r < 0)
		return r;

	while ((r = db_step(db, stmt, err)) > 0) {
		const char *key = db_column_text(stmt, 0);
		const char *value = db_column_text(stmt, 1);

		if (key && value)
			(void)json_object_set_new(config, key, json_string(value));
	}
	if (r < 0)
		return r;

	*ret = take_ptr(config);
	return 0;
}

int db_config_get(struct db *db, const char *key, char **ret, struct error *err)
{
	DB_LOCK_GUARD(db);
	autoclean(db_stmt_freep) sqlite3_stmt *stmt = NULL;
	int r;

	r = db_prepare(db, "SELECT value FROM config WHERE key = ?", DB_ARGS(DB_TEXT(key)), &stmt,
		       err);
	if (r < 0)
		return r;

	r = db_step(db, stmt, err);
	if (r < 0)
		return r;
	if (r == 0 || !db_column_text(stmt, 0))
		return error_set(err, -ENOENT, "Server configuration key '%s' is not set", key);

	*ret = xstrdup(db_column_text(stmt, 0));
	return 0;
}

/* Checks every value before the first write, so a bad one changes nothing. */
static int config_check_strings(const json_t *config, bool null_allowed, struct error *err)
{
	const char *key;
	json_t *value;

	if (config && !json_is_object(config))
		return error_set(err, -EINVAL, "Server configuration must be an object");

	json_object_foreach((json_t *)config, key, value)
	{
		if (json_is_string(value) || (null_allowed && json_is_null(value)))
			continue;
		return error_set(err, -EINVAL, "Invalid value for '%s': expected a string", key);
	}
	return 0;
}

static int config_set(struct db *db, const char *key, const char *value, struct error *err)
{
	int r;

	if (str_is_empty(value))
		r = db_run(db, "DELETE FROM config WHERE key = ?", DB_ARGS(DB_TEXT(key)), err);
	else
		r = db_run(db,
			   "INSERT INTO config (key, value) VALUES (?, ?) "
			   "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
			   DB_ARGS(DB_TEXT(key), DB_TEXT(value)), err);
	return r < 0 ? r : 0;
}

static int config_replace_tx(struct db *db, void *data, struct error *err)
{
	const json_t *config = data;
	const char *key;
	json_t *value;
	int r;

	r = db_run(db, "DELETE FROM config", DB_NO_ARGS, err);
	if (r < 0)
		return r;

	json_object_foreach((json_t *)config, key, value)
	{
		r = config_set(db, key, json_string_value(value), err);
		if (r < 0)
			return r;
	}
	return 0;
}

int db_config_replace(struct db *db, const json_t *config, struct error *err)
{
	int r;

	r = config_check_strings(config, false, err);
	if (r < 0)
		return r;

	return db_transaction(db, config_replace_tx, (void *)config, err);
}

static int config_update_tx(struct db *db, void *data, struct error *err)
{
	const json_t *changes = data;
	const char *key;
	json_t *value;
	int r;

	json_object_foreach((json_t *)changes, key, value)
	{
		r = config_set(db, key, json_string_value(value), err);
		if (r < 0)
			return r;
	}
	return 0;
}

int db_config_update(struct db *db, const json_t *changes, struct error *err)
{
	int r;

	r = config_check_strings(changes, true, err);
	if (r < 0)
		return r;

	return db_transaction(db, config_update_tx, (void *)changes, err);
}
