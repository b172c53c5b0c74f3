/* network/bridge.h: the pure parts of the bridge driver (network/bridge.c), exposed for its
 * unit tests: the key table, and the firewall and dnsmasq command texts it builds. Each
 * builder re-checks the values it writes, so even a config that skipped validation cannot
 * put a second option or rule into them.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "lib/config.h"
#include "lib/error.h"

extern const struct config_schema bridge_config_schema;

/* The nftables script (for `nft -f -`) that makes network name's chains in `table inet
 * lodge` hold exactly the rules config asks for: chains are created if missing and flushed
 * before the rules are added, so running it twice leaves the same ruleset. */
int bridge_nft_ruleset(const char *name, const json_t *config, char **ret, struct error *err);

/* The nftables script that removes network name's chains (whether or not they exist). */
int bridge_nft_delete_ruleset(const char *name, char **ret, struct error *err);

/* The dnsmasq argument vector for network name with its files in state_dir, running as
 * user:group. NULL-terminated; free with argv_free(). NULL in *ret (and 0) when config
 * needs no dnsmasq (no address). */
int bridge_dnsmasq_argv(const char *name, const char *state_dir, const json_t *config,
			const char *user, const char *group, char ***ret, struct error *err);

/* The stable MAC address lodge gives bridge name when bridge.hwaddr is unset (00:16:3e:..,
 * LXD's prefix), as a new string. */
char *bridge_default_hwaddr(const char *name);
