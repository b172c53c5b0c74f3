#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "db/db-config.h"
#include "db/db-internal.h"
#include "db/db.h"
#include "lib/error.h"
#include "lib/json.h"
#include "lib/str.h"
#include "test/unit/unit.h"

/* Last: makes the unsafe libc functions compile errors. */
#include "lib/banned.h"

static char *db_path(void)
{
	return str_printf("%s/lodge.db", unit_tmpdir);
}

static struct db *open_ok(const char *path)
{
	struct error err = ERROR_INIT;
	struct db *db = NULL;
	int r;

	r = db_open(path, &db, &err);
	ck_assert_msg(r == 0, "db_open: %s", error_message(&err));
	ck_assert_ptr_nonnull(db);
	error_clear(&err);
	return db;
}

static json_t *config_load_ok(struct db *db)
{
	struct error err = ERROR_INIT;
	json_t *config = NULL;

	ck_assert_msg(db_config_load(db, &config, &err) == 0, "load: %s", error_message(&err));
	error_clear(&err);
	return config;
}

static void assert_json_eq(const json_t *got, const char *want_text)
{
	autojson json_t *want = json_loads(want_text, 0, NULL);
	autofree char *got_text = json_to_string(got);

	ck_assert_ptr_nonnull(want);
	ck_assert_msg(json_equal(got, want), "got %s, want %s", got_text, want_text);
}

START_TEST(test_db_fresh_migrates_to_latest)
{
	autofree char *path = db_path();
	autoclean(db_closep) struct db *db = open_ok(path);
	autojson json_t *config = NULL;
	struct stat st;

	ck_assert_int_ge(db_schema_latest(), 1);
	ck_assert_int_eq(db_schema_version(db, NULL), db_schema_latest());

	/* Version 1 made the config table, empty. */
	config = config_load_ok(db);
	ck_assert_uint_eq(json_object_size(config), 0);

	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
}
END_TEST

START_TEST(test_db_open_tightens_mode_and_refuses_symlink)
{
	autofree char *path = db_path();
	autofree char *link = str_printf("%s/link.db", unit_tmpdir);
	struct error err = ERROR_INIT;
	struct db *db = NULL;
	struct stat st;
	FILE *f;

	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	ck_assert_int_eq(chmod(path, 0644), 0);
	db_close(open_ok(path));
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);

	ck_assert_int_eq(symlink(path, link), 0);
	ck_assert_int_lt(db_open(link, &db, &err), 0);
	ck_assert_ptr_null(db);
	error_clear(&err);
}
END_TEST

START_TEST(test_db_reopen_is_idempotent)
{
	autofree char *path = db_path();
	autojson json_t *want = json_pack("{ss}", "core.https_address", ":8443");
	autojson json_t *config = NULL;
	struct db *db = open_ok(path);

	ck_assert_int_eq(db_config_replace(db, want, NULL), 0);
	db_close(db);

	for (int i = 0; i < 2; i++) {
		db = open_ok(path);
		ck_assert_int_eq(db_schema_version(db, NULL), db_schema_latest());
		config = config_load_ok(db);
		ck_assert(json_equal(config, want));
		json_decref(config);
		config = NULL;
		db_close(db);
	}

	/* Each migration is recorded once, however often the file is opened. */
	{
		sqlite3 *conn = NULL;
		sqlite3_stmt *stmt = NULL;

		ck_assert_int_eq(sqlite3_open(path, &conn), SQLITE_OK);
		ck_assert_int_eq(
			sqlite3_prepare_v2(conn, "SELECT count(*) FROM schema", -1, &stmt, NULL),
			SQLITE_OK);
		ck_assert_int_eq(sqlite3_step(stmt), SQLITE_ROW);
		ck_assert_int_eq(sqlite3_column_int(stmt, 0), db_schema_latest());
		sqlite3_finalize(stmt);
		sqlite3_close(conn);
	}
}
END_TEST

START_TEST(test_db_refuses_newer_schema)
{
	autofree char *path = db_path();
	autofree char *sql = NULL;
	struct error err = ERROR_INIT;
	struct db *db = open_ok(path);
	sqlite3 *conn = NULL;

	db_close(db);
	db = NULL;

	sql = str_printf("INSERT INTO schema (version, updated_at) VALUES (%d, 0)",
			 db_schema_latest() + 1);
	ck_assert_int_eq(sqlite3_open(path, &conn), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(conn, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(conn);

	ck_assert_int_eq(db_open(path, &db, &err), -EPROTO);
	ck_assert_ptr_null(db);
	ck_assert_msg(strstr(error_message(&err), "newer") != NULL, "message: %s",
		      error_message(&err));
	error_clear(&err);
}
END_TEST

START_TEST(test_db_refuses_garbage_file)
{
	autofree char *path = db_path();
	struct error err = ERROR_INIT;
	struct db *db = NULL;
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs("this is not an SQLite database, not even close, but long enough to look\n", f);
	for (int i = 0; i < 100; i++)
		fputs("garbage garbage garbage garbage garbage garbage garbage garbage\n", f);
	fclose(f);

	ck_assert_int_lt(db_open(path, &db, &err), 0);
	ck_assert_ptr_null(db);
	ck_assert(strstr(error_message(&err), path) != NULL);
	error_clear(&err);
}
END_TEST

START_TEST(test_db_config_round_trip)
{
	autofree char *path = db_path();
	autoclean(db_closep) struct db *db = open_ok(path);
	autojson json_t *in = json_pack("{ss ss ss}", "core.https_address", "[::]:8443", "user.a",
					"1", "user.quote", "it's \"quoted\"");
	autojson json_t *bad = json_pack("{ss si}", "user.b", "x", "user.n", 3);
	autojson json_t *changes =
		json_pack("{sn ss ss}", "user.a", "user.c", "3", "user.quote", "");
	autojson json_t *config = NULL;
	struct error err = ERROR_INIT;
	char *value = NULL;

	ck_assert_int_eq(db_config_replace(db, in, NULL), 0);
	config = config_load_ok(db);
	ck_assert(json_equal(config, in));
	json_decref(config);

	ck_assert_int_eq(db_config_get(db, "user.a", &value, NULL), 0);
	ck_assert_str_eq(value, "1");
	free(value);
	ck_assert_int_eq(db_config_get(db, "user.missing", &value, &err), -ENOENT);
	ck_assert(strstr(error_message(&err), "user.missing") != NULL);
	error_clear(&err);

	/* A non-string value is refused and changes nothing. */
	ck_assert_int_eq(db_config_replace(db, bad, &err), -EINVAL);
	ck_assert(strstr(error_message(&err), "user.n") != NULL);
	error_clear(&err);
	config = config_load_ok(db);
	ck_assert(json_equal(config, in));
	json_decref(config);

	/* Update: set, unset with null and with "", leave the rest. */
	ck_assert_int_eq(db_config_update(db, changes, NULL), 0);
	config = config_load_ok(db);
	assert_json_eq(config, "{\"core.https_address\": \"[::]:8443\", \"user.c\": \"3\"}");
	json_decref(config);

	/* Replacing with nothing clears it. */
	ck_assert_int_eq(db_config_replace(db, NULL, NULL), 0);
	config = config_load_ok(db);
	ck_assert_uint_eq(json_object_size(config), 0);
}
END_TEST

static int set_then_fail(struct db *db, void *data, struct error *err)
{
	const char *key = data;
	autojson json_t *set = json_pack("{ss}", key, "set");
	int r;

	r = db_config_update(db, set, err);
	ck_assert_int_eq(r, 0);
	return error_set(err, -EIO, "Failed on purpose");
}

struct nested {
	int inner_result;
};

static int outer_with_nested(struct db *db, void *data, struct error *err)
{
	struct nested *n = data;
	autojson json_t *set = json_pack("{ss}", "user.outer", "kept");
	int r;

	r = db_config_update(db, set, err);
	ck_assert_int_eq(r, 0);
	n->inner_result = db_transaction(db, set_then_fail, (void *)"user.inner", NULL);
	return 7;
}

START_TEST(test_db_transaction_rolls_back)
{
	autofree char *path = db_path();
	autoclean(db_closep) struct db *db = open_ok(path);
	struct nested n = { 0 };
	struct error err = ERROR_INIT;
	autojson json_t *config = NULL;

	ck_assert_int_eq(db_transaction(db, set_then_fail, (void *)"user.x", &err), -EIO);
	ck_assert_str_eq(error_message(&err), "Failed on purpose");
	error_clear(&err);
	config = config_load_ok(db);
	ck_assert_uint_eq(json_object_size(config), 0);
	json_decref(config);

	/* A failed nested transaction undoes only its own part; the result passes through. */
	ck_assert_int_eq(db_transaction(db, outer_with_nested, &n, NULL), 7);
	ck_assert_int_eq(n.inner_result, -EIO);
	config = config_load_ok(db);
	assert_json_eq(config, "{\"user.outer\": \"kept\"}");
}
END_TEST

START_TEST(test_db_unique_is_eexist)
{
	autofree char *path = db_path();
	autoclean(db_closep) struct db *db = open_ok(path);
	DB_LOCK_GUARD(db);
	struct error err = ERROR_INIT;
	const char *sql = "INSERT INTO config (key, value) VALUES (?, ?)";

	ck_assert_int_eq(db_run(db, sql, DB_ARGS(DB_TEXT("user.k"), DB_TEXT("1")), NULL), 1);
	ck_assert_int_eq(db_run(db, sql, DB_ARGS(DB_TEXT("user.k"), DB_TEXT("2")), &err), -EEXIST);
	ck_assert(strstr(error_message(&err), "UNIQUE") != NULL);
	error_clear(&err);

	/* NOT NULL is another constraint: -EINVAL. */
	ck_assert_int_eq(db_run(db, sql, DB_ARGS(DB_TEXT("user.j"), DB_NULL), &err), -EINVAL);
	error_clear(&err);

	/* A parameter count mismatch is caught before SQLite guesses. */
	ck_assert_int_eq(db_run(db, sql, DB_ARGS(DB_TEXT("user.j")), &err), -EINVAL);
	error_clear(&err);

	ck_assert_int_eq(db_run(db, "DELETE FROM config", DB_NO_ARGS, NULL), 1);
}
END_TEST

#define THREAD_ROUNDS 200

static int increment(struct db *db, void *data, struct error *err)
{
	autofree char *value = NULL;
	autofree char *next = NULL;
	autojson json_t *set = NULL;
	uint64_t n = 0;
	int r;

	r = db_config_get(db, "user.counter", &value, NULL);
	if (r == 0 && parse_u64(value, &n) < 0)
		return error_set(err, -EINVAL, "Counter is not a number");
	next = str_printf("%llu", (unsigned long long)n + 1);
	set = json_pack("{ss}", "user.counter", next);
	return db_config_update(db, set, err);
}

static void *worker(void *data)
{
	struct db *db = data;

	for (int i = 0; i < THREAD_ROUNDS; i++) {
		json_t *config = NULL;

		if (db_transaction(db, increment, NULL, NULL) < 0)
			return (void *)"transaction failed";
		if (db_config_load(db, &config, NULL) < 0)
			return (void *)"load failed";
		json_decref(config);
	}
	return NULL;
}

START_TEST(test_db_concurrent_threads)
{
	autofree char *path = db_path();
	autoclean(db_closep) struct db *db = open_ok(path);
	autofree char *value = NULL;
	pthread_t threads[2];
	void *result;

	for (size_t i = 0; i < ARRAY_SIZE(threads); i++)
		ck_assert_int_eq(pthread_create(&threads[i], NULL, worker, db), 0);
	for (size_t i = 0; i < ARRAY_SIZE(threads); i++) {
		ck_assert_int_eq(pthread_join(threads[i], &result), 0);
		ck_assert_msg(result == NULL, "worker: %s", (const char *)result);
	}

	/* Every read-modify-write ran alone: no increment was lost. */
	ck_assert_int_eq(db_config_get(db, "user.counter", &value, NULL), 0);
	ck_assert_str_eq(value, "400");
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("db");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_db_fresh_migrates_to_latest);
	tcase_add_test(tc, test_db_open_tightens_mode_and_refuses_symlink);
	tcase_add_test(tc, test_db_reopen_is_idempotent);
	tcase_add_test(tc, test_db_refuses_newer_schema);
	tcase_add_test(tc, test_db_refuses_garbage_file);
	tcase_add_test(tc, test_db_config_round_trip);
	tcase_add_test(tc, test_db_transaction_rolls_back);
	tcase_add_test(tc, test_db_unique_is_eexist);
	tcase_add_test(tc, test_db_concurrent_threads);
	suite_add_tcase(s, tc);
	return s;
}
