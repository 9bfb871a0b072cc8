/*
 * The live page of the metrics listener (docs/privacy.md, "Live view"): a read-only page showing
 * the envelopes the gateway produced lately, per source, with their privacy record; the data
 * comes from the live store (gateway/live.h) and only with the bearer token of SLUICE_LIVE_TOKEN.
 *
 *   GET /live                 the page (HTML); /live/live.js and /live/live.css its script and style
 *   GET /live/events?org=O&source=S&after=N   JSON (sluice_live_collect), Authorization: Bearer <token>
 *
 * Without a token configured every /live path answers 404. Event-loop threads (the metrics
 * listener's requests).
 */
#ifndef SLUICE_GATEWAY_LIVEVIEW_H
#define SLUICE_GATEWAY_LIVEVIEW_H

#include "gateway/server.h"

/* Answers req when its path is /live or under /live/ and returns 0; -1 (nothing sent) for any
 * other path. */
int sluice_liveview_serve(h2o_req_t *req, sluice_worker_t *w);

#endif
