/* ui/steps.c - the course's steps: order, family, a title and a sentence.
 *
 * The sentences retell COURSE.md (and docs/COURSE-STEPS.md for retr.*) in a
 * few words for the lesson pane, until a lesson under lessons/ narrates the
 * step itself.
 */
#include "ui/steps.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
	const char *id;
	const char *title;
	const char *sentence;
} StepText;

static const StepText step_texts[] = {
	{ "setup.1", "account typed in",
	  "The user gives the mail program a name, an address and a password." },
	{ "setup.2", "autodiscover in DNS",
	  "Outlook-style: the program asks DNS where the domain's autodiscover web server is." },
	{ "setup.3", "settings file",
	  "The program downloads the XML file that lists the domain's mail servers." },
	{ "setup.4", "autoconfig",
	  "Thunderbird-style: the program asks the web server autoconfig.DOMAIN for the settings, no DNS record needed." },
	{ "setup.5", "guessing",
	  "No settings file: the program tries the usual names, imap., smtp., mail. of the domain." },
	{ "setup.6", "typed by hand",
	  "Nothing worked: the user has to type the server names and ports." },
	{ "setup.7", "two servers",
	  "The program keeps two servers: one to fetch mail from (IMAP or POP3), one to send through (SMTP)." },
	{ "out.1", "submission + AUTH",
	  "The mail program connects to its outgoing server with SMTP and logs in with name and password." },
	{ "out.2", "password check",
	  "The MTA asks the auth service whether the password is right, so strangers cannot send through it." },
	{ "out.3", "account lookup",
	  "The auth service looks the account up in the database and answers yes or no." },
	{ "out.4", "MX lookup",
	  "The recipient's domain is not local: the MTA asks DNS for its MX records, then for that host's address." },
	{ "out.5", "relay on port 25",
	  "The MTA connects to the recipient's server on port 25 and hands the message over with SMTP." },
	{ "in.1", "connection on :25",
	  "A remote server opens a TCP connection to port 25; the firewall lets it in and the MTA accepts it." },
	{ "in.2", "SMTP dialogue",
	  "In the SMTP dialogue the MTA learns sender and recipient, and can still refuse the mail." },
	{ "in.3", "blacklist check",
	  "The MTA asks a real-time blacklist, through DNS, whether the sending address is known for spam." },
	{ "in.4", "recipient known?",
	  "The MTA asks the MDA whether the recipient is one of its users." },
	{ "in.5", "user lookup",
	  "The MDA looks the recipient's address up in the database." },
	{ "in.6", "hand-over (LMTP)",
	  "The recipient exists: the MTA accepts the message and passes it to the MDA." },
	{ "in.7", "into the Maildir",
	  "The MDA filters the message and writes it into the user's mailbox directory." },
	{ "in.8", "fetch (IMAP/POP3)",
	  "Later, the recipient's mail program fetches the new message from the MRA over IMAP or POP3." },
	{ "retr.1", "read, flag",
	  "Reading or flagging a message: IMAP records it on the server, POP3 only inside the client." },
	{ "retr.2", "move, delete",
	  "Moving or deleting: IMAP changes the server's folders, POP3 can only delete from the inbox." },
	{ "retr.3", "keep sent mail",
	  "IMAP keeps a copy of sent mail in a server folder; with POP3 it stays in the client." },
	{ "retr.4", "create a folder",
	  "IMAP creates folders on the server for every client; POP3 knows only the inbox." },
	{ "retr.5", "drafts",
	  "IMAP saves drafts on the server; POP3 cannot." },
	{ "retr.6", "junk folder",
	  "IMAP has a junk folder on the server; POP3 has none." },
};

typedef struct {
	const char *prefix;   /* with the dot */
	UiFamily    family;
	const char *name;
	const char *describe;
} FamilyInfo;

/* In course order. */
static const FamilyInfo families[] = {
	{ "setup.", UI_FAMILY_SETUP, "setup", "setting up the client" },
	{ "out.",   UI_FAMILY_OUT,   "out",   "the blue path: sending" },
	{ "in.",    UI_FAMILY_IN,    "in",    "the green path: receiving" },
	{ "retr.",  UI_FAMILY_RETR,  "retr",  "IMAP versus POP3" },
	{ "def.",   UI_FAMILY_DEF,   "def",   "defences" },
};

const char *ui_family_to_string(UiFamily f)
{
	for (guint i = 0; i < G_N_ELEMENTS(families); i++)
		if (families[i].family == f)
			return families[i].name;
	return "";
}

const char *ui_family_describe(UiFamily f)
{
	for (guint i = 0; i < G_N_ELEMENTS(families); i++)
		if (families[i].family == f)
			return families[i].describe;
	return "";
}

/* The family's rank in families[], or -1; *number_r gets N (0 if malformed). */
static gint family_rank(const char *id, guint *number_r)
{
	*number_r = 0;
	if (!id)
		return -1;
	for (guint i = 0; i < G_N_ELEMENTS(families); i++) {
		gsize n = strlen(families[i].prefix);
		if (strncmp(id, families[i].prefix, n) != 0)
			continue;
		const char *digits = id + n;
		/* "in.3": digits only, no leading zero, a few of them */
		if (!g_ascii_isdigit(digits[0]) || digits[0] == '0' || strlen(digits) > 3)
			return -1;
		for (const char *p = digits; *p; p++)
			if (!g_ascii_isdigit(*p))
				return -1;
		*number_r = (guint)atoi(digits);
		return (gint)i;
	}
	return -1;
}

UiFamily ui_steps_family(const char *id)
{
	guint n;
	gint rank = family_rank(id, &n);
	return rank < 0 ? UI_FAMILY_NONE : families[rank].family;
}

guint ui_steps_number(const char *id)
{
	guint n;
	return family_rank(id, &n) < 0 ? 0 : n;
}

gint ui_steps_compare(const char *a, const char *b)
{
	if (!a || !b)
		return (a == NULL) - (b == NULL);
	guint na, nb;
	gint ra = family_rank(a, &na), rb = family_rank(b, &nb);
	if (ra < 0 || rb < 0) {
		if (ra != rb)
			return ra < 0 ? 1 : -1;
		return strcmp(a, b);
	}
	if (ra != rb)
		return ra - rb;
	return na < nb ? -1 : na > nb;
}

gint ui_steps_compare_indirect(gconstpointer a, gconstpointer b)
{
	return ui_steps_compare(*(const char *const *)a, *(const char *const *)b);
}

static const StepText *find(const char *id)
{
	if (!id)
		return NULL;
	for (guint i = 0; i < G_N_ELEMENTS(step_texts); i++)
		if (strcmp(step_texts[i].id, id) == 0)
			return &step_texts[i];
	return NULL;
}

const char *ui_steps_title(const char *id)
{
	const StepText *s = find(id);
	return s ? s->title : NULL;
}

const char *ui_steps_describe(const char *id)
{
	const StepText *s = find(id);
	return s ? s->sentence : NULL;
}
