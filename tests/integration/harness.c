/*
 * Integration tests of the test harness itself (tests/harness/): real Redis and PostgreSQL
 * start, answer, stop and leave nothing behind, also when the test process crashes, the
 * process and command helpers behave as harness.h says, and a child's sanitizer report fails
 * the test process.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <hiredis/hiredis.h>
#include <libpq-fe.h>

#include "tests/harness/harness.h"
#include "tests/harness/kafka.h"
#include "tests/harness/postgres.h"
#include "tests/harness/redis.h"

static int teardown(void **state)
{
    (void)state;
    sluice_th_stop_all();
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    sluice_th_teardown();
    return 0;
}

/* Fails the test with the harness's message when `call` (which writes into the test's `err`) fails. */
#define CHECK(call)                                                                                                    \
    do {                                                                                                               \
        if ((call) != 0)                                                                                               \
            fail_msg("%s: %s", #call, err.msg);                                                                        \
    } while (0)

static redisReply *redis_command(int port, const char *cmd)
{
    struct timeval tv = {.tv_sec = 2};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    assert_non_null(c);
    assert_int_equal(c->err, 0);
    redisReply *r = redisCommand(c, cmd);
    redisFree(c);
    assert_non_null(r);
    return r;
}

/* Redis answers PING, its port closes on stop, and a restart on the same port gives a fresh,
 * empty server (no persistence). */
static void test_redis_stop_and_restart(void **state)
{
    (void)state;
    sluice_err_t err = {{0}};
    sluice_th_redis_t r = {0};
    CHECK(sluice_th_redis_start(&r, 0, &err));
    CHECK(sluice_th_redis_ping(&r, &err));
    assert_true(sluice_th_port_open(r.port));
    char url[64];
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d", r.port);
    assert_string_equal(r.url, url);

    redisReply *reply = redis_command(r.port, "SET harness:key 1");
    assert_int_equal(reply->type, REDIS_REPLY_STATUS);
    freeReplyObject(reply);

    int port = r.port;
    CHECK(sluice_th_redis_stop(&r, &err));
    assert_false(sluice_th_proc_running(r.proc));
    assert_false(sluice_th_port_open(port));
    assert_int_equal(sluice_th_redis_ping(&r, &err), -1);
    assert_non_null(strstr(err.msg, "127.0.0.1"));

    CHECK(sluice_th_redis_restart(&r, &err));
    assert_int_equal(r.port, port);
    CHECK(sluice_th_redis_ping(&r, &err));
    reply = redis_command(r.port, "GET harness:key");
    assert_int_equal(reply->type, REDIS_REPLY_NIL);
    freeReplyObject(reply);
    CHECK(sluice_th_redis_stop(&r, &err));
}

/* A throwaway PostgreSQL cluster answers SELECT 1 in the database asked for (by conninfo and by
 * URL), and after stop no process of the cluster is left and its port is closed. */
static void test_postgres_start_query_stop(void **state)
{
    (void)state;
    sluice_err_t err = {{0}};
    sluice_th_pg_t pg = {0};
    CHECK(sluice_th_pg_start(&pg, 0, "harness_db", &err));
    assert_true(sluice_th_port_open(pg.port));

    const char *conninfos[] = {pg.conninfo, pg.url};
    for (size_t i = 0; i < 2; i++) {
        PGconn *c = PQconnectdb(conninfos[i]);
        if (PQstatus(c) != CONNECTION_OK)
            fail_msg("connect %s: %s", conninfos[i], PQerrorMessage(c));
        PGresult *res = PQexec(c, "SELECT 1, current_database()");
        assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
        assert_string_equal(PQgetvalue(res, 0, 0), "1");
        assert_string_equal(PQgetvalue(res, 0, 1), "harness_db");
        PQclear(res);
        PQfinish(c);
    }
    assert_true(sluice_th_procs_in_dir(pg.dir) >= 2); /* the postmaster and its helpers */

    CHECK(sluice_th_pg_stop(&pg, &err));
    assert_false(sluice_th_proc_running(pg.proc));
    assert_int_equal(sluice_th_procs_in_dir(pg.dir), 0);
    assert_false(sluice_th_port_open(pg.port));
}

typedef struct pids {
    long pid[3];
} pids_t;

static int all_gone(void *arg)
{
    const pids_t *p = arg;
    const char *dir = sluice_th_tmpdir(NULL);
    for (int i = 0; i < 3; i++) {
        char link[64], cwd[64];
        snprintf(link, sizeof(link), "/proc/%ld/cwd", p->pid[i]);
        if (readlink(link, cwd, sizeof(cwd)) > 0)
            return 0; /* readable cwd: alive (a zombie has none) */
    }
    return sluice_th_procs_in_dir(dir) == 0;
}

/* A test process that starts Redis, PostgreSQL and Kafka and then crashes (abort: no atexit,
 * no teardown) leaves no process behind. */
static void test_crashed_test_leaves_nothing(void **state)
{
    (void)state;
    sluice_err_t err = {{0}};
    char pid_file[4096];
    CHECK(sluice_th_path(pid_file, sizeof(pid_file), "crash.pids", &err));
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        sluice_th_redis_t r = {0};
        sluice_th_pg_t pg = {0};
        sluice_th_kafka_t k = {0};
        if (sluice_th_redis_start(&r, 0, &err) != 0 || sluice_th_pg_start(&pg, 0, NULL, &err) != 0 ||
            sluice_th_kafka_start(&k, NULL, &err) != 0) {
            fprintf(stderr, "crash child: %s\n", err.msg);
            _exit(3);
        }
        FILE *f = fopen(pid_file, "w");
        if (f) {
            fprintf(f, "%ld %ld %ld\n", (long)sluice_th_proc_pid(r.proc), (long)sluice_th_proc_pid(pg.proc),
                    (long)sluice_th_proc_pid(k.proc));
            fclose(f);
        }
        signal(SIGABRT, SIG_DFL);
        abort();
    }
    int st;
    assert_int_equal(waitpid(child, &st, 0), child);
    assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);

    pids_t p;
    FILE *f = fopen(pid_file, "r");
    assert_non_null(f);
    assert_int_equal(fscanf(f, "%ld %ld %ld", &p.pid[0], &p.pid[1], &p.pid[2]), 3);
    fclose(f);
    /* PR_SET_PDEATHSIG kills each child at once; PostgreSQL's backends follow their postmaster. */
    assert_int_equal(sluice_th_wait_until(all_gone, &p, 15000), 0);
}

/* sluice_th_teardown stops every child and removes the temp dir; the next use makes a new one. */
static void test_teardown_stops_and_cleans(void **state)
{
    (void)state;
    sluice_err_t err = {{0}};
    sluice_th_redis_t r = {0};
    sluice_th_kafka_t k = {0};
    CHECK(sluice_th_redis_start(&r, 0, &err));
    CHECK(sluice_th_kafka_start(&k, NULL, &err));
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s", sluice_th_tmpdir(NULL));

    sluice_th_teardown();
    assert_false(sluice_th_proc_running(r.proc));
    assert_false(sluice_th_proc_running(k.proc));
    assert_false(sluice_th_port_open(r.port));
    struct stat st;
    assert_int_not_equal(stat(dir, &st), 0);
    assert_int_equal(sluice_th_procs_in_dir(dir), 0);

    const char *fresh = sluice_th_tmpdir(NULL);
    assert_non_null(fresh);
    assert_string_not_equal(fresh, dir);
    assert_int_equal(stat(fresh, &st), 0);
}

/* Spawn reports exec failures itself; run captures stdout, stderr and the exit status, feeds
 * stdin, and kills a command that outlives its timeout; stop falls back to SIGKILL. */
static void test_process_helpers(void **state)
{
    (void)state;
    sluice_err_t err = {{0}};
    const char *missing[] = {"sluice-no-such-program", NULL};
    assert_null(sluice_th_spawn("missing", missing, NULL, &err));
    assert_non_null(strstr(err.msg, "not found"));

    sluice_th_output_t out;
    const char *sh[] = {"sh", "-c", "cat; echo oops >&2; exit 3", NULL};
    CHECK(sluice_th_run(sh, "line one\nline two\n", 18, 10000, &out, &err));
    assert_string_equal(out.out, "line one\nline two\n");
    assert_string_equal(out.errout, "oops\n");
    assert_true(sluice_th_exited_with(out.wstatus, 3));
    assert_false(out.timed_out);
    sluice_th_output_dispose(&out);

    const char *slow[] = {"sleep", "30", NULL};
    CHECK(sluice_th_run(slow, NULL, 0, 300, &out, &err));
    assert_true(out.timed_out);
    assert_true(WIFSIGNALED(out.wstatus) && WTERMSIG(out.wstatus) == SIGKILL);
    sluice_th_output_dispose(&out);

    /* A child that ignores its stop signal is killed after the bound, and stop says so. */
    const char *stubborn[] = {"sh", "-c", "trap '' TERM; echo started; while :; do sleep 1; done", NULL};
    const char *env[] = {"SLUICE_HARNESS_TEST=yes", NULL};
    sluice_th_spawn_opts_t opts = {.env = env};
    sluice_th_proc_t *p = sluice_th_spawn("stubborn", stubborn, &opts, &err);
    assert_non_null(p);
    CHECK(sluice_th_wait_log(p, "started", 1, 5000, &err));
    int st;
    assert_int_equal(sluice_th_proc_stop(p, 300, &st, &err), -1);
    assert_non_null(strstr(err.msg, "killed"));
    assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    assert_false(sluice_th_proc_running(p));

    /* Extra environment reaches the child. */
    const char *show[] = {"sh", "-c", "echo \"var=$SLUICE_HARNESS_TEST\"", NULL};
    p = sluice_th_spawn("show-env", show, &opts, &err);
    assert_non_null(p);
    CHECK(sluice_th_proc_wait(p, 5000, &st, &err));
    assert_true(sluice_th_exited_with(st, 0));
    char *log = sluice_th_read_file(sluice_th_proc_log(p), NULL, NULL);
    assert_non_null(log);
    assert_string_equal(log, "var=yes\n");
    free(log);

    int port = sluice_th_free_port(&err);
    assert_true(port > 0);
    assert_false(sluice_th_port_open(port));
}

/* In a forked copy of this test process: runs `what` the way a test would (0: a spawned child
 * with this shell line, 1: sluice_th_run of it), then exits 0 with stderr in err_path. Returns
 * the copy's wait status: the harness turns a sanitizer report from the child into exit 1. */
static int run_in_copy(int how, const char *line, const char *err_path)
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (freopen(err_path, "w", stderr) == NULL)
            _exit(3);
        sluice_err_t err = {{0}};
        const char *argv[] = {"sh", "-c", line, NULL};
        if (how == 0) {
            sluice_th_proc_t *p = sluice_th_spawn("reporter", argv, NULL, &err);
            if (p == NULL || sluice_th_proc_wait(p, 10000, NULL, &err) != 0)
                _exit(4);
        } else {
            sluice_th_output_t out;
            if (sluice_th_run(argv, NULL, 0, 10000, &out, &err) != 0)
                _exit(4);
            sluice_th_output_dispose(&out);
        }
        exit(0); /* the harness's atexit handler decides the status */
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    return st;
}

/* A sanitizer report in a child's log or in a command's stderr fails the test process at exit,
 * even when the child itself exited 0 and every assertion passed; a clean child does not. */
static void test_sanitizer_reports_fail_the_process(void **state)
{
    (void)state;
    char err_path[4096];
    sluice_err_t err = {{0}};
    CHECK(sluice_th_path(err_path, sizeof(err_path), "copy.err", &err));

    int st = run_in_copy(0, "echo started; echo '==7==ERROR: AddressSanitizer: heap-use-after-free on address' >&2",
                         err_path);
    assert_true(sluice_th_exited_with(st, 1));
    char *text = sluice_th_read_file(err_path, NULL, NULL);
    assert_non_null(text);
    assert_non_null(strstr(text, "harness: sanitizer report from reporter ("));
    assert_non_null(strstr(text, "harness: 1 sanitizer report in child processes; the first:\nreporter ("));
    assert_non_null(strstr(text, "ERROR: AddressSanitizer: heap-use-after-free"));
    free(text);

    st = run_in_copy(0, "echo '==8==ERROR: LeakSanitizer: detected memory leaks' >&2; exit 0", err_path);
    assert_true(sluice_th_exited_with(st, 1));

    st = run_in_copy(1, "echo 'x.c:3:9: runtime error: signed integer overflow' >&2", err_path);
    assert_true(sluice_th_exited_with(st, 1));
    text = sluice_th_read_file(err_path, NULL, NULL);
    assert_non_null(text);
    assert_non_null(strstr(text, "harness: sanitizer report from sh (its stderr)"));
    free(text);

    /* Nothing reported (also not by an earlier run under the same name, whose lines are still
     * in the log it appends to): the copy's own status stands. */
    st = run_in_copy(0, "echo 'ERROR: something else went wrong' >&2; exit 2", err_path);
    assert_true(sluice_th_exited_with(st, 0));
    st = run_in_copy(1, "echo fine", err_path);
    assert_true(sluice_th_exited_with(st, 0));
    assert_int_equal(sluice_th_sanitizer_reports(), 0); /* the copies' reports stayed in the copies */
}

/* The small helpers the gateway and delivery fixtures share (gwfix.c, deliver_fix.c, loadgen.c). */
static void test_shared_helpers(void **state)
{
    (void)state;
    /* A series is read whole: neither from a longer name nor from the same name with labels. */
    const char *text = "# TYPE x_total counter\n"
                       "x_total{reason=\"a\"} 7\n"
                       "x_total_more 5\n"
                       "x_total 3\n"
                       "y 2.5";
    assert_true(sluice_th_metric_value(text, "x_total") == 3);
    assert_true(sluice_th_metric_value(text, "x_total{reason=\"a\"}") == 7);
    assert_true(sluice_th_metric_value(text, "y") == 2.5); /* the last line, with no newline after it */
    assert_true(sluice_th_metric_value(text, "x") == -1);
    assert_true(sluice_th_metric_value(text, "x_total{reason=\"b\"}") == -1);

    char abc[] = "abc", de[] = "de";
    sluice_th_buf_t b = {0};
    assert_int_equal(sluice_th_buf_append(abc, 1, 3, &b), 3);
    assert_int_equal(sluice_th_buf_append(de, 2, 1, &b), 2);
    assert_int_equal(b.len, 5);
    assert_string_equal(b.p, "abcde");
    free(b.p);

    int64_t t0 = sluice_th_mono_ms();
    sluice_th_sleep_ms(50);
    assert_true(sluice_th_mono_ms() - t0 >= 50);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_redis_stop_and_restart, teardown),
        cmocka_unit_test_teardown(test_postgres_start_query_stop, teardown),
        cmocka_unit_test_teardown(test_crashed_test_leaves_nothing, teardown),
        cmocka_unit_test_teardown(test_teardown_stops_and_cleans, teardown),
        cmocka_unit_test_teardown(test_process_helpers, teardown),
        cmocka_unit_test_teardown(test_sanitizer_reports_fail_the_process, teardown),
        cmocka_unit_test(test_shared_helpers),
    };
    return cmocka_run_group_tests_name("integration.harness", tests, NULL, group_teardown);
}
