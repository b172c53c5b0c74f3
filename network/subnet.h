/* network/subnet.h: IPv4 and IPv6 subnets as network config writes them ("10.0.0.1/24"):
 * parsing, overlap, and the choice of a free subnet for "auto".
 *
 * Every function here is pure (no I/O) and never blocks.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* An address with its prefix length; the host bits are kept (a gateway address). */
struct subnet {
	int family;		/* AF_INET or AF_INET6 */
	unsigned prefix;	/* 0..32 or 0..128 */
	unsigned char addr[16]; /* network byte order; 4 bytes used for AF_INET */
};

/* Parses "addr/prefix" of family (AF_INET, AF_INET6, or 0 for either) into *ret. -EINVAL
 * for anything else: no prefix, a prefix out of range, spaces, junk. */
int subnet_parse(const char *s, int family, struct subnet *ret);

/* Parses a plain address (no prefix) of family (or 0) into *ret with the full prefix. */
int subnet_parse_address(const char *s, int family, struct subnet *ret);

/* True when a and b share at least one address (same family, and one contains the other's
 * network). */
bool subnet_overlaps(const struct subnet *a, const struct subnet *b);

/* True when addr (its prefix ignored) lies inside s. */
bool subnet_contains(const struct subnet *s, const struct subnet *addr);

/* True when s's address is its network or (IPv4) broadcast address: not usable as a host. */
bool subnet_is_network_or_broadcast(const struct subnet *s);

/* s with its host bits cleared ("10.0.0.1/24" -> "10.0.0.0/24"). */
struct subnet subnet_network(const struct subnet *s);

/* The address n hosts into s's network: n >= 0 counts from the network address, n < 0
 * from the end (-1 is the last address; for IPv4 the broadcast address). */
struct subnet subnet_nth(const struct subnet *s, int64_t n);

/* "10.0.0.1/24" and "10.0.0.1" as new strings. */
char *subnet_to_string(const struct subnet *s);
char *subnet_address_to_string(const struct subnet *s);

/* A free private IPv4 /24 for ipv4.address=auto: 10.A.B.1/24 with A.B tried in turn from
 * start (a random number), skipping every /24 that overlaps one of used. -ENOSPC when all
 * 65536 are taken. */
int subnet_pick_ipv4(const struct subnet *used, size_t n_used, uint32_t start, struct subnet *ret);

/* A free unique local IPv6 /64 for ipv6.address=auto (RFC 4193): fd + 40 bits of global ID
 * from random[0..4], the 16-bit subnet ID from random[5..6] (then the next ones), and ::1
 * as the host. -ENOSPC when no subnet ID is free. */
int subnet_pick_ipv6(const unsigned char random[7], const struct subnet *used, size_t n_used,
		     struct subnet *ret);
