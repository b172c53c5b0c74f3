#include "db/db-profiles.h"

#include <errno.h>

#include "db/db-internal.h"
#include "lib/json.h"
#include "lib/str.h"

/* Last: makes the unsafe libc functions compile errors. */
#include "lib/banned.h"

static json_t *profile_from_row(sqlite3_stmt *stmt)
{
	json_t *p = json_object();

	json_object_set_new(p, "name", json_string(db_column_text(stmt, 0)));
	json_object_set_new(p, "description", json_string(db_column_text(stmt, 1)));
	json_object_set_new(p, "config", db_column_json(stmt, 2));
	json_object_set_new(p, "devices", db_column_json(stmt, 3));
	return p;
}

int db_profile_get(struct db *db, const char *name, json_t **ret, struct error *err)
{
	int r;

	r = db_query_json_one(
		db, "SELECT name, description, config, devices FROM profiles WHERE name = ?",
		DB_ARGS(DB_TEXT(name)), profile_from_row, ret, err);
	if (r == -ENOENT)
		return error_set(err, -ENOENT, "Profile '%s' not found", name);
	return r;
}

int db_profile_list(struct db *db, json_t **ret, struct error *err)
{
	return db_query_json_list(
		db, "SELECT name, description, config, devices FROM profiles ORDER BY name",
		DB_NO_ARGS, profile_from_row, ret, err);
}

int db_profile_create(struct db *db, const json_t *profile, struct error *err)
{
	const char *name = json_get_str(profile, "name");
	autofree char *config = db_json_text(json_object_get(profile, "config"));
	autofree char *devices = db_json_text(json_object_get(profile, "devices"));
	const char *desc = json_get_str(profile, "description");
	int r;

	r = db_run(db,
		   "INSERT INTO profiles (name, description, config, devices) VALUES (?, ?, ?, ?)",
		   DB_ARGS(DB_TEXT(name), DB_TEXT(desc ? desc : ""), DB_TEXT(config),
			   DB_TEXT(devices)),
		   err);
	if (r == -EEXIST) {
		error_clear(err);
		return error_set(err, -EEXIST, "Profile '%s' already exists", name);
	}
	return r < 0 ? r : 0;
}

int db_profile_update(struct db *db, const char *name, const json_t *profile, struct error *err)
{
	autofree char *config = db_json_text(json_object_get(profile, "config"));
	autofree char *devices = db_json_text(json_object_get(profile, "devices"));
	const char *desc = json_get_str(profile, "description");
	int r;

	r = db_run(db,
		   "UPDATE profiles SET description = ?, config = ?, devices = ? WHERE name = ?",
		   DB_ARGS(DB_TEXT(desc ? desc : ""), DB_TEXT(config), DB_TEXT(devices),
			   DB_TEXT(name)),
		   err);
	if (r == 0)
		return error_set(err, -ENOENT, "Profile '%s' not found", name);
	return r < 0 ? r : 0;
}

int db_profile_rename(struct db *db, const char *name, const char *new_name, struct error *err)
{
	int r;

	r = db_run(db, "UPDATE profiles SET name = ? WHERE name = ?",
		   DB_ARGS(DB_TEXT(new_name), DB_TEXT(name)), err);
	if (r == -EEXIST) {
		error_clear(err);
		return error_set(err, -EEXIST, "Profile '%s' already exists", new_name);
	}
	if (r == 0)
		return error_set(err, -ENOENT, "Profile '%s' not found", name);
	return r < 0 ? r : 0;
}

static json_t *name_from_row(sqlite3_stmt *stmt)
{
	return json_string(db_column_text(stmt, 0));
}

int db_profile_used_by(struct db *db, const char *name, json_t **ret, struct error *err)
{
	return db_query_json_list(
		db,
		"SELECT i.name FROM instances i JOIN instance_profiles ip ON ip.instance_id = i.id "
		"JOIN profiles p ON p.id = ip.profile_id WHERE p.name = ? ORDER BY i.name",
		DB_ARGS(DB_TEXT(name)), name_from_row, ret, err);
}

int db_profile_delete(struct db *db, const char *name, struct error *err)
{
	DB_LOCK_GUARD(db);
	autojson json_t *users = NULL;
	int r;

	r = db_profile_used_by(db, name, &users, err);
	if (r < 0)
		return r;
	if (json_array_size(users) > 0) {
		autofree char *list = json_to_string(users);

		return error_set(err, -EBUSY, "Profile '%s' is in use by instances %s", name, list);
	}
	r = db_run(db, "DELETE FROM profiles WHERE name = ?", DB_ARGS(DB_TEXT(name)), err);
	if (r == 0)
		return error_set(err, -ENOENT, "Profile '%s' not found", name);
	return r < 0 ? r : 0;
}
