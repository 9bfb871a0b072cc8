/*
 * `sluicectl privacy inbox`: what the gateway's PII guard found in fields no rule names, for an
 * operator to turn into rules. The gateways' worker threads add their findings to a Redis hash
 * per org (gateway/piiguard.h: "<redis.key_prefix>pii:<org>", fields "<path>\t<matcher>\t<what>"); this
 * reads it, one line per (path, matcher) with its event count, first and last seen, and the rule
 * that would cover it. --dismiss PATH forgets a path's entries (the guard records it again if it
 * is seen again). Main thread; a blocking Redis connection with a timeout.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>
#include <jansson.h>

#include "common/time.h"
#include "config/config.h"
#include "config/path.h"
#include "gateway/piiguard.h"
#include "identity/redis_sync.h"
#include "tools/commands.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: sluicectl privacy inbox --config FILE --org O [--format text|json]\n"
                 "       sluicectl privacy inbox --config FILE --org O --dismiss PATH\n"
                 "\n"
                 "Lists what the PII guard (data_layer.pii_guard) found in fields no rule names: the path (array\n"
                 "indices as [*]), the matcher (email, phone, card, iban, a national id, or key:<class> when the\n"
                 "key's name said it), how many events had it, when it was first and last seen, and the rule\n"
                 "that would cover it. Values are never stored, only paths. Read from the config's Redis, where\n"
                 "the gateways flush their findings every 2 seconds; entries expire 30 days after the last one.\n"
                 "--dismiss PATH removes a path's entries (found again, it comes back).\n");
}

typedef struct entry {
    char *path;
    char *matcher;
    long long count, first, last;
    int partial;
} entry_t;

typedef struct inbox {
    entry_t *items;
    size_t count, cap;
} inbox_t;

static entry_t *entry_for(inbox_t *in, const char *path, size_t plen, const char *matcher, size_t mlen)
{
    for (size_t i = 0; i < in->count; i++) {
        entry_t *e = &in->items[i];
        if (strlen(e->path) == plen && memcmp(e->path, path, plen) == 0 && strlen(e->matcher) == mlen &&
            memcmp(e->matcher, matcher, mlen) == 0)
            return e;
    }
    if (in->count == in->cap) {
        size_t cap = in->cap ? 2 * in->cap : 16;
        entry_t *items = realloc(in->items, cap * sizeof(*items));
        if (items == NULL)
            return NULL;
        in->items = items;
        in->cap = cap;
    }
    entry_t *e = &in->items[in->count];
    memset(e, 0, sizeof(*e));
    e->path = strndup(path, plen);
    e->matcher = strndup(matcher, mlen);
    if (e->path == NULL || e->matcher == NULL) {
        free(e->path);
        free(e->matcher);
        return NULL;
    }
    in->count++;
    return e;
}

static int by_count(const void *x, const void *y)
{
    const entry_t *a = x, *b = y;
    if (a->count != b->count)
        return a->count < b->count ? 1 : -1;
    int c = strcmp(a->path, b->path);
    return c != 0 ? c : strcmp(a->matcher, b->matcher);
}

static const char *const id_fields[] = {"userId", "anonymousId", "previousId", "groupId", "messageId"};

/* The data-layer rule that would cover the finding, as a line of YAML (or advice when no rule can
 * name the path). Writes into out. */
static void suggest(const entry_t *e, char *out, size_t cap)
{
    sluice_path_t p;
    char err[128];
    if (strchr(e->path, '<') != NULL) {
        snprintf(out, cap, "no rule can name it: a member's key holds personal data; fix what the site sends");
        return;
    }
    if (sluice_path_parse(e->path, &p, err, sizeof(err)) != 0) {
        snprintf(out, cap, "no rule can name it (%s); add it to pii_guard.except or fix what the site sends", err);
        return;
    }
    sluice_path_dispose(&p);
    const char *m = e->matcher;
    int key = strncmp(m, "key:", 4) == 0;
    const char *kind = key ? m + 4 : m;
    for (size_t i = 0; i < sizeof(id_fields) / sizeof(id_fields[0]); i++) {
        if (strcmp(e->path, id_fields[i]) == 0) {
            snprintf(out, cap,
                     "hash_fields: [{path: %s, normalize: external_id}] (or send an opaque id: the guard already "
                     "hashes an e-mail %s)",
                     e->path, e->path);
            return;
        }
    }
    if (e->partial && !key) {
        snprintf(out, cap, "mask: [{path: %s, plugin: redact_text%s}]", e->path,
                 strcmp(kind, "us_ssn") == 0 || strcmp(kind, "uk_nino") == 0 || strcmp(kind, "fr_nir") == 0 ||
                         strcmp(kind, "es_dni") == 0
                     ? ", params: {kinds: [email, card, phone, iban, us_ssn, uk_nino, fr_nir, es_dni]}"
                     : "");
        return;
    }
    static const struct {
        const char *kind, *norm;
    } hashable[] = {{"email", "email"},
                    {"phone", "phone, default_country_code: \"1\""},
                    {"name", "name"},
                    {"postal_code", "zip"},
                    {"birthdate", "date"}};
    for (size_t i = 0; i < sizeof(hashable) / sizeof(hashable[0]); i++) {
        if (strcmp(kind, hashable[i].kind) == 0) {
            snprintf(out, cap, "hash_fields: [{path: %s, normalize: %s}]", e->path, hashable[i].norm);
            return;
        }
    }
    snprintf(out, cap, "drop: [%s]", e->path);
}

static redisContext *connect_redis(const sluice_config_t *cfg)
{
    if (cfg->redis.url == NULL) {
        fprintf(stderr, "sluicectl privacy inbox: the config names no Redis (redis.url): the gateway keeps its "
                        "findings only in /metrics (sluice_pii_detected_total)\n");
        return NULL;
    }
    sluice_err_t err = {{0}};
    redisContext *c = sluice_redis_sync_connect(&cfg->redis, sluice_redis_sync_password(&cfg->redis), 2000, &err);
    if (c == NULL)
        fprintf(stderr, "sluicectl privacy inbox: %s\n", err.msg);
    return c;
}

static const char *prefix_of(const sluice_config_t *cfg)
{
    return cfg->redis.key_prefix != NULL ? cfg->redis.key_prefix : "sluice:";
}

static int read_inbox(redisContext *c, const char *prefix, const char *org, inbox_t *in)
{
    redisReply *r = redisCommand(c, "HGETALL %s" SLUICE_PIIGUARD_REDIS_KEY "%s", prefix, org);
    if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
        fprintf(stderr, "sluicectl privacy inbox: HGETALL failed: %s\n",
                r != NULL && r->type == REDIS_REPLY_ERROR ? r->str : c->errstr);
        freeReplyObject(r);
        return -1;
    }
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const redisReply *f = r->element[i], *v = r->element[i + 1];
        if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
            continue;
        const char *t1 = memchr(f->str, '\t', f->len);
        const char *t2 = t1 ? memchr(t1 + 1, '\t', f->len - (size_t)(t1 + 1 - f->str)) : NULL;
        if (t2 == NULL)
            continue;
        entry_t *e = entry_for(in, f->str, (size_t)(t1 - f->str), t1 + 1, (size_t)(t2 - t1 - 1));
        if (e == NULL) {
            freeReplyObject(r);
            fprintf(stderr, "sluicectl privacy inbox: out of memory\n");
            return -1;
        }
        const char *what = t2 + 1;
        long long n = strtoll(v->str, NULL, 10);
        if (strcmp(what, "count") == 0)
            e->count = n;
        else if (strcmp(what, "first") == 0)
            e->first = n;
        else if (strcmp(what, "last") == 0)
            e->last = n;
        else if (strcmp(what, "partial") == 0)
            e->partial = n != 0;
    }
    freeReplyObject(r);
    if (in->count > 1)
        qsort(in->items, in->count, sizeof(*in->items), by_count);
    return 0;
}

static int dismiss(redisContext *c, const char *prefix, const char *org, const char *path, const inbox_t *in)
{
    size_t removed = 0;
    static const char *const what[] = {"count", "first", "last", "partial"};
    for (size_t i = 0; i < in->count; i++) {
        if (strcmp(in->items[i].path, path) != 0)
            continue;
        for (size_t k = 0; k < 4; k++) {
            redisReply *r = redisCommand(c, "HDEL %s" SLUICE_PIIGUARD_REDIS_KEY "%s %s\t%s\t%s", prefix, org, path,
                                         in->items[i].matcher, what[k]);
            if (r == NULL || r->type == REDIS_REPLY_ERROR) {
                fprintf(stderr, "sluicectl privacy inbox: HDEL failed\n");
                freeReplyObject(r);
                return 1;
            }
            freeReplyObject(r);
        }
        removed++;
    }
    if (removed == 0) {
        fprintf(stderr, "sluicectl privacy inbox: %s is not in the inbox of %s\n", path, org);
        return 1;
    }
    printf("dismissed %s (%zu matcher%s)\n", path, removed, removed == 1 ? "" : "s");
    return 0;
}

static void print_text(const sluice_org_t *org, const inbox_t *in)
{
    static const char *const modes[] = {"off", "report", "mask", "hash"};
    printf("PII found by the guard in fields no rule of org %s names (pii_guard: %s): %zu\n", org->id,
           modes[org->pii_guard.mode], in->count);
    for (size_t i = 0; i < in->count; i++) {
        const entry_t *e = &in->items[i];
        char first[SLUICE_TIME_TEXT_MAX], last[SLUICE_TIME_TEXT_MAX], rule[512];
        sluice_time_format(e->first, first);
        sluice_time_format(e->last, last);
        suggest(e, rule, sizeof(rule));
        printf("\n%s  %s%s\n  %lld event%s, first %s, last %s\n  suggested: %s\n", e->path, e->matcher,
               e->partial ? " (inside text)" : "", e->count, e->count == 1 ? "" : "s", first, last, rule);
    }
}

static int print_json(const inbox_t *in)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr != NULL && i < in->count; i++) {
        const entry_t *e = &in->items[i];
        char first[SLUICE_TIME_TEXT_MAX], last[SLUICE_TIME_TEXT_MAX], rule[512];
        sluice_time_format(e->first, first);
        sluice_time_format(e->last, last);
        suggest(e, rule, sizeof(rule));
        json_array_append_new(arr, json_pack("{s:s,s:s,s:I,s:s,s:s,s:b,s:s}", "path", e->path, "matcher", e->matcher,
                                             "count", (json_int_t)e->count, "first_seen", first, "last_seen", last,
                                             "inside_text", e->partial, "suggested", rule));
    }
    char *s = arr != NULL ? json_dumps(arr, JSON_INDENT(2)) : NULL;
    json_decref(arr);
    if (s == NULL)
        return 1;
    printf("%s\n", s);
    free(s);
    return 0;
}

int sluicectl_privacy_inbox(int argc, char **argv)
{
    const char *config = NULL, *org_id = NULL, *format = "text", *dismiss_path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "sluicectl privacy inbox: %s needs a value\n", a);
            return 2;
        }
        if (strcmp(a, "--config") == 0)
            config = argv[++i];
        else if (strcmp(a, "--org") == 0)
            org_id = argv[++i];
        else if (strcmp(a, "--format") == 0)
            format = argv[++i];
        else if (strcmp(a, "--dismiss") == 0)
            dismiss_path = argv[++i];
        else {
            fprintf(stderr, "sluicectl privacy inbox: unknown option '%s'\n\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (config == NULL || org_id == NULL || (strcmp(format, "text") != 0 && strcmp(format, "json") != 0)) {
        usage(stderr);
        return 2;
    }
    sluice_config_diag_t diag;
    sluice_config_diag_init(&diag);
    sluice_config_t *cfg = sluice_config_load(config, 0, &diag);
    for (size_t i = 0; i < diag.count; i++)
        fprintf(stderr, "%s\n", diag.msgs[i]);
    sluice_config_diag_dispose(&diag);
    if (cfg == NULL)
        return 1;
    const sluice_org_t *org = NULL;
    for (size_t i = 0; i < cfg->org_count; i++)
        if (strcmp(cfg->orgs[i].id, org_id) == 0)
            org = &cfg->orgs[i];
    int rc = 1;
    redisContext *c = NULL;
    inbox_t in = {0};
    if (org == NULL)
        fprintf(stderr, "sluicectl privacy inbox: no org '%s' in %s\n", org_id, config);
    else if ((c = connect_redis(cfg)) != NULL && read_inbox(c, prefix_of(cfg), org->id, &in) == 0)
        rc = dismiss_path != NULL          ? dismiss(c, prefix_of(cfg), org->id, dismiss_path, &in)
             : strcmp(format, "json") == 0 ? print_json(&in)
                                           : (print_text(org, &in), 0);
    for (size_t i = 0; i < in.count; i++) {
        free(in.items[i].path);
        free(in.items[i].matcher);
    }
    free(in.items);
    redisFree(c);
    sluice_config_free(cfg);
    return rc;
}
