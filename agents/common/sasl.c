/* agents/common/sasl.c - SASL PLAIN (RFC 4616) and LOGIN, both ends.
 *
 * GLib's base64 decoder skips characters it does not know, so every
 * response is first checked against RFC 4648 4 here: a response that is
 * not canonical base64 is an error, never a guess.
 */
#include "agents/common/sasl.h"

#include <string.h>

G_DEFINE_QUARK(sasl-error-quark, sasl_error)

static const char *const mech_names[SASL_MECH_COUNT] = {
	[SASL_MECH_PLAIN] = "PLAIN",
	[SASL_MECH_LOGIN] = "LOGIN",
};

const char *sasl_mech_to_string(SaslMech mech)
{
	if ((guint)mech >= SASL_MECH_COUNT)
		return "unknown";
	return mech_names[mech];
}

gboolean sasl_mech_from_string(const char *name, SaslMech *mech_r)
{
	g_return_val_if_fail(name != NULL && mech_r != NULL, FALSE);
	for (guint m = 0; m < SASL_MECH_COUNT; m++) {
		if (g_ascii_strcasecmp(name, mech_names[m]) == 0) {
			*mech_r = (SaslMech)m;
			return TRUE;
		}
	}
	return FALSE;
}

const char *sasl_error_to_string(SaslError e)
{
	switch (e) {
	case SASL_ERROR_CANCELLED:  return "cancelled";
	case SASL_ERROR_BAD_BASE64: return "bad-base64";
	case SASL_ERROR_TOO_LONG:   return "too-long";
	case SASL_ERROR_MALFORMED:  return "malformed";
	}
	return "unknown";
}

gboolean sasl_is_cancel(const char *line, gsize len)
{
	g_return_val_if_fail(line != NULL || len == 0, FALSE);
	return len == 1 && line[0] == '*';
}

/* Overwrite a secret before it is freed.  Through a volatile pointer, so
 * the compiler cannot drop writes to memory it sees freed next. */
static void wipe(void *mem, gsize len)
{
	volatile guchar *p = mem;
	while (len-- > 0)
		*p++ = 0;
}

void sasl_credentials_free(SaslCredentials *creds)
{
	if (!creds)
		return;
	if (creds->passwd)
		wipe(creds->passwd, strlen(creds->passwd));
	g_free(creds->authzid);
	g_free(creds->authcid);
	g_free(creds->passwd);
	g_free(creds);
}

static gboolean is_base64_char(char ch)
{
	return g_ascii_isalnum(ch) || ch == '+' || ch == '/';
}

/* RFC 4648 4: groups of four from the alphabet, '=' only as the padding of
 * the last group.  An empty line is the empty response, and so is "=", the
 * form an initial response must take (RFC 4954 4).  Checks
 * len against max_decoded before decoding anything.  Returns the decoded
 * bytes with a NUL after them (the NUL not counted in *len_r). */
static guchar *base64_decode_strict(const char *b64, gsize len, gsize max_decoded,
                                    gsize *len_r, GError **error)
{
	if (sasl_is_cancel(b64, len)) {
		g_set_error(error, SASL_ERROR, SASL_ERROR_CANCELLED, "Authentication cancelled");
		return NULL;
	}
	if (len == 0 || (len == 1 && b64[0] == '=')) {
		*len_r = 0;
		return (guchar *)g_strdup("");
	}
	if (len % 4 != 0) {
		g_set_error(error, SASL_ERROR, SASL_ERROR_BAD_BASE64, "Not base64");
		return NULL;
	}
	if (len / 4 * 3 > max_decoded + 2) {
		g_set_error(error, SASL_ERROR, SASL_ERROR_TOO_LONG, "Response too long");
		return NULL;
	}
	gsize pad = 0;
	if (b64[len - 1] == '=')
		pad = b64[len - 2] == '=' ? 2 : 1;
	for (gsize i = 0; i < len - pad; i++) {
		if (!is_base64_char(b64[i])) {
			g_set_error(error, SASL_ERROR, SASL_ERROR_BAD_BASE64, "Not base64");
			return NULL;
		}
	}
	g_autofree char *copy = g_strndup(b64, len);
	gsize n = 0;
	guchar *raw = g_base64_decode(copy, &n);
	if (n > max_decoded) {
		g_free(raw);
		g_set_error(error, SASL_ERROR, SASL_ERROR_TOO_LONG, "Response too long");
		return NULL;
	}
	guchar *out = g_malloc(n + 1);
	if (n > 0)
		memcpy(out, raw, n);
	out[n] = '\0';
	g_free(raw);
	*len_r = n;
	return out;
}

/* RFC 4616 2: each field is UTF-8 (UTF8-SAFE excludes NUL). */
static char *take_field(const guchar *s, gsize len, gboolean may_be_empty, const char *what, GError **error)
{
	if (len > SASL_MAX_FIELD) {
		g_set_error(error, SASL_ERROR, SASL_ERROR_TOO_LONG, "%s too long", what);
		return NULL;
	}
	if (len == 0 && !may_be_empty) {
		g_set_error(error, SASL_ERROR, SASL_ERROR_MALFORMED, "%s is empty", what);
		return NULL;
	}
	if (memchr(s, '\0', len) != NULL || !g_utf8_validate((const char *)s, (gssize)len, NULL)) {
		g_set_error(error, SASL_ERROR, SASL_ERROR_MALFORMED, "%s is not UTF-8 text", what);
		return NULL;
	}
	return g_strndup((const char *)s, len);
}

SaslCredentials *sasl_plain_decode(const char *b64, gsize len, GError **error)
{
	g_return_val_if_fail(b64 != NULL || len == 0, NULL);
	gsize n = 0;
	/* The whole message: three fields and the two NULs between them. */
	g_autofree guchar *raw = base64_decode_strict(b64, len, 3 * SASL_MAX_FIELD + 2, &n, error);
	if (!raw)
		return NULL;

	/* RFC 4616 2: message = [authzid] UTF8NUL authcid UTF8NUL passwd */
	const guchar *nul1 = memchr(raw, '\0', n);
	const guchar *nul2 = nul1 ? memchr(nul1 + 1, '\0', n - (gsize)(nul1 + 1 - raw)) : NULL;
	if (!nul2) {
		g_set_error(error, SASL_ERROR, SASL_ERROR_MALFORMED,
		            "PLAIN needs authzid NUL authcid NUL password");
		/* raw may hold a password: wipe before the autofree. */
		wipe(raw, n);
		return NULL;
	}
	gsize zid_len = (gsize)(nul1 - raw);
	gsize cid_len = (gsize)(nul2 - nul1 - 1);
	gsize pw_len = n - (gsize)(nul2 + 1 - raw);

	g_autoptr(SaslCredentials) creds = g_new0(SaslCredentials, 1);
	/* A third NUL lands inside passwd and take_field refuses it. */
	if (!(creds->authzid = take_field(raw, zid_len, TRUE, "Authorization identity", error)) ||
	    !(creds->authcid = take_field(nul1 + 1, cid_len, FALSE, "User name", error)) ||
	    !(creds->passwd = take_field(nul2 + 1, pw_len, FALSE, "Password", error))) {
		wipe(raw, n);
		return NULL;
	}
	wipe(raw, n);
	return g_steal_pointer(&creds);
}

char *sasl_plain_encode(const char *authzid, const char *authcid, const char *passwd)
{
	g_return_val_if_fail(authcid != NULL && passwd != NULL, NULL);
	if (!authzid)
		authzid = "";
	g_return_val_if_fail(strlen(authzid) <= SASL_MAX_FIELD && strlen(authcid) <= SASL_MAX_FIELD &&
	                     strlen(passwd) <= SASL_MAX_FIELD, NULL);
	g_autoptr(GString) msg = g_string_new(authzid);
	g_string_append_c(msg, '\0');
	g_string_append(msg, authcid);
	g_string_append_c(msg, '\0');
	g_string_append(msg, passwd);
	char *b64 = g_base64_encode((const guchar *)msg->str, msg->len);
	wipe(msg->str, msg->len);
	return b64;
}

char *sasl_login_decode(const char *b64, gsize len, GError **error)
{
	g_return_val_if_fail(b64 != NULL || len == 0, NULL);
	gsize n = 0;
	g_autofree guchar *raw = base64_decode_strict(b64, len, SASL_MAX_FIELD, &n, error);
	if (!raw)
		return NULL;
	char *text = take_field(raw, n, TRUE, "Response", error);
	wipe(raw, n);
	return text;
}

char *sasl_login_encode(const char *text)
{
	g_return_val_if_fail(text != NULL, NULL);
	return g_base64_encode((const guchar *)text, strlen(text));
}
