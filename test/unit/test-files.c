#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "instance/files.h"
#include "lib/fs.h"
#include "lib/str.h"
#include "test/unit/unit.h"

#include "lib/banned.h"

static int root_fd;
static char outside[512];

/* A root with hostile links, and a directory outside it that must stay untouched. */
static void root_setup(void)
{
	autofree char *root = NULL;

	tmpdir_setup();
	root = str_printf("%s/root", unit_tmpdir);
	ck_assert(snprintf_ok(outside, sizeof(outside), "%s/outside", unit_tmpdir));
	ck_assert_int_eq(mkdir(root, 0755), 0);
	ck_assert_int_eq(mkdir(outside, 0755), 0);
	root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(root_fd, 0);
	ck_assert_int_eq(mkdirat(root_fd, "etc", 0755), 0);
	ck_assert_int_eq(symlinkat(outside, root_fd, "abs"), 0);	 /* absolute escape */
	ck_assert_int_eq(symlinkat("../../outside", root_fd, "rel"), 0); /* relative escape */
	ck_assert_int_eq(symlinkat("/etc", root_fd, "inside"), 0);	 /* stays in root */
}

static void root_teardown(void)
{
	(void)close(root_fd);
	tmpdir_teardown();
}

static int put_file(const char *path, const char *content)
{
	autofree char *src = str_printf("%s/src", unit_tmpdir);
	autoclose int fd = open(src, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	struct instance_file_put put = {
		.type = INSTANCE_FILE_REGULAR, .content_fd = fd, .uid = -1, .gid = -1, .mode = -1
	};
	struct error err = ERROR_INIT;
	int r;

	ck_assert_int_eq(write_all_fd(fd, content, strlen(content)), 0);
	(void)lseek(fd, 0, SEEK_SET);
	r = instance_file_put(root_fd, 0, path, &put, &err);
	error_clear(&err);
	return r;
}

static bool outside_is_empty(void)
{
	autofree char *probe = str_printf("%s/x", outside);

	return access(probe, F_OK) < 0;
}

START_TEST(test_files_symlinks_stay_inside)
{
	/* An absolute link resolves against the instance's root, where that path is absent. */
	ck_assert_int_lt(put_file("abs/x", "evil"), 0);
	ck_assert(outside_is_empty());
	ck_assert_int_lt(put_file("rel/x", "evil"), 0);
	ck_assert(outside_is_empty());
	ck_assert_int_lt(put_file("../../outside/x", "evil"), 0);
	ck_assert(outside_is_empty());
	/* /inside -> /etc resolves to the root's etc. */
	ck_assert_int_eq(put_file("/inside/hosts", "ok"), 0);
	ck_assert_int_eq(faccessat(root_fd, "etc/hosts", F_OK, 0), 0);
}
END_TEST

START_TEST(test_files_get_reports_symlink_itself)
{
	struct instance_file_info info;
	struct error err = ERROR_INIT;
	autofree char *target = NULL;
	json_t *entries = NULL;
	int fd = -1;

	ck_assert_int_eq(instance_file_get(root_fd, 0, "rel", &info, &fd, &target, &entries, &err), 0);
	ck_assert_int_eq(info.type, INSTANCE_FILE_SYMLINK);
	ck_assert_str_eq(target, "../../outside");
	ck_assert_int_eq(fd, -1);
}
END_TEST

START_TEST(test_files_roundtrip_and_modes)
{
	struct instance_file_info info;
	struct error err = ERROR_INIT;
	autofree char *target = NULL;
	json_t *entries = NULL;
	char buf[16] = "";
	int fd = -1;
	struct instance_file_put dir = { .type = INSTANCE_FILE_DIRECTORY,
					 .content_fd = -1,
					 .uid = 1000,
					 .gid = 1000,
					 .mode = 0750 };

	ck_assert_int_eq(instance_file_put(root_fd, 0, "root/d1", &dir, &err), -ENOENT);
	error_clear(&err);
	dir.uid = dir.gid = -1;
	ck_assert_int_eq(instance_file_put(root_fd, 0, "/d1", &dir, &err), 0);
	ck_assert_int_eq(put_file("d1/hello.txt", "hello"), 0);
	ck_assert_int_eq(
		instance_file_get(root_fd, 0, "d1/hello.txt", &info, &fd, &target, &entries, &err), 0);
	ck_assert_int_eq(info.type, INSTANCE_FILE_REGULAR);
	ck_assert_int_eq(info.mode, 0644);
	ck_assert_uint_eq(info.size, 5);
	ck_assert_int_eq(read(fd, buf, sizeof(buf)), 5);
	ck_assert_str_eq(buf, "hello");
	(void)close(fd);

	ck_assert_int_eq(instance_file_get(root_fd, 0, "d1", &info, &fd, &target, &entries, &err), 0);
	ck_assert_int_eq(info.type, INSTANCE_FILE_DIRECTORY);
	ck_assert_int_eq(info.mode, 0750);
	ck_assert_uint_eq(json_array_size(entries), 1);
	ck_assert_str_eq(json_string_value(json_array_get(entries, 0)), "hello.txt");
	json_decref(entries);

	ck_assert_int_eq(instance_file_delete(root_fd, "d1/hello.txt", &err), 0);
	ck_assert_int_eq(instance_file_delete(root_fd, "d1", &err), 0);
	ck_assert_int_eq(instance_file_delete(root_fd, "d1", &err), -ENOENT);
	error_clear(&err);
}
END_TEST

START_TEST(test_files_symlink_replaced_not_followed)
{
	struct instance_file_put link = { .type = INSTANCE_FILE_SYMLINK,
					  .content_fd = -1,
					  .target = "/etc/shadow",
					  .uid = -1,
					  .gid = -1,
					  .mode = -1 };
	struct error err = ERROR_INIT;
	struct stat st;

	ck_assert_int_eq(instance_file_put(root_fd, 0, "abs", &link, &err), 0);
	ck_assert_int_eq(fstatat(root_fd, "abs", &st, AT_SYMLINK_NOFOLLOW), 0);
	ck_assert(S_ISLNK(st.st_mode));
	/* Writing a file over a symlink is refused rather than written through. */
	ck_assert_int_lt(put_file("abs", "x"), 0);
	ck_assert_int_eq(instance_file_delete(root_fd, "..", &err), -EINVAL);
	error_clear(&err);
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("files");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, root_setup, root_teardown);
	tcase_add_test(tc, test_files_symlinks_stay_inside);
	tcase_add_test(tc, test_files_get_reports_symlink_itself);
	tcase_add_test(tc, test_files_roundtrip_and_modes);
	tcase_add_test(tc, test_files_symlink_replaced_not_followed);
	suite_add_tcase(s, tc);
	return s;
}
