/* network/network.h: managed networks (/1.0/networks): the model, its validation, and the
 * driver table behind it.
 *
 * A network is its stored record (name, type, description, config) plus what its driver
 * builds on the host: for `bridge`, a Linux bridge with addresses, nftables chains in
 * lodge's own table (`table inet lodge`) and a dnsmasq for DHCP and DNS. Every path that
 * writes a network's config (create, PUT, PATCH) goes through the driver's key table
 * (lib/config.h) and its cross-key checks here, so what is applied is what was checked.
 * Per-network files live in $LODGE_DIR/networks/<name>/.
 *
 * Drivers (network/bridge.c now; macvlan, physical and OVN later) sit behind struct
 * network_driver; only network/network.c calls through it.
 *
 * Threads and blocking: functions marked "blocks" run `ip`, `nft` and dnsmasq and wait for
 * them: call them from worker threads (or at start-up). They are serialized by one lock, so
 * two requests never reconfigure networks at once. The others only read the database and
 * /sys and may run on the loop thread.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/config.h"
#include "lib/error.h"
#include "lib/macro.h"
#include "network/subnet.h"

struct db;

/* What networks need from the daemon, without knowing the daemon. */
struct network_env {
	struct db *db;
	const char *dir; /* LODGE_DIR */
};

struct network {
	int64_t id;
	char *name; /* also the name of its host interface (the bridge) */
	char *type; /* "bridge" */
	char *description;
	char *status; /* "Created" */
	json_t *config;
	const struct network_driver *driver;
	char *state_dir; /* $LODGE_DIR/networks/<name> */
	void *data;	 /* driver state */
};

void network_free(struct network *net);
DEFINE_FREEP(struct network, network_free)

/* A static DHCP lease (dnsmasq dhcp-host): what a nic with ipv4.address/ipv6.address asks
 * for, or just a name for its MAC address. */
struct network_lease {
	const char *hwaddr;   /* "00:16:3e:12:34:56", required */
	const char *ipv4;     /* NULL: any address from the DHCP range */
	const char *ipv6;     /* NULL: none fixed */
	const char *hostname; /* NULL: none; else a DNS label (the instance name) */
};

/* What a driver's config_fill may take into account. */
struct network_fill_ctx {
	const struct subnet *used; /* subnets taken: the host's and other networks' */
	size_t n_used;
	bool host_has_ipv6;
};

struct network_driver {
	const char *name; /* "bridge"; the network's type in the API */
	const struct config_schema *schema;

	/* Completes a validated config on create (old NULL) or update: fills defaults as LXD
	 * stores them (ipv4.address=auto, ipv4.nat=true with auto), replaces "auto" by a free
	 * subnet not in ctx->used, and checks the rules that span keys. Pure but for the
	 * random choice of subnets. */
	int (*config_fill)(const char *name, const json_t *old, json_t *config,
			   const struct network_fill_ctx *ctx, struct error *err);
	/* The subnets config occupies, for overlap checks: *ret is a new array. Pure. */
	void (*subnets)(const json_t *config, struct subnet **ret, size_t *ret_n);

	/* Brings the network up to match net->config: creates what is missing, changes what
	 * differs, never duplicates (also after a crash or a restart of lodged). Blocks. */
	int (*start)(struct network *net, struct error *err);
	/* Removes everything start built on the host (leaves net->state_dir). Blocks. */
	int (*stop)(struct network *net, struct error *err);

	/* Optional: DHCP leases, as a new JSON array of NetworkLease. */
	int (*leases)(struct network *net, json_t **ret, struct error *err);
	/* Optional: static leases. owner names the instance (a file name); set replaces its
	 * previous leases by these n (one per nic). Blocks briefly (signals dnsmasq). */
	int (*lease_set)(struct network *net, const char *owner, const struct network_lease *leases,
			 size_t n, struct error *err);
	int (*lease_remove)(struct network *net, const char *owner, struct error *err);
};

extern const struct network_driver network_driver_bridge;

/* The driver for a network type ("bridge"; "" means bridge, as `lxc network create`
 * sends). NULL when there is none. */
const struct network_driver *network_driver_find(const char *type);

/* True for a name clients may give a network: it becomes an interface name, so 1..15
 * characters of [A-Za-z0-9_.-], not starting with '-' or '.'. */
bool network_name_is_valid(const char *name);

/* The managed network called name; -ENOENT "Network 'x' not found". Caller frees. */
int network_load(const struct network_env *env, const char *name, struct network **ret,
		 struct error *err);

/* The URLs of what uses network name (profiles, then instances, whose nic devices name it
 * through network= or parent=), as a new JSON array of strings. */
int network_used_by(const struct network_env *env, const char *name, json_t **ret,
		    struct error *err);

/* The Network object of GET /1.0/networks/{name}, managed or not (a host interface),
 * new reference; -ENOENT when neither exists. ret_etag_source, when not NULL, receives
 * what the ETag is computed from (new reference: {config, description} for a managed
 * network, NULL for an interface). */
int network_get_json(const struct network_env *env, const char *name, json_t **ret,
		     json_t **ret_etag_source, struct error *err);

/* GET /1.0/networks: managed networks then host interfaces, as URLs (recursion 0) or
 * Network objects. New reference. */
int network_list_json(const struct network_env *env, bool recursion, json_t **ret,
		      struct error *err);

/* The NetworkState of a managed network or a host interface. New reference. */
int network_state_json(const struct network_env *env, const char *name, json_t **ret,
		       struct error *err);

/* The DHCP leases of managed network name, as a new JSON array of NetworkLease. */
int network_leases_json(const struct network_env *env, const char *name, json_t **ret,
			struct error *err);

/* POST /1.0/networks: validates, stores and starts a network. type "" means bridge;
 * config may be NULL. Refuses a taken name, an interface of that name on the host, and a
 * subnet that overlaps another network's or the host's. Changes nothing when it fails.
 * Blocks. */
int network_create(const struct network_env *env, const char *name, const char *type,
		   const char *description, const json_t *config, struct error *err);

/* PUT (patch false) or PATCH /1.0/networks/{name}: new description (NULL: keep it on a
 * patch, "" on a put) and config, validated, stored and applied. Blocks. */
int network_update(const struct network_env *env, const char *name, const char *description,
		   const json_t *config, bool patch, struct error *err);

/* POST /1.0/networks/{name}: renames a network that nothing uses. Blocks. */
int network_rename(const struct network_env *env, const char *name, const char *new_name,
		   struct error *err);

/* DELETE /1.0/networks/{name}: refuses one in use (-EBUSY naming a user); removes its
 * bridge, firewall chains, dnsmasq, leases and files, then its record. Blocks. */
int network_delete(const struct network_env *env, const char *name, struct error *err);

/* Brings every managed network up (daemon start). A network that fails is logged and
 * skipped; returns the number that failed. Blocks. */
int network_start_all(const struct network_env *env);

/* First start: when no network exists, creates `lodgebr0` (ipv4.address=auto,
 * ipv4.nat=true, ipv6.address=auto when the host has IPv6), and gives the `default`
 * profile an `eth0` nic on it unless it has a nic already. Does nothing when a network
 * exists. Blocks. */
int network_default_init(const struct network_env *env, struct error *err);

/* What an instance driver needs to attach a nic to network name. */
struct network_nic_info {
	char *parent;	  /* the host bridge to plug the host end of a veth into */
	unsigned mtu;	  /* the network's MTU (bridge.mtu, 1500 by default) */
	char *ipv4_gw;	  /* "10.0.0.1" or NULL */
	char *ipv6_gw;	  /* "fd42::1" or NULL */
	char *dns_domain; /* "lodge" */
};

void network_nic_info_release(struct network_nic_info *info);

/* Fills info for network name: -ENOENT when no such managed network, -EOPNOTSUPP for a
 * type nics cannot attach to. */
int network_nic_info(const struct network_env *env, const char *name, struct network_nic_info *ret,
		     struct error *err);

/* Checks a nic device ({"type": "nic", "network": "lodgebr0", "ipv4.address": ...}) that
 * names a managed network: the network exists, and a static address lies in its subnet
 * and is neither its gateway nor its network or broadcast address. Devices without
 * `network` pass. */
int network_nic_validate(const struct network_env *env, const json_t *nic, struct error *err);

/* Registers (or replaces) the static lease of owner (an instance name) on network name,
 * so dnsmasq gives lease->hwaddr its address and DNS name; survives restarts. Blocks. */
int network_lease_set(const struct network_env *env, const char *name, const char *owner,
		      const struct network_lease *lease, struct error *err);

/* Forgets owner's static lease on network name (no error when it had none). Blocks. */
int network_lease_remove(const struct network_env *env, const char *name, const char *owner,
			 struct error *err);

/* Makes the static leases (dnsmasq dhcp-host lines: MAC, fixed address, DNS name) of
 * instance match its nics, on every managed network: each nic of devices (expanded) with
 * `network=` naming a managed network, or `parent=` naming one, gives a line with its MAC
 * (`hwaddr`, else `volatile.<nic>.hwaddr` of config), its `ipv4.address`/`ipv6.address`
 * and the instance name; networks none of its nics is on lose the instance's lease.
 * devices NULL: the instance is gone (delete, or the old name of a rename). Nics without
 * a MAC address yet are skipped. Blocks. */
int network_instance_sync(const struct network_env *env, const char *instance, const json_t *config,
			  const json_t *devices, struct error *err);

/* True when hwaddr is a unicast MAC address written as six ':'-separated hex pairs. */
bool network_hwaddr_is_valid(const char *hwaddr);

/* A new random MAC address with LXD's prefix ("00:16:3e:xx:xx:xx") for a nic that has none
 * (volatile.<nic>.hwaddr). The caller frees it. */
char *network_hwaddr_new(void);
