#include "db/db-certificates.h"

#include <errno.h>
#include <string.h>

#include "db/db-internal.h"
#include "lib/json.h"
#include "lib/str.h"

/* Last: makes the unsafe libc functions compile errors. */
#include "lib/banned.h"

#define CERT_COLUMNS "fingerprint, type, name, certificate, restricted, projects"

static json_t *certificate_from_row(sqlite3_stmt *stmt)
{
	json_t *c = json_object();
	json_t *projects = db_column_json(stmt, 5);

	json_object_set_new(c, "fingerprint", json_string(db_column_text(stmt, 0)));
	json_object_set_new(c, "type", json_string(db_column_text(stmt, 1)));
	json_object_set_new(c, "name", json_string(db_column_text(stmt, 2)));
	json_object_set_new(c, "certificate", json_string(db_column_text(stmt, 3)));
	json_object_set_new(c, "restricted", json_boolean(db_column_int(stmt, 4) != 0));
	if (!json_is_array(projects)) {
		json_decref(projects);
		projects = json_array();
	}
	json_object_set_new(c, "projects", projects);
	return c;
}

int db_certificate_list(struct db *db, json_t **ret, struct error *err)
{
	return db_query_json_list(db,
				  "SELECT " CERT_COLUMNS " FROM certificates ORDER BY fingerprint",
				  DB_NO_ARGS, certificate_from_row, ret, err);
}

int db_certificate_get(struct db *db, const char *prefix, json_t **ret, struct error *err)
{
	autojson json_t *list = NULL;
	autofree char *pattern = NULL;
	int r;

	/* Fingerprints are hex: a prefix with anything else matches nothing, and no LIKE
	 * wildcard reaches the query. */
	if (!*prefix || strspn(prefix, "0123456789abcdef") != strlen(prefix))
		return error_set(err, -ENOENT, "Certificate '%s' not found", prefix);

	pattern = str_printf("%s%%", prefix);
	r = db_query_json_list(db,
			       "SELECT " CERT_COLUMNS " FROM certificates WHERE fingerprint LIKE ?",
			       DB_ARGS(DB_TEXT(pattern)), certificate_from_row, &list, err);
	if (r < 0)
		return r;
	if (json_array_size(list) == 0)
		return error_set(err, -ENOENT, "Certificate '%s' not found", prefix);
	if (json_array_size(list) > 1)
		return error_set(err, -EINVAL, "More than one certificate matches '%s'", prefix);
	*ret = json_incref(json_array_get(list, 0));
	return 0;
}

int db_certificate_create(struct db *db, const json_t *cert, struct error *err)
{
	const char *fp = json_get_str(cert, "fingerprint");
	autofree char *projects = db_json_text(json_object_get(cert, "projects"));
	int r;

	r = db_run(db, "INSERT INTO certificates (" CERT_COLUMNS ") VALUES (?, ?, ?, ?, ?, ?)",
		   DB_ARGS(DB_TEXT(fp), DB_TEXT(json_get_str(cert, "type")),
			   DB_TEXT(json_get_str(cert, "name")),
			   DB_TEXT(json_get_str(cert, "certificate")),
			   DB_BOOL(json_is_true(json_object_get(cert, "restricted"))),
			   DB_TEXT(projects)),
		   err);
	if (r == -EEXIST) {
		error_clear(err);
		return error_set(err, -EEXIST, "Certificate already in trust store");
	}
	return r < 0 ? r : 0;
}

int db_certificate_update(struct db *db, const char *fingerprint, const json_t *cert,
			  struct error *err)
{
	autofree char *projects = db_json_text(json_object_get(cert, "projects"));
	int r;

	r = db_run(db,
		   "UPDATE certificates SET type = ?, name = ?, restricted = ?, projects = ? "
		   "WHERE fingerprint = ?",
		   DB_ARGS(DB_TEXT(json_get_str(cert, "type")), DB_TEXT(json_get_str(cert, "name")),
			   DB_BOOL(json_is_true(json_object_get(cert, "restricted"))),
			   DB_TEXT(projects), DB_TEXT(fingerprint)),
		   err);
	if (r == 0)
		return error_set(err, -ENOENT, "Certificate '%s' not found", fingerprint);
	return r < 0 ? r : 0;
}

int db_certificate_delete(struct db *db, const char *fingerprint, struct error *err)
{
	int r;

	r = db_run(db, "DELETE FROM certificates WHERE fingerprint = ?",
		   DB_ARGS(DB_TEXT(fingerprint)), err);
	if (r == 0)
		return error_set(err, -ENOENT, "Certificate '%s' not found", fingerprint);
	return r < 0 ? r : 0;
}
