/* client/remote.h: the CLI's remotes, kept like lxc keeps them.
 *
 * The configuration directory is $LODGE_CONF, else ~/.config/lodge. It holds config.yml
 * (default-remote and remotes, the shape of lxc's config.yml), the client certificate
 * client.crt/client.key (generated on first use of an https remote) and servercerts/
 * <remote>.crt, the certificate each https remote presented when it was added: later
 * connections require that exact certificate (its SHA-256 fingerprint).
 *
 * "local" always exists: the daemon's unix socket (lib/lxd-client.h's lxd_socket_path()).
 * Everything here blocks on files; remote_connect() on the network too.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "lib/error.h"
#include "lib/lxd-client.h"
#include "lib/macro.h"

struct remote {
	char *name;
	char *addr;	 /* "unix://" or "https://host:port" */
	char *protocol;	 /* "lxd" */
	char *auth_type; /* "tls" for https remotes */
	char *project;	 /* NULL: the server's default */
	bool is_public;
};

struct remote_config {
	char *dir;
	char *default_remote;
	struct remote *remotes; /* sorted by name, "local" included */
	size_t n_remotes;
};

#define REMOTE_CONFIG_INIT \
	{                  \
		0          \
	}

/* Loads the configuration (a missing config.yml is the default one: only "local"). A
 * malformed file fails with -EINVAL naming the line. */
int remote_config_load(struct remote_config *ret, struct error *err);
void remote_config_release(struct remote_config *c);

/* Writes config.yml (mode 0600, atomically). */
int remote_config_save(const struct remote_config *c, struct error *err);

/* The remote called name, or NULL. */
struct remote *remote_config_find(const struct remote_config *c, const char *name);

/* Adds a remote (copying its fields); -EEXIST when the name is taken. */
int remote_config_add(struct remote_config *c, const struct remote *r, struct error *err);

/* Removes the remote called name (-ENOENT when there is none). */
int remote_config_remove(struct remote_config *c, const char *name, struct error *err);

/* Remote names: like object names, and never "local" for a new one. */
bool remote_name_is_valid(const char *name);

/* Paths in the configuration directory. The caller frees. */
char *remote_config_path(const struct remote_config *c, const char *file);
char *remote_server_cert_path(const struct remote_config *c, const char *name);

/* Makes client.crt/client.key unless they exist. */
int remote_client_cert_ensure(const struct remote_config *c, struct error *err);

/* A client for the remote called name (the default remote when NULL), verified by its
 * stored server certificate and presenting the client certificate. -ENOENT when no such
 * remote exists. */
int remote_connect(const struct remote_config *c, const char *name, struct lxd_client **ret,
		   struct error *err);
