/* images/store.c: importing, deleting and describing stored images.
 *
 * An import stages everything in unnamed files (O_TMPFILE) inside images/, validates them,
 * and only then gives them their names and inserts the database row, both under the
 * database lock (db_transaction) so that two imports or an import and a delete of the same
 * fingerprint cannot interleave. A failed import leaves no file and no row behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "db/db-images.h"
#include "images/archive.h"
#include "images/images.h"
#include "lib/fs.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/multipart.h"
#include "lib/str.h"

#include "lib/banned.h"

static void evp_freep(EVP_MD_CTX **ctx)
{
	EVP_MD_CTX_free(*ctx);
}

bool image_fingerprint_prefix_is_valid(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > 64)
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

bool image_fingerprint_is_valid(const char *s)
{
	return image_fingerprint_prefix_is_valid(s) && strlen(s) == 64;
}

int image_alias_name_check(const char *name, struct error *err)
{
	if (str_is_empty(name))
		return error_set(err, -EINVAL, "Alias name is required");
	if (strlen(name) > 255)
		return error_set(err, -EINVAL, "Alias name is longer than 255 characters");
	if (!str_is_single_line(name))
		return error_set(err, -EINVAL, "Invalid alias name '?'");
	/* Slashes separate words, as in "debian/12" (LXD's image servers name them so): each
	 * word must be there and none may be "." or "..", so the name reads the same as the
	 * path /1.0/images/aliases/<name> that carries it. */
	for (const char *w = name;;) {
		const char *end = strchrnul(w, '/');
		size_t n = (size_t)(end - w);

		if (n == 0 || (n == 1 && w[0] == '.') || (n == 2 && w[0] == '.' && w[1] == '.'))
			return error_set(err, -EINVAL, "Invalid alias name '%s'", name);
		if (!*end)
			return 0;
		w = end + 1;
	}
}

/* --- splitting a multipart upload -------------------------------------------------------- */

/* The parser hands data over between every CR of a binary part: writes are gathered into
 * pending (flushed at SPLIT_FLUSH bytes and at each part's end), one syscall per MiB. */
#define SPLIT_FLUSH (1u << 20)

struct split {
	int meta_fd, rootfs_fd;
	EVP_MD_CTX *sha;
	size_t part;
	uint64_t size;
	const char *type;
	char *rootfs_filename;
	struct strbuf pending;
};

static int split_flush(struct split *s, struct error *err)
{
	int r;

	if (s->pending.len == 0)
		return 0;
	r = write_all_fd(s->part == 1 ? s->meta_fd : s->rootfs_fd, s->pending.buf, s->pending.len);
	if (r < 0)
		return error_errno(err, r, "Failed to store the uploaded image");
	if (EVP_DigestUpdate(s->sha, s->pending.buf, s->pending.len) != 1)
		return error_set(err, -EIO, "Failed to hash the uploaded image");
	s->size += s->pending.len;
	strbuf_reset(&s->pending);
	return 0;
}

static int split_begin(void *data, const char *name, const char *filename, struct error *err)
{
	struct split *s = data;

	s->part++;
	if (s->part == 1 && streq(name, "metadata"))
		return 0;
	if (s->part == 2 && (streq(name, "rootfs") || streq(name, "rootfs.img"))) {
		s->type = streq(name, "rootfs") ? "container" : "virtual-machine";
		s->rootfs_filename = xstrdup(filename);
		return 0;
	}
	return error_set(
		err, -EINVAL,
		"Invalid multipart image: expected parts 'metadata' then 'rootfs' or 'rootfs.img', got '%s'",
		str_is_single_line(name) ? name : "?");
}

static int split_data(void *data, const void *buf, size_t len, struct error *err)
{
	struct split *s = data;

	strbuf_add(&s->pending, buf, len);
	return s->pending.len >= SPLIT_FLUSH ? split_flush(s, err) : 0;
}

static int split_end(void *data, struct error *err)
{
	return split_flush(data, err);
}

static const struct multipart_ops split_ops = {
	.part_begin = split_begin,
	.part_data = split_data,
	.part_end = split_end,
};

static int split_body(int body, const char *content_type, struct split *s, struct error *err)
{
	int r;

	r = multipart_parse_fd(body, content_type, &split_ops, s, err);
	strbuf_release(&s->pending);
	if (r == 0 && s->part != 2)
		r = error_set(err, -EINVAL, "Invalid multipart image: expected 2 parts, got %zu",
			      s->part);
	return r;
}

/* --- placing files ----------------------------------------------------------------------- */

/* Gives the unnamed (or foreign) file fd the name dirfd/name, replacing a stale file of that
 * name: linked when it lives on the same file system, else copied. */
static int file_place(int fd, int dirfd, const char *name, struct error *err)
{
	autofree char *tmp = NULL, *rnd = random_hex(8);
	autofree char *proc = str_printf("/proc/self/fd/%d", fd);

	tmp = str_printf(".%s.%s", name, rnd);
	if (fsync(fd) < 0)
		return error_errno(err, -errno, "Failed to flush image '%s'", name);
	if (linkat(AT_FDCWD, proc, dirfd, tmp, AT_SYMLINK_FOLLOW) < 0) {
		autoclose int to = -1;

		if (errno != EXDEV)
			return error_errno(err, -errno, "Failed to store image '%s'", name);
		to = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (to < 0)
			return error_errno(err, -errno, "Failed to store image '%s'", name);
		if (lseek(fd, 0, SEEK_SET) < 0)
			goto copy_failed;
		for (;;) {
			ssize_t n = copy_file_range(fd, NULL, to, NULL, 1 << 30, 0);

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				goto copy_failed;
			if (n == 0)
				break;
		}
		if (fsync(to) < 0)
			goto copy_failed;
	}
	if (renameat(dirfd, tmp, dirfd, name) < 0) {
		int r = -errno;

		(void)unlinkat(dirfd, tmp, 0);
		return error_errno(err, r, "Failed to store image '%s'", name);
	}
	return 0;

copy_failed : {
	int r = -errno;

	(void)unlinkat(dirfd, tmp, 0);
	return error_errno(err, r, "Failed to store image '%s'", name);
}
}

struct place {
	int dirfd, meta_fd, rootfs_fd;
	const struct db_image *img;
	int64_t id;
};

static int place_tx(struct db *db, void *data, struct error *err)
{
	struct place *pl = data;
	autoclean(db_image_freep) struct db_image *old = NULL;
	autofree char *rootfs_name = str_printf("%s.rootfs", pl->img->fingerprint);
	int r;

	r = db_image_get(db, pl->img->fingerprint, &old, NULL);
	if (r == 0)
		return error_set(err, -EEXIST, "Image with same fingerprint already exists");

	r = file_place(pl->meta_fd, pl->dirfd, pl->img->fingerprint, err);
	if (r < 0)
		return r;
	if (pl->rootfs_fd >= 0)
		r = file_place(pl->rootfs_fd, pl->dirfd, rootfs_name, err);
	else if (unlinkat(pl->dirfd, rootfs_name, 0) < 0 && errno != ENOENT)
		r = error_errno(err, -errno, "Failed to remove stale '%s'", rootfs_name);
	if (r < 0)
		goto undo_meta;
	r = db_image_insert(db, pl->img, &pl->id, err);
	if (r < 0)
		goto undo_rootfs;
	return 0;

undo_rootfs:
	if (pl->rootfs_fd >= 0)
		(void)unlinkat(pl->dirfd, rootfs_name, 0);
undo_meta:
	(void)unlinkat(pl->dirfd, pl->img->fingerprint, 0);
	return r;
}

static int images_dir_open(const char *lodge_dir, int *ret, struct error *err)
{
	autofree char *path = str_printf("%s/images", lodge_dir);
	int fd;

	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return error_errno(err, -errno, "Failed to create '%s'", path);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return error_errno(err, -errno, "Failed to open '%s'", path);
	*ret = fd;
	return 0;
}

static int rootfs_check(int fd, int dirfd, const char *type, const struct image_limits *limits,
			struct error *err)
{
	struct image_archive_info info = { .metadata = NULL };
	int r;

	if (streq(type, "virtual-machine"))
		return 0; /* a disk image: its content is the VM's business */
	switch (image_file_format(fd)) {
	case IMAGE_FILE_SQUASHFS:
		r = image_squashfs_check(fd, dirfd, limits, err);
		break;
	case IMAGE_FILE_TAR:
		r = image_archive_check(fd, IMAGE_ARCHIVE_ROOTFS, limits, &info, err);
		image_archive_info_release(&info);
		if (r < 0)
			(void)error_prefix(err, "Invalid root filesystem");
		break;
	default:
		r = error_set(err, -EINVAL,
			      "Unsupported root filesystem format: expected squashfs or a tarball");
		break;
	}
	return r;
}

static char *sha_hex(EVP_MD_CTX *sha)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	if (EVP_DigestFinal_ex(sha, md, &len) != 1)
		abort();
	return hex_encode(md, len);
}

int image_import_limited(struct db *db, const char *lodge_dir, const struct image_upload *up,
			 const struct image_limits *limits, struct db_image **ret,
			 char **ret_fingerprint, uint64_t *ret_size, struct error *err)
{
	autoclean(evp_freep) EVP_MD_CTX *sha = EVP_MD_CTX_new();
	autoclean(db_image_freep) struct db_image *img = NULL;
	struct image_archive_info info = { .metadata = NULL };
	struct split s = { .meta_fd = -1, .rootfs_fd = -1 };
	autoclose int dirfd = -1;
	autofree char *fp = NULL;
	const char *filename = up->filename;
	struct place pl;
	struct stat st;
	const char *key;
	json_t *value;
	int r;

	if (!sha || EVP_DigestInit_ex(sha, EVP_sha256(), NULL) != 1)
		return error_set(err, -ENOMEM, "Failed to set up SHA-256");
	r = images_dir_open(lodge_dir, &dirfd, err);
	if (r < 0)
		return r;

	if (multipart_is_form_data(up->content_type)) {
		s.sha = sha;
		s.meta_fd = openat(dirfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
		s.rootfs_fd = openat(dirfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
		if (s.meta_fd < 0 || s.rootfs_fd < 0) {
			r = error_errno(err, -errno,
					"Failed to create a temporary file in images/");
			goto out;
		}
		r = split_body(up->fd, up->content_type, &s, err);
		if (r < 0)
			goto out;
		fp = sha_hex(sha);
		if (!str_is_empty(s.rootfs_filename))
			filename = s.rootfs_filename;
	} else {
		if (fstat(up->fd, &st) < 0) {
			r = error_errno(err, -errno, "Failed to inspect the uploaded image");
			goto out;
		}
		s.size = (uint64_t)st.st_size;
		r = image_archive_check_hash(up->fd, IMAGE_ARCHIVE_UNIFIED, limits, sha, &info,
					     err);
		if (r < 0)
			goto out;
		fp = sha_hex(sha);
	}
	if (ret_fingerprint)
		*ret_fingerprint = xstrdup(fp);
	if (ret_size)
		*ret_size = s.size;
	if (!str_is_empty(up->fingerprint) && !streq(up->fingerprint, fp)) {
		r = error_set(err, -EINVAL, "Fingerprints don't match, got %s expected %s", fp,
			      str_is_single_line(up->fingerprint) ? up->fingerprint : "?");
		goto out;
	}

	if (s.meta_fd >= 0) {
		r = image_archive_check(s.meta_fd, IMAGE_ARCHIVE_METADATA, limits, &info, err);
		if (r < 0)
			goto out;
		info.type = s.type;
		r = rootfs_check(s.rootfs_fd, dirfd, s.type, limits, err);
		if (r < 0)
			goto out;
	}

	img = xcalloc(1, sizeof(*img));
	img->fingerprint = xstrdup(fp);
	img->type = xstrdup(info.type);
	img->filename = xstrdup(filename && str_is_single_line(filename) ? filename : "");
	img->size = s.size;
	img->public = up->public;
	img->architecture = xstrdup(info.metadata->architecture);
	img->properties = json_deep_copy(info.metadata->properties);
	json_object_foreach(up->properties, key, value)
	{
		if (json_is_string(value))
			json_object_set(img->properties, key, value);
	}
	img->profiles = up->profiles ? json_deep_copy(up->profiles)
				     : json_string_array((const char *[]){ "default", NULL });
	img->cached = up->cached;
	img->auto_update = up->auto_update;
	img->update_source = up->update_source ? json_deep_copy(up->update_source) : json_object();
	img->created_at = info.metadata->creation_date;
	img->expires_at = info.metadata->expiry_date;
	img->uploaded_at = (int64_t)time(NULL);

	pl = (struct place){
		.dirfd = dirfd,
		.meta_fd = s.meta_fd >= 0 ? s.meta_fd : up->fd,
		.rootfs_fd = s.rootfs_fd,
		.img = img,
	};
	r = db_transaction(db, place_tx, &pl, err);
	if (r < 0)
		goto out;
	img->id = pl.id;
	if (ret)
		*ret = take_ptr(img);
	r = 0;
out:
	image_archive_info_release(&info);
	closep(&s.meta_fd);
	closep(&s.rootfs_fd);
	free(s.rootfs_filename);
	return r;
}

int image_import(struct db *db, const char *lodge_dir, const struct image_upload *up,
		 struct db_image **ret, char **ret_fingerprint, uint64_t *ret_size,
		 struct error *err)
{
	return image_import_limited(db, lodge_dir, up, &image_limits_default, ret, ret_fingerprint,
				    ret_size, err);
}

/* --- deleting ---------------------------------------------------------------------------- */

struct removal {
	const char *lodge_dir;
	const char *fingerprint;
};

static int delete_tx(struct db *db, void *data, struct error *err)
{
	struct removal *rm = data;
	autofree char *meta = str_printf("%s/images/%s", rm->lodge_dir, rm->fingerprint);
	autofree char *rootfs = str_printf("%s.rootfs", meta);
	autofree char *parts = str_printf("%s.parts", meta); /* images/streams.c's cache */
	int r;

	r = db_image_delete(db, rm->fingerprint, err);
	if (r < 0)
		return r;
	/* Under the lock, so an import of the same image cannot slip in between. A file
	 * that will not go away is garbage, not a reason to keep the image. */
	if (unlink(meta) < 0 && errno != ENOENT)
		log_warn_errno(-errno, "Failed to remove '%s', ignoring", meta);
	if (unlink(rootfs) < 0 && errno != ENOENT)
		log_warn_errno(-errno, "Failed to remove '%s', ignoring", rootfs);
	if (unlink(parts) < 0 && errno != ENOENT)
		log_warn_errno(-errno, "Failed to remove '%s', ignoring", parts);
	return 0;
}

int image_delete(struct db *db, const char *lodge_dir, const char *fingerprint, struct error *err)
{
	struct removal rm = { lodge_dir, fingerprint };

	if (!image_fingerprint_is_valid(fingerprint))
		return error_set(err, -ENOENT, "Image '%s' not found", fingerprint);
	return db_transaction(db, delete_tx, &rm, err);
}

/* --- reading ----------------------------------------------------------------------------- */

int image_files_open(const char *lodge_dir, const char *fingerprint, int *ret_meta, int *ret_rootfs,
		     struct error *err)
{
	autofree char *meta_path = str_printf("%s/images/%s", lodge_dir, fingerprint);
	autofree char *rootfs_path = str_printf("%s.rootfs", meta_path);
	autoclose int meta = -1, rootfs = -1;

	if (!image_fingerprint_is_valid(fingerprint))
		return error_set(err, -EINVAL, "Invalid image fingerprint '%s'", fingerprint);
	meta = open(meta_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (meta < 0)
		return error_errno(err, -errno, "Failed to open the file of image '%s'",
				   fingerprint);
	rootfs = open(rootfs_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (rootfs < 0 && errno != ENOENT)
		return error_errno(err, -errno, "Failed to open the root filesystem of image '%s'",
				   fingerprint);
	*ret_meta = take_fd(meta);
	*ret_rootfs = take_fd(rootfs);
	return 0;
}

int image_multipart_write(int meta, int rootfs, const char *type, const char *fingerprint, int out,
			  const char *boundary, struct error *err)
{
	autofree char *meta_name = str_printf("meta-%s%s", fingerprint, image_file_extension(meta));
	autofree char *rootfs_name = str_printf("%s%s", fingerprint, image_file_extension(rootfs));
	int r;

	r = multipart_write_file(out, boundary, "metadata", meta_name, meta);
	if (r == 0)
		r = multipart_write_file(out, boundary,
					 streq(type, "virtual-machine") ? "rootfs.img" : "rootfs",
					 rootfs_name, rootfs);
	if (r == 0)
		r = multipart_write_end(out, boundary);
	if (r < 0)
		return error_errno(err, r, "Failed to write the multipart body of image '%s'",
				   fingerprint);
	return 0;
}

/* Go's time.Unix(sec, 0) as LXD prints image times: 0 is the epoch, not the zero time. */
static json_t *unix_time_json(int64_t sec)
{
	struct tm tm;
	time_t t = (time_t)sec;
	char buf[64];

	gmtime_r(&t, &tm);
	if (!snprintf_ok(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec))
		abort();
	return json_string(buf);
}

json_t *image_to_json(const struct db_image *img, struct db_image_alias *const *aliases,
		      size_t n_aliases)
{
	json_t *j = json_object();
	json_t *a = json_array();

	for (size_t i = 0; i < n_aliases; i++)
		json_array_append_new(a, json_pack("{s:s,s:s}", "name", aliases[i]->name,
						   "description", aliases[i]->description));
	json_object_set_new(j, "auto_update", json_boolean(img->auto_update));
	json_object_set_new(j, "properties", json_deep_copy(img->properties));
	json_object_set_new(j, "public", json_boolean(img->public));
	json_object_set_new(j, "expires_at", unix_time_json(img->expires_at));
	json_object_set_new(j, "profiles", json_deep_copy(img->profiles));
	json_object_set_new(j, "aliases", a);
	json_object_set_new(j, "architecture", json_string(img->architecture));
	json_object_set_new(j, "cached", json_boolean(img->cached));
	json_object_set_new(j, "filename", json_string(img->filename));
	json_object_set_new(j, "fingerprint", json_string(img->fingerprint));
	json_object_set_new(j, "size", json_integer((json_int_t)img->size));
	if (json_object_size(img->update_source) > 0)
		json_object_set_new(j, "update_source", json_deep_copy(img->update_source));
	json_object_set_new(j, "type", json_string(img->type));
	json_object_set_new(j, "created_at", unix_time_json(img->created_at));
	json_object_set_new(j, "last_used_at",
			    img->last_used_at ? unix_time_json(img->last_used_at)
					      : json_string("0001-01-01T00:00:00Z"));
	json_object_set_new(j, "uploaded_at", unix_time_json(img->uploaded_at));
	return j;
}

int image_time_parse(const char *s, int64_t *ret)
{
	int year, mon, day, hour, min, sec, consumed = 0;
	const char *p;
	struct tm tm = { 0 };
	int64_t t, offset = 0;

	if (!s ||
	    sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &year, &mon, &day, &hour, &min, &sec,
		   &consumed) != 6 ||
	    consumed != 19)
		return -EINVAL;
	p = s + consumed;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return -EINVAL;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int oh, om, n = 0;

		if (sscanf(p + 1, "%2d:%2d%n", &oh, &om, &n) != 2 || n != 5)
			return -EINVAL;
		offset = (int64_t)(oh * 3600 + om * 60) * (*p == '+' ? 1 : -1);
		p += 6;
	} else {
		return -EINVAL;
	}
	if (*p || mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60)
		return -EINVAL;
	if (year == 1 && mon == 1 && day == 1 && hour == 0 && min == 0 && sec == 0) {
		*ret = 0; /* Go's zero time: unset */
		return 0;
	}
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec;
	t = (int64_t)timegm(&tm);
	*ret = t - offset;
	return 0;
}

int image_properties_parse(const json_t *v, json_t **ret, struct error *err)
{
	const char *key;
	json_t *value;

	if (!json_is_object(v))
		return error_set(err, -EINVAL, "Invalid properties: expected an object of strings");
	json_object_foreach((json_t *)v, key, value)
	{
		if (!json_is_string(value))
			return error_set(err, -EINVAL, "Invalid property '%s': expected a string",
					 key);
	}
	*ret = json_deep_copy(v);
	return 0;
}

int image_profiles_parse(const json_t *v, json_t **ret, struct error *err)
{
	size_t i;
	json_t *p;

	if (!json_is_array(v))
		return error_set(err, -EINVAL, "Invalid 'profiles': expected a list of names");
	json_array_foreach(v, i, p)
	{
		if (!json_is_string(p) || !object_name_is_valid(json_string_value(p)))
			return error_set(err, -EINVAL, "Invalid profile name in 'profiles'");
	}
	*ret = json_deep_copy(v);
	return 0;
}

int image_apply_changes(struct db_image *img, const json_t *body, bool patch, struct error *err)
{
	autojson json_t *properties = NULL, *profiles = NULL;
	const json_t *v;
	const char *expires;
	int64_t expires_at = img->expires_at;
	bool public = patch ? img->public : false, auto_update = patch ? img->auto_update : false;
	int r;

	v = json_object_get(body, "public");
	if (v && !json_is_null(v) && !json_is_boolean(v))
		return error_set(err, -EINVAL, "Invalid 'public': expected a boolean");
	if (json_is_boolean(v))
	public = json_is_true(v);
	v = json_object_get(body, "auto_update");
	if (v && !json_is_null(v) && !json_is_boolean(v))
		return error_set(err, -EINVAL, "Invalid 'auto_update': expected a boolean");
	if (json_is_boolean(v))
		auto_update = json_is_true(v);

	v = json_object_get(body, "properties");
	if (v && !json_is_null(v)) {
		r = image_properties_parse(v, &properties, err);
		if (r < 0)
			return r;
		if (patch) {
			json_t *merged = json_deep_copy(img->properties);

			json_object_update(merged, properties);
			json_decref(properties);
			properties = merged;
		}
	} else {
		properties = patch ? json_deep_copy(img->properties) : json_object();
	}

	v = json_object_get(body, "profiles");
	if (v && !json_is_null(v)) {
		r = image_profiles_parse(v, &profiles, err);
		if (r < 0)
			return r;
	} else {
		profiles = patch ? json_deep_copy(img->profiles)
				 : json_string_array((const char *[]){ "default", NULL });
	}

	v = json_object_get(body, "expires_at");
	if (v && !json_is_null(v)) {
		expires = json_string_value(v);
		if (!expires || image_time_parse(expires, &expires_at) < 0)
			return error_set(err, -EINVAL,
					 "Invalid 'expires_at': expected an RFC 3339 time");
		/* As LXD: the zero time leaves the expiry as it was. */
		if (expires_at == 0)
			expires_at = img->expires_at;
	}

	img->public = public;
	img->auto_update = auto_update;
	img->expires_at = expires_at;
	json_decref(img->properties);
	img->properties = take_ptr(properties);
	json_decref(img->profiles);
	img->profiles = take_ptr(profiles);
	return 0;
}
