/*
 * Decoding one org of the config: its sources (write keys, rotation, origins, rate limits),
 * identity settings, consent, data layer (hash / mask / drop rules) and vendor integrations,
 * with every check that needs only the org itself. Checks that need the whole config (duplicate
 * org ids, Redis present when dedup is on, secrets from the environment) live in config.c.
 * Main thread (config load) only.
 */
#include "config/decode.h"
#include "pii/scan.h"
#include "common/strdist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>

static const char *const normalizer_names[] = {"email",   "phone",  "name", "city",        "state", "zip",
                                               "country", "gender", "date", "external_id", "raw",   NULL};
static const char *const source_kinds[] = {"browser", "server", NULL};
static const char *const on_error_names[] = {"remove", "reject", NULL};
static const char *const policy_names[] = {"allow", "drop", "strip", NULL};
static const char *const guard_modes[] = {"off", "report", "mask", "hash", NULL};

int sluice_normalizer_parse(const char *name)
{
    for (int i = 0; normalizer_names[i] != NULL; i++) {
        if (strcmp(name, normalizer_names[i]) == 0)
            return i;
    }
    return -1;
}

const char *sluice_normalizer_name(sluice_normalizer_t n)
{
    return (unsigned)n <= SLUICE_NORM_RAW ? normalizer_names[n] : "unknown";
}

/* ------------------------------------------------------------------ helpers */

/* A key that names an environment variable. The value is never echoed in a message: a common
 * mistake is pasting the secret itself here. */
static int env_name(sluice_dec_map_t *m, const char *key, int flags, char **out)
{
    const sluice_yaml_node_t *v = sluice_yaml_map_get(m->node, key);
    int rc = sluice_dec_string(m, key, flags, out);
    if (rc == 0 && v != NULL && sluice_yaml_is_null(v) == 0) {
        /* Elsewhere a null is the default; a secret's variable has none, and without one the
         * source could never authenticate. */
        char path[SLUICE_DEC_PATH_MAX];
        sluice_dec_key_path(m, key, path, sizeof(path));
        sluice_config_diag_add(m->diag, &v->pos, "%s: expected the name of an environment variable, got null", path);
        return -1;
    }
    if (rc == 1 && sluice_dec_check_env_name(*out) != NULL) {
        char path[SLUICE_DEC_PATH_MAX];
        sluice_dec_key_path(m, key, path, sizeof(path));
        sluice_config_diag_add(m->diag, &v->pos,
                               "%s: not an environment variable name (letters, digits and '_', not starting with a "
                               "digit); the value is read from the variable, never written here",
                               path);
        free(*out);
        *out = NULL;
        return -1;
    }
    return rc;
}

/* The name of an invisible or space-like character (UTF-8) at s, or NULL. A path copied from a wiki page, a chat or a
 * word processor brings these along (a no-break space after the last key, a zero-width space inside one); YAML keeps
 * them in a plain scalar, and the path then names a key no event has. */
static const char *invisible_char(const unsigned char *s)
{
    unsigned cp;
    if (s[0] == 0xc2 && (s[1] == 0xa0 || s[1] == 0xad))
        cp = s[1];
    else if (s[0] >= 0xe1 && s[0] <= 0xef && (s[1] & 0xc0) == 0x80 && (s[2] & 0xc0) == 0x80)
        cp = ((unsigned)(s[0] & 0x0f) << 12) | ((unsigned)(s[1] & 0x3f) << 6) | (unsigned)(s[2] & 0x3f);
    else
        return NULL;
    if (cp == 0xa0 || cp == 0x202f)
        return "a no-break space";
    if (cp == 0xad)
        return "a soft hyphen";
    if (cp == 0xfeff || (cp >= 0x200b && cp <= 0x200d) || cp == 0x2060)
        return "a zero-width character";
    if (cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) || cp == 0x205f || cp == 0x3000)
        return "a Unicode space";
    if (cp == 0x180e || (cp >= 0x200e && cp <= 0x200f) || (cp >= 0x2028 && cp <= 0x202e) ||
        (cp >= 0x2061 && cp <= 0x2064))
        return "an invisible formatting character";
    return NULL;
}

/* 1, with the reason in why, for a path that parses (config/path.c: any key an event may hold)
 * but that no event's field would match as an operator meant it: the rule would never act, and a
 * hash rule silently off is raw PII in Kafka. */
static int never_matches(const char *text, char *why, size_t why_len)
{
    for (size_t i = 0; text[i] != '\0'; i++) {
        const char *what = invisible_char((const unsigned char *)text + i);
        if (what != NULL) {
            snprintf(why, why_len, "column %zu: %s in a key (no field has one; retype the path)", i + 1, what);
            return 1;
        }
    }
    if (text[0] == '$' || text[0] == '/') {
        snprintf(why, why_len,
                 "column 1: a path is written from the event's top, as traits.email (not $.traits.email or "
                 "/traits/email)");
        return 1;
    }
    for (size_t i = 0, start = 0; text[i] != '\0'; i++) {
        char c = text[i];
        if (c == '\\') {
            snprintf(why, why_len,
                     "column %zu: a backslash escapes nothing in a path (a key with a '.' in it cannot be named)",
                     i + 1);
            return 1;
        }
        int key_start = i == start, key_end = text[i + 1] == '\0' || text[i + 1] == '.' || text[i + 1] == '[';
        if (c == ' ' && (key_start || key_end)) {
            snprintf(why, why_len, "column %zu: a key %s with a space (no field has one; take it out)", i + 1,
                     key_start ? "starts" : "ends");
            return 1;
        }
        if (c == '*' && key_start && key_end) {
            snprintf(why, why_len,
                     "column %zu: '*' is not a wildcard for members (name each one; [*] is every element of an array)",
                     i + 1);
            return 1;
        }
        if (c == '.' || c == ']')
            start = i + 1;
    }
    return 0;
}

/* A field path; errors point at the path scalar and name the column inside the path. */
static int field_path(sluice_config_diag_t *diag, const sluice_yaml_node_t *n, const char *path, sluice_path_t *out)
{
    char *text = NULL;
    if (sluice_dec_node_string(diag, n, path, &text) < 0)
        return -1;
    char why[200];
    int rc = sluice_path_parse(text, out, why, sizeof(why)) == 0 ? 1 : -1;
    if (rc > 0 && never_matches(text, why, sizeof(why))) {
        sluice_path_dispose(out);
        rc = -1;
    }
    if (rc < 0)
        sluice_config_diag_add(diag, &n->pos, "%s: bad field path '%s': %s", path, text, why);
    free(text);
    return rc;
}

static int map_path_value(sluice_dec_map_t *m, const char *key, sluice_path_t *out)
{
    const sluice_yaml_node_t *v = sluice_dec_take(m, key);
    if (v == NULL || sluice_yaml_is_null(v) == 0) {
        sluice_dec_missing(m, key);
        return -1;
    }
    char path[SLUICE_DEC_PATH_MAX];
    sluice_dec_key_path(m, key, path, sizeof(path));
    return field_path(m->diag, v, path, out);
}

/* A list item that is YAML null (a bare `-`, or a template that rendered nothing) where a map is
 * meant. The walker takes a null map as absent, which is right for an optional section but not
 * for an item of a list of rules: the item still counts, and a rule with no path, plugin or
 * vendor would be loaded silently (its readers assume the loader reported it). */
static void null_item(sluice_config_diag_t *diag, const sluice_yaml_node_t *n, const char *path)
{
    if (sluice_yaml_is_null(n) == 0)
        sluice_config_diag_add(diag, &n->pos, "%s: expected a map, got null", path);
}

/* "key only for X" at the key, when the key is present. */
static void not_for(sluice_dec_map_t *m, const char *key, const char *what)
{
    const sluice_yaml_pos_t *pos = sluice_dec_key_pos(m, key);
    const sluice_yaml_node_t *v = sluice_yaml_map_get(m->node, key);
    if (pos == NULL || v == NULL || sluice_yaml_is_null(v) == 0)
        return;
    char path[SLUICE_DEC_PATH_MAX];
    sluice_dec_key_path(m, key, path, sizeof(path));
    sluice_config_diag_add(m->diag, pos, "%s: only for %s", path, what);
}

static void item_path(char *buf, size_t len, const char *base, const char *key, size_t i)
{
    sluice_dec_pathf(buf, len, "%s.%s[%zu]", base, key, i);
}

static const char *check_vendor_cookie(const char *s)
{
    return strcmp(s, "meta") == 0 || strcmp(s, "ga4") == 0 ? NULL : "is not one of: meta, ga4";
}

static const char *check_event_type(const char *s)
{
    static const char *const types[] = {"track", "page", "screen", "identify", "group", "alias", NULL};
    for (size_t i = 0; types[i] != NULL; i++) {
        if (strcmp(s, types[i]) == 0)
            return NULL;
    }
    return "is not one of: track, page, screen, identify, group, alias";
}

static const char *check_country_code(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 3 || strspn(s, "0123456789") != n)
        return "is not a calling code (1 to 3 digits, without '+')";
    /* No calling code starts with 0 (E.164): 044 is the UK's with a dialling prefix, and it was
     * put before every national number, so each hash matched no vendor's. */
    if (s[0] == '0')
        return "starts with 0, which no calling code does: write it without the dialling prefix (44, not 044)";
    return NULL;
}

static const char *check_plugin_name(const char *s)
{
    return sluice_dec_check_id(s) == NULL ? NULL
                                          : "is not a built-in plugin name (letters, digits, '_', '-') or a path to "
                                            "a .so";
}

/* ------------------------------------------------------------------ sources */

/* Reads the secret named by the env var `var` (from key) into *out when resolving; a missing or
 * empty variable is an error then, and a warning when only checking. */
/* The shortest HMAC signing secret taken: 128 bits. */
#define SLUICE_HMAC_SECRET_MIN 16

static void resolve_secret(sluice_dec_map_t *m, const char *key, const char *var, const sluice_source_t *s,
                           const char *org_id, int flags, char **out)
{
    if (var == NULL)
        return;
    const char *v = sluice_dec_getenv(var);
    char path[SLUICE_DEC_PATH_MAX];
    sluice_dec_key_path(m, key, path, sizeof(path));
    const sluice_yaml_pos_t *pos = &sluice_yaml_map_get(m->node, key)->pos;
    const char *sid = s->id ? s->id : "?", *oid = org_id ? org_id : "?";
    void (*say)(sluice_config_diag_t *, const sluice_yaml_pos_t *, const char *, ...) =
        (flags & SLUICE_CONFIG_RESOLVE_SECRETS) ? sluice_config_diag_add : sluice_config_diag_warn;
    /* Whoever knows a signing secret can send any user's events as the org's backend, and one of
     * a few bytes (a placeholder left in, "changeme") is guessed by trying: a write key is seen
     * by every visitor anyway, so only signing secrets have a floor. The length only is said. */
    if (v != NULL && (strcmp(key, "hmac_secret_env") == 0 || strcmp(key, "previous_hmac_secret_env") == 0) &&
        v[0] != '\0' && strlen(v) < SLUICE_HMAC_SECRET_MIN) {
        say(m->diag, pos,
            "%s: the secret in %s is %zu bytes long: an HMAC signing secret needs at least %d (source '%s' of org "
            "'%s'; e.g. openssl rand -hex 32)",
            path, strspn(var, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") == strlen(var) ? var : "its variable", strlen(v),
            SLUICE_HMAC_SECRET_MIN, sid, oid);
        return;
    }
    /* A write key read from a file or a Kubernetes secret keeps its line end, and no client can
     * send one (header values lose the spaces around them; no SDK adds a newline): every request
     * was refused 401 while `config check` said ok. Spaces and line ends around a write key are
     * dropped. A signing secret is kept as it is: the backend signs with its exact bytes. */
    size_t vlen = v != NULL ? strlen(v) : 0;
    if (v != NULL && strstr(key, "write_key_env") != NULL) {
        while (vlen > 0 && strchr(" \t\r\n", v[vlen - 1]) != NULL)
            vlen--;
        while (vlen > 0 && strchr(" \t\r\n", v[0]) != NULL) {
            v++;
            vlen--;
        }
    }
    if (v != NULL && vlen > 0) {
        if (flags & SLUICE_CONFIG_RESOLVE_SECRETS)
            *out = sluice_dec_xasprintf("%.*s", (int)vlen, v);
        return;
    }
    const char *state = v == NULL ? "not set" : v[0] == '\0' ? "empty" : "only spaces and line ends";
    /* A key pasted where its variable's name goes is a valid name too: the message (and the log
     * it goes to) would print the key. Only a name written the usual way is echoed. */
    if (strspn(var, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") == strlen(var))
        say(m->diag, pos, "%s: environment variable %s is %s (source '%s' of org '%s')", path, var, state, sid, oid);
    else
        say(m->diag, pos,
            "%s: the environment variable named here is %s (source '%s' of org '%s'); the name is not shown: it is "
            "not written like a variable's (capitals, digits, '_'), and may be a key pasted in its place",
            path, state, sid, oid);
}

/* An event name in an integration's filter: any text the site may send, but not none. */
static const char *check_event_name(const char *s)
{
    return s[0] == '\0' ? "matches no event: an event name cannot be empty" : NULL;
}

/* A cookie's Domain: a host name, written without the leading dot that old habits add. */
static const char *check_cookie_domain(const char *s)
{
    if (s[0] == '.')
        return "is not a host name (empty label); a cookie domain is written without the leading dot (acme.test "
               "covers its subdomains)";
    return sluice_dec_check_host(s);
}

/* A burst is how far above the rate a client may go; per_second is the rate, and without one
 * there is no limit at all, whatever the burst says. */
static void burst_needs_rate(sluice_dec_map_t *rl)
{
    if (rl->node == NULL)
        return;
    const sluice_yaml_node_t *b = sluice_yaml_map_get(rl->node, "burst"),
                             *r = sluice_yaml_map_get(rl->node, "per_second");
    if (b != NULL && sluice_yaml_is_null(b) != 0 && (r == NULL || sluice_yaml_is_null(r) == 0))
        sluice_config_diag_add(rl->diag, &rl->pos,
                               "%s: burst without per_second (which sets the rate; without it there is no limit)",
                               rl->path);
}

static void decode_source(sluice_source_t *s, const sluice_yaml_node_t *n, const char *path, const char *org_id,
                          int flags, sluice_config_diag_t *diag)
{
    s->kind = SLUICE_SOURCE_BROWSER;
    s->grace_hours = 72;
    s->pos = n->pos;
    sluice_dec_map_t m;
    if (sluice_dec_map_open(&m, diag, n, &n->pos, path) <= 0) {
        null_item(diag, n, path);
        sluice_dec_map_close(&m);
        return;
    }
    sluice_dec_checked_string(&m, "id", SLUICE_DEC_REQUIRED, sluice_dec_check_id, &s->id);
    int kind = SLUICE_SOURCE_BROWSER;
    sluice_dec_enum(&m, "kind", 0, source_kinds, &kind);
    s->kind = (sluice_source_kind_t)kind;
    /* Who sends: a browser (one visitor per request: ids spread within a batch, cookies, the
     * connection's address) or a server SDK on behalf of many users (Segment's analytics-node,
     * RudderStack's node SDK: a write key too, but each event keeps its own ids and context.ip). */
    int from = kind == SLUICE_SOURCE_SERVER;
    sluice_dec_enum(&m, "sent_from", 0, source_kinds, &from);
    s->server_sent = from == SLUICE_SOURCE_SERVER;
    if (kind == SLUICE_SOURCE_SERVER && !s->server_sent)
        sluice_config_diag_add(diag, sluice_dec_key_pos(&m, "sent_from"),
                               "%s.sent_from: a signed server source (kind: server) is sent from a server", path);
    env_name(&m, "write_key_env", 0, &s->write_key_env);
    env_name(&m, "previous_write_key_env", 0, &s->previous_write_key_env);
    env_name(&m, "hmac_secret_env", 0, &s->hmac_secret_env);
    env_name(&m, "previous_hmac_secret_env", 0, &s->previous_hmac_secret_env);

    char *rotated = NULL;
    if (sluice_dec_string(&m, "rotated_at", 0, &rotated) == 1 && sluice_dec_parse_time(rotated, &s->rotated_at) < 0) {
        sluice_config_diag_add(diag, &sluice_yaml_map_get(m.node, "rotated_at")->pos,
                               "%s.rotated_at: '%s' is not an ISO-8601 time with a zone (e.g. 2026-11-20T00:00:00Z)",
                               path, rotated);
    } else if (rotated != NULL && s->rotated_at > time(NULL) + 86400) {
        /* The previous key stays valid until rotated_at + grace_hours: a date years ahead (2062
         * for 2026) keeps a key that was rotated out, perhaps because it leaked, for years. A day
         * of slack for clocks and zones. */
        sluice_config_diag_add(diag, &sluice_yaml_map_get(m.node, "rotated_at")->pos,
                               "%s.rotated_at: '%s' is in the future; it says when the current key replaced the "
                               "previous one, which stays valid until then plus grace_hours",
                               path, rotated);
    }
    free(rotated);
    sluice_dec_unsigned(&m, "grace_hours", 0, 0, 8760, &s->grace_hours);
    sluice_dec_string_list(&m, "allowed_origins", 0, sluice_dec_check_origin, 1, &s->allowed_origins,
                           &s->allowed_origin_count);

    sluice_dec_map_t rl;
    sluice_dec_map_sub(&m, "rate_limit", &rl);
    sluice_dec_double(&rl, "per_second", 0, 0, 1e9, &s->rate_limit.per_second);
    s->rate_limit.burst = s->rate_limit.per_second;
    sluice_dec_double(&rl, "burst", 0, 0, 1e9, &s->rate_limit.burst);
    burst_needs_rate(&rl);
    sluice_dec_map_close(&rl);
    /* Per client address: none unless configured (offices and mobile carriers put many visitors
     * behind one address, so only the operator knows a fair share); config check warns when a
     * browser source has a budget that one client could spend alone. */
    sluice_dec_map_sub(&m, "client_rate_limit", &rl);
    if (sluice_dec_double(&rl, "per_second", 0, 0, 1e9, &s->client_rate_limit.per_second) == 1)
        s->client_rate_limit.burst = s->client_rate_limit.per_second;
    sluice_dec_double(&rl, "burst", 0, 0, 1e9, &s->client_rate_limit.burst);
    burst_needs_rate(&rl);
    sluice_dec_map_close(&rl);
    if (s->kind == SLUICE_SOURCE_BROWSER && s->rate_limit.per_second > 0 && s->client_rate_limit.per_second <= 0)
        sluice_config_diag_warn(diag, &s->pos,
                                "%s: rate_limit without client_rate_limit: a browser write key is public, so one "
                                "client can spend the whole budget and every other visitor gets 429 "
                                "(docs/security.md)",
                                path);
    sluice_dec_bool(&m, "pixel_without_referrer", &s->pixel_without_referrer);

    if (s->kind == SLUICE_SOURCE_BROWSER) {
        if (sluice_dec_key_pos(&m, "write_key_env") == NULL)
            sluice_dec_missing(&m, "write_key_env");
        not_for(&m, "hmac_secret_env", "server sources (kind: server)");
        not_for(&m, "previous_hmac_secret_env", "server sources (kind: server)");
        if (s->previous_write_key_env != NULL && s->rotated_at == 0 && sluice_dec_key_pos(&m, "rotated_at") == NULL)
            sluice_config_diag_add(diag, sluice_dec_key_pos(&m, "previous_write_key_env"),
                                   "%s.previous_write_key_env: needs rotated_at (when the current key replaced the "
                                   "previous one; the previous key is accepted for grace_hours after it)",
                                   path);
    } else {
        if (sluice_dec_key_pos(&m, "hmac_secret_env") == NULL)
            sluice_dec_missing(&m, "hmac_secret_env");
        /* rotated_at and grace_hours serve both kinds: a signing secret rotates as a write key does
         * (the backend cannot switch at the very moment every gateway reloads). */
        static const char *const browser_only[] = {"write_key_env", "previous_write_key_env", "allowed_origins", NULL};
        for (size_t i = 0; browser_only[i] != NULL; i++)
            not_for(&m, browser_only[i], "browser sources (kind: browser)");
        if (s->previous_hmac_secret_env != NULL && s->rotated_at == 0 && sluice_dec_key_pos(&m, "rotated_at") == NULL)
            sluice_config_diag_add(diag, sluice_dec_key_pos(&m, "previous_hmac_secret_env"),
                                   "%s.previous_hmac_secret_env: needs rotated_at (when the current secret replaced "
                                   "the previous one; the previous secret is accepted for grace_hours after it)",
                                   path);
    }
    if (s->kind == SLUICE_SOURCE_BROWSER) {
        const sluice_yaml_node_t *wv = sluice_yaml_map_get(m.node, "write_key_env"),
                                 *pv = sluice_yaml_map_get(m.node, "previous_write_key_env");
        if (wv != NULL)
            s->write_key_env_pos = wv->pos;
        if (pv != NULL)
            s->previous_write_key_env_pos = pv->pos;
        resolve_secret(&m, "write_key_env", s->write_key_env, s, org_id, flags, &s->write_key);
        resolve_secret(&m, "previous_write_key_env", s->previous_write_key_env, s, org_id, flags,
                       &s->previous_write_key);
    } else {
        const sluice_yaml_node_t *hv = sluice_yaml_map_get(m.node, "hmac_secret_env"),
                                 *ph = sluice_yaml_map_get(m.node, "previous_hmac_secret_env");
        if (hv != NULL)
            s->hmac_secret_env_pos = hv->pos;
        if (ph != NULL)
            s->previous_hmac_secret_env_pos = ph->pos;
        resolve_secret(&m, "hmac_secret_env", s->hmac_secret_env, s, org_id, flags, &s->hmac_secret);
        resolve_secret(&m, "previous_hmac_secret_env", s->previous_hmac_secret_env, s, org_id, flags,
                       &s->previous_hmac_secret);
    }
    sluice_dec_map_close(&m);
}

/* ------------------------------------------------------------------ identity and consent */

static void decode_identity(sluice_identity_config_t *id, sluice_dec_map_t *org)
{
    id->cookie_name = sluice_dec_xstrdup("_sid");
    id->cookie_max_age_days = 400;
    id->xd_token_ttl_s = 60;
    id->xd_clock_skew_s = 5;
    id->xd_hold_s = 1800;
    id->link_ttl_days = 400;
    id->dedup_window_s = 86400;

    sluice_dec_map_t m, xd, dd;
    sluice_dec_map_sub(org, "identity", &m);
    sluice_dec_checked_string(&m, "cookie_name", 0, sluice_dec_check_cookie_name, &id->cookie_name);
    if (id->cookie_name == NULL)
        id->cookie_name = sluice_dec_xstrdup("_sid");
    if (sluice_dec_checked_string(&m, "cookie_domain", 0, check_cookie_domain, &id->cookie_domain) == 1 &&
        strncmp(id->cookie_name, "__Host-", 7) == 0) {
        char path[SLUICE_DEC_PATH_MAX];
        sluice_dec_key_path(&m, "cookie_domain", path, sizeof(path));
        sluice_config_diag_add(m.diag, &sluice_yaml_map_get(m.node, "cookie_domain")->pos,
                               "%s: a __Host- cookie may not have a Domain (browsers refuse it): drop cookie_domain or "
                               "the prefix",
                               path);
    }
    if (id->cookie_domain != NULL)
        id->cookie_domain_pos = sluice_yaml_map_get(m.node, "cookie_domain")->pos;
    sluice_dec_unsigned(&m, "cookie_max_age_days", 0, 1, 400, &id->cookie_max_age_days);

    sluice_dec_map_sub(&m, "cross_domain", &xd);
    sluice_dec_string_list(&xd, "domains", 0, sluice_dec_check_host, 1, &id->xd_domains, &id->xd_domain_count);
    if (id->xd_domain_count > 0)
        id->xd_pos = sluice_yaml_map_get(xd.node, "domains")->pos;
    sluice_dec_unsigned(&xd, "token_ttl_s", 0, 1, 3600, &id->xd_token_ttl_s);
    sluice_dec_unsigned(&xd, "clock_skew_s", 0, 0, 300, &id->xd_clock_skew_s);
    sluice_dec_unsigned(&xd, "hold_s", 0, 0, 86400, &id->xd_hold_s);
    sluice_dec_map_close(&xd);

    sluice_dec_string_list(&m, "vendor_cookies", 0, check_vendor_cookie, 1, &id->vendor_cookies,
                           &id->vendor_cookie_count);
    /* Written with no value (its list commented out) it is absent, as null is everywhere: the
     * cookies then wait for consent.required. An empty list written out is a decision. */
    const sluice_yaml_node_t *cc = sluice_yaml_map_get(m.node, "cookie_consent");
    id->cookie_consent_set = cc != NULL && sluice_yaml_is_null(cc) != 0;
    sluice_dec_string_list(&m, "cookie_consent", 0, sluice_dec_check_token, 1, &id->cookie_consent,
                           &id->cookie_consent_count);
    sluice_dec_unsigned(&m, "link_ttl_days", 0, 1, 3650, &id->link_ttl_days);

    sluice_dec_map_sub(&m, "dedup", &dd);
    sluice_dec_bool(&dd, "enabled", &id->dedup_enabled);
    sluice_dec_unsigned(&dd, "window_s", 0, 1, 30 * 86400, &id->dedup_window_s);
    sluice_dec_map_close(&dd);
    sluice_dec_map_close(&m);
}

static void decode_consent(sluice_consent_config_t *c, sluice_dec_map_t *org)
{
    sluice_dec_map_t m;
    sluice_dec_map_sub(org, "consent", &m);
    sluice_dec_string_list(&m, "required", 0, sluice_dec_check_token, 1, &c->required, &c->required_count);
    /* Listing required categories means enforcing them: the default acts on missing consent. */
    int policy = SLUICE_CONSENT_DROP;
    sluice_dec_enum(&m, "policy", 0, policy_names, &policy);
    c->policy = (sluice_consent_policy_t)policy;
    const sluice_yaml_node_t *a = sluice_dec_take(&m, "aliases");
    char base[SLUICE_DEC_PATH_MAX];
    sluice_dec_key_path(&m, "aliases", base, sizeof(base));
    if (a != NULL && sluice_yaml_is_null(a) != 0 && a->type != SLUICE_YAML_MAP) {
        sluice_config_diag_add(m.diag, &a->pos, "%s: expected a map of name: category, got %s", base,
                               sluice_yaml_describe(a));
    } else if (a != NULL && a->type == SLUICE_YAML_MAP) {
        c->aliases = sluice_dec_xcalloc(a->pair_count ? a->pair_count : 1, sizeof(*c->aliases));
        for (size_t i = 0; i < a->pair_count; i++) {
            const sluice_yaml_node_t *k = a->pairs[i].key, *v = a->pairs[i].value;
            char path[SLUICE_DEC_PATH_MAX + 80];
            snprintf(path, sizeof(path), "%s.%s", base, k->scalar);
            if (v->type != SLUICE_YAML_SCALAR || sluice_yaml_is_null(v) == 0 || sluice_dec_check_token(v->scalar)) {
                sluice_config_diag_add(m.diag, &v->pos, "%s: expected a category name (letters, digits, _.-), got %s",
                                       path, sluice_yaml_describe(v));
                continue;
            }
            /* Aliases match the site's names case-insensitively: two keys that differ only in case
             * would leave one of them never used, whichever it is. */
            size_t dup = 0;
            while (dup < i && strcasecmp(a->pairs[dup].key->scalar, k->scalar) != 0)
                dup++;
            if (dup < i) {
                sluice_config_diag_add(m.diag, &k->pos,
                                       "%s: aliases match without regard to case, and '%s' is already one (line %u)",
                                       path, a->pairs[dup].key->scalar, a->pairs[dup].key->pos.line);
                continue;
            }
            c->aliases[c->alias_count].key = sluice_dec_xstrdup(k->scalar);
            c->aliases[c->alias_count].value = sluice_dec_xstrdup(v->scalar);
            c->alias_count++;
        }
    }
    /* Global Privacy Control: which of the org's categories the browser's signal withdraws is
     * the org's legal reading (sale, sharing), so nothing is withdrawn unless listed. */
    sluice_dec_map_t gpc;
    sluice_dec_map_sub(&m, "gpc", &gpc);
    sluice_dec_string_list(&gpc, "withdraws", 0, sluice_dec_check_token, 1, &c->gpc_withdraws, &c->gpc_withdraw_count);
    sluice_dec_map_close(&gpc);
    sluice_dec_map_close(&m);
}

/* ------------------------------------------------------------------ data layer */

/* Where each field path of the data layer was first used, to refuse a field handled twice. */
typedef struct seen_path {
    const char *text;
    char where[SLUICE_DEC_PATH_MAX];
    unsigned line;
} seen_path_t;

typedef struct seen_paths {
    seen_path_t *items;
    size_t count;
} seen_paths_t;

/* The members of an event in Segment's spec (and RudderStack's `channel`): where a rule path
 * starts. */
static const char *const event_fields[] = {
    "anonymousId", "category",     "channel",   "context",   "event",
    "groupId",     "integrations", "messageId", "name",      "originalTimestamp",
    "previousId",  "properties",   "sentAt",    "timestamp", "traits",
    "type",        "userId",       NULL,
};

/* Two rule paths that name the same members: the first key exactly, the rest without regard to
 * ASCII case, as config/path.c matches them. */
static int same_rule_path(const char *a, const char *b)
{
    size_t n = strcspn(a, ".[");
    if (strcspn(b, ".[") != n || strncmp(a, b, n) != 0)
        return 0;
    return strcasecmp(a + n, b + n) == 0;
}

/* A rule whose path starts with no member of an event acts only where a client sent that
 * top-level member, which spec'd events never carry: `Traits.email` or `trait.phone` passed
 * config check and hashed nothing (the first key is matched exactly). Warned, with the member
 * meant when it is close. */
static void warn_first_key(sluice_config_diag_t *diag, const sluice_path_t *p, const char *where,
                           const sluice_yaml_pos_t *pos)
{
    char first[64];
    size_t n = strcspn(p->text, ".[");
    if (n >= sizeof(first))
        n = sizeof(first) - 1;
    memcpy(first, p->text, n);
    first[n] = '\0';
    const char *meant = NULL;
    for (size_t i = 0; event_fields[i] != NULL; i++) {
        if (strcmp(first, event_fields[i]) == 0)
            return;
        if (strcasecmp(first, event_fields[i]) == 0)
            meant = event_fields[i];
    }
    if (meant == NULL)
        meant = sluice_strdist_closest(first, event_fields, 2);
    char hint[96] = "";
    if (meant != NULL)
        snprintf(hint, sizeof(hint), " (did you mean '%s'?)", meant);
    sluice_config_diag_warn(diag, pos,
                            "%s: '%s' starts with '%s', which is no member of an event in Segment's spec, so the rule "
                            "acts only on events that carry a top-level '%s'%s",
                            where, p->text, first, first, hint);
}

static void once(seen_paths_t *seen, sluice_config_diag_t *diag, const sluice_path_t *p, const char *where,
                 const sluice_yaml_pos_t *pos)
{
    if (p->text == NULL)
        return;
    warn_first_key(diag, p, where, pos);
    /* The gateway writes these itself and the wire format rests on them: `type` is the Kafka
     * header `type` and the worker's routing, `receivedAt` the envelope's own. A rule on either
     * (config check said ok) sent envelopes without receivedAt and a `type` header with no value,
     * which consumers' schemas and the worker's type filters cannot read. */
    static const char *const own[] = {"type", "receivedAt"};
    for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++) {
        if (strcmp(p->text, own[i]) == 0) {
            sluice_config_diag_add(diag, pos,
                                   "%s: field '%s' is written by the gateway and carried by every envelope (Kafka's "
                                   "wire format); no rule may change it",
                                   where, p->text);
            return;
        }
    }
    for (size_t i = 0; i < seen->count; i++) {
        if (same_rule_path(seen->items[i].text, p->text)) {
            sluice_config_diag_add(diag, pos,
                                   "%s: field '%s' is already handled by %s (line %u); a field takes one rule", where,
                                   p->text, seen->items[i].where, seen->items[i].line);
            return;
        }
    }
    seen->items = sluice_dec_xrealloc(seen->items, seen->count + 1, sizeof(*seen->items));
    seen_path_t *s = &seen->items[seen->count++];
    s->text = p->text;
    snprintf(s->where, sizeof(s->where), "%s", where);
    s->line = pos->line;
}

/* The path a rule also covers: context.traits.X for a rule on traits.X; context.identity.userId
 * for a rule on userId and context.identity.linkedFrom for one on anonymousId (identity copies
 * there the user id Redis knows and the id a token replaced, which the rule must change as it
 * changes the id itself). out->text stays NULL otherwise, and when the data layer has a rule of
 * its own for that path. */
static void mirror_of(const seen_paths_t *seen, const sluice_path_t *p, sluice_path_t *out)
{
    if (p->text == NULL || p->count < 1 || p->segs[0].kind != SLUICE_PATH_KEY)
        return;
    char *text;
    if (p->count >= 2 && strcmp(p->segs[0].key, "traits") == 0)
        text = sluice_dec_xasprintf("context.%s", p->text);
    else if (p->count == 1 && strcmp(p->segs[0].key, "userId") == 0)
        text = sluice_dec_xstrdup("context.identity.userId");
    else if (p->count == 1 && strcmp(p->segs[0].key, "anonymousId") == 0)
        text = sluice_dec_xstrdup("context.identity.linkedFrom");
    else
        return;
    /* In any spelling: the rule's own matches the member the mirror would (keys below the event's
     * own fields match without regard to case), and both acted on it, one after the other. */
    for (size_t i = 0; i < seen->count; i++) {
        if (same_rule_path(seen->items[i].text, text)) {
            free(text);
            return;
        }
    }
    char err[128];
    if (sluice_path_parse(text, out, err, sizeof(err)) != 0)
        memset(out, 0, sizeof(*out)); /* cannot happen: the original parsed */
    free(text);
}

static void decode_hash_rule(sluice_hash_rule_t *r, const sluice_yaml_node_t *n, const char *path,
                             sluice_config_diag_t *diag)
{
    r->pos = n->pos;
    sluice_dec_map_t m;
    if (sluice_dec_map_open(&m, diag, n, &n->pos, path) <= 0) {
        null_item(diag, n, path);
        sluice_dec_map_close(&m);
        return;
    }
    map_path_value(&m, "path", &r->path);
    int norm = SLUICE_NORM_RAW;
    sluice_dec_enum(&m, "normalize", SLUICE_DEC_REQUIRED, normalizer_names, &norm);
    r->normalizer = (sluice_normalizer_t)norm;
    sluice_dec_checked_string(&m, "default_country_code", 0, check_country_code, &r->default_country_code);
    if (r->normalizer != SLUICE_NORM_PHONE)
        not_for(&m, "default_country_code", "normalize: phone");
    sluice_dec_map_close(&m);
}

static void decode_mask_rule(sluice_mask_rule_t *r, const sluice_yaml_node_t *n, const char *path, const char *dir,
                             sluice_config_diag_t *diag)
{
    r->pos = n->pos;
    size_t errors_before = diag->count;
    sluice_dec_map_t m;
    if (sluice_dec_map_open(&m, diag, n, &n->pos, path) <= 0) {
        null_item(diag, n, path);
        sluice_dec_map_close(&m);
        r->invalid = 1;
        return;
    }
    map_path_value(&m, "path", &r->path);
    char *plugin = NULL;
    const sluice_yaml_node_t *pn = sluice_yaml_map_get(m.node, "plugin");
    r->plugin_pos = pn != NULL ? pn->pos : n->pos;
    if (pn != NULL && pn->type == SLUICE_YAML_SCALAR && !pn->quoted && strcmp(pn->scalar, "null") == 0) {
        /* The built-in `null` plugin's name is also YAML's null; say how to write it. */
        sluice_dec_take(&m, "plugin");
        sluice_config_diag_add(
            diag, &pn->pos, "%s.plugin: a bare null is YAML's null; write \"null\" (quoted) for the null plugin", path);
    } else if (sluice_dec_string(&m, "plugin", SLUICE_DEC_REQUIRED, &plugin) == 1) {
        size_t len = strlen(plugin);
        if (strchr(plugin, '/') != NULL || (len > 3 && strcmp(plugin + len - 3, ".so") == 0)) {
            r->plugin = sluice_dec_resolve_path(dir, plugin);
            free(plugin);
        } else if (check_plugin_name(plugin) != NULL) {
            sluice_config_diag_add(diag, &sluice_yaml_map_get(m.node, "plugin")->pos, "%s.plugin: '%s' %s", path,
                                   plugin, check_plugin_name(plugin));
            free(plugin);
        } else {
            r->plugin = plugin;
        }
    }
    const sluice_yaml_node_t *params = sluice_dec_take(&m, "params");
    if (params != NULL && sluice_yaml_is_null(params) != 0) {
        if (params->type != SLUICE_YAML_MAP) {
            sluice_config_diag_add(diag, &params->pos, "%s.params: expected a map, got %s", path,
                                   sluice_yaml_describe(params));
        } else {
            r->params = params;
            for (size_t i = 0; i < params->pair_count; i++) {
                const sluice_yaml_node_t *k = params->pairs[i].key;
                if (sluice_dec_is_secret_key(k->scalar) && sluice_yaml_is_null(params->pairs[i].value) != 0)
                    sluice_config_diag_add(diag, &k->pos,
                                           "%s.params.%s: a secret written inline; put it in an environment "
                                           "variable and give its name (e.g. '%s_env: VAR_NAME')",
                                           path, k->scalar, k->scalar);
            }
        }
    }
    int on_error = SLUICE_MASK_ON_ERROR_REMOVE;
    sluice_dec_enum(&m, "on_error", 0, on_error_names, &on_error);
    r->on_error = (sluice_mask_on_error_t)on_error;
    sluice_dec_map_close(&m);
    r->invalid = diag->count != errors_before;
}

/* data_layer.pii_guard: a mode (`pii_guard: mask`), or a map of mode, except, national_ids and
 * key_names. */
static void decode_pii_guard(sluice_pii_guard_config_t *g, sluice_dec_map_t *dl)
{
    g->mode = SLUICE_PII_GUARD_REPORT;
    g->key_names = 1;
    const sluice_yaml_node_t *n = sluice_yaml_map_get(dl->node, "pii_guard");
    if (n == NULL || sluice_yaml_is_null(n) == 0) {
        sluice_dec_take(dl, "pii_guard");
        return;
    }
    g->pos = n->pos;
    char path[SLUICE_DEC_PATH_MAX];
    sluice_dec_key_path(dl, "pii_guard", path, sizeof(path));
    if (n->type == SLUICE_YAML_SCALAR) {
        int mode = (int)g->mode;
        if (sluice_dec_enum(dl, "pii_guard", 0, guard_modes, &mode) == 1) {
            g->mode = (sluice_pii_guard_mode_t)mode;
            g->mode_set = 1;
        }
        return;
    }
    sluice_dec_map_t m;
    sluice_dec_map_sub(dl, "pii_guard", &m);
    int mode = (int)g->mode;
    if (sluice_dec_enum(&m, "mode", 0, guard_modes, &mode) == 1) {
        g->mode = (sluice_pii_guard_mode_t)mode;
        g->mode_set = 1;
    }
    const sluice_yaml_node_t *seq;
    if (sluice_dec_list(&m, "except", 0, &seq) == 1) {
        g->except = sluice_dec_xcalloc(seq->item_count ? seq->item_count : 1, sizeof(*g->except));
        for (size_t i = 0; i < seq->item_count; i++) {
            char ipath[SLUICE_DEC_PATH_MAX + 32];
            item_path(ipath, sizeof(ipath), m.path, "except", i);
            if (field_path(m.diag, seq->items[i], ipath, &g->except[g->except_count]) == 1)
                g->except_count++;
        }
    }
    char **ids = NULL;
    size_t id_count = 0;
    if (sluice_dec_string_list(&m, "national_ids", 0, NULL, 1, &ids, &id_count) == 1) {
        const sluice_yaml_node_t *list = sluice_yaml_map_get(m.node, "national_ids");
        for (size_t i = 0; i < id_count; i++) {
            unsigned k = sluice_scan_kind_parse(ids[i]);
            if (k == 0 || !(k & SLUICE_SCAN_NATIONAL_IDS))
                sluice_config_diag_add(
                    m.diag, list->type == SLUICE_YAML_SEQ && i < list->item_count ? &list->items[i]->pos : &list->pos,
                    "%s.national_ids: '%s' is not one of us_ssn, uk_nino, fr_nir, es_dni", m.path, ids[i]);
            else
                g->national_ids |= k;
            free(ids[i]);
        }
        free(ids);
    }
    sluice_dec_bool(&m, "key_names", &g->key_names);
    sluice_dec_map_close(&m);
}

static void decode_data_layer(sluice_org_t *org, sluice_dec_map_t *orgm, const char *dir)
{
    sluice_dec_map_t m;
    sluice_dec_map_sub(orgm, "data_layer", &m);
    seen_paths_t seen = {0};
    const sluice_yaml_node_t *seq;
    char path[SLUICE_DEC_PATH_MAX + 32];

    if (sluice_dec_list(&m, "hash_fields", 0, &seq) == 1) {
        org->hash_rules = sluice_dec_xcalloc(seq->item_count, sizeof(*org->hash_rules));
        org->hash_rule_count = seq->item_count;
        for (size_t i = 0; i < seq->item_count; i++) {
            item_path(path, sizeof(path), m.path, "hash_fields", i);
            decode_hash_rule(&org->hash_rules[i], seq->items[i], path, m.diag);
            once(&seen, m.diag, &org->hash_rules[i].path, path, &seq->items[i]->pos);
        }
    }
    if (sluice_dec_list(&m, "mask", 0, &seq) == 1) {
        org->mask_rules = sluice_dec_xcalloc(seq->item_count, sizeof(*org->mask_rules));
        org->mask_rule_count = seq->item_count;
        for (size_t i = 0; i < seq->item_count; i++) {
            item_path(path, sizeof(path), m.path, "mask", i);
            decode_mask_rule(&org->mask_rules[i], seq->items[i], path, dir, m.diag);
            once(&seen, m.diag, &org->mask_rules[i].path, path, &seq->items[i]->pos);
        }
    }
    if (sluice_dec_list(&m, "drop", 0, &seq) == 1) {
        org->drop = sluice_dec_xcalloc(seq->item_count, sizeof(*org->drop));
        org->drop_count = seq->item_count;
        for (size_t i = 0; i < seq->item_count; i++) {
            item_path(path, sizeof(path), m.path, "drop", i);
            if (field_path(m.diag, seq->items[i], path, &org->drop[i]) == 1)
                once(&seen, m.diag, &org->drop[i], path, &seq->items[i]->pos);
        }
    }
    /* Mirrors: traits.X also covers context.traits.X, userId context.identity.userId, anonymousId
     * context.identity.linkedFrom, unless a rule names that itself. */
    for (size_t i = 0; i < org->hash_rule_count; i++)
        mirror_of(&seen, &org->hash_rules[i].path, &org->hash_rules[i].mirror);
    for (size_t i = 0; i < org->mask_rule_count; i++)
        mirror_of(&seen, &org->mask_rules[i].path, &org->mask_rules[i].mirror);
    if (org->drop_count > 0)
        org->drop_mirrors = sluice_dec_xcalloc(org->drop_count, sizeof(*org->drop_mirrors));
    for (size_t i = 0; i < org->drop_count; i++)
        mirror_of(&seen, &org->drop[i], &org->drop_mirrors[i]);
    free(seen.items);
    decode_pii_guard(&org->pii_guard, &m);
    sluice_dec_map_close(&m);
}

/* ------------------------------------------------------------------ integrations */

static const sluice_config_vendors_t *registry;

void sluice_config_set_vendors(const sluice_config_vendors_t *v)
{
    registry = v;
}

const sluice_config_vendors_t *sluice_config_vendors(void)
{
    return registry;
}

const char *const sluice_config_integration_keys[] = {"name",  "vendor",         "enabled",   "credentials", "events",
                                                      "types", "consent",        "send_bots", "base_url",    "mapping",
                                                      "batch", "rate_limit_rps", "retry",     "timeout_ms",  NULL};

static int is_integration_key(const char *k)
{
    for (size_t i = 0; sluice_config_integration_keys[i] != NULL; i++) {
        if (strcmp(sluice_config_integration_keys[i], k) == 0)
            return 1;
    }
    return 0;
}

/* A vendor field: dotted names of [A-Za-z0-9_-]. */
static const char *check_vendor_field(const char *s)
{
    if (*s == '\0' || *s == '.')
        return "is not a vendor field (names joined by '.')";
    for (const char *p = s; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '.' && (p[1] == '.' || p[1] == '\0'))
            return "is not a vendor field (names joined by '.')";
        if (c != '.' && c != '_' && c != '-' && !(c >= '0' && c <= '9') && !((c | 32) >= 'a' && (c | 32) <= 'z'))
            return "is not a vendor field (letters, digits, '_' and '-', joined by '.')";
    }
    return NULL;
}

static const sluice_field_map_t *find_field(const sluice_event_mapping_t *mp, const char *field)
{
    for (size_t i = 0; i < mp->field_count; i++) {
        if (strcmp(mp->fields[i].field, field) == 0)
            return &mp->fields[i];
    }
    return NULL;
}

/* mapping: {events: {From: To}, fields: {vendor.field: event.path}, set: {vendor.field: constant}} */
static void decode_mapping(sluice_integration_t *it, sluice_dec_map_t *parent)
{
    sluice_dec_map_t m;
    if (sluice_dec_map_sub(parent, "mapping", &m) <= 0) {
        sluice_dec_map_close(&m);
        return;
    }
    sluice_event_mapping_t *mp = &it->mapping;
    const sluice_yaml_node_t *ev = sluice_dec_take(&m, "events");
    const sluice_yaml_node_t *fields = sluice_dec_take(&m, "fields");
    const sluice_yaml_node_t *set = sluice_dec_take(&m, "set");
    char base[SLUICE_DEC_PATH_MAX + 16], path[SLUICE_DEC_PATH_MAX + 160];
    const sluice_yaml_node_t *const maps[3] = {ev, fields, set};
    const char *const names[3] = {"events", "fields", "set"};
    for (int w = 0; w < 3; w++) {
        const sluice_yaml_node_t *n = maps[w];
        if (n == NULL || sluice_yaml_is_null(n) == 0)
            continue;
        sluice_dec_key_path(&m, names[w], base, sizeof(base));
        if (n->type != SLUICE_YAML_MAP) {
            sluice_config_diag_add(m.diag, &n->pos, "%s: expected a map, got %s", base, sluice_yaml_describe(n));
            continue;
        }
        if (w == 0)
            mp->renames = sluice_dec_xrealloc(mp->renames, mp->rename_count + n->pair_count, sizeof(*mp->renames));
        else
            mp->fields = sluice_dec_xrealloc(mp->fields, mp->field_count + n->pair_count, sizeof(*mp->fields));
        for (size_t i = 0; i < n->pair_count; i++) {
            const sluice_yaml_node_t *k = n->pairs[i].key, *v = n->pairs[i].value;
            sluice_dec_pathf(path, sizeof(path), "%s.%s", base, k->scalar);
            if (w == 0) {
                char *to = NULL;
                if (sluice_dec_node_string(m.diag, v, path, &to) < 0)
                    continue;
                if (to[0] == '\0') {
                    sluice_config_diag_add(m.diag, &v->pos, "%s: the new event name is empty", path);
                    free(to);
                    continue;
                }
                int filtered = it->event_count > 0;
                for (size_t j = 0; j < it->event_count && filtered; j++)
                    filtered = strcmp(it->events[j], k->scalar) != 0;
                if (filtered) {
                    sluice_config_diag_add(m.diag, &k->pos,
                                           "%s: '%s' is not among this integration's events, which are chosen "
                                           "before renaming",
                                           base, k->scalar);
                    free(to);
                    continue;
                }
                sluice_event_rename_t *r = &mp->renames[mp->rename_count++];
                r->from = sluice_dec_xstrdup(k->scalar);
                r->to = to;
                r->pos = k->pos;
                continue;
            }
            const char *why = check_vendor_field(k->scalar);
            if (why != NULL) {
                sluice_config_diag_add(m.diag, &k->pos, "%s: '%s' %s", base, k->scalar, why);
                continue;
            }
            const sluice_field_map_t *dup = find_field(mp, k->scalar);
            if (dup != NULL) {
                sluice_config_diag_add(m.diag, &k->pos, "%s: '%s' is already mapped at line %u", base, k->scalar,
                                       dup->pos.line);
                continue;
            }
            sluice_field_map_t f = {.pos = k->pos};
            if (w == 1) {
                if (field_path(m.diag, v, path, &f.source) < 0)
                    continue;
            } else {
                if (v->type != SLUICE_YAML_SCALAR) {
                    sluice_config_diag_add(m.diag, &v->pos, "%s: expected a string, number or boolean, got %s", path,
                                           sluice_yaml_describe(v));
                    continue;
                }
                f.constant = v;
            }
            f.field = sluice_dec_xstrdup(k->scalar);
            mp->fields[mp->field_count++] = f;
        }
    }
    sluice_dec_map_close(&m);
}

static void decode_integration(sluice_integration_t *it, const sluice_yaml_node_t *n, const char *path, int flags,
                               sluice_config_diag_t *diag)
{
    it->pos = n->pos;
    it->node = n;
    it->vendor = -1;
    it->enabled = 1;
    it->batch_max_wait_ms = 1000;
    it->rate_limit_rps = 100;
    it->max_attempts = 5;
    it->retry_base_ms = 4000;
    it->retry_max_ms = 300000;
    it->retry_max_elapsed_s = 3600;
    it->timeout_ms = 10000;
    sluice_dec_map_t m;
    if (sluice_dec_map_open(&m, diag, n, &n->pos, path) <= 0) {
        null_item(diag, n, path);
        it->node = NULL;
        sluice_dec_map_close(&m);
        return;
    }
    sluice_dec_checked_string(&m, "name", SLUICE_DEC_REQUIRED, sluice_dec_check_id, &it->name);
    const sluice_yaml_node_t *vn = sluice_yaml_map_get(n, "vendor");
    if (sluice_dec_string(&m, "vendor", SLUICE_DEC_REQUIRED, &it->vendor_name) == 1 && registry != NULL) {
        it->vendor = registry->find(it->vendor_name);
        if (it->vendor < 0) {
            sluice_config_diag_add(diag, &vn->pos, "%s.vendor: '%s' is not one of: %s", path, it->vendor_name,
                                   registry->names());
        }
    }
    sluice_dec_bool(&m, "enabled", &it->enabled);
    sluice_dec_checked_string(&m, "credentials", 0, sluice_dec_check_id, &it->credentials);
    if (it->credentials == NULL && it->name != NULL)
        it->credentials = sluice_dec_xstrdup(it->name);
    sluice_dec_string_list(&m, "events", 0, check_event_name, 1, &it->events, &it->event_count);
    sluice_dec_string_list(&m, "types", 0, check_event_type, 1, &it->types, &it->type_count);
    /* With `events`, only the track events it names pass (vendors/deliver.c), so any other type
     * listed beside it is never delivered: `types: [page, track]` with `events: [Order Completed]`
     * reads as "pages and that event", loaded, and delivered no page. A warning, not an error: the
     * example config had it, and a config that loaded before must not stop an upgraded gateway or
     * worker from starting (nothing it delivered changes). */
    const sluice_yaml_node_t *tn = sluice_yaml_map_get(n, "types");
    for (size_t i = 0; it->event_count > 0 && i < it->type_count; i++) {
        if (strcmp(it->types[i], "track") == 0)
            continue;
        const sluice_yaml_node_t *at =
            tn->type == SLUICE_YAML_SEQ && tn->item_count == it->type_count ? tn->items[i] : tn;
        sluice_config_diag_warn(diag, &at->pos,
                                "%s.types[%zu]: '%s' events would never be delivered: with 'events' set, only the "
                                "track events it names pass; deliver %s events with a second integration, or remove "
                                "'events'",
                                path, i, it->types[i], it->types[i]);
    }
    sluice_dec_checked_string(&m, "consent", 0, sluice_dec_check_token, &it->consent);
    sluice_dec_bool(&m, "send_bots", &it->send_bots);
    sluice_dec_checked_string(&m, "base_url", 0, sluice_dec_check_base_url, &it->base_url);

    /* The vendor's own keys: validated by the vendor (unknown ones with a did-you-mean over the
     * vendor's options and the keys above), then taken so that closing does not report them. */
    if (it->vendor >= 0)
        registry->decode(it, path, flags, diag);
    for (size_t i = 0; i < n->pair_count; i++) {
        const char *k = n->pairs[i].key->scalar;
        if (!is_integration_key(k))
            sluice_dec_take(&m, k);
    }

    unsigned def_events = 100, max_events = 10000;
    size_t def_bytes = 1000000, max_bytes = 10000000;
    if (it->vendor >= 0)
        registry->limits(it->vendor, &def_events, &max_events, &def_bytes, &max_bytes);
    it->batch_max_events = def_events;
    it->batch_max_bytes = def_bytes;
    sluice_dec_map_t b, r;
    sluice_dec_map_sub(&m, "batch", &b);
    sluice_dec_unsigned(&b, "max_events", 0, 1, max_events, &it->batch_max_events);
    sluice_dec_size(&b, "max_bytes", 0, 1024, max_bytes, &it->batch_max_bytes);
    sluice_dec_unsigned(&b, "max_wait_ms", 0, 0, 60000, &it->batch_max_wait_ms);
    sluice_dec_map_close(&b);
    sluice_dec_double(&m, "rate_limit_rps", 0, 0.01, 100000, &it->rate_limit_rps);
    sluice_dec_map_sub(&m, "retry", &r);
    sluice_dec_unsigned(&r, "max_attempts", 0, 1, 100, &it->max_attempts);
    sluice_dec_unsigned(&r, "base_ms", 0, 1, 3600000, &it->retry_base_ms);
    if (sluice_dec_unsigned(&r, "max_ms", 0, 1, 86400000, &it->retry_max_ms) == 1 &&
        it->retry_max_ms < it->retry_base_ms)
        sluice_config_diag_add(diag, &sluice_yaml_map_get(r.node, "max_ms")->pos, "%s.max_ms: %u is below base_ms (%u)",
                               r.path, it->retry_max_ms, it->retry_base_ms);
    sluice_dec_unsigned(&r, "max_elapsed_s", 0, 1, 604800, &it->retry_max_elapsed_s);
    sluice_dec_map_close(&r);
    sluice_dec_unsigned(&m, "timeout_ms", 0, 1, 300000, &it->timeout_ms);
    decode_mapping(it, &m);
    sluice_dec_map_close(&m);
}

/* ------------------------------------------------------------------ org */

/* A category written as the name another format uses, which consent.aliases turns into another
 * category in every event (gateway/consent.c): `required: [C0002]` with `aliases: {C0002:
 * analytics}` loaded, and every event lacked C0002 (dropped, under policy drop); an integration's
 * `consent: C0002` delivered nothing. */
static void check_aliased(const sluice_consent_config_t *c, const sluice_yaml_node_t *v, const char *where,
                          sluice_config_diag_t *diag)
{
    if (v == NULL || v->type != SLUICE_YAML_SCALAR)
        return;
    for (size_t i = 0; i < c->alias_count; i++) {
        if (strcasecmp(c->aliases[i].key, v->scalar) == 0 && strcmp(c->aliases[i].value, v->scalar) != 0) {
            sluice_config_diag_add(diag, &v->pos,
                                   "%s: '%s' is a name consent.aliases turns into '%s', so no event carries '%s'; "
                                   "write '%s'",
                                   where, v->scalar, c->aliases[i].value, v->scalar, c->aliases[i].value);
            return;
        }
    }
}

static void check_aliased_list(const sluice_consent_config_t *c, const sluice_yaml_node_t *map, const char *key,
                               const char *base, sluice_config_diag_t *diag)
{
    const sluice_yaml_node_t *l = sluice_yaml_map_get(map, key);
    char where[SLUICE_DEC_PATH_MAX + 64];
    if (l != NULL && l->type == SLUICE_YAML_SEQ) {
        for (size_t i = 0; i < l->item_count; i++) {
            item_path(where, sizeof(where), base, key, i);
            check_aliased(c, l->items[i], where, diag);
        }
    }
}

static void check_aliased_categories(const sluice_org_t *org, const sluice_yaml_node_t *node, const char *path,
                                     sluice_config_diag_t *diag)
{
    const sluice_consent_config_t *c = &org->consent;
    if (c->alias_count == 0)
        return;
    char base[SLUICE_DEC_PATH_MAX + 64];
    sluice_dec_pathf(base, sizeof(base), "%s.consent", path);
    check_aliased_list(c, sluice_yaml_map_get(node, "consent"), "required", base, diag);
    char where_gpc[SLUICE_DEC_PATH_MAX + 96];
    sluice_dec_pathf(where_gpc, sizeof(where_gpc), "%s.gpc", base);
    check_aliased_list(c, sluice_yaml_map_get(sluice_yaml_map_get(node, "consent"), "gpc"), "withdraws", where_gpc,
                       diag);
    sluice_dec_pathf(base, sizeof(base), "%s.identity", path);
    check_aliased_list(c, sluice_yaml_map_get(node, "identity"), "cookie_consent", base, diag);
    sluice_dec_pathf(base, sizeof(base), "%s.enrichment.session", path);
    check_aliased_list(c, sluice_yaml_map_get(sluice_yaml_map_get(node, "enrichment"), "session"), "consent", base,
                       diag);
    const sluice_yaml_node_t *ints = sluice_yaml_map_get(node, "integrations");
    for (size_t i = 0; ints != NULL && ints->type == SLUICE_YAML_SEQ && i < ints->item_count; i++) {
        item_path(base, sizeof(base), path, "integrations", i);
        char where[SLUICE_DEC_PATH_MAX + 96];
        sluice_dec_pathf(where, sizeof(where), "%s.consent", base);
        check_aliased(c, sluice_yaml_map_get(ints->items[i], "consent"), where, diag);
        sluice_dec_pathf(where, sizeof(where), "%s.ad_user_data_consent", base); /* ga4's category */
        check_aliased(c, sluice_yaml_map_get(ints->items[i], "ad_user_data_consent"), where, diag);
        sluice_dec_pathf(where, sizeof(where), "%s.limited_data_use_unless_consent", base); /* meta's, tiktok's */
        check_aliased(c, sluice_yaml_map_get(ints->items[i], "limited_data_use_unless_consent"), where, diag);
    }
}

void sluice_org_decode(sluice_org_t *org, const sluice_yaml_node_t *node, const char *path, const char *dir, int flags,
                       sluice_config_diag_t *diag)
{
    org->pos = node->pos;
    org->file = sluice_dec_xstrdup(node->pos.file);
    sluice_dec_map_t m;
    int present = sluice_dec_map_open(&m, diag, node, &node->pos, path);
    if (present <= 0) {
        if (present == 0)
            sluice_config_diag_add(diag, &node->pos, "%s: expected a map, got null", path);
        sluice_dec_map_close(&m);
        return;
    }
    sluice_dec_checked_string(&m, "id", SLUICE_DEC_REQUIRED, sluice_dec_check_id, &org->id);

    const sluice_yaml_node_t *seq;
    char ipath[SLUICE_DEC_PATH_MAX + 32];
    if (sluice_dec_list(&m, "sources", SLUICE_DEC_REQUIRED, &seq) == 1) {
        if (seq->item_count == 0)
            sluice_config_diag_add(diag, &seq->pos, "%s.sources: an org needs at least one source", path);
        org->sources = sluice_dec_xcalloc(seq->item_count, sizeof(*org->sources));
        org->source_count = seq->item_count;
        for (size_t i = 0; i < seq->item_count; i++) {
            item_path(ipath, sizeof(ipath), path, "sources", i);
            decode_source(&org->sources[i], seq->items[i], ipath, org->id, flags, diag);
            const sluice_source_t *s = &org->sources[i];
            for (size_t j = 0; s->id != NULL && j < i; j++) {
                if (org->sources[j].id != NULL && strcmp(org->sources[j].id, s->id) == 0) {
                    sluice_config_diag_add(diag, &sluice_yaml_map_get(seq->items[i], "id")->pos,
                                           "%s.id: duplicate source id '%s' in org '%s' (first at line %u)", ipath,
                                           s->id, org->id ? org->id : "?", org->sources[j].pos.line);
                    break;
                }
            }
        }
    }
    decode_identity(&org->identity, &m);
    decode_consent(&org->consent, &m);
    decode_data_layer(org, &m, dir);
    sluice_enrich_config_decode(&org->enrich, &m);
    if (sluice_dec_list(&m, "integrations", 0, &seq) == 1) {
        org->integrations = sluice_dec_xcalloc(seq->item_count, sizeof(*org->integrations));
        org->integration_count = seq->item_count;
        for (size_t i = 0; i < seq->item_count; i++) {
            item_path(ipath, sizeof(ipath), path, "integrations", i);
            decode_integration(&org->integrations[i], seq->items[i], ipath, flags, diag);
            const sluice_integration_t *it = &org->integrations[i];
            for (size_t j = 0; it->name != NULL && j < i; j++) {
                if (org->integrations[j].name != NULL && strcmp(org->integrations[j].name, it->name) == 0) {
                    sluice_config_diag_add(diag, &sluice_yaml_map_get(seq->items[i], "name")->pos,
                                           "%s.name: duplicate integration name '%s' in org '%s' (first at line %u)",
                                           ipath, it->name, org->id ? org->id : "?", org->integrations[j].pos.line);
                    break;
                }
            }
        }
    }
    check_aliased_categories(org, node, path, diag);
    sluice_dec_map_close(&m);
}

/* ------------------------------------------------------------------ dispose */

static void free_strings(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static void free_secret(char *s)
{
    if (s == NULL)
        return;
    OPENSSL_cleanse(s, strlen(s));
    free(s);
}

void sluice_org_dispose(sluice_org_t *org)
{
    if (org == NULL)
        return;
    free(org->id);
    free(org->file);
    for (size_t i = 0; i < org->source_count; i++) {
        sluice_source_t *s = &org->sources[i];
        free(s->id);
        free(s->write_key_env);
        free(s->previous_write_key_env);
        free(s->hmac_secret_env);
        free(s->previous_hmac_secret_env);
        free_strings(s->allowed_origins, s->allowed_origin_count);
        free_secret(s->write_key);
        free_secret(s->previous_write_key);
        free_secret(s->hmac_secret);
        free_secret(s->previous_hmac_secret);
    }
    free(org->sources);
    sluice_identity_config_t *id = &org->identity;
    free(id->cookie_name);
    free(id->cookie_domain);
    free_strings(id->xd_domains, id->xd_domain_count);
    free_strings(id->vendor_cookies, id->vendor_cookie_count);
    free_strings(id->cookie_consent, id->cookie_consent_count);
    for (size_t i = 0; i < org->hash_rule_count; i++) {
        sluice_path_dispose(&org->hash_rules[i].path);
        sluice_path_dispose(&org->hash_rules[i].mirror);
        free(org->hash_rules[i].default_country_code);
    }
    free(org->hash_rules);
    for (size_t i = 0; i < org->mask_rule_count; i++) {
        sluice_path_dispose(&org->mask_rules[i].path);
        sluice_path_dispose(&org->mask_rules[i].mirror);
        free(org->mask_rules[i].plugin);
    }
    free(org->mask_rules);
    for (size_t i = 0; i < org->pii_guard.except_count; i++)
        sluice_path_dispose(&org->pii_guard.except[i]);
    free(org->pii_guard.except);
    for (size_t i = 0; i < org->drop_count; i++) {
        sluice_path_dispose(&org->drop[i]);
        if (org->drop_mirrors != NULL)
            sluice_path_dispose(&org->drop_mirrors[i]);
    }
    free(org->drop);
    free(org->drop_mirrors);
    free_strings(org->consent.required, org->consent.required_count);
    for (size_t i = 0; i < org->consent.alias_count; i++) {
        free(org->consent.aliases[i].key);
        free(org->consent.aliases[i].value);
    }
    free(org->consent.aliases);
    free_strings(org->consent.gpc_withdraws, org->consent.gpc_withdraw_count);
    sluice_enrich_config_dispose(&org->enrich);
    for (size_t i = 0; i < org->integration_count; i++) {
        sluice_integration_t *it = &org->integrations[i];
        free(it->name);
        free(it->credentials);
        free_strings(it->events, it->event_count);
        free_strings(it->types, it->type_count);
        free(it->consent);
        free(it->base_url);
        free(it->vendor_name);
        if (it->options != NULL && registry != NULL)
            registry->dispose(it);
        for (size_t j = 0; j < it->mapping.rename_count; j++) {
            free(it->mapping.renames[j].from);
            free(it->mapping.renames[j].to);
        }
        free(it->mapping.renames);
        for (size_t j = 0; j < it->mapping.field_count; j++) {
            free(it->mapping.fields[j].field);
            sluice_path_dispose(&it->mapping.fields[j].source);
        }
        free(it->mapping.fields);
    }
    free(org->integrations);
    memset(org, 0, sizeof(*org));
}
