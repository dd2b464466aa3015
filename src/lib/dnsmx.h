/* dnsmx: the DNS lookups of mail delivery (RFC 5321 5.1, RFC 7505) on libowfat's stub
 * resolver, telling apart what libowfat's dns_mx() cannot: "no such domain" (permanent),
 * "no MX records" (use the implicit MX), "null MX" (the domain takes no mail) and "the
 * server failed" (try later).
 *
 * Servers come from $DNSCACHEIP, else the nameserver lines of /etc/resolv.conf, else ::1
 * (libowfat re-reads them every 10 minutes).  Queries are recursive, UDP, over TCP when
 * the answer is truncated; no EDNS0.  libowfat's query ids and source ports come from
 * dns_random(), which is deterministic until seeded: the lookups here seed it once per
 * process (and again after a fork) from getentropy().
 *
 * How long a lookup can take.  libowfat tries each server with a 3, then 11, then 45 second
 * wait: 59 s per query with one silent server (ETIMEDOUT), more with more servers.  With
 * one server, answers of SERVFAIL or REFUSED make it give up after about 11 s (EAGAIN),
 * and so does a closed port (ECONNREFUSED).  NXDOMAIN is an answer like any other.
 * dnsmx_addrs makes two queries, and a CNAME chain the server did not follow costs more.
 * dnsmx_timeout() bounds each lookup call.  An alarm whose SIGALRM handler returns does
 * NOT cut a query short (libowfat resumes its wait after EINTR): under an alarm, leave
 * SIGALRM's default action (the process ends), or siglongjmp out of the handler and then
 * call dnsmx_abort().
 *
 * Not reentrant: one lookup at a time per process (libowfat's dns_resolve_tx is global). */
#ifndef TERN_DNSMX_H
#define TERN_DNSMX_H
#include <stddef.h>

/* Results. */
#define DNSMX_OK 0		/* records found */
#define DNSMX_NODATA 1		/* the name exists, no records of the type (for MX: the implicit MX) */
#define DNSMX_NXDOMAIN 2	/* the name does not exist (permanent) */
#define DNSMX_NULLMX 3		/* RFC 7505 null MX: the domain accepts no mail (5.1.10) */
#define DNSMX_TEMP -1		/* try later; errno says why: ETIMEDOUT no answer in time, EAGAIN
				 * the servers answered SERVFAIL/REFUSED/..., EPROTO a malformed
				 * answer or unusable records, ELOOP a CNAME chain over
				 * DNSMX_MAXCNAME links, ENOMEM, or a socket error */
#define DNSMX_BADNAME -2	/* the name can't be looked up: empty, an empty label, a label over
				 * 63 bytes, over 255 bytes in all */

#define DNSMX_WIRE 256		/* room for a name in wire form (at most 255 bytes) */
#define DNSMX_MAXCNAME 10	/* CNAME links followed, in one answer and across re-queries */

struct dnsmx_mx {
	unsigned pref;
	char host[256];		/* dotted, ASCII lowercased, no trailing dot; other bytes as sent */
};
struct dnsmx_addr {
	unsigned char ip[16];	/* v6 = 0: IPv4 in ip[0..3], the rest zero */
	int v6;
};

/* A dotted name (trailing dot optional, any case, bytes other than '.' taken as they are:
 * no escapes, no IDNA) to wire form in wire[DNSMX_WIRE].  1, or 0 if it is a bad name. */
int dnsmx_wire(const char *dotted, char wire[DNSMX_WIRE]);

/* Packet parsers (pure: for the lookups, the unit tests and the fuzz target).  pkt is the
 * answer to a query for qname_wire (wire form, as dnsmx_wire makes) of type MX, or of type
 * qtype (DNS_T_A or DNS_T_AAAA).  The question section is skipped, not compared (libowfat
 * already checked it).  CNAMEs in the answer section are followed from qname_wire, at most
 * DNSMX_MAXCNAME links, each record's owner having to be the current name of the chain
 * (case-insensitive); records of other owners, of other classes than IN, and the authority
 * and additional sections are ignored.  Returns:
 *   rcode 3: DNSMX_NXDOMAIN (for the end of the chain, RFC 6604)
 *   other rcode but 0, TC set, malformed packet, too long a chain: DNSMX_TEMP
 *   no record of the type at the end of the chain: DNSMX_NODATA
 *   records: DNSMX_OK, with *n of them (at most max) in mx[] or a[].
 * MX: sorted by preference, equal preferences in packet order; with more than max, the
 * max most preferred.  Null MX records (target root) are dropped when other MX records
 * exist, else the result is DNSMX_NULLMX.  An MX whose target has a byte no host name can
 * hold (control bytes, space, DEL, '\\', '.' inside a label) is dropped; if that leaves
 * none, DNSMX_TEMP (as Postfix does).
 * A/AAAA: in packet order; a record of the wrong length makes the packet malformed. */
int dnsmx_parse_mx(const char *pkt, unsigned len, const char *qname_wire,
		   struct dnsmx_mx *mx, size_t max, size_t *n);
int dnsmx_parse_addr(const char *pkt, unsigned len, const char *qname_wire, const char qtype[2],
		     struct dnsmx_addr *a, size_t max, size_t *n);

/* Lookups.  If the server's answer ends in a CNAME whose target has no records in it (a
 * resolver that doesn't follow chains), the target is queried in turn. */

/* The MX records of domain (dotted, trailing dot optional), as dnsmx_parse_mx gives them,
 * with equal preferences then shuffled (RFC 5321 5.1).  *n = 0 unless DNSMX_OK. */
int dnsmx_mx(const char *domain, struct dnsmx_mx *mx, size_t max, size_t *n);
/* The shuffle dnsmx_mx does: each run of equal preferences of a sorted list in random
 * order (getentropy; the order is left as it is if that fails). */
void dnsmx_shuffle(struct dnsmx_mx *mx, size_t n);

/* Flags of dnsmx_addrs. */
#define DNSMX_V4FIRST 1		/* IPv4 addresses before IPv6 ones (default: IPv6 first) */
#define DNSMX_V4ONLY 2		/* query A only */
#define DNSMX_V6ONLY 4		/* query AAAA only */
/* The addresses of host: AAAA and A are both queried.  DNSMX_OK if either has records:
 * one family first, then the other, each in packet order; when both have more than fit,
 * the first family leaves max/2 places to the second.  Otherwise DNSMX_NXDOMAIN if both
 * say so, DNSMX_TEMP if either failed, else DNSMX_NODATA.  An AAAA failure is no failure
 * when A records are found (and the other way round). */
int dnsmx_addrs(const char *host, unsigned flags, struct dnsmx_addr *a, size_t max, size_t *n);

/* Bounds every later dnsmx_mx or dnsmx_addrs call to about this many seconds in all (0, the
 * default: only libowfat's own schedule); past it the call returns DNSMX_TEMP, ETIMEDOUT. */
void dnsmx_timeout(unsigned seconds);
/* Closes the socket and frees the buffers of a query that was cut short by a siglongjmp. */
void dnsmx_abort(void);

#endif
