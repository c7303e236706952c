/* tests/agents/mta/test_policy.c - smtpd_recipient_restrictions in order,
 * each restriction deciding alone, relay tricks, implicit recipient
 * verification, and parse errors.  The lookups answer from tables. */
#include "tests/ms_test.h"
#include "agents/mta/policy.h"

static gboolean is_local(gpointer ud, const char *domain)
{
	return !g_ascii_strcasecmp(domain, "example.org");
}

static int rbl(gpointer ud, const char *zone, const char *addr, char **reason)
{
	if (!strcmp(addr, "203.0.113.66")) {
		*reason = g_strdup("seen sending spam");
		return 1;
	}
	return !strcmp(addr, "203.0.113.99") ? -1 : 0;
}

static int ptr(gpointer ud, const char *addr, char **name)
{
	if (!strcmp(addr, "198.51.100.99")) {
		*name = g_strdup("dsl-198-51-100-99.pool.isp.example");
		return 1;
	}
	if (!strcmp(addr, "192.0.2.10")) {
		*name = g_strdup("mail.example.com");
		return 1;
	}
	return 0;
}

static int exists(gpointer ud, const char *addr)
{
	if (!strcmp(addr, "bob@example.org") || !strcmp(addr, "postmaster@example.org"))
		return 1;
	return !strcmp(addr, "slow@example.org") ? -1 : 0;
}

static gboolean is_relay(gpointer ud, const char *domain)
{
	return !g_ascii_strcasecmp(domain, "backup.example");
}

static const PolicyLookups lookups = { is_local, is_relay, rbl, ptr, exists };

typedef struct {
	const char  *restrictions;
	const char  *client;
	const char  *sasl_user;
	const char  *rcpt;
	PolicyResult want;
	guint        code;
	const char  *text;    /* fragment of the reply */
	const char  *step;
} Case;

#define COURSE "permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination, reject_rbl_client rbl.example.net"

static const Case cases[] = {
	/* a stranger sending to a local user */
	{ COURSE, "192.0.2.10", NULL, "<bob@example.org>", POLICY_PERMIT, 0, NULL, NULL },
	/* ... to an unknown local user: verified, refused now */
	{ COURSE, "192.0.2.10", NULL, "<nobody@example.org>", POLICY_REJECT, 550, "User unknown", "in.4" },
	{ COURSE, "192.0.2.10", NULL, "<slow@example.org>", POLICY_DEFER, 450, "unverified", "in.4" },
	/* no open relay */
	{ COURSE, "192.0.2.10", NULL, "<someone@elsewhere.net>", POLICY_REJECT, 554, "Relay access denied", "in.2" },
	{ COURSE, "192.0.2.10", NULL, "<\"user@elsewhere.net\"@example.org>", POLICY_REJECT, 554, "Relay access denied", "in.2" },
	{ COURSE, "192.0.2.10", NULL, "<user%elsewhere.net@example.org>", POLICY_REJECT, 554, "Relay access denied", "in.2" },
	{ COURSE, "192.0.2.10", NULL, "<elsewhere.net!user@example.org>", POLICY_REJECT, 554, "Relay access denied", "in.2" },
	{ COURSE, "192.0.2.10", NULL, "<@example.org:user@elsewhere.net>", POLICY_REJECT, 554, "Relay access denied", "in.2" },
	{ COURSE, "192.0.2.10", NULL, "<user@[192.0.2.99]>", POLICY_REJECT, 554, "Relay access denied", "in.2" },
	/* a domain we are backup MX for is accepted and not verified here */
	{ COURSE, "192.0.2.10", NULL, "<anyone@backup.example>", POLICY_PERMIT, 0, NULL, NULL },
	{ COURSE, "192.0.2.10", NULL, "<anyone%elsewhere.net@backup.example>", POLICY_REJECT, 554, "Relay access denied", "in.2" },
	/* but the authenticated and our own networks may relay */
	{ COURSE, "192.0.2.77", "alice@example.com", "<someone@elsewhere.net>", POLICY_PERMIT, 0, NULL, NULL },
	{ "permit_mynetworks, reject_unauth_destination", "127.0.0.1", NULL, "<someone@elsewhere.net>", POLICY_PERMIT, 0, NULL, NULL },
	/* the blacklist */
	{ COURSE, "203.0.113.66", NULL, "<bob@example.org>", POLICY_REJECT, 554, "blocked using rbl.example.net; seen sending spam", "in.3" },
	{ COURSE, "203.0.113.99", NULL, "<bob@example.org>", POLICY_PERMIT, 0, NULL, NULL },   /* DNSBL down: pass */
	/* reverse DNS and dynamic addresses */
	{ "reject_unknown_reverse_client_hostname", "203.0.113.5", NULL, "<bob@example.org>", POLICY_DEFER, 450, "cannot find your reverse hostname", "in.3" },
	{ "reject_dynamic_client", "198.51.100.99", NULL, "<bob@example.org>", POLICY_REJECT, 554, "dynamic", "in.3" },
	{ "reject_dynamic_client", "192.0.2.10", NULL, "<bob@example.org>", POLICY_PERMIT, 0, NULL, NULL },
	/* postmaster is always ours */
	{ COURSE, "192.0.2.10", NULL, "<postmaster>", POLICY_PERMIT, 0, NULL, NULL },
	/* keywords */
	{ "reject", "192.0.2.10", NULL, "<bob@example.org>", POLICY_REJECT, 554, "Access denied", NULL },
	{ "defer", "192.0.2.10", NULL, "<bob@example.org>", POLICY_DEFER, 450, "Try again later", NULL },
	{ "permit_sasl_authenticated, reject", "192.0.2.10", NULL, "<bob@example.org>", POLICY_REJECT, 554, NULL, NULL },
};

START_TEST(test_policy_cases)
{
	const Case *c = &cases[_i];
	g_autoptr(GError) err = NULL;
	Policy *p = policy_new(c->restrictions, "127.0.0.0/8, 10.0.0.0/8", &err);
	ck_assert_ptr_nonnull(p);
	g_autoptr(SmtpPath) rcpt = smtp_proto_parse_path(c->rcpt, strlen(c->rcpt), SMTP_PATH_FORWARD, &err);
	ck_assert_msg(rcpt != NULL, "%s: %s", c->rcpt, err ? err->message : "");
	PolicyRequest req = { c->client, c->sasl_user, rcpt };
	SmtpVerdict v = { 0 };
	PolicyResult got = policy_check_recipient(p, &req, &lookups, NULL, &v);
	ck_assert_msg(got == c->want, "case %d (%s from %s): want %s, got %s (%u %s)", _i, c->rcpt, c->client,
	              policy_result_to_string(c->want), policy_result_to_string(got), v.code, v.text);
	if (c->code) {
		ck_assert_uint_eq(v.code, c->code);
		if (c->text)
			ck_assert_msg(strstr(v.text, c->text) != NULL, "reply \"%s\" lacks \"%s\"", v.text, c->text);
		if (c->step)
			ck_assert_str_eq(v.step, c->step);
	}
	policy_free(p);
}
END_TEST

START_TEST(test_policy_parse_errors)
{
	GError *err = NULL;
	ck_assert_ptr_null(policy_new("permit_mynetworks, reject_everything", "", &err));
	ck_assert_ptr_nonnull(strstr(err->message, "unknown restriction \"reject_everything\""));
	g_clear_error(&err);
	ck_assert_ptr_null(policy_new("reject_rbl_client", "", &err));
	ck_assert_ptr_nonnull(strstr(err->message, "needs a zone"));
	g_clear_error(&err);
	ck_assert_ptr_null(policy_new("permit", "192.0.2.0/99", &err));
	ck_assert_ptr_nonnull(strstr(err->message, "mynetworks"));
	g_clear_error(&err);
	Policy *p = policy_new(COURSE, "", &err);
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(policy_restrictions(p)->len, 4);
	const PolicyRestriction *last = g_ptr_array_index(policy_restrictions(p), 3);
	ck_assert_int_eq(last->kind, POLICY_REJECT_RBL_CLIENT);
	ck_assert_str_eq(last->arg, "rbl.example.net");
	policy_free(p);
}
END_TEST

static Suite *policy_suite(void)
{
	Suite *s = suite_create("policy");
	TCase *tc = tcase_create("cases");
	tcase_add_loop_test(tc, test_policy_cases, 0, G_N_ELEMENTS(cases));
	suite_add_tcase(s, tc);
	MS_ADD_TEST(s, test_policy_parse_errors, 5);
	return s;
}

MS_TEST_MAIN(policy_suite)
