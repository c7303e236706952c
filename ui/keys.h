/* ui/keys.h - the key table: which key does what, and the key line.
 *
 * One table serves the dispatcher, the key line at the bottom of the
 * screen and the help page, so they never disagree.
 */
#pragma once

#include <glib.h>

typedef enum {
	UI_ACT_NONE,
	UI_ACT_NEXT,         /* the next moment (live: let the network deliver) */
	UI_ACT_PREV,         /* the moment before, from the recorded history */
	UI_ACT_NEXT_STEP,    /* on until another course step is active */
	UI_ACT_PLAY,         /* play or pause */
	UI_ACT_FASTER,
	UI_ACT_SLOWER,
	UI_ACT_FOCUS_NEXT,   /* Tab */
	UI_ACT_FOCUS_1,      /* 1-4: a pane by number */
	UI_ACT_FOCUS_2,
	UI_ACT_FOCUS_3,
	UI_ACT_FOCUS_4,
	UI_ACT_UP,           /* within the focused pane */
	UI_ACT_DOWN,
	UI_ACT_PAGE_UP,
	UI_ACT_PAGE_DOWN,
	UI_ACT_HOME,
	UI_ACT_END,
	UI_ACT_DETAILS,      /* Enter: the selected event in full */
	UI_ACT_FILTER,       /* the next protocol filter */
	UI_ACT_SEARCH,       /* type a word to find */
	UI_ACT_HELP,
	UI_ACT_CLOSE,        /* Escape: close what is open */
	UI_ACT_REDRAW,       /* Ctrl-L */
	UI_ACT_QUIT,
	UI_ACT_COUNT
} UiAction;

const char *ui_action_to_string(UiAction a);

#define UI_KEYS_PER_BINDING 4

typedef struct {
	int         keys[UI_KEYS_PER_BINDING];  /* curses key codes; 0 ends the list */
	UiAction    action;
	const char *key_name;     /* on screen: "Space", "←", "+/-" */
	const char *short_key;    /* when room is short: "Spc" */
	const char *label;        /* "next" */
	const char *short_label;  /* "nxt"; NULL: the same */
	const char *help;         /* its line on the help page; NULL: told by another's */
	const char *help_keys;    /* the keys as the help page lists them; NULL: key_name */
	guint       rank;         /* place on the key line (1 first); 0: help page only */
	gboolean    always;       /* kept on the key line however narrow */
} UiKeyBinding;

/* The whole table, in help-page order. */
const UiKeyBinding *ui_keys_table(guint *n_r);
/* The action of a key code (curses KEY_*, or a character); NONE if unbound. */
UiAction            ui_keys_action(int key);

/* How the key line is written, roomiest first. */
typedef enum {
	UI_KEYS_LONG,     /* "Space next · ← back · ..." */
	UI_KEYS_SHORT,    /* "Spc next  ← back  ..." */
	UI_KEYS_TIGHT,    /* keys in reverse video, labels right after: "Spcnext ←back" */
	UI_KEYS_STYLE_COUNT
} UiKeyStyle;

const char *ui_key_style_to_string(UiKeyStyle s);

/* The bindings of the key line for width columns, in order, and the style
 * that fits them: every ranked key when possible, else the lowest-ranked
 * ones leave first (never an "always" one).  Returns how many were put in
 * out (room for max). */
guint ui_keys_line(gint width, const UiKeyBinding **out, guint max, UiKeyStyle *style_r);
/* The columns the key line takes for those bindings in that style. */
gint  ui_keys_line_width(const UiKeyBinding *const *b, guint n, UiKeyStyle style);
/* The key and the label a binding shows in a style. */
const char *ui_keys_key_text(const UiKeyBinding *b, UiKeyStyle style);
const char *ui_keys_label_text(const UiKeyBinding *b, UiKeyStyle style);
/* The separator between two entries of the key line in a style. */
const char *ui_keys_separator(UiKeyStyle style);
/* The gap between a key and its label ("" or " "). */
const char *ui_keys_gap(UiKeyStyle style);
