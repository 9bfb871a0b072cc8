/*
 * Built-in mask plugin `regex`: replaces what a PCRE2 pattern matches, with captures, e.g.
 * pattern `([A-Z]{2})\d{2}[A-Z0-9 ]{11,30}` and replace `$1**-[iban]` hide IBANs in free text
 * but keep the country. The pattern is compiled once per rule in create, in UTF mode with Unicode
 * properties (\w, \d and [[:alpha:]] know non-ASCII letters and digits), JIT-compiled when the
 * library has a JIT for this machine. `\C` (one byte inside a character) is refused, so every
 * match starts and ends on a character boundary and the output stays valid UTF-8.
 *
 * The replacement is pcre2_substitute's extended syntax: $1 or ${1}, ${name}, $$ for a dollar,
 * backslash escapes (\n, \x{e9}, \u and \l case changes, \\ for a backslash),
 * ${1:+text if set:text if unset}; a group that did not take part is empty. It is checked in
 * create against the pattern's own groups (a $3 of a two-group pattern is refused there, not at
 * the first event). Every match is replaced (`global: false`: the first only).
 *
 * Each match runs under `match_limit` and `depth_limit` (and a 16 MiB heap limit; the JIT stack
 * grows to 1 MiB): a value that needs more fails closed (the field is removed, or the event
 * rejected with on_error: reject) and the plugin logs a warning, without the value. A value with
 * no match is kept (`no_match: keep`), removed (`remove`) or refused (`error`).
 *
 * Strings and numbers (as their text; the result is a string) are matched; booleans and null are
 * left as they are; objects and arrays are refused (EINVAL: the field is removed, fail closed).
 * Deterministic; not declared idempotent (a replacement may match again).
 *
 * Built like a third-party plugin: only <sluice/mask_plugin.h> and libpcre2-8. The compiled
 * pattern is shared read-only by every thread; each event-loop thread has its own match data,
 * match context (limits, JIT stack) and output buffer (thread_init).
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <sluice/mask_plugin.h>

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIMIT_MAX      100000000 /* match_limit and depth_limit ceiling */
#define HEAP_LIMIT_KIB 16384
#define JIT_STACK_MIN  (32 * 1024)
#define JIT_STACK_MAX  (1024 * 1024)
#define OUT_START      4096
#define OUT_MAX        (1024 * 1024) /* far above the host's cap: beyond it the output is too big anyway */
#define PATTERN_MAX    4096
#define TWIN_FAILED    INT_MIN /* run_on_twin: not a PCRE2 error code */

enum { NO_MATCH_KEEP, NO_MATCH_REMOVE, NO_MATCH_ERROR };

typedef struct regex {
    const sluice_mask_host_t *host;
    sluice_mask_handle_t *self;
    pcre2_code *code;
    int jit;
    uint32_t options; /* pcre2_substitute options */
    uint32_t match_limit, depth_limit;
    int no_match;
    int quiet; /* the selftest's own instances: no warning for the limit they hit on purpose */
    PCRE2_UCHAR *replace;
    size_t replace_len;
} regex_t;

/* One thread's mutable state. */
typedef struct tctx {
    pcre2_match_data *md;
    pcre2_match_context *mctx;
    pcre2_jit_stack *stack;
    PCRE2_UCHAR *buf;
    size_t cap;
} tctx_t;

static const sluice_mask_config_entry_t config[] = {
    {"pattern", SLUICE_MASK_CONF_STRING, SLUICE_MASK_CONF_REQUIRED, NULL,
     "PCRE2 pattern (UTF-8, Unicode properties), compiled once"},
    {"replace", SLUICE_MASK_CONF_STRING, 0, "\"\"",
     "replacement: $1, ${name}, $$, \\n escapes, ${1:+set:unset} (PCRE2 extended syntax)"},
    {"global", SLUICE_MASK_CONF_BOOL, 0, "true", "replace every match (false: only the first)"},
    {"caseless", SLUICE_MASK_CONF_BOOL, 0, "false", "match without regard to case"},
    {"no_match", SLUICE_MASK_CONF_STRING, 0, "keep",
     "when nothing matches: keep the value, remove the field, or error (fail closed)"},
    {"match_limit", SLUICE_MASK_CONF_INT, 0, "100000",
     "most backtracking steps of one match (1..100000000); more fails the field closed"},
    {"depth_limit", SLUICE_MASK_CONF_INT, 0, "10000",
     "most nested backtracking of one match (1..100000000, interpreter only); more fails the field closed"},
    {0},
};

/* A PCRE2 error as text for an error sentence (patterns and replacements are config, not data). */
static void pcre2_text(int code, char *buf, size_t cap)
{
    if (pcre2_get_error_message(code, (PCRE2_UCHAR *)buf, cap) < 0)
        snprintf(buf, cap, "PCRE2 error %d", code);
}

static pcre2_match_context *match_context(const regex_t *r)
{
    pcre2_match_context *m = pcre2_match_context_create(NULL);
    if (m != NULL) {
        pcre2_set_match_limit(m, r->match_limit);
        pcre2_set_depth_limit(m, r->depth_limit);
        pcre2_set_heap_limit(m, HEAP_LIMIT_KIB);
    }
    return m;
}

/* Runs the replacement once on a pattern with the same groups (numbers and names) as r's, which
 * matches the empty string with every group set (unset 0) or every group unset (unset 1), so
 * every $n, ${name} and escape, and both branches of each ${n:+set:unset} and ${n:-default}, are
 * parsed and resolved without an event. Returns 0, the replacement's PCRE2 error code, or
 * TWIN_FAILED when the twin pattern could not be built. */
static int run_on_twin(const regex_t *r, uint32_t groups, uint32_t names, uint32_t entry, PCRE2_SPTR table, int unset)
{
    /* "(?:\x{10ffff}...)?" cannot match its one character in "", so its groups stay unset. */
    size_t cap = 32 + (size_t)groups * 2 + (size_t)names * (entry + 4);
    char *mirror = malloc(cap);
    if (mirror == NULL)
        return TWIN_FAILED;
    size_t len = (size_t)snprintf(mirror, cap, "%s", unset ? "(?:\\x{10ffff}" : "");
    for (uint32_t g = 1; g <= groups; g++) {
        const char *name = NULL;
        for (uint32_t i = 0; i < names && name == NULL; i++) {
            PCRE2_SPTR e = table + (size_t)i * entry;
            if (((uint32_t)e[0] << 8 | e[1]) == g)
                name = (const char *)e + 2;
        }
        if (name != NULL)
            len += (size_t)snprintf(mirror + len, cap - len, "(?<%s>)", name);
        else
            len += (size_t)snprintf(mirror + len, cap - len, "()");
    }
    len += (size_t)snprintf(mirror + len, cap - len, "%s", unset ? ")?" : "");
    int code = 0;
    PCRE2_SIZE offset = 0;
    pcre2_code *twin = pcre2_compile((PCRE2_SPTR)mirror, len, PCRE2_UTF | PCRE2_DUPNAMES, &code, &offset, NULL);
    free(mirror);
    if (twin == NULL)
        return TWIN_FAILED;
    PCRE2_UCHAR out[256];
    PCRE2_SIZE out_len = sizeof(out);
    int rc = pcre2_substitute(twin, (PCRE2_SPTR) "", 0, 0, r->options | PCRE2_SUBSTITUTE_OVERFLOW_LENGTH, NULL, NULL,
                              r->replace, r->replace_len, out, &out_len);
    pcre2_code_free(twin);
    /* On "" the twin matches once: 1 replacement (NOMEMORY: only the checking buffer was too
     * small). Anything else is the replacement's error, and PCRE2 10.42 returns a bad escape
     * inside a ${n:+...} or ${n:-...} text as a positive compile error code (e.g. 103), which
     * would read as a count of replacements. */
    return rc == 1 || rc == PCRE2_ERROR_NOMEMORY ? 0 : rc != 0 ? rc : PCRE2_ERROR_BADREPLACEMENT;
}

/* Checks the replacement against the pattern's groups at create, so a $3 of a two-group pattern
 * or a malformed escape is a config error, not a failure at the first event. */
static int check_replacement(const regex_t *r, char *err, size_t err_len)
{
    uint32_t groups = 0, names = 0, entry = 0;
    PCRE2_SPTR table = NULL;
    if (pcre2_pattern_info(r->code, PCRE2_INFO_CAPTURECOUNT, &groups) != 0 ||
        pcre2_pattern_info(r->code, PCRE2_INFO_NAMECOUNT, &names) != 0 ||
        pcre2_pattern_info(r->code, PCRE2_INFO_NAMEENTRYSIZE, &entry) != 0 ||
        pcre2_pattern_info(r->code, PCRE2_INFO_NAMETABLE, &table) != 0) {
        snprintf(err, err_len, "cannot read the pattern's groups");
        return SLUICE_MASK_EINTERNAL;
    }
    for (int unset = 0; unset < 2; unset++) {
        int rc = run_on_twin(r, groups, names, entry, table, unset);
        if (rc == TWIN_FAILED) {
            snprintf(err, err_len, "cannot check the replacement against the pattern's groups");
            return SLUICE_MASK_EINTERNAL;
        }
        if (rc != 0) {
            char msg[160];
            pcre2_text(rc, msg, sizeof(msg));
            snprintf(err, err_len, "replace is not a valid replacement for this pattern: %s", msg);
            return SLUICE_MASK_ECONFIG;
        }
    }
    return SLUICE_MASK_OK;
}

static void regex_free(regex_t *r)
{
    if (r == NULL)
        return;
    pcre2_code_free(r->code);
    free(r->replace);
    free(r);
}

/* Compiles pattern and checks replace into r (whose limits, options and no_match are set). */
static int compile(regex_t *r, const char *pattern, size_t pattern_len, int caseless, const char *replace,
                   size_t replace_len, char *err, size_t err_len)
{
    if (pattern_len == 0 || pattern_len > PATTERN_MAX) {
        snprintf(err, err_len, "pattern must be 1 to %d bytes long", PATTERN_MAX);
        return SLUICE_MASK_ECONFIG;
    }
    int code = 0;
    PCRE2_SIZE offset = 0;
    /* NEVER_BACKSLASH_C: \C matches one byte and could cut a character in half. */
    uint32_t opts = PCRE2_UTF | PCRE2_UCP | PCRE2_NEVER_BACKSLASH_C | (caseless ? PCRE2_CASELESS : 0);
    r->code = pcre2_compile((PCRE2_SPTR)pattern, pattern_len, opts, &code, &offset, NULL);
    if (r->code == NULL) {
        char msg[160];
        pcre2_text(code, msg, sizeof(msg));
        snprintf(err, err_len, "pattern does not compile at offset %zu: %s", (size_t)offset, msg);
        return SLUICE_MASK_ECONFIG;
    }
    /* Without a JIT for this machine the interpreter runs the same pattern. */
    r->jit = pcre2_jit_compile(r->code, PCRE2_JIT_COMPLETE) == 0;
    r->replace = malloc(replace_len + 1);
    if (r->replace == NULL) {
        snprintf(err, err_len, "out of memory");
        return SLUICE_MASK_ENOMEM;
    }
    memcpy(r->replace, replace, replace_len);
    r->replace[replace_len] = 0;
    r->replace_len = replace_len;
    return check_replacement(r, err, err_len);
}

static int configure(regex_t *r, const sluice_mask_host_t *host, const sluice_mask_config_t *cfg, char *err,
                     size_t err_len)
{
    const char *pattern = NULL, *replace = NULL, *no_match = NULL;
    size_t pattern_len = 0, replace_len = 0;
    int global = 1, caseless = 0;
    int64_t match_limit = 0, depth_limit = 0;
    if (host->config_string(cfg, "pattern", &pattern, &pattern_len) != 1) {
        snprintf(err, err_len, "pattern is required");
        return SLUICE_MASK_ECONFIG;
    }
    if (host->config_string(cfg, "replace", &replace, &replace_len) != 1 ||
        host->config_bool(cfg, "global", &global) != 1 || host->config_bool(cfg, "caseless", &caseless) != 1 ||
        host->config_string(cfg, "no_match", &no_match, NULL) != 1 ||
        host->config_int(cfg, "match_limit", &match_limit) != 1 ||
        host->config_int(cfg, "depth_limit", &depth_limit) != 1) {
        snprintf(err, err_len, "a parameter with a default has no value");
        return SLUICE_MASK_ECONFIG;
    }
    if (match_limit < 1 || match_limit > LIMIT_MAX || depth_limit < 1 || depth_limit > LIMIT_MAX) {
        snprintf(err, err_len, "match_limit and depth_limit must be between 1 and %d", LIMIT_MAX);
        return SLUICE_MASK_ECONFIG;
    }
    r->match_limit = (uint32_t)match_limit;
    r->depth_limit = (uint32_t)depth_limit;
    if (strcmp(no_match, "keep") == 0)
        r->no_match = NO_MATCH_KEEP;
    else if (strcmp(no_match, "remove") == 0)
        r->no_match = NO_MATCH_REMOVE;
    else if (strcmp(no_match, "error") == 0)
        r->no_match = NO_MATCH_ERROR;
    else {
        snprintf(err, err_len, "no_match must be keep, remove or error");
        return SLUICE_MASK_ECONFIG;
    }
    r->options = PCRE2_SUBSTITUTE_EXTENDED | PCRE2_SUBSTITUTE_UNSET_EMPTY | (global ? PCRE2_SUBSTITUTE_GLOBAL : 0);
    return compile(r, pattern, pattern_len, caseless, replace, replace_len, err, err_len);
}

static int create(const sluice_mask_host_t *host, sluice_mask_handle_t *self, const sluice_mask_config_t *cfg,
                  void **instance, char *err, size_t err_len)
{
    regex_t *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        snprintf(err, err_len, "out of memory");
        return SLUICE_MASK_ENOMEM;
    }
    r->host = host;
    r->self = self;
    int rc = configure(r, host, cfg, err, err_len);
    if (rc != SLUICE_MASK_OK) {
        regex_free(r);
        return rc;
    }
    *instance = r;
    return SLUICE_MASK_OK;
}

static void destroy(void *instance)
{
    regex_free(instance);
}

static void tctx_free(tctx_t *t)
{
    if (t == NULL)
        return;
    pcre2_match_data_free(t->md);
    pcre2_match_context_free(t->mctx);
    pcre2_jit_stack_free(t->stack);
    free(t->buf);
    free(t);
}

/* A thread's match data, context and buffer (r is only read). Returns NULL out of memory. */
static tctx_t *tctx_new(const regex_t *r)
{
    tctx_t *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return NULL;
    t->md = pcre2_match_data_create_from_pattern(r->code, NULL);
    t->mctx = match_context(r);
    t->buf = malloc(OUT_START);
    t->cap = OUT_START;
    if (t->md != NULL && t->mctx != NULL && r->jit) {
        t->stack = pcre2_jit_stack_create(JIT_STACK_MIN, JIT_STACK_MAX, NULL);
        if (t->stack != NULL)
            pcre2_jit_stack_assign(t->mctx, NULL, t->stack);
    }
    if (t->md == NULL || t->mctx == NULL || t->buf == NULL || (r->jit && t->stack == NULL)) {
        tctx_free(t);
        return NULL;
    }
    return t;
}

static int thread_init(void *instance, void **thread_ctx)
{
    *thread_ctx = tctx_new(instance);
    return *thread_ctx != NULL ? SLUICE_MASK_OK : SLUICE_MASK_ENOMEM;
}

static void thread_dispose(void *instance, void *thread_ctx)
{
    (void)instance;
    tctx_free(thread_ctx);
}

/* Substitutes into t->buf. Returns the number of replacements (>= 0) with *len set, or a
 * negative SLUICE_MASK status. */
static int substitute(const regex_t *r, tctx_t *t, const char *v, size_t n, size_t *len)
{
    for (;;) {
        PCRE2_SIZE out_len = t->cap;
        int rc = pcre2_substitute(r->code, (PCRE2_SPTR)v, n, 0, r->options | PCRE2_SUBSTITUTE_OVERFLOW_LENGTH, t->md,
                                  t->mctx, r->replace, r->replace_len, t->buf, &out_len);
        /* A count of replacements, at most one per character and one at the end (empty
         * matches); more is an error code PCRE2 returned positive (see run_on_twin). */
        if (rc >= 0 && (PCRE2_SIZE)rc <= n + 1 && ((r->options & PCRE2_SUBSTITUTE_GLOBAL) || rc <= 1) &&
            out_len < t->cap) {
            *len = out_len;
            return rc;
        }
        if (rc == PCRE2_ERROR_NOMEMORY) { /* out_len is now the length needed, with the NUL */
            if (out_len <= t->cap || out_len == PCRE2_UNSET)
                return SLUICE_MASK_ENOMEM; /* the match itself ran out of memory, not the buffer */
            if (out_len > OUT_MAX)
                return SLUICE_MASK_ETOOBIG;
            PCRE2_UCHAR *bigger = realloc(t->buf, out_len);
            if (bigger == NULL)
                return SLUICE_MASK_ENOMEM;
            t->buf = bigger;
            t->cap = out_len;
            continue;
        }
        if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT || rc == PCRE2_ERROR_HEAPLIMIT ||
            rc == PCRE2_ERROR_JIT_STACKLIMIT) {
            /* A pattern that backtracks too much on this value: refused, never kept raw. */
            if (!r->quiet)
                r->host->log(r->self, SLUICE_MASK_LOG_WARN,
                             "regex: a value hit the match limit (match_limit, depth_limit, heap or JIT stack); the "
                             "field fails closed");
            return SLUICE_MASK_EINVAL;
        }
        if (rc == PCRE2_ERROR_NOMATCH)
            return 0;
        /* Invalid UTF-8 (which the host never sends), or a replacement error that create's check
         * did not see: this value is refused, fail closed, and the warning says why. */
        if (!r->quiet && !(rc <= PCRE2_ERROR_UTF8_ERR1 && rc >= PCRE2_ERROR_UTF8_ERR21)) {
            char msg[200], text[120];
            pcre2_text(rc, text, sizeof(text));
            snprintf(msg, sizeof(msg), "regex: the replacement failed on a value (%s); the field fails closed", text);
            r->host->log(r->self, SLUICE_MASK_LOG_WARN, msg);
        }
        return SLUICE_MASK_EINVAL;
    }
}

static int mask(void *instance, void *thread_ctx, const sluice_mask_input_t *in, sluice_mask_output_t *out)
{
    const regex_t *r = instance;
    switch (in->type) {
    case SLUICE_MASK_JSON_STRING:
    case SLUICE_MASK_JSON_NUMBER: break;
    case SLUICE_MASK_JSON_BOOL:
    case SLUICE_MASK_JSON_NULL: return SLUICE_MASK_UNCHANGED;
    default: return SLUICE_MASK_EINVAL;
    }
    size_t len = 0;
    int rc = substitute(r, thread_ctx, in->value, in->value_len, &len);
    if (rc < 0)
        return rc;
    if (rc == 0) {
        static const int outcome[] = {SLUICE_MASK_UNCHANGED, SLUICE_MASK_REMOVE, SLUICE_MASK_EINVAL};
        return outcome[r->no_match];
    }
    return r->host->append(out, ((const tctx_t *)thread_ctx)->buf, len);
}

/* Known answers under reference patterns (not the rule's), through the same compile, check and
 * substitute code, with a thread context of the selftest's own. */
static int selftest(void *instance, char *err, size_t err_len)
{
    static const struct {
        const char *pattern, *replace, *in, *want; /* want NULL: no match */
        int global;
    } cases[] = {
        {"([A-Z]{2})\\d{2}[A-Z0-9 ]{11,30}", "$1**-[iban]", "pay to DE89 3704 0044 0532 0130 00 today",
         "pay to DE**-[iban]today", 1},
        {"(?<user>[^@\\s]+)@(?<host>[\\w.-]+)", "${user:+x}@${host}",
         "mail j\xc3\xb6rg@b\xc3\xbc"
         "cher.de now",
         "mail x@b\xc3\xbc"
         "cher.de now",
         1},
        {"\\d", "#",
         "a1b2\xe2\x82\xac"
         "3",
         "a#b#\xe2\x82\xac#", 1},
        {"\\d", "#", "a1b2", "a#b2", 0},
        {"(a)|(b)", "[$1|$2]", "ab", "[a|][|b]", 1},
        {"\\w+", "\\u$0", "\xc3\xa9t\xc3\xa9 x", "\xc3\x89t\xc3\xa9 X", 1},
        {"zzz", "y", "abc", NULL, 1},
    };
    const regex_t *self = instance;
    int rc = SLUICE_MASK_OK;
    for (size_t i = 0; rc == SLUICE_MASK_OK && i < sizeof(cases) / sizeof(cases[0]); i++) {
        regex_t ref = {.host = self->host, .self = self->self, .match_limit = 100000, .depth_limit = 10000};
        ref.options =
            PCRE2_SUBSTITUTE_EXTENDED | PCRE2_SUBSTITUTE_UNSET_EMPTY | (cases[i].global ? PCRE2_SUBSTITUTE_GLOBAL : 0);
        tctx_t *t = NULL;
        size_t len = 0;
        int got = -1;
        if (compile(&ref, cases[i].pattern, strlen(cases[i].pattern), 0, cases[i].replace, strlen(cases[i].replace),
                    err, err_len) == SLUICE_MASK_OK &&
            (t = tctx_new(&ref)) != NULL)
            got = substitute(&ref, t, cases[i].in, strlen(cases[i].in), &len);
        if (cases[i].want == NULL
                ? got != 0
                : got < 1 || len != strlen(cases[i].want) || memcmp(t->buf, cases[i].want, len) != 0) {
            snprintf(err, err_len, "known answer %zu differs", i + 1);
            rc = SLUICE_MASK_EINTERNAL;
        }
        tctx_free(t);
        pcre2_code_free(ref.code);
        free(ref.replace);
    }
    /* The limit holds: a catastrophic pattern on a short value is refused, not run to the end. */
    if (rc == SLUICE_MASK_OK) {
        regex_t ref = {.host = self->host, .self = self->self, .match_limit = 1000, .depth_limit = 10000, .quiet = 1};
        tctx_t *t = NULL;
        size_t len = 0;
        int got = 0;
        if (compile(&ref, "(a+)+$", 6, 0, "x", 1, err, err_len) == SLUICE_MASK_OK && (t = tctx_new(&ref)) != NULL)
            got = substitute(&ref, t, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab", 40, &len);
        if (got != SLUICE_MASK_EINVAL) {
            snprintf(err, err_len, "the match limit did not stop a catastrophic pattern");
            rc = SLUICE_MASK_EINTERNAL;
        }
        tctx_free(t);
        pcre2_code_free(ref.code);
        free(ref.replace);
    }
    return rc;
}

SLUICE_MASK_PLUGIN(.name = "regex", .version = "1.0.0",
                   .description = "replaces what a PCRE2 pattern matches, with captures, under a match limit",
                   .config = config, .flags = SLUICE_MASK_FLAG_DETERMINISTIC, .create = create, .destroy = destroy,
                   .thread_init = thread_init, .thread_dispose = thread_dispose, .mask = mask, .selftest = selftest);
