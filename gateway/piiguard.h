/*
 * The PII guard (docs/privacy.md#the-pii-guard): after the data layer has applied the org's
 * rules, every string and integer no rule covers — ids included — is scanned with pii/scan.h
 * (e-mails, phones, Luhn-valid cards, IBANs, the national ids the org lists) and judged by its
 * key's name (pii/keyname.h). Per org `data_layer.pii_guard`:
 *   off     nothing;
 *   report  findings recorded in privacy.detected and counted; values pass as sent (default);
 *   mask    each match becomes "[email]", "[phone]", ...; a value whose key names personal data
 *           becomes "[<class>]" whole;
 *   hash    the same, with SHA-256 hex instead of the tokens (an e-mail or phone under a key of
 *           that class hashed with the e-mail or phone normaliser, so it joins hashed traits).
 * Ids (userId, anonymousId, previousId, groupId, messageId) are hashed under mask as well: "[email]"
 * would merge every person into one. A member whose KEY holds personal data (`{"jane@x.io":
 * true}`) is removed under mask and hash, and named `<email>` in paths everywhere.
 *
 * Findings name paths with `[*]` for array indices and matchers ("email", "key:phone"), never
 * values. Each thread keeps a bounded table of (org, path, matcher) with counts and first/last
 * seen: /metrics sums them (sluice_pii_detected_total) and they are flushed to Redis for
 * `sluicectl privacy inbox`.
 *
 * Threads: a sluice_piiguard_t is built on the main thread with its runtime and read-only
 * afterwards; a sluice_piiguard_thread_t belongs to one event-loop thread, except
 * sluice_piiguard_thread_foreach, which any thread may call (scrapes).
 */
#ifndef SLUICE_GATEWAY_PIIGUARD_H
#define SLUICE_GATEWAY_PIIGUARD_H

#include <stdatomic.h>
#include <stdint.h>

#include <jansson.h>

#include "config/config.h"
#include "identity/redis.h"
#include "json/arena.h"
#include "json/jv.h"
#include "json/numbers.h"

typedef struct sluice_piiguard sluice_piiguard_t;
typedef struct sluice_piiguard_thread sluice_piiguard_thread_t;

/* Compiles org's guard: its mode, what to look for, and a trie of the paths it leaves alone (the
 * data layer's rules and their mirrors, the org's exceptions, fields the gateway writes). The
 * org must outlive the guard. Returns NULL when memory runs out; a guard whose mode is off is
 * still returned (it does nothing). Caller frees with sluice_piiguard_destroy (NULL allowed). */
sluice_piiguard_t *sluice_piiguard_create(const sluice_org_t *org);

/* Holds the org to its share of each thread's findings table when orgs orgs share it (the
 * runtime's org count): SLUICE_PIIGUARD_FINDINGS_MAX / orgs, at least 16. Without a call an org
 * may take the whole table. Before the guard is used (main thread). */
void sluice_piiguard_set_share(sluice_piiguard_t *g, size_t orgs);
void sluice_piiguard_destroy(sluice_piiguard_t *g);

/* Returns a new per-thread state, or NULL when memory runs out. Destroy with
 * sluice_piiguard_thread_destroy (NULL allowed). */
sluice_piiguard_thread_t *sluice_piiguard_thread_create(void);
void sluice_piiguard_thread_destroy(sluice_piiguard_thread_t *t);

/* What one event's pass did, for the caller's metrics. */
typedef struct sluice_piiguard_stats {
    uint64_t detected; /* values (and keys) with a finding */
    uint64_t changed;  /* of those, masked, hashed or removed */
} sluice_piiguard_stats_t;

/* Scans event (validated, after sluice_datalayer_apply) and acts per the org's mode, appending
 * {"path", "matcher", "action"} objects to privacy.detected (created when the first finding is
 * made; at most SLUICE_PIIGUARD_DETECTED_MAX, then privacy.detected_more counts the rest).
 * Returns 0, or -1 when memory ran out (the event must then be refused: it may hold a value
 * half-masked). now_ms stamps the thread's findings. nums (may be NULL) holds the texts the
 * event's numbers were sent as: a whole number beyond 2^53, which a double no longer holds
 * digit for digit, is judged by that text. */
#define SLUICE_PIIGUARD_DETECTED_MAX 64
int sluice_piiguard_apply(const sluice_piiguard_t *g, sluice_piiguard_thread_t *t, json_t *event,
                          const sluice_jsonnum_t *nums, json_t *privacy, int64_t now_ms, const uint64_t *ids_found,
                          sluice_piiguard_stats_t *stats);

/* The event's top-level ids alone (userId, anonymousId, previousId, groupId, messageId), judged and
 * under mask or hash hashed BEFORE identity reads them: identity links and dedup keys in Redis
 * must never hold an e-mail the guard would not let into Kafka. *found says what was found,
 * SLUICE_PIIGUARD_ID_BITS per id in that order (pii/scan.h kinds in the low 8 bits, 0x100 when
 * the match was inside a longer id); pass it to sluice_piiguard_apply later, which then records
 * those findings and leaves the ids alone (NULL there: the ids are judged in the walk). Returns 0,
 * or -1 when memory ran out. */
#define SLUICE_PIIGUARD_ID_BITS 9
int sluice_piiguard_ids(const sluice_piiguard_t *g, sluice_piiguard_thread_t *t, json_t *event, uint64_t *found);

/* sluice_piiguard_ids for an event held as arena values (json/jv.h; issue 17, the request
 * path's): the same rules (gateway/piiguard_rules.h), the same *found and return, and a
 * hashed id is a new string in a (the arena event lives in). */
int sluice_piiguard_ids_jv(const sluice_piiguard_t *g, sluice_piiguard_thread_t *t, sluice_jv_t *event,
                           sluice_json_arena_t *a, uint64_t *found);

/* sluice_piiguard_apply for an event held as arena values (json/jv.h; issue 17 step 2, the
 * request path's): the same rules (gateway/piiguard_rules.h), stats, findings and return.
 * privacy is the arena object the data layer's result holds ({"hashed", "masked", "dropped"},
 * sluice_dl_result_jv_t's privacy), to which "detected" and "detected_more" are set as on jansson's;
 * new values (hashed or masked values, findings) are made in a, which event and privacy live in.
 * A number's text is its node's own (the event is parsed by sluice_event_parse_jv). */
int sluice_piiguard_apply_jv(const sluice_piiguard_t *g, sluice_piiguard_thread_t *t, sluice_jv_t *event,
                             sluice_json_arena_t *a, sluice_jv_t *privacy, int64_t now_ms, const uint64_t *ids_found,
                             sluice_piiguard_stats_t *stats);

/* One (org, path, matcher) a thread has seen. Strings are NUL-terminated and never change once
 * the finding is visible; the counters are updated by the owning thread only. */
typedef struct sluice_piiguard_finding {
    char org[72];
    char path[256];
    const char *matcher; /* static storage: "email", "key:phone", ... */
    _Atomic uint64_t count;
    _Atomic int64_t first_ms, last_ms;
    _Atomic int partial; /* some match was part of a longer text (a redact_text rule fits) */
    uint64_t flushed;    /* count already added in Redis (owning thread) */
    uint64_t in_flight;  /* count sent to Redis, reply pending (owning thread) */
} sluice_piiguard_finding_t;

/* Findings a thread tracks at most; further distinct ones are only counted (a hostile client
 * sending ever new keys cannot grow memory, metrics or Redis without bound). Each org gets a share
 * of them (sluice_piiguard_set_share), so one org's client cannot take the others' places. */
#define SLUICE_PIIGUARD_FINDINGS_MAX 256

/* Calls cb for every finding t has published, then returns the number of findings that did not
 * fit the table. Any thread. */
uint64_t sluice_piiguard_thread_foreach(const sluice_piiguard_thread_t *t,
                                        void (*cb)(const sluice_piiguard_finding_t *f, void *ud), void *ud);

/* Prometheus text for the findings of n threads (NULL entries skipped), merged across threads:
 * sluice_pii_detected_total{org,path,matcher} and sluice_pii_findings_untracked_total. Writes at
 * most cap bytes to buf and returns the full length (snprintf-like: a larger return means "call
 * again with more room"). Any thread. */
size_t sluice_piiguard_metrics(sluice_piiguard_thread_t *const *threads, size_t n, char *buf, size_t cap);

/* Adds what changed since the last flush to Redis (`sluicectl privacy inbox`'s store: a hash per
 * org at "<prefix>pii:<org>" (prefix: redis.key_prefix, default "sluice:"), fields
 * "<path>\t<matcher>\t{count,first,last,partial}", kept 30 days after the last finding).
 * Asynchronous; what a failed command did not add is sent again next time. Owning thread. */
void sluice_piiguard_thread_flush(sluice_piiguard_thread_t *t, sluice_redis_t *redis, const char *prefix);

/* Flushes whose reply has not come yet (a stopping worker runs its loop until 0). */
size_t sluice_piiguard_thread_pending(const sluice_piiguard_thread_t *t);

/* The inbox hash's name after the prefix, and how long it is kept (sluicectl reads it too). */
#define SLUICE_PIIGUARD_REDIS_KEY   "pii:"
#define SLUICE_PIIGUARD_REDIS_TTL_S (30 * 86400)

#endif
