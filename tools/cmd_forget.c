/*
 * `sluicectl forget`: deletion and suppression requests (GDPR/CCPA; docs/privacy.md "Deletion
 * and suppression"). A request names a person by user id and/or anonymous id in one org and:
 *
 *   1. finds in Redis the ids linked to them (identity links, followed both ways through
 *      cross-domain adoptions), read-only;
 *   2. records the request in PostgreSQL (`forget_requests`, state pending, pseudonyms only) and
 *      puts the pseudonyms on the org's suppression list (`forget_suppression`), which the
 *      delivery worker reads, in one transaction;
 *   3. adds them to the gateway's list in Redis (`sluice:suppress`, generation bumped) and
 *      deletes the identity links and the dedup keys that name them;
 *   4. publishes a deletion record (pseudonyms, org, request id, time) to kafka.dsr_topic;
 *   5. marks the request done with what was removed.
 * A failure after step 2 marks the request failed with the step's reason; running the same
 * command again completes it (every step is idempotent). `--file` does this for many people, one
 * a line, a request each, with one scan of Redis and one change of the gateway's list for them
 * all, and resumes the requests a killed run left (see "a batch" below). `--undo` lifts a
 * request's suppression (deleted links stay deleted), `--list` shows the requests, `--sync` rewrites the gateway's
 * list in Redis from PostgreSQL (after Redis lost its data).
 *
 * Raw ids exist only in this process's memory (and on its command line, which is blanked once
 * read); everything stored or published is a pseudonym (crypto/pseudonym.h). Main thread.
 */
#include <ctype.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <librdkafka/rdkafka.h>

#include "common/err.h"
#include "common/time.h"
#include "common/utf8.h"
#include "config/config.h"
#include "crypto/ct.h"
#include "crypto/hash.h"
#include "crypto/pseudonym.h"
#include "crypto/random.h"
#include "gateway/datalayer.h"
#include "gateway/normalize.h"
#include "gateway/piiguard.h"
#include "identity/forget.h"
#include "identity/redis_sync.h"
#include "tools/commands.h"
#include "vendors/dlq.h"
#include "vendors/vault.h"

#define MAX_IDS       16
#define MAX_LINKED    256 /* ids Redis may link to one person before forget refuses to guess further */
#define SCAN_COUNT    "1000"
#define REDIS_TIMEOUT 5 /* seconds */
#define KAFKA_WAIT_MS 15000

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: sluicectl forget --config FILE --org O (--user-id U | --anonymous-id A)... [--by NAME]\n"
        "       sluicectl forget --config FILE --org O --file F [--by NAME]     (F: one person a line; - for stdin)\n"
        "       sluicectl forget --config FILE --undo REQUEST_ID [--by NAME]\n"
        "       sluicectl forget --config FILE --list [--org O]\n"
        "       sluicectl forget --config FILE --sync\n"
        "\n"
        "Forgets a person in one org (GDPR/CCPA): their identity links and dedup keys are deleted from Redis,\n"
        "their ids are put on the org's suppression list (the gateway drops their events, still answering\n"
        "200; the delivery worker skips their events already queued), the request is recorded in PostgreSQL\n"
        "(forget_requests) and a deletion record goes to kafka.dsr_topic (default sluice.dsr). Only\n"
        "pseudonyms of the ids (HMAC-SHA256 under a key derived from forget.key_env for the org) are\n"
        "stored or published. A user id also forgets the anonymous ids Redis links to it.\n"
        "\n"
        "  --user-id U, --anonymous-id A   the person's ids (repeatable, up to %d)\n"
        "  --file F         many people, one a line: their ids separated by tabs, each user-id=U or\n"
        "                   anonymous-id=A; each person is a request of their own. Run the same file again\n"
        "                   after a failure or a kill: people done are reported forgotten already, unfinished\n"
        "                   requests are completed, not made twice\n"
        "  --by NAME        who asks, for the audit (default $USER)\n"
        "  --undo ID        lift the suppression of a request (deleted links cannot be restored); audited\n"
        "  --list           the requests, one JSON line each (pseudonyms only), oldest first\n"
        "  --sync           rewrite the gateway's list in Redis from PostgreSQL (e.g. after Redis lost it)\n"
        "\n"
        "Run it again after a failure: every step is idempotent. The command line is visible to other\n"
        "users while it starts (it is blanked once read) and may be kept in your shell's history.\n",
        MAX_IDS);
}

enum { KIND_USER = 0, KIND_ANON = 1 };

static const char *const kind_names[] = {"userId", "anonymousId"};

/* Where each kind of id can appear in an event (hash rules on these paths give other forms). */
static const char *const kind_paths[2][3] = {
    {"userId", "previousId", "context.identity.userId"},
    {"anonymousId", "previousId", "context.identity.linkedFrom"},
};

typedef struct person_id {
    char *value; /* raw; wiped and freed at the end */
    int kind;
    int linked; /* found through Redis links, not named by the request */
    /* A user id as identity links it in Redis (after the PII guard's id pass, in the form of a
     * hash_fields rule on userId: sluice_datalayer_user_form), when that is not the raw value;
     * filled for user ids before the links are read. "" otherwise. */
    char linked_as[SLUICE_SHA256_HEX_LEN + 1];
} person_id_t;

typedef struct pseudo {
    char hex[SLUICE_PSEUDONYM_HEX_LEN + 1];
    size_t id;     /* index into ids */
    char form[64]; /* "raw", or "hash_fields:<normaliser>" (the value as the data layer writes it) */
} pseudo_t;

typedef struct req {
    const sluice_config_t *cfg;
    const sluice_org_t *org;
    char by[160];
    char request_id[37];
    person_id_t ids[MAX_IDS + MAX_LINKED];
    size_t id_count;
    pseudo_t *ps;
    size_t p_count;
    uint8_t key[SLUICE_PSEUDONYM_LEN];
    /* Redis */
    redisContext *redis;
    long long links_removed, dedup_removed;
    /* PostgreSQL */
    PGconn *pg;
} req_t;

/* ------------------------------------------------------------------ small helpers */

static void actor(const char *by, char *buf, size_t cap)
{
    if (by != NULL) {
        snprintf(buf, cap, "%s", by);
        return;
    }
    const char *user = getenv("USER");
    if (user == NULL || user[0] == '\0') {
        struct passwd *pw = getpwuid(geteuid());
        user = pw != NULL ? pw->pw_name : NULL;
    }
    if (user != NULL)
        snprintf(buf, cap, "%s (sluicectl)", user);
    else
        snprintf(buf, cap, "uid %ld (sluicectl)", (long)geteuid());
}

static int has_id(const req_t *r, const char *value)
{
    for (size_t i = 0; i < r->id_count; i++)
        if (strcmp(r->ids[i].value, value) == 0)
            return 1;
    return 0;
}

static int add_id(req_t *r, const char *value, int kind, int linked)
{
    if (has_id(r, value))
        return 0;
    if (r->id_count == sizeof(r->ids) / sizeof(r->ids[0])) {
        fprintf(stderr, "sluicectl forget: more than %d ids are linked to this person in Redis; refusing to guess\n",
                MAX_LINKED);
        return -1;
    }
    char *v = strdup(value);
    if (v == NULL)
        return -1;
    r->ids[r->id_count++] = (person_id_t){.value = v, .kind = kind, .linked = linked};
    return 0;
}

static int add_pseudo(req_t *r, size_t id, const char *value, size_t len, const char *form)
{
    char hex[SLUICE_PSEUDONYM_HEX_LEN + 1];
    if (sluice_pseudonym_hex(r->key, value, len, hex) != 0) {
        fprintf(stderr, "sluicectl forget: HMAC-SHA256 unavailable\n");
        return -1;
    }
    for (size_t i = 0; i < r->p_count; i++)
        if (strcmp(r->ps[i].hex, hex) == 0)
            return 0;
    pseudo_t *np = realloc(r->ps, (r->p_count + 1) * sizeof(*np));
    if (np == NULL)
        return -1;
    r->ps = np;
    pseudo_t *p = &r->ps[r->p_count++];
    memcpy(p->hex, hex, sizeof(hex));
    p->id = id;
    snprintf(p->form, sizeof(p->form), "%s", form);
    return 0;
}

/* Every pseudonym of every id: the raw value (what the gateway sees) and, for each hash_fields
 * rule on a path where that kind of id travels, the value the data layer writes there (what
 * the worker sees in Kafka). */
/* What the org's PII guard writes in place of id (gateway/piiguard.h: an e-mail as userId becomes
 * its hash), into out; 0 when the guard leaves it as it is. The gateway applies it before
 * anything reads the ids, so its events carry this form, not the raw one. */
static int guard_form(const sluice_org_t *org, const char *kind, const char *value, char *out, size_t cap)
{
    if (org->pii_guard.mode != SLUICE_PII_GUARD_MASK && org->pii_guard.mode != SLUICE_PII_GUARD_HASH)
        return 0;
    sluice_piiguard_t *g = sluice_piiguard_create(org);
    sluice_piiguard_thread_t *t = sluice_piiguard_thread_create();
    json_t *ev = json_pack("{s:s}", kind, value);
    uint64_t found = 0;
    int changed = 0;
    if (g != NULL && t != NULL && ev != NULL && sluice_piiguard_ids(g, t, ev, &found) == 0 && found != 0) {
        const char *v = json_string_value(json_object_get(ev, kind));
        if (v != NULL && strcmp(v, value) != 0 && strlen(v) < cap) {
            snprintf(out, cap, "%s", v);
            changed = 1;
        }
    }
    json_decref(ev);
    sluice_piiguard_thread_destroy(t);
    sluice_piiguard_destroy(g);
    return changed;
}

static int compute_pseudonyms(req_t *r)
{
    for (size_t i = 0; i < r->id_count; i++) {
        const person_id_t *id = &r->ids[i];
        if (add_pseudo(r, i, id->value, strlen(id->value), "raw") != 0)
            return -1;
        char guarded[1024];
        if (guard_form(r->org, kind_names[id->kind], id->value, guarded, sizeof(guarded)) &&
            add_pseudo(r, i, guarded, strlen(guarded), "pii_guard") != 0)
            return -1;
        for (size_t h = 0; h < r->org->hash_rule_count; h++) {
            const sluice_hash_rule_t *rule = &r->org->hash_rules[h];
            int applies = 0;
            for (int k = 0; k < 3 && !applies; k++)
                applies = strcmp(rule->path.text, kind_paths[id->kind][k]) == 0;
            if (!applies || sluice_is_sha256_hex(id->value, strlen(id->value)))
                continue;
            char norm[1024], hex[SLUICE_SHA256_HEX_LEN + 1], form[64];
            long n = sluice_normalize(rule->normalizer, SLUICE_VARIANT_DEFAULT, id->value, strlen(id->value),
                                      rule->default_country_code, norm, sizeof(norm));
            if (n < 0 || sluice_sha256_hex(norm, (size_t)n, hex) != 0)
                continue; /* the data layer removes such a value: it never reaches Kafka */
            snprintf(form, sizeof(form), "hash_fields:%s", sluice_normalizer_name(rule->normalizer));
            sluice_secure_zero(norm, sizeof(norm));
            if (add_pseudo(r, i, hex, SLUICE_SHA256_HEX_LEN, form) != 0)
                return -1;
        }
    }
    return 0;
}

/* The request's ids as stored and published: [{kind, pseudonym, form[, linked]}]. */
static json_t *ids_json(const req_t *r)
{
    json_t *a = json_array();
    for (size_t i = 0; i < r->p_count; i++) {
        const person_id_t *id = &r->ids[r->ps[i].id];
        json_t *o =
            json_pack("{s:s,s:s,s:s}", "kind", kind_names[id->kind], "pseudonym", r->ps[i].hex, "form", r->ps[i].form);
        if (id->linked)
            json_object_set_new(o, "linked", json_true());
        json_array_append_new(a, o);
    }
    return a;
}

/* ------------------------------------------------------------------ Redis */

static int redis_connect(req_t *r)
{
    const sluice_redis_config_t *rc = &r->cfg->redis;
    sluice_err_t err = {{0}};
    r->redis = sluice_redis_sync_connect(rc, sluice_redis_sync_password(rc), REDIS_TIMEOUT * 1000, &err);
    if (r->redis == NULL) {
        fprintf(stderr, "sluicectl forget: %s\n", err.msg);
        return -1;
    }
    return 0;
}

/* Redis's reason, cut before any "args" it quotes: an unknown (renamed) command's error ends
 * "with args beginning with: '<key>' ...", and the keys forget reads and deletes are named by
 * ids (identity links: the person's, and everyone's it scans), which its output never shows. */
static int redis_failed(const req_t *r, const char *what, const redisReply *x)
{
    if (x != NULL && x->type == REDIS_REPLY_ERROR) {
        fprintf(stderr, "sluicectl forget: Redis %s: %.*s\n", what, (int)sluice_redis_sync_reason_len(x->str, x->len),
                x->str);
        return -1;
    }
    fprintf(stderr, "sluicectl forget: Redis %s: %s\n", what, r->redis->err ? r->redis->errstr : "unexpected reply");
    return -1;
}

/* SCAN over pattern, calling each with every batch of keys. */
static int scan(req_t *r, const char *pattern, int (*each)(req_t *r, const redisReply *keys, void *ud), void *ud)
{
    char cursor[32] = "0";
    do {
        redisReply *x = redisCommand(r->redis, "SCAN %s MATCH %s COUNT " SCAN_COUNT, cursor, pattern);
        if (x == NULL || x->type != REDIS_REPLY_ARRAY || x->elements != 2 ||
            x->element[0]->type != REDIS_REPLY_STRING || x->element[1]->type != REDIS_REPLY_ARRAY) {
            redis_failed(r, "SCAN", x);
            freeReplyObject(x);
            return -1;
        }
        snprintf(cursor, sizeof(cursor), "%s", x->element[0]->str);
        int rc = each(r, x->element[1], ud);
        freeReplyObject(x);
        if (rc != 0)
            return -1;
    } while (strcmp(cursor, "0") != 0);
    return 0;
}

/* A link as read: key suffix (the id), and its fields. */
typedef struct link {
    char *id, *user, *adopted;
} link_t;

typedef struct links {
    link_t *v;
    size_t n;
    size_t prefix_len; /* of "sluice:id:<org>:" */
    /* A batch (--file): every user id of its people in both forms (raw, linked_as), sorted, so
     * that one SCAN serves them all; NULL for one request, whose ids are matched directly. */
    char **users;
    size_t user_count;
    int batch;
} links_t;

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int collect_links(req_t *r, const redisReply *keys, void *ud)
{
    links_t *L = ud;
    for (size_t i = 0; i < keys->elements; i++)
        redisAppendCommand(r->redis, "HMGET %b userId anonymousId", keys->element[i]->str, keys->element[i]->len);
    for (size_t i = 0; i < keys->elements; i++) {
        redisReply *x = NULL;
        if (redisGetReply(r->redis, (void **)&x) != REDIS_OK || x == NULL || x->type != REDIS_REPLY_ARRAY ||
            x->elements != 2) {
            redis_failed(r, "HMGET", x);
            freeReplyObject(x);
            return -1;
        }
        const redisReply *u = x->element[0], *a = x->element[1];
        int user_match = 0;
        if (L->batch && u->type == REDIS_REPLY_STRING) {
            const char *needle = u->str;
            user_match = bsearch(&needle, L->users, L->user_count, sizeof(char *), cmp_str) != NULL;
        }
        for (size_t k = 0; !L->batch && u->type == REDIS_REPLY_STRING && k < r->id_count; k++)
            user_match |= r->ids[k].kind == KIND_USER &&
                          (strcmp(r->ids[k].value, u->str) == 0 ||
                           (r->ids[k].linked_as[0] != '\0' && strcmp(r->ids[k].linked_as, u->str) == 0));
        const redisReply *key = keys->element[i];
        if ((user_match || a->type == REDIS_REPLY_STRING) && key->len > L->prefix_len) {
            link_t *nv = realloc(L->v, (L->n + 1) * sizeof(*nv));
            if (nv == NULL) {
                freeReplyObject(x);
                return -1;
            }
            L->v = nv;
            nv[L->n].id = strndup(key->str + L->prefix_len, key->len - L->prefix_len);
            nv[L->n].user = user_match ? strdup(u->str) : NULL;
            nv[L->n].adopted = a->type == REDIS_REPLY_STRING ? strndup(a->str, a->len) : NULL;
            L->n++;
        }
        freeReplyObject(x);
    }
    return 0;
}

static void links_free(links_t *L)
{
    for (size_t i = 0; i < L->n; i++) {
        free(L->v[i].id);
        free(L->v[i].user);
        free(L->v[i].adopted);
    }
    free(L->v);
}

/* How identity links each user id of the request (person_id_t.linked_as). */
static void user_link_forms(req_t *r)
{
    for (size_t i = 0; i < r->id_count; i++) {
        person_id_t *id = &r->ids[i];
        if (id->kind != KIND_USER)
            continue;
        char guarded[1024];
        const char *v =
            guard_form(r->org, kind_names[id->kind], id->value, guarded, sizeof(guarded)) ? guarded : id->value;
        char hex[SLUICE_SHA256_HEX_LEN + 1];
        if (sluice_datalayer_user_form(r->org, v, hex) == 1)
            v = hex;
        size_t vlen = strlen(v);
        if (strcmp(v, id->value) != 0 && vlen < sizeof(id->linked_as))
            memcpy(id->linked_as, v, vlen + 1);
        sluice_secure_zero(guarded, sizeof(guarded));
    }
}

/* Step 1: the person's ids Redis knows. An anonymous id whose link names the user id is theirs;
 * so is an id a cross-domain token replaced by one of theirs, and the id that replaced one of
 * theirs (followed until nothing changes). */
static int find_linked(req_t *r)
{
    char pattern[256];
    if (sluice_forget_key(pattern, sizeof(pattern), r->cfg->redis.key_prefix, SLUICE_FORGET_KEY_LINK, r->org->id, "*") <
        0)
        return -1;
    links_t L = {NULL, 0, strlen(pattern) - 1, NULL, 0, 0};
    user_link_forms(r);
    if (scan(r, pattern, collect_links, &L) != 0) {
        links_free(&L);
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < L.n && rc == 0; i++)
        if (L.v[i].user != NULL)
            rc = add_id(r, L.v[i].id, KIND_ANON, 1);
    for (int changed = 1; changed && rc == 0;) {
        changed = 0;
        for (size_t i = 0; i < L.n && rc == 0; i++) {
            const link_t *l = &L.v[i];
            if (l->adopted == NULL)
                continue;
            int have_id = has_id(r, l->id), have_adopted = has_id(r, l->adopted);
            if (have_id && !have_adopted) {
                rc = add_id(r, l->adopted, KIND_ANON, 1);
                changed = 1;
            } else if (have_adopted && !have_id) {
                rc = add_id(r, l->id, KIND_ANON, 1);
                changed = 1;
            }
        }
    }
    links_free(&L);
    return rc;
}

/* Step 3b: DEL every link keyed by one of the person's ids, and each anonymous id's claim
 * (`own:`, an org with cross domains): a key named by the id itself, renewed by each visit for
 * link_ttl_days, which forget left in Redis for up to 400 days after the request. */
static int delete_links(req_t *r)
{
    for (size_t i = 0; i < r->id_count; i++) {
        for (int own = 0; own <= (r->ids[i].kind == KIND_ANON); own++) {
            char key[600];
            if (sluice_forget_key(key, sizeof(key), r->cfg->redis.key_prefix,
                                  own ? SLUICE_FORGET_KEY_OWN : SLUICE_FORGET_KEY_LINK, r->org->id,
                                  r->ids[i].value) < 0)
                continue;
            redisReply *x = redisCommand(r->redis, "DEL %s", key);
            if (x == NULL || x->type != REDIS_REPLY_INTEGER) {
                redis_failed(r, "DEL", x);
                freeReplyObject(x);
                return -1;
            }
            if (!own)
                r->links_removed += x->integer;
            freeReplyObject(x);
        }
    }
    return 0;
}

/* Step 3c: a dedup key whose value names one of the pseudonyms goes. */
static int delete_dedup(req_t *r, const redisReply *keys, void *ud)
{
    (void)ud;
    for (size_t i = 0; i < keys->elements; i++)
        redisAppendCommand(r->redis, "GET %b", keys->element[i]->str, keys->element[i]->len);
    int *doomed = calloc(keys->elements ? keys->elements : 1, sizeof(int));
    if (doomed == NULL)
        return -1;
    for (size_t i = 0; i < keys->elements; i++) {
        redisReply *x = NULL;
        if (redisGetReply(r->redis, (void **)&x) != REDIS_OK || x == NULL) {
            redis_failed(r, "GET", x);
            freeReplyObject(x);
            free(doomed);
            return -1;
        }
        for (size_t p = 0; x->type == REDIS_REPLY_STRING && p < r->p_count && !doomed[i]; p++)
            doomed[i] = strstr(x->str, r->ps[p].hex) != NULL;
        freeReplyObject(x);
    }
    int rc = 0;
    for (size_t i = 0; i < keys->elements && rc == 0; i++) {
        if (!doomed[i])
            continue;
        redisReply *x = redisCommand(r->redis, "DEL %b", keys->element[i]->str, keys->element[i]->len);
        if (x == NULL || x->type != REDIS_REPLY_INTEGER)
            rc = redis_failed(r, "DEL", x);
        else
            r->dedup_removed += x->integer;
        freeReplyObject(x);
    }
    free(doomed);
    return rc;
}

static int gen_missing(req_t *r, const char *gen_key);
static int rewrite_list(req_t *r, size_t *count);

/* Waits until every gateway enforces the list as it is now in Redis (each says which generation
 * it enforces in <prefix>suppress:seen, gateway/forgotten.c), then a moment more for an event a
 * loop thread had checked against its previous list and is still linking. Until then a gateway
 * takes the person's events and links their new ids: forget looked for links only before, and
 * the links made meanwhile stayed in Redis (seconds of them at 100k people). A gateway's word
 * past its time (it was killed) is dropped, and neither waited for nor counted. Its time is in
 * Redis's clock (TIME), which forget reads on every look: it was compared with this host's, and a
 * gateway whose clock ran minutes behind looked dead while it took the person's events (the links
 * it made were never deleted), one ahead held every forget to the limit long after it was killed.
 * The limit is on the monotonic clock. 0, or -1 (said on stderr) when Redis failed or a gateway
 * did not load the list in time. */
static int wait_gateways(req_t *r)
{
    char gen_key[192], seen_key[192];
    sluice_forget_key(gen_key, sizeof(gen_key), r->cfg->redis.key_prefix, SLUICE_FORGET_KEY_SUPPRESS_GEN, NULL, NULL);
    sluice_forget_key(seen_key, sizeof(seen_key), r->cfg->redis.key_prefix, SLUICE_FORGET_KEY_SUPPRESS_SEEN, NULL,
                      NULL);
    redisReply *g = redisCommand(r->redis, "GET %s", gen_key);
    if (g == NULL || (g->type != REDIS_REPLY_STRING && g->type != REDIS_REPLY_NIL)) {
        redis_failed(r, "GET", g);
        freeReplyObject(g);
        return -1;
    }
    long long gen = g->type == REDIS_REPLY_STRING ? strtoll(g->str, NULL, 10) : 0;
    freeReplyObject(g);
    long long limit_ms = 2LL * r->cfg->forget.refresh_ms + 60000, start = (long long)sluice_mono_ms();
    size_t gateways = 0, behind = 0;
    int said = 0, own_clock = 0;
    for (;;) {
        int64_t redis_now = 0;
        sluice_err_t err = {{0}};
        int t = own_clock ? -2 : sluice_redis_sync_time_ms(r->redis, &redis_now, &err);
        if (t == -1) {
            fprintf(stderr, "sluicectl forget: Redis %s\n", err.msg);
            return -1;
        }
        if (t == -2 && !own_clock) { /* a user without +time: this host's clock, as before */
            fprintf(stderr,
                    "forget: Redis refuses %s; weighing the gateways' word by this host's clock, wrong by as much as "
                    "it differs from Redis's: add +time to the user's ACL\n",
                    err.msg);
            own_clock = 1;
        }
        redisReply *x = redisCommand(r->redis, "HGETALL %s", seen_key);
        if (x == NULL || x->type != REDIS_REPLY_ARRAY) {
            redis_failed(r, "HGETALL", x);
            freeReplyObject(x);
            return -1;
        }
        long long now = own_clock ? (long long)sluice_now_ms() : (long long)redis_now;
        gateways = behind = 0;
        for (size_t i = 0; i + 1 < x->elements; i += 2) {
            const redisReply *field = x->element[i], *v = x->element[i + 1];
            if (field->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
                continue;
            /* "<generation> <until>"; the generation is "lost" (it keeps its last list while Redis
             * lost it) or empty (still loading its first) for a gateway that enforces none yet. */
            const char *sp = strrchr(v->str, ' ');
            char *end = NULL;
            long long at = strtoll(v->str, &end, 10), until = sp != NULL ? strtoll(sp + 1, NULL, 10) : 0;
            int numeric = end != v->str && end == sp;
            if (until < now) { /* a gateway killed: it takes no events */
                freeReplyObject(redisCommand(r->redis, "HDEL %s %b", seen_key, field->str, field->len));
                continue;
            }
            gateways++;
            behind += !numeric || at < gen;
        }
        freeReplyObject(x);
        if (behind == 0)
            break;
        if ((long long)sluice_mono_ms() - start > limit_ms) {
            fprintf(stderr,
                    "sluicectl forget: %zu of %zu gateways did not load the suppression list (generation %lld) within "
                    "%lld s: the links they may still make of the person would stay; run the same command again\n",
                    behind, gateways, gen, limit_ms / 1000);
            return -1;
        }
        if (!said)
            fprintf(stderr, "forget: waiting for %zu of %zu gateways to load the suppression list\n", behind, gateways);
        said = 1;
        usleep(50 * 1000);
    }
    if (gateways > 0)
        usleep((useconds_t)(200 + 4 * r->cfg->redis.timeout_ms) * 1000);
    return 0;
}

/* No generation at gen_key: Redis lost the list (or never had one), and the whole list is written
 * from PostgreSQL. Returns 1 when it was, 0 when the list is there, -1 on an error. */
static int rewrite_if_lost(req_t *r, const char *gen_key)
{
    int missing = gen_missing(r, gen_key);
    if (missing <= 0)
        return missing;
    size_t count = 0;
    if (rewrite_list(r, &count) != 0)
        return -1;
    fprintf(stderr, "the suppression list was missing from Redis: rewrote it from PostgreSQL (%zu pseudonyms)\n",
            count);
    return 1;
}

/* Adds (add = 1) or removes the org's pseudonyms hexes[0..n) on the gateway's list and bumps
 * its generation, in one transaction. */
static int redis_suppress(req_t *r, const char *org, char *const *hexes, size_t n, int add)
{
    char set_key[192], gen_key[192];
    sluice_forget_key(set_key, sizeof(set_key), r->cfg->redis.key_prefix, SLUICE_FORGET_KEY_SUPPRESS, NULL, NULL);
    sluice_forget_key(gen_key, sizeof(gen_key), r->cfg->redis.key_prefix, SLUICE_FORGET_KEY_SUPPRESS_GEN, NULL, NULL);
    /* No generation: Redis lost the list (or never had one). Adding this request's pseudonyms to
     * the empty set left and bumping the generation made every gateway, which keeps its last list
     * through the loss, load a list of this one request: everyone forgotten before passed again.
     * PostgreSQL holds this request already (committed before), so the whole list is written. */
    int missing = rewrite_if_lost(r, gen_key);
    if (missing != 0)
        return missing < 0 ? -1 : 0;
    size_t sent = 0;
    redisAppendCommand(r->redis, "MULTI");
    sent++;
    for (size_t i = 0; i < n; i++, sent++)
        redisAppendCommand(r->redis, add ? "SADD %s %s:%s" : "SREM %s %s:%s", set_key, org, hexes[i]);
    redisAppendCommand(r->redis, "INCR %s", gen_key);
    redisAppendCommand(r->redis, "EXEC");
    sent += 2;
    int rc = 0;
    for (size_t i = 0; i < sent; i++) {
        redisReply *x = NULL;
        if (redisGetReply(r->redis, (void **)&x) != REDIS_OK || x == NULL) {
            freeReplyObject(x);
            return redis_failed(r, add ? "SADD" : "SREM", NULL);
        }
        if (x->type == REDIS_REPLY_ERROR || (i == sent - 1 && x->type != REDIS_REPLY_ARRAY))
            rc = redis_failed(r, "MULTI/EXEC", x);
        freeReplyObject(x);
    }
    return rc;
}

/* ------------------------------------------------------------------ PostgreSQL */

static int pg_failed(const req_t *r, const char *what)
{
    const char *m = PQerrorMessage(r->pg);
    size_t n = strlen(m);
    while (n > 0 && (m[n - 1] == '\n' || m[n - 1] == ' '))
        n--;
    fprintf(stderr, "sluicectl forget: %s: %.*s\n", what, (int)n, m);
    return -1;
}

/* Applies the schema through the vault's migrations, then opens a connection of our own. */
static int pg_connect(req_t *r)
{
    sluice_err_t err = {{0}};
    sluice_vault_t *v = sluice_vault_open(r->cfg->database.url, NULL, r->by, &err);
    if (v == NULL) {
        fprintf(stderr, "sluicectl forget: %s\n", err.msg);
        return -1;
    }
    sluice_vault_close(v);
    const char *keys[] = {"connect_timeout", "application_name", "dbname", NULL};
    const char *vals[] = {"5", "sluicectl forget", r->cfg->database.url, NULL};
    r->pg = PQconnectdbParams(keys, vals, 1);
    if (r->pg == NULL || PQstatus(r->pg) != CONNECTION_OK) {
        char m[SLUICE_ERR_MSG_MAX];
        sluice_vault_conn_message(r->cfg->database.url, r->pg != NULL ? PQerrorMessage(r->pg) : "out of memory", m,
                                  sizeof(m));
        fprintf(stderr, "sluicectl forget: database: %s\n", m);
        return -1;
    }
    return 0;
}

static PGresult *pg_exec(req_t *r, const char *sql, int n, const char *const *params, ExecStatusType want,
                         const char *what)
{
    PGresult *x = PQexecParams(r->pg, sql, n, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(x) != want) {
        pg_failed(r, what);
        PQclear(x);
        PQclear(PQexec(r->pg, "ROLLBACK"));
        return NULL;
    }
    return x;
}

/* {a,b,c} for a text[] parameter (pseudonyms are hex: nothing to quote). Caller frees. */
static char *pg_array(char *const *hexes, size_t n)
{
    char *s = malloc(n * (SLUICE_PSEUDONYM_HEX_LEN + 1) + 3), *p = s;
    if (s == NULL)
        return NULL;
    *p++ = '{';
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            *p++ = ',';
        memcpy(p, hexes[i], SLUICE_PSEUDONYM_HEX_LEN);
        p += SLUICE_PSEUDONYM_HEX_LEN;
    }
    *p++ = '}';
    *p = '\0';
    return s;
}

/* Puts the rows (pseudonym, request) on the org's suppression list (the worker's), given as
 * PostgreSQL array literals of equal length; within the caller's transaction. */
static int pg_suppress_rows(req_t *r, const char *pseudonyms, const char *requests)
{
    const char *p[3] = {r->org->id, pseudonyms, requests};
    PGresult *x = pg_exec(r,
                          "INSERT INTO forget_suppression (org, pseudonym, request_id)"
                          " SELECT $1, t.p, t.r FROM unnest($2::text[], $3::uuid[]) AS t(p, r)"
                          " ON CONFLICT DO NOTHING",
                          3, p, PGRES_COMMAND_OK, "writing the suppression list");
    PQclear(x);
    return x != NULL ? 0 : -1;
}

/* BEGIN or COMMIT (a failed one is rolled back by pg_exec). */
static int pg_tx(req_t *r, const char *verb)
{
    PGresult *x = pg_exec(r, verb, 0, NULL, PGRES_COMMAND_OK, "database");
    PQclear(x);
    return x != NULL ? 0 : -1;
}

/* The request's outcome (step 5): its state, why it failed, what it changed. changed is the
 * pseudonyms suppressed (forget) or lifted (undo). */
static int pg_finish(req_t *r, int is_undo, const char *detail, long long changed, int published)
{
    char l[24], d[24], c[24];
    snprintf(l, sizeof(l), "%lld", r->links_removed);
    snprintf(d, sizeof(d), "%lld", r->dedup_removed);
    snprintf(c, sizeof(c), "%lld", changed);
    const char *state = detail[0] != '\0' ? "failed" : "done", *pub = published ? "true" : "false";
    PGresult *x;
    if (is_undo) {
        const char *params[5] = {r->request_id, state, detail, c, pub};
        x = pg_exec(r,
                    "UPDATE forget_requests SET state = $2, detail = $3, lifted = $4::integer,"
                    " dsr_published = $5::boolean, completed_at = now() WHERE request_id = $1::uuid",
                    5, params, PGRES_COMMAND_OK, "recording the undo's outcome");
    } else {
        const char *params[7] = {r->request_id, state, detail, l, d, c, pub};
        x = pg_exec(r,
                    "UPDATE forget_requests SET state = $2, detail = $3, links_removed = $4::integer,"
                    " dedup_keys_removed = $5::integer, suppressed = $6::integer, dsr_published = $7::boolean,"
                    " completed_at = now() WHERE request_id = $1::uuid",
                    7, params, PGRES_COMMAND_OK, "recording the request's outcome");
    }
    PQclear(x);
    return x != NULL ? 0 : -1;
}

/* ------------------------------------------------------------------ Kafka */

typedef struct delivery {
    int done, ok;
    char error[256];
} delivery_t;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    delivery_t *d = m->_private;
    d->done = 1;
    d->ok = m->err == RD_KAFKA_RESP_ERR_NO_ERROR;
    if (!d->ok)
        snprintf(d->error, sizeof(d->error), "%s", rd_kafka_err2str(m->err));
}

/* An idempotent producer (acks all) for kafka.dsr_topic with the given linger.ms and delivery
 * callback; NULL with why set. The caller destroys it. */
static rd_kafka_t *dsr_producer(const req_t *r, const char *linger_ms,
                                void (*dr)(rd_kafka_t *, const rd_kafka_message_t *, void *), char *why, size_t why_len)
{
    sluice_err_t err = {{0}};
    const char *const defaults[] = {"linger.ms", linger_ms, NULL};
    rd_kafka_conf_t *conf =
        sluice_dlq_kafka_conf(&r->cfg->kafka, "sluicectl-forget", RD_KAFKA_PRODUCER, defaults, &err);
    if (conf == NULL || sluice_dlq_conf_set(conf, "enable.idempotence", "true", &err) != 0 ||
        sluice_dlq_conf_set(conf, "acks", "all", &err) != 0) {
        if (conf != NULL)
            rd_kafka_conf_destroy(conf);
        snprintf(why, why_len, "%s", err.msg);
        return NULL;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, dr);
    char errstr[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (rk == NULL) {
        rd_kafka_conf_destroy(conf);
        snprintf(why, why_len, "kafka producer: %.400s", errstr);
    }
    return rk;
}

/* Produces record to kafka.dsr_topic and waits for the broker's acknowledgement. */
static int publish(const req_t *r, const char *key, const char *type, json_t *record, char *why, size_t why_len)
{
    rd_kafka_t *rk = dsr_producer(r, "0", on_delivery, why, why_len);
    if (rk == NULL)
        return -1;
    char *payload = json_dumps(record, JSON_COMPACT);
    delivery_t d = {0};
    rd_kafka_headers_t *h = rd_kafka_headers_new(2);
    rd_kafka_header_add(h, "org", -1, r->org->id, -1);
    rd_kafka_header_add(h, "type", -1, type, -1);
    rd_kafka_resp_err_t e =
        payload == NULL
            ? RD_KAFKA_RESP_ERR__NOENT
            : rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(r->cfg->kafka.dsr_topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                RD_KAFKA_V_KEY(key, strlen(key)), RD_KAFKA_V_VALUE(payload, strlen(payload)),
                                RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_OPAQUE(&d), RD_KAFKA_V_END);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_headers_destroy(h);
        snprintf(why, why_len, "kafka: %s", payload == NULL ? "out of memory" : rd_kafka_err2str(e));
    } else {
        rd_kafka_flush(rk, KAFKA_WAIT_MS);
        rd_kafka_poll(rk, 0);
        if (!d.done)
            snprintf(why, why_len, "kafka: %s did not acknowledge the record within %d s", r->cfg->kafka.dsr_topic,
                     KAFKA_WAIT_MS / 1000);
        else if (!d.ok)
            snprintf(why, why_len, "kafka: %s", d.error);
    }
    free(payload);
    rd_kafka_destroy(rk);
    return e == RD_KAFKA_RESP_ERR_NO_ERROR && d.done && d.ok ? 0 : -1;
}

static json_t *dsr_record(const req_t *r, const char *type, const char *request_id, const char *undoes, json_t *ids)
{
    char at[SLUICE_TIME_TEXT_MAX];
    sluice_time_format(sluice_now_ms(), at);
    json_t *rec = json_pack("{s:i,s:s,s:s,s:s,s:s,s:s,s:b,s:O}", "v", 1, "type", type, "request_id", request_id, "org",
                            r->org->id, "at", at, "scheme", "hmac-sha256/sluice-forget-v1", "keyed",
                            r->cfg->forget.key != NULL, "ids", ids);
    if (rec != NULL && undoes != NULL)
        json_object_set_new(rec, "undoes", json_string(undoes));
    return rec;
}

/* ------------------------------------------------------------------ forget */

static char **hex_list(const req_t *r);

/* Step 3a: once every gateway enforces the list (wait_gateways), the person's links are looked
 * for again; the ids linked to them since step 1, while the gateways still took their events,
 * are added to the request and suppressed, and the gateways waited for again, until nothing new
 * is found. */
static int settle(req_t *r)
{
    for (;;) {
        size_t known = r->p_count;
        if (wait_gateways(r) != 0 || find_linked(r) != 0 || compute_pseudonyms(r) != 0)
            return -1;
        if (r->p_count == known)
            return 0;
        char **hexes = hex_list(r);
        char *array = hexes != NULL ? pg_array(hexes + known, r->p_count - known) : NULL;
        json_t *ids = ids_json(r);
        char *ids_text = ids != NULL ? json_dumps(ids, JSON_COMPACT) : NULL;
        json_decref(ids);
        int ok = array != NULL && ids_text != NULL;
        const char *p1[2] = {r->request_id, ids_text}, *p2[3] = {r->org->id, array, r->request_id};
        PGresult *x = NULL;
        ok = ok && pg_tx(r, "BEGIN") == 0 &&
             (x = pg_exec(r, "UPDATE forget_requests SET ids = $2::jsonb WHERE request_id = $1::uuid", 2, p1,
                          PGRES_COMMAND_OK, "recording the ids linked since")) != NULL;
        PQclear(x);
        x = NULL;
        ok = ok && (x = pg_exec(r,
                                "INSERT INTO forget_suppression (org, pseudonym, request_id)"
                                " SELECT $1, unnest($2::text[]), $3::uuid ON CONFLICT DO NOTHING",
                                3, p2, PGRES_COMMAND_OK, "writing the suppression list")) != NULL;
        PQclear(x);
        ok = ok && pg_tx(r, "COMMIT") == 0;
        ok = ok && redis_suppress(r, r->org->id, hexes + known, r->p_count - known, 1) == 0;
        free(array);
        free(ids_text);
        free(hexes);
        if (!ok)
            return -1;
    }
}

static char **hex_list(const req_t *r)
{
    char **v = calloc(r->p_count ? r->p_count : 1, sizeof(*v));
    for (size_t i = 0; v != NULL && i < r->p_count; i++)
        v[i] = (char *)r->ps[i].hex;
    return v;
}

static int forget(req_t *r)
{
    int has_redis = r->cfg->redis.url != NULL && r->cfg->redis.host != NULL;
    if (!has_redis)
        fprintf(stderr, "warning: no redis.url: nothing to delete there, and the gateway cannot suppress (the "
                        "worker still skips)\n");
    if (has_redis && (redis_connect(r) != 0 || find_linked(r) != 0))
        return 1;
    if (compute_pseudonyms(r) != 0 || sluice_uuid_v4(r->request_id) != 0)
        return 1;
    json_t *ids = ids_json(r);
    char *ids_text = json_dumps(ids, JSON_COMPACT);
    char **hexes = hex_list(r);
    char *array = hexes ? pg_array(hexes, r->p_count) : NULL;
    int rc = 1;
    if (ids_text == NULL || array == NULL)
        goto out;

    /* Step 2: the request and the worker's list, together. */
    PGresult *x = pg_exec(r, "BEGIN", 0, NULL, PGRES_COMMAND_OK, "database");
    PQclear(x);
    const char *p1[4] = {r->request_id, r->org->id, r->by, ids_text};
    if (x == NULL || (x = pg_exec(r,
                                  "INSERT INTO forget_requests (request_id, action, org, requested_by, ids, state)"
                                  " VALUES ($1::uuid, 'forget', $2, $3, $4::jsonb, 'pending')",
                                  4, p1, PGRES_COMMAND_OK, "recording the request")) == NULL)
        goto out;
    PQclear(x);
    const char *p2[3] = {r->org->id, array, r->request_id};
    if ((x = pg_exec(r,
                     "INSERT INTO forget_suppression (org, pseudonym, request_id)"
                     " SELECT $1, unnest($2::text[]), $3::uuid ON CONFLICT DO NOTHING",
                     3, p2, PGRES_COMMAND_OK, "writing the suppression list")) == NULL)
        goto out;
    PQclear(x);
    if ((x = pg_exec(r, "COMMIT", 0, NULL, PGRES_COMMAND_OK, "database")) == NULL)
        goto out;
    PQclear(x);

    /* Step 3: the gateway's list first (it stops the flow), then what Redis holds of them. */
    char why[512] = "";
    char dedup_pattern[256];
    sluice_forget_key(dedup_pattern, sizeof(dedup_pattern), r->cfg->redis.key_prefix, SLUICE_FORGET_KEY_DEDUP,
                      r->org->id, "*");
    if (has_redis && (redis_suppress(r, r->org->id, hexes, r->p_count, 1) != 0 || settle(r) != 0 ||
                      delete_links(r) != 0 || scan(r, dedup_pattern, delete_dedup, NULL) != 0))
        snprintf(why, sizeof(why), "Redis failed (see above)");
    json_decref(ids); /* with the ids linked since step 1 */
    ids = ids_json(r);

    /* Step 4: the deletion record. */
    int published = 0;
    if (why[0] == '\0') {
        json_t *rec = dsr_record(r, "forget", r->request_id, NULL, ids);
        char key[128];
        snprintf(key, sizeof(key), "%s:%s", r->org->id, r->request_id);
        published = rec != NULL && publish(r, key, "forget", rec, why, sizeof(why)) == 0;
        if (rec == NULL)
            snprintf(why, sizeof(why), "out of memory");
        json_decref(rec);
    }

    /* Step 5. */
    if (pg_finish(r, 0, why, (long long)r->p_count, published) != 0)
        goto out;
    if (why[0] != '\0') {
        fprintf(stderr,
                "sluicectl forget: request %s is recorded and its ids are on the worker's suppression list, but it is "
                "not complete: %s; run the same command again\n",
                r->request_id, why);
        goto out;
    }
    size_t linked = 0;
    for (size_t i = 0; i < r->id_count; i++)
        linked += r->ids[i].linked;
    printf("request %s: org %s, %zu ids (%zu linked in Redis), %zu pseudonyms suppressed, %lld identity links and "
           "%lld dedup keys deleted, deletion record in %s\n",
           r->request_id, r->org->id, r->id_count, linked, r->p_count, r->links_removed, r->dedup_removed,
           r->cfg->kafka.dsr_topic);
    rc = 0;
out:
    free(array);
    free(hexes);
    free(ids_text);
    json_decref(ids);
    return rc;
}

/* ------------------------------------------------------------------ undo, list, sync */

static int valid_uuid(const char *s)
{
    if (strlen(s) != 36)
        return 0;
    for (int i = 0; i < 36; i++) {
        int dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : strchr("0123456789abcdefABCDEF", s[i]) == NULL || s[i] == '\0')
            return 0;
    }
    return 1;
}

static int undo(req_t *r, const char *target)
{
    if (!valid_uuid(target)) {
        fprintf(stderr, "sluicectl forget --undo: '%s' is not a request id (a UUID, as --list shows)\n", target);
        return 2;
    }
    /* As PostgreSQL and the forget's record write it: the undo's record names it in `undoes` and
     * in its key, where a consumer matches it with the forget's request_id as text. */
    char canon[37];
    for (size_t i = 0; i < sizeof(canon); i++)
        canon[i] = (char)tolower((unsigned char)target[i]);
    target = canon;
    const char *p0[1] = {target};
    PGresult *x = pg_exec(r,
                          "SELECT org, action, (SELECT u.request_id::text FROM forget_requests u WHERE u.undoes = "
                          "$1::uuid AND u.state = 'done' LIMIT 1) FROM forget_requests WHERE request_id = $1::uuid",
                          1, p0, PGRES_TUPLES_OK, "reading the request");
    if (x == NULL)
        return 1;
    if (PQntuples(x) != 1 || strcmp(PQgetvalue(x, 0, 1), "forget") != 0) {
        fprintf(stderr, "sluicectl forget --undo: no forget request %s\n", target);
        PQclear(x);
        return 1;
    }
    r->org = sluice_config_find_org(r->cfg, PQgetvalue(x, 0, 0));
    if (r->org == NULL) {
        fprintf(stderr, "sluicectl forget --undo: request %s is of org '%s', which is not in the config\n", target,
                PQgetvalue(x, 0, 0));
        PQclear(x);
        return 1;
    }
    int undone_before = !PQgetisnull(x, 0, 2);
    PQclear(x);
    if (sluice_uuid_v4(r->request_id) != 0)
        return 1;

    /* The worker's list and the audit row, together; then the gateway's list. */
    if ((x = pg_exec(r, "BEGIN", 0, NULL, PGRES_COMMAND_OK, "database")) == NULL)
        return 1;
    PQclear(x);
    if ((x = pg_exec(r, "DELETE FROM forget_suppression WHERE request_id = $1::uuid RETURNING pseudonym", 1, p0,
                     PGRES_TUPLES_OK, "lifting the suppression")) == NULL)
        return 1;
    size_t n = (size_t)PQntuples(x);
    if (n == 0 && undone_before) {
        PQclear(x);
        PQclear(PQexec(r->pg, "ROLLBACK"));
        fprintf(stderr, "sluicectl forget --undo: request %s was undone already\n", target);
        return 1;
    }
    if (n == 0) {
        /* An earlier undo lifted the worker's list but failed after (Redis, Kafka): this one does
         * the rest again for the pseudonyms that one lifted. */
        PQclear(x);
        if ((x = pg_exec(r,
                         "SELECT DISTINCT e->>'pseudonym' FROM forget_requests u, jsonb_array_elements(u.ids) e"
                         " WHERE u.undoes = $1::uuid AND u.action = 'undo' AND u.state <> 'done'",
                         1, p0, PGRES_TUPLES_OK, "reading the earlier undo")) == NULL)
            return 1;
        n = (size_t)PQntuples(x);
    }
    char **lifted = calloc(n ? n : 1, sizeof(*lifted));
    json_t *ids = json_array();
    for (size_t i = 0; lifted != NULL && i < n; i++) {
        lifted[i] = strdup(PQgetvalue(x, (int)i, 0));
        json_array_append_new(ids, json_pack("{s:s}", "pseudonym", PQgetvalue(x, (int)i, 0)));
    }
    PQclear(x);
    char *ids_text = json_dumps(ids, JSON_COMPACT);
    int rc = 1;
    const char *p1[5] = {r->request_id, r->org->id, r->by, ids_text, target};
    if (lifted == NULL || ids_text == NULL ||
        (x = pg_exec(r,
                     "INSERT INTO forget_requests (request_id, action, org, requested_by, ids, undoes, state)"
                     " VALUES ($1::uuid, 'undo', $2, $3, $4::jsonb, $5::uuid, 'pending')",
                     5, p1, PGRES_COMMAND_OK, "recording the undo")) == NULL)
        goto out;
    PQclear(x);
    if ((x = pg_exec(r, "COMMIT", 0, NULL, PGRES_COMMAND_OK, "database")) == NULL)
        goto out;
    PQclear(x);

    /* A pseudonym another request still suppresses stays on the gateway's list. */
    char why[512] = "";
    if (r->cfg->redis.url != NULL && n > 0) {
        char *array = pg_array(lifted, n);
        const char *p2[2] = {r->org->id, array};
        x = array != NULL ? pg_exec(r,
                                    "SELECT p FROM unnest($2::text[]) AS p WHERE NOT EXISTS (SELECT 1 FROM "
                                    "forget_suppression s WHERE s.org = $1 AND s.pseudonym = p)",
                                    2, p2, PGRES_TUPLES_OK, "reading the suppression list")
                          : NULL;
        free(array);
        if (x == NULL)
            goto out;
        size_t m = (size_t)PQntuples(x);
        char **gone = calloc(m ? m : 1, sizeof(*gone));
        for (size_t i = 0; gone != NULL && i < m; i++)
            gone[i] = PQgetvalue(x, (int)i, 0);
        if (gone == NULL || redis_connect(r) != 0 || redis_suppress(r, r->org->id, gone, m, 0) != 0)
            snprintf(why, sizeof(why), "Redis failed (see above)");
        free(gone);
        PQclear(x);
    }
    int published = 0;
    if (why[0] == '\0') {
        json_t *rec = dsr_record(r, "undo", r->request_id, target, ids);
        /* Keyed by the request it undoes, not by its own id: both records then share a partition,
         * in the order they were made. Under its own key it landed in another partition, where a
         * consumer reading partitions in parallel could lift the suppression before applying it
         * and then apply it for good. */
        char key[128];
        snprintf(key, sizeof(key), "%s:%s", r->org->id, target);
        published = rec != NULL && publish(r, key, "undo", rec, why, sizeof(why)) == 0;
        json_decref(rec);
    }
    if (pg_finish(r, 1, why, (long long)n, published) != 0)
        goto out;
    if (why[0] != '\0') {
        fprintf(stderr,
                "sluicectl forget --undo: undo %s is recorded and the worker no longer skips the ids, but it is not "
                "complete: %s; run the same command again\n",
                r->request_id, why);
        goto out;
    }
    printf("request %s undoes %s: %zu pseudonyms lifted from the suppression list of org %s; identity links and "
           "dedup keys it deleted are not restored\n",
           r->request_id, target, n, r->org->id);
    rc = 0;
out:
    for (size_t i = 0; lifted != NULL && i < n; i++)
        free(lifted[i]);
    free(lifted);
    free(ids_text);
    json_decref(ids);
    return rc;
}

/* One JSON line per request, oldest first. The undo and the suppression of each request are
 * joined once (hash joins), not looked up per row: as correlated subqueries they scanned both
 * tables for every request, and at 1M requests the listing never finished (40k took over a
 * minute). Rows are streamed as PostgreSQL sends them, so memory stays flat however long the audit. */
static int list(req_t *r, const char *org)
{
    const char *p[1] = {org};
    if (!PQsendQueryParams(
            r->pg,
            "SELECT json_build_object('request_id', q.request_id, 'action', q.action, 'org', q.org, 'requested_by',"
            " q.requested_by, 'requested_at', to_char(q.requested_at AT TIME ZONE 'UTC', "
            "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
            " 'state', q.state, 'detail', q.detail, 'ids', q.ids, 'links_removed', q.links_removed,"
            " 'dedup_keys_removed', q.dedup_keys_removed, 'suppressed', q.suppressed, 'lifted', q.lifted,"
            " 'dsr_published', q.dsr_published, 'undoes', q.undoes, 'undone_by', u.request_id,"
            " 'suppressing', s.request_id IS NOT NULL)::text"
            " FROM forget_requests q"
            " LEFT JOIN (SELECT DISTINCT ON (undoes) undoes, request_id FROM forget_requests"
            "            WHERE undoes IS NOT NULL AND state = 'done' ORDER BY undoes, seq) u ON u.undoes = q.request_id"
            " LEFT JOIN (SELECT DISTINCT request_id FROM forget_suppression) s ON s.request_id = q.request_id"
            " WHERE $1::text IS NULL OR q.org = $1 ORDER BY q.seq",
            1, NULL, p, NULL, NULL, 0) ||
        !PQsetSingleRowMode(r->pg))
        return pg_failed(r, "listing the requests"), 1;
    long long n = 0;
    int rc = 0;
    for (PGresult *x; (x = PQgetResult(r->pg)) != NULL; PQclear(x)) {
        ExecStatusType st = PQresultStatus(x);
        if (st == PGRES_SINGLE_TUPLE) {
            printf("%s\n", PQgetvalue(x, 0, 0));
            n++;
        } else if (st != PGRES_TUPLES_OK && rc == 0) {
            pg_failed(r, "listing the requests");
            rc = 1;
        }
    }
    if (rc == 0)
        fprintf(stderr, "%lld requests\n", n);
    return rc;
}

/* 1 when the list's generation is missing from Redis, 0 when it is there, -1 when Redis failed.
 * Missing: never written, or Redis lost its data (a restart without persistence, a flush). */
static int gen_missing(req_t *r, const char *gen_key)
{
    redisReply *x = redisCommand(r->redis, "EXISTS %s", gen_key);
    int rc = x != NULL && x->type == REDIS_REPLY_INTEGER ? x->integer == 0 : redis_failed(r, "EXISTS", x);
    freeReplyObject(x);
    return rc;
}

/* Writes the whole list of PostgreSQL to Redis, in one transaction, and moves its generation:
 * *count is how many pseudonyms it holds. A missing generation starts again at the clock's
 * milliseconds, not at 1: a gateway that loaded generation 1 before Redis lost its data (and did
 * not look in between) would take a new 1 for the list it has and never load the new one. 0, or
 * -1 (said on stderr). */
static int rewrite_list(req_t *r, size_t *count)
{
    PGresult *x = pg_exec(r, "SELECT DISTINCT org || ':' || pseudonym FROM forget_suppression", 0, NULL,
                          PGRES_TUPLES_OK, "reading the suppression list");
    if (x == NULL || (r->redis == NULL && redis_connect(r) != 0)) {
        PQclear(x);
        return -1;
    }
    char set_key[192], gen_key[192];
    sluice_forget_key(set_key, sizeof(set_key), r->cfg->redis.key_prefix, SLUICE_FORGET_KEY_SUPPRESS, NULL, NULL);
    sluice_forget_key(gen_key, sizeof(gen_key), r->cfg->redis.key_prefix, SLUICE_FORGET_KEY_SUPPRESS_GEN, NULL, NULL);
    int missing = gen_missing(r, gen_key);
    if (missing < 0) {
        PQclear(x);
        return -1;
    }
    /* Redis's clock rather than this host's: a host minutes behind the one that started the lost
     * generation would start below it, and a gateway that still reports the lost one counted as
     * enforcing the new list. */
    int64_t start_gen = sluice_now_ms();
    sluice_err_t terr = {{0}};
    if (missing && sluice_redis_sync_time_ms(r->redis, &start_gen, &terr) == -1) {
        PQclear(x);
        fprintf(stderr, "sluicectl forget: Redis %s\n", terr.msg);
        return -1;
    }
    size_t sent = 0, n = (size_t)PQntuples(x);
    redisAppendCommand(r->redis, "MULTI");
    redisAppendCommand(r->redis, "DEL %s", set_key);
    sent += 2;
    for (size_t i = 0; i < n; i++, sent++)
        redisAppendCommand(r->redis, "SADD %s %s", set_key, PQgetvalue(x, (int)i, 0));
    if (missing)
        redisAppendCommand(r->redis, "INCRBY %s %lld", gen_key, (long long)start_gen);
    else
        redisAppendCommand(r->redis, "INCR %s", gen_key);
    redisAppendCommand(r->redis, "EXEC");
    sent += 2;
    PQclear(x);
    int rc = 0;
    for (size_t i = 0; i < sent; i++) {
        redisReply *y = NULL;
        if (redisGetReply(r->redis, (void **)&y) != REDIS_OK || y == NULL) {
            freeReplyObject(y);
            return redis_failed(r, "sync", NULL);
        }
        if (y->type == REDIS_REPLY_ERROR)
            rc = redis_failed(r, "sync", y);
        freeReplyObject(y);
    }
    *count = n;
    return rc;
}

static int sync_redis(req_t *r)
{
    if (r->cfg->redis.url == NULL) {
        fprintf(stderr, "sluicectl forget --sync: no redis.url in the config\n");
        return 1;
    }
    size_t n = 0;
    if (rewrite_list(r, &n) != 0)
        return 1;
    printf("the gateway's suppression list in Redis now holds the %zu pseudonyms of PostgreSQL\n", n);
    return 0;
}

/* ------------------------------------------------------------------ a batch (--file) */

/* `--file F`: one person a line, many people a run (docs/privacy.md "A batch"). Each person
 * stays a request of their own in the audit (undone alone), but the costly steps are shared:
 * one SCAN of the org's identity links and one of its dedup keys for the whole batch (one
 * request scanned both per person: 1M people was 1M scans of Redis), one change of the
 * gateway's list (one generation bump, so each gateway reloads it once, not per person), one
 * Kafka producer, and PostgreSQL written BATCH_CHUNK people a transaction. A person whose named
 * ids are all suppressed by a done request is reported as forgotten already; one whose request
 * a killed or failed run left pending or failed is completed under that request (never a second
 * one in the audit): running the same file again finishes it. Raw ids are printed nowhere: a
 * person is their line number and request id. */

#define BATCH_CHUNK 1000

enum { BP_NEW = 0, BP_RESUME, BP_ALREADY, BP_REFUSED, BP_REPEATED, BP_UNDONE };

typedef struct bname {
    char *value; /* raw, wiped at the end */
    int kind;
} bname_t;

typedef struct bperson {
    size_t line;
    size_t name0, names; /* into batch.names */
    int state;
    char request_id[37];
    char *ids_text; /* the request's ids as recorded (JSON) */
    size_t id_count, linked;
    long long p_count, links_removed, dedup_removed;
    int published, dr_done;
    int published_before; /* a resumed request whose record an earlier run had acknowledged */
    size_t dup_of;        /* BP_REPEATED: the first line naming its ids, whose outcome it shares */
    char why[160];
} bperson_t;

typedef struct bhex {
    char hex[SLUICE_PSEUDONYM_HEX_LEN + 1];
    size_t person;
} bhex_t;

typedef struct batch {
    bperson_t *p;
    size_t n;
    bname_t *names;
    size_t name_count;
    bhex_t *hx; /* every pseudonym of the batch's people; sorted by hex once all are known */
    size_t hx_count;
    char **keys; /* identity links and claims to DEL (named by raw ids: wiped at the end) */
    size_t *key_person;
    size_t key_count;
    size_t refused;
    size_t hx_cap, key_cap;
} batch_t;

static int cmp_hex(const void *a, const void *b)
{
    return strcmp(((const bhex_t *)a)->hex, ((const bhex_t *)b)->hex);
}

static int grow(void **v, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap * 2 : 1024;
    while (c < need)
        c *= 2;
    void *nv = realloc(*v, c * size);
    if (nv == NULL)
        return -1;
    *v = nv;
    *cap = c;
    return 0;
}

/* Reads the file: a line is one person, its ids separated by tabs, each `user-id=VALUE` or
 * `anonymous-id=VALUE` (the single form's option names; up to MAX_IDS); blank lines and lines
 * starting with '#' are skipped, a trailing CR is dropped. A line that is not so is refused,
 * said with its number and never its content (it may hold ids). */
static int batch_read(batch_t *B, FILE *in)
{
    char *line = NULL;
    size_t cap = 0, pcap = 0, ncap = 0, lineno = 0;
    ssize_t len;
    int rc = 0;
    while ((len = getline(&line, &cap, in)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        /* A file saved as "UTF-8" by Excel, Notepad or PowerShell starts with a byte order mark,
         * invisible in an editor: read as part of the id's name, it refused line 1. */
        if (lineno == 1 && len >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0) {
            memmove(line, line + 3, (size_t)len - 2);
            len -= 3;
            sluice_secure_zero(line + len, 3); /* the id's last bytes, left behind by the move */
        }
        if (len == 0 || line[0] == '#')
            continue;
        const char *bad = NULL;
        size_t ids = 0, name0 = B->name_count;
        if (strlen(line) != (size_t)len)
            bad = "it holds a NUL byte";
        else if (!sluice_utf8_valid(line, (size_t)len))
            /* An event's ids are JSON, UTF-8: a file saved as Latin-1 or Windows-1252 named
             * "jürgen@…" in bytes no event carries, and the request was made, reported done, and
             * suppressed nobody. */
            bad = "not UTF-8 (save the file as UTF-8)";
        for (char *f = line, *next; bad == NULL && f != NULL; f = next) {
            next = strchr(f, '\t');
            if (next != NULL)
                *next++ = '\0';
            int kind = strncmp(f, "user-id=", 8) == 0         ? KIND_USER
                       : strncmp(f, "anonymous-id=", 13) == 0 ? KIND_ANON
                                                              : -1;
            const char *v = kind == KIND_USER ? f + 8 : f + 13;
            if (kind < 0)
                bad = "each id is user-id=VALUE or anonymous-id=VALUE, separated by tabs";
            else if (v[0] == '\0')
                bad = "empty id";
            else if (++ids > MAX_IDS)
                bad = "more than 16 ids";
            else if (grow((void **)&B->names, &ncap, B->name_count + 1, sizeof(*B->names)) != 0 ||
                     (B->names[B->name_count].value = strdup(v)) == NULL) {
                rc = -1;
                break;
            } else
                B->names[B->name_count++].kind = kind;
        }
        if (rc != 0)
            break;
        if (bad != NULL) {
            /* Nothing of a refused line is kept: its ids are wiped now. */
            for (size_t i = name0; i < B->name_count; i++) {
                sluice_secure_zero(B->names[i].value, strlen(B->names[i].value));
                free(B->names[i].value);
            }
            B->name_count = name0;
            fprintf(stderr, "sluicectl forget: line %zu refused: %s\n", lineno, bad);
            B->refused++;
        } else {
            if (grow((void **)&B->p, &pcap, B->n + 1, sizeof(*B->p)) != 0) {
                rc = -1;
                break;
            }
            B->p[B->n++] = (bperson_t){.line = lineno, .name0 = name0, .names = ids};
        }
        sluice_secure_zero(line, (size_t)len);
    }
    if (line != NULL)
        sluice_secure_zero(line, cap);
    free(line);
    if (rc != 0 || ferror(in)) {
        fprintf(stderr, "sluicectl forget: reading the file failed\n");
        return -1;
    }
    return 0;
}

/* Puts person k's named ids into the scratch request s (reset first). */
static int batch_load(batch_t *B, size_t k, req_t *s)
{
    for (size_t i = 0; i < s->id_count; i++) {
        sluice_secure_zero(s->ids[i].value, strlen(s->ids[i].value));
        free(s->ids[i].value);
    }
    s->id_count = 0;
    s->p_count = 0;
    s->links_removed = s->dedup_removed = 0;
    for (size_t i = 0; i < B->p[k].names; i++) {
        const bname_t *nm = &B->names[B->p[k].name0 + i];
        if (add_id(s, nm->value, nm->kind, 0) != 0)
            return -1;
    }
    return 0;
}

/* A PostgreSQL array literal of the n strings v (quoted: JSON and free text). Caller frees. */
static char *pg_text_array(char *const *v, size_t n)
{
    size_t cap = 3;
    for (size_t i = 0; i < n; i++)
        cap += 2 * strlen(v[i]) + 3;
    char *s = malloc(cap), *p = s;
    if (s == NULL)
        return NULL;
    *p++ = '{';
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            *p++ = ',';
        *p++ = '"';
        for (const char *c = v[i]; *c; c++) {
            if (*c == '"' || *c == '\\')
                *p++ = '\\';
            *p++ = *c;
        }
        *p++ = '"';
    }
    *p++ = '}';
    *p = '\0';
    return s;
}

/* 1 when each of the space-separated pseudonyms recorded (the raw ones of the ids a request
 * was named with) is one of person k's named ids: that request is this person's. An unfinished
 * request sharing one id with the line (a device two people used, named on both their lines)
 * is someone else's: resuming it put this person in it, two people one request in the audit
 * (undone together) and this one never a request of their own. */
static int batch_names_all(const batch_t *B, const bhex_t *named, size_t k, const char *recorded)
{
    const bperson_t *P = &B->p[k];
    for (const char *h = recorded; *h != '\0';) {
        size_t n = strcspn(h, " ");
        int found = 0;
        for (size_t i = 0; i < P->names && !found; i++)
            found = n == SLUICE_PSEUDONYM_HEX_LEN && memcmp(named[P->name0 + i].hex, h, n) == 0;
        if (!found)
            return 0;
        h += n;
        h += *h == ' ';
    }
    return recorded[0] != '\0';
}

/* Which people are forgotten already (every named id's raw pseudonym suppressed by a done
 * request), which have a request left pending or failed by an earlier run (resumed), and whose
 * request was undone since (left alone). */
static int batch_known(req_t *r, batch_t *B, req_t *s)
{
    size_t m = 0;
    for (size_t k = 0; k < B->n; k++)
        m += B->p[k].names;
    bhex_t *named = calloc(m ? m : 1, sizeof(*named));
    char **hexes = calloc(m ? m : 1, sizeof(*hexes));
    if (named == NULL || hexes == NULL) {
        free(named);
        free(hexes);
        return -1;
    }
    size_t j = 0;
    for (size_t k = 0; k < B->n; k++)
        for (size_t i = 0; i < B->p[k].names; i++, j++) {
            const char *v = B->names[B->p[k].name0 + i].value;
            if (sluice_pseudonym_hex(s->key, v, strlen(v), named[j].hex) != 0) {
                fprintf(stderr, "sluicectl forget: HMAC-SHA256 unavailable\n");
                free(named);
                free(hexes);
                return -1;
            }
            named[j].person = k;
            hexes[j] = named[j].hex;
        }
    char *array = pg_array(hexes, m);
    const char *p[2] = {r->org->id, array};
    PGresult *x = array == NULL
                      ? NULL
                      : pg_exec(r,
                                "SELECT s.pseudonym, q.request_id::text, q.state, CASE WHEN q.state <> 'done'"
                                " THEN (SELECT string_agg(e->>'pseudonym', ' ') FROM jsonb_array_elements(q.ids) e"
                                " WHERE e->>'form' = 'raw' AND NOT coalesce((e->>'linked')::boolean, false))"
                                " END FROM forget_suppression s"
                                " JOIN forget_requests q ON q.request_id = s.request_id"
                                " WHERE s.org = $1 AND q.action = 'forget' AND s.pseudonym = ANY($2::text[])"
                                " UNION ALL SELECT DISTINCT e->>'pseudonym', q.request_id::text, 'undone', NULL"
                                " FROM forget_requests u JOIN forget_requests q ON q.request_id = u.undoes,"
                                " jsonb_array_elements(q.ids) e WHERE u.org = $1 AND u.action = 'undo'"
                                " AND e->>'form' = 'raw' AND e->>'pseudonym' = ANY($2::text[])",
                                2, p, PGRES_TUPLES_OK, "reading the requests made before");
    free(array);
    free(hexes);
    if (x == NULL) {
        free(named);
        return -1;
    }
    /* Per named id: done (1), the request of an unfinished one, and whether a line before names
     * it too (a person on two lines of the file is one request, not two). */
    int *done = calloc(m ? m : 1, sizeof(*done)), *before = calloc(m ? m : 1, sizeof(*before));
    size_t *first = calloc(m ? m : 1, sizeof(*first));
    char(*unfinished)[37] = calloc(m ? m : 1, sizeof(*unfinished));
    char(*undone)[37] = calloc(m ? m : 1, sizeof(*undone));
    if (done == NULL || unfinished == NULL || before == NULL || undone == NULL || first == NULL) {
        free(first);
        free(undone);
        free(before);
        free(done);
        free(unfinished);
        free(named);
        PQclear(x);
        return -1;
    }
    bhex_t *by_hex = malloc((m ? m : 1) * sizeof(*by_hex));
    for (size_t i = 0; by_hex != NULL && i < m; i++) {
        by_hex[i] = named[i];
        by_hex[i].person = i; /* index into named */
    }
    if (by_hex != NULL)
        qsort(by_hex, m, sizeof(*by_hex), cmp_hex);
    for (size_t a = 0, b; by_hex != NULL && a < m; a = b) {
        size_t first_person = named[by_hex[a].person].person;
        for (b = a; b < m && strcmp(by_hex[b].hex, by_hex[a].hex) == 0; b++)
            if (named[by_hex[b].person].person < first_person)
                first_person = named[by_hex[b].person].person;
        for (size_t i = a; i < b; i++) {
            before[by_hex[i].person] = named[by_hex[i].person].person > first_person;
            first[by_hex[i].person] = first_person;
        }
    }
    for (int t = 0; by_hex != NULL && t < PQntuples(x); t++) {
        bhex_t key;
        snprintf(key.hex, sizeof(key.hex), "%s", PQgetvalue(x, t, 0));
        bhex_t *hit = bsearch(&key, by_hex, m, sizeof(*by_hex), cmp_hex);
        /* The same id may be named on several lines: mark each. */
        while (hit != NULL && hit > by_hex && strcmp(hit[-1].hex, key.hex) == 0)
            hit--;
        for (; hit != NULL && hit < by_hex + m && strcmp(hit->hex, key.hex) == 0; hit++) {
            if (strcmp(PQgetvalue(x, t, 2), "done") == 0)
                done[hit->person] = 1;
            else if (strcmp(PQgetvalue(x, t, 2), "undone") == 0)
                snprintf(undone[hit->person], sizeof(undone[0]), "%s", PQgetvalue(x, t, 1));
            else if (batch_names_all(B, named, named[hit->person].person, PQgetvalue(x, t, 3)))
                snprintf(unfinished[hit->person], sizeof(unfinished[0]), "%s", PQgetvalue(x, t, 1));
        }
    }
    PQclear(x);
    j = 0;
    for (size_t k = 0; by_hex != NULL && k < B->n; k++) {
        int all_done = B->p[k].names > 0, repeated = B->p[k].names > 0;
        const char *resume = NULL, *lifted = NULL;
        B->p[k].dup_of = B->p[k].names > 0 ? first[j] : k;
        for (size_t i = 0; i < B->p[k].names; i++, j++) {
            all_done &= done[j];
            repeated &= before[j];
            if (unfinished[j][0] != '\0' && resume == NULL)
                resume = unfinished[j];
            if (undone[j][0] != '\0' && lifted == NULL)
                lifted = undone[j];
        }
        if (all_done)
            B->p[k].state = BP_ALREADY;
        else if (repeated)
            B->p[k].state = BP_REPEATED;
        else if (resume != NULL) {
            B->p[k].state = BP_RESUME;
            snprintf(B->p[k].request_id, sizeof(B->p[k].request_id), "%s", resume);
        } else if (lifted != NULL) {
            /* Someone undid this person's request (--undo) since: a rerun of the file to finish
             * its failed lines forgot them again, silently, under a new request. The undo is a
             * decision in the audit; forgetting them again is one too, made by name. */
            B->p[k].state = BP_UNDONE;
            snprintf(B->p[k].request_id, sizeof(B->p[k].request_id), "%s", lifted);
        }
    }
    int rc = by_hex != NULL ? 0 : -1;
    free(by_hex);
    free(first);
    free(before);
    free(done);
    free(unfinished);
    free(undone);
    free(named);
    return rc;
}

/* The person's linked ids, from the links the batch's one SCAN collected (indexed by user, by
 * key id and by adopted id): find_linked's closure without a scan of its own. */
typedef struct lindex {
    link_t **by_user, **by_id, **by_adopted;
    size_t nu, ni, na;
} lindex_t;

static int cmp_luser(const void *a, const void *b)
{
    return strcmp((*(link_t *const *)a)->user, (*(link_t *const *)b)->user);
}
static int cmp_lid(const void *a, const void *b)
{
    return strcmp((*(link_t *const *)a)->id, (*(link_t *const *)b)->id);
}
static int cmp_ladopted(const void *a, const void *b)
{
    return strcmp((*(link_t *const *)a)->adopted, (*(link_t *const *)b)->adopted);
}

/* Calls add_id for each link in the sorted v whose field (by cmp) equals value. */
static int lindex_each(req_t *s, link_t **v, size_t n, int (*cmp)(const void *, const void *), link_t *probe,
                       int take_adopted)
{
    link_t **hit = bsearch(&probe, v, n, sizeof(*v), cmp);
    if (hit == NULL)
        return 0;
    while (hit > v && cmp(&hit[-1], &probe) == 0)
        hit--;
    for (; hit < v + n && cmp(hit, &probe) == 0; hit++)
        if (add_id(s, take_adopted ? (*hit)->adopted : (*hit)->id, KIND_ANON, 1) != 0)
            return -1;
    return 0;
}

static int batch_linked(req_t *s, const lindex_t *X)
{
    size_t named = s->id_count;
    for (size_t i = 0; i < named; i++) {
        if (s->ids[i].kind != KIND_USER)
            continue;
        link_t probe = {.user = s->ids[i].value};
        if (lindex_each(s, X->by_user, X->nu, cmp_luser, &probe, 0) != 0)
            return -1;
        probe.user = s->ids[i].linked_as;
        if (probe.user[0] != '\0' && lindex_each(s, X->by_user, X->nu, cmp_luser, &probe, 0) != 0)
            return -1;
    }
    /* Through cross-domain adoptions, both ways, over the ids as they grow. */
    for (size_t i = 0; i < s->id_count; i++) {
        link_t probe = {.id = s->ids[i].value, .adopted = s->ids[i].value};
        if (lindex_each(s, X->by_id, X->ni, cmp_lid, &probe, 1) != 0 ||
            lindex_each(s, X->by_adopted, X->na, cmp_ladopted, &probe, 0) != 0)
            return -1;
    }
    return 0;
}

/* Frees what batch_scan_links made, wiping the ids it holds. */
static void batch_links_free(links_t *L, lindex_t *X)
{
    for (size_t i = 0; i < L->user_count; i++) {
        if (L->users[i] != NULL)
            sluice_secure_zero(L->users[i], strlen(L->users[i]));
        free(L->users[i]);
    }
    free(L->users);
    free(X->by_user);
    free(X->by_id);
    free(X->by_adopted);
    for (size_t i = 0; i < L->n; i++) {
        sluice_secure_zero(L->v[i].id, strlen(L->v[i].id));
        if (L->v[i].user != NULL)
            sluice_secure_zero(L->v[i].user, strlen(L->v[i].user));
    }
    links_free(L);
    memset(L, 0, sizeof(*L));
    memset(X, 0, sizeof(*X));
}

/* One SCAN of the org's links for every new or resumed person of the batch, indexed (X) by user,
 * by key id and by adopted id. 0, or -1 (L and X to be freed all the same). */
static int batch_scan_links(req_t *r, batch_t *B, req_t *s, links_t *L, lindex_t *X)
{
    *L = (links_t){NULL, 0, 0, NULL, 0, 1};
    *X = (lindex_t){0};
    char pattern[256];
    if (sluice_forget_key(pattern, sizeof(pattern), r->cfg->redis.key_prefix, SLUICE_FORGET_KEY_LINK, r->org->id, "*") <
        0)
        return -1;
    L->prefix_len = strlen(pattern) - 1;
    size_t ucap = 0;
    for (size_t k = 0; k < B->n; k++) {
        if ((B->p[k].state != BP_NEW && B->p[k].state != BP_RESUME) || batch_load(B, k, s) != 0)
            continue;
        user_link_forms(s);
        for (size_t i = 0; i < s->id_count; i++) {
            if (s->ids[i].kind != KIND_USER)
                continue;
            if (grow((void **)&L->users, &ucap, L->user_count + 2, sizeof(char *)) != 0)
                return -1;
            L->users[L->user_count++] = strdup(s->ids[i].value);
            if (s->ids[i].linked_as[0] != '\0')
                L->users[L->user_count++] = strdup(s->ids[i].linked_as);
        }
    }
    for (size_t i = 0; i < L->user_count; i++)
        if (L->users[i] == NULL)
            return -1;
    qsort(L->users, L->user_count, sizeof(char *), cmp_str);
    fprintf(stderr, "forget: scanning the identity links of org %s\n", r->org->id);
    if (scan(r, pattern, collect_links, L) != 0)
        return -1;
    X->by_user = calloc(L->n + 1, sizeof(link_t *));
    X->by_id = calloc(L->n + 1, sizeof(link_t *));
    X->by_adopted = calloc(L->n + 1, sizeof(link_t *));
    if (X->by_user == NULL || X->by_id == NULL || X->by_adopted == NULL)
        return -1;
    for (size_t i = 0; i < L->n; i++) {
        if (L->v[i].user != NULL)
            X->by_user[X->nu++] = &L->v[i];
        if (L->v[i].adopted != NULL) {
            X->by_id[X->ni++] = &L->v[i];
            X->by_adopted[X->na++] = &L->v[i];
        }
    }
    qsort(X->by_user, X->nu, sizeof(link_t *), cmp_luser);
    qsort(X->by_id, X->ni, sizeof(link_t *), cmp_lid);
    qsort(X->by_adopted, X->na, sizeof(link_t *), cmp_ladopted);
    return 0;
}

/* Queues the keys of person k's id value to DEL in Redis: its identity link and, for an anonymous
 * id, its claim (which counts as no link removed, as in one request). */
static int batch_add_keys(req_t *r, batch_t *B, size_t *kcap, size_t k, const person_id_t *id)
{
    for (int own = 0; own <= (id->kind == KIND_ANON); own++) {
        char key[600];
        if (sluice_forget_key(key, sizeof(key), r->cfg->redis.key_prefix,
                              own ? SLUICE_FORGET_KEY_OWN : SLUICE_FORGET_KEY_LINK, r->org->id, id->value) < 0)
            continue;
        size_t c2 = *kcap;
        if (grow((void **)&B->keys, kcap, B->key_count + 1, sizeof(char *)) != 0 ||
            grow((void **)&B->key_person, &c2, B->key_count + 1, sizeof(size_t)) != 0 ||
            (B->keys[B->key_count] = strdup(key)) == NULL)
            return -1;
        B->key_person[B->key_count++] = own ? (size_t)-1 - k : k;
        sluice_secure_zero(key, sizeof(key));
    }
    return 0;
}

/* Step 1 for the batch: one SCAN of the links, then each new or resumed person's ids and
 * pseudonyms. */
static int batch_prepare(req_t *r, batch_t *B, req_t *s, int has_redis)
{
    links_t L = {NULL, 0, 0, NULL, 0, 1};
    lindex_t X = {0};
    size_t todo = 0;
    int rc = -1;
    for (size_t k = 0; k < B->n; k++)
        todo += B->p[k].state == BP_NEW || B->p[k].state == BP_RESUME;
    /* a rerun of a finished file scans nothing */
    if (has_redis && todo > 0 && batch_scan_links(r, B, s, &L, &X) != 0)
        goto out;
    for (size_t k = 0; k < B->n; k++) {
        bperson_t *P = &B->p[k];
        if (P->state != BP_NEW && P->state != BP_RESUME)
            continue;
        if (batch_load(B, k, s) != 0)
            goto out;
        user_link_forms(s);
        if (has_redis && batch_linked(s, &X) != 0) {
            /* Too many linked ids (said above): this person is left out, nothing done for them. */
            fprintf(stderr, "sluicectl forget: line %zu refused: too many ids linked in Redis\n", P->line);
            P->state = BP_REFUSED;
            B->refused++;
            continue;
        }
        if (compute_pseudonyms(s) != 0)
            goto out;
        if (P->state == BP_NEW && sluice_uuid_v4(P->request_id) != 0)
            goto out;
        json_t *ids = ids_json(s);
        P->ids_text = ids != NULL ? json_dumps(ids, JSON_COMPACT) : NULL;
        json_decref(ids);
        if (P->ids_text == NULL || grow((void **)&B->hx, &B->hx_cap, B->hx_count + s->p_count, sizeof(*B->hx)) != 0)
            goto out;
        for (size_t i = 0; i < s->p_count; i++) {
            memcpy(B->hx[B->hx_count].hex, s->ps[i].hex, sizeof(B->hx[0].hex));
            B->hx[B->hx_count++].person = k;
        }
        P->p_count = (long long)s->p_count;
        P->id_count = s->id_count;
        for (size_t i = 0; i < s->id_count; i++) {
            P->linked += s->ids[i].linked;
            if (has_redis && batch_add_keys(r, B, &B->key_cap, k, &s->ids[i]) != 0)
                goto out;
        }
    }
    rc = 0;
out:
    batch_links_free(&L, &X);
    return rc;
}

/* Adds the pseudonyms of a resumed request's recorded ids (those an earlier run found, whose
 * links it may have deleted since) that this run did not compute. */
static int batch_add_recorded(batch_t *B, size_t *hcap, size_t k, size_t first, const char *ids_text)
{
    size_t computed = (size_t)B->p[k].p_count; /* hx[first..first + computed) */
    json_t *a = json_loads(ids_text, 0, NULL);
    size_t i;
    json_t *e;
    int rc = 0;
    json_array_foreach(a, i, e) {
        const char *hex = json_string_value(json_object_get(e, "pseudonym"));
        if (hex == NULL || strlen(hex) != SLUICE_PSEUDONYM_HEX_LEN)
            continue;
        int have = 0;
        for (size_t h = first; h < first + computed && !have; h++)
            have = strcmp(B->hx[h].hex, hex) == 0;
        if (have)
            continue;
        if (grow((void **)&B->hx, hcap, B->hx_count + 1, sizeof(*B->hx)) != 0) {
            rc = -1;
            break;
        }
        memcpy(B->hx[B->hx_count].hex, hex, SLUICE_PSEUDONYM_HEX_LEN + 1);
        B->hx[B->hx_count++].person = k;
        B->p[k].p_count++;
    }
    json_decref(a);
    return rc;
}

/* Step 2 for the batch, BATCH_CHUNK people a transaction: new requests inserted, resumed ones
 * given the ids this run found besides theirs, and all their pseudonyms on the worker's list. */
static int batch_record(req_t *r, batch_t *B)
{
    /* The pseudonyms were appended person by person: person k's are a run of hx. */
    size_t *first = calloc(B->n + 1, sizeof(size_t));
    if (first == NULL)
        return -1;
    for (size_t h = B->hx_count; h-- > 0;)
        first[B->hx[h].person] = h;
    size_t recorded = 0, todo = 0;
    for (size_t k = 0; k < B->n; k++)
        todo += B->p[k].state == BP_NEW || B->p[k].state == BP_RESUME;
    /* Test hook: a run killed half-way, after that many people recorded (a number; the stages
     * "redis" and "kafka" are batch_die_at's). */
    const char *die = getenv("SLUICE_FORGET_BATCH_DIE_AFTER");
    if (die != NULL && !isdigit((unsigned char)die[0]))
        die = NULL;
    int rc = -1;
    for (size_t k0 = 0; k0 < B->n; k0 += BATCH_CHUNK) {
        size_t k1 = k0 + BATCH_CHUNK < B->n ? k0 + BATCH_CHUNK : B->n;
        size_t cap = k1 - k0, nn = 0, nr = 0, np = 0;
        char **nid = calloc(cap, sizeof(char *)), **nids = calloc(cap, sizeof(char *));
        char **rid = calloc(cap, sizeof(char *)), **rids = calloc(cap, sizeof(char *));
        size_t pcap = 0;
        for (size_t k = k0; k < k1; k++)
            pcap += (size_t)B->p[k].p_count;
        char **ph = calloc(pcap + 1, sizeof(char *)), **pr = calloc(pcap + 1, sizeof(char *));
        char *a1 = NULL, *a2 = NULL, *a3 = NULL, *a4 = NULL, *a5 = NULL;
        PGresult *x = NULL;
        int ok = nid && nids && rid && rids && ph && pr;
        for (size_t k = k0; ok && k < k1; k++) {
            bperson_t *P = &B->p[k];
            if (P->state != BP_NEW && P->state != BP_RESUME)
                continue;
            if (P->state == BP_NEW) {
                nid[nn] = P->request_id;
                nids[nn++] = P->ids_text;
            } else {
                rid[nr] = P->request_id;
                rids[nr++] = P->ids_text;
            }
            for (long long i = 0; i < P->p_count; i++) {
                ph[np] = B->hx[first[k] + (size_t)i].hex;
                pr[np++] = P->request_id;
            }
        }
        ok = ok && (a1 = pg_text_array(nid, nn)) && (a2 = pg_text_array(nids, nn)) && (a3 = pg_text_array(rid, nr)) &&
             (a4 = pg_text_array(rids, nr)) && (a5 = pg_text_array(ph, np));
        char *a6 = ok ? pg_text_array(pr, np) : NULL;
        const char *p1[4] = {r->org->id, r->by, a1, a2}, *p2[2] = {a3, a4};
        ok = ok && a6 != NULL && pg_tx(r, "BEGIN") == 0;
        ok = ok && (x = pg_exec(r,
                                "INSERT INTO forget_requests (request_id, action, org, requested_by, ids, state)"
                                " SELECT t.r, 'forget', $1, $2, t.i, 'pending'"
                                " FROM unnest($3::uuid[], $4::jsonb[]) WITH ORDINALITY AS t(r, i, o) ORDER BY t.o",
                                4, p1, PGRES_COMMAND_OK, "recording the requests")) != NULL;
        PQclear(x);
        /* A resumed request keeps the ids it was recorded with (an earlier run may have deleted
         * the links that found some) and gains those found now. */
        ok = ok && (x = pg_exec(r,
                                "UPDATE forget_requests q SET ids = q.ids || (SELECT coalesce(jsonb_agg(e), '[]')"
                                " FROM jsonb_array_elements(t.i) e WHERE NOT EXISTS (SELECT 1 FROM"
                                " jsonb_array_elements(q.ids) o WHERE o->>'pseudonym' = e->>'pseudonym'))"
                                " FROM unnest($1::uuid[], $2::jsonb[]) AS t(r, i) WHERE q.request_id = t.r"
                                " RETURNING q.request_id::text, q.ids::text",
                                2, p2, PGRES_TUPLES_OK, "resuming the requests")) != NULL;
        for (int t = 0; ok && t < PQntuples(x); t++)
            for (size_t k = k0; k < k1; k++)
                if (B->p[k].state == BP_RESUME && strcmp(B->p[k].request_id, PQgetvalue(x, t, 0)) == 0) {
                    free(B->p[k].ids_text);
                    B->p[k].ids_text = strdup(PQgetvalue(x, t, 1));
                    ok = B->p[k].ids_text != NULL &&
                         batch_add_recorded(B, &B->hx_cap, k, first[k], B->p[k].ids_text) == 0;
                    break;
                }
        PQclear(x);
        x = NULL;
        ok = ok && pg_suppress_rows(r, a5, a6) == 0 && pg_tx(r, "COMMIT") == 0;
        free(nid);
        free(nids);
        free(rid);
        free(rids);
        free(ph);
        free(pr);
        free(a1);
        free(a2);
        free(a3);
        free(a4);
        free(a5);
        free(a6);
        if (!ok)
            goto out;
        recorded += nn + nr;
        if (nn + nr > 0 && (recorded % 10000 < nn + nr || recorded == todo))
            fprintf(stderr, "forget: %zu/%zu people recorded\n", recorded, todo);
        if (die != NULL && recorded >= (size_t)strtoul(die, NULL, 10))
            raise(SIGKILL);
    }
    rc = 0;
out:
    free(first);
    return rc;
}

/* Step 3c for the batch: a dedup key naming any pseudonym of the batch goes (B->hx sorted). */
static int batch_dedup(req_t *r, const redisReply *keys, void *ud)
{
    batch_t *B = ud;
    for (size_t i = 0; i < keys->elements; i++)
        redisAppendCommand(r->redis, "GET %b", keys->element[i]->str, keys->element[i]->len);
    size_t *owner = calloc(keys->elements ? keys->elements : 1, sizeof(size_t));
    if (owner == NULL)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < keys->elements; i++) {
        redisReply *x = NULL;
        if (redisGetReply(r->redis, (void **)&x) != REDIS_OK || x == NULL) {
            rc = redis_failed(r, "GET", x);
            freeReplyObject(x);
            break;
        }
        owner[i] = (size_t)-1;
        /* The value is the event's pseudonyms, space-separated. */
        for (const char *p = x->type == REDIS_REPLY_STRING ? x->str : ""; *p && owner[i] == (size_t)-1;) {
            size_t n = strcspn(p, " ");
            if (n == SLUICE_PSEUDONYM_HEX_LEN) {
                bhex_t key;
                memcpy(key.hex, p, n);
                key.hex[n] = '\0';
                const bhex_t *hit = bsearch(&key, B->hx, B->hx_count, sizeof(*B->hx), cmp_hex);
                if (hit != NULL)
                    owner[i] = hit->person;
            }
            p += n;
            p += *p == ' ';
        }
        freeReplyObject(x);
    }
    size_t sent = 0;
    for (size_t i = 0; rc == 0 && i < keys->elements; i++)
        if (owner[i] != (size_t)-1) {
            redisAppendCommand(r->redis, "DEL %b", keys->element[i]->str, keys->element[i]->len);
            sent++;
        }
    for (size_t i = 0; rc == 0 && i < keys->elements; i++) {
        if (owner[i] == (size_t)-1)
            continue;
        redisReply *x = NULL;
        if (redisGetReply(r->redis, (void **)&x) != REDIS_OK || x == NULL || x->type != REDIS_REPLY_INTEGER)
            rc = redis_failed(r, "DEL", x);
        else
            B->p[owner[i]].dedup_removed += x->integer;
        freeReplyObject(x);
    }
    (void)sent;
    free(owner);
    return rc;
}

/* 1 when hex is one of person k's pseudonyms: B->hx[0..sorted) is sorted, the rest appended. */
static int batch_has(const batch_t *B, size_t sorted, const char *hex, size_t k)
{
    bhex_t probe;
    memcpy(probe.hex, hex, sizeof(probe.hex));
    const bhex_t *hit = bsearch(&probe, B->hx, sorted, sizeof(*B->hx), cmp_hex);
    while (hit != NULL && hit > B->hx && strcmp(hit[-1].hex, hex) == 0)
        hit--;
    for (; hit != NULL && hit < B->hx + sorted && strcmp(hit->hex, hex) == 0; hit++)
        if (hit->person == k)
            return 1;
    for (size_t h = sorted; h < B->hx_count; h++)
        if (B->hx[h].person == k && strcmp(B->hx[h].hex, hex) == 0)
            return 1;
    return 0;
}

/* Records the pseudonyms B->hx[from..) found since the requests were made: each request's ids
 * and the worker's list in one transaction, then the gateway's list. */
static int batch_record_more(req_t *r, batch_t *B, size_t from)
{
    size_t n = B->hx_count - from, nr = 0;
    char **ph = calloc(n + 1, sizeof(char *)), **pr = calloc(n + 1, sizeof(char *));
    char **rid = calloc(B->n + 1, sizeof(char *)), **rids = calloc(B->n + 1, sizeof(char *));
    int ok = ph != NULL && pr != NULL && rid != NULL && rids != NULL;
    for (size_t h = from; ok && h < B->hx_count; h++) {
        bperson_t *P = &B->p[B->hx[h].person];
        ph[h - from] = B->hx[h].hex;
        pr[h - from] = P->request_id;
        if (nr == 0 || rid[nr - 1] != P->request_id) { /* a person's new pseudonyms are appended together */
            rid[nr] = P->request_id;
            rids[nr++] = P->ids_text;
        }
    }
    char *a1 = ok ? pg_text_array(rid, nr) : NULL, *a2 = ok ? pg_text_array(rids, nr) : NULL;
    char *a3 = ok ? pg_text_array(ph, n) : NULL, *a4 = ok ? pg_text_array(pr, n) : NULL;
    ok = a1 != NULL && a2 != NULL && a3 != NULL && a4 != NULL;
    const char *p1[2] = {a1, a2};
    PGresult *x = NULL;
    ok = ok && pg_tx(r, "BEGIN") == 0 &&
         (x = pg_exec(r,
                      "UPDATE forget_requests q SET ids = t.i FROM unnest($1::uuid[], $2::jsonb[]) AS t(r, i)"
                      " WHERE q.request_id = t.r",
                      2, p1, PGRES_COMMAND_OK, "recording the ids linked since")) != NULL;
    PQclear(x);
    ok = ok && pg_suppress_rows(r, a3, a4) == 0 && pg_tx(r, "COMMIT") == 0 &&
         redis_suppress(r, r->org->id, ph, n, 1) == 0;
    free(a1);
    free(a2);
    free(a3);
    free(a4);
    free(ph);
    free(pr);
    free(rid);
    free(rids);
    return ok ? 0 : -1;
}

/* Step 3a for the batch: once every gateway enforces the list (wait_gateways), the links are
 * scanned again; the ids linked to a person since the first scan, while the gateways still took
 * their events, are added to their request and suppressed, and the gateways waited for again,
 * until a scan finds nothing new. B->hx is sorted on entry and on return. */
static int batch_settle(req_t *r, batch_t *B, req_t *s)
{
    for (;;) {
        if (wait_gateways(r) != 0)
            return -1;
        links_t L;
        lindex_t X;
        size_t sorted = B->hx_count;
        int rc = batch_scan_links(r, B, s, &L, &X);
        for (size_t k = 0; rc == 0 && k < B->n; k++) {
            bperson_t *P = &B->p[k];
            if ((P->state != BP_NEW && P->state != BP_RESUME) || P->ids_text == NULL)
                continue;
            if (batch_load(B, k, s) != 0)
                rc = -1;
            if (rc != 0)
                break;
            user_link_forms(s);
            if (batch_linked(s, &X) != 0) {
                fprintf(stderr, "sluicectl forget: line %zu: too many ids linked in Redis\n", P->line);
                rc = -1;
                break;
            }
            if (s->id_count == P->names) /* nothing linked to them: their named ids are in already */
                continue;
            if (compute_pseudonyms(s) != 0) {
                fprintf(stderr, "sluicectl forget: line %zu: too many ids linked in Redis\n", P->line);
                rc = -1;
                break;
            }
            json_t *ids = json_loads(P->ids_text, 0, NULL);
            size_t before = B->hx_count;
            for (size_t i = 0; ids != NULL && rc == 0 && i < s->p_count; i++) {
                if (batch_has(B, sorted, s->ps[i].hex, k))
                    continue;
                const person_id_t *id = &s->ids[s->ps[i].id];
                json_t *o = json_pack("{s:s,s:s,s:s,s:b}", "kind", kind_names[id->kind], "pseudonym", s->ps[i].hex,
                                      "form", s->ps[i].form, "linked", 1);
                if (o == NULL || json_array_append_new(ids, o) != 0 ||
                    grow((void **)&B->hx, &B->hx_cap, B->hx_count + 1, sizeof(*B->hx)) != 0) {
                    rc = -1;
                    break;
                }
                memcpy(B->hx[B->hx_count].hex, s->ps[i].hex, sizeof(B->hx[0].hex));
                B->hx[B->hx_count++].person = k;
                P->p_count++;
                if (strcmp(s->ps[i].form, "raw") == 0) { /* a new id: its link and claim go too */
                    P->id_count++;
                    P->linked++;
                    if (batch_add_keys(r, B, &B->key_cap, k, id) != 0)
                        rc = -1;
                }
            }
            if (rc == 0 && B->hx_count > before) {
                char *text = json_dumps(ids, JSON_COMPACT);
                if (text == NULL)
                    rc = -1;
                else {
                    free(P->ids_text);
                    P->ids_text = text;
                }
            }
            json_decref(ids);
        }
        batch_links_free(&L, &X);
        if (rc != 0)
            return -1;
        if (B->hx_count == sorted)
            return 0;
        fprintf(stderr, "forget: %zu ids linked since the first scan: suppressing them\n", B->hx_count - sorted);
        rc = batch_record_more(r, B, sorted);
        qsort(B->hx, B->hx_count, sizeof(*B->hx), cmp_hex);
        if (rc != 0)
            return -1;
    }
}

/* Step 3 for the batch: the gateway's list changed once (one generation), the links and claims
 * deleted (pipelined), one SCAN of the dedup keys. */
static int batch_redis(req_t *r, batch_t *B, req_t *s)
{
    char set_key[192], gen_key[192];
    sluice_forget_key(set_key, sizeof(set_key), r->cfg->redis.key_prefix, SLUICE_FORGET_KEY_SUPPRESS, NULL, NULL);
    sluice_forget_key(gen_key, sizeof(gen_key), r->cfg->redis.key_prefix, SLUICE_FORGET_KEY_SUPPRESS_GEN, NULL, NULL);
    int missing = rewrite_if_lost(r, gen_key);
    if (missing < 0)
        return -1;
    if (!missing) {
        enum { PER = 1000 };
        size_t sent = 0;
        const char **argv = calloc(PER + 2, sizeof(char *));
        char(*members)[200] = calloc(PER, sizeof(*members));
        if (argv == NULL || members == NULL) {
            free(argv);
            free(members);
            return -1;
        }
        redisAppendCommand(r->redis, "MULTI");
        sent++;
        for (size_t h0 = 0; h0 < B->hx_count; h0 += PER) {
            size_t n = 0;
            argv[0] = "SADD";
            argv[1] = set_key;
            for (size_t h = h0; h < B->hx_count && n < PER; h++, n++) {
                snprintf(members[n], sizeof(members[n]), "%s:%s", r->org->id, B->hx[h].hex);
                argv[n + 2] = members[n];
            }
            redisAppendCommandArgv(r->redis, (int)n + 2, argv, NULL);
            sent++;
        }
        redisAppendCommand(r->redis, "INCR %s", gen_key);
        redisAppendCommand(r->redis, "EXEC");
        sent += 2;
        free(argv);
        free(members);
        int rc = 0;
        for (size_t i = 0; i < sent; i++) {
            redisReply *x = NULL;
            if (redisGetReply(r->redis, (void **)&x) != REDIS_OK || x == NULL) {
                freeReplyObject(x);
                return redis_failed(r, "SADD", NULL);
            }
            if (x->type == REDIS_REPLY_ERROR || (i == sent - 1 && x->type != REDIS_REPLY_ARRAY))
                rc = redis_failed(r, "MULTI/EXEC", x);
            freeReplyObject(x);
        }
        if (rc != 0)
            return -1;
    }
    if (batch_settle(r, B, s) != 0)
        return -1;
    fprintf(stderr, "forget: %zu pseudonyms on the gateway's list; deleting identity links\n", B->hx_count);
    for (size_t k0 = 0; k0 < B->key_count; k0 += 1000) {
        size_t k1 = k0 + 1000 < B->key_count ? k0 + 1000 : B->key_count;
        for (size_t k = k0; k < k1; k++)
            redisAppendCommand(r->redis, "DEL %s", B->keys[k]);
        int rc = 0;
        for (size_t k = k0; k < k1; k++) {
            redisReply *x = NULL;
            if (redisGetReply(r->redis, (void **)&x) != REDIS_OK || x == NULL || x->type != REDIS_REPLY_INTEGER) {
                rc = redis_failed(r, "DEL", x);
                freeReplyObject(x);
                if (x == NULL)
                    return -1;
                continue;
            }
            if (B->key_person[k] < B->n)
                B->p[B->key_person[k]].links_removed += x->integer;
            freeReplyObject(x);
        }
        if (rc != 0)
            return -1;
    }
    fprintf(stderr, "forget: scanning the dedup keys of org %s\n", r->org->id);
    char dedup_pattern[256];
    sluice_forget_key(dedup_pattern, sizeof(dedup_pattern), r->cfg->redis.key_prefix, SLUICE_FORGET_KEY_DEDUP,
                      r->org->id, "*");
    return scan(r, dedup_pattern, batch_dedup, B);
}

static void on_batch_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    bperson_t *P = m->_private;
    P->dr_done = 1;
    P->published = m->err == RD_KAFKA_RESP_ERR_NO_ERROR;
    if (!P->published)
        snprintf(P->why, sizeof(P->why), "kafka: %s", rd_kafka_err2str(m->err));
}

/* Step 4 for the batch: one producer, a record per request, one flush. */
static int batch_publish(req_t *r, batch_t *B, char *why, size_t why_len)
{
    rd_kafka_t *rk = dsr_producer(r, "20", on_batch_delivery, why, why_len);
    if (rk == NULL)
        return -1;
    size_t sent = 0;
    for (size_t k = 0; k < B->n; k++) {
        bperson_t *P = &B->p[k];
        if ((P->state != BP_NEW && P->state != BP_RESUME) || P->published_before)
            continue;
        json_t *ids = json_loads(P->ids_text, 0, NULL);
        json_t *rec = ids != NULL ? dsr_record(r, "forget", P->request_id, NULL, ids) : NULL;
        char *payload = rec != NULL ? json_dumps(rec, JSON_COMPACT) : NULL;
        json_decref(rec);
        json_decref(ids);
        char key[128];
        snprintf(key, sizeof(key), "%s:%s", r->org->id, P->request_id);
        rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR__NOENT;
        int made = payload != NULL;
        while (payload != NULL) {
            rd_kafka_headers_t *h = rd_kafka_headers_new(2);
            rd_kafka_header_add(h, "org", -1, r->org->id, -1);
            rd_kafka_header_add(h, "type", -1, "forget", -1);
            e = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(r->cfg->kafka.dsr_topic),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE), RD_KAFKA_V_KEY(key, strlen(key)),
                                  RD_KAFKA_V_VALUE(payload, strlen(payload)), RD_KAFKA_V_HEADERS(h),
                                  RD_KAFKA_V_OPAQUE(P), RD_KAFKA_V_END);
            if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
                break;
            rd_kafka_headers_destroy(h);
            if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                free(payload); /* not taken on failure */
                break;
            }
            rd_kafka_poll(rk, 100); /* the local queue is full: let deliveries drain it */
        }
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
            snprintf(P->why, sizeof(P->why), "kafka: %s", made ? rd_kafka_err2str(e) : "out of memory");
        else if (++sent % 10000 == 0)
            fprintf(stderr, "forget: %zu deletion records sent\n", sent);
        rd_kafka_poll(rk, 0);
    }
    rd_kafka_flush(rk, KAFKA_WAIT_MS + (int)(sent / 10));
    rd_kafka_poll(rk, 0);
    rd_kafka_destroy(rk);
    return 0;
}

/* Step 5 for the batch, BATCH_CHUNK requests a statement. Not final: what the run did so far
 * (links and dedup keys deleted, records acknowledged), the requests still pending, so that a
 * run killed after Redis or Kafka leaves them for the rerun: its own Redis step finds nothing
 * left to delete (the audit said 0 links and 0 dedup keys), and its records went out twice. */
static int batch_finish(req_t *r, batch_t *B, const char *why, int final)
{
    for (size_t k0 = 0; k0 < B->n; k0 += BATCH_CHUNK) {
        size_t k1 = k0 + BATCH_CHUNK < B->n ? k0 + BATCH_CHUNK : B->n, m = 0;
        char **col[7];
        for (int c = 0; c < 7; c++)
            col[c] = calloc(k1 - k0 + 1, sizeof(char *));
        char(*num)[3][24] = calloc(k1 - k0 + 1, sizeof(*num));
        int ok = num != NULL;
        for (int c = 0; c < 7; c++)
            ok = ok && col[c] != NULL;
        for (size_t k = k0; ok && k < k1; k++) {
            bperson_t *P = &B->p[k];
            if (P->state != BP_NEW && P->state != BP_RESUME)
                continue;
            /* So far, only what a rerun could not learn again: most people of a backlog have no
             * link or dedup key left, and a pass over every row costs as much as the final one. */
            if (!final && P->links_removed == 0 && P->dedup_removed == 0 && !P->published)
                continue;
            if (final && P->why[0] == '\0' && why[0] != '\0')
                snprintf(P->why, sizeof(P->why), "%s", why);
            if (final && P->why[0] == '\0' && !P->dr_done)
                snprintf(P->why, sizeof(P->why), "kafka: %s did not acknowledge the record", r->cfg->kafka.dsr_topic);
            snprintf(num[m][0], 24, "%lld", P->links_removed);
            snprintf(num[m][1], 24, "%lld", P->dedup_removed);
            snprintf(num[m][2], 24, "%lld", P->p_count);
            col[0][m] = P->request_id;
            col[1][m] = !final ? "pending" : P->why[0] != '\0' ? "failed" : "done";
            col[2][m] = final ? P->why : "";
            col[3][m] = num[m][0];
            col[4][m] = num[m][1];
            col[5][m] = num[m][2];
            col[6][m] = P->published ? "true" : "false";
            m++;
        }
        char *arr[7] = {0};
        for (int c = 0; ok && c < 7; c++)
            ok = (arr[c] = pg_text_array(col[c], m)) != NULL;
        PGresult *x = NULL;
        const char *p[7] = {arr[0], arr[1], arr[2], arr[3], arr[4], arr[5], arr[6]};
        ok =
            ok && (m == 0 ||
                   (x = pg_exec(r,
                                "UPDATE forget_requests q SET state = t.s, detail = t.d, links_removed = t.l,"
                                " dedup_keys_removed = t.k, suppressed = t.c, dsr_published = t.p, completed_at ="
                                " CASE WHEN t.s = 'pending' THEN NULL ELSE now() END FROM unnest($1::uuid[],"
                                " $2::text[], $3::text[],"
                                " $4::integer[], $5::integer[], $6::integer[], $7::boolean[]) AS t(r, s, d, l, k, c, p)"
                                " WHERE q.request_id = t.r",
                                7, p, PGRES_COMMAND_OK, "recording the requests' outcome")) != NULL);
        PQclear(x);
        for (int c = 0; c < 7; c++) {
            free(col[c]);
            free(arr[c]);
        }
        free(num);
        if (!ok)
            return -1;
    }
    return 0;
}

/* What an earlier run of a resumed request did before it was killed (batch_finish, not final):
 * its counts are the base this run adds to, and a record it had acknowledged is not sent again
 * (the same key and request id twice in kafka.dsr_topic). */
static int batch_resumed(req_t *r, batch_t *B)
{
    char **ids = calloc(B->n + 1, sizeof(char *));
    size_t n = 0;
    for (size_t k = 0; ids != NULL && k < B->n; k++)
        if (B->p[k].state == BP_RESUME)
            ids[n++] = B->p[k].request_id;
    int oom = ids == NULL;
    char *array = !oom && n > 0 ? pg_text_array(ids, n) : NULL;
    free(ids);
    if (n == 0)
        return oom ? -1 : 0;
    const char *p[1] = {array};
    PGresult *x = array == NULL ? NULL
                                : pg_exec(r,
                                          "SELECT request_id::text, coalesce(links_removed, 0),"
                                          " coalesce(dedup_keys_removed, 0), coalesce(dsr_published, false)"
                                          " FROM forget_requests WHERE request_id = ANY($1::uuid[])",
                                          1, p, PGRES_TUPLES_OK, "reading the requests to resume");
    free(array);
    if (x == NULL)
        return -1;
    for (int t = 0; t < PQntuples(x); t++)
        for (size_t k = 0; k < B->n; k++) {
            bperson_t *P = &B->p[k];
            if (P->state != BP_RESUME || strcmp(P->request_id, PQgetvalue(x, t, 0)) != 0)
                continue;
            P->links_removed = strtoll(PQgetvalue(x, t, 1), NULL, 10);
            P->dedup_removed = strtoll(PQgetvalue(x, t, 2), NULL, 10);
            P->published_before = P->published = P->dr_done = PQgetvalue(x, t, 3)[0] == 't';
        }
    PQclear(x);
    return 0;
}

/* Holds, for this connection's life, a PostgreSQL advisory lock named by the org and the file's
 * people: a second run of the same file while one runs is refused. Two runs at once each made a
 * request of every person (neither saw the other's, still uncommitted or pending). 0 when taken,
 * 1 when another run holds it, -1 on an error. */
static int batch_lock(req_t *r)
{
    /* One lock per org, not per file's content: keyed by the people in file order, the same file
     * sorted otherwise, or with one line more, took another lock and both runs made a request of
     * every person (review of 717912d). */
    char text[160];
    size_t used = (size_t)snprintf(text, sizeof(text), "sluice/forget-batch/%s", r->org->id);
    if (used >= sizeof(text))
        used = sizeof(text) - 1;
    uint8_t digest[SLUICE_SHA256_LEN];
    int hashed = sluice_sha256(text, used, digest);
    if (hashed != 0)
        return -1;
    long long key = 0;
    for (int i = 0; i < 8; i++)
        key = (long long)(((unsigned long long)key << 8) | digest[i]);
    char key_text[24];
    snprintf(key_text, sizeof(key_text), "%lld", key);
    const char *p[1] = {key_text};
    PGresult *x = pg_exec(r, "SELECT pg_try_advisory_lock($1::bigint)", 1, p, PGRES_TUPLES_OK, "locking the file");
    if (x == NULL)
        return -1;
    int taken = PQgetvalue(x, 0, 0)[0] == 't';
    PQclear(x);
    if (!taken)
        fprintf(stderr,
                "sluicectl forget: another run of this file for org %s is in progress (or of another --file for "
                "it): run one file at a time (wait for it to end; run the file again then if it did not complete)\n",
                r->org->id);
    return taken ? 0 : 1;
}

/* Test hook (SLUICE_FORGET_BATCH_DIE_AFTER, docs/privacy.md "A batch"): the run killed at a
 * stage, as a crash or an operator's kill -9 would. */
static void batch_die_at(const char *stage)
{
    const char *die = getenv("SLUICE_FORGET_BATCH_DIE_AFTER");
    if (die != NULL && strcmp(die, stage) == 0)
        raise(SIGKILL);
}

static void batch_free(batch_t *B)
{
    for (size_t i = 0; i < B->name_count; i++) {
        sluice_secure_zero(B->names[i].value, strlen(B->names[i].value));
        free(B->names[i].value);
    }
    for (size_t i = 0; i < B->key_count; i++) {
        sluice_secure_zero(B->keys[i], strlen(B->keys[i]));
        free(B->keys[i]);
    }
    for (size_t k = 0; k < B->n; k++)
        free(B->p[k].ids_text);
    free(B->names);
    free(B->keys);
    free(B->key_person);
    free(B->hx);
    free(B->p);
}

static int forget_batch(req_t *r, const char *file)
{
    FILE *in = strcmp(file, "-") == 0 ? stdin : fopen(file, "r");
    if (in == NULL) {
        fprintf(stderr, "sluicectl forget: cannot open %s\n", file);
        return 1;
    }
    batch_t B;
    memset(&B, 0, sizeof(B));
    req_t *s = calloc(1, sizeof(*s)); /* one person at a time, reusing the single request's code */
    int rc = 1, has_redis = r->cfg->redis.url != NULL && r->cfg->redis.host != NULL;
    int got = s != NULL ? batch_read(&B, in) : -1;
    if (in != stdin)
        fclose(in);
    if (got != 0)
        goto out;
    s->cfg = r->cfg;
    s->org = r->org;
    memcpy(s->key, r->key, sizeof(s->key));
    int locked = batch_lock(r);
    if (locked != 0)
        goto out;
    fprintf(stderr, "forget: %zu people read, %zu lines refused\n", B.n, B.refused);
    if (!has_redis)
        fprintf(stderr, "warning: no redis.url: nothing to delete there, and the gateway cannot suppress (the "
                        "worker still skips)\n");
    if (batch_known(r, &B, s) != 0 || (has_redis && redis_connect(r) != 0) || batch_prepare(r, &B, s, has_redis) != 0)
        goto out;
    if (batch_record(r, &B) != 0 || batch_resumed(r, &B) != 0)
        goto out;
    size_t todo = 0;
    for (size_t k = 0; k < B.n; k++)
        todo += B.p[k].state == BP_NEW || B.p[k].state == BP_RESUME;
    char why[512] = "";
    qsort(B.hx, B.hx_count, sizeof(*B.hx), cmp_hex);
    if (todo > 0 && has_redis && batch_redis(r, &B, s) != 0)
        snprintf(why, sizeof(why), "Redis failed (see above)");
    if (todo > 0 && why[0] == '\0' && batch_finish(r, &B, why, 0) != 0)
        goto out;
    batch_die_at("redis");
    if (todo > 0 && why[0] == '\0' && batch_publish(r, &B, why, sizeof(why)) != 0 && why[0] == '\0')
        snprintf(why, sizeof(why), "kafka failed");
    if (todo > 0 && why[0] == '\0' && batch_finish(r, &B, why, 0) != 0)
        goto out;
    batch_die_at("kafka");
    if (batch_finish(r, &B, why, 1) != 0)
        goto out;
    size_t done = 0, failed = 0, already = 0, resumed = 0, undone = 0;
    for (size_t k = 0; k < B.n; k++) {
        const bperson_t *P = &B.p[k];
        if (P->state == BP_ALREADY) {
            printf("line %zu: forgotten already\n", P->line);
            already++;
        } else if (P->state == BP_REFUSED) {
            continue;
        } else if (P->state == BP_UNDONE) {
            printf("line %zu: request %s forgot them and was undone: left alone (forget them again with --user-id or "
                   "--anonymous-id)\n",
                   P->line, P->request_id);
            undone++;
        } else if (P->state == BP_REPEATED) {
            /* What happened to the line it repeats: "forgotten with that one" after a line that was
             * refused, undone or failed told the DPO a person was forgotten who was not. */
            const bperson_t *O = P;
            while (O->state == BP_REPEATED && O->dup_of != (size_t)(O - B.p))
                O = &B.p[O->dup_of];
            if (O->state == BP_REFUSED)
                printf("line %zu: its ids are on a line before (line %zu), which was refused: nothing done for "
                       "them\n",
                       P->line, O->line);
            else if (O->state == BP_UNDONE)
                printf("line %zu: its ids are on a line before (line %zu): request %s forgot them and was undone: "
                       "left alone\n",
                       P->line, O->line, O->request_id);
            else if (O->state == BP_ALREADY)
                printf("line %zu: forgotten already\n", P->line);
            else if (O->why[0] != '\0')
                printf("line %zu: its ids are on a line before (line %zu), whose request %s failed\n", P->line, O->line,
                       O->request_id);
            else
                printf("line %zu: its ids are on a line before (line %zu): forgotten with that one\n", P->line,
                       O->line);
            already += O->state != BP_REFUSED && O->state != BP_UNDONE && O->why[0] == '\0';
        } else if (P->why[0] != '\0') {
            printf("line %zu: request %s failed: %s\n", P->line, P->request_id, P->why);
            failed++;
        } else {
            printf("line %zu: request %s%s: %zu ids (%zu linked in Redis), %lld pseudonyms suppressed, %lld identity "
                   "links and %lld dedup keys deleted\n",
                   P->line, P->request_id, P->state == BP_RESUME ? " (resumed)" : "", P->id_count, P->linked,
                   P->p_count, P->links_removed, P->dedup_removed);
            done++;
            resumed += P->state == BP_RESUME;
        }
    }
    fprintf(stderr,
            "forget: org %s: %zu people forgotten (%zu of them resumed), %zu forgotten already, %zu undone and left "
            "alone, %zu failed, %zu lines refused; deletion records in %s\n",
            r->org->id, done, resumed, already, undone, failed, B.refused, r->cfg->kafka.dsr_topic);
    if (failed > 0 || B.refused > 0)
        fprintf(stderr, "sluicectl forget: not complete: %s run the same file again (people done are skipped)\n",
                B.refused > 0 ? "fix the refused lines and" : "");
    rc = failed > 0 || B.refused > 0 ? 1 : 0;
out:
    if (s != NULL) {
        for (size_t i = 0; i < s->id_count; i++) {
            sluice_secure_zero(s->ids[i].value, strlen(s->ids[i].value));
            free(s->ids[i].value);
        }
        free(s->ps);
    }
    free(s);
    batch_free(&B);
    return rc;
}

/* ------------------------------------------------------------------ main */

int sluicectl_cmd_forget(int argc, char **argv)
{
    const char *config = NULL, *org = NULL, *by = NULL, *undo_id = NULL, *file = NULL;
    int do_list = 0, do_sync = 0, rc = 2;
    req_t r;
    memset(&r, 0, sizeof(r));
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(a, "--list") == 0) {
            do_list = 1;
            continue;
        }
        if (strcmp(a, "--sync") == 0) {
            do_sync = 1;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "sluicectl forget: unknown or incomplete option '%s'\n", a);
            goto usage_out;
        }
        const char *v = argv[++i];
        if (strcmp(a, "--config") == 0)
            config = v;
        else if (strcmp(a, "--org") == 0)
            org = v;
        else if (strcmp(a, "--by") == 0)
            by = v;
        else if (strcmp(a, "--undo") == 0)
            undo_id = v;
        else if (strcmp(a, "--file") == 0)
            file = v;
        else if (strcmp(a, "--user-id") == 0 || strcmp(a, "--anonymous-id") == 0) {
            if (v[0] == '\0' || r.id_count == MAX_IDS) {
                fprintf(stderr, "sluicectl forget: %s: %s\n", a, v[0] ? "too many ids in one request" : "empty id");
                goto usage_out;
            }
            if (add_id(&r, v, a[2] == 'u' ? KIND_USER : KIND_ANON, 0) != 0)
                goto usage_out;
            /* The raw id leaves the command line others can read (ps, /proc). */
            sluice_secure_zero(argv[i], strlen(argv[i]));
        } else {
            fprintf(stderr, "sluicectl forget: unknown option '%s'\n", a);
            goto usage_out;
        }
    }
    int modes = (r.id_count > 0) + (file != NULL) + (undo_id != NULL) + do_list + do_sync;
    if (config == NULL || modes != 1 || ((r.id_count > 0 || file != NULL) && org == NULL) ||
        (undo_id != NULL && org != NULL)) {
        fprintf(stderr,
                "sluicectl forget: give --config and one of: --org with ids, --org with --file, --undo ID, --list, "
                "--sync\n");
        goto usage_out;
    }

    rc = 1;
    sluice_config_diag_t diag;
    sluice_config_diag_init(&diag);
    sluice_config_t *cfg = sluice_config_load(config, 0, &diag);
    for (size_t i = 0; i < diag.count; i++)
        fprintf(stderr, "%s\n", diag.msgs[i]);
    sluice_config_diag_dispose(&diag);
    if (cfg == NULL)
        goto out;
    r.cfg = cfg;
    actor(by, r.by, sizeof(r.by));
    if (cfg->database.url == NULL) {
        fprintf(stderr, "sluicectl forget: no database: set database.url in %s (or SLUICE_DATABASE_URL)\n", config);
        goto out;
    }
    if ((r.id_count > 0 || file != NULL || undo_id != NULL) && cfg->forget.key_env != NULL && cfg->forget.key == NULL) {
        fprintf(stderr,
                "sluicectl forget: forget.key_env names %s, which is not set: the pseudonyms would not be "
                "the gateway's\n",
                cfg->forget.key_env);
        goto out;
    }
    if (org != NULL && (r.org = sluice_config_find_org(cfg, org)) == NULL && (r.id_count > 0 || file != NULL)) {
        fprintf(stderr, "sluicectl forget: org '%s' is not in %s\n", org, config);
        goto out;
    }
    if (org != NULL && r.org == NULL && do_list) /* a typo, or an org since removed: its audit all the same */
        fprintf(stderr, "warning: org '%s' is not in %s; listing its requests all the same\n", org, config);
    if (pg_connect(&r) != 0)
        goto out;
    if (r.id_count > 0) {
        if (sluice_pseudonym_org_key(cfg->forget.key, cfg->forget.key_len, r.org->id, r.key) != 0)
            goto out;
        rc = forget(&r);
    } else if (file != NULL) {
        if (sluice_pseudonym_org_key(cfg->forget.key, cfg->forget.key_len, r.org->id, r.key) != 0)
            goto out;
        rc = forget_batch(&r, file);
    } else if (undo_id != NULL) {
        rc = undo(&r, undo_id);
    } else if (do_list) {
        rc = list(&r, org);
    } else {
        rc = sync_redis(&r);
    }
out:
    sluice_secure_zero(r.key, sizeof(r.key));
    if (r.redis != NULL)
        redisFree(r.redis);
    PQfinish(r.pg);
    free(r.ps);
    sluice_config_free(cfg);
usage_out:
    for (size_t i = 0; i < r.id_count; i++) {
        sluice_secure_zero(r.ids[i].value, strlen(r.ids[i].value));
        free(r.ids[i].value);
    }
    if (rc == 2)
        usage(stderr);
    return rc;
}
