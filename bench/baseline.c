/*
 * bench/baseline: the limit of this machine for the gateway benchmark. A bare h2o server built
 * from the same libh2o-evloop as sluice-gateway, with the same TLS settings and the same
 * threading (one event loop per thread, one SO_REUSEPORT socket per thread), that answers every
 * POST with 204 and does nothing else: no parsing, no Kafka.
 *
 *   baseline --listen 127.0.0.1:18443 --cert server.crt --key server.key [--threads N] [--http]
 *
 * Runs until SIGTERM/SIGINT. Main thread waits for signals; workers run their loops.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <h2o.h>
#include <openssl/ssl.h>

static h2o_globalconf_t config;
static SSL_CTX *ssl_ctx;
static struct sockaddr_in addr;
static volatile int stop;

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    (void)self;
    static h2o_generator_t gen = {NULL, NULL};
    req->res.status = 204;
    req->res.reason = "No Content";
    h2o_start_response(req, &gen);
    h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
    return 0;
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    if (err != NULL)
        return;
    h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
    if (sock != NULL)
        h2o_accept(listener->data, sock);
}

static void *worker(void *arg)
{
    (void)arg;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept = {0};
    h2o_context_init(&ctx, h2o_evloop_create(), &config);
    accept.ctx = &ctx;
    accept.hosts = config.hosts;
    accept.ssl_ctx = ssl_ctx;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), on = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)) != 0 ||
        bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(fd, SOMAXCONN) != 0) {
        fprintf(stderr, "baseline: listen: %s\n", strerror(errno));
        exit(1);
    }
    h2o_socket_t *ls = h2o_evloop_socket_create(ctx.loop, fd, H2O_SOCKET_FLAG_DONT_READ);
    ls->data = &accept;
    h2o_socket_read_start(ls, on_accept);
    while (!stop)
        h2o_evloop_run(ctx.loop, 200);
    return NULL;
}

int main(int argc, char **argv)
{
    const char *listen_at = "127.0.0.1:18443", *cert = NULL, *key = NULL;
    int threads = (int)sysconf(_SC_NPROCESSORS_ONLN), plain = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc)
            listen_at = argv[++i];
        else if (strcmp(argv[i], "--cert") == 0 && i + 1 < argc)
            cert = argv[++i];
        else if (strcmp(argv[i], "--key") == 0 && i + 1 < argc)
            key = argv[++i];
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            threads = (int)strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--http") == 0)
            plain = 1;
        else {
            fprintf(stderr, "usage: baseline --listen HOST:PORT --cert F --key F [--threads N] [--http]\n");
            return 2;
        }
    }
    const char *colon = strrchr(listen_at, ':');
    if (colon == NULL || threads < 1 || (!plain && (cert == NULL || key == NULL))) {
        fprintf(stderr, "baseline: need --listen HOST:PORT and, for TLS, --cert and --key\n");
        return 2;
    }
    char host[64];
    snprintf(host, sizeof(host), "%.*s", (int)(colon - listen_at), listen_at);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)strtol(colon + 1, NULL, 10));
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        fprintf(stderr, "baseline: %s is not an IPv4 address\n", host);
        return 2;
    }

    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    h2o_config_init(&config);
    config.max_request_entity_size = 1024 * 1024;
    h2o_hostconf_t *hc = h2o_config_register_host(&config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_create_handler(h2o_config_register_path(hc, "/", 0), sizeof(h2o_handler_t))->on_req = on_req;
    if (!plain) {
        /* The gateway's TLS settings, so the comparison is about the pipeline, not the crypto. */
        ssl_ctx = SSL_CTX_new(TLS_server_method());
        SSL_CTX_set_min_proto_version(ssl_ctx, TLS1_2_VERSION);
        SSL_CTX_set_options(ssl_ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
        SSL_CTX_set_ciphersuites(ssl_ctx, "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256");
        if (SSL_CTX_use_certificate_chain_file(ssl_ctx, cert) != 1 ||
            SSL_CTX_use_PrivateKey_file(ssl_ctx, key, SSL_FILETYPE_PEM) != 1) {
            fprintf(stderr, "baseline: cannot load %s / %s\n", cert, key);
            return 1;
        }
        h2o_ssl_register_alpn_protocols(ssl_ctx, h2o_alpn_protocols);
    }
    pthread_t *th = calloc((size_t)threads, sizeof(*th));
    for (int i = 0; i < threads; i++)
        pthread_create(&th[i], NULL, worker, NULL);
    fprintf(stderr, "baseline: %d threads on %s (%s)\n", threads, listen_at, plain ? "http" : "https");
    int sig;
    sigwait(&sigs, &sig);
    stop = 1;
    for (int i = 0; i < threads; i++)
        pthread_join(th[i], NULL);
    free(th);
    return 0;
}
