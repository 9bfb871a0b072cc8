/*
 * Where this sluice's installed files are, found from the running program's own path: a tree
 * installed under any prefix (`cmake --install --prefix`, DESTDIR packaging, a moved directory)
 * finds its built-in plugins with no configuration, and so does a program run from the build
 * tree. Layout facts come from CMake at configure time (common/CMakeLists.txt).
 * Any thread: reads /proc/self/exe and stats directories, keeps no state.
 */
#ifndef SLUICE_COMMON_INSTALL_H
#define SLUICE_COMMON_INSTALL_H

#include <limits.h>
#include <stddef.h>

#include "common/err.h"

/* How many places sluice_install_plugin_dirs can name. */
#define SLUICE_INSTALL_MAX_DIRS 2

typedef struct sluice_install_dir {
    char path[PATH_MAX];     /* canonical (no "..", no symlinks) when it exists */
    char how[PATH_MAX + 32]; /* how it was derived, for messages: "next to /opt/x/bin/sluicectl" */
    int exists;              /* 1 when path is a directory */
} sluice_install_dir_t;

/* The relative path from the installed programs' directory to the installed built-in plugins
 * ("../lib/sluice/plugins"), fixed at configure time. Static string. */
const char *sluice_install_plugin_subdir(void);

/* Writes into *out the directory holding the running program (/proc/self/exe, resolved).
 * -1 with err when it cannot be read (no /proc). */
int sluice_install_exe_dir(char *out, size_t cap, sluice_err_t *err);

/* The places where the built-in plugins may be when no plugin directory is configured, best
 * first, into out[0..cap):
 *   1. <the running program's directory>/<sluice_install_plugin_subdir()>: the installed layout;
 *   2. only when the running program lives inside the build tree it was built in: that tree's
 *      plugin directory (build/plugins).
 * Returns how many were written; 0 with err when the program's own path cannot be read. */
size_t sluice_install_plugin_dirs(sluice_install_dir_t *out, size_t cap, sluice_err_t *err);

/* The default plugin directory: the first of sluice_install_plugin_dirs that exists, else the
 * first one. Returns a string the caller frees; NULL with err when the program's own path
 * cannot be read or memory runs out. */
char *sluice_install_plugin_dir(sluice_err_t *err);

#endif
