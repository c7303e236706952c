/* sim/scenario_internal.h - what the scenario_*.c files share, and no one else.
 *
 * The reader (scenario_lex.c) cuts the file into statements of tokens; the
 * world statements (scenario_world.c), the script (scenario_script.c) and
 * the cross-reference check (scenario_check.c) turn them into sim/scenario.h
 * structs, reporting problems through one ScnParser.
 */
#pragma once

#include <stdarg.h>
#include "sim/scenario.h"

/* ---- tokens and statements ------------------------------------------------- */

typedef enum {
	SCN_TOKEN_WORD,     /* a bare word, as written */
	SCN_TOKEN_STRING,   /* "quoted", with \" and \\ undone */
	SCN_TOKEN_COMMA,    /* , */
	SCN_TOKEN_HEREDOC,  /* a << ... >> block */
} ScnTokenKind;

const char *scenario_token_kind_to_string(ScnTokenKind kind);

typedef struct {
	ScnTokenKind kind;
	char        *text;       /* WORD, STRING: the value; HEREDOC: the lines, each ended by \n */
	guint        line;       /* where the token is (HEREDOC: the line of "<<") */
	guint        column;     /* counted in characters, from 1 */
	gsize        start, end; /* byte range in the statement's line, for echoing it */
	guint        text_line;  /* HEREDOC: the first line of the block */
} ScnToken;

/* One line of the file (plus its << block), cut into tokens. */
typedef struct {
	ScnToken   *tokens;
	guint       n_tokens;
	guint       line;
	const char *source;       /* the line as written, without its end; borrowed */
	gsize       source_len;
	guint       end_column;   /* the column just after the last token, for "end of line" */
} ScnStatement;

/* ---- the parser ---------------------------------------------------------------- */

typedef struct {
	guint         line, column;
	ScenarioError code;
	char         *message;
	char         *hint;         /* or NULL */
} ScnProblem;

/* A name used before (or without) being declared: checked once every line
 * is read, in scenario_check.c. */
typedef enum {
	SCN_REF_HOST,         /* a declared host, running every role in roles */
	SCN_REF_HOST_OR_IP,   /* a host by name or address; *fix becomes the host's name */
	SCN_REF_SOURCE,       /* a host name, or an IPv4 address of no host (*fix: the host) */
	SCN_REF_ROLE,         /* some host runs roles (name unused) */
	SCN_REF_CLIENT,       /* a client, declared or named by "runs mua" */
	SCN_REF_CLIENT_HOST,  /* the client of a "client" line is run by some host */
	SCN_REF_USER,         /* a declared user */
	SCN_REF_DOMAIN,       /* a domain some mda host serves */
	SCN_REF_ZONE,         /* a zone block or a dnsbl zone */
} ScnRefKind;

typedef struct {
	ScnRefKind kind;
	char      *name;
	guint      roles;     /* SCN_REF_HOST, SCN_REF_ROLE */
	char     **fix;       /* SCN_REF_HOST_OR_IP, SCN_REF_SOURCE: a field to set; borrowed */
	char      *what;      /* what the name is used for, for messages: "the user's mailbox" */
	guint      line, column;
} ScnRef;

typedef struct {
	const char *filename;
	Scenario   *scn;
	GArray     *problems;       /* ScnProblem, in the order found */
	gboolean    stopped;        /* SCENARIO_MAX_ERRORS reached: read no further */
	guint       stop_line;      /* where it stopped */
	gboolean    last_kept;      /* the last report was recorded: a hint may follow */
	guint       statements;

	/* What is declared so far, to catch a name or address taken twice. */
	GHashTable *hosts;          /* name -> ScenarioHost * */
	GHashTable *addresses;      /* IPv4 -> ScenarioHost * */
	GHashTable *mua_hosts;      /* client name -> ScenarioHost * running it */
	GHashTable *clients;        /* client name -> ScenarioClient * */
	GHashTable *users;          /* lowercase address -> ScenarioUser * */
	GHashTable *domains;        /* domain -> ScenarioDomain *, implied ones included */
	GHashTable *aliases;        /* lowercase source -> ScenarioAlias * */
	GHashTable *zones;          /* "origin server" -> ScenarioZone * */
	GHashTable *sieves;         /* lowercase address -> ScenarioSieve * */
	GHashTable *settings;       /* "host name" -> ScenarioSetting * */
	GHashTable *links;          /* "a b" (sorted) -> ScenarioLink * */
	guint       title_line, seed_line, description_line;
	GArray     *refs;           /* ScnRef */
	const ScenarioScale *scale; /* counts replacing an internet line's, or NULL */

	/* The open "on HOST:" block: its indented lines are settings. */
	char            *block_host;      /* NULL when no block is open */
	guint            block_line;      /* of the "on HOST:" line */
	ScenarioSetting *block_setting;   /* the setting a deeper line continues, or NULL */
	guint            block_indent;    /* indentation of that setting's name */
	gboolean         block_skip;      /* that setting was wrong: skip its continuations */
} ScnParser;

/* Records a problem.  Past SCENARIO_MAX_ERRORS it records nothing more,
 * notes where it stopped and sets p->stopped. */
void scenario_report(ScnParser *p, ScenarioError code, guint line, guint column,
                     const char *fmt, ...) G_GNUC_PRINTF(5, 6);
/* Adds a hint to the problem just reported (none if it was dropped). */
void scenario_hint(ScnParser *p, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
/* "expected WHAT, got TOKEN" at token i of st (or at its end). */
void scenario_report_expected(ScnParser *p, const ScnStatement *st, guint i, const char *what);
/* Records a name to check once every line is read; name and what are copied. */
void scenario_add_ref(ScnParser *p, ScnRefKind kind, const char *name, guint roles,
                      char **fix, const char *what, const ScnToken *at);

/* "\"20\"", "the end of the line", "a << block": how an error quotes a token. */
char *scenario_describe_token(const ScnToken *tok);

/* ---- the reader (scenario_lex.c) ----------------------------------------------- */

/* Reads every line of text, handing each statement to scenario_world_statement
 * and each indented line of an "on HOST:" block to the settings reader. */
void scenario_lex_read(ScnParser *p, const char *text, gsize len);
/* The statement's source from token i to the end (without its comment or block). */
char *scenario_lex_source_from(const ScnStatement *st, guint i);
/* text without the indentation all its non-blank lines share; blank lines
 * become empty; line ends kept.  Returns a new string. */
char *scenario_lex_dedent(const char *text);

/* ---- statements (scenario_world.c, scenario_script.c) ------------------------- */

void scenario_world_statement(ScnParser *p, const ScnStatement *st);
void scenario_world_setting(ScnParser *p, guint line, guint indent, const char *text, gsize len);
void scenario_script_at(ScnParser *p, const ScnStatement *st);
void scenario_internet_statement(ScnParser *p, const ScnStatement *st);   /* scenario_internet.c */
void scenario_script_expect(ScnParser *p, const ScnStatement *st);
void scenario_action_free(ScenarioAction *action);
void scenario_expect_free(ScenarioExpect *expect);

/* ---- cross-references (scenario_check.c) --------------------------------------- */

void scenario_check(ScnParser *p);

/* ---- values (scenario_values.c) -------------------------------------------------- */

/* Each returns TRUE when text is well formed; on FALSE, *hint_r (if not NULL)
 * gets a new hint or NULL. */
gboolean scenario_value_ipv4(const char *text, char **hint_r);
gboolean scenario_value_cidr(const char *text, char **hint_r);      /* an address or a/len */
gboolean scenario_value_host_name(const char *text);                /* RFC 1123 2.1 labels */
gboolean scenario_value_dns_name(const char *text);                 /* owner names: _srv, *, @ */
/* A letter, then letters, digits, - and _; not a role or an action subject. */
gboolean scenario_value_client_name(const char *text);
/* A new "local@domain" with the domain lowercased, or NULL. */
char    *scenario_value_mailbox(const char *text, char **hint_r);
/* "HOST" or "HOST:PORT" -> new host (lowercase) and port (0 when absent). */
gboolean scenario_value_host_port(const char *text, char **host_r, guint *port_r);
gboolean scenario_value_uint(const char *text, guint64 max, guint64 *value_r);
/* Hints for a bad duration, rate or size: "add a unit: 20ms". */
char    *scenario_value_duration_hint(const char *text, const char *unit);
char    *scenario_value_rate_hint(const char *text);
char    *scenario_value_size_hint(const char *text);
/* The candidate closest to word by edit distance, if close enough to be a
 * likely typo; else NULL.  candidates is NULL-terminated. */
const char *scenario_value_closest(const char *word, const char *const *candidates);
