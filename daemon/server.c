/* daemon/server.c: server config and environment (see server.h). */
#include "daemon/server.h"

#include <errno.h>
#include <lxc/lxccontainer.h>
#include <string.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "daemon/host.h"
#include "daemon/server-config.h"
#include "db/db-config.h"
#include "db/db.h"
#include "lib/json.h"
#include "lib/str.h"
#include "storage/storage.h"

#include "lib/banned.h"

static json_t *server_env_cache;

int server_config_get(struct daemon *d, json_t **ret, struct error *err)
{
	return db_config_load(d->db, ret, err);
}

struct config_update {
	const json_t *config;
	bool patch;
};

static int config_update_tx(struct db *db, void *data, struct error *err)
{
	struct config_update *u = data;
	autojson json_t *current = NULL, *next = NULL;
	int r;

	r = db_config_load(db, &current, err);
	if (r < 0)
		return r;
	if (u->patch)
		r = server_config_patch(current, u->config, &next, err);
	else
		r = server_config_replace(current, u->config, &next, err);
	if (r < 0)
		return r;
	return db_config_replace(db, next, err);
}

int server_config_update(struct daemon *d, const json_t *config, bool patch, struct error *err)
{
	struct config_update u = { .config = config, .patch = patch };

	return db_transaction(d->db, config_update_tx, &u, err);
}

int server_config_apply(struct daemon *d, struct error *err)
{
	autojson json_t *config = NULL;
	const char *address;
	int r;

	r = db_config_load(d->db, &config, err);
	if (r < 0)
		return r;
	address = config_get(&server_config_schema, config, "core.https_address");
	if (str_is_empty(address) ? !d->https_address
				  : d->https_address && streq(address, d->https_address))
		return 0;
	return daemon_https_listen(d, address, err);
}
int server_environment_init(struct daemon *d, struct error *err)
{
	char host[256] = "";
	json_t *env = NULL;
	int r;

	r = host_environment_get(&env, err);
	if (r < 0)
		return r;
	(void)gethostname(host, sizeof(host) - 1);
	json_object_set_new(env, "addresses", json_array());
	json_object_set_new(env, "certificate", json_string(d->server_cert_pem));
	json_object_set_new(env, "certificate_fingerprint",
			    json_string(d->server_cert_fingerprint));
	json_object_set_new(env, "driver", json_string("lxc"));
	json_object_set_new(env, "driver_version", json_string(lxc_get_version()));
	json_object_set_new(env, "project", json_string("default"));
	json_object_set_new(env, "server", json_string("lodge"));
	json_object_set_new(env, "server_clustered", json_false());
	json_object_set_new(env, "server_event_mode", json_string("full-mesh"));
	json_object_set_new(env, "server_name", json_string(host));
	json_object_set_new(env, "server_pid", json_integer(getpid()));
	json_object_set_new(env, "server_version", json_string(LODGE_VERSION));
	json_object_set_new(env, "storage", json_string("dir"));
	json_object_set_new(env, "storage_version", json_string(storage_driver_dir.version));
	json_object_set_new(env, "storage_supported_drivers", storage_drivers_json());
	json_decref(server_env_cache);
	server_env_cache = env;
	return 0;
}

json_t *server_environment(struct daemon *d)
{
	json_t *env = json_deep_copy(server_env_cache);

	if (d->https_address)
		json_object_set_new(env, "addresses",
				    json_string_array((const char *[]){ d->https_address, NULL }));
	return env;
}
