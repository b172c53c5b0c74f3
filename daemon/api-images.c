/* daemon/api-images.c: /1.0/images and /1.0/images/aliases.
 *
 * Uploads (POST /1.0/images) and deletions are operations, as the clients expect (LXD's
 * "Downloading image" / "Deleting image"); everything else answers at once. Uploads arrive
 * in a temporary file (ROUTE_STREAM_BODY) that the operation takes over. Exports stream the
 * stored file; split images are sent as multipart/form-data, assembled on a worker.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "daemon/api.h"
#include "daemon/daemon.h"
#include "daemon/events.h"
#include "daemon/operations.h"
#include "daemon/router.h"
#include "daemon/server-config.h"
#include "db/db-config.h"
#include "db/db-images.h"
#include "images/images.h"
#include "instance/instance.h"
#include "instance/lifecycle.h"
#include "lib/config.h"
#include "lib/filter.h"
#include "lib/fs.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/multipart.h"
#include "lib/str.h"
#include "storage/storage.h"

#include "lib/banned.h"

static void image_aliases_freep(struct db_image_alias ***v)
{
	free(*v); /* the elements are freed by their owner */
}

/* The aliases pointing at fingerprint, from the full list. */
static size_t aliases_of(struct db_image_alias **all, size_t n, const char *fingerprint,
			 struct db_image_alias ***ret)
{
	struct db_image_alias **v = NULL;
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		if (!streq(all[i]->target, fingerprint))
			continue;
		v = xrealloc(v, (k + 1) * sizeof(*v));
		v[k++] = all[i];
	}
	*ret = v;
	return k;
}

/* The API object of one image, with its aliases. */
static int image_json_load(struct api_request *req, const struct db_image *img, json_t **ret,
			   struct error *err)
{
	struct db_image_alias **aliases = NULL;
	size_t n = 0;
	int r;

	r = db_image_alias_list(req->d->db, img->fingerprint, &aliases, &n, err);
	if (r < 0)
		return r;
	*ret = image_to_json(img, aliases, n);
	db_image_aliases_free(aliases, n);
	return 0;
}

/* LXD's ETag for an image covers what PUT can change. */
static json_t *image_etag_source(const struct db_image *img)
{
	return json_pack("[b,b,O]", img->public, img->auto_update, img->properties);
}

/* Starts op and replies 202 with it, or what went wrong (what: "Failed to start ..."). */
static int op_start_reply(struct api_request *req, struct operation *op, const char *what)
{
	int r;

	operation_ref(op);
	r = operation_start(op);
	if (r < 0) {
		operation_unref(op);
		return api_reply_errorf(req, r, "%s", what);
	}
	r = api_reply_async(req, op);
	operation_unref(op);
	return r;
}

/* --- who sees what --------------------------------------------------------------------- */

static bool image_is_visible(const struct api_request *req, const struct db_image *img)
{
	return req->identity.trusted || img->public;
}

static bool secret_equal(const char *a, const char *b)
{
	size_t n = strlen(a);
	unsigned char diff = 0;

	if (n != strlen(b))
		return false;
	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)(a[i] ^ b[i]);
	return diff == 0;
}

/* The running token operation (POST /1.0/images/<fp>/secret) for fingerprint whose
 * secret is secret; NULL when none. Borrowed, as operations_find(). */
static struct operation *secret_find(struct api_request *req, const char *fingerprint,
				     const char *secret)
{
	autojson json_t *all = operations_list(req->d->operations, NULL, true, NULL);
	autofree char *url = str_printf("/1.0/images/%s", fingerprint);
	json_t *op;
	size_t i;

	if (str_is_empty(secret))
		return NULL;
	json_array_foreach(json_object_get(all, "running"), i, op)
	{
		const json_t *images = json_object_get(json_object_get(op, "resources"), "images");
		const char *s = json_get_str(json_object_get(op, "metadata"), "secret");
		const char *class = json_get_str(op, "class");
		const char *target = json_string_value(json_array_get(images, 0));

		if (!class || !streq(class, "token") || !s || !target || !streq(target, url))
			continue;
		if (secret_equal(s, secret))
			return operations_find(req->d->operations, json_get_str(op, "id"));
	}
	return NULL;
}

/* Loads the image of the request as its client may see it: trusted clients any, others the
 * public ones and private ones whose ?secret= is valid (a secret is used up by the export
 * it was made for, consume). Anything else is "not found", as LXD answers. */
static int image_load_visible(struct api_request *req, bool consume, struct db_image **ret,
			      struct error *err)
{
	autoclean(db_image_freep) struct db_image *img = NULL;
	struct operation *op;
	int r;

	r = db_image_get(req->d->db, api_param(req, "fingerprint"), &img, err);
	if (r < 0)
		return r;
	if (!img)
		return error_set(err, -ENOENT, "Image not found");
	if (!image_is_visible(req, img)) {
		op = secret_find(req, img->fingerprint, api_query(req, "secret"));
		if (!op)
			return error_set(err, -ENOENT, "Image '%s' not found",
					 api_param(req, "fingerprint"));
		if (consume)
			operation_finish(op, NULL);
	}
	*ret = take_ptr(img);
	return 0;
}

/* --- GET /1.0/images --------------------------------------------------------------------- */

static int api_images_get(struct api_request *req)
{
	autoclean(error_clear) struct error err = ERROR_INIT;
	autoclean(filter_freep) struct filter *filter = NULL;
	struct db_image **images = NULL;
	struct db_image_alias **aliases = NULL;
	size_t n_images = 0, n_aliases = 0;
	json_t *result;
	int r;

	/* `lxc image list` sends "filter=" even with nothing to filter. */
	r = filter_parse(api_query(req, "filter"), &filter, &err);
	if (r < 0)
		return api_reply_error(req, &err);
	r = db_image_list(req->d->db, &images, &n_images, &err);
	if (r == 0)
		r = db_image_alias_list(req->d->db, NULL, &aliases, &n_aliases, &err);
	if (r < 0) {
		db_images_free(images, n_images);
		return api_reply_error(req, &err);
	}

	result = json_array();
	for (size_t i = 0; i < n_images; i++) {
		autoclean(image_aliases_freep) struct db_image_alias **mine = NULL;
		size_t n_mine = aliases_of(aliases, n_aliases, images[i]->fingerprint, &mine);
		json_t *j = image_to_json(images[i], mine, n_mine);

		/* Untrusted clients (an image server's users) see the public images only. */
		if (!filter_match(filter, j) || !image_is_visible(req, images[i])) {
			json_decref(j);
			continue;
		}
		if (req->recursion > 0) {
			json_array_append_new(result, j);
		} else {
			json_array_append_new(
				result, json_sprintf("/1.0/images/%s", images[i]->fingerprint));
			json_decref(j);
		}
	}
	db_images_free(images, n_images);
	db_image_aliases_free(aliases, n_aliases);
	return api_reply_sync(req, result);
}

/* --- POST /1.0/images -------------------------------------------------------------------- */

struct upload_job {
	struct daemon *d;
	struct api_identity requestor;
	int fd;
	char *content_type;
	char *filename;
	char *fingerprint;
	bool public;
	json_t *properties;
	json_t *profiles;
	struct db_image *img; /* the result */
};

static void upload_job_free(void *data)
{
	struct upload_job *job = data;

	closep(&job->fd);
	free(job->content_type);
	free(job->filename);
	free(job->fingerprint);
	json_decref(job->properties);
	json_decref(job->profiles);
	db_image_free(job->img);
	free(job);
}

static int upload_run(struct operation *op, struct error *err)
{
	struct upload_job *job = op->data;
	struct image_upload up = {
		.fd = job->fd,
		.content_type = job->content_type,
		.filename = job->filename,
		.fingerprint = job->fingerprint,
		.public = job->public,
		.properties = job->properties,
		.profiles = job->profiles,
	};
	autofree char *fp = NULL;
	uint64_t size = 0;
	int r;

	r = image_import(job->d->db, job->d->dir, &up, &job->img, &fp, &size, err);
	/* LXD reports what it learnt even when the import fails; the CLI reads the
	 * fingerprint from here (and panics without it). */
	if (fp) {
		autofree char *size_str = str_printf("%llu", (unsigned long long)size);

		operation_merge_metadata(
			op, json_pack("{s:s,s:s}", "fingerprint", fp, "size", size_str));
	}
	return r;
}

/* The image-created lifecycle event, once img (NULL: failed) is stored. */
static void image_created_event(struct operation *op, const struct db_image *img,
				const struct api_identity *requestor)
{
	autofree char *source = NULL;

	if (!img)
		return;
	source = str_printf("/1.0/images/%s", img->fingerprint);
	events_lifecycle(op->d->events, "default", "image-created", source,
			 json_pack("{s:s}", "type", img->type), requestor);
}

static void upload_done(struct operation *op)
{
	struct upload_job *job = op->data;

	image_created_event(op, job->img, &job->requestor);
}

static const struct operation_ops upload_ops = {
	.run = upload_run,
	.done = upload_done,
	.free = upload_job_free,
};

/* Decodes an application/x-www-form-urlencoded string ("a=1&b=x+y", as Go's
 * url.Values.Encode writes the X-LXD-properties and X-LXD-profiles headers). */
static int form_decode(const char *s, json_t *object, json_t *array, const char *array_key)
{
	autofree char *copy = xstrdup(s);
	char *save = NULL;

	for (char *pair = strtok_r(copy, "&", &save); pair; pair = strtok_r(NULL, "&", &save)) {
		autofree char *key = NULL, *value = NULL;
		char *eq = strchr(pair, '=');

		for (char *c = pair; *c; c++)
			if (*c == '+')
				*c = ' ';
		if (eq)
			*eq = '\0';
		key = url_decode(pair);
		value = url_decode(eq ? eq + 1 : "");
		if (!key || !value || !*key)
			return -EINVAL;
		if (object && json_object_set_new(object, key, json_string(value)) < 0)
			return -EINVAL;
		if (array && streq(key, array_key)) {
			if (!object_name_is_valid(value))
				return -EINVAL;
			json_array_append_new(array, json_string(value));
		}
	}
	return 0;
}

/* --- publishing an instance (POST /1.0/images, source type instance) --------------------- */

struct publish_job {
	struct daemon *d;
	struct api_identity requestor;
	char *instance;
	char *compression;
	bool public;
	int64_t expires_at;
	json_t *properties; /* NULL: the instance's metadata.yaml's */
	json_t *profiles;
	json_t *aliases; /* [{"name", "description"}] */
	struct db_image *img;
};

static void publish_job_free(void *data)
{
	struct publish_job *job = data;

	free(job->instance);
	free(job->compression);
	json_decref(job->properties);
	json_decref(job->profiles);
	json_decref(job->aliases);
	db_image_free(job->img);
	free(job);
}

static void publish_progress(void *data, uint64_t done, uint64_t total)
{
	struct operation *op = data;
	autofree char *msg = str_printf("Image pack: %.1fMB", (double)done / 1e6);

	operation_merge_metadata(
		op, json_pack("{s:s}", "create_image_from_container_pack_progress", msg));
}

/* A snapshot is packed from a temporary copy of it (a clone within the pool), mounted
 * without an id map: the files show as stored, the container's own ids. *ret_tmp names
 * the copy, *ret_rootfs its mounted root. A crash leaves the copy for instances_reconcile()
 * at the next start. */
static int snapshot_mount(struct daemon *d, struct instance *inst, const char *snap,
			  struct storage_pool **ret_pool, char **ret_tmp, char **ret_rootfs,
			  struct error *err)
{
	autoclean(storage_pool_freep) struct storage_pool *pool = NULL;
	autofree char *src = str_printf("%s/%s", inst->name, snap);
	autofree char *hex = random_hex(6);
	autofree char *tmp = str_printf("lodge-publish-%s", hex);
	char *rootfs = NULL;
	int r;

	if (!instance_root_pool(inst))
		return error_set(err, -EINVAL, "Instance '%s' has no root disk", inst->name);
	r = storage_pool_load(d->db, d->dir, instance_root_pool(inst), &pool, err);
	if (r == 0)
		r = storage_instance_copy(pool, src, pool, tmp, 0, err);
	if (r < 0)
		return r;
	r = storage_instance_mount(pool, tmp, NULL, &rootfs, err);
	if (r < 0) {
		(void)storage_instance_delete(pool, tmp, NULL);
		return r;
	}
	*ret_pool = take_ptr(pool);
	*ret_tmp = take_ptr(tmp);
	*ret_rootfs = rootfs;
	return 0;
}

/* Packs the stopped instance, or a snapshot ("c1/snap0"), into a temporary file in images/
 * (*ret_fd). */
static int publish_pack(struct publish_job *job, struct operation *op, int *ret_fd,
			struct error *err)
{
	struct instance_env env = { .db = job->d->db, .dir = job->d->dir };
	autoclean(instance_freep) struct instance *inst = NULL;
	autoclean(storage_pool_freep) struct storage_pool *pool = NULL;
	autofree char *vol = NULL, *images = str_printf("%s/images", job->d->dir);
	autofree char *name = xstrndup(job->instance, strcspn(job->instance, "/"));
	autofree char *tmp = NULL, *snap_rootfs = NULL;
	const char *snap = strchr(job->instance, '/');
	const char *rootfs = NULL, *slash;
	autoclose int rootfd = -1, out = -1;
	struct image_pack_args a;
	uint32_t shift = 0;
	int r;

	instance_lock(name);
	r = instance_load(job->d->db, name, &inst, err);
	if (r < 0)
		goto out;
	if (snap) {
		r = snapshot_mount(job->d, inst, snap + 1, &pool, &tmp, &snap_rootfs, err);
		rootfs = snap_rootfs;
	} else if (instance_is_running(&env, inst)) {
		r = error_set(err, -EBUSY, "Instance '%s' is running: stop it before publishing",
			      name);
	} else {
		r = instance_rootfs_open(&env, inst, &rootfd, &shift, err);
		rootfs = inst->rootfs;
	}
	slash = r == 0 && rootfs ? strrchr(rootfs, '/') : NULL;
	if (r == 0 && !slash)
		r = error_set(err, -EIO, "Instance '%s' has no root filesystem", name);
	if (r < 0)
		goto out;
	vol = xstrndup(rootfs, (size_t)(slash - rootfs));
	(void)mkdir(images, 0700);
	out = open(images, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (out < 0) {
		r = error_errno(err, -errno, "Failed to create a temporary file in images/");
		goto out;
	}
	a = (struct image_pack_args){
		.vol_path = vol,
		.rootfs_path = rootfs,
		.shift = shift,
		.architecture = inst->architecture,
		.properties = job->properties,
		.expires_at = job->expires_at,
		.compression = job->compression,
	};
	r = image_pack(&a, out, publish_progress, op, err);
	if (r == 0)
		*ret_fd = take_fd(out);
out:
	if (tmp) {
		(void)storage_instance_unmount(pool, tmp, NULL);
		(void)storage_instance_delete(pool, tmp, NULL);
	}
	instance_unlock(name);
	return r;
}

static int publish_run(struct operation *op, struct error *err)
{
	struct publish_job *job = op->data;
	autoclose int fd = -1;
	autofree char *fp = NULL;
	uint64_t size = 0;
	struct image_upload up;
	size_t i;
	json_t *a;
	int r;

	r = publish_pack(job, op, &fd, err);
	if (r < 0)
		return r;
	up = (struct image_upload){
		.fd = fd,
		.public = job->public,
		.profiles = job->profiles,
	};
	r = image_import(job->d->db, job->d->dir, &up, &job->img, &fp, &size, err);
	if (r < 0)
		return r;
	json_array_foreach(job->aliases, i, a)
	{
		r = db_image_alias_create(job->d->db, json_get_str(a, "name"), fp, job->img->type,
					  json_get_str(a, "description") ?: "", err);
		if (r < 0)
			return r;
	}
	{
		autofree char *size_str = str_printf("%llu", (unsigned long long)size);

		operation_merge_metadata(
			op, json_pack("{s:s,s:s}", "fingerprint", fp, "size", size_str));
	}
	return 0;
}

static void publish_done(struct operation *op)
{
	struct publish_job *job = op->data;

	image_created_event(op, job->img, &job->requestor);
}

static const struct operation_ops publish_ops = {
	.run = publish_run,
	.done = publish_done,
	.free = publish_job_free,
};

/* The aliases of an ImagesPost: a list of {"name", "description"}, each name valid. */
static int aliases_parse(const json_t *v, json_t **ret, struct error *err)
{
	size_t i;
	json_t *a;
	int r;

	*ret = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_array(v))
		return error_set(err, -EINVAL, "Invalid 'aliases': expected a list");
	json_array_foreach(v, i, a)
	{
		const json_t *d = json_object_get(a, "description");

		r = image_alias_name_check(json_get_str(a, "name"), err);
		if (r < 0)
			return r;
		if (d && !json_is_null(d) && !json_is_string(d))
			return error_set(err, -EINVAL,
					 "Invalid alias description: expected a string");
	}
	*ret = json_deep_copy(v);
	return 0;
}

/* Fills what an ImagesPost says of the image to make: public, properties, expiry,
 * profiles, aliases, compression. */
static int publish_job_parse(struct publish_job *job, const json_t *body, struct error *err)
{
	const json_t *v;
	const char *s;
	int r;

	job->public = json_is_true(json_object_get(body, "public"));
	v = json_object_get(body, "properties");
	if (v && !json_is_null(v)) {
		r = image_properties_parse(v, &job->properties, err);
		if (r < 0)
			return r;
		/* As LXD: no properties keep the instance's metadata.yaml ones. */
		if (json_object_size(job->properties) == 0)
			json_decref(take_ptr(job->properties));
	}
	s = json_get_str(body, "expires_at");
	if (s && (image_time_parse(s, &job->expires_at) < 0 || job->expires_at < 0))
		return error_set(err, -EINVAL, "Invalid 'expires_at': expected an RFC 3339 time");
	v = json_object_get(body, "profiles");
	if (v && !json_is_null(v)) {
		r = image_profiles_parse(v, &job->profiles, err);
		if (r < 0)
			return r;
	}
	r = aliases_parse(json_object_get(body, "aliases"), &job->aliases, err);
	if (r < 0)
		return r;
	s = json_get_str(body, "compression_algorithm");
	r = image_compression_check(s, err);
	if (r < 0)
		return r;
	job->compression = s ? xstrdup(s) : NULL;
	return 0;
}

/* The server's images.compression_algorithm (gzip unless set), for a publish that names
 * none. */
static char *default_compression(struct daemon *d)
{
	autojson json_t *cfg = NULL;

	if (db_config_load(d->db, &cfg, NULL) < 0)
		return NULL;
	return xstrdup(config_get(&server_config_schema, cfg, "images.compression_algorithm")
			       ?: "gzip");
}

static int images_publish(struct api_request *req, const json_t *body, const json_t *source)
{
	autoclean(error_clear) struct error err = ERROR_INIT;
	const char *name = json_get_str(source, "name");
	struct publish_job *job;
	struct operation *op;
	int r;

	bool snapshot = streq(json_get_str(source, "type"), "snapshot");
	const char *slash = name ? strchr(name, '/') : NULL;
	autofree char *inst_name = NULL;

	if (!name || str_is_empty(name))
		return api_reply_errorf(req, -EINVAL, "Invalid images JSON: no source name");
	if (snapshot != (slash != NULL))
		return api_reply_errorf(
			req, -EINVAL,
			snapshot ? "Invalid snapshot name '%s': expected <instance>/<snapshot>"
				 : "Invalid instance name '%s'",
			str_is_single_line(name) ? name : "?");
	inst_name = xstrndup(name, strcspn(name, "/"));
	if (!instance_name_is_valid(inst_name) || (slash && !object_name_is_valid(slash + 1)))
		return api_reply_errorf(req, -EINVAL, "Invalid %s name '%s'",
					snapshot ? "snapshot" : "instance",
					str_is_single_line(name) ? name : "?");
	job = xcalloc(1, sizeof(*job));
	job->d = req->d;
	job->requestor = req->identity;
	job->instance = xstrdup(name);
	r = publish_job_parse(job, body, &err);
	if (r < 0) {
		publish_job_free(job);
		return api_reply_error(req, &err);
	}
	if (str_is_empty(job->compression)) {
		free(job->compression);
		job->compression = default_compression(req->d);
	}
	op = operation_new(req->d, OPERATION_TASK, "Creating image", NULL, &publish_ops, job);
	return op_start_reply(req, op, "Failed to start publishing");
}

/* --- pulling from another server (POST /1.0/images, source type image) ------------------- */

struct pull_job {
	struct daemon *d;
	struct api_identity requestor;
	json_t *source; /* the request's source object */
	bool public, auto_update;
	json_t *properties, *profiles, *aliases;
	struct db_image *img;
};

static void pull_job_free(void *data)
{
	struct pull_job *job = data;

	json_decref(job->source);
	json_decref(job->properties);
	json_decref(job->profiles);
	json_decref(job->aliases);
	db_image_free(job->img);
	free(job);
}

static int pull_run(struct operation *op, struct error *err)
{
	struct pull_job *job = op->data;
	struct image_pull_source src = image_pull_source_of(job->source);
	autojson json_t *update_source = image_pull_update_source(&src);
	struct image_upload opts = {
		.fd = -1,
		.public = job->public,
		.properties = job->properties,
		.profiles = job->profiles,
		.auto_update = job->auto_update,
		.update_source = update_source,
	};
	autofree char *size = NULL;
	size_t i;
	json_t *a;
	int r;

	if (streq(json_get_str(job->source, "type") ?: "", "url")) {
		opts.update_source = NULL;
		r = image_pull_url(job->d->db, job->d->dir, json_get_str(job->source, "url"), &opts,
				   &job->img, err);
	} else {
		r = image_pull(job->d->db, job->d->dir, &src, &opts, &job->img, err);
	}
	if (r < 0)
		return r;
	json_array_foreach(job->aliases, i, a)
	{
		r = db_image_alias_create(job->d->db, json_get_str(a, "name"),
					  job->img->fingerprint, job->img->type,
					  json_get_str(a, "description") ?: "", err);
		if (r < 0)
			return r;
	}
	size = str_printf("%llu", (unsigned long long)job->img->size);
	operation_merge_metadata(
		op, json_pack("{s:s,s:s}", "fingerprint", job->img->fingerprint, "size", size));
	return 0;
}

static void pull_done(struct operation *op)
{
	struct pull_job *job = op->data;

	image_created_event(op, job->img, &job->requestor);
}

static const struct operation_ops pull_ops = {
	.run = pull_run,
	.done = pull_done,
	.free = pull_job_free,
};

static int images_pull(struct api_request *req, const json_t *body, const json_t *source)
{
	autoclean(error_clear) struct error err = ERROR_INIT;
	struct image_pull_source src = image_pull_source_of(source);
	struct pull_job *job;
	struct operation *op;
	const char *mode = json_get_str(source, "mode");
	const json_t *v;
	int r = 0;

	if (mode && !streq(mode, "pull"))
		return api_reply_errorf(req, -EOPNOTSUPP, "Image copy mode '%s' is not supported",
					str_is_single_line(mode) ? mode : "?");
	if (streq(json_get_str(source, "type") ?: "", "url")) {
		const char *url = json_get_str(source, "url");

		if (str_is_empty(url) || !str_is_single_line(url) ||
		    !str_has_prefix(url, "https://"))
			return api_reply_errorf(
				req, -EINVAL,
				"Invalid images JSON: the source needs an https:// url");
	} else if (str_is_empty(src.server)) {
		return api_reply_errorf(req, -EINVAL, "Invalid images JSON: no source server");
	} else if (str_is_empty(src.alias))
		src.alias = src.fingerprint; /* clients send aliases there too */
	if (!streq(json_get_str(source, "type") ?: "", "url") &&
	    (str_is_empty(src.alias) || !str_is_single_line(src.alias)))
		return api_reply_errorf(
			req, -EINVAL,
			"Invalid images JSON: the source needs an alias or a fingerprint");
	job = xcalloc(1, sizeof(*job));
	job->d = req->d;
	job->requestor = req->identity;
	job->source = json_deep_copy(source);
	job->public = json_is_true(json_object_get(body, "public"));
	job->auto_update = json_is_true(json_object_get(body, "auto_update"));
	v = json_object_get(body, "properties");
	if (v && !json_is_null(v))
		r = image_properties_parse(v, &job->properties, &err);
	v = json_object_get(body, "profiles");
	if (r == 0 && v && !json_is_null(v))
		r = image_profiles_parse(v, &job->profiles, &err);
	if (r == 0)
		r = aliases_parse(json_object_get(body, "aliases"), &job->aliases, &err);
	if (r < 0) {
		pull_job_free(job);
		return api_reply_error(req, &err);
	}
	op = operation_new(req->d, OPERATION_TASK, "Downloading image", NULL, &pull_ops, job);
	return op_start_reply(req, op, "Failed to start the image download");
}

/* A JSON body: publishing an instance or pulling from another server. */
static int images_post_json(struct api_request *req, const char *data, size_t len)
{
	autoclean(error_clear) struct error err = ERROR_INIT;
	autojson json_t *body = NULL;
	const json_t *source;
	const char *type;
	int r;

	r = json_parse(data, len, false, &body, &err);
	if (r < 0)
		return api_reply_error(req, &err);
	source = json_object_get(body, "source");
	type = json_get_str(source, "type");
	if (!json_is_object(source) || str_is_empty(type))
		return api_reply_errorf(req, -EINVAL, "Invalid images JSON: no source type");
	if (streq(type, "image") || streq(type, "url"))
		return images_pull(req, body, source);
	if (streq(type, "instance") || streq(type, "container") || streq(type, "virtual-machine") ||
	    streq(type, "snapshot"))
		return images_publish(req, body, source);
	return api_reply_errorf(req, -EINVAL, "Invalid images JSON: unknown source type '%s'",
				str_is_single_line(type) ? type : "?");
}

/* Reads a small body that was streamed to a file back into memory. */
static int body_read_small(struct api_request *req, char **ret, size_t *ret_len)
{
	char *buf;
	ssize_t n;

	if (req->body_fd < 0) {
		*ret = xstrdup(strbuf_str(&req->body));
		*ret_len = req->body.len;
		return 0;
	}
	if (req->body_len > (8u << 20))
		return -EFBIG;
	buf = xmalloc((size_t)req->body_len + 1);
	n = pread(req->body_fd, buf, (size_t)req->body_len, 0);
	if (n < 0 || (uint64_t)n != req->body_len) {
		free(buf);
		return -EIO;
	}
	buf[n] = '\0';
	*ret = buf;
	*ret_len = (size_t)n;
	return 0;
}

static bool body_looks_like_json(struct api_request *req)
{
	char c = 0;

	if (req->content_type && str_has_prefix(req->content_type, "application/json"))
		return true;
	if (multipart_is_form_data(req->content_type))
		return false;
	if (req->body_fd >= 0)
		return pread(req->body_fd, &c, 1, 0) == 1 && c == '{';
	return req->body.len > 0 && req->body.buf[0] == '{';
}

static int api_images_post(struct api_request *req)
{
	struct upload_job *job;
	struct operation *op;
	const char *public = api_header(req, "X-LXD-public");
	const char *properties = api_header(req, "X-LXD-properties");
	const char *profiles = api_header(req, "X-LXD-profiles");
	const char *fingerprint = api_header(req, "X-LXD-fingerprint");
	bool b = false;
	int r;

	if (body_looks_like_json(req)) {
		autofree char *data = NULL;
		size_t len = 0;

		r = body_read_small(req, &data, &len);
		if (r < 0)
			return api_reply_errorf(req, r == -EFBIG ? -EFBIG : -EIO,
						"Failed to read the request body");
		return images_post_json(req, data, len);
	}
	if (req->body_fd < 0 || req->body_len == 0)
		return api_reply_errorf(req, -EINVAL, "No image in the request body");
	if (fingerprint &&
	    !(strlen(fingerprint) == 64 && image_fingerprint_prefix_is_valid(fingerprint)))
		return api_reply_errorf(req, -EINVAL, "Invalid X-LXD-fingerprint header");

	job = xcalloc(1, sizeof(*job));
	job->d = req->d;
	job->requestor = req->identity;
	job->fd = -1;
	job->properties = json_object();
	if (properties && form_decode(properties, job->properties, NULL, NULL) < 0) {
		upload_job_free(job);
		return api_reply_errorf(req, -EINVAL, "Invalid X-LXD-properties header");
	}
	if (profiles) {
		job->profiles = json_array();
		if (form_decode(profiles, NULL, job->profiles, "profile") < 0) {
			upload_job_free(job);
			return api_reply_errorf(req, -EINVAL, "Invalid X-LXD-profiles header");
		}
	}
	/* As LXD's shared.IsTrue: anything but a true value is false. */
	job->public = public && parse_bool(public, &b) == 0 && b;
	job->content_type = req->content_type ? xstrdup(req->content_type) : NULL;
	job->filename =
		xstrdup(api_header(req, "X-LXD-filename") ? api_header(req, "X-LXD-filename") : "");
	job->fingerprint = fingerprint ? xstrdup(fingerprint) : NULL;
	job->fd = take_fd(req->body_fd);

	op = operation_new(req->d, OPERATION_TASK, "Downloading image", NULL, &upload_ops, job);
	return op_start_reply(req, op, "Failed to start the image upload");
}

/* --- /1.0/images/{fingerprint} ----------------------------------------------------------- */

static int image_load(struct api_request *req, struct db_image **ret, struct error *err)
{
	return db_image_get(req->d->db, api_param(req, "fingerprint"), ret, err);
}

static int api_image_get(struct api_request *req)
{
	autoclean(error_clear) struct error err = ERROR_INIT;
	autoclean(db_image_freep) struct db_image *img = NULL;
	autojson json_t *etag = NULL;
	json_t *j = NULL;
	int r;

	r = image_load_visible(req, false, &img, &err);
	if (r == 0)
		r = image_json_load(req, img, &j, &err);
	if (r < 0)
		return api_reply_error(req, &err);
	etag = image_etag_source(img);
	return api_reply_sync_etag(req, j, etag);
}

static int api_image_update(struct api_request *req, bool patch)
{
	autoclean(error_clear) struct error err = ERROR_INIT;
	autoclean(db_image_freep) struct db_image *img = NULL;
	autojson json_t *body = NULL, *etag = NULL;
	autofree char *source = NULL;
	int r;

	r = api_request_json(req, &body);
	if (r < 0)
		return r;
	r = image_load(req, &img, &err);
	if (r < 0)
		return api_reply_error(req, &err);
	etag = image_etag_source(img);
	r = api_request_check_etag(req, etag);
	if (r < 0)
		return r;
	r = image_apply_changes(img, body, patch, &err);
	if (r == 0)
		r = db_image_update(req->d->db, img, &err);
	if (r < 0)
		return api_reply_error(req, &err);
	source = str_printf("/1.0/images/%s", img->fingerprint);
	events_lifecycle(req->d->events, "default", "image-updated", source, NULL, &req->identity);
	return api_reply_sync(req, NULL);
}

static int api_image_put(struct api_request *req)
{
	return api_image_update(req, false);
}

static int api_image_patch(struct api_request *req)
{
	return api_image_update(req, true);
}

struct delete_job {
	struct daemon *d;
	struct api_identity requestor;
	char *fingerprint;
	bool deleted;
};

static void delete_job_free(void *data)
{
	struct delete_job *job = data;

	free(job->fingerprint);
	free(job);
}

static int delete_run(struct operation *op, struct error *err)
{
	struct delete_job *job = op->data;

	int r;

	/* The row goes first: a pool's unpacked copy is removed only once its image is gone
	 * from the store, and copies that clones still stand on stay until the last one. */
	r = image_delete(job->d->db, job->d->dir, job->fingerprint, err);
	job->deleted = r == 0;
	if (r == 0)
		(void)storage_images_forget(job->d->db, job->d->dir, job->fingerprint, NULL);
	return r;
}

static void delete_done(struct operation *op)
{
	struct delete_job *job = op->data;
	autofree char *source = str_printf("/1.0/images/%s", job->fingerprint);

	if (job->deleted)
		events_lifecycle(op->d->events, "default", "image-deleted", source, NULL,
				 &job->requestor);
}

static const struct operation_ops delete_ops = {
	.run = delete_run,
	.done = delete_done,
	.free = delete_job_free,
};

static int api_image_delete(struct api_request *req)
{
	autoclean(error_clear) struct error err = ERROR_INIT;
	autoclean(db_image_freep) struct db_image *img = NULL;
	autofree char *url = NULL;
	struct delete_job *job;
	struct operation *op;
	int r;

	r = image_load(req, &img, &err);
	if (r < 0)
		return api_reply_error(req, &err);
	job = xcalloc(1, sizeof(*job));
	job->d = req->d;
	job->requestor = req->identity;
	job->fingerprint = xstrdup(img->fingerprint);
	url = str_printf("/1.0/images/%s", img->fingerprint);
	op = operation_new(req->d, OPERATION_TASK, "Deleting image",
			   json_pack("{s:[s]}", "images", url), &delete_ops, job);
	return op_start_reply(req, op, "Failed to start the image deletion");
}

/* --- POST /1.0/images/{fingerprint}/secret and /refresh ---------------------------------- */

/* A one-time secret that lets an untrusted client (another host pulling the image) see and
 * export this private image once: a token operation, as LXD makes it; its metadata holds
 * the secret, cancelling it revokes the secret. */
static int api_image_secret(struct api_request *req)
{
	autoclean(error_clear) struct error err = ERROR_INIT;
	autoclean(db_image_freep) struct db_image *img = NULL;
	autofree char *url = NULL, *secret = random_hex(32);
	struct operation *op;
	int r;

	r = image_load(req, &img, &err);
	if (r < 0)
		return api_reply_error(req, &err);
	url = str_printf("/1.0/images/%s", img->fingerprint);
	op = operation_new(req->d, OPERATION_TOKEN, "Image download token",
			   json_pack("{s:[s]}", "images", url), NULL, NULL);
	op->may_cancel = true; /* cancelling revokes the secret */
	operation_set_metadata(
		op, json_pack("{s:s,s:s}", "secret", secret, "fingerprint", img->fingerprint));
	return op_start_reply(req, op, "Failed to create the image secret");
}

/* Refreshes one image; a replaced image is deleted like DELETE does (its pool copies go
 * once no clone stands on them). *ret_refreshed (may be NULL) says whether it changed. */
static int image_refresh_replace(struct daemon *d, const char *fingerprint, bool *ret_refreshed,
				 struct error *err)
{
	autofree char *fresh = NULL;
	int r;

	r = image_refresh(d->db, d->dir, fingerprint, &fresh, err);
	if (r < 0)
		return r;
	if (ret_refreshed)
		*ret_refreshed = fresh != NULL;
	if (!fresh)
		return 0;
	log_info("Image '%s' refreshed to '%s'", fingerprint, fresh);
	if (image_delete(d->db, d->dir, fingerprint, NULL) == 0)
		(void)storage_images_forget(d->db, d->dir, fingerprint, NULL);
	return 0;
}

static int refresh_run(struct operation *op, struct error *err)
{
	bool refreshed = false;
	int r;

	r = image_refresh_replace(op->d, op->data, &refreshed, err);
	if (r == 0)
		operation_merge_metadata(op, json_pack("{s:b}", "refreshed", refreshed));
	return r;
}

static const struct operation_ops refresh_ops = {
	.run = refresh_run,
	.free = free,
};

static int api_image_refresh(struct api_request *req)
{
	autoclean(error_clear) struct error err = ERROR_INIT;
	autoclean(db_image_freep) struct db_image *img = NULL;
	autofree char *url = NULL;
	struct operation *op;
	int r;

	r = image_load(req, &img, &err);
	if (r < 0)
		return api_reply_error(req, &err);
	url = str_printf("/1.0/images/%s", img->fingerprint);
	op = operation_new(req->d, OPERATION_TASK, "Refreshing image",
			   json_pack("{s:[s]}", "images", url), &refresh_ops,
			   xstrdup(img->fingerprint));
	return op_start_reply(req, op, "Failed to start the image refresh");
}

/* --- GET /1.0/images/{fingerprint}/export ------------------------------------------------ */

struct export_job {
	struct api_request *req;
	char *fingerprint;
	char *type;
	int meta, rootfs;
	int out;
	uint64_t len;
	char *boundary;
	int r;
	struct error err;
};

/* Worker: the multipart body of a split image, in a temporary file. */
static void export_split_run(void *data)
{
	struct export_job *job = data;
	struct stat st;
	int r;

	job->out = open(job->req->d->tmp_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (job->out < 0) {
		job->r = error_errno(&job->err, -errno, "Failed to create a temporary file");
		return;
	}
	r = image_multipart_write(job->meta, job->rootfs, job->type, job->fingerprint, job->out,
				  job->boundary, &job->err);
	if (r < 0) {
		job->r = r;
		return;
	}
	if (fstat(job->out, &st) < 0 || lseek(job->out, 0, SEEK_SET) < 0) {
		job->r = error_errno(&job->err, -errno, "Failed to export image '%s'",
				     job->fingerprint);
		return;
	}
	job->len = (uint64_t)st.st_size;
}

static void export_split_done(void *data)
{
	struct export_job *job = data;
	autofree char *ctype = str_printf("multipart/form-data; boundary=%s", job->boundary);

	if (job->r < 0)
		(void)api_reply_error(job->req, &job->err);
	else
		(void)api_reply_fd(job->req, 200, ctype, take_fd(job->out), job->len);
	api_request_finish(job->req);
	closep(&job->meta);
	closep(&job->rootfs);
	closep(&job->out);
	free(job->fingerprint);
	free(job->type);
	free(job->boundary);
	error_clear(&job->err);
	free(job);
}

static int api_image_export(struct api_request *req)
{
	autoclean(error_clear) struct error err = ERROR_INIT;
	autoclean(db_image_freep) struct db_image *img = NULL;
	autofree char *disposition = NULL, *source = NULL;
	autoclose int meta = -1, rootfs = -1;
	struct export_job *job;
	struct stat st;
	int r;

	r = image_load_visible(req, true, &img, &err);
	if (r == 0)
		r = image_files_open(req->d->dir, img->fingerprint, &meta, &rootfs, &err);
	if (r < 0)
		return api_reply_error(req, &err);
	source = str_printf("/1.0/images/%s", img->fingerprint);
	events_lifecycle(req->d->events, "default", "image-retrieved", source, NULL,
			 &req->identity);

	if (rootfs < 0) {
		if (fstat(meta, &st) < 0)
			return api_reply_errorf(req, -errno, "Failed to inspect image '%s'",
						img->fingerprint);
		disposition = str_printf("inline;filename=%s%s", img->fingerprint,
					 image_file_extension(meta));
		api_reply_add_header(req, "Content-Disposition", disposition);
		return api_reply_fd(req, 200, "application/octet-stream", take_fd(meta),
				    (uint64_t)st.st_size);
	}

	job = xcalloc(1, sizeof(*job));
	job->req = req;
	job->fingerprint = xstrdup(img->fingerprint);
	job->type = xstrdup(img->type);
	job->meta = take_fd(meta);
	job->rootfs = take_fd(rootfs);
	job->out = -1;
	job->boundary = random_hex(30);
	r = daemon_queue_work(req->d, export_split_run, export_split_done, job);
	if (r < 0) {
		closep(&job->meta);
		closep(&job->rootfs);
		free(job->fingerprint);
		free(job->type);
		free(job->boundary);
		free(job);
		return api_reply_errorf(req, r, "Failed to queue the export");
	}
	return api_reply_later(req);
}

/* --- /1.0/images/aliases ----------------------------------------------------------------- */

/* Untrusted clients see the aliases of public images only. */
static bool alias_is_visible(struct api_request *req, const struct db_image_alias *a)
{
	autoclean(db_image_freep) struct db_image *img = NULL;

	return req->identity.trusted ||
	       (db_image_get(req->d->db, a->target, &img, NULL) == 0 && img->public);
}

static json_t *alias_to_json(const struct db_image_alias *a)
{
	return json_pack("{s:s,s:s,s:s,s:s}", "description", a->description, "target", a->target,
			 "name", a->name, "type", a->type);
}

/* The alias a /1.0/images/aliases/... path names: LXD's route takes the rest of the path
 * ({name:.*}), so "debian/12" arrives as one or as two segments (the %2F decoded). The
 * caller frees. */
static char *alias_param(const struct api_request *req)
{
	const char *parts[] = { api_param(req, "name"), api_param(req, "name2"),
				api_param(req, "name3") };
	struct strbuf sb = STRBUF_INIT;

	for (size_t i = 0; i < ARRAY_SIZE(parts) && !str_is_empty(parts[i]); i++)
		strbuf_addf(&sb, "%s%s", i ? "/" : "", parts[i]);
	return strbuf_detach(&sb);
}

static char *alias_url(const char *name)
{
	autofree char *escaped = url_encode_path(name);

	return str_printf("/1.0/images/aliases/%s", escaped);
}

static int api_aliases_get(struct api_request *req)
{
	autoclean(error_clear) struct error err = ERROR_INIT;
	struct db_image_alias **aliases = NULL;
	size_t n = 0;
	json_t *result;
	int r;

	r = db_image_alias_list(req->d->db, NULL, &aliases, &n, &err);
	if (r < 0)
		return api_reply_error(req, &err);
	result = json_array();
	for (size_t i = 0; i < n; i++) {
		if (!alias_is_visible(req, aliases[i]))
			continue;
		if (req->recursion > 0) {
			json_array_append_new(result, alias_to_json(aliases[i]));
		} else {
			autofree char *url = alias_url(aliases[i]->name);

			json_array_append_new(result, json_string(url));
		}
	}
	db_image_aliases_free(aliases, n);
	return api_reply_sync(req, result);
}

static void alias_event(struct api_request *req, const char *action, const char *name,
			json_t *context)
{
	autofree char *url = alias_url(name);

	events_lifecycle(req->d->events, "default", action, url, context, &req->identity);
}

static int api_aliases_post(struct api_request *req)
{
	autoclean(error_clear) struct error err = ERROR_INIT;
	autoclean(db_image_freep) struct db_image *img = NULL;
	autojson json_t *body = NULL;
	autofree char *url = NULL;
	const char *name, *target, *description;
	int r;

	r = api_request_json(req, &body);
	if (r < 0)
		return r;
	name = json_get_str(body, "name");
	target = json_get_str(body, "target");
	description = json_get_str(body, "description");
	r = image_alias_name_check(name, &err);
	if (r < 0)
		return api_reply_error(req, &err);
	if (str_is_empty(target))
		return api_reply_errorf(req, -EINVAL, "Alias target is required");
	r = db_image_get(req->d->db, target, &img, &err);
	if (r == 0)
		r = db_image_alias_create(req->d->db, name, img->fingerprint, img->type,
					  description ? description : "", &err);
	if (r < 0)
		return api_reply_error(req, &err);
	alias_event(req, "image-alias-created", name,
		    json_pack("{s:s}", "target", img->fingerprint));
	url = alias_url(name);
	return api_reply_created(req, url);
}

static int api_alias_get(struct api_request *req)
{
	autoclean(error_clear) struct error err = ERROR_INIT;
	autoclean(db_image_alias_freep) struct db_image_alias *alias = NULL;
	autojson json_t *etag = NULL;
	autofree char *name = alias_param(req);
	int r;

	r = db_image_alias_get(req->d->db, name, &alias, &err);
	if (r < 0)
		return api_reply_error(req, &err);
	if (!alias_is_visible(req, alias))
		return api_reply_errorf(req, -ENOENT, "Image alias '%s' not found",
					str_is_single_line(alias->name) ? alias->name : "?");
	etag = alias_to_json(alias);
	return api_reply_sync_etag(req, alias_to_json(alias), etag);
}

static int api_alias_update(struct api_request *req, bool patch)
{
	autoclean(error_clear) struct error err = ERROR_INIT;
	autoclean(db_image_alias_freep) struct db_image_alias *alias = NULL;
	autoclean(db_image_freep) struct db_image *img = NULL;
	autojson json_t *body = NULL, *etag = NULL;
	autofree char *name = alias_param(req);
	const char *target, *description;
	const json_t *v;
	int r;

	r = api_request_json(req, &body);
	if (r < 0)
		return r;
	r = db_image_alias_get(req->d->db, name, &alias, &err);
	if (r < 0)
		return api_reply_error(req, &err);
	etag = alias_to_json(alias);
	r = api_request_check_etag(req, etag);
	if (r < 0)
		return r;

	v = json_object_get(body, "description");
	if (v && !json_is_null(v) && !json_is_string(v))
		return api_reply_errorf(req, -EINVAL, "Invalid 'description': expected a string");
	description = json_string_value(v);
	if (!description)
		description = patch ? alias->description : "";
	target = json_get_str(body, "target");
	if (str_is_empty(target)) {
		if (!patch)
			return api_reply_errorf(req, -EINVAL, "The target field is required");
		target = alias->target;
	}
	r = db_image_get(req->d->db, target, &img, &err);
	if (r == 0)
		r = db_image_alias_update(req->d->db, name, img->fingerprint, description, &err);
	if (r < 0)
		return api_reply_error(req, &err);
	alias_event(req, "image-alias-updated", name,
		    json_pack("{s:s}", "target", img->fingerprint));
	return api_reply_sync(req, NULL);
}

static int api_alias_put(struct api_request *req)
{
	return api_alias_update(req, false);
}

static int api_alias_patch(struct api_request *req)
{
	return api_alias_update(req, true);
}

static int api_alias_rename(struct api_request *req)
{
	autoclean(error_clear) struct error err = ERROR_INIT;
	autojson json_t *body = NULL;
	autofree char *url = NULL;
	autofree char *name = alias_param(req);
	const char *new_name;
	int r;

	r = api_request_json(req, &body);
	if (r < 0)
		return r;
	new_name = json_get_str(body, "name");
	r = image_alias_name_check(new_name, &err);
	if (r == 0)
		r = db_image_alias_rename(req->d->db, name, new_name, &err);
	if (r < 0)
		return api_reply_error(req, &err);
	alias_event(req, "image-alias-renamed", new_name, json_pack("{s:s}", "old_name", name));
	url = alias_url(new_name);
	return api_reply_created(req, url);
}

static int api_alias_delete(struct api_request *req)
{
	autoclean(error_clear) struct error err = ERROR_INIT;
	autofree char *name = alias_param(req);
	int r;

	r = db_image_alias_delete(req->d->db, name, &err);
	if (r < 0)
		return api_reply_error(req, &err);
	alias_event(req, "image-alias-deleted", name, NULL);
	return api_reply_sync(req, NULL);
}

/* --- the simplestreams tree: /streams/v1/... --------------------------------------------- */

struct streams_job {
	struct daemon *d;
	bool index; /* index.json, else images.json */
	json_t *result;
};

static void streams_job_free(void *data)
{
	struct streams_job *job = data;

	json_decref(job->result);
	free(job);
}

static int streams_work(void *data, struct error *err)
{
	struct streams_job *job = data;
	autojson json_t *index = NULL, *images = NULL;
	int r;

	r = image_streams_build(job->d->db, job->d->dir, &index, &images, err);
	if (r < 0)
		return r;
	job->result = job->index ? take_ptr(index) : take_ptr(images);
	return 0;
}

static int streams_reply(struct api_request *req, void *data)
{
	struct streams_job *job = data;
	autofree char *text = json_dumps(job->result, JSON_INDENT(1) | JSON_SORT_KEYS);

	return api_reply_raw(req, 200, "application/json", text, strlen(text));
}

static int streams_get(struct api_request *req, bool index)
{
	struct streams_job *job = xcalloc(1, sizeof(*job));

	job->d = req->d;
	job->index = index;
	return api_reply_from_worker(req, streams_work, streams_reply, streams_job_free, job);
}

static int api_streams_index(struct api_request *req)
{
	return streams_get(req, true);
}

static int api_streams_images(struct api_request *req)
{
	return streams_get(req, false);
}

static int api_streams_file(struct api_request *req)
{
	autoclean(error_clear) struct error err = ERROR_INIT;
	autoclose int fd = -1;
	struct stat st;
	int r;

	r = image_streams_file_open(req->d->db, req->d->dir, api_param(req, "fingerprint"),
				    api_param(req, "file"), &fd, &err);
	if (r < 0)
		return api_reply_error(req, &err);
	if (fstat(fd, &st) < 0)
		return api_reply_errorf(req, -errno, "Failed to inspect the image file");
	return api_reply_fd(req, 200, "application/octet-stream", take_fd(fd),
			    (uint64_t)st.st_size);
}

/* --- the periodic image task --------------------------------------------------------------- */

/* How often the task wakes up; the config says when there is something to do. */
#define IMAGE_TASK_TICK_MS (UINT64_C(10) * 60 * 1000)

struct image_tasks {
	uv_timer_t timer;
	int64_t last_update; /* unix seconds of the last auto-update pass (start: daemon start) */
	bool running;
};

/* One pass: drops the expired cached images, then, when update is true, refreshes the
 * auto-update ones. *ret (may be NULL) reports {"expired": [...], "refreshed": [...]}.
 * Failures with one image are logged and the pass goes on. Blocks. */
static int images_maintain(struct daemon *d, int64_t now, bool update, json_t **ret,
			   struct error *err)
{
	autojson json_t *cfg = NULL, *refresh = NULL, *expire = NULL;
	json_t *expired = json_array(), *refreshed = json_array(), *fp;
	int64_t expiry_days;
	size_t i;
	int r;

	r = db_config_load(d->db, &cfg, err);
	if (r == 0) {
		expiry_days =
			config_get_int(&server_config_schema, cfg, "images.remote_cache_expiry");
		r = image_maintenance_plan(d->db, now, expiry_days * 86400, &refresh, &expire, err);
	}
	if (r < 0) {
		json_decref(expired);
		json_decref(refreshed);
		return r;
	}
	json_array_foreach(expire, i, fp)
	{
		const char *f = json_string_value(fp);

		if (image_delete(d->db, d->dir, f, NULL) < 0)
			continue;
		(void)storage_images_forget(d->db, d->dir, f, NULL);
		log_info("Expired cached image '%s'", f);
		json_array_append(expired, fp);
	}
	json_array_foreach(update ? refresh : NULL, i, fp)
	{
		struct error e = ERROR_INIT;
		bool changed = false;

		if (image_refresh_replace(d, json_string_value(fp), &changed, &e) < 0)
			log_warn("Failed to refresh image '%s': %s, keeping the old one",
				 json_string_value(fp), error_message(&e));
		else if (changed)
			json_array_append(refreshed, fp);
		error_clear(&e);
	}
	if (ret)
		*ret = json_pack("{s:o,s:o}", "expired", expired, "refreshed", refreshed);
	else {
		json_decref(expired);
		json_decref(refreshed);
	}
	return 0;
}

struct maintain_job {
	struct daemon *d;
	int64_t now;
	bool update;
};

static void maintain_work(void *data)
{
	struct maintain_job *job = data;
	struct error err = ERROR_INIT;

	if (images_maintain(job->d, job->now, job->update, NULL, &err) < 0)
		log_warn("Image maintenance failed: %s", error_message(&err));
	error_clear(&err);
}

static void maintain_done(void *data)
{
	struct maintain_job *job = data;
	struct image_tasks *t = job->d->image_tasks; /* NULL once stopped */

	if (t) {
		t->running = false;
		if (job->update)
			t->last_update = job->now;
	}
	free(job);
}

static void image_tasks_tick(uv_timer_t *timer)
{
	struct daemon *d = timer->data;
	struct image_tasks *t = d->image_tasks;
	autojson json_t *cfg = NULL;
	struct maintain_job *job;
	int64_t now = (int64_t)time(NULL), hours;

	if (t->running || d->stopping || db_config_load(d->db, &cfg, NULL) < 0)
		return;
	hours = config_get_int(&server_config_schema, cfg, "images.auto_update_interval");
	job = xcalloc(1, sizeof(*job));
	job->d = d;
	job->now = now;
	job->update = hours > 0 && now - t->last_update >= hours * 3600;
	t->running = daemon_queue_work(d, maintain_work, maintain_done, job) == 0;
	if (!t->running)
		free(job);
}

int image_tasks_start(struct daemon *d)
{
	struct image_tasks *t = xcalloc(1, sizeof(*t));
	int r;

	t->last_update = (int64_t)time(NULL);
	r = uv_timer_init(&d->loop, &t->timer);
	if (r < 0) {
		free(t);
		return r;
	}
	t->timer.data = d;
	d->image_tasks = t;
	uv_unref((uv_handle_t *)&t->timer);
	return uv_timer_start(&t->timer, image_tasks_tick, IMAGE_TASK_TICK_MS, IMAGE_TASK_TICK_MS);
}

static void image_tasks_closed(uv_handle_t *h)
{
	free((struct image_tasks *)(void *)h); /* the timer is its first member */
}

void image_tasks_stop(struct daemon *d)
{
	struct image_tasks *t = d->image_tasks;

	if (!t)
		return;
	d->image_tasks = NULL;
	uv_timer_stop(&t->timer);
	uv_close((uv_handle_t *)&t->timer, image_tasks_closed);
}

/* POST /internal/testing/images/maintenance {"now": unix seconds, "update": bool}: one pass
 * at a chosen time (--testing only), answering what it did. */
struct maintain_test {
	struct daemon *d;
	long long now;
	bool update;
	json_t *report;
};

static int maintain_test_work(void *data, struct error *err)
{
	struct maintain_test *m = data;

	return images_maintain(m->d, m->now, m->update, &m->report, err);
}

static int maintain_test_reply(struct api_request *req, void *data)
{
	struct maintain_test *m = data;

	return api_reply_sync(req, take_ptr(m->report));
}

static void maintain_test_free(void *data)
{
	struct maintain_test *m = data;

	json_decref(m->report);
	free(m);
}

static int api_testing_images_maintain(struct api_request *req)
{
	autojson json_t *body = NULL;
	struct maintain_test *m;
	int r;

	r = api_request_json(req, &body);
	if (r < 0)
		return r;
	m = xcalloc(1, sizeof(*m));
	m->d = req->d;
	m->now = (long long)time(NULL);
	(void)json_get_int(body, "now", &m->now);
	(void)json_get_bool(body, "update", &m->update);
	return api_reply_from_worker(req, maintain_test_work, maintain_test_reply,
				     maintain_test_free, m);
}

/* "aliases" must come before "{fingerprint}": the first matching path wins. The GETs are
 * served to untrusted clients too (an image server), each handler showing them the public
 * images only. */
const struct route api_images_routes[] = {
	{ .path = "/1.0/images",
	  .handlers = { [HTTP_GET] = api_images_get, [HTTP_POST] = api_images_post },
	  .flags = ROUTE_STREAM_BODY | ROUTE_UNTRUSTED },
	{ .path = "/1.0/images/aliases",
	  .handlers = { [HTTP_GET] = api_aliases_get, [HTTP_POST] = api_aliases_post },
	  .flags = ROUTE_UNTRUSTED },
#define ALIAS_ROUTE(p)                                            \
	{                                                         \
		.path = (p),                                      \
		.handlers = { [HTTP_GET] = api_alias_get,         \
			      [HTTP_PUT] = api_alias_put,         \
			      [HTTP_PATCH] = api_alias_patch,     \
			      [HTTP_POST] = api_alias_rename,     \
			      [HTTP_DELETE] = api_alias_delete }, \
		.flags = ROUTE_UNTRUSTED                          \
	}
	ALIAS_ROUTE("/1.0/images/aliases/{name}"),
	ALIAS_ROUTE("/1.0/images/aliases/{name}/{name2}"),
	ALIAS_ROUTE("/1.0/images/aliases/{name}/{name2}/{name3}"),
#undef ALIAS_ROUTE
	{ .path = "/1.0/images/{fingerprint}",
	  .handlers = { [HTTP_GET] = api_image_get,
			[HTTP_PUT] = api_image_put,
			[HTTP_PATCH] = api_image_patch,
			[HTTP_DELETE] = api_image_delete },
	  .flags = ROUTE_UNTRUSTED },
	{ .path = "/1.0/images/{fingerprint}/export",
	  .handlers = { [HTTP_GET] = api_image_export },
	  .flags = ROUTE_UNTRUSTED },
	{ .path = "/1.0/images/{fingerprint}/secret",
	  .handlers = { [HTTP_POST] = api_image_secret } },
	{ .path = "/1.0/images/{fingerprint}/refresh",
	  .handlers = { [HTTP_POST] = api_image_refresh } },
	{ .path = "/internal/testing/images/maintenance",
	  .handlers = { [HTTP_POST] = api_testing_images_maintain },
	  .flags = ROUTE_TESTING },
	{ .path = "/streams/v1/index.json",
	  .handlers = { [HTTP_GET] = api_streams_index },
	  .flags = ROUTE_UNTRUSTED },
	{ .path = "/streams/v1/images.json",
	  .handlers = { [HTTP_GET] = api_streams_images },
	  .flags = ROUTE_UNTRUSTED },
	{ .path = "/streams/v1/images/{fingerprint}/{file}",
	  .handlers = { [HTTP_GET] = api_streams_file },
	  .flags = ROUTE_UNTRUSTED },
	{},
};
