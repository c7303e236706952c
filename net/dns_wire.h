/* net/dns_wire.h - DNS messages as bytes and as structs.
 *
 * Encodes and decodes RFC 1035 4.1 messages: the header, the question and
 * the three record sections, with name compression (RFC 1035 4.1.4).  Typed
 * data for A, AAAA (RFC 3596), NS, CNAME, SOA, PTR, MX, TXT and SRV
 * (RFC 2782); every other type is kept as raw bytes (RFC 3597).  Pure: no
 * I/O, no clock, no globals.  The decoder treats every packet as hostile.
 */
#pragma once

#include <glib.h>

/* ---- limits ------------------------------------------------------------ */

#define DNS_WIRE_HEADER_SIZE   12     /* RFC 1035 4.1.1 */
#define DNS_WIRE_MAX_LABEL     63     /* RFC 1035 2.3.4: octets in a label */
#define DNS_WIRE_MAX_NAME      255    /* RFC 1035 2.3.4: octets of a wire name */
#define DNS_WIRE_UDP_SIZE      512    /* RFC 1035 4.2.1: plain UDP message */
#define DNS_WIRE_MAX_MESSAGE   65535  /* RFC 1035 4.2.2: TCP length prefix */
#define DNS_WIRE_MAX_TXT_CHUNK 255    /* RFC 1035 3.3: one <character-string> */
/* Largest name in text form: 255 octets, each possibly written "\DDD". */
#define DNS_WIRE_MAX_NAME_TEXT (DNS_WIRE_MAX_NAME * 4 + 1)

/* ---- errors ------------------------------------------------------------ */

#define DNS_WIRE_ERROR (dns_wire_error_quark())
GQuark dns_wire_error_quark(void);

typedef enum {
	DNS_WIRE_ERROR_TRUNCATED,  /* the packet ends inside a field */
	DNS_WIRE_ERROR_BAD_NAME,   /* bad label, too long, pointer loop */
	DNS_WIRE_ERROR_BAD_RDATA,  /* RDLENGTH disagrees with the data */
	DNS_WIRE_ERROR_BAD_COUNT,  /* section counts disagree with the packet */
	DNS_WIRE_ERROR_TOO_BIG,    /* encode: even the question does not fit */
	DNS_WIRE_ERROR_INVALID,    /* encode: a field the wire cannot carry */
} DnsWireError;

const char *dns_wire_error_to_string(DnsWireError e);

/* ---- numbers the protocol names ---------------------------------------- */

/* RR TYPE and QTYPE values (RFC 1035 3.2.2, 3.2.3).  A record's type is a
 * guint16 so types this file does not know still travel. */
typedef enum {
	DNS_TYPE_A     = 1,
	DNS_TYPE_NS    = 2,
	DNS_TYPE_CNAME = 5,
	DNS_TYPE_SOA   = 6,
	DNS_TYPE_PTR   = 12,
	DNS_TYPE_MX    = 15,
	DNS_TYPE_TXT   = 16,
	DNS_TYPE_AAAA  = 28,
	DNS_TYPE_SRV   = 33,
	DNS_TYPE_OPT   = 41,   /* RFC 6891: the EDNS pseudo-record */
	DNS_TYPE_IXFR  = 251,
	DNS_TYPE_AXFR  = 252,
	DNS_TYPE_ANY   = 255,
} DnsType;

/* The mnemonic ("MX"), or "UNKNOWN" for a type without one. */
const char *dns_type_to_string(guint16 type);
/* The mnemonic, or RFC 3597 "TYPE65" for any other type.  Free with g_free. */
char       *dns_type_name(guint16 type);
/* "mx", "MX" or "TYPE15" to 15.  FALSE when s is neither. */
gboolean    dns_type_from_string(const char *s, guint16 *type_r);
/* TRUE for types that only appear in questions or as EDNS (OPT, AXFR,
 * IXFR, ANY): a zone cannot hold them. */
gboolean    dns_type_is_meta(guint16 type);

typedef enum {
	DNS_CLASS_IN  = 1,
	DNS_CLASS_CH  = 3,
	DNS_CLASS_HS  = 4,
	DNS_CLASS_ANY = 255,
} DnsClass;

const char *dns_class_to_string(guint16 klass);   /* "IN", or "UNKNOWN" */

typedef enum {
	DNS_OPCODE_QUERY  = 0,
	DNS_OPCODE_IQUERY = 1,
	DNS_OPCODE_STATUS = 2,
	DNS_OPCODE_NOTIFY = 4,
	DNS_OPCODE_UPDATE = 5,
} DnsOpcode;

const char *dns_opcode_to_string(DnsOpcode op);

typedef enum {
	DNS_RCODE_NOERROR  = 0,
	DNS_RCODE_FORMERR  = 1,
	DNS_RCODE_SERVFAIL = 2,
	DNS_RCODE_NXDOMAIN = 3,
	DNS_RCODE_NOTIMP   = 4,
	DNS_RCODE_REFUSED  = 5,
} DnsRcode;

const char *dns_rcode_to_string(DnsRcode rcode);

typedef enum {
	DNS_SECTION_QUESTION,
	DNS_SECTION_ANSWER,
	DNS_SECTION_AUTHORITY,
	DNS_SECTION_ADDITIONAL,
} DnsSection;

const char *dns_section_to_string(DnsSection s);

/* ---- names --------------------------------------------------------------
 * A name is a dotted string with a trailing dot ("mx.example.org."); the
 * root is ".".  A label may hold any octet: in text, "\." is a dot inside a
 * label, "\\" a backslash and "\DDD" any octet in decimal (RFC 1035 5.1).
 * Names compare without regard to ASCII case (RFC 4343).
 */

/* Checks name (trailing dot optional) and returns it in canonical form:
 * lowercase, trailing dot, escapes written one way.  NULL and
 * DNS_WIRE_ERROR_BAD_NAME when a label is empty or over 63 octets or the
 * name over 255.  Free with g_free. */
char       *dns_name_canonical(const char *name, GError **error);
gboolean    dns_name_is_valid(const char *name);
/* Case-insensitive equality of two valid names; FALSE if either is invalid. */
gboolean    dns_name_equal(const char *a, const char *b);
/* TRUE when name is ancestor or below it ("a.b.example." under "example."). */
gboolean    dns_name_is_subdomain(const char *name, const char *ancestor);
/* The name without its first label, as a pointer into name ("b.c." for
 * "a.b.c."; "." for "c."), or NULL for the root.  name must be valid. */
const char *dns_name_parent(const char *name);
/* Labels in a valid name, 0 for the root. */
guint       dns_name_label_count(const char *name);

/* ---- records ------------------------------------------------------------ */

/* Which member of DnsRecord.rdata holds a record's data. */
typedef enum {
	DNS_RDATA_RAW,     /* rdata.raw: types without a typed form */
	DNS_RDATA_A,       /* rdata.a */
	DNS_RDATA_AAAA,    /* rdata.aaaa */
	DNS_RDATA_NAME,    /* rdata.name: NS, CNAME, PTR */
	DNS_RDATA_MX,      /* rdata.mx */
	DNS_RDATA_TXT,     /* rdata.txt */
	DNS_RDATA_SRV,     /* rdata.srv */
	DNS_RDATA_SOA,     /* rdata.soa */
} DnsRdataKind;

const char *dns_rdata_kind_to_string(DnsRdataKind k);
/* The kind for a type and class: A and AAAA are typed only in class IN. */
DnsRdataKind dns_rdata_kind_for(guint16 type, guint16 klass);

typedef struct {
	char   *name;     /* owned */
	guint16 type;
	guint16 klass;
	guint32 ttl;      /* seconds */
	union {
		guint8 a[4];                       /* network order */
		guint8 aaaa[16];
		char  *name;                       /* NS, CNAME, PTR target */
		struct { guint16 preference; char *exchange; } mx;
		/* of GBytes*, each at most DNS_WIRE_MAX_TXT_CHUNK octets */
		GPtrArray *txt;
		struct { guint16 priority, weight, port; char *target; } srv;
		struct {
			char   *mname, *rname;
			guint32 serial, refresh, retry, expire, minimum;
		} soa;
		GBytes *raw;
	} rdata;
} DnsRecord;

/* Constructors copy every string; names are stored as given and checked by
 * dns_wire_encode.  Class is IN.  Free with dns_record_free. */
DnsRecord *dns_record_new_a(const char *name, guint32 ttl, const guint8 addr[4]);
DnsRecord *dns_record_new_aaaa(const char *name, guint32 ttl, const guint8 addr[16]);
/* type is NS, CNAME or PTR. */
DnsRecord *dns_record_new_name(const char *name, guint16 type, guint32 ttl, const char *target);
DnsRecord *dns_record_new_mx(const char *name, guint32 ttl, guint16 preference, const char *exchange);
DnsRecord *dns_record_new_srv(const char *name, guint32 ttl, guint16 priority,
                              guint16 weight, guint16 port, const char *target);
/* One TXT string split into 255-octet chunks (one empty chunk for ""). */
DnsRecord *dns_record_new_txt(const char *name, guint32 ttl, const char *text);
DnsRecord *dns_record_new_soa(const char *name, guint32 ttl, const char *mname,
                              const char *rname, guint32 serial, guint32 refresh,
                              guint32 retry, guint32 expire, guint32 minimum);
/* Any type and class; rdata (may be NULL: empty) is referenced.  When the
 * kind for type/class is not RAW the bytes are decoded; NULL and
 * DNS_WIRE_ERROR_BAD_RDATA if they do not parse. */
DnsRecord *dns_record_new_raw(const char *name, guint16 type, guint16 klass,
                              guint32 ttl, GBytes *rdata, GError **error);
DnsRecord *dns_record_copy(const DnsRecord *rec);
void       dns_record_free(DnsRecord *rec);
/* Same name (ignoring case), type, class and data; the TTL is not compared. */
gboolean   dns_record_equal(const DnsRecord *a, const DnsRecord *b);
DnsRdataKind dns_record_rdata_kind(const DnsRecord *rec);
/* The TXT chunks joined into one string (RFC 7208 3.3 style); NULL for
 * other kinds.  Free with g_free. */
char      *dns_record_txt_join(const DnsRecord *rec);
/* "192.0.2.1" or "2001:db8::1" for A/AAAA, else NULL.  Free with g_free. */
char      *dns_record_address(const DnsRecord *rec);

/* Appends one <character-string> in presentation form: in double quotes,
 * with \" \\ and \DDD escapes (RFC 1035 5.1). */
void       dns_wire_append_quoted(GString *out, const guint8 *data, gsize len);

/* Zone-file presentation, one line: "example.org. 3600 IN MX 10 mx.example.org."
 * The data alone: "10 mx.example.org.".  Both newly allocated. */
char      *dns_record_to_text(const DnsRecord *rec);
char      *dns_record_rdata_to_text(const DnsRecord *rec);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(DnsRecord, dns_record_free)

/* ---- messages ----------------------------------------------------------- */

typedef struct {
	char   *name;     /* owned */
	guint16 type;     /* QTYPE: may also be ANY, AXFR... */
	guint16 klass;
} DnsQuestion;

DnsQuestion *dns_question_new(const char *name, guint16 type, guint16 klass);
void         dns_question_free(DnsQuestion *q);
/* "example.org. IN MX".  Free with g_free. */
char        *dns_question_to_text(const DnsQuestion *q);

typedef struct {
	guint16    id;
	gboolean   qr;         /* a response */
	DnsOpcode  opcode;     /* 4 bits on the wire */
	gboolean   aa, tc, rd, ra;
	guint8     z;          /* the 3 reserved bits, kept so bytes round-trip */
	DnsRcode   rcode;      /* 4 bits on the wire */
	GPtrArray *questions;  /* of DnsQuestion*, owned */
	GPtrArray *answers;    /* of DnsRecord*, owned */
	GPtrArray *authority;  /* of DnsRecord*, owned */
	GPtrArray *additional; /* of DnsRecord*, owned */
} DnsMessage;

/* An empty message: all zero, four empty sections. */
DnsMessage *dns_message_new(void);
void        dns_message_free(DnsMessage *msg);
/* A standard query (RD set, RFC 1035 4.1.1) for one name, class IN.
 * NULL and DNS_WIRE_ERROR_BAD_NAME when name is not a valid name. */
DnsMessage *dns_message_new_query(guint16 id, const char *name, guint16 type, GError **error);
/* The skeleton of the answer to query: same id, opcode, RD and questions,
 * QR set, rcode rcode, sections empty. */
DnsMessage *dns_message_new_response(const DnsMessage *query, DnsRcode rcode);
/* The array for a record section (not QUESTION). */
GPtrArray  *dns_message_section(const DnsMessage *msg, DnsSection s);
/* Appends rec to a record section; the message takes ownership. */
void        dns_message_add(DnsMessage *msg, DnsSection s, DnsRecord *rec);
/* The UDP payload a client accepts: its EDNS size (RFC 6891 6.2.3) clamped
 * to [512, 4096], or 512 without an OPT record. */
gsize       dns_message_udp_limit(const DnsMessage *query);

/* dig-style dump over several lines (header, flags, one line per record).
 * Free with g_free. */
char       *dns_message_to_text(const DnsMessage *msg);
/* One line for an event: "example.org. MX ?" for a query,
 * "example.org. MX → 10 mx.example.org." or "example.org. MX → NXDOMAIN"
 * for a response.  Free with g_free. */
char       *dns_message_to_line(const DnsMessage *msg);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(DnsMessage, dns_message_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(DnsQuestion, dns_question_free)

/* ---- the wire ------------------------------------------------------------ */

/* Encodes msg with name compression.  max_size is the largest message the
 * transport carries (DNS_WIRE_UDP_SIZE for plain UDP; 0 means
 * DNS_WIRE_MAX_MESSAGE).  When the answer or authority records do not fit,
 * the ones that do are kept and TC is set; records that only fit in the
 * additional section are dropped without TC (RFC 2181 9).  NULL and a
 * DNS_WIRE_ERROR when a name or field is invalid (INVALID, BAD_NAME) or the
 * header and questions alone exceed max_size (TOO_BIG). */
GBytes     *dns_wire_encode(const DnsMessage *msg, gsize max_size, GError **error);

/* Decodes one message of exactly len bytes (no TCP length prefix).  Returns
 * a new message, or NULL and a DNS_WIRE_ERROR saying what and where.  Reads
 * no byte outside data[0..len). */
DnsMessage *dns_wire_decode(const guint8 *data, gsize len, GError **error);
