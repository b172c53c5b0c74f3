/* daemon/api-instances.c: /1.0/instances (and its /1.0/containers alias, which pylxd 2.2
 * and older scripts use): list, create, get, update, rename, delete, state, snapshots.
 *
 * Everything that touches storage or a driver runs as an operation (instance_task_run on a
 * worker), holding the instance's lock; handlers only validate what they can cheaply and
 * reply 202. See ../shared/research/lxd-client-compat.md 2.6 for which calls are async.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/api.h"
#include "daemon/daemon.h"
#include "daemon/events.h"
#include "daemon/operations.h"
#include "daemon/router.h"
#include "db/db-images.h"
#include "db/db-instances.h"
#include "instance/instance.h"
#include "instance/lifecycle.h"
#include "lib/config.h"
#include "lib/filter.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/str.h"

#include "lib/banned.h"

enum task_kind {
	TASK_CREATE,
	TASK_START,
	TASK_STOP,
	TASK_RESTART,
	TASK_FREEZE,
	TASK_UNFREEZE,
	TASK_DELETE,
	TASK_RENAME,
	TASK_UPDATE,
	TASK_RESTORE,
	TASK_SNAPSHOT_CREATE,
	TASK_SNAPSHOT_DELETE,
	TASK_SNAPSHOT_RENAME,
};

static const struct {
	const char *description;
	const char *lifecycle; /* action announced on success */
} task_info[] = {
	[TASK_CREATE] = { "Creating instance", "instance-created" },
	[TASK_START] = { "Starting instance", "instance-started" },
	[TASK_STOP] = { "Stopping instance", "instance-stopped" },
	[TASK_RESTART] = { "Restarting instance", "instance-restarted" },
	[TASK_FREEZE] = { "Freezing instance", "instance-paused" },
	[TASK_UNFREEZE] = { "Unfreezing instance", "instance-resumed" },
	[TASK_DELETE] = { "Deleting instance", "instance-deleted" },
	[TASK_RENAME] = { "Renaming instance", "instance-renamed" },
	[TASK_UPDATE] = { "Updating instance", "instance-updated" },
	[TASK_RESTORE] = { "Restoring snapshot", "instance-restored" },
	[TASK_SNAPSHOT_CREATE] = { "Snapshotting instance", "instance-snapshot-created" },
	[TASK_SNAPSHOT_DELETE] = { "Deleting snapshot", "instance-snapshot-deleted" },
	[TASK_SNAPSHOT_RENAME] = { "Renaming snapshot", "instance-snapshot-renamed" },
};

struct instance_task {
	struct daemon *d;
	enum task_kind kind;
	char *name;
	char *snapshot; /* snapshot tasks */
	char *new_name; /* rename */
	json_t *args;	/* create: the request; update: the InstancePut */
	bool force;
	int timeout;
	struct api_identity requestor;
};

static void instance_task_free(void *data)
{
	struct instance_task *t = data;

	if (!t)
		return;
	free(t->name);
	free(t->snapshot);
	free(t->new_name);
	json_decref(t->args);
	free(t);
}

static struct instance_env daemon_env(struct daemon *d)
{
	return (struct instance_env){ .db = d->db, .dir = d->dir };
}

/* The URL prefix a client used: /1.0/containers answers with /1.0/containers URLs. */
static const char *url_base(const struct api_request *req)
{
	return str_has_prefix(req->path, "/1.0/containers") ? "/1.0/containers" : "/1.0/instances";
}

static int task_create_instance(struct instance_task *t, const struct instance_env *env,
				struct error *err)
{
	autoclean(instance_freep) struct instance *inst = NULL;
	json_t *a = t->args;
	struct instance_create_args c = {
		.name = t->name,
		.description = json_get_str(a, "description"),
		.architecture = json_get_str(a, "architecture"),
		.config = json_object_get(a, "config"),
		.devices = json_object_get(a, "devices"),
		.profiles = json_object_get(a, "profiles"),
		.fingerprint = json_get_str(a, "lodge.fingerprint"),
		.image_properties = json_object_get(a, "lodge.image_properties"),
		.copy_source = json_get_str(a, "lodge.copy_source"),
	};

	(void)json_get_bool(a, "ephemeral", &c.ephemeral);
	c.copy_snapshots = !json_is_true(json_object_get(a, "lodge.instance_only"));
	(void)instance_type_parse(json_get_str(a, "type"), &c.type);
	return instance_create(env, &c, &inst, err);
}

/* The instance a copy reads ("c1" of "c1/snap0"), NULL when args asks for no copy. */
static char *copy_source_instance(const json_t *args)
{
	const char *src = json_get_str(args, "lodge.copy_source");

	return src ? xstrndup(src, strcspn(src, "/")) : NULL;
}

/* Takes the locks of name and of other (may be NULL), in name order: two copies in opposite
 * directions must not each hold one lock waiting for the other. */
static void task_lock_two(const char *name, const char *other)
{
	if (!other) {
		instance_lock(name);
	} else if (strcmp(name, other) < 0) {
		instance_lock(name);
		instance_lock(other);
	} else {
		instance_lock(other);
		instance_lock(name);
	}
}

static int instance_task_run(struct operation *op, struct error *err)
{
	struct instance_task *t = op->data;
	struct instance_env env = daemon_env(t->d);
	autoclean(instance_freep) struct instance *inst = NULL;
	int r;

	if (t->kind == TASK_CREATE) {
		autofree char *src = copy_source_instance(t->args);

		task_lock_two(t->name, src);
		r = task_create_instance(t, &env, err);
		if (src)
			instance_unlock(src);
		instance_unlock(t->name);
		return r;
	}
	instance_lock(t->name);
	r = instance_load(t->d->db, t->name, &inst, err);
	if (r < 0)
		goto out;

	switch (t->kind) {
	case TASK_CREATE:
		break;
	case TASK_START:
		r = instance_start(&env, inst, err);
		break;
	case TASK_STOP:
		r = instance_stop(&env, inst, t->force, t->timeout, err);
		break;
	case TASK_RESTART:
		r = instance_stop(&env, inst, t->force, t->timeout, err);
		if (r == 0 && !inst->ephemeral)
			r = instance_start(&env, inst, err);
		break;
	case TASK_FREEZE:
	case TASK_UNFREEZE:
		r = instance_freeze(&env, inst, t->kind == TASK_FREEZE, err);
		break;
	case TASK_DELETE:
		r = instance_delete(&env, inst, err);
		break;
	case TASK_RENAME:
		r = instance_rename(&env, inst, t->new_name, err);
		break;
	case TASK_UPDATE:
		r = instance_update(&env, inst, t->args, false, err);
		break;
	case TASK_RESTORE:
		r = instance_snapshot_restore(&env, inst, t->snapshot, err);
		break;
	case TASK_SNAPSHOT_CREATE:
		r = instance_snapshot_create(&env, inst, t->snapshot, 0, err);
		break;
	case TASK_SNAPSHOT_DELETE:
		r = instance_snapshot_delete(&env, inst, t->snapshot, err);
		break;
	case TASK_SNAPSHOT_RENAME:
		r = instance_snapshot_rename(&env, inst, t->snapshot, t->new_name, err);
		break;
	}
out:
	instance_unlock(t->name);
	return r;
}

static void instance_task_done(struct operation *op)
{
	struct instance_task *t = op->data;
	autofree char *source = NULL;

	if (operation_is_done(op) && op->status != OPERATION_SUCCESS)
		return;
	if (t->snapshot)
		source = str_printf("/1.0/instances/%s/snapshots/%s", t->name, t->snapshot);
	else
		source = str_printf("/1.0/instances/%s", t->new_name ? t->new_name : t->name);
	events_lifecycle(t->d->events, "default", task_info[t->kind].lifecycle, source, NULL,
			 &t->requestor);
}

static const struct operation_ops instance_task_ops = {
	.run = instance_task_run,
	.done = instance_task_done,
	.free = instance_task_free,
};

/* Starts the task as an operation and replies 202. Takes t. */
static int instance_task_start(struct api_request *req, struct instance_task *t)
{
	autofree char *inst_url = str_printf("/1.0/instances/%s", t->name);
	autofree char *cont_url = str_printf("/1.0/containers/%s", t->name);
	json_t *resources =
		json_pack("{s:[s], s:[s]}", "instances", inst_url, "containers", cont_url);
	struct operation *op;
	int r;

	if (t->snapshot) {
		autofree char *snap_url = str_printf("%s/snapshots/%s", inst_url, t->snapshot);

		json_array_append_new(json_object_get(resources, "instances"),
				      json_string(snap_url));
	}
	t->d = req->d;
	t->requestor = req->identity;
	op = operation_new(req->d, OPERATION_TASK, task_info[t->kind].description, resources,
			   &instance_task_ops, t);
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

static struct instance_task *task_new(enum task_kind kind, const char *name)
{
	struct instance_task *t = xcalloc(1, sizeof(*t));

	t->kind = kind;
	t->name = xstrdup(name);
	t->timeout = -1;
	return t;
}

/* Loads the instance named in the path, replying 404 when there is none. */
static int instance_lookup(struct api_request *req, struct instance **ret)
{
	autoclean(error_clear) struct error err = ERROR_INIT;
	int r;

	r = instance_load(req->d->db, api_param(req, "name"), ret, &err);
	if (r < 0)
		return api_reply_error(req, &err);
	return 0;
}

/* --- list and get ------------------------------------------------------------------------ */

static json_t *snapshot_to_json(const struct instance *inst, const json_t *snap)
{
	json_t *j = json_object();
	long long created = 0, expires = 0;

	(void)json_get_int(snap, "created_at", &created);
	(void)json_get_int(snap, "expires_at", &expires);
	json_object_set_new(j, "architecture", json_string(inst->architecture));
	json_object_set(j, "config", json_object_get(snap, "config"));
	json_object_set_new(j, "created_at", json_time(created, 0));
	json_object_set(j, "devices", json_object_get(snap, "devices"));
	json_object_set_new(j, "ephemeral", json_false());
	json_object_set_new(j, "expanded_config", json_deep_copy(inst->expanded_config));
	json_object_set_new(j, "expanded_devices", json_deep_copy(inst->expanded_devices));
	json_object_set_new(j, "expires_at", json_time(expires, 0));
	json_object_set_new(j, "last_used_at", json_time(0, 0));
	json_object_set(j, "name", json_object_get(snap, "name"));
	json_object_set(j, "profiles", json_object_get(snap, "profiles"));
	json_object_set(j, "stateful", json_object_get(snap, "stateful"));
	json_object_set_new(j, "size", json_integer(-1));
	json_object_set(j, "description", json_object_get(snap, "description"));
	return j;
}

/* recursion 0: URL; 1: Instance; 2: InstanceFull (state, snapshots, backups). */
static json_t *instance_render(struct api_request *req, struct instance *inst, int recursion)
{
	struct instance_env env = daemon_env(req->d);
	enum instance_status status;
	json_t *j;

	if (recursion == 0)
		return json_sprintf("%s/%s", url_base(req), inst->name);
	status = instance_status_get(&env, inst);
	j = instance_to_json(inst, status);
	if (recursion >= 2) {
		autojson json_t *snaps = NULL;
		json_t *state = NULL, *list = json_array();
		size_t i;
		json_t *s;

		if (instance_state(&env, inst, &state, NULL) < 0)
			state = json_pack("{s:s, s:i}", "status", instance_status_name(status),
					  "status_code", status);
		json_object_set_new(j, "state", state);
		if (db_snapshot_list(req->d->db, inst->name, &snaps, NULL) == 0)
			json_array_foreach(snaps, i, s)
				json_array_append_new(list, snapshot_to_json(inst, s));
		json_object_set_new(j, "snapshots", list);
		json_object_set_new(j, "backups", json_null());
	}
	return j;
}

/* GET /1.0/instances on a worker: a hundred running containers' state takes tens of
 * milliseconds the loop should spend serving others. The worker reads req, which stays
 * put until the reply (api_reply_from_worker()). */
struct list_job {
	struct api_request *req;
	struct filter *filter;
	json_t *out;
};

static int list_work(void *data, struct error *err)
{
	struct list_job *job = data;
	struct api_request *req = job->req;
	autojson json_t *rows = NULL, *profiles = NULL;
	const char *type = api_query(req, "instance-type");
	bool containers_only = str_has_prefix(req->path, "/1.0/containers");
	json_t *row;
	size_t i;
	int r;

	r = db_instance_list(req->d->db, &rows, err);
	if (r == 0)
		r = instance_profiles_load(req->d->db, &profiles, err);
	if (r < 0)
		return r;
	job->out = json_array();
	json_array_foreach(rows, i, row)
	{
		autoclean(instance_freep) struct instance *inst = NULL;
		json_t *full;

		if ((containers_only || (type && streq(type, "container"))) &&
		    !streq(json_get_str(row, "type") ?: "", "container"))
			continue;
		if (type && streq(type, "virtual-machine") &&
		    !streq(json_get_str(row, "type") ?: "", "virtual-machine"))
			continue;
		if (instance_from_row(row, &inst, NULL) < 0 ||
		    instance_expand_known(profiles, inst, NULL) < 0)
			continue;
		if (!job->filter) {
			json_array_append_new(job->out, instance_render(req, inst, req->recursion));
			continue;
		}
		full = instance_render(req, inst, req->recursion > 0 ? req->recursion : 1);
		if (!filter_match(job->filter, full)) {
			json_decref(full);
			continue;
		}
		if (req->recursion == 0) {
			json_decref(full);
			full = instance_render(req, inst, 0);
		}
		json_array_append_new(job->out, full);
	}
	return 0;
}

static int list_reply(struct api_request *req, void *data)
{
	struct list_job *job = data;

	return api_reply_sync(req, take_ptr(job->out));
}

static void list_job_free(void *data)
{
	struct list_job *job = data;

	filter_free(job->filter);
	json_decref(job->out);
	free(job);
}

/* GET /1.0/instances */
static int api_instances_get(struct api_request *req)
{
	autoclean(error_clear) struct error err = ERROR_INIT;
	struct list_job *job = xcalloc(1, sizeof(*job));
	const char *filter_s = api_query(req, "filter");

	job->req = req;
	/* `filter=` (api_filtering): `lxc list` sends it, often empty. */
	if (!str_is_empty(filter_s) && filter_parse(filter_s, &job->filter, &err) < 0) {
		list_job_free(job);
		return api_reply_error(req, &err);
	}
	return api_reply_from_worker(req, list_work, list_reply, list_job_free, job);
}

/* GET /1.0/instances/{name} */
static int api_instance_get(struct api_request *req)
{
	autoclean(instance_freep) struct instance *inst = NULL;
	autojson json_t *etag = NULL;
	int r;

	r = instance_lookup(req, &inst);
	if (r < 0)
		return r;
	etag = instance_etag_source(inst);
	return api_reply_sync_etag(req, instance_render(req, inst, req->recursion > 0 ? 2 : 1),
				   etag);
}

/* --- create ------------------------------------------------------------------------------ */

static const char *const name_adjectives[] = { "able",	 "brave", "calm",  "eager",
					       "fair",	 "glad",  "keen",  "light",
					       "noble",	 "quick", "rapid", "sharp",
					       "steady", "vivid", "warm",  "wise" };
static const char *const name_nouns[] = { "badger", "beaver", "crane", "falcon", "fox",	  "heron",
					  "lynx",   "marten", "otter", "owl",	 "raven", "seal",
					  "stoat",  "swift",  "wolf",  "wren" };

static char *instance_name_generate(void)
{
	autofree char *r = random_hex(2);
	unsigned v = (unsigned)strtoul(r, NULL, 16);

	return str_printf("%s-%s", name_adjectives[v % ARRAY_SIZE(name_adjectives)],
			  name_nouns[(v / 16) % ARRAY_SIZE(name_nouns)]);
}

/* Resolves source.alias / source.fingerprint into the request's lodge.* keys. */
static int create_resolve_image(struct api_request *req, json_t *body, struct error *err)
{
	json_t *source = json_object_get(body, "source");
	const char *fp = json_get_str(source, "fingerprint");
	const char *alias = json_get_str(source, "alias");
	autoclean(db_image_freep) struct db_image *image = NULL;
	int r;

	if (!str_is_empty(json_get_str(source, "server")))
		return error_set(err, -EOPNOTSUPP,
				 "Creating instances from remote images is not supported yet");
	if (str_is_empty(fp) && !str_is_empty(alias)) {
		autoclean(db_image_alias_freep) struct db_image_alias *a = NULL;

		r = db_image_alias_get(req->d->db, alias, &a, err);
		if (r < 0)
			return r;
		r = db_image_get(req->d->db, a->target, &image, err);
	} else if (!str_is_empty(fp)) {
		r = db_image_get(req->d->db, fp, &image, err);
	} else {
		return error_set(err, -EINVAL, "Image source needs an alias or a fingerprint");
	}
	if (r < 0)
		return r;
	json_object_set_new(body, "lodge.fingerprint", json_string(image->fingerprint));
	json_object_set(body, "lodge.image_properties", image->properties);
	if (str_is_empty(json_get_str(body, "architecture")) && image->architecture)
		json_object_set_new(body, "architecture", json_string(image->architecture));
	return 0;
}

/* Checks source.source ("c1" or "c1/snap0") of a copy and records it, with whether to leave
 * the snapshots behind, in the request's lodge.* keys. */
static int create_resolve_copy(struct api_request *req, json_t *body, struct error *err)
{
	json_t *source = json_object_get(body, "source");
	const char *src = json_get_str(source, "source");
	autofree char *name = NULL;
	json_t *row = NULL;
	const char *slash;
	int r;

	if (str_is_empty(src))
		return error_set(err, -EINVAL, "Copy source needs an instance name");
	if (json_is_true(json_object_get(source, "refresh")))
		return error_set(err, -EOPNOTSUPP,
				 "Refreshing an existing copy is not supported yet");
	if (!str_is_empty(json_get_str(source, "project")) &&
	    !streq(json_get_str(source, "project"), "default"))
		return error_set(err, -EOPNOTSUPP, "Copying between projects is not supported yet");
	slash = strchr(src, '/');
	name = slash ? xstrndup(src, (size_t)(slash - src)) : xstrdup(src);
	if (!instance_name_is_valid(name))
		return error_set(err, -ENOENT, "Instance '%s' not found", name);
	r = db_instance_get(req->d->db, name, &row, err);
	if (r < 0)
		return r;
	json_decref(row);
	if (slash) {
		if (!object_name_is_valid(slash + 1))
			return error_set(err, -ENOENT, "Snapshot '%s' not found", src);
		r = db_snapshot_get(req->d->db, name, slash + 1, &row, err);
		if (r < 0)
			return r;
		json_decref(row);
	}
	json_object_set_new(body, "lodge.copy_source", json_string(src));
	json_object_set_new(body, "lodge.instance_only",
			    json_boolean(json_is_true(json_object_get(source, "instance_only")) ||
					 json_is_true(json_object_get(source, "container_only"))));
	return 0;
}

/* POST /1.0/instances */
static int api_instances_post(struct api_request *req)
{
	autoclean(error_clear) struct error err = ERROR_INIT;
	autojson json_t *body = NULL;
	autofree char *name = NULL;
	struct instance_task *t;
	const char *source_type;
	enum instance_type type;
	json_t *existing = NULL, *value;
	const char *key;
	void *tmp;
	bool copy;
	int r;

	r = api_request_json(req, &body);
	if (r < 0)
		return r;
	/* lodge.* keys carry what this handler resolved to the task: never the client's. */
	json_object_foreach_safe(body, tmp, key, value)
	{
		if (str_has_prefix(key, "lodge."))
			json_object_del(body, key);
	}
	r = json_check_type(body, "config", JSON_OBJECT, &err);
	if (r == 0)
		r = json_check_type(body, "devices", JSON_OBJECT, &err);
	if (r == 0)
		r = json_check_type(body, "profiles", JSON_ARRAY, &err);
	if (r == 0)
		r = json_check_type(body, "source", JSON_OBJECT, &err);
	if (r < 0)
		return api_reply_error(req, &err);
	if (instance_type_parse(json_get_str(body, "type"), &type) < 0)
		return api_reply_errorf(req, -EINVAL, "Invalid instance type '%s'",
					json_get_str(body, "type"));
	if (str_has_prefix(req->path, "/1.0/containers"))
		type = INSTANCE_CONTAINER;
	json_object_set_new(body, "type", json_string(instance_type_names[type]));

	name = xstrdup(str_is_empty(json_get_str(body, "name")) ? "" : json_get_str(body, "name"));
	if (!*name) {
		free(name);
		name = instance_name_generate();
	}
	if (!instance_name_is_valid(name))
		return api_reply_errorf(
			req, -EINVAL,
			"Invalid instance name '%s': use letters, digits and '-', up to 63 characters",
			name);
	if (db_instance_get(req->d->db, name, &existing, NULL) == 0) {
		json_decref(existing);
		return api_reply_errorf(req, -EEXIST, "Instance '%s' already exists", name);
	}

	source_type = json_get_str(json_object_get(body, "source"), "type");
	if (str_is_empty(source_type) || streq(source_type, "none")) {
		/* an empty root filesystem */
	} else if (streq(source_type, "image")) {
		r = create_resolve_image(req, body, &err);
		if (r < 0)
			return api_reply_error(req, &err);
	} else if (streq(source_type, "copy")) {
		r = create_resolve_copy(req, body, &err);
		if (r < 0)
			return api_reply_error(req, &err);
	} else {
		return api_reply_errorf(req, -EOPNOTSUPP,
					"Instance source type '%s' is not supported yet",
					source_type);
	}

	/* Validate what can be validated now, so a bad request fails with 400 at once (a copy's
	 * root disk may come from its source). */
	copy = json_get_str(body, "lodge.copy_source") != NULL;
	{
		autojson json_t *config = NULL, *exp_c = NULL, *exp_d = NULL;
		json_t *profiles = json_object_get(body, "profiles");
		autojson json_t *defprof = json_pack("[s]", "default");

		r = config_normalize(&instance_config_schema, json_object_get(body, "config"),
				     &config, &err);
		if (r == 0)
			r = instance_devices_validate(json_object_get(body, "devices"), &err);
		if (r == 0)
			r = instance_expand_with(
				req->d->db, json_is_array(profiles) ? profiles : defprof, config,
				json_object_get(body, "devices"), &exp_c, &exp_d, &err);
		if (r == 0)
			r = instance_config_validate(exp_c, exp_d, !copy, &err);
		if (r < 0)
			return api_reply_error(req, &err);
	}

	t = task_new(TASK_CREATE, name);
	t->args = json_incref(body);
	return instance_task_start(req, t);
}

/* --- update, rename, delete -------------------------------------------------------------- */

/* PUT /1.0/instances/{name}: a config update, or a restore when "restore" is set (the null
 * config, devices and profiles of a restore request must not be applied). */
static int api_instance_put(struct api_request *req)
{
	autoclean(error_clear) struct error err = ERROR_INIT;
	autoclean(instance_freep) struct instance *inst = NULL;
	autojson json_t *body = NULL, *etag = NULL;
	const char *restore;
	struct instance_task *t;
	int r;

	r = instance_lookup(req, &inst);
	if (r < 0)
		return r;
	r = api_request_json(req, &body);
	if (r < 0)
		return r;
	restore = json_get_str(body, "restore");
	if (!str_is_empty(restore)) {
		const char *slash = strchr(restore, '/');
		autojson json_t *snap = NULL;

		if (slash && (size_t)(slash - restore) == strlen(inst->name) &&
		    strncmp(restore, inst->name, strlen(inst->name)) == 0)
			restore = slash + 1;
		r = db_snapshot_get(req->d->db, inst->name, restore, &snap, &err);
		if (r < 0)
			return api_reply_error(req, &err);
		t = task_new(TASK_RESTORE, inst->name);
		t->snapshot = xstrdup(restore);
		return instance_task_start(req, t);
	}

	etag = instance_etag_source(inst);
	r = api_request_check_etag(req, etag);
	if (r < 0)
		return r;
	r = json_check_type(body, "config", JSON_OBJECT, &err);
	if (r == 0)
		r = json_check_type(body, "devices", JSON_OBJECT, &err);
	if (r == 0)
		r = json_check_type(body, "profiles", JSON_ARRAY, &err);
	if (r < 0)
		return api_reply_error(req, &err);
	t = task_new(TASK_UPDATE, inst->name);
	t->args = json_incref(body);
	return instance_task_start(req, t);
}

/* The work a synchronous handler hands to a worker (api_reply_from_worker): which instance,
 * and a JSON value going in (PATCH: the request) or coming out (GET state: the state). */
struct instance_job {
	struct daemon *d;
	char *name;
	json_t *json;
};

static struct instance_job *instance_job_new(struct api_request *req, const char *name,
					     json_t *json)
{
	struct instance_job *job = xcalloc(1, sizeof(*job));

	job->d = req->d;
	job->name = xstrdup(name);
	job->json = json;
	return job;
}

static void instance_job_free(void *data)
{
	struct instance_job *job = data;

	json_decref(job->json);
	free(job->name);
	free(job);
}

static int patch_work(void *data, struct error *err)
{
	struct instance_job *job = data;
	struct instance_env env = daemon_env(job->d);
	autoclean(instance_freep) struct instance *inst = NULL;
	int r;

	instance_lock(job->name);
	r = instance_load(job->d->db, job->name, &inst, err);
	if (r == 0)
		r = instance_update(&env, inst, job->json, true, err);
	instance_unlock(job->name);
	return r;
}

static int patch_reply(struct api_request *req, void *data)
{
	struct instance_job *job = data;
	autofree char *source = str_printf("/1.0/instances/%s", job->name);

	events_lifecycle(req->d->events, "default", "instance-updated", source, NULL,
			 &req->identity);
	return api_reply_sync(req, NULL);
}

/* PATCH /1.0/instances/{name}: sync in LXD, so the reply waits for the worker. */
static int api_instance_patch(struct api_request *req)
{
	autoclean(instance_freep) struct instance *inst = NULL;
	autojson json_t *body = NULL, *etag = NULL;
	int r;

	r = instance_lookup(req, &inst);
	if (r < 0)
		return r;
	etag = instance_etag_source(inst);
	r = api_request_check_etag(req, etag);
	if (r < 0)
		return r;
	r = api_request_json(req, &body);
	if (r < 0)
		return r;
	return api_reply_from_worker(req, patch_work, patch_reply, instance_job_free,
				     instance_job_new(req, inst->name, json_incref(body)));
}

/* POST /1.0/instances/{name}: rename ({"name": "new"}); migration is not supported. */
static int api_instance_post(struct api_request *req)
{
	autoclean(instance_freep) struct instance *inst = NULL;
	autojson json_t *body = NULL;
	const char *new_name;
	struct instance_task *t;
	bool migration = false;
	json_t *existing = NULL;
	int r;

	r = instance_lookup(req, &inst);
	if (r < 0)
		return r;
	r = api_request_json(req, &body);
	if (r < 0)
		return r;
	(void)json_get_bool(body, "migration", &migration);
	if (migration)
		return api_reply_errorf(req, -EOPNOTSUPP,
					"Instance migration is not supported yet");
	new_name = json_get_str(body, "name");
	if (!instance_name_is_valid(new_name))
		return api_reply_errorf(req, -EINVAL, "Invalid instance name '%s'",
					new_name ? new_name : "");
	if (db_instance_get(req->d->db, new_name, &existing, NULL) == 0) {
		json_decref(existing);
		return api_reply_errorf(req, -EEXIST, "Instance '%s' already exists", new_name);
	}
	t = task_new(TASK_RENAME, inst->name);
	t->new_name = xstrdup(new_name);
	return instance_task_start(req, t);
}

/* DELETE /1.0/instances/{name} */
static int api_instance_delete(struct api_request *req)
{
	autoclean(instance_freep) struct instance *inst = NULL;
	int r;

	r = instance_lookup(req, &inst);
	if (r < 0)
		return r;
	return instance_task_start(req, task_new(TASK_DELETE, inst->name));
}

/* --- state ------------------------------------------------------------------------------- */

static int state_work(void *data, struct error *err)
{
	struct instance_job *job = data;
	struct instance_env env = daemon_env(job->d);
	autoclean(instance_freep) struct instance *inst = NULL;
	int r;

	r = instance_load(job->d->db, job->name, &inst, err);
	if (r == 0)
		r = instance_state(&env, inst, &job->json, err);
	return r;
}

static int state_reply(struct api_request *req, void *data)
{
	struct instance_job *job = data;

	return api_reply_sync(req, take_ptr(job->json));
}

/* GET /1.0/instances/{name}/state: reads cgroups and the network namespace, on a worker. */
static int api_instance_state_get(struct api_request *req)
{
	autoclean(instance_freep) struct instance *inst = NULL;
	int r;

	r = instance_lookup(req, &inst);
	if (r < 0)
		return r;
	return api_reply_from_worker(req, state_work, state_reply, instance_job_free,
				     instance_job_new(req, inst->name, NULL));
}

/* PUT /1.0/instances/{name}/state {"action", "timeout", "force", "stateful"} */
static int api_instance_state_put(struct api_request *req)
{
	static const struct {
		const char *action;
		enum task_kind kind;
	} actions[] = {
		{ "start", TASK_START },       { "stop", TASK_STOP },
		{ "restart", TASK_RESTART },   { "freeze", TASK_FREEZE },
		{ "unfreeze", TASK_UNFREEZE },
	};
	autoclean(instance_freep) struct instance *inst = NULL;
	autojson json_t *body = NULL;
	struct instance_task *t;
	const char *action;
	bool stateful = false;
	long long timeout = -1;
	int r;

	r = instance_lookup(req, &inst);
	if (r < 0)
		return r;
	r = api_request_json(req, &body);
	if (r < 0)
		return r;
	action = json_get_str(body, "action");
	(void)json_get_bool(body, "stateful", &stateful);
	if (stateful)
		return api_reply_errorf(req, -EOPNOTSUPP,
					"Stateful start and stop are not supported");
	for (size_t i = 0; i < ARRAY_SIZE(actions); i++) {
		if (!action || !streq(action, actions[i].action))
			continue;
		t = task_new(actions[i].kind, inst->name);
		(void)json_get_bool(body, "force", &t->force);
		if (json_get_int(body, "timeout", &timeout) && timeout > 0)
			t->timeout = timeout > 86400 ? 86400 : (int)timeout;
		return instance_task_start(req, t);
	}
	return api_reply_errorf(req, -EINVAL, "Unknown state action '%s'", action ? action : "");
}

/* --- snapshots --------------------------------------------------------------------------- */

/* GET /1.0/instances/{name}/snapshots */
static int api_snapshots_get(struct api_request *req)
{
	autoclean(error_clear) struct error err = ERROR_INIT;
	autoclean(instance_freep) struct instance *inst = NULL;
	autojson json_t *snaps = NULL;
	json_t *out, *s;
	size_t i;
	int r;

	r = instance_lookup(req, &inst);
	if (r < 0)
		return r;
	r = db_snapshot_list(req->d->db, inst->name, &snaps, &err);
	if (r < 0)
		return api_reply_error(req, &err);
	out = json_array();
	json_array_foreach(snaps, i, s)
	{
		if (req->recursion > 0)
			json_array_append_new(out, snapshot_to_json(inst, s));
		else
			json_array_append_new(out,
					      json_sprintf("%s/%s/snapshots/%s", url_base(req),
							   inst->name, json_get_str(s, "name")));
	}
	return api_reply_sync(req, out);
}

/* POST /1.0/instances/{name}/snapshots {"name", "stateful", "expires_at"} */
static int api_snapshots_post(struct api_request *req)
{
	autoclean(instance_freep) struct instance *inst = NULL;
	autojson json_t *body = NULL, *snaps = NULL;
	const char *name;
	struct instance_task *t;
	bool stateful = false;
	int r;

	r = instance_lookup(req, &inst);
	if (r < 0)
		return r;
	r = api_request_json(req, &body);
	if (r < 0)
		return r;
	(void)json_get_bool(body, "stateful", &stateful);
	if (stateful)
		return api_reply_errorf(req, -EOPNOTSUPP, "Stateful snapshots are not supported");
	name = json_get_str(body, "name");
	t = task_new(TASK_SNAPSHOT_CREATE, inst->name);
	if (str_is_empty(name)) {
		/* LXD names them snap0, snap1, ... */
		size_t n = 0;

		if (db_snapshot_list(req->d->db, inst->name, &snaps, NULL) == 0)
			n = json_array_size(snaps);
		for (;; n++) {
			autofree char *candidate = str_printf("snap%zu", n);
			json_t *s = NULL;

			if (db_snapshot_get(req->d->db, inst->name, candidate, &s, NULL) < 0) {
				t->snapshot = take_ptr(candidate);
				break;
			}
			json_decref(s);
		}
	} else if (!object_name_is_valid(name)) {
		instance_task_free(t);
		return api_reply_errorf(req, -EINVAL, "Invalid snapshot name '%s'", name);
	} else {
		t->snapshot = xstrdup(name);
	}
	return instance_task_start(req, t);
}

static int snapshot_lookup(struct api_request *req, struct instance **ret_inst, json_t **ret_snap)
{
	autoclean(error_clear) struct error err = ERROR_INIT;
	int r;

	r = instance_lookup(req, ret_inst);
	if (r < 0)
		return r;
	r = db_snapshot_get(req->d->db, (*ret_inst)->name, api_param(req, "snapshot"), ret_snap,
			    &err);
	if (r < 0)
		return api_reply_error(req, &err);
	return 0;
}

/* GET /1.0/instances/{name}/snapshots/{snapshot} */
static int api_snapshot_get(struct api_request *req)
{
	autoclean(instance_freep) struct instance *inst = NULL;
	autojson json_t *snap = NULL;
	int r;

	r = snapshot_lookup(req, &inst, &snap);
	if (r < 0)
		return r;
	return api_reply_sync(req, snapshot_to_json(inst, snap));
}

/* POST /1.0/instances/{name}/snapshots/{snapshot}: rename */
static int api_snapshot_post(struct api_request *req)
{
	autoclean(instance_freep) struct instance *inst = NULL;
	autojson json_t *snap = NULL, *body = NULL;
	const char *new_name;
	struct instance_task *t;
	bool migration = false;
	int r;

	r = snapshot_lookup(req, &inst, &snap);
	if (r < 0)
		return r;
	r = api_request_json(req, &body);
	if (r < 0)
		return r;
	(void)json_get_bool(body, "migration", &migration);
	if (migration)
		return api_reply_errorf(req, -EOPNOTSUPP,
					"Snapshot migration is not supported yet");
	new_name = json_get_str(body, "name");
	if (!object_name_is_valid(new_name))
		return api_reply_errorf(req, -EINVAL, "Invalid snapshot name '%s'",
					new_name ? new_name : "");
	t = task_new(TASK_SNAPSHOT_RENAME, inst->name);
	t->snapshot = xstrdup(api_param(req, "snapshot"));
	t->new_name = xstrdup(new_name);
	return instance_task_start(req, t);
}

/* DELETE /1.0/instances/{name}/snapshots/{snapshot} */
static int api_snapshot_delete(struct api_request *req)
{
	autoclean(instance_freep) struct instance *inst = NULL;
	autojson json_t *snap = NULL;
	struct instance_task *t;
	int r;

	r = snapshot_lookup(req, &inst, &snap);
	if (r < 0)
		return r;
	t = task_new(TASK_SNAPSHOT_DELETE, inst->name);
	t->snapshot = xstrdup(api_param(req, "snapshot"));
	return instance_task_start(req, t);
}

#define INSTANCE_ROUTES(base)                                                                   \
	{ .path = base,                                                                         \
	  .handlers = { [HTTP_GET] = api_instances_get, [HTTP_POST] = api_instances_post } },   \
		{ .path = base "/{name}",                                                       \
		  .handlers = { [HTTP_GET] = api_instance_get,                                  \
				[HTTP_PUT] = api_instance_put,                                  \
				[HTTP_PATCH] = api_instance_patch,                              \
				[HTTP_POST] = api_instance_post,                                \
				[HTTP_DELETE] = api_instance_delete } },                        \
		{ .path = base "/{name}/state",                                                 \
		  .handlers = { [HTTP_GET] = api_instance_state_get,                            \
				[HTTP_PUT] = api_instance_state_put } },                        \
		{ .path = base "/{name}/snapshots",                                             \
		  .handlers = {                                                                 \
			  [HTTP_GET] = api_snapshots_get, [HTTP_POST] = api_snapshots_post } }, \
	{                                                                                       \
		.path = base "/{name}/snapshots/{snapshot}", .handlers = {                      \
			[HTTP_GET] = api_snapshot_get,                                          \
			[HTTP_POST] = api_snapshot_post,                                        \
			[HTTP_DELETE] = api_snapshot_delete                                     \
		}                                                                               \
	}

const struct route api_instances_routes[] = {
	INSTANCE_ROUTES("/1.0/instances"),
	INSTANCE_ROUTES("/1.0/containers"),
	{},
};
