/* agents/web/mailconfig.h - a provider's mail settings and the XML that carries them.
 *
 * One struct, MailConfig, and the two documents a mail client fetches during
 * account set-up: Thunderbird's autoconfig "clientConfig" v1.1 (GET
 * /mail/config-v1.1.xml) and Outlook's POX Autodiscover (POST
 * /autodiscover/autodiscover.xml, request and response).  Generators for the
 * web server, bounded parsers for the MUA.  Pure: no I/O, no clock.
 */
#pragma once

#include <glib.h>

/* ---- limits on what a parser accepts ------------------------------------- */

#define MAILCONFIG_MAX_DOCUMENT  65536  /* bytes of XML (= HTTP_PROTO_MAX_BODY) */
#define MAILCONFIG_MAX_DEPTH     16     /* element nesting */
#define MAILCONFIG_MAX_TEXT      1024   /* text of one element we keep */
#define MAILCONFIG_MAX_SERVERS   8      /* incoming, and again outgoing */
#define MAILCONFIG_MAX_DOMAINS   32
#define MAILCONFIG_MAX_HOSTNAME  253    /* RFC 1035 2.3.4, written as text */
#define MAILCONFIG_MAX_ADDRESS   254    /* RFC 5321 4.5.3.1.3, without the <> */

/* The namespaces of POX Autodiscover (MS-OXDISCO / MS-OXDSCLI). */
#define MAILCONFIG_AUTODISCOVER_REQUEST_NS \
	"http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"
#define MAILCONFIG_AUTODISCOVER_RESPONSE_NS \
	"http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"
#define MAILCONFIG_AUTODISCOVER_OUTLOOK_NS \
	"http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"

/* ---- the settings ---------------------------------------------------------- */

typedef enum {
	MAILCONFIG_PROTOCOL_IMAP,
	MAILCONFIG_PROTOCOL_POP3,
	MAILCONFIG_PROTOCOL_SMTP,
} MailConfigProtocol;

/* "imap", "pop3", "smtp": the autoconfig type attribute. */
const char *mailconfig_protocol_to_string(MailConfigProtocol p);

typedef enum {
	MAILCONFIG_SOCKET_PLAIN,     /* no TLS at all */
	MAILCONFIG_SOCKET_STARTTLS,  /* plain connect, then STARTTLS / STLS */
	MAILCONFIG_SOCKET_SSL,       /* TLS from the first byte (993, 995, 465) */
} MailConfigSocket;

/* "plain", "STARTTLS", "SSL": the autoconfig socketType values. */
const char *mailconfig_socket_to_string(MailConfigSocket s);

typedef enum {
	MAILCONFIG_AUTH_PASSWORD_CLEARTEXT,  /* AUTH PLAIN / LOGIN, IMAP LOGIN, POP3 USER/PASS */
	MAILCONFIG_AUTH_PASSWORD_ENCRYPTED,  /* CRAM-MD5 and kin */
	MAILCONFIG_AUTH_NTLM,                /* Autodiscover's SPA */
	MAILCONFIG_AUTH_GSSAPI,
	MAILCONFIG_AUTH_CLIENT_IP,           /* the server trusts where we come from */
	MAILCONFIG_AUTH_TLS_CLIENT_CERT,
	MAILCONFIG_AUTH_OAUTH2,
	MAILCONFIG_AUTH_NONE,
} MailConfigAuth;

/* "password-cleartext", ...: the autoconfig authentication values. */
const char *mailconfig_auth_to_string(MailConfigAuth a);

typedef struct {
	MailConfigProtocol protocol;
	char              *hostname;
	guint16            port;
	MailConfigSocket   socket;
	MailConfigAuth     auth;
	/* A template ("%EMAILADDRESS%", "%EMAILLOCALPART%") or a plain name;
	 * NULL when the document gave none. */
	char              *username;
} MailConfigServer;

typedef struct {
	char      *id;            /* emailProvider id ("example.com"); may be NULL */
	char      *display_name;  /* may be NULL */
	GPtrArray *domains;       /* of char *, the domains these settings serve */
	GPtrArray *incoming;      /* of MailConfigServer * (IMAP, POP3), preferred first */
	GPtrArray *outgoing;      /* of MailConfigServer * (SMTP), preferred first */
} MailConfig;

/* An empty configuration; id and display_name are copied (may be NULL). */
MailConfig *mailconfig_new(const char *id, const char *display_name);
void        mailconfig_free(MailConfig *cfg);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MailConfig, mailconfig_free)

void mailconfig_add_domain(MailConfig *cfg, const char *domain);
/* Adds a server (to outgoing for SMTP, else incoming); strings are copied,
 * username may be NULL.  Returns the new server, owned by cfg. */
MailConfigServer *mailconfig_add_server(MailConfig *cfg, MailConfigProtocol protocol,
                                        const char *hostname, guint16 port,
                                        MailConfigSocket socket, MailConfigAuth auth,
                                        const char *username);

/* ---- username templates ----------------------------------------------------- */

/* tmpl with %EMAILADDRESS%, %EMAILLOCALPART% and %EMAILDOMAIN% replaced from
 * address (split at its last '@'; without one, the domain is ""), newly
 * allocated.  Other text, other %WORDS% included, stays as it is. */
char *mailconfig_expand_template(const char *tmpl, const char *address);

/* Expand every server's username template for address, in place. */
void  mailconfig_expand_usernames(MailConfig *cfg, const char *address);

/* ---- documents ------------------------------------------------------------- */

/* The generators want UTF-8 strings without control characters (XML 1.0
 * cannot carry them) and a hostname on every server: NULL (a bug) if not.
 *
 * Thunderbird autoconfig, clientConfig version 1.1, newly allocated UTF-8.
 * Usernames are written as they are (templates stay templates). */
char *mailconfig_to_autoconfig_xml(const MailConfig *cfg);

/* The POX Autodiscover response for address, newly allocated.  LoginName is
 * each username expanded for address; SSL on/off with Encryption TLS for
 * STARTTLS; SPA on only for NTLM; AuthRequired off only for "none".  Other
 * authentication methods cannot be said and come back as cleartext. */
char *mailconfig_to_autodiscover_xml(const MailConfig *cfg, const char *address);

/* The request document an Outlook client POSTs for address. */
char *mailconfig_encode_autodiscover_request(const char *address);

/* ---- parsers ----------------------------------------------------------------
 * All take len bytes of xml (no NUL needed; a NUL inside is an error), never
 * read past them, and return a new MailConfig or NULL with a MAILCONFIG_ERROR:
 * for the MUA, "this discovery method failed, try the next".
 * Unknown elements and attributes are skipped; of repeated elements the
 * first counts (domains: all of them, servers: all, in order); servers of
 * unknown type (exchange, ews, EXCH...) are skipped; text is trimmed.
 * A result has at least one incoming and one outgoing server, each with a
 * hostname and a port.
 */
#define MAILCONFIG_ERROR (mailconfig_error_quark())
GQuark mailconfig_error_quark(void);

typedef enum {
	MAILCONFIG_ERROR_MALFORMED,    /* not well-formed XML, or not UTF-8 */
	MAILCONFIG_ERROR_WRONG_ROOT,   /* well-formed, but another document */
	MAILCONFIG_ERROR_MISSING,      /* a required element is absent */
	MAILCONFIG_ERROR_INVALID,      /* a value out of range or of bad syntax */
	MAILCONFIG_ERROR_TOO_LARGE,    /* over a MAILCONFIG_MAX_* limit */
	MAILCONFIG_ERROR_REDIRECT,     /* Autodiscover: ask elsewhere; the message is
	                                  "redirectAddr ADDRESS" or "redirectUrl URL" */
	MAILCONFIG_ERROR_SERVER,       /* Autodiscover answered with an Error */
	MAILCONFIG_ERROR_UNSUPPORTED,  /* a request for a schema we do not serve */
} MailConfigError;

const char *mailconfig_error_to_string(MailConfigError e);

MailConfig *mailconfig_parse_autoconfig_xml(const char *xml, gsize len, GError **error);
MailConfig *mailconfig_parse_autodiscover_xml(const char *xml, gsize len, GError **error);

/* The server side: the EMailAddress of an Autodiscover request, newly
 * allocated.  MAILCONFIG_ERROR_UNSUPPORTED if AcceptableResponseSchema asks
 * for anything but the Outlook schema (say, mobilesync). */
char *mailconfig_parse_autodiscover_request(const char *xml, gsize len, GError **error);
