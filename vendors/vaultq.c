/*
 * The vault reader thread (vaultq.h). Requests live in a hash table guarded by one mutex, the
 * queued ones also in a FIFO: the loop adds one per missing credential and takes its answer back;
 * the thread takes the oldest queued one, reads it with the mutex released, and stores the answer.
 * Plaintext answers waiting for the loop are wiped when dropped. Threads: the worker's loop and
 * this reader.
 *
 * At 2,000 orgs the first events (and every credentials_ttl_s) ask for thousands of credentials
 * at once, and each parked batch asks again every 20 ms: a list scanned on every ask cost the loop
 * millions of comparisons a second, under the mutex the reader needs to store each answer, and
 * the reader took the newest request first, so the oldest waited for all the others.
 */
#include "vendors/vaultq.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/time.h"

enum { R_QUEUED, R_RUNNING, R_DONE };

#define VQ_BUCKETS 4096 /* a power of two; several credentials per bucket still find theirs fast */

typedef struct req {
    char *org, *name, *vendor;
    unsigned hash;
    int state;
    int64_t asked_ms;
    int rc;
    char *secret;
    size_t len;
    sluice_err_t err;
    struct req *hnext; /* the bucket's chain */
    struct req *qnext; /* the FIFO of queued requests, while R_QUEUED */
} req_t;

struct sluice_vaultq {
    sluice_vault_t *vault;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    int stop;
    req_t *buckets[VQ_BUCKETS];
    req_t *qhead, *qtail;
    size_t undone;       /* queued or running */
    int64_t answered_ms; /* monotonic: when the reader last finished a read (0: never) */
};

static void req_free(req_t *r)
{
    if (r->secret != NULL)
        sluice_vault_free_secret(r->secret, r->len);
    free(r->org);
    free(r->name);
    free(r->vendor);
    free(r);
}

static unsigned key_hash(const char *org, const char *name, const char *vendor)
{
    unsigned h = 2166136261u; /* FNV-1a over the three names and their NULs */
    for (const char *parts[3] = {org, name, vendor}, **p = parts; p < parts + 3; p++) {
        for (const unsigned char *c = (const unsigned char *)*p;; c++) {
            h = (h ^ *c) * 16777619u;
            if (*c == '\0')
                break;
        }
    }
    return h;
}

static void *reader(void *arg)
{
    sluice_vaultq_t *q = arg;
    pthread_mutex_lock(&q->mu);
    for (;;) {
        if (q->stop)
            break;
        req_t *r = q->qhead;
        if (r == NULL) {
            pthread_cond_wait(&q->cond, &q->mu);
            continue;
        }
        q->qhead = r->qnext;
        if (q->qhead == NULL)
            q->qtail = NULL;
        r->qnext = NULL;
        r->state = R_RUNNING;
        pthread_mutex_unlock(&q->mu);
        char *secret = NULL;
        size_t len = 0;
        sluice_err_t err = {{0}};
        int rc = sluice_vault_get(q->vault, r->org, r->name, r->vendor, &secret, &len, &err);
        pthread_mutex_lock(&q->mu);
        /* r stays in the table while RUNNING: only this thread or destroy (after the join) frees it. */
        r->rc = rc;
        r->secret = secret;
        r->len = len;
        r->err = err;
        r->state = R_DONE;
        q->undone--;
        q->answered_ms = sluice_mono_ms();
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

sluice_vaultq_t *sluice_vaultq_create(sluice_vault_t *vault, sluice_err_t *err)
{
    sluice_vaultq_t *q = calloc(1, sizeof(*q));
    if (q == NULL) {
        sluice_err_set(err, "out of memory");
        return NULL;
    }
    q->vault = vault;
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cond, NULL);
    int e = pthread_create(&q->thread, NULL, reader, q);
    if (e != 0) {
        pthread_cond_destroy(&q->cond);
        pthread_mutex_destroy(&q->mu);
        free(q);
        sluice_err_set(err, "starting the vault reader thread: %s", strerror(e));
        return NULL;
    }
    return q;
}

int sluice_vaultq_get(sluice_vaultq_t *q, const char *org, const char *name, const char *vendor, int64_t now_ms,
                      char **secret, size_t *len, int64_t *waiting_ms, sluice_err_t *err)
{
    *secret = NULL;
    *len = 0;
    *waiting_ms = 0;
    unsigned h = key_hash(org, name, vendor);
    pthread_mutex_lock(&q->mu);
    req_t **pp = &q->buckets[h & (VQ_BUCKETS - 1)];
    while (*pp != NULL && ((*pp)->hash != h || strcmp((*pp)->org, org) != 0 || strcmp((*pp)->name, name) != 0 ||
                           strcmp((*pp)->vendor, vendor) != 0))
        pp = &(*pp)->hnext;
    req_t *r = *pp;
    if (r != NULL && r->state == R_DONE) {
        *pp = r->hnext;
        pthread_mutex_unlock(&q->mu);
        int rc = r->rc;
        *secret = r->secret;
        *len = r->len;
        r->secret = NULL;
        *err = r->err;
        req_free(r);
        return rc;
    }
    if (r == NULL) {
        r = calloc(1, sizeof(*r));
        if (r == NULL || (r->org = strdup(org)) == NULL || (r->name = strdup(name)) == NULL ||
            (r->vendor = strdup(vendor)) == NULL) {
            pthread_mutex_unlock(&q->mu);
            if (r != NULL)
                req_free(r);
            return sluice_err_set(err, "out of memory");
        }
        r->hash = h;
        r->state = R_QUEUED;
        r->asked_ms = now_ms;
        r->hnext = q->buckets[h & (VQ_BUCKETS - 1)];
        q->buckets[h & (VQ_BUCKETS - 1)] = r;
        if (q->qtail != NULL)
            q->qtail->qnext = r;
        else
            q->qhead = r;
        q->qtail = r;
        q->undone++;
        pthread_cond_signal(&q->cond);
    }
    /* How long PostgreSQL has kept this read waiting: since it was asked, or, when the reader
     * answered another read since, since that answer. Reads queued behind others on a database
     * that answers each in turn are not a stall; counted from the ask, thousands of them at once
     * failed as "PostgreSQL has not answered" while it answered every one. A stalled database
     * answers nothing, so every wait still grows past the integration's timeout_ms. */
    int64_t since = r->asked_ms > q->answered_ms ? r->asked_ms : q->answered_ms;
    *waiting_ms = now_ms > since ? now_ms - since : 0;
    pthread_mutex_unlock(&q->mu);
    return SLUICE_VAULTQ_PENDING;
}

size_t sluice_vaultq_pending(sluice_vaultq_t *q)
{
    pthread_mutex_lock(&q->mu);
    size_t n = q->undone;
    pthread_mutex_unlock(&q->mu);
    return n;
}

int sluice_vaultq_destroy(sluice_vaultq_t *q, int wait_ms)
{
    if (q == NULL)
        return 0;
    pthread_mutex_lock(&q->mu);
    q->stop = 1;
    pthread_cond_signal(&q->cond);
    pthread_mutex_unlock(&q->mu);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += wait_ms / 1000;
    until.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    int e = pthread_timedjoin_np(q->thread, NULL, &until);
    if (e == ETIMEDOUT) {
        sluice_log_warn("vault.stuck",
                        "the vault reader is still waiting on PostgreSQL after %d ms; not waiting longer", wait_ms);
        pthread_detach(q->thread);
        return -1;
    }
    for (size_t b = 0; b < VQ_BUCKETS; b++) {
        for (req_t *r = q->buckets[b], *next; r != NULL; r = next) {
            next = r->hnext;
            req_free(r);
        }
    }
    pthread_cond_destroy(&q->cond);
    pthread_mutex_destroy(&q->mu);
    free(q);
    return 0;
}
