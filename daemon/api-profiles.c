/* daemon/api-profiles.c: /1.0/profiles. All sync, as LXD answers them. */
#include <errno.h>

#include "daemon/api.h"
#include "daemon/daemon.h"
#include "daemon/events.h"
#include "daemon/router.h"
#include "db/db-instances.h"
#include "db/db-profiles.h"
#include "instance/instance.h"
#include "instance/lifecycle.h"
#include "lib/config.h"
#include "lib/json.h"

#include "lib/banned.h"

static json_t *profile_api(struct api_request *req, json_t *profile)
{
	autojson json_t *users = NULL;
	json_t *used_by = json_array();
	size_t i;
	json_t *u;

	if (db_profile_used_by(req->d->db, json_get_str(profile, "name"), &users, NULL) == 0)
		json_array_foreach(users, i, u) json_array_append_new(
			used_by, json_sprintf("/1.0/instances/%s", json_string_value(u)));
	json_object_set_new(profile, "used_by", used_by);
	return profile;
}

/* The profile's own config and devices, checked and normalised. */
static int profile_validate(const json_t *in, json_t **ret_config, struct error *err)
{
	json_t *devices = json_object_get(in, "devices");
	int r;

	r = json_check_type(in, "config", JSON_OBJECT, err);
	if (r == 0)
		r = json_check_type(in, "devices", JSON_OBJECT, err);
	if (r == 0)
		r = json_check_type(in, "description", JSON_STRING, err);
	if (r < 0)
		return r;
	r = config_normalize(&instance_config_schema, json_object_get(in, "config"), ret_config,
			     err);
	if (r < 0)
		return r;
	return instance_devices_validate(devices, err);
}

/* After a profile change, every instance using it must still expand to a valid config. */
static int profile_check_users(struct api_request *req, const char *name, struct error *err)
{
	const struct instance_env env = { .db = req->d->db, .dir = req->d->dir };
	autojson json_t *users = NULL;
	size_t i;
	json_t *u;
	int r;

	r = db_profile_used_by(req->d->db, name, &users, err);
	if (r < 0)
		return r;
	json_array_foreach(users, i, u)
	{
		autoclean(instance_freep) struct instance *inst = NULL;

		r = instance_load(req->d->db, json_string_value(u), &inst, err);
		if (r == 0)
			r = instance_config_validate(inst->expanded_config, inst->expanded_devices,
						     true, err);
		if (r == 0)
			r = instance_nics_validate(&env, inst->expanded_devices, err);
		if (r < 0)
			return error_prefix(err, "Instance '%s'", json_string_value(u));
	}
	return 0;
}

struct profile_apply_job {
	struct daemon *d;
	json_t *before; /* instances_expansions() of the users, before the change */
};

static void profile_apply_work(void *data)
{
	struct profile_apply_job *job = data;
	struct instance_env env = { .db = job->d->db, .dir = job->d->dir };

	instances_profile_changed(&env, job->before);
}

static void profile_apply_done(void *data)
{
	struct profile_apply_job *job = data;

	json_decref(job->before);
	free(job);
}

/* The instances using the changed profile (before: their expansions before the change)
 * get it: live limits and devices when running, nics' static leases (DNS names); on a
 * worker (cgroup writes, hot-plug, dnsmasq). */
static void profile_users_apply(struct api_request *req, json_t *before)
{
	struct profile_apply_job *job = xcalloc(1, sizeof(*job));

	job->d = req->d;
	job->before = before;
	if (json_object_size(before) == 0 ||
	    daemon_queue_work(req->d, profile_apply_work, profile_apply_done, job) < 0)
		profile_apply_done(job);
}

/* GET /1.0/profiles */
static int api_profiles_get(struct api_request *req)
{
	autoclean(error_clear) struct error err = ERROR_INIT;
	autojson json_t *list = NULL;
	json_t *out = json_array();
	size_t i;
	json_t *p;
	int r;

	r = db_profile_list(req->d->db, &list, &err);
	if (r < 0) {
		json_decref(out);
		return api_reply_error(req, &err);
	}
	json_array_foreach(list, i, p)
	{
		if (req->recursion > 0)
			json_array_append_new(out, profile_api(req, json_incref(p)));
		else
			json_array_append_new(
				out, json_sprintf("/1.0/profiles/%s", json_get_str(p, "name")));
	}
	return api_reply_sync(req, out);
}

/* POST /1.0/profiles */
static int api_profiles_post(struct api_request *req)
{
	autoclean(error_clear) struct error err = ERROR_INIT;
	autojson json_t *body = NULL, *config = NULL, *profile = NULL;
	autofree char *location = NULL;
	const char *name;
	int r;

	r = api_request_json(req, &body);
	if (r < 0)
		return r;
	name = json_get_str(body, "name");
	if (!object_name_is_valid(name))
		return api_reply_errorf(req, -EINVAL, "Invalid profile name '%s'",
					name ? name : "");
	r = profile_validate(body, &config, &err);
	if (r < 0)
		return api_reply_error(req, &err);
	profile = json_pack("{s:s, s:s, s:O, s:o}", "name", name, "description",
			    json_get_str(body, "description") ?: "", "config", config, "devices",
			    json_is_object(json_object_get(body, "devices"))
				    ? json_incref(json_object_get(body, "devices"))
				    : json_object());
	r = db_profile_create(req->d->db, profile, &err);
	if (r < 0)
		return api_reply_error(req, &err);
	location = str_printf("/1.0/profiles/%s", name);
	events_lifecycle(req->d->events, req->project, "profile-created", location, NULL,
			 &req->identity);
	return api_reply_created(req, location);
}

static json_t *profile_etag_source(const json_t *p)
{
	return json_pack("{s:O, s:O, s:O}", "config", json_object_get(p, "config"), "description",
			 json_object_get(p, "description"), "devices",
			 json_object_get(p, "devices"));
}

/* GET /1.0/profiles/{name} */
static int api_profile_get(struct api_request *req)
{
	autoclean(error_clear) struct error err = ERROR_INIT;
	autojson json_t *etag = NULL;
	json_t *p = NULL;
	int r;

	r = db_profile_get(req->d->db, api_param(req, "name"), &p, &err);
	if (r < 0)
		return api_reply_error(req, &err);
	etag = profile_etag_source(p);
	return api_reply_sync_etag(req, profile_api(req, p), etag);
}

/* PUT and PATCH /1.0/profiles/{name} */
static int api_profile_update(struct api_request *req, bool patch)
{
	autoclean(error_clear) struct error err = ERROR_INIT;
	autojson json_t *body = NULL, *current = NULL, *etag = NULL, *config = NULL;
	autojson json_t *next = NULL, *users = NULL, *before = NULL;
	const struct instance_env env = { .db = req->d->db, .dir = req->d->dir };
	const char *name = api_param(req, "name");
	json_t *devices;
	int r;

	r = db_profile_get(req->d->db, name, &current, &err);
	if (r < 0)
		return api_reply_error(req, &err);
	etag = profile_etag_source(current);
	r = api_request_check_etag(req, etag);
	if (r < 0)
		return r;
	r = api_request_json(req, &body);
	if (r < 0)
		return r;
	if (patch) {
		autojson json_t *merged = json_deep_copy(current);

		if (json_is_object(json_object_get(body, "config")))
			json_object_update(json_object_get(merged, "config"),
					   json_object_get(body, "config"));
		if (json_is_object(json_object_get(body, "devices")))
			json_object_update(json_object_get(merged, "devices"),
					   json_object_get(body, "devices"));
		if (json_get_str(body, "description"))
			json_object_set(merged, "description",
					json_object_get(body, "description"));
		json_decref(body);
		body = json_incref(merged);
	}
	r = profile_validate(body, &config, &err);
	if (r < 0)
		return api_reply_error(req, &err);
	devices = json_object_get(body, "devices");
	next = json_pack("{s:s, s:O, s:o}", "description", json_get_str(body, "description") ?: "",
			 "config", config, "devices",
			 json_is_object(devices) ? json_incref(devices) : json_object());
	r = db_profile_used_by(req->d->db, name, &users, &err);
	if (r < 0)
		return api_reply_error(req, &err);
	before = instances_expansions(&env, users);
	r = db_profile_update(req->d->db, name, next, &err);
	if (r == 0)
		r = profile_check_users(req, name, &err);
	if (r < 0) {
		struct error undo = ERROR_INIT;

		(void)db_profile_update(req->d->db, name, current, &undo);
		error_clear(&undo);
		return api_reply_error(req, &err);
	}
	profile_users_apply(req, take_ptr(before));
	events_lifecycle(req->d->events, req->project, "profile-updated", req->path, NULL,
			 &req->identity);
	return api_reply_sync(req, NULL);
}

static int api_profile_put(struct api_request *req)
{
	return api_profile_update(req, false);
}

static int api_profile_patch(struct api_request *req)
{
	return api_profile_update(req, true);
}

/* POST /1.0/profiles/{name}: rename */
static int api_profile_post(struct api_request *req)
{
	autoclean(error_clear) struct error err = ERROR_INIT;
	autojson json_t *body = NULL;
	autofree char *location = NULL;
	const char *name = api_param(req, "name"), *new_name;
	int r;

	r = api_request_json(req, &body);
	if (r < 0)
		return r;
	new_name = json_get_str(body, "name");
	if (!object_name_is_valid(new_name))
		return api_reply_errorf(req, -EINVAL, "Invalid profile name '%s'",
					new_name ? new_name : "");
	if (streq(name, "default"))
		return api_reply_errorf(req, -EPERM, "The 'default' profile cannot be renamed");
	r = db_profile_rename(req->d->db, name, new_name, &err);
	if (r < 0)
		return api_reply_error(req, &err);
	location = str_printf("/1.0/profiles/%s", new_name);
	events_lifecycle(req->d->events, req->project, "profile-renamed", location, NULL,
			 &req->identity);
	return api_reply_created(req, location);
}

/* DELETE /1.0/profiles/{name} */
static int api_profile_delete(struct api_request *req)
{
	autoclean(error_clear) struct error err = ERROR_INIT;
	const char *name = api_param(req, "name");
	int r;

	if (streq(name, "default"))
		return api_reply_errorf(req, -EPERM, "The 'default' profile cannot be deleted");
	r = db_profile_delete(req->d->db, name, &err);
	if (r < 0)
		return api_reply_error(req, &err);
	events_lifecycle(req->d->events, req->project, "profile-deleted", req->path, NULL,
			 &req->identity);
	return api_reply_sync(req, NULL);
}

const struct route api_profiles_routes[] = {
	{ .path = "/1.0/profiles",
	  .handlers = { [HTTP_GET] = api_profiles_get, [HTTP_POST] = api_profiles_post } },
	{ .path = "/1.0/profiles/{name}",
	  .handlers = { [HTTP_GET] = api_profile_get,
			[HTTP_PUT] = api_profile_put,
			[HTTP_PATCH] = api_profile_patch,
			[HTTP_POST] = api_profile_post,
			[HTTP_DELETE] = api_profile_delete } },
	{},
};
