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
int sluicectl_cmd_vault(int argc, char **argv);     /* tools/cmd_vault.c */
int sluicectl_cmd_dlq(int argc, char **argv);       /* tools/cmd_dlq.c */
int sluicectl_cmd_invalid(int argc, char **argv);   /* tools/cmd_invalid.c */
int sluicectl_cmd_vendor(int argc, char **argv);    /* tools/cmd_vendor.c */
int sluicectl_cmd_keys(int argc, char **argv);      /* tools/cmd_keys.c */
int sluicectl_cmd_token(int argc, char **argv);     /* tools/cmd_token.c */
int sluicectl_cmd_fpe(int argc, char **argv);       /* tools/cmd_fpe.c */
int sluicectl_cmd_unmask(int argc, char **argv);    /* tools/cmd_unmask.c */
int sluicectl_cmd_privacy(int argc, char **argv);   /* tools/cmd_privacy.c */
int sluicectl_privacy_inbox(int argc, char **argv); /* tools/inbox.c: `privacy inbox` */
int sluicectl_cmd_tail(int argc, char **argv);      /* tools/cmd_tail.c */
int sluicectl_cmd_forget(int argc, char **argv);    /* tools/cmd_forget.c */

#endif
