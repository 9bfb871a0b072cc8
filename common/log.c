/*
 * JSON-lines logger. Each line is formatted in a stack buffer and written with one write(2),
 * so concurrent threads need no lock. Any thread.
 */
#include "common/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *component = "sluice";
static atomic_int min_level = SLUICE_LOG_INFO;
static int out_fd = 2;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void sluice_log_setup(const char *name, sluice_log_level_t level, int fd)
{
    component = name;
    atomic_store(&min_level, (int)level);
    out_fd = fd;
}

void sluice_log_set_level(sluice_log_level_t level)
{
    atomic_store(&min_level, (int)level);
}

int sluice_log_level_parse(const char *s, sluice_log_level_t *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (sluice_log_level_t)i;
            return 0;
        }
    }
    return -1;
}

/* Appends src JSON-escaped into dst[*len..cap); stops silently when full (the line is cut, never overrun). */
static void append_escaped(char *dst, size_t *len, size_t cap, const char *src)
{
    static const char hex[] = "0123456789abcdef";
    for (const unsigned char *p = (const unsigned char *)src; *p != '\0'; p++) {
        char esc[7];
        size_t n = 0;
        switch (*p) {
        case '"':
            esc[n++] = '\\';
            esc[n++] = '"';
            break;
        case '\\':
            esc[n++] = '\\';
            esc[n++] = '\\';
            break;
        case '\n':
            esc[n++] = '\\';
            esc[n++] = 'n';
            break;
        case '\r':
            esc[n++] = '\\';
            esc[n++] = 'r';
            break;
        case '\t':
            esc[n++] = '\\';
            esc[n++] = 't';
            break;
        default:
            if (*p < 0x20) {
                memcpy(esc, "\\u00", 4);
                esc[4] = hex[*p >> 4];
                esc[5] = hex[*p & 15];
                n = 6;
            } else {
                esc[n++] = (char)*p;
            }
        }
        if (*len + n >= cap)
            return;
        memcpy(dst + *len, esc, n);
        *len += n;
    }
}

void sluice_log(sluice_log_level_t level, const char *event, const char *fmt, ...)
{
    if ((int)level < atomic_load(&min_level))
        return;
    char msg[1024], line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[40];
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);

    size_t len = (size_t)snprintf(line, sizeof(line), "{\"ts\":\"%s.%03ldZ\",\"level\":\"%s\",\"component\":\"", when,
                                  ts.tv_nsec / 1000000, level_names[level]);
    append_escaped(line, &len, sizeof(line) - 4, component);
    memcpy(line + len, "\",\"event\":\"", 11);
    len += 11;
    append_escaped(line, &len, sizeof(line) - 4, event);
    if (len + 9 < sizeof(line) - 4) {
        memcpy(line + len, "\",\"msg\":\"", 9);
        len += 9;
        append_escaped(line, &len, sizeof(line) - 4, msg);
    }
    memcpy(line + len, "\"}\n", 3);
    len += 3;
    ssize_t w = write(out_fd, line, len);
    (void)w; /* nothing sensible to do if the log itself cannot be written */
}
