/*
 * Bounded gzip inflate with zlib. The output buffer grows geometrically but never past cap.
 */
#include "gateway/gzip.h"

#include <stdlib.h>
#include <string.h>

#include <zlib.h>

int sluice_gunzip(const void *in, size_t len, size_t cap, char **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
        return SLUICE_GZIP_ENOMEM;
    size_t size = len * 4 < 4096 ? 4096 : len * 4;
    if (size > cap + 1)
        size = cap + 1; /* one spare byte tells "exactly cap" from "more than cap" */
    char *buf = malloc(size);
    if (buf == NULL) {
        inflateEnd(&zs);
        return SLUICE_GZIP_ENOMEM;
    }
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)len;
    size_t produced = 0;
    int rc = SLUICE_GZIP_ECORRUPT;
    for (;;) {
        zs.next_out = (Bytef *)buf + produced;
        zs.avail_out = (uInt)(size - produced);
        int z = inflate(&zs, Z_NO_FLUSH);
        produced = size - zs.avail_out;
        if (produced > cap) {
            rc = SLUICE_GZIP_ETOOBIG;
            break;
        }
        if (z == Z_STREAM_END) {
            if (zs.avail_in == 0) {
                rc = 0;
                break;
            }
            /* Concatenated gzip members are valid gzip; anything else after the end is not. */
            if (inflateReset(&zs) != Z_OK)
                break;
            continue;
        }
        if (z != Z_OK && z != Z_BUF_ERROR)
            break;
        if (zs.avail_out == 0) {
            size_t ns = size * 2 > cap + 1 ? cap + 1 : size * 2;
            if (ns == size) {
                rc = SLUICE_GZIP_ETOOBIG;
                break;
            }
            char *nb = realloc(buf, ns);
            if (nb == NULL) {
                rc = SLUICE_GZIP_ENOMEM;
                break;
            }
            buf = nb;
            size = ns;
        } else if (zs.avail_in == 0) {
            break; /* input ended before the stream did: truncated */
        }
    }
    inflateEnd(&zs);
    if (rc != 0) {
        free(buf);
        return rc;
    }
    *out = buf;
    *out_len = produced;
    return 0;
}
