/*
 * JSON-lines logging: one object per line on stderr (or a chosen fd), written with a single
 * write(2) so lines from several threads never interleave.
 *
 * Under pressure (docs/deploy.md, "Logs"): after sluice_log_start a line is queued in a fixed
 * 1 MiB ring and written by a thread of the logger's own, so an event loop never waits on a
 * stderr nobody reads (a stuck log shipper, container log back-pressure); a line that finds the
 * ring full is dropped and counted, and a `log.dropped` line says how many once there is room.
 * Each event name gets SLUICE_LOG_BURST lines per SLUICE_LOG_WINDOW_MS (debug lines and the
 * operator's own config.error, config.warning, config.reload and deliver.sighup excepted);
 * the rest are counted and summed up in one line under the same event name with "suppressed":N,
 * so a client that makes the gateway log per request cannot fill the disk. A line about one org
 * (sluice_log_for) gets that many per event name and org (and plugin), so one org's flood does not
 * hide another org's lines; its summary names the org.
 *
 * Privacy rule: log messages name things (routes, plugin names, JSON paths, error codes) and
 * count things; they never carry event field values, write keys, tokens, secrets or key material.
 * Callers are responsible for that; the logger escapes but does not inspect.
 */
#ifndef SLUICE_COMMON_LOG_H
#define SLUICE_COMMON_LOG_H

#include <stddef.h>

typedef enum sluice_log_level {
    SLUICE_LOG_DEBUG = 0,
    SLUICE_LOG_INFO = 1,
    SLUICE_LOG_WARN = 2,
    SLUICE_LOG_ERROR = 3,
} sluice_log_level_t;

/* Sets the process-wide component name ("gateway", "deliver", "sluicectl"), minimum level and
 * output fd. Call once from main before starting threads; later calls are not thread-safe. */
void sluice_log_setup(const char *component, sluice_log_level_t level, int fd);

/* Changes the minimum level (atomic; safe from any thread, e.g. on config reload). */
void sluice_log_set_level(sluice_log_level_t level);

/* "debug" | "info" | "warn" | "error" → level; returns -1 for anything else. */
int sluice_log_level_parse(const char *s, sluice_log_level_t *out);

/* Writes {"ts":...,"level":...,"component":...,"event":EVENT,"msg":...}. `event` is a short
 * stable dotted name ("kafka.down"); the printf-style message is JSON-escaped. Any thread. */
void sluice_log(sluice_log_level_t level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The same, the window keyed by event name, org and plugin (either may be NULL): for lines about
 * one org's events (mask.failed, plugin.log, deliver.dead_letter). `org` must be an org id from
 * the config, never a value from a request: the keys are held in a fixed table (past it, a key
 * shares its event name's window), and a summary line names the org. */
void sluice_log_for(sluice_log_level_t level, const char *event, const char *org, const char *plugin, const char *fmt,
                    ...) __attribute__((format(printf, 5, 6)));

/* At most this many lines per event name per window; the window starts at its first line. */
#define SLUICE_LOG_BURST     20
#define SLUICE_LOG_WINDOW_MS 60000
/* Windows of (event, org, plugin) held at once (sluice_log_for): 2,000 orgs with a problem or
 * two each (~200 bytes a window, 800 KiB). Memory is fixed whatever the number of orgs; a key
 * past it (or past its share of the table) shares its event name's window. */
#define SLUICE_LOG_KEYS 4096
/* How long exit waits for queued lines to reach a stderr that does not take them. */
#define SLUICE_LOG_EXIT_FLUSH_MS 3000

/* Starts the writer thread (the gateway's and the worker's main, before their own threads);
 * lines queued are flushed at exit (atexit) and at abort() (a SIGABRT handler that then lets the
 * signal end the process as before). Before it, or without it (sluicectl, tests), each
 * line is written by the thread that logs it. Returns 0, or -1 when no thread could be made
 * (lines are then written directly). */
int sluice_log_start(void);

/* Writes the pending summaries and waits up to timeout_ms for every queued line to be written:
 * before printing on stderr directly (so the last log lines come first) and at exit. 0 when
 * all were written, -1 on timeout (stderr not read). */
int sluice_log_flush(int timeout_ms);

/* Sets the per-event-name limit (0 lines: no limit) and forgets the current windows; for tests. */
void sluice_log_set_limit(unsigned burst, unsigned window_ms);

/* Lines dropped (ring full) and suppressed (per-event limit) since start, and their Prometheus
 * text (sluice_log_dropped_total, sluice_log_suppressed_total) into buf: the length it needs,
 * as snprintf. */
unsigned long long sluice_log_dropped(void);
unsigned long long sluice_log_suppressed(void);
size_t sluice_log_metrics(char *buf, size_t cap);

#define sluice_log_debug(ev, ...)         sluice_log(SLUICE_LOG_DEBUG, ev, __VA_ARGS__)
#define sluice_log_info(ev, ...)          sluice_log(SLUICE_LOG_INFO, ev, __VA_ARGS__)
#define sluice_log_warn(ev, ...)          sluice_log(SLUICE_LOG_WARN, ev, __VA_ARGS__)
#define sluice_log_error(ev, ...)         sluice_log(SLUICE_LOG_ERROR, ev, __VA_ARGS__)
#define sluice_log_info_for(ev, org, ...) sluice_log_for(SLUICE_LOG_INFO, ev, org, NULL, __VA_ARGS__)
#define sluice_log_warn_for(ev, org, ...) sluice_log_for(SLUICE_LOG_WARN, ev, org, NULL, __VA_ARGS__)

#endif
