/* Tests for gateway/envelope.c: the envelope's shape, numbers as the body had them, the same bytes
 * from arena values (sluice_envelope_encode_jv). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gateway/envelope.h"
#include "json/arena.h"
#include "json/jv.h"
#include "json/parse.h"

static json_t *load(const char *s)
{
    json_error_t e;
    json_t *v = json_loads(s, JSON_DECODE_ANY, &e);
    assert_non_null(v);
    return v;
}

static void envelope_shape(void **state)
{
    (void)state;
    json_t *ev = load("{\"type\":\"track\",\"event\":\"Buy\",\"receivedAt\":\"2026-11-23T10:00:00.000Z\"}");
    json_t *privacy = load("{\"hashed\":[\"traits.email\"],\"masked\":[],\"dropped\":[]}");
    json_t *hashes = load("{\"traits.phone\":{\"google\":\"abc\"}}");
    size_t len;
    char *s = sluice_envelope_encode("acme", "web\"x", ev, privacy, hashes, NULL, &len);
    assert_string_equal(s,
                        "{\"v\":1,\"org\":\"acme\",\"source\":\"web\\\"x\",\"receivedAt\":\"2026-11-23T10:00:00.000Z\","
                        "\"event\":{\"type\":\"track\",\"event\":\"Buy\",\"receivedAt\":\"2026-11-23T10:00:00.000Z\"},"
                        "\"privacy\":{\"hashed\":[\"traits.email\"],\"masked\":[],\"dropped\":[]},"
                        "\"hashes\":{\"traits.phone\":{\"google\":\"abc\"}}}");
    assert_int_equal(len, strlen(s));
    /* It parses back to the same parts. */
    json_error_t je;
    json_t *back = json_loads(s, 0, &je);
    assert_non_null(back);
    assert_true(json_equal(json_object_get(back, "event"), ev));
    json_decref(back);
    free(s);
    s = sluice_envelope_encode("acme", "web", ev, privacy, NULL, NULL, &len);
    assert_null(strstr(s, "hashes"));
    free(s);
    json_decref(ev);
    json_decref(privacy);
    json_decref(hashes);
}

/* A request body's prices, quantities and odd spellings reach the envelope as sent. */
static void envelope_numbers_as_sent(void **state)
{
    (void)state;
    static const char body[] = "{\"type\":\"track\",\"event\":\"Buy\",\"properties\":{\"price\":19.9,\"tax\":0.1,"
                               "\"big\":1e21,\"zero\":-0,\"id\":12345678901234567890,\"q\":1.50,\"e\":1E+2}}";
    sluice_jsonnum_t *nums = sluice_jsonnum_new();
    sluice_json_error_t err;
    json_t *ev = sluice_json_parse(body, strlen(body), 64, 1 << 20, 0, nums, &err);
    assert_non_null(ev);
    json_t *privacy = load("{}");
    size_t len;
    char *s = sluice_envelope_encode("acme", "web", ev, privacy, NULL, nums, &len);
    assert_non_null(strstr(s, "\"properties\":{\"price\":19.9,\"tax\":0.1,\"big\":1e21,\"zero\":-0,"
                              "\"id\":12345678901234567890,\"q\":1.50,\"e\":1E+2}"));
    free(s);
    /* A value the data layer replaced is formatted: the shortest text of its double. */
    json_object_set_new(json_object_get(ev, "properties"), "price", json_real(20.5));
    s = sluice_envelope_encode("acme", "web", ev, privacy, NULL, nums, &len);
    assert_non_null(strstr(s, "\"price\":20.5,"));
    free(s);
    json_decref(ev);
    json_decref(privacy);
    sluice_jsonnum_free(nums);
}

/* body parsed on both trees: jansson's values with nums, and jv values in a. */
static void parse_both(sluice_json_arena_t *a, const char *body, sluice_jsonnum_t *nums, json_t **ev, sluice_jv_t **evv)
{
    sluice_json_error_t err;
    *ev = sluice_json_parse(body, strlen(body), 64, 1 << 20, 0, nums, &err);
    *evv = sluice_jv_parse(a, body, strlen(body), 64, 1 << 20, 0, NULL, &err);
    assert_non_null(*ev);
    assert_non_null(*evv);
}

/* The envelope of an event held as arena values is the envelope of the same event held by
 * jansson, byte for byte: numbers as sent, escapes, receivedAt only when a string, hashes only
 * when given, and an event the gateway changed after parsing. */
static void envelope_jv_as_jansson(void **state)
{
    (void)state;
    static const char *const bodies[] = {
        ("{\"type\":\"track\",\"event\":\"Buy\",\"receivedAt\":\"2026-11-23T10:00:00.000Z\","
         "\"properties\":{\"price\":19.90,\"big\":1e400,\"id\":12345678901234567890123,\"zero\":-0}}"),
        "{ \"type\" : \"identify\", \"traits\": {\"name\":\"Z\\u00fc\\u0001\\/\"}, \"receivedAt\": 7 }",
        "{\"type\":\"page\"}",
    };
    static const char privacy_text[] = "{\"hashed\":[\"traits.email\"],\"masked\":[],\"dropped\":[\"a\\\"b\"]}";
    static const char hashes_text[] = "{\"traits.phone\":{\"google\":\"abc\"}}";
    for (size_t b = 0; b < sizeof(bodies) / sizeof(bodies[0]); b++) {
        for (int changed = 0; changed < 2; changed++) {
            sluice_json_arena_t *a = sluice_json_arena_new();
            sluice_jsonnum_t *nums = sluice_jsonnum_new();
            sluice_json_error_t err;
            json_t *ev;
            sluice_jv_t *evv;
            parse_both(a, bodies[b], nums, &ev, &evv);
            json_t *privacy = load(privacy_text), *hashes = load(hashes_text);
            sluice_jv_t *privacyv = sluice_jv_parse(a, privacy_text, strlen(privacy_text), 64, 1 << 20, 0, NULL, &err);
            sluice_jv_t *hashesv = sluice_jv_parse(a, hashes_text, strlen(hashes_text), 64, 1 << 20, 0, NULL, &err);
            assert_non_null(ev);
            assert_non_null(evv);
            if (changed) { /* as enrichment does: a new member, written from its parts */
                json_object_set_new(ev, "receivedAt", json_string("2026-11-23T10:00:01.000Z"));
                assert_int_equal(
                    sluice_jv_object_set(a, evv, "receivedAt", sluice_jv_string(a, "2026-11-23T10:00:01.000Z", 24)), 0);
            }
            for (int with_hashes = 0; with_hashes < 2; with_hashes++) {
                size_t lj, lv;
                char *sj =
                    sluice_envelope_encode("acme", "web\"x", ev, privacy, with_hashes ? hashes : NULL, nums, &lj);
                char *sv =
                    sluice_envelope_encode_jv("acme", "web\"x", evv, privacyv, with_hashes ? hashesv : NULL, &lv);
                assert_non_null(sv);
                assert_string_equal(sv, sj);
                assert_int_equal(lv, lj);
                assert_int_equal(lv, strlen(sv));
                free(sj);
                free(sv);
            }
            json_decref(ev);
            json_decref(privacy);
            json_decref(hashes);
            sluice_jsonnum_free(nums);
            sluice_json_arena_free(a);
        }
    }
}

/* Members the gateway left as sent are written as the body's bytes between edited ones: the
 * envelope of an edited event on arena values is still jansson's, byte for byte, whatever was
 * edited next to them (a member removed between two kept ones, a value replaced under a key as
 * sent, an untouched value copied under another key, a nested object changed, a member added, a
 * key that had an escape) and whatever the body's spacing. */
static void envelope_jv_edits_as_jansson(void **state)
{
    (void)state;
    static const char *const bodies[] = {
        ("{\"a\":1,\"b\":{\"c\":\"x\",\"d\":[1,2.50]},\"e\\\"k\":\"v\",\"f\":\"w\",\"g\":{\"h\":7,\"i\":2},"
         "\"j\":\"\",\"\":0}"),
        ("{ \"a\" : 1, \"b\":{\"c\" :\"x\",\"d\":[1, 2.50]},\"e\\\"k\":\"v\",\"f\":\"w\",\"g\":{\"h\":7,\"i\":2},"
         "\"j\":\"\", \"\":0 }"),
        ("{\"a\":1,\"b\":{\"c\":\"x\",\"d\":[1,2.50]},\"e\\u0041\":\"\\/\",\"f\":\"w\",\"g\":{\"h\":7,\"i\":2},"
         "\"j\":\"\",\"\":0}"),
    };
    static const char privacy_text[] = "{\"hashed\":[],\"masked\":[],\"dropped\":[]}";
    sluice_json_arena_t *pa = sluice_json_arena_new();
    json_t *privacy;
    sluice_jv_t *privacyv;
    parse_both(pa, privacy_text, NULL, &privacy, &privacyv);
    for (size_t b = 0; b < sizeof(bodies) / sizeof(bodies[0]); b++) {
        for (int edit = 0; edit < 6; edit++) {
            sluice_json_arena_t *a = sluice_json_arena_new();
            sluice_jsonnum_t *nums = sluice_jsonnum_new();
            json_t *ev;
            sluice_jv_t *evv;
            parse_both(a, bodies[b], nums, &ev, &evv);
            /* Every edit marks the root changed (a new member, as enrichment adds), then one more. */
            json_object_set_new(ev, "type", json_string("track"));
            assert_int_equal(sluice_jv_object_set(a, evv, "type", sluice_jv_string(a, "track", 5)), 0);
            switch (edit) {
            case 0: /* a member removed between kept ones */
                assert_int_equal(json_object_del(ev, "f"), 0);
                assert_int_equal(sluice_jv_object_del(evv, "f"), 0);
                break;
            case 1: /* a value replaced under its key as sent */
                json_object_set_new(ev, "a", json_string("\"x\""));
                assert_int_equal(sluice_jv_object_set(a, evv, "a", sluice_jv_string(a, "\"x\"", 3)), 0);
                break;
            case 2: /* an untouched value copied under another key: written from its own place */
                json_object_set_new(ev, "f", json_deep_copy(json_object_get(ev, "g")));
                assert_int_equal(sluice_jv_object_set(a, evv, "f", sluice_jv_copy(a, sluice_jv_object_get(evv, "g"))),
                                 0);
                break;
            case 3: /* a nested object changed, its sibling kept */
                json_object_set_new(json_object_get(ev, "b"), "c", json_string("y"));
                assert_int_equal(
                    sluice_jv_object_set(a, sluice_jv_object_get(evv, "b"), "c", sluice_jv_string(a, "y", 1)), 0);
                json_object_del(json_object_get(ev, "g"), "h");
                assert_int_equal(sluice_jv_object_del(sluice_jv_object_get(evv, "g"), "h"), 0);
                break;
            case 4: /* the first member removed, the key that had an escape given a new value */
                assert_int_equal(json_object_del(ev, "a"), 0);
                assert_int_equal(sluice_jv_object_del(evv, "a"), 0);
                for (size_t i = 0; i < sluice_jv_object_size(evv); i++) {
                    const sluice_jv_member_t *m = sluice_jv_object_at(evv, i);
                    if (m->key_len == 3 && m->key[0] == 'e') {
                        char key[4] = {m->key[0], m->key[1], m->key[2], 0};
                        json_object_set_new(ev, key, json_true());
                        assert_int_equal(sluice_jv_object_setn(a, evv, m->key, 3, sluice_jv_bool(a, 1)), 0);
                        break;
                    }
                }
                break;
            default: /* only the new member */ break;
            }
            size_t lj, lv;
            char *sj = sluice_envelope_encode("acme", "web", ev, privacy, NULL, nums, &lj);
            char *sv = sluice_envelope_encode_jv("acme", "web", evv, privacyv, NULL, &lv);
            assert_non_null(sj);
            assert_non_null(sv);
            assert_string_equal(sv, sj);
            assert_int_equal(lv, lj);
            free(sj);
            free(sv);
            json_decref(ev);
            sluice_jsonnum_free(nums);
            sluice_json_arena_free(a);
        }
    }
    json_decref(privacy);
    sluice_json_arena_free(pa);
}

static int setup(void **state)
{
    (void)state;
    return sluice_json_arena_install();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(envelope_shape),
        cmocka_unit_test(envelope_numbers_as_sent),
        cmocka_unit_test(envelope_jv_as_jansson),
        cmocka_unit_test(envelope_jv_edits_as_jansson),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
