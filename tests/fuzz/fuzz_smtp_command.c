/* tests/fuzz/fuzz_smtp_command.c - arbitrary bytes as SMTP command lines.
 *
 * The input is one command line for smtp_proto_parse_command (with the
 * default limits and with limits that let every byte through), one path,
 * one mailbox, one AUTH response for the SASL decoders, and a list of
 * reply lines for the client's reply and EHLO parsers.  Checks what must
 * hold whatever the bytes: no crash, no leak, classifiers in range, replies
 * we encode never carrying a stray CR or LF.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agents/mta/smtp_proto.h"
#include "agents/common/sasl.h"

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

static void check_path(const SmtpPath *path)
{
	CHECK(path->address != NULL && path->local != NULL && path->local_unquoted != NULL);
	CHECK((smtp_proto_path_relay_tricks(path) & ~SMTP_TRICK_ALL) == 0);
	CHECK(((path->flags & SMTP_PATH_NULL) != 0) == (path->address[0] == '\0'));
	if (path->domain)
		CHECK(g_str_has_suffix(path->address, path->domain));
	SmtpPath *copy = smtp_proto_path_copy(path);
	CHECK(strcmp(copy->address, path->address) == 0);
	smtp_proto_path_free(copy);
}

/* Every line of an encoded reply is "ddd-" or "ddd " plus printable text,
 * at most SMTP_PROTO_MAX_REPLY_LINE with its CRLF. */
static void check_encoded(const char *wire)
{
	const char *p = wire;
	while (*p) {
		const char *crlf = strstr(p, "\r\n");
		CHECK(crlf != NULL);
		gsize n = (gsize)(crlf - p);
		CHECK(n + 2 <= SMTP_PROTO_MAX_REPLY_LINE && n >= 4);
		for (gsize i = 0; i < n; i++)
			CHECK(p[i] != '\r' && p[i] != '\n');
		p = crlf + 2;
	}
}

static void fuzz_command(const char *s, gsize len, const SmtpLimits *limits)
{
	GError *error = NULL;
	SmtpCommand *cmd = smtp_proto_parse_command(s, len, limits, &error);
	if (cmd) {
		CHECK(error == NULL);
		CHECK((guint)cmd->verb < SMTP_VERB_COUNT);
		CHECK(cmd->params->len <= SMTP_PROTO_MAX_PARAMS);
		if (cmd->path)
			check_path(cmd->path);
		CHECK((cmd->verb == SMTP_VERB_MAIL || cmd->verb == SMTP_VERB_RCPT) == (cmd->path != NULL));
		smtp_proto_command_free(cmd);
	} else {
		CHECK(error != NULL && error->domain == SMTP_PROTO_ERROR);
		guint code;
		const char *enhanced;
		smtp_proto_error_reply(error, &code, &enhanced);
		CHECK(code >= 500 && code <= 555 && enhanced != NULL);
		char *wire = smtp_proto_format_reply(code, enhanced, "%s", error->message);
		check_encoded(wire);
		g_free(wire);
		g_error_free(error);
	}
}

static void fuzz_replies(const char *s, gsize len)
{
	SmtpReplyParser *parser = smtp_proto_reply_parser_new();
	gsize start = 0;
	for (gsize i = 0; i <= len; i++) {
		if (i < len && s[i] != '\n')
			continue;
		SmtpReply *reply = NULL;
		SmtpReplyStatus st = smtp_proto_reply_parser_feed(parser, s + start, i - start, &reply, NULL);
		if (st == SMTP_REPLY_COMPLETE) {
			CHECK(reply != NULL && reply->code >= 200 && reply->code <= 559);
			CHECK(reply->lines->len >= 1 && reply->lines->len <= SMTP_PROTO_MAX_REPLY_LINES);
			char *text = smtp_proto_reply_text(reply);
			/* Echo the server's words back in a reply of our own. */
			char *wire = smtp_proto_format_reply(reply->code, reply->enhanced, "%s", text);
			check_encoded(wire);
			g_free(wire);
			g_free(text);
			SmtpExtensions *ext = smtp_proto_parse_ehlo_reply(reply, NULL);
			if (ext) {
				for (guint m = 0; m < ext->auth_mechanisms->len; m++)
					CHECK(smtp_proto_extensions_has_auth(ext, g_ptr_array_index(ext->auth_mechanisms, m)));
				smtp_proto_extensions_free(ext);
			}
			smtp_proto_reply_free(reply);
		} else {
			CHECK(reply == NULL);
		}
		start = i + 1;
	}
	smtp_proto_reply_parser_free(parser);
}

static void fuzz_sasl(const char *s, gsize len)
{
	SaslCredentials *creds = sasl_plain_decode(s, len, NULL);
	if (creds) {
		CHECK(strlen(creds->authcid) > 0 && strlen(creds->authcid) <= SASL_MAX_FIELD);
		CHECK(strlen(creds->passwd) > 0 && strlen(creds->passwd) <= SASL_MAX_FIELD);
		/* What decodes, encodes back to something that decodes the same. */
		char *again = sasl_plain_encode(creds->authzid, creds->authcid, creds->passwd);
		SaslCredentials *back = sasl_plain_decode(again, strlen(again), NULL);
		CHECK(back != NULL && strcmp(back->passwd, creds->passwd) == 0 &&
		      strcmp(back->authcid, creds->authcid) == 0 && strcmp(back->authzid, creds->authzid) == 0);
		sasl_credentials_free(back);
		g_free(again);
		sasl_credentials_free(creds);
	}
	char *text = sasl_login_decode(s, len, NULL);
	if (text) {
		CHECK(strlen(text) <= SASL_MAX_FIELD && g_utf8_validate(text, -1, NULL));
		g_free(text);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;

	SmtpLimits limits = SMTP_LIMITS_INIT;
	fuzz_command(s, size, &limits);
	limits.command_line = size + 2;
	fuzz_command(s, size, &limits);

	SmtpPath *path = smtp_proto_parse_path(s, size, SMTP_PATH_REVERSE, NULL);
	if (path) {
		check_path(path);
		smtp_proto_path_free(path);
	}
	path = smtp_proto_parse_path(s, size, SMTP_PATH_FORWARD, NULL);
	if (path) {
		check_path(path);
		smtp_proto_path_free(path);
	}
	path = smtp_proto_parse_mailbox(s, size, NULL);
	if (path) {
		check_path(path);
		CHECK(path->domain != NULL && smtp_proto_domain_is_valid(path->domain, strlen(path->domain)) ==
		      !(path->flags & SMTP_PATH_TRAILING_DOT));
		smtp_proto_path_free(path);
	}
	(void)smtp_proto_domain_is_valid(s, size);

	fuzz_replies(s, size);
	fuzz_sasl(s, size);
	return 0;
}
