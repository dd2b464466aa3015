/* Unit tests: strict base64 and the SASL PLAIN and LOGIN fields (sasl.h). */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include "sasl.h"

/* ---- sasl_b64decode ---- */

static unsigned char out[SASL_LINEMAX];

static long dec(const char *s) { return sasl_b64decode(s, strlen(s), out, sizeof out); }

/* want is a string literal: its size counts the NULs in it. */
#define GOOD(s, want) do {							\
	memset(out, 0xa5, sizeof out);						\
	long r_ = dec(s);							\
	ck_assert_msg(r_ == (long)sizeof want - 1, "%s: got %ld, want %zu", s, r_, sizeof want - 1); \
	ck_assert_msg(!memcmp(out, want, sizeof want - 1), "%s: wrong bytes", s); \
	ck_assert_int_eq(out[sizeof want - 1], 0xa5);	/* nothing more written */ \
} while (0)
#define BAD(s) ck_assert_msg(dec(s) == -1, "accepted: \"%s\"", s)

START_TEST(b64_rfc4648)
{
	/* RFC 4648 section 10. */
	GOOD("", "");
	GOOD("Zg==", "f");
	GOOD("Zm8=", "fo");
	GOOD("Zm9v", "foo");
	GOOD("Zm9vYg==", "foob");
	GOOD("Zm9vYmE=", "fooba");
	GOOD("Zm9vYmFy", "foobar");
	/* The whole alphabet, and bytes no text holds. */
	GOOD("+/+/", "\xfb\xff\xbf");
	GOOD("AAAA", "\0\0\0");
	GOOD("////", "\xff\xff\xff");
	GOOD("AP8A", "\x00\xff\x00");
}
END_TEST

START_TEST(b64_empty_response)
{
	/* "=" alone is an empty response (RFC 4954 section 4), decoded to nothing. */
	memset(out, 0xa5, sizeof out);
	ck_assert_int_eq(sasl_b64decode("=", 1, out, sizeof out), 0);
	ck_assert_int_eq(out[0], 0xa5);
	ck_assert_int_eq(sasl_b64decode("=", 1, out, 0), 0);
	ck_assert_int_eq(sasl_b64decode("", 0, out, 0), 0);
	/* Only "=" alone. */
	BAD("==");
	BAD("===");
	BAD("====");
	BAD("= ");
	BAD("=\r\n");
}
END_TEST

START_TEST(b64_noncanonical)
{
	/* The bits a padded group drops must be zero: "Zm8=" is "fo", "Zm9=" is not. */
	BAD("Zm9=");
	BAD("Zm+=");
	BAD("Zm/=");
	BAD("Zh==");
	BAD("Zv==");
	BAD("Z/==");
	BAD("Zm9vYh==");
	BAD("Zm9vYmF=");
	BAD("AB==");
	BAD("AAB=");
	GOOD("AA==", "\0");
	GOOD("AAA=", "\0\0");
	GOOD("AQ==", "\x01");
	GOOD("AAE=", "\0\x01");
}
END_TEST

START_TEST(b64_padding)
{
	/* Missing padding. */
	BAD("Zg");
	BAD("Zg=");
	BAD("Zm8");
	BAD("Zm9vYg");
	BAD("Zm9vYmE");
	/* '=' anywhere but the last one or two places of the last group. */
	BAD("Zg==Zg==");
	BAD("Zm8=Zm9v");
	BAD("Zm=v");
	BAD("Z=9v");
	BAD("=m9v");
	BAD("Zg=A");
	BAD("Z===");
	BAD("Zm9v====");
	BAD("Zm9vY===");
	/* Too much padding. */
	BAD("Zg===");
	BAD("Zm9v=");
}
END_TEST

START_TEST(b64_bad_bytes)
{
	/* White space and line ends, anywhere. */
	static const char *bad[] = {
		" Zm9v", "Zm9v ", "Zm 9v", "Zm9\tv", "Zm9v\r\n", "Zm9v\n", "Zm9v\r", "Zm\r\n9v",
		"Zm9vYmFy\n", "Zg==\n", "Zg== ", "Zm9v\v", "Zm9v\f",
		/* ... also where the length alone would pass. */
		"Zm 9", "Zm9 ", " Zm9", "\tZm9", "Zm\r\n", "Zm9\n", "Zm9\r", "Zm9v\r\nZg", "Zg \n", "Zg= ",
		"Zm9v\r\nZm9v\r\n",
		/* Outside the alphabet: base64url, punctuation, 8-bit, control bytes. */
		"Zm9-", "Zm9_", "Zm9.", "Zm9*", "Zm9\x80", "Zm9\xff", "Zm9\x7f", "Zm9\x01", "Zm9\"",
		"Zm9\\", "Zm9:", "Zm9@", "Zm9[", "Zm9`", "Zm9{",
		/* Not a multiple of 4. */
		"Z", "Zm", "Zm9", "Zm9vY", "Zm9vYm", "Zm9vYmF", "Zm9vYmFy" "Z",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(dec(bad[i]) == -1, "accepted #%zu: \"%s\"", i, bad[i]);
	/* A NUL byte inside the input, which strlen would hide. */
	ck_assert_int_eq(sasl_b64decode("Zm\0v", 4, out, sizeof out), -1);
	ck_assert_int_eq(sasl_b64decode("Zg=\0", 4, out, sizeof out), -1);
	ck_assert_int_eq(sasl_b64decode("\0", 1, out, sizeof out), -1);
	/* n bounds the input: the group past n is not seen. */
	ck_assert_int_eq(sasl_b64decode("Zm9vYmFy", 4, out, sizeof out), 3);
	ck_assert_int_eq(sasl_b64decode("Zm9v!!!!", 4, out, sizeof out), 3);
	ck_assert_int_eq(sasl_b64decode("Zg==", 3, out, sizeof out), -1);
}
END_TEST

START_TEST(b64_outbuf)
{
	/* The contract is n / 4 * 3 bytes of room, padding or not. */
	unsigned char small[8];
	memset(small, 0xa5, sizeof small);
	ck_assert_int_eq(sasl_b64decode("Zm9vYmFy", 8, small, 6), 6);
	ck_assert(!memcmp(small, "foobar", 6));
	ck_assert_int_eq(small[6], 0xa5);
	ck_assert_int_eq(sasl_b64decode("Zm9vYmFy", 8, small, 5), -1);
	ck_assert_int_eq(sasl_b64decode("Zm9vYmFy", 8, small, 0), -1);
	ck_assert_int_eq(sasl_b64decode("Zm9vYg==", 8, small, 6), 4);
	ck_assert_int_eq(sasl_b64decode("Zm9vYg==", 8, small, 5), -1);
	ck_assert_int_eq(sasl_b64decode("Zm9v", 4, small, 3), 3);
	ck_assert_int_eq(sasl_b64decode("Zm9v", 4, small, 2), -1);
	ck_assert_int_eq(sasl_b64decode("Zg==", 4, small, 2), -1);
	/* Nothing past outn is written (ASan sees an exact-size heap buffer). */
	unsigned char *h = malloc(3);
	ck_assert_ptr_nonnull(h);
	ck_assert_int_eq(sasl_b64decode("Zm9v", 4, h, 3), 3);
	ck_assert(!memcmp(h, "foo", 3));
	ck_assert_int_eq(sasl_b64decode("Zm9vYmFy", 8, h, 3), -1);
	free(h);
}
END_TEST

/* ---- sasl_b64encode ---- */

START_TEST(b64_encode)
{
	char e[16];
	static const struct { const char *in, *want; } v[] = {
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" }, { "foob", "Zm9vYg==" },
		{ "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
	};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		size_t n = strlen(v[i].in);
		ck_assert_uint_eq(sasl_b64encode((const unsigned char *)v[i].in, n, e, sizeof e), strlen(v[i].want));
		ck_assert_str_eq(e, v[i].want);
		/* Exactly 4 * ((n + 2) / 3) + 1 is enough, one byte less is not. */
		size_t need = 4 * ((n + 2) / 3) + 1;
		memset(e, 'x', sizeof e);
		ck_assert_uint_eq(sasl_b64encode((const unsigned char *)v[i].in, n, e, need), strlen(v[i].want));
		ck_assert_str_eq(e, v[i].want);
		memset(e, 'x', sizeof e);
		ck_assert_uint_eq(sasl_b64encode((const unsigned char *)v[i].in, n, e, need - 1), 0);
		if (need > 1) ck_assert_int_eq(e[0], 0);
		ck_assert_int_eq(e[need - 1], 'x');
	}
	memset(e, 'x', sizeof e);
	ck_assert_uint_eq(sasl_b64encode((const unsigned char *)"f", 1, e, 0), 0);
	ck_assert_int_eq(e[0], 'x');		/* outn 0: not even a NUL */
}
END_TEST

START_TEST(b64_roundtrip)
{
	static unsigned char in[301], back[301];
	static char enc[4 * 101 + 1];
	srandom(4648);
	for (int round = 0; round < 4; round++) {
		for (size_t n = 0; n <= 300; n++) {
			for (size_t i = 0; i < n; i++) in[i] = (unsigned char)(random() & 0xff);
			if (round == 1) memset(in, 0, n);
			if (round == 2) memset(in, 0xff, n);
			size_t need = 4 * ((n + 2) / 3) + 1;
			char *e = malloc(need);	/* exact size: ASan sees a write past it */
			ck_assert_ptr_nonnull(e);
			size_t el = sasl_b64encode(in, n, e, need);
			ck_assert_uint_eq(el, need - 1);
			ck_assert_uint_eq(strlen(e), el);
			ck_assert_uint_eq(el % 4, 0);
			memcpy(enc, e, el + 1);
			free(e);
			memset(back, 0xa5, sizeof back);
			long d = sasl_b64decode(enc, el, back, el / 4 * 3);
			ck_assert_msg(d == (long)n, "n %zu: decoded %ld", n, d);
			ck_assert_msg(!memcmp(in, back, n), "n %zu: bytes differ", n);
			if (n < sizeof back) ck_assert_int_eq(back[n], 0xa5);
		}
	}
}
END_TEST

/* ---- sasl_plain ---- */

static struct sasl_cred c;

static int plain(const char *s, size_t n)
{
	/* An exact-size copy, so that ASan sees any read past the end. */
	unsigned char *b = malloc(n ? n : 1);
	ck_assert_ptr_nonnull(b);
	memcpy(b, s, n);
	memset(&c, 0x5a, sizeof c);
	int r = sasl_plain(b, n, &c);
	free(b);
	return r;
}
#define PLAIN(lit) plain(lit, sizeof lit - 1)

/* After a refusal, nothing of the message is left in the credential. */
static void assert_wiped(void)
{
	static const struct sasl_cred zero;
	ck_assert(!memcmp(&c, &zero, sizeof c));
}

START_TEST(plain_good)
{
	ck_assert_int_eq(PLAIN("\0user\0pass"), 0);
	ck_assert_uint_eq(c.zlen, 0);
	ck_assert_str_eq(c.authzid, "");
	ck_assert_uint_eq(c.clen, 4);
	ck_assert_str_eq(c.authcid, "user");
	ck_assert_uint_eq(c.plen, 4);
	ck_assert_str_eq(c.pass, "pass");

	ck_assert_int_eq(PLAIN("authz\0user\0pass"), 0);
	ck_assert_uint_eq(c.zlen, 5);
	ck_assert_str_eq(c.authzid, "authz");
	ck_assert_str_eq(c.authcid, "user");
	ck_assert_str_eq(c.pass, "pass");

	/* One byte each; spaces, 8-bit and other control bytes are the checker's business. */
	ck_assert_int_eq(PLAIN("\0u\0p"), 0);
	ck_assert_uint_eq(c.clen, 1);
	ck_assert_uint_eq(c.plen, 1);
	ck_assert_int_eq(PLAIN("a b\0d\xc3\xa9mo@example.test\0p a\tss\x01"), 0);
	ck_assert_str_eq(c.authzid, "a b");
	ck_assert_str_eq(c.authcid, "d\xc3\xa9mo@example.test");
	ck_assert_str_eq(c.pass, "p a\tss\x01");
	ck_assert_uint_eq(c.plen, 7);
}
END_TEST

START_TEST(plain_bad)
{
	ck_assert_int_eq(plain("", 0), -1);
	ck_assert_int_eq(PLAIN("userpass"), -1);		/* no NUL */
	ck_assert_int_eq(PLAIN("user\0pass"), -1);		/* one */
	ck_assert_int_eq(PLAIN("\0"), -1);
	ck_assert_int_eq(PLAIN("a\0u\0p\0"), -1);		/* three */
	assert_wiped();
	ck_assert_int_eq(PLAIN("a\0u\0p\0q"), -1);
	assert_wiped();
	ck_assert_int_eq(PLAIN("\0\0\0"), -1);
	ck_assert_int_eq(PLAIN("\0u\0\0"), -1);
	ck_assert_int_eq(PLAIN("a\0\0pass"), -1);		/* empty authcid */
	assert_wiped();
	ck_assert_int_eq(PLAIN("\0\0pass"), -1);
	ck_assert_int_eq(PLAIN("a\0user\0"), -1);		/* empty password */
	assert_wiped();
	ck_assert_int_eq(PLAIN("\0user\0"), -1);
	ck_assert_int_eq(PLAIN("\0\0"), -1);
	/* CR or LF in any field. */
	static const char *crlf[] = { "a\rb\0u\0p", "a\nb\0u\0p", "\0u\r\0p", "\0\nu\0p", "\0u\0p\r\n",
				      "\0u\0\rp", "\0u\0p\n", "\r\0u\0p", "\0u\0pa\rss" };
	for (size_t i = 0; i < sizeof crlf / sizeof crlf[0]; i++) {
		size_t n = strlen(crlf[i]);
		n += strlen(crlf[i] + n + 1) + 1;
		n += strlen(crlf[i] + n + 1) + 1;
		ck_assert_msg(plain(crlf[i], n) == -1, "accepted CR/LF #%zu", i);
		assert_wiped();
	}
}
END_TEST

/* authzid NUL authcid NUL pass, with fields of the given lengths. */
static int plain_sized(size_t z, size_t a, size_t p)
{
	size_t n = z + a + p + 2;
	char *b = malloc(n);
	ck_assert_ptr_nonnull(b);
	memset(b, 'z', z);
	b[z] = 0;
	memset(b + z + 1, 'a', a);
	b[z + 1 + a] = 0;
	memset(b + z + a + 2, 'p', p);
	int r = plain(b, n);
	free(b);
	return r;
}

START_TEST(plain_lengths)
{
	ck_assert_int_eq(plain_sized(SASL_FIELDMAX, SASL_FIELDMAX, SASL_FIELDMAX), 0);
	ck_assert_uint_eq(c.zlen, SASL_FIELDMAX);
	ck_assert_uint_eq(c.clen, SASL_FIELDMAX);
	ck_assert_uint_eq(c.plen, SASL_FIELDMAX);
	ck_assert_uint_eq(strlen(c.authzid), SASL_FIELDMAX);
	ck_assert_uint_eq(strlen(c.authcid), SASL_FIELDMAX);
	ck_assert_uint_eq(strlen(c.pass), SASL_FIELDMAX);
	ck_assert_int_eq(c.pass[SASL_FIELDMAX - 1], 'p');
	ck_assert_int_eq(plain_sized(0, 1024, 1), 0);
	ck_assert_int_eq(plain_sized(1025, 1, 1), -1);
	assert_wiped();
	ck_assert_int_eq(plain_sized(0, 1025, 1), -1);
	assert_wiped();
	ck_assert_int_eq(plain_sized(0, 1, 1025), -1);
	assert_wiped();
	ck_assert_int_eq(plain_sized(1024, 1024, 1025), -1);
	assert_wiped();
	ck_assert_int_eq(plain_sized(4000, 4000, 4000), -1);
}
END_TEST

/* ---- sasl_field, sasl_wipe ---- */

START_TEST(field_rules)
{
	char f[SASL_FIELDMAX + 1];
	size_t fl = 99;
	ck_assert_int_eq(sasl_field((const unsigned char *)"demo", 4, f, &fl), 0);
	ck_assert_str_eq(f, "demo");
	ck_assert_uint_eq(fl, 4);
	ck_assert_int_eq(sasl_field((const unsigned char *)"p w\xff", 4, f, &fl), 0);
	ck_assert_str_eq(f, "p w\xff");
	fl = 99;
	ck_assert_int_eq(sasl_field((const unsigned char *)"", 0, f, &fl), -1);	/* empty */
	ck_assert_uint_eq(fl, 99);
	ck_assert_int_eq(sasl_field((const unsigned char *)"a\0b", 3, f, &fl), -1);
	ck_assert_int_eq(sasl_field((const unsigned char *)"\0", 1, f, &fl), -1);
	ck_assert_int_eq(sasl_field((const unsigned char *)"ab\0", 3, f, &fl), -1);
	ck_assert_int_eq(sasl_field((const unsigned char *)"a\rb", 3, f, &fl), -1);
	ck_assert_int_eq(sasl_field((const unsigned char *)"a\nb", 3, f, &fl), -1);
	ck_assert_int_eq(sasl_field((const unsigned char *)"ab\r\n", 4, f, &fl), -1);
	/* n bounds the field. */
	ck_assert_int_eq(sasl_field((const unsigned char *)"ab\r\n", 2, f, &fl), 0);
	ck_assert_str_eq(f, "ab");
	unsigned char big[SASL_FIELDMAX + 1];
	memset(big, 'x', sizeof big);
	ck_assert_int_eq(sasl_field(big, SASL_FIELDMAX, f, &fl), 0);
	ck_assert_uint_eq(fl, SASL_FIELDMAX);
	ck_assert_uint_eq(strlen(f), SASL_FIELDMAX);
	ck_assert_int_eq(sasl_field(big, SASL_FIELDMAX + 1, f, &fl), -1);
}
END_TEST

START_TEST(field_from_base64)
{
	/* What an AUTH LOGIN exchange carries: "ZGVtbw==" is "demo". */
	unsigned char d[16];
	char f[SASL_FIELDMAX + 1];
	size_t fl;
	long n = sasl_b64decode("ZGVtbw==", 8, d, sizeof d);
	ck_assert_int_eq(n, 4);
	ck_assert_int_eq(sasl_field(d, (size_t)n, f, &fl), 0);
	ck_assert_str_eq(f, "demo");
	/* "=" (empty) is no user name. */
	n = sasl_b64decode("=", 1, d, sizeof d);
	ck_assert_int_eq(n, 0);
	ck_assert_int_eq(sasl_field(d, (size_t)n, f, &fl), -1);
	/* PLAIN through base64: "\0demo\0secret". */
	n = sasl_b64decode("AGRlbW8Ac2VjcmV0", 16, d, sizeof d);
	ck_assert_int_eq(n, 12);
	ck_assert_int_eq(sasl_plain(d, (size_t)n, &c), 0);
	ck_assert_str_eq(c.authcid, "demo");
	ck_assert_str_eq(c.pass, "secret");
}
END_TEST

START_TEST(wipe_zeroes)
{
	ck_assert_int_eq(PLAIN("authz\0user\0secret"), 0);
	ck_assert_str_eq(c.pass, "secret");
	sasl_wipe(&c);
	assert_wiped();
	/* All of it, not just the strings. */
	memset(&c, 0xff, sizeof c);
	sasl_wipe(&c);
	assert_wiped();
	ck_assert_uint_eq(c.zlen + c.clen + c.plen, 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sasl");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, b64_rfc4648);
	tcase_add_test(tc, b64_empty_response);
	tcase_add_test(tc, b64_noncanonical);
	tcase_add_test(tc, b64_padding);
	tcase_add_test(tc, b64_bad_bytes);
	tcase_add_test(tc, b64_outbuf);
	tcase_add_test(tc, b64_encode);
	tcase_add_test(tc, b64_roundtrip);
	tcase_add_test(tc, plain_good);
	tcase_add_test(tc, plain_bad);
	tcase_add_test(tc, plain_lengths);
	tcase_add_test(tc, field_rules);
	tcase_add_test(tc, field_from_base64);
	tcase_add_test(tc, wipe_zeroes);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int f = srunner_ntests_failed(sr);
	srunner_free(sr);
	return f != 0;
}
