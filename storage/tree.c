/* storage/tree.c: descriptor-relative tree copy, removal and usage (see tree.h). */
#include "storage/tree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "lib/str.h"
#include "storage/mount.h"

#include "lib/banned.h"

/* Deeper trees are refused rather than risking the stack and the descriptor limit (two
 * descriptors per level while copying). */
#define TREE_DEPTH_MAX 256

/* Inodes seen so far, keyed by device and inode number: hard links (copy) and inodes
 * counted once (usage). Open addressing, grown at half full. */
struct inode_entry {
	dev_t dev;
	ino_t ino;
	char *path; /* copy: where the first link went, relative to the copy's root */
	bool used;
};

struct inode_set {
	struct inode_entry *slots;
	size_t cap, n;
};

static size_t inode_hash(dev_t dev, ino_t ino, size_t cap)
{
	uint64_t h = (uint64_t)ino * 0x9e3779b97f4a7c15ULL ^ (uint64_t)dev;

	return (size_t)(h ^ (h >> 29)) & (cap - 1);
}

static struct inode_entry *inode_set_slot(struct inode_set *s, dev_t dev, ino_t ino)
{
	size_t i = inode_hash(dev, ino, s->cap);

	while (s->slots[i].used && !(s->slots[i].dev == dev && s->slots[i].ino == ino))
		i = (i + 1) & (s->cap - 1);
	return &s->slots[i];
}

static const struct inode_entry *inode_set_find(struct inode_set *s, dev_t dev, ino_t ino)
{
	struct inode_entry *e;

	if (s->cap == 0)
		return NULL;
	e = inode_set_slot(s, dev, ino);
	return e->used ? e : NULL;
}

/* Adds (dev, ino); takes path (may be NULL). */
static void inode_set_add(struct inode_set *s, dev_t dev, ino_t ino, char *path)
{
	struct inode_entry *e;

	if ((s->n + 1) * 2 > s->cap) {
		struct inode_set bigger = { xcalloc(s->cap ? s->cap * 2 : 64, sizeof(*s->slots)),
					    s->cap ? s->cap * 2 : 64, s->n };

		for (size_t i = 0; i < s->cap; i++)
			if (s->slots[i].used)
				*inode_set_slot(&bigger, s->slots[i].dev, s->slots[i].ino) =
					s->slots[i];
		free(s->slots);
		*s = bigger;
	}
	e = inode_set_slot(s, dev, ino);
	e->dev = dev;
	e->ino = ino;
	e->path = path;
	e->used = true;
	s->n++;
}

static void inode_set_release(struct inode_set *s)
{
	for (size_t i = 0; i < s->cap; i++)
		free(s->slots[i].path);
	free(s->slots);
	s->slots = NULL;
	s->cap = s->n = 0;
}

/* An fd for reading the entries of dir_fd, positioned at the start. */
static DIR *dir_open(int dir_fd)
{
	int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;

	if (fd < 0)
		return NULL;
	d = fdopendir(fd);
	if (!d)
		closep(&fd);
	return d;
}

static void closedirp(DIR **d)
{
	if (*d)
		(void)closedir(*d);
}

static bool is_dot(const char *name)
{
	return streq(name, ".") || streq(name, "..");
}

struct copy {
	int root_fd;		/* the copy's root, for hard links */
	struct strbuf path;	/* current directory, relative to root_fd, with a final '/' */
	struct inode_set links; /* inodes with several links, already copied */
	struct error *err;
};

static int copy_xattrs(int src, int dst, const char *what, struct error *err)
{
	autofree char *names = NULL;
	ssize_t len;

	len = flistxattr(src, NULL, 0);
	if (len < 0) {
		if (errno == ENOTSUP)
			return 0;
		return error_errno(err, -errno, "Failed to list the extended attributes of '%s'",
				   what);
	}
	if (len == 0)
		return 0;
	names = xmalloc((size_t)len);
	len = flistxattr(src, names, (size_t)len);
	if (len < 0)
		return error_errno(err, -errno, "Failed to list the extended attributes of '%s'",
				   what);

	for (const char *n = names; n < names + len; n += strlen(n) + 1) {
		autofree char *value = NULL;
		ssize_t vlen = fgetxattr(src, n, NULL, 0);

		if (vlen < 0)
			return error_errno(err, -errno, "Failed to read attribute '%s' of '%s'", n,
					   what);
		value = xmalloc(vlen ? (size_t)vlen : 1);
		vlen = fgetxattr(src, n, value, (size_t)vlen);
		if (vlen < 0)
			return error_errno(err, -errno, "Failed to read attribute '%s' of '%s'", n,
					   what);
		if (fsetxattr(dst, n, value, (size_t)vlen, 0) < 0)
			return error_errno(err, -errno, "Failed to set attribute '%s' of '%s'", n,
					   what);
	}
	return 0;
}

/* Owner, then mode (chown clears set-id bits), extended attributes and times of an open
 * file or directory. */
static int copy_attrs_fd(int src, int dst, const struct stat *st, const char *what,
			 struct error *err)
{
	struct timespec times[2] = { st->st_atim, st->st_mtim };
	int r;

	if (fchown(dst, st->st_uid, st->st_gid) < 0)
		return error_errno(err, -errno, "Failed to set the owner of '%s'", what);
	if (fchmod(dst, st->st_mode & 07777) < 0)
		return error_errno(err, -errno, "Failed to set the mode of '%s'", what);
	r = copy_xattrs(src, dst, what, err);
	if (r < 0)
		return r;
	if (futimens(dst, times) < 0)
		return error_errno(err, -errno, "Failed to set the times of '%s'", what);
	return 0;
}

static int copy_data(int src, int dst, const char *what, struct error *err)
{
	char buf[65536];

	/* A reflink shares the blocks (btrfs, xfs); elsewhere copy_file_range lets the kernel
	 * copy without a round trip through us. */
	if (ioctl(dst, FICLONE, src) == 0)
		return 0;

	for (;;) {
		ssize_t n = copy_file_range(src, NULL, dst, NULL, 1 << 30, 0);

		if (n == 0)
			return 0;
		if (n > 0)
			continue;
		if (errno == EINTR)
			continue;
		if (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP)
			break;
		return error_errno(err, -errno, "Failed to copy '%s'", what);
	}

	/* Fallback: plain reads and writes from where copy_file_range stopped. */
	for (;;) {
		ssize_t n = read(src, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return error_errno(err, -errno, "Failed to read '%s'", what);
		if (n == 0)
			return 0;
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(dst, buf + off, (size_t)(n - off));

			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				return error_errno(err, -errno, "Failed to write '%s'", what);
			off += w;
		}
	}
}

static int copy_dir_contents(struct copy *c, int src_dir, int dst_dir, unsigned depth);

static int copy_file(struct copy *c, int src_dir, int dst_dir, const char *name,
		     const struct stat *st, const char *what)
{
	autoclose int src = -1, dst = -1;
	int r;

	src = openat(src_dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (src < 0)
		return error_errno(c->err, -errno, "Failed to open '%s'", what);
	dst = openat(dst_dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (dst < 0)
		return error_errno(c->err, -errno, "Failed to create '%s'", what);
	r = copy_data(src, dst, what, c->err);
	if (r < 0)
		return r;
	return copy_attrs_fd(src, dst, st, what, c->err);
}

static int copy_symlink(struct copy *c, int src_dir, int dst_dir, const char *name,
			const struct stat *st, const char *what)
{
	struct timespec times[2] = { st->st_atim, st->st_mtim };
	size_t size = (size_t)st->st_size + 1;
	autofree char *target = NULL;
	ssize_t n;

	/* The target may have changed since the stat: grow until it fits. */
	for (;;) {
		target = xrealloc(target, size);
		n = readlinkat(src_dir, name, target, size);
		if (n < 0)
			return error_errno(c->err, -errno, "Failed to read link '%s'", what);
		if ((size_t)n < size)
			break;
		size *= 2;
	}
	target[n] = '\0';

	if (symlinkat(target, dst_dir, name) < 0)
		return error_errno(c->err, -errno, "Failed to create link '%s'", what);
	if (fchownat(dst_dir, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) < 0)
		return error_errno(c->err, -errno, "Failed to set the owner of '%s'", what);
	if (utimensat(dst_dir, name, times, AT_SYMLINK_NOFOLLOW) < 0)
		return error_errno(c->err, -errno, "Failed to set the times of '%s'", what);
	return 0;
}

/* Device nodes (overlayfs whiteouts are 0:0 character devices), fifos and sockets. */
static int copy_node(struct copy *c, int dst_dir, const char *name, const struct stat *st,
		     const char *what)
{
	struct timespec times[2] = { st->st_atim, st->st_mtim };

	if (mknodat(dst_dir, name, st->st_mode & (S_IFMT | 0600), st->st_rdev) < 0)
		return error_errno(c->err, -errno, "Failed to create '%s'", what);
	if (fchownat(dst_dir, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) < 0)
		return error_errno(c->err, -errno, "Failed to set the owner of '%s'", what);
	if (fchmodat(dst_dir, name, st->st_mode & 07777, 0) < 0)
		return error_errno(c->err, -errno, "Failed to set the mode of '%s'", what);
	if (utimensat(dst_dir, name, times, AT_SYMLINK_NOFOLLOW) < 0)
		return error_errno(c->err, -errno, "Failed to set the times of '%s'", what);
	return 0;
}

static int copy_dir(struct copy *c, int src_dir, int dst_dir, const char *name,
		    const struct stat *st, const char *what, unsigned depth)
{
	autoclose int src = -1, dst = -1;
	size_t len = c->path.len;
	int r;

	if (mount_is_root(src_dir, name))
		return error_set(c->err, -EBUSY, "Refusing to copy '%s': it is a mount point",
				 what);
	src = openat(src_dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (src < 0)
		return error_errno(c->err, -errno, "Failed to open '%s'", what);
	if (mkdirat(dst_dir, name, 0700) < 0)
		return error_errno(c->err, -errno, "Failed to create '%s'", what);
	dst = openat(dst_dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dst < 0)
		return error_errno(c->err, -errno, "Failed to open '%s'", what);

	strbuf_addf(&c->path, "%s/", name);
	r = copy_dir_contents(c, src, dst, depth + 1);
	c->path.len = len;
	c->path.buf[len] = '\0';
	if (r < 0)
		return r;
	return copy_attrs_fd(src, dst, st, what, c->err);
}

static int copy_entry(struct copy *c, int src_dir, int dst_dir, const char *name, unsigned depth)
{
	autofree char *what = NULL;
	const struct inode_entry *link;
	struct stat st;

	what = str_printf("%s%s", strbuf_str(&c->path), name);
	if (fstatat(src_dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return error_errno(c->err, -errno, "Failed to stat '%s'", what);

	if (S_ISDIR(st.st_mode))
		return copy_dir(c, src_dir, dst_dir, name, &st, what, depth);

	if (st.st_nlink > 1) {
		link = inode_set_find(&c->links, st.st_dev, st.st_ino);
		if (link) {
			if (linkat(c->root_fd, link->path, dst_dir, name, 0) < 0)
				return error_errno(c->err, -errno, "Failed to link '%s'", what);
			return 0;
		}
	}

	if (S_ISREG(st.st_mode)) {
		int r = copy_file(c, src_dir, dst_dir, name, &st, what);

		if (r < 0)
			return r;
	} else if (S_ISLNK(st.st_mode)) {
		int r = copy_symlink(c, src_dir, dst_dir, name, &st, what);

		if (r < 0)
			return r;
	} else {
		int r = copy_node(c, dst_dir, name, &st, what);

		if (r < 0)
			return r;
	}

	if (st.st_nlink > 1)
		inode_set_add(&c->links, st.st_dev, st.st_ino, xstrdup(what));
	return 0;
}

static int copy_dir_contents(struct copy *c, int src_dir, int dst_dir, unsigned depth)
{
	autoclean(closedirp) DIR *d = NULL;
	struct dirent *de;
	int r;

	if (depth > TREE_DEPTH_MAX)
		return error_set(c->err, -ELOOP, "Directory tree deeper than %d levels at '%s'",
				 TREE_DEPTH_MAX, strbuf_str(&c->path));
	d = dir_open(src_dir);
	if (!d)
		return error_errno(c->err, -errno, "Failed to read directory '%s'",
				   strbuf_str(&c->path));

	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de)
			break;
		if (is_dot(de->d_name))
			continue;
		r = copy_entry(c, src_dir, dst_dir, de->d_name, depth);
		if (r < 0)
			return r;
	}
	if (errno != 0)
		return error_errno(c->err, -errno, "Failed to read directory '%s'",
				   strbuf_str(&c->path));
	return 0;
}

int tree_copy(int src_fd, int dst_dirfd, const char *dst_name, struct error *err)
{
	struct copy c = { .root_fd = -1, .path = STRBUF_INIT, .err = err };
	autoclose int dst = -1;
	struct stat st;
	int r;

	if (fstat(src_fd, &st) < 0)
		return error_errno(err, -errno, "Failed to stat the source of '%s'", dst_name);
	if (mkdirat(dst_dirfd, dst_name, 0700) < 0)
		return error_errno(err, -errno, "Failed to create '%s'", dst_name);
	dst = openat(dst_dirfd, dst_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dst < 0) {
		r = error_errno(err, -errno, "Failed to open '%s'", dst_name);
		goto undo_mkdir;
	}

	c.root_fd = dst;
	r = copy_dir_contents(&c, src_fd, dst, 0);
	if (r >= 0)
		r = copy_attrs_fd(src_fd, dst, &st, dst_name, err);
	strbuf_release(&c.path);
	inode_set_release(&c.links);
	if (r < 0)
		goto undo_mkdir;
	return 0;

undo_mkdir:
	(void)tree_remove(dst_dirfd, dst_name, NULL);
	return r;
}

int tree_copy_contents(int src_fd, int dst_fd, struct error *err)
{
	struct copy c = { .root_fd = dst_fd, .path = STRBUF_INIT, .err = err };
	struct stat st;
	int r;

	if (fstat(src_fd, &st) < 0)
		return error_errno(err, -errno, "Failed to stat the source directory");
	r = copy_dir_contents(&c, src_fd, dst_fd, 0);
	if (r >= 0)
		r = copy_attrs_fd(src_fd, dst_fd, &st, "/", err);
	strbuf_release(&c.path);
	inode_set_release(&c.links);
	return r;
}

int tree_copy_at(int src_dirfd, const char *src_name, int dst_dirfd, const char *dst_name,
		 struct error *err)
{
	struct copy c = { .root_fd = dst_dirfd, .path = STRBUF_INIT, .err = err };
	autoclose int src = -1;
	struct stat st;
	int r;

	if (fstatat(src_dirfd, src_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return error_errno(err, -errno, "Failed to stat '%s'", src_name);
	if (S_ISDIR(st.st_mode)) {
		src = openat(src_dirfd, src_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (src < 0)
			return error_errno(err, -errno, "Failed to open '%s'", src_name);
		return tree_copy(src, dst_dirfd, dst_name, err);
	}

	/* One file: copy_entry() names the copy after the source, so go through a name the
	 * same on both sides only when they match. */
	if (!streq(src_name, dst_name))
		return error_set(err, -EINVAL, "Copying '%s' to another name is not supported",
				 src_name);
	r = copy_entry(&c, src_dirfd, dst_dirfd, src_name, 0);
	strbuf_release(&c.path);
	inode_set_release(&c.links);
	/* -EEXIST: the name was there before, not ours to remove. */
	if (r < 0 && r != -EEXIST)
		(void)unlinkat(dst_dirfd, dst_name, 0);
	return r;
}

static int remove_dir_contents(int dir_fd, unsigned depth, struct error *err);

static int remove_entry(int dir_fd, const char *name, unsigned depth, struct error *err)
{
	autoclose int fd = -1;
	struct stat st;
	int r;

	if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0;
		return error_errno(err, -errno, "Failed to stat '%s'", name);
	}
	if (!S_ISDIR(st.st_mode)) {
		if (unlinkat(dir_fd, name, 0) < 0 && errno != ENOENT)
			return error_errno(err, -errno, "Failed to remove '%s'", name);
		return 0;
	}

	if (mount_is_root(dir_fd, name))
		return error_set(err, -EBUSY, "Refusing to remove '%s': it is a mount point", name);
	fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return error_errno(err, -errno, "Failed to open '%s'", name);
	r = remove_dir_contents(fd, depth + 1, err);
	if (r < 0)
		return r;
	if (unlinkat(dir_fd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return error_errno(err, -errno, "Failed to remove '%s'", name);
	return 0;
}

static int remove_dir_contents(int dir_fd, unsigned depth, struct error *err)
{
	autoclean(closedirp) DIR *d = NULL;
	struct dirent *de;
	int r;

	if (depth > TREE_DEPTH_MAX)
		return error_set(err, -ELOOP, "Directory tree deeper than %d levels",
				 TREE_DEPTH_MAX);
	d = dir_open(dir_fd);
	if (!d)
		return error_errno(err, -errno, "Failed to read a directory");

	/* Entries are removed while reading: rewind until a pass finds nothing, as readdir
	 * may skip entries of a directory changing under it. */
	for (bool again = true; again;) {
		again = false;
		rewinddir(d);
		for (;;) {
			errno = 0;
			de = readdir(d);
			if (!de)
				break;
			if (is_dot(de->d_name))
				continue;
			r = remove_entry(dir_fd, de->d_name, depth, err);
			if (r < 0)
				return r;
			again = true;
		}
		if (errno != 0)
			return error_errno(err, -errno, "Failed to read a directory");
	}
	return 0;
}

int tree_remove(int dirfd, const char *name, struct error *err)
{
	return remove_entry(dirfd, name, 0, err);
}

int tree_clear(int dir_fd, struct error *err)
{
	return remove_dir_contents(dir_fd, 0, err);
}

static int usage_dir(int dir_fd, struct inode_set *seen, uint64_t *total, unsigned depth,
		     struct error *err)
{
	autoclean(closedirp) DIR *d = NULL;
	struct dirent *de;
	struct stat st;
	int r;

	if (depth > TREE_DEPTH_MAX)
		return error_set(err, -ELOOP, "Directory tree deeper than %d levels",
				 TREE_DEPTH_MAX);
	d = dir_open(dir_fd);
	if (!d)
		return error_errno(err, -errno, "Failed to read a directory");

	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de)
			break;
		if (is_dot(de->d_name))
			continue;
		if (fstatat(dir_fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				continue;
			return error_errno(err, -errno, "Failed to stat '%s'", de->d_name);
		}
		if (st.st_nlink > 1 && !S_ISDIR(st.st_mode)) {
			if (inode_set_find(seen, st.st_dev, st.st_ino))
				continue;
			inode_set_add(seen, st.st_dev, st.st_ino, NULL);
		}
		*total += (uint64_t)st.st_blocks * 512;

		if (S_ISDIR(st.st_mode) && !mount_is_root(dir_fd, de->d_name)) {
			autoclose int fd = openat(dir_fd, de->d_name,
						  O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			if (fd < 0)
				return error_errno(err, -errno, "Failed to open '%s'", de->d_name);
			r = usage_dir(fd, seen, total, depth + 1, err);
			if (r < 0)
				return r;
		}
	}
	if (errno != 0)
		return error_errno(err, -errno, "Failed to read a directory");
	return 0;
}

int tree_usage(int dir_fd, uint64_t *ret, struct error *err)
{
	struct inode_set seen = { NULL, 0, 0 };
	uint64_t total = 0;
	struct stat st;
	int r;

	if (fstat(dir_fd, &st) == 0)
		total = (uint64_t)st.st_blocks * 512;
	r = usage_dir(dir_fd, &seen, &total, 0, err);
	inode_set_release(&seen);
	if (r < 0)
		return r;
	*ret = total;
	return 0;
}
