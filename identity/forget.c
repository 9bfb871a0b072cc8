/*
 * The Redis key layout of deletion and suppression (forget.h). Pure; any thread.
 */
#include "identity/forget.h"

#include <stdio.h>

int sluice_forget_key(char *out, size_t cap, const char *prefix, sluice_forget_key_t kind, const char *org,
                      const char *id)
{
    int n = -1;
    if (prefix == NULL)
        prefix = "sluice:";
    switch (kind) {
    case SLUICE_FORGET_KEY_LINK:
        if (org != NULL && id != NULL)
            n = snprintf(out, cap, "%sid:%s:%s", prefix, org, id);
        break;
    case SLUICE_FORGET_KEY_DEDUP:
        if (org != NULL && id != NULL)
            n = snprintf(out, cap, "%sdedup:%s:%s", prefix, org, id);
        break;
    case SLUICE_FORGET_KEY_OWN:
        if (org != NULL && id != NULL)
            n = snprintf(out, cap, "%sown:%s:%s", prefix, org, id);
        break;
    case SLUICE_FORGET_KEY_SUPPRESS: n = snprintf(out, cap, "%ssuppress", prefix); break;
    case SLUICE_FORGET_KEY_SUPPRESS_GEN: n = snprintf(out, cap, "%ssuppress:gen", prefix); break;
    case SLUICE_FORGET_KEY_SUPPRESS_SEEN: n = snprintf(out, cap, "%ssuppress:seen", prefix); break;
    }
    return n >= 0 && (size_t)n < cap ? n : -1;
}
