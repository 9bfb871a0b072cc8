/*
 * The high-watermark thread (hwm.h). Entries (lane, partition) are only ever added, at most one
 * per partition a lane held; the loop marks one wanted and reads its last answer, the thread
 * asks the broker for the wanted ones with the mutex released. Threads: the worker's loop and
 * this thread.
 */
#include "vendors/hwm.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* A broker that does not answer holds only this thread, this long per partition. */
#define QUERY_TIMEOUT_MS 2000

typedef struct entry {
    rd_kafka_t *rk;
    int lane;
    int32_t partition;
    int wanted;
    int64_t high;
} entry_t;

struct sluice_hwm {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    int stop;
    char *topic;
    entry_t *e;
    size_t n, cap;
};

static void *asker(void *arg)
{
    sluice_hwm_t *h = arg;
    pthread_mutex_lock(&h->mu);
    while (!h->stop) {
        size_t i = 0;
        while (i < h->n && !h->e[i].wanted)
            i++;
        if (i == h->n) {
            pthread_cond_wait(&h->cond, &h->mu);
            continue;
        }
        h->e[i].wanted = 0;
        rd_kafka_t *rk = h->e[i].rk;
        int32_t partition = h->e[i].partition;
        pthread_mutex_unlock(&h->mu);
        int64_t lo = -1, hi = -1;
        rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(rk, h->topic, partition, &lo, &hi, QUERY_TIMEOUT_MS);
        pthread_mutex_lock(&h->mu);
        /* Entries are never removed, so i still names the same one (h->e may have moved). */
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR && hi > h->e[i].high)
            h->e[i].high = hi;
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

sluice_hwm_t *sluice_hwm_create(const char *topic, sluice_err_t *err)
{
    sluice_hwm_t *h = calloc(1, sizeof(*h));
    if (h == NULL || (h->topic = strdup(topic)) == NULL) {
        free(h);
        sluice_err_set(err, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cond, NULL);
    int e = pthread_create(&h->thread, NULL, asker, h);
    if (e != 0) {
        pthread_cond_destroy(&h->cond);
        pthread_mutex_destroy(&h->mu);
        free(h->topic);
        free(h);
        sluice_err_set(err, "starting the watermark thread: %s", strerror(e));
        return NULL;
    }
    return h;
}

static entry_t *find(sluice_hwm_t *h, int lane, int32_t partition)
{
    for (size_t i = 0; i < h->n; i++)
        if (h->e[i].lane == lane && h->e[i].partition == partition)
            return &h->e[i];
    return NULL;
}

int sluice_hwm_want(sluice_hwm_t *h, rd_kafka_t *rk, int lane, int32_t partition)
{
    pthread_mutex_lock(&h->mu);
    entry_t *e = find(h, lane, partition);
    if (e == NULL) {
        if (h->n == h->cap) {
            size_t cap = h->cap ? h->cap * 2 : 16;
            entry_t *ne = realloc(h->e, cap * sizeof(*ne));
            if (ne == NULL) {
                pthread_mutex_unlock(&h->mu);
                return -1;
            }
            h->e = ne;
            h->cap = cap;
        }
        e = &h->e[h->n++];
        *e = (entry_t){.lane = lane, .partition = partition, .high = -1};
    }
    e->rk = rk;
    e->wanted = 1;
    pthread_cond_signal(&h->cond);
    pthread_mutex_unlock(&h->mu);
    return 0;
}

int64_t sluice_hwm_get(sluice_hwm_t *h, int lane, int32_t partition)
{
    pthread_mutex_lock(&h->mu);
    const entry_t *e = find(h, lane, partition);
    int64_t high = e != NULL ? e->high : -1;
    pthread_mutex_unlock(&h->mu);
    return high;
}

void sluice_hwm_destroy(sluice_hwm_t *h)
{
    if (h == NULL)
        return;
    pthread_mutex_lock(&h->mu);
    h->stop = 1;
    pthread_cond_signal(&h->cond);
    pthread_mutex_unlock(&h->mu);
    pthread_join(h->thread, NULL);
    pthread_cond_destroy(&h->cond);
    pthread_mutex_destroy(&h->mu);
    free(h->e);
    free(h->topic);
    free(h);
}
