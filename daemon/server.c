/* daemon/server.c: server config and environment (see server.h). */
#include "daemon/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <lxc/lxccontainer.h>
#include <netinet/in.h>
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

static bool ip_is_global_unicast(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		struct sockaddr_in in;
		uint32_t a;

		memcpy(&in, sa, sizeof(in));
		a = ntohl(in.sin_addr.s_addr);
		return (a >> 24) != 127 && (a >> 24) != 0 && (a >> 16) != 0xa9fe && (a >> 28) < 14;
	}
	if (sa->sa_family == AF_INET6) {
		struct sockaddr_in6 in6;

		memcpy(&in6, sa, sizeof(in6));
		return !IN6_IS_ADDR_LOOPBACK(&in6.sin6_addr) &&
		       !IN6_IS_ADDR_LINKLOCAL(&in6.sin6_addr) &&
		       !IN6_IS_ADDR_MULTICAST(&in6.sin6_addr) &&
		       !IN6_IS_ADDR_UNSPECIFIED(&in6.sin6_addr);
	}
	return false;
}

/* The addresses a token names, as LXD's util.ListenAddresses(): core.https_address itself,
 * or for a wildcard every global unicast address of the host with its port. */
json_t *server_listen_addresses(const char *address)
{
	json_t *out = json_array();
	const char *colon = strrchr(address, ':');
	autofree char *host = NULL;
	const char *port = "8443";
	struct ifaddrs *ifa = NULL;

	if (address[0] == '[' ? strstr(address, "]:") != NULL : colon && !strchr(colon + 1, ']')) {
		host = xstrndup(address, (size_t)(colon - address));
		port = colon + 1;
	} else {
		host = xstrdup(address);
	}
	if (host[0] == '[') {
		memmove(host, host + 1, strlen(host));
		host[strcspn(host, "]")] = '\0';
	}
	if (!streq(host, "") && !streq(host, "0.0.0.0") && !streq(host, "::")) {
		json_array_append_new(out, strchr(host, ':') ? json_sprintf("[%s]:%s", host, port)
							     : json_sprintf("%s:%s", host, port));
		return out;
	}
	if (getifaddrs(&ifa) < 0)
		return out;
	for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
		char buf[INET6_ADDRSTRLEN];
		const void *a;

		if (!i->ifa_addr || !ip_is_global_unicast(i->ifa_addr))
			continue;
		if (i->ifa_addr->sa_family == AF_INET6 && streq(host, "0.0.0.0"))
			continue;
		a = i->ifa_addr->sa_family == AF_INET
			    ? (const void *)&((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr
			    : (const void *)&((struct sockaddr_in6 *)(void *)i->ifa_addr)
				      ->sin6_addr;
		if (!inet_ntop(i->ifa_addr->sa_family, a, buf, sizeof(buf)))
			continue;
		json_array_append_new(out, i->ifa_addr->sa_family == AF_INET6
						   ? json_sprintf("[%s]:%s", buf, port)
						   : json_sprintf("%s:%s", buf, port));
	}
	freeifaddrs(ifa);
	return out;
}

json_t *server_environment(struct daemon *d)
{
	json_t *env = json_deep_copy(server_env_cache);

	if (d->https_address)
		json_object_set_new(env, "addresses", server_listen_addresses(d->https_address));
	return env;
}
