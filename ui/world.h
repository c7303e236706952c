/* ui/world.h - the boxes of the topology: which hosts there are, where on
 * the mail's path each one stands, and which box an event's party is.
 *
 * Built from the scenario's world when there is one; every name an event
 * uses that the world does not know (a recorded run replayed without its
 * scenario, a host the runner added) becomes a box of its own.  Events name
 * parties many ways: "mx.example.org", "mda@mx.example.org",
 * "autoconfig.example.com" (a DNS name of a host), "alice" (a client),
 * "bob@example.org" (a mailbox), "accounts.sqlite" (inside the sender).
 * Pure: the scenario's text in, names and indices out.
 */
#pragma once

#include <glib.h>
#include "sim/kernel/event.h"
#include "sim/scenario.h"

/* Where a box stands: the mail travels left to right along the path;
 * services that are asked (DNS, blacklists) stand below it. */
typedef enum {
	UI_TIER_LEFT,   /* senders' machines: mail clients, bare hosts */
	UI_TIER_PATH,   /* mail servers (mta, mda, mra), in the order of the file */
	UI_TIER_RIGHT,  /* recipients' mail clients */
	UI_TIER_BELOW,  /* name servers and other services */
	UI_TIER_COUNT
} UiTier;

const char *ui_tier_to_string(UiTier t);

/* What runs inside a box; a node's parts are a bit set of 1 << UiPart. */
typedef enum {
	UI_PART_HOST,     /* the machine itself (TCP) */
	UI_PART_MUA,
	UI_PART_MTA,
	UI_PART_MDA,
	UI_PART_MRA,
	UI_PART_WEB,
	UI_PART_DNS,
	UI_PART_DB,       /* the account database */
	UI_PART_MAILDIR,  /* the mailboxes */
	UI_PART_COUNT
} UiPart;

/* "MTA", "db", "Maildir"... */
const char *ui_part_to_string(UiPart p);

typedef struct {
	guint    index;
	char    *name;     /* the host's name */
	char    *label;    /* what its box says first: the client's name for a
	                      mail client's machine ("alice"), else the name */
	char    *short_label; /* the label cut to its first DNS label when that
	                         is unique among the nodes ("mail"), else the label */
	char    *detail;   /* a second line, or NULL: the machine of a client */
	char    *address;  /* IPv4 address as the world gives it, or NULL */
	guint    parts;    /* 1 << UiPart bits shown in the box */
	UiTier   tier;
	gboolean seen;     /* not in the world: met in an event */
} UiNode;

typedef struct UiWorld UiWorld;

/* scn may be NULL (nodes then come from events); it is only read here. */
UiWorld      *ui_world_new(const Scenario *scn);
void          ui_world_free(UiWorld *w);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(UiWorld, ui_world_free)

guint         ui_world_count(const UiWorld *w);
const UiNode *ui_world_node(const UiWorld *w, guint i);
/* Changes whenever a node is added or changes parts: lay out again. */
guint         ui_world_generation(const UiWorld *w);
/* The nodes of a tier, in their order (node indices as guint). */
GArray       *ui_world_tier(const UiWorld *w, UiTier t);

/* The node of an event's party name (-1 for none: NULL, "scenario"), and in
 * *part_r (may be NULL) the part of it that acts.  other is the event's
 * other party (for what lives inside a host, like the database); proto and
 * kind tell which agent of a many-role host is meant.  A name nobody knows
 * gets a node of its own. */
gint          ui_world_place(UiWorld *w, const char *name, const char *other, const char *proto,
                             MsEventKind kind, gboolean is_from, UiPart *part_r);
/* Places both parties of ev; either may be -1. */
void          ui_world_place_event(UiWorld *w, const MsEvent *ev, gint *from_r, UiPart *from_part_r,
                                   gint *to_r, UiPart *to_part_r);
/* A title for a world without a scenario. */
const char   *ui_world_title(const UiWorld *w);
