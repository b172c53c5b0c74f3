#include "network/iface.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <ifaddrs.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/fs.h"
#include "lib/json.h"
#include "lib/str.h"

/* Last: makes the unsafe libc functions compile errors. */
#include "lib/banned.h"

#define IFACE_NAME_MAX 15

bool iface_name_is_valid(const char *name)
{
	size_t len = name ? strlen(name) : 0;

	if (len == 0 || len > IFACE_NAME_MAX || name[0] == '-' || name[0] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (!isalnum(c) && c != '-' && c != '_' && c != '.')
			return false;
	}
	return true;
}

/* Reads /sys/class/net/<name>/<attr>, without its final newline, into a new string. */
static char *sysfs_read(const char *name, const char *attr)
{
	autofree char *path = str_printf("/sys/class/net/%s/%s", name, attr);
	char *text = NULL;
	size_t len = 0;

	if (read_file(path, 4096, &text, &len, NULL) < 0)
		return NULL;
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == ' '))
		text[--len] = '\0';
	return text;
}

static uint64_t sysfs_read_u64(const char *name, const char *attr)
{
	autofree char *text = sysfs_read(name, attr);
	uint64_t v = 0;

	if (text && parse_u64(text, &v) < 0) {
		/* flags are written in hex: "0x1003" */
		char *end = NULL;

		v = strtoull(text, &end, 0);
		if (!end || *end)
			v = 0;
	}
	return v;
}

static bool sysfs_exists(const char *name, const char *attr)
{
	autofree char *path =
		str_printf("/sys/class/net/%s%s%s", name, attr ? "/" : "", attr ? attr : "");
	struct stat st;

	return stat(path, &st) == 0;
}

bool iface_exists(const char *name)
{
	return iface_name_is_valid(name) && sysfs_exists(name, NULL);
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The entries of a directory (without . and ..), sorted, as a JSON array. */
static int dir_list_sorted(const char *path, json_t **ret, struct error *err)
{
	DIR *dir = opendir(path);
	char **names = NULL;
	size_t n = 0;
	struct dirent *de;
	json_t *arr;

	if (!dir)
		return error_errno(err, -errno, "Failed to list '%s'", path);
	while ((de = readdir(dir))) {
		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		names = xrealloc(names, (n + 1) * sizeof(*names));
		names[n++] = xstrdup(de->d_name);
	}
	(void)closedir(dir);

	if (n > 0)
		qsort(names, n, sizeof(*names), str_cmp);
	arr = json_array();
	for (size_t i = 0; i < n; i++) {
		(void)json_array_append_new(arr, json_string(names[i]));
		free(names[i]);
	}
	free(names);
	*ret = arr;
	return 0;
}

int iface_list(json_t **ret, struct error *err)
{
	return dir_list_sorted("/sys/class/net", ret, err);
}

const char *iface_kind(const char *name)
{
	autofree char *vlan = str_printf("/proc/net/vlan/%s", name);
	struct stat st;

	/* The order of LXD's checks (lxd/network/network_utils.go). */
	if (sysfs_read_u64(name, "flags") & IFF_LOOPBACK)
		return "loopback";
	if (sysfs_exists(name, "bridge"))
		return "bridge";
	if (stat(vlan, &st) == 0)
		return "vlan";
	if (sysfs_exists(name, "device"))
		return "physical";
	if (sysfs_exists(name, "bonding"))
		return "bond";
	return "unknown";
}

static const char *address_scope(int family, const unsigned char *a)
{
	static const unsigned char v6_loopback[16] = { [15] = 1 };

	if (family == AF_INET) {
		if (a[0] == 127)
			return "local";
		if (a[0] == 169 && a[1] == 254)
			return "link";
		return "global";
	}
	if (memcmp(a, v6_loopback, 16) == 0)
		return "local";
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
		return "link";
	return "global";
}

static unsigned netmask_prefix(const struct sockaddr *mask)
{
	const unsigned char *b;
	size_t len;
	unsigned bits = 0;

	if (!mask)
		return 0;
	if (mask->sa_family == AF_INET) {
		b = (const unsigned char *)&((const struct sockaddr_in *)(const void *)mask)
			    ->sin_addr;
		len = 4;
	} else {
		b = ((const struct sockaddr_in6 *)(const void *)mask)->sin6_addr.s6_addr;
		len = 16;
	}
	for (size_t i = 0; i < len; i++)
		bits += (unsigned)__builtin_popcount(b[i]);
	return bits;
}

/* Fills s from an ifaddrs entry; false for families other than IPv4 and IPv6. */
static bool ifaddr_subnet(const struct ifaddrs *ifa, struct subnet *s)
{
	if (!ifa->ifa_addr)
		return false;
	memset(s, 0, sizeof(*s));
	s->family = ifa->ifa_addr->sa_family;
	if (s->family == AF_INET)
		memcpy(s->addr,
		       &((const struct sockaddr_in *)(const void *)ifa->ifa_addr)->sin_addr, 4);
	else if (s->family == AF_INET6)
		memcpy(s->addr,
		       ((const struct sockaddr_in6 *)(const void *)ifa->ifa_addr)
			       ->sin6_addr.s6_addr,
		       16);
	else
		return false;
	s->prefix = netmask_prefix(ifa->ifa_netmask);
	return true;
}

static json_t *iface_addresses(const char *name)
{
	json_t *arr = json_array();
	struct ifaddrs *ifas = NULL;

	if (getifaddrs(&ifas) < 0)
		return arr;
	for (struct ifaddrs *ifa = ifas; ifa; ifa = ifa->ifa_next) {
		autofree char *addr = NULL;
		autofree char *prefix = NULL;
		struct subnet s;

		if (!streq(ifa->ifa_name, name) || !ifaddr_subnet(ifa, &s))
			continue;
		addr = subnet_address_to_string(&s);
		prefix = str_printf("%u", s.prefix);
		(void)json_array_append_new(arr,
					    json_pack("{s:s, s:s, s:s, s:s}", "family",
						      s.family == AF_INET ? "inet" : "inet6",
						      "address", addr, "netmask", prefix, "scope",
						      address_scope(s.family, s.addr)));
	}
	freeifaddrs(ifas);
	return arr;
}

static json_t *iface_bridge_state(const char *name)
{
	autofree char *id = sysfs_read(name, "bridge/bridge_id");
	autofree char *brif = str_printf("/sys/class/net/%s/brif", name);
	bool filtering = sysfs_read_u64(name, "bridge/vlan_filtering") != 0;
	json_t *uppers = NULL;

	if (dir_list_sorted(brif, &uppers, NULL) < 0)
		uppers = json_array();
	return json_pack("{s:s, s:b, s:I, s:I, s:b, s:o}", "id", id ? id : "", "stp",
			 sysfs_read_u64(name, "bridge/stp_state") != 0, "forward_delay",
			 (json_int_t)sysfs_read_u64(name, "bridge/forward_delay"), "vlan_default",
			 (json_int_t)(filtering ? sysfs_read_u64(name, "bridge/default_pvid") : 0),
			 "vlan_filtering", filtering, "upper_devices", uppers);
}

int iface_state(const char *name, json_t **ret, struct error *err)
{
	autofree char *hwaddr = NULL;
	uint64_t flags;
	const char *type = "unknown";
	json_t *state;

	if (!iface_exists(name))
		return error_set(err, -ENOENT, "Network interface '%s' not found", name);

	flags = sysfs_read_u64(name, "flags");
	if (flags & IFF_BROADCAST)
		type = "broadcast";
	else if (flags & IFF_LOOPBACK)
		type = "loopback";
	else if (flags & IFF_POINTOPOINT)
		type = "point-to-point";
	hwaddr = sysfs_read(name, "address");

	state = json_pack(
		"{s:o, s:{s:I, s:I, s:I, s:I}, s:s, s:I, s:s, s:s, s:n, s:n, s:n, s:n}",
		"addresses", iface_addresses(name), "counters", "bytes_received",
		(json_int_t)sysfs_read_u64(name, "statistics/rx_bytes"), "bytes_sent",
		(json_int_t)sysfs_read_u64(name, "statistics/tx_bytes"), "packets_received",
		(json_int_t)sysfs_read_u64(name, "statistics/rx_packets"), "packets_sent",
		(json_int_t)sysfs_read_u64(name, "statistics/tx_packets"), "hwaddr",
		hwaddr ? hwaddr : "", "mtu", (json_int_t)sysfs_read_u64(name, "mtu"), "state",
		(flags & IFF_UP) ? "up" : "down", "type", type, "bond", "bridge", "vlan", "ovn");
	if (!state)
		abort();
	if (sysfs_exists(name, "bridge"))
		(void)json_object_set_new(state, "bridge", iface_bridge_state(name));
	*ret = state;
	return 0;
}

struct subnet_list {
	struct subnet *items;
	size_t n;
};

static void subnet_list_add(struct subnet_list *l, const struct subnet *s)
{
	l->items = xrealloc(l->items, (l->n + 1) * sizeof(*l->items));
	l->items[l->n++] = *s;
}

/* Adds the routes of one netlink dump message batch; returns 1 when the dump is done.
 * The kernel's NLMSG_NEXT/RTA_NEXT macros cast char pointers; netlink aligns every message
 * and attribute to 4 bytes (NLMSG_ALIGN, RTA_ALIGN), so clang's -Wcast-align is moot here. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wcast-align"
static int routes_parse(const char *buf, size_t len, unsigned exclude_index, struct subnet_list *l,
			struct error *err)
{
	for (const struct nlmsghdr *h = (const struct nlmsghdr *)(const void *)buf;
	     NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
		const struct rtmsg *rtm;
		const struct rtattr *rta;
		unsigned oif = 0;
		int rta_len;
		struct subnet s = { 0 };
		bool has_dst = false;

		if (h->nlmsg_type == NLMSG_DONE)
			return 1;
		if (h->nlmsg_type == NLMSG_ERROR)
			return error_set(err, -EIO, "Failed to list the host's routes");
		if (h->nlmsg_type != RTM_NEWROUTE)
			continue;

		rtm = NLMSG_DATA(h);
		if (rtm->rtm_dst_len == 0)
			continue; /* default routes overlap everything */
		if (rtm->rtm_type != RTN_UNICAST && rtm->rtm_type != RTN_BLACKHOLE &&
		    rtm->rtm_type != RTN_UNREACHABLE && rtm->rtm_type != RTN_PROHIBIT)
			continue;
		rta_len = (int)RTM_PAYLOAD(h);
		for (rta = RTM_RTA(rtm); RTA_OK(rta, rta_len); rta = RTA_NEXT(rta, rta_len)) {
			size_t alen = rtm->rtm_family == AF_INET ? 4 : 16;

			if (rta->rta_type == RTA_DST && RTA_PAYLOAD(rta) >= alen) {
				memcpy(s.addr, RTA_DATA(rta), alen);
				has_dst = true;
			} else if (rta->rta_type == RTA_OIF &&
				   RTA_PAYLOAD(rta) >= sizeof(uint32_t)) {
				memcpy(&oif, RTA_DATA(rta), sizeof(oif));
			}
		}
		if (!has_dst || (exclude_index && oif == exclude_index))
			continue;
		s.family = rtm->rtm_family;
		s.prefix = rtm->rtm_dst_len;
		subnet_list_add(l, &s);
	}
	return 0;
}
#pragma GCC diagnostic pop

static int routes_dump(int family, unsigned exclude_index, struct subnet_list *l, struct error *err)
{
	struct {
		struct nlmsghdr h;
		struct rtmsg rtm;
	} req = { 0 };
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	autoclose int fd = -1;
	autofree char *buf = xmalloc(32768);
	int r;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return error_errno(err, -errno, "Failed to open a netlink socket");
	req.h.nlmsg_len = NLMSG_LENGTH(sizeof(req.rtm));
	req.h.nlmsg_type = RTM_GETROUTE;
	req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.h.nlmsg_seq = 1;
	req.rtm.rtm_family = (unsigned char)family;
	/* rtm_table 0 (RT_TABLE_UNSPEC): every table, as `ip route show table all`. */
	if (sendto(fd, &req, req.h.nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return error_errno(err, -errno, "Failed to list the host's routes");

	for (;;) {
		ssize_t n = recv(fd, buf, 32768, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return error_errno(err, -errno, "Failed to list the host's routes");
		if (n == 0)
			return 0;
		r = routes_parse(buf, (size_t)n, exclude_index, l, err);
		if (r != 0)
			return r < 0 ? r : 0;
	}
}

int iface_used_subnets(const char *exclude, struct subnet **ret, size_t *ret_n, struct error *err)
{
	struct subnet_list l = { NULL, 0 };
	unsigned exclude_index = exclude ? if_nametoindex(exclude) : 0;
	struct ifaddrs *ifas = NULL;
	int r;

	r = routes_dump(AF_INET, exclude_index, &l, err);
	if (r == 0)
		r = routes_dump(AF_INET6, exclude_index, &l, err);
	if (r < 0) {
		free(l.items);
		return r;
	}

	if (getifaddrs(&ifas) < 0) {
		free(l.items);
		return error_errno(err, -errno, "Failed to list the host's addresses");
	}
	for (struct ifaddrs *ifa = ifas; ifa; ifa = ifa->ifa_next) {
		struct subnet s;

		if (exclude && streq(ifa->ifa_name, exclude))
			continue;
		if (ifaddr_subnet(ifa, &s))
			subnet_list_add(&l, &s);
	}
	freeifaddrs(ifas);

	*ret = l.items;
	*ret_n = l.n;
	return 0;
}
