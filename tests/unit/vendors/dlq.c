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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_property_applies),
        cmocka_unit_test(test_each_client_gets_its_own),
        cmocka_unit_test(test_unknown_property_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
