/*
 * Fixture for tests that drive a real sluice-gateway: a test CA and server certificate, the dev
 * Kafka broker and Redis through the harness, the gateway process itself, an HTTP client
 * (libcurl, trusting the test CA) and a Kafka reader (kcat). Everything runs on loopback and
 * is stopped by the harness at exit, also when a test fails.
 *
 * One thread; errors fail the calling cmocka test (these are test helpers, not library code).
 */
#ifndef SLUICE_TESTS_INTEGRATION_GWFIX_H
#define SLUICE_TESTS_INTEGRATION_GWFIX_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "tests/harness/harness.h"
#include "tests/harness/kafka.h"
#include "tests/harness/redis.h"

typedef struct gwfix {
    sluice_th_kafka_t kafka;
    sluice_th_redis_t redis;
    sluice_th_proc_t *gw;
    char certs[PATH_MAX]; /* dir with ca.crt, server.crt, server.key */
    char ca[PATH_MAX];
    char config[PATH_MAX]; /* the config file the gateway runs on */
    int https_port, http_port, metrics_port;
    const char *env[48]; /* NULL-terminated extra environment of the gateway */
    const char *name;    /* the gateway's name in the harness, and its log <tmpdir>/<name>.log; NULL: "gateway" */
} gwfix_t;

/* Starts the dev broker and Redis, makes the certificates and picks free ports. */
void gwfix_stack(gwfix_t *f);

/* The same with more `sluicectl dev-kafka` options (NULL-terminated), e.g. more partitions for
 * runs that keep more data than the mock broker holds per partition (5 MB). */
void gwfix_stack_with(gwfix_t *f, const char *const *kafka_args);

/* Writes text to <tmpdir>/<name> and returns the path (static buffer, next call overwrites). */
const char *gwfix_write(const char *name, const char *text);

/* Starts the gateway on f->config with f->env and waits until /readyz answers 200. */
void gwfix_start(gwfix_t *f);

/* The same, the gateway run through a command prefix (NULL-terminated, e.g. {"prlimit",
 * "--nofile=1024:1024", NULL}) that execs it in place (same pid). */
void gwfix_start_with(gwfix_t *f, const char *const *prefix);

/* As gwfix_start, but waits only until /readyz answers, whatever it says: for a gateway meant to
 * stay unready (a Redis it cannot read the suppression list from). */
void gwfix_start_unready(gwfix_t *f);

/* Sends sig to the gateway and waits for it to exit; returns its wait status. */
int gwfix_stop(gwfix_t *f, int sig);

/* A suite's teardown: stops the gateway with SIGTERM when it still runs (a case may have stopped
 * it, or left it stopped), then everything the harness started. */
void gwfix_teardown(gwfix_t *f);

typedef struct http_resp {
    long status;
    char *body; /* NUL-terminated */
    size_t len;
    char *headers;  /* raw header block, lowercase names not guaranteed */
    long version;   /* CURL_HTTP_VERSION_* actually used */
    int curl_error; /* 0, or a CURLcode when the request failed */
} http_resp_t;

typedef struct http_opts {
    const char *method;         /* default POST when a body is given, else GET */
    const char *const *headers; /* NULL-terminated "Name: value" */
    const void *body;
    size_t body_len;      /* 0 = strlen(body) */
    int http2;            /* ask for HTTP/2 over TLS */
    long tls_max;         /* CURL_SSLVERSION_MAX_* or 0 */
    long timeout_ms;      /* default 15000 */
    const char *local_ip; /* the client's source address (127.0.0.x), or NULL */
} http_opts_t;

/* Sends a request to url; never fails the test by itself (check resp->curl_error). */
void http_do(const char *url, const http_opts_t *o, const char *ca, http_resp_t *resp);
void http_resp_dispose(http_resp_t *r);

/* The value of header name (case-insensitive) in r, copied into a static buffer; NULL if absent. */
const char *http_header(const http_resp_t *r, const char *name);

/* https://127.0.0.1:<https_port><path> */
const char *gwfix_url(const gwfix_t *f, const char *path);
const char *gwfix_metrics_url(const gwfix_t *f, const char *path);

/* POSTs a JSON body with a Bearer key to the gateway; returns the status, body in *resp. */
long gwfix_post(const gwfix_t *f, const char *path, const char *key, const char *json, http_resp_t *resp);

/* Every message of topic as [{"key":..., "headers":"org=..,source=..", "partition":N, "value":{...},
 * "raw":"<the value's bytes>"}] (value is the raw string when jansson cannot read it, e.g. an
 * integer beyond 64 bits the client sent). */
json_t *gwfix_kafka_read(const gwfix_t *f, const char *topic);

/* The envelopes in msgs whose event.messageId equals id. */
size_t gwfix_count_message(json_t *msgs, const char *id);
json_t *gwfix_find_message(json_t *msgs, const char *id);

/* Value of a metric line (exact series text, e.g. `sluice_events_accepted_total`) from /metrics. */
double gwfix_metric(const gwfix_t *f, const char *series);

/* Headers of a signed server request (docs/security.md, "Signed events"): "X-Sluice-Source:
 * <source>", "X-Timestamp: <ts_ms>" and "X-Signature: sha256=<hex HMAC-SHA256(secret, METHOD \n
 * PATH \n TS \n BODY)>", written into the caller's strings. */
typedef struct gwfix_signed {
    char source[128], timestamp[64], signature[96];
} gwfix_signed_t;
void gwfix_sign(gwfix_signed_t *out, const char *secret, const char *source, const char *method, const char *path,
                long long ts_ms, const char *body);

/* 1 when needle occurs in text (a small strstr wrapper that also accepts NULL text). */
int gwfix_contains(const char *text, const char *needle);

/* Raises this process's RLIMIT_NOFILE soft limit to its hard limit, for the cases that hold
 * thousands of sockets; returns the soft limit now in force. */
unsigned long long gwfix_raise_nofile(void);

/* A TCP connection from local address from (127.0.0.x) to 127.0.0.1:port; -1 when refused. */
int gwfix_tcp_from(const char *from, int port);

/* Sends req as it is on a new connection to the plain listener (f->http_port) and reads the
 * answer into reply (NUL-terminated) until the server closes or says nothing for 3 s. */
void gwfix_raw_exchange(const gwfix_t *f, const char *req, char *reply, size_t cap);

struct ssl_ctx_st;
struct ssl_session_st;

/* A TLS client context that trusts the test CA and speaks only version (TLS1_2_VERSION,
 * TLS1_3_VERSION). The caller frees it (SSL_CTX_free). */
struct ssl_ctx_st *gwfix_tls_client(const gwfix_t *f, int version);

/* One GET /healthz over a new TLS connection to f's HTTPS listener, offering sess to resume
 * (NULL: a new session). Returns the session the connection ended with (read after the answer:
 * TLS 1.3 tickets come after the handshake; the caller frees it), and in *reused whether sess
 * was resumed. */
struct ssl_session_st *gwfix_tls_request(const gwfix_t *f, struct ssl_ctx_st *cctx, struct ssl_session_st *sess,
                                         int *reused);

/* The whole readable memory of process pid (through /proc/<pid>/mem), concatenated (malloc'd;
 * the caller frees it), in *len: what a test searches for key material the process must not
 * hold. */
uint8_t *gwfix_process_memory(pid_t pid, size_t *len);

/* in gzip-compressed (level 9) into a malloc'd buffer of *out_len bytes (caller frees). */
char *gwfix_gzip(const void *in, size_t n, size_t *out_len);

#endif
