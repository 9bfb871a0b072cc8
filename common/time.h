/*
 * Wall-clock and monotonic clocks, and RFC 3339 timestamps: the one set of rules for every
 * time sluice reads (event `timestamp`/`sentAt`, envelope `receivedAt`, config times such as
 * `rotated_at`, `sluicectl dlq --since`) and the one format it writes. Any thread; no state.
 *
 * Accepted: `YYYY-MM-DD`, a `T` (or `t` or one space), `HH:MM:SS`, optionally `.` and 1 to 9
 * digits of fractions, then a zone: `Z` (or `z`), `+HH:MM`/`-HH:MM` or `+HHMM`/`-HHMM`. Dates
 * are checked against the Gregorian calendar (2025-02-29 is refused, 2024-02-29 is not); hours
 * 0-23, minutes 0-59, seconds 0-60 (a leap second reads as the next minute's first second);
 * zone hours 0-23. A time without a zone is refused: its instant would depend on the host
 * (unless SLUICE_TIME_NO_ZONE_OK asks for it).
 */
#ifndef SLUICE_COMMON_TIME_H
#define SLUICE_COMMON_TIME_H

#include <stddef.h>
#include <stdint.h>

/* Bytes sluice_time_format writes, NUL included: "YYYY-MM-DDTHH:MM:SS.mmmZ". */
#define SLUICE_TIME_TEXT_MAX 25

/* Also accept a bare date `YYYY-MM-DD` (midnight UTC), for config values. */
#define SLUICE_TIME_DATE_OK 1

/* Also accept a date-time without a zone, read as if it were UTC: a wall-clock reading whose
 * instant is unknown, but whose distance to another reading of the same clock is not (Dart's
 * DateTime.now().toIso8601String(), which Segment's Flutter SDK sends). */
#define SLUICE_TIME_NO_ZONE_OK 2

/* Parses s[0..len) (no NUL needed) by the rules above into milliseconds since the Unix epoch
 * (fractions below a millisecond are dropped). 0, or -1 when it is not such a time. */
int sluice_time_parse(const char *s, size_t len, int flags, int64_t *unix_ms);

/* Writes unix_ms as "YYYY-MM-DDTHH:MM:SS.mmmZ" (UTC, milliseconds) into out; returns 24. Years
 * outside 0000..9999 are clamped to those bounds' first/last instant. */
size_t sluice_time_format(int64_t unix_ms, char out[SLUICE_TIME_TEXT_MAX]);

/* Milliseconds since the Unix epoch (CLOCK_REALTIME). */
int64_t sluice_now_ms(void);

/* Monotonic milliseconds / microseconds (CLOCK_MONOTONIC), for intervals and deadlines. */
int64_t sluice_mono_ms(void);
uint64_t sluice_mono_us(void);

#endif
