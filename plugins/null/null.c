/*
 * Built-in mask plugin `null`: replaces the value by JSON null, keeping the key (so a consumer
 * sees the field existed). No parameters; the instance only remembers the host table.
 *
 * Built like a third-party plugin: only <sluice/mask_plugin.h>. Any thread.
 */
#include <sluice/mask_plugin.h>

#include <stdio.h>
#include <stdlib.h>

typedef struct null_inst {
    const sluice_mask_host_t *host;
} null_inst_t;

static int create(const sluice_mask_host_t *host, sluice_mask_handle_t *self, const sluice_mask_config_t *cfg,
                  void **instance, char *err, size_t err_len)
{
    (void)self;
    (void)cfg;
    null_inst_t *n = malloc(sizeof(*n));
    if (n == NULL) {
        snprintf(err, err_len, "out of memory");
        return SLUICE_MASK_ENOMEM;
    }
    n->host = host;
    *instance = n;
    return SLUICE_MASK_OK;
}

static void destroy(void *instance)
{
    free(instance);
}

static int mask(void *instance, void *thread_ctx, const sluice_mask_input_t *in, sluice_mask_output_t *out)
{
    (void)thread_ctx;
    const null_inst_t *n = instance;
    if (in->type == SLUICE_MASK_JSON_NULL)
        return SLUICE_MASK_UNCHANGED;
    int rc = n->host->set_output_type(out, SLUICE_MASK_OUT_JSON);
    return rc != SLUICE_MASK_OK ? rc : n->host->append(out, "null", 4);
}

SLUICE_MASK_PLUGIN(.name = "null", .version = "1.0.0", .description = "replaces the value by JSON null",
                   .flags = SLUICE_MASK_FLAG_DETERMINISTIC | SLUICE_MASK_FLAG_IDEMPOTENT, .create = create,
                   .destroy = destroy, .mask = mask);
