#include <errno.h>
#include <string.h>

#include "lib/error.h"
#include "lib/run.h"
#include "test/unit/unit.h"

/* Last: makes the unsafe libc functions compile errors. */
#include "lib/banned.h"

START_TEST(test_run_success_and_exit_status)
{
	struct error err = ERROR_INIT;

	ck_assert_int_eq(run_command((const char *[]){ "true", NULL }, &err), 0);
	ck_assert_int_eq(run_command((const char *[]){ "false", NULL }, &err), -EIO);
	ck_assert_str_eq(error_message(&err), "Failed to run 'false': exit status 1");
	error_clear(&err);
}
END_TEST

START_TEST(test_run_captures_stderr_on_one_line)
{
	struct error err = ERROR_INIT;
	int r;

	r = run_command((const char *[]){ "sh", "-c",
					  "echo out; echo 'bad thing' >&2; echo more >&2; exit 3",
					  NULL },
			&err);
	ck_assert_int_eq(r, -EIO);
	ck_assert_str_eq(error_message(&err), "Failed to run 'sh': bad thing more");
	error_clear(&err);
}
END_TEST

START_TEST(test_run_missing_program)
{
	struct error err = ERROR_INIT;

	ck_assert_int_eq(run_command((const char *[]){ "lodge-no-such-tool", NULL }, &err),
			 -ENOENT);
	ck_assert_ptr_nonnull(strstr(error_message(&err), "lodge-no-such-tool"));
	error_clear(&err);
}
END_TEST

START_TEST(test_run_arguments_are_not_split)
{
	struct error err = ERROR_INIT;
	char *out = NULL;

	/* One argument with spaces, quotes and a semicolon reaches the tool whole. */
	ck_assert_int_eq(
		run_command_full((const char *[]){ "printf", "%s|", "a b; rm -rf /'\"", NULL },
				 NULL, &out, &err),
		0);
	ck_assert_str_eq(out, "a b; rm -rf /'\"|");
	free(out);
}
END_TEST

START_TEST(test_run_feeds_stdin)
{
	struct error err = ERROR_INIT;
	char *big = malloc(300001);
	char *out = NULL;

	/* More than a pipe holds, both ways: no deadlock. */
	memset(big, 'x', 300000);
	big[300000] = '\0';
	ck_assert_int_eq(run_command_full((const char *[]){ "cat", NULL }, big, &out, &err), 0);
	ck_assert_uint_eq(strlen(out), RUN_OUTPUT_MAX);
	ck_assert(out[0] == 'x' && out[RUN_OUTPUT_MAX - 1] == 'x');
	free(out);
	free(big);
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("run");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
	tcase_add_test(tc, test_run_success_and_exit_status);
	tcase_add_test(tc, test_run_captures_stderr_on_one_line);
	tcase_add_test(tc, test_run_missing_program);
	tcase_add_test(tc, test_run_arguments_are_not_split);
	tcase_add_test(tc, test_run_feeds_stdin);
	suite_add_tcase(s, tc);
	return s;
}
