/* db/db-internal.h: what the table files (db/db-*.c, db/schema.c) share. Nothing outside
 * db/ includes this header (unit tests aside).
 *
 * A table function looks like this:
 *
 *	int db_config_get(struct db *db, const char *key, char **ret, struct error *err)
 *	{
 *		DB_LOCK_GUARD(db);
 *		autoclean(db_stmt_freep) sqlite3_stmt *stmt = NULL;
 *		int r;
 *
 *		r = db_prepare(db, "SELECT value FROM config WHERE key = ?",
 *			       DB_ARGS(DB_TEXT(key)), &stmt, err);
 *		if (r < 0)
 *			return r;
 *		r = db_step(db, stmt, err);
 *		...
 *	}
 *
 * The lock guard comes first so the statement, declared after it, is finalized before the
 * lock is released. Every helper below expects the caller to hold the lock, and converts a
 * SQLite failure into a negative errno and a sentence in err (db_error()).
 */
#pragma once

#include <jansson.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "db/db.h"
#include "lib/error.h"
#include "lib/macro.h"

struct db {
	sqlite3 *conn;
	pthread_mutex_t lock; /* recursive: transaction functions call locking functions */
	unsigned tx_depth;    /* open transactions and savepoints; only changed under lock */
	char *path;
};

/* Takes the (recursive) lock and returns db, for autoclean(db_unlockp). Blocks. */
struct db *db_lock(struct db *db);
void db_unlock(struct db *db);

static inline void db_unlockp(struct db **db)
{
	if (*db)
		db_unlock(*db);
}

/* Holds db's lock until the end of the enclosing block. Declare it before any statement
 * (autoclean runs in reverse order), and once per block. */
#define DB_LOCK_GUARD(db) autoclean(db_unlockp) _unused_ struct db *db_lock_guard_ = db_lock(db)

static inline void db_stmt_free(sqlite3_stmt *stmt)
{
	(void)sqlite3_finalize(stmt); /* NULL-safe; its error is the last step's, already seen */
}
DEFINE_FREEP(sqlite3_stmt, db_stmt_free)

/* A parameter for a prepared statement. Build them with the DB_* macros, which check the
 * C type of each value at compile time. */
enum db_arg_type {
	DB_ARG_NULL,
	DB_ARG_TEXT,
	DB_ARG_INT,
};

struct db_arg {
	enum db_arg_type type;
	const char *text;
	int64_t num;
};

/* A TEXT parameter; NULL binds SQL NULL. The string must outlive the statement. */
#define DB_TEXT(s) ((struct db_arg){ .type = DB_ARG_TEXT, .text = (s) })
#define DB_INT(n)  ((struct db_arg){ .type = DB_ARG_INT, .num = (int64_t)(n) })
#define DB_BOOL(b) DB_INT((b) ? 1 : 0)
#define DB_NULL	   ((struct db_arg){ .type = DB_ARG_NULL })

/* Expands to the two arguments "args, n_args": db_run(db, sql, DB_ARGS(DB_TEXT(k)), err). */
#define DB_ARGS(...)                              \
	((const struct db_arg[]){ __VA_ARGS__ }), \
		ARRAY_SIZE(((const struct db_arg[]){ __VA_ARGS__ }))
#define DB_NO_ARGS NULL, 0

/* Converts SQLite result code rc (extended codes on) into a negative errno, and fills err
 * with "Database error: <SQLite's message>". UNIQUE and PRIMARY KEY constraint failures
 * give -EEXIST, other constraints -EINVAL, BUSY/LOCKED -EBUSY, FULL -ENOSPC, READONLY
 * -EROFS, CORRUPT/NOTADB -EUCLEAN, the rest -EIO (or the system's errno when SQLite has
 * one). Callers that can name the object check for the conflict first: the first error
 * set is the one the user reads. */
int db_error(struct db *db, int rc, struct error *err);

/* Prepares one SQL statement and binds args (n_args of them) to its ?s in order. On success
 * *ret is the caller's, for autoclean(db_stmt_freep). */
int db_prepare(struct db *db, const char *sql, const struct db_arg *args, size_t n_args,
	       sqlite3_stmt **ret, struct error *err);

/* One step: 1 when a row is ready (read it with the db_column_* functions), 0 when the
 * statement is done, or a negative errno. */
int db_step(struct db *db, sqlite3_stmt *stmt, struct error *err);

/* Prepares, binds and runs a statement that returns no rows (INSERT, UPDATE, DELETE).
 * Returns the number of rows it changed, or a negative errno. */
int db_run(struct db *db, const char *sql, const struct db_arg *args, size_t n_args,
	   struct error *err);

/* Runs a statement whose first row's first column is an integer into *ret. -ENOENT when
 * there is no row; a NULL column reads as 0. */
int db_query_int(struct db *db, const char *sql, const struct db_arg *args, size_t n_args,
		 int64_t *ret, struct error *err);

/* Runs several ;-separated statements without parameters (schema migrations). */
int db_exec_script(struct db *db, const char *sql, struct error *err);

/* The text in column i of the current row; NULL when the column is SQL NULL. Valid until
 * the next step or finalize. */
static inline const char *db_column_text(sqlite3_stmt *stmt, int i)
{
	return (const char *)sqlite3_column_text(stmt, i);
}

static inline int64_t db_column_int(sqlite3_stmt *stmt, int i)
{
	return sqlite3_column_int64(stmt, i);
}

/* The JSON document in column i (config, devices, lists), as a new reference; an empty
 * object when the column is NULL or not valid JSON (it was validated before it was stored). */
json_t *db_column_json(sqlite3_stmt *stmt, int i);

/* Runs a query and collects every row as the JSON value row() makes of it, into a new
 * array. */
int db_query_json_list(struct db *db, const char *sql, const struct db_arg *args, size_t n_args,
		       json_t *(*row)(sqlite3_stmt *stmt), json_t **ret, struct error *err);

/* Runs a query for one row made into JSON by row(); -ENOENT when there is none (err is
 * left for the caller to fill with the name of what is missing). */
int db_query_json_one(struct db *db, const char *sql, const struct db_arg *args, size_t n_args,
		      json_t *(*row)(sqlite3_stmt *stmt), json_t **ret, struct error *err);

/* Compact JSON text of value, for a TEXT column. The caller frees. */
char *db_json_text(const json_t *value);

/* Brings the schema of a freshly opened database up to db_schema_latest(), one migration
 * per transaction (db/schema.c). -EPROTO for a database newer than this binary. */
int db_schema_update(struct db *db, struct error *err);
