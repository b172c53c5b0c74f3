/* daemon/api-networks.c: /1.0/networks and each network's state and leases.
 *
 * Creating, changing, renaming and deleting a network run `ip`, `nft` and dnsmasq, so
 * those handlers queue the work (daemon_queue_work) and answer when it is done, still as
 * the synchronous replies LXD's clients expect for networks. */
#include <assert.h>
#include <errno.h>
#include <string.h>

#include "daemon/api.h"
#include "daemon/daemon.h"
#include "daemon/events.h"
#include "daemon/router.h"
#include "lib/json.h"
#include "lib/str.h"
#include "network/network.h"

#include "lib/banned.h"

static struct network_env api_network_env(struct daemon *d)
{
	return (struct network_env){ .db = d->db, .dir = d->dir };
}

/* GET /1.0/networks */
static int api_networks_get(struct api_request *req)
{
	autoclean(error_clear) struct error err = ERROR_INIT;
	struct network_env env = api_network_env(req->d);
	json_t *list = NULL;
	int r;

	r = network_list_json(&env, req->recursion > 0, &list, &err);
	if (r < 0)
		return api_reply_error(req, &err);
	return api_reply_sync(req, list);
}

/* GET /1.0/networks/{name} */
static int api_network_get(struct api_request *req)
{
	autoclean(error_clear) struct error err = ERROR_INIT;
	struct network_env env = api_network_env(req->d);
	autojson json_t *etag_source = NULL;
	json_t *net = NULL;
	int r;

	r = network_get_json(&env, api_param(req, "name"), &net, &etag_source, &err);
	if (r < 0)
		return api_reply_error(req, &err);
	if (!etag_source)
		return api_reply_sync(req, net);
	return api_reply_sync_etag(req, net, etag_source);
}

/* GET /1.0/networks/{name}/state */
static int api_network_state(struct api_request *req)
{
	autoclean(error_clear) struct error err = ERROR_INIT;
	struct network_env env = api_network_env(req->d);
	json_t *state = NULL;
	int r;

	r = network_state_json(&env, api_param(req, "name"), &state, &err);
	if (r < 0)
		return api_reply_error(req, &err);
	return api_reply_sync(req, state);
}

/* GET /1.0/networks/{name}/leases */
static int api_network_leases(struct api_request *req)
{
	autoclean(error_clear) struct error err = ERROR_INIT;
	struct network_env env = api_network_env(req->d);
	json_t *leases = NULL;
	int r;

	r = network_leases_json(&env, api_param(req, "name"), &leases, &err);
	if (r < 0)
		return api_reply_error(req, &err);
	return api_reply_sync(req, leases);
}

enum network_job_kind {
	NETWORK_JOB_CREATE,
	NETWORK_JOB_UPDATE,
	NETWORK_JOB_PATCH,
	NETWORK_JOB_RENAME,
	NETWORK_JOB_DELETE,
	NETWORK_JOB_LEASE_SET,
	NETWORK_JOB_LEASE_REMOVE,
};

struct network_job {
	struct api_request *req;
	struct network_env env;
	enum network_job_kind kind;
	char *name;
	char *new_name; /* rename; the owner of a lease */
	char *type;	/* create */
	char *description;
	json_t *config; /* the lease for NETWORK_JOB_LEASE_SET */
	int r;
	struct error err;
};

static void network_job_run(void *data)
{
	struct network_job *job = data;

	switch (job->kind) {
	case NETWORK_JOB_CREATE:
		job->r = network_create(&job->env, job->name, job->type, job->description,
					job->config, &job->err);
		break;
	case NETWORK_JOB_UPDATE:
	case NETWORK_JOB_PATCH:
		job->r = network_update(&job->env, job->name, job->description, job->config,
					job->kind == NETWORK_JOB_PATCH, &job->err);
		break;
	case NETWORK_JOB_RENAME:
		job->r = network_rename(&job->env, job->name, job->new_name, &job->err);
		break;
	case NETWORK_JOB_DELETE:
		job->r = network_delete(&job->env, job->name, &job->err);
		break;
	case NETWORK_JOB_LEASE_SET:
		job->r = network_lease_set(
			&job->env, job->name, job->new_name,
			&(struct network_lease){ .hwaddr = json_get_str(job->config, "hwaddr"),
						 .ipv4 = json_get_str(job->config, "ipv4.address"),
						 .ipv6 = json_get_str(job->config, "ipv6.address"),
						 .hostname =
							 json_get_str(job->config, "hostname") },
			&job->err);
		break;
	case NETWORK_JOB_LEASE_REMOVE:
		job->r = network_lease_remove(&job->env, job->name, job->new_name, &job->err);
		break;
	}
}

static void network_job_free(struct network_job *job)
{
	free(job->name);
	free(job->new_name);
	free(job->type);
	free(job->description);
	json_decref(job->config);
	error_clear(&job->err);
	free(job);
}

static void network_job_done(void *data)
{
	static const char *const actions[] = {
		[NETWORK_JOB_CREATE] = "network-created", [NETWORK_JOB_UPDATE] = "network-updated",
		[NETWORK_JOB_PATCH] = "network-updated",  [NETWORK_JOB_RENAME] = "network-renamed",
		[NETWORK_JOB_DELETE] = "network-deleted",
	};
	static_assert(ARRAY_SIZE(actions) == NETWORK_JOB_DELETE + 1, "one action per API job");
	struct network_job *job = data;
	struct api_request *req = job->req;
	const char *name = job->kind == NETWORK_JOB_RENAME ? job->new_name : job->name;
	autofree char *url = str_printf("/1.0/networks/%s", name);

	if (job->r < 0) {
		(void)api_reply_error(req, &job->err);
	} else if (job->kind > NETWORK_JOB_DELETE) {
		(void)api_reply_sync(req, NULL);
	} else {
		events_lifecycle(req->d->events, "default", actions[job->kind], url,
				 job->kind == NETWORK_JOB_RENAME
					 ? json_pack("{s:s}", "old_name", job->name)
					 : NULL,
				 &req->identity);
		if (job->kind == NETWORK_JOB_CREATE || job->kind == NETWORK_JOB_RENAME)
			(void)api_reply_created(req, url);
		else
			(void)api_reply_sync(req, json_object());
	}
	api_request_finish(req);
	network_job_free(job);
}

static struct network_job *network_job_new(struct api_request *req, enum network_job_kind kind,
					   const char *name)
{
	struct network_job *job = xcalloc(1, sizeof(*job));

	job->req = req;
	job->env = api_network_env(req->d);
	job->kind = kind;
	job->name = xstrdup(name);
	return job;
}

static int network_job_queue(struct network_job *job)
{
	struct api_request *req = job->req;
	int r;

	r = daemon_queue_work(req->d, network_job_run, network_job_done, job);
	if (r < 0) {
		network_job_free(job);
		return api_reply_errorf(req, -EIO, "Failed to queue the network change");
	}
	return api_reply_later(req);
}

/* Reads the optional string member key of body into *ret (a new string, NULL if absent);
 * replies 400 naming it when it is not a string. */
static int body_string(struct api_request *req, const json_t *body, const char *key, char **ret)
{
	autoclean(error_clear) struct error err = ERROR_INIT;
	const char *value;
	int r;

	r = json_check_type(body, key, JSON_STRING, &err);
	if (r < 0) {
		(void)api_reply_error(req, &err);
		return r;
	}
	value = json_get_str(body, key);
	*ret = value ? xstrdup(value) : NULL;
	return 0;
}

/* POST /1.0/networks {"name", "type", "description", "config"} */
static int api_networks_post(struct api_request *req)
{
	autoclean(error_clear) struct error err = ERROR_INIT;
	autojson json_t *body = NULL;
	autofree char *name = NULL;
	struct network_job *job;
	int r;

	r = api_request_json(req, &body);
	if (r < 0)
		return r;
	r = body_string(req, body, "name", &name);
	if (r < 0)
		return r;
	if (str_is_empty(name))
		return api_reply_errorf(req, -EINVAL, "No name provided");
	r = json_check_type(body, "config", JSON_OBJECT, &err);
	if (r < 0)
		return api_reply_error(req, &err);

	job = network_job_new(req, NETWORK_JOB_CREATE, name);
	if (body_string(req, body, "type", &job->type) < 0 ||
	    body_string(req, body, "description", &job->description) < 0) {
		network_job_free(job);
		return -EINVAL;
	}
	job->config = json_incref(json_object_get(body, "config"));
	return network_job_queue(job);
}

/* PUT and PATCH /1.0/networks/{name} {"config", "description"} */
static int api_network_update(struct api_request *req, enum network_job_kind kind)
{
	autoclean(error_clear) struct error err = ERROR_INIT;
	struct network_env env = api_network_env(req->d);
	autojson json_t *body = NULL, *current = NULL, *etag_source = NULL;
	struct network_job *job;
	int r;

	r = api_request_json(req, &body);
	if (r < 0)
		return r;
	r = json_check_type(body, "config", JSON_OBJECT, &err);
	if (r < 0)
		return api_reply_error(req, &err);
	r = network_get_json(&env, api_param(req, "name"), &current, &etag_source, &err);
	if (r < 0)
		return api_reply_error(req, &err);
	if (!etag_source)
		return api_reply_errorf(req, -EINVAL, "Network '%s' is not managed by lodge",
					api_param(req, "name"));
	r = api_request_check_etag(req, etag_source);
	if (r < 0)
		return r;

	job = network_job_new(req, kind, api_param(req, "name"));
	if (body_string(req, body, "description", &job->description) < 0) {
		network_job_free(job);
		return -EINVAL;
	}
	job->config = json_incref(json_object_get(body, "config"));
	return network_job_queue(job);
}

static int api_network_put(struct api_request *req)
{
	return api_network_update(req, NETWORK_JOB_UPDATE);
}

static int api_network_patch(struct api_request *req)
{
	return api_network_update(req, NETWORK_JOB_PATCH);
}

/* POST /1.0/networks/{name} {"name": new name} */
static int api_network_rename(struct api_request *req)
{
	autojson json_t *body = NULL;
	autofree char *new_name = NULL;
	struct network_job *job;
	int r;

	r = api_request_json(req, &body);
	if (r < 0)
		return r;
	r = body_string(req, body, "name", &new_name);
	if (r < 0)
		return r;
	if (str_is_empty(new_name))
		return api_reply_errorf(req, -EINVAL, "No name provided");

	job = network_job_new(req, NETWORK_JOB_RENAME, api_param(req, "name"));
	job->new_name = take_ptr(new_name);
	return network_job_queue(job);
}

/* DELETE /1.0/networks/{name} */
static int api_network_delete(struct api_request *req)
{
	return network_job_queue(network_job_new(req, NETWORK_JOB_DELETE, api_param(req, "name")));
}

/* PUT /internal/testing/networks/{name}/leases/{owner} {"hwaddr", "ipv4.address",
 * "ipv6.address", "hostname"} and DELETE: what the instance driver calls for a nic with a
 * static address, reachable by the test suite before containers run. */
static int api_testing_lease_set(struct api_request *req)
{
	autojson json_t *body = NULL;
	struct network_job *job;
	int r;

	r = api_request_json(req, &body);
	if (r < 0)
		return r;
	job = network_job_new(req, NETWORK_JOB_LEASE_SET, api_param(req, "name"));
	job->new_name = xstrdup(api_param(req, "owner"));
	job->config = json_incref(body);
	return network_job_queue(job);
}

static int api_testing_lease_remove(struct api_request *req)
{
	struct network_job *job;

	job = network_job_new(req, NETWORK_JOB_LEASE_REMOVE, api_param(req, "name"));
	job->new_name = xstrdup(api_param(req, "owner"));
	return network_job_queue(job);
}

const struct route api_networks_routes[] = {
	{ .path = "/1.0/networks",
	  .handlers = { [HTTP_GET] = api_networks_get, [HTTP_POST] = api_networks_post } },
	{ .path = "/1.0/networks/{name}",
	  .handlers = { [HTTP_GET] = api_network_get,
			[HTTP_PUT] = api_network_put,
			[HTTP_PATCH] = api_network_patch,
			[HTTP_POST] = api_network_rename,
			[HTTP_DELETE] = api_network_delete } },
	{ .path = "/1.0/networks/{name}/state", .handlers = { [HTTP_GET] = api_network_state } },
	{ .path = "/1.0/networks/{name}/leases", .handlers = { [HTTP_GET] = api_network_leases } },
	{ .path = "/internal/testing/networks/{name}/leases/{owner}",
	  .handlers = { [HTTP_PUT] = api_testing_lease_set,
			[HTTP_DELETE] = api_testing_lease_remove },
	  .flags = ROUTE_TESTING },
	{},
};
