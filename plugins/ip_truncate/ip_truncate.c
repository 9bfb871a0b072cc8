/*
 * Built-in mask plugin `ip_truncate`: replaces an IP address by its network address, IPv4 to
 * `ipv4_prefix` bits (default 24) and IPv6 to `ipv6_prefix` bits (default 48), printed
 * canonically; IPv4-mapped IPv6 addresses take the IPv4 prefix and stay mapped
 * (truncate.h). Anything that is not exactly one address (a host name, a port, brackets, a
 * zone id, a number, an object...) is EINVAL, so the host removes the field: fail closed. A
 * null stays null.
 *
 * Built like a third-party plugin: only <sluice/mask_plugin.h>. The instance is immutable
 * after create; mask runs on every event-loop thread at once.
 */
#include <sluice/mask_plugin.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "truncate.h"

typedef struct iptrunc {
    const sluice_mask_host_t *host;
    unsigned v4, v6;
} iptrunc_t;

static const sluice_mask_config_entry_t config[] = {
    {"ipv4_prefix", SLUICE_MASK_CONF_INT, 0, "24", "IPv4 bits kept (0..32); also for IPv4-mapped IPv6 addresses"},
    {"ipv6_prefix", SLUICE_MASK_CONF_INT, 0, "48", "IPv6 bits kept (0..128)"},
    {0},
};

static int create(const sluice_mask_host_t *host, sluice_mask_handle_t *self, const sluice_mask_config_t *cfg,
                  void **instance, char *err, size_t err_len)
{
    (void)self;
    int64_t v4 = 0, v6 = 0;
    if (host->config_int(cfg, "ipv4_prefix", &v4) != 1 || host->config_int(cfg, "ipv6_prefix", &v6) != 1) {
        snprintf(err, err_len, "a parameter with a default has no value");
        return SLUICE_MASK_ECONFIG;
    }
    if (v4 < 0 || v4 > 32) {
        snprintf(err, err_len, "ipv4_prefix must be between 0 and 32 (got %lld)", (long long)v4);
        return SLUICE_MASK_ECONFIG;
    }
    if (v6 < 0 || v6 > 128) {
        snprintf(err, err_len, "ipv6_prefix must be between 0 and 128 (got %lld)", (long long)v6);
        return SLUICE_MASK_ECONFIG;
    }
    iptrunc_t *t = malloc(sizeof(*t));
    if (t == NULL) {
        snprintf(err, err_len, "out of memory");
        return SLUICE_MASK_ENOMEM;
    }
    *t = (iptrunc_t){.host = host, .v4 = (unsigned)v4, .v6 = (unsigned)v6};
    *instance = t;
    return SLUICE_MASK_OK;
}

static void destroy(void *instance)
{
    free(instance);
}

static int mask(void *instance, void *thread_ctx, const sluice_mask_input_t *in, sluice_mask_output_t *out)
{
    (void)thread_ctx;
    const iptrunc_t *t = instance;
    if (in->type == SLUICE_MASK_JSON_NULL)
        return SLUICE_MASK_UNCHANGED;
    if (in->type != SLUICE_MASK_JSON_STRING)
        return SLUICE_MASK_EINVAL;
    char net[SLUICE_IP_TRUNCATE_OUT_MAX];
    size_t n = sluice_ip_truncate(in->value, in->value_len, t->v4, t->v6, net, sizeof(net));
    return n == 0 ? SLUICE_MASK_EINVAL : t->host->append(out, net, n);
}

/* Known answers at the defaults, whatever the rule's prefixes. */
static int selftest(void *instance, char *err, size_t err_len)
{
    (void)instance;
    static const char *const cases[][2] = {
        {"203.0.113.77", "203.0.113.0"},
        {"2001:DB8:85a3:08d3:1319:8a2e:0370:7348", "2001:db8:85a3::"},
        {"::ffff:203.0.113.77", "::ffff:203.0.113.0"},
        {"jane@example.com", ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char net[SLUICE_IP_TRUNCATE_OUT_MAX];
        size_t n = sluice_ip_truncate(cases[i][0], strlen(cases[i][0]), 24, 48, net, sizeof(net));
        if (n != strlen(cases[i][1]) || (n > 0 && strcmp(net, cases[i][1]) != 0)) {
            snprintf(err, err_len, "known answer %zu differs", i + 1);
            return SLUICE_MASK_EINTERNAL;
        }
    }
    return SLUICE_MASK_OK;
}

SLUICE_MASK_PLUGIN(.name = "ip_truncate", .version = "1.0.0",
                   .description = "replaces an IP address by its network address (IPv4 /24, IPv6 /48 by default)",
                   .config = config, .flags = SLUICE_MASK_FLAG_DETERMINISTIC | SLUICE_MASK_FLAG_IDEMPOTENT,
                   .create = create, .destroy = destroy, .mask = mask, .selftest = selftest);
