/* sim/commands.h - the table of mailsim's subcommands.
 *
 * Each command lives in its own file sim/cmd_NAME.c and parses its own
 * options; run() gets argv with argv[0] the command's name and returns the
 * process exit code (0 ok, 1 a failed expectation or check, 2 bad usage).
 */
#pragma once

typedef struct {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv);
} MsCommand;

/* Terminated by an entry with name NULL. */
extern const MsCommand ms_commands[];

const MsCommand *ms_command_find(const char *name);
/* What plain `mailsim` does. */
int ms_command_default(int argc, char **argv);
