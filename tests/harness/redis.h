/*
 * A real redis-server for tests and the dev stack: 127.0.0.1 only, no persistence, on a free
 * port (or a given one), and restartable on the same port so fault tests can take Redis away
 * mid-test and bring it back. Same threading and error rules as harness.h.
 */
#ifndef SLUICE_TESTS_HARNESS_REDIS_H
#define SLUICE_TESTS_HARNESS_REDIS_H

#include "tests/harness/harness.h"

/* Caller storage; zero-initialise. The fields are read-only for the caller. */
typedef struct sluice_th_redis {
    int port;
    char url[64];           /* "redis://127.0.0.1:<port>" */
    sluice_th_proc_t *proc; /* NULL until started */
} sluice_th_redis_t;

/* Starts `redis-server --bind 127.0.0.1 --port P --save '' --appendonly no` (port 0: a free one)
 * and returns once it answers PING with PONG (at most 10 s). -1 if it cannot start or never
 * answers; the message then quotes the end of its log. */
int sluice_th_redis_start(sluice_th_redis_t *r, int port, sluice_err_t *err);

/* Stops it (SIGTERM, SIGKILL after 10 s). 0 also when it was not running. */
int sluice_th_redis_stop(sluice_th_redis_t *r, sluice_err_t *err);

/* Starts it again on the same port after a stop (a fresh, empty server). */
int sluice_th_redis_restart(sluice_th_redis_t *r, sluice_err_t *err);

/* Sends PING over a new connection: 0 when the answer is PONG (within 1 s). */
int sluice_th_redis_ping(const sluice_th_redis_t *r, sluice_err_t *err);

#endif
