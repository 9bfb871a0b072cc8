/*
 * `sluicectl privacy inbox` is tools/inbox.c. `sluicectl privacy map`: the data map of an org (tools/datamap.h), from
 * the config file alone (no service is contacted, the environment overrides are ignored), as Markdown for review, JSON
 * for tools, Graphviz DOT, or SVG drawn by Graphviz's `dot` (Debian package graphviz). The SVG
 * carries the SHA-256 of the DOT it was drawn from, so a committed picture can be checked against
 * the config without depending on the fonts of the machine that checks it. Main thread.
 */
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "config/config.h"
#include "crypto/hash.h"
#include "tools/commands.h"
#include "tools/datamap.h"
#include "tools/mapdraw.h"

extern char **environ;

static void usage(FILE *out)
{
    fprintf(out, "usage: sluicectl privacy map --config FILE [--org O] [--format md|svg|json|dot]\n"
                 "       sluicectl privacy inbox --config FILE --org O [--format text|json] [--dismiss PATH]\n"
                 "\n"
                 "inbox lists what the PII guard found in fields no rule names, with the rule that would cover\n"
                 "each (`sluicectl privacy inbox --help`). map:\n"
                 "\n"
                 "Draws, from the config file alone, every field path the org's data layer and the gateway's\n"
                 "enrichments touch: what happens to it (hashed with which normalisation, masked by which plugin,\n"
                 "dropped, passed), whether the consent policy removes it from events without consent, and which\n"
                 "integrations receive it as which vendor field. Paths and rules only, never values.\n"
                 "\n"
                 "  --org O       the org to draw (needed when the config has more than one)\n"
                 "  --format F    md (default: Markdown for review), json (for tools), dot (Graphviz source) or\n"
                 "                svg (drawn by Graphviz's `dot`, from $SLUICE_DOT or PATH; Debian package graphviz)\n"
                 "\n"
                 "The SVG names the SHA-256 of its DOT source in a comment (`DOT sha256 <hex>`). Environment\n"
                 "overrides (SLUICE_*) are ignored: the map is the file's.\n");
}

/* Runs `dot -Tsvg` on the DOT text and returns its output (malloc'd, NUL-terminated), or NULL
 * with a message on stderr. */
static char *run_dot(const char *dot, size_t dot_len)
{
    const char *prog = getenv("SLUICE_DOT");
    if (prog == NULL || prog[0] == '\0')
        prog = "dot";
    FILE *in = tmpfile();
    if (in == NULL || fwrite(dot, 1, dot_len, in) != dot_len || fflush(in) != 0 || fseek(in, 0, SEEK_SET) != 0) {
        fprintf(stderr, "sluicectl privacy map: cannot write a temporary file: %s\n", strerror(errno));
        if (in != NULL)
            fclose(in);
        return NULL;
    }
    int outp[2];
    if (pipe(outp) != 0) {
        fprintf(stderr, "sluicectl privacy map: pipe: %s\n", strerror(errno));
        fclose(in);
        return NULL;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fileno(in), 0);
    posix_spawn_file_actions_adddup2(&fa, outp[1], 1);
    posix_spawn_file_actions_addclose(&fa, outp[0]);
    char *argv[] = {(char *)prog, "-Tsvg", NULL};
    pid_t pid;
    int rc = posix_spawnp(&pid, prog, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(outp[1]);
    fclose(in);
    if (rc != 0) {
        close(outp[0]);
        fprintf(stderr,
                "sluicectl privacy map: cannot run %s: %s (install Graphviz: Debian package graphviz, or "
                "scripts/deps.sh; --format dot prints the source)\n",
                prog, strerror(rc));
        return NULL;
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 65536;
            char *nb = realloc(buf, cap);
            if (nb == NULL) {
                free(buf);
                close(outp[0]);
                waitpid(pid, NULL, 0);
                fprintf(stderr, "sluicectl privacy map: out of memory\n");
                return NULL;
            }
            buf = nb;
        }
        ssize_t n = read(outp[0], buf + len, cap - len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    close(outp[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || buf == NULL || strstr(buf, "<svg") == NULL) {
        fprintf(stderr, "sluicectl privacy map: %s -Tsvg failed (exit status %d)\n", prog,
                WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        free(buf);
        return NULL;
    }
    buf[len] = '\0';
    return buf;
}

/* Prints the SVG with a comment naming its DOT source's SHA-256 just before the <svg> element. */
static int print_svg(const char *dot)
{
    char *svg = run_dot(dot, strlen(dot));
    if (svg == NULL)
        return 1;
    char hex[SLUICE_SHA256_HEX_LEN + 1];
    if (sluice_sha256_hex(dot, strlen(dot), hex) != 0) {
        free(svg);
        fprintf(stderr, "sluicectl privacy map: SHA-256 failed\n");
        return 1;
    }
    char *at = strstr(svg, "<svg");
    fwrite(svg, 1, (size_t)(at - svg), stdout);
    printf("<!-- sluice privacy map: DOT sha256 %s -->\n%s", hex, at);
    free(svg);
    return 0;
}

static int map(int argc, char **argv)
{
    const char *config = NULL, *org_id = NULL, *format = "md";
    for (int i = 2; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--config") == 0 && v != NULL) {
            config = v, i++;
        } else if (strcmp(argv[i], "--org") == 0 && v != NULL) {
            org_id = v, i++;
        } else if (strcmp(argv[i], "--format") == 0 && v != NULL) {
            format = v, i++;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "sluicectl privacy map: unknown or incomplete option '%s'\n\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (config == NULL) {
        fprintf(stderr, "sluicectl privacy map: --config is required\n");
        return 2;
    }
    if (strcmp(format, "md") != 0 && strcmp(format, "json") != 0 && strcmp(format, "dot") != 0 &&
        strcmp(format, "svg") != 0) {
        fprintf(stderr, "sluicectl privacy map: --format: '%s' is not one of md, svg, json, dot\n", format);
        return 2;
    }
    sluice_config_diag_t diag;
    sluice_config_diag_init(&diag);
    sluice_config_t *cfg = sluice_config_load(config, SLUICE_CONFIG_NO_ENV, &diag);
    for (size_t i = 0; i < diag.count; i++)
        fprintf(stderr, "%s\n", diag.msgs[i]);
    sluice_config_diag_dispose(&diag);
    if (cfg == NULL)
        return 1;
    int rc = 1;
    const sluice_org_t *org = NULL;
    if (org_id != NULL) {
        org = sluice_config_find_org(cfg, org_id);
        if (org == NULL)
            fprintf(stderr, "sluicectl privacy map: no org '%s' in %s\n", org_id, config);
    } else if (cfg->org_count == 1) {
        org = &cfg->orgs[0];
    } else {
        fprintf(stderr, "sluicectl privacy map: %s has %zu orgs; pick one with --org (", config, cfg->org_count);
        for (size_t i = 0; i < cfg->org_count; i++)
            fprintf(stderr, "%s%s", i ? ", " : "", cfg->orgs[i].id);
        fprintf(stderr, ")\n");
    }
    json_t *m = org != NULL ? sluicectl_datamap_build(cfg, org) : NULL;
    if (org != NULL && m == NULL)
        fprintf(stderr, "sluicectl privacy map: out of memory\n");
    if (m != NULL) {
        char *text = strcmp(format, "json") == 0 ? json_dumps(m, JSON_INDENT(2))
                     : strcmp(format, "md") == 0 ? sluicectl_mapdraw_markdown(m)
                                                 : sluicectl_mapdraw_dot(m);
        if (text == NULL)
            fprintf(stderr, "sluicectl privacy map: out of memory\n");
        else if (strcmp(format, "svg") == 0)
            rc = print_svg(text);
        else
            rc = printf("%s%s", text, strcmp(format, "json") == 0 ? "\n" : "") < 0 || fflush(stdout) != 0;
        free(text);
        json_decref(m);
    }
    sluice_config_free(cfg);
    return rc;
}

int sluicectl_cmd_privacy(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "map") == 0)
        return map(argc, argv);
    if (strcmp(argv[1], "inbox") == 0)
        return sluicectl_privacy_inbox(argc - 1, argv + 1);
    fprintf(stderr, "sluicectl privacy: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
