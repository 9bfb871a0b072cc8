/*
 * Bot detection (bots.h). Pure functions over the org's config; any thread.
 */
#include "enrich/bots.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

static int in_ranges(const sluice_enrich_config_t *e, const char *ip)
{
    if (ip == NULL || e->bot_range_count == 0)
        return 0;
    struct sockaddr_in6 a6 = {.sin6_family = AF_INET6};
    struct sockaddr_in a4 = {.sin_family = AF_INET};
    const struct sockaddr *sa;
    if (inet_pton(AF_INET, ip, &a4.sin_addr) == 1)
        sa = (const struct sockaddr *)&a4;
    else if (inet_pton(AF_INET6, ip, &a6.sin6_addr) == 1)
        sa = (const struct sockaddr *)&a6;
    else
        return 0;
    for (size_t i = 0; i < e->bot_range_count; i++)
        if (sluice_cidr_contains(&e->bot_ranges[i], sa))
            return 1;
    return 0;
}

sluice_bot_reason_t sluice_bots_detect(const sluice_enrich_config_t *e, const char *ua, size_t len,
                                       const sluice_ua_result_t *parsed, const char *ip, int judge_missing)
{
    if (ua == NULL)
        len = 0;
    if (len == 0 && e->bots_no_user_agent && judge_missing)
        return SLUICE_BOT_NO_UA;
    if (parsed != NULL && parsed->bot)
        return SLUICE_BOT_SPIDER;
    /* The built-in patterns were looked for when the user agent was parsed (and cached). */
    if (len > 0 &&
        (parsed != NULL ? parsed->automation : sluice_ua_contains_any(ua, len, sluice_ua_automation, SIZE_MAX)))
        return SLUICE_BOT_PATTERN;
    if (len > 0 && e->bot_pattern_count > 0 &&
        sluice_ua_contains_any(ua, len, (const char *const *)e->bot_patterns, e->bot_pattern_count))
        return SLUICE_BOT_PATTERN;
    if (in_ranges(e, ip))
        return SLUICE_BOT_IP_RANGE;
    return SLUICE_BOT_NONE;
}

const char *sluice_bots_reason_name(sluice_bot_reason_t r)
{
    switch (r) {
    case SLUICE_BOT_SPIDER: return "spider";
    case SLUICE_BOT_PATTERN: return "pattern";
    case SLUICE_BOT_IP_RANGE: return "ip_range";
    case SLUICE_BOT_NO_UA: return "no_user_agent";
    default: return "none";
    }
}
