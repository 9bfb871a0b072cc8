/*
 * sluice-deliver: the delivery worker, Kafka to vendor APIs. Main thread: arguments, the key
 * ring, the config, the vault (waiting for PostgreSQL when it is not up yet), then the worker's
 * loop on this same thread until SIGTERM/SIGINT.
 *
 * Keys: the worker derives only the vault's keys from the root ring (vault.h); it keeps the root
 * ring only while the vault still has rows an older version sealed directly under it. The key
 * variables (and the database password) leave the environment once read, also from what
 * /proc/<pid>/environ shows (crypto/secretenv.h): nothing reloads them.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "common/log.h"
#include "config/config.h"
#include "crypto/keyring.h"
#include "crypto/secretenv.h"
#include "vendors/credcache.h"
#include "vendors/vault.h"
#include "vendors/vendor.h"
#include "vendors/deliver.h"

#define VAULT_RETRY_MAX_S 15

static void usage(FILE *out)
{
    fprintf(out,
            "usage: sluice-deliver --config FILE [--vendor V]\n\n"
            "Consumes the events topic in one consumer group per vendor (sluice-deliver-<vendor>) and delivers\n"
            "every event to the org's enabled integrations, with retries and a dead-letter topic.\n\n"
            "  --config FILE   the sluice YAML config (see docs/config.md)\n"
            "  --vendor V      deliver for one vendor only (%s)\n"
            "  --help          this text\n"
            "  --version       print the version\n\n"
            "environment: ENCRYPTION_KEY (64 hex characters; opens the vault), SLUICE_KEY_ID, SLUICE_KEYRING,\n"
            "SLUICE_DATABASE_URL, SLUICE_KAFKA_BROKERS, SLUICE_LOG_LEVEL. docs/vendors.md describes delivery.\n",
            sluice_vendor_names());
}

/* Waits up to secs for SIGTERM/SIGINT (blocked in this thread). Returns 1 when one came. */
static int wait_signal(const sigset_t *set, int secs)
{
    struct timespec ts = {.tv_sec = secs, .tv_nsec = 0};
    for (;;) {
        int sig = sigtimedwait(set, NULL, &ts);
        if (sig > 0)
            return 1;
        if (errno != EINTR)
            return 0;
    }
}

int main(int argc, char **argv)
{
    const char *config_path = NULL, *vendor = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--version") == 0) {
            printf("sluice-deliver %s\n", SLUICE_VERSION);
            return 0;
        }
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            config_path = argv[++i];
        } else if (strcmp(argv[i], "--vendor") == 0 && i + 1 < argc) {
            vendor = argv[++i];
        } else {
            fprintf(stderr, "sluice-deliver: unknown or incomplete argument '%s'\n\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (config_path == NULL) {
        usage(stderr);
        return 2;
    }
    int only = -1;
    if (vendor != NULL) {
        const sluice_vendor_ops_t *ops = sluice_vendor_find(vendor);
        if (ops == NULL) {
            fprintf(stderr, "sluice-deliver: --vendor: unknown vendor '%s' (one of: %s)\n", vendor,
                    sluice_vendor_names());
            return 2;
        }
        only = (int)ops->kind;
    }

    sluice_log_setup("deliver", SLUICE_LOG_INFO, 2);
    sluice_secret_allocator_install();
    if (sluice_secretenv_detach() != 0) {
        fprintf(stderr, "sluice-deliver: out of memory\n");
        return 1;
    }

    sluice_err_t err = {{0}};
    sluice_keyring_t *kr = sluice_keyring_from_env(&err);
    sluice_secretenv_forget("ENCRYPTION_KEY");
    sluice_secretenv_forget("SLUICE_KEYRING");
    if (kr == NULL) {
        fprintf(stderr, "sluice-deliver: %s\n", err.msg);
        return 1;
    }

    /* Write keys are the gateway's business: the worker loads without resolving them. */
    sluice_config_diag_t diag;
    sluice_config_diag_init(&diag);
    sluice_config_t *cfg = sluice_config_load(config_path, 0, &diag);
    for (size_t i = 0; i < diag.count; i++)
        fprintf(stderr, "%s\n", diag.msgs[i]);
    sluice_config_diag_dispose(&diag);
    sluice_secretenv_forget("SLUICE_DATABASE_URL"); /* copied into cfg; may hold a password */
    if (cfg == NULL) {
        fprintf(stderr, "sluice-deliver: %s: the config has errors\n", config_path);
        sluice_keyring_free(kr);
        return 1;
    }
    sluice_log_level_t level;
    if (sluice_log_level_parse(cfg->log_level, &level) == 0)
        sluice_log_set_level(level);
    if (cfg->database.url == NULL) {
        fprintf(stderr,
                "sluice-deliver: no database: set database.url in %s (or SLUICE_DATABASE_URL); the "
                "vendor credentials live in the vault\n",
                config_path);
        sluice_config_free(cfg);
        sluice_keyring_free(kr);
        return 1;
    }

    /* From here lines go through the logger's own thread: the delivery loop logs, and must not
     * wait on a stderr nobody reads (common/log.h). */
    sluice_log_start();

    /* Signals are read synchronously (sigtimedwait now, a signalfd in the worker); blocking them
     * before librdkafka starts its threads makes those threads inherit the mask. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    /* SIGHUP too: its default action killed the worker like kill -9 when a reload meant for the
     * gateway reached it. Blocked, it waits (pending) for the worker's signalfd, which logs it. */
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    sigdelset(&set, SIGHUP); /* what wait_signal stops for */
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);

    char host[128] = "unknown", actor[192];
    gethostname(host, sizeof(host) - 1);
    snprintf(actor, sizeof(actor), "sluice-deliver@%s pid %ld", host, (long)getpid());

    int rc = 0, delay = 1;
    sluice_vault_t *vault = NULL;
    int vault_free = 1; /* 0: the vault reader thread still holds it at exit (vendors/vaultq.h) */
    while ((vault = sluice_vault_open(cfg->database.url, kr, actor, &err)) == NULL) {
        sluice_log_error("vault.unavailable", "%s; retrying in %d s", err.msg, delay);
        if (wait_signal(&set, delay)) {
            sluice_log_info("deliver.stopped", "stopped while waiting for the vault");
            goto out;
        }
        delay = delay * 2 > VAULT_RETRY_MAX_S ? VAULT_RETRY_MAX_S : delay * 2;
    }
    /* libpq keeps what it read from PGPASSWORD with the connection (PQreset reuses it). */
    sluice_secretenv_forget("PGPASSWORD");
    sluice_log_info("vault.ready", "vault schema version %d", SLUICE_VAULT_SCHEMA_VERSION);
    /* A worker given another key under a key id the vault uses (a new ENCRYPTION_KEY without a
     * new SLUICE_KEY_ID, a mistyped Secret) opened no credential, and sent every event of every
     * integration with one to the DLQ after its retries. Stopping here leaves them in Kafka, and
     * a rolling update with the wrong key stops at its first pod while the others deliver. */
    int keys = sluice_vault_check_keys(vault, &err);
    if (keys == SLUICE_VAULT_EDECRYPT) {
        sluice_log_error("vault.keys", "%s; not starting", err.msg);
        rc = 1;
        goto out;
    }
    if (keys != SLUICE_VAULT_OK)
        sluice_log_warn("vault.keys", "%s; starting without that check", err.msg);
    size_t legacy_rows = 0;
    if (sluice_vault_release_root(vault, &legacy_rows, &err) != 0) {
        sluice_log_warn("vault.keys", "%s; keeping the root keys", err.msg);
    } else if (legacy_rows > 0) {
        sluice_log_warn("vault.keys",
                        "%zu vault row(s) are sealed directly under a root key (an older version): this worker "
                        "keeps the root keys until `sluicectl vault rotate` re-seals them under the vault key",
                        legacy_rows);
    } else {
        sluice_keyring_free(kr); /* wiped: only the vault key is left in this process */
        kr = NULL;
    }

    /* The worker itself needs no key: the vault opens the rows. */
    sluice_deliver_t *w = sluice_deliver_create(cfg, NULL, vault, only, &err);
    if (w == NULL) {
        sluice_log_flush(SLUICE_LOG_EXIT_FLUSH_MS);
        fprintf(stderr, "sluice-deliver: %s\n", err.msg);
        rc = 1;
        goto out;
    }
    if (sluice_deliver_run(w, &err) != 0) {
        sluice_log_flush(SLUICE_LOG_EXIT_FLUSH_MS);
        fprintf(stderr, "sluice-deliver: %s\n", err.msg);
        rc = 1;
    }
    vault_free = sluice_deliver_destroy(w) == 0; /* else its reader thread still holds it (and the keys) */
out:
    if (vault_free) {
        sluice_vault_close(vault);
        sluice_keyring_free(kr);
    }
    curl_global_cleanup();
    sluice_config_free(cfg);
    return rc;
}
