#include <stdlib.h>
#include <string.h>

#include "lib/str.h"
#include "lib/table.h"
#include "test/unit/unit.h"
/* Last, so that no system header follows its macros. */
#include "lib/banned.h"

static void check_render(const struct table *t, enum table_style style, const char *expected)
{
	char *out = table_render(t, style);

	if (!streq(out, expected))
		ck_abort_msg("table:\n%s\nwanted:\n%s", out, expected);
	free(out);
}

/* `lxc storage list` from api-compat-traces/stlist.txt. */
START_TEST(test_table_like_lxc)
{
	struct table *t = table_new((const char *[]){ "NAME", "DRIVER", "SOURCE", "DESCRIPTION",
						      "USED BY", "STATE", NULL });

	ck_assert_uint_eq(table_columns(t), 6);
	table_add_row(t, (const char *[]){ "default", "dir", "/var/lib/lxd/storage-pools/default",
					   "", "4", "CREATED" });
	table_add_row(t, (const char *[]){ "apiprobe-pool", "dir", "/tmp/ac/pool", NULL, "0",
					   "CREATED" });
	table_sort(t, 0);
	check_render(
		t, TABLE_STYLE_BOX,
		"+---------------+--------+------------------------------------+-------------+---------+---------+\n"
		"|     NAME      | DRIVER |               SOURCE               | DESCRIPTION | USED BY |  STATE  |\n"
		"+---------------+--------+------------------------------------+-------------+---------+---------+\n"
		"| apiprobe-pool | dir    | /tmp/ac/pool                       |             | 0       | CREATED |\n"
		"+---------------+--------+------------------------------------+-------------+---------+---------+\n"
		"| default       | dir    | /var/lib/lxd/storage-pools/default |             | 4       | CREATED |\n"
		"+---------------+--------+------------------------------------+-------------+---------+---------+\n");
	table_free(t);
}
END_TEST

START_TEST(test_table_empty_and_multiline)
{
	struct table *t = table_new((const char *[]){ "ID", "TYPE", NULL });

	check_render(t, TABLE_STYLE_BOX,
		     "+----+------+\n"
		     "| ID | TYPE |\n"
		     "+----+------+\n");
	check_render(t, TABLE_STYLE_CSV, "");

	table_add_row(t, (const char *[]){ "c1", "10.0.0.2 (eth0)\n10.0.0.3 (eth1)" });
	table_add_row(t, (const char *[]){ "caf\xc3\xa9", "x" });
	check_render(t, TABLE_STYLE_BOX,
		     "+------+-----------------+\n"
		     "|  ID  |      TYPE       |\n"
		     "+------+-----------------+\n"
		     "| c1   | 10.0.0.2 (eth0) |\n"
		     "|      | 10.0.0.3 (eth1) |\n"
		     "+------+-----------------+\n"
		     "| caf\xc3\xa9 | x               |\n"
		     "+------+-----------------+\n");
	table_free(t);
}
END_TEST

START_TEST(test_table_csv)
{
	struct table *t = table_new((const char *[]){ "A", "B", "C", NULL });

	table_add_row(t, (const char *[]){ "plain", "a,b", "say \"hi\"" });
	table_add_row(t, (const char *[]){ " lead", "two\nlines", "" });
	check_render(t, TABLE_STYLE_CSV,
		     "plain,\"a,b\",\"say \"\"hi\"\"\"\n"
		     "\" lead\",\"two\nlines\",\n");
	table_free(t);
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("table");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
	tcase_add_test(tc, test_table_like_lxc);
	tcase_add_test(tc, test_table_empty_and_multiline);
	tcase_add_test(tc, test_table_csv);
	suite_add_tcase(s, tc);
	return s;
}
