/* instance/idmap.h: user and group id maps for unprivileged containers.
 *
 * An unprivileged container sees ids [0, count) that are host ids [base, base + count).
 * The host's allocation for root comes from /etc/subuid and /etc/subgid (LXD's default,
 * "root:1000000:1000000000", is added when root has none). Containers share that whole
 * allocation by default; security.idmap.isolated gives a container a range of its own
 * (security.idmap.size, 65536 by default) carved from it the way LXD does, and the base
 * chosen is kept in volatile.idmap.base so the container keeps its ids.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/error.h"

#define IDMAP_DEFAULT_BASE  1000000ULL
#define IDMAP_DEFAULT_COUNT 1000000000ULL
#define IDMAP_ISOLATED_SIZE 65536ULL
#define IDMAP_SUBUID_PATH   "/etc/subuid"
#define IDMAP_SUBGID_PATH   "/etc/subgid"

/* Host ids [base, base + count). */
struct idmap_range {
	uint64_t base, count;
};

/* What a container gets: ids [0, count) inside are [base, base + count) outside. */
struct idmap {
	struct idmap_range uid, gid;
};

/* The first range of user in the text of a subuid/subgid file (lines "name:base:count";
 * user matches by name or by decimal uid). -ENOENT when there is none. Pure. */
int idmap_subid_find(const char *text, const char *user, uid_t uid, struct idmap_range *ret);

/* Root's range in the subuid/subgid file at path. When root has none, appends one of
 * IDMAP_DEFAULT_COUNT ids at IDMAP_DEFAULT_BASE, or after the ranges already given to
 * others if they overlap it, creating the file (0644) if needed; a second call finds the
 * line the first wrote. The caller serializes concurrent calls. Blocks on disk I/O. */
int idmap_subid_ensure(const char *path, struct idmap_range *ret, struct error *err);

/* A free range of size ids inside host for an isolated container, as LXD's findIdmap():
 * the first gap after host->base + 65536 between the used ranges (any order). -ENOSPC
 * when none is left. Pure. */
int idmap_allocate(const struct idmap_range *host, const struct idmap_range *used, size_t n_used,
		   uint64_t size, uint64_t *ret_base, struct error *err);

/* Opens a user namespace with map (uid and gid), for MOUNT_ATTR_IDMAP. With map_host_root
 * the namespace also maps its id <count> to host id 0, so that a process running as host
 * root (overlayfs' mounter, which creates its work directory with its own ids) has an id
 * on the mount (see idmap_mount_clone()). Creates and kills a short-lived child process.
 * *ret_fd is O_CLOEXEC. Needs CAP_SETUID/CAP_SETGID. */
int idmap_userns_open(const struct idmap *map, bool map_host_root, int *ret_fd, struct error *err);

/* A detached copy of the mount at path (open_tree(OPEN_TREE_CLONE)) made idmapped with
 * userns_fd: files owned by id k on disk appear as host id map(k) through it. Filesystems
 * that cannot be idmapped (overlayfs) give -EINVAL. *ret_fd is O_CLOEXEC. */
int idmap_mount_clone(const char *path, int userns_fd, int *ret_fd, struct error *err);
