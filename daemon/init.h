/* daemon/init.h: `lodged init`, as `lxd init --auto` and `lxd init --preseed`.
 *
 * A client of the running daemon (through its unix socket, like `lxd init`): it only sends
 * REST requests, so every check the API makes applies. A preseed is LXD's YAML:
 *
 *   config: {core.https_address: ...}          server config, merged (PATCH /1.0)
 *   storage_pools: [{name, driver, description, config}]
 *   networks: [{name, type, description, config}]
 *   profiles: [{name, description, config, devices}]
 *
 * applied in that order; an entry that exists is updated (PATCH: its config keys and
 * devices merged, as LXD does), one that does not is created (POST). `--auto` is the
 * preseed that gives a fresh lodge a `default` dir pool, the `lodgebr0` bridge (addresses
 * chosen automatically, NAT) and a default profile with a root disk and an `eth0` nic on
 * it, each only when missing: running it again changes nothing.
 */
#pragma once

#include <jansson.h>
#include <stddef.h>

#include "lib/error.h"

/* Checks a preseed document (already read as JSON) for its shape: known top-level keys,
 * lists of objects each with a valid name, string maps for config and devices. Pure. */
int init_preseed_check(const json_t *preseed, struct error *err);

/* Applies preseed (checked first) through the daemon at socket_path. Blocks. */
int init_preseed_apply(const char *socket_path, const json_t *preseed, struct error *err);

/* The preseed of `lodged init --auto` for the daemon at socket_path (what is missing of the
 * defaults), as a new JSON object. Blocks. */
int init_auto_preseed(const char *socket_path, json_t **ret, struct error *err);
