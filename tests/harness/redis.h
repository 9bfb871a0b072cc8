/*
 * A real redis-server for tests and the dev stack: 127.0.0.1 only, no persistence, on a free
 * port (or a given one), and restartable on the same port so fault tests can take Redis away
 * mid-test and bring it back. Optionally with a password on the default user, ACL users
 * (redis-server's own --user rules), and TLS only (Redis 7 as Debian builds it), for the tests of
 * an authenticated Redis reached through stunnel. Same threading and error rules as harness.h.
 */
#ifndef SLUICE_TESTS_HARNESS_REDIS_H
#define SLUICE_TESTS_HARNESS_REDIS_H

#include "tests/harness/harness.h"

/* How to start it; zero-initialise. */
typedef struct sluice_th_redis_opts {
    const char *password;     /* requirepass of the default user (the harness's PING authenticates) */
    const char *const *extra; /* more redis-server arguments, NULL-terminated, e.g. "--user", "u", "on", ... */
    const char *tls_dir;      /* TLS only: <tls_dir>/server.crt, server.key, ca.crt; no plain port */
    const char *bind;         /* a loopback address other than 127.0.0.1 (127.0.0.2: two servers, one port) */
} sluice_th_redis_opts_t;

/* Caller storage; zero-initialise. The fields are read-only for the caller. */
typedef struct sluice_th_redis {
    int port;
    char url[64];           /* "redis://127.0.0.1:<port>" */
    sluice_th_proc_t *proc; /* NULL until started */
    sluice_th_redis_opts_t opts;
} sluice_th_redis_t;

/* Starts `redis-server --bind 127.0.0.1 --port P --save '' --appendonly no` (port 0: a free one)
 * and returns once it answers PING with PONG (at most 10 s). -1 if it cannot start or never
 * answers; the message then quotes the end of its log. */
int sluice_th_redis_start(sluice_th_redis_t *r, int port, sluice_err_t *err);

/* The same with options (opts may be NULL; its strings must outlive r: restart reuses them). A
 * TLS-only server counts as ready once it accepts connections and logs that it is ready. */
int sluice_th_redis_start_opts(sluice_th_redis_t *r, int port, const sluice_th_redis_opts_t *opts, sluice_err_t *err);

/* Stops it (SIGTERM, SIGKILL after 10 s). 0 also when it was not running. */
int sluice_th_redis_stop(sluice_th_redis_t *r, sluice_err_t *err);

/* Starts it again on the same port after a stop (a fresh, empty server). */
int sluice_th_redis_restart(sluice_th_redis_t *r, sluice_err_t *err);

/* Sends PING over a new connection (after AUTH when it has a password): 0 when the answer is PONG
 * (within 1 s). A TLS-only server: 0 when it accepts a connection. */
int sluice_th_redis_ping(const sluice_th_redis_t *r, sluice_err_t *err);

/* stunnel (Debian's stunnel4) in client mode: plain TCP on a free 127.0.0.1 port, TLS to
 * 127.0.0.1:connect_port, the server's certificate checked against ca_file for the name
 * "localhost". What production does to reach a TLS Redis from sluice (docs/identity.md). */
typedef struct sluice_th_stunnel {
    int port;               /* where sluice connects */
    char url[64];           /* "redis://127.0.0.1:<port>" */
    sluice_th_proc_t *proc; /* NULL until started */
} sluice_th_stunnel_t;

/* Starts it and returns once its port accepts connections (at most 10 s). */
int sluice_th_stunnel_start(sluice_th_stunnel_t *s, int connect_port, const char *ca_file, sluice_err_t *err);

#endif
