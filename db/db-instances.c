#include "db/db-instances.h"

#include <errno.h>

#include "db/db-internal.h"
#include "lib/json.h"
#include "lib/str.h"

/* Last: makes the unsafe libc functions compile errors. */
#include "lib/banned.h"

#define INSTANCE_COLUMNS                                                                  \
	"i.id, i.name, i.type, i.architecture, i.description, i.ephemeral, i.stateful, "  \
	"i.config, i.devices, i.created_at, i.last_used_at, "                             \
	"(SELECT json_group_array(p.name) FROM (SELECT p.name FROM instance_profiles ip " \
	"JOIN profiles p ON p.id = ip.profile_id WHERE ip.instance_id = i.id "            \
	"ORDER BY ip.apply_order) p)"

static json_t *instance_from_row(sqlite3_stmt *stmt)
{
	json_t *j = json_object();

	json_object_set_new(j, "id", json_integer(db_column_int(stmt, 0)));
	json_object_set_new(j, "name", json_string(db_column_text(stmt, 1)));
	json_object_set_new(j, "type", json_string(db_column_text(stmt, 2)));
	json_object_set_new(j, "architecture", json_string(db_column_text(stmt, 3)));
	json_object_set_new(j, "description", json_string(db_column_text(stmt, 4)));
	json_object_set_new(j, "ephemeral", json_boolean(db_column_int(stmt, 5)));
	json_object_set_new(j, "stateful", json_boolean(db_column_int(stmt, 6)));
	json_object_set_new(j, "config", db_column_json(stmt, 7));
	json_object_set_new(j, "devices", db_column_json(stmt, 8));
	json_object_set_new(j, "created_at", json_integer(db_column_int(stmt, 9)));
	json_object_set_new(j, "last_used_at", json_integer(db_column_int(stmt, 10)));
	json_object_set_new(j, "profiles", db_column_json(stmt, 11));
	return j;
}

int db_instance_get(struct db *db, const char *name, json_t **ret, struct error *err)
{
	int r;

	r = db_query_json_one(db, "SELECT " INSTANCE_COLUMNS " FROM instances i WHERE i.name = ?",
			      DB_ARGS(DB_TEXT(name)), instance_from_row, ret, err);
	if (r == -ENOENT)
		return error_set(err, -ENOENT, "Instance '%s' not found", name);
	return r;
}

int db_instance_list(struct db *db, json_t **ret, struct error *err)
{
	return db_query_json_list(db,
				  "SELECT " INSTANCE_COLUMNS " FROM instances i ORDER BY i.name",
				  DB_NO_ARGS, instance_from_row, ret, err);
}

/* Rewrites the profile links of instance id from the row's "profiles" array. */
static int instance_set_profiles(struct db *db, int64_t id, const json_t *row, struct error *err)
{
	json_t *profiles = json_object_get(row, "profiles");
	size_t i;
	json_t *p;
	int r;

	r = db_run(db, "DELETE FROM instance_profiles WHERE instance_id = ?", DB_ARGS(DB_INT(id)),
		   err);
	if (r < 0)
		return r;
	json_array_foreach(profiles, i, p)
	{
		int64_t pid;

		r = db_query_int(db, "SELECT id FROM profiles WHERE name = ?",
				 DB_ARGS(DB_TEXT(json_string_value(p))), &pid, err);
		if (r == -ENOENT) {
			error_clear(err);
			return error_set(err, -ENOENT, "Profile '%s' not found",
					 json_string_value(p));
		}
		if (r < 0)
			return r;
		r = db_run(db,
			   "INSERT INTO instance_profiles (instance_id, profile_id, apply_order) "
			   "VALUES (?, ?, ?)",
			   DB_ARGS(DB_INT(id), DB_INT(pid), DB_INT(i)), err);
		if (r == -EEXIST) {
			error_clear(err);
			return error_set(err, -EINVAL, "Profile '%s' is listed twice",
					 json_string_value(p));
		}
		if (r < 0)
			return r;
	}
	return 0;
}

struct instance_create_args {
	const json_t *row;
	int64_t id;
};

static int instance_create_tx(struct db *db, void *data, struct error *err)
{
	struct instance_create_args *a = data;
	const json_t *row = a->row;
	const char *name = json_get_str(row, "name");
	autofree char *config = db_json_text(json_object_get(row, "config"));
	autofree char *devices = db_json_text(json_object_get(row, "devices"));
	const char *desc = json_get_str(row, "description");
	const char *arch = json_get_str(row, "architecture");
	long long created = 0;
	bool ephemeral = false;
	int r;

	(void)json_get_int(row, "created_at", &created);
	(void)json_get_bool(row, "ephemeral", &ephemeral);
	r = db_run(
		db,
		"INSERT INTO instances (name, type, architecture, description, ephemeral, config, "
		"devices, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
		DB_ARGS(DB_TEXT(name), DB_TEXT(json_get_str(row, "type")),
			DB_TEXT(arch ? arch : ""), DB_TEXT(desc ? desc : ""), DB_BOOL(ephemeral),
			DB_TEXT(config), DB_TEXT(devices), DB_INT(created)),
		err);
	if (r == -EEXIST) {
		error_clear(err);
		return error_set(err, -EEXIST, "Instance '%s' already exists", name);
	}
	if (r < 0)
		return r;
	r = db_query_int(db, "SELECT id FROM instances WHERE name = ?", DB_ARGS(DB_TEXT(name)),
			 &a->id, err);
	if (r < 0)
		return r;
	return instance_set_profiles(db, a->id, row, err);
}

int db_instance_create(struct db *db, const json_t *row, int64_t *ret_id, struct error *err)
{
	struct instance_create_args a = { .row = row };
	int r;

	r = db_transaction(db, instance_create_tx, &a, err);
	if (r < 0)
		return r;
	if (ret_id)
		*ret_id = a.id;
	return 0;
}

struct instance_update_args {
	const char *name;
	const json_t *row;
};

static int instance_update_tx(struct db *db, void *data, struct error *err)
{
	struct instance_update_args *a = data;
	autofree char *config = db_json_text(json_object_get(a->row, "config"));
	autofree char *devices = db_json_text(json_object_get(a->row, "devices"));
	const char *desc = json_get_str(a->row, "description");
	const char *arch = json_get_str(a->row, "architecture");
	bool ephemeral = false;
	int64_t id;
	int r;

	(void)json_get_bool(a->row, "ephemeral", &ephemeral);
	r = db_query_int(db, "SELECT id FROM instances WHERE name = ?", DB_ARGS(DB_TEXT(a->name)),
			 &id, err);
	if (r == -ENOENT) {
		error_clear(err);
		return error_set(err, -ENOENT, "Instance '%s' not found", a->name);
	}
	if (r < 0)
		return r;
	r = db_run(db,
		   "UPDATE instances SET architecture = ?, description = ?, ephemeral = ?, "
		   "config = ?, devices = ? WHERE id = ?",
		   DB_ARGS(DB_TEXT(arch ? arch : ""), DB_TEXT(desc ? desc : ""), DB_BOOL(ephemeral),
			   DB_TEXT(config), DB_TEXT(devices), DB_INT(id)),
		   err);
	if (r < 0)
		return r;
	return instance_set_profiles(db, id, a->row, err);
}

int db_instance_update(struct db *db, const char *name, const json_t *row, struct error *err)
{
	struct instance_update_args a = { .name = name, .row = row };

	return db_transaction(db, instance_update_tx, &a, err);
}

int db_instance_rename(struct db *db, const char *name, const char *new_name, struct error *err)
{
	int r;

	r = db_run(db, "UPDATE instances SET name = ? WHERE name = ?",
		   DB_ARGS(DB_TEXT(new_name), DB_TEXT(name)), err);
	if (r == -EEXIST) {
		error_clear(err);
		return error_set(err, -EEXIST, "Instance '%s' already exists", new_name);
	}
	if (r == 0)
		return error_set(err, -ENOENT, "Instance '%s' not found", name);
	return r < 0 ? r : 0;
}

int db_instance_delete(struct db *db, const char *name, struct error *err)
{
	int r;

	r = db_run(db, "DELETE FROM instances WHERE name = ?", DB_ARGS(DB_TEXT(name)), err);
	if (r == 0)
		return error_set(err, -ENOENT, "Instance '%s' not found", name);
	return r < 0 ? r : 0;
}

int db_instance_touch(struct db *db, const char *name, long long last_used_at, struct error *err)
{
	int r;

	r = db_run(db, "UPDATE instances SET last_used_at = ? WHERE name = ?",
		   DB_ARGS(DB_INT(last_used_at), DB_TEXT(name)), err);
	return r < 0 ? r : 0;
}

/* --- snapshots ------------------------------------------------------------------------- */

#define SNAPSHOT_COLUMNS                                                             \
	"s.id, s.name, s.description, s.stateful, s.config, s.devices, s.profiles, " \
	"s.created_at, s.expires_at"

static json_t *snapshot_from_row(sqlite3_stmt *stmt)
{
	json_t *j = json_object();

	json_object_set_new(j, "id", json_integer(db_column_int(stmt, 0)));
	json_object_set_new(j, "name", json_string(db_column_text(stmt, 1)));
	json_object_set_new(j, "description", json_string(db_column_text(stmt, 2)));
	json_object_set_new(j, "stateful", json_boolean(db_column_int(stmt, 3)));
	json_object_set_new(j, "config", db_column_json(stmt, 4));
	json_object_set_new(j, "devices", db_column_json(stmt, 5));
	json_object_set_new(j, "profiles", db_column_json(stmt, 6));
	json_object_set_new(j, "created_at", json_integer(db_column_int(stmt, 7)));
	json_object_set_new(j, "expires_at", json_integer(db_column_int(stmt, 8)));
	return j;
}

int db_snapshot_list(struct db *db, const char *instance, json_t **ret, struct error *err)
{
	return db_query_json_list(
		db,
		"SELECT " SNAPSHOT_COLUMNS " FROM instance_snapshots s JOIN instances i "
		"ON i.id = s.instance_id WHERE i.name = ? ORDER BY s.created_at, s.id",
		DB_ARGS(DB_TEXT(instance)), snapshot_from_row, ret, err);
}

int db_snapshot_get(struct db *db, const char *instance, const char *snap, json_t **ret,
		    struct error *err)
{
	int r;

	r = db_query_json_one(
		db,
		"SELECT " SNAPSHOT_COLUMNS " FROM instance_snapshots s JOIN instances i "
		"ON i.id = s.instance_id WHERE i.name = ? AND s.name = ?",
		DB_ARGS(DB_TEXT(instance), DB_TEXT(snap)), snapshot_from_row, ret, err);
	if (r == -ENOENT)
		return error_set(err, -ENOENT, "Snapshot '%s/%s' not found", instance, snap);
	return r;
}

int db_snapshot_create(struct db *db, const char *instance, const json_t *row, struct error *err)
{
	const char *name = json_get_str(row, "name");
	autofree char *config = db_json_text(json_object_get(row, "config"));
	autofree char *devices = db_json_text(json_object_get(row, "devices"));
	autofree char *profiles = db_json_text(json_object_get(row, "profiles"));
	const char *desc = json_get_str(row, "description");
	long long created = 0, expires = 0;
	bool stateful = false;
	int r;

	(void)json_get_int(row, "created_at", &created);
	(void)json_get_int(row, "expires_at", &expires);
	(void)json_get_bool(row, "stateful", &stateful);
	r = db_run(
		db,
		"INSERT INTO instance_snapshots (instance_id, name, description, stateful, config, "
		"devices, profiles, created_at, expires_at) SELECT id, ?, ?, ?, ?, ?, ?, ?, ? "
		"FROM instances WHERE name = ?",
		DB_ARGS(DB_TEXT(name), DB_TEXT(desc ? desc : ""), DB_BOOL(stateful),
			DB_TEXT(config), DB_TEXT(devices), DB_TEXT(profiles), DB_INT(created),
			DB_INT(expires), DB_TEXT(instance)),
		err);
	if (r == -EEXIST) {
		error_clear(err);
		return error_set(err, -EEXIST, "Snapshot '%s/%s' already exists", instance, name);
	}
	if (r == 0)
		return error_set(err, -ENOENT, "Instance '%s' not found", instance);
	return r < 0 ? r : 0;
}

int db_snapshot_rename(struct db *db, const char *instance, const char *snap, const char *new_name,
		       struct error *err)
{
	int r;

	r = db_run(db,
		   "UPDATE instance_snapshots SET name = ? WHERE name = ? AND instance_id = "
		   "(SELECT id FROM instances WHERE name = ?)",
		   DB_ARGS(DB_TEXT(new_name), DB_TEXT(snap), DB_TEXT(instance)), err);
	if (r == -EEXIST) {
		error_clear(err);
		return error_set(err, -EEXIST, "Snapshot '%s/%s' already exists", instance,
				 new_name);
	}
	if (r == 0)
		return error_set(err, -ENOENT, "Snapshot '%s/%s' not found", instance, snap);
	return r < 0 ? r : 0;
}

int db_snapshot_update(struct db *db, const char *instance, const char *snap, const json_t *row,
		       struct error *err)
{
	const char *desc = json_get_str(row, "description");
	long long expires = 0;
	int r;

	(void)json_get_int(row, "expires_at", &expires);
	r = db_run(db,
		   "UPDATE instance_snapshots SET description = ?, expires_at = ? WHERE name = ? "
		   "AND instance_id = (SELECT id FROM instances WHERE name = ?)",
		   DB_ARGS(DB_TEXT(desc ? desc : ""), DB_INT(expires), DB_TEXT(snap),
			   DB_TEXT(instance)),
		   err);
	if (r == 0)
		return error_set(err, -ENOENT, "Snapshot '%s/%s' not found", instance, snap);
	return r < 0 ? r : 0;
}

int db_snapshot_delete(struct db *db, const char *instance, const char *snap, struct error *err)
{
	int r;

	r = db_run(db,
		   "DELETE FROM instance_snapshots WHERE name = ? AND instance_id = "
		   "(SELECT id FROM instances WHERE name = ?)",
		   DB_ARGS(DB_TEXT(snap), DB_TEXT(instance)), err);
	if (r == 0)
		return error_set(err, -ENOENT, "Snapshot '%s/%s' not found", instance, snap);
	return r < 0 ? r : 0;
}
