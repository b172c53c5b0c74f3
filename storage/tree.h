/* storage/tree.h: copying, removing and measuring directory trees through descriptors.
 *
 * The trees are volumes: their contents come from images and containers. Nothing here
 * follows a symlink or resolves a path string inside them; each step is relative to an
 * open directory (openat with O_NOFOLLOW), so a symlink planted in a volume cannot make us
 * read or write outside it. Mount points inside a tree are never crossed.
 *
 * All of these block on disk I/O: worker threads only.
 */
#pragma once

#include <stdint.h>

#include "lib/error.h"

/* Copies the directory src_fd (its contents and its own owner, mode, extended attributes
 * and times) to a new directory dst_name in dst_dirfd, which must not exist. Keeps owners,
 * modes, times, extended attributes (trusted.* included: overlayfs keeps its whiteouts and
 * opaque directories there), hard links, symlinks, device nodes, fifos and sockets. Regular
 * files are reflinked when the filesystem can, else copied with copy_file_range(). On
 * failure the partial copy is removed. */
int tree_copy(int src_fd, int dst_dirfd, const char *dst_name, struct error *err);

/* Copies the contents of directory src_fd into the existing directory dst_fd, and gives
 * dst_fd src_fd's owner, mode, attributes and times. Names already in dst_fd fail with
 * -EEXIST. On failure what was copied stays: the caller removes dst_fd's volume. */
int tree_copy_contents(int src_fd, int dst_fd, struct error *err);

/* Copies the entry src_name of src_dirfd (a file, symlink, node or whole directory) to the
 * new dst_name in dst_dirfd, as tree_copy() does. */
int tree_copy_at(int src_dirfd, const char *src_name, int dst_dirfd, const char *dst_name,
		 struct error *err);

/* Removes dst_name in dirfd, a file or a whole tree. 0 when it does not exist. -EBUSY
 * when a mount point is found inside (nothing mounted is ever emptied). */
int tree_remove(int dirfd, const char *name, struct error *err);

/* Removes everything inside the directory dir_fd, keeping the directory. */
int tree_clear(int dir_fd, struct error *err);

/* The bytes allocated to the tree dir_fd (st_blocks, each hard-linked inode once). */
int tree_usage(int dir_fd, uint64_t *ret, struct error *err);
