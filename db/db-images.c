#include "db/db-images.h"

#include <errno.h>
#include <string.h>

#include "db/db-internal.h"
#include "lib/json.h"
#include "lib/str.h"

#include "lib/banned.h"

#define IMAGE_COLUMNS                                                                   \
	"images.id, images.fingerprint, images.type, images.filename, images.size, "    \
	"images.public, images.cached, images.auto_update, images.architecture, "       \
	"images.properties, images.profiles, images.update_source, images.created_at, " \
	"images.uploaded_at, images.expires_at, images.last_used_at"

#define ALIAS_COLUMNS \
	"image_aliases.name, images.fingerprint, image_aliases.type, image_aliases.description"

void db_image_free(struct db_image *img)
{
	if (!img)
		return;
	free(img->fingerprint);
	free(img->type);
	free(img->filename);
	free(img->architecture);
	json_decref(img->properties);
	json_decref(img->profiles);
	json_decref(img->update_source);
	free(img);
}

void db_image_alias_free(struct db_image_alias *alias)
{
	if (!alias)
		return;
	free(alias->name);
	free(alias->target);
	free(alias->type);
	free(alias->description);
	free(alias);
}

void db_images_free(struct db_image **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		db_image_free(v[i]);
	free(v);
}

void db_image_aliases_free(struct db_image_alias **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		db_image_alias_free(v[i]);
	free(v);
}

static char *column_dup(sqlite3_stmt *stmt, int i)
{
	const char *s = db_column_text(stmt, i);

	return xstrdup(s ? s : "");
}

/* A JSON column; a value that does not parse (or has the wrong type) reads as empty. */
static json_t *column_json(sqlite3_stmt *stmt, int i, json_type type)
{
	const char *s = db_column_text(stmt, i);
	json_t *j = NULL;

	if (s && json_parse(s, strlen(s), true, &j, NULL) == 0 && json_typeof(j) == type)
		return j;
	json_decref(j);
	return type == JSON_ARRAY ? json_array() : json_object();
}

static struct db_image *image_from_row(sqlite3_stmt *stmt)
{
	struct db_image *img = xcalloc(1, sizeof(*img));

	img->id = db_column_int(stmt, 0);
	img->fingerprint = column_dup(stmt, 1);
	img->type = column_dup(stmt, 2);
	img->filename = column_dup(stmt, 3);
	img->size = (uint64_t)db_column_int(stmt, 4);
	img->public = db_column_int(stmt, 5) != 0;
	img->cached = db_column_int(stmt, 6) != 0;
	img->auto_update = db_column_int(stmt, 7) != 0;
	img->architecture = column_dup(stmt, 8);
	img->properties = column_json(stmt, 9, JSON_OBJECT);
	img->profiles = column_json(stmt, 10, JSON_ARRAY);
	img->update_source = column_json(stmt, 11, JSON_OBJECT);
	img->created_at = db_column_int(stmt, 12);
	img->uploaded_at = db_column_int(stmt, 13);
	img->expires_at = db_column_int(stmt, 14);
	img->last_used_at = db_column_int(stmt, 15);
	return img;
}

static struct db_image_alias *alias_from_row(sqlite3_stmt *stmt)
{
	struct db_image_alias *a = xcalloc(1, sizeof(*a));

	a->name = column_dup(stmt, 0);
	a->target = column_dup(stmt, 1);
	a->type = column_dup(stmt, 2);
	a->description = column_dup(stmt, 3);
	return a;
}

/* Characters LIKE treats specially never reach it: prefixes are checked to be hex. */
static bool is_hex_prefix(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64)
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

/* Every name in profiles (an array) must be a stored profile. */
static int profiles_check(struct db *db, const json_t *profiles, struct error *err)
{
	size_t i;
	json_t *p;
	int r;

	json_array_foreach(profiles, i, p)
	{
		int64_t n = 0;

		if (!json_is_string(p))
			return error_set(err, -EINVAL, "Profile names must be strings");
		r = db_query_int(db, "SELECT COUNT(*) FROM profiles WHERE name = ?",
				 DB_ARGS(DB_TEXT(json_string_value(p))), &n, err);
		if (r < 0)
			return r;
		if (n == 0)
			return error_set(err, -EINVAL, "Profile '%s' doesn't exist",
					 json_string_value(p));
	}
	return 0;
}

int db_image_insert(struct db *db, const struct db_image *img, int64_t *ret_id, struct error *err)
{
	DB_LOCK_GUARD(db);
	autofree char *properties = NULL;
	autofree char *profiles = NULL;
	autofree char *update_source = NULL;
	int64_t exists = 0;
	int r;

	properties = img->properties ? json_to_string(img->properties) : xstrdup("{}");
	profiles = img->profiles ? json_to_string(img->profiles) : xstrdup("[\"default\"]");
	update_source = img->update_source ? json_to_string(img->update_source) : xstrdup("{}");
	r = db_query_int(db, "SELECT COUNT(*) FROM images WHERE fingerprint = ?",
			 DB_ARGS(DB_TEXT(img->fingerprint)), &exists, err);
	if (r < 0)
		return r;
	if (exists)
		return error_set(err, -EEXIST, "Image with same fingerprint already exists");
	if (img->profiles) {
		r = profiles_check(db, img->profiles, err);
		if (r < 0)
			return r;
	}

	r = db_run(db,
		   "INSERT INTO images (fingerprint, type, filename, size, public, cached, "
		   "auto_update, architecture, properties, profiles, update_source, created_at, "
		   "uploaded_at, expires_at, last_used_at) "
		   "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		   DB_ARGS(DB_TEXT(img->fingerprint), DB_TEXT(img->type), DB_TEXT(img->filename),
			   DB_INT(img->size), DB_BOOL(img->public), DB_BOOL(img->cached),
			   DB_BOOL(img->auto_update), DB_TEXT(img->architecture),
			   DB_TEXT(properties), DB_TEXT(profiles), DB_TEXT(update_source),
			   DB_INT(img->created_at), DB_INT(img->uploaded_at),
			   DB_INT(img->expires_at), DB_INT(img->last_used_at)),
		   err);
	if (r < 0)
		return r;
	if (ret_id)
		*ret_id = sqlite3_last_insert_rowid(db->conn);
	return 0;
}

int db_image_get(struct db *db, const char *fp, struct db_image **ret, struct error *err)
{
	DB_LOCK_GUARD(db);
	autoclean(db_stmt_freep) sqlite3_stmt *stmt = NULL;
	autoclean(db_image_freep) struct db_image *img = NULL;
	int r;

	if (!is_hex_prefix(fp))
		return error_set(err, -ENOENT, "Image '%s' not found", fp);

	/* An exact match wins even when it also prefixes nothing else. */
	r = db_prepare(db,
		       "SELECT " IMAGE_COLUMNS " FROM images WHERE fingerprint = ?1 "
		       "OR (length(?1) < 64 AND substr(fingerprint, 1, length(?1)) = ?1) "
		       "ORDER BY fingerprint = ?1 DESC LIMIT 2",
		       DB_ARGS(DB_TEXT(fp)), &stmt, err);
	if (r < 0)
		return r;
	r = db_step(db, stmt, err);
	if (r < 0)
		return r;
	if (r == 0)
		return error_set(err, -ENOENT, "Image '%s' not found", fp);
	img = image_from_row(stmt);
	if (!streq(img->fingerprint, fp)) {
		r = db_step(db, stmt, err);
		if (r < 0)
			return r;
		if (r > 0)
			return error_set(err, -EINVAL, "More than one image matches '%s'", fp);
	}
	*ret = take_ptr(img);
	return 0;
}

int db_image_list(struct db *db, struct db_image ***ret, size_t *ret_n, struct error *err)
{
	DB_LOCK_GUARD(db);
	autoclean(db_stmt_freep) sqlite3_stmt *stmt = NULL;
	struct db_image **v = NULL;
	size_t n = 0;
	int r;

	r = db_prepare(db, "SELECT " IMAGE_COLUMNS " FROM images ORDER BY id", DB_NO_ARGS, &stmt,
		       err);
	if (r < 0)
		return r;
	while ((r = db_step(db, stmt, err)) > 0) {
		v = xrealloc(v, (n + 1) * sizeof(*v));
		v[n++] = image_from_row(stmt);
	}
	if (r < 0) {
		db_images_free(v, n);
		return r;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

int db_image_delete(struct db *db, const char *fingerprint, struct error *err)
{
	DB_LOCK_GUARD(db);
	int r;

	r = db_run(db, "DELETE FROM images WHERE fingerprint = ?", DB_ARGS(DB_TEXT(fingerprint)),
		   err);
	if (r < 0)
		return r;
	if (r == 0)
		return error_set(err, -ENOENT, "Image '%s' not found", fingerprint);
	return 0;
}

static int image_update_tx(struct db *db, void *data, struct error *err)
{
	const struct db_image *img = data;
	autofree char *properties = json_to_string(img->properties);
	autofree char *profiles = json_to_string(img->profiles);
	int r;

	r = profiles_check(db, img->profiles, err);
	if (r < 0)
		return r;

	r = db_run(db,
		   "UPDATE images SET public = ?, auto_update = ?, properties = ?, profiles = ?, "
		   "expires_at = ? WHERE fingerprint = ?",
		   DB_ARGS(DB_BOOL(img->public), DB_BOOL(img->auto_update), DB_TEXT(properties),
			   DB_TEXT(profiles), DB_INT(img->expires_at), DB_TEXT(img->fingerprint)),
		   err);
	if (r < 0)
		return r;
	if (r == 0)
		return error_set(err, -ENOENT, "Image '%s' not found", img->fingerprint);
	return 0;
}

int db_image_update(struct db *db, const struct db_image *img, struct error *err)
{
	if (!json_is_object(img->properties) || !json_is_array(img->profiles))
		return error_set(err, -EINVAL, "Invalid image properties or profiles");
	return db_transaction(db, image_update_tx, (void *)img, err);
}

int db_image_set_last_used(struct db *db, const char *fingerprint, int64_t when, struct error *err)
{
	DB_LOCK_GUARD(db);
	int r;

	r = db_run(db, "UPDATE images SET last_used_at = ? WHERE fingerprint = ?",
		   DB_ARGS(DB_INT(when), DB_TEXT(fingerprint)), err);
	if (r < 0)
		return r;
	if (r == 0)
		return error_set(err, -ENOENT, "Image '%s' not found", fingerprint);
	return 0;
}

static int image_id(struct db *db, const char *fingerprint, int64_t *ret, struct error *err)
{
	int r;

	r = db_query_int(db, "SELECT id FROM images WHERE fingerprint = ?",
			 DB_ARGS(DB_TEXT(fingerprint)), ret, NULL);
	if (r == -ENOENT)
		return error_set(err, -ENOENT, "Image '%s' not found", fingerprint);
	if (r < 0)
		return error_set(err, r, "Failed to look up image '%s'", fingerprint);
	return 0;
}

static int alias_exists(struct db *db, const char *name, bool *ret, struct error *err)
{
	int64_t n = 0;
	int r;

	r = db_query_int(db, "SELECT COUNT(*) FROM image_aliases WHERE name = ?",
			 DB_ARGS(DB_TEXT(name)), &n, err);
	if (r < 0)
		return r;
	*ret = n > 0;
	return 0;
}

int db_image_alias_create(struct db *db, const char *name, const char *fingerprint,
			  const char *type, const char *description, struct error *err)
{
	DB_LOCK_GUARD(db);
	int64_t id = 0;
	bool exists;
	int r;

	r = alias_exists(db, name, &exists, err);
	if (r < 0)
		return r;
	if (exists)
		return error_set(err, -EEXIST, "Alias '%s' already exists", name);
	r = image_id(db, fingerprint, &id, err);
	if (r < 0)
		return r;
	r = db_run(db,
		   "INSERT INTO image_aliases (name, image_id, type, description) "
		   "VALUES (?, ?, ?, ?)",
		   DB_ARGS(DB_TEXT(name), DB_INT(id), DB_TEXT(type), DB_TEXT(description)), err);
	return r < 0 ? r : 0;
}

int db_image_alias_get(struct db *db, const char *name, struct db_image_alias **ret,
		       struct error *err)
{
	DB_LOCK_GUARD(db);
	autoclean(db_stmt_freep) sqlite3_stmt *stmt = NULL;
	int r;

	r = db_prepare(db,
		       "SELECT " ALIAS_COLUMNS " FROM image_aliases "
		       "JOIN images ON images.id = image_aliases.image_id "
		       "WHERE image_aliases.name = ?",
		       DB_ARGS(DB_TEXT(name)), &stmt, err);
	if (r < 0)
		return r;
	r = db_step(db, stmt, err);
	if (r < 0)
		return r;
	if (r == 0)
		return error_set(err, -ENOENT, "Image alias '%s' not found", name);
	*ret = alias_from_row(stmt);
	return 0;
}

int db_image_alias_list(struct db *db, const char *fingerprint, struct db_image_alias ***ret,
			size_t *ret_n, struct error *err)
{
	DB_LOCK_GUARD(db);
	autoclean(db_stmt_freep) sqlite3_stmt *stmt = NULL;
	struct db_image_alias **v = NULL;
	size_t n = 0;
	int r;

	r = db_prepare(db,
		       "SELECT " ALIAS_COLUMNS " FROM image_aliases "
		       "JOIN images ON images.id = image_aliases.image_id "
		       "WHERE ?1 IS NULL OR images.fingerprint = ?1 ORDER BY image_aliases.name",
		       DB_ARGS(DB_TEXT(fingerprint)), &stmt, err);
	if (r < 0)
		return r;
	while ((r = db_step(db, stmt, err)) > 0) {
		v = xrealloc(v, (n + 1) * sizeof(*v));
		v[n++] = alias_from_row(stmt);
	}
	if (r < 0) {
		db_image_aliases_free(v, n);
		return r;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

int db_image_alias_update(struct db *db, const char *name, const char *fingerprint,
			  const char *description, struct error *err)
{
	DB_LOCK_GUARD(db);
	int64_t id = 0;
	int r;

	r = image_id(db, fingerprint, &id, err);
	if (r < 0)
		return r;
	r = db_run(db, "UPDATE image_aliases SET image_id = ?, description = ? WHERE name = ?",
		   DB_ARGS(DB_INT(id), DB_TEXT(description), DB_TEXT(name)), err);
	if (r < 0)
		return r;
	if (r == 0)
		return error_set(err, -ENOENT, "Image alias '%s' not found", name);
	return 0;
}

int db_image_alias_rename(struct db *db, const char *name, const char *new_name, struct error *err)
{
	DB_LOCK_GUARD(db);
	bool exists;
	int r;

	r = alias_exists(db, new_name, &exists, err);
	if (r < 0)
		return r;
	if (exists)
		return error_set(err, -EEXIST, "Alias '%s' already exists", new_name);
	r = db_run(db, "UPDATE image_aliases SET name = ? WHERE name = ?",
		   DB_ARGS(DB_TEXT(new_name), DB_TEXT(name)), err);
	if (r < 0)
		return r;
	if (r == 0)
		return error_set(err, -ENOENT, "Image alias '%s' not found", name);
	return 0;
}

int db_image_alias_delete(struct db *db, const char *name, struct error *err)
{
	DB_LOCK_GUARD(db);
	int r;

	r = db_run(db, "DELETE FROM image_aliases WHERE name = ?", DB_ARGS(DB_TEXT(name)), err);
	if (r < 0)
		return r;
	if (r == 0)
		return error_set(err, -ENOENT, "Image alias '%s' not found", name);
	return 0;
}
