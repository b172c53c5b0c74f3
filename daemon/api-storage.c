/* daemon/api-storage.c: /1.0/storage-pools and the volumes in them.
 *
 * The clients expect these to be synchronous (../shared/research/lxd-client-compat.md 2.6:
 * pool create is 201 with Location, custom volume create a plain 200): anything that touches
 * the disk runs on a worker through daemon_queue_work() and the reply waits for it; reads of
 * the database answer at once. */
#include <errno.h>
#include <string.h>

#include "daemon/api.h"
#include "daemon/daemon.h"
#include "daemon/events.h"
#include "daemon/operations.h"
#include "daemon/router.h"
#include "instance/lifecycle.h"
#include "lib/config.h"
#include "lib/json.h"
#include "lib/str.h"
#include "storage/storage.h"

#include "lib/banned.h"

/* ---- blocking work on a worker -------------------------------------------------------- */

struct storage_job;
typedef int (*storage_job_fn)(struct storage_job *job, struct error *err);

struct storage_job {
	struct api_request *req; /* NULL when the job runs as an operation */
	struct daemon *d;
	struct api_identity identity;
	storage_job_fn run;
	struct db *db;
	char *dir;
	char *pool, *name, *new_name;
	enum storage_volume_type type;
	json_t *body;

	/* Filled by run. */
	json_t *result;	 /* sync metadata (taken by the reply) */
	char *location;	 /* reply 201 with this Location instead */
	char *lifecycle; /* lifecycle action to announce on success */
	char *source;	 /* its source URL */
	int r;
	struct error err;
};

static void storage_job_run(void *data)
{
	struct storage_job *job = data;

	job->r = job->run(job, &job->err);
}

static void storage_job_free(struct storage_job *job)
{
	free(job->dir);
	free(job->pool);
	free(job->name);
	free(job->new_name);
	json_decref(job->body);
	json_decref(job->result);
	free(job->location);
	free(job->lifecycle);
	free(job->source);
	error_clear(&job->err);
	free(job);
}

static void storage_job_done(void *data)
{
	struct storage_job *job = data;
	struct api_request *req = job->req;

	if (job->r < 0) {
		(void)api_reply_error(req, &job->err);
	} else {
		if (job->lifecycle)
			events_lifecycle(req->d->events, "default", job->lifecycle, job->source,
					 NULL, &req->identity);
		if (job->location)
			(void)api_reply_created(req, job->location);
		else
			(void)api_reply_sync(req,
					     job->result ? take_ptr(job->result) : json_object());
	}
	api_request_finish(req);
	storage_job_free(job);
}

static struct storage_job *storage_job_new(struct api_request *req, storage_job_fn run)
{
	struct storage_job *job = xcalloc(1, sizeof(*job));

	job->req = req;
	job->d = req->d;
	job->identity = req->identity;
	job->run = run;
	job->db = req->d->db;
	job->dir = xstrdup(req->d->dir);
	return job;
}

static int storage_op_run(struct operation *op, struct error *err)
{
	struct storage_job *job = op->data;

	return job->run(job, err);
}

static void storage_op_done(struct operation *op)
{
	struct storage_job *job = op->data;

	if (op->status == OPERATION_SUCCESS && job->lifecycle)
		events_lifecycle(job->d->events, "default", job->lifecycle, job->source, NULL,
				 &job->identity);
}

static void storage_op_free(void *data)
{
	storage_job_free(data);
}

static const struct operation_ops storage_op_ops = {
	.run = storage_op_run,
	.done = storage_op_done,
	.free = storage_op_free,
};

/* Runs job as an operation and replies 202 (what the clients wait on for volume snapshots,
 * copies and moves). resource is the URL the operation touches. Takes job. */
static int storage_job_start_op(struct api_request *req, struct storage_job *job,
				const char *description, const char *resource)
{
	struct operation *op;
	int r;

	job->req = NULL;
	op = operation_new(req->d, OPERATION_TASK, description,
			   json_pack("{s:[s]}", "storage_volumes", resource), &storage_op_ops, job);
	operation_ref(op);
	r = operation_start(op);
	if (r < 0) {
		operation_unref(op);
		return api_reply_errorf(req, r, "Failed to start the operation");
	}
	r = api_reply_async(req, op);
	operation_unref(op);
	return r;
}

/* Queues job and defers the reply until it is done. */
static int storage_job_queue(struct api_request *req, struct storage_job *job)
{
	int r;

	r = daemon_queue_work(req->d, storage_job_run, storage_job_done, job);
	if (r < 0) {
		storage_job_free(job);
		return api_reply_errorf(req, r, "Failed to queue the storage request");
	}
	return api_reply_later(req);
}

/* Checks that the members of body named in keys have the given types. */
static int body_check(const json_t *body, const char *const *keys, const json_type *types, size_t n,
		      struct error *err)
{
	for (size_t i = 0; i < n; i++) {
		int r = json_check_type(body, keys[i], types[i], err);

		if (r < 0)
			return r;
	}
	return 0;
}

/* Reads body's optional string member key into *ret (NULL when absent or null). */
static int body_str(const json_t *body, const char *key, const char **ret, struct error *err)
{
	int r;

	r = json_check_type(body, key, JSON_STRING, err);
	if (r < 0)
		return r;
	*ret = json_get_str(body, key);
	return 0;
}

/* ---- pools ---------------------------------------------------------------------------- */

static json_t *pool_etag_source(const struct storage_pool *pool)
{
	return json_pack("{s:s, s:s, s:s, s:O}", "name", pool->name, "driver", pool->driver->name,
			 "description", pool->description, "config", pool->config);
}

/* GET /1.0/storage-pools */
static int api_pools_get(struct api_request *req)
{
	autoclean(error_clear) struct error err = ERROR_INIT;
	json_t *list = NULL;
	int r;

	r = storage_pools_list_json(req->d->db, req->d->dir, req->recursion > 0, &list, &err);
	if (r < 0)
		return api_reply_error(req, &err);
	return api_reply_sync(req, list);
}

static int pool_create_run(struct storage_job *job, struct error *err)
{
	const char *driver = json_get_str(job->body, "driver");
	const char *description = json_get_str(job->body, "description");
	int r;

	r = storage_pool_create(job->db, job->dir, job->name, driver, description,
				json_object_get(job->body, "config"), err);
	if (r < 0)
		return r;
	job->location = str_printf("/1.0/storage-pools/%s", job->name);
	job->lifecycle = xstrdup("storage-pool-created");
	job->source = xstrdup(job->location);
	return 0;
}

/* POST /1.0/storage-pools {"name", "driver", "description", "config"} */
static int api_pools_post(struct api_request *req)
{
	static const char *const keys[] = { "name", "driver", "description", "config" };
	static const json_type types[] = { JSON_STRING, JSON_STRING, JSON_STRING, JSON_OBJECT };
	autoclean(error_clear) struct error err = ERROR_INIT;
	autojson json_t *body = NULL;
	struct storage_job *job;
	const char *name;
	int r;

	r = api_request_json(req, &body);
	if (r < 0)
		return r;
	r = body_check(body, keys, types, ARRAY_SIZE(keys), &err);
	if (r < 0)
		return api_reply_error(req, &err);
	name = json_get_str(body, "name");
	if (str_is_empty(name))
		return api_reply_errorf(req, -EINVAL, "No name provided");
	if (!object_name_is_valid(name))
		return api_reply_errorf(req, -EINVAL, "Invalid storage pool name");

	job = storage_job_new(req, pool_create_run);
	job->name = xstrdup(name);
	job->body = take_ptr(body);
	return storage_job_queue(req, job);
}

/* GET /1.0/storage-pools/{pool} */
static int api_pool_get(struct api_request *req)
{
	autoclean(error_clear) struct error err = ERROR_INIT;
	autoclean(storage_pool_freep) struct storage_pool *pool = NULL;
	autojson json_t *etag = NULL;
	json_t *j = NULL;
	int r;

	r = storage_pool_load(req->d->db, req->d->dir, api_param(req, "pool"), &pool, &err);
	if (r < 0)
		return api_reply_error(req, &err);
	r = storage_pool_to_json(pool, &j, &err);
	if (r < 0)
		return api_reply_error(req, &err);
	etag = pool_etag_source(pool);
	return api_reply_sync_etag(req, j, etag);
}

/* PUT and PATCH /1.0/storage-pools/{pool} {"config", "description"}: a database change. */
static int api_pool_update(struct api_request *req, bool patch)
{
	static const char *const keys[] = { "description", "config" };
	static const json_type types[] = { JSON_STRING, JSON_OBJECT };
	autoclean(error_clear) struct error err = ERROR_INIT;
	autoclean(storage_pool_freep) struct storage_pool *pool = NULL;
	autojson json_t *body = NULL, *etag = NULL;
	autofree char *source = NULL;
	const char *description;
	int r;

	r = api_request_json(req, &body);
	if (r < 0)
		return r;
	r = body_check(body, keys, types, ARRAY_SIZE(keys), &err);
	if (r < 0)
		return api_reply_error(req, &err);
	r = storage_pool_load(req->d->db, req->d->dir, api_param(req, "pool"), &pool, &err);
	if (r < 0)
		return api_reply_error(req, &err);
	etag = pool_etag_source(pool);
	r = api_request_check_etag(req, etag);
	if (r < 0)
		return r;

	/* A PATCH without a description keeps it; a PUT replaces it. */
	description = json_get_str(body, "description");
	if (!description && !patch)
		description = "";
	r = storage_pool_update(pool, description, json_object_get(body, "config"), patch, &err);
	if (r < 0)
		return api_reply_error(req, &err);
	source = str_printf("/1.0/storage-pools/%s", pool->name);
	events_lifecycle(req->d->events, "default", "storage-pool-updated", source, NULL,
			 &req->identity);
	return api_reply_sync(req, json_object());
}

static int api_pool_put(struct api_request *req)
{
	return api_pool_update(req, false);
}

static int api_pool_patch(struct api_request *req)
{
	return api_pool_update(req, true);
}

static int pool_delete_run(struct storage_job *job, struct error *err)
{
	autoclean(storage_pool_freep) struct storage_pool *pool = NULL;
	int r;

	r = storage_pool_load(job->db, job->dir, job->pool, &pool, err);
	if (r < 0)
		return r;
	r = storage_pool_delete(pool, err);
	if (r < 0)
		return r;
	job->lifecycle = xstrdup("storage-pool-deleted");
	job->source = str_printf("/1.0/storage-pools/%s", job->pool);
	return 0;
}

/* DELETE /1.0/storage-pools/{pool} */
static int api_pool_delete(struct api_request *req)
{
	struct storage_job *job = storage_job_new(req, pool_delete_run);

	job->pool = xstrdup(api_param(req, "pool"));
	return storage_job_queue(req, job);
}

static int pool_resources_run(struct storage_job *job, struct error *err)
{
	autoclean(storage_pool_freep) struct storage_pool *pool = NULL;
	struct storage_resources res = { 0 };
	int r;

	r = storage_pool_load(job->db, job->dir, job->pool, &pool, err);
	if (r < 0)
		return r;
	r = storage_pool_resources(pool, &res, err);
	if (r < 0)
		return r;
	job->result = json_pack("{s:{s:I, s:I}, s:{s:I, s:I}}", "space", "used",
				(json_int_t)res.space_used, "total", (json_int_t)res.space_total,
				"inodes", "used", (json_int_t)res.inodes_used, "total",
				(json_int_t)res.inodes_total);
	return 0;
}

/* GET /1.0/storage-pools/{pool}/resources */
static int api_pool_resources(struct api_request *req)
{
	struct storage_job *job = storage_job_new(req, pool_resources_run);

	job->pool = xstrdup(api_param(req, "pool"));
	return storage_job_queue(req, job);
}

/* ---- volumes -------------------------------------------------------------------------- */

/* The {type} of the path, replying 400 for an unknown one. */
static int path_volume_type(struct api_request *req, enum storage_volume_type *ret)
{
	autoclean(error_clear) struct error err = ERROR_INIT;
	int r;

	r = storage_volume_type_from_name(api_param(req, "type"), ret, &err);
	if (r < 0)
		return api_reply_error(req, &err);
	return 0;
}

static json_t *volume_url_json(const char *pool, const char *type, const char *name)
{
	autofree char *url = str_printf("/1.0/storage-pools/%s/volumes/%s/%s", pool, type, name);

	return json_string(url);
}

/* Whether obj matches a server-side filter as the clients write it: "field eq value"
 * clauses joined by " and " (api_filtering); the value may be quoted. -EINVAL for anything
 * else. */
static int filter_match(const json_t *obj, const char *filter, bool *ret, struct error *err)
{
	autofree char *copy = xstrdup(filter);
	char *clause = copy;
	bool match = true;

	while (clause && *clause) {
		char *next = strstr(clause, " and ");
		char *eq;
		const char *have;
		size_t len;

		if (next) {
			*next = '\0';
			next += 5;
		}
		eq = strstr(clause, " eq ");
		if (!eq)
			return error_set(
				err, -EINVAL,
				"Invalid filter: only 'field eq value' clauses joined by 'and' are supported");
		*eq = '\0';
		eq += 4;
		len = strlen(eq);
		if (len >= 2 && (eq[0] == '"' || eq[0] == '\'') && eq[len - 1] == eq[0]) {
			eq[len - 1] = '\0';
			eq++;
		}
		have = json_get_str(obj, clause);
		if (!have || !streq(have, eq))
			match = false;
		clause = next;
	}
	*ret = match;
	return 0;
}

/* GET /1.0/storage-pools/{pool}/volumes[/{type}] */
static int volumes_get(struct api_request *req, int type)
{
	autoclean(error_clear) struct error err = ERROR_INIT;
	autoclean(storage_pool_freep) struct storage_pool *pool = NULL;
	autojson json_t *list = NULL;
	const char *filter = api_query(req, "filter");
	json_t *out, *obj;
	size_t i;
	int r;

	r = storage_pool_load(req->d->db, req->d->dir, api_param(req, "pool"), &pool, &err);
	if (r < 0)
		return api_reply_error(req, &err);
	/* lxc sends filter= even when it has none. */
	r = storage_volumes_list_json(pool, type, req->recursion > 0 || !str_is_empty(filter),
				      &list, &err);
	if (r < 0)
		return api_reply_error(req, &err);
	if (str_is_empty(filter))
		return api_reply_sync(req, take_ptr(list));

	out = json_array();
	json_array_foreach(list, i, obj)
	{
		bool match = false;

		r = filter_match(obj, filter, &match, &err);
		if (r < 0) {
			json_decref(out);
			return api_reply_error(req, &err);
		}
		if (!match)
			continue;
		if (req->recursion > 0)
			(void)json_array_append(out, obj);
		else
			(void)json_array_append_new(
				out, volume_url_json(pool->name, json_get_str(obj, "type"),
						     json_get_str(obj, "name")));
	}
	return api_reply_sync(req, out);
}

static int api_volumes_get(struct api_request *req)
{
	return volumes_get(req, -1);
}

static int api_volumes_type_get(struct api_request *req)
{
	enum storage_volume_type type;
	int r;

	r = path_volume_type(req, &type);
	if (r < 0)
		return r;
	return volumes_get(req, (int)type);
}

static int volume_create_run(struct storage_job *job, struct error *err)
{
	autoclean(storage_pool_freep) struct storage_pool *pool = NULL;
	int r;

	r = storage_pool_load(job->db, job->dir, job->pool, &pool, err);
	if (r < 0)
		return r;
	r = storage_volume_create_custom(pool, job->name, json_get_str(job->body, "description"),
					 json_get_str(job->body, "content_type"),
					 json_object_get(job->body, "config"), err);
	if (r < 0)
		return r;
	job->lifecycle = xstrdup("storage-volume-created");
	job->source = str_printf("/1.0/storage-pools/%s/volumes/custom/%s", job->pool, job->name);
	return 0;
}

static int volume_copy_run(struct storage_job *job, struct error *err)
{
	autoclean(storage_pool_freep) struct storage_pool *src_pool = NULL, *dst_pool = NULL;
	const json_t *source = json_object_get(job->body, "source");
	bool volume_only = false;
	int r;

	(void)json_get_bool(source, "volume_only", &volume_only);
	r = storage_pool_load(job->db, job->dir, json_get_str(source, "pool"), &src_pool, err);
	if (r >= 0)
		r = storage_pool_load(job->db, job->dir, job->pool, &dst_pool, err);
	if (r >= 0)
		r = storage_volume_copy_custom(src_pool, json_get_str(source, "name"), dst_pool,
					       job->name, !volume_only, err);
	if (r < 0)
		return r;
	job->lifecycle = xstrdup("storage-volume-created");
	job->source = str_printf("/1.0/storage-pools/%s/volumes/custom/%s", job->pool, job->name);
	return 0;
}

/* POST .../volumes/custom {"name", "source": {"type": "copy", "pool", "name",
 * "volume_only"}}: an operation, as the clients expect. Takes body. */
static int volume_copy_start(struct api_request *req, const char *name, json_t *body)
{
	static const char *const keys[] = { "pool", "name", "location", "project" };
	static const json_type types[] = { JSON_STRING, JSON_STRING, JSON_STRING, JSON_STRING };
	autoclean(error_clear) struct error err = ERROR_INIT;
	const json_t *source = json_object_get(body, "source");
	autofree char *url = NULL;
	struct storage_job *job;
	bool refresh = false;
	int r;

	r = body_check(source, keys, types, ARRAY_SIZE(keys), &err);
	if (r < 0) {
		json_decref(body);
		return api_reply_error(req, &err);
	}
	r = storage_name_check("storage volume", name, &err);
	if (r >= 0)
		r = storage_name_check("storage volume", json_get_str(source, "name"), &err);
	if (r >= 0)
		r = storage_name_check("storage pool", json_get_str(source, "pool"), &err);
	if (r < 0) {
		json_decref(body);
		return api_reply_error(req, &err);
	}
	(void)json_get_bool(source, "refresh", &refresh);
	if (refresh || !str_is_empty(json_get_str(source, "location"))) {
		json_decref(body);
		return api_reply_errorf(
			req, -EOPNOTSUPP,
			"Refreshing or migrating storage volumes is not supported yet");
	}
	url = str_printf("/1.0/storage-pools/%s/volumes/custom/%s", api_param(req, "pool"), name);
	job = storage_job_new(req, volume_copy_run);
	job->pool = xstrdup(api_param(req, "pool"));
	job->name = xstrdup(name);
	job->body = body;
	return storage_job_start_op(req, job, "Copying storage volume", url);
}

/* POST /1.0/storage-pools/{pool}/volumes[/{type}] {"name", "type", "config", "description",
 * "content_type", "source"}: custom volumes only, created empty. */
static int volumes_post(struct api_request *req, const char *path_type)
{
	static const char *const keys[] = { "name",	    "type",   "description",
					    "content_type", "config", "source" };
	static const json_type types[] = { JSON_STRING, JSON_STRING, JSON_STRING,
					   JSON_STRING, JSON_OBJECT, JSON_OBJECT };
	autoclean(error_clear) struct error err = ERROR_INIT;
	autojson json_t *body = NULL;
	const char *name, *type = path_type, *source_type = NULL;
	struct storage_job *job;
	int r;

	r = api_request_json(req, &body);
	if (r < 0)
		return r;
	r = body_check(body, keys, types, ARRAY_SIZE(keys), &err);
	if (r < 0)
		return api_reply_error(req, &err);
	if (!type)
		type = json_get_str(body, "type");
	if (str_is_empty(type))
		type = "custom";
	if (!streq(type, "custom")) {
		enum storage_volume_type t;

		r = storage_volume_type_from_name(type, &t, &err);
		if (r < 0)
			return api_reply_error(req, &err);
		return api_reply_errorf(req, -EINVAL,
					"Storage volumes of type '%s' cannot be created directly",
					type);
	}
	r = body_str(json_object_get(body, "source"), "type", &source_type, &err);
	if (r < 0)
		return api_reply_error(req, &err);
	if (!str_is_empty(source_type) && !streq(source_type, "copy"))
		return api_reply_errorf(
			req, -EOPNOTSUPP,
			"Creating storage volumes from a source ('%s') is not supported yet",
			config_value_is_safe(source_type) ? source_type : "?");
	name = json_get_str(body, "name");
	if (str_is_empty(name))
		return api_reply_errorf(req, -EINVAL, "No name provided");
	if (!str_is_empty(source_type))
		return volume_copy_start(req, name, take_ptr(body));

	job = storage_job_new(req, volume_create_run);
	job->pool = xstrdup(api_param(req, "pool"));
	job->name = xstrdup(name);
	job->body = take_ptr(body);
	return storage_job_queue(req, job);
}

static int api_volumes_post(struct api_request *req)
{
	return volumes_post(req, NULL);
}

static int api_volumes_type_post(struct api_request *req)
{
	enum storage_volume_type type;
	int r;

	r = path_volume_type(req, &type);
	if (r < 0)
		return r;
	return volumes_post(req, storage_volume_type_names[type]);
}

/* Loads the pool and volume of the path; replies with the error itself on failure. */
static int path_volume_load(struct api_request *req, struct storage_pool **ret_pool,
			    struct storage_volume **ret_vol)
{
	autoclean(error_clear) struct error err = ERROR_INIT;
	autoclean(storage_pool_freep) struct storage_pool *pool = NULL;
	enum storage_volume_type type;
	int r;

	r = path_volume_type(req, &type);
	if (r < 0)
		return r;
	r = storage_pool_load(req->d->db, req->d->dir, api_param(req, "pool"), &pool, &err);
	if (r < 0)
		return api_reply_error(req, &err);
	r = storage_volume_load(pool, type, api_param(req, "name"), ret_vol, &err);
	if (r < 0)
		return api_reply_error(req, &err);
	*ret_pool = take_ptr(pool);
	return 0;
}

/* GET /1.0/storage-pools/{pool}/volumes/{type}/{name} */
static int api_volume_get(struct api_request *req)
{
	autoclean(error_clear) struct error err = ERROR_INIT;
	autoclean(storage_pool_freep) struct storage_pool *pool = NULL;
	autoclean(storage_volume_freep) struct storage_volume *vol = NULL;
	autojson json_t *etag = NULL;
	json_t *j = NULL;
	int r;

	r = path_volume_load(req, &pool, &vol);
	if (r < 0)
		return r;
	r = storage_volume_to_json(pool, vol, &j, &err);
	if (r < 0)
		return api_reply_error(req, &err);
	etag = storage_volume_etag_source(vol);
	return api_reply_sync_etag(req, j, etag);
}

/* The volume of the job, for the functions that change one. */
static int job_volume_load(struct storage_job *job, struct storage_pool **ret_pool,
			   struct storage_volume **ret_vol, struct error *err)
{
	autoclean(storage_pool_freep) struct storage_pool *pool = NULL;
	int r;

	r = storage_pool_load(job->db, job->dir, job->pool, &pool, err);
	if (r < 0)
		return r;
	r = storage_volume_load(pool, job->type, job->name, ret_vol, err);
	if (r < 0)
		return r;
	*ret_pool = take_ptr(pool);
	return 0;
}

static int volume_update_run(struct storage_job *job, bool patch, struct error *err)
{
	autoclean(storage_pool_freep) struct storage_pool *pool = NULL;
	autoclean(storage_volume_freep) struct storage_volume *vol = NULL;
	const char *description = json_get_str(job->body, "description");
	int r;

	r = job_volume_load(job, &pool, &vol, err);
	if (r < 0)
		return r;
	if (!description && !patch)
		description = "";
	r = storage_volume_update(pool, vol, description, json_object_get(job->body, "config"),
				  patch, err);
	if (r < 0)
		return r;
	job->lifecycle = xstrdup("storage-volume-updated");
	job->source = str_printf("/1.0/storage-pools/%s/volumes/%s/%s", job->pool,
				 storage_volume_type_names[job->type], job->name);
	return 0;
}

static int volume_put_run(struct storage_job *job, struct error *err)
{
	return volume_update_run(job, false, err);
}

static int volume_patch_run(struct storage_job *job, struct error *err)
{
	return volume_update_run(job, true, err);
}

/* PUT {"restore": "<snapshot>"}: the volume's contents become the snapshot's. */
static int volume_restore_run(struct storage_job *job, struct error *err)
{
	autoclean(storage_pool_freep) struct storage_pool *pool = NULL;
	autoclean(storage_volume_freep) struct storage_volume *vol = NULL;
	const struct instance_env env = { .db = job->db, .dir = job->dir };
	autojson json_t *users = NULL;
	autofree char *running = NULL;
	int r;

	/* A running instance keeps the contents it mounted: LXD refuses, so do we. */
	r = job_volume_load(job, &pool, &vol, err);
	if (r >= 0)
		r = storage_volume_users(pool, vol, &users, err);
	if (r < 0)
		return r;
	if (instance_running_user(&env, users, NULL, &running) > 0)
		return error_set(
			err, -EBUSY,
			"Storage volume '%s' is in use by running instance '%s': stop it first",
			job->name, running);
	r = storage_volume_snapshot_restore(pool, job->type, job->name, job->new_name, err);
	if (r < 0)
		return r;
	job->lifecycle = xstrdup("storage-volume-restored");
	job->source = str_printf("/1.0/storage-pools/%s/volumes/custom/%s", job->pool, job->name);
	return 0;
}

/* Refuses to change a volume that belongs to an instance or an image through this API. */
static int path_volume_custom(struct api_request *req, enum storage_volume_type *ret)
{
	int r;

	r = path_volume_type(req, ret);
	if (r < 0)
		return r;
	if (*ret != STORAGE_VOLUME_CUSTOM)
		return api_reply_errorf(req, -EINVAL,
					"Storage volumes of type '%s' are managed through their %s",
					storage_volume_type_names[*ret],
					*ret == STORAGE_VOLUME_IMAGE ? "image" : "instance");
	return 0;
}

/* A job on the volume the path names ({pool}, {name}), of type. */
static struct storage_job *volume_job_new(struct api_request *req, storage_job_fn run,
					  enum storage_volume_type type)
{
	struct storage_job *job = storage_job_new(req, run);

	job->pool = xstrdup(api_param(req, "pool"));
	job->name = xstrdup(api_param(req, "name"));
	job->type = type;
	return job;
}

/* PUT and PATCH /1.0/storage-pools/{pool}/volumes/custom/{name} {"config", "description"} */
static int api_volume_update(struct api_request *req, bool patch)
{
	static const char *const keys[] = { "description", "config", "restore" };
	static const json_type types[] = { JSON_STRING, JSON_OBJECT, JSON_STRING };
	autoclean(error_clear) struct error err = ERROR_INIT;
	autoclean(storage_pool_freep) struct storage_pool *pool = NULL;
	autoclean(storage_volume_freep) struct storage_volume *vol = NULL;
	autojson json_t *body = NULL, *etag = NULL;
	enum storage_volume_type type;
	struct storage_job *job;
	int r;

	r = path_volume_custom(req, &type);
	if (r < 0)
		return r;
	r = api_request_json(req, &body);
	if (r < 0)
		return r;
	r = body_check(body, keys, types, ARRAY_SIZE(keys), &err);
	if (r < 0)
		return api_reply_error(req, &err);
	r = path_volume_load(req, &pool, &vol);
	if (r < 0)
		return r;
	etag = storage_volume_etag_source(vol);
	r = api_request_check_etag(req, etag);
	if (r < 0)
		return r;
	job = storage_job_new(req, patch ? volume_patch_run : volume_put_run);
	if (!str_is_empty(json_get_str(body, "restore"))) {
		job->run = volume_restore_run;
		job->new_name = xstrdup(json_get_str(body, "restore"));
	}
	job->pool = xstrdup(api_param(req, "pool"));
	job->name = xstrdup(api_param(req, "name"));
	job->type = type;
	job->body = take_ptr(body);
	return storage_job_queue(req, job);
}

static int api_volume_put(struct api_request *req)
{
	return api_volume_update(req, false);
}

static int api_volume_patch(struct api_request *req)
{
	return api_volume_update(req, true);
}

static int volume_rename_run(struct storage_job *job, struct error *err)
{
	autoclean(storage_pool_freep) struct storage_pool *pool = NULL;
	autoclean(storage_volume_freep) struct storage_volume *vol = NULL;
	int r;

	r = job_volume_load(job, &pool, &vol, err);
	if (r < 0)
		return r;
	r = storage_volume_rename(pool, vol, job->new_name, err);
	if (r < 0)
		return r;
	job->location =
		str_printf("/1.0/storage-pools/%s/volumes/custom/%s", job->pool, job->new_name);
	job->lifecycle = xstrdup("storage-volume-renamed");
	job->source = xstrdup(job->location);
	return 0;
}

static int volume_move_run(struct storage_job *job, struct error *err)
{
	autoclean(storage_pool_freep) struct storage_pool *pool = NULL, *dst_pool = NULL;
	autoclean(storage_volume_freep) struct storage_volume *vol = NULL;
	const char *target = json_get_str(job->body, "pool");
	int r;

	r = job_volume_load(job, &pool, &vol, err);
	if (r >= 0)
		r = storage_pool_load(job->db, job->dir, target, &dst_pool, err);
	if (r >= 0)
		r = storage_volume_move_custom(pool, vol, dst_pool, job->new_name, err);
	if (r < 0)
		return r;
	job->lifecycle = xstrdup("storage-volume-created");
	job->source = str_printf("/1.0/storage-pools/%s/volumes/custom/%s", target, job->new_name);
	return 0;
}

/* POST /1.0/storage-pools/{pool}/volumes/custom/{name} {"name", "pool", "migration"}:
 * renames within the pool (201 with the new Location, as LXD answers). */
static int api_volume_post(struct api_request *req)
{
	static const char *const keys[] = { "name", "pool", "project" };
	static const json_type types[] = { JSON_STRING, JSON_STRING, JSON_STRING };
	autoclean(error_clear) struct error err = ERROR_INIT;
	autojson json_t *body = NULL;
	enum storage_volume_type type;
	struct storage_job *job;
	const char *name, *target_pool, *project;
	bool migration = false;
	int r;

	r = path_volume_custom(req, &type);
	if (r < 0)
		return r;
	r = api_request_json(req, &body);
	if (r < 0)
		return r;
	r = body_check(body, keys, types, ARRAY_SIZE(keys), &err);
	if (r < 0)
		return api_reply_error(req, &err);
	(void)json_get_bool(body, "migration", &migration);
	target_pool = json_get_str(body, "pool");
	project = json_get_str(body, "project");
	if (migration)
		return api_reply_errorf(req, -EOPNOTSUPP,
					"Migrating storage volumes is not supported yet");
	if (!str_is_empty(project) && !streq(project, "default"))
		return api_reply_errorf(req, -EOPNOTSUPP,
					"Moving storage volumes between projects is not supported");
	name = json_get_str(body, "name");
	if (str_is_empty(name))
		return api_reply_errorf(req, -EINVAL, "No name provided");
	r = storage_name_check("storage volume", name, &err);
	if (r < 0)
		return api_reply_error(req, &err);
	if (!str_is_empty(target_pool) && !streq(target_pool, api_param(req, "pool"))) {
		r = storage_name_check("storage pool", target_pool, &err);
		if (r < 0)
			return api_reply_error(req, &err);
		autofree char *url = str_printf("/1.0/storage-pools/%s/volumes/custom/%s",
						api_param(req, "pool"), api_param(req, "name"));

		job = volume_job_new(req, volume_move_run, type);
		job->new_name = xstrdup(name);
		job->body = take_ptr(body);
		return storage_job_start_op(req, job, "Moving storage volume", url);
	}

	job = volume_job_new(req, volume_rename_run, type);
	job->new_name = xstrdup(name);
	return storage_job_queue(req, job);
}

static int volume_delete_run(struct storage_job *job, struct error *err)
{
	autoclean(storage_pool_freep) struct storage_pool *pool = NULL;
	autoclean(storage_volume_freep) struct storage_volume *vol = NULL;
	int r;

	r = job_volume_load(job, &pool, &vol, err);
	if (r < 0)
		return r;
	r = storage_volume_delete(pool, vol, err);
	if (r < 0)
		return r;
	job->lifecycle = xstrdup("storage-volume-deleted");
	job->source = str_printf("/1.0/storage-pools/%s/volumes/custom/%s", job->pool, job->name);
	return 0;
}

/* DELETE /1.0/storage-pools/{pool}/volumes/custom/{name} */
static int api_volume_delete(struct api_request *req)
{
	enum storage_volume_type type;
	struct storage_job *job;
	int r;

	r = path_volume_custom(req, &type);
	if (r < 0)
		return r;
	job = volume_job_new(req, volume_delete_run, type);
	return storage_job_queue(req, job);
}

static int volume_state_run(struct storage_job *job, struct error *err)
{
	autoclean(storage_pool_freep) struct storage_pool *pool = NULL;
	autoclean(storage_volume_freep) struct storage_volume *vol = NULL;
	const char *size;
	uint64_t used = 0, total = 0;
	int r;

	r = job_volume_load(job, &pool, &vol, err);
	if (r < 0)
		return r;
	r = storage_volume_usage(pool, vol, &used, err);
	if (r < 0)
		return r;
	/* LXD reports -1 as the total of a volume without a size limit. */
	size = json_get_str(vol->config, "size");
	if (str_is_empty(size) || parse_size(size, &total) < 0 || total == 0)
		job->result = json_pack("{s:{s:I, s:I}}", "usage", "used", (json_int_t)used,
					"total", (json_int_t)-1);
	else
		job->result = json_pack("{s:{s:I, s:I}}", "usage", "used", (json_int_t)used,
					"total", (json_int_t)total);
	return 0;
}

/* GET /1.0/storage-pools/{pool}/volumes/{type}/{name}/state */
static int api_volume_state(struct api_request *req)
{
	enum storage_volume_type type;
	struct storage_job *job;
	int r;

	r = path_volume_type(req, &type);
	if (r < 0)
		return r;
	job = volume_job_new(req, volume_state_run, type);
	return storage_job_queue(req, job);
}

/* ---- volume snapshots ------------------------------------------------------------------ */

/* GET .../volumes/{type}/{name}/snapshots */
static int api_volume_snapshots_get(struct api_request *req)
{
	autoclean(error_clear) struct error err = ERROR_INIT;
	autoclean(storage_pool_freep) struct storage_pool *pool = NULL;
	autoclean(storage_volume_freep) struct storage_volume *vol = NULL;
	json_t *list = NULL;
	int r;

	r = path_volume_load(req, &pool, &vol);
	if (r < 0)
		return r;
	r = storage_volume_snapshots_list_json(pool, vol, req->recursion > 0, &list, &err);
	if (r < 0)
		return api_reply_error(req, &err);
	return api_reply_sync(req, list);
}

/* Announces action on the snapshot job->new_name when r says the job succeeded. */
static int snapshot_job_done(struct storage_job *job, int r, const char *action)
{
	if (r < 0)
		return r;
	job->lifecycle = xstrdup(action);
	job->source = str_printf("/1.0/storage-pools/%s/volumes/custom/%s/snapshots/%s", job->pool,
				 job->name, job->new_name);
	return 0;
}

static int snapshot_create_run(struct storage_job *job, struct error *err)
{
	autoclean(storage_pool_freep) struct storage_pool *pool = NULL;
	int r;

	r = storage_pool_load(job->db, job->dir, job->pool, &pool, err);
	if (r >= 0)
		r = storage_volume_snapshot_create(pool, job->type, job->name, job->new_name, err);
	return snapshot_job_done(job, r, "storage-volume-snapshot-created");
}

/* A job on the custom volume of the path (and its snapshot, when the path names one). */
static int snapshot_job_new(struct api_request *req, storage_job_fn run, struct storage_job **ret)
{
	enum storage_volume_type type;
	struct storage_job *job;
	int r;

	r = path_volume_custom(req, &type);
	if (r < 0)
		return r;
	job = volume_job_new(req, run, type);
	*ret = job;
	return 0;
}

static int snapshot_op_start(struct api_request *req, struct storage_job *job,
			     const char *description)
{
	autofree char *url =
		str_printf("/1.0/storage-pools/%s/volumes/custom/%s", job->pool, job->name);

	return storage_job_start_op(req, job, description, url);
}

/* POST .../volumes/custom/{name}/snapshots {"name"}: an operation. LXD names an unnamed
 * snapshot snap<N>. */
static int api_volume_snapshots_post(struct api_request *req)
{
	static const char *const keys[] = { "name", "expires_at" };
	static const json_type types[] = { JSON_STRING, JSON_STRING };
	autoclean(error_clear) struct error err = ERROR_INIT;
	autoclean(storage_pool_freep) struct storage_pool *pool = NULL;
	autoclean(storage_volume_freep) struct storage_volume *vol = NULL;
	autojson json_t *body = NULL, *snaps = NULL;
	struct storage_job *job = NULL;
	const char *name;
	int r;

	r = api_request_json(req, &body);
	if (r < 0)
		return r;
	r = body_check(body, keys, types, ARRAY_SIZE(keys), &err);
	if (r < 0)
		return api_reply_error(req, &err);
	r = path_volume_load(req, &pool, &vol);
	if (r < 0)
		return r;
	r = snapshot_job_new(req, snapshot_create_run, &job);
	if (r < 0)
		return r;
	name = json_get_str(body, "name");
	if (!str_is_empty(name)) {
		r = storage_name_check("snapshot", name, &err);
		if (r < 0) {
			storage_job_free(job);
			return api_reply_error(req, &err);
		}
		job->new_name = xstrdup(name);
	} else if (storage_volume_snapshots_list_json(pool, vol, false, &snaps, NULL) == 0) {
		/* The first free snap<N>. */
		for (size_t n = 0; !job->new_name; n++) {
			autofree char *candidate = str_printf("snap%zu", n);
			autofree char *url =
				str_printf("/1.0/storage-pools/%s/volumes/custom/%s/snapshots/%s",
					   job->pool, job->name, candidate);
			bool taken = false;
			size_t i;
			json_t *u;

			json_array_foreach(snaps, i, u)
			{
				taken = taken || streq(json_string_value(u), url);
			}
			if (!taken)
				job->new_name = take_ptr(candidate);
		}
	}
	return snapshot_op_start(req, job, "Creating storage volume snapshot");
}

/* GET .../volumes/{type}/{name}/snapshots/{snapshot} */
static int api_volume_snapshot_get(struct api_request *req)
{
	autoclean(error_clear) struct error err = ERROR_INIT;
	autoclean(storage_pool_freep) struct storage_pool *pool = NULL;
	autoclean(storage_volume_freep) struct storage_volume *vol = NULL, *snap = NULL;
	autofree char *snap_name = NULL;
	json_t *j = NULL;
	int r;

	r = path_volume_load(req, &pool, &vol);
	if (r < 0)
		return r;
	snap_name = str_printf("%s/%s", vol->name, api_param(req, "snapshot"));
	r = storage_volume_load(pool, vol->type, snap_name, &snap, &err);
	if (r >= 0)
		r = storage_volume_to_json(pool, snap, &j, &err);
	if (r < 0)
		return api_reply_error(req, &err);
	(void)json_object_set_new(j, "name", json_string(api_param(req, "snapshot")));
	(void)json_object_set_new(j, "expires_at", json_time(0, 0));
	return api_reply_sync(req, j);
}

static int snapshot_rename_run(struct storage_job *job, struct error *err)
{
	autoclean(storage_pool_freep) struct storage_pool *pool = NULL;
	const char *snap = json_get_str(job->body, "snapshot");
	int r;

	r = storage_pool_load(job->db, job->dir, job->pool, &pool, err);
	if (r >= 0)
		r = storage_volume_snapshot_rename(pool, job->type, job->name, snap, job->new_name,
						   err);
	return snapshot_job_done(job, r, "storage-volume-snapshot-renamed");
}

/* POST .../volumes/custom/{name}/snapshots/{snapshot} {"name"}: renames; an operation. */
static int api_volume_snapshot_post(struct api_request *req)
{
	static const char *const keys[] = { "name" };
	static const json_type types[] = { JSON_STRING };
	autoclean(error_clear) struct error err = ERROR_INIT;
	autojson json_t *body = NULL;
	struct storage_job *job = NULL;
	int r;

	r = api_request_json(req, &body);
	if (r < 0)
		return r;
	r = body_check(body, keys, types, ARRAY_SIZE(keys), &err);
	if (r < 0)
		return api_reply_error(req, &err);
	if (str_is_empty(json_get_str(body, "name")))
		return api_reply_errorf(req, -EINVAL, "No name provided");
	r = storage_name_check("snapshot", json_get_str(body, "name"), &err);
	if (r < 0)
		return api_reply_error(req, &err);
	r = snapshot_job_new(req, snapshot_rename_run, &job);
	if (r < 0)
		return r;
	job->new_name = xstrdup(json_get_str(body, "name"));
	job->body = json_pack("{s:s}", "snapshot", api_param(req, "snapshot"));
	return snapshot_op_start(req, job, "Renaming storage volume snapshot");
}

static int snapshot_delete_run(struct storage_job *job, struct error *err)
{
	autoclean(storage_pool_freep) struct storage_pool *pool = NULL;
	int r;

	r = storage_pool_load(job->db, job->dir, job->pool, &pool, err);
	if (r >= 0)
		r = storage_volume_snapshot_delete(pool, job->type, job->name, job->new_name, err);
	return snapshot_job_done(job, r, "storage-volume-snapshot-deleted");
}

/* DELETE .../volumes/custom/{name}/snapshots/{snapshot}: an operation. */
static int api_volume_snapshot_delete(struct api_request *req)
{
	struct storage_job *job = NULL;
	int r;

	r = snapshot_job_new(req, snapshot_delete_run, &job);
	if (r < 0)
		return r;
	job->new_name = xstrdup(api_param(req, "snapshot"));
	return snapshot_op_start(req, job, "Deleting storage volume snapshot");
}

const struct route api_storage_routes[] = {
	{ .path = "/1.0/storage-pools",
	  .handlers = { [HTTP_GET] = api_pools_get, [HTTP_POST] = api_pools_post } },
	{ .path = "/1.0/storage-pools/{pool}",
	  .handlers = { [HTTP_GET] = api_pool_get,
			[HTTP_PUT] = api_pool_put,
			[HTTP_PATCH] = api_pool_patch,
			[HTTP_DELETE] = api_pool_delete } },
	{ .path = "/1.0/storage-pools/{pool}/resources",
	  .handlers = { [HTTP_GET] = api_pool_resources } },
	{ .path = "/1.0/storage-pools/{pool}/volumes",
	  .handlers = { [HTTP_GET] = api_volumes_get, [HTTP_POST] = api_volumes_post } },
	{ .path = "/1.0/storage-pools/{pool}/volumes/{type}",
	  .handlers = { [HTTP_GET] = api_volumes_type_get, [HTTP_POST] = api_volumes_type_post } },
	{ .path = "/1.0/storage-pools/{pool}/volumes/{type}/{name}",
	  .handlers = { [HTTP_GET] = api_volume_get,
			[HTTP_PUT] = api_volume_put,
			[HTTP_PATCH] = api_volume_patch,
			[HTTP_POST] = api_volume_post,
			[HTTP_DELETE] = api_volume_delete } },
	{ .path = "/1.0/storage-pools/{pool}/volumes/{type}/{name}/state",
	  .handlers = { [HTTP_GET] = api_volume_state } },
	{ .path = "/1.0/storage-pools/{pool}/volumes/{type}/{name}/snapshots",
	  .handlers = { [HTTP_GET] = api_volume_snapshots_get,
			[HTTP_POST] = api_volume_snapshots_post } },
	{ .path = "/1.0/storage-pools/{pool}/volumes/{type}/{name}/snapshots/{snapshot}",
	  .handlers = { [HTTP_GET] = api_volume_snapshot_get,
			[HTTP_POST] = api_volume_snapshot_post,
			[HTTP_DELETE] = api_volume_snapshot_delete } },
	{},
};
