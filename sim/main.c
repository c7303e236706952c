/* sim/main.c - the mailsim command line: global options, then a subcommand
 * from the table in sim/commands.c. */
#include "sim/commands.h"

#include <glib.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>

static char *summary_text(void)
{
	GString *s = g_string_new("Commands:\n");
	for (const MsCommand *c = ms_commands; c->name; c++)
		g_string_append_printf(s, "  %-10s %s\n", c->name, c->summary);
	g_string_append(s, "\n'mailsim COMMAND --help' tells more about a command.");
	return g_string_free(s, FALSE);
}

int main(int argc, char **argv)
{
	setlocale(LC_ALL, "");

	/* The subcommand, if any, is the first argument that is not an option. */
	if (argc > 1 && argv[1][0] != '-') {
		const MsCommand *cmd = ms_command_find(argv[1]);
		if (!cmd) {
			fprintf(stderr, "mailsim: no command \"%s\" (try mailsim --help)\n", argv[1]);
			return 2;
		}
		return cmd->run(argc - 1, argv + 1);
	}

	gboolean version = FALSE;
	GOptionEntry entries[] = {
		{ "version", 'V', 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", NULL },
		{ NULL },
	};
	g_autoptr(GOptionContext) ctx = g_option_context_new("[COMMAND [ARGS…]]");
	g_option_context_set_summary(ctx,
		"mailsim shows, step by step and on real protocol traffic, how e-mail travels:\n"
		"real MUA, MTA, MDA and MRA agents over a simulated network, with DNS.");
	g_autofree char *desc = summary_text();
	g_option_context_set_description(ctx, desc);
	g_option_context_add_main_entries(ctx, entries, NULL);
	g_autoptr(GError) error = NULL;
	if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
		fprintf(stderr, "mailsim: %s\n", error->message);
		return 2;
	}
	if (version) {
		printf("mailsim %s\n", MS_VERSION);
		return 0;
	}
	return ms_command_default(argc, argv);
}
