/*
 * The request loop shared by the browser and SDK compatibility drivers: see nodecase.h.
 * One thread (the cmocka test's).
 */
#include "tests/integration/nodecase.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

json_t *nodecase_ok(json_t *result)
{
    return json_pack("{s:b,s:o}", "ok", 1, "result", result ? result : json_null());
}

json_t *nodecase_error(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return json_pack("{s:b,s:s}", "ok", 0, "error", msg);
}

int nodecase_run(const char *who, const char *script, const char *case_name, const char *const *env,
                 nodecase_handler_fn handle)
{
    int to_driver[2], to_node[2];
    assert_int_equal(pipe2(to_driver, O_CLOEXEC), 0);
    assert_int_equal(pipe2(to_node, O_CLOEXEC), 0);

    fflush(NULL);
    pid_t parent = getpid();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* The node process dies with this driver, and Chromium with node (its pipe closes). */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        if (dup2(to_driver[1], 3) < 0 || dup2(to_node[0], 4) < 0)
            _exit(127);
        for (size_t i = 0; env != NULL && env[i] != NULL; i++) {
            const char *eq = strchr(env[i], '=');
            if (eq == NULL || eq == env[i])
                _exit(127);
            char name[128];
            snprintf(name, sizeof(name), "%.*s", (int)(eq - env[i]), env[i]);
            setenv(name, eq + 1, 1);
        }
        char *argv[] = {"node", (char *)script, (char *)case_name, NULL};
        execvp("node", argv);
        fprintf(stderr, "%s: cannot run node: %s\n", who, strerror(errno));
        _exit(127);
    }
    close(to_driver[1]);
    close(to_node[0]);

    FILE *in = fdopen(to_driver[0], "r");
    assert_non_null(in);
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, in) > 0) {
        json_error_t je;
        json_t *req = json_loads(line, 0, &je);
        json_t *ans = req ? handle(req) : nodecase_error("bad request line: %s", je.text);
        json_decref(req);
        char *text = json_dumps(ans, JSON_COMPACT);
        json_decref(ans);
        size_t len = strlen(text);
        if (write(to_node[1], text, len) != (ssize_t)len || write(to_node[1], "\n", 1) != 1)
            print_error("%s: node stopped reading its answers\n", who);
        free(text);
    }
    free(line);
    fclose(in);
    close(to_node[1]);

    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return status;
}
