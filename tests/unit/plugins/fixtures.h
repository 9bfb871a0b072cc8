/* Helpers shared by the loader tests: where the fixture plugins are, whether a file is still
 * mapped into this process (a dlopen handle left open), and params from YAML text. */
#ifndef SLUICE_TESTS_UNIT_PLUGINS_FIXTURES_H
#define SLUICE_TESTS_UNIT_PLUGINS_FIXTURES_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/yaml.h"

/* build/tests/fixtures/plugins/<name>.so into buf. */
static inline const char *fixture_path(char *buf, size_t len, const char *name)
{
    const char *b = getenv("SLUICE_BUILD_DIR");
    snprintf(buf, len, "%s/tests/fixtures/plugins/%s.so", b ? b : ".", name);
    return buf;
}

/* Lines of /proc/self/maps naming path: > 0 while the file is loaded. */
static inline int mapped(const char *path)
{
    FILE *f = fopen("/proc/self/maps", "r");
    if (f == NULL)
        return -1;
    char line[4096];
    int n = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strstr(line, path) != NULL)
            n++;
    }
    fclose(f);
    return n;
}

/* Parses "params.yaml" text whose root is the params map. */
static inline sluice_yaml_doc_t *yaml_doc(const char *text)
{
    char err[256];
    sluice_yaml_doc_t *d = sluice_yaml_load_string("params.yaml", text, strlen(text), err, sizeof(err));
    if (d == NULL)
        fprintf(stderr, "%s\n", err);
    return d;
}

#endif
