#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/error.h"
#include "lib/json.h"
#include "lib/str.h"
#include "test/unit/unit.h"

#include "lib/banned.h"

START_TEST(test_parse_u64_refuses_junk)
{
	uint64_t v = 0;

	ck_assert_int_eq(parse_u64("42", &v), 0);
	ck_assert_uint_eq(v, 42);
	ck_assert_int_eq(parse_u64("42x", &v), -EINVAL);
	ck_assert_int_eq(parse_u64("-1", &v), -EINVAL);
	ck_assert_int_eq(parse_u64(" 1", &v), -EINVAL);
	ck_assert_int_eq(parse_u64("", &v), -EINVAL);
	ck_assert_int_eq(parse_u64("99999999999999999999", &v), -ERANGE);
}
END_TEST

START_TEST(test_parse_size_units)
{
	uint64_t v = 0;

	ck_assert_int_eq(parse_size("10GiB", &v), 0);
	ck_assert_uint_eq(v, 10ULL << 30);
	ck_assert_int_eq(parse_size("64MiB", &v), 0);
	ck_assert_uint_eq(v, 64ULL << 20);
	ck_assert_int_eq(parse_size("1GB", &v), 0);
	ck_assert_uint_eq(v, 1000000000ULL);
	ck_assert_int_eq(parse_size("1.5KiB", &v), 0);
	ck_assert_uint_eq(v, 1536);
	ck_assert_int_eq(parse_size("512", &v), 0);
	ck_assert_uint_eq(v, 512);
	ck_assert_int_eq(parse_size("10 GiB", &v), -EINVAL);
	ck_assert_int_eq(parse_size("GiB", &v), -EINVAL);
	ck_assert_int_eq(parse_size("20000000EiB", &v), -ERANGE);
}
END_TEST

START_TEST(test_object_name_rejects_paths)
{
	ck_assert(!object_name_is_valid(".."));
	ck_assert(!object_name_is_valid("."));
	ck_assert(!object_name_is_valid("a/b"));
	ck_assert(!object_name_is_valid("-rf"));
	ck_assert(!object_name_is_valid(""));
	ck_assert(!object_name_is_valid("a\nb"));
	ck_assert(object_name_is_valid("web-01"));
	ck_assert(object_name_is_valid("db_2.old"));
}
END_TEST

START_TEST(test_single_line)
{
	ck_assert(str_is_single_line("limits.cpu=2"));
	ck_assert(!str_is_single_line("1\nlxc.init.cmd=/bin/evil"));
	ck_assert(!str_is_single_line("a\rb"));
}
END_TEST

START_TEST(test_url_decode)
{
	autofree char *a = url_decode("%2Froot%2Fhello.txt");
	autofree char *b = url_decode("bad%2");
	autofree char *c = url_decode("nul%00byte");

	ck_assert_str_eq(a, "/root/hello.txt");
	ck_assert_ptr_null(b);
	ck_assert_ptr_null(c);
}
END_TEST

START_TEST(test_error_keeps_first_cause)
{
	struct error err = ERROR_INIT;

	ck_assert_int_eq(error_set(&err, -ENOENT, "Instance '%s' not found", "c1"), -ENOENT);
	ck_assert_int_eq(error_set(&err, -EIO, "later"), -EIO);
	ck_assert_int_eq(err.code, -ENOENT);
	error_prefix(&err, "Failed to start");
	ck_assert_str_eq(error_message(&err), "Failed to start: Instance 'c1' not found");
	error_clear(&err);
	ck_assert(!error_is_set(&err));
}
END_TEST

START_TEST(test_json_parse_names_problem)
{
	struct error err = ERROR_INIT;
	json_t *j = NULL;

	ck_assert_int_eq(json_parse("{\"a\":", 5, false, &j, &err), -EINVAL);
	ck_assert(strstr(error_message(&err), "Invalid JSON") != NULL);
	error_clear(&err);
	ck_assert_int_eq(json_parse("[1]", 3, false, &j, &err), -EINVAL);
	error_clear(&err);
	ck_assert_int_eq(json_parse("{\"a\":1,\"a\":2}", 13, false, &j, &err), -EINVAL);
	error_clear(&err);
}
END_TEST

START_TEST(test_uuid_shape)
{
	autofree char *u = uuid_new();

	ck_assert_uint_eq(strlen(u), 36);
	ck_assert_int_eq(u[14], '4');
}
END_TEST

START_TEST(test_base64_round_trip)
{
	static const char *const samples[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
	static const char *const encoded[] = { "",	   "Zg==",     "Zm8=",	  "Zm9v",
					       "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy" };

	for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
		autofree char *e = base64_encode(samples[i], strlen(samples[i]));
		autofree unsigned char *d = NULL;
		size_t len = 99;

		ck_assert_str_eq(e, encoded[i]);
		d = base64_decode(e, &len);
		ck_assert_ptr_nonnull(d);
		ck_assert_uint_eq(len, strlen(samples[i]));
		ck_assert_str_eq((char *)d, samples[i]);
	}
}
END_TEST

START_TEST(test_base64_decode_hostile)
{
	size_t len = 0;
	unsigned char *d;

	/* PEM bodies wrap lines; padding may be left out. */
	d = base64_decode("Zm9v\nYmFy\r\n", &len);
	ck_assert_ptr_nonnull(d);
	ck_assert_uint_eq(len, 6);
	free(d);
	d = base64_decode("Zm9vYg", &len);
	ck_assert_ptr_nonnull(d);
	ck_assert_uint_eq(len, 4);
	free(d);
	ck_assert_ptr_null(base64_decode("Zm9v!", &len));
	ck_assert_ptr_null(base64_decode("Zg==Zg==", &len));
	ck_assert_ptr_null(base64_decode("Z", &len));
	ck_assert_ptr_null(base64_decode("Zh==", &len)); /* non-zero fill bits */
	ck_assert_ptr_null(base64_decode("Zg===", &len));
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("str");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
	tcase_add_test(tc, test_parse_u64_refuses_junk);
	tcase_add_test(tc, test_parse_size_units);
	tcase_add_test(tc, test_object_name_rejects_paths);
	tcase_add_test(tc, test_single_line);
	tcase_add_test(tc, test_url_decode);
	tcase_add_test(tc, test_error_keeps_first_cause);
	tcase_add_test(tc, test_json_parse_names_problem);
	tcase_add_test(tc, test_uuid_shape);
	tcase_add_test(tc, test_base64_round_trip);
	tcase_add_test(tc, test_base64_decode_hostile);
	suite_add_tcase(s, tc);
	return s;
}
