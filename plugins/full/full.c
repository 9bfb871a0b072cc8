/*
 * Built-in mask plugin `full`: replaces the whole value by a fixed text, `***` unless the rule
 * sets `with`. Strings, numbers, booleans, objects and arrays all become that string; a null
 * stays null (there is nothing in it to hide).
 *
 * Built like a third-party plugin: only <sluice/mask_plugin.h>. The instance is immutable
 * after create, so mask runs on every event-loop thread at once without locks.
 */
#include <sluice/mask_plugin.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The host caps one output at 4096 bytes by default; a longer `with` could never be written. */
#define WITH_MAX 4096

typedef struct full {
    const sluice_mask_host_t *host;
    size_t len;
    char with[]; /* len bytes + NUL */
} full_t;

static const sluice_mask_config_entry_t config[] = {
    {"with", SLUICE_MASK_CONF_STRING, 0, "\"***\"", "the text that replaces every value (UTF-8, up to 4096 bytes)"},
    {0},
};

static int create(const sluice_mask_host_t *host, sluice_mask_handle_t *self, const sluice_mask_config_t *cfg,
                  void **instance, char *err, size_t err_len)
{
    (void)self;
    const char *with = NULL;
    size_t len = 0;
    if (host->config_string(cfg, "with", &with, &len) != 1) {
        snprintf(err, err_len, "parameter 'with' has no value");
        return SLUICE_MASK_ECONFIG;
    }
    if (len > WITH_MAX) {
        snprintf(err, err_len, "'with' is %zu bytes, more than the %d-byte output cap", len, WITH_MAX);
        return SLUICE_MASK_ECONFIG;
    }
    full_t *f = malloc(sizeof(*f) + len + 1);
    if (f == NULL) {
        snprintf(err, err_len, "out of memory");
        return SLUICE_MASK_ENOMEM;
    }
    f->host = host;
    f->len = len;
    memcpy(f->with, with, len);
    f->with[len] = '\0';
    *instance = f;
    return SLUICE_MASK_OK;
}

static void destroy(void *instance)
{
    free(instance);
}

static int mask(void *instance, void *thread_ctx, const sluice_mask_input_t *in, sluice_mask_output_t *out)
{
    (void)thread_ctx;
    const full_t *f = instance;
    if (in->type == SLUICE_MASK_JSON_NULL)
        return SLUICE_MASK_UNCHANGED;
    return f->host->append(out, f->with, f->len);
}

SLUICE_MASK_PLUGIN(.name = "full", .version = "1.0.0",
                   .description = "replaces the whole value by a fixed text (*** by default)", .config = config,
                   .flags = SLUICE_MASK_FLAG_DETERMINISTIC | SLUICE_MASK_FLAG_IDEMPOTENT, .create = create,
                   .destroy = destroy, .mask = mask);
