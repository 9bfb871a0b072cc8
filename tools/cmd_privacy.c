/*
 * `sluicectl privacy`: what the privacy side of sluice shows operators and DPOs. `inbox` lists
 * the PII guard's findings (tools/inbox.c). Main thread.
 */
#include <stdio.h>
#include <string.h>

#include "tools/commands.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: sluicectl privacy inbox --config FILE --org O [--format text|json] [--dismiss PATH]\n"
                 "\n"
                 "  inbox  what the PII guard found in fields no rule names, with the rule that would cover it\n");
}

int sluicectl_cmd_privacy(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "inbox") == 0)
        return sluicectl_privacy_inbox(argc - 1, argv + 1);
    fprintf(stderr, "sluicectl privacy: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
