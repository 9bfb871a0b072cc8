/* Tests for gateway/producer.c's reading of librdkafka's statistics (sluice_producer_stats_up):
 * the same answer as the parse into a jansson tree it replaced, on librdkafka's documents and on
 * random ones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "gateway/producer.h"

/* What on_stats did before the scan: parse the whole document, look at brokers.*.{nodeid,state}. */
static int tree_up(const char *json, size_t len)
{
    json_t *root = json_loadb(json, len, 0, NULL);
    json_t *brokers = json_object_get(root, "brokers");
    const char *name;
    json_t *b;
    int up = 0;
    json_object_foreach(brokers, name, b) {
        const char *state = json_string_value(json_object_get(b, "state"));
        if (json_integer_value(json_object_get(b, "nodeid")) >= 0 && state != NULL && strcmp(state, "UP") == 0)
            up = 1;
    }
    json_decref(root);
    return up;
}

static int up(const char *json)
{
    return sluice_producer_stats_up(json, strlen(json));
}

/* A document as librdkafka 2.0 writes it (trimmed): a bootstrap placeholder, the real broker,
 * each with latency windows and partitions, then topics. */
#define WINDOW "{\"min\":0,\"max\":0,\"avg\":0,\"sum\":0,\"stddev\":0,\"p50\":0,\"p99\":0,\"cnt\":0,\"hdrsize\":11376}"
#define BROKER(name, id, state)                                                                                        \
    "\"" name "\":{\"name\":\"" name "\",\"nodeid\":" id ",\"nodename\":\"127.0.0.1:9092\",\"source\":\"learned\","    \
    "\"state\":\"" state "\",\"stateage\":9551,\"outbuf_cnt\":0,\"int_latency\":" WINDOW ",\"rtt\":" WINDOW            \
    ",\"req\":{\"Produce\":12,\"Metadata\":2},\"toppars\":{\"sluice.events-0\":{\"topic\":\"sluice.events\","          \
    "\"partition\":0}}}"

static void librdkafka_documents(void **state)
{
    (void)state;
    static const char head[] = "{\"name\":\"sluice-gateway#producer-1\",\"client_id\":\"sluice-gateway\","
                               "\"type\":\"producer\",\"ts\":5016483227792,\"time\":1527060869,\"replyq\":0,"
                               "\"msg_cnt\":22710,\"msg_size\":704010,\"brokers\":{";
    static const char tail[] = "},\"topics\":{\"sluice.events\":{\"topic\":\"sluice.events\",\"partitions\":{\"0\":{"
                               "\"partition\":0,\"broker\":1,\"leader\":1,\"fetch_state\":\"none\"}}}},"
                               "\"tx\":631,\"txmsgs\":22710}";
    static const struct {
        const char *brokers;
        int up;
    } cases[] = {
        {BROKER("127.0.0.1:9092/bootstrap", "-1", "UP"), 0}, /* only the placeholder is connected */
        {BROKER("127.0.0.1:9092/bootstrap", "-1", "UP") "," BROKER("127.0.0.1:9092/1", "1", "UP"), 1},
        {BROKER("127.0.0.1:9092/bootstrap", "-1", "INIT") "," BROKER("127.0.0.1:9092/1", "1", "TRY_CONNECT"), 0},
        {BROKER("127.0.0.1:9092/1", "1", "DOWN") "," BROKER("127.0.0.1:9093/2", "2", "UP"), 1},
        {BROKER("127.0.0.1:9092/0", "0", "UP"), 1},
        {BROKER("127.0.0.1:9092/1", "1", "UPDATE"), 0},
        {"", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char doc[8192];
        snprintf(doc, sizeof(doc), "%s%s%s", head, cases[i].brokers, tail);
        assert_int_equal(tree_up(doc, strlen(doc)), cases[i].up);
        assert_int_equal(up(doc), cases[i].up);
    }
}

static void odd_documents(void **state)
{
    (void)state;
    static const char *const docs[] = {
        "",
        "[]",
        "{}",
        "{\"brokers\":[]}",
        "{\"brokers\":{\"b\":[1,2]}}",
        "{\"brokers\":{\"b\":{\"state\":\"UP\"}}}",                   /* no nodeid: 0, as the tree read it */
        "{\"brokers\":{\"b\":{\"nodeid\":1.5,\"state\":\"UP\"}}}",    /* a real: 0 */
        "{\"brokers\":{\"b\":{\"nodeid\":\"-1\",\"state\":\"UP\"}}}", /* a string: 0 */
        "{\"brokers\":{\"b\":{\"nodeid\":-7,\"state\":\"UP\"}}}",
        "{\"brokers\":{\"b\":{\"nodeid\":-1,\"x\":{\"nodeid\":3,\"state\":\"UP\"}}}}", /* nested: not the broker's */
        "{\"brokers\":{\"b\":{\"nodeid\":3,\"state\":\"U\\\"P\",\"s\":\"}{\\\\\"}}}",
        "{\"x\":\"\\\"brokers\\\":{\",\"brokers\":{\"b\":{\"nodeid\":2,\"state\":\"UP\"}}}",
        "{\"nested\":{\"brokers\":{\"b\":{\"nodeid\":2,\"state\":\"UP\"}}}}",
        "{\"brokers\":{\"b\":{\"nodeid\":2,\"state\":\"UP\"", /* cut short */
        " \n{ \"brokers\" : { \"b\" : { \"state\" : \"UP\" , \"nodeid\" : 4 } } } ",
    };
    const int want[] = {0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 1, 0, 0, 1};
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        if (up(docs[i]) != want[i] || tree_up(docs[i], strlen(docs[i])) != want[i])
            print_error("document %zu: %s\n", i, docs[i]);
        assert_int_equal(tree_up(docs[i], strlen(docs[i])), want[i]);
        assert_int_equal(up(docs[i]), want[i]);
    }
}

/* A random value of depth at most d, with the keys the scan looks for scattered about. */
static json_t *random_value(unsigned *seed, int d)
{
    static const char *const keys[] = {"nodeid", "state", "brokers", "name", "x\"y", "}{"};
    static const char *const strings[] = {"UP", "DOWN", "INIT", "", "U\\P", "\"UP\"", "{"};
    switch (rand_r(seed) % (d > 0 ? 6 : 4)) {
    case 0: return json_integer((json_int_t)(rand_r(seed) % 7) - 3);
    case 1: return json_string(strings[rand_r(seed) % 7]);
    case 2: return json_real(0.5);
    case 3: return rand_r(seed) % 2 ? json_null() : json_true();
    case 4: {
        json_t *o = json_object();
        for (int n = rand_r(seed) % 5; n > 0; n--)
            json_object_set_new(o, keys[rand_r(seed) % 6], random_value(seed, d - 1));
        return o;
    }
    default: {
        json_t *a = json_array();
        for (int n = rand_r(seed) % 4; n > 0; n--)
            json_array_append_new(a, random_value(seed, d - 1));
        return a;
    }
    }
}

static void random_documents(void **state)
{
    (void)state;
    unsigned seed = 17;
    int ups = 0;
    for (int i = 0; i < 20000; i++) {
        json_t *doc = json_object(), *brokers = json_object();
        json_object_set_new(doc, "msg_cnt", random_value(&seed, 2));
        for (int b = rand_r(&seed) % 4; b > 0; b--) {
            char name[32];
            snprintf(name, sizeof(name), "127.0.0.1:9092/%d", b);
            json_t *v = rand_r(&seed) % 8 ? json_object() : random_value(&seed, 2);
            if (json_is_object(v)) {
                json_object_set_new(v, "nodeid", json_integer((json_int_t)(rand_r(&seed) % 3) - 1));
                json_object_set_new(v, "rtt", random_value(&seed, 3));
                json_object_set_new(v, "state", json_string(rand_r(&seed) % 2 ? "UP" : "INIT"));
                json_object_set_new(v, "toppars", random_value(&seed, 3));
            }
            json_object_set_new(brokers, name, v);
        }
        json_object_set_new(doc, "brokers", brokers);
        json_object_set_new(doc, "topics", random_value(&seed, 3));
        char *text = json_dumps(doc, rand_r(&seed) % 2 ? JSON_COMPACT : JSON_INDENT(1));
        int want = tree_up(text, strlen(text));
        if (up(text) != want)
            print_error("%s\n", text);
        assert_int_equal(up(text), want);
        ups += want;
        free(text);
        json_decref(doc);
    }
    assert_true(ups > 2000 && ups < 18000); /* both answers were exercised */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(librdkafka_documents),
        cmocka_unit_test(odd_documents),
        cmocka_unit_test(random_documents),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
