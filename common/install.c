/*
 * The install layout seen from a running program: its own directory (/proc/self/exe) plus the
 * relative paths CMake computed at configure time, so nothing depends on the prefix the tree was
 * configured with. Any thread; no state.
 */
#include "common/install.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#if !defined(SLUICE_BINDIR_TO_PLUGINDIR) || !defined(SLUICE_BUILD_TREE) || !defined(SLUICE_BUILD_PLUGIN_DIR)
#error                                                                                                                 \
    "the install layout (SLUICE_BINDIR_TO_PLUGINDIR, SLUICE_BUILD_TREE, SLUICE_BUILD_PLUGIN_DIR) comes from common/CMakeLists.txt"
#endif

const char *sluice_install_plugin_subdir(void)
{
    return SLUICE_BINDIR_TO_PLUGINDIR;
}

static int read_exe(char *out, size_t cap, sluice_err_t *err)
{
    ssize_t n = readlink("/proc/self/exe", out, cap - 1);
    if (n < 0)
        return sluice_err_set(err, "cannot find this program's own path (/proc/self/exe): %s", strerror(errno));
    if ((size_t)n >= cap - 1)
        return sluice_err_set(err, "this program's own path is too long");
    out[n] = '\0';
    return 0;
}

int sluice_install_exe_dir(char *out, size_t cap, sluice_err_t *err)
{
    if (read_exe(out, cap, err) != 0)
        return -1;
    char *slash = strrchr(out, '/');
    if (slash == NULL)
        return sluice_err_set(err, "this program's own path '%s' is not absolute", out);
    *(slash == out ? slash + 1 : slash) = '\0';
    return 0;
}

/* Removes "." and "name/.." components of an absolute path in place, without touching the file
 * system (for a directory that does not exist, where realpath cannot help; the program's own
 * directory it starts from is already canonical). */
static void tidy(char *path)
{
    char *out = path;
    const char *p = path;
    while (*p != '\0') {
        while (*p == '/')
            p++;
        size_t len = strcspn(p, "/");
        if (len == 0)
            break;
        if (len == 1 && p[0] == '.') {
            /* skip */
        } else if (len == 2 && p[0] == '.' && p[1] == '.') {
            while (out > path && *--out != '/') {
            }
        } else {
            *out++ = '/';
            memmove(out, p, len);
            out += len;
        }
        p += len;
    }
    if (out == path)
        *out++ = '/';
    *out = '\0';
}

/* Fills d from a joined path: canonical and marked existing when it is a directory. */
static void set_dir(sluice_install_dir_t *d, const char *joined)
{
    struct stat st;
    char real[PATH_MAX];
    d->exists = stat(joined, &st) == 0 && S_ISDIR(st.st_mode);
    snprintf(d->path, sizeof(d->path), "%s", d->exists && realpath(joined, real) != NULL ? real : joined);
    if (!d->exists && d->path[0] == '/')
        tidy(d->path);
}

/* 1 when path is dir itself or below it. */
static int is_under(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    return n > 0 && strncmp(path, dir, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

size_t sluice_install_plugin_dirs(sluice_install_dir_t *out, size_t cap, sluice_err_t *err)
{
    char exe[PATH_MAX], dir[PATH_MAX], joined[PATH_MAX + 64];
    if (cap == 0 || read_exe(exe, sizeof(exe), err) != 0 || sluice_install_exe_dir(dir, sizeof(dir), err) != 0)
        return 0;
    size_t n = 0;
    snprintf(joined, sizeof(joined), "%s/%s", dir, SLUICE_BINDIR_TO_PLUGINDIR);
    set_dir(&out[n], joined);
    snprintf(out[n].how, sizeof(out[n].how), "next to %s", exe);
    n++;
    /* The build tree's own plugins only for a program inside that tree: an installed program
     * never reaches into wherever it happened to be built. */
    char tree[PATH_MAX];
    if (n < cap && realpath(SLUICE_BUILD_TREE, tree) != NULL && is_under(exe, tree)) {
        set_dir(&out[n], SLUICE_BUILD_PLUGIN_DIR);
        snprintf(out[n].how, sizeof(out[n].how), "the build tree of %s", exe);
        n++;
    }
    return n;
}

char *sluice_install_plugin_dir(sluice_err_t *err)
{
    sluice_install_dir_t dirs[SLUICE_INSTALL_MAX_DIRS];
    size_t n = sluice_install_plugin_dirs(dirs, SLUICE_INSTALL_MAX_DIRS, err);
    if (n == 0)
        return NULL;
    size_t pick = 0;
    while (pick < n && !dirs[pick].exists)
        pick++;
    char *s = strdup(dirs[pick < n ? pick : 0].path);
    if (s == NULL)
        sluice_err_set(err, "out of memory");
    return s;
}
