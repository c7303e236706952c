/* sim/cmd_accounts.c - `mailsim accounts`: the teacher's door to the account
 * database, as a MySQL shell or `doveadm` is in the ISP walkthrough.
 *
 *   mailsim accounts --state ./mailsim-data add bob@example.org secret
 *   mailsim accounts alias info@example.org bob@example.org
 *   mailsim accounts list
 */
#include "agents/mda/accounts.h"
#include "agents/mda/mda.h"
#include "agents/mda/sieve.h"

#include <stdio.h>
#include <string.h>

#define ACCOUNTS_DEFAULT_STATE "./mailsim-data"

typedef struct {
	AccountsDb *db;
	const char *state_dir;
} Ctx;

/* A password given as "-" is read from the first line of standard input,
 * so it need not appear in `ps` or the shell's history. */
static char *password_arg(const char *arg, GError **error)
{
	if (strcmp(arg, "-") != 0)
		return g_strdup(arg);
	char line[ACCOUNTS_MAX_PASSWORD_LEN + 2];
	if (!fgets(line, sizeof line, stdin)) {
		g_set_error(error, ACCOUNTS_ERROR, ACCOUNTS_ERROR_INVALID, "no password on standard input");
		return NULL;
	}
	line[strcspn(line, "\r\n")] = '\0';
	return g_strdup(line);
}

/* SQLite's "UNIQUE constraint failed" in the teacher's words.  FALSE. */
static gboolean exists_said(GError **error, const char *what, const char *a, const char *b)
{
	if (error && g_error_matches(*error, ACCOUNTS_ERROR, ACCOUNTS_ERROR_EXISTS)) {
		g_clear_error(error);
		g_set_error(error, ACCOUNTS_ERROR, ACCOUNTS_ERROR_EXISTS, "%s %s%s%s exists already", what, a,
		            b ? " -> " : "", b ? b : "");
	}
	return FALSE;
}

static gboolean cmd_add(Ctx *c, char **args, GError **error)
{
	g_autofree char *password = password_arg(args[1], error);
	if (!password ||
	    !accounts_add_user(c->db, args[0], password, 0, g_get_real_time() / G_USEC_PER_SEC, error))
		return exists_said(error, "user", args[0], NULL);
	const char *at = strrchr(args[0], '@');
	printf("added user %s (domain %s)\n", args[0], at ? at + 1 : "?");
	return TRUE;
}

static gboolean cmd_del(Ctx *c, char **args, GError **error)
{
	if (!accounts_del_user(c->db, args[0], error))
		return FALSE;
	printf("deleted user %s (the Maildir under %s/%s stays)\n", args[0], c->state_dir, MDA_MAIL_DIR);
	return TRUE;
}

static gboolean cmd_passwd(Ctx *c, char **args, GError **error)
{
	g_autofree char *password = password_arg(args[1], error);
	if (!password || !accounts_set_password(c->db, args[0], password, error))
		return FALSE;
	printf("changed the password of %s\n", args[0]);
	return TRUE;
}

static gboolean cmd_list(Ctx *c, char **args, GError **error)
{
	g_autoptr(GPtrArray) domains = NULL;
	g_autoptr(GPtrArray) users = NULL;
	g_autoptr(GPtrArray) aliases = NULL;
	if (!accounts_list_domains(c->db, &domains, error) || !accounts_list_users(c->db, NULL, &users, error) ||
	    !accounts_list_aliases(c->db, NULL, &aliases, error))
		return FALSE;
	printf("domains (%u):\n", domains->len);
	for (guint i = 0; i < domains->len; i++)
		printf("  %s\n", (char *)domains->pdata[i]);
	printf("users (%u):\n", users->len);
	for (guint i = 0; i < users->len; i++) {
		const AccountsUser *u = users->pdata[i];
		if (u->quota_bytes)
			printf("  %s  (quota %" G_GUINT64_FORMAT " bytes)\n", u->email, u->quota_bytes);
		else
			printf("  %s\n", u->email);
	}
	printf("aliases (%u):\n", aliases->len);
	for (guint i = 0; i < aliases->len; i++) {
		const AccountsAlias *a = aliases->pdata[i];
		printf("  %s -> %s%s\n", a->source, a->destination, a->source[0] == '@' ? "  (catch-all)" : "");
	}
	return TRUE;
}

static gboolean cmd_alias(Ctx *c, char **args, GError **error)
{
	if (!accounts_add_alias(c->db, args[0], args[1], error))
		return exists_said(error, "alias", args[0], args[1]);
	printf("added alias %s -> %s\n", args[0], args[1]);
	return TRUE;
}

static gboolean cmd_unalias(Ctx *c, char **args, GError **error)
{
	if (!accounts_del_alias(c->db, args[0], args[1], error))
		return FALSE;
	printf("deleted alias %s -> %s\n", args[0], args[1]);
	return TRUE;
}

/* The script from a file, or "-" for standard input; an empty one removes. */
static gboolean cmd_sieve(Ctx *c, char **args, GError **error)
{
	g_autofree char *text = NULL;
	if (strcmp(args[1], "-") == 0) {
		GString *s = g_string_new(NULL);
		char buf[4096];
		size_t n;
		while ((n = fread(buf, 1, sizeof buf, stdin)) > 0 && s->len <= SIEVE_MAX_SCRIPT_SIZE)
			g_string_append_len(s, buf, (gssize)n);
		text = g_string_free(s, FALSE);
	} else if (!g_file_get_contents(args[1], &text, NULL, error)) {
		return FALSE;
	}
	gboolean exists = FALSE;
	if (!accounts_user_exists(c->db, args[0], &exists, error))
		return FALSE;
	if (!exists) {
		g_set_error(error, ACCOUNTS_ERROR, ACCOUNTS_ERROR_NOT_FOUND, "no user %s", args[0]);
		return FALSE;
	}
	if (!mda_sieve_install(c->state_dir, args[0], text, TRUE, error))
		return FALSE;
	g_autofree char *path = mda_sieve_path(c->state_dir, args[0], NULL);
	if (*text)
		printf("installed the Sieve script of %s as %s\n", args[0], path);
	else
		printf("removed the Sieve script of %s\n", args[0]);
	return TRUE;
}

static const struct {
	const char *name;
	const char *args;
	guint       n_args;
	gboolean  (*run)(Ctx *c, char **args, GError **error);
	const char *help;
} commands[] = {
	{ "add", "ADDRESS PASSWORD", 2, cmd_add, "add a user (and its domain); PASSWORD - reads it from stdin" },
	{ "del", "ADDRESS", 1, cmd_del, "delete a user (the mail stays on disk)" },
	{ "passwd", "ADDRESS PASSWORD", 2, cmd_passwd, "set a new password" },
	{ "list", "", 0, cmd_list, "show domains, users and aliases" },
	{ "alias", "SOURCE DEST", 2, cmd_alias, "add an alias; SOURCE @domain is a catch-all" },
	{ "unalias", "SOURCE DEST", 2, cmd_unalias, "delete an alias" },
	{ "sieve", "ADDRESS FILE", 2, cmd_sieve, "install a user's Sieve script (FILE - is stdin; empty removes)" },
};

static char *usage_text(void)
{
	GString *s = g_string_new("Commands (options come before the command):\n");
	for (guint i = 0; i < G_N_ELEMENTS(commands); i++) {
		g_autofree char *left = g_strdup_printf("%s %s", commands[i].name, commands[i].args);
		g_string_append_printf(s, "  %-26s %s\n", left, commands[i].help);
	}
	g_string_append(s, "\nExample:\n  mailsim accounts --state ./mailsim-data add bob@example.org secret");
	return g_string_free(s, FALSE);
}

int ms_cmd_accounts(int argc, char **argv)
{
	char *state = NULL;
	GOptionEntry entries[] = {
		{ "state", 's', 0, G_OPTION_ARG_FILENAME, &state,
		  "State directory holding accounts.sqlite (" ACCOUNTS_DEFAULT_STATE ")", "DIR" },
		G_OPTION_ENTRY_NULL,
	};
	g_autoptr(GOptionContext) ctx = g_option_context_new("COMMAND [ARGS…] - manage the account database");
	g_autofree char *desc = usage_text();
	g_option_context_set_description(ctx, desc);
	g_option_context_add_main_entries(ctx, entries, NULL);
	/* everything after the command is its own: a password may start with '-' */
	g_option_context_set_strict_posix(ctx, TRUE);
	g_autoptr(GError) error = NULL;
	if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
		fprintf(stderr, "mailsim accounts: %s\n", error->message);
		g_free(state);
		return 2;
	}
	g_autofree char *state_dir = state ? state : g_strdup(ACCOUNTS_DEFAULT_STATE);
	if (argc < 2) {
		fprintf(stderr, "mailsim accounts: which command?\n%s\n", desc);
		return 2;
	}
	guint found = G_N_ELEMENTS(commands);
	for (guint i = 0; i < G_N_ELEMENTS(commands); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			found = i;
	if (found == G_N_ELEMENTS(commands)) {
		fprintf(stderr, "mailsim accounts: no command \"%s\"\n%s\n", argv[1], desc);
		return 2;
	}
	if ((guint)(argc - 2) != commands[found].n_args) {
		fprintf(stderr, "mailsim accounts: usage: mailsim accounts [--state DIR] %s %s\n",
		        commands[found].name, commands[found].args);
		return 2;
	}

	AccountsDb *db = accounts_open(state_dir, NULL, NULL, &error);
	if (!db) {
		fprintf(stderr, "mailsim accounts: %s\n", error->message);
		return 1;
	}
	accounts_set_random(db, accounts_random_glib, NULL);
	Ctx c = { db, state_dir };
	gboolean ok = commands[found].run(&c, argv + 2, &error);
	accounts_close(db);
	if (!ok) {
		fprintf(stderr, "mailsim accounts: %s\n", error->message);
		/* a malformed address or password is a usage mistake */
		return g_error_matches(error, ACCOUNTS_ERROR, ACCOUNTS_ERROR_INVALID) ? 2 : 1;
	}
	return 0;
}
