/*
 * The vault reader thread (vaultq.h). Requests live in a short list guarded by one mutex: the
 * loop adds one per missing credential and takes its answer back; the thread takes the oldest
 * queued one, reads it with the mutex released, and stores the answer. Plaintext answers waiting
 * for the loop are wiped when dropped. Threads: the worker's loop and this reader.
 */
#include "vendors/vaultq.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"

enum { R_QUEUED, R_RUNNING, R_DONE };

typedef struct req {
    char *org, *name, *vendor;
    int state;
    int64_t asked_ms;
    int rc;
    char *secret;
    size_t len;
    sluice_err_t err;
    struct req *next;
} req_t;

struct sluice_vaultq {
    sluice_vault_t *vault;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    int stop;
    req_t *head;
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

static void *reader(void *arg)
{
    sluice_vaultq_t *q = arg;
    pthread_mutex_lock(&q->mu);
    for (;;) {
        req_t *r = q->head;
        while (r != NULL && r->state != R_QUEUED)
            r = r->next;
        if (q->stop)
            break;
        if (r == NULL) {
            pthread_cond_wait(&q->cond, &q->mu);
            continue;
        }
        r->state = R_RUNNING;
        pthread_mutex_unlock(&q->mu);
        char *secret = NULL;
        size_t len = 0;
        sluice_err_t err = {{0}};
        int rc = sluice_vault_get(q->vault, r->org, r->name, r->vendor, &secret, &len, &err);
        pthread_mutex_lock(&q->mu);
        /* r stays in the list while RUNNING: only this thread or destroy (after the join) frees it. */
        r->rc = rc;
        r->secret = secret;
        r->len = len;
        r->err = err;
        r->state = R_DONE;
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
    pthread_mutex_lock(&q->mu);
    req_t **pp = &q->head;
    while (*pp != NULL &&
           (strcmp((*pp)->org, org) != 0 || strcmp((*pp)->name, name) != 0 || strcmp((*pp)->vendor, vendor) != 0))
        pp = &(*pp)->next;
    req_t *r = *pp;
    if (r != NULL && r->state == R_DONE) {
        *pp = r->next;
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
        r->state = R_QUEUED;
        r->asked_ms = now_ms;
        r->next = q->head;
        q->head = r;
        pthread_cond_signal(&q->cond);
    }
    *waiting_ms = now_ms - r->asked_ms;
    pthread_mutex_unlock(&q->mu);
    return SLUICE_VAULTQ_PENDING;
}

size_t sluice_vaultq_pending(sluice_vaultq_t *q)
{
    size_t n = 0;
    pthread_mutex_lock(&q->mu);
    for (req_t *r = q->head; r != NULL; r = r->next)
        n += r->state != R_DONE;
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
    for (req_t *r = q->head, *next; r != NULL; r = next) {
        next = r->next;
        req_free(r);
    }
    pthread_cond_destroy(&q->cond);
    pthread_mutex_destroy(&q->mu);
    free(q);
    return 0;
}
