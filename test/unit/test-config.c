#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/auth.h"
#include "daemon/server-config.h"
#include "lib/config.h"
#include "lib/error.h"
#include "lib/json.h"
#include "lib/str.h"
#include "test/unit/unit.h"

/* Last: makes the unsafe libc functions compile errors. */
#include "lib/banned.h"

CONFIG_VALIDATE_ONE_OF(validate_mode, "fast", "slow")

/* A schema with one key of each kind, so these tests do not depend on the server's. */
static const struct config_key test_keys[] = {
	{ .name = "t.string", .type = CONFIG_TYPE_STRING },
	{ .name = "t.bool", .type = CONFIG_TYPE_BOOL, .default_value = "true" },
	{ .name = "t.int", .type = CONFIG_TYPE_INT, .default_value = "5" },
	{ .name = "t.uint", .type = CONFIG_TYPE_INT, .validate = config_validate_uint },
	{ .name = "t.size", .type = CONFIG_TYPE_SIZE, .default_value = "1GiB" },
	{ .name = "t.mode",
	  .type = CONFIG_TYPE_STRING,
	  .default_value = "fast",
	  .validate = validate_mode },
	{ .name = "t.path", .type = CONFIG_TYPE_STRING, .validate = config_validate_abspath },
	{ .name = "t.secret", .type = CONFIG_TYPE_STRING, .flags = CONFIG_KEY_HIDDEN },
	{ .name = "user.", .type = CONFIG_TYPE_STRING, .flags = CONFIG_KEY_PREFIX },
	{ .name = "volatile.", .type = CONFIG_TYPE_STRING, .flags = CONFIG_KEY_PREFIX },
	{ .name = "volatile.idmap.base", .type = CONFIG_TYPE_INT },
	{ .name = NULL },
};

static const struct config_schema test_schema = { .what = "test", .keys = test_keys };

/* Validates name=value in test_schema; returns the code and checks the message names
 * want_in_message (when given). */
static int check(const char *name, const char *value, const char *want_in_message)
{
	struct error err = ERROR_INIT;
	int r = config_validate(&test_schema, name, value, &err);

	if (want_in_message)
		ck_assert_msg(strstr(error_message(&err), want_in_message) != NULL,
			      "'%s' not in '%s'", want_in_message, error_message(&err));
	error_clear(&err);
	return r;
}

static json_t *json_ok(const char *text)
{
	json_t *j = json_loads(text, 0, NULL);

	ck_assert_msg(j != NULL, "bad test JSON: %s", text);
	return j;
}

static void assert_json_eq(const json_t *got, const char *want_text)
{
	autojson json_t *want = json_ok(want_text);
	autofree char *got_text = json_to_string(got);

	ck_assert_msg(json_equal(got, want), "got %s, want %s", got_text, want_text);
}

START_TEST(test_config_unknown_key)
{
	struct error err = ERROR_INIT;

	ck_assert_int_eq(config_validate(&test_schema, "t.nope", "1", &err), -EINVAL);
	ck_assert_str_eq(error_message(&err), "Unknown configuration key 't.nope'");
	error_clear(&err);

	ck_assert_int_eq(config_validate(&server_config_schema, "core.nope", "1", &err), -EINVAL);
	ck_assert_str_eq(error_message(&err), "Unknown configuration key 'core.nope'");
	error_clear(&err);

	/* A prefix alone, or the prefix's start without its dot, is no key. */
	ck_assert_int_eq(check("user.", "x", "Unknown configuration key 'user.'"), -EINVAL);
	ck_assert_int_eq(check("userfoo", "x", "Unknown configuration key 'userfoo'"), -EINVAL);
	ck_assert_int_eq(check("", "x", NULL), -EINVAL);
}
END_TEST

START_TEST(test_config_bad_types)
{
	ck_assert_int_eq(check("t.bool", "maybe", "Invalid value for 't.bool'"), -EINVAL);
	ck_assert_int_eq(check("t.bool", "yes", NULL), 0);
	ck_assert_int_eq(check("t.bool", "false", NULL), 0);

	ck_assert_int_eq(check("t.int", "12x", "Invalid value for 't.int'"), -EINVAL);
	ck_assert_int_eq(check("t.int", "1.5", "Invalid value for 't.int'"), -EINVAL);
	ck_assert_int_eq(check("t.int", "-3", NULL), 0);
	ck_assert_int_eq(check("t.int", "99999999999999999999", NULL), -EINVAL);
	ck_assert_int_eq(check("t.uint", "-3", "Invalid value for 't.uint'"), -EINVAL);
	ck_assert_int_eq(check("t.uint", "0", NULL), 0);

	ck_assert_int_eq(check("t.size", "10GiB", NULL), 0);
	ck_assert_int_eq(check("t.size", "512", NULL), 0);
	ck_assert_int_eq(check("t.size", "10 GiB", "Invalid value for 't.size'"), -EINVAL);
	ck_assert_int_eq(check("t.size", "lots", "Invalid value for 't.size'"), -EINVAL);

	ck_assert_int_eq(check("t.mode", "slow", NULL), 0);
	ck_assert_int_eq(check("t.mode", "slow; rm -rf /", "must be one of: fast, slow"), -EINVAL);

	ck_assert_int_eq(check("volatile.idmap.base", "abc", "'volatile.idmap.base'"), -EINVAL);
	ck_assert_int_eq(check("volatile.other", "abc", NULL), 0);
}
END_TEST

START_TEST(test_config_refuses_line_breaks)
{
	static const char *const bad[] = {
		"1\nlxc.init.cmd = /bin/evil", "a\rb", "tab\there", "bell\a", "del\x7f", "\n",
	};
	struct error err = ERROR_INIT;
	autojson json_t *in = NULL;
	json_t *out = NULL;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		ck_assert_int_eq(check("t.string", bad[i], "Invalid value for 't.string'"),
				 -EINVAL);
		ck_assert_int_eq(check("user.x", bad[i], "Invalid value for 'user.x'"), -EINVAL);
	}

	/* Through the whole-object path as a client sends it, on a real server key. */
	in = json_pack("{ss}", "core.proxy_http",
		       "http://proxy:3128\nlxc.apparmor.profile=unconfined");
	ck_assert_int_eq(server_config_validate(in, &out, &err), -EINVAL);
	ck_assert_ptr_null(out);
	ck_assert(strstr(error_message(&err), "core.proxy_http") != NULL);
	error_clear(&err);
	json_decref(in);

	/* An embedded NUL cannot cut a value short either. */
	in = json_loads("{\"user.a\": \"ok\\u0000\\nlxc.x=1\"}", JSON_ALLOW_NUL, NULL);
	ck_assert_ptr_nonnull(in);
	ck_assert_int_eq(server_config_validate(in, &out, &err), -EINVAL);
	ck_assert_ptr_null(out);
	error_clear(&err);
	json_decref(in);

	/* Keys too: a newline in a user.* key name. */
	in = json_pack("{ss}", "user.a\nlxc.b", "1");
	ck_assert_int_eq(config_normalize(&test_schema, in, &out, &err), -EINVAL);
	ck_assert_ptr_null(out);
	ck_assert(strchr(error_message(&err), '\n') == NULL);
	error_clear(&err);
}
END_TEST

START_TEST(test_config_normalizes_json_values)
{
	autojson json_t *in =
		json_ok("{\"t.bool\": false, \"t.int\": 10, \"t.uint\": 30.0,"
			" \"t.string\": \"x\", \"user.on\": \"yes\", \"t.size\": null,"
			" \"t.mode\": \"\", \"user.n\": 2.5}");
	autojson json_t *out = NULL;
	autojson json_t *bad = json_ok("{\"user.list\": [1, 2]}");
	autojson json_t *bool_string = json_ok("{\"t.bool\": \"on\"}");
	struct error err = ERROR_INIT;
	json_t *none = NULL;

	ck_assert_int_eq(config_normalize(&test_schema, in, &out, &err), 0);
	assert_json_eq(out, "{\"t.bool\": \"false\", \"t.int\": \"10\", \"t.uint\": \"30\","
			    " \"t.string\": \"x\", \"user.on\": \"yes\", \"user.n\": \"2.5\"}");
	json_decref(out);
	out = NULL;

	/* Booleans written as strings are stored in one spelling. */
	ck_assert_int_eq(config_normalize(&test_schema, bool_string, &out, NULL), 0);
	assert_json_eq(out, "{\"t.bool\": \"true\"}");

	ck_assert_int_eq(config_normalize(&test_schema, bad, &none, &err), -EINVAL);
	ck_assert_ptr_null(none);
	ck_assert(strstr(error_message(&err), "'user.list'") != NULL);
	error_clear(&err);

	/* NULL means an empty config; a non-object is refused. */
	ck_assert_int_eq(config_normalize(&test_schema, NULL, &none, NULL), 0);
	ck_assert_uint_eq(json_object_size(none), 0);
	json_decref(none);
	none = NULL;
	{
		autojson json_t *arr = json_array();

		ck_assert_int_eq(config_normalize(&test_schema, arr, &none, &err), -EINVAL);
		ck_assert_str_eq(error_message(&err),
				 "Invalid test configuration: expected an object");
		error_clear(&err);
	}
}
END_TEST

START_TEST(test_config_prefix_keys)
{
	ck_assert_ptr_eq(config_key_find(&test_schema, "user.anything.at-all_1"), &test_keys[8]);
	ck_assert_ptr_eq(config_key_find(&test_schema, "volatile.eth0.hwaddr"), &test_keys[9]);
	/* An exact key wins over the prefix it lives under. */
	ck_assert_ptr_eq(config_key_find(&test_schema, "volatile.idmap.base"), &test_keys[10]);
	ck_assert_ptr_null(config_key_find(&test_schema, "user."));
	ck_assert_ptr_null(config_key_find(&test_schema, "user.a b"));
	ck_assert_ptr_null(config_key_find(&test_schema, "user.a=b"));
	ck_assert_ptr_null(config_key_find(&test_schema, "USER.a"));

	ck_assert_int_eq(check("user.a b", "1", "Invalid configuration key 'user.a b'"), -EINVAL);
	ck_assert_int_eq(check("user.anything", "any value at all, even 'quotes'", NULL), 0);
}
END_TEST

START_TEST(test_config_defaults)
{
	autojson json_t *empty = json_object();
	autojson json_t *set = json_ok("{\"t.bool\": \"false\", \"t.int\": \"42\","
				       " \"t.size\": \"2MiB\", \"t.mode\": \"slow\"}");

	ck_assert_str_eq(config_get(&test_schema, empty, "t.mode"), "fast");
	ck_assert_ptr_null(config_get(&test_schema, empty, "t.string"));
	ck_assert_ptr_null(config_get(&test_schema, empty, "user.x"));
	ck_assert(config_get_bool(&test_schema, empty, "t.bool"));
	ck_assert_int_eq(config_get_int(&test_schema, empty, "t.int"), 5);
	ck_assert_uint_eq(config_get_size(&test_schema, empty, "t.size"), 1ULL << 30);
	ck_assert_int_eq(config_get_int(&test_schema, empty, "t.uint"), 0);

	ck_assert_str_eq(config_get(&test_schema, set, "t.mode"), "slow");
	ck_assert(!config_get_bool(&test_schema, set, "t.bool"));
	ck_assert_int_eq(config_get_int(&test_schema, set, "t.int"), 42);
	ck_assert_uint_eq(config_get_size(&test_schema, set, "t.size"), 2ULL << 20);

	/* The server's defaults, as LXD documents them. */
	ck_assert_int_eq(config_get_int(&server_config_schema, empty, "core.shutdown_timeout"), 5);
	ck_assert_int_eq(
		config_get_int(&server_config_schema, empty, "images.auto_update_interval"), 6);
	ck_assert_int_eq(config_get_int(&server_config_schema, empty, "images.remote_cache_expiry"),
			 10);
	ck_assert_str_eq(config_get(&server_config_schema, empty, "images.compression_algorithm"),
			 "gzip");
	ck_assert(config_get_bool(&server_config_schema, empty, "images.auto_update_cached"));
}
END_TEST

START_TEST(test_config_patch_and_replace)
{
	autojson json_t *current =
		json_ok("{\"t.int\": \"7\", \"user.a\": \"x\", \"t.secret\": \"s1\"}");
	autojson json_t *patch = json_ok("{\"user.a\": null, \"user.b\": \"y\", \"t.string\": \"\","
					 " \"t.secret\": true}");
	autojson json_t *put = json_ok("{\"user.c\": \"z\", \"t.secret\": true}");
	autojson json_t *bad = json_ok("{\"user.d\": \"ok\", \"t.int\": \"x\"}");
	autojson json_t *out = NULL;
	struct error err = ERROR_INIT;
	json_t *none = NULL;

	ck_assert_int_eq(config_patch(&test_schema, current, patch, &out, &err), 0);
	assert_json_eq(out, "{\"t.int\": \"7\", \"user.b\": \"y\", \"t.secret\": \"s1\"}");
	json_decref(out);
	out = NULL;

	ck_assert_int_eq(config_replace(&test_schema, current, put, &out, &err), 0);
	assert_json_eq(out, "{\"user.c\": \"z\", \"t.secret\": \"s1\"}");
	json_decref(out);
	out = NULL;

	/* A hidden key shows as true. */
	out = config_to_api(&test_schema, current);
	assert_json_eq(out, "{\"t.int\": \"7\", \"user.a\": \"x\", \"t.secret\": true}");

	/* One bad value fails the whole patch. */
	ck_assert_int_eq(config_patch(&test_schema, current, bad, &none, &err), -EINVAL);
	ck_assert_ptr_null(none);
	ck_assert_str_eq(error_message(&err), "Invalid value for 't.int': expected an integer");
	error_clear(&err);
}
END_TEST

START_TEST(test_config_validators)
{
	static const char *const good_addresses[] = {
		":8443",   "127.0.0.1:8443", "[::1]:8443", "[::]:8443", "lxd.example.com:443",
		"0.0.0.0", "[fe80::1]",	     "::",	   "host",
	};
	static const char *const bad_addresses[] = {
		"",	  ":",	   "1.2.3.4:", "1.2.3.4:99999", "1.2.3.4:0",  "[::1",	  "[::1]x",
		"[zz]:1", "a b:1", "-host:1",  "host-:1",	"::1:8443:x", "host:80x", "[::1]:",
	};
	static const char *const good_paths[] = { "/", "/var/lib/lodge", "/a.b/c..d" };
	static const char *const bad_paths[] = { "rel/path", "",    "/a/../b", "/a/./b",
						 "//a",	     "/a/", "/.." };
	struct error err = ERROR_INIT;
	autofree char *host = NULL;
	unsigned port = 1;

	for (size_t i = 0; i < ARRAY_SIZE(good_addresses); i++)
		ck_assert_msg(config_validate_address(good_addresses[i], NULL) == 0, "refused '%s'",
			      good_addresses[i]);
	for (size_t i = 0; i < ARRAY_SIZE(bad_addresses); i++)
		ck_assert_msg(config_validate_address(bad_addresses[i], NULL) == -EINVAL,
			      "accepted '%s'", bad_addresses[i]);

	ck_assert_int_eq(config_address_parse("[::1]:8443", &host, &port, NULL), 0);
	ck_assert_str_eq(host, "::1");
	ck_assert_uint_eq(port, 8443);
	free(host);
	ck_assert_int_eq(config_address_parse(":443", &host, &port, NULL), 0);
	ck_assert_str_eq(host, "");
	ck_assert_uint_eq(port, 443);
	free(host);
	ck_assert_int_eq(config_address_parse("10.0.0.1", &host, &port, NULL), 0);
	ck_assert_str_eq(host, "10.0.0.1");
	ck_assert_uint_eq(port, 0);

	for (size_t i = 0; i < ARRAY_SIZE(good_paths); i++)
		ck_assert_msg(config_validate_abspath(good_paths[i], NULL) == 0, "refused '%s'",
			      good_paths[i]);
	for (size_t i = 0; i < ARRAY_SIZE(bad_paths); i++)
		ck_assert_msg(config_validate_abspath(bad_paths[i], NULL) == -EINVAL,
			      "accepted '%s'", bad_paths[i]);

	ck_assert_int_eq(config_validate_bool("off", NULL), 0);
	ck_assert_int_eq(config_validate_bool("nope", NULL), -EINVAL);
	ck_assert_int_eq(config_validate_size("1.5GB", NULL), 0);
	ck_assert_int_eq(config_validate_size("1.5XB", NULL), -EINVAL);
	ck_assert_int_eq(config_validate_uint("18446744073709551615", &err), -EINVAL);
	error_clear(&err);

	/* Through the server table: the address and compression keys use these. */
	ck_assert_int_eq(
		config_validate(&server_config_schema, "core.https_address", "[::]:8443", NULL), 0);
	ck_assert_int_eq(
		config_validate(&server_config_schema, "core.https_address", "[::]:0", &err),
		-EINVAL);
	ck_assert_str_eq(
		error_message(&err),
		"Invalid value for 'core.https_address': expected a port number between 1 and 65535");
	error_clear(&err);
	ck_assert_int_eq(config_validate(&server_config_schema, "images.compression_algorithm",
					 "zstd", NULL),
			 0);
	ck_assert_int_eq(config_validate(&server_config_schema, "images.compression_algorithm",
					 "gzip -9 --rsyncable", &err),
			 -EINVAL);
	error_clear(&err);
}
END_TEST

START_TEST(test_server_config_drops_defaults)
{
	autojson json_t *in = json_ok(
		"{\"core.shutdown_timeout\": 5, \"images.auto_update_interval\": \"12\","
		" \"images.auto_update_cached\": \"yes\", \"images.compression_algorithm\": \"gzip\","
		" \"user.note\": \"hello\", \"core.proxy_http\": null}");
	autojson json_t *out = NULL;
	struct error err = ERROR_INIT;

	ck_assert_int_eq(server_config_validate(in, &out, &err), 0);
	assert_json_eq(out, "{\"images.auto_update_interval\": \"12\", \"user.note\": \"hello\"}");
}
END_TEST

START_TEST(test_server_config_trust_password)
{
	autojson json_t *in = json_ok("{\"core.trust_password\": \"s3cret\", \"user.a\": \"1\"}");
	autojson json_t *stored = NULL;
	autojson json_t *api = NULL;
	autojson json_t *kept = NULL;
	autojson json_t *changed = NULL;
	autojson json_t *cleared = NULL;
	autojson json_t *keep_put = json_ok("{\"core.trust_password\": true, \"user.b\": \"2\"}");
	autojson json_t *new_patch = json_ok("{\"core.trust_password\": \"other\"}");
	autojson json_t *clear_patch = json_ok("{\"core.trust_password\": \"\"}");
	autofree char *again = NULL;
	struct error err = ERROR_INIT;
	const char *hash;

	ck_assert_int_eq(server_config_validate(in, &stored, &err), 0);
	hash = json_get_str(stored, "core.trust_password");
	ck_assert_ptr_nonnull(hash);
	ck_assert_str_ne(hash, "s3cret");
	ck_assert(strstr(hash, "s3cret") == NULL);
	ck_assert(str_has_prefix(hash, "scrypt:"));
	ck_assert(str_is_single_line(hash));
	ck_assert(server_config_password_matches(hash, "s3cret"));
	ck_assert(!server_config_password_matches(hash, "s3cret "));
	ck_assert(!server_config_password_matches(hash, ""));
	ck_assert(!server_config_password_matches(NULL, "s3cret"));
	ck_assert(!server_config_password_matches("s3cret", "s3cret"));
	ck_assert(!server_config_password_matches("scrypt:16384:8:1:zz:zz", "s3cret"));
	ck_assert(!server_config_password_matches("scrypt:1099511627776:8:1:00:00", "s3cret"));

	/* A fresh salt each time: the same password never hashes the same. */
	ck_assert_int_eq(server_config_password_hash("s3cret", &again, NULL), 0);
	ck_assert_str_ne(again, hash);
	ck_assert(server_config_password_matches(again, "s3cret"));

	/* GET shows true, never the hash. */
	api = server_config_to_api(stored);
	assert_json_eq(api, "{\"core.trust_password\": true, \"user.a\": \"1\"}");

	/* PUT sending back true keeps the password; PATCH sets a new one or clears it. */
	ck_assert_int_eq(server_config_replace(stored, keep_put, &kept, &err), 0);
	ck_assert_str_eq(json_get_str(kept, "core.trust_password"), hash);
	ck_assert_ptr_null(json_get_str(kept, "user.a"));
	ck_assert_str_eq(json_get_str(kept, "user.b"), "2");

	ck_assert_int_eq(server_config_patch(stored, new_patch, &changed, &err), 0);
	ck_assert(server_config_password_matches(json_get_str(changed, "core.trust_password"),
						 "other"));
	ck_assert(!server_config_password_matches(json_get_str(changed, "core.trust_password"),
						  "s3cret"));
	ck_assert_str_eq(json_get_str(changed, "user.a"), "1");

	ck_assert_int_eq(server_config_patch(stored, clear_patch, &cleared, &err), 0);
	assert_json_eq(cleared, "{\"user.a\": \"1\"}");
}
END_TEST

START_TEST(test_token_expiry)
{
	long long t = 0;

	ck_assert_int_eq(auth_expiry_parse("1d 2H", 1000, &t), 0);
	ck_assert_int_eq(t, 1000 + 86400 + 7200);
	ck_assert_int_eq(auth_expiry_parse("30S", 0, &t), 0);
	ck_assert_int_eq(t, 30);
	ck_assert_int_eq(auth_expiry_parse("1w 3M", 0, &t), 0);
	ck_assert_int_eq(t, 7 * 86400 + 180);
	/* 2026-01-31 + 1 month: Go's AddDate normalises to March 3rd. */
	ck_assert_int_eq(auth_expiry_parse("1m", 1769817600, &t), 0);
	ck_assert_int_eq(t, 1769817600 + 31 * 86400);
	ck_assert_int_eq(auth_expiry_parse("1d 1d", 0, &t), -EINVAL);
	ck_assert_int_eq(auth_expiry_parse("5 parsecs", 0, &t), -EINVAL);
	ck_assert_int_eq(auth_expiry_parse("1x", 0, &t), -EINVAL);
	ck_assert_int_eq(auth_expiry_parse("d", 0, &t), -EINVAL);
	ck_assert_int_eq(auth_expiry_parse("-1d", 0, &t), -EINVAL);
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_config_unknown_key);
	tcase_add_test(tc, test_config_bad_types);
	tcase_add_test(tc, test_config_refuses_line_breaks);
	tcase_add_test(tc, test_config_normalizes_json_values);
	tcase_add_test(tc, test_config_prefix_keys);
	tcase_add_test(tc, test_config_defaults);
	tcase_add_test(tc, test_config_patch_and_replace);
	tcase_add_test(tc, test_config_validators);
	tcase_add_test(tc, test_server_config_drops_defaults);
	tcase_add_test(tc, test_server_config_trust_password);
	tcase_add_test(tc, test_token_expiry);
	suite_add_tcase(s, tc);
	return s;
}
