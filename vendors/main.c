/*
 * sluice-deliver: the delivery worker: Kafka to vendor APIs. Main thread: arguments, config, signals.
 */
#include <stdio.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out, "usage: sluice-deliver --config FILE [--vendor V]\n\n"
                 "  --config FILE   the sluice YAML config (see docs/config.md)\n"
                 "  --help          this text\n"
                 "  --version       print the version\n");
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--version") == 0) {
            printf("sluice-deliver %s\n", SLUICE_VERSION);
            return 0;
        }
    }
    usage(stderr);
    fprintf(stderr, "sluice-deliver: the HTTP server lands with issue 6; this build only answers --help and --version\n");
    return 2;
}
