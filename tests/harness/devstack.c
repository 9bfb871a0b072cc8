/*
 * sluice-devstack: the local development stack on 127.0.0.1 (what `make demo` runs). Starts
 * Redis, a throwaway PostgreSQL cluster and the dev Kafka broker through the test harness,
 * prints where each one is and how to talk to it, optionally writes an env file for other
 * processes, and then waits for Ctrl-C/SIGTERM and stops everything in reverse order. Every
 * child dies with this process even if it is killed (the harness sets PR_SET_PDEATHSIG).
 *
 * A service is one entry in `services` below (start, stop, process, description, env lines):
 * the gateway, the delivery worker and the vendor stub are meant to join the list.
 * Single-threaded: signals are blocked and taken with sigtimedwait, which also paces the
 * once-a-second check that every service is still running.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "tests/harness/harness.h"
#include "tests/harness/kafka.h"
#include "tests/harness/postgres.h"
#include "tests/harness/redis.h"
#include "tests/stubs/demo.h"

#define DATABASE "sluice"

typedef struct stack {
    int redis_port, pg_port; /* 0: free ports */
    const char *kafka_brokers;
    const char *env_file;
    const char *gateway_config; /* --gateway: run sluice-gateway on this config */
    int deliver;                /* --deliver: vendor stubs and sluice-deliver (tests/stubs/demo.c) */
    sluice_th_redis_t redis;
    sluice_th_pg_t pg;
    sluice_th_kafka_t kafka;
    sluice_th_proc_t *gateway;
    char gateway_env[3][1200];
} devstack_t;

typedef struct service {
    const char *name;
    int (*start)(devstack_t *s, sluice_err_t *err);
    int (*stop)(devstack_t *s, sluice_err_t *err);
    sluice_th_proc_t *(*proc)(devstack_t *s);
    void (*describe)(const devstack_t *s, FILE *out); /* lines after "  <name>  pid N" */
    void (*env)(const devstack_t *s, FILE *out);      /* NAME=value lines for --env-file */
} service_t;

/* --- redis --- */

static int redis_start(devstack_t *s, sluice_err_t *err)
{
    return sluice_th_redis_start(&s->redis, s->redis_port, err);
}

static int redis_stop(devstack_t *s, sluice_err_t *err)
{
    return sluice_th_redis_stop(&s->redis, err);
}

static sluice_th_proc_t *redis_proc(devstack_t *s)
{
    return s->redis.proc;
}

static void redis_describe(const devstack_t *s, FILE *out)
{
    fprintf(out, "%s\n", s->redis.url);
    fprintf(out, "              redis-cli -h 127.0.0.1 -p %d\n", s->redis.port);
}

static void redis_env(const devstack_t *s, FILE *out)
{
    fprintf(out, "SLUICE_REDIS_URL=%s\n", s->redis.url);
}

/* --- postgres --- */

static int pg_start(devstack_t *s, sluice_err_t *err)
{
    return sluice_th_pg_start(&s->pg, s->pg_port, DATABASE, err);
}

static int pg_stop(devstack_t *s, sluice_err_t *err)
{
    return sluice_th_pg_stop(&s->pg, err);
}

static sluice_th_proc_t *pg_proc(devstack_t *s)
{
    return s->pg.proc;
}

static void pg_describe(const devstack_t *s, FILE *out)
{
    fprintf(out, "%s\n", s->pg.conninfo);
    fprintf(out, "              psql '%s'\n", s->pg.url);
}

static void pg_env(const devstack_t *s, FILE *out)
{
    fprintf(out, "SLUICE_DATABASE_URL=%s\n", s->pg.url);
}

/* --- kafka --- */

static int kafka_start(devstack_t *s, sluice_err_t *err)
{
    const char *args[] = {"--brokers", s->kafka_brokers, NULL};
    return sluice_th_kafka_start(&s->kafka, args, err);
}

static int kafka_stop(devstack_t *s, sluice_err_t *err)
{
    return sluice_th_kafka_stop(&s->kafka, err);
}

static sluice_th_proc_t *kafka_proc(devstack_t *s)
{
    return s->kafka.proc;
}

static void kafka_describe(const devstack_t *s, FILE *out)
{
    const char *bs = s->kafka.bootstrap;
    long pid = (long)sluice_th_proc_pid(s->kafka.proc);
    fprintf(out, "bootstrap %s (topics sluice.events, sluice.dlq; SIGUSR1 / SIGUSR2 take the brokers down / up)\n", bs);
    fprintf(out, "              kcat -b %s -L\n", bs);
    fprintf(out, "              echo 'k1:{\"hello\":1}' | kcat -b %s -t sluice.events -P -K:\n", bs);
    fprintf(out, "              kcat -b %s -t sluice.events -C -e -f '%%k %%s\\n'\n", bs);
    fprintf(out, "              kill -USR1 %ld; sleep 10; kill -USR2 %ld\n", pid, pid);
}

static void kafka_env(const devstack_t *s, FILE *out)
{
    fprintf(out, "SLUICE_KAFKA_BROKERS=%s\n", s->kafka.bootstrap);
}

/* --- gateway (optional: --gateway CONFIG) --- */

/* The gateway gets the stack's addresses on top of the inherited environment (write keys,
 * ENCRYPTION_KEY, TLS and plugin paths come from the caller, e.g. scripts/demo.sh). */
static int gateway_start(devstack_t *s, sluice_err_t *err)
{
    if (s->gateway_config == NULL)
        return 0;
    char bin[PATH_MAX];
    snprintf(bin, sizeof(bin), "%s/gateway/sluice-gateway", sluice_th_build_dir());
    snprintf(s->gateway_env[0], sizeof(s->gateway_env[0]), "SLUICE_KAFKA_BROKERS=%s", s->kafka.bootstrap);
    snprintf(s->gateway_env[1], sizeof(s->gateway_env[1]), "SLUICE_REDIS_URL=%s", s->redis.url);
    snprintf(s->gateway_env[2], sizeof(s->gateway_env[2]), "SLUICE_DATABASE_URL=%s", s->pg.url);
    const char *env[] = {s->gateway_env[0], s->gateway_env[1], s->gateway_env[2], NULL};
    const char *argv[] = {bin, "--config", s->gateway_config, NULL};
    char cwd[PATH_MAX];
    sluice_th_spawn_opts_t opts = {.env = env, .cwd = getcwd(cwd, sizeof(cwd))};
    s->gateway = sluice_th_spawn("gateway", argv, &opts, err);
    if (s->gateway == NULL)
        return -1;
    if (sluice_th_wait_log(s->gateway, "\"kafka.up\"", 1, 30000, err) != 0)
        return sluice_err_prefix(err, "gateway");
    return 0;
}

static int gateway_stop(devstack_t *s, sluice_err_t *err)
{
    return s->gateway == NULL ? 0 : sluice_th_proc_stop(s->gateway, 15000, NULL, err);
}

static sluice_th_proc_t *gateway_proc(devstack_t *s)
{
    return s->gateway;
}

static void gateway_describe(const devstack_t *s, FILE *out)
{
    fprintf(out, "config %s, log %s\n", s->gateway_config, sluice_th_proc_log(s->gateway));
    /* With the demo's variables set, show how to send an event (it then shows in the kcat line
     * above). The write key stays in the secrets file: the commands read it from the
     * environment, after the line that loads the file. */
    const char *listen = getenv("SLUICE_HTTPS_LISTEN"), *secrets = getenv("SLUICE_DEMO_SECRETS");
    const char *ca = getenv("SLUICE_DEMO_CA");
    if (listen == NULL || secrets == NULL || ca == NULL || getenv("ACME_WEB_WRITE_KEY") == NULL)
        return;
    char secrets_buf[PATH_MAX], ca_buf[PATH_MAX];
    fprintf(out, "              set -a; . %s; set +a\n",
            sluice_demo_shown_path(secrets, secrets_buf, sizeof(secrets_buf)));
    fprintf(out,
            "              curl -sS --cacert %s https://%s/v1/t -H \"Authorization: Bearer $ACME_WEB_WRITE_KEY\" \\\n"
            "                -H 'Content-Type: application/json' -d '{\"event\":\"Order Completed\",\"userId\":\"u-1\","
            "\"traits\":{\"email\":\"Jane.Doe@example.com\"},\"properties\":{\"card_number\":\"4111 1111 1111 "
            "1111\",\"total\":42},\"context\":{\"consent\":{\"categories\":[\"analytics\",\"marketing\"]}}}'\n",
            sluice_demo_shown_path(ca, ca_buf, sizeof(ca_buf)), listen);
}

static void gateway_env(const devstack_t *s, FILE *out)
{
    (void)s;
    (void)out;
}

/* --- vendor stubs and the delivery worker (optional: --deliver; tests/stubs/demo.c) --- */

static int stubs_start(devstack_t *s, sluice_err_t *err)
{
    return s->deliver ? sluice_demo_stubs_start(err) : 0;
}

static int stubs_stop(devstack_t *s, sluice_err_t *err)
{
    (void)s;
    return sluice_demo_stubs_stop(err);
}

static sluice_th_proc_t *stubs_proc(devstack_t *s)
{
    (void)s;
    return sluice_demo_stubs_proc();
}

static void stubs_describe(const devstack_t *s, FILE *out)
{
    (void)s;
    sluice_demo_stubs_describe(out);
}

static int deliver_start(devstack_t *s, sluice_err_t *err)
{
    return s->deliver ? sluice_demo_deliver_start(s->kafka.bootstrap, s->pg.url, err) : 0;
}

static int deliver_stop(devstack_t *s, sluice_err_t *err)
{
    (void)s;
    return sluice_demo_deliver_stop(err);
}

static sluice_th_proc_t *deliver_proc(devstack_t *s)
{
    (void)s;
    return sluice_demo_deliver_proc();
}

static void deliver_describe(const devstack_t *s, FILE *out)
{
    (void)s;
    sluice_demo_deliver_describe(out);
}

static void no_env(const devstack_t *s, FILE *out)
{
    (void)s;
    (void)out;
}

static const service_t services[] = {
    {"redis", redis_start, redis_stop, redis_proc, redis_describe, redis_env},
    {"postgres", pg_start, pg_stop, pg_proc, pg_describe, pg_env},
    {"kafka", kafka_start, kafka_stop, kafka_proc, kafka_describe, kafka_env},
    {"gateway", gateway_start, gateway_stop, gateway_proc, gateway_describe, gateway_env},
    {"stubs", stubs_start, stubs_stop, stubs_proc, stubs_describe, no_env},
    {"deliver", deliver_start, deliver_stop, deliver_proc, deliver_describe, no_env},
};
#define NSERVICES (sizeof(services) / sizeof(services[0]))

/* --- the stack --- */

static void usage(FILE *out)
{
    fprintf(out, "usage: sluice-devstack [options]\n"
                 "\n"
                 "Starts Redis, a throwaway PostgreSQL cluster and the dev Kafka broker on 127.0.0.1, prints\n"
                 "where they are, and stops them all on Ctrl-C or SIGTERM. Data lives in a temp dir that is\n"
                 "removed on exit (kept with SLUICE_KEEP_TMP=1).\n"
                 "\n"
                 "options:\n"
                 "  --env-file F        write SLUICE_KAFKA_BROKERS, SLUICE_REDIS_URL and SLUICE_DATABASE_URL\n"
                 "                      to F once ready (removed on exit)\n"
                 "  --redis-port P      Redis port (default: a free one)\n"
                 "  --pg-port P         PostgreSQL port (default: a free one)\n"
                 "  --kafka-brokers N   dev Kafka brokers (default 1)\n"
                 "  --gateway CONFIG    also run sluice-gateway on CONFIG, pointed at this stack\n"
                 "  --deliver           also run HTTPS stubs for Meta and GA4 and sluice-deliver delivering\n"
                 "                      org acme's events to them (needs the environment scripts/demo.sh sets)\n"
                 "  --help              this text\n");
}

static int parse_port(const char *opt, const char *s, int *out, sluice_err_t *err)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < 1 || v > 65535)
        return sluice_err_set(err, "%s: '%s' is not a port number (1..65535)", opt, s);
    *out = (int)v;
    return 0;
}

/* 0 to run, 1 after --help, -1 on a usage error. */
static int parse_options(int argc, char **argv, devstack_t *s, sluice_err_t *err)
{
    enum { OPT_ENV_FILE = 1, OPT_REDIS_PORT, OPT_PG_PORT, OPT_KAFKA_BROKERS, OPT_GATEWAY, OPT_DELIVER, OPT_HELP };
    static const struct option longopts[] = {
        {"env-file", required_argument, NULL, OPT_ENV_FILE},
        {"redis-port", required_argument, NULL, OPT_REDIS_PORT},
        {"pg-port", required_argument, NULL, OPT_PG_PORT},
        {"kafka-brokers", required_argument, NULL, OPT_KAFKA_BROKERS},
        {"gateway", required_argument, NULL, OPT_GATEWAY},
        {"deliver", no_argument, NULL, OPT_DELIVER},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    s->kafka_brokers = "1";
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
        switch (opt) {
        case OPT_ENV_FILE: s->env_file = optarg; break;
        case OPT_REDIS_PORT:
            if (parse_port("--redis-port", optarg, &s->redis_port, err) != 0)
                return -1;
            break;
        case OPT_PG_PORT:
            if (parse_port("--pg-port", optarg, &s->pg_port, err) != 0)
                return -1;
            break;
        case OPT_KAFKA_BROKERS: s->kafka_brokers = optarg; break; /* dev-kafka checks it */
        case OPT_GATEWAY: s->gateway_config = optarg; break;
        case OPT_DELIVER: s->deliver = 1; break;
        case OPT_HELP: return 1;
        case ':': return sluice_err_set(err, "%s needs a value", argv[optind - 1]);
        default: return sluice_err_set(err, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return sluice_err_set(err, "unexpected argument '%s'", argv[optind]);
    return 0;
}

/* Writes the env file through a temp file and rename, so a reader never sees half of it. */
static int write_env_file(const devstack_t *s, sluice_err_t *err)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", s->env_file, (long)getpid()) >= (int)sizeof(tmp))
        return sluice_err_set(err, "--env-file: path too long");
    FILE *f = fopen(tmp, "w");
    if (!f)
        return sluice_err_set(err, "cannot create %s: %s", tmp, strerror(errno));
    fprintf(f, "# written by sluice-devstack (pid %ld); valid while it runs\n", (long)getpid());
    for (size_t i = 0; i < NSERVICES; i++)
        services[i].env(s, f);
    int bad = ferror(f);
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, s->env_file) != 0) {
        int e = errno;
        unlink(tmp);
        return sluice_err_set(err, "cannot write %s: %s", s->env_file, strerror(e));
    }
    return 0;
}

static void print_stack(devstack_t *s, const char *dir)
{
    printf("sluice-devstack: local stack on 127.0.0.1 (data and logs in %s)\n", dir);
    for (size_t i = 0; i < NSERVICES; i++) {
        if (services[i].proc(s) == NULL)
            continue; /* an optional service that is off */
        printf("  %-10s  pid %-7ld ", services[i].name, (long)sluice_th_proc_pid(services[i].proc(s)));
        services[i].describe(s, stdout);
    }
    if (s->env_file) {
        char shown[PATH_MAX];
        printf("  env file    %s\n", sluice_demo_shown_path(s->env_file, shown, sizeof(shown)));
    }
}

/* Stops services [0, n) in reverse order; returns the number that failed to stop cleanly. */
static int stop_services(devstack_t *s, size_t n)
{
    int failed = 0;
    while (n-- > 0) {
        sluice_err_t err = {{0}};
        if (services[n].stop(s, &err) != 0) {
            fprintf(stderr, "sluice-devstack: stopping %s: %s\n", services[n].name, err.msg);
            failed++;
        }
    }
    return failed;
}

/* The stop signal already pending (blocked, not yet taken), or 0. */
static int pending_stop(const sigset_t *set)
{
    sigset_t pending;
    if (sigpending(&pending) != 0)
        return 0;
    for (int sig = 1; sig < NSIG; sig++) {
        if (sigismember(set, sig) == 1 && sigismember(&pending, sig) == 1)
            return sig;
    }
    return 0;
}

/* Waits for a stop signal; returns the signal, or 0 when a service died (reported on stderr). */
static int wait_for_stop(devstack_t *s, const sigset_t *set)
{
    for (;;) {
        struct timespec second = {.tv_sec = 1};
        int sig = sigtimedwait(set, NULL, &second);
        if (sig > 0)
            return sig;
        for (size_t i = 0; i < NSERVICES; i++) {
            sluice_th_proc_t *p = services[i].proc(s);
            if (p != NULL && !sluice_th_proc_running(p)) {
                char tail[240];
                sluice_th_log_tail(p, tail, sizeof(tail));
                fprintf(stderr, "sluice-devstack: %s (pid %ld) exited unexpectedly; its log ends: %s\n",
                        services[i].name, (long)sluice_th_proc_pid(p), tail);
                return 0;
            }
        }
    }
}

int main(int argc, char **argv)
{
    static devstack_t stack;
    sluice_err_t err = {{0}};
    int rc = parse_options(argc, argv, &stack, &err);
    if (rc == 1) {
        usage(stdout);
        return 0;
    }
    if (rc != 0) {
        fprintf(stderr, "sluice-devstack: %s\n(`sluice-devstack --help` lists the options)\n", err.msg);
        return 2;
    }

    /* Taken synchronously below. Reset first: a disposition of SIG_IGN inherited from a
     * background shell would discard the signal before it could ever become pending. The
     * harness gives each child default dispositions and an empty mask again. */
    static const int stop_signals[] = {SIGINT, SIGTERM, SIGHUP};
    sigset_t set;
    sigemptyset(&set);
    for (size_t i = 0; i < sizeof(stop_signals) / sizeof(stop_signals[0]); i++) {
        signal(stop_signals[i], SIG_DFL);
        sigaddset(&set, stop_signals[i]);
    }
    sigprocmask(SIG_BLOCK, &set, NULL);

    const char *dir = sluice_th_tmpdir(&err);
    if (!dir) {
        fprintf(stderr, "sluice-devstack: %s\n", err.msg);
        return 1;
    }
    /* A Ctrl-C during start-up stays pending (blocked); it is checked after each service so the
     * user does not wait for the rest of the stack just to see it stopped. */
    size_t started = 0;
    int sig = 0;
    /* One line for the whole start-up (the table below says what is where); a failure names
     * the service. */
    printf("sluice-devstack: starting redis, postgres, kafka%s%s\n", stack.gateway_config ? ", gateway" : "",
           stack.deliver ? ", vendor stubs, deliver" : "");
    fflush(stdout);
    for (; started < NSERVICES && sig == 0; started++) {
        if (services[started].start(&stack, &err) != 0) {
            fprintf(stderr, "sluice-devstack: starting %s: %s\n", services[started].name, err.msg);
            stop_services(&stack, started);
            return 1;
        }
        sig = pending_stop(&set);
    }
    if (sig == 0) {
        if (stack.env_file && write_env_file(&stack, &err) != 0) {
            fprintf(stderr, "sluice-devstack: %s\n", err.msg);
            stop_services(&stack, started);
            return 1;
        }
        print_stack(&stack, dir);
        printf("sluice-devstack: ready; Ctrl-C stops everything\n");
        fflush(stdout);
        sig = wait_for_stop(&stack, &set);
    }

    if (sig > 0)
        printf("\nsluice-devstack: SIG%s received, stopping\n", sigabbrev_np(sig));
    else
        printf("sluice-devstack: stopping the rest\n");
    fflush(stdout);
    if (stack.env_file)
        unlink(stack.env_file); /* its addresses die with the stack */
    int failed = stop_services(&stack, started);
    sluice_th_teardown();
    printf("sluice-devstack: stopped\n");
    return sig > 0 && failed == 0 ? 0 : 1;
}
