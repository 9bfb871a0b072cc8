/*
 * DLQ headers (see dlq.h) and the shared librdkafka configuration. Any thread; librdkafka's log
 * callback runs on its own threads and only writes a JSON line.
 */
#include "vendors/dlq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"

static int add(rd_kafka_headers_t *h, const char *name, const char *value)
{
    return rd_kafka_header_add(h, name, -1, value, -1) == RD_KAFKA_RESP_ERR_NO_ERROR ? 0 : -1;
}

int sluice_dlq_add_headers(rd_kafka_headers_t *hdrs, const sluice_dlq_failure_t *f)
{
    char attempts[16], when[40], error[SLUICE_DLQ_ERROR_MAX + 1];
    snprintf(attempts, sizeof(attempts), "%u", f->attempts);
    time_t secs = (time_t)(f->failed_at_ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t n = strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + n, sizeof(when) - n, ".%03dZ", (int)(f->failed_at_ms % 1000));
    snprintf(error, sizeof(error), "%s", f->error ? f->error : "");
    /* One line: curl's texts never hold newlines, but a header value must not either way. */
    for (char *p = error; *p; p++) {
        if (*p == '\r' || *p == '\n')
            *p = ' ';
    }
    if (add(hdrs, "vendor", f->vendor) || add(hdrs, "integration", f->integration) || add(hdrs, "status", f->status) ||
        add(hdrs, "attempts", attempts) || add(hdrs, "error", error) || add(hdrs, "failed_at", when))
        return -1;
    return 0;
}

void sluice_dlq_header(const rd_kafka_message_t *m, const char *name, char *buf, size_t cap)
{
    buf[0] = '\0';
    rd_kafka_headers_t *h = NULL;
    const void *v;
    size_t len;
    if (rd_kafka_message_headers(m, &h) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        rd_kafka_header_get_last(h, name, &v, &len) != RD_KAFKA_RESP_ERR_NO_ERROR || v == NULL)
        return;
    if (len >= cap)
        len = cap - 1;
    memcpy(buf, v, len);
    buf[len] = '\0';
}

void sluice_dlq_read_headers(const rd_kafka_message_t *m, sluice_dlq_info_t *out)
{
    sluice_dlq_header(m, "org", out->org, sizeof(out->org));
    sluice_dlq_header(m, "source", out->source, sizeof(out->source));
    sluice_dlq_header(m, "type", out->type, sizeof(out->type));
    sluice_dlq_header(m, "vendor", out->vendor, sizeof(out->vendor));
    sluice_dlq_header(m, "integration", out->integration, sizeof(out->integration));
    sluice_dlq_header(m, "status", out->status, sizeof(out->status));
    sluice_dlq_header(m, "attempts", out->attempts, sizeof(out->attempts));
    sluice_dlq_header(m, "error", out->error, sizeof(out->error));
    sluice_dlq_header(m, "failed_at", out->failed_at, sizeof(out->failed_at));
}

int sluice_dlq_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value, sluice_err_t *err)
{
    char errstr[256];
    if (rd_kafka_conf_set(conf, key, value, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
        return sluice_err_set(err, "kafka property %s: %s", key, errstr);
    return 0;
}

static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    sluice_log_level_t l = level <= 3 ? SLUICE_LOG_ERROR : level <= 4 ? SLUICE_LOG_WARN : SLUICE_LOG_DEBUG;
    sluice_log(l, "kafka.log", "%s: %s", fac, buf);
}

/* librdkafka's own table of properties (rd_kafka_conf_properties_show, the text its
 * CONFIGURATION.md is made of), in a malloc'd string, or NULL. */
static char *property_table(void)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (f == NULL)
        return NULL;
    rd_kafka_conf_properties_show(f);
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

enum { FOR_PRODUCER = 1u, FOR_CONSUMER = 2u };

/* Which kinds of client the table lists `name` for (rows "name | C/P | ...", where C/P is C, P or
 * * for both; a name may have a global and a topic row): FOR_* bits, 0 when it is not listed. */
static unsigned property_scope(const char *table, const char *name)
{
    unsigned scope = 0;
    const size_t nlen = strlen(name);
    for (const char *row = table; row != NULL && *row != '\0';) {
        const char *end = strchr(row, '\n');
        const char *bar = memchr(row, '|', end ? (size_t)(end - row) : strlen(row));
        if (bar != NULL && (size_t)(bar - row) > nlen && strncmp(row, name, nlen) == 0 &&
            strspn(row + nlen, " ") == (size_t)(bar - row) - nlen) {
            const char *kind = bar + 1 + strspn(bar + 1, " ");
            scope |= *kind == 'P' ? FOR_PRODUCER : *kind == 'C' ? FOR_CONSUMER : FOR_PRODUCER | FOR_CONSUMER;
        }
        row = end ? end + 1 : NULL;
    }
    return scope;
}

static int applies(const char *table, const char *name, rd_kafka_type_t type)
{
    unsigned scope = table != NULL ? property_scope(table, name) : 0;
    return scope == 0 || (scope & (type == RD_KAFKA_PRODUCER ? FOR_PRODUCER : FOR_CONSUMER)) != 0;
}

int sluice_dlq_kafka_property_applies(const char *name, rd_kafka_type_t type)
{
    char *table = property_table();
    int yes = applies(table, name, type);
    free(table);
    return yes;
}

static int set_secret(void *conf, const char *k, const char *v, sluice_err_t *err)
{
    return sluice_dlq_conf_set(conf, k, v, err);
}

rd_kafka_conf_t *sluice_dlq_kafka_conf(const sluice_kafka_config_t *kc, const char *client_id, rd_kafka_type_t type,
                                       const char *const *defaults, sluice_err_t *err)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (conf == NULL) {
        sluice_err_set(err, "out of memory");
        return NULL;
    }
    rd_kafka_conf_set_log_cb(conf, on_log);
    if (sluice_dlq_conf_set(conf, "bootstrap.servers", kc->brokers, err) != 0 ||
        sluice_dlq_conf_set(conf, "client.id", client_id, err) != 0)
        goto fail;
    for (size_t i = 0; defaults != NULL && defaults[i] != NULL && defaults[i + 1] != NULL; i += 2) {
        if (sluice_dlq_conf_set(conf, defaults[i], defaults[i + 1], err) != 0)
            goto fail;
    }
    char *table = kc->property_count > 0 ? property_table() : NULL;
    for (size_t i = 0; i < kc->property_count; i++) {
        if (!applies(table, kc->properties[i].key, type)) {
            sluice_log_debug("kafka.property", "%s is a %s property: not given to %s", kc->properties[i].key,
                             type == RD_KAFKA_PRODUCER ? "consumer" : "producer", client_id);
            continue;
        }
        if (sluice_dlq_conf_set(conf, kc->properties[i].key, kc->properties[i].value, err) != 0) {
            free(table);
            goto fail;
        }
    }
    free(table);
    if (sluice_config_kafka_secrets(kc, set_secret, conf, err) != 0) /* SASL password etc. (config/kafka_auth.c) */
        goto fail;
    return conf;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

/* sluice_dlq_commit_ask's commit callback, never called: the answer is read from the queue as
 * an event. Only its presence matters: a commit without one is also answered to the conf's
 * offset_commit_cb (the worker's on_commit), which logged and counted a failure the caller had
 * already logged and counted (kafka.commit_failed, sluice_deliver_commit_failures_total twice), and
 * a timed-out commit's late answer once more. */
static void answered_on_queue(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *offsets,
                              void *opaque)
{
    (void)rk, (void)err, (void)offsets, (void)opaque;
}

rd_kafka_resp_err_t sluice_dlq_commit_ask(rd_kafka_t *rk, const rd_kafka_topic_partition_list_t *list,
                                          rd_kafka_queue_t **q)
{
    if ((*q = rd_kafka_queue_new(rk)) == NULL)
        return RD_KAFKA_RESP_ERR__FAIL;
    rd_kafka_resp_err_t e = rd_kafka_commit_queue(rk, list, *q, answered_on_queue, NULL);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_queue_destroy(*q);
        *q = NULL;
    }
    return e;
}

rd_kafka_resp_err_t sluice_dlq_commit_answer(rd_kafka_queue_t *q, int wait_ms)
{
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, wait_ms);
    if (ev == NULL)
        return RD_KAFKA_RESP_ERR__TIMED_OUT;
    /* The request's error, else the first partition's (the group refusing one of them). */
    rd_kafka_resp_err_t e = rd_kafka_event_error(ev);
    const rd_kafka_topic_partition_list_t *res = rd_kafka_event_topic_partition_list(ev);
    for (int i = 0; e == RD_KAFKA_RESP_ERR_NO_ERROR && res != NULL && i < res->cnt; i++)
        e = res->elems[i].err;
    rd_kafka_event_destroy(ev);
    return e;
}

rd_kafka_resp_err_t sluice_dlq_commit_within(rd_kafka_t *rk, const rd_kafka_topic_partition_list_t *list, int wait_ms)
{
    rd_kafka_queue_t *q = NULL;
    rd_kafka_resp_err_t e = sluice_dlq_commit_ask(rk, list, &q);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
        e = sluice_dlq_commit_answer(q, wait_ms);
        rd_kafka_queue_destroy(q);
    }
    return e;
}
