/* images/pull.c: copying an image from another server, over HTTPS.
 *
 * Two protocols, as LXD's clients speak them:
 * - "lxd": the server's REST API. The alias (if any) gives the fingerprint; the image's
 *   record and then GET /1.0/images/<fp>/export (with ?secret= for a private image) give
 *   the files, unified or as a multipart body.
 * - "simplestreams": streams/v1/index.json names the image-downloads products file; the
 *   product whose aliases hold the alias (or whose items carry the fingerprint) for this
 *   host's architecture gives its newest version's items: "lxd_combined.tar.gz", or
 *   "lxd.tar.xz" with "squashfs" (preferred) or "root.tar.xz" ("disk-kvm.img" for VMs).
 *   Each file must match its item's sha256.
 * Whatever comes in then goes through image_import() like an upload, which checks the
 * archives and that the result has the fingerprint the server promised.
 *
 * The server is verified by the certificate the request pins (source.certificate, its
 * SHA-256), or else by the system CA store and its host name. Every byte from the server is
 * outside input: JSON bodies are capped, downloads go to unnamed files under images/.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "images/images.h"
#include "lib/http-client.h"
#include "lib/http-tls.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/lxd-client.h"
#include "lib/multipart.h"
#include "lib/str.h"
#include "lib/tls-cert.h"

#include "lib/banned.h"

#define PULL_TIMEOUT_MS 30000
#define PULL_JSON_MAX	(64u << 20)

struct pull {
	struct http_url url;
	struct http_tls_options tls;
	char *pinned; /* fingerprint of source->certificate */
	const char *images_dir;
	struct db *db;
};

/* True when the store already holds the image with full fingerprint fp: nothing to
 * download (and a one-time secret is not spent). */
static bool pull_have(const struct pull *p, const char *fp)
{
	autoclean(db_image_freep) struct db_image *img = NULL;

	return db_image_get(p->db, fp, &img, NULL) == 0 && streq(img->fingerprint, fp);
}

static void pull_release(struct pull *p)
{
	http_url_release(&p->url);
	free(p->pinned);
}

static int pull_init(struct pull *p, const struct image_pull_source *src, struct error *err)
{
	int r;

	if (str_is_empty(src->server))
		return error_set(err, -EINVAL, "The image source has no server");
	r = http_url_parse(src->server, &p->url, err);
	if (r < 0)
		return r;
	if (!str_is_empty(src->certificate)) {
		r = tls_cert_fingerprint(src->certificate, &p->pinned, err);
		if (r < 0) {
			(void)error_prefix(err, "Invalid source certificate");
			return r;
		}
		p->tls = (struct http_tls_options){ .verify = HTTP_TLS_VERIFY_FINGERPRINT,
						    .fingerprint = p->pinned };
	} else {
		p->tls = (struct http_tls_options){ .verify = HTTP_TLS_VERIFY_CA };
	}
	return 0;
}

/* GET path (under the server's URL path) into *ret (body in memory) or, when out_fd >= 0,
 * into out_fd. A non-2xx answer fails with the server's message when it sent an LXD
 * envelope. */
static int pull_get(struct pull *p, const char *path, int out_fd, uint64_t max_fd,
		    struct http_response *ret, struct error *err)
{
	autoclean(http_conn_freep) struct http_conn *conn = NULL;
	autofree char *target = str_printf("%s%s", p->url.path, path);
	autoclean(lxd_response_release) struct lxd_response lresp = LXD_RESPONSE_INIT;
	/* LXD's "direct" URL protocol asks what the server may pick from. */
	const char *headers[] = { "User-Agent: lodge", "LXD-Server-Architectures: x86_64,i686",
				  "LXD-Server-Version: 5.0.2", NULL };
	int r;

	r = http_conn_new_tls(p->url.host, p->url.port, &p->tls, PULL_TIMEOUT_MS, &conn, NULL, err);
	if (r < 0) {
		(void)error_prefix(err, "Failed to connect to '%s'", p->url.host);
		return r;
	}
	r = http_do(conn,
		    &(struct http_request){
			    .method = "GET",
			    .target = *target ? target : "/",
			    .host = p->url.host,
			    .headers = headers,
			    .body_to_fd = out_fd >= 0,
			    .response_fd = out_fd,
			    .max_body = PULL_JSON_MAX,
			    .max_fd_body = max_fd,
		    },
		    ret, err);
	if (r < 0) {
		(void)error_prefix(err, "Failed to fetch '%s'", path);
		return r;
	}
	if (ret->status / 100 == 2)
		return 0;
	r = lxd_response_parse(ret->status, ret->body, ret->body_len, &lresp, err);
	return r < 0 ? r
		     : error_set(err, -EIO, "The server answered %d for '%s'", ret->status, path);
}

/* An LXD API GET: the envelope's metadata. */
static int pull_get_api(struct pull *p, const char *path, json_t **ret, struct error *err)
{
	autoclean(http_response_release) struct http_response resp = HTTP_RESPONSE_INIT;
	autoclean(lxd_response_release) struct lxd_response lresp = LXD_RESPONSE_INIT;
	int r;

	r = pull_get(p, path, -1, 0, &resp, err);
	if (r == 0)
		r = lxd_response_parse(resp.status, resp.body, resp.body_len, &lresp, err);
	if (r < 0)
		return r;
	*ret = take_ptr(lresp.metadata);
	return 0;
}

/* A plain JSON document (simplestreams). */
static int pull_get_json(struct pull *p, const char *path, json_t **ret, struct error *err)
{
	autoclean(http_response_release) struct http_response resp = HTTP_RESPONSE_INIT;
	int r;

	r = pull_get(p, path, -1, 0, &resp, err);
	if (r == 0)
		r = json_parse(resp.body ? resp.body : "", resp.body_len, false, ret, err);
	if (r < 0) {
		(void)error_prefix(err, "Invalid '%s'", path);
		return r;
	}
	return 0;
}

/* The most bytes a download may bring: the size the server announced (a JSON number) plus
 * slack for a multipart wrapping, or the cap on any image when it announced none. */
static uint64_t download_cap(const json_t *size, uint64_t slack)
{
	json_int_t n = json_integer_value(size);

	if (!json_is_integer(size) || n <= 0 || (uint64_t)n > image_limits_default.max_unpacked)
		return image_limits_default.max_unpacked;
	return (uint64_t)n + slack;
}

/* Downloads path to a new unnamed file in images/ (*ret_fd), with its Content-Type. */
static int pull_download(struct pull *p, const char *path, uint64_t max, int *ret_fd,
			 char **ret_ctype, struct error *err)
{
	autoclean(http_response_release) struct http_response resp = HTTP_RESPONSE_INIT;
	autoclose int fd = open(p->images_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	const char *ctype;
	int r;

	if (fd < 0)
		return error_errno(err, -errno, "Failed to create a temporary file in images/");
	r = pull_get(p, path, fd, max, &resp, err);
	if (r < 0)
		return r;
	ctype = http_response_header(&resp, "Content-Type");
	if (ret_ctype)
		*ret_ctype = ctype ? xstrdup(ctype) : NULL;
	*ret_fd = take_fd(fd);
	return 0;
}

/* --- the LXD protocol --------------------------------------------------------------------- */

static int pull_lxd(struct pull *p, const struct image_pull_source *src, char **ret_fp,
		    char **ret_ctype, int *ret_fd, struct error *err)
{
	autojson json_t *alias = NULL, *info = NULL;
	autofree char *path = NULL, *query = NULL, *fp = NULL;
	const char *name = str_is_empty(src->alias) ? src->fingerprint : src->alias;
	const char *target;
	int r;

	/* As LXD's image download: the name (alias, or the fingerprint field, which clients
	 * also fill with an alias) is tried as an alias first, then as a fingerprint. */
	if (str_is_empty(name) || !str_is_single_line(name))
		return error_set(err, -EINVAL, "The image source names no alias or fingerprint");
	{
		autofree char *esc = url_encode_path(name);

		path = str_printf("/1.0/images/aliases/%s", esc);
	}
	r = pull_get_api(p, path, &alias, err);
	if (r == -ENOENT && image_fingerprint_prefix_is_valid(name)) {
		error_clear(err);
		r = 0;
	}
	if (r < 0)
		return r;
	target = alias ? json_get_str(alias, "target") : name;
	if (!target || !image_fingerprint_prefix_is_valid(target))
		return error_set(err, -EIO, "The server sent an invalid alias target");
	fp = xstrdup(target);
	if (!str_is_empty(src->secret)) {
		autofree char *esc = url_encode_path(src->secret);

		query = str_printf("?secret=%s", esc);
	}
	free(path);
	path = str_printf("/1.0/images/%s%s", fp, query ? query : "");
	r = pull_get_api(p, path, &info, err);
	if (r < 0)
		return r;
	target = json_get_str(info, "fingerprint");
	if (!target || !image_fingerprint_is_valid(target) || !str_has_prefix(target, fp))
		return error_set(err, -EIO, "The server sent an image without a valid fingerprint");
	free(fp);
	fp = xstrdup(target);
	if (pull_have(p, fp)) {
		*ret_fp = take_ptr(fp);
		return 0;
	}
	free(path);
	path = str_printf("/1.0/images/%s/export%s", fp, query ? query : "");
	r = pull_download(p, path, download_cap(json_object_get(info, "size"), 1u << 20), ret_fd,
			  ret_ctype, err);
	if (r < 0)
		return r;
	*ret_fp = take_ptr(fp);
	return 0;
}

/* --- simplestreams ------------------------------------------------------------------------ */

static bool list_has(const char *csv, const char *word)
{
	size_t n = strlen(word);

	for (const char *s = csv; s && *s;) {
		const char *end = strchrnul(s, ',');

		if ((size_t)(end - s) == n && strncmp(s, word, n) == 0)
			return true;
		s = *end ? end + 1 : end;
	}
	return false;
}

/* The combined fingerprint a version's items give, and its metadata and root items. */
static const char *version_pick(const json_t *items, bool vm, const json_t **ret_meta,
				const json_t **ret_root)
{
	const json_t *combined = json_object_get(items, "lxd_combined.tar.gz");
	const json_t *meta = json_object_get(items, "lxd.tar.xz");
	const json_t *root;

	if (!vm && combined) {
		*ret_meta = combined;
		*ret_root = NULL;
		return json_get_str(combined, "sha256");
	}
	if (!meta)
		return NULL;
	if (vm) {
		root = json_object_get(items, "disk-kvm.img");
		*ret_meta = meta;
		*ret_root = root;
		return root ? json_get_str(meta, "combined_disk-kvm-img_sha256") : NULL;
	}
	root = json_object_get(items, "squashfs");
	if (root) {
		*ret_meta = meta;
		*ret_root = root;
		return json_get_str(meta, "combined_squashfs_sha256");
	}
	root = json_object_get(items, "root.tar.xz");
	*ret_meta = meta;
	*ret_root = root;
	if (!root)
		return NULL;
	return json_get_str(meta, "combined_rootxz_sha256")
		       ?: json_get_str(meta, "combined_sha256");
}

void image_simplestreams_choose(const json_t *products, const char *name, bool vm,
				const char *host_arch, struct image_ss_choice *best)
{
	const char *key, *vname;
	json_t *product, *version;

	*best = (struct image_ss_choice){ 0 };
	if (!json_is_object(products) || str_is_empty(name))
		return;
	json_object_foreach((json_t *)products, key, product)
	{
		const char *arch =
			image_architecture_canonical(json_get_str(product, "arch") ?: "");
		bool by_alias = list_has(json_get_str(product, "aliases"), name);

		if (!arch || !streq(arch, host_arch))
			continue;
		json_object_foreach(json_object_get(product, "versions"), vname, version)
		{
			struct image_ss_choice c = { .version = vname };

			c.fingerprint = version_pick(json_object_get(version, "items"), vm, &c.meta,
						     &c.root);
			if (!c.fingerprint || !image_fingerprint_is_valid(c.fingerprint))
				continue;
			if (!by_alias && (!image_fingerprint_prefix_is_valid(name) ||
					  !str_has_prefix(c.fingerprint, name)))
				continue;
			if (!best->version || strcmp(vname, best->version) > 0)
				*best = c;
		}
	}
}

/* Downloads an item and checks its size and sha256. */
static int ss_item_download(struct pull *p, const json_t *item, int *ret_fd, struct error *err)
{
	const char *path = json_get_str(item, "path"), *sha = json_get_str(item, "sha256");
	autofree char *target = NULL, *got = NULL;
	autoclose int fd = -1;
	int r;

	if (!path || !sha || !str_is_single_line(path) || strstr(path, "..") || path[0] == '/')
		return error_set(err, -EIO, "The simplestreams item has an invalid path or sha256");
	target = str_printf("/%s", path);
	r = pull_download(p, target, download_cap(json_object_get(item, "size"), 0), &fd, NULL,
			  err);
	if (r == 0)
		r = image_file_sha256(fd, &got, err);
	if (r < 0)
		return r;
	if (!got || !streq(got, sha))
		return error_set(err, -EIO, "The file '%s' does not match its sha256 (got %s)",
				 path, got);
	*ret_fd = take_fd(fd);
	return 0;
}

static int pull_simplestreams(struct pull *p, const struct image_pull_source *src, bool vm,
			      char **ret_fp, int *ret_meta, int *ret_root, struct error *err)
{
	autojson json_t *index = NULL, *products = NULL;
	struct image_ss_choice best = { 0 };
	const char *key, *path = NULL;
	const char *name = str_is_empty(src->alias) ? src->fingerprint : src->alias;
	const char *host_arch;
	struct utsname u;
	json_t *entry;
	int r;

	if (str_is_empty(src->alias) && str_is_empty(src->fingerprint))
		return error_set(err, -EINVAL, "The image source names no alias or fingerprint");
	if (uname(&u) < 0 || !(host_arch = image_architecture_canonical(u.machine)))
		return error_set(err, -EIO, "Unknown host architecture");
	r = pull_get_json(p, "/streams/v1/index.json", &index, err);
	if (r < 0)
		return r;
	json_object_foreach(json_object_get(index, "index"), key, entry)
	{
		if (streq(json_get_str(entry, "datatype") ?: "", "image-downloads")) {
			path = json_get_str(entry, "path");
			break;
		}
	}
	if (!path || !str_is_single_line(path) || strstr(path, "..") || path[0] == '/')
		return error_set(err, -EIO, "The simplestreams index lists no image-downloads");
	{
		autofree char *target = str_printf("/%s", path);

		r = pull_get_json(p, target, &products, err);
		if (r < 0)
			return r;
	}
	image_simplestreams_choose(json_object_get(products, "products"), name, vm, host_arch,
				   &best);
	if (!best.version)
		return error_set(err, -ENOENT, "The server has no image '%s' for %s",
				 str_is_single_line(name) ? name : "?", host_arch);
	*ret_fp = xstrdup(best.fingerprint);
	if (pull_have(p, best.fingerprint))
		return 0;
	r = ss_item_download(p, best.meta, ret_meta, err);
	if (r == 0 && best.root)
		r = ss_item_download(p, best.root, ret_root, err);
	return r;
}

struct image_pull_source image_pull_source_of(const json_t *source)
{
	return (struct image_pull_source){
		.server = json_get_str(source, "server"),
		.protocol = json_get_str(source, "protocol"),
		.alias = json_get_str(source, "alias"),
		.fingerprint = json_get_str(source, "fingerprint"),
		.certificate = json_get_str(source, "certificate"),
		.secret = json_get_str(source, "secret"),
		.image_type = json_get_str(source, "image_type"),
	};
}

json_t *image_pull_update_source(const struct image_pull_source *src)
{
	const char *name = str_is_empty(src->alias) ? src->fingerprint : src->alias;

	return json_pack("{s:s,s:s,s:s,s:s,s:s}", "server", src->server ?: "", "protocol",
			 src->protocol ?: "lxd", "alias", name ?: "", "certificate",
			 src->certificate ?: "", "image_type", src->image_type ?: "container");
}

/* --- the whole pull ----------------------------------------------------------------------- */

int image_pull(struct db *db, const char *lodge_dir, const struct image_pull_source *src,
	       const struct image_upload *opts, struct db_image **ret, struct error *err)
{
	autoclean(pull_release) struct pull p = { .url = HTTP_URL_INIT };
	autofree char *images_dir = str_printf("%s/images", lodge_dir);
	autofree char *fp = NULL, *ctype = NULL, *boundary = NULL, *multipart_type = NULL;
	autoclose int fd = -1, meta = -1, root = -1, body = -1;
	struct image_upload up = *opts;
	bool ss, vm;
	int r;

	ss = streq(src->protocol ?: "lxd", "simplestreams");
	if (!ss && !streq(src->protocol ?: "lxd", "lxd"))
		return error_set(err, -EINVAL, "Unknown image server protocol '%s'",
				 str_is_single_line(src->protocol) ? src->protocol : "?");
	vm = streq(src->image_type ?: "container", "virtual-machine");
	r = pull_init(&p, src, err);
	if (r < 0)
		return r;
	(void)mkdir(images_dir, 0700);
	p.images_dir = images_dir;
	p.db = db;
	if (ss) {
		r = pull_simplestreams(&p, src, vm, &fp, &meta, &root, err);
		if (r == 0 && root >= 0) {
			/* A split image goes in as the multipart body an upload would be. */
			body = open(images_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
			boundary = random_hex(16);
			r = body < 0 ? error_errno(err, -errno, "Failed to create a temporary file")
				     : image_multipart_write(meta, root,
							     vm ? "virtual-machine" : "container",
							     fp, body, boundary, err);
			multipart_type = str_printf("multipart/form-data; boundary=%s", boundary);
			up.fd = body;
			up.content_type = multipart_type;
		} else {
			up.fd = meta;
			up.content_type = NULL;
		}
	} else {
		r = pull_lxd(&p, src, &fp, &ctype, &fd, err);
		up.fd = fd;
		up.content_type = ctype && multipart_is_form_data(ctype) ? ctype : NULL;
	}
	if (r < 0)
		return r;
	/* Nothing downloaded: a copy we already hold is used as it is. */
	if (up.fd < 0)
		return db_image_get(db, fp, ret, err);
	up.fingerprint = fp;
	return image_import(db, lodge_dir, &up, ret, NULL, NULL, err);
}

/* --- refreshing ----------------------------------------------------------------------------- */

int image_refresh(struct db *db, const char *lodge_dir, const char *fingerprint, char **ret_new,
		  struct error *err)
{
	autoclean(db_image_freep) struct db_image *old = NULL, *fresh = NULL;
	struct db_image_alias **aliases = NULL;
	struct image_pull_source src;
	struct image_upload opts;
	size_t n = 0;
	int r;

	*ret_new = NULL;
	r = db_image_get(db, fingerprint, &old, err);
	if (r < 0)
		return r;
	src = image_pull_source_of(old->update_source);
	if (str_is_empty(src.server))
		return 0; /* not from another server: nothing to refresh from */
	opts = (struct image_upload){
		.fd = -1,
		.public = old->public,
		.profiles = old->profiles,
		.cached = old->cached,
		.auto_update = old->auto_update,
		.update_source = old->update_source,
	};
	r = image_pull(db, lodge_dir, &src, &opts, &fresh, err);
	if (r < 0)
		return r;
	if (!fresh || streq(fresh->fingerprint, old->fingerprint))
		return 0;
	/* The aliases follow the new image, as LXD moves them. */
	r = db_image_alias_list(db, old->fingerprint, &aliases, &n, err);
	for (size_t i = 0; r == 0 && i < n; i++)
		r = db_image_alias_update(db, aliases[i]->name, fresh->fingerprint,
					  aliases[i]->description, err);
	db_image_aliases_free(aliases, n);
	if (r < 0)
		return r;
	*ret_new = xstrdup(fresh->fingerprint);
	return 0;
}

int image_maintenance_plan(struct db *db, int64_t now, int64_t cache_expiry_sec,
			   json_t **ret_refresh, json_t **ret_expire, struct error *err)
{
	struct db_image **images = NULL;
	size_t n = 0;
	int r;

	r = db_image_list(db, &images, &n, err);
	if (r < 0)
		return r;
	*ret_refresh = json_array();
	*ret_expire = json_array();
	for (size_t i = 0; i < n; i++) {
		const struct db_image *img = images[i];
		int64_t used = img->last_used_at ? img->last_used_at : img->uploaded_at;

		if (img->cached && cache_expiry_sec > 0 && now - used > cache_expiry_sec)
			json_array_append_new(*ret_expire, json_string(img->fingerprint));
		else if (img->auto_update &&
			 !str_is_empty(json_get_str(img->update_source, "server")))
			json_array_append_new(*ret_refresh, json_string(img->fingerprint));
	}
	db_images_free(images, n);
	return 0;
}

/* --- a URL ("direct" protocol) --------------------------------------------------------------- */

int image_pull_url(struct db *db, const char *lodge_dir, const char *url,
		   const struct image_upload *opts, struct db_image **ret, struct error *err)
{
	autoclean(pull_release) struct pull p = { .url = HTTP_URL_INIT };
	autoclean(pull_release) struct pull file = { .url = HTTP_URL_INIT };
	autoclean(http_response_release) struct http_response resp = HTTP_RESPONSE_INIT;
	autofree char *images_dir = str_printf("%s/images", lodge_dir), *ctype = NULL;
	autoclose int fd = -1;
	struct image_upload up = *opts;
	const char *hash, *image_url;
	int r;

	/* The URL answers with headers: the fingerprint and where the file is. */
	r = pull_init(&p, &(struct image_pull_source){ .server = url }, err);
	if (r == 0)
		r = pull_get(&p, "", -1, 0, &resp, err);
	if (r < 0)
		return r;
	hash = http_response_header(&resp, "LXD-Image-Hash");
	image_url = http_response_header(&resp, "LXD-Image-URL");
	if (!hash || !image_fingerprint_is_valid(hash))
		return error_set(err, -EIO,
				 "The URL answered without a valid LXD-Image-Hash header");
	if (!image_url)
		return error_set(err, -EIO, "The URL answered without an LXD-Image-URL header");
	if (db_image_get(db, hash, ret, NULL) == 0 && streq((*ret)->fingerprint, hash))
		return 0;
	r = pull_init(&file, &(struct image_pull_source){ .server = image_url }, err);
	if (r < 0) {
		(void)error_prefix(err, "Invalid LXD-Image-URL");
		return r;
	}
	(void)mkdir(images_dir, 0700);
	file.images_dir = images_dir;
	r = pull_download(&file, "", image_limits_default.max_unpacked, &fd, &ctype, err);
	if (r < 0)
		return r;
	up.fd = fd;
	up.content_type = ctype && multipart_is_form_data(ctype) ? ctype : NULL;
	up.fingerprint = hash;
	return image_import(db, lodge_dir, &up, ret, NULL, NULL, err);
}
