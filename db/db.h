/* db/db.h: the state database, one SQLite file per daemon.
 *
 * A struct db wraps one SQLite connection and a lock. Every db_* function takes the lock
 * for as long as it runs, so the event-loop thread and worker threads may share one
 * struct db; a call blocks while another thread runs a transaction (usually well under a
 * millisecond, at worst busy_timeout when another process holds the file).
 *
 * Several statements that must see and leave a consistent state run through
 * db_transaction(): it keeps the lock from BEGIN to COMMIT, so no other thread's
 * statements land in the middle. The table functions (db/db-*.h) can be called from
 * inside a transaction function and then take part in it.
 *
 * db/ is the only place that writes SQL; everything above it uses these functions.
 */
#pragma once

#include "lib/error.h"
#include "lib/macro.h"

struct db;

/* Opens (creating if needed) the database at path and brings its schema up to date
 * (db/schema.c). The file is made mode 0600 and must be a regular file, not a symlink.
 * The connection uses WAL, foreign_keys=ON, synchronous=NORMAL and a busy timeout.
 * A database written by a newer lodge (higher schema version) is refused with -EPROTO.
 * On success *ret is the caller's, to release with db_close(). Blocks on disk I/O. */
int db_open(const char *path, struct db **ret, struct error *err);

/* Closes the connection and frees db. NULL-safe. No other thread may be using db. */
void db_close(struct db *db);
DEFINE_FREEP(struct db, db_close)

/* The schema version recorded in the database (0 for an empty file), or a negative errno. */
int db_schema_version(struct db *db, struct error *err);

/* The schema version this binary creates and understands (the number of migrations). */
int db_schema_latest(void);

/* Runs fn(db, data, err) inside one transaction, holding the lock throughout: BEGIN
 * IMMEDIATE, then COMMIT when fn returns >= 0, ROLLBACK when it returns < 0. Returns fn's
 * result, or a negative errno when the transaction itself could not begin or commit.
 *
 * fn may call any db_* function on the same db, including db_transaction() again: a nested
 * call becomes a SAVEPOINT, so its failure undoes only its own changes (the outer fn sees
 * the error and decides). fn must not wait for another thread that uses db: that thread
 * would wait for the lock fn holds. Keep fn short, it blocks every other user of db. */
int db_transaction(struct db *db, int (*fn)(struct db *db, void *data, struct error *err),
		   void *data, struct error *err);
