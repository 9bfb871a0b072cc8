/*
 * The two request headers the tag route (tag.c) negotiates on, parsed from untrusted bytes:
 * Accept-Encoding (RFC 9110 12.5.3) and If-None-Match (RFC 9110 13.1.2). Pure functions on
 * (pointer, length) input, no allocation: any thread.
 */
#ifndef SLUICE_GATEWAY_NEGOTIATE_H
#define SLUICE_GATEWAY_NEGOTIATE_H

#include <stddef.h>

/* 1 when an Accept-Encoding value allows gzip: `gzip` or `x-gzip` (any case) with a non-zero q,
 * or, when neither is named, `*` with a non-zero q. 0 otherwise (also for an empty value). */
int sluice_negotiate_gzip(const char *value, size_t len);

/* 1 when an If-None-Match value is `*` or lists etag (the quoted form, e.g. "\"abc\""), using
 * the weak comparison (a `W/` prefix is ignored). 0 otherwise; parsing stops at the first
 * malformed entry, so garbage never matches. */
int sluice_negotiate_etag_match(const char *value, size_t len, const char *etag);

#endif
