/*
 * sluice-gateway: the HTTPS ingestion front door. Main thread: arguments, logging, then
 * sluice_gateway_run (server.c), which returns when the gateway has drained and stopped.
 */
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "crypto/tls_mem.h"
#include "gateway/server.h"
#include "json/arena.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: sluice-gateway --config FILE\n"
                 "\n"
                 "Serves the ingestion endpoints over HTTPS (and plain HTTP or a metrics listener when\n"
                 "configured) and queues accepted events to Kafka.\n"
                 "\n"
                 "  --config FILE   the sluice YAML config (docs/config.md); SLUICE_* variables override it\n"
                 "  --help          this text\n"
                 "  --version       print the version\n"
                 "\n"
                 "Signals: SIGHUP reloads the config (a bad file is refused and the old one keeps serving);\n"
                 "SIGTERM or SIGINT stops accepting, finishes in-flight requests, flushes Kafka and exits 0.\n"
                 "Environment: ENCRYPTION_KEY (64 hex chars), SLUICE_KEY_ID, SLUICE_KEYRING, the write-key\n"
                 "variables the config names, and the SLUICE_* overrides listed in docs/config.md.\n");
}

int main(int argc, char **argv)
{
    const char *config = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--version") == 0) {
            printf("sluice-gateway %s\n", SLUICE_VERSION);
            return 0;
        }
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            config = argv[++i];
            continue;
        }
        fprintf(stderr, "sluice-gateway: unknown argument '%s'\n\n", argv[i]);
        usage(stderr);
        return 2;
    }
    if (config == NULL) {
        usage(stderr);
        return 2;
    }
    sluice_log_setup("gateway", SLUICE_LOG_INFO, 2);
    /* Lines go through the logger's own thread: an event loop that wrote to a stderr nobody
     * read (a stuck log shipper) stopped answering every request it held. */
    sluice_log_start();
    /* Before any thread or jansson value: request bodies are parsed into arenas (json/arena.h, json/jv.h),
     * which the event path cannot do without: without them every event would be refused. */
    if (sluice_json_arena_install() != 0) {
        sluice_log(SLUICE_LOG_ERROR, "gateway.arena", "no address range for JSON arenas: cannot parse request bodies");
        sluice_log_flush(SLUICE_LOG_EXIT_FLUSH_MS);
        fprintf(stderr, "sluice-gateway: no address range for JSON arenas (is the address space limited?)\n");
        return 1;
    }
    /* Before anything calls OpenSSL, which takes its allocator at its first allocation (neither
     * the logger nor the arenas do); after the arenas, which the gateway cannot do without, so a
     * limited address space refuses this optional region first. */
    if (sluice_tls_mem_install() != 0)
        sluice_log_warn("gateway.tls_memory", "OpenSSL's handshake buffers stay in malloc's heaps: the peak of "
                                              "memory with many connections is higher (about 10 MB per thousand)");
    sluice_err_t err = {{0}};
    int rc = sluice_gateway_run(config, &err);
    /* The log lines before this one (config.error ...) come first, also on a terminal. */
    sluice_log_flush(SLUICE_LOG_EXIT_FLUSH_MS);
    if (rc != 0)
        fprintf(stderr, "sluice-gateway: %s\n", err.msg[0] ? err.msg : "failed to start (see the log above)");
    return rc;
}
