/*
 * Detaching the environment from the exec-time stack area and forgetting secrets in it (see
 * secretenv.h). Main thread, before other threads start.
 *
 * The copies made by sluice_secretenv_detach live as long as the process (they are the
 * environment now); a forgotten variable's copy is wiped and freed.
 */
#include "crypto/secretenv.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto/ct.h"

extern char **environ;

static char **copies; /* the strings detach allocated, to know which ones forget may free */
static size_t copy_count;
static int detached;

int sluice_secretenv_detach(void)
{
    if (detached)
        return 0;
    size_t n = 0;
    while (environ != NULL && environ[n] != NULL)
        n++;
    char **env = calloc(n + 1, sizeof(*env));
    char **mine = calloc(n + 1, sizeof(*mine));
    if (env == NULL || mine == NULL) {
        free(env);
        free(mine);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if ((env[i] = strdup(environ[i])) == NULL) {
            for (size_t j = 0; j < i; j++) {
                sluice_secure_zero(env[j], strlen(env[j]));
                free(env[j]);
            }
            free(env);
            free(mine);
            return -1;
        }
        mine[i] = env[i];
    }
    /* Only now, with every copy made, wipe the originals: the bytes /proc/<pid>/environ reads. */
    char **old = environ;
    environ = env;
    for (size_t i = 0; i < n; i++)
        sluice_secure_zero(old[i], strlen(old[i]));
    copies = mine;
    copy_count = n;
    detached = 1;
    return 0;
}

void sluice_secretenv_forget(const char *name)
{
    size_t nl = strlen(name);
    if (nl == 0 || strchr(name, '=') != NULL || environ == NULL)
        return;
    /* Every entry of the name (an environment may hold one twice), found before unsetenv takes
     * the pointers away; the bytes are ours to wipe afterwards. */
    size_t hits = 0;
    for (size_t i = 0; environ[i] != NULL; i++)
        hits += strncmp(environ[i], name, nl) == 0 && environ[i][nl] == '=';
    if (hits == 0)
        return;
    char **found = calloc(hits, sizeof(*found));
    if (found == NULL)
        return;
    size_t k = 0;
    for (size_t i = 0; environ[i] != NULL; i++)
        if (strncmp(environ[i], name, nl) == 0 && environ[i][nl] == '=')
            found[k++] = environ[i];
    if (unsetenv(name) == 0) {
        for (size_t j = 0; j < k; j++) {
            sluice_secure_zero(found[j], strlen(found[j]));
            for (size_t i = 0; i < copy_count; i++)
                if (copies[i] == found[j]) {
                    free(found[j]);
                    copies[i] = NULL;
                }
        }
    }
    free(found);
}
