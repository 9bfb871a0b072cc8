/*
 * sluice_err_t helpers: bounded printf into the caller's error struct. Any thread.
 */
#include "common/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int sluice_err_set(sluice_err_t *err, const char *fmt, ...)
{
    if (err == NULL)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return -1;
}

int sluice_err_prefix(sluice_err_t *err, const char *fmt, ...)
{
    if (err == NULL)
        return -1;
    char prefix[SLUICE_ERR_MSG_MAX], old[SLUICE_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof(old));
    /* Truncation is fine: a cut message beats no message. */
    size_t n = strnlen(prefix, sizeof(prefix) - 1);
    memcpy(err->msg, prefix, n);
    size_t rest = sizeof(err->msg) - n;
    if (rest > 2) {
        err->msg[n++] = ':';
        err->msg[n++] = ' ';
        rest -= 2;
        size_t m = strnlen(old, rest - 1);
        memcpy(err->msg + n, old, m);
        n += m;
    }
    err->msg[n < sizeof(err->msg) ? n : sizeof(err->msg) - 1] = '\0';
    return -1;
}

void sluice_err_clear(sluice_err_t *err)
{
    if (err != NULL)
        err->msg[0] = '\0';
}
