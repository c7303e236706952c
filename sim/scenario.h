/* sim/scenario.h - scenario files: the world a teacher describes, and its script.
 *
 * A .scn file is one statement per line (docs/SCENARIOS.md is the reference):
 * hosts and links, DNS zones in RFC 1035 5.1 master-file syntax, blacklists
 * (RFC 5782), users, Postfix-style settings, Sieve scripts (RFC 5228), mail
 * clients, firewall rules, then "at TIME ..." actions and "expect ..." checks.
 * Pure: text in, structs out; nothing here runs.  The runner builds the world.
 */
#pragma once

#include <glib.h>

/* ---- limits ----------------------------------------------------------------- */

#define SCENARIO_MAX_FILE_SIZE      (1024 * 1024)  /* bytes in one file */
#define SCENARIO_MAX_LINE_LENGTH    4096           /* bytes in one line */
#define SCENARIO_MAX_HEREDOC_SIZE   (64 * 1024)    /* bytes between << and >> */
#define SCENARIO_MAX_STATEMENTS     10000          /* statements and settings in one file */
#define SCENARIO_MAX_TOKENS         256            /* words in one statement */
#define SCENARIO_MAX_ERRORS         20             /* errors reported before giving up */
#define SCENARIO_MAX_SETTING_LENGTH 16384          /* bytes in one value, continuations joined */
#define SCENARIO_MAX_NAME_LENGTH    253            /* RFC 1035 2.3.4, written as text */
#define SCENARIO_MAX_ADDRESS_LENGTH 254            /* RFC 5321 4.5.3.1.3, without the <> */
#define SCENARIO_MAX_ATTACHMENTS    16             /* attach clauses in one send */
#define SCENARIO_MAX_STEP_NUMBER    999            /* the N of "in.N" */
#define SCENARIO_MAX_STEPS_IN_LIST  1000           /* ids in one expect steps, ranges expanded */
#define SCENARIO_MAX_COUNT          1000000        /* "has N messages" */
#define SCENARIO_MAX_DURATION_US    (G_GINT64_CONSTANT(366) * 86400 * 1000000)  /* a year */
#define SCENARIO_MAX_RATE           G_GUINT64_CONSTANT(1000000000000)   /* bytes/s: 1 TB/s */
#define SCENARIO_MAX_SIZE           (G_GUINT64_CONSTANT(1) << 50)       /* bytes: 1 PiB */

/* The RBL answer when a dnsbl line gives no code (RFC 5782 2.1). */
#define SCENARIO_DNSBL_DEFAULT_CODE "127.0.0.2"

/* ---- errors ------------------------------------------------------------------ */

#define SCENARIO_ERROR (scenario_error_quark())
GQuark scenario_error_quark(void);

/* One GError carries every problem found (up to SCENARIO_MAX_ERRORS), one per
 * line, in file order, each optionally followed by an indented hint line:
 *   course.scn:12:20: expected a duration like 20ms or 2s, got "20"
 *     hint: add a unit: 20ms
 * Lines and columns count from 1; columns count characters, a tab is one.
 * Cross-references (unknown hosts, clients, users) are checked only once
 * every line reads, so that one broken line does not echo everywhere.
 * The GError's code is that of the first problem. */
typedef enum {
	SCENARIO_ERROR_SYNTAX,   /* not a statement of the format */
	SCENARIO_ERROR_INVALID,  /* well formed but wrong: unknown host, duplicate user */
	SCENARIO_ERROR_LIMIT,    /* a SCENARIO_MAX_* bound was hit */
	SCENARIO_ERROR_IO,       /* scenario_load_file could not read the file */
} ScenarioError;

const char *scenario_error_to_string(ScenarioError code);

/* ---- the world ---------------------------------------------------------------
 * Every struct below is owned by its Scenario and read-only for callers.
 * Host names, client names and domains are stored lowercase; a mailbox keeps
 * its local part as written and gets a lowercase domain.  "line" is where the
 * statement is in the file, for the runner's own messages.
 */

/* What a host runs; a host's roles are a bit set of these. */
typedef enum {
	SCENARIO_ROLE_MTA = 1 << 0,  /* SMTP on 25, 587, 465 */
	SCENARIO_ROLE_MDA = 1 << 1,  /* LMTP, accounts, Maildirs */
	SCENARIO_ROLE_MRA = 1 << 2,  /* IMAP and POP3 */
	SCENARIO_ROLE_WEB = 1 << 3,  /* autoconfig and autodiscover over HTTP */
	SCENARIO_ROLE_DNS = 1 << 4,  /* an authoritative name server */
	SCENARIO_ROLE_MUA = 1 << 5,  /* a mail client (see ScenarioHost.clients) */
} ScenarioRole;

/* "mta", "mda", ...; for one bit only. */
const char *scenario_role_to_string(ScenarioRole role);

typedef struct {
	char      *name;      /* "mail.example.com", "home-pc-alice" */
	char      *address;   /* IPv4 dotted quad, "192.0.2.10" */
	guint      roles;     /* ScenarioRole bits; 0 for a bare machine */
	GPtrArray *clients;   /* char *: the client names of "runs mua NAME", in order */
	guint      line;
} ScenarioHost;

/* "link A B ...", "link A * ..." (every link of A), "link * ..." (every
 * link); a line gives a latency, a bandwidth or both.  The runner lets the
 * most specific line win. */
typedef struct {
	char   *a, *b;        /* host names or "*": "link * ..." gives both "*", "link A ..."
	                         and "link * A ..." give A and "*" */
	gint64  latency_us;   /* one way; -1 when the line gives none */
	guint64 bandwidth;    /* bytes per second; 0 when the line gives none */
	guint   line;
} ScenarioLink;

typedef struct {
	char  *origin;        /* "example.com", no trailing dot */
	char  *server;        /* the dns host named by "on HOST", or NULL: every dns host */
	char  *text;          /* the master file between << and >>, verbatim */
	guint  text_line;     /* line of the file where text starts: for dns_zone_parse */
	guint  line;
} ScenarioZone;

/* One "dnsbl" line.  The runner gives the entries of each zone name to one
 * Dnsbl (net/dnsbl.h: dnsbl_add) served beside any "zone" block of that name. */
typedef struct {
	char *zone;           /* "rbl.example.net" */
	char *server;         /* "on HOST", or NULL: every dns host */
	char *listed;         /* IPv4 "203.0.113.66" or "203.0.113.0/24" (no host bits) */
	char *reason;         /* the TXT text, or NULL */
	char *code;           /* the A record answered, "127.0.0.2" by default */
	guint line;
} ScenarioDnsblEntry;

typedef struct {
	char   *address;      /* "alice@example.com" */
	char   *password;
	char   *host;         /* the host whose MDA keeps the mailbox */
	guint64 quota;        /* bytes; 0 for none */
	guint   line;
} ScenarioUser;

typedef struct {
	char      *source;        /* "postmaster@example.org", or "@example.org" for a catch-all */
	GPtrArray *destinations;  /* char *: mailboxes, at least one */
	guint      line;
} ScenarioAlias;

typedef struct {
	char    *name;            /* "example.org" */
	char    *host;            /* the host whose MDA serves it (every user of it lives there) */
	gboolean implied;         /* TRUE when no domain line gives it, only a user */
	guint    line;            /* of the domain line or of the first user */
} ScenarioDomain;

/* One "name = value" under "on HOST:".  Postfix parameters and mailsim's
 * own settings alike; nothing here knows which names exist. */
typedef struct {
	char  *host;
	char  *name;          /* "smtpd_recipient_restrictions", lowercase */
	char  *value;         /* raw, "$names" unexpanded; continuation lines joined with one
	                         space; a "#" that starts a word begins a comment */
	char **items;         /* value split as scenario_setting_list() does */
	guint  line, column;  /* where the name is */
} ScenarioSetting;

typedef struct {
	char  *address;       /* the user the script filters for */
	char  *text;          /* the Sieve script, verbatim */
	guint  text_line;     /* line of the file where text starts: for Sieve errors */
	guint  line;
} ScenarioSieve;

/* How a client finds its servers (COURSE.md setup.2-6). */
typedef enum {
	SCENARIO_FLAVOUR_THUNDERBIRD,  /* autoconfig, then guessing, then the user (setup.4-6) */
	SCENARIO_FLAVOUR_OUTLOOK,      /* autodiscover: SRV, then autodiscover.DOMAIN (setup.2-3) */
	SCENARIO_FLAVOUR_RFC6186,      /* SRV records _imap._tcp, _submission._tcp (RFC 6186) */
	SCENARIO_FLAVOUR_MANUAL,       /* the servers typed in by hand (setup.6) */
} ScenarioClientFlavour;

const char *scenario_client_flavour_to_string(ScenarioClientFlavour f);

typedef enum {
	SCENARIO_PROTOCOL_DEFAULT,     /* whatever the client was set up with */
	SCENARIO_PROTOCOL_IMAP,
	SCENARIO_PROTOCOL_POP3,
} ScenarioProtocol;

const char *scenario_protocol_to_string(ScenarioProtocol p);

typedef struct {
	char                 *name;          /* "alice" */
	ScenarioClientFlavour flavour;       /* THUNDERBIRD when only "runs mua" names it */
	char                 *display_name;  /* name "Alice Liddell", or NULL */
	ScenarioProtocol      incoming;      /* imap or pop3 if the line says; else DEFAULT (IMAP) */
	char                 *incoming_host; /* MANUAL: the IMAP or POP3 server; else NULL */
	guint                 incoming_port; /* 0: the protocol's own */
	char                 *smtp_host;     /* MANUAL: the submission server; else NULL */
	guint                 smtp_port;     /* 0: 587 */
	char                 *host;          /* the host that "runs mua NAME" */
	gboolean              no_sent_copy;  /* keeps no copy of what it sends (internet clients) */
	gboolean              declared;      /* a client line names it (not only runs mua) */
	guint                 line;          /* of the client line, else of the host line */
} ScenarioClient;

typedef enum { SCENARIO_FW_ACCEPT, SCENARIO_FW_REJECT, SCENARIO_FW_DROP } ScenarioFirewallAction;
typedef enum { SCENARIO_FW_ANY, SCENARIO_FW_TCP, SCENARIO_FW_UDP } ScenarioFirewallProto;

const char *scenario_firewall_action_to_string(ScenarioFirewallAction a);  /* "accept" */
const char *scenario_firewall_proto_to_string(ScenarioFirewallProto p);    /* "tcp" */

/* Traffic arriving at host; rules are kept in file order, first match wins. */
typedef struct {
	char                  *host;
	ScenarioFirewallAction action;
	ScenarioFirewallProto  proto;  /* ANY when the line names none */
	guint                  port;   /* 0: any port */
	char                  *from;   /* source CIDR or address, or NULL: anyone */
	guint                  line;
} ScenarioFirewallRule;

/* ---- the script ----------------------------------------------------------- */

typedef enum {
	SCENARIO_ACTION_SETUP_ACCOUNT,  /* CLIENT sets up account ADDRESS password "..." */
	SCENARIO_ACTION_SEND,           /* CLIENT sends to ADDR, ... [cc ...] [subject] [body] [attach] */
	SCENARIO_ACTION_FETCH,          /* CLIENT fetches [via imap|pop3] [and deletes|and keeps] */
	SCENARIO_ACTION_MARK,           /* CLIENT marks first message seen|flagged */
	SCENARIO_ACTION_MOVE,           /* CLIENT moves first message to FOLDER */
	SCENARIO_ACTION_DELETE,         /* CLIENT deletes first message */
	SCENARIO_ACTION_CREATE_FOLDER,  /* CLIENT creates folder FOLDER */
	SCENARIO_ACTION_SAVE_DRAFT,     /* CLIENT saves draft [subject "..."] [body ...] */
	SCENARIO_ACTION_REPLY,          /* CLIENT replies to first message body ... */
	SCENARIO_ACTION_HOST_DOWN,      /* host HOST goes down */
	SCENARIO_ACTION_HOST_UP,        /* host HOST comes up */
	SCENARIO_ACTION_LINK_CUT,       /* link HOST PEER cut */
	SCENARIO_ACTION_LINK_RESTORE,   /* link HOST PEER restored */
	SCENARIO_ACTION_DNS_REMOVE,     /* dns removes NAME TYPE [from ZONE] */
	SCENARIO_ACTION_DNS_ADD,        /* dns adds "RECORD" [to ZONE] */
	SCENARIO_ACTION_RAW_SESSION,    /* client SOURCE connects to HOST port N and sends [escaped] << */
} ScenarioActionKind;

const char *scenario_action_kind_to_string(ScenarioActionKind k);  /* "send" */

typedef enum { SCENARIO_FETCH_DEFAULT, SCENARIO_FETCH_KEEP, SCENARIO_FETCH_DELETE } ScenarioFetchMode;
typedef enum { SCENARIO_MARK_SEEN, SCENARIO_MARK_FLAGGED } ScenarioMark;

const char *scenario_fetch_mode_to_string(ScenarioFetchMode m);  /* "keep" */
const char *scenario_mark_to_string(ScenarioMark m);             /* "seen" */

typedef struct {
	char *name;                      /* "report.txt" */
	char *content;                   /* a << block loses its common indentation */
} ScenarioAttachment;

/* One "at TIME ..." line.  Fields a kind does not use are NULL or 0. */
typedef struct {
	gint64             time_us;      /* from the start of the run */
	ScenarioActionKind kind;
	char              *text;         /* the action as written after the time (up to a final
	                                    "<<", without a comment), for displays */
	guint              line;

	char              *client;       /* MUA actions: the client's name */
	char              *host;         /* HOST_*: the host; LINK_*: one end; RAW_SESSION: the server
	                                    (its name, even when the line gives its address) */
	char              *peer;         /* LINK_*: the other end */

	char              *address;      /* SETUP_ACCOUNT: the account; RAW_SESSION: the source as
	                                    written (a host name or an IPv4 address) */
	char              *password;     /* SETUP_ACCOUNT */
	GPtrArray         *to;           /* SEND: char * mailboxes */
	GPtrArray         *cc;           /* SEND: char * mailboxes, or NULL */
	char              *subject;      /* SEND, SAVE_DRAFT: or NULL when not given */
	char              *body;         /* SEND, SAVE_DRAFT, REPLY: or NULL; a << block loses its
	                                    common indentation and keeps its line ends */
	guint              body_line;    /* line of the file where the body starts (the action's
	                                    own line for a quoted body) */
	GPtrArray         *attachments;  /* SEND: ScenarioAttachment *, or NULL */
	ScenarioProtocol   protocol;     /* FETCH */
	ScenarioFetchMode  fetch_mode;   /* FETCH */
	ScenarioMark       mark;         /* MARK */
	char              *folder;       /* MOVE: the destination; CREATE_FOLDER: the new one */

	char              *record;       /* DNS_ADD: one record in zone syntax, "mx2 A 198.51.100.21" */
	char              *name;         /* DNS_REMOVE: the owner, lowercase, relative to the zone
	                                    ("mx", "@") or absolute ("mx.example.org.") */
	char              *rrtype;       /* DNS_REMOVE: "MX", uppercase */
	char              *zone;         /* DNS_*: "from ZONE" / "to ZONE", or NULL: the closest zone */

	char              *source_host;  /* RAW_SESSION: the declared host that connects, or NULL when
	                                    address is no host's: the runner adds a bare machine */
	guint              port;         /* RAW_SESSION */
	gboolean           escaped;      /* RAW_SESSION: "sends escaped" */
	char              *script;       /* RAW_SESSION: the block between << and >>, verbatim */
	GBytes            *data;         /* RAW_SESSION: the bytes to send.  Plain: every line of the
	                                    block without the common indentation, each ended by CRLF.
	                                    Escaped: the lines decoded (\r \n \t \\ \xNN) and joined
	                                    with nothing, so line ends are only the ones written. */
	guint              data_line;    /* line of the file where the block starts */
} ScenarioAction;

/* ---- expectations ------------------------------------------------------------ */

typedef enum {
	SCENARIO_EXPECT_FOLDER_COUNT,    /* ADDRESS FOLDER has N message(s) [with subject "..."];
	                                    ADDRESS FOLDER is empty (count 0) */
	SCENARIO_EXPECT_BOUNCE,          /* ADDRESS receives a bounce */
	SCENARIO_EXPECT_NO_BOUNCE,       /* ADDRESS receives no bounce */
	SCENARIO_EXPECT_STEP,            /* step ID [seen|refused|not seen] */
	SCENARIO_EXPECT_STEPS_SEEN,      /* steps RANGE, ...: each seen at least once */
	SCENARIO_EXPECT_STEPS_IN_ORDER,  /* steps RANGE, ... in order: each seen, and the first
	                                    event of each comes in the order listed */
	SCENARIO_EXPECT_QUEUE_EMPTY,     /* queue on HOST is empty */
	SCENARIO_EXPECT_ALL_DELIVERED,   /* every message delivered: each user's INBOX holds as
	                                    many messages as the script sent to that user */
} ScenarioExpectKind;

const char *scenario_expect_kind_to_string(ScenarioExpectKind k);  /* "folder-count" */

typedef enum {
	SCENARIO_STEP_SEEN,      /* some event carries the step */
	SCENARIO_STEP_REFUSED,   /* a refusal event carries the step (in.3: the RBL said no) */
	SCENARIO_STEP_NOT_SEEN,  /* no event carries it */
} ScenarioStepState;

const char *scenario_step_state_to_string(ScenarioStepState s);  /* "not seen" */

typedef struct {
	ScenarioExpectKind kind;
	char              *text;        /* the expectation as written after "expect", for reports */
	guint              line;

	char              *address;     /* FOLDER_COUNT, *BOUNCE: a declared user */
	char              *folder;      /* FOLDER_COUNT: "INBOX", "Sent", "Lists", as written */
	guint              count;       /* FOLDER_COUNT */
	char              *subject;     /* FOLDER_COUNT: only messages with this subject, or NULL */
	char              *host;        /* QUEUE_EMPTY: a host running mta */
	char              *step;        /* STEP: "in.3", lowercase */
	ScenarioStepState  step_state;  /* STEP */
	GPtrArray         *steps;       /* STEPS_*: char * ids with ranges expanded, in order */
	gint64             after_us;    /* "after TIME" (FOLDER_COUNT, *BOUNCE, QUEUE_EMPTY): check at
	                                   that time; -1: when the run ends */
} ScenarioExpect;

/* ---- the scenario ------------------------------------------------------------ */

typedef struct {
	char      *filename;     /* as given to the parser, for messages */
	char      *title;        /* required */
	char      *description;  /* or NULL */
	guint64    seed;         /* 1 when no seed line */
	GPtrArray *hosts;        /* ScenarioHost *, file order */
	GPtrArray *links;        /* ScenarioLink * */
	GPtrArray *zones;        /* ScenarioZone * */
	GPtrArray *dnsbl;        /* ScenarioDnsblEntry * */
	GPtrArray *users;        /* ScenarioUser * */
	GPtrArray *aliases;      /* ScenarioAlias * */
	GPtrArray *domains;      /* ScenarioDomain *: domain lines, then those users imply */
	GPtrArray *settings;     /* ScenarioSetting *, file order */
	GPtrArray *sieves;       /* ScenarioSieve * */
	GPtrArray *clients;      /* ScenarioClient *: client lines, then those only "runs mua" names */
	GPtrArray *firewall;     /* ScenarioFirewallRule *, file order */
	GPtrArray *actions;      /* ScenarioAction *, by time; equal times keep file order */
	GPtrArray *expects;      /* ScenarioExpect *, file order */
	struct ScenarioIndex *index;  /* the look-ups below, built by the parser */
} Scenario;

/* Parses len bytes of text (-1: up to the NUL) as a scenario file named
 * filename (used only in messages).  Every cross-reference is checked: hosts
 * named anywhere exist and run the role the statement needs (a user's host
 * runs mda, a zone's runs dns...), names and addresses are not taken twice,
 * clients are run by exactly one host.  Returns a new Scenario, or NULL and
 * a SCENARIO_ERROR listing every problem found. */
Scenario   *scenario_parse(const char *text, gssize len, const char *filename, GError **error);

/* Reads path (at most SCENARIO_MAX_FILE_SIZE bytes) and parses it, with
 * path as the file name in messages.  SCENARIO_ERROR_IO if it cannot. */
Scenario   *scenario_load_file(const char *path, GError **error);

/* Counts that replace those an "internet" line gives (0: as written), so
 * that one file serves both make check and the scale benchmark. */
typedef struct {
	guint64 domains, users, messages;
} ScenarioScale;

/* scenario_parse and scenario_load_file with scale (may be NULL). */
Scenario   *scenario_parse_scaled(const char *text, gssize len, const char *filename,
                                  const ScenarioScale *scale, GError **error);
Scenario   *scenario_load_file_scaled(const char *path, const ScenarioScale *scale, GError **error);

void        scenario_free(Scenario *scn);

/* Look-ups, all borrowed from scn; NULL when there is none. */
const ScenarioHost   *scenario_find_host(const Scenario *scn, const char *name);           /* any case */
const ScenarioHost   *scenario_find_host_by_address(const Scenario *scn, const char *address);
const ScenarioUser   *scenario_find_user(const Scenario *scn, const char *address);        /* domain any case */
const ScenarioClient *scenario_find_client(const Scenario *scn, const char *name);         /* any case */
const ScenarioDomain *scenario_find_domain(const Scenario *scn, const char *name);         /* any case */
/* Hash and equality of names that compare without regard to case, for
 * GHashTables keyed by host, client or user names. */
guint                 scenario_caseless_hash(gconstpointer key);
gboolean              scenario_caseless_equal(gconstpointer a, gconstpointer b);
/* The value of setting name (any case) on host, the raw string, or NULL if unset. */
const char           *scenario_find_setting(const Scenario *scn, const char *host, const char *name);

/* ---- values, as the format writes them ------------------------------------ */

/* "250ms", "2s", "1m30s", "40m", "4h", "2d", "0": units us ms s m h d (any
 * case), each at most once, largest first.  FALSE (and *us_r untouched) for anything
 * else or above SCENARIO_MAX_DURATION_US. */
gboolean    scenario_parse_duration(const char *text, gint64 *us_r);
/* The text scenario_parse_duration reads back, largest units first:
 * "1m30s", "250ms", "0s"; negative or too large: NULL.  Free with g_free. */
char       *scenario_format_duration(gint64 us);
/* "1MB/s", "100kB/s", "2MiB/s", "10Mbit/s", "56kbps" -> bytes per second,
 * rounded down (at least 1).  k (or K) M G are powers of 1000, Ki Mi Gi of
 * 1024; B is a byte, b or bit a bit.  At most SCENARIO_MAX_RATE. */
gboolean    scenario_parse_rate(const char *text, guint64 *bytes_per_s_r);
/* "500kB", "100MB", "1GiB", "42B" -> bytes; a bare number is refused
 * (a unit says what was meant).  At most SCENARIO_MAX_SIZE. */
gboolean    scenario_parse_size(const char *text, guint64 *bytes_r);
/* Splits a setting value into its items the way Postfix reads a list:
 * separators are commas and white space, and "{ ... }" groups (kept with
 * their braces, as Postfix's mystrtokq does) may hold either.  Returns a
 * new NULL-terminated array (empty for an empty value); free with g_strfreev. */
char      **scenario_setting_list(const char *value);
/* Does id have the shape of a course step: setup.N, out.N, in.N, retr.N or
 * def.N with 1 <= N <= SCENARIO_MAX_STEP_NUMBER, no leading zero? */
gboolean    scenario_step_id_valid(const char *id);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(Scenario, scenario_free)
