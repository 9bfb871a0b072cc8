/*
 * The development Kafka broker for tests and the dev stack: `sluicectl dev-kafka` from the
 * build tree (sluice_th_build_dir()/tools/sluicectl) as a harness child. Ready once it wrote its
 * bootstrap file; brokers go down and up through SIGUSR1/SIGUSR2, single brokers and partition
 * leaders through its control FIFO, and each call returns only after dev-kafka logged the change.
 * Same threading and error rules as harness.h.
 */
#ifndef SLUICE_TESTS_HARNESS_KAFKA_H
#define SLUICE_TESTS_HARNESS_KAFKA_H

#include <limits.h>

#include "tests/harness/harness.h"

/* Caller storage; zero-initialise. The fields are read-only for the caller. */
typedef struct sluice_th_kafka {
    char bootstrap[1024]; /* "127.0.0.1:P1,127.0.0.1:P2,..." */
    char bootstrap_file[PATH_MAX];
    char control[PATH_MAX]; /* the control FIFO (dev-kafka --control) */
    sluice_th_proc_t *proc; /* NULL until started */
} sluice_th_kafka_t;

/* Starts `sluicectl dev-kafka --bootstrap-file <tmpdir>/kafka-N.bootstrap [args...]` (`args`:
 * more dev-kafka options, NULL-terminated, may be NULL) and waits for the bootstrap file (at most
 * 30 s). -1 if sluicectl is missing, exits, or never gets ready (the message quotes its log). */
int sluice_th_kafka_start(sluice_th_kafka_t *k, const char *const *args, sluice_err_t *err);

/* Takes every broker down (SIGUSR1) / brings every broker up (SIGUSR2) and waits (at most 5 s)
 * until dev-kafka logged it. */
int sluice_th_kafka_down(sluice_th_kafka_t *k, sluice_err_t *err);
int sluice_th_kafka_up(sluice_th_kafka_t *k, sluice_err_t *err);

/* Sends one control command (`down N`, `up N`, `down all`, `leader TOPIC PARTITION N`; see
 * `sluicectl dev-kafka --help`) and waits (at most 5 s) until dev-kafka logged it as applied; -1
 * with dev-kafka's reason when it refused the command. */
int sluice_th_kafka_command(sluice_th_kafka_t *k, const char *command, sluice_err_t *err);

/* SIGTERM (SIGKILL after 10 s). 0 also when it was not running. */
int sluice_th_kafka_stop(sluice_th_kafka_t *k, sluice_err_t *err);

#endif
