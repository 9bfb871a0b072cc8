/*
 * Keys by purpose, on the running processes: a gateway and a delivery worker started with the
 * same ENCRYPTION_KEY / SLUICE_KEYRING (as a deployment has them).
 *
 *   - /proc/<pid>/environ of both shows no key material (the kernel's view of the environment,
 *     which unsetenv alone does not change);
 *   - the gateway holds no key that opens a vault row: its memory (read through /proc/<pid>/mem)
 *     contains neither a root key nor the vault key, while it does contain its own token key (so
 *     the search is shown to find keys), and no key it holds opens the row;
 *   - the worker holds the vault key and no root key once no row needs one;
 *   - a token an older version sealed directly under the root key still redeems right after the
 *     upgrade, and is refused once such tokens have expired and the gateway wiped the root keys.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <libpq-fe.h>

#include "common/hex.h"
#include "crypto/aead.h"
#include "crypto/hkdf.h"
#include "crypto/keyring.h"
#include "identity/token.h"
#include "tests/integration/deliver_fix.h"
#include "tests/integration/gwfix.h"
#include "vendors/vault.h"

#define WRITE_KEY "wk_keys_purpose_3b"
#define SHOP      "https://shop.acme.test"
#define CHECKOUT  "https://checkout.example-pay.com"
/* DFIX_KEY2 is the primary (key id 2); DFIX_KEY1 an older key (id 1) still in SLUICE_KEYRING. */

static gwfix_t G;
static dfix_t F;
static dstub_t META;
static const char *key_env[] = {"ENCRYPTION_KEY=" DFIX_KEY2, "SLUICE_KEY_ID=2", "SLUICE_KEYRING=1:" DFIX_KEY1, NULL};

static int setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    gwfix_stack(&G);
    dfix_init(&F, G.kafka.bootstrap, G.certs, NULL, 1);
    dfix_stub(&F, &META, "meta", NULL, NULL);
    static char yaml[16384];
    snprintf(yaml, sizeof(yaml),
             "version: 1\n"
             "server:\n"
             "  https: {listen: \"127.0.0.1:%d\", cert: %s/server.crt, key: %s/server.key}\n"
             "  metrics: {listen: \"127.0.0.1:%d\"}\n"
             "  threads: 1\n"
             "kafka:\n"
             "  brokers: \"%s\"\n"
             "  properties: {session.timeout.ms: 6000, heartbeat.interval.ms: 500, fetch.wait.max.ms: 100}\n"
             "redis: {url: \"%s\"}\n"
             "database: {url: \"%s\"}\n"
             "delivery: {ca_file: %s, metrics: {listen: \"127.0.0.1:%d\"}}\n"
             "orgs:\n"
             "  - id: acme\n"
             "    sources: [{id: web, write_key_env: KP_WRITE_KEY, allowed_origins: [" SHOP ", " CHECKOUT "]}]\n"
             "    identity: {cross_domain: {domains: [shop.acme.test, checkout.example-pay.com], token_ttl_s: 4,\n"
             "                              clock_skew_s: 0}}\n"
             "    consent: {policy: allow}\n"
             "    integrations:\n"
             "      - {name: meta, vendor: meta, pixel_id: \"4242\", base_url: \"%s\", batch: {max_wait_ms: 100}}\n",
             G.https_port, G.certs, G.certs, G.metrics_port, G.kafka.bootstrap, G.redis.url, F.pg.url, F.ca,
             F.metrics_port, META.url);
    snprintf(G.config, sizeof(G.config), "%s", gwfix_write("keys.yaml", yaml));
    snprintf(F.config, sizeof(F.config), "%s", G.config);
    memcpy(F.env, key_env, sizeof(key_env));
    dfix_vault_put(&F, "meta", "meta", "{\"access_token\":\"EAAB-keys-purpose-token\"}");
    static const char *genv[] = {"KP_WRITE_KEY=" WRITE_KEY, "ENCRYPTION_KEY=" DFIX_KEY2, "SLUICE_KEY_ID=2",
                                 "SLUICE_KEYRING=1:" DFIX_KEY1, NULL};
    memcpy(G.env, genv, sizeof(genv));
    gwfix_start(&G);
    dfix_start_worker(&F, NULL, 1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sluice_th_teardown();
    curl_global_cleanup();
    return 0;
}

/* ------------------------------------------------------------------ helpers */

static sluice_keyring_t *root_ring(void)
{
    sluice_err_t err;
    sluice_keyring_t *kr = sluice_keyring_from_strings(DFIX_KEY2, "2", "1:" DFIX_KEY1, &err);
    assert_non_null(kr);
    return kr;
}

/* The 32-byte keys of every id of ring. */
static size_t keys_of(const sluice_keyring_t *ring, uint8_t out[2][32])
{
    size_t n = 0;
    for (uint8_t kid = 1; kid <= 2; kid++) {
        const uint8_t *k = sluice_keyring_key(ring, kid);
        assert_non_null(k);
        memcpy(out[n++], k, 32);
    }
    return n;
}

static int holds(const uint8_t *mem, size_t n, const void *needle, size_t nl)
{
    return memmem(mem, n, needle, nl) != NULL;
}

static int proc_file_has(pid_t pid, const char *file, const char *needle)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
    size_t n = 0;
    char *data = sluice_th_read_file(path, &n, NULL);
    assert_non_null(data);
    int found = memmem(data, n, needle, strlen(needle)) != NULL;
    free(data);
    return found;
}

static char *seal_raw(const sluice_keyring_t *kr, const char *dfid)
{
    static char tok[SLUICE_TOKEN_TEXT_MAX + 1];
    sluice_err_t err;
    assert_true(sluice_token_seal(kr, "acme", "checkout.example-pay.com", dfid, (int64_t)time(NULL), 4, tok,
                                  sizeof(tok), &err) > 0);
    return tok;
}

static int redeemed(const char *tok, const char *mid)
{
    char body[1024];
    snprintf(body, sizeof(body), "{\"type\":\"page\",\"messageId\":\"%s\",\"_dft\":\"%s\"}", mid, tok);
    const char *h[] = {"Authorization: Bearer " WRITE_KEY, "Content-Type: application/json", "Origin: " CHECKOUT, NULL};
    http_opts_t o = {.headers = h, .body = body};
    http_resp_t r;
    http_do(gwfix_url(&G, "/v1/p"), &o, G.ca, &r);
    assert_int_equal(r.status, 200);
    http_resp_dispose(&r);
    json_t *msgs = gwfix_kafka_read(&G, "sluice.events");
    json_t *m = gwfix_find_message(msgs, mid);
    assert_non_null(m);
    json_t *ident =
        json_object_get(json_object_get(json_object_get(json_object_get(m, "value"), "event"), "context"), "identity");
    int yes = json_is_true(json_object_get(ident, "crossDomain"));
    json_decref(msgs);
    return yes;
}

/* ------------------------------------------------------------------ tests */

/* First, while tokens an older version issued before the upgrade can still be valid: sealed
 * directly under the root key, they redeem. */
static void old_token_redeems_right_after_the_upgrade(void **state)
{
    (void)state;
    sluice_keyring_t *root = root_ring();
    assert_true(redeemed(seal_raw(root, "from-the-old-version"), "old-1"));
    sluice_keyring_free(root);
}

static void environ_free_of_key_material(void **state)
{
    (void)state;
    pid_t pids[2] = {sluice_th_proc_pid(G.gw), sluice_th_proc_pid(F.worker)};
    for (int i = 0; i < 2; i++) {
        assert_false(proc_file_has(pids[i], "environ", DFIX_KEY1));
        assert_false(proc_file_has(pids[i], "environ", DFIX_KEY2));
        assert_false(proc_file_has(pids[i], "environ", "ENCRYPTION_KEY="));
        assert_false(proc_file_has(pids[i], "environ", "SLUICE_KEYRING="));
    }
    /* and the variables are gone for the processes themselves: nothing left to read again */
    char *log = sluice_th_read_file(sluice_th_proc_log(G.gw), NULL, NULL);
    assert_null(strstr(log, DFIX_KEY2));
    free(log);
}

static int root_wiped(void *arg)
{
    (void)arg;
    char *log = sluice_th_read_file(sluice_th_proc_log(G.gw), NULL, NULL);
    int yes = log != NULL && strstr(log, "keys.root_wiped") != NULL;
    free(log);
    return yes;
}

/* Once an older version's tokens have expired (token_ttl_s 4 + clock_skew_s 0, plus a second of
 * rounding and a 2 s grace), the gateway wipes the root keys: it then holds the keys of its own
 * purposes only, and nothing that opens a vault row. */
static void gateway_cannot_open_a_vault_row(void **state)
{
    (void)state;
    assert_int_equal(sluice_th_wait_until(root_wiped, NULL, 20000), 0);
    sluice_keyring_t *root = root_ring();
    sluice_err_t err;
    sluice_keyring_t *vault = sluice_keyring_derive(root, SLUICE_KEY_PURPOSE_VAULT, &err);
    sluice_keyring_t *own[3] = {sluice_keyring_derive(root, SLUICE_KEY_PURPOSE_XD_TOKEN, &err),
                                sluice_keyring_derive(root, SLUICE_KEY_PURPOSE_XD_COOKIE, &err),
                                sluice_keyring_derive(root, SLUICE_KEY_PURPOSE_ENCRYPT, &err)};
    uint8_t rk[2][32], vk[2][32], tk[2][32];
    keys_of(root, rk);
    keys_of(vault, vk);
    keys_of(own[0], tk);

    size_t n = 0;
    uint8_t *mem = gwfix_process_memory(sluice_th_proc_pid(G.gw), &n);
    assert_true(n > (1 << 20));
    assert_true(holds(mem, n, tk[0], 32) || holds(mem, n, tk[1], 32)); /* the search finds a key it has */
    for (int i = 0; i < 2; i++) {
        assert_false(holds(mem, n, rk[i], 32));
        assert_false(holds(mem, n, vk[i], 32));
    }
    assert_false(holds(mem, n, DFIX_KEY1, 64));
    assert_false(holds(mem, n, DFIX_KEY2, 64));
    free(mem);

    /* The vault row, opened with every key the gateway holds: none opens it; the vault key does. */
    PGconn *db = PQconnectdb(F.pg.conninfo);
    PGresult *r = PQexec(db, "SELECT encode(set_byte('\\x00'::bytea, 0, key_id) || nonce || ciphertext, 'hex') FROM "
                             "vault_credentials WHERE name = 'meta'");
    assert_int_equal(PQntuples(r), 1);
    uint8_t sealed[512], pt[512], aad[256];
    size_t sl, pl;
    const char *hex = PQgetvalue(r, 0, 0);
    assert_int_equal(sluice_hex_decode(hex, strlen(hex), sealed, sizeof(sealed), &sl), 0);
    PQclear(r);
    PQfinish(db);
    size_t al = sluice_vault_aad("acme", "meta", "meta", aad, sizeof(aad));
    for (int i = 0; i < 3; i++)
        assert_int_equal(sluice_aead_open(own[i], aad, al, sealed, sl, pt, sizeof(pt), &pl, NULL), SLUICE_AEAD_EAUTH);
    assert_int_equal(sluice_aead_open(vault, aad, al, sealed, sl, pt, sizeof(pt), &pl, NULL), SLUICE_AEAD_OK);

    /* A token sealed under the root key by an older version is now refused. */
    assert_false(redeemed(seal_raw(root, "too-late"), "old-2"));
    /* ...while the gateway's own tokens redeem as ever. */
    assert_true(redeemed(seal_raw(own[0], "current"), "new-1"));
    for (int i = 0; i < 3; i++)
        sluice_keyring_free(own[i]);
    sluice_keyring_free(vault);
    sluice_keyring_free(root);
}

/* The worker keeps the vault key only: no root key (no row needs it), none of the gateway's. */
static void worker_holds_only_the_vault_key(void **state)
{
    (void)state;
    sluice_keyring_t *root = root_ring();
    sluice_err_t err;
    sluice_keyring_t *vault = sluice_keyring_derive(root, SLUICE_KEY_PURPOSE_VAULT, &err);
    sluice_keyring_t *xd = sluice_keyring_derive(root, SLUICE_KEY_PURPOSE_XD_TOKEN, &err);
    uint8_t rk[2][32], vk[2][32], xk[2][32];
    keys_of(root, rk);
    keys_of(vault, vk);
    keys_of(xd, xk);
    size_t n = 0;
    uint8_t *mem = gwfix_process_memory(sluice_th_proc_pid(F.worker), &n);
    assert_true(holds(mem, n, vk[0], 32) && holds(mem, n, vk[1], 32));
    for (int i = 0; i < 2; i++) {
        assert_false(holds(mem, n, rk[i], 32));
        assert_false(holds(mem, n, xk[i], 32));
    }
    assert_false(holds(mem, n, DFIX_KEY1, 64));
    assert_false(holds(mem, n, DFIX_KEY2, 64));
    free(mem);
    sluice_keyring_free(xd);
    sluice_keyring_free(vault);
    sluice_keyring_free(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(old_token_redeems_right_after_the_upgrade),
        cmocka_unit_test(environ_free_of_key_material),
        cmocka_unit_test(gateway_cannot_open_a_vault_row),
        cmocka_unit_test(worker_holds_only_the_vault_key),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
