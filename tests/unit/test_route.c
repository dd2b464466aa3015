/* Unit tests: control/smtproutes (route.h). */
#include <check.h>
#include <stdio.h>
#include <string.h>
#include <stralloc.h>
#include "route.h"

/* The lines as control_readlines gives them: each NUL-terminated, one after another. */
static void lines(stralloc *sa, const char *const *l)
{
	sa->len = 0;
	for (; *l; l++) ck_assert(stralloc_catb(sa, *l, strlen(*l) + 1));
}

static int parse(const char *line, struct route *r, char *dom, size_t domn)
{
	const char *d;
	size_t dl;
	int rc = route_parse(line, &d, &dl, r);
	if (rc == 0) {
		ck_assert_uint_lt(dl, domn);
		memcpy(dom, d, dl);
		dom[dl] = 0;
	}
	return rc;
}

START_TEST(parse_forms)
{
	struct route r;
	char dom[256];
	ck_assert_int_eq(parse("example.org:relay.example.net", &r, dom, sizeof dom), 0);
	ck_assert_str_eq(dom, "example.org");
	ck_assert_str_eq(r.host, "relay.example.net");
	ck_assert_uint_eq(r.port, 25);

	ck_assert_int_eq(parse(":smarthost.example.net:587", &r, dom, sizeof dom), 0);
	ck_assert_str_eq(dom, "");
	ck_assert_str_eq(r.host, "smarthost.example.net");
	ck_assert_uint_eq(r.port, 587);

	ck_assert_int_eq(parse(".example.org:Relay.Example.NET.", &r, dom, sizeof dom), 0);
	ck_assert_str_eq(dom, ".example.org");
	ck_assert_str_eq(r.host, "relay.example.net");	/* lowercased, trailing dot gone */

	ck_assert_int_eq(parse("lit.test:[1.2.3.4]:2525", &r, dom, sizeof dom), 0);
	ck_assert_str_eq(r.host, "[1.2.3.4]");
	ck_assert_uint_eq(r.port, 2525);

	ck_assert_int_eq(parse("six.test:[IPv6:::1]:25", &r, dom, sizeof dom), 0);
	ck_assert_str_eq(r.host, "[ipv6:::1]");		/* lowercased too */
	ck_assert_uint_eq(r.port, 25);

	ck_assert_int_eq(parse("six.test:[IPv6:2001:db8::1]", &r, dom, sizeof dom), 0);
	ck_assert_str_eq(r.host, "[ipv6:2001:db8::1]");
	ck_assert_uint_eq(r.port, 25);

	ck_assert_int_eq(parse("mx.test:", &r, dom, sizeof dom), 0);	/* empty: use the MX */
	ck_assert_str_eq(dom, "mx.test");
	ck_assert_str_eq(r.host, "");
	ck_assert_uint_eq(r.port, 25);

	ck_assert_int_eq(parse("p.test:relay:65535", &r, dom, sizeof dom), 0);
	ck_assert_uint_eq(r.port, 65535);
	ck_assert_int_eq(parse("p.test:relay:1", &r, dom, sizeof dom), 0);
	ck_assert_uint_eq(r.port, 1);
}
END_TEST

START_TEST(parse_bad)
{
	struct route r;
	char dom[256];
	ck_assert_int_eq(parse("example.org", &r, dom, sizeof dom), -1);		/* no ':' */
	ck_assert_int_eq(parse("x.test:relay:0", &r, dom, sizeof dom), -1);
	ck_assert_int_eq(parse("x.test:relay:65536", &r, dom, sizeof dom), -1);
	ck_assert_int_eq(parse("x.test:relay:99999999999999999999", &r, dom, sizeof dom), -1);
	ck_assert_int_eq(parse("x.test:relay:25a", &r, dom, sizeof dom), -1);
	ck_assert_int_eq(parse("x.test:relay:smtp", &r, dom, sizeof dom), -1);
	ck_assert_int_eq(parse("x.test:relay:-25", &r, dom, sizeof dom), -1);
	ck_assert_int_eq(parse("x.test:relay:", &r, dom, sizeof dom), -1);	/* empty after ':' */
	ck_assert_int_eq(parse("x.test:relay:25:26", &r, dom, sizeof dom), -1);
	ck_assert_int_eq(parse("x.test:[1.2.3.4", &r, dom, sizeof dom), -1);	/* unclosed '[' */
	ck_assert_int_eq(parse("x.test:[IPv6:::1:25", &r, dom, sizeof dom), -1);
	ck_assert_int_eq(parse("x.test:[1.2.3.4]x", &r, dom, sizeof dom), -1);	/* junk after ']' */
	ck_assert_int_eq(parse("x.test:[1.2.3.4]:", &r, dom, sizeof dom), -1);
	char big[400];
	memcpy(big, "x.test:", 7);
	memset(big + 7, 'a', 300);
	big[307] = 0;
	ck_assert_int_eq(parse(big, &r, dom, sizeof dom), -1);			/* host too long */
}
END_TEST

static const char *const table[] = {
	"example.org:exact.example.net",
	".example.org:sub.example.net:2525",
	".deep.example.org:deep.example.net",
	"Upper.TEST:upper.example.net",
	"viamx.example.com:",
	".example.com:[192.0.2.1]",
	"# a comment line never reaches route.c; a malformed one is skipped:",
	"bad.test:relay:0",
	":smarthost.example.net:587",
	0
};

START_TEST(lookup_order)
{
	stralloc sa = {0};
	struct route r;
	lines(&sa, table);
#define L(d) route_lookup(&sa, d, strlen(d), &r)
	/* exact domain */
	ck_assert_int_eq(L("example.org"), 1);
	ck_assert_str_eq(r.host, "exact.example.net");
	ck_assert_uint_eq(r.port, 25);
	/* ".sub" matches subdomains only, at any depth */
	ck_assert_int_eq(L("a.example.org"), 1);
	ck_assert_str_eq(r.host, "sub.example.net");
	ck_assert_uint_eq(r.port, 2525);
	ck_assert_int_eq(L("x.y.example.org"), 1);
	ck_assert_str_eq(r.host, "sub.example.net");
	/* the longest suffix wins, whatever the order of the lines */
	ck_assert_int_eq(L("a.deep.example.org"), 1);
	ck_assert_str_eq(r.host, "deep.example.net");
	ck_assert_int_eq(L("deep.example.org"), 1);		/* itself: only ".example.org" fits */
	ck_assert_str_eq(r.host, "sub.example.net");
	/* not a suffix at a label boundary: the default */
	ck_assert_int_eq(L("notexample.org"), 1);
	ck_assert_str_eq(r.host, "smarthost.example.net");
	ck_assert_uint_eq(r.port, 587);
	/* case-insensitive, both ways */
	ck_assert_int_eq(L("EXAMPLE.Org"), 1);
	ck_assert_str_eq(r.host, "exact.example.net");
	ck_assert_int_eq(L("upper.test"), 1);
	ck_assert_str_eq(r.host, "upper.example.net");
	ck_assert_int_eq(L("A.Example.ORG"), 1);
	ck_assert_str_eq(r.host, "sub.example.net");
	/* trailing dots of the looked-up domain are ignored */
	ck_assert_int_eq(L("example.org."), 1);
	ck_assert_str_eq(r.host, "exact.example.net");
	ck_assert_int_eq(L("a.example.org.."), 1);
	ck_assert_str_eq(r.host, "sub.example.net");
	/* an empty relay means the MX, and it beats the default smarthost */
	ck_assert_int_eq(L("viamx.example.com"), 1);
	ck_assert_str_eq(r.host, "");
	ck_assert_uint_eq(r.port, 25);
	/* ... but only for that domain: its subdomains take ".example.com" */
	ck_assert_int_eq(L("sub.viamx.example.com"), 1);
	ck_assert_str_eq(r.host, "[192.0.2.1]");
	ck_assert_int_eq(L("example.com"), 1);			/* ".example.com" is not it */
	ck_assert_str_eq(r.host, "smarthost.example.net");
	/* a malformed line is skipped as if absent */
	ck_assert_int_eq(L("bad.test"), 1);
	ck_assert_str_eq(r.host, "smarthost.example.net");
	/* the default */
	ck_assert_int_eq(L("elsewhere.test"), 1);
	ck_assert_str_eq(r.host, "smarthost.example.net");
	ck_assert_uint_eq(r.port, 587);
	stralloc_free(&sa);
}
END_TEST

START_TEST(lookup_none)
{
	stralloc sa = {0};
	struct route r;
	memset(&r, 'x', sizeof r);
	ck_assert_int_eq(route_lookup(&sa, "example.org", 11, &r), 0);	/* no file */
	ck_assert_str_eq(r.host, "");
	ck_assert_uint_eq(r.port, 25);
	ck_assert_int_eq(route_lookup(0, "example.org", 11, &r), 0);
	ck_assert_str_eq(r.host, "");
	static const char *const nodefault[] = { "example.org:relay.test", ".example.org:sub.test", 0 };
	lines(&sa, nodefault);
	memset(&r, 'x', sizeof r);
	ck_assert_int_eq(route_lookup(&sa, "other.test", 10, &r), 0);
	ck_assert_str_eq(r.host, "");
	ck_assert_uint_eq(r.port, 25);
	/* the first line for a domain wins */
	static const char *const twice[] = { "d.test:first.test", "d.test:second.test", 0 };
	lines(&sa, twice);
	ck_assert_int_eq(route_lookup(&sa, "d.test", 6, &r), 1);
	ck_assert_str_eq(r.host, "first.test");
	/* only n bytes of the domain count */
	ck_assert_int_eq(route_lookup(&sa, "d.testXYZ", 6, &r), 1);
	ck_assert_str_eq(r.host, "first.test");
	stralloc_free(&sa);
}
END_TEST

START_TEST(lookup_literal_relays)
{
	stralloc sa = {0};
	struct route r;
	static const char *const l[] = { "v4.test:[1.2.3.4]:2525", "v6.test:[IPv6:::1]:25", 0 };
	lines(&sa, l);
	ck_assert_int_eq(route_lookup(&sa, "v4.test", 7, &r), 1);
	ck_assert_str_eq(r.host, "[1.2.3.4]");
	ck_assert_uint_eq(r.port, 2525);
	ck_assert_int_eq(route_lookup(&sa, "v6.test", 7, &r), 1);
	ck_assert_str_eq(r.host, "[ipv6:::1]");
	ck_assert_uint_eq(r.port, 25);
	stralloc_free(&sa);
}
END_TEST

START_TEST(dest)
{
	struct route r;
	char out[320];
	/* a relay: host:port */
	snprintf(r.host, sizeof r.host, "smarthost.example.net");
	r.port = 587;
	ck_assert_int_eq(route_dest(out, sizeof out, &r, "Example.ORG", 11), 0);
	ck_assert_str_eq(out, "smarthost.example.net:587");
	r.port = 25;
	ck_assert_int_eq(route_dest(out, sizeof out, &r, "example.org", 11), 0);
	ck_assert_str_eq(out, "smarthost.example.net:25");
	snprintf(r.host, sizeof r.host, "[ipv6:::1]");
	ck_assert_int_eq(route_dest(out, sizeof out, &r, "example.org", 11), 0);
	ck_assert_str_eq(out, "[ipv6:::1]:25");
	/* the MX: the domain, lowercased, without trailing dots, only dlen bytes of it */
	r.host[0] = 0;
	ck_assert_int_eq(route_dest(out, sizeof out, &r, "Example.ORG.", 12), 0);
	ck_assert_str_eq(out, "example.org");
	ck_assert_int_eq(route_dest(out, sizeof out, &r, "example.orgXYZ", 11), 0);
	ck_assert_str_eq(out, "example.org");
	/* too small an output */
	ck_assert_int_eq(route_dest(out, 5, &r, "example.org", 11), -1);
	ck_assert_int_eq(route_dest(out, 12, &r, "example.org", 11), 0);
	ck_assert_int_eq(route_dest(out, 11, &r, "example.org", 11), -1);
	snprintf(r.host, sizeof r.host, "relay");
	ck_assert_int_eq(route_dest(out, 8, &r, "x", 1), -1);		/* "relay:25" + NUL = 9 */
	ck_assert_int_eq(route_dest(out, 9, &r, "x", 1), 0);
	ck_assert_str_eq(out, "relay:25");
}
END_TEST

/* A route found through route_lookup groups the same way tern-send and tern-remote do. */
START_TEST(lookup_then_dest)
{
	stralloc sa = {0};
	struct route r;
	char out[320];
	lines(&sa, table);
	route_lookup(&sa, "A.Example.Org", 13, &r);
	ck_assert_int_eq(route_dest(out, sizeof out, &r, "A.Example.Org", 13), 0);
	ck_assert_str_eq(out, "sub.example.net:2525");
	route_lookup(&sa, "ViaMX.example.com.", 18, &r);
	ck_assert_int_eq(route_dest(out, sizeof out, &r, "ViaMX.example.com.", 18), 0);
	ck_assert_str_eq(out, "viamx.example.com");
	stralloc_free(&sa);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("route");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, parse_forms);
	tcase_add_test(tc, parse_bad);
	tcase_add_test(tc, lookup_order);
	tcase_add_test(tc, lookup_none);
	tcase_add_test(tc, lookup_literal_relays);
	tcase_add_test(tc, dest);
	tcase_add_test(tc, lookup_then_dest);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int f = srunner_ntests_failed(sr);
	srunner_free(sr);
	return f != 0;
}
