/*
 * Async Redis client for an h2o event loop. hiredis does the protocol; this file supplies
 * the event adapter (h2o tells hiredis when its socket is readable or writable), per-command
 * deadlines, and reconnection. Loop thread only.
 *
 * Why our own deadlines: hiredis 0.14's async API has no command timeout, and a stalled Redis
 * must never hold a request longer than the configured bound. A command that times out has its
 * callback called with TIMEOUT at once; hiredis's own callback for it, when it finally comes,
 * is then ignored. Several timeouts in a row mean the connection is stuck: it is dropped and
 * re-established.
 *
 * What the deadline measures is Redis, not the loop: a loop turn serving 1,024 connections can
 * outlast redis.timeout_ms, and h2o's timers count from the start of the turn that linked them
 * (its clock is read once per turn) and run before the next turn reads the socket. So the
 * commands of one turn are written together at its end (a 0 ms timer: one write for all of them,
 * a turn sooner than waiting for h2o to say the socket is writable), their deadline runs from
 * that write by the monotonic clock, and a deadline that comes reads the socket first: an answer
 * already there is in time. At case f's load, before, most "timeouts" had their answer waiting in
 * the socket (docs/performance.md).
 *
 * The address: redis.url's host is resolved at start (a name that does not resolve stops the
 * gateway with a clear message) and again, off the loop (glibc's getaddrinfo_a), whenever the
 * connection is lost, cannot be made, or lands on a read-only replica: managed Redis
 * (ElastiCache, Memorystore, Azure Cache) and Sentinel-fronted DNS move the name to the new
 * primary on a failover, and an address fixed at start kept every write going to the demoted
 * server (-READONLY) until a restart.
 *
 * The eviction policy: right after the handshake, and every POLICY_EVERY probes, the client asks
 * INFO memory whether the server evicts keys at maxmemory (any maxmemory-policy but noeviction,
 * with a maxmemory set). The keys that make a cross-domain token and a signed request single-use
 * would go under memory pressure, so identity.c refuses both while the answer is yes. Replies
 * come in order: a command sent after the INFO of a new connection is answered after it, so its
 * callback already knows the new server's policy (a failover can land on a primary configured
 * otherwise).
 *
 * Evicted keys: the same round reads INFO stats; evicted_keys moving since the last reading on
 * this connection counts as lost data (below), noticed then.
 *
 * Rolled back: the same round bumps a counter next to the marker; a value not above the last one
 * this client got means Redis went back to an older state that still had the marker.
 *
 * Lost data: with a marker key (sluice_redis_watch_data), the same round writes it once (SET NX,
 * a random value) and reads it back. A value other than the one this client read before means
 * Redis lost its data in between (a restart without persistence, a flush): a reconnect's round
 * runs before any request's command, so no reply on the new connection is read before it.
 *
 * The handshake (AUTH, SELECT) is queued right after connect; the client becomes usable when
 * every handshake reply is OK. A refused AUTH (wrong password, disabled user) is logged once with
 * Redis's reason, never the password, and the connection is retried with the usual backoff.
 */
#include "identity/redis.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/async.h>

#include "common/log.h"
#include "common/time.h"
#include "crypto/ct.h"
#include "crypto/random.h"
#include "identity/redis_sync.h"

#define RECONNECT_MS         500
#define STUCK_AFTER_TIMEOUTS 3
#define RESOLVE_WAIT_MS      2000 /* a lookup slower than this: connect to the last address meanwhile */
#define PROBE_MS             1000 /* a PING this often, so that a stalled Redis shows without traffic */
#define POLICY_EVERY         5    /* INFO memory every this many probes: a CONFIG SET shows within seconds */
#define RECHECK_MS           1    /* a deadline h2o ran early (a long turn wrote the command): looked at again */

struct sluice_redis {
    h2o_loop_t *loop;
    char host[64];
    uint16_t port;
    unsigned db;
    redisAsyncContext *ac;       /* NULL while disconnected */
    redisAsyncContext *attached; /* the context our socket belongs to, until hiredis cleans it up */
    h2o_socket_t *sock;
    int connected;
    int closing;
    unsigned consecutive_timeouts;
    h2o_timeout_t cmd_timeout;
    unsigned timeout_ms;
    /* Commands queued in this loop turn (cmd_t.unsent), written at its end by on_flush; a write the
     * socket cannot take whole waits for h2o to say it is writable (flushing: not the timer again). */
    h2o_linklist_t unsent;
    h2o_timeout_t flush_timeout;
    h2o_timeout_entry_t flush_entry;
    int flushing;
    h2o_timeout_t recheck_timeout;
    h2o_timeout_t reconnect_timeout;
    h2o_timeout_entry_t reconnect_entry;
    int warned;
    char *user, *password; /* AUTH; password wiped on destroy */
    int tcp_up;            /* the connect callback said OK */
    unsigned handshake;    /* handshake replies still to come */
    int auth_warned;
    /* Looking redis.url's host up again (getaddrinfo_a); by_name is 0 for a numeric address. */
    char name[256];
    int by_name;
    int resolving;
    uint64_t resolve_started_ms;
    struct addrinfo hints;
    struct gaicb gai;
    int readonly_warned;
    int cluster_warned;
    /* Up or down, for other threads (sluice_redis_publish_up): the flag outlives this client. */
    _Atomic int *up_flag;
    h2o_timeout_t probe_timeout;
    h2o_timeout_entry_t probe_entry;
    int probing;  /* a PING is waiting for its answer or its deadline */
    int answered; /* this connection has answered a command: a stopped Redis still accepts TCP */
    /* The server's eviction policy (INFO memory): evicting is 1 while it may evict keys. */
    int evicting;
    int policy_asked;  /* an INFO is waiting for its answer */
    int policy_warned; /* INFO refused (an ACL user without +info): said once */
    unsigned probes;   /* PINGs since the last INFO */
    char policy[32];   /* maxmemory-policy as last read, for the log */
    _Atomic int *evict_flag;
    /* Lost data (sluice_redis_watch_data): the marker key, the value this client last read from
     * it, and when (wall clock) a change of that value was noticed. */
    char *marker;
    char epoch[40];
    int64_t lost_at_ms;
    /* <marker>:n, a counter each round bumps (HINCRBY), and the value this client last got: a
     * value not above it means Redis went back in time (an RDB snapshot loaded at a restart, a
     * replica promoted before it had the latest writes) while the marker, older, stayed. */
    char *seq_key;
    long long seq;
    int lost_said; /* this round logged the loss already (the marker changed) */
    /* INFO stats' evicted_keys as last read on this connection (evicted_known 0: not yet): a
     * change means Redis evicted keys in between, maybe those of spent tokens and accepted signed
     * requests. */
    long long evicted_keys;
    int evicted_known;
};

typedef struct cmd {
    sluice_redis_t *r;
    sluice_redis_cb cb;
    void *ud;
    h2o_timeout_entry_t timeout; /* in cmd_timeout from the write, then in recheck_timeout */
    h2o_linklist_t unsent;       /* in r->unsent until written */
    int64_t due_ms;              /* monotonic: written + timeout_ms */
    int done;
    int quiet;    /* the policy and epoch round: its timeouts do not count towards a stuck connection */
    int checking; /* on_cmd_timeout is reading the socket: on_reply leaves c for it to free */
} cmd_t;

/* ------------------------------------------------------------------ adapter */

static void on_readable(h2o_socket_t *sock, const char *err)
{
    (void)err; /* hiredis finds the error itself when it reads */
    sluice_redis_t *r = sock->data;
    if (r->ac != NULL)
        redisAsyncHandleRead(r->ac);
}

static void start_deadlines(sluice_redis_t *r);

/* Writes what hiredis holds (the connect first, while it is in progress); the deadlines of the
 * commands queued so far start now, written whole or not: a Redis that stopped reading must time
 * out too. */
static void write_now(sluice_redis_t *r)
{
    if (r->ac != NULL) {
        r->flushing = 1;
        redisAsyncHandleWrite(r->ac); /* may drop the connection: on_reply takes the commands off unsent */
        r->flushing = 0;
    }
    start_deadlines(r);
}

static void on_writable(h2o_socket_t *sock, const char *err)
{
    (void)err;
    write_now(sock->data);
}

static void on_flush(h2o_timeout_entry_t *entry)
{
    sluice_redis_t *r = H2O_STRUCT_FROM_MEMBER(sluice_redis_t, flush_entry, entry);
    /* Not a connect in progress (hiredis would take it for done): linked only while connected, and
     * a lost connection's commands have had their callbacks. */
    if (r->ac == NULL || (r->ac->c.flags & REDIS_CONNECTED) != 0)
        write_now(r);
}

static void ev_add_read(void *p)
{
    sluice_redis_t *r = p;
    h2o_socket_read_start(r->sock, on_readable);
}

static void ev_del_read(void *p)
{
    sluice_redis_t *r = p;
    h2o_socket_read_stop(r->sock);
}

static void ev_add_write(void *p)
{
    sluice_redis_t *r = p;
    /* A connected socket's commands go out at the end of this turn (on_flush). The connect, and
     * what a write left (the socket was full), wait for h2o to say it is writable. */
    if (!r->flushing && r->attached != NULL && (r->attached->c.flags & REDIS_CONNECTED) != 0) {
        if (!h2o_timeout_is_linked(&r->flush_entry))
            h2o_timeout_link(r->loop, &r->flush_timeout, &r->flush_entry);
        return;
    }
    if (!h2o_socket_is_writing(r->sock))
        h2o_socket_notify_write(r->sock, on_writable);
}

static void ev_cleanup(void *p)
{
    sluice_redis_t *r = p;
    if (r->sock != NULL) {
        /* h2o closes the fd; stop hiredis from closing it a second time. */
        if (r->attached != NULL)
            r->attached->c.fd = -1;
        r->attached = NULL;
        h2o_socket_read_stop(r->sock);
        h2o_socket_close(r->sock);
        r->sock = NULL;
    }
}

static void attach(sluice_redis_t *r)
{
    r->attached = r->ac;
    r->sock = h2o_evloop_socket_create(r->loop, r->ac->c.fd, H2O_SOCKET_FLAG_DONT_READ);
    r->sock->data = r;
    r->ac->ev.addRead = ev_add_read;
    r->ac->ev.delRead = ev_del_read;
    r->ac->ev.addWrite = ev_add_write;
    r->ac->ev.delWrite = NULL; /* h2o's write notification is one-shot */
    r->ac->ev.cleanup = ev_cleanup;
    r->ac->ev.data = r;
}

/* ------------------------------------------------------------------ the address */

static int addr_text(const struct addrinfo *ai, char *out, size_t cap)
{
    const void *addr = ai->ai_family == AF_INET ? (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr
                                                : (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
    return inet_ntop(ai->ai_family, addr, out, (socklen_t)cap) != NULL ? 0 : -1;
}

static void resolve_start(sluice_redis_t *r)
{
    if (!r->by_name || r->resolving || r->closing)
        return;
    memset(&r->gai, 0, sizeof(r->gai));
    r->gai.ar_name = r->name;
    r->gai.ar_request = &r->hints;
    struct gaicb *list[1] = {&r->gai};
    if (getaddrinfo_a(GAI_NOWAIT, list, 1, NULL) == 0) {
        r->resolving = 1;
        r->resolve_started_ms = h2o_now(r->loop);
    }
}

/* 1 while a lookup runs (for at most RESOLVE_WAIT_MS); else takes its answer, if it has one. A
 * lookup that fails keeps the address there was. */
static int resolve_pending(sluice_redis_t *r)
{
    if (!r->resolving)
        return 0;
    int rc = gai_error(&r->gai);
    if (rc == EAI_INPROGRESS)
        return h2o_now(r->loop) - r->resolve_started_ms < RESOLVE_WAIT_MS;
    r->resolving = 0;
    char addr[sizeof(r->host)];
    if (rc == 0 && r->gai.ar_result != NULL && addr_text(r->gai.ar_result, addr, sizeof(addr)) == 0 &&
        strcmp(addr, r->host) != 0) {
        sluice_log_info("redis.moved", "%s resolves to %s now (was %s)", r->name, addr, r->host);
        memcpy(r->host, addr, sizeof(r->host));
    }
    if (r->gai.ar_result != NULL)
        freeaddrinfo(r->gai.ar_result);
    r->gai.ar_result = NULL;
    return 0;
}

/* ------------------------------------------------------------------ connection */

static void connect_now(sluice_redis_t *r);

/* Up: connected (handshake done) and the last command, a PING at least, was answered in time.
 * Only a connection that is lost or stuck drops `connected`; a SIGSTOPped Redis keeps its socket
 * open, so the timeouts are what say it is down. */
static void publish_up(sluice_redis_t *r)
{
    if (r->up_flag != NULL)
        atomic_store_explicit(r->up_flag, !r->closing && r->connected && r->answered && r->consecutive_timeouts == 0,
                              memory_order_release);
}

static void probe(sluice_redis_t *r);
static void on_probe_timer(h2o_timeout_entry_t *entry);
static void ask_policy(sluice_redis_t *r);

static void ready(sluice_redis_t *r)
{
    r->connected = 1;
    r->consecutive_timeouts = 0;
    r->warned = 0;
    r->auth_warned = 0;
    r->readonly_warned = 0;
    sluice_log_info("redis.up", "connected to %s:%u%s", r->host, r->port,
                    r->password != NULL ? " (authenticated)" : "");
    /* Before any request's command on this connection, so that each one's reply comes after the
     * policy of this server is known. */
    r->policy_asked = 0;
    r->evicted_known = 0; /* perhaps another server (a failover): its own count */
    ask_policy(r);
    /* Up once this connection answers: the kernel completes the connect of a SIGSTOPped Redis
     * (without AUTH or SELECT, nothing else has been asked of it yet). */
    probe(r);
}

/* A reply to AUTH or SELECT. An error ends this connection (the reconnect timer tries again). */
static void on_handshake(redisAsyncContext *ac, void *reply, void *privdata)
{
    sluice_redis_t *r = privdata;
    const redisReply *rep = reply;
    if (rep == NULL || r->ac != ac)
        return; /* the connection is going away */
    if (rep->type == REDIS_REPLY_ERROR) {
        if (!r->auth_warned)
            sluice_log_error("redis.auth", "%s:%u refused the connection's set-up (%s): %.*s; retrying every %d ms",
                             r->host, r->port,
                             r->password != NULL && r->db != 0 ? "AUTH, SELECT"
                             : r->password != NULL             ? "AUTH"
                                                               : "SELECT",
                             (int)sluice_redis_sync_reason_len(rep->str, rep->len), rep->str, RECONNECT_MS);
        r->auth_warned = 1;
        redisAsyncDisconnect(ac);
        return;
    }
    if (--r->handshake == 0 && r->tcp_up)
        ready(r);
}

static void schedule_reconnect(sluice_redis_t *r)
{
    resolve_start(r); /* the name may point elsewhere now: asked while the timer runs */
    if (!r->closing && !h2o_timeout_is_linked(&r->reconnect_entry))
        h2o_timeout_link(r->loop, &r->reconnect_timeout, &r->reconnect_entry);
}

static void on_reconnect_timer(h2o_timeout_entry_t *entry)
{
    sluice_redis_t *r = H2O_STRUCT_FROM_MEMBER(sluice_redis_t, reconnect_entry, entry);
    connect_now(r);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    sluice_redis_t *r = ac->data;
    if (status != REDIS_OK) {
        if (!r->warned)
            sluice_log_warn("redis.down", "cannot connect to %s:%u: %s; retrying every %d ms", r->host, r->port,
                            ac->errstr, RECONNECT_MS);
        r->warned = 1;
        r->ac = NULL; /* hiredis frees the context after this callback */
        schedule_reconnect(r);
        return;
    }
    r->tcp_up = 1;
    if (r->handshake == 0)
        ready(r);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    sluice_redis_t *r = ac->data;
    (void)status;
    if (r->connected && !r->closing)
        sluice_log_warn("redis.down", "connection to %s:%u lost; reconnecting", r->host, r->port);
    r->connected = 0;
    r->tcp_up = 0;
    r->ac = NULL;
    publish_up(r);
    schedule_reconnect(r);
}

static void connect_now(sluice_redis_t *r)
{
    if (resolve_pending(r)) {
        schedule_reconnect(r);
        return;
    }
    redisAsyncContext *ac = redisAsyncConnect(r->host, r->port);
    if (ac == NULL) {
        schedule_reconnect(r);
        return;
    }
    if (ac->err) {
        if (!r->warned)
            sluice_log_warn("redis.down", "cannot connect to %s:%u: %s; retrying every %d ms", r->host, r->port,
                            ac->errstr, RECONNECT_MS);
        r->warned = 1;
        redisAsyncFree(ac);
        schedule_reconnect(r);
        return;
    }
    ac->data = r;
    r->ac = ac;
    attach(r);
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    r->tcp_up = 0;
    r->handshake = 0;
    r->answered = 0;
    if (r->password != NULL) {
        /* Redis 6+ AUTH user password; AUTH password alone is the default user. */
        const char *argv[3] = {"AUTH", r->user != NULL ? r->user : r->password, r->password};
        int argc = r->user != NULL ? 3 : 2;
        if (redisAsyncCommandArgv(ac, on_handshake, r, argc, argv, NULL) == REDIS_OK)
            r->handshake++;
    }
    if (r->db != 0) {
        char db[16];
        snprintf(db, sizeof(db), "%u", r->db);
        const char *argv[2] = {"SELECT", db};
        if (redisAsyncCommandArgv(ac, on_handshake, r, 2, argv, NULL) == REDIS_OK)
            r->handshake++;
    }
}

static void free_secrets(sluice_redis_t *r)
{
    free(r->user);
    if (r->password != NULL) {
        sluice_secure_zero(r->password, strlen(r->password));
        free(r->password);
    }
}

sluice_redis_t *sluice_redis_create(h2o_loop_t *loop, const char *host, uint16_t port, unsigned db, unsigned timeout_ms,
                                    const char *user, const char *password)
{
    sluice_redis_t *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    if ((user != NULL && password != NULL && (r->user = strdup(user)) == NULL) ||
        (password != NULL && (r->password = strdup(password)) == NULL)) {
        free_secrets(r);
        free(r);
        return NULL;
    }
    /* Resolved here (once, on the thread that starts the gateway), then again off the loop after
     * a failure: hiredis would call getaddrinfo on every reconnect, blocking the loop. */
    r->hints = (struct addrinfo){.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai;
    if (strlen(host) >= sizeof(r->name) || getaddrinfo(host, NULL, &r->hints, &ai) != 0) {
        free_secrets(r);
        free(r);
        return NULL;
    }
    int ok = addr_text(ai, r->host, sizeof(r->host));
    freeaddrinfo(ai);
    if (ok != 0) {
        free_secrets(r);
        free(r);
        return NULL;
    }
    memcpy(r->name, host, strlen(host) + 1);
    struct in6_addr numeric;
    r->by_name = inet_pton(AF_INET, host, &numeric) != 1 && inet_pton(AF_INET6, host, &numeric) != 1;
    r->loop = loop;
    r->port = port;
    r->db = db;
    h2o_timeout_init(loop, &r->cmd_timeout, timeout_ms);
    r->timeout_ms = timeout_ms;
    h2o_linklist_init_anchor(&r->unsent);
    h2o_timeout_init(loop, &r->flush_timeout, 0);
    r->flush_entry.cb = on_flush;
    h2o_timeout_init(loop, &r->recheck_timeout, RECHECK_MS);
    h2o_timeout_init(loop, &r->reconnect_timeout, RECONNECT_MS);
    r->reconnect_entry.cb = on_reconnect_timer;
    h2o_timeout_init(loop, &r->probe_timeout, PROBE_MS);
    r->probe_entry.cb = on_probe_timer;
    connect_now(r);
    return r;
}

/* ------------------------------------------------------------------ commands */

/* -READONLY: the server is a replica now, a failover demoted it. Its replies are read to the end
 * (hiredis disconnects once none is pending), no new command is sent to it, and the reconnect
 * looks the name up again. */
static void on_readonly(sluice_redis_t *r, redisAsyncContext *ac)
{
    if (r->ac != ac || !r->connected)
        return;
    if (!r->readonly_warned)
        sluice_log_warn("redis.readonly", "%s:%u is a read-only replica (a failover demoted it): reconnecting%s%s%s",
                        r->host, r->port, r->by_name ? " to where " : "", r->by_name ? r->name : "",
                        r->by_name ? " points now"
                                   : "; with a numeric address in redis.url the gateway stays "
                                     "on this server: give the primary's name");
    r->readonly_warned = 1;
    r->connected = 0;
    publish_up(r);
    redisAsyncDisconnect(ac);
}

/* 1 when err (an error reply) is a Redis Cluster node's: a key of another node's slots (MOVED,
 * ASK) or a cluster that cannot serve (CLUSTERDOWN). */
static int cluster_error(const redisReply *rep)
{
    static const char *const prefixes[] = {"MOVED ", "ASK ", "CLUSTERDOWN"};
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        size_t n = strlen(prefixes[i]);
        if ((size_t)rep->len >= n && memcmp(rep->str, prefixes[i], n) == 0)
            return 1;
    }
    return 0;
}

static void on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    cmd_t *c = privdata;
    sluice_redis_t *r = c->r;
    const redisReply *rep = reply;
    int readonly =
        rep != NULL && rep->type == REDIS_REPLY_ERROR && rep->len >= 8 && memcmp(rep->str, "READONLY", 8) == 0;
    /* A managed Redis in cluster mode (ElastiCache "cluster mode enabled", a Redis Cluster) serves
     * only its own slots: about two thirds of dedup, token and link commands fail, the rest work,
     * and "Redis refused a command: MOVED 12182 ..." alone does not say what to change. */
    if (rep != NULL && rep->type == REDIS_REPLY_ERROR && !r->cluster_warned && cluster_error(rep)) {
        r->cluster_warned = 1;
        sluice_log_error("redis.cluster",
                         "%s:%u is a node of a Redis Cluster (cluster mode enabled): it answers only for the keys "
                         "of its own slots, so dedup, cross-domain tokens and identity links fail for the others; "
                         "sluice needs one Redis with cluster mode disabled (a primary and its replicas), "
                         "docs/deploy.md",
                         r->host, r->port);
    }
    if (h2o_linklist_is_linked(&c->unsent))
        h2o_linklist_unlink(&c->unsent);
    if (!c->done) {
        r->consecutive_timeouts = 0;
        if (reply != NULL) { /* NULL: the connection is going away, which on_disconnect publishes */
            r->answered = 1;
            publish_up(r);
        }
        h2o_timeout_unlink(&c->timeout);
        c->done = 1;
        c->cb(c->ud, reply != NULL ? SLUICE_REDIS_OK : SLUICE_REDIS_UNAVAILABLE, reply);
    }
    if (!c->checking)
        free(c);
    if (readonly)
        on_readonly(r, ac);
}

static void start_deadlines(sluice_redis_t *r)
{
    if (h2o_linklist_is_empty(&r->unsent))
        return;
    int64_t due = sluice_mono_ms() + (int64_t)r->timeout_ms;
    while (!h2o_linklist_is_empty(&r->unsent)) {
        cmd_t *c = H2O_STRUCT_FROM_MEMBER(cmd_t, unsent, r->unsent.next);
        h2o_linklist_unlink(&c->unsent);
        c->due_ms = due;
        h2o_timeout_link(r->loop, &r->cmd_timeout, &c->timeout);
    }
}

static void on_cmd_timeout(h2o_timeout_entry_t *entry)
{
    cmd_t *c = H2O_STRUCT_FROM_MEMBER(cmd_t, timeout, entry);
    sluice_redis_t *r = c->r;
    /* Answers already in the socket came in time: read them first (h2o runs timers before the
     * next turn reads the socket, and reports at most 256 ready sockets a turn). hiredis may call
     * c's callback (and drop the connection) in there; c stays ours to free. */
    if (r->ac != NULL && (r->ac->c.flags & REDIS_CONNECTED) != 0) {
        c->checking = 1;
        redisAsyncHandleRead(r->ac);
        c->checking = 0;
        if (c->done) {
            free(c);
            return;
        }
    }
    /* h2o's clock is the start of the turn that wrote c: a long turn makes the timer run early. */
    if (sluice_mono_ms() < c->due_ms) {
        h2o_timeout_link(r->loop, &r->recheck_timeout, &c->timeout);
        return;
    }
    c->done = 1; /* freed by on_reply when hiredis lets go of it */
    c->cb(c->ud, SLUICE_REDIS_TIMEOUT, NULL);
    if (c->quiet) /* three commands sent at once would otherwise end the connection after one stall */
        return;
    ++r->consecutive_timeouts;
    publish_up(r);
    if (r->consecutive_timeouts >= STUCK_AFTER_TIMEOUTS && r->ac != NULL) {
        sluice_log_warn("redis.stuck", "%u commands in a row timed out; reconnecting to %s:%u", r->consecutive_timeouts,
                        r->host, r->port);
        r->consecutive_timeouts = 0;
        r->connected = 0;
        redisAsyncContext *ac = r->ac;
        redisAsyncFree(ac); /* pending commands get NULL replies; on_disconnect schedules the reconnect */
    }
}

/* RESP's decimal: hiredis's formatter prints it through sdscatfmt. */
static size_t put_dec(char *out, size_t v)
{
    char tmp[20];
    size_t n = 0;
    do
        tmp[n++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

static size_t dec_len(size_t v)
{
    size_t n = 1;
    while ((v /= 10) != 0)
        n++;
    return n;
}

size_t sluice_redis_format(int argc, const char **argv, const size_t *argvlen, char *out, size_t cap)
{
    size_t need = 1 + dec_len((size_t)argc) + 2;
    for (int i = 0; i < argc; i++) {
        size_t len = argvlen != NULL ? argvlen[i] : strlen(argv[i]);
        need += 1 + dec_len(len) + 2 + len + 2;
    }
    if (need > cap)
        return 0; /* the caller takes hiredis's formatter instead */
    size_t o = 0;
    out[o++] = '*';
    o += put_dec(out + o, (size_t)argc);
    out[o++] = '\r';
    out[o++] = '\n';
    for (int i = 0; i < argc; i++) {
        size_t len = argvlen != NULL ? argvlen[i] : strlen(argv[i]);
        out[o++] = '$';
        o += put_dec(out + o, len);
        out[o++] = '\r';
        out[o++] = '\n';
        memcpy(out + o, argv[i], len);
        o += len;
        out[o++] = '\r';
        out[o++] = '\n';
    }
    return o;
}

static int send_command(sluice_redis_t *r, sluice_redis_cb cb, void *ud, int argc, const char **argv,
                        const size_t *argvlen, int quiet)
{
    if (r == NULL || !r->connected || r->ac == NULL)
        return -1;
    cmd_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return -1;
    c->r = r;
    c->cb = cb;
    c->ud = ud;
    c->timeout.cb = on_cmd_timeout;
    c->quiet = quiet;
    /* Formatted here when it fits: hiredis 0.14's redisFormatSdsCommandArgv took about 8.2k
     * instructions for an identity lookup's HMGET (sdscatfmt per argument, its buffer grown step
     * by step), this a few hundred; the bytes sent are the same. */
    char buf[512];
    size_t n = sluice_redis_format(argc, argv, argvlen, buf, sizeof(buf));
    int rc = n > 0 ? redisAsyncFormattedCommand(r->ac, on_reply, c, buf, n)
                   : redisAsyncCommandArgv(r->ac, on_reply, c, argc, argv, argvlen);
    if (rc != REDIS_OK) {
        free(c);
        return -1;
    }
    /* Its deadline starts when it is written (on_flush, or on_writable after a full socket). */
    h2o_linklist_insert(&r->unsent, &c->unsent);
    return 0;
}

int sluice_redis_command(sluice_redis_t *r, sluice_redis_cb cb, void *ud, int argc, const char **argv,
                         const size_t *argvlen)
{
    return send_command(r, cb, ud, argc, argv, argvlen, 0);
}

int sluice_redis_connected(const sluice_redis_t *r)
{
    return r != NULL && r->connected;
}

static void on_probe_reply(void *ud, sluice_redis_status_t status, const redisReply *reply)
{
    /* Any answer, an error too (-NOPERM from an ACL user without +ping), shows Redis serving:
     * on_reply has already counted it as such. */
    (void)status;
    (void)reply;
    sluice_redis_t *r = ud;
    r->probing = 0;
}

static void probe(sluice_redis_t *r)
{
    static const char *argv[1] = {"PING"};
    if (r->up_flag != NULL && !r->probing && r->connected &&
        sluice_redis_command(r, on_probe_reply, r, 1, argv, NULL) == 0)
        r->probing = 1;
}

/* 1 when the INFO memory text says the server evicts keys at maxmemory: a maxmemory set and a
 * maxmemory-policy other than noeviction (maxmemory 0 never evicts, whatever the policy). The
 * policy's name goes into policy. -1 when the text has neither field. */
int sluice_redis_info_evicts(const char *info, size_t len, char *policy, size_t cap)
{
    static const char mm[] = "\nmaxmemory:", pol[] = "\nmaxmemory_policy:";
    const char *a = memmem(info, len, mm, sizeof(mm) - 1), *b = memmem(info, len, pol, sizeof(pol) - 1);
    if (a == NULL || b == NULL || cap == 0)
        return -1;
    a += sizeof(mm) - 1;
    b += sizeof(pol) - 1;
    size_t n = strcspn(b, "\r\n");
    if (b + n > info + len)
        n = (size_t)(info + len - b);
    snprintf(policy, cap, "%.*s", (int)n, b);
    int limited = *a >= '1' && *a <= '9';
    return limited && strcmp(policy, "noeviction") != 0;
}

static void publish_evicting(sluice_redis_t *r)
{
    if (r->evict_flag != NULL)
        atomic_store_explicit(r->evict_flag, r->evicting, memory_order_release);
}

static void on_policy(void *ud, sluice_redis_status_t status, const redisReply *reply)
{
    sluice_redis_t *r = ud;
    r->policy_asked = 0;
    if (status != SLUICE_REDIS_OK)
        return; /* no answer: asked again with the next connection or the next round */
    if (reply->type == REDIS_REPLY_ERROR) {
        /* An ACL user without +info, or INFO renamed away: the policy cannot be told. Said once;
         * what the server evicts is then the operator's to check (docs/deploy.md). */
        if (!r->policy_warned)
            sluice_log_warn("redis.policy_unknown",
                            "%s:%u refused INFO memory (%.*s): cannot tell whether it evicts keys at maxmemory; "
                            "allow +info to the gateway's user (docs/identity.md)",
                            r->host, r->port, (int)sluice_redis_sync_reason_len(reply->str, reply->len), reply->str);
        r->policy_warned = 1;
        return;
    }
    if (reply->type != REDIS_REPLY_STRING)
        return;
    char policy[sizeof(r->policy)];
    int evicts = sluice_redis_info_evicts(reply->str, reply->len, policy, sizeof(policy));
    if (evicts < 0)
        return;
    if (evicts && (!r->evicting || strcmp(policy, r->policy) != 0))
        sluice_log_error("redis.eviction",
                         "%s:%u evicts keys at maxmemory (maxmemory-policy %s): a spent cross-domain token's or an "
                         "accepted signed request's key could be evicted and the same token or request accepted "
                         "again, and under allkeys-* the suppression list could go; until maxmemory-policy is "
                         "noeviction, tokens are refused (redis_unavailable) and signed requests answered 503 "
                         "replay_check_unavailable (docs/deploy.md)",
                         r->host, r->port, policy);
    else if (!evicts && r->evicting)
        sluice_log_info("redis.eviction",
                        "%s:%u no longer evicts keys (maxmemory-policy %s): tokens and signed "
                        "requests are accepted again",
                        r->host, r->port, policy);
    memcpy(r->policy, policy, sizeof(r->policy));
    r->evicting = evicts;
    publish_evicting(r);
}

static void on_epoch_set(void *ud, sluice_redis_status_t status, const redisReply *reply)
{
    (void)ud;
    (void)status;
    (void)reply; /* OK (made now) or nil (there already): the GET after it says which value holds */
}

static void on_epoch(void *ud, sluice_redis_status_t status, const redisReply *reply)
{
    sluice_redis_t *r = ud;
    if (status != SLUICE_REDIS_OK || reply->type != REDIS_REPLY_STRING || reply->len >= sizeof(r->epoch))
        return;
    if (r->epoch[0] != '\0' && (strlen(r->epoch) != reply->len || memcmp(r->epoch, reply->str, reply->len) != 0)) {
        r->lost_at_ms = sluice_now_ms();
        r->lost_said = 1;
        sluice_log_error("redis.data_lost",
                         "%s:%u lost its data (restarted without persistence, flushed, or a replica promoted "
                         "without it): the keys of spent tokens and accepted signed requests are gone, so tokens "
                         "issued and signed requests timestamped before now could be used again; they are refused "
                         "until they can no longer be valid (docs/deploy.md)",
                         r->host, r->port);
    }
    memcpy(r->epoch, reply->str, reply->len);
    r->epoch[reply->len] = '\0';
}

static void on_seq(void *ud, sluice_redis_status_t status, const redisReply *reply)
{
    sluice_redis_t *r = ud;
    if (status != SLUICE_REDIS_OK || reply->type != REDIS_REPLY_INTEGER)
        return; /* refused (-OOM, -READONLY) or not answered: the next round */
    if (r->seq > 0 && reply->integer <= r->seq) {
        r->lost_at_ms = sluice_now_ms();
        if (!r->lost_said)
            sluice_log_error("redis.data_lost",
                             "%s:%u went back in time (its round counter is %lld, was %lld: a restart from an "
                             "older snapshot, or a replica promoted before it had the latest writes): keys of "
                             "spent tokens and accepted signed requests may be gone, so tokens issued and signed "
                             "requests timestamped before now are refused until they can no longer be valid "
                             "(docs/deploy.md)",
                             r->host, r->port, reply->integer, r->seq);
    }
    r->seq = reply->integer;
}

/* SET <marker> <new random value> NX, then GET <marker>: the value stays the same for as long as
 * Redis keeps its data. A Redis that lost it takes the value of the first client to ask again, a
 * new one, and every other client reading it sees the change. */
static void ask_epoch(sluice_redis_t *r)
{
    if (r->marker == NULL || !r->connected)
        return;
    uint64_t rnd[2] = {0, 0};
    if (sluice_random_bytes(rnd, sizeof(rnd)) != 0)
        return;
    char value[33];
    snprintf(value, sizeof(value), "%016llx%016llx", (unsigned long long)rnd[0], (unsigned long long)rnd[1]);
    const char *set[4] = {"SET", r->marker, value, "NX"};
    const char *get[2] = {"GET", r->marker};
    const char *bump[4] = {"HINCRBY", r->seq_key, "n", "1"};
    r->lost_said = 0;
    if (send_command(r, on_epoch_set, r, 4, set, NULL, 1) == 0 && send_command(r, on_epoch, r, 2, get, NULL, 1) == 0)
        send_command(r, on_seq, r, 4, bump, NULL, 1);
}

/* INFO stats: whether Redis evicted keys since the last reading. Refusing tokens and signed
 * requests while the policy evicts was not enough: the keys of those spent and accepted before
 * (under noeviction, or in the seconds before the policy was read) could be evicted meanwhile, and
 * once the policy was noeviction again the same token and the same signed bytes were accepted a
 * second time. Keys that went count as data lost from the moment it is noticed. Not an eviction
 * policy's mere presence, though: one that never reached maxmemory took nothing. */
static void on_stats(void *ud, sluice_redis_status_t status, const redisReply *reply)
{
    sluice_redis_t *r = ud;
    static const char field[] = "\nevicted_keys:";
    if (status != SLUICE_REDIS_OK || reply->type != REDIS_REPLY_STRING)
        return; /* refused (no +info: said by on_policy) or not answered: the next round */
    const char *at = memmem(reply->str, reply->len, field, sizeof(field) - 1);
    if (at == NULL)
        return;
    long long n = strtoll(at + sizeof(field) - 1, NULL, 10);
    /* Only a rise: CONFIG RESETSTAT sets it back to 0, which evicts nothing. */
    if (r->evicted_known && n > r->evicted_keys) {
        r->lost_at_ms = sluice_now_ms();
        sluice_log_error("redis.evicted",
                         "%s:%u evicted keys (evicted_keys %lld, was %lld): those of spent tokens and accepted "
                         "signed requests may be among them, so tokens issued and signed requests timestamped "
                         "before now are refused until they can no longer be valid (docs/deploy.md)",
                         r->host, r->port, n, r->evicted_keys);
    }
    r->evicted_keys = n;
    r->evicted_known = 1;
}

static void ask_policy(sluice_redis_t *r)
{
    static const char *argv[2] = {"INFO", "memory"};
    static const char *stats[2] = {"INFO", "stats"}; /* Redis 6 takes one section per INFO */
    r->probes = 0;
    if (!r->policy_asked && r->connected && send_command(r, on_policy, r, 2, argv, NULL, 1) == 0) {
        r->policy_asked = 1;
        send_command(r, on_stats, r, 2, stats, NULL, 1);
    }
    ask_epoch(r);
}

int sluice_redis_watch_data(sluice_redis_t *r, const char *marker)
{
    if (r == NULL || marker == NULL || (r->marker = strdup(marker)) == NULL)
        return -1;
    size_t n = strlen(marker) + sizeof(":n");
    if ((r->seq_key = malloc(n)) == NULL) {
        free(r->marker);
        r->marker = NULL;
        return -1;
    }
    snprintf(r->seq_key, n, "%s:n", marker);
    ask_epoch(r); /* connected already: the next probe round would be seconds away */
    return 0;
}

int64_t sluice_redis_data_lost_ms(const sluice_redis_t *r)
{
    return r != NULL ? r->lost_at_ms : 0;
}

int sluice_redis_evicting(const sluice_redis_t *r)
{
    return r != NULL && r->evicting;
}

void sluice_redis_publish_evicting(sluice_redis_t *r, _Atomic int *flag)
{
    if (r == NULL)
        return;
    r->evict_flag = flag;
    publish_evicting(r);
}

static void on_probe_timer(h2o_timeout_entry_t *entry)
{
    sluice_redis_t *r = H2O_STRUCT_FROM_MEMBER(sluice_redis_t, probe_entry, entry);
    probe(r);
    if (++r->probes >= POLICY_EVERY)
        ask_policy(r);
    if (!r->closing)
        h2o_timeout_link(r->loop, &r->probe_timeout, &r->probe_entry);
}

void sluice_redis_publish_up(sluice_redis_t *r, _Atomic int *flag)
{
    if (r == NULL)
        return;
    r->up_flag = flag;
    publish_up(r);
    if (flag != NULL && !h2o_timeout_is_linked(&r->probe_entry))
        h2o_timeout_link(r->loop, &r->probe_timeout, &r->probe_entry);
}

void sluice_redis_destroy(sluice_redis_t *r)
{
    if (r == NULL)
        return;
    r->closing = 1;
    publish_up(r);
    r->evicting = 0;
    publish_evicting(r);
    if (h2o_timeout_is_linked(&r->reconnect_entry))
        h2o_timeout_unlink(&r->reconnect_entry);
    if (h2o_timeout_is_linked(&r->probe_entry))
        h2o_timeout_unlink(&r->probe_entry);
    if (h2o_timeout_is_linked(&r->flush_entry))
        h2o_timeout_unlink(&r->flush_entry);
    if (r->ac != NULL)
        redisAsyncFree(r->ac); /* every pending command's callback runs: unsent and the timers empty */
    h2o_timeout_dispose(r->loop, &r->reconnect_timeout);
    h2o_timeout_dispose(r->loop, &r->probe_timeout);
    /* Timed-out commands still linked? None: every live command is unlinked by its reply. */
    h2o_timeout_dispose(r->loop, &r->cmd_timeout);
    h2o_timeout_dispose(r->loop, &r->recheck_timeout);
    h2o_timeout_dispose(r->loop, &r->flush_timeout);
    if (r->resolving) {
        /* glibc's resolver thread writes into r->gai until it is done: wait for it if it is past
         * cancelling (a stop, not the loop's hot path). */
        if (gai_cancel(&r->gai) != EAI_CANCELED) {
            const struct gaicb *list[1] = {&r->gai};
            while (gai_error(&r->gai) == EAI_INPROGRESS)
                gai_suspend(list, 1, NULL);
        }
        if (r->gai.ar_result != NULL)
            freeaddrinfo(r->gai.ar_result);
    }
    free_secrets(r);
    free(r->marker);
    free(r->seq_key);
    free(r);
}
