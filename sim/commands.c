/* sim/commands.c - which subcommands exist.  A command appears here only
 * once it works. */
#include "sim/commands.h"

#include <stdio.h>
#include <string.h>

int ms_cmd_netdemo(int argc, char **argv);
int ms_cmd_dns(int argc, char **argv);

const MsCommand ms_commands[] = {
	{ "dns", "serve DNS zones and blacklists on real sockets (dig can ask)", ms_cmd_dns },
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
	/* Until the course scenario runs, the demo is the network itself. */
	return ms_cmd_netdemo(argc, argv);
}
