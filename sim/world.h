/* sim/world.h - a scenario's world, built and running: hosts on the
 * simulated network, and on them the DNS servers, MTAs and MDAs the
 * scenario says they run; or, in lab mode, one host's agents on real
 * sockets.
 *
 * Each host keeps its files under STATE/HOSTNAME/ (its queue, its
 * accounts.sqlite, its Maildirs), as if it were its own machine.
 */
#pragma once

#include "sim/scenario.h"
#include "net/simnet.h"
#include "agents/dns/dns_server.h"
#include "agents/mta/mta.h"
#include "agents/mda/mda.h"

typedef struct MsWorld MsWorld;

/* Build everything the scenario describes on the scheduler s (virtual
 * mode), with files under state_dir.  Settings are checked here: an
 * unknown name or a bad value is an error that names the file, line and
 * column.  Nothing runs until ms_world_start. */
MsWorld    *ms_world_new(const Scenario *scn, MsSched *s, const char *state_dir, GError **error);

/* Lab mode (mailsim serve --host, one process per network namespace made
 * by mailsim lab up): only the agents of one host, on real sockets at its
 * scenario address and the standard ports (25, 587, 465, 143, 993, 110,
 * 995, 53, 80, and LMTP 24), its resolver asking the scenario's DNS hosts
 * at their addresses.  The simulated network's links and firewall rules
 * do not apply (mailsim lab up applies them) and nothing plays the script;
 * the host's mail clients are built, for ms_world_client_action (lab up
 * --play).  A state directory kept from an earlier run keeps its accounts. */
/* Lab mode's ports for implicit TLS (RFC 8314 7.3); the others are the
 * agents' defaults. */
#define MS_WORLD_SMTPS_PORT 465
#define MS_WORLD_IMAPS_PORT 993
#define MS_WORLD_POP3S_PORT 995

typedef struct {
	const char      *host;            /* the scenario host to serve (any case) */
	GTlsCertificate *tls_cert;        /* STARTTLS and the implicit-TLS ports; NULL: no TLS.
	                                     Borrowed: keep it until ms_world_free */
	gboolean         plaintext_auth;  /* passwords before STARTTLS too */
	gboolean         fsync;           /* where the scenario sets no fsync */
} MsWorldHostOptions;

/* s is a real-mode scheduler; error (with the file name) when the
 * scenario has no such host. */
MsWorld    *ms_world_new_host(const Scenario *scn, MsSched *s, const char *state_dir,
                              const MsWorldHostOptions *o, GError **error);
/* A scenario file, or "builtin:NAME" for one compiled into mailsim. */
Scenario   *ms_world_load_scenario(const char *path, GError **error);

/* Start listeners and tasks; must be called by the scheduler's main task. */
gboolean    ms_world_start(MsWorld *w, GError **error);
/* Close every listener (before ms_sched_shutdown). */
void        ms_world_stop(MsWorld *w);
/* After ms_sched_shutdown. */
void        ms_world_free(MsWorld *w);

/* NULL in lab mode. */
MsNet      *ms_world_net(MsWorld *w);
const Scenario *ms_world_scenario(MsWorld *w);
const char *ms_world_state_dir(MsWorld *w);
/* Borrowed; NULL when the host does not run that agent. */
Mta        *ms_world_mta(MsWorld *w, const char *host);
Mda        *ms_world_mda(MsWorld *w, const char *host);
/* The DNS server that answers for zone (the first serving it), or NULL. */
DnsServer  *ms_world_dns_for(MsWorld *w, const char *name);
/* The resolver settings every agent uses: the first host running dns. */
const char *ms_world_dns_address(MsWorld *w);
const char *ms_world_dns_name(MsWorld *w);
/* Which server answers which zone (borrowed): for every agent's resolver. */
MsDnsDirectory *ms_world_dns_directory(MsWorld *w);
/* The directory of a user's Maildir (newly allocated), or NULL with an
 * error when the address is nobody's (or, in lab mode, another host's). */
char       *ms_world_maildir(MsWorld *w, const char *address, GError **error);
/* Play a mail client's action (set up, send, fetch, ...) on its MUA;
 * blocks the calling task until the client is done. */
gboolean    ms_world_client_action(MsWorld *w, const ScenarioAction *a, GError **error);

/* The host whose MTA serves a domain (where its users submit), or NULL. */
const char *ms_world_mail_host(MsWorld *w, const char *domain);
