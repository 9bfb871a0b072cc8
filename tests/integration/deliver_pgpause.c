/*
 * The worker never blocks on PostgreSQL (vendors/vaultq.c): with every process of the vault's
 * PostgreSQL cluster paused (SIGSTOP: connections stay open, queries never answer), a lane whose
 * credentials are cached or not needed keeps delivering, the worker's /metrics (served on the
 * same loop) keeps answering at once, and the lane whose credential is not in the cache waits
 * without holding anything else up; once PostgreSQL runs again (SIGCONT) it delivers too, with
 * nothing lost and nothing dead-lettered. A clean SIGTERM stop while a read is stuck exits within
 * the drain bound. A credential that expired from the cache while PostgreSQL is out is used on
 * (nothing dead-lettered for want of a vault that cannot have changed), and so is one whose read
 * waits behind others on a slow database.
 */
#include <dirent.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "tests/integration/deliver_fix.h"

#define N 200 /* events per round */

static dfix_t F;
static dstub_t META, HOOK;

/* The config with these integrations and credentials_ttl_s: ttl_s (dfix_write_config writes 60:
 * that one value is rewritten). */
static void write_config_text(const char *integrations, int ttl_s)
{
    dfix_write_config(&F, integrations, NULL);
    char *text = sluice_th_read_file(F.config, NULL, NULL);
    assert_non_null(text);
    char *p = strstr(text, "credentials_ttl_s: 60");
    assert_non_null(p);
    char ttl[32];
    snprintf(ttl, sizeof(ttl), "credentials_ttl_s: %d ", ttl_s);
    memcpy(p, ttl, 21);
    FILE *f = fopen(F.config, "w");
    fputs(text, f);
    fclose(f);
    free(text);
}

/* Meta reads its token from the vault (cached ttl_s, 1..9) and retries as `retry` says; the
 * unsigned webhook needs no credential. */
static void write_config(const char *retry, int ttl_s)
{
    char integrations[2048];
    snprintf(integrations, sizeof(integrations),
             "      - {name: meta, vendor: meta, pixel_id: \"7\", base_url: \"%s\",\n"
             "         batch: {max_events: 50, max_wait_ms: 50}, timeout_ms: 1000,\n"
             "         retry: %s}\n"
             "      - {name: hook, vendor: webhook, url: \"%s/in\", batch: {max_events: 50, max_wait_ms: 50}}\n",
             META.url, retry, HOOK.url);
    write_config_text(integrations, ttl_s);
}

static int setup(void **state)
{
    (void)state;
    dfix_init(&F, NULL, NULL, NULL, 1);
    dfix_stub(&F, &META, "meta", NULL, NULL);
    dfix_stub(&F, &HOOK, "hook", NULL, NULL);
    write_config("{max_attempts: 30, base_ms: 200, max_ms: 1000, max_elapsed_s: 120}", 2);
    dfix_vault_put(&F, "meta", "meta", "{\"access_token\":\"tok-pause\"}");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sluice_th_teardown();
    return 0;
}

/* Sends sig to every process of the PostgreSQL cluster (postmaster and backends: their working
 * directory is inside its data dir). Returns how many. */
static int signal_postgres(int sig)
{
    int n = 0;
    DIR *d = opendir("/proc");
    assert_non_null(d);
    size_t dl = strlen(F.pg.dir);
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        if (*end != '\0' || pid <= 0)
            continue;
        char link[64], cwd[4096];
        snprintf(link, sizeof(link), "/proc/%ld/cwd", pid);
        ssize_t len = readlink(link, cwd, sizeof(cwd) - 1);
        if (len <= 0)
            continue;
        cwd[len] = '\0';
        if (strncmp(cwd, F.pg.dir, dl) == 0 && kill((pid_t)pid, sig) == 0)
            n++;
    }
    closedir(d);
    return n;
}

static void produce_round(const char *prefix)
{
    char *envs[N];
    int64_t now = dfix_now_ms();
    for (int i = 0; i < N; i++) {
        char id[32], edit[96];
        snprintf(id, sizeof(id), "%s-%03d", prefix, i);
        snprintf(edit, sizeof(edit), "{\"anonymousId\":\"visitor-%d\"}", i / 5);
        envs[i] = dfix_envelope(id, now, edit);
    }
    dfix_produce(&F, envs, N, NULL);
    for (int i = 0; i < N; i++)
        free(envs[i]);
}

/* How many of prefix-000..N-1 the Meta stub answered 2xx for. */
static int meta_delivered(const char *prefix)
{
    json_t *reqs = dfix_requests(&META), *ids = dfix_event_ids(reqs, "data", "event_id");
    int n = 0;
    for (int i = 0; i < N; i++) {
        char id[32];
        snprintf(id, sizeof(id), "%s-%03d", prefix, i);
        n += json_object_get(ids, id) != NULL;
    }
    json_decref(ids);
    json_decref(reqs);
    return n;
}

/* How many of prefix-000..N-1 appear in the webhook stub's request bodies. */
static int hook_delivered(const char *prefix)
{
    json_t *reqs = dfix_requests(&HOOK);
    int n = 0;
    for (int i = 0; i < N; i++) {
        char needle[40];
        snprintf(needle, sizeof(needle), "\"%s-%03d\"", prefix, i);
        size_t k;
        json_t *r;
        json_array_foreach(reqs, k, r) {
            const char *body = json_string_value(json_object_get(r, "body"));
            if (body != NULL && strstr(body, needle) != NULL) {
                n++;
                break;
            }
        }
    }
    json_decref(reqs);
    return n;
}

/* The worker's /metrics, timed (ms); -1 when it did not answer. */
static long metrics_ms(void)
{
    int64_t t0 = sluice_th_mono_ms();
    double v = dfix_metric(&F, "sluice_deliver_events_total{vendor=\"webhook\",outcome=\"delivered\"}");
    return v < 0 ? -1 : (long)(sluice_th_mono_ms() - t0);
}

static void test_paused_postgres_blocks_no_other_lane(void **state)
{
    (void)state;
    dfix_start_worker(&F, NULL, 2);
    /* Round 1, everything up: both lanes deliver; Meta's token is now cached (2 s). */
    produce_round("warm");
    for (int64_t end = sluice_th_mono_ms() + 30000;
         sluice_th_mono_ms() < end && (meta_delivered("warm") < N || hook_delivered("warm") < N);)
        usleep(200 * 1000);
    assert_int_equal(meta_delivered("warm"), N);
    assert_int_equal(hook_delivered("warm"), N);
    /* A new worker holds no credential: its first Meta batch needs the vault (one whose cached
     * credential merely expired goes on with it when the vault cannot be read: the last test). */
    assert_true(sluice_th_exited_with(dfix_stop_worker(&F, SIGTERM), 0));
    dfix_start_worker(&F, NULL, 2);

    int stopped = signal_postgres(SIGSTOP);
    assert_true(stopped >= 2); /* the postmaster and at least the worker's backend */
    int64_t paused_at = sluice_th_mono_ms();
    produce_round("paused");
    /* The webhook lane delivers the whole round while PostgreSQL does not answer. */
    int64_t hook_done = -1;
    long worst_metrics = 0;
    for (int64_t end = sluice_th_mono_ms() + 20000; sluice_th_mono_ms() < end;) {
        long m = metrics_ms();
        assert_true(m >= 0);
        if (m > worst_metrics)
            worst_metrics = m;
        if (hook_delivered("paused") == N) {
            hook_done = sluice_th_mono_ms() - paused_at;
            break;
        }
        usleep(200 * 1000);
    }
    int meta_while_paused = meta_delivered("paused");
    double vault_waits = dfix_metric(&F, "sluice_deliver_retries_total{vendor=\"meta\"}");
    print_message("PostgreSQL paused (%d processes): webhook delivered %d/%d in %lld ms; Meta delivered %d (its "
                  "token not in the cache); /metrics answered in at most %ld ms; Meta retries so far %.0f\n",
                  stopped, hook_delivered("paused"), N, (long long)hook_done, meta_while_paused, worst_metrics,
                  vault_waits);
    assert_true(hook_done >= 0);
    assert_int_equal(meta_while_paused, 0); /* it really needed the database */
    assert_true(worst_metrics < 1000);
    assert_true(sluice_th_proc_running(F.worker));

    /* PostgreSQL runs again: the waiting lane delivers the round, nothing dead-lettered. */
    assert_int_equal(signal_postgres(SIGCONT), stopped);
    int64_t resumed = sluice_th_mono_ms();
    for (int64_t end = sluice_th_mono_ms() + 60000; sluice_th_mono_ms() < end && meta_delivered("paused") < N;)
        usleep(200 * 1000);
    print_message("after SIGCONT: Meta delivered %d/%d within %lld ms\n", meta_delivered("paused"), N,
                  (long long)(sluice_th_mono_ms() - resumed));
    assert_int_equal(meta_delivered("paused"), N);
    json_t *dead = dfix_dlq_list(&F, NULL);
    assert_int_equal(json_array_size(dead), 0);
    json_decref(dead);
    assert_true(sluice_th_exited_with(dfix_stop_worker(&F, SIGTERM), 0));
}

/* Stopped while a vault read is stuck: the worker exits 0 within the drain bound plus the vault
 * reader's 3 s, not whenever PostgreSQL comes back. */
static void test_sigterm_while_vault_read_stuck(void **state)
{
    (void)state;
    dfix_start_worker(&F, NULL, 2);
    sleep(3); /* the token from the last test expired */
    int stopped = signal_postgres(SIGSTOP);
    assert_true(stopped >= 2);
    /* The log file is the one the previous test's worker wrote too, with its own "has not
     * answered" lines: only lines after these count (matching those, the stop came before any
     * read was stuck, and the worker exited without vault.stuck). */
    char *before = sluice_th_read_file(sluice_th_proc_log(F.worker), NULL, NULL);
    assert_non_null(before);
    int waits0 = sluice_th_count(before, "vault: PostgreSQL has not answered");
    int stuck0 = sluice_th_count(before, "vault.stuck");
    free(before);
    produce_round("stuck");
    sluice_err_t err = {{0}};
    /* A Meta batch is waiting on the vault once its first attempt gave up (timeout_ms 1000). */
    if (sluice_th_wait_log(F.worker, "vault: PostgreSQL has not answered", waits0 + 1, 20000, &err) != 0)
        fail_msg("%s", err.msg);
    int64_t t0 = sluice_th_mono_ms();
    int status = dfix_stop_worker(&F, SIGTERM);
    int64_t took = sluice_th_mono_ms() - t0;
    signal_postgres(SIGCONT);
    print_message("SIGTERM with a vault read stuck: exit status %d after %lld ms\n",
                  WIFEXITED(status) ? WEXITSTATUS(status) : -1, (long long)took);
    assert_true(sluice_th_exited_with(status, 0));
    assert_true(took < 16000);
    char *log = sluice_th_read_file(sluice_th_proc_log(F.worker), NULL, NULL);
    assert_non_null(log);
    assert_true(sluice_th_count(log, "vault.stuck") > stuck0);
    free(log);
}

/* PostgreSQL out for longer than the credential TTL, with a retry budget of a few quick attempts
 * (the defaults give five within about a minute): the read of the expired credential fails, and
 * every event of the integration used to be dead-lettered, though PostgreSQL holds only the vault
 * and "is not on the event path" (docs/deploy.md). The credential the worker had is used on while
 * the vault cannot be read: Meta keeps delivering, nothing goes to the DLQ, the log says so. */
static void test_postgres_out_past_the_ttl_keeps_delivering(void **state)
{
    (void)state;
    write_config("{max_attempts: 2, base_ms: 100, max_ms: 200, max_elapsed_s: 60}", 5);
    json_t *dead = dfix_dlq_list(&F, NULL);
    size_t dead_before = json_array_size(dead);
    json_decref(dead);
    dfix_start_worker(&F, NULL, 2);
    produce_round("ttl-warm");
    for (int64_t end = sluice_th_mono_ms() + 30000; sluice_th_mono_ms() < end && meta_delivered("ttl-warm") < N;)
        usleep(200 * 1000);
    assert_int_equal(meta_delivered("ttl-warm"), N);
    /* Past credentials_ttl_s (5 s): the next batch reads the vault again. (An expired credential
     * is kept one more TTL for that read: within 10 s of the warm round's.) */
    usleep(5500 * 1000);

    int stopped = signal_postgres(SIGSTOP);
    assert_true(stopped >= 2);
    produce_round("ttl-out");
    for (int64_t end = sluice_th_mono_ms() + 20000; sluice_th_mono_ms() < end && meta_delivered("ttl-out") < N;)
        usleep(200 * 1000);
    int delivered = meta_delivered("ttl-out");
    dead = dfix_dlq_list(&F, NULL);
    size_t dead_after = json_array_size(dead);
    json_decref(dead);
    assert_int_equal(signal_postgres(SIGCONT), stopped);
    print_message("PostgreSQL paused past the TTL: Meta delivered %d/%d, %zu dead-lettered\n", delivered, N,
                  dead_after - dead_before);
    assert_int_equal(delivered, N);
    assert_int_equal(dead_after, dead_before);
    char *log = sluice_th_read_file(sluice_th_proc_log(F.worker), NULL, NULL);
    assert_non_null(log);
    assert_true(sluice_th_count(log, "\"event\":\"vault.stale\"") > 0);
    free(log);
    assert_true(sluice_th_exited_with(dfix_stop_worker(&F, SIGTERM), 0));
}

/* PostgreSQL answering, but slowly (each read's audit row takes 0.8 s: a loaded primary), when
 * the credentials of 12 integrations expire together: the reads queue behind one another for
 * 10 s. Each integration has its credential read before at hand, and used it on once its own read
 * had not answered within timeout_ms (1 s), as during an outage. Counting every wait from the
 * reader's last answer instead (right for a credential the worker never had), the integrations
 * at the back held their events until their turn: up to 9.6 s, with a usable credential. */
static void test_slow_vault_reads_use_the_expired_credential_on(void **state)
{
    (void)state;
    enum { K = 12 };
    char integrations[4096] = "";
    size_t used = 0;
    for (int i = 0; i < K; i++)
        used += (size_t)snprintf(integrations + used, sizeof(integrations) - used,
                                 "      - {name: m%02d, vendor: meta, pixel_id: \"7\", base_url: \"%s\",\n"
                                 "         batch: {max_wait_ms: 50}, timeout_ms: 1000,\n"
                                 "         retry: {max_attempts: 2, base_ms: 100, max_ms: 200}}\n",
                                 i, META.url);
    write_config_text(integrations, 6);
    for (int i = 0; i < K; i++) {
        char name[8];
        snprintf(name, sizeof(name), "m%02d", i);
        dfix_vault_put(&F, name, "meta", "{\"access_token\":\"tok-slow\"}");
    }
    dfix_start_worker(&F, NULL, 1);
    char *env = dfix_envelope("slow-warm", dfix_now_ms(), NULL);
    dfix_produce(&F, &env, 1, NULL);
    free(env);
    json_t *reqs = NULL;
    for (int64_t end = sluice_th_mono_ms() + 30000; sluice_th_mono_ms() < end;) {
        json_decref(reqs);
        reqs = dfix_requests_with(&META, "slow-warm");
        if (json_array_size(reqs) >= K)
            break;
        usleep(200 * 1000);
    }
    assert_int_equal(json_array_size(reqs), K);
    json_decref(reqs);

    PGconn *db = PQconnectdb(F.pg.conninfo);
    assert_int_equal(PQstatus(db), CONNECTION_OK);
    PGresult *res = PQexec(db, "CREATE FUNCTION slow_audit() RETURNS trigger LANGUAGE plpgsql AS "
                               "$$ BEGIN PERFORM pg_sleep(0.8); RETURN NEW; END $$; "
                               "CREATE TRIGGER slow_audit BEFORE INSERT ON vault_audit "
                               "FOR EACH ROW EXECUTE FUNCTION slow_audit()");
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        fail_msg("trigger: %s", PQerrorMessage(db));
    PQclear(res);
    /* Past credentials_ttl_s (6 s): every credential is read again. An expired one is kept one
     * more TTL (credcache.c), so its use-on must come within 12 s of the warm read: the 6.5 s here,
     * the event's trip through Kafka and the 1 s timeout_ms. With a 3 s TTL that left 1.5 s, which
     * a loaded CI machine under ASan spent (10.9 s: the credential swept, each route waiting its turn). */
    usleep(6500 * 1000);

    int64_t t0 = sluice_th_mono_ms(), took = -1;
    env = dfix_envelope("slow-out", dfix_now_ms(), NULL);
    dfix_produce(&F, &env, 1, NULL);
    free(env);
    size_t got = 0;
    for (int64_t end = t0 + 20000; sluice_th_mono_ms() < end;) {
        reqs = dfix_requests_with(&META, "slow-out");
        got = json_array_size(reqs);
        json_decref(reqs);
        if (got >= K) {
            took = sluice_th_mono_ms() - t0;
            break;
        }
        usleep(100 * 1000);
    }
    res = PQexec(db, "DROP TRIGGER slow_audit ON vault_audit; DROP FUNCTION slow_audit()");
    PQclear(res);
    PQfinish(db);
    print_message("vault reads of 0.8 s each, 12 credentials expired: every integration sent in %lld ms (%zu/%d)\n",
                  (long long)took, got, K);
    assert_int_equal(got, K);
    /* Holding each route for its turn takes 12 x 0.8 = 9.6 s; using on takes timeout_ms (1 s) plus
     * the trip through Kafka (1.3 s here, 2.2 s under ASan on a busy machine). */
    assert_true(took < 6000);
    assert_true(sluice_th_exited_with(dfix_stop_worker(&F, SIGTERM), 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paused_postgres_blocks_no_other_lane),
        cmocka_unit_test(test_sigterm_while_vault_read_stuck),
        cmocka_unit_test(test_postgres_out_past_the_ttl_keeps_delivering),
        cmocka_unit_test(test_slow_vault_reads_use_the_expired_credential_on),
    };
    return cmocka_run_group_tests_name("integration.deliver_pgpause", tests, setup, teardown);
}
