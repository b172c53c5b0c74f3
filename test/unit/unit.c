#include "test/unit/unit.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/str.h"

#include "lib/banned.h"

char unit_tmpdir[256];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

void tmpdir_setup(void)
{
	const char *base = getenv("TMPDIR");

	if (!snprintf_ok(unit_tmpdir, sizeof(unit_tmpdir), "%s/lodge-unit-XXXXXX",
			 base ? base : "/tmp"))
		abort();
	if (!mkdtemp(unit_tmpdir))
		abort();
}

void tmpdir_teardown(void)
{
	if (unit_tmpdir[0])
		(void)nftw(unit_tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	unit_tmpdir[0] = '\0';
}

int main(void)
{
	SRunner *sr = srunner_create(unit_suite());
	int failed;

	if (getenv("LODGE_TEST_DEBUG"))
		log_set_level(LOG_LEVEL_DEBUG);
	else
		log_set_level(LOG_LEVEL_ERROR);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
