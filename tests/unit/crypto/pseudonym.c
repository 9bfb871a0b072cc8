/* Tests for crypto/pseudonym.c: the org key and pseudonym derivation (known answers computed
 * independently with Python's hmac module), subjects, and sealed sets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/hex.h"
#include "crypto/pseudonym.h"

#define MASTER "0123456789abcdef0123456789abcdef"

static void key_of(const char *master, const char *org, uint8_t key[SLUICE_PSEUDONYM_LEN])
{
    assert_int_equal(sluice_pseudonym_org_key(master, master ? strlen(master) : 0, org, key), 0);
}

static void test_known_answers(void **state)
{
    (void)state;
    uint8_t key[SLUICE_PSEUDONYM_LEN];
    char hex[SLUICE_PSEUDONYM_HEX_LEN + 1];
    /* python3: hmac.new(b"0123...", b"sluice-forget-v1\0acme", sha256) */
    key_of(MASTER, "acme", key);
    assert_int_equal(sluice_hex_encode(key, sizeof(key), hex, sizeof(hex)), 64);
    assert_string_equal(hex, "86f46802520a384870e98206ffaecd3c5e84a95110fa73c1635b6b8f4e2c4348");
    assert_int_equal(sluice_pseudonym_hex(key, "user-4711", 9, hex), 0);
    assert_string_equal(hex, "f78002d3013199724b214851cec91a735d97a27b70050875cfb886541a66588b");
    assert_int_equal(sluice_pseudonym_hex(key, "anon-1", 6, hex), 0);
    assert_string_equal(hex, "a19bd1dce385b1d65d0cb419547924e4082adc027f2d1600d2055e98d9455b6a");
    /* Without a master key (forget.key_env unset): still org-scoped, but computable by anyone. */
    key_of(NULL, "acme", key);
    assert_int_equal(sluice_pseudonym_hex(key, "user-4711", 9, hex), 0);
    assert_string_equal(hex, "bf5d49e3d73bb6301ec3c78c8088be7e50381663d2da75a51c016a8eca320185");
}

/* The same id gives unrelated pseudonyms in two orgs and under two master keys. */
static void test_scoped_by_org_and_key(void **state)
{
    (void)state;
    uint8_t a[SLUICE_PSEUDONYM_LEN], b[SLUICE_PSEUDONYM_LEN], c[SLUICE_PSEUDONYM_LEN];
    char ha[65], hb[65], hc[65];
    key_of(MASTER, "acme", a);
    key_of(MASTER, "globex", b);
    key_of("another master key of 32 bytes!!", "acme", c);
    assert_int_equal(sluice_pseudonym_hex(a, "user-4711", 9, ha), 0);
    assert_int_equal(sluice_pseudonym_hex(b, "user-4711", 9, hb), 0);
    assert_int_equal(sluice_pseudonym_hex(c, "user-4711", 9, hc), 0);
    assert_string_equal(hb, "caac0c09044a05706806f6850ca2b8b8ca8657907116b3b4d6ef8c0cd3de5cb5");
    assert_string_not_equal(ha, hb);
    assert_string_not_equal(ha, hc);
}

/* An event as a list of (path, value) pairs. */
typedef struct fake_event {
    const char *kv[2 * SLUICE_PSEUDONYM_ID_PATH_COUNT + 2];
} fake_event_t;

static const char *get(void *ud, const char *path, size_t *len)
{
    const fake_event_t *e = ud;
    for (size_t i = 0; e->kv[i] != NULL; i += 2)
        if (strcmp(e->kv[i], path) == 0) {
            *len = strlen(e->kv[i + 1]);
            return e->kv[i + 1];
        }
    return NULL;
}

static void test_subject(void **state)
{
    (void)state;
    uint8_t key[SLUICE_PSEUDONYM_LEN];
    key_of(MASTER, "acme", key);
    char out[SLUICE_PSEUDONYM_ID_PATH_COUNT * 65];
    fake_event_t e = {{"userId", "user-4711", "anonymousId", "anon-1", "context.identity.linkedFrom", "anon-1", NULL}};
    size_t n = sluice_pseudonym_subject(key, get, &e, out, sizeof(out));
    assert_int_equal(n, 129);
    assert_string_equal(out, "f78002d3013199724b214851cec91a735d97a27b70050875cfb886541a66588b "
                             "a19bd1dce385b1d65d0cb419547924e4082adc027f2d1600d2055e98d9455b6a");
    fake_event_t none = {{"event", "x", NULL}};
    assert_int_equal(sluice_pseudonym_subject(key, get, &none, out, sizeof(out)), 0);
    assert_string_equal(out, "");
    /* Too small for even one: nothing, and still a string. */
    char tiny[10];
    assert_int_equal(sluice_pseudonym_subject(key, get, &e, tiny, sizeof(tiny)), 0);
    assert_string_equal(tiny, "");
}

static void test_set(void **state)
{
    (void)state;
    uint8_t acme[SLUICE_PSEUDONYM_LEN], globex[SLUICE_PSEUDONYM_LEN], p[SLUICE_PSEUDONYM_LEN];
    key_of(MASTER, "acme", acme);
    key_of(MASTER, "globex", globex);
    sluice_pseudonym_set_t *s = sluice_pseudonym_set_create();
    assert_non_null(s);
    char hex[65];
    /* Twenty fillers so the binary search has something to search. */
    for (int i = 0; i < 20; i++) {
        char id[16];
        int n = snprintf(id, sizeof(id), "filler-%d", i);
        assert_int_equal(sluice_pseudonym_hex(acme, id, (size_t)n, hex), 0);
        assert_int_equal(sluice_pseudonym_set_add_hex(s, "acme", hex), 0);
    }
    assert_int_equal(
        sluice_pseudonym_set_add_hex(s, "acme", "F78002D3013199724B214851CEC91A735D97A27B70050875CFB886541A66588B"), 0);
    assert_int_equal(
        sluice_pseudonym_set_add_hex(s, "acme", "f78002d3013199724b214851cec91a735d97a27b70050875cfb886541a66588b"),
        0); /* a duplicate */
    assert_int_equal(sluice_pseudonym_set_add_hex(s, "acme", "not hex"), -1);
    assert_int_equal(sluice_pseudonym_set_add_hex(s, "acme", "f78002d3"), -1);
    assert_int_equal(
        sluice_pseudonym_set_add_hex(s, "globex", "caac0c09044a05706806f6850ca2b8b8ca8657907116b3b4d6ef8c0cd3de5cb5"),
        0);
    sluice_pseudonym_set_seal(s);
    assert_int_equal(sluice_pseudonym_set_count(s, NULL), 22);
    assert_int_equal(sluice_pseudonym_set_count(s, "acme"), 21);
    assert_int_equal(sluice_pseudonym_set_count(s, "globex"), 1);
    assert_int_equal(sluice_pseudonym_set_count(s, "initech"), 0);

    assert_int_equal(sluice_pseudonym(acme, "user-4711", 9, p), 0);
    assert_true(sluice_pseudonym_set_contains(s, "acme", p));
    assert_false(sluice_pseudonym_set_contains(s, "globex", p)); /* another org's list */
    assert_int_equal(sluice_pseudonym(acme, "filler-7", 8, p), 0);
    assert_true(sluice_pseudonym_set_contains(s, "acme", p));
    assert_int_equal(sluice_pseudonym(acme, "filler-70", 9, p), 0);
    assert_false(sluice_pseudonym_set_contains(s, "acme", p));

    /* Events: any id path matches; the org's own key is what counts. */
    fake_event_t by_user = {{"userId", "user-4711", "anonymousId", "anon-9", NULL}};
    fake_event_t by_identity = {{"anonymousId", "anon-9", "context.identity.userId", "user-4711", NULL}};
    fake_event_t by_previous = {{"previousId", "user-4711", "userId", "new-id", NULL}};
    fake_event_t other = {{"userId", "user-4712", "anonymousId", "anon-9", NULL}};
    fake_event_t in_a_property = {{"properties.userId", "user-4711", NULL}};
    assert_true(sluice_pseudonym_set_match(s, "acme", acme, get, &by_user));
    assert_true(sluice_pseudonym_set_match(s, "acme", acme, get, &by_identity));
    assert_true(sluice_pseudonym_set_match(s, "acme", acme, get, &by_previous));
    assert_false(sluice_pseudonym_set_match(s, "acme", acme, get, &other));
    assert_false(sluice_pseudonym_set_match(s, "acme", acme, get, &in_a_property));
    assert_false(sluice_pseudonym_set_match(s, "acme", globex, get, &by_user));
    assert_false(sluice_pseudonym_set_match(s, "globex", globex, get, &other));
    fake_event_t globex_user = {{"userId", "user-4711", NULL}};
    assert_true(sluice_pseudonym_set_match(s, "globex", globex, get, &globex_user));
    assert_false(sluice_pseudonym_set_match(NULL, "acme", acme, get, &by_user));
    sluice_pseudonym_set_destroy(s);

    /* An empty sealed set matches nothing. */
    s = sluice_pseudonym_set_create();
    sluice_pseudonym_set_seal(s);
    assert_false(sluice_pseudonym_set_match(s, "acme", acme, get, &by_user));
    assert_int_equal(sluice_pseudonym_set_count(s, NULL), 0);
    sluice_pseudonym_set_destroy(s);
    sluice_pseudonym_set_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_answers),
        cmocka_unit_test(test_scoped_by_org_and_key),
        cmocka_unit_test(test_subject),
        cmocka_unit_test(test_set),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
