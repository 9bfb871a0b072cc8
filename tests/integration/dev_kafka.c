/*
 * Integration tests of `sluicectl dev-kafka`: the real binary from the build tree, driven and
 * checked from other processes with stock kcat, as the gateway and delivery worker will use it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/harness/harness.h"
#include "tests/harness/kafka.h"

/* kcat runs get generous bounds: a cold librdkafka client sometimes needs ~1 s for its first batch. */
#define KCAT_TIMEOUT_MS  30000
#define GROUP_TIMEOUT_MS 60000

static sluice_th_kafka_t kafka;

static int teardown(void **state)
{
    (void)state;
    sluice_th_kafka_stop(&kafka, NULL);
    memset(&kafka, 0, sizeof(kafka));
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    sluice_th_teardown();
    return 0;
}

static void start_kafka(const char *const *args)
{
    sluice_err_t err = {{0}};
    if (sluice_th_kafka_start(&kafka, args, &err) != 0)
        fail_msg("%s", err.msg);
}

/* Runs kcat against the running dev-kafka: `kcat -b <bootstrap> <args...>`. */
static void kcat(const char *const *args, const char *input, int timeout_ms, sluice_th_output_t *out)
{
    const char *argv[32] = {"kcat", "-b", kafka.bootstrap};
    int n = 3;
    for (int i = 0; args[i]; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    sluice_err_t err = {{0}};
    if (sluice_th_run(argv, input, input ? strlen(input) : 0, timeout_ms, out, &err) != 0)
        fail_msg("%s", err.msg);
    assert_false(out->timed_out);
}

/* Runs `sluicectl dev-kafka <args...>` to completion (for argument errors and --help). */
static void run_dev_kafka(const char *const *args, sluice_th_output_t *out)
{
    char sluicectl[4096];
    snprintf(sluicectl, sizeof(sluicectl), "%s/tools/sluicectl", sluice_th_build_dir());
    const char *argv[16] = {sluicectl, "dev-kafka"};
    int n = 2;
    for (int i = 0; args[i]; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    sluice_err_t err = {{0}};
    if (sluice_th_run(argv, NULL, 0, 10000, out, &err) != 0)
        fail_msg("%s", err.msg);
    assert_false(out->timed_out);
}

/* Fails with the command's stderr unless it exited 0. */
static void assert_exit_ok(const sluice_th_output_t *out)
{
    if (!sluice_th_exited_with(out->wstatus, 0))
        fail_msg("wait status %d, stderr: %s", out->wstatus, out->errout);
}

static int cmp_lines(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Splits text into lines (in place) and sorts them; returns the count. */
static size_t sorted_lines(char *text, char **lines, size_t cap)
{
    size_t n = 0;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line && n < cap; line = strtok_r(NULL, "\n", &save))
        lines[n++] = line;
    qsort(lines, n, sizeof(*lines), cmp_lines);
    return n;
}

static void produce_one(const char *topic, const char *msg, const char *timeout_setting, sluice_th_output_t *out)
{
    char input[256];
    snprintf(input, sizeof(input), "%s\n", msg);
    const char *args[] = {"-t", topic, "-P", "-K:", "-X", timeout_setting, NULL};
    kcat(args, input, KCAT_TIMEOUT_MS, out);
}

/* BOOTSTRAP= on stdout, the same address alone in the bootstrap file, one entry per broker, and
 * every broker accepting connections. */
static void test_announces_bootstrap(void **state)
{
    (void)state;
    const char *args[] = {"--brokers", "3", NULL};
    start_kafka(args);

    char *file = sluice_th_read_file(kafka.bootstrap_file, NULL, NULL);
    assert_non_null(file);
    char expected_file[1100];
    snprintf(expected_file, sizeof(expected_file), "%s\n", kafka.bootstrap);
    assert_string_equal(file, expected_file);
    free(file);

    char line[1100];
    snprintf(line, sizeof(line), "BOOTSTRAP=%s\n", kafka.bootstrap);
    char *log = sluice_th_read_file(sluice_th_proc_log(kafka.proc), NULL, NULL);
    assert_non_null(log);
    assert_int_equal(sluice_th_count(log, line), 1);
    assert_int_equal(sluice_th_count(log, "\"event\":\"devkafka.ready\""), 1);
    free(log);

    char copy[1024];
    snprintf(copy, sizeof(copy), "%s", kafka.bootstrap);
    int brokers = 0;
    for (char *save = NULL, *addr = strtok_r(copy, ",", &save); addr; addr = strtok_r(NULL, ",", &save)) {
        assert_int_equal(strncmp(addr, "127.0.0.1:", 10), 0);
        int port = (int)strtol(addr + 10, NULL, 10);
        assert_true(port > 0 && port < 65536);
        assert_true(sluice_th_port_open(port));
        brokers++;
    }
    assert_int_equal(brokers, 3);

    /* The file was renamed into place: no temp file is left next to it. */
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", kafka.bootstrap_file, (long)sluice_th_proc_pid(kafka.proc));
    assert_int_not_equal(access(tmp, F_OK), 0);
}

/* kcat -L sees the brokers, the two sluice topics and an extra one, with the partition count asked for. */
static void test_metadata_lists_topics(void **state)
{
    (void)state;
    const char *args[] = {"--brokers", "3", "--partitions", "6", "--topics", "audit.trail,sluice.events", NULL};
    start_kafka(args);

    sluice_th_output_t out;
    const char *kargs[] = {"-L", "-m", "10", NULL};
    kcat(kargs, NULL, KCAT_TIMEOUT_MS, &out);
    assert_exit_ok(&out);
    assert_non_null(strstr(out.out, " 3 brokers:"));
    assert_non_null(strstr(out.out, " 5 topics:")); /* sluice.events named twice is created once */
    assert_non_null(strstr(out.out, "topic \"sluice.events\" with 6 partitions:"));
    assert_non_null(strstr(out.out, "topic \"sluice.dlq\" with 6 partitions:"));
    assert_non_null(strstr(out.out, "topic \"sluice.invalid\" with 6 partitions:"));
    assert_non_null(strstr(out.out, "topic \"sluice.dsr\" with 6 partitions:"));
    assert_non_null(strstr(out.out, "topic \"audit.trail\" with 6 partitions:"));
    /* replication = min(3, brokers) */
    assert_non_null(strstr(out.out, "replicas: 1,2,3"));
    sluice_th_output_dispose(&out);
}

/* 100 keyed messages produced by one kcat process all come back, once each, to another. */
static void test_produce_consume_round_trip(void **state)
{
    (void)state;
    start_kafka(NULL);

    char input[100 * 32] = "", expected[100][32];
    size_t len = 0;
    for (int i = 0; i < 100; i++) {
        len += (size_t)snprintf(input + len, sizeof(input) - len, "key-%03d:value-%03d\n", i, i);
        snprintf(expected[i], sizeof(expected[i]), "key-%03d=value-%03d", i, i);
    }
    sluice_th_output_t out;
    const char *produce[] = {"-t", "sluice.events", "-P", "-K:", NULL};
    kcat(produce, input, KCAT_TIMEOUT_MS, &out);
    assert_exit_ok(&out);
    sluice_th_output_dispose(&out);

    const char *consume[] = {"-t", "sluice.events", "-C", "-e", "-q", "-f", "%k=%s\n", NULL};
    kcat(consume, NULL, KCAT_TIMEOUT_MS, &out);
    assert_exit_ok(&out);
    char *lines[200];
    size_t n = sorted_lines(out.out, lines, 200);
    assert_int_equal(n, 100);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(lines[i], expected[i]);
    sluice_th_output_dispose(&out);

    /* Keyed: the messages are spread over the topic's partitions, not piled into one. */
    const char *partitions[] = {"-t", "sluice.events", "-C", "-e", "-q", "-f", "%p\n", NULL};
    kcat(partitions, NULL, KCAT_TIMEOUT_MS, &out);
    int seen[4] = {0}, distinct = 0;
    for (char *save = NULL, *p = strtok_r(out.out, "\n", &save); p; p = strtok_r(NULL, "\n", &save)) {
        long part = strtol(p, NULL, 10);
        assert_true(part >= 0 && part < 4);
        if (!seen[part]++)
            distinct++;
    }
    assert_true(distinct >= 2);
    sluice_th_output_dispose(&out);
}

/* Consumes with a consumer group and returns the sorted values in out (lines[]). */
static size_t consume_group(const char *group, sluice_th_output_t *out, char **lines, size_t cap)
{
    /* Short session timeout: a member that is not cleanly gone otherwise stalls the next join
     * for 45 s (PLATFORM.md). No -o: resume from the committed offsets. */
    /* clang-format off */ /* one option and its value per line */
    const char *args[] = {"-G", group,
                          "-X", "auto.offset.reset=earliest",
                          "-X", "session.timeout.ms=6000",
                          "-X", "heartbeat.interval.ms=500",
                          "-e", "-q", "-f", "%s\n", "group.test",
                          NULL};
    /* clang-format on */
    kcat(args, NULL, GROUP_TIMEOUT_MS, out);
    assert_exit_ok(out);
    return sorted_lines(out->out, lines, cap);
}

/* A consumer group commits its offsets: the second run of the same group sees only new messages,
 * another group sees everything. */
static void test_consumer_group_resumes(void **state)
{
    (void)state;
    const char *args[] = {"--topics", "group.test", NULL};
    start_kafka(args);

    sluice_th_output_t out;
    const char *produce[] = {"-t", "group.test", "-P", "-K:", NULL};
    kcat(produce, "a:first-1\nb:first-2\nc:first-3\n", KCAT_TIMEOUT_MS, &out);
    assert_exit_ok(&out);
    sluice_th_output_dispose(&out);

    char *lines[16];
    assert_int_equal(consume_group("g1", &out, lines, 16), 3);
    assert_string_equal(lines[0], "first-1");
    assert_string_equal(lines[2], "first-3");
    sluice_th_output_dispose(&out);

    kcat(produce, "d:second-1\ne:second-2\n", KCAT_TIMEOUT_MS, &out);
    assert_exit_ok(&out);
    sluice_th_output_dispose(&out);

    assert_int_equal(consume_group("g1", &out, lines, 16), 2);
    assert_string_equal(lines[0], "second-1");
    assert_string_equal(lines[1], "second-2");
    sluice_th_output_dispose(&out);

    assert_int_equal(consume_group("g2", &out, lines, 16), 5);
    sluice_th_output_dispose(&out);
}

/* SIGUSR1 takes the brokers down (produce and metadata fail), SIGUSR2 brings them back. */
static void test_signals_take_brokers_down_and_up(void **state)
{
    (void)state;
    const char *args[] = {"--brokers", "2", NULL};
    start_kafka(args);
    sluice_err_t err = {{0}};
    sluice_th_output_t out;

    produce_one("sluice.events", "k:before", "message.timeout.ms=15000", &out);
    assert_exit_ok(&out);
    sluice_th_output_dispose(&out);

    if (sluice_th_kafka_down(&kafka, &err) != 0)
        fail_msg("%s", err.msg);
    produce_one("sluice.events", "k:while-down", "message.timeout.ms=2000", &out);
    assert_false(sluice_th_exited_with(out.wstatus, 0));
    assert_non_null(strstr(out.errout, "Connection refused")); /* down brokers refuse, they do not hang */
    sluice_th_output_dispose(&out);
    const char *metadata[] = {"-L", "-m", "2", NULL};
    kcat(metadata, NULL, KCAT_TIMEOUT_MS, &out);
    assert_false(sluice_th_exited_with(out.wstatus, 0));
    sluice_th_output_dispose(&out);

    if (sluice_th_kafka_up(&kafka, &err) != 0)
        fail_msg("%s", err.msg);
    produce_one("sluice.events", "k:after", "message.timeout.ms=15000", &out);
    assert_exit_ok(&out);
    sluice_th_output_dispose(&out);

    const char *consume[] = {"-t", "sluice.events", "-C", "-e", "-q", "-f", "%s\n", NULL};
    kcat(consume, NULL, KCAT_TIMEOUT_MS, &out);
    char *lines[8];
    assert_int_equal(sorted_lines(out.out, lines, 8), 2);
    assert_string_equal(lines[0], "after");
    assert_string_equal(lines[1], "before");
    sluice_th_output_dispose(&out);
}

/* Produces msg to one partition (kcat -p). */
static void produce_to(int partition, const char *msg, const char *timeout_setting, sluice_th_output_t *out)
{
    char input[256], part[16];
    snprintf(input, sizeof(input), "%s\n", msg);
    snprintf(part, sizeof(part), "%d", partition);
    const char *args[] = {"-t", "sluice.events", "-p", part, "-P", "-X", timeout_setting, NULL};
    kcat(args, input, KCAT_TIMEOUT_MS, out);
}

/* The control FIFO takes one broker of two down: partitions it leads refuse, the others keep
 * serving; `up` brings it back; a bad command is refused with a reason and changes nothing. */
static void test_control_one_broker(void **state)
{
    (void)state;
    const char *args[] = {"--brokers", "2", "--partitions", "2", NULL};
    start_kafka(args);
    sluice_err_t err = {{0}};
    sluice_th_output_t out;
    if (sluice_th_kafka_command(&kafka, "leader sluice.events 0 1", &err) != 0 ||
        sluice_th_kafka_command(&kafka, "leader sluice.events 1 2", &err) != 0 ||
        sluice_th_kafka_command(&kafka, "down 2", &err) != 0)
        fail_msg("%s", err.msg);

    produce_to(0, "p0-while-2-down", "message.timeout.ms=15000", &out);
    assert_exit_ok(&out);
    sluice_th_output_dispose(&out);
    produce_to(1, "p1-while-2-down", "message.timeout.ms=2000", &out);
    assert_false(sluice_th_exited_with(out.wstatus, 0));
    sluice_th_output_dispose(&out);

    assert_int_equal(sluice_th_kafka_command(&kafka, "down 3", &err), -1);
    assert_non_null(strstr(err.msg, "broker: '3' is not a number between 1 and 2"));
    assert_int_equal(sluice_th_kafka_command(&kafka, "reboot 1", &err), -1);
    assert_non_null(strstr(err.msg, "unknown command"));
    assert_int_equal(sluice_th_kafka_command(&kafka, "produce-error 1 NO_SUCH_ERROR", &err), -1);
    assert_non_null(strstr(err.msg, "no broker error named 'NO_SUCH_ERROR'"));
    assert_int_equal(sluice_th_kafka_command(&kafka, "produce-error 0 NOT_LEADER_FOR_PARTITION", &err), -1);
    assert_int_equal(sluice_th_kafka_command(&kafka, "produce-error 1 NOT_LEADER_FOR_PARTITION 3", &err), -1);
    assert_non_null(strstr(err.msg, "broker: '3' is not a number between 1 and 2"));
    assert_int_equal(sluice_th_kafka_command(&kafka, "rtt 3 100", &err), -1);
    assert_non_null(strstr(err.msg, "broker: '3' is not a number between 1 and 2"));

    if (sluice_th_kafka_command(&kafka, "up 2", &err) != 0)
        fail_msg("%s", err.msg);
    produce_to(1, "p1-after", "message.timeout.ms=15000", &out);
    assert_exit_ok(&out);
    sluice_th_output_dispose(&out);

    const char *consume[] = {"-t", "sluice.events", "-C", "-e", "-q", "-f", "%p:%s\n", NULL};
    kcat(consume, NULL, KCAT_TIMEOUT_MS, &out);
    char *lines[8];
    assert_int_equal(sorted_lines(out.out, lines, 8), 2);
    assert_string_equal(lines[0], "0:p0-while-2-down");
    assert_string_equal(lines[1], "1:p1-after");
    sluice_th_output_dispose(&out);
}

/* --down-after / --up-after do the same on a timer, counted from start. */
static void test_fault_timers(void **state)
{
    (void)state;
    const char *args[] = {"--down-after", "300", "--up-after", "5000", NULL};
    start_kafka(args);
    sluice_err_t err = {{0}};
    if (sluice_th_wait_log(kafka.proc, "\"event\":\"devkafka.down\"", 1, 5000, &err) != 0)
        fail_msg("%s", err.msg);

    sluice_th_output_t out;
    produce_one("sluice.events", "k:while-down", "message.timeout.ms=1500", &out);
    assert_false(sluice_th_exited_with(out.wstatus, 0));
    sluice_th_output_dispose(&out);

    if (sluice_th_wait_log(kafka.proc, "\"event\":\"devkafka.up\"", 1, 10000, &err) != 0)
        fail_msg("%s", err.msg);
    produce_one("sluice.events", "k:after", "message.timeout.ms=15000", &out);
    assert_exit_ok(&out);
    sluice_th_output_dispose(&out);
}

/* SIGTERM and SIGINT both stop it with status 0, promptly, and the bootstrap file goes away. */
static void test_stop_signals_exit_zero(void **state)
{
    (void)state;
    const int signals[] = {SIGTERM, SIGINT};
    for (size_t i = 0; i < 2; i++) {
        start_kafka(NULL);
        sluice_err_t err = {{0}};
        int st = -1;
        assert_int_equal(sluice_th_proc_signal(kafka.proc, signals[i], &err), 0);
        if (sluice_th_proc_wait(kafka.proc, 10000, &st, &err) != 0)
            fail_msg("%s", err.msg);
        assert_true(sluice_th_exited_with(st, 0));
        assert_int_not_equal(access(kafka.bootstrap_file, F_OK), 0);
        char *log = sluice_th_read_file(sluice_th_proc_log(kafka.proc), NULL, NULL);
        assert_non_null(log);
        assert_int_equal(sluice_th_count(log, "\"event\":\"devkafka.stopped\""), 1);
        free(log);
        memset(&kafka, 0, sizeof(kafka));
    }
}

/* Bad arguments: exit 2, a message naming the problem, and no cluster. */
static void test_bad_arguments(void **state)
{
    (void)state;
    static const struct {
        const char *args[6];
        const char *message;
    } cases[] = {
        {{"--brokers", "0"}, "--brokers: '0' is not a number between 1 and 16"},
        {{"--brokers", "3x"}, "--brokers: '3x' is not a number"},
        {{"--partitions", "-1"}, "--partitions: '-1' is not a number"},
        {{"--topics", "ok,bad topic"}, "'bad topic' has a character Kafka does not allow"},
        {{"--topics", "a,,b"}, "empty topic name"},
        {{"--down-after", "500", "--up-after", "100"}, "--up-after (100) must be later than --down-after (500)"},
        {{"--bogus"}, "unknown option '--bogus'"},
        {{"stray"}, "unexpected argument 'stray'"},
        {{"--brokers"}, "--brokers needs a value"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sluice_th_output_t out;
        run_dev_kafka(cases[i].args, &out);
        if (!sluice_th_exited_with(out.wstatus, 2) || !strstr(out.errout, cases[i].message) || out.out_len != 0)
            fail_msg("case %zu: status %d, stdout: %s, stderr: %s", i, out.wstatus, out.out, out.errout);
        sluice_th_output_dispose(&out);
    }
}

static void test_help_lists_every_option(void **state)
{
    (void)state;
    const char *args[] = {"--help", NULL};
    sluice_th_output_t out;
    run_dev_kafka(args, &out);
    assert_exit_ok(&out);
    const char *options[] = {"--brokers", "--partitions", "--topics",   "--bootstrap-file",
                             "--control", "--down-after", "--up-after", "--help",
                             "SIGUSR1",   "SIGUSR2",      "SIGTERM",    "leader TOPIC PARTITION N"};
    for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++)
        assert_non_null(strstr(out.out, options[i]));
    sluice_th_output_dispose(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_announces_bootstrap, teardown),
        cmocka_unit_test_teardown(test_metadata_lists_topics, teardown),
        cmocka_unit_test_teardown(test_produce_consume_round_trip, teardown),
        cmocka_unit_test_teardown(test_consumer_group_resumes, teardown),
        cmocka_unit_test_teardown(test_signals_take_brokers_down_and_up, teardown),
        cmocka_unit_test_teardown(test_control_one_broker, teardown),
        cmocka_unit_test_teardown(test_fault_timers, teardown),
        cmocka_unit_test_teardown(test_stop_signals_exit_zero, teardown),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_help_lists_every_option),
    };
    return cmocka_run_group_tests_name("integration.dev_kafka", tests, NULL, group_teardown);
}
