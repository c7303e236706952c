/* sim/kernel/event.h - the one stream: every thing that happens is an MsEvent.
 *
 * Agents emit events on a bus; the UI, the transcript, the JSON Lines log,
 * the pcap writer and the tests are sinks that read them.  The bus gives each
 * event its place in a total order (seq, from 1) and the time it happened.
 */
#pragma once

#include <glib.h>

typedef enum {
	MS_EV_NOTE,        /* narration or a state change worth a line */
	MS_EV_STEP,        /* a course step begins (text says what happens) */
	MS_EV_CONNECT,     /* a client opened a connection */
	MS_EV_ACCEPT,      /* a server accepted one */
	MS_EV_REFUSE,      /* a connection or a command was refused */
	MS_EV_CLOSE,       /* a connection ended */
	MS_EV_SEND,        /* bytes written: one protocol line, or one datagram */
	MS_EV_RECV,        /* bytes arrived at the peer */
	MS_EV_DNS_QUERY,
	MS_EV_DNS_ANSWER,
	MS_EV_DB_QUERY,    /* SQL against the account database */
	MS_EV_AUTH,        /* a credential check and its result */
	MS_EV_STORE,       /* a message written to a queue or a mailbox */
	MS_EV_ERROR,       /* something failed (timeout, unreachable, 4xx/5xx) */
	MS_EV_HOST,        /* a host went up or down, a link changed */
	MS_EV_KIND_COUNT
} MsEventKind;

const char *ms_event_kind_to_string(MsEventKind kind);
/* Returns -1 for an unknown name. */
int ms_event_kind_from_string(const char *name);

/* An event on the bus.  Immutable once emitted; sinks borrow it for the
 * duration of their write callback and must copy what they keep
 * (ms_event_copy). */
typedef struct {
	guint64      seq;      /* total order, starts at 1 */
	gint64       t_us;     /* virtual time (sim) or monotonic time (real) */
	MsEventKind  kind;
	const char  *from;     /* host or agent name, or NULL */
	const char  *to;       /* host or agent name, or NULL */
	const char  *proto;    /* "smtp", "lmtp", "imap", "pop3", "dns", "http", "sql", "tcp", or NULL */
	const char  *step;     /* course step id ("in.3"), or NULL */
	const char  *text;     /* one line a student reads; secrets already masked */
	guint64      conn;     /* connection id, 0 when not about one connection */
	GBytes      *payload;  /* raw bytes on the wire, or NULL */
} MsEvent;

/* A deep copy that owns its strings; free with ms_event_free. */
MsEvent *ms_event_copy(const MsEvent *ev);
void     ms_event_free(MsEvent *ev);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MsEvent, ms_event_free)
