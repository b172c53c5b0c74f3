/* daemon/api-server.c: GET /, GET/PUT/PATCH /1.0, and lodged's own shutdown endpoint. */
#include <errno.h>
#include <lxc/lxccontainer.h>
#include <string.h>
#include <unistd.h>

#include "daemon/api.h"
#include "daemon/daemon.h"
#include "daemon/events.h"
#include "daemon/router.h"
#include "daemon/server-config.h"
#include "daemon/server.h"
#include "lib/json.h"
#include "lib/log.h"

#include "lib/banned.h"

/* Advertise an extension only once what it promises works: clients switch behaviour on
 * these names (../shared/research/lxd-client-compat.md section 11). Each issue that makes
 * one true adds it here. */
static const char *const api_extensions[] = {
	"etag",
	"patch",
	"operation_description",
	"event_lifecycle",
	"event_location",
	"event_project",
	"resources",
	"resources_cpu_socket",
	"resources_gpu",
	"resources_numa",
	"resources_v2",
	"resources_disk_sata",
	"resources_network_firmware",
	"resources_disk_id",
	"resources_usb_pci",
	"resources_cpu_threads_numa",
	"resources_cpu_core_die",
	"resources_system",
	"resources_pci_iommu",
	"resources_cpu_isolated",
	"resources_network_usb",
	"resources_disk_address",
	"kernel_features",
	"api_os",
	"server_supported_storage_drivers",
	"network",
	"network_state",
	"network_leases",
	"network_leases_location",
	"network_state_bond_bridge",
	"network_firewall_filtering",
	"network_dhcp_expiry",
	"api_filtering",
	"image_types",
	"images_expiry",
	"storage",
	"storage_api_volume_rename",
	"storage_api_volume_snapshots",
	"storage_api_local_volume_handling",
	"storage_volume_state",
	"instances",
	"container_full",
	"instance_get_full",
	"profile_usedby",
	"entity_description",
	"console",
	"file_delete",
	"file_append",
	"file_symlinks",
	"file_get_symlink",
	"directory_manipulation",
	"container_exec_signal_handling",
	"container_exec_user_group_cwd",
	"container_protection_delete",
	"instance_nic_network",
	"id_map",
	"id_map_base",
	"id_map_current",
	"container_only_migration",
	"container_exec_recording",
	"certificate_update",
	"certificate_project",
	"certificate_token",
	"remote_token_expiry",
	NULL,
};

json_t *server_api_extensions(void)
{
	return json_string_array(api_extensions);
}

static json_t *server_untrusted_json(void)
{
	json_t *j = json_object();

	json_object_set_new(j, "api_extensions", server_api_extensions());
	json_object_set_new(j, "api_status", json_string("stable"));
	json_object_set_new(j, "api_version", json_string("1.0"));
	json_object_set_new(j, "auth", json_string("untrusted"));
	json_object_set_new(j, "public", json_false());
	json_object_set_new(j, "auth_methods", json_string_array((const char *[]){ "tls", NULL }));
	return j;
}

/* GET / */
static int api_root_get(struct api_request *req)
{
	return api_reply_sync(req, json_string_array((const char *[]){ "/1.0", NULL }));
}

/* GET /1.0 */
static int api_server_get(struct api_request *req)
{
	autoclean(error_clear) struct error err = ERROR_INIT;
	json_t *config = NULL, *j;
	int r;

	if (!req->identity.trusted)
		return api_reply_sync(req, server_untrusted_json());

	r = server_config_get(req->d, &config, &err);
	if (r < 0)
		return api_reply_error(req, &err);

	j = server_untrusted_json();
	json_object_set_new(j, "auth", json_string("trusted"));
	json_object_set_new(j, "config", server_config_to_api(config));
	json_object_set_new(j, "environment", server_environment(req->d));
	r = api_reply_sync_etag(req, j, config);
	json_decref(config);
	return r;
}

struct config_job {
	struct daemon *d;
	json_t *config;
	bool patch;
};

static int config_work(void *data, struct error *err)
{
	struct config_job *job = data;

	return server_config_update(job->d, job->config, job->patch, err);
}

/* Back on the loop: the stored config goes live (the HTTPS listener), then the reply. */
static int config_reply(struct api_request *req, void *data)
{
	autoclean(error_clear) struct error err = ERROR_INIT;
	int r;

	r = server_config_apply(req->d, &err);
	if (r < 0)
		return api_reply_error(req, &err);
	events_lifecycle(req->d->events, "default", "config-updated", "/1.0", NULL, &req->identity);
	return api_reply_sync(req, NULL);
}

static void config_free(void *data)
{
	struct config_job *job = data;

	json_decref(job->config);
	free(job);
}

/* PUT /1.0: replaces the whole server config. PATCH /1.0: changes only the keys given.
 * Validation and storage run on a worker (a trust password is hashed with scrypt). */
static int api_server_update(struct api_request *req, bool patch)
{
	autoclean(error_clear) struct error err = ERROR_INIT;
	autojson json_t *body = NULL, *current = NULL;
	struct config_job *job;
	json_t *config;
	int r;

	r = api_request_json(req, &body);
	if (r < 0)
		return r;
	r = json_check_type(body, "config", JSON_OBJECT, &err);
	if (r < 0)
		return api_reply_error(req, &err);

	r = server_config_get(req->d, &current, &err);
	if (r < 0)
		return api_reply_error(req, &err);
	r = api_request_check_etag(req, current);
	if (r < 0)
		return r;

	config = json_object_get(body, "config");
	job = xcalloc(1, sizeof(*job));
	job->d = req->d;
	job->config = config ? json_incref(config) : json_object();
	job->patch = patch;
	return api_reply_from_worker(req, config_work, config_reply, config_free, job);
}

static int api_server_put(struct api_request *req)
{
	return api_server_update(req, false);
}

static int api_server_patch(struct api_request *req)
{
	return api_server_update(req, true);
}

static void shutdown_timer_closed(uv_handle_t *h)
{
	free(h);
}

static void shutdown_soon(uv_timer_t *t)
{
	daemon_stop(t->data);
	uv_close((uv_handle_t *)t, shutdown_timer_closed);
}

/* PUT /internal/shutdown: what `lodged shutdown` calls (LXD has the same endpoint). The
 * reply goes out first: the stop begins a moment later. */
static int api_shutdown(struct api_request *req)
{
	uv_timer_t *t = xcalloc(1, sizeof(*t));

	log_info("Shutdown requested by %s", req->identity.username);
	uv_timer_init(&req->d->loop, t);
	t->data = req->d;
	uv_timer_start(t, shutdown_soon, 50, 0);
	return api_reply_sync(req, NULL);
}

const struct route api_server_routes[] = {
	{ .path = "/", .handlers = { [HTTP_GET] = api_root_get }, .flags = ROUTE_UNTRUSTED },
	{ .path = "/1.0",
	  .handlers = { [HTTP_GET] = api_server_get,
			[HTTP_PUT] = api_server_put,
			[HTTP_PATCH] = api_server_patch },
	  .flags = ROUTE_UNTRUSTED },
	{ .path = "/internal/shutdown", .handlers = { [HTTP_PUT] = api_shutdown } },
	{},
};
