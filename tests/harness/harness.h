/*
 * The real-service test harness: what integration tests and sluice-devstack use to run real
 * processes on loopback and to always clean up after them.
 *
 *   - one temp dir per process ("test run"), removed at teardown unless SLUICE_KEEP_TMP=1;
 *   - free loopback ports;
 *   - child processes with their output in a log file in the temp dir, kept in a registry
 *     that an atexit handler (and sluice_th_stop_all) stops: the stop signal, then SIGKILL after
 *     a bound. Every child also gets PR_SET_PDEATHSIG(SIGKILL), so even a test that crashes or
 *     is killed never leaks a server;
 *   - helpers to run a command and capture its output (kcat), and to wait for a condition.
 *
 * The services built on this live in redis.h, postgres.h and kafka.h.
 *
 * Sanitizers: when a child exits, its log is searched for an AddressSanitizer, LeakSanitizer or
 * UndefinedBehaviorSanitizer report, and so is the stderr sluice_th_run captures. A report is
 * printed at once and again at exit, and the process then exits 1, whatever its tests said:
 * under an ASan build (`make test-asan`) a memory error, leak or undefined behaviour in any
 * sluice process a test starts fails that test.
 *
 * Threads: call everything from one thread, the one that lives as long as the children
 * (PR_SET_PDEATHSIG fires when the *thread* that forked a child exits). Processes that fork
 * (a test that forks a child which starts services) are fine: each process only ever stops the
 * children and removes the temp dir it created itself.
 * Errors: functions returning int give 0 on success and -1 with a message in `err` (which may
 * be NULL); functions returning a pointer give NULL with a message in `err`.
 */
#ifndef SLUICE_TESTS_HARNESS_HARNESS_H
#define SLUICE_TESTS_HARNESS_HARNESS_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/err.h"

/* How long sluice_th_stop_all and the atexit handler give each child after its stop signal
 * before SIGKILL. */
#define SLUICE_TH_STOP_TIMEOUT_MS 10000

/* --- run environment --------------------------------------------------------------------- */

/* The temp dir of this run: created on first use as $TMPDIR/sluice-th-XXXXXX (or under /tmp),
 * canonical (no symlinks), and traversable by other users when running as root (so the
 * `postgres` OS user can reach its cluster inside). The string is owned by the harness and stays
 * valid until sluice_th_teardown. NULL if it cannot be created. */
const char *sluice_th_tmpdir(sluice_err_t *err);

/* Writes "<tmpdir>/<name>" into buf. -1 if the temp dir cannot be created or buf is too small. */
int sluice_th_path(char *buf, size_t cap, const char *name, sluice_err_t *err);

/* The build tree holding the binaries under test: $SLUICE_BUILD_DIR, else the build dir this
 * library was configured in. Never NULL; owned by the harness. */
const char *sluice_th_build_dir(void);

/* A TCP port on 127.0.0.1 that is free, below the kernel's ephemeral range (no connect() takes
 * it), and reserved for this process among the tests running at once (a flock'd file in
 * /tmp/sluice-test-ports, held until it exits). Without that directory, a port that was free a
 * moment ago (bound to port 0 and released). Returns the port, or -1. */
int sluice_th_free_port(sluice_err_t *err);

/* 1 when something accepts TCP connections on 127.0.0.1:port, else 0. */
int sluice_th_port_open(int port);

/* --- child processes --------------------------------------------------------------------- */

/* A registered child process. Owned by the harness's registry: valid until the process exits
 * (the memory is released at exit), so a handle stays safe to query after the child stopped. */
typedef struct sluice_th_proc sluice_th_proc_t;

/* How to start a child. Zero-initialise and set what you need. */
typedef struct sluice_th_spawn_opts {
    const char *const *env; /* extra "NAME=value" entries, NULL-terminated; they replace inherited ones */
    const char *cwd;        /* working dir; default: the temp dir */
    const char *log_path;   /* stdout+stderr appended here; default: <tmpdir>/<name>.log */
    int stop_signal;        /* what sluice_th_proc_stop sends first; default SIGTERM */
    int drop_privileges;    /* when set, the child switches to uid/gid before exec */
    uid_t uid;
    gid_t gid;
} sluice_th_spawn_opts_t;

/* Starts argv[0] (searched in PATH unless it contains a '/') with argv, stdin from /dev/null,
 * stdout and stderr to the log file, in its own process group (so a terminal's Ctrl-C reaches
 * only the harness, which then stops children in order), with default signal dispositions and
 * an empty signal mask, and PR_SET_PDEATHSIG(SIGKILL) set after any uid change. `name` labels
 * the child in messages and names its default log file. `opts` may be NULL.
 * Returns the registered handle, or NULL when the program cannot be started (exec errors such
 * as "No such file" are reported here, not as an exit status). */
sluice_th_proc_t *sluice_th_spawn(const char *name, const char *const *argv, const sluice_th_spawn_opts_t *opts,
                                  sluice_err_t *err);

pid_t sluice_th_proc_pid(const sluice_th_proc_t *p);
const char *sluice_th_proc_name(const sluice_th_proc_t *p);
const char *sluice_th_proc_log(const sluice_th_proc_t *p); /* the log file path */

/* 1 while the child runs; 0 once it exited (it is reaped here and its status kept). */
int sluice_th_proc_running(sluice_th_proc_t *p);

/* Sends sig to the child. -1 if it already exited or kill(2) fails. */
int sluice_th_proc_signal(sluice_th_proc_t *p, int sig, sluice_err_t *err);

/* Waits up to timeout_ms for the child to exit and stores its wait(2) status in *wstatus (may
 * be NULL). -1 if it is still running after the timeout. */
int sluice_th_proc_wait(sluice_th_proc_t *p, int timeout_ms, int *wstatus, sluice_err_t *err);

/* Sends the child's stop signal and waits up to timeout_ms; if it is still running, kills it
 * (and its process group) with SIGKILL. The child is gone when this returns. Returns 0 when it
 * exited by itself (or had already exited), -1 when it had to be killed. */
int sluice_th_proc_stop(sluice_th_proc_t *p, int timeout_ms, int *wstatus, sluice_err_t *err);

/* Waits until the child's log holds `needle` at least `count` times. -1 on timeout, or at once
 * when the child exits first (the message then quotes the end of its log). */
int sluice_th_wait_log(sluice_th_proc_t *p, const char *needle, int count, int timeout_ms, sluice_err_t *err);

/* The last bytes of a child's log, for error messages: at most cap-1 bytes, one line when the
 * log ends with several, NUL-terminated ("" if unreadable). */
void sluice_th_log_tail(const sluice_th_proc_t *p, char *buf, size_t cap);

/* Stops every running child this process started, newest first (stop signal, then SIGKILL
 * after SLUICE_TH_STOP_TIMEOUT_MS). Safe to call any number of times. */
void sluice_th_stop_all(void);

/* sluice_th_stop_all, then removes the temp dir unless SLUICE_KEEP_TMP=1 (then its path is
 * printed on stderr). A later sluice_th_tmpdir creates a fresh one. Also runs at exit. */
void sluice_th_teardown(void);

/* Counts live processes (other than this one) whose working directory is `dir` or below it.
 * Every child the harness starts runs inside the temp dir (PostgreSQL's backends inside their
 * data dir), so 0 means nothing of ours is left. -1 if /proc cannot be read. */
int sluice_th_procs_in_dir(const char *dir);

/* How many sanitizer reports the children of this process printed so far (see the top). */
int sluice_th_sanitizer_reports(void);

/* --- running commands -------------------------------------------------------------------- */

/* What sluice_th_run captured. out and errout are NUL-terminated (never NULL after a
 * successful run); release with sluice_th_output_dispose. */
typedef struct sluice_th_output {
    char *out;
    size_t out_len;
    char *errout;
    size_t errout_len;
    int wstatus;   /* wait(2) status */
    int timed_out; /* 1 when it was killed for running past the timeout */
} sluice_th_output_t;

/* Runs argv (PATH search as for spawn), feeds it `input` (may be NULL) on stdin, captures stdout
 * and stderr, and waits for it at most timeout_ms before killing it. Returns 0 when the command
 * ran, whatever its exit status (check res->wstatus and res->timed_out); -1 when it could not be
 * started. */
int sluice_th_run(const char *const *argv, const char *input, size_t input_len, int timeout_ms, sluice_th_output_t *res,
                  sluice_err_t *err);

/* 1 when wstatus says "exited with code `code`". */
int sluice_th_exited_with(int wstatus, int code);

/* Frees what sluice_th_run captured; accepts NULL and a zeroed struct. */
void sluice_th_output_dispose(sluice_th_output_t *res);

/* --- waiting and files ------------------------------------------------------------------- */

/* CLOCK_MONOTONIC in milliseconds: for deadlines and durations, which the wall clock's steps
 * would bend. */
int64_t sluice_th_mono_ms(void);

/* Sleeps ms milliseconds, the whole of them also when a signal interrupts. */
void sluice_th_sleep_ms(long ms);

/* Calls cond(arg) every interval until it returns nonzero (→ 0) or timeout_ms passed (→ -1). */
int sluice_th_wait_until(int (*cond)(void *arg), void *arg, int timeout_ms);

/* Reads a whole file into a NUL-terminated malloc'd buffer (caller frees); *len may be NULL.
 * NULL if it cannot be read. */
char *sluice_th_read_file(const char *path, size_t *len, sluice_err_t *err);

/* Number of non-overlapping occurrences of needle in haystack. */
int sluice_th_count(const char *haystack, const char *needle);

/* A growing NUL-terminated byte buffer: p is malloc'd (the caller frees it), NULL until the first
 * byte. */
typedef struct sluice_th_buf {
    char *p;
    size_t len;
} sluice_th_buf_t;

/* Appends size * n bytes of ptr to the sluice_th_buf_t ud, in the shape of a libcurl write or
 * header callback; returns the bytes taken, 0 when out of memory (libcurl then stops). */
size_t sluice_th_buf_append(char *ptr, size_t size, size_t n, void *ud);

/* The value of the line of Prometheus text whose series (name and labels, e.g.
 * `sluice_events_rejected_total{reason="invalid_event"}`) is exactly series; -1 when absent. */
double sluice_th_metric_value(const char *text, const char *series);

#endif
