/* lib/fs.h: files and directories. All descriptors are opened O_CLOEXEC. These functions
 * block on disk I/O: the daemon calls them from worker threads or at start-up only. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#include "error.h"

/* Creates path and its missing parents with mode (existing ones are left alone). */
int mkdir_p(const char *path, mode_t mode, struct error *err);

/* Reads a whole file of at most max bytes into a NUL-terminated heap buffer. -EFBIG when
 * it is larger. ret_len may be NULL. */
int read_file(const char *path, size_t max, char **ret, size_t *ret_len, struct error *err);

/* Writes data to path through a temporary file, fsync and rename: readers see the old or
 * the new content, never a mix. */
int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
		      struct error *err);

/* openat2(dirfd, path, flags, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS):
 * path may not leave dirfd, through "..", an absolute path or any symlink. Returns the fd or
 * a negative errno. */
int open_beneath(int dirfd, const char *path, int flags, mode_t mode);

/* Like open_beneath() but resolves as if dirfd were "/" (RESOLVE_IN_ROOT): absolute
 * symlinks inside a container root stay inside it. */
int open_in_root(int rootfd, const char *path, int flags, mode_t mode);

/* Writes all of buf, retrying short writes and EINTR. */
int write_all_fd(int fd, const void *buf, size_t len);

/* Marks every descriptor >= 3 close-on-exec (close_range CLOSE_RANGE_CLOEXEC). */
void fds_set_cloexec_from(int first);
