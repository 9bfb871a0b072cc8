/*
 * The harness's Redis service: one redis-server child per sluice_th_redis_t, checked with a
 * hiredis PING. Runs on the harness thread.
 */
#include "tests/harness/redis.h"

#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

#define READY_TIMEOUT_MS 10000

int sluice_th_redis_ping(const sluice_th_redis_t *r, sluice_err_t *err)
{
    struct timeval tv = {.tv_sec = 1};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", r->port, tv);
    if (!c || c->err) {
        sluice_err_set(err, "redis 127.0.0.1:%d: %s", r->port, c ? c->errstr : "out of memory");
        redisFree(c);
        return -1;
    }
    redisSetTimeout(c, tv);
    redisReply *reply = redisCommand(c, "PING");
    int ok = reply && reply->type == REDIS_REPLY_STATUS && strcmp(reply->str, "PONG") == 0;
    if (!ok)
        sluice_err_set(err, "redis 127.0.0.1:%d: PING: %s", r->port,
                       reply          ? "unexpected reply"
                       : c->errstr[0] ? c->errstr
                                      : "no reply");
    if (reply)
        freeReplyObject(reply);
    redisFree(c);
    return ok ? 0 : -1;
}

static int answers_ping(void *arg)
{
    const sluice_th_redis_t *r = arg;
    return !sluice_th_proc_running(r->proc) || sluice_th_redis_ping(r, NULL) == 0;
}

int sluice_th_redis_start(sluice_th_redis_t *r, int port, sluice_err_t *err)
{
    if (r->proc && sluice_th_proc_running(r->proc))
        return sluice_err_set(err, "redis is already running on port %d", r->port);
    if (port == 0 && (port = sluice_th_free_port(err)) < 0)
        return -1;
    r->port = port;
    snprintf(r->url, sizeof(r->url), "redis://127.0.0.1:%d", port);

    char name[32], port_s[16];
    snprintf(name, sizeof(name), "redis-%d", port);
    snprintf(port_s, sizeof(port_s), "%d", port);
    const char *dir = sluice_th_tmpdir(err);
    if (!dir)
        return -1;
    /* --logfile "" sends the log to stdout, i.e. to the harness's log file. */
    /* clang-format off */ /* one option and its value per line */
    const char *argv[] = {"redis-server",
                          "--bind", "127.0.0.1",
                          "--port", port_s,
                          "--save", "",
                          "--appendonly", "no",
                          "--daemonize", "no",
                          "--dir", dir,
                          "--logfile", "",
                          NULL};
    /* clang-format on */
    r->proc = sluice_th_spawn(name, argv, NULL, err);
    if (!r->proc)
        return -1;
    if (sluice_th_wait_until(answers_ping, r, READY_TIMEOUT_MS) != 0 || !sluice_th_proc_running(r->proc)) {
        char tail[200];
        sluice_th_log_tail(r->proc, tail, sizeof(tail));
        int running = sluice_th_proc_running(r->proc);
        sluice_th_proc_stop(r->proc, 1000, NULL, NULL);
        return sluice_err_set(err, "redis-server on port %d %s (log: %s)", port,
                              running ? "did not answer PING within 10 s" : "exited during start-up", tail);
    }
    return 0;
}

int sluice_th_redis_stop(sluice_th_redis_t *r, sluice_err_t *err)
{
    if (!r->proc)
        return 0;
    return sluice_th_proc_stop(r->proc, SLUICE_TH_STOP_TIMEOUT_MS, NULL, err);
}

int sluice_th_redis_restart(sluice_th_redis_t *r, sluice_err_t *err)
{
    if (r->port == 0)
        return sluice_err_set(err, "redis was never started, so there is no port to restart on");
    return sluice_th_redis_start(r, r->port, err);
}
