/*
 * The error struct every fallible sluice function writes its message into.
 * The function that detects an error says what happened, with context; callers pass it on
 * (or prefix it). A person reads these, so they never say a bare "error".
 * Messages never contain event field values, write keys, tokens or key material.
 */
#ifndef SLUICE_COMMON_ERR_H
#define SLUICE_COMMON_ERR_H

#include <stddef.h>

#define SLUICE_ERR_MSG_MAX 512

typedef struct sluice_err {
    char msg[SLUICE_ERR_MSG_MAX];
} sluice_err_t;

/* Writes a printf-style message into err (NULL err is allowed and ignored). Always returns -1,
 * so a caller can write `return sluice_err_set(err, "...")`. */
int sluice_err_set(sluice_err_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prefixes err's message with a printf-style context ("loading x: <old message>"). Returns -1. */
int sluice_err_prefix(sluice_err_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Empties err. */
void sluice_err_clear(sluice_err_t *err);

#endif
