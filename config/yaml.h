/*
 * A small YAML document tree built with libyaml's event parser, keeping the file, line and
 * column of every node so each later check can report "file:line:col: message".
 * Anchors, aliases and multi-document streams are refused (they make positions ambiguous).
 *
 * Ownership: a document owns all its nodes and strings; sluice_yaml_doc_free frees them.
 * Read-only after loading; any thread may read.
 */
#ifndef SLUICE_CONFIG_YAML_H
#define SLUICE_CONFIG_YAML_H

#include <stddef.h>

typedef struct sluice_yaml_pos {
    const char *file; /* owned by the document */
    unsigned line;    /* 1-based */
    unsigned col;     /* 1-based */
} sluice_yaml_pos_t;

typedef enum sluice_yaml_type {
    SLUICE_YAML_SCALAR = 0,
    SLUICE_YAML_MAP = 1,
    SLUICE_YAML_SEQ = 2,
} sluice_yaml_type_t;

typedef struct sluice_yaml_node sluice_yaml_node_t;

typedef struct sluice_yaml_pair {
    sluice_yaml_node_t *key; /* always a scalar */
    sluice_yaml_node_t *value;
} sluice_yaml_pair_t;

struct sluice_yaml_node {
    sluice_yaml_type_t type;
    sluice_yaml_pos_t pos;
    /* scalar */
    char *scalar; /* NUL-terminated */
    size_t scalar_len;
    int quoted; /* 1 for '...' or "..." or block scalars: never null/bool/number */
    /* map */
    sluice_yaml_pair_t *pairs;
    size_t pair_count;
    /* seq */
    sluice_yaml_node_t **items;
    size_t item_count;
};

typedef struct sluice_yaml_doc {
    char *file;
    sluice_yaml_node_t *root; /* NULL for an empty document */
} sluice_yaml_doc_t;

/* Parses a file. Returns NULL and writes "file:line:col: message" into err on a syntax error,
 * a duplicate map key, an anchor/alias, or a non-scalar map key. A tab where indentation is
 * expected reads "tab character at line L col C: YAML indentation must use spaces" (at the
 * tab). Caller frees. */
sluice_yaml_doc_t *sluice_yaml_load_file(const char *path, char *err, size_t err_len);
/* Same over a buffer; `name` is used as the file name in positions. */
sluice_yaml_doc_t *sluice_yaml_load_string(const char *name, const char *buf, size_t len, char *err, size_t err_len);
void sluice_yaml_doc_free(sluice_yaml_doc_t *doc);

/* The value of key in a map node, or NULL. */
const sluice_yaml_node_t *sluice_yaml_map_get(const sluice_yaml_node_t *map, const char *key);

/* Scalar typing shared by the config loader and the plugin config-map validator.
 * Plain scalars only count as null/bool/number; quoted ones are always strings.
 * Each returns 0 on success, -1 when the node is not of that type. */
int sluice_yaml_is_null(const sluice_yaml_node_t *n);
int sluice_yaml_as_bool(const sluice_yaml_node_t *n, int *out);      /* true/false/yes/no/on/off */
int sluice_yaml_as_int(const sluice_yaml_node_t *n, long long *out); /* decimal, no trailing junk */
int sluice_yaml_as_double(const sluice_yaml_node_t *n, double *out);

/* What a node is, for messages: "a map", "a list", "null", "a boolean", "a number", "a string"
 * ("nothing" for NULL). Returns a static string. */
const char *sluice_yaml_describe(const sluice_yaml_node_t *n);

#endif
