/* agents/mta/policy.c - smtpd_recipient_restrictions, evaluated.
 *
 * One table maps each restriction's name to a check; the checks are small
 * functions that return PERMIT, REJECT, DEFER or DUNNO, as Postfix's
 * smtpd_check.c does.  Refusal texts follow Postfix's so a student can
 * search for them.
 */
#include "agents/mta/policy.h"
#include "net/dnsbl.h"
#include "net/simnet.h"

#include <string.h>

struct Policy {
	GPtrArray *restrictions;   /* PolicyRestriction* */
	GPtrArray *mynetworks;     /* char* CIDRs */
};

static const char *const result_names[] = { "dunno", "permit", "reject", "defer" };

const char *policy_result_to_string(PolicyResult r)
{
	return (guint)r < G_N_ELEMENTS(result_names) ? result_names[r] : "?";
}

typedef struct {
	const char *name;
	gboolean    takes_arg;
	PolicyResult (*check)(const Policy *p, const PolicyRestriction *r, const PolicyRequest *req,
	                      const PolicyLookups *lk, gpointer ud, SmtpVerdict *v);
} RestrictionDef;

/* ---- the checks -------------------------------------------------------- */

static gboolean rcpt_is_local(const PolicyRequest *req, const PolicyLookups *lk, gpointer ud)
{
	const SmtpPath *rcpt = req->recipient;
	if (rcpt->flags & SMTP_PATH_POSTMASTER)
		return TRUE;   /* RFC 5321 4.5.1: <postmaster> is always ours */
	/* Sender-specified routing is never local for a stranger: the percent
	 * hack, bang paths, source routes and quoted "@"s try to make us relay
	 * (Postfix: allow_untrusted_routing = no). */
	if (smtp_proto_path_relay_tricks(rcpt) != 0)
		return FALSE;
	return rcpt->domain && lk->domain_is_local && lk->domain_is_local(ud, rcpt->domain);
}

static PolicyResult check_mynetworks(const Policy *p, const PolicyRestriction *r, const PolicyRequest *req,
                                     const PolicyLookups *lk, gpointer ud, SmtpVerdict *v)
{
	return policy_in_mynetworks(p, req->client_address) ? POLICY_PERMIT : POLICY_DUNNO;
}

static PolicyResult check_sasl(const Policy *p, const PolicyRestriction *r, const PolicyRequest *req,
                               const PolicyLookups *lk, gpointer ud, SmtpVerdict *v)
{
	return req->sasl_user ? POLICY_PERMIT : POLICY_DUNNO;
}

static PolicyResult check_unauth_destination(const Policy *p, const PolicyRestriction *r,
                                             const PolicyRequest *req, const PolicyLookups *lk,
                                             gpointer ud, SmtpVerdict *v)
{
	if (rcpt_is_local(req, lk, ud))
		return POLICY_DUNNO;
	const SmtpPath *rcpt = req->recipient;
	if (rcpt->domain && lk->domain_is_relay && !smtp_proto_path_relay_tricks(rcpt) &&
	    lk->domain_is_relay(ud, rcpt->domain))
		return POLICY_DUNNO;   /* relay_domains: we are its backup MX */
	guint tricks = smtp_proto_path_relay_tricks(req->recipient);
	if (tricks) {
		const char *which = "sender-specified routing";
		for (guint bit = 1; bit <= SMTP_TRICK_ALL; bit <<= 1)
			if (tricks & bit) {
				which = smtp_proto_relay_trick_to_string(bit);
				break;
			}
		smtp_verdict_set(v, 554, "5.7.1", POLICY_STEP_RELAY,
		                 "<%s>: Relay access denied (%s)", req->recipient->address, which);
	} else {
		smtp_verdict_set(v, 554, "5.7.1", POLICY_STEP_RELAY,
		                 "<%s>: Relay access denied", req->recipient->address);
	}
	return POLICY_REJECT;
}

static PolicyResult check_rbl(const Policy *p, const PolicyRestriction *r, const PolicyRequest *req,
                              const PolicyLookups *lk, gpointer ud, SmtpVerdict *v)
{
	if (!lk->rbl_listed)
		return POLICY_DUNNO;
	g_autofree char *reason = NULL;
	int listed = lk->rbl_listed(ud, r->arg, req->client_address, &reason);
	if (listed <= 0)
		return POLICY_DUNNO;   /* Postfix too lets a DNSBL time-out pass */
	smtp_verdict_set(v, 554, "5.7.1", POLICY_STEP_RBL,
	                 "Service unavailable; Client host [%s] blocked using %s%s%s",
	                 req->client_address, r->arg, reason ? "; " : "", reason ? reason : "");
	return POLICY_REJECT;
}

static PolicyResult check_unknown_reverse(const Policy *p, const PolicyRestriction *r,
                                          const PolicyRequest *req, const PolicyLookups *lk,
                                          gpointer ud, SmtpVerdict *v)
{
	if (!lk->client_ptr)
		return POLICY_DUNNO;
	g_autofree char *name = NULL;
	int found = lk->client_ptr(ud, req->client_address, &name);
	if (found > 0)
		return POLICY_DUNNO;
	/* Postfix: unknown_client_reject_code 450, so a DNS hiccup is not fatal */
	smtp_verdict_set(v, 450, "4.7.1", POLICY_STEP_RBL,
	                 "Client host rejected: cannot find your reverse hostname, [%s]",
	                 req->client_address);
	return POLICY_DEFER;
}

static PolicyResult check_dynamic(const Policy *p, const PolicyRestriction *r, const PolicyRequest *req,
                                  const PolicyLookups *lk, gpointer ud, SmtpVerdict *v)
{
	if (!lk->client_ptr)
		return POLICY_DUNNO;
	g_autofree char *name = NULL;
	if (lk->client_ptr(ud, req->client_address, &name) <= 0)
		return POLICY_DUNNO;
	g_autofree char *why = NULL;
	if (dnsbl_ptr_looks_dynamic(name, req->client_address, &why) == DNSBL_DYNAMIC_NONE)
		return POLICY_DUNNO;
	smtp_verdict_set(v, 554, "5.7.1", POLICY_STEP_RBL,
	                 "Client host rejected: %s [%s] looks like a dynamic address (%s); "
	                 "send through your provider's server", name, req->client_address,
	                 why ? why : "generic name");
	return POLICY_REJECT;
}

static PolicyResult check_unlisted(const Policy *p, const PolicyRestriction *r, const PolicyRequest *req,
                                   const PolicyLookups *lk, gpointer ud, SmtpVerdict *v)
{
	if (!rcpt_is_local(req, lk, ud) || !lk->recipient_exists || !req->recipient->domain)
		return POLICY_DUNNO;
	switch (lk->recipient_exists(ud, req->recipient->address)) {
	case 1:
		return POLICY_DUNNO;
	case 0:
		smtp_verdict_set(v, 550, "5.1.1", POLICY_STEP_VERIFY,
		                 "<%s>: Recipient address rejected: User unknown in virtual mailbox table",
		                 req->recipient->address);
		return POLICY_REJECT;
	default:
		smtp_verdict_set(v, 450, "4.1.1", POLICY_STEP_VERIFY,
		                 "<%s>: Recipient address rejected: unverified address: lookup failed",
		                 req->recipient->address);
		return POLICY_DEFER;
	}
}

static PolicyResult check_permit(const Policy *p, const PolicyRestriction *r, const PolicyRequest *req,
                                 const PolicyLookups *lk, gpointer ud, SmtpVerdict *v)
{
	return POLICY_PERMIT;
}

static PolicyResult check_reject(const Policy *p, const PolicyRestriction *r, const PolicyRequest *req,
                                 const PolicyLookups *lk, gpointer ud, SmtpVerdict *v)
{
	smtp_verdict_set(v, 554, "5.7.1", POLICY_STEP_RELAY, "<%s>: Recipient address rejected: Access denied",
	                 req->recipient->address);
	return POLICY_REJECT;
}

static PolicyResult check_defer(const Policy *p, const PolicyRestriction *r, const PolicyRequest *req,
                                const PolicyLookups *lk, gpointer ud, SmtpVerdict *v)
{
	smtp_verdict_set(v, 450, "4.7.1", POLICY_STEP_RELAY, "<%s>: Recipient address rejected: Try again later",
	                 req->recipient->address);
	return POLICY_DEFER;
}

static const RestrictionDef defs[POLICY_RESTRICTION_COUNT] = {
	[POLICY_PERMIT_MYNETWORKS] = { "permit_mynetworks", FALSE, check_mynetworks },
	[POLICY_PERMIT_SASL_AUTHENTICATED] = { "permit_sasl_authenticated", FALSE, check_sasl },
	[POLICY_REJECT_UNAUTH_DESTINATION] = { "reject_unauth_destination", FALSE, check_unauth_destination },
	[POLICY_REJECT_RBL_CLIENT] = { "reject_rbl_client", TRUE, check_rbl },
	[POLICY_REJECT_UNKNOWN_REVERSE_CLIENT_HOSTNAME] = { "reject_unknown_reverse_client_hostname", FALSE, check_unknown_reverse },
	[POLICY_REJECT_DYNAMIC_CLIENT] = { "reject_dynamic_client", FALSE, check_dynamic },
	[POLICY_REJECT_UNLISTED_RECIPIENT] = { "reject_unlisted_recipient", FALSE, check_unlisted },
	[POLICY_R_PERMIT] = { "permit", FALSE, check_permit },
	[POLICY_R_REJECT] = { "reject", FALSE, check_reject },
	[POLICY_R_DEFER] = { "defer", FALSE, check_defer },
};

const char *policy_restriction_to_string(PolicyRestrictionKind k)
{
	return (guint)k < POLICY_RESTRICTION_COUNT ? defs[k].name : "?";
}

/* ---- parsing ----------------------------------------------------------- */

/* Postfix splits lists on commas and white space alike. */
static GPtrArray *split_list(const char *s)
{
	GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
	g_auto(GStrv) words = g_strsplit_set(s ? s : "", ", \t\r\n", -1);
	for (guint i = 0; words[i]; i++)
		if (words[i][0])
			g_ptr_array_add(out, g_strdup(words[i]));
	return out;
}

static void restriction_free(gpointer data)
{
	PolicyRestriction *r = data;
	g_free(r->arg);
	g_free(r);
}

Policy *policy_new(const char *recipient_restrictions, const char *mynetworks, GError **error)
{
	g_autoptr(GPtrArray) words = split_list(recipient_restrictions);
	Policy *p = g_new0(Policy, 1);
	p->restrictions = g_ptr_array_new_with_free_func(restriction_free);
	p->mynetworks = split_list(mynetworks);

	for (guint i = 0; i < p->mynetworks->len; i++) {
		const char *cidr = g_ptr_array_index(p->mynetworks, i);
		if (!ms_net_cidr_valid(cidr)) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
			            "mynetworks: \"%s\" is not an address or a CIDR range like 192.0.2.0/24", cidr);
			policy_free(p);
			return NULL;
		}
	}
	for (guint i = 0; i < words->len; i++) {
		const char *w = g_ptr_array_index(words, i);
		int kind = -1;
		for (int k = 0; k < POLICY_RESTRICTION_COUNT; k++)
			if (g_ascii_strcasecmp(w, defs[k].name) == 0)
				kind = k;
		if (kind < 0) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
			            "smtpd_recipient_restrictions: unknown restriction \"%s\"", w);
			policy_free(p);
			return NULL;
		}
		PolicyRestriction *r = g_new0(PolicyRestriction, 1);
		r->kind = kind;
		if (defs[kind].takes_arg) {
			if (i + 1 >= words->len) {
				g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
				            "smtpd_recipient_restrictions: %s needs a zone, like %s rbl.example.net",
				            w, w);
				restriction_free(r);
				policy_free(p);
				return NULL;
			}
			r->arg = g_strdup(g_ptr_array_index(words, ++i));
		}
		g_ptr_array_add(p->restrictions, r);
	}
	return p;
}

void policy_free(Policy *p)
{
	if (!p)
		return;
	g_ptr_array_free(p->restrictions, TRUE);
	g_ptr_array_free(p->mynetworks, TRUE);
	g_free(p);
}

const GPtrArray *policy_restrictions(const Policy *p) { return p->restrictions; }

gboolean policy_in_mynetworks(const Policy *p, const char *address)
{
	for (guint i = 0; i < p->mynetworks->len; i++)
		if (ms_net_cidr_match(g_ptr_array_index(p->mynetworks, i), address))
			return TRUE;
	return FALSE;
}

/* ---- evaluation -------------------------------------------------------- */

PolicyResult policy_check_recipient(const Policy *p, const PolicyRequest *req,
                                    const PolicyLookups *lk, gpointer ud, SmtpVerdict *v)
{
	PolicyResult res = POLICY_DUNNO;
	for (guint i = 0; i < p->restrictions->len && res == POLICY_DUNNO; i++) {
		const PolicyRestriction *r = g_ptr_array_index(p->restrictions, i);
		res = defs[r->kind].check(p, r, req, lk, ud, v);
	}
	if (res == POLICY_REJECT || res == POLICY_DEFER)
		return res;
	/* smtpd_reject_unlisted_recipient = yes: mail for a local address that
	 * does not exist is refused now, while the sender is still connected,
	 * instead of bouncing later (that would be backscatter). */
	PolicyRestriction verify = { POLICY_REJECT_UNLISTED_RECIPIENT, NULL };
	PolicyResult vr = check_unlisted(p, &verify, req, lk, ud, v);
	return vr == POLICY_DUNNO ? POLICY_PERMIT : vr;
}
