/*
 * Delivery test fixture (see deliver_fix.h): real processes on loopback, a librdkafka producer
 * for events, libcurl for the stubs' control endpoint and the worker's /metrics. Test thread.
 */
#include "tests/integration/deliver_fix.h"

#include "json/write.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <librdkafka/rdkafka.h>

static void fail_with(const char *what, const sluice_err_t *err)
{
    print_error("%s: %s\n", what, err->msg);
    fail();
}

int64_t dfix_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void dfix_make_certs(const char *dir)
{
    sluice_err_t err = {{0}};
    char script[PATH_MAX];
    snprintf(script, sizeof(script), "%s/scripts/certs.sh", getenv("SLUICE_SOURCE_DIR"));
    const char *argv[] = {script, dir, NULL};
    sluice_th_output_t out = {0};
    if (sluice_th_run(argv, NULL, 0, 60000, &out, &err) != 0 || !sluice_th_exited_with(out.wstatus, 0)) {
        print_error("certs.sh failed: %s\n", out.errout ? out.errout : err.msg);
        fail();
    }
    sluice_th_output_dispose(&out);
}

void dfix_init(dfix_t *f, const char *bootstrap, const char *certs_dir, const char *const *kafka_args, int start_pg)
{
    sluice_err_t err = {{0}};
    memset(f, 0, sizeof(*f));
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (certs_dir != NULL) {
        snprintf(f->certs, sizeof(f->certs), "%s", certs_dir);
    } else {
        if (sluice_th_path(f->certs, sizeof(f->certs), "dcerts", &err) != 0)
            fail_with("tmpdir", &err);
        dfix_make_certs(f->certs);
    }
    snprintf(f->ca, sizeof(f->ca), "%s/ca.crt", f->certs);
    if (bootstrap != NULL) {
        f->bootstrap = bootstrap;
    } else {
        if (sluice_th_kafka_start(&f->kafka, kafka_args, &err) != 0)
            fail_with("dev kafka", &err);
        f->bootstrap = f->kafka.bootstrap;
    }
    f->metrics_port = sluice_th_free_port(&err);
    f->pg_port = sluice_th_free_port(&err);
    assert_true(f->metrics_port > 0 && f->pg_port > 0);
    static const char *env[] = {"ENCRYPTION_KEY=" DFIX_KEY1, "SLUICE_KEY_ID=1", "SLUICE_LOG_LEVEL=info", NULL};
    memcpy(f->env, env, sizeof(env));
    if (start_pg)
        dfix_start_pg(f);
}

void dfix_start_pg(dfix_t *f)
{
    sluice_err_t err = {{0}};
    if (sluice_th_pg_start(&f->pg, f->pg_port, "sluice_vault", &err) != 0)
        fail_with("postgres", &err);
}

void dfix_stub(dfix_t *f, dstub_t *s, const char *name, const char *plan, const char *certs_dir)
{
    sluice_err_t err = {{0}};
    memset(s, 0, sizeof(*s));
    snprintf(s->name, sizeof(s->name), "%s", name);
    s->port = sluice_th_free_port(&err);
    assert_true(s->port > 0);
    snprintf(s->url, sizeof(s->url), "https://127.0.0.1:%d", s->port);
    char logname[64], ready[PATH_MAX], port[16], cert[PATH_MAX + 16], key[PATH_MAX + 16], bin[PATH_MAX];
    snprintf(logname, sizeof(logname), "stub-%s-%d.jsonl", name, s->port);
    if (sluice_th_path(s->log, sizeof(s->log), logname, &err) != 0)
        fail_with("tmpdir", &err);
    snprintf(logname, sizeof(logname), "stub-%s-%d.ready", name, s->port);
    sluice_th_path(ready, sizeof(ready), logname, &err);
    snprintf(port, sizeof(port), "%d", s->port);
    const char *dir = certs_dir ? certs_dir : f->certs;
    snprintf(cert, sizeof(cert), "%s/server.crt", dir);
    snprintf(key, sizeof(key), "%s/server.key", dir);
    snprintf(bin, sizeof(bin), "%s/tests/stubs/sluice-vendor-stub", sluice_th_build_dir());
    const char *argv[20] = {bin,     "--port", port,     "--cert", cert,           "--key", key,
                            "--log", s->log,   "--name", name,     "--ready-file", ready};
    int n = 13;
    if (plan != NULL) {
        argv[n++] = "--plan";
        argv[n++] = plan;
    }
    argv[n] = NULL;
    char pname[48];
    snprintf(pname, sizeof(pname), "stub-%s", name);
    s->proc = sluice_th_spawn(pname, argv, NULL, &err);
    if (s->proc == NULL)
        fail_with("vendor stub", &err);
    if (sluice_th_wait_log(s->proc, "listening on", 1, 10000, &err) != 0)
        fail_with("vendor stub start", &err);
}

/* One request; returns the status and the body (caller frees). */
static long http(const char *method, const char *url, const char *ca, const char *body, char **out)
{
    CURL *c = curl_easy_init();
    sluice_th_buf_t b = {0};
    curl_easy_setopt(c, CURLOPT_URL, url);
    if (ca != NULL)
        curl_easy_setopt(c, CURLOPT_CAINFO, ca);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sluice_th_buf_append);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    if (body != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    }
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    if (out != NULL)
        *out = b.p ? b.p : strdup("");
    else
        free(b.p);
    return status;
}

void dfix_stub_plan(const dfix_t *f, const dstub_t *s, const char *plan)
{
    char url[160];
    snprintf(url, sizeof(url), "%s/__stub/plan", s->url);
    assert_int_equal(http("PUT", url, f->ca, plan, NULL), 200);
}

void dfix_stub_plan_for(const dfix_t *f, const dstub_t *s, const char *plan, const char *match)
{
    char url[320];
    assert_true((size_t)snprintf(url, sizeof(url), "%s/__stub/plan?match=%s", s->url, match) < sizeof(url));
    assert_int_equal(http("PUT", url, f->ca, plan, NULL), 200);
}

long dfix_stub_hung_age_ms(const dfix_t *f, const dstub_t *s)
{
    char url[160], *out = NULL;
    snprintf(url, sizeof(url), "%s/__stub/hung", s->url);
    assert_int_equal(http("GET", url, f->ca, NULL, &out), 200);
    long age = strtol(out, NULL, 10);
    free(out);
    return age;
}

json_t *dfix_requests(const dstub_t *s)
{
    json_t *all = json_array();
    char *text = sluice_th_read_file(s->log, NULL, NULL);
    for (char *line = text; line != NULL && *line != '\0';) {
        char *nl = strchr(line, '\n');
        if (nl == NULL)
            break; /* a line still being written */
        *nl = '\0';
        json_t *r = json_loads(line, 0, NULL);
        if (r != NULL) {
            const char *body = json_string_value(json_object_get(r, "body"));
            json_t *parsed = body ? json_loads(body, 0, NULL) : NULL;
            json_object_set_new(r, "json", parsed ? parsed : json_null());
            json_array_append_new(all, r);
        }
        line = nl + 1;
    }
    free(text);
    return all;
}

typedef struct count_arg {
    const dstub_t *s;
    size_t n;
} count_arg_t;

static int enough(void *arg)
{
    count_arg_t *c = arg;
    json_t *r = dfix_requests(c->s);
    int ok = json_array_size(r) >= c->n;
    json_decref(r);
    return ok;
}

size_t dfix_wait_requests(const dstub_t *s, size_t n, int timeout_ms)
{
    count_arg_t c = {s, n};
    sluice_th_wait_until(enough, &c, timeout_ms);
    json_t *r = dfix_requests(s);
    size_t got = json_array_size(r);
    json_decref(r);
    return got;
}

json_t *dfix_requests_with(const dstub_t *s, const char *needle)
{
    json_t *all = dfix_requests(s), *out = json_array();
    size_t i;
    json_t *r;
    json_array_foreach(all, i, r) {
        const char *body = json_string_value(json_object_get(r, "body"));
        if (body != NULL && strstr(body, needle) != NULL)
            json_array_append(out, r);
    }
    json_decref(all);
    return out;
}

json_t *dfix_wait_request(const dstub_t *s, const char *needle, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 100) {
        json_t *found = dfix_requests_with(s, needle);
        json_t *r = json_incref(json_array_get(found, 0));
        json_decref(found);
        if (r != NULL)
            return r;
        usleep(100 * 1000);
    }
    print_error("%s received nothing with %s\n", s->name, needle);
    fail();
    return NULL;
}

json_t *dfix_event_ids(json_t *requests, const char *array, const char *id)
{
    json_t *set = json_object();
    size_t i, j;
    json_t *r, *ev;
    json_array_foreach(requests, i, r) {
        json_t *body = json_object_get(r, "json");
        json_array_foreach(json_object_get(body, array), j, ev) {
            const char *v = json_string_value(json_object_get(ev, id));
            if (v == NULL) /* the webhook's envelopes: event.messageId */
                v = json_string_value(json_object_get(json_object_get(ev, "event"), "messageId"));
            if (v == NULL)
                continue;
            json_int_t seen = json_integer_value(json_object_get(set, v));
            json_object_set_new(set, v, json_integer(seen + 1));
        }
    }
    return set;
}

void dfix_write_config(dfix_t *f, const char *integrations_yaml, const char *extra_top)
{
    sluice_err_t err = {{0}};
    char inflight[40] = "";
    if (f->max_in_flight > 0)
        snprintf(inflight, sizeof(inflight), ", max_in_flight: %u", f->max_in_flight);
    size_t cap = 65536 + strlen(integrations_yaml) + (extra_top ? strlen(extra_top) : 0);
    char *yaml = malloc(cap);
    snprintf(yaml, cap,
             "version: 1\n"
             "server: {http: {listen: \"127.0.0.1:0\"}}\n"
             "kafka:\n"
             "  brokers: \"%s\"\n"
             "  properties: {session.timeout.ms: 6000, heartbeat.interval.ms: 500, fetch.wait.max.ms: 100,\n"
             "               topic.metadata.refresh.interval.ms: 1000}\n"
             "database: {url: \"host=127.0.0.1 port=%d user=%s dbname=sluice_vault\"}\n"
             "delivery: {ca_file: %s, metrics: {listen: \"127.0.0.1:%d\"}, credentials_ttl_s: 60%s}\n"
             "%s"
             "orgs:\n"
             "  - id: acme\n"
             "    sources: [{id: web, write_key_env: DFIX_WEB_KEY}]\n"
             "    consent: {policy: allow}\n"
             "    integrations:\n"
             "%s",
             f->bootstrap, f->pg_port, SLUICE_TH_PG_USER, f->ca, f->metrics_port, inflight, extra_top ? extra_top : "",
             integrations_yaml);
    if (sluice_th_path(f->config, sizeof(f->config), "deliver.yaml", &err) != 0)
        fail_with("tmpdir", &err);
    FILE *fp = fopen(f->config, "w");
    assert_non_null(fp);
    fputs(yaml, fp);
    fclose(fp);
    free(yaml);
}

void dfix_config_insert(const dfix_t *f, const char *after, const char *text)
{
    char *yaml = sluice_th_read_file(f->config, NULL, NULL);
    assert_non_null(yaml);
    const char *at = strstr(yaml, after);
    assert_non_null(at);
    size_t head = (size_t)(at - yaml) + strlen(after);
    FILE *fp = fopen(f->config, "w");
    assert_non_null(fp);
    fprintf(fp, "%.*s%s%s", (int)head, yaml, text, yaml + head);
    fclose(fp);
    free(yaml);
}

void dfix_print_log_end(const char *path, size_t bytes)
{
    char *log = sluice_th_read_file(path, NULL, NULL);
    size_t len = log != NULL ? strlen(log) : 0;
    fflush(stdout);
    printf("log %s, end:\n", path);
    if (log != NULL)
        fwrite(log + (len > bytes ? len - bytes : 0), 1, len > bytes ? bytes : len, stdout);
    else
        fputs("(none)", stdout);
    fputs("\n", stdout);
    fflush(stdout);
    free(log);
}

void dfix_kafka_env(dfix_t *f)
{
    const char *debug = getenv("DFIX_KAFKA_DEBUG"), *props = getenv("DFIX_KAFKA_PROPS");
    char text[1024] = "";
    size_t n = 0;
    if (debug != NULL && debug[0] != '\0') {
        n += (size_t)snprintf(text + n, sizeof(text) - n, ", debug: \"%s\"", debug);
        for (size_t i = 0; f->env[i] != NULL; i++) {
            if (strncmp(f->env[i], "SLUICE_LOG_LEVEL=", 17) == 0)
                f->env[i] = "SLUICE_LOG_LEVEL=debug";
        }
    }
    if (props != NULL && props[0] != '\0' && n < sizeof(text))
        n += (size_t)snprintf(text + n, sizeof(text) - n, ", %s", props);
    assert_true(n < sizeof(text));
    if (n > 0)
        dfix_config_insert(f, "topic.metadata.refresh.interval.ms: 1000", text);
}

void dfix_sluicectl(const dfix_t *f, const char *const *args, const char *const *env, const char *input,
                    sluice_th_output_t *out)
{
    (void)f;
    sluice_err_t err = {{0}};
    char bin[PATH_MAX];
    snprintf(bin, sizeof(bin), "%s/tools/sluicectl", sluice_th_build_dir());
    /* env through `env`, since sluice_th_run has no environment of its own. */
    const char *argv[64];
    int n = 0;
    argv[n++] = "env";
    for (const char *const *e = env; e != NULL && *e != NULL && n < 30; e++)
        argv[n++] = *e;
    argv[n++] = bin;
    for (const char *const *a = args; *a != NULL && n < 62; a++)
        argv[n++] = *a;
    argv[n] = NULL;
    memset(out, 0, sizeof(*out));
    if (sluice_th_run(argv, input, input ? strlen(input) : 0, 60000, out, &err) != 0)
        fail_with("sluicectl", &err);
}

void dfix_sluicectl_exit(const dfix_t *f, const char *const *args, const char *const *env, const char *input,
                         int want_exit, sluice_th_output_t *out)
{
    dfix_sluicectl(f, args, env, input, out);
    if (!sluice_th_exited_with(out->wstatus, want_exit))
        print_error("sluicectl %s %s: exit %d\nstdout: %s\nstderr: %s\n", args[0], args[1], out->wstatus >> 8, out->out,
                    out->errout);
    assert_true(sluice_th_exited_with(out->wstatus, want_exit));
}

char *dfix_sql1(PGconn *db, const char *q)
{
    PGresult *r = PQexec(db, q);
    if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK)
        print_error("%s: %s\n", q, PQerrorMessage(db));
    assert_true(PQresultStatus(r) == PGRES_TUPLES_OK || PQresultStatus(r) == PGRES_COMMAND_OK);
    char *v = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 ? strdup(PQgetvalue(r, 0, 0)) : strdup("");
    PQclear(r);
    return v;
}

void dfix_vault_put(dfix_t *f, const char *name, const char *vendor, const char *secret)
{
    const char *args[] = {"vault",  "put", "--config", f->config, "--org", "acme",
                          "--name", name,  "--vendor", vendor,    NULL};
    sluice_th_output_t out;
    dfix_sluicectl(f, args, f->env, secret, &out);
    if (!sluice_th_exited_with(out.wstatus, 0)) {
        print_error("vault put failed: %s\n", out.errout);
        fail();
    }
    sluice_th_output_dispose(&out);
}

void dfix_start_worker(dfix_t *f, const char *const *args, int lanes)
{
    sluice_err_t err = {{0}};
    char bin[PATH_MAX];
    snprintf(bin, sizeof(bin), "%s/vendors/sluice-deliver", sluice_th_build_dir());
    const char *argv[16] = {bin, "--config", f->config};
    int n = 3;
    for (const char *const *a = args; a != NULL && *a != NULL && n < 15; a++)
        argv[n++] = *a;
    argv[n] = NULL;
    /* Every start appends to the same log: wait for this process's own assignments. */
    char log[PATH_MAX];
    sluice_th_path(log, sizeof(log), "deliver.log", &err);
    char *before = sluice_th_read_file(log, NULL, NULL);
    int seen = before != NULL ? sluice_th_count(before, "partitions assigned") : 0;
    free(before);
    sluice_th_spawn_opts_t opts = {.env = f->env};
    f->worker = sluice_th_spawn("deliver", argv, &opts, &err);
    if (f->worker == NULL)
        fail_with("sluice-deliver", &err);
    if (lanes > 0 && sluice_th_wait_log(f->worker, "partitions assigned", seen + lanes, 60000, &err) != 0)
        fail_with("sluice-deliver start", &err);
}

void dfix_produce_events(const dfix_t *f, const char *prefix, int n, int spread)
{
    char **envs = calloc((size_t)n, sizeof(*envs));
    assert_non_null(envs);
    int64_t now = dfix_now_ms();
    for (int i = 0; i < n; i++) {
        char id[64], edit[96];
        snprintf(id, sizeof(id), "%s-%05d", prefix, i);
        snprintf(edit, sizeof(edit), "{\"anonymousId\":\"anon-%s-%d\"}", prefix, i);
        envs[i] = dfix_envelope(id, now, spread ? edit : NULL);
    }
    dfix_produce(f, envs, (size_t)n, NULL);
    for (int i = 0; i < n; i++)
        free(envs[i]);
    free(envs);
}

void dfix_accepted(const dstub_t *s, const char *prefix, size_t *distinct, size_t *events)
{
    json_t *reqs = dfix_requests(s), *seen = json_object(), *r, *env;
    size_t i, j, plen = strlen(prefix);
    *distinct = *events = 0;
    json_array_foreach(reqs, i, r) {
        json_int_t answer = json_integer_value(json_object_get(r, "answer"));
        if (answer < 200 || answer > 299)
            continue;
        json_array_foreach(json_object_get(json_object_get(r, "json"), "batch"), j, env) {
            const char *id = json_string_value(json_object_get(json_object_get(env, "event"), "messageId"));
            if (id == NULL || strncmp(id, prefix, plen) != 0)
                continue;
            (*events)++;
            if (json_object_get(seen, id) == NULL) {
                json_object_set_new(seen, id, json_true());
                (*distinct)++;
            }
        }
    }
    json_decref(seen);
    json_decref(reqs);
}

int dfix_log_count(const sluice_th_proc_t *p, const char *what)
{
    char *log = sluice_th_read_file(sluice_th_proc_log(p), NULL, NULL);
    int n = log != NULL ? sluice_th_count(log, what) : 0;
    free(log);
    return n;
}

void dfix_wait_log(sluice_th_proc_t *p, const char *what, int count)
{
    sluice_err_t err = {{0}};
    if (sluice_th_wait_log(p, what, count, 60000, &err) != 0)
        fail_with(what, &err);
}

sluice_th_proc_t *dfix_start_second_worker(const dfix_t *f, const char *name, int lanes)
{
    sluice_err_t err = {{0}};
    /* The same config on another metrics port (two workers cannot share one), its own log. */
    char *yaml = sluice_th_read_file(f->config, NULL, NULL);
    assert_non_null(yaml);
    char port[32], config[PATH_MAX], file[64];
    snprintf(port, sizeof(port), "127.0.0.1:%d", f->metrics_port);
    const char *at = strstr(yaml, port);
    assert_non_null(at);
    int port2 = sluice_th_free_port(&err);
    assert_true(port2 > 0);
    snprintf(file, sizeof(file), "%s.yaml", name);
    assert_int_equal(sluice_th_path(config, sizeof(config), file, &err), 0);
    FILE *fp = fopen(config, "w");
    assert_non_null(fp);
    fprintf(fp, "%.*s127.0.0.1:%d%s", (int)(at - yaml), yaml, port2, at + strlen(port));
    fclose(fp);
    free(yaml);

    char bin[PATH_MAX];
    snprintf(bin, sizeof(bin), "%s/vendors/sluice-deliver", sluice_th_build_dir());
    const char *argv[] = {bin, "--config", config, NULL};
    sluice_th_spawn_opts_t opts = {.env = f->env};
    sluice_th_proc_t *p = sluice_th_spawn(name, argv, &opts, &err);
    if (p == NULL)
        fail_with("sluice-deliver", &err);
    if (lanes > 0 && sluice_th_wait_log(p, "partitions assigned", lanes, 60000, &err) != 0)
        fail_with(name, &err);
    return p;
}

int dfix_stop_worker(dfix_t *f, int sig)
{
    sluice_err_t err = {{0}};
    int status = 0;
    assert_int_equal(sluice_th_proc_signal(f->worker, sig, &err), 0);
    if (sluice_th_proc_wait(f->worker, 30000, &status, &err) != 0)
        fail_with("sluice-deliver stop", &err);
    return status;
}

char *dfix_envelope(const char *id, int64_t now_ms, const char *edit)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/tests/fixtures/vendors/envelope.json", getenv("SLUICE_SOURCE_DIR"));
    json_t *root = json_load_file(path, 0, NULL);
    assert_non_null(root);
    char received[40], ts[40];
    for (int i = 0; i < 2; i++) {
        int64_t ms = i == 0 ? now_ms : now_ms - 400;
        time_t secs = (time_t)(ms / 1000);
        struct tm tm;
        gmtime_r(&secs, &tm);
        char *out = i == 0 ? received : ts;
        size_t n = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(out + n, 40 - n, ".%03dZ", (int)(ms % 1000));
    }
    json_object_set_new(root, "receivedAt", json_string(received));
    json_t *ev = json_object_get(root, "event");
    json_object_set_new(ev, "timestamp", json_string(ts));
    json_object_set_new(ev, "messageId", json_string(id));
    if (edit != NULL) {
        json_t *e = json_loads(edit, 0, NULL);
        assert_non_null(e);
        json_object_update(ev, e);
        json_decref(e);
    }
    /* Written as the gateway writes envelopes (reals shortest: 59.98, not 59.979999999999997). */
    char *s = sluice_json_encode(root, NULL, NULL);
    json_decref(root);
    return s;
}

static void on_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    int *failed = opaque;
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR)
        (*failed)++;
}

void dfix_produce_raw(const dfix_t *f, const char *payload, size_t len)
{
    int failed = 0;
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", f->bootstrap, errstr, sizeof(errstr));
    rd_kafka_conf_set(conf, "message.max.bytes", "8000000", errstr, sizeof(errstr));
    rd_kafka_conf_set_opaque(conf, &failed);
    rd_kafka_conf_set_dr_msg_cb(conf, on_dr);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    assert_non_null(rk);
    rd_kafka_resp_err_t e =
        rd_kafka_producev(rk, RD_KAFKA_V_TOPIC("sluice.events"), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                          RD_KAFKA_V_VALUE((void *)payload, len), RD_KAFKA_V_END);
    assert_int_equal(e, RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_int_equal(rd_kafka_flush(rk, 30000), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_destroy(rk);
    assert_int_equal(failed, 0);
}

void dfix_produce(const dfix_t *f, char *const *envelopes, size_t n, const char *const *headers)
{
    int failed = 0;
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", f->bootstrap, errstr, sizeof(errstr));
    rd_kafka_conf_set(conf, "linger.ms", "5", errstr, sizeof(errstr));
    rd_kafka_conf_set_opaque(conf, &failed);
    rd_kafka_conf_set_dr_msg_cb(conf, on_dr);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    assert_non_null(rk);
    for (size_t i = 0; i < n; i++) {
        json_t *env = json_loads(envelopes[i], 0, NULL);
        assert_non_null(env);
        json_t *ev = json_object_get(env, "event");
        char key[256];
        snprintf(key, sizeof(key), "%s:%s", json_string_value(json_object_get(env, "org")),
                 json_string_value(json_object_get(ev, "anonymousId")));
        rd_kafka_headers_t *h = rd_kafka_headers_new(8);
        rd_kafka_header_add(h, "org", -1, json_string_value(json_object_get(env, "org")), -1);
        rd_kafka_header_add(h, "source", -1, json_string_value(json_object_get(env, "source")), -1);
        rd_kafka_header_add(h, "type", -1, json_string_value(json_object_get(ev, "type")), -1);
        for (const char *const *x = headers; x != NULL && *x != NULL; x++) {
            const char *eq = strchr(*x, '=');
            rd_kafka_header_add(h, *x, eq - *x, eq + 1, -1);
        }
        json_decref(env);
        rd_kafka_resp_err_t e;
        while ((e = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC("sluice.events"), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                      RD_KAFKA_V_KEY(key, strlen(key)),
                                      RD_KAFKA_V_VALUE(envelopes[i], strlen(envelopes[i])), RD_KAFKA_V_HEADERS(h),
                                      RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(rk, 50);
        assert_int_equal(e, RD_KAFKA_RESP_ERR_NO_ERROR);
        rd_kafka_poll(rk, 0);
    }
    assert_int_equal(rd_kafka_flush(rk, 30000), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_destroy(rk);
    assert_int_equal(failed, 0);
}

json_t *dfix_dlq_list(const dfix_t *f, const char *const *args)
{
    const char *argv[16] = {"dlq", "list", "--config", f->config};
    int n = 4;
    for (const char *const *a = args; a != NULL && *a != NULL && n < 15; a++)
        argv[n++] = *a;
    argv[n] = NULL;
    sluice_th_output_t out;
    dfix_sluicectl(f, argv, NULL, NULL, &out);
    if (!sluice_th_exited_with(out.wstatus, 0)) {
        print_error("dlq list failed: %s\n", out.errout);
        fail();
    }
    json_t *all = json_array();
    for (char *line = out.out; line != NULL && *line != '\0';) {
        char *nl = strchr(line, '\n');
        if (nl != NULL)
            *nl = '\0';
        json_t *j = json_loads(line, 0, NULL);
        if (j != NULL)
            json_array_append_new(all, j);
        line = nl ? nl + 1 : NULL;
    }
    sluice_th_output_dispose(&out);
    return all;
}

double dfix_metric(const dfix_t *f, const char *series)
{
    char url[128], *body = NULL;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", f->metrics_port);
    if (http("GET", url, NULL, NULL, &body) != 200) {
        free(body);
        return -1;
    }
    double v = sluice_th_metric_value(body, series);
    free(body);
    return v;
}
