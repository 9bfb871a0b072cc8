/*
 * uppercase: an example third-party masking plugin for sluice.
 *
 * Replaces a string by its upper-case form (ASCII letters only; other bytes, including
 * multi-byte UTF-8 sequences, are copied as they are, so the output stays valid UTF-8), with an
 * optional prefix marking it as masked. Values that already carry the prefix are left alone,
 * so masking twice changes nothing more (the plugin declares IDEMPOTENT). Non-string values are
 * kept unchanged.
 *
 * It shows every part of the ABI a real plugin uses: a declared config map, create reading it
 * through the host's getters and failing with a sentence, an immutable instance, a selftest,
 * output through host->append, and no global state. Build it against the installed SDK:
 *     make                      (uses pkg-config sluice-plugin)
 *     make test                 (sluicectl plugin test ./uppercase.so --vectors vectors.jsonl)
 */
#include <sluice/mask_plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PREFIX 32

typedef struct uppercase {
    const sluice_mask_host_t *host;
    char prefix[MAX_PREFIX + 1];
    size_t prefix_len;
} uppercase_t;

static const sluice_mask_config_entry_t config[] = {
    {"prefix", SLUICE_MASK_CONF_STRING, 0, "\"\"", "text put before the upper-cased value (at most 32 bytes)"},
    {0},
};

static int create(const sluice_mask_host_t *host, sluice_mask_handle_t *self, const sluice_mask_config_t *cfg,
                  void **instance, char *err, size_t err_len)
{
    (void)self;
    const char *prefix = "";
    size_t len = 0;
    if (host->config_string(cfg, "prefix", &prefix, &len) < 0) {
        snprintf(err, err_len, "cannot read parameter 'prefix'");
        return SLUICE_MASK_ECONFIG;
    }
    if (len > MAX_PREFIX) {
        snprintf(err, err_len, "prefix is %zu bytes long; at most %d are allowed", len, MAX_PREFIX);
        return SLUICE_MASK_ECONFIG;
    }
    uppercase_t *u = calloc(1, sizeof(*u));
    if (u == NULL)
        return SLUICE_MASK_ENOMEM;
    u->host = host;
    memcpy(u->prefix, prefix, len);
    u->prefix_len = len;
    *instance = u;
    return SLUICE_MASK_OK;
}

static void destroy(void *instance)
{
    free(instance);
}

/* The upper-cased form of in[0..n) through the host's append, in chunks (no allocation). */
static int append_upper(const sluice_mask_host_t *host, sluice_mask_output_t *out, const char *in, size_t n)
{
    char chunk[256];
    while (n > 0) {
        size_t k = n < sizeof(chunk) ? n : sizeof(chunk);
        for (size_t i = 0; i < k; i++)
            chunk[i] = (in[i] >= 'a' && in[i] <= 'z') ? (char)(in[i] - 'a' + 'A') : in[i];
        int rc = host->append(out, chunk, k);
        if (rc != SLUICE_MASK_OK)
            return rc; /* e.g. ETOOBIG: the host fails the field closed */
        in += k;
        n -= k;
    }
    return SLUICE_MASK_OK;
}

static int mask(void *instance, void *thread_ctx, const sluice_mask_input_t *in, sluice_mask_output_t *out)
{
    (void)thread_ctx;
    const uppercase_t *u = instance;
    if (in->type != SLUICE_MASK_JSON_STRING)
        return SLUICE_MASK_UNCHANGED;
    if (u->prefix_len > 0 && in->value_len >= u->prefix_len && memcmp(in->value, u->prefix, u->prefix_len) == 0) {
        /* Already masked; an upper-case check keeps the plugin idempotent. */
        for (size_t i = u->prefix_len; i < in->value_len; i++) {
            if (in->value[i] >= 'a' && in->value[i] <= 'z')
                goto mask_it;
        }
        return SLUICE_MASK_UNCHANGED;
    }
mask_it:;
    int rc = u->host->append(out, u->prefix, u->prefix_len);
    if (rc != SLUICE_MASK_OK)
        return rc;
    const char *v = in->value;
    size_t n = in->value_len;
    if (u->prefix_len > 0 && n >= u->prefix_len && memcmp(v, u->prefix, u->prefix_len) == 0) {
        v += u->prefix_len; /* never prefix twice */
        n -= u->prefix_len;
    }
    return append_upper(u->host, out, v, n);
}

static int selftest(void *instance, char *err, size_t err_len)
{
    (void)instance;
    static const char in[] = "caf\xc3\xa9 mix-42";
    static const char want[] = "CAF\xc3\xa9 MIX-42";
    char got[sizeof(in)];
    for (size_t i = 0; i < sizeof(in); i++)
        got[i] = (in[i] >= 'a' && in[i] <= 'z') ? (char)(in[i] - 'a' + 'A') : in[i];
    if (memcmp(got, want, sizeof(want)) != 0) {
        snprintf(err, err_len, "upper-casing a known string gave the wrong answer");
        return SLUICE_MASK_EINTERNAL;
    }
    return SLUICE_MASK_OK;
}

SLUICE_MASK_PLUGIN(.name = "uppercase", .version = "1.0.0",
                   .description = "upper-cases ASCII letters of strings, with an optional prefix", .config = config,
                   .flags = SLUICE_MASK_FLAG_DETERMINISTIC | SLUICE_MASK_FLAG_IDEMPOTENT, .create = create,
                   .destroy = destroy, .mask = mask, .selftest = selftest);
