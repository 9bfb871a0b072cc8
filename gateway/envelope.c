/*
 * The Kafka envelope, written straight into one buffer by the JSON writer (json/write.h):
 * numbers as the client sent them. One writer for both trees an event can be held in (issue 17):
 * the envelope's members are written by write_envelope, which takes the tree's value writer, so
 * the jansson and the jv envelope cannot drift. Any thread.
 */
#include "gateway/envelope.h"

#include <string.h>

#include "json/write.h"

/* Writes one value of the tree the caller holds (a json_t or a sluice_jv_t). */
typedef void (*write_value_fn)(sluice_jsonw_t *w, const void *v);

static void write_json(sluice_jsonw_t *w, const void *v)
{
    sluice_jsonw_value(w, v);
}

static void write_jv(sluice_jsonw_t *w, const void *v)
{
    sluice_jv_write(w, v);
}

/* The envelope's members in their order; received is the event's receivedAt when a string, else
 * NULL (each tree looks it up its own way). Inlined into both callers: the writer is known there. */
static inline char *write_envelope(sluice_jsonw_t *w, write_value_fn put, const char *org, const char *source,
                                   const void *event, const void *received, const void *privacy, const void *hashes,
                                   size_t *len)
{
    SLUICE_JSONW_LIT(w, "{\"v\":1,\"org\":");
    sluice_jsonw_string(w, org, strlen(org));
    SLUICE_JSONW_LIT(w, ",\"source\":");
    sluice_jsonw_string(w, source, strlen(source));
    if (received != NULL) {
        SLUICE_JSONW_LIT(w, ",\"receivedAt\":");
        put(w, received);
    }
    SLUICE_JSONW_LIT(w, ",\"event\":");
    put(w, event);
    SLUICE_JSONW_LIT(w, ",\"privacy\":");
    put(w, privacy);
    if (hashes != NULL) {
        SLUICE_JSONW_LIT(w, ",\"hashes\":");
        put(w, hashes);
    }
    sluice_jsonw_put(w, "}", 1);
    return sluice_jsonw_finish(w, len);
}

char *sluice_envelope_encode(const char *org, const char *source, const json_t *event, const json_t *privacy,
                             const json_t *hashes, const sluice_jsonnum_t *nums, size_t *len)
{
    sluice_jsonw_t w = {.nums = nums};
    json_t *received = json_object_get(event, "receivedAt");
    return write_envelope(&w, write_json, org, source, event, json_is_string(received) ? received : NULL, privacy,
                          hashes, len);
}

char *sluice_envelope_encode_jv(const char *org, const char *source, const sluice_jv_t *event,
                                const sluice_jv_t *privacy, const sluice_jv_t *hashes, size_t *len)
{
    sluice_jsonw_t w = {.nums = NULL};
    sluice_jv_t *received = sluice_jv_object_getn(event, "receivedAt", sizeof("receivedAt") - 1);
    return write_envelope(&w, write_jv, org, source, event, sluice_jv_is_string(received) ? received : NULL, privacy,
                          hashes, len);
}
