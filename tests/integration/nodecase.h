/*
 * Running one node script as a test case that asks its C driver for what only the stack can do
 * (tests/browser and tests/compat): the driver forks `node SCRIPT CASE`, the script writes one
 * JSON request per line on its fd 3 and reads one JSON answer per line on its fd 4. Answers are
 * {"ok":true,"result":...} or {"ok":false,"error":"..."}.
 *
 * One thread, inside a cmocka test; failures fail the calling test.
 */
#ifndef SLUICE_TESTS_INTEGRATION_NODECASE_H
#define SLUICE_TESTS_INTEGRATION_NODECASE_H

#include <jansson.h>

/* Answers one request; returns a new reference the runner sends and releases. */
typedef json_t *(*nodecase_handler_fn)(json_t *req);

/* {"ok":true,"result":RESULT} (RESULT stolen; NULL is JSON null). */
json_t *nodecase_ok(json_t *result);
/* {"ok":false,"error":"<formatted message>"}. */
json_t *nodecase_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Runs `node SCRIPT CASE_NAME` with each "NAME=value" of ENV (NULL-terminated; NULL for none)
 * set in its environment, answering its requests with HANDLE until it closes fd 3, and returns
 * its wait status. The node process is killed if the driver dies (and Chromium with node). WHO
 * names the driver in messages. */
int nodecase_run(const char *who, const char *script, const char *case_name, const char *const *env,
                 nodecase_handler_fn handle);

#endif
