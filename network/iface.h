/* network/iface.h: the host's network interfaces as lodged sees them (in its own network
 * namespace): names, kinds, state, and the subnets already in use.
 *
 * These read /sys/class/net, getifaddrs() and rtnetlink; they change nothing. Each call
 * blocks briefly (sysfs reads, one netlink round trip): fine on a worker thread, tolerable
 * on the loop for a single GET.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "lib/error.h"
#include "network/subnet.h"

/* True for a name the kernel could give an interface and that is safe in a path and an
 * argument: 1..15 characters of [A-Za-z0-9_.-], not starting with '-' or '.'. */
bool iface_name_is_valid(const char *name);

/* True when an interface called name exists. */
bool iface_exists(const char *name);

/* The names of every interface, sorted, as a new JSON array of strings. */
int iface_list(json_t **ret, struct error *err);

/* What LXD calls the type of an unmanaged interface: "loopback", "bridge", "bond", "vlan",
 * "physical" or "unknown". Static strings. */
const char *iface_kind(const char *name);

/* The /1.0/networks/{name}/state object (NetworkState) of interface name: addresses,
 * counters, hwaddr, mtu, state, type, and bridge when it is one. -ENOENT when the interface
 * does not exist. */
int iface_state(const char *name, json_t **ret, struct error *err);

/* Every subnet in use on the host: routes (all tables, but not default routes) and the
 * addresses of every interface, except those of interface exclude (NULL: none). *ret is a
 * new array the caller frees. */
int iface_used_subnets(const char *exclude, struct subnet **ret, size_t *ret_n, struct error *err);
