#include "db/db-networks.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>

#include "db/db-internal.h"
#include "lib/json.h"
#include "lib/str.h"

/* Last: makes the unsafe libc functions compile errors. */
#include "lib/banned.h"

void db_network_free(struct db_network *n)
{
	if (!n)
		return;
	free(n->name);
	free(n->type);
	free(n->description);
	free(n->status);
	json_decref(n->config);
	free(n);
}

/* A JSON object stored as text; an unreadable one reads as {} (it was validated when it
 * was written, so this is damage, and an empty config is the safe reading). */
static json_t *json_column_object(sqlite3_stmt *stmt, int i)
{
	const char *text = db_column_text(stmt, i);
	json_t *j = text ? json_loads(text, 0, NULL) : NULL;

	if (json_is_object(j))
		return j;
	json_decref(j);
	return json_object();
}

static char *text_column(sqlite3_stmt *stmt, int i)
{
	const char *text = db_column_text(stmt, i);

	return xstrdup(text ? text : "");
}

#define NETWORK_COLUMNS "id, name, type, description, status, config"

static struct db_network *network_from_row(sqlite3_stmt *stmt)
{
	struct db_network *n = xcalloc(1, sizeof(*n));

	n->id = db_column_int(stmt, 0);
	n->name = text_column(stmt, 1);
	n->type = text_column(stmt, 2);
	n->description = text_column(stmt, 3);
	n->status = text_column(stmt, 4);
	n->config = json_column_object(stmt, 5);
	return n;
}

int db_network_get(struct db *db, const char *name, struct db_network **ret, struct error *err)
{
	DB_LOCK_GUARD(db);
	autoclean(db_stmt_freep) sqlite3_stmt *stmt = NULL;
	int r;

	r = db_prepare(db, "SELECT " NETWORK_COLUMNS " FROM networks WHERE name = ?",
		       DB_ARGS(DB_TEXT(name)), &stmt, err);
	if (r < 0)
		return r;
	r = db_step(db, stmt, err);
	if (r < 0)
		return r;
	if (r == 0)
		return error_set(err, -ENOENT, "Network '%s' not found", name);
	*ret = network_from_row(stmt);
	return 0;
}

int db_network_list(struct db *db, struct db_network ***ret, size_t *ret_n, struct error *err)
{
	DB_LOCK_GUARD(db);
	autoclean(db_stmt_freep) sqlite3_stmt *stmt = NULL;
	struct db_network **list = NULL;
	size_t n = 0;
	int r;

	r = db_prepare(db, "SELECT " NETWORK_COLUMNS " FROM networks ORDER BY name", DB_NO_ARGS,
		       &stmt, err);
	if (r < 0)
		return r;
	while ((r = db_step(db, stmt, err)) > 0) {
		list = xrealloc(list, (n + 1) * sizeof(*list));
		list[n++] = network_from_row(stmt);
	}
	if (r < 0) {
		for (size_t i = 0; i < n; i++)
			db_network_free(list[i]);
		free(list);
		return r;
	}
	*ret = list;
	*ret_n = n;
	return 0;
}

int db_network_insert(struct db *db, const char *name, const char *type, const char *description,
		      const json_t *config, struct error *err)
{
	DB_LOCK_GUARD(db);
	autofree char *text = json_to_string(config);
	int64_t n = 0;
	int r;

	r = db_query_int(db, "SELECT count(*) FROM networks WHERE name = ?", DB_ARGS(DB_TEXT(name)),
			 &n, err);
	if (r < 0)
		return r;
	if (n > 0)
		return error_set(err, -EEXIST, "Network '%s' already exists", name);

	r = db_run(db,
		   "INSERT INTO networks (name, type, description, config, status) "
		   "VALUES (?, ?, ?, ?, 'Created')",
		   DB_ARGS(DB_TEXT(name), DB_TEXT(type), DB_TEXT(description), DB_TEXT(text)), err);
	return r < 0 ? r : 0;
}

int db_network_update(struct db *db, const char *name, const char *description,
		      const json_t *config, struct error *err)
{
	autofree char *text = json_to_string(config);
	int r;

	r = db_run(db, "UPDATE networks SET description = ?, config = ? WHERE name = ?",
		   DB_ARGS(DB_TEXT(description), DB_TEXT(text), DB_TEXT(name)), err);
	if (r < 0)
		return r;
	if (r == 0)
		return error_set(err, -ENOENT, "Network '%s' not found", name);
	return 0;
}

int db_network_rename(struct db *db, const char *name, const char *new_name, struct error *err)
{
	DB_LOCK_GUARD(db);
	int64_t n = 0;
	int r;

	r = db_query_int(db, "SELECT count(*) FROM networks WHERE name = ?",
			 DB_ARGS(DB_TEXT(new_name)), &n, err);
	if (r < 0)
		return r;
	if (n > 0)
		return error_set(err, -EEXIST, "Network '%s' already exists", new_name);

	r = db_run(db, "UPDATE networks SET name = ? WHERE name = ?",
		   DB_ARGS(DB_TEXT(new_name), DB_TEXT(name)), err);
	if (r < 0)
		return r;
	if (r == 0)
		return error_set(err, -ENOENT, "Network '%s' not found", name);
	return 0;
}

int db_network_delete(struct db *db, const char *name, struct error *err)
{
	int r;

	r = db_run(db, "DELETE FROM networks WHERE name = ?", DB_ARGS(DB_TEXT(name)), err);
	if (r < 0)
		return r;
	if (r == 0)
		return error_set(err, -ENOENT, "Network '%s' not found", name);
	return 0;
}

static json_t *owner_new(const char *kind, const char *name, json_t *devices)
{
	json_t *o = json_pack("{s:s, s:s, s:o}", "kind", kind, "name", name, "devices", devices);

	if (!o)
		abort();
	return o;
}

static int owners_add_profiles(struct db *db, json_t *owners, struct error *err)
{
	autoclean(db_stmt_freep) sqlite3_stmt *stmt = NULL;
	int r;

	r = db_prepare(db, "SELECT name, devices FROM profiles ORDER BY name", DB_NO_ARGS, &stmt,
		       err);
	if (r < 0)
		return r;
	while ((r = db_step(db, stmt, err)) > 0)
		(void)json_array_append_new(owners, owner_new("profile", db_column_text(stmt, 0),
							      json_column_object(stmt, 1)));
	return r;
}

/* Overlays the devices of instance id's profiles, in apply order, under its own. */
static int instance_expand_devices(struct db *db, int64_t id, json_t *own, json_t **ret,
				   struct error *err)
{
	autoclean(db_stmt_freep) sqlite3_stmt *stmt = NULL;
	json_t *expanded = json_object();
	int r;

	r = db_prepare(db,
		       "SELECT p.devices FROM instance_profiles ip JOIN profiles p "
		       "ON p.id = ip.profile_id WHERE ip.instance_id = ? ORDER BY ip.apply_order",
		       DB_ARGS(DB_INT(id)), &stmt, err);
	if (r < 0)
		goto fail;
	while ((r = db_step(db, stmt, err)) > 0) {
		autojson json_t *devices = json_column_object(stmt, 0);

		(void)json_object_update(expanded, devices);
	}
	if (r < 0)
		goto fail;
	(void)json_object_update(expanded, own);
	*ret = expanded;
	return 0;
fail:
	json_decref(expanded);
	return r;
}

static int owners_add_instances(struct db *db, json_t *owners, struct error *err)
{
	autoclean(db_stmt_freep) sqlite3_stmt *stmt = NULL;
	int r;

	r = db_prepare(db, "SELECT id, name, devices FROM instances ORDER BY name", DB_NO_ARGS,
		       &stmt, err);
	if (r < 0)
		return r;
	while ((r = db_step(db, stmt, err)) > 0) {
		autojson json_t *own = json_column_object(stmt, 2);
		json_t *expanded = NULL;

		r = instance_expand_devices(db, db_column_int(stmt, 0), own, &expanded, err);
		if (r < 0)
			return r;
		(void)json_array_append_new(
			owners, owner_new("instance", db_column_text(stmt, 1), expanded));
	}
	return r;
}

int db_network_device_owners(struct db *db, json_t **ret, struct error *err)
{
	DB_LOCK_GUARD(db);
	autojson json_t *owners = json_array();
	int r;

	r = owners_add_profiles(db, owners, err);
	if (r < 0)
		return r;
	r = owners_add_instances(db, owners, err);
	if (r < 0)
		return r;
	*ret = take_ptr(owners);
	return 0;
}

int db_profile_devices_get(struct db *db, const char *name, json_t **ret, struct error *err)
{
	DB_LOCK_GUARD(db);
	autoclean(db_stmt_freep) sqlite3_stmt *stmt = NULL;
	int r;

	r = db_prepare(db, "SELECT devices FROM profiles WHERE name = ?", DB_ARGS(DB_TEXT(name)),
		       &stmt, err);
	if (r < 0)
		return r;
	r = db_step(db, stmt, err);
	if (r < 0)
		return r;
	if (r == 0)
		return error_set(err, -ENOENT, "Profile '%s' not found", name);
	*ret = json_column_object(stmt, 0);
	return 0;
}

int db_profile_devices_set(struct db *db, const char *name, const json_t *devices,
			   struct error *err)
{
	autofree char *text = json_to_string(devices);
	int r;

	r = db_run(db, "UPDATE profiles SET devices = ? WHERE name = ?",
		   DB_ARGS(DB_TEXT(text), DB_TEXT(name)), err);
	if (r < 0)
		return r;
	if (r == 0)
		return error_set(err, -ENOENT, "Profile '%s' not found", name);
	return 0;
}
