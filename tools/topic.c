/*
 * Reading a whole topic from sluicectl (dlq list/replay, invalid list): from its beginning to the
 * end it has when the call starts, with an assigning consumer that never commits. Main thread
 * (librdkafka has its own).
 */
#include "tools/topic.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/time.h"

#define WAIT_MS 15000

int sluicectl_parse_since(const char *s, int64_t *out)
{
    if (sluice_time_parse(s, strlen(s), 0, out) == 0)
        return 0;
    char *end;
    errno = 0;
    long long n = strtoll(s, &end, 10);
    long long mult = 0;
    if (end != s && errno == 0 && n >= 0 && end[0] != '\0' && end[1] == '\0') {
        mult = end[0] == 's' ? 1000 : end[0] == 'm' ? 60000 : end[0] == 'h' ? 3600000 : end[0] == 'd' ? 86400000 : 0;
    }
    if (mult == 0)
        return -1;
    *out = sluice_now_ms() - n * mult;
    return 0;
}

long sluicectl_topic_read(rd_kafka_t *rk, const char *topic, int (*cb)(const rd_kafka_message_t *m, void *ud), void *ud,
                          sluice_err_t *err)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, t, &md, WAIT_MS);
    rd_kafka_topic_destroy(t);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        return sluice_err_set(err, "kafka metadata for %s: %s", topic, rd_kafka_err2str(e));
    if (md->topic_cnt != 1 || md->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        sluice_err_set(err, "topic %s: %s", topic,
                       md->topic_cnt == 1 ? rd_kafka_err2str(md->topics[0].err) : "not found");
        rd_kafka_metadata_destroy(md);
        return -1;
    }
    int nparts = md->topics[0].partition_cnt;
    rd_kafka_topic_partition_list_t *assign = rd_kafka_topic_partition_list_new(nparts);
    int64_t *end = calloc((size_t)nparts + 1, sizeof(*end));
    int remaining = 0;
    for (int i = 0; i < nparts; i++) {
        int32_t p = md->topics[0].partitions[i].id;
        int64_t lo = 0, hi = 0;
        e = rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, WAIT_MS);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
            sluice_err_set(err, "watermarks of %s [%d]: %s", topic, p, rd_kafka_err2str(e));
            rd_kafka_metadata_destroy(md);
            rd_kafka_topic_partition_list_destroy(assign);
            free(end);
            return -1;
        }
        if (hi > lo) {
            rd_kafka_topic_partition_list_add(assign, topic, p)->offset = lo;
            if (p >= 0 && p < nparts)
                end[p] = hi;
            remaining++;
        }
    }
    rd_kafka_metadata_destroy(md);
    long n = 0;
    if (remaining > 0)
        rd_kafka_assign(rk, assign);
    rd_kafka_topic_partition_list_destroy(assign);
    int64_t deadline = sluice_mono_ms() + WAIT_MS;
    while (remaining > 0) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (m == NULL) {
            if (sluice_mono_ms() > deadline) {
                free(end);
                return sluice_err_set(err, "timed out reading %s", topic);
            }
            continue;
        }
        deadline = sluice_mono_ms() + WAIT_MS;
        if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                fprintf(stderr, "warning: %s\n", rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            continue;
        }
        if (m->partition >= 0 && m->partition < nparts && m->offset < end[m->partition]) {
            n++;
            int rc = cb(m, ud);
            if (m->offset == end[m->partition] - 1)
                remaining--;
            rd_kafka_message_destroy(m);
            if (rc != 0) {
                free(end);
                return sluice_err_set(err, "stopped after an error");
            }
        } else {
            rd_kafka_message_destroy(m);
        }
    }
    free(end);
    return n;
}
