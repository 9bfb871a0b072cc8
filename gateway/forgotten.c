/*
 * The gateway's suppression list (forgotten.h): a refresher thread with a synchronous Redis
 * connection builds immutable, reference-counted snapshots; each loop thread keeps a reference
 * to the one it last saw in its own slot and swaps it when the published version moves.
 * Threads: the refresher (its own), the loop threads (match), the main thread (create, destroy),
 * any thread (metrics).
 */
#include "gateway/forgotten.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "common/log.h"
#include "common/time.h"
#include "identity/forget.h"
#include "identity/redis_sync.h"

#include <openssl/crypto.h>

#define REDIS_TIMEOUT_FLOOR_MS 2000 /* a background read of the whole set may take longer than a hot-path command */
#define GEN_MAX                32
#define LOST_GEN               "lost" /* loaded_gen once Redis lost the list: matches no generation */
#define SCAN_COUNT             "1000" /* members per SSCAN: about a millisecond of Redis each */
/* How long a gateway's word in <prefix>suppress:seen holds past two refreshes: longer than a load
 * of a long list (about 9 s at 1M pseudonyms), short enough that forget does not wait long for a
 * gateway that was killed (one stopped cleanly takes its word back). */
#define SEEN_SLACK_MS 20000

typedef struct snap {
    atomic_uint refs;
    sluice_pseudonym_set_t *set; /* sealed */
} snap_t;

/* One per loop thread, written by that thread only; padded so two threads never share a line. */
typedef struct slot {
    snap_t *snap;
    uint64_t version;
    char pad[64 - sizeof(snap_t *) - sizeof(uint64_t)];
} slot_t;

/* Suppressed-event counts per org: an append-only list (readers walk it without a lock). */
typedef struct counter {
    struct counter *_Atomic next;
    atomic_uint_fast64_t n;
    char org[];
} counter_t;

struct sluice_forgotten {
    pthread_mutex_t mu; /* cur, and the counters' appends */
    snap_t *cur;        /* the newest snapshot; never NULL */
    atomic_uint_fast64_t version;
    slot_t *slots;
    unsigned nthreads;
    counter_t *_Atomic counters;
    atomic_uint_fast64_t refresh_failures;
    /* Wall-clock ms of the last good read of Redis (the list checked, and loaded when it moved);
     * the creation until the first. The alert SluiceSuppressionListStale compares its age with
     * refresh_ms: a rate of failed reads cannot tell a list read every 30 minutes by choice from
     * one that Redis has not given for as long. */
    atomic_int_fast64_t last_read_ms;
    atomic_size_t size;     /* pseudonyms in cur, for the gauge */
    atomic_int loaded_once; /* cur was read from Redis (or there is no Redis to read): /readyz */
    /* refresher */
    sluice_redis_config_t rc; /* host, port, db, username and key prefix copied from the config */
    char *password;           /* AUTH (from the gateway's secrets), wiped at destroy */
    unsigned timeout_ms, refresh_ms;
    redisContext *redis;
    char loaded_gen[GEN_MAX]; /* the generation the current set was read at */
    int loaded, down;
    int sscan_refused; /* logged once: an ACL without +sscan */
    int seen_refused;  /* logged once: Redis refused the HSET of seen_key */
    /* Redis's clock (TIME) read at the start of this refresh, and the monotonic clock then: the
     * "until" of seen_key is in Redis's time, which `sluicectl forget` compares it with, not in
     * this host's (a gateway minutes behind looked dead while it took events, one ahead held
     * forget for minutes after it was killed). time_refused: this connection's user has no
     * +time (logged once), the host's clock is used. */
    int64_t clock_ms, clock_mono_ms;
    int time_refused, time_refusal_said;
    char seen_key[160]; /* <prefix>suppress:seen: the generation each gateway enforces */
    char instance[160]; /* this gateway's field there: <host>:<pid> */
    /* Why the last refresh failed, for forget.redis_unavailable: an unready gateway (/readyz 503,
     * "suppression":false) whose log only said "cannot read" left the operator looking at a Redis
     * that answered PING, while it refused the user SSCAN and SMEMBERS or answered MOVED. */
    char why[200];
    pthread_t thread;
    int running, stop;
    pthread_cond_t wake;
};

/* ------------------------------------------------------------------ snapshots */

static snap_t *snap_new(sluice_pseudonym_set_t *set)
{
    snap_t *s = malloc(sizeof(*s));
    if (s == NULL)
        return NULL;
    atomic_init(&s->refs, 1);
    s->set = set;
    return s;
}

static void snap_release(snap_t *s)
{
    if (s != NULL && atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1) {
        sluice_pseudonym_set_destroy(s->set);
        free(s);
    }
}

static void publish(sluice_forgotten_t *f, snap_t *s)
{
    pthread_mutex_lock(&f->mu);
    snap_t *old = f->cur;
    f->cur = s;
    atomic_store_explicit(&f->size, sluice_pseudonym_set_count(s->set, NULL), memory_order_relaxed);
    atomic_fetch_add_explicit(&f->version, 1, memory_order_release);
    pthread_mutex_unlock(&f->mu);
    snap_release(old);
}

int sluice_forgotten_use(sluice_forgotten_t *f, sluice_pseudonym_set_t *set)
{
    snap_t *s = snap_new(set);
    if (s == NULL) {
        sluice_pseudonym_set_destroy(set);
        return -1;
    }
    publish(f, s);
    return 0;
}

/* ------------------------------------------------------------------ reading Redis */

static void disconnect(sluice_forgotten_t *f)
{
    if (f->redis != NULL)
        redisFree(f->redis);
    f->redis = NULL;
}

static int connect_redis(sluice_forgotten_t *f)
{
    if (f->redis != NULL && f->redis->err == 0)
        return 0;
    disconnect(f);
    f->time_refused = 0; /* a new connection tries TIME again: the ACL may have changed */
    unsigned ms = f->timeout_ms > REDIS_TIMEOUT_FLOOR_MS ? f->timeout_ms : REDIS_TIMEOUT_FLOOR_MS;
    sluice_err_t err = {{0}};
    f->redis = sluice_redis_sync_connect(&f->rc, f->password, ms, &err);
    if (f->redis == NULL)
        snprintf(f->why, sizeof(f->why), "%.180s", err.msg[0] != '\0' ? err.msg : "cannot connect");
    return f->redis != NULL ? 0 : -1;
}

/* Records why a command failed: Redis's error reply (cut before any arguments it quotes), or the
 * connection's error. */
static void failed_because(sluice_forgotten_t *f, const char *what, const redisReply *x)
{
    if (x != NULL && x->type == REDIS_REPLY_ERROR)
        snprintf(f->why, sizeof(f->why), "%s: %.*s", what, (int)sluice_redis_sync_reason_len(x->str, x->len), x->str);
    else if (x != NULL)
        snprintf(f->why, sizeof(f->why), "%s: unexpected reply", what);
    else
        snprintf(f->why, sizeof(f->why), "%s: %s", what,
                 f->redis != NULL && f->redis->err ? f->redis->errstr : "no answer");
}

static redisReply *command(sluice_forgotten_t *f, const char *verb, const char *key)
{
    const char *argv[2] = {verb, key};
    size_t lens[2] = {strlen(verb), strlen(key)};
    return redisCommandArgv(f->redis, 2, argv, lens);
}

/* Adds the "<org>:<hex>" members of a reply's array to set; members of another shape are
 * skipped. 0, or -1 when out of memory. */
static int add_members(sluice_pseudonym_set_t *set, const redisReply *r)
{
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *m = r->element[i];
        if (m->type != REDIS_REPLY_STRING || m->len < SLUICE_PSEUDONYM_HEX_LEN + 2 || m->len > 200)
            continue;
        char buf[201];
        memcpy(buf, m->str, m->len);
        buf[m->len] = '\0';
        char *colon = strrchr(buf, ':');
        if (colon == NULL || colon == buf)
            continue;
        *colon = '\0';
        if (sluice_pseudonym_set_add_hex(set, buf, colon + 1) == -2)
            return -1;
    }
    return 0;
}

/* Reads the whole set with SSCAN, SCAN_COUNT members a command. One SMEMBERS of a list of 1M
 * pseudonyms kept Redis itself busy for 0.3-3 s (every gateway's dedup, links and tokens waited
 * behind it, each time the list changed), and its reply came later than the read timeout, so the
 * gateway never loaded the list at all. A member SSCAN returns twice is removed by the seal; one
 * added or removed during the scan moved the generation, which the next turn reloads. *set is
 * NULL when out of memory. 0, or -1 when Redis failed. */
static int read_set(sluice_forgotten_t *f, const char *set_key, sluice_pseudonym_set_t **set)
{
    if ((*set = sluice_pseudonym_set_create()) == NULL)
        return 0;
    char cursor[32] = "0";
    do {
        const char *argv[5] = {"SSCAN", set_key, cursor, "COUNT", SCAN_COUNT};
        size_t lens[5] = {5, strlen(set_key), strlen(cursor), 5, strlen(SCAN_COUNT)};
        redisReply *x = redisCommandArgv(f->redis, 5, argv, lens);
        if (x != NULL && x->type == REDIS_REPLY_ERROR && strncmp(x->str, "NOPERM", 6) == 0 &&
            strcmp(cursor, "0") == 0) {
            /* An ACL user of an older docs/identity.md (+smembers, no +sscan): read it whole, as
             * before, rather than never, and say what to add. */
            freeReplyObject(x);
            if (!f->sscan_refused)
                sluice_log_warn("forget.sscan_refused",
                                "Redis refuses SSCAN to this user: reading the suppression list with SMEMBERS, "
                                "which holds Redis for the whole list; add +sscan to the user's ACL");
            f->sscan_refused = 1;
            redisReply *m = command(f, "SMEMBERS", set_key);
            int ok = m != NULL && m->type == REDIS_REPLY_ARRAY;
            if (!ok)
                failed_because(f, "SMEMBERS", m);
            if (ok && add_members(*set, m) != 0) {
                sluice_pseudonym_set_destroy(*set);
                *set = NULL;
            }
            freeReplyObject(m);
            if (!ok) {
                sluice_pseudonym_set_destroy(*set);
                *set = NULL;
                return -1;
            }
            if (*set != NULL)
                sluice_pseudonym_set_seal(*set);
            return 0;
        }
        if (x == NULL || x->type != REDIS_REPLY_ARRAY || x->elements != 2 ||
            x->element[0]->type != REDIS_REPLY_STRING || x->element[1]->type != REDIS_REPLY_ARRAY) {
            failed_because(f, "SSCAN", x);
            freeReplyObject(x);
            sluice_pseudonym_set_destroy(*set);
            *set = NULL;
            return -1;
        }
        snprintf(cursor, sizeof(cursor), "%.*s", (int)x->element[0]->len, x->element[0]->str);
        if (add_members(*set, x->element[1]) != 0) {
            sluice_pseudonym_set_destroy(*set);
            *set = NULL;
            freeReplyObject(x);
            return 0;
        }
        freeReplyObject(x);
    } while (strcmp(cursor, "0") != 0);
    sluice_pseudonym_set_seal(*set);
    return 0;
}

/* Says in Redis which generation this gateway enforces (loaded_gen), on every look at the list,
 * and until when that holds unless renewed (it stops when the gateway does): `sluicectl forget`
 * waits until every gateway enforces its generation before it looks for the person's identity
 * links and dedup keys. It looked only before, while each gateway went on linking the person's
 * ids for up to forget.refresh_ms (seconds more to load a long list): those links were never
 * deleted. A refusal is logged once and costs nothing else (forget then waits for no one). */
static void report_seen(sluice_forgotten_t *f)
{
    if (f->seen_key[0] == '\0' || f->redis == NULL)
        return;
    /* Redis's time now: TIME's reading plus what the monotonic clock counted since (a long list's
     * load lies between the two words of one refresh). */
    int64_t now = f->time_refused ? sluice_now_ms() : f->clock_ms + (sluice_mono_ms() - f->clock_mono_ms);
    char value[GEN_MAX + 24];
    snprintf(value, sizeof(value), "%s %lld", f->loaded_gen, (long long)now + 2LL * f->refresh_ms + SEEN_SLACK_MS);
    const char *argv[4] = {"HSET", f->seen_key, f->instance, value};
    size_t lens[4] = {4, strlen(f->seen_key), strlen(f->instance), strlen(value)};
    redisReply *x = redisCommandArgv(f->redis, 4, argv, lens);
    if ((x == NULL || x->type == REDIS_REPLY_ERROR) && !f->seen_refused) {
        sluice_log_warn("forget.seen_refused",
                        "Redis refused to record which suppression list this gateway enforces (%.*s): sluicectl "
                        "forget cannot wait for it before deleting the person's links",
                        x != NULL ? (int)sluice_redis_sync_reason_len(x->str, x->len) : 9,
                        x != NULL ? x->str : "no answer");
        f->seen_refused = 1;
    }
    freeReplyObject(x);
}

/* Reads Redis's clock for report_seen, once a refresh: 0, or -1 when Redis did not answer. A
 * user without +time (an ACL of an older docs/identity.md) costs a warning, once, and this
 * host's clock is used until the next connection. */
static int read_clock(sluice_forgotten_t *f)
{
    if (f->time_refused || f->seen_key[0] == '\0')
        return 0;
    sluice_err_t err = {{0}};
    int rc = sluice_redis_sync_time_ms(f->redis, &f->clock_ms, &err);
    f->clock_mono_ms = sluice_mono_ms();
    if (rc == -1) {
        snprintf(f->why, sizeof(f->why), "%.180s", err.msg);
        return -1;
    }
    if (rc == -2) {
        if (!f->time_refusal_said)
            sluice_log_warn("forget.time_refused",
                            "Redis refuses TIME to this user (%s): this gateway says until when it enforces the "
                            "suppression list by its own clock, and sluicectl forget, which reads Redis's, is wrong "
                            "by as much as the two differ; add +time to the user's ACL",
                            err.msg);
        f->time_refusal_said = 1;
        f->time_refused = 1;
    }
    return 0;
}

/* One refresh: 0 when the list is current (reloaded or unchanged), -1 when Redis failed. */
static int refresh(sluice_forgotten_t *f)
{
    /* A key prefix may be 64 characters (config.c): "<prefix>suppress:gen" is then 76. */
    char gen_key[160], set_key[160];
    sluice_forget_key(gen_key, sizeof(gen_key), f->rc.key_prefix, SLUICE_FORGET_KEY_SUPPRESS_GEN, NULL, NULL);
    sluice_forget_key(set_key, sizeof(set_key), f->rc.key_prefix, SLUICE_FORGET_KEY_SUPPRESS, NULL, NULL);
    if (connect_redis(f) != 0 || read_clock(f) != 0) {
        disconnect(f);
        return -1;
    }
    redisReply *g = command(f, "GET", gen_key);
    if (g == NULL || (g->type != REDIS_REPLY_STRING && g->type != REDIS_REPLY_NIL)) {
        failed_because(f, "GET", g);
        freeReplyObject(g);
        disconnect(f);
        return -1;
    }
    char gen[GEN_MAX];
    snprintf(gen, sizeof(gen), "%.*s", g->type == REDIS_REPLY_STRING ? (int)g->len : 1,
             g->type == REDIS_REPLY_STRING ? g->str : "0");
    int gen_gone = g->type == REDIS_REPLY_NIL;
    freeReplyObject(g);
    /* The generation only grows (every forget, undo and --sync INCRs it): gone after one was
     * loaded, Redis lost its data (a restart without persistence, FLUSHALL, an evicting policy).
     * Loading the empty set that is left passed every forgotten person's events to Kafka until
     * someone ran --sync; the last list stays in force instead, and any generation written from
     * now on is loaded (--sync, or the next forget or undo, writes the whole list from PostgreSQL
     * then, its generation starting at the clock's milliseconds: tools/cmd_forget.c). */
    if (gen_gone && f->loaded && strcmp(f->loaded_gen, "0") != 0) {
        if (strcmp(f->loaded_gen, LOST_GEN) != 0)
            sluice_log_error("forget.list_lost",
                             "the suppression list vanished from Redis (it lost its data): keeping the last one "
                             "loaded (%zu pseudonyms); run `sluicectl forget --sync` to write it again",
                             atomic_load_explicit(&f->size, memory_order_relaxed));
        snprintf(f->loaded_gen, sizeof(f->loaded_gen), "%s", LOST_GEN);
        report_seen(f);
        return 0;
    }
    if (f->loaded && strcmp(gen, f->loaded_gen) == 0) {
        report_seen(f);
        return 0;
    }
    report_seen(f); /* still the old generation, for as long as the new one takes to load */
    sluice_pseudonym_set_t *set = NULL;
    if (read_set(f, set_key, &set) != 0) {
        disconnect(f);
        return -1;
    }
    snap_t *s = set != NULL ? snap_new(set) : NULL;
    if (s == NULL) {
        sluice_pseudonym_set_destroy(set);
        sluice_log_error("forget.oom", "out of memory loading the suppression list: keeping the last one");
        return 0;
    }
    /* A change between GET and SMEMBERS is newer than gen: the next turn reloads it once more. */
    snprintf(f->loaded_gen, sizeof(f->loaded_gen), "%s", gen);
    f->loaded = 1;
    size_t n = sluice_pseudonym_set_count(set, NULL);
    publish(f, s);
    atomic_store_explicit(&f->loaded_once, 1, memory_order_release);
    sluice_log_info("forget.list_loaded", "suppression list loaded: %zu pseudonyms (generation %s)", n, gen);
    report_seen(f);
    return 0;
}

/* A refresh with the outage logged once, and its end once. */
static void refresh_logged(sluice_forgotten_t *f)
{
    if (refresh(f) == 0) {
        atomic_store_explicit(&f->last_read_ms, sluice_now_ms(), memory_order_relaxed);
        if (f->down)
            sluice_log_info("forget.redis_back", "Redis reachable again: the suppression list is current");
        f->down = 0;
        return;
    }
    atomic_fetch_add_explicit(&f->refresh_failures, 1, memory_order_relaxed);
    if (!f->down)
        sluice_log_warn("forget.redis_unavailable",
                        "cannot read the suppression list from Redis %s:%u (%s): keeping the last one loaded (%zu "
                        "pseudonyms) and retrying every %u ms",
                        f->rc.host, f->rc.port, f->why, atomic_load_explicit(&f->size, memory_order_relaxed),
                        f->refresh_ms);
    f->down = 1;
}

static void *refresher(void *arg)
{
    sluice_forgotten_t *f = arg;
    pthread_mutex_lock(&f->mu);
    while (!f->stop) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += f->refresh_ms / 1000;
        until.tv_nsec += (long)(f->refresh_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        while (!f->stop && pthread_cond_timedwait(&f->wake, &f->mu, &until) != ETIMEDOUT)
            ;
        if (f->stop)
            break;
        pthread_mutex_unlock(&f->mu);
        refresh_logged(f);
        pthread_mutex_lock(&f->mu);
    }
    pthread_mutex_unlock(&f->mu);
    return NULL;
}

/* ------------------------------------------------------------------ life */

sluice_forgotten_t *sluice_forgotten_create(const sluice_config_t *cfg, unsigned nthreads, const char *redis_password,
                                            sluice_err_t *err)
{
    sluice_forgotten_t *f = calloc(1, sizeof(*f));
    sluice_pseudonym_set_t *empty = sluice_pseudonym_set_create();
    if (f == NULL || empty == NULL || (f->slots = calloc(nthreads ? nthreads : 1, sizeof(*f->slots))) == NULL ||
        (f->cur = snap_new(empty)) == NULL) {
        sluice_pseudonym_set_destroy(empty);
        if (f != NULL)
            free(f->slots);
        free(f);
        sluice_err_set(err, "out of memory");
        return NULL;
    }
    sluice_pseudonym_set_seal(empty);
    f->nthreads = nthreads;
    atomic_init(&f->version, 1);
    pthread_mutex_init(&f->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&f->wake, &ca);
    pthread_condattr_destroy(&ca);
    atomic_init(&f->loaded_once, 0);
    if (cfg->redis.url == NULL || cfg->redis.host == NULL || cfg->redis.host[0] == '\0') {
        atomic_store(&f->loaded_once, 1);
        return f; /* no Redis: nothing can be on the list */
    }
    f->rc.port = cfg->redis.port;
    f->rc.db = cfg->redis.db;
    if ((f->rc.host = strdup(cfg->redis.host)) == NULL ||
        (cfg->redis.username != NULL && (f->rc.username = strdup(cfg->redis.username)) == NULL) ||
        (cfg->redis.key_prefix != NULL && (f->rc.key_prefix = strdup(cfg->redis.key_prefix)) == NULL) ||
        (redis_password != NULL && (f->password = strdup(redis_password)) == NULL)) {
        sluice_forgotten_destroy(f);
        sluice_err_set(err, "out of memory");
        return NULL;
    }
    f->timeout_ms = cfg->redis.timeout_ms;
    f->refresh_ms = cfg->forget.refresh_ms;
    atomic_init(&f->last_read_ms, sluice_now_ms());
    char host[128] = "";
    if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0')
        snprintf(host, sizeof(host), "gateway");
    snprintf(f->instance, sizeof(f->instance), "%s:%ld", host, (long)getpid());
    if (sluice_forget_key(f->seen_key, sizeof(f->seen_key), f->rc.key_prefix, SLUICE_FORGET_KEY_SUPPRESS_SEEN, NULL,
                          NULL) < 0)
        f->seen_key[0] = '\0';
    refresh_logged(f);
    if (pthread_create(&f->thread, NULL, refresher, f) != 0) {
        sluice_forgotten_destroy(f);
        sluice_err_set(err, "cannot start the suppression list's refresher thread");
        return NULL;
    }
    f->running = 1;
    return f;
}

void sluice_forgotten_destroy(sluice_forgotten_t *f)
{
    if (f == NULL)
        return;
    if (f->running) {
        pthread_mutex_lock(&f->mu);
        f->stop = 1;
        pthread_cond_signal(&f->wake);
        pthread_mutex_unlock(&f->mu);
        pthread_join(f->thread, NULL);
    }
    /* Its word taken back (expired at once; HSET, which the gateway's ACL user has, not HDEL):
     * forget no longer waits for a gateway that stopped. */
    if (f->redis != NULL && f->seen_key[0] != '\0' && f->redis->err == 0)
        freeReplyObject(redisCommand(f->redis, "HSET %s %s %s", f->seen_key, f->instance, "0 0"));
    disconnect(f);
    for (unsigned i = 0; i < f->nthreads; i++)
        snap_release(f->slots[i].snap);
    snap_release(f->cur);
    for (counter_t *c = atomic_load(&f->counters), *next; c != NULL; c = next) {
        next = atomic_load(&c->next);
        free(c);
    }
    pthread_cond_destroy(&f->wake);
    pthread_mutex_destroy(&f->mu);
    free(f->slots);
    free(f->rc.host);
    free(f->rc.username);
    free(f->rc.key_prefix);
    if (f->password != NULL)
        OPENSSL_cleanse(f->password, strlen(f->password));
    free(f->password);
    free(f);
}

/* ------------------------------------------------------------------ the loop threads */

static counter_t *counter_for(sluice_forgotten_t *f, const char *org)
{
    for (counter_t *c = atomic_load_explicit(&f->counters, memory_order_acquire); c != NULL;
         c = atomic_load_explicit(&c->next, memory_order_acquire))
        if (strcmp(c->org, org) == 0)
            return c;
    pthread_mutex_lock(&f->mu);
    counter_t *found = NULL, *last = NULL;
    for (counter_t *c = atomic_load(&f->counters); c != NULL && found == NULL; c = atomic_load(&c->next)) {
        if (strcmp(c->org, org) == 0)
            found = c;
        last = c;
    }
    if (found == NULL && (found = malloc(sizeof(*found) + strlen(org) + 1)) != NULL) {
        atomic_init(&found->next, NULL);
        atomic_init(&found->n, 0);
        memcpy(found->org, org, strlen(org) + 1);
        atomic_store_explicit(last != NULL ? &last->next : &f->counters, found, memory_order_release);
    }
    pthread_mutex_unlock(&f->mu);
    return found;
}

/* The string at a dotted path of an event, on either tree: child(v, seg, n) is the member seg[0..n)
 * of v (NULL when v is no object or has none), string(v, &len) the string's bytes or NULL. A
 * segment of 64 bytes or more names nothing (the paths read are sluice_pseudonym_id_paths). */
static inline const char *at_path(const void *v, const char *path, size_t *len,
                                  const void *(*child)(const void *v, const char *seg, size_t n),
                                  const char *(*string)(const void *v, size_t *len))
{
    for (const char *p = path; v != NULL && *p != '\0';) {
        size_t n = strcspn(p, ".");
        if (n >= 64)
            return NULL;
        v = child(v, p, n);
        p += n + (p[n] == '.');
    }
    return v != NULL ? string(v, len) : NULL;
}

static const void *child_json(const void *v, const char *seg, size_t n)
{
    return json_object_getn(v, seg, n);
}

static const char *string_json(const void *v, size_t *len)
{
    if (!json_is_string((const json_t *)v))
        return NULL;
    *len = json_string_length(v);
    return json_string_value(v);
}

static const void *child_jv(const void *v, const char *seg, size_t n)
{
    return sluice_jv_object_getn(v, seg, n);
}

/* A jv string is not NUL-terminated: its length is the one sluice_jv_string_value gives. */
static const char *string_jv(const void *v, size_t *len)
{
    return sluice_jv_string_value(v, len);
}

/* The string at a dotted path of a JSON event (the sluice_pseudonym_get_fn of the gateway). */
static const char *json_get(void *ud, const char *path, size_t *len)
{
    return at_path(ud, path, len, child_json, string_json);
}

/* The same for an event held as arena values (json/jv.h). */
static const char *jv_get(void *ud, const char *path, size_t *len)
{
    return at_path(ud, path, len, child_jv, string_jv);
}

/* The thread's snapshot of the list in force, taking a newer one when there is one. */
static const sluice_pseudonym_set_t *current(sluice_forgotten_t *f, unsigned thread)
{
    slot_t *sl = &f->slots[thread];
    uint64_t v = atomic_load_explicit(&f->version, memory_order_acquire);
    if (sl->version != v) {
        pthread_mutex_lock(&f->mu);
        snap_t *s = f->cur;
        atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
        v = atomic_load_explicit(&f->version, memory_order_relaxed);
        pthread_mutex_unlock(&f->mu);
        snap_release(sl->snap);
        sl->snap = s;
        sl->version = v;
    }
    return sl->snap->set;
}

int sluice_forgotten_known(sluice_forgotten_t *f, unsigned thread, const char *org,
                           const uint8_t key[SLUICE_PSEUDONYM_LEN], json_t *event)
{
    if (f == NULL || thread >= f->nthreads)
        return 0;
    return sluice_pseudonym_set_match(current(f, thread), org, key, json_get, event);
}

int sluice_forgotten_known_jv(sluice_forgotten_t *f, unsigned thread, const char *org,
                              const uint8_t key[SLUICE_PSEUDONYM_LEN], sluice_jv_t *event)
{
    if (f == NULL || thread >= f->nthreads)
        return 0;
    return sluice_pseudonym_set_match(current(f, thread), org, key, jv_get, event);
}

/* The one id, under the first of the paths the match reads (the set holds no kinds). */
static const char *one_id(void *ud, const char *path, size_t *len)
{
    if (strcmp(path, sluice_pseudonym_id_paths[0]) != 0)
        return NULL;
    *len = strlen(ud);
    return ud;
}

int sluice_forgotten_id_known(sluice_forgotten_t *f, unsigned thread, const char *org,
                              const uint8_t key[SLUICE_PSEUDONYM_LEN], const char *id)
{
    if (f == NULL || thread >= f->nthreads || id == NULL)
        return 0;
    return sluice_pseudonym_set_match(current(f, thread), org, key, one_id, (void *)id);
}

/* Counts a match of the org's list (match and match_jv). */
static int counted(sluice_forgotten_t *f, const char *org, int known)
{
    if (!known)
        return 0;
    counter_t *c = counter_for(f, org);
    if (c != NULL)
        atomic_fetch_add_explicit(&c->n, 1, memory_order_relaxed);
    return 1;
}

int sluice_forgotten_match(sluice_forgotten_t *f, unsigned thread, const char *org,
                           const uint8_t key[SLUICE_PSEUDONYM_LEN], json_t *event)
{
    return counted(f, org, sluice_forgotten_known(f, thread, org, key, event));
}

int sluice_forgotten_match_jv(sluice_forgotten_t *f, unsigned thread, const char *org,
                              const uint8_t key[SLUICE_PSEUDONYM_LEN], sluice_jv_t *event)
{
    return counted(f, org, sluice_forgotten_known_jv(f, thread, org, key, event));
}

int sluice_forgotten_loaded(sluice_forgotten_t *f)
{
    return f == NULL || atomic_load_explicit(&f->loaded_once, memory_order_acquire);
}

size_t sluice_forgotten_size(sluice_forgotten_t *f)
{
    return f != NULL ? atomic_load_explicit(&f->size, memory_order_relaxed) : 0;
}

size_t sluice_forgotten_subject(const uint8_t key[SLUICE_PSEUDONYM_LEN], json_t *event, char *out, size_t cap)
{
    return sluice_pseudonym_subject(key, json_get, event, out, cap);
}

size_t sluice_forgotten_subject_jv(const uint8_t key[SLUICE_PSEUDONYM_LEN], sluice_jv_t *event, char *out, size_t cap)
{
    return sluice_pseudonym_subject(key, jv_get, event, out, cap);
}

size_t sluice_forgotten_metrics(sluice_forgotten_t *f, char *buf, size_t cap)
{
    size_t used = 0;
#define APPEND(...)                                                                                                    \
    do {                                                                                                               \
        int n_ = snprintf(used < cap ? buf + used : NULL, used < cap ? cap - used : 0, __VA_ARGS__);                   \
        if (n_ > 0)                                                                                                    \
            used += (size_t)n_;                                                                                        \
    } while (0)
    APPEND("# HELP sluice_events_suppressed_total Events dropped because they carry an id on the org's suppression "
           "list (sluicectl forget); the client was answered as usual.\n"
           "# TYPE sluice_events_suppressed_total counter\n");
    for (counter_t *c = f ? atomic_load_explicit(&f->counters, memory_order_acquire) : NULL; c != NULL;
         c = atomic_load_explicit(&c->next, memory_order_acquire))
        APPEND("sluice_events_suppressed_total{org=\"%s\"} %llu\n", c->org,
               (unsigned long long)atomic_load_explicit(&c->n, memory_order_relaxed));
    APPEND("# HELP sluice_suppression_pseudonyms Pseudonyms on the suppression lists the gateway enforces.\n"
           "# TYPE sluice_suppression_pseudonyms gauge\nsluice_suppression_pseudonyms %zu\n"
           "# HELP sluice_suppression_refresh_failures_total Reads of the suppression list from Redis that failed "
           "(the last list loaded stays in force).\n"
           "# TYPE sluice_suppression_refresh_failures_total counter\nsluice_suppression_refresh_failures_total %llu\n",
           f ? atomic_load_explicit(&f->size, memory_order_relaxed) : (size_t)0,
           f ? (unsigned long long)atomic_load_explicit(&f->refresh_failures, memory_order_relaxed) : 0ULL);
    /* Only with a list to read: without Redis nothing can be on it, so nothing goes stale. */
    if (f != NULL && f->rc.host != NULL)
        APPEND("# HELP sluice_suppression_last_read_timestamp_seconds When the suppression list was last read from "
               "Redis (the gateway's start until the first read).\n"
               "# TYPE sluice_suppression_last_read_timestamp_seconds gauge\n"
               "sluice_suppression_last_read_timestamp_seconds %.3f\n"
               "# HELP sluice_suppression_refresh_interval_seconds How often the suppression list is read from Redis "
               "(forget.refresh_ms).\n"
               "# TYPE sluice_suppression_refresh_interval_seconds gauge\n"
               "sluice_suppression_refresh_interval_seconds %.3f\n",
               (double)atomic_load_explicit(&f->last_read_ms, memory_order_relaxed) / 1000.0,
               (double)f->refresh_ms / 1000.0);
#undef APPEND
    return used;
}
