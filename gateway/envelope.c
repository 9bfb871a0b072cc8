/*
 * The Kafka envelope, written straight into one buffer by the JSON writer (json/write.h):
 * numbers as the client sent them. Any thread.
 */
#include "gateway/envelope.h"

#include <string.h>

#include "json/write.h"

char *sluice_envelope_encode(const char *org, const char *source, const json_t *event, const json_t *privacy,
                             const json_t *hashes, const sluice_jsonnum_t *nums, size_t *len)
{
    sluice_jsonw_t w = {.nums = nums};
    SLUICE_JSONW_LIT(&w, "{\"v\":1,\"org\":");
    sluice_jsonw_string(&w, org, strlen(org));
    SLUICE_JSONW_LIT(&w, ",\"source\":");
    sluice_jsonw_string(&w, source, strlen(source));
    json_t *received = json_object_get(event, "receivedAt");
    if (json_is_string(received)) {
        SLUICE_JSONW_LIT(&w, ",\"receivedAt\":");
        sluice_jsonw_value(&w, received);
    }
    SLUICE_JSONW_LIT(&w, ",\"event\":");
    sluice_jsonw_value(&w, event);
    SLUICE_JSONW_LIT(&w, ",\"privacy\":");
    sluice_jsonw_value(&w, privacy);
    if (hashes != NULL) {
        SLUICE_JSONW_LIT(&w, ",\"hashes\":");
        sluice_jsonw_value(&w, hashes);
    }
    sluice_jsonw_put(&w, "}", 1);
    return sluice_jsonw_finish(&w, len);
}
