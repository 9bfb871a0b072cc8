/*
 * The Kafka envelope of one event (docs/architecture.md, "Kafka wire format"), encoded as
 * compact JSON straight into one buffer (json/write.h) instead of building a wrapper object and
 * calling json_dumps: jansson's compact form (insertion order, the same escapes) with numbers as
 * the client sent them. Pure; any thread.
 */
#ifndef SLUICE_GATEWAY_ENVELOPE_H
#define SLUICE_GATEWAY_ENVELOPE_H

#include <stddef.h>

#include <jansson.h>

#include "json/jv.h"
#include "json/numbers.h"

/* {"v":1,"org":org,"source":source,"receivedAt":<event.receivedAt>,"event":event,
 *  "privacy":privacy[,"hashes":hashes]} as a malloc'd NUL-terminated string (caller frees; it
 * may be handed to librdkafka with RD_KAFKA_MSG_F_FREE). hashes may be NULL; nums (may be NULL)
 * holds the text of the numbers the request's body had. Returns NULL when memory runs out. */
char *sluice_envelope_encode(const char *org, const char *source, const json_t *event, const json_t *privacy,
                             const json_t *hashes, const sluice_jsonnum_t *nums, size_t *len);

/* sluice_envelope_encode of the same event, privacy and hashes held as arena values (json/jv.h,
 * issue 17): the same bytes, in one malloc'd buffer owned by the caller as there (the numbers'
 * texts are in the values: no table). The request path's. NULL when memory runs out. */
char *sluice_envelope_encode_jv(const char *org, const char *source, const sluice_jv_t *event,
                                const sluice_jv_t *privacy, const sluice_jv_t *hashes, size_t *len);

#endif
