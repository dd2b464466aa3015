#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dns.h>
#include <iopause.h>
#include <taia.h>
#include "dnsmx.h"

#define T_CNAME 5
#define C_IN 1

static unsigned get16(const char *p)
{
	return (unsigned)(unsigned char)p[0] << 8 | (unsigned char)p[1];
}

int dnsmx_wire(const char *s, char wire[DNSMX_WIRE])
{
	size_t n = strlen(s), o = 0, i = 0;
	if (n && s[n - 1] == '.') n--;
	if (n == 0 || s[n - 1] == '.') return 0;
	while (i < n) {
		size_t j = i;
		while (j < n && s[j] != '.') j++;
		size_t l = j - i;
		if (l == 0 || l > 63 || o + 1 + l + 1 > 255) return 0;
		wire[o++] = (char)l;
		memcpy(wire + o, s + i, l);
		o += l;
		i = j + 1;
	}
	wire[o] = 0;
	return 1;
}

/* A wire name (as dns_packet_getname makes: labels < 64, at most 255 bytes) to a dotted,
 * lowercased host.  1, 0 for the root, -1 for a byte no host name has. */
static int todot(const char *w, char host[256])
{
	size_t o = 0, i = 0;
	host[0] = 0;
	if (!w[0]) return 0;
	while (w[i]) {
		unsigned l = (unsigned char)w[i++];
		if (o) host[o++] = '.';
		while (l--) {
			unsigned char c = (unsigned char)w[i++];
			if (c <= ' ' || c == 0x7f || c == '.' || c == '\\') return -1;
			if (c >= 'A' && c <= 'Z') c = (unsigned char)(c + 32);
			host[o++] = (char)c;
		}
	}
	host[o] = 0;
	return 1;
}

/* getname's failures are malformed packets unless malloc failed. */
static int protofail(void)
{
	if (errno != ENOMEM) errno = EPROTO;
	return DNSMX_TEMP;
}

struct rr {
	unsigned type, class, rdpos, rdlen;
};

/* The resource record at *pos: its owner into *owner (replacing what was there). */
static int rrnext(const char *pkt, unsigned len, unsigned *pos, char **owner, struct rr *r)
{
	char h[10];
	unsigned p = dns_packet_getname(pkt, len, *pos, owner);
	if (!p || !(p = dns_packet_copy(pkt, len, p, h, 10))) return 0;
	r->type = get16(h);
	r->class = get16(h + 2);
	r->rdlen = get16(h + 8);
	r->rdpos = p;
	if (r->rdlen > len - p) { errno = EPROTO; return 0; }
	*pos = p + r->rdlen;
	return 1;
}

/* Start of the answer section and its record count; 0 if the header or questions are cut. */
static unsigned answers(const char *pkt, unsigned len, unsigned *an)
{
	char h[12];
	unsigned pos = dns_packet_copy(pkt, len, 0, h, 12);
	if (!pos) return 0;
	unsigned qd = get16(h + 4);
	*an = get16(h + 6);
	while (qd--) {
		pos = dns_packet_skipname(pkt, len, pos);
		if (!pos || pos > len || len - pos < 4) return 0;
		pos += 4;
	}
	return pos;
}

/* Called for each record of the wanted type at the end of the chain; < 0 stops the walk
 * as malformed. */
typedef int (*rrfn)(void *ctx, const char *pkt, unsigned len, const struct rr *r);

/* The name the answer's CNAME chain from *cur ends at, into *cur; *links counts the links. */
static int chase(const char *pkt, unsigned len, unsigned start, unsigned an, char **cur,
		 unsigned *links)
{
	char *owner = 0, *target = 0;
	int r = DNSMX_TEMP;
	for (;;) {
		unsigned pos = start, i;
		struct rr rr;
		for (i = 0; i < an; i++) {
			if (!rrnext(pkt, len, &pos, &owner, &rr)) { r = protofail(); goto out; }
			if (rr.type == T_CNAME && rr.class == C_IN && dns_domain_equal(owner, *cur)) break;
		}
		if (i == an) break;
		unsigned p = dns_packet_getname(pkt, len, rr.rdpos, &target);
		if (!p) { r = protofail(); goto out; }
		if (p > rr.rdpos + rr.rdlen) { errno = EPROTO; goto out; }
		if (++*links > DNSMX_MAXCNAME) { errno = ELOOP; goto out; }
		char *t = *cur;
		*cur = target;
		target = t;
	}
	r = DNSMX_OK;
out:
	dns_domain_free(&owner);
	dns_domain_free(&target);
	return r;
}

/* The common walk of dnsmx_parse_*: header, rcode, chain, then fn for each record of qtype
 * owned by the chain's end.  end (wire form) gets the chain's end, *links its length. */
static int walk(const char *pkt, unsigned len, const char *qname, unsigned qtype,
		char end[DNSMX_WIRE], unsigned *links, rrfn fn, void *ctx)
{
	if (len < 12) { errno = EPROTO; return DNSMX_TEMP; }
	unsigned flags = get16(pkt + 2);
	if (flags & 0x0200) { errno = EPROTO; return DNSMX_TEMP; }	/* TC: an incomplete answer */
	if ((flags & 15) == 3) return DNSMX_NXDOMAIN;
	if (flags & 15) { errno = EAGAIN; return DNSMX_TEMP; }
	unsigned an, start = answers(pkt, len, &an);
	if (!start) { errno = EPROTO; return DNSMX_TEMP; }

	char *cur = 0, *owner = 0;
	if (!dns_domain_copy(&cur, qname)) return DNSMX_TEMP;
	int r = chase(pkt, len, start, an, &cur, links);
	if (r != DNSMX_OK) goto out;
	unsigned pos = start;
	size_t seen = 0;
	for (unsigned i = 0; i < an; i++) {
		struct rr rr;
		if (!rrnext(pkt, len, &pos, &owner, &rr)) { r = protofail(); goto out; }
		if (rr.type != qtype || rr.class != C_IN || !dns_domain_equal(owner, cur)) continue;
		seen++;
		if (fn(ctx, pkt, len, &rr) < 0) { r = protofail(); goto out; }
	}
	memcpy(end, cur, dns_domain_length(cur));
	r = seen ? DNSMX_OK : DNSMX_NODATA;
out:
	dns_domain_free(&cur);
	dns_domain_free(&owner);
	return r;
}

struct mxctx {
	struct dnsmx_mx *mx;
	size_t max, n;
	size_t good, null, bad;
};

static int onemx(void *v, const char *pkt, unsigned len, const struct rr *r)
{
	struct mxctx *c = v;
	struct dnsmx_mx m;
	char *name = 0;
	if (r->rdlen < 3) { errno = EPROTO; return -1; }
	m.pref = get16(pkt + r->rdpos);
	unsigned p = dns_packet_getname(pkt, len, r->rdpos + 2, &name);
	if (!p) return -1;
	if (p > r->rdpos + r->rdlen) { dns_domain_free(&name); errno = EPROTO; return -1; }
	int t = todot(name, m.host);
	dns_domain_free(&name);
	if (t == 0) { c->null++; return 0; }
	if (t < 0) { c->bad++; return 0; }
	c->good++;
	/* Insert after every record of no greater preference: ties keep packet order. */
	size_t k = c->n;
	while (k > 0 && c->mx[k - 1].pref > m.pref) k--;
	if (k >= c->max) return 0;
	size_t last = c->n < c->max ? c->n : c->max - 1;
	memmove(c->mx + k + 1, c->mx + k, (last - k) * sizeof *c->mx);
	c->mx[k] = m;
	if (c->n < c->max) c->n++;
	return 0;
}

static int parse_mx(const char *pkt, unsigned len, const char *qname, char end[DNSMX_WIRE],
		    unsigned *links, struct dnsmx_mx *mx, size_t max, size_t *n)
{
	struct mxctx c = { mx, max, 0, 0, 0, 0 };
	*n = 0;
	int r = walk(pkt, len, qname, 15, end, links, onemx, &c);
	if (r != DNSMX_OK) return r;
	*n = c.n;
	if (c.good) return DNSMX_OK;
	if (c.bad) { errno = EPROTO; return DNSMX_TEMP; }
	return DNSMX_NULLMX;
}

int dnsmx_parse_mx(const char *pkt, unsigned len, const char *qname_wire,
		   struct dnsmx_mx *mx, size_t max, size_t *n)
{
	char end[DNSMX_WIRE];
	unsigned links = 0;
	return parse_mx(pkt, len, qname_wire, end, &links, mx, max, n);
}

struct addrctx {
	struct dnsmx_addr *a;
	size_t max, n;
	int v6;
};

static int oneaddr(void *v, const char *pkt, unsigned len, const struct rr *r)
{
	struct addrctx *c = v;
	unsigned want = c->v6 ? 16 : 4;
	(void)len;
	if (r->rdlen != want) { errno = EPROTO; return -1; }
	if (c->n == c->max) return 0;
	struct dnsmx_addr *a = c->a + c->n++;
	memset(a->ip, 0, sizeof a->ip);
	memcpy(a->ip, pkt + r->rdpos, want);
	a->v6 = c->v6;
	return 0;
}

static int parse_addr(const char *pkt, unsigned len, const char *qname, int v6,
		      char end[DNSMX_WIRE], unsigned *links, struct dnsmx_addr *a, size_t max,
		      size_t *n)
{
	struct addrctx c = { a, max, 0, v6 };
	*n = 0;
	int r = walk(pkt, len, qname, v6 ? 28 : 1, end, links, oneaddr, &c);
	if (r == DNSMX_OK) *n = c.n;
	return r;
}

int dnsmx_parse_addr(const char *pkt, unsigned len, const char *qname_wire, const char qtype[2],
		     struct dnsmx_addr *a, size_t max, size_t *n)
{
	char end[DNSMX_WIRE];
	unsigned links = 0, t = get16(qtype);
	*n = 0;
	if (t != 1 && t != 28) { errno = EINVAL; return DNSMX_TEMP; }
	return parse_addr(pkt, len, qname_wire, t == 28, end, &links, a, max, n);
}

/* --- querying --- */

static unsigned limit;		/* dnsmx_timeout */
static struct taia stop;	/* when the current lookup call gives up, if limit */

void dnsmx_timeout(unsigned seconds)
{
	limit = seconds;
}

void dnsmx_abort(void)
{
	dns_transmit_free(&dns_resolve_tx);
}

static void start_clock(void)
{
	struct taia now;
	if (!limit) return;
	taia_now(&now);
	taia_uint(&stop, limit);
	taia_add(&stop, &stop, &now);
}

/* Query ids and source ports come from dns_random: unseeded, every process would use the
 * same sequence.  Seeded again in a forked child so parent and child differ. */
static int seed(void)
{
	static pid_t seeded;
	char s[128];
	if (seeded == getpid()) return 1;
	if (getentropy(s, sizeof s) != 0) return 0;
	dns_random_init(s);
	seeded = getpid();
	return 1;
}

/* libowfat's dns_resolve with the deadline of dnsmx_timeout.  0 with the answer in
 * dns_resolve_tx.packet, or -1 with errno. */
static int resolve(const char *q, const char qtype[2])
{
	static const char anyip[16];
	char servers[256];
	struct taia now, deadline;
	iopause_fd x[1];
	if (!seed()) return -1;
	if (dns_resolvconfip(servers) == -1) return -1;
	if (dns_transmit_start(&dns_resolve_tx, servers, 1, q, qtype, anyip) == -1) return -1;
	for (;;) {
		taia_now(&now);
		if (limit && !taia_less(&now, &stop)) {
			dns_transmit_free(&dns_resolve_tx);
			errno = ETIMEDOUT;
			return -1;
		}
		taia_uint(&deadline, 120);
		taia_add(&deadline, &deadline, &now);
		if (limit && taia_less(&stop, &deadline)) deadline = stop;
		dns_transmit_io(&dns_resolve_tx, x, &deadline);
		iopause(x, 1, &deadline, &now);
		int r = dns_transmit_get(&dns_resolve_tx, x, &now);
		if (r == -1) return -1;
		if (r == 1) return 0;
	}
}

/* One family's answer, kept to parse again. */
struct kept {
	char *pkt;
	unsigned len;
	char name[DNSMX_WIRE];
};

/* Query name/qtype and parse the answer with one of the parsers; when it ends in a CNAME
 * target without records, query that target, up to DNSMX_MAXCNAME links in all.  With k,
 * a DNSMX_OK answer is kept there (free k->pkt). */
struct want {
	const char *qtype;
	int (*parse)(struct want *w, const char *pkt, unsigned len, const char *qname,
		     char end[DNSMX_WIRE], unsigned *links, size_t *n);
	void *out;
	size_t max;
};

static int lookup(const char *wire, struct want *w, size_t *n, struct kept *k)
{
	char name[DNSMX_WIRE], end[DNSMX_WIRE];
	unsigned links = 0;
	memcpy(name, wire, dns_domain_length(wire));
	for (;;) {
		if (resolve(name, w->qtype) == -1) return DNSMX_TEMP;
		unsigned before = links;
		int r = w->parse(w, dns_resolve_tx.packet, dns_resolve_tx.packetlen, name, end, &links, n);
		if (r == DNSMX_OK && k) {
			/* ours now: dns_transmit_free won't free it */
			k->pkt = dns_resolve_tx.packet;
			k->len = dns_resolve_tx.packetlen;
			dns_resolve_tx.packet = 0;
			memcpy(k->name, name, dns_domain_length(name));
		}
		dns_transmit_free(&dns_resolve_tx);
		/* links only grows, and the parsers stop it past DNSMX_MAXCNAME */
		if (r != DNSMX_NODATA || links == before) return r;
		memcpy(name, end, dns_domain_length(end));
	}
}

static int want_mx(struct want *w, const char *pkt, unsigned len, const char *qname,
		   char end[DNSMX_WIRE], unsigned *links, size_t *n)
{
	return parse_mx(pkt, len, qname, end, links, w->out, w->max, n);
}

static int want_a(struct want *w, const char *pkt, unsigned len, const char *qname,
		  char end[DNSMX_WIRE], unsigned *links, size_t *n)
{
	return parse_addr(pkt, len, qname, 0, end, links, w->out, w->max, n);
}

static int want_aaaa(struct want *w, const char *pkt, unsigned len, const char *qname,
		     char end[DNSMX_WIRE], unsigned *links, size_t *n)
{
	return parse_addr(pkt, len, qname, 1, end, links, w->out, w->max, n);
}

/* Uniform in 0..n-1 from getentropy; 0 when entropy fails (the order stays as it was). */
static size_t randbelow(size_t n)
{
	uint32_t x, lim = (uint32_t)(0x100000000ULL - 0x100000000ULL % n);
	do {
		if (getentropy(&x, sizeof x) != 0) return 0;
	} while (lim && x >= lim);
	return x % n;
}

void dnsmx_shuffle(struct dnsmx_mx *mx, size_t n)
{
	for (size_t i = 0, j; i < n; i = j) {
		for (j = i + 1; j < n && mx[j].pref == mx[i].pref; j++) ;
		for (size_t k = j - i; k > 1; k--) {
			size_t r = randbelow(k);
			if (r == k - 1) continue;
			struct dnsmx_mx t = mx[i + k - 1];
			mx[i + k - 1] = mx[i + r];
			mx[i + r] = t;
		}
	}
}

int dnsmx_mx(const char *domain, struct dnsmx_mx *mx, size_t max, size_t *n)
{
	char wire[DNSMX_WIRE];
	struct want w = { DNS_T_MX, want_mx, mx, max };
	*n = 0;
	if (!dnsmx_wire(domain, wire)) return DNSMX_BADNAME;
	start_clock();
	int r = lookup(wire, &w, n, 0);
	if (r == DNSMX_OK) dnsmx_shuffle(mx, *n);
	else *n = 0;
	return r;
}

static size_t reparse(struct want *w, struct kept *k, void *out, size_t max)
{
	char end[DNSMX_WIRE];
	unsigned links = 0;
	size_t n = 0;
	w->out = out;
	w->max = max;
	if (k->pkt) (void)w->parse(w, k->pkt, k->len, k->name, end, &links, &n);
	return n;
}

int dnsmx_addrs(const char *host, unsigned flags, struct dnsmx_addr *a, size_t max, size_t *n)
{
	char wire[DNSMX_WIRE];
	int v4first = (flags & DNSMX_V4FIRST) != 0;
	int want6 = !(flags & DNSMX_V4ONLY), want4 = !(flags & DNSMX_V6ONLY);
	struct want w[2] = {
		{ v4first ? DNS_T_A : DNS_T_AAAA, v4first ? want_a : want_aaaa, a, max },
		{ v4first ? DNS_T_AAAA : DNS_T_A, v4first ? want_aaaa : want_a, a, max },
	};
	int on[2] = { v4first ? want4 : want6, v4first ? want6 : want4 };
	int r[2] = { DNSMX_NXDOMAIN, DNSMX_NXDOMAIN }, err[2] = { 0, 0 };
	size_t got[2] = { 0, 0 };
	struct kept k[2] = { { 0, 0, "" }, { 0, 0, "" } };
	*n = 0;
	if (!dnsmx_wire(host, wire)) return DNSMX_BADNAME;
	if (!want4 && !want6) { errno = EINVAL; return DNSMX_TEMP; }
	start_clock();
	for (int i = 0; i < 2; i++) {
		if (!on[i]) continue;
		r[i] = lookup(wire, &w[i], &got[i], &k[i]);
		err[i] = errno;
	}
	/* Both answers are kept: parse them again into their places, the first family
	 * leaving the second up to max/2 places. */
	size_t room = got[1] < max / 2 ? got[1] : max / 2;
	got[0] = reparse(&w[0], &k[0], a, got[0] < max - room ? got[0] : max - room);
	got[1] = reparse(&w[1], &k[1], a + got[0], max - got[0]);
	free(k[0].pkt);
	free(k[1].pkt);
	*n = got[0] + got[1];
	if (r[0] == DNSMX_OK || r[1] == DNSMX_OK) return DNSMX_OK;
	if (r[0] == DNSMX_NXDOMAIN && r[1] == DNSMX_NXDOMAIN) return DNSMX_NXDOMAIN;
	for (int i = 0; i < 2; i++)
		if (r[i] < 0) { errno = err[i]; return DNSMX_TEMP; }
	return DNSMX_NODATA;
}
