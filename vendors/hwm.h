/*
 * High watermarks of paused partitions, asked of the broker off the worker's loop. librdkafka
 * caches a partition's high watermark from its fetches (rd_kafka_get_watermark_offsets), and a
 * paused partition is not fetched: a lane paused for back-pressure showed the lag it had when it
 * paused, flat, however many events arrived after. Asking the broker
 * (rd_kafka_query_watermark_offsets) is a network round trip that would block the loop, so a
 * thread of its own asks for the partitions the loop names and keeps the answers.
 *
 * Threading: create, want, get and destroy from the worker's loop thread; the consumers handed
 * to want must outlive the queue (destroy it before them).
 */
#ifndef SLUICE_VENDORS_HWM_H
#define SLUICE_VENDORS_HWM_H

#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "common/err.h"

typedef struct sluice_hwm sluice_hwm_t;

/* Starts the thread for topic (copied). NULL with a message in err. */
sluice_hwm_t *sluice_hwm_create(const char *topic, sluice_err_t *err);

/* Asks for a fresh high watermark of (lane, partition), read through consumer rk; returns at
 * once. Returns 0, or -1 when out of memory (nothing asked). */
int sluice_hwm_want(sluice_hwm_t *h, rd_kafka_t *rk, int lane, int32_t partition);

/* The last high watermark the broker gave for (lane, partition); -1 before any answer. */
int64_t sluice_hwm_get(sluice_hwm_t *h, int lane, int32_t partition);

/* Stops the thread, waiting for a question in progress (at most its timeout). NULL is allowed. */
void sluice_hwm_destroy(sluice_hwm_t *h);

#endif
