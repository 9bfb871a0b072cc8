/*
 * sluicectl subcommands. Each takes the arguments after its own name (argv[0] is the
 * subcommand name), prints its results on stdout and its errors on stderr, and returns the
 * process exit status (0 ok, 1 failure, 2 usage error). Main thread only.
 */
#ifndef SLUICE_TOOLS_COMMANDS_H
#define SLUICE_TOOLS_COMMANDS_H

int sluicectl_cmd_config(int argc, char **argv);    /* tools/cmd_config.c */
int sluicectl_cmd_dev_kafka(int argc, char **argv); /* tools/dev_kafka.c */
int sluicectl_cmd_plugin(int argc, char **argv);    /* tools/cmd_plugin.c */
int sluicectl_cmd_tag(int argc, char **argv);       /* tools/cmd_tag.c */

#endif
