/*
 * Serving the JavaScript tag (sluice.js) at server.tag_path, from the site's own subdomain.
 * The bytes are embedded at build time (gateway/tag/embed.h); their gzip copy and ETags are
 * made once per process and are read-only afterwards.
 */
#ifndef SLUICE_GATEWAY_TAG_H
#define SLUICE_GATEWAY_TAG_H

#include "gateway/server.h"

/* Compresses the tag and computes its ETags, once per process (later calls return at once).
 * Call it on the main thread at start-up so no request pays for it; sluice_tag_serve calls it
 * too, so forgetting it costs time, not correctness. Any thread. If compression fails the tag
 * is served uncompressed (logged once); running out of memory aborts, as in h2o. */
void sluice_tag_prepare(void);

/* Answers a request for server.tag_path. GET and HEAD: 200 with the tag (gzip when
 * Accept-Encoding allows it), `Content-Type: application/javascript; charset=utf-8`, a strong
 * ETag per representation, `Cache-Control: public, max-age=300`, `Vary: Accept-Encoding` and
 * `Access-Control-Allow-Origin: *` (so `<script integrity crossorigin>` works); 304 when
 * If-None-Match names the representation's ETag. Other methods: 405. Returns 0 (the request
 * is answered). Loop thread of the request; w may not be NULL. */
int sluice_tag_serve(h2o_req_t *req, sluice_worker_t *w);

#endif
