/*
 * The harness's Redis service: one redis-server child per sluice_th_redis_t, checked with a
 * hiredis PING (or, TLS only, a connection and its log), and stunnel in front of a TLS one. Runs
 * on the harness thread.
 */
#include "tests/harness/redis.h"

#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

#define READY_TIMEOUT_MS 10000

int sluice_th_redis_ping(const sluice_th_redis_t *r, sluice_err_t *err)
{
    if (r->opts.tls_dir != NULL) {
        if (sluice_th_port_open(r->port))
            return 0;
        return sluice_err_set(err, "redis 127.0.0.1:%d (TLS): not accepting connections", r->port);
    }
    struct timeval tv = {.tv_sec = 1};
    const char *host = r->opts.bind != NULL ? r->opts.bind : "127.0.0.1";
    redisContext *c = redisConnectWithTimeout(host, r->port, tv);
    if (!c || c->err) {
        sluice_err_set(err, "redis %s:%d: %s", host, r->port, c ? c->errstr : "out of memory");
        redisFree(c);
        return -1;
    }
    redisSetTimeout(c, tv);
    if (r->opts.password != NULL) {
        redisReply *a = redisCommand(c, "AUTH %s", r->opts.password);
        int ok = a != NULL && a->type == REDIS_REPLY_STATUS;
        if (a != NULL)
            freeReplyObject(a);
        if (!ok) {
            redisFree(c);
            return sluice_err_set(err, "redis %s:%d: AUTH refused", host, r->port);
        }
    }
    redisReply *reply = redisCommand(c, "PING");
    int ok = reply && reply->type == REDIS_REPLY_STATUS && strcmp(reply->str, "PONG") == 0;
    if (!ok)
        sluice_err_set(err, "redis %s:%d: PING: %s", host, r->port,
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
    return sluice_th_redis_start_opts(r, port, NULL, err);
}

static int start_once(sluice_th_redis_t *r, int port, sluice_err_t *err);

int sluice_th_redis_start_opts(sluice_th_redis_t *r, int port, const sluice_th_redis_opts_t *opts, sluice_err_t *err)
{
    if (opts != NULL)
        r->opts = *opts;
    if (r->proc && sluice_th_proc_running(r->proc))
        return sluice_err_set(err, "redis is already running on port %d", r->port);
    if (port != 0)
        return start_once(r, port, err);
    /* A free port is free when asked, not when redis-server binds it (another test on the
     * machine may take it meanwhile), and a cluster node also binds port + 10000, which was never
     * asked about: gateway_dedup's cluster failed with "Failed listening on port 39762
     * (cluster)". Another free port is tried then. */
    for (int attempt = 0;; attempt++) {
        if ((port = sluice_th_free_port(err)) < 0)
            return -1;
        if (start_once(r, port, err) == 0)
            return 0;
        if (attempt == 4 || strstr(err->msg, "Failed listening on port") == NULL)
            return -1;
    }
}

static int start_once(sluice_th_redis_t *r, int port, sluice_err_t *err)
{
    r->port = port;
    const char *bind = r->opts.bind != NULL ? r->opts.bind : "127.0.0.1";
    snprintf(r->url, sizeof(r->url), "redis://%s:%d", bind, port);

    char name[64], port_s[16];
    if (r->opts.bind != NULL)
        snprintf(name, sizeof(name), "redis-%s-%d", bind, port); /* two servers may share a port */
    else
        snprintf(name, sizeof(name), "redis-%d", port);
    snprintf(port_s, sizeof(port_s), "%d", port);
    const char *dir = sluice_th_tmpdir(err);
    if (!dir)
        return -1;
    /* --logfile "" sends the log to stdout, i.e. to the harness's log file. */
    /* clang-format off */ /* one option and its value per line */
    const char *base[] = {"redis-server",
                          "--bind", bind,
                          "--port", port_s,
                          "--save", "",
                          "--appendonly", "no",
                          "--daemonize", "no",
                          "--dir", dir,
                          "--logfile", "",
                          NULL};
    /* clang-format on */
    const char *argv[96];
    size_t n = 0;
    for (size_t i = 0; base[i] != NULL; i++)
        argv[n++] = base[i];
    char cert[600], key[600], ca[600];
    if (r->opts.tls_dir != NULL) {
        snprintf(cert, sizeof(cert), "%s/server.crt", r->opts.tls_dir);
        snprintf(key, sizeof(key), "%s/server.key", r->opts.tls_dir);
        snprintf(ca, sizeof(ca), "%s/ca.crt", r->opts.tls_dir);
        argv[4] = "0"; /* no plain port */
        const char *tls[] = {"--tls-port",         port_s, "--tls-cert-file",    cert, "--tls-key-file", key,
                             "--tls-ca-cert-file", ca,     "--tls-auth-clients", "no"};
        for (size_t i = 0; i < sizeof(tls) / sizeof(tls[0]); i++)
            argv[n++] = tls[i];
    }
    if (r->opts.password != NULL) {
        argv[n++] = "--requirepass";
        argv[n++] = r->opts.password;
    }
    for (size_t i = 0; r->opts.extra != NULL && r->opts.extra[i] != NULL && n + 1 < sizeof(argv) / sizeof(argv[0]); i++)
        argv[n++] = r->opts.extra[i];
    argv[n] = NULL;
    r->proc = sluice_th_spawn(name, argv, NULL, err);
    if (!r->proc)
        return -1;
    if (sluice_th_wait_until(answers_ping, r, READY_TIMEOUT_MS) != 0 || !sluice_th_proc_running(r->proc) ||
        (r->opts.tls_dir != NULL &&
         sluice_th_wait_log(r->proc, "Ready to accept connections", 1, READY_TIMEOUT_MS, NULL) != 0)) {
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

static int stunnel_up(void *arg)
{
    sluice_th_stunnel_t *s = arg;
    return !sluice_th_proc_running(s->proc) || sluice_th_port_open(s->port);
}

int sluice_th_stunnel_start(sluice_th_stunnel_t *s, int connect_port, const char *ca_file, sluice_err_t *err)
{
    int port = sluice_th_free_port(err);
    if (port < 0)
        return -1;
    char conf_path[600], conf[2048], name[32];
    snprintf(name, sizeof(name), "stunnel-%d", port);
    snprintf(conf, sizeof(conf),
             "foreground = yes\n"
             "pid =\n"
             "debug = notice\n"
             "[redis]\n"
             "client = yes\n"
             "accept = 127.0.0.1:%d\n"
             "connect = 127.0.0.1:%d\n"
             "CAfile = %s\n"
             "verifyChain = yes\n"
             "checkHost = localhost\n",
             port, connect_port, ca_file);
    snprintf(conf_path, sizeof(conf_path), "%s.conf", name);
    char full[700];
    if (sluice_th_path(full, sizeof(full), conf_path, err) != 0)
        return -1;
    FILE *f = fopen(full, "w");
    if (f == NULL || fputs(conf, f) < 0 || fclose(f) != 0)
        return sluice_err_set(err, "cannot write %s", full);
    const char *argv[] = {"stunnel", full, NULL};
    s->port = port;
    snprintf(s->url, sizeof(s->url), "redis://127.0.0.1:%d", port);
    if ((s->proc = sluice_th_spawn(name, argv, NULL, err)) == NULL)
        return -1;
    if (sluice_th_wait_until(stunnel_up, s, READY_TIMEOUT_MS) != 0 || !sluice_th_proc_running(s->proc)) {
        char tail[200];
        sluice_th_log_tail(s->proc, tail, sizeof(tail));
        sluice_th_proc_stop(s->proc, 1000, NULL, NULL);
        return sluice_err_set(err, "stunnel did not start (is Debian's stunnel4 installed? log: %s)", tail);
    }
    return 0;
}
