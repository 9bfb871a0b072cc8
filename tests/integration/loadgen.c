/*
 * The fault runs' load generator (see loadgen.h): client threads with one libcurl easy handle
 * each (HTTPS keep-alive), retrying like a real client. Each client thread owns its counters and
 * its list of acknowledged events; the test thread reads them only after joining the threads,
 * except the running acked count, which is an atomic.
 */
#include "tests/integration/loadgen.h"

#include "tests/harness/harness.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#define MAX_THREADS      16
#define MAX_RETRY_WAIT   10000 /* ms: a Retry-After above this is capped */
#define CONN_BACKOFF_MIN 100
#define CONN_BACKOFF_MAX 1000

typedef struct client {
    struct loadgen *lg;
    int index;
    pthread_t thread;
    CURL *curl;
    struct curl_slist *headers;
    long next_seq;
    long *acked; /* sequence numbers answered 2xx */
    size_t acked_len, acked_cap;
    loadgen_stats_t st;
    atomic_long acked_now;
    sluice_th_buf_t body; /* the current answer */
    long retry_after_s;   /* -1: none */
} client_t;

struct loadgen {
    loadgen_opts_t o;
    char single_url[512], batch_url[512];
    atomic_int stop;
    int nthreads, joined;
    int64_t started_ms, elapsed_ms;
    client_t clients[MAX_THREADS];
};

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    client_t *c = ud;
    size_t len = size * n;
    static const char name[] = "retry-after:";
    if (len > sizeof(name) - 1 && strncasecmp(p, name, sizeof(name) - 1) == 0) {
        char v[32];
        snprintf(v, sizeof(v), "%.*s", (int)(len - (sizeof(name) - 1)), p + sizeof(name) - 1);
        char *end;
        long s = strtol(v, &end, 10);
        if (end != v && s >= 0)
            c->retry_after_s = s;
    }
    return len;
}

static int remember(client_t *c, long seq)
{
    if (c->acked_len == c->acked_cap) {
        size_t cap = c->acked_cap ? c->acked_cap * 2 : 1024;
        long *na = realloc(c->acked, cap * sizeof(*na));
        if (na == NULL)
            return -1;
        c->acked = na;
        c->acked_cap = cap;
    }
    c->acked[c->acked_len++] = seq;
    c->st.acked++;
    atomic_fetch_add(&c->acked_now, 1);
    return 0;
}

/* A 2xx answer: every event of the request is acknowledged, except those a batch answer lists
 * under `rejected` (by index). */
static void on_accepted(client_t *c, long first, int n, int batch)
{
    char skip[128] = {0};
    if (batch) {
        json_t *b = json_loadb(c->body.p ? c->body.p : "", c->body.len, 0, NULL);
        size_t i;
        json_t *r;
        json_array_foreach(json_object_get(b, "rejected"), i, r) {
            json_int_t idx = json_integer_value(json_object_get(r, "index"));
            if (idx >= 0 && idx < n && idx < (json_int_t)sizeof(skip)) {
                skip[idx] = 1;
                c->st.rejected++;
            }
        }
        json_decref(b);
    }
    for (int i = 0; i < n; i++)
        if (!skip[i] && remember(c, first + i) != 0)
            fprintf(stderr, "loadgen: out of memory remembering an acknowledged event\n");
}

static void append_event(char *buf, size_t cap, size_t *len, const client_t *c, long seq)
{
    const loadgen_opts_t *o = &c->lg->o;
    int w =
        snprintf(buf + *len, cap - *len,
                 "{\"type\":\"track\",\"event\":\"%s\",\"messageId\":\"%s-%d-%ld\",\"anonymousId\":\"%s-v%d-%ld\","
                 "\"properties\":{\"seq\":%ld,\"email\":\"u%ld.t%d@load.test\",\"currency\":\"EUR\",\"value\":1.5}}",
                 o->event_name, o->id_prefix, c->index, seq, o->id_prefix, c->index, seq / 8, seq, seq, c->index);
    if (w > 0 && (size_t)w < cap - *len)
        *len += (size_t)w;
}

/* Posts events [first, first + n) until they are answered 2xx, refused for good, or retry_for_ms
 * passed. */
static void post(client_t *c, long first, int n, int batch)
{
    const loadgen_opts_t *o = &c->lg->o;
    char body[65536];
    size_t len = 0;
    if (batch)
        len = (size_t)snprintf(body, sizeof(body), "{\"batch\":[");
    for (int i = 0; i < n; i++) {
        if (i > 0)
            body[len++] = ',';
        append_event(body, sizeof(body) - 3, &len, c, first + i);
    }
    if (batch)
        len += (size_t)snprintf(body + len, sizeof(body) - len, "]}");
    c->st.events += n;

    curl_easy_setopt(c->curl, CURLOPT_URL, batch ? c->lg->batch_url : c->lg->single_url);
    curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE, (long)len);
    int64_t start = sluice_th_mono_ms();
    long backoff = CONN_BACKOFF_MIN;
    for (;;) {
        free(c->body.p);
        c->body = (sluice_th_buf_t){0};
        c->retry_after_s = -1;
        CURLcode rc = curl_easy_perform(c->curl);
        c->st.requests++;
        long status = 0, wait;
        if (rc == CURLE_OK)
            curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
        if (rc != CURLE_OK) {
            c->st.conn_errors++;
            wait = backoff;
            backoff = backoff * 2 > CONN_BACKOFF_MAX ? CONN_BACKOFF_MAX : backoff * 2;
        } else if (status >= 200 && status < 300) {
            on_accepted(c, first, n, batch);
            return;
        } else if (o->retry_bad_gateway && (status == 502 || status == 504)) {
            /* The balancer lost its upstream mid-request: the event may or may not be in Kafka,
             * so the client sends it again (a second copy is counted by messageId). */
            c->st.s502++;
            wait = backoff;
            backoff = backoff * 2 > CONN_BACKOFF_MAX ? CONN_BACKOFF_MAX : backoff * 2;
        } else if (status == 503 || status == 429) {
            if (status == 503)
                c->st.s503++;
            else
                c->st.s429++;
            if (c->retry_after_s < 0)
                c->st.no_retry_after++;
            wait = c->retry_after_s >= 0 ? c->retry_after_s * 1000 : 500;
            if (wait > MAX_RETRY_WAIT)
                wait = MAX_RETRY_WAIT;
        } else {
            c->st.unexpected++;
            if (c->st.first_unexpected == 0)
                c->st.first_unexpected = status;
            c->st.given_up += n;
            return;
        }
        if (sluice_th_mono_ms() + wait - start > o->retry_for_ms) {
            c->st.given_up += n;
            return;
        }
        c->st.retries++;
        sluice_th_sleep_ms(wait);
    }
}

static void *client_main(void *arg)
{
    client_t *c = arg;
    const loadgen_opts_t *o = &c->lg->o;
    for (long req = 0; !atomic_load(&c->lg->stop); req++) {
        int batch = o->batch_every > 0 && req % o->batch_every == o->batch_every - 1;
        int n = batch ? o->batch_size : 1;
        long first = c->next_seq;
        c->next_seq += n;
        post(c, first, n, batch);
        if (o->pace_ms > 0)
            sluice_th_sleep_ms(o->pace_ms);
    }
    return NULL;
}

static int client_init(loadgen_t *lg, client_t *c, int index)
{
    c->lg = lg;
    c->index = index;
    c->curl = curl_easy_init();
    if (c->curl == NULL)
        return -1;
    char auth[512];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", lg->o.write_key);
    c->headers = curl_slist_append(NULL, auth);
    c->headers = curl_slist_append(c->headers, "Content-Type: application/json");
    c->headers = curl_slist_append(c->headers, "Expect:");
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, c->headers);
    curl_easy_setopt(c->curl, CURLOPT_CAINFO, lg->o.ca);
    curl_easy_setopt(c->curl, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, 15000L);
    curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
    curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, sluice_th_buf_append);
    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &c->body);
    curl_easy_setopt(c->curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c->curl, CURLOPT_HEADERDATA, c);
    if (lg->o.user_agent != NULL)
        curl_easy_setopt(c->curl, CURLOPT_USERAGENT, lg->o.user_agent);
    return 0;
}

loadgen_t *loadgen_start(const loadgen_opts_t *o)
{
    if (o->threads < 1 || o->threads > MAX_THREADS ||
        (o->batch_every > 0 && (o->batch_size < 2 || o->batch_size > 100))) {
        fprintf(stderr, "loadgen: 1..%d threads and batches of 2..100 events\n", MAX_THREADS);
        return NULL;
    }
    loadgen_t *lg = calloc(1, sizeof(*lg));
    if (lg == NULL)
        return NULL;
    lg->o = *o;
    snprintf(lg->single_url, sizeof(lg->single_url), "%s/t", o->url);
    snprintf(lg->batch_url, sizeof(lg->batch_url), "%s/batch", o->url);
    lg->started_ms = sluice_th_mono_ms();
    for (int i = 0; i < o->threads; i++) {
        if (client_init(lg, &lg->clients[i], i) != 0 ||
            pthread_create(&lg->clients[i].thread, NULL, client_main, &lg->clients[i]) != 0) {
            fprintf(stderr, "loadgen: cannot start client %d\n", i);
            loadgen_destroy(lg);
            return NULL;
        }
        lg->nthreads++;
    }
    return lg;
}

long loadgen_acked_now(const loadgen_t *lg)
{
    long n = 0;
    for (int i = 0; i < lg->nthreads; i++)
        n += atomic_load(&lg->clients[i].acked_now);
    return n;
}

void loadgen_stop(loadgen_t *lg)
{
    if (lg == NULL || lg->joined)
        return;
    atomic_store(&lg->stop, 1);
    for (int i = 0; i < lg->nthreads; i++)
        pthread_join(lg->clients[i].thread, NULL);
    lg->joined = 1;
    lg->elapsed_ms = sluice_th_mono_ms() - lg->started_ms;
}

loadgen_stats_t loadgen_stats(const loadgen_t *lg)
{
    loadgen_stats_t t = {.elapsed_ms = lg->elapsed_ms};
    for (int i = 0; i < lg->nthreads; i++) {
        const loadgen_stats_t *s = &lg->clients[i].st;
        t.requests += s->requests;
        t.events += s->events;
        t.acked += s->acked;
        t.retries += s->retries;
        t.given_up += s->given_up;
        t.s503 += s->s503;
        t.s429 += s->s429;
        t.conn_errors += s->conn_errors;
        t.s502 += s->s502;
        t.unexpected += s->unexpected;
        t.rejected += s->rejected;
        t.no_retry_after += s->no_retry_after;
        if (t.first_unexpected == 0)
            t.first_unexpected = s->first_unexpected;
    }
    return t;
}

long loadgen_count_missing(const loadgen_t *lg, int (*seen)(void *ud, const char *id), void *ud, int print_max)
{
    long missing = 0;
    for (int i = 0; i < lg->nthreads; i++) {
        const client_t *c = &lg->clients[i];
        for (size_t k = 0; k < c->acked_len; k++) {
            char id[128];
            snprintf(id, sizeof(id), "%s-%d-%ld", lg->o.id_prefix, c->index, c->acked[k]);
            if (seen(ud, id))
                continue;
            if (missing++ < print_max)
                fprintf(stderr, "loadgen: %s was answered 2xx but is missing\n", id);
        }
    }
    return missing;
}

void loadgen_destroy(loadgen_t *lg)
{
    if (lg == NULL)
        return;
    loadgen_stop(lg);
    for (int i = 0; i < MAX_THREADS; i++) {
        client_t *c = &lg->clients[i];
        if (c->curl != NULL)
            curl_easy_cleanup(c->curl);
        curl_slist_free_all(c->headers);
        free(c->acked);
        free(c->body.p);
    }
    free(lg);
}
