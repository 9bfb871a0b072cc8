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
 * command again completes it (every step is idempotent). `--undo` lifts a request's suppression
 * (deleted links stay deleted), `--list` shows the requests, `--sync` rewrites the gateway's
 * list in Redis from PostgreSQL (after Redis lost its data).
 *
 * Raw ids exist only in this process's memory (and on its command line, which is blanked once
 * read); everything stored or published is a pseudonym (crypto/pseudonym.h). Main thread.
 */
#include <ctype.h>
#include <pwd.h>
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
    fprintf(out,
            "usage: sluicectl forget --config FILE --org O (--user-id U | --anonymous-id A)... [--by NAME]\n"
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
} links_t;

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
        for (size_t k = 0; u->type == REDIS_REPLY_STRING && k < r->id_count; k++)
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
    links_t L = {NULL, 0, strlen(pattern) - 1};
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
    int missing = gen_missing(r, gen_key);
    if (missing < 0)
        return -1;
    if (missing) {
        size_t count = 0;
        if (rewrite_list(r, &count) != 0)
            return -1;
        fprintf(stderr, "the suppression list was missing from Redis: rewrote it from PostgreSQL (%zu pseudonyms)\n",
                count);
        return 0;
    }
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

/* Produces record to kafka.dsr_topic and waits for the broker's acknowledgement. */
static int publish(const req_t *r, const char *key, const char *type, json_t *record, char *why, size_t why_len)
{
    sluice_err_t err = {{0}};
    const char *const defaults[] = {"linger.ms", "0", NULL};
    rd_kafka_conf_t *conf =
        sluice_dlq_kafka_conf(&r->cfg->kafka, "sluicectl-forget", RD_KAFKA_PRODUCER, defaults, &err);
    if (conf == NULL || sluice_dlq_conf_set(conf, "enable.idempotence", "true", &err) != 0 ||
        sluice_dlq_conf_set(conf, "acks", "all", &err) != 0) {
        if (conf != NULL)
            rd_kafka_conf_destroy(conf);
        snprintf(why, why_len, "%s", err.msg);
        return -1;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    char errstr[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (rk == NULL) {
        rd_kafka_conf_destroy(conf);
        snprintf(why, why_len, "kafka producer: %.400s", errstr);
        return -1;
    }
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
    if (has_redis && (redis_suppress(r, r->org->id, hexes, r->p_count, 1) != 0 || delete_links(r) != 0 ||
                      scan(r, dedup_pattern, delete_dedup, NULL) != 0))
        snprintf(why, sizeof(why), "Redis failed (see above)");

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
    size_t sent = 0, n = (size_t)PQntuples(x);
    redisAppendCommand(r->redis, "MULTI");
    redisAppendCommand(r->redis, "DEL %s", set_key);
    sent += 2;
    for (size_t i = 0; i < n; i++, sent++)
        redisAppendCommand(r->redis, "SADD %s %s", set_key, PQgetvalue(x, (int)i, 0));
    if (missing)
        redisAppendCommand(r->redis, "INCRBY %s %lld", gen_key, (long long)sluice_now_ms());
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

/* ------------------------------------------------------------------ main */

int sluicectl_cmd_forget(int argc, char **argv)
{
    const char *config = NULL, *org = NULL, *by = NULL, *undo_id = NULL;
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
    int modes = (r.id_count > 0) + (undo_id != NULL) + do_list + do_sync;
    if (config == NULL || modes != 1 || (r.id_count > 0 && org == NULL) || (undo_id != NULL && org != NULL)) {
        fprintf(stderr, "sluicectl forget: give --config and one of: --org with ids, --undo ID, --list, --sync\n");
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
    if ((r.id_count > 0 || undo_id != NULL) && cfg->forget.key_env != NULL && cfg->forget.key == NULL) {
        fprintf(stderr,
                "sluicectl forget: forget.key_env names %s, which is not set: the pseudonyms would not be "
                "the gateway's\n",
                cfg->forget.key_env);
        goto out;
    }
    if (org != NULL && (r.org = sluice_config_find_org(cfg, org)) == NULL && r.id_count > 0) {
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
