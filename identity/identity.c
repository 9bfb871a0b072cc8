/*
 * Per-thread identity state and the per-request identity job. Loop thread of the request.
 *
 * messageId dedup is "check before, remember after": EXISTS before producing, SET ... EX once
 * Kafka acknowledged. Setting the key up front (SET NX) would lose the event when Kafka then
 * refuses it and the client's retry is taken for a duplicate; this way a failure can only let a
 * duplicate through, never drop an event.
 */
#include "identity/identity.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/random.h"

sluice_identity_thread_t *sluice_identity_thread_create(const sluice_config_t *cfg, h2o_loop_t *loop,
                                                        const sluice_keyring_t *keys, sluice_err_t *err)
{
    sluice_identity_thread_t *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        sluice_err_set(err, "out of memory");
        return NULL;
    }
    t->loop = loop;
    t->keys = keys;
    if (cfg->redis.url != NULL && cfg->redis.host[0] != '\0') {
        t->redis = sluice_redis_create(loop, cfg->redis.host, cfg->redis.port, cfg->redis.db, cfg->redis.timeout_ms);
        if (t->redis == NULL) {
            sluice_err_set(err, "redis.url: cannot resolve host %s", cfg->redis.host);
            free(t);
            return NULL;
        }
    }
    return t;
}

void sluice_identity_thread_destroy(sluice_identity_thread_t *t)
{
    if (t == NULL)
        return;
    sluice_redis_destroy(t->redis);
    free(t);
}

int sluice_identity_needs_keys(const sluice_config_t *cfg)
{
    for (size_t i = 0; i < cfg->org_count; i++)
        if (cfg->orgs[i].identity.xd_domain_count > 0)
            return 1;
    return 0;
}

static void count_error(sluice_identity_thread_t *t)
{
    atomic_store_explicit(&t->redis_errors, atomic_load_explicit(&t->redis_errors, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

/* ------------------------------------------------------------------ dedup */

typedef struct dedup_probe {
    sluice_identity_job_t *job;
    size_t index;
} dedup_probe_t;

static void job_step_done(sluice_identity_job_t *job)
{
    if (--job->waiting == 0)
        job->done(job);
}

static void on_exists(void *ud, sluice_redis_status_t status, const redisReply *reply)
{
    dedup_probe_t *p = ud;
    sluice_identity_job_t *job = p->job;
    if (status == SLUICE_REDIS_OK && reply->type == REDIS_REPLY_INTEGER && reply->integer > 0)
        job->duplicate[p->index] = 1;
    else if (status != SLUICE_REDIS_OK)
        count_error(job->t);
    free(p);
    job_step_done(job);
}

static int dedup_key(char *out, size_t cap, const sluice_org_t *org, const char *message_id)
{
    int n = snprintf(out, cap, "sluice:dedup:%s:%s", org->id, message_id);
    return n > 0 && (size_t)n < cap ? n : -1;
}

static void start_dedup(sluice_identity_job_t *job)
{
    size_t i;
    json_t *ev;
    json_array_foreach(job->events, i, ev) {
        const char *mid = json_string_value(json_object_get(ev, "messageId"));
        char key[512];
        int klen = mid ? dedup_key(key, sizeof(key), job->org, mid) : -1;
        if (klen < 0)
            continue;
        dedup_probe_t *p = malloc(sizeof(*p));
        if (p == NULL)
            continue;
        *p = (dedup_probe_t){job, i};
        const char *argv[2] = {"EXISTS", key};
        size_t lens[2] = {6, (size_t)klen};
        job->waiting++;
        if (sluice_redis_command(job->t->redis, on_exists, p, 2, argv, lens) != 0) {
            job->waiting--;
            count_error(job->t);
            free(p);
        }
    }
}

int sluice_identity_run(sluice_identity_thread_t *t, sluice_identity_job_t *job)
{
    size_t n = json_array_size(job->events);
    job->t = t;
    job->duplicate = calloc(n ? n : 1, 1);
    if (job->duplicate == NULL)
        return -1;
    /* One count for this function itself, so the job cannot finish while commands are still
     * being sent; replies only ever arrive from the loop, after we return. */
    job->waiting = 1;
    if (job->org->identity.dedup_enabled && t->redis != NULL)
        start_dedup(job);
    job_step_done(job);
    return 0;
}

void sluice_identity_job_dispose(sluice_identity_job_t *job)
{
    free(job->duplicate);
    job->duplicate = NULL;
}

int sluice_identity_assign(json_t *event)
{
    if (json_is_string(json_object_get(event, "anonymousId")) || json_is_string(json_object_get(event, "userId")))
        return 0;
    char id[37];
    if (sluice_uuid_v4(id) != 0)
        return -1;
    json_object_set_new(event, "anonymousId", json_string(id));
    return 0;
}

static void on_remembered(void *ud, sluice_redis_status_t status, const redisReply *reply)
{
    (void)reply;
    sluice_identity_thread_t *t = ud;
    if (status != SLUICE_REDIS_OK)
        count_error(t);
}

void sluice_identity_remember(sluice_identity_thread_t *t, const sluice_org_t *org, const char *message_id)
{
    if (!org->identity.dedup_enabled || t->redis == NULL || message_id == NULL)
        return;
    char key[512], ttl[16];
    int klen = dedup_key(key, sizeof(key), org, message_id);
    if (klen < 0)
        return;
    int tlen = snprintf(ttl, sizeof(ttl), "%u", org->identity.dedup_window_s);
    const char *argv[5] = {"SET", key, "1", "EX", ttl};
    size_t lens[5] = {3, (size_t)klen, 1, 2, (size_t)tlen};
    if (sluice_redis_command(t->redis, on_remembered, t, 5, argv, lens) != 0)
        count_error(t);
}
