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
    unsigned count;        /* the writer's own count */
    char pad[64];          /* keep threads' counters off one cache line */
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
    if (len < SLUICE_LIVE_TOKEN_MIN)
        return sluice_err_set(err,
                              "SLUICE_LIVE_TOKEN: %zu characters is too short for a bearer token; use at least %d "
                              "(e.g. `sluicectl keys generate`), or unset it to turn the live view off",
                              len, SLUICE_LIVE_TOKEN_MIN);
    *out = sluice_live_create(nthreads, token, len);
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
    stream_t *s = stream_for(&l->threads[thread], org, source);
    if (s == NULL)
        return;
    slot_t *sl = &s->slots[s->next++ % SLUICE_LIVE_SLOTS];
    uint_fast64_t seq = atomic_load_explicit(&sl->seq, memory_order_relaxed);
    atomic_store_explicit(&sl->seq, seq + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    atomic_store_explicit(&sl->id, atomic_fetch_add_explicit(&l->next_id, 1, memory_order_relaxed) + 1,
                          memory_order_relaxed);
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
}

/* ------------------------------------------------------------------ reading (any thread) */

typedef struct entry {
    uint64_t id;
    int64_t at_ms;
    size_t len;
    const stream_t *stream;
    char *bytes; /* NULL when the envelope was too long to keep */
} entry_t;

/* Copies a slot; 0 when it holds nothing newer than after, or was being rewritten. */
static int read_slot(const slot_t *sl, const stream_t *s, uint64_t after, entry_t *e, char *buf)
{
    uint_fast64_t seq = atomic_load_explicit(&sl->seq, memory_order_acquire);
    if (seq == 0 || (seq & 1))
        return 0;
    e->id = atomic_load_explicit(&sl->id, memory_order_relaxed);
    e->at_ms = atomic_load_explicit(&sl->at_ms, memory_order_relaxed);
    e->len = atomic_load_explicit(&sl->len, memory_order_relaxed);
    e->stream = s;
    if (e->id <= after)
        return 0;
    size_t n = e->len <= SLUICE_LIVE_SLOT_BYTES ? e->len : 0;
    for (size_t w = 0; w * 8 < n; w++) {
        uint64_t word = atomic_load_explicit(&sl->words[w], memory_order_relaxed);
        memcpy(buf + w * 8, &word, 8);
    }
    atomic_thread_fence(memory_order_acquire);
    return atomic_load_explicit(&sl->seq, memory_order_relaxed) == seq;
}

static int by_id(const void *a, const void *b)
{
    uint64_t x = ((const entry_t *)a)->id, y = ((const entry_t *)b)->id;
    return x < y ? -1 : x > y;
}

static int same_stream(const stream_t *a, const stream_t *b)
{
    return strcmp(a->org, b->org) == 0 && strcmp(a->source, b->source) == 0;
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

char *sluice_live_collect(const sluice_live_t *l, const char *org, const char *source, uint64_t after, size_t *len)
{
    size_t cap = 0, n = 0;
    entry_t *es = NULL;
    /* A cursor from before a restart of the gateway (numbers start again at 1): from the start. */
    if (after > atomic_load_explicit(&l->next_id, memory_order_relaxed))
        after = 0;
    char *buf = malloc(SLUICE_LIVE_SLOT_BYTES + 8);
    int oom = buf == NULL;
    for (unsigned t = 0; !oom && t < l->nthreads; t++) {
        const rings_t *r = &l->threads[t];
        unsigned count = atomic_load_explicit(&r->published, memory_order_acquire);
        for (unsigned i = 0; !oom && i < count; i++) {
            const stream_t *s = atomic_load_explicit(&r->streams[i], memory_order_acquire);
            if ((org != NULL && strcmp(s->org, org) != 0) || (source != NULL && strcmp(s->source, source) != 0))
                continue;
            for (unsigned k = 0; k < SLUICE_LIVE_SLOTS; k++) {
                entry_t e;
                if (!read_slot(&s->slots[k], s, after, &e, buf))
                    continue;
                e.bytes = NULL;
                if (e.len <= SLUICE_LIVE_SLOT_BYTES && (e.bytes = malloc(e.len + 1)) == NULL) {
                    oom = 1;
                    break;
                }
                if (e.bytes != NULL)
                    memcpy(e.bytes, buf, e.len);
                if (n == cap) {
                    entry_t *ne = realloc(es, (cap ? cap * 2 : 64) * sizeof(*es));
                    if (ne == NULL) {
                        free(e.bytes);
                        oom = 1;
                        break;
                    }
                    es = ne;
                    cap = cap ? cap * 2 : 64;
                }
                es[n++] = e;
            }
        }
    }
    free(buf);
    char *text = NULL;
    size_t text_len = 0;
    FILE *out = oom ? NULL : open_memstream(&text, &text_len);
    if (out != NULL) {
        if (n > 0)
            qsort(es, n, sizeof(*es), by_id);
        uint64_t next = after;
        fputs("{\"events\":[", out);
        int first = 1;
        for (size_t i = 0; i < n; i++) {
            /* The newest SLUICE_LIVE_SLOTS of each (org, source), whichever threads wrote them. */
            size_t newer = 0;
            for (size_t k = i + 1; k < n && newer < SLUICE_LIVE_SLOTS; k++)
                newer += same_stream(es[k].stream, es[i].stream);
            if (es[i].id > next)
                next = es[i].id;
            if (newer >= SLUICE_LIVE_SLOTS)
                continue;
            char when[SLUICE_TIME_TEXT_MAX];
            sluice_time_format(es[i].at_ms, when);
            fprintf(out, "%s{\"id\":%llu,\"at\":\"%s\",\"org\":", first ? "" : ",", (unsigned long long)es[i].id, when);
            json_str(out, es[i].stream->org);
            fputs(",\"source\":", out);
            json_str(out, es[i].stream->source);
            fprintf(out, ",\"bytes\":%zu,\"envelope\":", es[i].len);
            if (es[i].bytes != NULL)
                fwrite(es[i].bytes, 1, es[i].len, out);
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
    for (size_t i = 0; i < n; i++)
        free(es[i].bytes);
    free(es);
    if (text != NULL && len != NULL)
        *len = text_len;
    return text;
}
