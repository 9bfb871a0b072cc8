/*
 * Completion tracking per partition (see tracker.h): a ring of (offset, done) in offset order;
 * the done prefix is released and moves the commit offset. The worker's loop thread.
 */
#include "vendors/tracker.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* Bits of done[]: the mark shares its byte, so it costs no memory of its own. */
#define DONE   1
#define MARKED 2

void sluice_tracker_init(sluice_tracker_t *t)
{
    memset(t, 0, sizeof(*t));
    t->first_offset = -1;
    t->last_offset = -1;
    t->next_commit = -1;
}

void sluice_tracker_dispose(sluice_tracker_t *t)
{
    free(t->offsets);
    free(t->done);
    free(t->holds);
    sluice_tracker_init(t);
}

static int grow(sluice_tracker_t *t)
{
    size_t ncap = t->cap ? t->cap * 2 : 64;
    int64_t *o = malloc(ncap * sizeof(*o));
    unsigned char *d = malloc(ncap), *h = malloc(ncap);
    if (o == NULL || d == NULL || h == NULL) {
        free(o);
        free(d);
        free(h);
        return -1;
    }
    for (size_t i = 0; i < t->count; i++) {
        size_t from = (t->head + i) & (t->cap - 1);
        o[i] = t->offsets[from];
        d[i] = t->done[from];
        h[i] = t->holds[from];
    }
    free(t->offsets);
    free(t->done);
    free(t->holds);
    t->offsets = o;
    t->done = d;
    t->holds = h;
    t->cap = ncap;
    t->head = 0;
    return 0;
}

int sluice_tracker_add(sluice_tracker_t *t, int64_t offset, uint64_t *seq)
{
    if (offset <= t->last_offset || offset < 0)
        return -1;
    if (t->count == t->cap && grow(t) != 0)
        return -2;
    size_t at = (t->head + t->count) & (t->cap - 1);
    t->offsets[at] = offset;
    t->done[at] = 0;
    t->holds[at] = 0;
    *seq = t->head_seq + t->count;
    t->count++;
    if (t->first_offset < 0)
        t->first_offset = offset;
    t->last_offset = offset;
    return 0;
}

static size_t slot(const sluice_tracker_t *t, uint64_t seq)
{
    return (t->head + (size_t)(seq - t->head_seq)) & (t->cap - 1);
}

static void release(sluice_tracker_t *t)
{
    while (t->count > 0 && (t->done[t->head] & DONE) && t->holds[t->head] == 0) {
        t->next_commit = t->offsets[t->head] + 1;
        t->head = (t->head + 1) & (t->cap - 1);
        t->head_seq++;
        t->count--;
    }
}

void sluice_tracker_done(sluice_tracker_t *t, uint64_t seq)
{
    if (seq < t->head_seq || seq >= t->head_seq + t->count)
        return;
    t->done[slot(t, seq)] |= DONE;
    release(t);
}

void sluice_tracker_mark(sluice_tracker_t *t, uint64_t seq)
{
    if (seq >= t->head_seq && seq < t->head_seq + t->count)
        t->done[slot(t, seq)] |= MARKED;
}

int sluice_tracker_marked(const sluice_tracker_t *t, uint64_t seq)
{
    return seq >= t->head_seq && seq < t->head_seq + t->count && (t->done[slot(t, seq)] & MARKED) != 0;
}

int sluice_tracker_hold(sluice_tracker_t *t, uint64_t seq)
{
    if (seq < t->head_seq || seq >= t->head_seq + t->count || t->holds[slot(t, seq)] == UCHAR_MAX)
        return -1;
    t->holds[slot(t, seq)]++;
    return 0;
}

void sluice_tracker_unhold(sluice_tracker_t *t, uint64_t seq)
{
    if (seq < t->head_seq || seq >= t->head_seq + t->count || t->holds[slot(t, seq)] == 0)
        return;
    t->holds[slot(t, seq)]--;
    release(t);
}

int sluice_tracker_find(const sluice_tracker_t *t, int64_t offset, uint64_t *seq)
{
    /* Offsets increase along the ring: a binary search over its places. */
    size_t lo = 0, hi = t->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int64_t o = t->offsets[(t->head + mid) & (t->cap - 1)];
        if (o == offset) {
            *seq = t->head_seq + mid;
            return 0;
        }
        if (o < offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

int sluice_tracker_finished(const sluice_tracker_t *t, int64_t offset)
{
    uint64_t seq;
    if (t->first_offset < 0 || offset < t->first_offset || offset > t->last_offset)
        return 0;
    if (offset < t->next_commit)
        return 1; /* released: done, its holds gone */
    if (sluice_tracker_find(t, offset, &seq) != 0)
        return 0;
    size_t at = slot(t, seq);
    return (t->done[at] & DONE) != 0 && t->holds[at] == 0;
}

int64_t sluice_tracker_commit_offset(const sluice_tracker_t *t)
{
    return t->next_commit;
}

int64_t sluice_tracker_oldest(const sluice_tracker_t *t)
{
    return t->count > 0 ? t->offsets[t->head] : -1;
}

size_t sluice_tracker_pending(const sluice_tracker_t *t)
{
    return t->count;
}
