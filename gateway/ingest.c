/*
 * The gateway's event pipeline. A request goes through three phases on its loop thread:
 *   1. synchronous: media type, gzip, parse, authenticate, CORS, rate limit, validate, enrich;
 *   2. identity: Redis work (dedup lookups), asynchronous, bounded by the Redis timeout;
 *   3. synchronous again: data layer, envelope, produce; then wait for Kafka's acknowledgements
 *      (bounded by kafka.ack_timeout_ms) and answer.
 * Events are arena values (json/jv.h, issue 17 step 2) from the parse to the envelope: the body
 * is copied into the request's arena and parsed there, every stage runs its jv form, and the
 * arena goes back whole. The answer's list of refusals, /xd, /xd/redeem and a pixel's query
 * parameters (built, then written and parsed) stay jansson values: none is on the event's path.
 * The `pending` record of phases 2 and 3 holds a runtime reference and outlives the HTTP
 * request if the client goes away, until every delivery report is back; nothing accepted is
 * answered 2xx before Kafka has it (unless the operator chose `ack: queued`).
 */
#include "gateway/ingest.h"

#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/asan.h"
#include "common/log.h"
#include "config/path.h"
#include "crypto/base64url.h"
#include "crypto/ct.h"
#include "crypto/hash.h"
#include "common/hex.h"
#include "common/time.h"
#include "enrich/ua.h"
#include "gateway/batch_shared.h"
#include "gateway/consent.h"
#include "gateway/datalayer.h"
#include "gateway/enrichment.h"
#include "gateway/envelope.h"
#include "gateway/forgotten.h"
#include "gateway/gzip.h"
#include "gateway/http.h"
#include "gateway/invalid.h"
#include "gateway/live.h"
#include "json/arena.h"
#include "json/jv.h"
#include "json/write.h"
#include "identity/identity.h"

#define SIGNATURE_WINDOW_MS (5 * 60 * 1000)

typedef struct pending pending_t;

/* One event handed to Kafka, and its delivery report's opaque. librdkafka orders reports only
 * within a partition, so a report must name its own event: counting reports in arrival order
 * once remembered the wrong messageIds as delivered (dedup then skipped the client's retry of
 * events Kafka never had). The array is allocated once per request, not per message. */
typedef struct pending_msg {
    pending_t *owner;
    size_t message_id; /* the event's messageId as received (dedup key): 1 + its offset in the
                        * request's `ids`, or 0 for none (a copy: the event's values are gone by
                        * the time Kafka reports) */
    char *subject;     /* the dedup key's value: pseudonyms of the event's ids (forgotten.h), or NULL */
    int invalid;       /* the record of a refused event (kafka.invalid_topic), not an event */
} pending_msg_t;

/* A refused event kept for its record in kafka.invalid_topic (add_rejection, record_invalid). */
typedef struct pending_invalid {
    sluice_jv_t *event; /* as refused (scrubbed), where it sits in the body; NULL when nothing of it is kept */
    sluice_jv_t *error; /* {index, code, message[, path]}: the answer's entry, read into the arena */
} pending_invalid_t;

/* Where each event of `events` came from; one per event. */
typedef struct pending_accepted {
    size_t index;     /* the event's index in the batch */
    uint64_t idfound; /* what the PII guard found in its ids (sluice_piiguard_ids) */
} pending_accepted_t;

/* The per-request lists (`accepted`, `msgs`, `ids`) live in the record itself while they are
 * small, which a single event's always are: three malloc/free pairs per request less (about
 * 850 instructions in the allocator, docs/performance.md). A longer batch's lists are malloc'd as before. The
 * spare slots are poisoned under AddressSanitizer (accept_events, produce_all), so a read past
 * the list is reported as it was past a malloc'd one. */
#define PENDING_INLINE_EVENTS 4   /* accepted: a batch of up to 4; msgs: up to 3 (events + records + 1) */
#define PENDING_INLINE_IDS    256 /* bytes of messageIds: six UUIDs */

typedef struct pending_xd {
    char first[SLUICE_ID_MAX + 1], origin[SLUICE_URL_HOST_MAX + 1], to[SLUICE_URL_HOST_MAX + 1];
} pending_xd_t;

struct pending {
    pending_t *pool_next; /* in the worker's pool of free records (pending_new); first: never poisoned */
    sluice_worker_t *w;
    h2o_req_t *req;       /* NULL once the client has gone */
    pending_t **slot;     /* lives in req->pool; cleared when either side goes first */
    sluice_runtime_t *rt; /* the config this request started on */
    const sluice_source_rt_t *src;
    sluice_reply_t reply;
    int batch;                    /* answer with per-event results */
    sluice_jv_t *events;          /* validated events waiting for identity and the data layer (in arena) */
    pending_accepted_t *accepted; /* [sluice_jv_array_size(events)], one per event in `events`: accepted_inline
                                   * or malloc'd */
    json_t *rejected;             /* [{index, code, message, path}], or NULL until the first (add_rejection);
                                   * malloc'd jansson values: the answer outlives the arena */
    pending_invalid_t *invalid;   /* [invalid_count]: refused events to record in kafka.invalid_topic, in arena */
    size_t invalid_count, invalid_cap;
    json_t *no_events; /* /xd/redeem: the empty list its identity job reads (jansson) */
    unsigned consent_dropped, duplicates;
    unsigned suppressed; /* events of forgotten people: dropped, answered as accepted */
    sluice_identity_job_t job;
    unsigned outstanding; /* produced, not yet reported */
    unsigned produced, acked, failed;
    unsigned events_produced; /* of `produced`, events (the rest are records of refused ones) */
    int timed_out;            /* answered 503 with events handed to Kafka: they were counted refused (count_answer) */
    int counted;              /* its events were counted by the answer (count_answer) */
    int responded;
    int waiting_acks;
    uint64_t produce_us;
    uint64_t ack_due_us; /* when the acks are late, on the monotonic clock (not the loop's) */
    h2o_timeout_entry_t timeout;
    pending_msg_t *msgs; /* [produced]: one per message handed to Kafka; msgs_inline or malloc'd */
    char *ids;           /* the produced events' messageIds, NUL-terminated one after another; ids_inline
                          * or malloc'd */
    size_t ids_len, ids_cap;
    sluice_json_arena_t *arena; /* where the body, its values and everything added to them live, or NULL */
    sluice_conn_t *conn;        /* HTTP/2: the connection whose in-flight place this holds (conn.h) */
    /* GET /xd waiting for Redis to claim its first id: that id and the hosts of the request,
     * malloc'd by the route that needs them (the other requests' records are 637 bytes smaller) */
    pending_xd_t *xd;
    pending_accepted_t accepted_inline[PENDING_INLINE_EVENTS];
    pending_msg_t msgs_inline[PENDING_INLINE_EVENTS];
    char ids_inline[PENDING_INLINE_IDS]; /* read only up to ids_len, which is zeroed */
};

/* ------------------------------------------------------------------ pending lifetime */

static void on_req_gone(void *slot)
{
    pending_t *p = *(pending_t **)slot;
    if (p != NULL) {
        p->req = NULL;
        p->slot = NULL;
        /* An HTTP/2 stream reset (or its connection gone) before the answer: the work goes on,
         * holding the connection's place, and the reset counts against it. */
        if (p->conn != NULL && !p->responded)
            sluice_conn_reset(p->conn, &p->rt->cfg->server.http2_guard.resets);
    }
}

/* Records of finished requests are kept on their loop thread (w->pending_pool, at most
 * PENDING_POOL_MAX) for the next request: a record was 8.7 KB, most of it the identity job's text
 * buffers, and calloc zeroed all of it for every request (about 9k instructions, 0.35 µs on this
 * VM; docs/performance.md); it is 2.6 KB since the job allocates those as it fills them. A
 * record is only ever taken and given back on its worker's thread (delivery reports and Redis
 * replies are served on it), so the pool needs no lock. */
#define PENDING_POOL_MAX 64

/* A record as calloc gave it, but for ids_inline, read only up to ids_len (zeroed), which is left
 * as the last request wrote it: every other field, the identity job's included, is zeroed, and a
 * field added later with them. The identity job keeps no text buffers it rarely fills (its cookies
 * and vendor ids are allocated as they are made, issue 17's peak RSS), so there is nothing else
 * worth leaving out. */
_Static_assert(offsetof(pending_t, ids_inline) + PENDING_INLINE_IDS + _Alignof(pending_t) > sizeof(pending_t),
               "ids_inline must be the record's last member");
static void pending_reset(pending_t *p)
{
    memset(p, 0, offsetof(pending_t, ids_inline));
    p->ids_inline[0] = '\0';
}

static pending_t *pending_new(h2o_req_t *req, sluice_worker_t *w, const sluice_reply_t *reply)
{
    pending_t *p = w->pending_pool;
    if (p != NULL) {
        SLUICE_ASAN_UNPOISON(p, sizeof(*p));
        w->pending_pool = p->pool_next;
        w->pending_pooled--;
        pending_reset(p);
    } else if ((p = calloc(1, sizeof(*p))) == NULL) {
        return NULL;
    }
    p->w = w;
    p->req = req;
    p->rt = sluice_runtime_acquire(w->rt);
    p->reply = *reply;
    p->slot = h2o_mem_alloc_shared(&req->pool, sizeof(*p->slot), on_req_gone);
    *p->slot = p;
    /* rejected and invalid are made by the first refusal (add_rejection): most requests have none;
     * events by accept_events, in the body's arena */
    if (req->version >= 0x200 && (p->conn = sluice_conn_of(req)) != NULL)
        sluice_conn_begin(p->conn, UINT_MAX); /* the handler already checked the connection's cap */
    w->in_flight++;
    sluice_counter_add(&w->metrics.in_flight, 1);
    return p;
}

static void pending_free(pending_t *p)
{
    sluice_worker_t *w = p->w;
    if (p->slot != NULL)
        *p->slot = NULL;
    if (h2o_timeout_is_linked(&p->timeout))
        h2o_timeout_unlink(&p->timeout);
    sluice_identity_job_dispose(&p->job);
    json_decref(p->rejected);
    json_decref(p->no_events);
    free(p->xd);
    if (p->accepted != p->accepted_inline)
        free(p->accepted);
    for (unsigned i = 0; i < p->produced; i++)
        free(p->msgs[i].subject);
    if (p->msgs != p->msgs_inline)
        free(p->msgs);
    if (p->ids != p->ids_inline)
        free(p->ids);
    sluice_json_arena_free(p->arena); /* the body's values: nothing above points into them */
    if (p->conn != NULL)
        sluice_conn_end(p->conn);
    w->in_flight--;
    sluice_counter_add(&w->metrics.in_flight, (uint64_t)-1);
    sluice_runtime_release(p->rt);
    if (w->pending_pooled >= PENDING_POOL_MAX) {
        SLUICE_ASAN_UNPOISON(p, sizeof(*p)); /* the inline lists' spare slots */
        free(p);
        return;
    }
    /* Kept for the next request; under AddressSanitizer a use of it before then is reported as
     * a use after free would be. */
    p->pool_next = w->pending_pool;
    w->pending_pool = p;
    w->pending_pooled++;
    SLUICE_ASAN_POISON((char *)p + sizeof(p->pool_next), sizeof(*p) - sizeof(p->pool_next));
}

void sluice_ingest_pool_drain(sluice_worker_t *w)
{
    while (w->pending_pool != NULL) {
        pending_t *p = w->pending_pool;
        w->pending_pool = p->pool_next;
        SLUICE_ASAN_UNPOISON(p, sizeof(*p));
        free(p);
    }
    w->pending_pooled = 0;
}

/* ------------------------------------------------------------------ answers */

static void reject_metric_n(sluice_worker_t *w, const char *code, size_t n)
{
    static const struct {
        const char *code;
        sluice_reject_reason_t reason;
    } map[] = {
        {"invalid_json", SLUICE_REJECT_INVALID_JSON},
        {"invalid_event", SLUICE_REJECT_INVALID_EVENT},
        {"payload_too_large", SLUICE_REJECT_TOO_LARGE},
        {"unauthorized", SLUICE_REJECT_UNAUTHORIZED},
        {"bad_signature", SLUICE_REJECT_UNAUTHORIZED},
        {"stale_timestamp", SLUICE_REJECT_UNAUTHORIZED},
        {"origin_not_allowed", SLUICE_REJECT_ORIGIN},
        {"rate_limited", SLUICE_REJECT_RATE_LIMITED},
        {"kafka_unavailable", SLUICE_REJECT_KAFKA},
        {"mask_failed", SLUICE_REJECT_MASK},
        {"unsupported_media_type", SLUICE_REJECT_MEDIA_TYPE},
        {"replayed", SLUICE_REJECT_REPLAYED},
        {"replay_check_unavailable", SLUICE_REJECT_REPLAY_CHECK},
        {"request_in_flight", SLUICE_REJECT_IN_FLIGHT},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strcmp(map[i].code, code) == 0) {
            sluice_counter_add(&w->metrics.events_rejected[map[i].reason], n);
            return;
        }
}

/* A refusal of a request before its body was read, or of one event. */
static void reject_metric(sluice_worker_t *w, const char *code)
{
    reject_metric_n(w, code, 1);
}

/* Refuses the whole request. */
static int refuse(h2o_req_t *req, sluice_worker_t *w, const sluice_reply_t *r, int status, const char *code,
                  const char *message, const char *path)
{
    reject_metric(w, code);
    /* Refused before the origin was judged against a source (no key, a wrong or retired one, an
     * encoding, a size as sent): a page of a site some source allows may read why, as its
     * preflight already could. Without the headers the browser reports a network error, and a
     * tag cannot tell a retired key from an outage. */
    sluice_reply_t echo;
    if (r->origin.base == NULL) {
        h2o_iovec_t origin = sluice_http_header_str(req, "origin");
        if (origin.base != NULL && sluice_runtime_origin_allowed(w->rt, NULL, origin.base, origin.len)) {
            echo = *r;
            echo.origin = origin;
            r = &echo;
        }
    }
    sluice_reply_error(req, w, r, status, code, message, path);
    return 0;
}

/* Keeps ev (may be NULL) and its answer's entry r for the record record_invalid makes. The
 * entry is read into the arena as written (json/write.h), so that the record names the error in
 * exactly the bytes the answer does (a path or message jansson could not take is left out of
 * both alike). Nothing is kept when memory runs out, as a list that could not grow kept nothing. */
static void keep_invalid(pending_t *p, const json_t *r, sluice_jv_t *ev)
{
    sluice_json_arena_t *a = p->arena;
    size_t n;
    char *text = r != NULL ? sluice_json_encode(r, NULL, &n) : NULL;
    char *kept = text != NULL ? sluice_json_arena_alloc(a, n + 1) : NULL; /* the error's strings point into it */
    sluice_jv_t *error = NULL;
    if (kept != NULL) {
        memcpy(kept, text, n + 1);
        sluice_json_error_t err;
        error = sluice_jv_parse(a, kept, n, SIZE_MAX, n + 1, 0, NULL, &err);
    }
    free(text);
    if (error == NULL)
        return;
    if (p->invalid_count == p->invalid_cap) {
        size_t cap = p->invalid_cap > 0 ? p->invalid_cap * 2 : 4;
        pending_invalid_t *list = sluice_json_arena_alloc(a, cap * sizeof(*list)); /* the old one stays in a */
        if (list == NULL)
            return;
        if (p->invalid_count > 0)
            memcpy(list, p->invalid, p->invalid_count * sizeof(*list));
        p->invalid = list;
        p->invalid_cap = cap;
    }
    p->invalid[p->invalid_count++] = (pending_invalid_t){.event = ev, .error = error};
}

/* An event refused inside the request: listed in the answer, and kept (ev, may be NULL when
 * nothing of it can be recorded safely) for its record in kafka.invalid_topic. */
static void add_rejection(pending_t *p, size_t index, const sluice_event_error_t *e, sluice_jv_t *ev)
{
    /* Recorded in kafka.invalid_topic: a token the event carries (identity never took it) must
     * not go with it. */
    if (ev != NULL)
        sluice_identity_scrub_jv(ev, p->arena);
    json_t *r = json_pack("{s:I,s:s,s:s}", "index", (json_int_t)index, "code", e->code, "message", e->message);
    if (e->path[0] != '\0')
        json_object_set_new(r, "path", json_string(e->path));
    if (p->rejected == NULL)
        p->rejected = json_array();
    json_array_append(p->rejected, r);
    keep_invalid(p, r, ev);
    json_decref(r);
    reject_metric(p->w, e->code);
}

/* Counts the events the request handed to Kafka by what its client is told, once, when it is
 * answered: accepted for a 2xx, refused (kafka_unavailable) for a 503, plus `unsent` events a 503
 * stopped before they were queued. They used to be counted by their own delivery reports: a batch
 * answered 503 because one of its events (or the record of a refused one) failed, or because the
 * ack timeout passed with some still waiting, counted those Kafka took as accepted, and the
 * client's retry of the whole batch counted them again. The ones Kafka holds all the same are
 * counted as late acks (at the answer, and when their reports come later). */
static void count_answer(pending_t *p, int ok, size_t unsent)
{
    sluice_gw_metrics_t *m = &p->w->metrics;
    if (p->counted)
        return;
    p->counted = 1;
    if (ok) {
        sluice_counter_add(&m->events_accepted, p->events_produced);
        return;
    }
    sluice_counter_add(&m->events_rejected[SLUICE_REJECT_KAFKA], p->events_produced + unsent);
    sluice_counter_add(&m->kafka_late_acks, p->acked);
    p->timed_out = 1;
}

static void respond_ok(pending_t *p)
{
    /* Every event handed to Kafka: with ack: kafka all were acknowledged by now; with ack: queued
     * none may be yet (counting acks answered `accepted: 0` to a batch queued whole). */
    size_t accepted = p->events_produced + p->consent_dropped + p->duplicates + p->suppressed;
    if (p->reply.pixel) {
        sluice_reply_gif(p->req, p->w, &p->reply, 200);
        return;
    }
    if (!p->batch) {
        sluice_reply_send(p->req, p->w, &p->reply, 200, "application/json", H2O_STRLIT("{\"ok\":true}"), NULL);
        return;
    }
    if (json_array_size(p->rejected) == 0) {
        /* Nothing refused, a batch's usual answer: written as jansson would, without its tree and
         * its dump (about 1 % of the gateway's CPU in batches). */
        char text[64];
        int n = snprintf(text, sizeof(text), "{\"ok\":true,\"accepted\":%zu,\"rejected\":[]}", accepted);
        sluice_reply_send(p->req, p->w, &p->reply, 200, "application/json", text, (size_t)n, NULL);
        return;
    }
    json_t *body = json_pack("{s:b,s:I,s:O}", "ok", 1, "accepted", (json_int_t)accepted, "rejected", p->rejected);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (text == NULL) {
        sluice_reply_error(p->req, p->w, &p->reply, 500, "internal", "out of memory", NULL);
        return;
    }
    sluice_reply_send(p->req, p->w, &p->reply, 200, "application/json", text, strlen(text), NULL);
    free(text);
}

static void respond_unavailable(pending_t *p, const char *why)
{
    if (p->req != NULL)
        sluice_reply_error(p->req, p->w, &p->reply, 503, "kafka_unavailable", why, NULL);
    p->responded = 1;
    /* Not accepted: the client's retry of the same signed bytes is no replay. */
    sluice_identity_forget_replay(p->w->identity, &p->job);
}

/* The answer when no event of the request was queued but some were refused: the first refusal
 * for a single event, the whole list for a batch. */
static void respond_refused(pending_t *p)
{
    json_t *first = json_array_get(p->rejected, 0);
    if (!p->batch) {
        const char *code = json_string_value(json_object_get(first, "code"));
        int status = strcmp(code, "payload_too_large") == 0 ? 413 : strcmp(code, "internal") == 0 ? 500 : 400;
        sluice_reply_error(p->req, p->w, &p->reply, status, code, json_string_value(json_object_get(first, "message")),
                           json_string_value(json_object_get(first, "path")));
        return;
    }
    json_t *body = json_pack("{s:{s:s,s:s},s:I,s:O}", "error", "code", "invalid_event", "message",
                             "no event of the batch was valid", "accepted", (json_int_t)0, "rejected", p->rejected);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    sluice_reply_send(p->req, p->w, &p->reply, 400, "application/json", text ? text : "{}", text ? strlen(text) : 2,
                      NULL);
    free(text);
}

/* The answer once the request's outcome is known; the signature's fate is settled also when the
 * client is gone (p->req NULL): its retry of the same bytes must learn what became of them. */
static void respond_final(pending_t *p)
{
    if (p->failed > 0) {
        count_answer(p, 0, 0);
        respond_unavailable(p, "Kafka did not acknowledge every event; retry the request");
    } else if (p->events_produced == 0 && json_array_size(p->rejected) > 0 &&
               p->consent_dropped + p->duplicates + p->suppressed == 0) {
        if (p->req != NULL)
            respond_refused(p);
        /* Nothing taken: the same signed bytes again get the same refusal, not a 409 saying
         * they were accepted. */
        sluice_identity_forget_replay(p->w->identity, &p->job);
    } else {
        /* Taken: from now on the same bytes are a replay (until now, a retry is told to wait). */
        count_answer(p, 1, 0);
        sluice_identity_confirm_replay(p->w->identity, &p->job);
        if (p->req != NULL)
            respond_ok(p);
    }
}

/* Answers when nothing else is outstanding and frees the record once every report is back. */
static void settle(pending_t *p)
{
    if (!p->responded && p->outstanding == 0) {
        p->responded = 1;
        respond_final(p);
    }
    if (p->responded && p->outstanding == 0)
        pending_free(p);
}

static void on_ack_timeout(h2o_timeout_entry_t *entry)
{
    pending_t *p = H2O_STRUCT_FROM_MEMBER(pending_t, timeout, entry);
    /* h2o counts from the loop's clock, read when the turn began: a turn held by a slow plugin
     * made the deadline pass at once, and a 503 "Kafka did not acknowledge" went out for events
     * Kafka had taken (a retry then made duplicates). Not due yet: wait another period. */
    if (!p->responded && sluice_mono_us() < p->ack_due_us) {
        h2o_timeout_link(p->w->ctx.loop, &p->w->ack_timeout, &p->timeout);
        return;
    }
    if (!p->responded) {
        /* The events, not the records of refused ones (counted under their own reason); those
         * acknowledged already as well, since the client sends them all again. */
        count_answer(p, 0, 0);
        respond_unavailable(p, "Kafka did not acknowledge in time; retry the request");
    }
}

void sluice_ingest_on_delivery(void *opaque, int err)
{
    const pending_msg_t *m = opaque;
    pending_t *p = m->owner;
    sluice_worker_t *w = p->w;
    p->outstanding--;
    if (m->invalid) {
        if (err == 0) {
            sluice_counter_add(&w->metrics.invalid_recorded, 1);
        } else {
            p->failed++;
            sluice_counter_add(&w->metrics.kafka_delivery_failed, 1);
        }
        settle(p);
        return;
    }
    if (err == 0) {
        p->acked++;
        /* Counted when the request is answered (count_answer), by what the client is told. After
         * a 503 the event was counted refused, and the client sends it again: it is in Kafka all
         * the same, and its own counter says so. */
        if (p->timed_out)
            sluice_counter_add(&w->metrics.kafka_late_acks, 1);
        sluice_metrics_observe_ack(&w->metrics, sluice_mono_us() - p->produce_us);
        if (m->message_id != 0)
            sluice_identity_remember(w->identity, p->src->org, p->ids + m->message_id - 1, m->subject);
    } else {
        p->failed++;
        sluice_counter_add(&w->metrics.kafka_delivery_failed, 1);
        /* Else the 503 it leads to counts it (count_answer). Answered already: after a 503 it was
         * counted refused; after a 2xx (ack: queued) it was counted accepted and is lost, which
         * kafka_delivery_failed alone did not tell from the messages of requests answered 503. */
        if (p->responded) {
            if (!p->timed_out)
                sluice_counter_add(&w->metrics.kafka_lost, 1);
            sluice_log_warn("kafka.delivery", "event for %s/%s not acknowledged after its request was answered %s",
                            p->src->org->id, p->src->src->id, p->timed_out ? "503" : "2xx: lost");
        }
    }
    settle(p);
}

/* ------------------------------------------------------------------ phase 3 */

static const sluice_masker_t *masker_for(pending_t *p)
{
    return sluice_runtime_masker(p->rt, p->w->index);
}

/* The 503's message for a produce that failed with rc (other: anything but a full queue). */
static const char *queue_full_why(int rc, const char *other)
{
    if (rc == SLUICE_PRODUCER_EORGFULL)
        return "this org holds its share of the gateway's Kafka queue; retry the request";
    return rc == SLUICE_PRODUCER_EFULL ? "the Kafka queue is full; retry the request" : other;
}

/* A string's bytes as a reader of C strings takes them (up to a NUL it holds, as jansson's
 * json_string_value and identity's reading of the same member stop there), or NULL for any
 * other value. */
static const char *jv_text(const sluice_jv_t *v, size_t *n)
{
    const char *s = sluice_jv_string_value(v, n);
    if (!sluice_jv_is_string(v))
        return NULL;
    if (s == NULL) {
        *n = 0;
        return "";
    }
    const char *nul = memchr(s, '\0', *n);
    if (nul != NULL)
        *n = (size_t)(nul - s);
    return s;
}

/* The event type a Kafka message's header names: ev's `type` after the data layer (a known type's
 * static name, else the member's text copied into a), or NULL when it is no string. */
static const char *type_header(sluice_json_arena_t *a, const sluice_jv_t *ev)
{
    const sluice_jv_t *t = sluice_jv_object_get(ev, "type");
    int known = sluice_event_type_parse_jv(t);
    return known >= 0 ? sluice_event_type_name((sluice_event_type_t)known) : sluice_jv_string_cstr(a, t, NULL);
}

/* Refused events go, after the data layer masked them, to kafka.invalid_topic with the reason:
 * no SDK reads a batch answer's `rejected`, so without this record they would vanish without a
 * trace (Snowplow's "bad rows"). An event the consent policy drops is not recorded; one the data
 * layer cannot mask is recorded without its fields. The request waits for these records like for
 * its events: a record Kafka does not take makes the answer a 503, and the client's retry sends
 * everything again. The record is built by sluice_invalid_record_jv (gateway/invalid.c); here it
 * is produced. */
static void record_invalid(pending_t *p)
{
    sluice_worker_t *w = p->w;
    const sluice_org_t *org = p->src->org;
    const sluice_org_rt_t *ort = &p->rt->orgs[p->src->org_index];
    const sluice_kafka_config_t *kc = &p->rt->cfg->kafka;
    char when[SLUICE_TIME_TEXT_MAX];
    sluice_time_format(sluice_now_ms(), when);
    sluice_invalid_env_t env = {
        .org = org,
        .source = p->src->src->id,
        .received_at = when,
        .forgotten = w->gw->forgotten,
        .thread = w->index,
        .forget_key = ort->forget_key,
        .masker = masker_for(p),
        .guard = ort->guard,
        .pii = w->pii,
    };
    for (size_t i = 0; i < p->invalid_count; i++) {
        sluice_jv_t *rec; /* NULL when memory ran out: failed below as a record Kafka refused */
        if (sluice_invalid_record_jv(&env, p->invalid[i].event, p->invalid[i].error, p->arena, &rec) == 0)
            continue; /* a forgotten person's, or dropped by the consent policy */
        const char *type = rec != NULL ? type_header(p->arena, sluice_jv_object_get(rec, "event")) : NULL;
        pending_msg_t *m = &p->msgs[p->produced];
        *m = (pending_msg_t){.owner = p, .invalid = 1};
        char key[256];
        int klen = snprintf(key, sizeof(key), "%s:%s", org->id, p->src->src->id);
        int rc = SLUICE_PRODUCER_EOTHER;
        for (int attempt = 0; attempt < 2 && rec != NULL; attempt++) {
            size_t len;
            char *payload = sluice_jv_encode(rec, &len);
            rc = payload != NULL
                     ? sluice_producer_send(w->producer, kc->invalid_topic, key, (size_t)klen, payload, len, org->id,
                                            p->src->src->id, type ? type : "invalid", p->rt->cfg->org_count, m)
                     : SLUICE_PRODUCER_EOTHER;
            if (rc != 0)
                free(payload);
            if (rc != SLUICE_PRODUCER_ETOOLARGE || sluice_jv_is_null(sluice_jv_object_get(rec, "event")))
                break;
            /* Larger than Kafka takes (an event refused for its size, under a max_body_bytes raised
             * past message.max.bytes): recorded without the event, not 503'd for ever. */
            static const char omitted[] = "event: larger than Kafka takes";
            if (sluice_jv_object_set(p->arena, rec, "event", sluice_jv_null(p->arena)) != 0)
                break; /* out of memory: still too large, a 503 */
            (void)sluice_jv_object_set(p->arena, rec, "omitted",
                                       sluice_jv_string(p->arena, omitted, sizeof(omitted) - 1));
        }
        if (rc != 0) {
            count_answer(p, 0, 0); /* the events queued before it: their client sends them again */
            respond_unavailable(p, queue_full_why(rc, "Kafka refused a record; retry the request"));
            return;
        }
        p->produced++;
        p->outstanding++;
    }
}

static void slot_release(pending_msg_t *m)
{
    m->message_id = 0;
    free(m->subject);
    m->subject = NULL;
}

/* Copies a messageId into p->ids; returns 1 + its offset, or 0 (none, or out of memory: the
 * event then goes without dedup memory, which only makes a retry of it a duplicate in Kafka). */
static size_t keep_message_id(pending_t *p, const sluice_jv_t *mid)
{
    size_t n;
    const char *text = jv_text(mid, &n); /* as identity reads it when it looks the id up */
    if (text == NULL)
        return 0;
    if (p->ids_cap == 0) {
        p->ids = p->ids_inline;
        p->ids_cap = sizeof(p->ids_inline);
    }
    if (p->ids_len + n + 1 > p->ids_cap) {
        size_t cap = p->ids_cap * 2;
        while (cap < p->ids_len + n + 1)
            cap *= 2;
        char *ids = p->ids == p->ids_inline ? malloc(cap) : realloc(p->ids, cap);
        if (ids == NULL)
            return 0;
        if (p->ids == p->ids_inline)
            memcpy(ids, p->ids_inline, p->ids_len);
        p->ids = ids;
        p->ids_cap = cap;
    }
    size_t at = p->ids_len;
    memcpy(p->ids + at, text, n);
    p->ids[at + n] = '\0';
    p->ids_len += n + 1;
    return at + 1;
}

/* Once every event is in Kafka's hands (or refused), nothing needs the body's values any more:
 * the arena goes back to the thread now, not when the last delivery report comes back, so a
 * request waiting for its acknowledgements holds no more than its record (1,024 such requests
 * held 16 MB of arenas). What the answer still needs (the refusals) is malloc'd, outside it. */
static void release_values(pending_t *p)
{
    if (p->arena == NULL)
        return;
    p->invalid = NULL;
    p->invalid_count = p->invalid_cap = 0;
    p->events = NULL;
    p->job.events_jv = NULL;
    p->job.arena = NULL;
    sluice_json_arena_free(p->arena);
    p->arena = NULL;
}

static void produce_all(pending_t *p)
{
    sluice_worker_t *w = p->w;
    const sluice_org_t *org = p->src->org;
    const sluice_org_rt_t *ort = &p->rt->orgs[p->src->org_index];
    const sluice_kafka_config_t *kc = &p->rt->cfg->kafka;
    sluice_json_arena_t *a = p->arena;
    size_t n = sluice_jv_array_size(p->events);
    /* One slot per event, plus one per record of a refused event (the data layer may refuse more
     * of the events below: their records have room among the events' slots). */
    size_t slots = n + p->invalid_count + 1;
    if (slots <= PENDING_INLINE_EVENTS) {
        p->msgs = p->msgs_inline; /* zeroed by pending_reset, as calloc would */
        SLUICE_ASAN_POISON(p->msgs_inline + slots, (PENDING_INLINE_EVENTS - slots) * sizeof(*p->msgs));
    } else {
        p->msgs = calloc(slots, sizeof(*p->msgs));
    }
    if (p->msgs == NULL) {
        p->responded = 1;
        sluice_identity_forget_replay(w->identity, &p->job); /* not taken: the retry is no replay */
        if (p->req != NULL)
            sluice_reply_error(p->req, w, &p->reply, 500, "internal", "out of memory", NULL);
        settle(p);
        return;
    }
    p->produce_us = sluice_mono_us();

    for (size_t i = 0; i < n && !p->responded; i++) {
        sluice_jv_t *ev = sluice_jv_array_get(p->events, i);
        size_t index = p->accepted[i].index;
        if (p->job.duplicate != NULL && p->job.duplicate[i]) {
            p->duplicates++;
            sluice_counter_add(&w->metrics.events_rejected[SLUICE_REJECT_DUPLICATE], 1);
            continue;
        }
        /* A forgotten person (sluicectl forget): dropped before anything of it is processed,
         * counted per org, and answered like an accepted event so the visitor's page works on. */
        if (sluice_forgotten_match_jv(w->gw->forgotten, w->index, org->id, ort->forget_key, ev)) {
            p->suppressed++;
            continue;
        }
        /* The next slot; it counts only once Kafka took the message. The dedup key is the
         * messageId as received (the data layer may rewrite the field). */
        pending_msg_t *m = &p->msgs[p->produced];
        *m = (pending_msg_t){.owner = p, .message_id = keep_message_id(p, sluice_jv_object_get(ev, "messageId"))};
        if (m->message_id != 0 && org->identity.dedup_enabled) {
            /* The raw ids are known only here, before the data layer: their pseudonyms go with the
             * dedup key so that forget can find it. */
            char subject[SLUICE_PSEUDONYM_ID_PATH_COUNT * (SLUICE_PSEUDONYM_HEX_LEN + 1)];
            if (sluice_forgotten_subject_jv(ort->forget_key, ev, subject, sizeof(subject)) > 0)
                m->subject = strdup(subject);
        }
        sluice_dl_stats_t st = {0};
        sluice_dl_result_jv_t dl; /* in the arena, with what the data layer and the guard add */
        if (sluice_datalayer_apply_jv(org, ort->variants, masker_for(p), ev, a, &dl, &st) != 0) {
            sluice_event_error_t e;
            sluice_event_error_set(&e, 500, "internal", "", "out of memory");
            add_rejection(p, index, &e, NULL); /* partly through the data layer: nothing of it is kept */
            slot_release(m);
            continue;
        }
        for (int k = 0; k <= SLUICE_NORM_RAW; k++)
            if (st.hashed[k])
                sluice_counter_add(&w->metrics.hashed[k], st.hashed[k]);
        sluice_counter_add(&w->metrics.hash_failed, st.hash_failed);
        sluice_counter_add(&w->metrics.masked, st.masked);
        sluice_counter_add(&w->metrics.mask_failed, st.mask_failed);
        sluice_counter_add(&w->metrics.dropped_fields, st.dropped);
        if (dl.drop_event) {
            p->consent_dropped++;
            sluice_counter_add(&w->metrics.events_consent_dropped, 1);
            slot_release(m);
            continue;
        }
        if (dl.rejected) {
            sluice_event_error_t e;
            sluice_event_error_set(&e, 400, "mask_failed", dl.reject_path,
                                   "a masking rule could not mask this field and rejects the event");
            add_rejection(p, index, &e, NULL); /* partly through the data layer: nothing of it is kept */
            slot_release(m);
            continue;
        }
        /* What no rule names: scanned, and masked or hashed as the org's pii_guard says. */
        sluice_piiguard_stats_t gst;
        uint64_t idfound = p->accepted[i].idfound;
        if (sluice_piiguard_apply_jv(ort->guard, w->pii, ev, a, dl.privacy, sluice_now_ms(), &idfound, &gst) != 0) {
            sluice_event_error_t e;
            sluice_event_error_set(&e, 500, "internal", "", "out of memory");
            add_rejection(p, index, &e, NULL); /* possibly half-masked: nothing of it is kept */
            slot_release(m);
            continue;
        }
        sluice_counter_add(&w->metrics.pii_detected, gst.detected);
        sluice_counter_add(&w->metrics.pii_changed, gst.changed);
        /* Checked again as the worker sees the ids: forget lists a user id also in the form a
         * hash_fields rule writes it, and that rule's normaliser makes one person of spellings
         * the check above, on the ids as sent, tells apart (`Jane@Example.com` after a forget of
         * `jane@example.com`): such an event went to Kafka and the live view, skipped only by the
         * worker. The org's list is empty for almost every org: then nothing is hashed. */
        if (sluice_forgotten_match_jv(w->gw->forgotten, w->index, org->id, ort->forget_key, ev)) {
            p->suppressed++;
            slot_release(m);
            continue;
        }
        size_t payload_len;
        char *payload =
            sluice_envelope_encode_jv(p->src->org->id, p->src->src->id, ev, dl.privacy, dl.hashes, &payload_len);
        if (payload == NULL) {
            sluice_event_error_t e;
            sluice_event_error_set(&e, 500, "internal", "", "out of memory");
            add_rejection(p, index, &e, NULL); /* partly through the data layer: nothing of it is kept */
            slot_release(m);
            continue;
        }
        size_t an = 0;
        const char *anon = jv_text(sluice_jv_object_get(ev, "anonymousId"), &an);
        if (anon == NULL)
            anon = jv_text(sluice_jv_object_get(ev, "userId"), &an);
        if (anon == NULL)
            anon = jv_text(sluice_jv_object_get(ev, "messageId"), &an);
        char key[512];
        int klen = snprintf(key, sizeof(key), "%s:%.*s", org->id, anon ? (int)(an < sizeof(key) ? an : sizeof(key)) : 0,
                            anon ? anon : "");
        if (klen < 0 || (size_t)klen >= sizeof(key))
            klen = (int)sizeof(key) - 1;
        int rc = sluice_producer_send(w->producer, kc->topic, key, (size_t)klen, payload, payload_len, org->id,
                                      p->src->src->id, type_header(a, ev), p->rt->cfg->org_count, m);
        if (rc == SLUICE_PRODUCER_ETOOLARGE) {
            /* Over message.max.bytes (limits raised past it): a 503 would be retried for ever. */
            free(payload);
            sluice_event_error_t e;
            sluice_event_error_set(&e, 413, "payload_too_large", "",
                                   "event larger than Kafka takes (%zu bytes with its envelope)", payload_len);
            add_rejection(p, index, &e, NULL); /* through the data layer: nothing of it is kept */
            slot_release(m);
            continue;
        }
        if (rc != 0) {
            free(payload);
            /* The whole request is answered 503 and its client sends every event of it again, as
             * at the ack timeout: this one, those this request queued before it (their acks will
             * be late ones, not accepted) and those after it, which were counted nowhere. */
            count_answer(p, 0, 1 + (n - i - 1));
            respond_unavailable(p, queue_full_why(rc, "Kafka refused the event; retry the request"));
            slot_release(m);
            break;
        }
        /* The live view shows what went to Kafka, so only an event it took: one refused above
         * (too large, queue full) is in no topic. librdkafka frees the payload (RD_KAFKA_MSG_F_FREE)
         * only once its delivery report is served, by rd_kafka_poll on this thread (producer.c), so
         * it is still whole here. */
        sluice_live_record(w->gw->live, w->index, org->id, p->src->src->id, payload, payload_len);
        p->produced++;
        p->events_produced++;
        p->outstanding++;
    }
    if (!p->responded)
        record_invalid(p);
    release_values(p);

    if (p->outstanding > 0 && !p->responded) {
        if (kc->ack == SLUICE_ACK_QUEUED) {
            /* Opt-in weaker mode: answer now; reports still arrive and are counted. */
            p->responded = 1;
            respond_final(p);
        } else {
            p->timeout.cb = on_ack_timeout;
            p->ack_due_us = sluice_mono_us() + (uint64_t)kc->ack_timeout_ms * 1000;
            h2o_timeout_link(w->ctx.loop, &w->ack_timeout, &p->timeout);
        }
    }
    settle(p);
}

/* Identity results that concern the HTTP side: the token's metric and the cookies. */
static void identity_finish(pending_t *p)
{
    const sluice_identity_job_t *job = &p->job;
    if (job->token_outcome >= 0 && job->token_outcome < SLUICE_TOKEN_OUTCOME_COUNT)
        sluice_counter_add(&p->w->metrics.tokens[job->token_outcome], 1);
    for (size_t i = 0; i < job->cookie_count && p->req != NULL; i++)
        sluice_reply_add_cookie(p->req, &p->reply, job->cookies[i], strlen(job->cookies[i]));
}

static void on_identity_done(sluice_identity_job_t *job)
{
    pending_t *p = H2O_STRUCT_FROM_MEMBER(pending_t, job, job);
    identity_finish(p);
    if (job->replay == SLUICE_REPLAY_SEEN || job->replay == SLUICE_REPLAY_UNKNOWN ||
        job->replay == SLUICE_REPLAY_IN_FLIGHT) {
        p->responded = 1;
        /* Every event the request was to take is refused with it, as a batch answered 503 by
         * Kafka counts them: one count per request made a signed batch of 100 one refused event
         * (those refused one by one, and those a forget or the bot policy dropped, were counted
         * under their own counters already). Counted also when the client is gone. */
        size_t n = sluice_jv_array_size(p->events);
        reject_metric_n(p->w,
                        job->replay == SLUICE_REPLAY_SEEN        ? "replayed"
                        : job->replay == SLUICE_REPLAY_IN_FLIGHT ? "request_in_flight"
                                                                 : "replay_check_unavailable",
                        n);
        if (p->req != NULL && job->replay == SLUICE_REPLAY_SEEN) {
            sluice_reply_error(p->req, p->w, &p->reply, 409, "replayed",
                               "this signed request was accepted before; to send its events again, sign a new "
                               "request (a fresh X-Timestamp)",
                               NULL);
        } else if (p->req != NULL && job->replay == SLUICE_REPLAY_IN_FLIGHT) {
            /* Not a 409: the first attempt may still fail, and a client told "accepted" stops. */
            sluice_reply_error(p->req, p->w, &p->reply, 503, "request_in_flight",
                               "this signed request is still being processed; retry the same bytes after "
                               "Retry-After: it is then accepted, or answered 409 when the first attempt was",
                               NULL);
        } else if (p->req != NULL) {
            /* Its own reason (counted above): as kafka_unavailable, a stalled Redis sent operators
             * to look at a Kafka that was fine. */
            sluice_reply_error(p->req, p->w, &p->reply, 503, "replay_check_unavailable",
                               "signed requests are remembered in Redis, which did not answer; retry", NULL);
        }
        settle(p);
        return;
    }
    produce_all(p);
}

/* ------------------------------------------------------------------ phase 1 helpers */

typedef struct ingest {
    h2o_req_t *req;
    sluice_worker_t *w;
    sluice_runtime_t *rt;
    sluice_reply_t reply;
    const sluice_source_rt_t *src;
    int64_t now_ms;
    size_t body_len; /* decoded body length */
    /* A batch's events with a string over max_string_bytes, refused one by one (json/parse.h);
     * NULL where the body is one event. */
    const sluice_json_item_faults_t *faults;
} ingest_t;

static int is_media(h2o_iovec_t v, const char *type)
{
    size_t n = strlen(type);
    if (v.len < n || strncasecmp(v.base, type, n) != 0)
        return 0;
    return v.len == n || v.base[n] == ';' || v.base[n] == ' ';
}

static int is_gzip(h2o_req_t *req)
{
    h2o_iovec_t ce = sluice_http_header(req, H2O_TOKEN_CONTENT_ENCODING);
    return ce.base != NULL && h2o_lcstris(ce.base, ce.len, H2O_STRLIT("gzip"));
}

/* What can be refused from the request's head alone: Content-Encoding and the size on the wire.
 * Content-Type is not: SDKs label JSON all sorts of ways (sendBeacon's text/plain, RudderStack's
 * node SDK sends gzip JSON as application/x-www-form-urlencoded), so a body that parses as JSON
 * is taken whatever its label (json_or_media_error). 0, or -1 when answered. */
static int check_wire(ingest_t *in)
{
    h2o_req_t *req = in->req;
    h2o_iovec_t ce = sluice_http_header(req, H2O_TOKEN_CONTENT_ENCODING);
    if (ce.base != NULL && !h2o_lcstris(ce.base, ce.len, H2O_STRLIT("identity")) && !is_gzip(req))
        return refuse(req, in->w, &in->reply, 415, "unsupported_media_type",
                      "Content-Encoding must be gzip or identity", NULL) -
               1;
    if (req->entity.len > in->rt->cfg->limits.max_wire_bytes)
        return refuse(req, in->w, &in->reply, 413, "payload_too_large", "request body too large", NULL) - 1;
    return 0;
}

/* A body that did not parse: 400 when it was labelled as JSON (or text, or not at all), 415 when
 * its label says it is something else, so the client learns which of the two it got wrong. */
static int json_or_media_error(ingest_t *in, const sluice_event_error_t *e)
{
    h2o_iovec_t ct = sluice_http_header(in->req, H2O_TOKEN_CONTENT_TYPE);
    if (strcmp(e->code, "invalid_json") == 0 && ct.base != NULL && !is_media(ct, "application/json") &&
        !is_media(ct, "text/plain")) {
        /* The label is quoted as printable ASCII: a header may hold any byte, and a message that
         * is not UTF-8 (or is cut inside a character) cannot be encoded, which made this a 500. */
        char label[81], msg[200];
        size_t n = ct.len < 80 ? ct.len : 80;
        for (size_t i = 0; i < n; i++)
            label[i] = ct.base[i] >= 0x20 && ct.base[i] < 0x7f ? ct.base[i] : '?';
        label[n] = '\0';
        /* JSON that is not an object (an array, a string) is told as such: "is not JSON" would send
         * the client looking for a syntax error that is not there. */
        if (strcmp(e->message, "body must be a JSON object") == 0)
            snprintf(msg, sizeof(msg), "the body must be a JSON object (it is sent as %s, and is not one)", label);
        else
            snprintf(msg, sizeof(msg), "the body must be JSON (it is sent as %s, and is not JSON)", label);
        return refuse(in->req, in->w, &in->reply, 415, "unsupported_media_type", msg, NULL);
    }
    return refuse(in->req, in->w, &in->reply, e->status, e->code, e->message, e->path);
}

/* The body, inflated when gzip (inflating stops at max_body_bytes, so a bomb costs at most
 * that); on success *body is the decoded body (*owned to free). Runs only once the request is
 * authenticated. */
static int read_body(ingest_t *in, h2o_iovec_t *body, char **owned)
{
    h2o_req_t *req = in->req;
    const sluice_limits_t *lim = &in->rt->cfg->limits;
    *owned = NULL;
    *body = req->entity;
    if (body->base == NULL)
        *body = h2o_iovec_init("", 0);
    if (is_gzip(req)) {
        size_t out_len;
        sluice_counter_add(&in->w->metrics.inflated, 1);
        int rc = sluice_gunzip(body->base, body->len, lim->max_body_bytes, owned, &out_len);
        if (rc == SLUICE_GZIP_ETOOBIG)
            return refuse(req, in->w, &in->reply, 413, "payload_too_large",
                          "request body too large after gzip decoding", NULL) -
                   1;
        if (rc != 0)
            return refuse(req, in->w, &in->reply, 400, "invalid_json", "body is not valid gzip", NULL) - 1;
        *body = h2o_iovec_init(*owned, out_len);
    }
    if (body->len > lim->max_body_bytes) {
        free(*owned);
        *owned = NULL;
        return refuse(req, in->w, &in->reply, 413, "payload_too_large", "request body too large", NULL) - 1;
    }
    if (body->len == 0)
        return refuse(req, in->w, &in->reply, 400, "invalid_json", "empty body", NULL) - 1;
    return 0;
}

/* A gzip body may expand this many times before its write key is known (inflate_keyless). */
#define KEYLESS_GZIP_RATIO 64

/* A gzip body whose request names no key in its head: its key can only be inside. Segment's
 * analytics-kotlin (Android) sends every batch so (HTTPClient.kt: gzip, no Authorization, the
 * writeKey at the end of the body): refused unread, every batch was a 401, which the SDK answers
 * by deleting the batch. Such a body is inflated before its key is known, once (read_body's
 * result is kept), but no further than KEYLESS_GZIP_RATIO times its size on the wire: a real
 * batch of JSON events shrinks 10 to 25 times, a bomb thousands of times, and a bomb sent without
 * a key would otherwise cost a 512 KiB inflate for a 1 KB request. Nothing is parsed before the
 * key has passed. 0, or -1 when answered. */
static int inflate_keyless(ingest_t *in, h2o_iovec_t *body, char **owned)
{
    h2o_req_t *req = in->req;
    const sluice_limits_t *lim = &in->rt->cfg->limits;
    size_t wire = req->entity.base != NULL ? req->entity.len : 0;
    size_t cap = wire > lim->max_body_bytes / KEYLESS_GZIP_RATIO ? lim->max_body_bytes : wire * KEYLESS_GZIP_RATIO;
    size_t out_len;
    *owned = NULL;
    sluice_counter_add(&in->w->metrics.inflated, 1);
    int rc = sluice_gunzip(req->entity.base != NULL ? req->entity.base : "", wire, cap, owned, &out_len);
    if (rc == SLUICE_GZIP_ETOOBIG && cap == lim->max_body_bytes)
        return refuse(req, in->w, &in->reply, 413, "payload_too_large", "request body too large after gzip decoding",
                      NULL) -
               1;
    if (rc == SLUICE_GZIP_ETOOBIG)
        return refuse(req, in->w, &in->reply, 401, "unauthorized",
                      "a gzip body whose write key is inside it may expand at most 64 times; send the key in the "
                      "Authorization header",
                      NULL) -
               1;
    if (rc != 0)
        return refuse(req, in->w, &in->reply, 400, "invalid_json", "body is not valid gzip", NULL) - 1;
    if (out_len == 0) {
        free(*owned);
        *owned = NULL;
        return refuse(req, in->w, &in->reply, 400, "invalid_json", "empty body", NULL) - 1;
    }
    *body = h2o_iovec_init(*owned, out_len);
    return 0;
}

/* The write key from the request's head: Authorization (Bearer, or Basic with the key as user
 * name), X-Write-Key, or the query's writeKey, in that order. Pool memory; NULL when none. */
static const char *head_write_key(ingest_t *in, size_t *len)
{
    h2o_req_t *req = in->req;
    h2o_iovec_t auth = sluice_http_header(req, H2O_TOKEN_AUTHORIZATION);
    if (auth.base != NULL) {
        if (auth.len > 7 && strncasecmp(auth.base, "Bearer ", 7) == 0) {
            *len = auth.len - 7;
            return h2o_strdup(&req->pool, auth.base + 7, *len).base;
        }
        if (auth.len > 6 && strncasecmp(auth.base, "Basic ", 6) == 0) {
            size_t cap = sluice_b64url_decoded_len(auth.len - 6) + 1, n;
            uint8_t *dec = h2o_mem_alloc_pool(&req->pool, cap);
            if (sluice_b64_decode_any(auth.base + 6, auth.len - 6, dec, cap, &n) == 0) {
                uint8_t *colon = memchr(dec, ':', n);
                *len = colon ? (size_t)(colon - dec) : n;
                return (const char *)dec;
            }
        }
    }
    h2o_iovec_t xk = sluice_http_header_str(req, "x-write-key");
    if (xk.base != NULL && xk.len > 0) {
        *len = xk.len;
        return h2o_strdup(&req->pool, xk.base, xk.len).base;
    }
    char *q;
    long ql = sluice_http_query(req, "writeKey", &q);
    if (ql > 0) {
        *len = (size_t)ql;
        return q;
    }
    return NULL;
}

/* The writeKey member of a JSON body as sent (navigator.sendBeacon cannot set headers), found
 * without parsing or decoding anything: the first `"writeKey"` at or after *from followed by `:`
 * and a string without escapes (*from is moved past it). One pass over the body, no allocation.
 * The parsed body's top-level writeKey is checked against it afterwards (ingest_post), so a key
 * placed somewhere else proves nothing. NULL when there is none. */
static const char *body_write_key_from(h2o_iovec_t body, const char **from, size_t *len)
{
    static const char name[] = "\"writeKey\"";
    const size_t nl = sizeof(name) - 1;
    const char *p = *from, *end = body.base + body.len;
    while (p + nl <= end && (p = memmem(p, (size_t)(end - p), name, nl)) != NULL) {
        const char *q = p + nl;
        p += nl;
        while (q < end && (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r'))
            q++;
        if (q == end || *q++ != ':')
            continue;
        while (q < end && (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r'))
            q++;
        if (q == end || *q++ != '"')
            continue;
        const char *v = q;
        while (q < end && *q != '"' && *q != '\\' && (unsigned char)*q >= 0x20)
            q++;
        if (q == end || *q != '"' || q == v)
            continue;
        *len = (size_t)(q - v);
        *from = q;
        return v;
    }
    return NULL;
}

/* The body's write key as body_write_key_from finds it; when the first one found is no browser
 * source's key, the next few are tried: a member named writeKey inside the event (an event about
 * API keys) may come before the top-level one. Still nothing is parsed before a key passed; the
 * one taken is checked against the parsed body's top-level writeKey afterwards. */
static const char *body_write_key(ingest_t *in, h2o_iovec_t body, size_t *len)
{
    const char *from = body.base, *first = NULL;
    size_t first_len = 0;
    for (int tries = 0; tries < 4; tries++) {
        size_t n = 0;
        const char *k = body_write_key_from(body, &from, &n);
        if (k == NULL)
            break;
        if (first == NULL) {
            first = k;
            first_len = n;
        }
        const sluice_source_rt_t *s = sluice_runtime_auth(in->rt, k, n, in->now_ms);
        if (s != NULL && s->src->kind == SLUICE_SOURCE_BROWSER) {
            *len = n;
            return k;
        }
    }
    *len = first_len;
    return first;
}

/* Why a timestamp is outside the window, in terms the integrator can act on. A timestamp in
 * seconds (Python's time.time(), `date +%s`) read "more than 5 minutes away from the server's
 * clock", and its sender went looking for a clock that was right. The gateway's clock is no
 * secret (every answer carries a Date header). */
static void stale_reason(long long t, int64_t now_ms, char *out, size_t cap)
{
    static const struct {
        long long scale_num, scale_den;
        const char *unit;
    } units[] = {{1000, 1, "seconds"}, {1, 1000, "microseconds"}, {1, 1000000, "nanoseconds"}};
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        long long scaled = t <= LLONG_MAX / units[i].scale_num ? t * units[i].scale_num / units[i].scale_den : -1;
        if (scaled >= now_ms - SIGNATURE_WINDOW_MS && scaled <= now_ms + SIGNATURE_WINDOW_MS) {
            snprintf(out, cap, "X-Timestamp looks like %s since 1970; it must be milliseconds since 1970",
                     units[i].unit);
            return;
        }
    }
    long long off_s = (t - (long long)now_ms) / 1000;
    snprintf(out, cap,
             "X-Timestamp is %lld s %s the gateway's clock; at most 300 s either way: check the sender's clock "
             "(NTP) and sign each request when it is sent",
             off_s < 0 ? -off_s : off_s, off_s < 0 ? "behind" : "ahead of");
}

/* What a mismatching signature was checked over, minus the secret: the usual mistakes (the query
 * string or path prefix left out, JSON re-serialised after signing, the body signed before gzip or
 * with a newline curl -d dropped) show as another path or another byte count. Bytes of the path
 * outside printable ASCII are written %XX (the answer is JSON, which needs UTF-8). */
static void mismatch_reason(const h2o_req_t *req, h2o_iovec_t ts, size_t body_len, char *out, size_t cap)
{
    char path[200];
    size_t o = 0, i = 0;
    for (; i < req->path.len && o + 4 < sizeof(path); i++) {
        unsigned char c = (unsigned char)req->path.base[i];
        if (c > 0x20 && c < 0x7f && c != '"' && c != '\\')
            path[o++] = (char)c;
        else
            o += (size_t)snprintf(path + o, sizeof(path) - o, "%%%02X", c);
    }
    path[o] = '\0';
    if (i < req->path.len) /* o + 4 >= sizeof(path): room for the ellipsis */
        snprintf(path + sizeof(path) - 4, 4, "...");
    snprintf(out, cap,
             "the signature does not match; it was checked over %.*s\\n%s\\n%.*s\\n followed by the %zu body "
             "bytes as sent (before any gzip is undone)",
             (int)req->method.len, req->method.base, path, (int)(ts.len < 20 ? ts.len : 20), ts.base, body_len);
}

/* Server-to-server (docs/security.md, "Signed events"): X-Sluice-Source names the source as
 * <org>/<source>; X-Timestamp is milliseconds since 1970, within 5 minutes of our clock;
 * X-Signature is sha256=hex(HMAC-SHA256(secret, METHOD "\n" PATH "\n" TIMESTAMP "\n" BODY)) over
 * the request line's path (query included) and the body exactly as sent, so a signature made for
 * one request cannot be replayed for another method or path. One source, one secret, checked
 * before anything of the body is decoded; the signature is then remembered for its window so the
 * same request is accepted once (identity job, SLUICE_REPLAY_*). */
static int verify_signature(ingest_t *in, h2o_iovec_t wire, char replay_key[SLUICE_IDENTITY_REPLAY_KEY_MAX],
                            int64_t *until_ms)
{
    h2o_req_t *req = in->req;
    h2o_iovec_t who = sluice_http_header_str(req, "x-sluice-source");
    h2o_iovec_t ts = sluice_http_header_str(req, "x-timestamp");
    h2o_iovec_t sig = sluice_http_header_str(req, "x-signature");
    if (who.base == NULL || ts.base == NULL || sig.base == NULL)
        return refuse(req, in->w, &in->reply, 401, "bad_signature",
                      "X-Sluice-Source, X-Timestamp and X-Signature headers are required", NULL) -
               1;
    const char *slash = memchr(who.base, '/', who.len);
    const sluice_source_rt_t *named = NULL;
    for (size_t i = 0; slash != NULL && i < in->rt->source_count; i++) {
        const sluice_source_rt_t *s = &in->rt->sources[i];
        size_t ol = (size_t)(slash - who.base), sl = who.len - ol - 1;
        if (strlen(s->org->id) == ol && memcmp(s->org->id, who.base, ol) == 0 && strlen(s->src->id) == sl &&
            memcmp(s->src->id, slash + 1, sl) == 0)
            named = s;
    }
    if (named == NULL || named->src->kind != SLUICE_SOURCE_SERVER || named->src->hmac_secret == NULL)
        return refuse(req, in->w, &in->reply, 401, "bad_signature",
                      "X-Sluice-Source must name a server source as <org>/<source>", NULL) -
               1;
    char tbuf[24];
    char *end = NULL;
    long long t = -1;
    if (ts.len > 0 && ts.len < sizeof(tbuf)) {
        memcpy(tbuf, ts.base, ts.len);
        tbuf[ts.len] = '\0';
        t = strtoll(tbuf, &end, 10);
    }
    if (t <= 0 || end == NULL || *end != '\0')
        return refuse(req, in->w, &in->reply, 401, "bad_signature", "X-Timestamp must be milliseconds since 1970",
                      NULL) -
               1;
    if (t < in->now_ms - SIGNATURE_WINDOW_MS || t > in->now_ms + SIGNATURE_WINDOW_MS) {
        char why[160];
        stale_reason(t, in->now_ms, why, sizeof(why));
        return refuse(req, in->w, &in->reply, 401, "stale_timestamp", why, NULL) - 1;
    }
    uint8_t given[SLUICE_SHA256_LEN];
    size_t glen;
    if (sig.len != 7 + 64 || strncasecmp(sig.base, "sha256=", 7) != 0 ||
        sluice_hex_decode(sig.base + 7, 64, given, sizeof(given), &glen) != 0)
        return refuse(req, in->w, &in->reply, 401, "bad_signature", "X-Signature must be sha256=<64 hex digits>",
                      NULL) -
               1;
    /* METHOD \n PATH \n TIMESTAMP \n, then the body, through the two-part HMAC. */
    size_t plen = req->method.len + req->path.len + ts.len + 3;
    char *prefix = h2o_mem_alloc_pool(&req->pool, plen);
    char *o = prefix;
    memcpy(o, req->method.base, req->method.len);
    o += req->method.len;
    *o++ = '\n';
    memcpy(o, req->path.base, req->path.len);
    o += req->path.len;
    *o++ = '\n';
    memcpy(o, ts.base, ts.len);
    o += ts.len;
    *o++ = '\n';
    uint8_t mac[SLUICE_SHA256_LEN];
    const sluice_source_t *src = named->src;
    const char *secret = src->hmac_secret;
    int ok = sluice_hmac_sha256_2(secret, strlen(secret), prefix, plen, wire.base, wire.len, mac) == 0 &&
             sluice_ct_equal(mac, given, sizeof(mac));
    /* During a rotation the backend signs with the previous secret until it is switched too; a
     * secret swapped at once refused every request in between, and a 401 is not retried. */
    const char *prev = src->previous_hmac_secret;
    if (!ok && prev != NULL && prev[0] != '\0' && src->rotated_at != 0 &&
        in->now_ms < ((int64_t)src->rotated_at + (int64_t)src->grace_hours * 3600) * 1000)
        ok = sluice_hmac_sha256_2(prev, strlen(prev), prefix, plen, wire.base, wire.len, mac) == 0 &&
             sluice_ct_equal(mac, given, sizeof(mac));
    sluice_secure_zero(mac, sizeof(mac));
    if (!ok) {
        char why[400];
        mismatch_reason(req, ts, wire.len, why, sizeof(why));
        return refuse(req, in->w, &in->reply, 401, "bad_signature", why, NULL) - 1;
    }
    in->src = named;
    /* Single use: the signature itself names the request (org and source keep sources apart), in
     * one spelling (hex digits are accepted in either case). */
    char hex[2 * SLUICE_SHA256_LEN + 1];
    sluice_hex_encode(given, sizeof(given), hex, sizeof(hex));
    snprintf(replay_key, SLUICE_IDENTITY_REPLAY_KEY_MAX, "%s:%s:%s", named->org->id, named->src->id, hex);
    *until_ms = t + SIGNATURE_WINDOW_MS;
    return 0;
}

static int check_origin(ingest_t *in)
{
    h2o_iovec_t origin = sluice_http_header_str(in->req, "origin");
    if (origin.base == NULL)
        return 0;
    if (!sluice_runtime_origin_allowed(in->rt, in->src, origin.base, origin.len))
        return refuse(in->req, in->w, &in->reply, 403, "origin_not_allowed",
                      "this origin is not allowed for this write key", NULL) -
               1;
    in->reply.origin = origin;
    return 0;
}

/* The value of org's anonymous-id cookie to read: a browser sends each cookie of the name whose
 * domain matches, and the first was taken: another org's signed cookie on a shared domain put that
 * org's visitor id on this org's events and hid this org's own proof (identity.h). A few at most:
 * each costs an HMAC, and only when more than one came. */
static h2o_iovec_t anon_cookie(h2o_req_t *req, sluice_worker_t *w, const sluice_org_t *org)
{
    h2o_iovec_t v[4];
    size_t n = 0;
    while (n < sizeof(v) / sizeof(v[0]) &&
           (v[n] = sluice_http_cookie_nth(req, org->identity.cookie_name, n)).base != NULL)
        n++;
    if (n == 0)
        return h2o_iovec_init(NULL, 0);
    return v[sluice_identity_cookie_pick(w->identity, org, v, n)];
}

/* Identity's question before it names an id in Redis (identity.h: id_forgotten). */
static int job_id_forgotten(const sluice_identity_job_t *job, const char *id)
{
    const pending_t *p = H2O_STRUCT_FROM_MEMBER(pending_t, job, (sluice_identity_job_t *)job);
    const sluice_org_rt_t *ort = &p->rt->orgs[p->src->org_index];
    return sluice_forgotten_id_known(p->w->gw->forgotten, p->w->index, p->src->org->id, ort->forget_key, id);
}

/* sluice_identity_input_t.cookie: a cookie of the request, by name. */
static h2o_iovec_t req_cookie(void *req, const char *name)
{
    return sluice_http_cookie(req, name);
}

/* sluice_identity_input_t.cookie_nth: the nth copy of a cookie of the request. */
static h2o_iovec_t req_cookie_nth(void *req, const char *name, size_t nth)
{
    return sluice_http_cookie_nth(req, name, nth);
}

/* Identity step 1 (docs/identity.md): the cookies, Origin (or Referer) and Host of a browser
 * request, and a `_dft` token from the query string or the top of the body: root_jv, an events
 * request's, or root, an xd/redeem request's (jansson: no event of it goes anywhere). consent is
 * the categories of a request without events (xd/redeem), or NULL. */
static void identity_begin(ingest_t *in, pending_t *p, json_t *root, sluice_jv_t *root_jv, int browser,
                           const json_t *consent)
{
    h2o_req_t *req = in->req;
    const sluice_org_t *org = in->src->org;
    sluice_identity_input_t id = {.browser = browser, .now_ms = in->now_ms, .consent = consent};
    if (browser) {
        id.cookie_id = anon_cookie(req, in->w, org);
        id.fbp = sluice_http_cookie(req, "_fbp");
        id.fbc = sluice_http_cookie(req, "_fbc");
        id.ga = sluice_http_cookie(req, "_ga");
        id.cookie = req_cookie;         /* gtag's _ga_<container>, named after the org's GA4 streams */
        id.cookie_nth = req_cookie_nth; /* a vendor cookie's copy in the vendor's format */
        id.cookie_ctx = req;
        id.origin = sluice_http_header_str(req, "origin");
        if (id.origin.base == NULL) /* image pixels carry no Origin; their Referer names the page */
            id.origin = sluice_http_header(req, H2O_TOKEN_REFERER);
        id.host = req->authority;
        char *tok;
        long tl = sluice_http_query(req, "_dft", &tok);
        if (tl > 0)
            id.token = h2o_iovec_init(tok, (size_t)tl);
    }
    p->job.cfg = in->rt->cfg;
    p->job.org = org;
    p->job.user_form = sluice_datalayer_user_form;
    p->job.click_covered = sluice_datalayer_click_covered;
    p->job.id_forgotten = job_id_forgotten;
    if (root_jv != NULL)
        sluice_identity_begin_jv(in->w->identity, &p->job, &id, root_jv);
    else
        sluice_identity_begin(in->w->identity, &p->job, &id, root);
}

/* Validates and enriches events (root itself, or root.batch[]) into a new pending request, which
 * holds arena (where root and the body it was parsed from live) for as long as it keeps any of
 * its values. */
static int accept_events(ingest_t *in, sluice_jv_t *root, sluice_json_arena_t *arena, int forced_type, int batch,
                         int is_server, const char *replay_key, int64_t replay_until_ms)
{
    h2o_req_t *req = in->req;
    sluice_worker_t *w = in->w;
    const sluice_config_t *cfg = in->rt->cfg;
    sluice_jv_t *list = batch ? sluice_jv_object_get(root, "batch") : NULL;
    size_t n = batch ? sluice_jv_array_size(list) : 1;
    if (batch && !sluice_jv_is_array(list))
        return refuse(req, w, &in->reply, 400, "invalid_event", "batch must be a list of events", "batch");
    if (batch && n == 0)
        return refuse(req, w, &in->reply, 400, "invalid_event", "batch is empty", "batch");
    if (!batch && in->faults != NULL && in->faults->count > 0) {
        /* One event whose own member is named "batch": its long string was read as null, but only a
         * batch's events are refused one by one. */
        return refuse(req, w, &in->reply, 400, "invalid_json", in->faults->item[0].message, in->faults->item[0].path);
    }
    if (n > cfg->limits.max_batch_events) {
        char msg[96];
        snprintf(msg, sizeof(msg), "batch holds more than %zu events", cfg->limits.max_batch_events);
        return refuse(req, w, &in->reply, 413, "payload_too_large", msg, "batch");
    }

    pending_t *p = pending_new(req, w, &in->reply);
    if (p == NULL)
        return refuse(req, w, &in->reply, 500, "internal", "out of memory", NULL);
    p->src = in->src;
    p->arena = sluice_json_arena_hold(arena);
    p->batch = batch;
    if (n <= PENDING_INLINE_EVENTS) {
        p->accepted = p->accepted_inline;
        SLUICE_ASAN_POISON(p->accepted_inline + n, (PENDING_INLINE_EVENTS - n) * sizeof(*p->accepted));
    } else if ((p->accepted = malloc(n * sizeof(*p->accepted))) == NULL) {
        p->responded = 1;
        sluice_reply_error(req, w, &p->reply, 500, "internal", "out of memory", NULL);
        settle(p);
        return 0;
    }
    /* A server SDK's batch holds many users: no cookie, no id spread from one event to another. */
    int server_sent = is_server || in->src->src->server_sent;
    identity_begin(in, p, NULL, root, !server_sent, NULL);
    if (replay_key != NULL && replay_key[0] != '\0') {
        snprintf(p->job.replay_key, sizeof(p->job.replay_key), "%s", replay_key);
        p->job.replay_until_ms = replay_until_ms;
    }
    sluice_event_enrich_t en = {
        .received_ms = in->now_ms,
        .client_ip = sluice_http_client_ip(req, &cfg->server),
        .trust_client_ip = server_sent,
    };
    /* A server's request usually carries its HTTP library's User-Agent (Go-http-client,
     * node-fetch): not the visitor's, so not their context.userAgent, nor grounds to call their
     * events bots. A server relaying a visitor's request may pass the browser's on, which is
     * kept as a browser's is; so is a crawler's or headless browser's (Applebot, HeadlessChrome),
     * which makes the events bots. */
    h2o_iovec_t ua = sluice_http_header(req, H2O_TOKEN_USER_AGENT);
    en.library_user_agent =
        ua.base != NULL && sluice_ua_contains_any(ua.base, ua.len, sluice_ua_http_libraries, SIZE_MAX);
    if (ua.base != NULL && (!server_sent || !en.library_user_agent))
        en.user_agent = h2o_strdup(&req->pool, ua.base, ua.len).base;
    sluice_enrichment_req_t enr; /* device, bots, geolocation, session, campaign (enrichment.h) */
    sluice_enrichment_begin(&enr, req, w, in->rt, in->src, &en);
    /* Global Privacy Control (docs/privacy.md): the browser's own signal, so a server's header
     * (its, not the person's) withdraws nothing. Looked up only for an org that uses it. */
    const sluice_consent_config_t *consent = &in->src->org->consent;
    int gpc = 0;
    if (consent->gpc_withdraw_count > 0 && !server_sent && in->src->src->kind == SLUICE_SOURCE_BROWSER) {
        h2o_iovec_t v = sluice_http_header_str(req, "sec-gpc");
        gpc = v.len == 1 && v.base[0] == '1';
    }

    /* Validation, the ids pass and enrichment make what they add in the arena, next to the body's
     * values, as does the list of the events taken. */
    p->events = sluice_jv_array(arena);
    /* The copies of a batch's shared members may add as much to its events as the body itself
     * could hold (docs/security.md): they cost memory like the body's own values do. */
    sluice_batch_shared_jv_t shared = {{NULL, NULL}, {0, 0}, {NULL, NULL}, 0, NULL};
    if (p->events == NULL || (batch && sluice_batch_shared_of_jv(&shared, root, cfg->limits.max_body_bytes) != 0)) {
        p->responded = 1;
        sluice_reply_error(req, w, &p->reply, 500, "internal", "out of memory", NULL);
        settle(p);
        return 0;
    }
    size_t next_fault = 0; /* in->faults, in the order of their events */
    for (size_t i = 0; i < n; i++) {
        sluice_jv_t *ev = batch ? sluice_jv_array_get(list, i) : root;
        char prefix[32] = "";
        if (batch)
            snprintf(prefix, sizeof(prefix), "batch[%zu]", i);
        sluice_event_error_t e;
        if (batch && in->faults != NULL && next_fault < in->faults->count && in->faults->item[next_fault].index == i) {
            /* Refused as the same event sent alone is, recorded as read (the long string null). */
            const sluice_json_item_fault_t *f = &in->faults->item[next_fault++];
            sluice_event_error_set(&e, 400, "invalid_json", f->path, "%s", f->message);
            if (sluice_jv_is_object(ev))
                sluice_jv_object_del(ev, "writeKey"); /* a secret: not in its record either */
            add_rejection(p, i, &e, sluice_jv_is_object(ev) ? ev : NULL);
            continue;
        }
        if (!sluice_jv_is_object(ev)) {
            sluice_event_error_set(&e, 400, "invalid_event", prefix, "an event must be a JSON object");
            add_rejection(p, i, &e, NULL); /* not an object: no field of it can be masked, so none is kept */
            continue;
        }
        sluice_jv_object_del(ev, "writeKey"); /* a secret: never forwarded */
        /* The body bounds each event's size, so a body under half the event limit is not walked:
         * every number goes out as its text (jv keeps them). An event that took copies of the
         * batch's shared members is walked. */
        size_t source_len = in->body_len;
        int fits =
            batch ? sluice_batch_shared_check_jv(ev, &shared, cfg->limits.max_event_bytes) : SLUICE_BATCH_SHARED_FITS;
        if (fits != SLUICE_BATCH_SHARED_FITS) {
            if (fits == SLUICE_BATCH_SHARED_EVENT_TOO_BIG)
                sluice_event_error_set(&e, 413, "payload_too_large", prefix,
                                       "event larger than %zu bytes with the batch's context and integrations",
                                       cfg->limits.max_event_bytes);
            else
                sluice_event_error_set(&e, 413, "payload_too_large", prefix,
                                       "the batch's context and integrations copied into its events add more than "
                                       "%zu bytes: send fewer events per batch",
                                       cfg->limits.max_body_bytes);
            add_rejection(p, i, &e, ev); /* recorded as sent, without the copies */
            continue;
        }
        if (batch && sluice_batch_shared_merge_jv(ev, &shared, arena))
            source_len = 0;
        if (sluice_event_validate_jv(ev, forced_type, &cfg->limits, prefix, source_len, arena, &e) < 0) {
            add_rejection(p, i, &e, ev);
            continue;
        }
        /* Consent in the SDKs' formats into context.consent.categories now, before identity and
         * enrichment decide on cookies from that list: the data layer reads the same categories,
         * so a cookie is set with the consent an event is kept with, never without it. */
        if (sluice_consent_normalize_jv(ev, consent, arena) != 0 ||
            (consent->gpc_withdraw_count > 0 && sluice_consent_gpc_jv(ev, consent, gpc, arena) != 0)) {
            sluice_event_error_set(&e, 500, "internal", prefix, "out of memory");
            add_rejection(p, i, &e, NULL);
            continue;
        }
        /* E-mails in ids are hashed before identity reads them (its links in Redis must not hold
         * them); the rest of the guard runs after the data layer. */
        uint64_t idfound = 0;
        if (sluice_piiguard_ids_jv(p->rt->orgs[p->src->org_index].guard, w->pii, ev, arena, &idfound) != 0) {
            sluice_event_error_set(&e, 500, "internal", prefix, "out of memory");
            add_rejection(p, i, &e, NULL); /* an id may be half-hashed: nothing of it is kept */
            continue;
        }
        /* A forgotten person's event is dropped before identity reads it: an identify of theirs
         * on a new device wrote a link in Redis (the new anonymous id to their user id) and their
         * id became the visitor's claimed id, new records about someone erased, though the event
         * itself was dropped after identity. Checked on the ids the client sent, then on the id
         * the visitor's cookie gives the event; after identity, on the ids a link fills in. */
        const sluice_org_rt_t *ort = &p->rt->orgs[p->src->org_index];
        if (sluice_forgotten_match_jv(w->gw->forgotten, w->index, p->src->org->id, ort->forget_key, ev)) {
            p->suppressed++;
            continue;
        }
        if (sluice_event_enrich_jv(ev, &en, arena) != 0 || sluice_identity_assign_jv(&p->job, arena, ev) != 0) {
            sluice_event_error_set(&e, 500, "internal", prefix, "no random bytes available");
            add_rejection(p, i, &e, ev);
            continue;
        }
        if (sluice_forgotten_match_jv(w->gw->forgotten, w->index, p->src->org->id, ort->forget_key, ev)) {
            p->suppressed++;
            continue;
        }
        if (sluice_enrichment_event_jv(&enr, ev, &p->reply, arena) != 0) {
            p->suppressed++; /* a bot its org drops: counted there, answered as accepted, never queued */
            continue;
        }
        size_t k = sluice_jv_array_size(p->events);
        /* A jv value lives in one place: a batch's event leaves the batch's list (a null in its
         * place, which nothing writes) for the request's. */
        if ((batch && sluice_jv_array_set(list, i, sluice_jv_null(arena)) != 0) ||
            sluice_jv_array_append(arena, p->events, ev) != 0) {
            sluice_event_error_set(&e, 500, "internal", prefix, "out of memory");
            add_rejection(p, i, &e, NULL);
            continue;
        }
        p->accepted[k].index = i;
        p->accepted[k].idfound = idfound;
    }
    sluice_batch_shared_dispose_jv(&shared);

    p->job.events_jv = p->events;
    p->job.arena = arena;
    p->job.done = on_identity_done;
    if (sluice_identity_run(w->identity, &p->job) != 0) {
        p->responded = 1;
        sluice_reply_error(req, w, &p->reply, 500, "internal", "out of memory", NULL);
        settle(p);
    }
    return 0;
}

/* ------------------------------------------------------------------ entry points */

/* body copied into arena a (may be NULL: arenas off or out of memory), for sluice_event_parse_jv,
 * whose values point into it: the request's own buffers go with the HTTP request. NULL when it
 * cannot be had. */
static const char *arena_text(sluice_json_arena_t *a, h2o_iovec_t body)
{
    char *text = a != NULL ? sluice_json_arena_alloc(a, body.len + 1) : NULL;
    if (text != NULL) {
        memcpy(text, body.base, body.len);
        text[body.len] = '\0';
    }
    return text;
}

/* 1 when v is the string key[0..len) exactly: a writeKey found by a scan of the bytes, which
 * holds no escapes, is the body's own top-level one. */
static int key_is(const sluice_jv_t *v, const char *key, size_t len)
{
    size_t n;
    const char *s = sluice_jv_string_value(v, &n);
    return sluice_jv_is_string(v) && n == len && (len == 0 || memcmp(s, key, len) == 0);
}

/* The client's bucket (the address behind trusted proxies), then the source's: a client over its
 * own limit must not go on spending the source's, which every other client shares. NULL when
 * allowed, else the answer's message; the refusal is counted by scope. */
static const char *rate_limited(ingest_t *in)
{
    sluice_worker_t *w = in->w;
    const sluice_source_rt_t *s = in->src;
    uint64_t now = (uint64_t)sluice_mono_ms();
    const char *ip = sluice_http_client_ip(in->req, &in->rt->cfg->server);
    if (!sluice_client_limits_allow(w->clients, s->limit_slot, ip, &s->src->client_rate_limit, now)) {
        sluice_counter_add(&w->metrics.rate_limited[SLUICE_LIMIT_CLIENT], 1);
        return "too many requests from this client";
    }
    if (!sluice_limiter_allow(w->gw->limiter, s->limit_slot, w->index, &s->src->rate_limit, now)) {
        sluice_counter_add(&w->metrics.rate_limited[SLUICE_LIMIT_KEY], 1);
        return "too many requests for this write key";
    }
    return NULL;
}

/* The limits a request of an authenticated source passes before any work is done for it: its
 * origin, the rate limits, and a Kafka that is known to be down. 0, or -1 when it was answered. */
static int admit(ingest_t *in)
{
    sluice_worker_t *w = in->w;
    if (check_origin(in) != 0)
        return -1;
    const char *why = rate_limited(in);
    if (why != NULL)
        return refuse(in->req, w, &in->reply, 429, "rate_limited", why, NULL) - 1;
    if (sluice_producer_state(w->producer) == SLUICE_PRODUCER_DOWN)
        return refuse(in->req, w, &in->reply, 503, "kafka_unavailable",
                      "no Kafka broker is reachable; retry after the delay in Retry-After", NULL) -
               1;
    return 0;
}

/* The browser source of a write key. 0, or -1 (answered 401). */
static int authenticate_key(ingest_t *in, const char *key, size_t key_len)
{
    in->src = key != NULL ? sluice_runtime_auth(in->rt, key, key_len, in->now_ms) : NULL;
    if (in->src != NULL && in->src->src->kind == SLUICE_SOURCE_BROWSER)
        return 0;
    in->src = NULL;
    return refuse(in->req, in->w, &in->reply, 401, "unauthorized",
                  key != NULL ? "unknown write key"
                              : "a write key is required (Authorization: Bearer or Basic, X-Write-Key, or writeKey "
                                "in the query or in the JSON body)",
                  NULL) -
           1;
}

/* Authenticate before work: the write key (or the signature) is checked on the request as
 * received, before the body is inflated or parsed; only then do the limits, gunzip and the
 * parser spend anything on it. */
int sluice_ingest_post(h2o_req_t *req, sluice_worker_t *w, sluice_route_t route, int forced_type)
{
    ingest_t in = {.req = req, .w = w, .rt = w->rt, .reply = {.route = route}, .now_ms = sluice_now_ms()};
    if (w->stopping)
        return refuse(req, w, &in.reply, 503, "kafka_unavailable", "the gateway is shutting down; retry", NULL);
    if (check_wire(&in) != 0)
        return 0;

    int is_server = route == SLUICE_ROUTE_EVENTS;
    h2o_iovec_t wire = req->entity.base != NULL ? req->entity : h2o_iovec_init("", 0);
    char replay_key[SLUICE_IDENTITY_REPLAY_KEY_MAX] = "";
    int64_t replay_until = 0;
    size_t key_len = 0;
    const char *key = NULL, *body_key = NULL;
    h2o_iovec_t body = h2o_iovec_init(NULL, 0);
    char *owned = NULL;
    int inflated = 0;
    if (is_server) {
        if (verify_signature(&in, wire, replay_key, &replay_until) != 0)
            return 0;
    } else {
        key = head_write_key(&in, &key_len);
        if (key == NULL && is_gzip(req)) {
            if (inflate_keyless(&in, &body, &owned) != 0)
                return 0;
            inflated = 1;
            key = body_key = body_write_key(&in, body, &key_len);
        } else if (key == NULL) {
            key = body_key = body_write_key(&in, wire, &key_len);
        }
        if (authenticate_key(&in, key, key_len) != 0) {
            free(owned);
            return 0;
        }
    }
    if (admit(&in) != 0) {
        free(owned);
        return 0;
    }

    if (!inflated && read_body(&in, &body, &owned) != 0)
        return 0;
    in.body_len = body.len;
    sluice_event_error_t e;
    /* The body is copied into an arena and parsed there: its values (numbers as their text,
     * strings as spans of it) and all the stages add to them live in the arena, given back whole
     * once the request is done with them, and outlive the HTTP request if the client goes. */
    sluice_json_arena_t *arena = sluice_json_arena_new();
    const char *text = arena_text(arena, body);
    if (text == NULL) {
        sluice_json_arena_free(arena);
        free(owned);
        return refuse(req, w, &in.reply, 500, "internal", "out of memory", NULL);
    }
    sluice_json_item_faults_t faults;
    faults.count = 0;
    sluice_jv_t *root = sluice_event_parse_jv(text, body.len, &in.rt->cfg->limits, arena, &faults, &e);
    in.faults = &faults;
    if (root == NULL) {
        sluice_json_arena_free(arena);
        free(owned);
        return json_or_media_error(&in, &e);
    }
    /* A key found by the scan must be the body's own top-level writeKey. */
    int key_ok = body_key == NULL || key_is(sluice_jv_object_get(root, "writeKey"), body_key, key_len);
    free(owned); /* after the check: a gzip body's key, found by the scan, points into it */
    if (!key_ok) {
        sluice_json_arena_free(arena);
        return refuse(req, w, &in.reply, 401, "unauthorized", "writeKey must be a top-level member of the body", NULL);
    }
    int batch = route == SLUICE_ROUTE_BATCH || (is_server && sluice_jv_object_get(root, "batch") != NULL);
    sluice_jv_object_del(root, "writeKey");
    accept_events(&in, root, arena, forced_type, batch, is_server, replay_key, replay_until);
    sluice_json_arena_free(arena); /* the request, if any, holds it on */
    return 0;
}

/* Segment's SDKs fetch their settings from cdnHost (`GET <cdnHost>/projects/<key>/settings`) when
 * they start, and the settings' integrations["Segment.io"].apiHost decides where their events go,
 * whatever the app configured: analytics-kotlin from 1.20 and analytics-swift replace the apiHost
 * they were given with the settings' one, or with api.segment.io/v1, their default, when the fetch
 * fails. Pointed at sluice, the fetch was a 404 and the app's events went to Segment. The answer
 * names the gateway, as the request reached it (Host and path prefix), for a browser source's
 * key, and turns the SDKs' own metrics off (they report to Segment). Nothing else of Segment's
 * settings applies here: no device-mode destinations, no plan. */
int sluice_ingest_settings(h2o_req_t *req, sluice_worker_t *w, h2o_iovec_t key)
{
    ingest_t in = {.req = req, .w = w, .rt = w->rt, .reply = {.route = SLUICE_ROUTE_OTHER}, .now_ms = sluice_now_ms()};
    if (authenticate_key(&in, key.base, key.len) != 0 || check_origin(&in) != 0)
        return 0;
    /* The host as a client named it: letters, digits, dots, dashes, a port or an IPv6 literal;
     * anything else is no host to send events to. */
    h2o_iovec_t host = req->authority;
    int ok = host.len > 0 && host.len < 256;
    for (size_t i = 0; ok && i < host.len; i++) {
        char c = host.base[i];
        ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
             c == ':' || c == '[' || c == ']';
    }
    if (!ok)
        return refuse(req, w, &in.reply, 400, "bad_request", "the request names no host (Host) to send events to",
                      NULL);
    const char *prefix = in.rt->cfg->server.path_prefix ? in.rt->cfg->server.path_prefix : "";
    size_t plen = strlen(prefix);
    while (plen > 0 && prefix[plen - 1] == '/')
        plen--;
    char api_host[512];
    snprintf(api_host, sizeof(api_host), "%.*s%.*s", (int)host.len, host.base, (int)plen, prefix);
    json_t *body = json_pack("{s:{s:{s:s%,s:s,s:s}},s:{},s:{},s:{},s:{s:i}}", "integrations", "Segment.io", "apiKey",
                             key.base, key.len, "apiHost", api_host, "protocol", "https", "plan", "edgeFunction",
                             "middlewareSettings", "metrics", "sampleRate", 0);
    char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (text == NULL)
        return refuse(req, w, &in.reply, 500, "internal", "out of memory", NULL);
    /* It names the Host it was asked for: a shared cache in front must not keep one for all. */
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-store"));
    sluice_reply_send(req, w, &in.reply, 200, "application/json", text, strlen(text), NULL);
    free(text);
    return 0;
}

/* Pixel events come as `data` (base64 or base64url JSON of the event) or as plain parameters:
 * event, name, userId, anonymousId, messageId, timestamp, url, ref, and properties.<k> /
 * traits.<k> / context.<k> for nested values. */
typedef struct pixel_build {
    json_t *ev;
} pixel_build_t;

static int pixel_param(void *ud, const char *name, const char *value)
{
    pixel_build_t *b = ud;
    static const char *const plain[] = {"event",     "name",       "userId",  "anonymousId", "messageId",
                                        "timestamp", "previousId", "groupId", "category"};
    for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++)
        if (strcmp(name, plain[i]) == 0) {
            json_object_set_new(b->ev, name, json_string(value));
            return 0;
        }
    static const char *const nested[] = {"properties.", "traits.", "context."};
    for (size_t i = 0; i < 3; i++) {
        size_t pl = strlen(nested[i]);
        if (strncmp(name, nested[i], pl) == 0 && name[pl] != '\0') {
            char obj[16];
            snprintf(obj, sizeof(obj), "%.*s", (int)pl - 1, nested[i]);
            json_t *o = json_object_get(b->ev, obj);
            if (!json_is_object(o)) {
                o = json_object();
                json_object_set_new(b->ev, obj, o);
            }
            json_object_set_new(o, name + pl, json_string(value));
            return 0;
        }
    }
    if (strcmp(name, "url") == 0 || strcmp(name, "ref") == 0) {
        json_t *ctx = json_object_get(b->ev, "context");
        if (!json_is_object(ctx)) {
            ctx = json_object();
            json_object_set_new(b->ev, "context", ctx);
        }
        json_t *page = json_object_get(ctx, "page");
        if (!json_is_object(page)) {
            page = json_object();
            json_object_set_new(ctx, "page", page);
        }
        json_object_set_new(page, strcmp(name, "url") == 0 ? "url" : "referrer", json_string(value));
    }
    return 0;
}

/* The event pixel_param built from a pixel's parameters, as arena values: written (all strings,
 * in the order they were set) and read back into a, as an events request's body is. NULL when
 * memory runs out. */
static sluice_jv_t *pixel_event(sluice_json_arena_t *a, const json_t *ev)
{
    size_t n;
    char *text = a != NULL ? sluice_json_encode(ev, NULL, &n) : NULL;
    const char *kept = text != NULL ? arena_text(a, h2o_iovec_init(text, n)) : NULL;
    free(text);
    if (kept == NULL)
        return NULL;
    /* No limit of a body applies: the parameters were never parsed as one (validation judges
     * the event as it does a body's). */
    sluice_json_error_t err;
    return sluice_jv_parse(a, kept, n, SIZE_MAX, n + 1, 0, NULL, &err);
}

/* An image request carries no Origin; its Referer names the page that loaded it. Either is
 * checked against the source's allowed_origins when present (a pixel is a GET anyone can embed:
 * without this, any site could spend an org's budget and write into its data). Neither present
 * happens with e-mail clients and strict referrer policies: accepted only where the source says
 * pixel_without_referrer. 0, or -1 when answered 403. */
static int check_pixel_origin(ingest_t *in)
{
    h2o_iovec_t origin = sluice_http_header_str(in->req, "origin");
    if (origin.base == NULL) {
        h2o_iovec_t ref = sluice_http_header(in->req, H2O_TOKEN_REFERER);
        const char *sep = ref.base != NULL ? memmem(ref.base, ref.len, "://", 3) : NULL;
        if (sep != NULL) {
            const char *p = sep + 3, *end = ref.base + ref.len;
            while (p < end && *p != '/' && *p != '?' && *p != '#')
                p++;
            origin = h2o_iovec_init(ref.base, (size_t)(p - ref.base));
        } else if (ref.base != NULL) {
            origin = ref; /* not a URL: compared as is, so refused */
        }
    }
    if (origin.base == NULL) {
        if (in->src->src->pixel_without_referrer)
            return 0;
        return refuse(in->req, in->w, &in->reply, 403, "origin_not_allowed",
                      "a pixel needs a Referer or Origin of an allowed origin (or pixel_without_referrer on the "
                      "source, for e-mail)",
                      NULL) -
               1;
    }
    if (!sluice_runtime_origin_allowed(in->rt, in->src, origin.base, origin.len))
        return refuse(in->req, in->w, &in->reply, 403, "origin_not_allowed",
                      "the page this pixel was loaded from is not an allowed origin for this write key", NULL) -
               1;
    return 0;
}

/* A POSTed pixel's body (amp-analytics' `useBody`: its extraUrlParams as a JSON object): each
 * top-level string member is a parameter, as if it were in the query after the query's own.
 * post_key: a writeKey the scan found in it, which must be its own top-level member. 0, or -1
 * when answered. */
static int pixel_post_params(ingest_t *in, pixel_build_t *b, const char *post_key, size_t key_len)
{
    h2o_iovec_t body;
    char *owned;
    if (read_body(in, &body, &owned) != 0)
        return -1;
    sluice_event_error_t e;
    json_t *params = sluice_event_parse(body.base, body.len, &in->rt->cfg->limits, NULL, NULL, &e);
    free(owned);
    if (params == NULL)
        return refuse(in->req, in->w, &in->reply, e.status, e.code, e.message, e.path) - 1;
    json_t *wk = json_object_get(params, "writeKey");
    if (post_key != NULL && (!json_is_string(wk) || json_string_length(wk) != key_len ||
                             memcmp(json_string_value(wk), post_key, key_len) != 0)) {
        json_decref(params);
        return refuse(in->req, in->w, &in->reply, 401, "unauthorized",
                      "writeKey must be a top-level member of the body", NULL) -
               1;
    }
    const char *name;
    json_t *v;
    json_object_foreach(params, name, v) {
        if (json_is_string(v) && strcmp(name, "writeKey") != 0)
            pixel_param(b, name, json_string_value(v));
    }
    json_decref(params);
    return 0;
}

int sluice_ingest_pixel(h2o_req_t *req, sluice_worker_t *w, h2o_iovec_t type)
{
    ingest_t in = {
        .req = req, .w = w, .rt = w->rt, .reply = {.route = SLUICE_ROUTE_PIXEL, .pixel = 1}, .now_ms = sluice_now_ms()};
    static const struct {
        const char *name;
        int type;
    } types[] = {{"t", SLUICE_EVENT_TRACK},     {"track", SLUICE_EVENT_TRACK},       {"p", SLUICE_EVENT_PAGE},
                 {"page", SLUICE_EVENT_PAGE},   {"s", SLUICE_EVENT_SCREEN},          {"screen", SLUICE_EVENT_SCREEN},
                 {"i", SLUICE_EVENT_IDENTIFY},  {"identify", SLUICE_EVENT_IDENTIFY}, {"g", SLUICE_EVENT_GROUP},
                 {"group", SLUICE_EVENT_GROUP}, {"a", SLUICE_EVENT_ALIAS},           {"alias", SLUICE_EVENT_ALIAS}};
    int forced = -1;
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (h2o_memis(type.base, type.len, types[i].name, strlen(types[i].name)))
            forced = types[i].type;
    if (forced < 0)
        return refuse(req, w, &in.reply, 404, "not_found", "unknown pixel event type", NULL);
    if (w->stopping)
        return refuse(req, w, &in.reply, 503, "kafka_unavailable", "the gateway is shutting down; retry", NULL);

    /* amp-analytics sends its requests with navigator.sendBeacon, else an XHR POST, and only
     * falls back to an image GET where neither exists: a POST of the pixel's URL with an empty
     * body (or, with `useBody`, its extraUrlParams as a JSON object). Refused as a method, every
     * AMP page view was lost unseen (a beacon has no answer). A POST is the GET of its URL, and
     * the string members of a JSON object body are parameters after the query's. */
    int post = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST"));
    h2o_iovec_t post_body = h2o_iovec_init(NULL, 0);
    if (post) {
        if (check_wire(&in) != 0)
            return 0;
        if (req->entity.base != NULL && req->entity.len > 0)
            post_body = req->entity;
    }

    /* Authenticate before work: with the key in the URL or a header (the usual pixel), the key,
     * the page's origin and the limits are judged before data= is decoded or parsed; a key inside
     * data= (or a POST's body) is found by a scan of the decoded text, before it is parsed. */
    size_t key_len = 0;
    const char *key = head_write_key(&in, &key_len), *post_key = NULL;
    char *data;
    /* (data= is looked for only here, where the key can be nowhere else: decoding a long data=
     * for a wrong key in the URL would cost what the check of the key is there to spare.) */
    if (key == NULL && post_body.len > 0 && !is_gzip(req) && sluice_http_query(req, "data", &data) <= 0)
        key = post_key = body_write_key(&in, post_body, &key_len);
    if (key != NULL && (authenticate_key(&in, key, key_len) != 0 || check_pixel_origin(&in) != 0 || admit(&in) != 0))
        return 0;
    /* HEAD is what link checkers, prefetchers and e-mail scanners send, not a view: it gets the
     * GIF's head as GET would after the checks above, and records nothing. */
    if (h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"))) {
        sluice_reply_gif(req, w, &in.reply, 200);
        return 0;
    }
    sluice_jv_t *root = NULL;
    sluice_json_arena_t *arena = NULL;
    const char *body_key = NULL;
    long dl = sluice_http_query(req, "data", &data);
    if (dl > 0) {
        size_t cap = sluice_b64url_decoded_len((size_t)dl) + 1, n;
        uint8_t *dec = h2o_mem_alloc_pool(&req->pool, cap);
        if ((size_t)dl > in.rt->cfg->limits.max_body_bytes * 2 ||
            sluice_b64_decode_any(data, (size_t)dl, dec, cap, &n) != 0)
            return refuse(req, w, &in.reply, 400, "invalid_json", "data must be base64 of a JSON event", "data");
        if (key == NULL) {
            key = body_key = body_write_key(&in, h2o_iovec_init(dec, n), &key_len);
            if (authenticate_key(&in, key, key_len) != 0 || check_pixel_origin(&in) != 0 || admit(&in) != 0)
                return 0;
        }
        sluice_event_error_t e;
        arena = sluice_json_arena_new();
        const char *text = arena_text(arena, h2o_iovec_init(dec, n));
        if (text == NULL) {
            sluice_json_arena_free(arena);
            return refuse(req, w, &in.reply, 500, "internal", "out of memory", NULL);
        }
        root = sluice_event_parse_jv(text, n, &in.rt->cfg->limits, arena, NULL, &e);
        if (root == NULL) {
            sluice_json_arena_free(arena);
            return refuse(req, w, &in.reply, e.status, e.code, e.message, e.path);
        }
    } else if (key == NULL) {
        /* Plain parameters carry no key (a writeKey parameter is the query's, looked for above):
         * refused as it is, not after building an event of up to h2o's whole head (15,000
         * parameters cost 12 ms of the loop, a wrong key 0.7 ms). */
        authenticate_key(&in, NULL, 0);
        return 0;
    } else {
        pixel_build_t b = {json_object()};
        sluice_http_query_foreach(req, pixel_param, &b);
        if (post_body.len > 0 && pixel_post_params(&in, &b, post_key, key_len) != 0) {
            json_decref(b.ev);
            return 0;
        }
        arena = sluice_json_arena_new();
        root = pixel_event(arena, b.ev);
        json_decref(b.ev);
        if (root == NULL) {
            sluice_json_arena_free(arena);
            return refuse(req, w, &in.reply, 500, "internal", "out of memory", NULL);
        }
    }
    /* A key found by the scan must be data='s own top-level writeKey. */
    if (body_key != NULL && !key_is(sluice_jv_object_get(root, "writeKey"), body_key, key_len)) {
        sluice_json_arena_free(arena);
        return refuse(req, w, &in.reply, 401, "unauthorized", "writeKey must be a top-level member of data", "data");
    }
    sluice_jv_object_del(root, "writeKey");
    accept_events(&in, root, arena, forced, 0, 0, NULL, 0);
    sluice_json_arena_free(arena); /* the request, if any, holds it on */
    return 0;
}

/* The request headers a preflight allows: those the SDKs people run send (Segment's analytics.js
 * adds X-Retry-Count on retries; RudderStack's adds AnonymousId and SentAt, and on retries
 * Rsa-Retry-Attempt, Rsa-Retry-Reason, Rsa-Since-Last-Attempt, Rsa-Since-First-Attempt and, for
 * events taken over from another tab, Rsa-Recovered: tests/compat/FINDINGS.md), plus
 * whatever the browser asks for in Access-Control-Request-Headers, kept to header-name
 * characters. Allowing a header lets a page send it, nothing more: every request is still
 * authenticated and origin-checked on its own. Pool memory. */
static h2o_iovec_t allowed_headers(h2o_req_t *req)
{
    static const char fixed[] = "Authorization, Content-Type, Content-Encoding, X-Write-Key, X-Retry-Count, "
                                "AnonymousId, SentAt, Rsa-Retry-Attempt, Rsa-Retry-Reason, Rsa-Since-Last-Attempt, "
                                "Rsa-Since-First-Attempt, Rsa-Recovered";
    h2o_iovec_t asked = sluice_http_header_str(req, "access-control-request-headers");
    if (asked.base == NULL || asked.len == 0 || asked.len > 2048)
        return h2o_iovec_init(fixed, sizeof(fixed) - 1);
    char *out = h2o_mem_alloc_pool(&req->pool, sizeof(fixed) + asked.len + 2);
    size_t o = sizeof(fixed) - 1;
    memcpy(out, fixed, o);
    const char *p = asked.base, *end = asked.base + asked.len;
    while (p < end) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
            p++;
        const char *name = p;
        while (p < end && *p != ',' && *p != ' ' && *p != '\t')
            p++;
        size_t n = (size_t)(p - name);
        int token = n > 0;
        for (size_t i = 0; i < n && token; i++) {
            unsigned char c = (unsigned char)name[i];
            token = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    strchr("!#$%&'*+-.^_`|~", c) != NULL;
        }
        if (token) {
            out[o++] = ',';
            out[o++] = ' ';
            memcpy(out + o, name, n);
            o += n;
        }
    }
    return h2o_iovec_init(out, o);
}

int sluice_ingest_preflight(h2o_req_t *req, sluice_worker_t *w, sluice_route_t route)
{
    (void)route;
    sluice_reply_t r = {.route = SLUICE_ROUTE_PREFLIGHT};
    h2o_iovec_t origin = sluice_http_header_str(req, "origin");
    if (origin.base == NULL || !sluice_runtime_origin_allowed(w->rt, NULL, origin.base, origin.len))
        return refuse(req, w, &r, 403, "origin_not_allowed", "this origin is not allowed", NULL);
    r.origin = origin;
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("access-control-allow-methods"), 0, NULL,
                          H2O_STRLIT("POST, GET, OPTIONS"));
    h2o_iovec_t allow = allowed_headers(req);
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("access-control-allow-headers"), 0, NULL,
                          allow.base, allow.len);
    /* Two hours: what Chromium allows at most; the preflight is then once per page session. */
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("access-control-max-age"), 0, NULL,
                          H2O_STRLIT("7200"));
    sluice_reply_send(req, w, &r, 204, NULL, "", 0, NULL);
    return 0;
}

/* ------------------------------------------------------------------ cross-domain tokens */

/* Answers an /xd or /xd/redeem request that went wrong; these refuse no events, so nothing is
 * counted as a rejected event. */
static int xd_error(ingest_t *in, int status, const char *code, const char *message)
{
    sluice_reply_error(in->req, in->w, &in->reply, status, code, message, NULL);
    return 0;
}

/* The browser source of the write key (key, may be NULL), CORS and the rate limit, as for events.
 * 0 or -1 (answered). */
static int xd_admit(ingest_t *in, const char *key, size_t key_len)
{
    in->src = key ? sluice_runtime_auth(in->rt, key, key_len, in->now_ms) : NULL;
    if (in->src == NULL || in->src->src->kind != SLUICE_SOURCE_BROWSER)
        return xd_error(in, 401, "unauthorized",
                        "a browser source's write key is required (Authorization: Bearer or Basic, X-Write-Key, or "
                        "writeKey in the query)") -
               1;
    h2o_iovec_t origin = sluice_http_header_str(in->req, "origin");
    if (origin.base != NULL && !sluice_runtime_origin_allowed(in->rt, in->src, origin.base, origin.len))
        return xd_error(in, 403, "origin_not_allowed", "this origin is not allowed for this write key") - 1;
    in->reply.origin = origin;
    const char *why = rate_limited(in);
    if (why != NULL)
        return xd_error(in, 429, "rate_limited", why) - 1;
    return 0;
}

/* Seals the token for ii and answers the /xd request. */
static void xd_issue_reply(h2o_req_t *req, sluice_worker_t *w, sluice_reply_t *reply, const sluice_org_t *org,
                           const sluice_identity_issue_input_t *ii)
{
    char token[SLUICE_TOKEN_TEXT_MAX + 1], set_cookie[SLUICE_IDENTITY_COOKIE_LEN], anon[SLUICE_ID_MAX + 1];
    sluice_err_t err = {{0}};
    int rc =
        sluice_identity_issue(w->identity, org, ii, token, sizeof(token), set_cookie, sizeof(set_cookie), anon, &err);
    switch (rc) {
    case 0: break;
    case SLUICE_IDENTITY_EDOMAIN:
        sluice_reply_error(req, w, reply, 403, "xd_domain_not_allowed", err.msg, NULL);
        return;
    case SLUICE_IDENTITY_EID: sluice_reply_error(req, w, reply, 400, "invalid_request", err.msg, NULL); return;
    case SLUICE_IDENTITY_ENOKEY: sluice_reply_error(req, w, reply, 503, "xd_unavailable", err.msg, NULL); return;
    default:
        sluice_log_error("xd.issue", "org %s: %s", org->id, err.msg);
        sluice_reply_error(req, w, reply, 500, "internal", "could not seal a token", NULL);
        return;
    }
    /* The id the token carries goes back too: the tag sends its own id with its events, and one
     * the gateway does not know (a first click before any batch set the cookie, a batch refused
     * while Kafka was down, localStorage cleared under a kept cookie) made the other site adopt an
     * id none of this site's events carried. The tag switches to it. It is this caller's own id
     * (its signed cookie's, the first id it just claimed, or one minted for it), as /xd/redeem
     * answers. */
    char body[SLUICE_TOKEN_TEXT_MAX + SLUICE_ID_MAX + 40];
    int n = snprintf(body, sizeof(body), "{\"token\":\"%s\",\"anonymousId\":\"%s\"}", token, anon);
    sluice_counter_add(&w->metrics.tokens[SLUICE_TOKEN_ISSUED], 1);
    if (set_cookie[0] != '\0')
        sluice_reply_add_cookie(req, reply, set_cookie, strlen(set_cookie));
    sluice_reply_send(req, w, reply, 200, "application/json", body, (size_t)n, NULL);
    sluice_secure_zero(token, sizeof(token));
    sluice_secure_zero(body, sizeof(body));
}

/* Redis answered the claim of a /xd request's first id. */
static void on_xd_claimed(void *ud, int claimed)
{
    pending_t *p = ud;
    if (p->req != NULL) {
        /* The same input as the direct answer's: no Origin is NULL there, an empty text here. */
        sluice_identity_issue_input_t ii = {.origin_host = p->xd->origin[0] != '\0' ? p->xd->origin : NULL,
                                            .to_host = p->xd->to,
                                            .host = p->req->authority,
                                            .now_ms = sluice_now_ms(),
                                            .claimed = claimed ? p->xd->first : NULL};
        xd_issue_reply(p->req, p->w, &p->reply, p->src->org, &ii);
    }
    p->responded = 1;
    settle(p);
}

int sluice_ingest_xd_issue(h2o_req_t *req, sluice_worker_t *w)
{
    ingest_t in = {.req = req, .w = w, .rt = w->rt, .reply = {.route = SLUICE_ROUTE_XD}, .now_ms = sluice_now_ms()};
    size_t key_len = 0;
    const char *key = head_write_key(&in, &key_len);
    if (xd_admit(&in, key, key_len) != 0)
        return 0;
    const sluice_org_t *org = in.src->org;
    char origin_host[SLUICE_URL_HOST_MAX + 1] = "", to_host[SLUICE_URL_HOST_MAX + 1];
    h2o_iovec_t origin = in.reply.origin;
    int have_origin =
        origin.base != NULL && sluice_url_host(origin.base, origin.len, origin_host, sizeof(origin_host)) == 0;
    if (!have_origin)
        origin_host[0] = '\0'; /* kept for the claim's answer: empty there means none */
    char *to;
    long tl = sluice_http_query(req, "to", &to);
    if (tl <= 0 || sluice_url_host(to, (size_t)tl, to_host, sizeof(to_host)) != 0)
        return xd_error(&in, 400, "invalid_request", "`to` must be the http(s) URL of the link");

    /* Whose token: the id the signed cookie proves; without a cookie, the tag's anonymousId once
     * Redis says nobody claimed it before (as a batch's first id); else a new one. */
    sluice_identity_issue_input_t ii = {.origin_host = have_origin ? origin_host : NULL,
                                        .to_host = to_host,
                                        .cookie = anon_cookie(req, w, org),
                                        .host = req->authority,
                                        .now_ms = in.now_ms};
    char *first;
    long fl = sluice_http_query(req, "anonymousId", &first);
    char first_id[SLUICE_ID_MAX + 1] = "";
    if (fl > 0 && (size_t)fl < sizeof(first_id)) {
        memcpy(first_id, first, (size_t)fl);
        first_id[fl] = '\0';
    }
    const sluice_org_rt_t *ort = &in.rt->orgs[in.src->org_index];
    if (sluice_identity_issue_claims(w->identity, org, &ii, first_id) &&
        !sluice_forgotten_id_known(w->gw->forgotten, w->index, org->id, ort->forget_key, first_id)) {
        pending_t *p = pending_new(req, w, &in.reply);
        if (p != NULL) {
            p->src = in.src;
            /* Out of memory: answered at once, as when Redis cannot take the claim. */
            if ((p->xd = malloc(sizeof(*p->xd))) != NULL) {
                snprintf(p->xd->first, sizeof(p->xd->first), "%s", first_id);
                snprintf(p->xd->origin, sizeof(p->xd->origin), "%s", origin_host);
                snprintf(p->xd->to, sizeof(p->xd->to), "%s", to_host);
                if (sluice_identity_claim(w->identity, org, p->xd->first, on_xd_claimed, p) == 0)
                    return 0;
            }
            p->responded = 1;
            settle(p);
        }
    }
    xd_issue_reply(req, w, &in.reply, org, &ii);
    return 0;
}

static void on_redeem_done(sluice_identity_job_t *job)
{
    pending_t *p = H2O_STRUCT_FROM_MEMBER(pending_t, job, job);
    identity_finish(p);
    if (p->req != NULL) {
        /* Only an id this request proved: its signed cookie's, the token's, or one made for it. */
        json_t *body = json_pack("{s:o,s:b}", "anonymousId",
                                 job->anonymous_id[0] != '\0' ? json_string(job->anonymous_id) : json_null(),
                                 "redeemed", job->token_outcome == SLUICE_TOKEN_REDEEMED);
        char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
        json_decref(body);
        if (text != NULL)
            sluice_reply_send(p->req, p->w, &p->reply, 200, "application/json", text, strlen(text), NULL);
        else
            sluice_reply_error(p->req, p->w, &p->reply, 500, "internal", "out of memory", NULL);
        free(text);
    }
    p->responded = 1;
    settle(p);
}

int sluice_ingest_xd_redeem(h2o_req_t *req, sluice_worker_t *w)
{
    ingest_t in = {
        .req = req, .w = w, .rt = w->rt, .reply = {.route = SLUICE_ROUTE_XD_REDEEM}, .now_ms = sluice_now_ms()};
    /* Authenticate before work, as for events (docs/security.md): the head's key, or the body's
     * writeKey found by a scan of a body that is not gzip. The body was inflated and parsed first,
     * so anyone could make the gateway gunzip max_body_bytes without a key. */
    size_t key_len = 0;
    const char *key = head_write_key(&in, &key_len), *body_key = NULL;
    if (key == NULL && !is_gzip(req))
        key = body_key = body_write_key(&in, req->entity.base != NULL ? req->entity : h2o_iovec_init("", 0), &key_len);
    if (xd_admit(&in, key, key_len) != 0)
        return 0;
    h2o_iovec_t body;
    char *owned;
    if (read_body(&in, &body, &owned) != 0)
        return 0;
    sluice_event_error_t e;
    json_t *root = sluice_event_parse(body.base, body.len, &in.rt->cfg->limits, NULL, NULL, &e);
    free(owned);
    if (root == NULL)
        return xd_error(&in, e.status, e.code, e.message);
    /* A key found by the scan must be the body's own top-level writeKey. */
    json_t *wk = json_object_get(root, "writeKey");
    if (body_key != NULL && (!json_is_string(wk) || json_string_length(wk) != key_len ||
                             memcmp(json_string_value(wk), body_key, key_len) != 0)) {
        json_decref(root);
        return xd_error(&in, 401, "unauthorized", "writeKey must be a top-level member of the body");
    }
    char *q;
    if (!json_is_object(root) ||
        (!json_is_string(json_object_get(root, "_dft")) && sluice_http_query(req, "_dft", &q) <= 0)) {
        json_decref(root);
        return xd_error(&in, 400, "invalid_request", "the body must be {\"_dft\":\"<token>\"}");
    }
    pending_t *p = pending_new(req, w, &in.reply);
    if (p == NULL) {
        json_decref(root);
        return xd_error(&in, 500, "internal", "out of memory");
    }
    p->src = in.src;
    p->no_events = json_array(); /* none: the identity job reads an empty list */
    /* The cookies the link's landing sets follow the same Global Privacy Control as its events. */
    const sluice_consent_config_t *consent = &in.src->org->consent;
    h2o_iovec_t gpc =
        consent->gpc_withdraw_count > 0 ? sluice_http_header_str(req, "sec-gpc") : h2o_iovec_init(NULL, 0);
    if (gpc.len == 1 && gpc.base[0] == '1' && sluice_consent_gpc(root, consent, 1) != 0) {
        json_decref(root);
        p->responded = 1;
        sluice_reply_error(req, w, &p->reply, 500, "internal", "out of memory", NULL);
        settle(p);
        return 0;
    }
    /* The body's anonymousId is not used: only the signed cookie says whose id is replaced. */
    identity_begin(&in, p, root, NULL, 1,
                   json_object_get(json_object_get(json_object_get(root, "context"), "consent"), "categories"));
    json_decref(root);
    p->job.events = p->no_events;
    p->job.done = on_redeem_done;
    if (sluice_identity_run(w->identity, &p->job) != 0) {
        p->responded = 1;
        sluice_reply_error(req, w, &p->reply, 500, "internal", "out of memory", NULL);
        settle(p);
    }
    return 0;
}
