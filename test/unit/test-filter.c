/* test/unit/test-filter.c: LXD's server-side list filters. */
#include <errno.h>

#include "lib/filter.h"
#include "lib/json.h"
#include "test/unit/unit.h"

#include "lib/banned.h"

static bool matches(const char *filter, const json_t *obj)
{
	autoclean(filter_freep) struct filter *f = NULL;
	struct error err = ERROR_INIT;
	bool m;

	ck_assert_msg(filter_parse(filter, &f, &err) == 0, "'%s': %s", filter, error_message(&err));
	m = filter_match(f, obj);
	return m;
}

START_TEST(test_filter_match)
{
	autojson json_t *img =
		json_pack("{s:s,s:b,s:i,s:{s:s,s:s},s:{s:s}}", "architecture", "x86_64", "public",
			  0, "size", 1024, "properties", "os", "BusyBox", "description",
			  "BusyBox 1.35 x86_64", "config", "image.os", "busybox");

	ck_assert(matches("", img));
	ck_assert(matches(NULL, img));
	ck_assert(matches("architecture eq x86_64", img));
	ck_assert(!matches("architecture eq aarch64", img));
	ck_assert(matches("architecture ne aarch64", img));
	ck_assert(matches("not architecture eq aarch64", img));
	ck_assert(matches("public eq false", img));
	ck_assert(!matches("public eq true", img));
	ck_assert(matches("size eq 1024", img));
	ck_assert(matches("properties.os eq busybox", img));   /* case-insensitive */
	ck_assert(matches("properties.os eq ^Busy", img));     /* a regular expression */
	ck_assert(matches("config.image.os eq busybox", img)); /* a dotted key */
	ck_assert(matches("properties.description eq \"BusyBox 1.35 x86_64\"", img));
	ck_assert(matches("architecture eq aarch64 or public eq false", img));
	ck_assert(!matches("architecture eq x86_64 and public eq true", img));
	ck_assert(!matches("nosuchfield eq x", img));
}
END_TEST

START_TEST(test_filter_refused)
{
	static const char *const bad[] = { "architecture",	  "architecture eq",
					   "a eq b xor c eq d",	  "a lt b",
					   "a eq \"unterminated", "not",
					   "a eq b and" };
	struct error err = ERROR_INIT;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct filter *f = NULL;

		ck_assert_msg(filter_parse(bad[i], &f, &err) == -EINVAL, "'%s' accepted", bad[i]);
		ck_assert_ptr_null(f);
		error_clear(&err);
	}
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("filter");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
	tcase_add_test(tc, test_filter_match);
	tcase_add_test(tc, test_filter_refused);
	suite_add_tcase(s, tc);
	return s;
}
