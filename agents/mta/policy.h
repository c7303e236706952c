/* agents/mta/policy.h - who may send what to whom: the MTA's access policy,
 * in Postfix's words so what a student learns here works there.
 *
 *   smtpd_recipient_restrictions = permit_mynetworks, permit_sasl_authenticated,
 *                                  reject_unauth_destination,
 *                                  reject_rbl_client rbl.example.net
 *
 * Restrictions are evaluated in order at RCPT time; the first that decides
 * wins.  Lookups (DNS, the MDA's user table) are callbacks, so the policy
 * itself is pure and the tests drive it without a network.
 */
#pragma once

#include "agents/mta/smtp_proto.h"
#include "agents/mta/smtp_server.h"

typedef enum {
	POLICY_DUNNO,    /* no decision: go on */
	POLICY_PERMIT,
	POLICY_REJECT,
	POLICY_DEFER,    /* a temporary refusal (4xx) */
} PolicyResult;

const char *policy_result_to_string(PolicyResult r);

/* The restrictions mailsim knows (Postfix's names; reject_dynamic_client is
 * mailsim's, for the course's "dynamic addresses" rule). */
typedef enum {
	POLICY_PERMIT_MYNETWORKS,
	POLICY_PERMIT_SASL_AUTHENTICATED,
	POLICY_REJECT_UNAUTH_DESTINATION,
	POLICY_REJECT_RBL_CLIENT,                   /* takes a zone */
	POLICY_REJECT_UNKNOWN_REVERSE_CLIENT_HOSTNAME,
	POLICY_REJECT_DYNAMIC_CLIENT,
	POLICY_REJECT_UNLISTED_RECIPIENT,           /* also applied implicitly, see below */
	POLICY_R_PERMIT,
	POLICY_R_REJECT,
	POLICY_R_DEFER,
	POLICY_RESTRICTION_COUNT
} PolicyRestrictionKind;

const char *policy_restriction_to_string(PolicyRestrictionKind k);

typedef struct {
	PolicyRestrictionKind kind;
	char                 *arg;   /* the zone of reject_rbl_client; NULL otherwise */
} PolicyRestriction;

typedef struct Policy Policy;

/* Parse the two settings.  mynetworks is a list of CIDRs or addresses
 * (commas or spaces).  An unknown restriction name or a missing zone is an
 * error naming it, as Postfix says "unknown restriction". */
Policy *policy_new(const char *recipient_restrictions, const char *mynetworks, GError **error);
void    policy_free(Policy *p);
const GPtrArray *policy_restrictions(const Policy *p);
gboolean policy_in_mynetworks(const Policy *p, const char *address);

/* Answers the policy needs from the world. */
typedef struct {
	/* Is the domain one this MTA receives mail for (mydestination)? */
	gboolean (*domain_is_local)(gpointer ud, const char *domain);
	/* Is it one this MTA accepts to pass on (relay_domains: a backup MX)?
	 * May be NULL. */
	gboolean (*domain_is_relay)(gpointer ud, const char *domain);
	/* Ask the DNSBL zone about the client: 1 listed (*reason_r may be set,
	 * newly allocated), 0 not listed, -1 no answer. */
	int      (*rbl_listed)(gpointer ud, const char *zone, const char *address, char **reason_r);
	/* The client's PTR name (newly allocated): 1 found, 0 none, -1 no answer. */
	int      (*client_ptr)(gpointer ud, const char *address, char **name_r);
	/* Does the local recipient exist?  1 yes, 0 no, -1 no answer. */
	int      (*recipient_exists)(gpointer ud, const char *address);
} PolicyLookups;

typedef struct {
	const char     *client_address;
	const char     *sasl_user;      /* NULL when not authenticated */
	const SmtpPath *recipient;
} PolicyRequest;

/* Decide about one RCPT.  On REJECT or DEFER, v holds the reply with the
 * course step that decided; on PERMIT it is untouched.  Local recipients
 * are always verified (Postfix's smtpd_reject_unlisted_recipient = yes). */
PolicyResult policy_check_recipient(const Policy *p, const PolicyRequest *req,
                                    const PolicyLookups *lk, gpointer ud, SmtpVerdict *v);

/* Course steps a policy decision is tagged with. */
#define POLICY_STEP_RELAY   "in.2"
#define POLICY_STEP_RBL     "in.3"
#define POLICY_STEP_VERIFY  "in.4"
