/* storage/mount.h: the mounts volumes need: overlays over image volumes and idmapped views
 * of a volume for unprivileged containers, built with the new mount API from descriptors.
 *
 * Idmapped overlays. The kernel (6.18 here) refuses to idmap an overlay mount itself
 * (mount_setattr(MOUNT_ATTR_IDMAP) gives EINVAL), so liblxc's lxc.rootfs.options=idmap=
 * cannot shift an overlay root. Instead the overlay is built over idmapped layers: the
 * lower (image) and the upper (the instance's changes) are idmapped clones, so the overlay
 * shows every file shifted while both layers keep 0-based ids on disk, exactly like a
 * non-shifted volume. overlayfs works on its upper layer with the credentials of whoever
 * created it, and host root has no mapping in an idmapped upper (EOVERFLOW, the overlay
 * then falls back to read-only): a short-lived helper process that holds the container's
 * root ids, and keeps its capabilities, creates the overlay.
 *
 * All of these block briefly (a fork, a few syscalls): worker threads only.
 */
#pragma once

#include <stdbool.h>

#include "lib/error.h"
#include "storage/storage.h"

/* A user namespace descriptor whose uid/gid maps are idmap, for MOUNT_ATTR_IDMAP. */
int userns_fd_new(const struct storage_idmap *idmap, int *ret_fd, struct error *err);

/* Mounts an overlay on target_fd (a directory): lower_fd read-only below, upper_name and
 * work_name (directories in vol_fd, on one filesystem) above. With idmap the layers are
 * idmapped clones and the overlay is created by a helper holding the mapped root ids (see
 * above); without, it is a plain overlay. what names the volume in messages. */
int mount_overlay(int lower_fd, int vol_fd, const char *upper_name, const char *work_name,
		  int target_fd, const struct storage_idmap *idmap, const char *what,
		  struct error *err);

/* Mounts a read-only overlay of the lower layers lower_fds[0] (top) .. lower_fds[n - 1]
 * (bottom) on target_fd, without idmap: to read a snapshot of an overlay volume. */
int mount_overlay_ro(const int *lower_fds, unsigned n, int target_fd, const char *what,
		     struct error *err);

/* Mounts an idmapped clone of the directory src_fd on target_fd (which may be the same
 * directory: the view then covers the original). */
int mount_idmapped_bind(int src_fd, int target_fd, const struct storage_idmap *idmap,
			const char *what, struct error *err);

/* A detached clone (open_tree) of the mount at dir_fd (a directory or a file opened
 * O_PATH), with its submounts when recursive, idmapped through userns_fd unless it is -1,
 * read-only when asked: ready for move_mount() anywhere, another mount namespace too. */
int mount_tree_clone(int dir_fd, int userns_fd, bool readonly, bool recursive, const char *what,
		     int *ret_fd, struct error *err);

/* True when name in dir_fd is the root of a mount. */
bool mount_is_root(int dir_fd, const char *name);

/* Unmounts path (no symlink followed); 0 when it is not mounted. Falls back to a lazy
 * unmount when busy: the filesystem then goes once its last user does. */
int mount_unmount(const char *path, struct error *err);
