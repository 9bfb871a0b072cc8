/*
 * Retry policy of the delivery worker: exponential backoff with full jitter, `Retry-After`
 * (delta-seconds or an HTTP date) honoured, bounded by an attempt count and a total time
 * (an integration's retry.* settings). Pure functions; any thread.
 */
#ifndef SLUICE_VENDORS_RETRY_H
#define SLUICE_VENDORS_RETRY_H

#include <stdint.h>

/* The backoff after `failures` failed attempts (failures >= 1): a uniformly random wait in
 * [0, min(max_ms, base_ms * 2^(failures-1))] ("full jitter"), with r a random number in [0, 1). */
int64_t sluice_retry_backoff_ms(unsigned failures, unsigned base_ms, unsigned max_ms, double r);

/* A Retry-After header value as milliseconds from now_ms (epoch ms): "120" (seconds) or an HTTP
 * date ("Wed, 21 Oct 2026 07:28:00 GMT"; a date in the past gives 0). -1 when it is neither. */
int64_t sluice_retry_after_ms(const char *value, int64_t now_ms);

typedef struct sluice_retry_policy {
    unsigned max_attempts; /* attempts in all, the first one included */
    unsigned base_ms;
    unsigned max_ms;
    unsigned max_elapsed_s; /* since the first attempt */
} sluice_retry_policy_t;

/* After `attempts` failed attempts, the first at first_ms, decides whether to try again: returns
 * 1 with the wait in *wait_ms (the jittered backoff, or Retry-After when that is longer), or 0
 * when the attempts are used up or the next try would start after first_ms + max_elapsed_s.
 * retry_after_ms is -1 when the vendor sent none. now_ms and first_ms are on the same clock. */
int sluice_retry_next(const sluice_retry_policy_t *p, unsigned attempts, int64_t first_ms, int64_t now_ms,
                      int64_t retry_after_ms, double r, int64_t *wait_ms);

#endif
