#include "daemon/host.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <linux/netlink.h>
#include <linux/seccomp.h>
#include <mntent.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "lib/fs.h"
#include "lib/json.h"
#include "lib/str.h"

/* Last: it poisons unsafe functions in the code below, not in the headers above. */
#include "lib/banned.h"

#define SMALL_FILE_MAX ((size_t)1024 * 1024)

/* --- Distribution --------------------------------------------------------------------- */

/* os-release values may be quoted as in a shell: "...", '...' or bare. */
static char *os_release_unquote(const char *value, size_t len)
{
	struct strbuf sb = STRBUF_INIT;
	char quote = 0;

	if (len > 0 && (value[0] == '"' || value[0] == '\'')) {
		quote = value[0];
		value++;
		len--;
	}
	for (size_t i = 0; i < len; i++) {
		if (quote && value[i] == quote)
			break;
		if (quote == '"' && value[i] == '\\' && i + 1 < len)
			i++;
		strbuf_addch(&sb, value[i]);
	}

	return strbuf_detach(&sb);
}

/* The value of key in an os-release(5) file, or NULL. */
static char *os_release_value(const char *data, const char *key)
{
	size_t keylen = strlen(key);

	for (const char *line = data; line && *line;) {
		const char *end = strchr(line, '\n');
		const char *next = end ? end + 1 : NULL;

		if (!end)
			end = line + strlen(line);
		if (strncmp(line, key, keylen) == 0 && line[keylen] == '=')
			return os_release_unquote(line + keylen + 1,
						  (size_t)(end - line - keylen - 1));
		line = next;
	}

	return NULL;
}

static char *os_release_read(void)
{
	char *data = NULL;

	if (read_file("/etc/os-release", SMALL_FILE_MAX, &data, NULL, NULL) == 0)
		return data;
	if (read_file("/usr/lib/os-release", SMALL_FILE_MAX, &data, NULL, NULL) == 0)
		return data;
	return NULL;
}

/* --- Architectures -------------------------------------------------------------------- */

/* LXD's architecture names (shared/osarch), the uname spellings that mean the same, and the
 * personalities each runs, in LXD's order. */
static const struct {
	const char *name;
	const char *aliases[6];
	const char *personalities[4];
} architectures[] = {
	{ "i686", { "i386", "i586", "386", "x86", "generic_32", NULL }, { NULL } },
	{ "x86_64", { "amd64", "generic_64", NULL }, { "i686", NULL } },
	{ "armv6l", { "armel", "arm", NULL }, { NULL } },
	{ "armv7l",
	  { "armhf", "armhfp", "armv7a_hardfp", "armv7", "armv7a_vfpv3_hardfp", NULL },
	  { "armv6l", NULL } },
	{ "armv8l", { NULL }, { "armv6l", "armv7l", NULL } },
	{ "aarch64", { "arm64", "arm64_generic", NULL }, { "armv6l", "armv7l", "armv8l", NULL } },
	{ "ppc", { "powerpc", NULL }, { NULL } },
	{ "ppc64", { "powerpc64", NULL }, { "ppc", NULL } },
	{ "ppc64le", { "ppc64el", NULL }, { NULL } },
	{ "s390x", { NULL }, { NULL } },
	{ "mips", { "mipsel", NULL }, { NULL } },
	{ "mips64", { "mips64el", NULL }, { "mips", NULL } },
	{ "riscv32", { NULL }, { NULL } },
	{ "riscv64", { NULL }, { NULL } },
};

static json_t *architectures_json(const char *machine)
{
	json_t *list = json_array();

	for (size_t i = 0; i < ARRAY_SIZE(architectures); i++) {
		bool match = streq(architectures[i].name, machine);

		for (const char *const *a = architectures[i].aliases; !match && *a; a++)
			match = streq(*a, machine);
		if (!match)
			continue;

		(void)json_array_append_new(list, json_string(architectures[i].name));
		for (const char *const *p = architectures[i].personalities; *p; p++)
			(void)json_array_append_new(list, json_string(*p));
		return list;
	}

	/* An architecture LXD does not know: report it as the kernel names it. */
	(void)json_array_append_new(list, json_string(machine));
	return list;
}

/* --- Kernel features ------------------------------------------------------------------ */

static bool kernel_at_least(const char *release, unsigned long major, unsigned long minor)
{
	unsigned long ma, mi = 0;
	char *end;

	ma = strtoul(release, &end, 10);
	if (end == release)
		return false;
	if (*end == '.')
		mi = strtoul(end + 1, NULL, 10);

	return ma > major || (ma == major && mi >= minor);
}

/* LXD's probe: clone the root mount, then ask for an idmapped mount with a userns_fd that is
 * no namespace. A kernel with idmapped mounts refuses the O_PATH descriptor with EBADF.
 * Cloning needs CAP_SYS_ADMIN; without it, the system call's presence on a 5.12 kernel
 * (where idmapped mounts appeared) has to do. */
static bool idmapped_mounts_supported(const char *release)
{
	struct mount_attr attr = { .attr_set = MOUNT_ATTR_IDMAP };
	autoclose int tree = -1;
	autoclose int devnull = -1;
	long r;

	tree = (int)syscall(SYS_open_tree, -EBADF, "/", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (tree >= 0) {
		devnull = open("/dev/null", O_PATH | O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
		if (devnull < 0)
			return false;
		attr.userns_fd = (uint64_t)devnull;
		r = syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH, &attr, sizeof(attr));
		return r < 0 && errno == EBADF;
	}

	/* Unprivileged, the call fails with EPERM before looking at its arguments; a kernel
	 * without it says ENOSYS. */
	if (!kernel_at_least(release, 5, 12))
		return false;
	r = syscall(SYS_mount_setattr, -1, "", AT_EMPTY_PATH, &attr, sizeof(attr));
	return r < 0 && errno != ENOSYS;
}

/* Whether seccomp can hand system calls to a user space listener (SECCOMP_RET_USER_NOTIF). */
static bool seccomp_listener_supported(void)
{
	uint32_t action = SECCOMP_RET_USER_NOTIF;

	return syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action) == 0;
}

/* LXD's probe ends with NETLINK_GET_STRICT_CHK (Linux 4.20), the last piece that
 * netns_getifaddrs() needs; the steps before it (a new network namespace and an nsid for it)
 * need CAP_SYS_ADMIN and work on every kernel that has that option. */
static bool netnsid_getifaddrs_supported(void)
{
	autoclose int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	int one = 1;

	return fd >= 0 &&
	       setsockopt(fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &one, sizeof(one)) == 0;
}

static bool filesystem_supported(const char *name)
{
	autofree char *data = NULL;
	autofree char *needle = str_printf("\t%s\n", name);

	if (read_file("/proc/filesystems", SMALL_FILE_MAX, &data, NULL, NULL) < 0)
		return false;
	return strstr(data, needle) != NULL;
}

static void feature_put(json_t *features, const char *name, bool value)
{
	(void)json_object_set_new(features, name, json_string(value ? "true" : "false"));
}

static json_t *kernel_features_json(const char *release)
{
	bool listener = seccomp_listener_supported();
	json_t *features = json_object();

	feature_put(features, "idmapped_mounts", idmapped_mounts_supported(release));
	feature_put(features, "netnsid_getifaddrs", netnsid_getifaddrs_supported());
	feature_put(features, "seccomp_listener", listener);
	/* SECCOMP_USER_NOTIF_FLAG_CONTINUE came with Linux 5.5; LXD tests it by running a
	 * filtered child, which is no cheap question to ask. */
	feature_put(features, "seccomp_listener_continue",
		    listener && kernel_at_least(release, 5, 5));
	/* We do not load the module, as LXD would try to. */
	feature_put(features, "shiftfs", filesystem_supported("shiftfs"));
	/* Injecting uevents into a network namespace (Linux 4.18). LXD's probe sends a
	 * placeholder uevent on the host, which listeners would see. */
	feature_put(features, "uevent_injection", kernel_at_least(release, 4, 18));
	/* Namespaced file capabilities, VFS_CAP_REVISION_3 (Linux 4.14). */
	feature_put(features, "unpriv_fscaps", kernel_at_least(release, 4, 14));

	return features;
}

/* --- Firewall ------------------------------------------------------------------------- */

static bool program_exists(const char *name)
{
	const char *path = getenv("PATH");
	autofree char *dirs = str_printf("%s:/usr/sbin:/sbin:/usr/bin:/bin", path ? path : "");
	char *save = NULL;

	for (char *dir = strtok_r(dirs, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		autofree char *candidate = str_printf("%s/%s", dir, name);

		if (*dir == '/' && access(candidate, X_OK) == 0)
			return true;
	}

	return false;
}

/* --- Environment ---------------------------------------------------------------------- */

int host_environment_get(json_t **ret, struct error *err)
{
	autofree char *os_release = os_release_read();
	autofree char *os_name = NULL;
	autofree char *os_version = NULL;
	struct utsname uts;
	json_t *env;

	if (uname(&uts) < 0)
		return error_errno(err, -errno, "Failed to get the kernel's name");

	if (os_release) {
		os_name = os_release_value(os_release, "NAME");
		os_version = os_release_value(os_release, "VERSION_ID");
	}

	env = json_object();
	(void)json_object_set_new(env, "architectures", architectures_json(uts.machine));
	(void)json_object_set_new(env, "firewall",
				  json_string(program_exists("nft") ? "nftables" : "xtables"));
	(void)json_object_set_new(env, "kernel", json_string(uts.sysname));
	(void)json_object_set_new(env, "kernel_architecture", json_string(uts.machine));
	(void)json_object_set_new(env, "kernel_features", kernel_features_json(uts.release));
	(void)json_object_set_new(env, "kernel_version", json_string(uts.release));
	(void)json_object_set_new(env, "os_name", json_string(os_name ? os_name : ""));
	(void)json_object_set_new(env, "os_version", json_string(os_version ? os_version : ""));
	*ret = env;
	return 0;
}

/* --- Cgroups -------------------------------------------------------------------------- */

const char *const host_cgroup_layout_names[] = {
	[CGROUP_LAYOUT_V1] = "legacy",
	[CGROUP_LAYOUT_V2] = "unified",
	[CGROUP_LAYOUT_HYBRID] = "hybrid",
};

/* Used when /proc/cgroups cannot be read, to tell controllers from mount options. */
static const char *const known_controllers[] = {
	"blkio",  "cpu",  "cpuacct", "cpuset",	 "debug",      "devices", "freezer", "hugetlb",
	"memory", "misc", "net_cls", "net_prio", "perf_event", "pids",	  "rdma",    NULL,
};

struct strv {
	char **v;
	size_t n;
};

static bool strv_contains(const struct strv *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (streq(s->v[i], name))
			return true;
	return false;
}

static void strv_add(struct strv *s, const char *name)
{
	if (strv_contains(s, name))
		return;
	s->v = xrealloc(s->v, (s->n + 2) * sizeof(*s->v));
	s->v[s->n++] = xstrdup(name);
	s->v[s->n] = NULL;
}

static void strv_release(struct strv *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

static int name_compare(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A sorted, NULL-terminated vector; never NULL. */
static char **strv_finish(struct strv *s)
{
	char **v;

	if (!s->v)
		return xcalloc(1, sizeof(char *));
	qsort(s->v, s->n, sizeof(*s->v), name_compare);
	v = s->v;
	s->v = NULL;
	s->n = 0;
	return v;
}

/* The enabled controllers /proc/cgroups lists, whether or not a hierarchy uses them. */
static int proc_cgroups_read(const char *path, struct strv *ret)
{
	autofree char *data = NULL;
	int r;

	r = read_file(path, SMALL_FILE_MAX, &data, NULL, NULL);
	if (r < 0)
		return r;

	/* "#subsys_name hierarchy num_cgroups enabled", then one line per controller. */
	for (char *line = data; line && *line;) {
		char *end = strchr(line, '\n');
		char *fields[4] = { NULL };
		char *save = NULL;
		size_t n = 0;

		if (end)
			*end = '\0';
		for (char *f = strtok_r(line, " \t", &save); f && n < ARRAY_SIZE(fields);
		     f = strtok_r(NULL, " \t", &save))
			fields[n++] = f;
		if (n == 4 && fields[0][0] != '#' && streq(fields[3], "1"))
			strv_add(ret, fields[0]);
		line = end ? end + 1 : NULL;
	}

	return 0;
}

static bool is_controller(const struct strv *enabled, const char *option)
{
	if (enabled->n > 0)
		return strv_contains(enabled, option);
	for (const char *const *c = known_controllers; *c; c++)
		if (streq(*c, option))
			return true;
	return false;
}

/* The controllers listed in <mount>/cgroup.controllers, separated by spaces. */
static void v2_controllers_read(const char *mount, struct strv *ret)
{
	autofree char *path = str_printf("%s/cgroup.controllers", mount);
	autofree char *data = NULL;
	char *save = NULL;

	if (read_file(path, SMALL_FILE_MAX, &data, NULL, NULL) < 0)
		return;

	for (char *c = strtok_r(data, " \t\n", &save); c; c = strtok_r(NULL, " \t\n", &save))
		strv_add(ret, c);
}

int host_cgroups_detect_from(const char *mounts, const char *proc_cgroups, struct host_cgroups *ret,
			     struct error *err)
{
	autoclean(strv_release) struct strv enabled = { 0 };
	autoclean(strv_release) struct strv v1 = { 0 };
	autoclean(strv_release) struct strv v2 = { 0 };
	autofree char *v2_mount = NULL;
	struct mntent entry;
	char buf[4096];
	FILE *f;

	if (proc_cgroups)
		(void)proc_cgroups_read(proc_cgroups, &enabled);

	f = setmntent(mounts, "re");
	if (!f)
		return error_errno(err, -errno, "Failed to open '%s'", mounts);

	while (getmntent_r(f, &entry, buf, sizeof(buf))) {
		if (streq(entry.mnt_type, "cgroup2")) {
			/* Several cgroup2 mounts show the same hierarchy; prefer the usual
			 * places. */
			if (!v2_mount || streq(entry.mnt_dir, "/sys/fs/cgroup") ||
			    streq(entry.mnt_dir, "/sys/fs/cgroup/unified")) {
				free(v2_mount);
				v2_mount = xstrdup(entry.mnt_dir);
			}
		} else if (streq(entry.mnt_type, "cgroup")) {
			autofree char *options = xstrdup(entry.mnt_opts);
			char *save = NULL;

			/* Controllers appear among the mount options: "rw,nosuid,cpu,cpuacct". */
			for (char *o = strtok_r(options, ",", &save); o;
			     o = strtok_r(NULL, ",", &save))
				if (is_controller(&enabled, o))
					strv_add(&v1, o);
		}
	}
	(void)endmntent(f);

	if (v1.n == 0 && !v2_mount)
		return error_set(err, -ENOENT, "No cgroup hierarchy is mounted");

	if (v2_mount)
		v2_controllers_read(v2_mount, &v2);

	ret->layout = v1.n == 0	 ? CGROUP_LAYOUT_V2
		      : v2_mount ? CGROUP_LAYOUT_HYBRID
				 : CGROUP_LAYOUT_V1;
	ret->v2_mount = take_ptr(v2_mount);
	ret->v1_controllers = strv_finish(&v1);
	ret->v2_controllers = strv_finish(&v2);
	return 0;
}

int host_cgroups_detect(struct host_cgroups *ret, struct error *err)
{
	return host_cgroups_detect_from("/proc/self/mounts", "/proc/cgroups", ret, err);
}

static void strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

void host_cgroups_release(struct host_cgroups *cg)
{
	if (!cg)
		return;
	free(cg->v2_mount);
	strv_free(cg->v1_controllers);
	strv_free(cg->v2_controllers);
	cg->v2_mount = NULL;
	cg->v1_controllers = NULL;
	cg->v2_controllers = NULL;
}

static bool strv_has(char *const *v, const char *name)
{
	for (; v && *v; v++)
		if (streq(*v, name))
			return true;
	return false;
}

enum host_cgroup_version host_cgroups_controller_version(const struct host_cgroups *cg,
							 const char *controller)
{
	if (strv_has(cg->v1_controllers, controller))
		return CGROUP_VERSION_V1;
	if (strv_has(cg->v2_controllers, controller))
		return CGROUP_VERSION_V2;
	return CGROUP_VERSION_NONE;
}

int host_cgroup_layout_detect(enum host_cgroup_layout *ret, struct error *err)
{
	autoclean(host_cgroups_release) struct host_cgroups cg = { 0 };
	int r;

	r = host_cgroups_detect(&cg, err);
	if (r < 0)
		return r;

	*ret = cg.layout;
	return 0;
}
