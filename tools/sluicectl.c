/*
 * sluicectl: the operator's command-line tool. This file only dispatches to the subcommands
 * declared in commands.h; each lives in its own file.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "tools/commands.h"

typedef struct command {
    const char *name;
    const char *usage;
    int (*run)(int argc, char **argv);
} command_t;

static const command_t commands[] = {
    {"config", "config check|dump FILE   validate a config file and every org it names; prints ok or every error",
     sluicectl_cmd_config},
    {"dev-kafka", "dev-kafka [options]      run the development Kafka broker (librdkafka mock cluster) on loopback",
     sluicectl_cmd_dev_kafka},
    {"plugin", "plugin test PATH.so       run the masking-plugin conformance suite on a plugin (--vectors FILE)",
     sluicectl_cmd_plugin},
    {"tag", "tag sri|versions [--src URL]  SRI hash and versioned <script> tag of sluice.js; every build served",
     sluicectl_cmd_tag},
    {"vault",
     "vault put|list|delete|rotate|migrate|audit --config FILE ...  vendor credentials in the encrypted vault, their "
     "audit trail",
     sluicectl_cmd_vault},
    {"dlq", "dlq list|replay --config FILE [--vendor V] [--since T]  inspect or replay dead-lettered events",
     sluicectl_cmd_dlq},
    {"invalid", "invalid list --config FILE [--org O] [--since T] [--events]  events the gateway refused, with why",
     sluicectl_cmd_invalid},
    {"tail", "tail --config FILE --org O [--source S] [--type T] [--pretty]  follow the events leaving the gateway",
     sluicectl_cmd_tail},
    {"privacy",
     "privacy map|inbox --config FILE [--org O] ...  what happens to each field and where it goes; PII found in "
     "fields no rule names",
     sluicectl_cmd_privacy},
    {"vendor", "vendor check VENDOR --config FILE --org O [--send]  validate a sample event in the vendor's test mode",
     sluicectl_cmd_vendor},
    {"keys", "keys generate            print a new random ENCRYPTION_KEY (64 hex) and how to rotate to it",
     sluicectl_cmd_keys},
    {"token", "token mint|inspect --config FILE --org O --to DOMAIN ...  cross-domain identity tokens",
     sluicectl_cmd_token},
    {"fpe", "fpe encrypt|decrypt --key-hex K --radix N VALUE  FF1 format-preserving encryption (the fpe plugin's code)",
     sluicectl_cmd_fpe},
    {"unmask", "unmask --config FILE --org O --path P VALUE  reverse an encrypt or fpe value (audited)",
     sluicectl_cmd_unmask},
    {"forget", "forget --config FILE --org O --user-id U | --list | --undo ID  deletion and suppression (GDPR/CCPA)",
     sluicectl_cmd_forget},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: sluicectl <command> [args]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  %s\n", commands[i].usage);
    fprintf(out, "\n  --help                   this text\n  --version                print the version\n"
                 "\n`sluicectl <command> --help` describes one command.\n");
}

/* rc, or 1 when what was printed on stdout did not all reach it (a full disk under `> file`):
 * a script must not take a key it never got. */
static int flushed(int rc)
{
    int e = fflush(stdout) == 0 ? 0 : errno;
    if (e == 0 && !ferror(stdout))
        return rc;
    fprintf(stderr, "sluicectl: cannot write the output%s%s\n", e != 0 ? ": " : "", e != 0 ? strerror(e) : "");
    return rc != 0 ? rc : 1;
}

/* The flags of every command that take no value; any other `-x`/`--x` (without `=`) is taken
 * to be followed by its value. One missing here only makes a --help after it reach the command,
 * which shows its help or refuses the line (exit 2): never runs it. */
static int takes_value(const char *arg)
{
    static const char *const flags[] = {"--secrets",        "--to-vendor", "--list",   "--sync",  "--events",
                                        "--verbose",        "-v",          "--pretty", "--color", "--no-color",
                                        "--from-beginning", "--send",      "--dismiss"};
    if (arg[0] != '-' || arg[1] == '\0' || strchr(arg, '=') != NULL)
        return 0;
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
        if (strcmp(arg, flags[i]) == 0)
            return 0;
    return 1;
}

int main(int argc, char **argv)
{
    sluice_log_setup("sluicectl", SLUICE_LOG_WARN, 2);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return flushed(0);
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("sluicectl %s\n", SLUICE_VERSION);
        return flushed(0);
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[1], commands[i].name) != 0)
            continue;
        /* `sluicectl vault put --help` (--help after a subcommand, or after the flags of a line
         * copied from the docs) is the command's help: each command only looks for --help as
         * its first argument, and would otherwise refuse it as an unknown option or take it for
         * a value (`unknown vendor '--help'`). */
        for (int a = 2; a < argc && strcmp(argv[a], "--") != 0; a++) {
            if (strcmp(argv[a], "--help") == 0 || strcmp(argv[a], "-h") == 0) {
                char *help[] = {argv[1], argv[a], NULL};
                return flushed(commands[i].run(2, help));
            }
            /* An option's value is the command's, whatever it reads: `--user-id -h` forgets the
             * user "-h" and `--alphabet -h` encrypts, not a help text printed with exit 0. */
            if (takes_value(argv[a]))
                a++;
        }
        return flushed(commands[i].run(argc - 1, argv + 1));
    }
    fprintf(stderr, "sluicectl: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
