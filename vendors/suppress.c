/*
 * The worker's suppression list (suppress.h): a refresher thread reading PostgreSQL, and the
 * check on the worker's thread. The refresher hands each new set over through one atomic
 * pointer (the worker takes it at its next check and frees the set it replaces), so the two
 * threads share nothing else. Threads: the refresher (its own), the worker's thread (the rest).
 */
#include "vendors/suppress.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "common/log.h"
#include "crypto/ct.h"
#include "crypto/pseudonym.h"
#include "vendors/vault.h"

typedef struct org_key {
    const char *org; /* the config's */
    uint8_t key[SLUICE_PSEUDONYM_LEN];
} org_key_t;

struct sluice_suppress {
    const sluice_config_t *cfg;
    org_key_t *keys; /* one per org of the config */
    size_t key_count;
    sluice_pseudonym_set_t *current;           /* the worker's thread's */
    uint64_t taken;                            /* sets the worker's thread took: current's version */
    _Atomic(sluice_pseudonym_set_t *) handoff; /* a newer set, not yet taken */
    /* refresher */
    PGconn *conn;
    char generation[64]; /* of the set last read */
    int down;
    pthread_t thread;
    int running, stop;
    pthread_mutex_t mu;
    pthread_cond_t wake;
};

/* ------------------------------------------------------------------ reading PostgreSQL */

static void quiet_notices(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static int pq_error(sluice_err_t *err, PGconn *conn, const char *what)
{
    const char *m = conn != NULL ? PQerrorMessage(conn) : "out of memory";
    size_t n = strlen(m);
    while (n > 0 && (m[n - 1] == '\n' || m[n - 1] == ' '))
        n--;
    return sluice_err_set(err, "%s: %.*s", what, (int)n, m);
}

/* A connection failure: libpq's message may quote parts of database.url (vendors/vault.h). */
static int conn_error(sluice_err_t *err, const sluice_suppress_t *s, const char *what)
{
    char m[SLUICE_ERR_MSG_MAX];
    sluice_vault_conn_message(s->cfg->database.url, s->conn != NULL ? PQerrorMessage(s->conn) : "out of memory", m,
                              sizeof(m));
    return sluice_err_set(err, "%s: %s", what, m);
}

static int connect_pg(sluice_suppress_t *s, sluice_err_t *err)
{
    if (s->conn != NULL && PQstatus(s->conn) == CONNECTION_OK)
        return 0;
    if (s->conn != NULL) {
        PQreset(s->conn);
        if (PQstatus(s->conn) == CONNECTION_OK)
            return 0;
        return conn_error(err, s, "suppression list: cannot reconnect to the database");
    }
    const char *keys[] = {"connect_timeout", "application_name", "options", "dbname", NULL};
    const char *vals[] = {"5", "sluice-deliver suppression", "-c statement_timeout=30000", s->cfg->database.url, NULL};
    s->conn = PQconnectdbParams(keys, vals, 1);
    if (s->conn == NULL || PQstatus(s->conn) != CONNECTION_OK)
        return conn_error(err, s, "suppression list: cannot connect to the database");
    PQsetNoticeProcessor(s->conn, quiet_notices, NULL);
    return 0;
}

/* Reads the list when forget_requests changed since the last read. 0 (a new set may be in
 * *out), or -1 with err set. */
static int load(sluice_suppress_t *s, sluice_pseudonym_set_t **out, sluice_err_t *err)
{
    *out = NULL;
    if (connect_pg(s, err) != 0)
        return -1;
    /* count and max together: a request committed late with a lower seq still moves the count. */
    PGresult *g = PQexec(s->conn, "SELECT count(*)::text || '/' || coalesce(max(seq), 0)::text FROM forget_requests");
    if (PQresultStatus(g) != PGRES_TUPLES_OK || PQntuples(g) != 1) {
        PQclear(g);
        return pq_error(err, s->conn, "suppression list");
    }
    char gen[64];
    snprintf(gen, sizeof(gen), "%s", PQgetvalue(g, 0, 0));
    PQclear(g);
    if (strcmp(gen, s->generation) == 0)
        return 0;
    PGresult *r = PQexec(s->conn, "SELECT DISTINCT org, pseudonym FROM forget_suppression");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        return pq_error(err, s->conn, "suppression list");
    }
    sluice_pseudonym_set_t *set = sluice_pseudonym_set_create();
    for (int i = 0; set != NULL && i < PQntuples(r); i++) {
        if (sluice_pseudonym_set_add_hex(set, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1)) == -2) {
            sluice_pseudonym_set_destroy(set);
            set = NULL;
        }
    }
    PQclear(r);
    if (set == NULL)
        return sluice_err_set(err, "suppression list: out of memory");
    sluice_pseudonym_set_seal(set);
    snprintf(s->generation, sizeof(s->generation), "%s", gen);
    sluice_log_info("forget.list_loaded", "suppression list loaded: %zu pseudonyms",
                    sluice_pseudonym_set_count(set, NULL));
    *out = set;
    return 0;
}

static void refresh(sluice_suppress_t *s)
{
    sluice_err_t err = {{0}};
    sluice_pseudonym_set_t *set = NULL;
    if (load(s, &set, &err) != 0) {
        if (!s->down)
            sluice_log_warn("forget.db_unavailable", "%s; skipping by the last list loaded and retrying every %u ms",
                            err.msg, s->cfg->forget.refresh_ms);
        s->down = 1;
        return;
    }
    if (s->down)
        sluice_log_info("forget.db_back", "the suppression list is readable again");
    s->down = 0;
    if (set != NULL)
        sluice_pseudonym_set_destroy(atomic_exchange(&s->handoff, set)); /* one the worker never took */
}

static void *refresher(void *arg)
{
    sluice_suppress_t *s = arg;
    unsigned ms = s->cfg->forget.refresh_ms;
    pthread_mutex_lock(&s->mu);
    while (!s->stop) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += ms / 1000;
        until.tv_nsec += (long)(ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        while (!s->stop && pthread_cond_timedwait(&s->wake, &s->mu, &until) != ETIMEDOUT)
            ;
        if (s->stop)
            break;
        pthread_mutex_unlock(&s->mu);
        refresh(s);
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* ------------------------------------------------------------------ life */

sluice_suppress_t *sluice_suppress_create(const sluice_config_t *cfg, sluice_err_t *err)
{
    if (cfg->forget.key_env != NULL && cfg->forget.key == NULL) {
        sluice_err_set(err,
                       "forget.key_env: %s is not set; without it the worker cannot recognise the ids the gateway "
                       "and sluicectl forget suppress",
                       cfg->forget.key_env);
        return NULL;
    }
    if (cfg->database.url == NULL) {
        sluice_err_set(err, "no database: the suppression list lives in database.url");
        return NULL;
    }
    sluice_suppress_t *s = calloc(1, sizeof(*s));
    if (s == NULL || (s->keys = calloc(cfg->org_count ? cfg->org_count : 1, sizeof(*s->keys))) == NULL) {
        free(s);
        sluice_err_set(err, "out of memory");
        return NULL;
    }
    s->cfg = cfg;
    atomic_init(&s->handoff, NULL);
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->wake, &ca);
    pthread_condattr_destroy(&ca);
    for (size_t i = 0; i < cfg->org_count; i++, s->key_count++) {
        s->keys[i].org = cfg->orgs[i].id;
        if (sluice_pseudonym_org_key(cfg->forget.key, cfg->forget.key_len, cfg->orgs[i].id, s->keys[i].key) != 0) {
            sluice_suppress_destroy(s);
            sluice_err_set(err, "HMAC-SHA256 unavailable");
            return NULL;
        }
    }
    if (load(s, &s->current, err) != 0) {
        sluice_suppress_destroy(s);
        return NULL;
    }
    if (pthread_create(&s->thread, NULL, refresher, s) != 0) {
        sluice_suppress_destroy(s);
        sluice_err_set(err, "cannot start the suppression list's refresher thread");
        return NULL;
    }
    s->running = 1;
    return s;
}

void sluice_suppress_destroy(sluice_suppress_t *s)
{
    if (s == NULL)
        return;
    if (s->running) {
        pthread_mutex_lock(&s->mu);
        s->stop = 1;
        pthread_cond_signal(&s->wake);
        pthread_mutex_unlock(&s->mu);
        /* A refresh blocked in a database that does not answer (paused, cut off without a FIN)
         * must not hold the worker's exit: after 3 s the thread is left with its state. */
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 3;
        if (pthread_timedjoin_np(s->thread, NULL, &until) != 0) {
            sluice_log_warn("forget.stuck", "the suppression list refresh is still waiting on PostgreSQL; not waiting");
            pthread_detach(s->thread);
            return;
        }
    }
    PQfinish(s->conn);
    sluice_pseudonym_set_destroy(atomic_exchange(&s->handoff, NULL));
    sluice_pseudonym_set_destroy(s->current);
    for (size_t i = 0; i < s->key_count; i++)
        sluice_secure_zero(s->keys[i].key, sizeof(s->keys[i].key));
    free(s->keys);
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

/* ------------------------------------------------------------------ the check */

static const char *envelope_get(void *ud, const char *path, size_t *len)
{
    const json_t *v = sluice_envelope_get(ud, path);
    if (!json_is_string(v))
        return NULL;
    *len = json_string_length(v);
    return json_string_value(v);
}

static void take_newer(sluice_suppress_t *s)
{
    sluice_pseudonym_set_t *newer = atomic_exchange(&s->handoff, NULL);
    if (newer != NULL) {
        sluice_pseudonym_set_destroy(s->current);
        s->current = newer;
        s->taken++;
    }
}

uint64_t sluice_suppress_version(sluice_suppress_t *s)
{
    if (s == NULL)
        return 0;
    take_newer(s);
    return s->taken;
}

uint64_t sluice_suppress_checked(const sluice_suppress_t *s)
{
    return s != NULL ? s->taken : 0;
}

int sluice_suppress_match(sluice_suppress_t *s, const sluice_envelope_t *e)
{
    if (s == NULL)
        return 0;
    take_newer(s);
    if (sluice_pseudonym_set_count(s->current, e->org) == 0)
        return 0;
    for (size_t i = 0; i < s->key_count; i++)
        if (strcmp(s->keys[i].org, e->org) == 0)
            return sluice_pseudonym_set_match(s->current, e->org, s->keys[i].key, envelope_get, (void *)e);
    /* An org this worker's config does not name (its routes would not deliver it anyway). */
    uint8_t key[SLUICE_PSEUDONYM_LEN];
    int hit = sluice_pseudonym_org_key(s->cfg->forget.key, s->cfg->forget.key_len, e->org, key) == 0 &&
              sluice_pseudonym_set_match(s->current, e->org, key, envelope_get, (void *)e);
    sluice_secure_zero(key, sizeof(key));
    return hit;
}

int sluice_suppress_match_event(sluice_suppress_t *s, const char *org, json_t *event)
{
    if (s == NULL || org == NULL || !json_is_object(event))
        return 0;
    /* The match reads the org and the ids under the event only (envelope_get). */
    sluice_envelope_t e;
    memset(&e, 0, sizeof(e));
    e.org = org;
    e.event = event;
    return sluice_suppress_match(s, &e);
}
