/*
 * User agent parsing with the ua-parser regex set (uap-core's regexes.yaml, which Debian ships
 * in /usr/share/uap-core): browser family and version, operating system and version, device
 * family, brand and model, and a device type sluice derives from them (desktop, mobile, tablet,
 * bot, other). uap-core's `Spider` device family is what makes a request a bot here.
 *
 * The parser is loaded once (read with libyaml, every regex compiled with PCRE2 and JIT) and is
 * then immutable: any number of threads share it. Matching needs per-thread scratch (PCRE2 match
 * data) and real traffic repeats a few thousand user agents, so each thread owns a cache
 * (sluice_ua_cache_t): an LRU keyed by the user-agent string whose hit path is one hash and one
 * compare, no regex.
 *
 * User-Agent Client Hints (Sec-CH-UA, -Platform, -Mobile and the high-entropy ones) describe a
 * Chromium browser better than its reduced User-Agent string; sluice_ua_apply_hints lets them
 * win over what the string said.
 */
#ifndef SLUICE_ENRICH_UA_H
#define SLUICE_ENRICH_UA_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

/* Where Debian's uap-core package puts the regex set. */
#define SLUICE_UA_REGEXES_DEFAULT "/usr/share/uap-core/regexes.yaml"

typedef struct sluice_ua_parser sluice_ua_parser_t;
typedef struct sluice_ua_cache sluice_ua_cache_t;

/* What a user agent says. Strings are NUL-terminated, cut to their buffer; an unknown part is
 * "Other" (families) or "" (versions, brand, model). type points to a static string. */
typedef struct sluice_ua_result {
    char browser[48];
    char browser_version[32]; /* major[.minor[.patch]] */
    char os[48];
    char os_version[32];
    char device[64]; /* uap-core's device family ("iPhone", "Samsung SM-G991B", "Spider", "Other") */
    char brand[32];
    char model[64];
    const char *type; /* "desktop", "mobile", "tablet", "bot" or "other" */
    int bot;          /* 1 for uap-core's Spider family */
    int automation;   /* 1 when it holds a sluice_ua_automation pattern (headless browsers, HTTP libraries) */
} sluice_ua_result_t;

/* Case-insensitive substrings of user agents of automation that uap-core does not call a Spider
 * (HeadlessChrome, curl/, python-requests, ...), NULL-terminated. Checked once per distinct user
 * agent (the answer is cached with the rest); enrich/bots.c turns it into a bot reason. */
extern const char *const sluice_ua_automation[];

/* The part of sluice_ua_automation that names HTTP libraries (curl/, python-requests,
 * Go-http-client, ...): a server source's own User-Agent, which says nothing of the visitor. A
 * headless browser's or crawler's that a server passes on is the visitor's, and a bot's. */
extern const char *const sluice_ua_http_libraries[];

/* 1 when s[0..len) contains one of the NULL-terminated patterns, ignoring ASCII case. */
int sluice_ua_contains_any(const char *s, size_t len, const char *const *patterns, size_t count);

/* Loads and compiles the regex set at path (NULL: SLUICE_UA_REGEXES_DEFAULT). A regex PCRE2
 * refuses is skipped and counted (sluice_ua_parser_skipped); a file that cannot be read or holds
 * no parsers is an error. Returns the parser (owned by the caller), or NULL with a message in
 * err. Any thread; usually the main thread at start-up or reload. */
sluice_ua_parser_t *sluice_ua_parser_load(const char *path, sluice_err_t *err);

/* Another reference to p, released by sluice_ua_parser_destroy. */
sluice_ua_parser_t *sluice_ua_parser_acquire(sluice_ua_parser_t *p);

/* Releases a reference to p (NULL allowed), freeing it with the last. No thread may use p or a
 * cache still bound to it afterwards, except to rebind the cache by parsing with another parser. */
void sluice_ua_parser_destroy(sluice_ua_parser_t *p);

/* How many regexes p holds, and how many of the file's it skipped. */
size_t sluice_ua_parser_count(const sluice_ua_parser_t *p);
size_t sluice_ua_parser_skipped(const sluice_ua_parser_t *p);

/* A per-thread cache of capacity results (0: 2048). Returns NULL when out of memory. The cache
 * and its scratch belong to one thread at a time. */
sluice_ua_cache_t *sluice_ua_cache_create(size_t capacity);
void sluice_ua_cache_destroy(sluice_ua_cache_t *c);

/* Lookups answered from the cache and by the regexes, since the cache was created. */
void sluice_ua_cache_stats(const sluice_ua_cache_t *c, uint64_t *hits, uint64_t *misses);

/* A user agent longer than this is parsed from its first SLUICE_UA_CACHE_KEY_MAX bytes, every
 * time: the cache does not keep it. */
#define SLUICE_UA_CACHE_KEY_MAX 1024

/* Parses ua[0..len) with p, through c, into out. A cache filled by another parser is emptied
 * first. An empty user agent gives "Other" everywhere with type "other". Returns 1 when the
 * answer came from the cache, 0 when the regexes ran, -1 when out of memory (out is then the
 * unknown result). */
int sluice_ua_parse(const sluice_ua_parser_t *p, sluice_ua_cache_t *c, const char *ua, size_t len,
                    sluice_ua_result_t *out);

/* The client hints of a request, header values as sent (NULL when absent). */
typedef struct sluice_ua_hints {
    const char *ch_ua;             /* Sec-CH-UA: "Chromium";v="124", "Google Chrome";v="124", ... */
    const char *full_version_list; /* Sec-CH-UA-Full-Version-List (high entropy) */
    const char *platform;          /* Sec-CH-UA-Platform: "Windows" */
    const char *platform_version;  /* Sec-CH-UA-Platform-Version (high entropy): "15.0.0" */
    const char *mobile;            /* Sec-CH-UA-Mobile: ?0 or ?1 */
    const char *model;             /* Sec-CH-UA-Model (high entropy): "Pixel 7" */
} sluice_ua_hints_t;

/* Lets the hints that are present override r: browser and version (the first brand that is
 * neither a GREASE brand nor "Chromium", else "Chromium"; the full version when the list has
 * it), OS name (and version, Windows 11 told from 10 by the platform version), mobile, model.
 * A bot stays a bot. Returns 1 when any hint was used, else 0. Pure; any thread. */
int sluice_ua_apply_hints(sluice_ua_result_t *r, const sluice_ua_hints_t *h);

#endif
