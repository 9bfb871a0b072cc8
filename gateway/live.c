/*
 * The live view's store (gateway/live.h): per-thread rings of the envelopes produced lately,
 * written by their event-loop thread without a lock and read by any thread through a sequence
 * lock per slot. The slot's contents are atomics accessed with relaxed order between an odd and an
 * even sequence number (release on the writer's side, acquire on the reader's), the C11 form of a
 * sequence lock, so the reader's copy is well defined even while the writer overwrites the slot.
 * Writers: each event-loop thread for its own rings; readers: the metrics listener's requests.
 */
#include "gateway/live.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/time.h"
#include "crypto/ct.h"
#include "crypto/hash.h"
#include "crypto/secretenv.h"

#define SLOT_WORDS (SLUICE_LIVE_SLOT_BYTES / 8)
#define NAME_MAX_  64

typedef struct slot {
    atomic_uint_fast64_t seq; /* 0: never written; odd: being written */
    atomic_uint_fast64_t id;  /* the event's number, gateway-wide */
    atomic_int_fast64_t at_ms;
    atomic_size_t len; /* the whole envelope's; only min(len, SLOT_BYTES) kept */
    atomic_uint_fast64_t words[SLOT_WORDS];
} slot_t;

typedef struct stream {
    char org[NAME_MAX_ + 1], source[NAME_MAX_ + 1]; /* set before the stream is published */
    unsigned next;                                  /* the writer's next slot */
    slot_t slots[SLUICE_LIVE_SLOTS];
} stream_t;

typedef struct rings {
    _Atomic(stream_t *) streams[SLUICE_LIVE_STREAMS];
    atomic_uint published; /* streams[0..published) are set */
    /* The number this thread is giving an event, set before it is taken and 0 once the event's
     * slot is written: a reader never moves its cursor past it (sluice_live_collect). */
    atomic_uint_fast64_t inflight;
    unsigned count; /* the writer's own count */
    char pad[64];   /* keep threads' counters off one cache line */
} rings_t;

struct sluice_live {
    unsigned nthreads;
    rings_t *threads;
    uint8_t token_digest[SLUICE_SHA256_LEN];
    char pad[64];                 /* next_id, written by every thread, on a cache line of its own */
    atomic_uint_fast64_t next_id; /* the last number given to an event */
    char pad_after[64];
};

sluice_live_t *sluice_live_create(unsigned nthreads, const char *token, size_t token_len)
{
    sluice_live_t *l = calloc(1, sizeof(*l));
    if (l == NULL)
        return NULL;
    l->nthreads = nthreads;
    l->threads = calloc(nthreads ? nthreads : 1, sizeof(*l->threads));
    if (l->threads == NULL || sluice_sha256(token, token_len, l->token_digest) != 0) {
        sluice_live_destroy(l);
        return NULL;
    }
    return l;
}

int sluice_live_from_env(unsigned nthreads, sluice_live_t **out, sluice_err_t *err)
{
    *out = NULL;
    const char *token = getenv("SLUICE_LIVE_TOKEN");
    if (token == NULL || token[0] == '\0')
        return 0;
    size_t len = strlen(token);
    if (len >= SLUICE_LIVE_TOKEN_MIN)
        *out = sluice_live_create(nthreads, token, len);
    /* Only the digest is kept: the token leaves the environment (where the gateway's heap copy of
     * it would stay for the process's life, secretenv.h), whatever became of it. */
    sluice_secretenv_forget("SLUICE_LIVE_TOKEN");
    if (len < SLUICE_LIVE_TOKEN_MIN)
        return sluice_err_set(err,
                              "SLUICE_LIVE_TOKEN: %zu characters is too short for a bearer token; use at least %d "
                              "(e.g. `sluicectl keys generate`), or unset it to turn the live view off",
                              len, SLUICE_LIVE_TOKEN_MIN);
    return *out != NULL ? 0 : sluice_err_set(err, "out of memory");
}

void sluice_live_destroy(sluice_live_t *l)
{
    if (l == NULL)
        return;
    for (unsigned t = 0; l->threads != NULL && t < l->nthreads; t++)
        for (unsigned i = 0; i < l->threads[t].count; i++)
            free(atomic_load(&l->threads[t].streams[i]));
    free(l->threads);
    sluice_secure_zero(l->token_digest, sizeof(l->token_digest));
    free(l);
}

int sluice_live_token_ok(const sluice_live_t *l, const char *token, size_t len)
{
    uint8_t d[SLUICE_SHA256_LEN];
    if (l == NULL || sluice_sha256(token, len, d) != 0)
        return 0;
    return sluice_ct_equal(d, l->token_digest, sizeof(d));
}

/* ------------------------------------------------------------------ writing (one thread) */

static stream_t *stream_for(rings_t *r, const char *org, const char *source)
{
    for (unsigned i = 0; i < r->count; i++) {
        stream_t *s = atomic_load_explicit(&r->streams[i], memory_order_relaxed);
        if (strcmp(s->source, source) == 0 && strcmp(s->org, org) == 0)
            return s;
    }
    if (r->count >= SLUICE_LIVE_STREAMS || strlen(org) > NAME_MAX_ || strlen(source) > NAME_MAX_)
        return NULL;
    stream_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    memcpy(s->org, org, strlen(org) + 1);
    memcpy(s->source, source, strlen(source) + 1);
    atomic_store_explicit(&r->streams[r->count], s, memory_order_release);
    r->count++;
    atomic_store_explicit(&r->published, r->count, memory_order_release);
    return s;
}

void sluice_live_record(sluice_live_t *l, unsigned thread, const char *org, const char *source, const char *payload,
                        size_t len)
{
    if (l == NULL || thread >= l->nthreads || org == NULL || source == NULL)
        return;
    rings_t *r = &l->threads[thread];
    stream_t *s = stream_for(r, org, source);
    if (s == NULL)
        return;
    /* The number is announced in r->inflight before it is taken (both sequentially consistent),
     * so a reader that sees next_id at or past it also sees it in flight until the slot holds
     * it: threads finish their events out of order, and a cursor moved past one still being
     * written would skip it for good. */
    uint_fast64_t cur = atomic_load_explicit(&l->next_id, memory_order_relaxed), id;
    do {
        id = cur + 1;
        atomic_store(&r->inflight, id);
    } while (!atomic_compare_exchange_weak(&l->next_id, &cur, id));
    slot_t *sl = &s->slots[s->next++ % SLUICE_LIVE_SLOTS];
    uint_fast64_t seq = atomic_load_explicit(&sl->seq, memory_order_relaxed);
    atomic_store_explicit(&sl->seq, seq + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    atomic_store_explicit(&sl->id, id, memory_order_relaxed);
    atomic_store_explicit(&sl->at_ms, sluice_now_ms(), memory_order_relaxed);
    atomic_store_explicit(&sl->len, len, memory_order_relaxed);
    if (len <= SLUICE_LIVE_SLOT_BYTES) {
        for (size_t off = 0, w = 0; off < len; off += 8, w++) {
            uint64_t word = 0;
            memcpy(&word, payload + off, len - off < 8 ? len - off : 8);
            atomic_store_explicit(&sl->words[w], word, memory_order_relaxed);
        }
    }
    atomic_store_explicit(&sl->seq, seq + 2, memory_order_release);
    atomic_store(&r->inflight, 0);
}

/* ------------------------------------------------------------------ reading (any thread) */

typedef struct entry {
    uint64_t id;
    int64_t at_ms;
    size_t len;
    uint_fast64_t seq; /* the slot's sequence number when read */
    const slot_t *slot;
    size_t ref; /* its stream's index in the reader's refs */
} entry_t;

/* A stream the reader looks at, and the number of its (org, source): one pair is a stream on each
 * thread that saw it, and the page shows the newest SLUICE_LIVE_SLOTS of the pair. */
typedef struct ref {
    const stream_t *stream;
    size_t group;
} ref_t;

/* Reads a slot's number, time and size; 0 when it holds nothing numbered in (after, upto], or was
 * being rewritten. */
static int read_head(const slot_t *sl, uint64_t after, uint64_t upto, entry_t *e)
{
    uint_fast64_t seq = atomic_load_explicit(&sl->seq, memory_order_acquire);
    if (seq == 0 || (seq & 1))
        return 0;
    e->id = atomic_load_explicit(&sl->id, memory_order_relaxed);
    e->at_ms = atomic_load_explicit(&sl->at_ms, memory_order_relaxed);
    e->len = atomic_load_explicit(&sl->len, memory_order_relaxed);
    atomic_thread_fence(memory_order_acquire);
    if (atomic_load_explicit(&sl->seq, memory_order_relaxed) != seq || e->id <= after || e->id > upto)
        return 0;
    e->seq = seq;
    e->slot = sl;
    return 1;
}

/* Copies the envelope of a slot read by read_head (at most SLUICE_LIVE_SLOT_BYTES) into buf; 0
 * when the slot was rewritten since, by a newer event that the next call returns. */
static int read_bytes(const entry_t *e, char *buf)
{
    uint_fast64_t seq = atomic_load_explicit(&e->slot->seq, memory_order_acquire);
    if (seq != e->seq)
        return 0;
    for (size_t w = 0; w * 8 < e->len; w++) {
        uint64_t word = atomic_load_explicit(&e->slot->words[w], memory_order_relaxed);
        memcpy(buf + w * 8, &word, 8);
    }
    atomic_thread_fence(memory_order_acquire);
    return atomic_load_explicit(&e->slot->seq, memory_order_relaxed) == seq;
}

static int by_id(const void *a, const void *b)
{
    uint64_t x = ((const entry_t *)a)->id, y = ((const entry_t *)b)->id;
    return x < y ? -1 : x > y;
}

static int by_name(const void *a, const void *b)
{
    const stream_t *x = (*(ref_t *const *)a)->stream, *y = (*(ref_t *const *)b)->stream;
    int c = strcmp(x->org, y->org);
    return c != 0 ? c : strcmp(x->source, y->source);
}

/* Numbers refs[0..n) by (org, source), sorting pointers to them. 0, or -1 when out of memory. */
static int group_refs(ref_t *refs, size_t n)
{
    ref_t **sorted = malloc((n ? n : 1) * sizeof(*sorted));
    if (sorted == NULL)
        return -1;
    for (size_t i = 0; i < n; i++)
        sorted[i] = &refs[i];
    qsort(sorted, n, sizeof(*sorted), by_name);
    for (size_t i = 0, g = 0; i < n; i++) {
        if (i > 0 && by_name(&sorted[i - 1], &sorted[i]) != 0)
            g++;
        sorted[i]->group = g;
    }
    free(sorted);
    return 0;
}

/* Appends a JSON string (names are ids: letters, digits, '_', '-'; anything else is escaped). */
static void json_str(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 0x20)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

/* The reader runs on an event-loop thread of the gateway, so its cost is the loop's: with every
 * ring full (many threads and sources) most kept events are not shown (only the newest
 * SLUICE_LIVE_SLOTS of each pair are). So it first reads every slot's number only, picks the
 * events to show (grouping streams by name: O(n log n)), and copies only their envelopes, straight
 * into the answer. Comparing each event with the ones after it, and copying every envelope first,
 * took 200 ms of the loop for one answer of a gateway with 8 threads and 64 sources. */
char *sluice_live_collect(const sluice_live_t *l, const char *org, const char *source, uint64_t after, size_t *len)
{
    return sluice_live_collect_except(l, org, source, after, NULL, NULL, len);
}

char *sluice_live_collect_except(const sluice_live_t *l, const char *org, const char *source, uint64_t after,
                                 sluice_live_skip_fn skip, void *ud, size_t *len)
{
    size_t cap = 0, n = 0;
    entry_t *es = NULL;
    /* Only numbers every event up to which is in its slot (or already overwritten): `next` never
     * passes an event another thread is still writing, which the next call then returns. Every
     * number up to hi was taken before this load; one still in flight is announced (record). */
    uint64_t hi = atomic_load(&l->next_id), upto = hi;
    for (unsigned t = 0; t < l->nthreads; t++) {
        uint64_t f = atomic_load(&l->threads[t].inflight);
        if (f != 0 && f <= upto)
            upto = f - 1;
    }
    /* A cursor from before a restart of the gateway (numbers start again at 1): from the start. */
    if (after > hi)
        after = 0;
    char *buf = malloc(SLUICE_LIVE_SLOT_BYTES + 8);
    ref_t *refs = calloc((size_t)l->nthreads * SLUICE_LIVE_STREAMS + 1, sizeof(*refs));
    size_t nrefs = 0;
    int oom = buf == NULL || refs == NULL;
    for (unsigned t = 0; !oom && t < l->nthreads; t++) {
        const rings_t *r = &l->threads[t];
        unsigned count = atomic_load_explicit(&r->published, memory_order_acquire);
        for (unsigned i = 0; !oom && i < count; i++) {
            const stream_t *s = atomic_load_explicit(&r->streams[i], memory_order_acquire);
            if ((org != NULL && strcmp(s->org, org) != 0) || (source != NULL && strcmp(s->source, source) != 0))
                continue;
            refs[nrefs].stream = s;
            for (unsigned k = 0; k < SLUICE_LIVE_SLOTS; k++) {
                entry_t e;
                if (!read_head(&s->slots[k], after, upto, &e))
                    continue;
                e.ref = nrefs;
                if (n == cap) {
                    entry_t *ne = realloc(es, (cap ? cap * 2 : 64) * sizeof(*es));
                    if (ne == NULL) {
                        oom = 1;
                        break;
                    }
                    es = ne;
                    cap = cap ? cap * 2 : 64;
                }
                es[n++] = e;
            }
            nrefs++;
        }
    }
    /* For each event, how many newer ones its (org, source) has: counted from the newest. */
    size_t *newer = oom || group_refs(refs, nrefs) != 0 ? NULL : malloc((n ? n : 1) * sizeof(*newer));
    size_t *seen = newer == NULL ? NULL : calloc(nrefs + 1, sizeof(*seen));
    char *text = NULL;
    size_t text_len = 0;
    FILE *out = seen == NULL ? NULL : open_memstream(&text, &text_len);
    if (out != NULL) {
        if (n > 0)
            qsort(es, n, sizeof(*es), by_id);
        for (size_t i = n; i-- > 0;)
            newer[i] = seen[refs[es[i].ref].group]++;
        uint64_t next = after;
        fputs("{\"events\":[", out);
        int first = 1;
        for (size_t i = 0; i < n; i++) {
            if (es[i].id > next)
                next = es[i].id;
            /* The newest SLUICE_LIVE_SLOTS of each (org, source), whichever threads wrote them. */
            if (newer[i] >= SLUICE_LIVE_SLOTS)
                continue;
            int whole = es[i].len <= SLUICE_LIVE_SLOT_BYTES;
            if (whole && !read_bytes(&es[i], buf))
                continue; /* overwritten since its number was read */
            const stream_t *st = refs[es[i].ref].stream;
            if (whole && skip != NULL && skip(ud, st->org, buf, es[i].len))
                continue;
            char when[SLUICE_TIME_TEXT_MAX];
            sluice_time_format(es[i].at_ms, when);
            fprintf(out, "%s{\"id\":%llu,\"at\":\"%s\",\"org\":", first ? "" : ",", (unsigned long long)es[i].id, when);
            json_str(out, st->org);
            fputs(",\"source\":", out);
            json_str(out, st->source);
            fprintf(out, ",\"bytes\":%zu,\"envelope\":", es[i].len);
            if (whole)
                fwrite(buf, 1, es[i].len, out);
            else
                fputs("null", out);
            fputc('}', out);
            first = 0;
        }
        fprintf(out, "],\"next\":%llu}", (unsigned long long)next);
        if (fclose(out) != 0) {
            free(text);
            text = NULL;
        }
    }
    free(buf);
    free(es);
    free(newer);
    free(seen);
    free(refs);
    if (text != NULL && len != NULL)
        *len = text_len;
    return text;
}
