/*
 * Edit distance (optimal string alignment) for "did you mean" suggestions: one copy shared by the
 * config decoder, the plugin parameter checks and the plugin-name lookup. Pure: any thread.
 */
#include "common/strdist.h"

#include <string.h>

size_t sluice_strdist(const char *a, const char *b, size_t cap)
{
    size_t la = strlen(a), lb = strlen(b);
    if ((la > lb ? la - lb : lb - la) > cap || la > SLUICE_STRDIST_MAX_LEN || lb > SLUICE_STRDIST_MAX_LEN)
        return cap + 1;
    size_t d[SLUICE_STRDIST_MAX_LEN + 1][SLUICE_STRDIST_MAX_LEN + 1];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= la; i++) {
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] != b[j - 1];
            size_t v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v)
                v = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < v)
                v = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    }
    return d[la][lb] > cap ? cap + 1 : d[la][lb];
}

const char *sluice_strdist_closest(const char *word, const char *const *candidates, size_t max_dist)
{
    const char *best = NULL;
    size_t best_d = max_dist + 1, len = strlen(word);
    for (size_t i = 0; candidates != NULL && candidates[i] != NULL; i++) {
        size_t d = sluice_strdist(word, candidates[i], max_dist);
        if (d < best_d && d < len) {
            best_d = d;
            best = candidates[i];
        }
    }
    return best;
}
