/*
 * Per-thread Kafka producer wired into the thread's h2o loop: librdkafka writes a byte into a
 * pipe when its main queue becomes non-empty, the loop reads the pipe and serves the queue,
 * so delivery reports, statistics and errors are all handled on the loop thread.
 * librdkafka's own log lines come from its internal threads and go to our JSON logger.
 *
 * A fatal error (the idempotent producer's sequence out of step with a broker's: a leader that
 * lost what it had acknowledged) makes librdkafka refuse every later message for good. The
 * producer is then replaced by a new one made from the same settings, on the loop, once the old
 * one's messages have been reported as failed (their requests are answered 503).
 *
 * Every org of the gateway shares the thread's local queue (queue.buffering.max.messages and
 * .max.kbytes). Each org's part of it is counted here, so that one org cannot fill it for the
 * others (sluice_producer_send says the rule).
 */
#include "gateway/producer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "common/log.h"
#include "common/time.h"

#define POLL_INTERVAL_MS 100
#define ORG_USE_MIN      16   /* slots of the per-org table at first (a power of two) */
#define START_GRACE_MS   5000 /* no broker up this long after start: down, not starting */

/* One org's messages and payload bytes in the local queue, produced and not yet reported. */
typedef struct org_use {
    char *org; /* NULL: a free slot */
    size_t len;
    size_t msgs, bytes;
} org_use_t;

struct sluice_producer {
    rd_kafka_t *rk;
    h2o_loop_t *loop;
    h2o_socket_t *wake;
    int wake_wfd;
    h2o_timeout_t poll_timeout;
    h2o_timeout_entry_t poll_entry;
    sluice_producer_dr_cb cb;
    rd_kafka_topic_t *topic; /* held: keeps the topic's metadata fetched; the events topic's handle */
    atomic_int state;        /* SLUICE_PRODUCER_STARTING, _UP or _DOWN */
    atomic_int queued;       /* messages produced and not yet reported (read by other threads) */
    int64_t created_ms;
    int closing;
    int closed;              /* sluice_producer_close ran: rk is gone, only the counters are left */
    int fatal;               /* rk hit a fatal error: replace it (loop thread) */
    int64_t fatal_warned_ms; /* when a failed replacement was last logged */
    rd_kafka_conf_t *conf;   /* a copy of rk's settings, to make a replacement from */
    char *topic_name;
    /* The local queue's limits as librdkafka applies them, and what every org holds of it (loop
     * thread only): an open-addressing table by org id, slots never freed (one per org the
     * thread ever produced for: a reload that renames orgs adds a few). */
    size_t max_msgs, max_bytes, total_msgs, total_bytes;
    org_use_t *uses;
    size_t uses_cap, uses_count;
};

static uint64_t org_hash(const char *org, size_t len)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)org[i]) * 1099511628211ULL;
    return h;
}

/* The slot of org (len bytes, not NUL-terminated) in a table of cap slots: its own or the free
 * one where it would go. */
static org_use_t *org_slot(org_use_t *uses, size_t cap, const char *org, size_t len)
{
    for (size_t i = (size_t)org_hash(org, len) & (cap - 1);; i = (i + 1) & (cap - 1)) {
        org_use_t *u = &uses[i];
        if (u->org == NULL || (u->len == len && memcmp(u->org, org, len) == 0))
            return u;
    }
}

/* org's counters, made when add is set and it has none; NULL when it has none (or out of
 * memory: that org's messages are then not held to a share, as before). */
static org_use_t *org_use(sluice_producer_t *p, const char *org, size_t len, int add)
{
    if (p->uses_cap > 0) {
        org_use_t *u = org_slot(p->uses, p->uses_cap, org, len);
        if (u->org != NULL || !add)
            return u->org != NULL ? u : NULL;
    }
    if (!add)
        return NULL;
    if ((p->uses_count + 1) * 2 > p->uses_cap) { /* kept at most half full */
        size_t cap = p->uses_cap ? p->uses_cap * 2 : ORG_USE_MIN;
        org_use_t *uses = calloc(cap, sizeof(*uses));
        if (uses == NULL)
            return NULL;
        for (size_t i = 0; i < p->uses_cap; i++)
            if (p->uses[i].org != NULL)
                *org_slot(uses, cap, p->uses[i].org, p->uses[i].len) = p->uses[i];
        free(p->uses);
        p->uses = uses;
        p->uses_cap = cap;
    }
    org_use_t *u = org_slot(p->uses, p->uses_cap, org, len);
    u->org = malloc(len + 1);
    if (u->org == NULL)
        return NULL;
    memcpy(u->org, org, len);
    u->org[len] = '\0';
    u->len = len;
    p->uses_count++;
    return u;
}

/* A message of org, len payload bytes, left the local queue (reported, acknowledged or not). */
static void org_release(sluice_producer_t *p, const rd_kafka_message_t *m)
{
    rd_kafka_headers_t *hdrs = NULL;
    const void *org = NULL;
    size_t olen = 0;
    if (rd_kafka_message_headers(m, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        rd_kafka_header_get_last(hdrs, "org", &org, &olen) != RD_KAFKA_RESP_ERR_NO_ERROR || org == NULL)
        return;
    org_use_t *u = org_use(p, org, olen, 0);
    if (u == NULL || u->msgs == 0)
        return; /* not counted when it was sent (out of memory) */
    u->msgs--;
    u->bytes -= m->len <= u->bytes ? m->len : u->bytes;
    p->total_msgs--;
    p->total_bytes -= m->len <= p->total_bytes ? m->len : p->total_bytes;
}

/* Every change of what the producer knows about the cluster is logged once, whichever callback
 * learned it first (a delivery, an error or the statistics). Loop thread. */
static void set_state(sluice_producer_t *p, int state, const char *why)
{
    int was = atomic_exchange(&p->state, state);
    if (was == state)
        return;
    if (state == SLUICE_PRODUCER_UP)
        sluice_log_info("kafka.up",
                        was == SLUICE_PRODUCER_DOWN ? "a broker is reachable again (%s)" : "a broker is reachable (%s)",
                        why);
    else if (state == SLUICE_PRODUCER_DOWN)
        sluice_log_warn("kafka.down", "no broker is reachable (%s): requests get 503 at once until one is", why);
}

static void on_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    sluice_producer_t *p = opaque;
    atomic_fetch_sub(&p->queued, 1);
    org_release(p, m);
    p->cb(m->_private, (int)m->err);
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR && rk == p->rk && !p->fatal)
        set_state(p, SLUICE_PRODUCER_UP, "a delivery was acknowledged");
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    sluice_producer_t *p = opaque;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char why[512];
        rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, why, sizeof(why));
        if (rk == p->rk && !p->fatal) {
            p->fatal = 1;
            /* Not "down": requests get 503 at once until the replacement is made (next loop turn). */
            atomic_store(&p->state, SLUICE_PRODUCER_DOWN);
            sluice_log_error("kafka.fatal",
                             "the producer hit a fatal error (%s: %s); its unacknowledged events are answered 503 "
                             "and a new producer replaces it",
                             rd_kafka_err2name(orig), why);
        }
        return;
    }
    if (rk != p->rk)
        return; /* the replaced producer, going away */
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
        set_state(p, SLUICE_PRODUCER_DOWN, reason);
        return;
    }
    sluice_log_warn("kafka.error", "%s: %s", rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

/* ------------------------------------------------------------------ statistics
 *
 * librdkafka's statistics (once a second per thread) are a JSON document of tens of KB: every
 * broker's and partition's counters and latency windows. Of it only each broker's `nodeid` and
 * `state` are read, so the document is scanned in place instead of being parsed into a tree:
 * json_loadb of all of it cost 1.4M instructions a second per thread (docs/performance.md). The
 * text comes from librdkafka, not from a client; a document the scan cannot follow counts as no
 * broker up, as a failed parse did. */

static const char *stats_ws(const char *s, const char *e)
{
    while (s < e && (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r'))
        s++;
    return s;
}

/* s at a string's opening quote: past its closing one, or NULL. */
static const char *stats_string(const char *s, const char *e)
{
    for (s++; s < e; s++) {
        if (*s == '\\')
            s++;
        else if (*s == '"')
            return s + 1;
    }
    return NULL;
}

/* s at a value: past it, or NULL. */
static const char *stats_skip(const char *s, const char *e)
{
    if (s < e && *s == '"')
        return stats_string(s, e);
    if (s < e && *s != '{' && *s != '[') {
        while (s < e && *s != ',' && *s != '}' && *s != ']' && *s != ' ' && *s != '\n' && *s != '\t' && *s != '\r')
            s++;
        return s;
    }
    unsigned depth = 0;
    while (s < e) {
        if (*s == '"') {
            if ((s = stats_string(s, e)) == NULL)
                return NULL;
            continue;
        }
        if (*s == '{' || *s == '[')
            depth++;
        else if ((*s == '}' || *s == ']') && --depth == 0)
            return s + 1;
        s++;
    }
    return NULL;
}

/* *sp inside an object (just past its '{' or past a member's value): 1 with the next member's
 * key (as written, without its quotes) and *sp at its value; 0 past the object's end; -1 when
 * the text is not an object. */
static int stats_member(const char **sp, const char *e, const char **key, size_t *key_len)
{
    const char *s = stats_ws(*sp, e);
    if (s < e && *s == ',')
        s = stats_ws(s + 1, e);
    if (s < e && *s == '}') {
        *sp = s + 1;
        return 0;
    }
    const char *end = s < e && *s == '"' ? stats_string(s, e) : NULL;
    if (end == NULL)
        return -1;
    *key = s + 1;
    *key_len = (size_t)(end - s) - 2;
    s = stats_ws(end, e);
    if (s >= e || *s != ':')
        return -1;
    *sp = stats_ws(s + 1, e);
    return 1;
}

#define STATS_KEY(k, n, lit) ((n) == sizeof(lit) - 1 && memcmp((k), (lit), sizeof(lit) - 1) == 0)

/* One broker's object (*sp at its '{'): 1 when it is a real broker (nodeid >= 0; a bootstrap
 * placeholder has -1) whose state is "UP", 0 when not, -1 when the text is not an object. As the
 * tree did: a nodeid absent or not an integer counts as 0, as json_integer_value gave. */
static int stats_broker_up(const char **sp, const char *e)
{
    const char *s = *sp + 1, *key;
    size_t klen;
    long long nodeid = 0;
    int up_state = 0, rc;
    while ((rc = stats_member(&s, e, &key, &klen)) == 1) {
        if (STATS_KEY(key, klen, "nodeid")) {
            const char *v = s;
            int neg = v < e && *v == '-';
            long long n = 0;
            for (v += neg; v < e && *v >= '0' && *v <= '9'; v++)
                n = n * 10 + (*v - '0');
            nodeid = v < e && (*v == '.' || *v == 'e' || *v == 'E' || v == s + neg) ? 0 : neg ? -n : n;
        } else if (STATS_KEY(key, klen, "state")) {
            up_state = e - s >= 4 && memcmp(s, "\"UP\"", 4) == 0;
        }
        if ((s = stats_skip(s, e)) == NULL)
            return -1;
    }
    *sp = s;
    return rc < 0 ? -1 : nodeid >= 0 && up_state;
}

int sluice_producer_stats_up(const char *json, size_t len)
{
    const char *e = json + len, *s = stats_ws(json, e), *key;
    size_t klen;
    int rc;
    if (s >= e || *s != '{')
        return 0;
    s++;
    while ((rc = stats_member(&s, e, &key, &klen)) == 1) {
        if (STATS_KEY(key, klen, "brokers") && s < e && *s == '{') {
            /* librdkafka writes `brokers` once: the rest of the document is not read. */
            int up = 0;
            s++;
            while ((rc = stats_member(&s, e, &key, &klen)) == 1) {
                int b = s < e && *s == '{' ? stats_broker_up(&s, e) : (s = stats_skip(s, e)) != NULL ? 0 : -1;
                if (b < 0)
                    return 0;
                up |= b;
            }
            return rc == 0 ? up : 0;
        }
        if ((s = stats_skip(s, e)) == NULL)
            return 0;
    }
    return 0;
}

/* Statistics tell whether any real broker (not a bootstrap placeholder) is up. Until the first
 * broker was ever up, "none up" is only "not yet" for a grace period after start. */
static int on_stats(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
    sluice_producer_t *p = opaque;
    if (rk != p->rk || p->fatal)
        return 0; /* the brokers may be up, but this producer takes nothing more */
    if (sluice_producer_stats_up(json, len))
        set_state(p, SLUICE_PRODUCER_UP, "statistics");
    else if (atomic_load(&p->state) == SLUICE_PRODUCER_UP || sluice_mono_ms() - p->created_ms >= START_GRACE_MS)
        set_state(p, SLUICE_PRODUCER_DOWN, "statistics: no broker connection is up");
    return 0; /* we did not keep json */
}

static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    sluice_log_level_t l = level <= 3 ? SLUICE_LOG_ERROR : level <= 4 ? SLUICE_LOG_WARN : SLUICE_LOG_DEBUG;
    sluice_log(l, "kafka.log", "%s: %s", fac, buf);
}

/* A new client from the saved settings, its main queue signalling the loop's pipe. */
static rd_kafka_t *new_client(sluice_producer_t *p, rd_kafka_topic_t **topic, char *errstr, size_t errlen)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_dup(p->conf);
    if (conf == NULL) {
        snprintf(errstr, errlen, "out of memory");
        return NULL;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, errlen);
    if (rk == NULL) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    /* A topic handle held from the start makes librdkafka fetch the topic's metadata as soon as a
     * broker answers, so the first event of each thread does not wait for it (it took 0.5-1 s). */
    *topic = rd_kafka_topic_new(rk, p->topic_name, NULL);
    rd_kafka_queue_t *q = rd_kafka_queue_get_main(rk);
    rd_kafka_queue_io_event_enable(q, p->wake_wfd, "1", 1);
    rd_kafka_queue_destroy(q);
    return rk;
}

/* Replaces a producer that hit a fatal error. Its messages are purged and their reports served
 * here, on the loop (each request still waiting is answered 503); the old client is destroyed
 * only once nothing of it is left to report, which takes well under a millisecond (measured with
 * librdkafka 2.0.2: purge 0.1 ms, new 0.5 ms, destroy 0.5 ms). Otherwise the next turn tries again. */
static void replace_fatal(sluice_producer_t *p)
{
    rd_kafka_t *old = p->rk;
    rd_kafka_purge(old, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_poll(old, 0);
    if (rd_kafka_outq_len(old) > 0)
        return;
    char errstr[256];
    rd_kafka_topic_t *topic = NULL;
    rd_kafka_t *rk = new_client(p, &topic, errstr, sizeof(errstr));
    if (rk == NULL) {
        int64_t now = sluice_mono_ms();
        if (now - p->fatal_warned_ms >= 60000) {
            p->fatal_warned_ms = now;
            sluice_log_error("kafka.fatal", "cannot make a new producer (%s); retrying", errstr);
        }
        return;
    }
    rd_kafka_queue_t *q = rd_kafka_queue_get_main(old);
    rd_kafka_queue_io_event_enable(q, -1, NULL, 0);
    rd_kafka_queue_destroy(q);
    if (p->topic != NULL)
        rd_kafka_topic_destroy(p->topic);
    rd_kafka_destroy(old);
    p->rk = rk;
    p->topic = topic;
    p->fatal = 0;
    p->created_ms = sluice_mono_ms();
    atomic_store(&p->state, SLUICE_PRODUCER_STARTING); /* statistics or a delivery say UP again */
    sluice_log_info("kafka.replaced", "a new producer replaced the one that hit a fatal error");
}

static void on_wake(h2o_socket_t *sock, const char *err)
{
    sluice_producer_t *p = sock->data;
    if (err != NULL)
        return;
    char buf[256];
    while (read(h2o_socket_get_fd(sock), buf, sizeof(buf)) > 0)
        ;
    rd_kafka_poll(p->rk, 0);
    if (p->fatal && !p->closing)
        replace_fatal(p); /* not from inside rd_kafka_poll's callbacks */
}

static void on_poll_timer(h2o_timeout_entry_t *entry)
{
    sluice_producer_t *p = H2O_STRUCT_FROM_MEMBER(sluice_producer_t, poll_entry, entry);
    rd_kafka_poll(p->rk, 0);
    if (p->fatal && !p->closing)
        replace_fatal(p);
    if (!p->closing)
        h2o_timeout_link(p->loop, &p->poll_timeout, &p->poll_entry);
}

static int set(rd_kafka_conf_t *conf, const char *k, const char *v, sluice_err_t *err)
{
    char errstr[256];
    if (rd_kafka_conf_set(conf, k, v, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
        return sluice_err_set(err, "kafka property %s: %s", k, errstr);
    return 0;
}

static int set_secret(void *conf, const char *k, const char *v, sluice_err_t *err)
{
    return set(conf, k, v, err);
}

sluice_producer_t *sluice_producer_create(const sluice_kafka_config_t *kc, h2o_loop_t *loop, sluice_producer_dr_cb cb,
                                          sluice_err_t *err)
{
    sluice_producer_t *p = calloc(1, sizeof(*p));
    if (p == NULL) {
        sluice_err_set(err, "out of memory");
        return NULL;
    }
    p->loop = loop;
    p->cb = cb;
    p->created_ms = sluice_mono_ms();
    p->wake_wfd = -1;

    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char qmax[32], timeout[32];
    snprintf(qmax, sizeof(qmax), "%u", kc->queue_max_messages);
    /* A message keeps trying well past the request's ack timeout: a 503'd request may still be
     * delivered later (the client's retry then makes a duplicate, which at-least-once allows). */
    snprintf(timeout, sizeof(timeout), "%u", kc->ack_timeout_ms * 12 > 60000 ? kc->ack_timeout_ms * 12 : 60000);
    /* linger.ms 0.5: every client waits for the ack, so the linger is paid on each request.
     * Against 2 ms, single events at 64 connections went from 16.5k to 24k/s (p99 5.8 -> 4.7 ms);
     * batches of 20, CPU-bound, lost about 10 % to the extra produce requests (an org whose
     * traffic is mostly server-side batches may set 2 in kafka.properties). 0 sends a request to
     * the broker per message and halved both (docs/performance.md). */
    if (set(conf, "bootstrap.servers", kc->brokers, err) || set(conf, "enable.idempotence", "true", err) ||
        set(conf, "acks", "all", err) || set(conf, "linger.ms", "0.5", err) ||
        set(conf, "compression.codec", "lz4", err) || set(conf, "queue.buffering.max.messages", qmax, err) ||
        set(conf, "message.timeout.ms", timeout, err) || set(conf, "statistics.interval.ms", "1000", err) ||
        set(conf, "client.id", "sluice-gateway", err) ||
        /* While no broker is reachable requests get 503 at once; the default backoff (up to 10 s)
         * would keep that going long after a broker is back. */
        set(conf, "reconnect.backoff.max.ms", "1000", err))
        goto fail_conf;
    for (size_t i = 0; i < kc->property_count; i++)
        if (set(conf, kc->properties[i].key, kc->properties[i].value, err))
            goto fail_conf;
    if (sluice_config_kafka_secrets(kc, set_secret, conf, err) != 0) /* SASL password etc. (config/kafka_auth.c) */
        goto fail_conf;
    /* The limits librdkafka will apply, after kafka.properties (queue.buffering.max.kbytes may be
     * set there): an org's share is taken of these. */
    char v[64];
    size_t vlen = sizeof(v);
    p->max_msgs = kc->queue_max_messages;
    if (rd_kafka_conf_get(conf, "queue.buffering.max.messages", v, &vlen) == RD_KAFKA_CONF_OK)
        p->max_msgs = strtoull(v, NULL, 10);
    /* 0 is librdkafka's "no limit on the count" (only the bytes bound the queue): a share of 0
     * messages refused every org's second event on an idle gateway. */
    if (p->max_msgs == 0)
        p->max_msgs = SIZE_MAX;
    vlen = sizeof(v);
    p->max_bytes = (size_t)1048576 * 1024;
    if (rd_kafka_conf_get(conf, "queue.buffering.max.kbytes", v, &vlen) == RD_KAFKA_CONF_OK)
        p->max_bytes = strtoull(v, NULL, 10) * 1024;
    rd_kafka_conf_set_opaque(conf, p);
    rd_kafka_conf_set_dr_msg_cb(conf, on_dr);
    rd_kafka_conf_set_error_cb(conf, on_error);
    rd_kafka_conf_set_stats_cb(conf, on_stats);
    rd_kafka_conf_set_log_cb(conf, on_log);
    p->conf = conf; /* every client, the first and a replacement, is made from a copy */
    p->topic_name = strdup(kc->topic);

    int fds[2];
    if (p->topic_name == NULL || pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) {
        sluice_err_set(err, "pipe: %s", p->topic_name == NULL ? "out of memory" : strerror(errno));
        goto fail_conf;
    }
    p->wake_wfd = fds[1];
    char errstr[256];
    p->rk = new_client(p, &p->topic, errstr, sizeof(errstr));
    if (p->rk == NULL) {
        sluice_err_set(err, "kafka producer: %s", errstr);
        close(fds[0]);
        close(fds[1]);
        goto fail_conf;
    }
    p->wake = h2o_evloop_socket_create(loop, fds[0], H2O_SOCKET_FLAG_DONT_READ);
    p->wake->data = p;
    h2o_socket_read_start(p->wake, on_wake);

    h2o_timeout_init(loop, &p->poll_timeout, POLL_INTERVAL_MS);
    p->poll_entry.cb = on_poll_timer;
    h2o_timeout_link(loop, &p->poll_timeout, &p->poll_entry);
    return p;

fail_conf:
    rd_kafka_conf_destroy(conf);
    free(p->topic_name);
    free(p);
    return NULL;
}

/* An org may take a message while what it holds stays within the room the queue has left for
 * the others: a lone flood gets half the queue, k orgs flooding together a (k+1)th each, and an
 * org holding nothing always finds room while the queue is not full. Without it, one org's public
 * write key filled the queue and every org of the gateway was answered 503 until it drained. */
static int org_over_share(const sluice_producer_t *p, const org_use_t *u, size_t len)
{
    size_t free_msgs = p->max_msgs > p->total_msgs ? p->max_msgs - p->total_msgs : 0;
    size_t free_bytes = p->max_bytes > p->total_bytes ? p->max_bytes - p->total_bytes : 0;
    return u->msgs > 0 && (u->msgs >= free_msgs || u->bytes + len > free_bytes);
}

/* The events topic goes through the handle held since start: by name, librdkafka takes its
 * handle lock for writing and looks the topic up in its list for each message, against its
 * broker threads' reads of it. The invalid topic (rare) still goes by name. */
#define PRODUCE(where)                                                                                                 \
    rd_kafka_producev(p->rk, where, RD_KAFKA_V_KEY(key, key_len), RD_KAFKA_V_VALUE(payload, len),                      \
                      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE), RD_KAFKA_V_HEADER("org", org, -1),                     \
                      RD_KAFKA_V_HEADER("source", source, -1), RD_KAFKA_V_HEADER("type", type, -1),                    \
                      RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END)

int sluice_producer_send(sluice_producer_t *p, const char *topic, const char *key, size_t key_len, char *payload,
                         size_t len, const char *org, const char *source, const char *type, size_t orgs, void *opaque)
{
    if (p->closed)
        return SLUICE_PRODUCER_EOTHER; /* a request read while the worker stops: 503 */
    org_use_t *u = org_use(p, org, strlen(org), 1);
    if (orgs > 1 && u != NULL && org_over_share(p, u, len))
        return SLUICE_PRODUCER_EORGFULL;
    rd_kafka_resp_err_t e = p->topic != NULL && strcmp(topic, p->topic_name) == 0 ? PRODUCE(RD_KAFKA_V_RKT(p->topic))
                                                                                  : PRODUCE(RD_KAFKA_V_TOPIC(topic));
#undef PRODUCE
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
        atomic_fetch_add(&p->queued, 1);
        if (u != NULL) {
            u->msgs++;
            u->bytes += len;
            p->total_msgs++;
            p->total_bytes += len;
        }
        return 0;
    }
    if (e == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE)
        return SLUICE_PRODUCER_ETOOLARGE;
    return e == RD_KAFKA_RESP_ERR__QUEUE_FULL ? SLUICE_PRODUCER_EFULL : SLUICE_PRODUCER_EOTHER;
}

int sluice_producer_ready(const sluice_producer_t *p)
{
    return atomic_load(&((sluice_producer_t *)p)->state) == SLUICE_PRODUCER_UP;
}

int sluice_producer_state(const sluice_producer_t *p)
{
    return atomic_load(&((sluice_producer_t *)p)->state);
}

int sluice_producer_queue_len(const sluice_producer_t *p)
{
    /* Not rd_kafka_outq_len: other threads call this, and rk may be replaced meanwhile. */
    return atomic_load(&((sluice_producer_t *)p)->queued);
}

void sluice_producer_poll(sluice_producer_t *p)
{
    if (!p->closed)
        rd_kafka_poll(p->rk, 0);
}

void sluice_producer_close(sluice_producer_t *p, int timeout_ms)
{
    if (p == NULL || p->closed)
        return;
    p->closing = 1;
    /* flush serves the main queue itself, so delivery callbacks still fire on this thread. */
    if (rd_kafka_flush(p->rk, timeout_ms) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        /* What Kafka never took (brokers unreachable past the drain): rd_kafka_destroy drops it
         * without a delivery report, and each waiting request's record, with the runtime it holds,
         * was never freed (LeakSanitizer at every such exit). Purged, their reports come here. */
        rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_flush(p->rk, 100);
    }
    h2o_timeout_unlink(&p->poll_entry);
    h2o_timeout_dispose(p->loop, &p->poll_timeout);
    rd_kafka_queue_t *q = rd_kafka_queue_get_main(p->rk);
    rd_kafka_queue_io_event_enable(q, -1, NULL, 0);
    rd_kafka_queue_destroy(q);
    if (p->topic != NULL)
        rd_kafka_topic_destroy(p->topic);
    p->topic = NULL; /* nothing can reach the freed handle (sends stop at p->closed) */
    rd_kafka_destroy(p->rk);
    h2o_socket_read_stop(p->wake);
    h2o_socket_close(p->wake);
    close(p->wake_wfd);
    rd_kafka_conf_destroy(p->conf);
    p->conf = NULL;
    free(p->topic_name);
    p->topic_name = NULL;
    p->rk = NULL;
    p->closed = 1;
    atomic_store(&p->state, SLUICE_PRODUCER_DOWN);
}

void sluice_producer_destroy(sluice_producer_t *p, int timeout_ms)
{
    if (p == NULL)
        return;
    sluice_producer_close(p, timeout_ms);
    for (size_t i = 0; i < p->uses_cap; i++)
        free(p->uses[i].org);
    free(p->uses);
    free(p);
}
