/*
 * RFC 3339 parsing and formatting without the C library's time zone machinery (timegm and
 * gmtime_r depend on the process's TZ handling and normalise impossible dates instead of refusing
 * them), and the two clocks. Pure functions; any thread.
 */
#include "common/time.h"

#include <string.h>
#include <time.h>

static int digits(const char *s, const char *end, int n, int *out)
{
    if (end - s < n)
        return -1;
    int v = 0;
    unsigned bad = 0;
    for (int i = 0; i < n; i++) {
        unsigned c = (unsigned)(unsigned char)s[i] - '0';
        bad |= c > 9; /* checked once after the loop: one branch per field, not per digit */
        v = v * 10 + (int)c;
    }
    *out = v;
    return bad ? -1 : 0;
}

static int is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : mdays[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* The inverse (civil_from_days). */
static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

/* The form nearly every client sends, YYYY-MM-DDTHH:MM:SS.mmmZ (JavaScript's toISOString), read
 * at fixed places. Returns 0 with *unix_ms set, or -1 to let the general parser decide: it takes
 * nothing the general parser refuses and gives the same time. */
static int parse_iso_utc_ms(const char *s, size_t len, int64_t *unix_ms)
{
    if (len != 24 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[19] != '.' ||
        s[23] != 'Z')
        return -1;
#define DG(i) ((unsigned)(unsigned char)s[i] - '0')
    unsigned y0 = DG(0), y1 = DG(1), y2 = DG(2), y3 = DG(3), mo0 = DG(5), mo1 = DG(6), d0 = DG(8), d1 = DG(9);
    unsigned h0 = DG(11), h1 = DG(12), mi0 = DG(14), mi1 = DG(15), s0 = DG(17), s1 = DG(18);
    unsigned f0 = DG(20), f1 = DG(21), f2 = DG(22);
#undef DG
    if ((y0 > 9) | (y1 > 9) | (y2 > 9) | (y3 > 9) | (mo0 > 9) | (mo1 > 9) | (d0 > 9) | (d1 > 9) | (h0 > 9) | (h1 > 9) |
        (mi0 > 9) | (mi1 > 9) | (s0 > 9) | (s1 > 9) | (f0 > 9) | (f1 > 9) | (f2 > 9))
        return -1;
    int y = (int)(y0 * 1000 + y1 * 100 + y2 * 10 + y3), mo = (int)(mo0 * 10 + mo1), d = (int)(d0 * 10 + d1);
    int h = (int)(h0 * 10 + h1), mi = (int)(mi0 * 10 + mi1), sec = (int)(s0 * 10 + s1);
    int ms = (int)(f0 * 100 + f1 * 10 + f2);
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 60)
        return -1;
    *unix_ms = (days_from_civil(y, mo, d) * 86400 + h * 3600LL + mi * 60LL + sec) * 1000 + ms;
    return 0;
}

/* The last few texts this thread parsed, and their times: an event's timestamp and sentAt are
 * read by validation and again by enrichment. Parsing is a pure function of the bytes and the
 * flags, so a text seen before gives the same answer; a text that needed no flag (a date-time
 * with its zone, nearly all) gives it under any flags, so validation (which takes zoneless
 * times) and enrichment (which asks first for a zone) share its entry. */
#define MEMO_TEXT_MAX 32
#define MEMO_COUNT    2

static _Thread_local struct {
    char text[MEMO_TEXT_MAX];
    size_t len; /* 0: empty */
    int needed; /* the flags the text parses only with */
    int64_t unix_ms;
} memo[MEMO_COUNT];
static _Thread_local unsigned memo_next;

static int parse_uncached(const char *s, size_t len, int flags, int64_t *unix_ms);

int sluice_time_parse(const char *s, size_t len, int flags, int64_t *unix_ms)
{
    if (len == 0 || len > MEMO_TEXT_MAX)
        return parse_uncached(s, len, flags, unix_ms);
    for (unsigned i = 0; i < MEMO_COUNT; i++) {
        if (memo[i].len == len && (memo[i].needed & ~flags) == 0 && memcmp(memo[i].text, s, len) == 0) {
            *unix_ms = memo[i].unix_ms;
            return 0;
        }
    }
    int needed = 0;
    if (parse_uncached(s, len, 0, unix_ms) != 0) {
        if (flags == 0 || parse_uncached(s, len, flags, unix_ms) != 0)
            return -1;
        needed = flags;
    }
    unsigned k = memo_next++ % MEMO_COUNT;
    memcpy(memo[k].text, s, len);
    memo[k].len = len;
    memo[k].needed = needed;
    memo[k].unix_ms = *unix_ms;
    return 0;
}

static int parse_uncached(const char *s, size_t len, int flags, int64_t *unix_ms)
{
    if (parse_iso_utc_ms(s, len, unix_ms) == 0)
        return 0;
    const char *p = s, *end = s + len;
    int y, mo, d, h = 0, mi = 0, sec = 0, ms = 0;
    if (digits(p, end, 4, &y) != 0 || end - p < 10 || p[4] != '-' || digits(p + 5, end, 2, &mo) != 0 || p[7] != '-' ||
        digits(p + 8, end, 2, &d) != 0)
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
        return -1;
    p += 10;
    int64_t offset_s = 0;
    if (p == end) {
        if (!(flags & SLUICE_TIME_DATE_OK))
            return -1;
    } else {
        if ((*p != 'T' && *p != 't' && *p != ' ') || end - p < 9 || digits(p + 1, end, 2, &h) != 0 || p[3] != ':' ||
            digits(p + 4, end, 2, &mi) != 0 || p[6] != ':' || digits(p + 7, end, 2, &sec) != 0)
            return -1;
        if (h > 23 || mi > 59 || sec > 60)
            return -1;
        p += 9;
        if (p < end && *p == '.') {
            const char *f = ++p;
            while (p < end && *p >= '0' && *p <= '9') {
                if (p - f < 3)
                    ms = ms * 10 + (*p - '0');
                p++;
            }
            if (p == f || p - f > 9)
                return -1;
            for (long n = p - f; n < 3; n++)
                ms *= 10;
        }
        if (p < end && (*p == 'Z' || *p == 'z')) {
            p++;
        } else if (p < end && (*p == '+' || *p == '-')) {
            int sign = *p == '-' ? -1 : 1, oh, om;
            if (digits(p + 1, end, 2, &oh) != 0 || oh > 23)
                return -1;
            p += 3;
            if (p < end && *p == ':')
                p++;
            if (digits(p, end, 2, &om) != 0 || om > 59)
                return -1;
            p += 2;
            offset_s = sign * (oh * 3600LL + om * 60LL);
        } else if (!(flags & SLUICE_TIME_NO_ZONE_OK)) {
            return -1; /* no zone */
        }
        if (p != end)
            return -1;
    }
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600LL + mi * 60LL + sec - offset_s;
    *unix_ms = secs * 1000 + ms;
    return 0;
}

/* v (0..99) as two digits, copied from a table of all hundred: a divide and a remainder per pair
 * were ~110 instructions an event (two of these texts an event). */
static void put2(char *o, int v)
{
    static const char pairs[201] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                                   "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                                   "8081828384858687888990919293949596979899";
    memcpy(o, pairs + 2 * v, 2);
}

size_t sluice_time_format(int64_t unix_ms, char out[SLUICE_TIME_TEXT_MAX])
{
    static const int64_t min_ms = -62167219200000LL; /* 0000-01-01T00:00:00.000Z */
    static const int64_t max_ms = 253402300799999LL; /* 9999-12-31T23:59:59.999Z */
    if (unix_ms < min_ms)
        unix_ms = min_ms;
    if (unix_ms > max_ms)
        unix_ms = max_ms;
    int64_t days = unix_ms >= 0 ? unix_ms / 86400000 : -((-unix_ms + 86399999) / 86400000);
    int64_t rest = unix_ms - days * 86400000; /* 0 .. 86399999 */
    int y, m, d;
    civil_from_days(days, &y, &m, &d);
    int ms = (int)(rest % 1000), secs = (int)(rest / 1000);
    /* YYYY-MM-DDTHH:MM:SS.mmmZ, two digits at a time: every event gets two of these. */
    put2(out, y / 100);
    put2(out + 2, y % 100);
    out[4] = '-';
    put2(out + 5, m);
    out[7] = '-';
    put2(out + 8, d);
    out[10] = 'T';
    put2(out + 11, secs / 3600);
    out[13] = ':';
    put2(out + 14, secs / 60 % 60);
    out[16] = ':';
    put2(out + 17, secs % 60);
    out[19] = '.';
    out[20] = (char)('0' + ms / 100);
    put2(out + 21, ms % 100);
    out[23] = 'Z';
    out[24] = '\0';
    return 24;
}

int64_t sluice_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t sluice_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t sluice_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}
