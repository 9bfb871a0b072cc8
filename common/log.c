/*
 * JSON-lines logger. Each line is formatted in a stack buffer. Before sluice_log_start a line is
 * written at once with one write(2); after it, the line is copied into a fixed ring and a writer
 * thread writes it (log.h says why). Either way each event name is held to a few lines a minute.
 * Any thread.
 */
#include "common/log.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LINE_CAP   2048      /* one line at most; below PIPE_BUF, so a pipe never splits it */
#define RING_BYTES (1 << 20) /* ~5,000 lines of ~200 bytes: a few seconds of a stuck reader */
#define EV_SLOTS   128       /* event names tracked by the limiter (the code has ~120) */
#define EV_NAME    48
/* (event, org, plugin) windows: one org's flood must not use up another org's lines. A fixed
 * table, so no number of orgs (or of the keys an outage touches) grows memory; sets of KEY_WAYS
 * slots, a slot whose window ended taken over, and a key that finds its set full shares its event
 * name's window (bounded lines, its summary naming no org). */
#define KEY_SLOTS  SLUICE_LOG_KEYS
#define KEY_WAYS   8
#define KEY_ORG    64
#define KEY_PLUGIN 48

static const char *component = "sluice";
static atomic_int min_level = SLUICE_LOG_INFO;
static atomic_int out_fd = 2;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

/* One event name's window: the first `burst` lines of a window are written, the rest counted. */
typedef struct ev_slot {
    char name[EV_NAME];
    char org[KEY_ORG];       /* "" for an event name's own window */
    char plugin[KEY_PLUGIN]; /* "" unless a plugin's line */
    uint64_t hash;           /* of (event, org, plugin); keyed slots only, 0 when free */
    int64_t window_ms;       /* when its window began */
    unsigned lines;          /* written in this window */
    uint64_t suppressed;
    int level; /* the highest level suppressed, for the summary line */
} ev_slot_t;

/* Everything below is guarded by mu. The ring holds lines as [uint16 length][bytes], wrapping. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;    /* the writer: a line is queued, or flush */
static pthread_cond_t drained = PTHREAD_COND_INITIALIZER; /* flushers: the ring is empty */
static char ring[RING_BYTES];
static size_t ring_head, ring_used; /* head: where the oldest line starts */
static int async_on, writing;
static uint64_t dropped_pending; /* dropped since the last log.dropped line */
static ev_slot_t slots[EV_SLOTS];
static ev_slot_t keys[KEY_SLOTS];
static unsigned limit_burst = SLUICE_LOG_BURST, limit_window_ms = SLUICE_LOG_WINDOW_MS;

static atomic_ullong dropped_total, suppressed_total;

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Registers the exit flush and the fork handlers, once per process (below says why). */
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;
static void register_exit(void);

void sluice_log_setup(const char *name, sluice_log_level_t level, int fd)
{
    component = name;
    atomic_store(&min_level, (int)level);
    out_fd = fd;
    pthread_mutex_lock(&mu);
    memset(slots, 0, sizeof(slots));
    memset(keys, 0, sizeof(keys));
    pthread_mutex_unlock(&mu);
    pthread_once(&exit_once, register_exit);
}

void sluice_log_set_level(sluice_log_level_t level)
{
    atomic_store(&min_level, (int)level);
}

void sluice_log_set_limit(unsigned burst, unsigned window_ms)
{
    pthread_mutex_lock(&mu);
    limit_burst = burst;
    limit_window_ms = window_ms;
    memset(slots, 0, sizeof(slots));
    memset(keys, 0, sizeof(keys));
    pthread_mutex_unlock(&mu);
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

/* Formats one line into line[LINE_CAP]; `extra` (may be NULL) is a raw JSON member appended
 * after msg (`"suppressed":12`). Returns its length. */
static size_t format_line(char *line, int level, const char *event, const char *msg, const char *extra)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[40];
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);

    /* room for the closing and for `extra` (under 400 bytes: a summary's count, org and plugin) */
    size_t cap = LINE_CAP - 8 - (extra != NULL ? strlen(extra) + 1 : 0);
    size_t len = (size_t)snprintf(line, LINE_CAP, "{\"ts\":\"%s.%03ldZ\",\"level\":\"%s\",\"component\":\"", when,
                                  ts.tv_nsec / 1000000, level_names[level]);
    append_escaped(line, &len, cap, component);
    memcpy(line + len, "\",\"event\":\"", 11);
    len += 11;
    append_escaped(line, &len, cap, event);
    if (len + 9 < cap) {
        memcpy(line + len, "\",\"msg\":\"", 9);
        len += 9;
        append_escaped(line, &len, cap, msg);
    }
    line[len++] = '"';
    if (extra != NULL)
        len += (size_t)snprintf(line + len, LINE_CAP - len, ",%s", extra);
    memcpy(line + len, "}\n", 2);
    return len + 2;
}

/* Writes the whole line: one write(2) unless a signal or a short write cut it. Waits out a
 * non-blocking fd (a parent may have set O_NONBLOCK on a shared stderr). */
static void write_all(const char *p, size_t len)
{
    while (len > 0) {
        ssize_t w = write(out_fd, p, len);
        if (w > 0) {
            p += w;
            len -= (size_t)w;
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd pfd = {.fd = out_fd, .events = POLLOUT};
            poll(&pfd, 1, 1000);
        } else {
            return; /* nothing sensible to do if the log itself cannot be written */
        }
    }
}

/* --- the ring (mu held) --- */

static int ring_push(const char *line, size_t len)
{
    if (ring_used + 2 + len > RING_BYTES)
        return -1;
    size_t tail = (ring_head + ring_used) % RING_BYTES;
    unsigned char hdr[2] = {(unsigned char)(len >> 8), (unsigned char)len};
    const char *parts[2] = {(const char *)hdr, line};
    size_t lens[2] = {2, len};
    for (int k = 0; k < 2; k++) {
        size_t first = lens[k] < RING_BYTES - tail ? lens[k] : RING_BYTES - tail;
        memcpy(ring + tail, parts[k], first);
        memcpy(ring, parts[k] + first, lens[k] - first);
        tail = (tail + lens[k]) % RING_BYTES;
    }
    ring_used += 2 + len;
    return 0;
}

static void ring_take(char *out, size_t n)
{
    size_t first = n < RING_BYTES - ring_head ? n : RING_BYTES - ring_head;
    memcpy(out, ring + ring_head, first);
    memcpy(out + first, ring, n - first);
    ring_head = (ring_head + n) % RING_BYTES;
    ring_used -= n;
}

static size_t ring_pop(char *line)
{
    unsigned char hdr[2];
    ring_take((char *)hdr, 2);
    size_t len = (size_t)hdr[0] << 8 | hdr[1];
    ring_take(line, len);
    return len;
}

/* Hands a finished line on: queued for the writer, or (before sluice_log_start) written here.
 * Called with mu held; returns with it held. */
static void emit(const char *line, size_t len)
{
    if (!async_on) {
        pthread_mutex_unlock(&mu);
        write_all(line, len);
        pthread_mutex_lock(&mu);
        return;
    }
    /* Lines were dropped before this one: say how many, where they were lost. */
    if (dropped_pending > 0) {
        char msg[160], extra[48], note[LINE_CAP];
        snprintf(msg, sizeof(msg),
                 "%llu log lines dropped: the log's reader (stderr) did not keep up; "
                 "sluice_log_dropped_total counts them",
                 (unsigned long long)dropped_pending);
        snprintf(extra, sizeof(extra), "\"dropped\":%llu", (unsigned long long)dropped_pending);
        size_t n = format_line(note, SLUICE_LOG_WARN, "log.dropped", msg, extra);
        if (ring_push(note, n) == 0)
            dropped_pending = 0;
    }
    if (dropped_pending > 0 || ring_push(line, len) != 0) {
        dropped_pending++;
        atomic_fetch_add(&dropped_total, 1);
        return;
    }
    pthread_cond_signal(&wake);
}

/* The summary of a window that suppressed lines; mu held. A keyed window's names its org (and
 * plugin), in the message and as members, so org B's operator sees whose lines were left out. */
static void emit_summary(ev_slot_t *s)
{
    char msg[400], extra[400], line[LINE_CAP];
    if (s->org[0] != '\0') {
        char whose[KEY_ORG + KEY_PLUGIN + 32];
        if (s->plugin[0] != '\0')
            snprintf(whose, sizeof(whose), "org %s, plugin %s", s->org, s->plugin);
        else
            snprintf(whose, sizeof(whose), "org %s", s->org);
        snprintf(msg, sizeof(msg),
                 "%llu more lines like this for %s suppressed in %u s (at most %u lines per event name and org "
                 "in that time; sluice_log_suppressed_total counts them)",
                 (unsigned long long)s->suppressed, whose, limit_window_ms / 1000, limit_burst);
        /* Org ids and plugin names come from the config; escaped all the same. */
        size_t n =
            (size_t)snprintf(extra, sizeof(extra), "\"suppressed\":%llu,\"org\":\"", (unsigned long long)s->suppressed);
        append_escaped(extra, &n, 200, s->org);
        n += (size_t)snprintf(extra + n, sizeof(extra) - n, "\"");
        if (s->plugin[0] != '\0') {
            n += (size_t)snprintf(extra + n, sizeof(extra) - n, ",\"plugin\":\"");
            append_escaped(extra, &n, sizeof(extra) - 2, s->plugin);
            snprintf(extra + n, sizeof(extra) - n, "\"");
        }
    } else {
        snprintf(msg, sizeof(msg),
                 "%llu more lines like this suppressed in %u s (at most %u lines per event name in that time; "
                 "sluice_log_suppressed_total counts them)",
                 (unsigned long long)s->suppressed, limit_window_ms / 1000, limit_burst);
        snprintf(extra, sizeof(extra), "\"suppressed\":%llu", (unsigned long long)s->suppressed);
    }
    size_t n = format_line(line, s->level, s->name, msg, extra);
    s->suppressed = 0;
    s->level = 0;
    emit(line, n);
}

/* The slot of event (found or claimed), NULL when the table is full; mu held. */
static ev_slot_t *slot_of(const char *event)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)event; *p; p++)
        h = (h ^ *p) * 16777619u;
    for (unsigned i = 0; i < EV_SLOTS; i++) {
        ev_slot_t *s = &slots[(h + i) % EV_SLOTS];
        if (s->name[0] == '\0') {
            snprintf(s->name, sizeof(s->name), "%s", event);
            return s;
        }
        if (strncmp(s->name, event, EV_NAME - 1) == 0)
            return s;
    }
    return NULL;
}

/* Lines only an operator's own action causes (a config file, a SIGHUP, a certificate put in
 * place, a `sluicectl forget`): never at a client's or an outage's pace, and each one is the
 * answer the operator waits for, so none is cut. A reload storm or a run of forgets writes one
 * each, as many as the operator asked for. */
static const char *const never_cut[] = {"config.error",      "config.warning",         "config.reload",
                                        "deliver.sighup",    "forget.list_loaded",     "tls.cert_expired",
                                        "tls.cert_expiring", "tls.cert_not_yet_valid", "tls.chain_incomplete",
                                        "tls.cert_dates",    "tls.key_readable"};

static uint64_t fnv(uint64_t h, const char *str)
{
    for (const unsigned char *p = (const unsigned char *)str; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    return (h ^ 0xff) * 1099511628211ull; /* a separator: ("ab", "c") is not ("a", "bc") */
}

/* The window of (event, org, plugin): found, or a free slot of its set claimed, or one whose
 * window ended taken over (its summary written first: the count stays exact); NULL when every
 * slot of the set holds a live window (the caller then uses the event name's). mu held. */
static ev_slot_t *key_of(const char *event, const char *org, const char *plugin, int64_t now)
{
    uint64_t h = fnv(fnv(fnv(14695981039346656037ull, event), org), plugin);
    if (h == 0)
        h = 1;
    ev_slot_t *set = &keys[(h % (KEY_SLOTS / KEY_WAYS)) * KEY_WAYS], *take = NULL;
    for (unsigned i = 0; i < KEY_WAYS; i++) {
        ev_slot_t *s = &set[i];
        if (s->hash == h && strncmp(s->name, event, EV_NAME - 1) == 0 && strncmp(s->org, org, KEY_ORG - 1) == 0 &&
            strncmp(s->plugin, plugin, KEY_PLUGIN - 1) == 0)
            return s;
        if (take == NULL && (s->hash == 0 || now - s->window_ms >= (int64_t)limit_window_ms))
            take = s;
    }
    if (take == NULL)
        return NULL;
    if (take->suppressed > 0)
        emit_summary(take);
    memset(take, 0, sizeof(*take));
    take->hash = h;
    snprintf(take->name, sizeof(take->name), "%s", event);
    snprintf(take->org, sizeof(take->org), "%s", org);
    snprintf(take->plugin, sizeof(take->plugin), "%s", plugin);
    return take;
}

/* 1 when event's line may be written now; counts it suppressed otherwise. org (and plugin) key
 * the window when given. mu held. */
static int admit(int level, const char *event, const char *org, const char *plugin, int64_t now)
{
    if (limit_burst == 0 || level == SLUICE_LOG_DEBUG) /* debug is asked for, line by line */
        return 1;
    for (size_t i = 0; i < sizeof(never_cut) / sizeof(never_cut[0]); i++)
        if (strcmp(event, never_cut[i]) == 0)
            return 1;
    ev_slot_t *s = NULL;
    if (org != NULL && org[0] != '\0')
        s = key_of(event, org, plugin != NULL ? plugin : "", now);
    if (s == NULL)
        s = slot_of(event);
    if (s == NULL)
        return 1;
    if (s->lines == 0 || now - s->window_ms >= (int64_t)limit_window_ms) {
        if (s->suppressed > 0)
            emit_summary(s);
        s->window_ms = now;
        s->lines = 0;
    }
    if (s->lines < limit_burst) {
        s->lines++;
        return 1;
    }
    s->suppressed++;
    if (level > s->level)
        s->level = level;
    atomic_fetch_add(&suppressed_total, 1);
    return 0;
}

/* Summaries of the windows that ended (all of them when `all`); mu held. Thousands of orgs'
 * windows can end at once, more summaries than the ring holds: the sweep stops at half the ring
 * (the rest stay counted in their windows, for the next sweep) rather than drop them. Returns 1
 * when some were left for later. */
static int sweep(int64_t now, int all)
{
    for (unsigned i = 0; i < EV_SLOTS + KEY_SLOTS; i++) {
        ev_slot_t *s = i < EV_SLOTS ? &slots[i] : &keys[i - EV_SLOTS];
        if (s->suppressed == 0 || (!all && now - s->window_ms < (int64_t)limit_window_ms))
            continue;
        if (async_on && ring_used + LINE_CAP > RING_BYTES / 2)
            return 1;
        emit_summary(s);
    }
    return 0;
}

static void log_va(sluice_log_level_t level, const char *event, const char *org, const char *plugin, const char *fmt,
                   va_list ap) __attribute__((format(printf, 5, 0)));

static void log_va(sluice_log_level_t level, const char *event, const char *org, const char *plugin, const char *fmt,
                   va_list ap)
{
    if ((int)level < atomic_load(&min_level))
        return;
    pthread_mutex_lock(&mu);
    int ok = admit((int)level, event, org, plugin, mono_ms());
    pthread_mutex_unlock(&mu);
    if (!ok)
        return;
    char msg[1024], line[LINE_CAP];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t len = format_line(line, (int)level, event, msg, NULL);
    pthread_mutex_lock(&mu);
    emit(line, len);
    pthread_mutex_unlock(&mu);
}

void sluice_log_for(sluice_log_level_t level, const char *event, const char *org, const char *plugin, const char *fmt,
                    ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_va(level, event, org, plugin, fmt, ap);
    va_end(ap);
}

void sluice_log(sluice_log_level_t level, const char *event, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_va(level, event, NULL, NULL, fmt, ap);
    va_end(ap);
}

/* --- the writer thread --- */

static void *writer_main(void *arg)
{
    (void)arg;
    char line[LINE_CAP];
    int64_t swept = mono_ms();
    pthread_mutex_lock(&mu);
    for (;;) {
        int64_t now = mono_ms();
        if (now - swept >= 1000) { /* a flood that stopped still gets its summary */
            sweep(now, 0);
            swept = now;
        }
        if (ring_used == 0 && dropped_pending > 0)
            emit("", 0); /* nothing else to write: the log.dropped line alone */
        if (ring_used == 0) {
            pthread_cond_broadcast(&drained);
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += 1;
            pthread_cond_timedwait(&wake, &mu, &until);
            continue;
        }
        size_t len = ring_pop(line);
        writing = 1;
        pthread_mutex_unlock(&mu);
        if (len > 0)
            write_all(line, len);
        pthread_mutex_lock(&mu);
        writing = 0;
    }
    return NULL;
}

/* A fork while another thread logs: the child gets the lock free and, having no writer thread,
 * writes its lines itself (what it queued before is the parent's to write). */
static void fork_prepare(void)
{
    pthread_mutex_lock(&mu);
}

static void fork_parent(void)
{
    pthread_mutex_unlock(&mu);
}

static void fork_child(void)
{
    async_on = 0;
    writing = 0;
    ring_used = 0;
    dropped_pending = 0;
    pthread_mutex_unlock(&mu);
}

static void flush_at_exit(void)
{
    sluice_log_flush(SLUICE_LOG_EXIT_FLUSH_MS);
}

/* Once per process, from setup or start: exit writes what is queued and the pending summaries.
 * Registered at setup too: without the writer thread (sluicectl, or no thread could be made) a
 * flood's summary is otherwise never written, and the lines left out go unmentioned. */
static void register_exit(void)
{
    pthread_atfork(fork_prepare, fork_parent, fork_child);
    atexit(flush_at_exit);
}

static struct sigaction abort_prev;

static void nap_ms(long ms)
{
    struct timespec ts = {.tv_sec = 0, .tv_nsec = ms * 1000000L};
    nanosleep(&ts, NULL);
}

/* abort() runs no atexit handler: the line a caller logged just before it ("out of memory ...:
 * aborting"), the one that says why the process died, was still in the ring and lost. This
 * writes the ring out (within SLUICE_LOG_EXIT_FLUSH_MS, for a stderr nobody reads), then lets
 * the signal do what it did before (a core dump by default). Async-signal-safe calls, save the
 * trylock, which never waits, and a summary's formatting (below); the lock stays held so the
 * writer takes no line meanwhile. */
static void on_abort(int sig)
{
    int saved = errno;
    int waited = 0;
    for (;;) {
        if (pthread_mutex_trylock(&mu) == 0) {
            if (!writing)
                break;
            pthread_mutex_unlock(&mu); /* the writer is writing a line: that line comes first */
        }
        if (waited++ >= SLUICE_LOG_EXIT_FLUSH_MS)
            goto out;
        nap_ms(1);
    }
    char line[LINE_CAP];
    int budget = SLUICE_LOG_EXIT_FLUSH_MS;
    /* The summaries too, as exit writes them (a half ring at a time, sweep says why): a flood cut
     * just before the abort otherwise leaves its first lines and no word of the rest. Formatting
     * one takes snprintf and gmtime_r, which this thread (in abort(), not in them) may call. */
    for (int left = async_on; left && budget > 0;) {
        left = sweep(mono_ms(), 1);
        while (ring_used > 0 && budget > 0) {
            size_t len = ring_pop(line);
            struct pollfd pfd = {.fd = out_fd, .events = POLLOUT};
            while (budget > 0 && poll(&pfd, 1, 100) == 0)
                budget -= 100;
            /* A pipe that polls writable takes a line under PIPE_BUF whole. */
            if (len > 0 && budget > 0 && write(out_fd, line, len) < 0 && errno != EINTR)
                goto out;
        }
    }
out:
    sigaction(SIGABRT, &abort_prev, NULL);
    errno = saved;
    raise(sig); /* blocked until this handler returns, then delivered as before */
}

int sluice_log_start(void)
{
    pthread_mutex_lock(&mu);
    if (async_on) {
        pthread_mutex_unlock(&mu);
        return 0;
    }
    /* No signal for this thread: the gateway and the worker wait for theirs in sigwait and a
     * signalfd, masks set after this may start. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    int rc = pthread_create(&t, &attr, writer_main, NULL);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc == 0)
        async_on = 1;
    pthread_mutex_unlock(&mu);
    pthread_once(&exit_once, register_exit);
    if (rc != 0)
        return -1;
    static int abort_hooked;
    if (!abort_hooked) {
        abort_hooked = 1;
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_abort;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGABRT, &sa, &abort_prev);
    }
    return 0;
}

int sluice_log_flush(int timeout_ms)
{
    pthread_mutex_lock(&mu);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    int rc = 0, left;
    do { /* the summaries a half ring at a time (sweep says why) */
        left = sweep(mono_ms(), 1);
        if (async_on && dropped_pending > 0)
            emit("", 0);
        while (async_on && (ring_used > 0 || writing || dropped_pending > 0)) {
            pthread_cond_signal(&wake);
            if (pthread_cond_timedwait(&drained, &mu, &until) == ETIMEDOUT) {
                rc = -1;
                left = 0;
                break;
            }
        }
    } while (left);
    pthread_mutex_unlock(&mu);
    return rc;
}

unsigned long long sluice_log_dropped(void)
{
    return atomic_load(&dropped_total);
}

unsigned long long sluice_log_suppressed(void)
{
    return atomic_load(&suppressed_total);
}

size_t sluice_log_metrics(char *buf, size_t cap)
{
    int n = snprintf(buf, cap,
                     "# HELP sluice_log_dropped_total Log lines dropped because stderr's reader did not keep up "
                     "(the log.dropped line says how many, where).\n"
                     "# TYPE sluice_log_dropped_total counter\nsluice_log_dropped_total %llu\n"
                     "# HELP sluice_log_suppressed_total Log lines left out by the per-event-name limit (each "
                     "event's summary line says how many).\n"
                     "# TYPE sluice_log_suppressed_total counter\nsluice_log_suppressed_total %llu\n",
                     sluice_log_dropped(), sluice_log_suppressed());
    return n < 0 ? 0 : (size_t)n;
}
