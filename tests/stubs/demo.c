/*
 * `make demo` delivery services for sluice-devstack (see demo.h). Main thread of the devstack.
 */
#include "tests/stubs/demo.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct demo_stub {
    const char *name;
    int port;
    sluice_th_proc_t *proc;
    char log[PATH_MAX];
} demo_stub_t;

static struct {
    demo_stub_t stubs[3];
    sluice_th_proc_t *worker;
    char config[PATH_MAX];
    int metrics_port;
} D = {.stubs = {{.name = "meta"}, {.name = "ga4"}, {.name = "pinterest"}}};

#define NSTUBS ((int)(sizeof(D.stubs) / sizeof(D.stubs[0])))

const char *sluice_demo_shown_path(const char *path, char *buf, size_t cap)
{
    char cwd[PATH_MAX];
    if (path == NULL || getcwd(cwd, sizeof(cwd)) == NULL)
        return path;
    size_t n = strlen(cwd);
    if (strncmp(path, cwd, n) != 0 || path[n] != '/' || path[n + 1] == '\0')
        return path;
    snprintf(buf, cap, "%s", path + n + 1);
    return buf;
}

static int stub_start(demo_stub_t *st, const char *print_to, sluice_err_t *err)
{
    const char *cert = getenv("SLUICE_TLS_CERT"), *key = getenv("SLUICE_TLS_KEY");
    if (cert == NULL || key == NULL)
        return sluice_err_set(err, "--deliver needs SLUICE_TLS_CERT and SLUICE_TLS_KEY (scripts/demo.sh sets them)");
    if ((st->port = sluice_th_free_port(err)) < 0)
        return -1;
    char name[32], ready[PATH_MAX], port[16], bin[PATH_MAX];
    snprintf(name, sizeof(name), "stub-%s.jsonl", st->name);
    if (sluice_th_path(st->log, sizeof(st->log), name, err) != 0)
        return -1;
    snprintf(name, sizeof(name), "stub-%s.ready", st->name);
    if (sluice_th_path(ready, sizeof(ready), name, err) != 0)
        return -1;
    snprintf(port, sizeof(port), "%d", st->port);
    snprintf(bin, sizeof(bin), "%s/tests/stubs/sluice-vendor-stub", sluice_th_build_dir());
    const char *argv[] = {bin,          "--port", port,           "--cert", cert,     "--key",
                          key,          "--log",  st->log,        "--name", st->name, "--print-bodies",
                          "--print-to", print_to, "--ready-file", ready,    NULL};
    snprintf(name, sizeof(name), "stub-%s", st->name);
    if ((st->proc = sluice_th_spawn(name, argv, NULL, err)) == NULL)
        return -1;
    for (int waited = 0; waited < 10000; waited += 50) {
        if (access(ready, F_OK) == 0)
            return 0;
        if (!sluice_th_proc_running(st->proc))
            break;
        usleep(50 * 1000);
    }
    char tail[256];
    sluice_th_log_tail(st->proc, tail, sizeof(tail));
    return sluice_err_set(err, "%s stub did not start: %s", st->name, tail);
}

int sluice_demo_stubs_start(sluice_err_t *err)
{
    /* The stubs print what they receive straight onto the devstack's own stdout. */
    char print_to[64];
    snprintf(print_to, sizeof(print_to), "/proc/%ld/fd/1", (long)getpid());
    for (int i = 0; i < NSTUBS; i++) {
        if (stub_start(&D.stubs[i], print_to, err) != 0)
            return -1;
    }
    return 0;
}

int sluice_demo_stubs_stop(sluice_err_t *err)
{
    int rc = 0;
    for (int i = NSTUBS - 1; i >= 0; i--) {
        if (D.stubs[i].proc != NULL && sluice_th_proc_stop(D.stubs[i].proc, 5000, NULL, err) != 0)
            rc = -1;
    }
    return rc;
}

sluice_th_proc_t *sluice_demo_stubs_proc(void)
{
    for (int i = 0; i < NSTUBS; i++) {
        if (D.stubs[i].proc != NULL && !sluice_th_proc_running(D.stubs[i].proc))
            return D.stubs[i].proc;
    }
    return D.stubs[0].proc;
}

void sluice_demo_stubs_describe(FILE *out)
{
    fprintf(out,
            "\"Meta\" https://127.0.0.1:%d, \"GA4\" https://127.0.0.1:%d, \"Pinterest\" https://127.0.0.1:%d; "
            "requests are printed here, and kept as JSON lines:\n",
            D.stubs[0].port, D.stubs[1].port, D.stubs[2].port);
    fprintf(out, "              tail -n 3 %s %s %s\n", D.stubs[0].log, D.stubs[1].log, D.stubs[2].log);
}

static int vault_put(const char *name, const char *vendor, const char *secret, sluice_err_t *err)
{
    char bin[PATH_MAX];
    snprintf(bin, sizeof(bin), "%s/tools/sluicectl", sluice_th_build_dir());
    const char *argv[] = {bin,    "vault",  "put", "--config", D.config, "--org",
                          "acme", "--name", name,  "--vendor", vendor,   NULL};
    sluice_th_output_t out = {0};
    if (sluice_th_run(argv, secret, strlen(secret), 60000, &out, err) != 0)
        return -1;
    int ok = sluice_th_exited_with(out.wstatus, 0);
    if (!ok)
        sluice_err_set(err, "sluicectl vault put %s: %s", name, out.errout);
    sluice_th_output_dispose(&out);
    return ok ? 0 : -1;
}

int sluice_demo_deliver_start(const char *kafka_bootstrap, const char *database_url, sluice_err_t *err)
{
    const char *ca = getenv("SLUICE_DEMO_CA");
    if (ca == NULL || getenv("ENCRYPTION_KEY") == NULL)
        return sluice_err_set(err, "--deliver needs SLUICE_DEMO_CA and ENCRYPTION_KEY (scripts/demo.sh sets them)");
    if ((D.metrics_port = sluice_th_free_port(err)) < 0 ||
        sluice_th_path(D.config, sizeof(D.config), "deliver.yaml", err) != 0)
        return -1;
    FILE *f = fopen(D.config, "w");
    if (f == NULL)
        return sluice_err_set(err, "cannot write %s", D.config);
    /* The gateway's example config names the real vendor hosts; the demo worker gets its own
     * config for org acme with the stubs as base URLs (and the demo CA to trust them). */
    fprintf(f,
            "version: 1\n"
            "server: {http: {listen: \"127.0.0.1:0\"}}\n"
            "kafka:\n"
            "  brokers: \"%s\"\n"
            "  properties: {session.timeout.ms: 6000, heartbeat.interval.ms: 500}\n"
            "database: {url: \"%s\"}\n"
            "delivery: {ca_file: %s, metrics: {listen: \"127.0.0.1:%d\"}}\n"
            "orgs:\n"
            "  - id: acme\n"
            "    sources: [{id: web, write_key_env: ACME_WEB_WRITE_KEY}]\n"
            "    integrations:\n"
            "      - {name: meta, vendor: meta, pixel_id: \"1234567890\", consent: marketing,\n"
            "         base_url: \"https://127.0.0.1:%d\", batch: {max_wait_ms: 500}}\n"
            "      - {name: ga4, vendor: ga4, measurement_id: G-ACME123, consent: analytics,\n"
            "         base_url: \"https://127.0.0.1:%d\", batch: {max_wait_ms: 500}}\n"
            "      - {name: pinterest, vendor: pinterest, ad_account_id: \"549755885175\", consent: marketing,\n"
            "         base_url: \"https://127.0.0.1:%d\", batch: {max_wait_ms: 500},\n"
            "         mapping: {events: {Checkout Step Viewed: checkout}}}\n",
            kafka_bootstrap, database_url, ca, D.metrics_port, D.stubs[0].port, D.stubs[1].port, D.stubs[2].port);
    if (fclose(f) != 0)
        return sluice_err_set(err, "cannot write %s", D.config);
    /* Demo credentials: stored only encrypted under ENCRYPTION_KEY, read back by the worker. */
    if (vault_put("meta", "meta", "{\"access_token\":\"demo-meta-access-token\"}", err) != 0 ||
        vault_put("ga4", "ga4", "{\"api_secret\":\"demo-ga4-api-secret\"}", err) != 0 ||
        vault_put("pinterest", "pinterest", "{\"access_token\":\"demo-pinterest-token\"}", err) != 0)
        return -1;
    char bin[PATH_MAX];
    snprintf(bin, sizeof(bin), "%s/vendors/sluice-deliver", sluice_th_build_dir());
    const char *argv[] = {bin, "--config", D.config, NULL};
    if ((D.worker = sluice_th_spawn("deliver", argv, NULL, err)) == NULL)
        return -1;
    if (sluice_th_wait_log(D.worker, "partitions assigned", NSTUBS, 60000, err) != 0)
        return sluice_err_prefix(err, "sluice-deliver");
    return 0;
}

int sluice_demo_deliver_stop(sluice_err_t *err)
{
    return D.worker == NULL ? 0 : sluice_th_proc_stop(D.worker, 15000, NULL, err);
}

sluice_th_proc_t *sluice_demo_deliver_proc(void)
{
    return D.worker;
}

void sluice_demo_deliver_describe(FILE *out)
{
    char bin[PATH_MAX], shown[PATH_MAX];
    snprintf(bin, sizeof(bin), "%s/tools/sluicectl", sluice_th_build_dir());
    const char *ctl = sluice_demo_shown_path(bin, shown, sizeof(shown));
    fprintf(out, "config %s, log %s\n", D.config, sluice_th_proc_log(D.worker));
    fprintf(out, "              curl -s http://127.0.0.1:%d/metrics | grep sluice_deliver_events_total\n",
            D.metrics_port);
    fprintf(out, "              %s vault list --config %s\n", ctl, D.config);
    fprintf(out, "              %s dlq list --config %s\n", ctl, D.config);
}
