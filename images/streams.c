/* images/streams.c: the public images as a simplestreams tree, the format of `images:`
 * servers, so that any LXD or Incus host can add lodged as a --protocol=simplestreams
 * remote.
 *
 * streams/v1/index.json names one "image-downloads" stream, streams/v1/images.json.
 * There each public image is a version ("YYYYMMDD_HHMM" of its upload) of the product
 * "<os>:<release>:<arch>:<variant>" from its properties ("lodge:<fingerprint>:..." when it
 * has none); a unified image is one "lxd_combined.tar.gz" item (LXD's simplestreams client
 * takes its sha256 as the fingerprint and detects the real compression), a split image a
 * "lxd.tar.xz" metadata item plus its root filesystem ("squashfs", "root.tar.xz" or
 * "disk-kvm.img"), with the combined fingerprint. The files are served under
 * streams/v1/images/<fingerprint>/<ftype>.
 *
 * Each item carries the sha256 of its own file, which for split images is not the
 * fingerprint: those are computed once and kept beside the image as <fingerprint>.parts.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "db/db-images.h"
#include "images/images.h"
#include "lib/fs.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/str.h"

#include "lib/banned.h"

#define FILES_PATH "streams/v1/images"

static void evp_freep(EVP_MD_CTX **ctx)
{
	EVP_MD_CTX_free(*ctx);
}

int image_file_sha256(int fd, char **ret, struct error *err)
{
	autoclean(evp_freep) EVP_MD_CTX *sha = EVP_MD_CTX_new();
	autofree char *buf = xmalloc(1u << 20);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned len = 0;
	off_t off = 0;

	if (!sha || EVP_DigestInit_ex(sha, EVP_sha256(), NULL) != 1)
		return error_set(err, -ENOMEM, "Failed to set up SHA-256");
	for (;;) {
		ssize_t n = pread(fd, buf, 1u << 20, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return error_errno(err, -errno, "Failed to read an image file");
		if (n == 0)
			break;
		EVP_DigestUpdate(sha, buf, (size_t)n);
		off += n;
	}
	if (EVP_DigestFinal_ex(sha, md, &len) != 1)
		return error_set(err, -EIO, "Failed to hash an image file");
	*ret = hex_encode(md, len);
	return 0;
}

/* The ftype of a split image's root filesystem file. */
static const char *rootfs_ftype(int fd, const char *type)
{
	const char *ext = image_file_extension(fd);

	if (streq(type, "virtual-machine"))
		return "disk-kvm.img";
	return streq(ext, ".squashfs") ? "squashfs" : "root.tar.xz";
}

/* The sha256 of each part of a split image, from <fp>.parts or computed and kept there. */
static int parts_hashes(const char *lodge_dir, const char *fp, int meta, int rootfs, json_t **ret,
			struct error *err)
{
	autofree char *path = str_printf("%s/images/%s.parts", lodge_dir, fp);
	autofree char *data = NULL, *meta_sha = NULL, *rootfs_sha = NULL, *text = NULL;
	autojson json_t *j = NULL;
	int r;

	if (read_file(path, 4096, &data, NULL, NULL) == 0 &&
	    json_parse(data, strlen(data), false, &j, NULL) == 0 &&
	    json_is_string(json_object_get(j, "meta")) &&
	    json_is_string(json_object_get(j, "rootfs"))) {
		*ret = take_ptr(j);
		return 0;
	}
	r = image_file_sha256(meta, &meta_sha, err);
	if (r == 0)
		r = image_file_sha256(rootfs, &rootfs_sha, err);
	if (r < 0)
		return r;
	j = json_pack("{s:s,s:s}", "meta", meta_sha, "rootfs", rootfs_sha);
	text = json_dumps(j, JSON_COMPACT);
	/* A cache: failing to keep it costs a hash next time, nothing more. */
	if (write_file_atomic(path, text, strlen(text), 0600, NULL) < 0)
		log_debug("Failed to keep the part hashes of image '%s', ignoring", fp);
	*ret = take_ptr(j);
	return 0;
}

static json_t *item(const char *fp, const char *ftype, const char *sha, uint64_t size)
{
	autofree char *path = str_printf(FILES_PATH "/%s/%s", fp, ftype);

	return json_pack("{s:s,s:s,s:s,s:I}", "ftype", ftype, "sha256", sha, "path", path, "size",
			 (json_int_t)size);
}

/* The items of one image's version. */
static int image_items(const char *lodge_dir, const struct db_image *img, json_t **ret,
		       struct error *err)
{
	autoclose int meta = -1, rootfs = -1;
	autojson json_t *hashes = NULL;
	struct stat mst, rst;
	const char *ftype, *combined_key;
	json_t *items, *m;
	int r;

	r = image_files_open(lodge_dir, img->fingerprint, &meta, &rootfs, err);
	if (r < 0)
		return r;
	if (fstat(meta, &mst) < 0)
		return error_errno(err, -errno, "Failed to inspect image '%s'", img->fingerprint);
	if (rootfs < 0) {
		/* LXD's client reads a combined item as a container image. */
		if (!streq(img->type, "container"))
			return -ENOENT;
		*ret = json_pack("{s:o}", "lxd_combined.tar.gz",
				 item(img->fingerprint, "lxd_combined.tar.gz", img->fingerprint,
				      (uint64_t)mst.st_size));
		return 0;
	}
	if (fstat(rootfs, &rst) < 0)
		return error_errno(err, -errno, "Failed to inspect image '%s'", img->fingerprint);
	r = parts_hashes(lodge_dir, img->fingerprint, meta, rootfs, &hashes, err);
	if (r < 0)
		return r;
	ftype = rootfs_ftype(rootfs, img->type);
	combined_key = streq(ftype, "squashfs")	      ? "combined_squashfs_sha256"
		       : streq(ftype, "disk-kvm.img") ? "combined_disk-kvm-img_sha256"
						      : "combined_rootxz_sha256";
	m = item(img->fingerprint, "lxd.tar.xz", json_get_str(hashes, "meta"),
		 (uint64_t)mst.st_size);
	json_object_set_new(m, combined_key, json_string(img->fingerprint));
	items = json_pack("{s:o}", "lxd.tar.xz", m);
	json_object_set_new(items, ftype,
			    item(img->fingerprint, ftype, json_get_str(hashes, "rootfs"),
				 (uint64_t)rst.st_size));
	*ret = items;
	return 0;
}

static const char *prop(const struct db_image *img, const char *key, const char *dflt)
{
	const char *v = json_get_str(img->properties, key);

	return str_is_empty(v) ? dflt : v;
}

static char *version_name(int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	char buf[32];

	gmtime_r(&tt, &tm);
	if (strftime(buf, sizeof(buf), "%Y%m%d_%H%M", &tm) == 0)
		abort();
	return xstrdup(buf);
}

/* Adds img to products, as a version of its product. */
static int product_add(json_t *products, const char *lodge_dir, const struct db_image *img,
		       struct db_image_alias *const *aliases, size_t n_aliases, struct error *err)
{
	const char *os = prop(img, "os", NULL), *release = prop(img, "release", NULL);
	const char *variant = prop(img, "variant", "default");
	autofree char *key = NULL, *version = version_name(img->uploaded_at);
	autojson json_t *items = NULL;
	struct strbuf names = STRBUF_INIT;
	json_t *product, *versions;
	int r;

	r = image_items(lodge_dir, img, &items, err);
	if (r < 0)
		return r;
	if (os && release)
		key = str_printf("%s:%s:%s:%s", os, release, img->architecture, variant);
	else
		key = str_printf("lodge:%.12s:%s:%s", img->fingerprint, img->architecture, variant);
	product = json_object_get(products, key);
	if (!product) {
		product = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:{}}", "aliases", "", "arch",
				    img->architecture, "os", os ? os : "lodge", "release",
				    release ? release : img->fingerprint, "release_title",
				    release ? release : "", "variant", variant, "versions");
		json_object_set_new(products, key, product);
	}
	for (size_t i = 0; i < n_aliases; i++)
		strbuf_addf(&names, "%s%s", names.len ? "," : "", aliases[i]->name);
	if (names.len) {
		const char *old = json_get_str(product, "aliases");
		autofree char *all = str_printf("%s%s%s", old, *old ? "," : "", strbuf_str(&names));

		json_object_set_new(product, "aliases", json_string(all));
	}
	strbuf_release(&names);
	versions = json_object_get(product, "versions");
	/* Two uploads in the same minute: the later one gets a version of its own. */
	while (json_object_get(versions, version)) {
		char *longer = str_printf("%s0", version);

		free(version);
		version = longer;
	}
	json_object_set_new(versions, version, json_pack("{s:O}", "items", items));
	return 0;
}

int image_streams_build(struct db *db, const char *lodge_dir, json_t **ret_index,
			json_t **ret_images, struct error *err)
{
	struct db_image **images = NULL;
	struct db_image_alias **aliases = NULL;
	size_t n_images = 0, n_aliases = 0;
	json_t *products = json_object(), *names;
	const char *key;
	json_t *v;
	int r;

	r = db_image_list(db, &images, &n_images, err);
	if (r == 0)
		r = db_image_alias_list(db, NULL, &aliases, &n_aliases, err);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < n_images; i++) {
		struct db_image_alias **mine =
			xcalloc(n_aliases + 1, sizeof(struct db_image_alias *));
		struct error e = ERROR_INIT;
		size_t k = 0;

		if (!images[i]->public) {
			free(mine);
			continue;
		}
		for (size_t j = 0; j < n_aliases; j++)
			if (streq(aliases[j]->target, images[i]->fingerprint))
				mine[k++] = aliases[j];
		r = product_add(products, lodge_dir, images[i], mine, k, &e);
		free(mine);
		/* One unreadable image does not hide the others. */
		if (r < 0 && r != -ENOENT)
			log_warn("Leaving image '%s' out of the simplestreams tree: %s",
				 images[i]->fingerprint, error_message(&e));
		error_clear(&e);
	}
	r = 0;
	names = json_array();
	json_object_foreach(products, key, v)
	{
		json_array_append_new(names, json_string(key));
	}
	*ret_index =
		json_pack("{s:s,s:{s:{s:s,s:s,s:s,s:o}}}", "format", "index:1.0", "index", "images",
			  "datatype", "image-downloads", "path", "streams/v1/images.json", "format",
			  "products:1.0", "products", names);
	*ret_images = json_pack("{s:s,s:s,s:s,s:O}", "content_id", "images", "datatype",
				"image-downloads", "format", "products:1.0", "products", products);
out:
	json_decref(products);
	db_images_free(images, n_images);
	db_image_aliases_free(aliases, n_aliases);
	return r;
}

int image_streams_file_open(struct db *db, const char *lodge_dir, const char *fingerprint,
			    const char *file, int *ret_fd, struct error *err)
{
	autoclean(db_image_freep) struct db_image *img = NULL;
	autoclose int meta = -1, rootfs = -1;
	const char *want;
	int r;

	if (!image_fingerprint_is_valid(fingerprint) ||
	    db_image_get(db, fingerprint, &img, NULL) < 0 || !img->public)
		return error_set(err, -ENOENT, "Image not found");
	r = image_files_open(lodge_dir, img->fingerprint, &meta, &rootfs, err);
	if (r < 0)
		return r;
	want = rootfs < 0 ? "lxd_combined.tar.gz" : "lxd.tar.xz";
	if (streq(file, want)) {
		*ret_fd = take_fd(meta);
		return 0;
	}
	if (rootfs >= 0 && streq(file, rootfs_ftype(rootfs, img->type))) {
		*ret_fd = take_fd(rootfs);
		return 0;
	}
	return error_set(err, -ENOENT, "Image file not found");
}
