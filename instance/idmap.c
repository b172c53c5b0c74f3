#include "instance/idmap.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/fs.h"
#include "lib/str.h"

#include "lib/banned.h"

/* uid_t is 32 bits and (uid_t)-1 means "no id". */
#define IDMAP_HOST_ID_END 4294967295ULL

int idmap_subid_find(const char *text, const char *user, uid_t uid, struct idmap_range *ret)
{
	autofree char *copy = xstrdup(text);
	char uid_str[16];
	char *save = NULL;

	if (!snprintf_ok(uid_str, sizeof(uid_str), "%u", (unsigned)uid))
		return -EINVAL;
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *c1 = strchr(line, ':');
		char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		uint64_t base, count;

		if (!c2)
			continue;
		*c1 = *c2 = '\0';
		if (!streq(line, user) && !streq(line, uid_str))
			continue;
		if (parse_u64(c1 + 1, &base) < 0 || parse_u64(c2 + 1, &count) < 0 || count == 0)
			continue;
		ret->base = base;
		ret->count = count;
		return 0;
	}
	return -ENOENT;
}

/* Where a new root range can start: IDMAP_DEFAULT_BASE, or after whatever overlaps it. */
static int subid_pick(const char *text, struct idmap_range *ret)
{
	uint64_t base = IDMAP_DEFAULT_BASE;
	bool moved = true;

	while (moved) {
		autofree char *copy = xstrdup(text);
		char *save = NULL;

		moved = false;
		for (char *line = strtok_r(copy, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save)) {
			char *c1 = strchr(line, ':');
			char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
			uint64_t b, c;

			if (!c2)
				continue;
			*c2 = '\0';
			if (parse_u64(c1 + 1, &b) < 0 || parse_u64(c2 + 1, &c) < 0)
				continue;
			if (b < base + IDMAP_DEFAULT_COUNT && base < b + c) {
				base = b + c;
				moved = true;
			}
		}
	}
	if (base + IDMAP_ISOLATED_SIZE > IDMAP_HOST_ID_END)
		return -ENOSPC;
	ret->base = base;
	ret->count = IDMAP_DEFAULT_COUNT;
	if (base + ret->count > IDMAP_HOST_ID_END)
		ret->count = IDMAP_HOST_ID_END - base;
	return 0;
}

int idmap_subid_ensure(const char *path, struct idmap_range *ret, struct error *err)
{
	autofree char *text = NULL;
	autofree char *line = NULL;
	struct idmap_range range;
	autoclose int fd = -1;
	int r;

	r = read_file(path, 1 << 20, &text, NULL, NULL);
	if (r == -ENOENT)
		text = xstrdup("");
	else if (r < 0)
		return error_errno(err, r, "Failed to read '%s'", path);

	if (idmap_subid_find(text, "root", 0, &range) == 0) {
		*ret = range;
		return 0;
	}

	r = subid_pick(text, &range);
	if (r < 0)
		return error_set(err, r, "No free range of ids is left in '%s' for root", path);

	/* Appending keeps other tools' lines and inode (useradd rewrites the whole file
	 * under its own lock; we only ever add a line). */
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return error_errno(err, -errno, "Failed to open '%s'", path);
	line = str_printf("%sroot:%llu:%llu\n", text[0] && !str_has_suffix(text, "\n") ? "\n" : "",
			  (unsigned long long)range.base, (unsigned long long)range.count);
	r = write_all_fd(fd, line, strlen(line));
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (r < 0)
		return error_errno(err, r, "Failed to write '%s'", path);
	*ret = range;
	return 0;
}

static int range_cmp(const void *a, const void *b)
{
	const struct idmap_range *x = a, *y = b;

	return x->base < y->base ? -1 : x->base > y->base;
}

int idmap_allocate(const struct idmap_range *host, const struct idmap_range *used, size_t n_used,
		   uint64_t size, uint64_t *ret_base, struct error *err)
{
	autofree struct idmap_range *sorted = xcalloc(n_used, sizeof(*sorted));
	uint64_t end = host->base + host->count;
	/* LXD keeps the first 65536 ids of the allocation for non-isolated containers. */
	uint64_t candidate = host->base + IDMAP_ISOLATED_SIZE;

	if (size == 0)
		return error_set(err, -EINVAL, "An id map cannot be empty");
	if (n_used)
		memcpy(sorted, used, n_used * sizeof(*sorted));
	qsort(sorted, n_used, sizeof(*sorted), range_cmp);

	for (size_t i = 0; i < n_used; i++) {
		if (candidate + size <= sorted[i].base)
			break;
		if (sorted[i].base + sorted[i].count > candidate)
			candidate = sorted[i].base + sorted[i].count;
	}
	if (candidate + size > end)
		return error_set(
			err, -ENOSPC,
			"Not enough user and group ids are left for an isolated container");
	*ret_base = candidate;
	return 0;
}

static int write_map(pid_t pid, const char *file, const struct idmap_range *range,
		     bool map_host_root, struct error *err)
{
	autofree char *path = str_printf("/proc/%d/%s", (int)pid, file);
	autofree char *text = NULL;
	autoclose int fd = open(path, O_WRONLY | O_CLOEXEC);
	int r;

	if (fd < 0)
		return error_errno(err, -errno, "Failed to open '%s'", path);
	if (map_host_root)
		text = str_printf("0 %llu %llu\n%llu 0 1\n", (unsigned long long)range->base,
				  (unsigned long long)range->count,
				  (unsigned long long)range->count);
	else
		text = str_printf("0 %llu %llu\n", (unsigned long long)range->base,
				  (unsigned long long)range->count);
	r = write_all_fd(fd, text, strlen(text));
	if (r < 0)
		return error_errno(err, r, "Failed to write '%s'", path);
	return 0;
}

int idmap_userns_open(const struct idmap *map, bool map_host_root, int *ret_fd, struct error *err)
{
	autofree char *ns_path = NULL;
	int fd = -1, r;
	pid_t pid;

	/* A raw clone, so the child is born in the new namespace and only has to wait to be
	 * killed; it runs nothing of ours, which keeps this safe in a threaded daemon. */
	pid = (pid_t)syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, NULL, NULL, NULL, NULL);
	if (pid < 0)
		return error_errno(err, -errno, "Failed to create a user namespace");
	if (pid == 0) {
		for (;;)
			pause();
	}

	r = write_map(pid, "uid_map", &map->uid, map_host_root, err);
	if (r == 0)
		r = write_map(pid, "gid_map", &map->gid, map_host_root, err);
	if (r == 0) {
		ns_path = str_printf("/proc/%d/ns/user", (int)pid);
		fd = open(ns_path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			r = error_errno(err, -errno, "Failed to open '%s'", ns_path);
	}
	(void)kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	if (r < 0)
		return r;
	*ret_fd = fd;
	return 0;
}

int idmap_mount_clone(const char *path, int userns_fd, int *ret_fd, struct error *err)
{
	struct mount_attr attr = {
		.attr_set = MOUNT_ATTR_IDMAP,
		.userns_fd = (__u64)userns_fd,
	};
	autoclose int fd = -1;

	fd = (int)syscall(SYS_open_tree, AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (fd < 0)
		return error_errno(err, -errno, "Failed to clone the mount at '%s'", path);
	if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0)
		return error_errno(err, -errno, "Failed to make an idmapped mount of '%s'", path);
	*ret_fd = take_fd(fd);
	return 0;
}
