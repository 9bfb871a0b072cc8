/*
 * Fixture for the delivery tests: the dev Kafka broker, a throwaway PostgreSQL, the test CA,
 * HTTPS vendor stubs (tests/stubs/vendor_stub.c) that record what they receive, sluicectl (vault,
 * dlq) and the sluice-deliver process itself, all on loopback through the harness, which stops
 * everything at exit, also when a test fails.
 *
 * One thread; errors fail the calling cmocka test (test helpers, not library code).
 */
#ifndef SLUICE_TESTS_INTEGRATION_DELIVER_FIX_H
#define SLUICE_TESTS_INTEGRATION_DELIVER_FIX_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "tests/harness/harness.h"
#include "tests/harness/kafka.h"
#include "tests/harness/postgres.h"

/* The test key ring: ENCRYPTION_KEY for key id 1, and a second key for rotation tests. */
#define DFIX_KEY1 "8f2b5c1d9e0a4f3b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b"
#define DFIX_KEY2 "1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f00f"

typedef struct dstub {
    char name[32];
    int port;
    char url[128];      /* https://127.0.0.1:<port> */
    char log[PATH_MAX]; /* JSON lines, one per request */
    sluice_th_proc_t *proc;
} dstub_t;

typedef struct dfix {
    sluice_th_kafka_t kafka;
    const char *bootstrap; /* kafka.bootstrap, or an external one (dfix_use_kafka) */
    sluice_th_pg_t pg;
    char certs[PATH_MAX]; /* ca.crt, server.crt, server.key of the test CA */
    char ca[PATH_MAX + 16];
    char config[PATH_MAX];
    int metrics_port;
    unsigned max_in_flight; /* delivery.max_in_flight written by dfix_write_config; 0: the default */
    int pg_port;            /* fixed before PostgreSQL starts, so a config can name it first */
    sluice_th_proc_t *worker;
    const char *env[16]; /* the worker's extra environment (ENCRYPTION_KEY=...) */
} dfix_t;

/* Creates the certificates and picks ports; starts the dev Kafka (args: dev-kafka options, may
 * be NULL) unless bootstrap is given, and PostgreSQL unless start_pg is 0. */
void dfix_init(dfix_t *f, const char *bootstrap, const char *certs_dir, const char *const *kafka_args, int start_pg);

/* Starts PostgreSQL on f->pg_port (when dfix_init did not). */
void dfix_start_pg(dfix_t *f);

/* Runs scripts/certs.sh into dir. */
void dfix_make_certs(const char *dir);

/* Starts a stub named `name` with the given plan (NULL: always 200), serving TLS with the
 * certificate in certs_dir (NULL: the test CA's). */
void dfix_stub(dfix_t *f, dstub_t *s, const char *name, const char *plan, const char *certs_dir);

/* Replaces a running stub's plan. */
void dfix_stub_plan(const dfix_t *f, const dstub_t *s, const char *plan);

/* Replaces a running stub's plan, whose answers then go only to requests whose body contains
 * match (plain text, no characters that need escaping in a query); every other request gets the
 * default. For tests where a late delivery of an earlier event must not take a planned answer. */
void dfix_stub_plan_for(const dfix_t *f, const dstub_t *s, const char *plan, const char *match);

/* How many ms ago the newest request the stub left hanging came in (its plan's `hang`); -1: none
 * yet. Asks the stub, so it is cheap enough to poll. */
long dfix_stub_hung_age_ms(const dfix_t *f, const dstub_t *s);

/* Every request the stub recorded: [{method, path, query, headers{}, body, json (parsed body),
 * ts_ms}]. Caller decrefs. */
json_t *dfix_requests(const dstub_t *s);

/* Waits until the stub recorded at least n requests; returns how many it has. */
size_t dfix_wait_requests(const dstub_t *s, size_t n, int timeout_ms);

/* The requests the stub recorded whose body contains needle, in arrival order. New reference. */
json_t *dfix_requests_with(const dstub_t *s, const char *needle);

/* The first request whose body contains needle, polled for up to timeout_ms; fails the test
 * when none came. New reference. */
json_t *dfix_wait_request(const dstub_t *s, const char *needle, int timeout_ms);

/* The distinct event ids (Meta event_id, TikTok event_id, GA4 params.event_id is absent so the
 * webhook/GA4 callers pass their own path) in every request's JSON body under `array` (e.g.
 * "data") at member `id`. Returns a new object used as a set: {"id": count, ...}. */
json_t *dfix_event_ids(json_t *requests, const char *array, const char *id);

/* Writes the config: the process settings (Kafka, PostgreSQL, delivery with the test CA and a
 * metrics port) and one org "acme" whose `integrations:` list is integrations_yaml (indented by
 * six spaces, one "- {...}" per line). extra_top is appended at the top level (may be NULL). */
void dfix_write_config(dfix_t *f, const char *integrations_yaml, const char *extra_top);

/* Inserts text into f->config right after the first `after`, which must be there. */
void dfix_config_insert(const dfix_t *f, const char *after, const char *text);

/* Test-only hooks to see into a worker's Kafka clients, for the config just written (its
 * kafka.properties must end with the fixture's `topic.metadata.refresh.interval.ms: 1000`):
 * DFIX_KAFKA_DEBUG, librdkafka's `debug` contexts (cgrp,fetch,topic), also sets the workers'
 * log level to debug, where librdkafka's lines go; DFIX_KAFKA_PROPS adds properties as YAML
 * flow entries ('partition.assignment.strategy: cooperative-sticky'). Unset: nothing changes. */
void dfix_kafka_env(dfix_t *f);

/* Prints the last `bytes` of the log at path on stdout, whole: cmocka's print_message cuts its
 * output at 1,023 bytes, which kept the oldest kilobyte of a log's end and lost the newest lines. */
void dfix_print_log_end(const char *path, size_t bytes);

/* `sluicectl vault put` with the secret on stdin. */
void dfix_vault_put(dfix_t *f, const char *name, const char *vendor, const char *secret);

/* Runs sluicectl with args (after "sluicectl") and env (may be NULL), input on stdin. */
void dfix_sluicectl(const dfix_t *f, const char *const *args, const char *const *env, const char *input,
                    sluice_th_output_t *out);

/* dfix_sluicectl, failing the test (with its output) unless it exits with want_exit. */
void dfix_sluicectl_exit(const dfix_t *f, const char *const *args, const char *const *env, const char *input,
                         int want_exit, sluice_th_output_t *out);

/* The first column of the first row of q on db ("" for none, or for a command), failing the test
 * when q fails. Caller frees. */
char *dfix_sql1(PGconn *db, const char *q);

/* Starts sluice-deliver on f->config with f->env (extra args may be NULL) and waits until it has
 * partitions assigned for `lanes` vendors. */
void dfix_start_worker(dfix_t *f, const char *const *args, int lanes);

/* Produces n reference envelopes with ids <prefix>-<i> (five digits), all with the envelope's
 * anonymousId (one key: one partition) or, with spread, each its own (over every partition). */
void dfix_produce_events(const dfix_t *f, const char *prefix, int n, int spread);

/* Events in the stub's 2xx answers to webhook requests (body batch[].event.messageId) whose id
 * starts with prefix ("": all): *distinct ids, and *events all of them (one sent again counts
 * twice). */
void dfix_accepted(const dstub_t *s, const char *prefix, size_t *distinct, size_t *events);

/* How many times `what` is in p's log. */
int dfix_log_count(const sluice_th_proc_t *p, const char *what);

/* Waits up to 60 s until `what` is in p's log `count` times; fails the test otherwise. */
void dfix_wait_log(sluice_th_proc_t *p, const char *what, int count);

/* Starts another sluice-deliver of the same groups: f->config on a free metrics port, written to
 * <name>.yaml, logging to <name>.log; waits until it has partitions assigned for `lanes` vendors
 * (0: does not wait). Stopped by the harness at exit, or by sluice_th_proc_stop. */
sluice_th_proc_t *dfix_start_second_worker(const dfix_t *f, const char *name, int lanes);

/* Sends sig and waits for the exit; returns the wait status. */
int dfix_stop_worker(dfix_t *f, int sig);

/* The reference envelope (tests/fixtures/vendors/envelope.json) for org "acme", with messageId
 * id, timestamp and receivedAt set to now_ms (and now_ms - 400 for the timestamp), and the JSON
 * object `edit` merged into the event (may be NULL). Caller frees. */
char *dfix_envelope(const char *id, int64_t now_ms, const char *edit);

/* Produces the envelopes to the events topic with key acme:<anonymousId> and headers org,
 * source, type (plus extra headers "name=value", NULL-terminated, may be NULL); waits for acks. */
void dfix_produce(const dfix_t *f, char *const *envelopes, size_t n, const char *const *headers);

/* Produces payload[0..len) as it is (no key, no headers) to the events topic, up to 8 MB. */
void dfix_produce_raw(const dfix_t *f, const char *payload, size_t len);

/* `sluicectl dlq list` (args after it, e.g. "--vendor", "meta"), parsed: one object per line. */
json_t *dfix_dlq_list(const dfix_t *f, const char *const *args);

/* A series' value from the worker's /metrics (exact series text); -1 when absent. */
double dfix_metric(const dfix_t *f, const char *series);

/* The wall clock in ms. */
int64_t dfix_now_ms(void);

#endif
