/* Unit tests: DNS answer parsing for delivery (dnsmx.h), on hand-built packets. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include "dnsmx.h"

#define T_A 1
#define T_CNAME 5
#define T_MX 15
#define T_AAAA 28
static const char QA[2] = { 0, 1 }, QAAAA[2] = { 0, 28 };

/* A packet under construction: header, one question, then answer records. */
struct pkt {
	char b[8192];
	unsigned n;
};

static void u8(struct pkt *p, unsigned v) { p->b[p->n++] = (char)v; }
static void u16(struct pkt *p, unsigned v) { u8(p, v >> 8 & 255); u8(p, v & 255); }
static void raw(struct pkt *p, const char *s, unsigned n) { memcpy(p->b + p->n, s, n); p->n += n; }

static unsigned wlen(const char *w)
{
	unsigned i = 0;
	while (w[i]) i += 1 + (unsigned char)w[i];
	return i + 1;
}

static void name(struct pkt *p, const char *dotted)
{
	char w[DNSMX_WIRE];
	if (!strcmp(dotted, ".")) { u8(p, 0); return; }
	ck_assert(dnsmx_wire(dotted, w));
	raw(p, w, wlen(w));
}

static void ptr(struct pkt *p, unsigned off) { u16(p, 0xc000 | off); }

/* Header with rcode, one question for qname/qtype (at offset 12). */
static void start(struct pkt *p, unsigned rcode, const char *qname, unsigned qtype)
{
	p->n = 0;
	u16(p, 0x1234);
	u16(p, 0x8180 | rcode);
	u16(p, 1); u16(p, 0); u16(p, 0); u16(p, 0);
	name(p, qname);
	u16(p, qtype); u16(p, 1);
}

static void count_answer(struct pkt *p)
{
	unsigned an = (unsigned char)p->b[6] << 8 | (unsigned char)p->b[7];
	an++;
	p->b[6] = (char)(an >> 8);
	p->b[7] = (char)an;
}

/* Record header after its owner; returns where rdlength goes. */
static unsigned rrhead(struct pkt *p, unsigned type)
{
	count_answer(p);
	u16(p, type); u16(p, 1); u16(p, 0); u16(p, 300);
	u16(p, 0);
	return p->n - 2;
}

static void rdend(struct pkt *p, unsigned at)
{
	unsigned l = p->n - at - 2;
	p->b[at] = (char)(l >> 8);
	p->b[at + 1] = (char)l;
}

static void mx(struct pkt *p, const char *owner, unsigned pref, const char *host)
{
	name(p, owner);
	unsigned at = rrhead(p, T_MX);
	u16(p, pref);
	name(p, host);
	rdend(p, at);
}

static void cname(struct pkt *p, const char *owner, const char *target)
{
	name(p, owner);
	unsigned at = rrhead(p, T_CNAME);
	name(p, target);
	rdend(p, at);
}

static void addr(struct pkt *p, const char *owner, const char *ip)
{
	unsigned char b[16];
	int v6 = strchr(ip, ':') != 0;
	ck_assert(inet_pton(v6 ? AF_INET6 : AF_INET, ip, b) == 1);
	name(p, owner);
	unsigned at = rrhead(p, v6 ? T_AAAA : T_A);
	raw(p, (char *)b, v6 ? 16 : 4);
	rdend(p, at);
}

static char qw[DNSMX_WIRE];
static const char *wire(const char *dotted) { ck_assert(dnsmx_wire(dotted, qw)); return qw; }

static struct dnsmx_mx m[16];
static size_t n;
static int pmx(struct pkt *p, const char *q, size_t max)
{
	memset(m, 0x55, sizeof m);
	n = 99;
	return dnsmx_parse_mx(p->b, p->n, wire(q), m, max, &n);
}

static struct dnsmx_addr a[16];
static int paddr(struct pkt *p, const char *q, const char t[2], size_t max)
{
	n = 99;
	return dnsmx_parse_addr(p->b, p->n, wire(q), t, a, max, &n);
}

static const char *ipstr(const struct dnsmx_addr *x)
{
	static char b[64];
	return inet_ntop(x->v6 ? AF_INET6 : AF_INET, x->ip, b, sizeof b);
}

START_TEST(wire_names)
{
	char w[DNSMX_WIRE];
	ck_assert(dnsmx_wire("Example.COM", w) && !memcmp(w, "\7Example\3COM", 13));
	ck_assert(dnsmx_wire("example.com.", w) && !memcmp(w, "\7example\3com", 13));
	ck_assert(dnsmx_wire("a", w) && !memcmp(w, "\1a", 3));
	ck_assert(dnsmx_wire("b\303\274cher.de", w) && !memcmp(w, "\7b\303\274cher\2de", 12));
	ck_assert(dnsmx_wire("a\\.b", w) && w[0] == 2 && w[3] == 1);	/* no escapes: "a\\" "b" */
	ck_assert(!dnsmx_wire("", w));
	ck_assert(!dnsmx_wire(".", w));
	ck_assert(!dnsmx_wire("a..b", w));
	ck_assert(!dnsmx_wire(".a", w));
	ck_assert(!dnsmx_wire("a..", w));
	char s[300];
	memset(s, 'x', 64); s[64] = 0;
	ck_assert(!dnsmx_wire(s, w));				/* label of 64 */
	s[63] = 0;
	ck_assert(dnsmx_wire(s, w));
	/* 253 characters (four labels of 63, 61, ...) is the longest name: 255 in wire form */
	memset(s, 'x', 253); s[253] = 0;
	s[63] = s[127] = s[191] = '.';
	ck_assert(dnsmx_wire(s, w) && wlen(w) == 255);
	s[253] = 'x'; s[254] = 0;
	ck_assert(!dnsmx_wire(s, w));
}
END_TEST

START_TEST(mx_sorted)
{
	struct pkt p;
	start(&p, 0, "example.com", T_MX);
	mx(&p, "example.com", 20, "B.Example.COM");
	mx(&p, "EXAMPLE.com", 10, "a.example.com.");
	mx(&p, "example.com", 30, "c.example.com");
	mx(&p, "example.com", 5, "d.example.com");
	ck_assert_int_eq(pmx(&p, "example.com", 16), DNSMX_OK);
	ck_assert_uint_eq(n, 4);
	ck_assert_uint_eq(m[0].pref, 5); ck_assert_str_eq(m[0].host, "d.example.com");
	ck_assert_uint_eq(m[1].pref, 10); ck_assert_str_eq(m[1].host, "a.example.com");
	ck_assert_uint_eq(m[2].pref, 20); ck_assert_str_eq(m[2].host, "b.example.com");
	ck_assert_uint_eq(m[3].pref, 30); ck_assert_str_eq(m[3].host, "c.example.com");
	/* more than fit: the most preferred */
	ck_assert_int_eq(pmx(&p, "example.com", 2), DNSMX_OK);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(m[0].host, "d.example.com");
	ck_assert_str_eq(m[1].host, "a.example.com");
	ck_assert_int_eq(pmx(&p, "example.com", 1), DNSMX_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(m[0].host, "d.example.com");
	ck_assert_int_eq(pmx(&p, "example.com", 0), DNSMX_OK);
	ck_assert_uint_eq(n, 0);
	/* the question's case doesn't matter, nor the owner's */
	ck_assert_int_eq(pmx(&p, "ExAmple.Com.", 16), DNSMX_OK);
	ck_assert_uint_eq(n, 4);
	/* pref 65535 and 0 */
	start(&p, 0, "e.org", T_MX);
	mx(&p, "e.org", 65535, "z.e.org");
	mx(&p, "e.org", 0, "y.e.org");
	ck_assert_int_eq(pmx(&p, "e.org", 16), DNSMX_OK);
	ck_assert_uint_eq(m[0].pref, 0); ck_assert_uint_eq(m[1].pref, 65535);
}
END_TEST

START_TEST(mx_ties)
{
	struct pkt p;
	start(&p, 0, "example.com", T_MX);
	mx(&p, "example.com", 10, "a.example.com");
	mx(&p, "example.com", 10, "b.example.com");
	mx(&p, "example.com", 5, "first.example.com");
	mx(&p, "example.com", 10, "c.example.com");
	mx(&p, "example.com", 20, "last.example.com");
	ck_assert_int_eq(pmx(&p, "example.com", 16), DNSMX_OK);
	ck_assert_uint_eq(n, 5);
	/* the parser keeps packet order among ties */
	ck_assert_str_eq(m[1].host, "a.example.com");
	ck_assert_str_eq(m[2].host, "b.example.com");
	ck_assert_str_eq(m[3].host, "c.example.com");
	/* the shuffle: every order of the three appears, the others never move */
	struct dnsmx_mx base[5];
	memcpy(base, m, sizeof base);
	int seen[3][3] = { { 0 } };
	for (int run = 0; run < 600; run++) {
		struct dnsmx_mx s[5];
		memcpy(s, base, sizeof s);
		dnsmx_shuffle(s, 5);
		ck_assert_str_eq(s[0].host, "first.example.com");
		ck_assert_str_eq(s[4].host, "last.example.com");
		for (int i = 1; i <= 3; i++) {
			ck_assert_uint_eq(s[i].pref, 10);
			seen[i - 1][s[i].host[0] - 'a']++;
		}
	}
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 3; j++) ck_assert_int_gt(seen[i][j], 100);	/* ~200 each */
	/* two records: both orders */
	int ab = 0, ba = 0;
	for (int run = 0; run < 200; run++) {
		struct dnsmx_mx s[2];
		memcpy(s, base + 1, sizeof s);
		dnsmx_shuffle(s, 2);
		if (s[0].host[0] == 'a') ab++; else ba++;
	}
	ck_assert_int_gt(ab, 0);
	ck_assert_int_gt(ba, 0);
	dnsmx_shuffle(base, 0);
}
END_TEST

START_TEST(mx_null)
{
	struct pkt p;
	start(&p, 0, "example.com", T_MX);
	mx(&p, "example.com", 0, ".");
	ck_assert_int_eq(pmx(&p, "example.com", 16), DNSMX_NULLMX);
	ck_assert_uint_eq(n, 0);
	start(&p, 0, "example.com", T_MX);
	mx(&p, "example.com", 10, ".");				/* any preference */
	ck_assert_int_eq(pmx(&p, "example.com", 16), DNSMX_NULLMX);
	/* among other MX records it is ignored */
	start(&p, 0, "example.com", T_MX);
	mx(&p, "example.com", 0, ".");
	mx(&p, "example.com", 10, "mx.example.com");
	ck_assert_int_eq(pmx(&p, "example.com", 16), DNSMX_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(m[0].host, "mx.example.com");
	/* a null MX for another owner doesn't count */
	start(&p, 0, "example.com", T_MX);
	mx(&p, "other.com", 0, ".");
	ck_assert_int_eq(pmx(&p, "example.com", 16), DNSMX_NODATA);
}
END_TEST

START_TEST(rcodes)
{
	struct pkt p;
	start(&p, 3, "nosuch.example", T_MX);
	ck_assert_int_eq(pmx(&p, "nosuch.example", 16), DNSMX_NXDOMAIN);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(paddr(&p, "nosuch.example", QA, 16), DNSMX_NXDOMAIN);
	/* NXDOMAIN is about the chain's end (RFC 6604): the CNAME doesn't make it exist */
	start(&p, 3, "alias.example", T_MX);
	cname(&p, "alias.example", "gone.example");
	ck_assert_int_eq(pmx(&p, "alias.example", 16), DNSMX_NXDOMAIN);
	/* NODATA: empty answer, other types, other owners */
	start(&p, 0, "example.com", T_MX);
	ck_assert_int_eq(pmx(&p, "example.com", 16), DNSMX_NODATA);
	ck_assert_uint_eq(n, 0);
	addr(&p, "example.com", "192.0.2.1");
	ck_assert_int_eq(pmx(&p, "example.com", 16), DNSMX_NODATA);
	ck_assert_int_eq(paddr(&p, "example.com", QAAAA, 16), DNSMX_NODATA);
	/* every other rcode is a temporary failure, whatever the answer holds */
	for (unsigned rc = 1; rc < 16; rc++) {
		if (rc == 3) continue;
		start(&p, rc, "example.com", T_MX);
		mx(&p, "example.com", 10, "mx.example.com");
		errno = 0;
		ck_assert_int_eq(pmx(&p, "example.com", 16), DNSMX_TEMP);
		ck_assert_int_eq(errno, EAGAIN);
		ck_assert_uint_eq(n, 0);
	}
}
END_TEST

START_TEST(owners)
{
	struct pkt p;
	start(&p, 0, "example.com", T_MX);
	mx(&p, "evil.com", 1, "evil.mx.com");
	mx(&p, "com", 1, "evil2.mx.com");
	mx(&p, "www.example.com", 1, "evil3.mx.com");
	mx(&p, "Example.Com", 10, "mx.example.com");
	ck_assert_int_eq(pmx(&p, "example.com", 16), DNSMX_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(m[0].host, "mx.example.com");
	/* another class than IN */
	start(&p, 0, "example.com", T_MX);
	name(&p, "example.com");
	count_answer(&p);
	u16(&p, T_MX); u16(&p, 3); u16(&p, 0); u16(&p, 60); u16(&p, 7);
	u16(&p, 10); raw(&p, "\1x\1y\0", 5);
	ck_assert_int_eq(pmx(&p, "example.com", 16), DNSMX_NODATA);
	/* records in the authority section are not answers */
	start(&p, 0, "example.com", T_MX);
	mx(&p, "example.com", 10, "mx.example.com");
	p.b[7] = 0; p.b[9] = 1;					/* an 0, ns 1 */
	ck_assert_int_eq(pmx(&p, "example.com", 16), DNSMX_NODATA);
	/* no question section at all is fine */
	p.n = 0;
	u16(&p, 1); u16(&p, 0x8180); u16(&p, 0); u16(&p, 0); u16(&p, 0); u16(&p, 0);
	mx(&p, "example.com", 7, "mx.example.com");
	ck_assert_int_eq(pmx(&p, "example.com", 16), DNSMX_OK);
	ck_assert_uint_eq(m[0].pref, 7);
}
END_TEST

START_TEST(bad_hosts)
{
	struct pkt p;
	static const char *bad[] = { "a b.example", "a\\b.example", "a\177.example", "a\t.example" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		start(&p, 0, "example.com", T_MX);
		mx(&p, "example.com", 10, bad[i]);
		errno = 0;
		ck_assert_int_eq(pmx(&p, "example.com", 16), DNSMX_TEMP);
		ck_assert_int_eq(errno, EPROTO);
		mx(&p, "example.com", 20, "good.example");
		ck_assert_int_eq(pmx(&p, "example.com", 16), DNSMX_OK);
		ck_assert_uint_eq(n, 1);
		ck_assert_str_eq(m[0].host, "good.example");
	}
	/* a dot inside a label */
	start(&p, 0, "example.com", T_MX);
	name(&p, "example.com");
	unsigned at = rrhead(&p, T_MX);
	u16(&p, 10); raw(&p, "\3a.b\7example\0", 13);
	rdend(&p, at);
	ck_assert_int_eq(pmx(&p, "example.com", 16), DNSMX_TEMP);
	/* UTF-8 is bytes, and kept */
	start(&p, 0, "example.com", T_MX);
	mx(&p, "example.com", 10, "M\303\234X.example");
	ck_assert_int_eq(pmx(&p, "example.com", 16), DNSMX_OK);
	ck_assert_str_eq(m[0].host, "m\303\234x.example");
	/* the longest host fits */
	char h[254];
	memset(h, 'X', 253); h[253] = 0;
	h[63] = h[127] = h[191] = '.';
	start(&p, 0, "example.com", T_MX);
	mx(&p, "example.com", 10, h);
	ck_assert_int_eq(pmx(&p, "example.com", 16), DNSMX_OK);
	ck_assert_uint_eq(strlen(m[0].host), 253);
	ck_assert_int_eq(m[0].host[0], 'x');
}
END_TEST

START_TEST(malformed)
{
	struct pkt p;
	start(&p, 0, "example.com", T_MX);
	mx(&p, "example.com", 10, "a.example.com");
	mx(&p, "example.com", 20, "b.example.com");
	ck_assert_int_eq(pmx(&p, "example.com", 16), DNSMX_OK);
	/* every cut short form */
	unsigned full = p.n;
	for (p.n = 0; p.n < full; p.n++) {
		errno = 0;
		ck_assert_int_eq(pmx(&p, "example.com", 16), DNSMX_TEMP);
		ck_assert_int_eq(errno, EPROTO);
		ck_assert_uint_eq(n, 0);
	}
	p.n = full;
	/* TC */
	p.b[2] |= 2;
	ck_assert_int_eq(pmx(&p, "example.com", 16), DNSMX_TEMP);
	p.b[2] &= ~2;
	/* more answers announced than there are */
	p.b[7] = 3;
	ck_assert_int_eq(pmx(&p, "example.com", 16), DNSMX_TEMP);
	p.b[7] = 2;
	/* rdlength past the end */
	start(&p, 0, "example.com", T_MX);
	mx(&p, "example.com", 10, "a.example.com");
	p.b[p.n - 18]++;	/* rdlength's low byte, before 17 bytes of rdata */
	ck_assert_int_eq(pmx(&p, "example.com", 16), DNSMX_TEMP);
	/* MX rdata too short, and a name running past its rdlength */
	start(&p, 0, "example.com", T_MX);
	name(&p, "example.com");
	unsigned at = rrhead(&p, T_MX);
	u16(&p, 10);
	rdend(&p, at);
	ck_assert_int_eq(pmx(&p, "example.com", 16), DNSMX_TEMP);
	start(&p, 0, "example.com", T_MX);
	name(&p, "example.com");
	at = rrhead(&p, T_MX);
	u16(&p, 10); name(&p, "mx.example.com");
	rdend(&p, at);
	p.b[at + 1] -= 3;
	mx(&p, "example.com", 20, "b.example.com");		/* so the packet still ends well */
	ck_assert_int_eq(pmx(&p, "example.com", 16), DNSMX_TEMP);
	/* a label length of 64..191 */
	start(&p, 0, "example.com", T_MX);
	name(&p, "example.com");
	at = rrhead(&p, T_MX);
	u16(&p, 10); u8(&p, 64); raw(&p, "x", 1);
	rdend(&p, at);
	ck_assert_int_eq(pmx(&p, "example.com", 16), DNSMX_TEMP);
	/* A and AAAA of the wrong size */
	start(&p, 0, "h.example", T_A);
	name(&p, "h.example");
	at = rrhead(&p, T_A);
	raw(&p, "\1\2\3", 3);
	rdend(&p, at);
	ck_assert_int_eq(paddr(&p, "h.example", QA, 16), DNSMX_TEMP);
	start(&p, 0, "h.example", T_AAAA);
	name(&p, "h.example");
	at = rrhead(&p, T_AAAA);
	raw(&p, "\1\2\3\4", 4);
	rdend(&p, at);
	ck_assert_int_eq(paddr(&p, "h.example", QAAAA, 16), DNSMX_TEMP);
	/* a question cut short */
	p.n = 12 + 5;
	p.b[7] = 0;
	ck_assert_int_eq(paddr(&p, "h.example", QA, 16), DNSMX_TEMP);
	/* not A or AAAA */
	ck_assert_int_eq(dnsmx_parse_addr(p.b, p.n, wire("h.example"), "\0\17", a, 16, &n), DNSMX_TEMP);
	ck_assert_int_eq(errno, EINVAL);
}
END_TEST

START_TEST(compression)
{
	struct pkt p;
	/* owner and target compressed against the question (offset 12) */
	start(&p, 0, "example.com", T_MX);
	unsigned first = p.n;
	ptr(&p, 12);
	unsigned at = rrhead(&p, T_MX);
	u16(&p, 10); raw(&p, "\2mx", 3); ptr(&p, 12);
	rdend(&p, at);
	ptr(&p, 12);
	at = rrhead(&p, T_MX);
	u16(&p, 20); raw(&p, "\4mail", 5); ptr(&p, first + 14);	/* -> "mx" + pointer */
	rdend(&p, at);
	ck_assert_int_eq(pmx(&p, "example.com", 16), DNSMX_OK);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(m[0].host, "mx.example.com");
	ck_assert_str_eq(m[1].host, "mail.mx.example.com");
	/* a pointer to itself, as owner: refused, no hang */
	start(&p, 0, "example.com", T_MX);
	ptr(&p, p.n);
	rrhead(&p, T_MX);
	ck_assert_int_eq(pmx(&p, "example.com", 16), DNSMX_TEMP);
	/* two pointers to each other, in an MX target */
	start(&p, 0, "example.com", T_MX);
	ptr(&p, 12);
	at = rrhead(&p, T_MX);
	u16(&p, 10);
	unsigned here = p.n;
	ptr(&p, here + 2); ptr(&p, here);
	rdend(&p, at);
	ck_assert_int_eq(pmx(&p, "example.com", 16), DNSMX_TEMP);
	/* a loop through labels: "x" then a pointer back before it */
	start(&p, 0, "example.com", T_MX);
	ptr(&p, 12);
	at = rrhead(&p, T_MX);
	u16(&p, 10);
	here = p.n;
	raw(&p, "\1x", 2); ptr(&p, here);
	rdend(&p, at);
	ck_assert_int_eq(pmx(&p, "example.com", 16), DNSMX_TEMP);
	/* a pointer past the end */
	start(&p, 0, "example.com", T_MX);
	ptr(&p, 12);
	at = rrhead(&p, T_MX);
	u16(&p, 10); ptr(&p, 0x3fff);
	rdend(&p, at);
	ck_assert_int_eq(pmx(&p, "example.com", 16), DNSMX_TEMP);
	/* a compressed owner in the question */
	p.n = 0;
	u16(&p, 1); u16(&p, 0x8180); u16(&p, 1); u16(&p, 1); u16(&p, 0); u16(&p, 0);
	ptr(&p, 12); u16(&p, 15); u16(&p, 1);
	ck_assert_int_eq(pmx(&p, "example.com", 16), DNSMX_TEMP);
}
END_TEST

START_TEST(cname_chain)
{
	struct pkt p;
	/* in order */
	start(&p, 0, "alias.example", T_MX);
	cname(&p, "alias.example", "c1.example");
	cname(&p, "C1.example", "real.example");
	mx(&p, "real.example", 10, "mx.real.example");
	mx(&p, "alias.example", 1, "wrong.example");		/* beside a CNAME: ignored */
	ck_assert_int_eq(pmx(&p, "alias.example", 16), DNSMX_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(m[0].host, "mx.real.example");
	/* any order, with a CNAME of a stranger */
	start(&p, 0, "alias.example", T_MX);
	mx(&p, "real.example", 10, "mx.real.example");
	cname(&p, "stranger.example", "alias.example");
	cname(&p, "c1.example", "real.example");
	cname(&p, "alias.example", "c1.example");
	ck_assert_int_eq(pmx(&p, "alias.example", 16), DNSMX_OK);
	ck_assert_str_eq(m[0].host, "mx.real.example");
	/* the chain's end has no MX: NODATA (the lookup then asks for the end) */
	start(&p, 0, "alias.example", T_MX);
	cname(&p, "alias.example", "real.example");
	mx(&p, "alias.example", 10, "mx.example");
	ck_assert_int_eq(pmx(&p, "alias.example", 16), DNSMX_NODATA);
	/* a null MX at the end of a chain */
	start(&p, 0, "alias.example", T_MX);
	cname(&p, "alias.example", "real.example");
	mx(&p, "real.example", 0, ".");
	ck_assert_int_eq(pmx(&p, "alias.example", 16), DNSMX_NULLMX);
	/* to addresses */
	start(&p, 0, "www.example", T_A);
	cname(&p, "www.example", "host.example");
	addr(&p, "host.example", "192.0.2.7");
	addr(&p, "host.example", "2001:db8::7");
	addr(&p, "www.example", "192.0.2.66");			/* beside a CNAME: ignored */
	addr(&p, "host.example", "192.0.2.8");
	ck_assert_int_eq(paddr(&p, "www.example", QA, 16), DNSMX_OK);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(ipstr(&a[0]), "192.0.2.7");
	ck_assert_str_eq(ipstr(&a[1]), "192.0.2.8");
	ck_assert_int_eq(paddr(&p, "www.example", QAAAA, 16), DNSMX_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(ipstr(&a[0]), "2001:db8::7");
	ck_assert_int_eq(a[0].v6, 1);
	/* a CNAME whose target name is broken */
	start(&p, 0, "alias.example", T_MX);
	name(&p, "alias.example");
	unsigned at = rrhead(&p, T_CNAME);
	u8(&p, 70);
	rdend(&p, at);
	ck_assert_int_eq(pmx(&p, "alias.example", 16), DNSMX_TEMP);
}
END_TEST

static void chain(struct pkt *p, int links, int loop)
{
	char o[32], t[32];
	start(p, 0, "c0.example", T_MX);
	for (int i = 0; i < links; i++) {
		snprintf(o, sizeof o, "c%d.example", i);
		snprintf(t, sizeof t, "c%d.example", loop && i == links - 1 ? 0 : i + 1);
		cname(p, o, t);
	}
	snprintf(o, sizeof o, "c%d.example", links);
	mx(p, o, 10, "mx.example");
}

START_TEST(cname_limits)
{
	struct pkt p;
	chain(&p, DNSMX_MAXCNAME, 0);
	ck_assert_int_eq(pmx(&p, "c0.example", 16), DNSMX_OK);
	ck_assert_str_eq(m[0].host, "mx.example");
	chain(&p, DNSMX_MAXCNAME + 1, 0);
	errno = 0;
	ck_assert_int_eq(pmx(&p, "c0.example", 16), DNSMX_TEMP);
	ck_assert_int_eq(errno, ELOOP);
	chain(&p, 3, 1);					/* c0 -> c1 -> c2 -> c0 */
	ck_assert_int_eq(pmx(&p, "c0.example", 16), DNSMX_TEMP);
	ck_assert_int_eq(errno, ELOOP);
	chain(&p, 1, 1);					/* c0 -> c0 */
	ck_assert_int_eq(pmx(&p, "c0.example", 16), DNSMX_TEMP);
}
END_TEST

START_TEST(addrs_mixed)
{
	struct pkt p;
	start(&p, 0, "h.example", T_AAAA);
	addr(&p, "h.example", "2001:db8::1");
	addr(&p, "h.example", "192.0.2.1");
	addr(&p, "H.EXAMPLE", "2001:db8::2");
	addr(&p, "other.example", "2001:db8::666");
	addr(&p, "h.example", "192.0.2.2");
	ck_assert_int_eq(paddr(&p, "h.example", QAAAA, 16), DNSMX_OK);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(ipstr(&a[0]), "2001:db8::1");
	ck_assert_str_eq(ipstr(&a[1]), "2001:db8::2");
	ck_assert(a[0].v6 && a[1].v6);
	ck_assert_int_eq(paddr(&p, "h.example", QA, 16), DNSMX_OK);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(ipstr(&a[0]), "192.0.2.1");
	ck_assert_str_eq(ipstr(&a[1]), "192.0.2.2");
	ck_assert(!a[0].v6 && !a[1].v6);
	for (int i = 4; i < 16; i++) ck_assert_int_eq(a[0].ip[i], 0);
	ck_assert_int_eq(paddr(&p, "h.example", QA, 1), DNSMX_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(paddr(&p, "nothere.example", QA, 16), DNSMX_NODATA);
	ck_assert_uint_eq(n, 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("dnsmx");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, wire_names);
	tcase_add_test(tc, mx_sorted);
	tcase_add_test(tc, mx_ties);
	tcase_add_test(tc, mx_null);
	tcase_add_test(tc, rcodes);
	tcase_add_test(tc, owners);
	tcase_add_test(tc, bad_hosts);
	tcase_add_test(tc, malformed);
	tcase_add_test(tc, compression);
	tcase_add_test(tc, cname_chain);
	tcase_add_test(tc, cname_limits);
	tcase_add_test(tc, addrs_mixed);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int f = srunner_ntests_failed(sr);
	srunner_free(sr);
	return f != 0;
}
