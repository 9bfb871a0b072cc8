/*
 * A wall clock that steps, for one process: preloaded (LD_PRELOAD) into the gateway by
 * gateway_oncall's drain test. While the file named by SLUICE_TEST_CLOCK_STEP_FILE exists,
 * clock_gettime(CLOCK_REALTIME) answers SLUICE_TEST_CLOCK_STEP_S seconds off (negative: earlier),
 * as after an NTP step; the monotonic clocks are untouched, as the kernel keeps them. The machine's clock is
 * shared with other work and is never changed.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int clock_gettime(clockid_t id, struct timespec *ts)
{
    static int (*real)(clockid_t, struct timespec *);
    if (real == NULL)
        real = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
    int rc = real(id, ts);
    if (rc == 0 && (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE)) {
        const char *f = getenv("SLUICE_TEST_CLOCK_STEP_FILE");
        const char *by = getenv("SLUICE_TEST_CLOCK_STEP_S");
        if (f != NULL && by != NULL && access(f, F_OK) == 0)
            ts->tv_sec += (time_t)strtol(by, NULL, 10);
    }
    return rc;
}
