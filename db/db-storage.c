#include "db/db-storage.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "db/db-internal.h"
#include "lib/json.h"
#include "lib/str.h"

/* Last: makes the unsafe libc functions compile errors. */
#include "lib/banned.h"

void db_storage_pool_free(struct db_storage_pool *pool)
{
	if (!pool)
		return;
	free(pool->name);
	free(pool->driver);
	free(pool->description);
	json_decref(pool->config);
	free(pool->status);
	free(pool);
}

void db_storage_volume_free(struct db_storage_volume *vol)
{
	if (!vol)
		return;
	free(vol->type);
	free(vol->name);
	free(vol->description);
	free(vol->content_type);
	json_decref(vol->config);
	free(vol);
}

void db_storage_volume_list_release(struct db_storage_volume_list *list)
{
	for (size_t i = 0; i < list->n; i++)
		db_storage_volume_free(list->items[i]);
	free(list->items);
	list->items = NULL;
	list->n = 0;
}

static char *column_strdup(sqlite3_stmt *stmt, int i)
{
	const char *s = db_column_text(stmt, i);

	return xstrdup(s ? s : "");
}

/* A stored config column: an object of strings, or an empty object for anything else (a
 * row written by hand must not take the daemon down). */
static json_t *column_config(sqlite3_stmt *stmt, int i)
{
	const char *text = db_column_text(stmt, i);
	json_t *config = NULL;

	if (text && json_parse(text, strlen(text), false, &config, NULL) == 0)
		return config;
	return json_object();
}

/* Serialises a config for storage; NULL stores an empty object. */
static char *config_text(const json_t *config)
{
	return config ? json_to_string(config) : xstrdup("{}");
}

/* Reads the list of names in the first column of a prepared statement. */
static int stmt_names(struct db *db, sqlite3_stmt *stmt, json_t **ret, struct error *err)
{
	autojson json_t *names = json_array();
	int r;

	while ((r = db_step(db, stmt, err)) > 0) {
		const char *name = db_column_text(stmt, 0);

		if (name)
			(void)json_array_append_new(names, json_string(name));
	}
	if (r < 0)
		return r;

	*ret = take_ptr(names);
	return 0;
}

#define POOL_COLUMNS "id, name, driver, description, config, status"

static struct db_storage_pool *pool_from_row(sqlite3_stmt *stmt)
{
	struct db_storage_pool *pool = xcalloc(1, sizeof(*pool));

	pool->id = db_column_int(stmt, 0);
	pool->name = column_strdup(stmt, 1);
	pool->driver = column_strdup(stmt, 2);
	pool->description = column_strdup(stmt, 3);
	pool->config = column_config(stmt, 4);
	pool->status = column_strdup(stmt, 5);
	return pool;
}

int db_storage_pool_get(struct db *db, const char *name, struct db_storage_pool **ret,
			struct error *err)
{
	DB_LOCK_GUARD(db);
	autoclean(db_stmt_freep) sqlite3_stmt *stmt = NULL;
	int r;

	r = db_prepare(db, "SELECT " POOL_COLUMNS " FROM storage_pools WHERE name = ?",
		       DB_ARGS(DB_TEXT(name)), &stmt, err);
	if (r < 0)
		return r;

	r = db_step(db, stmt, err);
	if (r < 0)
		return r;
	if (r == 0)
		return error_set(err, -ENOENT, "Storage pool '%s' not found", name);

	*ret = pool_from_row(stmt);
	return 0;
}

int db_storage_pool_names(struct db *db, json_t **ret, struct error *err)
{
	DB_LOCK_GUARD(db);
	autoclean(db_stmt_freep) sqlite3_stmt *stmt = NULL;
	int r;

	r = db_prepare(db, "SELECT name FROM storage_pools ORDER BY name", DB_NO_ARGS, &stmt, err);
	if (r < 0)
		return r;
	return stmt_names(db, stmt, ret, err);
}

int db_storage_pool_insert(struct db *db, const char *name, const char *driver,
			   const char *description, const json_t *config, int64_t *ret_id,
			   struct error *err)
{
	DB_LOCK_GUARD(db);
	autofree char *text = config_text(config);
	int64_t n = 0;
	int r;

	/* Checked first so the user reads a sentence naming the pool, not SQLite's. */
	r = db_query_int(db, "SELECT count(*) FROM storage_pools WHERE name = ?",
			 DB_ARGS(DB_TEXT(name)), &n, err);
	if (r < 0)
		return r;
	if (n > 0)
		return error_set(err, -EEXIST, "Storage pool '%s' already exists", name);

	r = db_run(db,
		   "INSERT INTO storage_pools (name, driver, description, config, status) "
		   "VALUES (?, ?, ?, ?, 'Created')",
		   DB_ARGS(DB_TEXT(name), DB_TEXT(driver), DB_TEXT(description ? description : ""),
			   DB_TEXT(text)),
		   err);
	if (r < 0)
		return r;

	if (ret_id)
		*ret_id = sqlite3_last_insert_rowid(db->conn);
	return 0;
}

int db_storage_pool_update(struct db *db, int64_t id, const char *description, const json_t *config,
			   struct error *err)
{
	autofree char *text = config_text(config);
	int r;

	r = db_run(db, "UPDATE storage_pools SET description = ?, config = ? WHERE id = ?",
		   DB_ARGS(DB_TEXT(description ? description : ""), DB_TEXT(text), DB_INT(id)),
		   err);
	if (r < 0)
		return r;
	if (r == 0)
		return error_set(err, -ENOENT, "Storage pool not found");
	return 0;
}

int db_storage_pool_delete(struct db *db, int64_t id, struct error *err)
{
	int r;

	r = db_run(db, "DELETE FROM storage_pools WHERE id = ?", DB_ARGS(DB_INT(id)), err);
	return r < 0 ? r : 0;
}

#define VOLUME_COLUMNS "id, pool_id, type, name, description, content_type, config, created_at"

static struct db_storage_volume *volume_from_row(sqlite3_stmt *stmt)
{
	struct db_storage_volume *vol = xcalloc(1, sizeof(*vol));

	vol->id = db_column_int(stmt, 0);
	vol->pool_id = db_column_int(stmt, 1);
	vol->type = column_strdup(stmt, 2);
	vol->name = column_strdup(stmt, 3);
	vol->description = column_strdup(stmt, 4);
	vol->content_type = column_strdup(stmt, 5);
	vol->config = column_config(stmt, 6);
	vol->created_at = db_column_int(stmt, 7);
	return vol;
}

int db_storage_volume_get(struct db *db, int64_t pool_id, const char *type, const char *name,
			  struct db_storage_volume **ret, struct error *err)
{
	DB_LOCK_GUARD(db);
	autoclean(db_stmt_freep) sqlite3_stmt *stmt = NULL;
	int r;

	r = db_prepare(db,
		       "SELECT " VOLUME_COLUMNS " FROM storage_volumes "
		       "WHERE pool_id = ? AND type = ? AND name = ?",
		       DB_ARGS(DB_INT(pool_id), DB_TEXT(type), DB_TEXT(name)), &stmt, err);
	if (r < 0)
		return r;

	r = db_step(db, stmt, err);
	if (r < 0)
		return r;
	if (r == 0)
		return error_set(err, -ENOENT, "Storage volume '%s' of type '%s' not found", name,
				 type);

	*ret = volume_from_row(stmt);
	return 0;
}

int db_storage_volume_list(struct db *db, int64_t pool_id, const char *type, const char *parent,
			   struct db_storage_volume_list *ret, struct error *err)
{
	DB_LOCK_GUARD(db);
	autoclean(db_stmt_freep) sqlite3_stmt *stmt = NULL;
	autofree char *prefix = parent ? str_printf("%s/", parent) : NULL;
	struct db_storage_volume_list list = { NULL, 0 };
	int r;

	/* Snapshots are the rows named "<parent>/<snap>". substr() rather than LIKE: names
	 * may hold '_', which LIKE treats as a wildcard. */
	if (parent)
		r = db_prepare(
			db,
			"SELECT " VOLUME_COLUMNS " FROM storage_volumes "
			"WHERE pool_id = ? AND type = ? AND substr(name, 1, length(?)) = ? "
			"ORDER BY created_at, id",
			DB_ARGS(DB_INT(pool_id), DB_TEXT(type), DB_TEXT(prefix), DB_TEXT(prefix)),
			&stmt, err);
	else
		r = db_prepare(
			db,
			"SELECT " VOLUME_COLUMNS " FROM storage_volumes "
			"WHERE pool_id = ? AND (? IS NULL OR type = ?) AND instr(name, '/') = 0 "
			"ORDER BY type, name",
			DB_ARGS(DB_INT(pool_id), DB_TEXT(type), DB_TEXT(type)), &stmt, err);
	if (r < 0)
		return r;

	while ((r = db_step(db, stmt, err)) > 0) {
		list.items = xrealloc(list.items, (list.n + 1) * sizeof(*list.items));
		list.items[list.n++] = volume_from_row(stmt);
	}
	if (r < 0) {
		db_storage_volume_list_release(&list);
		return r;
	}

	*ret = list;
	return 0;
}

int db_storage_volume_insert(struct db *db, const struct db_storage_volume *vol, int64_t *ret_id,
			     struct error *err)
{
	DB_LOCK_GUARD(db);
	autofree char *text = config_text(vol->config);
	int64_t n = 0;
	int r;

	r = db_query_int(db,
			 "SELECT count(*) FROM storage_volumes WHERE pool_id = ? AND type = ? "
			 "AND name = ?",
			 DB_ARGS(DB_INT(vol->pool_id), DB_TEXT(vol->type), DB_TEXT(vol->name)), &n,
			 err);
	if (r < 0)
		return r;
	if (n > 0)
		return error_set(err, -EEXIST, "Storage volume '%s' of type '%s' already exists",
				 vol->name, vol->type);

	r = db_run(db,
		   "INSERT INTO storage_volumes "
		   "(pool_id, type, name, description, content_type, config, created_at) "
		   "VALUES (?, ?, ?, ?, ?, ?, ?)",
		   DB_ARGS(DB_INT(vol->pool_id), DB_TEXT(vol->type), DB_TEXT(vol->name),
			   DB_TEXT(vol->description ? vol->description : ""),
			   DB_TEXT(vol->content_type ? vol->content_type : "filesystem"),
			   DB_TEXT(text), DB_INT(vol->created_at)),
		   err);
	if (r < 0)
		return r;

	if (ret_id)
		*ret_id = sqlite3_last_insert_rowid(db->conn);
	return 0;
}

int db_storage_volume_update(struct db *db, int64_t id, const char *description,
			     const json_t *config, struct error *err)
{
	autofree char *text = config_text(config);
	int r;

	r = db_run(db, "UPDATE storage_volumes SET description = ?, config = ? WHERE id = ?",
		   DB_ARGS(DB_TEXT(description ? description : ""), DB_TEXT(text), DB_INT(id)),
		   err);
	if (r < 0)
		return r;
	if (r == 0)
		return error_set(err, -ENOENT, "Storage volume not found");
	return 0;
}

struct volume_rename {
	int64_t pool_id;
	const char *type, *name, *new_name;
};

static int volume_rename_tx(struct db *db, void *data, struct error *err)
{
	const struct volume_rename *v = data;
	autofree char *prefix = str_printf("%s/", v->name);
	autofree char *new_prefix = str_printf("%s/", v->new_name);
	int64_t n = 0;
	int r;

	r = db_query_int(db,
			 "SELECT count(*) FROM storage_volumes WHERE pool_id = ? AND type = ? "
			 "AND (name = ? OR substr(name, 1, length(?)) = ?)",
			 DB_ARGS(DB_INT(v->pool_id), DB_TEXT(v->type), DB_TEXT(v->new_name),
				 DB_TEXT(new_prefix), DB_TEXT(new_prefix)),
			 &n, err);
	if (r < 0)
		return r;
	if (n > 0)
		return error_set(err, -EEXIST, "Storage volume '%s' of type '%s' already exists",
				 v->new_name, v->type);

	r = db_run(
		db,
		"UPDATE storage_volumes SET name = ? WHERE pool_id = ? AND type = ? AND name = ?",
		DB_ARGS(DB_TEXT(v->new_name), DB_INT(v->pool_id), DB_TEXT(v->type),
			DB_TEXT(v->name)),
		err);
	if (r < 0)
		return r;
	if (r == 0)
		return error_set(err, -ENOENT, "Storage volume '%s' of type '%s' not found",
				 v->name, v->type);

	r = db_run(db,
		   "UPDATE storage_volumes SET name = ? || substr(name, length(?) + 1) "
		   "WHERE pool_id = ? AND type = ? AND substr(name, 1, length(?)) = ?",
		   DB_ARGS(DB_TEXT(new_prefix), DB_TEXT(prefix), DB_INT(v->pool_id),
			   DB_TEXT(v->type), DB_TEXT(prefix), DB_TEXT(prefix)),
		   err);
	return r < 0 ? r : 0;
}

int db_storage_volume_rename(struct db *db, int64_t pool_id, const char *type, const char *name,
			     const char *new_name, struct error *err)
{
	struct volume_rename v = { pool_id, type, name, new_name };

	return db_transaction(db, volume_rename_tx, &v, err);
}

int db_storage_volume_delete(struct db *db, int64_t id, struct error *err)
{
	int r;

	r = db_run(db, "DELETE FROM storage_volumes WHERE id = ?", DB_ARGS(DB_INT(id)), err);
	return r < 0 ? r : 0;
}

int db_storage_volume_names_by_config(struct db *db, int64_t pool_id, const char *type,
				      const char *key, const char *value, json_t **ret,
				      struct error *err)
{
	DB_LOCK_GUARD(db);
	autoclean(db_stmt_freep) sqlite3_stmt *stmt = NULL;
	int r;

	/* json_each() rather than a JSON path: a key such as "volatile.base_image" holds dots,
	 * which a path would read as nesting. */
	r = db_prepare(db,
		       "SELECT v.name FROM storage_volumes v, json_each(v.config) c "
		       "WHERE v.pool_id = ? AND v.type = ? AND json_valid(v.config) "
		       "AND c.key = ? AND c.value = ? ORDER BY v.name",
		       DB_ARGS(DB_INT(pool_id), DB_TEXT(type), DB_TEXT(key), DB_TEXT(value)), &stmt,
		       err);
	if (r < 0)
		return r;
	return stmt_names(db, stmt, ret, err);
}

int db_image_exists(struct db *db, const char *fingerprint, bool *ret, struct error *err)
{
	int64_t n = 0;
	int r;

	r = db_query_int(db, "SELECT count(*) FROM images WHERE fingerprint = ?",
			 DB_ARGS(DB_TEXT(fingerprint)), &n, err);
	if (r < 0)
		return r;
	*ret = n > 0;
	return 0;
}

int db_storage_pool_profiles(struct db *db, const char *pool, json_t **ret, struct error *err)
{
	DB_LOCK_GUARD(db);
	autoclean(db_stmt_freep) sqlite3_stmt *stmt = NULL;
	int r;

	r = db_prepare(db,
		       "SELECT DISTINCT p.name FROM profiles p, json_each(p.devices) d "
		       "WHERE json_valid(p.devices) AND json_type(d.value) = 'object' "
		       "AND json_extract(d.value, '$.pool') = ? ORDER BY p.name",
		       DB_ARGS(DB_TEXT(pool)), &stmt, err);
	if (r < 0)
		return r;
	return stmt_names(db, stmt, ret, err);
}

int db_storage_volume_users(struct db *db, const char *pool, const char *volume, json_t **ret,
			    struct error *err)
{
	DB_LOCK_GUARD(db);
	autoclean(db_stmt_freep) sqlite3_stmt *stmt = NULL;
	int r;

	r = db_prepare(
		db,
		"SELECT DISTINCT '/1.0/instances/' || i.name FROM instances i, json_each(i.devices) d "
		"WHERE json_valid(i.devices) AND json_type(d.value) = 'object' "
		"AND json_extract(d.value, '$.type') = 'disk' "
		"AND json_extract(d.value, '$.pool') = ? AND json_extract(d.value, '$.source') = ? "
		"UNION "
		"SELECT DISTINCT '/1.0/profiles/' || p.name FROM profiles p, json_each(p.devices) d "
		"WHERE json_valid(p.devices) AND json_type(d.value) = 'object' "
		"AND json_extract(d.value, '$.type') = 'disk' "
		"AND json_extract(d.value, '$.pool') = ? AND json_extract(d.value, '$.source') = ? "
		"ORDER BY 1",
		DB_ARGS(DB_TEXT(pool), DB_TEXT(volume), DB_TEXT(pool), DB_TEXT(volume)), &stmt,
		err);
	if (r < 0)
		return r;
	return stmt_names(db, stmt, ret, err);
}

struct root_disk {
	const char *profile, *pool;
	bool added;
};

static int root_disk_ensure_tx(struct db *db, void *data, struct error *err)
{
	struct root_disk *rd = data;
	autoclean(db_stmt_freep) sqlite3_stmt *stmt = NULL;
	autojson json_t *devices = NULL;
	autofree char *text = NULL;
	autofree char *dev_name = xstrdup("root");
	const char *name;
	json_t *dev;
	int r;

	r = db_prepare(db, "SELECT devices FROM profiles WHERE name = ?",
		       DB_ARGS(DB_TEXT(rd->profile)), &stmt, err);
	if (r < 0)
		return r;
	r = db_step(db, stmt, err);
	if (r < 0)
		return r;
	if (r == 0)
		return error_set(err, -ENOENT, "Profile '%s' not found", rd->profile);
	devices = column_config(stmt, 0);

	json_object_foreach(devices, name, dev)
	{
		const char *type = json_get_str(dev, "type");
		const char *path = json_get_str(dev, "path");

		if (type && path && streq(type, "disk") && streq(path, "/"))
			return 0;
	}
	/* A device called "root" that is not a root disk stays: the new one gets a free name. */
	for (unsigned i = 0; json_object_get(devices, dev_name); i++) {
		free(dev_name);
		dev_name = str_printf("root%u", i);
	}
	dev = json_pack("{s:s, s:s, s:s}", "path", "/", "pool", rd->pool, "type", "disk");
	if (!dev)
		abort();
	(void)json_object_set_new(devices, dev_name, dev);

	text = json_to_string(devices);
	r = db_run(db, "UPDATE profiles SET devices = ? WHERE name = ?",
		   DB_ARGS(DB_TEXT(text), DB_TEXT(rd->profile)), err);
	if (r < 0)
		return r;
	rd->added = true;
	return 0;
}

int db_profile_root_disk_ensure(struct db *db, const char *profile, const char *pool,
				struct error *err)
{
	struct root_disk rd = { profile, pool, false };
	int r;

	r = db_transaction(db, root_disk_ensure_tx, &rd, err);
	if (r < 0)
		return r;
	return rd.added ? 1 : 0;
}
