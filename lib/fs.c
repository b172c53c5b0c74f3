#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "str.h"

#include "banned.h"

int mkdir_p(const char *path, mode_t mode, struct error *err)
{
	autofree char *copy = xstrdup(path);

	for (char *p = copy + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(copy, mode) < 0 && errno != EEXIST)
			return error_errno(err, -errno, "Failed to create directory '%s'", copy);
		*p = '/';
	}
	if (mkdir(copy, mode) < 0 && errno != EEXIST)
		return error_errno(err, -errno, "Failed to create directory '%s'", copy);
	return 0;
}

int read_file(const char *path, size_t max, char **ret, size_t *ret_len, struct error *err)
{
	autoclose int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	struct strbuf sb = STRBUF_INIT;
	char buf[8192];

	if (fd < 0)
		return error_errno(err, -errno, "Failed to open '%s'", path);
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			strbuf_release(&sb);
			return error_errno(err, -errno, "Failed to read '%s'", path);
		}
		if (n == 0)
			break;
		if (sb.len + (size_t)n > max) {
			strbuf_release(&sb);
			return error_set(err, -EFBIG, "File '%s' is larger than %zu bytes", path,
					 max);
		}
		strbuf_add(&sb, buf, (size_t)n);
	}
	if (ret_len)
		*ret_len = sb.len;
	*ret = strbuf_detach(&sb);
	return 0;
}

int write_all_fd(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
		      struct error *err)
{
	autofree char *tmp = str_printf("%s.tmp.XXXXXX", path);
	autoclose int fd = mkostemp(tmp, O_CLOEXEC);
	int r;

	if (fd < 0)
		return error_errno(err, -errno, "Failed to create a temporary file for '%s'", path);
	r = write_all_fd(fd, data, len);
	if (r == 0 && fchmod(fd, mode) < 0)
		r = -errno;
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0) {
		(void)unlink(tmp);
		return error_errno(err, r, "Failed to write '%s'", path);
	}
	return 0;
}

static int openat2_with(int dirfd, const char *path, int flags, mode_t mode, __u64 resolve)
{
	struct open_how how = {
		.flags = (__u64)(flags | O_CLOEXEC),
		.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
		.resolve = resolve,
	};
	long fd;

	do
		fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
	while (fd < 0 && errno == EAGAIN);
	return fd < 0 ? -errno : (int)fd;
}

int open_beneath(int dirfd, const char *path, int flags, mode_t mode)
{
	return openat2_with(dirfd, path, flags, mode,
			    RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
}

int open_in_root(int rootfd, const char *path, int flags, mode_t mode)
{
	return openat2_with(rootfd, path, flags, mode, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
}

void fds_set_cloexec_from(int first)
{
	(void)syscall(SYS_close_range, (unsigned int)first, ~0U, CLOSE_RANGE_CLOEXEC);
}
