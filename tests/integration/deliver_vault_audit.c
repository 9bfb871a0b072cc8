/*
 * The vault's audit trail against a real PostgreSQL: `sluicectl vault audit` (the newest rows,
 * one credential's reads), `sluicectl vault audit prune` (exactly the rows older than
 * database.audit_retention_days, in bounded batches, itself recorded), a worker that goes on
 * reading credentials and delivering while a prune runs, the worker's least-privilege role that
 * may not prune, and the migrations that bring an existing vault's audit table up to date (an
 * interrupted concurrent index build rebuilt).
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

#include "tests/integration/deliver_fix.h"

static dfix_t F;
static PGconn *db;

static char *sql1(const char *q)
{
    return dfix_sql1(db, q);
}

static void sql_is(const char *q, const char *want)
{
    char *v = sql1(q);
    if (strcmp(v, want) != 0)
        print_error("%s: got '%s', want '%s'\n", q, v, want);
    assert_string_equal(v, want);
    free(v);
}

static const char *const carol[] = {"USER=carol", NULL};

static void run(const char *const *args, const char *const *env, int want_exit, sluice_th_output_t *out)
{
    dfix_sluicectl_exit(&F, args, env, NULL, want_exit, out);
}

/* `vault audit prune` with args succeeds, saying it removed `removed` rows under a retention of
 * `days`. */
static void prune_removes(const char *const *args, const char *removed, unsigned days)
{
    sluice_th_output_t out;
    run(args, carol, 0, &out);
    char want[96];
    snprintf(want, sizeof(want), "removed %s audit rows older than ", removed);
    assert_non_null(strstr(out.out, want));
    snprintf(want, sizeof(want), "(database.audit_retention_days %u)", days);
    assert_non_null(strstr(out.out, want));
    sluice_th_output_dispose(&out);
}

#define INTEGRATIONS "      - {name: meta, vendor: meta, pixel_id: \"111\"}\n"

/* The fixture's config with `database.audit_retention_days: days` added. */
static void set_retention(unsigned days)
{
    dfix_write_config(&F, INTEGRATIONS, NULL);
    char text[64];
    snprintf(text, sizeof(text), ", audit_retention_days: %u", days);
    dfix_config_insert(&F, "dbname=sluice_vault\"", text);
}

static int setup(void **state)
{
    (void)state;
    dfix_init(&F, NULL, NULL, NULL, 1);
    dfix_write_config(&F, INTEGRATIONS, NULL);
    db = PQconnectdb(F.pg.conninfo);
    assert_int_equal(PQstatus(db), CONNECTION_OK);
    /* The fixture's first sluicectl opens the vault and applies the migrations. */
    dfix_vault_put(&F, "meta", "meta", "{\"access_token\":\"tok-audit\"}");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    PQfinish(db);
    sluice_th_teardown();
    return 0;
}

/* Rows of a made-up past: n 'get' rows of acme/meta/meta `days` days ago, by an old worker. */
static void old_reads(int n, const char *days)
{
    char q[512];
    snprintf(q, sizeof(q),
             "INSERT INTO vault_audit (at, actor, action, org, name, vendor, key_id, detail)"
             " SELECT now() - interval '%s days' + g * interval '1 ms', 'sluice-deliver@old pid 1', 'get', 'acme',"
             " 'meta', 'meta', 1, 'ok' FROM generate_series(1, %d) g",
             days, n);
    free(sql1(q));
}

/* Each DELETE statement on vault_audit writes how many rows it removed into prune_batches, so
 * the test sees the batches a prune ran in. With hold, each also waits, its transaction open,
 * while the test holds advisory lock HOLD_KEY. */
#define HOLD_KEY_TEXT "4242"
static void watch_batches(int hold)
{
    char q[1024];
    snprintf(q, sizeof(q),
             "DROP TABLE IF EXISTS prune_batches; CREATE TABLE prune_batches (n bigint, at timestamptz DEFAULT "
             "clock_timestamp());"
             "CREATE OR REPLACE FUNCTION count_batch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
             " INSERT INTO prune_batches (n) SELECT count(*) FROM gone;%s RETURN NULL; END $$;"
             "DROP TRIGGER IF EXISTS count_batch ON vault_audit;"
             "CREATE TRIGGER count_batch AFTER DELETE ON vault_audit REFERENCING OLD TABLE AS gone"
             " FOR EACH STATEMENT EXECUTE FUNCTION count_batch()",
             hold ? " PERFORM pg_advisory_lock_shared(" HOLD_KEY_TEXT
                    "); PERFORM pg_advisory_unlock_shared(" HOLD_KEY_TEXT ");"
                  : "");
    free(sql1(q));
}

static void unwatch_batches(void)
{
    free(sql1("DROP TRIGGER IF EXISTS count_batch ON vault_audit; DROP FUNCTION IF EXISTS count_batch();"
              "DROP TABLE IF EXISTS prune_batches"));
}

/* A vault of an older sluice (schema version 3: no prune action, no index by credential), with
 * its audit rows, is brought up to date by `vault migrate`; an index build a killed sluicectl
 * left invalid under the index's name is built again, not taken as done. */
static void test_migrations_on_an_existing_vault(void **state)
{
    (void)state;
    sql_is("SELECT string_agg(version::text || ':' || name, ',' ORDER BY version) FROM schema_migrations",
           "1:credentials and audit,2:keys by purpose,3:forget requests and suppression,4:audit prune action,"
           "5:audit index by credential");
    old_reads(1000, "10");
    /* Back to version 3, with an invalid index where the new one goes: CREATE INDEX CONCURRENTLY
     * that failed half-way (here: a unique index over duplicates) leaves exactly that. */
    free(
        sql1("DROP INDEX vault_audit_credential;"
             "ALTER TABLE vault_audit DROP CONSTRAINT vault_audit_action_check, ADD CONSTRAINT vault_audit_action_check"
             " CHECK (action IN ('put', 'get', 'delete', 'list', 'rotate'));"
             "DELETE FROM schema_migrations WHERE version > 3"));
    PGresult *r = PQexec(db, "CREATE UNIQUE INDEX CONCURRENTLY vault_audit_credential ON vault_audit (action)");
    assert_int_equal(PQresultStatus(r), PGRES_FATAL_ERROR);
    PQclear(r);
    sql_is("SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
           " WHERE c.relname = 'vault_audit_credential'",
           "f");

    sluice_th_output_t out;
    const char *migrate[] = {"vault", "migrate", "--config", F.config, NULL};
    run(migrate, NULL, 0, &out);
    assert_non_null(strstr(out.out, "vault schema version 5"));
    sluice_th_output_dispose(&out);
    sql_is("SELECT i.indisvalid::text || ' ' || pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class c"
           " ON c.oid = i.indexrelid WHERE c.relname = 'vault_audit_credential'",
           "true CREATE INDEX vault_audit_credential ON public.vault_audit USING btree (org, name, vendor, at)");
    sql_is("SELECT count(*) FROM vault_audit WHERE actor = 'sluice-deliver@old pid 1'", "1000");
    /* The wider check is in force for new rows. */
    r = PQexec(db, "INSERT INTO vault_audit (actor, action) VALUES ('t', 'erase')");
    assert_int_equal(PQresultStatus(r), PGRES_FATAL_ERROR);
    PQclear(r);
    free(sql1("DELETE FROM vault_audit WHERE actor = 'sluice-deliver@old pid 1'"));
}

/* The pid of a backend of this database whose query starts with prefix and that waits on a lock,
 * or "" while there is none, asked on its own connection (pg_stat_activity stays as it was for
 * the rest of a transaction). Caller frees. */
static char *lock_waiter(const char *prefix)
{
    PGconn *c = PQconnectdb(F.pg.conninfo);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    char q[512];
    snprintf(q, sizeof(q),
             "SELECT coalesce(min(pid)::text, '') FROM pg_stat_activity WHERE datname = current_database()"
             " AND wait_event_type = 'Lock' AND query LIKE '%s%%'",
             prefix);
    char *v = dfix_sql1(c, q);
    PQfinish(c);
    return v;
}

/* Two `vault migrate` at once (two pods' init containers) while migration 5's concurrent index
 * build runs: the second waits for the first and both end with version 5. The second used to
 * wait in pg_advisory_lock, inside a statement whose snapshot the index build waits for, and
 * PostgreSQL broke the cycle by failing one of them with "deadlock detected". */
static void test_two_migrations_at_once(void **state)
{
    (void)state;
    free(sql1("DROP INDEX vault_audit_credential; DELETE FROM schema_migrations WHERE version > 4"));
    /* A worker's audit INSERT still open: the index build waits for it at its start. */
    free(sql1("BEGIN"));
    free(sql1("LOCK TABLE vault_audit IN ROW EXCLUSIVE MODE"));
    char bin[PATH_MAX];
    snprintf(bin, sizeof(bin), "%s/tools/sluicectl", sluice_th_build_dir());
    const char *argv[] = {bin, "vault", "migrate", "--config", F.config, NULL};
    sluice_err_t err = {{0}};
    sluice_th_proc_t *first = sluice_th_spawn("migrate-1", argv, NULL, &err);
    assert_non_null(first);
    char *pid = NULL;
    for (int i = 0; i < 200; i++) {
        free(pid);
        if ((pid = lock_waiter("CREATE INDEX CONCURRENTLY"))[0] != '\0')
            break;
        usleep(50 * 1000);
    }
    assert_string_not_equal(pid, "");
    free(pid);
    sluice_th_proc_t *second = sluice_th_spawn("migrate-2", argv, NULL, &err);
    assert_non_null(second);
    usleep(500 * 1000); /* the second has asked for the migration lock */
    free(sql1("COMMIT"));
    int st1 = 0, st2 = 0;
    assert_int_equal(sluice_th_proc_wait(first, 30000, &st1, &err), 0);
    assert_int_equal(sluice_th_proc_wait(second, 30000, &st2, &err), 0);
    char tail[512];
    sluice_th_log_tail(second, tail, sizeof(tail));
    if (!sluice_th_exited_with(st1, 0) || !sluice_th_exited_with(st2, 0))
        print_error("first exit %d, second exit %d: %s\n", st1 >> 8, st2 >> 8, tail);
    assert_true(sluice_th_exited_with(st1, 0));
    assert_true(sluice_th_exited_with(st2, 0));
    sql_is("SELECT max(version) FROM schema_migrations", "5");
    sql_is("SELECT i.indisvalid::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
           " WHERE c.relname = 'vault_audit_credential'",
           "true");
}

/* Prune removes exactly the rows older than the retention, oldest first, in transactions of at
 * most --batch rows, keeps the rest, and records itself; the retention comes from the config. */
static void test_prune_keeps_the_retention(void **state)
{
    (void)state;
    free(sql1("DELETE FROM vault_audit"));
    old_reads(7, "900");
    old_reads(1234, "401");
    old_reads(50, "399"); /* inside 400 days: kept */
    old_reads(20, "1");
    watch_batches(0);
    sluice_th_output_t out;
    const char *prune[] = {"vault", "audit", "prune", "--config", F.config, "--batch", "100", NULL};
    prune_removes(prune, "1241", 400);
    sql_is("SELECT count(*) FROM vault_audit WHERE action = 'get'", "70");
    sql_is("SELECT count(*) FROM vault_audit WHERE action = 'get' AND at < now() - interval '400 days'", "0");
    sql_is("SELECT count(*) FROM vault_audit WHERE at BETWEEN now() - interval '399 days 1 minute' AND now() - "
           "interval '398 days'",
           "50");
    /* 12 full batches and one of 41 (and the last, empty one when the count falls on a batch). */
    sql_is("SELECT count(*) || ' ' || max(n) || ' ' || sum(n) FROM prune_batches WHERE n > 0", "13 100 1241");
    sql_is("SELECT count(*) FROM vault_audit WHERE action = 'prune' AND actor = 'carol (sluicectl)' AND detail"
           " ~ '^1241 rows before 20[0-9-]{8}T[0-9:]{8}Z \\(retention 400 days\\)$'",
           "1");
    unwatch_batches();

    /* A shorter retention in the config: the 399-day-old rows go, yesterday's and the prune's
     * own row stay. */
    set_retention(30);
    const char *prune_default[] = {"vault", "audit", "prune", "--config", F.config, NULL};
    prune_removes(prune_default, "50", 30);
    sql_is("SELECT count(*) FROM vault_audit WHERE action = 'get'", "20");
    sql_is("SELECT count(*) FROM vault_audit WHERE action = 'prune'", "2");
    /* Nothing left to remove: a rerun removes nothing (and says so). */
    prune_removes(prune_default, "0", 30);

    /* A retention a typo made (4 for 400) is refused with its place in the file; nothing removed. */
    set_retention(4);
    run(prune_default, carol, 1, &out);
    assert_non_null(strstr(out.errout, "deliver.yaml:7:"));
    assert_non_null(strstr(out.errout, ": database.audit_retention_days: 4 is out of range (7..36500)"));
    sluice_th_output_dispose(&out);
    sql_is("SELECT count(*) FROM vault_audit WHERE action = 'get'", "20");
    const char *bad_batch[] = {"vault", "audit", "prune", "--config", F.config, "--batch", "10k", NULL};
    run(bad_batch, carol, 2, &out);
    assert_non_null(strstr(out.errout, "sluicectl vault audit prune: --batch '10k' is not a number from 1 to 100000"));
    sluice_th_output_dispose(&out);
    const char *prune_org[] = {"vault", "audit", "prune", "--config", F.config, "--org", "acme", NULL};
    run(prune_org, carol, 2, &out);
    assert_non_null(strstr(out.errout, "sluicectl vault audit prune does not take --org"));
    sluice_th_output_dispose(&out);
    dfix_write_config(&F, INTEGRATIONS, NULL);
}

/* The worker goes on reading credentials (each read audited) and delivering while a prune of a
 * large backlog runs; its reads are listed by `vault audit` afterwards, newest first, and one
 * credential's rows can be asked for alone. */
static void test_worker_reads_during_a_prune_and_the_listing_shows_them(void **state)
{
    (void)state;
    free(sql1("DELETE FROM vault_audit"));
    old_reads(20000, "500");
    old_reads(3, "2");
    free(sql1("INSERT INTO vault_audit (at, actor, action, org, name, vendor, key_id, detail) VALUES"
              " (now() - interval '1 day', 'alice (sluicectl)', 'put', 'globex', 'ga4', 'ga4', 1, 'created')"));
    static dstub_t meta;
    dfix_stub(&F, &meta, "meta", NULL, NULL);
    char integrations[512];
    snprintf(integrations, sizeof(integrations),
             "      - {name: meta, vendor: meta, pixel_id: \"111\", base_url: \"%s\", batch: {max_wait_ms: 50}}\n",
             meta.url);
    dfix_write_config(&F, integrations, NULL);
    dfix_start_worker(&F, NULL, 1);

    /* The prune's first batch waits inside its transaction, its rows locked, until the worker has
     * read and delivered. */
    watch_batches(1);
    free(sql1("SELECT pg_advisory_lock(" HOLD_KEY_TEXT ")"));
    char bin[PATH_MAX];
    snprintf(bin, sizeof(bin), "%s/tools/sluicectl", sluice_th_build_dir());
    const char *argv[] = {bin, "vault", "audit", "prune", "--config", F.config, "--batch", "1000", NULL};
    sluice_th_spawn_opts_t opts = {.env = carol};
    sluice_err_t err = {{0}};
    sluice_th_proc_t *pruner = sluice_th_spawn("prune", argv, &opts, &err);
    assert_non_null(pruner);
    char *waiting = NULL;
    for (int i = 0; i < 600 && (waiting == NULL || strcmp(waiting, "0") == 0); i++) {
        free(waiting);
        sluice_th_sleep_ms(50);
        waiting = sql1("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted");
    }
    assert_string_equal(waiting, "1"); /* the prune's first batch is under way */
    free(waiting);

    char *env = dfix_envelope("during-prune", dfix_now_ms(), NULL);
    dfix_produce(&F, &env, 1, NULL);
    free(env);
    json_t *req = dfix_wait_request(&meta, "during-prune", 20000);
    json_decref(req);
    /* Delivered, its read audited, while the prune's batch was open. */
    assert_true(sluice_th_proc_running(pruner));
    sql_is("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted", "1");
    sql_is("SELECT count(*) FROM vault_audit WHERE action = 'get' AND detail = 'ok' AND actor LIKE 'sluice-deliver@%'"
           " AND actor <> 'sluice-deliver@old pid 1'",
           "1");
    free(sql1("SELECT pg_advisory_unlock(" HOLD_KEY_TEXT ")"));
    int status = 0;
    assert_int_equal(sluice_th_proc_wait(pruner, 60000, &status, &err), 0);
    assert_true(sluice_th_exited_with(status, 0));
    unwatch_batches();
    sql_is("SELECT count(*) FROM vault_audit WHERE at < now() - interval '400 days'", "0");

    sluice_th_output_t out;
    const char *all[] = {"vault", "audit", "--config", F.config, "--limit", "3", NULL};
    run(all, carol, 0, &out);
    /* Header, then the newest three: the prune's row, the worker's read, the put of yesterday. */
    assert_int_equal(sluice_th_count(out.out, "\n"), 4);
    const char *prune_row = strstr(out.out, " prune "), *read_row = strstr(out.out, " get ");
    const char *put_row = strstr(out.out, " put ");
    assert_non_null(prune_row);
    assert_non_null(read_row);
    assert_non_null(put_row);
    assert_true(prune_row < read_row && read_row < put_row);
    assert_non_null(strstr(out.out, "20000 rows before"));
    assert_non_null(strstr(read_row, "acme             meta                 meta     1    ok"));
    assert_null(strstr(out.out, "tok-audit"));
    sluice_th_output_dispose(&out);

    const char *one[] = {"vault",  "audit", "--config", F.config, "--org", "acme",
                         "--name", "meta",  "--vendor", "meta",   NULL};
    run(one, carol, 0, &out);
    assert_int_equal(sluice_th_count(out.out, " get "), 4); /* the worker's read and the three of 2 days ago */
    assert_null(strstr(out.out, "globex"));
    assert_null(strstr(out.out, " prune "));
    sluice_th_output_dispose(&out);
    /* An org no longer in the config keeps its trail, and it can be listed. */
    const char *gone[] = {"vault", "audit", "--config", F.config, "--org", "globex", NULL};
    run(gone, carol, 0, &out);
    assert_non_null(strstr(out.out, "alice (sluicectl)"));
    assert_int_equal(sluice_th_count(out.out, "\n"), 2);
    sluice_th_output_dispose(&out);
    const char *since[] = {"vault", "audit", "--config", F.config, "--org", "acme", "--since", "yesterday", NULL};
    run(since, carol, 0, &out);
    assert_int_equal(sluice_th_count(out.out, " get "), 1);
    sluice_th_output_dispose(&out);
    dfix_stop_worker(&F, SIGTERM);
}

/* The worker's role (docs/vault.md: INSERT on vault_audit and no more) may not prune: a worker's
 * credentials must not be able to erase the trail of their own reads. The refusal says so. */
static void test_worker_role_may_not_prune(void **state)
{
    (void)state;
    free(sql1("DELETE FROM vault_audit"));
    free(sql1("DROP ROLE IF EXISTS sluice_worker; CREATE ROLE sluice_worker LOGIN"));
    free(sql1("GRANT SELECT ON schema_migrations, vault_credentials, forget_requests, forget_suppression TO "
              "sluice_worker"));
    free(sql1("GRANT INSERT ON vault_audit TO sluice_worker; GRANT USAGE ON SEQUENCE vault_audit_id_seq TO "
              "sluice_worker"));
    old_reads(5, "500");
    char url[512];
    snprintf(url, sizeof(url), "SLUICE_DATABASE_URL=%s user=sluice_worker", F.pg.conninfo);
    const char *env[] = {url, "USER=mallory", NULL};
    sluice_th_output_t out;
    const char *prune[] = {"vault", "audit", "prune", "--config", F.config, NULL};
    run(prune, env, 1, &out);
    assert_non_null(strstr(out.errout, "sluicectl vault audit prune: pruning the vault audit: ERROR:  permission "
                                       "denied for table vault_audit"));
    sluice_th_output_dispose(&out);
    sql_is("SELECT count(*) FROM vault_audit WHERE actor = 'sluice-deliver@old pid 1'", "5");
    free(sql1("DELETE FROM vault_audit WHERE actor = 'sluice-deliver@old pid 1'"));
    free(sql1("DROP OWNED BY sluice_worker; DROP ROLE sluice_worker"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_migrations_on_an_existing_vault),
        cmocka_unit_test(test_two_migrations_at_once),
        cmocka_unit_test(test_prune_keeps_the_retention),
        cmocka_unit_test(test_worker_reads_during_a_prune_and_the_listing_shows_them),
        cmocka_unit_test(test_worker_role_may_not_prune),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
