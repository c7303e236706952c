/* agents/mua/mua_tls.c - how the mail client keeps its password and mail
 * out of the clear: STARTTLS before logging in whenever the server offers
 * it (RFC 3207 for submission, RFC 2595 3.1 and RFC 3501 6.2.1 for IMAP,
 * RFC 2595 4 STLS for POP3), TLS from the first byte on the implicit-TLS
 * ports (RFC 8314 3), no password in the clear unless the account's
 * connection security is none or the user allows it, and no session over
 * a certificate the user has not accepted.  Each decision is an event.
 */
#include "agents/mua/mua_impl.h"

static const char *security_name(MailConfigSocket socket)
{
	switch (socket) {
	case MAILCONFIG_SOCKET_STARTTLS: return "STARTTLS";
	case MAILCONFIG_SOCKET_SSL:      return "SSL/TLS";
	default:                         return "none";
	}
}

/* TLS is up with s: go on only with a certificate that was checked, or
 * one the user accepts as it is. */
static gboolean tls_accept(Mua *mua, MsConn *c, const MailConfigServer *s, MuaAction action, GError **error)
{
	if (ms_conn_tls_verified(c)) {
		mua_emit(mua, MS_EV_NOTE, action, s->hostname,
		         "the certificate of %s checks out: it names %s and is signed by %s",
		         s->hostname, s->hostname, mua->ca_file ? "the authority the user trusts" : "a trusted authority");
		return TRUE;
	}
	if (mua->accept_any_certificate) {
		mua_emit(mua, MS_EV_NOTE, action, s->hostname,
		         "%s takes the certificate of %s as it is, unchecked, as it was told to: "
		         "right for a lab's self-signed certificate, an open door to an impostor anywhere else",
		         mua->name, s->hostname);
		return TRUE;
	}
	mua_emit(mua, MS_EV_REFUSE, action, s->hostname,
	         "%s cannot check the certificate of %s and was not told to accept it as it is: "
	         "no login where the server cannot be trusted", mua->name, s->hostname);
	g_set_error(error, MUA_ERROR, MUA_ERROR_CERTIFICATE,
	            "the TLS certificate of %s could not be checked and was not accepted as it is",
	            s->hostname);
	return FALSE;
}

MsConn *mua_connect_server(Mua *mua, const MailConfigServer *s, const char *proto, MuaAction action,
                           GError **error)
{
	MsConn *c = mua_connect(mua, s->hostname, s->port, proto, action, MUA_CONNECT_TIMEOUT, error);
	if (c && !mua->accept_any_certificate)
		ms_conn_set_tls_check(c, s->hostname, mua->ca_file);   /* any handshake on it checks */
	if (!c || s->socket != MAILCONFIG_SOCKET_SSL)
		return c;
	/* RFC 8314 3.3: the handshake comes first, the protocol inside it */
	mua_emit(mua, MS_EV_STEP, action, s->hostname,
	         "%s speaks TLS from the first byte with %s port %u (%s over TLS, RFC 8314): "
	         "nothing of the session travels in the clear", mua->name, s->hostname, s->port, proto);
	GError *local = NULL;
	if (!ms_conn_starttls(c, NULL, &local)) {
		g_propagate_prefixed_error(error, local, "TLS with %s port %u: ", s->hostname, s->port);
		ms_conn_unref(c);
		return NULL;
	}
	if (!tls_accept(mua, c, s, action, error)) {
		ms_conn_unref(c);
		return NULL;
	}
	return c;
}

/* May the password go to s over c as it is now? */
static gboolean password_may_go(Mua *mua, MsConn *c, const MailConfigServer *s, MuaAction action,
                                const char *verb, GError **error)
{
	if (ms_conn_is_tls(c))
		return TRUE;
	/* the account asks for no encryption: the user's choice, as
	 * Thunderbird's "Connection security: None" is */
	if (s->socket == MAILCONFIG_SOCKET_PLAIN)
		return TRUE;
	if (mua->allow_plaintext_auth) {
		mua_emit(mua, MS_EV_NOTE, action, s->hostname,
		         "%s offers no %s: %s's password goes in the clear, as the user allowed; anyone on the "
		         "path can read it", s->hostname, verb, mua->name);
		return TRUE;
	}
	mua_emit(mua, MS_EV_REFUSE, action, s->hostname,
	         "%s offers no %s: %s will not send the password in the clear "
	         "(connection security: %s)", s->hostname, verb, mua->name, security_name(s->socket));
	g_set_error(error, MUA_ERROR, MUA_ERROR_PLAINTEXT,
	            "%s offers no %s: the password would go in the clear, and that is not allowed",
	            s->hostname, verb);
	return FALSE;
}

gboolean mua_secure_session(Mua *mua, MsConn *c, const MailConfigServer *s, MuaAction action,
                            gboolean offered, const MuaTlsOps *ops, gpointer session, gboolean password,
                            GError **error)
{
	if (offered && !ms_conn_is_tls(c)) {
		mua_emit(mua, MS_EV_STEP, action, s->hostname,
		         "%s asks %s to encrypt the connection (%s) before logging in: from here on "
		         "no one on the path can read the password or the mail", mua->name, s->hostname, ops->verb);
		if (!ops->upgrade(session, error) || !tls_accept(mua, c, s, action, error) ||
		    !ops->again(session, error))
			return FALSE;
	}
	return !password || password_may_go(mua, c, s, action, ops->verb, error);
}
