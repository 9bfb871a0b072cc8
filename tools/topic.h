/*
 * sluicectl's topic reading (tools/topic.c): shared by the commands that read a sluice topic
 * whole (dlq, invalid). Main thread only.
 */
#ifndef SLUICE_TOOLS_TOPIC_H
#define SLUICE_TOOLS_TOPIC_H

#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "common/err.h"

/* --since: an RFC 3339 time, or an age such as 30s, 30m, 6h, 2d (before now), into epoch ms.
 * 0, or -1 when it is neither. */
int sluicectl_parse_since(const char *s, int64_t *out);

/* Reads every message of topic up to the end it has now, with the assigning consumer rk, and
 * calls cb for each (a non-zero return stops the read with an error). Returns the number of
 * messages read, or -1 with err set. */
long sluicectl_topic_read(rd_kafka_t *rk, const char *topic, int (*cb)(const rd_kafka_message_t *m, void *ud), void *ud,
                          sluice_err_t *err);

#endif
