/* agents/mta/queue.c - the MTA's durable queue: ID.msg + ID.env per message.
 *
 * RFC 5321 4.5.4.1 and 6.1: once the 250 is sent the message must not be
 * lost, so the files are synced before it.  The envelope is written last
 * and removed first; recovery trusts only a message with its envelope.
 * Retry timing follows Postfix's minimal/maximal_backoff_time.
 */
#include "agents/mta/queue.h"

#include "agents/common/durable.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The longest envelope line: a key, a space, a value of the longest kind
 * with every octet escaped as \xHH, the <> of a path. */
#define ENVELOPE_MAX_LINE (32 + 4 * MAX(MTA_QUEUE_MAX_ADDRESS, MTA_QUEUE_MAX_REPLY) + 2)
#define ESCAPE_WIDTH      4   /* "\xHH" */

struct MtaQueue {
	char         *dir;
	char         *corrupt_dir;
	gboolean      sync;
	GHashTable   *entries;  /* id (own copy) -> MtaQueueEntry *, owned: the queue */
	GPtrArray    *staged;   /* MtaQueueEntry *, owned, waiting for mta_queue_commit */
	DurableBatch *batch;    /* the staged entries' files: .msg, .env, .msg, .env, ... */
	GHashTable   *arriving; /* ids (own copies) of arrivals not yet finished */
	gboolean      recycle;  /* removals feed free */
	GPtrArray    *free;     /* paths of ".free.N" files, to write arrivals over */
	guint64       free_seq; /* the next N */
};

/* A message on its way in, outside the queue's lock (see queue.h). */
struct MtaQueueArrival {
	MtaQueueEntry *entry;      /* owned until finish hands it to the queue */
	GBytes        *message;
	char          *dir;
	gboolean       sync;
	char          *path[2];    /* final names: the message, then the envelope */
	char          *tmp[2];     /* their temporaries */
	char          *reuse[2];   /* free files to write them over, or NULL */
	char          *envelope;
	gboolean       written;    /* both temporaries complete (and synced) */
	gboolean       committed;  /* both final names durable */
};

/* ======================================================================== */
/* Names of things                                                          */
/* ======================================================================== */

static const char *const rcpt_state_names[] = {
	[MTA_QUEUE_RCPT_PENDING]   = "pending",
	[MTA_QUEUE_RCPT_DEFERRED]  = "deferred",
	[MTA_QUEUE_RCPT_DELIVERED] = "delivered",
	[MTA_QUEUE_RCPT_FAILED]    = "failed",
};

const char *mta_queue_rcpt_state_to_string(MtaQueueRcptState state)
{
	if ((guint)state < G_N_ELEMENTS(rcpt_state_names))
		return rcpt_state_names[state];
	return "unknown";
}

gboolean mta_queue_rcpt_state_from_string(const char *s, MtaQueueRcptState *state_r)
{
	for (guint i = 0; s && i < G_N_ELEMENTS(rcpt_state_names); i++) {
		if (strcmp(s, rcpt_state_names[i]) == 0) {
			*state_r = (MtaQueueRcptState)i;
			return TRUE;
		}
	}
	return FALSE;
}

gboolean mta_queue_rcpt_state_is_final(MtaQueueRcptState state)
{
	return state == MTA_QUEUE_RCPT_DELIVERED || state == MTA_QUEUE_RCPT_FAILED;
}

static const char *const note_kind_names[] = {
	[MTA_QUEUE_NOTE_LOADED]           = "loaded",
	[MTA_QUEUE_NOTE_TEMP_REMOVED]     = "temp-removed",
	[MTA_QUEUE_NOTE_ORPHAN_REMOVED]   = "orphan-removed",
	[MTA_QUEUE_NOTE_FINISHED_REMOVED] = "finished-removed",
	[MTA_QUEUE_NOTE_CORRUPT]          = "corrupt",
	[MTA_QUEUE_NOTE_IGNORED]          = "ignored",
};

const char *mta_queue_note_kind_to_string(MtaQueueNoteKind kind)
{
	if ((guint)kind < G_N_ELEMENTS(note_kind_names))
		return note_kind_names[kind];
	return "unknown";
}

gboolean mta_queue_id_validate(const char *id, GError **error)
{
	gsize len = id ? strnlen(id, MTA_QUEUE_MAX_ID + 1) : 0;
	gboolean ok = len > 0 && len <= MTA_QUEUE_MAX_ID;
	for (gsize i = 0; ok && i < len; i++)
		ok = g_ascii_isalnum(id[i]);
	if (!ok)
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_FILENAME,
		            "queue id must be 1 to %d letters and digits", MTA_QUEUE_MAX_ID);
	return ok;
}

/* ======================================================================== */
/* Entries                                                                  */
/* ======================================================================== */

static void rcpt_free(MtaQueueRcpt *rcpt)
{
	if (!rcpt)
		return;
	g_free(rcpt->address);
	g_free(rcpt->last_reply);
	g_free(rcpt);
}

static MtaQueueRcpt *rcpt_new(const char *address)
{
	MtaQueueRcpt *rcpt = g_new0(MtaQueueRcpt, 1);
	rcpt->address = g_strdup(address);
	rcpt->last_reply = g_strdup("");
	return rcpt;
}

void mta_queue_rcpt_set_reply(MtaQueueRcpt *rcpt, const char *text)
{
	g_return_if_fail(rcpt != NULL);
	if (!text)
		text = "";
	gsize len = strnlen(text, MTA_QUEUE_MAX_REPLY + 1);
	if (len > MTA_QUEUE_MAX_REPLY) {
		len = MTA_QUEUE_MAX_REPLY;
		/* back off continuation octets (10xxxxxx) to a character's start */
		while (len > 0 && ((guchar)text[len] & 0xC0) == 0x80)
			len--;
	}
	g_free(rcpt->last_reply);
	rcpt->last_reply = g_strndup(text, len);
}

static MtaQueueEntry *entry_new(void)
{
	MtaQueueEntry *entry = g_new0(MtaQueueEntry, 1);
	entry->id = g_strdup("");
	entry->from = g_strdup("");
	entry->client_address = g_strdup("");
	entry->client_helo = g_strdup("");
	entry->client_user = g_strdup("");
	entry->rcpts = g_ptr_array_new_with_free_func((GDestroyNotify)rcpt_free);
	return entry;
}

void mta_queue_entry_free(MtaQueueEntry *entry)
{
	if (!entry)
		return;
	g_free(entry->id);
	g_free(entry->from);
	g_free(entry->client_address);
	g_free(entry->client_helo);
	g_free(entry->client_user);
	g_ptr_array_unref(entry->rcpts);
	g_free(entry);
}

gboolean mta_queue_entry_is_done(const MtaQueueEntry *entry)
{
	g_return_val_if_fail(entry != NULL, FALSE);
	for (guint i = 0; i < entry->rcpts->len; i++) {
		const MtaQueueRcpt *rcpt = g_ptr_array_index(entry->rcpts, i);
		if (!mta_queue_rcpt_state_is_final(rcpt->state))
			return FALSE;
	}
	return TRUE;
}

gint64 mta_queue_entry_next_attempt(const MtaQueueEntry *entry)
{
	g_return_val_if_fail(entry != NULL, G_MAXINT64);
	gint64 next = G_MAXINT64;
	for (guint i = 0; i < entry->rcpts->len; i++) {
		const MtaQueueRcpt *rcpt = g_ptr_array_index(entry->rcpts, i);
		if (!mta_queue_rcpt_state_is_final(rcpt->state))
			next = MIN(next, rcpt->next_attempt_us);
	}
	return next;
}

gboolean mta_queue_entry_expired(const MtaQueueEntry *entry, gint64 now_us, gint64 lifetime_us)
{
	g_return_val_if_fail(entry != NULL, FALSE);
	/* arrival_us >= 0, so the difference cannot overflow */
	return now_us >= entry->arrival_us && now_us - entry->arrival_us >= lifetime_us;
}

gint64 mta_queue_backoff(guint attempts, gint64 base_us, gint64 max_us)
{
	if (attempts == 0 || base_us <= 0 || max_us <= 0)
		return 0;
	/* doubled after each failure; stop doubling once past max (no overflow) */
	gint64 delay = base_us;
	for (guint i = 1; i < attempts && delay < max_us; i++)
		delay = delay > G_MAXINT64 / 2 ? G_MAXINT64 : delay * 2;
	return MIN(delay, max_us);
}

/* ======================================================================== */
/* The envelope: one table of fields, read and written from it              */
/* ======================================================================== */

typedef enum {
	VALUE_VERSION,  /* MTA_QUEUE_ENVELOPE_VERSION, no member */
	VALUE_ID,       /* char *, letters and digits */
	VALUE_TEXT,     /* char *, escaped */
	VALUE_PATH,     /* char *, escaped, inside <> */
	VALUE_TIME,     /* gint64, >= 0 */
	VALUE_SIZE,     /* guint64 */
	VALUE_COUNT,    /* guint */
	VALUE_YESNO,    /* gboolean */
	VALUE_STATE,    /* MtaQueueRcptState */
} ValueKind;

typedef struct {
	const char *key;
	ValueKind   kind;
	gsize       offset;    /* of the member, in MtaQueueEntry or MtaQueueRcpt */
	guint64     max;       /* octets of text, or the largest number */
	gboolean    optional;  /* text left out when "" */
} EnvField;

#define ENTRY_FIELD(m) offsetof(MtaQueueEntry, m)
#define RCPT_FIELD(m)  offsetof(MtaQueueRcpt, m)

/* In the order written.  "rcpt" and "end" are lines of their own. */
static const EnvField head_fields[] = {
	{ "version",        VALUE_VERSION, 0,                            0,                          FALSE },
	{ "id",             VALUE_ID,      ENTRY_FIELD(id),              MTA_QUEUE_MAX_ID,           FALSE },
	{ "arrival",        VALUE_TIME,    ENTRY_FIELD(arrival_us),      G_MAXINT64,                 FALSE },
	{ "size",           VALUE_SIZE,    ENTRY_FIELD(size),            MTA_QUEUE_MAX_MESSAGE_SIZE, FALSE },
	{ "client-address", VALUE_TEXT,    ENTRY_FIELD(client_address),  MTA_QUEUE_MAX_CLIENT_FIELD, TRUE },
	{ "client-helo",    VALUE_TEXT,    ENTRY_FIELD(client_helo),     MTA_QUEUE_MAX_CLIENT_FIELD, TRUE },
	{ "client-user",    VALUE_TEXT,    ENTRY_FIELD(client_user),     MTA_QUEUE_MAX_CLIENT_FIELD, TRUE },
	{ "from",           VALUE_PATH,    ENTRY_FIELD(from),            MTA_QUEUE_MAX_ADDRESS,      FALSE },
	{ "bounce",         VALUE_YESNO,   ENTRY_FIELD(is_bounce),       0,                          FALSE },
};

static const EnvField rcpt_fields[] = {
	{ "state",          VALUE_STATE,   RCPT_FIELD(state),            0,                          FALSE },
	{ "attempts",       VALUE_COUNT,   RCPT_FIELD(attempts),         MTA_QUEUE_MAX_ATTEMPTS,     FALSE },
	{ "next",           VALUE_TIME,    RCPT_FIELD(next_attempt_us),  G_MAXINT64,                 FALSE },
	{ "reply",          VALUE_TEXT,    RCPT_FIELD(last_reply),       MTA_QUEUE_MAX_REPLY,        TRUE },
};

#define RCPT_KEY        "rcpt"
#define END_KEY         "end"
#define RCPT_INDENT     "  "
#define ENVELOPE_BANNER "# mailsim queue envelope; the message is in %s" MTA_QUEUE_MSG_SUFFIX \
                        " beside this file\n"

/* The member a field names, in the struct at base. */
#define MEMBER(base, f, type) ((type *)(void *)((char *)(base) + (f)->offset))

/* ---- writing ------------------------------------------------------------ */

/* One value, one line: control octets and the escape character itself
 * become \xHH, everything else (UTF-8 included) stays readable. */
static void append_escaped(GString *out, const char *s)
{
	for (const guchar *p = (const guchar *)s; *p; p++) {
		if (*p < 0x20 || *p == 0x7f || *p == '\\')
			g_string_append_printf(out, "\\x%02X", *p);
		else
			g_string_append_c(out, (char)*p);
	}
}

static void append_field(GString *out, const char *indent, const EnvField *f, const void *base)
{
	switch (f->kind) {
	case VALUE_VERSION:
		g_string_append_printf(out, "%s%s %d\n", indent, f->key, MTA_QUEUE_ENVELOPE_VERSION);
		return;
	case VALUE_ID:
	case VALUE_TEXT: {
		const char *s = *MEMBER(base, f, char *const);
		if (f->optional && s[0] == '\0')
			return;
		g_string_append_printf(out, "%s%s ", indent, f->key);
		append_escaped(out, s);
		break;
	}
	case VALUE_PATH:
		g_string_append_printf(out, "%s%s <", indent, f->key);
		append_escaped(out, *MEMBER(base, f, char *const));
		g_string_append_c(out, '>');
		break;
	case VALUE_TIME:
		g_string_append_printf(out, "%s%s %" G_GINT64_FORMAT, indent, f->key,
		                       *MEMBER(base, f, const gint64));
		break;
	case VALUE_SIZE:
		g_string_append_printf(out, "%s%s %" G_GUINT64_FORMAT, indent, f->key,
		                       *MEMBER(base, f, const guint64));
		break;
	case VALUE_COUNT:
		g_string_append_printf(out, "%s%s %u", indent, f->key, *MEMBER(base, f, const guint));
		break;
	case VALUE_YESNO:
		g_string_append_printf(out, "%s%s %s", indent, f->key,
		                       *MEMBER(base, f, const gboolean) ? "yes" : "no");
		break;
	case VALUE_STATE:
		g_string_append_printf(out, "%s%s %s", indent, f->key,
		                       mta_queue_rcpt_state_to_string(*MEMBER(base, f, const MtaQueueRcptState)));
		break;
	}
	g_string_append_c(out, '\n');
}

char *mta_queue_envelope_format(const MtaQueueEntry *entry)
{
	g_return_val_if_fail(entry != NULL, NULL);
	GString *out = g_string_new(NULL);
	g_string_append_printf(out, ENVELOPE_BANNER, entry->id);
	for (gsize i = 0; i < G_N_ELEMENTS(head_fields); i++)
		append_field(out, "", &head_fields[i], entry);
	for (guint r = 0; r < entry->rcpts->len; r++) {
		const MtaQueueRcpt *rcpt = g_ptr_array_index(entry->rcpts, r);
		g_string_append(out, RCPT_KEY " <");
		append_escaped(out, rcpt->address);
		g_string_append(out, ">\n");
		for (gsize i = 0; i < G_N_ELEMENTS(rcpt_fields); i++)
			append_field(out, RCPT_INDENT, &rcpt_fields[i], rcpt);
	}
	g_string_append(out, END_KEY "\n");
	return g_string_free(out, FALSE);
}

/* ---- checking ----------------------------------------------------------- */

static gboolean invalid_arg(GError **error, const char *what, const char *id)
{
	g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "queue entry %s: %s", id, what);
	return FALSE;
}

static gboolean text_fits(const char *s, gsize max)
{
	return s != NULL && strnlen(s, max + 1) <= max;
}

/* What the envelope can hold, so that what we write we can read back. */
static gboolean entry_validate(const MtaQueueEntry *e, GError **error)
{
	if (!mta_queue_id_validate(e->id, error))
		return FALSE;
	if (!text_fits(e->from, MTA_QUEUE_MAX_ADDRESS))
		return invalid_arg(error, "reverse-path too long", e->id);
	if (!text_fits(e->client_address, MTA_QUEUE_MAX_CLIENT_FIELD) ||
	    !text_fits(e->client_helo, MTA_QUEUE_MAX_CLIENT_FIELD) ||
	    !text_fits(e->client_user, MTA_QUEUE_MAX_CLIENT_FIELD))
		return invalid_arg(error, "client field too long", e->id);
	if (e->arrival_us < 0 || e->size > MTA_QUEUE_MAX_MESSAGE_SIZE)
		return invalid_arg(error, "arrival time or size out of range", e->id);
	if (e->rcpts->len == 0 || e->rcpts->len > MTA_QUEUE_MAX_RCPTS)
		return invalid_arg(error, "recipient count out of range", e->id);
	for (guint i = 0; i < e->rcpts->len; i++) {
		const MtaQueueRcpt *r = g_ptr_array_index(e->rcpts, i);
		if (!r->address || r->address[0] == '\0' || !text_fits(r->address, MTA_QUEUE_MAX_ADDRESS))
			return invalid_arg(error, "forward-path empty or too long", e->id);
		if (!text_fits(r->last_reply, MTA_QUEUE_MAX_REPLY))
			return invalid_arg(error, "reply too long (see mta_queue_rcpt_set_reply)", e->id);
		if ((guint)r->state >= G_N_ELEMENTS(rcpt_state_names) ||
		    r->attempts > MTA_QUEUE_MAX_ATTEMPTS || r->next_attempt_us < 0)
			return invalid_arg(error, "recipient state out of range", e->id);
	}
	return TRUE;
}

/* ---- reading ------------------------------------------------------------ */

typedef struct {
	MtaQueueEntry *entry;
	MtaQueueRcpt  *rcpt;       /* the recipient being read, or NULL */
	guint          head_seen;  /* bit i: head_fields[i] was read */
	guint          rcpt_seen;  /* bit i: rcpt_fields[i], for the current rcpt */
	gboolean       ended;      /* "end" was read */
	guint          line_no;
} EnvParse;

G_STATIC_ASSERT(G_N_ELEMENTS(head_fields) < 32 && G_N_ELEMENTS(rcpt_fields) < 32);

static gboolean parse_fail(GError **error, const EnvParse *p, const char *what)
{
	g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "envelope line %u: %s",
	            p->line_no, what);
	return FALSE;
}

static int hex_value(char c)
{
	return g_ascii_xdigit_value(c);
}

/* Undo append_escaped, strictly: raw control octets, a lone backslash, a
 * bad escape, an escaped NUL or more than max octets out are errors. */
static char *unescape(const char *s, gsize len, gsize max)
{
	GString *out = g_string_sized_new(MIN(len, max) + 1);
	for (gsize i = 0; i < len; i++) {
		guchar c = (guchar)s[i];
		if (c < 0x20 || c == 0x7f)
			goto bad;
		if (c == '\\') {
			if (len - i < ESCAPE_WIDTH || s[i + 1] != 'x' || hex_value(s[i + 2]) < 0 ||
			    hex_value(s[i + 3]) < 0)
				goto bad;
			c = (guchar)(hex_value(s[i + 2]) * 16 + hex_value(s[i + 3]));
			if (c == '\0')
				goto bad;
			i += ESCAPE_WIDTH - 1;
		}
		if (out->len >= max)
			goto bad;
		g_string_append_c(out, (char)c);
	}
	return g_string_free(out, FALSE);
bad:
	g_string_free(out, TRUE);
	return NULL;
}

/* Decimal digits only, no sign, no leading zero: the one spelling format
 * writes, at most max. */
static gboolean parse_number(const char *s, gsize len, guint64 max, guint64 *value_r)
{
	if (len == 0 || len > 20 || (len > 1 && s[0] == '0'))
		return FALSE;
	guint64 v = 0;
	for (gsize i = 0; i < len; i++) {
		if (!g_ascii_isdigit(s[i]))
			return FALSE;
		guint d = (guint)(s[i] - '0');
		if (d > max || v > (max - d) / 10)
			return FALSE;
		v = v * 10 + d;
	}
	*value_r = v;
	return TRUE;
}

/* "<" escaped ">": the path inside, or NULL. */
static char *parse_path(const char *s, gsize len)
{
	if (len < 2 || s[0] != '<' || s[len - 1] != '>')
		return NULL;
	return unescape(s + 1, len - 2, MTA_QUEUE_MAX_ADDRESS);
}

static gboolean field_read(const EnvField *f, void *base, const char *v, gsize len, EnvParse *p,
                           GError **error)
{
	guint64 n = 0;
	char *s = NULL;
	switch (f->kind) {
	case VALUE_VERSION:
		if (!parse_number(v, len, G_MAXUINT32, &n) || n != MTA_QUEUE_ENVELOPE_VERSION)
			return parse_fail(error, p, "unknown envelope version");
		return TRUE;
	case VALUE_ID:
	case VALUE_TEXT:
	case VALUE_PATH:
		s = f->kind == VALUE_PATH ? parse_path(v, len) : unescape(v, len, f->max);
		if (!s)
			return parse_fail(error, p, "bad or too long text");
		if (f->kind == VALUE_ID && !mta_queue_id_validate(s, NULL)) {
			g_free(s);
			return parse_fail(error, p, "bad id");
		}
		g_free(*MEMBER(base, f, char *));
		*MEMBER(base, f, char *) = s;
		return TRUE;
	case VALUE_TIME:
	case VALUE_SIZE:
	case VALUE_COUNT:
		if (!parse_number(v, len, f->max, &n))
			return parse_fail(error, p, "bad number");
		if (f->kind == VALUE_TIME)
			*MEMBER(base, f, gint64) = (gint64)n;
		else if (f->kind == VALUE_SIZE)
			*MEMBER(base, f, guint64) = n;
		else
			*MEMBER(base, f, guint) = (guint)n;
		return TRUE;
	case VALUE_YESNO:
		if (len == 3 && memcmp(v, "yes", 3) == 0)
			*MEMBER(base, f, gboolean) = TRUE;
		else if (len == 2 && memcmp(v, "no", 2) == 0)
			*MEMBER(base, f, gboolean) = FALSE;
		else
			return parse_fail(error, p, "expected yes or no");
		return TRUE;
	case VALUE_STATE: {
		g_autofree char *word = g_strndup(v, len);
		if (strlen(word) != len ||
		    !mta_queue_rcpt_state_from_string(word, MEMBER(base, f, MtaQueueRcptState)))
			return parse_fail(error, p, "unknown recipient state");
		return TRUE;
	}
	}
	return parse_fail(error, p, "unknown field kind");
}

/* Find key in a table and read its value, each key at most once. */
static gboolean table_read(const EnvField *table, gsize n, guint *seen, void *base, const char *key,
                           gsize key_len, const char *v, gsize v_len, EnvParse *p, GError **error)
{
	for (gsize i = 0; i < n; i++) {
		if (strlen(table[i].key) != key_len || memcmp(table[i].key, key, key_len) != 0)
			continue;
		if (*seen & (1u << i))
			return parse_fail(error, p, "field repeated");
		*seen |= 1u << i;
		return field_read(&table[i], base, v, v_len, p, error);
	}
	return parse_fail(error, p, "unknown field");
}

/* Every field that must be there is there. */
static gboolean table_complete(const EnvField *table, gsize n, guint seen)
{
	for (gsize i = 0; i < n; i++) {
		if (!table[i].optional && !(seen & (1u << i)))
			return FALSE;
	}
	return TRUE;
}

static gboolean rcpt_close(EnvParse *p, GError **error)
{
	if (p->rcpt && !table_complete(rcpt_fields, G_N_ELEMENTS(rcpt_fields), p->rcpt_seen))
		return parse_fail(error, p, "recipient without state, attempts or next");
	p->rcpt = NULL;
	p->rcpt_seen = 0;
	return TRUE;
}

static gboolean parse_line(EnvParse *p, const char *line, gsize len, GError **error)
{
	if (len > 0 && line[0] == '#')
		return TRUE;
	if (p->ended)
		return parse_fail(error, p, "text after end");
	gboolean indented = len >= strlen(RCPT_INDENT) &&
	                    memcmp(line, RCPT_INDENT, strlen(RCPT_INDENT)) == 0;
	if (indented) {
		line += strlen(RCPT_INDENT);
		len -= strlen(RCPT_INDENT);
	}
	/* every line is "key value", but for the bare "end" */
	gboolean is_end = !indented && len == strlen(END_KEY) && memcmp(line, END_KEY, len) == 0;
	const char *space = memchr(line, ' ', len);
	gsize key_len = space ? (gsize)(space - line) : len;
	const char *v = space ? space + 1 : line + len;
	gsize v_len = space ? len - key_len - 1 : 0;
	if (!is_end && (key_len == 0 || v_len == 0))
		return parse_fail(error, p, "expected \"key value\"");

	/* the version first, so a future format is refused before anything else */
	gboolean is_version = !indented && key_len == strlen(head_fields[0].key) &&
	                      memcmp(line, head_fields[0].key, key_len) == 0;
	if (p->head_seen == 0 && !is_version)
		return parse_fail(error, p, "the first line must be the version");
	if (indented) {
		if (!p->rcpt)
			return parse_fail(error, p, "indented line outside a recipient");
		return table_read(rcpt_fields, G_N_ELEMENTS(rcpt_fields), &p->rcpt_seen, p->rcpt,
		                  line, key_len, v, v_len, p, error);
	}
	gboolean is_rcpt = key_len == strlen(RCPT_KEY) && memcmp(line, RCPT_KEY, key_len) == 0;
	if (!is_rcpt && !is_end) {
		if (p->entry->rcpts->len > 0)
			return parse_fail(error, p, "envelope field after the recipients");
		return table_read(head_fields, G_N_ELEMENTS(head_fields), &p->head_seen, p->entry,
		                  line, key_len, v, v_len, p, error);
	}
	if (!rcpt_close(p, error))
		return FALSE;
	if (!table_complete(head_fields, G_N_ELEMENTS(head_fields), p->head_seen))
		return parse_fail(error, p, "a required field is missing before the recipients");
	if (is_end) {
		if (p->entry->rcpts->len == 0)
			return parse_fail(error, p, "no recipient");
		p->ended = TRUE;
		return TRUE;
	}
	if (p->entry->rcpts->len >= MTA_QUEUE_MAX_RCPTS)
		return parse_fail(error, p, "too many recipients");
	g_autofree char *address = parse_path(v, v_len);
	if (!address || address[0] == '\0')
		return parse_fail(error, p, "bad recipient path");
	p->rcpt = rcpt_new(address);
	g_ptr_array_add(p->entry->rcpts, p->rcpt);
	return TRUE;
}

MtaQueueEntry *mta_queue_envelope_parse(const char *text, gsize len, GError **error)
{
	g_return_val_if_fail(text != NULL || len == 0, NULL);
	if (len > MTA_QUEUE_MAX_ENVELOPE_SIZE) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
		            "envelope of %" G_GSIZE_FORMAT " octets, over %d", len,
		            MTA_QUEUE_MAX_ENVELOPE_SIZE);
		return NULL;
	}
	g_autoptr(MtaQueueEntry) entry = entry_new();
	EnvParse p = { .entry = entry };
	gsize pos = 0;
	while (pos < len) {
		p.line_no++;
		const char *line = text + pos;
		const char *nl = memchr(line, '\n', len - pos);
		/* a last line without its newline: the file was cut short */
		gsize line_len = nl ? (gsize)(nl - line) : len - pos;
		if (line_len > ENVELOPE_MAX_LINE) {
			parse_fail(error, &p, "line too long");
			return NULL;
		}
		if (!nl) {
			parse_fail(error, &p, "no newline: truncated");
			return NULL;
		}
		if (!parse_line(&p, line, line_len, error))
			return NULL;
		pos += line_len + 1;
	}
	if (!p.ended) {
		p.line_no++;
		parse_fail(error, &p, "no \"end\" line: truncated");
		return NULL;
	}
	g_autoptr(GError) invalid = NULL;
	if (!entry_validate(entry, &invalid)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "envelope: %s", invalid->message);
		return NULL;
	}
	return g_steal_pointer(&entry);
}

/* ======================================================================== */
/* Files                                                                    */
/* ======================================================================== */

static char *queue_path(const MtaQueue *q, const char *id, const char *suffix)
{
	g_autofree char *name = g_strconcat(id, suffix, NULL);
	return g_build_filename(q->dir, name, NULL);
}

static gboolean is_regular_file(const char *path, guint64 *size_r)
{
	struct stat st;
	if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode))
		return FALSE;
	if (size_r)
		*size_r = (guint64)st.st_size;
	return TRUE;
}

static gboolean exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

/* ======================================================================== */
/* Opening and recovering                                                   */
/* ======================================================================== */

static void note_add(GPtrArray *notes, MtaQueueNoteKind kind, const char *id, const char *fmt, ...)
	G_GNUC_PRINTF(4, 5);

static void note_add(GPtrArray *notes, MtaQueueNoteKind kind, const char *id, const char *fmt, ...)
{
	MtaQueueNote *note = g_new0(MtaQueueNote, 1);
	note->kind = kind;
	note->id = g_strdup(id);
	va_list ap;
	va_start(ap, fmt);
	note->text = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_ptr_array_add(notes, note);
}

void mta_queue_note_free(MtaQueueNote *note)
{
	if (!note)
		return;
	g_free(note->id);
	g_free(note->text);
	g_free(note);
}

/* What the directory holds for one id. */
typedef struct {
	gboolean has_env;
	gboolean has_msg;
} Found;

/* "ID.env" -> id and ".env", if ID is a valid id. */
static char *name_split(const char *name, const char **suffix_r)
{
	static const char *const suffixes[] = { MTA_QUEUE_MSG_SUFFIX, MTA_QUEUE_ENV_SUFFIX };
	for (gsize i = 0; i < G_N_ELEMENTS(suffixes); i++) {
		if (!g_str_has_suffix(name, suffixes[i]))
			continue;
		g_autofree char *id = g_strndup(name, strlen(name) - strlen(suffixes[i]));
		if (!mta_queue_id_validate(id, NULL))
			return NULL;
		*suffix_r = suffixes[i];
		return g_steal_pointer(&id);
	}
	return NULL;
}

/* Is this temporary one of ours (".ID.env.tmp", ".ID.msg.tmp")? */
static gboolean is_our_tmp(const char *name)
{
	if (!durable_is_tmp_name(name))
		return FALSE;
	g_autofree char *inner = g_strndup(name + strlen(DURABLE_TMP_PREFIX),
	                                   strlen(name) - strlen(DURABLE_TMP_PREFIX) -
	                                   strlen(DURABLE_TMP_SUFFIX));
	const char *suffix;
	g_autofree char *id = name_split(inner, &suffix);
	return id != NULL;
}

/* ---- free files ---------------------------------------------------------
 * Removed files kept for arrivals to write over (see queue.h). */

/* A free file found on open: into the pool, or deleted past the limit. */
static void free_adopt(MtaQueue *q, const char *name, const char *path)
{
	guint64 n = g_ascii_strtoull(name + strlen(MTA_QUEUE_FREE_PREFIX), NULL, 10);
	q->free_seq = MAX(q->free_seq, n + 1);
	if (q->free->len < MTA_QUEUE_MAX_FREE)
		g_ptr_array_add(q->free, g_strdup(path));
	else
		unlink(path);
}

/* A file the queue no longer needs: kept for reuse when recycling, else
 * deleted. */
static gboolean free_put(MtaQueue *q, const char *path, GError **error)
{
	if (q->recycle && q->free->len < MTA_QUEUE_MAX_FREE) {
		g_autofree char *name = g_strdup_printf(MTA_QUEUE_FREE_PREFIX "%" G_GUINT64_FORMAT, q->free_seq++);
		char *to = g_build_filename(q->dir, name, NULL);
		if (rename(path, to) == 0) {
			g_ptr_array_add(q->free, to);
			return TRUE;
		}
		g_free(to);
	}
	if (unlink(path) != 0)
		return durable_set_error(error, errno, "remove", path);
	return TRUE;
}

static gboolean write_all(int fd, const char *data, gsize len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return FALSE;
		}
		data += n;
		len -= (gsize)n;
	}
	return TRUE;
}

/* Write data over the free file free_path, renamed to tmp first; synced
 * if asked.  FALSE (with tmp gone) when it cannot be used: the caller
 * creates tmp afresh.  Only a plain file with a single link is written
 * over, so nothing else ever sees these bytes. */
static gboolean free_write(const char *free_path, const char *tmp, const void *data, gsize len,
                           gboolean sync)
{
	if (rename(free_path, tmp) != 0)
		return FALSE;
	int fd = open(tmp, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	gboolean ok = fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink == 1 &&
	              write_all(fd, data, len) && ftruncate(fd, (off_t)len) == 0 && (!sync || fsync(fd) == 0);
	if (fd >= 0 && close(fd) != 0)
		ok = FALSE;
	if (!ok)
		unlink(tmp);
	return ok;
}

/* Move what is left of a damaged entry to corrupt/, under names not yet
 * used there (ID.env, else ID.env.1, ...), the message first: should we
 * crash in between, the envelope alone is moved on the next open. */
static gboolean move_to_corrupt(MtaQueue *q, const char *id, gboolean has_msg, GError **error)
{
	if (!durable_mkdir(q->corrupt_dir, q->sync, error))
		return FALSE;
	const char *suffixes[] = { MTA_QUEUE_MSG_SUFFIX, MTA_QUEUE_ENV_SUFFIX };
	for (guint n = 0; n < MTA_QUEUE_MAX_CORRUPT_NAMES; n++) {
		g_autofree char *tail = n ? g_strdup_printf(".%u", n) : g_strdup("");
		gboolean free_name = TRUE;
		for (gsize i = 0; i < G_N_ELEMENTS(suffixes); i++) {
			g_autofree char *to = g_strconcat(q->corrupt_dir, G_DIR_SEPARATOR_S, id,
			                                  suffixes[i], tail, NULL);
			free_name = free_name && !exists(to);
		}
		if (!free_name)
			continue;
		for (gsize i = has_msg ? 0 : 1; i < G_N_ELEMENTS(suffixes); i++) {
			g_autofree char *from = queue_path(q, id, suffixes[i]);
			g_autofree char *to = g_strconcat(q->corrupt_dir, G_DIR_SEPARATOR_S, id,
			                                  suffixes[i], tail, NULL);
			if (!durable_rename(from, to, FALSE, q->sync, error))
				return FALSE;
		}
		return TRUE;
	}
	g_set_error(error, G_IO_ERROR, G_IO_ERROR_EXISTS, "%s: no free name for %s",
	            q->corrupt_dir, id);
	return FALSE;
}

static void recover_corrupt(MtaQueue *q, const char *id, gboolean has_msg, const char *why,
                            GPtrArray *notes)
{
	g_autoptr(GError) error = NULL;
	if (move_to_corrupt(q, id, has_msg, &error))
		note_add(notes, MTA_QUEUE_NOTE_CORRUPT, id, "%s%s: %s; moved to %s/", id,
		         MTA_QUEUE_ENV_SUFFIX, why, MTA_QUEUE_CORRUPT_DIR);
	else
		note_add(notes, MTA_QUEUE_NOTE_CORRUPT, id, "%s%s: %s; left in place: %s", id,
		         MTA_QUEUE_ENV_SUFFIX, why, error->message);
}

/* One id's files, as found on open.  Returns TRUE if a file was removed
 * or moved (the directory needs a sync). */
static gboolean recover_entry(MtaQueue *q, const char *id, const Found *found, GPtrArray *notes)
{
	g_autofree char *env_path = queue_path(q, id, MTA_QUEUE_ENV_SUFFIX);
	g_autofree char *msg_path = queue_path(q, id, MTA_QUEUE_MSG_SUFFIX);

	if (!found->has_env) {
		/* the commit point was never reached: nobody was told 250 */
		if (unlink(msg_path) == 0)
			note_add(notes, MTA_QUEUE_NOTE_ORPHAN_REMOVED, id,
			         "%s%s: no envelope, never acknowledged; removed", id, MTA_QUEUE_MSG_SUFFIX);
		else
			note_add(notes, MTA_QUEUE_NOTE_ORPHAN_REMOVED, id, "%s%s: no envelope; cannot remove: %s",
			         id, MTA_QUEUE_MSG_SUFFIX, g_strerror(errno));
		return TRUE;
	}

	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) text = NULL;
	g_autoptr(MtaQueueEntry) entry = NULL;
	if (durable_read_file(env_path, MTA_QUEUE_MAX_ENVELOPE_SIZE, &text, &error)) {
		gsize len;
		const char *data = g_bytes_get_data(text, &len);
		entry = mta_queue_envelope_parse(data, len, &error);
	}
	if (!entry) {
		recover_corrupt(q, id, found->has_msg, error->message, notes);
		return TRUE;
	}
	if (strcmp(entry->id, id) != 0) {
		g_autofree char *why = g_strdup_printf("it says id %s", entry->id);
		recover_corrupt(q, id, found->has_msg, why, notes);
		return TRUE;
	}
	if (mta_queue_entry_is_done(entry)) {
		/* updated to final, then a crash before the removal */
		unlink(env_path);
		unlink(msg_path);
		note_add(notes, MTA_QUEUE_NOTE_FINISHED_REMOVED, id,
		         "%s: every recipient delivered or failed; removed", id);
		return TRUE;
	}
	guint64 size = 0;
	if (!found->has_msg || !is_regular_file(msg_path, &size)) {
		recover_corrupt(q, id, FALSE, "no message beside it", notes);
		return TRUE;
	}
	if (size != entry->size) {
		g_autofree char *why = g_strdup_printf("the message has %" G_GUINT64_FORMAT
		                                       " octets, the envelope says %" G_GUINT64_FORMAT,
		                                       size, entry->size);
		recover_corrupt(q, id, TRUE, why, notes);
		return TRUE;
	}
	note_add(notes, MTA_QUEUE_NOTE_LOADED, id, "%s: back in the queue, %u recipient(s)", id,
	         entry->rcpts->len);
	g_hash_table_insert(q->entries, g_strdup(id), g_steal_pointer(&entry));
	return FALSE;
}

static gint compare_names(gconstpointer a, gconstpointer b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sort out every name in the directory: ours, temporaries, strangers. */
static gboolean recover(MtaQueue *q, GPtrArray *notes, GError **error)
{
	GDir *d = g_dir_open(q->dir, 0, error);
	if (!d)
		return FALSE;
	g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
	const char *name;
	while ((name = g_dir_read_name(d)))
		g_ptr_array_add(names, g_strdup(name));
	g_dir_close(d);
	/* readdir order is the file system's whim: sort, for stable notes */
	g_ptr_array_sort(names, compare_names);

	g_autoptr(GHashTable) found = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	g_autoptr(GPtrArray) ids = g_ptr_array_new();  /* borrowed from found, in name order */
	gboolean changed = FALSE;
	for (guint i = 0; i < names->len; i++) {
		name = g_ptr_array_index(names, i);
		g_autofree char *path = g_build_filename(q->dir, name, NULL);
		const char *suffix = NULL;
		g_autofree char *id = NULL;
		if (strcmp(name, MTA_QUEUE_CORRUPT_DIR) == 0)
			continue;
		if (g_str_has_prefix(name, MTA_QUEUE_FREE_PREFIX) && is_regular_file(path, NULL)) {
			free_adopt(q, name, path);
			continue;
		}
		if (is_our_tmp(name) && is_regular_file(path, NULL)) {
			unlink(path);
			changed = TRUE;
			note_add(notes, MTA_QUEUE_NOTE_TEMP_REMOVED, name,
			         "%s: a write cut short by a crash; removed", name);
			continue;
		}
		id = name_split(name, &suffix);
		if (!id || !is_regular_file(path, NULL)) {
			note_add(notes, MTA_QUEUE_NOTE_IGNORED, name, "%s: not a queue file; left alone", name);
			continue;
		}
		Found *f = g_hash_table_lookup(found, id);
		if (!f) {
			f = g_new0(Found, 1);
			g_ptr_array_add(ids, id);
			g_hash_table_insert(found, g_steal_pointer(&id), f);
		}
		if (strcmp(suffix, MTA_QUEUE_ENV_SUFFIX) == 0)
			f->has_env = TRUE;
		else
			f->has_msg = TRUE;
	}
	for (guint i = 0; i < ids->len; i++) {
		const char *id = g_ptr_array_index(ids, i);
		changed |= recover_entry(q, id, g_hash_table_lookup(found, id), notes);
	}
	/* the removals and moves, on disk before anything new is queued */
	return !changed || !q->sync || durable_sync_dir(q->dir, error);
}

MtaQueue *mta_queue_open(const char *dir, gboolean sync, GPtrArray **notes_r, GError **error)
{
	g_return_val_if_fail(dir != NULL, NULL);
	if (!durable_mkdir(dir, sync, error))
		return NULL;
	g_autoptr(MtaQueue) q = g_new0(MtaQueue, 1);
	q->dir = g_strdup(dir);
	q->corrupt_dir = g_build_filename(dir, MTA_QUEUE_CORRUPT_DIR, NULL);
	q->sync = sync;
	q->entries = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
	                                   (GDestroyNotify)mta_queue_entry_free);
	q->staged = g_ptr_array_new_with_free_func((GDestroyNotify)mta_queue_entry_free);
	q->batch = durable_batch_new(sync);
	q->arriving = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	q->free = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GPtrArray) notes = g_ptr_array_new_with_free_func((GDestroyNotify)mta_queue_note_free);
	if (!recover(q, notes, error))
		return NULL;
	if (notes_r)
		*notes_r = g_steal_pointer(&notes);
	return g_steal_pointer(&q);
}

void mta_queue_free(MtaQueue *q)
{
	if (!q)
		return;
	g_clear_pointer(&q->batch, durable_batch_free);  /* removes staged temporaries */
	g_clear_pointer(&q->staged, g_ptr_array_unref);
	g_clear_pointer(&q->entries, g_hash_table_unref);
	g_clear_pointer(&q->arriving, g_hash_table_unref);
	g_clear_pointer(&q->free, g_ptr_array_unref);   /* the files stay, for the next open */
	g_free(q->corrupt_dir);
	g_free(q->dir);
	g_free(q);
}

const char *mta_queue_get_dir(const MtaQueue *q)
{
	g_return_val_if_fail(q != NULL, NULL);
	return q->dir;
}

void mta_queue_set_recycle(MtaQueue *q, gboolean recycle)
{
	g_return_if_fail(q != NULL);
	q->recycle = recycle;
}

/* ======================================================================== */
/* Adding                                                                   */
/* ======================================================================== */

static gboolean id_taken(const MtaQueue *q, const char *id)
{
	if (g_hash_table_contains(q->entries, id) || g_hash_table_contains(q->arriving, id))
		return TRUE;
	for (guint i = 0; i < q->staged->len; i++) {
		const MtaQueueEntry *e = g_ptr_array_index(q->staged, i);
		if (strcmp(e->id, id) == 0)
			return TRUE;
	}
	/* a file we did not load (a damaged entry left in place) */
	g_autofree char *env_path = queue_path(q, id, MTA_QUEUE_ENV_SUFFIX);
	g_autofree char *msg_path = queue_path(q, id, MTA_QUEUE_MSG_SUFFIX);
	return exists(env_path) || exists(msg_path);
}

/* The entry for a new message, checked; NULL and an error if it cannot be
 * queued. */
static MtaQueueEntry *entry_from_incoming(const MtaQueue *q, const MtaQueueIncoming *in,
                                         GError **error)
{
	if (!mta_queue_id_validate(in->id, error))
		return NULL;
	if (!in->from || !in->rcpts || !in->message) {
		invalid_arg(error, "from, rcpts and message are required", in->id);
		return NULL;
	}
	gsize size = g_bytes_get_size(in->message);
	if (size > MTA_QUEUE_MAX_MESSAGE_SIZE) {
		/* RFC 5321 4.5.3.1.10: 552 for a message over the size we take */
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
		            "queue entry %s: %" G_GSIZE_FORMAT " octets, over %d", in->id, size,
		            MTA_QUEUE_MAX_MESSAGE_SIZE);
		return NULL;
	}
	if (g_hash_table_size(q->entries) + q->staged->len + g_hash_table_size(q->arriving) >=
	    MTA_QUEUE_MAX_ENTRIES) {
		/* RFC 5321 4.5.3.1.10: 452, insufficient system storage */
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_NO_SPACE, "queue full: %d entries",
		            MTA_QUEUE_MAX_ENTRIES);
		return NULL;
	}
	if (id_taken(q, in->id)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_EXISTS, "queue entry %s exists", in->id);
		return NULL;
	}
	g_autoptr(MtaQueueEntry) entry = entry_new();
	g_free(entry->id);
	entry->id = g_strdup(in->id);
	g_free(entry->from);
	entry->from = g_strdup(in->from);
	entry->arrival_us = in->arrival_us;
	entry->size = size;
	entry->is_bounce = in->is_bounce;
	const char *client[] = { in->client_address, in->client_helo, in->client_user };
	char **fields[] = { &entry->client_address, &entry->client_helo, &entry->client_user };
	for (gsize i = 0; i < G_N_ELEMENTS(fields); i++) {
		g_free(*fields[i]);
		*fields[i] = g_strdup(client[i] ? client[i] : "");
	}
	for (gsize i = 0; i <= MTA_QUEUE_MAX_RCPTS && in->rcpts[i]; i++) {
		MtaQueueRcpt *rcpt = rcpt_new(in->rcpts[i]);
		rcpt->next_attempt_us = in->arrival_us;  /* due at once */
		g_ptr_array_add(entry->rcpts, rcpt);
	}
	if (!entry_validate(entry, error))
		return NULL;
	return g_steal_pointer(&entry);
}

/* Write the entry's two files into batch: the message, then the envelope,
 * so that the envelope's rename, the commit point, comes last. */
static gboolean entry_write(MtaQueue *q, DurableBatch *batch, const MtaQueueEntry *entry,
                            GBytes *message, GError **error)
{
	guint savepoint = durable_batch_count(batch);
	g_autofree char *msg_path = queue_path(q, entry->id, MTA_QUEUE_MSG_SUFFIX);
	g_autofree char *env_path = queue_path(q, entry->id, MTA_QUEUE_ENV_SUFFIX);
	g_autofree char *envelope = mta_queue_envelope_format(entry);
	gsize size;
	const void *data = g_bytes_get_data(message, &size);
	if (durable_batch_write(batch, msg_path, data, size, error) &&
	    durable_batch_write(batch, env_path, envelope, strlen(envelope), error))
		return TRUE;
	durable_batch_abort_to(batch, savepoint);
	return FALSE;
}

/* A commit failed after renaming the first `renamed` files of entries
 * (two per entry): take those names away again, envelope first, since
 * nobody will be told 250 for them. */
static void entries_unwrite(MtaQueue *q, GPtrArray *entries, guint renamed)
{
	for (guint i = 0; i < entries->len; i++) {
		const MtaQueueEntry *e = g_ptr_array_index(entries, i);
		g_autofree char *msg_path = queue_path(q, e->id, MTA_QUEUE_MSG_SUFFIX);
		g_autofree char *env_path = queue_path(q, e->id, MTA_QUEUE_ENV_SUFFIX);
		if (2 * i + 1 < renamed)
			unlink(env_path);
		if (2 * i < renamed)
			unlink(msg_path);
	}
	if (renamed > 0 && q->sync)
		durable_sync_dir(q->dir, NULL);  /* best effort: the disk is failing already */
}

MtaQueueEntry *mta_queue_add(MtaQueue *q, const MtaQueueIncoming *in, GError **error)
{
	g_return_val_if_fail(q != NULL && in != NULL, NULL);
	g_autoptr(MtaQueueEntry) entry = entry_from_incoming(q, in, error);
	if (!entry)
		return NULL;
	/* a batch of one: the same steps as a group commit */
	g_autoptr(DurableBatch) batch = durable_batch_new(q->sync);
	if (!entry_write(q, batch, entry, in->message, error))
		return NULL;
	guint renamed = 0;
	if (!durable_batch_commit(batch, &renamed, error)) {
		g_autoptr(GPtrArray) one = g_ptr_array_new();
		g_ptr_array_add(one, entry);
		entries_unwrite(q, one, renamed);
		return NULL;
	}
	MtaQueueEntry *added = g_steal_pointer(&entry);
	g_hash_table_insert(q->entries, g_strdup(added->id), added);
	return added;
}

MtaQueueEntry *mta_queue_stage(MtaQueue *q, const MtaQueueIncoming *in, GError **error)
{
	g_return_val_if_fail(q != NULL && in != NULL, NULL);
	g_autoptr(MtaQueueEntry) entry = entry_from_incoming(q, in, error);
	if (!entry || !entry_write(q, q->batch, entry, in->message, error))
		return NULL;
	MtaQueueEntry *staged = g_steal_pointer(&entry);
	g_ptr_array_add(q->staged, staged);
	return staged;
}

guint mta_queue_staged_count(const MtaQueue *q)
{
	g_return_val_if_fail(q != NULL, 0);
	return q->staged->len;
}

gboolean mta_queue_commit(MtaQueue *q, GError **error)
{
	g_return_val_if_fail(q != NULL, FALSE);
	guint renamed = 0;
	gboolean ok = durable_batch_commit(q->batch, &renamed, error);
	if (!ok)
		entries_unwrite(q, q->staged, renamed);
	for (guint i = 0; i < q->staged->len; i++) {
		MtaQueueEntry *e = g_ptr_array_index(q->staged, i);
		if (ok)
			g_hash_table_insert(q->entries, g_strdup(e->id), e);
		else
			mta_queue_entry_free(e);
	}
	/* the entries now belong to the hash table, or are gone */
	g_ptr_array_set_free_func(q->staged, NULL);
	g_ptr_array_set_size(q->staged, 0);
	g_ptr_array_set_free_func(q->staged, (GDestroyNotify)mta_queue_entry_free);
	return ok;
}

/* ---- group commit from several threads ---------------------------------- */

MtaQueueArrival *mta_queue_arrival_new(MtaQueue *q, const MtaQueueIncoming *in, GError **error)
{
	g_return_val_if_fail(q != NULL && in != NULL, NULL);
	MtaQueueEntry *entry = entry_from_incoming(q, in, error);
	if (!entry)
		return NULL;
	MtaQueueArrival *a = g_new0(MtaQueueArrival, 1);
	a->entry = entry;
	a->message = g_bytes_ref(in->message);
	a->dir = g_strdup(q->dir);
	a->sync = q->sync;
	const char *suffixes[] = { MTA_QUEUE_MSG_SUFFIX, MTA_QUEUE_ENV_SUFFIX };
	for (guint i = 0; i < G_N_ELEMENTS(suffixes); i++) {
		a->path[i] = queue_path(q, entry->id, suffixes[i]);
		a->tmp[i] = durable_tmp_path(a->path[i]);
	}
	/* formatted now: the entry is the arrival's alone, but cheap work under
	 * the lock keeps write purely I/O */
	a->envelope = mta_queue_envelope_format(entry);
	for (guint i = 0; i < G_N_ELEMENTS(a->reuse) && q->free->len; i++)
		a->reuse[i] = g_ptr_array_steal_index_fast(q->free, q->free->len - 1);
	g_hash_table_add(q->arriving, g_strdup(entry->id));
	return a;
}

const char *mta_queue_arrival_id(const MtaQueueArrival *a)
{
	g_return_val_if_fail(a != NULL, NULL);
	return a->entry->id;
}

/* Remove the temporaries (what a crash would leave is removed on open). */
static void arrival_unlink_tmps(MtaQueueArrival *a)
{
	for (guint i = 0; i < G_N_ELEMENTS(a->tmp); i++)
		unlink(a->tmp[i]);
}

gboolean mta_queue_arrival_write(MtaQueueArrival *a, GError **error)
{
	g_return_val_if_fail(a != NULL && !a->written, FALSE);
	gsize size;
	const void *data = g_bytes_get_data(a->message, &size);
	const void *contents[] = { data ? data : "", a->envelope };
	gsize lengths[] = { size, strlen(a->envelope) };
	for (guint i = 0; i < G_N_ELEMENTS(a->tmp); i++) {
		if (a->reuse[i] && free_write(a->reuse[i], a->tmp[i], contents[i], lengths[i], a->sync))
			continue;
		/* whatever has the name is a crash's leftover, never ours */
		if (unlink(a->tmp[i]) != 0 && errno != ENOENT) {
			durable_set_error(error, errno, "remove", a->tmp[i]);
			arrival_unlink_tmps(a);
			return FALSE;
		}
		if (!durable_create_file(a->tmp[i], contents[i], lengths[i], a->sync, error)) {
			arrival_unlink_tmps(a);
			return FALSE;
		}
	}
	a->written = TRUE;
	return TRUE;
}

/* Take back the final names of arrivals (the envelope first: without it
 * the message is an orphan, never a half entry), and their temporaries. */
static void arrivals_unwrite(MtaQueueArrival *const *arrivals, guint n, const char *dir, gboolean sync)
{
	for (guint i = 0; i < n; i++) {
		if (!arrivals[i]->written)
			continue;
		for (gint k = G_N_ELEMENTS(arrivals[i]->path) - 1; k >= 0; k--)
			unlink(arrivals[i]->path[k]);
		arrival_unlink_tmps(arrivals[i]);
	}
	if (sync && dir)
		durable_sync_dir(dir, NULL);   /* best effort: the disk is failing already */
}

gboolean mta_queue_arrivals_commit(MtaQueueArrival *const *arrivals, guint n, GError **error)
{
	g_return_val_if_fail(arrivals != NULL || n == 0, FALSE);
	const char *dir = NULL;
	gboolean sync = FALSE, ok = TRUE;
	/* the names, arrival by arrival, each envelope after its message: the
	 * envelope's rename is that message's commit point */
	for (guint i = 0; ok && i < n; i++) {
		MtaQueueArrival *a = arrivals[i];
		if (!a->written)
			continue;
		g_return_val_if_fail(!dir || strcmp(dir, a->dir) == 0, FALSE);   /* one queue */
		dir = a->dir;
		sync = a->sync;
		for (guint k = 0; ok && k < G_N_ELEMENTS(a->path); k++)
			if (rename(a->tmp[k], a->path[k]) != 0)
				ok = durable_set_error(error, errno, "rename", a->tmp[k]);
	}
	/* one directory fsync for the whole group */
	if (ok && dir && sync)
		ok = durable_sync_dir(dir, error);
	if (!ok) {
		arrivals_unwrite(arrivals, n, dir, sync);
		return FALSE;
	}
	for (guint i = 0; i < n; i++)
		arrivals[i]->committed = arrivals[i]->written;
	return TRUE;
}

MtaQueueEntry *mta_queue_arrival_finish(MtaQueue *q, MtaQueueArrival *a)
{
	g_return_val_if_fail(q != NULL && a != NULL, NULL);
	g_hash_table_remove(q->arriving, a->entry->id);
	MtaQueueEntry *entry = NULL;
	if (a->committed) {
		entry = g_steal_pointer(&a->entry);
		g_hash_table_insert(q->entries, g_strdup(entry->id), entry);
	} else {
		arrival_unlink_tmps(a);
		mta_queue_entry_free(a->entry);
	}
	g_bytes_unref(a->message);
	for (guint i = 0; i < G_N_ELEMENTS(a->path); i++) {
		/* a free file not used (the arrival failed first) goes back */
		if (a->reuse[i] && !a->written && g_file_test(a->reuse[i], G_FILE_TEST_IS_REGULAR))
			g_ptr_array_add(q->free, g_steal_pointer(&a->reuse[i]));
		g_free(a->reuse[i]);
		g_free(a->path[i]);
		g_free(a->tmp[i]);
	}
	g_free(a->envelope);
	g_free(a->dir);
	g_free(a);
	return entry;
}

/* ======================================================================== */
/* Looking                                                                  */
/* ======================================================================== */

static gint compare_due(gconstpointer a, gconstpointer b)
{
	const MtaQueueEntry *x = *(MtaQueueEntry *const *)a;
	const MtaQueueEntry *y = *(MtaQueueEntry *const *)b;
	gint64 nx = mta_queue_entry_next_attempt(x), ny = mta_queue_entry_next_attempt(y);
	if (nx != ny)
		return nx < ny ? -1 : 1;
	if (x->arrival_us != y->arrival_us)
		return x->arrival_us < y->arrival_us ? -1 : 1;
	return strcmp(x->id, y->id);
}

static gint compare_arrival(gconstpointer a, gconstpointer b)
{
	const MtaQueueEntry *x = *(MtaQueueEntry *const *)a;
	const MtaQueueEntry *y = *(MtaQueueEntry *const *)b;
	if (x->arrival_us != y->arrival_us)
		return x->arrival_us < y->arrival_us ? -1 : 1;
	return strcmp(x->id, y->id);
}

GPtrArray *mta_queue_due(MtaQueue *q, gint64 now_us)
{
	return mta_queue_due_skip(q, now_us, NULL, NULL);
}

GPtrArray *mta_queue_due_skip(MtaQueue *q, gint64 now_us, GHashTable *skip, gint64 *next_r)
{
	g_return_val_if_fail(q != NULL, NULL);
	GPtrArray *due = g_ptr_array_new();
	gint64 later = G_MAXINT64;
	GHashTableIter it;
	gpointer key, value;
	g_hash_table_iter_init(&it, q->entries);
	while (g_hash_table_iter_next(&it, &key, &value)) {
		MtaQueueEntry *e = value;
		if (skip && g_hash_table_contains(skip, key))
			continue;
		gint64 next = mta_queue_entry_next_attempt(e);
		if (next == G_MAXINT64)
			continue;
		if (next <= now_us)
			g_ptr_array_add(due, e);
		else
			later = MIN(later, next);
	}
	/* the hash table's order is no order: sort on a total key */
	g_ptr_array_sort(due, compare_due);
	if (next_r)
		*next_r = later;
	return due;
}

gint64 mta_queue_next_wakeup(const MtaQueue *q)
{
	g_return_val_if_fail(q != NULL, G_MAXINT64);
	gint64 next = G_MAXINT64;
	GHashTableIter it;
	gpointer value;
	g_hash_table_iter_init(&it, q->entries);
	while (g_hash_table_iter_next(&it, NULL, &value))
		next = MIN(next, mta_queue_entry_next_attempt(value));
	return next;
}

GPtrArray *mta_queue_entries(MtaQueue *q)
{
	g_return_val_if_fail(q != NULL, NULL);
	GPtrArray *all = g_ptr_array_sized_new(g_hash_table_size(q->entries));
	GHashTableIter it;
	gpointer value;
	g_hash_table_iter_init(&it, q->entries);
	while (g_hash_table_iter_next(&it, NULL, &value))
		g_ptr_array_add(all, value);
	g_ptr_array_sort(all, compare_arrival);
	return all;
}

guint mta_queue_count(const MtaQueue *q)
{
	g_return_val_if_fail(q != NULL, 0);
	return g_hash_table_size(q->entries);
}

MtaQueueEntry *mta_queue_lookup(MtaQueue *q, const char *id)
{
	g_return_val_if_fail(q != NULL, NULL);
	return id ? g_hash_table_lookup(q->entries, id) : NULL;
}

/* Is entry one of ours, in the queue (not staged, not freed)? */
static gboolean entry_is_queued(MtaQueue *q, const MtaQueueEntry *entry)
{
	return entry && entry->id && g_hash_table_lookup(q->entries, entry->id) == entry;
}

GBytes *mta_queue_read_message(MtaQueue *q, const MtaQueueEntry *entry, GError **error)
{
	g_return_val_if_fail(q != NULL && entry_is_queued(q, entry), NULL);
	g_autofree char *path = queue_path(q, entry->id, MTA_QUEUE_MSG_SUFFIX);
	GBytes *bytes = NULL;
	if (!durable_read_file(path, MTA_QUEUE_MAX_MESSAGE_SIZE, &bytes, error))
		return NULL;
	if (g_bytes_get_size(bytes) != entry->size) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
		            "%s: %" G_GSIZE_FORMAT " octets, the envelope says %" G_GUINT64_FORMAT,
		            path, g_bytes_get_size(bytes), entry->size);
		g_bytes_unref(bytes);
		return NULL;
	}
	return bytes;
}

/* ======================================================================== */
/* Changing                                                                 */
/* ======================================================================== */

gboolean mta_queue_update(MtaQueue *q, MtaQueueEntry *entry, GError **error)
{
	g_return_val_if_fail(q != NULL && entry_is_queued(q, entry), FALSE);
	if (!entry_validate(entry, error))
		return FALSE;
	g_autofree char *path = queue_path(q, entry->id, MTA_QUEUE_ENV_SUFFIX);
	g_autofree char *envelope = mta_queue_envelope_format(entry);
	return durable_write_file(path, envelope, strlen(envelope), q->sync, error);
}

gboolean mta_queue_remove(MtaQueue *q, MtaQueueEntry *entry, GError **error)
{
	return mta_queue_remove_unsynced(q, entry, error) && (!q->sync || durable_sync_dir(q->dir, error));
}

gboolean mta_queue_remove_unsynced(MtaQueue *q, MtaQueueEntry *entry, GError **error)
{
	g_return_val_if_fail(q != NULL && entry_is_queued(q, entry), FALSE);
	g_autofree char *env_path = queue_path(q, entry->id, MTA_QUEUE_ENV_SUFFIX);
	g_autofree char *msg_path = queue_path(q, entry->id, MTA_QUEUE_MSG_SUFFIX);
	g_hash_table_remove(q->entries, entry->id);  /* frees entry */
	/* the envelope first: without it the message is an orphan, removed on
	 * the next open; the other way round would leave a message-less
	 * envelope, which recovery calls corrupt */
	return free_put(q, env_path, error) && free_put(q, msg_path, error);
}
