/*
 * User agent parsing (ua.h): uap-core's regexes.yaml read with libyaml into three ordered lists
 * of PCRE2 regexes (JIT-compiled), the first match of each list wins, as uap-core's
 * specification says. The parser is built on whichever thread loads it and is read-only after;
 * each loop thread parses through its own cache (LRU, open hashing over a fixed entry array).
 */
#include "enrich/ua.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <fcntl.h>
#include <pcre2.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "common/utf8.h"

enum { LIST_UA, LIST_OS, LIST_DEVICE, LIST_COUNT };

/* A rule's replacements, by list:
 *   ua:     family, v1, v2, v3, v4
 *   os:     os, v1, v2, v3, v4
 *   device: device, brand, model */
#define REPL_MAX 5

typedef struct rule {
    pcre2_code *re;
    char *repl[REPL_MAX];
} rule_t;

typedef struct rule_list {
    rule_t *rules;
    size_t n, cap;
} rule_list_t;

struct sluice_ua_parser {
    atomic_uint refs; /* a reload that cannot read the file keeps the parser in use (gateway/enrichment.c) */
    rule_list_t lists[LIST_COUNT];
    size_t skipped;
    uint64_t serial; /* tells a cache which parser filled it */
    pcre2_match_context *mctx;
};

static atomic_uint_fast64_t parser_serial;

/* A user agent longer than this is parsed from its first KEY_MAX bytes and not cached. */
#define KEY_MAX SLUICE_UA_CACHE_KEY_MAX
/* Bounds a pathological regex on a hostile user agent (the JIT counts calls, not time). */
#define MATCH_LIMIT 100000

/* ------------------------------------------------------------------ loading */

static const char *const repl_keys[LIST_COUNT][REPL_MAX] = {
    {"family_replacement", "v1_replacement", "v2_replacement", "v3_replacement", "v4_replacement"},
    {"os_replacement", "os_v1_replacement", "os_v2_replacement", "os_v3_replacement", "os_v4_replacement"},
    {"device_replacement", "brand_replacement", "model_replacement", NULL, NULL},
};

static const char *scalar(yaml_node_t *n)
{
    return n != NULL && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static void rule_free(rule_t *r)
{
    pcre2_code_free(r->re);
    for (int i = 0; i < REPL_MAX; i++)
        free(r->repl[i]);
}

/* One mapping of a list: {regex, regex_flag?, *_replacement?}. 0 added, 1 skipped, -1 OOM. */
static int add_rule(sluice_ua_parser_t *p, int list, yaml_document_t *doc, yaml_node_t *map)
{
    const char *regex = NULL, *flag = NULL;
    rule_t r = {0};
    for (yaml_node_pair_t *pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top; pair++) {
        const char *k = scalar(yaml_document_get_node(doc, pair->key));
        const char *v = scalar(yaml_document_get_node(doc, pair->value));
        if (k == NULL || v == NULL)
            continue;
        if (strcmp(k, "regex") == 0) {
            regex = v;
        } else if (strcmp(k, "regex_flag") == 0) {
            flag = v;
        } else {
            for (int i = 0; i < REPL_MAX; i++)
                if (repl_keys[list][i] != NULL && strcmp(k, repl_keys[list][i]) == 0) {
                    free(r.repl[i]);
                    if ((r.repl[i] = strdup(v)) == NULL) {
                        rule_free(&r);
                        return -1;
                    }
                }
        }
    }
    if (regex == NULL) {
        rule_free(&r);
        return 1;
    }
    int code;
    PCRE2_SIZE off;
    uint32_t opts = flag != NULL && strchr(flag, 'i') != NULL ? PCRE2_CASELESS : 0;
    r.re = pcre2_compile((PCRE2_SPTR)regex, PCRE2_ZERO_TERMINATED, opts, &code, &off, NULL);
    if (r.re == NULL) {
        rule_free(&r);
        return 1;
    }
    (void)pcre2_jit_compile(r.re, PCRE2_JIT_COMPLETE); /* without JIT it still matches, slower */
    rule_list_t *l = &p->lists[list];
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        rule_t *nr = realloc(l->rules, cap * sizeof(*nr));
        if (nr == NULL) {
            rule_free(&r);
            return -1;
        }
        l->rules = nr;
        l->cap = cap;
    }
    l->rules[l->n++] = r;
    return 0;
}

sluice_ua_parser_t *sluice_ua_parser_load(const char *path, sluice_err_t *err)
{
    if (path == NULL)
        path = SLUICE_UA_REGEXES_DEFAULT;
    /* Not blocking in open(): a FIFO at the path stopped the gateway's reload, on the thread that
     * also handles SIGTERM, until a writer came. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        sluice_err_set(err, "%s: cannot open the user-agent regexes (Debian package uap-core): %m", path);
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        sluice_err_set(err, "%s: the user-agent regexes are not a regular file", path);
        return NULL;
    }
    FILE *f = fdopen(fd, "rb");
    if (f == NULL) {
        sluice_err_set(err, "%s: cannot open the user-agent regexes: %m", path);
        close(fd);
        return NULL;
    }
    sluice_ua_parser_t *p = calloc(1, sizeof(*p));
    yaml_parser_t yp;
    yaml_document_t doc;
    if (p == NULL || !yaml_parser_initialize(&yp)) {
        fclose(f);
        free(p);
        sluice_err_set(err, "out of memory");
        return NULL;
    }
    yaml_parser_set_input_file(&yp, f);
    int loaded = yaml_parser_load(&yp, &doc);
    if (!loaded) {
        sluice_err_set(err, "%s:%zu:%zu: %s", path, yp.problem_mark.line + 1, yp.problem_mark.column + 1,
                       yp.problem ? yp.problem : "not YAML");
        yaml_parser_delete(&yp);
        fclose(f);
        free(p);
        return NULL;
    }
    yaml_parser_delete(&yp);
    fclose(f);

    static const char *const list_keys[LIST_COUNT] = {"user_agent_parsers", "os_parsers", "device_parsers"};
    int rc = 0;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (root != NULL && root->type == YAML_MAPPING_NODE) {
        for (yaml_node_pair_t *pair = root->data.mapping.pairs.start; rc >= 0 && pair < root->data.mapping.pairs.top;
             pair++) {
            const char *k = scalar(yaml_document_get_node(&doc, pair->key));
            yaml_node_t *seq = yaml_document_get_node(&doc, pair->value);
            if (k == NULL || seq == NULL || seq->type != YAML_SEQUENCE_NODE)
                continue;
            for (int list = 0; list < LIST_COUNT; list++) {
                if (strcmp(k, list_keys[list]) != 0)
                    continue;
                for (yaml_node_item_t *it = seq->data.sequence.items.start; it < seq->data.sequence.items.top; it++) {
                    yaml_node_t *m = yaml_document_get_node(&doc, *it);
                    if (m == NULL || m->type != YAML_MAPPING_NODE)
                        continue;
                    rc = add_rule(p, list, &doc, m);
                    if (rc < 0)
                        break;
                    p->skipped += (size_t)rc;
                }
            }
        }
    }
    yaml_document_delete(&doc);
    if (rc < 0) {
        sluice_ua_parser_destroy(p);
        sluice_err_set(err, "out of memory");
        return NULL;
    }
    if (p->lists[LIST_UA].n == 0) {
        sluice_ua_parser_destroy(p);
        sluice_err_set(err, "%s: no user_agent_parsers (is it uap-core's regexes.yaml?)", path);
        return NULL;
    }
    p->mctx = pcre2_match_context_create(NULL);
    if (p->mctx == NULL) {
        sluice_ua_parser_destroy(p);
        sluice_err_set(err, "out of memory");
        return NULL;
    }
    pcre2_set_match_limit(p->mctx, MATCH_LIMIT);
    p->serial = atomic_fetch_add(&parser_serial, 1) + 1;
    atomic_init(&p->refs, 1);
    return p;
}

sluice_ua_parser_t *sluice_ua_parser_acquire(sluice_ua_parser_t *p)
{
    atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
    return p;
}

void sluice_ua_parser_destroy(sluice_ua_parser_t *p)
{
    /* A parser that failed to load is freed before refs is set: it was never shared. */
    if (p == NULL || (p->serial != 0 && atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) != 1))
        return;
    for (int l = 0; l < LIST_COUNT; l++) {
        for (size_t i = 0; i < p->lists[l].n; i++)
            rule_free(&p->lists[l].rules[i]);
        free(p->lists[l].rules);
    }
    pcre2_match_context_free(p->mctx);
    free(p);
}

size_t sluice_ua_parser_count(const sluice_ua_parser_t *p)
{
    return p ? p->lists[LIST_UA].n + p->lists[LIST_OS].n + p->lists[LIST_DEVICE].n : 0;
}

size_t sluice_ua_parser_skipped(const sluice_ua_parser_t *p)
{
    return p ? p->skipped : 0;
}

/* ------------------------------------------------------------------ matching */

typedef struct match {
    const char *s;
    PCRE2_SIZE *ov;
    int n; /* groups set (pcre2_match's count) */
} match_t;

static void put(char *out, size_t cap, const char *s, size_t len)
{
    len = sluice_utf8_cut(s, len, cap - 1); /* half a character would lose the field in JSON */
    memcpy(out, s, len);
    out[len] = '\0';
}

/* s into out, cut to cap. */
static void copy(char *out, size_t cap, const char *s)
{
    put(out, cap, s, strlen(s));
}

/* Group g of m into out ("" when unset). */
static void group(const match_t *m, int g, char *out, size_t cap)
{
    if (g < m->n && m->ov[2 * g] != PCRE2_UNSET)
        put(out, cap, m->s + m->ov[2 * g], m->ov[2 * g + 1] - m->ov[2 * g]);
    else
        out[0] = '\0';
}

/* Trims spaces at both ends in place. */
static void trim(char *s)
{
    size_t len = strlen(s), a = 0;
    while (a < len && s[a] == ' ')
        a++;
    while (len > a && s[len - 1] == ' ')
        len--;
    memmove(s, s + a, len - a);
    s[len - a] = '\0';
}

/* repl with $1..$9 replaced by m's groups (unset: nothing), trimmed; or group dflt when repl is
 * NULL (dflt 0: ""). */
static void expand(const match_t *m, const char *repl, int dflt, char *out, size_t cap)
{
    if (repl == NULL) {
        if (dflt > 0)
            group(m, dflt, out, cap);
        else
            out[0] = '\0';
        trim(out);
        return;
    }
    size_t o = 0;
    for (const char *c = repl; *c != '\0' && o + 1 < cap; c++) {
        if (c[0] == '$' && c[1] >= '1' && c[1] <= '9') {
            int g = c[1] - '0';
            c++;
            if (g < m->n && m->ov[2 * g] != PCRE2_UNSET) {
                size_t len = sluice_utf8_cut(m->s + m->ov[2 * g], m->ov[2 * g + 1] - m->ov[2 * g], cap - 1 - o);
                memcpy(out + o, m->s + m->ov[2 * g], len);
                o += len;
            }
        } else {
            out[o++] = *c;
        }
    }
    out[o] = '\0';
    trim(out);
}

/* The first rule of the list that matches ua: its index, or -1. */
static long first_match(const sluice_ua_parser_t *p, int list, pcre2_match_data *md, const char *ua, size_t len,
                        match_t *m)
{
    const rule_list_t *l = &p->lists[list];
    for (size_t i = 0; i < l->n; i++) {
        int rc = pcre2_match(l->rules[i].re, (PCRE2_SPTR)ua, len, 0, 0, md, p->mctx);
        if (rc >= 0) {
            m->s = ua;
            m->ov = pcre2_get_ovector_pointer(md);
            m->n = rc == 0 ? (int)pcre2_get_ovector_count(md) : rc;
            return (long)i;
        }
    }
    return -1;
}

/* "a", "a.b", "a.b.c" from the non-empty leading parts. */
static void join_version(char *out, size_t cap, char parts[][24], int n)
{
    size_t o = 0;
    out[0] = '\0';
    for (int i = 0; i < n && parts[i][0] != '\0'; i++) {
        int w = snprintf(out + o, cap - o, "%s%s", i ? "." : "", parts[i]);
        if (w < 0 || (size_t)w >= cap - o)
            break;
        o += (size_t)w;
    }
}

static int in_list(const char *s, const char *const *names)
{
    for (; *names != NULL; names++)
        if (strcmp(s, *names) == 0)
            return 1;
    return 0;
}

static const char *const mobile_os[] = {"iOS",        "Android", "Windows Phone", "BlackBerry OS", "KaiOS",
                                        "Symbian OS", "Tizen",   "Firefox OS",    "HarmonyOS",     NULL};
static const char *const desktop_os[] = {
    "Windows",       "Mac OS X",  "Linux",      "Ubuntu",      "Chrome OS",  "Fedora",     "Debian",       "FreeBSD",
    "OpenBSD",       "NetBSD",    "Solaris",    "Mac OS",      "Mageia",     "Mint",       "Arch Linux",   "Gentoo",
    "SUSE",          "Red Hat",   "Windows NT", "Windows XP",  "Windows 98", "Windows 95", "Windows 2000", "Windows ME",
    "Windows Vista", "Windows 7", "Windows 8",  "Windows 8.1", "Windows RT", NULL};

/* Televisions and streaming sticks name themselves in ways of their own (matched ignoring case);
 * Samsung's run Tizen, which phones ran too, and Android TVs' browsers never say "Mobile". */
static const char *const tv_words[] = {"smart-tv",  "smarttv",  "smart tv",  "hbbtv",      "android tv",
                                       "androidtv", "googletv", "google tv", "bravia",     "web0s",
                                       "webos.tv",  "netcast",  "crkey",     "chromecast", "appletv",
                                       "apple tv",  "roku/",    "opera tv",  " tv safari", NULL};
static const char *const console_words[] = {"xbox", "playstation", "nintendo", NULL};

/* "tv", "console" or NULL. Amazon's Fire TV models are AFT and capitals ("; AFTKA Build/"). */
static const char *big_screen(const char *ua, size_t len)
{
    if (sluice_ua_contains_any(ua, len, tv_words, SIZE_MAX))
        return "tv";
    for (const char *p = ua; (p = memmem(p, len - (size_t)(p - ua), "; AFT", 5)) != NULL; p += 5)
        if (p + 5 < ua + len && p[5] >= 'A' && p[5] <= 'Z')
            return "tv";
    return sluice_ua_contains_any(ua, len, console_words, SIZE_MAX) ? "console" : NULL;
}

static const char *device_type(const sluice_ua_result_t *r, const char *ua, size_t len)
{
    if (r->bot)
        return "bot";
    const char *big = big_screen(ua, len);
    if (big != NULL)
        return big;
    if (strcmp(r->device, "iPad") == 0 || strstr(r->device, "Tablet") != NULL || strstr(r->device, "Kindle") != NULL)
        return "tablet";
    /* Android's browsers say "Mobile" on phones only; an app's own requests (Dalvik, its HTTP
     * stack) never do, so there the word's absence says nothing: most are phones. */
    if (strcmp(r->os, "Android") == 0)
        return memmem(ua, len, "Mobile", 6) != NULL || (len >= 7 && memcmp(ua, "Dalvik/", 7) == 0) ? "mobile"
                                                                                                   : "tablet";
    if (in_list(r->os, mobile_os) || strcmp(r->device, "iPhone") == 0 || strstr(r->device, "Phone") != NULL)
        return "mobile";
    if (in_list(r->os, desktop_os) || strncmp(r->os, "Windows", 7) == 0)
        return "desktop";
    return "other";
}

/* The HTTP libraries first: sluice_ua_http_libraries is this list's head. */
/* The analytics libraries name themselves ("analytics-node/6.2.0": Segment's older node library
 * and RudderStack's node SDK; analytics-java, -ruby, -python, -go), and so do other languages'
 * HTTP clients (okhttp, Java's, Ruby's Net::HTTP and Faraday, PHP's Guzzle). */
#define HTTP_LIBRARIES                                                                                                 \
    "python-requests", "python-urllib", "curl/", "Wget/", "Go-http-client", "node-fetch", "axios/", "HttpClient",      \
        "Playwright", "analytics-", "okhttp/", "Java-http-client", "Java/", "Ruby", "Faraday", "GuzzleHttp"

const char *const sluice_ua_http_libraries[] = {HTTP_LIBRARIES, NULL};

/* Google's crawlers that render pages (URL inspection, GoogleOther) and the AI assistants'
 * fetchers are not in Debian's uap-core. */
const char *const sluice_ua_automation[] = {
    HTTP_LIBRARIES,      "HeadlessChrome",
    "PhantomJS",         "Applebot",
    "Chrome-Lighthouse", "Scrapy",
    "Puppeteer",         "Google-InspectionTool",
    "GoogleOther",       "Google-Read-Aloud",
    "ChatGPT-User",      "OAI-SearchBot",
    "DuckAssistBot",     NULL,
};

/* A byte as sluice_ua_contains_any compares it: ASCII lowercased, a NUL read as a space (the
 * copy it searches is a C string). */
static const unsigned char fold[256] = {
#define F4(c)  F1(c), F1((c) + 1), F1((c) + 2), F1((c) + 3)
#define F16(c) F4(c), F4((c) + 4), F4((c) + 8), F4((c) + 12)
#define F64(c) F16(c), F16((c) + 16), F16((c) + 32), F16((c) + 48)
#define F1(c)  (unsigned char)((c) == 0 ? ' ' : ((c) >= 'A' && (c) <= 'Z') ? (c) + 32 : (c))
    F64(0),
    F64(64),
    F64(128),
    F64(192),
#undef F1
#undef F64
#undef F16
#undef F4
};

/* A pair of adjacent folded bytes as a bit of a 1,024-bit set. */
static inline unsigned pair_bit(unsigned a, unsigned b)
{
    return (a * 37u + b) & 1023u;
}

int sluice_ua_contains_any(const char *s, size_t len, const char *const *patterns, size_t count)
{
    /* The set of the folded byte pairs s holds: a pattern with a pair not in it cannot be in s,
     * which answers most patterns for most user agents (a browser's holds none of the HTTP
     * libraries' names) without a search: for every event request, 16 strstr over a browser's
     * ~130 bytes were about 1 % of the gateway's CPU at 1,024 connections. A pattern that passes
     * is searched for in a folded copy, made once, as before, so the answer is the search's. */
    const unsigned char *u = (const unsigned char *)s;
    uint64_t pairs[1024 / 64] = {0};
    if (len > KEY_MAX)
        len = KEY_MAX;
    for (size_t i = 1; i < len; i++) {
        unsigned b = pair_bit(fold[u[i - 1]], fold[u[i]]);
        pairs[b / 64] |= (uint64_t)1 << (b % 64);
    }
    char low[KEY_MAX + 1], pat[128];
    int folded = 0;
    for (size_t k = 0; k < count && patterns[k] != NULL; k++) {
        const unsigned char *q = (const unsigned char *)patterns[k];
        size_t n = strlen(patterns[k]);
        if (n == 0 || n >= sizeof(pat) || n > len)
            continue;
        size_t i = 1;
        for (; i < n; i++) {
            unsigned b = pair_bit(fold[q[i - 1]], fold[q[i]]);
            if ((pairs[b / 64] & ((uint64_t)1 << (b % 64))) == 0)
                break;
        }
        if (i < n)
            continue;
        if (!folded) {
            for (size_t j = 0; j < len; j++)
                low[j] = (char)fold[u[j]];
            low[len] = '\0';
            folded = 1;
        }
        for (i = 0; i < n; i++)
            pat[i] = (char)fold[q[i]];
        pat[n] = '\0';
        if (strstr(low, pat) != NULL)
            return 1;
    }
    return 0;
}

static void unknown(sluice_ua_result_t *r)
{
    memset(r, 0, sizeof(*r));
    snprintf(r->browser, sizeof(r->browser), "Other");
    snprintf(r->os, sizeof(r->os), "Other");
    snprintf(r->device, sizeof(r->device), "Other");
    r->type = "other";
}

static void parse_uncached(const sluice_ua_parser_t *p, pcre2_match_data *md, const char *ua, size_t len,
                           sluice_ua_result_t *r)
{
    unknown(r);
    if (len == 0)
        return;
    match_t m;
    char v[4][24];
    long i = first_match(p, LIST_UA, md, ua, len, &m);
    if (i >= 0) {
        const rule_t *ru = &p->lists[LIST_UA].rules[i];
        expand(&m, ru->repl[0], 1, r->browser, sizeof(r->browser));
        for (int k = 0; k < 3; k++)
            expand(&m, ru->repl[k + 1], k + 2, v[k], sizeof(v[k]));
        join_version(r->browser_version, sizeof(r->browser_version), v, 3);
        if (r->browser[0] == '\0')
            snprintf(r->browser, sizeof(r->browser), "Other");
    }
    i = first_match(p, LIST_OS, md, ua, len, &m);
    if (i >= 0) {
        const rule_t *ru = &p->lists[LIST_OS].rules[i];
        expand(&m, ru->repl[0], 1, r->os, sizeof(r->os));
        for (int k = 0; k < 4; k++)
            expand(&m, ru->repl[k + 1], k + 2, v[k], sizeof(v[k]));
        join_version(r->os_version, sizeof(r->os_version), v, 3);
        if (r->os[0] == '\0')
            snprintf(r->os, sizeof(r->os), "Other");
    }
    i = first_match(p, LIST_DEVICE, md, ua, len, &m);
    if (i >= 0) {
        const rule_t *ru = &p->lists[LIST_DEVICE].rules[i];
        expand(&m, ru->repl[0], 1, r->device, sizeof(r->device));
        expand(&m, ru->repl[1], 0, r->brand, sizeof(r->brand));
        expand(&m, ru->repl[2], 1, r->model, sizeof(r->model));
        if (r->device[0] == '\0')
            snprintf(r->device, sizeof(r->device), "Other");
    }
    r->bot = strcmp(r->device, "Spider") == 0;
    r->automation = sluice_ua_contains_any(ua, len, sluice_ua_automation, SIZE_MAX);
    r->type = device_type(r, ua, len);
}

/* ------------------------------------------------------------------ the per-thread cache */

#define NIL UINT32_MAX

typedef struct entry {
    char *key;
    size_t len;
    uint64_t hash;
    uint32_t next_in_bucket, prev, next; /* bucket chain; LRU list (prev toward newer) */
    sluice_ua_result_t r;
} entry_t;

struct sluice_ua_cache {
    entry_t *e;
    uint32_t *buckets;
    uint32_t cap, used, nbuckets, head, tail; /* head: most recent */
    uint64_t serial;
    uint64_t hits, misses;
    pcre2_match_data *md;
};

sluice_ua_cache_t *sluice_ua_cache_create(size_t capacity)
{
    if (capacity == 0)
        capacity = 2048;
    if (capacity > (1u << 24))
        capacity = 1u << 24;
    sluice_ua_cache_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->cap = (uint32_t)capacity;
    c->nbuckets = 1;
    while (c->nbuckets < c->cap * 2)
        c->nbuckets <<= 1;
    c->e = calloc(c->cap, sizeof(*c->e));
    c->buckets = malloc(c->nbuckets * sizeof(*c->buckets));
    c->md = pcre2_match_data_create(16, NULL);
    if (c->e == NULL || c->buckets == NULL || c->md == NULL) {
        sluice_ua_cache_destroy(c);
        return NULL;
    }
    memset(c->buckets, 0xff, c->nbuckets * sizeof(*c->buckets));
    c->head = c->tail = NIL;
    return c;
}

static void cache_clear(sluice_ua_cache_t *c)
{
    for (uint32_t i = 0; i < c->used; i++) {
        free(c->e[i].key);
        c->e[i].key = NULL;
    }
    c->used = 0;
    memset(c->buckets, 0xff, c->nbuckets * sizeof(*c->buckets));
    c->head = c->tail = NIL;
}

void sluice_ua_cache_destroy(sluice_ua_cache_t *c)
{
    if (c == NULL)
        return;
    if (c->e != NULL && c->buckets != NULL)
        cache_clear(c);
    free(c->e);
    free(c->buckets);
    pcre2_match_data_free(c->md);
    free(c);
}

void sluice_ua_cache_stats(const sluice_ua_cache_t *c, uint64_t *hits, uint64_t *misses)
{
    *hits = c ? c->hits : 0;
    *misses = c ? c->misses : 0;
}

static uint64_t fnv1a(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

static void lru_unlink(sluice_ua_cache_t *c, uint32_t i)
{
    entry_t *e = &c->e[i];
    if (e->prev != NIL)
        c->e[e->prev].next = e->next;
    else
        c->head = e->next;
    if (e->next != NIL)
        c->e[e->next].prev = e->prev;
    else
        c->tail = e->prev;
}

static void lru_push_front(sluice_ua_cache_t *c, uint32_t i)
{
    entry_t *e = &c->e[i];
    e->prev = NIL;
    e->next = c->head;
    if (c->head != NIL)
        c->e[c->head].prev = i;
    c->head = i;
    if (c->tail == NIL)
        c->tail = i;
}

static void bucket_remove(sluice_ua_cache_t *c, uint32_t i)
{
    uint32_t *pp = &c->buckets[c->e[i].hash & (c->nbuckets - 1)];
    while (*pp != NIL && *pp != i)
        pp = &c->e[*pp].next_in_bucket;
    if (*pp == i)
        *pp = c->e[i].next_in_bucket;
}

int sluice_ua_parse(const sluice_ua_parser_t *p, sluice_ua_cache_t *c, const char *ua, size_t len,
                    sluice_ua_result_t *out)
{
    if (ua == NULL)
        len = 0;
    if (len > KEY_MAX) {
        c->misses++;
        parse_uncached(p, c->md, ua, KEY_MAX, out);
        return 0;
    }
    if (c->serial != p->serial) {
        cache_clear(c);
        c->serial = p->serial;
    }
    uint64_t h = fnv1a(ua ? ua : "", len);
    for (uint32_t i = c->buckets[h & (c->nbuckets - 1)]; i != NIL; i = c->e[i].next_in_bucket) {
        entry_t *e = &c->e[i];
        if (e->hash == h && e->len == len && memcmp(e->key, ua ? ua : "", len) == 0) {
            if (c->head != i) {
                lru_unlink(c, i);
                lru_push_front(c, i);
            }
            *out = e->r;
            c->hits++;
            return 1;
        }
    }
    c->misses++;
    parse_uncached(p, c->md, ua, len, out);
    char *key = malloc(len + 1);
    if (key == NULL)
        return 0; /* answered, just not kept */
    if (len > 0)
        memcpy(key, ua, len);
    key[len] = '\0';
    uint32_t i;
    if (c->used < c->cap) {
        i = c->used++;
    } else { /* evict the least recent */
        i = c->tail;
        lru_unlink(c, i);
        bucket_remove(c, i);
        free(c->e[i].key);
    }
    entry_t *e = &c->e[i];
    e->key = key;
    e->len = len;
    e->hash = h;
    e->r = *out;
    uint32_t *b = &c->buckets[h & (c->nbuckets - 1)];
    e->next_in_bucket = *b;
    *b = i;
    lru_push_front(c, i);
    return 0;
}

/* ------------------------------------------------------------------ client hints */

/* The next item of a structured-header list of quoted brands: brand and v param. Returns the
 * position after it, or NULL at the end. */
static const char *next_brand(const char *s, char *brand, size_t bcap, char *ver, size_t vcap)
{
    brand[0] = ver[0] = '\0';
    while (*s == ' ' || *s == ',')
        s++;
    if (*s != '"')
        return NULL;
    const char *end = strchr(s + 1, '"');
    if (end == NULL)
        return NULL;
    put(brand, bcap, s + 1, (size_t)(end - s - 1));
    s = end + 1;
    while (*s != '\0' && *s != ',') {
        if (*s == ';' && strncmp(s, ";v=\"", 4) == 0) {
            const char *ve = strchr(s + 4, '"');
            if (ve == NULL)
                return NULL;
            put(ver, vcap, s + 4, (size_t)(ve - s - 4));
            s = ve + 1;
            continue;
        }
        s++;
    }
    return s;
}

static int grease(const char *brand)
{
    return strncmp(brand, "Not", 3) == 0 && strstr(brand, "Brand") != NULL;
}

/* The brand to report from a list and its version: the first that is not GREASE or Chromium,
 * else Chromium. 1 when found. */
static int pick_brand(const char *list, char *brand, size_t bcap, char *ver, size_t vcap)
{
    char b[64], v[32], cb[64] = "", cv[32] = "";
    for (const char *s = list; s != NULL && *s != '\0';) {
        s = next_brand(s, b, sizeof(b), v, sizeof(v));
        if (s == NULL)
            break;
        if (b[0] == '\0' || grease(b))
            continue;
        if (strcmp(b, "Chromium") == 0) {
            copy(cb, sizeof(cb), b);
            copy(cv, sizeof(cv), v);
            continue;
        }
        snprintf(brand, bcap, "%s", b);
        snprintf(ver, vcap, "%s", v);
        return 1;
    }
    if (cb[0] != '\0') {
        snprintf(brand, bcap, "%s", cb);
        snprintf(ver, vcap, "%s", cv);
        return 1;
    }
    return 0;
}

/* A structured-header string value without its quotes. */
static void unquote(const char *s, char *out, size_t cap)
{
    while (*s == ' ')
        s++;
    size_t len = strlen(s);
    while (len > 0 && s[len - 1] == ' ')
        len--;
    if (len >= 2 && s[0] == '"' && s[len - 1] == '"') {
        s++;
        len -= 2;
    }
    put(out, cap, s, len);
}

int sluice_ua_apply_hints(sluice_ua_result_t *r, const sluice_ua_hints_t *h)
{
    int used = 0;
    char b[64], v[32];
    /* The full version list first: it names the same brands with full versions. */
    if ((h->full_version_list != NULL && pick_brand(h->full_version_list, b, sizeof(b), v, sizeof(v))) ||
        (h->ch_ua != NULL && pick_brand(h->ch_ua, b, sizeof(b), v, sizeof(v)))) {
        /* uap-core calls Google Chrome "Chrome" and Microsoft Edge "Edge". */
        const char *name = strcmp(b, "Google Chrome") == 0 ? "Chrome" : strcmp(b, "Microsoft Edge") == 0 ? "Edge" : b;
        if (!r->bot) {
            copy(r->browser, sizeof(r->browser), name);
            copy(r->browser_version, sizeof(r->browser_version), v);
        }
        used = 1;
    }
    if (h->platform != NULL) {
        char pl[48];
        unquote(h->platform, pl, sizeof(pl));
        if (pl[0] != '\0' && strcmp(pl, "Unknown") != 0) {
            const char *name = strcmp(pl, "macOS") == 0 ? "Mac OS X" : pl;
            if (strcmp(r->os, name) != 0)
                r->os_version[0] = '\0'; /* the string's version was of another OS */
            copy(r->os, sizeof(r->os), name);
            used = 1;
            if (h->platform_version != NULL) {
                char pv[32];
                unquote(h->platform_version, pv, sizeof(pv));
                if (strcmp(pl, "Windows") == 0) {
                    /* Windows 11 reports platform version 13 and up, 10 reports 1..10. */
                    long major = strtol(pv, NULL, 10);
                    snprintf(r->os_version, sizeof(r->os_version), "%s", major >= 13 ? "11" : major >= 1 ? "10" : "");
                } else if (pv[0] != '\0') {
                    copy(r->os_version, sizeof(r->os_version), pv);
                }
            }
        }
    }
    if (h->model != NULL) {
        char m[64];
        unquote(h->model, m, sizeof(m));
        if (m[0] != '\0') {
            copy(r->model, sizeof(r->model), m);
            used = 1;
        }
    }
    /* A television's or console's Chromium says "?0" too: it stays what its user agent says. */
    if (h->mobile != NULL && !r->bot && strcmp(r->type, "tv") != 0 && strcmp(r->type, "console") != 0) {
        const char *s = h->mobile;
        while (*s == ' ')
            s++;
        if (strncmp(s, "?1", 2) == 0) {
            r->type = "mobile";
            used = 1;
        } else if (strncmp(s, "?0", 2) == 0) {
            /* not a phone: an Android tablet, or a desktop */
            r->type = strcmp(r->os, "Android") == 0 ? "tablet" : in_list(r->os, desktop_os) ? "desktop" : r->type;
            used = 1;
        }
    }
    return used;
}
