/*
 * The vault against a real PostgreSQL: sluicectl vault put/list/delete/rotate/migrate, what the
 * table holds (never plaintext), the audit trail (never the secret), rows moved to another
 * org/name/vendor refusing to decrypt, key rotation with and without the old key, rows an older
 * version sealed directly under the root key (readable until `vault rotate` re-seals them under
 * the vault's derived key), missing or malformed ENCRYPTION_KEY in sluicectl and
 * sluice-deliver, and a worker given another key under the vault's key id stopping at start;
 * secrets with a newline or edge space refused by `vault put` and, stored before, by the worker;
 * the worker as a role with only the rights it needs, a read-only database refused; a vendor
 * token rotated under retry.max_attempts 1.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "common/hex.h"
#include "crypto/aead.h"
#include "crypto/hash.h"
#include "crypto/hkdf.h"
#include "crypto/keyring.h"
#include "tests/integration/deliver_fix.h"
#include "vendors/vault.h"

#define TOKEN "EAAB-live-token-7f3a9c21"

static dfix_t F;
static PGconn *db;

static int setup(void **state)
{
    (void)state;
    dfix_init(&F, NULL, NULL, NULL, 1);
    dfix_write_config(&F,
                      "      - {name: meta, vendor: meta, pixel_id: \"111\"}\n"
                      "      - {name: ga4, vendor: ga4, measurement_id: G-1}\n",
                      NULL);
    db = PQconnectdb(F.pg.conninfo);
    assert_int_equal(PQstatus(db), CONNECTION_OK);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    PQfinish(db);
    sluice_th_teardown();
    return 0;
}

static char *sql1(const char *q)
{
    return dfix_sql1(db, q);
}

static void run(const char *const *args, const char *const *env, const char *input, int want_exit,
                sluice_th_output_t *out)
{
    dfix_sluicectl_exit(&F, args, env, input, want_exit, out);
}

static const char *const user_env[] = {"ENCRYPTION_KEY=" DFIX_KEY1, "SLUICE_KEY_ID=1", "USER=alice", NULL};

static sluice_vault_t *open_vault(sluice_keyring_t *kr)
{
    sluice_err_t err = {{0}};
    sluice_vault_t *v = sluice_vault_open(F.pg.conninfo, kr, "deliver_vault test", &err);
    if (v == NULL)
        print_error("%s\n", err.msg);
    assert_non_null(v);
    return v;
}

static void test_put_list_delete(void **state)
{
    (void)state;
    sluice_th_output_t out;
    const char *put[] = {"vault",  "put",  "--config", F.config, "--org", "acme",
                         "--name", "meta", "--vendor", "meta",   NULL};
    run(put, user_env, "{\"access_token\":\"" TOKEN "\"}\n", 0, &out);
    assert_non_null(strstr(out.out, "stored credentials 'meta' (meta) of org 'acme' under key id 1"));
    assert_null(strstr(out.out, TOKEN));
    sluice_th_output_dispose(&out);

    /* The row: key id, a 12-byte nonce, ciphertext and tag; the token nowhere, in any encoding. */
    char *row = sql1("SELECT concat_ws('|', org, name, vendor, key_id, encode(nonce, 'hex'), encode(ciphertext, "
                     "'hex'), encode(ciphertext, 'escape')) FROM vault_credentials");
    assert_non_null(strstr(row, "acme|meta|meta|1|"));
    assert_null(strstr(row, TOKEN));
    assert_null(strstr(row, "45414142")); /* "EAAB" in hex */
    free(row);
    char *len = sql1("SELECT octet_length(nonce) || ',' || octet_length(ciphertext) FROM vault_credentials");
    char want[32];
    snprintf(want, sizeof(want), "12,%zu", strlen("{\"access_token\":\"" TOKEN "\"}") + 16);
    assert_string_equal(len, want);
    free(len);

    /* It opens with the key, to exactly what was put. */
    sluice_err_t err = {{0}};
    sluice_keyring_t *kr = sluice_keyring_from_strings(DFIX_KEY1, "1", NULL, &err);
    sluice_vault_t *v = open_vault(kr);
    char *secret = NULL;
    size_t slen = 0;
    assert_int_equal(sluice_vault_get(v, "acme", "meta", "meta", &secret, &slen, &err), SLUICE_VAULT_OK);
    assert_string_equal(secret, "{\"access_token\":\"" TOKEN "\"}");
    sluice_vault_free_secret(secret, slen);
    assert_int_equal(sluice_vault_get(v, "acme", "nope", "meta", &secret, &slen, &err), SLUICE_VAULT_ENOTFOUND);
    sluice_vault_close(v);
    sluice_keyring_free(kr);

    run(put, user_env, "{\"access_token\":\"second-" TOKEN "\"}", 0, &out);
    assert_non_null(strstr(out.out, "replaced credentials"));
    sluice_th_output_dispose(&out);

    /* list: no secret, no key needed. */
    const char *list[] = {"vault", "list", "--config", F.config, NULL};
    const char *nokey[] = {"USER=bob", NULL};
    run(list, nokey, NULL, 0, &out);
    assert_non_null(strstr(out.out, "acme"));
    assert_non_null(strstr(out.out, "***"));
    assert_null(strstr(out.out, TOKEN));
    sluice_th_output_dispose(&out);

    const char *del[] = {"vault",  "delete", "--config", F.config, "--org", "acme",
                         "--name", "meta",   "--vendor", "meta",   NULL};
    run(del, nokey, NULL, 0, &out);
    assert_non_null(strstr(out.out, "deleted"));
    sluice_th_output_dispose(&out);
    run(del, nokey, NULL, 1, &out);
    assert_non_null(strstr(out.errout, "no credentials in the vault for org 'acme', name 'meta', vendor 'meta'"));
    sluice_th_output_dispose(&out);
    char *count = sql1("SELECT count(*) FROM vault_credentials");
    assert_string_equal(count, "0");
    free(count);

    /* The audit trail: who, what, for which row; never the secret. */
    char *audit = sql1("SELECT string_agg(concat_ws(' ', actor, action, org, name, vendor, key_id, detail), '; ' "
                       "ORDER BY id) FROM vault_audit WHERE action IN ('put', 'list', 'delete')");
    assert_non_null(strstr(audit, "alice (sluicectl) put acme meta meta 1 created"));
    assert_non_null(strstr(audit, "alice (sluicectl) put acme meta meta 1 replaced"));
    assert_non_null(strstr(audit, "bob (sluicectl) list"));
    assert_non_null(strstr(audit, "bob (sluicectl) delete acme meta meta 1 deleted"));
    assert_non_null(strstr(audit, "bob (sluicectl) delete acme meta meta not found"));
    free(audit);
    char *leak = sql1("SELECT count(*) FROM vault_audit WHERE vault_audit::text LIKE '%" TOKEN "%'");
    assert_string_equal(leak, "0");
    free(leak);
    char *gets = sql1("SELECT count(*) FROM vault_audit WHERE action = 'get' AND actor = 'deliver_vault test'");
    assert_string_equal(gets, "2");
    free(gets);
}

static void test_secret_checks(void **state)
{
    (void)state;
    sluice_th_output_t out;
    const char *put[] = {"vault",  "put", "--config", F.config, "--org", "acme",
                         "--name", "ga4", "--vendor", "ga4",    NULL};
    run(put, user_env, "{\"measurement_secret\":\"abc123\"}", 1, &out);
    assert_non_null(strstr(out.errout, "unknown member 'measurement_secret'"));
    assert_null(strstr(out.errout, "abc123"));
    sluice_th_output_dispose(&out);
    run(put, user_env, "api_secret=abc123", 1, &out);
    assert_non_null(strstr(out.errout, "not valid JSON"));
    assert_null(strstr(out.errout, "abc123"));
    sluice_th_output_dispose(&out);
    run(put, user_env, "{}", 1, &out);
    assert_non_null(strstr(out.errout, "lacks 'api_secret'"));
    sluice_th_output_dispose(&out);
    /* A value read or pasted with its newline (`jq -Rs '{api_secret: .}' < secret.txt`) or a
     * space: stored, every request carried it and the vendor refused each one, and a CR or LF
     * went raw into the header of the vendors that take the token there. Refused, naming the
     * member and not the value. */
    run(put, user_env, "{\"api_secret\":\"abc123\\n\"}", 1, &out);
    assert_non_null(strstr(out.errout, "member 'api_secret' holds a newline"));
    assert_null(strstr(out.errout, "abc123"));
    sluice_th_output_dispose(&out);
    run(put, user_env, "{\"api_secret\":\"abc123\\r\\nX-Extra: 1\"}", 1, &out);
    assert_non_null(strstr(out.errout, "member 'api_secret' holds a newline"));
    sluice_th_output_dispose(&out);
    run(put, user_env, "{\"api_secret\":\"abc123 \"}", 1, &out);
    assert_non_null(strstr(out.errout, "member 'api_secret' begins or ends with a space"));
    assert_null(strstr(out.errout, "abc123"));
    sluice_th_output_dispose(&out);
    const char *put_tt[] = {"vault",  "put",    "--config", F.config, "--org", "acme",
                            "--name", "tiktok", "--vendor", "tiktok", NULL};
    run(put_tt, user_env, "{\"access_token\":\"\\ttt-123\"}", 1, &out);
    assert_non_null(strstr(out.errout, "member 'access_token' holds a newline, tab"));
    sluice_th_output_dispose(&out);
    char *count = sql1("SELECT count(*) FROM vault_credentials");
    assert_string_equal(count, "0");
    free(count);

    /* From a file, and the secret never on the command line: there is no option for it. */
    char path[PATH_MAX];
    sluice_err_t err = {{0}};
    sluice_th_path(path, sizeof(path), "ga4-secret.json", &err);
    FILE *fp = fopen(path, "w");
    fputs("{\"api_secret\":\"from-a-file\"}\n", fp);
    fclose(fp);
    const char *put_file[] = {"vault", "put",      "--config", F.config, "--org", "acme", "--name",
                              "ga4",   "--vendor", "ga4",      "--file", path,    NULL};
    run(put_file, user_env, NULL, 0, &out);
    sluice_th_output_dispose(&out);
    /* A directory given for the file is named as such, not read as an empty secret. */
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", path);
    *strrchr(dir, '/') = '\0';
    const char *put_dir[] = {"vault", "put",      "--config", F.config, "--org", "acme", "--name",
                             "ga4",   "--vendor", "ga4",      "--file", dir,     NULL};
    run(put_dir, user_env, NULL, 1, &out);
    assert_non_null(strstr(out.errout, "Is a directory"));
    assert_null(strstr(out.errout, "not valid JSON"));
    sluice_th_output_dispose(&out);
    const char *put_argv[] = {"vault", "put",      "--config", F.config,   "--org", "acme", "--name",
                              "ga4",   "--vendor", "ga4",      "--secret", "x",     NULL};
    run(put_argv, user_env, NULL, 2, &out);
    sluice_th_output_dispose(&out);
    const char *bad_vendor[] = {"vault",  "put", "--config", F.config,  "--org", "acme",
                                "--name", "x",   "--vendor", "myspace", NULL};
    run(bad_vendor, user_env, "{}", 2, &out);
    assert_non_null(strstr(out.errout, "unknown vendor 'myspace'"));
    sluice_th_output_dispose(&out);
    const char *bad_org[] = {"vault",  "put", "--config", F.config, "--org", "globex",
                             "--name", "x",   "--vendor", "meta",   NULL};
    run(bad_org, user_env, "{\"access_token\":\"t\"}", 1, &out);
    assert_non_null(strstr(out.errout, "org 'globex' is not in"));
    sluice_th_output_dispose(&out);
    free(sql1("DELETE FROM vault_credentials"));
}

static void test_swapped_rows_refuse(void **state)
{
    (void)state;
    sluice_th_output_t out;
    const char *put_a[] = {"vault",  "put",  "--config", F.config, "--org", "acme",
                           "--name", "meta", "--vendor", "meta",   NULL};
    run(put_a, user_env, "{\"access_token\":\"token-A\"}", 0, &out);
    sluice_th_output_dispose(&out);
    const char *put_b[] = {"vault",  "put", "--config", F.config, "--org", "acme",
                           "--name", "ga4", "--vendor", "ga4",    NULL};
    run(put_b, user_env, "{\"api_secret\":\"secret-B\"}", 0, &out);
    sluice_th_output_dispose(&out);

    sluice_err_t err = {{0}};
    sluice_keyring_t *kr = sluice_keyring_from_strings(DFIX_KEY1, "1", NULL, &err);
    sluice_vault_t *v = open_vault(kr);
    char *secret = NULL;
    size_t slen = 0;
    /* Moved to another org: the AAD no longer matches. */
    free(sql1("UPDATE vault_credentials SET org = 'globex' WHERE name = 'meta'"));
    assert_int_equal(sluice_vault_get(v, "globex", "meta", "meta", &secret, &slen, &err), SLUICE_VAULT_EDECRYPT);
    assert_null(secret);
    assert_non_null(strstr(err.msg, "does not decrypt"));
    assert_null(strstr(err.msg, "token-A"));
    free(sql1("UPDATE vault_credentials SET org = 'acme', name = 'meta2' WHERE name = 'meta'"));
    assert_int_equal(sluice_vault_get(v, "acme", "meta2", "meta", &secret, &slen, &err), SLUICE_VAULT_EDECRYPT);
    free(sql1("UPDATE vault_credentials SET name = 'meta', vendor = 'tiktok' WHERE name = 'meta2'"));
    assert_int_equal(sluice_vault_get(v, "acme", "meta", "tiktok", &secret, &slen, &err), SLUICE_VAULT_EDECRYPT);
    /* Back where it belongs: it opens again. */
    free(sql1("UPDATE vault_credentials SET vendor = 'meta' WHERE name = 'meta'"));
    assert_int_equal(sluice_vault_get(v, "acme", "meta", "meta", &secret, &slen, &err), SLUICE_VAULT_OK);
    sluice_vault_free_secret(secret, slen);
    /* Sealed parts swapped between two rows. */
    free(sql1("UPDATE vault_credentials AS a SET nonce = b.nonce, ciphertext = b.ciphertext FROM vault_credentials "
              "AS b WHERE a.name = 'meta' AND b.name = 'ga4'"));
    assert_int_equal(sluice_vault_get(v, "acme", "meta", "meta", &secret, &slen, &err), SLUICE_VAULT_EDECRYPT);
    /* One flipped bit. */
    free(sql1("UPDATE vault_credentials SET ciphertext = set_byte(ciphertext, 0, get_byte(ciphertext, 0) # 1) "
              "WHERE name = 'ga4'"));
    assert_int_equal(sluice_vault_get(v, "acme", "ga4", "ga4", &secret, &slen, &err), SLUICE_VAULT_EDECRYPT);
    sluice_vault_close(v);
    sluice_keyring_free(kr);
    free(sql1("DELETE FROM vault_credentials"));
}

static void test_rotate(void **state)
{
    (void)state;
    sluice_th_output_t out;
    const char *names[] = {"r1", "r2", "r3"};
    for (int i = 0; i < 3; i++) {
        const char *put[] = {"vault",  "put",    "--config", F.config, "--org", "acme",
                             "--name", names[i], "--vendor", "tiktok", NULL};
        run(put, user_env, "{\"access_token\":\"rotate-me\"}", 0, &out);
        sluice_th_output_dispose(&out);
    }
    const char *rotate[] = {"vault", "rotate", "--config", F.config, NULL};
    /* The new key alone cannot open the old rows: refused, and nothing changes. */
    const char *new_only[] = {"ENCRYPTION_KEY=" DFIX_KEY2, "SLUICE_KEY_ID=2", NULL};
    run(rotate, new_only, NULL, 1, &out);
    assert_non_null(strstr(out.errout, "SLUICE_KEYRING"));
    assert_non_null(strstr(out.errout, "nothing was rotated"));
    sluice_th_output_dispose(&out);
    char *kids = sql1("SELECT string_agg(key_id::text, ',' ORDER BY name) FROM vault_credentials");
    assert_string_equal(kids, "1,1,1");
    free(kids);
    /* A new key under the old id (SLUICE_KEY_ID not moved on): the rows are under key id 1 but
     * do not open with it. Refused, naming the mistake, rather than "already under it". */
    const char *same_id[] = {"ENCRYPTION_KEY=" DFIX_KEY2, "SLUICE_KEY_ID=1", NULL};
    run(rotate, same_id, NULL, 1, &out);
    assert_non_null(strstr(out.errout, "does not decrypt under key id 1"));
    assert_non_null(strstr(out.errout, "SLUICE_KEY_ID"));
    assert_non_null(strstr(out.errout, "nothing was rotated"));
    sluice_th_output_dispose(&out);
    /* With the old key in the ring: every row moves to key 2, in one go. */
    const char *with_ring[] = {"ENCRYPTION_KEY=" DFIX_KEY2, "SLUICE_KEY_ID=2", "SLUICE_KEYRING=1:" DFIX_KEY1, NULL};
    run(rotate, with_ring, NULL, 0, &out);
    assert_non_null(strstr(out.out, "rotated 3 rows to key id 2 (0 already under it)"));
    sluice_th_output_dispose(&out);
    kids = sql1("SELECT string_agg(key_id::text, ',' ORDER BY name) FROM vault_credentials");
    assert_string_equal(kids, "2,2,2");
    free(kids);
    /* Options a command does not take are refused, not ignored: rotate is never of one org. */
    const char *rotate_org[] = {"vault", "rotate", "--config", F.config, "--org", "acme", NULL};
    run(rotate_org, with_ring, NULL, 2, &out);
    assert_non_null(strstr(out.errout, "vault rotate does not take --org"));
    sluice_th_output_dispose(&out);
    const char *list_name[] = {"vault", "list", "--config", F.config, "--name", "r1", NULL};
    run(list_name, with_ring, NULL, 2, &out);
    assert_non_null(strstr(out.errout, "vault list does not take --name"));
    sluice_th_output_dispose(&out);
    /* Safe to rerun. */
    run(rotate, with_ring, NULL, 0, &out);
    assert_non_null(strstr(out.out, "rotated 0 rows to key id 2 (3 already under it)"));
    sluice_th_output_dispose(&out);
    char *audits = sql1("SELECT count(*) FROM vault_audit WHERE action = 'rotate' AND detail = 'key 1 -> 2'");
    assert_string_equal(audits, "3");
    free(audits);
    /* The new key opens them; the old key alone no longer does. */
    sluice_err_t err = {{0}};
    sluice_keyring_t *k2 = sluice_keyring_from_strings(DFIX_KEY2, "2", NULL, &err);
    sluice_keyring_t *k1 = sluice_keyring_from_strings(DFIX_KEY1, "1", NULL, &err);
    sluice_vault_t *v2 = open_vault(k2), *v1 = open_vault(k1);
    char *secret = NULL;
    size_t slen = 0;
    assert_int_equal(sluice_vault_get(v2, "acme", "r2", "tiktok", &secret, &slen, &err), SLUICE_VAULT_OK);
    assert_string_equal(secret, "{\"access_token\":\"rotate-me\"}");
    sluice_vault_free_secret(secret, slen);
    assert_int_equal(sluice_vault_get(v1, "acme", "r2", "tiktok", &secret, &slen, &err), SLUICE_VAULT_EDECRYPT);
    assert_non_null(strstr(err.msg, "key id 2"));
    sluice_vault_close(v1);
    sluice_vault_close(v2);
    sluice_keyring_free(k1);
    sluice_keyring_free(k2);
    free(sql1("DELETE FROM vault_credentials"));
}

/* A careless rotation: a new ENCRYPTION_KEY with SLUICE_KEY_ID left as it was, then `vault put`.
 * The workers still hold the old key under that id: a row sealed under the new one would not open
 * for them (its events retried, then dead-lettered), and the vault would hold two keys under one
 * id, which `vault rotate` cannot untangle. The put is refused, naming the mistake, and every row
 * still opens with the workers' key. */
static void test_put_reused_key_id(void **state)
{
    (void)state;
    sluice_th_output_t out;
    const char *put_a[] = {"vault",  "put", "--config", F.config, "--org", "acme",
                           "--name", "ka",  "--vendor", "tiktok", NULL};
    const char *put_b[] = {"vault",  "put", "--config", F.config, "--org", "acme",
                           "--name", "kb",  "--vendor", "tiktok", NULL};
    run(put_a, user_env, "{\"access_token\":\"first-token\"}", 0, &out);
    sluice_th_output_dispose(&out);
    const char *reused[] = {"ENCRYPTION_KEY=" DFIX_KEY2, "SLUICE_KEY_ID=1", NULL};
    /* Another row, and the same row replaced: both refused, nothing written. */
    run(put_b, reused, "{\"access_token\":\"second-token\"}", 1, &out);
    assert_non_null(strstr(out.errout, "SLUICE_KEY_ID"));
    assert_non_null(strstr(out.errout, "nothing was stored"));
    assert_null(strstr(out.errout, DFIX_KEY2));
    assert_null(strstr(out.errout, "second-token"));
    sluice_th_output_dispose(&out);
    run(put_a, reused, "{\"access_token\":\"replaced-token\"}", 1, &out);
    assert_non_null(strstr(out.errout, "SLUICE_KEY_ID"));
    sluice_th_output_dispose(&out);
    char *n = sql1("SELECT count(*) FROM vault_credentials");
    assert_string_equal(n, "1");
    free(n);
    sluice_err_t err = {{0}};
    sluice_keyring_t *k1 = sluice_keyring_from_strings(DFIX_KEY1, "1", NULL, &err);
    sluice_vault_t *v1 = open_vault(k1);
    char *secret = NULL;
    size_t slen = 0;
    assert_int_equal(sluice_vault_get(v1, "acme", "ka", "tiktok", &secret, &slen, &err), SLUICE_VAULT_OK);
    assert_string_equal(secret, "{\"access_token\":\"first-token\"}");
    sluice_vault_free_secret(secret, slen);
    sluice_vault_close(v1);
    sluice_keyring_free(k1);
    /* The documented way (a new id, the old key in the ring) stores it. */
    const char *rotated[] = {"ENCRYPTION_KEY=" DFIX_KEY2, "SLUICE_KEY_ID=2", "SLUICE_KEYRING=1:" DFIX_KEY1, NULL};
    run(put_b, rotated, "{\"access_token\":\"second-token\"}", 0, &out);
    assert_non_null(strstr(out.out, "under key id 2"));
    sluice_th_output_dispose(&out);
    free(sql1("DELETE FROM vault_credentials"));
}

/* A row (acme, name, meta) exactly as a version before keys by purpose sealed it: directly under
 * the root key DFIX_KEY1 of id 1 (kdf 0 once migration 2 ran). */
static void insert_root_sealed(const char *name, const char *pt)
{
    sluice_err_t err = {{0}};
    sluice_keyring_t *root = sluice_keyring_from_strings(DFIX_KEY1, "1", NULL, &err);
    assert_non_null(root);
    uint8_t aad[256], sealed[256];
    size_t aad_len = sluice_vault_aad("acme", name, "meta", aad, sizeof(aad)), sl;
    assert_int_equal(sluice_aead_seal(root, aad, aad_len, pt, strlen(pt), sealed, sizeof(sealed), &sl, &err), 0);
    char nonce_hex[32], ct_hex[400], q[1024];
    sluice_hex_encode(sealed + 1, 12, nonce_hex, sizeof(nonce_hex));
    sluice_hex_encode(sealed + 13, sl - 13, ct_hex, sizeof(ct_hex));
    snprintf(q, sizeof(q),
             "INSERT INTO vault_credentials (org, name, vendor, key_id, nonce, ciphertext) VALUES ('acme', '%s', "
             "'meta', 1, decode('%s', 'hex'), decode('%s', 'hex'))",
             name, nonce_hex, ct_hex);
    free(sql1(q));
    sluice_keyring_free(root);
}

/* The same careless rotation right after upgrading from a version before keys by purpose: every
 * row is still sealed directly under the root key of id 1 (kdf 0, `vault rotate` not run yet), and
 * `vault put` with a new ENCRYPTION_KEY under SLUICE_KEY_ID 1 took the vault for one without rows
 * of that id. It stored a row the workers (the old key under id 1) could not open, and the new key
 * opens none of the old rows. Refused like the rows of this version are. */
static void test_put_reused_key_id_over_older_rows(void **state)
{
    (void)state;
    insert_root_sealed("old", "{\"access_token\":\"from-before\"}");
    sluice_th_output_t out;
    const char *put_b[] = {"vault",  "put", "--config", F.config, "--org", "acme",
                           "--name", "kb",  "--vendor", "tiktok", NULL};
    const char *reused[] = {"ENCRYPTION_KEY=" DFIX_KEY2, "SLUICE_KEY_ID=1", NULL};
    run(put_b, reused, "{\"access_token\":\"second-token\"}", 1, &out);
    assert_non_null(strstr(out.errout, "SLUICE_KEY_ID"));
    assert_non_null(strstr(out.errout, "nothing was stored"));
    assert_null(strstr(out.errout, DFIX_KEY2));
    assert_null(strstr(out.errout, "second-token"));
    sluice_th_output_dispose(&out);
    char *n = sql1("SELECT count(*) FROM vault_credentials");
    assert_string_equal(n, "1");
    free(n);
    /* With the key that sealed them, a put goes on as before (the old row stays as it is). */
    run(put_b, user_env, "{\"access_token\":\"second-token\"}", 0, &out);
    sluice_th_output_dispose(&out);
    char *kdf = sql1("SELECT string_agg(name || ':' || kdf, ',' ORDER BY name) FROM vault_credentials");
    assert_string_equal(kdf, "kb:1,old:0");
    free(kdf);
    free(sql1("DELETE FROM vault_credentials"));
}

static void test_encryption_key_errors(void **state)
{
    (void)state;
    sluice_th_output_t out;
    const char *put[] = {"vault",  "put",  "--config", F.config, "--org", "acme",
                         "--name", "meta", "--vendor", "meta",   NULL};
    run(put, NULL, "{\"access_token\":\"t\"}", 1, &out);
    assert_non_null(strstr(out.errout, "ENCRYPTION_KEY"));
    sluice_th_output_dispose(&out);
    const char *short_key[] = {"ENCRYPTION_KEY=abcdef0123", NULL};
    run(put, short_key, "{\"access_token\":\"t\"}", 1, &out);
    assert_non_null(strstr(out.errout, "ENCRYPTION_KEY"));
    assert_null(strstr(out.errout, "abcdef0123"));
    sluice_th_output_dispose(&out);
    const char *bad_hex[] = {"ENCRYPTION_KEY=zz2b5c1d9e0a4f3b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b", NULL};
    run(put, bad_hex, "{\"access_token\":\"t\"}", 1, &out);
    assert_non_null(strstr(out.errout, "ENCRYPTION_KEY"));
    sluice_th_output_dispose(&out);

    /* The worker refuses to start, naming the variable. */
    char bin[PATH_MAX];
    snprintf(bin, sizeof(bin), "%s/vendors/sluice-deliver", sluice_th_build_dir());
    const char *argv[] = {"env", "-u", "ENCRYPTION_KEY", bin, "--config", F.config, NULL};
    sluice_err_t err = {{0}};
    assert_int_equal(sluice_th_run(argv, NULL, 0, 30000, &out, &err), 0);
    assert_true(sluice_th_exited_with(out.wstatus, 1));
    assert_non_null(strstr(out.errout, "ENCRYPTION_KEY"));
    sluice_th_output_dispose(&out);
    const char *argv2[] = {"env", "ENCRYPTION_KEY=0123", bin, "--config", F.config, NULL};
    assert_int_equal(sluice_th_run(argv2, NULL, 0, 30000, &out, &err), 0);
    assert_true(sluice_th_exited_with(out.wstatus, 1));
    assert_non_null(strstr(out.errout, "ENCRYPTION_KEY"));
    sluice_th_output_dispose(&out);

    /* A well-formed but different key opens nothing. */
    run(put, user_env, "{\"access_token\":\"t\"}", 0, &out);
    sluice_th_output_dispose(&out);
    sluice_keyring_t *other = sluice_keyring_from_strings(DFIX_KEY2, "1", NULL, &err);
    sluice_vault_t *v = open_vault(other);
    char *secret = NULL;
    size_t slen = 0;
    assert_int_equal(sluice_vault_get(v, "acme", "meta", "meta", &secret, &slen, &err), SLUICE_VAULT_EDECRYPT);
    sluice_vault_close(v);
    sluice_keyring_free(other);

    /* ...and a worker given it (a new ENCRYPTION_KEY without a new SLUICE_KEY_ID, a mistyped
     * Secret) stops at start, naming the key id and a row, the key nowhere. Before, it ran, opened
     * no credential and dead-lettered every event after its retries; a rolling update with the
     * wrong key went through every pod. */
    const char *argv3[] = {"env", "ENCRYPTION_KEY=" DFIX_KEY2, "SLUICE_KEY_ID=1", bin, "--config", F.config, NULL};
    assert_int_equal(sluice_th_run(argv3, NULL, 0, 15000, &out, &err), 0);
    assert_false(out.timed_out);
    assert_true(sluice_th_exited_with(out.wstatus, 1));
    assert_non_null(strstr(out.errout, "the vault key of key id 1 opens none of the vault rows sealed under it (such "
                                       "as org 'acme', name 'meta', vendor 'meta'): ENCRYPTION_KEY holds another key"));
    assert_null(strstr(out.errout, DFIX_KEY2));
    sluice_th_output_dispose(&out);
    /* The right key under a new id, the old one in SLUICE_KEYRING (a rotation's step 2): it
     * starts (and is stopped here once its vault check has passed). */
    const char *argv4[] = {
        "env", "ENCRYPTION_KEY=" DFIX_KEY2, "SLUICE_KEY_ID=2", "SLUICE_KEYRING=1:" DFIX_KEY1, bin, "--config", F.config,
        NULL};
    assert_int_equal(sluice_th_run(argv4, NULL, 0, 4000, &out, &err), 0);
    assert_true(out.timed_out);
    assert_non_null(strstr(out.errout, "vault.ready"));
    assert_null(strstr(out.errout, "opens none"));
    sluice_th_output_dispose(&out);
    free(sql1("DELETE FROM vault_credentials"));
}

static void test_migrations(void **state)
{
    (void)state;
    char *v = sql1("SELECT string_agg(version::text || ':' || name, ',' ORDER BY version) FROM schema_migrations");
    assert_string_equal(v, "1:credentials and audit,2:keys by purpose,3:forget requests and suppression,"
                           "4:audit prune action,5:audit index by credential");
    free(v);
    sluice_th_output_t out;
    const char *migrate[] = {"vault", "migrate", "--config", F.config, NULL};
    run(migrate, NULL, NULL, 0, &out);
    assert_non_null(strstr(out.out, "vault schema version 5"));
    sluice_th_output_dispose(&out);
    /* A database migrated by a newer sluice is refused, not written to. */
    free(sql1("INSERT INTO schema_migrations (version, name) VALUES (99, 'from the future')"));
    run(migrate, NULL, NULL, 1, &out);
    assert_non_null(strstr(out.errout, "schema is version 99, newer than this binary knows (5)"));
    sluice_th_output_dispose(&out);
    free(sql1("DELETE FROM schema_migrations WHERE version = 99"));
}

/* 1 when the row (org acme, vendor meta, name) opens with ring directly, as AES-256-GCM. */
static int opens_with(const sluice_keyring_t *ring, const char *name)
{
    char q[256];
    snprintf(q, sizeof(q),
             "SELECT encode(set_byte('\\x00'::bytea, 0, key_id) || nonce || ciphertext, 'hex') FROM "
             "vault_credentials WHERE name = '%s'",
             name);
    char *hex = sql1(q);
    uint8_t sealed[512], pt[512];
    size_t n, m;
    assert_int_equal(sluice_hex_decode(hex, strlen(hex), sealed, sizeof(sealed), &n), 0);
    free(hex);
    uint8_t aad[256];
    size_t aad_len = sluice_vault_aad("acme", name, "meta", aad, sizeof(aad));
    return sluice_aead_open(ring, aad, aad_len, sealed, n, pt, sizeof(pt), &m, NULL) == SLUICE_AEAD_OK;
}

/* Migration from the root key: a row an older version sealed directly under ENCRYPTION_KEY
 * (kdf 0) stays readable with the root ring; new rows are sealed under the vault key derived from
 * it, which the root key itself does not open; `vault rotate` re-seals the old row, after which
 * no row needs the root key and the worker may drop it. */
static void test_root_sealed_rows(void **state)
{
    (void)state;
    sluice_err_t err = {{0}};
    sluice_keyring_t *root = sluice_keyring_from_strings(DFIX_KEY1, "1", NULL, &err);
    assert_non_null(root);
    const char *pt = "{\"access_token\":\"from-before\"}";
    insert_root_sealed("old", pt);
    sluice_th_output_t out;
    const char *put[] = {"vault",  "put", "--config", F.config, "--org", "acme",
                         "--name", "new", "--vendor", "meta",   NULL};
    run(put, user_env, "{\"access_token\":\"after\"}", 0, &out);
    sluice_th_output_dispose(&out);
    char *kdf = sql1("SELECT string_agg(name || ':' || kdf, ',' ORDER BY name) FROM vault_credentials");
    assert_string_equal(kdf, "new:1,old:0");
    free(kdf);

    /* The new row is sealed under HKDF(root, sluice/vault/v1), never under the root key itself. */
    sluice_keyring_t *vault_keys = sluice_keyring_derive(root, SLUICE_KEY_PURPOSE_VAULT, &err);
    assert_true(opens_with(vault_keys, "new"));
    assert_false(opens_with(root, "new"));
    assert_true(opens_with(root, "old"));
    sluice_keyring_t *xd_keys = sluice_keyring_derive(root, SLUICE_KEY_PURPOSE_XD_TOKEN, &err);
    assert_false(opens_with(xd_keys, "new")); /* another purpose's key opens nothing here */

    /* Both read through the vault (the root ring at hand), and the vault keeps the root ring. */
    sluice_vault_t *v = open_vault(root);
    char *secret = NULL;
    size_t slen = 0, legacy = 99;
    assert_int_equal(sluice_vault_get(v, "acme", "old", "meta", &secret, &slen, &err), SLUICE_VAULT_OK);
    assert_string_equal(secret, pt);
    sluice_vault_free_secret(secret, slen);
    assert_int_equal(sluice_vault_get(v, "acme", "new", "meta", &secret, &slen, &err), SLUICE_VAULT_OK);
    sluice_vault_free_secret(secret, slen);
    assert_int_equal(sluice_vault_release_root(v, &legacy, &err), 0);
    assert_int_equal(legacy, 1);
    assert_int_equal(sluice_vault_get(v, "acme", "old", "meta", &secret, &slen, &err), SLUICE_VAULT_OK);
    sluice_vault_free_secret(secret, slen);

    const char *list[] = {"vault", "list", "--config", F.config, NULL};
    run(list, user_env, NULL, 0, &out);
    assert_non_null(strstr(out.out, "old                  meta     1 root"));
    assert_non_null(strstr(out.errout, "1 row(s) sealed directly under a root key"));
    sluice_th_output_dispose(&out);

    const char *rotate[] = {"vault", "rotate", "--config", F.config, NULL};
    run(rotate, user_env, NULL, 0, &out);
    assert_non_null(strstr(out.out, "rotated 1 rows to key id 1 (1 already under it)"));
    sluice_th_output_dispose(&out);
    char *audit = sql1("SELECT detail FROM vault_audit WHERE action = 'rotate' AND name = 'old'");
    assert_string_equal(audit, "key 1 (root) -> 1");
    free(audit);
    assert_true(opens_with(vault_keys, "old"));
    assert_false(opens_with(root, "old"));

    /* Nothing needs the root key any more: the vault lets go of it and still reads every row. */
    assert_int_equal(sluice_vault_release_root(v, &legacy, &err), 0);
    assert_int_equal(legacy, 0);
    assert_int_equal(sluice_vault_get(v, "acme", "old", "meta", &secret, &slen, &err), SLUICE_VAULT_OK);
    assert_string_equal(secret, pt);
    sluice_vault_free_secret(secret, slen);
    /* ...and a root-sealed row appearing now is refused with the way out, never misread. */
    free(sql1("UPDATE vault_credentials SET kdf = 0 WHERE name = 'new'"));
    assert_int_equal(sluice_vault_get(v, "acme", "new", "meta", &secret, &slen, &err), SLUICE_VAULT_EDECRYPT);
    assert_non_null(strstr(err.msg, "sluicectl vault rotate"));
    sluice_vault_close(v);
    sluice_keyring_free(vault_keys);
    sluice_keyring_free(xd_keys);
    sluice_keyring_free(root);
    free(sql1("DELETE FROM vault_credentials"));
}

/* The worker's database role with only the rights docs/vault.md lists ("The worker's database
 * role"), on a vault an owner migrated, in a schema it may not create tables in (PostgreSQL 15's
 * default for every role but the database owner's). Before, opening the vault ran CREATE TABLE IF
 * NOT EXISTS schema_migrations, which PostgreSQL refuses for want of the schema's CREATE right
 * before it sees the table is there: sluice-deliver logged vault.unavailable ("permission denied
 * for schema public") and retried for ever, delivering nothing. */
static void test_least_privilege_worker_role(void **state)
{
    (void)state;
    sluice_th_output_t out;
    const char *put[] = {"vault",  "put",  "--config", F.config, "--org", "acme",
                         "--name", "meta", "--vendor", "meta",   NULL};
    run(put, user_env, "{\"access_token\":\"" TOKEN "\"}", 0, &out);
    sluice_th_output_dispose(&out);
    free(sql1("REVOKE CREATE ON SCHEMA public FROM PUBLIC"));
    free(sql1("DROP ROLE IF EXISTS sluice_worker"));
    free(sql1("CREATE ROLE sluice_worker LOGIN"));
    free(sql1("GRANT SELECT ON schema_migrations, vault_credentials, forget_requests, forget_suppression TO "
              "sluice_worker"));
    free(sql1("GRANT INSERT ON vault_audit TO sluice_worker"));
    free(sql1("GRANT USAGE ON SEQUENCE vault_audit_id_seq TO sluice_worker"));

    char conninfo[sizeof(F.pg.conninfo) + 32];
    snprintf(conninfo, sizeof(conninfo), "%s user=sluice_worker", F.pg.conninfo);
    PGconn *as_worker = PQconnectdb(conninfo);
    assert_int_equal(PQstatus(as_worker), CONNECTION_OK);
    PGresult *r = PQexec(as_worker, "CREATE TABLE t (x int)"); /* the role really may not create */
    assert_int_equal(PQresultStatus(r), PGRES_FATAL_ERROR);
    PQclear(r);
    PQfinish(as_worker);

    sluice_err_t err = {{0}};
    sluice_keyring_t *kr = sluice_keyring_from_strings(DFIX_KEY1, "1", NULL, &err);
    sluice_vault_t *v = sluice_vault_open(conninfo, kr, "least privilege", &err);
    if (v == NULL)
        print_error("%s\n", err.msg);
    assert_non_null(v);
    char *secret = NULL;
    size_t slen = 0, legacy = 99;
    assert_int_equal(sluice_vault_release_root(v, &legacy, &err), 0);
    assert_int_equal(legacy, 0);
    assert_int_equal(sluice_vault_get(v, "acme", "meta", "meta", &secret, &slen, &err), SLUICE_VAULT_OK);
    assert_string_equal(secret, "{\"access_token\":\"" TOKEN "\"}");
    sluice_vault_free_secret(secret, slen);
    sluice_vault_close(v);
    sluice_keyring_free(kr);
    char *audit = sql1("SELECT count(*) FROM vault_audit WHERE actor = 'least privilege' AND detail = 'ok'");
    assert_string_equal(audit, "1");
    free(audit);
    /* sluice-deliver itself as that role: it starts (the vault, its key check, the suppression
     * list) and runs until stopped, nothing refused. */
    char bin[PATH_MAX], url[sizeof(conninfo) + 32];
    snprintf(bin, sizeof(bin), "%s/vendors/sluice-deliver", sluice_th_build_dir());
    snprintf(url, sizeof(url), "SLUICE_DATABASE_URL=%s", conninfo);
    const char *argv[] = {"env", "ENCRYPTION_KEY=" DFIX_KEY1, "SLUICE_KEY_ID=1", url, bin, "--config", F.config, NULL};
    assert_int_equal(sluice_th_run(argv, NULL, 0, 5000, &out, &err), 0);
    if (!out.timed_out || strstr(out.errout, "deliver.started") == NULL)
        print_error("%s\n", out.errout);
    assert_true(out.timed_out);
    assert_non_null(strstr(out.errout, "vault.ready"));
    assert_non_null(strstr(out.errout, "forget.list_loaded"));
    assert_non_null(strstr(out.errout, "deliver.started"));
    assert_null(strstr(out.errout, "denied"));
    sluice_th_output_dispose(&out);

    /* A read-only database (a standby, as a replica's address would give) is refused at once:
     * every read is audited there, so the worker would dead-letter instead of waiting. */
    free(sql1("ALTER ROLE sluice_worker SET default_transaction_read_only = on"));
    kr = sluice_keyring_from_strings(DFIX_KEY1, "1", NULL, &err);
    assert_null(sluice_vault_open(conninfo, kr, "least privilege", &err));
    assert_non_null(strstr(err.msg, "the vault database is read-only"));
    sluice_keyring_free(kr);

    free(sql1("GRANT CREATE ON SCHEMA public TO PUBLIC"));
    free(sql1("DELETE FROM vault_credentials"));
}

/* A vendor token rotated while the worker runs, on an integration with retry.max_attempts 1
 * (an operator who wants no second request for a failed batch). The new token is put, Meta then
 * refuses the old one the worker still has cached (401): the batch must be tried with the
 * vault's new token, as docs/vault.md promises ("rotating a vendor token dead-letters nothing").
 * Before, the try with the re-read credential counted against max_attempts, so the batch went to
 * the DLQ at the first refusal and the new token was never sent. */
static void test_token_rotation_with_one_attempt(void **state)
{
    (void)state;
    static dstub_t meta;
    dfix_stub(&F, &meta, "meta", NULL, NULL);
    char integrations[1024];
    snprintf(integrations, sizeof(integrations),
             "      - {name: meta, vendor: meta, pixel_id: \"111\", base_url: \"%s\", batch: {max_wait_ms: 50},\n"
             "         retry: {max_attempts: 1, base_ms: 100, max_ms: 500}}\n",
             meta.url);
    dfix_write_config(&F, integrations, NULL);
    dfix_vault_put(&F, "meta", "meta", "{\"access_token\":\"tok-old\"}");
    dfix_start_worker(&F, NULL, 1);

    char *env = dfix_envelope("rot1", dfix_now_ms(), NULL);
    dfix_produce(&F, &env, 1, NULL);
    free(env);
    assert_int_equal(dfix_wait_requests(&meta, 1, 20000), 1);

    dfix_vault_put(&F, "meta", "meta", "{\"access_token\":\"tok-new\"}");
    dfix_stub_plan_for(&F, &meta, "401", "rot2"); /* Meta has revoked tok-old */
    env = dfix_envelope("rot2", dfix_now_ms(), NULL);
    dfix_produce(&F, &env, 1, NULL);
    free(env);
    dfix_wait_requests(&meta, 3, 20000);
    json_t *reqs = dfix_requests(&meta);
    assert_int_equal(json_array_size(reqs), 3);
    json_t *refused = json_array_get(reqs, 1), *again = json_array_get(reqs, 2);
    assert_int_equal(json_integer_value(json_object_get(refused, "answer")), 401);
    assert_non_null(strstr(json_string_value(json_object_get(refused, "query")), "access_token=tok-old"));
    assert_non_null(strstr(json_string_value(json_object_get(again, "query")), "access_token=tok-new"));
    assert_non_null(strstr(json_string_value(json_object_get(again, "body")), "rot2"));
    assert_int_equal(json_integer_value(json_object_get(again, "answer")), 200);
    json_decref(reqs);
    const char *args[] = {"--vendor", "meta", NULL};
    json_t *dlq = dfix_dlq_list(&F, args);
    assert_int_equal(json_array_size(dlq), 0);
    json_decref(dlq);
    dfix_stop_worker(&F, SIGTERM);
    free(sql1("DELETE FROM vault_credentials"));
}

/* A token stored with a CR LF in it (by a sluicectl that did not refuse it yet): the worker put it
 * in TikTok's Access-Token header as it was, and libcurl sent the header line with it raw, so the
 * request carried a header of the secret's making (or ended its headers early, with a bare
 * "\n"). Now the worker refuses the stored secret, naming the member and the way out: nothing
 * reaches the vendor, and the event fails into the DLQ with that message. */
static void test_stored_token_with_a_newline_reaches_no_header(void **state)
{
    (void)state;
    static dstub_t tiktok;
    dfix_stub(&F, &tiktok, "tiktok", NULL, NULL);
    char integrations[1024];
    snprintf(integrations, sizeof(integrations),
             "      - {name: tiktok, vendor: tiktok, pixel_code: CNL, base_url: \"%s\", batch: {max_wait_ms: 50},\n"
             "         retry: {max_attempts: 1, base_ms: 100, max_ms: 500}}\n",
             tiktok.url);
    dfix_write_config(&F, integrations, NULL);
    sluice_err_t err = {{0}};
    sluice_keyring_t *kr = sluice_keyring_from_strings(DFIX_KEY1, "1", NULL, &err);
    sluice_vault_t *v = open_vault(kr);
    const char *stored = "{\"access_token\":\"tt-123\\r\\nX-Extra: injected\"}";
    assert_int_equal(sluice_vault_put(v, "acme", "tiktok", "tiktok", stored, strlen(stored), NULL, &err),
                     SLUICE_VAULT_OK);
    sluice_vault_close(v);
    sluice_keyring_free(kr);
    dfix_start_worker(&F, NULL, 1);

    char *env = dfix_envelope("nl1", dfix_now_ms(), NULL);
    dfix_produce(&F, &env, 1, NULL);
    free(env);
    const char *args[] = {"--vendor", "tiktok", NULL};
    json_t *dlq = NULL;
    for (int waited = 0; waited <= 20000 && json_array_size(dlq) == 0 && dfix_wait_requests(&tiktok, 1, 0) == 0;
         waited += 250) {
        json_decref(dlq);
        usleep(250 * 1000);
        dlq = dfix_dlq_list(&F, args);
    }
    json_t *reqs = dfix_requests(&tiktok);
    size_t i;
    json_t *r;
    json_array_foreach(reqs, i, r)
        print_error("the stub got a request, headers: %s\n",
                    json_dumps(json_object_get(r, "headers"), JSON_COMPACT)); /* leaked: failing anyway */
    assert_int_equal(json_array_size(reqs), 0);
    json_decref(reqs);
    /* (The earlier test's events are in the topic too: this lane reads them as well.) */
    assert_true(json_array_size(dlq) >= 1);
    json_array_foreach(dlq, i, r) {
        const char *error = json_string_value(json_object_get(r, "error"));
        assert_non_null(strstr(error, "member 'access_token' holds a newline or other control character"));
        assert_null(strstr(error, "tt-123"));
    }
    json_decref(dlq);
    dfix_stop_worker(&F, SIGTERM);
    free(sql1("DELETE FROM vault_credentials"));
}

/* A webhook's signing secret made as many are, `openssl rand -base64 64` (two lines: the tool
 * wraps base64 at 64 characters), put with its newlines, the receiver verifying with the same
 * file. That secret is HMAC key bytes, never written into a request, so no header can carry its
 * newline; yet `vault put` refused it, and the worker refused the row an earlier sluicectl had
 * stored ("holds a newline ... which no request may carry"), dead-lettering every event of a
 * webhook that had delivered until the upgrade. It must go on signing with the secret as stored. */
static void test_webhook_signing_secret_with_newlines_still_signs(void **state)
{
    (void)state;
    static dstub_t hook;
    dfix_stub(&F, &hook, "webhook", NULL, NULL);
    char integrations[1024];
    snprintf(integrations, sizeof(integrations),
             "      - {name: hook, vendor: webhook, url: \"%s/in\", sign: true, batch: {max_wait_ms: 50},\n"
             "         retry: {max_attempts: 1, base_ms: 100, max_ms: 500}}\n",
             hook.url);
    dfix_write_config(&F, integrations, NULL);
    const char *key = "Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4\nZm9vYmFyYmF6cXV4Zm9v\n";
    json_t *js = json_pack("{s:s}", "secret", key);
    char *stored = json_dumps(js, JSON_COMPACT);
    json_decref(js);
    /* `vault put` takes it as it is (a key, not a token a vendor compares). */
    sluice_th_output_t out;
    const char *put[] = {"vault",  "put",  "--config", F.config,  "--org", "acme",
                         "--name", "hook", "--vendor", "webhook", NULL};
    run(put, user_env, stored, 0, &out);
    sluice_th_output_dispose(&out);
    free(stored);
    dfix_start_worker(&F, NULL, 1);

    char *env = dfix_envelope("whnl1", dfix_now_ms(), NULL);
    dfix_produce(&F, &env, 1, NULL);
    free(env);
    json_t *r = NULL;
    for (int waited = 0; waited <= 20000 && r == NULL; waited += 250) {
        json_t *reqs = dfix_requests(&hook);
        size_t i;
        json_t *q;
        json_array_foreach(reqs, i, q) {
            const char *body = json_string_value(json_object_get(q, "body"));
            if (r == NULL && body != NULL && strstr(body, "whnl1") != NULL)
                r = json_incref(q);
        }
        json_decref(reqs);
        if (r == NULL)
            usleep(250 * 1000);
    }
    if (r == NULL) {
        const char *args[] = {"--vendor", "webhook", NULL};
        json_t *dlq = dfix_dlq_list(&F, args);
        print_error("no request reached the webhook; DLQ: %s\n", json_dumps(dlq, JSON_COMPACT)); /* failing anyway */
        json_decref(dlq);
    }
    assert_non_null(r);
    json_t *headers = json_object_get(r, "headers");
    const char *ts = json_string_value(json_object_get(headers, "x-sluice-timestamp"));
    const char *sig = json_string_value(json_object_get(headers, "x-sluice-signature"));
    const char *body = json_string_value(json_object_get(r, "body"));
    assert_non_null(ts);
    assert_non_null(sig);
    assert_non_null(body);
    /* Signed with the secret as the receiver holds it, newlines and all. */
    char dotted[40];
    snprintf(dotted, sizeof(dotted), "%s.", ts);
    uint8_t mac[32];
    assert_int_equal(sluice_hmac_sha256_2(key, strlen(key), dotted, strlen(dotted), body, strlen(body), mac), 0);
    char want[80] = "sha256=";
    sluice_hex_encode(mac, sizeof(mac), want + 7, sizeof(want) - 7);
    assert_string_equal(sig, want);
    json_decref(r);
    dfix_stop_worker(&F, SIGTERM);
    free(sql1("DELETE FROM vault_credentials"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_list_delete),
        cmocka_unit_test(test_secret_checks),
        cmocka_unit_test(test_swapped_rows_refuse),
        cmocka_unit_test(test_rotate),
        cmocka_unit_test(test_put_reused_key_id),
        cmocka_unit_test(test_put_reused_key_id_over_older_rows),
        cmocka_unit_test(test_encryption_key_errors),
        cmocka_unit_test(test_root_sealed_rows),
        cmocka_unit_test(test_migrations),
        cmocka_unit_test(test_least_privilege_worker_role),
        cmocka_unit_test(test_token_rotation_with_one_attempt),
        cmocka_unit_test(test_stored_token_with_a_newline_reaches_no_header),
        cmocka_unit_test(test_webhook_signing_secret_with_newlines_still_signs),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
