/* Unit tests: header fields and address lists (header.h). */
#include <check.h>
#include <errno.h>
#include <string.h>
#include "header.h"

/* The addresses parsed from s, joined with '|'; "ERR" on a syntax error. */
static const char *list(const char *s)
{
	static char res[4096];
	stralloc out = {0};
	size_t n = 0;
	if (!stralloc_copys(&out, "junk")) return "NOMEM";	/* appends, never overwrites */
	if (header_addrlist(s, strlen(s), &out, &n) < 0) {
		ck_assert_int_eq(errno, EINVAL);
		ck_assert_uint_eq(out.len, 4);
		stralloc_free(&out);
		return "ERR";
	}
	size_t k = 0, cnt = 0;
	for (size_t p = 4; p < out.len; p += strlen(out.s + p) + 1) {
		size_t l = strlen(out.s + p);
		if (k) res[k++] = '|';
		ck_assert_uint_lt(k + l, sizeof res - 1);
		memcpy(res + k, out.s + p, l);
		k += l;
		cnt++;
	}
	ck_assert_uint_eq(cnt, n);
	res[k] = 0;
	stralloc_free(&out);
	return res;
}

START_TEST(namelen)
{
	ck_assert_uint_eq(header_namelen("Subject: x", 10), 7);
	ck_assert_uint_eq(header_namelen("X-A_b.c!: x", 11), 8);
	ck_assert_uint_eq(header_namelen(": x", 3), 0);
	ck_assert_uint_eq(header_namelen("Sub ject: x", 11), 0);
	ck_assert_uint_eq(header_namelen("Subject : x", 11), 0);
	ck_assert_uint_eq(header_namelen("Subject", 7), 0);
	ck_assert_uint_eq(header_namelen("From me@x Sat Jan  1 00:00:00 2000", 34), 0);
	ck_assert_uint_eq(header_namelen("S\x80: x", 5), 0);
	ck_assert_uint_eq(header_namelen("S\0: x", 5), 0);
	ck_assert_uint_eq(header_namelen("Subject: x", 3), 0);	/* colon beyond len */
}
END_TEST

START_TEST(fields)
{
	const char *h = "To: a@b,\n  c@d\nSubject: hi\nnot a field\n\tstray\nX-Y:\n";
	size_t pos = 0, len = strlen(h);
	struct header_field f;
	ck_assert(header_next(h, len, &pos, &f));
	ck_assert(header_is(&f, "to"));
	ck_assert(header_is(&f, "TO"));
	ck_assert(!header_is(&f, "T"));
	ck_assert_uint_eq(f.valuelen, 11);
	ck_assert(memcmp(f.value, " a@b,\n  c@d", 11) == 0);
	ck_assert_uint_eq(f.start, 0);
	ck_assert_uint_eq(f.end, 15);
	ck_assert(header_next(h, len, &pos, &f));
	ck_assert(header_is(&f, "Subject"));
	ck_assert_uint_eq(f.valuelen, 3);
	ck_assert(header_next(h, len, &pos, &f));
	ck_assert(header_is(&f, "x-y"));
	ck_assert_uint_eq(f.valuelen, 0);
	ck_assert_uint_eq(f.end, len);
	ck_assert(!header_next(h, len, &pos, &f));
	/* no final newline */
	pos = 0;
	ck_assert(header_next("A: b", 4, &pos, &f));
	ck_assert_uint_eq(f.valuelen, 2);
	ck_assert_uint_eq(f.end, 4);
}
END_TEST

START_TEST(unfold)
{
	stralloc sa = {0};
	const char *v = " a,\n b,\r\n\tc\n";
	ck_assert(header_unfold(&sa, v, strlen(v)));
	ck_assert(stralloc_0(&sa));
	ck_assert_str_eq(sa.s, " a, b,\tc");
	sa.len = 0;
	ck_assert(header_unfold(&sa, "x\ny", 3));	/* a line end not followed by WSP stays */
	ck_assert_uint_eq(sa.len, 3);
	stralloc_free(&sa);
}
END_TEST

START_TEST(simple)
{
	ck_assert_str_eq(list("a@b"), "a@b");
	ck_assert_str_eq(list("  a@b.example  ,c@d "), "a@b.example|c@d");
	ck_assert_str_eq(list("root"), "root");
	ck_assert_str_eq(list("root, postmaster"), "root|postmaster");
	ck_assert_str_eq(list(""), "");
	ck_assert_str_eq(list(" , ,, "), "");
	ck_assert_str_eq(list("a@[192.0.2.1]"), "a@[192.0.2.1]");
	ck_assert_str_eq(list("first.last+tag@sub.example.com"), "first.last+tag@sub.example.com");
	ck_assert_str_eq(list("a@b;c@d"), "a@b|c@d");	/* Outlook's ';' */
}
END_TEST

START_TEST(names_and_angles)
{
	ck_assert_str_eq(list("John Doe <jd@x.example>"), "jd@x.example");
	ck_assert_str_eq(list("\"Doe, John\" <jd@x>, other@y"), "jd@x|other@y");
	ck_assert_str_eq(list("John Q. Public <jqp@x>"), "jqp@x");
	ck_assert_str_eq(list("<a@b>"), "a@b");
	ck_assert_str_eq(list("<a@b>,<c@d>"), "a@b|c@d");
	ck_assert_str_eq(list("<@r1.example,@r2.example:a@b>"), "a@b");	/* obs-route */
	ck_assert_str_eq(list("x <>"), "");
	ck_assert_str_eq(list("a@b <c@d>"), "c@d");		/* bare address as name */
	ck_assert_str_eq(list("\"a@b\" <c@d>"), "c@d");
	ck_assert_str_eq(list("=?UTF-8?Q?J=C3=BCrgen?= <j@x>"), "j@x");
	ck_assert_str_eq(list("J\xc3\xbcrgen <j@x>"), "j@x");
	ck_assert_str_eq(list("Name <a@b> trailing, c@d"), "a@b|c@d");
	ck_assert_str_eq(list("Name\n <a@b>,\n\tc@d"), "a@b|c@d");	/* folded */
	ck_assert_str_eq(list("< a @ b >"), "a@b");
	ck_assert_str_eq(list("\"a,b <x@y>\" <c@d>"), "c@d");
}
END_TEST

START_TEST(comments_quotes)
{
	ck_assert_str_eq(list("a@b (Alice)"), "a@b");
	ck_assert_str_eq(list("(lead) a(x)@(y)b (trail, with <stuff> and \"q\")"), "a@b");
	ck_assert_str_eq(list("a@b (nested (comment) here), c@d"), "a@b|c@d");
	ck_assert_str_eq(list("a@b (esc \\) paren), c@d"), "a@b|c@d");
	ck_assert_str_eq(list("\"john doe\"@x"), "john doe@x");
	ck_assert_str_eq(list("\"a\\\"b\"@x"), "a\"b@x");
	ck_assert_str_eq(list("\"a@b\"@x"), "a@b@x");
	ck_assert_str_eq(list("\"a,b\"@x, c@d"), "a,b@x|c@d");
	ck_assert_str_eq(list("a . b @ x . y"), "a.b@x.y");
	ck_assert_str_eq(list("root (Cron Daemon)"), "root");
}
END_TEST

START_TEST(groups)
{
	ck_assert_str_eq(list("undisclosed-recipients:;"), "");
	ck_assert_str_eq(list("undisclosed-recipients: ;"), "");
	ck_assert_str_eq(list("Team: a@b, B <c@d>;, e@f"), "a@b|c@d|e@f");
	ck_assert_str_eq(list("\"My Group\": a@b;"), "a@b");
	ck_assert_str_eq(list("g: a@b"), "a@b");		/* unterminated group */
	ck_assert_str_eq(list("g1: a@b; g2: c@d;"), "a@b|c@d");
	ck_assert_str_eq(list("g: h: a@b;;"), "ERR");		/* nested */
}
END_TEST

START_TEST(bad)
{
	ck_assert_str_eq(list("John Doe"), "ERR");		/* name without address */
	ck_assert_str_eq(list("a@b@c"), "ERR");
	ck_assert_str_eq(list("@b"), "ERR");
	ck_assert_str_eq(list("a@"), "ERR");
	ck_assert_str_eq(list("<a@b"), "ERR");
	ck_assert_str_eq(list("a@b>"), "ERR");
	ck_assert_str_eq(list("<a@b> <c@d>"), "ERR");
	ck_assert_str_eq(list("<a b@c>"), "ERR");
	ck_assert_str_eq(list("<a@b,c@d>"), "ERR");
	ck_assert_str_eq(list("\"unterminated@x"), "ERR");
	ck_assert_str_eq(list("a@b (unterminated"), "ERR");
	ck_assert_str_eq(list("a@[1.2.3.4"), "ERR");
	ck_assert_str_eq(list("a@b)"), "ERR");
	ck_assert_str_eq(list("a\\b@c"), "ERR");
	ck_assert_str_eq(list("\"a\\\x01\"@x"), "ERR");		/* control byte in an address */
	ck_assert_str_eq(list("[1.2.3.4]@x"), "ERR");
	ck_assert_str_eq(list("\"\"@x"), "ERR");			/* empty local part */
	ck_assert_str_eq(list("a@b:"), "ERR");
	ck_assert_str_eq(list("ok@x, bad bad"), "ERR");		/* all or nothing */
	stralloc out = {0};
	size_t n = 0;
	ck_assert_int_eq(header_addrlist("a\0b@c", 5, &out, &n), -1);	/* NUL */
	ck_assert_uint_eq(out.len, 0);
	ck_assert_uint_eq(n, 0);
	stralloc_free(&out);
}
END_TEST

static const char *phrase(const char *s)
{
	static char res[512];
	stralloc sa = {0};
	ck_assert(header_phrase(&sa, s, strlen(s)));
	ck_assert_uint_lt(sa.len, sizeof res);
	if (sa.len) memcpy(res, sa.s, sa.len);
	res[sa.len] = 0;
	stralloc_free(&sa);
	return res;
}

START_TEST(phrases)
{
	ck_assert_str_eq(phrase("CronDaemon"), "CronDaemon");
	ck_assert_str_eq(phrase("  Cron   Daemon "), "Cron Daemon");
	ck_assert_str_eq(phrase("John Q. Public"), "\"John Q. Public\"");
	ck_assert_str_eq(phrase("Doe, \"JD\" \\x"), "\"Doe, \\\"JD\\\" \\\\x\"");
	ck_assert_str_eq(phrase("Evil\r\nBcc: x@y"), "\"Evil Bcc: x@y\"");
	ck_assert_str_eq(phrase("a\001b"), "ab");
	ck_assert_str_eq(phrase(""), "");
	ck_assert_str_eq(phrase("J\xc3\xbcrgen"), "J\xc3\xbcrgen");
	stralloc sa = {0};
	ck_assert(header_localpart(&sa, "john.doe", 8) && stralloc_0(&sa));
	ck_assert_str_eq(sa.s, "john.doe");
	sa.len = 0;
	ck_assert(header_localpart(&sa, "john doe", 8) && stralloc_0(&sa));
	ck_assert_str_eq(sa.s, "\"john doe\"");
	sa.len = 0;
	ck_assert(header_localpart(&sa, "a..b", 4) && stralloc_0(&sa));
	ck_assert_str_eq(sa.s, "\"a..b\"");
	stralloc_free(&sa);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("header");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, namelen);
	tcase_add_test(tc, fields);
	tcase_add_test(tc, unfold);
	tcase_add_test(tc, simple);
	tcase_add_test(tc, names_and_angles);
	tcase_add_test(tc, comments_quotes);
	tcase_add_test(tc, groups);
	tcase_add_test(tc, bad);
	tcase_add_test(tc, phrases);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf != 0;
}
