/*
 * Vendors own their config: each vendor's declared options (vendor.h, sluice_vendor_option_t)
 * checked against an integration's YAML keys with file:line:col errors and did-you-mean, the
 * typed values the vendor files read, the registry config/ consults while loading (installed by a
 * constructor when this library is linked in), and the per-integration event mapping applied
 * around a vendor's map(). Decoding runs on the thread that loads the config; the getters and
 * sluice_vendor_map are reentrant (the worker's loop thread).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/strdist.h"
#include "crypto/ct.h"
#include "json/parse.h"
#include "json/write.h"
#include "vendors/vendor.h"

typedef struct opt_value {
    const sluice_vendor_option_t *decl;
    int set;
    char *str; /* STRING, and the text of BOOL/UINT values */
    int b;
    unsigned long long u;
    sluice_kv_t *kv;
    size_t kv_count;
} opt_value_t;

typedef struct opt_values {
    size_t count;
    opt_value_t v[];
} opt_values_t;

int sluice_vendor_kind_parse(const char *name)
{
    const sluice_vendor_ops_t *ops = sluice_vendor_find(name);
    return ops != NULL ? (int)ops->kind : -1;
}

const char *sluice_vendor_kind_name(sluice_vendor_kind_t v)
{
    const sluice_vendor_ops_t *ops = sluice_vendor_get(v);
    return ops != NULL ? ops->name : "unknown";
}

/* ---------------------------------------------------------------- getters */

static const opt_value_t *value_of(const sluice_integration_t *it, const char *name)
{
    const opt_values_t *vals = it != NULL ? it->options : NULL;
    for (size_t i = 0; vals != NULL && i < vals->count; i++) {
        if (strcmp(vals->v[i].decl->name, name) == 0)
            return &vals->v[i];
    }
    return NULL;
}

const char *sluice_vendor_opt(const sluice_integration_t *it, const char *name)
{
    const opt_value_t *v = value_of(it, name);
    if (v == NULL)
        return NULL;
    return v->set ? v->str : v->decl->def;
}

int sluice_vendor_opt_bool(const sluice_integration_t *it, const char *name)
{
    const opt_value_t *v = value_of(it, name);
    if (v == NULL)
        return 0;
    return v->set ? v->b : (v->decl->def != NULL && strcmp(v->decl->def, "true") == 0);
}

unsigned long long sluice_vendor_opt_uint(const sluice_integration_t *it, const char *name)
{
    const opt_value_t *v = value_of(it, name);
    if (v == NULL)
        return 0;
    return v->set ? v->u : (v->decl->def != NULL ? strtoull(v->decl->def, NULL, 10) : 0);
}

const sluice_kv_t *sluice_vendor_opt_headers(const sluice_integration_t *it, const char *name, size_t *n)
{
    const opt_value_t *v = value_of(it, name);
    *n = v != NULL ? v->kv_count : 0;
    return v != NULL ? v->kv : NULL;
}

/* ---------------------------------------------------------------- decoding */

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (p == NULL)
        abort(); /* out of memory while loading the config, as in config/ */
    return p;
}

static char *xstrdup(const char *s)
{
    char *d = strdup(s);
    if (d == NULL)
        abort();
    return d;
}

static const sluice_vendor_option_t *find_decl(const sluice_vendor_ops_t *ops, const char *name)
{
    for (size_t i = 0; ops->options != NULL && ops->options[i].name != NULL; i++) {
        if (strcmp(ops->options[i].name, name) == 0)
            return &ops->options[i];
    }
    return NULL;
}

/* Headers that carry credentials; those belong in the vault, not the file. */
static int is_secret_header(const char *name)
{
    static const char *const exact[] = {"authorization", "proxy-authorization", "cookie", NULL};
    static const char *const parts[] = {"token", "secret", "password", "api-key", "apikey", "api_key", NULL};
    for (size_t i = 0; exact[i] != NULL; i++) {
        if (strcasecmp(name, exact[i]) == 0)
            return 1;
    }
    for (size_t i = 0; parts[i] != NULL; i++) {
        if (strcasestr(name, parts[i]) != NULL)
            return 1;
    }
    return 0;
}

/* Why a configured header cannot be sent as written, or NULL. The body's framing is libcurl's:
 * `Content-Length: 3` went out with the whole body after it, so the receiver read 3 bytes as the
 * request and the rest (other events) as the next one on the connection. The X-Sluice-* pair is
 * the signature: a configured one went out next to sluice's, and a receiver taking the first
 * refused every request. */
static const char *reserved_header(const char *name)
{
    static const char *const framing[] = {"content-length", "transfer-encoding", NULL};
    for (size_t i = 0; framing[i] != NULL; i++) {
        if (strcasecmp(name, framing[i]) == 0)
            return "frames the request; libcurl sets it from the body";
    }
    if (strcasecmp(name, "x-sluice-signature") == 0 || strcasecmp(name, "x-sluice-timestamp") == 0)
        return "is set by sluice on signed requests (sign: true)";
    return NULL;
}

static int is_token(const char *s)
{
    if (*s == '\0')
        return 0;
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (!((c | 32) >= 'a' && (c | 32) <= 'z') && !(c >= '0' && c <= '9') && c != '_' && c != '.' && c != '-')
            return 0;
    }
    return 1;
}

/* "path.key" into buf; a longer one is cut, which only shortens a message. */
static void join_path(char *buf, size_t cap, const char *path, const char *key)
{
    int w = snprintf(buf, cap, "%s.%s", path, key);
    if (w < 0)
        buf[0] = '\0';
}

static int is_null(const sluice_yaml_node_t *n)
{
    return sluice_yaml_is_null(n) == 0;
}

/* What an operator with a templated config does instead. */
#define NO_SUBSTITUTION_FIX " (write the value itself, or render the file with its variables set, e.g. envsubst)"

static void decode_headers(const sluice_vendor_ops_t *ops, opt_value_t *v, const sluice_yaml_node_t *h,
                           const char *path, sluice_config_diag_t *diag)
{
    if (h->type != SLUICE_YAML_MAP) {
        sluice_config_diag_add(diag, &h->pos, "%s: expected a map, got %s", path, sluice_yaml_describe(h));
        return;
    }
    v->kv = xcalloc(h->pair_count, sizeof(*v->kv));
    v->set = 1;
    if (h->pair_count > SLUICE_VENDOR_MAX_OPT_HEADERS)
        sluice_config_diag_add(diag, &h->pos, "%s: %zu headers, at most %d", path, h->pair_count,
                               SLUICE_VENDOR_MAX_OPT_HEADERS);
    for (size_t i = 0; i < h->pair_count; i++) {
        const sluice_yaml_node_t *k = h->pairs[i].key, *val = h->pairs[i].value;
        char kpath[512];
        join_path(kpath, sizeof(kpath), path, k->scalar);
        if (!is_token(k->scalar)) {
            sluice_config_diag_add(diag, &k->pos, "%s: '%s' is not a header name", kpath, k->scalar);
            continue;
        }
        const char *reserved = reserved_header(k->scalar);
        if (reserved != NULL) {
            sluice_config_diag_add(diag, &k->pos, "%s: '%s' %s", kpath, k->scalar, reserved);
            continue;
        }
        if (is_secret_header(k->scalar)) {
            if (v->decl->inline_hint != NULL)
                sluice_config_diag_add(diag, &k->pos, "%s: a secret written inline; %s", kpath, v->decl->inline_hint);
            else
                sluice_config_diag_add(diag, &k->pos,
                                       "%s: a secret written inline; %s credentials live in the vault (sluicectl "
                                       "vault put)",
                                       kpath, ops->name);
            continue;
        }
        if (val->type != SLUICE_YAML_SCALAR || is_null(val)) {
            sluice_config_diag_add(diag, &val->pos, "%s: expected a string, got %s", kpath, sluice_yaml_describe(val));
            continue;
        }
        if (strpbrk(val->scalar, "\r\n") != NULL) {
            sluice_config_diag_add(diag, &val->pos, "%s: header values may not contain line breaks", kpath);
            continue;
        }
        if (sluice_config_looks_like_variable(val->scalar)) {
            sluice_config_diag_add(diag, &val->pos, "%s: '%s' " SLUICE_CONFIG_NO_SUBSTITUTION "%s", kpath, val->scalar,
                                   NO_SUBSTITUTION_FIX);
            continue;
        }
        v->kv[v->kv_count].key = xstrdup(k->scalar);
        v->kv[v->kv_count].value = xstrdup(val->scalar);
        v->kv_count++;
    }
}

static void decode_value(const sluice_vendor_ops_t *ops, opt_value_t *v, const sluice_yaml_node_t *n, const char *path,
                         sluice_config_diag_t *diag)
{
    const sluice_vendor_option_t *d = v->decl;
    if (d->type == SLUICE_VOPT_HEADERS) {
        decode_headers(ops, v, n, path, diag);
        return;
    }
    if (n->type != SLUICE_YAML_SCALAR) {
        sluice_config_diag_add(diag, &n->pos, "%s: expected %s, got %s", path,
                               d->type == SLUICE_VOPT_BOOL   ? "true or false"
                               : d->type == SLUICE_VOPT_UINT ? "an integer"
                                                             : "a string",
                               sluice_yaml_describe(n));
        return;
    }
    const char *s = n->scalar;
    switch (d->type) {
    case SLUICE_VOPT_STRING: {
        /* A template rendered without its variable set: `pixel_id: '${PIXEL_ID}'` was accepted
         * and the worker sent every event to a URL holding the placeholder. */
        if (sluice_config_looks_like_variable(s)) {
            sluice_config_diag_add(diag, &n->pos, "%s: '%s' " SLUICE_CONFIG_NO_SUBSTITUTION "%s", path, s,
                                   NO_SUBSTITUTION_FIX);
            return;
        }
        const char *why = d->check != NULL ? d->check(s) : NULL;
        if (why != NULL) {
            /* Quoted without a URL's query or user info: a webhook's ?token= was printed into
             * the log of every program that refused to start (as base_url's, config/decode.c). */
            char *shown = sluice_config_url_shown(s);
            if (shown != NULL)
                sluice_config_diag_add(diag, &n->pos, "%s: '%s' %s", path, shown, why);
            else
                sluice_config_diag_add(diag, &n->pos, "%s: %s", path, why);
            free(shown);
            return;
        }
        break;
    }
    case SLUICE_VOPT_BOOL:
        if (sluice_yaml_as_bool(n, &v->b) == 0)
            break;
        sluice_config_diag_add(diag, &n->pos, "%s: expected true or false, got '%s'", path, s);
        return;
    case SLUICE_VOPT_UINT: {
        char *end;
        unsigned long long u = strtoull(s, &end, 10);
        if (*s == '\0' || *s == '-' || *end != '\0') {
            sluice_config_diag_add(diag, &n->pos, "%s: expected an integer, got '%s'", path, s);
            return;
        }
        if (u < d->min || u > d->max) {
            sluice_config_diag_add(diag, &n->pos, "%s: %llu is out of range (%llu..%llu)", path, u, d->min, d->max);
            return;
        }
        v->u = u;
        break;
    }
    case SLUICE_VOPT_HEADERS: break;
    }
    v->str = xstrdup(s);
    v->set = 1;
}

static int is_common_key(const char *k)
{
    for (size_t i = 0; sluice_config_integration_keys[i] != NULL; i++) {
        if (strcmp(sluice_config_integration_keys[i], k) == 0)
            return 1;
    }
    return 0;
}

/* "pixel_id, api_version (optional), ..." of the YAML options. */
static void option_names(const sluice_vendor_ops_t *ops, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = '\0';
    for (size_t i = 0; ops->options != NULL && ops->options[i].name != NULL; i++) {
        const sluice_vendor_option_t *d = &ops->options[i];
        if (d->secret)
            continue;
        int w = snprintf(buf + n, cap - n, "%s%s%s", n ? ", " : "", d->name, d->required ? "" : " (optional)");
        if (w < 0 || (size_t)w >= cap - n)
            return;
        n += (size_t)w;
    }
    if (n == 0)
        snprintf(buf, cap, "no options of its own");
}

static void unknown_key(const sluice_vendor_ops_t *ops, const sluice_yaml_node_t *k, const char *path,
                        sluice_config_diag_t *diag)
{
    const char *best = NULL;
    size_t best_d = 3;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0;; i++) {
            const char *cand;
            if (pass == 0) {
                if (ops->options == NULL || ops->options[i].name == NULL)
                    break;
                if (ops->options[i].secret)
                    continue;
                cand = ops->options[i].name;
            } else {
                if ((cand = sluice_config_integration_keys[i]) == NULL)
                    break;
            }
            size_t d = sluice_strdist(k->scalar, cand, 2);
            /* d < length keeps 'x' from suggesting 'id'. */
            if (d < best_d && d < strlen(k->scalar)) {
                best_d = d;
                best = cand;
            }
        }
    }
    if (best != NULL) {
        sluice_config_diag_add(diag, &k->pos, "unknown key '%s' in %s (did you mean '%s'?)", k->scalar, path, best);
        return;
    }
    /* The option of another vendor: say whose. */
    for (size_t i = 0; i < SLUICE_VENDOR_COUNT; i++) {
        const sluice_vendor_ops_t *o = sluice_vendor_get((sluice_vendor_kind_t)i);
        const sluice_vendor_option_t *d = o != ops ? find_decl(o, k->scalar) : NULL;
        if (d != NULL && !d->secret) {
            sluice_config_diag_add(diag, &k->pos, "%s.%s: only for vendor %s", path, k->scalar, o->name);
            return;
        }
    }
    char names[512];
    option_names(ops, names, sizeof(names));
    sluice_config_diag_add(diag, &k->pos, "unknown key '%s' in %s (vendor %s takes: %s)", k->scalar, path, ops->name,
                           names);
}

static void free_values(opt_values_t *vals)
{
    if (vals == NULL)
        return;
    for (size_t i = 0; i < vals->count; i++) {
        free(vals->v[i].str);
        for (size_t j = 0; j < vals->v[i].kv_count; j++) {
            free(vals->v[i].kv[j].key);
            free(vals->v[i].kv[j].value);
        }
        free(vals->v[i].kv);
    }
    free(vals);
}

static void reg_decode(sluice_integration_t *it, const char *path, int flags, sluice_config_diag_t *diag)
{
    (void)flags;
    const sluice_vendor_ops_t *ops = sluice_vendor_get(it->vendor);
    const sluice_yaml_node_t *n = it->node;
    if (ops == NULL || n == NULL)
        return;
    size_t count = 0;
    for (size_t i = 0; ops->options != NULL && ops->options[i].name != NULL; i++)
        count++;
    opt_values_t *vals = xcalloc(1, sizeof(*vals) + count * sizeof(vals->v[0]));
    vals->count = count;
    for (size_t i = 0; i < count; i++)
        vals->v[i].decl = &ops->options[i];
    /* The map's own position first, then its keys in order. */
    for (size_t i = 0; i < count; i++) {
        const sluice_vendor_option_t *d = vals->v[i].decl;
        if (d->required && !d->secret && sluice_yaml_map_get(n, d->name) == NULL)
            sluice_config_diag_add(diag, &n->pos, "missing required key '%s' in %s (needed by vendor %s)", d->name,
                                   path, ops->name);
    }
    for (size_t i = 0; i < n->pair_count; i++) {
        const sluice_yaml_node_t *k = n->pairs[i].key, *val = n->pairs[i].value;
        if (is_common_key(k->scalar))
            continue;
        const sluice_vendor_option_t *d = find_decl(ops, k->scalar);
        char kpath[512];
        join_path(kpath, sizeof(kpath), path, k->scalar);
        if (d != NULL && d->secret) {
            sluice_config_diag_add(diag, &k->pos,
                                   "%s: a secret written inline; %s credentials live in the vault (sluicectl vault "
                                   "put), never in the config file",
                                   kpath, ops->name);
            continue;
        }
        if (d == NULL) {
            unknown_key(ops, k, path, diag);
            continue;
        }
        if (is_null(val)) {
            /* YAML null counts as absent, as everywhere in the config, so a required option
             * left empty (`pixel_id:`, a template's unset value) is missing, as the walker
             * says of its own keys: taken as unset, the vendor reads NULL where its request
             * needs the value (meta formats it into the URL, webhook copies it). */
            if (d->required)
                sluice_config_diag_add(diag, &val->pos, "%s: required, got null (needed by vendor %s)", kpath,
                                       ops->name);
            continue;
        }
        decode_value(ops, &vals->v[d - ops->options], val, kpath, diag);
    }
    it->options = vals;
}

static void reg_dispose(sluice_integration_t *it)
{
    free_values(it->options);
    it->options = NULL;
}

static void reg_dump(const sluice_integration_t *it, json_t *o)
{
    const opt_values_t *vals = it->options;
    for (size_t i = 0; vals != NULL && i < vals->count; i++) {
        const opt_value_t *v = &vals->v[i];
        const sluice_vendor_option_t *d = v->decl;
        if (d->secret)
            continue;
        switch (d->type) {
        case SLUICE_VOPT_STRING: {
            const char *s = sluice_vendor_opt(it, d->name);
            json_object_set_new(o, d->name, s != NULL ? json_string(s) : json_null());
            break;
        }
        case SLUICE_VOPT_BOOL:
            json_object_set_new(o, d->name, json_boolean(sluice_vendor_opt_bool(it, d->name)));
            break;
        case SLUICE_VOPT_UINT:
            json_object_set_new(o, d->name, json_integer((json_int_t)sluice_vendor_opt_uint(it, d->name)));
            break;
        case SLUICE_VOPT_HEADERS: {
            json_t *h = json_object();
            for (size_t j = 0; j < v->kv_count; j++)
                json_object_set_new(h, v->kv[j].key, json_string(v->kv[j].value));
            json_object_set_new(o, d->name, h);
            break;
        }
        }
    }
}

static int reg_find(const char *name)
{
    return sluice_vendor_kind_parse(name);
}

static void reg_limits(int kind, unsigned *def_events, unsigned *max_events, size_t *def_bytes, size_t *max_bytes)
{
    const sluice_vendor_ops_t *ops = sluice_vendor_get((sluice_vendor_kind_t)kind);
    if (ops == NULL)
        return;
    *def_events = ops->batch_events;
    *max_events = ops->batch_events_max;
    *def_bytes = ops->batch_bytes;
    *max_bytes = ops->batch_bytes_max;
}

static const sluice_config_vendors_t registry = {
    .find = reg_find,
    .names = sluice_vendor_names,
    .limits = reg_limits,
    .decode = reg_decode,
    .dispose = reg_dispose,
    .dump = reg_dump,
};

/* Every program that links the vendors has them checked when it loads a config. */
__attribute__((constructor)) static void install_registry(void)
{
    sluice_config_set_vendors(&registry);
}

/* ---------------------------------------------------------------- event mapping */

/* The first value source reaches in the event (borrowed), or NULL. */
/* A copy of v, a value of e's event, whose numbers the vendor's body writes as the client sent
 * them (sluice_vendor_number_json); json_deep_copy knows no texts. NULL when memory runs out. The
 * event's nesting is bounded by the gateway's max_depth. */
static json_t *copy_as_sent(const sluice_envelope_t *e, json_t *v)
{
    if (json_is_number(v))
        return sluice_vendor_number_json(e, v, 0);
    json_t *out = NULL;
    if (json_is_object(v)) {
        out = json_object();
        const char *k;
        json_t *c;
        json_object_foreach(v, k, c) {
            if (out == NULL || json_object_set_new(out, k, copy_as_sent(e, c)) != 0) {
                json_decref(out);
                return NULL;
            }
        }
    } else if (json_is_array(v)) {
        out = json_array();
        size_t i;
        json_t *c;
        json_array_foreach(v, i, c) {
            if (out == NULL || json_array_append_new(out, copy_as_sent(e, c)) != 0) {
                json_decref(out);
                return NULL;
            }
        }
    } else {
        out = json_deep_copy(v); /* strings, booleans, null */
    }
    return out;
}

static int first_value(json_t *parent, const char *key, size_t index, json_t *value, const char *concrete, void *ud)
{
    (void)parent;
    (void)key;
    (void)index;
    (void)concrete;
    *(json_t **)ud = value;
    return 1;
}

static json_t *constant_value(const sluice_yaml_node_t *n)
{
    int b;
    long long i;
    double d;
    if (sluice_yaml_as_bool(n, &b) == 0)
        return json_boolean(b);
    if (sluice_yaml_as_int(n, &i) == 0)
        return json_integer((json_int_t)i);
    if (sluice_yaml_as_double(n, &d) == 0)
        return json_real(d);
    if (sluice_yaml_is_null(n) == 0)
        return json_null();
    return json_string(n->scalar);
}

/* Sets root's dotted field (objects created on the way; a non-object on the way is replaced). */
static void set_field(json_t *root, const char *field, json_t *value)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", field);
    json_t *cur = root;
    char *save = NULL;
    char *part = strtok_r(buf, ".", &save);
    while (part != NULL) {
        char *next = strtok_r(NULL, ".", &save);
        if (next == NULL) {
            json_object_set_new(cur, part, value);
            return;
        }
        json_t *child = json_object_get(cur, part);
        if (!json_is_object(child)) {
            child = json_object();
            json_object_set_new(cur, part, child);
        }
        cur = child;
        part = next;
    }
    json_decref(value);
}

sluice_map_result_t sluice_vendor_map(const sluice_vendor_ops_t *ops, const sluice_integration_t *it,
                                      const sluice_envelope_t *e, int64_t now_ms, sluice_vendor_item_t *out, char *why,
                                      size_t why_len)
{
    const sluice_event_mapping_t *mp = &it->mapping;
    if (mp->rename_count == 0 && mp->field_count == 0)
        return ops->map(it, e, now_ms, out, why, why_len);
    sluice_envelope_t renamed = *e;
    for (size_t i = 0; e->name != NULL && i < mp->rename_count; i++) {
        if (strcmp(mp->renames[i].from, e->name) == 0) {
            renamed.name = mp->renames[i].to;
            break;
        }
    }
    sluice_map_result_t res = ops->map(it, &renamed, now_ms, out, why, why_len);
    if (res != SLUICE_MAP_OK || mp->field_count == 0)
        return res;
    /* The vendor's body is read back with its numbers' texts, so that prices the vendor wrote as
     * the client sent them stay so (and an integer beyond 64 bits does not make it unreadable). */
    sluice_jsonnum_t *nums = sluice_jsonnum_new();
    sluice_json_error_t jerr;
    json_t *body = sluice_json_parse(out->body, out->body_len, 2048, SIZE_MAX, 0, nums, &jerr);
    json_t *root = body;
    if (json_is_object(body) && ops->fields_root != NULL) {
        root = json_object_get(body, ops->fields_root);
        if (!json_is_object(root)) {
            root = json_object();
            json_object_set_new(body, ops->fields_root, root);
        }
    }
    if (!json_is_object(root)) {
        json_decref(body);
        sluice_jsonnum_free(nums);
        return res; /* not an object: nothing to set (the vendor's own form stands) */
    }
    for (size_t i = 0; i < mp->field_count; i++) {
        const sluice_field_map_t *f = &mp->fields[i];
        json_t *v = NULL;
        if (f->constant != NULL)
            v = constant_value(f->constant);
        else {
            json_t *found = NULL;
            sluice_path_visit(e->event, &f->source, first_value, &found);
            /* Numbers as the client sent them (properties.total -> value: 19.90 stays 19.90),
             * also inside an object or array copied whole. */
            v = found != NULL ? copy_as_sent(e, found) : NULL;
        }
        if (v != NULL)
            set_field(root, f->field, v);
    }
    size_t len;
    sluice_jsonw_t w = {.nums = nums, .flags = SLUICE_JSONW_RAW_NUMBERS};
    sluice_jsonw_value(&w, body);
    char *s = sluice_jsonw_finish(&w, &len);
    json_decref(body);
    sluice_jsonnum_free(nums);
    if (s == NULL) {
        sluice_vendor_item_dispose(out);
        snprintf(why, why_len, "out of memory");
        return SLUICE_MAP_DEAD;
    }
    free(out->body);
    out->body = s;
    out->body_len = len;
    return SLUICE_MAP_OK;
}
