/* tests/agents/common/test_sasl.c - SASL PLAIN and LOGIN, valid and invalid.
 *
 * Tables hold the raw SASL messages (NULs and all); the tests base64 them
 * the way a client would, so each case reads as what the user typed.
 */
#include "tests/ms_test.h"
#include "agents/common/sasl.h"

/* A raw message with its length, NULs included. */
#define RAW(s) { (s), sizeof(s) - 1 }

typedef struct {
	const char *bytes;
	gsize       len;
} Raw;

static char *b64(Raw raw)
{
	return g_base64_encode((const guchar *)raw.bytes, raw.len);
}

static const struct {
	Raw         raw;
	const char *authzid, *authcid, *passwd;
} plain_valid[] = {
	{ RAW("\0bob\0secret"), "", "bob", "secret" },
	{ RAW("admin\0bob\0secret"), "admin", "bob", "secret" },
	{ RAW("\0bob@example.org\0p a s s"), "", "bob@example.org", "p a s s" },
	{ RAW("\0jos\xc3\xa9\0p\xc3\xa4ss"), "", "jos\xc3\xa9", "p\xc3\xa4ss" },
};

START_TEST(test_plain_valid)
{
	for (gsize i = 0; i < G_N_ELEMENTS(plain_valid); i++) {
		g_autofree char *enc = b64(plain_valid[i].raw);
		g_autoptr(GError) error = NULL;
		g_autoptr(SaslCredentials) creds = sasl_plain_decode(enc, strlen(enc), &error);
		ck_assert_msg(creds != NULL, "case %zu: %s", i, error ? error->message : "?");
		ck_assert_str_eq(creds->authzid, plain_valid[i].authzid);
		ck_assert_str_eq(creds->authcid, plain_valid[i].authcid);
		ck_assert_str_eq(creds->passwd, plain_valid[i].passwd);
	}
}
END_TEST

static const struct {
	Raw       raw;
	SaslError error;
} plain_invalid[] = {
	{ RAW(""), SASL_ERROR_MALFORMED },
	{ RAW("bobsecret"), SASL_ERROR_MALFORMED },
	{ RAW("bob\0secret"), SASL_ERROR_MALFORMED },
	{ RAW("\0\0secret"), SASL_ERROR_MALFORMED },
	{ RAW("\0bob\0"), SASL_ERROR_MALFORMED },
	{ RAW("\0bob\0sec\0ret"), SASL_ERROR_MALFORMED },
	{ RAW("\0bob\0secret\0"), SASL_ERROR_MALFORMED },
	{ RAW("\0bob\0\xff\xfe"), SASL_ERROR_MALFORMED },
	{ RAW("\xc3\0bob\0secret"), SASL_ERROR_MALFORMED },
};

static void check_plain_error(const char *enc, gsize len, SaslError want)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(SaslCredentials) creds = sasl_plain_decode(enc, len, &error);
	ck_assert_msg(creds == NULL, "'%.40s' accepted", enc);
	ck_assert_msg(g_error_matches(error, SASL_ERROR, (gint)want), "'%.40s': %s, want %s", enc,
	              error ? error->message : "no error", sasl_error_to_string(want));
}

START_TEST(test_plain_invalid)
{
	for (gsize i = 0; i < G_N_ELEMENTS(plain_invalid); i++) {
		g_autofree char *enc = b64(plain_invalid[i].raw);
		check_plain_error(enc, strlen(enc), plain_invalid[i].error);
	}
	/* RFC 4954 4: "=" is the empty response, and "*" cancels. */
	check_plain_error("=", 1, SASL_ERROR_MALFORMED);
	check_plain_error("", 0, SASL_ERROR_MALFORMED);
	check_plain_error("*", 1, SASL_ERROR_CANCELLED);
}
END_TEST

/* Base64 that g_base64_decode would quietly guess at. */
static const char *const bad_base64[] = {
	"AGJvYgBzZWNyZXQ",      /* padding missing */
	"AGJvYgBzZWNyZXQ==",    /* length not a multiple of 4 */
	"AGJv YgBzZWNyZXQ=",    /* a blank */
	"AG=vYgBzZWNyZXQ=",     /* '=' inside */
	"====",
	"A===",
	"!!!!",
	"AGJvYgBz\r\nZWNy",
	"**",
	"==",
};

START_TEST(test_bad_base64)
{
	for (gsize i = 0; i < G_N_ELEMENTS(bad_base64); i++) {
		check_plain_error(bad_base64[i], strlen(bad_base64[i]), SASL_ERROR_BAD_BASE64);
		g_autoptr(GError) error = NULL;
		ck_assert_ptr_null(sasl_login_decode(bad_base64[i], strlen(bad_base64[i]), &error));
		ck_assert(g_error_matches(error, SASL_ERROR, SASL_ERROR_BAD_BASE64));
	}
	/* A NUL in the line is no base64 either, and does not hide the rest. */
	check_plain_error("AGJv\0YgBz", 9, SASL_ERROR_BAD_BASE64);
}
END_TEST

START_TEST(test_plain_bounds)
{
	/* RFC 4616 2: 255 octets per field are accepted... */
	g_autofree char *f255 = g_strnfill(SASL_MAX_FIELD, 'u');
	g_autofree char *enc = sasl_plain_encode(f255, f255, f255);
	g_autoptr(SaslCredentials) creds = sasl_plain_decode(enc, strlen(enc), NULL);
	ck_assert_ptr_nonnull(creds);
	ck_assert_uint_eq(strlen(creds->authcid), SASL_MAX_FIELD);

	/* ...256 in any one is not, even when the whole would fit. */
	g_autofree char *f256 = g_strnfill(SASL_MAX_FIELD + 1, 'u');
	g_autoptr(GString) raw = g_string_new(NULL);
	g_string_append_c(raw, '\0');
	g_string_append(raw, f256);
	g_string_append_c(raw, '\0');
	g_string_append(raw, "pw");
	g_autofree char *enc256 = g_base64_encode((const guchar *)raw->str, raw->len);
	check_plain_error(enc256, strlen(enc256), SASL_ERROR_TOO_LONG);

	/* A huge response is refused before it is decoded. */
	g_autofree char *huge = g_strnfill(100000, 'A');
	check_plain_error(huge, strlen(huge), SASL_ERROR_TOO_LONG);
}
END_TEST

START_TEST(test_plain_encode)
{
	g_autofree char *enc = sasl_plain_encode(NULL, "bob", "secret");
	ck_assert_str_eq(enc, "AGJvYgBzZWNyZXQ=");
	g_autofree char *enc2 = sasl_plain_encode("admin", "bob", "secret");
	g_autoptr(SaslCredentials) creds = sasl_plain_decode(enc2, strlen(enc2), NULL);
	ck_assert_str_eq(creds->authzid, "admin");
	ck_assert_str_eq(creds->authcid, "bob");
	ck_assert_str_eq(creds->passwd, "secret");
}
END_TEST

START_TEST(test_login)
{
	/* The prompts are what they claim. */
	g_autofree char *user = sasl_login_decode(SASL_LOGIN_PROMPT_USERNAME, strlen(SASL_LOGIN_PROMPT_USERNAME), NULL);
	g_autofree char *pass = sasl_login_decode(SASL_LOGIN_PROMPT_PASSWORD, strlen(SASL_LOGIN_PROMPT_PASSWORD), NULL);
	ck_assert_str_eq(user, "Username:");
	ck_assert_str_eq(pass, "Password:");

	static const struct { const char *text, *wire; } valid[] = {
		{ "bob", "Ym9i" },
		{ "bob@example.org", "Ym9iQGV4YW1wbGUub3Jn" },
		{ "p\xc3\xa4ss", "cMOkc3M=" },
		{ "", "" },
	};
	for (gsize i = 0; i < G_N_ELEMENTS(valid); i++) {
		g_autofree char *enc = sasl_login_encode(valid[i].text);
		ck_assert_str_eq(enc, valid[i].wire);
		g_autoptr(GError) error = NULL;
		g_autofree char *dec = sasl_login_decode(enc, strlen(enc), &error);
		ck_assert_msg(dec != NULL, "%s: %s", valid[i].wire, error ? error->message : "?");
		ck_assert_str_eq(dec, valid[i].text);
	}
	g_autofree char *empty = sasl_login_decode("=", 1, NULL);
	ck_assert_str_eq(empty, "");

	static const struct { Raw raw; SaslError error; } invalid[] = {
		{ RAW("bo\0b"), SASL_ERROR_MALFORMED },
		{ RAW("\xff"), SASL_ERROR_MALFORMED },
	};
	for (gsize i = 0; i < G_N_ELEMENTS(invalid); i++) {
		g_autofree char *enc = b64(invalid[i].raw);
		g_autoptr(GError) error = NULL;
		ck_assert_ptr_null(sasl_login_decode(enc, strlen(enc), &error));
		ck_assert(g_error_matches(error, SASL_ERROR, (gint)invalid[i].error));
	}
	g_autofree char *f256 = g_strnfill(SASL_MAX_FIELD + 1, 'x');
	g_autofree char *enc256 = sasl_login_encode(f256);
	g_autoptr(GError) e1 = NULL;
	ck_assert_ptr_null(sasl_login_decode(enc256, strlen(enc256), &e1));
	ck_assert(g_error_matches(e1, SASL_ERROR, SASL_ERROR_TOO_LONG));
	g_autofree char *f255 = g_strnfill(SASL_MAX_FIELD, 'x');
	g_autofree char *enc255 = sasl_login_encode(f255);
	g_autofree char *dec255 = sasl_login_decode(enc255, strlen(enc255), NULL);
	ck_assert_str_eq(dec255, f255);

	g_autoptr(GError) e2 = NULL;
	ck_assert_ptr_null(sasl_login_decode("*", 1, &e2));
	ck_assert(g_error_matches(e2, SASL_ERROR, SASL_ERROR_CANCELLED));
}
END_TEST

START_TEST(test_names)
{
	SaslMech mech;
	ck_assert(sasl_mech_from_string("plain", &mech));
	ck_assert_int_eq(mech, SASL_MECH_PLAIN);
	ck_assert(sasl_mech_from_string("LOGIN", &mech));
	ck_assert_int_eq(mech, SASL_MECH_LOGIN);
	ck_assert(!sasl_mech_from_string("CRAM-MD5", &mech));
	ck_assert(!sasl_mech_from_string("", &mech));
	for (int m = 0; m < SASL_MECH_COUNT; m++) {
		ck_assert(sasl_mech_from_string(sasl_mech_to_string((SaslMech)m), &mech));
		ck_assert_int_eq(mech, m);
	}
	ck_assert_str_eq(sasl_mech_to_string(SASL_MECH_COUNT), "unknown");

	g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
	for (int e = SASL_ERROR_CANCELLED; e <= SASL_ERROR_MALFORMED; e++) {
		const char *name = sasl_error_to_string((SaslError)e);
		ck_assert_str_ne(name, "unknown");
		ck_assert(g_hash_table_add(seen, (gpointer)name));
	}
	ck_assert_str_eq(sasl_error_to_string((SaslError)(SASL_ERROR_MALFORMED + 1)), "unknown");

	ck_assert(sasl_is_cancel("*", 1));
	ck_assert(!sasl_is_cancel("**", 2));
	ck_assert(!sasl_is_cancel("", 0));
	sasl_credentials_free(NULL);
}
END_TEST

static Suite *sasl_suite(void)
{
	Suite *s = suite_create("sasl");
	MS_ADD_TEST(s, test_plain_valid, 10);
	MS_ADD_TEST(s, test_plain_invalid, 10);
	MS_ADD_TEST(s, test_bad_base64, 10);
	MS_ADD_TEST(s, test_plain_bounds, 10);
	MS_ADD_TEST(s, test_plain_encode, 10);
	MS_ADD_TEST(s, test_login, 10);
	MS_ADD_TEST(s, test_names, 10);
	return s;
}

MS_TEST_MAIN(sasl_suite)
