/*
 * The plugin set of a config: resolves each mask rule's plugin to a .so, opens each file once,
 * creates one instance per rule, and rolls everything back when anything fails. Also the plugin
 * ABI's byte strings in and out as text (for jv events) and the JSON glue between jansson values
 * and them, and the per-plugin metrics.
 *
 * Loading runs on one thread (start-up, reload, `sluicectl config check`); apply runs on every
 * event-loop thread at once, each touching only its own output buffer and counter slots.
 */
#include "plugins/set.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/install.h"
#include "common/strdist.h"
#include "json/numbers.h"
#include "json/parse.h"
#include "json/write.h"
#include "plugins/loader.h"
#include "plugins/params.h"

#ifndef SLUICE_BUILTIN_PLUGINS
#error "SLUICE_BUILTIN_PLUGINS (the built-in plugin names) comes from plugins/CMakeLists.txt"
#endif

struct sluice_plugin_set {
    unsigned nthreads;
    sluice_plugin_lib_t **libs;
    size_t lib_count;
    size_t org_count;
    sluice_plugin_instance_t ***rules; /* [org][rule]; NULL entries when skipped */
    size_t *rule_counts;
    size_t instance_count;
    sluice_mask_output_t *outputs; /* [nthreads] */
    sluice_plugin_tally_t *tally;  /* or NULL: the set's own counts only */
};

/* ------------------------------------------------------------------ the tally */

/* One series: what freed instances counted, and the live instances counting under it. */
typedef struct tally_entry {
    char *plugin, *org, *rule;
    uint64_t retired_calls, retired_errors;
    const sluice_plugin_instance_t **live;
    size_t live_count, live_cap;
} tally_entry_t;

struct sluice_plugin_tally {
    pthread_mutex_t lock;
    tally_entry_t *entries;
    size_t count, cap;
    /* Open-addressing index of entries by their labels (entry index + 1; 0 is empty), so that
     * finding an instance's series costs the same with 2 orgs as with 2,000: a scan of the
     * entries made attaching, detaching and every /metrics scrape quadratic in the mask rules
     * (2,000 orgs with 14 rules each: a scrape took 55 s on an event-loop thread). */
    size_t *index;
    size_t index_cap; /* a power of two, at least twice count */
};

sluice_plugin_tally_t *sluice_plugin_tally_create(void)
{
    sluice_plugin_tally_t *t = calloc(1, sizeof(*t));
    if (t != NULL)
        pthread_mutex_init(&t->lock, NULL);
    return t;
}

void sluice_plugin_tally_destroy(sluice_plugin_tally_t *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->count; i++) {
        free(t->entries[i].plugin);
        free(t->entries[i].org);
        free(t->entries[i].rule);
        free(t->entries[i].live);
    }
    free(t->entries);
    free(t->index);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

static size_t labels_hash(const char *plugin, const char *org, const char *rule)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a over the three labels, each with its NUL */
    const char *parts[3] = {plugin, org, rule};
    for (size_t i = 0; i < 3; i++) {
        const unsigned char *c = (const unsigned char *)parts[i];
        do {
            h ^= *c;
            h *= 1099511628211ULL;
        } while (*c++ != '\0');
    }
    return (size_t)h;
}

/* Puts entry i into the index (room checked by the caller). */
static void index_put(sluice_plugin_tally_t *t, size_t i)
{
    const tally_entry_t *e = &t->entries[i];
    size_t mask = t->index_cap - 1, at = labels_hash(e->plugin, e->org, e->rule) & mask;
    while (t->index[at] != 0)
        at = (at + 1) & mask;
    t->index[at] = i + 1;
}

/* The entry of pi's labels, made when missing; NULL when out of memory. Under the lock. */
static tally_entry_t *tally_entry(sluice_plugin_tally_t *t, const sluice_plugin_instance_t *pi, int make)
{
    const char *plugin = sluice_plugin_instance_name(pi), *org = sluice_plugin_instance_org(pi),
               *rule = sluice_plugin_instance_rule(pi);
    size_t h = labels_hash(plugin, org, rule);
    for (size_t at = t->index_cap ? h & (t->index_cap - 1) : 0; t->index_cap && t->index[at] != 0;
         at = (at + 1) & (t->index_cap - 1)) {
        tally_entry_t *e = &t->entries[t->index[at] - 1];
        if (strcmp(e->plugin, plugin) == 0 && strcmp(e->org, org) == 0 && strcmp(e->rule, rule) == 0)
            return e;
    }
    if (!make)
        return NULL;
    if ((t->count + 1) * 2 > t->index_cap) {
        size_t cap = t->index_cap ? t->index_cap * 2 : 64;
        size_t *ni = calloc(cap, sizeof(*ni));
        if (ni == NULL)
            return NULL;
        free(t->index);
        t->index = ni;
        t->index_cap = cap;
        for (size_t i = 0; i < t->count; i++)
            index_put(t, i);
    }
    if (t->count == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        tally_entry_t *ne = realloc(t->entries, cap * sizeof(*ne));
        if (ne == NULL)
            return NULL;
        t->entries = ne;
        t->cap = cap;
    }
    tally_entry_t *e = &t->entries[t->count];
    *e = (tally_entry_t){.plugin = strdup(plugin), .org = strdup(org), .rule = strdup(rule)};
    if (e->plugin == NULL || e->org == NULL || e->rule == NULL) {
        free(e->plugin);
        free(e->org);
        free(e->rule);
        return NULL;
    }
    index_put(t, t->count);
    t->count++;
    return e;
}

static void tally_forget(tally_entry_t *e, const sluice_plugin_instance_t *pi)
{
    for (size_t i = 0; i < e->live_count; i++) {
        if (e->live[i] == pi) {
            e->live[i] = e->live[--e->live_count];
            return;
        }
    }
}

int sluice_plugin_set_attach_tally(sluice_plugin_set_t *set, sluice_plugin_tally_t *t)
{
    if (set == NULL || t == NULL)
        return 0;
    pthread_mutex_lock(&t->lock);
    size_t o = 0, r = 0;
    int rc = 0;
    for (o = 0; o < set->org_count && rc == 0; o++) {
        for (r = 0; r < set->rule_counts[o]; r++) {
            const sluice_plugin_instance_t *pi = set->rules[o][r];
            if (pi == NULL)
                continue;
            tally_entry_t *e = tally_entry(t, pi, 1);
            if (e != NULL && e->live_count == e->live_cap) {
                size_t cap = e->live_cap ? e->live_cap * 2 : 4;
                const sluice_plugin_instance_t **nl = realloc(e->live, cap * sizeof(*nl));
                if (nl != NULL) {
                    e->live = nl;
                    e->live_cap = cap;
                }
            }
            if (e == NULL || e->live_count == e->live_cap) {
                rc = -1;
                break;
            }
            e->live[e->live_count++] = pi;
        }
    }
    if (rc != 0) {
        /* Undo what was attached: the set counts on its own, as without a tally. */
        for (size_t oo = 0; oo < set->org_count; oo++)
            for (size_t rr = 0; rr < set->rule_counts[oo]; rr++) {
                const sluice_plugin_instance_t *pi = set->rules[oo][rr];
                tally_entry_t *e = pi != NULL ? tally_entry(t, pi, 0) : NULL;
                if (e != NULL)
                    tally_forget(e, pi);
            }
    } else {
        set->tally = t;
    }
    pthread_mutex_unlock(&t->lock);
    return rc;
}

/* set's instances are going: their counts stay in the tally as retired ones, in the same step
 * as they leave its live list, so no scrape sees them missing. */
static void tally_detach(sluice_plugin_set_t *set)
{
    sluice_plugin_tally_t *t = set->tally;
    if (t == NULL)
        return;
    pthread_mutex_lock(&t->lock);
    for (size_t o = 0; o < set->org_count; o++)
        for (size_t r = 0; set->rules[o] != NULL && r < set->rule_counts[o]; r++) {
            const sluice_plugin_instance_t *pi = set->rules[o][r];
            tally_entry_t *e = pi != NULL ? tally_entry(t, pi, 0) : NULL;
            if (e == NULL)
                continue;
            e->retired_calls += sluice_plugin_instance_calls(pi);
            e->retired_errors += sluice_plugin_instance_errors(pi);
            tally_forget(e, pi);
        }
    pthread_mutex_unlock(&t->lock);
    set->tally = NULL;
}

/* A library by path: opened once per set, its failure remembered so every rule using it is
 * reported without opening it again. */
typedef struct lib_entry {
    char *path;
    sluice_plugin_lib_t *lib; /* NULL when it failed */
    char *error;
} lib_entry_t;

/* The file of a rule's plugin: a path as written, or <plugin_dir>/<name>.so for a built-in name.
 * A name with no plugin dir at all gives "<name>": no file is opened for it (not_found says why). */
static char *plugin_path(const sluice_config_t *cfg, const char *plugin)
{
    if (strchr(plugin, '/') != NULL || cfg->plugin_dir == NULL)
        return strdup(plugin);
    const char *dir = cfg->plugin_dir;
    size_t n = strlen(dir) + strlen(plugin) + 5;
    char *p = malloc(n);
    if (p != NULL)
        snprintf(p, n, "%s/%s.so", dir, plugin);
    return p;
}

/* ------------------------------------------------------------------ "cannot open plugin" */

#define MAX_NAMES 64

/* A list of plugin names: the built-ins this sluice was built with, or the .so files of a dir. */
typedef struct names {
    char *v[MAX_NAMES + 1]; /* NULL-terminated */
    size_t n;
} names_t;

static void names_add(names_t *l, const char *name, size_t len)
{
    for (size_t i = 0; i < l->n; i++) {
        if (strlen(l->v[i]) == len && strncmp(l->v[i], name, len) == 0)
            return;
    }
    if (l->n < MAX_NAMES && (l->v[l->n] = strndup(name, len)) != NULL)
        l->n++;
}

static int listed(const names_t *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i], name) == 0)
            return 1;
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void names_free(names_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    l->n = 0;
}

/* The built-in plugin names, from the build ("drop encrypt fpe ..."). */
static void builtin_names(names_t *l)
{
    const char *p = SLUICE_BUILTIN_PLUGINS;
    while (*p != '\0') {
        size_t len = strcspn(p, " ");
        if (len > 0)
            names_add(l, p, len);
        p += len + (p[len] == ' ');
    }
    if (l->n > 1)
        qsort(l->v, l->n, sizeof(l->v[0]), by_name);
}

/* The plugin names in dir: its regular *.so files, without the suffix. */
static void dir_names(names_t *l, const char *dir)
{
    DIR *d = dir != NULL ? opendir(dir) : NULL;
    if (d == NULL)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        if (len > 3 && de->d_name[0] != '.' && strcmp(de->d_name + len - 3, ".so") == 0 &&
            (de->d_type == DT_REG || de->d_type == DT_LNK || de->d_type == DT_UNKNOWN))
            names_add(l, de->d_name, len - 3);
    }
    closedir(d);
    if (l->n > 1)
        qsort(l->v, l->n, sizeof(l->v[0]), by_name);
}

typedef struct text {
    char buf[4096];
    size_t len;
} text_t;

static void say(text_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(text_t *t, const char *fmt, ...)
{
    if (t->len >= sizeof(t->buf) - 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->buf + t->len, sizeof(t->buf) - t->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        t->len = t->len + (size_t)n < sizeof(t->buf) ? t->len + (size_t)n : sizeof(t->buf) - 1;
}

static void say_names(text_t *t, const names_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        say(t, "%s%s", i ? ", " : "", l->v[i]);
}

/* 1 when a built-in name's file is simply not there (as opposed to there but unloadable). */
static int is_missing(const char *path)
{
    struct stat st;
    return stat(path, &st) != 0 && (errno == ENOENT || errno == ENOTDIR);
}

/* The message for a built-in name whose file is not in the plugin dir: where it looked and
 * which setting gave that dir, what is there, the closest name, and how to look elsewhere.
 * Only names and paths: never a value. */
static char *not_found(const sluice_config_t *cfg, const char *plugin)
{
    text_t t = {.len = 0};
    const char *dir = cfg->plugin_dir;
    say(&t, "cannot open plugin '%s': ", plugin);
    if (dir == NULL) {
        sluice_err_t err = {{0}};
        char exe_dir[PATH_MAX];
        sluice_install_exe_dir(exe_dir, sizeof(exe_dir), &err);
        say(&t, "no plugin directory is set and there is no default (%s)", err.msg);
    } else {
        say(&t, "no %s.so in %s", plugin, dir);
        if (cfg->plugin_dir_from == SLUICE_CONFIG_FROM_ENV) {
            say(&t, " (from SLUICE_PLUGIN_DIR in the environment)");
        } else if (cfg->plugin_dir_from == SLUICE_CONFIG_FROM_FILE) {
            const sluice_yaml_pos_t *p = &cfg->plugin_dir_pos;
            say(&t, " (from plugins.dir at %s:%u:%u)", p->file ? p->file : "?", p->line, p->col);
        } else {
            /* The default: every place it considered, so a broken install shows what it expected. */
            sluice_install_dir_t dirs[SLUICE_INSTALL_MAX_DIRS];
            size_t n = sluice_install_plugin_dirs(dirs, SLUICE_INSTALL_MAX_DIRS, NULL);
            if (n > SLUICE_INSTALL_MAX_DIRS) /* never, by contract; said here so no loop reads past dirs */
                n = SLUICE_INSTALL_MAX_DIRS;
            const char *how = "";
            for (size_t i = 0; i < n; i++) {
                if (strcmp(dirs[i].path, dir) == 0)
                    how = dirs[i].how;
            }
            say(&t, " (the built-in default%s%s", how[0] ? ": " : "", how);
            for (size_t i = 0; i < n; i++) {
                if (strcmp(dirs[i].path, dir) != 0)
                    say(&t, "; also tried %s, %s%s", dirs[i].path, dirs[i].how, dirs[i].exists ? "" : ", missing");
            }
            say(&t, ")");
        }
        struct stat st;
        if (stat(dir, &st) != 0)
            say(&t, ", which does not exist");
        else if (!S_ISDIR(st.st_mode))
            say(&t, ", which is not a directory");
    }

    names_t there = {.n = 0}, builtins = {.n = 0}, all = {.n = 0};
    dir_names(&there, dir);
    builtin_names(&builtins);
    for (size_t i = 0; i < there.n; i++)
        names_add(&all, there.v[i], strlen(there.v[i]));
    for (size_t i = 0; i < builtins.n; i++)
        names_add(&all, builtins.v[i], strlen(builtins.v[i]));
    all.v[all.n] = NULL;
    const char *best = sluice_strdist_closest(plugin, (const char *const *)all.v, 2);
    /* The name itself is no misspelling. Listed in the dir yet missing, its .so is a symbolic link
     * to nothing, whoever wrote it; else it is a built-in, and a directory there may be none of. */
    if (best != NULL && strcmp(best, plugin) == 0 && listed(&there, plugin))
        say(&t, "; %s.so there is a symbolic link to nothing.", plugin);
    else if (best != NULL && strcmp(best, plugin) == 0 && dir == NULL)
        say(&t, "; '%s' is a built-in plugin.", plugin);
    else if (best != NULL && strcmp(best, plugin) == 0)
        say(&t, "; '%s' is a built-in plugin, but this directory does not hold it.", plugin);
    else if (best != NULL)
        say(&t, "; did you mean '%s'?", best);
    else
        say(&t, ".");
    say(&t, there.n > 0 ? " Plugins there: " : " Built-in plugins: ");
    say_names(&t, there.n > 0 ? &there : &builtins);
    say(&t, ". Set plugins.dir in the config or SLUICE_PLUGIN_DIR to look in another directory");
    names_free(&there);
    names_free(&builtins);
    names_free(&all);
    return strdup(t.buf);
}

void sluice_plugin_set_free(sluice_plugin_set_t *set)
{
    if (set == NULL)
        return;
    tally_detach(set);
    for (size_t o = 0; o < set->org_count; o++) {
        for (size_t r = 0; set->rules[o] != NULL && r < set->rule_counts[o]; r++)
            sluice_plugin_instance_destroy(set->rules[o][r]);
        free(set->rules[o]);
    }
    free(set->rules);
    free(set->rule_counts);
    for (size_t i = 0; i < set->lib_count; i++)
        sluice_plugin_lib_close(set->libs[i]);
    free(set->libs);
    for (unsigned t = 0; set->outputs != NULL && t < set->nthreads; t++)
        sluice_plugin_output_dispose(&set->outputs[t]);
    free(set->outputs);
    free(set);
}

sluice_plugin_set_t *sluice_plugin_set_load(const sluice_config_t *cfg, const sluice_keyring_t *keys, unsigned nthreads,
                                            int flags, sluice_config_diag_t *diag)
{
    if (nthreads == 0)
        nthreads = 1;
    size_t before = diag->count;
    size_t total = 0;
    for (size_t o = 0; o < cfg->org_count; o++)
        total += cfg->orgs[o].mask_rule_count;

    sluice_plugin_set_t *set = calloc(1, sizeof(*set));
    lib_entry_t *entries = calloc(total ? total : 1, sizeof(*entries));
    size_t entry_count = 0;
    if (set == NULL || entries == NULL)
        goto oom;
    set->nthreads = nthreads;
    set->org_count = cfg->org_count;
    set->rules = calloc(cfg->org_count ? cfg->org_count : 1, sizeof(*set->rules));
    set->rule_counts = calloc(cfg->org_count ? cfg->org_count : 1, sizeof(*set->rule_counts));
    set->libs = calloc(total ? total : 1, sizeof(*set->libs));
    set->outputs = calloc(nthreads, sizeof(*set->outputs));
    if (set->rules == NULL || set->rule_counts == NULL || set->libs == NULL || set->outputs == NULL)
        goto oom;
    for (unsigned t = 0; t < nthreads; t++) {
        if (sluice_plugin_output_init(&set->outputs[t], 0) != 0)
            goto oom;
    }

    for (size_t o = 0; o < cfg->org_count; o++) {
        const sluice_org_t *org = &cfg->orgs[o];
        set->rules[o] = calloc(org->mask_rule_count ? org->mask_rule_count : 1, sizeof(**set->rules));
        if (set->rules[o] == NULL)
            goto oom;
        set->rule_counts[o] = org->mask_rule_count;
        for (size_t r = 0; r < org->mask_rule_count; r++) {
            const sluice_mask_rule_t *rule = &org->mask_rules[r];
            char label[96];
            snprintf(label, sizeof(label), "orgs[%zu].data_layer.mask[%zu]", o, r);
            if (rule->plugin == NULL || rule->invalid)
                continue; /* the config loader reported it */
            char *path = plugin_path(cfg, rule->plugin);
            if (path == NULL)
                goto oom;
            lib_entry_t *e = NULL;
            for (size_t i = 0; i < entry_count && e == NULL; i++) {
                if (strcmp(entries[i].path, path) == 0)
                    e = &entries[i];
            }
            if (e == NULL) {
                e = &entries[entry_count++];
                e->path = path;
                sluice_err_t err = {{0}};
                /* A bare name is only ever looked up inside the plugin dir, never opened as is. */
                e->lib = strchr(path, '/') != NULL ? sluice_plugin_lib_open(path, &err) : NULL;
                if (e->lib != NULL)
                    set->libs[set->lib_count++] = e->lib;
                else if (strchr(rule->plugin, '/') == NULL && (cfg->plugin_dir == NULL || is_missing(path)))
                    e->error = not_found(cfg, rule->plugin);
                else
                    e->error = strdup(err.msg);
                if (e->lib == NULL && e->error == NULL)
                    goto oom;
            } else {
                free(path);
            }
            if (e->lib == NULL) {
                sluice_config_diag_add(diag, &rule->plugin_pos, "%s.plugin: %s", label, e->error);
                continue;
            }
            sluice_plugin_instance_opts_t opts = {
                .params = rule->params,
                .pos = &rule->pos,
                .label = label,
                .org = org->id,
                .rule_path = rule->path.text,
                .keys = keys,
                .nthreads = nthreads,
                .flags = (flags & SLUICE_PLUGIN_SET_CHECK_ONLY) ? SLUICE_PLUGIN_PARAMS_CHECK_ONLY : 0,
            };
            if (sluice_plugin_instance_create(e->lib, &opts, &set->rules[o][r], diag) == 0)
                set->instance_count++;
        }
    }
    for (size_t i = 0; i < entry_count; i++) {
        free(entries[i].path);
        free(entries[i].error);
    }
    free(entries);
    if (diag->count != before && !(flags & SLUICE_PLUGIN_SET_PARTIAL)) {
        sluice_plugin_set_free(set);
        return NULL;
    }
    return set;

oom:
    for (size_t i = 0; i < entry_count; i++) {
        free(entries[i].path);
        free(entries[i].error);
    }
    free(entries);
    sluice_plugin_set_free(set);
    sluice_config_diag_add(diag, NULL, "out of memory loading mask plugins");
    return NULL;
}

sluice_plugin_instance_t *sluice_plugin_set_instance(const sluice_plugin_set_t *set, size_t org_index,
                                                     size_t rule_index)
{
    if (set == NULL || org_index >= set->org_count || rule_index >= set->rule_counts[org_index])
        return NULL;
    return set->rules[org_index][rule_index];
}

int sluice_plugin_set_rule_uses_keys(const sluice_plugin_set_t *set, size_t org_index, size_t rule_index)
{
    return sluice_plugin_instance_uses_keys(sluice_plugin_set_instance(set, org_index, rule_index));
}

const char *sluice_plugin_set_plugin_name(const sluice_plugin_set_t *set, size_t org_index, size_t rule_index)
{
    const sluice_plugin_instance_t *pi = sluice_plugin_set_instance(set, org_index, rule_index);
    return pi ? sluice_plugin_instance_name(pi) : NULL;
}

size_t sluice_plugin_set_instance_count(const sluice_plugin_set_t *set)
{
    return set ? set->instance_count : 0;
}

size_t sluice_plugin_set_lib_count(const sluice_plugin_set_t *set)
{
    return set ? set->lib_count : 0;
}

/* ------------------------------------------------------------------ JSON glue */

static uint32_t json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_STRING: return SLUICE_MASK_JSON_STRING;
    case JSON_INTEGER:
    case JSON_REAL: return SLUICE_MASK_JSON_NUMBER;
    case JSON_TRUE:
    case JSON_FALSE: return SLUICE_MASK_JSON_BOOL;
    case JSON_NULL: return SLUICE_MASK_JSON_NULL;
    case JSON_OBJECT: return SLUICE_MASK_JSON_OBJECT;
    case JSON_ARRAY: return SLUICE_MASK_JSON_ARRAY;
    }
    return SLUICE_MASK_JSON_NULL;
}

/* The ABI type of a value's compact JSON text, from its first byte (a string never comes as
 * JSON text: its bytes do). */
static uint32_t text_kind(const char *text, size_t len)
{
    switch (len > 0 ? text[0] : 'n') {
    case '{': return SLUICE_MASK_JSON_OBJECT;
    case '[': return SLUICE_MASK_JSON_ARRAY;
    case 't':
    case 'f': return SLUICE_MASK_JSON_BOOL;
    case 'n': return SLUICE_MASK_JSON_NULL;
    case '"': return SLUICE_MASK_JSON_STRING;
    default: return SLUICE_MASK_JSON_NUMBER;
    }
}

static sluice_plugin_outcome_t failed(sluice_plugin_instance_t *inst, unsigned thread, const char **reason,
                                      const char *why)
{
    sluice_plugin_instance_count_error(inst, thread);
    *reason = why;
    return SLUICE_PLUGIN_FAILED;
}

/* A plugin's JSON answer read by the request parser, which records each number's text, into a
 * table of its own (a failed parse clears the table it was given) whose texts then join the
 * event's: 0.25 steps of a large price stay what generalize wrote, an object or array answered
 * keeps the spelling of the numbers in it, and a number beyond 64 bits is kept, not refused.
 * NULL when that parser refuses the answer: the caller then has jansson read it, as before, which
 * takes what the request parser does not (deeper nesting; "\u0000" in a string the request parser
 * reads as U+FFFD). */
/* The answer read by the request parser, its numbers' texts merged into nums (may be NULL: they
 * are then formatted); NULL with *kind set (0: out of memory) when it refuses the answer. */
static json_t *parse_keeping_numbers(const char *buf, size_t len, sluice_jsonnum_t *nums, sluice_json_fail_t *kind)
{
    *kind = 0;
    sluice_jsonnum_t *own = sluice_jsonnum_new();
    if (own == NULL)
        return NULL;
    sluice_json_error_t perr;
    json_t *v = sluice_json_parse(buf, len, SLUICE_PLUGIN_ANSWER_MAX_DEPTH, len, 0, own, &perr);
    if (v != NULL && nums != NULL)
        (void)sluice_jsonnum_merge(nums, own); /* on failure: those numbers are formatted */
    if (v == NULL)
        *kind = perr.kind;
    sluice_jsonnum_free(own);
    return v;
}

/* 1 when v nests deeper than max levels (a scalar is at level 1). */
static int deeper_than(const json_t *v, int max)
{
    if (max <= 0)
        return 1;
    size_t i;
    const char *k;
    json_t *c;
    if (json_is_array(v)) {
        json_array_foreach(v, i, c) {
            if ((json_is_array(c) || json_is_object(c)) && deeper_than(c, max - 1))
                return 1;
        }
    } else if (json_is_object(v)) {
        json_object_foreach((json_t *)v, k, c) {
            if ((json_is_array(c) || json_is_object(c)) && deeper_than(c, max - 1))
                return 1;
        }
    }
    return 0;
}

/* A JSON answer as jansson values (sluice_plugin_set_read_answer); NULL when it is none, the
 * error counted. */
static json_t *read_answer(sluice_plugin_instance_t *inst, unsigned thread, const sluice_plugin_text_t *answer,
                           sluice_jsonnum_t *nums, const char **reason)
{
    sluice_json_fail_t kind;
    json_t *result = parse_keeping_numbers(answer->text, answer->len, nums, &kind);
    /* What the request parser refuses but jansson reads (a \u0000 in a string) is read by
     * jansson, within the same depth: jansson allows 2,048 levels, and an event that deep was
     * accepted with 200 and then unreadable to the delivery worker. */
    if (result == NULL && kind != SLUICE_JSON_DEPTH) {
        json_error_t jerr;
        result =
            json_loadb(answer->text, answer->len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
        if (result != NULL && deeper_than(result, SLUICE_PLUGIN_ANSWER_MAX_DEPTH)) {
            json_decref(result);
            result = NULL;
            kind = SLUICE_JSON_DEPTH;
        }
    }
    if (result == NULL && kind == SLUICE_JSON_DEPTH)
        (void)failed(inst, thread, reason, "output nests deeper than 64 levels");
    else if (result == NULL)
        (void)failed(inst, thread, reason, "output is not one valid JSON value");
    return result;
}

/* sluice_plugin_mask_text with the value's ABI type, text and length apart, inlined into the json_t
 * entry: the gateway's jansson path calls it per masked value, where a call and a struct more
 * cost about 25 instructions a value. */
static inline __attribute__((always_inline)) sluice_plugin_outcome_t
mask_text(sluice_plugin_instance_t *inst, unsigned thread, sluice_mask_output_t *out,
          const sluice_plugin_field_t *field, uint32_t type, const char *text, size_t len, const char **reason)
{
    const char *empty = "";
    sluice_mask_input_t in = {
        .size = sizeof(in),
        .type = type,
        .path = field->path ? field->path : empty,
        .rule_path = field->rule_path ? field->rule_path : empty,
        .org = field->org ? field->org : empty,
        .event = field->event ? field->event : empty,
    };
    in.path_len = strlen(in.path);
    in.rule_path_len = field->rule_path_len ? field->rule_path_len : strlen(in.rule_path);
    in.org_len = field->org_len ? field->org_len : strlen(in.org);
    in.event_len = strlen(in.event);
    in.value = text;
    in.value_len = len;
    const char *why = NULL;
    int rc = sluice_plugin_instance_mask(inst, thread, &in, out, &why);
    if (rc < 0) {
        *reason = why;
        return SLUICE_PLUGIN_FAILED;
    }
    if (rc == SLUICE_MASK_UNCHANGED)
        return SLUICE_PLUGIN_UNCHANGED;
    if (rc == SLUICE_MASK_REMOVE)
        return SLUICE_PLUGIN_REMOVE;
    return SLUICE_PLUGIN_REPLACED; /* the answer is in out */
}

/* sluice_plugin_mask_text's body, inlined into it and into sluice_plugin_set_apply_text (the
 * gateway's jv path calls that per masked value, where a call more cost about 20 instructions). */
static inline __attribute__((always_inline)) sluice_plugin_outcome_t
mask_text_entry(sluice_plugin_instance_t *inst, unsigned thread, sluice_mask_output_t *out,
                const sluice_plugin_field_t *field, const sluice_plugin_text_t *value, sluice_plugin_text_t *answer,
                const char **reason)
{
    uint32_t type = value->json ? text_kind(value->text, value->len) : SLUICE_MASK_JSON_STRING;
    sluice_plugin_outcome_t o = mask_text(inst, thread, out, field, type, value->text, value->len, reason);
    if (o == SLUICE_PLUGIN_REPLACED)
        *answer = (sluice_plugin_text_t){.text = out->buf, .len = out->len, .json = out->type == SLUICE_MASK_OUT_JSON};
    return o;
}

sluice_plugin_outcome_t sluice_plugin_mask_text(sluice_plugin_instance_t *inst, unsigned thread,
                                                sluice_mask_output_t *out, const sluice_plugin_field_t *field,
                                                const sluice_plugin_text_t *value, sluice_plugin_text_t *answer,
                                                const char **reason)
{
    return mask_text_entry(inst, thread, out, field, value, answer, reason);
}

static sluice_plugin_outcome_t mask_json(sluice_plugin_instance_t *inst, unsigned thread, sluice_mask_output_t *out,
                                         const sluice_plugin_field_t *field, json_t *value, int in_place,
                                         json_t **result, const char **reason)
{
    *result = NULL;
    uint32_t type = json_kind(value);
    const char *in;
    size_t len;
    char *text = NULL;
    if (type == SLUICE_MASK_JSON_STRING) {
        in = json_string_value(value);
        len = json_string_length(value);
    } else {
        /* Compact JSON with reals as their shortest text (19.9, as the client wrote it, not
         * 19.899999999999999), malloc'd even while the thread allocates jansson values in an
         * arena (json/arena.h). */
        in = text = sluice_json_encode(value, field->nums, &len);
        if (text == NULL)
            return failed(inst, thread, reason, "out of memory");
    }
    sluice_plugin_outcome_t o = mask_text(inst, thread, out, field, type, in, len, reason);
    free(text);
    if (o != SLUICE_PLUGIN_REPLACED)
        return o;
    if (out->type == SLUICE_MASK_OUT_JSON) {
        sluice_plugin_text_t answer = {.text = out->buf, .len = out->len, .json = 1};
        *result = read_answer(inst, thread, &answer, field->nums, reason);
        if (*result == NULL)
            return SLUICE_PLUGIN_FAILED;
    } else if (in_place && json_is_string(value) && value->refcount == 1) {
        /* Valid UTF-8 (below); on failure value is left as it was and the caller removes it. */
        if (json_string_setn_nocheck(value, out->buf, out->len) != 0)
            return failed(inst, thread, reason, "out of memory");
        *result = json_incref(value);
    } else {
        /* sluice_plugin_instance_mask let only valid UTF-8 through (as strict as jansson's check). */
        *result = json_stringn_nocheck(out->buf, out->len);
        if (*result == NULL)
            return failed(inst, thread, reason, "out of memory");
    }
    return SLUICE_PLUGIN_REPLACED;
}

sluice_plugin_outcome_t sluice_plugin_mask_json(sluice_plugin_instance_t *inst, unsigned thread,
                                                sluice_mask_output_t *out, const sluice_plugin_field_t *field,
                                                json_t *value, json_t **result, const char **reason)
{
    return mask_json(inst, thread, out, field, value, 0, result, reason);
}

static sluice_plugin_outcome_t set_apply(sluice_plugin_set_t *set, unsigned thread, size_t org_index, size_t rule_index,
                                         const sluice_plugin_field_t *field, json_t *value, int in_place,
                                         json_t **result, const char **reason)
{
    *result = NULL;
    sluice_plugin_instance_t *inst = sluice_plugin_set_instance(set, org_index, rule_index);
    if (inst == NULL || thread >= set->nthreads) {
        *reason = "plugin not loaded";
        return SLUICE_PLUGIN_FAILED;
    }
    return mask_json(inst, thread, &set->outputs[thread], field, value, in_place, result, reason);
}

sluice_plugin_outcome_t sluice_plugin_set_apply(sluice_plugin_set_t *set, unsigned thread, size_t org_index,
                                                size_t rule_index, const sluice_plugin_field_t *field, json_t *value,
                                                json_t **result, const char **reason)
{
    return set_apply(set, thread, org_index, rule_index, field, value, 0, result, reason);
}

sluice_plugin_outcome_t sluice_plugin_set_apply_in_place(sluice_plugin_set_t *set, unsigned thread, size_t org_index,
                                                         size_t rule_index, const sluice_plugin_field_t *field,
                                                         json_t *value, json_t **result, const char **reason)
{
    return set_apply(set, thread, org_index, rule_index, field, value, 1, result, reason);
}

sluice_plugin_outcome_t sluice_plugin_set_apply_text(sluice_plugin_set_t *set, unsigned thread, size_t org_index,
                                                     size_t rule_index, const sluice_plugin_field_t *field,
                                                     const sluice_plugin_text_t *value, sluice_plugin_text_t *answer,
                                                     const char **reason)
{
    sluice_plugin_instance_t *inst = sluice_plugin_set_instance(set, org_index, rule_index);
    if (inst == NULL || thread >= set->nthreads) {
        *reason = "plugin not loaded";
        return SLUICE_PLUGIN_FAILED;
    }
    return mask_text_entry(inst, thread, &set->outputs[thread], field, value, answer, reason);
}

json_t *sluice_plugin_set_read_answer(sluice_plugin_set_t *set, unsigned thread, size_t org_index, size_t rule_index,
                                      const sluice_plugin_text_t *answer, sluice_jsonnum_t *nums, const char **reason)
{
    sluice_plugin_instance_t *inst = sluice_plugin_set_instance(set, org_index, rule_index);
    if (inst == NULL || thread >= set->nthreads) {
        *reason = "plugin not loaded";
        return NULL;
    }
    return read_answer(inst, thread, answer, nums, reason);
}

/* ------------------------------------------------------------------ metrics */

typedef struct sink {
    char *buf;
    size_t cap, len;
} sink_t;

static void put(sink_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(sink_t *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t room = s->len < s->cap ? s->cap - s->len : 0;
    int n = vsnprintf(room ? s->buf + s->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n > 0)
        s->len += (size_t)n;
}

/* Appends n bytes as they are. */
static void put_bytes(sink_t *s, const char *v, size_t n)
{
    if (s->len < s->cap)
        memcpy(s->buf + s->len, v, s->len + n < s->cap ? n : s->cap - s->len - 1);
    s->len += n;
    if (s->cap > 0)
        s->buf[s->len < s->cap ? s->len : s->cap - 1] = '\0';
}

/* A Prometheus label value: backslash, quote and newline escaped. Runs without any are copied
 * whole: a formatted call per character made a scrape of 2,000 orgs' rules take seconds. */
static void put_label(sink_t *s, const char *v)
{
    while (*v) {
        size_t run = strcspn(v, "\\\"\n");
        put_bytes(s, v, run);
        v += run;
        if (*v == '\\' || *v == '"')
            put(s, "\\%c", *v++);
        else if (*v == '\n') {
            put(s, "\\n");
            v++;
        }
    }
}

static void put_series(sink_t *s, const sluice_plugin_set_t *set, const char *metric, int errors)
{
    for (size_t o = 0; o < set->org_count; o++) {
        for (size_t r = 0; r < set->rule_counts[o]; r++) {
            const sluice_plugin_instance_t *pi = set->rules[o][r];
            if (pi == NULL)
                continue;
            put(s, "%s{plugin=\"", metric);
            put_label(s, sluice_plugin_instance_name(pi));
            put(s, "\",org=\"");
            put_label(s, sluice_plugin_instance_org(pi));
            put(s, "\",rule=\"");
            put_label(s, sluice_plugin_instance_rule(pi));
            uint64_t v = errors ? sluice_plugin_instance_errors(pi) : sluice_plugin_instance_calls(pi);
            tally_entry_t *e = set->tally != NULL ? tally_entry(set->tally, pi, 0) : NULL;
            if (e != NULL) {
                /* Every set's counts under these labels: the freed ones' and the live ones'. */
                v = errors ? e->retired_errors : e->retired_calls;
                for (size_t i = 0; i < e->live_count; i++)
                    v += errors ? sluice_plugin_instance_errors(e->live[i]) : sluice_plugin_instance_calls(e->live[i]);
            }
            put(s, "\"} %llu\n", (unsigned long long)v);
        }
    }
}

size_t sluice_plugin_set_metrics(const sluice_plugin_set_t *set, char *buf, size_t cap)
{
    sink_t s = {.buf = buf, .cap = cap};
    if (set == NULL || set->instance_count == 0) {
        if (cap > 0)
            buf[0] = '\0';
        return 0;
    }
    if (set->tally != NULL)
        pthread_mutex_lock(&set->tally->lock);
    put(&s, "# HELP sluice_plugin_calls_total Values handed to a masking plugin, by plugin, org and rule path.\n"
            "# TYPE sluice_plugin_calls_total counter\n");
    put_series(&s, set, "sluice_plugin_calls_total", 0);
    put(&s, "# HELP sluice_plugin_errors_total Values a masking plugin failed on (field removed or event "
            "rejected), by plugin, org and rule path.\n"
            "# TYPE sluice_plugin_errors_total counter\n");
    put_series(&s, set, "sluice_plugin_errors_total", 1);
    if (set->tally != NULL)
        pthread_mutex_unlock(&set->tally->lock);
    return s.len;
}
