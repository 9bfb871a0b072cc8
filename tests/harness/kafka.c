/*
 * The harness's Kafka service: `sluicectl dev-kafka` as a harness child. Runs on the harness
 * thread.
 */
#include "tests/harness/kafka.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define READY_TIMEOUT_MS 30000
#define FAULT_TIMEOUT_MS 5000
#define MAX_ARGS         32

typedef struct ready_check {
    sluice_th_kafka_t *k;
    int have_file;
} ready_check_t;

static int bootstrap_written(void *arg)
{
    ready_check_t *rc = arg;
    if (access(rc->k->bootstrap_file, F_OK) == 0) {
        rc->have_file = 1;
        return 1;
    }
    return !sluice_th_proc_running(rc->k->proc); /* stop waiting: the caller reports the exit */
}

int sluice_th_kafka_start(sluice_th_kafka_t *k, const char *const *args, sluice_err_t *err)
{
    static int instances;
    if (k->proc && sluice_th_proc_running(k->proc))
        return sluice_err_set(err, "dev-kafka is already running (%s)", k->bootstrap);

    char sluicectl[PATH_MAX], name[32], rel[48], ctl[48];
    if ((size_t)snprintf(sluicectl, sizeof(sluicectl), "%s/tools/sluicectl", sluice_th_build_dir()) >=
        sizeof(sluicectl))
        return sluice_err_set(err, "build dir path too long");
    if (access(sluicectl, X_OK) != 0)
        return sluice_err_set(err, "%s is missing: build the tree first (or set SLUICE_BUILD_DIR)", sluicectl);
    instances++;
    snprintf(name, sizeof(name), "kafka-%d", instances);
    snprintf(rel, sizeof(rel), "%s.bootstrap", name);
    snprintf(ctl, sizeof(ctl), "%s.control", name);
    if (sluice_th_path(k->bootstrap_file, sizeof(k->bootstrap_file), rel, err) != 0 ||
        sluice_th_path(k->control, sizeof(k->control), ctl, err) != 0)
        return -1;

    const char *argv[MAX_ARGS + 7] = {sluicectl,         "dev-kafka", "--bootstrap-file",
                                      k->bootstrap_file, "--control", k->control};
    int argc = 6;
    for (int i = 0; args && args[i]; i++) {
        if (i == MAX_ARGS)
            return sluice_err_set(err, "dev-kafka: more than %d extra arguments", MAX_ARGS);
        argv[argc++] = args[i];
    }
    argv[argc] = NULL;

    k->bootstrap[0] = '\0';
    k->proc = sluice_th_spawn(name, argv, NULL, err);
    if (!k->proc)
        return -1;
    ready_check_t rc = {.k = k};
    if (sluice_th_wait_until(bootstrap_written, &rc, READY_TIMEOUT_MS) != 0 || !rc.have_file) {
        char tail[240];
        sluice_th_log_tail(k->proc, tail, sizeof(tail));
        int running = sluice_th_proc_running(k->proc);
        sluice_th_proc_stop(k->proc, 1000, NULL, NULL);
        return sluice_err_set(err, "dev-kafka %s (log: %s)",
                              running ? "wrote no bootstrap file within 30 s" : "exited during start-up", tail);
    }
    size_t len;
    char *addr = sluice_th_read_file(k->bootstrap_file, &len, err);
    if (!addr)
        return -1;
    while (len > 0 && (addr[len - 1] == '\n' || addr[len - 1] == '\r'))
        addr[--len] = '\0';
    int fits = len > 0 && len < sizeof(k->bootstrap);
    if (fits)
        memcpy(k->bootstrap, addr, len + 1);
    free(addr);
    if (!fits)
        return sluice_err_set(err, "dev-kafka: bootstrap file %s is empty or too long", k->bootstrap_file);
    return 0;
}

/* Signals dev-kafka and waits for one more `event` line in its log than there was before (timers
 * given with --down-after/--up-after log the same lines, so count rather than assume). */
static int change_state(sluice_th_kafka_t *k, int sig, const char *event, sluice_err_t *err)
{
    if (!k->proc)
        return sluice_err_set(err, "dev-kafka was never started");
    char needle[64];
    snprintf(needle, sizeof(needle), "\"event\":\"%s\"", event);
    char *log = sluice_th_read_file(sluice_th_proc_log(k->proc), NULL, err);
    if (!log)
        return -1;
    int before = sluice_th_count(log, needle);
    free(log);
    if (sluice_th_proc_signal(k->proc, sig, err) != 0)
        return -1;
    return sluice_th_wait_log(k->proc, needle, before + 1, FAULT_TIMEOUT_MS, err);
}

int sluice_th_kafka_down(sluice_th_kafka_t *k, sluice_err_t *err)
{
    return change_state(k, SIGUSR1, "devkafka.down", err);
}

int sluice_th_kafka_up(sluice_th_kafka_t *k, sluice_err_t *err)
{
    return change_state(k, SIGUSR2, "devkafka.up", err);
}

int sluice_th_kafka_command(sluice_th_kafka_t *k, const char *command, sluice_err_t *err)
{
    if (!k->proc)
        return sluice_err_set(err, "dev-kafka was never started");
    static const char applied[] = "\"event\":\"devkafka.control\"", refused[] = "\"event\":\"devkafka.control_error\"";
    char *log = sluice_th_read_file(sluice_th_proc_log(k->proc), NULL, err);
    if (!log)
        return -1;
    int before = sluice_th_count(log, applied), before_refused = sluice_th_count(log, refused);
    free(log);

    char line[256];
    int n = snprintf(line, sizeof(line), "%s\n", command);
    if (n < 0 || (size_t)n >= sizeof(line))
        return sluice_err_set(err, "dev-kafka control command too long");
    int fd = open(k->control, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return sluice_err_set(err, "dev-kafka control FIFO %s: %s", k->control, strerror(errno));
    ssize_t w = write(fd, line, (size_t)n);
    int e = errno;
    close(fd);
    if (w != n)
        return sluice_err_set(err, "dev-kafka control FIFO %s: short write: %s", k->control, strerror(e));

    /* Applied and refused lines both end the wait; which one grew says how it went. */
    for (int waited = 0; waited <= FAULT_TIMEOUT_MS; waited += 20) {
        log = sluice_th_read_file(sluice_th_proc_log(k->proc), NULL, err);
        if (!log)
            return -1;
        int ok = sluice_th_count(log, applied) > before, bad = sluice_th_count(log, refused) > before_refused;
        if (bad) {
            const char *at = strstr(log, refused), *last = at;
            while (at != NULL) {
                last = at;
                at = strstr(at + 1, refused);
            }
            sluice_err_set(err, "dev-kafka refused '%s': %.200s", command, last);
            free(log);
            return -1;
        }
        free(log);
        if (ok)
            return 0;
        if (!sluice_th_proc_running(k->proc))
            return sluice_err_set(err, "dev-kafka exited");
        usleep(20 * 1000);
    }
    return sluice_err_set(err, "dev-kafka did not apply '%s' within %d ms", command, FAULT_TIMEOUT_MS);
}

int sluice_th_kafka_stop(sluice_th_kafka_t *k, sluice_err_t *err)
{
    if (!k->proc)
        return 0;
    return sluice_th_proc_stop(k->proc, SLUICE_TH_STOP_TIMEOUT_MS, NULL, err);
}
