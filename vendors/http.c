/*
 * libcurl multi on the worker's epoll loop (see http.h). curl tells us which sockets to watch
 * (CURLMOPT_SOCKETFUNCTION) and when to call it back (CURLMOPT_TIMERFUNCTION); finished
 * transfers are collected after every curl_multi_socket_action. The loop's thread.
 */
#include "vendors/http.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <curl/curl.h>

#include "common/time.h"
#include "vendors/envelope.h"

#define MAX_BODY (64 * 1024)

/* Idle connections kept for reuse, at most: every webhook host of a 2,000-org deployment and
 * room to spare, each about 90 KB resident (TLS state and buffers, libcurl's HTTP/2 buffer).
 * libcurl's default kept 4 per request in progress and closed the oldest beyond, so with more
 * hosts than that nearly every batch paid a new TCP connection and TLS handshake
 * (tests/integration/deliver_hooks.c, docs/performance.md). */
#define IDLE_MAX 4096
/* Descriptors left to the rest of the worker (Kafka, PostgreSQL, metrics, logs) and to requests
 * in progress, out of RLIMIT_NOFILE, before idle connections take any. */
#define FD_RESERVE 512

typedef struct req {
    CURL *easy;
    struct curl_slist *headers;
    sluice_http_cb cb;
    void *ud;
    char *body;
    size_t body_len;
    int cut; /* the body went past MAX_BODY and was not read further */
    char errbuf[CURL_ERROR_SIZE];
    struct req *prev, *next;
} req_t;

struct sluice_http {
    CURLM *multi;
    sluice_loop_t *loop;
    char *ca_file;
    int64_t timer_deadline; /* monotonic ms; -1 none */
    req_t *reqs;
    size_t count;
};

static void check_done(sluice_http_t *h);

static void on_socket_ready(void *ud, int fd, unsigned events)
{
    sluice_http_t *h = ud;
    int mask = (events & SLUICE_LOOP_IN ? CURL_CSELECT_IN : 0) | (events & SLUICE_LOOP_OUT ? CURL_CSELECT_OUT : 0) |
               (events & SLUICE_LOOP_ERR ? CURL_CSELECT_ERR : 0);
    int running;
    curl_multi_socket_action(h->multi, fd, mask, &running);
    check_done(h);
}

static int on_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    (void)easy;
    (void)socketp;
    sluice_http_t *h = userp;
    if (what == CURL_POLL_REMOVE) {
        sluice_loop_unwatch(h->loop, s);
        return 0;
    }
    unsigned ev = (what == CURL_POLL_IN || what == CURL_POLL_INOUT ? SLUICE_LOOP_IN : 0u) |
                  (what == CURL_POLL_OUT || what == CURL_POLL_INOUT ? SLUICE_LOOP_OUT : 0u);
    return sluice_loop_watch(h->loop, s, ev, on_socket_ready, h, NULL) == 0 ? 0 : -1;
}

static int on_timer(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    sluice_http_t *h = userp;
    h->timer_deadline = timeout_ms < 0 ? -1 : sluice_mono_ms() + timeout_ms;
    return 0;
}

/* How many idle connections the cache may keep: IDLE_MAX, or half of what RLIMIT_NOFILE leaves
 * beyond FD_RESERVE (the other half for requests that open a connection while the cache is
 * full), so a full cache never makes socket(2) fail. Raises the soft limit to the hard one first:
 * an inherited 1024 (systemd's default) is no limit for a worker with a connection per host. */
static long idle_cap(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        rl.rlim_cur = rl.rlim_max = 1024;
    if (rl.rlim_cur < rl.rlim_max) {
        struct rlimit want = {rl.rlim_max, rl.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &want) == 0)
            rl = want;
    }
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= FD_RESERVE + 2 * (rlim_t)IDLE_MAX)
        return IDLE_MAX;
    return rl.rlim_cur > FD_RESERVE + 32 ? (long)(rl.rlim_cur - FD_RESERVE) / 2 : 16;
}

sluice_http_t *sluice_http_create(sluice_loop_t *loop, const char *ca_file, sluice_err_t *err)
{
    sluice_http_t *h = calloc(1, sizeof(*h));
    if (h == NULL || (ca_file != NULL && (h->ca_file = strdup(ca_file)) == NULL) ||
        (h->multi = curl_multi_init()) == NULL) {
        if (h != NULL)
            free(h->ca_file);
        free(h);
        sluice_err_set(err, "libcurl: cannot create a multi handle");
        return NULL;
    }
    h->loop = loop;
    h->timer_deadline = -1;
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
    curl_multi_setopt(h->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS, idle_cap());
    return h;
}

static void req_free(sluice_http_t *h, req_t *r)
{
    if (r->prev != NULL)
        r->prev->next = r->next;
    else
        h->reqs = r->next;
    if (r->next != NULL)
        r->next->prev = r->prev;
    h->count--;
    curl_multi_remove_handle(h->multi, r->easy);
    curl_easy_cleanup(r->easy);
    curl_slist_free_all(r->headers);
    free(r->body);
    free(r);
}

void sluice_http_destroy(sluice_http_t *h)
{
    if (h == NULL)
        return;
    while (h->reqs != NULL)
        req_free(h, h->reqs);
    curl_multi_cleanup(h->multi);
    free(h->ca_file);
    free(h);
}

/* Keeps the first MAX_BODY bytes and stops the transfer there: a receiver answering with an
 * endless body (or a huge one) was read until timeout_ms, and the delivery it had accepted then
 * counted as a timeout and was sent again. What decides the outcome (the status, an error's first
 * lines) is in the first 64 KiB; the connection is closed, not reused. */
static size_t on_body(char *ptr, size_t size, size_t n, void *ud)
{
    req_t *r = ud;
    size_t add = size * n, keep = add;
    if (r->body_len + keep > MAX_BODY) {
        keep = MAX_BODY - r->body_len;
        r->cut = 1;
    }
    if (keep > 0) {
        char *nb = realloc(r->body, r->body_len + keep + 1);
        if (nb == NULL)
            return 0;
        memcpy(nb + r->body_len, ptr, keep);
        r->body = nb;
        r->body_len += keep;
        r->body[r->body_len] = '\0';
    }
    return r->cut ? 0 : add;
}

int sluice_http_post(sluice_http_t *h, const char *url, char *const *headers, size_t nheaders, const char *body,
                     size_t len, unsigned timeout_ms, sluice_http_cb cb, void *ud, sluice_err_t *err)
{
    req_t *r = calloc(1, sizeof(*r));
    if (r == NULL || (r->easy = curl_easy_init()) == NULL) {
        free(r);
        return sluice_err_set(err, "libcurl: cannot create a request");
    }
    for (size_t i = 0; i < nheaders; i++) {
        struct curl_slist *nl = curl_slist_append(r->headers, headers[i]);
        if (nl == NULL)
            goto oom;
        r->headers = nl;
    }
    /* No "Expect: 100-continue" round trip before the body. */
    struct curl_slist *nl = curl_slist_append(r->headers, "Expect:");
    if (nl == NULL)
        goto oom;
    r->headers = nl;
    r->cb = cb;
    r->ud = ud;
    CURL *e = r->easy;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(timeout_ms < 10000 ? timeout_ms : 10000));
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
    /* Verification is never switched off; only the trust anchors are configurable. */
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    if (h->ca_file != NULL)
        curl_easy_setopt(e, CURLOPT_CAINFO, h->ca_file);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https,http");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "sluice-deliver/" SLUICE_VERSION);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(e, CURLOPT_PRIVATE, r);
    if (curl_multi_add_handle(h->multi, e) != CURLM_OK) {
        curl_slist_free_all(r->headers);
        curl_easy_cleanup(e);
        free(r);
        return sluice_err_set(err, "libcurl: cannot start a request");
    }
    r->next = h->reqs;
    if (h->reqs != NULL)
        h->reqs->prev = r;
    h->reqs = r;
    h->count++;
    return 0;
oom:
    curl_slist_free_all(r->headers);
    curl_easy_cleanup(r->easy);
    free(r);
    return sluice_err_set(err, "out of memory");
}

static void check_done(sluice_http_t *h)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(h->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        char *priv = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
        req_t *r = (req_t *)priv;
        sluice_http_result_t res = {0};
        /* A body cut at MAX_BODY is an answer, its status and first 64 KiB read. */
        res.curl_code = r->cut && m->data.result == CURLE_WRITE_ERROR ? CURLE_OK : (int)m->data.result;
        curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &res.status);
        curl_easy_getinfo(r->easy, CURLINFO_TOTAL_TIME, &res.seconds);
        res.error = res.curl_code != CURLE_OK ? (r->errbuf[0] ? r->errbuf : curl_easy_strerror(m->data.result)) : "";
        res.body = r->body != NULL ? r->body : "";
        res.body_len = r->body_len;
        struct curl_header *hdr = NULL;
        if (res.curl_code == CURLE_OK &&
            curl_easy_header(r->easy, "Retry-After", 0, CURLH_HEADER, -1, &hdr) == CURLHE_OK)
            res.retry_after = hdr->value;
        r->cb(r->ud, &res);
        req_free(h, r);
    }
}

size_t sluice_http_in_flight(const sluice_http_t *h)
{
    return h->count;
}

long sluice_http_timeout_ms(const sluice_http_t *h)
{
    if (h->timer_deadline < 0)
        return -1;
    int64_t left = h->timer_deadline - sluice_mono_ms();
    return left > 0 ? (long)left : 0;
}

void sluice_http_run_timers(sluice_http_t *h)
{
    h->timer_deadline = -1;
    int running;
    curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(h);
}
