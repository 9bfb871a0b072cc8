/*
 * The Redis key layout of deletion and suppression (forget.h). Pure; any thread.
 */
#include "identity/forget.h"

#include <stdio.h>

int sluice_forget_key(char *out, size_t cap, sluice_forget_key_t kind, const char *org, const char *id)
{
    int n = -1;
    switch (kind) {
    case SLUICE_FORGET_KEY_LINK:
        if (org != NULL && id != NULL)
            n = snprintf(out, cap, "sluice:id:%s:%s", org, id);
        break;
    case SLUICE_FORGET_KEY_DEDUP:
        if (org != NULL && id != NULL)
            n = snprintf(out, cap, "sluice:dedup:%s:%s", org, id);
        break;
    case SLUICE_FORGET_KEY_SUPPRESS: n = snprintf(out, cap, "sluice:suppress"); break;
    case SLUICE_FORGET_KEY_SUPPRESS_GEN: n = snprintf(out, cap, "sluice:suppress:gen"); break;
    }
    return n >= 0 && (size_t)n < cap ? n : -1;
}
