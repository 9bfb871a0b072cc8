/*
 * TLS session resumption across a fleet of gateways (docs/deploy.md, "Session resumption across a
 * fleet"): two sluice-gateway processes on loopback, as two pods behind a TCP load balancer, given
 * the same server.https.session_ticket_secret_env. A browser's session from one resumes on the
 * other, in TLS 1.2 and TLS 1.3, also after a restart (a rolling update); a gateway given another
 * secret, or none (keys random to each process, as before the setting), makes a full handshake
 * and still resumes its own sessions. A secret too short, empty or equal to ENCRYPTION_KEY stops
 * the start with a message that names the variable and not the value, `config check` says the
 * same, and the secret is gone from the environment and the memory of a running gateway.
 */
#include <limits.h>
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
#include <curl/curl.h>
#include <openssl/ssl.h>

#include "tests/integration/gwfix.h"

/* Two gateways: A and B, one stack (Kafka, certificates) between them. */
static gwfix_t A, B;

#define SECRET       "fleet-ticket-secret-7b1d0c5e9a2f4386b05d1e7c3a9f2d64"
#define OTHER_SECRET "another-fleet-secret-00d9e8c7b6a5f4e3d2c1b0a9f8e7d6c5"
/* A valid ENCRYPTION_KEY (64 hex characters). */
#define ROOT_KEY "6f1c0d7a92b34e58a1c6d0e9f7b2a4c35d8e1f0a9b7c6d5e4f3a2b1c0d9e8f7a"

static const char *config_text(const gwfix_t *f, const char *ticket_line)
{
    static char yaml[3 * PATH_MAX];
    snprintf(yaml, sizeof(yaml),
             "version: 1\n"
             "server:\n"
             "  https:\n"
             "    listen: \"127.0.0.1:%d\"\n"
             "    cert: %s/server.crt\n"
             "    key: %s/server.key\n"
             "%s"
             "  metrics: {listen: \"127.0.0.1:%d\"}\n"
             "  threads: 2\n"
             "kafka: {brokers: \"%s\"}\n"
             "orgs:\n"
             "  - id: acme\n"
             "    sources: [{id: web, write_key_env: T_KEY}]\n"
             "    consent: {policy: allow}\n",
             f->https_port, f->certs, f->certs, ticket_line, f->metrics_port, f->kafka.bootstrap);
    return yaml;
}

/* Writes f's config (named after it) with the ticket secret's variable named or not, and its
 * environment; secret NULL: the variable is not set. */
static void configure(gwfix_t *f, int named, const char *secret)
{
    char file[64];
    snprintf(file, sizeof(file), "%s.yaml", f->name);
    const char *yaml = config_text(f, named ? "    session_ticket_secret_env: T_TICKETS\n" : "");
    snprintf(f->config, sizeof(f->config), "%s", gwfix_write(file, yaml));
    static char vars[2][160];
    char *var = vars[f == &A ? 0 : 1];
    snprintf(var, sizeof(vars[0]), "T_TICKETS=%s", secret != NULL ? secret : "");
    memset(f->env, 0, sizeof(f->env));
    f->env[0] = "T_KEY=wk_fleet_key_1";
    f->env[1] = secret != NULL ? var : NULL;
}

static void restart(gwfix_t *f, int named, const char *secret)
{
    if (f->gw != NULL && sluice_th_proc_running(f->gw))
        assert_true(WIFEXITED(gwfix_stop(f, SIGTERM)));
    configure(f, named, secret);
    gwfix_start(f);
}

static int setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    gwfix_stack(&A);
    B = A; /* the same broker, Redis and certificates: a second pod of the same deployment */
    sluice_err_t err = {{0}};
    B.https_port = sluice_th_free_port(&err);
    B.metrics_port = sluice_th_free_port(&err);
    B.http_port = sluice_th_free_port(&err);
    assert_true(B.https_port > 0 && B.metrics_port > 0 && B.http_port > 0);
    A.name = "gateway-a";
    B.name = "gateway-b";
    restart(&A, 1, SECRET);
    restart(&B, 1, SECRET);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (B.gw != NULL && sluice_th_proc_running(B.gw))
        gwfix_stop(&B, SIGTERM);
    gwfix_teardown(&A);
    curl_global_cleanup();
    return 0;
}

static const char *version_name(int v)
{
    return v == TLS1_2_VERSION ? "TLS 1.2" : "TLS 1.3";
}

/* Whether a session first made on from resumes on to, for version v (a new client each time,
 * as a returning browser that lands on another pod). */
static int resumes_across(gwfix_t *from, gwfix_t *to, int v)
{
    SSL_CTX *cctx = gwfix_tls_client(from, v);
    int reused;
    SSL_SESSION *sess = gwfix_tls_request(from, cctx, NULL, &reused);
    assert_non_null(sess);
    assert_false(reused);
    assert_true(SSL_SESSION_is_resumable(sess));
    SSL_SESSION *next = gwfix_tls_request(to, cctx, sess, &reused);
    SSL_SESSION_free(next);
    SSL_SESSION_free(sess);
    SSL_CTX_free(cctx);
    return reused;
}

static const int versions[] = {TLS1_2_VERSION, TLS1_3_VERSION};

/* Same secret: a session from A resumes on B and one from B on A, each version. Before the
 * setting every gateway's keys were its own: a returning browser that the balancer sent to
 * another pod paid a full handshake. */
static void same_secret_resumes_on_the_other_gateway(void **state)
{
    (void)state;
    for (int i = 0; i < 2; i++) {
        if (!resumes_across(&A, &B, versions[i]))
            fail_msg("%s: a session from gateway A was not resumed by gateway B (same secret)",
                     version_name(versions[i]));
        if (!resumes_across(&B, &A, versions[i]))
            fail_msg("%s: a session from gateway B was not resumed by gateway A (same secret)",
                     version_name(versions[i]));
    }
    /* Each says so at start. */
    char *log = sluice_th_read_file(sluice_th_proc_log(A.gw), NULL, NULL);
    assert_true(gwfix_contains(log, "keys derived from server.https.session_ticket_secret_env"));
    free(log);
}

/* A rolling update: sessions made before the restart of both gateways resume after it. */
static void sessions_resume_after_a_rolling_restart(void **state)
{
    (void)state;
    for (int i = 0; i < 2; i++) {
        SSL_CTX *cctx = gwfix_tls_client(&A, versions[i]);
        int reused;
        SSL_SESSION *sess = gwfix_tls_request(&A, cctx, NULL, &reused);
        assert_non_null(sess);
        restart(&A, 1, SECRET);
        restart(&B, 1, SECRET);
        SSL_SESSION *next = gwfix_tls_request(&B, cctx, sess, &reused);
        if (!reused)
            fail_msg("%s: a session from before the restart of both gateways was not resumed",
                     version_name(versions[i]));
        SSL_SESSION_free(next);
        next = gwfix_tls_request(&A, cctx, sess, &reused);
        assert_true(reused);
        SSL_SESSION_free(next);
        SSL_SESSION_free(sess);
        SSL_CTX_free(cctx);
    }
}

/* Another secret opens nothing of this one's: a full handshake (not a failed one), while each
 * gateway still resumes its own sessions. */
static void another_secret_does_not_resume(void **state)
{
    (void)state;
    restart(&B, 1, OTHER_SECRET);
    for (int i = 0; i < 2; i++) {
        if (resumes_across(&A, &B, versions[i]))
            fail_msg("%s: gateway B resumed a session of gateway A's, under another secret", version_name(versions[i]));
        assert_true(resumes_across(&B, &B, versions[i]));
        assert_true(resumes_across(&A, &A, versions[i]));
    }
    restart(&B, 1, SECRET);
}

/* B's count of handshakes (kind "full" or "resumed") of version v, or of refused tickets
 * (kind "unknown_key" or "expired"), from its /metrics. */
static double tls_counter(int v, const char *kind)
{
    char series[160];
    if (v == 0)
        snprintf(series, sizeof(series), "sluice_tls_tickets_refused_total{reason=\"%s\"}", kind);
    else
        snprintf(series, sizeof(series), "sluice_tls_handshakes_total{version=\"%s\",kind=\"%s\"}",
                 v == TLS1_2_VERSION ? "TLSv1.2" : "TLSv1.3", kind);
    return gwfix_metric(&B, series);
}

/* An operator sees on /metrics whether sessions resume: a first visit counts a full handshake of
 * its version, a return a resumed one, and a ticket of another secret (a pod given a mistyped
 * one) a full handshake and a ticket refused for its unknown key. Before, nothing showed it. */
static void metrics_show_whether_sessions_resume(void **state)
{
    (void)state;
    restart(&B, 1, OTHER_SECRET);
    for (int i = 0; i < 2; i++) {
        int v = versions[i];
        double full = tls_counter(v, "full"), resumed = tls_counter(v, "resumed");
        double unknown = tls_counter(0, "unknown_key"), expired = tls_counter(0, "expired");
        SSL_CTX *cctx = gwfix_tls_client(&B, v);
        int reused;
        SSL_SESSION *sess = gwfix_tls_request(&B, cctx, NULL, &reused);
        assert_false(reused);
        SSL_SESSION *next = gwfix_tls_request(&B, cctx, sess, &reused);
        assert_true(reused);
        SSL_SESSION_free(next);
        SSL_SESSION *from_a = gwfix_tls_request(&A, cctx, NULL, &reused);
        next = gwfix_tls_request(&B, cctx, from_a, &reused);
        assert_false(reused);
        SSL_SESSION_free(next);
        SSL_SESSION_free(from_a);
        SSL_SESSION_free(sess);
        SSL_CTX_free(cctx);
        if (tls_counter(v, "full") != full + 2 || tls_counter(v, "resumed") != resumed + 1 ||
            tls_counter(0, "unknown_key") != unknown + 1 || tls_counter(0, "expired") != expired)
            fail_msg("%s: gateway B counted full %g -> %g (want +2), resumed %g -> %g (want +1), unknown_key %g -> "
                     "%g (want +1), expired %g -> %g (want +0)",
                     version_name(v), full, tls_counter(v, "full"), resumed, tls_counter(v, "resumed"), unknown,
                     tls_counter(0, "unknown_key"), expired, tls_counter(0, "expired"));
    }
    restart(&B, 1, SECRET);
}

/* The fleet's secret replaced, the old one given as the previous secret: a browser's session from
 * a gateway still on the old secret resumes on one updated (where before every returning browser
 * made a full handshake after the change), and the updated one resumes its own; the previous
 * secret leaves the environment as the current one does, and `config check` refuses it when it is
 * the current secret (a rotation not made). */
static void previous_secret_keeps_sessions_resuming(void **state)
{
    (void)state;
    if (B.gw != NULL && sluice_th_proc_running(B.gw))
        assert_true(WIFEXITED(gwfix_stop(&B, SIGTERM)));
    configure(&B, 1, OTHER_SECRET);
    snprintf(B.config, sizeof(B.config), "%s",
             gwfix_write("gateway-b.yaml", config_text(&B, "    session_ticket_secret_env: T_TICKETS\n"
                                                           "    session_ticket_previous_secret_env: T_PREVIOUS\n")));
    B.env[2] = "T_PREVIOUS=" SECRET;
    gwfix_start(&B);
    for (int i = 0; i < 2; i++) {
        if (!resumes_across(&A, &B, versions[i]))
            fail_msg("%s: a session under the previous secret was not resumed by the gateway given it",
                     version_name(versions[i]));
        assert_true(resumes_across(&B, &B, versions[i]));
    }
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/environ", (int)sluice_th_proc_pid(B.gw));
    size_t n = 0;
    char *env = sluice_th_read_file(path, &n, NULL);
    assert_non_null(env);
    assert_null(memmem(env, n, "T_PREVIOUS=", 11));
    assert_null(memmem(env, n, SECRET, strlen(SECRET)));
    free(env);

    char bin[PATH_MAX];
    snprintf(bin, sizeof(bin), "%s/tools/sluicectl", sluice_th_build_dir());
    setenv("T_KEY", "wk_fleet_key_1", 1);
    setenv("T_TICKETS", SECRET, 1);
    setenv("T_PREVIOUS", SECRET "\n", 1);
    const char *argv[] = {bin, "config", "check", B.config, NULL};
    sluice_th_output_t out = {0};
    sluice_err_t err = {{0}};
    assert_int_equal(sluice_th_run(argv, NULL, 0, 60000, &out, &err), 0);
    const char *want = "gateway-b.yaml:8:41: server.https.session_ticket_previous_secret_env: environment variable "
                       "T_PREVIOUS holds the same secret as server.https.session_ticket_secret_env's variable";
    if (!sluice_th_exited_with(out.wstatus, 1) || (!gwfix_contains(out.out, want) && !gwfix_contains(out.errout, want)))
        fail_msg("expected exit 1 with \"%s\"; got: %s%s", want, out.out, out.errout);
    assert_false(gwfix_contains(out.out, SECRET) || gwfix_contains(out.errout, SECRET));
    sluice_th_output_dispose(&out);
    unsetenv("T_TICKETS");
    unsetenv("T_PREVIOUS");
    restart(&B, 1, SECRET);
}

/* Without the setting, as before it: keys random to each gateway; a session resumes on the
 * gateway that made it (and across its reloads, gateway_ops), not on another, nor after a restart. */
static void without_the_setting_keys_stay_per_gateway(void **state)
{
    (void)state;
    restart(&A, 0, NULL);
    restart(&B, 0, NULL);
    char *log = sluice_th_read_file(sluice_th_proc_log(A.gw), NULL, NULL);
    assert_true(gwfix_contains(log, "keys random to this process"));
    free(log);
    for (int i = 0; i < 2; i++) {
        assert_true(resumes_across(&A, &A, versions[i]));
        assert_false(resumes_across(&A, &B, versions[i]));
        SSL_CTX *cctx = gwfix_tls_client(&A, versions[i]);
        int reused;
        SSL_SESSION *sess = gwfix_tls_request(&A, cctx, NULL, &reused);
        restart(&A, 0, NULL);
        SSL_SESSION *next = gwfix_tls_request(&A, cctx, sess, &reused);
        assert_false(reused);
        SSL_SESSION_free(next);
        SSL_SESSION_free(sess);
        SSL_CTX_free(cctx);
    }
    restart(&A, 1, SECRET);
    restart(&B, 1, SECRET);
}

/* The gateway started on f's config with env: it must exit 1 with want in its log, never the
 * secret's value. */
static void refused_at_start(gwfix_t *f, const char *const *env, const char *want, const char *value)
{
    sluice_err_t err = {{0}};
    char bin[PATH_MAX];
    snprintf(bin, sizeof(bin), "%s/gateway/sluice-gateway", sluice_th_build_dir());
    const char *argv[] = {bin, "--config", f->config, NULL};
    static int runs;
    char name[32], log_path[PATH_MAX];
    snprintf(name, sizeof(name), "gateway-refused-%d", ++runs);
    char file[48];
    snprintf(file, sizeof(file), "%s.log", name);
    assert_int_equal(sluice_th_path(log_path, sizeof(log_path), file, &err), 0);
    sluice_th_spawn_opts_t opts = {.env = env, .log_path = log_path};
    sluice_th_proc_t *p = sluice_th_spawn(name, argv, &opts, &err);
    assert_non_null(p);
    int status = 0;
    assert_int_equal(sluice_th_proc_wait(p, 20000, &status, &err), 0);
    char *log = sluice_th_read_file(sluice_th_proc_log(p), NULL, NULL);
    if (!sluice_th_exited_with(status, 1) || !gwfix_contains(log, want))
        fail_msg("expected exit 1 with \"%s\"; got status %d, log: %s", want, status, log ? log : "");
    if (value != NULL && value[0] != '\0')
        assert_false(gwfix_contains(log, value));
    free(log);
}

/* A secret too short, empty, only a line end, unset, or ENCRYPTION_KEY's own value stops the
 * start with a message naming the variable; none is taken for a weak key. */
static void bad_secrets_are_refused_at_start(void **state)
{
    (void)state;
    gwfix_t C = B;
    C.name = "gateway-c";
    sluice_err_t err = {{0}};
    C.https_port = sluice_th_free_port(&err);
    C.metrics_port = sluice_th_free_port(&err);
    snprintf(C.config, sizeof(C.config), "%s",
             gwfix_write("c.yaml", config_text(&C, "    session_ticket_secret_env: T_TICKETS\n")));
    const char *shorter[] = {"T_KEY=wk_fleet_key_1", "T_TICKETS=short-ticket-secret", NULL};
    refused_at_start(&C, shorter,
                     "environment variable T_TICKETS holds 19 bytes: a session-ticket secret needs at "
                     "least 32",
                     "short-ticket-secret");
    const char *empty[] = {"T_KEY=wk_fleet_key_1", "T_TICKETS=", NULL};
    refused_at_start(&C, empty, "environment variable T_TICKETS is empty", NULL);
    const char *newline[] = {"T_KEY=wk_fleet_key_1", "T_TICKETS=\n", NULL};
    refused_at_start(&C, newline, "environment variable T_TICKETS is only spaces and line ends", NULL);
    const char *unset[] = {"T_KEY=wk_fleet_key_1", NULL};
    refused_at_start(&C, unset, "environment variable T_TICKETS is not set", NULL);
    const char *reused[] = {"T_KEY=wk_fleet_key_1", "ENCRYPTION_KEY=" ROOT_KEY, "T_TICKETS=" ROOT_KEY "\n", NULL};
    refused_at_start(&C, reused, "T_TICKETS holds the same value as ENCRYPTION_KEY", ROOT_KEY);
}

/* `sluicectl config check` says what the gateway would: a short secret is an error at the key's
 * position; an unset variable a warning, an error with --secrets. */
static void config_check_says_the_same(void **state)
{
    (void)state;
    char bin[PATH_MAX];
    snprintf(bin, sizeof(bin), "%s/tools/sluicectl", sluice_th_build_dir());
    setenv("T_KEY", "wk_fleet_key_1", 1);
    sluice_err_t err = {{0}};
    static const struct {
        const char *value; /* NULL: unset */
        int secrets, code;
        const char *want;
    } cases[] = {
        {"short-ticket-secret", 0, 1,
         "a.yaml:7:32: server.https.session_ticket_secret_env: environment variable "
         "T_TICKETS holds 19 bytes"},
        {NULL, 0, 0, "T_TICKETS is not set (sluice-gateway needs it)"},
        {NULL, 1, 1, "a.yaml:7:32: server.https.session_ticket_secret_env: environment variable T_TICKETS is not set"},
        {SECRET "\n", 1, 0, "ok"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        configure(&A, 1, SECRET);
        if (cases[i].value != NULL)
            setenv("T_TICKETS", cases[i].value, 1);
        else
            unsetenv("T_TICKETS");
        const char *argv[6] = {bin, "config", "check"};
        int n = 3;
        if (cases[i].secrets)
            argv[n++] = "--secrets";
        argv[n++] = A.config;
        argv[n] = NULL;
        sluice_th_output_t out = {0};
        assert_int_equal(sluice_th_run(argv, NULL, 0, 60000, &out, &err), 0);
        if (!sluice_th_exited_with(out.wstatus, cases[i].code) ||
            (!gwfix_contains(out.out, cases[i].want) && !gwfix_contains(out.errout, cases[i].want)))
            fail_msg("case %zu: expected exit %d with \"%s\"; got: %s%s", i, cases[i].code, cases[i].want, out.out,
                     out.errout);
        assert_false(gwfix_contains(out.out, "short-ticket-secret") || gwfix_contains(out.errout, "short-ticket"));
        sluice_th_output_dispose(&out);
    }
    unsetenv("T_TICKETS");
}

/* The secret leaves the gateway's environment and memory once the keys are derived: neither
 * /proc/<pid>/environ nor the process's memory holds it (only its HKDF extract stays). */
static void secret_is_wiped_after_start(void **state)
{
    (void)state;
    pid_t pid = sluice_th_proc_pid(A.gw);
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
    size_t n = 0;
    char *env = sluice_th_read_file(path, &n, NULL);
    assert_non_null(env);
    assert_null(memmem(env, n, SECRET, strlen(SECRET)));
    assert_null(memmem(env, n, "T_TICKETS=", 10));
    free(env);
    const char *san = getenv("SLUICE_SANITIZED");
    if (san != NULL && strcmp(san, "1") == 0)
        return; /* ASan's shadow maps terabytes: the memory is read in the regular build (as keys_by_purpose) */
    size_t scanned = 0;
    uint8_t *mem = gwfix_process_memory(pid, &scanned);
    int found = memmem(mem, scanned, SECRET, strlen(SECRET)) != NULL;
    free(mem);
    assert_true(scanned > (1u << 20));
    if (found)
        fail_msg("the gateway's memory still holds the ticket secret after start");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(same_secret_resumes_on_the_other_gateway),
        cmocka_unit_test(secret_is_wiped_after_start),
        cmocka_unit_test(sessions_resume_after_a_rolling_restart),
        cmocka_unit_test(another_secret_does_not_resume),
        cmocka_unit_test(metrics_show_whether_sessions_resume),
        cmocka_unit_test(previous_secret_keeps_sessions_resuming),
        cmocka_unit_test(without_the_setting_keys_stay_per_gateway),
        cmocka_unit_test(bad_secrets_are_refused_at_start),
        cmocka_unit_test(config_check_says_the_same),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
