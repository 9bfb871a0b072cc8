/*
 * The gateway process. The main thread loads the config, opens one SO_REUSEPORT listening
 * socket per listener per worker (so the kernel spreads connections evenly and no thread
 * shares an accept queue), starts the workers and then waits for signals, giving the heaps'
 * free pages back to the kernel between them after a wave of connections has closed:
 *   SIGHUP          build a new runtime from the config file; on success hand it to every
 *                   worker, on failure log why and keep serving the old one;
 *   SIGTERM/SIGINT  tell every worker to stop accepting, finish in-flight requests, flush Kafka
 *                   and exit; then exit 0.
 * Each worker thread runs its own h2o event loop, Kafka producer and identity client.
 */
#include "gateway/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "common/cpus.h"
#include "common/log.h"
#include "common/time.h"
#include "crypto/keyring.h"
#include "crypto/secretenv.h"
#include "crypto/tls.h"
#include "gateway/forgotten.h"
#include "gateway/handler.h"
#include "gateway/ingest.h"
#include "gateway/live.h"
#include "gateway/enrichment.h"
#include "gateway/secrets.h"
#include "identity/identity.h"
#include "plugins/set.h"

static __thread sluice_worker_t *self;

sluice_worker_t *sluice_worker_self(void)
{
    return self;
}

/* ------------------------------------------------------------------ control messages */

typedef enum ctl_kind { CTL_RUNTIME, CTL_STOP } ctl_kind_t;

typedef struct ctl_msg {
    h2o_multithread_message_t super;
    ctl_kind_t kind;
    sluice_runtime_t *rt; /* CTL_RUNTIME: a reference handed to the worker */
} ctl_msg_t;

/* Per-client buckets per thread: a bounded table; clients beyond it share the fate of the least
 * recently seen (limiter.h). */
#define CLIENT_BUCKETS_PER_THREAD 65536

/* The sweep's deadlines follow the current config: a request's head and body within
 * server.request_timeout_ms; its answer out within the Kafka wait after that, plus a margin. */
static void apply_guard_limits(sluice_worker_t *w)
{
    const sluice_config_t *cfg = w->rt->cfg;
    sluice_conn_guard_set_limits(&w->guard, cfg->server.request_timeout_ms, cfg->kafka.ack_timeout_ms + 5000);
}

static void send_ctl(sluice_worker_t *w, ctl_kind_t kind, sluice_runtime_t *rt)
{
    ctl_msg_t *m = calloc(1, sizeof(*m));
    if (m == NULL)
        abort();
    m->kind = kind;
    m->rt = rt;
    h2o_multithread_send_message(&w->control, &m->super);
}

static void close_listeners(sluice_worker_t *w)
{
    for (int i = 0; i < SLUICE_LISTENER_COUNT; i++) {
        if (w->listen_sock[i] != NULL) {
            h2o_socket_read_stop(w->listen_sock[i]);
            h2o_socket_close(w->listen_sock[i]);
            w->listen_sock[i] = NULL;
            w->listen_fd[i] = -1;
        }
    }
}

static void on_control(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    sluice_worker_t *w = H2O_STRUCT_FROM_MEMBER(sluice_worker_t, control, receiver);
    while (!h2o_linklist_is_empty(messages)) {
        ctl_msg_t *m = H2O_STRUCT_FROM_MEMBER(ctl_msg_t, super.link, messages->next);
        h2o_linklist_unlink(&m->super.link);
        if (m->kind == CTL_RUNTIME) {
            sluice_runtime_t *old = w->rt;
            w->rt = m->rt;
            /* Connections accepted from now on get the reload's certificate (the old runtime's
             * context stays alive in the connections that use it). */
            if (w->rt->tls != NULL && w->accept[SLUICE_LISTENER_HTTPS].ssl_ctx != NULL)
                w->accept[SLUICE_LISTENER_HTTPS].ssl_ctx = w->rt->tls;
            sluice_runtime_release(old);
            apply_guard_limits(w);
            atomic_store(&w->rt_generation, w->rt->generation);
        } else if (!w->stopping) {
            w->stopping = 1;
            /* Monotonic: a wall clock stepped during the drain (NTP, a VM resumed) cut it short, and
             * requests still waiting for their acks were dropped unanswered. */
            w->drain_deadline_ms = (uint64_t)sluice_mono_ms() + w->rt->cfg->server.drain_timeout_ms;
            close_listeners(w);
            h2o_context_request_shutdown(&w->ctx);
        }
        free(m);
    }
}

/* ------------------------------------------------------------------ listeners */

/* The listener is paused this long when accept(2) fails for want of file descriptors: retrying at
 * once would spin the loop on a socket that stays readable. The connection cap is kept below the
 * descriptor limit so that this is a last resort. */
#define ACCEPT_PAUSE_MS 100

static void on_accept(h2o_socket_t *listener, const char *err);

/* The PII guard's findings of this thread, to Redis for the privacy inbox, every few seconds. */
#define PII_FLUSH_MS 2000

static void on_pii_flush(h2o_timeout_entry_t *entry)
{
    sluice_worker_t *w = H2O_STRUCT_FROM_MEMBER(sluice_worker_t, pii_flush_entry, entry);
    if (w->identity != NULL)
        sluice_piiguard_thread_flush(w->pii, w->identity->redis, w->identity->prefix);
    if (!w->stopping)
        h2o_timeout_link(w->ctx.loop, &w->pii_flush, &w->pii_flush_entry);
}

static void on_accept_resume(h2o_timeout_entry_t *entry)
{
    sluice_worker_t *w = H2O_STRUCT_FROM_MEMBER(sluice_worker_t, accept_resume_entry, entry);
    for (int i = 0; i < SLUICE_LISTENER_COUNT; i++) {
        if (w->listen_sock[i] != NULL)
            h2o_socket_read_start(w->listen_sock[i], on_accept);
    }
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    if (err != NULL)
        return;
    errno = 0;
    h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
    if (sock == NULL) {
        if (errno == EMFILE || errno == ENFILE) {
            sluice_counter_add(&self->metrics.conn_closed[SLUICE_CONN_FD_LIMIT], 1);
            for (int i = 0; i < SLUICE_LISTENER_COUNT; i++) {
                if (self->listen_sock[i] != NULL)
                    h2o_socket_read_stop(self->listen_sock[i]);
            }
            if (!h2o_timeout_is_linked(&self->accept_resume_entry))
                h2o_timeout_link(self->ctx.loop, &self->accept_resume, &self->accept_resume_entry);
        }
        return;
    }
    int capped = listener != self->listen_sock[SLUICE_LISTENER_METRICS];
    h2o_accept_ctx_t *actx = listener->data;
    if (sluice_conn_admit(&self->guard, sock, &self->rt->cfg->server, capped, actx->ssl_ctx) == 0)
        h2o_accept(actx, sock);
}

/* 1 when another process already listens on l's address: SO_REUSEPORT would otherwise let this
 * gateway join it silently and take half its traffic with another config. A probe socket
 * without SO_REUSEPORT cannot bind where anyone listens (SO_REUSEADDR lets it past TIME_WAIT). */
static int address_taken(const sluice_listen_t *l)
{
    char port[8];
    snprintf(port, sizeof(port), "%u", l->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *ai;
    if (getaddrinfo(l->host[0] ? l->host : NULL, port, &hints, &ai) != 0)
        return 0; /* open_listener reports it */
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0), on = 1, taken = 0;
    if (fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == 0 &&
        bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno == EADDRINUSE)
        taken = 1;
    if (fd >= 0)
        close(fd);
    freeaddrinfo(ai);
    return taken;
}

static int open_listener(const sluice_listen_t *l, const char *what, sluice_err_t *err)
{
    char port[8];
    snprintf(port, sizeof(port), "%u", l->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *ai;
    int rc = getaddrinfo(l->host[0] ? l->host : NULL, port, &hints, &ai);
    if (rc != 0)
        return sluice_err_set(err, "%s listener %s:%u: %s", what, l->host, l->port, gai_strerror(rc));
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0), on = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)) != 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
        listen(fd, SOMAXCONN) != 0) {
        sluice_err_set(err, "%s listener %s:%u: %s", what, l->host, l->port, strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return -1;
    }
    freeaddrinfo(ai);
    return fd;
}

/* ------------------------------------------------------------------ memory */

/* After a wave of connections has closed, the main thread gives the heaps' free pages back to
 * the kernel. What closed connections held is free to malloc, but glibc keeps nearly all of it
 * resident: the free chunks lie between live ones, below the top of each worker's heap. Measured
 * in case f of bench/run (1,024 connections): 68 MB resident after the run without this, 26 MB
 * with it; integration.edge checks the same after 3,000 idle connections (59 MB, then 15 MB).
 * The peak while the connections are open is the same either way.
 *
 * Only after a wave, not on a timer: malloc_trim walks every arena under its lock, and under
 * case f's load one walk took 2–30 ms, a stall for every worker that mallocs meanwhile. The
 * main thread looks every TRIM_CHECK_MS at the open connections; it trims once at least
 * TRIM_MIN_CLOSED of them, and half of the most it saw since the last trim, have closed. */
#define TRIM_CHECK_MS   2000
#define TRIM_MIN_CLOSED 256

static void trim_after_wave(const sluice_gateway_t *gw, unsigned *peak)
{
    unsigned open = sluice_conn_table_open(gw->conns);
    if (open > *peak) {
        *peak = open;
    } else if (*peak - open >= TRIM_MIN_CLOSED && open <= *peak / 2) {
        malloc_trim(0);
        *peak = open;
    }
}

/* ------------------------------------------------------------------ TLS */

/* What ALPN offers: HTTP/1.1 only unless server.https.http2 (docs/security.md: h2o 2.2.5 has no
 * rapid-reset fix; with http2 on, the gateway's own guards in conn.c apply). h2o keeps the
 * pointer, so the lists are static. */
static const h2o_iovec_t alpn_http1[] = {{H2O_STRLIT("http/1.1")}, {NULL, 0}};

/* A certificate this close to its end gets a warning at start and at each reload: certbot renews
 * 30 days ahead, so two weeks left means renewals have been failing for two weeks. */
#define TLS_EXPIRY_WARN_DAYS 14

/* Says in the log when the certificate just loaded is expired, not yet valid or expiring soon,
 * and gives its notAfter (0 when it does not read) in *not_after. An expired one is refused
 * (-1, err set) when refuse_expired: a reload must not swap a working certificate for a dead one
 * (an old backup restored, a renewal that failed and left last year's file). At start, and at a
 * reload while the certificate in use is expired too, it is a logged error only: refusing to
 * start would leave nothing serving to say why, and refusing the reload would serve nothing
 * better while it kept every config change out. */
static int tls_check_dates(const SSL_CTX *ssl, const char *path, int refuse_expired, int64_t *not_after,
                           sluice_err_t *err)
{
    int64_t not_before, end, now = sluice_now_ms() / 1000;
    *not_after = 0;
    if (sluice_tls_cert_validity(ssl, &not_before, &end) != 0) {
        sluice_log_warn("tls.cert_dates", "TLS certificate %s: its validity dates do not read", path);
        return 0;
    }
    *not_after = end;
    char when[32] = "?";
    time_t t = (time_t)end;
    struct tm tm;
    if (gmtime_r(&t, &tm) != NULL)
        strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
    if (now >= end && refuse_expired)
        return sluice_err_set(err, "TLS certificate %s expired on %s (the certificate in use is kept)", path, when);
    if (now >= end)
        sluice_log_error("tls.cert_expired",
                         "TLS certificate %s expired on %s: browsers and SDKs refuse every HTTPS connection; "
                         "install a renewed certificate and send SIGHUP",
                         path, when);
    else if (now < not_before)
        sluice_log_error("tls.cert_not_yet_valid",
                         "TLS certificate %s is valid only in %lld s: clients refuse it until then (is this "
                         "machine's clock right?)",
                         path, (long long)(not_before - now));
    else if (end - now < (int64_t)TLS_EXPIRY_WARN_DAYS * 86400)
        sluice_log_warn("tls.cert_expiring",
                        "TLS certificate %s expires on %s, in %lld days %lld hours: renew it (certbot renew) and "
                        "send SIGHUP",
                        path, when, (long long)((end - now) / 86400), (long long)((end - now) % 86400 / 3600));
    return 0;
}

/* A chain file without the intermediate its certificate needs (sluice_tls_chain_incomplete):
 * refused at a reload (-1, err set), which keeps the complete chain in use; a logged error at
 * start, where refusing would serve nothing, and at a reload while the chain in use lacks its
 * issuer too (the check cannot tell a private root's certificate that names its root's URL,
 * served alone to clients that trust the root, from certbot's cert.pem: refusing left such a
 * gateway without its renewals and every config change for good). */
static int tls_check_chain(const SSL_CTX *ssl, const char *path, int refuse, sluice_err_t *err)
{
    char issuer[256];
    if (!sluice_tls_chain_incomplete(ssl, issuer, sizeof(issuer)))
        return 0;
    char text[768];
    snprintf(text, sizeof(text),
             "holds no certificate of its issuer %s, which clients that do not fetch it (Firefox, Android apps, "
             "curl, the SDKs) need: give the full chain (certbot's fullchain.pem, not cert.pem)",
             issuer);
    if (refuse)
        return sluice_err_set(err, "TLS certificate %s %s (the certificate in use is kept)", path, text);
    sluice_log_error("tls.chain_incomplete", "TLS certificate %s %s", path, text);
    return 0;
}

/* What a reload refuses in the certificate it loads: only what makes the HTTPS listener worse
 * than the context in use (serving; NULL: none, everything is refused). An expired certificate or
 * an incomplete chain that is already served, since the start, is no reason to keep the reload's
 * config out: refused, such a reload left a new privacy rule unapplied until the file changed. */
#define TLS_REFUSE_EXPIRED 1
#define TLS_REFUSE_CHAIN   2

static int tls_refusals(const SSL_CTX *serving)
{
    if (serving == NULL)
        return TLS_REFUSE_EXPIRED | TLS_REFUSE_CHAIN;
    int refuse = 0;
    int64_t not_before, not_after;
    char issuer[256];
    if (sluice_tls_cert_validity(serving, &not_before, &not_after) != 0 || sluice_now_ms() / 1000 < not_after)
        refuse |= TLS_REFUSE_EXPIRED;
    if (!sluice_tls_chain_incomplete(serving, issuer, sizeof(issuer)))
        refuse |= TLS_REFUSE_CHAIN;
    return refuse;
}

/* A finished handshake, on the loop thread that made it (crypto/tls.h), into its metrics: without
 * them nothing showed an operator that sessions stopped resuming (a pod given a mistyped
 * session_ticket_secret_env, its tickets opened by none of the others, nor theirs by it). */
static void count_handshake(const sluice_tls_handshake_t *h)
{
    if (self == NULL)
        return;
    sluice_gw_metrics_t *m = &self->metrics;
    sluice_counter_add(&m->tls_handshakes[h->version == TLS1_3_VERSION][h->resumed != 0], 1);
    if (h->ticket == SLUICE_TLS_TICKET_UNKNOWN_KEY)
        sluice_counter_add(&m->tls_tickets_refused[0], 1);
    else if (h->ticket == SLUICE_TLS_TICKET_OPENED && !h->resumed)
        sluice_counter_add(&m->tls_tickets_refused[1], 1);
}

/* http2: offer h2 by ALPN (the start's server.https.http2; a reload keeps it). tickets: the
 * gateway's session-ticket keys (NULL for a context made only to check the files). refuse:
 * TLS_REFUSE_* bits (tls_refusals; 0 at start), what is refused rather than logged. *not_after,
 * when not NULL, gets the certificate's end of validity (Unix seconds; 0 when it does not read). */
static SSL_CTX *tls_create(const sluice_server_config_t *sc, int http2, sluice_tls_tickets_t *tickets, int refuse,
                           int64_t *not_after, sluice_err_t *err)
{
    SSL_CTX *ssl = SSL_CTX_new(TLS_server_method());
    if (ssl == NULL) {
        sluice_err_set(err, "TLS: cannot create a context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ssl, TLS1_2_VERSION);
    SSL_CTX_set_options(ssl, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    /* A keep-alive connection between requests holds no record buffers (about 34 KB each): with
     * a site's visitors' thousand idle connections that was most of the gateway's memory. */
    SSL_CTX_set_mode(ssl, SSL_MODE_RELEASE_BUFFERS);
    /* TLS 1.3: the three suites of DESIGN.md; TLS 1.2: forward-secret AEAD suites only. */
    if (SSL_CTX_set_ciphersuites(ssl, "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256") !=
            1 ||
        SSL_CTX_set_cipher_list(ssl, "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                                     "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
                                     "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256") != 1) {
        sluice_err_set(err, "TLS: cipher configuration refused by OpenSSL");
        SSL_CTX_free(ssl);
        return NULL;
    }
    char why[300];
    if (SSL_CTX_use_certificate_chain_file(ssl, sc->tls_cert) != 1) {
        sluice_err_set(err, "TLS certificate %s: %s", sc->tls_cert, sluice_tls_error_text(why, sizeof(why)));
        SSL_CTX_free(ssl);
        return NULL;
    }
    /* Before the key is read: a key with a passphrase (a renewal gone wrong) is refused, where
     * OpenSSL's prompt left the main thread waiting on stdin for good. */
    sluice_tls_refuse_passphrase(ssl);
    if (SSL_CTX_use_PrivateKey_file(ssl, sc->tls_key, SSL_FILETYPE_PEM) != 1) {
        sluice_err_set(err, "TLS key %s is not a PEM private key without a passphrase: %s", sc->tls_key,
                       sluice_tls_error_text(why, sizeof(why)));
        SSL_CTX_free(ssl);
        return NULL;
    }
    if (SSL_CTX_check_private_key(ssl) != 1) {
        sluice_err_set(err, "TLS key %s: %s", sc->tls_key, sluice_tls_error_text(why, sizeof(why)));
        SSL_CTX_free(ssl);
        return NULL;
    }
    unsigned mode;
    if (sluice_tls_key_exposed(sc->tls_key, &mode))
        sluice_log_warn("tls.key_readable",
                        "TLS key %s is readable by every user of this machine (mode %04o): chmod o-r it", sc->tls_key,
                        mode);
    int64_t end;
    if ((tickets != NULL && sluice_tls_tickets_attach(tickets, ssl, err) != 0) ||
        tls_check_dates(ssl, sc->tls_cert, (refuse & TLS_REFUSE_EXPIRED) != 0, &end, err) != 0 ||
        tls_check_chain(ssl, sc->tls_cert, (refuse & TLS_REFUSE_CHAIN) != 0, err) != 0) {
        SSL_CTX_free(ssl);
        return NULL;
    }
    if (not_after != NULL)
        *not_after = end;
    h2o_ssl_register_alpn_protocols(ssl, http2 ? h2o_alpn_protocols : alpn_http1);
    return ssl;
}

static void tls_free(void *ctx)
{
    SSL_CTX_free(ctx);
}

/* ------------------------------------------------------------------ workers */

typedef struct worker_start {
    sluice_worker_t *w;
    sem_t *started;
    int *failed;
} worker_start_t;

static int drained(sluice_worker_t *w)
{
    return w->in_flight == 0 && sluice_producer_queue_len(w->producer) == 0;
}

/* The context's timeouts and the worker's own: all empty once nothing is pending on the loop. */
static int timeouts_idle(sluice_worker_t *w)
{
    h2o_context_t *c = &w->ctx;
    h2o_timeout_t *all[] = {&c->zero_timeout,
                            &c->one_sec_timeout,
                            &c->hundred_ms_timeout,
                            &c->handshake_timeout,
                            &c->http1.req_timeout,
                            &c->http2.idle_timeout,
                            &c->http2.graceful_shutdown_timeout,
                            &c->proxy.io_timeout,
                            &w->ack_timeout,
                            &w->pii_flush};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        if (!h2o_linklist_is_empty(&all[i]->_entries))
            return 0;
    }
    return 1;
}

/* Ends the connections still open (idle keep-alive clients: h2o 2.2.5 keeps them until their
 * timeout and has no call to close them): shutting a socket down makes h2o read end-of-file and
 * close that connection itself. Then, once nothing is pending on the loop, disposes the context
 * and destroys the loop (the producer and the Redis client have disposed their timers). What
 * h2o 2.2.5 itself never frees is listed in tests/lsan.supp. */
static void worker_dispose(sluice_worker_t *w)
{
    sluice_conn_shutdown_all(&w->guard);
    uint64_t deadline = (uint64_t)sluice_mono_ms() + 2000;
    for (;;) {
        if (h2o_linklist_is_empty(&w->guard.conns) && h2o_timeout_is_linked(&w->ctx.http2._graceful_shutdown_timeout))
            h2o_timeout_unlink(&w->ctx.http2._graceful_shutdown_timeout); /* its GOAWAY resends have no one left */
        if ((h2o_linklist_is_empty(&w->guard.conns) && timeouts_idle(w)) || (uint64_t)sluice_mono_ms() >= deadline)
            break;
        h2o_evloop_run(w->ctx.loop, 10);
    }
    if (!h2o_linklist_is_empty(&w->guard.conns) || !timeouts_idle(w)) {
        /* Disposing now would free what live connections use: leave it to the process exit. */
        sluice_log_warn("gateway.stop", "worker %u: connections or timers still active at exit; not freed", w->index);
        return;
    }
    sluice_conn_guard_dispose(&w->guard);
    sluice_ingest_pool_drain(w);
    if (h2o_timeout_is_linked(&w->accept_resume_entry))
        h2o_timeout_unlink(&w->accept_resume_entry);
    h2o_timeout_dispose(w->ctx.loop, &w->accept_resume);
    sluice_client_limits_destroy(w->clients);
    w->clients = NULL;
    h2o_timeout_dispose(w->ctx.loop, &w->ack_timeout);
    h2o_timeout_dispose(w->ctx.loop, &w->pii_flush);
    h2o_multithread_unregister_receiver(w->ctx.queue, &w->control);
    h2o_context_dispose(&w->ctx);
    h2o_evloop_destroy(w->ctx.loop); /* also frees the sockets closed since the last run */
    w->ctx.loop = NULL;
}

static void *worker_main(void *arg)
{
    worker_start_t *ws = arg;
    sluice_worker_t *w = ws->w;
    sluice_gateway_t *gw = w->gw;
    self = w;
    sluice_err_t err = {{0}};
    /* `top -H` and a test's tools tell the loop threads from librdkafka's. */
    char name[16];
    snprintf(name, sizeof(name), "sluice-loop-%u", w->index % 1000);
    pthread_setname_np(pthread_self(), name);

    h2o_context_init(&w->ctx, h2o_evloop_create(), &gw->h2o);
    h2o_multithread_register_receiver(w->ctx.queue, &w->control, on_control);
    h2o_timeout_init(w->ctx.loop, &w->ack_timeout, w->rt->cfg->kafka.ack_timeout_ms);
    h2o_timeout_init(w->ctx.loop, &w->accept_resume, ACCEPT_PAUSE_MS);
    w->accept_resume_entry.cb = on_accept_resume;
    h2o_timeout_init(w->ctx.loop, &w->pii_flush, PII_FLUSH_MS);
    w->pii_flush_entry.cb = on_pii_flush;
    sluice_conn_guard_init(&w->guard, &w->ctx, gw->conns, &w->metrics);
    apply_guard_limits(w);
    w->clients = sluice_client_limits_create(CLIENT_BUCKETS_PER_THREAD);
    w->pii = sluice_piiguard_thread_create();
    if (w->clients == NULL || w->pii == NULL)
        sluice_err_set(&err, "out of memory for the per-client rate limits or the PII guard");
    else
        w->producer = sluice_producer_create(&w->rt->cfg->kafka, w->ctx.loop, sluice_ingest_on_delivery, &err);
    if (w->producer != NULL)
        w->identity =
            sluice_identity_thread_create(w->rt->cfg, w->ctx.loop, sluice_secrets_identity(gw->secrets), &err);
    if (w->producer == NULL || w->identity == NULL) {
        sluice_log_error("gateway.start", "worker %u: %s", w->index, err.msg);
        sluice_producer_destroy(w->producer, 0);
        w->producer = NULL;
        worker_dispose(w);
        *ws->failed = 1;
        sem_post(ws->started);
        return NULL;
    }
    for (int i = 0; i < SLUICE_LISTENER_COUNT; i++) {
        if (w->listen_fd[i] < 0)
            continue;
        w->accept[i].ctx = &w->ctx;
        w->accept[i].hosts = i == SLUICE_LISTENER_METRICS ? gw->h2o_ops.hosts : gw->h2o.hosts;
        w->accept[i].ssl_ctx = i == SLUICE_LISTENER_HTTPS ? gw->ssl : NULL;
        w->listen_sock[i] = h2o_evloop_socket_create(w->ctx.loop, w->listen_fd[i], H2O_SOCKET_FLAG_DONT_READ);
        w->listen_sock[i]->data = &w->accept[i];
        h2o_socket_read_start(w->listen_sock[i], on_accept);
    }
    h2o_timeout_link(w->ctx.loop, &w->pii_flush, &w->pii_flush_entry);
    atomic_store_explicit(&w->shown_identity, w->identity, memory_order_release);
    atomic_store_explicit(&w->shown_producer, w->producer, memory_order_release);
    w->running = 1;
    sem_post(ws->started);

    while (!(w->stopping && (drained(w) || (uint64_t)sluice_mono_ms() >= w->drain_deadline_ms)))
        h2o_evloop_run(w->ctx.loop, w->stopping ? 50 : INT32_MAX);

    if (!drained(w))
        sluice_log_warn("gateway.drain", "worker %u: drain timeout with %zu requests in flight", w->index,
                        w->in_flight);
    /* Closed, not freed: another worker still draining may be serving a scrape that reads it
     * (gateway_free frees it). w->producer stays: a request still read here gets a 503 from it. */
    sluice_producer_close(w->producer, 2000);
    if (h2o_timeout_is_linked(&w->pii_flush_entry))
        h2o_timeout_unlink(&w->pii_flush_entry);
    /* The last findings, answered before the Redis client closes (bounded: Redis may be gone). */
    sluice_piiguard_thread_flush(w->pii, w->identity->redis, w->identity->prefix);
    for (uint64_t until = (uint64_t)sluice_mono_ms() + 500;
         sluice_piiguard_thread_pending(w->pii) > 0 && (uint64_t)sluice_mono_ms() < until;)
        h2o_evloop_run(w->ctx.loop, 10);
    sluice_identity_thread_close(w->identity);
    w->identity = NULL;
    worker_dispose(w);
    return NULL;
}

/* ------------------------------------------------------------------ config */

/* 1 when msg says a variable the config names is missing from the environment. */
static int env_missing(const char *msg)
{
    return strstr(msg, "environment variable") != NULL &&
           (strstr(msg, " is not set") != NULL || strstr(msg, " is empty") != NULL);
}

/* Loads the config file; reloading: on SIGHUP, where a missing variable gets a word on why. */
static sluice_config_t *load_config(const char *path, int reloading, sluice_err_t *err)
{
    sluice_config_diag_t diag;
    sluice_config_diag_init(&diag);
    sluice_config_t *cfg = sluice_config_load(path, SLUICE_CONFIG_RESOLVE_SECRETS, &diag);
    for (size_t i = 0; i < diag.warning_count; i++)
        sluice_log_warn("config.warning", "%s", diag.warnings[i]);
    if (cfg == NULL) {
        int env = 0;
        for (size_t i = 0; i < diag.count; i++) {
            sluice_log_error("config.error", "%s", diag.msgs[i]);
            env |= env_missing(diag.msgs[i]);
        }
        /* An operator who has just exported the variable and sent SIGHUP would otherwise read
         * that it is not set, and look for a typo. */
        const char *why = reloading && env ? " (the gateway keeps the environment it was started with: a variable "
                                             "exported or changed since, in a shell, a unit file or a Kubernetes "
                                             "Secret, needs a restart)"
                                           : "";
        sluice_err_set(err, "%s: %zu error%s in the config%s%s%s", path, diag.count, diag.count == 1 ? "" : "s",
                       diag.count ? "; first: " : "", diag.count ? diag.msgs[0] : "", why);
    }
    sluice_config_diag_dispose(&diag);
    return cfg;
}

static int same_listen(const sluice_listen_t *a, const sluice_listen_t *b)
{
    return a->enabled == b->enabled && a->port == b->port && strcmp(a->host, b->host) == 0;
}

static int same_str(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static int same_properties(const sluice_kafka_config_t *a, const sluice_kafka_config_t *b)
{
    if (a->property_count != b->property_count)
        return 0;
    for (size_t i = 0; i < a->property_count; i++)
        if (!same_str(a->properties[i].key, b->properties[i].key) ||
            !same_str(a->properties[i].value, b->properties[i].value))
            return 0;
    return 1;
}

/* Settings that only take effect at start-up: say so, naming every one that changed, instead of
 * pretending (the producers, the TLS context, h2o's own timers and body cap, the connection
 * table and the suppression list's refresher are made once). */
static void warn_restart_only(const sluice_config_t *old, const sluice_config_t *new)
{
    const sluice_server_config_t *o = &old->server, *n = &new->server;
    const sluice_kafka_config_t *ok = &old->kafka, *nk = &new->kafka;
    const struct {
        int changed;
        const char *what;
    } all[] = {
        {!same_listen(&o->https, &n->https) || !same_listen(&o->http, &n->http) ||
             !same_listen(&o->metrics, &n->metrics),
         "listeners"},
        {o->http2 != n->http2, "server.https.http2"},
        /* The secret is read at start and then wiped from the environment (gateway/secrets.c). */
        {!same_str(o->ticket_secret_env, n->ticket_secret_env), "server.https.session_ticket_secret_env"},
        {!same_str(o->ticket_previous_secret_env, n->ticket_previous_secret_env),
         "server.https.session_ticket_previous_secret_env"},
        {o->threads != n->threads, "server.threads"},
        {o->max_connections != n->max_connections, "server.max_connections"},
        /* h2o's HTTP/1.1 timer keeps the start's value (the HTTP/2 sweep takes the new one). */
        {o->request_timeout_ms != n->request_timeout_ms, "server.request_timeout_ms"},
        /* Lowered, it applies (the handler checks it); raised, h2o's own cap stays. */
        {new->limits.max_wire_bytes > old->limits.max_wire_bytes, "limits.max_wire_bytes (raised)"},
        {!same_str(ok->brokers, nk->brokers) || !same_str(ok->sasl_password_env, nk->sasl_password_env) ||
             !same_str(ok->ssl_key_password_env, nk->ssl_key_password_env) ||
             !same_str(ok->oauthbearer_client_secret_env, nk->oauthbearer_client_secret_env),
         "kafka connection settings"},
        {ok->ack_timeout_ms != nk->ack_timeout_ms, "kafka.ack_timeout_ms"},
        {ok->queue_max_messages != nk->queue_max_messages, "kafka.queue_max_messages"},
        {!same_properties(ok, nk), "kafka.properties"},
        {!same_str(old->redis.url, new->redis.url) || !same_str(old->redis.username, new->redis.username) ||
             !same_str(old->redis.password_env, new->redis.password_env) ||
             !same_str(old->redis.key_prefix, new->redis.key_prefix) || old->redis.timeout_ms != new->redis.timeout_ms,
         "redis settings"},
        {old->forget.refresh_ms != new->forget.refresh_ms, "forget.refresh_ms"},
    };
    char list[512] = "";
    size_t used = 0;
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        if (all[i].changed && used < sizeof(list))
            used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s", used ? ", " : "", all[i].what);
    }
    if (used > 0)
        sluice_log_warn("config.reload",
                        "changed, but read only at start: %s; they take effect at the next restart, "
                        "the rest is reloaded",
                        list);
}

/* How long a reload waits for every loop thread to take its new runtime before saying so anyway. */
#define RELOAD_SWAP_WAIT_MS 5000

/* Waits (on the main thread, which only waits for signals) until every loop thread serves
 * generation gen, at most RELOAD_SWAP_WAIT_MS. Returns how many did not in that time. */
static unsigned await_runtime_swap(sluice_gateway_t *gw, uint64_t gen)
{
    int64_t until = sluice_mono_ms() + RELOAD_SWAP_WAIT_MS;
    for (;;) {
        unsigned late = 0;
        for (unsigned i = 0; i < gw->nthreads; i++)
            late += atomic_load(&gw->workers[i].rt_generation) < gen;
        if (late == 0 || sluice_mono_ms() >= until)
            return late;
        struct timespec ts = {0, 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

static void reload(sluice_gateway_t *gw)
{
    sluice_err_t err = {{0}};
    sluice_config_t *cfg = load_config(gw->config_path, 1, &err);
    /* The keys are read once, at the start (ENCRYPTION_KEY is then wiped from the environment):
     * a config that needs them now, where the start had none, would serve without session
     * cookies or cross-domain tokens. */
    if (cfg != NULL && sluice_secrets_session(gw->secrets) == NULL &&
        (sluice_identity_needs_keys(cfg) || sluice_enrichment_needs_keys(cfg))) {
        sluice_err_set(&err,
                       "the new config needs ENCRYPTION_KEY (%s), which was not set when the gateway started: "
                       "restart it with the key",
                       sluice_enrichment_needs_keys(cfg) ? "enrichment.session signs its cookie"
                                                         : "identity.cross_domain seals its tokens");
        sluice_config_free(cfg);
        cfg = NULL;
    }
    /* The HTTPS listener's certificate and key are read again (a renewal keeps their paths), before
     * the runtime is built (building it points the database watcher at the new config): a context
     * of the new runtime's, or, when the new config has HTTPS off (that takes a restart), the one
     * in use. */
    SSL_CTX *tls = NULL;
    int64_t not_after = atomic_load(&gw->tls_not_after);
    if (cfg != NULL && gw->ssl != NULL) {
        if (cfg->server.https.enabled) {
            const SSL_CTX *serving = gw->current->tls != NULL ? gw->current->tls : gw->ssl;
            tls = tls_create(&cfg->server, gw->http2, gw->tickets, tls_refusals(serving), &not_after, &err);
        } else {
            tls = gw->current->tls != NULL ? gw->current->tls : gw->ssl;
            SSL_CTX_up_ref(tls);
        }
        if (tls == NULL) {
            sluice_config_free(cfg);
            cfg = NULL;
        }
    } else if (cfg != NULL && cfg->server.https.enabled) {
        /* HTTPS off at start: its listener waits for a restart (warn_restart_only says so), but
         * its certificate and key are checked now, as for a gateway serving HTTPS. Unchecked, a
         * reload naming a missing or wrong pair said "config reloaded", and the restart meant to
         * turn HTTPS on then failed to start the gateway at all. */
        SSL_CTX *probe = tls_create(&cfg->server, cfg->server.http2, NULL, tls_refusals(NULL), NULL, &err);
        if (probe == NULL) {
            sluice_config_free(cfg);
            cfg = NULL;
        }
        SSL_CTX_free(probe);
    }
    sluice_runtime_t *rt = cfg ? sluice_runtime_create(cfg, gw->nthreads, sluice_secrets_encrypt(gw->secrets),
                                                       gw->limiter, gw->plugin_tally, gw->current, &err)
                               : NULL;
    if (rt != NULL && tls != NULL) {
        rt->tls = tls;
        rt->tls_free = tls_free;
    } else if (tls != NULL) {
        SSL_CTX_free(tls);
    }
    if (rt == NULL) {
        atomic_fetch_add(&gw->reloads_failed, 1);
        atomic_store(&gw->last_reload_ok, 0);
        sluice_log_error("config.reload", "reload refused, still serving the previous config: %s", err.msg);
        return;
    }
    warn_restart_only(gw->current->cfg, rt->cfg);
    sluice_log_level_t level;
    if (rt->cfg->log_level != NULL && sluice_log_level_parse(rt->cfg->log_level, &level) == 0)
        sluice_log_set_level(level);
    for (unsigned i = 0; i < gw->nthreads; i++)
        send_ctl(&gw->workers[i], CTL_RUNTIME, sluice_runtime_acquire(rt));
    sluice_runtime_release(gw->current);
    gw->current = rt;
    /* "config reloaded" is what a renewal hook (certbot's --deploy-hook, cert-manager's) waits for
     * before checking the certificate: it is said once every loop thread has taken the new runtime
     * and its TLS context. Said when the messages were sent, a loop thread still busy (a loaded
     * machine) handed its next connections the old certificate after the line. */
    unsigned late = await_runtime_swap(gw, rt->generation);
    if (late > 0)
        sluice_log_warn("config.reload",
                        "%u of %u loop threads had not taken generation %llu after %d ms (busy or stuck?): "
                        "they serve the previous config and certificate until they do",
                        late, gw->nthreads, (unsigned long long)rt->generation, RELOAD_SWAP_WAIT_MS);
    atomic_store(&gw->generation, rt->generation);
    atomic_store(&gw->config_loaded_ms, sluice_now_ms());
    atomic_store(&gw->last_reload_ok, 1);
    atomic_store(&gw->tls_not_after, not_after);
    atomic_fetch_add(&gw->reloads_ok, 1);
    sluice_log_info("config.reload", "config reloaded (generation %llu)", (unsigned long long)rt->generation);
}

/* ------------------------------------------------------------------ run */

/* Stops the threads started (a thread that failed to start has already ended: no message to it). */
static void shutdown_workers(sluice_gateway_t *gw, unsigned started)
{
    for (unsigned i = 0; i < started; i++) {
        if (gw->workers[i].running)
            send_ctl(&gw->workers[i], CTL_STOP, NULL);
    }
    for (unsigned i = 0; i < started; i++)
        pthread_join(gw->workers[i].thread, NULL);
}

/* Everything sluice_gateway_run built, once no worker runs (NULL and half-built are fine). The
 * order matters: contexts are gone (worker_dispose), then the runtimes the workers held, then
 * the h2o configs those contexts pointed into. */
static void gateway_free(sluice_gateway_t *gw, int h2o_configured)
{
    if (gw == NULL)
        return;
    for (unsigned t = 0; gw->workers != NULL && t < gw->nthreads; t++) {
        sluice_worker_t *w = &gw->workers[t];
        sluice_piiguard_thread_destroy(w->pii);
        w->pii = NULL;
        sluice_producer_destroy(atomic_load(&w->shown_producer), 0); /* closed by the worker */
        sluice_identity_thread_destroy(atomic_load(&w->shown_identity));
        sluice_runtime_release(w->rt);
        for (int i = 0; i < SLUICE_LISTENER_COUNT; i++) {
            if (w->listen_sock[i] == NULL && w->listen_fd[i] >= 0)
                close(w->listen_fd[i]); /* opened, but its worker never took it over */
        }
    }
    free(gw->workers);
    sluice_runtime_release(gw->current);
    if (h2o_configured) {
        h2o_config_dispose(&gw->h2o);
        h2o_config_dispose(&gw->h2o_ops);
    }
    if (gw->ssl != NULL)
        SSL_CTX_free(gw->ssl);
    sluice_tls_tickets_destroy(gw->tickets); /* after every context that used them */
    sluice_secrets_free(gw->secrets);
    sluice_limiter_destroy(gw->limiter);
    sluice_plugin_tally_destroy(gw->plugin_tally);
    sluice_conn_table_destroy(gw->conns);
    sluice_live_destroy(gw->live);
    sluice_forgotten_destroy(gw->forgotten);
    free(gw->config_path);
    free(gw);
}

/* "127.0.0.1:8443" or "off", for the start-up log line. */
static void describe_listen(const sluice_listen_t *l, char *out, size_t cap)
{
    if (l->enabled)
        snprintf(out, cap, "%s:%u", l->host, l->port);
    else
        snprintf(out, cap, "off");
}

/* 1 when a listener on host can be reached from beyond this machine and a private network: on
 * every interface (0.0.0.0, ::) or a public numeric address. A host name is taken at its word. */
static int listen_exposed(const char *host)
{
    unsigned char a[16];
    if (host[0] == '\0')
        return 1;
    if (inet_pton(AF_INET, host, a) == 1)
        return !(a[0] == 127 || a[0] == 10 || (a[0] == 172 && (a[1] & 0xf0) == 16) || (a[0] == 192 && a[1] == 168) ||
                 (a[0] == 100 && (a[1] & 0xc0) == 64) || (a[0] == 169 && a[1] == 254));
    if (inet_pton(AF_INET6, host, a) == 1) {
        static const unsigned char loopback[16] = {[15] = 1};
        return !(memcmp(a, loopback, 16) == 0 || (a[0] & 0xfe) == 0xfc || (a[0] == 0xfe && (a[1] & 0xc0) == 0x80));
    }
    return 0;
}

/* File descriptors the gateway keeps for itself besides client connections: listeners, the Kafka
 * producers' broker connections and wake-up pipes, Redis, plugins, logs, per thread and overall;
 * and the metrics listener's connections (SLUICE_CONN_OPS_MAX). */
#define FD_RESERVE_BASE       128
#define FD_RESERVE_PER_THREAD 64

/* Raises the soft RLIMIT_NOFILE to the hard limit (an inherited 1024 is no limit for a server)
 * and returns the connection cap: server.max_connections, or all descriptors but a reserve,
 * whichever is lower, so accept(2) never fails for want of descriptors. */
static unsigned connection_cap(const sluice_config_t *cfg, unsigned nthreads)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        rl.rlim_cur = rl.rlim_max = 1024;
    if (rl.rlim_cur < rl.rlim_max) {
        struct rlimit want = {rl.rlim_max, rl.rlim_max};
        if (want.rlim_cur == RLIM_INFINITY || setrlimit(RLIMIT_NOFILE, &want) != 0) {
            want.rlim_cur = want.rlim_max = 1048576; /* the kernel's default nr_open */
            if (setrlimit(RLIMIT_NOFILE, &want) != 0)
                want = rl;
        }
        rl = want;
    }
    rlim_t reserve = FD_RESERVE_BASE + SLUICE_CONN_OPS_MAX + (rlim_t)FD_RESERVE_PER_THREAD * nthreads;
    rlim_t avail = rl.rlim_cur > reserve + 16 ? rl.rlim_cur - reserve : 16;
    if (avail > 10000000)
        avail = 10000000;
    unsigned cap = (unsigned)avail;
    if (cfg->server.max_connections > 0 && cfg->server.max_connections <= cap)
        cap = cfg->server.max_connections;
    else if (cfg->server.max_connections > cap)
        sluice_log_warn("gateway.limits",
                        "server.max_connections %u is above what RLIMIT_NOFILE %llu leaves for clients: %u used",
                        cfg->server.max_connections, (unsigned long long)rl.rlim_cur, cap);
    sluice_log_info("gateway.limits", "at most %u client connections (%u per address); RLIMIT_NOFILE %llu", cap,
                    cfg->server.max_connections_per_ip, (unsigned long long)rl.rlim_cur);
    return cap;
}

/* server.threads 0: one event loop per CPU this process may use. sysconf counts every CPU of the
 * machine; a process pinned to fewer (taskset, a container's cpuset) or held to a CPU quota
 * (docker --cpus, Kubernetes' limits.cpu) would run loops that take turns and are throttled, each
 * with its own Kafka producer and descriptor reserve. */
static unsigned thread_count(const sluice_config_t *cfg)
{
    if (cfg->server.threads > 0)
        return cfg->server.threads;
    sluice_cpus_limit_t why;
    unsigned n = sluice_cpus_usable(&why);
    static const char *const whys[] = {[SLUICE_CPUS_MACHINE] = "the machine's CPUs",
                                       [SLUICE_CPUS_AFFINITY] = "the CPUs this process may run on",
                                       [SLUICE_CPUS_QUOTA] = "the cgroup's CPU quota, rounded up"};
    sluice_log_info("gateway.threads", "server.threads 0: %u event loops, %s", n, whys[why]);
    return n;
}

static int open_all_listeners(sluice_gateway_t *gw, const sluice_config_t *cfg, sluice_err_t *err)
{
    const sluice_listen_t *ls[SLUICE_LISTENER_COUNT] = {&cfg->server.https, &cfg->server.http, &cfg->server.metrics};
    static const char *const names[SLUICE_LISTENER_COUNT] = {"https", "http", "metrics"};
    for (unsigned t = 0; t < gw->nthreads; t++)
        for (int i = 0; i < SLUICE_LISTENER_COUNT; i++) {
            gw->workers[t].listen_fd[i] = -1;
            if (!ls[i]->enabled)
                continue;
            int fd = open_listener(ls[i], names[i], err);
            if (fd < 0)
                return -1;
            gw->workers[t].listen_fd[i] = fd;
        }
    return 0;
}

int sluice_gateway_run(const char *config_path, sluice_err_t *err)
{
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* Off the area /proc/<pid>/environ shows, before anything reads a key (secretenv.h). */
    if (sluice_secretenv_detach() != 0)
        return sluice_err_set(err, "out of memory"), 1;

    sluice_gateway_t *gw = calloc(1, sizeof(*gw));
    if (gw == NULL || (gw->config_path = strdup(config_path)) == NULL) {
        free(gw);
        return sluice_err_set(err, "out of memory"), 1;
    }
    gw->started_ms = sluice_now_ms();

    sluice_config_t *cfg = load_config(config_path, 0, err);
    if (cfg == NULL) {
        gateway_free(gw, 0);
        return 1;
    }
    sluice_log_level_t level;
    if (cfg->log_level != NULL && sluice_log_level_parse(cfg->log_level, &level) == 0)
        sluice_log_set_level(level);
    /* Only the gateway's own purposes are derived; the key variables then leave the process. */
    if ((gw->secrets = sluice_secrets_load(cfg, sluice_now_ms(), err)) == NULL) {
        sluice_config_free(cfg);
        gateway_free(gw, 0);
        return 1;
    }
    if (!cfg->server.https.enabled && !cfg->server.http.enabled) {
        sluice_config_free(cfg);
        gateway_free(gw, 0);
        return sluice_err_set(err, "no listener: set server.https.listen or server.http.listen"), 1;
    }
    gw->nthreads = thread_count(cfg);
    gw->limiter = sluice_limiter_create(gw->nthreads);
    gw->plugin_tally = sluice_plugin_tally_create();
    gw->conns = sluice_conn_table_create(connection_cap(cfg, gw->nthreads));
    if (gw->limiter == NULL || gw->plugin_tally == NULL || gw->conns == NULL) {
        sluice_config_free(cfg);
        gateway_free(gw, 0);
        return sluice_err_set(err, "out of memory"), 1;
    }
    if (sluice_live_from_env(gw->nthreads, &gw->live, err) != 0) {
        sluice_config_free(cfg);
        gateway_free(gw, 0);
        return 1;
    }
    const sluice_listen_t *mine[] = {&cfg->server.https, &cfg->server.http, &cfg->server.metrics};
    for (size_t i = 0; i < sizeof(mine) / sizeof(mine[0]); i++) {
        if (mine[i]->enabled && address_taken(mine[i])) {
            sluice_err_set(err, "%s:%u is already in use by another process (is another gateway running?)",
                           mine[i]->host, mine[i]->port);
            sluice_config_free(cfg);
            gateway_free(gw, 0);
            return 1;
        }
    }
    if (!cfg->redis.url) {
        for (size_t o = 0; o < cfg->org_count; o++)
            for (size_t i = 0; i < cfg->orgs[o].source_count; i++)
                if (cfg->orgs[o].sources[i].kind == SLUICE_SOURCE_SERVER)
                    sluice_log_warn("gateway.replay",
                                    "%s/%s: no redis.url, so signed requests are not remembered "
                                    "and can be replayed within their 5-minute window",
                                    cfg->orgs[o].id, cfg->orgs[o].sources[i].id);
    }

    h2o_config_init(&gw->h2o);
    /* No h2c: neither Upgrade on plain HTTP nor an HTTP/2 preface on a connection that ALPN made
     * HTTP/1.1 (h2o 2.2.5 accepts both by default). HTTP/2 is only what ALPN offers. */
    gw->h2o.http1.upgrade_to_http2 = 0;
    /* h2o's request timer is a total deadline for the head and body of a request (and the idle
     * time between requests); HTTP/2 requests get the same deadline from the sweep (conn.c). */
    gw->h2o.http1.req_timeout = cfg->server.request_timeout_ms;
    /* A TLS handshake begun and left half done is a slow client too: it holds its connection for
     * the same time as a request's head, not h2o's default of 10 s. */
    gw->h2o.handshake_timeout = cfg->server.request_timeout_ms;
    /* Bodies a little over the limit are read whole and get the handler's JSON 413; beyond the
     * slack h2o answers 413 itself and may close the connection before reading it all. */
    gw->h2o.max_request_entity_size = cfg->limits.max_wire_bytes + 65536;
    gw->h2o.server_name = h2o_iovec_init(H2O_STRLIT("sluice"));
    h2o_hostconf_t *host = h2o_config_register_host(&gw->h2o, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    sluice_handler_register(h2o_config_register_path(host, "/", 0), gw);
    sluice_handler_register_error_filter(host);
    h2o_config_init(&gw->h2o_ops);
    gw->h2o_ops.server_name = gw->h2o.server_name;
    gw->h2o_ops.http1.upgrade_to_http2 = 0;
    gw->h2o_ops.http1.req_timeout = cfg->server.request_timeout_ms;
    h2o_hostconf_t *ops = h2o_config_register_host(&gw->h2o_ops, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    sluice_handler_register_ops(h2o_config_register_path(ops, "/", 0), gw);
    sluice_handler_register_error_filter(ops);

    gw->http2 = cfg->server.http2;
    int64_t not_after = 0;
    /* Session-ticket keys encrypt for an hour and decrypt for one more (crypto/tls.h): a stolen
     * random key opens at most two hours of resumed sessions, and clients resume across reloads;
     * keys derived from the fleet's secret also across gateways and restarts. */
    if (cfg->server.https.enabled) {
        gw->tickets = sluice_secrets_take_tickets(gw->secrets);
        if (gw->tickets == NULL)
            gw->tickets = sluice_tls_tickets_create(SLUICE_TLS_TICKET_PERIOD_S, err);
        if (gw->tickets != NULL)
            sluice_tls_tickets_on_handshake(gw->tickets, count_handshake);
        if (gw->tickets == NULL ||
            (gw->ssl = tls_create(&cfg->server, cfg->server.http2, gw->tickets, 0, &not_after, err)) == NULL) {
            sluice_config_free(cfg);
            gateway_free(gw, 1);
            return 1;
        }
        sluice_log_info("tls.tickets", "TLS session tickets: %s, a new key every %d s",
                        sluice_tls_tickets_shared(gw->tickets)
                            ? "keys derived from server.https.session_ticket_secret_env, the same on every gateway "
                              "given that secret (sessions resume across the fleet and restarts)"
                            : "keys random to this process (sessions resume on this gateway only, until it stops)",
                        SLUICE_TLS_TICKET_PERIOD_S);
    }

    /* The runtime owns cfg from here, also when it fails. */
    gw->current = sluice_runtime_create(cfg, gw->nthreads, sluice_secrets_encrypt(gw->secrets), gw->limiter,
                                        gw->plugin_tally, NULL, err);
    if (gw->current == NULL) {
        gateway_free(gw, 1);
        return 1;
    }
    atomic_store(&gw->generation, gw->current->generation);
    atomic_store(&gw->config_loaded_ms, sluice_now_ms());
    atomic_store(&gw->last_reload_ok, 1);
    atomic_store(&gw->tls_not_after, not_after);
    /* enrichment.geo_database replaced on disk: the gateway reloads as on SIGHUP (enrichment.h). */
    if (sluice_enrichment_watch_start(err) != 0) {
        gateway_free(gw, 1);
        return 1;
    }
    /* Loaded before the first request, so a forgotten person's events are dropped from the start
     * (when Redis answers). */
    gw->forgotten = sluice_forgotten_create(gw->current->cfg, gw->nthreads,
                                            sluice_secrets_identity(gw->secrets)->redis_password, err);
    if (gw->forgotten == NULL) {
        gateway_free(gw, 1);
        return 1;
    }
    gw->workers = calloc(gw->nthreads, sizeof(*gw->workers));
    if (gw->workers == NULL) {
        gateway_free(gw, 1);
        return sluice_err_set(err, "out of memory"), 1;
    }
    for (unsigned t = 0; t < gw->nthreads; t++) {
        for (int i = 0; i < SLUICE_LISTENER_COUNT; i++)
            gw->workers[t].listen_fd[i] = -1;
    }
    if (open_all_listeners(gw, gw->current->cfg, err) != 0) {
        gateway_free(gw, 1);
        return 1;
    }

    sem_t started;
    sem_init(&started, 0, 0);
    int failed = 0;
    worker_start_t *starts = calloc(gw->nthreads, sizeof(*starts));
    unsigned running = 0;
    for (unsigned t = 0; starts != NULL && t < gw->nthreads; t++) {
        sluice_worker_t *w = &gw->workers[t];
        w->gw = gw;
        w->index = t;
        w->rt = sluice_runtime_acquire(gw->current);
        atomic_store(&w->rt_generation, w->rt->generation);
        starts[t] = (worker_start_t){w, &started, &failed};
        if (pthread_create(&w->thread, NULL, worker_main, &starts[t]) != 0) {
            failed = 1;
            break;
        }
        running++;
    }
    for (unsigned t = 0; t < running; t++)
        sem_wait(&started);
    if (starts == NULL || failed) {
        shutdown_workers(gw, running);
        free(starts);
        sem_destroy(&started);
        gateway_free(gw, 1);
        return sluice_err_set(err, "a worker failed to start (see the log)"), 1;
    }
    atomic_store(&gw->ready, 1);

    const sluice_server_config_t *sc = &gw->current->cfg->server;
    char https[80], http[80], metrics[80];
    describe_listen(&sc->https, https, sizeof(https));
    describe_listen(&sc->http, http, sizeof(http));
    describe_listen(&sc->metrics, metrics, sizeof(metrics));
    sluice_log_info("gateway.started", "%u threads; https %s; http %s; metrics %s; kafka %s", gw->nthreads, https, http,
                    metrics, gw->current->cfg->kafka.brokers);
    if (gw->live != NULL && sc->metrics.enabled) {
        sluice_log_info("live.on", "the live page is at http://%s/live (bearer token: SLUICE_LIVE_TOKEN)", metrics);
        /* The page's bearer token and the events it shows cross that listener in plain HTTP: an
         * operator who put it on every interface is told so, not left to find it in the docs. */
        const char *mhost = sc->metrics.host;
        int everywhere = mhost[0] == '\0' || strcmp(mhost, "0.0.0.0") == 0 || strcmp(mhost, "::") == 0;
        if (listen_exposed(mhost))
            sluice_log_warn("live.exposed",
                            "the live page listens on %s, %s, in plain HTTP: its bearer token and the events it "
                            "shows cross the network in clear; put server.metrics.listen on loopback or a private "
                            "address (and reach it through an SSH tunnel)",
                            metrics, everywhere ? "every interface" : "a public address");
    } else if (gw->live != NULL) {
        sluice_log_warn("live.off", "SLUICE_LIVE_TOKEN is set, but the metrics listener is off: no live page");
    }

    unsigned peak_open = 0;
    for (;;) {
        int sig;
        if (sluice_secrets_sigwait(gw->secrets, &sigs, TRIM_CHECK_MS, &sig) != 0) {
            trim_after_wave(gw, &peak_open);
            continue;
        }
        if (sig == SIGHUP) {
            reload(gw);
            continue;
        }
        sluice_log_info("gateway.stopping", "signal %d: draining in-flight requests", sig);
        break;
    }
    atomic_store(&gw->ready, 0);
    shutdown_workers(gw, running);
    free(starts);
    sem_destroy(&started);
    gateway_free(gw, 1);
    sluice_log_info("gateway.stopped", "all in-flight requests finished; bye");
    return 0;
}
