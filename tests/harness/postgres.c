/*
 * The harness's PostgreSQL service: initdb and the postmaster as harness children, readiness
 * and database creation through libpq. Runs on the harness thread.
 */
#include "tests/harness/postgres.h"

#include <errno.h>
#include <glob.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libpq-fe.h>

#define INITDB_TIMEOUT_MS 120000
#define READY_TIMEOUT_MS  60000
#define EXIT_TIMEOUT_MS   10000

/* $SLUICE_PG_BINDIR, else the /usr/lib/postgresql/<N>/bin with the highest N holding `postgres`. */
static int find_bindir(char *out, size_t cap, sluice_err_t *err)
{
    const char *env = getenv("SLUICE_PG_BINDIR");
    if (env && env[0] != '\0') {
        if ((size_t)snprintf(out, cap, "%s", env) >= cap)
            return sluice_err_set(err, "SLUICE_PG_BINDIR is too long");
        return 0;
    }
    glob_t g;
    if (glob("/usr/lib/postgresql/*/bin/postgres", 0, NULL, &g) != 0)
        return sluice_err_set(err, "no PostgreSQL server found (/usr/lib/postgresql/*/bin/postgres); "
                                   "install postgresql or set SLUICE_PG_BINDIR");
    long best = -1;
    for (size_t i = 0; i < g.gl_pathc; i++) {
        const char *version = g.gl_pathv[i] + strlen("/usr/lib/postgresql/");
        long v = strtol(version, NULL, 10);
        if (v > best) {
            best = v;
            snprintf(out, cap, "%.*s", (int)(strlen(g.gl_pathv[i]) - strlen("/postgres")), g.gl_pathv[i]);
        }
    }
    globfree(&g);
    return 0;
}

static int valid_dbname(const char *s)
{
    if (s[0] == '\0' || strlen(s) >= 64)
        return 0;
    for (; *s != '\0'; s++) {
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return 0;
    }
    return 1;
}

/* Creates dir (mode 0700) and, when running as root, hands it to the `postgres` user. */
static int make_dir(const char *dir, const sluice_th_spawn_opts_t *as, sluice_err_t *err)
{
    if (mkdir(dir, 0700) != 0)
        return sluice_err_set(err, "mkdir %s: %s", dir, strerror(errno));
    if (as->drop_privileges && chown(dir, as->uid, as->gid) != 0)
        return sluice_err_set(err, "chown %s to postgres: %s", dir, strerror(errno));
    return 0;
}

/* Fails the step, quoting the end of the child's log. */
static int step_failed(sluice_th_proc_t *p, const char *what, sluice_err_t *err)
{
    char tail[240];
    sluice_th_log_tail(p, tail, sizeof(tail));
    return sluice_err_set(err, "postgres: %s (log: %s)", what, tail);
}

static int run_initdb(sluice_th_pg_t *pg, const char *bindir, const sluice_th_spawn_opts_t *as, sluice_err_t *err)
{
    char initdb[PATH_MAX], data[sizeof(pg->dir) + 8], name[32];
    snprintf(initdb, sizeof(initdb), "%s/initdb", bindir);
    snprintf(data, sizeof(data), "%s/data", pg->dir);
    snprintf(name, sizeof(name), "initdb-%d", pg->port);
    /* clang-format off */ /* one option and its value per line */
    const char *argv[] = {initdb,
                          "-D", data,
                          "-U", SLUICE_TH_PG_USER,
                          "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync", "--no-instructions",
                          NULL};
    /* clang-format on */
    sluice_th_proc_t *p = sluice_th_spawn(name, argv, as, err);
    if (!p)
        return -1;
    int st;
    if (sluice_th_proc_wait(p, INITDB_TIMEOUT_MS, &st, err) != 0) {
        sluice_th_proc_stop(p, 1000, NULL, NULL);
        return step_failed(p, "initdb did not finish within 120 s", err);
    }
    if (!sluice_th_exited_with(st, 0))
        return step_failed(p, "initdb failed", err);
    return 0;
}

/* Connects to `db`; NULL (message in err) when the server does not accept us yet. */
static PGconn *connect_db(const sluice_th_pg_t *pg, const char *db, sluice_err_t *err)
{
    char conninfo[320];
    snprintf(conninfo, sizeof(conninfo), "host=127.0.0.1 port=%d user=%s dbname=%s connect_timeout=2", pg->port,
             SLUICE_TH_PG_USER, db);
    PGconn *c = PQconnectdb(conninfo);
    if (PQstatus(c) != CONNECTION_OK) {
        sluice_err_set(err, "connect to 127.0.0.1:%d: %s", pg->port, c ? PQerrorMessage(c) : "out of memory");
        PQfinish(c);
        return NULL;
    }
    return c;
}

static int accepts_connections(void *arg)
{
    sluice_th_pg_t *pg = arg;
    if (!sluice_th_proc_running(pg->proc))
        return 1; /* stop waiting: the caller reports the exit */
    PGconn *c = connect_db(pg, "postgres", NULL);
    PQfinish(c);
    return c != NULL;
}

static int create_database(sluice_th_pg_t *pg, sluice_err_t *err)
{
    PGconn *c = connect_db(pg, "postgres", err);
    if (!c)
        return -1;
    char sql[128];
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", pg->dbname);
    PGresult *res = PQexec(c, sql);
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok)
        sluice_err_set(err, "postgres: CREATE DATABASE %s: %s", pg->dbname, PQerrorMessage(c));
    PQclear(res);
    PQfinish(c);
    return ok ? 0 : -1;
}

int sluice_th_pg_start(sluice_th_pg_t *pg, int port, const char *dbname, sluice_err_t *err)
{
    if (pg->proc && sluice_th_proc_running(pg->proc))
        return sluice_err_set(err, "postgres is already running on port %d", pg->port);
    if (!dbname)
        dbname = "sluice_test";
    if (!valid_dbname(dbname))
        return sluice_err_set(err, "postgres: database name must be 1-63 of [a-z0-9_]");
    char bindir[PATH_MAX - 32];
    if (find_bindir(bindir, sizeof(bindir), err) != 0)
        return -1;
    if (port == 0 && (port = sluice_th_free_port(err)) < 0)
        return -1;

    pg->port = port;
    snprintf(pg->dbname, sizeof(pg->dbname), "%s", dbname);
    char rel[32];
    snprintf(rel, sizeof(rel), "postgres-%d", port);
    if (sluice_th_path(pg->dir, sizeof(pg->dir), rel, err) != 0)
        return -1;
    snprintf(pg->conninfo, sizeof(pg->conninfo), "host=127.0.0.1 port=%d user=%s dbname=%s", port, SLUICE_TH_PG_USER,
             dbname);
    snprintf(pg->url, sizeof(pg->url), "postgresql://%s@127.0.0.1:%d/%s", SLUICE_TH_PG_USER, port, dbname);

    /* PostgreSQL refuses to run as root: as root, initdb and the server run as `postgres`. */
    sluice_th_spawn_opts_t as = {.stop_signal = SIGINT /* fast shutdown */};
    if (geteuid() == 0) {
        struct passwd *pw = getpwnam("postgres");
        if (!pw)
            return sluice_err_set(err, "postgres: running as root needs the `postgres` OS user (from the "
                                       "postgresql package) to run the server as");
        as.drop_privileges = 1;
        as.uid = pw->pw_uid;
        as.gid = pw->pw_gid;
    }
    char sock[sizeof(pg->dir) + 8];
    snprintf(sock, sizeof(sock), "%s/sock", pg->dir);
    if (make_dir(pg->dir, &as, err) != 0 || make_dir(sock, &as, err) != 0)
        return -1;
    if (run_initdb(pg, bindir, &as, err) != 0)
        return -1;

    char postgres[PATH_MAX], data[sizeof(pg->dir) + 8], port_s[16], name[32];
    snprintf(postgres, sizeof(postgres), "%s/postgres", bindir);
    snprintf(data, sizeof(data), "%s/data", pg->dir);
    snprintf(port_s, sizeof(port_s), "%d", port);
    snprintf(name, sizeof(name), "postgres-%d", port);
    /* Durability is irrelevant for a cluster that is deleted afterwards; speed is not. */
    /* clang-format off */ /* one option and its value per line */
    const char *argv[] = {postgres,
                          "-D", data,
                          "-p", port_s,
                          "-k", sock,
                          "-c", "listen_addresses=127.0.0.1",
                          "-c", "fsync=off",
                          "-c", "synchronous_commit=off",
                          "-c", "full_page_writes=off",
                          "-c", "logging_collector=off",
                          NULL};
    /* clang-format on */
    as.cwd = pg->dir;
    pg->proc = sluice_th_spawn(name, argv, &as, err);
    if (!pg->proc)
        return -1;
    if (sluice_th_wait_until(accepts_connections, pg, READY_TIMEOUT_MS) != 0 || !sluice_th_proc_running(pg->proc)) {
        /* The message quotes the log before the shutdown adds its own lines. */
        const char *what = sluice_th_proc_running(pg->proc) ? "no connection within 60 s" : "it exited during start-up";
        step_failed(pg->proc, what, err);
        sluice_th_pg_stop(pg, NULL);
        return -1;
    }
    if (create_database(pg, err) != 0) {
        sluice_th_pg_stop(pg, NULL);
        return -1;
    }
    return 0;
}

static int cluster_gone(void *arg)
{
    const sluice_th_pg_t *pg = arg;
    return sluice_th_procs_in_dir(pg->dir) == 0;
}

int sluice_th_pg_stop(sluice_th_pg_t *pg, sluice_err_t *err)
{
    if (!pg->proc)
        return 0;
    int rc = sluice_th_proc_stop(pg->proc, SLUICE_TH_STOP_TIMEOUT_MS, NULL, err);
    /* The backends and auxiliary processes notice the postmaster's exit on their own. */
    if (sluice_th_wait_until(cluster_gone, pg, EXIT_TIMEOUT_MS) != 0)
        rc = sluice_err_set(err,
                            "postgres: processes of the cluster in %s still running %d s after the postmaster "
                            "exited",
                            pg->dir, EXIT_TIMEOUT_MS / 1000);
    return rc;
}
