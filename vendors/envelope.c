/*
 * Envelope decoding and the field lookups shared by the vendor mappings. Runs on the worker's
 * loop thread (and in sluicectl); pure functions over one parsed envelope.
 */
#include "vendors/envelope.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "common/time.h"
#include "json/parse.h"

int sluice_is_sha256_hex_str(const char *s)
{
    if (s == NULL)
        return 0;
    size_t i = 0;
    for (; s[i] != '\0'; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    }
    return i == 64;
}

/* A JSON string holding an RFC 3339 time (common/time.h) as epoch milliseconds. */
static int parse_time(const json_t *v, int64_t *out)
{
    return json_is_string(v) ? sluice_time_parse(json_string_value(v), json_string_length(v), 0, out) : -1;
}

int sluice_envelope_parse(sluice_envelope_t *e, const char *raw, size_t len, sluice_err_t *err)
{
    memset(e, 0, sizeof(*e));
    /* The gateway's parser, keeping each number's text: a vendor body gives prices back as the
     * client sent them (sluice_vendor_number_json). Without memory for the table they are
     * formatted instead. */
    sluice_json_error_t je;
    e->nums = sluice_jsonnum_new();
    e->root = sluice_json_parse(raw, len, 2048, SIZE_MAX, 0, e->nums, &je);
    if (e->root == NULL || !json_is_object(e->root)) {
        sluice_envelope_dispose(e);
        return sluice_err_set(err, "envelope is not a JSON object");
    }
    e->raw = raw;
    e->raw_len = len;
    json_t *v = json_object_get(e->root, "v");
    if (!json_is_integer(v) || json_integer_value(v) != 1) {
        sluice_envelope_dispose(e);
        return sluice_err_set(err, "envelope version is not 1");
    }
    e->org = json_string_value(json_object_get(e->root, "org"));
    e->event = json_object_get(e->root, "event");
    e->type = json_string_value(json_object_get(e->event, "type"));
    if (e->org == NULL || !json_is_object(e->event) || e->type == NULL) {
        sluice_envelope_dispose(e);
        return sluice_err_set(err, "envelope lacks org, event or event.type");
    }
    e->context = json_object_get(e->event, "context");
    if (!json_is_object(e->context))
        e->context = NULL;
    e->properties = json_object_get(e->event, "properties");
    if (!json_is_object(e->properties))
        e->properties = NULL;
    e->message_id = json_string_value(json_object_get(e->event, "messageId"));
    e->anonymous_id = json_string_value(json_object_get(e->event, "anonymousId"));
    e->user_id = json_string_value(json_object_get(e->event, "userId"));
    if (strcmp(e->type, "track") == 0)
        e->name = json_string_value(json_object_get(e->event, "event"));
    else if (strcmp(e->type, "page") == 0)
        e->name = json_string_value(json_object_get(e->event, "name"));
    else if (strcmp(e->type, "screen") == 0) {
        /* Segment's SDKs name a screen in `name`; RudderStack's in `event`
         * (rudder-sdk-kotlin ScreenEvent.kt: @SerialName("event") screenName) and in
         * `properties.name` (rudder-sdk-android and -ios: ScreenPropertyBuilder.setScreenName), never
         * `name`. Read from `name` only, every screen of a RudderStack app had none. */
        e->name = json_string_value(json_object_get(e->event, "name"));
        if (e->name == NULL || e->name[0] == '\0')
            e->name = json_string_value(json_object_get(e->event, "event"));
        if ((e->name == NULL || e->name[0] == '\0') && e->properties != NULL)
            e->name = json_string_value(json_object_get(e->properties, "name"));
        if (e->name != NULL && e->name[0] == '\0')
            e->name = NULL;
    }

    int64_t t;
    if (parse_time(json_object_get(e->root, "receivedAt"), &t) == 0)
        e->received_ms = t;
    /* The client's clock says when it happened; it is believed unless it claims the future, or a
     * time before 1970, which no event has: Go's and .NET's zero time (0001-01-01) sent as it
     * was, and the year 0000 a gateway's clock correction once made of a far-future sentAt.
     * Either was refused by every vendor as too old, or sent as a negative event_time, for an
     * event that had just arrived. */
    if (parse_time(json_object_get(e->event, "timestamp"), &t) == 0 && t >= 0 &&
        (e->received_ms == 0 || t <= e->received_ms))
        e->time_ms = t;
    else
        e->time_ms = e->received_ms;
    return 0;
}

void sluice_envelope_dispose(sluice_envelope_t *e)
{
    if (e == NULL)
        return;
    json_decref(e->root);
    sluice_jsonnum_free(e->nums);
    memset(e, 0, sizeof(*e));
}

json_t *sluice_envelope_get(const sluice_envelope_t *e, const char *path)
{
    json_t *cur = e->event;
    const char *p = path;
    while (cur != NULL && *p != '\0') {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        char key[64];
        if (n == 0 || n >= sizeof(key) || !json_is_object(cur))
            return NULL;
        memcpy(key, p, n);
        key[n] = '\0';
        cur = json_object_get(cur, key);
        p += n + (dot ? 1 : 0);
    }
    return cur;
}

const char *sluice_envelope_str(const sluice_envelope_t *e, const char *path)
{
    return json_string_value(sluice_envelope_get(e, path));
}

/* Where each field may live, in the order they are tried (Segment's trait names, the
 * snake_case spellings, and for e-mail and phone the event's properties). */
static const char *const field_paths[SLUICE_UF_COUNT][9] = {
    [SLUICE_UF_EMAIL] = {"context.traits.email", "traits.email", "properties.email"},
    [SLUICE_UF_PHONE] = {"context.traits.phone", "traits.phone", "properties.phone"},
    [SLUICE_UF_FIRST_NAME] = {"context.traits.firstName", "traits.firstName", "context.traits.first_name",
                              "traits.first_name"},
    [SLUICE_UF_LAST_NAME] = {"context.traits.lastName", "traits.lastName", "context.traits.last_name",
                             "traits.last_name"},
    [SLUICE_UF_CITY] = {"context.traits.address.city", "traits.address.city", "context.traits.city", "traits.city"},
    [SLUICE_UF_STATE] = {"context.traits.address.state", "traits.address.state", "context.traits.state",
                         "traits.state"},
    [SLUICE_UF_ZIP] = {"context.traits.address.postalCode", "traits.address.postalCode",
                       "context.traits.address.postal_code", "traits.address.postal_code", "context.traits.postalCode",
                       "traits.postalCode", "context.traits.zip", "traits.zip"},
    [SLUICE_UF_COUNTRY] = {"context.traits.address.country", "traits.address.country", "context.traits.country",
                           "traits.country"},
    [SLUICE_UF_GENDER] = {"context.traits.gender", "traits.gender"},
    [SLUICE_UF_BIRTHDAY] = {"context.traits.birthday", "traits.birthday"},
    [SLUICE_UF_EXTERNAL_ID] = {"userId"},
};

/* Every row ends with NULL: the longest list (zip) has 8 paths. */
const char *const *sluice_envelope_field_paths(sluice_user_field_t f)
{
    return (unsigned)f < SLUICE_UF_COUNT ? field_paths[f] : NULL;
}

/* The value at one of field_paths' paths, its keys below the event's own fields matched without
 * regard to ASCII case as the data layer's rules match them (a client's `traits.Email` is hashed
 * there, and read here); the exact spelling first. concrete receives the path as the event spells
 * it, which is how envelope.hashes is keyed. */
static json_t *find_field(const sluice_envelope_t *e, const char *path, char *concrete, size_t cap)
{
    json_t *cur = e->event;
    size_t out = 0;
    for (const char *p = path; cur != NULL && *p != '\0';) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (!json_is_object(cur))
            return NULL;
        const char *key = p;
        json_t *next = json_object_getn(cur, p, n);
        if (next == NULL && p != path) {
            for (void *it = json_object_iter(cur); it != NULL && next == NULL; it = json_object_iter_next(cur, it)) {
                if (json_object_iter_key_len(it) == n && strncasecmp(json_object_iter_key(it), p, n) == 0) {
                    next = json_object_iter_value(it);
                    key = json_object_iter_key(it);
                }
            }
        }
        if (next == NULL || out + n + 2 > cap)
            return NULL;
        if (out > 0)
            concrete[out++] = '.';
        memcpy(concrete + out, key, n);
        out += n;
        concrete[out] = '\0';
        cur = next;
        p += n + (dot ? 1 : 0);
    }
    return cur;
}

const char *sluice_envelope_hashed_or(const sluice_envelope_t *e, sluice_user_field_t f, const char *variant,
                                      const char *older)
{
    json_t *hashes = json_object_get(e->root, "hashes");
    const char *variants[2] = {variant, older};
    for (size_t i = 0; i < sizeof(field_paths[f]) / sizeof(field_paths[f][0]) && field_paths[f][i] != NULL; i++) {
        char path[128];
        const char *v = json_string_value(find_field(e, field_paths[f][i], path, sizeof(path)));
        if (v == NULL)
            continue;
        for (size_t k = 0; k < 2 && variants[k] != NULL; k++) {
            const char *hv = json_string_value(json_object_get(json_object_get(hashes, path), variants[k]));
            if (sluice_is_sha256_hex_str(hv))
                return hv;
        }
        if (sluice_is_sha256_hex_str(v))
            return v;
    }
    return NULL;
}

const char *sluice_envelope_hashed(const sluice_envelope_t *e, sluice_user_field_t f, const char *variant)
{
    return sluice_envelope_hashed_or(e, f, variant, NULL);
}

const char *sluice_envelope_raw(const sluice_envelope_t *e, sluice_user_field_t f)
{
    for (size_t i = 0; i < sizeof(field_paths[f]) / sizeof(field_paths[f][0]) && field_paths[f][i] != NULL; i++) {
        char path[128];
        const char *v = json_string_value(find_field(e, field_paths[f][i], path, sizeof(path)));
        if (v != NULL && v[0] != '\0' && !sluice_is_sha256_hex_str(v))
            return v;
    }
    return NULL;
}
