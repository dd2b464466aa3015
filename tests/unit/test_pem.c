/* Unit tests: PEM files into DER objects (pem.h). */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "pem.h"
#include "sasl.h"

/* A real fixture, made once with
 *	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=t \
 *	    -days 1 -keyout k.pem -out c.pem
 * (it expired long ago; only its encoding matters here).  CERT_DER is
 * `openssl x509 -in c.pem -outform der | wc -c`, KEY_DER `openssl pkcs8 -topk8 -nocrypt -in k.pem -outform der | wc -c`. */
static const char cert_pem[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIBbTCCAROgAwIBAgIUe5PYxBnHaI+vkDDGJGLV6znyt6AwCgYIKoZIzj0EAwIw\n"
	"DDEKMAgGA1UEAwwBdDAeFw0yNjEyMDQyMDE5MTFaFw0yNjEyMDUyMDE5MTFaMAwx\n"
	"CjAIBgNVBAMMAXQwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAATws5g0s47h6OUN\n"
	"XBQQpDxssksOjBVcuhvdEeKmm6nWTKHDXf2NmvV8ImLAhI44u3qzOhvop3yj1QBH\n"
	"mJbjBpero1MwUTAdBgNVHQ4EFgQUv8UKLpe8S8tbkeXAkd/hKxfK0EIwHwYDVR0j\n"
	"BBgwFoAUv8UKLpe8S8tbkeXAkd/hKxfK0EIwDwYDVR0TAQH/BAUwAwEB/zAKBggq\n"
	"hkjOPQQDAgNIADBFAiEA/HGWOsNAoHP8q/mMa9T1ps2uLEGamHMfl+4TGyJ3tBYC\n"
	"IFmzBJbfStG0c0zZv+DK/kKugl/Z4wDCBKTkjOmRLEHN\n"
	"-----END CERTIFICATE-----\n";
static const char key_pem[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQggzZ9pLpTn7hTSvTf\n"
	"aSyMGLKs6zLQpfgwQXEJ3o3Id2OhRANCAATws5g0s47h6OUNXBQQpDxssksOjBVc\n"
	"uhvdEeKmm6nWTKHDXf2NmvV8ImLAhI44u3qzOhvop3yj1QBHmJbjBper\n"
	"-----END PRIVATE KEY-----\n";
#define CERT_DER 369
#define KEY_DER 138

static struct pem_list l;

static int decode_n(const char *s, size_t n)
{
	/* An exact-size copy, so that ASan sees any read past the end. */
	char *b = malloc(n ? n : 1);
	ck_assert_ptr_nonnull(b);
	memcpy(b, s, n);
	errno = 0;
	int r = pem_decode(&l, b, n);
	int e = errno;
	free(b);
	errno = e;
	return r;
}
static int decode(const char *s) { return decode_n(s, strlen(s)); }

/* The base64 lines of a PEM text, joined and decoded with sasl's strict decoder: what
 * the DER must be, by a second opinion. */
static size_t der_of(const char *pem, unsigned char *out, size_t outn)
{
	static char b64[4096];
	size_t n = 0;
	const char *p = strchr(pem, '\n') + 1;		/* past BEGIN */
	while (strncmp(p, "-----END", 8)) {
		const char *e = strchr(p, '\n');
		ck_assert_uint_lt(n + (size_t)(e - p), sizeof b64);
		memcpy(b64 + n, p, (size_t)(e - p));
		n += (size_t)(e - p);
		p = e + 1;
	}
	long r = sasl_b64decode(b64, n, out, outn);
	ck_assert_int_gt(r, 0);
	return (size_t)r;
}

static void assert_obj(size_t i, const char *label, const char *pem, size_t len)
{
	static unsigned char want[4096];
	ck_assert_uint_lt(i, l.n);
	ck_assert_str_eq(l.obj[i].label, label);
	ck_assert_uint_eq(l.obj[i].len, len);
	ck_assert_ptr_nonnull(l.obj[i].der);
	ck_assert_uint_eq(der_of(pem, want, sizeof want), len);
	ck_assert(!memcmp(l.obj[i].der, want, len));
	/* Both are DER SEQUENCEs, with a length that covers the rest. */
	const unsigned char *d = l.obj[i].der;
	ck_assert_int_eq(d[0], 0x30);
	if (len - 2 < 128) ck_assert_uint_eq(d[1], len - 2);
	else if (len - 3 < 256) ck_assert_uint_eq((size_t)d[1] << 8 | d[2], 0x8100 | (len - 3));
	else ck_assert_uint_eq((size_t)d[1] << 16 | (size_t)d[2] << 8 | d[3], 0x820000 | (len - 4));
}

static void teardown(void)
{
	pem_free(&l);
}

START_TEST(one_cert)
{
	ck_assert_int_eq(decode(cert_pem), 0);
	ck_assert_uint_eq(l.n, 1);
	assert_obj(0, "CERTIFICATE", cert_pem, CERT_DER);
	ck_assert_uint_ge(l.cap, l.n);
}
END_TEST

START_TEST(cert_and_key)
{
	char b[2048];
	int n = snprintf(b, sizeof b, "%s%s", cert_pem, key_pem);
	ck_assert(n > 0 && (size_t)n < sizeof b);
	ck_assert_int_eq(decode(b), 0);
	ck_assert_uint_eq(l.n, 2);
	assert_obj(0, "CERTIFICATE", cert_pem, CERT_DER);
	assert_obj(1, "PRIVATE KEY", key_pem, KEY_DER);
	/* The other order, the other order out. */
	pem_free(&l);
	n = snprintf(b, sizeof b, "%s%s", key_pem, cert_pem);
	ck_assert_int_eq(decode(b), 0);
	ck_assert_uint_eq(l.n, 2);
	assert_obj(0, "PRIVATE KEY", key_pem, KEY_DER);
	assert_obj(1, "CERTIFICATE", cert_pem, CERT_DER);
	/* pem_decode appends. */
	ck_assert_int_eq(decode(cert_pem), 0);
	ck_assert_uint_eq(l.n, 3);
	assert_obj(2, "CERTIFICATE", cert_pem, CERT_DER);
}
END_TEST

START_TEST(text_around)
{
	/* What `openssl x509 -text` and bundles from CAs put around the objects. */
	char b[4096];
	int n = snprintf(b, sizeof b,
			 "Certificate:\n    Data:\n        Subject: CN = t\n\n"
			 "%s"
			 "\n# the key, below\nBag Attributes\n    localKeyID: 01 00 00 00\n"
			 "ABCD\n-----\n"
			 "%s"
			 "trailing text, no newline", cert_pem, key_pem);
	ck_assert(n > 0 && (size_t)n < sizeof b);
	ck_assert_int_eq(decode(b), 0);
	ck_assert_uint_eq(l.n, 2);
	assert_obj(0, "CERTIFICATE", cert_pem, CERT_DER);
	assert_obj(1, "PRIVATE KEY", key_pem, KEY_DER);
	pem_free(&l);
	/* No object at all is no error, and no object. */
	ck_assert_int_eq(decode(""), 0);
	ck_assert_uint_eq(l.n, 0);
	ck_assert_int_eq(decode("just text\nMIIBbTCC\n"), 0);
	ck_assert_uint_eq(l.n, 0);
	ck_assert_int_eq(decode_n("\0\x01\xff\n", 4), 0);
	ck_assert_uint_eq(l.n, 0);
}
END_TEST

START_TEST(no_final_newline)
{
	size_t n = strlen(cert_pem);
	ck_assert_int_eq(decode_n(cert_pem, n - 1), 0);		/* "...-----END CERTIFICATE-----" */
	ck_assert_uint_eq(l.n, 1);
	assert_obj(0, "CERTIFICATE", cert_pem, CERT_DER);
	pem_free(&l);
	char b[2048];
	int k = snprintf(b, sizeof b, "%s%s", cert_pem, key_pem);
	ck_assert_int_eq(decode_n(b, (size_t)k - 1), 0);
	ck_assert_uint_eq(l.n, 2);
	assert_obj(1, "PRIVATE KEY", key_pem, KEY_DER);
}
END_TEST

/* cert_pem with every LF turned into CR LF, in b. */
static size_t crlf(char *b, size_t bn, const char *s)
{
	size_t n = 0;
	for (; *s; s++) {
		ck_assert_uint_lt(n + 2, bn);
		if (*s == '\n') b[n++] = '\r';
		b[n++] = *s;
	}
	return n;
}

START_TEST(crlf_lines)
{
	/* RFC 7468 allows CRLF; Windows tools write it.  BearSSL 0.6 then leaves the
	 * closing dashes in the name ("CERTIFICATE-----"), and a caller looking for
	 * "CERTIFICATE" would find no certificate. */
	char b[2048];
	size_t n = crlf(b, sizeof b, cert_pem);
	ck_assert_int_eq(decode_n(b, n), 0);
	ck_assert_uint_eq(l.n, 1);
	assert_obj(0, "CERTIFICATE", cert_pem, CERT_DER);
	pem_free(&l);
	n = crlf(b, sizeof b, key_pem);
	ck_assert_int_eq(decode_n(b, n), 0);
	ck_assert_uint_eq(l.n, 1);
	assert_obj(0, "PRIVATE KEY", key_pem, KEY_DER);
	pem_free(&l);
	/* Blanks after the BEGIN line's dashes, likewise. */
	ck_assert_int_eq(decode("-----BEGIN EC PRIVATE KEY----- \t\nAQID\n-----END EC PRIVATE KEY-----\n"), 0);
	ck_assert_uint_eq(l.n, 1);
	ck_assert_str_eq(l.obj[0].label, "EC PRIVATE KEY");
	ck_assert_uint_eq(l.obj[0].len, 3);
}
END_TEST

START_TEST(truncated)
{
	/* No END line: cut after the last base64 line, and in the middle of one. */
	const char *end = strstr(cert_pem, "-----END");
	ck_assert_ptr_nonnull(end);
	ck_assert_int_eq(decode_n(cert_pem, (size_t)(end - cert_pem)), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(decode_n(cert_pem, 100), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(decode_n(cert_pem, strlen("-----BEGIN CERTIFICATE-----\n")), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(decode_n(cert_pem, strlen("-----BEGIN CERTIFICATE-----")), -1);
	ck_assert_int_eq(errno, EINVAL);
	/* A good object, then a truncated one: still a failure. */
	char b[2048];
	int n = snprintf(b, sizeof b, "%s%s", cert_pem, key_pem);
	ck_assert_int_eq(decode_n(b, (size_t)n - 30), -1);
	ck_assert_int_eq(errno, EINVAL);
	/* Whatever was decoded before is the caller's to free (teardown does). */
}
END_TEST

START_TEST(corrupt_base64)
{
	static const struct { size_t at; char c; } bad[] = {
		{ 10, '!' }, { 10, '-' }, { 10, '_' }, { 40, '\x80' }, { 63, '*' }, { 5, '=' },
	};
	size_t body = strlen("-----BEGIN CERTIFICATE-----\n");
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char b[2048];
		size_t n = strlen(cert_pem);
		memcpy(b, cert_pem, n + 1);
		b[body + bad[i].at] = bad[i].c;
		ck_assert_msg(decode_n(b, n) == -1, "accepted #%zu", i);
		ck_assert_int_eq(errno, EINVAL);
		pem_free(&l);
	}
	/* A base64 line one character short: the object ends in a partial group. */
	ck_assert_int_eq(decode("-----BEGIN X-----\nAQIDBA\n-----END X-----\n"), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(decode("-----BEGIN X-----\nAQIDB\n-----END X-----\n"), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(decode("-----BEGIN X-----\nAQID\n-----END X-----\n"), 0);
	ck_assert_uint_eq(l.obj[0].len, 3);
}
END_TEST

START_TEST(labels)
{
	/* 63 bytes fit, 64 do not. */
	char b[256];
	char name[65];
	memset(name, 'A', 64);
	name[63] = 0;
	snprintf(b, sizeof b, "-----BEGIN %s-----\nAQID\n-----END %s-----\n", name, name);
	ck_assert_int_eq(decode(b), 0);
	ck_assert_uint_eq(l.n, 1);
	ck_assert_str_eq(l.obj[0].label, name);
	pem_free(&l);
	name[63] = 'A';
	name[64] = 0;
	snprintf(b, sizeof b, "-----BEGIN %s-----\nAQID\n-----END %s-----\n", name, name);
	ck_assert_int_eq(decode(b), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_uint_eq(l.n, 0);
	/* Labels are uppercased (BearSSL). */
	ck_assert_int_eq(decode("-----BEGIN ec private key-----\nAQID\n-----END ec private key-----\n"), 0);
	ck_assert_str_eq(l.obj[0].label, "EC PRIVATE KEY");
}
END_TEST

START_TEST(empty_object)
{
	/* An object with no data: no DER, and pem_free must cope with that. */
	ck_assert_int_eq(decode("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"), 0);
	ck_assert_uint_eq(l.n, 1);
	ck_assert_str_eq(l.obj[0].label, "CERTIFICATE");
	ck_assert_uint_eq(l.obj[0].len, 0);
	pem_free(&l);
	ck_assert_uint_eq(l.n, 0);
}
END_TEST

START_TEST(too_many)
{
	static const char one[] = "-----BEGIN X-----\nAA==\n-----END X-----\n";
	size_t k = sizeof one - 1, n = 1001 * k;
	char *b = malloc(n);
	ck_assert_ptr_nonnull(b);
	for (size_t i = 0; i < 1001; i++) memcpy(b + i * k, one, k);
	ck_assert_int_eq(decode_n(b, 1000 * k), 0);
	ck_assert_uint_eq(l.n, 1000);
	ck_assert_uint_eq(l.obj[999].len, 1);
	pem_free(&l);
	ck_assert_int_eq(decode_n(b, n), -1);
	ck_assert_int_eq(errno, E2BIG);
	free(b);
}
END_TEST

START_TEST(free_reuse)
{
	ck_assert_int_eq(decode(cert_pem), 0);
	ck_assert_int_eq(decode(key_pem), 0);
	ck_assert_uint_eq(l.n, 2);
	pem_free(&l);
	ck_assert_uint_eq(l.n, 0);
	ck_assert_uint_eq(l.cap, 0);
	ck_assert_ptr_null(l.obj);
	pem_free(&l);				/* twice is fine */
	ck_assert_uint_eq(l.n, 0);
	ck_assert_int_eq(decode(key_pem), 0);
	ck_assert_uint_eq(l.n, 1);
	assert_obj(0, "PRIVATE KEY", key_pem, KEY_DER);
	/* An empty list frees, too. */
	struct pem_list e = { 0, 0, 0 };
	pem_free(&e);
	ck_assert_uint_eq(e.n, 0);
}
END_TEST

/* ---- pem_load ---- */

static char tmp[64];

static void write_tmp(const char *s, size_t n)
{
	const char *dir = getenv("TMPDIR");
	snprintf(tmp, sizeof tmp, "%s/tern-test-pem.XXXXXX", dir && *dir && strlen(dir) < 30 ? dir : "/tmp");
	int fd = mkstemp(tmp);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, s, n), (ssize_t)n);
	ck_assert_int_eq(close(fd), 0);
}

START_TEST(load_file)
{
	char b[2048];
	int n = snprintf(b, sizeof b, "%s%s", cert_pem, key_pem);
	write_tmp(b, (size_t)n);
	/* Exactly max bytes is fine; one byte over is EFBIG, and nothing is decoded. */
	ck_assert_int_eq(pem_load(&l, tmp, (size_t)n), 0);
	ck_assert_uint_eq(l.n, 2);
	assert_obj(0, "CERTIFICATE", cert_pem, CERT_DER);
	assert_obj(1, "PRIVATE KEY", key_pem, KEY_DER);
	pem_free(&l);
	ck_assert_int_eq(pem_load(&l, tmp, 1 << 20), 0);
	ck_assert_uint_eq(l.n, 2);
	pem_free(&l);
	errno = 0;
	ck_assert_int_eq(pem_load(&l, tmp, (size_t)n - 1), -1);
	ck_assert_int_eq(errno, EFBIG);
	ck_assert_uint_eq(l.n, 0);
	errno = 0;
	ck_assert_int_eq(pem_load(&l, tmp, 100), -1);
	ck_assert_int_eq(errno, EFBIG);
	ck_assert_int_eq(pem_load(&l, tmp, 0), -1);
	ck_assert_int_eq(errno, EFBIG);
	ck_assert_int_eq(unlink(tmp), 0);
	/* A malformed file gives pem_decode's EINVAL. */
	write_tmp(cert_pem, 100);
	errno = 0;
	ck_assert_int_eq(pem_load(&l, tmp, 4096), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(unlink(tmp), 0);
	/* An empty file is no error and no object. */
	write_tmp("", 0);
	ck_assert_int_eq(pem_load(&l, tmp, 4096), 0);
	ck_assert_uint_eq(l.n, 0);
	ck_assert_int_eq(pem_load(&l, tmp, 0), 0);
	ck_assert_int_eq(unlink(tmp), 0);
}
END_TEST

START_TEST(load_missing)
{
	errno = 0;
	ck_assert_int_eq(pem_load(&l, "/nonexistent/tern-test-pem/cert.pem", 4096), -1);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_uint_eq(l.n, 0);
	write_tmp(cert_pem, strlen(cert_pem));
	ck_assert_int_eq(unlink(tmp), 0);
	errno = 0;
	ck_assert_int_eq(pem_load(&l, tmp, 4096), -1);
	ck_assert_int_eq(errno, ENOENT);
	/* A directory is no file. */
	errno = 0;
	ck_assert_int_eq(pem_load(&l, "/", 4096), -1);
	ck_assert_int_eq(errno, EISDIR);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pem");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 20);
	tcase_add_checked_fixture(tc, 0, teardown);
	tcase_add_test(tc, one_cert);
	tcase_add_test(tc, cert_and_key);
	tcase_add_test(tc, text_around);
	tcase_add_test(tc, no_final_newline);
	tcase_add_test(tc, crlf_lines);
	tcase_add_test(tc, truncated);
	tcase_add_test(tc, corrupt_base64);
	tcase_add_test(tc, labels);
	tcase_add_test(tc, empty_object);
	tcase_add_test(tc, too_many);
	tcase_add_test(tc, free_reuse);
	tcase_add_test(tc, load_file);
	tcase_add_test(tc, load_missing);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int f = srunner_ntests_failed(sr);
	srunner_free(sr);
	return f != 0;
}
