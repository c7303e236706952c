/* sim/kernel/rng.c - per-stream seeded generators.
 *
 * The stream's seed mixes the run seed with an FNV-1a hash of the stream's
 * name, so "mx.example.org" draws the same numbers whatever other hosts do.
 */
#include "sim/kernel/rng.h"

#include <string.h>

struct MsRng {
	GRand *rand;
};

static guint64 fnv1a64(const char *s)
{
	guint64 h = G_GUINT64_CONSTANT(0xcbf29ce484222325);
	for (; s && *s; s++) {
		h ^= (guchar)*s;
		h *= G_GUINT64_CONSTANT(0x100000001b3);
	}
	return h;
}

MsRng *ms_rng_new(guint64 seed, const char *stream_name)
{
	guint64 h = fnv1a64(stream_name) ^ (seed * G_GUINT64_CONSTANT(0x9e3779b97f4a7c15));
	guint32 words[4] = { (guint32)seed, (guint32)(seed >> 32), (guint32)h, (guint32)(h >> 32) };
	MsRng *r = g_new0(MsRng, 1);
	r->rand = g_rand_new_with_seed_array(words, G_N_ELEMENTS(words));
	return r;
}

void ms_rng_free(MsRng *r)
{
	if (!r)
		return;
	g_rand_free(r->rand);
	g_free(r);
}

guint32 ms_rng_u32(MsRng *r)
{
	return g_rand_int(r->rand);
}

gint32 ms_rng_range(MsRng *r, gint32 lo, gint32 hi)
{
	g_return_val_if_fail(lo < hi, lo);
	return g_rand_int_range(r->rand, lo, hi);
}

double ms_rng_double(MsRng *r)
{
	return g_rand_double(r->rand);
}

void ms_rng_shuffle(MsRng *r, gpointer base, gsize n, gsize sz)
{
	guchar *b = base;
	g_autofree guchar *tmp = g_malloc(sz ? sz : 1);
	for (gsize i = n; i > 1; i--) {
		gsize j = (gsize)g_rand_int_range(r->rand, 0, (gint32)i);
		if (j == i - 1)
			continue;
		memcpy(tmp, b + (i - 1) * sz, sz);
		memcpy(b + (i - 1) * sz, b + j * sz, sz);
		memcpy(b + j * sz, tmp, sz);
	}
}

char *ms_rng_hex(MsRng *r, guint n)
{
	static const char digits[] = "0123456789abcdef";
	char *s = g_malloc(n + 1);
	for (guint i = 0; i < n; i++)
		s[i] = digits[g_rand_int_range(r->rand, 0, 16)];
	s[n] = '\0';
	return s;
}
