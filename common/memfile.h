/*
 * A file's bytes held in a sealed memory file of the process's own (memfd), for what the gateway
 * maps or loads from disk and then uses from every loop thread: the geolocation database
 * (enrich/geo.c) and masking plugins (plugins/loader.c). Mapping the file itself let an
 * operator's `cp new over old` (which truncates, then writes) take the pages away under running
 * lookups (SIGBUS), and the dynamic loader hands back the library it already holds for a path
 * instead of the new version there. Main thread (config loads); no state.
 */
#ifndef SLUICE_COMMON_MEMFILE_H
#define SLUICE_COMMON_MEMFILE_H

#include "common/err.h"

/* Copies the regular file at path into a new memory file named label (as /proc/<pid>/maps and a
 * core dump show it; its first 249 bytes), sealed against any change, close-on-exec.
 * Returns its descriptor (the caller's to close; a mapping of it keeps it alive), -1 with err set
 * when the file cannot be read or copied, or -2 when the system makes no memory files (err
 * untouched: the caller may use the file itself). */
int sluice_memfile_copy(const char *path, const char *label, sluice_err_t *err);

#endif
