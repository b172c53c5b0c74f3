/* network/dnsmasq.h: the dnsmasq that serves DHCP and DNS on a managed network.
 *
 * One dnsmasq per network, daemonized, found again through its pid file in the network's
 * state directory (so a restarted lodged replaces the one it left running), with its lease
 * file and a directory of static leases (--dhcp-hostsdir, one file per instance) beside it.
 */
#pragma once

#include <jansson.h>

#include "lib/error.h"
#include "network/network.h"

#define DNSMASQ_PID_FILE   "dnsmasq.pid"
#define DNSMASQ_LEASE_FILE "dnsmasq.leases"
#define DNSMASQ_HOSTS_DIR  "dnsmasq.hosts"

/* A growing NULL-terminated argument vector. */
struct argv_builder {
	char **argv;
	size_t n;
};

void argv_add(struct argv_builder *b, const char *arg);
void argv_addf(struct argv_builder *b, const char *fmt, ...) _printf_(2, 3);
/* Frees a NULL-terminated vector of strings. NULL-safe. */
void argv_free(char **argv);
DEFINE_FREEP(char *, argv_free)

/* Stops the dnsmasq whose pid file is in state_dir, if it still runs (the pid must belong
 * to a dnsmasq started with that pid file, else it is left alone), and removes the pid
 * file. Waits up to 5 s for it to exit, then kills it. Blocks. */
int dnsmasq_stop(const char *state_dir, struct error *err);

/* Replaces any dnsmasq of state_dir by one run with argv (which daemonizes; its start-up
 * errors come back in err). Blocks. */
int dnsmasq_start(const char *state_dir, const char *const argv[], struct error *err);

/* Asks the running dnsmasq of state_dir to re-read its static leases (SIGHUP); nothing when
 * none runs. */
void dnsmasq_reload(const char *state_dir);

/* The dhcp-host line for lease ("00:16:3e:..,10.0.0.5,[fd42::5],c1"), checking every field
 * first: -EINVAL naming the bad one. Pure. */
int dnsmasq_host_line(const struct network_lease *lease, char **ret, struct error *err);

/* Appends to leases (a JSON array) a NetworkLease for each lease in text, the content of
 * a dnsmasq lease file: IPv4 lines "<expiry> <mac> <ip> <hostname|*> <client-id|*>", IPv6
 * ones after the "duid" line. Malformed lines are skipped. Pure. */
void dnsmasq_leases_parse(const char *text, json_t *leases);

/* Appends to leases a static NetworkLease for each address of a dhcp-host line. Pure. */
void dnsmasq_host_line_parse(const char *line, json_t *leases);
