/* sim/scenario_script.c - the script: "at TIME ACTION" and "expect ..." lines.
 *
 * Every action and expectation is one line of a table, written as the
 * teacher writes it: lowercase words are literal, UPPERCASE words are slots
 * read into a struct field, SLOT+ is a comma-separated list, [ ... ] is an
 * optional clause (clauses side by side come in any order), [ ... ]* may
 * repeat.  Adding an action is adding a line here.
 */
#include <stddef.h>
#include <string.h>

#include "sim/scenario_internal.h"

#define PATTERN_MAX_ELEMENTS 32
#define PATTERN_MAX_SLOTS    32

/* ---- the tables -------------------------------------------------------------------- */

typedef struct {
	int         kind;
	const char *pattern;
	const char *example;   /* shown in hints and docs/SCENARIOS.md */
} Pattern;

static const Pattern action_patterns[] = {
	{ SCENARIO_ACTION_SETUP_ACCOUNT, "CLIENT sets up account ADDRESS password PASSWORD",
	  "alice sets up account alice@example.com password \"wonderland\"" },
	{ SCENARIO_ACTION_SEND,
	  "CLIENT sends to TO+ [cc CC+] [subject SUBJECT] [body BODY] [attach ATTACHMENT CONTENT]*",
	  "alice sends to bob@example.org cc carol@example.org subject \"Hi\" body \"See you\" "
	  "attach \"notes.txt\" \"hello\"" },
	{ SCENARIO_ACTION_FETCH,         "CLIENT fetches [via PROTOCOL] [and FETCH_MODE]",
	  "bob fetches via pop3 and keeps" },
	{ SCENARIO_ACTION_MARK,          "CLIENT marks first message MARK", "bob marks first message flagged" },
	{ SCENARIO_ACTION_MOVE,          "CLIENT moves first message to FOLDER", "bob moves first message to Archive" },
	{ SCENARIO_ACTION_DELETE,        "CLIENT deletes first message", "bob deletes first message" },
	{ SCENARIO_ACTION_CREATE_FOLDER, "CLIENT creates folder FOLDER", "bob creates folder Archive" },
	{ SCENARIO_ACTION_SAVE_DRAFT,    "CLIENT saves draft [subject SUBJECT] [body BODY]",
	  "bob saves draft subject \"Later\"" },
	{ SCENARIO_ACTION_REPLY,         "CLIENT replies to first message body BODY",
	  "bob replies to first message body \"Yes!\"" },
	{ SCENARIO_ACTION_HOST_DOWN,     "host HOST goes down", "host mx.example.org goes down" },
	{ SCENARIO_ACTION_HOST_UP,       "host HOST comes up", "host mx.example.org comes up" },
	{ SCENARIO_ACTION_LINK_CUT,      "link HOST PEER cut", "link mail.example.com mx.example.org cut" },
	{ SCENARIO_ACTION_LINK_RESTORE,  "link HOST PEER restored", "link mail.example.com mx.example.org restored" },
	{ SCENARIO_ACTION_DNS_REMOVE,    "dns removes OWNER RRTYPE [from ZONE]", "dns removes mx A from example.org" },
	{ SCENARIO_ACTION_DNS_ADD,       "dns adds RECORD [to ZONE]", "dns adds \"mx2 A 198.51.100.21\" to example.org" },
	{ SCENARIO_ACTION_RAW_SESSION,   "client SOURCE connects to SERVER port PORT and sends [ESCAPED] SCRIPT",
	  "client 203.0.113.66 connects to mx.example.org port 25 and sends <<" },
};

static const Pattern expect_patterns[] = {
	{ SCENARIO_EXPECT_FOLDER_COUNT,
	  "ADDRESS FOLDER has COUNT message|messages [with subject SUBJECT] [after TIME]",
	  "bob@example.org INBOX has 1 message with subject \"Hello Bob\"" },
	{ SCENARIO_EXPECT_FOLDER_COUNT,   "ADDRESS FOLDER is empty [after TIME]", "bob@example.org Junk is empty" },
	{ SCENARIO_EXPECT_BOUNCE,         "ADDRESS receives a bounce [after TIME]",
	  "alice@example.com receives a bounce after 5h" },
	{ SCENARIO_EXPECT_NO_BOUNCE,      "ADDRESS receives no bounce [after TIME]", "alice@example.com receives no bounce" },
	{ SCENARIO_EXPECT_STEP,           "step STEP [STATE]", "step in.3 refused" },
	{ SCENARIO_EXPECT_STEPS_IN_ORDER, "steps STEPS+ in order", "steps setup.1..setup.7, out.1..out.5 in order" },
	{ SCENARIO_EXPECT_STEPS_SEEN,     "steps STEPS+", "steps in.1..in.8" },
	{ SCENARIO_EXPECT_QUEUE_EMPTY,    "queue on HOST is empty [after TIME]", "queue on mail.example.com is empty after 1h" },
	{ SCENARIO_EXPECT_ALL_DELIVERED,  "every message delivered [after TIME]", "every message delivered" },
};

/* ---- slots: how a value is read, and where it goes ------------------------------------ */

typedef struct Match Match;
typedef struct Slot Slot;

typedef struct {
	const char *words;  /* one or more words: "not seen" */
	int         value;
} Choice;

/* Reads the slot's value at token i into field; returns the tokens used,
 * 0 if the token is not such a value (m->slot_hint may say why). */
typedef guint (*SlotRead)(Match *m, const Slot *slot, guint i, gpointer field);

struct Slot {
	const char   *name;     /* as written in the patterns */
	const char   *what;     /* for "expected ...": "a mail address like bob@example.org" */
	SlotRead      read;
	gsize         offset;   /* of the field in the target struct */
	const Choice *choices;  /* read_choice: the words and their values, ending with NULL words */
};

struct Match {
	ScnParser          *p;
	const ScnStatement *st;
	const Slot         *slots;
	guint               n_slots;
	gpointer            target;
	guint               slot_at[PATTERN_MAX_SLOTS];  /* token each slot was read at, or G_MAXUINT */
	char               *slot_hint;
	/* The furthest token any pattern reached before failing, and what
	 * would have been right there. */
	guint               fail_at;
	GPtrArray          *expected;   /* char *, each once */
	GPtrArray          *guesses;    /* char *: words that would have been right */
	char               *hint;
	const Pattern      *furthest;   /* the first pattern that failed there */
};

static const ScnToken *token(const Match *m, guint i)
{
	return i < m->st->n_tokens ? &m->st->tokens[i] : NULL;
}

static gboolean is_kind(const ScnToken *tok, ScnTokenKind kind)
{
	return tok != NULL && tok->kind == kind;
}

static void set_string(gpointer field, char *value)
{
	char **slot = field;
	g_free(*slot);
	*slot = value;
}

static void append_string(gpointer field, char *value)
{
	GPtrArray **array = field;
	if (*array == NULL)
		*array = g_ptr_array_new_with_free_func(g_free);
	g_ptr_array_add(*array, value);
}

static guint read_text(Match *m, const Slot *slot, guint i, gpointer field)
{
	const ScnToken *tok = token(m, i);
	if (!is_kind(tok, SCN_TOKEN_WORD) && !is_kind(tok, SCN_TOKEN_STRING))
		return 0;
	set_string(field, g_strdup(tok->text));
	return 1;
}

static guint read_quoted(Match *m, const Slot *slot, guint i, gpointer field)
{
	const ScnToken *tok = token(m, i);
	if (is_kind(tok, SCN_TOKEN_WORD))
		m->slot_hint = g_strdup_printf("put it in double quotes: \"%s ...\"", tok->text);
	if (!is_kind(tok, SCN_TOKEN_STRING))
		return 0;
	set_string(field, g_strdup(tok->text));
	return 1;
}

static guint read_client(Match *m, const Slot *slot, guint i, gpointer field)
{
	const ScnToken *tok = token(m, i);
	if (!is_kind(tok, SCN_TOKEN_WORD) || !scenario_value_client_name(tok->text))
		return 0;
	set_string(field, g_ascii_strdown(tok->text, -1));
	return 1;
}

static char *mailbox_at(Match *m, guint i)
{
	const ScnToken *tok = token(m, i);
	return is_kind(tok, SCN_TOKEN_WORD) ? scenario_value_mailbox(tok->text, &m->slot_hint) : NULL;
}

static guint read_mailbox(Match *m, const Slot *slot, guint i, gpointer field)
{
	char *mailbox = mailbox_at(m, i);
	if (mailbox == NULL)
		return 0;
	set_string(field, mailbox);
	return 1;
}

static guint read_mailbox_item(Match *m, const Slot *slot, guint i, gpointer field)
{
	char *mailbox = mailbox_at(m, i);
	if (mailbox == NULL)
		return 0;
	append_string(field, mailbox);
	return 1;
}

static guint read_host(Match *m, const Slot *slot, guint i, gpointer field)
{
	const ScnToken *tok = token(m, i);
	if (!is_kind(tok, SCN_TOKEN_WORD) || !scenario_value_host_name(tok->text))
		return 0;
	set_string(field, g_ascii_strdown(tok->text, -1));
	return 1;
}

static guint read_host_or_ip(Match *m, const Slot *slot, guint i, gpointer field)
{
	const ScnToken *tok = token(m, i);
	if (!is_kind(tok, SCN_TOKEN_WORD) ||
	    (!scenario_value_host_name(tok->text) && !scenario_value_ipv4(tok->text, &m->slot_hint)))
		return 0;
	set_string(field, g_ascii_strdown(tok->text, -1));
	return 1;
}

static guint read_owner(Match *m, const Slot *slot, guint i, gpointer field)
{
	const ScnToken *tok = token(m, i);
	if (!is_kind(tok, SCN_TOKEN_WORD) || !scenario_value_dns_name(tok->text))
		return 0;
	set_string(field, g_ascii_strdown(tok->text, -1));
	return 1;
}

static guint read_zone(Match *m, const Slot *slot, guint i, gpointer field)
{
	const ScnToken *tok = token(m, i);
	if (!is_kind(tok, SCN_TOKEN_WORD) || !scenario_value_dns_name(tok->text) || strchr("@.*", tok->text[0]))
		return 0;
	char *zone = g_ascii_strdown(tok->text, -1);
	gsize len = strlen(zone);
	if (zone[len - 1] == '.')
		zone[len - 1] = '\0';
	set_string(field, zone);
	return 1;
}

/* The record types net/dns_zone.c serves. */
static const char *const rrtypes[] = { "A", "AAAA", "MX", "TXT", "PTR", "SRV", "CNAME", "NS", "SOA", NULL };

static guint read_rrtype(Match *m, const Slot *slot, guint i, gpointer field)
{
	const ScnToken *tok = token(m, i);
	if (!is_kind(tok, SCN_TOKEN_WORD))
		return 0;
	for (guint k = 0; rrtypes[k] != NULL; k++)
		if (g_ascii_strcasecmp(tok->text, rrtypes[k]) == 0) {
			set_string(field, g_strdup(rrtypes[k]));
			return 1;
		}
	const char *best = scenario_value_closest(tok->text, rrtypes);
	if (best != NULL)
		m->slot_hint = g_strdup_printf("did you mean %s?", best);
	return 0;
}

static guint read_port(Match *m, const Slot *slot, guint i, gpointer field)
{
	const ScnToken *tok = token(m, i);
	guint64 port;
	if (!is_kind(tok, SCN_TOKEN_WORD) || !scenario_value_uint(tok->text, 65535, &port) || port == 0)
		return 0;
	*(guint *)field = (guint)port;
	return 1;
}

static guint read_count(Match *m, const Slot *slot, guint i, gpointer field)
{
	const ScnToken *tok = token(m, i);
	guint64 count;
	if (!is_kind(tok, SCN_TOKEN_WORD) || !scenario_value_uint(tok->text, SCENARIO_MAX_COUNT, &count))
		return 0;
	*(guint *)field = (guint)count;
	return 1;
}

static guint read_time(Match *m, const Slot *slot, guint i, gpointer field)
{
	const ScnToken *tok = token(m, i);
	if (!is_kind(tok, SCN_TOKEN_WORD))
		return 0;
	if (scenario_parse_duration(tok->text, field))
		return 1;
	m->slot_hint = scenario_value_duration_hint(tok->text, "s");
	return 0;
}

/* Enums and flags: "imap" -> SCENARIO_PROTOCOL_IMAP.  A choice may be
 * several words ("not seen"). */
static guint read_choice(Match *m, const Slot *slot, guint i, gpointer field)
{
	for (const Choice *choice = slot->choices; choice->words != NULL; choice++) {
		g_auto(GStrv) words = g_strsplit(choice->words, " ", -1);
		guint n = 0;
		while (words[n] != NULL && is_kind(token(m, i + n), SCN_TOKEN_WORD) &&
		       g_ascii_strcasecmp(token(m, i + n)->text, words[n]) == 0)
			n++;
		if (words[n] == NULL) {
			*(int *)field = choice->value;
			return n;
		}
	}
	return 0;
}

static guint read_body(Match *m, const Slot *slot, guint i, gpointer field)
{
	const ScnToken *tok = token(m, i);
	ScenarioAction *action = m->target;
	if (is_kind(tok, SCN_TOKEN_STRING)) {
		set_string(&action->body, g_strdup(tok->text));
		action->body_line = tok->line;
		return 1;
	}
	if (is_kind(tok, SCN_TOKEN_HEREDOC)) {
		set_string(&action->body, scenario_lex_dedent(tok->text));
		action->body_line = tok->text_line;
		return 1;
	}
	return 0;
}

static void attachment_free(gpointer data)
{
	ScenarioAttachment *attachment = data;
	g_free(attachment->name);
	g_free(attachment->content);
	g_free(attachment);
}

static guint read_attachment(Match *m, const Slot *slot, guint i, gpointer field)
{
	const ScnToken *tok = token(m, i);
	GPtrArray **attachments = field;
	if (!is_kind(tok, SCN_TOKEN_WORD) && !is_kind(tok, SCN_TOKEN_STRING))
		return 0;
	if (*attachments != NULL && (*attachments)->len == SCENARIO_MAX_ATTACHMENTS) {
		m->slot_hint = g_strdup_printf("a message carries at most %d attachments here", SCENARIO_MAX_ATTACHMENTS);
		return 0;
	}
	if (*attachments == NULL)
		*attachments = g_ptr_array_new_with_free_func(attachment_free);
	ScenarioAttachment *attachment = g_new0(ScenarioAttachment, 1);
	attachment->name = g_strdup(tok->text);
	g_ptr_array_add(*attachments, attachment);
	return 1;
}

static guint read_attachment_content(Match *m, const Slot *slot, guint i, gpointer field)
{
	const ScnToken *tok = token(m, i);
	GPtrArray *attachments = *(GPtrArray **)field;
	ScenarioAttachment *attachment = attachments->pdata[attachments->len - 1];
	if (is_kind(tok, SCN_TOKEN_STRING))
		set_string(&attachment->content, g_strdup(tok->text));
	else if (is_kind(tok, SCN_TOKEN_HEREDOC))
		set_string(&attachment->content, scenario_lex_dedent(tok->text));
	else
		return 0;
	return 1;
}

static guint read_script(Match *m, const Slot *slot, guint i, gpointer field)
{
	const ScnToken *tok = token(m, i);
	ScenarioAction *action = m->target;
	if (!is_kind(tok, SCN_TOKEN_HEREDOC))
		return 0;
	set_string(&action->script, g_strdup(tok->text));
	action->data_line = tok->text_line;
	return 1;
}

static guint read_step(Match *m, const Slot *slot, guint i, gpointer field)
{
	const ScnToken *tok = token(m, i);
	if (!is_kind(tok, SCN_TOKEN_WORD))
		return 0;
	char *step = g_ascii_strdown(tok->text, -1);
	if (!scenario_step_id_valid(step)) {
		g_free(step);
		return 0;
	}
	set_string(field, step);
	return 1;
}

/* "setup.1..setup.7" or one id, appended with the range spelled out. */
static guint read_step_range(Match *m, const Slot *slot, guint i, gpointer field)
{
	const ScnToken *tok = token(m, i);
	GPtrArray **steps = field;
	if (!is_kind(tok, SCN_TOKEN_WORD))
		return 0;
	g_autofree char *text = g_ascii_strdown(tok->text, -1);
	const char *dots = strstr(text, "..");
	g_autofree char *from = dots ? g_strndup(text, (gsize)(dots - text)) : g_strdup(text);
	const char *to = dots ? dots + 2 : text;
	if (!scenario_step_id_valid(from) || !scenario_step_id_valid(to))
		return 0;
	const char *from_dot = strchr(from, '.'), *to_dot = strchr(to, '.');
	guint64 first = 0, last = 0;
	scenario_value_uint(from_dot + 1, SCENARIO_MAX_STEP_NUMBER, &first);
	scenario_value_uint(to_dot + 1, SCENARIO_MAX_STEP_NUMBER, &last);
	if (from_dot - from != to_dot - to || strncmp(from, to, (gsize)(from_dot - from)) != 0 ||
	    first > last) {
		m->slot_hint = g_strdup("a range goes up within one family of steps: setup.1..setup.7");
		return 0;
	}
	guint have = *steps ? (*steps)->len : 0;
	if (have + (last - first + 1) > SCENARIO_MAX_STEPS_IN_LIST) {
		m->slot_hint = g_strdup_printf("one expectation names at most %d steps", SCENARIO_MAX_STEPS_IN_LIST);
		return 0;
	}
	g_autofree char *family = g_strndup(from, (gsize)(from_dot - from));
	for (guint64 n = first; n <= last; n++)
		append_string(field, g_strdup_printf("%s.%" G_GUINT64_FORMAT, family, n));
	return 1;
}

static const Choice protocol_choices[] = {
	{ "imap", SCENARIO_PROTOCOL_IMAP }, { "pop3", SCENARIO_PROTOCOL_POP3 }, { NULL, 0 },
};
static const Choice fetch_mode_choices[] = {
	{ "deletes", SCENARIO_FETCH_DELETE }, { "keeps", SCENARIO_FETCH_KEEP }, { NULL, 0 },
};
static const Choice mark_choices[] = {
	{ "seen", SCENARIO_MARK_SEEN }, { "flagged", SCENARIO_MARK_FLAGGED }, { NULL, 0 },
};
static const Choice escaped_choices[] = { { "escaped", TRUE }, { NULL, 0 } };
static const Choice state_choices[] = {
	{ "seen", SCENARIO_STEP_SEEN }, { "refused", SCENARIO_STEP_REFUSED }, { "not seen", SCENARIO_STEP_NOT_SEEN },
	{ NULL, 0 },
};

/* Enums are written through an int. */
G_STATIC_ASSERT(sizeof(ScenarioProtocol) == sizeof(int));
G_STATIC_ASSERT(sizeof(ScenarioFetchMode) == sizeof(int));
G_STATIC_ASSERT(sizeof(ScenarioMark) == sizeof(int));
G_STATIC_ASSERT(sizeof(ScenarioStepState) == sizeof(int));
G_STATIC_ASSERT(sizeof(gboolean) == sizeof(int));

#define ACTION_FIELD(f) offsetof(ScenarioAction, f)
#define EXPECT_FIELD(f) offsetof(ScenarioExpect, f)

static const Slot action_slots[] = {
	{ "CLIENT",     "a client name",                       read_client,       ACTION_FIELD(client), NULL },
	{ "ADDRESS",    "a mail address like alice@example.com", read_mailbox,    ACTION_FIELD(address), NULL },
	{ "PASSWORD",   "the password, in double quotes",      read_text,         ACTION_FIELD(password), NULL },
	{ "TO",         "a recipient like bob@example.org",    read_mailbox_item, ACTION_FIELD(to), NULL },
	{ "CC",         "a recipient like carol@example.org",  read_mailbox_item, ACTION_FIELD(cc), NULL },
	{ "SUBJECT",    "the subject, in double quotes",       read_text,         ACTION_FIELD(subject), NULL },
	{ "BODY",       "the body, in double quotes or a << block", read_body,    ACTION_FIELD(body), NULL },
	{ "ATTACHMENT", "the attachment's file name, in double quotes", read_attachment,
	  ACTION_FIELD(attachments), NULL },
	{ "CONTENT",    "the attachment's content, in double quotes or a << block", read_attachment_content,
	  ACTION_FIELD(attachments), NULL },
	{ "PROTOCOL",   "\"imap\" or \"pop3\"",                read_choice,       ACTION_FIELD(protocol), protocol_choices },
	{ "FETCH_MODE", "\"deletes\" or \"keeps\"",            read_choice,       ACTION_FIELD(fetch_mode), fetch_mode_choices },
	{ "MARK",       "\"seen\" or \"flagged\"",             read_choice,       ACTION_FIELD(mark), mark_choices },
	{ "FOLDER",     "a folder name like Archive",          read_text,         ACTION_FIELD(folder), NULL },
	{ "HOST",       "a host name like mx.example.org",     read_host,         ACTION_FIELD(host), NULL },
	{ "PEER",       "the host at the other end of the link", read_host,       ACTION_FIELD(peer), NULL },
	{ "OWNER",      "a record's owner name, like mx or mx.example.org.", read_owner, ACTION_FIELD(name), NULL },
	{ "RRTYPE",     "a record type like A, MX or TXT",     read_rrtype,       ACTION_FIELD(rrtype), NULL },
	{ "ZONE",       "a zone name like example.org",        read_zone,         ACTION_FIELD(zone), NULL },
	{ "RECORD",     "a record in double quotes, like \"mx2 A 198.51.100.21\"", read_quoted,
	  ACTION_FIELD(record), NULL },
	{ "SOURCE",     "the connecting host, by name or IPv4 address", read_host_or_ip, ACTION_FIELD(address), NULL },
	{ "SERVER",     "the server, by host name or IPv4 address", read_host_or_ip, ACTION_FIELD(host), NULL },
	{ "PORT",       "a port number, 1 to 65535",           read_port,         ACTION_FIELD(port), NULL },
	{ "ESCAPED",    "\"escaped\"",                         read_choice,       ACTION_FIELD(escaped), escaped_choices },
	{ "SCRIPT",     "a << block holding what the client sends", read_script,  ACTION_FIELD(script), NULL },
};

static const Slot expect_slots[] = {
	{ "ADDRESS", "a user's address like bob@example.org", read_mailbox,    EXPECT_FIELD(address), NULL },
	{ "FOLDER",  "a folder name like INBOX",                read_text,       EXPECT_FIELD(folder), NULL },
	{ "COUNT",   "a number of messages",                    read_count,      EXPECT_FIELD(count), NULL },
	{ "SUBJECT", "the subject, in double quotes",           read_text,       EXPECT_FIELD(subject), NULL },
	{ "TIME",    "a time like 2s or 41m",                   read_time,       EXPECT_FIELD(after_us), NULL },
	{ "STEP",    "a course step like in.3",                 read_step,       EXPECT_FIELD(step), NULL },
	{ "STEPS",   "a course step like in.3 or a range like setup.1..setup.7", read_step_range,
	  EXPECT_FIELD(steps), NULL },
	{ "STATE",   "\"seen\", \"refused\" or \"not seen\"",   read_choice,     EXPECT_FIELD(step_state), state_choices },
	{ "HOST",    "a host name like mail.example.com",       read_host,       EXPECT_FIELD(host), NULL },
};

/* ---- patterns ------------------------------------------------------------------------------- */

typedef struct {
	const char *text;     /* the word in the pattern, not NUL-terminated */
	gsize       len;
	const Slot *slot;     /* NULL for literal words ("sends", "message|messages") */
	guint       slot_index;
	gboolean    list;     /* SLOT+ */
	gint        group;    /* the [ ] clause it belongs to (its first element), or -1 */
	gboolean    repeat;   /* that clause is [ ]* */
} Element;

/* Cuts a pattern into elements.  A pattern naming an unknown slot is a bug. */
static guint compile(const char *pattern, const Slot *slots, guint n_slots, Element *e)
{
	guint n = 0;
	gint group = -1;
	for (const char *s = pattern; *s != '\0';) {
		while (*s == ' ')
			s++;
		const char *end = strchr(s, ' ');
		if (end == NULL)
			end = s + strlen(s);
		g_assert(n < PATTERN_MAX_ELEMENTS);
		Element *el = &e[n];
		memset(el, 0, sizeof *el);
		const char *w = s, *w_end = end;
		if (*w == '[') {
			group = (gint)n;
			w++;
		}
		gboolean closes = FALSE, repeat = FALSE;
		if (w_end > w && w_end[-1] == '*' && w_end - 2 >= w && w_end[-2] == ']') {
			closes = repeat = TRUE;
			w_end -= 2;
		} else if (w_end > w && w_end[-1] == ']') {
			closes = TRUE;
			w_end--;
		}
		if (w_end > w && w_end[-1] == '+') {
			el->list = TRUE;
			w_end--;
		}
		el->text = w;
		el->len = (gsize)(w_end - w);
		el->group = group;
		if (g_ascii_isupper(*w)) {
			for (guint k = 0; k < n_slots && el->slot == NULL; k++)
				if (strlen(slots[k].name) == el->len && strncmp(slots[k].name, w, el->len) == 0) {
					el->slot = &slots[k];
					el->slot_index = k;
				}
			g_assert(el->slot != NULL);
		}
		if (closes) {
			for (guint k = (guint)group; k <= n; k++)
				e[k].repeat = repeat;
			group = -1;
		}
		n++;
		s = end;
	}
	return n;
}

static gboolean literal_matches(const Element *el, const ScnToken *tok)
{
	if (!is_kind(tok, SCN_TOKEN_WORD))
		return FALSE;
	const char *alt = el->text, *end = el->text + el->len;
	while (alt < end) {
		const char *bar = memchr(alt, '|', (gsize)(end - alt));
		gsize len = bar ? (gsize)(bar - alt) : (gsize)(end - alt);
		if (strlen(tok->text) == len && g_ascii_strncasecmp(tok->text, alt, len) == 0)
			return TRUE;
		alt += len + 1;
	}
	return FALSE;
}

/* Records that token i was wrong and what would have been right there. */
static void note(Match *m, const Pattern *pattern, guint i, const Element *el)
{
	if (i < m->fail_at)
		return;
	if (i > m->fail_at || m->furthest == NULL) {
		m->fail_at = i;
		g_ptr_array_set_size(m->expected, 0);
		g_ptr_array_set_size(m->guesses, 0);
		g_clear_pointer(&m->hint, g_free);
		m->furthest = pattern;
	}
	char *what;
	if (el == NULL) {
		what = g_strdup("the end of the line");
	} else if (el->slot != NULL) {
		what = g_strdup(el->slot->what);
		for (const Choice *c = el->slot->choices; c && c->words; c++)
			g_ptr_array_add(m->guesses, g_strdup(c->words));
	} else {
		const char *bar = memchr(el->text, '|', el->len);
		gsize len = bar ? (gsize)(bar - el->text) : el->len;
		what = g_strdup_printf("\"%.*s\"", (int)len, el->text);
		g_ptr_array_add(m->guesses, g_strndup(el->text, len));
	}
	for (guint k = 0; k < m->expected->len && what != NULL; k++)
		if (strcmp(m->expected->pdata[k], what) == 0)
			g_clear_pointer(&what, g_free);
	if (what != NULL)
		g_ptr_array_add(m->expected, what);
	if (m->hint == NULL && m->slot_hint != NULL)
		m->hint = g_steal_pointer(&m->slot_hint);
	g_clear_pointer(&m->slot_hint, g_free);
}

/* Reads one element at *i; on failure notes it and leaves *i where it failed. */
static gboolean match_element(Match *m, const Pattern *pattern, const Element *el, guint *i)
{
	if (el->slot == NULL) {
		if (!literal_matches(el, token(m, *i))) {
			note(m, pattern, *i, el);
			return FALSE;
		}
		(*i)++;
		return TRUE;
	}
	gpointer field = (char *)m->target + el->slot->offset;
	m->slot_at[el->slot_index] = *i;
	for (;;) {
		g_clear_pointer(&m->slot_hint, g_free);
		guint used = el->slot->read(m, el->slot, *i, field);
		if (used == 0) {
			note(m, pattern, *i, el);
			return FALSE;
		}
		*i += used;
		if (!el->list || !is_kind(token(m, *i), SCN_TOKEN_COMMA))
			return TRUE;
		(*i)++;  /* a comma: one more item */
	}
}

/* Could the optional clause starting with el begin at token i? */
static gboolean can_start(Match *m, const Element *el, guint i)
{
	if (el->slot == NULL)
		return literal_matches(el, token(m, i));
	g_assert(el->slot->choices != NULL);  /* a free slot would swallow anything */
	for (const Choice *c = el->slot->choices; c->words != NULL; c++) {
		const ScnToken *tok = token(m, i);
		gsize len = strcspn(c->words, " ");
		if (is_kind(tok, SCN_TOKEN_WORD) && strlen(tok->text) == len && g_ascii_strncasecmp(tok->text, c->words, len) == 0)
			return TRUE;
	}
	return FALSE;
}

/* Does the pattern read every token from first on? */
static gboolean match_pattern(Match *m, const Pattern *pattern, guint first)
{
	Element e[PATTERN_MAX_ELEMENTS];
	guint n = compile(pattern->pattern, m->slots, m->n_slots, e);
	guint i = first;
	guint pending[PATTERN_MAX_ELEMENTS], n_pending = 0;  /* clauses that could still come at i */
	for (guint k = 0; k < m->n_slots; k++)
		m->slot_at[k] = G_MAXUINT;

	for (guint k = 0; k < n;) {
		if (e[k].group < 0) {
			guint at = i;
			if (!match_element(m, pattern, &e[k], &i)) {
				for (guint q = 0; q < n_pending && i == at; q++)
					note(m, pattern, i, &e[pending[q]]);
				return FALSE;
			}
			n_pending = 0;
			k++;
			continue;
		}
		/* A run of optional clauses, in any order, each once unless [ ]*. */
		guint run_end = k;
		while (run_end < n && e[run_end].group >= 0)
			run_end++;
		gboolean used[PATTERN_MAX_ELEMENTS] = { FALSE };
		for (;;) {
			guint g = run_end;
			for (guint q = k; q < run_end && g == run_end; q++)
				if (e[q].group == (gint)q && (!used[q] || e[q].repeat) && can_start(m, &e[q], i))
					g = q;
			if (g == run_end)
				break;
			used[g] = TRUE;
			for (guint q = g; q < run_end && e[q].group == (gint)g; q++)
				if (!match_element(m, pattern, &e[q], &i))
					return FALSE;
		}
		n_pending = 0;
		for (guint q = k; q < run_end; q++)
			if (e[q].group == (gint)q && (!used[q] || e[q].repeat))
				pending[n_pending++] = q;
		k = run_end;
	}
	if (i < m->st->n_tokens) {
		note(m, pattern, i, NULL);
		for (guint q = 0; q < n_pending; q++)
			note(m, pattern, i, &e[pending[q]]);
		return FALSE;
	}
	return TRUE;
}

/* "A", "A or B", "A, B or C". */
static char *join_expected(GPtrArray *expected)
{
	GString *out = g_string_new(NULL);
	for (guint k = 0; k < expected->len; k++) {
		if (k > 0)
			g_string_append(out, k + 1 == expected->len ? " or " : ", ");
		g_string_append(out, expected->pdata[k]);
	}
	return g_string_free(out, FALSE);
}

/* Tries every pattern of the table on the tokens from first; the first that
 * reads them all fills target.  Otherwise reports what the furthest-reaching
 * patterns expected, and returns NULL. */
static const Pattern *match_table(Match *m, const Pattern *table, guint n_patterns, guint first,
                                  gpointer (*new_target)(void), void (*free_target)(gpointer))
{
	m->expected = g_ptr_array_new_with_free_func(g_free);
	m->guesses = g_ptr_array_new_with_free_func(g_free);
	m->fail_at = first;
	const Pattern *found = NULL;
	for (guint k = 0; k < n_patterns && found == NULL; k++) {
		m->target = new_target();
		if (match_pattern(m, &table[k], first))
			found = &table[k];
		else
			g_clear_pointer(&m->target, free_target);
	}
	if (found == NULL) {
		g_autofree char *what = join_expected(m->expected);
		scenario_report_expected(m->p, m->st, m->fail_at, what);
		const ScnToken *tok = token(m, m->fail_at);
		g_ptr_array_add(m->guesses, NULL);
		const char *best = is_kind(tok, SCN_TOKEN_WORD)
			? scenario_value_closest(tok->text, (const char *const *)m->guesses->pdata) : NULL;
		if (m->hint != NULL)
			scenario_hint(m->p, "%s", m->hint);
		else if (best != NULL)
			scenario_hint(m->p, "did you mean %s?", best);
		else if (m->furthest != NULL && m->fail_at > first)
			scenario_hint(m->p, "for example: %s", m->furthest->example);
	}
	g_clear_pointer(&m->expected, g_ptr_array_unref);
	g_clear_pointer(&m->guesses, g_ptr_array_unref);
	g_clear_pointer(&m->hint, g_free);
	g_clear_pointer(&m->slot_hint, g_free);
	return found;
}

/* The token a slot was read at, for messages about it. */
static const ScnToken *slot_token(const Match *m, const char *name)
{
	for (guint k = 0; k < m->n_slots; k++)
		if (strcmp(m->slots[k].name, name) == 0 && m->slot_at[k] != G_MAXUINT)
			return token(m, m->slot_at[k]);
	return NULL;
}

/* ---- actions ------------------------------------------------------------------------------------ */

void scenario_action_free(ScenarioAction *action)
{
	if (action == NULL)
		return;
	g_free(action->text);
	g_free(action->client);
	g_free(action->host);
	g_free(action->peer);
	g_free(action->address);
	g_free(action->password);
	g_clear_pointer(&action->to, g_ptr_array_unref);
	g_clear_pointer(&action->cc, g_ptr_array_unref);
	g_free(action->subject);
	g_free(action->body);
	g_clear_pointer(&action->attachments, g_ptr_array_unref);
	g_free(action->folder);
	g_free(action->record);
	g_free(action->name);
	g_free(action->rrtype);
	g_free(action->zone);
	g_free(action->source_host);
	g_free(action->script);
	g_clear_pointer(&action->data, g_bytes_unref);
	g_free(action);
}

static gpointer action_new(void)
{
	return g_new0(ScenarioAction, 1);
}

static int hex_value(char c)
{
	return g_ascii_isxdigit(c) ? g_ascii_xdigit_value(c) : -1;
}

/* The bytes a raw session sends: each line of the block without the common
 * indentation, ended by CRLF (RFC 5321 2.3.8: lines end in CRLF); or, with
 * "escaped", decoded and joined with nothing, so that a bare LF or a missing
 * CRLF can be shown on purpose. */
static gboolean raw_session_data(ScnParser *p, ScenarioAction *action)
{
	g_autofree char *dedented = scenario_lex_dedent(action->script);
	g_auto(GStrv) lines = g_strsplit(dedented, "\n", -1);
	g_auto(GStrv) originals = g_strsplit(action->script, "\n", -1);
	guint n = g_strv_length(lines);
	if (n > 0 && lines[n - 1][0] == '\0')
		n--;  /* the block's last line end */
	GByteArray *data = g_byte_array_new();
	for (guint k = 0; k < n; k++) {
		const char *line = lines[k];
		if (!action->escaped) {
			g_byte_array_append(data, (const guint8 *)line, (guint)strlen(line));
			g_byte_array_append(data, (const guint8 *)"\r\n", 2);
			continue;
		}
		for (const char *s = line; *s != '\0'; s++) {
			guint8 byte = (guint8)*s;
			if (*s == '\\') {
				char c = s[1];
				int hi = c == 'x' ? hex_value(s[2]) : -1, lo = hi >= 0 ? hex_value(s[3]) : -1;
				if (c == 'r' || c == 'n' || c == 't' || c == '\\') {
					byte = c == 'r' ? '\r' : c == 'n' ? '\n' : c == 't' ? '\t' : '\\';
					s++;
				} else if (lo >= 0) {
					byte = (guint8)(hi * 16 + lo);
					s += 3;
				} else {
					/* The column in the file: the margin the dedent removed, plus the offset. */
					gsize margin = strlen(originals[k]) - strlen(line);
					scenario_report(p, SCENARIO_ERROR_SYNTAX, action->data_line + k,
					                (guint)(margin + (gsize)g_utf8_strlen(line, s - line)) + 1,
					                "expected \\r, \\n, \\t, \\\\ or \\xNN after a backslash, got \\%.1s", s + 1);
					scenario_hint(p, "in an escaped block, write a backslash as \\\\");
					g_byte_array_unref(data);
					return FALSE;
				}
			}
			g_byte_array_append(data, &byte, 1);
		}
	}
	action->data = g_byte_array_free_to_bytes(data);
	return TRUE;
}

/* Names the action uses, checked once every line is read. */
static gboolean action_finish(Match *m, ScenarioAction *action)
{
	ScnParser *p = m->p;
	if (action->client != NULL)
		scenario_add_ref(p, SCN_REF_CLIENT, action->client, 0, NULL, "the action", slot_token(m, "CLIENT"));
	switch (action->kind) {
	case SCENARIO_ACTION_HOST_DOWN:
	case SCENARIO_ACTION_HOST_UP:
		scenario_add_ref(p, SCN_REF_HOST, action->host, 0, NULL, "the action", slot_token(m, "HOST"));
		break;
	case SCENARIO_ACTION_LINK_CUT:
	case SCENARIO_ACTION_LINK_RESTORE:
		if (strcmp(action->host, action->peer) == 0) {
			const ScnToken *at = slot_token(m, "PEER");
			scenario_report(p, SCENARIO_ERROR_INVALID, at->line, at->column, "a link joins two different hosts");
			return FALSE;
		}
		scenario_add_ref(p, SCN_REF_HOST, action->host, 0, NULL, "the link", slot_token(m, "HOST"));
		scenario_add_ref(p, SCN_REF_HOST, action->peer, 0, NULL, "the link", slot_token(m, "PEER"));
		break;
	case SCENARIO_ACTION_DNS_ADD:
	case SCENARIO_ACTION_DNS_REMOVE:
		if (action->zone != NULL)
			scenario_add_ref(p, SCN_REF_ZONE, action->zone, 0, NULL, "the change", slot_token(m, "ZONE"));
		break;
	case SCENARIO_ACTION_RAW_SESSION:
		scenario_add_ref(p, SCN_REF_SOURCE, action->address, 0, &action->source_host, "the session",
		                 slot_token(m, "SOURCE"));
		scenario_add_ref(p, SCN_REF_HOST_OR_IP, action->host, 0, &action->host, "the session",
		                 slot_token(m, "SERVER"));
		return raw_session_data(p, action);
	default:
		break;
	}
	return TRUE;
}

void scenario_script_at(ScnParser *p, const ScnStatement *st)
{
	gint64 time_us;
	const ScnToken *tok = st->n_tokens > 1 ? &st->tokens[1] : NULL;
	if (tok == NULL || tok->kind != SCN_TOKEN_WORD || !scenario_parse_duration(tok->text, &time_us)) {
		scenario_report_expected(p, st, 1, "a time like 0s, 2s or 1m30s");
		if (tok != NULL && tok->kind == SCN_TOKEN_WORD) {
			g_autofree char *hint = scenario_value_duration_hint(tok->text, "s");
			scenario_hint(p, "%s", hint);
		}
		return;
	}
	Match m = { .p = p, .st = st, .slots = action_slots, .n_slots = G_N_ELEMENTS(action_slots) };
	const Pattern *found = match_table(&m, action_patterns, G_N_ELEMENTS(action_patterns), 2, action_new,
	                                   (void (*)(gpointer))scenario_action_free);
	if (found == NULL)
		return;
	ScenarioAction *action = m.target;
	action->kind = (ScenarioActionKind)found->kind;
	action->time_us = time_us;
	action->line = st->line;
	action->text = scenario_lex_source_from(st, 2);
	if (!action_finish(&m, action)) {
		scenario_action_free(action);
		return;
	}
	g_ptr_array_add(p->scn->actions, action);
}

/* ---- expectations ------------------------------------------------------------------------------- */

void scenario_expect_free(ScenarioExpect *expect)
{
	if (expect == NULL)
		return;
	g_free(expect->text);
	g_free(expect->address);
	g_free(expect->folder);
	g_free(expect->subject);
	g_free(expect->host);
	g_free(expect->step);
	g_clear_pointer(&expect->steps, g_ptr_array_unref);
	g_free(expect);
}

static gpointer expect_new(void)
{
	ScenarioExpect *expect = g_new0(ScenarioExpect, 1);
	expect->after_us = -1;
	return expect;
}

void scenario_script_expect(ScnParser *p, const ScnStatement *st)
{
	Match m = { .p = p, .st = st, .slots = expect_slots, .n_slots = G_N_ELEMENTS(expect_slots) };
	const Pattern *found = match_table(&m, expect_patterns, G_N_ELEMENTS(expect_patterns), 1, expect_new,
	                                   (void (*)(gpointer))scenario_expect_free);
	if (found == NULL)
		return;
	ScenarioExpect *expect = m.target;
	expect->kind = (ScenarioExpectKind)found->kind;
	expect->line = st->line;
	expect->text = scenario_lex_source_from(st, 1);
	if (expect->address != NULL)
		scenario_add_ref(p, SCN_REF_USER, expect->address, 0, NULL, "the expectation", slot_token(&m, "ADDRESS"));
	if (expect->kind == SCENARIO_EXPECT_QUEUE_EMPTY)
		scenario_add_ref(p, SCN_REF_HOST, expect->host, SCENARIO_ROLE_MTA, NULL, "the queue",
		                 slot_token(&m, "HOST"));
	g_ptr_array_add(p->scn->expects, expect);
}
