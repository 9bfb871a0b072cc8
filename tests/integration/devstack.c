/*
 * Integration tests of sluice-devstack (what `make demo` runs): it starts a stack that answers
 * (Redis PING, PostgreSQL SELECT 1, kcat metadata), every command line it prints runs as printed,
 * it writes its env file, and on SIGINT stops everything and exits 0 with no process left; a
 * dying service takes the stack down cleanly.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "tests/harness/harness.h"
#include "tests/harness/redis.h"

#define READY_TIMEOUT_MS 120000
#define STOP_TIMEOUT_MS  30000

/* The devstack under test and the dir its own temp dir lives in (so we can look for leftovers). */
typedef struct run {
    sluice_th_proc_t *proc;
    char base[PATH_MAX - 64];
    char env_file[PATH_MAX];
} run_t;

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

/* Starts sluice-devstack with TMPDIR inside our temp dir and SLUICE_KEEP_TMP=1, so every process
 * it starts runs below run->base, where sluice_th_procs_in_dir can find leftovers. */
static void start_devstack(run_t *run, const char *label)
{
    sluice_err_t err = {{0}};
    if (sluice_th_path(run->base, sizeof(run->base), label, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(mkdir(run->base, 0711), 0);
    snprintf(run->env_file, sizeof(run->env_file), "%s/devstack.env", run->base);
    char devstack[PATH_MAX], tmpdir_env[PATH_MAX + 8];
    snprintf(devstack, sizeof(devstack), "%s/tests/harness/sluice-devstack", sluice_th_build_dir());
    snprintf(tmpdir_env, sizeof(tmpdir_env), "TMPDIR=%s", run->base);
    const char *env[] = {tmpdir_env, "SLUICE_KEEP_TMP=1", NULL};
    const char *argv[] = {devstack, "--env-file", run->env_file, NULL};
    sluice_th_spawn_opts_t opts = {.env = env, .stop_signal = SIGINT};
    run->proc = sluice_th_spawn(label, argv, &opts, &err);
    if (!run->proc)
        fail_msg("%s", err.msg);
    if (sluice_th_wait_log(run->proc, "sluice-devstack: ready", 1, READY_TIMEOUT_MS, &err) != 0)
        fail_msg("%s", err.msg);
}

/* The value of NAME=... in the env file text (copied into out). */
static void env_value(const char *text, const char *name, char *out, size_t cap)
{
    char key[64];
    snprintf(key, sizeof(key), "\n%s=", name);
    const char *p = strstr(text, key);
    if (!p)
        fail_msg("%s missing from the env file:\n%s", name, text);
    p += strlen(key);
    size_t len = strcspn(p, "\n");
    assert_true(len > 0 && len < cap);
    memcpy(out, p, len);
    out[len] = '\0';
}

/* The pid the devstack printed for a service ("  <name>  pid N ..."). */
static long service_pid(const run_t *run, const char *name)
{
    char *log = sluice_th_read_file(sluice_th_proc_log(run->proc), NULL, NULL);
    assert_non_null(log);
    char key[64];
    snprintf(key, sizeof(key), "\n  %s ", name);
    const char *p = strstr(log, key);
    assert_non_null(p);
    p = strstr(p, " pid ");
    assert_non_null(p);
    long pid = strtol(p + 5, NULL, 10);
    free(log);
    assert_true(pid > 0);
    return pid;
}

/* Runs every command line of the printed table (the lines indented under a service) with bash
 * exactly as printed, from the directory the stack runs in: each exits 0 without a complaint from
 * bash (its `kill` exits 0 when it signalled anything, even with the rest of the line refused).
 * The interactive ones get a query on stdin and must answer it. Returns how many ran. */
static int run_printed_commands(const char *log)
{
    static const char indent[] = "\n              ";
    const char *table = strstr(log, "local stack on 127.0.0.1");
    const char *end = table ? strstr(table, "sluice-devstack: ready") : NULL;
    assert_non_null(end);
    int ran = 0;
    for (const char *p = strstr(table, indent); p != NULL && p < end; p = strstr(p, indent)) {
        p += sizeof(indent) - 1;
        char cmd[2048];
        size_t len = strcspn(p, "\n");
        assert_true(len < sizeof(cmd));
        memcpy(cmd, p, len);
        cmd[len] = '\0';
        const char *input = "", *answer = NULL;
        if (strncmp(cmd, "redis-cli ", 10) == 0)
            input = "PING\n", answer = "PONG";
        else if (strncmp(cmd, "psql ", 5) == 0)
            input = "SELECT 40 + 2;\n", answer = "42";
        const char *argv[] = {"bash", "-c", cmd, NULL};
        sluice_th_output_t out;
        sluice_err_t err = {{0}};
        if (sluice_th_run(argv, input, strlen(input), 60000, &out, &err) != 0)
            fail_msg("%s: %s", cmd, err.msg);
        if (!sluice_th_exited_with(out.wstatus, 0) || strstr(out.errout, "bash: ") != NULL ||
            (answer != NULL && strstr(out.out, answer) == NULL))
            fail_msg("printed command failed (status %d): %s\nstdout: %s\nstderr: %s", out.wstatus, cmd, out.out,
                     out.errout);
        sluice_th_output_dispose(&out);
        ran++;
    }
    return ran;
}

static int nothing_left(void *arg)
{
    const run_t *run = arg;
    return sluice_th_procs_in_dir(run->base) == 0;
}

static void test_stack_serves_and_stops_on_sigint(void **state)
{
    (void)state;
    run_t run;
    start_devstack(&run, "devstack-sigint");

    char *env = sluice_th_read_file(run.env_file, NULL, NULL);
    assert_non_null(env);
    char redis_url[256], db_url[256], brokers[1024];
    env_value(env, "SLUICE_REDIS_URL", redis_url, sizeof(redis_url));
    env_value(env, "SLUICE_DATABASE_URL", db_url, sizeof(db_url));
    env_value(env, "SLUICE_KAFKA_BROKERS", brokers, sizeof(brokers));
    free(env);

    /* Redis */
    assert_int_equal(strncmp(redis_url, "redis://127.0.0.1:", 18), 0);
    sluice_th_redis_t r = {.port = (int)strtol(redis_url + 18, NULL, 10)};
    sluice_err_t err = {{0}};
    if (sluice_th_redis_ping(&r, &err) != 0)
        fail_msg("%s", err.msg);

    /* PostgreSQL */
    PGconn *c = PQconnectdb(db_url);
    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("connect %s: %s", db_url, PQerrorMessage(c));
    PGresult *res = PQexec(c, "SELECT 1");
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    assert_string_equal(PQgetvalue(res, 0, 0), "1");
    PQclear(res);
    PQfinish(c);

    /* Kafka, from a separate stock client */
    const char *kcat[] = {"kcat", "-b", brokers, "-L", "-m", "10", NULL};
    sluice_th_output_t out;
    if (sluice_th_run(kcat, NULL, 0, 30000, &out, &err) != 0)
        fail_msg("%s", err.msg);
    assert_true(sluice_th_exited_with(out.wstatus, 0));
    assert_non_null(strstr(out.out, "topic \"sluice.events\""));
    assert_non_null(strstr(out.out, "topic \"sluice.dlq\""));
    sluice_th_output_dispose(&out);

    /* The printed lines are ready to paste. */
    char *log = sluice_th_read_file(sluice_th_proc_log(run.proc), NULL, NULL);
    assert_non_null(log);
    char line[1200];
    snprintf(line, sizeof(line), "kcat -b %s -L", brokers);
    assert_non_null(strstr(log, line));
    snprintf(line, sizeof(line), "psql '%s'", db_url);
    assert_non_null(strstr(log, line));
    snprintf(line, sizeof(line), "redis-cli -h 127.0.0.1 -p %d", r.port);
    assert_non_null(strstr(log, line));
    /* redis-cli, psql, kcat -L, kcat -P, kcat -C, and the broker outage (kill -USR1 ... -USR2),
     * after which the brokers answer again. */
    assert_int_equal(run_printed_commands(log), 6);
    free(log);
    if (sluice_th_run(kcat, NULL, 0, 30000, &out, &err) != 0)
        fail_msg("%s", err.msg);
    assert_true(sluice_th_exited_with(out.wstatus, 0));
    sluice_th_output_dispose(&out);
    assert_true(sluice_th_procs_in_dir(run.base) >= 3);

    int st = -1;
    assert_int_equal(sluice_th_proc_signal(run.proc, SIGINT, &err), 0);
    if (sluice_th_proc_wait(run.proc, STOP_TIMEOUT_MS, &st, &err) != 0)
        fail_msg("%s", err.msg);
    assert_true(sluice_th_exited_with(st, 0));
    assert_int_equal(sluice_th_wait_until(nothing_left, &run, 10000), 0);
    assert_int_not_equal(access(run.env_file, F_OK), 0);
    assert_false(sluice_th_port_open(r.port));
    log = sluice_th_read_file(sluice_th_proc_log(run.proc), NULL, NULL);
    assert_non_null(strstr(log, "sluice-devstack: stopped"));
    free(log);
}

/* A service that dies under the stack stops the rest: exit 1, the dead one named, nothing left. */
static void test_dead_service_stops_the_stack(void **state)
{
    (void)state;
    run_t run;
    start_devstack(&run, "devstack-crash");
    long redis_pid = service_pid(&run, "redis");
    assert_int_equal(kill((pid_t)redis_pid, SIGKILL), 0);

    sluice_err_t err = {{0}};
    int st = -1;
    if (sluice_th_proc_wait(run.proc, STOP_TIMEOUT_MS, &st, &err) != 0)
        fail_msg("%s", err.msg);
    assert_true(sluice_th_exited_with(st, 1));
    char *log = sluice_th_read_file(sluice_th_proc_log(run.proc), NULL, NULL);
    assert_non_null(strstr(log, "redis (pid"));
    assert_non_null(strstr(log, "exited unexpectedly"));
    free(log);
    assert_int_equal(sluice_th_wait_until(nothing_left, &run, 10000), 0);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    char devstack[PATH_MAX];
    snprintf(devstack, sizeof(devstack), "%s/tests/harness/sluice-devstack", sluice_th_build_dir());
    static const struct {
        const char *arg[3];
        const char *message;
    } cases[] = {
        {{"--redis-port", "70000"}, "--redis-port: '70000' is not a port number"},
        {{"--wat"}, "unknown option '--wat'"},
        {{"--env-file"}, "--env-file needs a value"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *argv[] = {devstack, cases[i].arg[0], cases[i].arg[1], NULL};
        sluice_th_output_t out;
        sluice_err_t err = {{0}};
        if (sluice_th_run(argv, NULL, 0, 10000, &out, &err) != 0)
            fail_msg("%s", err.msg);
        if (!sluice_th_exited_with(out.wstatus, 2) || !strstr(out.errout, cases[i].message))
            fail_msg("case %zu: status %d, stderr: %s", i, out.wstatus, out.errout);
        assert_null(strstr(out.out, "starting"));
        sluice_th_output_dispose(&out);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_stack_serves_and_stops_on_sigint, teardown),
        cmocka_unit_test_teardown(test_dead_service_stops_the_stack, teardown),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests_name("integration.devstack", tests, NULL, group_teardown);
}
