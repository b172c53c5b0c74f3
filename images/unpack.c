/* images/unpack.c: materialising a stored image into a directory.
 *
 * Nothing an archive says is trusted, even though image_archive_check() vetted it at
 * import: every entry is classified again, every parent directory is opened with
 * open_beneath() (no "..", no symlinks, no magic links), and each file is created by name
 * inside that directory fd with O_NOFOLLOW | O_EXCL, then owned, moded and timed through
 * its own fd. Hard links are made between two such directory fds. Directory modes and
 * times are applied last, children first, so a read-only directory can still be filled.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "images/archive.h"
#include "lib/fs.h"
#include "lib/log.h"
#include "lib/str.h"

#include "lib/banned.h"

/* What an unpack may create at the top of its destination. */
static const char *const top_names[] = { "metadata.yaml", "templates", "rootfs", "rootfs.img" };

struct dir_fixup {
	char *path;
	uid_t uid;
	gid_t gid;
	mode_t mode;
	struct timespec mtime;
};

struct unpack {
	int dest;
	bool is_root;
	uint64_t cap, entries, written;
	const struct image_limits *limits;
	char *parent_path; /* the cached parent directory */
	int parent_fd;
	struct dir_fixup *dirs;
	size_t n_dirs;
	bool has_metadata;
};

static void unpack_release(struct unpack *u)
{
	free(u->parent_path);
	closep(&u->parent_fd);
	for (size_t i = 0; i < u->n_dirs; i++)
		free(u->dirs[i].path);
	free(u->dirs);
}

static int beneath_error(struct error *err, int r, const char *path)
{
	if (r == -ELOOP || r == -EXDEV)
		return error_set(err, -EINVAL,
				 "Refusing to unpack '%s': its path passes through a symlink",
				 path);
	return error_errno(err, r, "Failed to open the directory of '%s'", path);
}

/* Opens (creating what is missing, mode 0755) directory path beneath u->dest. */
static int dir_open_p(struct unpack *u, const char *path, int *ret, struct error *err)
{
	autoclose int fd = -1;
	const char *p = path;
	int r;

	r = open_beneath(u->dest, path, O_PATH | O_DIRECTORY, 0);
	if (r >= 0) {
		*ret = r;
		return 0;
	}
	if (r != -ENOENT)
		return beneath_error(err, r, path);

	fd = open_beneath(u->dest, ".", O_PATH | O_DIRECTORY, 0);
	if (fd < 0)
		return error_errno(err, fd, "Failed to open the destination directory");
	while (*p) {
		size_t len = strcspn(p, "/");
		autofree char *name = xstrndup(p, len);
		int next;

		if (mkdirat(fd, name, 0755) < 0 && errno != EEXIST)
			return error_errno(err, -errno, "Failed to create directory '%s'", path);
		next = open_beneath(fd, name, O_PATH | O_DIRECTORY, 0);
		if (next < 0)
			return beneath_error(err, next, path);
		closep(&fd);
		fd = next;
		p += len;
		while (*p == '/')
			p++;
	}
	*ret = take_fd(fd);
	return 0;
}

/* The directory fd holding path (cached across entries) and path's last component. */
static int parent_open(struct unpack *u, const char *path, int *ret_fd, const char **ret_name,
		       struct error *err)
{
	const char *slash = strrchr(path, '/');
	autofree char *parent = NULL;
	int fd = -1, r;

	if (!slash) {
		*ret_fd = u->dest;
		*ret_name = path;
		return 0;
	}
	parent = xstrndup(path, (size_t)(slash - path));
	if (!u->parent_path || !streq(u->parent_path, parent)) {
		r = dir_open_p(u, parent, &fd, err);
		if (r < 0)
			return r;
		closep(&u->parent_fd);
		free(u->parent_path);
		u->parent_fd = fd;
		u->parent_path = take_ptr(parent);
	}
	*ret_fd = u->parent_fd;
	*ret_name = slash + 1;
	return 0;
}

static void parent_forget(struct unpack *u)
{
	closep(&u->parent_fd);
	u->parent_fd = -1;
	free(u->parent_path);
	u->parent_path = NULL;
}

/* Removes whatever non-directory is at name so an entry can take its place. */
static int replace_prepare(int dirfd, const char *name, const char *path, struct error *err)
{
	if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
		return error_errno(err, -errno, "Failed to replace '%s'", path);
	return 0;
}

static int owner_apply(struct unpack *u, int r, const char *path, struct error *err)
{
	/* Without root (unit tests) the owners cannot be kept; that is the only excuse. */
	if (r < 0 && errno == EPERM && !u->is_root)
		return 0;
	if (r < 0)
		return error_errno(err, -errno, "Failed to set the owner of '%s'", path);
	return 0;
}

static void xattrs_apply(struct archive_entry *e, int fd, const char *path)
{
	const char *name;
	const void *value;
	size_t size;

	if (archive_entry_xattr_reset(e) == 0)
		return;
	while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
		/* trusted.* and security.* (but file capabilities) mean something to the host
		 * kernel or LSM, never to be set from an image. */
		if (!str_has_prefix(name, "user.") && !streq(name, "security.capability"))
			continue;
		if (fsetxattr(fd, name, value, size, 0) < 0)
			log_debug("Failed to set xattr '%s' on '%s', ignoring: %s", name, path,
				  strerror(errno));
	}
}

static int entry_ids(struct archive_entry *e, uid_t *uid, gid_t *gid, const char *path,
		     struct error *err)
{
	la_int64_t u = archive_entry_uid(e), g = archive_entry_gid(e);

	/* (uid_t)-1 would mean "leave unchanged" to chown. */
	if (u < 0 || g < 0 || u >= 0xffffffffLL || g >= 0xffffffffLL)
		return error_set(err, -EINVAL, "Image archive entry '%s' has an invalid owner",
				 path);
	*uid = (uid_t)u;
	*gid = (gid_t)g;
	return 0;
}

static struct timespec entry_mtime(struct archive_entry *e)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = 0 };

	if (archive_entry_mtime_is_set(e)) {
		ts.tv_sec = archive_entry_mtime(e);
		ts.tv_nsec = archive_entry_mtime_nsec(e);
	}
	return ts;
}

static int data_write(struct unpack *u, struct archive *a, int fd, const char *path,
		      struct error *err)
{
	for (;;) {
		const void *buf;
		size_t size;
		la_int64_t offset;
		const char *p;
		int r;

		r = archive_read_data_block(a, &buf, &size, &offset);
		if (r == ARCHIVE_EOF)
			return 0;
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
			return error_set(err, -EINVAL, "Invalid image archive at '%s': %s", path,
					 archive_error_string(a));
		u->written += size;
		if (u->written > u->cap)
			return error_set(err, -EINVAL, "Image would unpack to more than %llu bytes",
					 (unsigned long long)u->cap);
		for (p = buf; size > 0;) {
			ssize_t n = pwrite(fd, p, size, offset);

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return error_errno(err, -errno, "Failed to write '%s'", path);
			p += n;
			size -= (size_t)n;
			offset += n;
		}
	}
}

static int file_create(struct unpack *u, struct archive *a, struct archive_entry *e,
		       const struct image_entry *entry, int pfd, const char *name,
		       struct error *err)
{
	autoclose int fd = -1;
	struct timespec ts[2];
	uid_t uid;
	gid_t gid;
	int r;

	r = entry_ids(e, &uid, &gid, entry->path, err);
	if (r < 0)
		return r;
	fd = openat(pfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 && errno == EEXIST) {
		r = replace_prepare(pfd, name, entry->path, err);
		if (r < 0)
			return r;
		fd = openat(pfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	}
	if (fd < 0)
		return error_errno(err, -errno, "Failed to create '%s'", entry->path);
	r = data_write(u, a, fd, entry->path, err);
	if (r < 0)
		return r;
	if (archive_entry_size_is_set(e) && ftruncate(fd, archive_entry_size(e)) < 0)
		return error_errno(err, -errno, "Failed to size '%s'", entry->path);
	r = owner_apply(u, fchown(fd, uid, gid), entry->path, err);
	if (r < 0)
		return r;
	if (fchmod(fd, archive_entry_perm(e) & 07777) < 0)
		return error_errno(err, -errno, "Failed to set the mode of '%s'", entry->path);
	xattrs_apply(e, fd, entry->path);
	ts[0] = ts[1] = entry_mtime(e);
	if (futimens(fd, ts) < 0)
		return error_errno(err, -errno, "Failed to set the time of '%s'", entry->path);
	return 0;
}

static int dir_create(struct unpack *u, struct archive_entry *e, const struct image_entry *entry,
		      int pfd, const char *name, struct error *err)
{
	autoclose int fd = -1;
	struct dir_fixup *fix;
	struct stat st;
	uid_t uid;
	gid_t gid;
	int r;

	r = entry_ids(e, &uid, &gid, entry->path, err);
	if (r < 0)
		return r;
	if (mkdirat(pfd, name, 0700) < 0) {
		if (errno != EEXIST)
			return error_errno(err, -errno, "Failed to create directory '%s'",
					   entry->path);
		if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return error_errno(err, -errno, "Failed to inspect '%s'", entry->path);
		if (!S_ISDIR(st.st_mode)) {
			r = replace_prepare(pfd, name, entry->path, err);
			if (r < 0)
				return r;
			if (mkdirat(pfd, name, 0700) < 0)
				return error_errno(err, -errno, "Failed to create directory '%s'",
						   entry->path);
		}
	}
	fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return error_errno(err, -errno, "Failed to open directory '%s'", entry->path);
	xattrs_apply(e, fd, entry->path);

	u->dirs = xrealloc(u->dirs, (u->n_dirs + 1) * sizeof(*u->dirs));
	fix = &u->dirs[u->n_dirs++];
	fix->path = xstrdup(entry->path);
	fix->uid = uid;
	fix->gid = gid;
	fix->mode = archive_entry_perm(e) & 07777;
	fix->mtime = entry_mtime(e);
	return 0;
}

static int symlink_create(struct unpack *u, struct archive_entry *e,
			  const struct image_entry *entry, int pfd, const char *name,
			  struct error *err)
{
	struct timespec ts[2];
	uid_t uid;
	gid_t gid;
	int r;

	r = entry_ids(e, &uid, &gid, entry->path, err);
	if (r < 0)
		return r;
	if (symlinkat(entry->symlink, pfd, name) < 0) {
		if (errno != EEXIST)
			return error_errno(err, -errno, "Failed to create symlink '%s'",
					   entry->path);
		r = replace_prepare(pfd, name, entry->path, err);
		if (r < 0)
			return r;
		if (symlinkat(entry->symlink, pfd, name) < 0)
			return error_errno(err, -errno, "Failed to create symlink '%s'",
					   entry->path);
	}
	r = owner_apply(u, fchownat(pfd, name, uid, gid, AT_SYMLINK_NOFOLLOW), entry->path, err);
	if (r < 0)
		return r;
	ts[0] = ts[1] = entry_mtime(e);
	(void)utimensat(pfd, name, ts, AT_SYMLINK_NOFOLLOW);
	return 0;
}

static int hardlink_create(struct unpack *u, const struct image_entry *entry, int pfd,
			   const char *name, struct error *err)
{
	autoclose int tfd = -1;
	const char *slash = strrchr(entry->hardlink, '/');
	autofree char *tparent = xstrndup(entry->hardlink, (size_t)(slash - entry->hardlink));
	int r;

	/* classify() keeps hard links inside rootfs/, so the target has a parent. */
	r = open_beneath(u->dest, tparent, O_PATH | O_DIRECTORY, 0);
	if (r < 0)
		return beneath_error(err, r, entry->hardlink);
	tfd = r;
	if (linkat(tfd, slash + 1, pfd, name, 0) < 0) {
		if (errno != EEXIST)
			return error_errno(err, -errno, "Failed to link '%s' to '%s'", entry->path,
					   entry->hardlink);
		r = replace_prepare(pfd, name, entry->path, err);
		if (r < 0)
			return r;
		if (linkat(tfd, slash + 1, pfd, name, 0) < 0)
			return error_errno(err, -errno, "Failed to link '%s' to '%s'", entry->path,
					   entry->hardlink);
	}
	return 0;
}

static int fifo_create(struct unpack *u, struct archive_entry *e, const struct image_entry *entry,
		       int pfd, const char *name, struct error *err)
{
	autoclose int fd = -1;
	struct timespec ts[2];
	uid_t uid;
	gid_t gid;
	int r;

	r = entry_ids(e, &uid, &gid, entry->path, err);
	if (r < 0)
		return r;
	if (mknodat(pfd, name, S_IFIFO | 0600, 0) < 0) {
		if (errno != EEXIST)
			return error_errno(err, -errno, "Failed to create FIFO '%s'", entry->path);
		r = replace_prepare(pfd, name, entry->path, err);
		if (r < 0)
			return r;
		if (mknodat(pfd, name, S_IFIFO | 0600, 0) < 0)
			return error_errno(err, -errno, "Failed to create FIFO '%s'", entry->path);
	}
	/* Non-blocking read opens of a FIFO return at once. */
	fd = openat(pfd, name, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return error_errno(err, -errno, "Failed to open FIFO '%s'", entry->path);
	r = owner_apply(u, fchown(fd, uid, gid), entry->path, err);
	if (r < 0)
		return r;
	if (fchmod(fd, archive_entry_perm(e) & 07777) < 0)
		return error_errno(err, -errno, "Failed to set the mode of '%s'", entry->path);
	ts[0] = ts[1] = entry_mtime(e);
	(void)futimens(fd, ts);
	return 0;
}

static int entry_unpack(struct unpack *u, struct archive *a, struct archive_entry *e,
			enum image_archive_kind kind, struct error *err)
{
	struct image_entry entry = { .path = NULL };
	const char *name = NULL;
	int pfd = -1, r;

	r = image_entry_classify(e, kind, &entry, err);
	if (r < 0)
		return r;
	if (entry.section == IMAGE_SECTION_SKIP) {
		image_entry_release(&entry);
		return 0;
	}
	u->has_metadata |= entry.section == IMAGE_SECTION_METADATA_YAML;
	if (++u->entries > u->limits->max_entries) {
		image_entry_release(&entry);
		return error_set(err, -EINVAL, "Image archive has more than %llu entries",
				 (unsigned long long)u->limits->max_entries);
	}
	r = parent_open(u, entry.path, &pfd, &name, err);
	if (r < 0)
		goto out;

	if (entry.hardlink)
		r = hardlink_create(u, &entry, pfd, name, err);
	else if (entry.type == AE_IFREG)
		r = file_create(u, a, e, &entry, pfd, name, err);
	else if (entry.type == AE_IFDIR)
		r = dir_create(u, e, &entry, pfd, name, err);
	else if (entry.type == AE_IFLNK)
		r = symlink_create(u, e, &entry, pfd, name, err);
	else if (entry.type == AE_IFIFO)
		r = fifo_create(u, e, &entry, pfd, name, err);
	else
		r = error_set(err, -EINVAL, "Image archive entry '%s' has an unsupported type",
			      entry.path);
	/* A directory entry may have replaced a non-directory of the cached path. Nothing can
	 * replace a directory (unlinkat without AT_REMOVEDIR), so other entries keep it. */
	if (entry.type == AE_IFDIR)
		parent_forget(u);
out:
	image_entry_release(&entry);
	return r;
}

static int dirs_fixup(struct unpack *u, struct error *err)
{
	for (size_t i = u->n_dirs; i-- > 0;) {
		const struct dir_fixup *fix = &u->dirs[i];
		struct timespec ts[2] = { fix->mtime, fix->mtime };
		autoclose int fd = open_beneath(u->dest, fix->path, O_RDONLY | O_DIRECTORY, 0);
		int r;

		if (fd < 0) {
			if (fd == -ENOENT)
				continue; /* replaced by a later entry */
			return beneath_error(err, fd, fix->path);
		}
		r = owner_apply(u, fchown(fd, fix->uid, fix->gid), fix->path, err);
		if (r < 0)
			return r;
		if (fchmod(fd, fix->mode) < 0)
			return error_errno(err, -errno, "Failed to set the mode of '%s'",
					   fix->path);
		if (futimens(fd, ts) < 0)
			return error_errno(err, -errno, "Failed to set the time of '%s'",
					   fix->path);
	}
	return 0;
}

static int archive_unpack(int fd, enum image_archive_kind kind, int dest,
			  const struct image_limits *limits, image_progress_fn progress, void *data,
			  uint64_t base, uint64_t total, struct error *err)
{
	struct image_reader rd = { .a = NULL };
	struct unpack u;
	int r;

	memset(&u, 0, sizeof(u));
	u.dest = dest;
	u.is_root = geteuid() == 0;
	u.limits = limits;
	u.parent_fd = -1;

	rd.progress = progress;
	rd.progress_data = data;
	rd.progress_base = base;
	rd.progress_total = total;
	r = image_reader_open(&rd, fd, NULL, err);
	if (r < 0)
		goto out;
	u.cap = image_limits_cap(limits, rd.size);

	for (;;) {
		struct archive_entry *e;

		r = archive_read_next_header(rd.a, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
			r = error_set(err, -EINVAL, "Invalid image archive: %s",
				      archive_error_string(rd.a) ? archive_error_string(rd.a)
								 : "unreadable header");
			goto out;
		}
		r = entry_unpack(&u, rd.a, e, kind, err);
		if (r < 0)
			goto out;
	}
	parent_forget(&u);
	if (kind != IMAGE_ARCHIVE_ROOTFS && !u.has_metadata) {
		r = error_set(err, -EINVAL, "Image archive has no metadata.yaml");
		goto out;
	}
	r = dirs_fixup(&u, err);
out:
	unpack_release(&u);
	image_reader_close(&rd);
	return r;
}

/* --- cleaning up ------------------------------------------------------------------------- */

/* Removes dirfd/name and everything below it, never following a symlink. Depth is bounded
 * by IMAGE_MAX_PATH_DEPTH for what we unpacked; deeper trees (unsquashfs) are removed as
 * far as the recursion limit allows. */
static int rm_rf_at(int parent, const char *name, unsigned depth)
{
	struct stat st;
	DIR *d;
	struct dirent *de;
	int fd, r = 0;

	if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(parent, name, 0) < 0 ? -errno : 0;
	if (depth > 4 * IMAGE_MAX_PATH_DEPTH)
		return -ELOOP;
	fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	(void)fchmod(fd, 0700); /* a read-only directory of ours must still be emptied */
	d = fdopendir(fd);
	if (!d) {
		r = -errno;
		close(fd);
		return r;
	}
	while ((de = readdir(d))) {
		int k;

		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		k = rm_rf_at(dirfd(d), de->d_name, depth + 1);
		if (k < 0 && r == 0)
			r = k;
	}
	closedir(d);
	if (unlinkat(parent, name, AT_REMOVEDIR) < 0 && r == 0)
		r = -errno;
	return r;
}

static void unpack_undo(int dest)
{
	for (size_t i = 0; i < ARRAY_SIZE(top_names); i++) {
		int r = rm_rf_at(dest, top_names[i], 0);

		if (r < 0)
			log_warn_errno(r, "Failed to remove '%s' after a failed unpack, ignoring",
				       top_names[i]);
	}
}

/* --- the entry points -------------------------------------------------------------------- */

static int file_copy(int from, int dest, const char *name, struct error *err)
{
	autoclose int to = -1;

	to = open_beneath(dest, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
	if (to < 0)
		return error_errno(err, to, "Failed to create '%s'", name);
	if (lseek(from, 0, SEEK_SET) < 0)
		return error_errno(err, -errno, "Failed to rewind the image file");
	for (;;) {
		ssize_t n = copy_file_range(from, NULL, to, NULL, 1 << 30, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return error_errno(err, -errno, "Failed to copy '%s'", name);
		if (n == 0)
			return 0;
	}
}

static int squashfs_unpack(const char *path, int dest, struct error *err)
{
	autofree char *output = NULL;
	int r;

	r = image_run((const char *const[]){ "/usr/bin/unsquashfs", "-no-progress", "-quiet",
					     "-strict-errors", "-dest", "rootfs", path, NULL },
		      dest, -1, &output, err);
	if (r < 0)
		return r;
	if (r != 0) {
		const char *msg = output;
		size_t len = strlen(output);

		while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == ' '))
			len--;
		return error_set(err, -EIO, "Failed to unpack the squashfs root filesystem: %.*s",
				 (int)(len > 500 ? 500 : len), msg);
	}
	return 0;
}

int image_unpack_progress(const char *lodge_dir, const char *fingerprint, int dest_dirfd,
			  image_progress_fn progress, void *data, struct error *err)
{
	autofree char *meta_path = NULL, *rootfs_path = NULL;
	autoclose int meta = -1, rootfs = -1;
	struct stat st_meta, st_rootfs = { .st_size = 0 };
	uint64_t total;
	int r;

	if (!image_fingerprint_is_valid(fingerprint))
		return error_set(err, -EINVAL, "Invalid image fingerprint '%s'", fingerprint);
	for (size_t i = 0; i < ARRAY_SIZE(top_names); i++) {
		struct stat st;

		if (fstatat(dest_dirfd, top_names[i], &st, AT_SYMLINK_NOFOLLOW) == 0)
			return error_set(
				err, -EEXIST,
				"Cannot unpack image '%s': '%s' already exists in the destination",
				fingerprint, top_names[i]);
	}
	meta_path = str_printf("%s/images/%s", lodge_dir, fingerprint);
	rootfs_path = str_printf("%s.rootfs", meta_path);
	meta = open(meta_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (meta < 0)
		return error_errno(err, -errno, "Failed to open the file of image '%s'",
				   fingerprint);
	rootfs = open(rootfs_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (rootfs < 0 && errno != ENOENT)
		return error_errno(err, -errno, "Failed to open the root filesystem of image '%s'",
				   fingerprint);
	if (fstat(meta, &st_meta) < 0 || (rootfs >= 0 && fstat(rootfs, &st_rootfs) < 0))
		return error_errno(err, -errno, "Failed to inspect image '%s'", fingerprint);
	total = (uint64_t)st_meta.st_size + (uint64_t)st_rootfs.st_size;

	if (rootfs < 0) {
		r = archive_unpack(meta, IMAGE_ARCHIVE_UNIFIED, dest_dirfd, &image_limits_default,
				   progress, data, 0, total, err);
		if (r < 0)
			goto undo;
	} else {
		r = archive_unpack(meta, IMAGE_ARCHIVE_METADATA, dest_dirfd, &image_limits_default,
				   progress, data, 0, total, err);
		if (r < 0)
			goto undo;
		switch (image_file_format(rootfs)) {
		case IMAGE_FILE_SQUASHFS:
			r = squashfs_unpack(rootfs_path, dest_dirfd, err);
			break;
		case IMAGE_FILE_TAR:
			r = archive_unpack(rootfs, IMAGE_ARCHIVE_ROOTFS, dest_dirfd,
					   &image_limits_default, progress, data,
					   (uint64_t)st_meta.st_size, total, err);
			break;
		default:
			r = file_copy(rootfs, dest_dirfd, "rootfs.img", err);
			break;
		}
		if (r < 0)
			goto undo;
	}
	if (progress)
		progress(data, total, total);
	return 0;

undo:
	unpack_undo(dest_dirfd);
	return r;
}

int image_unpack(const char *lodge_dir, const char *fingerprint, int dest_dirfd, struct error *err)
{
	return image_unpack_progress(lodge_dir, fingerprint, dest_dirfd, NULL, NULL, err);
}
