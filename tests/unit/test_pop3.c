/* Unit tests: POP3 command lines, message numbers, the CRLF form and UIDLs (pop3.h). */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include "pop3.h"

static struct pop3_req r;

static int parse(const char *s) { return pop3_parse(s, strlen(s), &r); }

START_TEST(parse_keywords)
{
	ck_assert_int_eq(parse("STAT"), 0);
	ck_assert_int_eq(r.cmd, P3_STAT);
	ck_assert_int_eq(r.nargs, 0);
	ck_assert_int_eq(parse("retr 12"), 0);
	ck_assert_int_eq(r.cmd, P3_RETR);
	ck_assert_int_eq(r.nargs, 1);
	ck_assert_int_eq(r.alen[0], 2);
	ck_assert(!memcmp(r.arg[0], "12", 2));
	ck_assert_int_eq(parse("Top 1 10"), 0);
	ck_assert_int_eq(r.cmd, P3_TOP);
	ck_assert_int_eq(r.nargs, 2);
	ck_assert(!memcmp(r.arg[1], "10", 2));
	ck_assert_int_eq(parse("XYZ"), 0);
	ck_assert_int_eq(r.cmd, P3_UNKNOWN);
	ck_assert_int_eq(parse("RETRX 1"), -1);	/* keywords are 3 or 4 bytes */
	ck_assert_int_eq(parse("STA"), 0);
	ck_assert_int_eq(r.cmd, P3_UNKNOWN);
	const char *all[] = { "USER", "PASS", "APOP", "AUTH", "STLS", "CAPA", "QUIT", "STAT", "LIST", "RETR",
			      "DELE", "NOOP", "RSET", "TOP", "UIDL" };
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
		ck_assert_int_eq(parse(all[i]), 0);
		ck_assert_int_ne(r.cmd, P3_UNKNOWN);
	}
}
END_TEST

START_TEST(parse_args)
{
	ck_assert_int_eq(parse("PASS  two  spaces "), 0);
	ck_assert_int_eq(r.cmd, P3_PASS);
	ck_assert_str_eq(r.rest, " two  spaces ");	/* the password keeps its spaces */
	ck_assert_int_eq(r.restlen, 13);
	ck_assert_int_eq(r.nargs, 2);
	ck_assert_int_eq(r.toomany, 0);
	ck_assert_int_eq(parse("TOP 1 2 3"), 0);
	ck_assert_int_eq(r.toomany, 1);
	ck_assert_int_eq(parse("RETR "), 0);
	ck_assert_int_eq(r.nargs, 0);
	ck_assert_int_eq(parse("PASS \xc3\xa4\xc3\xb6"), 0);	/* UTF-8 passwords */
	ck_assert_int_eq(r.restlen, 4);
}
END_TEST

START_TEST(parse_bad)
{
	ck_assert_int_eq(parse(""), -1);
	ck_assert_int_eq(parse(" STAT"), -1);
	ck_assert_int_eq(parse("STAT\t"), -1);
	ck_assert_int_eq(parse("RETR 1\r"), -1);
	ck_assert_int_eq(parse("NO\x7fOP"), -1);
	ck_assert_int_eq(pop3_parse("NO\0OP", 5, &r), -1);
	ck_assert_int_eq(pop3_parse("PASS a\nb", 8, &r), -1);
}
END_TEST

static int num(const char *s, size_t count, size_t *out) { return pop3_msgnum(s, strlen(s), count, out); }

START_TEST(msgnum)
{
	size_t k = 0;
	ck_assert_int_eq(num("1", 3, &k), 0);
	ck_assert_int_eq(k, 1);
	ck_assert_int_eq(num("3", 3, &k), 0);
	ck_assert_int_eq(k, 3);
	ck_assert_int_eq(num("007", 10, &k), 0);
	ck_assert_int_eq(k, 7);
	ck_assert_int_eq(num("4", 3, &k), POP3_NUM_RANGE);
	ck_assert_int_eq(num("0", 3, &k), POP3_NUM_RANGE);
	ck_assert_int_eq(num("000", 3, &k), POP3_NUM_RANGE);
	ck_assert_int_eq(num("1", 0, &k), POP3_NUM_RANGE);
	ck_assert_int_eq(num("18446744073709551617", (size_t)-1, &k), POP3_NUM_RANGE);	/* 2^64 + 1 */
	ck_assert_int_eq(num("99999999999999999999999999999999", 10, &k), POP3_NUM_RANGE);
	const char *bad[] = { "", "-1", "+1", " 1", "1 ", "1x", "x1", "0x1", "1.0", "\xff", "1e3" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(num(bad[i], 10, &k) == POP3_NUM_SYNTAX, "accepted \"%s\"", bad[i]);
	/* Junk after a number too big is still junk: syntax first. */
	ck_assert_int_eq(num("99x", 10, &k), POP3_NUM_SYNTAX);
}
END_TEST

START_TEST(count)
{
	unsigned long long v;
	ck_assert_int_eq(pop3_count("0", 1, &v), 0);
	ck_assert_int_eq(v, 0);
	ck_assert_int_eq(pop3_count("42", 2, &v), 0);
	ck_assert_int_eq(v, 42);
	ck_assert_int_eq(pop3_count("18446744073709551615", 20, &v), 0);
	ck_assert(v == ~0ULL);
	ck_assert_int_eq(pop3_count("99999999999999999999999", 23, &v), 0);
	ck_assert(v == ~0ULL);
	ck_assert_int_eq(pop3_count("-1", 2, &v), POP3_NUM_SYNTAX);
	ck_assert_int_eq(pop3_count("", 0, &v), POP3_NUM_SYNTAX);
}
END_TEST

/* The whole conversion of s, fed in pieces of step bytes. */
static char got[4096];
static size_t conv(const char *s, size_t n, long long lines, int stuff, size_t step, unsigned long long *size)
{
	struct pop3_conv c;
	pop3_conv_init(&c, lines);
	size_t o = 0, i = 0;
	while (i < n && !c.done) {
		size_t k = n - i < step ? n - i : step, used;
		o += pop3_conv(&c, s + i, k, &used, got + o, stuff);
		i += used;
	}
	o += pop3_conv_end(&c, got + o);
	got[o] = 0;
	if (size) *size = c.size;
	return o;
}

#define CONV(in, lines, want) do {							\
	for (size_t st_ = 1; st_ <= sizeof in; st_++) {				\
		size_t n_ = conv(in, sizeof in - 1, lines, 1, st_, 0);			\
		ck_assert_msg(n_ == sizeof want - 1 && !memcmp(got, want, n_),		\
			      "step %zu: got \"%s\"", st_, got);			\
	}									\
} while (0)

START_TEST(crlf_form)
{
	CONV("a\nb\n", -1, "a\r\nb\r\n");
	CONV("a\r\nb\r\n", -1, "a\r\nb\r\n");
	CONV("no end", -1, "no end\r\n");
	CONV("", -1, "");
	CONV("\n", -1, "\r\n");
	CONV("a\rb\n", -1, "a\rb\r\n");
	CONV("ends in CR\r", -1, "ends in CR\r\r\n");
	CONV(".\n..\n.x\nx.\n", -1, "..\r\n...\r\n..x\r\nx.\r\n");
	CONV(".", -1, "..\r\n");
	CONV("a\n.\r\n", -1, "a\r\n..\r\n");
}
END_TEST

START_TEST(top)
{
	CONV("H: 1\nH: 2\n\nb1\nb2\nb3\n", 0, "H: 1\r\nH: 2\r\n\r\n");
	CONV("H: 1\nH: 2\n\nb1\nb2\nb3\n", 2, "H: 1\r\nH: 2\r\n\r\nb1\r\nb2\r\n");
	CONV("H: 1\nH: 2\n\nb1\nb2\nb3\n", 99, "H: 1\r\nH: 2\r\n\r\nb1\r\nb2\r\nb3\r\n");
	CONV("H: 1\r\n\r\n.b1\r\nb2\r\n", 1, "H: 1\r\n\r\n..b1\r\n");
	CONV("H: only\nno body", 0, "H: only\r\nno body\r\n");
	CONV("\nbody\nmore\n", 1, "\r\nbody\r\n");
	CONV("H: 1\n\nlast", 5, "H: 1\r\n\r\nlast\r\n");
	CONV("H: 1\n \nb\n\nc\nd\n", 1, "H: 1\r\n \r\nb\r\n\r\nc\r\n");	/* " " is no empty line */
}
END_TEST

START_TEST(sizes)
{
	const char *cases[] = { "a\nb\n", "a\r\nb", "", "\n\n\n", ".\n..\n", "x\r", "\r\n\r", "abc", "\n.\r\r\n" };
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *s = cases[i];
		size_t n = strlen(s);
		unsigned long long want;
		size_t o = conv(s, n, -1, 0, n ? n : 1, &want);
		ck_assert_int_eq(o, want);
		for (size_t step = 1; step <= n + 1; step++) {
			struct pop3_conv c;
			char end[2];
			pop3_conv_init(&c, -1);
			for (size_t k = 0; k < n; k += step) pop3_size(&c, s + k, n - k < step ? n - k : step);
			pop3_conv_end(&c, end);
			ck_assert_msg(c.size == want, "\"%s\" step %zu: %llu, want %llu", s, step, c.size, want);
		}
	}
}
END_TEST

static char u[POP3_UIDLMAX + 1];
static size_t uidl(const char *name) { return pop3_uidl(name, strlen(name), u); }

START_TEST(uidls)
{
	ck_assert_int_eq(uidl("1700000000.M1P2.host:2,S"), 20);
	ck_assert_str_eq(u, "1700000000.M1P2.host");
	uidl("1700000000.M1P2.host,W=123:2,");
	ck_assert_str_eq(u, "1700000000.M1P2.host");
	uidl("1700000000.M1P2.host,S=100,W=123:2,");
	ck_assert_str_eq(u, "1700000000.M1P2.host");
	uidl("1700000000.M1P2.host");
	ck_assert_str_eq(u, "1700000000.M1P2.host");
	uidl("1700000000.M1P2.ho\\057st,X=1:2,");
	ck_assert_str_eq(u, "1700000000.M1P2.ho\\057st,X=1");
	uidl("a,W=12x:2,");			/* not a size field: kept */
	ck_assert_str_eq(u, "a,W=12x");
	/* Hashed: too long, odd bytes, empty, or starting with '~'; always the same. */
	const char *hashed[] = { "1700000000.M1 P2.host:2,", "17.\xc3\xbc:2,", ":2,", "~abc",
		"1700000000.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" };
	for (size_t i = 0; i < sizeof hashed / sizeof hashed[0]; i++) {
		ck_assert_int_eq(uidl(hashed[i]), 33);
		ck_assert_int_eq(u[0], '~');
		char first[40];
		memcpy(first, u, 34);
		uidl(hashed[i]);
		ck_assert_str_eq(u, first);
		for (size_t k = 0; k < 33; k++) ck_assert(u[k] >= 0x21 && u[k] <= 0x7e);
	}
	/* Exactly 70 is kept, 71 hashed. */
	char n70[80];
	memset(n70, 'a', 70);
	n70[70] = 0;
	ck_assert_int_eq(uidl(n70), 70);
	n70[70] = 'a';
	n70[71] = 0;
	ck_assert_int_eq(uidl(n70), 33);
	/* The flags do not change the UIDL; the alternative differs from the plain one. */
	char a[40], b[40];
	pop3_uidl("x y:2,S", 7, a);
	pop3_uidl("x y:2,T", 7, b);
	ck_assert_str_eq(a, b);
	pop3_uidl_alt("x y:2,S", 7, b);
	ck_assert_str_ne(a, b);
}
END_TEST

START_TEST(wsize)
{
	unsigned long long w = 0;
	ck_assert_int_eq(pop3_wsize("1.M.h,S=10,W=12:2,", 18, &w), 1);
	ck_assert_int_eq(w, 12);
	ck_assert_int_eq(pop3_wsize("1.M.h,W=0", 9, &w), 1);
	ck_assert_int_eq(w, 0);
	ck_assert_int_eq(pop3_wsize("1.M.h:2,W=12", 12, &w), 0);	/* in the info: not ours */
	ck_assert_int_eq(pop3_wsize("1.M.h,W=:2,", 11, &w), 0);
	ck_assert_int_eq(pop3_wsize("1.M.h,W=1a:2,", 13, &w), 0);
	ck_assert_int_eq(pop3_wsize("1.M.h,W=99999999999999999999", 28, &w), 0);
	ck_assert_int_eq(pop3_uniqlen("a:b:c", 5), 1);
	ck_assert_int_eq(pop3_uniqlen("abc", 3), 3);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pop3");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, parse_keywords);
	tcase_add_test(tc, parse_args);
	tcase_add_test(tc, parse_bad);
	tcase_add_test(tc, msgnum);
	tcase_add_test(tc, count);
	tcase_add_test(tc, crlf_form);
	tcase_add_test(tc, top);
	tcase_add_test(tc, sizes);
	tcase_add_test(tc, uidls);
	tcase_add_test(tc, wsize);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf ? EXIT_FAILURE : EXIT_SUCCESS;
}
