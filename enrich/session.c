/*
 * Session cookies (session.h): signing, checking and advancing. Pure; any thread.
 */
#include "enrich/session.h"

#include <stdlib.h>
#include <string.h>

#include "crypto/base64url.h"
#include "crypto/ct.h"
#include "crypto/hash.h"
#include "crypto/random.h"

#define LABEL    "sluice-session-v1"
#define MAC_LEN  16
#define RAW_LEN  (1 + MAC_LEN)
#define SIG_TEXT 23 /* base64url of RAW_LEN bytes */
#define SKEW_S   60

/* Appends s[0..n) at *o (bounds checked by the callers' sizes). */
static char *put(char *o, const char *s, size_t n)
{
    memcpy(o, s, n);
    return o + n;
}

/* Appends v in decimal. */
static char *put_u64(char *o, uint64_t v)
{
    char d[24];
    size_t n = 0;
    do {
        d[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    while (n > 0)
        *o++ = d[--n];
    return o;
}

static int mac_of(const uint8_t *key, const char *org, const char *payload, size_t len, uint8_t mac[MAC_LEN])
{
    char msg[sizeof(LABEL) + 130 + SLUICE_SESSION_VALUE_MAX];
    size_t ol = strlen(org);
    if (ol > 128 || len > SLUICE_SESSION_VALUE_MAX)
        return -1;
    char *o = put(msg, LABEL, sizeof(LABEL)); /* with its NUL: the separator */
    o = put(o, org, ol);
    *o++ = '\0';
    o = put(o, payload, len);
    uint8_t full[SLUICE_SHA256_LEN];
    if (sluice_hmac_sha256(key, SLUICE_KEYRING_KEY_LEN, msg, (size_t)(o - msg), full) != 0)
        return -1;
    memcpy(mac, full, MAC_LEN);
    sluice_secure_zero(full, sizeof(full));
    return 0;
}

int sluice_session_sign(const sluice_keyring_t *kr, const char *org, const sluice_session_t *s, char *out, size_t cap)
{
    uint8_t kid = kr != NULL ? sluice_keyring_primary_kid(kr) : 0;
    if (kid == 0 || strlen(s->id) != SLUICE_SESSION_ID_LEN || s->start_s < 0 || s->last_s < 0 ||
        cap < SLUICE_SESSION_VALUE_MAX + 1)
        return -1;
    char *o = put(out, "1.", 2);
    o = put(o, s->id, SLUICE_SESSION_ID_LEN);
    *o++ = '.';
    o = put_u64(o, s->number);
    *o++ = '.';
    o = put_u64(o, (uint64_t)s->start_s);
    *o++ = '.';
    o = put_u64(o, (uint64_t)s->last_s);
    *o++ = '.';
    size_t n = (size_t)(o - out);
    if (n + SIG_TEXT + 1 > cap)
        return -1;
    uint8_t raw[RAW_LEN];
    raw[0] = kid;
    if (mac_of(sluice_keyring_key(kr, kid), org, out, n - 1, raw + 1) != 0)
        return -1;
    sluice_b64url_encode(raw, sizeof(raw), out + n, cap - n);
    return (int)(n + SIG_TEXT);
}

/* A decimal number of at most 19 digits from s[0..len): 0 or -1. */
static int decimal(const char *s, size_t len, int64_t *out)
{
    if (len == 0 || len > 18)
        return -1;
    int64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int sluice_session_verify(const sluice_keyring_t *kr, const char *org, const char *value, size_t len,
                          sluice_session_t *out)
{
    if (kr == NULL || value == NULL || len <= SIG_TEXT + 1 || len > SLUICE_SESSION_VALUE_MAX ||
        value[len - SIG_TEXT - 1] != '.' || len < 2 || value[0] != '1' || value[1] != '.')
        return -1;
    size_t plen = len - SIG_TEXT - 1; /* "1.<id>.<n>.<start>.<last>" */
    uint8_t raw[RAW_LEN + 2], mac[MAC_LEN];
    size_t n = 0;
    if (sluice_b64url_decode(value + plen + 1, SIG_TEXT, raw, sizeof(raw), &n) != 0 || n != RAW_LEN)
        return -1;
    const uint8_t *key = sluice_keyring_key(kr, raw[0]);
    if (key == NULL || mac_of(key, org, value, plen, mac) != 0 || !sluice_ct_equal(mac, raw + 1, MAC_LEN))
        return -1;
    /* Signed by us: the fields are well formed, but read them strictly anyway. */
    const char *f[5];
    size_t fl[5], k = 0;
    const char *p = value, *end = value + plen;
    while (k < 5 && p <= end) {
        const char *dot = memchr(p, '.', (size_t)(end - p));
        if (dot == NULL)
            dot = end;
        f[k] = p;
        fl[k++] = (size_t)(dot - p);
        p = dot + 1;
    }
    int64_t number, start, last;
    if (k != 5 || p <= end || fl[1] != SLUICE_SESSION_ID_LEN || decimal(f[2], fl[2], &number) != 0 ||
        number > UINT32_MAX || decimal(f[3], fl[3], &start) != 0 || decimal(f[4], fl[4], &last) != 0)
        return -1;
    memcpy(out->id, f[1], SLUICE_SESSION_ID_LEN);
    out->id[SLUICE_SESSION_ID_LEN] = '\0';
    out->number = (uint32_t)number;
    out->start_s = start;
    out->last_s = last;
    return 0;
}

int sluice_session_advance(sluice_session_t *s, int have, int64_t now_s, unsigned timeout_s)
{
    if (have && now_s - s->last_s <= (int64_t)timeout_s && s->last_s - now_s <= SKEW_S) {
        int64_t refresh = timeout_s / 30 < 60 ? timeout_s / 30 : 60;
        if (now_s - s->last_s < refresh || now_s <= s->last_s)
            return 2;
        s->last_s = now_s;
        return 0;
    }
    /* A UUIDv4's hex digits (122 random bits) from the thread's pooled generator: one RAND_bytes
     * call per 64 ids rather than one per session. */
    char uuid[37];
    if (sluice_uuid_v4(uuid) != 0)
        return -1;
    size_t k = 0;
    for (size_t i = 0; uuid[i] != '\0' && k < SLUICE_SESSION_ID_LEN; i++)
        if (uuid[i] != '-')
            s->id[k++] = uuid[i];
    s->id[SLUICE_SESSION_ID_LEN] = '\0';
    s->number = have && s->number < UINT32_MAX ? s->number + 1 : 1;
    s->start_s = now_s;
    s->last_s = now_s;
    return 1;
}

/* ------------------------------------------------------------------ the per-thread cache */

typedef struct slot {
    uint64_t hash;
    uint8_t len; /* 0: empty */
    char value[SLUICE_SESSION_VALUE_MAX];
    char org[65];
    sluice_session_t s;
} slot_t;

struct sluice_session_cache {
    slot_t *slots;
    size_t mask;
};

sluice_session_cache_t *sluice_session_cache_create(size_t slots)
{
    size_t n = 1;
    while (n < (slots ? slots : 1024) && n < (1u << 20))
        n <<= 1;
    sluice_session_cache_t *c = calloc(1, sizeof(*c));
    if (c == NULL || (c->slots = calloc(n, sizeof(*c->slots))) == NULL) {
        free(c);
        return NULL;
    }
    c->mask = n - 1;
    return c;
}

void sluice_session_cache_destroy(sluice_session_cache_t *c)
{
    if (c == NULL)
        return;
    free(c->slots);
    free(c);
}

static uint64_t fnv1a(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

void sluice_session_cache_put(sluice_session_cache_t *c, const char *org, const char *value, size_t len,
                              const sluice_session_t *s)
{
    size_t ol = strlen(org);
    if (c == NULL || len == 0 || len > SLUICE_SESSION_VALUE_MAX || ol >= sizeof(c->slots[0].org))
        return;
    uint64_t h = fnv1a(value, len);
    slot_t *e = &c->slots[h & c->mask];
    e->hash = h;
    e->len = (uint8_t)len;
    memcpy(e->value, value, len);
    memcpy(e->org, org, ol + 1);
    e->s = *s;
}

int sluice_session_verify_cached(sluice_session_cache_t *c, const sluice_keyring_t *kr, const char *org,
                                 const char *value, size_t len, sluice_session_t *out)
{
    if (c != NULL && value != NULL && len > 0 && len <= SLUICE_SESSION_VALUE_MAX) {
        uint64_t h = fnv1a(value, len);
        const slot_t *e = &c->slots[h & c->mask];
        if (e->len == len && e->hash == h && memcmp(e->value, value, len) == 0 && strcmp(e->org, org) == 0) {
            *out = e->s;
            return 0;
        }
    }
    if (sluice_session_verify(kr, org, value, len, out) != 0)
        return -1;
    sluice_session_cache_put(c, org, value, len, out);
    return 0;
}
