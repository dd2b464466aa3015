/* Unit tests: the STARTTLS client's pieces that need no network (tlsc.h): policies and
 * their table, the CA bundle, the validator (fed a certificate chain by hand, at a fixed
 * time), and the reply framing used over TLS. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <stralloc.h>
#include "pem.h"
#include "tlsc.h"

/* A CA (EC P-256, "tern unit CA") and a server certificate it signed for mx.good.test,
 * valid 2025-01-01 to 2035-01-01; made with openssl for these tests. */
static const char ca_pem[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIBlDCCATmgAwIBAgIUJNjMVZgLq9oQ+FHdAbuJDNJojn4wCgYIKoZIzj0EAwIw\n"
	"FzEVMBMGA1UEAwwMdGVybiB1bml0IENBMB4XDTI2MTIwNDIwNTIyM1oXDTM2MTIw\n"
	"MTIwNTIyM1owFzEVMBMGA1UEAwwMdGVybiB1bml0IENBMFkwEwYHKoZIzj0CAQYI\n"
	"KoZIzj0DAQcDQgAE14u7ODY0yvtHgK3s3rEYiErCwueGWveMd60jQ5+mRnbpF7Kk\n"
	"i7OCbHe7p2Sl7qJingPmKygH/AeeISnxLbG7PaNjMGEwHQYDVR0OBBYEFPARauyH\n"
	"le9c+RCuhxEE+N6MYz8uMB8GA1UdIwQYMBaAFPARauyHle9c+RCuhxEE+N6MYz8u\n"
	"MA8GA1UdEwEB/wQFMAMBAf8wDgYDVR0PAQH/BAQDAgEGMAoGCCqGSM49BAMCA0kA\n"
	"MEYCIQD6I5Ov4syovkLqPkBLvJsgVh0QrQ7B3lTEA251+/1DeAIhANQRW9qmSfuo\n"
	"ae7mc8GHibfuNQlWksWnwwU1mv0go8Fa\n"
	"-----END CERTIFICATE-----\n";
static const char srv_pem[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIBmDCCAT6gAwIBAgIBIDAKBggqhkjOPQQDAjAXMRUwEwYDVQQDDAx0ZXJuIHVu\n"
	"aXQgQ0EwHhcNMjUwMTAxMDAwMDAwWhcNMzUwMTAxMDAwMDAwWjAXMRUwEwYDVQQD\n"
	"DAxteC5nb29kLnRlc3QwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAQC8P+xRvDu\n"
	"9HdYHnLTa4ZARENcSFrGgb2WN6zf7i+hdyhQz38Yvqo81zWwvIKanqaiP7uWUx2/\n"
	"UlOh0emaFIgeo3sweTAXBgNVHREEEDAOggxteC5nb29kLnRlc3QwCQYDVR0TBAIw\n"
	"ADATBgNVHSUEDDAKBggrBgEFBQcDATAdBgNVHQ4EFgQU9YlzAbUO9XJFBkqyKnxs\n"
	"jHkyCNowHwYDVR0jBBgwFoAU8BFq7IeV71z5EK6HEQT43oxjPy4wCgYIKoZIzj0E\n"
	"AwIDSAAwRQIgIPCc71n9OZwS3h+3bz0IrBPwYCJHAfAjUWcxHljsuhsCIQCrVBHU\n"
	"kEEUI6IYiZC5qmXghsNJpYNdyhLIKx9UZBDZgg==\n"
	"-----END CERTIFICATE-----\n";
/* openssl x509 -fingerprint -sha256 of srv_pem */
static const char srv_fp[] = "46:56:42:F3:37:38:40:82:65:3B:7F:D4:6F:15:64:86:74:5B:05:EB:C0:43:97:0E:96:99:42:EA:66:8D:F8:CB";
static const char srv_fp_log[] = "sha256:465642f337384082653b7fd46f156486"
	"745b05ebc043970e969942ea668df8cb";

#define DAYS_2030 (719528u + 21915u)	/* BearSSL counts days from 1 Jan of year 0 */
#define DAYS_2036 (719528u + 24108u)	/* 2036-01-01: after the server certificate */

static void lines(stralloc *sa, const char *const *l)
{
	sa->len = 0;
	for (; *l; l++) ck_assert(stralloc_catb(sa, *l, strlen(*l) + 1));
}

static int parse(const char *s, struct tlsc_policy *p)
{
	return tlsc_policy_parse(s, strlen(s), p);
}

START_TEST(policy_words)
{
	struct tlsc_policy p;
	ck_assert_int_eq(parse("none", &p), 0);
	ck_assert_int_eq(p.level, TLSC_NONE);
	ck_assert_int_eq(parse("may", &p), 0);
	ck_assert_int_eq(p.level, TLSC_MAY);
	ck_assert_int_eq(parse("VERIFY", &p), 0);
	ck_assert_int_eq(p.level, TLSC_VERIFY);
	ck_assert_int_eq(parse("verify ", &p), -1);
	ck_assert_int_eq(parse("", &p), -1);
	ck_assert_int_eq(parse("encrypt", &p), -1);
	ck_assert_int_eq(parse("mayx", &p), -1);
	ck_assert_int_eq(p.level, TLSC_MAY);	/* a failed parse leaves the default */
}
END_TEST

START_TEST(policy_fingerprints)
{
	struct tlsc_policy p;
	ck_assert_int_eq(parse("fingerprint:465642f337384082653b7fd46f156486745b05ebc043970e969942ea668df8cb", &p), 0);
	ck_assert_int_eq(p.level, TLSC_FINGERPRINT);
	ck_assert_uint_eq(p.nfp, 1);
	ck_assert_uint_eq(p.fp[0][0], 0x46);
	ck_assert_uint_eq(p.fp[0][31], 0xcb);
	char buf[300];
	snprintf(buf, sizeof buf, "Fingerprint:%s,%s", srv_fp, "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF");
	ck_assert_int_eq(parse(buf, &p), 0);
	ck_assert_uint_eq(p.nfp, 2);
	ck_assert_uint_eq(p.fp[0][1], 0x56);
	ck_assert_uint_eq(p.fp[1][31], 0xff);
	/* too short, too long, not hex, empty items, nothing */
	ck_assert_int_eq(parse("fingerprint:465642f3", &p), -1);
	ck_assert_int_eq(parse("fingerprint:465642f337384082653b7fd46f156486745b05ebc043970e969942ea668df8cb00", &p), -1);
	ck_assert_int_eq(parse("fingerprint:g65642f3373840826538b7fd46f156486745b05ebc043970e969942ea668df8cb", &p), -1);
	ck_assert_int_eq(parse("fingerprint:465642f337384082653b7fd46f156486745b05ebc043970e969942ea668df8cb,", &p), -1);
	ck_assert_int_eq(parse("fingerprint:", &p), -1);
	ck_assert_int_eq(parse("fingerprint", &p), -1);
	ck_assert_uint_eq(p.nfp, 0);
	/* at most TLSC_MAXFP */
	size_t k = (size_t)snprintf(buf, sizeof buf, "fingerprint:");
	static char big[2000];
	memcpy(big, buf, k);
	for (int i = 0; i < TLSC_MAXFP + 1; i++) {
		if (i) big[k++] = ',';
		memset(big + k, 'a', 64);
		k += 64;
	}
	ck_assert_int_eq(tlsc_policy_parse(big, k, &p), -1);
	ck_assert_int_eq(tlsc_policy_parse(big, k - 65, &p), 0);
	ck_assert_uint_eq(p.nfp, TLSC_MAXFP);
}
END_TEST

START_TEST(table_order)
{
	static const char *const t[] = {
		"nocolon", ":may", ".example.org:verify", ".a.example.org:none",
		"Exact.Example.Org.:fingerprint:465642f337384082653b7fd46f156486745b05ebc043970e969942ea668df8cb",
		"bad.test:verfy", "[127.0.0.1]:verify", "[IPv6:::1]:none", 0 };
	stralloc sa = {0};
	struct tlsc_policy p;
	const char *bad;
	lines(&sa, t);
	ck_assert_int_eq(tlsc_policy_lookup(&sa, "exact.example.org", 17, &p, &bad), 1);
	ck_assert_int_eq(p.level, TLSC_FINGERPRINT);
	ck_assert_int_eq(tlsc_policy_lookup(&sa, "x.y.example.org.", 16, &p, &bad), 1);
	ck_assert_int_eq(p.level, TLSC_VERIFY);
	ck_assert_int_eq(tlsc_policy_lookup(&sa, "b.a.example.org", 15, &p, &bad), 1);
	ck_assert_int_eq(p.level, TLSC_NONE);		/* the longer suffix wins */
	ck_assert_int_eq(tlsc_policy_lookup(&sa, "example.org", 11, &p, &bad), 1);
	ck_assert_int_eq(p.level, TLSC_MAY);		/* ".example.org" is not example.org itself */
	ck_assert_int_eq(tlsc_policy_lookup(&sa, "[127.0.0.1]", 11, &p, &bad), 1);
	ck_assert_int_eq(p.level, TLSC_VERIFY);
	ck_assert_int_eq(tlsc_policy_lookup(&sa, "[ipv6:::1]", 10, &p, &bad), 1);
	ck_assert_int_eq(p.level, TLSC_NONE);
	ck_assert_int_eq(tlsc_policy_lookup(&sa, "bad.test", 8, &p, &bad), -1);
	ck_assert_str_eq(bad, "bad.test:verfy");
	ck_assert_int_eq(p.level, TLSC_MAY);
	ck_assert_int_eq(tlsc_policy_lookup(&sa, "nocolon", 7, &p, &bad), 1);	/* skipped: the default */
	ck_assert_int_eq(p.level, TLSC_MAY);
	static const char *const none[] = { "other.test:verify", 0 };
	lines(&sa, none);
	ck_assert_int_eq(tlsc_policy_lookup(&sa, "example.org", 11, &p, &bad), 0);
	ck_assert_int_eq(p.level, TLSC_MAY);
	ck_assert_int_eq(tlsc_policy_lookup(0, "example.org", 11, &p, &bad), 0);
	stralloc_free(&sa);
}
END_TEST

static int tmpfile_with(const char *s, char *path, size_t n)
{
	snprintf(path, n, "/tmp/test_tlsc.XXXXXX");
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, s, strlen(s)), (int)strlen(s));
	ck_assert_int_eq(close(fd), 0);
	return 0;
}

START_TEST(ca_bundle)
{
	char path[64], both[4096];
	struct tlsc_ca ca;
	snprintf(both, sizeof both, "some text\n%s\n%s", ca_pem, srv_pem);
	tmpfile_with(both, path, sizeof path);
	ck_assert_int_eq(tlsc_ca_load(&ca, path), 0);
	ck_assert_uint_eq(ca.n, 2);
	ck_assert_uint_eq(ca.ta[0].flags & BR_X509_TA_CA, BR_X509_TA_CA);
	ck_assert_uint_eq(ca.ta[1].flags & BR_X509_TA_CA, 0);	/* trusted directly only */
	ck_assert_int_eq(ca.ta[0].pkey.key_type, BR_KEYTYPE_EC);
	tlsc_ca_free(&ca);
	ck_assert_uint_eq(ca.n, 0);
	unlink(path);

	tmpfile_with("no certificates here\n", path, sizeof path);
	errno = 0;
	ck_assert_int_eq(tlsc_ca_load(&ca, path), -1);
	ck_assert_int_eq(errno, EINVAL);
	unlink(path);
	tmpfile_with("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", path, sizeof path);
	ck_assert_int_eq(tlsc_ca_load(&ca, path), -1);	/* not a certificate BearSSL can read */
	ck_assert_int_eq(errno, EINVAL);
	int fd = open(path, O_RDONLY);
	ck_assert_int_eq(tlsc_ca_load_fd(&ca, fd), -1);
	ck_assert_int_eq(close(fd), -1);	/* closed already */
	unlink(path);
	ck_assert_int_eq(tlsc_ca_load(&ca, "/nonexistent/ca.pem"), -1);
	ck_assert_int_eq(errno, ENOENT);
}
END_TEST

/* The validator, given srv_pem then ca_pem as a server sends them, for name at a time. */
static struct tlsc t;
static unsigned run_chain(const struct tlsc_policy *p, struct tlsc_ca *ca, const char *name, uint32_t days)
{
	struct pem_list l = { 0, 0, 0 };
	ck_assert_int_eq(pem_decode(&l, srv_pem, strlen(srv_pem)), 0);
	ck_assert_int_eq(pem_decode(&l, ca_pem, strlen(ca_pem)), 0);
	tlsc_x509_init(&t.x, p, ca);
	t.haveca = ca && ca->n;
	br_x509_minimal_set_time(&t.x.mini, days, 0);
	const br_x509_class **v = &t.x.vtable;
	(*v)->start_chain(v, name);
	for (size_t i = 0; i < l.n; i++) {
		(*v)->start_cert(v, (uint32_t)l.obj[i].len);
		/* in two pieces, as records may cut it */
		(*v)->append(v, l.obj[i].der, 10);
		(*v)->append(v, l.obj[i].der + 10, l.obj[i].len - 10);
		(*v)->end_cert(v);
	}
	unsigned err = (*v)->end_chain(v);
	pem_free(&l);
	return err;
}

static struct tlsc_ca load_ca(void)
{
	char path[64];
	struct tlsc_ca ca;
	tmpfile_with(ca_pem, path, sizeof path);
	ck_assert_int_eq(tlsc_ca_load(&ca, path), 0);
	unlink(path);
	return ca;
}

START_TEST(validator_may)
{
	struct tlsc_policy p = { TLSC_MAY, 0, {{0}} };
	struct tlsc_ca ca = load_ca();
	char fp[80], b[64];
	unsigned usages = 0;
	ck_assert_uint_eq(run_chain(&p, &ca, "mx.good.test", DAYS_2030), 0);
	tlsc_fingerprint(&t, fp, sizeof fp);
	ck_assert_str_eq(fp, srv_fp_log);
	ck_assert_str_eq(tlsc_verify(&t, b, sizeof b), "ok");
	ck_assert_int_eq(tlsc_refused(&t), 0);
	ck_assert_ptr_nonnull(t.x.vtable->get_pkey(&t.x.vtable, &usages));
	ck_assert_uint_eq(usages, BR_KEYTYPE_KEYX | BR_KEYTYPE_SIGN);
	/* Opportunistic: every failure is recorded, none refuses the key. */
	ck_assert_uint_eq(run_chain(&p, &ca, "other.test", DAYS_2030), 0);
	ck_assert_str_eq(tlsc_verify(&t, b, sizeof b), "fail(name-mismatch)");
	ck_assert_uint_eq(run_chain(&p, &ca, "mx.good.test", DAYS_2036), 0);
	ck_assert_str_eq(tlsc_verify(&t, b, sizeof b), "fail(expired)");
	struct tlsc_ca none = { 0, 0 };
	ck_assert_uint_eq(run_chain(&p, &none, "mx.good.test", DAYS_2030), 0);
	ck_assert_str_eq(tlsc_verify(&t, b, sizeof b), "unchecked");
	ck_assert_ptr_nonnull(t.x.vtable->get_pkey(&t.x.vtable, 0));
	ck_assert_uint_eq(run_chain(&p, 0, 0, DAYS_2030), 0);	/* no name (an IP literal) */
	tlsc_ca_free(&ca);
}
END_TEST

START_TEST(validator_verify)
{
	struct tlsc_policy p = { TLSC_VERIFY, 0, {{0}} };
	struct tlsc_ca ca = load_ca();
	char b[80];
	ck_assert_uint_eq(run_chain(&p, &ca, "mx.good.test", DAYS_2030), 0);
	ck_assert_int_eq(tlsc_satisfies(&t, &p), 1);
	ck_assert_uint_eq(run_chain(&p, &ca, "MX.Good.Test", DAYS_2030), 0);	/* names compare without case */
	ck_assert_uint_eq(run_chain(&p, &ca, "other.test", DAYS_2030), BR_ERR_X509_BAD_SERVER_NAME);
	ck_assert_int_eq(tlsc_refused(&t), 1);
	ck_assert_str_eq(tlsc_error(&t, b, sizeof b), "certificate not trusted (name does not match)");
	ck_assert_int_eq(tlsc_satisfies(&t, &p), 0);
	ck_assert_uint_eq(run_chain(&p, &ca, "mx.good.test", DAYS_2036), BR_ERR_X509_EXPIRED);
	ck_assert_str_eq(tlsc_error(&t, b, sizeof b), "certificate not trusted (expired or not yet valid)");
	struct tlsc_ca none = { 0, 0 };
	ck_assert_uint_eq(run_chain(&p, &none, "mx.good.test", DAYS_2030), BR_ERR_X509_NOT_TRUSTED);
	ck_assert_int_eq(tlsc_refused(&t), 1);
	/* A chain that verifies satisfies "may" and "verify", not a fingerprint it lacks. */
	ck_assert_uint_eq(run_chain(&p, &ca, "mx.good.test", DAYS_2030), 0);
	struct tlsc_policy fp;
	ck_assert_int_eq(parse("fingerprint:0000000000000000000000000000000000000000000000000000000000000000", &fp), 0);
	ck_assert_int_eq(tlsc_satisfies(&t, &fp), 0);
	struct tlsc_policy may = { TLSC_MAY, 0, {{0}} };
	ck_assert_int_eq(tlsc_satisfies(&t, &may), 1);
	tlsc_ca_free(&ca);
}
END_TEST

START_TEST(validator_fingerprint)
{
	struct tlsc_policy p;
	char buf[200], b[80];
	snprintf(buf, sizeof buf, "fingerprint:%s", srv_fp);
	ck_assert_int_eq(parse(buf, &p), 0);
	/* The fingerprint alone decides: no CA, any name, any date. */
	ck_assert_uint_eq(run_chain(&p, 0, "whatever.test", DAYS_2036), 0);
	ck_assert_int_eq(tlsc_satisfies(&t, &p), 1);
	ck_assert_int_eq(parse("fingerprint:0000000000000000000000000000000000000000000000000000000000000000", &p), 0);
	ck_assert_uint_eq(run_chain(&p, 0, "mx.good.test", DAYS_2030), BR_ERR_X509_NOT_TRUSTED);
	ck_assert_int_eq(tlsc_refused(&t), 1);
	ck_assert_str_eq(tlsc_error(&t, b, sizeof b), "certificate fingerprint not listed");
}
END_TEST

START_TEST(validator_empty)
{
	struct tlsc_policy p = { TLSC_MAY, 0, {{0}} };
	char fp[80], b[16];
	tlsc_x509_init(&t.x, &p, 0);
	const br_x509_class **v = &t.x.vtable;
	(*v)->start_chain(v, "x.test");
	ck_assert_uint_eq((*v)->end_chain(v), BR_ERR_X509_EMPTY_CHAIN);
	tlsc_fingerprint(&t, fp, sizeof fp);
	ck_assert_str_eq(fp, "");
	ck_assert_str_eq(tlsc_verify(&t, b, sizeof b), "");
	/* garbage for a certificate: no key, so no handshake even under "may" */
	static const unsigned char junk[] = "not a certificate";
	(*v)->start_chain(v, "x.test");
	(*v)->start_cert(v, sizeof junk);
	(*v)->append(v, junk, sizeof junk);
	(*v)->end_cert(v);
	ck_assert_uint_ne((*v)->end_chain(v), 0);
	ck_assert_ptr_null(t.x.vtable->get_pkey(&t.x.vtable, 0));
}
END_TEST

START_TEST(reply_framing)
{
	ck_assert_int_eq(tlsc_reply_complete("", 0), 0);
	ck_assert_int_eq(tlsc_reply_complete("250 ok", 6), 0);		/* no line end yet */
	ck_assert_int_eq(tlsc_reply_complete("250 ok\r\n", 8), 1);
	ck_assert_int_eq(tlsc_reply_complete("250\r\n", 5), 1);
	ck_assert_int_eq(tlsc_reply_complete("250-a\r\n250-b\r\n", 14), 0);
	ck_assert_int_eq(tlsc_reply_complete("250-a\r\n250-b\r\n250 c\r\n", 21), 1);
	ck_assert_int_eq(tlsc_reply_complete("250-a\n250 c\n", 12), 1);		/* bare LF: smtpc's business */
	ck_assert_int_eq(tlsc_reply_complete("junk\r\n", 6), 1);		/* ends here for smtpc too */
	ck_assert_int_eq(tlsc_reply_complete("2\n", 2), 1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tlsc");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, policy_words);
	tcase_add_test(tc, policy_fingerprints);
	tcase_add_test(tc, table_order);
	tcase_add_test(tc, ca_bundle);
	tcase_add_test(tc, validator_may);
	tcase_add_test(tc, validator_verify);
	tcase_add_test(tc, validator_fingerprint);
	tcase_add_test(tc, validator_empty);
	tcase_add_test(tc, reply_framing);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int f = srunner_ntests_failed(sr);
	srunner_free(sr);
	return f != 0;
}
