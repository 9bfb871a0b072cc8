/*
 * JSON-lines logging: one object per line on stderr (or a chosen fd), written with a single
 * write(2) so lines from several threads never interleave.
 *
 * Privacy rule: log messages name things (routes, plugin names, JSON paths, error codes) and
 * count things; they never carry event field values, write keys, tokens, secrets or key material.
 * Callers are responsible for that; the logger escapes but does not inspect.
 */
#ifndef SLUICE_COMMON_LOG_H
#define SLUICE_COMMON_LOG_H

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

#define sluice_log_debug(ev, ...) sluice_log(SLUICE_LOG_DEBUG, ev, __VA_ARGS__)
#define sluice_log_info(ev, ...)  sluice_log(SLUICE_LOG_INFO, ev, __VA_ARGS__)
#define sluice_log_warn(ev, ...)  sluice_log(SLUICE_LOG_WARN, ev, __VA_ARGS__)
#define sluice_log_error(ev, ...) sluice_log(SLUICE_LOG_ERROR, ev, __VA_ARGS__)

#endif
