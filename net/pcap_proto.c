/* net/pcap_proto.c - the bytes of one direction of a captured connection,
 * read the way its protocol reads them, and the course steps they show.
 *
 * Each direction has a mode saying how the next bytes read: as protocol
 * lines (one event each), a message body up to "." (RFC 5321 4.5.2,
 * RFC 1939 3), an IMAP literal (RFC 9051 4.3), an HTTP body (RFC 9112 6),
 * DNS messages with a length prefix (RFC 1035 4.2.2), or TLS nobody can read.
 */
#include "net/pcap_decode_impl.h"
#include "net/dns_wire.h"

#include <string.h>

#define MASK "••••••"
#define VERB_CONNECT "(connect)"

static const char *const app_names[APP_COUNT] = {
	"none", "smtp", "lmtp", "imap", "pop3", "dns", "http", "auth",
};

const char *pcap_proto_app_name(App app)
{
	return (guint)app < APP_COUNT ? app_names[app] : "?";
}

/* ---- the course steps, as tables ------------------------------------------
 * A client line takes the step of the first rule that matches its
 * protocol, the port's role and its command verb (NULL: any); the
 * connection itself and the greeting use VERB_CONNECT.  A reply takes the
 * step of the command it answers, through reply_steps. */

typedef struct {
	App         app;
	Role        role;
	const char *verb;
	const char *step;
} StepRule;

static const StepRule step_rules[] = {
	{ APP_SMTP, ROLE_ANY,        "AUTH",       "out.1" },  /* the MUA authenticates */
	{ APP_SMTP, ROLE_SUBMISSION, NULL,         "out.1" },  /* the MUA hands its message over */
	{ APP_SMTP, ROLE_RELAY,      VERB_CONNECT, "in.1" },   /* a server connects to port 25 */
	{ APP_SMTP, ROLE_RELAY,      NULL,         "in.2" },   /* the dialogue: sender, recipients */
	{ APP_LMTP, ROLE_ANY,        NULL,         "in.6" },   /* the MTA passes the message to the MDA */
	{ APP_IMAP, ROLE_ANY,        NULL,         "in.8" },   /* the MUA fetches the mail */
	{ APP_POP3, ROLE_ANY,        NULL,         "in.8" },
	{ APP_AUTH, ROLE_ANY,        "AUTH",       "out.2" },  /* the MTA asks: are these credentials right? */
	{ APP_AUTH, ROLE_ANY,        "RCPT",       "in.4" },   /* the MTA asks: is this a user? */
};

static const struct {
	const char *asked;
	const char *answer;
} reply_steps[] = {
	{ "out.2", "out.3" },   /* the auth service looked the account up */
	{ "in.4", "in.5" },     /* the MDA looked the recipient up */
};

/* HTTP: what the MUA fetches (the path, case-insensitive). */
static const struct {
	const char *path_part;
	const char *step;
} http_steps[] = {
	{ "autodiscover", "setup.3" },      /* Outlook-style: the prepared XML */
	{ "config-v1.1.xml", "setup.4" },   /* Thunderbird-style autoconfig */
	{ "autoconfig", "setup.4" },
};

static gboolean is_mx_query(const char *n, guint16 t, gboolean mx_host) { return t == DNS_TYPE_MX; }

static gboolean is_mx_address(const char *n, guint16 t, gboolean mx_host)
{
	return mx_host && (t == DNS_TYPE_A || t == DNS_TYPE_AAAA);
}

/* "10.2.0.192.rbl.example.net.": four numbers 0-255, then a zone that is
 * not in-addr.arpa (RFC 5782 2.1: a DNSBL query reverses the address). */
static gboolean is_dnsbl_query(const char *n, guint16 t, gboolean mx_host)
{
	g_auto(GStrv) labels = g_strsplit(n, ".", 6);
	if (g_strv_length(labels) < 6 || g_str_has_suffix(n, ".in-addr.arpa.") || g_str_has_suffix(n, ".in-addr.arpa"))
		return FALSE;
	for (int i = 0; i < 4; i++) {
		char *end;
		guint64 v = g_ascii_strtoull(labels[i], &end, 10);
		if (!labels[i][0] || *end || v > 255 || strlen(labels[i]) > 3)
			return FALSE;
	}
	return TRUE;
}

/* RFC 1035 3.5: the client's name, asked to see a dynamic range */
static gboolean is_reverse_query(const char *n, guint16 t, gboolean mx_host)
{
	return t == DNS_TYPE_PTR;
}

static gboolean is_autodiscover_query(const char *n, guint16 t, gboolean mx_host)
{
	return g_ascii_strncasecmp(n, "_autodiscover._tcp.", 19) == 0 || g_ascii_strncasecmp(n, "autodiscover.", 13) == 0;
}

/* the MUA looks up the host autoconfig.DOMAIN to ask it for the file */
static gboolean is_autoconfig_query(const char *n, guint16 t, gboolean mx_host)
{
	return g_ascii_strncasecmp(n, "autoconfig.", 11) == 0;
}

static const struct {
	gboolean  (*match)(const char *qname, guint16 qtype, gboolean is_mx_host);
	const char *step;
} dns_steps[] = {
	{ is_mx_query, "out.4" },           /* the MTA asks for the domain's MX records */
	{ is_mx_address, "out.4" },         /* then the address of the MX host */
	{ is_dnsbl_query, "in.3" },         /* an RBL lookup of the client's address */
	{ is_reverse_query, "in.3" },       /* the client's name: a dynamic range? */
	{ is_autodiscover_query, "setup.2" },
	{ is_autoconfig_query, "setup.4" },
};

const char *pcap_proto_dns_step(const char *qname, guint16 qtype, gboolean is_mx_host)
{
	if (!qname)
		return NULL;
	for (guint i = 0; i < G_N_ELEMENTS(dns_steps); i++)
		if (dns_steps[i].match(qname, qtype, is_mx_host))
			return dns_steps[i].step;
	return NULL;
}

static const char *step_for(App app, Role role, const char *verb)
{
	for (guint i = 0; i < G_N_ELEMENTS(step_rules); i++) {
		const StepRule *r = &step_rules[i];
		if (r->app != app || (r->role != ROLE_ANY && r->role != role))
			continue;
		if (r->verb && (!verb || g_ascii_strcasecmp(r->verb, verb) != 0))
			continue;
		return r->step;
	}
	return NULL;
}

static const char *reply_step(const char *asked)
{
	for (guint i = 0; i < G_N_ELEMENTS(reply_steps); i++)
		if (!g_strcmp0(reply_steps[i].asked, asked))
			return reply_steps[i].answer;
	return asked;
}

const char *pcap_proto_connect_step(const Flow *f)
{
	return step_for(f->app, f->role, VERB_CONNECT);
}

/* ---- events ---------------------------------------------------------------- */

void pcap_proto_emit(PcapDecoder *d, MsEventKind kind, const char *from, const char *to,
                     const char *proto, const char *step, guint64 conn, const char *text,
                     const guint8 *payload, gsize len, const MsNetInfo *net)
{
	g_autoptr(GBytes) bytes = payload ? g_bytes_new(payload, len) : NULL;
	MsEvent ev = { .t_us = d->now, .kind = kind, .from = from, .to = to, .proto = proto,
	               .step = step, .text = text, .conn = conn, .payload = bytes };
	if (net)
		ev.net = *net;
	d->stats.events++;
	d->emit(&ev, d->emit_data);
}

MsNetInfo pcap_proto_dir_net(const Dir *dir, MsNetAction action)
{
	const Flow *f = dir->flow;
	MsNetInfo net = { .action = action, .transport = ms_net_action_transport(action),
	                  .src = f->ep[dir->side], .dst = f->ep[1 - dir->side] };
	return net;
}

void pcap_proto_emit_dir(PcapDecoder *d, Dir *dir, MsEventKind kind, MsNetAction action,
                         const char *step, const char *text, const guint8 *payload, gsize len)
{
	Flow *f = dir->flow;
	MsNetInfo net = pcap_proto_dir_net(dir, action);
	pcap_proto_emit(d, kind, f->name[dir->side], f->name[1 - dir->side], app_names[f->app], step,
	                f->id, text, payload, len, action == MS_NET_NONE ? NULL : &net);
}

/* A protocol line, "C: ..." or "S: ...", as the simulation writes it: the
 * bytes of the line on the wire, from the sender to the other end. */
static void emit_line(PcapDecoder *d, Dir *dir, const char *step, const char *shown,
                      const guint8 *raw, gsize len)
{
	g_autofree char *text = g_strconcat(dir->side == CLIENT ? "C: " : "S: ", shown, NULL);
	pcap_proto_emit_dir(d, dir, MS_EV_SEND, MS_NET_DATA, step, text, raw, len);
}

static void emit_dir_printf(PcapDecoder *d, Dir *dir, MsEventKind kind, const char *step,
                            const guint8 *payload, gsize len, const char *fmt, ...) G_GNUC_PRINTF(7, 8);

static void emit_dir_printf(PcapDecoder *d, Dir *dir, MsEventKind kind, const char *step,
                            const guint8 *payload, gsize len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *text = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	pcap_proto_emit_dir(d, dir, kind, kind == MS_EV_SEND && payload && len ? MS_NET_DATA : MS_NET_NONE, step,
	                    text, payload, len);
}

/* The step of what this side says now. */
const char *pcap_proto_dir_step(Dir *dir)
{
	Flow *f = dir->flow;
	if (f->app == APP_HTTP)
		return f->http_step;
	if (!f->client_spoke)
		return pcap_proto_connect_step(f);
	return dir->side == CLIENT ? f->last_step : reply_step(f->last_step);
}

/* ---- bodies shown as one summary ------------------------------------------- */

static void body_start(Dir *dir)
{
	if (dir->body)
		g_byte_array_set_size(dir->body, 0);
	else
		dir->body = g_byte_array_new();
	dir->body_bytes = dir->body_lines = 0;
	dir->body_gap = FALSE;
}

/* Bytes of the body's payload that its summary does not count: the
 * framing of a chunked body, the line ending after a literal. */
static void body_keep(Dir *dir, const guint8 *data, gsize len)
{
	if (!dir->body)
		return;
	if (dir->body->len + len > PCAP_DECODE_MAX_BODY_PAYLOAD)
		g_clear_pointer(&dir->body, g_byte_array_unref);   /* too big to carry */
	else
		g_byte_array_append(dir->body, data, (guint)len);
}

static void body_add(Dir *dir, const guint8 *data, gsize len)
{
	dir->body_bytes += len;
	body_keep(dir, data, len);
}

/* "C: (message: 349 bytes, 10 lines)" and the bytes as payload: data on
 * the wire, when they were all kept. */
static void body_end(PcapDecoder *d, Dir *dir, const char *what, gboolean with_lines)
{
	GString *text = g_string_new(dir->side == CLIENT ? "C: (" : "S: (");
	g_string_append_printf(text, "%s: %" G_GUINT64_FORMAT " bytes", what, dir->body_bytes);
	if (with_lines)
		g_string_append_printf(text, ", %" G_GUINT64_FORMAT " lines", dir->body_lines);
	if (dir->body_gap)
		g_string_append(text, ", partly not captured");
	g_string_append_c(text, ')');
	gboolean bytes = dir->body && dir->body->len > 0;
	pcap_proto_emit_dir(d, dir, MS_EV_SEND, bytes ? MS_NET_DATA : MS_NET_NONE, pcap_proto_dir_step(dir),
	                    text->str, bytes ? dir->body->data : NULL, bytes ? dir->body->len : 0);
	g_string_free(text, TRUE);
	g_clear_pointer(&dir->body, g_byte_array_unref);
}

static void count_start(Dir *dir, guint64 n, Mode after, const char *what)
{
	dir->mode = MODE_COUNT;
	dir->remaining = n;
	dir->after_count = after;
	dir->count_what = what;
	dir->until_close = FALSE;
	if (what)
		body_start(dir);
}

static void count_done(PcapDecoder *d, Dir *dir)
{
	dir->mode = dir->after_count;
	if (dir->literal_tail)
		dir->literal_held = TRUE;   /* its line ending may follow: shown with it */
	else if (dir->count_what)
		body_end(d, dir, dir->count_what, FALSE);
}

/* Show the IMAP literal held for the line ending after it. */
static void literal_flush(PcapDecoder *d, Dir *dir)
{
	if (!dir->literal_held)
		return;
	dir->literal_held = FALSE;
	body_end(d, dir, dir->count_what, FALSE);
}

/* ---- words of a line -------------------------------------------------------- */

/* Printable text of a line, by the rules of ms_conn_escape (net/conn.c) so
 * captured lines read like simulated ones: valid UTF-8 stays, control bytes
 * become \r, \n, \t or \xNN.  (Kept here so the decoder links without the
 * connection layer and its scheduler.) */
static char *escape_line(const guint8 *data, gsize len)
{
	GString *out = g_string_sized_new(len + 8);
	const char *p = (const char *)data, *end = p + len;
	while (p < end) {
		guchar ch = (guchar)*p;
		if (ch >= 0x80) {
			gunichar u = g_utf8_get_char_validated(p, end - p);
			if (u != (gunichar)-1 && u != (gunichar)-2) {
				const char *next = g_utf8_next_char(p);
				g_string_append_len(out, p, next - p);
				p = next;
				continue;
			}
			g_string_append_printf(out, "\\x%02X", ch);
		} else if (ch == '\r') {
			g_string_append(out, "\\r");
		} else if (ch == '\n') {
			g_string_append(out, "\\n");
		} else if (ch == '\t') {
			g_string_append(out, "\\t");
		} else if (ch < 0x20 || ch == 0x7f) {
			g_string_append_printf(out, "\\x%02X", ch);
		} else {
			g_string_append_c(out, (char)ch);
		}
		p++;
	}
	return g_string_free(out, FALSE);
}

/* The first word, upper-cased ("RCPT"); newly allocated, "" for none. */
static char *word_at(const char *line, guint index)
{
	const char *p = line;
	for (guint i = 0;; i++) {
		while (*p == ' ')
			p++;
		const char *end = p;
		while (*end && *end != ' ')
			end++;
		if (i == index)
			return g_ascii_strup(p, end - p);
		if (!*end)
			return g_strdup("");
		p = end;
	}
}

/* The line with everything after its first n words masked. */
static char *mask_after(const char *line, guint n)
{
	const char *p = line;
	for (guint i = 0; i < n; i++) {
		while (*p == ' ')
			p++;
		while (*p && *p != ' ')
			p++;
	}
	while (*p == ' ')
		p++;
	if (!*p)
		return g_strdup(line);
	return g_strdup_printf("%.*s" MASK, (int)(p - line), line);
}

static gboolean is_dot_line(const guint8 *raw, gsize len)
{
	return (len == 3 && memcmp(raw, ".\r\n", 3) == 0) || (len == 2 && memcmp(raw, ".\n", 2) == 0);
}

/* RFC 9051 4.3: a line ending in {N} or {N+} announces N bytes of literal. */
static gboolean imap_literal(const char *shown, guint64 *n)
{
	gsize len = strlen(shown);
	if (len < 3 || shown[len - 1] != '}')
		return FALSE;
	const char *open = strrchr(shown, '{');
	if (!open)
		return FALSE;
	char *end;
	guint64 v = g_ascii_strtoull(open + 1, &end, 10);
	if (end == open + 1 || (*end != '}' && !(end[0] == '+' && end[1] == '}')) || v > G_MAXUINT32)
		return FALSE;
	*n = v;
	return TRUE;
}

/* ---- the protocols, one line at a time -------------------------------------- */

/* SMTP and LMTP share the grammar (RFC 2033 4.1). */
static void smtp_line(PcapDecoder *d, Dir *dir, const char *shown, const guint8 *raw, gsize len)
{
	Flow *f = dir->flow;
	if (dir->side == CLIENT) {
		g_autofree char *verb = word_at(shown, 0);
		g_autofree char *masked = NULL;
		if (f->secret_next) {
			masked = g_strdup(MASK);   /* RFC 4954 4: the answer to a 334 challenge */
			f->secret_next = FALSE;
		} else if (!strcmp(verb, "AUTH")) {
			masked = mask_after(shown, 2);   /* RFC 4954 4: the initial response */
		}
		const char *step = step_for(f->app, f->role, verb);
		f->client_spoke = TRUE;
		f->last_step = step;
		emit_line(d, dir, step, masked ? masked : shown, raw, len);
		if (!strcmp(verb, "DATA")) {
			f->smtp_data_asked = TRUE;
		} else if (!strcmp(verb, "BDAT")) {
			/* RFC 3030 2: the chunk follows the command line at once */
			g_autofree char *size = word_at(shown, 1);
			char *end;
			guint64 n = g_ascii_strtoull(size, &end, 10);
			if (*size && !*end && n > 0)
				count_start(dir, n, MODE_LINES, "BDAT chunk");
		}
		return;
	}
	emit_line(d, dir, pcap_proto_dir_step(dir), shown, raw, len);
	f->secret_next = g_str_has_prefix(shown, "334");
	if (g_str_has_prefix(shown, "354") && f->smtp_data_asked) {
		/* RFC 5321 4.1.1.4: now the client sends the message */
		f->smtp_data_asked = FALSE;
		Dir *c = &f->dir[CLIENT];
		c->mode = MODE_SMTP_BODY;
		body_start(c);
	}
}

static void imap_line(PcapDecoder *d, Dir *dir, const char *shown, const guint8 *raw, gsize len)
{
	Flow *f = dir->flow;
	g_autofree char *masked = NULL;
	gboolean tail = dir->literal_tail;
	dir->literal_tail = FALSE;
	if (tail && !*shown && dir->literal_held) {
		/* only the line ending after a literal: its bytes go with it */
		body_keep(dir, raw, len);
		literal_flush(d, dir);
		return;
	}
	literal_flush(d, dir);
	if (tail && !*shown)
		return;
	if (dir->side == CLIENT) {
		g_autofree char *verb = word_at(shown, 1);   /* after the tag */
		if (f->auth_pending)
			masked = g_strdup(MASK);
		else if (!strcmp(verb, "LOGIN"))
			masked = mask_after(shown, 3);           /* RFC 9051 6.2.3: the password */
		else if (!strcmp(verb, "AUTHENTICATE")) {
			masked = mask_after(shown, 3);
			f->auth_pending = TRUE;
		}
		f->client_spoke = TRUE;
		f->last_step = step_for(f->app, f->role, verb);
	} else if (shown[0] != '*' && shown[0] != '+') {
		f->auth_pending = FALSE;   /* a tagged answer ends an exchange */
	}
	emit_line(d, dir, pcap_proto_dir_step(dir), masked ? masked : shown, raw, len);
	guint64 n;
	if (imap_literal(shown, &n) && n > 0) {
		count_start(dir, n, MODE_LINES, "literal");
		dir->literal_tail = TRUE;
	}
}

static void pop3_line(PcapDecoder *d, Dir *dir, const char *shown, const guint8 *raw, gsize len)
{
	Flow *f = dir->flow;
	if (dir->side == CLIENT) {
		f->client_spoke = TRUE;
		if (f->auth_pending) {
			/* RFC 5034 4: a line answering the server's "+ " challenge */
			emit_line(d, dir, f->last_step, MASK, raw, len);
			return;
		}
		g_autofree char *verb = word_at(shown, 0);
		g_autofree char *arg = word_at(shown, 1);
		g_autofree char *masked = NULL;
		if (!strcmp(verb, "PASS")) {
			masked = mask_after(shown, 1);   /* RFC 1939 7 */
		} else if (!strcmp(verb, "AUTH") && *arg) {
			masked = mask_after(shown, 2);   /* RFC 5034 4: the initial response */
			f->auth_pending = TRUE;
		}
		/* RFC 1939 5, RFC 2449 5: the commands whose answer has lines */
		Pop3Answer expect = POP3_SINGLE;
		if (!strcmp(verb, "RETR") || !strcmp(verb, "TOP"))
			expect = POP3_MESSAGE;
		else if (((!strcmp(verb, "LIST") || !strcmp(verb, "UIDL") || !strcmp(verb, "AUTH")) && !*arg) ||
		         !strcmp(verb, "CAPA"))
			expect = POP3_LIST;
		if (f->pop3_count < POP3_MAX_PIPELINE) {
			f->pop3_expect[(f->pop3_head + f->pop3_count) % POP3_MAX_PIPELINE] = (guint8)expect;
			f->pop3_count++;
		}
		f->last_step = step_for(f->app, f->role, verb);
		emit_line(d, dir, f->last_step, masked ? masked : shown, raw, len);
		return;
	}
	emit_line(d, dir, pcap_proto_dir_step(dir), shown, raw, len);
	gboolean ok = g_str_has_prefix(shown, "+OK"), err = g_str_has_prefix(shown, "-ERR");
	if (!ok && !err)
		return;   /* a "+ " challenge, or noise */
	f->auth_pending = FALSE;
	Pop3Answer expect = POP3_SINGLE;
	if (f->pop3_count > 0) {
		expect = f->pop3_expect[f->pop3_head];
		f->pop3_head = (f->pop3_head + 1) % POP3_MAX_PIPELINE;
		f->pop3_count--;
	}
	if (ok && expect == POP3_MESSAGE) {
		dir->mode = MODE_POP3_BODY;
		body_start(dir);
	} else if (ok && expect == POP3_LIST) {
		dir->mode = MODE_POP3_LIST;
	}
}

/* mailsim's account service: "AUTH user password", "RCPT address". */
static void auth_line(PcapDecoder *d, Dir *dir, const char *shown, const guint8 *raw, gsize len)
{
	Flow *f = dir->flow;
	if (dir->side == CLIENT) {
		g_autofree char *verb = word_at(shown, 0);
		g_autofree char *masked = !strcmp(verb, "AUTH") ? mask_after(shown, 2) : NULL;
		const char *step = step_for(f->app, f->role, verb);
		f->client_spoke = TRUE;
		if (step)
			f->last_step = step;
		emit_line(d, dir, f->last_step, masked ? masked : shown, raw, len);
		return;
	}
	emit_line(d, dir, f->client_spoke ? reply_step(f->last_step) : NULL, shown, raw, len);
}

static const char *http_step_for(const char *path)
{
	g_autofree char *lower = g_ascii_strdown(path, -1);
	for (guint i = 0; i < G_N_ELEMENTS(http_steps); i++)
		if (strstr(lower, http_steps[i].path_part))
			return http_steps[i].step;
	return NULL;
}

/* RFC 9112: a start line, fields, an empty line, then a body framed by
 * Content-Length or chunked coding (6.3), or by the close of a response. */
static void http_line(PcapDecoder *d, Dir *dir, const char *shown, const guint8 *raw, gsize len)
{
	Flow *f = dir->flow;
	if (!dir->http_in_message) {
		if (!*shown) {
			/* RFC 9112 2.2: empty lines before a request are ignored (but sent) */
			emit_line(d, dir, f->http_step, shown, raw, len);
			return;
		}
		dir->http_in_message = TRUE;
		dir->http_length = -1;
		dir->http_chunked = FALSE;
		if (dir->side == CLIENT) {
			g_autofree char *method = word_at(shown, 0);
			g_autofree char *path = word_at(shown, 1);
			f->http_step = http_step_for(path);
			f->http_head = !strcmp(method, "HEAD");
			f->client_spoke = TRUE;
		} else {
			g_autofree char *code = word_at(shown, 1);
			dir->http_status = (guint)g_ascii_strtoull(code, NULL, 10);
		}
		emit_line(d, dir, f->http_step, shown, raw, len);
		return;
	}
	if (*shown) {
		emit_line(d, dir, f->http_step, shown, raw, len);
		if (g_ascii_strncasecmp(shown, "Content-Length:", 15) == 0) {
			char *end;
			const char *v = shown + 15;
			while (*v == ' ' || *v == '\t')
				v++;
			guint64 n = g_ascii_strtoull(v, &end, 10);
			if (end != v)
				dir->http_length = (gint64)MIN(n, (guint64)G_MAXINT64);
		} else if (g_ascii_strncasecmp(shown, "Transfer-Encoding:", 18) == 0) {
			g_autofree char *lower = g_ascii_strdown(shown + 18, -1);
			dir->http_chunked = strstr(lower, "chunked") != NULL;
		}
		return;
	}
	/* the empty line: what follows is the body */
	emit_line(d, dir, f->http_step, shown, raw, len);
	dir->http_in_message = FALSE;
	gboolean no_body = dir->side == SERVER &&
	                   (f->http_head || dir->http_status / 100 == 1 || dir->http_status == 204 ||
	                    dir->http_status == 304);
	if (no_body)
		return;
	if (dir->http_chunked) {
		dir->mode = MODE_HTTP_CHUNK_SIZE;
		body_start(dir);
	} else if (dir->http_length > 0) {
		count_start(dir, (guint64)dir->http_length, MODE_LINES, "body");
	} else if (dir->http_length < 0 && dir->side == SERVER) {
		count_start(dir, G_MAXUINT64, MODE_LINES, "body");   /* RFC 9112 6.3 (8) */
		dir->until_close = TRUE;
	}
}

static void chunk_size_line(PcapDecoder *d, Dir *dir, const char *shown)
{
	char *end;
	guint64 n = g_ascii_strtoull(shown, &end, 16);
	if (end == shown || (*end && *end != ';' && *end != ' ' && *end != '\t')) {
		pcap_proto_emit_dir(d, dir, MS_EV_ERROR, MS_NET_NONE, dir->flow->http_step,
		                    "bad chunk size: the rest of the body is skipped", NULL, 0);
		dir->mode = MODE_LOST;
		return;
	}
	if (n == 0)
		dir->mode = MODE_HTTP_TRAILER;   /* RFC 9112 7.1: the last chunk */
	else
		count_start(dir, n, MODE_HTTP_CHUNK_END, NULL);
}

/* A complete line in raw (with its ending); cut when it was too long. */
static void on_line(PcapDecoder *d, Dir *dir, const guint8 *raw, gsize len, gboolean cut)
{
	Flow *f = dir->flow;
	gsize shown_len = len;
	if (shown_len && raw[shown_len - 1] == '\n')
		shown_len--;
	if (shown_len && raw[shown_len - 1] == '\r')
		shown_len--;
	g_autofree char *esc = escape_line(raw, shown_len);
	g_autofree char *shown = cut ? g_strconcat(esc, "…", NULL) : g_steal_pointer(&esc);

	switch (dir->mode) {
	case MODE_SMTP_BODY:
	case MODE_POP3_BODY:
		if (is_dot_line(raw, len)) {
			dir->body_bytes -= len;   /* the end mark is not the message */
			dir->mode = MODE_LINES;
			body_end(d, dir, "message", TRUE);
		} else {
			dir->body_lines++;
		}
		return;
	case MODE_POP3_LIST:
		emit_line(d, dir, pcap_proto_dir_step(dir), shown, raw, len);
		if (is_dot_line(raw, len))
			dir->mode = MODE_LINES;
		return;
	case MODE_HTTP_CHUNK_SIZE:
		chunk_size_line(d, dir, shown);
		return;
	case MODE_HTTP_CHUNK_END:
		dir->mode = MODE_HTTP_CHUNK_SIZE;
		return;
	case MODE_HTTP_TRAILER:
		if (!shown_len) {
			dir->mode = MODE_LINES;
			body_end(d, dir, "body, chunked", FALSE);
		}
		return;
	default:
		break;
	}
	switch (f->app) {
	case APP_SMTP:
	case APP_LMTP:
		smtp_line(d, dir, shown, raw, len);
		break;
	case APP_IMAP:
		imap_line(d, dir, shown, raw, len);
		break;
	case APP_POP3:
		pop3_line(d, dir, shown, raw, len);
		break;
	case APP_HTTP:
		http_line(d, dir, shown, raw, len);
		break;
	default:
		auth_line(d, dir, shown, raw, len);
		break;
	}
}

/* ---- DNS ------------------------------------------------------------------- */

static void learn_mx(PcapDecoder *d, const DnsMessage *msg)
{
	for (guint i = 0; i < msg->answers->len; i++) {
		const DnsRecord *r = g_ptr_array_index(msg->answers, i);
		if (r->type != DNS_TYPE_MX || dns_record_rdata_kind(r) != DNS_RDATA_MX)
			continue;
		g_autofree char *name = dns_name_canonical(r->rdata.mx.exchange, NULL);
		if (!name || g_hash_table_contains(d->mx_names, name))
			continue;
		if (g_queue_get_length(&d->mx_order) >= PCAP_DECODE_MAX_MX_NAMES) {
			char *old = g_queue_pop_head(&d->mx_order);
			g_hash_table_remove(d->mx_names, old);   /* frees old */
		}
		char *keep = g_strdup(name);
		g_hash_table_add(d->mx_names, keep);
		g_queue_push_tail(&d->mx_order, keep);
	}
}

void pcap_proto_dns_message(PcapDecoder *d, const char *from, const char *to, guint64 conn,
                            const guint8 *data, gsize len)
{
	g_autoptr(GError) err = NULL;
	g_autoptr(DnsMessage) msg = dns_wire_decode(data, len, &err);
	if (!msg) {
		g_autofree char *text = g_strdup_printf("not a DNS message: %s", err->message);
		pcap_proto_emit(d, MS_EV_ERROR, from, to, "dns", NULL, conn, text, data, len, NULL);
		return;
	}
	const char *step = NULL;
	if (msg->questions->len > 0) {
		const DnsQuestion *q = g_ptr_array_index(msg->questions, 0);
		g_autofree char *canon = dns_name_canonical(q->name, NULL);
		gboolean mx_host = canon && g_hash_table_contains(d->mx_names, canon);
		step = pcap_proto_dns_step(canon ? canon : q->name, q->type, mx_host);
	}
	if (msg->qr)
		learn_mx(d, msg);
	g_autofree char *text = dns_message_to_line(msg);
	pcap_proto_emit(d, msg->qr ? MS_EV_DNS_ANSWER : MS_EV_DNS_QUERY, from, to, "dns", step, conn,
	                text, data, len, NULL);
}

/* ---- bytes of a direction, by mode -------------------------------------------- */

static void start_tls(PcapDecoder *d, Dir *dir)
{
	Flow *f = dir->flow;
	literal_flush(d, dir);
	dir->mode = MODE_TLS;
	if (!f->tls_noted) {
		f->tls_noted = TRUE;
		pcap_proto_emit_dir(d, dir, MS_EV_NOTE, MS_NET_NONE, pcap_proto_dir_step(dir),
		                    "TLS begins: the rest of this connection is encrypted", NULL, 0);
	}
}

/* Up to and including one line ending; returns the bytes used. */
static gsize take_line(PcapDecoder *d, Dir *dir, const guint8 *data, gsize len)
{
	/* RFC 8446 5.1: a handshake record (22, then version 3.x) where a
	 * command should start: STARTTLS succeeded, or the port is TLS-only */
	if (dir->mode == MODE_LINES && dir->line->len == 0 && !dir->line_cut && data[0] == 0x16) {
		start_tls(d, dir);
		return 0;
	}
	const guint8 *nl = memchr(data, '\n', len);
	gsize take = nl ? (gsize)(nl - data) + 1 : len;
	if (dir->mode == MODE_SMTP_BODY || dir->mode == MODE_POP3_BODY)
		body_add(dir, data, take);
	else if (dir->mode == MODE_HTTP_CHUNK_SIZE || dir->mode == MODE_HTTP_CHUNK_END ||
	         dir->mode == MODE_HTTP_TRAILER)
		body_keep(dir, data, take);   /* RFC 9112 7.1: the chunked coding, as sent */
	if (dir->line_skip) {
		dir->line_skip = nl == NULL;
		return take;
	}
	gsize room = PCAP_DECODE_MAX_LINE + 2 - dir->line->len;
	g_byte_array_append(dir->line, data, (guint)MIN(take, room));
	if (take > room)
		dir->line_cut = TRUE;
	if (nl) {
		/* on_line may change the mode; the line is done either way */
		g_autoptr(GByteArray) line = dir->line;
		gboolean cut = dir->line_cut;
		dir->line = g_byte_array_new();
		dir->line_cut = FALSE;
		on_line(d, dir, line->data, line->len, cut);
	}
	return take;
}

static gsize take_dns_tcp(PcapDecoder *d, Dir *dir, const guint8 *data, gsize len)
{
	if (!dir->dns)
		dir->dns = g_byte_array_new();
	GByteArray *b = dir->dns;
	gsize need = b->len < 2 ? 2 : 2 + ((gsize)b->data[0] << 8 | b->data[1]);
	gsize take = MIN(len, need - b->len);
	g_byte_array_append(b, data, (guint)take);
	if (b->len >= 2 && b->len == 2 + ((gsize)b->data[0] << 8 | b->data[1])) {
		Flow *f = dir->flow;
		/* the bytes on the wire (as net/resolver.c shows its own), then what they say */
		emit_dir_printf(d, dir, MS_EV_SEND, NULL, b->data, b->len, "%s(DNS over TCP, %u bytes)",
		                dir->side == CLIENT ? "C: " : "S: ", b->len - 2);
		pcap_proto_dns_message(d, f->name[dir->side], f->name[1 - dir->side], f->id, b->data + 2, b->len - 2);
		g_byte_array_set_size(b, 0);
	}
	return take;
}

static void dir_data(PcapDecoder *d, Dir *dir, const guint8 *data, gsize len)
{
	while (len > 0) {
		gsize used;
		switch (dir->mode) {
		case MODE_TLS:
			emit_dir_printf(d, dir, MS_EV_SEND, pcap_proto_dir_step(dir), data, len,
			                "%s(encrypted, %" G_GSIZE_FORMAT " bytes)", dir->side == CLIENT ? "C: " : "S: ", len);
			used = len;
			break;
		case MODE_LOST:
			used = len;
			break;
		case MODE_COUNT:
			used = (gsize)MIN((guint64)len, dir->remaining);
			body_add(dir, data, used);
			dir->remaining -= used;
			if (dir->remaining == 0)
				count_done(d, dir);
			break;
		case MODE_DNS_TCP:
			used = take_dns_tcp(d, dir, data, len);
			break;
		default:
			used = take_line(d, dir, data, len);
			break;
		}
		data += used;
		len -= used;
	}
}

/* Bytes the capture missed: say so, and find the framing again if we can. */
static void dir_gap(PcapDecoder *d, Dir *dir, gsize len)
{
	d->stats.gaps++;
	literal_flush(d, dir);
	emit_dir_printf(d, dir, MS_EV_NOTE, pcap_proto_dir_step(dir), NULL, 0,
	                "%" G_GSIZE_FORMAT " bytes were not captured", len);
	switch (dir->mode) {
	case MODE_COUNT:
		dir->body_gap = TRUE;
		dir->body_bytes += MIN((guint64)len, dir->remaining);
		g_clear_pointer(&dir->body, g_byte_array_unref);
		if (len < dir->remaining) {
			dir->remaining -= len;
			return;
		}
		dir->remaining = 0;
		count_done(d, dir);
		break;
	case MODE_SMTP_BODY:
	case MODE_POP3_BODY:
		dir->body_gap = TRUE;
		dir->body_bytes += len;
		g_clear_pointer(&dir->body, g_byte_array_unref);
		break;
	case MODE_DNS_TCP:
		dir->mode = MODE_LOST;   /* the length prefixes are gone */
		return;
	case MODE_TLS:
	case MODE_LOST:
		return;
	default:
		break;
	}
	/* the partial line is useless: skip to the next line ending */
	g_byte_array_set_size(dir->line, 0);
	dir->line_cut = FALSE;
	dir->line_skip = TRUE;
}

/* The sender is done (FIN, RST or the end of the capture): show what was
 * still being collected. */
void pcap_proto_dir_end(PcapDecoder *d, Dir *dir)
{
	if (dir->line->len > 0 && (dir->mode == MODE_LINES || dir->mode == MODE_POP3_LIST)) {
		g_autoptr(GByteArray) line = dir->line;
		gboolean cut = dir->line_cut;
		dir->line = g_byte_array_new();
		dir->line_cut = FALSE;
		on_line(d, dir, line->data, line->len, cut);
	}
	literal_flush(d, dir);
	gboolean chunked = dir->mode == MODE_HTTP_CHUNK_SIZE || dir->mode == MODE_HTTP_CHUNK_END ||
	                   dir->mode == MODE_HTTP_TRAILER || (dir->mode == MODE_COUNT && !dir->count_what);
	if (dir->mode == MODE_COUNT && dir->count_what) {
		if (!dir->until_close)
			dir->body_gap = TRUE;
		body_end(d, dir, dir->count_what, FALSE);
	} else if (chunked) {
		dir->body_gap = TRUE;   /* the last chunk never came */
		body_end(d, dir, "body, chunked", FALSE);
	} else if ((dir->mode == MODE_SMTP_BODY || dir->mode == MODE_POP3_BODY) && dir->body_bytes) {
		dir->body_gap = TRUE;
		body_end(d, dir, "message", TRUE);
	} else if (dir->mode == MODE_DNS_TCP && dir->dns && dir->dns->len > 0) {
		/* a message cut short: its bytes were still sent */
		emit_dir_printf(d, dir, MS_EV_SEND, NULL, dir->dns->data, dir->dns->len,
		                "%s(DNS over TCP, cut short after %u bytes)", dir->side == CLIENT ? "C: " : "S: ",
		                dir->dns->len);
		g_byte_array_set_size(dir->dns, 0);
	}
	dir->mode = MODE_LOST;
}

void pcap_proto_stream_piece(PcapStreamPiece piece, const guint8 *data, gsize len, gpointer user)
{
	Dir *dir = user;
	PcapDecoder *d = dir->flow->decoder;
	switch (piece) {
	case PCAP_STREAM_DATA:
		dir_data(d, dir, data, len);
		break;
	case PCAP_STREAM_GAP:
		dir_gap(d, dir, len);
		break;
	case PCAP_STREAM_FIN:
		pcap_proto_dir_end(d, dir);
		dir->fin = TRUE;
		pcap_proto_emit_dir(d, dir, MS_EV_CLOSE, MS_NET_FIN, pcap_proto_dir_step(dir), "close", NULL, 0);
		break;
	}
}

