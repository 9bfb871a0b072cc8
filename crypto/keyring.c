/*
 * The key ring: a fixed table indexed by key id, filled once from ENCRYPTION_KEY, SLUICE_KEY_ID
 * and SLUICE_KEYRING (or by sluice_keyring_add), then read-only. Built on one thread; read from
 * any thread. Error messages name variables and entry positions, never values: someone who
 * pastes a key into the wrong variable must not find it in a log. sluice_keyring_derive builds a
 * purpose's ring from a root ring (crypto/hkdf.h).
 */
#include "crypto/keyring.h"

#include <stdlib.h>
#include <string.h>

#include "crypto/ct.h"
#include "crypto/hkdf.h"
#include "common/hex.h"

#define HEX_KEY_LEN  (2 * SLUICE_KEYRING_KEY_LEN)
#define EXPECT_KEY   "expected exactly 64 hex characters (a 32-byte AES-256 key, e.g. from `openssl rand -hex 32`)"
#define EXPECT_ENTRY "expected <key id>:<64 hex characters>"

struct sluice_keyring {
    /* Direct indexing by id: 8 KB per ring, O(1) lookup, no search on the open path. */
    uint8_t keys[256][SLUICE_KEYRING_KEY_LEN];
    uint8_t present[256];
    uint8_t primary; /* 0: none */
    size_t count;
};

sluice_keyring_t *sluice_keyring_create(void)
{
    return calloc(1, sizeof(sluice_keyring_t));
}

void sluice_keyring_free(sluice_keyring_t *kr)
{
    if (kr == NULL)
        return;
    sluice_secure_zero(kr, sizeof(*kr));
    free(kr);
}

int sluice_keyring_add(sluice_keyring_t *kr, uint8_t kid, const uint8_t key[SLUICE_KEYRING_KEY_LEN], int primary,
                       sluice_err_t *err)
{
    if (kid == 0)
        return sluice_err_set(err, "key id 0 is reserved; key ids run from 1 to 255");
    if (kr->present[kid])
        return sluice_err_set(err, "key id %u is already in the key ring", (unsigned)kid);
    if (primary && kr->primary != 0)
        return sluice_err_set(err, "the key ring already has a primary key (id %u); it can have only one",
                              (unsigned)kr->primary);
    memcpy(kr->keys[kid], key, SLUICE_KEYRING_KEY_LEN);
    kr->present[kid] = 1;
    kr->count++;
    if (primary)
        kr->primary = kid;
    return 0;
}

const uint8_t *sluice_keyring_key(const sluice_keyring_t *kr, uint8_t kid)
{
    return kid != 0 && kr->present[kid] ? kr->keys[kid] : NULL;
}

uint8_t sluice_keyring_primary_kid(const sluice_keyring_t *kr)
{
    return kr->primary;
}

size_t sluice_keyring_count(const sluice_keyring_t *kr)
{
    return kr->count;
}

/* Parses a decimal key id of 1 to 3 digits with value 1..255 (no sign, no spaces). */
static int parse_kid(const char *s, size_t n, uint8_t *out)
{
    if (n == 0 || n > 3)
        return -1;
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v < 1 || v > 255)
        return -1;
    *out = (uint8_t)v;
    return 0;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Narrows [*s, *s + *n) to its non-whitespace middle. */
static void trim(const char **s, size_t *n)
{
    while (*n > 0 && is_space(**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n > 0 && is_space((*s)[*n - 1]))
        (*n)--;
}

/* Parses one "kid:hex" SLUICE_KEYRING entry (already trimmed, position pos from 1) and adds it
 * as a decrypt-only key. */
static int add_ring_entry(sluice_keyring_t *kr, const char *s, size_t n, size_t pos, sluice_err_t *err)
{
    if (n == 0)
        return sluice_err_set(err, "SLUICE_KEYRING entry %zu is empty; " EXPECT_ENTRY, pos);
    const char *colon = memchr(s, ':', n);
    if (colon == NULL)
        return sluice_err_set(err, "SLUICE_KEYRING entry %zu has no ':'; " EXPECT_ENTRY, pos);
    uint8_t kid;
    if (parse_kid(s, (size_t)(colon - s), &kid) != 0)
        return sluice_err_set(err, "SLUICE_KEYRING entry %zu: the key id must be a number from 1 to 255; " EXPECT_ENTRY,
                              pos);
    if (kid == kr->primary)
        return sluice_err_set(err,
                              "SLUICE_KEYRING entry %zu: key id %u is the primary key's id (SLUICE_KEY_ID); "
                              "older keys need ids of their own",
                              pos, (unsigned)kid);
    if (kr->present[kid])
        return sluice_err_set(err, "SLUICE_KEYRING entry %zu: key id %u appears more than once", pos, (unsigned)kid);
    const char *hex = colon + 1;
    size_t hex_len = n - (size_t)(hex - s);
    if (hex_len != HEX_KEY_LEN)
        return sluice_err_set(err, "SLUICE_KEYRING entry %zu (key id %u): the key has %zu characters; " EXPECT_KEY, pos,
                              (unsigned)kid, hex_len);
    uint8_t key[SLUICE_KEYRING_KEY_LEN];
    size_t key_len;
    if (sluice_hex_decode(hex, hex_len, key, sizeof(key), &key_len) != 0)
        return sluice_err_set(err,
                              "SLUICE_KEYRING entry %zu (key id %u): the key contains characters that are not hex "
                              "digits; " EXPECT_KEY,
                              pos, (unsigned)kid);
    int rc = sluice_keyring_add(kr, kid, key, 0, err);
    sluice_secure_zero(key, sizeof(key));
    return rc;
}

static int add_ring(sluice_keyring_t *kr, const char *ring, sluice_err_t *err)
{
    size_t pos = 1;
    for (const char *p = ring;; pos++) {
        const char *comma = strchr(p, ',');
        size_t n = comma != NULL ? (size_t)(comma - p) : strlen(p);
        const char *entry = p;
        trim(&entry, &n);
        if (add_ring_entry(kr, entry, n, pos, err) != 0)
            return -1;
        if (comma == NULL)
            return 0;
        p = comma + 1;
    }
}

static int add_primary(sluice_keyring_t *kr, const char *primary_hex, const char *kid_str, sluice_err_t *err)
{
    if (primary_hex == NULL)
        return sluice_err_set(err, "ENCRYPTION_KEY is not set; " EXPECT_KEY);
    /* Spaces and line ends around the key are dropped, as around SLUICE_KEYRING's entries: a key
     * read from a file or a Kubernetes secret (`$(cat key)` keeps none, `--from-file` and
     * `echo` keep the newline) is the same key, and was refused as "65 characters". */
    size_t len = strlen(primary_hex);
    trim(&primary_hex, &len);
    if (len == 0)
        return sluice_err_set(err, "ENCRYPTION_KEY is empty; " EXPECT_KEY);
    if (len != HEX_KEY_LEN)
        return sluice_err_set(err, "ENCRYPTION_KEY has %zu characters; " EXPECT_KEY, len);
    uint8_t key[SLUICE_KEYRING_KEY_LEN];
    size_t key_len;
    if (sluice_hex_decode(primary_hex, len, key, sizeof(key), &key_len) != 0)
        return sluice_err_set(err, "ENCRYPTION_KEY contains characters that are not hex digits; " EXPECT_KEY);
    /* The id is trimmed like the key: SLUICE_KEY_ID from the same kind of secret file carries the
     * same line end, and was refused as "digits only" beside a key that now loaded. */
    uint8_t kid = 1;
    size_t kid_len = kid_str != NULL ? strlen(kid_str) : 0;
    const char *kid_start = kid_str;
    trim(&kid_start, &kid_len);
    if (kid_str != NULL && kid_str[0] != '\0' && parse_kid(kid_start, kid_len, &kid) != 0) {
        sluice_secure_zero(key, sizeof(key));
        return sluice_err_set(err, "SLUICE_KEY_ID must be a key id from 1 to 255 (digits only; unset means 1)");
    }
    int rc = sluice_keyring_add(kr, kid, key, 1, err);
    sluice_secure_zero(key, sizeof(key));
    return rc;
}

sluice_keyring_t *sluice_keyring_from_strings(const char *primary_hex, const char *kid_str, const char *ring,
                                              sluice_err_t *err)
{
    sluice_keyring_t *kr = sluice_keyring_create();
    if (kr == NULL) {
        sluice_err_set(err, "out of memory building the key ring");
        return NULL;
    }
    if (add_primary(kr, primary_hex, kid_str, err) != 0 ||
        (ring != NULL && ring[0] != '\0' && add_ring(kr, ring, err) != 0)) {
        sluice_keyring_free(kr);
        return NULL;
    }
    return kr;
}

sluice_keyring_t *sluice_keyring_from_env(sluice_err_t *err)
{
    return sluice_keyring_from_strings(getenv("ENCRYPTION_KEY"), getenv("SLUICE_KEY_ID"), getenv("SLUICE_KEYRING"),
                                       err);
}

sluice_keyring_t *sluice_keyring_derive(const sluice_keyring_t *root, const char *purpose, sluice_err_t *err)
{
    if (purpose == NULL || purpose[0] == '\0') {
        sluice_err_set(err, "deriving keys: no purpose given");
        return NULL;
    }
    sluice_keyring_t *kr = sluice_keyring_create();
    if (kr == NULL) {
        sluice_err_set(err, "out of memory deriving keys for %s", purpose);
        return NULL;
    }
    for (unsigned kid = 1; kid < 256; kid++) {
        if (!root->present[kid])
            continue;
        if (sluice_hkdf_sha256(SLUICE_HKDF_SALT, sizeof(SLUICE_HKDF_SALT) - 1, root->keys[kid], SLUICE_KEYRING_KEY_LEN,
                               purpose, strlen(purpose), kr->keys[kid], SLUICE_KEYRING_KEY_LEN) != 0) {
            sluice_keyring_free(kr);
            sluice_err_set(err, "deriving the %s key of key id %u: HKDF-SHA256 failed in OpenSSL", purpose, kid);
            return NULL;
        }
        kr->present[kid] = 1;
        kr->count++;
    }
    kr->primary = root->primary;
    return kr;
}
