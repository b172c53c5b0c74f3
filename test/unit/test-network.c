#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "db/db-internal.h"
#include "db/db-networks.h"
#include "db/db.h"
#include "lib/config.h"
#include "lib/error.h"
#include "lib/json.h"
#include "lib/str.h"
#include "network/bridge.h"
#include "network/dnsmasq.h"
#include "network/network.h"
#include "network/subnet.h"
#include "test/unit/unit.h"

/* Last: makes the unsafe libc functions compile errors. */
#include "lib/banned.h"

static struct subnet parse_ok(const char *text)
{
	struct subnet s;

	ck_assert_msg(subnet_parse(text, 0, &s) == 0, "parse '%s'", text);
	return s;
}

static void assert_subnet(const struct subnet *s, const char *want)
{
	autofree char *got = subnet_to_string(s);

	ck_assert_str_eq(got, want);
}

START_TEST(test_subnet_parse)
{
	struct subnet s;

	s = parse_ok("10.0.0.1/24");
	ck_assert_int_eq(s.family, AF_INET);
	ck_assert_uint_eq(s.prefix, 24);
	assert_subnet(&s, "10.0.0.1/24");
	s = parse_ok("fd42::1/64");
	ck_assert_int_eq(s.family, AF_INET6);
	assert_subnet(&s, "fd42::1/64");

	ck_assert_int_eq(subnet_parse("10.0.0.1", 0, &s), -EINVAL);
	ck_assert_int_eq(subnet_parse("10.0.0.1/33", 0, &s), -EINVAL);
	ck_assert_int_eq(subnet_parse("10.0.0.1/024", 0, &s), -EINVAL);
	ck_assert_int_eq(subnet_parse("10.0.0.1/24 ", 0, &s), -EINVAL);
	ck_assert_int_eq(subnet_parse(" 10.0.0.1/24", 0, &s), -EINVAL);
	ck_assert_int_eq(subnet_parse("10.0.0.1/-1", 0, &s), -EINVAL);
	ck_assert_int_eq(subnet_parse("10.0.0/24", 0, &s), -EINVAL);
	ck_assert_int_eq(subnet_parse("fd42::1/129", 0, &s), -EINVAL);
	ck_assert_int_eq(subnet_parse("10.0.0.1/24", AF_INET6, &s), -EINVAL);
	ck_assert_int_eq(subnet_parse("fd42::1/64", AF_INET, &s), -EINVAL);
	ck_assert_int_eq(subnet_parse_address("10.1.2.3", AF_INET, &s), 0);
	ck_assert_uint_eq(s.prefix, 32);
}
END_TEST

START_TEST(test_subnet_overlap_and_contains)
{
	struct subnet a = parse_ok("10.0.0.1/24"), b = parse_ok("10.0.0.200/16");
	struct subnet c = parse_ok("10.0.1.1/24"), d = parse_ok("fd42::1/64");
	struct subnet e = parse_ok("fd42:0:0:1::1/64"), f = parse_ok("fd42::/48");
	struct subnet addr;

	ck_assert(subnet_overlaps(&a, &b));
	ck_assert(subnet_overlaps(&b, &a));
	ck_assert(!subnet_overlaps(&a, &c));
	ck_assert(subnet_overlaps(&b, &c));
	ck_assert(!subnet_overlaps(&a, &d));
	ck_assert(!subnet_overlaps(&d, &e));
	ck_assert(subnet_overlaps(&d, &f) && subnet_overlaps(&e, &f));

	ck_assert_int_eq(subnet_parse_address("10.0.0.77", AF_INET, &addr), 0);
	ck_assert(subnet_contains(&a, &addr));
	ck_assert(!subnet_contains(&c, &addr));
}
END_TEST

static bool is_edge(const char *text)
{
	struct subnet s = parse_ok(text);

	return subnet_is_network_or_broadcast(&s);
}

START_TEST(test_subnet_network_and_nth)
{
	struct subnet a = parse_ok("10.0.0.1/24"), n;

	n = subnet_network(&a);
	assert_subnet(&n, "10.0.0.0/24");
	n = subnet_nth(&a, 2);
	assert_subnet(&n, "10.0.0.2/24");
	n = subnet_nth(&a, -1);
	assert_subnet(&n, "10.0.0.255/24");
	n = subnet_nth(&a, -2);
	assert_subnet(&n, "10.0.0.254/24");
	a = parse_ok("10.0.0.77/23");
	n = subnet_nth(&a, 300);
	assert_subnet(&n, "10.0.1.44/23");
	n = subnet_nth(&a, -1);
	assert_subnet(&n, "10.0.1.255/23");

	ck_assert(is_edge("10.0.0.0/24"));
	ck_assert(is_edge("10.0.0.255/24"));
	ck_assert(!is_edge("10.0.0.1/24"));
	ck_assert(is_edge("fd42::/64"));
}
END_TEST

START_TEST(test_subnet_pick_ipv4_avoids_used)
{
	struct subnet used[] = { parse_ok("10.1.2.0/24"), parse_ok("10.5.0.0/16"),
				 parse_ok("192.168.1.0/24") };
	struct subnet all_ten = parse_ok("10.0.0.0/8");
	struct subnet s;

	ck_assert_int_eq(subnet_pick_ipv4(used, ARRAY_SIZE(used), 0x0102, &s), 0);
	assert_subnet(&s, "10.1.3.1/24");
	ck_assert_int_eq(subnet_pick_ipv4(used, ARRAY_SIZE(used), 0x0500, &s), 0);
	assert_subnet(&s, "10.6.0.1/24");
	ck_assert_int_eq(subnet_pick_ipv4(used, ARRAY_SIZE(used), 0xffff, &s), 0);
	assert_subnet(&s, "10.255.255.1/24");
	ck_assert_int_eq(subnet_pick_ipv4(NULL, 0, 7, &s), 0);
	assert_subnet(&s, "10.0.7.1/24");
	ck_assert_int_eq(subnet_pick_ipv4(&all_ten, 1, 0, &s), -ENOSPC);
}
END_TEST

START_TEST(test_subnet_pick_ipv6_is_ula_and_avoids_used)
{
	const unsigned char rnd[7] = { 0x12, 0x34, 0x56, 0x78, 0x9a, 0x00, 0x05 };
	struct subnet used = parse_ok("fd12:3456:789a:5::/64");
	struct subnet s;

	ck_assert_int_eq(subnet_pick_ipv6(rnd, NULL, 0, &s), 0);
	assert_subnet(&s, "fd12:3456:789a:5::1/64");
	ck_assert_int_eq(subnet_pick_ipv6(rnd, &used, 1, &s), 0);
	assert_subnet(&s, "fd12:3456:789a:6::1/64");
}
END_TEST

/* Validates one key of the bridge's table; returns the code, checks the message. */
static int check_key(const char *name, const char *value, const char *want_in_message)
{
	struct error err = ERROR_INIT;
	int r = config_validate(&bridge_config_schema, name, value, &err);

	if (want_in_message)
		ck_assert_msg(strstr(error_message(&err), want_in_message) != NULL,
			      "'%s' not in '%s'", want_in_message, error_message(&err));
	error_clear(&err);
	return r;
}

START_TEST(test_bridge_keys)
{
	ck_assert_int_eq(check_key("ipv4.address", "auto", NULL), 0);
	ck_assert_int_eq(check_key("ipv4.address", "none", NULL), 0);
	ck_assert_int_eq(check_key("ipv4.address", "10.0.0.1/24", NULL), 0);
	ck_assert_int_eq(check_key("ipv4.address", "10.0.0.0/24", "network or broadcast"), -EINVAL);
	ck_assert_int_eq(check_key("ipv4.address", "10.0.0.1/31", "prefix"), -EINVAL);
	ck_assert_int_eq(check_key("ipv4.address", "fd42::1/64", "ipv4.address"), -EINVAL);
	ck_assert_int_eq(check_key("ipv6.address", "fd42::1/64", NULL), 0);
	ck_assert_int_eq(check_key("ipv6.address", "fd42::/64", NULL), -EINVAL);
	ck_assert_int_eq(check_key("ipv4.nat", "yes", NULL), 0);
	ck_assert_int_eq(check_key("ipv4.nat", "maybe", NULL), -EINVAL);
	ck_assert_int_eq(
		check_key("ipv4.dhcp.ranges", "10.0.0.10-10.0.0.20,10.0.0.30-10.0.0.40", NULL), 0);
	ck_assert_int_eq(check_key("ipv4.dhcp.ranges", "10.0.0.20-10.0.0.10", NULL), -EINVAL);
	ck_assert_int_eq(check_key("ipv4.dhcp.ranges", "10.0.0.10-10.0.0.20,", NULL), -EINVAL);
	ck_assert_int_eq(check_key("ipv4.dhcp.expiry", "12h", NULL), 0);
	ck_assert_int_eq(check_key("ipv4.dhcp.expiry", "12h,x", NULL), -EINVAL);
	ck_assert_int_eq(check_key("dns.domain", "lab.example", NULL), 0);
	ck_assert_int_eq(check_key("dns.domain", "a/b", NULL), -EINVAL);
	ck_assert_int_eq(check_key("dns.domain", "a,b", NULL), -EINVAL);
	ck_assert_int_eq(check_key("dns.mode", "dynamic", NULL), 0);
	ck_assert_int_eq(check_key("dns.mode", "other", NULL), -EINVAL);
	ck_assert_int_eq(check_key("bridge.mtu", "1400", NULL), 0);
	ck_assert_int_eq(check_key("bridge.mtu", "10", NULL), -EINVAL);
	ck_assert_int_eq(check_key("bridge.hwaddr", "00:16:3e:00:00:01", NULL), 0);
	ck_assert_int_eq(check_key("bridge.hwaddr", "01:16:3e:00:00:01", NULL), -EINVAL);
	ck_assert_int_eq(check_key("user.anything", "goes", NULL), 0);
	ck_assert_int_eq(check_key("raw.dnsmasq", "dhcp-script=/bin/sh", "raw.dnsmasq"), -EINVAL);
	ck_assert_int_eq(check_key("ipv4.bogus", "1", "Unknown configuration key 'ipv4.bogus'"),
			 -EINVAL);
	ck_assert_int_eq(check_key("dns.domain", "lodge\n--conf-file=/etc/shadow", "line breaks"),
			 -EINVAL);
	ck_assert_int_eq(check_key("user.x", "a\rb", "line breaks"), -EINVAL);
}
END_TEST

static json_t *json_ok(const char *text)
{
	json_t *j = json_loads(text, 0, NULL);

	ck_assert_msg(j != NULL, "bad test JSON: %s", text);
	return j;
}

/* Runs the bridge's config_fill on a config (create when old is NULL). */
static int fill(json_t *config, const json_t *old, const struct subnet *used, size_t n_used,
		bool has_ipv6, char **ret_msg)
{
	struct network_fill_ctx ctx = { .used = used, .n_used = n_used, .host_has_ipv6 = has_ipv6 };
	struct error err = ERROR_INIT;
	int r;

	r = network_driver_bridge.config_fill("br0", old, config, &ctx, &err);
	if (ret_msg)
		*ret_msg = xstrdup(error_message(&err));
	error_clear(&err);
	return r;
}

START_TEST(test_bridge_fill_auto)
{
	autojson json_t *config = json_object();
	struct subnet used[] = { parse_ok("10.0.0.0/9") }; /* 10.0-127.x.x */
	struct subnet v4, v6;

	ck_assert_int_eq(fill(config, NULL, used, 1, true, NULL), 0);
	ck_assert_int_eq(subnet_parse(json_get_str(config, "ipv4.address"), AF_INET, &v4), 0);
	ck_assert_uint_eq(v4.prefix, 24);
	ck_assert(!subnet_overlaps(&v4, &used[0]));
	ck_assert_str_eq(json_get_str(config, "ipv4.nat"), "true");
	ck_assert_int_eq(subnet_parse(json_get_str(config, "ipv6.address"), AF_INET6, &v6), 0);
	ck_assert_uint_eq(v6.addr[0], 0xfd);
	ck_assert_uint_eq(v6.prefix, 64);
	ck_assert_str_eq(json_get_str(config, "ipv6.nat"), "true");

	/* Without IPv6 on the host, no IPv6 address is chosen; explicit values stay. */
	json_decref(config);
	config = json_ok("{\"ipv4.address\": \"none\", \"ipv4.nat\": \"false\"}");
	ck_assert_int_eq(fill(config, NULL, NULL, 0, false, NULL), 0);
	ck_assert_str_eq(json_get_str(config, "ipv4.address"), "none");
	ck_assert_ptr_null(json_get_str(config, "ipv6.address"));
}
END_TEST

START_TEST(test_bridge_fill_cross_checks)
{
	autojson json_t *c1 = json_ok("{\"ipv4.address\": \"10.0.0.1/24\", \"ipv6.address\": "
				      "\"none\", \"ipv4.dhcp.ranges\": \"10.0.1.2-10.0.1.9\"}");
	autojson json_t *c2 = json_ok("{\"ipv4.address\": \"none\", \"ipv6.address\": "
				      "\"fd42::1/64\", \"bridge.mtu\": \"1000\"}");
	autojson json_t *c3 = json_ok("{\"ipv4.address\": \"10.0.0.1/24\", \"ipv4.dhcp.ranges\": "
				      "\"10.0.0.2-10.0.0.9\"}");
	autofree char *msg1 = NULL;
	autofree char *msg2 = NULL;

	ck_assert_int_eq(fill(c1, NULL, NULL, 0, true, &msg1), -EINVAL);
	ck_assert_ptr_nonnull(strstr(msg1, "ipv4.dhcp.ranges"));
	ck_assert_int_eq(fill(c2, NULL, NULL, 0, true, &msg2), -EINVAL);
	ck_assert_ptr_nonnull(strstr(msg2, "bridge.mtu"));
	ck_assert_int_eq(fill(c3, NULL, NULL, 0, false, NULL), 0);
}
END_TEST

static bool argv_has(char **argv, const char *arg)
{
	for (char **a = argv; a && *a; a++)
		if (streq(*a, arg))
			return true;
	return false;
}

static int dnsmasq_argv(const char *name, const char *config_text, char ***ret)
{
	autojson json_t *config = json_ok(config_text);
	struct error err = ERROR_INIT;
	int r;

	r = bridge_dnsmasq_argv(name, "/var/lib/lodge/networks/br0", config, "nobody", "nogroup",
				ret, &err);
	error_clear(&err);
	return r;
}

START_TEST(test_bridge_dnsmasq_argv)
{
	autoclean(argv_freep) char **argv = NULL;
	autoclean(argv_freep) char **none = NULL;

	ck_assert_int_eq(dnsmasq_argv("br0",
				      "{\"ipv4.address\": \"10.9.8.1/24\", \"ipv6.address\": "
				      "\"fd42::1/64\", \"dns.domain\": \"lab\"}",
				      &argv),
			 0);
	ck_assert_str_eq(argv[0], "dnsmasq");
	ck_assert(argv_has(argv, "--conf-file=/dev/null"));
	ck_assert(argv_has(argv, "--strict-order"));
	ck_assert(argv_has(argv, "--bind-interfaces"));
	ck_assert(argv_has(argv, "--interface=br0"));
	ck_assert(argv_has(argv, "--except-interface=lo"));
	ck_assert(argv_has(argv, "--listen-address=10.9.8.1"));
	ck_assert(argv_has(argv, "--listen-address=fd42::1"));
	ck_assert(argv_has(argv, "--dhcp-range=10.9.8.2,10.9.8.254,1h"));
	ck_assert(argv_has(argv, "--dhcp-range=::,constructor:br0,ra-stateless,ra-names"));
	ck_assert(argv_has(argv, "--domain=lab"));
	ck_assert(argv_has(argv, "--local=/lab/"));
	ck_assert(argv_has(argv, "--pid-file=/var/lib/lodge/networks/br0/dnsmasq.pid"));
	ck_assert(argv_has(argv, "--dhcp-leasefile=/var/lib/lodge/networks/br0/dnsmasq.leases"));
	ck_assert(argv_has(argv, "--dhcp-hostsdir=/var/lib/lodge/networks/br0/dnsmasq.hosts"));
	ck_assert(argv_has(argv, "--user=nobody"));
	ck_assert(argv_has(argv, "--group=nogroup"));

	/* No address: no dnsmasq. */
	ck_assert_int_eq(dnsmasq_argv("br0", "{\"ipv4.address\": \"none\"}", &none), 0);
	ck_assert_ptr_null(none);
}
END_TEST

START_TEST(test_bridge_dnsmasq_argv_ranges_and_modes)
{
	autoclean(argv_freep) char **argv = NULL;

	ck_assert_int_eq(
		dnsmasq_argv("br0",
			     "{\"ipv4.address\": \"10.9.8.1/24\", \"ipv4.dhcp.ranges\": "
			     "\"10.9.8.10-10.9.8.20,10.9.8.30-10.9.8.40\", \"ipv4.dhcp.expiry\": "
			     "\"30m\", \"dns.mode\": \"none\", \"bridge.mtu\": \"1400\"}",
			     &argv),
		0);
	ck_assert(argv_has(argv, "--dhcp-range=10.9.8.10,10.9.8.20,30m"));
	ck_assert(argv_has(argv, "--dhcp-range=10.9.8.30,10.9.8.40,30m"));
	ck_assert(argv_has(argv, "--dhcp-option-force=26,1400"));
	ck_assert(argv_has(argv, "--port=0"));
	ck_assert(!argv_has(argv, "--domain=lodge"));
}
END_TEST

START_TEST(test_bridge_dnsmasq_argv_refuses_injection)
{
	char **argv = NULL;

	/* Values that skipped the key table are checked again by the builder. */
	ck_assert_int_eq(dnsmasq_argv("br0",
				      "{\"ipv4.address\": \"10.9.8.1/24\", \"dns.domain\": "
				      "\"lodge\\n--dhcp-script=/bin/sh\"}",
				      &argv),
			 -EINVAL);
	ck_assert_int_eq(dnsmasq_argv("br0",
				      "{\"ipv4.address\": \"10.9.8.1/24\", \"dns.domain\": "
				      "\"x/#/\"}",
				      &argv),
			 -EINVAL);
	ck_assert_int_eq(dnsmasq_argv("br0",
				      "{\"ipv4.address\": \"10.9.8.1/24\", \"ipv4.dhcp.ranges\": "
				      "\"10.9.8.2-10.9.8.3,set:x\"}",
				      &argv),
			 -EINVAL);
	ck_assert_int_eq(dnsmasq_argv("br0",
				      "{\"ipv4.address\": \"10.9.8.1/24\", \"ipv4.dhcp.expiry\": "
				      "\"1h,tag\"}",
				      &argv),
			 -EINVAL);
	ck_assert_int_eq(dnsmasq_argv("br0 --x", "{\"ipv4.address\": \"10.9.8.1/24\"}", &argv),
			 -EINVAL);
	ck_assert_int_eq(dnsmasq_argv("-br0", "{\"ipv4.address\": \"10.9.8.1/24\"}", &argv),
			 -EINVAL);
	ck_assert_ptr_null(argv);
}
END_TEST

START_TEST(test_bridge_nft_ruleset)
{
	autojson json_t *config = json_ok("{\"ipv4.address\": \"10.9.8.1/24\", \"ipv4.nat\": "
					  "\"true\", \"ipv6.address\": \"fd42::1/64\"}");
	autojson json_t *nonat = json_ok("{\"ipv4.address\": \"10.9.8.1/24\", \"ipv4.firewall\": "
					 "\"false\"}");
	struct error err = ERROR_INIT;
	autofree char *text = NULL;
	autofree char *plain = NULL;
	autofree char *del = NULL;
	char *bad = NULL;

	ck_assert_int_eq(bridge_nft_ruleset("br0", config, &text, &err), 0);
	/* Chains are declared and flushed before rules are added: re-running is idempotent. */
	ck_assert_ptr_nonnull(strstr(text, "add table inet lodge\n"));
	ck_assert_ptr_nonnull(strstr(
		text,
		"add chain inet lodge pstrt.br0 { type nat hook postrouting priority 100; policy accept; }\nflush chain inet lodge pstrt.br0\n"));
	ck_assert(strstr(text, "flush chain inet lodge fwd.br0") <
		  strstr(text, "add rule inet lodge fwd.br0"));
	ck_assert_ptr_nonnull(strstr(
		text,
		"add rule inet lodge pstrt.br0 ip saddr 10.9.8.0/24 ip daddr != 10.9.8.0/24 masquerade\n"));
	/* ipv6.nat unset: no IPv6 masquerade, but the IPv6 firewall rules. */
	ck_assert_ptr_null(strstr(text, "ip6 saddr"));
	ck_assert_ptr_nonnull(strstr(text, "iifname \"br0\" udp dport 547 accept"));
	ck_assert_ptr_nonnull(strstr(text, "iifname \"br0\" udp dport 67 accept"));

	ck_assert_int_eq(bridge_nft_ruleset("br0", nonat, &plain, &err), 0);
	ck_assert_ptr_null(strstr(plain, "add rule"));

	ck_assert_int_eq(bridge_nft_delete_ruleset("br0", &del, &err), 0);
	ck_assert_ptr_nonnull(strstr(del, "delete chain inet lodge pstrt.br0\n"));
	ck_assert_ptr_nonnull(strstr(del, "delete chain inet lodge out.br0\n"));

	ck_assert_int_eq(bridge_nft_ruleset("br0\"; flush ruleset", config, &bad, &err), -EINVAL);
	ck_assert_ptr_null(bad);
	error_clear(&err);
}
END_TEST

START_TEST(test_dnsmasq_host_line)
{
	struct error err = ERROR_INIT;
	autofree char *line = NULL;
	autofree char *named = NULL;
	char *bad = NULL;

	ck_assert_int_eq(dnsmasq_host_line(&(struct network_lease){ .hwaddr = "00:16:3e:00:00:01",
								    .ipv4 = "10.0.0.5",
								    .ipv6 = "fd42::5",
								    .hostname = "c1" },
					   &line, &err),
			 0);
	ck_assert_str_eq(line, "00:16:3e:00:00:01,10.0.0.5,[fd42::5],c1\n");
	ck_assert_int_eq(dnsmasq_host_line(&(struct network_lease){ .hwaddr = "00:16:3e:00:00:02",
								    .hostname = "web-1" },
					   &named, &err),
			 0);
	ck_assert_str_eq(named, "00:16:3e:00:00:02,web-1\n");

	ck_assert_int_eq(dnsmasq_host_line(&(struct network_lease){ .hwaddr = "00:16:3e:00:00:01",
								    .hostname = "c1\nx" },
					   &bad, &err),
			 -EINVAL);
	error_clear(&err);
	ck_assert_int_eq(dnsmasq_host_line(&(struct network_lease){ .hwaddr = "00:16:3e:00:00:01",
								    .ipv4 = "10.0.0.5,set:x" },
					   &bad, &err),
			 -EINVAL);
	error_clear(&err);
	ck_assert_int_eq(dnsmasq_host_line(&(struct network_lease){ .hwaddr = "00:16:3e:00:00" },
					   &bad, &err),
			 -EINVAL);
	error_clear(&err);
	ck_assert_int_eq(dnsmasq_host_line(&(struct network_lease){ .hwaddr = "00:16:3e:00:00:01",
								    .hostname = "a,b" },
					   &bad, &err),
			 -EINVAL);
	ck_assert_ptr_null(bad);
	error_clear(&err);
}
END_TEST

START_TEST(test_dnsmasq_leases_parse)
{
	autojson json_t *leases = json_array();
	autojson json_t *statics = json_array();
	const char *text = "1795461183 00:16:3e:aa:bb:01 10.0.0.45 c1 01:00:16:3e:aa:bb:01\n"
			   "1795461184 00:16:3e:aa:bb:02 10.0.0.46 * *\n"
			   "garbage\n"
			   "1795461185 not-a-mac 10.0.0.47 c3 *\n"
			   "duid 00:01:00:01:32:97:3e:96:00:16:3e:8d:6d:cc\n"
			   "1795461186 1234 fd42::99 c1 00:01:00:01\n";

	dnsmasq_leases_parse(text, leases);
	ck_assert_uint_eq(json_array_size(leases), 3);
	ck_assert_str_eq(json_get_str(json_array_get(leases, 0), "hostname"), "c1");
	ck_assert_str_eq(json_get_str(json_array_get(leases, 0), "hwaddr"), "00:16:3e:aa:bb:01");
	ck_assert_str_eq(json_get_str(json_array_get(leases, 0), "address"), "10.0.0.45");
	ck_assert_str_eq(json_get_str(json_array_get(leases, 0), "type"), "dynamic");
	ck_assert_str_eq(json_get_str(json_array_get(leases, 1), "hostname"), "");
	ck_assert_str_eq(json_get_str(json_array_get(leases, 2), "address"), "fd42::99");

	dnsmasq_host_line_parse("00:16:3e:00:00:01,10.0.0.5,[fd42::5],c1\n", statics);
	ck_assert_uint_eq(json_array_size(statics), 2);
	ck_assert_str_eq(json_get_str(json_array_get(statics, 0), "hostname"), "c1");
	ck_assert_str_eq(json_get_str(json_array_get(statics, 1), "address"), "fd42::5");
	ck_assert_str_eq(json_get_str(json_array_get(statics, 1), "type"), "static");
}
END_TEST

START_TEST(test_network_names_and_hwaddr)
{
	ck_assert(network_name_is_valid("lodgebr0"));
	ck_assert(network_name_is_valid("my-net_1.x"));
	ck_assert(!network_name_is_valid(""));
	ck_assert(!network_name_is_valid("a-name-too-long-x"));
	ck_assert(!network_name_is_valid("-br"));
	ck_assert(!network_name_is_valid(".."));
	ck_assert(!network_name_is_valid("a/b"));
	ck_assert(!network_name_is_valid("a b"));
	ck_assert(!network_name_is_valid("a:b"));
	ck_assert(network_hwaddr_is_valid("00:16:3e:AB:cd:01"));
	ck_assert(!network_hwaddr_is_valid("00:16:3e:ab:cd"));
	ck_assert(!network_hwaddr_is_valid("00-16-3e-ab-cd-01"));
	ck_assert(!network_hwaddr_is_valid("ff:ff:ff:ff:ff:ff"));
	{
		autofree char *mac = network_hwaddr_new();

		ck_assert(network_hwaddr_is_valid(mac));
		ck_assert(str_has_prefix(mac, "00:16:3e:"));
	}
	ck_assert(network_driver_find("") == &network_driver_bridge);
	ck_assert(network_driver_find("bridge") == &network_driver_bridge);
	ck_assert_ptr_null(network_driver_find("ovn"));
}
END_TEST

static struct db *open_db(void)
{
	autofree char *path = str_printf("%s/lodge.db", unit_tmpdir);
	struct error err = ERROR_INIT;
	struct db *db = NULL;

	ck_assert_msg(db_open(path, &db, &err) == 0, "db_open: %s", error_message(&err));
	return db;
}

static void sql_ok(struct db *db, const char *sql)
{
	struct error err = ERROR_INIT;
	DB_LOCK_GUARD(db);

	ck_assert_msg(db_exec_script(db, sql, &err) == 0, "%s: %s", sql, error_message(&err));
}

START_TEST(test_db_networks_crud)
{
	autoclean(db_closep) struct db *db = open_db();
	autojson json_t *config = json_ok("{\"ipv4.address\": \"10.0.0.1/24\"}");
	autojson json_t *empty = json_object();
	autoclean(db_network_freep) struct db_network *n = NULL;
	struct error err = ERROR_INIT;
	struct db_network **list = NULL;
	size_t count = 0;

	ck_assert_int_eq(db_network_insert(db, "br0", "bridge", "first", config, &err), 0);
	ck_assert_int_eq(db_network_insert(db, "br0", "bridge", "", config, &err), -EEXIST);
	ck_assert_str_eq(error_message(&err), "Network 'br0' already exists");
	error_clear(&err);
	ck_assert_int_eq(db_network_insert(db, "abr", "bridge", "", config, &err), 0);

	ck_assert_int_eq(db_network_get(db, "br0", &n, &err), 0);
	ck_assert_str_eq(n->type, "bridge");
	ck_assert_str_eq(n->description, "first");
	ck_assert_str_eq(n->status, "Created");
	ck_assert_str_eq(json_get_str(n->config, "ipv4.address"), "10.0.0.1/24");

	ck_assert_int_eq(db_network_list(db, &list, &count, &err), 0);
	ck_assert_uint_eq(count, 2);
	ck_assert_str_eq(list[0]->name, "abr");
	for (size_t i = 0; i < count; i++)
		db_network_free(list[i]);
	free(list);

	ck_assert_int_eq(db_network_update(db, "br0", "second", empty, &err), 0);
	ck_assert_int_eq(db_network_rename(db, "br0", "abr", &err), -EEXIST);
	error_clear(&err);
	ck_assert_int_eq(db_network_rename(db, "br0", "br1", &err), 0);
	ck_assert_int_eq(db_network_delete(db, "br0", &err), -ENOENT);
	error_clear(&err);
	ck_assert_int_eq(db_network_delete(db, "br1", &err), 0);
	ck_assert_int_eq(db_network_get(db, "br1", &n, &err), -ENOENT);
	ck_assert_str_eq(error_message(&err), "Network 'br1' not found");
	error_clear(&err);
}
END_TEST

START_TEST(test_network_used_by_expands_profiles)
{
	autoclean(db_closep) struct db *db = open_db();
	struct network_env env = { .db = db, .dir = unit_tmpdir };
	autojson json_t *used = NULL;
	autojson json_t *devices = NULL;
	struct error err = ERROR_INIT;

	/* c1 gets the nic from the default profile, c2 names the network itself, c3 has a
	 * profile nic overridden by its own eth0 on another network. */
	sql_ok(db, "UPDATE profiles SET devices = '{\"eth0\": {\"type\": \"nic\", \"network\": "
		   "\"br0\", \"name\": \"eth0\"}}' WHERE name = 'default';"
		   "INSERT INTO profiles (name, devices) VALUES ('other', '{}');"
		   "INSERT INTO instances (id, name, type) VALUES (1, 'c1', 'container');"
		   "INSERT INTO instances (id, name, type, devices) VALUES (2, 'c2', 'container', "
		   "'{\"net\": {\"type\": \"nic\", \"nictype\": \"bridged\", \"parent\": "
		   "\"br0\"}}');"
		   "INSERT INTO instances (id, name, type, devices) VALUES (3, 'c3', 'container', "
		   "'{\"eth0\": {\"type\": \"nic\", \"network\": \"br9\"}}');"
		   "INSERT INTO instance_profiles VALUES (1, 1, 0);"
		   "INSERT INTO instance_profiles VALUES (3, 1, 0);");

	ck_assert_int_eq(network_used_by(&env, "br0", &used, &err), 0);
	ck_assert_uint_eq(json_array_size(used), 3);
	ck_assert_str_eq(json_string_value(json_array_get(used, 0)), "/1.0/profiles/default");
	ck_assert_str_eq(json_string_value(json_array_get(used, 1)), "/1.0/instances/c1");
	ck_assert_str_eq(json_string_value(json_array_get(used, 2)), "/1.0/instances/c2");

	ck_assert_int_eq(db_profile_devices_get(db, "default", &devices, &err), 0);
	ck_assert_str_eq(json_get_str(json_object_get(devices, "eth0"), "network"), "br0");
	ck_assert_int_eq(db_profile_devices_get(db, "nope", &devices, &err), -ENOENT);
	error_clear(&err);
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("network");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_subnet_parse);
	tcase_add_test(tc, test_subnet_overlap_and_contains);
	tcase_add_test(tc, test_subnet_network_and_nth);
	tcase_add_test(tc, test_subnet_pick_ipv4_avoids_used);
	tcase_add_test(tc, test_subnet_pick_ipv6_is_ula_and_avoids_used);
	tcase_add_test(tc, test_bridge_keys);
	tcase_add_test(tc, test_bridge_fill_auto);
	tcase_add_test(tc, test_bridge_fill_cross_checks);
	tcase_add_test(tc, test_bridge_dnsmasq_argv);
	tcase_add_test(tc, test_bridge_dnsmasq_argv_ranges_and_modes);
	tcase_add_test(tc, test_bridge_dnsmasq_argv_refuses_injection);
	tcase_add_test(tc, test_bridge_nft_ruleset);
	tcase_add_test(tc, test_dnsmasq_host_line);
	tcase_add_test(tc, test_dnsmasq_leases_parse);
	tcase_add_test(tc, test_network_names_and_hwaddr);
	tcase_add_test(tc, test_db_networks_crud);
	tcase_add_test(tc, test_network_used_by_expands_profiles);
	suite_add_tcase(s, tc);
	return s;
}
