/* images/pack.c: packing an instance's root filesystem into a unified image tarball
 * (publish).
 *
 * The tarball holds what LXD's publish writes: metadata.yaml (the one the instance was
 * created with, its properties and expiry replaced when asked, or a new one), templates/
 * and rootfs/. The root filesystem is read through the instance's idmapped mount, so ids
 * are shifted back to the container's own; device nodes and sockets are left out (no
 * container can use them from an image, and our importer refuses them).
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "images/images.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/yaml-out.h"

#include "lib/banned.h"

#define PACK_BLOCK     (256u << 10)
#define PROGRESS_EVERY (16u << 20)

/* The compressions publish accepts (compression_algorithm), as libarchive names them. */
static const char *const compressions[] = { "none", "gzip", "bzip2", "lzma", "xz", "zstd", NULL };

int image_compression_check(const char *name, struct error *err)
{
	if (str_is_empty(name))
		return 0;
	for (size_t i = 0; compressions[i]; i++)
		if (streq(compressions[i], name))
			return 0;
	return error_set(err, -EINVAL, "Unsupported compression algorithm '%s'",
			 str_is_single_line(name) ? name : "?");
}

struct pack {
	struct archive *w;
	uint32_t shift;
	image_progress_fn progress;
	void *progress_data;
	uint64_t done, reported;
	char *buf;
};

static void archive_writep(struct archive **a)
{
	if (*a)
		archive_write_free(*a);
}

static void archive_read_diskp(struct archive **a)
{
	if (*a)
		archive_read_free(*a);
}

static void linkresolverp(struct archive_entry_linkresolver **lr)
{
	if (*lr)
		archive_entry_linkresolver_free(*lr);
}

static void archive_entryp(struct archive_entry **e)
{
	if (*e)
		archive_entry_free(*e);
}

static int write_file(struct pack *p, const char *name, const char *data, size_t len,
		      struct error *err)
{
	autoclean(archive_entryp) struct archive_entry *e = archive_entry_new();

	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, (la_int64_t)len);
	archive_entry_set_mtime(e, time(NULL), 0);
	if (archive_write_header(p->w, e) != ARCHIVE_OK ||
	    archive_write_data(p->w, data, len) != (la_ssize_t)len)
		return error_set(err, -EIO, "Failed to write '%s' into the image: %s", name,
				 archive_error_string(p->w));
	return 0;
}

static uint32_t id_unshift(int64_t id, uint32_t shift)
{
	return id >= (int64_t)shift ? (uint32_t)(id - shift) : (uint32_t)id;
}

static int copy_data(struct pack *p, struct archive *disk, const char *name, struct error *err)
{
	for (;;) {
		la_ssize_t n = archive_read_data(disk, p->buf, PACK_BLOCK);

		if (n < 0)
			return error_set(err, -EIO, "Failed to read '%s': %s", name,
					 archive_error_string(disk));
		if (n == 0)
			return 0;
		if (archive_write_data(p->w, p->buf, (size_t)n) != n)
			return error_set(err, -EIO, "Failed to write '%s' into the image: %s", name,
					 archive_error_string(p->w));
		p->done += (uint64_t)n;
		if (p->progress && p->done - p->reported >= PROGRESS_EVERY) {
			p->reported = p->done;
			p->progress(p->progress_data, p->done, 0);
		}
	}
}

/* Adds the tree at path as prefix/... (prefix itself for path). */
static int pack_tree(struct pack *p, const char *path, const char *prefix, struct error *err)
{
	autoclean(archive_read_diskp) struct archive *disk = archive_read_disk_new();
	autoclean(linkresolverp) struct archive_entry_linkresolver *lr =
		archive_entry_linkresolver_new();
	size_t plen = strlen(path);
	int r;

	if (!disk || !lr)
		return error_set(err, -ENOMEM, "Failed to set up libarchive");
	archive_entry_linkresolver_set_strategy(lr, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED);
	archive_read_disk_set_symlink_physical(disk);
	/* ACLs and file flags do not travel in LXD images; xattrs do. */
	if (archive_read_disk_set_behavior(
		    disk, ARCHIVE_READDISK_NO_TRAVERSE_MOUNTS | ARCHIVE_READDISK_NO_ACL |
				  ARCHIVE_READDISK_NO_FFLAGS) != ARCHIVE_OK ||
	    archive_read_disk_open(disk, path) != ARCHIVE_OK)
		return error_set(err, -EIO, "Failed to read '%s': %s", path,
				 archive_error_string(disk));

	for (;;) {
		autoclean(archive_entryp) struct archive_entry *e = archive_entry_new();
		autoclean(archive_entryp) struct archive_entry *spare = NULL;
		autofree char *name = NULL;
		const char *src;
		mode_t type;

		r = archive_read_next_header2(disk, e);
		if (r == ARCHIVE_EOF)
			return 0;
		if (r < ARCHIVE_WARN)
			return error_set(err, -EIO, "Failed to read '%s': %s", path,
					 archive_error_string(disk));
		(void)archive_read_disk_descend(disk);
		src = archive_entry_pathname(e);
		if (!src || strncmp(src, path, plen) != 0)
			return error_set(err, -EIO, "Unexpected entry while reading '%s'", path);
		name = str_printf("%s%s", prefix, src + plen);
		type = archive_entry_filetype(e);
		if (type == AE_IFCHR || type == AE_IFBLK || type == AE_IFSOCK) {
			log_debug("Publish: leaving out '%s' (device node or socket)", name);
			continue;
		}
		archive_entry_set_pathname(e, name);
		archive_entry_set_uid(e, id_unshift(archive_entry_uid(e), p->shift));
		archive_entry_set_gid(e, id_unshift(archive_entry_gid(e), p->shift));
		archive_entry_set_uname(e, NULL);
		archive_entry_set_gname(e, NULL);
		archive_entry_linkify(lr, &e, &spare);
		if (!e)
			continue;
		if (archive_write_header(p->w, e) < ARCHIVE_WARN)
			return error_set(err, -EIO, "Failed to write '%s' into the image: %s", name,
					 archive_error_string(p->w));
		if (type == AE_IFREG && archive_entry_size(e) > 0) {
			r = copy_data(p, disk, name, err);
			if (r < 0)
				return r;
		}
	}
}

static json_t *metadata_to_json(const struct image_metadata *m)
{
	json_t *j = json_pack("{s:s,s:I}", "architecture", m->architecture, "creation_date",
			      (json_int_t)m->creation_date);

	if (m->expiry_date)
		json_object_set_new(j, "expiry_date", json_integer(m->expiry_date));
	json_object_set(j, "properties", m->properties);
	if (json_object_size(m->templates) > 0)
		json_object_set(j, "templates", m->templates);
	return j;
}

/* The metadata.yaml of the new image: the instance's own, with a new creation date and
 * what the request replaces, or a fresh one. */
static int metadata_build(const struct image_pack_args *a, char **ret, struct error *err)
{
	autoclean(image_metadata_freep) struct image_metadata *m = NULL;
	autoclose int vol_fd = open(a->vol_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	autojson json_t *j = NULL;
	int r;

	if (vol_fd < 0)
		return error_errno(err, -errno, "Failed to open '%s'", a->vol_path);
	r = image_metadata_load_at(vol_fd, &m, err);
	if (r == -ENOENT) {
		error_clear(err);
		m = xcalloc(1, sizeof(*m));
		m->architecture = xstrdup(a->architecture);
		m->properties = json_object();
		m->templates = json_object();
	} else if (r < 0) {
		return r;
	}
	m->creation_date = (int64_t)time(NULL);
	if (a->expires_at)
		m->expiry_date = a->expires_at;
	if (a->properties) {
		json_decref(m->properties);
		m->properties = json_deep_copy(a->properties);
	}
	j = metadata_to_json(m);
	return yaml_out_render(j, 0, ret, err);
}

int image_pack(const struct image_pack_args *a, int out_fd, image_progress_fn progress, void *data,
	       struct error *err)
{
	autoclean(archive_writep) struct archive *w = archive_write_new();
	autofree char *yaml = NULL, *templates = NULL, *buf = xmalloc(PACK_BLOCK);
	const char *compression = str_is_empty(a->compression) ? "gzip" : a->compression;
	struct pack p = {
		.w = w,
		.shift = a->shift,
		.progress = progress,
		.progress_data = data,
		.buf = buf,
	};
	struct stat st;
	int r;

	r = image_compression_check(compression, err);
	if (r < 0)
		return r;
	r = metadata_build(a, &yaml, err);
	if (r < 0)
		return r;
	if (!yaml)
		return error_set(err, -EIO, "Failed to write metadata.yaml");
	if (!w || archive_write_set_format_pax_restricted(w) != ARCHIVE_OK ||
	    (!streq(compression, "none") &&
	     archive_write_add_filter_by_name(w, compression) != ARCHIVE_OK) ||
	    archive_write_set_bytes_in_last_block(w, 1) != ARCHIVE_OK ||
	    archive_write_open_fd(w, out_fd) != ARCHIVE_OK)
		return error_set(err, -EIO, "Failed to start the image tarball: %s",
				 w ? archive_error_string(w) : "out of memory");

	r = write_file(&p, "metadata.yaml", yaml, strlen(yaml), err);
	if (r < 0)
		return r;
	templates = str_printf("%s/templates", a->vol_path);
	if (lstat(templates, &st) == 0 && S_ISDIR(st.st_mode)) {
		r = pack_tree(&p, templates, "templates", err);
		if (r < 0)
			return r;
	}
	r = pack_tree(&p, a->rootfs_path, "rootfs", err);
	if (r < 0)
		return r;
	if (archive_write_close(w) != ARCHIVE_OK)
		return error_set(err, -EIO, "Failed to finish the image tarball: %s",
				 archive_error_string(w));
	if (progress)
		progress(data, p.done, p.done);
	return 0;
}
