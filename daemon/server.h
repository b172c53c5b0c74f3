/* daemon/server.h: the server as GET /1.0 describes it: its config (stored in the database,
 * validated against daemon/server-config.c's key table, applied live) and its environment
 * (host facts gathered once at start-up, plus the daemon's own). */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "lib/error.h"

struct daemon;

/* The stored config object (key -> string), as stored (hashes included). New reference. */
int server_config_get(struct daemon *d, json_t **ret, struct error *err);

/* Validates config (an object) and stores it in one transaction: as a whole (PUT) or
 * merged into the current one (patch: keys given override, null or "" unsets). Nothing is
 * stored when any key is refused. Blocks (a trust password is hashed with scrypt): call it
 * from a worker thread. */
int server_config_update(struct daemon *d, const json_t *config, bool patch, struct error *err);

/* Applies the stored config to the running daemon (the HTTPS listener). Loop thread. */
int server_config_apply(struct daemon *d, struct error *err);

/* Gathers the host facts once (blocking reads of /proc and /sys): call at start-up. */
int server_environment_init(struct daemon *d, struct error *err);

/* The `environment` object of GET /1.0. New reference. */
json_t *server_environment(struct daemon *d);

/* The addresses clients reach the HTTPS listener at, as LXD's util.ListenAddresses():
 * core.https_address itself, or for a wildcard every global unicast address of the host
 * with its port. */
json_t *server_listen_addresses(const char *address);

/* The api_extensions array. New reference. */
json_t *server_api_extensions(void);
