/*
 * Vendor cookie values and click ids. Any thread.
 *
 * The formats follow what Meta's and Google's tags write themselves, so a visitor who also has
 * the vendor's pixel on the page keeps one id: "fb.1." and "GA1.1." use subdomain index 1 (the
 * cookie is set on the org's registrable domain or the host), the time parts are when the id
 * was first minted.
 */
#include "identity/vendor.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/pct.h"
#include "crypto/random.h"
#include "identity/cookie.h"
#include "identity/url.h"

int sluice_vendor_fbp(int64_t now_ms, char *out, size_t cap)
{
    /* Rejection sampling keeps the 10 digits uniform: take values below the largest multiple
     * of 9e9 that fits in 64 bits. */
    const uint64_t span = 9000000000ull, limit = UINT64_MAX - UINT64_MAX % span;
    uint64_t r;
    do {
        if (sluice_random_uint64(&r) != 0)
            return -1;
    } while (r >= limit);
    int n = snprintf(out, cap, "fb.1.%" PRId64 ".%" PRIu64, now_ms, (uint64_t)(1000000000u + r % span));
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

int sluice_vendor_fbc(int64_t now_ms, const char *fbclid, char *out, size_t cap)
{
    size_t len = strlen(fbclid);
    if (len == 0 || len > SLUICE_CLICK_ID_MAX || !sluice_cookie_value_ok(fbclid, len))
        return -1;
    int n = snprintf(out, cap, "fb.1.%" PRId64 ".%s", now_ms, fbclid);
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

/* What follows prefix and two parts of digits, each ended by '.', in s ("fb.1.<ms>." of Meta's
 * cookies, "GA1.1." of gtag's), when it is not empty; else NULL. */
static const char *after_two_numbers(const char *s, const char *prefix)
{
    size_t pl = strlen(prefix);
    if (strncmp(s, prefix, pl) != 0)
        return NULL;
    const char *p = s + pl;
    for (int part = 0; part < 2; part++) {
        const char *start = p;
        while (*p >= '0' && *p <= '9')
            p++;
        if (p == start || *p != '.')
            return NULL;
        p++;
    }
    return *p != '\0' ? p : NULL;
}

const char *sluice_vendor_fbc_click(const char *fbc)
{
    return after_two_numbers(fbc, "fb.");
}

int sluice_vendor_ga_valid(const char *ga)
{
    /* GA<version>.<domain depth>.<client id>, the client id <random>.<seconds>: what
     * vendors/ga4.c takes the client id out of. */
    const char *id = after_two_numbers(ga, "GA");
    const char *dot = id != NULL ? strchr(id, '.') : NULL;
    return dot != NULL && dot > id && dot[1] != '\0';
}

int sluice_vendor_ga(int64_t now_s, char *out, size_t cap)
{
    uint64_t r;
    if (sluice_random_uint64(&r) != 0)
        return -1;
    int n = snprintf(out, cap, "GA1.1.%" PRIu32 ".%" PRId64, (uint32_t)r, now_s);
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

size_t sluice_click_ids_each(const char *url, sluice_click_keep_fn keep, void *ud)
{
    static const char *const names[] = {"gclid",   "gbraid",    "wbraid", "fbclid", "ttclid",
                                        "msclkid", "li_fat_id", "epik",   "ScCid",  "rdt_cid"};
    enum { N = sizeof(names) / sizeof(names[0]) };
    size_t kept = 0;
    char value[SLUICE_CLICK_ID_MAX + 1];
    struct iovec raw[N];
    if (sluice_url_params_raw(url, names, N, raw) == 0) /* one pass over the query for all ten */
        return 0;
    for (size_t i = 0; i < N; i++) {
        size_t len;
        /* As sluice_url_param: decoded, refused when badly encoded or too long for value. */
        if (raw[i].iov_base == NULL ||
            sluice_pct_decode(raw[i].iov_base, raw[i].iov_len, value, sizeof(value), &len) != 0 || len == 0)
            continue;
        kept += (size_t)keep(ud, names[i], value, len);
    }
    return kept;
}

/* sluice_click_ids' keeper: the object is made at the first id (a value not UTF-8 after decoding
 * is none). */
static int keep_json(void *ud, const char *name, const char *value, size_t len)
{
    json_t **ids = ud;
    json_t *s = json_stringn(value, len);
    if (s == NULL)
        return 0;
    if (*ids == NULL)
        *ids = json_object();
    json_object_set_new(*ids, name, s);
    return 1;
}

json_t *sluice_click_ids(const char *url)
{
    json_t *ids = NULL;
    sluice_click_ids_each(url, keep_json, &ids);
    return ids;
}
