/* tests/agents/web/test_mailconfig.c - autoconfig and Autodiscover documents.
 *
 * The exact XML for a small configuration, generate -> parse round trips for
 * both formats, documents from the wild that must parse, hostile documents
 * that must fail with the right error, and username templates.
 */
#include "tests/ms_test.h"
#include "agents/web/mailconfig.h"

/* The ISP-walkthrough provider: IMAP and POP3 in, submission out. */
static MailConfig *small_config(void)
{
	MailConfig *cfg = mailconfig_new("example.com", "Example & Co <Mail>");
	mailconfig_add_domain(cfg, "example.com");
	mailconfig_add_server(cfg, MAILCONFIG_PROTOCOL_IMAP, "imap.example.com", 143,
	                      MAILCONFIG_SOCKET_STARTTLS, MAILCONFIG_AUTH_PASSWORD_CLEARTEXT,
	                      "%EMAILADDRESS%");
	mailconfig_add_server(cfg, MAILCONFIG_PROTOCOL_POP3, "pop.example.com", 995,
	                      MAILCONFIG_SOCKET_SSL, MAILCONFIG_AUTH_PASSWORD_CLEARTEXT,
	                      "%EMAILLOCALPART%");
	mailconfig_add_server(cfg, MAILCONFIG_PROTOCOL_SMTP, "smtp.example.com", 587,
	                      MAILCONFIG_SOCKET_STARTTLS, MAILCONFIG_AUTH_PASSWORD_CLEARTEXT,
	                      "%EMAILADDRESS%");
	return cfg;
}

static const char small_autoconfig[] =
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	"<clientConfig version=\"1.1\">\n"
	"  <emailProvider id=\"example.com\">\n"
	"    <domain>example.com</domain>\n"
	"    <displayName>Example &amp; Co &lt;Mail&gt;</displayName>\n"
	"    <incomingServer type=\"imap\">\n"
	"      <hostname>imap.example.com</hostname>\n"
	"      <port>143</port>\n"
	"      <socketType>STARTTLS</socketType>\n"
	"      <authentication>password-cleartext</authentication>\n"
	"      <username>%EMAILADDRESS%</username>\n"
	"    </incomingServer>\n"
	"    <incomingServer type=\"pop3\">\n"
	"      <hostname>pop.example.com</hostname>\n"
	"      <port>995</port>\n"
	"      <socketType>SSL</socketType>\n"
	"      <authentication>password-cleartext</authentication>\n"
	"      <username>%EMAILLOCALPART%</username>\n"
	"    </incomingServer>\n"
	"    <outgoingServer type=\"smtp\">\n"
	"      <hostname>smtp.example.com</hostname>\n"
	"      <port>587</port>\n"
	"      <socketType>STARTTLS</socketType>\n"
	"      <authentication>password-cleartext</authentication>\n"
	"      <username>%EMAILADDRESS%</username>\n"
	"    </outgoingServer>\n"
	"  </emailProvider>\n"
	"</clientConfig>\n";

static const char small_autodiscover[] =
	"<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
	"<Autodiscover xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006\">\n"
	"  <Response xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a\">\n"
	"    <Account>\n"
	"      <AccountType>email</AccountType>\n"
	"      <Action>settings</Action>\n"
	"      <Protocol>\n"
	"        <Type>IMAP</Type>\n"
	"        <Server>imap.example.com</Server>\n"
	"        <Port>143</Port>\n"
	"        <LoginName>alice@example.com</LoginName>\n"
	"        <SPA>off</SPA>\n"
	"        <SSL>on</SSL>\n"
	"        <Encryption>TLS</Encryption>\n"
	"        <AuthRequired>on</AuthRequired>\n"
	"      </Protocol>\n"
	"      <Protocol>\n"
	"        <Type>POP3</Type>\n"
	"        <Server>pop.example.com</Server>\n"
	"        <Port>995</Port>\n"
	"        <LoginName>alice</LoginName>\n"
	"        <SPA>off</SPA>\n"
	"        <SSL>on</SSL>\n"
	"        <AuthRequired>on</AuthRequired>\n"
	"      </Protocol>\n"
	"      <Protocol>\n"
	"        <Type>SMTP</Type>\n"
	"        <Server>smtp.example.com</Server>\n"
	"        <Port>587</Port>\n"
	"        <LoginName>alice@example.com</LoginName>\n"
	"        <SPA>off</SPA>\n"
	"        <SSL>on</SSL>\n"
	"        <Encryption>TLS</Encryption>\n"
	"        <AuthRequired>on</AuthRequired>\n"
	"      </Protocol>\n"
	"    </Account>\n"
	"  </Response>\n"
	"</Autodiscover>\n";

static const char small_request[] =
	"<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
	"<Autodiscover xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006\">\n"
	"  <Request>\n"
	"    <EMailAddress>alice@example.com</EMailAddress>\n"
	"    <AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema>\n"
	"  </Request>\n"
	"</Autodiscover>\n";

START_TEST(test_exact_autoconfig)
{
	g_autoptr(MailConfig) cfg = small_config();
	g_autofree char *xml = mailconfig_to_autoconfig_xml(cfg);
	ck_assert_str_eq(xml, small_autoconfig);
}
END_TEST

START_TEST(test_exact_autodiscover)
{
	g_autoptr(MailConfig) cfg = small_config();
	g_autofree char *xml = mailconfig_to_autodiscover_xml(cfg, "alice@example.com");
	ck_assert_str_eq(xml, small_autodiscover);
	g_autofree char *req = mailconfig_encode_autodiscover_request("alice@example.com");
	ck_assert_str_eq(req, small_request);
}
END_TEST

static void assert_server(const MailConfigServer *s, MailConfigProtocol protocol,
                          const char *hostname, guint16 port, MailConfigSocket socket,
                          MailConfigAuth auth, const char *username)
{
	ck_assert_int_eq(s->protocol, protocol);
	ck_assert_str_eq(s->hostname, hostname);
	ck_assert_uint_eq(s->port, port);
	ck_assert_msg(s->socket == socket, "%s: socket %s, want %s", hostname,
	              mailconfig_socket_to_string(s->socket), mailconfig_socket_to_string(socket));
	ck_assert_msg(s->auth == auth, "%s: auth %s, want %s", hostname,
	              mailconfig_auth_to_string(s->auth), mailconfig_auth_to_string(auth));
	if (username)
		ck_assert_str_eq(s->username, username);
	else
		ck_assert_ptr_null(s->username);
}

/* Every field and every enum value survives generate -> parse. */
START_TEST(test_autoconfig_round_trip)
{
	g_autoptr(MailConfig) cfg = mailconfig_new("example.org", "\xc3\x89xample \"quoted\"");
	mailconfig_add_domain(cfg, "example.org");
	mailconfig_add_domain(cfg, "example.net");
	for (MailConfigAuth a = MAILCONFIG_AUTH_PASSWORD_CLEARTEXT; a <= MAILCONFIG_AUTH_NONE; a++)
		mailconfig_add_server(cfg, a % 2 ? MAILCONFIG_PROTOCOL_POP3 : MAILCONFIG_PROTOCOL_IMAP,
		                      "in.example.org", (guint16)(100 + a), a % 3, a,
		                      a == MAILCONFIG_AUTH_NONE ? NULL : "u<&>'\"%EMAILDOMAIN%");
	mailconfig_add_server(cfg, MAILCONFIG_PROTOCOL_SMTP, "out.example.org", 65535,
	                      MAILCONFIG_SOCKET_PLAIN, MAILCONFIG_AUTH_CLIENT_IP, NULL);

	g_autofree char *xml = mailconfig_to_autoconfig_xml(cfg);
	g_autoptr(GError) error = NULL;
	g_autoptr(MailConfig) back = mailconfig_parse_autoconfig_xml(xml, strlen(xml), &error);
	ck_assert_msg(back != NULL, "%s", error ? error->message : "");
	ck_assert_str_eq(back->id, "example.org");
	ck_assert_str_eq(back->display_name, cfg->display_name);
	ck_assert_uint_eq(back->domains->len, 2);
	ck_assert_str_eq(g_ptr_array_index(back->domains, 1), "example.net");
	ck_assert_uint_eq(back->incoming->len, cfg->incoming->len);
	for (guint i = 0; i < cfg->incoming->len; i++) {
		const MailConfigServer *s = g_ptr_array_index(cfg->incoming, i);
		assert_server(g_ptr_array_index(back->incoming, i), s->protocol, s->hostname, s->port,
		              s->socket, s->auth, s->username);
	}
	ck_assert_uint_eq(back->outgoing->len, 1);
	assert_server(g_ptr_array_index(back->outgoing, 0), MAILCONFIG_PROTOCOL_SMTP,
	              "out.example.org", 65535, MAILCONFIG_SOCKET_PLAIN, MAILCONFIG_AUTH_CLIENT_IP, NULL);
}
END_TEST

START_TEST(test_autodiscover_round_trip)
{
	g_autoptr(MailConfig) cfg = small_config();
	/* what Autodiscover can say: plain, SSL, STARTTLS; cleartext, SPA, none */
	mailconfig_add_server(cfg, MAILCONFIG_PROTOCOL_IMAP, "ntlm.example.com", 143,
	                      MAILCONFIG_SOCKET_PLAIN, MAILCONFIG_AUTH_NTLM, NULL);
	mailconfig_add_server(cfg, MAILCONFIG_PROTOCOL_SMTP, "relay.example.com", 25,
	                      MAILCONFIG_SOCKET_PLAIN, MAILCONFIG_AUTH_NONE, NULL);

	g_autofree char *xml = mailconfig_to_autodiscover_xml(cfg, "bob@example.com");
	g_autoptr(GError) error = NULL;
	g_autoptr(MailConfig) back = mailconfig_parse_autodiscover_xml(xml, strlen(xml), &error);
	ck_assert_msg(back != NULL, "%s", error ? error->message : "");
	ck_assert_uint_eq(back->incoming->len, 3);
	ck_assert_uint_eq(back->outgoing->len, 2);
	assert_server(g_ptr_array_index(back->incoming, 0), MAILCONFIG_PROTOCOL_IMAP,
	              "imap.example.com", 143, MAILCONFIG_SOCKET_STARTTLS,
	              MAILCONFIG_AUTH_PASSWORD_CLEARTEXT, "bob@example.com");
	assert_server(g_ptr_array_index(back->incoming, 1), MAILCONFIG_PROTOCOL_POP3,
	              "pop.example.com", 995, MAILCONFIG_SOCKET_SSL,
	              MAILCONFIG_AUTH_PASSWORD_CLEARTEXT, "bob");
	assert_server(g_ptr_array_index(back->incoming, 2), MAILCONFIG_PROTOCOL_IMAP,
	              "ntlm.example.com", 143, MAILCONFIG_SOCKET_PLAIN, MAILCONFIG_AUTH_NTLM, NULL);
	assert_server(g_ptr_array_index(back->outgoing, 0), MAILCONFIG_PROTOCOL_SMTP,
	              "smtp.example.com", 587, MAILCONFIG_SOCKET_STARTTLS,
	              MAILCONFIG_AUTH_PASSWORD_CLEARTEXT, "bob@example.com");
	assert_server(g_ptr_array_index(back->outgoing, 1), MAILCONFIG_PROTOCOL_SMTP,
	              "relay.example.com", 25, MAILCONFIG_SOCKET_PLAIN, MAILCONFIG_AUTH_NONE, NULL);

	/* the request, both ways */
	g_autofree char *req = mailconfig_encode_autodiscover_request("o'neil+tag@example.com");
	g_autofree char *addr = mailconfig_parse_autodiscover_request(req, strlen(req), &error);
	ck_assert_msg(addr != NULL, "%s", error ? error->message : "");
	ck_assert_str_eq(addr, "o'neil+tag@example.com");
}
END_TEST

/* ---- documents from the wild that must parse -------------------------------- */

typedef struct {
	const char *name;
	gboolean    autodiscover;
	const char *xml;
	/* the first incoming and first outgoing server */
	const char *in_host;  guint16 in_port;  MailConfigSocket in_socket;  MailConfigAuth in_auth;
	const char *out_host; guint16 out_port; MailConfigSocket out_socket; MailConfigAuth out_auth;
	guint       n_incoming;
} ValidDoc;

static const ValidDoc valid_docs[] = {
	{ "ISPDB style with extras", FALSE,
	  "\xef\xbb\xbf<?xml version=\"1.0\"?>\n<!-- comment -->\n"
	  "<clientConfig version=\"1.1\"><emailProvider id=\"gmail.com\">"
	  "<domain>gmail.com</domain><domain>googlemail.com</domain>"
	  "<displayName>Google Mail</displayName><displayShortName>GMail</displayShortName>"
	  "<incomingServer type=\"exchange\"><hostname>ews.example</hostname></incomingServer>"
	  "<incomingServer type=\"imap\"><hostname> imap.gmail.com </hostname><port>993</port>"
	  "<socketType>SSL</socketType><username>%EMAILADDRESS%</username>"
	  "<authentication>OAuth2</authentication><authentication>password-cleartext</authentication>"
	  "</incomingServer>"
	  "<outgoingServer type=\"smtp\"><hostname>smtp.gmail.com</hostname><port>465</port>"
	  "<socketType>SSL</socketType><authentication>bogus-method</authentication>"
	  "<authentication>password-encrypted</authentication>"
	  "<addThisServer>true</addThisServer></outgoingServer>"
	  "<documentation url=\"http://x/\"><descr lang=\"en\">Help &amp; more</descr></documentation>"
	  "</emailProvider><webMail><loginPage url=\"https://mail.google.com/\"/></webMail>"
	  "</clientConfig>",
	  "imap.gmail.com", 993, MAILCONFIG_SOCKET_SSL, MAILCONFIG_AUTH_OAUTH2,
	  "smtp.gmail.com", 465, MAILCONFIG_SOCKET_SSL, MAILCONFIG_AUTH_PASSWORD_ENCRYPTED, 1 },
	{ "legacy auth words, default auth, CDATA, second provider ignored", FALSE,
	  "<clientConfig><emailProvider id=\"a\">"
	  "<incomingServer type=\"pop3\"><hostname><![CDATA[pop.a.example]]></hostname>"
	  "<port>110</port><socketType>plain</socketType><authentication>plain</authentication>"
	  "</incomingServer>"
	  "<outgoingServer type=\"smtp\"><hostname>smtp.a.example</hostname><port>25</port>"
	  "<socketType>STARTTLS</socketType></outgoingServer></emailProvider>"
	  "<emailProvider id=\"b\"><incomingServer type=\"imap\"><hostname>x</hostname>"
	  "</incomingServer></emailProvider></clientConfig>",
	  "pop.a.example", 110, MAILCONFIG_SOCKET_PLAIN, MAILCONFIG_AUTH_PASSWORD_CLEARTEXT,
	  "smtp.a.example", 25, MAILCONFIG_SOCKET_STARTTLS, MAILCONFIG_AUTH_PASSWORD_CLEARTEXT, 1 },
	{ "Autodiscover with prefixes, Exchange protocols, defaults", TRUE,
	  "<a:Autodiscover xmlns:a=\"" MAILCONFIG_AUTODISCOVER_RESPONSE_NS "\">"
	  "<a:Response><User><DisplayName>Alice</DisplayName></User><a:Account>"
	  "<AccountType>email</AccountType><Action>settings</Action>"
	  "<Protocol><Type>EXCH</Type><Server>ex.example</Server></Protocol>"
	  "<Protocol><Type>imap</Type><Server>imap.b.example</Server><Port>993</Port></Protocol>"
	  "<Protocol><Type>SMTP</Type><Server>smtp.b.example</Server><Port>25</Port>"
	  "<SSL>off</SSL><AuthRequired>off</AuthRequired></Protocol>"
	  "</a:Account></a:Response></a:Autodiscover>",
	  "imap.b.example", 993, MAILCONFIG_SOCKET_SSL, MAILCONFIG_AUTH_PASSWORD_CLEARTEXT,
	  "smtp.b.example", 25, MAILCONFIG_SOCKET_PLAIN, MAILCONFIG_AUTH_NONE, 1 },
	{ "Autodiscover Encryption words", TRUE,
	  "<Autodiscover><Response><Account><Action>settings</Action>"
	  "<Protocol><Type>POP3</Type><Server>p.example</Server><Port>110</Port>"
	  "<SSL>on</SSL><Encryption>None</Encryption><SPA>on</SPA></Protocol>"
	  "<Protocol><Type>IMAP</Type><Server>i.example</Server><Port>993</Port>"
	  "<SSL>off</SSL><Encryption>Auto</Encryption></Protocol>"
	  "<Protocol><Type>SMTP</Type><Server>s.example</Server><Port>465</Port>"
	  "<Encryption>ssl</Encryption></Protocol>"
	  "</Account></Response></Autodiscover>",
	  "p.example", 110, MAILCONFIG_SOCKET_PLAIN, MAILCONFIG_AUTH_NTLM,
	  "s.example", 465, MAILCONFIG_SOCKET_SSL, MAILCONFIG_AUTH_PASSWORD_CLEARTEXT, 2 },
};

START_TEST(test_valid_documents)
{
	for (gsize i = 0; i < G_N_ELEMENTS(valid_docs); i++) {
		const ValidDoc *d = &valid_docs[i];
		g_autoptr(GError) error = NULL;
		g_autoptr(MailConfig) cfg = d->autodiscover
			? mailconfig_parse_autodiscover_xml(d->xml, strlen(d->xml), &error)
			: mailconfig_parse_autoconfig_xml(d->xml, strlen(d->xml), &error);
		ck_assert_msg(cfg != NULL, "%s: %s", d->name, error ? error->message : "");
		ck_assert_uint_eq(cfg->incoming->len, d->n_incoming);
		const MailConfigServer *in = g_ptr_array_index(cfg->incoming, 0);
		const MailConfigServer *out = g_ptr_array_index(cfg->outgoing, 0);
		ck_assert_str_eq(in->hostname, d->in_host);
		ck_assert_uint_eq(in->port, d->in_port);
		ck_assert_msg(in->socket == d->in_socket && in->auth == d->in_auth, "%s: in", d->name);
		ck_assert_str_eq(out->hostname, d->out_host);
		ck_assert_uint_eq(out->port, d->out_port);
		ck_assert_msg(out->socket == d->out_socket && out->auth == d->out_auth, "%s: out", d->name);
	}
	/* the extras of the first document */
	g_autoptr(MailConfig) cfg = mailconfig_parse_autoconfig_xml(valid_docs[0].xml,
	                                                            strlen(valid_docs[0].xml), NULL);
	ck_assert_str_eq(cfg->id, "gmail.com");
	ck_assert_str_eq(cfg->display_name, "Google Mail");
	ck_assert_uint_eq(cfg->domains->len, 2);
	ck_assert_str_eq(((MailConfigServer *)g_ptr_array_index(cfg->incoming, 0))->username,
	                 "%EMAILADDRESS%");
	g_autoptr(MailConfig) cfg2 = mailconfig_parse_autoconfig_xml(valid_docs[1].xml,
	                                                             strlen(valid_docs[1].xml), NULL);
	ck_assert_str_eq(cfg2->id, "a");
}
END_TEST

/* ---- hostile and broken documents ----------------------------------------- */

/* A minimal autoconfig around one incoming server's inner XML. */
#define AC(inner) \
	"<clientConfig version=\"1.1\"><emailProvider id=\"x\">" \
	"<incomingServer type=\"imap\">" inner "</incomingServer>" \
	"<outgoingServer type=\"smtp\"><hostname>s.x</hostname><port>25</port>" \
	"<socketType>plain</socketType></outgoingServer></emailProvider></clientConfig>"
#define AC_OK_IN "<hostname>i.x</hostname><port>143</port><socketType>plain</socketType>"

/* A minimal Autodiscover around a protocol's inner XML, plus an SMTP one. */
#define AD(inner) \
	"<Autodiscover><Response><Account><Action>settings</Action><Protocol>" inner \
	"</Protocol><Protocol><Type>SMTP</Type><Server>s.x</Server><Port>25</Port></Protocol>" \
	"</Account></Response></Autodiscover>"

typedef enum { DOC_AUTOCONFIG, DOC_AUTODISCOVER, DOC_REQUEST } DocKind;

typedef struct {
	const char     *name;
	DocKind         kind;
	const char     *xml;     /* NULL: built by build_hostile */
	MailConfigError code;
} InvalidDoc;

static const InvalidDoc invalid_docs[] = {
	{ "empty",                     DOC_AUTOCONFIG,   "",                                    MAILCONFIG_ERROR_MALFORMED },
	{ "not XML",                   DOC_AUTOCONFIG,   "404 page not found",                  MAILCONFIG_ERROR_MALFORMED },
	{ "unclosed HTML",             DOC_AUTOCONFIG,   "<html><body>404",                     MAILCONFIG_ERROR_WRONG_ROOT },
	{ "HTML page",                 DOC_AUTOCONFIG,   "<html><body>Not found</body></html>", MAILCONFIG_ERROR_WRONG_ROOT },
	{ "truncated",                 DOC_AUTOCONFIG,   "<clientConfig><emailProvider>",       MAILCONFIG_ERROR_MALFORMED },
	{ "mismatched tags",           DOC_AUTOCONFIG,   "<clientConfig></emailProvider>",      MAILCONFIG_ERROR_MALFORMED },
	{ "unknown entity",            DOC_AUTOCONFIG,   AC("<hostname>&xxe;</hostname>"),      MAILCONFIG_ERROR_MALFORMED },
	{ "entity definitions",        DOC_AUTOCONFIG,
	  "<!DOCTYPE c [<!ENTITY a \"aaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;\">]>"
	  "<clientConfig><emailProvider><displayName>&b;</displayName></emailProvider></clientConfig>",
	  MAILCONFIG_ERROR_MALFORMED },
	{ "not UTF-8",                 DOC_AUTOCONFIG,   AC("<hostname>\xff\xfe</hostname>"),   MAILCONFIG_ERROR_MALFORMED },
	{ "NUL byte",                  DOC_AUTOCONFIG,   NULL,                                  MAILCONFIG_ERROR_MALFORMED },
	/* found by the fuzzer: GMarkup set an error here and parsed on */
	{ "bad UTF-8 in CDATA",        DOC_AUTOCONFIG,   "<clientConfig><![CDATA[\xff]]></clientConfig>", MAILCONFIG_ERROR_MALFORMED },
	{ "bad UTF-8 in CDATA, junk",  DOC_AUTOCONFIG,   "<clientConfig><![CDATA[\xff]]></b></clientConfig>", MAILCONFIG_ERROR_MALFORMED },
	{ "Latin-1 document",          DOC_AUTODISCOVER, "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><Autodiscover>\xe9</Autodiscover>", MAILCONFIG_ERROR_MALFORMED },
	{ "Autodiscover to autoconfig", DOC_AUTOCONFIG,  AD("<Type>IMAP</Type>"),               MAILCONFIG_ERROR_WRONG_ROOT },
	{ "autoconfig to Autodiscover", DOC_AUTODISCOVER, AC(AC_OK_IN),                         MAILCONFIG_ERROR_WRONG_ROOT },
	{ "no servers",                DOC_AUTOCONFIG,   "<clientConfig/>",                     MAILCONFIG_ERROR_MISSING },
	{ "only unknown server types", DOC_AUTOCONFIG,
	  "<clientConfig><emailProvider><incomingServer type=\"ews\"><hostname>a</hostname>"
	  "<port>1</port><socketType>SSL</socketType></incomingServer></emailProvider></clientConfig>",
	  MAILCONFIG_ERROR_MISSING },
	{ "no outgoing",               DOC_AUTOCONFIG,
	  "<clientConfig><emailProvider><incomingServer type=\"imap\">" AC_OK_IN
	  "</incomingServer></emailProvider></clientConfig>",
	  MAILCONFIG_ERROR_MISSING },
	{ "missing hostname",          DOC_AUTOCONFIG,   AC("<port>143</port><socketType>SSL</socketType>"), MAILCONFIG_ERROR_MISSING },
	{ "missing port",              DOC_AUTOCONFIG,   AC("<hostname>i.x</hostname><socketType>SSL</socketType>"), MAILCONFIG_ERROR_MISSING },
	{ "missing socketType",        DOC_AUTOCONFIG,   AC("<hostname>i.x</hostname><port>143</port>"), MAILCONFIG_ERROR_MISSING },
	{ "empty hostname",            DOC_AUTOCONFIG,   AC("<hostname></hostname><port>1</port>"), MAILCONFIG_ERROR_INVALID },
	{ "hostname with space",       DOC_AUTOCONFIG,   AC("<hostname>a b</hostname>"),        MAILCONFIG_ERROR_INVALID },
	{ "hostname with CRLF",        DOC_AUTOCONFIG,   AC("<hostname>a&#13;&#10;b</hostname>"), MAILCONFIG_ERROR_INVALID },
	{ "hostname ..",               DOC_AUTOCONFIG,   AC("<hostname>a..b</hostname>"),       MAILCONFIG_ERROR_INVALID },
	{ "hostname leading dash",     DOC_AUTOCONFIG,   AC("<hostname>-a</hostname>"),         MAILCONFIG_ERROR_INVALID },
	{ "hostname too long",         DOC_AUTOCONFIG,   NULL,                                  MAILCONFIG_ERROR_INVALID },
	{ "port 0",                    DOC_AUTOCONFIG,   AC("<port>0</port>"),                  MAILCONFIG_ERROR_INVALID },
	{ "port 65536",                DOC_AUTOCONFIG,   AC("<port>65536</port>"),              MAILCONFIG_ERROR_INVALID },
	{ "port 99999999999",          DOC_AUTOCONFIG,   AC("<port>99999999999</port>"),        MAILCONFIG_ERROR_INVALID },
	{ "port negative",             DOC_AUTOCONFIG,   AC("<port>-143</port>"),               MAILCONFIG_ERROR_INVALID },
	{ "port hex",                  DOC_AUTOCONFIG,   AC("<port>0x8f</port>"),               MAILCONFIG_ERROR_INVALID },
	{ "port empty",                DOC_AUTOCONFIG,   AC("<port/>"),                         MAILCONFIG_ERROR_INVALID },
	{ "bad socketType",            DOC_AUTOCONFIG,   AC("<socketType>TLS</socketType>"),    MAILCONFIG_ERROR_INVALID },
	{ "username with newline",     DOC_AUTOCONFIG,   AC(AC_OK_IN "<username>a&#10;b</username>"), MAILCONFIG_ERROR_INVALID },
	{ "bad domain",                DOC_AUTOCONFIG,
	  "<clientConfig><emailProvider><domain>a/b</domain></emailProvider></clientConfig>",
	  MAILCONFIG_ERROR_INVALID },
	{ "deeply nested",             DOC_AUTOCONFIG,   NULL,                                  MAILCONFIG_ERROR_TOO_LARGE },
	{ "huge text",                 DOC_AUTOCONFIG,   NULL,                                  MAILCONFIG_ERROR_TOO_LARGE },
	{ "huge document",             DOC_AUTOCONFIG,   NULL,                                  MAILCONFIG_ERROR_TOO_LARGE },
	{ "too many servers",          DOC_AUTOCONFIG,   NULL,                                  MAILCONFIG_ERROR_TOO_LARGE },
	{ "too many domains",          DOC_AUTOCONFIG,   NULL,                                  MAILCONFIG_ERROR_TOO_LARGE },
	{ "Autodiscover missing port", DOC_AUTODISCOVER, AD("<Type>IMAP</Type><Server>i.x</Server>"), MAILCONFIG_ERROR_MISSING },
	{ "Autodiscover missing server", DOC_AUTODISCOVER, AD("<Type>IMAP</Type><Port>1</Port>"), MAILCONFIG_ERROR_MISSING },
	{ "Autodiscover only EXCH",    DOC_AUTODISCOVER, AD("<Type>EXCH</Type><Server>e.x</Server>"), MAILCONFIG_ERROR_MISSING },
	{ "Autodiscover bad SSL",      DOC_AUTODISCOVER, AD("<Type>IMAP</Type><SSL>yes</SSL>"), MAILCONFIG_ERROR_INVALID },
	{ "Autodiscover bad Encryption", DOC_AUTODISCOVER, AD("<Type>IMAP</Type><Encryption>ROT13</Encryption>"), MAILCONFIG_ERROR_INVALID },
	{ "Autodiscover port range",   DOC_AUTODISCOVER, AD("<Type>IMAP</Type><Port>70000</Port>"), MAILCONFIG_ERROR_INVALID },
	{ "Autodiscover error",        DOC_AUTODISCOVER,
	  "<Autodiscover xmlns=\"" MAILCONFIG_AUTODISCOVER_RESPONSE_NS "\"><Response><Error Time=\"1\" Id=\"2\">"
	  "<ErrorCode>600</ErrorCode><Message>Invalid Request</Message></Error></Response></Autodiscover>",
	  MAILCONFIG_ERROR_SERVER },
	{ "Autodiscover redirect",     DOC_AUTODISCOVER,
	  "<Autodiscover><Response><Account><Action>redirectAddr</Action>"
	  "<RedirectAddr>alice@other.example</RedirectAddr></Account></Response></Autodiscover>",
	  MAILCONFIG_ERROR_REDIRECT },
	{ "Autodiscover odd action",   DOC_AUTODISCOVER,
	  "<Autodiscover><Response><Account><Action>dance</Action></Account></Response></Autodiscover>",
	  MAILCONFIG_ERROR_INVALID },
	{ "request without address",   DOC_REQUEST,      "<Autodiscover><Request/></Autodiscover>", MAILCONFIG_ERROR_MISSING },
	{ "request bad address",       DOC_REQUEST,
	  "<Autodiscover><Request><EMailAddress>no-at-sign</EMailAddress></Request></Autodiscover>",
	  MAILCONFIG_ERROR_INVALID },
	{ "request address with CR",   DOC_REQUEST,
	  "<Autodiscover><Request><EMailAddress>a&#13;@b.c</EMailAddress></Request></Autodiscover>",
	  MAILCONFIG_ERROR_INVALID },
	{ "request mobilesync",        DOC_REQUEST,
	  "<Autodiscover><Request><EMailAddress>a@b.c</EMailAddress><AcceptableResponseSchema>"
	  "http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006"
	  "</AcceptableResponseSchema></Request></Autodiscover>",
	  MAILCONFIG_ERROR_UNSUPPORTED },
	{ "request wrong root",        DOC_REQUEST,      "<clientConfig/>",                     MAILCONFIG_ERROR_WRONG_ROOT },
};

static GString *build_hostile(const char *name)
{
	GString *s = g_string_new(NULL);
	if (strcmp(name, "NUL byte") == 0) {
		g_string_append(s, AC(AC_OK_IN));
		s->str[20] = '\0';
	} else if (strcmp(name, "hostname too long") == 0) {
		g_string_append(s, "<clientConfig><emailProvider><incomingServer type=\"imap\"><hostname>");
		for (int i = 0; i < 127; i++)
			g_string_append(s, "a.");
		g_string_append(s, "aa</hostname></incomingServer></emailProvider></clientConfig>");
	} else if (strcmp(name, "deeply nested") == 0) {
		g_string_append(s, "<clientConfig>");
		for (int i = 0; i < 10000; i++)
			g_string_append(s, "<a>");
	} else if (strcmp(name, "huge text") == 0) {
		g_string_append(s, "<clientConfig><emailProvider><displayName>");
		for (int i = 0; i <= MAILCONFIG_MAX_TEXT; i++)
			g_string_append_c(s, 'x');
		g_string_append(s, "</displayName></emailProvider></clientConfig>");
	} else if (strcmp(name, "huge document") == 0) {
		g_string_append(s, "<clientConfig>");
		while (s->len <= MAILCONFIG_MAX_DOCUMENT)
			g_string_append(s, "<!-- padding -->");
		g_string_append(s, "</clientConfig>");
	} else if (strcmp(name, "too many servers") == 0) {
		g_string_append(s, "<clientConfig><emailProvider>");
		for (int i = 0; i <= MAILCONFIG_MAX_SERVERS; i++)
			g_string_append(s, "<incomingServer type=\"imap\">" AC_OK_IN "</incomingServer>");
		g_string_append(s, "</emailProvider></clientConfig>");
	} else if (strcmp(name, "too many domains") == 0) {
		g_string_append(s, "<clientConfig><emailProvider>");
		for (int i = 0; i <= MAILCONFIG_MAX_DOMAINS; i++)
			g_string_append_printf(s, "<domain>d%d.example</domain>", i);
		g_string_append(s, "</emailProvider></clientConfig>");
	}
	return s;
}

START_TEST(test_invalid_documents)
{
	for (gsize i = 0; i < G_N_ELEMENTS(invalid_docs); i++) {
		const InvalidDoc *d = &invalid_docs[i];
		g_autoptr(GString) xml = d->xml ? g_string_new(d->xml) : build_hostile(d->name);
		ck_assert_msg(d->xml || xml->len > 0, "%s: not built", d->name);
		g_autoptr(GError) error = NULL;
		gpointer result = NULL;
		switch (d->kind) {
		case DOC_AUTOCONFIG:
			result = mailconfig_parse_autoconfig_xml(xml->str, xml->len, &error);
			break;
		case DOC_AUTODISCOVER:
			result = mailconfig_parse_autodiscover_xml(xml->str, xml->len, &error);
			break;
		case DOC_REQUEST:
			result = mailconfig_parse_autodiscover_request(xml->str, xml->len, &error);
			break;
		}
		ck_assert_msg(result == NULL, "%s: parsed", d->name);
		ck_assert_msg(g_error_matches(error, MAILCONFIG_ERROR, (gint)d->code),
		              "%s: got %s %s, want %s", d->name,
		              error && error->domain == MAILCONFIG_ERROR
		                  ? mailconfig_error_to_string(error->code) : "?",
		              error ? error->message : "no error", mailconfig_error_to_string(d->code));
		/* messages go to logs and the UI: UTF-8, one line, whatever the input */
		ck_assert(g_utf8_validate(error->message, -1, NULL));
		ck_assert_ptr_null(strpbrk(error->message, "\r\n"));
	}
}
END_TEST

/* The parser never reads past len: a prefix of a good document fails. */
START_TEST(test_prefixes_fail)
{
	for (gsize n = 0; n < sizeof small_autoconfig - 1; n++) {
		g_autofree char *copy = g_memdup2(small_autoconfig, n);   /* no NUL: ASan sees over-reads */
		g_autoptr(MailConfig) cfg = mailconfig_parse_autoconfig_xml(copy ? copy : "", n, NULL);
		/* whitespace after the root is optional; nothing else may be missing */
		if (n < sizeof small_autoconfig - 2)
			ck_assert_msg(cfg == NULL, "prefix of %zu bytes parsed", n);
	}
	g_autoptr(MailConfig) cfg = mailconfig_parse_autoconfig_xml(small_autoconfig,
	                                                            sizeof small_autoconfig - 2, NULL);
	ck_assert_ptr_nonnull(cfg);
}
END_TEST

START_TEST(test_templates)
{
	static const struct {
		const char *tmpl, *address, *want;
	} cases[] = {
		{ "%EMAILADDRESS%",                "alice@example.com", "alice@example.com" },
		{ "%EMAILLOCALPART%",              "alice@example.com", "alice" },
		{ "%EMAILDOMAIN%",                 "alice@example.com", "example.com" },
		{ "%EMAILLOCALPART%.%EMAILDOMAIN%", "a@b",              "a.b" },
		{ "pre-%EMAILLOCALPART%-post",     "\"a@b\"@c.d",       "pre-\"a@b\"-post" },
		{ "fixed-user",                    "alice@example.com", "fixed-user" },
		{ "%emailaddress% %OTHER% %",      "a@b",               "%emailaddress% %OTHER% %" },
		{ "%EMAILDOMAIN%",                 "no-at-sign",        "" },
		{ "",                              "a@b",               "" },
	};
	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree char *got = mailconfig_expand_template(cases[i].tmpl, cases[i].address);
		ck_assert_str_eq(got, cases[i].want);
	}

	g_autoptr(MailConfig) cfg = small_config();
	mailconfig_add_server(cfg, MAILCONFIG_PROTOCOL_SMTP, "x", 25, MAILCONFIG_SOCKET_PLAIN,
	                      MAILCONFIG_AUTH_NONE, NULL);
	mailconfig_expand_usernames(cfg, "bob@example.net");
	ck_assert_str_eq(((MailConfigServer *)g_ptr_array_index(cfg->incoming, 0))->username,
	                 "bob@example.net");
	ck_assert_str_eq(((MailConfigServer *)g_ptr_array_index(cfg->incoming, 1))->username, "bob");
	ck_assert_ptr_null(((MailConfigServer *)g_ptr_array_index(cfg->outgoing, 1))->username);
}
END_TEST

START_TEST(test_names)
{
	ck_assert_str_eq(mailconfig_protocol_to_string(MAILCONFIG_PROTOCOL_POP3), "pop3");
	ck_assert_str_eq(mailconfig_socket_to_string(MAILCONFIG_SOCKET_STARTTLS), "STARTTLS");
	ck_assert_str_eq(mailconfig_auth_to_string(MAILCONFIG_AUTH_CLIENT_IP), "client-IP-address");
	ck_assert_str_eq(mailconfig_error_to_string(MAILCONFIG_ERROR_REDIRECT), "REDIRECT");
	ck_assert_str_eq(mailconfig_protocol_to_string(42), "?");
}
END_TEST

static Suite *mailconfig_suite(void)
{
	/* a GLib warning or critical (a g_return_if_fail, an overwritten
	 * GError) is a bug here: make it fail the test */
	g_log_set_always_fatal(G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
	Suite *s = suite_create("mailconfig");
	MS_ADD_TEST(s, test_exact_autoconfig, 10);
	MS_ADD_TEST(s, test_exact_autodiscover, 10);
	MS_ADD_TEST(s, test_autoconfig_round_trip, 10);
	MS_ADD_TEST(s, test_autodiscover_round_trip, 10);
	MS_ADD_TEST(s, test_valid_documents, 10);
	MS_ADD_TEST(s, test_invalid_documents, 30);
	MS_ADD_TEST(s, test_prefixes_fail, 30);
	MS_ADD_TEST(s, test_templates, 10);
	MS_ADD_TEST(s, test_names, 10);
	return s;
}

MS_TEST_MAIN(mailconfig_suite)
