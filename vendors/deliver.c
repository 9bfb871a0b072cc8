/*
 * The delivery worker (see deliver.h). One thread, one epoll loop (vault reads on a cache miss run
 * on the vault reader's thread, vendors/vaultq.c; the loop only asks and collects):
 *
 *   lane    one vendor kind: a KafkaConsumer in group sluice-deliver-<vendor>, its assigned
 *           partitions (each with a completion tracker) and its routes;
 *   route   one enabled integration of one org: filter, map, batches, token bucket, retries;
 *   record  one consumed message, alive until every delivery of it is finished (delivered,
 *           skipped, filtered or dead-lettered), then marked done in its partition's tracker;
 *   item    one delivery: a record mapped for one route;
 *   batch   items of one route (and one group: GA4's client) sent in one request.
 *
 * Commits: every 500 ms (and at shutdown, waiting at most 4 s for the answer; on revoke, waiting at
 * most 1 s, and not at all when the assignment was lost) each partition commits the tracker's offset, below
 * which every record is finished. A revoked partition's queued work
 * is abandoned (never marked done; the next owner reads it again): at-least-once. Its records that
 * finish anyway (a request on the wire, a dead letter in flight) are marked done in its kept
 * tracker, which tells this worker what not to send again if the partition comes back (part_adopt).
 * At the stop, a lane sends nothing new until Kafka answers a commit (stop_ask): with Kafka away its
 * unsent events are handed back, not sent now and sent again by the partitions' next owner.
 */
#include "vendors/deliver.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "common/log.h"
#include "common/time.h"
#include "crypto/ct.h"
#include "crypto/random.h"
#include "vendors/credcache.h"
#include "vendors/vaultq.h"
#include "vendors/dlq.h"
#include "vendors/envelope.h"
#include "vendors/http.h"
#include "vendors/hwm.h"
#include "vendors/loop.h"
#include "vendors/metrics.h"
#include "vendors/retry.h"
#include "vendors/selection.h"
#include "vendors/suppress.h"
#include "vendors/tracker.h"
#include "vendors/vendor.h"

#define LANE_MAX_LIVE 20000 /* records in memory per lane before its partitions are paused */
/* An integration holding this many events in memory (its vendor failing, hung or slower than its
 * events come) has its next events set aside: not kept, held in their partitions' trackers (so
 * not committed) and read again from Kafka once it is down to half (struct aside). Before, its
 * backlog filled the lane to LANE_MAX_LIVE, and the pause held every other org's events of the
 * vendor until it was delivered or dead-lettered. Not only a failing one: reading 20,000 events
 * takes less than its first 500 comes back, and a healthy integration's backlog is no better
 * kept in memory than a failing one's. */
#define ROUTE_ASIDE_AT (LANE_MAX_LIVE / 4)
/* Events a partition's tracker may hold behind a set-aside one (about 10 bytes each) before the
 * lane's partitions are paused, as at LANE_MAX_LIVE (until set-aside events are read again). */
#define PART_MAX_TRACKED 1000000
/* A reading again that made no progress this long is started over (a seek that did not happen). */
#define ASIDE_READ_STALL_MS 10000
#define COMMIT_INTERVAL_MS  500
#define DRAIN_TIMEOUT_MS    10000
/* After the drain, the stop's commit and leaving the groups each wait at most this long, every
 * lane together: with Kafka unreachable, librdkafka 2.0.2 waited about 6.5 s for the commit and
 * up to twice session.timeout.ms to leave, and the drain, these two and the dead letters' flush
 * (DLQ_FLUSH_MS) must end within the pods' 30 s terminationGracePeriodSeconds. Offsets not
 * committed by then are read again by the partitions' next owner (at least once). */
#define STOP_COMMIT_WAIT_MS 4000
/* At the stop, a lane sends none of its events not yet on the wire before Kafka answers a commit of
 * its finished offsets (stop_ask): delivered during the drain with Kafka away, they could not be
 * committed, and the partitions' next owner delivered them all again (about 800 of 2,000 in
 * deliver_revoke). No answer within this long counts as Kafka away: a coordinator that answers
 * does in milliseconds. */
#define STOP_ASK_MS        2000
#define STOP_CLOSE_WAIT_MS 4000
#define DLQ_FLUSH_MS       5000
#define POLL_BATCH         500 /* messages taken from one consumer per loop turn */
#define DLQ_RETRY_MS       1000
#define MAX_WAIT_MS        100 /* the loop wakes at least this often (librdkafka queues, sweeps) */
#define OPEN_BUCKETS       64
#define VAULT_POLL_MS      20   /* a batch waiting for the vault reader looks again this often */
#define VAULT_STOP_WAIT_MS 3000 /* at exit, how long to wait for a vault read still running */
/* A batch refused whole for one event's data (ops->per_event) is split in halves; the requests
 * its halves may spend, per halving level (log2 of its size): enough to isolate about three bad
 * events (one bad event in 1,000 costs 1 + 2 per level, 21 requests), while a batch of bad events
 * only, or a refusal per_event misread, costs at most 61 rather than 1,999 (what is left then
 * goes to the DLQ whole). */
#define SPLIT_PER_LEVEL 6
/* After a split batch had every request refused, how long the route's next such refusals are not
 * split (route->split_off_ms). */
#define SPLIT_OFF_MS 30000

typedef struct sluice_deliver worker_t;
typedef struct lane lane_t;
typedef struct part part_t;
typedef struct route route_t;
typedef struct batch batch_t;
typedef struct record record_t;
typedef struct item item_t;

/* The request budget shared by the halves of one refused batch (SPLIT_PER_LEVEL). */
typedef struct split {
    unsigned left;    /* requests the halves may still spend */
    unsigned refs;    /* batches pointing here */
    size_t delivered; /* events its halves delivered */
    route_t *route;
    int placed;      /* one event was dead-lettered by the place the vendor named (batch_isolate) */
    int handed_back; /* a half was handed back unsent at the stop: none delivered is no refusal */
} split_t;

/* The events of one route set aside in one partition: its org's events it wanted, from offset
 * `from` to `to` (every one of them in between: a route sets aside all it is given while it is
 * set aside), each with a hold in the partition's tracker. -1: none. `reading`: the partition was
 * sought back to read them again, and the route takes them (from moves up as it does). */
typedef struct aside {
    int64_t from, to;
    int reading;
    int64_t read_ms; /* monotonic, when reading started or last took one */
} aside_t;

struct part {
    lane_t *lane;
    aside_t *aside; /* one per route of the lane (route->idx) */
    int32_t partition;
    sluice_tracker_t tracker;
    int64_t committed; /* last offset sent in a commit; -1 none */
    int revoked;
    /* Revoked and kept for the next assignment (part_adopt): its tracker knows what this worker
     * finished of the partition, the commit of it having perhaps failed (Kafka away). */
    int keep;
    /* That knowledge once the partition came back: a record read again that this worker had
     * delivered before is not delivered again (part_finished_before). NULL when none. */
    sluice_tracker_t *before;
    size_t live;  /* records still referencing this partition */
    part_t *next; /* in lane->parts, or lane->zombies once revoked */
};

struct record {
    part_t *part;
    uint64_t seq;
    unsigned pending; /* unfinished deliveries, plus one while being dispatched */
    int abandoned;    /* handed back: never marked done */
    int reread;       /* read again for set-aside routes: holds its tracker entry (not done) */
    int suppressed;   /* counted as suppressed already (once per event and vendor) */
    char *payload;
    size_t len;
    char *key;
    size_t key_len;
    char *org, *source, *type; /* original Kafka headers, copied to the DLQ */
    int64_t offset;            /* in the events topic, for a dead letter that cannot carry the payload */
};

struct item {
    record_t *rec;
    route_t *route; /* NULL for an envelope that could not be read */
    lane_t *lane;
    sluice_vendor_item_t v;
    int64_t time_ms; /* the event's time (wall clock ms), for the vendor's age limit at each attempt */
    /* DLQ state */
    char status[24];
    unsigned attempts;
    char error[SLUICE_DLQ_ERROR_MAX + 1];
    item_t *dlq_prev, *dlq_next; /* in worker->dlq_flight or worker->dlq_retry */
    int in_dlq_flight;
    int dlq_without_payload; /* the payload is more than the DLQ takes: sent without it */
    size_t sent_at;          /* its place in the request on the wire (batch_prune shifts items) */
    int refused;             /* the vendor's 2xx named it among the events it refused */
    /* Without a route: the integration a replay named (`replay-to`) that this worker's config
     * lacks, so its dead letter names it and `dlq replay --to-vendor` can aim it there again.
     * Written as "-", the next --to-vendor replay carried no target and went to every
     * integration of every vendor, those that had delivered the event included. "" otherwise. */
    char integration[72];
};

struct batch {
    route_t *route;
    char *group;
    item_t **items;
    size_t n, cap, bytes;
    /* The vendor events its items hold (an item with a lead holds two): what batch.max_events
     * limits. Kept while the batch is open; a removal from a closed batch leaves it as it was. */
    size_t events;
    int64_t opened_ms, first_ms, due_ms; /* monotonic */
    unsigned attempts;
    unsigned waits;            /* of the attempts, those not counted: a vendor's WAIT, a re-read credential's */
    int reread;                /* refused with 401 once already: the credential was dropped and read again */
    int token_redone;          /* an OAuth vendor's 401 once already: its access token was fetched again */
    uint64_t suppress_version; /* the suppression list its items were last checked against */
    int state;                 /* OPEN, QUEUED, SENDING */
    char *body;                /* while sending */
    size_t body_len;
    int body_secret;      /* body is a token request holding the vault secret: wiped when freed */
    split_t *split;       /* a half of a batch refused for one event's data: the budget; NULL else */
    batch_t *hnext;       /* open: hash chain */
    batch_t *prev, *next; /* the route's list for the state: age, queue, sending */
};

enum { B_OPEN, B_QUEUED, B_SENDING };

/* A lane at the stop (lane->stop_state): asking Kafka whether it takes the lane's commits (nothing
 * new is sent meanwhile), delivering its events as it drains, or handing them back unsent. */
enum { STOP_RUNNING, STOP_ASKING, STOP_DELIVER, STOP_HAND_BACK };

struct route {
    lane_t *lane;
    const sluice_org_t *org;
    const sluice_integration_t *it;
    const sluice_vendor_ops_t *ops;
    sluice_retry_policy_t policy;
    batch_t *open[OPEN_BUCKETS];
    batch_t *age_head, *age_tail;     /* open batches, oldest first */
    batch_t *queue_head, *queue_tail; /* closed, waiting to be sent (now or after a backoff) */
    batch_t *send_head, *send_tail;   /* on the wire */
    size_t sending;                   /* batches in send_head's list: its part of max_in_flight */
    double tokens, burst;
    int64_t tokens_ms;
    char *access_token;  /* OAuth2 vendors (ops->token_request): the cached token, wiped when dropped */
    int64_t token_until; /* monotonic ms after which it is fetched again */
    /* The route's last split batch delivered none of its events: every request was refused, so the
     * refusal was the request's after all (a pixel code the vendor does not know is a "parameter"
     * too) or every event is bad (a mapping). Splitting the next batches would cost each up to 61
     * requests for nothing; they go to the DLQ whole until a request of the route succeeds, or for
     * SPLIT_OFF_MS: kept until a success, it never ended on a route whose every batch holds a bad
     * event (1 in 500 events, batches of 1,000), as each went to the DLQ whole and none succeeded,
     * so every good event of the integration went to the DLQ from then on. Monotonic ms when set
     * (by the last split that delivered nothing), 0 when splitting. */
    int64_t split_off_ms;
    /* Monotonic ms of the route's first ask of a vault read still pending, 0 when none (route_secret). */
    int64_t vault_asked_ms;
    size_t idx;         /* in lane->routes (part->aside[idx]) */
    size_t held;        /* its items alive: in batches, on the wire, waiting for the DLQ */
    int aside;          /* setting its new events aside (ROUTE_ASIDE_AT) */
    uint64_t set_aside; /* events set aside since it started to, for the log */
};

struct lane {
    worker_t *w;
    sluice_vendor_kind_t kind;
    const sluice_vendor_ops_t *ops;
    rd_kafka_t *rk;
    rd_kafka_queue_t *queue;
    int wake[2];
    part_t *parts;
    part_t *zombies;
    route_t *routes;
    size_t nroutes;
    size_t *org_first, *org_nroutes; /* per org of the config: its routes, routes[first..first+n) */
    size_t live;
    int paused;
    int stop_committed;       /* the stop's commit was tried: leaving the group does not wait again */
    rd_kafka_queue_t *closeq; /* the stop's rd_kafka_consumer_close_queue: its rebalance callbacks */
    /* Kafka's last word on this lane's commits: 1 after a commit refused or all brokers down, 0
     * after one that landed. What the stop goes by when it has nothing to ask with (stop_ask). */
    int kafka_away;
    int stop_state;           /* while stopping: STOP_ASKING, STOP_DELIVER or STOP_HAND_BACK */
    rd_kafka_queue_t *stop_q; /* the stop's commit's answer (sluice_dlq_commit_ask), while STOP_ASKING */
    int64_t stop_ask_until;   /* monotonic ms: no answer by then counts as Kafka away */
    size_t handed_back;       /* deliveries handed back unsent at the stop, Kafka away */
    int lost;                 /* partitions of the last assignment, lost uncommitted; 0 once assigned again */
    int64_t last_commit_ms;
    int64_t unrouted_logged_ms; /* when an unknown org's event was last logged (once a minute) */
};

struct sluice_deliver {
    const sluice_config_t *cfg;
    const sluice_keyring_t *kr;
    sluice_vault_t *vault;
    sluice_loop_t *loop;
    sluice_http_t *http;
    sluice_credcache_t *creds;
    sluice_vaultq_t *vaultq;     /* vault reads off this loop (vendors/vaultq.h) */
    sluice_hwm_t *hwm;           /* paused partitions' high watermarks, off this loop (vendors/hwm.h) */
    sluice_suppress_t *suppress; /* sluicectl forget's list (vendors/suppress.h) */
    rd_kafka_t *dlq;
    rd_kafka_conf_t *dlq_conf; /* its settings, for a replacement after a fatal error */
    int dlq_fatal;             /* dlq hit a fatal error: replace it (loop, not in a callback) */
    int64_t dlq_fatal_warned_ms;
    int dlq_wake[2];
    item_t *dlq_flight, *dlq_retry;
    size_t dlq_in_flight;
    int64_t dlq_retry_due;
    lane_t *lanes[SLUICE_VENDOR_COUNT];
    size_t routes;    /* in every lane: with more than one, a route keeps to its share of max_in_flight */
    size_t pump_from; /* the route (lanes' order) pumped first: the one after the last to take a place */
    sluice_dmetrics_t metrics;
    sluice_metrics_server_t *msrv;
    int sigfd;
    int stopping;
    int64_t stop_deadline;
    size_t aside_at;   /* ROUTE_ASIDE_AT, or SLUICE_DELIVER_ASIDE_AT's (tests) */
    size_t *org_slots; /* open addressing over cfg->orgs by id: index + 1, 0 empty (worker_org) */
    size_t org_cap;    /* a power of two, at least twice org_count */
};

/* Every event asked for its org, and each lane for that org's routes, by a scan: at 2,000 orgs
 * two scans of the orgs and one of the lane's routes per event and lane, with strcmp, were
 * 14 % of the worker's CPU (docs/vendors.md, At scale). */
static unsigned org_hash(const char *id)
{
    unsigned h = 2166136261u; /* FNV-1a */
    for (const unsigned char *c = (const unsigned char *)id; *c != '\0'; c++)
        h = (h ^ *c) * 16777619u;
    return h;
}

static int worker_index_orgs(worker_t *w)
{
    w->org_cap = 16;
    while (w->org_cap < 2 * w->cfg->org_count)
        w->org_cap *= 2;
    if ((w->org_slots = calloc(w->org_cap, sizeof(*w->org_slots))) == NULL)
        return -1;
    for (size_t o = 0; o < w->cfg->org_count; o++) {
        size_t i = org_hash(w->cfg->orgs[o].id) & (w->org_cap - 1);
        while (w->org_slots[i] != 0 && strcmp(w->cfg->orgs[w->org_slots[i] - 1].id, w->cfg->orgs[o].id) != 0)
            i = (i + 1) & (w->org_cap - 1);
        if (w->org_slots[i] == 0) /* the first of a repeated id, as sluice_config_find_org */
            w->org_slots[i] = o + 1;
    }
    return 0;
}

/* The config's org of that id and its index, or NULL. */
static const sluice_org_t *worker_org(const worker_t *w, const char *id, size_t *index)
{
    if (id == NULL)
        return NULL;
    for (size_t i = org_hash(id) & (w->org_cap - 1); w->org_slots[i] != 0; i = (i + 1) & (w->org_cap - 1)) {
        const sluice_org_t *org = &w->cfg->orgs[w->org_slots[i] - 1];
        if (strcmp(org->id, id) == 0) {
            *index = w->org_slots[i] - 1;
            return org;
        }
    }
    return NULL;
}

/* ------------------------------------------------------------------ records and items */

static void part_free(part_t *p)
{
    if (p->before != NULL)
        sluice_tracker_dispose(p->before);
    free(p->before);
    free(p->aside);
    sluice_tracker_dispose(&p->tracker);
    free(p);
}

static void record_release(record_t *rec)
{
    if (--rec->pending > 0)
        return;
    part_t *p = rec->part;
    lane_t *l = p->lane;
    if (!p->revoked && !rec->abandoned && rec->reread)
        sluice_tracker_unhold(&p->tracker, rec->seq);
    else if (!rec->abandoned && !rec->reread)
        sluice_tracker_done(&p->tracker, rec->seq); /* revoked: known when the partition comes back */
    p->live--;
    l->live--;
    free(rec->payload);
    free(rec->key);
    free(rec->org);
    free(rec->source);
    free(rec->type);
    free(rec);
    if (p->revoked && p->live == 0 && !p->keep) {
        for (part_t **pp = &l->zombies; *pp != NULL; pp = &(*pp)->next) {
            if (*pp == p) {
                *pp = p->next;
                break;
            }
        }
        part_free(p);
    }
}

static void item_free(item_t *it)
{
    record_t *rec = it->rec;
    if (it->route != NULL)
        it->route->held--;
    sluice_vendor_item_dispose(&it->v);
    free(it);
    record_release(rec);
}

/* A finished delivery: counted, and the record may complete. */
static void item_finish(item_t *it, sluice_outcome_t outcome)
{
    it->lane->w->metrics.events[it->lane->kind][outcome]++;
    item_free(it);
}

/* Handed back: the record will never be marked done, so its offset is not committed. */
static void item_abandon(item_t *it)
{
    it->rec->abandoned = 1;
    item_free(it);
}

/* ------------------------------------------------------------------ dead-letter topic */

static void dlq_list_add(item_t **head, item_t *it)
{
    it->dlq_prev = NULL;
    it->dlq_next = *head;
    if (*head != NULL)
        (*head)->dlq_prev = it;
    *head = it;
}

static void dlq_list_del(item_t **head, item_t *it)
{
    if (it->dlq_prev != NULL)
        it->dlq_prev->dlq_next = it->dlq_next;
    else
        *head = it->dlq_next;
    if (it->dlq_next != NULL)
        it->dlq_next->dlq_prev = it->dlq_prev;
    it->dlq_prev = it->dlq_next = NULL;
}

/* A dead letter the DLQ can never take (the payload over message.max.bytes here, or over the DLQ
 * topic's own max.message.bytes): retried for ever, it held its partition's commits, so every
 * later event was delivered again after each restart. It goes without the payload, the reason
 * saying where the event stays. 1 when it (e) was such a refusal, not seen before for it. */
static int too_large_for_dlq(worker_t *w, item_t *it, rd_kafka_resp_err_t e)
{
    if ((e != RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE && e != RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE) ||
        it->dlq_without_payload)
        return 0;
    it->dlq_without_payload = 1;
    char was[sizeof(it->error)];
    memcpy(was, it->error, sizeof(was));
    /* The note first, then as much of the reason as fits. */
    int k = snprintf(it->error, sizeof(it->error),
                     "payload (%zu bytes) left out, too large for the DLQ; it stays at %s[%d]@%lld; ", it->rec->len,
                     w->cfg->kafka.topic, (int)it->rec->part->partition, (long long)it->rec->offset);
    if (k > 0 && (size_t)k < sizeof(it->error) - 1) {
        size_t room = sizeof(it->error) - 1 - (size_t)k, wl = strlen(was);
        wl = wl < room ? wl : room;
        memcpy(it->error + k, was, wl);
        it->error[(size_t)k + wl] = '\0';
    }
    sluice_log_warn("dlq.too_large",
                    "a dead letter of %zu bytes is more than the dead-letter topic takes (%s): sent "
                    "without its payload",
                    it->rec->len, rd_kafka_err2str(e));
    return 1;
}

static int dlq_produce(worker_t *w, item_t *it)
{
    record_t *rec = it->rec;
    rd_kafka_headers_t *h = rd_kafka_headers_new(12);
    if (rec->org != NULL)
        rd_kafka_header_add(h, "org", -1, rec->org, -1);
    if (rec->source != NULL)
        rd_kafka_header_add(h, "source", -1, rec->source, -1);
    if (rec->type != NULL)
        rd_kafka_header_add(h, "type", -1, rec->type, -1);
    sluice_dlq_failure_t f = {.vendor = it->lane->ops->name,
                              .integration = it->route                    ? it->route->it->name
                                             : it->integration[0] != '\0' ? it->integration
                                                                          : "-",
                              .status = it->status,
                              .attempts = it->attempts,
                              .error = it->error,
                              .failed_at_ms = sluice_now_ms()};
    if (sluice_dlq_add_headers(h, &f) != 0) {
        rd_kafka_headers_destroy(h);
        return -1;
    }
    /* Apart: RD_KAFKA_V_VALUE casts its argument unparenthesised. */
    char *value = it->dlq_without_payload ? NULL : rec->payload;
    size_t value_len = it->dlq_without_payload ? 0 : rec->len;
    rd_kafka_resp_err_t e =
        rd_kafka_producev(w->dlq, RD_KAFKA_V_TOPIC(w->cfg->kafka.dlq_topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                          RD_KAFKA_V_KEY(rec->key, rec->key_len), RD_KAFKA_V_VALUE(value, value_len),
                          RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_OPAQUE(it), RD_KAFKA_V_END);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_headers_destroy(h); /* owned by the message only on success */
        if (too_large_for_dlq(w, it, e))
            return dlq_produce(w, it); /* once more, without the payload */
        sluice_log_warn("dlq.produce_failed", "cannot queue a dead letter (%s): retrying", rd_kafka_err2str(e));
        return -1;
    }
    it->in_dlq_flight = 1;
    dlq_list_add(&w->dlq_flight, it);
    w->dlq_in_flight++;
    return 0;
}

static void dlq_retry_later(worker_t *w, item_t *it)
{
    dlq_list_add(&w->dlq_retry, it);
    if (w->dlq_retry_due == 0)
        w->dlq_retry_due = sluice_mono_ms() + DLQ_RETRY_MS;
}

/* Sends an item to the dead-letter topic; it finishes once the broker acknowledged it. */
static void dead_letter(worker_t *w, item_t *it, const char *status, unsigned attempts, const char *error)
{
    if (it->rec->part->revoked) {
        item_abandon(it); /* the partition's new owner will decide */
        return;
    }
    snprintf(it->status, sizeof(it->status), "%s", status);
    it->attempts = attempts;
    snprintf(it->error, sizeof(it->error), "%s", error);
    sluice_log_warn_for("deliver.dead_letter", it->route ? it->route->org->id : NULL,
                        "vendor %s, org %s, integration %s: %s (attempts %u)", it->lane->ops->name,
                        it->route ? it->route->org->id : "-",
                        it->route                    ? it->route->it->name
                        : it->integration[0] != '\0' ? it->integration
                                                     : "-",
                        error, attempts);
    if (dlq_produce(w, it) != 0)
        dlq_retry_later(w, it);
}

static void on_dlq_report(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    worker_t *w = opaque;
    item_t *it = m->_private;
    dlq_list_del(&w->dlq_flight, it);
    it->in_dlq_flight = 0;
    w->dlq_in_flight--;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        w->metrics.dlq[it->lane->kind]++;
        item_finish(it, SLUICE_OUTCOME_DEAD);
        return;
    }
    if (!too_large_for_dlq(w, it, m->err))
        sluice_log_warn("dlq.delivery_failed", "a dead letter was not acknowledged (%s): retrying",
                        rd_kafka_err2str(m->err));
    if (it->rec->part->revoked)
        item_abandon(it);
    else
        dlq_retry_later(w, it);
}

/* The DLQ producer is idempotent: a broker answering OUT_OF_ORDER_SEQUENCE_NUMBER (a leader that
 * lost what it had acknowledged) makes librdkafka refuse every later message for good. Kept, it
 * failed every dead letter once a second until a restart, and the partitions holding them
 * committed nothing more. */
static void on_dlq_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    worker_t *w = opaque;
    if (err != RD_KAFKA_RESP_ERR__FATAL) {
        sluice_log_warn("kafka.error", "%s: %s", rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
        return;
    }
    char why[512];
    rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, why, sizeof(why));
    if (rk != w->dlq || w->dlq_fatal)
        return;
    w->dlq_fatal = 1;
    sluice_log_error("kafka.fatal",
                     "the dead-letter producer hit a fatal error (%s: %s); a new producer replaces it and its "
                     "dead letters are sent again",
                     rd_kafka_err2name(orig), why);
}

/* Replaces a DLQ producer that hit a fatal error, as the gateway does its own (gateway/producer.c):
 * its messages are purged and reported here (their items wait for the DLQ retry), the old client
 * is destroyed once nothing of it is left to report, else the next turn tries again. */
static void dlq_replace(worker_t *w)
{
    rd_kafka_t *old = w->dlq;
    rd_kafka_purge(old, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_poll(old, 0);
    if (rd_kafka_outq_len(old) > 0)
        return;
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_dup(w->dlq_conf);
    rd_kafka_t *rk = conf != NULL ? rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr)) : NULL;
    if (rk == NULL) {
        if (conf != NULL)
            rd_kafka_conf_destroy(conf);
        else
            snprintf(errstr, sizeof(errstr), "out of memory");
        int64_t now = sluice_mono_ms();
        if (now - w->dlq_fatal_warned_ms >= 60000) {
            w->dlq_fatal_warned_ms = now;
            sluice_log_error("kafka.fatal", "cannot make a new dead-letter producer (%s); retrying", errstr);
        }
        return;
    }
    rd_kafka_queue_t *q = rd_kafka_queue_get_main(old);
    rd_kafka_queue_io_event_enable(q, -1, NULL, 0);
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(old);
    w->dlq = rk;
    w->dlq_fatal = 0;
    q = rd_kafka_queue_get_main(rk);
    rd_kafka_queue_io_event_enable(q, w->dlq_wake[1], "1", 1);
    rd_kafka_queue_destroy(q);
    sluice_log_info("kafka.replaced", "a new dead-letter producer replaced the one that hit a fatal error");
}

static void dlq_retry_due(worker_t *w, int64_t now)
{
    if (w->dlq_retry == NULL || now < w->dlq_retry_due)
        return;
    item_t *list = w->dlq_retry;
    w->dlq_retry = NULL;
    w->dlq_retry_due = 0;
    while (list != NULL) {
        item_t *it = list;
        dlq_list_del(&list, it);
        if (it->rec->part->revoked)
            item_abandon(it);
        else if (dlq_produce(w, it) != 0)
            dlq_retry_later(w, it);
    }
}

/* ------------------------------------------------------------------ batches */

static unsigned hash_group(const char *g)
{
    unsigned h = 2166136261u;
    for (; g != NULL && *g; g++)
        h = (h ^ (unsigned char)*g) * 16777619u;
    return h % OPEN_BUCKETS;
}

static int same_group(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static void list_append(batch_t **head, batch_t **tail, batch_t *b)
{
    b->next = NULL;
    b->prev = *tail;
    if (*tail != NULL)
        (*tail)->next = b;
    else
        *head = b;
    *tail = b;
}

static void list_remove(batch_t **head, batch_t **tail, batch_t *b)
{
    if (b->prev != NULL)
        b->prev->next = b->next;
    else
        *head = b->next;
    if (b->next != NULL)
        b->next->prev = b->prev;
    else
        *tail = b->prev;
    b->prev = b->next = NULL;
}

static void open_unlink(route_t *r, batch_t *b)
{
    for (batch_t **pp = &r->open[hash_group(b->group)]; *pp != NULL; pp = &(*pp)->hnext) {
        if (*pp == b) {
            *pp = b->hnext;
            break;
        }
    }
    b->hnext = NULL;
    list_remove(&r->age_head, &r->age_tail, b);
}

static void batch_free(batch_t *b)
{
    if (b->split != NULL && --b->split->refs == 0) {
        route_t *r = b->split->route;
        if (b->split->delivered == 0 && !b->split->handed_back) {
            if (r->split_off_ms == 0)
                sluice_log_warn_for("deliver.split_off", r->org->id,
                                    "vendor %s, org %s, integration %s: a batch split for one event's data had every "
                                    "request refused; the next such refusals go to the DLQ whole for %d s, or until a "
                                    "request succeeds",
                                    r->ops->name, r->org->id, r->it->name, SPLIT_OFF_MS / 1000);
            r->split_off_ms = sluice_mono_ms();
        }
        free(b->split);
    }
    free(b->group);
    free(b->items);
    if (b->body != NULL && b->body_secret)
        sluice_secure_zero(b->body, b->body_len);
    free(b->body);
    free(b);
}

/* Hands the batch's events back (never marked done: the partitions' next owner delivers them) and
 * frees it; the caller has taken it off its list. */
static void batch_hand_back(batch_t *b)
{
    for (size_t i = 0; i < b->n; i++)
        item_abandon(b->items[i]);
    b->n = 0;
    if (b->split != NULL)
        b->split->handed_back = 1; /* not sent, so not refused: no deliver.split_off */
    batch_free(b);
}

static void token_drop(route_t *r)
{
    if (r->access_token != NULL) {
        sluice_secure_zero(r->access_token, strlen(r->access_token));
        free(r->access_token);
    }
    r->access_token = NULL;
    r->token_until = 0;
}

/* Moves an open batch to the send queue. */
static void batch_close(route_t *r, batch_t *b, int64_t now)
{
    open_unlink(r, b);
    b->state = B_QUEUED;
    b->due_ms = now;
    list_append(&r->queue_head, &r->queue_tail, b);
}

/* An item's bytes in a request: its event (and lead) and a comma each. */
static size_t item_size(const item_t *it)
{
    return it->v.body_len + 1 + (it->v.lead != NULL ? it->v.lead_len + 1 : 0);
}

static int route_add(route_t *r, item_t *it, int64_t now)
{
    const sluice_integration_t *cfg = r->it;
    size_t isz = item_size(it), ievents = it->v.lead != NULL ? 2 : 1;
    unsigned bucket = hash_group(it->v.group);
    batch_t *b = r->open[bucket];
    while (b != NULL && !same_group(b->group, it->v.group))
        b = b->hnext;
    /* A lead's event counts: GA4 drops a request of more than 25 events whole, without a word. */
    if (b != NULL && b->n > 0 &&
        (b->bytes + isz > cfg->batch_max_bytes || b->events + ievents > cfg->batch_max_events)) {
        batch_close(r, b, now);
        b = NULL;
    }
    if (b == NULL) {
        b = calloc(1, sizeof(*b));
        if (b == NULL)
            return -1;
        if (it->v.group != NULL && (b->group = strdup(it->v.group)) == NULL) {
            free(b);
            return -1;
        }
        b->route = r;
        b->state = B_OPEN;
        b->opened_ms = now;
        /* Its items were checked when they were read (dispatch), against this list (taking a
         * newer one here would leave this item unchecked against it): batch_drop_suppressed
         * checks again once the list moved. */
        b->suppress_version = sluice_suppress_checked(r->lane->w->suppress);
        b->bytes = r->ops->request_overhead + (b->group ? strlen(b->group) : 0);
        b->hnext = r->open[bucket];
        r->open[bucket] = b;
        list_append(&r->age_head, &r->age_tail, b);
    }
    if (b->n == b->cap) {
        size_t ncap = b->cap ? b->cap * 2 : 8;
        item_t **ni = realloc(b->items, ncap * sizeof(*ni));
        if (ni == NULL)
            return -1;
        b->items = ni;
        b->cap = ncap;
    }
    b->items[b->n++] = it;
    b->bytes += isz;
    b->events += ievents;
    if (b->events >= cfg->batch_max_events || cfg->batch_max_wait_ms == 0)
        batch_close(r, b, now);
    return 0;
}

/* Drops items whose partition was revoked (abandoned: their new owner delivers them). */
static void batch_prune(batch_t *b)
{
    size_t o = 0;
    b->bytes = b->route->ops->request_overhead + (b->group ? strlen(b->group) : 0);
    b->events = 0;
    for (size_t i = 0; i < b->n; i++) {
        item_t *it = b->items[i];
        if (it->rec->part->revoked) {
            item_abandon(it);
        } else {
            b->items[o++] = it;
            b->bytes += item_size(it);
            b->events += it->v.lead != NULL ? 2 : 1;
        }
    }
    b->n = o;
}

/* ------------------------------------------------------------------ sending */

/* The route's credentials: from the cache, else asked of the vault reader thread. *pending is set
 * while that read runs (the caller parks the batch); a read that has not answered within the
 * integration's timeout_ms fails this attempt like a vendor timeout would (it stays asked). */
/* The vault could not be read (PostgreSQL down, stalled, restarting): the credential read before,
 * if the cache kept it, serves another TTL. Failing instead made every event of every integration
 * with a credential go to the DLQ once an outage outlasted the TTL and the retries, though the
 * vault cannot have changed meanwhile. NULL when there is none (the batch retries). */
static const json_t *stale_secret(worker_t *w, route_t *r, const char *why)
{
    int64_t age = 0;
    const json_t *s =
        sluice_credcache_renew(w->creds, r->org->id, r->it->credentials, r->ops->name, sluice_mono_ms(), &age);
    if (s != NULL)
        sluice_log_warn_for(
            "vault.stale", r->org->id,
            "org %s, name %s, vendor %s: %s; the credential read %" PRId64 " s ago is used for another %u s",
            r->org->id, r->it->credentials, r->ops->name, why, age / 1000, w->cfg->delivery.credentials_ttl_s);
    return s;
}

static const json_t *route_secret(worker_t *w, route_t *r, char *why, size_t why_len, int *pending)
{
    int64_t now = sluice_mono_ms();
    const char *org = r->org->id, *name = r->it->credentials, *vendor = r->ops->name;
    *pending = 0;
    const json_t *s = sluice_credcache_get(w->creds, org, name, vendor, now);
    if (s != NULL) {
        r->vault_asked_ms = 0;
        return s;
    }
    char *pt = NULL;
    size_t len = 0;
    int64_t waiting = 0;
    sluice_err_t err = {{0}};
    int rc = sluice_vaultq_get(w->vaultq, org, name, vendor, now, &pt, &len, &waiting, &err);
    if (rc == SLUICE_VAULTQ_PENDING) {
        if (r->vault_asked_ms == 0)
            r->vault_asked_ms = now;
        if (waiting >= (int64_t)r->it->timeout_ms) {
            r->vault_asked_ms = 0;
            snprintf(why, why_len, "vault: PostgreSQL has not answered for %" PRId64 " ms", waiting);
            return stale_secret(w, r, why);
        }
        /* The wait counts from the reader's last answer (vaultq.c), so reads queued behind others
         * on a database that answers are no failure. But a credential read before, expired from
         * the cache, is at hand: it is used on once this read has waited timeout_ms from the ask,
         * as during an outage. Waiting for its turn, an integration at the back of thousands of
         * reads (every credentials_ttl_s) held its events for (reads ahead) x (time of a read). */
        if (now - r->vault_asked_ms >= (int64_t)r->it->timeout_ms) {
            snprintf(why, why_len, "vault: PostgreSQL has not answered this read for %" PRId64 " ms (%zu reads queued)",
                     now - r->vault_asked_ms, sluice_vaultq_pending(w->vaultq));
            if ((s = stale_secret(w, r, why)) != NULL) {
                r->vault_asked_ms = 0;
                return s;
            }
        }
        *pending = 1;
        return NULL;
    }
    r->vault_asked_ms = 0;
    w->metrics.vault_reads[rc == SLUICE_VAULT_OK          ? SLUICE_VAULT_READ_OK
                           : rc == SLUICE_VAULT_ENOTFOUND ? SLUICE_VAULT_READ_NOT_FOUND
                           : rc == SLUICE_VAULT_EDECRYPT  ? SLUICE_VAULT_READ_DECRYPT_FAILED
                                                          : SLUICE_VAULT_READ_ERROR]++;
    if (rc != SLUICE_VAULT_OK) {
        snprintf(why, why_len, "vault: %s", err.msg);
        if (rc == SLUICE_VAULT_ERROR)
            return stale_secret(w, r, why);
        /* The row is gone or no longer opens: what was cached from it is not used again. */
        sluice_credcache_drop(w->creds, org, name, vendor);
        return NULL;
    }
    s = sluice_credcache_put(w->creds, org, name, vendor, pt, len, now, &err);
    sluice_vault_free_secret(pt, len);
    if (s == NULL) {
        snprintf(why, why_len, "vault: %s", err.msg);
        sluice_credcache_drop(w->creds, org, name, vendor);
    }
    return s;
}

static void batch_drop_suppressed(worker_t *w, batch_t *b);

static void batch_failed(worker_t *w, batch_t *b, const char *status, const char *why)
{
    route_t *r = b->route;
    w->metrics.requests[r->lane->kind][SLUICE_REQ_FAILED]++;
    /* A person forget named while the request was on the wire (or since the batch's last check):
     * their events are finished as suppressed, not written whole to the dead-letter topic after
     * the request. */
    batch_drop_suppressed(w, b);
    for (size_t i = 0; i < b->n; i++)
        dead_letter(w, b->items[i], status, b->attempts, why);
    b->n = 0;
    batch_free(b);
}

/* A failed attempt: schedule another, or give up to the DLQ. With counted unset (the vendor's
 * SLUICE_VERDICT_WAIT: a retired api_version, which an operator fixes for every batch at once)
 * the attempt does not count against retry.max_attempts, now or later; retry.max_elapsed_s
 * bounds it. */
static void batch_retry_as(worker_t *w, batch_t *b, const char *status, const char *why, int64_t retry_after_ms,
                           int counted)
{
    route_t *r = b->route;
    sluice_retry_policy_t policy = r->policy;
    if (!counted)
        b->waits++;
    /* Only the attempts not answered WAIT count against max_attempts: counting them all, one
     * timeout or 503 after max_attempts WAIT answers dead-lettered the batch at once, though
     * retry.max_elapsed_s had not run out. The backoff still grows with every attempt, so a
     * waiting batch does not ask the vendor every base_ms for an hour. */
    int used_up = b->attempts - b->waits >= policy.max_attempts;
    policy.max_attempts = UINT_MAX;
    int64_t now = sluice_mono_ms(), wait = 0;
    uint64_t rnd = 0;
    double frac = sluice_random_uint64(&rnd) == 0 ? (double)(rnd >> 11) / 9007199254740992.0 : 0.5;
    if (w->stopping) {
        batch_hand_back(b); /* the next owner of these partitions retries them */
        return;
    }
    if (used_up || !sluice_retry_next(&policy, b->attempts, b->first_ms, now, retry_after_ms, frac, &wait)) {
        batch_failed(w, b, status, why);
        return;
    }
    w->metrics.requests[r->lane->kind][SLUICE_REQ_RETRY]++;
    w->metrics.retries[r->lane->kind]++;
    sluice_log_info_for("deliver.retry", r->org->id,
                        "vendor %s, org %s, integration %s: %s; attempt %u in %" PRId64 " ms", r->ops->name, r->org->id,
                        r->it->name, why, b->attempts + 1, wait);
    b->state = B_QUEUED;
    b->due_ms = now + wait;
    list_append(&r->queue_head, &r->queue_tail, b);
}

static void batch_retry(worker_t *w, batch_t *b, const char *status, const char *why, int64_t retry_after_ms)
{
    batch_retry_as(w, b, status, why, retry_after_ms, 1);
}

/* Drops the route's cached vault secret so the batch's next attempt reads the vault again (the
 * operator's `vault put` after a revoked token), once per batch; why gets that said. */
static void reread_secret(worker_t *w, batch_t *b, char *why, size_t why_len)
{
    route_t *r = b->route;
    sluice_credcache_drop(w->creds, r->org->id, r->it->credentials, r->ops->name);
    b->reread = 1;
    size_t used = strlen(why);
    snprintf(why + used, why_len - used, "; the credential is read again from the vault");
}

/* Marks the items a 2xx named as refused (ops->refused), by their place in the request (sent of
 * them were on the wire; some may have left the batch since, with a revoked partition). Returns 1
 * when the answer said which, 0 when it names none or makes no sense for this batch (the whole
 * batch is then dead-lettered). */
static int mark_refused(batch_t *b, const sluice_http_result_t *res, size_t sent)
{
    const sluice_vendor_ops_t *ops = b->route->ops;
    if (ops->refused == NULL || res->status < 200 || res->status >= 300 || sent == 0)
        return 0;
    unsigned char *mask = calloc(sent, 1);
    if (mask == NULL)
        return 0;
    int said = ops->refused(res->body, res->body_len, sent, mask) > 0;
    for (size_t i = 0; said && i < b->n; i++)
        b->items[i]->refused = mask[b->items[i]->sent_at];
    free(mask);
    return said;
}

/* A 2xx that refused some events of the batch (Pinterest's failed events, LinkedIn's elements
 * >= 400, Google Ads' partial failure): only those are dead-lettered. The vendor recorded the
 * others; dead-lettering them with the refused ones put recorded conversions in the DLQ, and a
 * replay of it sent them a second time. */
static void batch_partial(worker_t *w, batch_t *b, const char *status, const char *why)
{
    route_t *r = b->route;
    w->metrics.requests[r->lane->kind][SLUICE_REQ_FAILED]++;
    batch_drop_suppressed(w, b); /* as in batch_failed: a forgotten person's refused event is no dead letter */
    size_t delivered = 0, dead = 0;
    for (size_t i = 0; i < b->n; i++) {
        if (b->items[i]->refused) {
            dead++;
            dead_letter(w, b->items[i], status, b->attempts, why);
        } else {
            delivered++;
            item_finish(b->items[i], SLUICE_OUTCOME_DELIVERED);
        }
    }
    sluice_log_info_for("deliver.partial", r->org->id,
                        "vendor %s, org %s, integration %s: %s; %zu delivered, %zu dead-lettered", r->ops->name,
                        r->org->id, r->it->name, why, delivered, dead);
    b->n = 0;
    batch_free(b);
}

/* The split state of b's first split or isolation: its request budget, SPLIT_PER_LEVEL for each
 * halving level of b. On a route whose splits are paused this first one is a probe: the batches
 * refused while it runs are not split too (at up to 61 requests each); a delivered half ends the
 * pause. Returns 0, or -1 out of memory (b then goes to the DLQ whole). */
static int split_open(batch_t *b, route_t *r)
{
    if (b->split != NULL)
        return 0;
    unsigned levels = 0;
    for (size_t k = b->n - 1; k > 0; k >>= 1)
        levels++;
    if ((b->split = calloc(1, sizeof(*b->split))) == NULL)
        return -1;
    b->split->left = SPLIT_PER_LEVEL * levels;
    b->split->refs = 1;
    b->split->route = r;
    if (r->split_off_ms != 0)
        r->split_off_ms = sluice_mono_ms();
    return 0;
}

/* A whole request refused for one event's data (ops->per_event): Meta's 400 with a 2804xxx
 * subcode and TikTok's 40002 name no event the worker could drop, and dead-lettering the batch put
 * up to 999 good events in the DLQ per bad one (most operators never replay them). The halves go
 * back to the send queue at once (the rate limit still applies); the vendor recorded nothing of
 * the refused request, so no event is sent twice to be recorded. Halving ends at single events,
 * whose refusal is their own dead letter, or when the batch's budget is spent. Returns 1 when b
 * was split (and freed), 0 when the caller dead-letters it (why then says when the budget ran
 * out). */
static int batch_split(worker_t *w, batch_t *b, char *why, size_t why_len)
{
    route_t *r = b->route;
    /* Also while stopping: the halves are sent within the drain, or handed back at its end. */
    if (b->n < 2)
        return 0;
    if (b->split == NULL && r->split_off_ms != 0 && sluice_mono_ms() - r->split_off_ms < SPLIT_OFF_MS) {
        size_t used = strlen(why);
        snprintf(why + used, why_len - used, "; not split: the last split batch had every request refused");
        return 0;
    }
    if (split_open(b, r) != 0)
        return 0;
    if (b->split->left < 2) {
        size_t used = strlen(why);
        snprintf(why + used, why_len - used, "; not split further (the requests allowed for halves are spent)");
        return 0;
    }
    batch_t *h[2] = {calloc(1, sizeof(batch_t)), calloc(1, sizeof(batch_t))};
    size_t mid = b->n / 2, from[2] = {0, mid}, count[2] = {mid, b->n - mid};
    int ok = h[0] != NULL && h[1] != NULL;
    for (int i = 0; ok && i < 2; i++) {
        h[i]->items = malloc(count[i] * sizeof(item_t *));
        ok = h[i]->items != NULL && (b->group == NULL || (h[i]->group = strdup(b->group)) != NULL);
    }
    if (!ok) {
        for (int i = 0; i < 2; i++) {
            if (h[i] != NULL)
                batch_free(h[i]);
        }
        return 0;
    }
    int64_t now = sluice_mono_ms();
    b->split->left -= 2;
    for (int i = 0; i < 2; i++) {
        batch_t *x = h[i];
        x->route = r;
        x->n = x->cap = count[i];
        memcpy(x->items, b->items + from[i], count[i] * sizeof(item_t *));
        x->bytes = r->ops->request_overhead + (b->group ? strlen(b->group) : 0);
        for (size_t k = 0; k < x->n; k++)
            x->bytes += item_size(x->items[k]);
        x->opened_ms = b->opened_ms;
        /* retry.max_elapsed_s runs from the batch's first attempt, its halves' too: from their own
         * first one, a batch split after 59 of its 60 minutes had each half retried for another
         * hour (and their halves after them), its partitions' commits held all the while. */
        x->first_ms = b->first_ms;
        x->suppress_version = b->suppress_version;
        x->reread = b->reread;
        x->token_redone = b->token_redone;
        x->split = b->split;
        b->split->refs++;
        /* A fresh attempt count: a half that meets a 503 gets its own retries (within the time). */
        x->state = B_QUEUED;
        x->due_ms = now;
        list_append(&r->queue_head, &r->queue_tail, x);
    }
    w->metrics.requests[r->lane->kind][SLUICE_REQ_FAILED]++;
    sluice_log_info_for(
        "deliver.split", r->org->id,
        "vendor %s, org %s, integration %s: %s, for one event's data: %zu events sent again as %zu + %zu", r->ops->name,
        r->org->id, r->it->name, why, b->n, count[0], count[1]);
    b->n = 0;
    batch_free(b);
    return 1;
}

/* A whole request refused for one event's data whose answer names that event (ops->refused_at:
 * Meta's $['data'][N]): the event goes to the DLQ alone, with the batch's reason (the vendor's
 * code and known title, never its message: that can quote the event), and the others are sent
 * again at once in one request, as b itself with a fresh attempt count (as a half's). Halving
 * cost log2(n) more requests and left the event's dead letter with only its last half's attempts.
 * The request budget and the route's pause of splits are batch_split's; the resend spends one
 * request of the budget. Returns 1
 * when b was sent again (or finished), 0 when the caller halves it (no place named, or the named
 * event left the batch meanwhile: a revoked partition's, a forgotten person's). */
static int batch_isolate(worker_t *w, batch_t *b, const sluice_http_result_t *res, size_t sent, const char *status,
                         const char *why)
{
    route_t *r = b->route;
    /* Not b->n: a revoked partition's events have left b since it was sent (batch_prune). */
    if (r->ops->refused_at == NULL || sent < 2)
        return 0;
    long at = r->ops->refused_at(res->body, res->body_len, sent);
    if (at < 0 || (size_t)at >= sent)
        return 0;
    /* A person forget named meanwhile is finished as suppressed, not dead-lettered (batch_failed). */
    batch_drop_suppressed(w, b);
    if (b->n == 0)
        return 0;
    size_t k = 0;
    while (k < b->n && b->items[k]->sent_at != (size_t)at)
        k++;
    /* The named event left the batch meanwhile: several others are halved, but one left alone was
     * refused for another's data only, and halving cannot split it: it went to the DLQ with Meta's
     * reason, undelivered (a batch of two, one a person forgotten while it was on the wire). It is
     * sent again as it is, once: refused then, its only place is its own, and it is dead-lettered. */
    if (k == b->n) {
        if (b->n > 1)
            return 0;
        w->metrics.requests[r->lane->kind][SLUICE_REQ_FAILED]++;
        sluice_log_info_for("deliver.split", r->org->id,
                            "vendor %s, org %s, integration %s: %s, for the event at %ld of %zu, no longer in the "
                            "batch: 1 event sent again",
                            r->ops->name, r->org->id, r->it->name, why, at, sent);
        b->attempts = b->waits = 0;
        b->state = B_QUEUED;
        b->due_ms = sluice_mono_ms();
        list_append(&r->queue_head, &r->queue_tail, b);
        return 1;
    }
    if (b->n < 2)
        return 0; /* the named event alone: the DLQ (batch_failed) */
    if (b->split == NULL && r->split_off_ms != 0 && sluice_mono_ms() - r->split_off_ms < SPLIT_OFF_MS)
        return 0; /* batch_split says why it goes to the DLQ whole */
    if (split_open(b, r) != 0)
        return 0;
    /* Once per batch: the others refused again with a place named is a second bad event, or an
     * answer whose places are wrong (each of them would dead-letter a good event, one per request,
     * until the budget ran out): halving decides, and a confused answer costs one event, not 36. */
    if (b->split->left < 1 || b->split->placed)
        return 0;
    b->split->placed = 1;
    b->split->left--;
    w->metrics.requests[r->lane->kind][SLUICE_REQ_FAILED]++;
    item_t *bad = b->items[k];
    memmove(b->items + k, b->items + k + 1, (b->n - k - 1) * sizeof(item_t *));
    b->n--;
    b->bytes -= item_size(bad);
    dead_letter(w, bad, status, b->attempts, why);
    sluice_log_info("deliver.split",
                    "vendor %s, org %s, integration %s: %s, for the event at %ld of %zu: %zu events sent again",
                    r->ops->name, r->org->id, r->it->name, why, at, sent, b->n);
    if (b->n == 0) {
        batch_free(b);
        return 1;
    }
    b->attempts = b->waits = 0;
    b->state = B_QUEUED;
    b->due_ms = sluice_mono_ms();
    list_append(&r->queue_head, &r->queue_tail, b);
    return 1;
}

static void on_response(void *ud, const sluice_http_result_t *res)
{
    batch_t *b = ud;
    route_t *r = b->route;
    worker_t *w = r->lane->w;
    list_remove(&r->send_head, &r->send_tail, b);
    r->sending--;
    free(b->body);
    b->body = NULL;
    sluice_dmetrics_latency(&w->metrics, r->lane->kind, res->seconds);
    size_t sent = b->n;
    for (size_t i = 0; i < b->n; i++)
        b->items[i]->sent_at = i;
    char why[256], status[24] = "-";
    sluice_verdict_t v;
    int partial = 0, reread = 0;
    if (res->curl_code != 0 || res->status < 100) {
        snprintf(why, sizeof(why), "%s", res->error[0] ? res->error : "no HTTP answer");
        v = SLUICE_VERDICT_RETRY;
    } else {
        snprintf(status, sizeof(status), "%ld", res->status);
        v = r->ops->classify(res->status, res->body, res->body_len, why, sizeof(why));
        if (res->status == 401 && r->ops->token_request != NULL) {
            /* The access token expired or was revoked before its time: fetch a new one for the
             * retry (the vendor's classify says whether a 401 is worth one). That retry is not
             * counted, once per batch, as the vault's re-read below: counted, a batch on its last
             * attempt (every batch, with retry.max_attempts 1) went to the DLQ for an access token
             * Google revoked early, the refresh token in the vault still good. */
            token_drop(r);
            if (v == SLUICE_VERDICT_RETRY && !b->token_redone) {
                b->token_redone = 1;
                reread = 1;
            }
        } else if (((res->status == 401 && v == SLUICE_VERDICT_FAIL) || v == SLUICE_VERDICT_AUTH) && !b->reread &&
                   r->ops->needs_secret(r->it)) {
            /* The vendor refused the credential (a 401, or its own words for it: TikTok's 200 with
             * code 40105, Meta's 400 with error 190): the operator has likely just replaced it with
             * `vault put` (a revoked or expired token), and the cache would go on sending the old
             * one for up to credentials_ttl_s, dead-lettering every batch. Read the vault again
             * and try once more; a second refusal is the vendor's answer. */
            reread_secret(w, b, why, sizeof(why));
            v = SLUICE_VERDICT_RETRY;
            reread = 1;
        }
        if (v == SLUICE_VERDICT_AUTH)
            v = SLUICE_VERDICT_FAIL;
        if (v == SLUICE_VERDICT_FAIL)
            partial = mark_refused(b, res, sent);
    }
    /* A revoked partition's events leave a batch that failed (their new owner delivers them), but
     * not one the vendor took: abandoned, they were sent again when the partition came back to
     * this worker (a session lost while Kafka was away), though the vendor had them. Finished as
     * delivered, their partition's old tracker knows (part_adopt). */
    if (v != SLUICE_VERDICT_OK)
        batch_prune(b);
    if (b->n == 0) {
        batch_free(b);
        return;
    }
    if (v == SLUICE_VERDICT_OK) {
        w->metrics.requests[r->lane->kind][SLUICE_REQ_OK]++;
        r->split_off_ms = 0;
        if (b->split != NULL)
            b->split->delivered += b->n;
        sluice_log_debug("deliver.sent", "vendor %s, org %s, integration %s: %zu events, %s", r->ops->name, r->org->id,
                         r->it->name, b->n, why);
        for (size_t i = 0; i < b->n; i++)
            item_finish(b->items[i], SLUICE_OUTCOME_DELIVERED);
        b->n = 0;
        batch_free(b);
    } else if (v == SLUICE_VERDICT_FAIL && partial) {
        batch_partial(w, b, status, why);
    } else if (v == SLUICE_VERDICT_FAIL) {
        if (r->ops->per_event == NULL || !r->ops->per_event(res->status, res->body, res->body_len) ||
            (!batch_isolate(w, b, res, sent, status, why) && !batch_split(w, b, why, sizeof(why))))
            batch_failed(w, b, status, why);
    } else {
        /* The try with the re-read credential is not counted either: the vendor recorded nothing
         * of a request it refused the credential of, and counted, a batch on its last attempt
         * (every batch, with retry.max_attempts 1) went to the DLQ on the vendor's first refusal
         * of a rotated token, the new one in the vault unused. */
        batch_retry_as(w, b, status, why, sluice_retry_after_ms(res->retry_after, sluice_now_ms()),
                       v != SLUICE_VERDICT_WAIT && !reread);
    }
}

/* Builds the batch's request with the secret and puts it on the wire. */
static void batch_post(worker_t *w, batch_t *b, const json_t *secret)
{
    route_t *r = b->route;
    sluice_vendor_request_t req;
    sluice_err_t err = {{0}};
    const sluice_vendor_item_t **vi = malloc(b->n * sizeof(*vi));
    if (vi == NULL) {
        batch_retry(w, b, "-", "out of memory", -1);
        return;
    }
    for (size_t i = 0; i < b->n; i++)
        vi[i] = &b->items[i]->v;
    int built = r->ops->build(r->it, secret, b->group, vi, b->n, sluice_now_ms(), &req, &err);
    free(vi);
    if (built != 0) {
        batch_retry(w, b, "-", err.msg, -1);
        return;
    }
    b->body = req.body;
    b->body_len = req.body_len;
    b->body_secret = 0;
    req.body = NULL;
    int rc = sluice_http_post(w->http, req.url, req.headers, req.header_count, b->body, b->body_len, r->it->timeout_ms,
                              on_response, b, &err);
    sluice_vendor_request_dispose(&req); /* libcurl copied URL and headers: wipe ours now */
    if (rc != 0) {
        free(b->body);
        b->body = NULL;
        batch_retry(w, b, "-", err.msg, -1);
        return;
    }
    b->state = B_SENDING;
    list_append(&r->send_head, &r->send_tail, b);
    r->sending++;
    sluice_dmetrics_batch(&w->metrics, r->lane->kind, b->n);
}

/* The secret with the cached access token added as "access_token" (a shallow copy: the
 * credential cache's strings are shared, the token's copy is wiped by post_with_token). */
static void post_with_token(worker_t *w, batch_t *b, const json_t *secret)
{
    route_t *r = b->route;
    json_t *s = json_copy((json_t *)secret), *tok = json_string(r->access_token);
    if (s == NULL || tok == NULL || json_object_set(s, "access_token", tok) != 0) {
        json_decref(s);
        json_decref(tok);
        batch_retry(w, b, "-", "out of memory", -1);
        return;
    }
    batch_post(w, b, s);
    json_decref(s);
    sluice_secure_zero((char *)json_string_value(tok), json_string_length(tok));
    json_decref(tok);
}

static void on_token(void *ud, const sluice_http_result_t *res)
{
    batch_t *b = ud;
    route_t *r = b->route;
    worker_t *w = r->lane->w;
    list_remove(&r->send_head, &r->send_tail, b);
    r->sending--;
    sluice_secure_zero(b->body, b->body_len);
    free(b->body);
    b->body = NULL;
    b->body_secret = 0;
    batch_prune(b);
    char why[256], status[24] = "-";
    char *token = NULL;
    int64_t ttl_s = 0;
    sluice_verdict_t v;
    int reread = 0;
    if (res->curl_code != 0 || res->status < 100) {
        snprintf(why, sizeof(why), "token: %s", res->error[0] ? res->error : "no HTTP answer");
        v = SLUICE_VERDICT_RETRY;
    } else {
        snprintf(status, sizeof(status), "%ld", res->status);
        v = r->ops->token_parse(res->status, res->body, res->body_len, &token, &ttl_s, why, sizeof(why));
        /* The answer holds the token; http.c frees it after this call, so wipe it here. */
        sluice_secure_zero((char *)res->body, res->body_len);
        if (v == SLUICE_VERDICT_AUTH && !b->reread) {
            /* invalid_grant: the refresh token was revoked, and the operator's `vault put` of a
             * new one is not seen while the old secret sits in the cache (credentials_ttl_s):
             * read the vault again and try once more before dead-lettering. */
            reread_secret(w, b, why, sizeof(why));
            v = SLUICE_VERDICT_RETRY;
            reread = 1;
        } else if (v == SLUICE_VERDICT_AUTH) {
            v = SLUICE_VERDICT_FAIL;
        }
    }
    if (v == SLUICE_VERDICT_OK) {
        token_drop(r);
        r->access_token = token;
        /* A minute's margin so a token is never used in its last seconds. */
        r->token_until = sluice_mono_ms() + (ttl_s > 120 ? ttl_s - 60 : ttl_s / 2) * 1000;
        sluice_log_debug("deliver.token", "vendor %s, org %s, integration %s: access token refreshed", r->ops->name,
                         r->org->id, r->it->name);
    }
    if (b->n == 0) {
        batch_free(b);
        return;
    }
    if (v == SLUICE_VERDICT_FAIL) {
        batch_failed(w, b, status, why);
        return;
    }
    if (v == SLUICE_VERDICT_RETRY) {
        /* Not counted after a re-read, as in on_response. */
        batch_retry_as(w, b, status, why, sluice_retry_after_ms(res->retry_after, sluice_now_ms()), !reread);
        return;
    }
    char vwhy[SLUICE_ERR_MSG_MAX + 16] = "";
    int pending = 0; /* the secret was read for the token request just now: a miss here is rare */
    const json_t *secret = route_secret(w, r, vwhy, sizeof(vwhy), &pending);
    if (secret == NULL) {
        batch_retry(w, b, "-", pending ? "the vault is being read" : vwhy, -1);
        return;
    }
    post_with_token(w, b, secret);
}

/* Trades the vault secret for an access token (OAuth2 refresh), then sends the batch. */
static void token_fetch(worker_t *w, batch_t *b, const json_t *secret)
{
    route_t *r = b->route;
    sluice_vendor_request_t req;
    sluice_err_t err = {{0}};
    if (r->ops->token_request(r->it, secret, &req, &err) != 0) {
        batch_retry(w, b, "-", err.msg, -1);
        return;
    }
    b->body = req.body;
    b->body_len = req.body_len;
    b->body_secret = 1;
    req.body = NULL;
    int rc = sluice_http_post(w->http, req.url, req.headers, req.header_count, b->body, b->body_len, r->it->timeout_ms,
                              on_token, b, &err);
    sluice_vendor_request_dispose(&req);
    if (rc != 0) {
        sluice_secure_zero(b->body, b->body_len);
        free(b->body);
        b->body = NULL;
        b->body_secret = 0;
        batch_retry(w, b, "-", err.msg, -1);
        return;
    }
    b->state = B_SENDING;
    list_append(&r->send_head, &r->send_tail, b);
    r->sending++;
}

/* Dead-letters the items that have left the vendor's window since they were mapped (a batch
 * waiting for a retry, or for the rate limit, while its oldest event turns 7 days old): Meta
 * refuses a whole request for one such event, and LinkedIn's and Google Ads' per-event refusals
 * dead-letter the batch, so the fresh events would go to the DLQ with it. */
static void batch_drop_too_old(worker_t *w, batch_t *b)
{
    const sluice_vendor_ops_t *ops = b->route->ops;
    if (ops->max_age_ms <= 0)
        return;
    int64_t wall = sluice_now_ms();
    size_t o = 0;
    for (size_t i = 0; i < b->n; i++) {
        item_t *it = b->items[i];
        if (wall - it->time_ms > ops->max_age_ms) {
            b->bytes -= item_size(it);
            dead_letter(w, it, "-", b->attempts, ops->too_old);
        } else {
            b->items[o++] = it;
        }
    }
    b->n = o;
}

/* Counts rec's event as suppressed once per (event, vendor): once per record, and once per
 * tracker entry, which the records of one event read again for set-aside integrations share
 * (a forgotten person's event set aside was counted when first read and again when read back). */
static void count_suppressed(lane_t *l, record_t *rec)
{
    part_t *p = rec->part;
    if (rec->suppressed)
        return;
    rec->suppressed = 1;
    if (!p->revoked) {
        if (sluice_tracker_marked(&p->tracker, rec->seq))
            return;
        sluice_tracker_mark(&p->tracker, rec->seq);
    }
    l->w->metrics.events[l->kind][SLUICE_OUTCOME_SUPPRESSED]++;
}

/* Finishes, as suppressed, the items of a person sluicectl forget named since they were read: a
 * batch waits up to batch.max_wait_ms, and one a vendor refused waits for its retries up to
 * retry.max_elapsed_s (an hour by default), and each attempt sent the forgotten person's events
 * again, to be delivered the moment the vendor was back. Checked only when the list changed since
 * the batch was last checked (each item's envelope is read again then). */
static void batch_drop_suppressed(worker_t *w, batch_t *b)
{
    uint64_t v = sluice_suppress_version(w->suppress);
    if (v == b->suppress_version)
        return;
    b->suppress_version = v;
    size_t o = 0;
    for (size_t i = 0; i < b->n; i++) {
        item_t *it = b->items[i];
        sluice_envelope_t env;
        sluice_err_t err = {{0}};
        int hit = 0;
        if (sluice_envelope_parse(&env, it->rec->payload, it->rec->len, &err) == 0) {
            hit = sluice_suppress_match(w->suppress, &env);
            sluice_envelope_dispose(&env);
        }
        if (hit) {
            b->bytes -= item_size(it);
            /* Counted once per (event, vendor), as at dispatch: the event waits in a batch of
             * each of the org's integrations of this vendor, and was counted once per batch, so
             * one forgotten event read the same as two skipped at dispatch. */
            count_suppressed(it->lane, it->rec);
            item_free(it);
        } else {
            b->items[o++] = it;
        }
    }
    b->n = o;
}

static void batch_send(worker_t *w, batch_t *b, int64_t now)
{
    route_t *r = b->route;
    batch_prune(b);
    /* Suppression first: an event of a person forget named that also left the vendor's window
     * while it waited was dead-lettered, its whole envelope written to the dead-letter topic
     * after the request. */
    batch_drop_suppressed(w, b);
    batch_drop_too_old(w, b);
    if (b->n == 0) {
        batch_free(b);
        return;
    }
    if (b->attempts == 0 && b->first_ms == 0) /* a split's half keeps its batch's (batch_split) */
        b->first_ms = now;
    b->attempts++;
    char why[SLUICE_ERR_MSG_MAX + 16] = "";
    const json_t *secret = NULL;
    int pending = 0;
    if (r->ops->needs_secret(r->it) && (secret = route_secret(w, r, why, sizeof(why), &pending)) == NULL) {
        if (pending) { /* the vault is being read on its thread: not an attempt, look again soon */
            b->attempts--;
            b->state = B_QUEUED;
            b->due_ms = now + VAULT_POLL_MS;
            list_append(&r->queue_head, &r->queue_tail, b);
            return;
        }
        batch_retry(w, b, "-", why, -1);
        return;
    }
    if (r->ops->token_request == NULL)
        batch_post(w, b, secret);
    else if (r->access_token == NULL || now >= r->token_until)
        token_fetch(w, b, secret);
    else
        post_with_token(w, b, secret);
}

static void refill(route_t *r, int64_t now)
{
    double rps = r->it->rate_limit_rps;
    r->tokens += (double)(now - r->tokens_ms) * rps / 1000.0;
    if (r->tokens > r->burst)
        r->tokens = r->burst;
    r->tokens_ms = now;
}

/* Closes batches past their wait, sends what is due within the rate and concurrency limits,
 * and returns the next time this route needs attention (monotonic ms; INT64_MAX: none). */
static int64_t route_pump(worker_t *w, route_t *r, int64_t now)
{
    int64_t next = INT64_MAX;
    while (r->age_head != NULL && (w->stopping || now - r->age_head->opened_ms >= (int64_t)r->it->batch_max_wait_ms))
        batch_close(r, r->age_head, now);
    if (r->age_head != NULL)
        next = r->age_head->opened_ms + r->it->batch_max_wait_ms;
    refill(r, now);
    for (batch_t *b = r->queue_head, *nb; b != NULL; b = nb) {
        nb = b->next;
        /* Waiting for a retry at shutdown, or Kafka taking none of the lane's commits then: hand it
         * back (stop_ask). */
        if (w->stopping && (b->due_ms > now || r->lane->stop_state == STOP_HAND_BACK)) {
            list_remove(&r->queue_head, &r->queue_tail, b);
            batch_hand_back(b);
            continue;
        }
        if (w->stopping && r->lane->stop_state == STOP_ASKING)
            break; /* sent once Kafka is known to take the lane's commits (stop_look) */
        if (b->due_ms > now) {
            if (b->due_ms < next)
                next = b->due_ms;
            continue;
        }
        size_t in_flight = sluice_http_in_flight(w->http), max = w->cfg->delivery.max_in_flight;
        if (in_flight >= max)
            break; /* a finishing request wakes the loop */
        /* Routes are pumped in the config's order, each taking every place it could: one
         * integration whose vendor hung (30 s answers) with a backlog held all of max_in_flight,
         * took each place again as it came free, and every other org's deliveries waited behind
         * it. A route on the wire keeps within the room left for the others (alone, half). */
        if (w->routes > 1 && r->sending > 0 && r->sending >= max - in_flight)
            break;
        if (r->tokens < 1.0) {
            int64_t t = now + (int64_t)((1.0 - r->tokens) * 1000.0 / r->it->rate_limit_rps) + 1;
            if (t < next)
                next = t;
            break;
        }
        r->tokens -= 1.0;
        list_remove(&r->queue_head, &r->queue_tail, b);
        batch_send(w, b, now);
    }
    return next;
}

/* ------------------------------------------------------------------ consuming */

static int integration_wants(const route_t *r, const sluice_envelope_t *e)
{
    const sluice_integration_t *it = r->it;
    /* An event the gateway flagged as a bot (enrichment, context.bot) goes only where asked for. */
    if (!sluice_selection_bots_allow(e->event, it->send_bots))
        return 0;
    /* Segment's per-event selection ({"All": false, "Meta": true}). */
    if (!sluice_selection_allows(json_object_get(e->event, "integrations"), it->name,
                                 sluice_vendor_get(it->vendor)->name))
        return 0;
    if (it->type_count > 0) {
        int ok = 0;
        for (size_t i = 0; i < it->type_count && !ok; i++)
            ok = strcmp(it->types[i], e->type) == 0;
        if (!ok)
            return 0;
    }
    if (it->event_count > 0) {
        /* `events` names track events: with a list, only those track events pass. */
        if (strcmp(e->type, "track") != 0 || e->name == NULL)
            return 0;
        int ok = 0;
        for (size_t i = 0; i < it->event_count && !ok; i++)
            ok = strcmp(it->events[i], e->name) == 0;
        if (!ok)
            return 0;
    }
    if (it->consent != NULL) {
        json_t *cats = sluice_envelope_get(e, "context.consent.categories");
        size_t i;
        json_t *c;
        int ok = 0;
        json_array_foreach(cats, i, c) {
            if (json_is_string(c) && strcmp(json_string_value(c), it->consent) == 0)
                ok = 1;
        }
        if (!ok)
            return 0;
    }
    return 1;
}

static item_t *item_new(lane_t *l, record_t *rec, route_t *r)
{
    item_t *it = calloc(1, sizeof(*it));
    if (it == NULL)
        return NULL;
    it->rec = rec;
    it->route = r;
    it->lane = l;
    if (r != NULL)
        r->held++;
    rec->pending++;
    return it;
}

static char *header_copy(const rd_kafka_message_t *m, const char *name)
{
    char buf[256];
    sluice_dlq_header(m, name, buf, sizeof(buf));
    return buf[0] ? strdup(buf) : NULL;
}

/* p, just assigned, takes what this worker finished of the partition when it last lost it (a
 * zombie kept by revoke_parts). A session lost while Kafka was away revoked every partition with
 * its commit failing, and the group gave them back here at the old committed offset: every event
 * delivered since (a lane's whole backlog, up to LANE_MAX_LIVE) was sent to the vendor again, and
 * counted delivered again. At-least-once allows that, but the worker knew. */
static void part_adopt(lane_t *l, part_t *p)
{
    for (part_t *z = l->zombies; z != NULL; z = z->next) {
        if (!z->keep || z->partition != p->partition)
            continue;
        if (z->tracker.first_offset >= 0 && (p->before = malloc(sizeof(*p->before))) != NULL) {
            *p->before = z->tracker; /* moved: the zombie's records still finishing find it empty */
            sluice_tracker_init(&z->tracker);
        }
        return; /* the newest zombie of the partition is first */
    }
}

/* Whether this worker finished the message at `offset` before it lost p (p->before); that
 * knowledge goes once reading passes it. */
static int part_finished_before(part_t *p, int64_t offset)
{
    if (p->before == NULL)
        return 0;
    int finished = sluice_tracker_finished(p->before, offset);
    if (offset >= p->before->last_offset) {
        sluice_tracker_dispose(p->before);
        free(p->before);
        p->before = NULL;
    }
    return finished;
}

static part_t *find_part(lane_t *l, int32_t partition)
{
    for (part_t *p = l->parts; p != NULL; p = p->next) {
        if (p->partition == partition)
            return p;
    }
    return NULL;
}

/* Sets the event aside for r (set aside: ROUTE_ASIDE_AT): held in its tracker, its offset in
 * the route's range for the partition. */
static void aside_put(route_t *r, record_t *rec)
{
    part_t *p = rec->part;
    aside_t *a = &p->aside[r->idx];
    if (sluice_tracker_hold(&p->tracker, rec->seq) != 0) {
        /* 255 routes of one org in one lane: never committed rather than unheld in a range. */
        rec->abandoned = 1;
        return;
    }
    if (a->from < 0)
        a->from = rec->offset;
    a->to = rec->offset;
    r->set_aside++;
}

/* A route of p stopped reading its set-aside events again at `offset`: the partition goes on
 * from the lowest offset a route still reads there, else from its first unread message. The
 * consumer used to go on reading from there to the partition's end, every message read before
 * and wanted by nobody, and a catching-up integration takes ~ROUTE_ASIDE_AT / 2 events a pass:
 * a backlog of N events in one partition fetched ~N^2 / ROUTE_ASIDE_AT messages again (5,000
 * events at ROUTE_ASIDE_AT 50: 206,410 messages consumed; 1,000,000 at 5,000: ~200 million).
 * Now a pass reads again only up to where the route filled up, and the next starts there
 * (`from`), while the partition goes on with the new events meanwhile. */
static void aside_skip(lane_t *l, part_t *p, int64_t offset)
{
    int64_t target = p->tracker.last_offset + 1;
    for (size_t i = 0; i < l->nroutes; i++) {
        const aside_t *a = &p->aside[i];
        if (a->reading && a->from >= 0 && a->from < target)
            target = a->from;
    }
    if (target <= offset + 1)
        return; /* the next message is wanted (or new): nothing to skip */
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, l->w->cfg->kafka.topic, p->partition)->offset = target;
    /* Asynchronous, as lane_aside's: messages fetched before it are told by their offsets. */
    rd_kafka_error_t *e = rd_kafka_seek_partitions(l->rk, list, 0);
    if (e != NULL) {
        sluice_log_warn("kafka.seek_failed", "%s: %s", l->ops->name, rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
    }
    rd_kafka_topic_partition_list_destroy(list);
}

/* Whether r takes the event at `offset` of p read again: set aside for it, and being read. A
 * route that cannot take it now (set aside again, or full) stops reading, and the partition
 * skips what nobody reads again (aside_skip); lane_aside starts over from `from` later. */
static int aside_covers(route_t *r, part_t *p, int64_t offset)
{
    aside_t *a = &p->aside[r->idx];
    if (!a->reading || a->from < 0 || offset < a->from || offset > a->to)
        return 0;
    if (r->aside || r->held >= r->lane->w->aside_at) {
        a->reading = 0;
        aside_skip(r->lane, p, offset);
        return 0;
    }
    return 1;
}

/* r takes the set-aside event at rec's offset: its hold goes (the record holds the entry now),
 * and the range moves past it. */
static void aside_take(route_t *r, record_t *rec, int64_t now)
{
    part_t *p = rec->part;
    aside_t *a = &p->aside[r->idx];
    a->from = rec->offset + 1;
    a->read_ms = now;
    if (a->from > a->to) {
        a->from = a->to = -1;
        a->reading = 0;
    }
    sluice_tracker_unhold(&p->tracker, rec->seq);
}

/* Whether any route of the lane reads the event at `offset` of p again (the reading is making
 * progress: ASIDE_READ_STALL_MS counts from now). */
static int aside_wanted(lane_t *l, part_t *p, int64_t offset, int64_t now)
{
    int wanted = 0;
    for (size_t i = 0; i < l->nroutes; i++) {
        aside_t *a = &p->aside[i];
        if (a->reading && a->from >= 0 && offset <= a->to) {
            a->read_ms = now;
            wanted |= offset >= a->from;
        }
    }
    return wanted;
}

/* Whether any route of l is setting events aside, or has a range in p. */
static int aside_any(const lane_t *l, const part_t *p)
{
    for (size_t i = 0; i < l->nroutes; i++) {
        if (l->routes[i].aside || p->aside[i].from >= 0)
            return 1;
    }
    return 0;
}

/* Whether a new event r admits is set aside: while r is, and while it has a range in the
 * partition (being read again or not), so that every event r admits between `from` and `to` is
 * held by r, once. An event taken in between, unheld, would have its offset's hold taken by r
 * when read again, perhaps another route's: that route's event committed before it was
 * delivered. */
static int aside_should_put(const route_t *r, const part_t *p)
{
    return r->aside || p->aside[r->idx].from >= 0;
}

/* 1 when r takes the event (the replay it names, if any, is r's; r's filters pass), 0 when its
 * filters do not, -1 when it is a replay for another integration (*replayed: one was for r). */
static int route_admits(const route_t *r, const sluice_envelope_t *e, const char *replay_to, int *replayed)
{
    if (replay_to[0] != '\0') {
        char want[160];
        snprintf(want, sizeof(want), "%s/%s", r->ops->name, r->it->name);
        if (strcmp(want, replay_to) != 0)
            return -1; /* a replay meant for another integration */
        *replayed = 1;
    }
    return integration_wants(r, e) ? 1 : 0;
}

/* A record read for the first time goes to every route of its org; one read again (rec->reread:
 * the partition was sought back for set-aside events) only to the routes it was set aside for. */
static void dispatch(lane_t *l, record_t *rec, const rd_kafka_message_t *m, int64_t now)
{
    worker_t *w = l->w;
    sluice_envelope_t env;
    sluice_err_t err = {{0}};
    if (sluice_envelope_parse(&env, rec->payload, rec->len, &err) != 0) {
        if (rec->reread)
            return; /* dead-lettered when first read; never set aside */
        item_t *it = item_new(l, rec, NULL);
        if (it != NULL)
            dead_letter(w, it, "-", 0, err.msg);
        return;
    }
    char replay_to[160];
    sluice_dlq_header(m, SLUICE_DLQ_REPLAY_TO, replay_to, sizeof(replay_to));
    size_t org_index = 0;
    const sluice_org_t *org = worker_org(w, env.org, &org_index);
    size_t rfirst = org != NULL ? l->org_first[org_index] : 0,
           rend = org != NULL ? rfirst + l->org_nroutes[org_index] : 0;
    if (sluice_suppress_match(w->suppress, &env)) {
        /* A forgotten person's event queued before the request: skipped for every route. Held
         * all the same by a route setting its events aside (aside_should_put), and its hold
         * taken when read again. */
        int taken = 0, replayed_unused = 0;
        for (size_t i = rfirst; i < rend; i++) {
            route_t *r = &l->routes[i];
            if ((rec->reread && !aside_covers(r, rec->part, rec->offset)) ||
                route_admits(r, &env, replay_to, &replayed_unused) != 1)
                continue;
            if (rec->reread) {
                aside_take(r, rec, now);
                taken = 1;
            } else if (aside_should_put(r, rec->part)) {
                aside_put(r, rec);
            }
        }
        if (!rec->reread || taken)
            count_suppressed(l, rec);
        sluice_envelope_dispose(&env);
        return;
    }
    if (rec->reread && org == NULL) {
        sluice_envelope_dispose(&env);
        return;
    }
    if (org == NULL) {
        /* Committed with nothing done, as before, but no longer silently: a replica still on an
         * older config in a rolling update, or an org removed while its events queued. */
        w->metrics.events[l->kind][SLUICE_OUTCOME_UNROUTED]++;
        int64_t mono = sluice_mono_ms();
        if (l->unrouted_logged_ms == 0 || mono - l->unrouted_logged_ms >= 60000) {
            l->unrouted_logged_ms = mono;
            sluice_log_warn("deliver.unrouted",
                            "vendor %s: an event of org '%s', which this worker's config does not "
                            "have, was skipped (logged once a minute; "
                            "sluice_deliver_events_total{outcome=\"unrouted\"} counts them)",
                            l->ops->name, env.org);
        }
        sluice_envelope_dispose(&env);
        return;
    }
    size_t replay_len = strlen(l->ops->name);
    int replay_here =
            replay_to[0] != '\0' && strncmp(replay_to, l->ops->name, replay_len) == 0 && replay_to[replay_len] == '/',
        replayed = 0;
    int64_t wall = sluice_now_ms();
    for (size_t i = rfirst; i < rend; i++) {
        route_t *r = &l->routes[i];
        if (rec->reread && !aside_covers(r, rec->part, rec->offset))
            continue; /* delivered to r when first read, or still set aside */
        int admits = route_admits(r, &env, replay_to, &replayed);
        if (admits < 0)
            continue;
        if (admits == 0) {
            if (!rec->reread) /* counted when first read */
                w->metrics.events[l->kind][SLUICE_OUTCOME_FILTERED]++;
            continue;
        }
        if (rec->reread) {
            aside_take(r, rec, now);
        } else if (aside_should_put(r, rec->part)) {
            aside_put(r, rec);
            continue;
        }
        item_t *it = item_new(l, rec, r);
        if (it == NULL) {
            rec->abandoned = 1;
            continue;
        }
        char why[256] = "";
        sluice_map_result_t res = sluice_vendor_map(r->ops, r->it, &env, wall, &it->v, why, sizeof(why));
        if (res == SLUICE_MAP_SKIP) {
            item_finish(it, SLUICE_OUTCOME_SKIPPED);
        } else if (res == SLUICE_MAP_DEAD) {
            dead_letter(w, it, "-", 0, why);
        } else {
            it->time_ms = env.time_ms;
            if (route_add(r, it, now) != 0)
                item_abandon(it);
        }
    }
    if (replay_here && !replayed && !rec->reread) {
        /* Replayed to one of this vendor's integrations that is gone (renamed or removed since
         * the dead letter): back to the DLQ with the reason, from this lane only. */
        char why[256];
        snprintf(why, sizeof(why), "replayed to %s, which this worker's config does not have for org %s", replay_to,
                 env.org);
        item_t *it = item_new(l, rec, NULL);
        if (it != NULL) {
            snprintf(it->integration, sizeof(it->integration), "%s", replay_to + replay_len + 1);
            dead_letter(w, it, "-", 0, why);
        }
    }
    sluice_envelope_dispose(&env);
}

static void on_message(lane_t *l, rd_kafka_message_t *m, int64_t now)
{
    worker_t *w = l->w;
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            sluice_log_warn("kafka.consume_error", "%s: %s", l->ops->name, rd_kafka_message_errstr(m));
        return;
    }
    part_t *p = find_part(l, m->partition);
    if (p == NULL || w->stopping)
        return; /* not ours (any more), or stopping: it stays uncommitted for the next reader */
    /* Every message fetched, read again for set-aside events or not: what Kafka serves. */
    w->metrics.consumed[l->kind]++;
    record_t *rec = calloc(1, sizeof(*rec));
    if (rec != NULL) {
        rec->payload = malloc(m->len + 1);
        rec->key = malloc(m->key_len + 1);
    }
    int tracked = rec != NULL ? sluice_tracker_add(&p->tracker, m->offset, &rec->seq) : -2;
    if (rec != NULL)
        rec->offset = m->offset;
    if (rec == NULL || rec->payload == NULL || rec->key == NULL || tracked == -2) {
        /* An untracked message would let the commit offset pass it: out of memory here is fatal
         * (STYLE.md allows core code to abort on OOM); the next owner reads it again. */
        sluice_log_error("deliver.oom", "out of memory taking a message: aborting");
        abort();
    }
    if (tracked != 0) {
        /* Read before: read again for the routes that set it aside (the partition was sought
         * back), or nothing to do. The record holds its tracker entry while it lives. */
        if (!aside_wanted(l, p, m->offset, now) || sluice_tracker_find(&p->tracker, m->offset, &rec->seq) != 0 ||
            sluice_tracker_hold(&p->tracker, rec->seq) != 0) {
            free(rec->payload);
            free(rec->key);
            free(rec);
            return;
        }
        rec->reread = 1;
    } else if (part_finished_before(p, m->offset) && !aside_any(l, p)) {
        /* Delivered by this worker before it lost the partition (part_adopt): finished. Not while
         * a route sets events aside in p: every event inside its range must carry its hold
         * (aside_should_put), and one skipped here would, read back, have the record's own hold
         * taken for the route's (sent again, its entry released early). Sent again instead. */
        sluice_tracker_done(&p->tracker, rec->seq);
        free(rec->payload);
        free(rec->key);
        free(rec);
        return;
    }
    if (m->len > 0) /* a message without a value has a NULL payload: memcpy must not see it */
        memcpy(rec->payload, m->payload, m->len);
    rec->payload[m->len] = '\0';
    rec->len = m->len;
    if (m->key_len > 0)
        memcpy(rec->key, m->key, m->key_len);
    rec->key[m->key_len] = '\0';
    rec->key_len = m->key_len;
    rec->org = header_copy(m, "org");
    rec->source = header_copy(m, "source");
    rec->type = header_copy(m, "type");
    rec->part = p;
    rec->pending = 1; /* held while dispatching, so it cannot complete half-way */
    p->live++;
    l->live++;
    dispatch(l, rec, m, now);
    record_release(rec);
}

/* ------------------------------------------------------------------ commits and rebalances */

/* commit_parts' wait: none (the answer comes later to on_commit), or at most a bound in ms
 * (REVOKE_COMMIT_WAIT_MS, the stop's STOP_COMMIT_WAIT_MS): never as long as librdkafka would wait,
 * about 6.5 s for a coordinator with Kafka unreachable (librdkafka 2.0.2). */
#define COMMIT_ASYNC 0
/* A revocation's commit: a coordinator that answers does in milliseconds; waiting for one that
 * does not held the loop, every lane's deliveries and /metrics with it, about 6.5 s. */
#define REVOKE_COMMIT_WAIT_MS 1000

/* Returns how many partitions' commits failed at once (a waited commit's result; an async one's
 * comes later to on_commit). wait_ms: COMMIT_ASYNC or a bound in ms. */
/* The finished offsets of l's partitions (of `only`'s, when not NULL) not sent in a commit yet,
 * taken as sent. */
static rd_kafka_topic_partition_list_t *commit_list(lane_t *l, const rd_kafka_topic_partition_list_t *only)
{
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(8);
    for (part_t *p = l->parts; p != NULL; p = p->next) {
        if (only != NULL && rd_kafka_topic_partition_list_find(only, l->w->cfg->kafka.topic, p->partition) == NULL)
            continue;
        int64_t off = sluice_tracker_commit_offset(&p->tracker);
        if (off < 0 || off == p->committed)
            continue;
        rd_kafka_topic_partition_list_add(list, l->w->cfg->kafka.topic, p->partition)->offset = off;
        p->committed = off;
    }
    return list;
}

/* A commit of list refused or not answered: counted, and its offsets sent again by the next one. */
static void commit_refused(lane_t *l, const rd_kafka_topic_partition_list_t *list)
{
    l->w->metrics.commit_failures[l->kind]++;
    for (int i = 0; list != NULL && i < list->cnt; i++) {
        part_t *p = find_part(l, list->elems[i].partition);
        if (p != NULL)
            p->committed = -1; /* try again at the next tick */
    }
}

static void lane_kafka_said(lane_t *l, int landed, const char *why);

static int commit_parts(lane_t *l, const rd_kafka_topic_partition_list_t *only, int wait_ms)
{
    int failed = 0;
    rd_kafka_topic_partition_list_t *list = commit_list(l, only);
    if (list->cnt > 0) {
        rd_kafka_resp_err_t e =
            wait_ms > 0 ? sluice_dlq_commit_within(l->rk, list, wait_ms) : rd_kafka_commit(l->rk, list, 1);
        if (e == RD_KAFKA_RESP_ERR__TIMED_OUT && wait_ms > 0) {
            sluice_log_warn("kafka.commit_failed",
                            "%s: no answer to the commit within %d ms, not waited for longer: if it does not land, "
                            "what was finished since the last commit is delivered again by the partitions' next owner",
                            l->ops->name, wait_ms);
        } else if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
            sluice_log_warn("kafka.commit_failed", "%s: %s", l->ops->name, rd_kafka_err2str(e));
        }
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
            commit_refused(l, list);
            failed = list->cnt;
        }
        if (wait_ms > 0)
            lane_kafka_said(l, e == RD_KAFKA_RESP_ERR_NO_ERROR, rd_kafka_err2str(e));
    }
    rd_kafka_topic_partition_list_destroy(list);
    return failed;
}

static void on_commit(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *offsets, void *opaque)
{
    (void)rk;
    lane_t *l = opaque;
    /* The request's error, else the first partition's (the group refusing one of them). */
    for (int i = 0; err == RD_KAFKA_RESP_ERR_NO_ERROR && offsets != NULL && i < offsets->cnt; i++)
        err = offsets->elems[i].err;
    if (err == RD_KAFKA_RESP_ERR__NO_OFFSET)
        return;
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        lane_kafka_said(l, 1, NULL);
        return;
    }
    sluice_log_warn("kafka.commit_failed", "%s: %s", l->ops->name, rd_kafka_err2str(err));
    commit_refused(l, offsets);
    lane_kafka_said(l, 0, rd_kafka_err2str(err));
}

/* Kafka took none of the lane's commits while it stops: its events not on the wire yet are handed
 * back instead of sent. Delivered now, they could not be committed, and the partitions' next owner
 * delivers them again: GA4 counts each twice, Meta and TikTok deduplicate within a window only.
 * Handed back, the next owner delivers them once. Requests on the wire finish: they cannot be
 * taken back. */
static void lane_hand_back(lane_t *l, const char *why)
{
    if (l->stop_state != STOP_ASKING && l->stop_state != STOP_DELIVER)
        return;
    l->stop_state = STOP_HAND_BACK;
    if (l->stop_q != NULL) {
        rd_kafka_queue_destroy(l->stop_q); /* a late answer is dropped */
        l->stop_q = NULL;
    }
    int64_t now = sluice_mono_ms();
    size_t n = 0;
    for (size_t i = 0; i < l->nroutes; i++) {
        route_t *r = &l->routes[i];
        while (r->age_head != NULL)
            batch_close(r, r->age_head, now);
        while (r->queue_head != NULL) {
            batch_t *b = r->queue_head;
            n += b->n;
            list_remove(&r->queue_head, &r->queue_tail, b);
            batch_hand_back(b);
        }
    }
    l->handed_back += n;
    size_t wire = 0; /* this lane's, not the worker's: each lane logs its own */
    for (size_t i = 0; i < l->nroutes; i++)
        wire += l->routes[i].sending;
    sluice_log_warn("deliver.stop_hand_back",
                    "%s: Kafka takes no commit (%s): %zu deliveries not sent yet are handed back uncommitted to the "
                    "partitions' next owner instead of being sent now and again by it; %zu of its requests on the "
                    "wire finish",
                    l->ops->name, why, n, wire);
}

/* What Kafka said of the lane's commits: a commit answered (landed or refused), all brokers down. */
static void lane_kafka_said(lane_t *l, int landed, const char *why)
{
    l->kafka_away = !landed;
    if (!landed && l->w->stopping)
        lane_hand_back(l, why);
}

/* At the stop: commits the lane's finished offsets, every partition's (also those a periodic commit
 * sent, whose answer may not have come), with the answer on a queue of its own, so that only an
 * answer to a commit sent after the stop began decides (stop_look). With nothing to commit, what
 * Kafka said last decides. */
static void stop_ask(lane_t *l, int64_t now)
{
    for (part_t *p = l->parts; p != NULL; p = p->next)
        p->committed = -1;
    rd_kafka_topic_partition_list_t *list = commit_list(l, NULL);
    rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR__NO_OFFSET;
    if (list->cnt > 0 && (e = sluice_dlq_commit_ask(l->rk, list, &l->stop_q)) != RD_KAFKA_RESP_ERR_NO_ERROR)
        commit_refused(l, list);
    rd_kafka_topic_partition_list_destroy(list);
    l->stop_state = STOP_DELIVER;
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
        l->stop_state = STOP_ASKING;
        l->stop_ask_until = now + STOP_ASK_MS;
    } else if (e != RD_KAFKA_RESP_ERR__NO_OFFSET) {
        lane_hand_back(l, rd_kafka_err2str(e));
    } else if (l->kafka_away) {
        lane_hand_back(l, "last found unreachable: all brokers down or a commit refused");
    }
}

/* The answer to stop_ask's commit, once it came (or STOP_ASK_MS passed without one). */
static void stop_look(lane_t *l, int64_t now)
{
    if (l->stop_state != STOP_ASKING)
        return;
    rd_kafka_resp_err_t e = sluice_dlq_commit_answer(l->stop_q, 0);
    if (e == RD_KAFKA_RESP_ERR__TIMED_OUT && now < l->stop_ask_until)
        return;
    rd_kafka_queue_destroy(l->stop_q);
    l->stop_q = NULL;
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
        l->kafka_away = 0;
        l->stop_state = STOP_DELIVER;
        return;
    }
    char why[128];
    if (e == RD_KAFKA_RESP_ERR__TIMED_OUT)
        snprintf(why, sizeof(why), "no answer to the stop's commit within %d ms", STOP_ASK_MS);
    else
        snprintf(why, sizeof(why), "%s", rd_kafka_err2str(e));
    sluice_log_warn("kafka.commit_failed", "%s: %s", l->ops->name, why);
    l->w->metrics.commit_failures[l->kind]++;
    for (part_t *p = l->parts; p != NULL; p = p->next)
        p->committed = -1; /* sent again by the stop's last commit */
    l->kafka_away = 1;
    lane_hand_back(l, why);
}

static void purge_route(route_t *r)
{
    for (batch_t *b = r->age_head, *nb; b != NULL; b = nb) {
        nb = b->next;
        batch_prune(b);
        if (b->n == 0) {
            open_unlink(r, b);
            batch_free(b);
        }
    }
    for (batch_t *b = r->queue_head, *nb; b != NULL; b = nb) {
        nb = b->next;
        batch_prune(b);
        if (b->n == 0) {
            list_remove(&r->queue_head, &r->queue_tail, b);
            batch_free(b);
        }
    }
}

static void revoke_parts(lane_t *l, const rd_kafka_topic_partition_list_t *parts)
{
    /* A lost assignment (the session timed out: Kafka unreachable, or this worker not polling, for
     * session.timeout.ms) is not committed: the group has moved on and would refuse it, and the
     * synchronous commit that tried waited about 6.5 s for a coordinator, the loop with it (every
     * lane, requests' answers, /metrics). What was finished since the last commit is read again
     * by the partitions' next owner and delivered again (at least once), unless that owner is this
     * worker (part_adopt). Leaving the group at the stop: the stop's commit was just tried; when
     * it failed (no coordinator), trying again here waited as long once more, past the drain. */
    if (rd_kafka_assignment_lost(l->rk)) {
        l->w->metrics.assignments_lost[l->kind]++;
        l->lost += parts->cnt; /* the stop's commit no longer finds them, and reports them */
        sluice_log_warn("kafka.assignment_lost",
                        "%s: the group took back %d partitions (no session for session.timeout.ms: Kafka "
                        "unreachable, or the worker stalled); their offsets were not committed: what was finished "
                        "since the last commit is delivered again unless this worker gets them back",
                        l->ops->name, parts->cnt);
    } else if (!l->stop_committed) {
        commit_parts(l, parts, REVOKE_COMMIT_WAIT_MS);
    }
    int n = 0;
    for (part_t **pp = &l->parts; *pp != NULL;) {
        part_t *p = *pp;
        if (rd_kafka_topic_partition_list_find(parts, l->w->cfg->kafka.topic, p->partition) == NULL) {
            pp = &p->next;
            continue;
        }
        *pp = p->next;
        p->revoked = 1;
        p->keep = 1;
        p->next = l->zombies;
        l->zombies = p;
        n++;
    }
    /* Queued and open work of revoked partitions goes; requests on the wire finish: a 2xx finishes
     * their events of these partitions (on_response), any other answer leaves them to the new owner. */
    for (size_t i = 0; i < l->nroutes; i++)
        purge_route(&l->routes[i]);
    dlq_retry_due(l->w, INT64_MAX);
    sluice_log_info("kafka.revoked", "%s: %d partitions revoked", l->ops->name, n);
}

static void pause_all(lane_t *l, int pause)
{
    rd_kafka_topic_partition_list_t *list = NULL;
    if (rd_kafka_assignment(l->rk, &list) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return;
    if (pause)
        rd_kafka_pause_partitions(l->rk, list);
    else
        rd_kafka_resume_partitions(l->rk, list);
    rd_kafka_topic_partition_list_destroy(list);
    l->paused = pause;
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    lane_t *l = opaque;
    int cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        l->lost = 0;
        l->kafka_away = 0; /* the group's coordinator answered */
        for (int i = 0; i < parts->cnt; i++) {
            if (find_part(l, parts->elems[i].partition) != NULL)
                continue;
            part_t *p = calloc(1, sizeof(*p));
            if (p != NULL && (p->aside = calloc(l->nroutes > 0 ? l->nroutes : 1, sizeof(*p->aside))) == NULL) {
                free(p);
                p = NULL;
            }
            if (p == NULL)
                continue;
            for (size_t r = 0; r < l->nroutes; r++)
                p->aside[r] = (aside_t){.from = -1, .to = -1};
            p->lane = l;
            p->partition = parts->elems[i].partition;
            p->committed = -1;
            sluice_tracker_init(&p->tracker);
            part_adopt(l, p);
            p->next = l->parts;
            l->parts = p;
        }
        /* Zombies are kept for this assignment only: past it, gone once their records are. */
        for (part_t **pp = &l->zombies; *pp != NULL;) {
            part_t *z = *pp;
            z->keep = 0;
            if (z->live == 0) {
                *pp = z->next;
                part_free(z);
            } else {
                pp = &z->next;
            }
        }
        if (cooperative)
            rd_kafka_error_destroy(rd_kafka_incremental_assign(rk, parts));
        else
            rd_kafka_assign(rk, parts);
        /* librdkafka keeps a partition's pause across a revocation and the next assignment (a flag
         * on its partition object, not on the assignment). A lane paused for back-pressure that
         * loses its partitions (a session timeout while Kafka is away, a rebalance) drops their
         * records and resumes while it holds none, which resumes nothing: the partitions came back
         * still paused and the lane never consumed again, with nothing in the log. Each assignment
         * therefore sets the state the lane is in now, either way. */
        if (l->paused || l->w->stopping)
            rd_kafka_pause_partitions(rk, parts);
        else
            rd_kafka_resume_partitions(rk, parts);
        sluice_log_info("kafka.assigned", "%s: %d partitions assigned", l->ops->name, parts->cnt);
    } else {
        if (err != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS)
            sluice_log_warn("kafka.rebalance_error", "%s: %s", l->ops->name, rd_kafka_err2str(err));
        revoke_parts(l, parts);
        if (cooperative)
            rd_kafka_error_destroy(rd_kafka_incremental_unassign(rk, parts));
        else
            rd_kafka_assign(rk, NULL);
    }
}

static void on_kafka_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)rk;
    sluice_log_warn("kafka.error", "%s: %s", rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
    /* No broker answers: no commit can land (one broker's disconnect, _TRANSPORT, says nothing of
     * the coordinator on another). Served on the loop's thread (rd_kafka_consumer_poll). */
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
        lane_kafka_said(opaque, 0, "all brokers down");
}

static void drain_pipe(void *ud, int fd, unsigned events)
{
    (void)ud;
    (void)events;
    char buf[256];
    while (read(fd, buf, sizeof(buf)) > 0)
        ;
}

/* Routes start and stop setting their events aside (ROUTE_ASIDE_AT); a route that holds few
 * again has its partitions sought back to read its set-aside events. */
static int lane_aside(lane_t *l, int64_t now, size_t *most_tracked)
{
    size_t aside_at = l->w->aside_at, tracked = 0;
    for (part_t *p = l->parts; p != NULL; p = p->next) {
        size_t n = sluice_tracker_pending(&p->tracker);
        tracked = n > tracked ? n : tracked;
    }
    for (size_t i = 0; i < l->nroutes; i++) {
        route_t *r = &l->routes[i];
        if (!r->aside && r->held >= aside_at && !l->w->stopping) {
            r->aside = 1;
            r->set_aside = 0;
            sluice_log_warn_for("deliver.set_aside", r->org->id,
                                "vendor %s, org %s, integration %s: %zu events in memory (failing or slow); its next "
                                "events are set aside (not committed) and read again from Kafka once it holds %zu, so "
                                "the other integrations' events go on",
                                r->ops->name, r->org->id, r->it->name, r->held, aside_at / 2);
        } else if (r->aside && r->held < aside_at / 2) {
            r->aside = 0;
            sluice_log_info_for("deliver.set_aside_done", r->org->id,
                                "vendor %s, org %s, integration %s: down to %zu events in memory; its %" PRIu64
                                " events set aside are read again from Kafka",
                                r->ops->name, r->org->id, r->it->name, r->held, r->set_aside);
        }
    }
    *most_tracked = tracked;
    if (l->w->stopping)
        return 0;
    int reading = 0;
    rd_kafka_topic_partition_list_t *seek = NULL;
    for (part_t *p = l->parts; p != NULL; p = p->next) {
        int64_t target = -1;
        int start = 0;
        for (size_t i = 0; i < l->nroutes; i++) {
            aside_t *a = &p->aside[i];
            const route_t *r = &l->routes[i];
            if (a->from < 0)
                continue;
            if (a->reading && now - a->read_ms >= ASIDE_READ_STALL_MS)
                a->reading = 0; /* the seek did not happen (or was undone): again */
            if (!a->reading && !r->aside && r->held < aside_at / 2) {
                a->reading = 1;
                a->read_ms = now;
                start = 1;
            }
            /* From the lowest offset any route still reads: a seek past one being read would
             * skip the rest of its events. */
            if (a->reading && (target < 0 || a->from < target))
                target = a->from;
            reading |= a->reading;
        }
        if (!start || target < 0)
            continue;
        if (seek == NULL)
            seek = rd_kafka_topic_partition_list_new(4);
        rd_kafka_topic_partition_list_add(seek, l->w->cfg->kafka.topic, p->partition)->offset = target;
    }
    if (seek != NULL) {
        /* Asynchronous (timeout 0): the loop does not wait for the fetcher. Messages fetched
         * before it may still come; on_message tells them by their offsets. */
        rd_kafka_error_t *e = rd_kafka_seek_partitions(l->rk, seek, 0);
        if (e != NULL) {
            sluice_log_warn("kafka.seek_failed", "%s: %s", l->ops->name, rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
        }
        rd_kafka_topic_partition_list_destroy(seek);
    }
    return reading;
}

/* Takes up to POLL_BATCH messages; returns 1 when it stopped at that limit (more may be
 * queued, and librdkafka's wake-up byte only comes when its queue turns non-empty). */
static int lane_poll(lane_t *l, int64_t now)
{
    int n = 0;
    for (; n < POLL_BATCH; n++) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(l->rk, 0);
        if (m == NULL)
            break;
        on_message(l, m, now);
        rd_kafka_message_destroy(m);
    }
    if (l->w->stopping)
        stop_look(l, now);
    size_t tracked = 0;
    int reading = lane_aside(l, now, &tracked);
    /* Past PART_MAX_TRACKED events behind a set-aside one, the lane pauses as for LANE_MAX_LIVE,
     * but not while set-aside events are being read again: they are what releases them. */
    int over = tracked >= PART_MAX_TRACKED && !reading;
    if (!l->paused && (l->live >= LANE_MAX_LIVE || over))
        pause_all(l, 1);
    else if (l->paused && !l->w->stopping && l->live < LANE_MAX_LIVE / 2 && (tracked < PART_MAX_TRACKED / 2 || reading))
        pause_all(l, 0);
    if (now - l->last_commit_ms >= COMMIT_INTERVAL_MS) {
        l->last_commit_ms = now;
        commit_parts(l, NULL, COMMIT_ASYNC);
    }
    return n == POLL_BATCH && !l->paused;
}

/* ------------------------------------------------------------------ set-up */

static int pipe_watch(worker_t *w, int fds[2], sluice_err_t *err)
{
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0)
        return sluice_err_set(err, "pipe: %s", strerror(errno));
    return sluice_loop_watch(w->loop, fds[0], SLUICE_LOOP_IN, drain_pipe, w, err);
}

static int lane_create(worker_t *w, sluice_vendor_kind_t kind, sluice_err_t *err)
{
    lane_t *l = calloc(1, sizeof(*l));
    if (l == NULL)
        return sluice_err_set(err, "out of memory");
    w->lanes[kind] = l;
    l->w = w;
    l->kind = kind;
    l->ops = sluice_vendor_get(kind);
    l->wake[0] = l->wake[1] = -1;
    l->org_first = calloc(w->cfg->org_count + 1, sizeof(*l->org_first));
    l->org_nroutes = calloc(w->cfg->org_count + 1, sizeof(*l->org_nroutes));
    if (l->org_first == NULL || l->org_nroutes == NULL)
        return sluice_err_set(err, "out of memory");
    for (size_t o = 0; o < w->cfg->org_count; o++) {
        const sluice_org_t *org = &w->cfg->orgs[o];
        l->org_first[o] = l->nroutes; /* an org's routes are made one after another */
        for (size_t i = 0; i < org->integration_count; i++) {
            const sluice_integration_t *it = &org->integrations[i];
            if (!it->enabled || it->vendor != kind)
                continue;
            route_t *nr = realloc(l->routes, (l->nroutes + 1) * sizeof(*nr));
            if (nr == NULL)
                return sluice_err_set(err, "out of memory");
            l->routes = nr;
            route_t *r = &l->routes[l->nroutes++];
            w->routes++;
            memset(r, 0, sizeof(*r));
            r->lane = l;
            r->idx = l->nroutes - 1;
            r->org = org;
            r->it = it;
            r->ops = l->ops;
            r->policy =
                (sluice_retry_policy_t){it->max_attempts, it->retry_base_ms, it->retry_max_ms, it->retry_max_elapsed_s};
            r->burst = it->rate_limit_rps > 1.0 ? it->rate_limit_rps : 1.0;
            r->tokens = r->burst;
            r->tokens_ms = sluice_mono_ms();
        }
        l->org_nroutes[o] = l->nroutes - l->org_first[o];
    }

    char group[64], client[80];
    snprintf(group, sizeof(group), "sluice-deliver-%s", l->ops->name);
    snprintf(client, sizeof(client), "sluice-deliver-%s", l->ops->name);
    /* Defaults an operator may override in kafka.properties. */
    const char *const defaults[] = {"session.timeout.ms", "10000", "heartbeat.interval.ms", "1000", "auto.offset.reset",
                                    "earliest",           NULL};
    rd_kafka_conf_t *conf = sluice_dlq_kafka_conf(&w->cfg->kafka, client, RD_KAFKA_CONSUMER, defaults, err);
    if (conf == NULL)
        return -1;
    /* Never committed behind our back: offsets move only through commit_parts. */
    if (sluice_dlq_conf_set(conf, "group.id", group, err) ||
        sluice_dlq_conf_set(conf, "enable.auto.commit", "false", err) ||
        sluice_dlq_conf_set(conf, "enable.auto.offset.store", "false", err) ||
        sluice_dlq_conf_set(conf, "enable.partition.eof", "false", err)) {
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    rd_kafka_conf_set_opaque(conf, l);
    rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
    rd_kafka_conf_set_offset_commit_cb(conf, on_commit);
    rd_kafka_conf_set_error_cb(conf, on_kafka_error);
    char errstr[512];
    l->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    if (l->rk == NULL) {
        rd_kafka_conf_destroy(conf);
        return sluice_err_set(err, "kafka consumer %s: %s", group, errstr);
    }
    rd_kafka_poll_set_consumer(l->rk);
    if (pipe_watch(w, l->wake, err) != 0)
        return -1;
    l->queue = rd_kafka_queue_get_consumer(l->rk);
    rd_kafka_queue_io_event_enable(l->queue, l->wake[1], "1", 1);
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, w->cfg->kafka.topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(l->rk, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        return sluice_err_set(err, "kafka subscribe %s: %s", w->cfg->kafka.topic, rd_kafka_err2str(e));
    sluice_log_info("deliver.lane", "vendor %s: group %s, %zu integrations", l->ops->name, group, l->nroutes);
    return 0;
}

static void refresh_gauges(void *ud)
{
    worker_t *w = ud;
    w->metrics.in_flight = sluice_http_in_flight(w->http);
    w->metrics.pending_events = 0;
    for (int k = 0; k < SLUICE_VENDOR_COUNT; k++) {
        lane_t *l = w->lanes[k];
        w->metrics.lane_active[k] = l != NULL;
        if (l == NULL)
            continue;
        w->metrics.pending_events += l->live;
        int64_t lag = 0;
        for (part_t *p = l->parts; p != NULL; p = p->next) {
            int64_t lo = 0, hi = -1;
            if (rd_kafka_get_watermark_offsets(l->rk, w->cfg->kafka.topic, p->partition, &lo, &hi) !=
                RD_KAFKA_RESP_ERR_NO_ERROR) {
                lo = 0;
                hi = -1;
            }
            if (l->paused && w->hwm != NULL) {
                /* Not fetched while paused, so the cached watermark stays where the pause left
                 * it and the lag showed flat while the backlog grew: the broker's answer (asked
                 * off the loop at the previous scrape, and again now) when it is newer. */
                sluice_hwm_want(w->hwm, l->rk, k, p->partition);
                int64_t asked = sluice_hwm_get(w->hwm, k, p->partition);
                if (asked > hi)
                    hi = asked;
            }
            if (hi < 0)
                continue;
            int64_t base = sluice_tracker_oldest(&p->tracker);
            if (base < 0)
                base = sluice_tracker_commit_offset(&p->tracker);
            if (base < 0) {
                rd_kafka_topic_partition_list_t *pos = rd_kafka_topic_partition_list_new(1);
                rd_kafka_topic_partition_list_add(pos, w->cfg->kafka.topic, p->partition);
                if (rd_kafka_position(l->rk, pos) == RD_KAFKA_RESP_ERR_NO_ERROR)
                    base = pos->elems[0].offset;
                rd_kafka_topic_partition_list_destroy(pos);
            }
            if (base < lo)
                base = lo;
            if (hi > base)
                lag += hi - base;
        }
        w->metrics.lag[k] = lag;
    }
}

static void on_signal(void *ud, int fd, unsigned events)
{
    (void)events;
    worker_t *w = ud;
    struct signalfd_siginfo si;
    while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo == SIGHUP) {
            /* The gateway's reload signal, sent to every sluice process by a deploy hook or a
             * config reloader: the worker has none, and dying of it lost the drain and commit. */
            sluice_log_warn("deliver.sighup",
                            "SIGHUP: sluice-deliver does not reload its config; restart it to apply a change "
                            "(SIGTERM hands its partitions over)");
            continue;
        }
        if (!w->stopping) {
            sluice_log_info("deliver.stopping", "signal %u: finishing requests on the wire, then committing",
                            si.ssi_signo);
            w->stopping = 1;
            w->stop_deadline = sluice_mono_ms() + DRAIN_TIMEOUT_MS;
            for (int k = 0; k < SLUICE_VENDOR_COUNT; k++) {
                if (w->lanes[k] != NULL) {
                    pause_all(w->lanes[k], 1);
                    stop_ask(w->lanes[k], sluice_mono_ms());
                }
            }
        }
    }
}

sluice_deliver_t *sluice_deliver_create(const sluice_config_t *cfg, const sluice_keyring_t *kr, sluice_vault_t *vault,
                                        int only_vendor, sluice_err_t *err)
{
    worker_t *w = calloc(1, sizeof(*w));
    if (w == NULL) {
        sluice_err_set(err, "out of memory");
        return NULL;
    }
    w->cfg = cfg;
    w->kr = kr;
    w->vault = vault;
    w->sigfd = -1;
    w->dlq_wake[0] = w->dlq_wake[1] = -1;
    w->aside_at = ROUTE_ASIDE_AT;
    /* Test-only (docs/vendors.md): the dev broker keeps 5 MB a partition, too few events to fill
     * ROUTE_ASIDE_AT many times over. Read once, here. */
    const char *aside_env = getenv("SLUICE_DELIVER_ASIDE_AT");
    if (aside_env != NULL && aside_env[0] != '\0') {
        char *end = NULL;
        unsigned long long v = strtoull(aside_env, &end, 10);
        if (*end != '\0' || v < 2 || v > ROUTE_ASIDE_AT) {
            sluice_err_set(err, "SLUICE_DELIVER_ASIDE_AT: '%s' is not a number from 2 to %d (test-only)", aside_env,
                           ROUTE_ASIDE_AT);
            goto fail;
        }
        w->aside_at = (size_t)v;
    }
    if (worker_index_orgs(w) != 0) {
        sluice_err_set(err, "out of memory");
        goto fail;
    }
    if ((w->loop = sluice_loop_create(err)) == NULL ||
        (w->http = sluice_http_create(w->loop, cfg->delivery.ca_file, err)) == NULL)
        goto fail;
    if ((w->creds = sluice_credcache_create(cfg->delivery.credentials_ttl_s)) == NULL) {
        sluice_err_set(err, "out of memory");
        goto fail;
    }
    if ((w->suppress = sluice_suppress_create(cfg, err)) == NULL ||
        (vault != NULL && (w->vaultq = sluice_vaultq_create(vault, err)) == NULL))
        goto fail;

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP); /* logged, not a stop (on_signal) */
    w->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (w->sigfd < 0 || sluice_loop_watch(w->loop, w->sigfd, SLUICE_LOOP_IN, on_signal, w, err) != 0) {
        if (w->sigfd < 0)
            sluice_err_set(err, "signalfd: %s", strerror(errno));
        goto fail;
    }

    const char *const dlq_defaults[] = {"linger.ms", "5", NULL};
    rd_kafka_conf_t *conf =
        sluice_dlq_kafka_conf(&cfg->kafka, "sluice-deliver-dlq", RD_KAFKA_PRODUCER, dlq_defaults, err);
    if (conf == NULL)
        goto fail;
    if (sluice_dlq_conf_set(conf, "enable.idempotence", "true", err) || sluice_dlq_conf_set(conf, "acks", "all", err)) {
        rd_kafka_conf_destroy(conf);
        goto fail;
    }
    rd_kafka_conf_set_opaque(conf, w);
    rd_kafka_conf_set_dr_msg_cb(conf, on_dlq_report);
    rd_kafka_conf_set_error_cb(conf, on_dlq_error);
    if ((w->dlq_conf = rd_kafka_conf_dup(conf)) == NULL) {
        rd_kafka_conf_destroy(conf);
        sluice_err_set(err, "out of memory");
        goto fail;
    }
    char errstr[512];
    w->dlq = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (w->dlq == NULL) {
        rd_kafka_conf_destroy(conf);
        sluice_err_set(err, "kafka producer for %s: %s", cfg->kafka.dlq_topic, errstr);
        goto fail;
    }
    if (pipe_watch(w, w->dlq_wake, err) != 0)
        goto fail;
    rd_kafka_queue_t *mq = rd_kafka_queue_get_main(w->dlq);
    rd_kafka_queue_io_event_enable(mq, w->dlq_wake[1], "1", 1);
    rd_kafka_queue_destroy(mq);

    int lanes = 0;
    for (int k = 0; k < SLUICE_VENDOR_COUNT; k++) {
        if (only_vendor >= 0 && k != only_vendor)
            continue;
        int wanted = 0;
        for (size_t o = 0; o < cfg->org_count && !wanted; o++)
            for (size_t i = 0; i < cfg->orgs[o].integration_count && !wanted; i++)
                wanted = cfg->orgs[o].integrations[i].enabled && (int)cfg->orgs[o].integrations[i].vendor == k;
        if (!wanted)
            continue;
        if (lane_create(w, (sluice_vendor_kind_t)k, err) != 0)
            goto fail;
        lanes++;
    }
    if (lanes == 0) {
        sluice_err_set(err, "no enabled integration%s%s in any org: nothing to deliver",
                       only_vendor >= 0 ? " of vendor " : "",
                       only_vendor >= 0 ? sluice_vendor_get(only_vendor)->name : "");
        goto fail;
    }
    if ((w->hwm = sluice_hwm_create(cfg->kafka.topic, err)) == NULL)
        goto fail;
    if (cfg->delivery.metrics.enabled &&
        (w->msrv = sluice_metrics_server_start(w->loop, &cfg->delivery.metrics, &w->metrics, refresh_gauges, w, err)) ==
            NULL)
        goto fail;
    return w;
fail:
    sluice_deliver_destroy(w);
    return NULL;
}

/* ------------------------------------------------------------------ running */

static int drained(worker_t *w)
{
    if (sluice_http_in_flight(w->http) > 0 || w->dlq_in_flight > 0 || w->dlq_retry != NULL)
        return 0;
    for (int k = 0; k < SLUICE_VENDOR_COUNT; k++) {
        lane_t *l = w->lanes[k];
        for (size_t i = 0; l != NULL && i < l->nroutes; i++) {
            if (l->routes[i].queue_head != NULL || l->routes[i].age_head != NULL)
                return 0;
        }
    }
    return 1;
}

/* Leaves every lane's group, all at once, waiting at most STOP_CLOSE_WAIT_MS. rd_kafka_consumer_close
 * waits for the coordinator (up to twice session.timeout.ms with Kafka unreachable); a consumer
 * not closed by then is left to the process's exit (sluice_deliver_destroy): the group gives its
 * partitions to the next member after session.timeout.ms, as after a crash. */
static void stop_close(worker_t *w)
{
    int64_t until = sluice_mono_ms() + STOP_CLOSE_WAIT_MS;
    for (int k = 0; k < SLUICE_VENDOR_COUNT; k++) {
        lane_t *l = w->lanes[k];
        if (l == NULL || (l->closeq = rd_kafka_queue_new(l->rk)) == NULL)
            continue;
        rd_kafka_error_t *e = rd_kafka_consumer_close_queue(l->rk, l->closeq);
        if (e != NULL) {
            sluice_log_warn("kafka.close_failed", "%s: %s", l->ops->name, rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
        }
    }
    for (;;) {
        int open = 0;
        for (int k = 0; k < SLUICE_VENDOR_COUNT; k++) {
            lane_t *l = w->lanes[k];
            if (l == NULL || l->closeq == NULL || rd_kafka_consumer_closed(l->rk))
                continue;
            open++;
            rd_kafka_queue_poll_callback(l->closeq, 10); /* the revocation: on_rebalance */
        }
        if (open == 0)
            return;
        if (sluice_mono_ms() >= until)
            break;
    }
    for (int k = 0; k < SLUICE_VENDOR_COUNT; k++) {
        lane_t *l = w->lanes[k];
        if (l != NULL && l->closeq != NULL && !rd_kafka_consumer_closed(l->rk))
            sluice_log_warn("kafka.close_timeout",
                            "%s: the group was not left within %d ms (no coordinator): the partitions go to the "
                            "next member after session.timeout.ms",
                            l->ops->name, STOP_CLOSE_WAIT_MS);
    }
}

int sluice_deliver_run(sluice_deliver_t *w, sluice_err_t *err)
{
    sluice_log_info("deliver.started", "consuming %s, dead letters to %s", w->cfg->kafka.topic,
                    w->cfg->kafka.dlq_topic);
    for (;;) {
        int64_t now = sluice_mono_ms();
        int more = 0;
        for (int k = 0; k < SLUICE_VENDOR_COUNT; k++) {
            if (w->lanes[k] != NULL)
                more |= lane_poll(w->lanes[k], now);
        }
        rd_kafka_poll(w->dlq, 0);
        if (w->dlq_fatal)
            dlq_replace(w); /* not from inside rd_kafka_poll's callbacks */
        dlq_retry_due(w, w->stopping ? INT64_MAX : now);
        sluice_credcache_sweep(w->creds, now);
        if (sluice_http_timeout_ms(w->http) == 0)
            sluice_http_run_timers(w->http);

        int64_t next = now + MAX_WAIT_MS;
        /* Pumped in turn, from the route after the last one that took a place. Always from the
         * first, a place coming free went to the first route with none on the wire: a route
         * whose request had just finished took it again (its share allows one), so with
         * max_in_flight 1, or more hung routes than places, one org's hung webhook with a backlog
         * took every freed place before the routes after it, and their events waited for its
         * whole backlog (every timeout of every retry). */
        size_t from = w->routes > 0 ? w->pump_from % w->routes : 0;
        for (int pass = 0; pass < 2; pass++) {
            size_t idx = 0;
            for (int k = 0; k < SLUICE_VENDOR_COUNT; k++) {
                lane_t *l = w->lanes[k];
                for (size_t i = 0; l != NULL && i < l->nroutes; i++, idx++) {
                    if ((pass == 0) != (idx >= from))
                        continue;
                    route_t *r = &l->routes[i];
                    size_t sending = r->sending;
                    int64_t t = route_pump(w, r, now);
                    if (r->sending > sending)
                        w->pump_from = idx + 1;
                    if (t < next)
                        next = t;
                }
            }
        }
        if (w->dlq_retry != NULL && w->dlq_retry_due < next)
            next = w->dlq_retry_due;
        if (w->stopping && (drained(w) || now >= w->stop_deadline))
            break;
        long wait = (long)(next - sluice_mono_ms());
        long ct = sluice_http_timeout_ms(w->http);
        if (ct >= 0 && ct < wait)
            wait = ct;
        if (wait < 0 || more)
            wait = 0;
        if (sluice_loop_run_once(w->loop, (int)wait, err) < 0)
            return -1;
    }

    /* Stop: commit what is finished, leave the groups, flush the dead letters. */
    int uncommitted = 0;
    size_t handed_back = 0;
    for (int k = 0; k < SLUICE_VENDOR_COUNT; k++) {
        if (w->lanes[k] != NULL) {
            w->lanes[k]->stop_state = STOP_RUNNING; /* the drain is over: nothing is left to hand back */
            handed_back += w->lanes[k]->handed_back;
        }
    }
    int64_t until = sluice_mono_ms() + STOP_COMMIT_WAIT_MS;
    for (int k = 0; k < SLUICE_VENDOR_COUNT; k++) {
        lane_t *l = w->lanes[k];
        if (l == NULL)
            continue;
        /* Every partition's offset, also one a periodic commit sent: that commit's failure comes
         * to on_commit only when the queue is served, and the stop took it for committed and said
         * "offsets committed" while Kafka was away. Committing an offset again changes nothing. */
        for (part_t *p = l->parts; p != NULL; p = p->next)
            p->committed = -1;
        int64_t left = until - sluice_mono_ms();
        uncommitted += commit_parts(l, NULL, left > 1 ? (int)left : 1);
        l->stop_committed = 1;
    }
    stop_close(w);
    for (int k = 0; k < SLUICE_VENDOR_COUNT; k++)
        uncommitted += w->lanes[k] != NULL ? w->lanes[k]->lost : 0;
    rd_kafka_flush(w->dlq, DLQ_FLUSH_MS);
    rd_kafka_poll(w->dlq, 0);
    if (uncommitted > 0)
        /* It used to say "offsets committed" here too: the operator learns the next worker
         * delivers these again (at least once), not that nothing is repeated. */
        sluice_log_warn(
            "deliver.stopped",
            "offsets not committed for %d partition%s (kafka.commit_failed or kafka.assignment_lost above): what was "
            "delivered since the last commit is delivered again by the next worker; %zu deliveries were handed back "
            "unsent (deliver.stop_hand_back); %zu requests were still on the wire",
            uncommitted, uncommitted == 1 ? "" : "s", handed_back, sluice_http_in_flight(w->http));
    else
        sluice_log_info("deliver.stopped", "offsets committed; %zu requests were still on the wire",
                        sluice_http_in_flight(w->http));
    return 0;
}

/* ------------------------------------------------------------------ teardown */

static void free_list(batch_t *b)
{
    for (batch_t *nb; b != NULL; b = nb) {
        nb = b->next;
        batch_hand_back(b);
    }
}

int sluice_deliver_destroy(sluice_deliver_t *w)
{
    int vault_abandoned = 0;
    if (w == NULL)
        return 0;
    sluice_metrics_server_stop(w->msrv);
    sluice_hwm_destroy(w->hwm); /* before the consumers it asks through */
    /* Requests still on the wire are aborted without callbacks; then every batch is freed. */
    sluice_http_destroy(w->http);
    for (int k = 0; k < SLUICE_VENDOR_COUNT; k++) {
        lane_t *l = w->lanes[k];
        for (size_t i = 0; l != NULL && i < l->nroutes; i++) {
            free_list(l->routes[i].age_head);
            free_list(l->routes[i].queue_head);
            free_list(l->routes[i].send_head);
            token_drop(&l->routes[i]);
        }
    }
    if (w->dlq != NULL)
        rd_kafka_destroy(w->dlq);
    if (w->dlq_conf != NULL)
        rd_kafka_conf_destroy(w->dlq_conf);
    while (w->dlq_flight != NULL) {
        item_t *it = w->dlq_flight;
        dlq_list_del(&w->dlq_flight, it);
        item_abandon(it);
    }
    while (w->dlq_retry != NULL) {
        item_t *it = w->dlq_retry;
        dlq_list_del(&w->dlq_retry, it);
        item_abandon(it);
    }
    for (int k = 0; k < SLUICE_VENDOR_COUNT; k++) {
        lane_t *l = w->lanes[k];
        if (l == NULL)
            continue;
        if (l->queue != NULL) {
            rd_kafka_queue_io_event_enable(l->queue, -1, NULL, 0); /* its wake pipe is closed below */
            rd_kafka_queue_destroy(l->queue);
        }
        if (l->closeq != NULL)
            rd_kafka_queue_destroy(l->closeq);
        if (l->stop_q != NULL)
            rd_kafka_queue_destroy(l->stop_q);
        /* A consumer that did not leave its group at the stop (stop_close: no coordinator) is left
         * to the process's exit: rd_kafka_destroy, with or without closing, waited for librdkafka
         * to give up on the coordinator, session.timeout.ms after the close began (44 s from
         * SIGTERM to exit with a 30 s session), past the pods' grace period. Its threads call
         * nothing of the worker's but the log. */
        if (l->rk != NULL && (l->closeq == NULL || rd_kafka_consumer_closed(l->rk)))
            rd_kafka_destroy(l->rk);
        for (int i = 0; i < 2; i++) {
            if (l->wake[i] >= 0)
                close(l->wake[i]);
        }
        while (l->parts != NULL) {
            part_t *p = l->parts;
            l->parts = p->next;
            part_free(p);
        }
        while (l->zombies != NULL) {
            part_t *p = l->zombies;
            l->zombies = p->next;
            part_free(p);
        }
        free(l->routes);
        free(l->org_first);
        free(l->org_nroutes);
        free(l);
    }
    for (int i = 0; i < 2; i++) {
        if (w->dlq_wake[i] >= 0)
            close(w->dlq_wake[i]);
    }
    if (w->sigfd >= 0)
        close(w->sigfd);
    if (sluice_vaultq_destroy(w->vaultq, VAULT_STOP_WAIT_MS) != 0)
        vault_abandoned = 1; /* its thread still holds the vault: main must not close it */
    sluice_credcache_destroy(w->creds);
    sluice_suppress_destroy(w->suppress);
    sluice_loop_destroy(w->loop);
    free(w->org_slots);
    free(w);
    return vault_abandoned ? -1 : 0;
}
