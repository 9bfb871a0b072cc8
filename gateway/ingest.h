/*
 * The event pipeline of the gateway, per request: media type and gzip, parse with limits,
 * authenticate (write key or HMAC signature), CORS, rate limit, validate and enrich each event,
 * identity (anonymous id, Redis work), data layer, envelope, produce to Kafka, and answer once
 * every event is acknowledged (or queued, with `ack: queued`).
 *
 * A request that waits (Redis, Kafka acks) keeps a `pending` record that outlives the HTTP
 * request if the client goes away, until every delivery report has come back.
 * Event-loop thread of the request.
 */
#ifndef SLUICE_GATEWAY_INGEST_H
#define SLUICE_GATEWAY_INGEST_H

#include "gateway/event.h"
#include "gateway/server.h"

/* POST of one event (forced_type >= 0), a batch (/batch), or signed server events (/events). */
int sluice_ingest_post(h2o_req_t *req, sluice_worker_t *w, sluice_route_t route, int forced_type);

/* GET <prefix>/pixel/<type>: the event comes in the query string; answers a 1x1 GIF. */
int sluice_ingest_pixel(h2o_req_t *req, sluice_worker_t *w, h2o_iovec_t type);

/* OPTIONS: CORS preflight, answered from the union of all sources' allowed origins. */
int sluice_ingest_preflight(h2o_req_t *req, sluice_worker_t *w, sluice_route_t route);

/* GET <prefix>/xd?to=<url>: a single-use cross-domain token for the caller's anonymous id,
 * {"token":"..."} (docs/identity.md). */
int sluice_ingest_xd_issue(h2o_req_t *req, sluice_worker_t *w);

/* POST <prefix>/xd/redeem {"_dft":"<token>"[,"anonymousId":"..."]}: redeems a token without an
 * event; answers {"anonymousId":"<id now in effect>","redeemed":true|false} with the cookie. */
int sluice_ingest_xd_redeem(h2o_req_t *req, sluice_worker_t *w);

/* GET <prefix>/projects/<writeKey>/settings: the settings Segment's SDKs fetch from their
 * cdnHost at start, answered with the gateway as their apiHost (docs/compat.md). */
int sluice_ingest_settings(h2o_req_t *req, sluice_worker_t *w, h2o_iovec_t key);

/* Delivery report of one produced event; opaque is the pending_msg_t slot it was produced with
 * (its request and its messageId), err 0 when Kafka acknowledged it. Runs on the loop thread. */
void sluice_ingest_on_delivery(void *opaque, int err);

/* Frees the records of finished requests the worker kept for its next ones (w->pending_pool);
 * on the worker's thread once nothing is in flight, or after it stopped. */
void sluice_ingest_pool_drain(sluice_worker_t *w);

#endif
