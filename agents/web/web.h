/* agents/web/web.h - the settings web server: what a mail client asks
 * while it sets an account up.
 *
 * A small HTTP/1.1 server (GET, HEAD, POST; keep-alive; bounded) that
 * answers Thunderbird's autoconfig request (GET /mail/config-v1.1.xml and
 * the domain's /.well-known/autoconfig/mail/config-v1.1.xml, course step
 * setup.4) and Outlook's autodiscover request (POST
 * /autodiscover/autodiscover.xml, setup.3), from the MailConfig of each
 * domain it serves.  The world builder makes those from the servers that
 * really run, so the documents always tell the truth.
 */
#pragma once

#include "net/conn.h"
#include "agents/web/http_proto.h"
#include "agents/web/mailconfig.h"

#define WEB_HTTP_PORT          80
/* Connections served at once; one more gets 503 and is closed. */
#define WEB_MAX_SESSIONS       32
/* Requests on one kept-alive connection before the server closes it. */
#define WEB_MAX_REQUESTS       100
/* How long a connection may sit idle between requests, or stall in one. */
#define WEB_IDLE_TIMEOUT       (30 * MS_SECOND)
/* Unix time of scheduler time 0 in simulations, for the Date header:
 * 2026-01-01, as the MTA's and MDA's. */
#define WEB_DEFAULT_EPOCH_US   (G_GINT64_CONSTANT(1767225600) * MS_SECOND)

/* The paths it serves. */
#define WEB_PATH_AUTOCONFIG            "/mail/config-v1.1.xml"
#define WEB_PATH_AUTOCONFIG_WELL_KNOWN "/.well-known/autoconfig/mail/config-v1.1.xml"
#define WEB_PATH_AUTODISCOVER          "/autodiscover/autodiscover.xml"

/* What the server does, and the course step each shows. */
typedef enum {
	WEB_ACT_AUTOCONFIG,    /* serve the clientConfig XML: setup.4 */
	WEB_ACT_AUTODISCOVER,  /* serve the Autodiscover XML: setup.3 */
	WEB_ACT_REFUSE,        /* a bad request: no step */
	WEB_ACT_COUNT
} WebAction;

const char *web_action_to_string(WebAction action);
/* The course step id ("setup.4"), or NULL. */
const char *web_action_step(WebAction action);

typedef struct {
	const char *hostname;        /* the Server header names it; NULL: the stack's name */
	const char *listen_address;  /* NULL: every address of the stack */
	guint16     port;            /* 0: WEB_HTTP_PORT */
	gint64      epoch_us;        /* Unix time of scheduler time 0, for Date; 0:
	                                WEB_DEFAULT_EPOCH_US (lab mode passes the time it started) */
} WebConfig;

typedef struct WebServer WebServer;

/* A server on stack (in a simulation ms_host_stack_alias(host,
 * "web@HOSTNAME"), so events say who answers).  The strings of cfg are
 * copied. */
WebServer *web_new(MsStack *stack, const WebConfig *cfg);
/* Serve settings for every domain of cfg (cfg->domains; its id when there
 * is none).  The server takes cfg.  Call before web_start, or from a task
 * of the scheduler. */
void       web_add_config(WebServer *web, MailConfig *cfg);
/* The settings for domain (case-insensitive), borrowed; NULL if none. */
const MailConfig *web_config_for(WebServer *web, const char *domain);

/* Listen and start the accept task; each connection gets its own task. */
gboolean   web_start(WebServer *web, GError **error);
guint16    web_port(WebServer *web);
/* Close the listener: no new connections.  Sessions under way end when
 * their clients leave, time out, or the scheduler shuts down. */
void       web_stop(WebServer *web);
/* Call after ms_sched_shutdown (no task may still use the server). */
void       web_free(WebServer *web);

/* ---- the routing, pure: for tests and the curl check ---------------------- */

/* The answer to one request, as bytes to write (newly allocated), given
 * the time for Date.  *action_r says what it was; *domain_r (may be NULL)
 * gets the domain asked about (newly allocated, or NULL). */
GString   *web_answer(WebServer *web, const HttpRequest *req, gint64 unix_seconds,
                      WebAction *action_r, char **domain_r);
