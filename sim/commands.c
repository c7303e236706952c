/* sim/commands.c - which subcommands exist.  A command appears here only
 * once it works. */
#include "sim/commands.h"

#include <stdio.h>
#include <string.h>

int ms_cmd_netdemo(int argc, char **argv);
int ms_cmd_dns(int argc, char **argv);
int ms_cmd_run(int argc, char **argv);
int ms_cmd_replay(int argc, char **argv);
int ms_cmd_serve(int argc, char **argv);
int ms_cmd_send(int argc, char **argv);
int ms_cmd_fetch(int argc, char **argv);
int ms_cmd_watch(int argc, char **argv);
int ms_cmd_check(int argc, char **argv);
int ms_cmd_lessons(int argc, char **argv);
int ms_cmd_lesson(int argc, char **argv);
int ms_cmd_accounts(int argc, char **argv);
int ms_cmd_mda(int argc, char **argv);
int ms_cmd_mra(int argc, char **argv);
int ms_cmd_web(int argc, char **argv);
int ms_cmd_lab(int argc, char **argv);

const MsCommand ms_commands[] = {
	{ "accounts", "add, delete and list users and aliases in the account database", ms_cmd_accounts },
	{ "run", "run a scenario and check its expectations (mailsim run scenarios/X.scn)", ms_cmd_run },
	{ "check", "check a scenario file without running it", ms_cmd_check },
	{ "replay", "show a recorded run (mailsim run --events FILE) step by step", ms_cmd_replay },
	{ "lessons", "list the lessons of the course (mailsim lessons --lang fr)", ms_cmd_lessons },
	{ "lesson", "act out lesson N: its scenario, narrated step by step, then a quiz", ms_cmd_lesson },
	{ "serve", "the course's mail system on real sockets, for real clients", ms_cmd_serve },
	{ "lab", "each host of a scenario in its own network namespace, on a private bridge (root)", ms_cmd_lab },
	{ "send", "send a message to a real server with the mail client agent", ms_cmd_send },
	{ "fetch", "fetch new mail from a real IMAP or POP3 server with the mail client agent", ms_cmd_fetch },
	{ "watch", "show real mail traffic (a pcap file or a live interface) as the course's events", ms_cmd_watch },
	{ "dns", "serve DNS zones and blacklists on real sockets (dig can ask)", ms_cmd_dns },
	{ "mda", "the MDA (LMTP, account service) on real sockets", ms_cmd_mda },
	{ "mra", "the MRA (IMAP, POP3) on real sockets: Thunderbird, curl and imaplib can read mail", ms_cmd_mra },
	{ "web", "the autoconfig/autodiscover web server on real sockets (curl can ask)", ms_cmd_web },
	{ "netdemo", "a two-host exchange on the simulated network, as text", ms_cmd_netdemo },
	{ NULL, NULL, NULL },
};

const MsCommand *ms_command_find(const char *name)
{
	for (const MsCommand *c = ms_commands; c->name; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

int ms_command_default(int argc, char **argv)
{
	/* The whole course: Alice's and Bob's clients set themselves up, Alice
	 * writes, the servers relay and deliver, Bob reads. */
	char *args[] = { "run", "builtin:course.scn", NULL };
	return ms_cmd_run(2, args);
}
