/*
 * Built-in mask plugin `drop`: asks the host to remove the field from the event, whatever its
 * value: the same as listing the path under `drop:` (the envelope's privacy.dropped names it),
 * for orgs that keep all their field treatments in mask rules. No parameters, no state.
 *
 * Built like a third-party plugin: only <sluice/mask_plugin.h>. Any thread.
 */
#include <sluice/mask_plugin.h>

#include <stddef.h>

static int create(const sluice_mask_host_t *host, sluice_mask_handle_t *self, const sluice_mask_config_t *cfg,
                  void **instance, char *err, size_t err_len)
{
    (void)host;
    (void)self;
    (void)cfg;
    (void)err;
    (void)err_len;
    *instance = NULL; /* stateless: the header allows a NULL instance */
    return SLUICE_MASK_OK;
}

static void destroy(void *instance)
{
    (void)instance;
}

static int mask(void *instance, void *thread_ctx, const sluice_mask_input_t *in, sluice_mask_output_t *out)
{
    (void)instance;
    (void)thread_ctx;
    (void)in;
    (void)out;
    return SLUICE_MASK_REMOVE;
}

SLUICE_MASK_PLUGIN(.name = "drop", .version = "1.0.0", .description = "removes the field from the event",
                   .flags = SLUICE_MASK_FLAG_DETERMINISTIC | SLUICE_MASK_FLAG_IDEMPOTENT, .create = create,
                   .destroy = destroy, .mask = mask);
