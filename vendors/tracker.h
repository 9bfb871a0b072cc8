/*
 * Per-partition completion tracking for at-least-once consumption: messages are added in
 * offset order as they are consumed and marked done in any order (deliveries finish out of
 * order); the commit offset only moves past a message once it and every message before it are
 * done. So a committed offset never skips an event that is still in flight or waiting for a
 * retry, whatever order vendors answer in.
 *
 * Caller storage; one thread (the worker's loop).
 */
#ifndef SLUICE_VENDORS_TRACKER_H
#define SLUICE_VENDORS_TRACKER_H

#include <stddef.h>
#include <stdint.h>

typedef struct sluice_tracker {
    int64_t *offsets;
    unsigned char *done;  /* per message: done, and sluice_tracker_mark's bit */
    unsigned char *holds; /* sluice_tracker_hold's, per message: released only at 0 and done */
    size_t cap;           /* ring size, a power of two (0 before the first add) */
    size_t head;          /* ring index of the oldest message not yet released */
    size_t count;         /* messages in the ring */
    uint64_t head_seq;    /* sequence number of the message at head */
    int64_t first_offset; /* the first offset added, -1 before any */
    int64_t last_offset;  /* the newest offset added, -1 before any */
    int64_t next_commit;  /* one past the newest released offset; -1 before any release */
} sluice_tracker_t;

void sluice_tracker_init(sluice_tracker_t *t);
void sluice_tracker_dispose(sluice_tracker_t *t);

/* Adds the message at `offset`, which must be above every offset added before. Stores its
 * sequence number (the handle for sluice_tracker_done) in *seq. Returns 0; -1 when the offset
 * does not increase (nothing added); -2 when memory ran out. */
int sluice_tracker_add(sluice_tracker_t *t, int64_t offset, uint64_t *seq);

/* Marks a message done and releases the done prefix. Unknown or repeated seqs are ignored. */
void sluice_tracker_done(sluice_tracker_t *t, uint64_t seq);

/* Holds a message back (done or not): it is not released, nor anything after it, until as many
 * sluice_tracker_unhold calls. The worker holds an event it set aside for a failing integration
 * (vendors/deliver.c), whose record is gone until it reads the event again. Returns 0; -1 for
 * an unknown seq or past 255 holds. */
int sluice_tracker_hold(sluice_tracker_t *t, uint64_t seq);
void sluice_tracker_unhold(sluice_tracker_t *t, uint64_t seq);

/* Marks a message, and tells whether it is marked (0 for an unknown seq); a mark goes with the
 * message's release. The worker marks an event it counted as suppressed, so that reading it again
 * for an integration that set it aside (sluice_tracker_hold) does not count it twice. */
void sluice_tracker_mark(sluice_tracker_t *t, uint64_t seq);
int sluice_tracker_marked(const sluice_tracker_t *t, uint64_t seq);

/* The sequence number of the message at `offset` still in the ring (not released): 0, or -1. */
int sluice_tracker_find(const sluice_tracker_t *t, int64_t offset, uint64_t *seq);

/* 1 when the message at `offset` was added and is done without a hold (released or not), else 0.
 * The worker asks a lost partition's tracker whether it delivered a message it reads again. */
int sluice_tracker_finished(const sluice_tracker_t *t, int64_t offset);

/* The offset to commit (Kafka's convention: the next offset to read): every message below it is
 * done. -1 while nothing has been released. */
int64_t sluice_tracker_commit_offset(const sluice_tracker_t *t);

/* The offset of the oldest message not yet released, or -1 when none is pending. */
int64_t sluice_tracker_oldest(const sluice_tracker_t *t);

/* Messages added and not yet released. */
size_t sluice_tracker_pending(const sluice_tracker_t *t);

#endif
