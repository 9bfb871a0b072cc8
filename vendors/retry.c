/*
 * Backoff, Retry-After parsing and the retry decision (see retry.h). Pure functions.
 */
#include "vendors/retry.h"

#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

int64_t sluice_retry_backoff_ms(unsigned failures, unsigned base_ms, unsigned max_ms, double r)
{
    if (failures == 0)
        failures = 1;
    int64_t cap = base_ms;
    for (unsigned i = 1; i < failures && cap < (int64_t)max_ms; i++)
        cap *= 2;
    if (cap > (int64_t)max_ms)
        cap = max_ms;
    if (r < 0)
        r = 0;
    if (r >= 1)
        r = 0.999999;
    return (int64_t)((double)(cap + 1) * r);
}

int64_t sluice_retry_after_ms(const char *value, int64_t now_ms)
{
    if (value == NULL)
        return -1;
    while (*value == ' ' || *value == '\t')
        value++;
    if (*value >= '0' && *value <= '9') {
        char *end;
        long long s = strtoll(value, &end, 10);
        while (*end == ' ' || *end == '\t')
            end++;
        if (*end != '\0' || s < 0 || s > 86400LL * 365)
            return -1;
        return s * 1000;
    }
    time_t t = curl_getdate(value, NULL);
    if (t == (time_t)-1)
        return -1;
    int64_t ms = (int64_t)t * 1000 - now_ms;
    return ms > 0 ? ms : 0;
}

int sluice_retry_next(const sluice_retry_policy_t *p, unsigned attempts, int64_t first_ms, int64_t now_ms,
                      int64_t retry_after_ms, double r, int64_t *wait_ms)
{
    if (attempts >= p->max_attempts)
        return 0;
    int64_t wait = sluice_retry_backoff_ms(attempts, p->base_ms, p->max_ms, r);
    if (retry_after_ms > wait)
        wait = retry_after_ms;
    if (now_ms + wait > first_ms + (int64_t)p->max_elapsed_s * 1000)
        return 0;
    *wait_ms = wait;
    return 1;
}
