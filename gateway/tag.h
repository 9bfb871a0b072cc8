/*
 * Serving the JavaScript tag (sluice.js) at server.tag_path, from the site's own subdomain, and
 * each embedded build at its versioned path. The bytes are embedded at build time
 * (gateway/tag/embed.h); their gzip copies and ETags are made once per process and are
 * read-only afterwards.
 */
#ifndef SLUICE_GATEWAY_TAG_H
#define SLUICE_GATEWAY_TAG_H

#include "gateway/server.h"

/* Compresses the tag and computes its ETags, once per process (later calls return at once).
 * Call it on the main thread at start-up so no request pays for it; sluice_tag_serve calls it
 * too, so forgetting it costs time, not correctness. Any thread. If compression fails the tag
 * is served uncompressed (logged once); running out of memory aborts, as in h2o. */
void sluice_tag_prepare(void);

/* Answers a request for the tag, if path is one: tag_path (server.tag_path) serves the current
 * build with `Cache-Control: public, max-age=300`; a versioned path (tag_path with
 * ".<hash>.js" for ".js", gateway/tag/embed.h) serves that build, the current one or an earlier
 * release kept in the binary, with `Cache-Control: public, max-age=31536000, immutable`.
 * GET and HEAD: 200 with the build (gzip when Accept-Encoding allows it),
 * `Content-Type: application/javascript; charset=utf-8`, a strong ETag per representation,
 * `Vary: Accept-Encoding` and `Access-Control-Allow-Origin: *` (so `<script integrity
 * crossorigin>` works); 304 when If-None-Match names the representation's ETag. Other methods:
 * 405. A versioned path naming no build kept: 404 (counted with route "tag"). Returns 0 when the
 * request was answered, -1 when its path is no tag's (nothing sent). Loop thread of the request;
 * w may not be NULL. */
int sluice_tag_serve(h2o_req_t *req, sluice_worker_t *w, const char *tag_path);

#endif
