/* Unit tests: tern-tlsd's session description and the BearSSL names (tlsctl.h). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bearssl.h>
#include "tlsctl.h"

static struct tls_info ti;

static int parse_n(const char *s, size_t n)
{
	/* An exact-size copy, so that ASan sees any read past the end. */
	char *b = malloc(n ? n : 1);
	ck_assert_ptr_nonnull(b);
	memcpy(b, s, n);
	memset(&ti, 0x5a, sizeof ti);
	int r = tlsctl_parse(b, n, &ti);
	free(b);
	return r;
}
static int parse(const char *s) { return parse_n(s, strlen(s)); }

#define BAD(s) ck_assert_msg(parse(s) == -1, "accepted: \"%s\"", s)

static void set(struct tls_info *t, const char *proto, const char *cipher, const char *sni)
{
	memset(t, 0, sizeof *t);
	memcpy(t->proto, proto, strlen(proto) + 1);
	memcpy(t->cipher, cipher, strlen(cipher) + 1);
	memcpy(t->sni, sni, strlen(sni) + 1);
}

/* A string of n copies of c, in a static buffer. */
static const char *rep(char c, size_t n)
{
	static char b[1024];
	ck_assert_uint_lt(n, sizeof b);
	memset(b, c, n);
	b[n] = 0;
	return b;
}

START_TEST(parse_good)
{
	ck_assert_int_eq(parse("tls=TLSv1.2 cipher=ECDHE-RSA-AES128-GCM-SHA256"), 0);
	ck_assert_str_eq(ti.proto, "TLSv1.2");
	ck_assert_str_eq(ti.cipher, "ECDHE-RSA-AES128-GCM-SHA256");
	ck_assert_str_eq(ti.sni, "");
	ck_assert_int_eq(parse("tls=TLSv1.2 cipher=ECDHE-ECDSA-CHACHA20-POLY1305 sni=mail.example.test"), 0);
	ck_assert_str_eq(ti.proto, "TLSv1.2");
	ck_assert_str_eq(ti.cipher, "ECDHE-ECDSA-CHACHA20-POLY1305");
	ck_assert_str_eq(ti.sni, "mail.example.test");
	/* Any order. */
	ck_assert_int_eq(parse("sni=a cipher=AES128-SHA tls=TLSv1.0"), 0);
	ck_assert_str_eq(ti.proto, "TLSv1.0");
	ck_assert_str_eq(ti.cipher, "AES128-SHA");
	ck_assert_str_eq(ti.sni, "a");
	/* n bounds the input. */
	const char *s = "tls=TLSv1.2 cipher=X sni=host";
	ck_assert_int_eq(parse_n(s, 20), 0);
	ck_assert_str_eq(ti.cipher, "X");
	ck_assert_str_eq(ti.sni, "");
	ck_assert_int_eq(parse_n(s, 21), -1);		/* a trailing space */
	ck_assert_int_eq(parse_n(s, 19), -1);		/* "cipher=" */
}
END_TEST

START_TEST(parse_missing)
{
	BAD("");
	ck_assert_int_eq(parse_n("", 0), -1);
	BAD("tls=TLSv1.2");				/* no cipher */
	BAD("tls=TLSv1.2 sni=x");
	BAD("cipher=AES128-SHA");			/* no tls */
	BAD("cipher=AES128-SHA sni=x");
	BAD("sni=x");
	BAD("tls= cipher=AES128-SHA");			/* empty values */
	BAD("tls=TLSv1.2 cipher=");
	BAD("tls=TLSv1.2 cipher=X sni=");
	BAD("tls=TLSv1.2 cipher");			/* no '=' */
	BAD("tls cipher=X");
	BAD("tls=TLSv1.2 =X");				/* no key */
	BAD("=");
}
END_TEST

START_TEST(parse_keys)
{
	BAD("tls=TLSv1.2 cipher=X foo=bar");		/* unknown keys */
	BAD("foo=bar tls=TLSv1.2 cipher=X");
	BAD("TLS=TLSv1.2 cipher=X");			/* keys are lowercase */
	BAD("tls=TLSv1.2 Cipher=X");
	BAD("tlsx=TLSv1.2 cipher=X");
	BAD("tl=TLSv1.2 cipher=X");
	BAD("tls=TLSv1.2 ciphe=X");
	BAD("tls=TLSv1.2 cipher=X sn=y");
	BAD("tls=TLSv1.2 cipher=X snix=y");
	ck_assert_int_eq(parse_n("tls\0=TLSv1.2 cipher=X", 21), -1);
	/* Duplicates, even with the same value. */
	BAD("tls=TLSv1.2 tls=TLSv1.2 cipher=X");
	BAD("tls=TLSv1.2 cipher=X cipher=X");
	BAD("tls=TLSv1.2 cipher=X cipher=Y");
	BAD("tls=TLSv1.2 cipher=X sni=a sni=a");
	BAD("sni=a tls=TLSv1.2 sni=b cipher=X");
}
END_TEST

START_TEST(parse_spaces)
{
	BAD("tls=TLSv1.2  cipher=X");			/* double space */
	BAD("tls=TLSv1.2 cipher=X  sni=a");
	BAD("tls=TLSv1.2 cipher=X ");			/* trailing */
	BAD("tls=TLSv1.2 cipher=X sni=a ");
	BAD(" tls=TLSv1.2 cipher=X");			/* leading */
	BAD("  tls=TLSv1.2 cipher=X");
	BAD(" ");
	BAD("tls=TLSv1.2\tcipher=X");			/* only a space separates */
	BAD("tls=TLSv1.2 cipher=X\n");			/* no newline */
	BAD("tls=TLSv1.2 cipher=X\r");
	BAD("tls = TLSv1.2 cipher=X");
}
END_TEST

START_TEST(parse_values)
{
	BAD("tls=TLSv1.2 cipher=\"X\"");		/* quote */
	BAD("tls=TLSv1.2 cipher=X\"");
	BAD("tls=TLSv1.2 cipher=X sni=a\"b");
	BAD("tls=TLSv1.2 cipher=X\\");			/* backslash */
	BAD("tls=TLSv1.2 cipher=X sni=a\\b");
	BAD("tls=TLS\\v1.2 cipher=X");
	static const char ctl[] = { 1, 8, 9, 10, 13, 27, 31, 127 };
	for (size_t i = 0; i < sizeof ctl; i++) {
		char b[64];
		int n = snprintf(b, sizeof b, "tls=TLSv1.2 cipher=X sni=a%cb", ctl[i]);
		ck_assert_int_gt(n, 0);
		ck_assert_msg(parse_n(b, (size_t)n) == -1, "accepted control byte %d", ctl[i]);
		n = snprintf(b, sizeof b, "tls=TLSv1.2 cipher=X%c", ctl[i]);
		ck_assert_msg(parse_n(b, (size_t)n) == -1, "accepted control byte %d", ctl[i]);
	}
	ck_assert_int_eq(parse_n("tls=TLSv1.2 cipher=X sni=a\0b", 28), -1);	/* NUL */
	ck_assert_int_eq(parse_n("tls=TLSv1.2 cipher=X\0", 21), -1);
	BAD("tls=TLSv1.2 cipher=X sni=\xc3\xa9xample.test");	/* 8-bit */
	BAD("tls=TLSv1.2 cipher=X sni=a\x80");
	BAD("tls=TLSv1.2\xff cipher=X");
	/* Everything else printable is a value byte, '=' too. */
	ck_assert_int_eq(parse("tls=!~ cipher=a=b sni=#$%&'()*+,-./:;<>?@[]^_`{|}"), 0);
	ck_assert_str_eq(ti.proto, "!~");
	ck_assert_str_eq(ti.cipher, "a=b");
	ck_assert_str_eq(ti.sni, "#$%&'()*+,-./:;<>?@[]^_`{|}");
}
END_TEST

/* "tls=P cipher=C" or "... sni=S" with values of the given lengths. */
static int parse_sized(size_t p, size_t c, size_t s)
{
	char b[1200];
	size_t n = 0;
	memcpy(b + n, "tls=", 4);
	n += 4;
	memset(b + n, 'p', p);
	n += p;
	memcpy(b + n, " cipher=", 8);
	n += 8;
	memset(b + n, 'c', c);
	n += c;
	if (s) {
		memcpy(b + n, " sni=", 5);
		n += 5;
		memset(b + n, 's', s);
		n += s;
	}
	return parse_n(b, n);
}

START_TEST(parse_lengths)
{
	ck_assert_int_eq(parse_sized(15, 63, 255), 0);
	ck_assert_uint_eq(strlen(ti.proto), 15);
	ck_assert_uint_eq(strlen(ti.cipher), 63);
	ck_assert_uint_eq(strlen(ti.sni), 255);
	ck_assert_int_eq(parse_sized(16, 1, 0), -1);
	ck_assert_int_eq(parse_sized(17, 1, 0), -1);
	ck_assert_int_eq(parse_sized(1, 64, 0), -1);
	ck_assert_int_eq(parse_sized(1, 100, 0), -1);
	ck_assert_int_eq(parse_sized(1, 1, 256), -1);
	ck_assert_int_eq(parse_sized(1, 1, 1000), -1);
	ck_assert_int_eq(parse_sized(15, 63, 256), -1);
}
END_TEST

/* ---- tlsctl_format ---- */

static void roundtrip(const char *proto, const char *cipher, const char *sni, const char *want)
{
	struct tls_info a;
	char out[TLSCTL_LINEMAX];
	set(&a, proto, cipher, sni);
	memset(out, 'x', sizeof out);
	size_t n = tlsctl_format(out, sizeof out, &a);
	ck_assert_uint_gt(n, 0);
	ck_assert_uint_eq(n, strlen(out));
	if (want) ck_assert_str_eq(out, want);
	ck_assert_int_eq(parse_n(out, n), 0);
	ck_assert(!memcmp(&a, &ti, sizeof a));
}

START_TEST(format_roundtrip)
{
	roundtrip("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256", "",
		  "tls=TLSv1.2 cipher=ECDHE-RSA-AES128-GCM-SHA256");
	roundtrip("TLSv1.2", "ECDHE-ECDSA-AES256-GCM-SHA384", "mx.example.test",
		  "tls=TLSv1.2 cipher=ECDHE-ECDSA-AES256-GCM-SHA384 sni=mx.example.test");
	roundtrip("TLSv1.0", "AES128-SHA", "x", "tls=TLSv1.0 cipher=AES128-SHA sni=x");
	/* The longest values there are room for. */
	char p[16], c[64], s[256];
	memcpy(p, rep('p', 15), 16);
	memcpy(c, rep('c', 63), 64);
	memcpy(s, rep('s', 255), 256);
	roundtrip(p, c, s, 0);
	roundtrip(p, c, "", 0);
	/* What the tables give, for every suite and version. */
	static const unsigned vers[] = { BR_TLS10, BR_TLS11, BR_TLS12 };
	static const uint16_t suites[] = {
		BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
		BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, BR_TLS_RSA_WITH_AES_256_CBC_SHA,
	};
	for (size_t i = 0; i < sizeof vers / sizeof vers[0]; i++)
		for (size_t j = 0; j < sizeof suites / sizeof suites[0]; j++)
			roundtrip(tls_version_name(vers[i]), tls_suite_name(suites[j]), "a.example", 0);
}
END_TEST

START_TEST(format_small)
{
	struct tls_info a;
	char out[400];
	const char *want = "tls=TLSv1.2 cipher=AES128-SHA sni=mx.example.test";
	size_t len = strlen(want);
	set(&a, "TLSv1.2", "AES128-SHA", "mx.example.test");
	/* len + 1 (the NUL) fits; every smaller size gives 0 and an empty string. */
	memset(out, 'x', sizeof out);
	ck_assert_uint_eq(tlsctl_format(out, len + 1, &a), len);
	ck_assert_str_eq(out, want);
	for (size_t n = 1; n <= len; n++) {
		memset(out, 'x', sizeof out);
		ck_assert_msg(tlsctl_format(out, n, &a) == 0, "size %zu: not 0", n);
		ck_assert_int_eq(out[0], 0);
		ck_assert_msg(out[n] == 'x', "size %zu: wrote past the end", n);
	}
	memset(out, 'x', sizeof out);
	ck_assert_uint_eq(tlsctl_format(out, 0, &a), 0);
	ck_assert_int_eq(out[0], 'x');
	/* The same without sni, and at the largest values. */
	set(&a, "TLSv1.2", "AES128-SHA", "");
	len = strlen("tls=TLSv1.2 cipher=AES128-SHA");
	ck_assert_uint_eq(tlsctl_format(out, len + 1, &a), len);
	ck_assert_uint_eq(tlsctl_format(out, len, &a), 0);
	ck_assert_int_eq(out[0], 0);
	memcpy(a.proto, rep('p', 15), 16);
	memcpy(a.cipher, rep('c', 63), 64);
	memcpy(a.sni, rep('s', 255), 256);
	len = 4 + 15 + 8 + 63 + 5 + 255;
	ck_assert_uint_lt(len, TLSCTL_LINEMAX);
	/* An exact-size heap buffer, so that ASan sees a write past it. */
	char *h = malloc(len + 1);
	ck_assert_ptr_nonnull(h);
	ck_assert_uint_eq(tlsctl_format(h, len + 1, &a), len);
	ck_assert_uint_eq(strlen(h), len);
	ck_assert_uint_eq(tlsctl_format(h, len, &a), 0);
	free(h);
}
END_TEST

/* ---- tls_suite_name, tls_version_name ---- */

START_TEST(client_cert)
{
	const char *d = "tls=TLSv1.2 cipher=ECDHE-ECDSA-AES128-GCM-SHA256 ccert_cn=client_one "
			"ccert_fp=sha256:a6a79462f56dec663e3dfcf8174d57a83521bbd25bda139666fb2a08a9ebf7b0 ccert_verify=ok";
	ck_assert_int_eq(parse(d), 0);
	ck_assert_str_eq(ti.ccert_cn, "client_one");
	ck_assert_str_eq(ti.ccert_verify, "ok");
	ck_assert_uint_eq(strlen(ti.ccert_fp), 71);
	char out[TLSCTL_LINEMAX];
	struct tls_info a = ti;
	ck_assert_uint_eq(tlsctl_format(out, sizeof out, &a), strlen(d));
	ck_assert_str_eq(out, d);
	/* Without one, none of the fields is written. */
	set(&a, "TLSv1.2", "X", "");
	tlsctl_format(out, sizeof out, &a);
	ck_assert_str_eq(out, "tls=TLSv1.2 cipher=X");
	BAD("tls=TLSv1.2 cipher=X ccert_cn=a ccert_cn=b");
	BAD("tls=TLSv1.2 cipher=X ccert_cn=");
	BAD("tls=TLSv1.2 cipher=X ccert_cn=a\"b");
	BAD("tls=TLSv1.2 cipher=X ccert_verify=maybe-too-long");
	ck_assert_int_eq(parse("tls=TLSv1.2 cipher=X ccert_verify=fail"), 0);
	BAD("tls=TLSv1.2 cipher=X ccert=a");
	/* Every field at its largest still fits one control line, with "ok " and "\n". */
	struct tls_info m;
	memset(&m, 0, sizeof m);
	memcpy(m.proto, rep('p', 15), 16);
	memcpy(m.cipher, rep('c', 63), 64);
	memcpy(m.sni, rep('s', 255), 256);
	memcpy(m.ccert_cn, rep('n', 127), 128);
	memcpy(m.ccert_fp, rep('f', 71), 72);
	memcpy(m.ccert_verify, "fail", 5);
	size_t ml = tlsctl_format(out, sizeof out, &m);
	ck_assert_uint_gt(ml, 0);
	ck_assert_uint_lt(ml + 4, TLSCTL_LINEMAX - 5);
	struct tls_info back;
	ck_assert_int_eq(tlsctl_parse(out, ml, &back), 0);
	ck_assert_str_eq(back.ccert_cn, m.ccert_cn);
}
END_TEST

START_TEST(errors)
{
	char b[80];
	ck_assert_str_eq(tls_error_text(BR_ERR_RECV_FATAL_ALERT + 40, b, sizeof b), "received alert 40 (handshake_failure)");
	ck_assert_str_eq(tls_error_text(BR_ERR_SEND_FATAL_ALERT + 70, b, sizeof b), "sent alert 70 (protocol_version)");
	ck_assert_str_eq(tls_error_text(BR_ERR_BAD_VERSION, b, sizeof b), "not TLS or an unknown version (4)");
	ck_assert_str_eq(tls_error_text(9999, b, sizeof b), "error 9999");
	ck_assert_str_eq(tls_error_text(BR_ERR_RECV_FATAL_ALERT + 200, b, sizeof b), "received alert 200 (unknown)");
}
END_TEST

START_TEST(names)
{
	ck_assert_str_eq(tls_suite_name(BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256), "ECDHE-RSA-AES128-GCM-SHA256");
	ck_assert_str_eq(tls_suite_name(0xC02F), "ECDHE-RSA-AES128-GCM-SHA256");
	ck_assert_str_eq(tls_suite_name(BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256), "ECDHE-ECDSA-CHACHA20-POLY1305");
	ck_assert_str_eq(tls_suite_name(BR_TLS_RSA_WITH_AES_128_CBC_SHA), "AES128-SHA");
	ck_assert_ptr_null(tls_suite_name(0));
	ck_assert_ptr_null(tls_suite_name(0xffff));
	ck_assert_ptr_null(tls_suite_name(BR_TLS_RSA_WITH_3DES_EDE_CBC_SHA));
	ck_assert_ptr_null(tls_suite_name(0x1301));	/* TLS 1.3, which BearSSL does not speak */
	ck_assert_str_eq(tls_version_name(BR_TLS10), "TLSv1.0");
	ck_assert_str_eq(tls_version_name(BR_TLS11), "TLSv1.1");
	ck_assert_str_eq(tls_version_name(BR_TLS12), "TLSv1.2");
	ck_assert_str_eq(tls_version_name(0x0303), "TLSv1.2");
	ck_assert_ptr_null(tls_version_name(0));
	ck_assert_ptr_null(tls_version_name(0x0300));	/* SSL 3.0 */
	ck_assert_ptr_null(tls_version_name(0x0304));	/* TLS 1.3 */
	ck_assert_ptr_null(tls_version_name(0x10303));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tlsctl");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, parse_good);
	tcase_add_test(tc, parse_missing);
	tcase_add_test(tc, parse_keys);
	tcase_add_test(tc, parse_spaces);
	tcase_add_test(tc, parse_values);
	tcase_add_test(tc, parse_lengths);
	tcase_add_test(tc, format_roundtrip);
	tcase_add_test(tc, format_small);
	tcase_add_test(tc, names);
	tcase_add_test(tc, client_cert);
	tcase_add_test(tc, errors);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int f = srunner_ntests_failed(sr);
	srunner_free(sr);
	return f != 0;
}
