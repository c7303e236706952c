/* agents/common/sasl.h - the two SASL mechanisms mail clients use.
 *
 * PLAIN (RFC 4616) and LOGIN (draft-murchison-sasl-login): decode what a
 * client sends, encode what a client must send.  Shared by the SMTP AUTH
 * (RFC 4954), IMAP AUTHENTICATE (RFC 3501 6.2.2) and POP3 AUTH (RFC 5034)
 * sessions; base64 per RFC 4648 4, strict.  Pure: no I/O, no globals.
 */
#pragma once

#include <glib.h>

/* RFC 4616 2: a server must accept 255 octets for each of authzid, authcid
 * and passwd; we accept exactly that, and LOGIN gets the same bound. */
#define SASL_MAX_FIELD 255

/* The LOGIN server's two prompts, base64 of "Username:" and "Password:". */
#define SASL_LOGIN_PROMPT_USERNAME "VXNlcm5hbWU6"
#define SASL_LOGIN_PROMPT_PASSWORD "UGFzc3dvcmQ6"

typedef enum {
	SASL_MECH_PLAIN,
	SASL_MECH_LOGIN,
	SASL_MECH_COUNT
} SaslMech;

/* "PLAIN", "LOGIN". */
const char *sasl_mech_to_string(SaslMech mech);
/* Case-insensitive; FALSE for a mechanism we do not implement. */
gboolean    sasl_mech_from_string(const char *name, SaslMech *mech_r);

#define SASL_ERROR (sasl_error_quark())
GQuark sasl_error_quark(void);

typedef enum {
	SASL_ERROR_CANCELLED,   /* the client sent "*" (RFC 4954 4, RFC 3501 6.2.2) */
	SASL_ERROR_BAD_BASE64,  /* not canonical base64 */
	SASL_ERROR_TOO_LONG,    /* a field over SASL_MAX_FIELD */
	SASL_ERROR_MALFORMED,   /* wrong number of NULs, empty authcid/passwd, NUL, not UTF-8 */
} SaslError;

const char *sasl_error_to_string(SaslError e);

/* Is this client line the cancel "*"? */
gboolean sasl_is_cancel(const char *line, gsize len);

/* What PLAIN carries.  Strings are UTF-8 without NULs, owned by the struct;
 * authzid is "" when the client asks to act as itself. */
typedef struct {
	char *authzid;
	char *authcid;
	char *passwd;
} SaslCredentials;

/* Frees, overwriting the password first. */
void sasl_credentials_free(SaslCredentials *creds);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SaslCredentials, sasl_credentials_free)

/* Decode a PLAIN response (RFC 4616 2: [authzid] NUL authcid NUL passwd),
 * len bytes of base64.  An empty line and "=" (RFC 4954 4: the empty
 * initial response) decode to nothing, which PLAIN calls malformed; "*"
 * gives CANCELLED.  Returns new credentials or NULL
 * with a SASL_ERROR. */
SaslCredentials *sasl_plain_decode(const char *b64, gsize len, GError **error);
/* The base64 response a PLAIN client sends; authzid may be NULL.  A new
 * string; the fields must hold no NUL and be at most SASL_MAX_FIELD. */
char            *sasl_plain_encode(const char *authzid, const char *authcid, const char *passwd);

/* Decode one LOGIN response (the user name, then the password): len bytes
 * of base64 to a UTF-8 string without NUL of at most SASL_MAX_FIELD
 * octets, possibly empty.  NULL with a SASL_ERROR otherwise. */
char *sasl_login_decode(const char *b64, gsize len, GError **error);
/* The base64 a LOGIN client sends for text; a new string, "" for "" (as
 * an AUTH initial response that must be sent as "=", RFC 4954 4). */
char *sasl_login_encode(const char *text);
