/*
 * The dead-letter topic's format, shared by the worker (which writes it) and `sluicectl dlq`
 * (which lists and replays it): the original envelope as value, the original key, the original
 * headers (org, source, type) and these failure headers, all plain text without PII:
 *   vendor       meta | ga4 | tiktok | webhook
 *   integration  the integration's name in the org ("-" when the envelope could not be read; a
 *                replay's target that the worker's config lacks: that name, for the next replay)
 *   status       the vendor's HTTP status, or "-" when no answer decided (timeout, TLS, mapping)
 *   attempts     how many requests were made (0: refused before sending, e.g. too old)
 *   error        "HTTP 400 (Meta error 100)", curl's error text, or the mapping's reason
 *   failed_at    ISO-8601 UTC
 * A replay for one integration carries `replay-to: <vendor>/<integration>` on sluice.events;
 * workers of other vendors and other integrations skip it.
 *
 * Also: the librdkafka configuration the worker and sluicectl build from the config's kafka
 * section. Any thread; and the consumers' waited offset commit (sluice_dlq_commit_within, or in two steps).
 */
#ifndef SLUICE_VENDORS_DLQ_H
#define SLUICE_VENDORS_DLQ_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "common/err.h"
#include "config/config.h"

#define SLUICE_DLQ_REPLAY_TO "replay-to"

typedef struct sluice_dlq_failure {
    const char *vendor;
    const char *integration;
    const char *status; /* "400" or "-" */
    unsigned attempts;
    const char *error;    /* truncated to SLUICE_DLQ_ERROR_MAX bytes */
    int64_t failed_at_ms; /* epoch ms */
} sluice_dlq_failure_t;

#define SLUICE_DLQ_ERROR_MAX 200

/* Adds the failure headers to hdrs. Returns 0, or -1 when librdkafka refused one. */
int sluice_dlq_add_headers(rd_kafka_headers_t *hdrs, const sluice_dlq_failure_t *f);

/* The headers of one DLQ message, copied out (absent ones are ""). */
typedef struct sluice_dlq_info {
    char org[72], source[72], type[16];
    char vendor[16], integration[72], status[16], attempts[16], error[SLUICE_DLQ_ERROR_MAX + 1], failed_at[40];
} sluice_dlq_info_t;

void sluice_dlq_read_headers(const rd_kafka_message_t *m, sluice_dlq_info_t *out);

/* A header's value as a NUL-terminated copy in buf ("" when absent). */
void sluice_dlq_header(const rd_kafka_message_t *m, const char *name, char *buf, size_t cap);

/* A librdkafka configuration for a client of kind `type` (RD_KAFKA_PRODUCER or
 * RD_KAFKA_CONSUMER): bootstrap.servers and client.id, then `defaults` ("key", "value", ...,
 * NULL; may be NULL), then those of the config's kafka.properties that apply to that kind, which
 * therefore override the defaults (operators tune e.g. session.timeout.ms). kafka.properties is
 * shared by producers and consumers: a property librdkafka lists for the other kind only is left
 * out (librdkafka would ignore it with a CONFWARN line at every start). librdkafka's log lines go
 * to the JSON logger. Returns a conf owned by the caller, or NULL with a message in err. */
rd_kafka_conf_t *sluice_dlq_kafka_conf(const sluice_kafka_config_t *kc, const char *client_id, rd_kafka_type_t type,
                                       const char *const *defaults, sluice_err_t *err);

/* 1 when librdkafka's property `name` is meant for clients of kind `type`: listed for that kind
 * or for both, or not listed at all (librdkafka then judges it); 0 when it is listed for the
 * other kind only (e.g. linger.ms for a consumer, session.timeout.ms for a producer). */
int sluice_dlq_kafka_property_applies(const char *name, rd_kafka_type_t type);

/* rd_kafka_conf_set with a message naming the property. Returns 0 or -1. */
int sluice_dlq_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value, sluice_err_t *err);

/* rd_kafka_commit of list waiting at most wait_ms (> 0) for the answer, on a queue of its own:
 * the answer's error (the request's, else the first partition's), RD_KAFKA_RESP_ERR__TIMED_OUT
 * when none came in time (the commit still goes out; its answer is then dropped). The answer
 * comes back here only, not also to the conf's offset_commit_cb. The consumer's thread. */
rd_kafka_resp_err_t sluice_dlq_commit_within(rd_kafka_t *rk, const rd_kafka_topic_partition_list_t *list, int wait_ms);

/* The same in two steps, for a loop that must not wait: sluice_dlq_commit_ask sends the commit of
 * list with its answer going to a queue of its own, *q (the caller destroys it; NULL when the
 * commit could not be sent, whose error is returned); sluice_dlq_commit_answer looks for that
 * answer for at most wait_ms (0: only looks) and returns its error as above, or
 * RD_KAFKA_RESP_ERR__TIMED_OUT when none came yet (ask again later). The consumer's thread. */
rd_kafka_resp_err_t sluice_dlq_commit_ask(rd_kafka_t *rk, const rd_kafka_topic_partition_list_t *list,
                                          rd_kafka_queue_t **q);
rd_kafka_resp_err_t sluice_dlq_commit_answer(rd_kafka_queue_t *q, int wait_ms);

#endif
