#include <errno.h>
#include <linux/magic.h>
#include <mntent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>

#include "daemon/host.h"
#include "lib/error.h"
#include "lib/fs.h"
#include "lib/json.h"
#include "lib/str.h"
#include "test/unit/unit.h"

/* Last: it poisons unsafe functions in the code below, not in the headers above. */
#include "lib/banned.h"

static json_t *environment(void)
{
	struct error err = ERROR_INIT;
	json_t *env = NULL;
	int r;

	r = host_environment_get(&env, &err);
	ck_assert_msg(r == 0, "host_environment_get: %s", error_message(&err));
	error_clear(&err);
	return env;
}

START_TEST(test_kernel_matches_uname)
{
	autojson json_t *env = environment();
	json_t *arches = json_object_get(env, "architectures");
	struct utsname uts;

	ck_assert_int_eq(uname(&uts), 0);
	ck_assert_str_eq(json_get_str(env, "kernel"), uts.sysname);
	ck_assert_str_eq(json_get_str(env, "kernel_version"), uts.release);
	ck_assert_str_eq(json_get_str(env, "kernel_architecture"), uts.machine);

	ck_assert(json_is_array(arches));
	ck_assert_uint_ge(json_array_size(arches), 1);
	if (streq(uts.machine, "x86_64")) {
		/* What LXD answers on x86_64. */
		ck_assert_uint_eq(json_array_size(arches), 2);
		ck_assert_str_eq(json_string_value(json_array_get(arches, 0)), "x86_64");
		ck_assert_str_eq(json_string_value(json_array_get(arches, 1)), "i686");
	}
}
END_TEST

START_TEST(test_os_release)
{
	autojson json_t *env = environment();
	autofree char *data = NULL;
	const char *name = json_get_str(env, "os_name");
	const char *version = json_get_str(env, "os_version");

	ck_assert_ptr_nonnull(name);
	ck_assert_ptr_nonnull(version);
	ck_assert_msg(!str_is_empty(name), "os_name is empty");
	ck_assert_ptr_null(strchr(name, '"'));

	if (read_file("/etc/os-release", (size_t)1 << 20, &data, NULL, NULL) == 0 &&
	    strstr(data, "\nVERSION_ID=") && !str_is_empty(version)) {
		autofree char *line = str_printf("VERSION_ID=\"%s\"", version);
		autofree char *bare = str_printf("VERSION_ID=%s\n", version);

		ck_assert(strstr(data, line) || strstr(data, bare));
	}
}
END_TEST

START_TEST(test_kernel_features_are_strings)
{
	static const char *const names[] = {
		"idmapped_mounts",  "netnsid_getifaddrs",
		"seccomp_listener", "seccomp_listener_continue",
		"shiftfs",	    "uevent_injection",
		"unpriv_fscaps",
	};
	autojson json_t *env = environment();
	json_t *features = json_object_get(env, "kernel_features");
	const char *firewall = json_get_str(env, "firewall");

	ck_assert(json_is_object(features));
	ck_assert_uint_eq(json_object_size(features), ARRAY_SIZE(names));
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		const char *value = json_get_str(features, names[i]);

		ck_assert_msg(value && (streq(value, "true") || streq(value, "false")),
			      "kernel_features.%s is '%s'", names[i], value ? value : "(missing)");
	}
	/* Continuing after a notification needs the listener first. */
	if (streq(json_get_str(features, "seccomp_listener_continue"), "true"))
		ck_assert_str_eq(json_get_str(features, "seccomp_listener"), "true");

	ck_assert_ptr_nonnull(firewall);
	ck_assert(streq(firewall, "nftables") || streq(firewall, "xtables"));
}
END_TEST

/* --- Cgroups ------------------------------------------------------------------------ */

static bool strv_contains(char *const *v, const char *s)
{
	for (; v && *v; v++)
		if (streq(*v, s))
			return true;
	return false;
}

START_TEST(test_cgroup_layout_matches_mounts)
{
	static const char *const controllers[] = {
		"blkio",  "cpu",     "cpuacct",	 "cpuset",     "devices", "freezer", "hugetlb",
		"memory", "net_cls", "net_prio", "perf_event", "pids",	  "rdma",    NULL,
	};
	autoclean(host_cgroups_release) struct host_cgroups cg = { 0 };
	struct error err = ERROR_INIT;
	enum host_cgroup_layout layout;
	bool has_v1 = false, has_v2 = false;
	struct mntent *m;
	FILE *f;
	int r;

	r = host_cgroups_detect(&cg, &err);
	ck_assert_msg(r == 0, "host_cgroups_detect: %s", error_message(&err));
	ck_assert_int_eq(host_cgroup_layout_detect(&layout, NULL), 0);
	ck_assert_int_eq(layout, cg.layout);
	ck_assert_ptr_nonnull(host_cgroup_layout_names[layout]);

	/* Read the mount table again, the plain way. */
	f = setmntent("/proc/self/mounts", "re");
	ck_assert_ptr_nonnull(f);
	while ((m = getmntent(f))) {
		if (streq(m->mnt_type, "cgroup2")) {
			has_v2 = true;
		} else if (streq(m->mnt_type, "cgroup")) {
			autofree char *opts = xstrdup(m->mnt_opts);
			char *save = NULL;

			for (char *o = strtok_r(opts, ",", &save); o;
			     o = strtok_r(NULL, ",", &save)) {
				if (!strv_contains((char **)controllers, o))
					continue;
				has_v1 = true;
				ck_assert_msg(strv_contains(cg.v1_controllers, o),
					      "Controller '%s' is not on v1", o);
			}
		}
	}
	(void)endmntent(f);

	ck_assert_int_eq(has_v2, cg.v2_mount != NULL);
	if (has_v1 && has_v2)
		ck_assert_int_eq(cg.layout, CGROUP_LAYOUT_HYBRID);
	else if (has_v1)
		ck_assert_int_eq(cg.layout, CGROUP_LAYOUT_V1);
	else
		ck_assert_int_eq(cg.layout, CGROUP_LAYOUT_V2);

	/* The kernel agrees that it is a cgroup2 file system. */
	if (cg.v2_mount) {
		struct statfs st;

		ck_assert_int_eq(statfs(cg.v2_mount, &st), 0);
		ck_assert(st.f_type == CGROUP2_SUPER_MAGIC);
	}

	for (char **c = cg.v1_controllers; *c; c++)
		ck_assert_int_eq(host_cgroups_controller_version(&cg, *c), CGROUP_VERSION_V1);
	for (char **c = cg.v2_controllers; *c; c++)
		if (!strv_contains(cg.v1_controllers, *c))
			ck_assert_int_eq(host_cgroups_controller_version(&cg, *c),
					 CGROUP_VERSION_V2);
	ck_assert_int_eq(host_cgroups_controller_version(&cg, "no-such-controller"),
			 CGROUP_VERSION_NONE);
}
END_TEST

static char *fixture(const char *name, const char *content)
{
	char *path = str_printf("%s/%s", unit_tmpdir, name);

	ck_assert_int_eq(write_file_atomic(path, content, strlen(content), 0644, NULL), 0);
	return path;
}

static const char proc_cgroups[] = "#subsys_name\thierarchy\tnum_cgroups\tenabled\n"
				   "cpuset\t3\t1\t1\n"
				   "cpu\t1\t1\t1\n"
				   "memory\t4\t25\t1\n"
				   "hugetlb\t0\t1\t1\n"
				   "pids\t8\t1\t1\n"
				   "rdma\t0\t1\t0\n";

START_TEST(test_cgroup_layout_hybrid)
{
	autoclean(host_cgroups_release) struct host_cgroups cg = { 0 };
	autofree char *unified = str_printf("%s/unified", unit_tmpdir);
	autofree char *mounts = NULL;
	autofree char *cgroups = fixture("cgroups", proc_cgroups);
	autofree char *table =
		str_printf("proc /proc proc rw,relatime 0 0\n"
			   "tmpfs /sys/fs/cgroup tmpfs rw,relatime,mode=755 0 0\n"
			   "cgroup /sys/fs/cgroup/cpu cgroup rw,relatime,cpu 0 0\n"
			   "cgroup /sys/fs/cgroup/memory cgroup rw,nosuid,memory 0 0\n"
			   "cgroup /sys/fs/cgroup/systemd cgroup rw,xattr,name=systemd 0 0\n"
			   "cgroup2 %s cgroup2 rw,nsdelegate 0 0\n",
			   unified);

	ck_assert_int_eq(mkdir(unified, 0755), 0);
	free(fixture("unified/cgroup.controllers", "hugetlb pids\n"));
	mounts = fixture("mounts", table);

	ck_assert_int_eq(host_cgroups_detect_from(mounts, cgroups, &cg, NULL), 0);
	ck_assert_int_eq(cg.layout, CGROUP_LAYOUT_HYBRID);
	ck_assert_str_eq(cg.v2_mount, unified);
	ck_assert_str_eq(cg.v1_controllers[0], "cpu");
	ck_assert_str_eq(cg.v1_controllers[1], "memory");
	ck_assert_ptr_null(cg.v1_controllers[2]);
	ck_assert_int_eq(host_cgroups_controller_version(&cg, "memory"), CGROUP_VERSION_V1);
	ck_assert_int_eq(host_cgroups_controller_version(&cg, "hugetlb"), CGROUP_VERSION_V2);
	ck_assert_int_eq(host_cgroups_controller_version(&cg, "name=systemd"), CGROUP_VERSION_NONE);
	ck_assert_int_eq(host_cgroups_controller_version(&cg, "cpuset"), CGROUP_VERSION_NONE);
}
END_TEST

START_TEST(test_cgroup_layout_v1_and_v2)
{
	autoclean(host_cgroups_release) struct host_cgroups v1 = { 0 };
	autoclean(host_cgroups_release) struct host_cgroups v2 = { 0 };
	autofree char *root = str_printf("%s/root", unit_tmpdir);
	autofree char *v1_mounts = fixture(
		"v1",
		"cgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,cpu,cpuacct 0 0\n"
		"cgroup /sys/fs/cgroup/pids cgroup rw,nosuid,nodev,noexec,relatime,pids 0 0\n");
	autofree char *table = str_printf("cgroup2 %s cgroup2 rw,nsdelegate 0 0\n"
					  "cgroup /run/lxc/systemd cgroup rw,name=systemd 0 0\n",
					  root);
	autofree char *v2_mounts = fixture("v2", table);

	/* Without /proc/cgroups, the well-known controller names count. */
	ck_assert_int_eq(host_cgroups_detect_from(v1_mounts, NULL, &v1, NULL), 0);
	ck_assert_int_eq(v1.layout, CGROUP_LAYOUT_V1);
	ck_assert_ptr_null(v1.v2_mount);
	ck_assert_str_eq(v1.v1_controllers[0], "cpu");
	ck_assert_str_eq(v1.v1_controllers[1], "cpuacct");
	ck_assert_str_eq(v1.v1_controllers[2], "pids");
	ck_assert_ptr_null(v1.v2_controllers[0]);

	/* A named v1 hierarchy without controllers does not make a layout hybrid. */
	ck_assert_int_eq(mkdir(root, 0755), 0);
	free(fixture("root/cgroup.controllers", "cpuset cpu io memory pids\n"));
	ck_assert_int_eq(host_cgroups_detect_from(v2_mounts, "/nonexistent", &v2, NULL), 0);
	ck_assert_int_eq(v2.layout, CGROUP_LAYOUT_V2);
	ck_assert_int_eq(host_cgroups_controller_version(&v2, "memory"), CGROUP_VERSION_V2);
	ck_assert_int_eq(host_cgroups_controller_version(&v2, "io"), CGROUP_VERSION_V2);
	ck_assert_int_eq(host_cgroups_controller_version(&v2, "blkio"), CGROUP_VERSION_NONE);
}
END_TEST

START_TEST(test_cgroup_layout_none)
{
	struct host_cgroups cg = { 0 };
	struct error err = ERROR_INIT;
	autofree char *mounts = fixture("none", "proc /proc proc rw 0 0\n");

	ck_assert_int_eq(host_cgroups_detect_from(mounts, NULL, &cg, &err), -ENOENT);
	ck_assert_str_eq(error_message(&err), "No cgroup hierarchy is mounted");
	error_clear(&err);
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("host");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
	tcase_add_test(tc, test_kernel_matches_uname);
	tcase_add_test(tc, test_os_release);
	tcase_add_test(tc, test_kernel_features_are_strings);
	tcase_add_test(tc, test_cgroup_layout_matches_mounts);
	tcase_add_test(tc, test_cgroup_layout_hybrid);
	tcase_add_test(tc, test_cgroup_layout_v1_and_v2);
	tcase_add_test(tc, test_cgroup_layout_none);
	suite_add_tcase(s, tc);
	return s;
}
