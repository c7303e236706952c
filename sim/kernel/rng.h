/* sim/kernel/rng.h - repeatable randomness.
 *
 * Each host draws from its own generator, seeded from the run's seed and the
 * host's name, so one host's draws do not shift another's and the same seed
 * replays the same choices (equal MX preference, message ids, ports).
 */
#pragma once

#include <glib.h>

typedef struct MsRng MsRng;

MsRng   *ms_rng_new(guint64 seed, const char *stream_name);
void     ms_rng_free(MsRng *r);
guint32  ms_rng_u32(MsRng *r);
/* Uniform in [lo, hi). */
gint32   ms_rng_range(MsRng *r, gint32 lo, gint32 hi);
double   ms_rng_double(MsRng *r);
/* Fisher-Yates shuffle of n elements of size sz. */
void     ms_rng_shuffle(MsRng *r, gpointer base, gsize n, gsize sz);
/* n lowercase hex characters into a new string (message ids, file names). */
char    *ms_rng_hex(MsRng *r, guint n);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(MsRng, ms_rng_free)
