/* Tests for crypto/hash.c: SHA-256 (FIPS 180-4 examples) and HMAC-SHA256 (RFC 4231). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/hash.h"
#include "common/hex.h"

/* HMAC-SHA256(key, msg) as lowercase hex. */
static void hmac_hex(const void *key, size_t klen, const void *msg, size_t n, char out[65])
{
    uint8_t mac[SLUICE_SHA256_LEN];
    assert_int_equal(sluice_hmac_sha256(key, klen, msg, n, mac), 0);
    assert_int_equal(sluice_hex_encode(mac, sizeof(mac), out, 65), 64);
}

/* Each thread hashes "abc" and MACs RFC 4231 case 2 many times; the result is the first
 * wrong answer's digest, or the right ones. */
typedef struct {
    char sha[65], mac[65];
} thread_result_t;

static void *hash_many(void *arg)
{
    thread_result_t *r = arg;
    const char *msg = "what do ya want for nothing?";
    for (int i = 0; i < 200; i++) {
        uint8_t mac[SLUICE_SHA256_LEN];
        if (sluice_sha256_hex("abc", 3, r->sha) != 0 || sluice_hmac_sha256("Jefe", 4, msg, strlen(msg), mac) != 0) {
            r->sha[0] = r->mac[0] = '\0';
            return NULL;
        }
        sluice_hex_encode(mac, sizeof(mac), r->mac, sizeof(r->mac));
        if (strcmp(r->sha, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") != 0 ||
            strcmp(r->mac, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843") != 0)
            break;
    }
    return NULL;
}

/* Runs first, so the one-time fetch happens under contention from several threads, and the
 * shared HMAC template is then duplicated concurrently. */
static void test_first_use_from_many_threads(void **state)
{
    (void)state;
    enum { T = 8 };
    pthread_t th[T];
    thread_result_t res[T];
    for (int i = 0; i < T; i++)
        assert_int_equal(pthread_create(&th[i], NULL, hash_many, &res[i]), 0);
    for (int i = 0; i < T; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_string_equal(res[i].sha, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_string_equal(res[i].mac, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }
}

static void test_sha256_known_answers(void **state)
{
    (void)state;
    char hex[65];
    assert_int_equal(sluice_sha256_hex("", 0, hex), 0);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_int_equal(sluice_sha256_hex("abc", 3, hex), 0);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    assert_int_equal(sluice_sha256_hex(two_blocks, strlen(two_blocks), hex), 0);
    assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void test_sha256_raw_matches_hex(void **state)
{
    (void)state;
    uint8_t d[SLUICE_SHA256_LEN];
    const uint8_t want[4] = {0xba, 0x78, 0x16, 0xbf};
    assert_int_equal(sluice_sha256("abc", 3, d), 0);
    assert_memory_equal(d, want, sizeof(want));
    assert_int_equal(d[31], 0xad);
}

/* RFC 4231 test case 1: 20-byte key of 0x0b, "Hi There". */
static void test_hmac_rfc4231_case1(void **state)
{
    (void)state;
    uint8_t key[20];
    char hex[65];
    memset(key, 0x0b, sizeof(key));
    hmac_hex(key, sizeof(key), "Hi There", 8, hex);
    assert_string_equal(hex, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
}

/* RFC 4231 test case 2: key shorter than the output ("Jefe"). */
static void test_hmac_rfc4231_case2(void **state)
{
    (void)state;
    char hex[65];
    const char *msg = "what do ya want for nothing?";
    hmac_hex("Jefe", 4, msg, strlen(msg), hex);
    assert_string_equal(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

/* RFC 4231 test case 3: 20 bytes of 0xaa as key, 50 bytes of 0xdd as data. */
static void test_hmac_rfc4231_case3(void **state)
{
    (void)state;
    uint8_t key[20], msg[50];
    char hex[65];
    memset(key, 0xaa, sizeof(key));
    memset(msg, 0xdd, sizeof(msg));
    hmac_hex(key, sizeof(key), msg, sizeof(msg), hex);
    assert_string_equal(hex, "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
}

/* RFC 4231 test case 4: key 0x01..0x19 (25 bytes), 50 bytes of 0xcd. */
static void test_hmac_rfc4231_case4(void **state)
{
    (void)state;
    uint8_t key[25], msg[50];
    char hex[65];
    for (size_t i = 0; i < sizeof(key); i++)
        key[i] = (uint8_t)(i + 1);
    memset(msg, 0xcd, sizeof(msg));
    hmac_hex(key, sizeof(key), msg, sizeof(msg), hex);
    assert_string_equal(hex, "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");
}

/* RFC 4231 test case 6: a 131-byte key, longer than the block, is hashed first. */
static void test_hmac_rfc4231_case6_long_key(void **state)
{
    (void)state;
    uint8_t key[131];
    char hex[65];
    memset(key, 0xaa, sizeof(key));
    const char *msg = "Test Using Larger Than Block-Size Key - Hash Key First";
    hmac_hex(key, sizeof(key), msg, strlen(msg), hex);
    assert_string_equal(hex, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

/* Empty key and empty message (value from Python's hmac module). */
static void test_hmac_empty_key(void **state)
{
    (void)state;
    char hex[65];
    hmac_hex("", 0, "", 0, hex);
    assert_string_equal(hex, "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

/* The two-part form equals the one-shot over the joined message at every split point,
 * the way server-to-server signatures sign timestamp + "." + body. */
static void test_hmac_two_part_every_split(void **state)
{
    (void)state;
    const char *secret = "whsec_test_secret";
    const char *joined = "1700000000000.{\"type\":\"track\",\"event\":\"Order Completed\"}";
    size_t n = strlen(joined);
    uint8_t whole[SLUICE_SHA256_LEN], parts[SLUICE_SHA256_LEN];
    assert_int_equal(sluice_hmac_sha256(secret, strlen(secret), joined, n, whole), 0);
    for (size_t split = 0; split <= n; split++) {
        assert_int_equal(sluice_hmac_sha256_2(secret, strlen(secret), joined, split, joined + split, n - split, parts),
                         0);
        assert_memory_equal(parts, whole, sizeof(whole));
    }
    /* And a different key or message gives a different MAC. */
    assert_int_equal(sluice_hmac_sha256("whsec_test_secreT", strlen(secret), joined, n, parts), 0);
    assert_memory_not_equal(parts, whole, sizeof(whole));
    assert_int_equal(sluice_hmac_sha256(secret, strlen(secret), joined, n - 1, parts), 0);
    assert_memory_not_equal(parts, whole, sizeof(whole));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_use_from_many_threads),
        cmocka_unit_test(test_sha256_known_answers),
        cmocka_unit_test(test_sha256_raw_matches_hex),
        cmocka_unit_test(test_hmac_rfc4231_case1),
        cmocka_unit_test(test_hmac_rfc4231_case2),
        cmocka_unit_test(test_hmac_rfc4231_case3),
        cmocka_unit_test(test_hmac_rfc4231_case4),
        cmocka_unit_test(test_hmac_rfc4231_case6_long_key),
        cmocka_unit_test(test_hmac_empty_key),
        cmocka_unit_test(test_hmac_two_part_every_split),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
