/*
 * Differential libFuzzer target for the PII guard's ids pass and the forget check on arena values
 * (issue 17 step 2, part three): every input is parsed as the gateway parses a body, with
 * sluice_event_parse (jansson values, numbers' table) and sluice_event_parse_jv (json/jv.h), and
 * the body and each event of its batch go through both twins on their own copies:
 *   - sluice_piiguard_ids and sluice_piiguard_ids_jv, for guards of every acting mode (report,
 *     mask, hash with every national id, hash with ids left alone by an exception and a drop):
 *     the same return, the same found bits, and the events then written as the same bytes three
 *     ways (json/write.c, sluice_jv_write, the jv tree bridged to jansson);
 *   - sluice_forgotten_match, _known and _subject and their _jv twins, on the events as sent and
 *     after each guard's pass, against a list holding the pseudonyms of a few ids the corpus
 *     carries (an e-mail as sent and as the guard hashes it, a user id, an anonymous id, a
 *     numeric string, context.identity's): the same answers and the same subject bytes.
 * Any difference aborts.
 *
 * Built as a fuzzer with SLUICE_FUZZ=ON (clang); in every build, tests/fuzz/replay.c runs the
 * corpus once as an ordinary test. Single-threaded.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "config/config.h"
#include "crypto/hash.h"
#include "crypto/pseudonym.h"
#include "gateway/event.h"
#include "gateway/forgotten.h"
#include "gateway/piiguard.h"
#include "tests/fuzz/both_trees.h"
#include "jv_guard.h"
#include "jv_same.h"
#include "json/arena.h"
#include "json/jv.h"
#include "json/jv_json.h"
#include "json/numbers.h"
#include "json/write.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One org per guard; the last leaves anonymousId to an exception and drops previousId, so those
 * ids are not judged (g->id_judged) and an event of more than 12 members is read by look-ups. */
static const char *const guards[][2] = {
    {"properties.password", "report"},
    {"properties.password", "mask"},
    {"properties.password", "{mode: hash, national_ids: [us_ssn, uk_nino, fr_nir, es_dni]}"},
    {"previousId", "{mode: hash, except: [anonymousId, groupId]}"},
};
#define GUARDS (sizeof(guards) / sizeof(guards[0]))

/* Ids on the forgotten list (their pseudonyms under acme's key). */
static const char *const forgotten_ids[] = {
    "jane@x.io", "Jane@X.io", "u-123", "a-1", "0612345678", "12345", "visitor 0612345678", "ctx-user",
};

static struct {
    sluice_config_t *cfg[GUARDS];
    sluice_piiguard_t *g[GUARDS];
    sluice_piiguard_thread_t *t;
    sluice_forgotten_t *f;
    uint8_t key[SLUICE_PSEUDONYM_LEN];
} S;

static void init_once(void)
{
    if (S.t != NULL)
        return;
    if (sluice_json_arena_install() != 0)
        abort();
    for (size_t i = 0; i < GUARDS; i++)
        S.g[i] = jv_guard_create(guards[i][0], guards[i][1], &S.cfg[i]);
    S.t = sluice_piiguard_thread_create();
    sluice_err_t err;
    S.f = sluice_forgotten_create(S.cfg[0], 1, NULL, &err); /* no Redis: the list is the one put below */
    sluice_pseudonym_set_t *set = sluice_pseudonym_set_create();
    if (S.t == NULL || S.f == NULL || set == NULL || sluice_pseudonym_org_key("k", 1, "acme", S.key) != 0)
        abort();
    char hex[SLUICE_PSEUDONYM_HEX_LEN + 1], sha[65];
    for (size_t i = 0; i < sizeof(forgotten_ids) / sizeof(forgotten_ids[0]); i++) {
        const char *id = forgotten_ids[i];
        if (sluice_pseudonym_hex(S.key, id, strlen(id), hex) != 0 ||
            sluice_pseudonym_set_add_hex(set, "acme", hex) != 0)
            abort();
    }
    /* jane@x.io as the guard hashes an id holding it: a hashed userId is still found. */
    if (sluice_sha256_hex("jane@x.io", 9, sha) != 0 || sluice_pseudonym_hex(S.key, sha, 64, hex) != 0 ||
        sluice_pseudonym_set_add_hex(set, "acme", hex) != 0)
        abort();
    sluice_pseudonym_set_seal(set);
    if (sluice_forgotten_use(S.f, set) != 0)
        abort();
}

/* The forget check's three questions on both trees. */
static void same_forgotten(json_t *j, sluice_jv_t *v)
{
    char sj[SLUICE_PSEUDONYM_ID_PATH_COUNT * 65], sv[sizeof(sj)];
    size_t nj = sluice_forgotten_subject(S.key, j, sj, sizeof(sj));
    size_t nv = sluice_forgotten_subject_jv(S.key, v, sv, sizeof(sv));
    if (nj != nv || memcmp(sj, sv, nj) != 0 ||
        sluice_forgotten_known(S.f, 0, "acme", S.key, j) != sluice_forgotten_known_jv(S.f, 0, "acme", S.key, v) ||
        sluice_forgotten_match(S.f, 0, "acme", S.key, j) != sluice_forgotten_match_jv(S.f, 0, "acme", S.key, v))
        abort();
}

/* One event (any value, as a batch item may be) through every guard's ids pass on copies. */
static void check_event(sluice_json_arena_t *a, sluice_jsonnum_t *nums, const json_t *j, const sluice_jv_t *v)
{
    same_forgotten((json_t *)j, (sluice_jv_t *)v);
    for (size_t i = 0; i < GUARDS; i++) {
        json_t *jc = sluice_jsonnum_copy(nums, j);
        sluice_jv_t *vc = sluice_jv_copy(a, v);
        if (jc == NULL || vc == NULL)
            abort();
        uint64_t fj = ~0ull, fv = ~0ull;
        int rj = sluice_piiguard_ids(S.g[i], S.t, jc, &fj);
        int rv = sluice_piiguard_ids_jv(S.g[i], S.t, vc, a, &fv);
        if (rj != rv || fj != fv)
            abort();
        jv_same_bytes(jc, nums, vc);
        same_forgotten(jc, vc);
        json_decref(jc);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init_once();
    sluice_fuzz_each_value(data, size, &sluice_fuzz_body_limits, check_event);
    return 0;
}
