/* tests/sim/test_scenario.c - the scenario file parser (sim/scenario*.c).
 *
 * A valid table (each case dumped to one canonical line per struct, and
 * checked for exact fragments), an invalid table (exact line:column, a
 * fragment of the message and of the hint), then heredoc line numbers, the
 * course scenario, durations, rates, sizes, Postfix lists and the limits.
 */
#include "tests/ms_test.h"
#include "sim/scenario.h"

/* Every case is appended to this world, so a case's first line is line 9. */
#define BASE                                                              \
	"title \"t\"\n"                                                       \
	"host mail.example.com 192.0.2.10 runs mta mda mra web\n"             \
	"host mx.example.org 198.51.100.20 runs mta mda mra\n"                \
	"host ns.example.net 203.0.113.53 runs dns\n"                         \
	"host pc 192.0.2.77 runs mua alice\n"                                 \
	"host laptop 198.51.100.99 runs mua bob\n"                            \
	"user alice@example.com password \"w\" on mail.example.com\n"         \
	"user bob@example.org password \"b\" on mx.example.org\n"

#define COURSE_PATH "scenarios/course.scn"

/* ---- a canonical dump of a scenario ---------------------------------------------- */

static const char *or_none(const char *s)
{
	return s ? s : "(none)";
}

static char *escaped(const char *s)
{
	return s ? g_strescape(s, NULL) : g_strdup("(none)");
}

static void append_list(GString *out, const char *label, GPtrArray *list)
{
	g_string_append_printf(out, " %s=", label);
	for (guint i = 0; list && i < list->len; i++)
		g_string_append_printf(out, "%s%s", i ? "," : "", (char *)list->pdata[i]);
}

static void dump_action(GString *out, const ScenarioAction *a)
{
	g_string_append_printf(out, "action %" G_GINT64_FORMAT " %s line=%u", a->time_us,
	                       scenario_action_kind_to_string(a->kind), a->line);
#define FIELD(name, value) if ((value) != NULL) g_string_append_printf(out, " " name "=%s", value)
	FIELD("client", a->client);
	FIELD("host", a->host);
	FIELD("peer", a->peer);
	FIELD("address", a->address);
	FIELD("password", a->password);
	if (a->to)
		append_list(out, "to", a->to);
	if (a->cc)
		append_list(out, "cc", a->cc);
	FIELD("subject", a->subject);
	if (a->body) {
		g_autofree char *body = escaped(a->body);
		g_string_append_printf(out, " body=%s body_line=%u", body, a->body_line);
	}
	if (a->attachments) {
		g_string_append(out, " attach=");
		for (guint i = 0; i < a->attachments->len; i++) {
			const ScenarioAttachment *att = a->attachments->pdata[i];
			g_autofree char *content = escaped(att->content);
			g_string_append_printf(out, "%s%s:%s", i ? "," : "", att->name, content);
		}
	}
	if (a->kind == SCENARIO_ACTION_FETCH)
		g_string_append_printf(out, " protocol=%s mode=%s", scenario_protocol_to_string(a->protocol),
		                       scenario_fetch_mode_to_string(a->fetch_mode));
	if (a->kind == SCENARIO_ACTION_MARK)
		g_string_append_printf(out, " mark=%s", scenario_mark_to_string(a->mark));
	FIELD("folder", a->folder);
	FIELD("record", a->record);
	FIELD("name", a->name);
	FIELD("rrtype", a->rrtype);
	if (a->kind == SCENARIO_ACTION_DNS_ADD || a->kind == SCENARIO_ACTION_DNS_REMOVE)
		g_string_append_printf(out, " zone=%s", or_none(a->zone));
	if (a->kind == SCENARIO_ACTION_RAW_SESSION) {
		gsize len;
		const char *bytes = g_bytes_get_data(a->data, &len);
		g_autofree char *copy = g_strndup(bytes, len);
		g_autofree char *data = escaped(copy);
		g_string_append_printf(out, " source_host=%s port=%u escaped=%d data=%s data_line=%u",
		                       or_none(a->source_host), a->port, a->escaped, data, a->data_line);
	}
#undef FIELD
	g_string_append_printf(out, " text=[%s]\n", a->text);
}

static void dump_expect(GString *out, const ScenarioExpect *e)
{
	g_string_append_printf(out, "expect %s line=%u", scenario_expect_kind_to_string(e->kind), e->line);
	if (e->address)
		g_string_append_printf(out, " address=%s", e->address);
	if (e->kind == SCENARIO_EXPECT_FOLDER_COUNT)
		g_string_append_printf(out, " folder=%s count=%u subject=%s", e->folder, e->count, or_none(e->subject));
	if (e->host)
		g_string_append_printf(out, " host=%s", e->host);
	if (e->kind == SCENARIO_EXPECT_STEP)
		g_string_append_printf(out, " step=%s state=%s", e->step, scenario_step_state_to_string(e->step_state));
	if (e->steps)
		append_list(out, "steps", e->steps);
	g_string_append_printf(out, " after=%" G_GINT64_FORMAT " text=[%s]\n", e->after_us, e->text);
}

static char *dump(const Scenario *s)
{
	GString *out = g_string_new(NULL);
	g_autofree char *description = escaped(s->description);
	g_string_append_printf(out, "title=%s seed=%" G_GUINT64_FORMAT " description=%s\n", s->title, s->seed,
	                       description);
	for (guint i = 0; i < s->hosts->len; i++) {
		const ScenarioHost *h = s->hosts->pdata[i];
		g_string_append_printf(out, "host %s %s roles=", h->name, h->address);
		gboolean first = TRUE;
		for (guint bit = SCENARIO_ROLE_MTA; bit <= SCENARIO_ROLE_MUA; bit <<= 1)
			if (h->roles & bit) {
				g_string_append_printf(out, "%s%s", first ? "" : ",", scenario_role_to_string(bit));
				first = FALSE;
			}
		append_list(out, "clients", h->clients);
		g_string_append_printf(out, " line=%u\n", h->line);
	}
	for (guint i = 0; i < s->links->len; i++) {
		const ScenarioLink *l = s->links->pdata[i];
		g_string_append_printf(out, "link %s %s latency=%" G_GINT64_FORMAT " bandwidth=%" G_GUINT64_FORMAT "\n",
		                       l->a, l->b, l->latency_us, l->bandwidth);
	}
	for (guint i = 0; i < s->zones->len; i++) {
		const ScenarioZone *z = s->zones->pdata[i];
		g_autofree char *text = escaped(z->text);
		g_string_append_printf(out, "zone %s server=%s text_line=%u text=%s\n", z->origin,
		                       z->server ? z->server : "*", z->text_line, text);
	}
	for (guint i = 0; i < s->dnsbl->len; i++) {
		const ScenarioDnsblEntry *d = s->dnsbl->pdata[i];
		g_string_append_printf(out, "dnsbl %s server=%s listed=%s reason=%s code=%s\n", d->zone,
		                       d->server ? d->server : "*", d->listed, or_none(d->reason), d->code);
	}
	for (guint i = 0; i < s->users->len; i++) {
		const ScenarioUser *u = s->users->pdata[i];
		g_string_append_printf(out, "user %s password=%s host=%s quota=%" G_GUINT64_FORMAT "\n", u->address,
		                       u->password, u->host, u->quota);
	}
	for (guint i = 0; i < s->aliases->len; i++) {
		const ScenarioAlias *a = s->aliases->pdata[i];
		g_string_append_printf(out, "alias %s ->", a->source);
		for (guint k = 0; k < a->destinations->len; k++)
			g_string_append_printf(out, "%s%s", k ? "," : " ", (char *)a->destinations->pdata[k]);
		g_string_append_c(out, '\n');
	}
	for (guint i = 0; i < s->domains->len; i++) {
		const ScenarioDomain *d = s->domains->pdata[i];
		g_string_append_printf(out, "domain %s host=%s implied=%d line=%u\n", d->name, d->host, d->implied, d->line);
	}
	for (guint i = 0; i < s->settings->len; i++) {
		const ScenarioSetting *st = s->settings->pdata[i];
		g_autofree char *items = g_strjoinv("|", st->items);
		g_string_append_printf(out, "setting %s %s=[%s] items=%s line=%u column=%u\n", st->host, st->name,
		                       st->value, items, st->line, st->column);
	}
	for (guint i = 0; i < s->sieves->len; i++) {
		const ScenarioSieve *sv = s->sieves->pdata[i];
		g_autofree char *text = escaped(sv->text);
		g_string_append_printf(out, "sieve %s text_line=%u text=%s\n", sv->address, sv->text_line, text);
	}
	for (guint i = 0; i < s->clients->len; i++) {
		const ScenarioClient *c = s->clients->pdata[i];
		g_string_append_printf(out, "client %s flavour=%s display=%s incoming=%s", c->name,
		                       scenario_client_flavour_to_string(c->flavour), or_none(c->display_name),
		                       scenario_protocol_to_string(c->incoming));
		if (c->incoming_host)
			g_string_append_printf(out, " ihost=%s:%u", c->incoming_host, c->incoming_port);
		if (c->smtp_host)
			g_string_append_printf(out, " smtp=%s:%u", c->smtp_host, c->smtp_port);
		g_string_append_printf(out, " host=%s declared=%d\n", c->host, c->declared);
	}
	for (guint i = 0; i < s->firewall->len; i++) {
		const ScenarioFirewallRule *r = s->firewall->pdata[i];
		g_string_append_printf(out, "firewall %s %s %s port=%u from=%s\n", r->host,
		                       scenario_firewall_action_to_string(r->action),
		                       scenario_firewall_proto_to_string(r->proto), r->port, r->from ? r->from : "*");
	}
	for (guint i = 0; i < s->actions->len; i++)
		dump_action(out, s->actions->pdata[i]);
	for (guint i = 0; i < s->expects->len; i++)
		dump_expect(out, s->expects->pdata[i]);
	return g_string_free(out, FALSE);
}

/* Parses text from a buffer of exactly its length, with no NUL after it,
 * so that any read past the end trips the address sanitizer. */
static Scenario *parse_exact(const char *text, GError **error)
{
	gsize len = strlen(text);
	char *copy = g_malloc(len ? len : 1);
	memcpy(copy, text, len);
	Scenario *s = scenario_parse(copy, (gssize)len, "course.scn", error);
	g_free(copy);
	return s;
}

static char *crlf(const char *text)
{
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
	return g_strjoinv("\r\n", lines);
}

/* ---- valid statements ------------------------------------------------------------ */

typedef struct {
	const char *text;       /* appended to BASE: its first line is line 9 */
	const char *expect[4];  /* fragments of the dump, each found as written */
} ValidCase;

static const ValidCase valid_cases[] = {
	/* hosts */
	{ "host web1 192.0.2.80 runs web dns", { "host web1 192.0.2.80 roles=web,dns clients= line=9" } },
	{ "host spam 203.0.113.66   # a bare machine", { "host spam 203.0.113.66 roles= clients= line=9" } },
	{ "host lab 192.0.2.90 runs mua carol mua dave",
	  { "roles=mua clients=carol,dave", "client carol flavour=thunderbird display=(none) incoming=default host=lab declared=0",
	    "client dave flavour=thunderbird" } },
	{ "HOST Big.Example.COM 192.0.2.91 RUNS MTA Mda", { "host big.example.com 192.0.2.91 roles=mta,mda clients=" } },
	/* links */
	{ "link * latency 20ms", { "link * * latency=20000 bandwidth=0" } },
	{ "link mx.example.org latency 1s bandwidth 1MB/s", { "link mx.example.org * latency=1000000 bandwidth=1000000" } },
	{ "link * pc bandwidth 10Mbit/s", { "link pc * latency=-1 bandwidth=1250000" } },
	{ "link pc mail.example.com bandwidth 2KiB/s latency 5ms", { "link pc mail.example.com latency=5000 bandwidth=2048" } },
	/* zones and blacklists */
	{ "zone Example.COM. on ns.example.net <<\n  @ MX 10 mail\n\n  mail A 192.0.2.10 ; no # comment here\n>>",
	  { "zone example.com server=ns.example.net text_line=10 text=  @ MX 10 mail\\n\\n  mail A 192.0.2.10 ; no # comment here\\n" } },
	{ "zone example.org <<\n>>", { "zone example.org server=* text_line=10 text=\n" } },
	{ "dnsbl rbl.example.net list 203.0.113.0/24 code 127.0.0.4 \"dynamic range\"",
	  { "dnsbl rbl.example.net server=* listed=203.0.113.0/24 reason=dynamic range code=127.0.0.4" } },
	{ "dnsbl rbl.example.net on ns.example.net list 203.0.113.66\ndnsbl rbl.example.net list 0.0.0.0/0 \"all\"",
	  { "dnsbl rbl.example.net server=ns.example.net listed=203.0.113.66 reason=(none) code=127.0.0.2",
	    "listed=0.0.0.0/0 reason=all" } },
	/* users, aliases, domains */
	{ "user carol@Example.NET quota 100MB on mail.example.com password \"x # y\"",
	  { "user carol@example.net password=x # y host=mail.example.com quota=100000000",
	    "domain example.net host=mail.example.com implied=1 line=9" } },
	{ "user Dave.Smith+tag@example.com password pass#word on mail.example.com quota 1GiB",
	  { "user Dave.Smith+tag@example.com password=pass#word host=mail.example.com quota=1073741824" } },
	{ "alias @example.org -> bob@example.org, alice@example.com",
	  { "alias @example.org -> bob@example.org,alice@example.com" } },
	{ "domain example.net on mail.example.com",
	  { "domain example.net host=mail.example.com implied=0 line=9\ndomain example.com host=mail.example.com implied=1 line=7" } },
	{ "domain example.org on mx.example.org", { "domain example.org host=mx.example.org implied=0 line=9" } },
	/* settings */
	{ "on mx.example.org:\n"
	  "  smtpd_recipient_restrictions = permit_mynetworks, # trusted\n"
	  "      reject_unauth_destination\n"
	  "\n"
	  "  # a comment inside the block\n"
	  "  fsync = no\n"
	  "  Queue_Lifetime=4h\n"
	  "  mynetworks = { 192.0.2.0/24, 10.0.0.0/8 } 127.0.0.0/8\n"
	  "at 0s alice fetches",
	  { "setting mx.example.org smtpd_recipient_restrictions=[permit_mynetworks, reject_unauth_destination] "
	    "items=permit_mynetworks|reject_unauth_destination line=10 column=3",
	    "setting mx.example.org fsync=[no] items=no line=14",
	    "setting mx.example.org queue_lifetime=[4h] items=4h line=15",
	    "items={ 192.0.2.0/24, 10.0.0.0/8 }|127.0.0.0/8" } },
	{ "on pc :\n\trelayhost =\n\tmyhostname = pc", { "setting pc relayhost=[] items= line=10 column=2", "setting pc myhostname=[pc]" } },
	/* sieve, clients, firewall */
	{ "sieve bob@example.org <<\n  keep;   # Sieve's own comment stays\n>>",
	  { "sieve bob@example.org text_line=10 text=  keep;   # Sieve's own comment stays\\n" } },
	{ "client alice manual pop3 mail.example.com:995 smtp 192.0.2.10:465 name \"Alice L\"",
	  { "client alice flavour=manual display=Alice L incoming=pop3 ihost=mail.example.com:995 smtp=192.0.2.10:465 host=pc declared=1" } },
	{ "client bob flavor rfc6186 pop3", { "client bob flavour=rfc6186 display=(none) incoming=pop3 host=laptop declared=1" } },
	{ "client bob outlook\nclient alice Flavour THUNDERBIRD imap",
	  { "client bob flavour=outlook", "client alice flavour=thunderbird display=(none) incoming=imap host=pc declared=1" } },
	{ "firewall mx.example.org reject tcp port 25 from 203.0.113.0/24",
	  { "firewall mx.example.org reject tcp port=25 from=203.0.113.0/24" } },
	{ "firewall pc drop", { "firewall pc drop any port=0 from=*" } },
	{ "firewall pc accept from 192.0.2.10 udp", { "firewall pc accept udp port=0 from=192.0.2.10" } },
	/* title, seed, description */
	{ "description <<\n    Two lines,\n      indented.\n>>\nseed 18446744073709551615",
	  { "title=t seed=18446744073709551615 description=Two lines,\\n  indented." } },
	/* actions */
	{ "at 0s alice sets up account alice@example.com password \"wonderland\"",
	  { "action 0 setup-account line=9 client=alice address=alice@example.com password=wonderland "
	    "text=[alice sets up account alice@example.com password \"wonderland\"]" } },
	{ "at 1m30s alice sends to bob@example.org, carol@example.net cc dave@example.org subject \"Hi\" "
	  "attach \"a.txt\" \"A\" attach b.txt \"B\" body \"Hello\"",
	  { "action 90000000 send line=9 client=alice to=bob@example.org,carol@example.net cc=dave@example.org "
	    "subject=Hi body=Hello body_line=9 attach=a.txt:A,b.txt:B" } },
	{ "at 2s alice sends to bob@example.org body <<\n    Dear Bob,\n\n      see you.\n>>",
	  { "action 2000000 send line=9 client=alice to=bob@example.org body=Dear Bob,\\n\\n  see you.\\n body_line=10" } },
	{ "at 6s bob fetches", { "fetch line=9 client=bob protocol=default mode=default" } },
	{ "at 6s bob fetches via pop3 and keeps", { "fetch line=9 client=bob protocol=pop3 mode=keep" } },
	{ "at 6s bob fetches and deletes via IMAP", { "fetch line=9 client=bob protocol=imap mode=delete" } },
	{ "at 7s bob marks first message flagged", { "action 7000000 mark line=9 client=bob mark=flagged" } },
	{ "at 7s bob moves first message to \"My Archive\"", { "move line=9 client=bob folder=My Archive" } },
	{ "at 7s bob deletes first message", { "action 7000000 delete line=9 client=bob text=[bob deletes first message]" } },
	{ "at 7s bob creates folder Archive", { "create-folder line=9 client=bob folder=Archive" } },
	{ "at 7s bob saves draft subject \"Later\"", { "save-draft line=9 client=bob subject=Later text" } },
	{ "at 7s bob replies to first message body \"Yes\"", { "reply line=9 client=bob body=Yes body_line=9" } },
	{ "at 1s host mx.example.org goes down\nat 40m host MX.example.org comes up",
	  { "action 1000000 host-down line=9 host=mx.example.org", "action 2400000000 host-up line=10 host=mx.example.org" } },
	{ "at 1s link pc mail.example.com cut\nat 2s link pc mail.example.com restored",
	  { "link-cut line=9 host=pc peer=mail.example.com", "link-restore line=10 host=pc peer=mail.example.com" } },
	{ "zone example.org <<\n>>\nat 1s dns removes _autodiscover._tcp srv from example.org.",
	  { "dns-remove line=11 name=_autodiscover._tcp rrtype=SRV zone=example.org" } },
	{ "at 1s dns adds \"mx2 A 198.51.100.21\"", { "dns-add line=9 record=mx2 A 198.51.100.21 zone=(none)" } },
	{ "at 3s client 203.0.113.66 connects to mx.example.org port 25 and sends <<\n  EHLO spam\n\n  QUIT\n>>",
	  { "raw-session line=9 host=mx.example.org address=203.0.113.66 source_host=(none) port=25 escaped=0 "
	    "data=EHLO spam\\r\\n\\r\\nQUIT\\r\\n data_line=10" } },
	{ "at 3s client pc connects to 198.51.100.20 port 587 and sends escaped <<\n  EHLO x\\r\\nDATA\\n\n  .\\x0d\\x0A\\t\\\\\n>>",
	  { "raw-session line=9 host=mx.example.org address=pc source_host=pc port=587 escaped=1 "
	    "data=EHLO x\\r\\nDATA\\n.\\r\\n\\t\\\\ data_line=10" } },
	{ "At 2S Alice Fetches", { "action 2000000 fetch line=9 client=alice" } },
	/* expectations */
	{ "expect bob@example.org Lists has 2 messages with subject \"[lists] x\" after 41m",
	  { "expect folder-count line=9 address=bob@example.org folder=Lists count=2 subject=[lists] x after=2460000000" } },
	{ "expect bob@example.org INBOX has 1 message after 1h with subject Hi",
	  { "folder=INBOX count=1 subject=Hi after=3600000000" } },
	{ "expect bob@example.org Junk is empty", { "expect folder-count line=9 address=bob@example.org folder=Junk count=0 subject=(none) after=-1" } },
	{ "expect alice@example.com receives a bounce after 4h", { "expect bounce line=9 address=alice@example.com after=14400000000" } },
	{ "expect alice@example.com receives no bounce", { "expect no-bounce line=9 address=alice@example.com after=-1" } },
	{ "expect step in.3 refused\nexpect step def.2 not seen\nexpect step OUT.1",
	  { "expect step line=9 step=in.3 state=refused", "expect step line=10 step=def.2 state=not seen",
	    "expect step line=11 step=out.1 state=seen" } },
	{ "expect steps out.1..out.3, in.1 in order", { "expect steps-in-order line=9 steps=out.1,out.2,out.3,in.1 after=-1" } },
	{ "expect steps retr.1", { "expect steps-seen line=9 steps=retr.1" } },
	{ "expect queue on mail.example.com is empty after 30m",
	  { "expect queue-empty line=9 host=mail.example.com after=1800000000" } },
};

START_TEST(test_valid_statements)
{
	const ValidCase *c = &valid_cases[_i];
	g_autofree char *text = g_strconcat(BASE, c->text, "\n", NULL);
	g_autofree char *text_crlf = crlf(text);
	const char *variants[] = { text, text_crlf };
	for (guint v = 0; v < G_N_ELEMENTS(variants); v++) {
		GError *error = NULL;
		g_autoptr(Scenario) s = parse_exact(variants[v], &error);
		ck_assert_msg(s != NULL, "case %d (%s): %s", _i, v ? "CRLF" : "LF", error ? error->message : "");
		g_autofree char *d = dump(s);
		for (guint k = 0; k < G_N_ELEMENTS(c->expect) && c->expect[k] != NULL; k++)
			ck_assert_msg(strstr(d, c->expect[k]) != NULL, "case %d: no \"%s\" in\n%s", _i, c->expect[k], d);
	}
}
END_TEST

/* ---- invalid statements ---------------------------------------------------------------- */

typedef struct {
	const char  *text;      /* appended to BASE */
	const char  *position;  /* "LINE:COLUMN" of the one problem */
	const char  *message;   /* a fragment of its message */
	const char  *hint;      /* a fragment of its hint, or NULL for no hint check */
	ScenarioError code;
} InvalidCase;

#define SYN SCENARIO_ERROR_SYNTAX
#define INV SCENARIO_ERROR_INVALID

static const InvalidCase invalid_cases[] = {
	{ "link * latency 20", "9:16", "expected a duration like 20ms or 2s, got \"20\"", "add a unit: 20ms", SYN },
	{ "hots a 1.2.3.4", "9:1", "expected a statement like host, user, zone, at or expect, got \"hots\"", "did you mean host?", SYN },
	{ "host x 1.2.3 runs mta", "9:8", "got \"1.2.3\"", "four numbers from 0 to 255", SYN },
	{ "host x 1.2.3.400", "9:8", "expected the host's IPv4 address", "at most 255", SYN },
	{ "host x 01.2.3.4", "9:8", "got \"01.2.3.4\"", "write 1, not 01", SYN },
	{ "host -bad 1.2.3.4", "9:6", "expected a host name like mail.example.com, got \"-bad\"", NULL, SYN },
	{ "host 1.2.3.4 1.2.3.5", "9:6", "expected a host name", "name the host here, not its address", SYN },
	{ "host x 1.2.3.4 runs mta mdx", "9:25", "got \"mdx\"", "did you mean mda?", SYN },
	{ "host x 1.2.3.4 runs web web", "9:25", "web is listed twice", NULL, INV },
	{ "host x 1.2.3.4 runs", "9:20", "expected a role: mta, mda, mra, web, dns or mua NAME, got the end of the line", NULL, SYN },
	{ "host x 1.2.3.4 mta", "9:16", "expected \"runs\" and the host's roles, got \"mta\"", "runs mta mda mra", SYN },
	{ "host y 1.2.3.4 runs mua", "9:24", "expected the name of the client it runs", "runs mua alice", SYN },
	{ "host y 1.2.3.4 runs mua alice", "9:25", "client alice already runs on pc (line 5)", NULL, INV },
	{ "host y 1.2.3.4 runs mua carol mua carol", "9:35", "mua carol is listed twice", NULL, INV },
	{ "host pc 1.2.3.4", "9:6", "host pc is already declared on line 5", NULL, INV },
	{ "host z 192.0.2.10", "9:8", "192.0.2.10 is already the address of mail.example.com (line 2)", NULL, INV },
	{ "link pc", "9:8", "expected \"latency\" or \"bandwidth\", got the end of the line", NULL, SYN },
	{ "link pc mail.example.com mx.example.org latency 1ms", "9:26", "expected \"latency\" or \"bandwidth\"", NULL, SYN },
	{ "link * latency 1ms\nlink * bandwidth 1MB/s", "10:1", "the link * - * is already described on line 9", NULL, INV },
	{ "link pc pc latency 1ms", "9:9", "a link joins two different hosts", NULL, INV },
	{ "link pc * bandwidth 10", "9:21", "expected a rate like 1MB/s or 10Mbit/s, got \"10\"", "add a unit: 10MB/s", SYN },
	{ "link pc * latency 1ms latency 2ms", "9:23", "latency is given twice on this line", NULL, INV },
	{ "link pc nowhere latency 1ms", "9:9", "unknown host \"nowhere\" for an end of the link", NULL, INV },
	{ "user carol@example.net password \"x\" on mx.example.og", "9:40", "unknown host \"mx.example.og\" for the user's mailbox",
	  "did you mean mx.example.org?", INV },
	{ "user carol@example.net password \"x\" on ns.example.net", "9:40",
	  "ns.example.net does not run mda, which the user's mailbox needs", "add mda to the roles of ns.example.net on line 4", INV },
	{ "user carol@example.net on mail.example.com", "9:43", "expected \"password\" and the user's password, got the end of the line", NULL, SYN },
	{ "user carol@example.net password x on mail.example.com quota 100", "9:61", "expected a size like 100MB", "add a unit: 100MB", SYN },
	{ "user carol password x on mail.example.com", "9:6", "expected the user's address", "a mail address is a user, @ and a domain", SYN },
	{ "user Alice@example.com password x on mail.example.com", "9:6", "user Alice@example.com is already declared on line 7", NULL, INV },
	{ "user carol@example.org password x on mail.example.com", "9:38", "example.org is served by mx.example.org (line 8)", NULL, INV },
	{ "user carol@example.net password x passwrd y on mail.example.com", "9:35", "got \"passwrd\"", "did you mean password?", SYN },
	{ "alias x@nowhere.org -> alice@example.com", "9:7", "unknown domain \"nowhere.org\" for the alias", "domain nowhere.org on HOST", INV },
	{ "alias x@example.org alice@example.com", "9:21", "expected \"->\", got \"alice@example.com\"", "alias postmaster@example.org -> bob@example.org", SYN },
	{ "alias x@example.org -> a@example.com,", "9:38", "expected an address to forward to", NULL, SYN },
	{ "alias x@example.org -> a@example.com\nalias X@example.org -> b@example.com", "10:7", "alias X@example.org is already given on line 9", NULL, INV },
	{ "domain example.com on mx.example.org", "9:23", "example.com is served by mail.example.com (line 7)", NULL, INV },
	{ "domain example.net on mail.example.com\ndomain example.net on mail.example.com", "10:1", "domain example.net is already given on line 9", NULL, INV },
	{ "zone example.com", "9:17", "expected a << block holding the zone's records, got the end of the line", "end the line with <<", SYN },
	{ "zone example.com on ns.example.nt <<\n>>", "9:21", "unknown host \"ns.example.nt\" for the zone's name server", "did you mean ns.example.net?", INV },
	{ "zone example.com on mail.example.com <<\n>>", "9:21", "mail.example.com does not run dns, which the zone's name server needs", NULL, INV },
	{ "zone a.example <<\n>>\nzone A.example. <<\n>>", "11:6", "zone a.example is already given on line 9", NULL, INV },
	{ "zone a.example <<\n  @ A 1.2.3.4", "9:16", "expected >> alone on a line to end this block, got the end of the file", "every << block ends", SYN },
	{ "zone a.example << on ns.example.net", "9:19", "expected the end of the line after <<, got \"on\"", "a block starts on the line after <<", SYN },
	{ "sieve bob@example.org <<EOF", "9:23", "expected << alone, at the end of the line, got \"<<EOF\"", "a block needs no name", SYN },
	{ "zone @ <<\n>>", "9:6", "expected a zone name like example.com, got \"@\"", NULL, SYN },
	{ "dnsbl rbl.example.net list 203.0.113.1/24", "9:28", "expected an IPv4 address or range to list", "the network starts at 203.0.113.0/24", SYN },
	{ "dnsbl rbl.example.net list 203.0.113.1 code 10.0.0.1", "9:45", "expected a return code in 127.0.0.0/8", NULL, SYN },
	{ "dnsbl rbl.example.net list 127.0.0.1", "9:28", "127.0.0.1 is never listed", NULL, INV },
	{ "dnsbl rbl.example.net lst 203.0.113.1", "9:23", "expected \"list\", got \"lst\"", "did you mean list?", SYN },
	{ "on mx.example.org:\n  smtpd_x permit", "10:11", "expected = after smtpd_x, got \"permit\"",
	  "belongs to the \"on mx.example.org:\" block of line 9", SYN },
	{ "on mx.example.org:\n  = permit", "10:3", "expected a setting, name = value, got \"=\"", NULL, SYN },
	{ "on mx.example.org:\n  fsync = no\n  FSYNC = yes", "11:3", "fsync is already set for mx.example.org on line 10", "Postfix would", INV },
	{ "on mx.example.org", "9:18", "expected \":\" after the host name, got the end of the line", "on mx.example.org:", SYN },
	{ "on mx.example.org: fsync = no", "9:20", "expected the end of the line, got \"fsync\"", "its own indented line", SYN },
	{ "on nowhere.example:\n  a = b", "9:4", "unknown host \"nowhere.example\" for the settings", NULL, INV },
	{ "smtpd_x = permit", "9:1", "expected a statement like", "settings go on indented lines under \"on HOST:\"", SYN },
	{ "sieve carol@example.org <<\n  keep;\n>>", "9:7", "unknown user \"carol@example.org\" for the Sieve script", NULL, INV },
	{ "sieve bob@example.org <<\n>>\nsieve Bob@example.org <<\n>>", "11:7", "Bob@example.org already has a Sieve script, on line 9", NULL, INV },
	{ "client alice flavour outlok", "9:22", "expected a flavour: thunderbird, outlook, rfc6186 or manual, got \"outlok\"", "did you mean outlook?", SYN },
	{ "client carol outlook", "9:8", "no host runs client carol", "runs mua carol", INV },
	{ "client host outlook", "9:8", "expected a client name like alice, got \"host\"", "no keyword", SYN },
	{ "client alice manual imap mail.example.com", "9:42", "expected \"smtp\" and the outgoing server, got the end of the line",
	  "a manual client is told both servers", SYN },
	{ "client alice manual smtp mail.example.com", "9:42", "expected \"imap\" or \"pop3\" and the incoming server", NULL, SYN },
	{ "client alice manual imap mail.example.com:0 smtp x.example", "9:26", "expected a server, like mail.example.com or mail.example.com:993", NULL, SYN },
	{ "client alice thunderbird imap mail.example.com", "9:31", "expected \"name\", \"imap\" or \"pop3\", got \"mail.example.com\"",
	  "servers are typed in only for a manual client", SYN },
	{ "client alice outlook\nclient alice thunderbird", "10:8", "client alice is already declared on line 9", NULL, INV },
	{ "client alice name Alice", "9:19", "expected the display name in double quotes, got \"Alice\"", "put it in double quotes: \"Alice\"", SYN },
	{ "firewall pc drop tcp port 0", "9:27", "expected a port number, 1 to 65535, got \"0\"", NULL, SYN },
	{ "firewall pc dorp", "9:13", "expected \"accept\", \"reject\" or \"drop\", got \"dorp\"", "did you mean drop?", SYN },
	{ "firewall nowhere drop", "9:10", "unknown host \"nowhere\" for the firewall rule", NULL, INV },
	{ "title \"again\"", "9:1", "the title is already given on line 1", NULL, INV },
	{ "title again", "9:7", "expected the title in double quotes, got \"again\"", "put it in double quotes: \"again\"", SYN },
	{ "seed -1", "9:6", "expected a whole number, the seed of the run's randomness, got \"-1\"", "seed 1", SYN },
	{ "seed 18446744073709551616", "9:6", "expected a whole number", NULL, SYN },
	{ "description \"abc", "9:17", "expected a closing \" for the string opened at column 13, got the end of the line", NULL, SYN },
	{ "at 1s alice sends to a@b.example body \"x\\n\"", "9:41", "expected \\\" or \\\\ after a backslash in a string, got \\n", NULL, SYN },
	{ ">>", "9:1", "expected a statement like host", "this >> ends no block", SYN },
	/* the script */
	{ "at 2 alice fetches", "9:4", "expected a time like 0s, 2s or 1m30s, got \"2\"", "add a unit: 2s", SYN },
	{ "at 30s1m alice fetches", "9:4", "got \"30s1m\"", "largest first", SYN },
	{ "at 1.5s alice fetches", "9:4", "got \"1.5s\"", "use whole units: 1s500ms", SYN },
	{ "at 367d alice fetches", "9:4", "got \"367d\"", "up to 366d", SYN },
	{ "at 2s", "9:6", "expected a client name, \"host\", \"link\", \"dns\" or \"client\", got the end of the line", NULL, SYN },
	{ "at 2s alice sendz to bob@example.org", "9:13", "expected \"sets\", \"sends\", \"fetches\", \"marks\", \"moves\", "
	  "\"deletes\", \"creates\", \"saves\" or \"replies\", got \"sendz\"", "did you mean sends?", SYN },
	{ "at 2s alice sends to bob subject \"x\"", "9:22", "expected a recipient like bob@example.org, got \"bob\"", "a mail address is", SYN },
	{ "at 2s alice sends to bob@example.org subject \"x\" subject \"y\"", "9:50", "expected the end of the line, \"cc\", \"body\" or \"attach\", got \"subject\"", "for example: alice sends", SYN },
	{ "at 2s alice sends to bob@example.org attach \"a.txt\"", "9:52", "expected the attachment's content", NULL, SYN },
	{ "at 2s carol fetches", "9:7", "unknown client \"carol\" for the action", NULL, INV },
	{ "at 2s alicee fetches", "9:7", "unknown client \"alicee\"", "did you mean alice?", INV },
	{ "at 2s bob fetches via smtp", "9:23", "expected \"imap\" or \"pop3\", got \"smtp\"", "did you mean imap?", SYN },
	{ "at 2s bob fetches via imap and forgets", "9:32", "expected \"deletes\" or \"keeps\", got \"forgets\"", NULL, SYN },
	{ "at 2s bob marks first message read", "9:31", "expected \"seen\" or \"flagged\", got \"read\"", NULL, SYN },
	{ "at 2s bob moves message to Archive", "9:17", "expected \"first\", got \"message\"", NULL, SYN },
	{ "at 2s bob replies to first message", "9:35", "expected \"body\", got the end of the line", NULL, SYN },
	{ "at 1s host mx.example.org goes sideways", "9:32", "expected \"down\", got \"sideways\"", "for example: host mx.example.org goes down", SYN },
	{ "at 1s host mx.example.org explodes", "9:27", "expected \"goes\" or \"comes\", got \"explodes\"", NULL, SYN },
	{ "at 1s host mx.example.com goes down", "9:12", "unknown host \"mx.example.com\" for the action", NULL, INV },
	{ "at 1s link pc pc cut", "9:15", "a link joins two different hosts", NULL, INV },
	{ "at 1s dns removes mx MZ", "9:22", "expected a record type like A, MX or TXT, got \"MZ\"", "did you mean MX?", SYN },
	{ "at 1s dns adds mx2", "9:16", "expected a record in double quotes", "put it in double quotes", SYN },
	{ "at 1s dns adds \"x A 1.2.3.4\" to example.net", "9:33", "unknown zone \"example.net\" for the change", NULL, INV },
	{ "at 1s client pc connects to mx.example.org port 25 and sends", "9:61", "a << block holding what the client sends", NULL, SYN },
	{ "at 1s client pc connects to mx.example.org port 70000 and sends <<\n>>", "9:49", "expected a port number, 1 to 65535", NULL, SYN },
	{ "at 1s client pc connects to mx.example.org port 25 and sends escaped <<\n    HELO \\q\n>>", "10:10",
	  "expected \\r, \\n, \\t, \\\\ or \\xNN after a backslash, got \\q", "write a backslash as \\\\", SYN },
	{ "at 1s client bad connects to mx.example.org port 25 and sends <<\n  x\n>>", "9:14", "unknown host \"bad\" for the session", NULL, INV },
	{ "at 1s client pc connects to 192.0.2.99 port 25 and sends <<\n  x\n>>", "9:29", "unknown host \"192.0.2.99\" for the session", NULL, INV },
	{ "expect", "9:7", "expected a user's address like bob@example.org, \"step\", \"steps\", \"queue\" or \"every\", got the end of the line", NULL, SYN },
	{ "expect bob@example.org INBOX has 1 mesages", "9:36", "expected \"message\", got \"mesages\"", "did you mean message?", SYN },
	{ "expect bob@example.org INBOX has 9999999 messages", "9:34", "expected a number of messages, got \"9999999\"", NULL, SYN },
	{ "expect bob@example.org INBOX has one message", "9:34", "expected a number of messages", NULL, SYN },
	{ "expect carol@example.org INBOX is empty", "9:8", "unknown user \"carol@example.org\" for the expectation", NULL, INV },
	{ "expect alice@example.com receives the bounce", "9:35", "expected \"has\", \"is\", \"a\" or \"no\", got \"the\"", NULL, SYN },
	{ "expect alice@example.com receives no bounce after 5", "9:51", "expected a time like 2s or 41m, got \"5\"", "add a unit: 5s", SYN },
	{ "expect step in.0", "9:13", "expected a course step like in.3, got \"in.0\"", NULL, SYN },
	{ "expect step in.01", "9:13", "got \"in.01\"", NULL, SYN },
	{ "expect step inn.1", "9:13", "got \"inn.1\"", NULL, SYN },
	{ "expect step in.3 ignored", "9:18", "expected the end of the line or \"seen\", \"refused\" or \"not seen\", got \"ignored\"", NULL, SYN },
	{ "expect steps setup.7..setup.1 in order", "9:14", "got \"setup.7..setup.1\"", "a range goes up within one family of steps", SYN },
	{ "expect steps setup.1..out.3", "9:14", "got \"setup.1..out.3\"", "a range goes up", SYN },
	{ "expect steps setup.1..setup.999, in.1..in.999", "9:34", "got \"in.1..in.999\"", "at most 1000 steps", SYN },
	/* the generated internet */
	{ "internet 5 domains, 2 users, 10 messages", "9:1", "2 users cannot fill 5 domains", "at least one user per domain", INV },
	{ "internet 10 domains, 100 users", "9:31", "expected the counts of domains, users and messages", NULL, SYN },
	{ "internet 0 domains, 1 users, 1 messages", "9:10", "domains wants a count from 1 to", NULL, SCENARIO_ERROR_LIMIT },
	{ "internet 2 domains, 2 users, 2 messages over soon", "9:46", "expected a duration like 1h, got \"soon\"", NULL, SYN },
	{ "internet 2 domains, 2 users, 2 letters", "9:30", "expected a count and what it counts", NULL, SYN },
	{ "host ns.internet.example 10.9.9.9 runs dns\ninternet 2 domains, 2 users, 2 messages", "10:1",
	  "the internet's host ns.internet.example is already taken", "leave those to it", INV },
	{ "expect queue on ns.example.net is empty", "9:17", "ns.example.net does not run mta, which the queue needs", NULL, INV },
};

/* How many "course.scn:" lines the message holds: one per problem. */
static guint count_problems(const char *message)
{
	guint n = 0;
	g_auto(GStrv) lines = g_strsplit(message, "\n", -1);
	for (guint i = 0; lines[i] != NULL; i++)
		if (g_str_has_prefix(lines[i], "course.scn:"))
			n++;
	return n;
}

START_TEST(test_invalid_statements)
{
	const InvalidCase *c = &invalid_cases[_i];
	g_autofree char *text = g_strconcat(BASE, c->text, "\n", NULL);
	GError *error = NULL;
	g_autoptr(Scenario) s = parse_exact(text, &error);
	ck_assert_msg(s == NULL, "case %d (%s) parsed", _i, c->text);
	ck_assert_msg(g_error_matches(error, SCENARIO_ERROR, (gint)c->code), "case %d: code %d, not %d: %s", _i,
	              error->code, c->code, error->message);
	g_auto(GStrv) lines = g_strsplit(error->message, "\n", -1);
	g_autofree char *prefix = g_strdup_printf("course.scn:%s: ", c->position);
	ck_assert_msg(g_str_has_prefix(lines[0], prefix), "case %d: wanted %s, got: %s", _i, prefix, error->message);
	ck_assert_msg(strstr(lines[0], c->message) != NULL, "case %d: no \"%s\" in: %s", _i, c->message, lines[0]);
	if (c->hint != NULL) {
		ck_assert_msg(lines[1] != NULL && g_str_has_prefix(lines[1], "  hint: ") && strstr(lines[1], c->hint) != NULL,
		              "case %d: no hint \"%s\" in: %s", _i, c->hint, error->message);
	}
	/* One mistake, one message: nothing echoes it on later lines. */
	ck_assert_msg(count_problems(error->message) == 1, "case %d: more than one problem: %s", _i, error->message);
	g_error_free(error);
}
END_TEST

/* ---- heredocs and line numbers ------------------------------------------------------- */

START_TEST(test_heredoc_lines)
{
	const char *text =
		"title \"heredocs\"\n"                 /* 1 */
		"host ns 192.0.2.53 runs dns\n"        /* 2 */
		"host mx.example.org 192.0.2.25 runs mta mda\n"
		"host pc 192.0.2.77 runs mua bob\n"
		"user bob@example.org password x on mx.example.org\n"
		"# a comment\n"                        /* 6 */
		"\n"
		"zone example.org <<\n"                /* 8 */
		"\t$ORIGIN example.org.\n"             /* 9: the zone text starts here */
		"  <<  not a block marker inside\n"
		">>\n"                                 /* 11 */
		"sieve bob@example.org <<\n"           /* 12 */
		"  keep;\n"                            /* 13 */
		"   >>   \n"                           /* 14: >> may be indented */
		"at 1s bob sends to bob@example.org body <<\n"  /* 15 */
		"  line one\n"                         /* 16 */
		">>\n";
	GError *error = NULL;
	g_autoptr(Scenario) s = scenario_parse(text, -1, "h.scn", &error);
	ck_assert_msg(s != NULL, "%s", error ? error->message : "");
	const ScenarioZone *zone = s->zones->pdata[0];
	ck_assert_uint_eq(zone->line, 8);
	ck_assert_uint_eq(zone->text_line, 9);
	ck_assert_str_eq(zone->text, "\t$ORIGIN example.org.\n  <<  not a block marker inside\n");
	const ScenarioSieve *sieve = s->sieves->pdata[0];
	ck_assert_uint_eq(sieve->line, 12);
	ck_assert_uint_eq(sieve->text_line, 13);
	ck_assert_str_eq(sieve->text, "  keep;\n");
	const ScenarioAction *send = s->actions->pdata[0];
	ck_assert_uint_eq(send->line, 15);
	ck_assert_uint_eq(send->body_line, 16);
	ck_assert_str_eq(send->body, "line one\n");
	ck_assert_str_eq(send->text, "bob sends to bob@example.org body <<");
}
END_TEST

/* Problems are collected, in file order, one GError for all of them. */
START_TEST(test_errors_collected)
{
	const char *text =
		"title \"many\"\n"
		"host a 1.2.3 runs mta\n"                 /* 2: syntax */
		"zone x.example <<\n"
		"  a \xff\n"                               /* 4: not UTF-8, inside a block */
		">>\n"
		"hots b 1.2.3.4\n"                        /* 6 */
		"at 2 x fetches\n";                       /* 7 */
	GError *error = NULL;
	Scenario *s = scenario_parse(text, -1, "m.scn", &error);
	ck_assert_ptr_null(s);
	ck_assert(g_error_matches(error, SCENARIO_ERROR, SCENARIO_ERROR_SYNTAX));
	g_auto(GStrv) lines = g_strsplit(error->message, "\n", -1);
	ck_assert_msg(g_str_has_prefix(lines[0], "m.scn:2:8: "), "%s", error->message);
	ck_assert_msg(strstr(error->message, "\nm.scn:4:5: expected UTF-8 text, got the byte 0xff\n") != NULL, "%s", error->message);
	const char *l6 = strstr(error->message, "\nm.scn:6:1: ");
	const char *l7 = strstr(error->message, "\nm.scn:7:4: ");
	ck_assert(l6 != NULL && l7 != NULL && l6 < l7);
	g_clear_error(&error);

	/* Past SCENARIO_MAX_ERRORS the parser says it stopped. */
	GString *many = g_string_new("title \"t\"\n");
	for (int i = 0; i < SCENARIO_MAX_ERRORS + 10; i++)
		g_string_append(many, "bogus\n");
	s = scenario_parse(many->str, (gssize)many->len, "m.scn", &error);
	ck_assert_ptr_null(s);
	ck_assert_uint_eq(count_problems(error->message), 0);  /* the file is m.scn, not course.scn */
	g_auto(GStrv) all = g_strsplit(error->message, "\n", -1);
	guint problems = 0;
	for (guint i = 0; all[i] != NULL; i++)
		if (g_str_has_prefix(all[i], "m.scn:") && strstr(all[i], "expected a statement") != NULL)
			problems++;
	ck_assert_uint_eq(problems, SCENARIO_MAX_ERRORS);
	g_autofree char *stop = g_strdup_printf("m.scn:%d: stopping after %d errors", SCENARIO_MAX_ERRORS + 2, SCENARIO_MAX_ERRORS);
	ck_assert_msg(g_str_has_suffix(error->message, stop), "%s", error->message);
	g_error_free(error);
	g_string_free(many, TRUE);
}
END_TEST

START_TEST(test_no_title_and_nul)
{
	GError *error = NULL;
	Scenario *s = scenario_parse("seed 2\n", -1, "t.scn", &error);
	ck_assert_ptr_null(s);
	ck_assert_msg(g_str_has_prefix(error->message, "t.scn:1:1: the scenario has no title\n  hint: add a line: title"),
	              "%s", error->message);
	g_clear_error(&error);

	const char nul[] = "title \"t\"\nseed 1\0 2\n";
	s = scenario_parse(nul, sizeof nul - 1, "t.scn", &error);
	ck_assert_ptr_null(s);
	ck_assert_msg(g_str_has_prefix(error->message, "t.scn:2:7: expected text, got a NUL byte"), "%s", error->message);
	g_clear_error(&error);

	/* The empty file: only the title is missing. */
	s = scenario_parse("", 0, "t.scn", &error);
	ck_assert_ptr_null(s);
	ck_assert(strstr(error->message, "no title") != NULL);
	g_clear_error(&error);

	/* A string with both escapes, and a file without a last line end. */
	s = scenario_parse("title \"say \\\"hi\\\" \\\\ bye\"  # done", -1, "t.scn", &error);
	ck_assert_msg(s != NULL, "%s", error ? error->message : "");
	ck_assert_str_eq(s->title, "say \"hi\" \\ bye");
	ck_assert_uint_eq(s->seed, 1);
	ck_assert_ptr_null(s->description);
	scenario_free(s);
}
END_TEST

/* ---- limits ------------------------------------------------------------------------ */

START_TEST(test_limits)
{
	GError *error = NULL;
	/* The file */
	gsize big = SCENARIO_MAX_FILE_SIZE + 1;
	char *huge = g_malloc(big);
	memset(huge, '#', big);
	Scenario *s = scenario_parse(huge, (gssize)big, "big.scn", &error);
	g_free(huge);
	ck_assert_ptr_null(s);
	ck_assert(g_error_matches(error, SCENARIO_ERROR, SCENARIO_ERROR_LIMIT));
	g_clear_error(&error);

	/* A line */
	GString *text = g_string_new("title \"t\"\n# ");
	for (int i = 0; i < SCENARIO_MAX_LINE_LENGTH; i++)
		g_string_append_c(text, 'x');
	g_string_append_c(text, '\n');
	s = scenario_parse(text->str, -1, "l.scn", &error);
	ck_assert_ptr_null(s);
	ck_assert_msg(g_str_has_prefix(error->message, "l.scn:2:1: the line is"), "%s", error->message);
	ck_assert(g_error_matches(error, SCENARIO_ERROR, SCENARIO_ERROR_LIMIT));
	g_clear_error(&error);

	/* A block */
	g_string_assign(text, "title \"t\"\nhost ns 192.0.2.53 runs dns\nzone x.example <<\n");
	while (text->len < SCENARIO_MAX_HEREDOC_SIZE + 100)
		g_string_append(text, "  a A 192.0.2.1 ; some padding to grow the block quickly\n");
	g_string_append(text, ">>\n");
	s = scenario_parse(text->str, -1, "h.scn", &error);
	ck_assert_ptr_null(s);
	ck_assert_msg(g_str_has_prefix(error->message, "h.scn:3:16: the block holds more than"), "%s", error->message);
	ck_assert_ptr_null(strchr(error->message, '\n'));  /* one problem: the >> was still found */
	g_clear_error(&error);

	/* Words on a line */
	g_string_assign(text, "title \"t\"\nhost a 1.2.3.4 runs");
	for (int i = 0; i < SCENARIO_MAX_TOKENS; i++)
		g_string_append(text, " mta");
	s = scenario_parse(text->str, -1, "w.scn", &error);
	ck_assert_ptr_null(s);
	ck_assert_msg(strstr(error->message, "more than 256 words") != NULL, "%s", error->message);
	g_clear_error(&error);

	/* Statements */
	g_string_assign(text, "title \"t\"\n");
	for (int i = 0; i < SCENARIO_MAX_STATEMENTS; i++)
		g_string_append(text, "expect step in.1\n");
	s = scenario_parse(text->str, -1, "s.scn", &error);
	ck_assert_ptr_null(s);
	ck_assert_msg(strstr(error->message, "s.scn:10001:1: the file holds more than 10000 statements") != NULL, "%s",
	              error->message);
	g_clear_error(&error);

	/* A setting grown by continuation lines */
	g_string_assign(text, "title \"t\"\nhost a 1.2.3.4\non a:\n  x = y\n");
	while (text->len < 2 * SCENARIO_MAX_SETTING_LENGTH)
		g_string_append(text, "      some_long_continuation_value_of_a_setting\n");
	s = scenario_parse(text->str, -1, "c.scn", &error);
	ck_assert_ptr_null(s);
	ck_assert_msg(strstr(error->message, "the value of x grows past") != NULL, "%s", error->message);
	ck_assert_ptr_null(strchr(error->message, '\n'));
	g_clear_error(&error);
	g_string_free(text, TRUE);
}
END_TEST

/* ---- the script's order ------------------------------------------------------------------ */

START_TEST(test_actions_sorted)
{
	g_autofree char *text = g_strconcat(BASE,
		"at 5s bob fetches\n"      /* 9 */
		"at 1s alice fetches\n"    /* 10 */
		"at 5s alice fetches\n"    /* 11 */
		"at 0s bob fetches\n",     /* 12 */
		NULL);
	GError *error = NULL;
	g_autoptr(Scenario) s = scenario_parse(text, -1, "o.scn", &error);
	ck_assert_msg(s != NULL, "%s", error ? error->message : "");
	const guint lines[] = { 12, 10, 9, 11 };
	ck_assert_uint_eq(s->actions->len, 4);
	for (guint i = 0; i < 4; i++)
		ck_assert_uint_eq(((ScenarioAction *)s->actions->pdata[i])->line, lines[i]);
}
END_TEST

/* ---- the generated internet ------------------------------------------------------------ */

#define INTERNET "title \"i\"\nseed 3\ninternet 3 domains, 7 users, 20 messages over 10m\n" \
                 "expect every message delivered\n"

static guint count_kind(const Scenario *s, ScenarioActionKind kind)
{
	guint n = 0;
	for (guint i = 0; i < s->actions->len; i++)
		n += ((ScenarioAction *)s->actions->pdata[i])->kind == kind;
	return n;
}

START_TEST(test_internet)
{
	GError *error = NULL;
	g_autoptr(Scenario) s = scenario_parse(INTERNET, -1, "i.scn", &error);
	ck_assert_msg(s != NULL, "%s", error ? error->message : "");
	/* a name server, a blacklist server, and per domain a mail host and a home network */
	ck_assert_uint_eq(s->hosts->len, 2 + 3 * 2);
	ck_assert_uint_eq(s->users->len, 7);
	ck_assert_uint_eq(s->zones->len, 3);
	ck_assert_uint_eq(s->clients->len, 7);
	ck_assert_uint_eq(count_kind(s, SCENARIO_ACTION_SETUP_ACCOUNT), 7);
	ck_assert_uint_eq(count_kind(s, SCENARIO_ACTION_SEND), 20);
	ck_assert_uint_eq(count_kind(s, SCENARIO_ACTION_FETCH), 7);
	ck_assert_uint_eq(s->expects->len, 1);
	ck_assert_int_eq(((ScenarioExpect *)s->expects->pdata[0])->kind, SCENARIO_EXPECT_ALL_DELIVERED);
	const ScenarioHost *mx = scenario_find_host(s, "mx.d2.example");
	ck_assert_ptr_nonnull(mx);
	ck_assert_uint_eq(mx->roles, SCENARIO_ROLE_MTA | SCENARIO_ROLE_MDA | SCENARIO_ROLE_MRA);
	ck_assert_str_eq(scenario_find_setting(s, "mx.d2.example", "smtpd_recipient_restrictions"),
	                 "permit_mynetworks, reject_unauth_destination, reject_rbl_client bl.internet.example");
	ck_assert_str_eq(scenario_find_user(s, "u2@d2.example")->host, "mx.d2.example");
	const ScenarioClient *c = scenario_find_client(s, "u2_d2");
	ck_assert(c != NULL && c->no_sent_copy && c->flavour == SCENARIO_FLAVOUR_MANUAL);
	ck_assert_str_eq(c->smtp_host, "mx.d2.example");
	ck_assert_str_eq(c->host, "net.d2.example");

	/* each message leaves its domain, in time order, within the 10 minutes */
	gint64 last = -1;
	for (guint i = 0; i < s->actions->len; i++) {
		const ScenarioAction *a = s->actions->pdata[i];
		ck_assert(a->time_us >= last);
		last = a->time_us;
		if (a->kind != SCENARIO_ACTION_SEND)
			continue;
		ck_assert(a->time_us >= 1000000 && a->time_us <= 601 * G_GINT64_CONSTANT(1000000));
		const char *from_domain = strchr(a->client, '_') + 1;
		const char *to_domain = strchr(a->to->pdata[0], '@') + 1;
		ck_assert_msg(strncmp(from_domain, to_domain, strlen(from_domain)) != 0 ||
		              to_domain[strlen(from_domain)] != '.', "%s -> %s", a->client, (char *)a->to->pdata[0]);
		ck_assert_ptr_nonnull(scenario_find_user(s, a->to->pdata[0]));
	}

	/* the same seed, the same traffic; another seed, other traffic */
	g_autoptr(Scenario) again = scenario_parse(INTERNET, -1, "i.scn", NULL);
	g_autofree char *other_text = g_strdup(INTERNET);
	other_text[strlen("title \"i\"\nseed ")] = '4';
	g_autoptr(Scenario) other = scenario_parse(other_text, -1, "i.scn", NULL);
	gboolean differs = FALSE;
	for (guint i = 0; i < s->actions->len; i++) {
		const ScenarioAction *a = s->actions->pdata[i], *b = again->actions->pdata[i],
		                     *o = other->actions->pdata[i];
		ck_assert_str_eq(a->text, b->text);
		differs |= strcmp(a->text, o->text) != 0;
	}
	ck_assert(differs);

	/* make check's smaller internet: the caller's counts win */
	ScenarioScale scale = { .domains = 2, .users = 4, .messages = 5 };
	g_autoptr(Scenario) small = scenario_parse_scaled(INTERNET, -1, "i.scn", &scale, &error);
	ck_assert_msg(small != NULL, "%s", error ? error->message : "");
	ck_assert_uint_eq(small->users->len, 4);
	ck_assert_uint_eq(count_kind(small, SCENARIO_ACTION_SEND), 5);
	ck_assert_ptr_null(scenario_find_host(small, "mx.d3.example"));
}
END_TEST

/* ---- the course ------------------------------------------------------------------------- */

START_TEST(test_course_scenario)
{
	GError *error = NULL;
	g_autoptr(Scenario) s = scenario_load_file(COURSE_PATH, &error);
	ck_assert_msg(s != NULL, "%s", error ? error->message : "");
	ck_assert_str_eq(s->filename, COURSE_PATH);
	ck_assert_str_eq(s->title, "From Alice to Bob");
	ck_assert_uint_eq(s->seed, 1);
	ck_assert_uint_eq(s->hosts->len, 6);
	ck_assert_uint_eq(s->links->len, 1);
	ck_assert_uint_eq(s->zones->len, 2);
	ck_assert_uint_eq(s->dnsbl->len, 1);
	ck_assert_uint_eq(s->users->len, 2);
	ck_assert_uint_eq(s->aliases->len, 1);
	ck_assert_uint_eq(s->domains->len, 2);
	ck_assert_uint_eq(s->settings->len, 1);
	ck_assert_uint_eq(s->sieves->len, 1);
	ck_assert_uint_eq(s->clients->len, 2);
	ck_assert_uint_eq(s->firewall->len, 0);
	ck_assert_uint_eq(s->actions->len, 4);
	ck_assert_uint_eq(s->expects->len, 5);

	const ScenarioHost *mail = scenario_find_host(s, "MAIL.example.com");
	ck_assert_ptr_nonnull(mail);
	ck_assert_str_eq(mail->address, "192.0.2.10");
	ck_assert_uint_eq(mail->roles, SCENARIO_ROLE_MTA | SCENARIO_ROLE_MDA | SCENARIO_ROLE_MRA | SCENARIO_ROLE_WEB);
	ck_assert_ptr_eq(scenario_find_host_by_address(s, "198.51.100.20"), scenario_find_host(s, "mx.example.org"));
	ck_assert_uint_eq(scenario_find_host(s, "ns.example.net")->roles, SCENARIO_ROLE_DNS);
	ck_assert_ptr_null(scenario_find_host(s, "nowhere"));

	const ScenarioLink *link = s->links->pdata[0];
	ck_assert_str_eq(link->a, "*");
	ck_assert_int_eq(link->latency_us, 20000);

	const ScenarioZone *org = s->zones->pdata[1];
	ck_assert_str_eq(org->origin, "example.org");
	ck_assert_str_eq(org->server, "ns.example.net");
	ck_assert_ptr_nonnull(strstr(org->text, "_autodiscover._tcp SRV 0 0 443 autodiscover.example.org."));
	ck_assert_ptr_nonnull(strstr(((ScenarioZone *)s->zones->pdata[0])->text, "autoconfig   A  192.0.2.10"));

	const ScenarioDnsblEntry *rbl = s->dnsbl->pdata[0];
	ck_assert_str_eq(rbl->zone, "rbl.example.net");
	ck_assert_str_eq(rbl->listed, "203.0.113.66");
	ck_assert_str_eq(rbl->code, SCENARIO_DNSBL_DEFAULT_CODE);

	const ScenarioUser *bob = scenario_find_user(s, "Bob@Example.org");
	ck_assert_ptr_nonnull(bob);
	ck_assert_str_eq(bob->password, "builder");
	ck_assert_str_eq(bob->host, "mx.example.org");
	ck_assert_str_eq(scenario_find_domain(s, "example.com")->host, "mail.example.com");
	ck_assert(scenario_find_domain(s, "example.org")->implied);

	ck_assert_str_eq(scenario_find_setting(s, "mx.example.org", "smtpd_recipient_restrictions"),
	                 "permit_mynetworks, reject_unauth_destination, reject_rbl_client rbl.example.net");
	const ScenarioSetting *policy = s->settings->pdata[0];
	ck_assert_uint_eq(g_strv_length(policy->items), 4);
	ck_assert_str_eq(policy->items[2], "reject_rbl_client");
	ck_assert_ptr_null(scenario_find_setting(s, "mail.example.com", "smtpd_recipient_restrictions"));

	const ScenarioSieve *sieve = s->sieves->pdata[0];
	ck_assert_ptr_nonnull(strstr(sieve->text, "fileinto \"Lists\";"));

	const ScenarioClient *alice = scenario_find_client(s, "alice");
	ck_assert_int_eq(alice->flavour, SCENARIO_FLAVOUR_THUNDERBIRD);
	ck_assert_str_eq(alice->host, "home-pc-alice");
	ck_assert_str_eq(alice->display_name, "Alice");
	ck_assert_int_eq(scenario_find_client(s, "bob")->flavour, SCENARIO_FLAVOUR_OUTLOOK);

	const ScenarioActionKind kinds[] = { SCENARIO_ACTION_SETUP_ACCOUNT, SCENARIO_ACTION_SEND,
		                                 SCENARIO_ACTION_SETUP_ACCOUNT, SCENARIO_ACTION_FETCH };
	const gint64 times[] = { 0, 2000000, 5000000, 6000000 };
	for (guint i = 0; i < 4; i++) {
		const ScenarioAction *a = s->actions->pdata[i];
		ck_assert_int_eq(a->kind, kinds[i]);
		ck_assert_int_eq(a->time_us, times[i]);
	}
	const ScenarioAction *send = s->actions->pdata[1];
	ck_assert_str_eq(send->subject, "Hello Bob");
	ck_assert_str_eq(send->body, "See you at 5?");
	ck_assert_str_eq(send->to->pdata[0], "bob@example.org");
	ck_assert_int_eq(((ScenarioAction *)s->actions->pdata[3])->protocol, SCENARIO_PROTOCOL_IMAP);

	const ScenarioExpect *inbox = s->expects->pdata[0];
	ck_assert_int_eq(inbox->kind, SCENARIO_EXPECT_FOLDER_COUNT);
	ck_assert_str_eq(inbox->folder, "INBOX");
	ck_assert_uint_eq(inbox->count, 1);
	ck_assert_str_eq(inbox->subject, "Hello Bob");
	const ScenarioExpect *steps = s->expects->pdata[2];
	ck_assert_int_eq(steps->kind, SCENARIO_EXPECT_STEPS_IN_ORDER);
	/* Alice's Thunderbird shows setup.1, .4 and .7; then the whole path */
	ck_assert_uint_eq(steps->steps->len, 3 + 5 + 8);
	ck_assert_str_eq(steps->steps->pdata[0], "setup.1");
	ck_assert_str_eq(steps->steps->pdata[1], "setup.4");
	ck_assert_str_eq(steps->steps->pdata[3], "out.1");
	ck_assert_str_eq(steps->steps->pdata[15], "in.8");
	const ScenarioExpect *outlook = s->expects->pdata[3];
	ck_assert_int_eq(outlook->kind, SCENARIO_EXPECT_STEPS_SEEN);
	ck_assert_uint_eq(outlook->steps->len, 2);
	const ScenarioExpect *no_manual = s->expects->pdata[4];
	ck_assert_int_eq(no_manual->kind, SCENARIO_EXPECT_STEP);
	ck_assert_int_eq(no_manual->step_state, SCENARIO_STEP_NOT_SEEN);
}
END_TEST

START_TEST(test_load_file_errors)
{
	GError *error = NULL;
	ck_assert_ptr_null(scenario_load_file("/nonexistent/dir/x.scn", &error));
	ck_assert(g_error_matches(error, SCENARIO_ERROR, SCENARIO_ERROR_IO));
	g_clear_error(&error);

	g_autofree char *dir = ms_test_tmpdir();
	g_autofree char *path = g_build_filename(dir, "bad.scn", NULL);
	ck_assert(g_file_set_contents(path, "title \"t\"\nlink * latency 20\n", -1, NULL));
	ck_assert_ptr_null(scenario_load_file(path, &error));
	g_autofree char *prefix = g_strdup_printf("%s:2:16: expected a duration", path);
	ck_assert_msg(g_str_has_prefix(error->message, prefix), "%s", error->message);
	g_clear_error(&error);
	ms_test_rmtree(dir);
}
END_TEST

/* ---- values ------------------------------------------------------------------------------ */

typedef struct {
	const char *text;
	gint64      us;    /* -1: invalid */
} DurationCase;

static const DurationCase duration_cases[] = {
	{ "0", 0 }, { "0s", 0 }, { "2s", 2000000 }, { "250ms", 250000 }, { "1m30s", 90000000 },
	{ "40m", 2400000000 }, { "4h", G_GINT64_CONSTANT(14400000000) }, { "2d", G_GINT64_CONSTANT(172800000000) },
	{ "1h1m1s1ms1us", G_GINT64_CONSTANT(3661001001) }, { "7us", 7 }, { "366d", SCENARIO_MAX_DURATION_US },
	{ "20", -1 }, { "", -1 }, { "s", -1 }, { "1s1s", -1 }, { "30s1m", -1 }, { "1.5s", -1 }, { "-1s", -1 },
	{ "2S", 2000000 }, { "1M30S", 90000000 }, { "1 s", -1 }, { "367d", -1 }, { "366d1us", -1 }, { "9999999999999s", -1 }, { "1w", -1 },
	{ "1ms1s", -1 }, { "10sec", -1 },
};

START_TEST(test_durations)
{
	const DurationCase *c = &duration_cases[_i];
	gint64 us = 12345;
	gboolean ok = scenario_parse_duration(c->text, &us);
	if (c->us < 0) {
		ck_assert_msg(!ok, "\"%s\" parsed", c->text);
		ck_assert_int_eq(us, 12345);
		return;
	}
	ck_assert_msg(ok, "\"%s\" refused", c->text);
	ck_assert_int_eq(us, c->us);
	/* and back */
	g_autofree char *again = scenario_format_duration(us);
	gint64 round;
	ck_assert(scenario_parse_duration(again, &round));
	ck_assert_int_eq(round, us);
}
END_TEST

START_TEST(test_format_duration)
{
	g_autofree char *a = scenario_format_duration(90000000);
	g_autofree char *b = scenario_format_duration(0);
	g_autofree char *c = scenario_format_duration(250000);
	g_autofree char *d = scenario_format_duration(G_GINT64_CONSTANT(90061000001));
	ck_assert_str_eq(a, "1m30s");
	ck_assert_str_eq(b, "0s");
	ck_assert_str_eq(c, "250ms");
	ck_assert_str_eq(d, "1d1h1m1s1us");
	ck_assert_ptr_null(scenario_format_duration(-1));
	ck_assert_ptr_null(scenario_format_duration(SCENARIO_MAX_DURATION_US + 1));
}
END_TEST

typedef struct {
	const char *text;
	guint64     value;   /* 0: invalid */
} UnitCase;

static const UnitCase rate_cases[] = {
	{ "1MB/s", 1000000 }, { "100kB/s", 100000 }, { "100KB/s", 100000 }, { "2MiB/s", 2097152 },
	{ "10Mbit/s", 1250000 }, { "56kbps", 7000 }, { "1bit/s", 1 }, { "9b/s", 1 }, { "1GB/s", 1000000000 },
	{ "1B/s", 1 }, { "1TB/s", SCENARIO_MAX_RATE }, { "8Mb/s", 1000000 },
	{ "10", 0 }, { "0MB/s", 0 }, { "1MB", 0 }, { "1.5MB/s", 0 }, { "MB/s", 0 }, { "1mB/s", 0 }, { "2TB/s", 0 },
	{ "1 MB/s", 0 }, { "1XB/s", 0 }, { "", 0 }, { "999999999999GiB/s", 0 },
};

START_TEST(test_rates)
{
	const UnitCase *c = &rate_cases[_i];
	guint64 value = 7;
	gboolean ok = scenario_parse_rate(c->text, &value);
	ck_assert_msg(ok == (c->value != 0), "\"%s\": %d", c->text, ok);
	ck_assert_uint_eq(value, c->value ? c->value : 7);
}
END_TEST

static const UnitCase size_cases[] = {
	{ "42B", 42 }, { "500kB", 500000 }, { "100MB", 100000000 }, { "1GiB", 1073741824 }, { "3KiB", 3072 },
	{ "1024TiB", SCENARIO_MAX_SIZE },
	{ "100", 0 }, { "1MB/s", 0 }, { "1Mb", 0 }, { "B", 0 }, { "1025TiB", 0 }, { "-1B", 0 },
};

START_TEST(test_sizes)
{
	const UnitCase *c = &size_cases[_i];
	guint64 value = 7;
	gboolean ok = scenario_parse_size(c->text, &value);
	ck_assert_msg(ok == (c->value != 0), "\"%s\": %d", c->text, ok);
	ck_assert_uint_eq(value, c->value ? c->value : 7);
	guint64 zero;
	ck_assert(scenario_parse_size("0B", &zero) && zero == 0);
}
END_TEST

typedef struct {
	const char *value;
	const char *items;  /* joined with | */
} ListCase;

static const ListCase list_cases[] = {
	{ "permit_mynetworks, reject_unauth_destination", "permit_mynetworks|reject_unauth_destination" },
	{ "a,b c\td\r\ne", "a|b|c|d|e" },
	{ "  ,, a ,,", "a" },
	{ "", "" },
	{ " ,\t, ", "" },
	{ "reject_rbl_client rbl.example.net", "reject_rbl_client|rbl.example.net" },
	{ "{ 192.0.2.0/24, 10.0.0.0/8 }, 127.0.0.0/8", "{ 192.0.2.0/24, 10.0.0.0/8 }|127.0.0.0/8" },
	{ "check_x { a, { b c } }, d", "check_x|{ a, { b c } }|d" },
	{ "{a, b", "{a, b" },
	{ "a}, b", "a}|b" },
	{ "$mydestination, localhost", "$mydestination|localhost" },
};

START_TEST(test_setting_list)
{
	const ListCase *c = &list_cases[_i];
	g_auto(GStrv) items = scenario_setting_list(c->value);
	g_autofree char *joined = g_strjoinv("|", items);
	ck_assert_str_eq(joined, c->items);
}
END_TEST

START_TEST(test_step_ids)
{
	const char *good[] = { "setup.1", "setup.7", "out.5", "in.8", "retr.1", "def.12", "in.999" };
	const char *bad[] = { "in.0", "in.01", "in.1000", "in", "in.", ".1", "setup1", "inn.1", "IN.1", "in.1a", "in.-1",
		                  "in.1.2", "" };
	for (guint i = 0; i < G_N_ELEMENTS(good); i++)
		ck_assert_msg(scenario_step_id_valid(good[i]), "%s", good[i]);
	for (guint i = 0; i < G_N_ELEMENTS(bad); i++)
		ck_assert_msg(!scenario_step_id_valid(bad[i]), "%s", bad[i]);
}
END_TEST

START_TEST(test_enum_names)
{
	ck_assert_str_eq(scenario_error_to_string(SCENARIO_ERROR_LIMIT), "limit");
	ck_assert_str_eq(scenario_role_to_string(SCENARIO_ROLE_MUA), "mua");
	ck_assert_str_eq(scenario_client_flavour_to_string(SCENARIO_FLAVOUR_RFC6186), "rfc6186");
	ck_assert_str_eq(scenario_protocol_to_string(SCENARIO_PROTOCOL_POP3), "pop3");
	ck_assert_str_eq(scenario_firewall_action_to_string(SCENARIO_FW_DROP), "drop");
	ck_assert_str_eq(scenario_firewall_proto_to_string(SCENARIO_FW_UDP), "udp");
	ck_assert_str_eq(scenario_fetch_mode_to_string(SCENARIO_FETCH_KEEP), "keep");
	ck_assert_str_eq(scenario_mark_to_string(SCENARIO_MARK_FLAGGED), "flagged");
	ck_assert_str_eq(scenario_step_state_to_string(SCENARIO_STEP_NOT_SEEN), "not seen");
	for (int k = SCENARIO_ACTION_SETUP_ACCOUNT; k <= SCENARIO_ACTION_RAW_SESSION; k++)
		ck_assert_str_ne(scenario_action_kind_to_string((ScenarioActionKind)k), "unknown");
	for (int k = SCENARIO_EXPECT_FOLDER_COUNT; k <= SCENARIO_EXPECT_QUEUE_EMPTY; k++)
		ck_assert_str_ne(scenario_expect_kind_to_string((ScenarioExpectKind)k), "unknown");
	ck_assert_str_eq(scenario_action_kind_to_string((ScenarioActionKind)99), "unknown");
}
END_TEST

static Suite *scenario_suite(void)
{
	Suite *s = suite_create("scenario");
	TCase *tc = tcase_create("tables");
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, test_valid_statements, 0, G_N_ELEMENTS(valid_cases));
	tcase_add_loop_test(tc, test_invalid_statements, 0, G_N_ELEMENTS(invalid_cases));
	tcase_add_loop_test(tc, test_durations, 0, G_N_ELEMENTS(duration_cases));
	tcase_add_loop_test(tc, test_rates, 0, G_N_ELEMENTS(rate_cases));
	tcase_add_loop_test(tc, test_sizes, 0, G_N_ELEMENTS(size_cases));
	tcase_add_loop_test(tc, test_setting_list, 0, G_N_ELEMENTS(list_cases));
	suite_add_tcase(s, tc);
	MS_ADD_TEST(s, test_heredoc_lines, 10);
	MS_ADD_TEST(s, test_errors_collected, 10);
	MS_ADD_TEST(s, test_no_title_and_nul, 10);
	MS_ADD_TEST(s, test_limits, 60);
	MS_ADD_TEST(s, test_actions_sorted, 10);
	MS_ADD_TEST(s, test_internet, 10);
	MS_ADD_TEST(s, test_course_scenario, 10);
	MS_ADD_TEST(s, test_load_file_errors, 10);
	MS_ADD_TEST(s, test_format_duration, 10);
	MS_ADD_TEST(s, test_step_ids, 10);
	MS_ADD_TEST(s, test_enum_names, 10);
	return s;
}

MS_TEST_MAIN(scenario_suite)
