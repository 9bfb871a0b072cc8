/*
 * IP address truncation for the `ip_truncate` plugin: parse an IPv4 or IPv6 address, zero every
 * bit after the prefix, print the network address canonically (RFC 5952 for IPv6).
 *
 * IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are IPv4 addresses in IPv6 clothing: the IPv4
 * prefix applies to their last 32 bits and they stay in the mapped form, so
 * ::ffff:203.0.113.77 with /24 gives ::ffff:203.0.113.0.
 *
 * 6to4 addresses (2002::/16, RFC 3056) carry the site's public IPv4 address in bits 16..47, so
 * the usual /48 would keep that address whole: they keep at most 16 + v4_prefix bits, and the
 * embedded address is cut as an IPv4 address would be (2002:cb00:714d::1 with /24 and /48 gives
 * 2002:cb00:7100::, 203.0.113.0 inside).
 *
 * Threading: pure function, any thread.
 */
#ifndef SLUICE_PLUGINS_IP_TRUNCATE_TRUNCATE_H
#define SLUICE_PLUGINS_IP_TRUNCATE_TRUNCATE_H

#include <stddef.h>
#include <stdint.h>

/* Room for the longest canonical address text plus its NUL (INET6_ADDRSTRLEN). */
#define SLUICE_IP_TRUNCATE_OUT_MAX 46

/* Truncates the address text[0..n) to v4_prefix (0..32) or v6_prefix (0..128) bits and writes
 * the network address plus a NUL into out (cap >= SLUICE_IP_TRUNCATE_OUT_MAX). Accepts exactly
 * what inet_pton accepts: dotted-quad IPv4 and textual IPv6, without brackets, ports, zone ids,
 * prefixes or surrounding spaces. Returns the length written, or 0 when text is not an address
 * (or holds a NUL, or a prefix is out of range, or cap is too small). */
size_t sluice_ip_truncate(const char *text, size_t n, unsigned v4_prefix, unsigned v6_prefix, char *out, size_t cap);

/* a[0..4) as dotted-quad text, as inet_ntop prints it (which it does with sprintf), into out (16
 * bytes at least), NUL-terminated; its length. The gateway prints its clients' IPv4 addresses with
 * it too (gateway/http.c). */
size_t sluice_ip_quad_write(const uint8_t a[4], char *out);

#endif
