/*
 * The Kafka envelope as the delivery worker reads it (docs/architecture.md, "Kafka wire
 * format"): {"v":1,"org":...,"source":...,"receivedAt":...,"event":{...},"privacy":{...},
 * "hashes":{...}}, and the lookups every vendor mapping shares: event time, dotted paths, and
 * the person's fields (e-mail, phone, names, address, ids) with the hash variant a vendor wants.
 *
 * Hashing is the gateway's job: a field the vendor wants hashed is used only when the gateway
 * hashed it (64 lowercase hex digits), never hashed here; a field the vendor wants raw is used
 * only when it is not a hash. Raw PII the org did not hash is therefore never sent to a vendor
 * that expects a hash.
 *
 * Threading: an envelope belongs to the thread that parsed it; the functions are reentrant.
 */
#ifndef SLUICE_VENDORS_ENVELOPE_H
#define SLUICE_VENDORS_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/err.h"
#include "json/numbers.h"

typedef struct sluice_envelope {
    json_t *root;           /* owned */
    sluice_jsonnum_t *nums; /* owned: the numbers' texts as the envelope has them (json/numbers.h) */
    const char *raw;        /* the bytes as consumed (not owned; valid while the caller keeps them) */
    size_t raw_len;
    const char *org;        /* never NULL after a successful parse */
    const char *type;       /* track, page, screen, identify, group, alias */
    const char *name;       /* track: `event`; page: `name`; screen: `name`, `event` or `properties.name`; else NULL */
    const char *message_id; /* may be NULL (the gateway always fills it) */
    const char *anonymous_id;
    const char *user_id;
    json_t *event;       /* borrowed from root */
    json_t *context;     /* may be NULL */
    json_t *properties;  /* may be NULL */
    int64_t received_ms; /* receivedAt; 0 when absent */
    int64_t time_ms; /* when it happened: `timestamp`, else receivedAt; never later than receivedAt nor before 1970 */
} sluice_envelope_t;

/* Parses raw[0..len) (not NUL-terminated) into e. Returns 0, or -1 with a message in err when
 * it is not JSON, not version 1, or lacks org, event or event.type. The message never quotes
 * the envelope. On success the caller disposes e. */
int sluice_envelope_parse(sluice_envelope_t *e, const char *raw, size_t len, sluice_err_t *err);
void sluice_envelope_dispose(sluice_envelope_t *e);

/* The value at a dotted path under the event ("context.page.url"); NULL when absent. The
 * string form returns a string value only, NULL for other types. Borrowed from e. */
json_t *sluice_envelope_get(const sluice_envelope_t *e, const char *path);
const char *sluice_envelope_str(const sluice_envelope_t *e, const char *path);

/* The person's fields vendors match on. */
typedef enum sluice_user_field {
    SLUICE_UF_EMAIL = 0,
    SLUICE_UF_PHONE,
    SLUICE_UF_FIRST_NAME,
    SLUICE_UF_LAST_NAME,
    SLUICE_UF_CITY,
    SLUICE_UF_STATE,
    SLUICE_UF_ZIP,
    SLUICE_UF_COUNTRY,
    SLUICE_UF_GENDER,
    SLUICE_UF_BIRTHDAY,
    SLUICE_UF_EXTERNAL_ID,
    SLUICE_UF_COUNT
} sluice_user_field_t;

/* The hash of field f in variant `variant` ("google", "tiktok"; NULL = the default, Meta's):
 * the first of the field's paths (context.traits.email, traits.email, properties.email, ...;
 * docs/vendors.md lists them; below the event's own fields in any ASCII case, as the data layer's
 * rules match) the event carries, its variant from envelope.hashes when present,
 * else the field itself. Only a 64-digit lowercase hex string counts; NULL otherwise.
 * Borrowed from e. */
const char *sluice_envelope_hashed(const sluice_envelope_t *e, sluice_user_field_t f, const char *variant);

/* sluice_envelope_hashed, trying variant `older` where `variant` is absent: envelopes a gateway
 * wrote before it computed `variant` (Reddit's, which used to read TikTok's) still carry the
 * older one, which for a phone is the right hash, and the field itself is not. */
const char *sluice_envelope_hashed_or(const sluice_envelope_t *e, sluice_user_field_t f, const char *variant,
                                      const char *older);

/* The raw value of field f when the event carries one that is not a hash (for fields vendors
 * take unhashed, such as GA4's city); NULL otherwise. Borrowed from e. */
const char *sluice_envelope_raw(const sluice_envelope_t *e, sluice_user_field_t f);

/* The paths field f is looked for at, in the order tried (docs/vendors.md, "The person's
 * fields"): a NULL-terminated list in static storage. `sluicectl privacy map` draws from it
 * which vendor field reads which event path. */
const char *const *sluice_envelope_field_paths(sluice_user_field_t f);

/* 1 when s is exactly 64 lowercase hex digits. */
int sluice_is_sha256_hex_str(const char *s);

#endif
