/* Unit tests: the instruction-file parser (dotern.h, doc/dot-tern.5). */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include "dotern.h"

#define S(x) x, strlen(x)

static int argis(const struct dotern_line *l, const char *want)
{
	return l->len == strlen(want) && memcmp(l->arg, want, l->len) == 0;
}

START_TEST(kinds)
{
	const char *f =
		"# comment\n"
		"\n"
		"./Maildir/\n"
		"/var/mail/demo\n"
		"|/usr/bin/filter -x\n"
		"&other@example.org\n"
		"./mbox\n"
		"/abs/Maildir/\n";
	struct dotern_iter it;
	struct dotern_line l;
	const char *err = 0;
	dotern_init(&it, S(f));
	ck_assert_int_eq(dotern_next(&it, &l, &err), 1);
	ck_assert_int_eq(l.kind, DT_MAILDIR); ck_assert(argis(&l, "./Maildir/"));
	ck_assert_uint_eq(l.lineno, 3); ck_assert_uint_eq(l.index, 0);
	ck_assert_int_eq(dotern_next(&it, &l, &err), 1);
	ck_assert_int_eq(l.kind, DT_MBOX); ck_assert(argis(&l, "/var/mail/demo"));
	ck_assert_int_eq(dotern_next(&it, &l, &err), 1);
	ck_assert_int_eq(l.kind, DT_PROGRAM); ck_assert(argis(&l, "/usr/bin/filter -x"));
	ck_assert_int_eq(dotern_next(&it, &l, &err), 1);
	ck_assert_int_eq(l.kind, DT_FORWARD); ck_assert(argis(&l, "other@example.org"));
	ck_assert_int_eq(dotern_next(&it, &l, &err), 1);
	ck_assert_int_eq(l.kind, DT_MBOX); ck_assert(argis(&l, "./mbox"));
	ck_assert_int_eq(dotern_next(&it, &l, &err), 1);
	ck_assert_int_eq(l.kind, DT_MAILDIR); ck_assert(argis(&l, "/abs/Maildir/"));
	ck_assert_uint_eq(l.lineno, 8); ck_assert_uint_eq(l.index, 5);
	ck_assert_int_eq(dotern_next(&it, &l, &err), 0);
	ck_assert_int_eq(dotern_next(&it, &l, &err), 0);
}
END_TEST

START_TEST(blanks)
{
	/* CRLF, blanks around lines and after the marker, no final newline. */
	const char *f = "  \t\r\n  ./Maildir/ \r\n|  cat >x \t\n&  a@b\r\n   # indented comment\n./m";
	struct dotern_iter it;
	struct dotern_line l;
	const char *err;
	dotern_init(&it, S(f));
	ck_assert_int_eq(dotern_next(&it, &l, &err), 1); ck_assert(argis(&l, "./Maildir/"));
	ck_assert_int_eq(dotern_next(&it, &l, &err), 1); ck_assert(argis(&l, "cat >x"));
	ck_assert_int_eq(dotern_next(&it, &l, &err), 1); ck_assert(argis(&l, "a@b"));
	ck_assert_int_eq(dotern_next(&it, &l, &err), 1); ck_assert(argis(&l, "./m"));
	ck_assert_int_eq(l.kind, DT_MBOX); ck_assert_uint_eq(l.lineno, 6);
	ck_assert_int_eq(dotern_next(&it, &l, &err), 0);
}
END_TEST

static void bad(const char *f, size_t n, size_t lineno)
{
	size_t ni, ln;
	const char *err = 0;
	ck_assert_msg(dotern_check(f, n, &ni, &ln, &err) == -1, "accepted: %s", f);
	ck_assert_ptr_nonnull(err);
	ck_assert_uint_eq(ln, lineno);
}

START_TEST(errors)
{
	bad(S("Maildir/\n"), 1);		/* no ./ */
	bad(S("./Maildir/\nbob@example.org\n"), 2);	/* a bare address is not a forward */
	bad(S("|\n"), 1);
	bad(S("| \t \n"), 1);
	bad(S("&\n"), 1);
	bad(S("&a\001b\n"), 1);
	bad(S("./\n"), 1);
	bad(S("/\n"), 1);
	bad(S("../x\n"), 1);
	bad(S("./a\033b\n"), 1);
	bad("./a\0b\n", 6, 1);
	bad(S("\n\n~/mail\n"), 3);
	char *big = malloc(DOTERN_MAXLINE + 10);
	big[0] = '|';
	memset(big + 1, 'x', DOTERN_MAXLINE + 5);
	big[DOTERN_MAXLINE + 6] = '\n';
	bad(big, DOTERN_MAXLINE + 7, 1);
	free(big);
}
END_TEST

START_TEST(limits)
{
	size_t ni, ln;
	const char *err;
	/* Exactly the maximum number of instructions is fine, one more is not. */
	size_t n = (DOTERN_MAXLINES + 1) * 4;
	char *f = malloc(n);
	for (size_t i = 0; i <= DOTERN_MAXLINES; i++) memcpy(f + 4 * i, "./m\n", 4);
	ck_assert_int_eq(dotern_check(f, n - 4, &ni, &ln, &err), 0);
	ck_assert_uint_eq(ni, DOTERN_MAXLINES);
	ck_assert_int_eq(dotern_check(f, n, &ni, &ln, &err), -1);
	ck_assert_uint_eq(ln, DOTERN_MAXLINES + 1);
	free(f);
	/* A file over the size limit is refused as a whole. */
	f = malloc(DOTERN_MAXFILE + 1);
	memset(f, '\n', DOTERN_MAXFILE + 1);
	ck_assert_int_eq(dotern_check(f, DOTERN_MAXFILE, &ni, &ln, &err), 0);
	ck_assert_uint_eq(ni, 0);
	ck_assert_int_eq(dotern_check(f, DOTERN_MAXFILE + 1, &ni, &ln, &err), -1);
	free(f);
	/* Comments and blanks only: valid, no instructions. */
	ck_assert_int_eq(dotern_check(S("# nothing\n\n"), &ni, &ln, &err), 0);
	ck_assert_uint_eq(ni, 0);
	ck_assert_str_eq(dotern_kindname(DT_FORWARD), "forward");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("dotern");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, kinds);
	tcase_add_test(tc, blanks);
	tcase_add_test(tc, errors);
	tcase_add_test(tc, limits);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int f = srunner_ntests_failed(sr);
	srunner_free(sr);
	return f != 0;
}
