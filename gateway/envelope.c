/*
 * The Kafka envelope, written straight into one buffer by the JSON writer (json/write.h):
 * numbers as the client sent them. One writer for both trees an event can be held in (issue 17):
 * the envelope's members are written by write_envelope, which takes the tree's value writer, so
 * the jansson and the jv envelope cannot drift. Any thread.
 */
#include "gateway/envelope.h"

#include <stdint.h>
#include <string.h>

#include "json/write.h"

/* Writes one value of the tree the caller holds (a json_t or a sluice_jv_t). */
typedef void (*write_value_fn)(sluice_jsonw_t *w, const void *v);

static void write_json(sluice_jsonw_t *w, const void *v)
{
    sluice_jsonw_value(w, v);
}

/* 1 when member m of obj has a key the parser left in the body, written as the body's bytes
 * '"key":' with its quotes and colon. A key inside obj's bytes in the body is one (a key set later,
 * or unescaped, is a copy in another allocation of the arena), and it holds nothing the writer
 * escapes: the parser refuses raw control bytes, and a key with an escape is such a copy. Its
 * quotes and colon are checked too, as the bytes read (all inside obj's). */
static inline int key_as_sent(const sluice_jv_t *obj, const sluice_jv_member_t *m)
{
    uintptr_t k = (uintptr_t)m->key, src = (uintptr_t)obj->src;
    return obj->src != NULL && k > src && k + m->key_len + 2 <= src + obj->src_len && m->key[-1] == '"' &&
           m->key[m->key_len] == '"' && m->key[m->key_len + 1] == ':';
}

/* 1 when member m of obj is written as its bytes in the body from its key's opening quote to its
 * value's end: a key as above, and a value untouched and already compact (sluice_jv_write writes
 * its bytes as sent) right after the key's ':'. */
static inline int member_as_sent(const sluice_jv_t *obj, const sluice_jv_member_t *m)
{
    const sluice_jv_t *v = m->value;
    return v->verbatim && !v->dirty && (uintptr_t)v->src == (uintptr_t)m->key + m->key_len + 2 && key_as_sent(obj, m);
}

/* sluice_jv_write's bytes, written with fewer calls for what the gateway changed in an event (its
 * root, context, properties, traits: a few members each) while most of their members are as sent:
 * a run of such members, adjacent in the body, is one copy of its bytes instead of a key, a ':'
 * and a value each. Everything else is sluice_jv_write's. */
static void write_jv(sluice_jsonw_t *w, const void *value)
{
    const sluice_jv_t *v = value;
    if (v->type != SLUICE_JV_OBJECT || !v->dirty || v->len == 0) {
        sluice_jv_write(w, v);
        return;
    }
    const char *run = NULL, *run_end = NULL; /* the bytes of the members as sent not yet copied */
    for (uint32_t i = 0; i < v->len; i++) {
        const sluice_jv_member_t *m = &v->u.m[i];
        if (member_as_sent(v, m)) {
            const char *start = m->key - 1, *end = m->value->src + m->value->src_len;
            if (run != NULL && run_end + 1 == start && *run_end == ',') {
                run_end = end; /* the ',' between them is in the body too */
                continue;
            }
            if (run != NULL)
                sluice_jsonw_put(w, run, (size_t)(run_end - run));
            sluice_jsonw_put(w, i == 0 ? "{" : ",", 1);
            run = start;
            run_end = end;
            continue;
        }
        if (run != NULL) {
            sluice_jsonw_put(w, run, (size_t)(run_end - run));
            run = NULL;
        }
        sluice_jsonw_put(w, i == 0 ? "{" : ",", 1);
        if (sluice_jv_key_framed(m)) { /* as sent, or a literal the gateway set */
            sluice_jsonw_put(w, m->key - 1, m->key_len + 3);
        } else {
            sluice_jsonw_string(w, m->key, m->key_len);
            sluice_jsonw_put(w, ":", 1);
        }
        write_jv(w, m->value);
    }
    if (run != NULL)
        sluice_jsonw_put(w, run, (size_t)(run_end - run));
    sluice_jsonw_put(w, "}", 1);
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
