/*
 * Envelope decoding and the field lookups shared by the vendor mappings. Runs on the worker's
 * loop thread (and in sluicectl); pure functions over one parsed envelope.
 */
#include "vendors/envelope.h"

#include <string.h>
#include <time.h>

int64_t sluice_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t sluice_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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

static int digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return -1;
        v = v * 10 + (c - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

int sluice_time_parse_ms(const char *s, int64_t *out)
{
    if (s == NULL)
        return -1;
    const char *p = s;
    int Y, M, D, h, m, sec;
    if (digits(&p, 4, &Y) || *p++ != '-' || digits(&p, 2, &M) || *p++ != '-' || digits(&p, 2, &D))
        return -1;
    if ((*p != 'T' && *p != 't' && *p != ' ') || (p++, digits(&p, 2, &h)) || *p++ != ':' || digits(&p, 2, &m) ||
        *p++ != ':' || digits(&p, 2, &sec))
        return -1;
    if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60)
        return -1;
    int ms = 0;
    if (*p == '.') {
        p++;
        int n = 0;
        while (*p >= '0' && *p <= '9') {
            if (n < 3)
                ms = ms * 10 + (*p - '0');
            n++;
            p++;
        }
        if (n == 0)
            return -1;
        for (; n < 3; n++)
            ms *= 10;
    }
    long offset = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1, oh, om;
        if (digits(&p, 2, &oh))
            return -1;
        if (*p == ':')
            p++;
        if (digits(&p, 2, &om) || oh > 23 || om > 59)
            return -1;
        offset = sign * (oh * 3600L + om * 60L);
    } else {
        return -1;
    }
    if (*p != '\0')
        return -1;
    struct tm tm = {.tm_year = Y - 1900, .tm_mon = M - 1, .tm_mday = D, .tm_hour = h, .tm_min = m, .tm_sec = sec};
    time_t t = timegm(&tm);
    if (t == (time_t)-1 || tm.tm_mday != D) /* timegm normalises 31 April into 1 May: refuse it */
        return -1;
    *out = ((int64_t)t - offset) * 1000 + ms;
    return 0;
}

int sluice_envelope_parse(sluice_envelope_t *e, const char *raw, size_t len, sluice_err_t *err)
{
    memset(e, 0, sizeof(*e));
    json_error_t je;
    e->root = json_loadb(raw, len, JSON_REJECT_DUPLICATES, &je);
    if (e->root == NULL || !json_is_object(e->root)) {
        json_decref(e->root);
        e->root = NULL;
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
    else if (strcmp(e->type, "page") == 0 || strcmp(e->type, "screen") == 0)
        e->name = json_string_value(json_object_get(e->event, "name"));

    int64_t t;
    if (sluice_time_parse_ms(json_string_value(json_object_get(e->root, "receivedAt")), &t) == 0)
        e->received_ms = t;
    /* The client's clock says when it happened; it is believed unless it claims the future. */
    if (sluice_time_parse_ms(json_string_value(json_object_get(e->event, "timestamp")), &t) == 0 &&
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

const char *sluice_envelope_hashed(const sluice_envelope_t *e, sluice_user_field_t f, const char *variant)
{
    json_t *hashes = json_object_get(e->root, "hashes");
    for (size_t i = 0; i < sizeof(field_paths[f]) / sizeof(field_paths[f][0]) && field_paths[f][i] != NULL; i++) {
        const char *path = field_paths[f][i];
        const char *v = sluice_envelope_str(e, path);
        if (v == NULL)
            continue;
        if (variant != NULL) {
            const char *hv = json_string_value(json_object_get(json_object_get(hashes, path), variant));
            if (sluice_is_sha256_hex_str(hv))
                return hv;
        }
        if (sluice_is_sha256_hex_str(v))
            return v;
    }
    return NULL;
}

const char *sluice_envelope_raw(const sluice_envelope_t *e, sluice_user_field_t f)
{
    for (size_t i = 0; i < sizeof(field_paths[f]) / sizeof(field_paths[f][0]) && field_paths[f][i] != NULL; i++) {
        const char *v = sluice_envelope_str(e, field_paths[f][i]);
        if (v != NULL && v[0] != '\0' && !sluice_is_sha256_hex_str(v))
            return v;
    }
    return NULL;
}
