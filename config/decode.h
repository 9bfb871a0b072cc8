/*
 * Internal to config/: the schema walker the decoders are written with, value checkers, and
 * the org decoder. Not for other folders (they read the typed structs of config.h).
 *
 * The walker: open a YAML map with a key path ("orgs[0].sources[1]"), read each allowed key with
 * a typed getter (which records the key as allowed, marks it consumed, checks its type and range,
 * and reports problems into the diag with the value's position and the full key path), then
 * close the map: every key not consumed is reported as unknown, with a "did you mean" suggestion
 * among the allowed keys, or as a secret written inline. Getters never stop the load: on error
 * they leave the output at its default and return -1.
 *
 * Main thread (config load) only. Out of memory aborts, as everywhere in core code.
 */
#ifndef SLUICE_CONFIG_DECODE_H
#define SLUICE_CONFIG_DECODE_H

#include <stddef.h>
#include <time.h>

#include "config/config.h"

#define SLUICE_DEC_PATH_MAX 256
#define SLUICE_DEC_MAX_KEYS 40

/* Getter flags. */
enum {
    SLUICE_DEC_REQUIRED = 1 << 0, /* absent → "missing required key" at the map's position */
};

typedef struct sluice_dec_map {
    sluice_config_diag_t *diag;
    const sluice_yaml_node_t *node;         /* NULL when the map is absent, null or not a map */
    sluice_yaml_pos_t pos;                  /* the map's position, or its parent's when absent */
    char path[SLUICE_DEC_PATH_MAX];         /* key path of the map; "" for the top level */
    const char *known[SLUICE_DEC_MAX_KEYS]; /* keys the decoder asked for (string literals) */
    size_t known_count;
    unsigned char *used; /* one flag per pair of node */
} sluice_dec_map_t;

/* Opens node as a map at path. A NULL or YAML-null node is an absent (empty) map positioned at
 * fallback; any other non-map is reported ("path: expected a map, got a list").
 * Returns 1 when a map is present, 0 when absent, -1 on a type error (then it acts absent).
 * Always pair with sluice_dec_map_close. */
int sluice_dec_map_open(sluice_dec_map_t *m, sluice_config_diag_t *diag, const sluice_yaml_node_t *node,
                        const sluice_yaml_pos_t *fallback, const char *path);
/* Opens parent's key as a nested map (path "parent.key"); same returns. */
int sluice_dec_map_sub(sluice_dec_map_t *parent, const char *key, sluice_dec_map_t *child);
/* Reports every key not consumed, then releases m. */
void sluice_dec_map_close(sluice_dec_map_t *m);

/* Consumes key and returns its value node (NULL when absent). Records key as allowed. */
const sluice_yaml_node_t *sluice_dec_take(sluice_dec_map_t *m, const char *key);
/* Position of key's key node in m (NULL when absent): errors about a key's presence point there. */
const sluice_yaml_pos_t *sluice_dec_key_pos(const sluice_dec_map_t *m, const char *key);
/* "path.key" (or "key" at the top level) into buf. */
void sluice_dec_key_path(const sluice_dec_map_t *m, const char *key, char *buf, size_t len);
/* "missing required key 'key' in path" at m's position. */
void sluice_dec_missing(sluice_dec_map_t *m, const char *key);

/* Typed getters. YAML null or an empty value counts as absent (the default stays).
 * Return 1 when the value was set from the file, 0 when absent, -1 after reporting an error. */
/* Any non-null scalar, as written; *out is freed and replaced. */
int sluice_dec_string(sluice_dec_map_t *m, const char *key, int flags, char **out);
int sluice_dec_unsigned(sluice_dec_map_t *m, const char *key, int flags, unsigned long long min, unsigned long long max,
                        unsigned *out);
int sluice_dec_size(sluice_dec_map_t *m, const char *key, int flags, unsigned long long min, unsigned long long max,
                    size_t *out);
int sluice_dec_double(sluice_dec_map_t *m, const char *key, int flags, double min, double max, double *out);
int sluice_dec_bool(sluice_dec_map_t *m, const char *key, int *out);
/* names is NULL-terminated; *out gets the index of the match. */
int sluice_dec_enum(sluice_dec_map_t *m, const char *key, int flags, const char *const *names, int *out);
/* A list node into *out (items iterated by the caller); *out is NULL unless 1 is returned. */
int sluice_dec_list(sluice_dec_map_t *m, const char *key, int flags, const sluice_yaml_node_t **out);

/* Checks a string value; returns NULL when fine or a short reason ("not an origin ..."). */
typedef const char *(*sluice_dec_check_fn)(const char *s);
/* A string checked with check: on a failure the error names the key and quotes the value (unless
 * it holds a control character), and *out keeps what it had (a default, or NULL). */
int sluice_dec_checked_string(sluice_dec_map_t *m, const char *key, int flags, sluice_dec_check_fn check, char **out);
/* A list of strings; each item is checked with check (may be NULL) and, when nodup, must not
 * repeat. Items are appended to *out (caller frees each and the array). */
int sluice_dec_string_list(sluice_dec_map_t *m, const char *key, int flags, sluice_dec_check_fn check, int nodup,
                           char ***out, size_t *count);

/* Node-level helpers for list items and map values (path names the node). */
int sluice_dec_node_string(sluice_config_diag_t *diag, const sluice_yaml_node_t *n, const char *path, char **out);

/* 1 when k names a secret (write_key, hmac_secret, secret, password, token, key, ...): such a
 * key given a value is a secret written inline, which sluice refuses. */
int sluice_dec_is_secret_key(const char *k);

/* Value checkers (NULL = fine, else the reason). */
const char *sluice_dec_check_id(const char *s);          /* org/source/integration ids: [A-Za-z0-9_-], 1..64 */
const char *sluice_dec_check_env_name(const char *s);    /* [A-Za-z_][A-Za-z0-9_]* */
const char *sluice_dec_check_origin(const char *s);      /* scheme://host[:port] */
const char *sluice_dec_check_host(const char *s);        /* a DNS name */
const char *sluice_dec_check_http_url(const char *s);    /* http:// or https:// with a host */
const char *sluice_dec_check_base_url(const char *s);    /* the same, without a query or fragment */
const char *sluice_dec_check_token(const char *s);       /* [A-Za-z0-9_.-]+, e.g. consent categories */
const char *sluice_dec_check_cookie_name(const char *s); /* [A-Za-z0-9_.-], 1..64 */

/* An RFC 3339 date-time with a zone by common/time.h's rules ("2026-11-20T00:00:00Z"), or a date
 * (midnight UTC), not before 1970. Returns 0 or -1. */
int sluice_dec_parse_time(const char *s, time_t *out);

/* Joins a relative path to dir (made absolute with the working directory); absolute paths are
 * copied. Caller frees. */
char *sluice_dec_resolve_path(const char *dir, const char *path);

/* getenv for the variables a config names, one per source: glibc's getenv compares the name
 * with every variable in turn, so 20,000 sources each named in an environment of 20,000
 * variables cost 400 million compares (seconds of `config check --secrets`). Between begin and
 * end (one load, on this thread) the environment is looked up in a sorted copy of its entries,
 * taken at begin; outside them, and when the copy cannot be made, it is getenv. Not nested. */
void sluice_dec_env_begin(void);
void sluice_dec_env_end(void);
const char *sluice_dec_getenv(const char *name);

void *sluice_dec_xcalloc(size_t n, size_t size);
void *sluice_dec_xrealloc(void *p, size_t n, size_t size);
char *sluice_dec_xstrdup(const char *s);
/* s as a message may quote it (malloc'd, NULL without memory): an http(s) URL with its user info
 * and whatever follows its '?' or '#' shown as ***, anything else as it is. */
char *sluice_dec_url_shown(const char *s);
__attribute__((format(printf, 1, 2))) char *sluice_dec_xasprintf(const char *fmt, ...);
/* snprintf for key paths: a path longer than the buffer is cut, which only shortens a message. */
__attribute__((format(printf, 3, 4))) void sluice_dec_pathf(char *buf, size_t len, const char *fmt, ...);

/* ------------------------------------------------------------------ org decoder (org.c) */

/* Decodes one org map (node) into org (zeroed by the caller). path is its key path
 * ("orgs[2]"), dir the directory of the file it came from (for plugin paths), flags those of
 * sluice_config_load (SLUICE_CONFIG_RESOLVE_SECRETS reads the sources' secrets from the
 * environment). Errors go to diag; org is always left in a state sluice_org_dispose can free
 * (which wipes resolved secrets). */
void sluice_org_decode(sluice_org_t *org, const sluice_yaml_node_t *node, const char *path, const char *dir, int flags,
                       sluice_config_diag_t *diag);
void sluice_org_dispose(sluice_org_t *org);

/* ------------------------------------------------------------------ enrichment (enrich.c) */

/* The org's `enrichment` map into org->enrich, and the root's into cfg->enrich (dir resolves
 * relative paths). Errors go to the maps' diag. */
void sluice_enrich_config_decode(sluice_enrich_config_t *e, sluice_dec_map_t *orgm);
void sluice_enrich_global_decode(sluice_enrich_global_t *g, sluice_dec_map_t *root, const char *dir);
void sluice_enrich_config_dispose(sluice_enrich_config_t *e);
void sluice_enrich_global_dispose(sluice_enrich_global_t *g);
/* What `config dump` shows of them. */
json_t *sluice_enrich_config_json(const sluice_enrich_config_t *e);
json_t *sluice_enrich_global_json(const sluice_enrich_global_t *g);

#endif
