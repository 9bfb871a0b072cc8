/*
 * Identity for the gateway (data flow step 6): who the visitor is, across requests and the
 * org's domains. docs/identity.md describes the behaviour; this header the mechanics.
 *
 * Per event-loop thread there is one sluice_identity_thread_t holding that thread's Redis client
 * and the identity keys. Per request, a sluice_identity_job_t goes through three steps:
 *   1. sluice_identity_begin: what the request brings (cookies, Origin, Host, a `_dft` token in
 *      the query or at the top of the body); a signed anonymous-id cookie is checked here;
 *   2. sluice_identity_assign, once per validated event: takes the event's `_dft` and removes
 *      it (and `_dft=` from its page URLs), fills anonymousId (body, else cookie, else a new
 *      id), captures click ids, drops any client-sent context.identity;
 *   3. sluice_identity_run: the asynchronous part. Opens the token and redeems it once in Redis
 *      (SET NX PX), claims a first id for a new visitor (SET NX), looks up dedup keys and known
 *      user ids, then adopts the token's id, stamps context.identity and context.vendorIds,
 *      records identify/alias links (fire and forget), prepares the Set-Cookie values as the
 *      events' consent allows, and calls job->done.
 *
 * Proven ids (orgs with cross-domain tokens): the anonymous-id cookie is signed by the gateway
 * (an HMAC under the xd-cookie key) and holds only an id the gateway minted, a token carried, or
 * the first id a new visitor used, claimed once in Redis. Tokens carry only such a cookie's id; a
 * redemption replaces only it; a link a redemption recorded re-keys only requests that prove the
 * id it points to. docs/identity.md, "Who can claim an id".
 * Nothing here blocks: Redis work runs on the loop with the client's per-command timeout, and
 * a Redis outage only means "token ignored, nothing looked up" — ingestion never fails on it.
 *
 * Threads: the loop thread of the request, except sluice_identity_needs_keys (main thread, at
 * start-up) and sluice_identity_redis_errors (any thread).
 */
#ifndef SLUICE_IDENTITY_IDENTITY_H
#define SLUICE_IDENTITY_IDENTITY_H

#include <stdatomic.h>
#include <stdint.h>

#include <h2o.h>
#include <jansson.h>

#include "common/err.h"
#include "config/config.h"
#include "identity/cookie.h"
#include "identity/redis.h"
#include "identity/token.h"
#include "identity/url.h"
#include "identity/vendor.h"
#include "json/arena.h"
#include "json/jv.h"

typedef struct sluice_keyring sluice_keyring_t;

/* What the gateway hands every identity thread, loaded once at start-up on the main thread and
 * read-only afterwards. Every member may be NULL. Owned by the gateway; must outlive the threads. */
typedef struct sluice_identity_secrets {
    const sluice_keyring_t *tokens;  /* HKDF xd-token ring: seals and opens cross-domain tokens */
    const sluice_keyring_t *cookies; /* HKDF xd-cookie ring: signs the anonymous-id cookie */
    /* The root ring, opening tokens an older version sealed directly under it, but only while
     * the wall clock is before legacy_until_ms (such tokens have expired by then; the gateway
     * then wipes the ring, and sets legacy_until_ms to 0 and legacy to NULL first, so that a
     * clock stepped back afterwards cannot lead a thread to it). Atomic: written by the main
     * thread while the loop threads read them. */
    const sluice_keyring_t *_Atomic legacy;
    _Atomic int64_t legacy_until_ms;
    const char *redis_password; /* AUTH; from SLUICE_REDIS_URL or redis.password_env */
} sluice_identity_secrets_t;

#define SLUICE_IDENTITY_PREFIX_MAX 64

/* Why a request's lookups (phase 1: what Redis knows of its ids) were not made. */
typedef enum sluice_identity_skip {
    SLUICE_IDENTITY_SKIP_UNAVAILABLE = 0, /* the thread's Redis was not connected (down, reconnecting) */
    SLUICE_IDENTITY_SKIP_TIMEOUT = 1,     /* an earlier command of the request timed out */
    SLUICE_IDENTITY_SKIP_REASONS = 2,
} sluice_identity_skip_t;

typedef struct sluice_identity_thread {
    h2o_loop_t *loop;
    sluice_redis_t *redis;                       /* NULL when no Redis is configured */
    const sluice_identity_secrets_t *keys;       /* never NULL (an empty struct when there are no keys) */
    char prefix[SLUICE_IDENTITY_PREFIX_MAX + 1]; /* redis.key_prefix */
    _Atomic uint64_t redis_errors;               /* commands that failed or timed out; written by this thread only */
    /* Ids not looked up, by sluice_identity_skip_t: no command was sent for them, so redis_errors
     * does not show them, and each is an event that went without its link. This thread only. */
    _Atomic uint64_t lookups_skipped[SLUICE_IDENTITY_SKIP_REASONS];
    /* 1 while this thread's Redis answers, written by its client (sluice_redis_publish_up): kept
     * here because other threads' scrapes read it after sluice_identity_thread_close freed the
     * client. */
    _Atomic int redis_up;
    /* 1 while this thread's Redis evicts keys at maxmemory (sluice_redis_publish_evicting). */
    _Atomic int redis_evicting;
    int redis_configured;      /* set at create, read-only after: t->redis itself goes NULL at close */
    int64_t refusal_logged_ms; /* when an error reply of Redis was last logged (monotonic) */
} sluice_identity_thread_t;

/* Creates the thread's identity state and starts connecting to Redis (in the background, with
 * AUTH when a password is given) when cfg names one. keys may be NULL (no keys at all). Returns
 * NULL with err set. Free with sluice_identity_thread_destroy. */
sluice_identity_thread_t *sluice_identity_thread_create(const sluice_config_t *cfg, h2o_loop_t *loop,
                                                        const sluice_identity_secrets_t *keys, sluice_err_t *err);
void sluice_identity_thread_destroy(sluice_identity_thread_t *t);

/* Closes t's Redis client (on t's loop thread) but keeps t, whose error count other threads may
 * still read; sluice_identity_thread_destroy frees it later, on any thread. NULL allowed. */
void sluice_identity_thread_close(sluice_identity_thread_t *t);

/* 1 when some org needs ENCRYPTION_KEY (cross-domain tokens). */
int sluice_identity_needs_keys(const sluice_config_t *cfg);

/* The longest a token sealed before now can still be accepted, in ms, over every org with
 * cross domains: how long the gateway keeps the root ring to open an older version's tokens. */
int64_t sluice_identity_token_window_ms(const sluice_config_t *cfg);

/* Redis commands of this thread that failed or timed out so far (for /metrics). Any thread. */
uint64_t sluice_identity_redis_errors(const sluice_identity_thread_t *t);

/* Ids this thread did not look up in Redis for reason so far (for /metrics): requests served
 * while Redis was unavailable go out without context.identity. Any thread; t may be NULL. */
uint64_t sluice_identity_lookups_skipped(const sluice_identity_thread_t *t, sluice_identity_skip_t reason);

/* 1 while this thread's Redis connection answers, 0 while it does not (down, stalled, closed),
 * -1 when no Redis is configured (or t is NULL). Any thread. */
int sluice_identity_redis_up(const sluice_identity_thread_t *t);

/* 1 while t's Redis evicts keys at maxmemory (any maxmemory-policy but noeviction): cross-domain
 * tokens and signed requests then fail closed. 0 otherwise, or when no Redis is configured. Any
 * thread; t may be NULL. */
int sluice_identity_redis_evicting(const sluice_identity_thread_t *t);

/* What a request brings, gathered by the gateway. Every iovec may be {NULL, 0}; they need to
 * stay valid only during sluice_identity_begin. */
typedef struct sluice_identity_input {
    int browser;              /* a browser route: cookies are read and set, tokens redeemed */
    h2o_iovec_t cookie_id;    /* the org's anonymous-id cookie (identity.cookie_name) as sent */
    h2o_iovec_t fbp, fbc, ga; /* the vendor cookies _fbp, _fbc, _ga as sent */
    /* The request's cookie `name` as sent, or {NULL, 0} (the gateway's sluice_http_cookie over
     * cookie_ctx): gtag's session cookies _ga_<container> are named after the org's GA4 streams,
     * which only identity looks up. NULL: none is read. */
    h2o_iovec_t (*cookie)(void *cookie_ctx, const char *name);
    /* The request's nth copy (0 the first) of cookie `name`, or {NULL, 0} past the last (the
     * gateway's sluice_http_cookie_nth over cookie_ctx): when the copy in fbp, fbc or ga is not in
     * the vendor's format, the first copy that is counts instead. NULL: only fbp, fbc, ga. */
    h2o_iovec_t (*cookie_nth)(void *cookie_ctx, const char *name, size_t nth);
    void *cookie_ctx;
    /* A request without events (xd/redeem): its context.consent.categories, which decide the
     * cookies as the events' do otherwise. Borrowed during sluice_identity_begin; may be NULL. */
    const json_t *consent;
    h2o_iovec_t token;  /* `_dft` from the request's query string */
    h2o_iovec_t origin; /* the Origin header: a token's audience must be its host */
    h2o_iovec_t host;   /* the request's Host (authority): decides the cookies' Domain */
    int64_t now_ms;
} sluice_identity_input_t;

/* gtag's session cookies read per request: one per GA4 stream of the org, the first this many. */
#define SLUICE_IDENTITY_MAX_GA_STREAMS 4
/* Longest container id (measurement id without "G-") and _ga_<container> value kept: gtag's are
 * about 10 and 50 characters. */
#define SLUICE_IDENTITY_GA_STREAM_MAX  24
#define SLUICE_IDENTITY_GA_SESSION_MAX 160
#define SLUICE_IDENTITY_MAX_COOKIES    4 /* the anonymous id, _fbp, _fbc, _ga (set or expired) */
#define SLUICE_IDENTITY_COOKIE_LEN     768
#define SLUICE_IDENTITY_MAX_LOOKUPS    8 /* distinct anonymous ids looked up per request */

typedef struct sluice_identity_job sluice_identity_job_t;

/* A request's vendor ids (job->vendor): in a block of their own, made when the first of them is
 * read or minted. Most requests carry none of them, and a waiting request's record is 2.9 KB
 * smaller without them (issue 17's peak RSS, docs/performance.md). */
typedef struct sluice_identity_vendor_ids {
    char fbp[SLUICE_VENDOR_VALUE_MAX + 1];
    char fbc[SLUICE_VENDOR_VALUE_MAX + 1];
    char ga[SLUICE_VENDOR_VALUE_MAX + 1];
    /* gtag's sessions: "ga_<container>" and the _ga_<container> cookie's value as sent */
    char ga_stream[SLUICE_IDENTITY_MAX_GA_STREAMS][SLUICE_IDENTITY_GA_STREAM_MAX + 4];
    char ga_session[SLUICE_IDENTITY_MAX_GA_STREAMS][SLUICE_IDENTITY_GA_SESSION_MAX + 1];
    size_t ga_stream_count;
    char fbclid[SLUICE_CLICK_ID_MAX + 1]; /* the page URL's, for the _fbc cookie */
} sluice_identity_vendor_ids_t;

/* What the single-use check of a signed request found (job->replay). */
typedef enum sluice_replay {
    SLUICE_REPLAY_NONE = 0,      /* nothing checked: no replay key, or no Redis configured */
    SLUICE_REPLAY_FIRST = 1,     /* first use: remembered until replay_until_ms */
    SLUICE_REPLAY_SEEN = 2,      /* already used: a replay */
    SLUICE_REPLAY_UNKNOWN = 3,   /* Redis could not say (down or slow) */
    SLUICE_REPLAY_IN_FLIGHT = 4, /* used by a request still waiting for Kafka: not accepted yet */
} sluice_replay_t;

#define SLUICE_IDENTITY_REPLAY_KEY_MAX 200

struct sluice_identity_job {
    /* inputs, set by the caller before sluice_identity_begin */
    const sluice_config_t *cfg; /* the config of the request (its orgs explain refused tokens) */
    const sluice_org_t *org;
    json_t *events; /* validated events (borrowed); run completes their identity fields */
    /* The same events held in jv values (issue 17 step 2; borrowed), with the arena run makes its
     * changes in: when events_jv is set, run reads and writes these, from the same rules
     * (identity/run_rules.h), and events is not read. The gateway's events requests set it. */
    sluice_jv_t *events_jv;
    sluice_json_arena_t *arena;
    void (*done)(sluice_identity_job_t *job);
    /* The form a userId is linked and stamped in (the gateway's sluice_datalayer_user_form: an
     * org that hashes userId keeps no raw one in Redis): writes out and returns 1, 0 to keep the
     * id as sent, -1 to link nothing. NULL keeps every id as sent. */
    int (*user_form)(const sluice_org_t *org, const char *uid, char out[65]);
    /* 1 when a data-layer rule reaches context.clickIds.<name> (the gateway's
     * sluice_datalayer_click_covered): such a click id is not kept in Redis. NULL: none does. */
    int (*click_covered)(const sluice_org_t *org, const char *name);
    /* 1 when id (any kind, in the form identity keeps it) is on the org's list of people
     * `sluicectl forget` named (the gateway's gateway/forgotten.h): run then writes nothing that
     * names it in Redis, no link and no claim, which forget deleted and would otherwise be made
     * again. NULL: nobody is. */
    int (*id_forgotten)(const sluice_identity_job_t *job, const char *id);
    /* A signed request's single-use key (its signature) and until when it could be accepted
     * (epoch ms): run remembers it with SET NX PX and reports in `replay`. "" for none. */
    char replay_key[SLUICE_IDENTITY_REPLAY_KEY_MAX];
    int64_t replay_until_ms;
    /* outputs, valid from done() until sluice_identity_job_dispose */
    uint8_t *duplicate; /* [json_array_size(events)]: 1 for a messageId seen within the window */
    int token_outcome;  /* -1: the request carried no token; else a sluice_token_outcome_t */
    /* The visitor's id after this request: the id its cookie holds (or would hold, when consent
     * keeps the cookie off). For an org with cross domains only an id the request proved (its
     * signed cookie, a redeemed token, a claimed first id, one minted for it); else "". */
    char anonymous_id[SLUICE_ID_MAX + 1];
    /* Set-Cookie values, each in a malloc'd block of its own length (a waiting request's record
     * holds no 768-byte buffers: issue 17's peak RSS, docs/performance.md); freed by
     * sluice_identity_job_dispose. A value that does not fit SLUICE_IDENTITY_COOKIE_LEN, or finds
     * no memory, is left out: identity never fails a request. */
    char *cookies[SLUICE_IDENTITY_MAX_COOKIES];
    size_t cookie_count;
    sluice_replay_t replay;
    /* private */
    sluice_identity_thread_t *t;
    unsigned waiting;
    int phase;
    int browser;
    int64_t now_ms;
    int visitor_minted;                    /* anonymous_id was minted by this request */
    int redis_slow;                        /* a phase-0 command timed out: phase 1 is skipped */
    char replaced[SLUICE_ID_MAX + 1];      /* the proven id a redeemed token replaced */
    int signs;                             /* the org's cookie is signed (it has cross domains and keys exist) */
    int proof;                             /* SLUICE_IDENTITY_PROOF_*: how anonymous_id is known to be this visitor's */
    int had_sid, had_fbp, had_fbc, had_ga; /* the request carried these cookies */
    json_t *consent;                       /* xd/redeem's consent categories (a reference), or NULL */
    const char *cookie_domain;             /* Domain attribute for this request's cookies, or NULL */
    int has_audience;
    char audience[SLUICE_URL_HOST_MAX + 1];
    int token_state; /* 0 none, 1 text below, 2 too long to be a token, 3 from a foreign page (wiped) */
    size_t token_len;
    char token[SLUICE_TOKEN_TEXT_MAX + 1];
    sluice_token_claims_t claims;
    /* When the event that carried the token says it was made (its timestamp, corrected to the
     * gateway's clock), epoch ms; 0 when unknown (a token in the URL or the body's top level). */
    int64_t landed_ms;
    int clicks_covered; /* bit k: kept_clicks[k] is reached by a data-layer rule; -1 not known yet */
    char xd_mark[17];   /* the value its SET NX gives the token's key: what a timed-out redemption may take back */
    /* calloc'd when the request brings a vendor cookie, a gtag session or an fbclid, or run
     * mints a vendor id; NULL before (or when no memory was left: the request then goes as one
     * without them). Freed by sluice_identity_job_dispose. */
    sluice_identity_vendor_ids_t *vendor;
    int vendor_lost;  /* a vendor block was needed and not made: run mints and passes on no vendor id */
    json_t *known;    /* anonymousId → userId found in Redis */
    int clicks_known; /* known holds a kept click's field (set when run finishes, and by its writes) */
    const char *lookups[SLUICE_IDENTITY_MAX_LOOKUPS];
    size_t lookup_count;
};

/* How a job knows its anonymous_id (job->proof). */
enum {
    SLUICE_IDENTITY_PROOF_NONE = 0,    /* not proven (or an org without signed cookies) */
    SLUICE_IDENTITY_PROOF_COOKIE = 1,  /* the request's cookie carries a valid signature for it */
    SLUICE_IDENTITY_PROOF_CLAIM = 2,   /* a first id to claim in Redis (a legacy cookie's or the body's) */
    SLUICE_IDENTITY_PROOF_CLAIMED = 3, /* ...and Redis said nobody had claimed it before */
    SLUICE_IDENTITY_PROOF_MINTED = 4,  /* minted by this request */
    SLUICE_IDENTITY_PROOF_TOKEN = 5,   /* carried by the token this request redeemed */
};

/* Step 1, on t's thread, on a job zeroed or disposed before (its inputs set). Reads in (copying
 * what it keeps) and takes a `_dft` string from root (the body: the event itself, or a batch),
 * removing it. Sets token_outcome to -1 and anonymous_id to the cookie's id when valid (for an
 * org with cross domains, when its signature is valid; an unsigned id is only a candidate to
 * claim). Cannot fail. */
void sluice_identity_begin(sluice_identity_thread_t *t, sluice_identity_job_t *job, const sluice_identity_input_t *in,
                           json_t *root);

/* sluice_identity_begin for a body parsed into jv values (json/jv.h): the same, root's `_dft`
 * removed from root (issue 17 step 2; in->consent is still a jansson array). The gateway's events
 * requests call it; /xd/redeem calls the jansson form. */
void sluice_identity_begin_jv(sluice_identity_thread_t *t, sluice_identity_job_t *job,
                              const sluice_identity_input_t *in, sluice_jv_t *root);

/* Step 2, for each validated event of the request, in order. Returns 0, or -1 when no random
 * bytes were available for a new anonymous id (the event should then be rejected). */
int sluice_identity_assign(sluice_identity_job_t *job, json_t *event);

/* Removes from event every place a token may travel in (what sluice_identity_assign takes and
 * removes): `_dft`, context.crossDomainToken and `_dft` parameters of its page and properties
 * URLs; and the user information (a password) of those URLs. For an event refused before step 2,
 * which goes to kafka.invalid_topic as sent. Any thread. */
void sluice_identity_scrub(json_t *event);

/* sluice_identity_assign and sluice_identity_scrub for an event held in jv values (issue 17
 * step 2), from the same rules (identity/assign_rules.h): the same token, click ids, job fields,
 * results and event bytes. What they add (a URL scrubbed, clickIds, an anonymousId) is made in a,
 * the event's arena. The gateway's (step 3 reads job->events_jv as well). */
int sluice_identity_assign_jv(sluice_identity_job_t *job, sluice_json_arena_t *a, sluice_jv_t *event);
void sluice_identity_scrub_jv(sluice_jv_t *event, sluice_json_arena_t *a);

/* Step 3: runs the Redis work and the rest, and calls job->done exactly once, on this thread,
 * possibly before returning. Returns 0, or -1 when out of memory (then done is not called). */
int sluice_identity_run(sluice_identity_thread_t *t, sluice_identity_job_t *job);

/* What run writes into the events and the job once Redis answered, from the job's state alone
 * (token_outcome and claims.dfid, proof, anonymous_id, visitor_minted, the cookies read, known:
 * the lookups' answers): adopts a redeemed token's id, then the visitor's and vendors' cookies,
 * context.identity (crossDomain, linkedFrom, userId), context.vendorIds and kept click ids, and
 * the links to write (sent only when t has Redis). sluice_identity_run calls the same two steps
 * around its lookups; this is for tests, which set the answers themselves. Either tree (events
 * or events_jv); loop thread of t. */
void sluice_identity_complete(sluice_identity_thread_t *t, sluice_identity_job_t *job);

/* Forgets a signed request's key remembered by a run that reported SLUICE_REPLAY_FIRST (the
 * request was not accepted after all, so the client's retry of the same bytes must not be taken
 * for a replay). Fire and forget. */
void sluice_identity_forget_replay(sluice_identity_thread_t *t, const sluice_identity_job_t *job);

/* Marks a signed request's key, remembered by a run that reported SLUICE_REPLAY_FIRST, as
 * accepted: the same bytes are a replay from then on (SLUICE_REPLAY_SEEN); until then a retry is
 * SLUICE_REPLAY_IN_FLIGHT. Fire and forget. */
void sluice_identity_confirm_replay(sluice_identity_thread_t *t, const sluice_identity_job_t *job);

/* Frees the job's outputs (the cookies too) and wipes the token text. Safe on a zeroed job. */
void sluice_identity_job_dispose(sluice_identity_job_t *job);

/* Results of sluice_identity_issue besides 0. */
enum {
    SLUICE_IDENTITY_EINTERNAL = -1, /* randomness or OpenSSL failed */
    SLUICE_IDENTITY_EDOMAIN = -2,   /* origin or target host not in the org's cross_domain.domains */
    SLUICE_IDENTITY_EID = -3,       /* no usable anonymous id (no random bytes to mint one) */
    SLUICE_IDENTITY_ENOKEY = -4,    /* no key ring (ENCRYPTION_KEY not set when the gateway started) */
};

/* What GET <prefix>/xd brings. */
typedef struct sluice_identity_issue_input {
    const char *origin_host; /* the page's host (Origin); NULL fails EDOMAIN */
    const char *to_host;     /* the link target's host; NULL fails EDOMAIN */
    h2o_iovec_t cookie;      /* the org's anonymous-id cookie as sent */
    h2o_iovec_t host;        /* the request's Host: decides the cookie's Domain */
    int64_t now_ms;
    const char *claimed; /* a first id sluice_identity_claim just gave this browser, or NULL */
} sluice_identity_issue_input_t;

/* GET <prefix>/xd: seals a token of org for the link target (origin and target must both be in
 * the org's cross_domain.domains) carrying the id the request's signed cookie proves, never an id
 * the caller names. Without a valid signed cookie a new id is minted for the token and, when the
 * org's cookie needs no consent category (the request carries no consent), set as the cookie
 * (Set-Cookie value into set_cookie, "" when none; cookie_cap >= SLUICE_IDENTITY_COOKIE_LEN).
 * Writes the token and a NUL into out (cap >= SLUICE_TOKEN_TEXT_MAX + 1) and, when anon_out is
 * not NULL, the id the token carries (anon_out holds SLUICE_ID_MAX + 1). Returns 0 or a
 * negative SLUICE_IDENTITY_E* code with a message in err. */
int sluice_identity_issue(sluice_identity_thread_t *t, const sluice_org_t *org, const sluice_identity_issue_input_t *in,
                          char *out, size_t cap, char *set_cookie, size_t cookie_cap, char *anon_out,
                          sluice_err_t *err);

/* 1 when GET <prefix>/xd should first claim first (the tag's anonymousId parameter) for the
 * browser, as a batch claims its first id (docs/identity.md, Who can claim an id): the request
 * carries no cookie of the org at all, first is a valid id, the request would get a token, the
 * org's cookie needs no consent category and Redis is configured. Tags before 0.2.3 ask for a
 * token before their first batch went out: the token carried an id minted here, none of the
 * site's events carried, and the visitor was split between the sites. */
int sluice_identity_issue_claims(const sluice_identity_thread_t *t, const sluice_org_t *org,
                                 const sluice_identity_issue_input_t *in, const char *first);

/* Called once, on the thread's loop, with 1 when Redis confirmed nobody had claimed the id
 * (SET <prefix>own:<org>:<id> 1 NX EX <link_ttl_days>), else 0 (claimed before, Redis down or slow). */
typedef void (*sluice_identity_claim_cb)(void *ud, int claimed);

/* Claims id for the browser asking. Returns 0 when sent (cb will be called, at most
 * redis.timeout_ms later), -1 when it could not be (then cb is not called). */
int sluice_identity_claim(sluice_identity_thread_t *t, const sluice_org_t *org, const char *id,
                          sluice_identity_claim_cb cb, void *ud);

/* 1 when host (lowercase) is one of org's cross_domain.domains. */
int sluice_identity_xd_domain(const sluice_org_t *org, const char *host);

/* Which of the n values of org's anonymous-id cookie a request sent (vals[0..n), in the order of
 * the Cookie header) is the org's: a browser sends every cookie of the name whose domain matches,
 * so another org of the gateway that uses the same name on a shared domain, or the org's own
 * host-only cookie left from before cookie_domain, comes along, the older one first. Where the
 * org signs its cookie, the index of the first value whose signature is the org's; else (or when
 * none is) the first value that is not empty (an empty copy names no one), 0 when all are. Loop
 * thread of t. */
size_t sluice_identity_cookie_pick(const sluice_identity_thread_t *t, const sluice_org_t *org, const h2o_iovec_t *vals,
                                   size_t n);

/* After Kafka acknowledged event: remembers its messageId for the org's dedup window
 * (fire and forget; a failure only means a later duplicate is not caught). subject (may be NULL
 * or "") is stored as the key's value: the pseudonyms of the event's ids, so that `sluicectl
 * forget` can find the person's dedup keys (identity/forget.h). */
void sluice_identity_remember(sluice_identity_thread_t *t, const sluice_org_t *org, const char *message_id,
                              const char *subject);

#endif
