/*
 * One idempotent Kafka producer per event-loop thread (data flow step 8).
 *
 * librdkafka's main queue signals a pipe when it has delivery reports, statistics or errors;
 * the pipe's read end is watched by the thread's h2o loop, which then serves the queue with
 * rd_kafka_poll(rk, 0). So delivery callbacks run on the loop thread that produced the
 * message, and nothing on the hot path blocks or takes a lock. A 100 ms timer polls too, in
 * case a wake-up was coalesced away.
 *
 * A producer belongs to one loop thread: every function except sluice_producer_queue_len,
 * sluice_producer_ready and sluice_producer_state must be called on it.
 */
#ifndef SLUICE_GATEWAY_PRODUCER_H
#define SLUICE_GATEWAY_PRODUCER_H

#include <h2o.h>
#if H2O_USE_LIBUV
#error "sluice needs h2o built for its own evloop: compile with -DH2O_USE_LIBUV=0"
#endif

#include "common/err.h"
#include "config/config.h"

typedef struct sluice_producer sluice_producer_t;

/* 1 when librdkafka's statistics document json[0..len) shows a real broker (nodeid >= 0) in state
 * "UP", else 0 (also for a document it cannot follow). Any thread. */
int sluice_producer_stats_up(const char *json, size_t len);

/* Called on the loop thread for every message handed to sluice_producer_send, exactly once:
 * err 0 when the broker acknowledged it (acks=all), else a librdkafka error code. */
typedef void (*sluice_producer_dr_cb)(void *opaque, int err);

/* What the producer knows about the cluster (sluice_producer_state). */
enum {
    SLUICE_PRODUCER_STARTING = 0, /* no broker up yet, within the start-up grace */
    SLUICE_PRODUCER_UP = 1,       /* a broker is reachable */
    SLUICE_PRODUCER_DOWN = 2,     /* none is: all broker connections failed, or none came up in time */
};

enum {
    SLUICE_PRODUCER_EFULL = -2,     /* local queue full: answer 503 at once */
    SLUICE_PRODUCER_EOTHER = -3,    /* any other produce error */
    SLUICE_PRODUCER_ETOOLARGE = -4, /* larger than message.max.bytes: no retry can succeed */
    SLUICE_PRODUCER_EORGFULL = -5,  /* the org holds its share of the local queue: 503 at once */
};

/* Creates a producer on loop for the cluster in kc (bootstrap, idempotence, acks=all, lz4,
 * small linger, plus kc->properties). Returns NULL with err set (bad property, librdkafka
 * refusing the config). Free with sluice_producer_destroy on the same thread. */
sluice_producer_t *sluice_producer_create(const sluice_kafka_config_t *kc, h2o_loop_t *loop, sluice_producer_dr_cb cb,
                                          sluice_err_t *err);

/* Queues one message to topic. payload must come from malloc: on success the producer takes
 * ownership and frees it; on failure the caller still owns it. key is copied. Headers org,
 * source and type are added. orgs is how many orgs the gateway serves: with more than one, an
 * org holding messages may take another only while what it holds stays within the room the
 * local queue has left (messages and bytes), so one org cannot fill it for the others. Returns 0,
 * SLUICE_PRODUCER_EFULL, SLUICE_PRODUCER_EORGFULL, SLUICE_PRODUCER_ETOOLARGE or
 * SLUICE_PRODUCER_EOTHER. */
int sluice_producer_send(sluice_producer_t *p, const char *topic, const char *key, size_t key_len, char *payload,
                         size_t len, const char *org, const char *source, const char *type, size_t orgs, void *opaque);

/* 1 when the state is SLUICE_PRODUCER_UP: a broker was reachable at the last statistics report
 * or delivery, and no "all brokers down" error came after it. Any thread. */
int sluice_producer_ready(const sluice_producer_t *p);

/* SLUICE_PRODUCER_STARTING, _UP or _DOWN; each change is logged once (kafka.up, kafka.down).
 * Any thread. */
int sluice_producer_state(const sluice_producer_t *p);

/* Messages queued or in flight. Any thread. */
int sluice_producer_queue_len(const sluice_producer_t *p);

/* Serves delivery reports now (also done automatically when the loop sees the pipe). */
void sluice_producer_poll(sluice_producer_t *p);

/* Waits up to timeout_ms for queued messages (their delivery callbacks still run, on this
 * thread), then destroys the Kafka client and what it used on the loop, but keeps p itself:
 * other threads (scrapes, /readyz) may still read its state (DOWN from here) and queue length.
 * A closed producer refuses to send. Free it with sluice_producer_destroy, on any thread, once
 * no other thread reads it. */
void sluice_producer_close(sluice_producer_t *p, int timeout_ms);

/* Closes the producer (sluice_producer_close) unless it is closed, then frees it. NULL allowed. */
void sluice_producer_destroy(sluice_producer_t *p, int timeout_ms);

#endif
