/* tests/net/test_pcap_checksum.c - the Internet checksum against known
 * vectors: RFC 1071's worked example, a textbook IPv4 header, and TCP/UDP
 * segments whose checksums Wireshark validated; then a plain reference sum
 * over random buffers, and the UDP "zero is sent as all ones" rule.
 */
#include "tests/ms_test.h"
#include "net/pcap_checksum.h"

static GByteArray *from_hex(const char *hex)
{
	GByteArray *b = g_byte_array_new();
	for (const char *p = hex; p[0] && p[1];) {
		if (p[0] == ' ') {
			p++;
			continue;
		}
		guint8 v = (guint8)(g_ascii_xdigit_value(p[0]) << 4 | g_ascii_xdigit_value(p[1]));
		g_byte_array_append(b, &v, 1);
		p += 2;
	}
	return b;
}

/* ---- whole-buffer vectors ------------------------------------------------ */

static const struct {
	const char *name;
	const char *hex;
	guint16     checksum;
} internet_cases[] = {
	/* RFC 1071 3: the sum of these words is ddf2, so the checksum is 220d */
	{ "rfc1071 example", "0001 f203 f4f5 f6f7", 0x220d },
	/* an IPv4 header with its checksum field zeroed (192.168.0.1 -> .199) */
	{ "ipv4 header", "4500 0073 0000 4000 4011 0000 c0a8 0001 c0a8 00c7", 0xb861 },
	/* RFC 1071 4.1: an odd byte is padded with zero on the right */
	{ "odd length", "01", 0xfeff },
	{ "odd length 3", "0001 02", 0xfdfe },
	{ "empty", "", 0xffff },
	{ "all ones", "ffff", 0x0000 },
	/* carries wrap around into the low bits */
	{ "end-around carry", "ffff 0001", 0xfffe },
};

START_TEST(test_internet_vectors)
{
	for (guint i = 0; i < G_N_ELEMENTS(internet_cases); i++) {
		g_autoptr(GByteArray) b = from_hex(internet_cases[i].hex);
		guint16 got = pcap_checksum_internet(b->data, b->len);
		ck_assert_msg(got == internet_cases[i].checksum, "%s: got %04x, want %04x",
		              internet_cases[i].name, got, internet_cases[i].checksum);
	}
}
END_TEST

START_TEST(test_ipv4_header_verifies)
{
	/* the header with its checksum in place sums to zero */
	g_autoptr(GByteArray) b = from_hex("4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7");
	ck_assert_uint_eq(pcap_checksum_ipv4_header(b->data, b->len), 0);
	b->data[10] ^= 0x01;
	ck_assert_uint_ne(pcap_checksum_ipv4_header(b->data, b->len), 0);
}
END_TEST

/* ---- TCP and UDP: whole Ethernet frames Wireshark called "Good" --------- */

static const struct {
	const char *name;
	const char *frame;
	guint8      proto;
} transport_cases[] = {
	{ "tcp syn with mss option",
	  "0200c000020a0200c000024d08004500002c000040004006b674c000024dc000020a"
	  "c000024b85f72512000000006002ffffa6790000020405b4", 6 },
	{ "tcp data (an odd 36 bytes)",
	  "0200c000024d0200c000020a08004500004c000340004006b651c000020ac000024d"
	  "024bc0001c3b27fa85f725135018fffff5930000323230206d61696c2e6578616d706c65"
	  "2e636f6d2045534d5450206d61696c73696d0d0a", 6 },
	{ "udp dns query (odd length)",
	  "0200cb0071350200c000020a080045000039001e400040113c56c000020acb007135"
	  "c0010035002527d538e401000001000000000000076578616d706c65036f726700000f0001", 17 },
};

START_TEST(test_transport_vectors)
{
	for (guint i = 0; i < G_N_ELEMENTS(transport_cases); i++) {
		g_autoptr(GByteArray) f = from_hex(transport_cases[i].frame);
		const guint8 *ip = f->data + 14;
		gsize ihl = (ip[0] & 0x0f) * 4u;
		gsize total = (gsize)ip[2] << 8 | ip[3];
		ck_assert_uint_eq(pcap_checksum_ipv4_header(ip, ihl), 0);
		guint8 *seg = f->data + 14 + ihl;
		gsize len = total - ihl;
		ck_assert_msg(pcap_checksum_ipv4_transport_ok(ip + 12, ip + 16, transport_cases[i].proto, seg, len),
		              "%s: does not verify", transport_cases[i].name);
		gsize field = transport_cases[i].proto == 6 ? 16 : 6;
		guint16 want = (guint16)(seg[field] << 8 | seg[field + 1]);
		seg[field] = seg[field + 1] = 0;
		guint16 got = pcap_checksum_ipv4_transport(ip + 12, ip + 16, transport_cases[i].proto, seg, len);
		ck_assert_msg(got == want, "%s: got %04x, want %04x", transport_cases[i].name, got, want);
		/* one flipped bit anywhere is caught */
		seg[field] = (guint8)(want >> 8);
		seg[field + 1] = (guint8)want;
		seg[len - 1] ^= 0x40;
		ck_assert(!pcap_checksum_ipv4_transport_ok(ip + 12, ip + 16, transport_cases[i].proto, seg, len));
	}
}
END_TEST

START_TEST(test_udp_without_checksum_accepted)
{
	g_autoptr(GByteArray) seg = from_hex("c0010035000d0000 6162636465");
	const guint8 src[4] = { 192, 0, 2, 1 }, dst[4] = { 192, 0, 2, 2 };
	ck_assert(pcap_checksum_ipv4_transport_ok(src, dst, PCAP_CHECKSUM_PROTO_UDP, seg->data, seg->len));
	/* TCP has no such escape */
	ck_assert(!pcap_checksum_ipv4_transport_ok(src, dst, PCAP_CHECKSUM_PROTO_TCP, seg->data, seg->len));
}
END_TEST

START_TEST(test_udp_zero_sent_as_ones)
{
	/* find two trailing bytes that make the UDP sum come out as 0 */
	const guint8 src[4] = { 10, 0, 0, 1 }, dst[4] = { 10, 0, 0, 2 };
	guint8 seg[12] = { 0x12, 0x34, 0x00, 0x35, 0x00, 0x0c, 0, 0, 'a', 'b', 0, 0 };
	gboolean found = FALSE;
	for (guint x = 0; x <= 0xffff && !found; x++) {
		seg[10] = (guint8)(x >> 8);
		seg[11] = (guint8)x;
		seg[6] = seg[7] = 0;
		guint32 sum = pcap_checksum_add(0, seg, sizeof seg);
		guint8 ph[12] = { 10, 0, 0, 1, 10, 0, 0, 2, 0, 17, 0, 12 };
		sum = pcap_checksum_add(sum, ph, sizeof ph);
		if (pcap_checksum_finish(sum) != 0)
			continue;
		found = TRUE;
		guint16 c = pcap_checksum_ipv4_transport(src, dst, PCAP_CHECKSUM_PROTO_UDP, seg, sizeof seg);
		ck_assert_uint_eq(c, 0xffff);   /* RFC 768 */
		seg[6] = seg[7] = 0xff;
		ck_assert(pcap_checksum_ipv4_transport_ok(src, dst, PCAP_CHECKSUM_PROTO_UDP, seg, sizeof seg));
	}
	ck_assert(found);
}
END_TEST

/* ---- against a reference: sum every word in 64 bits, fold at the end ---- */

static guint16 reference(const guint8 *p, gsize len)
{
	guint64 sum = 0;
	for (gsize i = 0; i < len; i += 2)
		sum += (guint64)p[i] << 8 | (i + 1 < len ? p[i + 1] : 0);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (guint16)~sum;
}

START_TEST(test_reference_random)
{
	GRand *rand = g_rand_new_with_seed(1071);
	for (int round = 0; round < 200; round++) {
		gsize len = (gsize)g_rand_int_range(rand, 0, round < 190 ? 2000 : 200000);
		guint8 *buf = g_malloc(len + 1);
		gboolean ones = round % 10 == 0;   /* all 0xff: the most carries */
		for (gsize i = 0; i < len; i++)
			buf[i] = ones ? 0xff : (guint8)g_rand_int(rand);
		ck_assert_uint_eq(pcap_checksum_internet(buf, len), reference(buf, len));
		/* in even chunks the running sum gives the same answer */
		gsize cut = len / 2 & ~(gsize)1;
		guint32 s = pcap_checksum_add(0, buf, cut);
		s = pcap_checksum_add(s, buf + cut, len - cut);
		ck_assert_uint_eq(pcap_checksum_finish(s), reference(buf, len));
		g_free(buf);
	}
	g_rand_free(rand);
}
END_TEST

static Suite *pcap_checksum_suite(void)
{
	Suite *s = suite_create("pcap_checksum");
	MS_ADD_TEST(s, test_internet_vectors, 5);
	MS_ADD_TEST(s, test_ipv4_header_verifies, 5);
	MS_ADD_TEST(s, test_transport_vectors, 5);
	MS_ADD_TEST(s, test_udp_without_checksum_accepted, 5);
	MS_ADD_TEST(s, test_udp_zero_sent_as_ones, 5);
	MS_ADD_TEST(s, test_reference_random, 30);
	return s;
}

MS_TEST_MAIN(pcap_checksum_suite)
