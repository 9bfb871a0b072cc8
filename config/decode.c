/*
 * The config schema walker (see decode.h), the diagnostics list, value checkers and small
 * allocation helpers shared by the config decoders. Main thread (config load) only.
 */
#include "config/decode.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/strdist.h"
#include "common/time.h"

extern char **environ;

/* ------------------------------------------------------------------ memory */

static void oom(void)
{
    fputs("sluice: out of memory while loading the config\n", stderr);
    abort();
}

void *sluice_dec_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (p == NULL)
        oom();
    return p;
}

void *sluice_dec_xrealloc(void *p, size_t n, size_t size)
{
    if (size != 0 && n > SIZE_MAX / size)
        oom();
    size_t bytes = n * size;
    void *q = realloc(p, bytes != 0 ? bytes : 1);
    if (q == NULL)
        oom();
    return q;
}

char *sluice_dec_xstrdup(const char *s)
{
    char *p = strdup(s);
    if (p == NULL)
        oom();
    return p;
}

char *sluice_dec_xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        oom();
    char *s = sluice_dec_xcalloc((size_t)n + 1, 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

void sluice_dec_pathf(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
}

/* ------------------------------------------------------------------ diagnostics */

void sluice_config_diag_init(sluice_config_diag_t *d)
{
    memset(d, 0, sizeof(*d));
}

void sluice_config_diag_dispose(sluice_config_diag_t *d)
{
    if (d == NULL)
        return;
    for (size_t i = 0; i < d->count; i++)
        free(d->msgs[i]);
    for (size_t i = 0; i < d->warning_count; i++)
        free(d->warnings[i]);
    free(d->msgs);
    free(d->warnings);
    memset(d, 0, sizeof(*d));
}

__attribute__((format(printf, 4, 0))) static void diag_append(char ***list, size_t *count, const sluice_yaml_pos_t *pos,
                                                              const char *fmt, va_list ap)
{
    char msg[1024];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    char *line;
    if (pos == NULL)
        line = sluice_dec_xstrdup(msg);
    else if (pos->line == 0)
        line = sluice_dec_xasprintf("%s: %s", pos->file, msg);
    else
        line = sluice_dec_xasprintf("%s:%u:%u: %s", pos->file, pos->line, pos->col, msg);
    *list = sluice_dec_xrealloc(*list, *count + 1, sizeof(**list));
    (*list)[(*count)++] = line;
}

void sluice_config_diag_add(sluice_config_diag_t *d, const sluice_yaml_pos_t *pos, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_append(&d->msgs, &d->count, pos, fmt, ap);
    va_end(ap);
}

void sluice_config_diag_warn(sluice_config_diag_t *d, const sluice_yaml_pos_t *pos, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_append(&d->warnings, &d->warning_count, pos, fmt, ap);
    va_end(ap);
}

/* ------------------------------------------------------------------ walker */

static int is_null(const sluice_yaml_node_t *n)
{
    return n == NULL || sluice_yaml_is_null(n) == 0;
}

int sluice_dec_map_open(sluice_dec_map_t *m, sluice_config_diag_t *diag, const sluice_yaml_node_t *node,
                        const sluice_yaml_pos_t *fallback, const char *path)
{
    memset(m, 0, sizeof(*m));
    m->diag = diag;
    snprintf(m->path, sizeof(m->path), "%s", path);
    if (fallback != NULL)
        m->pos = *fallback;
    if (is_null(node))
        return 0;
    if (node->type != SLUICE_YAML_MAP) {
        sluice_config_diag_add(diag, &node->pos, "%s: expected a map, got %s", path[0] ? path : "the top level",
                               sluice_yaml_describe(node));
        return -1;
    }
    m->node = node;
    m->pos = node->pos;
    m->used = sluice_dec_xcalloc(node->pair_count, 1);
    return 1;
}

void sluice_dec_key_path(const sluice_dec_map_t *m, const char *key, char *buf, size_t len)
{
    if (m->path[0] == '\0')
        snprintf(buf, len, "%s", key);
    else
        snprintf(buf, len, "%s.%s", m->path, key);
}

int sluice_dec_map_sub(sluice_dec_map_t *parent, const char *key, sluice_dec_map_t *child)
{
    const sluice_yaml_node_t *v = sluice_dec_take(parent, key);
    char path[SLUICE_DEC_PATH_MAX];
    sluice_dec_key_path(parent, key, path, sizeof(path));
    return sluice_dec_map_open(child, parent->diag, v, &parent->pos, path);
}

static void remember(sluice_dec_map_t *m, const char *key)
{
    for (size_t i = 0; i < m->known_count; i++) {
        if (strcmp(m->known[i], key) == 0)
            return;
    }
    if (m->known_count < SLUICE_DEC_MAX_KEYS)
        m->known[m->known_count++] = key;
}

static long find_pair(const sluice_dec_map_t *m, const char *key)
{
    if (m->node == NULL)
        return -1;
    for (size_t i = 0; i < m->node->pair_count; i++) {
        if (strcmp(m->node->pairs[i].key->scalar, key) == 0)
            return (long)i;
    }
    return -1;
}

const sluice_yaml_node_t *sluice_dec_take(sluice_dec_map_t *m, const char *key)
{
    remember(m, key);
    long i = find_pair(m, key);
    if (i < 0)
        return NULL;
    m->used[i] = 1;
    return m->node->pairs[i].value;
}

const sluice_yaml_pos_t *sluice_dec_key_pos(const sluice_dec_map_t *m, const char *key)
{
    long i = find_pair(m, key);
    return i < 0 ? NULL : &m->node->pairs[i].key->pos;
}

void sluice_dec_missing(sluice_dec_map_t *m, const char *key)
{
    if (m->path[0] == '\0')
        sluice_config_diag_add(m->diag, &m->pos, "missing required key '%s' at the top level", key);
    else
        sluice_config_diag_add(m->diag, &m->pos, "missing required key '%s' in %s", key, m->path);
}

/* Key names that hold a secret when given a value. Secrets only ever come from the
 * environment (source keys) or the vault (vendor credentials). */
static const char *const secret_keys[] = {
    "write_key", "previous_write_key", "hmac_secret", "previous_hmac_secret", "secret",      "password", "passwd",
    "token",     "access_token",       "api_key",     "api_secret",           "private_key", "key",      NULL,
};

int sluice_dec_is_secret_key(const char *k)
{
    for (size_t i = 0; secret_keys[i] != NULL; i++) {
        if (strcmp(k, secret_keys[i]) == 0)
            return 1;
    }
    return 0;
}

void sluice_dec_map_close(sluice_dec_map_t *m)
{
    for (size_t i = 0; m->node != NULL && i < m->node->pair_count; i++) {
        if (m->used[i])
            continue;
        const sluice_yaml_node_t *k = m->node->pairs[i].key;
        char path[SLUICE_DEC_PATH_MAX];
        sluice_dec_key_path(m, k->scalar, path, sizeof(path));
        char env_form[80];
        snprintf(env_form, sizeof(env_form), "%s_env", k->scalar);
        int has_env_form = 0;
        for (size_t j = 0; j < m->known_count; j++)
            has_env_form |= strcmp(m->known[j], env_form) == 0;
        if (has_env_form) {
            sluice_config_diag_add(m->diag, &k->pos,
                                   "%s: a secret written inline; put it in an environment variable and give its "
                                   "name with '%s'",
                                   path, env_form);
            continue;
        }
        if (sluice_dec_is_secret_key(k->scalar)) {
            sluice_config_diag_add(m->diag, &k->pos,
                                   "%s: a secret written inline; secrets never go in the config file (source keys "
                                   "come from environment variables, vendor credentials from the vault)",
                                   path);
            continue;
        }
        const char *best = NULL;
        size_t best_d = 3;
        for (size_t j = 0; j < m->known_count; j++) {
            size_t d = sluice_strdist(k->scalar, m->known[j], 2);
            /* d < length keeps 'x' from suggesting 'id'. */
            if (d < best_d && d < strlen(k->scalar)) {
                best_d = d;
                best = m->known[j];
            }
        }
        char where[SLUICE_DEC_PATH_MAX + 8];
        if (m->path[0] == '\0')
            snprintf(where, sizeof(where), "at the top level");
        else
            snprintf(where, sizeof(where), "in %s", m->path);
        if (strcmp(k->scalar, "<<") == 0)
            sluice_config_diag_add(
                m->diag, &k->pos, "unknown key '<<' %s (YAML merge keys are not supported: write the keys out)", where);
        else if (best != NULL)
            sluice_config_diag_add(m->diag, &k->pos, "unknown key '%s' %s (did you mean '%s'?)", k->scalar, where,
                                   best);
        else
            sluice_config_diag_add(m->diag, &k->pos, "unknown key '%s' %s", k->scalar, where);
    }
    free(m->used);
    m->used = NULL;
}

/* Shared start of every getter: the value node, or NULL when absent (missing reported when
 * required). */
static const sluice_yaml_node_t *value_of(sluice_dec_map_t *m, const char *key, int flags)
{
    const sluice_yaml_node_t *v = sluice_dec_take(m, key);
    if (v == NULL) {
        if (flags & SLUICE_DEC_REQUIRED)
            sluice_dec_missing(m, key);
        return NULL;
    }
    if (is_null(v)) {
        if (flags & SLUICE_DEC_REQUIRED) {
            char path[SLUICE_DEC_PATH_MAX];
            sluice_dec_key_path(m, key, path, sizeof(path));
            sluice_config_diag_add(m->diag, &v->pos, "%s: required, got null", path);
        }
        return NULL;
    }
    return v;
}

static int type_error(sluice_dec_map_t *m, const char *key, const sluice_yaml_node_t *v, const char *expected)
{
    char path[SLUICE_DEC_PATH_MAX];
    sluice_dec_key_path(m, key, path, sizeof(path));
    sluice_config_diag_add(m->diag, &v->pos, "%s: expected %s, got %s", path, expected, sluice_yaml_describe(v));
    return -1;
}

int sluice_dec_node_string(sluice_config_diag_t *diag, const sluice_yaml_node_t *n, const char *path, char **out)
{
    if (n->type != SLUICE_YAML_SCALAR || sluice_yaml_is_null(n) == 0) {
        sluice_config_diag_add(diag, &n->pos, "%s: expected a string, got %s", path, sluice_yaml_describe(n));
        return -1;
    }
    free(*out);
    *out = sluice_dec_xstrdup(n->scalar);
    return 1;
}

int sluice_dec_string(sluice_dec_map_t *m, const char *key, int flags, char **out)
{
    const sluice_yaml_node_t *v = value_of(m, key, flags);
    if (v == NULL)
        return (flags & SLUICE_DEC_REQUIRED) ? -1 : 0;
    char path[SLUICE_DEC_PATH_MAX];
    sluice_dec_key_path(m, key, path, sizeof(path));
    return sluice_dec_node_string(m->diag, v, path, out);
}

char *sluice_dec_url_shown(const char *s)
{
    /* Any case: HTTPS://u:pw@host is refused for its scheme, and quoted all the same. */
    const char *rest = strncasecmp(s, "https://", 8) == 0 ? s + 8 : strncasecmp(s, "http://", 7) == 0 ? s + 7 : NULL;
    if (rest == NULL)
        return strdup(s);
    char *shown = malloc(strlen(s) + 8);
    if (shown == NULL)
        return NULL;
    size_t o = (size_t)(rest - s);
    memcpy(shown, s, o);
    size_t auth = strcspn(rest, "/?#");
    const char *host = rest;
    for (const char *p = rest; p < rest + auth; p++) {
        if (*p == '@')
            host = p + 1; /* the user part runs to the last '@' */
    }
    if (host != rest) {
        memcpy(shown + o, "***@", 4);
        o += 4;
    }
    size_t keep = strcspn(host, "?#");
    memcpy(shown + o, host, keep);
    o += keep;
    if (host[keep] != '\0') {
        shown[o++] = host[keep];
        if (host[keep + 1] != '\0') {
            memcpy(shown + o, "***", 3);
            o += 3;
        }
    }
    shown[o] = '\0';
    return shown;
}

int sluice_dec_checked_string(sluice_dec_map_t *m, const char *key, int flags, sluice_dec_check_fn check, char **out)
{
    char *s = NULL;
    int rc = sluice_dec_string(m, key, flags, &s);
    if (rc != 1)
        return rc;
    const char *why = check(s);
    if (why != NULL) {
        char path[SLUICE_DEC_PATH_MAX];
        sluice_dec_key_path(m, key, path, sizeof(path));
        const sluice_yaml_pos_t *pos = &sluice_yaml_map_get(m->node, key)->pos;
        /* A value with a line break or other control character is not echoed: it would break the
         * message (and the log line) it is quoted in. */
        int plain = 1;
        for (const unsigned char *p = (const unsigned char *)s; *p && plain; p++)
            plain = *p >= 0x20 && *p != 0x7f;
        /* A URL is quoted without its user info and query: where a proxy's key or a password is
         * written (https://u:pw@host, ?code=<key>), and the message reaches every log and CI
         * output the refusal is printed to, which the config file does not. */
        char *shown = plain ? sluice_dec_url_shown(s) : NULL;
        if (shown != NULL)
            sluice_config_diag_add(m->diag, pos, "%s: '%s' %s", path, shown, why);
        else
            sluice_config_diag_add(m->diag, pos, "%s: %s", path, why);
        free(shown);
        free(s);
        return -1;
    }
    free(*out);
    *out = s;
    return 1;
}

static int get_integer(sluice_dec_map_t *m, const char *key, int flags, unsigned long long min, unsigned long long max,
                       unsigned long long *out)
{
    const sluice_yaml_node_t *v = value_of(m, key, flags);
    if (v == NULL)
        return (flags & SLUICE_DEC_REQUIRED) ? -1 : 0;
    long long n;
    if (v->type != SLUICE_YAML_SCALAR || sluice_yaml_as_int(v, &n) < 0)
        return type_error(m, key, v, "an integer");
    const char *d = v->scalar + (v->scalar[0] == '-' || v->scalar[0] == '+');
    if (d[0] == '0' && d[1] != '\0') {
        char path[SLUICE_DEC_PATH_MAX];
        sluice_dec_key_path(m, key, path, sizeof(path));
        sluice_config_diag_add(m->diag, &v->pos,
                               "%s: '%s' has a leading zero, which YAML 1.1 reads as octal: write it without the zero "
                               "(sluice reads decimal)",
                               path, v->scalar);
        return -1;
    }
    if (n < 0 || (unsigned long long)n < min || (unsigned long long)n > max) {
        char path[SLUICE_DEC_PATH_MAX];
        sluice_dec_key_path(m, key, path, sizeof(path));
        sluice_config_diag_add(m->diag, &v->pos, "%s: %lld is out of range (%llu..%llu)", path, n, min, max);
        return -1;
    }
    *out = (unsigned long long)n;
    return 1;
}

int sluice_dec_unsigned(sluice_dec_map_t *m, const char *key, int flags, unsigned long long min, unsigned long long max,
                        unsigned *out)
{
    unsigned long long v;
    if (max > UINT_MAX)
        max = UINT_MAX;
    int rc = get_integer(m, key, flags, min, max, &v);
    if (rc == 1)
        *out = (unsigned)v;
    return rc;
}

int sluice_dec_size(sluice_dec_map_t *m, const char *key, int flags, unsigned long long min, unsigned long long max,
                    size_t *out)
{
    unsigned long long v;
    if (max > SIZE_MAX)
        max = SIZE_MAX;
    int rc = get_integer(m, key, flags, min, max, &v);
    if (rc == 1)
        *out = (size_t)v;
    return rc;
}

int sluice_dec_double(sluice_dec_map_t *m, const char *key, int flags, double min, double max, double *out)
{
    const sluice_yaml_node_t *v = value_of(m, key, flags);
    if (v == NULL)
        return (flags & SLUICE_DEC_REQUIRED) ? -1 : 0;
    double d;
    if (v->type != SLUICE_YAML_SCALAR || sluice_yaml_as_double(v, &d) < 0)
        return type_error(m, key, v, "a number");
    if (!(d >= min && d <= max)) {
        char path[SLUICE_DEC_PATH_MAX];
        sluice_dec_key_path(m, key, path, sizeof(path));
        sluice_config_diag_add(m->diag, &v->pos, "%s: %s is out of range (%g..%g)", path, v->scalar, min, max);
        return -1;
    }
    *out = d;
    return 1;
}

int sluice_dec_bool(sluice_dec_map_t *m, const char *key, int *out)
{
    const sluice_yaml_node_t *v = value_of(m, key, 0);
    if (v == NULL)
        return 0;
    int b;
    if (v->type != SLUICE_YAML_SCALAR || sluice_yaml_as_bool(v, &b) < 0)
        return type_error(m, key, v, "a boolean (true or false)");
    *out = b;
    return 1;
}

int sluice_dec_enum(sluice_dec_map_t *m, const char *key, int flags, const char *const *names, int *out)
{
    const sluice_yaml_node_t *v = value_of(m, key, flags);
    if (v == NULL)
        return (flags & SLUICE_DEC_REQUIRED) ? -1 : 0;
    if (v->type != SLUICE_YAML_SCALAR)
        return type_error(m, key, v, "a string");
    for (int i = 0; names[i] != NULL; i++) {
        if (strcmp(v->scalar, names[i]) == 0) {
            *out = i;
            return 1;
        }
    }
    char allowed[256] = "";
    size_t off = 0;
    for (int i = 0; names[i] != NULL && off < sizeof(allowed); i++) {
        int n = snprintf(allowed + off, sizeof(allowed) - off, "%s%s", i ? ", " : "", names[i]);
        if (n < 0)
            break;
        off += (size_t)n;
    }
    char path[SLUICE_DEC_PATH_MAX];
    sluice_dec_key_path(m, key, path, sizeof(path));
    sluice_config_diag_add(m->diag, &v->pos, "%s: '%s' is not one of: %s", path, v->scalar, allowed);
    return -1;
}

int sluice_dec_list(sluice_dec_map_t *m, const char *key, int flags, const sluice_yaml_node_t **out)
{
    *out = NULL;
    const sluice_yaml_node_t *v = value_of(m, key, flags);
    if (v == NULL)
        return (flags & SLUICE_DEC_REQUIRED) ? -1 : 0;
    if (v->type != SLUICE_YAML_SEQ)
        return type_error(m, key, v, "a list");
    *out = v;
    return 1;
}

int sluice_dec_string_list(sluice_dec_map_t *m, const char *key, int flags, sluice_dec_check_fn check, int nodup,
                           char ***out, size_t *count)
{
    const sluice_yaml_node_t *seq;
    int rc = sluice_dec_list(m, key, flags, &seq);
    if (rc <= 0)
        return rc;
    char base[SLUICE_DEC_PATH_MAX];
    sluice_dec_key_path(m, key, base, sizeof(base));
    for (size_t i = 0; i < seq->item_count; i++) {
        const sluice_yaml_node_t *it = seq->items[i];
        char path[SLUICE_DEC_PATH_MAX + 24];
        snprintf(path, sizeof(path), "%s[%zu]", base, i);
        char *s = NULL;
        if (sluice_dec_node_string(m->diag, it, path, &s) < 0) {
            rc = -1;
            continue;
        }
        const char *why = check != NULL ? check(s) : NULL;
        if (why != NULL) {
            sluice_config_diag_add(m->diag, &it->pos, "%s: '%s' %s", path, s, why);
            free(s);
            rc = -1;
            continue;
        }
        int dup = 0;
        for (size_t j = 0; nodup && j < *count; j++)
            dup |= strcmp((*out)[j], s) == 0;
        if (dup) {
            sluice_config_diag_add(m->diag, &it->pos, "%s: '%s' is listed twice", path, s);
            free(s);
            rc = -1;
            continue;
        }
        *out = sluice_dec_xrealloc(*out, *count + 1, sizeof(**out));
        (*out)[(*count)++] = s;
    }
    return rc;
}

/* ------------------------------------------------------------------ checkers */

static int is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

const char *sluice_dec_check_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return "must be 1 to 64 characters long";
    for (size_t i = 0; i < n; i++) {
        if (!is_alnum(s[i]) && s[i] != '_' && s[i] != '-')
            return "may only contain letters, digits, '_' and '-'";
    }
    return NULL;
}

const char *sluice_dec_check_token(const char *s)
{
    if (s[0] == '\0')
        return "must not be empty";
    for (const char *p = s; *p; p++) {
        if (!is_alnum(*p) && *p != '_' && *p != '-' && *p != '.')
            return "may only contain letters, digits, '_', '-' and '.'";
    }
    return NULL;
}

const char *sluice_dec_check_cookie_name(const char *s)
{
    if (s[0] == '\0' || strlen(s) > 64)
        return "must be 1 to 64 characters long";
    for (const char *p = s; *p; p++) {
        if (!is_alnum(*p) && *p != '_' && *p != '-' && *p != '.')
            return "is not a cookie name (letters, digits, '_', '-' and '.')";
    }
    return NULL;
}

const char *sluice_dec_check_env_name(const char *s)
{
    if (s[0] == '\0' || (s[0] >= '0' && s[0] <= '9'))
        return "is not an environment variable name (letters, digits and '_', not starting with a digit)";
    for (const char *p = s; *p; p++) {
        if (!is_alnum(*p) && *p != '_')
            return "is not an environment variable name (letters, digits and '_', not starting with a digit)";
    }
    return NULL;
}

/* host[:port] as it appears in an origin or URL authority; [v6] brackets allowed. */
static const char *check_authority(const char *s, size_t n)
{
    if (n == 0)
        return "has no host";
    size_t host_end = n;
    if (s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (close == NULL)
            return "has an unclosed '['";
        host_end = (size_t)(close - s) + 1;
        for (size_t i = 1; i + 1 < host_end; i++) {
            if (!is_alnum(s[i]) && s[i] != ':' && s[i] != '.')
                return "has a bad IPv6 address";
        }
    } else {
        const char *colon = memchr(s, ':', n);
        if (colon != NULL)
            host_end = (size_t)(colon - s);
        if (host_end == 0)
            return "has no host";
        for (size_t i = 0; i < host_end; i++) {
            if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '.')
                return "has a bad host name";
        }
    }
    if (host_end < n) {
        if (s[host_end] != ':' || host_end + 1 == n)
            return "has a bad port";
        unsigned long port = 0;
        for (size_t i = host_end + 1; i < n; i++) {
            if (s[i] < '0' || s[i] > '9')
                return "has a bad port";
            port = port * 10 + (unsigned long)(s[i] - '0');
            if (port > 65535)
                return "has a bad port";
        }
        if (port == 0)
            return "has a bad port";
    }
    return NULL;
}

const char *sluice_dec_check_origin(const char *s)
{
    const char *rest;
    if (strncmp(s, "https://", 8) == 0)
        rest = s + 8;
    else if (strncmp(s, "http://", 7) == 0)
        rest = s + 7;
    else
        return "is not an origin (expected http(s)://host[:port], e.g. https://shop.example)";
    if (strpbrk(rest, "/?#@*") != NULL)
        return "is not an origin (no path, trailing '/', query, user or wildcard: http(s)://host[:port])";
    /* Origins are compared byte for byte with the browser's Origin header, which leaves out the
     * scheme's default port and a host's trailing dot: such an entry would never match. */
    size_t n = strlen(rest);
    int https = rest == s + 8;
    if ((https && n > 4 && strcmp(rest + n - 4, ":443") == 0) || (!https && n > 3 && strcmp(rest + n - 3, ":80") == 0))
        return "names the scheme's default port, which a browser's Origin leaves out: write it without the port";
    const char *colon = rest[0] == '[' ? NULL : strrchr(rest, ':');
    size_t host_len = colon != NULL ? (size_t)(colon - rest) : n;
    if (host_len > 0 && rest[host_len - 1] == '.')
        return "ends its host with '.', which a browser's Origin leaves out: write it without the dot";
    /* A browser serializes the host in lowercase (IPv6 hex too): Shop.Acme.test would refuse
     * every request from the shop with 403 origin_not_allowed. */
    for (size_t i = 0; i < n; i++) {
        if (rest[i] >= 'A' && rest[i] <= 'Z')
            return "has capitals in its host, which a browser's Origin writes in lowercase: write it in lowercase";
    }
    return check_authority(rest, n);
}

const char *sluice_dec_check_host(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 253)
        return "is not a host name";
    for (size_t i = 0; i < n; i++) {
        if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '.')
            return "is not a host name (letters, digits, '-' and '.')";
    }
    if (s[0] == '.' || s[n - 1] == '.' || strstr(s, "..") != NULL)
        return "is not a host name (empty label)";
    return NULL;
}

const char *sluice_dec_check_http_url(const char *s)
{
    const char *rest;
    if (strncmp(s, "https://", 8) == 0)
        rest = s + 8;
    else if (strncmp(s, "http://", 7) == 0)
        rest = s + 7;
    else
        return "is not an http:// or https:// URL";
    size_t n = strcspn(rest, "/?#");
    if (memchr(rest, '@', n) != NULL)
        return "has user info in the URL; credentials come from the vault, not the config";
    const char *why = check_authority(rest, n);
    if (why != NULL)
        return why;
    for (const char *p = rest; *p; p++) {
        if ((unsigned char)*p <= 0x20 || *p == 0x7f)
            return "contains spaces or control characters";
    }
    /* Plain http only to this machine (a local stub or sidecar): elsewhere the vendor's
     * credentials (in the URL or a header) and the events would cross the network in clear. */
    if (rest == s + 7 && !(strncmp(rest, "127.", 4) == 0 || strncmp(rest, "[::1]", 5) == 0 ||
                           (strncmp(rest, "localhost", 9) == 0 && strchr(":/?#", rest[9]) != NULL)))
        return "is plain http:// to another machine: credentials and events would cross the network unencrypted "
               "(use https://; http:// is for 127.0.0.1, [::1] and localhost)";
    return NULL;
}

const char *sluice_dec_check_base_url(const char *s)
{
    const char *why = sluice_dec_check_http_url(s);
    if (why != NULL)
        return why;
    /* Each request's path is appended to a base URL: after a '?' or '#' it became part of the
     * query or a fragment never sent, and the request (with its credentials) went to the base's
     * own path, which a proxy may well answer 2xx. */
    if (strpbrk(s, "?#") != NULL)
        return "has a query or fragment ('?' or '#'); a base URL is scheme, host and an optional path prefix, "
               "to which each request's path is appended";
    return NULL;
}

/* ------------------------------------------------------------------ time, paths */

int sluice_dec_parse_time(const char *s, time_t *out)
{
    int64_t ms;
    /* The one set of rules (common/time.h); config times before 1970 mean a typo. */
    if (sluice_time_parse(s, strlen(s), SLUICE_TIME_DATE_OK, &ms) != 0 || ms < 0)
        return -1;
    *out = (time_t)(ms / 1000);
    return 0;
}

char *sluice_dec_resolve_path(const char *dir, const char *path)
{
    if (path[0] == '/')
        return sluice_dec_xstrdup(path);
    char cwd[4096];
    const char *base = dir;
    char *joined_dir = NULL;
    if (dir[0] != '/') {
        if (getcwd(cwd, sizeof(cwd)) == NULL)
            return sluice_dec_xstrdup(path); /* keep it relative to the working directory */
        joined_dir = strcmp(dir, ".") == 0 ? sluice_dec_xstrdup(cwd) : sluice_dec_xasprintf("%s/%s", cwd, dir);
        base = joined_dir;
    }
    char *out = sluice_dec_xasprintf("%s/%s", base, path);
    free(joined_dir);
    return out;
}

/* ------------------------------------------------------------------ environment */

typedef struct env_entry {
    const char *text; /* "NAME=value" */
    size_t pos;       /* in environ: getenv returns the first of a name written twice */
} env_entry_t;

static _Thread_local env_entry_t *env_sorted; /* by name, then position */
static _Thread_local size_t env_count;

/* Orders "NAME=value" entries by NAME ('=' ends a name, and sorts as its end). */
static int env_entry_cmp(const char *a, const char *b)
{
    for (;; a++, b++) {
        unsigned char ca = *a == '=' ? 0 : (unsigned char)*a, cb = *b == '=' ? 0 : (unsigned char)*b;
        if (ca != cb || ca == 0)
            return (ca > cb) - (ca < cb);
    }
}

static int env_qsort_cmp(const void *a, const void *b)
{
    const env_entry_t *x = a, *y = b;
    int c = env_entry_cmp(x->text, y->text);
    return c != 0 ? c : (x->pos > y->pos) - (x->pos < y->pos);
}

void sluice_dec_env_begin(void)
{
    size_t n = 0;
    while (environ != NULL && environ[n] != NULL)
        n++;
    env_sorted = malloc((n ? n : 1) * sizeof(*env_sorted));
    env_count = 0;
    if (env_sorted == NULL)
        return; /* getenv then */
    for (size_t i = 0; i < n; i++)
        if (strchr(environ[i], '=') != NULL)
            env_sorted[env_count++] = (env_entry_t){environ[i], i};
    qsort(env_sorted, env_count, sizeof(*env_sorted), env_qsort_cmp);
}

void sluice_dec_env_end(void)
{
    free(env_sorted);
    env_sorted = NULL;
    env_count = 0;
}

const char *sluice_dec_getenv(const char *name)
{
    if (env_sorted == NULL || strchr(name, '=') != NULL)
        return getenv(name);
    size_t lo = 0, hi = env_count; /* the first entry not below name */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (env_entry_cmp(env_sorted[mid].text, name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == env_count || env_entry_cmp(env_sorted[lo].text, name) != 0)
        return NULL;
    return strchr(env_sorted[lo].text, '=') + 1;
}
