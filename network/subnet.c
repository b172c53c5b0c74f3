#include "network/subnet.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/str.h"

/* Last: makes the unsafe libc functions compile errors. */
#include "lib/banned.h"

static size_t subnet_len(int family)
{
	return family == AF_INET ? 4 : 16;
}

static int address_parse(const char *s, size_t len, int family, struct subnet *ret)
{
	char buf[INET6_ADDRSTRLEN];
	struct subnet sn = { 0 };

	if (len == 0 || len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';

	if ((family == 0 || family == AF_INET) && inet_pton(AF_INET, buf, sn.addr) == 1) {
		sn.family = AF_INET;
		sn.prefix = 32;
	} else if ((family == 0 || family == AF_INET6) && inet_pton(AF_INET6, buf, sn.addr) == 1) {
		sn.family = AF_INET6;
		sn.prefix = 128;
	} else {
		return -EINVAL;
	}
	*ret = sn;
	return 0;
}

int subnet_parse_address(const char *s, int family, struct subnet *ret)
{
	return address_parse(s, strlen(s), family, ret);
}

int subnet_parse(const char *s, int family, struct subnet *ret)
{
	const char *slash = strchr(s, '/');
	struct subnet sn;
	uint64_t prefix;
	int r;

	if (!slash)
		return -EINVAL;
	r = address_parse(s, (size_t)(slash - s), family, &sn);
	if (r < 0)
		return r;
	/* parse_u64() takes "024" too; a prefix is written without leading zeros. */
	if (slash[1] == '0' && slash[2] != '\0')
		return -EINVAL;
	if (parse_u64(slash + 1, &prefix) < 0 || prefix > sn.prefix)
		return -EINVAL;
	sn.prefix = (unsigned)prefix;
	*ret = sn;
	return 0;
}

/* True when the first bits of a and b are equal. */
static bool prefix_equal(const unsigned char *a, const unsigned char *b, unsigned bits)
{
	unsigned bytes = bits / 8, rest = bits % 8;

	if (memcmp(a, b, bytes) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((a[bytes] ^ b[bytes]) & (unsigned char)(0xff << (8 - rest))) == 0;
}

bool subnet_overlaps(const struct subnet *a, const struct subnet *b)
{
	if (a->family != b->family)
		return false;
	return prefix_equal(a->addr, b->addr, a->prefix < b->prefix ? a->prefix : b->prefix);
}

bool subnet_contains(const struct subnet *s, const struct subnet *addr)
{
	return s->family == addr->family && prefix_equal(s->addr, addr->addr, s->prefix);
}

struct subnet subnet_network(const struct subnet *s)
{
	struct subnet n = *s;
	size_t len = subnet_len(s->family);

	for (size_t i = 0; i < len; i++) {
		unsigned bit = (unsigned)i * 8;

		if (bit >= s->prefix)
			n.addr[i] = 0;
		else if (bit + 8 > s->prefix)
			n.addr[i] &= (unsigned char)(0xff << (8 - (s->prefix - bit)));
	}
	return n;
}

struct subnet subnet_nth(const struct subnet *s, int64_t n)
{
	struct subnet r = subnet_network(s);
	size_t len = subnet_len(s->family);
	unsigned carry = 0;
	uint64_t add;

	if (n < 0) {
		/* The last address: every host bit set; then count back. */
		for (size_t i = 0; i < len; i++) {
			unsigned bit = (unsigned)i * 8;

			if (bit >= s->prefix)
				r.addr[i] = 0xff;
			else if (bit + 8 > s->prefix)
				r.addr[i] |= (unsigned char)(0xff >> (s->prefix - bit));
		}
		add = (uint64_t)(-(n + 1));
		for (size_t i = len; i-- > 0;) {
			unsigned sub = (unsigned)(add & 0xff) + carry;

			carry = r.addr[i] < sub;
			r.addr[i] = (unsigned char)(r.addr[i] - sub);
			add >>= 8;
		}
		return r;
	}

	add = (uint64_t)n;
	for (size_t i = len; i-- > 0;) {
		unsigned sum = r.addr[i] + (unsigned)(add & 0xff) + carry;

		r.addr[i] = (unsigned char)sum;
		carry = sum >> 8;
		add >>= 8;
	}
	return r;
}

bool subnet_is_network_or_broadcast(const struct subnet *s)
{
	struct subnet net = subnet_network(s);
	struct subnet last = subnet_nth(s, -1);
	size_t len = subnet_len(s->family);

	if (memcmp(net.addr, s->addr, len) == 0)
		return true;
	return s->family == AF_INET && memcmp(last.addr, s->addr, len) == 0;
}

char *subnet_address_to_string(const struct subnet *s)
{
	char buf[INET6_ADDRSTRLEN] = "";

	(void)inet_ntop(s->family, s->addr, buf, sizeof(buf));
	return xstrdup(buf);
}

char *subnet_to_string(const struct subnet *s)
{
	autofree char *addr = subnet_address_to_string(s);

	return str_printf("%s/%u", addr, s->prefix);
}

static bool subnet_is_used(const struct subnet *s, const struct subnet *used, size_t n_used)
{
	for (size_t i = 0; i < n_used; i++)
		if (subnet_overlaps(s, &used[i]))
			return true;
	return false;
}

int subnet_pick_ipv4(const struct subnet *used, size_t n_used, uint32_t start, struct subnet *ret)
{
	for (uint32_t i = 0; i < 65536; i++) {
		uint32_t n = (start + i) & 0xffff;
		struct subnet s = { .family = AF_INET, .prefix = 24 };

		s.addr[0] = 10;
		s.addr[1] = (unsigned char)(n >> 8);
		s.addr[2] = (unsigned char)n;
		s.addr[3] = 1;
		if (!subnet_is_used(&s, used, n_used)) {
			*ret = s;
			return 0;
		}
	}
	return -ENOSPC;
}

int subnet_pick_ipv6(const unsigned char random[7], const struct subnet *used, size_t n_used,
		     struct subnet *ret)
{
	uint32_t start = (uint32_t)random[5] << 8 | random[6];

	for (uint32_t i = 0; i < 65536; i++) {
		uint32_t id = (start + i) & 0xffff;
		struct subnet s = { .family = AF_INET6, .prefix = 64 };

		s.addr[0] = 0xfd;
		memcpy(s.addr + 1, random, 5);
		s.addr[6] = (unsigned char)(id >> 8);
		s.addr[7] = (unsigned char)id;
		s.addr[15] = 1;
		if (!subnet_is_used(&s, used, n_used)) {
			*ret = s;
			return 0;
		}
	}
	return -ENOSPC;
}
