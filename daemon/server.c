/* daemon/server.c: server config and environment (see server.h). */
#include "daemon/server.h"

#include <errno.h>
#include <lxc/lxccontainer.h>
#include <string.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "lib/banned.h"
#include "lib/json.h"
#include "lib/str.h"

static json_t *server_env_cache;

int server_config_get(struct daemon *d, json_t **ret, struct error *err)
{
	*ret = json_object();
	return 0;
}

int server_config_update(struct daemon *d, const json_t *config, bool patch, struct error *err)
{
	return error_set(err, -EOPNOTSUPP, "Not yet");
}

int server_environment_init(struct daemon *d, struct error *err)
{
	char host[256] = "";
	json_t *env = json_object();

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
	json_object_set_new(env, "storage", json_string(""));
	json_object_set_new(env, "storage_version", json_string(""));
	json_object_set_new(env, "storage_supported_drivers", json_array());
	json_decref(server_env_cache);
	server_env_cache = env;
	return 0;
}

json_t *server_environment(struct daemon *d)
{
	return json_deep_copy(server_env_cache);
}
