/* network/bridge.c: the `bridge` network driver: a Linux bridge with addresses, NAT and
 * firewall chains in lodge's own nftables table, and a dnsmasq for DHCP and DNS.
 *
 * The host side is changed with `ip`, `nft` and `dnsmasq` run from argument vectors; every
 * value that reaches them passed the key table below and is parsed again by the builder
 * that writes it (../shared/research/security-lessons.md, item 3).
 */
#include "network/bridge.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/fs.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/run.h"
#include "lib/str.h"
#include "network/dnsmasq.h"
#include "network/iface.h"
#include "network/network.h"
#include "network/subnet.h"

/* Last: makes the unsafe libc functions compile errors. */
#include "lib/banned.h"

#define NFT_TABLE	    "inet lodge"
#define BRIDGE_MTU_DEFAULT  1500
#define BRIDGE_MTU_IPV6_MIN 1280

/* --- keys ------------------------------------------------------------------------------ */

static int validate_address(const char *value, int family, struct error *err)
{
	struct subnet s;

	if (streq(value, "auto") || streq(value, "none"))
		return 0;
	if (subnet_parse(value, family, &s) < 0)
		return error_set(err, -EINVAL,
				 "expected auto, none or an address with its prefix such as %s",
				 family == AF_INET ? "10.0.0.1/24" : "fd42::1/64");
	if (family == AF_INET && (s.prefix < 1 || s.prefix > 30))
		return error_set(err, -EINVAL, "the prefix must be between 1 and 30");
	if (family == AF_INET6 && (s.prefix < 1 || s.prefix > 127))
		return error_set(err, -EINVAL, "the prefix must be between 1 and 127");
	if (subnet_is_network_or_broadcast(&s))
		return error_set(
			err, -EINVAL,
			"expected the bridge's own address in the subnet, not its network or broadcast address");
	return 0;
}

static int validate_ipv4_address(const char *value, struct error *err)
{
	return validate_address(value, AF_INET, err);
}

static int validate_ipv6_address(const char *value, struct error *err)
{
	return validate_address(value, AF_INET6, err);
}

/* One "first-last" pair of ipv4.dhcp.ranges. */
static int range_parse(const char *text, size_t len, struct subnet *ret_first,
		       struct subnet *ret_last)
{
	autofree char *copy = xstrndup(text, len);
	char *dash = strchr(copy, '-');

	if (!dash)
		return -EINVAL;
	*dash = '\0';
	if (subnet_parse_address(copy, AF_INET, ret_first) < 0 ||
	    subnet_parse_address(dash + 1, AF_INET, ret_last) < 0)
		return -EINVAL;
	if (memcmp(ret_first->addr, ret_last->addr, 4) > 0)
		return -EINVAL;
	return 0;
}

/* Calls fn on each range of an ipv4.dhcp.ranges value; -EINVAL on a malformed one. */
static int ranges_foreach(const char *value,
			  int (*fn)(const struct subnet *first, const struct subnet *last,
				    void *data),
			  void *data)
{
	const char *p = value;
	int r;

	for (;;) {
		size_t len = strcspn(p, ",");
		struct subnet first, last;

		if (range_parse(p, len, &first, &last) < 0)
			return -EINVAL;
		if (fn) {
			r = fn(&first, &last, data);
			if (r < 0)
				return r;
		}
		if (p[len] == '\0')
			return 0;
		p += len + 1;
	}
}

static int validate_dhcp_ranges(const char *value, struct error *err)
{
	if (ranges_foreach(value, NULL, NULL) < 0)
		return error_set(
			err, -EINVAL,
			"expected comma-separated ranges of IPv4 addresses such as 10.0.0.10-10.0.0.99");
	return 0;
}

/* A DNS domain: dot-separated labels of letters, digits and '-'. */
static bool domain_is_valid(const char *s)
{
	size_t len = strlen(s), label = 0;

	if (len == 0 || len > 253)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if ((!isalnum(c) && c != '-') || (c == '-' && label == 0) || ++label > 63)
			return false;
	}
	return label > 0 && s[len - 1] != '-';
}

static int validate_dns_domain(const char *value, struct error *err)
{
	if (!domain_is_valid(value))
		return error_set(err, -EINVAL,
				 "expected a domain name of letters, digits, '-' and '.'");
	return 0;
}

static int validate_mtu(const char *value, struct error *err)
{
	uint64_t mtu;

	if (parse_u64(value, &mtu) < 0 || mtu < 68 || mtu > 65535)
		return error_set(err, -EINVAL, "expected an MTU between 68 and 65535");
	return 0;
}

static int validate_hwaddr(const char *value, struct error *err)
{
	if (!network_hwaddr_is_valid(value))
		return error_set(err, -EINVAL,
				 "expected a unicast MAC address such as 00:16:3e:12:34:56");
	return 0;
}

/* A dnsmasq lease time: "infinite" or a number with an optional unit (s, m, h, d). */
static bool expiry_is_valid(const char *value)
{
	size_t digits = strspn(value, "0123456789");

	if (streq(value, "infinite"))
		return true;
	if (digits == 0 || digits > 9)
		return false;
	return value[digits] == '\0' ||
	       (strchr("smhd", value[digits]) && value[digits + 1] == '\0');
}

static int validate_expiry(const char *value, struct error *err)
{
	if (!expiry_is_valid(value))
		return error_set(err, -EINVAL, "expected a duration such as 1h, 30m or infinite");
	return 0;
}

/* raw.dnsmasq would let a client write any option into a root process's configuration
 * (dhcp-script runs programs): refused rather than filtered. */
static int validate_refused(const char *value, struct error *err)
{
	return error_set(err, -EINVAL, "not supported by lodge, for safety");
}

CONFIG_VALIDATE_ONE_OF(validate_dns_mode, "managed", "dynamic", "none")
CONFIG_VALIDATE_ONE_OF(validate_bridge_driver, "native")

static const struct config_key bridge_config_keys[] = {
	{ .name = "bridge.driver",
	  .type = CONFIG_TYPE_STRING,
	  .default_value = "native",
	  .validate = validate_bridge_driver },
	{ .name = "bridge.hwaddr", .type = CONFIG_TYPE_STRING, .validate = validate_hwaddr },
	{ .name = "bridge.mtu",
	  .type = CONFIG_TYPE_INT,
	  .default_value = "1500",
	  .validate = validate_mtu },
	{ .name = "dns.domain",
	  .type = CONFIG_TYPE_STRING,
	  .default_value = "lodge",
	  .validate = validate_dns_domain },
	{ .name = "dns.mode",
	  .type = CONFIG_TYPE_STRING,
	  .default_value = "managed",
	  .validate = validate_dns_mode },
	{ .name = "ipv4.address", .type = CONFIG_TYPE_STRING, .validate = validate_ipv4_address },
	{ .name = "ipv4.dhcp", .type = CONFIG_TYPE_BOOL, .default_value = "true" },
	{ .name = "ipv4.dhcp.expiry",
	  .type = CONFIG_TYPE_STRING,
	  .default_value = "1h",
	  .validate = validate_expiry },
	{ .name = "ipv4.dhcp.ranges",
	  .type = CONFIG_TYPE_STRING,
	  .validate = validate_dhcp_ranges },
	{ .name = "ipv4.firewall", .type = CONFIG_TYPE_BOOL, .default_value = "true" },
	{ .name = "ipv4.nat", .type = CONFIG_TYPE_BOOL, .default_value = "false" },
	{ .name = "ipv6.address", .type = CONFIG_TYPE_STRING, .validate = validate_ipv6_address },
	{ .name = "ipv6.dhcp", .type = CONFIG_TYPE_BOOL, .default_value = "true" },
	{ .name = "ipv6.firewall", .type = CONFIG_TYPE_BOOL, .default_value = "true" },
	{ .name = "ipv6.nat", .type = CONFIG_TYPE_BOOL, .default_value = "false" },
	{ .name = "raw.dnsmasq", .type = CONFIG_TYPE_STRING, .validate = validate_refused },
	{ .name = "user.", .type = CONFIG_TYPE_STRING, .flags = CONFIG_KEY_PREFIX },
	{ .name = NULL },
};

const struct config_schema bridge_config_schema = {
	.what = "network",
	.keys = bridge_config_keys,
};

/* The subnet of family in config, false when there is none ("none", unset, or "auto"
 * not yet resolved). */
static bool config_subnet(const json_t *config, const char *key, int family, struct subnet *ret)
{
	const char *value = json_get_str(config, key);

	return value && subnet_parse(value, family, ret) == 0;
}

static void bridge_subnets(const json_t *config, struct subnet **ret, size_t *ret_n)
{
	struct subnet *list = xcalloc(2, sizeof(*list));
	size_t n = 0;
	struct subnet s;

	if (config_subnet(config, "ipv4.address", AF_INET, &s))
		list[n++] = subnet_network(&s);
	if (config_subnet(config, "ipv6.address", AF_INET6, &s))
		list[n++] = subnet_network(&s);
	*ret = list;
	*ret_n = n;
}

static void config_set(json_t *config, const char *key, const char *value)
{
	(void)json_object_set_new(config, key, json_string(value));
}

static int range_check_inside(const struct subnet *first, const struct subnet *last, void *data)
{
	const struct subnet *net = data;

	if (!subnet_contains(net, first) || !subnet_contains(net, last))
		return -ERANGE;
	return 0;
}

/* Replaces key's "auto" by a free subnet of family, and sets nat_key to true unless the
 * client chose. */
static int config_pick_auto(json_t *config, const char *key, const char *nat_key, int family,
			    const struct network_fill_ctx *ctx, struct error *err)
{
	autofree char *text = NULL;
	unsigned char rnd[7] = { 0 };
	struct subnet s;
	int r;

	if (!streq_ptr(json_get_str(config, key), "auto"))
		return 0;
	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
		return error_errno(err, -errno, "Failed to pick a subnet for '%s'", key);
	if (family == AF_INET)
		r = subnet_pick_ipv4(ctx->used, ctx->n_used, (uint32_t)rnd[0] << 8 | rnd[1], &s);
	else
		r = subnet_pick_ipv6(rnd, ctx->used, ctx->n_used, &s);
	if (r < 0)
		return error_set(err, r, "No free subnet left for %s=auto", key);
	text = subnet_to_string(&s);
	config_set(config, key, text);
	if (!json_get_str(config, nat_key))
		config_set(config, nat_key, "true");
	return 0;
}

static int bridge_config_fill(const char *name, const json_t *old, json_t *config,
			      const struct network_fill_ctx *ctx, struct error *err)
{
	const char *ranges = json_get_str(config, "ipv4.dhcp.ranges");
	struct subnet s;
	int r;

	/* What LXD stores for a network created without addresses (FillConfig). */
	if (!old) {
		if (!json_get_str(config, "ipv4.address"))
			config_set(config, "ipv4.address", "auto");
		if (!json_get_str(config, "ipv6.address") && ctx->host_has_ipv6)
			config_set(config, "ipv6.address", "auto");
	}
	r = config_pick_auto(config, "ipv4.address", "ipv4.nat", AF_INET, ctx, err);
	if (r < 0)
		return r;
	r = config_pick_auto(config, "ipv6.address", "ipv6.nat", AF_INET6, ctx, err);
	if (r < 0)
		return r;

	if (ranges) {
		if (!config_subnet(config, "ipv4.address", AF_INET, &s))
			return error_set(
				err, -EINVAL,
				"Invalid value for 'ipv4.dhcp.ranges': the network has no IPv4 address");
		if (ranges_foreach(ranges, range_check_inside, &s) < 0)
			return error_set(
				err, -EINVAL,
				"Invalid value for 'ipv4.dhcp.ranges': ranges must lie inside %s",
				json_get_str(config, "ipv4.address"));
	}
	if (config_subnet(config, "ipv6.address", AF_INET6, &s) &&
	    config_get_int(&bridge_config_schema, config, "bridge.mtu") < BRIDGE_MTU_IPV6_MIN)
		return error_set(err, -EINVAL,
				 "Invalid value for 'bridge.mtu': IPv6 needs an MTU of at least %d",
				 BRIDGE_MTU_IPV6_MIN);
	return 0;
}

/* --- nftables -------------------------------------------------------------------------- */

struct nft_chain {
	const char *prefix; /* the chain is "<prefix>.<network>" */
	const char *spec;
};

/* One base chain per hook and network, as LXD names them, so a network's rules come and go
 * with its chains and never touch another's. */
static const struct nft_chain nft_chains[] = {
	{ "pstrt", "type nat hook postrouting priority 100; policy accept;" },
	{ "fwd", "type filter hook forward priority 0; policy accept;" },
	{ "in", "type filter hook input priority 0; policy accept;" },
	{ "out", "type filter hook output priority 0; policy accept;" },
};

static void nft_declare_chains(struct strbuf *sb, const char *name)
{
	strbuf_addf(sb, "add table %s\n", NFT_TABLE);
	for (size_t i = 0; i < ARRAY_SIZE(nft_chains); i++)
		strbuf_addf(sb, "add chain %s %s.%s { %s }\nflush chain %s %s.%s\n", NFT_TABLE,
			    nft_chains[i].prefix, name, nft_chains[i].spec, NFT_TABLE,
			    nft_chains[i].prefix, name);
}

static void nft_family_rules(struct strbuf *sb, const char *name, const json_t *config, int family)
{
	bool v4 = family == AF_INET;
	const char *ip = v4 ? "ip" : "ip6";
	const char *proto = v4 ? "ipv4" : "ipv6";
	struct subnet s;
	autofree char *net = NULL;

	if (!config_subnet(config, v4 ? "ipv4.address" : "ipv6.address", family, &s))
		return;
	s = subnet_network(&s);
	net = subnet_to_string(&s);

	if (config_get_bool(&bridge_config_schema, config, v4 ? "ipv4.nat" : "ipv6.nat"))
		strbuf_addf(sb, "add rule %s pstrt.%s %s saddr %s %s daddr != %s masquerade\n",
			    NFT_TABLE, name, ip, net, ip, net);

	if (!config_get_bool(&bridge_config_schema, config, v4 ? "ipv4.firewall" : "ipv6.firewall"))
		return;
	/* Let the bridge's traffic through, and reach dnsmasq (DNS, DHCP, router
	 * advertisements), whatever other tables' policies say (when they accept). */
	strbuf_addf(sb, "add rule %s fwd.%s iifname \"%s\" meta nfproto %s accept\n", NFT_TABLE,
		    name, name, proto);
	strbuf_addf(sb, "add rule %s fwd.%s oifname \"%s\" meta nfproto %s accept\n", NFT_TABLE,
		    name, name, proto);
	strbuf_addf(
		sb,
		"add rule %s in.%s iifname \"%s\" meta nfproto %s meta l4proto { tcp, udp } th dport 53 accept\n",
		NFT_TABLE, name, name, proto);
	if (v4) {
		strbuf_addf(sb, "add rule %s in.%s iifname \"%s\" udp dport 67 accept\n", NFT_TABLE,
			    name, name);
		strbuf_addf(sb, "add rule %s out.%s oifname \"%s\" udp sport 67 accept\n",
			    NFT_TABLE, name, name);
	} else {
		strbuf_addf(sb, "add rule %s in.%s iifname \"%s\" udp dport 547 accept\n",
			    NFT_TABLE, name, name);
		strbuf_addf(
			sb,
			"add rule %s in.%s iifname \"%s\" icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit } accept\n",
			NFT_TABLE, name, name);
		strbuf_addf(sb, "add rule %s out.%s oifname \"%s\" udp sport 547 accept\n",
			    NFT_TABLE, name, name);
		strbuf_addf(
			sb,
			"add rule %s out.%s oifname \"%s\" icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-advert } accept\n",
			NFT_TABLE, name, name);
	}
}

int bridge_nft_ruleset(const char *name, const json_t *config, char **ret, struct error *err)
{
	struct strbuf sb = STRBUF_INIT;

	/* The name goes into identifiers and quoted strings: only interface-name characters. */
	if (!iface_name_is_valid(name))
		return error_set(err, -EINVAL, "Invalid network name");
	nft_declare_chains(&sb, name);
	nft_family_rules(&sb, name, config, AF_INET);
	nft_family_rules(&sb, name, config, AF_INET6);
	*ret = strbuf_detach(&sb);
	return 0;
}

int bridge_nft_delete_ruleset(const char *name, char **ret, struct error *err)
{
	struct strbuf sb = STRBUF_INIT;

	if (!iface_name_is_valid(name))
		return error_set(err, -EINVAL, "Invalid network name");
	/* nft 1.0.6 has no "destroy": declaring first makes the deletes always valid. */
	nft_declare_chains(&sb, name);
	for (size_t i = 0; i < ARRAY_SIZE(nft_chains); i++)
		strbuf_addf(&sb, "delete chain %s %s.%s\n", NFT_TABLE, nft_chains[i].prefix, name);
	*ret = strbuf_detach(&sb);
	return 0;
}

/* True when a ruleset text adds at least one rule. */
static bool nft_ruleset_has_rules(const char *ruleset)
{
	return strstr(ruleset, "add rule ") != NULL;
}

static int bridge_nft_apply(const char *name, const json_t *config, struct error *err)
{
	autofree char *ruleset = NULL;
	int r;

	r = bridge_nft_ruleset(name, config, &ruleset, err);
	if (r < 0)
		return r;
	r = run_command_full((const char *[]){ "nft", "-f", "-", NULL }, ruleset, NULL, err);
	/* Without nftables, a network that needs no rule still works. */
	if (r == -ENOENT && !nft_ruleset_has_rules(ruleset)) {
		error_clear(err);
		return 0;
	}
	return r;
}

static int bridge_nft_remove(const char *name, struct error *err)
{
	autofree char *ruleset = NULL;
	int r;

	r = bridge_nft_delete_ruleset(name, &ruleset, err);
	if (r < 0)
		return r;
	r = run_command_full((const char *[]){ "nft", "-f", "-", NULL }, ruleset, NULL, err);
	if (r == -ENOENT) {
		error_clear(err);
		return 0;
	}
	return r;
}

/* --- dnsmasq --------------------------------------------------------------------------- */

struct range_args {
	struct argv_builder *b;
	const char *expiry;
};

static int range_add_arg(const struct subnet *first, const struct subnet *last, void *data)
{
	struct range_args *a = data;
	autofree char *f = subnet_address_to_string(first);
	autofree char *l = subnet_address_to_string(last);

	argv_addf(a->b, "--dhcp-range=%s,%s,%s", f, l, a->expiry);
	return 0;
}

int bridge_dnsmasq_argv(const char *name, const char *state_dir, const json_t *config,
			const char *user, const char *group, char ***ret, struct error *err)
{
	const struct config_schema *schema = &bridge_config_schema;
	struct argv_builder b = { NULL, 0 };
	const char *domain = config_get(schema, config, "dns.domain");
	const char *mode = config_get(schema, config, "dns.mode");
	const char *expiry = config_get(schema, config, "ipv4.dhcp.expiry");
	const char *ranges = json_get_str(config, "ipv4.dhcp.ranges");
	struct subnet v4, v6;
	bool has_v4 = config_subnet(config, "ipv4.address", AF_INET, &v4);
	bool has_v6 = config_subnet(config, "ipv6.address", AF_INET6, &v6);
	int64_t mtu = config_get_int(schema, config, "bridge.mtu");

	if (!has_v4 && !has_v6) {
		*ret = NULL;
		return 0;
	}
	/* Each value becomes part of one argument; these are the ones whose syntax dnsmasq
	 * would split further (',' and '/'), so they are checked here again. */
	if (!iface_name_is_valid(name))
		return error_set(err, -EINVAL, "Invalid network name");
	if (!domain_is_valid(domain))
		return error_set(err, -EINVAL, "Invalid value for 'dns.domain'");
	if (!expiry_is_valid(expiry))
		return error_set(err, -EINVAL, "Invalid value for 'ipv4.dhcp.expiry'");
	if (ranges && ranges_foreach(ranges, NULL, NULL) < 0)
		return error_set(err, -EINVAL, "Invalid value for 'ipv4.dhcp.ranges'");
	if (!config_value_is_safe(state_dir) || strchr(state_dir, ',') || !user || !group ||
	    !config_value_is_safe(user) || !config_value_is_safe(group))
		return error_set(err, -EINVAL, "Invalid dnsmasq paths or user");

	argv_add(&b, "dnsmasq");
	/* No configuration but ours: not /etc/dnsmasq.conf, nor /etc/dnsmasq.d. */
	argv_add(&b, "--conf-file=/dev/null");
	argv_add(&b, "--strict-order");
	argv_add(&b, "--bind-interfaces");
	argv_addf(&b, "--pid-file=%s/" DNSMASQ_PID_FILE, state_dir);
	argv_add(&b, "--no-ping");
	argv_addf(&b, "--interface=%s", name);
	argv_add(&b, "--except-interface=lo");
	argv_add(&b, "--quiet-dhcp");
	argv_add(&b, "--quiet-dhcp6");
	argv_add(&b, "--quiet-ra");
	argv_add(&b, "--dhcp-no-override");
	argv_add(&b, "--dhcp-authoritative");
	argv_add(&b, "--dhcp-rapid-commit");
	argv_addf(&b, "--dhcp-leasefile=%s/" DNSMASQ_LEASE_FILE, state_dir);
	argv_addf(&b, "--dhcp-hostsdir=%s/" DNSMASQ_HOSTS_DIR, state_dir);

	if (has_v4) {
		autofree char *gw = subnet_address_to_string(&v4);

		argv_addf(&b, "--listen-address=%s", gw);
		if (config_get_bool(schema, config, "ipv4.dhcp")) {
			struct range_args a = { &b, expiry };

			if (ranges) {
				(void)ranges_foreach(ranges, range_add_arg, &a);
			} else {
				/* LXD's default: the whole subnet but the network, the bridge's
				 * usual .1 and the broadcast address. */
				struct subnet first = subnet_nth(&v4, 2);
				struct subnet last = subnet_nth(&v4, -2);

				(void)range_add_arg(&first, &last, &a);
			}
			if (mtu != BRIDGE_MTU_DEFAULT)
				argv_addf(&b, "--dhcp-option-force=26,%lld", (long long)mtu);
		}
	}
	if (has_v6) {
		autofree char *gw = subnet_address_to_string(&v6);

		argv_addf(&b, "--listen-address=%s", gw);
		/* Router advertisements with SLAAC, DHCPv6 for names (or advertisements only). */
		argv_addf(&b, "--dhcp-range=::,constructor:%s,%s", name,
			  config_get_bool(schema, config, "ipv6.dhcp") ? "ra-stateless,ra-names"
								       : "ra-only");
	}

	if (streq(mode, "none")) {
		argv_add(&b, "--port=0");
	} else {
		argv_addf(&b, "--domain=%s", domain);
		argv_addf(&b, "--local=/%s/", domain);
		argv_addf(&b, "--interface-name=_gateway.%s,%s", domain, name);
	}
	argv_addf(&b, "--user=%s", user);
	argv_addf(&b, "--group=%s", group);

	*ret = b.argv;
	return 0;
}

/* --- host side ------------------------------------------------------------------------- */

char *bridge_default_hwaddr(const char *name)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (const char *p = name; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return str_printf("00:16:3e:%02x:%02x:%02x", (h >> 16) & 0xff, (h >> 8) & 0xff, h & 0xff);
}

static int sysctl_write(const char *path, const char *value, struct error *err)
{
	autoclose int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return error_errno(err, -errno, "Failed to open '%s'", path);
	if (write_all_fd(fd, value, strlen(value)) < 0)
		return error_errno(err, -errno, "Failed to write '%s' to '%s'", value, path);
	return 0;
}

/* Before IPv6 forwarding is switched on, interfaces that accept router advertisements
 * (accept_ra=1) are told to keep doing so (2): forwarding would otherwise make the host
 * drop its own IPv6 default route. LXD does the same. */
static void ipv6_keep_accepting_ra(const char *bridge)
{
	DIR *dir = opendir("/proc/sys/net/ipv6/conf");
	struct dirent *de;

	if (!dir)
		return;
	while ((de = readdir(dir))) {
		autofree char *path = NULL;
		autofree char *value = NULL;

		if (de->d_name[0] == '.' || streq(de->d_name, "all") ||
		    streq(de->d_name, "default") || streq(de->d_name, bridge))
			continue;
		path = str_printf("/proc/sys/net/ipv6/conf/%s/accept_ra", de->d_name);
		if (read_file(path, 64, &value, NULL, NULL) < 0 || !str_has_prefix(value, "1"))
			continue;
		(void)sysctl_write(path, "2", NULL);
	}
	(void)closedir(dir);
}

/* True when the interface's global addresses of family are exactly want (or none). */
static bool addresses_match(const char *name, int family, const struct subnet *want)
{
	autojson json_t *state = NULL;
	const char *fam = family == AF_INET ? "inet" : "inet6";
	bool found = false;
	size_t n = 0;
	size_t i;
	json_t *a;

	if (iface_state(name, &state, NULL) < 0)
		return false;
	json_array_foreach(json_object_get(state, "addresses"), i, a)
	{
		autofree char *want_addr = want ? subnet_address_to_string(want) : NULL;
		autofree char *want_prefix = want ? str_printf("%u", want->prefix) : NULL;

		if (!streq_ptr(json_get_str(a, "family"), fam) ||
		    !streq_ptr(json_get_str(a, "scope"), "global"))
			continue;
		n++;
		if (want && streq_ptr(json_get_str(a, "address"), want_addr) &&
		    streq_ptr(json_get_str(a, "netmask"), want_prefix))
			found = true;
	}
	return want ? n == 1 && found : n == 0;
}

static int bridge_addresses_sync(const char *name, int family, const struct subnet *want,
				 struct error *err)
{
	const char *fam = family == AF_INET ? "-4" : "-6";
	autofree char *cidr = NULL;
	int r;

	if (addresses_match(name, family, want))
		return 0;
	r = run_command((const char *[]){ "ip", fam, "addr", "flush", "dev", name, "scope",
					  "global", NULL },
			err);
	if (r < 0 || !want)
		return r;
	cidr = subnet_to_string(want);
	/* nodad: dnsmasq must bind the address at once, not after duplicate detection. */
	if (family == AF_INET6)
		return run_command((const char *[]){ "ip", fam, "addr", "add", cidr, "dev", name,
						     "nodad", NULL },
				   err);
	return run_command((const char *[]){ "ip", fam, "addr", "add", cidr, "dev", name, NULL },
			   err);
}

static int bridge_link_ensure(struct network *net, struct error *err)
{
	const char *hwaddr = json_get_str(net->config, "bridge.hwaddr");
	autofree char *default_hwaddr = bridge_default_hwaddr(net->name);
	autofree char *mtu =
		str_printf("%lld", (long long)config_get_int(&bridge_config_schema, net->config,
							     "bridge.mtu"));
	autofree char *bridge_dir = str_printf("/sys/class/net/%s/bridge", net->name);
	struct stat st;
	int r;

	if (!iface_exists(net->name)) {
		r = run_command((const char *[]){ "ip", "link", "add", "dev", net->name, "type",
						  "bridge", NULL },
				err);
		if (r < 0)
			return r;
	} else if (stat(bridge_dir, &st) < 0) {
		return error_set(err, -EEXIST, "Interface '%s' exists and is not a bridge",
				 net->name);
	}
	return run_command((const char *[]){ "ip", "link", "set", "dev", net->name, "mtu", mtu,
					     "address", hwaddr ? hwaddr : default_hwaddr, "up",
					     NULL },
			   err);
}

static int bridge_sysctls(struct network *net, bool has_v4, bool has_v6, struct error *err)
{
	autofree char *v6_dir = str_printf("/proc/sys/net/ipv6/conf/%s", net->name);
	autofree char *path = NULL;
	struct stat st;
	int r;

	if (stat(v6_dir, &st) == 0) {
		path = str_printf("%s/disable_ipv6", v6_dir);
		r = sysctl_write(path, has_v6 ? "0" : "1", err);
		if (r < 0)
			return r;
		free(path);
		path = str_printf("%s/accept_ra", v6_dir);
		(void)sysctl_write(path, "0", NULL);
	} else if (has_v6) {
		return error_set(err, -EAFNOSUPPORT, "IPv6 is disabled on this host");
	}

	if (has_v4) {
		r = sysctl_write("/proc/sys/net/ipv4/ip_forward", "1", err);
		if (r < 0)
			return r;
	}
	if (has_v6) {
		ipv6_keep_accepting_ra(net->name);
		r = sysctl_write("/proc/sys/net/ipv6/conf/all/forwarding", "1", err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* dnsmasq drops root for nobody and Debian's nogroup (other systems: nobody). */
static const char *dnsmasq_group(void)
{
	struct group gr, *res = NULL;
	char buf[1024];

	if (getgrnam_r("nogroup", &gr, buf, sizeof(buf), &res) == 0 && res)
		return "nogroup";
	return "nobody";
}

static int bridge_dnsmasq_ensure(struct network *net, struct error *err)
{
	autoclean(argv_freep) char **argv = NULL;
	int r;

	r = bridge_dnsmasq_argv(net->name, net->state_dir, net->config, "nobody", dnsmasq_group(),
				&argv, err);
	if (r < 0)
		return r;
	if (!argv)
		return dnsmasq_stop(net->state_dir, err);
	return dnsmasq_start(net->state_dir, (const char *const *)argv, err);
}

/* True when every directory of path (absolute) lets other users through (o+x). */
static bool path_is_traversable(const char *path)
{
	autofree char *p = xstrdup(path);
	struct stat st;

	for (char *slash = p + strlen(p); slash; slash = strrchr(p, '/')) {
		*slash = '\0';
		if (stat(*p ? p : "/", &st) < 0 || !(st.st_mode & S_IXOTH))
			return false;
		if (!*p)
			break;
	}
	return true;
}

static int bridge_dirs_ensure(struct network *net, struct error *err)
{
	autofree char *hosts = str_printf("%s/" DNSMASQ_HOSTS_DIR, net->state_dir);
	autofree char *parent =
		xstrndup(net->state_dir, (size_t)(strrchr(net->state_dir, '/') - net->state_dir));
	int r;

	/* dnsmasq, as nobody, re-reads the static leases on SIGHUP: it must traverse
	 * $LODGE_DIR/networks/<name> and read the hosts directory. */
	r = mkdir_p(hosts, 0755, err);
	if (r < 0)
		return r;
	if (chmod(parent, 0711) < 0 || chmod(net->state_dir, 0711) < 0 || chmod(hosts, 0755) < 0)
		return error_errno(err, -errno, "Failed to set the mode of '%s'", net->state_dir);
	/* lodged makes its own state directory 0711; one made by someone else may not be. */
	if (!path_is_traversable(parent))
		log_warn(
			"dnsmasq cannot re-read the static leases of network '%s': a directory above '%s' is closed to other users, ignoring",
			net->name, parent);
	return 0;
}

static int bridge_start(struct network *net, struct error *err)
{
	autofree char *v6_dir = str_printf("/proc/sys/net/ipv6/conf/%s", net->name);
	struct stat st;
	struct subnet v4, v6;
	bool has_v4 = config_subnet(net->config, "ipv4.address", AF_INET, &v4);
	bool has_v6 = config_subnet(net->config, "ipv6.address", AF_INET6, &v6);
	int r;

	r = bridge_dirs_ensure(net, err);
	if (r < 0)
		return r;
	r = bridge_link_ensure(net, err);
	if (r < 0)
		return r;
	r = bridge_sysctls(net, has_v4, has_v6, err);
	if (r < 0)
		return r;
	r = bridge_addresses_sync(net->name, AF_INET, has_v4 ? &v4 : NULL, err);
	if (r < 0)
		return r;
	/* With IPv6 disabled on the host there is no IPv6 address to add or remove. */
	if (stat(v6_dir, &st) == 0) {
		r = bridge_addresses_sync(net->name, AF_INET6, has_v6 ? &v6 : NULL, err);
		if (r < 0)
			return r;
	}
	r = bridge_nft_apply(net->name, net->config, err);
	if (r < 0)
		return r;
	return bridge_dnsmasq_ensure(net, err);
}

static int bridge_stop(struct network *net, struct error *err)
{
	autofree char *bridge_dir = str_printf("/sys/class/net/%s/bridge", net->name);
	struct stat st;
	int r;

	r = dnsmasq_stop(net->state_dir, err);
	if (r < 0)
		return r;
	r = bridge_nft_remove(net->name, err);
	if (r < 0)
		return r;
	if (stat(bridge_dir, &st) == 0)
		return run_command((const char *[]){ "ip", "link", "del", "dev", net->name, NULL },
				   err);
	return 0;
}

static int bridge_leases(struct network *net, json_t **ret, struct error *err)
{
	autofree char *hosts = str_printf("%s/" DNSMASQ_HOSTS_DIR, net->state_dir);
	autofree char *lease_path = str_printf("%s/" DNSMASQ_LEASE_FILE, net->state_dir);
	autofree char *text = NULL;
	json_t *leases = json_array();
	json_t *dynamic = json_array();
	DIR *dir = opendir(hosts);
	struct dirent *de;
	size_t i;
	json_t *l;

	while (dir && (de = readdir(dir))) {
		autofree char *path = NULL;
		autofree char *line = NULL;

		if (de->d_name[0] == '.')
			continue;
		path = str_printf("%s/%s", hosts, de->d_name);
		if (read_file(path, 65536, &line, NULL, NULL) < 0)
			continue;
		/* One line per nic of the instance on this network. */
		for (char *one = line, *next; one && *one; one = next) {
			next = strchr(one, '\n');
			if (next)
				*next++ = '\0';
			dnsmasq_host_line_parse(one, leases);
		}
	}
	if (dir)
		(void)closedir(dir);

	if (read_file(lease_path, 16 << 20, &text, NULL, NULL) == 0)
		dnsmasq_leases_parse(text, dynamic);
	/* A static address that was handed out shows once, as static. */
	json_array_foreach(dynamic, i, l)
	{
		bool listed = false;
		size_t j;
		json_t *s;

		json_array_foreach(leases, j, s)
		{
			if (streq_ptr(json_get_str(s, "address"), json_get_str(l, "address")))
				listed = true;
		}
		if (!listed)
			(void)json_array_append(leases, l);
	}
	json_decref(dynamic);
	*ret = leases;
	return 0;
}

/* The MAC addresses of owner's static leases (the first field of each line), as a new
 * JSON array; empty when it has none. */
static json_t *owner_hwaddrs(const struct network *net, const char *owner)
{
	autofree char *path = str_printf("%s/" DNSMASQ_HOSTS_DIR "/%s", net->state_dir, owner);
	autofree char *text = NULL;
	json_t *macs = json_array();

	if (read_file(path, 65536, &text, NULL, NULL) < 0)
		return macs;
	for (char *line = text, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		line[strcspn(line, ",")] = '\0';
		if (network_hwaddr_is_valid(line))
			(void)json_array_append_new(macs, json_string(line));
	}
	return macs;
}

static bool hwaddr_listed(const json_t *list, const char *hwaddr)
{
	size_t i;
	json_t *v;

	json_array_foreach(list, i, v)
	{
		if (strcasecmp(json_string_value(v), hwaddr) == 0)
			return true;
	}
	return false;
}

/* Ends the dynamic IPv4 leases dnsmasq holds for the MAC addresses in gone (an instance or
 * a nic that went away), with a DHCPRELEASE from dnsmasq's own dhcp_release, as LXD does:
 * a deleted instance leaves no lease behind. A failure is only logged. */
static void leases_release(const struct network *net, const json_t *gone)
{
	autofree char *lease_path = str_printf("%s/" DNSMASQ_LEASE_FILE, net->state_dir);
	autofree char *text = NULL;
	autojson json_t *leases = json_array();
	size_t i;
	json_t *l;

	if (json_array_size(gone) == 0 || read_file(lease_path, 16 << 20, &text, NULL, NULL) < 0)
		return;
	dnsmasq_leases_parse(text, leases);
	json_array_foreach(leases, i, l)
	{
		const char *hwaddr = json_get_str(l, "hwaddr");
		const char *address = json_get_str(l, "address");
		struct error err = ERROR_INIT;

		if (!hwaddr || !*hwaddr || !address || !hwaddr_listed(gone, hwaddr))
			continue;
		if (run_command(
			    (const char *[]){ "dhcp_release", net->name, address, hwaddr, NULL },
			    &err) < 0)
			log_warn("Failed to release the lease of %s on '%s': %s", address,
				 net->name, error_message(&err));
		error_clear(&err);
	}
}

/* After owner's static leases changed from old (MAC addresses) to leases: releases the
 * dynamic leases of the MAC addresses that went. */
static void leases_release_gone(const struct network *net, const json_t *old,
				const struct network_lease *leases, size_t n)
{
	autojson json_t *gone = json_array();
	size_t i;
	json_t *v;

	json_array_foreach(old, i, v)
	{
		bool kept = false;

		for (size_t j = 0; j < n; j++)
			if (strcasecmp(leases[j].hwaddr, json_string_value(v)) == 0)
				kept = true;
		if (!kept)
			(void)json_array_append(gone, v);
	}
	leases_release(net, gone);
}

static int bridge_lease_set(struct network *net, const char *owner,
			    const struct network_lease *leases, size_t n, struct error *err)
{
	struct strbuf sb = STRBUF_INIT;
	autofree char *text = NULL;
	autofree char *path = NULL;
	autojson json_t *old = owner_hwaddrs(net, owner);
	int r;

	for (size_t i = 0; i < n; i++) {
		autofree char *line = NULL;

		r = dnsmasq_host_line(&leases[i], &line, err);
		if (r < 0) {
			strbuf_release(&sb);
			return r;
		}
		strbuf_adds(&sb, line);
	}
	text = strbuf_detach(&sb);
	r = bridge_dirs_ensure(net, err);
	if (r < 0)
		return r;
	path = str_printf("%s/" DNSMASQ_HOSTS_DIR "/%s", net->state_dir, owner);
	r = write_file_atomic(path, text, strlen(text), 0644, err);
	if (r < 0)
		return r;
	dnsmasq_reload(net->state_dir);
	leases_release_gone(net, old, leases, n);
	return 0;
}

static int bridge_lease_remove(struct network *net, const char *owner, struct error *err)
{
	autofree char *path = str_printf("%s/" DNSMASQ_HOSTS_DIR "/%s", net->state_dir, owner);
	autojson json_t *old = owner_hwaddrs(net, owner);

	if (unlink(path) < 0) {
		if (errno == ENOENT)
			return 0;
		return error_errno(err, -errno, "Failed to remove '%s'", path);
	}
	/* dnsmasq forgets a removed host only when told to re-read them all. */
	dnsmasq_reload(net->state_dir);
	leases_release_gone(net, old, NULL, 0);
	return 0;
}

const struct network_driver network_driver_bridge = {
	.name = "bridge",
	.schema = &bridge_config_schema,
	.config_fill = bridge_config_fill,
	.subnets = bridge_subnets,
	.start = bridge_start,
	.stop = bridge_stop,
	.leases = bridge_leases,
	.lease_set = bridge_lease_set,
	.lease_remove = bridge_lease_remove,
};
