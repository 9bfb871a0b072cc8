/*
 * The built tag, gateway/tag/dist/sluice.min.js, and the earlier releases kept in
 * gateway/tag/dist/previous/, compiled into the binaries (embed.cmake turns the files into C
 * arrays at build time), so neither the gateway nor sluicectl reads a file for them at run
 * time. Each build also answers at its versioned path, named by its content: for the tag path
 * /sluice.js, /sluice.<first 16 hex digits of its SHA-256>.js. Read-only data: any thread.
 */
#ifndef SLUICE_GATEWAY_TAG_EMBED_H
#define SLUICE_GATEWAY_TAG_EMBED_H

#include <stddef.h>

#define SLUICE_TAG_HASH_LEN 16 /* hex digits of the SHA-256 in a versioned path */

/* The bytes the gateway serves at server.tag_path (UTF-8 JavaScript, not NUL-terminated). */
extern const unsigned char sluice_tag_js[];
extern const size_t sluice_tag_js_len;

typedef struct sluice_tag_build {
    const unsigned char *js; /* the served bytes */
    size_t len;
    const char *version; /* from its banner, "0.2.0" */
    const char *hash;    /* SLUICE_TAG_HASH_LEN lowercase hex digits */
} sluice_tag_build_t;

/* Every build served: [0] is the current one (sluice_tag_js), then earlier releases, newest
 * first. Static data. */
extern const sluice_tag_build_t sluice_tag_builds[];
extern const size_t sluice_tag_builds_len;

/* Writes into out (cap bytes) the versioned form of a tag path or URL: base without a trailing
 * ".js", then ".<hash>.js" ("https://h/sluice.js" -> "https://h/sluice.<hash>.js"). Returns 0,
 * or -1 when out is too small. */
int sluice_tag_versioned(const char *base, const sluice_tag_build_t *b, char *out, size_t cap);

/* The build whose versioned path for tag_path is path[0..len), or NULL. *versioned is set to 1
 * when path has the form of a versioned path (SLUICE_TAG_HASH_LEN lowercase hex digits), built
 * or not, else 0. */
const sluice_tag_build_t *sluice_tag_build_at(const char *tag_path, const char *path, size_t len, int *versioned);

#endif
