/*
 * The delivery worker's suppression list (docs/privacy.md, "Deletion and suppression"): an
 * event already queued in Kafka when `sluicectl forget` named its person is skipped, not
 * delivered, and its offset committed like a delivered one's.
 *
 * The list is the `forget_suppression` table (vendors/vault.c, migration 2), written by
 * sluicectl forget and undo. A refresher thread of its own, with its own PostgreSQL connection,
 * reloads it every forget.refresh_ms when `forget_requests` changed (every change to the list
 * comes with a row there) and hands the new set to the worker's thread; a failed read keeps the
 * last set and is logged once (and once more when the database is back). The worker's loop
 * never waits on the database for it.
 *
 * Matching is on the ids as they are in Kafka (after the data layer): forget puts on the list
 * both the pseudonym of the raw id and that of the value the org's hash_fields rule gives it.
 *
 * Threads: create and destroy on the worker's thread before and after its loop;
 * sluice_suppress_match on the worker's thread only.
 */
#ifndef SLUICE_VENDORS_SUPPRESS_H
#define SLUICE_VENDORS_SUPPRESS_H

#include <stdint.h>

#include "common/err.h"
#include "config/config.h"
#include "vendors/envelope.h"

typedef struct sluice_suppress sluice_suppress_t;

/* Reads the list once from cfg's database.url (an error here fails the worker's start: it does
 * not deliver without knowing whom to skip) and starts the refresher. Fails too when
 * forget.key_env names a variable that is not set (the pseudonyms would not be the gateway's).
 * cfg must outlive the list. Returns NULL with err set. */
sluice_suppress_t *sluice_suppress_create(const sluice_config_t *cfg, sluice_err_t *err);

/* Stops the refresher and frees everything. NULL allowed. */
void sluice_suppress_destroy(sluice_suppress_t *s);

/* The version of the list in force: it moves each time a newer list is taken, so that what was
 * checked against an older one (a batch waiting for its time or a retry) can be checked again.
 * Takes a newer list when there is one. NULL list: 0. */
uint64_t sluice_suppress_version(sluice_suppress_t *s);

/* The version of the list the last check used, without taking a newer one: what an event just
 * checked was checked against. NULL list: 0. */
uint64_t sluice_suppress_checked(const sluice_suppress_t *s);

/* 1 when the envelope's event carries an id on its org's list. */
int sluice_suppress_match(sluice_suppress_t *s, const sluice_envelope_t *e);

/* sluice_suppress_match for an event of org outside an envelope (a record of kafka.invalid_topic:
 * validation refused it, so it may lack what an envelope's event has). Not an object: 0. */
int sluice_suppress_match_event(sluice_suppress_t *s, const char *org, json_t *event);

#endif
