/*
 * Differential libFuzzer target for the PII guard's full walk on arena values (issue 17 step 2,
 * part four): every input is parsed as the gateway parses a body, with sluice_event_parse
 * (jansson values, numbers' table) and sluice_event_parse_jv (json/jv.h), and the body and each
 * event of its batch go, on their own copies, through sluice_piiguard_apply and
 * sluice_piiguard_apply_jv under guards of every mode (off, report, mask, hash with every national
 * id, hash with exceptions and a drop, mask without key names), once alone and once after the ids
 * pass (sluice_piiguard_ids, _ids_jv) with its found bits. The privacy object each walk appends to
 * already holds a data layer's record. Compared: the return codes, the stats, the privacy bytes and
 * the event bytes (three writers each: tests/fuzz/jv_same.h), and the findings each tree's thread
 * table then holds. Any difference aborts.
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
#include "gateway/event.h"
#include "gateway/piiguard.h"
#include "tests/fuzz/both_trees.h"
#include "jv_guard.h"
#include "jv_same.h"
#include "json/arena.h"
#include "json/jv.h"
#include "json/numbers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One org per guard: its drops and its pii_guard. */
static const char *const guards[][2] = {
    {"properties.password", "off"},
    {"properties.password", "report"},
    {"properties.password", "mask"},
    {"properties.password", "{mode: hash, national_ids: [us_ssn, uk_nino, fr_nir, es_dni]}"},
    {"previousId, properties.card", "{mode: hash, except: [anonymousId, properties.notes, context.page]}"},
    {"properties.password", "{mode: mask, key_names: false, national_ids: [fr_nir]}"},
};
#define GUARDS (sizeof(guards) / sizeof(guards[0]))

/* What the data layer of those orgs records before the guard runs (sluice_dl_result's privacy). */
static const char dl_privacy[] = "{\"hashed\":[\"traits.email\"],\"masked\":[],\"dropped\":[\"properties.password\"]}";

static struct {
    sluice_config_t *cfg[GUARDS];
    sluice_piiguard_t *g[GUARDS];
    sluice_piiguard_thread_t *tj, *tv; /* one per tree: their findings tables must agree */
} S;

static void init_once(void)
{
    if (S.tj != NULL)
        return;
    if (sluice_json_arena_install() != 0)
        abort();
    for (size_t i = 0; i < GUARDS; i++)
        S.g[i] = jv_guard_create(guards[i][0], guards[i][1], &S.cfg[i]);
    S.tj = sluice_piiguard_thread_create();
    S.tv = sluice_piiguard_thread_create();
    if (S.tj == NULL || S.tv == NULL)
        abort();
}

/* The findings a thread table holds, as one text (org, path, matcher, count, partial each). */
typedef struct listing {
    char buf[SLUICE_PIIGUARD_FINDINGS_MAX * 360];
    size_t len;
} listing_t;

static void on_finding(const sluice_piiguard_finding_t *f, void *ud)
{
    listing_t *l = ud;
    int n = snprintf(l->buf + l->len, sizeof(l->buf) - l->len, "%s\t%s\t%s\t%llu\t%d\n", f->org, f->path, f->matcher,
                     (unsigned long long)atomic_load(&f->count), atomic_load(&f->partial));
    if (n > 0 && (size_t)n < sizeof(l->buf) - l->len)
        l->len += (size_t)n;
}

static void same_findings(void)
{
    static listing_t lj, lv;
    lj.len = lv.len = 0;
    uint64_t uj = sluice_piiguard_thread_foreach(S.tj, on_finding, &lj);
    uint64_t uv = sluice_piiguard_thread_foreach(S.tv, on_finding, &lv);
    if (uj != uv || lj.len != lv.len || memcmp(lj.buf, lv.buf, lj.len) != 0)
        abort();
}

/* One event (any value, as a batch item may be) through every guard's walk on copies, with and
 * without the ids pass first. */
static void check_event(sluice_json_arena_t *a, sluice_jsonnum_t *nums, const json_t *j, const sluice_jv_t *v)
{
    json_error_t e;
    for (size_t i = 0; i < GUARDS; i++) {
        for (int ids_first = 0; ids_first < 2; ids_first++) {
            json_t *jc = sluice_jsonnum_copy(nums, j);
            sluice_jv_t *vc = sluice_jv_copy(a, v);
            json_t *pj = json_loads(dl_privacy, 0, &e);
            sluice_json_error_t pe;
            sluice_jv_t *pv = sluice_jv_parse(a, dl_privacy, sizeof(dl_privacy) - 1, 8, 64, 1, NULL, &pe);
            if (jc == NULL || vc == NULL || pj == NULL || pv == NULL)
                abort();
            uint64_t fj = 0, fv = 0;
            if (ids_first &&
                (sluice_piiguard_ids(S.g[i], S.tj, jc, &fj) != sluice_piiguard_ids_jv(S.g[i], S.tv, vc, a, &fv) ||
                 fj != fv))
                abort();
            sluice_piiguard_stats_t sj, sv;
            memset(&sv, 0xa5, sizeof(sv));
            int rj = sluice_piiguard_apply(S.g[i], S.tj, jc, nums, pj, 1000, ids_first ? &fj : NULL, &sj);
            int rv = sluice_piiguard_apply_jv(S.g[i], S.tv, vc, a, pv, 1000, ids_first ? &fv : NULL, &sv);
            if (rj != rv || sj.detected != sv.detected || sj.changed != sv.changed)
                abort();
            if (rj == 0) { /* after -1 the event is refused, half masked: its bytes say nothing */
                jv_same_bytes(jc, nums, vc);
                jv_same_bytes(pj, NULL, pv);
            }
            json_decref(pj);
            json_decref(jc);
        }
    }
    same_findings();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init_once();
    sluice_fuzz_each_value(data, size, &sluice_fuzz_body_limits, check_event);
    return 0;
}
