#include "db/db.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db/db-internal.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/str.h"

/* Last: makes the unsafe libc functions compile errors. */
#include "lib/banned.h"

/* How long a statement waits for another process holding the file (sqlite3 CLI, backup). */
#define DB_BUSY_TIMEOUT_MS 5000

struct db *db_lock(struct db *db)
{
	int r = pthread_mutex_lock(&db->lock);

	assert(r == 0);
	(void)r;
	return db;
}

void db_unlock(struct db *db)
{
	int r = pthread_mutex_unlock(&db->lock);

	assert(r == 0);
	(void)r;
}

static int db_errno_from_sqlite(int rc, int sys_errno)
{
	switch (rc) {
	case SQLITE_CONSTRAINT_UNIQUE:
	case SQLITE_CONSTRAINT_PRIMARYKEY:
		return -EEXIST;
	}

	switch (rc & 0xff) {
	case SQLITE_CONSTRAINT:
		return -EINVAL;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_READONLY:
		return -EROFS;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return -EACCES;
	case SQLITE_TOOBIG:
		return -E2BIG;
	case SQLITE_INTERRUPT:
		return -EINTR;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return -EUCLEAN;
	case SQLITE_CANTOPEN:
	case SQLITE_IOERR:
		return sys_errno > 0 ? -sys_errno : -EIO;
	}
	return -EIO;
}

int db_error(struct db *db, int rc, struct error *err)
{
	const char *msg = db->conn ? sqlite3_errmsg(db->conn) : sqlite3_errstr(rc);
	int sys_errno = db->conn ? sqlite3_system_errno(db->conn) : 0;
	int code = db_errno_from_sqlite(rc, sys_errno);

	log_debug("SQLite error %d in '%s': %s", rc, db->path, msg);
	return error_set(err, code, "Database error: %s", msg);
}

static int db_bind(struct db *db, sqlite3_stmt *stmt, const struct db_arg *args, size_t n_args,
		   struct error *err)
{
	if ((int)n_args != sqlite3_bind_parameter_count(stmt))
		return error_set(err, -EINVAL,
				 "Database error: statement takes %d parameters, got %zu",
				 sqlite3_bind_parameter_count(stmt), n_args);

	for (size_t i = 0; i < n_args; i++) {
		int idx = (int)i + 1;
		int rc = SQLITE_MISUSE;

		switch (args[i].type) {
		case DB_ARG_NULL:
			rc = sqlite3_bind_null(stmt, idx);
			break;
		case DB_ARG_TEXT:
			if (args[i].text)
				rc = sqlite3_bind_text(stmt, idx, args[i].text, -1, SQLITE_STATIC);
			else
				rc = sqlite3_bind_null(stmt, idx);
			break;
		case DB_ARG_INT:
			rc = sqlite3_bind_int64(stmt, idx, args[i].num);
			break;
		}
		if (rc != SQLITE_OK)
			return db_error(db, rc, err);
	}
	return 0;
}

int db_prepare(struct db *db, const char *sql, const struct db_arg *args, size_t n_args,
	       sqlite3_stmt **ret, struct error *err)
{
	autoclean(db_stmt_freep) sqlite3_stmt *stmt = NULL;
	int rc;
	int r;

	rc = sqlite3_prepare_v2(db->conn, sql, -1, &stmt, NULL);
	if (rc != SQLITE_OK) {
		log_debug("Failed to prepare SQL: %s", sql);
		return db_error(db, rc, err);
	}
	r = db_bind(db, stmt, args, n_args, err);
	if (r < 0)
		return r;

	*ret = take_ptr(stmt);
	return 0;
}

int db_step(struct db *db, sqlite3_stmt *stmt, struct error *err)
{
	int rc = sqlite3_step(stmt);

	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return db_error(db, rc, err);
}

int db_run(struct db *db, const char *sql, const struct db_arg *args, size_t n_args,
	   struct error *err)
{
	autoclean(db_stmt_freep) sqlite3_stmt *stmt = NULL;
	int r;

	r = db_prepare(db, sql, args, n_args, &stmt, err);
	if (r < 0)
		return r;

	do
		r = db_step(db, stmt, err);
	while (r > 0);
	if (r < 0)
		return r;

	return sqlite3_changes(db->conn);
}

int db_query_int(struct db *db, const char *sql, const struct db_arg *args, size_t n_args,
		 int64_t *ret, struct error *err)
{
	autoclean(db_stmt_freep) sqlite3_stmt *stmt = NULL;
	int r;

	r = db_prepare(db, sql, args, n_args, &stmt, err);
	if (r < 0)
		return r;

	r = db_step(db, stmt, err);
	if (r < 0)
		return r;
	if (r == 0)
		return error_set(err, -ENOENT, "Database error: query returned no row");

	*ret = db_column_int(stmt, 0);
	return 0;
}

int db_exec_script(struct db *db, const char *sql, struct error *err)
{
	int rc = sqlite3_exec(db->conn, sql, NULL, NULL, NULL);

	if (rc != SQLITE_OK)
		return db_error(db, rc, err);
	return 0;
}

/* SQLite creates the file 0644 (less the umask); the state database holds password hashes
 * and certificates, so create it 0600 ourselves and tighten an existing one. O_NOFOLLOW
 * keeps a planted symlink from pointing us at another file. */
static int db_file_prepare(const char *path, struct error *err)
{
	autoclose int fd = -1;
	struct stat st;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
	if (fd < 0)
		return error_errno(err, -errno, "Failed to open database '%s'", path);
	if (fstat(fd, &st) < 0)
		return error_errno(err, -errno, "Failed to stat database '%s'", path);
	if (!S_ISREG(st.st_mode))
		return error_set(err, -EINVAL, "Database '%s' is not a regular file", path);
	if ((st.st_mode & 07777) != 0600 && fchmod(fd, 0600) < 0)
		return error_errno(err, -errno, "Failed to set the mode of database '%s'", path);
	return 0;
}

static int db_configure(struct db *db, struct error *err)
{
	autoclean(db_stmt_freep) sqlite3_stmt *stmt = NULL;
	const char *mode;
	int r;

	(void)sqlite3_extended_result_codes(db->conn, 1);
	(void)sqlite3_busy_timeout(db->conn, DB_BUSY_TIMEOUT_MS);
	/* Nothing but our own migrations should ever change the schema's internals. */
	(void)sqlite3_db_config(db->conn, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	(void)sqlite3_db_config(db->conn, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);

	/* journal_mode answers with the mode in effect, which is not an error when it differs. */
	r = db_prepare(db, "PRAGMA journal_mode = WAL", DB_NO_ARGS, &stmt, err);
	if (r < 0)
		return r;
	r = db_step(db, stmt, err);
	if (r < 0)
		return r;
	mode = r > 0 ? db_column_text(stmt, 0) : NULL;
	if (!mode || strcasecmp(mode, "wal") != 0)
		return error_set(err, -EIO, "Failed to switch database '%s' to WAL mode", db->path);

	return db_exec_script(db, "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;", err);
}

int db_open(const char *path, struct db **ret, struct error *err)
{
	autoclean(db_closep) struct db *db = NULL;
	pthread_mutexattr_t attr;
	int rc;
	int r;

	r = db_file_prepare(path, err);
	if (r < 0)
		return r;

	db = xcalloc(1, sizeof(*db));
	db->path = xstrdup(path);
	(void)pthread_mutexattr_init(&attr);
	(void)pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	(void)pthread_mutex_init(&db->lock, &attr);
	(void)pthread_mutexattr_destroy(&attr);

	/* FULLMUTEX as well as our lock: a statement finalized after the unlock stays safe. */
	rc = sqlite3_open_v2(path, &db->conn,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX | SQLITE_OPEN_NOFOLLOW |
				     SQLITE_OPEN_EXRESCODE,
			     NULL);
	r = rc == SQLITE_OK ? db_configure(db, err) : db_error(db, rc, err);
	if (r < 0) {
		(void)error_prefix(err, "Failed to open database '%s'", path);
		return r;
	}

	r = db_schema_update(db, err);
	if (r < 0)
		return r;

	log_debug("Opened database '%s' at schema version %d", path, db_schema_latest());
	*ret = take_ptr(db);
	return 0;
}

void db_close(struct db *db)
{
	if (!db)
		return;

	assert(db->tx_depth == 0);
	/* close_v2 waits for any forgotten statement instead of failing with SQLITE_BUSY. */
	if (db->conn)
		(void)sqlite3_close_v2(db->conn);
	(void)pthread_mutex_destroy(&db->lock);
	free(db->path);
	free(db);
}

/* Ends the transaction or savepoint at depth (1 = the outermost). A failed COMMIT leaves
 * the transaction open in some cases (SQLITE_BUSY), so it is rolled back explicitly. */
static int db_tx_end(struct db *db, unsigned depth, bool commit, struct error *err)
{
	char sql[64];
	int r = 0;

	if (depth == 1) {
		if (commit) {
			r = db_exec_script(db, "COMMIT", err);
			if (r >= 0)
				return 0;
		}
		/* SQLite may already have rolled back by itself (SQLITE_FULL, SQLITE_IOERR). */
		if (!sqlite3_get_autocommit(db->conn))
			(void)db_exec_script(db, "ROLLBACK", NULL);
		return commit ? r : 0;
	}

	if (commit) {
		if (!snprintf_ok(sql, sizeof(sql), "RELEASE lodge_%u", depth))
			abort();
		return db_exec_script(db, sql, err);
	}

	if (!snprintf_ok(sql, sizeof(sql), "ROLLBACK TO lodge_%u; RELEASE lodge_%u", depth, depth))
		abort();
	r = db_exec_script(db, sql, NULL);
	if (r < 0)
		log_debug_errno(r, "Failed to roll back savepoint %u, ignoring", depth);
	return 0;
}

int db_transaction(struct db *db, int (*fn)(struct db *db, void *data, struct error *err),
		   void *data, struct error *err)
{
	DB_LOCK_GUARD(db);
	unsigned depth = db->tx_depth + 1;
	char sql[64];
	int r;
	int q;

	if (depth == 1) {
		r = db_exec_script(db, "BEGIN IMMEDIATE", err);
	} else {
		if (!snprintf_ok(sql, sizeof(sql), "SAVEPOINT lodge_%u", depth))
			abort();
		r = db_exec_script(db, sql, err);
	}
	if (r < 0) {
		(void)error_prefix(err, "Failed to begin a database transaction");
		return r;
	}

	db->tx_depth = depth;
	r = fn(db, data, err);
	q = db_tx_end(db, depth, r >= 0, err);
	db->tx_depth = depth - 1;

	if (r < 0)
		return r;
	if (q < 0) {
		(void)error_prefix(err, "Failed to commit a database transaction");
		return q;
	}
	return r;
}

json_t *db_column_json(sqlite3_stmt *stmt, int i)
{
	const char *text = db_column_text(stmt, i);
	json_t *j = text ? json_loads(text, JSON_DECODE_ANY, NULL) : NULL;

	return j ? j : json_object();
}

char *db_json_text(const json_t *value)
{
	return json_to_string(value ? value : json_null());
}

int db_query_json_list(struct db *db, const char *sql, const struct db_arg *args, size_t n_args,
		       json_t *(*row)(sqlite3_stmt *stmt), json_t **ret, struct error *err)
{
	DB_LOCK_GUARD(db);
	autoclean(db_stmt_freep) sqlite3_stmt *stmt = NULL;
	autojson json_t *list = json_array();
	int r;

	r = db_prepare(db, sql, args, n_args, &stmt, err);
	if (r < 0)
		return r;
	while ((r = db_step(db, stmt, err)) > 0)
		json_array_append_new(list, row(stmt));
	if (r < 0)
		return r;
	*ret = take_ptr(list);
	return 0;
}

int db_query_json_one(struct db *db, const char *sql, const struct db_arg *args, size_t n_args,
		      json_t *(*row)(sqlite3_stmt *stmt), json_t **ret, struct error *err)
{
	DB_LOCK_GUARD(db);
	autoclean(db_stmt_freep) sqlite3_stmt *stmt = NULL;
	int r;

	r = db_prepare(db, sql, args, n_args, &stmt, err);
	if (r < 0)
		return r;
	r = db_step(db, stmt, err);
	if (r < 0)
		return r;
	if (r == 0)
		return -ENOENT;
	*ret = row(stmt);
	return 0;
}
