/*
 * The Kafka envelope of one event (docs/architecture.md, "Kafka wire format"), encoded as
 * compact JSON straight into one buffer. This is the gateway's hottest serialisation, so it has
 * its own encoder instead of building a wrapper object and calling json_dumps: same output as
 * jansson's compact form (insertion order, the same escapes, reals as %.17g), about half the
 * work. Pure; any thread.
 */
#ifndef SLUICE_GATEWAY_ENVELOPE_H
#define SLUICE_GATEWAY_ENVELOPE_H

#include <stddef.h>

#include <jansson.h>

/* {"v":1,"org":org,"source":source,"receivedAt":<event.receivedAt>,"event":event,
 *  "privacy":privacy[,"hashes":hashes]} as a malloc'd NUL-terminated string (caller frees; it
 * may be handed to librdkafka with RD_KAFKA_MSG_F_FREE). hashes may be NULL. Returns NULL when
 * memory runs out. */
char *sluice_envelope_encode(const char *org, const char *source, const json_t *event, const json_t *privacy,
                             const json_t *hashes, size_t *len);

/* Compact JSON of any value, the same bytes json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) gives.
 * malloc'd; NULL when memory runs out. */
char *sluice_json_encode(const json_t *v, size_t *len);

#endif
