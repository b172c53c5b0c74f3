#include "instance/cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "lib/fs.h"
#include "lib/log.h"
#include "lib/str.h"

#include "lib/banned.h"

const char *const cgroup_layout_names[] = {
	[CGROUP_LAYOUT_LEGACY] = "legacy",
	[CGROUP_LAYOUT_HYBRID] = "hybrid",
	[CGROUP_LAYOUT_UNIFIED] = "unified",
};

const char *const cgroup_controller_names[] = {
	[CGROUP_CPU] = "cpu",	      [CGROUP_CPUACCT] = "cpuacct", [CGROUP_CPUSET] = "cpuset",
	[CGROUP_MEMORY] = "memory",   [CGROUP_PIDS] = "pids",	    [CGROUP_DEVICES] = "devices",
	[CGROUP_FREEZER] = "freezer", [CGROUP_BLKIO] = "blkio",
};

#define CGROUP_ROOT "/sys/fs/cgroup"

/* Undoes the octal escapes (\040 for a space) of a /proc/self/mounts field, in place. */
static void mounts_unescape(char *s)
{
	char *out = s;

	for (char *in = s; *in; in++) {
		if (in[0] == '\\' && in[1] >= '0' && in[1] <= '3' && in[2] >= '0' && in[2] <= '7' &&
		    in[3] >= '0' && in[3] <= '7') {
			*out++ = (char)((in[1] - '0') * 64 + (in[2] - '0') * 8 + (in[3] - '0'));
			in += 3;
		} else {
			*out++ = *in;
		}
	}
	*out = '\0';
}

/* True when the comma-separated list contains word. */
static bool list_contains(const char *list, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = list; p && *p;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (len == n && strncmp(p, word, n) == 0)
			return true;
		p = end ? end + 1 : NULL;
	}
	return false;
}

/* The v1 controllers (and name=...) among a cgroup mount's options, comma-separated. */
static void v1_controllers_from_options(const char *options, char *buf, size_t size)
{
	struct strbuf sb = STRBUF_INIT;
	autofree char *copy = xstrdup(options);
	char *save = NULL;

	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		bool known = str_has_prefix(tok, "name=");

		for (int c = 0; !known && c < _CGROUP_CONTROLLER_MAX; c++)
			known = streq(tok, cgroup_controller_names[c]);
		/* Controllers we do not limit still name their hierarchy. */
		known = known || streq(tok, "hugetlb") || streq(tok, "net_cls") ||
			streq(tok, "net_prio") || streq(tok, "perf_event") || streq(tok, "rdma") ||
			streq(tok, "misc");
		if (!known)
			continue;
		if (sb.len)
			strbuf_addch(&sb, ',');
		strbuf_adds(&sb, tok);
	}
	(void)snprintf_ok(buf, size, "%s", strbuf_str(&sb));
	strbuf_release(&sb);
}

static void hierarchy_add(struct cgroup_info *info, const char *path, const char *controllers)
{
	struct cgroup_hierarchy *h;

	if (info->n_hierarchies >= CGROUP_MAX_HIERARCHIES)
		return;
	h = &info->hierarchies[info->n_hierarchies];
	if (!snprintf_ok(h->path, sizeof(h->path), "%s", path) ||
	    !snprintf_ok(h->controllers, sizeof(h->controllers), "%s", controllers))
		return;
	info->n_hierarchies++;
}

int cgroup_info_parse(const char *mounts, const char *v2_controllers, bool swap_accounting,
		      struct cgroup_info *ret, struct error *err)
{
	struct cgroup_info info = { 0 };
	autofree char *copy = xstrdup(mounts);
	bool have_v1 = false, have_v2 = false, v2_at_root = false;
	char *save = NULL;

	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *fields[4] = { NULL };
		char *fsave = NULL;
		int n = 0;

		for (char *f = strtok_r(line, " ", &fsave); f && n < 4;
		     f = strtok_r(NULL, " ", &fsave))
			fields[n++] = f;
		if (n < 4)
			continue;
		mounts_unescape(fields[1]);
		if (streq(fields[2], "cgroup2")) {
			have_v2 = true;
			if (streq(fields[1], CGROUP_ROOT))
				v2_at_root = true;
			hierarchy_add(&info, fields[1], "");
		} else if (streq(fields[2], "cgroup")) {
			char controllers[128];

			have_v1 = true;
			v1_controllers_from_options(fields[3], controllers, sizeof(controllers));
			hierarchy_add(&info, fields[1], controllers);
			for (int c = 0; c < _CGROUP_CONTROLLER_MAX; c++)
				if (list_contains(controllers, cgroup_controller_names[c]))
					info.controllers[c] = CGROUP_V1;
		}
	}

	if (v2_at_root) {
		info.layout = CGROUP_LAYOUT_UNIFIED;
		for (int c = 0; c < _CGROUP_CONTROLLER_MAX; c++)
			info.controllers[c] = CGROUP_UNAVAILABLE;
		for (int c = 0; c < _CGROUP_CONTROLLER_MAX; c++) {
			const char *v2_name = c == CGROUP_BLKIO ? "io" : cgroup_controller_names[c];

			if (v2_controllers && list_contains(v2_controllers, v2_name))
				info.controllers[c] = CGROUP_V2;
		}
		/* cgroup2 has no cpuacct (cpu.stat is always there), and devices and freeze
		 * are core features, not controllers. */
		info.controllers[CGROUP_CPUACCT] = CGROUP_V2;
		info.controllers[CGROUP_DEVICES] = CGROUP_V2;
		info.controllers[CGROUP_FREEZER] = CGROUP_V2;
	} else if (have_v1) {
		info.layout = have_v2 ? CGROUP_LAYOUT_HYBRID : CGROUP_LAYOUT_LEGACY;
	} else {
		return error_set(err, -ENOENT, "No cgroup filesystem is mounted");
	}

	info.swap_accounting =
		swap_accounting && info.controllers[CGROUP_MEMORY] != CGROUP_UNAVAILABLE;
	*ret = info;
	return 0;
}

/* v2_controllers is split on spaces in the kernel file; we use commas. */
static char *v2_controllers_read(void)
{
	autofree char *text = NULL;

	if (read_file(CGROUP_ROOT "/cgroup.controllers", 4096, &text, NULL, NULL) < 0)
		return NULL;
	for (char *p = text; *p; p++)
		if (*p == ' ' || *p == '\n')
			*p = ',';
	return take_ptr(text);
}

static int cgroup_info_read(struct cgroup_info *ret, struct error *err)
{
	autofree char *mounts = NULL;
	autofree char *v2 = NULL;
	struct cgroup_info info = { 0 };
	struct statfs st;
	bool unified, swap = false;
	int r;

	if (statfs(CGROUP_ROOT, &st) < 0)
		return error_errno(err, -errno, "Failed to inspect '%s'", CGROUP_ROOT);
	unified = st.f_type == CGROUP2_SUPER_MAGIC;

	r = read_file("/proc/self/mounts", 1 << 20, &mounts, NULL, err);
	if (r < 0)
		return r;
	if (unified)
		v2 = v2_controllers_read();

	r = cgroup_info_parse(mounts, v2, true, &info, err);
	if (r < 0)
		return r;
	/* statfs() has the last word: a mount table seen through another namespace may
	 * disagree with the filesystem really there. */
	if (unified != (info.layout == CGROUP_LAYOUT_UNIFIED))
		return error_set(err, -EIO,
				 "The cgroup layout of '%s' does not match the mount table",
				 CGROUP_ROOT);

	if (info.layout != CGROUP_LAYOUT_UNIFIED) {
		for (unsigned i = 0; i < info.n_hierarchies; i++) {
			struct statfs hst;

			if (!list_contains(info.hierarchies[i].controllers, "memory"))
				continue;
			if (statfs(info.hierarchies[i].path, &hst) == 0 &&
			    hst.f_type == CGROUP_SUPER_MAGIC) {
				autofree char *p = str_printf("%s/memory.memsw.limit_in_bytes",
							      info.hierarchies[i].path);

				swap = access(p, F_OK) == 0;
			}
		}
	} else {
		/* memory.swap.* exist on every non-root cgroup when the kernel has swap
		 * accounting, which every distribution kernel enables. */
		swap = true;
	}
	info.swap_accounting = swap && info.controllers[CGROUP_MEMORY] != CGROUP_UNAVAILABLE;
	*ret = info;
	return 0;
}

/* A process's cgroup in the hierarchy with these controllers ("" for cgroup2), from the
 * text of its /proc/<pid>/cgroup. */
static char *proc_cgroup_find(const char *cgroup_file, const char *controllers)
{
	autofree char *copy = xstrdup(cgroup_file);
	char *save = NULL;

	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *c1 = strchr(line, ':');
		char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;

		if (!c2)
			continue;
		*c2 = '\0';
		if (streq(c1 + 1, controllers))
			return xstrdup(c2 + 1);
	}
	return NULL;
}

/* "lxc.monitor.<name>" or "lxc.monitor.<name>-<digits>" (and lxc.payload.). */
static bool leftover_matches(const char *entry, const char *name)
{
	const char *rest = NULL;

	if (str_has_prefix(entry, "lxc.monitor."))
		rest = entry + strlen("lxc.monitor.");
	else if (str_has_prefix(entry, "lxc.payload."))
		rest = entry + strlen("lxc.payload.");
	if (!rest || !str_has_prefix(rest, name))
		return false;
	rest += strlen(name);
	if (*rest == '\0')
		return true;
	if (*rest != '-' || rest[1] == '\0')
		return false;
	for (rest++; *rest; rest++)
		if (*rest < '0' || *rest > '9')
			return false;
	return true;
}

static bool leftover_exact(const char *entry, const char *name)
{
	return str_has_prefix(entry, "lxc.payload.") && streq(entry + strlen("lxc.payload."), name);
}

/* rmdir() of a cgroup and its (empty) children, deepest first. */
static int cgroup_rmdir_tree(int parent_fd, const char *entry)
{
	int fd = openat(parent_fd, entry, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	DIR *dir;
	struct dirent *de;

	if (fd < 0)
		return -errno;
	dir = fdopendir(fd);
	if (!dir) {
		int r = -errno;

		(void)close(fd);
		return r;
	}
	while ((de = readdir(dir))) {
		if (de->d_type == DT_DIR && !streq(de->d_name, ".") && !streq(de->d_name, ".."))
			(void)cgroup_rmdir_tree(dirfd(dir), de->d_name);
	}
	closedir(dir);
	return unlinkat(parent_fd, entry, AT_REMOVEDIR) < 0 ? -errno : 0;
}

int cgroup_remove_leftovers(const struct cgroup_info *info, const char *name)
{
	autofree char *pid1 = NULL;
	int removed = 0;

	if (read_file("/proc/1/cgroup", 1 << 16, &pid1, NULL, NULL) < 0)
		return 0;

	for (unsigned i = 0; i < info->n_hierarchies; i++) {
		const struct cgroup_hierarchy *h = &info->hierarchies[i];
		autofree char *base = proc_cgroup_find(pid1, h->controllers);
		autofree char *dir_path = NULL;
		DIR *dir;
		struct dirent *de;

		/* On a hybrid host "0::" names the cgroup2 hierarchy too. */
		if (!base)
			continue;
		dir_path = str_printf("%s%s", h->path, base);
		dir = opendir(dir_path);
		if (!dir)
			continue;
		while ((de = readdir(dir))) {
			if (de->d_type != DT_DIR || !leftover_matches(de->d_name, name))
				continue;
			/* Only this container's own payload cgroup may hold (empty) children of
			 * its own; a suffixed name may belong to a running "<name>-<n>". */
			if (leftover_exact(de->d_name, name)
				    ? cgroup_rmdir_tree(dirfd(dir), de->d_name) == 0
				    : unlinkat(dirfd(dir), de->d_name, AT_REMOVEDIR) == 0) {
				log_debug("Removed leftover cgroup '%s/%s'", dir_path, de->d_name);
				removed++;
			}
		}
		closedir(dir);
	}
	return removed;
}

int cgroup_container_dir(const struct cgroup_info *info, const char *proc_cgroup,
			 enum cgroup_controller c, char **ret)
{
	const char *name = cgroup_controller_names[c];

	for (unsigned i = 0; i < info->n_hierarchies; i++) {
		const struct cgroup_hierarchy *h = &info->hierarchies[i];
		autofree char *path = NULL;
		char *payload;

		if (info->layout == CGROUP_LAYOUT_UNIFIED ? h->controllers[0] != '\0'
							  : !list_contains(h->controllers, name))
			continue;
		path = proc_cgroup_find(proc_cgroup, h->controllers);
		if (!path)
			return -ENOENT;
		payload = strstr(path, "/lxc.payload.");
		if (payload) {
			char *end = strchr(payload + 1, '/');

			if (end)
				*end = '\0';
		}
		*ret = str_printf("%s%s", h->path, streq(path, "/") ? "" : path);
		return 0;
	}
	return -ENOENT;
}

/* The host's layout does not change under a running daemon, and the mount table grows
 * with every container (overlay roots): read it once. */
int cgroup_info_detect(struct cgroup_info *ret, struct error *err)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static struct cgroup_info cached;
	static bool have;
	int r = 0;

	pthread_mutex_lock(&lock);
	if (!have) {
		r = cgroup_info_read(&cached, err);
		have = r == 0;
	}
	if (r == 0)
		*ret = cached;
	pthread_mutex_unlock(&lock);
	return r;
}
