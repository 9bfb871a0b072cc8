/*
 * Random bytes, UUIDv4 and 64-bit values on top of RAND_bytes. Any thread: OpenSSL 3 keeps a
 * DRBG per thread, so concurrent callers do not contend on a lock.
 */
#include "crypto/random.h"

#include <limits.h>
#include <pthread.h>
#include <string.h>

#include <openssl/rand.h>

#include "common/hex.h"
#include "crypto/ct.h"

int sluice_random_bytes(void *buf, size_t len)
{
    unsigned char *p = buf;
    size_t left = len;
    /* RAND_bytes takes an int length; larger requests go in chunks. */
    while (left > 0) {
        int chunk = left > (size_t)INT_MAX ? INT_MAX : (int)left;
        if (RAND_bytes(p, chunk) != 1) {
            sluice_secure_zero(buf, len);
            return -1;
        }
        p += chunk;
        left -= (size_t)chunk;
    }
    return 0;
}

/* Identifiers are minted per event on the hot path; one RAND_bytes call per 64 of them costs a
 * sixtieth of one call each. Keys and nonces never come from this buffer. Per thread, so no lock.
 * Fork-safe: a child would otherwise hand out the identifiers its parent has yet to, so the child
 * starts with an empty pool (the only thread a child has is the one that forked, and OpenSSL's
 * DRBG reseeds itself after a fork). */
static _Thread_local uint8_t id_pool[1024];
static _Thread_local size_t id_pool_left;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void empty_pool_in_child(void)
{
    sluice_secure_zero(id_pool, sizeof(id_pool));
    id_pool_left = 0;
}

static void register_atfork(void)
{
    pthread_atfork(NULL, NULL, empty_pool_in_child);
}

static int id_bytes(uint8_t out[16])
{
    if (id_pool_left < 16) {
        pthread_once(&atfork_once, register_atfork);
        if (sluice_random_bytes(id_pool, sizeof(id_pool)) != 0)
            return -1;
        id_pool_left = sizeof(id_pool);
    }
    id_pool_left -= 16;
    memcpy(out, id_pool + id_pool_left, 16);
    memset(id_pool + id_pool_left, 0, 16); /* an identifier is never handed out twice */
    return 0;
}

int sluice_uuid_v4(char out[37])
{
    uint8_t b[16];
    if (id_bytes(b) != 0) {
        out[0] = '\0';
        return -1;
    }
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* variant 10xx (RFC 9562) */
    /* The 32 digits at once, then cut into xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx: sluice_hex_encode
     * writes 16 bytes a step, where a table look-up per digit was ~250 instructions an event (every
     * event without a messageId gets one). */
    char hex[33];
    sluice_hex_encode(b, sizeof(b), hex, sizeof(hex));
    memcpy(out, hex, 8);
    memcpy(out + 9, hex + 8, 4);
    memcpy(out + 14, hex + 12, 4);
    memcpy(out + 19, hex + 16, 4);
    memcpy(out + 24, hex + 20, 12);
    out[8] = out[13] = out[18] = out[23] = '-';
    out[36] = '\0';
    return 0;
}

int sluice_random_uint64(uint64_t *out)
{
    uint8_t b[8];
    if (sluice_random_bytes(b, sizeof(b)) != 0) {
        *out = 0;
        return -1;
    }
    memcpy(out, b, sizeof(b));
    return 0;
}
