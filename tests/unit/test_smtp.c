/* Unit tests: the SMTP server's line reader, reply buffer and argument parsers (smtp.h). */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "smtp.h"

/* ---- smtp_parse_path ---- */

static struct smtp_path p;
static const char *rest, *why;

static int parse_n(const char *s, size_t n, int nodomain_ok)
{
	rest = 0;
	why = 0;
	return smtp_parse_path(s, n, nodomain_ok, &p, &rest, &why);
}
static int parse(const char *s) { return parse_n(s, strlen(s), 0); }
static int parse_nd(const char *s) { return parse_n(s, strlen(s), 1); }

/* Fails with a reply text whose enhanced code's detail starts with code. */
#define BAD(s, code) do {							\
	ck_assert_msg(parse(s) == -1, "accepted: %s", s);			\
	ck_assert_ptr_nonnull(why);						\
	ck_assert_msg(!strncmp(why, code, strlen(code)), "%s: why \"%s\", want %s", s, why, code); \
} while (0)
#define GOOD(s, want) do {							\
	ck_assert_msg(parse(s) == 0, "refused: %s (%s)", s, why ? why : "");	\
	ck_assert_str_eq(p.addr, want);						\
	ck_assert_uint_eq(p.len, strlen(want));					\
	ck_assert_ptr_eq(rest, (const char *)(s) + strlen(s));			\
} while (0)

/* A domain of exactly n bytes: labels of at most 63 joined by dots. */
static char *mkdomain(char *buf, size_t n)
{
	size_t i = 0;
	while (n) {
		size_t l = n <= 63 ? n : (n - 2 < 63 ? n - 2 : 63);
		memset(buf + i, 'a', l);
		i += l;
		n -= l;
		if (n) { buf[i++] = '.'; n--; }
	}
	buf[i] = 0;
	return buf;
}

START_TEST(path_null)
{
	const char *s = "<>";
	ck_assert_int_eq(parse(s), 0);
	ck_assert_uint_eq(p.len, 0);
	ck_assert_uint_eq(p.at, 0);
	ck_assert_str_eq(p.addr, "");
	ck_assert_int_eq(p.eightbit, 0);
	ck_assert_ptr_eq(rest, s + 2);
	s = "<> SIZE=10";
	ck_assert_int_eq(parse(s), 0);
	ck_assert_ptr_eq(rest, s + 2);
	ck_assert_str_eq(rest, " SIZE=10");
	ck_assert_int_eq(parse_nd("<>"), 0);
	ck_assert_uint_eq(p.len, 0);
}
END_TEST

START_TEST(path_plain)
{
	GOOD("<user@example.com>", "user@example.com");
	ck_assert_uint_eq(p.at, 4);
	ck_assert_int_eq(p.eightbit, 0);
	/* The domain is lowercased, the local part keeps its case. */
	GOOD("<John.Smith@Mail.EXAMPLE.Org>", "John.Smith@mail.example.org");
	ck_assert_uint_eq(p.at, 10);
	GOOD("<a!#$%&'*+-/=?^_`{|}~z@x-y.z9>", "a!#$%&'*+-/=?^_`{|}~z@x-y.z9");
	GOOD("<a.b.c@d>", "a.b.c@d");			/* single dots are fine */
	GOOD("<u@a-b.c>", "u@a-b.c");			/* inner hyphen is fine */
	GOOD("<u@123.45>", "u@123.45");
	/* Parameters after the path: rest points at them. */
	const char *s = "<a@b> BODY=8BITMIME";
	ck_assert_int_eq(parse(s), 0);
	ck_assert_ptr_eq(rest, s + 5);
	ck_assert_str_eq(p.addr, "a@b");
	/* n bounds the input: the '>' past n is not seen. */
	ck_assert_int_eq(parse_n("<a@b>", 4, 0), -1);
	ck_assert_int_eq(parse_n("<a@b>", 0, 0), -1);
	ck_assert_int_eq(parse_n("<>", 1, 0), -1);
}
END_TEST

START_TEST(path_quoted)
{
	/* Quoting is removed; backslash escapes the next character. */
	GOOD("<\"a b\"@x.org>", "a b@x.org");
	ck_assert_uint_eq(p.at, 3);
	GOOD("<\"a\\\"b\\\\c\"@x.org>", "a\"b\\c@x.org");
	ck_assert_uint_eq(p.at, 5);
	GOOD("<\"\\a\\b\"@X.Org>", "ab@x.org");
	/* An '@' inside the quotes: at is the one that starts the domain. */
	GOOD("<\"a@b\"@c.d>", "a@b@c.d");
	ck_assert_uint_eq(p.at, 3);
	ck_assert_int_eq(p.addr[p.at], '@');
	GOOD("<\"user@evil.example\"@good.example>", "user@evil.example@good.example");
	ck_assert_uint_eq(p.at, 17);
	/* Dots anywhere are fine inside quotes. */
	GOOD("<\".a..b.\"@c>", ".a..b.@c");
	ck_assert_int_eq(p.eightbit, 0);
}
END_TEST

START_TEST(path_route_literal)
{
	/* A source route is dropped. */
	GOOD("<@r1.example,@r2.example:u@d.example>", "u@d.example");
	ck_assert_uint_eq(p.at, 1);
	GOOD("<@[192.0.2.1]:u@d>", "u@d");
	BAD("<@r1 x:u@d>", "5.1.3 syntax: bad source route");	/* space in the route */
	BAD("<@r1.example>", "5.1.3 syntax: bad source route");	/* no ':' */
	BAD("<@r1.example", "5.1.3 syntax: bad source route");	/* the input ends in the route */
	BAD("<@r1;x:u@d>", "5.1.3 syntax: bad source route");
	/* Address literals. */
	GOOD("<u@[192.0.2.1]>", "u@[192.0.2.1]");
	ck_assert_uint_eq(p.at, 1);
	GOOD("<u@[IPv6:2001:DB8::1]>", "u@[ipv6:2001:db8::1]");
	BAD("<u@[]>", "5.1.2");
	BAD("<u@[1.2.3.4>", "5.1.2");
	BAD("<u@[1.2 3.4]>", "5.1.2");
	BAD("<u@[1.2[3.4]>", "5.1.2");
	BAD("<u@[1.2\\3.4]>", "5.1.2");
	BAD("<u@[1.2.3.4]x>", "5.1.2");
}
END_TEST

START_TEST(path_literal_at)
{
	/* BUG: an '@' inside an address literal is accepted, so p.at is no longer the last '@'
	 * in addr, and everything downstream (addr_at in smtpd's local_exists, tern-send,
	 * tern-local) splits the stored address somewhere else than rcpt_policy did. */
	BAD("<u@[a@b]>", "5.1.2");
	BAD("<\"x@y\"@[IPv6:a@b.example]>", "5.1.2");
}
END_TEST

START_TEST(path_utf8)
{
	GOOD("<j\xc3\xb6rg@example.com>", "j\xc3\xb6rg@example.com");
	ck_assert_int_eq(p.eightbit, 1);
	GOOD("<jorg@\xc3\xa9xample.COM>", "jorg@\xc3\xa9xample.com");
	ck_assert_int_eq(p.eightbit, 1);
	GOOD("<\"j\xc3\xb6 rg\"@example.com>", "j\xc3\xb6 rg@example.com");
	ck_assert_int_eq(p.eightbit, 1);
	GOOD("<jorg@example.com>", "jorg@example.com");
	ck_assert_int_eq(p.eightbit, 0);
	/* 8-bit bytes in a dropped source route do not count. */
	GOOD("<@r\xc3\xa9:jorg@example.com>", "jorg@example.com");
	ck_assert_int_eq(p.eightbit, 0);
}
END_TEST

START_TEST(path_syntax_errors)
{
	BAD("u@d", "5.5.4");			/* no brackets */
	BAD("", "5.5.4");
	BAD(" <u@d>", "5.5.4");
	BAD("<u@d", "5.1.2");			/* missing '>' */
	BAD("<u@d.example", "5.1.2");
	BAD("<u>", "5.1.3 syntax: the address needs a domain");
	BAD("<\"\"@d>", "5.1.3 syntax: bad local part");	/* empty local parts */
	BAD("< u@d>", "5.1.3 syntax: bad local part");
	BAD("<@:@d>", "5.1.3 syntax: bad local part");
	BAD("<u@>", "5.1.2");
	BAD("<u@d >", "5.1.2");
	BAD("<.u@d>", "5.1.3 syntax: bad local part");	/* dots */
	BAD("<u.@d>", "5.1.3 syntax: bad local part");
	BAD("<u..v@d>", "5.1.3 syntax: bad local part");
	BAD("<.@d>", "5.1.3 syntax: bad local part");
	BAD("<u@d.>", "5.1.2");
	BAD("<u@.d>", "5.1.2");
	BAD("<u@d..e>", "5.1.2");			/* empty label */
	BAD("<u@-d.e>", "5.1.2");			/* hyphens */
	BAD("<u@d-.e>", "5.1.2");
	BAD("<u@d.-e>", "5.1.2");
	BAD("<u@d_e>", "5.1.2");
	BAD("<a@b@c>", "5.1.2");			/* unquoted '@' */
	BAD("<a@b@c.d>", "5.1.2");
	BAD("<\"abc@d>", "5.1.3 syntax: bad local part");	/* unterminated quote */
	BAD("<\"abc\\", "5.1.3 syntax: bad local part");
	BAD("<\"abc", "5.1.3 syntax: bad local part");
	BAD("<\"abc\"", "5.1.3 syntax: bad local part");
	BAD("<\"a\"b@d>", "5.1.3 syntax: bad local part");	/* junk after the quotes */
	BAD("<a(b)@d>", "5.1.3 syntax: bad local part");
	BAD("<a\"b@d>", "5.1.3 syntax: bad local part");
}
END_TEST

START_TEST(path_control_bytes)
{
	BAD("<u\x01v@d>", "5.1.3");
	BAD("<u\tv@d>", "5.1.3");
	BAD("<u\x7fv@d>", "5.1.3");
	BAD("<u@d\x01>", "5.1.2");
	BAD("<u@d\x7f>", "5.1.2");
	BAD("<u@d\r>", "5.1.2");
	BAD("<\"a\x01\"@d>", "5.1.3");
	BAD("<\"a\x7f\"@d>", "5.1.3");
	BAD("<\"a\\\x01\"@d>", "5.1.3");		/* escaping does not make it acceptable */
	BAD("<\"a\\\x7f\"@d>", "5.1.3");
	BAD("<\"a\r\n\"@d>", "5.1.3");
	BAD("<u@[1.2\x01.3]>", "5.1.2");
	BAD("<u@[1.2\x7f.3]>", "5.1.2");
	/* NUL bytes, with explicit lengths. */
	ck_assert_int_eq(parse_n("<u\0v@d>", 7, 0), -1);
	ck_assert_int_eq(parse_n("<u@d\0e>", 7, 0), -1);
	ck_assert_int_eq(parse_n("<\"u\0v\"@d>", 9, 0), -1);
	ck_assert_int_eq(parse_n("<\"u\\\0v\"@d>", 10, 0), -1);
	ck_assert_int_eq(parse_n("<u@d>\0", 6, 0), 0);	/* after the path: not ours */
}
END_TEST

START_TEST(path_lengths)
{
	char s[1200], d[600], l[100];
	/* Local part: 64 octets as sent (RFC 5321 4.5.3.1.1), quotes and backslashes
	 * included. */
	memset(l, 'x', 64); l[64] = 0;
	snprintf(s, sizeof s, "<%s@d>", l);
	ck_assert_int_eq(parse(s), 0);
	ck_assert_uint_eq(p.at, 64);
	ck_assert_uint_eq(p.len, 66);
	snprintf(s, sizeof s, "<\"%s\"@d>", l);
	BAD(s, "5.1.3 local part too long");
	l[62] = 0;
	snprintf(s, sizeof s, "<\"%s\"@d>", l);
	ck_assert_int_eq(parse(s), 0);
	ck_assert_uint_eq(p.at, 62);
	memset(l, 'x', 65); l[65] = 0;
	snprintf(s, sizeof s, "<%s@d>", l);
	BAD(s, "5.1.3 local part too long");
	snprintf(s, sizeof s, "<\"%s\"@d>", l);
	BAD(s, "5.1.3 local part too long");
	snprintf(s, sizeof s, "<%s>", l);
	ck_assert_int_eq(parse_nd(s), -1);
	/* Escapes count as sent: 31 of them and the quotes make 64, 32 are too many. */
	char *q = s;
	q += sprintf(q, "<\"");
	for (int i = 0; i < 31; i++) q += sprintf(q, "\\x");
	sprintf(q, "\"@d>");
	ck_assert_int_eq(parse(s), 0);
	ck_assert_uint_eq(p.at, 31);
	q = s;
	q += sprintf(q, "<\"");
	for (int i = 0; i < 32; i++) q += sprintf(q, "\\x");
	sprintf(q, "\"@d>");
	BAD(s, "5.1.3 local part too long");

	/* Labels: 63 is the limit. */
	memset(l, 'a', 63); l[63] = 0;
	snprintf(s, sizeof s, "<u@%s.com>", l);
	ck_assert_int_eq(parse(s), 0);
	snprintf(s, sizeof s, "<u@b.%s>", l);
	ck_assert_int_eq(parse(s), 0);
	memset(l, 'a', 64); l[64] = 0;
	snprintf(s, sizeof s, "<u@%s.com>", l);
	BAD(s, "5.1.2");
	snprintf(s, sizeof s, "<u@b.%s>", l);
	BAD(s, "5.1.2");
	snprintf(s, sizeof s, "<u@%s>", l);
	BAD(s, "5.1.2");

	/* The whole path, brackets included: 256. */
	memset(l, 'x', 64); l[64] = 0;
	snprintf(s, sizeof s, "<%s@%s>", l, mkdomain(d, 189));
	ck_assert_uint_eq(strlen(s), 256);
	ck_assert_int_eq(parse(s), 0);
	ck_assert_uint_eq(p.len, 254);
	ck_assert_uint_eq(strlen(p.addr), 254);
	snprintf(s, sizeof s, "<%s@%s>", l, mkdomain(d, 190));
	ck_assert_uint_eq(strlen(s), 257);
	BAD(s, "5.1.3 address too long");
	snprintf(s, sizeof s, "<u@%s>", mkdomain(d, 252));
	ck_assert_uint_eq(strlen(s), 256);
	ck_assert_int_eq(parse(s), 0);
	snprintf(s, sizeof s, "<u@%s>", mkdomain(d, 253));
	BAD(s, "5.1.3 address too long");
	/* A source route counts too: it is part of the path as sent. */
	snprintf(s, sizeof s, "<@a.b,@c.d:u@%s>", mkdomain(d, 242));
	ck_assert_uint_eq(strlen(s), 256);
	ck_assert_int_eq(parse(s), 0);
	snprintf(s, sizeof s, "<@a.b,@c.d:u@%s>", mkdomain(d, 243));
	BAD(s, "5.1.3 address too long");
	/* The domain: 255. */
	snprintf(s, sizeof s, "<u@%s>", mkdomain(d, 256));
	BAD(s, "5.1.2 domain too long");
	snprintf(s, sizeof s, "<u@%s>", mkdomain(d, 500));
	BAD(s, "5.1.2 domain too long");
}
END_TEST

START_TEST(path_utf8_valid)
{
	ck_assert_int_eq(parse("<j\xc3\xb6s\xc3\xa9@d\xc3\xa9.test>"), 0);
	ck_assert_int_eq(p.eightbit, 1);
	ck_assert_int_eq(parse("<\xf0\x9f\x90\xa6@d>"), 0);	/* U+1F426 */
	BAD("<j\xffo@d>", "5.1.3 syntax: malformed UTF-8 in the address");
	BAD("<\xc0\xaf@d>", "5.1.3 syntax: malformed UTF-8");	/* overlong '/' */
	BAD("<\xe0\x80\xaf@d>", "5.1.3 syntax: malformed UTF-8");	/* overlong, 3 bytes */
	BAD("<\xed\xa0\x80@d>", "5.1.3 syntax: malformed UTF-8");	/* a surrogate */
	BAD("<\xf4\x90\x80\x80@d>", "5.1.3 syntax: malformed UTF-8");	/* over U+10FFFF */
	BAD("<a\xc3@d>", "5.1.3 syntax: malformed UTF-8");		/* cut short */
	BAD("<a@d\xc3>", "5.1.3 syntax: malformed UTF-8");		/* in the domain */
	BAD("<\"a\x80\"@d>", "5.1.3 syntax: malformed UTF-8");	/* quoted */
	ck_assert_int_eq(smtp_utf8_valid("", 0), 1);
	ck_assert_int_eq(smtp_utf8_valid("\xe2\x82\xac", 3), 1);
	ck_assert_int_eq(smtp_utf8_valid("\xe2\x82", 2), 0);
}
END_TEST

START_TEST(path_nodomain)
{
	const char *s = "<postmaster>";
	ck_assert_int_eq(parse(s), -1);
	ck_assert_str_eq(why, "5.1.3 syntax: the address needs a domain");
	ck_assert_int_eq(parse_nd(s), 0);
	ck_assert_str_eq(p.addr, "postmaster");
	ck_assert_uint_eq(p.len, 10);
	ck_assert_uint_eq(p.at, 10);
	ck_assert_ptr_eq(rest, s + 12);
	ck_assert_int_eq(parse_nd("<PostMaster>"), 0);
	ck_assert_str_eq(p.addr, "PostMaster");		/* case kept: the caller compares */
	ck_assert_int_eq(parse_nd("<\"postmaster\">"), 0);
	ck_assert_str_eq(p.addr, "postmaster");
	/* With a domain, nodomain_ok changes nothing. */
	ck_assert_int_eq(parse_nd("<u@D>"), 0);
	ck_assert_str_eq(p.addr, "u@d");
	ck_assert_uint_eq(p.at, 1);
	ck_assert_int_eq(parse_nd("<.postmaster>"), -1);
	ck_assert_int_eq(parse_nd("<postmaster"), -1);
	ck_assert_int_eq(parse_nd("<postmaster@>"), -1);
}
END_TEST

/* ---- smtp_next_param ---- */

START_TEST(param_list)
{
	char buf[] = "size=100 body=8bitMIME  smtputf8   Ret=HDRS  ";
	char *s = buf, *end = buf + strlen(buf), *name, *val;
	size_t nl, vl;
	ck_assert_int_eq(smtp_next_param(&s, end, &name, &nl, &val, &vl), 1);
	ck_assert_ptr_eq(name, buf);
	ck_assert_uint_eq(nl, 4);
	ck_assert(!memcmp(name, "SIZE", 4));
	ck_assert_uint_eq(vl, 3);
	ck_assert(!memcmp(val, "100", 3));
	ck_assert_int_eq(smtp_next_param(&s, end, &name, &nl, &val, &vl), 1);
	ck_assert_uint_eq(nl, 4);
	ck_assert(!memcmp(name, "BODY", 4));
	ck_assert_uint_eq(vl, 8);
	ck_assert(!memcmp(val, "8bitMIME", 8));		/* values keep their case */
	ck_assert_int_eq(smtp_next_param(&s, end, &name, &nl, &val, &vl), 1);
	ck_assert_uint_eq(nl, 8);
	ck_assert(!memcmp(name, "SMTPUTF8", 8));
	ck_assert_uint_eq(vl, 0);
	ck_assert_int_eq(smtp_next_param(&s, end, &name, &nl, &val, &vl), 1);
	ck_assert_uint_eq(nl, 3);
	ck_assert(!memcmp(name, "RET", 3));
	ck_assert_uint_eq(vl, 4);
	ck_assert(!memcmp(val, "HDRS", 4));
	ck_assert_int_eq(smtp_next_param(&s, end, &name, &nl, &val, &vl), 0);
	ck_assert_ptr_eq(s, end);
	ck_assert_int_eq(smtp_next_param(&s, end, &name, &nl, &val, &vl), 0);
	/* Names were uppercased in place. */
	ck_assert_str_eq(buf, "SIZE=100 BODY=8bitMIME  SMTPUTF8   RET=HDRS  ");

	char b2[] = "";
	s = b2;
	ck_assert_int_eq(smtp_next_param(&s, b2, &name, &nl, &val, &vl), 0);
	char b3[] = "    ";
	s = b3;
	ck_assert_int_eq(smtp_next_param(&s, b3 + 4, &name, &nl, &val, &vl), 0);
	ck_assert_ptr_eq(s, b3 + 4);
	/* end bounds the list. */
	char b4[] = "A=12B=3";
	s = b4;
	ck_assert_int_eq(smtp_next_param(&s, b4 + 3, &name, &nl, &val, &vl), 1);
	ck_assert_uint_eq(vl, 1);
	ck_assert_int_eq(*val, '1');
	ck_assert_int_eq(smtp_next_param(&s, b4 + 3, &name, &nl, &val, &vl), 0);
	char b5[] = "ORCPT=rfc822;a+40b X-Y-1=\xc3\xa9";
	s = b5;
	ck_assert_int_eq(smtp_next_param(&s, b5 + strlen(b5), &name, &nl, &val, &vl), 1);
	ck_assert_uint_eq(vl, 12);
	ck_assert_int_eq(smtp_next_param(&s, b5 + strlen(b5), &name, &nl, &val, &vl), 1);
	ck_assert(!memcmp(name, "X-Y-1", 5));
	ck_assert_uint_eq(vl, 2);
	ck_assert_int_eq(smtp_next_param(&s, b5 + strlen(b5), &name, &nl, &val, &vl), 0);
}
END_TEST

static int one_param(const char *in)
{
	char buf[100];
	size_t n = strlen(in), nl, vl;
	memcpy(buf, in, n + 1);
	char *s = buf, *name, *val;
	int r;
	while ((r = smtp_next_param(&s, buf + n, &name, &nl, &val, &vl)) == 1) {}
	return r;
}

START_TEST(param_bad)
{
	static const char *bad[] = { "SIZE=", "SIZE= BODY=7BIT", "A=1 B=", "=1", "SI_ZE=1", "A.B", "A\tB",
				     "A:B=1", "A=a=b", "A=a\x01", "A=a\x7f", "A=a\tb", "A==", "\xc3\xa9=1",
				     "OK=1 X(=1" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(one_param(bad[i]) == -1, "accepted: %s", bad[i]);
	static const char *good[] = { "SIZE=1", "  A  B=1  C ", "x", "a-b=!~", "" };
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		ck_assert_msg(one_param(good[i]) == 0, "refused: %s", good[i]);
}
END_TEST

/* ---- smtp_getline ---- */

static int in_pipe(const char *s, size_t n, int close_it, int *wr)
{
	int fd[2];
	ck_assert_int_eq(pipe(fd), 0);
	size_t off = 0;
	while (off < n) {
		ssize_t w = write(fd[1], s + off, n - off);
		ck_assert_int_gt(w, 0);
		off += (size_t)w;
	}
	if (close_it) close(fd[1]);
	else *wr = fd[1];
	return fd[0];
}
#define IN(lit) in_pipe(lit, sizeof(lit) - 1, 1, 0)

static struct smtp_io io;
static char line[SMTP_LINEMAX + 1];
static size_t n;

#define LINE(want_r, want) do {						\
	memset(line, 'Z', sizeof line);						\
	ck_assert_int_eq(smtp_getline(&io, line, &n), want_r);			\
	ck_assert_uint_eq(n, sizeof(want) - 1);					\
	ck_assert(!memcmp(line, want, sizeof(want) - 1));			\
	ck_assert_int_eq(line[n], 0);						\
} while (0)

START_TEST(getline_crlf)
{
	smtp_init(&io, IN("HELO x\r\nMAIL FROM:<a@b>\r\n\r\nQUIT\r\n"), -1, 5);
	LINE(SMTP_OK, "HELO x");
	LINE(SMTP_OK, "MAIL FROM:<a@b>");
	LINE(SMTP_OK, "");
	LINE(SMTP_OK, "QUIT");
	ck_assert_int_eq(smtp_getline(&io, line, &n), SMTP_EOF);
	ck_assert_int_eq(smtp_getline(&io, line, &n), SMTP_EOF);
	close(io.in);
}
END_TEST

START_TEST(getline_bare)
{
	smtp_init(&io, IN("abc\nnext\r\nab\rcd\r\nok\r\n\r\r\nx\r\r\n\n\r\nlast\r"), -1, 5);
	LINE(SMTP_BARELF, "abc");
	LINE(SMTP_OK, "next");
	ck_assert_int_eq(smtp_getline(&io, line, &n), SMTP_BARECR);
	ck_assert_uint_eq(n, 5);		/* consumed through the LF */
	LINE(SMTP_OK, "ok");
	ck_assert_int_eq(smtp_getline(&io, line, &n), SMTP_BARECR);
	ck_assert_int_eq(smtp_getline(&io, line, &n), SMTP_BARECR);
	LINE(SMTP_BARELF, "");
	LINE(SMTP_OK, "");
	ck_assert_int_eq(smtp_getline(&io, line, &n), SMTP_EOF);	/* unterminated */
	close(io.in);
}
END_TEST

START_TEST(getline_long)
{
	char buf[8000];
	size_t k = 0;
	memset(buf, 'a', 510); k = 510;
	memcpy(buf + k, "\r\n", 2); k += 2;
	memset(buf + k, 'b', 511); k += 511;
	memcpy(buf + k, "\r\nNOOP\r\n", 8); k += 8;
	memset(buf + k, 'c', 512); k += 512;
	memcpy(buf + k, "\r\n", 2); k += 2;
	memset(buf + k, 'd', 5000); k += 5000;
	memcpy(buf + k, "\r\nRSET\r\n", 8); k += 8;
	memset(buf + k, 'e', 511); k += 511;
	memcpy(buf + k, "\nQUIT\r\n", 7); k += 7;
	smtp_init(&io, in_pipe(buf, k, 1, 0), -1, 5);
	ck_assert_int_eq(smtp_getline(&io, line, &n), SMTP_OK);
	ck_assert_uint_eq(n, 510);
	ck_assert_int_eq(line[509], 'a');
	ck_assert_int_eq(line[510], 0);
	ck_assert_int_eq(smtp_getline(&io, line, &n), SMTP_TOOLONG);
	ck_assert_uint_le(n, SMTP_LINEMAX);
	LINE(SMTP_OK, "NOOP");
	ck_assert_int_eq(smtp_getline(&io, line, &n), SMTP_TOOLONG);
	ck_assert_uint_le(n, SMTP_LINEMAX);
	ck_assert_int_eq(smtp_getline(&io, line, &n), SMTP_TOOLONG);
	ck_assert_uint_le(n, SMTP_LINEMAX);
	ck_assert_int_eq(line[n], 0);
	LINE(SMTP_OK, "RSET");
	ck_assert_int_eq(smtp_getline(&io, line, &n), SMTP_TOOLONG);	/* 511 + bare LF */
	LINE(SMTP_OK, "QUIT");
	ck_assert_int_eq(smtp_getline(&io, line, &n), SMTP_EOF);
	close(io.in);
}
END_TEST

START_TEST(getline_nul)
{
	smtp_init(&io, in_pipe("a\0b\r\n\0\r\nc\r\n", 11, 1, 0), -1, 5);
	LINE(SMTP_OK, "a\0b");
	ck_assert_uint_eq(n, 3);
	LINE(SMTP_OK, "\0");
	LINE(SMTP_OK, "c");
	ck_assert_int_eq(smtp_getline(&io, line, &n), SMTP_EOF);
	close(io.in);
}
END_TEST

START_TEST(getline_eof)
{
	smtp_init(&io, IN(""), -1, 5);
	ck_assert_int_eq(smtp_getline(&io, line, &n), SMTP_EOF);
	close(io.in);
	smtp_init(&io, IN("MAIL FROM:<a@b>"), -1, 5);
	ck_assert_int_eq(smtp_getline(&io, line, &n), SMTP_EOF);
	close(io.in);
	/* A read error (not a readable fd) counts as EOF. */
	int fd = open("/dev/null", O_WRONLY);
	ck_assert_int_ge(fd, 0);
	smtp_init(&io, fd, -1, 5);
	ck_assert_int_eq(smtp_getline(&io, line, &n), SMTP_EOF);
	close(fd);
}
END_TEST

START_TEST(getline_pipelined)
{
	/* Over 16384 bytes in one write: lines straddle the buffer's refills. */
	static char buf[60000];
	size_t k = 0;
	int i;
	for (i = 0; i < 1500; i++) k += (size_t)sprintf(buf + k, "RCPT TO:<user%d@example.com>\r\n", i);
	ck_assert_uint_gt(k, 2 * sizeof io.ibuf);
	smtp_init(&io, in_pipe(buf, k, 1, 0), -1, 5);
	for (i = 0; i < 1500; i++) {
		char want[64];
		int wl = sprintf(want, "RCPT TO:<user%d@example.com>", i);
		ck_assert_int_eq(smtp_getline(&io, line, &n), SMTP_OK);
		ck_assert_uint_eq(n, (size_t)wl);
		ck_assert_str_eq(line, want);
	}
	ck_assert_int_eq(smtp_getline(&io, line, &n), SMTP_EOF);
	close(io.in);
}
END_TEST

START_TEST(getline_split_writes)
{
	/* A line arriving in pieces, the CR and LF in different reads. */
	int wr;
	smtp_init(&io, in_pipe("EH", 2, 0, &wr), -1, 5);
	ck_assert_int_eq(smtp_fill(&io), SMTP_OK);
	ck_assert_int_eq(smtp_pending(&io, 0), 1);
	ck_assert_int_eq(write(wr, "LO x\r", 5), 5);
	/* Not yet read by io: EH is buffered, the rest waits in the pipe. */
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		usleep(200000);
		if (write(wr, "\nNOOP\r\n", 7) != 7) _exit(1);
		_exit(0);
	}
	LINE(SMTP_OK, "EHLO x");
	LINE(SMTP_OK, "NOOP");
	ck_assert_int_eq(smtp_pending(&io, 0), 0);
	close(wr);
	ck_assert_int_eq(smtp_getline(&io, line, &n), SMTP_EOF);
	close(io.in);
}
END_TEST

START_TEST(getline_timeout)
{
	int wr;
	smtp_init(&io, in_pipe("", 0, 0, &wr), -1, 1);
	ck_assert_int_eq(smtp_pending(&io, 0), 0);
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	ck_assert_int_eq(smtp_getline(&io, line, &n), SMTP_TIMEOUT);
	clock_gettime(CLOCK_MONOTONIC, &b);
	double t = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	ck_assert_msg(t >= 0.5 && t < 3.0, "timeout took %.2f s", t);
	/* Partway through a line. */
	ck_assert_int_eq(write(wr, "MAIL", 4), 4);
	clock_gettime(CLOCK_MONOTONIC, &a);
	ck_assert_int_eq(smtp_getline(&io, line, &n), SMTP_TIMEOUT);
	clock_gettime(CLOCK_MONOTONIC, &b);
	t = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	ck_assert_msg(t >= 0.5 && t < 3.0, "timeout took %.2f s", t);
	close(wr);
	close(io.in);
}
END_TEST

/* ---- output ---- */

static size_t drain(int fd, char *buf, size_t max)
{
	size_t k = 0;
	for (;;) {
		struct pollfd pf = { fd, POLLIN, 0 };
		if (poll(&pf, 1, 0) <= 0 || k == max) break;
		ssize_t r = read(fd, buf + k, max - k);
		if (r <= 0) break;
		k += (size_t)r;
	}
	return k;
}

START_TEST(put_flush)
{
	int o[2];
	char got[30000];
	ck_assert_int_eq(pipe(o), 0);
	smtp_init(&io, -1, o[1], 5);
	ck_assert_int_eq(smtp_flush(&io), 0);		/* nothing to write */
	smtp_puts(&io, "250-first\r\n");
	smtp_put(&io, "250 second\r\nXX", 12);
	ck_assert_uint_eq(drain(o[0], got, sizeof got), 0);	/* buffered */
	ck_assert_int_eq(smtp_flush(&io), 0);
	size_t k = drain(o[0], got, sizeof got);
	ck_assert_uint_eq(k, 23);
	ck_assert(!memcmp(got, "250-first\r\n250 second\r\n", 23));
	ck_assert_int_eq(smtp_flush(&io), 0);
	ck_assert_uint_eq(drain(o[0], got, sizeof got), 0);

	/* More than the 4096-byte buffer in one put: full buffers go out as they fill. */
	static char big[10000];
	for (size_t i = 0; i < sizeof big; i++) big[i] = (char)('a' + i % 26);
	smtp_put(&io, big, sizeof big);
	k = drain(o[0], got, sizeof got);
	ck_assert_uint_eq(k, 2 * sizeof io.obuf);
	ck_assert(!memcmp(got, big, k));
	ck_assert_int_eq(smtp_flush(&io), 0);
	k += drain(o[0], got + k, sizeof got - k);
	ck_assert_uint_eq(k, sizeof big);
	ck_assert(!memcmp(got, big, sizeof big));

	/* Many small puts. */
	for (int i = 0; i < 1000; i++) smtp_puts(&io, "250-0123456789\r\n");
	ck_assert_int_eq(smtp_flush(&io), 0);
	k = drain(o[0], got, sizeof got);
	ck_assert_uint_eq(k, 16000);
	for (int i = 0; i < 1000; i++) ck_assert(!memcmp(got + 16 * i, "250-0123456789\r\n", 16));

	/* A write error. */
	signal(SIGPIPE, SIG_IGN);
	close(o[0]);
	smtp_puts(&io, "421 bye\r\n");
	ck_assert_int_eq(smtp_flush(&io), -1);
	close(o[1]);
}
END_TEST

START_TEST(flush_before_read)
{
	/* Replies wait while pipelined commands are buffered (RFC 2920), and go out before
	 * a read would block. */
	int o[2], wr;
	char got[100];
	ck_assert_int_eq(pipe(o), 0);
	smtp_init(&io, in_pipe("MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\n", 32, 0, &wr), o[1], 5);
	LINE(SMTP_OK, "MAIL FROM:<a@b>");
	smtp_puts(&io, "250 sender ok\r\n");
	LINE(SMTP_OK, "RCPT TO:<c@d>");
	ck_assert_uint_eq(drain(o[0], got, sizeof got), 0);
	smtp_puts(&io, "250 recipient ok\r\n");
	ck_assert_int_eq(smtp_pending(&io, 0), 0);
	close(wr);
	ck_assert_int_eq(smtp_getline(&io, line, &n), SMTP_EOF);
	size_t k = drain(o[0], got, sizeof got);
	ck_assert_uint_eq(k, 33);
	ck_assert(!memcmp(got, "250 sender ok\r\n250 recipient ok\r\n", 33));
	close(o[0]);
	close(o[1]);
	close(io.in);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("smtp");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, path_null);
	tcase_add_test(tc, path_plain);
	tcase_add_test(tc, path_quoted);
	tcase_add_test(tc, path_route_literal);
	tcase_add_test(tc, path_literal_at);
	tcase_add_test(tc, path_utf8);
	tcase_add_test(tc, path_utf8_valid);
	tcase_add_test(tc, path_syntax_errors);
	tcase_add_test(tc, path_control_bytes);
	tcase_add_test(tc, path_lengths);
	tcase_add_test(tc, path_nodomain);
	tcase_add_test(tc, param_list);
	tcase_add_test(tc, param_bad);
	tcase_add_test(tc, getline_crlf);
	tcase_add_test(tc, getline_bare);
	tcase_add_test(tc, getline_long);
	tcase_add_test(tc, getline_nul);
	tcase_add_test(tc, getline_eof);
	tcase_add_test(tc, getline_pipelined);
	tcase_add_test(tc, getline_split_writes);
	tcase_add_test(tc, getline_timeout);
	tcase_add_test(tc, put_flush);
	tcase_add_test(tc, flush_before_read);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int f = srunner_ntests_failed(sr);
	srunner_free(sr);
	return f != 0;
}
