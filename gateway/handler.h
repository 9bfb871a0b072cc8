/*
 * The gateway's HTTP routes (data flow steps 2 to 9): one h2o handler that routes by path
 * under the configured prefix, authenticates, parses, validates, applies identity and the data
 * layer, produces to Kafka and answers once the broker has acknowledged every event.
 *
 * Runs on the event-loop threads; all per-request state lives on the request's thread.
 */
#ifndef SLUICE_GATEWAY_HANDLER_H
#define SLUICE_GATEWAY_HANDLER_H

#include "gateway/server.h"

/* Installs the handler on pathconf ("/"). Main thread, before workers start. */
void sluice_handler_register(h2o_pathconf_t *pathconf, sluice_gateway_t *gw);

/* Installs the operations-only handler (/metrics, /healthz, /readyz) of the metrics listener. */
void sluice_handler_register_ops(h2o_pathconf_t *pathconf, sluice_gateway_t *gw);

/* Rewrites the error answers h2o sends by itself (before any handler) as the gateway's JSON
 * errors, for every request of host. Main thread, at configuration. */
void sluice_handler_register_error_filter(h2o_hostconf_t *host);

#endif
