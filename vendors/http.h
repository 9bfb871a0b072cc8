/*
 * HTTPS client of the delivery worker: libcurl's multi interface driven by the worker's loop
 * (curl_multi_socket_action on socket readiness, a deadline for curl's timer), so any number of
 * requests run concurrently on one thread. HTTP/2 is used where the vendor offers it (requests
 * to one host share a connection); TLS peer and host verification are always on, against
 * `ca_file` when given, else the system bundle.
 *
 * Threading: the loop's thread only.
 */
#ifndef SLUICE_VENDORS_HTTP_H
#define SLUICE_VENDORS_HTTP_H

#include <stddef.h>

#include "common/err.h"
#include "vendors/loop.h"

typedef struct sluice_http sluice_http_t;

typedef struct sluice_http_result {
    long status;       /* HTTP status, 0 when no answer arrived */
    int curl_code;     /* CURLE_OK, or why the transfer failed (timeout, TLS, connect) */
    const char *error; /* curl's error text when curl_code != 0, else "" */
    const char *body;  /* the answer's body, NUL-terminated: its first 64 KiB when longer (the
                        * rest is not read, and the transfer still counts as answered) */
    size_t body_len;
    const char *retry_after; /* the Retry-After header, or NULL */
    double seconds;          /* total time of the transfer */
} sluice_http_result_t;

/* Called once per request with its outcome; the result is valid during the call only. */
typedef void (*sluice_http_cb)(void *ud, const sluice_http_result_t *res);

/* ca_file may be NULL (system bundle). Returns NULL with a message in err. */
sluice_http_t *sluice_http_create(sluice_loop_t *loop, const char *ca_file, sluice_err_t *err);

/* Aborts every request still running (their callbacks are not called) and frees h. */
void sluice_http_destroy(sluice_http_t *h);

/* Starts POST url with headers[0..nheaders) ("Name: value", copied) and body[0..len), which
 * must stay valid until cb runs. Whole-request timeout timeout_ms. Returns 0, or -1 with a
 * message in err (cb is then never called). */
int sluice_http_post(sluice_http_t *h, const char *url, char *const *headers, size_t nheaders, const char *body,
                     size_t len, unsigned timeout_ms, sluice_http_cb cb, void *ud, sluice_err_t *err);

/* Requests started and not yet finished. */
size_t sluice_http_in_flight(const sluice_http_t *h);

/* Milliseconds until libcurl wants its timer served (0: now), or -1 when it wants none. */
long sluice_http_timeout_ms(const sluice_http_t *h);

/* Serves libcurl's timer when its deadline has passed (call when sluice_http_timeout_ms is 0). */
void sluice_http_run_timers(sluice_http_t *h);

#endif
