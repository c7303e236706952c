/* agents/mta/mta.h - the MTA agent: Postfix's role in the course.
 *
 * It takes mail from users (submission on 587, with AUTH) and from other
 * servers (25), decides local or remote, asks DNS for MX records, relays,
 * retries and bounces.  The course steps it shows: out.1, out.2, out.4,
 * out.5 on the sending side; in.1, in.2, in.3, in.4, in.6 on the receiving
 * side (see the step table in mta.c).
 */
#pragma once

#include "net/conn.h"
#include "agents/mta/smtp_proto.h"
#include "net/resolver.h"

#define MTA_SMTP_PORT        25
#define MTA_SUBMISSION_PORT  587
#define MTA_LMTP_PORT        24
#define MTA_CONNECT_TIMEOUT  (30 * MS_SECOND)
/* Postfix's defaults: minimal_backoff_time, maximal_backoff_time,
 * maximal_queue_lifetime, bounce_queue_lifetime. */
#define MTA_RETRY_MIN        (300 * MS_SECOND)
#define MTA_RETRY_MAX        (4000 * MS_SECOND)
#define MTA_QUEUE_LIFETIME   ((gint64)5 * 24 * 3600 * MS_SECOND)
/* Unix time of virtual time 0, so simulated Date: headers are stable. */
#define MTA_SIM_EPOCH_US     (G_GINT64_CONSTANT(1767225600) * MS_SECOND)   /* 2026-01-01 */

typedef struct {
	const char *hostname;          /* myhostname: "mx.example.org" */
	const char *state_dir;         /* the queue lives in STATE/queue */
	gboolean    fsync;             /* FALSE only for simulations that do not care */
	guint16     smtp_port;         /* 0: MTA_SMTP_PORT */
	guint16     submission_port;   /* 0: none */
	guint16     smtps_port;        /* implicit TLS (RFC 8314); 0: none; needs tls_cert */
	GTlsCertificate *tls_cert;     /* offer STARTTLS; NULL: none (the simulation) */
	gboolean    auth_needs_tls;    /* no AUTH before TLS (smtpd_tls_auth_only = yes) */
	const char *listen_address;    /* NULL: the stack's */
	/* Postfix parameters, as written in main.cf */
	const char *mydestination;     /* local domains, comma/space separated */
	const char *mynetworks;        /* trusted clients: CIDRs */
	const char *relay_domains;     /* domains accepted to pass on: we are their backup MX */
	const char *smtpd_recipient_restrictions;   /* NULL: the course default */
	const char *submission_recipient_restrictions; /* NULL: permit_sasl_authenticated, reject */
	/* where the neighbours are */
	MsDnsDirectory *dns;           /* which server answers which zone; NULL: dns_server */
	gboolean        dns_cache;     /* keep answers for their TTL (a caching resolver on the host) */
	const char *dns_server;        /* address of the resolver's server */
	guint16     dns_port;          /* 0: 53 */
	const char *dns_server_name;   /* how events call it; NULL: the address */
	const char *mda_address;       /* LMTP and account service; NULL: the stack's own address */
	guint16     lmtp_port;         /* 0: MTA_LMTP_PORT */
	guint16     authsvc_port;      /* 0: AUTHSVC_PORT */
	const char *mda_name;          /* how events call the MDA; NULL: "mda@HOSTNAME" */
	/* times */
	gint64      retry_min, retry_max, queue_lifetime;   /* 0: the defaults above */
	gint64      epoch_us;          /* Date headers: epoch + scheduler time */
	guint64     seed;              /* queue ids and MX order */
	guint64     message_size_limit;   /* 0: SMTP_PROTO_DEFAULT_MESSAGE_SIZE */
	/* what one client may take (Postfix's smtpd settings; see anvil.h) */
	guint       client_connection_count_limit;  /* sessions at once per client and port;
	                                               0: ANVIL_DEFAULT_COUNT_LIMIT; MTA_NO_LIMIT: none */
	guint       client_connection_rate_limit;   /* connections per client and port a minute; 0: none */
	const char *client_event_limit_exceptions;  /* clients spared the two: CIDRs, "$mynetworks"
	                                               among them; NULL: mynetworks */
	gint64      smtpd_timeout;                  /* a client's silence before 421; 0: 300 s */
} MtaConfig;

#define MTA_NO_LIMIT G_MAXUINT   /* a limit that is none (Postfix writes 0) */

typedef struct Mta Mta;

/* Open (and recover) the queue, parse the policy.  NULL with an error that
 * names the bad setting. */
Mta     *mta_new(MsStack *stack, const MtaConfig *cfg, GError **error);
/* Listen and start the queue manager. */
gboolean mta_start(Mta *mta, GError **error);
/* Close the listeners; sessions and the queue manager end (each at its
 * next wait: see mta_running). */
void     mta_stop(Mta *mta);
/* Whether any of the MTA's tasks still runs; free only once none does (or
 * after the scheduler shut down). */
gboolean mta_running(Mta *mta);
void     mta_free(Mta *mta);

/* Messages waiting in the queue. */
guint    mta_queue_length(Mta *mta);
/* Try every deferred message now (postqueue -f). */
void     mta_flush(Mta *mta);
/* The local address the listeners got (port 0 asks for any). */
guint16  mta_smtp_port(Mta *mta);
guint16  mta_submission_port(Mta *mta);
guint16  mta_smtps_port(Mta *mta);
