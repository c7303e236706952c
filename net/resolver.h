/* net/resolver.h - the stub resolver agents use: asks a DNS server over the
 * (simulated or real) network and makes every question and answer visible.
 *
 * Queries go over UDP with a random id from the resolver's seeded generator,
 * are retried on time-out, and fall back to TCP when the answer is truncated
 * (RFC 1035 4.2).  Each query emits a DNS_QUERY event and each answer a
 * DNS_ANSWER event tagged with the caller's course step.
 */
#pragma once

#include "net/conn.h"
#include "net/dns_wire.h"

typedef enum {
	MS_DNS_OK,        /* records found */
	MS_DNS_NXDOMAIN,  /* the name does not exist */
	MS_DNS_NODATA,    /* the name exists, without records of that type */
	MS_DNS_NULLMX,    /* RFC 7505: the domain accepts no mail */
	MS_DNS_TEMPFAIL,  /* time-out, SERVFAIL, REFUSED, unreachable: try later */
	MS_DNS_PERMFAIL,  /* a malformed answer or question: do not retry */
} MsDnsStatus;

const char *ms_dns_status_to_string(MsDnsStatus s);

#define MS_RESOLVER_TIMEOUT (2 * MS_SECOND)   /* per try */
#define MS_RESOLVER_TRIES   3

typedef struct MsResolver MsResolver;

/* Which server answers which zone, as a resolver's stub-zone settings say
 * (Unbound's stub-zone, BIND's "type static-stub"): names under a listed
 * zone go to its server, everything else to the default.  Shared by the
 * resolvers of a world; reference counted; not changed once in use. */
typedef struct MsDnsDirectory MsDnsDirectory;

MsDnsDirectory *ms_dns_directory_new(const char *default_addr, guint16 port, const char *default_name);
MsDnsDirectory *ms_dns_directory_ref(MsDnsDirectory *d);
void            ms_dns_directory_unref(MsDnsDirectory *d);
/* Names at or under zone are asked of addr (named name in events). */
void            ms_dns_directory_add(MsDnsDirectory *d, const char *zone, const char *addr, const char *name);

/* A resolver for the agent `who` (named in events) asking server_addr:port
 * (server_name is what events call the server; NULL: the address).  seed
 * feeds the generator for query ids and for the order of equal MX hosts. */
MsResolver *ms_resolver_new(MsStack *stack, const char *who, const char *server_addr,
                            guint16 port, const char *server_name, guint64 seed);
/* The same, asking the servers of a directory (a reference is taken). */
MsResolver *ms_resolver_new_directory(MsStack *stack, const char *who, MsDnsDirectory *dir, guint64 seed);
void        ms_resolver_free(MsResolver *r);
void        ms_resolver_set_timeout(MsResolver *r, gint64 per_try_us, guint tries);

/* A cache of answers, shared by the resolvers of one agent as a caching
 * name server on its host would be (RFC 1034 4.3.4): an answer is kept for
 * its least TTL (RFC 2181 8), NXDOMAIN and NODATA for their SOA's minimum
 * (RFC 2308 5), never longer than MS_DNS_CACHE_MAX_TTL; at most
 * MS_DNS_CACHE_MAX_ENTRIES (then emptied).  Thread-safe, reference
 * counted.  An answer from the cache is a NOTE event with the caller's
 * step, so the lesson still shows the look-up. */
#define MS_DNS_CACHE_MAX_TTL     86400    /* seconds: a day, as Unbound's cache-max-ttl */
#define MS_DNS_CACHE_MAX_ENTRIES 100000

typedef struct MsDnsCache MsDnsCache;
MsDnsCache *ms_dns_cache_new(void);
MsDnsCache *ms_dns_cache_ref(MsDnsCache *c);
void        ms_dns_cache_unref(MsDnsCache *c);   /* NULL is fine */
/* Answer from cache (a reference is taken; NULL: none) before asking. */
void        ms_resolver_set_cache(MsResolver *r, MsDnsCache *cache);

/* Ask for name/type.  On MS_DNS_OK *records_r (may be NULL) gets the answer
 * records of that type at the end of any CNAME chain (an array of
 * DnsRecord*, owned by the caller).  error says why on TEMPFAIL/PERMFAIL. */
MsDnsStatus ms_resolver_query(MsResolver *r, const char *name, guint16 type, const char *step,
                              GPtrArray **records_r, GError **error);

/* A mail exchanger as RFC 5321 5.1 chooses them. */
typedef struct {
	guint16  preference;
	char    *host;       /* "mx.example.org." */
	gboolean implicit;   /* no MX: the domain itself (RFC 5321 5.1) */
} MsMxHost;

void ms_mx_host_free(MsMxHost *mx);

/* The exchangers for domain, lowest preference first, equal preferences in
 * the resolver's seeded random order.  No MX but an address: one implicit
 * exchanger.  A single "0 ." MX: MS_DNS_NULLMX.  *hosts_r is an array of
 * MsMxHost* owned by the caller. */
MsDnsStatus ms_resolver_mx(MsResolver *r, const char *domain, const char *step,
                           GPtrArray **hosts_r, GError **error);
/* IPv4 then IPv6 addresses of host as strings (array of char*). */
MsDnsStatus ms_resolver_addresses(MsResolver *r, const char *host, const char *step,
                                  GPtrArray **addrs_r, GError **error);
/* The PTR name of an IPv4 or IPv6 address (*name_r newly allocated). */
MsDnsStatus ms_resolver_ptr(MsResolver *r, const char *address, const char *step,
                            char **name_r, GError **error);
/* TXT strings, each record's chunks joined (array of char*). */
MsDnsStatus ms_resolver_txt(MsResolver *r, const char *name, const char *step,
                            GPtrArray **texts_r, GError **error);
/* SRV records ordered by priority, then weight (array of DnsRecord*). */
MsDnsStatus ms_resolver_srv(MsResolver *r, const char *name, const char *step,
                            GPtrArray **records_r, GError **error);

/* Ask the DNS blacklist zone about address (RFC 5782): MS_DNS_OK when
 * listed, with the return code ("127.0.0.2") and the TXT reason (may be
 * NULL); MS_DNS_NXDOMAIN when not listed. */
MsDnsStatus ms_resolver_dnsbl(MsResolver *r, const char *address, const char *zone,
                              const char *step, char **code_r, char **reason_r, GError **error);
