/*
 * Field paths of the data layer: dotted keys with `[*]` for "every element of this array",
 * e.g. `traits.email`, `properties.products[*].sku`, `context.page.url`. Keys may not be empty
 * and may not contain `.`, `[`, `]`; `[*]` may follow any key, possibly repeated (`a[*][*].b`).
 *
 * A parsed path is owned by its holder (config); sluice_path_visit walks a jansson value,
 * sluice_path_visit_jv a json/jv.h one (the same walk: config/path_walk.h).
 */
#ifndef SLUICE_CONFIG_PATH_H
#define SLUICE_CONFIG_PATH_H

#include <stddef.h>

#include <jansson.h>

#include "json/jv.h"

typedef enum sluice_path_seg_kind {
    SLUICE_PATH_KEY = 0, /* object member */
    SLUICE_PATH_ALL = 1, /* every array element */
} sluice_path_seg_kind_t;

typedef struct sluice_path_seg {
    sluice_path_seg_kind_t kind;
    char *key;      /* KEY only */
    size_t key_len; /* strlen(key), so a walk hashes the key without measuring it */
} sluice_path_seg_t;

typedef struct sluice_path {
    char *text; /* as written, e.g. "properties.items[*].email" */
    sluice_path_seg_t *segs;
    size_t count;
    size_t text_len; /* strlen(text) */
    /* 1 when text is JSON as its bytes (ASCII without control bytes, '"' or '\\'), as nearly every
     * path is: the data layer's privacy lists then keep it as a string written without the
     * writer's escape scan (sluice_jv_string_plain). Set once, at parse. */
    int text_plain;
} sluice_path_t;

/* Parses text into out (caller storage). Returns 0, or -1 with a message naming the column
 * inside the path in err. */
int sluice_path_parse(const char *text, sluice_path_t *out, char *err, size_t err_len);
void sluice_path_dispose(sluice_path_t *p);

/* Longest concrete path handed to a visitor (longer ones are cut). */
#define SLUICE_PATH_CONCRETE_MAX 256

/* Called for every value the path reaches. parent is the object (key set, index unused) or
 * array (key NULL, index set) that holds value, so the callback may replace or delete it
 * (json_object_set/del, json_array_set). concrete is where value sits, with real indices
 * ("properties.items[2].email"); valid during the call. A non-zero return stops the walk and
 * is returned. */
typedef int (*sluice_path_visit_cb)(json_t *parent, const char *key, size_t index, json_t *value, const char *concrete,
                                    void *ud);

/* Walks root along p. Missing members and type mismatches are skipped silently (a field the
 * event does not carry is not an error). The first key is matched exactly (the event's own
 * fields: `traits`, `properties`, `context`...); the keys below it without regard to ASCII case,
 * every spelling present visited (`traits.email` reaches `traits.Email` and `traits.EMAIL`), and
 * key is then the member's own spelling, valid until the callback deletes it. Deleting inside an array during the walk
 * is not supported; replace with null instead. Returns 0 or the first non-zero callback result. */
int sluice_path_visit(json_t *root, const sluice_path_t *p, sluice_path_visit_cb cb, void *ud);

/* The same walk when the caller has already looked up p's first key in root: first is that
 * member's value (NULL when root has none: nothing is visited). For callers that walk many paths
 * from one root and share the lookups of their first keys. */
int sluice_path_visit_first(json_t *root, json_t *first, const sluice_path_t *p, sluice_path_visit_cb cb, void *ud);

/* The same walks over a jv tree (json/jv.h), from the same code: the same values in the same order
 * with the same concrete paths. key[0..key_len) is the member's own key (not NUL-terminated), valid
 * until the visitor deletes it; a visitor changes the tree through json/jv.h (object set and del,
 * an array's element replaced, never removed). The request path's data layer (issue 17). */
typedef int (*sluice_path_visit_jv_cb)(sluice_jv_t *parent, const char *key, size_t key_len, size_t index,
                                       sluice_jv_t *value, const char *concrete, void *ud);
int sluice_path_visit_jv(sluice_jv_t *root, const sluice_path_t *p, sluice_path_visit_jv_cb cb, void *ud);
int sluice_path_visit_first_jv(sluice_jv_t *root, sluice_jv_t *first, const sluice_path_t *p,
                               sluice_path_visit_jv_cb cb, void *ud);

#endif
