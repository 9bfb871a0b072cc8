/*
 * The CPUs this process may use: its affinity and its cgroups' CPU quotas (see cpus.h). Main
 * thread, at start; no state.
 */
#include "common/cpus.h"

#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Whether the comma-separated list holds word. */
static int list_has(const char *list, size_t len, const char *word)
{
    size_t wl = strlen(word);
    for (size_t i = 0; i < len;) {
        size_t j = i;
        while (j < len && list[j] != ',')
            j++;
        if (j - i == wl && memcmp(list + i, word, wl) == 0)
            return 1;
        i = j + 1;
    }
    return 0;
}

/* The quota in whole CPUs in the cgroup directory dir, 0 when it sets none. */
static unsigned quota_in(const char *dir, int v2)
{
    char path[PATH_MAX + 32];
    long long quota = -1, period = 0;
    FILE *f;
    if (v2) {
        /* cpu.max: "$MAX $PERIOD", $MAX "max" when unlimited. */
        snprintf(path, sizeof(path), "%s/cpu.max", dir);
        if ((f = fopen(path, "re")) == NULL)
            return 0;
        if (fscanf(f, "%lld %lld", &quota, &period) != 2)
            quota = -1;
        fclose(f);
    } else {
        snprintf(path, sizeof(path), "%s/cpu.cfs_quota_us", dir);
        if ((f = fopen(path, "re")) == NULL)
            return 0;
        if (fscanf(f, "%lld", &quota) != 1)
            quota = -1;
        fclose(f);
        snprintf(path, sizeof(path), "%s/cpu.cfs_period_us", dir);
        if ((f = fopen(path, "re")) == NULL)
            return 0;
        if (fscanf(f, "%lld", &period) != 1)
            period = 0;
        fclose(f);
    }
    if (quota <= 0 || period <= 0)
        return 0;
    long long n = (quota + period - 1) / period;
    return n > 4096 ? 4096 : (unsigned)n;
}

/* The mount of the cgroup hierarchy with the CPU controller (cgroup2 when v2, else a v1 cgroup
 * mount whose options name "cpu"): its root within the hierarchy and its mount point. */
static int find_mount(const char *mountinfo_file, int v2, char *root, char *mnt, size_t size)
{
    FILE *f = fopen(mountinfo_file, "re");
    if (f == NULL)
        return -1;
    char *line = NULL;
    size_t cap = 0;
    int found = -1;
    while (found < 0 && getline(&line, &cap, f) > 0) {
        /* "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS" */
        char r[PATH_MAX], m[PATH_MAX];
        if (sscanf(line, "%*s %*s %*s %4095s %4095s", r, m) != 2)
            continue;
        const char *dash = strstr(line, " - ");
        if (dash == NULL)
            continue;
        char type[32], source[256], opts[512];
        if (sscanf(dash + 3, "%31s %255s %511s", type, source, opts) != 3)
            continue;
        if (v2 ? strcmp(type, "cgroup2") != 0 : strcmp(type, "cgroup") != 0 || !list_has(opts, strlen(opts), "cpu"))
            continue;
        if (strlen(r) < size && strlen(m) < size) {
            memcpy(root, r, strlen(r) + 1);
            memcpy(mnt, m, strlen(m) + 1);
            found = 0;
        }
    }
    free(line);
    fclose(f);
    return found;
}

/* The smallest quota on the way from the cgroup at path (in the hierarchy) up to the mount's
 * root: a parent's limit (a Kubernetes pod's, the container's) binds its children too. */
static unsigned quota_of(const char *mountinfo_file, const char *root, int v2, const char *path)
{
    char mroot[PATH_MAX], mnt[PATH_MAX], dir[PATH_MAX * 2 + 8];
    if (find_mount(mountinfo_file, v2, mroot, mnt, sizeof(mroot)) != 0)
        return 0;
    /* The mount shows the hierarchy from mroot down (a container's own cgroup); a path outside it
     * cannot be looked at from here. */
    size_t rl = strcmp(mroot, "/") == 0 ? 0 : strlen(mroot);
    if (strncmp(path, mroot, rl) != 0 || (path[rl] != '/' && path[rl] != '\0'))
        return 0;
    int base = snprintf(dir, sizeof(dir), "%s%s", root, strcmp(mnt, "/") == 0 ? "" : mnt);
    if (base < 0 || (size_t)base >= sizeof(dir))
        return 0;
    snprintf(dir + base, sizeof(dir) - (size_t)base, "%s", path + rl);
    unsigned best = 0;
    for (;;) {
        size_t n = strlen(dir);
        while (n > (size_t)base && dir[n - 1] == '/')
            dir[--n] = '\0';
        unsigned q = quota_in(n > 0 ? dir : "/", v2);
        if (q > 0 && (best == 0 || q < best))
            best = q;
        char *slash = strrchr(dir, '/');
        if (n <= (size_t)base || slash == NULL || slash < dir + base)
            break;
        *slash = '\0';
    }
    return best;
}

unsigned sluice_cpus_quota_from(const char *cgroup_file, const char *mountinfo_file, const char *root)
{
    FILE *f = fopen(cgroup_file, "re");
    if (f == NULL)
        return 0;
    char *line = NULL;
    size_t cap = 0;
    unsigned best = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) > 0) {
        /* "ID:CONTROLLERS:PATH"; cgroup v2's line is "0::PATH". */
        if (line[len - 1] == '\n')
            line[--len] = '\0';
        char *c1 = strchr(line, ':'), *c2 = c1 != NULL ? strchr(c1 + 1, ':') : NULL;
        if (c2 == NULL || c2[1] != '/')
            continue;
        int v2 = c1 - line == 1 && line[0] == '0' && c2 == c1 + 1;
        if (!v2 && !list_has(c1 + 1, (size_t)(c2 - c1 - 1), "cpu"))
            continue;
        unsigned q = quota_of(mountinfo_file, root, v2, c2 + 1);
        if (q > 0 && (best == 0 || q < best))
            best = q;
    }
    free(line);
    fclose(f);
    return best;
}

unsigned sluice_cpus_usable(sluice_cpus_limit_t *why)
{
    sluice_cpus_limit_t w = SLUICE_CPUS_MACHINE;
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned n = online > 0 ? (unsigned)online : 1;
    cpu_set_t cpus;
    if (sched_getaffinity(0, sizeof(cpus), &cpus) == 0 && CPU_COUNT(&cpus) > 0 && (unsigned)CPU_COUNT(&cpus) < n) {
        n = (unsigned)CPU_COUNT(&cpus);
        w = SLUICE_CPUS_AFFINITY;
    }
    unsigned q = sluice_cpus_quota_from("/proc/self/cgroup", "/proc/self/mountinfo", "");
    if (q > 0 && q < n) {
        n = q;
        w = SLUICE_CPUS_QUOTA;
    }
    if (why != NULL)
        *why = w;
    return n;
}
