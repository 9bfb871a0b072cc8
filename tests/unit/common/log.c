/* Tests for common/log.c under pressure: a stderr nobody reads does not hold the thread that
 * logs (lines are queued, then dropped and counted, and a log.dropped line says how many once the
 * reader comes back, the lines kept in order); a flood of one event name is cut to its first
 * lines and one summary; queued lines reach the reader at exit, also after a fatal error. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/log.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Everything the pipe holds within `quiet_ms` of its last byte (caller frees). */
static char *drain(int fd, int quiet_ms, size_t *len)
{
    size_t cap = 1 << 22, n = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    int fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    double last = now_s();
    while ((now_s() - last) * 1000 < quiet_ms) {
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r > 0) {
            n += (size_t)r;
            last = now_s();
        } else if (r == 0) {
            break;
        } else {
            usleep(10000);
        }
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static size_t count(const char *text, const char *needle)
{
    size_t c = 0;
    for (const char *p = text; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        c++;
    return c;
}

/* A pipe whose reader stopped: 20,000 lines (4 MB, past the pipe and the ring) are logged in well
 * under a second instead of blocking at the pipe's 64 KiB; the reader then gets the lines kept,
 * in order, and log.dropped lines whose counts add up to what sluice_log_dropped reports. */
static void test_stuck_reader_does_not_block(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    sluice_log_setup("test", SLUICE_LOG_INFO, p[1]);
    sluice_log_set_limit(0, 0); /* every line counts here */
    assert_int_equal(sluice_log_start(), 0);
    alarm(20); /* before the writer thread, the first write past 64 KiB blocked for good */
    double t0 = now_s();
    for (int i = 0; i < 20000; i++)
        sluice_log_info("t.seq", "line %06d of a log nobody reads %0120d", i, 0);
    double took = now_s() - t0;
    alarm(0);
    assert_true(took < 3.0);
    unsigned long long dropped = sluice_log_dropped();
    assert_true(dropped > 0);
    /* The reader comes back: what was queued arrives, in order, then the count. */
    size_t len;
    char *out = drain(p[0], 1500, &len);
    int prev = -1, lines = 0;
    for (const char *l = out; (l = strstr(l, "\"line ")) != NULL; l += 6) {
        int seq = (int)strtol(l + 6, NULL, 10);
        assert_true(seq > prev);
        prev = seq;
        lines++;
    }
    assert_int_equal((unsigned long long)lines + dropped, 20000);
    /* A log.dropped line where lines were lost (more than one when the writer made room
     * between two runs of drops), their counts adding up to what was dropped. */
    unsigned long long said = 0;
    size_t notes = 0;
    for (const char *n = out; (n = strstr(n, "\"dropped\":")) != NULL; n += 10, notes++)
        said += strtoull(n + 10, NULL, 10);
    assert_true(notes >= 1);
    assert_int_equal(count(out, "\"event\":\"log.dropped\""), notes);
    assert_int_equal(said, dropped);
    /* Each line a whole JSON object on its own line. */
    assert_int_equal(count(out, "\n"), (size_t)lines + notes);
    assert_int_equal(count(out, "{\"ts\":"), (size_t)lines + notes);
    free(out);
    close(p[0]);
    close(p[1]);
}

/* A hostile flood of one event name: its first lines, the other events untouched, and one
 * summary line under the same name once the window ends, even with no further line. */
static void test_flood_cut_to_first_lines(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    sluice_log_setup("test", SLUICE_LOG_INFO, p[1]);
    sluice_log_set_limit(5, 400);
    unsigned long long before = sluice_log_suppressed();
    for (int i = 0; i < 1000; i++) {
        sluice_log_warn("t.flood", "bad request %d", i);
        if (i == 500)
            sluice_log_info("t.other", "something else");
    }
    size_t len;
    char *out = drain(p[0], 2500, &len); /* the writer's sweep writes the summary by itself */
    assert_int_equal(count(out, "\"event\":\"t.flood\""), 6);
    assert_int_equal(count(out, "\"msg\":\"bad request "), 5);
    assert_non_null(strstr(out, "bad request 4\""));
    assert_null(strstr(out, "bad request 5\""));
    assert_int_equal(count(out, "\"event\":\"t.other\""), 1);
    assert_non_null(strstr(out, "\"level\":\"warn\",\"component\":\"test\",\"event\":\"t.flood\",\"msg\":\"995 more "
                                "lines like this suppressed"));
    assert_non_null(strstr(out, "\"suppressed\":995}"));
    assert_int_equal(sluice_log_suppressed() - before, 995);
    free(out);
    /* A new window: the first lines of it are written again. */
    sluice_log_warn("t.flood", "bad request again");
    sluice_log_flush(2000);
    out = drain(p[0], 200, &len);
    assert_non_null(strstr(out, "bad request again"));
    free(out);
    sluice_log_set_limit(SLUICE_LOG_BURST, SLUICE_LOG_WINDOW_MS);
    close(p[0]);
    close(p[1]);
}

/* A process that logs a fatal start error and exits 1 at once: the line reaches the reader. */
static void test_fatal_error_reaches_reader(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        sluice_log_setup("child", SLUICE_LOG_INFO, p[1]);
        assert_int_equal(sluice_log_start(), 0);
        for (int i = 0; i < 3; i++)
            sluice_log_error("config.error", "config.yaml:%d:1: unknown key", i + 1);
        exit(1);
    }
    close(p[1]);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_int_equal(WEXITSTATUS(st), 1);
    size_t len;
    char *out = drain(p[0], 200, &len);
    assert_int_equal(count(out, "\"event\":\"config.error\""), 3);
    assert_non_null(strstr(out, "config.yaml:3:1: unknown key"));
    free(out);
    close(p[0]);
}

/* Exit with a stderr nobody reads: bounded (SLUICE_LOG_EXIT_FLUSH_MS), not a hang. */
static void test_exit_with_stuck_reader_is_bounded(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    double t0 = now_s();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        sluice_log_setup("child", SLUICE_LOG_INFO, p[1]);
        sluice_log_set_limit(0, 0);
        assert_int_equal(sluice_log_start(), 0);
        for (int i = 0; i < 5000; i++)
            sluice_log_info("t.fill", "filling a pipe nobody reads %0150d", i);
        exit(0);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(now_s() - t0 < SLUICE_LOG_EXIT_FLUSH_MS / 1000.0 + 3);
    close(p[0]);
    close(p[1]);
}

/* A fatal line followed by abort() (deliver.oom: "out of memory taking a message: aborting"):
 * abort runs no atexit handler, so a line still queued was lost and the worker died with no
 * reason on stderr. The line must reach the reader, and the process still end by SIGABRT. */
static void test_line_before_abort_reaches_reader(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        sluice_log_setup("child", SLUICE_LOG_INFO, p[1]);
        assert_int_equal(sluice_log_start(), 0);
        for (int i = 0; i < 50; i++)
            sluice_log_info("t.busy", "line %d before the fatal one", i);
        sluice_log_error("deliver.oom", "out of memory taking a message: aborting");
        abort();
    }
    close(p[1]);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFSIGNALED(st));
    assert_int_equal(WTERMSIG(st), SIGABRT);
    size_t len;
    char *out = drain(p[0], 200, &len);
    assert_non_null(strstr(out, "\"event\":\"deliver.oom\",\"msg\":\"out of memory taking a message: aborting\""));
    /* those queued before it too */
    assert_int_equal(count(out, "\"event\":\"t.busy\",\"msg\":\"line "), SLUICE_LOG_BURST);
    free(out);
    close(p[0]);
}

/* A flood cut just before abort(): its summary, the one line saying lines were left out (and,
 * for a keyed window, whose), was still a count in a window and died with the process; the
 * reader saw 20 lines and no hint of the 30 more. Written before the signal goes on, as at exit. */
static void test_summary_before_abort_reaches_reader(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        sluice_log_setup("child", SLUICE_LOG_INFO, p[1]);
        assert_int_equal(sluice_log_start(), 0);
        for (int i = 0; i < 50; i++) {
            sluice_log_info("t.busy", "line %d before the fatal one", i);
            sluice_log_for(SLUICE_LOG_WARN, "mask.failed", "acme", "fixture", "line %d of acme's", i);
        }
        sluice_log_error("deliver.oom", "out of memory taking a message: aborting");
        abort();
    }
    close(p[1]);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFSIGNALED(st));
    assert_int_equal(WTERMSIG(st), SIGABRT);
    size_t len;
    char *out = drain(p[0], 200, &len);
    assert_non_null(strstr(out, "\"event\":\"deliver.oom\""));
    assert_int_equal(count(out, "\"event\":\"t.busy\",\"msg\":\"line "), SLUICE_LOG_BURST);
    assert_int_equal(count(out, "\"event\":\"t.busy\",\"msg\":\"30 more lines like this suppressed"), 1);
    assert_int_equal(count(out, "\"suppressed\":30,\"org\":\"acme\",\"plugin\":\"fixture\"}"), 1);
    free(out);
    close(p[0]);
}

/* Without the writer thread (sluicectl, or a gateway that could not start it) lines over the
 * limit were counted and never summed up: the process exited and no "N more lines like this
 * suppressed" line said that anything was left out (docs/deploy.md promises one at exit). */
static void test_direct_mode_summary_at_exit(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        sluice_log_setup("sluicectl", SLUICE_LOG_WARN, p[1]);
        sluice_log_set_limit(3, 60000);
        for (int i = 0; i < 10; i++)
            sluice_log_warn("plugin.log", "plugin p (org o, rule r): value %d refused", i);
        exit(0);
    }
    close(p[1]);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_int_equal(WEXITSTATUS(st), 0);
    size_t len;
    char *out = drain(p[0], 200, &len);
    assert_int_equal(count(out, "value "), 3);
    assert_non_null(strstr(out, "\"msg\":\"7 more lines like this suppressed"));
    assert_non_null(strstr(out, "\"suppressed\":7}"));
    free(out);
    close(p[0]);
}

/* Everything written to the file fd (caller frees). */
static char *slurp(int fd)
{
    off_t end = lseek(fd, 0, SEEK_END);
    char *buf = malloc((size_t)end + 1);
    assert_non_null(buf);
    assert_int_equal(pread(fd, buf, (size_t)end, 0), (ssize_t)end);
    buf[end] = '\0';
    return buf;
}

/* The sum of the "suppressed" counts of the summary lines holding `needle`. */
static unsigned long long said_suppressed(const char *text, const char *needle)
{
    unsigned long long sum = 0;
    for (const char *l = text; *l != '\0';) {
        const char *e = strchr(l, '\n');
        size_t n = e ? (size_t)(e - l) : strlen(l);
        char line[2048];
        snprintf(line, sizeof(line), "%.*s", (int)n, l);
        const char *s = strstr(line, "\"suppressed\":");
        if (strstr(line, needle) != NULL && s != NULL)
            sum += strtoull(s + 13, NULL, 10);
        l += n + (e ? 1 : 0);
    }
    return sum;
}

/* Org acme's client sends 1,000 values a plugin fails on; org globex's client 3. Before, the
 * limit was per event name: globex's 3 lines were suppressed with acme's flood and the summary
 * ("995 more lines like this") did not say whose they were. */
static void test_one_org_flood_leaves_other_orgs_lines(void **state)
{
    (void)state;
    FILE *f = tmpfile();
    assert_non_null(f);
    sluice_log_setup("test", SLUICE_LOG_INFO, fileno(f));
    sluice_log_set_limit(5, 60000);
    unsigned long long before = sluice_log_suppressed();
    for (int i = 0; i < 1000; i++)
        sluice_log_for(SLUICE_LOG_WARN, "mask.failed", "acme", "fixture", "plugin fixture failed on org acme %d", i);
    for (int i = 0; i < 3; i++)
        sluice_log_for(SLUICE_LOG_WARN, "mask.failed", "globex", "fixture", "plugin fixture failed on org globex %d",
                       i);
    /* The same org, another plugin: its own lines too. */
    sluice_log_for(SLUICE_LOG_WARN, "mask.failed", "acme", "hasher", "plugin hasher failed on org acme");
    assert_int_equal(sluice_log_flush(2000), 0); /* the summaries */
    char *out = slurp(fileno(f));
    assert_int_equal(count(out, "failed on org globex "), 3);
    assert_non_null(strstr(out, "plugin hasher failed on org acme\""));
    assert_int_equal(count(out, "failed on org acme "), 5);
    /* One summary, naming the org and the plugin, the count exact. */
    assert_int_equal(count(out, "\"suppressed\":"), 1);
    assert_non_null(strstr(out, "\"event\":\"mask.failed\",\"msg\":\"995 more lines like this for org acme, "
                                "plugin fixture suppressed"));
    assert_non_null(strstr(out, "\"suppressed\":995,\"org\":\"acme\",\"plugin\":\"fixture\"}"));
    assert_int_equal(sluice_log_suppressed() - before, 995);
    free(out);
    sluice_log_set_limit(SLUICE_LOG_BURST, SLUICE_LOG_WINDOW_MS);
    fclose(f);
}

/* A vendor outage over 2,000 orgs, each with dead letters, retries and partial batches: 6,000
 * keys, more than the table holds. The table stays SLUICE_LOG_KEYS windows, the keys past it share
 * their event name's window (before, a key the table could not hold was never cut), so what is
 * written stays bounded; and every line not written is counted in some summary, exactly. */
static void test_keys_bounded_under_2000_orgs(void **state)
{
    (void)state;
    FILE *f = tmpfile();
    assert_non_null(f);
    sluice_log_setup("test", SLUICE_LOG_INFO, fileno(f));
    sluice_log_set_limit(1, 60000); /* the lines written fit the ring even if the writer stalls */
    unsigned long long before = sluice_log_suppressed(), dropped = sluice_log_dropped();
    static const char *const events[] = {"deliver.dead_letter", "deliver.retry", "deliver.partial"};
    enum { ORGS = 2000, EACH = 10 };
    for (int round = 0; round < EACH; round++)
        for (int o = 0; o < ORGS; o++)
            for (int e = 0; e < 3; e++) {
                char org[32];
                snprintf(org, sizeof(org), "org-%04d", o);
                sluice_log_warn_for(events[e], org, "vendor meta, org %s: 503 #%d", org, round);
            }
    assert_int_equal(sluice_log_flush(5000), 0);
    char *out = slurp(fileno(f));
    size_t written = count(out, ": 503 #");
    unsigned long long suppressed = 0;
    for (int e = 0; e < 3; e++) {
        char needle[64];
        snprintf(needle, sizeof(needle), "\"event\":\"%s\"", events[e]);
        suppressed += said_suppressed(out, needle);
    }
    print_message("%zu written, %llu suppressed\n", written, suppressed);
    /* Bounded: 1 line per window held, 1 for each event name's shared window. */
    assert_true(written <= (size_t)SLUICE_LOG_KEYS + 3);
    /* Nearly all of the table held a key, each with its line. */
    assert_true(written >= (size_t)SLUICE_LOG_KEYS * 9 / 10);
    /* Nothing lost on the way: the ~4,000 summaries at the end did not overflow the ring. */
    assert_int_equal(sluice_log_dropped(), dropped);
    assert_int_equal(written + suppressed, ORGS * EACH * 3);
    assert_int_equal(sluice_log_suppressed() - before, suppressed);
    assert_int_equal(count(out, "org-0000: 503 #"), 3);
    free(out);
    sluice_log_set_limit(SLUICE_LOG_BURST, SLUICE_LOG_WINDOW_MS);
    fclose(f);
}

/* A key's window ends and its slot is taken by another key: the first key's summary is written
 * then (not lost with the slot), the count exact. */
static void test_slot_taken_over_keeps_count(void **state)
{
    (void)state;
    FILE *f = tmpfile();
    assert_non_null(f);
    sluice_log_setup("test", SLUICE_LOG_INFO, fileno(f));
    sluice_log_set_limit(1, 300);
    for (int i = 0; i < 7; i++)
        sluice_log_warn_for("deliver.retry", "acme", "retry %d", i);
    usleep(400 * 1000);
    /* Enough other keys to take every slot of acme's set. */
    for (int o = 0; o < 3 * SLUICE_LOG_KEYS; o++) {
        char org[32];
        snprintf(org, sizeof(org), "o%d", o);
        sluice_log_warn_for("deliver.retry", org, "other");
    }
    assert_int_equal(sluice_log_flush(5000), 0);
    char *out = slurp(fileno(f));
    assert_int_equal(said_suppressed(out, "\"org\":\"acme\""), 6);
    free(out);
    sluice_log_set_limit(SLUICE_LOG_BURST, SLUICE_LOG_WINDOW_MS);
    fclose(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        /* The forks first: each child starts its own writer. */
        cmocka_unit_test(test_fatal_error_reaches_reader),
        cmocka_unit_test(test_exit_with_stuck_reader_is_bounded),
        cmocka_unit_test(test_line_before_abort_reaches_reader),
        cmocka_unit_test(test_summary_before_abort_reaches_reader),
        cmocka_unit_test(test_direct_mode_summary_at_exit),
        cmocka_unit_test(test_stuck_reader_does_not_block),
        cmocka_unit_test(test_flood_cut_to_first_lines),
        cmocka_unit_test(test_one_org_flood_leaves_other_orgs_lines),
        cmocka_unit_test(test_keys_bounded_under_2000_orgs),
        cmocka_unit_test(test_slot_taken_over_keeps_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
