/*
 * Plugin config maps: the map's own sanity, and a rule's `params` node validated and converted
 * into typed values for the plugin's `create`. The plugin never sees YAML; every problem is
 * reported by the host with the position of the offending node, and a secret never appears in
 * a message (only the name of the environment variable holding it).
 *
 * Main thread (config load) only. Out of memory aborts, as in the rest of the core.
 */
#include "plugins/params.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/strdist.h"
#include "config/yaml.h"
#include "crypto/ct.h"

typedef struct param {
    const sluice_mask_config_entry_t *entry;
    int has;   /* a value, given or default */
    int given; /* from the rule */
    char *str; /* STRING (also secrets) */
    size_t len;
    int64_t i;
    int b;
    double d;
    char **items; /* STRING_LIST */
    size_t *item_lens;
    size_t item_count;
} param_t;

struct sluice_mask_config {
    param_t *params;
    size_t count;
};

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (p == NULL)
        abort();
    return p;
}

static char *xstrndup(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p == NULL)
        abort();
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

const char *sluice_plugin_conf_type_name(uint32_t type)
{
    switch (type) {
    case SLUICE_MASK_CONF_STRING: return "a string";
    case SLUICE_MASK_CONF_INT: return "an integer";
    case SLUICE_MASK_CONF_BOOL: return "a boolean";
    case SLUICE_MASK_CONF_DOUBLE: return "a number";
    case SLUICE_MASK_CONF_STRING_LIST: return "a list of strings";
    default: return "an unknown type";
    }
}

static void param_clear(param_t *p)
{
    if (p->str != NULL) {
        sluice_secure_zero(p->str, p->len);
        free(p->str);
    }
    for (size_t i = 0; i < p->item_count; i++)
        free(p->items[i]);
    free(p->items);
    free(p->item_lens);
    const sluice_mask_config_entry_t *e = p->entry;
    memset(p, 0, sizeof(*p));
    p->entry = e;
}

/* Converts a non-null node to the entry's type into p. Returns 0, or -1 when the node is not of
 * that type. */
static int convert(param_t *p, uint32_t type, const sluice_yaml_node_t *n)
{
    long long ll;
    switch (type) {
    case SLUICE_MASK_CONF_STRING:
        if (n->type != SLUICE_YAML_SCALAR)
            return -1;
        p->str = xstrndup(n->scalar, n->scalar_len);
        p->len = n->scalar_len;
        break;
    case SLUICE_MASK_CONF_INT:
        if (n->type != SLUICE_YAML_SCALAR || sluice_yaml_as_int(n, &ll) != 0)
            return -1;
        p->i = (int64_t)ll;
        break;
    case SLUICE_MASK_CONF_BOOL:
        if (n->type != SLUICE_YAML_SCALAR || sluice_yaml_as_bool(n, &p->b) != 0)
            return -1;
        break;
    case SLUICE_MASK_CONF_DOUBLE:
        if (n->type != SLUICE_YAML_SCALAR || sluice_yaml_as_double(n, &p->d) != 0)
            return -1;
        break;
    case SLUICE_MASK_CONF_STRING_LIST:
        if (n->type == SLUICE_YAML_SCALAR) {
            p->items = xcalloc(1, sizeof(char *));
            p->item_lens = xcalloc(1, sizeof(size_t));
            p->items[0] = xstrndup(n->scalar, n->scalar_len);
            p->item_lens[0] = n->scalar_len;
            p->item_count = 1;
            break;
        }
        if (n->type != SLUICE_YAML_SEQ)
            return -1;
        for (size_t i = 0; i < n->item_count; i++) {
            if (n->items[i]->type != SLUICE_YAML_SCALAR)
                return -1;
        }
        p->items = xcalloc(n->item_count, sizeof(char *));
        p->item_lens = xcalloc(n->item_count, sizeof(size_t));
        for (size_t i = 0; i < n->item_count; i++) {
            p->items[i] = xstrndup(n->items[i]->scalar, n->items[i]->scalar_len);
            p->item_lens[i] = n->items[i]->scalar_len;
        }
        p->item_count = n->item_count;
        break;
    default: return -1;
    }
    p->has = 1;
    return 0;
}

/* Parses a default's YAML text into p. Returns 0, or -1 (not YAML, or not of the type). */
static int convert_default(param_t *p, const sluice_mask_config_entry_t *e)
{
    char why[256];
    sluice_yaml_doc_t *doc =
        sluice_yaml_load_string("default", e->default_value, strlen(e->default_value), why, sizeof(why));
    if (doc == NULL)
        return -1;
    int rc = -1;
    if (doc->root != NULL && sluice_yaml_is_null(doc->root) != 0)
        rc = convert(p, e->type, doc->root);
    sluice_yaml_doc_free(doc);
    if (rc != 0)
        param_clear(p);
    return rc;
}

static int valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 48)
        return 0;
    return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

static int ends_with_env(const char *s)
{
    size_t n = strlen(s);
    return n >= 4 && strcmp(s + n - 4, "_env") == 0;
}

int sluice_plugin_map_check(const sluice_mask_config_entry_t *map, sluice_err_t *err)
{
    if (map == NULL)
        return 0;
    int n = 0;
    for (; map[n].name != NULL; n++) {
        const sluice_mask_config_entry_t *e = &map[n];
        if (n >= SLUICE_PLUGIN_MAP_MAX)
            return sluice_err_set(err, "config map has more than %d entries (or is not {0}-terminated)",
                                  SLUICE_PLUGIN_MAP_MAX);
        if (!valid_name(e->name))
            return sluice_err_set(err, "config map entry %d: name is not 1..48 characters of [a-z0-9_]", n);
        if (ends_with_env(e->name))
            return sluice_err_set(err,
                                  "config map entry '%s': names ending in '_env' are reserved (a SECRET entry "
                                  "'x' is given as 'x_env')",
                                  e->name);
        for (int j = 0; j < n; j++) {
            if (strcmp(map[j].name, e->name) == 0)
                return sluice_err_set(err, "config map entry '%s' is declared twice", e->name);
        }
        if (e->type < SLUICE_MASK_CONF_STRING || e->type > SLUICE_MASK_CONF_STRING_LIST)
            return sluice_err_set(err, "config map entry '%s': unknown type %u", e->name, (unsigned)e->type);
        if ((e->flags & ~(uint32_t)(SLUICE_MASK_CONF_REQUIRED | SLUICE_MASK_CONF_SECRET)) != 0)
            return sluice_err_set(err, "config map entry '%s': unknown flags 0x%x", e->name, (unsigned)e->flags);
        if (e->flags & SLUICE_MASK_CONF_SECRET) {
            if (e->type != SLUICE_MASK_CONF_STRING)
                return sluice_err_set(err, "config map entry '%s': a SECRET must be of type STRING", e->name);
            if (e->default_value != NULL)
                return sluice_err_set(err, "config map entry '%s': a SECRET cannot have a default", e->name);
        }
        if (e->default_value != NULL) {
            param_t p = {.entry = e};
            if (convert_default(&p, e) != 0)
                return sluice_err_set(err, "config map entry '%s': default \"%s\" is not %s", e->name, e->default_value,
                                      sluice_plugin_conf_type_name(e->type));
            param_clear(&p);
        }
    }
    return n;
}

static const sluice_mask_config_entry_t *find_entry(const sluice_mask_config_entry_t *map, const char *name)
{
    for (size_t i = 0; map != NULL && map[i].name != NULL; i++) {
        if (strcmp(map[i].name, name) == 0)
            return &map[i];
    }
    return NULL;
}

static void report_unknown(sluice_config_diag_t *diag, const sluice_yaml_node_t *k,
                           const sluice_mask_config_entry_t *map, const char *plugin, const char *label)
{
    char key[64];
    const char *best = NULL;
    size_t best_d = 3;
    for (size_t i = 0; map != NULL && map[i].name != NULL; i++) {
        const char *cand = map[i].name;
        if (map[i].flags & SLUICE_MASK_CONF_SECRET) {
            snprintf(key, sizeof(key), "%s_env", map[i].name);
            cand = key;
        }
        size_t d = sluice_strdist(k->scalar, cand, 2);
        /* d < length keeps 'x' from suggesting 'n'. */
        if (d < best_d && d < strlen(k->scalar)) {
            best_d = d;
            best = map[i].name;
        }
    }
    if (best != NULL) {
        const sluice_mask_config_entry_t *e = find_entry(map, best);
        sluice_config_diag_add(diag, &k->pos, "%s.params.%s: unknown parameter of plugin '%s'; did you mean '%s%s'?",
                               label, k->scalar, plugin, best, (e->flags & SLUICE_MASK_CONF_SECRET) ? "_env" : "");
        return;
    }
    char names[512] = "";
    size_t used = 0;
    for (size_t i = 0; map != NULL && map[i].name != NULL && used < sizeof(names); i++) {
        int w = snprintf(names + used, sizeof(names) - used, "%s%s%s", i ? ", " : "", map[i].name,
                         (map[i].flags & SLUICE_MASK_CONF_SECRET) ? "_env" : "");
        if (w < 0)
            break;
        used += (size_t)w;
    }
    if (used == 0)
        sluice_config_diag_add(diag, &k->pos, "%s.params.%s: plugin '%s' takes no parameters", label, k->scalar,
                               plugin);
    else
        sluice_config_diag_add(diag, &k->pos, "%s.params.%s: unknown parameter of plugin '%s' (it takes: %s)", label,
                               k->scalar, plugin, names);
}

static int env_name_ok(const char *s)
{
    if (s[0] == '\0' || (s[0] >= '0' && s[0] <= '9'))
        return 0;
    return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") == strlen(s);
}

/* Reads a secret from the environment variable named by node v (the value of `<name>_env`).
 * Returns 1 when read, 0 when skipped in check-only mode, -1 after reporting. */
static int read_secret(param_t *p, const sluice_yaml_node_t *k, const sluice_yaml_node_t *v, const char *plugin,
                       const char *label, int flags, sluice_config_diag_t *diag)
{
    if (v->type != SLUICE_YAML_SCALAR || sluice_yaml_is_null(v) == 0 || !env_name_ok(v->scalar)) {
        sluice_config_diag_add(diag, &v->pos, "%s.params.%s: expected the name of an environment variable, got %s",
                               label, k->scalar, sluice_yaml_describe(v));
        return -1;
    }
    /* The root key ring seals nothing directly: each purpose has a key derived from it, and the
     * gateway wipes these variables once it has derived its own (identity.md, keys by purpose).
     * A plugin key read from them was the root key itself where they were still set (config
     * check, sluicectl unmask) and "not set" in the gateway. */
    if (strcmp(v->scalar, "ENCRYPTION_KEY") == 0 || strcmp(v->scalar, "SLUICE_KEYRING") == 0) {
        sluice_config_diag_add(diag, &v->pos,
                               "%s.params.%s: %s holds the root key ring, which no plugin may use (the gateway "
                               "derives a key per purpose from it and then removes it from its environment); give the "
                               "plugin a key of its own in another variable (e.g. `openssl rand -hex 32`)",
                               label, k->scalar, v->scalar);
        return -1;
    }
    const char *val = getenv(v->scalar);
    if (val == NULL || val[0] == '\0') {
        if (flags & SLUICE_PLUGIN_PARAMS_CHECK_ONLY) {
            sluice_config_diag_warn(diag, &v->pos,
                                    "%s.params.%s: environment variable %s is not set; plugin '%s' was not "
                                    "created (check with --secrets to run it)",
                                    label, k->scalar, v->scalar, plugin);
            return 0;
        }
        sluice_config_diag_add(diag, &v->pos, "%s.params.%s: environment variable %s (plugin '%s' secret '%s') is %s",
                               label, k->scalar, v->scalar, plugin, p->entry->name, val == NULL ? "not set" : "empty");
        return -1;
    }
    p->str = xstrndup(val, strlen(val));
    p->len = strlen(val);
    p->has = 1;
    p->given = 1;
    return 1;
}

sluice_mask_config_t *sluice_plugin_params_build(const sluice_mask_config_entry_t *map, const char *plugin,
                                                 const sluice_yaml_node_t *params, const sluice_yaml_pos_t *pos,
                                                 const char *label, int flags, sluice_config_diag_t *diag, int *skipped)
{
    *skipped = 0;
    size_t before = diag->count;
    size_t n = 0;
    while (map != NULL && map[n].name != NULL)
        n++;
    sluice_mask_config_t *c = xcalloc(1, sizeof(*c));
    c->params = xcalloc(n, sizeof(param_t));
    c->count = n;
    for (size_t i = 0; i < n; i++)
        c->params[i].entry = &map[i];

    int skip = 0;
    for (size_t i = 0; params != NULL && i < params->pair_count; i++) {
        const sluice_yaml_node_t *k = params->pairs[i].key, *v = params->pairs[i].value;
        const sluice_mask_config_entry_t *e = find_entry(map, k->scalar);
        if (e != NULL && (e->flags & SLUICE_MASK_CONF_SECRET)) {
            c->params[e - map].given = 1; /* reported once, not again as missing */
            sluice_config_diag_add(diag, &k->pos,
                                   "%s.params.%s: a secret written inline; put it in an environment variable and "
                                   "give its name with '%s_env: VAR'",
                                   label, k->scalar, k->scalar);
            continue;
        }
        if (e == NULL && ends_with_env(k->scalar)) {
            char base[64];
            size_t bl = strlen(k->scalar) - 4;
            if (bl < sizeof(base)) {
                memcpy(base, k->scalar, bl);
                base[bl] = '\0';
                const sluice_mask_config_entry_t *s = find_entry(map, base);
                if (s != NULL && (s->flags & SLUICE_MASK_CONF_SECRET)) {
                    c->params[s - map].given = 1; /* a failure is reported once, not again as missing */
                    if (read_secret(&c->params[s - map], k, v, plugin, label, flags, diag) == 0)
                        skip = 1;
                    continue;
                }
            }
        }
        if (e == NULL) {
            report_unknown(diag, k, map, plugin, label);
            continue;
        }
        param_t *p = &c->params[e - map];
        if (sluice_yaml_is_null(v) == 0)
            continue; /* null counts as absent, as everywhere in the config */
        if (convert(p, e->type, v) != 0) {
            param_clear(p);
            sluice_config_diag_add(diag, &v->pos, "%s.params.%s: expected %s, got %s", label, k->scalar,
                                   sluice_plugin_conf_type_name(e->type), sluice_yaml_describe(v));
            continue;
        }
        p->given = 1;
    }
    for (size_t i = 0; i < n; i++) {
        param_t *p = &c->params[i];
        if (p->has || p->given)
            continue;
        if (p->entry->flags & SLUICE_MASK_CONF_REQUIRED) {
            const char *desc = p->entry->description ? p->entry->description : "";
            sluice_config_diag_add(diag, params != NULL ? &params->pos : pos,
                                   "%s.params: missing required parameter '%s%s' of plugin '%s'%s%s%s", label,
                                   p->entry->name, (p->entry->flags & SLUICE_MASK_CONF_SECRET) ? "_env" : "", plugin,
                                   desc[0] ? " (" : "", desc, desc[0] ? ")" : "");
        } else if (p->entry->default_value != NULL) {
            /* The map was checked at load, so the default converts. */
            convert_default(p, p->entry);
        }
    }
    if (diag->count != before || skip) {
        sluice_plugin_params_free(c);
        *skipped = skip && diag->count == before;
        return NULL;
    }
    return c;
}

void sluice_plugin_params_free(sluice_mask_config_t *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->count; i++)
        param_clear(&c->params[i]);
    free(c->params);
    free(c);
}

/* The param named name if declared with type; NULL otherwise. */
static const param_t *lookup(const sluice_mask_config_t *c, const char *name, uint32_t type)
{
    if (c == NULL || name == NULL)
        return NULL;
    for (size_t i = 0; i < c->count; i++) {
        if (strcmp(c->params[i].entry->name, name) == 0)
            return c->params[i].entry->type == type ? &c->params[i] : NULL;
    }
    return NULL;
}

int sluice_plugin_params_string(const sluice_mask_config_t *c, const char *name, const char **out, size_t *len)
{
    const param_t *p = lookup(c, name, SLUICE_MASK_CONF_STRING);
    if (p == NULL || out == NULL)
        return SLUICE_MASK_ECONFIG;
    if (!p->has)
        return 0;
    *out = p->str;
    if (len != NULL)
        *len = p->len;
    return 1;
}

int sluice_plugin_params_int(const sluice_mask_config_t *c, const char *name, int64_t *out)
{
    const param_t *p = lookup(c, name, SLUICE_MASK_CONF_INT);
    if (p == NULL || out == NULL)
        return SLUICE_MASK_ECONFIG;
    if (!p->has)
        return 0;
    *out = p->i;
    return 1;
}

int sluice_plugin_params_bool(const sluice_mask_config_t *c, const char *name, int *out)
{
    const param_t *p = lookup(c, name, SLUICE_MASK_CONF_BOOL);
    if (p == NULL || out == NULL)
        return SLUICE_MASK_ECONFIG;
    if (!p->has)
        return 0;
    *out = p->b;
    return 1;
}

int sluice_plugin_params_double(const sluice_mask_config_t *c, const char *name, double *out)
{
    const param_t *p = lookup(c, name, SLUICE_MASK_CONF_DOUBLE);
    if (p == NULL || out == NULL)
        return SLUICE_MASK_ECONFIG;
    if (!p->has)
        return 0;
    *out = p->d;
    return 1;
}

int sluice_plugin_params_list_count(const sluice_mask_config_t *c, const char *name, size_t *count)
{
    const param_t *p = lookup(c, name, SLUICE_MASK_CONF_STRING_LIST);
    if (p == NULL || count == NULL)
        return SLUICE_MASK_ECONFIG;
    if (!p->has)
        return 0;
    *count = p->item_count;
    return 1;
}

int sluice_plugin_params_list_item(const sluice_mask_config_t *c, const char *name, size_t i, const char **out,
                                   size_t *len)
{
    const param_t *p = lookup(c, name, SLUICE_MASK_CONF_STRING_LIST);
    if (p == NULL || out == NULL || (p->has && i >= p->item_count))
        return SLUICE_MASK_ECONFIG;
    if (!p->has)
        return 0;
    *out = p->items[i];
    if (len != NULL)
        *len = p->item_lens[i];
    return 1;
}

int sluice_plugin_params_is_set(const sluice_mask_config_t *c, const char *name)
{
    for (size_t i = 0; c != NULL && name != NULL && i < c->count; i++) {
        if (strcmp(c->params[i].entry->name, name) == 0)
            return c->params[i].given;
    }
    return 0;
}
