/*
 * A throwaway PostgreSQL cluster for tests and the dev stack: initdb into the temp dir, the
 * `postgres` server binary run directly as a harness child (so it dies with the test), TCP on
 * 127.0.0.1 plus a Unix socket in the cluster dir, trust auth, fsync off. As root, initdb and the
 * server run as the `postgres` OS user (PostgreSQL refuses root); otherwise as the current user.
 * The binaries come from $SLUICE_PG_BINDIR, else the newest /usr/lib/postgresql/<N>/bin.
 * Same threading and error rules as harness.h.
 */
#ifndef SLUICE_TESTS_HARNESS_POSTGRES_H
#define SLUICE_TESTS_HARNESS_POSTGRES_H

#include <limits.h>

#include "tests/harness/harness.h"

/* The superuser initdb creates; no password (trust auth on loopback and the socket only). */
#define SLUICE_TH_PG_USER "sluice"

/* Caller storage; zero-initialise. The fields are read-only for the caller. */
typedef struct sluice_th_pg {
    int port;
    char dbname[64];
    char dir[PATH_MAX];     /* the cluster: data/ and sock/ inside */
    char conninfo[256];     /* "host=127.0.0.1 port=P user=sluice dbname=D" (libpq keyword form) */
    char url[256];          /* "postgresql://sluice@127.0.0.1:P/D" */
    sluice_th_proc_t *proc; /* the postmaster; NULL until started */
} sluice_th_pg_t;

/* Creates a fresh cluster on `port` (0: a free one), starts it, waits until libpq connects (at
 * most 60 s) and creates database `dbname` ([a-z0-9_], NULL: "sluice_test"). -1 if any step
 * fails; the message names the step and quotes the end of its log. */
int sluice_th_pg_start(sluice_th_pg_t *pg, int port, const char *dbname, sluice_err_t *err);

/* Fast shutdown (SIGINT; SIGKILL after 10 s), then waits until no process of the cluster is left
 * (the backends exit after the postmaster). 0 also when it was not running. */
int sluice_th_pg_stop(sluice_th_pg_t *pg, sluice_err_t *err);

#endif
