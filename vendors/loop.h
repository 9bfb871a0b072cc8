/*
 * The worker's event loop: epoll over file descriptors (libcurl's sockets, librdkafka's wake-up
 * pipes, the metrics listener and its connections, a signalfd). Timers are not here: the worker
 * computes the next deadline of its own timers and libcurl's and passes it as the wait.
 *
 * A watch is keyed by fd and carries a generation number, so events already fetched for an fd
 * that was unwatched (and maybe reused by a new socket) in the same round are dropped instead
 * of reaching the new owner.
 *
 * Threading: one loop per thread; every function from that thread only.
 */
#ifndef SLUICE_VENDORS_LOOP_H
#define SLUICE_VENDORS_LOOP_H

#include "common/err.h"

#define SLUICE_LOOP_IN  1u
#define SLUICE_LOOP_OUT 2u
#define SLUICE_LOOP_ERR 4u /* error or hang-up; reported whatever was asked for */

typedef struct sluice_loop sluice_loop_t;

/* Called with the ready events of fd (a mask of SLUICE_LOOP_*). */
typedef void (*sluice_loop_cb)(void *ud, int fd, unsigned events);

/* A new loop, owned by the caller; NULL with a message in err. */
sluice_loop_t *sluice_loop_create(sluice_err_t *err);

/* Frees the loop. Watched fds are not closed (their owners close them). NULL is allowed. */
void sluice_loop_destroy(sluice_loop_t *l);

/* Watches fd for `events` (SLUICE_LOOP_IN and/or OUT; 0 keeps it registered but quiet), calling
 * cb(ud, fd, ready). Watching an fd again changes its events and callback. Returns 0, or -1
 * with a message in err. */
int sluice_loop_watch(sluice_loop_t *l, int fd, unsigned events, sluice_loop_cb cb, void *ud, sluice_err_t *err);

/* Stops watching fd (before its owner closes it). Unknown fds are ignored. */
void sluice_loop_unwatch(sluice_loop_t *l, int fd);

/* Waits at most timeout_ms (-1: no limit) and runs the callbacks of the ready fds. Returns the
 * number of events handled (0 on timeout or EINTR), or -1 with a message in err. */
int sluice_loop_run_once(sluice_loop_t *l, int timeout_ms, sluice_err_t *err);

#endif
