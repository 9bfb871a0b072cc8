/*
 * Prometheus rendering of the per-thread gateway counters. Writers are the event-loop threads
 * (each its own block); rendering runs on whichever thread serves /metrics.
 */
#include "gateway/metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const int statuses[] = SLUICE_METRIC_STATUSES;

static const char *const route_names[SLUICE_ROUTE_COUNT] = {
    "track", "page",      "screen", "identify",  "group",   "alias",  "batch",   "pixel", "events",
    "xd",    "xd_redeem", "tag",    "preflight", "healthz", "readyz", "metrics", "other",
};

static const char *const reject_names[SLUICE_REJECT_COUNT] = {
    "invalid_json",       "invalid_event",          "payload_too_large", "unauthorized",
    "origin_not_allowed", "rate_limited",           "kafka_unavailable", "mask_failed",
    "duplicate",          "unsupported_media_type", "replayed",          "replay_check_unavailable",
    "request_in_flight",
};

static const char *const limit_names[SLUICE_LIMIT_COUNT] = {"write_key", "client"};

static const char *const conn_refusal_names[SLUICE_CONN_REFUSAL_COUNT] = {
    "max_connections", "max_connections_per_ip", "fd_limit", "http2_resets", "slow_request", "metrics_max_connections",
};

static const unsigned ack_bounds_ms[SLUICE_ACK_BUCKETS] = {1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000};

const char *sluice_route_name(sluice_route_t r)
{
    return (unsigned)r < SLUICE_ROUTE_COUNT ? route_names[r] : "other";
}

void sluice_metrics_count_request(sluice_gw_metrics_t *m, sluice_route_t route, int status)
{
    size_t i = 0;
    while (i < SLUICE_METRIC_STATUS_COUNT - 1 && statuses[i] != status)
        i++;
    sluice_counter_add(&m->requests[route][i], 1);
}

void sluice_metrics_observe_ack(sluice_gw_metrics_t *m, uint64_t micros)
{
    size_t b = 0;
    while (b < SLUICE_ACK_BUCKETS && micros > (uint64_t)ack_bounds_ms[b] * 1000)
        b++;
    sluice_counter_add(&m->ack_bucket[b], 1);
    sluice_counter_add(&m->ack_count, 1);
    sluice_counter_add(&m->ack_sum_us, micros);
}

typedef struct out {
    char *buf;
    size_t len, cap;
} out_t;

static void emit(out_t *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void emit(out_t *o, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if ((size_t)n < o->cap - o->len) {
            o->len += (size_t)n;
            return;
        }
        size_t cap = o->cap * 2 + (size_t)n;
        char *nb = realloc(o->buf, cap);
        if (nb == NULL)
            abort(); /* core code may abort on OOM (STYLE.md) */
        o->buf = nb;
        o->cap = cap;
    }
}

static uint64_t sum(sluice_gw_metrics_t *const *blocks, size_t n, size_t offset)
{
    uint64_t s = 0;
    for (size_t i = 0; i < n; i++)
        s += atomic_load_explicit((sluice_counter_t *)((char *)blocks[i] + offset), memory_order_relaxed);
    return s;
}

#define SUM(field) sum(blocks, n, offsetof(sluice_gw_metrics_t, field))

char *sluice_metrics_render(sluice_gw_metrics_t *const *blocks, size_t n, sluice_metrics_extra_fn extra, void *ud,
                            size_t *len)
{
    out_t o = {malloc(16384), 0, 16384};
    if (o.buf == NULL)
        abort();

    emit(&o, "# HELP sluice_http_requests_total HTTP requests answered, by route and status.\n"
             "# TYPE sluice_http_requests_total counter\n");
    for (size_t r = 0; r < SLUICE_ROUTE_COUNT; r++)
        for (size_t s = 0; s < SLUICE_METRIC_STATUS_COUNT; s++) {
            uint64_t v = SUM(requests[r][s]);
            if (v == 0)
                continue;
            if (s < SLUICE_METRIC_STATUS_COUNT - 1)
                emit(&o, "sluice_http_requests_total{route=\"%s\",status=\"%d\"} %llu\n", route_names[r], statuses[s],
                     (unsigned long long)v);
            else
                emit(&o, "sluice_http_requests_total{route=\"%s\",status=\"other\"} %llu\n", route_names[r],
                     (unsigned long long)v);
        }

    emit(&o,
         "# HELP sluice_events_accepted_total Events of requests answered 2xx: acknowledged by Kafka (or queued with "
         "ack: queued).\n"
         "# TYPE sluice_events_accepted_total counter\nsluice_events_accepted_total %llu\n",
         (unsigned long long)SUM(events_accepted));
    emit(&o,
         "# HELP sluice_events_consent_dropped_total Events accepted but not queued by the consent policy drop.\n"
         "# TYPE sluice_events_consent_dropped_total counter\nsluice_events_consent_dropped_total %llu\n",
         (unsigned long long)SUM(events_consent_dropped));
    emit(&o, "# HELP sluice_events_rejected_total Events refused, by reason.\n"
             "# TYPE sluice_events_rejected_total counter\n");
    for (size_t r = 0; r < SLUICE_REJECT_COUNT; r++)
        emit(&o, "sluice_events_rejected_total{reason=\"%s\"} %llu\n", reject_names[r],
             (unsigned long long)SUM(events_rejected[r]));

    emit(&o, "# HELP sluice_kafka_ack_seconds Time from produce to broker acknowledgement.\n"
             "# TYPE sluice_kafka_ack_seconds histogram\n");
    uint64_t cumulative = 0;
    for (size_t b = 0; b < SLUICE_ACK_BUCKETS; b++) {
        cumulative += SUM(ack_bucket[b]);
        emit(&o, "sluice_kafka_ack_seconds_bucket{le=\"%g\"} %llu\n", ack_bounds_ms[b] / 1000.0,
             (unsigned long long)cumulative);
    }
    cumulative += SUM(ack_bucket[SLUICE_ACK_BUCKETS]);
    emit(&o,
         "sluice_kafka_ack_seconds_bucket{le=\"+Inf\"} %llu\nsluice_kafka_ack_seconds_sum %.6f\n"
         "sluice_kafka_ack_seconds_count %llu\n",
         (unsigned long long)cumulative, SUM(ack_sum_us) / 1e6, (unsigned long long)SUM(ack_count));
    emit(&o,
         "# HELP sluice_kafka_delivery_failed_total Messages Kafka did not acknowledge.\n"
         "# TYPE sluice_kafka_delivery_failed_total counter\nsluice_kafka_delivery_failed_total %llu\n",
         (unsigned long long)SUM(kafka_delivery_failed));
    emit(&o,
         "# HELP sluice_kafka_late_acks_total Events Kafka acknowledged whose request was answered 503 (ack "
         "timeout, a full producer queue, another of its messages refused): counted refused, not accepted; the "
         "client's retry sends them again.\n"
         "# TYPE sluice_kafka_late_acks_total counter\nsluice_kafka_late_acks_total %llu\n",
         (unsigned long long)SUM(kafka_late_acks));
    emit(&o,
         "# HELP sluice_kafka_lost_after_answer_total Events whose request was answered 2xx (kafka.ack: queued) and "
         "that Kafka then refused: counted accepted, and in no topic.\n"
         "# TYPE sluice_kafka_lost_after_answer_total counter\nsluice_kafka_lost_after_answer_total %llu\n",
         (unsigned long long)SUM(kafka_lost));
    emit(&o,
         "# HELP sluice_requests_in_flight Requests waiting for Kafka acknowledgements or Redis.\n"
         "# TYPE sluice_requests_in_flight gauge\nsluice_requests_in_flight %llu\n",
         (unsigned long long)SUM(in_flight));

    emit(&o, "# HELP sluice_fields_hashed_total PII values normalised and SHA-256 hashed, by normaliser.\n"
             "# TYPE sluice_fields_hashed_total counter\n");
    for (int k = 0; k <= SLUICE_NORM_RAW; k++)
        emit(&o, "sluice_fields_hashed_total{normalizer=\"%s\"} %llu\n", sluice_normalizer_name((sluice_normalizer_t)k),
             (unsigned long long)SUM(hashed[k]));
    emit(&o,
         "# HELP sluice_fields_hash_failed_total Values that could not be normalised and were removed.\n"
         "# TYPE sluice_fields_hash_failed_total counter\nsluice_fields_hash_failed_total %llu\n",
         (unsigned long long)SUM(hash_failed));
    emit(&o,
         "# HELP sluice_fields_masked_total Values masked by plugins.\n"
         "# TYPE sluice_fields_masked_total counter\nsluice_fields_masked_total %llu\n",
         (unsigned long long)SUM(masked));
    emit(&o,
         "# HELP sluice_fields_mask_failed_total Values a plugin failed on (removed, or the event rejected).\n"
         "# TYPE sluice_fields_mask_failed_total counter\nsluice_fields_mask_failed_total %llu\n",
         (unsigned long long)SUM(mask_failed));
    emit(&o,
         "# HELP sluice_fields_dropped_total Fields removed by drop rules.\n"
         "# TYPE sluice_fields_dropped_total counter\nsluice_fields_dropped_total %llu\n",
         (unsigned long long)SUM(dropped_fields));

    emit(&o, "# HELP sluice_rate_limited_total Requests answered 429, by the bucket that refused them.\n"
             "# TYPE sluice_rate_limited_total counter\n");
    for (size_t l = 0; l < SLUICE_LIMIT_COUNT; l++)
        emit(&o, "sluice_rate_limited_total{scope=\"%s\"} %llu\n", limit_names[l],
             (unsigned long long)SUM(rate_limited[l]));
    emit(&o,
         "# HELP sluice_pii_values_detected_total Values in fields no rule names where the PII guard found personal "
         "data.\n# TYPE sluice_pii_values_detected_total counter\nsluice_pii_values_detected_total %llu\n"
         "# HELP sluice_pii_values_changed_total Of those, values the guard masked, hashed or removed.\n"
         "# TYPE sluice_pii_values_changed_total counter\nsluice_pii_values_changed_total %llu\n",
         (unsigned long long)SUM(pii_detected), (unsigned long long)SUM(pii_changed));
    emit(&o,
         "# HELP sluice_bots_total Requests' events from bots, by the org's action (drop: never queued).\n"
         "# TYPE sluice_bots_total counter\nsluice_bots_total{action=\"keep\"} %llu\n"
         "sluice_bots_total{action=\"flag\"} %llu\nsluice_bots_total{action=\"drop\"} %llu\n"
         "# HELP sluice_enrich_ua_total User agents parsed, by where the answer came from.\n"
         "# TYPE sluice_enrich_ua_total counter\nsluice_enrich_ua_total{source=\"cache\"} %llu\n"
         "sluice_enrich_ua_total{source=\"regexes\"} %llu\n"
         "# HELP sluice_enrich_geo_total Geolocation lookups, by result.\n"
         "# TYPE sluice_enrich_geo_total counter\nsluice_enrich_geo_total{result=\"found\"} %llu\n"
         "sluice_enrich_geo_total{result=\"unknown\"} %llu\n"
         "# HELP sluice_sessions_started_total Sessions started (a first visit, or after the inactivity timeout).\n"
         "# TYPE sluice_sessions_started_total counter\nsluice_sessions_started_total %llu\n",
         (unsigned long long)SUM(bots[SLUICE_BOTS_KEEP]), (unsigned long long)SUM(bots[SLUICE_BOTS_FLAG]),
         (unsigned long long)SUM(bots[SLUICE_BOTS_DROP]), (unsigned long long)SUM(ua_cache_hits),
         (unsigned long long)SUM(ua_cache_misses), (unsigned long long)SUM(geo[0]), (unsigned long long)SUM(geo[1]),
         (unsigned long long)SUM(sessions_started));
    emit(&o,
         "# HELP sluice_invalid_recorded_total Refused events recorded (masked, with the reason) in the invalid "
         "topic.\n"
         "# TYPE sluice_invalid_recorded_total counter\nsluice_invalid_recorded_total %llu\n",
         (unsigned long long)SUM(invalid_recorded));
    emit(&o,
         "# HELP sluice_bodies_inflated_total Request bodies gunzipped (only ever after authentication).\n"
         "# TYPE sluice_bodies_inflated_total counter\nsluice_bodies_inflated_total %llu\n",
         (unsigned long long)SUM(inflated));
    emit(&o,
         "# HELP sluice_connections_open Client connections open now.\n"
         "# TYPE sluice_connections_open gauge\nsluice_connections_open %llu\n",
         (unsigned long long)SUM(conn_open));
    emit(&o, "# HELP sluice_connections_closed_total Connections the gateway closed itself, by guard.\n"
             "# TYPE sluice_connections_closed_total counter\n");
    for (size_t c = 0; c < SLUICE_CONN_REFUSAL_COUNT; c++)
        emit(&o, "sluice_connections_closed_total{reason=\"%s\"} %llu\n", conn_refusal_names[c],
             (unsigned long long)SUM(conn_closed[c]));
    emit(&o,
         "# HELP sluice_http2_streams_reset_total HTTP/2 streams abandoned before their answer.\n"
         "# TYPE sluice_http2_streams_reset_total counter\nsluice_http2_streams_reset_total %llu\n",
         (unsigned long long)SUM(h2_resets));
    emit(&o,
         "# HELP sluice_http2_refused_in_flight_total HTTP/2 requests refused at their connection's in-flight cap.\n"
         "# TYPE sluice_http2_refused_in_flight_total counter\nsluice_http2_refused_in_flight_total %llu\n",
         (unsigned long long)SUM(h2_refused_in_flight));

    emit(&o, "# HELP sluice_tls_handshakes_total TLS handshakes of the HTTPS listener, by version and kind: full, or "
             "resumed (a session ticket or a TLS 1.2 session id).\n"
             "# TYPE sluice_tls_handshakes_total counter\n");
    for (size_t v = 0; v < 2; v++)
        for (size_t k = 0; k < 2; k++)
            emit(&o, "sluice_tls_handshakes_total{version=\"%s\",kind=\"%s\"} %llu\n", v ? "TLSv1.3" : "TLSv1.2",
                 k ? "resumed" : "full", (unsigned long long)SUM(tls_handshakes[v][k]));
    emit(&o,
         "# HELP sluice_tls_tickets_refused_total Session tickets clients offered that did not resume, by reason: "
         "unknown_key (under a key this gateway does not hold: another secret, another gateway's random keys, or "
         "more than two periods old), expired (opened, but its session was past its lifetime).\n"
         "# TYPE sluice_tls_tickets_refused_total counter\n"
         "sluice_tls_tickets_refused_total{reason=\"unknown_key\"} %llu\n"
         "sluice_tls_tickets_refused_total{reason=\"expired\"} %llu\n",
         (unsigned long long)SUM(tls_tickets_refused[0]), (unsigned long long)SUM(tls_tickets_refused[1]));

    emit(&o, "# HELP sluice_xd_tokens_total Cross-domain tokens issued and redemption outcomes.\n"
             "# TYPE sluice_xd_tokens_total counter\n");
    for (size_t t = 0; t < SLUICE_TOKEN_OUTCOME_COUNT; t++)
        emit(&o, "sluice_xd_tokens_total{outcome=\"%s\"} %llu\n", sluice_token_outcome_name((int)t),
             (unsigned long long)SUM(tokens[t]));
    if (extra != NULL) {
        for (;;) {
            size_t room = o.cap - o.len;
            size_t w = extra(ud, o.buf + o.len, room);
            if (w < room) {
                o.len += w;
                break;
            }
            /* extra says how much it needs (or only that it needs more): grow to that at once,
             * since each try renders everything again (with 2,000 orgs' plugin series, doubling
             * from 16 KB rendered them nine times over per scrape). */
            size_t cap = o.len + w + 1 > o.cap * 2 ? o.len + w + 1 : o.cap * 2;
            char *nb = realloc(o.buf, cap);
            if (nb == NULL)
                abort();
            o.buf = nb;
            o.cap = cap;
        }
    }
    *len = o.len;
    return o.buf;
}
