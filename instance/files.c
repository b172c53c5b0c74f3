/* instance/files.c: file access inside an instance's root filesystem.
 *
 * Every path comes from a client and is resolved with openat2(RESOLVE_IN_ROOT) against a
 * descriptor of the root: "..", absolute paths and symlinks (absolute or relative) all
 * stay inside it. The last component is never followed (O_NOFOLLOW): a symlink is
 * reported or replaced as itself. Owners and modes change through the open descriptor.
 * These functions block on disk I/O.
 */
#include "instance/files.h"

#include <dirent.h>
#include <linux/capability.h>
#include <sys/fsuid.h>
#include <sys/syscall.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/fs.h"
#include "lib/str.h"

#include "lib/banned.h"

/* Raises every permitted capability into the effective set of this thread: a change of
 * fsuid away from 0 drops the file capabilities (CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FOWNER,
 * ...), which we still need to set owners and write anywhere in the instance. */
static int caps_raise(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data) < 0)
		return -errno;
	data[0].effective = data[0].permitted;
	data[1].effective = data[1].permitted;
	if (syscall(SYS_capset, &hdr, data) < 0)
		return -errno;
	return 0;
}

int instance_files_become(uint32_t shift, struct instance_files_creds *saved,
			  struct error *err)
{
	int r;

	saved->shift = shift;
	if (shift == 0)
		return 0;
	/* The raw syscalls act on this thread only (glibc's setfsuid does too). */
	(void)syscall(SYS_setfsgid, (gid_t)shift);
	(void)syscall(SYS_setfsuid, (uid_t)shift);
	r = caps_raise();
	if (r < 0) {
		instance_files_restore(saved);
		return error_errno(err, r, "Failed to keep file capabilities");
	}
	return 0;
}

void instance_files_restore(const struct instance_files_creds *saved)
{
	if (saved->shift == 0)
		return;
	(void)syscall(SYS_setfsuid, (uid_t)0);
	(void)syscall(SYS_setfsgid, (gid_t)0);
	(void)caps_raise();
}

const char *const instance_file_type_names[] = {
	[INSTANCE_FILE_REGULAR] = "file",
	[INSTANCE_FILE_DIRECTORY] = "directory",
	[INSTANCE_FILE_SYMLINK] = "symlink",
};

int instance_file_type_parse(const char *s, enum instance_file_type *ret)
{
	if (str_is_empty(s) || streq(s, "file"))
		*ret = INSTANCE_FILE_REGULAR;
	else if (streq(s, "directory"))
		*ret = INSTANCE_FILE_DIRECTORY;
	else if (streq(s, "symlink"))
		*ret = INSTANCE_FILE_SYMLINK;
	else
		return -EINVAL;
	return 0;
}

/* Checks a client path: not empty, no NUL (guaranteed by C strings), bounded. */
static int path_check(const char *path, struct error *err)
{
	if (str_is_empty(path))
		return error_set(err, -EINVAL, "Missing file path");
	if (strlen(path) >= PATH_MAX)
		return error_set(err, -ENAMETOOLONG, "File path is too long");
	return 0;
}

/* Splits path into its parent (opened inside root) and last component. */
static int open_parent(int rootfd, const char *path, int *ret_fd, char **ret_base,
		       struct error *err)
{
	autofree char *copy = xstrdup(path);
	char *slash, *base;
	int fd;
	size_t len = strlen(copy);

	while (len > 1 && copy[len - 1] == '/')
		copy[--len] = '\0';
	slash = strrchr(copy, '/');
	if (slash) {
		*slash = '\0';
		base = slash + 1;
	} else {
		base = copy;
	}
	if (!*base || streq(base, ".") || streq(base, ".."))
		return error_set(err, -EINVAL, "Invalid file path '%s'", path);
	fd = open_in_root(rootfd, slash ? (*copy ? copy : "/") : ".", O_PATH | O_DIRECTORY, 0);
	if (fd < 0)
		return error_errno(err, fd, "Failed to open the parent of '%s'", path);
	*ret_fd = fd;
	*ret_base = xstrdup(base);
	return 0;
}

static void info_from_stat(const struct stat *st, uint32_t shift, struct instance_file_info *info)
{
	info->uid = st->st_uid >= shift ? st->st_uid - shift : st->st_uid;
	info->gid = st->st_gid >= shift ? st->st_gid - shift : st->st_gid;
	info->mode = st->st_mode & 07777;
	info->mtime = st->st_mtime;
	info->size = (uint64_t)st->st_size;
	if (S_ISDIR(st->st_mode))
		info->type = INSTANCE_FILE_DIRECTORY;
	else if (S_ISLNK(st->st_mode))
		info->type = INSTANCE_FILE_SYMLINK;
	else
		info->type = INSTANCE_FILE_REGULAR;
}

int instance_file_get(int rootfd, uint32_t shift, const char *path,
		      struct instance_file_info *info, int *ret_fd, char **ret_target,
		      json_t **ret_entries, struct error *err)
{
	autoclose int fd = -1;
	struct stat st;
	int r;

	r = path_check(path, err);
	if (r < 0)
		return r;
	fd = open_in_root(rootfd, path, O_PATH | O_NOFOLLOW, 0);
	if (fd < 0)
		return error_errno(err, fd, "Failed to open '%s'", path);
	if (fstatat(fd, "", &st, AT_EMPTY_PATH) < 0)
		return error_errno(err, -errno, "Failed to stat '%s'", path);
	info_from_stat(&st, shift, info);

	if (S_ISLNK(st.st_mode)) {
		char target[PATH_MAX];
		ssize_t n = readlinkat(fd, "", target, sizeof(target) - 1);

		if (n < 0)
			return error_errno(err, -errno, "Failed to read the link '%s'", path);
		target[n] = '\0';
		*ret_target = xstrdup(target);
		return 0;
	}
	if (S_ISDIR(st.st_mode)) {
		int dfd = open_in_root(rootfd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
		json_t *names = json_array();
		struct dirent *de;
		DIR *dir;

		if (dfd < 0) {
			json_decref(names);
			return error_errno(err, dfd, "Failed to open the directory '%s'", path);
		}
		dir = fdopendir(dfd);
		if (!dir) {
			json_decref(names);
			(void)close(dfd);
			return error_errno(err, -errno, "Failed to list '%s'", path);
		}
		while ((de = readdir(dir)))
			if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
				json_array_append_new(names, json_string(de->d_name));
		closedir(dir);
		*ret_entries = names;
		return 0;
	}
	if (!S_ISREG(st.st_mode))
		return error_set(err, -EINVAL, "'%s' is not a regular file, directory or symlink",
				 path);
	r = open_in_root(rootfd, path, O_RDONLY | O_NOFOLLOW | O_NOCTTY, 0);
	if (r < 0)
		return error_errno(err, r, "Failed to open '%s'", path);
	*ret_fd = r;
	return 0;
}

static int copy_fd(int from, int to)
{
	char buf[65536];

	for (;;) {
		ssize_t n = read(from, buf, sizeof(buf));
		int r;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		r = write_all_fd(to, buf, (size_t)n);
		if (r < 0)
			return r;
	}
}

int instance_file_put(int rootfd, uint32_t shift, const char *path,
		      const struct instance_file_put *put, struct error *err)
{
	autoclose int parent = -1, fd = -1;
	autofree char *base = NULL;
	struct stat st;
	bool exists;
	int r;

	r = path_check(path, err);
	if (r < 0)
		return r;
	r = open_parent(rootfd, path, &parent, &base, err);
	if (r < 0)
		return r;
	exists = fstatat(parent, base, &st, AT_SYMLINK_NOFOLLOW) == 0;

	switch (put->type) {
	case INSTANCE_FILE_SYMLINK:
		if (str_is_empty(put->target))
			return error_set(err, -EINVAL, "A symlink needs a target");
		if (exists && S_ISDIR(st.st_mode))
			return error_set(err, -EEXIST, "'%s' exists and is a directory", path);
		if (exists && unlinkat(parent, base, 0) < 0)
			return error_errno(err, -errno, "Failed to replace '%s'", path);
		if (symlinkat(put->target, parent, base) < 0)
			return error_errno(err, -errno, "Failed to create the symlink '%s'", path);
		if (fchownat(parent, base, (uid_t)(put->uid >= 0 ? put->uid : 0) + shift,
			     (gid_t)(put->gid >= 0 ? put->gid : 0) + shift, AT_SYMLINK_NOFOLLOW) < 0)
			return error_errno(err, -errno, "Failed to set the owner of '%s'", path);
		return 0;

	case INSTANCE_FILE_DIRECTORY:
		if (exists && !S_ISDIR(st.st_mode))
			return error_set(err, -EEXIST, "'%s' exists and is not a directory", path);
		if (!exists && mkdirat(parent, base, 0700) < 0)
			return error_errno(err, -errno, "Failed to create the directory '%s'",
					   path);
		fd = openat(parent, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return error_errno(err, -errno, "Failed to open the directory '%s'", path);
		break;

	case INSTANCE_FILE_REGULAR:
		if (exists && !S_ISREG(st.st_mode))
			return error_set(err, -EEXIST, "'%s' exists and is not a regular file",
					 path);
		fd = openat(parent, base,
			    O_WRONLY | O_CREAT | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC |
				    (put->append ? O_APPEND : O_TRUNC),
			    0600);
		if (fd < 0)
			return error_errno(err, -errno, "Failed to open '%s' for writing", path);
		if (put->content_fd >= 0) {
			r = copy_fd(put->content_fd, fd);
			if (r < 0)
				return error_errno(err, r, "Failed to write '%s'", path);
		}
		break;
	}

	/* Owner and mode: as given, else kept for an existing file, else 0:0 and 0644/0755
	 * (owners in the instance's ids, shifted into the host view of its root). */
	if (fchown(fd, put->uid >= 0 ? (uid_t)put->uid + shift : exists ? st.st_uid : shift,
		   put->gid >= 0 ? (gid_t)put->gid + shift : exists ? st.st_gid : shift) < 0)
		return error_errno(err, -errno, "Failed to set the owner of '%s'", path);
	if (fchmod(fd, put->mode >= 0			      ? (mode_t)put->mode & 07777
		       : exists				      ? st.st_mode & 07777
		       : put->type == INSTANCE_FILE_DIRECTORY ? 0755
							      : 0644) < 0)
		return error_errno(err, -errno, "Failed to set the mode of '%s'", path);
	return 0;
}

int instance_file_delete(int rootfd, const char *path, struct error *err)
{
	autoclose int parent = -1;
	autofree char *base = NULL;
	struct stat st;
	int r;

	r = path_check(path, err);
	if (r < 0)
		return r;
	r = open_parent(rootfd, path, &parent, &base, err);
	if (r < 0)
		return r;
	if (fstatat(parent, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return error_errno(err, -errno, "Failed to find '%s'", path);
	if (unlinkat(parent, base, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) < 0)
		return error_errno(err, -errno, "Failed to delete '%s'", path);
	return 0;
}
