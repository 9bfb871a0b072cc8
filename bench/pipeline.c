/*
 * bench/pipeline: the gateway's per-event pipeline on a fixed input, for instruction counts
 * under callgrind (bench/run). One iteration = what the gateway does to an event between the
 * HTTP body and the Kafka payload: parse with limits, validate, consent's categories from the
 * SDKs' forms (sluice_consent_normalize, as ingest.c runs it after validation; left out of the
 * count before 2026-12-07 evening: +585), enrich (messageId, receivedAt, IP, user agent), the PII
 * guard's ids pass, data layer (consent, drop, hash, mask through the real plugins), the PII guard
 * over the fields no rule names (the org's pii_guard), envelope. Identity's fields (ids from
 * Redis, cookies) are left out with TLS, HTTP and Kafka: they need a request's job.
 * When the config turns enrichment on for the org (bench/run --enrich), its step runs too, as in
 * ingest.c: user agent (through the thread's cache), bots, geolocation, the session (the cookie
 * the first event gets is sent with the next ones, as a browser does), campaign and referrer. The
 * user agent is $BENCH_UA when set, else "bench/1".
 * The stages run on arena values (json/jv.h: each stage's jv form, issue 17 step 2), as the
 * request path does: the body copied into the request's arena and parsed there, every value
 * added made there (pipeline_once). --tree jansson runs the same stages on jansson trees, as the
 * request path did before it switched (pipeline_once_jansson), for comparison; the two trees'
 * payloads are compared byte for byte before the count starts (but the messageId made for an
 * event without one, which is random: bench/event.json has none).
 * TLS, HTTP and Kafka are left out: they are the same for every event and measured by wrk.
 *
 *   sluice-bench-pipeline --config bench/bench.yaml --event bench/event.json [--iterations N]
 *                         [--pii-guard off|report|mask|hash] [--dump FILE] [--tree jv|jansson]
 *   valgrind --tool=callgrind --collect-atstart=no --toggle-collect=pipeline_once ...
 *   (--toggle-collect=pipeline_once_jansson with --tree jansson)
 *
 * Prints the payload size and, without valgrind, the wall time per event. Single-threaded.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "crypto/keyring.h"
#include "crypto/random.h"
#include "gateway/consent.h"
#include "gateway/datalayer.h"
#include "gateway/envelope.h"
#include "gateway/event.h"
#include "gateway/enrichment.h"
#include "gateway/runtime.h"
#include "gateway/secrets.h"
#include "gateway/server.h"
#include "json/arena.h"
#include "json/jv.h"
#include "json/numbers.h"

static size_t payload_bytes;
static sluice_piiguard_thread_t *guard_thread;
static sluice_jsonnum_t *nums; /* the body's numbers' texts, reused like a worker's */
static const char *user_agent = "bench/1";
/* What the enrichment step reads of a request and its thread: a request with only a User-Agent,
 * a worker of index 0 whose gateway holds the keys (sessions sign their cookie). */
static sluice_gateway_t gateway;
static sluice_worker_t worker;
static h2o_req_t request;
static char *kept_payload; /* --dump: the last payload, to compare builds byte for byte */
static int keep_payload;
static int use_jansson; /* --tree jansson */

/* The session cookie of the first answer goes with every later request. 0. */
static int keep_cookie(const sluice_reply_t *reply)
{
    if (reply->cookie_count == 0 || h2o_find_header(&request.headers, H2O_TOKEN_COOKIE, -1) >= 0)
        return 0;
    size_t n = strcspn(reply->cookies[0].base, ";");
    h2o_add_header(&request.pool, &request.headers, H2O_TOKEN_COOKIE, NULL, reply->cookies[0].base, n);
    return 0;
}

/* A run's Kafka payload: kept for --dump and the trees' comparison, else freed. 0, or -1 for
 * NULL (out of memory). */
static int take_payload(char *payload, size_t n)
{
    if (payload == NULL)
        return -1;
    payload_bytes = n;
    if (keep_payload) {
        free(kept_payload);
        kept_payload = payload;
    } else {
        free(payload);
    }
    return 0;
}

/* The pipeline on jansson trees, as the request path ran it before issue 17 step 2's switch.
 * Kept out of line so callgrind can count exactly this function (--toggle-collect). */
__attribute__((noinline)) int pipeline_once_jansson(const sluice_runtime_t *rt, const char *body, size_t len);

__attribute__((noinline)) int pipeline_once_jansson(const sluice_runtime_t *rt, const char *body, size_t len)
{
    const sluice_config_t *cfg = rt->cfg;
    const sluice_source_rt_t *src = &rt->sources[0];
    sluice_event_error_t e;
    sluice_jsonnum_clear(nums);
    /* As the gateway does: the body's values, and what validation, enrichment, the data layer
     * and the guard add, in the request's arena (json/arena.h). */
    sluice_json_arena_t *arena = sluice_json_arena_new();
    sluice_json_arena_enter(arena);
    json_t *ev = sluice_event_parse(body, len, &cfg->limits, nums, NULL, &e);
    if (ev == NULL || sluice_event_validate(ev, SLUICE_EVENT_TRACK, &cfg->limits, "", len, nums, &e) < 0 ||
        sluice_consent_normalize(ev, &src->org->consent) != 0) {
        json_decref(ev); /* NULL-safe */
        sluice_json_arena_leave();
        sluice_json_arena_free(arena);
        return -1;
    }
    sluice_event_enrich_t en = {.received_ms = 1795420800123LL, .client_ip = "203.0.113.9", .user_agent = user_agent};
    sluice_dl_result_t dl;
    sluice_dl_stats_t st = {0};
    sluice_piiguard_stats_t gst;
    const sluice_piiguard_t *guard = rt->orgs[src->org_index].guard;
    uint64_t idfound;
    int rc = -1;
    sluice_enrichment_req_t enr;
    sluice_reply_t reply = {0};
    sluice_enrichment_begin(&enr, &request, &worker, rt, src, &en);
    if (sluice_piiguard_ids(guard, guard_thread, ev, &idfound) == 0 && sluice_event_enrich(ev, &en) == 0 &&
        sluice_enrichment_event(&enr, ev, &reply) == 0 && keep_cookie(&reply) == 0 &&
        sluice_datalayer_apply(src->org, rt->orgs[src->org_index].variants, sluice_runtime_masker(rt, 0), ev, nums, &dl,
                               &st) == 0) {
        if (sluice_piiguard_apply(guard, guard_thread, ev, nums, dl.privacy, en.received_ms, &idfound, &gst) != 0) {
            sluice_dl_result_dispose(&dl);
            json_decref(ev);
            sluice_json_arena_leave();
            sluice_json_arena_free(arena);
            return -1;
        }
        size_t n;
        char *payload = sluice_envelope_encode(src->org->id, src->src->id, ev, dl.privacy, dl.hashes, nums, &n);
        rc = take_payload(payload, n);
        sluice_dl_result_dispose(&dl);
    }
    json_decref(ev);
    sluice_json_arena_leave();
    sluice_json_arena_free(arena);
    return rc;
}

/* The pipeline as the request path runs it (gateway/ingest.c): every stage's jv form, in the
 * same order as pipeline_once_jansson's, on the body copied into the request's arena. Kept out
 * of line so callgrind can count exactly this function (--toggle-collect). */
__attribute__((noinline)) int pipeline_once(const sluice_runtime_t *rt, const char *body, size_t len);

__attribute__((noinline)) int pipeline_once(const sluice_runtime_t *rt, const char *body, size_t len)
{
    const sluice_config_t *cfg = rt->cfg;
    const sluice_source_rt_t *src = &rt->sources[0];
    sluice_event_error_t e;
    sluice_json_arena_t *arena = sluice_json_arena_new();
    char *text = arena != NULL ? sluice_json_arena_alloc(arena, len + 1) : NULL;
    sluice_jv_t *ev = NULL;
    int rc = -1;
    if (text != NULL) {
        memcpy(text, body, len);
        text[len] = '\0';
        ev = sluice_event_parse_jv(text, len, &cfg->limits, arena, NULL, &e);
    }
    if (ev == NULL || sluice_event_validate_jv(ev, SLUICE_EVENT_TRACK, &cfg->limits, "", len, arena, &e) < 0 ||
        sluice_consent_normalize_jv(ev, &src->org->consent, arena) != 0)
        goto done;
    sluice_event_enrich_t en = {.received_ms = 1795420800123LL, .client_ip = "203.0.113.9", .user_agent = user_agent};
    sluice_dl_result_jv_t dl;
    sluice_dl_stats_t st = {0};
    sluice_piiguard_stats_t gst;
    const sluice_piiguard_t *guard = rt->orgs[src->org_index].guard;
    uint64_t idfound;
    sluice_enrichment_req_t enr;
    sluice_reply_t reply = {0};
    sluice_enrichment_begin(&enr, &request, &worker, rt, src, &en);
    if (sluice_piiguard_ids_jv(guard, guard_thread, ev, arena, &idfound) != 0 ||
        sluice_event_enrich_jv(ev, &en, arena) != 0 || sluice_enrichment_event_jv(&enr, ev, &reply, arena) != 0 ||
        keep_cookie(&reply) != 0 ||
        sluice_datalayer_apply_jv(src->org, rt->orgs[src->org_index].variants, sluice_runtime_masker(rt, 0), ev, arena,
                                  &dl, &st) != 0 ||
        sluice_piiguard_apply_jv(guard, guard_thread, ev, arena, dl.privacy, en.received_ms, &idfound, &gst) != 0)
        goto done;
    size_t n;
    char *payload = sluice_envelope_encode_jv(src->org->id, src->src->id, ev, dl.privacy, dl.hashes, &n);
    rc = take_payload(payload, n);
done:
    sluice_json_arena_free(arena);
    return rc;
}

/* The last payload of one run of the pipeline on body, malloc'd (its size in *n), or NULL. */
static char *one_payload(const sluice_runtime_t *rt, const char *body, size_t len, int jv, size_t *n)
{
    int kept = keep_payload;
    keep_payload = 1;
    int rc = jv ? pipeline_once(rt, body, len) : pipeline_once_jansson(rt, body, len);
    char *out = rc == 0 ? kept_payload : NULL;
    if (rc != 0)
        free(kept_payload);
    kept_payload = NULL;
    keep_payload = kept;
    *n = payload_bytes;
    return out;
}

/* The made messageId's value blanked, so that two payloads can be compared. */
static void blank_message_id(char *p, size_t n)
{
    static const char key[] = "\"messageId\":\"";
    char *at = memmem(p, n, key, sizeof(key) - 1);
    for (at = at != NULL ? at + sizeof(key) - 1 : NULL; at != NULL && at < p + n && *at != '"'; at++)
        *at = '-';
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *buf = malloc(1 << 20);
    *len = buf ? fread(buf, 1, 1 << 20, f) : 0;
    fclose(f);
    return buf;
}

int main(int argc, char **argv)
{
    const char *config = NULL, *event = NULL, *guard_mode = NULL, *dump = NULL;
    long iterations = 1000;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--config") == 0)
            config = argv[i + 1];
        else if (strcmp(argv[i], "--event") == 0)
            event = argv[i + 1];
        else if (strcmp(argv[i], "--iterations") == 0)
            iterations = strtol(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--pii-guard") == 0) /* off|report|mask|hash for every org: its cost */
            guard_mode = argv[i + 1];
        else if (strcmp(argv[i], "--dump") == 0) /* the last Kafka payload, to this file */
            dump = argv[i + 1];
        else if (strcmp(argv[i], "--tree") == 0) /* jv (the request path's) or jansson (before the switch) */
            use_jansson = strcmp(argv[i + 1], "jansson") == 0;
    }
    if (config == NULL || event == NULL || iterations < 1) {
        fprintf(stderr, "usage: sluice-bench-pipeline --config F --event F [--iterations N]\n");
        return 2;
    }
    sluice_log_setup("bench", SLUICE_LOG_WARN, 2);
    size_t len;
    char *body = read_file(event, &len);
    if (body == NULL) {
        fprintf(stderr, "cannot read %s\n", event);
        return 1;
    }
    sluice_config_diag_t diag;
    sluice_config_diag_init(&diag);
    sluice_config_t *cfg = sluice_config_load(config, SLUICE_CONFIG_RESOLVE_SECRETS, &diag);
    for (size_t i = 0; i < diag.count; i++)
        fprintf(stderr, "%s\n", diag.msgs[i]);
    sluice_config_diag_dispose(&diag);
    static const char *const modes[] = {"off", "report", "mask", "hash"};
    for (size_t m = 0; cfg != NULL && guard_mode != NULL && m < 4; m++)
        if (strcmp(guard_mode, modes[m]) == 0)
            for (size_t o = 0; o < cfg->org_count; o++)
                cfg->orgs[o].pii_guard.mode = (sluice_pii_guard_mode_t)m;
    if (getenv("BENCH_NO_ARENA") == NULL)
        sluice_json_arena_install();
    /* OpenSSL sets its random generator up on first use (3.3M instructions, once per process, as
     * the gateway does at start-up): done here so that it is not counted as the first event's. */
    unsigned char warm[16];
    if (sluice_random_bytes(warm, sizeof(warm)) != 0) {
        fprintf(stderr, "no random bytes\n");
        return 1;
    }
    guard_thread = sluice_piiguard_thread_create();
    nums = sluice_jsonnum_new();
    sluice_err_t err = {{0}};
    sluice_keyring_t *keys = getenv("ENCRYPTION_KEY") ? sluice_keyring_from_env(&err) : NULL;
    sluice_runtime_t *rt = cfg ? sluice_runtime_create(cfg, 1, keys, NULL, NULL, NULL, &err) : NULL;
    if (rt == NULL) {
        fprintf(stderr, "runtime: %s\n", err.msg);
        return 1;
    }
    if (getenv("BENCH_UA") != NULL)
        user_agent = getenv("BENCH_UA");
    if ((gateway.secrets = sluice_secrets_load(cfg, 0, &err)) == NULL) {
        fprintf(stderr, "keys: %s\n", err.msg);
        return 1;
    }
    worker.gw = &gateway;
    h2o_mem_init_pool(&request.pool);
    h2o_add_header(&request.pool, &request.headers, H2O_TOKEN_USER_AGENT, NULL, user_agent, strlen(user_agent));
    request.authority = h2o_iovec_init(H2O_STRLIT("127.0.0.1"));
    {
        /* Both trees must write the same payload before the figures compare anything. Each run
         * takes a session cookie from the first one, as the timed loop's events do. */
        size_t na, nb;
        char *a = one_payload(rt, body, len, 0, &na), *b = one_payload(rt, body, len, 1, &nb);
        if (a != NULL && b != NULL) {
            blank_message_id(a, na);
            blank_message_id(b, nb);
        }
        int same = a != NULL && b != NULL && na == nb && memcmp(a, b, na) == 0;
        if (!same)
            fprintf(stderr, "jansson and jv payloads differ:\n%.*s\n%.*s\n", a ? (int)na : 0, a ? a : "",
                    b ? (int)nb : 0, b ? b : "");
        free(a);
        free(b);
        if (!same)
            return 1;
    }
    keep_payload = dump != NULL;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 0; i < iterations; i++)
        if ((use_jansson ? pipeline_once_jansson(rt, body, len) : pipeline_once(rt, body, len)) != 0) {
            fprintf(stderr, "the event was refused by the pipeline\n");
            return 1;
        }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ns = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / (double)iterations;
    if (dump != NULL) {
        FILE *df = fopen(dump, "wb");
        if (df == NULL || fwrite(kept_payload, 1, payload_bytes, df) != payload_bytes || fclose(df) != 0) {
            fprintf(stderr, "cannot write %s\n", dump);
            return 1;
        }
    }
    free(kept_payload);
    printf("iterations %ld\npayload_bytes %zu\nns_per_event %.0f\n", iterations, payload_bytes, ns);
    sluice_runtime_release(rt);
    sluice_secrets_free(gateway.secrets);
    h2o_mem_clear_pool(&request.pool);
    sluice_piiguard_thread_destroy(guard_thread);
    sluice_jsonnum_free(nums);
    sluice_keyring_free(keys);
    free(body);
    return 0;
}
