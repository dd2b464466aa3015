/* Unit tests: the injection engine (inject.h) on buffers. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include "inject.h"

#define PRE "From: Joe User <joe@example.test>\nDate: Thu, 1 Jan 1970 00:00:00 +0000\n" \
	"Message-ID: <0.42.abc@example.test>\n"

static struct inject_opt base(void)
{
	struct inject_opt o = {0};
	o.me = "example.test";
	o.user = "joe";
	o.fullname = "Joe User";
	o.now = 0;
	o.pid = 42;
	o.unique = "abc";
	return o;
}

static char *one_rcpt[] = { "x@y", 0 };

static stralloc msg, env;
static char errbuf[512];

static int sa_w(void *ctx, const char *s, size_t n) { return stralloc_catb(ctx, s, n) ? 0 : -1; }

/* The engine fed in chunks of `chunk` bytes, the way inject_main drives it. */
static int run_chunks(const struct inject_opt *o, const char *in, size_t n, size_t chunk)
{
	static struct inject ij;
	msg.len = env.len = 0;
	int r = inject_init(&ij, o);
	size_t off = 0;
	while (r == INJ_OK && off < n && !inject_ended(&ij)) {
		size_t end = off + chunk < n ? off + chunk : n;
		while (r == INJ_OK && off < end && !inject_ended(&ij)) {
			size_t used;
			r = inject_feed(&ij, in + off, end - off, &used);
			off += used;
			if (r == INJ_OK && inject_headdone(&ij) && !ij.begun) {
				r = inject_header(&ij);
				if (r == INJ_OK) r = inject_begin(&ij, sa_w, &msg);
			}
		}
	}
	if (r == INJ_OK) r = inject_eof(&ij);
	if (r == INJ_OK && !ij.begun) {
		r = inject_header(&ij);
		if (r == INJ_OK) r = inject_begin(&ij, sa_w, &msg);
	}
	if (r == INJ_OK) r = inject_finish(&ij);
	if (r == INJ_OK && !inject_envelope(&ij, &env)) r = INJ_ENOMEM;
	memcpy(errbuf, ij.err, sizeof errbuf);
	inject_free(&ij);
	return r;
}

/* inject_buffer, checked against byte-by-byte and odd-sized chunked feeding. */
static int run(const struct inject_opt *o, const char *in, size_t n)
{
	stralloc m1 = {0}, e1 = {0};
	int r = inject_buffer(o, in, n, &m1, &e1);
	size_t chunks[] = { 1, 3, 7, 4096 };
	for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
		int r2 = run_chunks(o, in, n, chunks[i]);
		ck_assert_int_eq(r2, r);
		if (r == INJ_OK) {
			ck_assert_uint_eq(msg.len, m1.len);
			ck_assert(memcmp(msg.s, m1.s, m1.len) == 0);
			ck_assert_uint_eq(env.len, e1.len);
			ck_assert(memcmp(env.s, e1.s, e1.len) == 0);
		}
	}
	stralloc_free(&m1);
	stralloc_free(&e1);
	return r;
}

static int runs(const struct inject_opt *o, const char *in) { return run(o, in, strlen(in)); }

static void msg_is(const char *want, size_t n)
{
	if (msg.len != n || memcmp(msg.s, want, n) != 0) {
		ck_abort_msg("message differs:\n--- got (%zu)\n%.*s\n--- want (%zu)\n%.*s", msg.len,
			     (int)msg.len, msg.s, n, (int)n, want);
	}
}
#define MSG_IS(lit) msg_is(lit, sizeof(lit) - 1)

static void env_is(const char *want, size_t n)
{
	ck_assert_uint_eq(env.len, n);
	ck_assert(memcmp(env.s, want, n) == 0);
}
#define ENV_IS(lit) env_is(lit, sizeof(lit))	/* the literal's own NUL is the final one */

START_TEST(adds_fields)
{
	struct inject_opt o = base();
	o.args = one_rcpt; o.nargs = 1;
	ck_assert_int_eq(runs(&o, "Subject: hi\n\nbody\n"), INJ_OK);
	MSG_IS(PRE "Subject: hi\n\nbody\n");
	ENV_IS("Fjoe@example.test\0Tx@y\0");
	ck_assert_int_eq(runs(&o, "from: a@b\nDATE: x\nMessage-Id: <m@x>\n\nb\n"), INJ_OK);
	MSG_IS("from: a@b\nDATE: x\nMessage-Id: <m@x>\n\nb\n");
	o.fullname = 0;
	ck_assert_int_eq(runs(&o, "Date: x\nMessage-ID: <m@x>\n\nb\n"), INJ_OK);
	MSG_IS("From: joe@example.test\nDate: x\nMessage-ID: <m@x>\n\nb\n");
	o.fullname = "Evil\nBcc: victim@x";
	ck_assert_int_eq(runs(&o, "Date: x\nMessage-ID: <m@x>\n\nb\n"), INJ_OK);
	MSG_IS("From: \"Evil Bcc: victim@x\" <joe@example.test>\nDate: x\nMessage-ID: <m@x>\n\nb\n");
	o.fullname = 0;
	o.user = "bad\nuser";
	ck_assert_int_eq(runs(&o, "Date: x\nMessage-ID: <m@x>\n\nb\n"), INJ_OK);
	MSG_IS("From: anonymous@example.test\nDate: x\nMessage-ID: <m@x>\n\nb\n");
	ENV_IS("Fanonymous@example.test\0Tx@y\0");
}
END_TEST

START_TEST(header_shapes)
{
	struct inject_opt o = base();
	o.args = one_rcpt; o.nargs = 1;
	ck_assert_int_eq(runs(&o, "hello world\nsecond\n"), INJ_OK);		/* no header */
	MSG_IS(PRE "\nhello world\nsecond\n");
	ck_assert_int_eq(runs(&o, "Subject: x\nthis is body\n"), INJ_OK);	/* ends at a non-field */
	MSG_IS(PRE "Subject: x\n\nthis is body\n");
	ck_assert_int_eq(runs(&o, "Subject: x\n\tfolded\n more\nX: y\n\n\nb"), INJ_OK);
	MSG_IS(PRE "Subject: x\n\tfolded\n more\nX: y\n\n\nb\n");
	ck_assert_int_eq(runs(&o, " leading space\n"), INJ_OK);
	MSG_IS(PRE "\n leading space\n");
	ck_assert_int_eq(runs(&o, "Subject: x"), INJ_OK);			/* header only, no newline */
	MSG_IS(PRE "Subject: x\n\n");
	ck_assert_int_eq(runs(&o, "Subject: x\n"), INJ_OK);
	MSG_IS(PRE "Subject: x\n\n");
	ck_assert_int_eq(runs(&o, ""), INJ_OK);
	MSG_IS(PRE "\n");
	ck_assert_int_eq(runs(&o, "\n"), INJ_OK);
	MSG_IS(PRE "\n");
	ck_assert_int_eq(runs(&o, "no newline at all"), INJ_OK);
	MSG_IS(PRE "\nno newline at all\n");
	ck_assert_int_eq(runs(&o, "Subject: x\n\nbody"), INJ_OK);
	MSG_IS(PRE "Subject: x\n\nbody\n");
	ck_assert_int_eq(runs(&o, "Subject : x\n\nb\n"), INJ_OK);		/* not a field name */
	MSG_IS(PRE "\nSubject : x\n\nb\n");
	/* removed fields */
	ck_assert_int_eq(runs(&o, "Return-Path: <a@b>\nBcc: s@t,\n u@v\nContent-Length: 3\n"
				  "X: y\n\nb\n"), INJ_OK);
	MSG_IS(PRE "X: y\n\nb\n");
	ENV_IS("Fjoe@example.test\0Tx@y\0");
}
END_TEST

START_TEST(mbox_from)
{
	struct inject_opt o = base();
	o.args = one_rcpt; o.nargs = 1;
	ck_assert_int_eq(runs(&o, "From joe@x Thu Jan  1 00:00:00 1970\nSubject: s\n\nb\n"), INJ_OK);
	MSG_IS(PRE "Subject: s\n\nb\n");
	ck_assert_int_eq(runs(&o, "From joe@x Thu Jan  1 00:00:00 1970\n"), INJ_OK);
	MSG_IS(PRE "\n");
	ck_assert_int_eq(runs(&o, "From joe"), INJ_OK);
	MSG_IS(PRE "\n");
	ck_assert_int_eq(runs(&o, "Subject: s\nFrom joe@x\n\nb\n"), INJ_OK);	/* only the first line */
	MSG_IS(PRE "Subject: s\n\nFrom joe@x\n\nb\n");
	ck_assert_int_eq(runs(&o, "From: a@b\n\nb\n"), INJ_OK);
	MSG_IS("Date: Thu, 1 Jan 1970 00:00:00 +0000\nMessage-ID: <0.42.abc@example.test>\nFrom: a@b\n\nb\n");
}
END_TEST

START_TEST(line_ends)
{
	struct inject_opt o = base();
	o.args = one_rcpt; o.nargs = 1;
	ck_assert_int_eq(runs(&o, "Subject: x\r\n\r\nline1\r\nline2\r\n"), INJ_OK);
	MSG_IS(PRE "Subject: x\n\nline1\nline2\n");
	ck_assert_int_eq(runs(&o, "Subject: x\r\n\r\na\rb\r\r\nc\r"), INJ_OK);
	MSG_IS(PRE "Subject: x\n\na\rb\nc\n");
	ck_assert_int_eq(runs(&o, "S: x\r\r\r\r"), INJ_OK);
	MSG_IS(PRE "S: x\n\n");
	ck_assert_int_eq(runs(&o, "Subject: x\r\n folded\r\n\r\nb"), INJ_OK);
	MSG_IS(PRE "Subject: x\n folded\n\nb\n");
}
END_TEST

START_TEST(dots)
{
	struct inject_opt o = base();
	o.args = one_rcpt; o.nargs = 1;
	o.dotend = 1;
	ck_assert_int_eq(runs(&o, "Subject: x\n\na\n..b\n.c\n.\nignored\n"), INJ_OK);
	MSG_IS(PRE "Subject: x\n\na\n..b\n.c\n");
	ck_assert_int_eq(runs(&o, "Subject: x\r\n\r\na\r\n.\r\nignored\r\n"), INJ_OK);
	MSG_IS(PRE "Subject: x\n\na\n");
	ck_assert_int_eq(runs(&o, "Subject: x\n.\nTo: y\n"), INJ_OK);		/* in the header */
	MSG_IS(PRE "Subject: x\n\n");
	ck_assert_int_eq(runs(&o, ".\n"), INJ_OK);
	MSG_IS(PRE "\n");
	ck_assert_int_eq(runs(&o, "Subject: x\n\na\n."), INJ_OK);		/* "." at EOF is data */
	MSG_IS(PRE "Subject: x\n\na\n.\n");
	ck_assert_int_eq(runs(&o, "Subject: x\n\na\n.\r"), INJ_OK);
	MSG_IS(PRE "Subject: x\n\na\n.\n");
	ck_assert_int_eq(runs(&o, "Subject: x\n\na.\n x\n"), INJ_OK);
	MSG_IS(PRE "Subject: x\n\na.\n x\n");
	o.dotend = 0;
	ck_assert_int_eq(runs(&o, "Subject: x\n\na\n.\nb\n"), INJ_OK);
	MSG_IS(PRE "Subject: x\n\na\n.\nb\n");
}
END_TEST

START_TEST(eight_bit_nul)
{
	struct inject_opt o = base();
	o.args = one_rcpt; o.nargs = 1;
	const char in[] = "Subject: gr\xc3\xbc\xc3\x9f \0x\n\nb\0dy \xff\xfe\n";
	ck_assert_int_eq(run(&o, in, sizeof in - 1), INJ_OK);
	const char want[] = PRE "Subject: gr\xc3\xbc\xc3\x9f \0x\n\nb\0dy \xff\xfe\n";
	msg_is(want, sizeof want - 1);
}
END_TEST

START_TEST(long_lines)
{
	struct inject_opt o = base();
	o.args = one_rcpt; o.nargs = 1;
	char *in = malloc(3000), *want = malloc(4000);
	/* a field of exactly 998 bytes is a field; 999 is body */
	memcpy(in, "X-Long: ", 8);
	memset(in + 8, 'a', 990);
	memcpy(in + 998, "\n\nb\n", 4);
	ck_assert_int_eq(run(&o, in, 1002), INJ_OK);
	size_t pl = strlen(PRE);
	memcpy(want, PRE, pl);
	memcpy(want + pl, in, 1002);
	msg_is(want, pl + 1002);
	in[998] = 'a';
	memcpy(in + 999, "\nY: z\n\nb\n", 9);
	ck_assert_int_eq(run(&o, in, 1008), INJ_OK);
	memcpy(want + pl, "\n", 1);
	memcpy(want + pl + 1, in, 1008);
	msg_is(want, pl + 1009);
	/* a long line after fields */
	memcpy(in, "S: x\n", 5);
	memset(in + 5, 'q', 2000);
	ck_assert_int_eq(run(&o, in, 2005), INJ_OK);
	memcpy(want + pl, "S: x\n\n", 6);
	memset(want + pl + 6, 'q', 2000);
	want[pl + 2006] = '\n';
	msg_is(want, pl + 2007);
	free(in);
	free(want);
}
END_TEST

START_TEST(header_limit)
{
	struct inject_opt o = base();
	o.args = one_rcpt; o.nargs = 1;
	size_t n = (INJECT_HEADMAX / 100 + 20) * 100;
	char *in = malloc(n);
	for (size_t i = 0; i < n; i += 100) {
		memcpy(in + i, "X-Pad: ", 7);
		memset(in + i + 7, 'p', 92);
		in[i + 99] = '\n';
	}
	stralloc m = {0}, e = {0};
	ck_assert_int_eq(inject_buffer(&o, in, n, &m, &e), INJ_EHEADER);
	/* just under the limit is fine */
	ck_assert_int_eq(inject_buffer(&o, in, INJECT_HEADMAX - 100, &m, &e), INJ_OK);
	free(in);
	stralloc_free(&m);
	stralloc_free(&e);
}
END_TEST

START_TEST(recipients)
{
	struct inject_opt o = base();
	o.rcpt_headers = 1;
	ck_assert_int_eq(runs(&o, "To: A <a@x>, root\nCc: \"c d\"@y (cmt)\nBcc: hidden@z,\n\tgroup: g@h;\n"
				  "Subject: s\n\nb\n"), INJ_OK);
	MSG_IS(PRE "To: A <a@x>, root\nCc: \"c d\"@y (cmt)\nSubject: s\n\nb\n");
	ENV_IS("Fjoe@example.test\0Ta@x\0Troot@example.test\0Tc d@y\0Thidden@z\0Tg@h\0");
	/* several fields of the same name, duplicates dropped, arguments too */
	char *args[] = { "arg@x", "a@x", 0 };
	o.args = args; o.nargs = 2;
	ck_assert_int_eq(runs(&o, "To: a@x\nTO: b@x\ncc: a@x, undisclosed-recipients:;\n\n"), INJ_OK);
	ENV_IS("Fjoe@example.test\0Targ@x\0Ta@x\0Tb@x\0");
	/* Resent- */
	o.nargs = 0;
	ck_assert_int_eq(runs(&o, "From: a@b\nDate: d\nMessage-ID: <i@d>\nTo: orig@x\n"
				  "Resent-To: new@x\nResent-Bcc: secret@x\n\nb\n"), INJ_OK);
	MSG_IS("Resent-From: Joe User <joe@example.test>\nResent-Date: Thu, 1 Jan 1970 00:00:00 +0000\n"
	       "Resent-Message-ID: <0.42.abc@example.test>\n"
	       "From: a@b\nDate: d\nMessage-ID: <i@d>\nTo: orig@x\nResent-To: new@x\n\nb\n");
	ENV_IS("Fjoe@example.test\0Tnew@x\0Tsecret@x\0");
	/* without rcpt_headers the header's addresses are not used, Bcc still goes */
	o.rcpt_headers = 0;
	o.args = one_rcpt; o.nargs = 1;
	ck_assert_int_eq(runs(&o, "To: a@b\nBcc: c@d\n\n"), INJ_OK);
	MSG_IS(PRE "To: a@b\n\n");
	ENV_IS("Fjoe@example.test\0Tx@y\0");
	/* a header that ended early: fields after the body's start are body */
	o.rcpt_headers = 1; o.nargs = 0;
	ck_assert_int_eq(runs(&o, "To: a@b\nbody line\nTo: c@d\n"), INJ_OK);
	ENV_IS("Fjoe@example.test\0Ta@b\0");
}
END_TEST

START_TEST(bad_recipients)
{
	struct inject_opt o = base();
	o.rcpt_headers = 1;
	ck_assert_int_eq(runs(&o, "To: John Doe\n\n"), INJ_EADDR);
	ck_assert_ptr_nonnull(strstr(errbuf, "To: John Doe"));
	ck_assert_int_eq(runs(&o, "To: undisclosed-recipients:;\n\n"), INJ_ENORCPT);
	ck_assert_int_eq(runs(&o, "Subject: nothing\n\n"), INJ_ENORCPT);
	o.rcpt_headers = 0;
	ck_assert_int_eq(runs(&o, "To: a@b\n\n"), INJ_ENORCPT);
	char *bad[] = { "a b@c", 0 };
	o.args = bad; o.nargs = 1;
	ck_assert_int_eq(runs(&o, "x"), INJ_EUSAGE);
	ck_assert_ptr_nonnull(strstr(errbuf, "a b@c"));
}
END_TEST

START_TEST(senders)
{
	struct inject_opt o = base();
	o.args = one_rcpt; o.nargs = 1;
	o.sender = "postmaster";
	ck_assert_int_eq(runs(&o, "x"), INJ_OK);
	ENV_IS("Fpostmaster@example.test\0Tx@y\0");
	o.sender = "";
	ck_assert_int_eq(runs(&o, "x"), INJ_OK);
	ENV_IS("F\0Tx@y\0");
	o.sender = "<>";
	ck_assert_int_eq(runs(&o, "x"), INJ_OK);
	ENV_IS("F\0Tx@y\0");
	o.sender = "Some One <s@o.example>";
	ck_assert_int_eq(runs(&o, "x"), INJ_OK);
	ENV_IS("Fs@o.example\0Tx@y\0");
	o.sender = "a@b, c@d";
	ck_assert_int_eq(runs(&o, "x"), INJ_EUSAGE);
	o.sender = "a b";
	ck_assert_int_eq(runs(&o, "x"), INJ_EUSAGE);
	char *args[] = { "root", "A <b@c>, d@e", "", 0 };
	o.sender = 0;
	o.args = args; o.nargs = 3;
	ck_assert_int_eq(runs(&o, "x"), INJ_OK);
	ENV_IS("Fjoe@example.test\0Troot@example.test\0Tb@c\0Td@e\0");
}
END_TEST

static int fail_w(void *ctx, const char *s, size_t n) { (void)ctx; (void)s; (void)n; return -1; }

START_TEST(write_error)
{
	struct inject_opt o = base();
	o.args = one_rcpt; o.nargs = 1;
	static struct inject ij;
	ck_assert_int_eq(inject_init(&ij, &o), INJ_OK);
	size_t used;
	ck_assert_int_eq(inject_feed(&ij, "S: x\n\nbody\n", 11, &used), INJ_OK);
	ck_assert_uint_eq(used, 6);
	ck_assert(inject_headdone(&ij));
	ck_assert_int_eq(inject_header(&ij), INJ_OK);
	ck_assert_int_eq(inject_begin(&ij, fail_w, 0), INJ_EWRITE);
	inject_free(&ij);
}
END_TEST

START_TEST(exit_codes)
{
	const char *why;
	ck_assert_int_eq(inject_exitcode(0, &why), 0);
	ck_assert_int_eq(inject_exitcode(11, &why), 65);
	ck_assert_int_eq(inject_exitcode(31, &why), 69);
	ck_assert_int_eq(inject_exitcode(91, &why), 65);
	ck_assert_int_eq(inject_exitcode(53, &why), 75);
	ck_assert_ptr_nonnull(strstr(why, "disk full"));
	ck_assert_int_eq(inject_exitcode(71, &why), 75);
	ck_assert_int_eq(inject_exitcode(81, &why), 75);
	ck_assert_int_eq(inject_exitcode(45, &why), 75);
	ck_assert_int_eq(inject_exitcode(100, &why), 75);
	ck_assert_int_eq(inject_exitcode(1, &why), 69);
	ck_assert_int_eq(inject_exitcode(128 + 9, &why), 75);
	ck_assert_int_eq(inject_exitcode(-1, &why), 75);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("inject");
	TCase *tc = tcase_create("core");
	setenv("TZ", "UTC", 1);
	tcase_add_test(tc, adds_fields);
	tcase_add_test(tc, header_shapes);
	tcase_add_test(tc, mbox_from);
	tcase_add_test(tc, line_ends);
	tcase_add_test(tc, dots);
	tcase_add_test(tc, eight_bit_nul);
	tcase_add_test(tc, long_lines);
	tcase_add_test(tc, header_limit);
	tcase_add_test(tc, recipients);
	tcase_add_test(tc, bad_recipients);
	tcase_add_test(tc, senders);
	tcase_add_test(tc, write_error);
	tcase_add_test(tc, exit_codes);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf != 0;
}
