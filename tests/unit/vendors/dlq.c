/* Tests for vendors/dlq.c's librdkafka configuration: kafka.properties is shared by the worker's
 * consumers, its DLQ producer and sluicectl, and each client gets only the properties librdkafka
 * lists for its kind, so starting one logs no CONFWARN line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "vendors/dlq.h"

static void test_property_applies(void **state)
{
    (void)state;
    /* Producer only (global and topic rows), consumer only, both, and unknown. */
    assert_true(sluice_dlq_kafka_property_applies("linger.ms", RD_KAFKA_PRODUCER));
    assert_false(sluice_dlq_kafka_property_applies("linger.ms", RD_KAFKA_CONSUMER));
    assert_true(sluice_dlq_kafka_property_applies("compression.codec", RD_KAFKA_PRODUCER));
    assert_false(sluice_dlq_kafka_property_applies("compression.codec", RD_KAFKA_CONSUMER));
    assert_true(sluice_dlq_kafka_property_applies("session.timeout.ms", RD_KAFKA_CONSUMER));
    assert_false(sluice_dlq_kafka_property_applies("session.timeout.ms", RD_KAFKA_PRODUCER));
    assert_false(sluice_dlq_kafka_property_applies("heartbeat.interval.ms", RD_KAFKA_PRODUCER));
    assert_false(sluice_dlq_kafka_property_applies("auto.offset.reset", RD_KAFKA_PRODUCER));
    assert_true(sluice_dlq_kafka_property_applies("statistics.interval.ms", RD_KAFKA_PRODUCER));
    assert_true(sluice_dlq_kafka_property_applies("statistics.interval.ms", RD_KAFKA_CONSUMER));
    /* A prefix of a listed name is not that name. */
    assert_true(sluice_dlq_kafka_property_applies("linger", RD_KAFKA_CONSUMER));
    /* Unknown to librdkafka: left to rd_kafka_conf_set, which refuses it with its own message. */
    assert_true(sluice_dlq_kafka_property_applies("no.such.property", RD_KAFKA_CONSUMER));
    assert_true(sluice_dlq_kafka_property_applies("no.such.property", RD_KAFKA_PRODUCER));
}

static int confwarns;
static char last_confwarn[512];

static void count_confwarn(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    (void)level;
    if (strcmp(fac, "CONFWARN") == 0) {
        confwarns++;
        snprintf(last_confwarn, sizeof(last_confwarn), "%s", buf);
    }
}

/* Builds a client of `type` on kc as the worker does and returns how many CONFWARN lines its
 * start logged; *value gets the client's value of `probe`. */
static int start(const sluice_kafka_config_t *kc, rd_kafka_type_t type, const char *probe, char *value, size_t cap)
{
    sluice_err_t err = {{0}};
    rd_kafka_conf_t *conf = sluice_dlq_kafka_conf(kc, "unit", type, NULL, &err);
    if (conf == NULL)
        fail_msg("%s", err.msg);
    assert_int_equal(rd_kafka_conf_get(conf, probe, value, &cap), RD_KAFKA_CONF_OK);
    rd_kafka_conf_set_log_cb(conf, count_confwarn);
    if (type == RD_KAFKA_CONSUMER)
        assert_int_equal(rd_kafka_conf_set(conf, "group.id", "unit", NULL, 0), RD_KAFKA_CONF_OK);
    confwarns = 0;
    char errstr[256];
    rd_kafka_t *rk = rd_kafka_new(type, conf, errstr, sizeof(errstr));
    if (rk == NULL)
        fail_msg("rd_kafka_new: %s", errstr);
    rd_kafka_destroy(rk);
    return confwarns;
}

static void test_each_client_gets_its_own(void **state)
{
    (void)state;
    /* The demo worker's consumer tuning next to the example config's producer tuning. */
    sluice_kv_t props[] = {{"session.timeout.ms", "6000"},
                           {"heartbeat.interval.ms", "500"},
                           {"linger.ms", "20"},
                           {"compression.codec", "lz4"},
                           {"socket.keepalive.enable", "true"}};
    sluice_kafka_config_t kc = {.brokers = "127.0.0.1:1", .properties = props, .property_count = 5};
    char v[64];
    assert_int_equal(start(&kc, RD_KAFKA_PRODUCER, "linger.ms", v, sizeof(v)), 0);
    assert_string_equal(v, "20");
    assert_int_equal(start(&kc, RD_KAFKA_PRODUCER, "socket.keepalive.enable", v, sizeof(v)), 0);
    assert_string_equal(v, "true");
    assert_int_equal(start(&kc, RD_KAFKA_CONSUMER, "session.timeout.ms", v, sizeof(v)), 0);
    assert_string_equal(v, "6000");
    assert_int_equal(start(&kc, RD_KAFKA_CONSUMER, "socket.keepalive.enable", v, sizeof(v)), 0);
    assert_string_equal(v, "true");
    /* What librdkafka says when it is given the other kind's property: the lines avoided above. */
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    assert_int_equal(rd_kafka_conf_set(conf, "bootstrap.servers", "127.0.0.1:1", NULL, 0), RD_KAFKA_CONF_OK);
    assert_int_equal(rd_kafka_conf_set(conf, "session.timeout.ms", "6000", NULL, 0), RD_KAFKA_CONF_OK);
    rd_kafka_conf_set_log_cb(conf, count_confwarn);
    confwarns = 0;
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, NULL, 0);
    assert_non_null(rk);
    rd_kafka_destroy(rk);
    assert_int_equal(confwarns, 1);
    assert_non_null(strstr(last_confwarn, "session.timeout.ms is a consumer property"));
}

static void test_unknown_property_refused(void **state)
{
    (void)state;
    sluice_kv_t props[] = {{"no.such.property", "1"}};
    sluice_kafka_config_t kc = {.brokers = "127.0.0.1:1", .properties = props, .property_count = 1};
    sluice_err_t err = {{0}};
    assert_null(sluice_dlq_kafka_conf(&kc, "unit", RD_KAFKA_CONSUMER, NULL, &err));
    assert_non_null(strstr(err.msg, "kafka property no.such.property: "));
}

/* ------------------------------------------------------------------ sluice_dlq_commit_within */

static int conf_cb_failures; /* failed commits that reached the conf's offset_commit_cb */

static void count_commit(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *offsets,
                         void *opaque)
{
    (void)rk, (void)offsets, (void)opaque;
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
        conf_cb_failures++;
}

/* Serves the consumer's queue for ms, as the worker's loop does (on_commit runs from it). */
static void serve(rd_kafka_t *rk, int ms)
{
    for (int waited = 0; waited < ms; waited += 100) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (m != NULL)
            rd_kafka_message_destroy(m);
    }
}

/* A waited commit's answer is the caller's only: the worker's commit_parts counts and logs a
 * failure it returns, so the same answer also going to the conf's offset_commit_cb (the worker's
 * on_commit, which counts and logs again) made every refused revoke commit two
 * sluice_deliver_commit_failures_total and two kafka.commit_failed lines, and a commit answered
 * after the wait one failure more. librdkafka's mock cluster, as dev-kafka. */
static void test_commit_within_answers_the_caller_only(void **state)
{
    (void)state;
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    assert_int_equal(rd_kafka_conf_set(conf, "test.mock.num.brokers", "1", errstr, sizeof(errstr)), RD_KAFKA_CONF_OK);
    assert_int_equal(rd_kafka_conf_set(conf, "group.id", "commit-within", errstr, sizeof(errstr)), RD_KAFKA_CONF_OK);
    assert_int_equal(rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof(errstr)), RD_KAFKA_CONF_OK);
    assert_int_equal(rd_kafka_conf_set(conf, "log_level", "0", errstr, sizeof(errstr)), RD_KAFKA_CONF_OK);
    rd_kafka_conf_set_offset_commit_cb(conf, count_commit);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    assert_non_null(rk);
    rd_kafka_mock_cluster_t *mc = rd_kafka_handle_mock_cluster(rk);
    assert_non_null(mc);
    assert_int_equal(rd_kafka_mock_topic_create(mc, "events", 1, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, "events", RD_KAFKA_PARTITION_UA);
    assert_int_equal(rd_kafka_subscribe(rk, topics), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(topics);
    int assigned = 0;
    for (int i = 0; i < 300 && !assigned; i++) {
        serve(rk, 100);
        rd_kafka_topic_partition_list_t *a = NULL;
        if (rd_kafka_assignment(rk, &a) == RD_KAFKA_RESP_ERR_NO_ERROR) {
            assigned = a->cnt > 0;
            rd_kafka_topic_partition_list_destroy(a);
        }
    }
    assert_true(assigned);
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, "events", 0)->offset = 0;

    /* Refused (a revoke's commit during a rebalance): the caller gets the error, nobody else. */
    conf_cb_failures = 0;
    rd_kafka_mock_push_request_errors(mc, 8 /* OffsetCommit */, 1, RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS);
    assert_int_equal(sluice_dlq_commit_within(rk, list, 5000), RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS);
    serve(rk, 1000);
    assert_int_equal(conf_cb_failures, 0);

    /* Refused after the wait: a timeout for the caller, and the late answer goes nowhere. */
    rd_kafka_mock_broker_push_request_error_rtts(mc, 1, 8, 1, RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS, 1500);
    assert_int_equal(sluice_dlq_commit_within(rk, list, 200), RD_KAFKA_RESP_ERR__TIMED_OUT);
    serve(rk, 2500);
    assert_int_equal(conf_cb_failures, 0);

    /* Answered: no error. */
    assert_int_equal(sluice_dlq_commit_within(rk, list, 5000), RD_KAFKA_RESP_ERR_NO_ERROR);

    rd_kafka_topic_partition_list_destroy(list);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_property_applies),
        cmocka_unit_test(test_each_client_gets_its_own),
        cmocka_unit_test(test_unknown_property_refused),
        cmocka_unit_test(test_commit_within_answers_the_caller_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
