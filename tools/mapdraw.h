/*
 * Renders a data map (tools/datamap.h, the JSON model) for people: Markdown for review and
 * Graphviz DOT for `dot -Tsvg`. Both are deterministic functions of the model, so a committed
 * rendering can be checked for staleness byte for byte. Main thread of sluicectl.
 */
#ifndef SLUICE_TOOLS_MAPDRAW_H
#define SLUICE_TOOLS_MAPDRAW_H

#include <jansson.h>

/* The map as a Markdown document / a DOT digraph: new NUL-terminated strings the caller frees,
 * or NULL when out of memory. */
char *sluicectl_mapdraw_markdown(const json_t *map);
char *sluicectl_mapdraw_dot(const json_t *map);

#endif
