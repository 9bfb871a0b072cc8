/*
 * The credential vault on PostgreSQL (see vault.h): embedded migrations, sealing and opening
 * rows with the vault's derived keys (and, for rows older versions sealed directly under a root
 * key, the root ring), the audit trail. Runs on the caller's thread (sluicectl's main thread,
 * the worker's loop thread on a cache miss) and blocks on libpq.
 */
#include "vendors/vault.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "crypto/aead.h"
#include "crypto/ct.h"
#include "crypto/hkdf.h"

/* An arbitrary constant: the advisory lock that serialises migrations across processes. */
#define MIGRATION_LOCK 0x736c7569 /* "slui" */

#define AAD_LABEL "sluice-vault-v1"
/* Org ids and names are at most 64 characters (config ids), vendors a word: plenty of room. */
#define AAD_MAX 1024

/* The schema, one entry per version, never edited once released: a change is a new entry. An
 * entry with an index name is one CREATE INDEX CONCURRENTLY, run outside a transaction and
 * without the session's statement_timeout: on an existing vault_audit of 100M rows a plain CREATE
 * INDEX held off every worker's audit INSERT (so every credential read) for minutes, and ran past
 * the 10 s timeout, so the migration could never be applied. */
static const struct migration {
    int version;
    const char *name;
    const char *sql;
    const char *index; /* non-NULL: sql builds this index concurrently */
} migrations[] = {
    {1, "credentials and audit",
     "CREATE TABLE vault_credentials ("
     "  org text NOT NULL,"
     "  name text NOT NULL,"
     "  vendor text NOT NULL,"
     "  key_id smallint NOT NULL CHECK (key_id BETWEEN 1 AND 255),"
     "  nonce bytea NOT NULL CHECK (octet_length(nonce) = 12),"
     "  ciphertext bytea NOT NULL CHECK (octet_length(ciphertext) >= 16),"
     "  created_at timestamptz NOT NULL DEFAULT now(),"
     "  updated_at timestamptz NOT NULL DEFAULT now(),"
     "  PRIMARY KEY (org, name, vendor));"
     "COMMENT ON COLUMN vault_credentials.ciphertext IS 'AES-256-GCM ciphertext followed by the 16-byte tag';"
     "CREATE TABLE vault_audit ("
     "  id bigserial PRIMARY KEY,"
     "  at timestamptz NOT NULL DEFAULT now(),"
     "  actor text NOT NULL,"
     "  action text NOT NULL CHECK (action IN ('put', 'get', 'delete', 'list', 'rotate')),"
     "  org text,"
     "  name text,"
     "  vendor text,"
     "  key_id smallint,"
     "  detail text NOT NULL DEFAULT '');"
     "CREATE INDEX vault_audit_at ON vault_audit (at);",
     NULL},
    {2, "keys by purpose",
     "ALTER TABLE vault_credentials ADD COLUMN kdf smallint NOT NULL DEFAULT 0 CHECK (kdf IN (0, 1));"
     "COMMENT ON COLUMN vault_credentials.kdf IS '0: sealed directly under the root key key_id (before keys by "
     "purpose; sluicectl vault rotate re-seals it); 1: under the vault key derived from it (HKDF, sluice/vault/v1)';",
     NULL},
    /* `sluicectl forget` (docs/privacy.md): every request and its undo, with pseudonyms only; the
     * suppression list the delivery worker reads (vendors/suppress.c). */
    {3, "forget requests and suppression",
     "CREATE TABLE forget_requests ("
     "  seq bigserial PRIMARY KEY,"
     "  request_id uuid NOT NULL UNIQUE,"
     "  action text NOT NULL CHECK (action IN ('forget', 'undo')),"
     "  org text NOT NULL,"
     "  requested_by text NOT NULL,"
     "  requested_at timestamptz NOT NULL DEFAULT now(),"
     "  ids jsonb NOT NULL,"
     "  undoes uuid REFERENCES forget_requests (request_id),"
     "  links_removed integer,"
     "  dedup_keys_removed integer,"
     "  suppressed integer,"
     "  lifted integer,"
     "  dsr_published boolean NOT NULL DEFAULT false,"
     "  state text NOT NULL CHECK (state IN ('pending', 'done', 'failed')),"
     "  detail text NOT NULL DEFAULT '',"
     "  completed_at timestamptz);"
     "COMMENT ON COLUMN forget_requests.ids IS 'pseudonyms (HMAC of the ids under the org key), never raw ids';"
     "CREATE INDEX forget_requests_org ON forget_requests (org, requested_at);"
     "CREATE TABLE forget_suppression ("
     "  org text NOT NULL,"
     "  pseudonym text NOT NULL CHECK (pseudonym ~ '^[0-9a-f]{64}$'),"
     "  request_id uuid NOT NULL REFERENCES forget_requests (request_id),"
     "  created_at timestamptz NOT NULL DEFAULT now(),"
     "  PRIMARY KEY (org, pseudonym, request_id));",
     NULL},
    /* `sluicectl vault audit prune` records itself. NOT VALID: every existing row passed the
     * narrower check, and validating would read all of them under the migration's timeout. */
    {4, "audit prune action",
     "ALTER TABLE vault_audit DROP CONSTRAINT IF EXISTS vault_audit_action_check,"
     "  ADD CONSTRAINT vault_audit_action_check"
     "  CHECK (action IN ('put', 'get', 'delete', 'list', 'rotate', 'prune')) NOT VALID;",
     NULL},
    /* `sluicectl vault audit --org --name --vendor`: the reads of one credential, newest first,
     * without reading every other credential's rows (pruning uses vault_audit_at). */
    {5, "audit index by credential",
     "CREATE INDEX CONCURRENTLY IF NOT EXISTS vault_audit_credential ON vault_audit (org, name, vendor, at)",
     "vault_audit_credential"},
};

struct sluice_vault {
    PGconn *conn;
    sluice_keyring_t *kr;         /* the vault keys, derived from the root ring (owned); NULL without keys */
    const sluice_keyring_t *root; /* borrowed, for rows sealed directly under a root key; NULL once released */
    char *actor;
};

static void quiet_notices(void *arg, const char *message)
{
    (void)arg;
    (void)message; /* "relation already exists, skipping" and the like */
}

/* libpq's message without its trailing newline. */
static int pq_error(sluice_err_t *err, PGconn *conn, const char *what)
{
    const char *m = PQerrorMessage(conn);
    size_t n = strlen(m);
    while (n > 0 && (m[n - 1] == '\n' || m[n - 1] == ' '))
        n--;
    return sluice_err_set(err, "%s: %.*s", what, (int)n, m);
}

/* ------------------------------------------------------------------ connection messages */

typedef struct span {
    const char *p;
    size_t n;
} span_t;

/* Where conninfo holds a password: a URI's after "user:" up to its last '@' (a password may hold
 * an unescaped '/' or '?'), and each password= value, to the next '&' in a URI, to the end of a
 * keyword string (a value with a space runs on) and, there, also its first word. */
static size_t password_spans(const char *conninfo, span_t *out, size_t max)
{
    size_t k = 0;
    const char *rest = NULL;
    if (strncmp(conninfo, "postgresql://", 13) == 0)
        rest = conninfo + 13;
    else if (strncmp(conninfo, "postgres://", 11) == 0)
        rest = conninfo + 11;
    if (rest != NULL) {
        const char *at = strrchr(rest, '@');
        const char *colon = at != NULL ? memchr(rest, ':', (size_t)(at - rest)) : NULL;
        if (colon != NULL && at > colon + 1)
            out[k++] = (span_t){colon + 1, (size_t)(at - colon - 1)};
    }
    for (const char *p = strcasestr(conninfo, "password"); p != NULL && k + 2 <= max;
         p = strcasestr(p + 1, "password")) {
        const char *q = p + 8;
        while (*q == ' ')
            q++;
        if (*q != '=')
            continue;
        for (q++; *q == ' ';)
            q++;
        size_t n = rest != NULL ? strcspn(q, "&") : strlen(q), word = strcspn(q, " ");
        if (n > 0)
            out[k++] = (span_t){q, n};
        if (rest == NULL && word > 0 && word < n)
            out[k++] = (span_t){q, word};
    }
    return k;
}

/* s holds a password, or is a piece of one. */
static int secret_part(const span_t *sp, size_t k, const char *s, size_t n)
{
    for (size_t i = 0; i < k; i++)
        if ((n > 0 && n <= sp[i].n && memmem(sp[i].p, sp[i].n, s, n) != NULL) ||
            (sp[i].n <= n && memmem(s, n, sp[i].p, sp[i].n) != NULL))
            return 1;
    return 0;
}

static int option_name(const char *s, size_t n)
{
    PQconninfoOption *opts = PQconndefaults();
    int found = 0;
    for (const PQconninfoOption *o = opts; o != NULL && o->keyword != NULL && !found; o++)
        found = strlen(o->keyword) == n && memcmp(o->keyword, s, n) == 0;
    PQconninfoFree(opts);
    return found;
}

static void put(char *out, size_t cap, size_t *o, const char *s, size_t n)
{
    if (*o + n >= cap)
        n = cap - 1 - *o;
    memcpy(out + *o, s, n);
    *o += n;
}

void sluice_vault_conn_message(const char *conninfo, const char *msg, char *out, size_t cap)
{
    if (cap == 0)
        return;
    span_t sp[8];
    size_t k = conninfo != NULL ? password_spans(conninfo, sp, sizeof(sp) / sizeof(sp[0])) : 0;
    size_t n = strlen(msg), o = 0;
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        n--;
    for (size_t i = 0; i < n;) {
        if (msg[i] == '"') {
            const char *s = msg + i + 1, *close = memchr(s, '"', n - i - 1);
            size_t len = close != NULL ? (size_t)(close - s) : n - i - 1;
            put(out, cap, &o, "\"", 1);
            if (secret_part(sp, k, s, len) && !option_name(s, len))
                put(out, cap, &o, "***", 3);
            else
                put(out, cap, &o, s, len);
            put(out, cap, &o, "\"", close != NULL);
            i += 1 + len + (close != NULL);
            continue;
        }
        /* Unquoted, the password itself (a short one would blank ordinary words). */
        size_t hit = 0;
        for (size_t j = 0; j < k && hit == 0; j++)
            if (sp[j].n >= 4 && sp[j].n <= n - i && memcmp(msg + i, sp[j].p, sp[j].n) == 0)
                hit = sp[j].n;
        put(out, cap, &o, hit ? "***" : msg + i, hit ? 3 : 1);
        i += hit ? hit : 1;
    }
    out[o] = '\0';
}

static int exec_ok(sluice_vault_t *v, const char *sql, sluice_err_t *err)
{
    PGresult *r = PQexec(v->conn, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    PQclear(r);
    if (!ok)
        return pq_error(err, v->conn, "database");
    return 0;
}

static void rollback(sluice_vault_t *v)
{
    PQclear(PQexec(v->conn, "ROLLBACK"));
}

/* A concurrent index build of a migration: workers go on inserting audit rows while it runs. A
 * build that was interrupted (a killed sluicectl, a lost connection) leaves an invalid index
 * under the name, which IF NOT EXISTS would take as done: it is dropped and built again. */
static int build_index(sluice_vault_t *v, const struct migration *m, sluice_err_t *err)
{
    char drop[512];
    snprintf(drop, sizeof(drop),
             "DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
             " WHERE c.relname = '%s' AND NOT i.indisvalid) THEN DROP INDEX %s; END IF; END $$",
             m->index, m->index);
    int rc =
        exec_ok(v, "SET statement_timeout = 0", err) != 0 || exec_ok(v, drop, err) != 0 || exec_ok(v, m->sql, err) != 0
            ? -1
            : 0;
    PQclear(PQexec(v->conn, "RESET statement_timeout"));
    return rc;
}

static int migrate(sluice_vault_t *v, sluice_err_t *err)
{
    char lock[96];
    snprintf(lock, sizeof(lock), "SELECT pg_try_advisory_lock(%d)", MIGRATION_LOCK);
    /* Asked for again and again, not waited for in pg_advisory_lock: a statement waiting there
     * holds a snapshot, which another process's CREATE INDEX CONCURRENTLY (migration 5) waits
     * for while that process holds the lock; PostgreSQL failed one of the two with "deadlock
     * detected" (two pods migrating at once, or any vault opened during the build). Between two
     * tries this session holds no snapshot. As long as the statement_timeout it used to wait. */
    for (int tries = 0;; tries++) {
        PGresult *t = PQexec(v->conn, lock);
        if (PQresultStatus(t) != PGRES_TUPLES_OK || PQntuples(t) != 1) {
            PQclear(t);
            pq_error(err, v->conn, "database");
            return sluice_err_prefix(err, "vault migrations");
        }
        int taken = PQgetvalue(t, 0, 0)[0] == 't';
        PQclear(t);
        if (taken)
            break;
        if (tries >= 100)
            return sluice_err_set(err, "vault migrations: another process has been applying them for 10 s; try "
                                       "again once it is done");
        usleep(100 * 1000);
    }
    int rc = -1;
    /* Created only when missing: CREATE TABLE IF NOT EXISTS checks the right to create tables in
     * the schema before it looks for the table, so a role without that right (PostgreSQL 15's
     * default for every role but the database owner's, and a worker given only the rights it
     * uses, docs/vault.md) could never open a vault an owner had migrated. */
    PGresult *t = PQexec(v->conn, "SELECT to_regclass('schema_migrations') IS NOT NULL,"
                                  " current_setting('transaction_read_only') = 'on'");
    if (PQresultStatus(t) != PGRES_TUPLES_OK || PQntuples(t) != 1) {
        PQclear(t);
        pq_error(err, v->conn, "database");
        goto out;
    }
    int have_table = PQgetvalue(t, 0, 0)[0] == 't', read_only = PQgetvalue(t, 0, 1)[0] == 't';
    PQclear(t);
    /* Said at once, as the CREATE TABLE that used to run here did: every read of a credential
     * is recorded in vault_audit, so on a standby every one would fail, and the worker would
     * dead-letter events instead of waiting for the primary. */
    if (read_only) {
        sluice_err_set(err, "the vault database is read-only (a standby, or default_transaction_read_only): "
                            "sluice records every credential read in vault_audit; point database.url at the primary");
        goto out;
    }
    if (!have_table &&
        exec_ok(v,
                "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())",
                err) != 0)
        goto out;
    int current;
    if (sluice_vault_schema_version(v, &current, err) != 0)
        goto out;
    if (current > SLUICE_VAULT_SCHEMA_VERSION) {
        sluice_err_set(err,
                       "the vault's schema is version %d, newer than this binary knows (%d): upgrade sluice before "
                       "running it against this database",
                       current, SLUICE_VAULT_SCHEMA_VERSION);
        goto out;
    }
    for (size_t i = 0; i < sizeof(migrations) / sizeof(migrations[0]); i++) {
        const struct migration *m = &migrations[i];
        if (m->version <= current)
            continue;
        if (m->index != NULL && build_index(v, m, err) != 0) {
            sluice_err_prefix(err, "vault migration %d (%s)", m->version, m->name);
            goto out;
        }
        if (exec_ok(v, "BEGIN", err) != 0)
            goto out;
        char ver[16];
        snprintf(ver, sizeof(ver), "%d", m->version);
        const char *params[2] = {ver, m->name};
        PGresult *r = NULL;
        if ((m->index == NULL && exec_ok(v, m->sql, err) != 0) ||
            (r = PQexecParams(v->conn, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", 2, NULL, params,
                              NULL, NULL, 0),
             PQresultStatus(r) != PGRES_COMMAND_OK)) {
            if (r != NULL)
                pq_error(err, v->conn, "database");
            PQclear(r);
            rollback(v);
            sluice_err_prefix(err, "vault migration %d (%s)", m->version, m->name);
            goto out;
        }
        PQclear(r);
        if (exec_ok(v, "COMMIT", err) != 0)
            goto out;
    }
    rc = 0;
out:
    snprintf(lock, sizeof(lock), "SELECT pg_advisory_unlock(%d)", MIGRATION_LOCK);
    PQclear(PQexec(v->conn, lock));
    return rc;
}

sluice_vault_t *sluice_vault_open(const char *conninfo, const sluice_keyring_t *kr, const char *actor,
                                  sluice_err_t *err)
{
    if (conninfo == NULL || conninfo[0] == '\0') {
        sluice_err_set(err, "no database: set database.url in the config (or SLUICE_DATABASE_URL)");
        return NULL;
    }
    sluice_vault_t *v = calloc(1, sizeof(*v));
    if (v == NULL || (v->actor = strdup(actor ? actor : "unknown")) == NULL) {
        free(v);
        sluice_err_set(err, "out of memory");
        return NULL;
    }
    if (kr != NULL && (v->kr = sluice_keyring_derive(kr, SLUICE_KEY_PURPOSE_VAULT, err)) == NULL) {
        sluice_vault_close(v);
        return NULL;
    }
    v->root = kr;
    /* Defaults first: values from conninfo (expanded from dbname) come later and win. */
    const char *keys[] = {"connect_timeout", "application_name", "options", "dbname", NULL};
    const char *vals[] = {"5", "sluice", "-c statement_timeout=10000", conninfo, NULL};
    v->conn = PQconnectdbParams(keys, vals, 1);
    if (v->conn == NULL || PQstatus(v->conn) != CONNECTION_OK) {
        if (v->conn == NULL)
            sluice_err_set(err, "cannot connect to the vault database: out of memory");
        else {
            char m[SLUICE_ERR_MSG_MAX];
            sluice_vault_conn_message(conninfo, PQerrorMessage(v->conn), m, sizeof(m));
            sluice_err_set(err, "cannot connect to the vault database: %s", m);
        }
        sluice_vault_close(v);
        return NULL;
    }
    PQsetNoticeProcessor(v->conn, quiet_notices, NULL);
    if (migrate(v, err) != 0) {
        sluice_vault_close(v);
        return NULL;
    }
    return v;
}

void sluice_vault_close(sluice_vault_t *v)
{
    if (v == NULL)
        return;
    PQfinish(v->conn);
    sluice_keyring_free(v->kr);
    free(v->actor);
    free(v);
}

int sluice_vault_release_root(sluice_vault_t *v, size_t *legacy_rows, sluice_err_t *err)
{
    PGresult *r = PQexec(v->conn, "SELECT count(*) FROM vault_credentials WHERE kdf = 0");
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        PQclear(r);
        return pq_error(err, v->conn, "counting rows sealed under a root key");
    }
    size_t n = (size_t)strtoull(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    if (legacy_rows != NULL)
        *legacy_rows = n;
    if (n == 0)
        v->root = NULL;
    return 0;
}

int sluice_vault_schema_version(sluice_vault_t *v, int *version, sluice_err_t *err)
{
    PGresult *r = PQexec(v->conn, "SELECT coalesce(max(version), 0) FROM schema_migrations");
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        PQclear(r);
        return pq_error(err, v->conn, "reading the vault schema version");
    }
    *version = (int)strtol(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return 0;
}

size_t sluice_vault_aad(const char *org, const char *name, const char *vendor, uint8_t *out, size_t cap)
{
    const char *parts[3] = {org, name, vendor};
    size_t n = sizeof(AAD_LABEL); /* the label and its NUL */
    if (cap < n)
        return 0;
    memcpy(out, AAD_LABEL, n);
    for (int i = 0; i < 3; i++) {
        size_t l = strlen(parts[i]);
        if (l > 0xFFFF || cap - n < l + 2)
            return 0;
        out[n++] = (uint8_t)(l >> 8);
        out[n++] = (uint8_t)l;
        memcpy(out + n, parts[i], l);
        n += l;
    }
    return n;
}

/* Appends an audit row. The detail never holds a secret. */
static int audit(sluice_vault_t *v, const char *action, const char *org, const char *name, const char *vendor,
                 int key_id, const char *detail, sluice_err_t *err)
{
    char kid[8];
    snprintf(kid, sizeof(kid), "%d", key_id);
    const char *params[7] = {v->actor, action, org, name, vendor, key_id > 0 ? kid : NULL, detail};
    PGresult *r = PQexecParams(v->conn,
                               "INSERT INTO vault_audit (actor, action, org, name, vendor, key_id, detail)"
                               " VALUES ($1, $2, $3, $4, $5, $6::smallint, $7)",
                               7, NULL, params, NULL, NULL, 0);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    return ok ? 0 : pq_error(err, v->conn, "writing the vault audit");
}

/* Seals plaintext for a row; kid, nonce and ciphertext‖tag go to their own columns. */
static int seal(const sluice_vault_t *v, const char *org, const char *name, const char *vendor, const char *pt,
                size_t len, uint8_t **sealed, size_t *sealed_len, sluice_err_t *err)
{
    /* The outputs are defined on every path, failures included. */
    *sealed = NULL;
    *sealed_len = 0;
    uint8_t aad[AAD_MAX];
    size_t aad_len = sluice_vault_aad(org, name, vendor, aad, sizeof(aad));
    if (aad_len == 0)
        return sluice_err_set(err, "org, name or vendor is too long");
    size_t cap = len + SLUICE_AEAD_OVERHEAD;
    uint8_t *out = malloc(cap);
    if (out == NULL)
        return sluice_err_set(err, "out of memory");
    if (v->kr == NULL) {
        free(out);
        return sluice_err_set(err, "no key ring: ENCRYPTION_KEY is needed to seal credentials");
    }
    if (sluice_aead_seal(v->kr, aad, aad_len, pt, len, out, cap, sealed_len, err) != 0) {
        free(out);
        return -1;
    }
    *sealed = out;
    return 0;
}

static int open_row(const sluice_vault_t *v, const char *org, const char *name, const char *vendor, int kid,
                    int root_sealed, const unsigned char *nonce, size_t nonce_len, const unsigned char *ct,
                    size_t ct_len, char **pt, size_t *pt_len, sluice_err_t *err);
static unsigned char *bytea(PGresult *r, int row, int col, size_t *len);

/* Inside put's transaction: a row already sealed under the primary key id must open with the
 * primary key. A new ENCRYPTION_KEY given the old SLUICE_KEY_ID would otherwise store a row no
 * running worker (holding the old key under that id) can open, its events dead-lettered, and leave
 * two keys under one id, which no `vault rotate` can untangle. The row being replaced is tried
 * first, so a put that replaces the only row is checked too. Rows an older version sealed directly
 * under the root key (kdf 0, a vault not yet rotated after the upgrade) count as much: they are
 * opened with the root key of that id, and were all the rows a freshly upgraded vault had. */
static int check_primary_key(sluice_vault_t *v, const char *org, const char *name, const char *vendor,
                             sluice_err_t *err)
{
    char kid[8];
    unsigned primary = sluice_keyring_primary_kid(v->kr);
    snprintf(kid, sizeof(kid), "%u", primary);
    const char *params[4] = {kid, org, name, vendor};
    PGresult *r = PQexecParams(v->conn,
                               "SELECT org, name, vendor, nonce, ciphertext, kdf FROM vault_credentials"
                               " WHERE key_id = $1::smallint"
                               " ORDER BY (org = $2 AND name = $3 AND vendor = $4) DESC, org, name, vendor LIMIT 1",
                               4, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        return pq_error(err, v->conn, "checking the key against the stored credentials");
    }
    if (PQntuples(r) == 0) {
        PQclear(r);
        return SLUICE_VAULT_OK;
    }
    size_t nl = 0, cl = 0, pl = 0;
    unsigned char *nonce = bytea(r, 0, 3, &nl), *ct = bytea(r, 0, 4, &cl);
    char *pt = NULL;
    sluice_err_t why = {{0}};
    int root_sealed = strcmp(PQgetvalue(r, 0, 5), "0") == 0;
    int rc = nonce && ct ? open_row(v, PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2), (int)primary,
                                    root_sealed, nonce, nl, ct, cl, &pt, &pl, &why)
                         : SLUICE_VAULT_ERROR;
    PQfreemem(nonce);
    PQfreemem(ct);
    sluice_vault_free_secret(pt, pl);
    if (rc == SLUICE_VAULT_EDECRYPT)
        sluice_err_set(err,
                       "key id %u already seals credentials (org '%s', name '%s', vendor '%s') that ENCRYPTION_KEY "
                       "does not open: a new ENCRYPTION_KEY needs a new SLUICE_KEY_ID, with the old key in "
                       "SLUICE_KEYRING; nothing was stored",
                       primary, PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2));
    else if (rc != SLUICE_VAULT_OK)
        sluice_err_set(err, "checking the key against the stored credentials: %s",
                       why.msg[0] ? why.msg : "out of memory");
    PQclear(r);
    return rc == SLUICE_VAULT_OK ? SLUICE_VAULT_OK : SLUICE_VAULT_ERROR;
}

int sluice_vault_put(sluice_vault_t *v, const char *org, const char *name, const char *vendor, const char *secret,
                     size_t len, int *created, sluice_err_t *err)
{
    if (v->kr == NULL)
        return sluice_err_set(err, "no key ring: ENCRYPTION_KEY is needed to store credentials");
    uint8_t *sealed;
    size_t sealed_len;
    if (seal(v, org, name, vendor, secret, len, &sealed, &sealed_len, err) != 0)
        return SLUICE_VAULT_ERROR;
    char kid[8];
    snprintf(kid, sizeof(kid), "%u", sealed[0]);
    const char *params[6] = {
        org, name, vendor, kid, (const char *)sealed + 1, (const char *)sealed + 1 + SLUICE_AEAD_NONCE_LEN};
    int lens[6] = {0, 0, 0, 0, SLUICE_AEAD_NONCE_LEN, (int)(sealed_len - 1 - SLUICE_AEAD_NONCE_LEN)};
    int fmts[6] = {0, 0, 0, 0, 1, 1};
    if (exec_ok(v, "BEGIN", err) != 0) {
        free(sealed);
        return SLUICE_VAULT_ERROR;
    }
    if (check_primary_key(v, org, name, vendor, err) != SLUICE_VAULT_OK) {
        free(sealed);
        rollback(v);
        return SLUICE_VAULT_ERROR;
    }
    PGresult *r = PQexecParams(v->conn,
                               "INSERT INTO vault_credentials (org, name, vendor, key_id, nonce, ciphertext, kdf)"
                               " VALUES ($1, $2, $3, $4::smallint, $5::bytea, $6::bytea, 1)"
                               " ON CONFLICT (org, name, vendor) DO UPDATE SET key_id = EXCLUDED.key_id,"
                               " nonce = EXCLUDED.nonce, ciphertext = EXCLUDED.ciphertext, kdf = 1, updated_at = now()"
                               " RETURNING (xmax = 0)",
                               6, NULL, params, lens, fmts, 0);
    int kid_used = sealed[0];
    free(sealed);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        PQclear(r);
        pq_error(err, v->conn, "storing the credentials");
        rollback(v);
        return SLUICE_VAULT_ERROR;
    }
    int is_new = PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    if (audit(v, "put", org, name, vendor, kid_used, is_new ? "created" : "replaced", err) != 0 ||
        exec_ok(v, "COMMIT", err) != 0) {
        rollback(v);
        return SLUICE_VAULT_ERROR;
    }
    if (created != NULL)
        *created = is_new;
    return SLUICE_VAULT_OK;
}

void sluice_vault_free_secret(char *secret, size_t len)
{
    if (secret == NULL)
        return;
    sluice_secure_zero(secret, len);
    free(secret);
}

/* bytea from a text result. Caller frees with PQfreemem. */
static unsigned char *bytea(PGresult *r, int row, int col, size_t *len)
{
    return PQunescapeBytea((const unsigned char *)PQgetvalue(r, row, col), len);
}

/* Opens a row's sealed parts: with the vault keys, or (root_sealed, a row of an older version)
 * with the root ring. Returns SLUICE_VAULT_OK, _EDECRYPT or _ERROR. */
static int open_row(const sluice_vault_t *v, const char *org, const char *name, const char *vendor, int kid,
                    int root_sealed, const unsigned char *nonce, size_t nonce_len, const unsigned char *ct,
                    size_t ct_len, char **pt, size_t *pt_len, sluice_err_t *err)
{
    const sluice_keyring_t *ring = root_sealed ? v->root : v->kr;
    if (ring == NULL) {
        sluice_err_set(err,
                       root_sealed ? "sealed directly under root key id %d by an older version, and this process "
                                     "holds only the vault key: run `sluicectl vault rotate` to re-seal it"
                                   : "no key ring (ENCRYPTION_KEY) to open key id %d",
                       kid);
        return SLUICE_VAULT_EDECRYPT;
    }
    if (nonce_len != SLUICE_AEAD_NONCE_LEN || ct_len < SLUICE_AEAD_TAG_LEN || kid < 1 || kid > 255) {
        sluice_err_set(err, "the row is malformed");
        return SLUICE_VAULT_EDECRYPT;
    }
    uint8_t aad[AAD_MAX];
    size_t aad_len = sluice_vault_aad(org, name, vendor, aad, sizeof(aad));
    size_t n = 1 + nonce_len + ct_len;
    uint8_t *sealed = malloc(n);
    char *out = malloc(ct_len + 1);
    if (sealed == NULL || out == NULL || aad_len == 0) {
        free(sealed);
        free(out);
        sluice_err_set(err, "out of memory");
        return SLUICE_VAULT_ERROR;
    }
    sealed[0] = (uint8_t)kid;
    memcpy(sealed + 1, nonce, nonce_len);
    memcpy(sealed + 1 + nonce_len, ct, ct_len);
    size_t out_len = 0;
    int rc = sluice_aead_open(ring, aad, aad_len, sealed, n, (uint8_t *)out, ct_len + 1, &out_len, err);
    free(sealed);
    if (rc != SLUICE_AEAD_OK) {
        free(out);
        if (rc == SLUICE_AEAD_EINTERNAL)
            return SLUICE_VAULT_ERROR;
        if (rc == SLUICE_AEAD_EUNKNOWN_KID)
            sluice_err_set(err, "sealed under key id %d, which the key ring lacks (add it to SLUICE_KEYRING)", kid);
        else
            sluice_err_set(err,
                           "does not decrypt under key id %d (wrong key, or the row was altered or moved "
                           "to another org, name or vendor)",
                           kid);
        return SLUICE_VAULT_EDECRYPT;
    }
    out[out_len] = '\0';
    *pt = out;
    *pt_len = out_len;
    return SLUICE_VAULT_OK;
}

static PGresult *select_row(sluice_vault_t *v, const char *org, const char *name, const char *vendor)
{
    const char *params[3] = {org, name, vendor};
    return PQexecParams(v->conn,
                        "SELECT key_id, nonce, ciphertext, kdf FROM vault_credentials"
                        " WHERE org = $1 AND name = $2 AND vendor = $3",
                        3, NULL, params, NULL, NULL, 0);
}

int sluice_vault_get(sluice_vault_t *v, const char *org, const char *name, const char *vendor, char **secret,
                     size_t *len, sluice_err_t *err)
{
    *secret = NULL;
    *len = 0;
    if (v->kr == NULL && v->root == NULL)
        return sluice_err_set(err, "no key ring: ENCRYPTION_KEY is needed to read credentials");
    PGresult *r = select_row(v, org, name, vendor);
    if (PQresultStatus(r) != PGRES_TUPLES_OK && PQstatus(v->conn) == CONNECTION_BAD) {
        /* The database restarted or the connection was cut: one fresh connection, one retry. */
        PQclear(r);
        PQreset(v->conn);
        r = select_row(v, org, name, vendor);
    }
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        return pq_error(err, v->conn, "reading credentials");
    }
    if (PQntuples(r) == 0) {
        PQclear(r);
        if (audit(v, "get", org, name, vendor, 0, "not found", err) != 0)
            return SLUICE_VAULT_ERROR;
        sluice_err_set(err, "no credentials in the vault for org '%s', name '%s', vendor '%s'", org, name, vendor);
        return SLUICE_VAULT_ENOTFOUND;
    }
    int kid = (int)strtol(PQgetvalue(r, 0, 0), NULL, 10);
    int root_sealed = strcmp(PQgetvalue(r, 0, 3), "0") == 0;
    size_t nl = 0, cl = 0;
    unsigned char *nonce = bytea(r, 0, 1, &nl), *ct = bytea(r, 0, 2, &cl);
    PQclear(r);
    int rc = SLUICE_VAULT_ERROR;
    sluice_err_t why = {{0}};
    if (nonce == NULL || ct == NULL)
        sluice_err_set(&why, "out of memory");
    else
        rc = open_row(v, org, name, vendor, kid, root_sealed, nonce, nl, ct, cl, secret, len, &why);
    PQfreemem(nonce);
    PQfreemem(ct);
    if (audit(v, "get", org, name, vendor, kid, rc == SLUICE_VAULT_OK ? "ok" : "refused", err) != 0) {
        sluice_vault_free_secret(*secret, *len);
        *secret = NULL;
        *len = 0;
        return SLUICE_VAULT_ERROR;
    }
    if (rc != SLUICE_VAULT_OK)
        sluice_err_set(err, "credentials for org '%s', name '%s', vendor '%s': %s", org, name, vendor, why.msg);
    return rc;
}

int sluice_vault_check_keys(sluice_vault_t *v, sluice_err_t *err)
{
    PGresult *r = PQexec(v->conn, "SELECT org, name, vendor, key_id, kdf, nonce, ciphertext FROM vault_credentials"
                                  " ORDER BY key_id, kdf, org, name, vendor");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        return pq_error(err, v->conn, "checking the keys against the stored credentials");
    }
    /* Per key id and kdf: rows tried, whether one opened, the first that did not. */
    unsigned char tried[2][256] = {{0}}, opened[2][256] = {{0}};
    int first_bad[2][256];
    int n = PQntuples(r);
    for (int i = 0; i < n; i++) {
        int kid = (int)strtol(PQgetvalue(r, i, 3), NULL, 10), kdf = strcmp(PQgetvalue(r, i, 4), "0") != 0;
        const sluice_keyring_t *ring = kdf ? v->kr : v->root;
        if (kid < 1 || kid > 255 || ring == NULL || sluice_keyring_key(ring, (uint8_t)kid) == NULL || opened[kdf][kid])
            continue;
        size_t nl = 0, cl = 0, pl = 0;
        unsigned char *nonce = bytea(r, i, 5, &nl), *ct = bytea(r, i, 6, &cl);
        char *pt = NULL;
        sluice_err_t why = {{0}};
        int rc = nonce && ct ? open_row(v, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2), kid, !kdf,
                                        nonce, nl, ct, cl, &pt, &pl, &why)
                             : SLUICE_VAULT_ERROR;
        PQfreemem(nonce);
        PQfreemem(ct);
        sluice_vault_free_secret(pt, pl);
        if (rc == SLUICE_VAULT_ERROR) {
            PQclear(r);
            return sluice_err_set(err, "checking the keys against the stored credentials: %s",
                                  why.msg[0] ? why.msg : "out of memory");
        }
        if (!tried[kdf][kid])
            first_bad[kdf][kid] = i;
        tried[kdf][kid] = 1;
        opened[kdf][kid] = rc == SLUICE_VAULT_OK;
    }
    for (int kdf = 1; kdf >= 0; kdf--)
        for (int kid = 1; kid < 256; kid++)
            if (tried[kdf][kid] && !opened[kdf][kid]) {
                int i = first_bad[kdf][kid];
                sluice_err_set(err,
                               "%s key id %d opens none of the vault rows sealed under it (such as org '%s', name "
                               "'%s', vendor '%s'): %s holds another key under id %d than the one that sealed them",
                               kdf ? "the vault key of" : "root", kid, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
                               PQgetvalue(r, i, 2),
                               v->kr != NULL && (unsigned)kid == sluice_keyring_primary_kid(v->kr) ? "ENCRYPTION_KEY"
                                                                                                   : "SLUICE_KEYRING",
                               kid);
                PQclear(r);
                return SLUICE_VAULT_EDECRYPT;
            }
    PQclear(r);
    return SLUICE_VAULT_OK;
}

int sluice_vault_delete(sluice_vault_t *v, const char *org, const char *name, const char *vendor, sluice_err_t *err)
{
    if (exec_ok(v, "BEGIN", err) != 0)
        return SLUICE_VAULT_ERROR;
    const char *params[3] = {org, name, vendor};
    PGresult *r = PQexecParams(v->conn,
                               "DELETE FROM vault_credentials WHERE org = $1 AND name = $2 AND vendor = $3"
                               " RETURNING key_id",
                               3, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        pq_error(err, v->conn, "deleting credentials");
        rollback(v);
        return SLUICE_VAULT_ERROR;
    }
    int found = PQntuples(r) == 1;
    int kid = found ? (int)strtol(PQgetvalue(r, 0, 0), NULL, 10) : 0;
    PQclear(r);
    if (audit(v, "delete", org, name, vendor, kid, found ? "deleted" : "not found", err) != 0 ||
        exec_ok(v, "COMMIT", err) != 0) {
        rollback(v);
        return SLUICE_VAULT_ERROR;
    }
    if (!found) {
        sluice_err_set(err, "no credentials in the vault for org '%s', name '%s', vendor '%s'", org, name, vendor);
        return SLUICE_VAULT_ENOTFOUND;
    }
    return SLUICE_VAULT_OK;
}

int sluice_vault_list(sluice_vault_t *v, const char *org, void (*cb)(const sluice_vault_row_t *row, void *ud), void *ud,
                      sluice_err_t *err)
{
    const char *params[1] = {org};
    PGresult *r = PQexecParams(v->conn,
                               "SELECT org, name, vendor, key_id, kdf,"
                               " to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
                               " to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
                               " FROM vault_credentials WHERE $1::text IS NULL OR org = $1"
                               " ORDER BY org, name, vendor",
                               1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        return pq_error(err, v->conn, "listing credentials");
    }
    int n = PQntuples(r);
    for (int i = 0; i < n; i++) {
        sluice_vault_row_t row = {PQgetvalue(r, i, 0),
                                  PQgetvalue(r, i, 1),
                                  PQgetvalue(r, i, 2),
                                  (int)strtol(PQgetvalue(r, i, 3), NULL, 10),
                                  strcmp(PQgetvalue(r, i, 4), "0") == 0,
                                  PQgetvalue(r, i, 5),
                                  PQgetvalue(r, i, 6)};
        cb(&row, ud);
    }
    PQclear(r);
    char detail[32];
    snprintf(detail, sizeof(detail), "%d rows", n);
    if (audit(v, "list", org, NULL, NULL, 0, detail, err) != 0)
        return SLUICE_VAULT_ERROR;
    return n;
}

int sluice_vault_rotate(sluice_vault_t *v, size_t *rotated, size_t *unchanged, sluice_err_t *err)
{
    if (v->kr == NULL)
        return sluice_err_set(err, "no key ring: ENCRYPTION_KEY is needed to rotate");
    unsigned primary = sluice_keyring_primary_kid(v->kr);
    size_t nrot = 0, nsame = 0;
    if (exec_ok(v, "BEGIN", err) != 0)
        return SLUICE_VAULT_ERROR;
    /* FOR UPDATE: a concurrent put or rotate waits for this transaction instead of racing it. */
    PGresult *r = PQexec(v->conn, "SELECT org, name, vendor, key_id, nonce, ciphertext, kdf FROM vault_credentials"
                                  " ORDER BY org, name, vendor FOR UPDATE");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        pq_error(err, v->conn, "reading credentials to rotate");
        rollback(v);
        return SLUICE_VAULT_ERROR;
    }
    int rc = SLUICE_VAULT_OK;
    for (int i = 0; i < PQntuples(r) && rc == SLUICE_VAULT_OK; i++) {
        const char *org = PQgetvalue(r, i, 0), *name = PQgetvalue(r, i, 1), *vendor = PQgetvalue(r, i, 2);
        int kid = (int)strtol(PQgetvalue(r, i, 3), NULL, 10);
        int root_sealed = strcmp(PQgetvalue(r, i, 6), "0") == 0;
        int same = (unsigned)kid == primary && !root_sealed;
        size_t nl = 0, cl = 0, pl = 0;
        unsigned char *nonce = bytea(r, i, 4, &nl), *ct = bytea(r, i, 5, &cl);
        char *pt = NULL;
        sluice_err_t why = {{0}};
        /* A row already under the primary key id is opened too: a new ENCRYPTION_KEY given the old
         * SLUICE_KEY_ID would otherwise find every row "already under it" and open none. */
        rc = nonce && ct ? open_row(v, org, name, vendor, kid, root_sealed, nonce, nl, ct, cl, &pt, &pl, &why)
                         : SLUICE_VAULT_ERROR;
        PQfreemem(nonce);
        PQfreemem(ct);
        if (rc != SLUICE_VAULT_OK) {
            sluice_err_set(err, "org '%s', name '%s', vendor '%s': %s%s; nothing was rotated", org, name, vendor,
                           why.msg[0] ? why.msg : "out of memory",
                           same ? "; a new ENCRYPTION_KEY needs a new SLUICE_KEY_ID, with the old key in SLUICE_KEYRING"
                                : "");
            break;
        }
        if (same) {
            sluice_vault_free_secret(pt, pl);
            nsame++;
            continue;
        }
        uint8_t *sealed = NULL;
        size_t sl = 0;
        int sealed_ok = seal(v, org, name, vendor, pt, pl, &sealed, &sl, err) == 0;
        sluice_vault_free_secret(pt, pl);
        if (!sealed_ok) {
            rc = SLUICE_VAULT_ERROR;
            break;
        }
        char nkid[8];
        snprintf(nkid, sizeof(nkid), "%u", sealed[0]);
        const char *params[6] = {
            org, name, vendor, nkid, (const char *)sealed + 1, (const char *)sealed + 1 + SLUICE_AEAD_NONCE_LEN};
        int lens[6] = {0, 0, 0, 0, SLUICE_AEAD_NONCE_LEN, (int)(sl - 1 - SLUICE_AEAD_NONCE_LEN)};
        int fmts[6] = {0, 0, 0, 0, 1, 1};
        PGresult *u = PQexecParams(v->conn,
                                   "UPDATE vault_credentials SET key_id = $4::smallint, nonce = $5::bytea,"
                                   " ciphertext = $6::bytea, kdf = 1, updated_at = now()"
                                   " WHERE org = $1 AND name = $2 AND vendor = $3",
                                   6, NULL, params, lens, fmts, 0);
        free(sealed);
        int ok = PQresultStatus(u) == PGRES_COMMAND_OK;
        PQclear(u);
        char detail[64];
        snprintf(detail, sizeof(detail), "key %d%s -> %u", kid, root_sealed ? " (root)" : "", primary);
        if (!ok) {
            pq_error(err, v->conn, "re-sealing credentials");
            rc = SLUICE_VAULT_ERROR;
        } else if (audit(v, "rotate", org, name, vendor, (int)primary, detail, err) != 0) {
            rc = SLUICE_VAULT_ERROR;
        } else {
            nrot++;
        }
    }
    PQclear(r);
    if (rc != SLUICE_VAULT_OK || exec_ok(v, "COMMIT", err) != 0) {
        rollback(v);
        return rc != SLUICE_VAULT_OK ? rc : SLUICE_VAULT_ERROR;
    }
    if (rotated != NULL)
        *rotated = nrot;
    if (unchanged != NULL)
        *unchanged = nsame;
    return SLUICE_VAULT_OK;
}

int sluice_vault_audit_list(sluice_vault_t *v, const sluice_vault_audit_filter_t *f,
                            void (*cb)(const sluice_vault_audit_row_t *row, void *ud), void *ud, sluice_err_t *err)
{
    char limit[16];
    snprintf(limit, sizeof(limit), "%u", f->limit > 0 ? f->limit : 50);
    const char *params[5] = {f->org, f->name, f->vendor, f->since, limit};
    /* An unnamed statement is planned with its values, so each filter left out drops from the
     * plan: one credential's rows come from vault_audit_credential, everything from vault_audit_at. */
    PGresult *r = PQexecParams(v->conn,
                               "SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), actor, action,"
                               " coalesce(org, ''), coalesce(name, ''), coalesce(vendor, ''), coalesce(key_id, 0),"
                               " detail FROM vault_audit"
                               " WHERE ($1::text IS NULL OR org = $1) AND ($2::text IS NULL OR name = $2)"
                               " AND ($3::text IS NULL OR vendor = $3) AND ($4::timestamptz IS NULL OR at >= $4)"
                               " ORDER BY at DESC, id DESC LIMIT $5::bigint",
                               5, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        return pq_error(err, v->conn, "reading the vault audit");
    }
    int n = PQntuples(r);
    for (int i = 0; i < n; i++) {
        sluice_vault_audit_row_t row = {PQgetvalue(r, i, 0),
                                        PQgetvalue(r, i, 1),
                                        PQgetvalue(r, i, 2),
                                        PQgetvalue(r, i, 3),
                                        PQgetvalue(r, i, 4),
                                        PQgetvalue(r, i, 5),
                                        (int)strtol(PQgetvalue(r, i, 6), NULL, 10),
                                        PQgetvalue(r, i, 7)};
        cb(&row, ud);
    }
    PQclear(r);
    return n;
}

int sluice_vault_audit_prune(sluice_vault_t *v, unsigned retention_days, unsigned batch, size_t *deleted, char *cutoff,
                             size_t cutoff_cap, sluice_err_t *err)
{
    *deleted = 0;
    if (cutoff_cap > 0)
        cutoff[0] = '\0';
    if (retention_days == 0 || batch == 0)
        return sluice_err_set(err, "pruning the vault audit: the retention and the batch must be at least 1");
    /* The cutoff is fixed once, by the database's clock: the loop ends even while workers add rows,
     * and rows that age past it meanwhile wait for the next run. */
    char days[16], size[16];
    snprintf(days, sizeof(days), "%u", retention_days);
    snprintf(size, sizeof(size), "%u", batch);
    const char *p1[1] = {days};
    PGresult *r = PQexecParams(v->conn,
                               "SELECT now() - make_interval(days => $1::int),"
                               " to_char((now() - make_interval(days => $1::int)) AT TIME ZONE 'UTC',"
                               " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
                               1, NULL, p1, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        PQclear(r);
        return pq_error(err, v->conn, "pruning the vault audit");
    }
    char at[64];
    snprintf(at, sizeof(at), "%s", PQgetvalue(r, 0, 0));
    if (cutoff_cap > 0)
        snprintf(cutoff, cutoff_cap, "%s", PQgetvalue(r, 0, 1));
    PQclear(r);
    /* One transaction per batch, oldest first through vault_audit_at: each holds its row locks for
     * one batch only, and a run stopped half-way has removed the oldest rows. Workers' INSERTs
     * never wait on a DELETE of other rows. */
    const char *p2[2] = {at, size};
    int rc = 0;
    for (;;) {
        r = PQexecParams(v->conn,
                         "DELETE FROM vault_audit WHERE id IN (SELECT id FROM vault_audit WHERE at < $1::timestamptz"
                         " ORDER BY at LIMIT $2::int)",
                         2, NULL, p2, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            PQclear(r);
            rc = pq_error(err, v->conn, "pruning the vault audit");
            break;
        }
        size_t n = (size_t)strtoull(PQcmdTuples(r), NULL, 10);
        PQclear(r);
        *deleted += n;
        if (n < batch)
            break;
    }
    /* Who removed how much of the trail, also after a failure: the prune is audited as well. */
    char detail[160];
    snprintf(detail, sizeof(detail), "%zu rows before %s (retention %u days)%s", *deleted, cutoff_cap > 0 ? cutoff : at,
             retention_days, rc != 0 ? ", stopped by an error" : "");
    sluice_err_t audit_err = {{0}};
    if (audit(v, "prune", NULL, NULL, NULL, 0, detail, rc != 0 ? &audit_err : err) != 0 && rc == 0)
        rc = -1;
    return rc;
}
