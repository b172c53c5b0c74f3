/* images/archive.c: reading image archives and deciding what in them is acceptable.
 *
 * Only tar is read (ustar, pax, GNU), through only the compressors images use, all built
 * into libarchive: none of its external-program filters can be reached by a crafted
 * header. The checker walks the whole archive before an image is accepted; its rules live
 * in image_entry_classify(), which the unpacker calls again for every entry it creates.
 */
#include "images/archive.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <search.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/fs.h"
#include "lib/log.h"
#include "lib/str.h"

#include "lib/banned.h"

#define READ_BLOCK     (256u << 10)
#define RUN_OUTPUT_MAX (64u << 10)

const struct image_limits image_limits_default = {
	.max_entries = 1000000,
	.max_unpacked = 256ull << 30,
	.unpacked_floor = 1ull << 30,
	.max_ratio = 100,
};

uint64_t image_limits_cap(const struct image_limits *limits, uint64_t archive_size)
{
	uint64_t ratio_cap = archive_size > UINT64_MAX / (limits->max_ratio ? limits->max_ratio : 1)
				     ? UINT64_MAX
				     : archive_size * limits->max_ratio;
	uint64_t cap = ratio_cap > limits->unpacked_floor ? ratio_cap : limits->unpacked_floor;

	return cap < limits->max_unpacked ? cap : limits->max_unpacked;
}

/* --- reading ----------------------------------------------------------------------------- */

static la_ssize_t reader_read(struct archive *a, void *data, const void **buf)
{
	struct image_reader *r = data;
	ssize_t n;

	do
		n = read(r->fd, r->buf, READ_BLOCK);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		archive_set_error(a, errno, "Failed to read the image file");
		return -1;
	}
	if (r->sha && n > 0 && EVP_DigestUpdate(r->sha, r->buf, (size_t)n) != 1) {
		archive_set_error(a, EIO, "Failed to hash the image file");
		return -1;
	}
	r->consumed += (uint64_t)n;
	if (r->progress && r->progress_base + r->consumed >= r->progress_next) {
		r->progress(r->progress_data, r->progress_base + r->consumed, r->progress_total);
		r->progress_next = r->progress_base + r->consumed + r->progress_total / 100 + 1;
	}
	*buf = r->buf;
	return n;
}

int image_reader_open(struct image_reader *r, int fd, EVP_MD_CTX *sha, struct error *err)
{
	struct stat st;

	r->fd = fd;
	r->sha = sha;
	r->consumed = 0;
	if (fstat(fd, &st) < 0)
		return error_errno(err, -errno, "Failed to inspect the image file");
	r->size = (uint64_t)st.st_size;
	if (lseek(fd, 0, SEEK_SET) < 0)
		return error_errno(err, -errno, "Failed to rewind the image file");
	r->buf = xmalloc(READ_BLOCK);
	r->a = archive_read_new();
	if (!r->a)
		return error_set(err, -ENOMEM, "Failed to set up the archive reader");
	(void)archive_read_support_format_tar(r->a);
	(void)archive_read_support_filter_gzip(r->a);
	(void)archive_read_support_filter_xz(r->a);
	(void)archive_read_support_filter_lzma(r->a);
	(void)archive_read_support_filter_bzip2(r->a);
	(void)archive_read_support_filter_zstd(r->a);
	if (archive_read_open(r->a, r, NULL, reader_read, NULL) != ARCHIVE_OK)
		return error_set(err, -EINVAL, "Invalid image archive: %s",
				 archive_error_string(r->a) ? archive_error_string(r->a)
							    : "unknown format");
	return 0;
}

int image_reader_drain(struct image_reader *r, struct error *err)
{
	for (;;) {
		const void *buf;
		la_ssize_t n = reader_read(r->a, r, &buf);

		if (n < 0)
			return error_errno(err, -EIO, "Failed to read the image file");
		if (n == 0)
			return 0;
	}
}

void image_reader_close(struct image_reader *r)
{
	if (r->a)
		(void)archive_read_free(r->a);
	r->a = NULL;
	free(r->buf);
	r->buf = NULL;
}

/* --- entries ----------------------------------------------------------------------------- */

/* Normalises a path from an archive: drops "." and empty components and trailing
 * slashes; refuses absolute paths, ".." and overlong or overdeep paths. "" is the root. */
static int path_normalize(const char *raw, char **ret, unsigned *ret_depth, struct error *err)
{
	struct strbuf sb = STRBUF_INIT;
	unsigned depth = 0;
	const char *p = raw;

	if (str_is_empty(raw))
		return error_set(err, -EINVAL, "Image archive has an entry without a name");
	if (raw[0] == '/')
		return error_set(err, -EINVAL, "Image archive entry '%s' has an absolute path",
				 raw);
	while (*p) {
		size_t len = strcspn(p, "/");

		if (len == 2 && p[0] == '.' && p[1] == '.') {
			strbuf_release(&sb);
			return error_set(err, -EINVAL, "Image archive entry '%s' contains '..'",
					 raw);
		}
		if (len > 255) {
			strbuf_release(&sb);
			return error_set(
				err, -EINVAL,
				"Image archive entry '%s' has a name longer than 255 bytes", raw);
		}
		if (len > 0 && !(len == 1 && p[0] == '.')) {
			if (sb.len)
				strbuf_addch(&sb, '/');
			strbuf_add(&sb, p, len);
			depth++;
		}
		p += len;
		while (*p == '/')
			p++;
	}
	if (depth > IMAGE_MAX_PATH_DEPTH || sb.len > 4000) {
		strbuf_release(&sb);
		return error_set(err, -EINVAL, "Image archive entry '%s' is nested too deep", raw);
	}
	*ret = strbuf_detach(&sb);
	*ret_depth = depth;
	return 0;
}

/* Maps a normalised archive path to its section and destination path. */
static enum image_section section_of(const char *path, enum image_archive_kind kind,
				     char **ret_dest)
{
	size_t first = strcspn(path, "/");
	const char *rest = path[first] ? path + first + 1 : NULL;

	if (kind == IMAGE_ARCHIVE_ROOTFS) {
		*ret_dest = *path ? str_printf("rootfs/%s", path) : xstrdup("rootfs");
		return IMAGE_SECTION_ROOTFS;
	}
	*ret_dest = xstrdup(path);
	if (first == strlen("metadata.yaml") && !rest && str_has_prefix(path, "metadata.yaml"))
		return IMAGE_SECTION_METADATA_YAML;
	if (first == strlen("templates") && str_has_prefix(path, "templates"))
		return IMAGE_SECTION_TEMPLATES;
	if (kind == IMAGE_ARCHIVE_UNIFIED && first == strlen("rootfs") &&
	    str_has_prefix(path, "rootfs"))
		return IMAGE_SECTION_ROOTFS;
	if (kind == IMAGE_ARCHIVE_UNIFIED && !rest && streq(path, "rootfs.img"))
		return IMAGE_SECTION_ROOTFS_IMG;
	return IMAGE_SECTION_SKIP;
}

/* Components of the destination path below its section's root. */
static unsigned section_depth(enum image_section section, unsigned depth,
			      enum image_archive_kind kind)
{
	if (kind == IMAGE_ARCHIVE_ROOTFS)
		return depth;
	return depth > 0 ? depth - 1 : 0;
}

/* A relative symlink target must not climb above the root of its section: inside the
 * container it could not anyway, and on the host nothing follows it, but an image that
 * tries is not one we want. parent_depth is the depth of the directory holding it. */
static bool symlink_stays_inside(const char *target, unsigned parent_depth)
{
	long depth = parent_depth;
	const char *p = target;

	if (target[0] == '/')
		return true; /* resolved against the container's root */
	while (*p) {
		size_t len = strcspn(p, "/");

		if (len == 2 && p[0] == '.' && p[1] == '.') {
			if (--depth < 0)
				return false;
		} else if (len > 0 && !(len == 1 && p[0] == '.')) {
			depth++;
		}
		p += len;
		while (*p == '/')
			p++;
	}
	return true;
}

static uint64_t entry_data_size(struct archive_entry *e)
{
	la_int64_t offset, length;
	uint64_t total = 0;

	if (!archive_entry_size_is_set(e) || archive_entry_size(e) < 0)
		return 0;
	if (archive_entry_sparse_reset(e) > 0) {
		while (archive_entry_sparse_next(e, &offset, &length) == ARCHIVE_OK)
			if (length > 0)
				total += (uint64_t)length;
		return total;
	}
	return (uint64_t)archive_entry_size(e);
}

void image_entry_release(struct image_entry *entry)
{
	free(entry->path);
	free(entry->hardlink);
	entry->path = entry->hardlink = NULL;
}

int image_entry_classify(struct archive_entry *e, enum image_archive_kind kind,
			 struct image_entry *ret, struct error *err)
{
	autofree char *norm = NULL, *dest = NULL, *link_norm = NULL, *link_dest = NULL;
	const char *raw = archive_entry_pathname(e);
	const char *hardlink = archive_entry_hardlink(e);
	mode_t type = archive_entry_filetype(e);
	enum image_section section;
	unsigned depth = 0, link_depth = 0;
	int r;

	r = path_normalize(raw, &norm, &depth, err);
	if (r < 0)
		return r;
	section = section_of(norm, kind, &dest);

	if (type == AE_IFCHR || type == AE_IFBLK)
		return error_set(err, -EINVAL, "Image archive entry '%s' is a device node", raw);
	if (hardlink) {
		r = path_normalize(hardlink, &link_norm, &link_depth, err);
		if (r < 0)
			return r;
		if (section_of(link_norm, kind, &link_dest) != section ||
		    section != IMAGE_SECTION_ROOTFS || streq(link_dest, "rootfs"))
			return error_set(
				err, -EINVAL,
				"Image archive entry '%s' is a hard link to '%s' outside the root filesystem",
				raw, hardlink);
		type = AE_IFREG;
	} else if (type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK && type != AE_IFIFO) {
		return error_set(err, -EINVAL,
				 "Image archive entry '%s' has an unsupported file type", raw);
	}

	switch (section) {
	case IMAGE_SECTION_METADATA_YAML:
	case IMAGE_SECTION_ROOTFS_IMG:
		if (type != AE_IFREG || hardlink)
			return error_set(err, -EINVAL,
					 "Image archive entry '%s' must be a regular file", raw);
		break;
	case IMAGE_SECTION_TEMPLATES:
		if ((type != AE_IFREG && type != AE_IFDIR) || hardlink)
			return error_set(
				err, -EINVAL,
				"Image archive entry '%s' must be a regular file or directory",
				raw);
		break;
	case IMAGE_SECTION_ROOTFS:
		if (streq(dest, "rootfs") && type != AE_IFDIR)
			return error_set(err, -EINVAL,
					 "Image archive entry '%s' must be a directory", raw);
		break;
	case IMAGE_SECTION_SKIP:
		break;
	}

	if (type == AE_IFLNK) {
		const char *target = archive_entry_symlink(e);

		if (str_is_empty(target))
			return error_set(err, -EINVAL,
					 "Image archive entry '%s' is a symlink to nothing", raw);
		if (section == IMAGE_SECTION_ROOTFS &&
		    !symlink_stays_inside(target, section_depth(section, depth, kind) - 1))
			return error_set(
				err, -EINVAL,
				"Image archive entry '%s' is a symlink leaving the image ('%s')",
				raw, target);
		ret->symlink = target;
	} else {
		ret->symlink = NULL;
	}

	ret->section = section;
	ret->path = take_ptr(dest);
	ret->type = type;
	ret->hardlink = take_ptr(link_dest);
	ret->data_size = type == AE_IFREG && !hardlink ? entry_data_size(e) : 0;
	return 0;
}

/* --- the checker ------------------------------------------------------------------------- */

static int strcmp_void(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void noop_free(void *p)
{
	free(p);
}

/* Symlinks seen so far (destination paths), to refuse entries that would be created
 * through one: "rootfs/etc -> /etc" followed by "rootfs/etc/passwd". */
struct symlink_set {
	void *root;
};

static bool symlink_set_has_prefix(struct symlink_set *s, const char *path)
{
	autofree char *copy = xstrdup(path);

	for (char *slash = strchr(copy, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		if (s->root && tfind(copy, &s->root, strcmp_void))
			return true;
		*slash = '/';
	}
	return false;
}

static void symlink_set_update(struct symlink_set *s, const char *path, bool is_symlink)
{
	void *found = s->root ? tfind(path, &s->root, strcmp_void) : NULL;

	if (is_symlink && !found) {
		char *key = xstrdup(path);

		if (!tsearch(key, &s->root, strcmp_void))
			abort();
	} else if (!is_symlink && found) {
		char *key = *(char **)found;

		(void)tdelete(path, &s->root, strcmp_void);
		free(key);
	}
}

static int metadata_read(struct archive *a, struct image_archive_info *info, struct error *err)
{
	struct strbuf sb = STRBUF_INIT;
	char buf[16384];
	int r;

	if (info->metadata)
		return error_set(err, -EINVAL, "Image archive has more than one metadata.yaml");
	for (;;) {
		la_ssize_t n = archive_read_data(a, buf, sizeof(buf));

		if (n < 0) {
			strbuf_release(&sb);
			return error_set(err, -EINVAL, "Invalid image archive: %s",
					 archive_error_string(a));
		}
		if (n == 0)
			break;
		if (sb.len + (size_t)n > IMAGE_METADATA_MAX) {
			strbuf_release(&sb);
			return error_set(err, -EFBIG, "metadata.yaml is larger than %u bytes",
					 IMAGE_METADATA_MAX);
		}
		strbuf_add(&sb, buf, (size_t)n);
	}
	r = image_metadata_parse(strbuf_str(&sb), sb.len, &info->metadata, err);
	strbuf_release(&sb);
	return r;
}

void image_archive_info_release(struct image_archive_info *info)
{
	image_metadata_free(info->metadata);
	info->metadata = NULL;
}

int image_archive_check_hash(int fd, enum image_archive_kind kind,
			     const struct image_limits *limits, EVP_MD_CTX *sha,
			     struct image_archive_info *ret, struct error *err)
{
	struct image_reader rd = { .a = NULL };
	struct image_archive_info info = { .metadata = NULL };
	struct symlink_set links = { NULL };
	bool has_rootfs = false, has_rootfs_img = false;
	uint64_t cap;
	int r;

	if (!limits)
		limits = &image_limits_default;
	r = image_reader_open(&rd, fd, sha, err);
	if (r < 0)
		goto out;
	cap = image_limits_cap(limits, rd.size);

	for (;;) {
		struct archive_entry *e;
		struct image_entry entry = { .path = NULL };

		r = archive_read_next_header(rd.a, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
			r = error_set(err, -EINVAL, "Invalid image archive: %s",
				      archive_error_string(rd.a) ? archive_error_string(rd.a)
								 : "unreadable header");
			goto out;
		}
		if (++info.entries > limits->max_entries) {
			r = error_set(err, -EINVAL, "Image archive has more than %llu entries",
				      (unsigned long long)limits->max_entries);
			goto out;
		}
		r = image_entry_classify(e, kind, &entry, err);
		if (r < 0)
			goto out;
		info.unpacked += entry.data_size;
		if (info.unpacked > cap || entry.data_size > cap) {
			r = error_set(
				err, -EINVAL,
				"Image archive would unpack to more than %llu bytes (at '%s')",
				(unsigned long long)cap, archive_entry_pathname(e));
			image_entry_release(&entry);
			goto out;
		}
		if (symlink_set_has_prefix(&links, entry.path) ||
		    (entry.hardlink && symlink_set_has_prefix(&links, entry.hardlink))) {
			r = error_set(err, -EINVAL,
				      "Image archive entry '%s' would be created through a symlink",
				      archive_entry_pathname(e));
			image_entry_release(&entry);
			goto out;
		}
		symlink_set_update(&links, entry.path, entry.type == AE_IFLNK);

		has_rootfs |= entry.section == IMAGE_SECTION_ROOTFS;
		has_rootfs_img |= entry.section == IMAGE_SECTION_ROOTFS_IMG;
		if (entry.section == IMAGE_SECTION_METADATA_YAML) {
			r = metadata_read(rd.a, &info, err);
			if (r < 0) {
				image_entry_release(&entry);
				goto out;
			}
		}
		image_entry_release(&entry);
	}

	if (kind != IMAGE_ARCHIVE_ROOTFS && !info.metadata) {
		r = error_set(err, -EINVAL, "Image archive has no metadata.yaml");
		goto out;
	}
	if (kind == IMAGE_ARCHIVE_UNIFIED && !has_rootfs && !has_rootfs_img) {
		r = error_set(err, -EINVAL, "Image archive has neither rootfs/ nor rootfs.img");
		goto out;
	}
	if (kind == IMAGE_ARCHIVE_UNIFIED && has_rootfs && has_rootfs_img) {
		r = error_set(err, -EINVAL, "Image archive has both rootfs/ and rootfs.img");
		goto out;
	}
	if (sha) {
		r = image_reader_drain(&rd, err);
		if (r < 0)
			goto out;
	}
	info.type = has_rootfs_img ? "virtual-machine" : "container";
	*ret = info;
	info.metadata = NULL;
	r = 0;
out:
	tdestroy(links.root, noop_free);
	image_archive_info_release(&info);
	image_reader_close(&rd);
	return r;
}

int image_archive_check(int fd, enum image_archive_kind kind, const struct image_limits *limits,
			struct image_archive_info *ret, struct error *err)
{
	return image_archive_check_hash(fd, kind, limits, NULL, ret, err);
}

/* --- file formats ------------------------------------------------------------------------ */

enum image_file_format image_file_format(int fd)
{
	unsigned char h[263] = { 0 };
	ssize_t n = pread(fd, h, sizeof(h), 0);

	if (n < 4)
		return IMAGE_FILE_UNKNOWN;
	if (memcmp(h, "hsqs", 4) == 0)
		return IMAGE_FILE_SQUASHFS;
	if (memcmp(h, "QFI\xfb", 4) == 0)
		return IMAGE_FILE_QCOW2;
	if ((h[0] == 0x1f && h[1] == 0x8b) || memcmp(h, "BZh", 3) == 0 ||
	    memcmp(h + 1, "7zXZ", 4) == 0 || (h[0] == 0x5d && h[1] == 0 && h[2] == 0) ||
	    memcmp(h, "\x28\xb5\x2f\xfd", 4) == 0 || (n >= 262 && memcmp(h + 257, "ustar", 5) == 0))
		return IMAGE_FILE_TAR;
	return IMAGE_FILE_UNKNOWN;
}

const char *image_file_extension(int fd)
{
	unsigned char h[263] = { 0 };
	ssize_t n = pread(fd, h, sizeof(h), 0);

	if (n < 4)
		return "";
	if (h[0] == 'B' && h[1] == 'Z')
		return ".tar.bz2";
	if (h[0] == 0x1f && h[1] == 0x8b)
		return ".tar.gz";
	if (memcmp(h + 1, "7zXZ", 4) == 0)
		return h[0] == 0xfd ? ".tar.xz" : ".tar.lzma";
	if (h[0] == 0x5d && h[1] == 0 && h[2] == 0)
		return ".tar.lzma";
	if (n >= 262 && memcmp(h + 257, "ustar", 5) == 0)
		return ".tar";
	if (memcmp(h, "hsqs", 4) == 0)
		return ".squashfs";
	if (memcmp(h, "QFI", 3) == 0)
		return ".qcow2";
	if (memcmp(h, "\x28\xb5\x2f\xfd", 4) == 0)
		return ".tar.zst";
	return "";
}

/* --- external tools ---------------------------------------------------------------------- */

int image_run(const char *const *argv, int cwd_fd, int out_fd, char **ret_output, struct error *err)
{
	static const char *const envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C",
					    NULL };
	autoclose int rd = -1, wr = -1;
	struct strbuf out = STRBUF_INIT;
	int pipefd[2], status;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return error_errno(err, -errno, "Failed to create a pipe");
	rd = pipefd[0];
	wr = pipefd[1];

	pid = fork();
	if (pid < 0)
		return error_errno(err, -errno, "Failed to start '%s'", argv[0]);
	if (pid == 0) {
		sigset_t none;
		int devnull;

		/* Only async-signal-safe calls here: we forked a threaded process. Without
		 * CAP_MKNOD in the bounding set, the tool cannot create device nodes. */
		sigemptyset(&none);
		(void)sigprocmask(SIG_SETMASK, &none, NULL);
		(void)signal(SIGPIPE, SIG_DFL);
		if (prctl(PR_CAPBSET_DROP, CAP_MKNOD, 0, 0, 0) < 0 && errno != EINVAL)
			_exit(126);
		if (cwd_fd >= 0 && fchdir(cwd_fd) < 0)
			_exit(126);
		devnull = open("/dev/null", O_RDONLY);
		if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(out_fd >= 0 ? out_fd : wr, 1) < 0 ||
		    dup2(wr, 2) < 0)
			_exit(126);
		execve(argv[0], (char *const *)argv, (char *const *)envp);
		_exit(127);
	}

	closep(&wr);
	for (;;) {
		char buf[4096];
		ssize_t n = read(rd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (out.len < RUN_OUTPUT_MAX)
			strbuf_add(&out, buf, (size_t)n);
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			strbuf_release(&out);
			return error_errno(err, -errno, "Failed to wait for '%s'", argv[0]);
		}
	}
	if (ret_output)
		*ret_output = strbuf_detach(&out);
	strbuf_release(&out);
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

/* The last non-empty line of a tool's output, for error messages. */
static char *last_line(const char *s)
{
	const char *end = s + strlen(s), *start;

	while (end > s && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' '))
		end--;
	start = end;
	while (start > s && start[-1] != '\n')
		start--;
	return start < end ? xstrndup(start, (size_t)(end - start)) : xstrdup("no output");
}

int image_squashfs_check(int fd, int tmp_dirfd, const struct image_limits *limits,
			 struct error *err)
{
	autofree char *output = NULL, *last = NULL, *path = NULL;
	autoclose int out = -1;
	autofclose FILE *f = NULL;
	uint64_t cap, total = 0, entries = 0;
	char line[8192];
	struct stat st;
	int r;

	if (!limits)
		limits = &image_limits_default;
	if (fstat(fd, &st) < 0)
		return error_errno(err, -errno, "Failed to inspect the squashfs root filesystem");
	cap = image_limits_cap(limits, (uint64_t)st.st_size);
	/* The file may have no name yet (O_TMPFILE): the tool reaches it through ours. */
	path = str_printf("/proc/%d/fd/%d", (int)getpid(), fd);
	out = openat(tmp_dirfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (out < 0)
		return error_errno(err, -errno, "Failed to create a temporary file");
	r = image_run(
		(const char *const[]){ "/usr/bin/unsquashfs", "-lln", "-no-progress", path, NULL },
		-1, out, &output, err);
	if (r < 0)
		return r;
	if (r != 0) {
		last = last_line(output);
		return error_set(err, -EINVAL, "Invalid squashfs root filesystem: %s", last);
	}
	if (lseek(out, 0, SEEK_SET) < 0)
		return error_errno(err, -errno, "Failed to read the squashfs listing");
	f = fdopen(take_fd(out), "r");
	if (!f)
		return error_errno(err, -errno, "Failed to read the squashfs listing");

	/* "drwxr-xr-x 0/0 38 2024-01-01 00:00 squashfs-root/bin": a file name holding a
	 * newline can add lines but never hide one, so this errs on the side of refusing. */
	while (fgets(line, sizeof(line), f)) {
		char mode[16] = "", owner[64] = "", size[32] = "";
		uint64_t n;

		if (sscanf(line, "%15s %63s %31s", mode, owner, size) != 3 || strlen(mode) != 10 ||
		    !strchr("-dlcbps", mode[0]) || !strchr(owner, '/'))
			continue;
		if (mode[0] == 'c' || mode[0] == 'b')
			return error_set(err, -EINVAL,
					 "Squashfs root filesystem contains a device node");
		if (++entries > limits->max_entries)
			return error_set(err, -EINVAL,
					 "Squashfs root filesystem has more than %llu entries",
					 (unsigned long long)limits->max_entries);
		if (mode[0] == '-' && parse_u64(size, &n) == 0) {
			total += n;
			if (total > cap)
				return error_set(
					err, -EINVAL,
					"Squashfs root filesystem would unpack to more than %llu bytes",
					(unsigned long long)cap);
		}
	}
	return 0;
}
