/*
 * Bounded gzip decoding of request bodies (`Content-Encoding: gzip`). The decoded size is
 * capped while inflating, so a zip bomb costs at most `cap` bytes of memory and the CPU to
 * produce them. Any thread.
 */
#ifndef SLUICE_GATEWAY_GZIP_H
#define SLUICE_GATEWAY_GZIP_H

#include <stddef.h>

enum {
    SLUICE_GZIP_ECORRUPT = -1, /* not gzip, truncated, bad checksum, trailing garbage */
    SLUICE_GZIP_ETOOBIG = -2,  /* decoded size would exceed cap */
    SLUICE_GZIP_ENOMEM = -3,
};

/* Inflates the gzip member(s) in in[0..len) into a malloc'd buffer (caller frees *out) of at
 * most cap bytes. Returns 0 or one of the codes above (then *out is NULL). */
int sluice_gunzip(const void *in, size_t len, size_t cap, char **out, size_t *out_len);

#endif
