/* ui/model.h - what the classroom view knows: every event so far, cut into
 * moments, and where in that history the class is looking.
 *
 * A moment ("beat") is what one press of Space shows: what one party says
 * at one instant of virtual time (protocol lines, a DNS question, a query on
 * the database), with the invisible bookkeeping before it (arrivals, the
 * second half of a TCP handshake); a course step's narration starts one.  The cursor is a
 * moment; stepping back and forth moves it through the recorded history.
 * The model also keeps one transcript per connection, the course steps seen,
 * which of them is active at the cursor, and the protocol filter.
 *
 * Pure and single-threaded: events in, answers out; no terminal, no clock.
 * Every pointer it returns is borrowed from the model and lives as long as
 * the model (events are never dropped).
 */
#pragma once

#include <glib.h>
#include "sim/kernel/event.h"

/* How an event shows in the sequence pane (the ladder). */
typedef enum {
	UI_ROW_NONE,     /* not shown: arrivals, TCP bookkeeping, datagram bytes */
	UI_ROW_ARROW,    /* an arrow from one party to another */
	UI_ROW_COMMENT,  /* a line of narration across the ladder */
} UiRowKind;

const char *ui_row_kind_to_string(UiRowKind k);
UiRowKind   ui_model_row_kind(const MsEvent *ev);

/* What became of a course step, at the cursor; a bit set. */
typedef enum {
	UI_STEP_SEEN    = 1 << 0,  /* some visible event carries it */
	UI_STEP_ACTIVE  = 1 << 1,  /* it is the step happening now */
	UI_STEP_REFUSED = 1 << 2,  /* a refusal carries it */
} UiStepFlags;

/* "seen", "active", "refused" for one flag. */
const char *ui_step_flag_to_string(UiStepFlags f);

/* One connection's transcript (or, for DNS, one asker and one server). */
typedef struct {
	guint       index;
	guint64     conn;      /* the connection id; 0 for a DNS exchange */
	const char *client;    /* who opened it */
	const char *server;
	const char *proto;     /* "smtp", "dns"...; the first one that is not "tcp" */
	guint       port;      /* the server's port, 0 when no event said */
	GArray     *lines;     /* guint event indices, in order: C:/S: lines, SQL, notes */
} UiConversation;

typedef struct UiModel UiModel;

UiModel    *ui_model_new(void);
void        ui_model_free(UiModel *m);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(UiModel, ui_model_free)

/* Appends a copy of ev.  Events come in the order of the bus. */
void        ui_model_add(UiModel *m, const MsEvent *ev);
/* Appends ev and takes it (it must come from ms_event_copy). */
void        ui_model_take(UiModel *m, MsEvent *ev);

guint          ui_model_count(const UiModel *m);
const MsEvent *ui_model_event(const UiModel *m, guint i);

/* ---- moments ------------------------------------------------------------- */

guint       ui_model_beat_count(const UiModel *m);
/* Events [start, end) make moment b. */
guint       ui_model_beat_start(const UiModel *m, guint b);
guint       ui_model_beat_end(const UiModel *m, guint b);
/* The virtual time of moment b (of its first visible event). */
gint64      ui_model_beat_time(const UiModel *m, guint b);
/* The moment event i belongs to. */
guint       ui_model_beat_of(const UiModel *m, guint i);

/* ---- the cursor ----------------------------------------------------------- */

/* The moment shown; meaningless while there are no moments.  A new model
 * follows the live end: the cursor is always the last moment until the
 * class steps back. */
guint       ui_model_cursor(const UiModel *m);
gboolean    ui_model_following(const UiModel *m);
/* How many events the class sees: those up to the end of the cursor's
 * moment (0 before the first moment). */
guint       ui_model_visible(const UiModel *m);
/* One moment forward; FALSE when the cursor is already the last moment
 * (the caller then asks the world for more).  Reaching the last moment
 * follows the live end again. */
gboolean    ui_model_forward(UiModel *m);
/* One moment back; FALSE at the first. */
gboolean    ui_model_back(UiModel *m);
/* Show moment b (clamped); following when b is the last. */
void        ui_model_seek(UiModel *m, guint b);
void        ui_model_follow(UiModel *m);
/* Stay on the cursor's moment while more arrive (no longer follow). */
void        ui_model_hold(UiModel *m);
/* The first moment after the cursor where another course step is active,
 * or -1 when the history has none yet. */
gint        ui_model_next_step_beat(const UiModel *m);

/* ---- course steps ----------------------------------------------------------- */

/* The step happening at the cursor: the one most recently begun (first
 * seen, or named again by a STEP, a new connection or a refusal), or NULL. */
const char *ui_model_active_step(const UiModel *m);
/* The active step after moment b. */
const char *ui_model_beat_step(const UiModel *m, guint b);
/* UiStepFlags of id at the cursor. */
guint       ui_model_step_flags(const UiModel *m, const char *id);
/* Every step id seen in the whole history (borrowed), in course order. */
GPtrArray  *ui_model_steps(const UiModel *m);
/* The latest narration (a STEP, REFUSE or ERROR event) the class can see,
 * as an event index, or -1. */
gint        ui_model_narration(const UiModel *m);

/* ---- arrows and rows ---------------------------------------------------------- */

/* Appends to out (guint event indices) the ARROW events of moment b. */
void        ui_model_beat_arrows(const UiModel *m, guint b, GArray *out);

/* Rows of the ladder: every event whose row kind is not NONE, in order. */
guint       ui_model_row_count(const UiModel *m);
guint       ui_model_row_event(const UiModel *m, guint row);
/* How many rows come from the first `visible` events. */
guint       ui_model_rows_before(const UiModel *m, guint visible);
/* The row of event i, or -1 when it has none. */
gint        ui_model_row_of(const UiModel *m, guint i);

/* ---- filter and search --------------------------------------------------------- */

/* Only rows of this protocol (copied; NULL: every row).  Comments hide
 * while a filter is on. */
void        ui_model_set_filter(UiModel *m, const char *proto);
const char *ui_model_filter(const UiModel *m);
/* Protocols of the arrows seen so far, in order of appearance (borrowed). */
GPtrArray  *ui_model_protocols(const UiModel *m);
/* The protocol after the filter in that list, NULL after the last (for a
 * key that cycles: all -> smtp -> dns -> ... -> all). */
const char *ui_model_next_filter(const UiModel *m);
gboolean    ui_model_row_passes(const UiModel *m, guint row);
/* The nearest row after (forward) or before `from` among the first `limit`
 * rows that passes the filter and whose text, sender or receiver contains
 * needle (any case), wrapping around; -1 when none. */
gint        ui_model_find_row(const UiModel *m, const char *needle, gint from, guint limit,
                              gboolean forward);
/* Does the row's text, sender or receiver contain needle (any case)? */
gboolean    ui_model_row_matches(const UiModel *m, guint row, const char *needle);

/* ---- transcripts ---------------------------------------------------------------- */

guint                 ui_model_conversation_count(const UiModel *m);
const UiConversation *ui_model_conversation(const UiModel *m, guint i);
/* The conversation event i belongs to, or NULL. */
const UiConversation *ui_model_conversation_of(const UiModel *m, guint i);
