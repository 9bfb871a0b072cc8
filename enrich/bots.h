/*
 * Bot detection: a request is a bot when uap-core calls its user agent a Spider, when its user
 * agent holds one of the built-in or the org's patterns (case-insensitive substrings: headless
 * browsers and HTTP libraries uap-core does not list), when its client address is inside one of
 * the org's ranges, or when it sends no user agent at all (unless the org says otherwise).
 * Pure functions; any thread.
 */
#ifndef SLUICE_ENRICH_BOTS_H
#define SLUICE_ENRICH_BOTS_H

#include <stddef.h>

#include "config/config.h"
#include "enrich/ua.h"

typedef enum sluice_bot_reason {
    SLUICE_BOT_NONE = 0,
    SLUICE_BOT_SPIDER = 1,   /* uap-core's Spider device family */
    SLUICE_BOT_PATTERN = 2,  /* a built-in or configured pattern */
    SLUICE_BOT_IP_RANGE = 3, /* the client address is in a configured range */
    SLUICE_BOT_NO_UA = 4,    /* no User-Agent */
} sluice_bot_reason_t;

/* Why the request (user agent ua[0..len), parsed into parsed, from client address ip, NULL when
 * unknown) is a bot under e, or SLUICE_BOT_NONE. parsed may be NULL (then only patterns, ranges
 * and an empty user agent count). An empty user agent counts (under e's no_user_agent) only when
 * judge_missing is set: a browser always sends one, a server's event may name none. */
sluice_bot_reason_t sluice_bots_detect(const sluice_enrich_config_t *e, const char *ua, size_t len,
                                       const sluice_ua_result_t *parsed, const char *ip, int judge_missing);

/* "spider", "pattern", "ip_range", "no_user_agent" (or "none"). */
const char *sluice_bots_reason_name(sluice_bot_reason_t r);

#endif
