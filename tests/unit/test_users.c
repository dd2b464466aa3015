/* Unit tests: the users database, its text source (userdb.h) and the cdb lookups
 * (users.h).  doc/users.5 describes the format these tests pin down. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cdb.h>
#include <cdb_make.h>
#include "userdb.h"
#include "users.h"

static char home[] = "/tmp/tern-unit-users.XXXXXX";

static void path(char *out, size_t n, const char *rel)
{
	ck_assert_int_lt(snprintf(out, n, "%s/%s", home, rel), (int)n);
}

/* ---- userdb_parse ---- */

/* Parses a copy of lit; returns the result, *l and *err as userdb_parse left them. */
static char pbuf[USERDB_MAXLINE + 4096];
static int parse(const char *s, size_t n, struct userdb_line *l, const char **err)
{
	ck_assert_uint_le(n, sizeof pbuf);
	memcpy(pbuf, s, n);
	*err = 0;
	return userdb_parse(pbuf, n, l, err);
}
#define PARSE(lit, l, err) parse(lit, sizeof(lit) - 1, l, err)

static void eqn(const char *s, size_t n, const char *want)
{
	ck_assert_uint_eq(n, strlen(want));
	ck_assert_int_eq(memcmp(s, want, n), 0);
}

START_TEST(parse_domain)
{
	struct userdb_line l;
	const char *err;
	ck_assert_int_eq(PARSE("D:Example.COM", &l, &err), 0);
	ck_assert_int_eq(l.kind, 'D');
	eqn(l.addr, l.addrlen, "example.com");		/* lowercased in place */
	ck_assert_ptr_eq(l.addr, pbuf + 2);
	ck_assert_int_eq(PARSE(" \tD:x.org \r", &l, &err), 0);	/* blanks around the line */
	ck_assert_int_eq(l.kind, 'D');
	eqn(l.addr, l.addrlen, "x.org");
	ck_assert_int_eq(PARSE("D:[192.0.2.1]", &l, &err), 0);	/* a domain literal */
	eqn(l.addr, l.addrlen, "[192.0.2.1]");
}
END_TEST

START_TEST(parse_user)
{
	struct userdb_line l;
	const char *err;
	ck_assert_int_eq(PARSE("U:Bob@Example.com:$6$salt$hash/x.:/srv/mail/Bob", &l, &err), 0);
	ck_assert_int_eq(l.kind, 'U');
	eqn(l.addr, l.addrlen, "bob@example.com");
	ck_assert_uint_eq(l.at, 3);
	eqn(l.pwhash, l.pwlen, "$6$salt$hash/x.");
	eqn(l.dir, l.dirlen, "/srv/mail/Bob");		/* the directory keeps its case */
	ck_assert_int_eq(PARSE("U:bob@example.com::", &l, &err), 0);
	ck_assert_int_eq(l.kind, 'U');
	ck_assert_uint_eq(l.pwlen, 0);
	ck_assert_uint_eq(l.dirlen, 0);
	ck_assert_int_eq(PARSE("U:a.b-c+d@example.com::/", &l, &err), 0);
	eqn(l.dir, l.dirlen, "/");
}
END_TEST

START_TEST(parse_alias)
{
	struct userdb_line l;
	const char *err;
	ck_assert_int_eq(PARSE("A:Root@Example.com:bob@example.com,Alice@Other.ORG", &l, &err), 0);
	ck_assert_int_eq(l.kind, 'A');
	eqn(l.addr, l.addrlen, "root@example.com");
	ck_assert_uint_eq(l.at, 4);
	eqn(l.targets, l.tlen, "bob@example.com,alice@other.org");
	ck_assert_uint_eq(l.ntargets, 2);
	ck_assert_int_eq(PARSE("A:@Example.com:bob@example.com", &l, &err), 0);	/* catch-all */
	ck_assert_int_eq(l.kind, 'A');
	eqn(l.addr, l.addrlen, "@example.com");
	ck_assert_uint_eq(l.at, 0);
	ck_assert_uint_eq(l.ntargets, 1);
}
END_TEST

START_TEST(parse_comment_blank)
{
	static const char *const lines[] = { "", "   ", "\t\r", "# a comment", "  #D:x:y:z \x01",
					     "#" };
	for (size_t i = 0; i < sizeof lines / sizeof *lines; i++) {
		struct userdb_line l;
		const char *err;
		l.kind = 'X';
		ck_assert_int_eq(parse(lines[i], strlen(lines[i]), &l, &err), 0);
		ck_assert_int_eq(l.kind, 0);
	}
}
END_TEST

static void bad(const char *s, size_t n, const char *why)
{
	struct userdb_line l;
	const char *err;
	ck_assert_msg(parse(s, n, &l, &err) == -1, "accepted: %.80s", s);
	ck_assert_ptr_nonnull(err);
	ck_assert_msg(strcmp(err, why) == 0, "%.80s: got '%s', want '%s'", s, err, why);
}
#define BAD(lit, why) bad(lit, sizeof(lit) - 1, why)

START_TEST(parse_bad_fields)
{
	BAD("D", "expected D:domain");
	BAD("D:", "empty domain");
	BAD("D:a.org:x", "expected D:domain");
	BAD("X:a.org", "unknown record type (D, U or A)");
	BAD("d:a.org", "unknown record type (D, U or A)");
	BAD("DD:a.org", "unknown record type (D, U or A)");
	BAD(":a.org", "unknown record type (D, U or A)");
	BAD("U:a:b:c:d:e", "too many fields");
	BAD("U:bob@example.com", "expected U:local@domain:pwhash:dir");
	BAD("U:bob@example.com:", "expected U:local@domain:pwhash:dir");
	BAD("U:bob@example.com:::", "expected U:local@domain:pwhash:dir");
	BAD("A:x@example.com", "expected A:local@domain:target,target...");
	BAD("A:x@example.com:a@b.c:d", "expected A:local@domain:target,target...");
	BAD("U::pw:", "empty address");
	BAD("U:bob:pw:", "address has no @domain");
	BAD("U:@example.com::", "empty local part");		/* catch-alls are aliases only */
	BAD("A:x@example.com:", "no targets");
	BAD("A:x@example.com:bob", "target needs a domain (local@domain)");
	BAD("A:x@example.com:bob@", "target needs a domain (local@domain)");
	BAD("A:x@example.com:@b.c", "empty local part in target");
	BAD("A:x@example.com:a@b@c.d", "forbidden character in target");
	BAD("A:x@example.com:a@b.c,,d@e.f", "empty target");
	BAD("A:x@example.com:a@b.c,", "empty target");
	BAD("A:x@example.com:a@b..c", "bad domain in target");
	BAD("A:x@example.com:a@b.c.", "bad domain in target");
	BAD("A:X@Example.com:x@EXAMPLE.com", "alias to itself");
	BAD("A:x@example.com:a@b.c,A@B.C", "duplicate target");
	BAD("U:bob@example.com::srv/mail", "directory not an absolute path");
	BAD("U:bob@example.com::/srv/../etc", "directory with a . or .. component");
	BAD("U:bob@example.com::/srv/./x", "directory with a . or .. component");
	BAD("U:bob@example.com::/srv/..", "directory with a . or .. component");
	BAD("D:example.com.", "bad domain");
	BAD("D:.example.com", "bad domain");
	BAD("D:a..b", "bad domain");
	BAD("D:a@b.c", "forbidden character in domain");
	BAD("D:a,b.c", "forbidden character in domain");
	BAD("D:[a/b]", "domain not usable as a directory name");
	BAD("D:ex/ample.com", "bad domain");
	BAD("U:.bob@example.com::", "local part not usable as a directory name");
	BAD("U:../x@example.com::", "local part not usable as a directory name");
	BAD("U:a/b@example.com::", "local part not usable as a directory name");
	BAD("U:bob@ex/ample.com::", "bad domain");
	BAD("U:a@b@example.com::", "forbidden character in local part");
}
END_TEST

/* No field may hold white space, control bytes, DEL, ':' (that splits) or ','. */
START_TEST(parse_bad_bytes)
{
	BAD("D:exa mple.com", "forbidden character in domain");
	BAD("D:exa\tmple.com", "forbidden character in domain");
	BAD("D:exa\x7fmple.com", "forbidden character in domain");
	BAD("D:exa\x01mple.com", "forbidden character in domain");
	BAD("D:exa\rmple.com", "forbidden character in domain");
	BAD("U:b ob@example.com::", "forbidden character in local part");
	BAD("U:b\x1b" "ob@example.com::", "forbidden character in local part");
	BAD("U:b,ob@example.com::", "forbidden character in local part");
	BAD("U:bob@example.com:p w:", "forbidden character in password hash");
	BAD("U:bob@example.com:p\xe9:", "forbidden character in password hash");
	BAD("U:bob@example.com::/a b", "forbidden character in directory");
	BAD("U:bob@example.com::/a\x7f", "forbidden character in directory");
	BAD("A:x@example.com:a b@c.d", "forbidden character in target");
	BAD("A:x@example.com:a@c.d, e@f.g", "forbidden character in target");
	BAD("A:x@example.com:a\n@c.d", "forbidden character in target");
	bad("D:exa\0mple.com", 14, "forbidden character in domain");
	bad("U:bob@example.com:\0:", 20, "forbidden character in password hash");
}
END_TEST

static void fill(char *p, char c, size_t n) { memset(p, c, n); }

START_TEST(parse_bad_long)
{
	static char s[USERDB_MAXLINE + 100];
	/* Local part: 255 fits, 256 does not. */
	memcpy(s, "U:", 2);
	fill(s + 2, 'a', 255);
	memcpy(s + 257, "@example.com::", 14);
	struct userdb_line l;
	const char *err;
	ck_assert_int_eq(parse(s, 271, &l, &err), 0);
	ck_assert_uint_eq(l.at, 255);
	memcpy(s, "U:", 2);
	fill(s + 2, 'a', 256);
	memcpy(s + 258, "@example.com::", 14);
	bad(s, 272, "local part too long");
	/* Whole address: 511 fits (255 + '@' + 255), 512 does not (checked first). */
	char dom[256];
	for (int i = 0; i < 4; i++) { fill(dom + 51 * i, 'b', 50); dom[51 * i + 50] = '.'; }
	fill(dom + 204, 'c', 51);			/* 255 bytes, labels under 64 */
	memcpy(s, "U:", 2);
	fill(s + 2, 'a', 255);
	s[257] = '@';
	memcpy(s + 258, dom, 255);
	memcpy(s + 513, "::", 2);
	ck_assert_int_eq(parse(s, 515, &l, &err), 0);
	ck_assert_uint_eq(l.addrlen, USERDB_MAXADDR);
	memcpy(s, "U:", 2);
	fill(s + 2, 'a', 256);
	s[258] = '@';
	memcpy(s + 259, dom, 255);
	memcpy(s + 514, "::", 2);
	bad(s, 516, "address too long");
	memcpy(s, "D:", 2);
	memcpy(s + 2, dom, 255);
	ck_assert_int_eq(parse(s, 257, &l, &err), 0);
	s[257] = 'c';
	bad(s, 258, "bad domain");				/* 256 bytes */
	memcpy(s, "D:", 2);
	fill(s + 2, 'd', 64);
	memcpy(s + 66, ".org", 4);
	bad(s, 70, "bad domain");				/* a label over 63 */
	memcpy(s, "A:x@example.com:", 16);
	fill(s + 16, 'a', 400);
	s[416] = '@';
	fill(s + 417, 'b', 60); memcpy(s + 477, ".", 1); fill(s + 478, 'c', 60);
	bad(s, 538, "target too long");
	/* Password hash: 255 fits, 256 does not. */
	memcpy(s, "U:bob@example.com:", 18);
	fill(s + 18, 'p', 255);
	s[273] = ':';
	ck_assert_int_eq(parse(s, 274, &l, &err), 0);
	fill(s + 18, 'p', 256);
	s[274] = ':';
	bad(s, 275, "password hash too long");
	/* Directory: 1023 fits, 1024 does not. */
	memcpy(s, "U:bob@example.com::/", 20);
	fill(s + 20, 'd', 1022);
	ck_assert_int_eq(parse(s, 1042, &l, &err), 0);
	s[1042] = 'd';
	bad(s, 1043, "directory too long");
	/* The whole line. */
	memcpy(s, "# ", 2);
	fill(s + 2, 'x', USERDB_MAXLINE - 2);
	ck_assert_int_eq(parse(s, USERDB_MAXLINE, &l, &err), 0);
	bad(s, USERDB_MAXLINE + 1, "line too long");
}
END_TEST

START_TEST(parse_many_targets)
{
	static char s[USERDB_MAXLINE];
	size_t n = 0;
	struct userdb_line l;
	const char *err;
	memcpy(s, "A:x@example.com:", 16);
	n = 16;
	for (int i = 0; i < USERDB_MAXTARGETS; i++)
		n += (size_t)snprintf(s + n, sizeof s - n, "%st%d@x.y", i ? "," : "", i);
	ck_assert_int_eq(parse(s, n, &l, &err), 0);
	ck_assert_uint_eq(l.ntargets, USERDB_MAXTARGETS);
	n += (size_t)snprintf(s + n, sizeof s - n, ",t%d@x.y", USERDB_MAXTARGETS);
	bad(s, n, "too many targets");
}
END_TEST

/* ---- the whole source ---- */

static void load(struct userdb *db, const char *src)
{
	ck_assert_int_eq(userdb_load(db, src, strlen(src)), 0);
}

START_TEST(load_good)
{
	struct userdb db;
	load(&db, "# users\n\nD:Example.com\r\nU:Bob@example.com::\n  A:@example.com:bob@example.com  \n"
		  "A:root@example.com:bob@example.com\nD:other.org");	/* no final newline */
	ck_assert_uint_eq(db.nerr, 0);
	ck_assert_uint_eq(db.nent, 7);
	ck_assert_uint_eq(db.ent[6].lineno, 7);
	ck_assert_int_eq(db.ent[0].rec.kind, 0);
	ck_assert_int_eq(db.ent[2].rec.kind, 'D');
	ck_assert_int_eq(userdb_find(&db, 'D', "example.com", 11), 2);
	ck_assert_int_eq(userdb_find(&db, 'U', "bob@example.com", 15), 3);
	ck_assert_int_eq(userdb_find(&db, 'A', "@example.com", 12), 4);
	ck_assert_int_eq(userdb_find(&db, 'D', "other.org", 9), 6);
	ck_assert_int_eq(userdb_find(&db, 'U', "root@example.com", 16), -1);	/* an alias */
	ck_assert_int_eq(userdb_find(&db, 'D', "Example.com", 11), -1);	/* keys are lowercase */
	userdb_free(&db);
	ck_assert_ptr_null(db.ent);

	load(&db, "");
	ck_assert_uint_eq(db.nent, 0);
	ck_assert_uint_eq(db.nerr, 0);
	stralloc t = {0};
	ck_assert(userdb_text(&db, &t));
	ck_assert_uint_eq(t.len, 0);
	userdb_free(&db);
	stralloc_free(&t);
}
END_TEST

START_TEST(load_errors)
{
	struct userdb db;
	load(&db,
	     "D:example.com\n"			/* 1 */
	     "D:EXAMPLE.com\n"			/* 2 duplicate domain (case folded) */
	     "U:bob@example.com::\n"		/* 3 */
	     "A:bob@example.com:x@y.z\n"	/* 4 already a user */
	     "A:al@example.com:x@y.z\n"		/* 5 */
	     "U:al@example.com::\n"		/* 6 already an alias */
	     "garbage\n"			/* 7 */
	     "U:Bob@Example.com::/x\n"		/* 8 duplicate address */
	     "A:AL@example.com:q@y.z\n"		/* 9 duplicate address */
	     "D:example.com\n");		/* 10 duplicate domain */
	ck_assert_uint_eq(db.nerr, 7);
	static const struct { size_t line, other; const char *msg; } want[] = {
		{ 2, 1, "duplicate domain" },
		{ 4, 3, "address already a user" },
		{ 6, 5, "address already an alias" },
		{ 7, 0, "unknown record type (D, U or A)" },
		{ 8, 3, "duplicate address" },
		{ 9, 5, "duplicate address" },
		{ 10, 1, "duplicate domain" },
	};
	for (size_t i = 0; i < 7; i++) {
		ck_assert_uint_eq(db.err[i].lineno, want[i].line);
		ck_assert_uint_eq(db.err[i].other, want[i].other);
		ck_assert_str_eq(db.err[i].msg, want[i].msg);
	}
	ck_assert_str_eq(db.ent[6].bad, "unknown record type (D, U or A)");
	/* A bad line is no record: the cdb leaves it out, the text keeps it. */
	ck_assert_int_eq(userdb_find(&db, 'U', "garbage", 7), -1);
	/* Deleting the later definitions clears the duplicates. */
	userdb_del(&db, 1); userdb_del(&db, 3); userdb_del(&db, 5); userdb_del(&db, 6);
	userdb_del(&db, 7); userdb_del(&db, 8); userdb_del(&db, 9);
	ck_assert_int_eq(userdb_check(&db), 0);
	ck_assert_uint_eq(db.nerr, 0);
	userdb_free(&db);
}
END_TEST

START_TEST(load_too_big)
{
	struct userdb db;
	size_t n = USERDB_MAXSRC + 1;
	char *big = malloc(n);	/* never read: the size alone is refused */
	ck_assert_ptr_nonnull(big);
	errno = 0;
	ck_assert_int_eq(userdb_load(&db, big, n), -1);
	ck_assert_int_eq(errno, EFBIG);
	userdb_free(&db);
	free(big);
}
END_TEST

static void text_is(const struct userdb *db, const char *want)
{
	stralloc t = {0};
	ck_assert(userdb_text(db, &t));
	ck_assert(stralloc_0(&t));
	ck_assert_str_eq(t.s, want);
	stralloc_free(&t);
}

START_TEST(edit_roundtrip)
{
	struct userdb db;
	const char *err;
	load(&db, "# head\nD:example.com\nU:bob@example.com::\nbad line\nA:root@example.com:bob@example.com");
	ck_assert_uint_eq(db.nerr, 1);
	/* Replace a record in place, add one, delete one. */
	long i = userdb_find(&db, 'U', "bob@example.com", 15);
	ck_assert_int_eq(i, 2);
	ck_assert_int_eq(userdb_put(&db, i, "U:Bob@example.com:$1$h:/srv/bob", 31, &err), 0);
	ck_assert_int_eq(userdb_put(&db, -1, "U:carol@example.com::", 21, &err), 0);
	ck_assert_uint_eq(db.ent[db.nent - 1].lineno, 0);	/* added since */
	userdb_del(&db, (size_t)userdb_find(&db, 'A', "root@example.com", 16));
	ck_assert_int_eq(userdb_find(&db, 'A', "root@example.com", 16), -1);
	/* Putting over the bad line repairs it. */
	ck_assert_int_eq(userdb_put(&db, 3, "D:other.org", 11, &err), 0);
	ck_assert_int_eq(userdb_check(&db), 0);
	/* A bad line is refused and changes nothing. */
	size_t nent = db.nent;
	ck_assert_int_eq(userdb_put(&db, -1, "U:x y@example.com::", 19, &err), -1);
	ck_assert_str_eq(err, "forbidden character in local part");
	ck_assert_int_eq(userdb_put(&db, 1, "D:", 2, &err), -1);
	ck_assert_uint_eq(db.nent, nent);
	ck_assert_int_eq(userdb_find(&db, 'D', "example.com", 11), 1);
	text_is(&db, "# head\nD:example.com\nU:bob@example.com:$1$h:/srv/bob\nD:other.org\nU:carol@example.com::\n");
	/* A duplicate made by an edit shows in userdb_check, on the added line. */
	ck_assert_int_eq(userdb_put(&db, -1, "A:carol@example.com:bob@example.com", 35, &err), 0);
	ck_assert_int_eq(userdb_check(&db), 1);
	ck_assert_str_eq(db.err[0].msg, "address already a user");
	ck_assert_uint_eq(db.err[0].lineno, 0);
	userdb_del(&db, db.nent - 1);
	ck_assert_int_eq(userdb_check(&db), 0);

	/* The text loads back to the same records. */
	stralloc t = {0};
	ck_assert(userdb_text(&db, &t));
	struct userdb db2;
	ck_assert_int_eq(userdb_load(&db2, t.s, t.len), 0);
	ck_assert_uint_eq(db2.nerr, 0);
	ck_assert_uint_eq(db2.nent, 5);
	i = userdb_find(&db2, 'U', "bob@example.com", 15);
	ck_assert_int_ge(i, 0);
	eqn(db2.ent[i].rec.dir, db2.ent[i].rec.dirlen, "/srv/bob");
	text_is(&db2, "# head\nD:example.com\nU:bob@example.com:$1$h:/srv/bob\nD:other.org\nU:carol@example.com::\n");
	userdb_free(&db2);
	userdb_free(&db);
	stralloc_free(&t);
}
END_TEST

START_TEST(sorted)
{
	struct userdb db;
	load(&db, "U:m@b.c::\nD:b.c\nU:a@b.c::\nU:ab@b.c::\nA:z@b.c:a@b.c\nU:a@a.c::\nbad\nD:a.c\n");
	userdb_del(&db, 3);
	size_t *idx;
	ck_assert_int_eq(userdb_sorted(&db, 'U', &idx), 3);
	eqn(db.ent[idx[0]].rec.addr, db.ent[idx[0]].rec.addrlen, "a@a.c");
	eqn(db.ent[idx[1]].rec.addr, db.ent[idx[1]].rec.addrlen, "a@b.c");
	eqn(db.ent[idx[2]].rec.addr, db.ent[idx[2]].rec.addrlen, "m@b.c");
	free(idx);
	ck_assert_int_eq(userdb_sorted(&db, 'D', &idx), 2);
	ck_assert_uint_eq(idx[0], 7);
	ck_assert_uint_eq(idx[1], 1);
	free(idx);
	ck_assert_int_eq(userdb_sorted(&db, 'A', &idx), 1);
	free(idx);
	userdb_free(&db);
	load(&db, "");
	ck_assert_int_eq(userdb_sorted(&db, 'U', &idx), 0);
	free(idx);
	userdb_free(&db);
}
END_TEST

/* ---- the cdb and the lookups ---- */

static const char src[] =
	"# the test database\n"
	"D:Example.com\n"
	"D:virt.test\n"
	"U:bob@example.com::\n"
	"U:Carol@Example.com:$6$abc$def:/srv/mail/carol\n"
	"A:root@example.com:bob@example.com,Alice@Other.org\n"
	"A:@virt.test:carol@example.com\n"
	"not a record\n";	/* left out of the cdb */

/* Compiles source s into $TERN_HOME/users/users.cdb. */
static void compile(const char *s)
{
	struct userdb db;
	char p[512];
	load(&db, s);
	path(p, sizeof p, "users/users.cdb");
	int fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(userdb_cdb(&db, fd), 0);
	ck_assert_int_eq(close(fd), 0);
	userdb_free(&db);
}

/* Removes the cdb, leaving the lookups' state alone. */
static void nocdb_keep(void)
{
	char p[512];
	path(p, sizeof p, "users/users.cdb");
	ck_assert(unlink(p) == 0 || errno == ENOENT);
}

static void nocdb(void)
{
	char p[512];
	path(p, sizeof p, "users/users.cdb");
	ck_assert(unlink(p) == 0 || errno == ENOENT);
	users_close();
}

/* The cdb's raw records, as doc/users.5 states them. */
START_TEST(cdb_keys)
{
	compile(src);
	char p[512];
	path(p, sizeof p, "users/users.cdb");
	int fd = open(p, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	struct cdb c;
	cdb_init(&c, fd);
	static const struct { const char *key; const char *data; size_t dlen; } want[] = {
		{ "Dexample.com", "", 0 },
		{ "Dvirt.test", "", 0 },
		{ "Ubob@example.com", "\0", 1 },
		{ "Ucarol@example.com", "$6$abc$def\0/srv/mail/carol", 26 },
		{ "Aroot@example.com", "bob@example.com\0alice@other.org\0", 32 },
		{ "A@virt.test", "carol@example.com\0", 18 },
		{ "Sbob@example.com", "root@example.com\0", 17 },	/* the reverse of A */
		{ "Salice@other.org", "root@example.com\0", 17 },
	};
	for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
		ck_assert_int_eq(cdb_find(&c, (const unsigned char *)want[i].key, strlen(want[i].key)), 1);
		ck_assert_uint_eq(cdb_datalen(&c), want[i].dlen);
		char d[64];
		ck_assert_int_eq(cdb_read(&c, (unsigned char *)d, cdb_datalen(&c), cdb_datapos(&c)), 0);
		ck_assert_int_eq(memcmp(d, want[i].data, want[i].dlen), 0);
	}
	ck_assert_int_eq(cdb_find(&c, (const unsigned char *)"Dnot", 4), 0);
	ck_assert_int_eq(cdb_find(&c, (const unsigned char *)"Unot", 4), 0);	/* the bad line */
	/* A catch-all is no sender address: no reverse record for its target. */
	ck_assert_int_eq(cdb_find(&c, (const unsigned char *)"Scarol@example.com", 18), 0);
	cdb_free(&c);
	close(fd);
}
END_TEST

START_TEST(lookups)
{
	users_close();
	compile(src);
	ck_assert_int_eq(users_isdomain("example.com", 11), 1);
	ck_assert_int_eq(users_isdomain("EXAMPLE.Com", 11), 1);
	ck_assert_int_eq(users_isdomain("virt.test", 9), 1);
	ck_assert_int_eq(users_isdomain("other.org", 9), 0);
	ck_assert_int_eq(users_isdomain("", 0), 0);

	struct user_rec u;
	char want[600];
	ck_assert_int_eq(users_finduser("Bob@EXAMPLE.com", 15, &u), 1);
	ck_assert_str_eq(u.addr, "bob@example.com");
	ck_assert_str_eq(u.pwhash, "");
	path(want, sizeof want, "mail/example.com/bob");	/* the default directory */
	ck_assert_str_eq(u.dir, want);
	ck_assert_int_eq(users_finduser("carol@example.com", 17, &u), 1);
	ck_assert_str_eq(u.pwhash, "$6$abc$def");
	ck_assert_str_eq(u.dir, "/srv/mail/carol");
	ck_assert_int_eq(users_finduser("root@example.com", 16, &u), 0);	/* an alias */
	ck_assert_int_eq(users_finduser("nobody@example.com", 18, &u), 0);
	ck_assert_int_eq(users_finduser("bob@example.co", 14, &u), 0);
	/* The address need not be NUL-terminated: only n bytes count. */
	ck_assert_int_eq(users_finduser("bob@example.comXYZ", 15, &u), 1);
	ck_assert_str_eq(u.addr, "bob@example.com");

	stralloc t = {0};
	ck_assert(stralloc_copys(&t, "kept"));
	ck_assert(stralloc_0(&t));
	ck_assert_int_eq(users_findalias("ROOT@example.com", 16, &t), 1);
	ck_assert_uint_eq(t.len, 5 + 32);			/* appended */
	ck_assert_str_eq(t.s, "kept");
	ck_assert_str_eq(t.s + 5, "bob@example.com");
	ck_assert_str_eq(t.s + 5 + 16, "alice@other.org");
	t.len = 0;
	ck_assert_int_eq(users_findalias("@Virt.Test", 10, &t), 1);	/* the catch-all */
	ck_assert_uint_eq(t.len, 18);
	ck_assert_str_eq(t.s, "carol@example.com");
	t.len = 0;
	ck_assert_int_eq(users_findalias("x@virt.test", 11, &t), 0);	/* exact address only */
	ck_assert_int_eq(users_findalias("bob@example.com", 15, &t), 0);	/* a user */
	ck_assert_int_eq(users_findalias("@example.com", 12, &t), 0);
	ck_assert_uint_eq(t.len, 0);
	stralloc_free(&t);

	/* Too long for any key: not found rather than an error. */
	char longa[600];
	memset(longa, 'a', sizeof longa);
	ck_assert_int_eq(users_finduser(longa, sizeof longa, &u), 0);
	ck_assert_int_eq(users_isdomain(longa, 512), 0);
	users_close();
}
END_TEST

START_TEST(islocal)
{
	users_close();
	compile(src);
	char p[512];
	path(p, sizeof p, "control/locals");
	FILE *f = fopen(p, "w");
	ck_assert_ptr_nonnull(f);
	fputs("localhost\n# comment\n  Local.Test  \n", f);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(users_islocal("localhost", 9), 1);
	ck_assert_int_eq(users_islocal("local.TEST", 10), 1);
	ck_assert_int_eq(users_islocal("example.COM", 11), 1);	/* a virtual domain */
	ck_assert_int_eq(users_islocal("other.org", 9), 0);
	ck_assert_int_eq(users_islocal("comment", 7), 0);
	ck_assert_int_eq(unlink(p), 0);
	users_close();
	ck_assert_int_eq(users_islocal("localhost", 9), 0);		/* no control/locals */
	ck_assert_int_eq(users_islocal("virt.test", 9), 1);
	users_close();
}
END_TEST

/* No cdb yet is an empty database; a cdb built later is seen without users_close. */
START_TEST(missing_cdb)
{
	nocdb();
	struct user_rec u;
	stralloc t = {0};
	ck_assert_int_eq(users_isdomain("example.com", 11), 0);
	ck_assert_int_eq(users_finduser("bob@example.com", 15, &u), 0);
	ck_assert_int_eq(users_findalias("root@example.com", 16, &t), 0);
	ck_assert_int_eq(users_islocal("example.com", 11), 0);
	compile(src);
	ck_assert_int_eq(users_finduser("bob@example.com", 15, &u), 1);
	ck_assert_int_eq(users_findalias("root@example.com", 16, &t), 1);
	stralloc_free(&t);
	/* After users_close the next lookups read the file anew. */
	compile("D:new.test\n");
	users_close();
	ck_assert_int_eq(users_isdomain("new.test", 8), 1);
	ck_assert_int_eq(users_isdomain("example.com", 11), 0);
	users_close();
	nocdb();
}
END_TEST

/* Compiles source s the way tern-users does: a temporary file renamed over the cdb. */
static void compile_rename(const char *s)
{
	struct userdb db;
	char tmp[512], p[512];
	load(&db, s);
	path(tmp, sizeof tmp, "users/users.cdb.tmp");
	path(p, sizeof p, "users/users.cdb");
	int fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(userdb_cdb(&db, fd), 0);
	ck_assert_int_eq(close(fd), 0);
	ck_assert_int_eq(rename(tmp, p), 0);
	userdb_free(&db);
}

/* A long-running reader (tern-send) is not told of a rebuild: the next lookup after the
 * rename must see the new file without users_close. */
START_TEST(rebuild_seen)
{
	users_close();
	compile_rename("D:one.test\nU:a@one.test::\n");
	struct user_rec u;
	ck_assert_int_eq(users_isdomain("one.test", 8), 1);
	ck_assert_int_eq(users_isdomain("two.test", 8), 0);
	compile_rename("D:one.test\nD:two.test\nU:a@one.test::\nU:b@two.test::\n");
	ck_assert_int_eq(users_isdomain("two.test", 8), 1);
	ck_assert_int_eq(users_islocal("two.test", 8), 1);
	ck_assert_int_eq(users_finduser("b@two.test", 10, &u), 1);
	compile_rename("D:two.test\n");
	ck_assert_int_eq(users_isdomain("one.test", 8), 0);
	ck_assert_int_eq(users_finduser("a@one.test", 10, &u), 0);
	/* A removed cdb is an empty database again. */
	nocdb_keep();
	ck_assert_int_eq(users_isdomain("two.test", 8), 0);
	compile_rename("D:three.test\n");
	ck_assert_int_eq(users_isdomain("three.test", 10), 1);
	users_close();
	nocdb();
}
END_TEST

struct rawrec { const char *key, *data; size_t dlen; };

/* Writes the records, as they are, as $TERN_HOME/users/users.cdb. */
static void rawcdb(const struct rawrec *recs, size_t n)
{
	char p[512];
	path(p, sizeof p, "users/users.cdb");
	int fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_ge(fd, 0);
	struct cdb_make m;
	ck_assert_int_ge(cdb_make_start(&m, fd), 0);
	for (size_t i = 0; i < n; i++)
		ck_assert_int_eq(cdb_make_add(&m, (const unsigned char *)recs[i].key, strlen(recs[i].key),
					      (const unsigned char *)recs[i].data, recs[i].dlen), 0);
	ck_assert_int_eq(cdb_make_finish(&m), 0);
	ck_assert_int_eq(close(fd), 0);
	free(m.split);
	while (m.head) { struct cdb_hplist *nx = m.head->next; free(m.head); m.head = nx; }
}

/* A cdb that is not what tern-users writes: an error, never a bad record. */
START_TEST(corrupt_cdb)
{
	static const struct rawrec recs[] = {
		{ "Unopw@x.y", "abc", 3 },		/* no NUL between hash and dir */
		{ "Urel@x.y", "\0rel/dir", 8 },		/* a relative directory */
		{ "Unul@x.y", "\0/a\0b", 5 },		/* a NUL inside the directory */
		{ "Aempty@x.y", "", 0 },			/* no targets */
		{ "Aunterm@x.y", "a@b", 3 },		/* not NUL-terminated */
		{ "Ahole@x.y", "a@b\0\0c@d\0", 9 },	/* an empty target */
		{ "Afirst@x.y", "\0a@b\0", 5 },		/* an empty first target */
		{ "U@x.y", "\0", 1 },			/* a user with no local part */
	};
	users_close();
	char p[512];
	rawcdb(recs, sizeof recs / sizeof *recs);
	path(p, sizeof p, "users/users.cdb");

	struct user_rec u;
	stralloc t = {0};
	errno = 0;
	ck_assert_int_eq(users_finduser("nopw@x.y", 8, &u), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(users_finduser("rel@x.y", 7, &u), -1);
	ck_assert_int_eq(users_finduser("nul@x.y", 7, &u), -1);
	ck_assert_int_eq(users_finduser("@x.y", 4, &u), 0);	/* no default directory for it */
	static const char *const al[] = { "empty@x.y", "unterm@x.y", "hole@x.y", "first@x.y" };
	for (size_t i = 0; i < 4; i++) {
		ck_assert(stralloc_copys(&t, "k"));
		errno = 0;
		ck_assert_int_eq(users_findalias(al[i], strlen(al[i]), &t), -1);
		ck_assert_int_eq(errno, EINVAL);
		ck_assert_uint_eq(t.len, 1);				/* nothing appended */
	}
	stralloc_free(&t);
	users_close();

	/* A truncated file: an error or nothing, never a record. */
	int fd = open(p, O_WRONLY | O_TRUNC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "xyz", 3), 3);
	ck_assert_int_eq(close(fd), 0);
	ck_assert_int_le(users_isdomain("example.com", 11), 0);
	ck_assert_int_le(users_finduser("bob@example.com", 15, &u), 0);
	users_close();
	nocdb();
}
END_TEST

/* userdb_cdb into a file that is not writable: an error, with errno. */
START_TEST(cdb_write_error)
{
	struct userdb db;
	load(&db, src);
	char p[512];
	path(p, sizeof p, "users/users.cdb");
	int fd = open(p, O_RDONLY | O_CREAT, 0644);
	ck_assert_int_ge(fd, 0);
	errno = 0;
	ck_assert_int_eq(userdb_cdb(&db, fd), -1);
	ck_assert_int_ne(errno, 0);
	close(fd);
	userdb_free(&db);
	nocdb();
}
END_TEST


/* ---- SMTP AUTH: senders a login may use ---- */

static const char srcmay[] =
	"D:example.com\n"
	"U:bob@example.com::\n"
	"U:bob+x@example.com::\n"			/* a user of its own, not bob's extension */
	"U:carol@example.com::\n"
	"A:root@example.com:bob@example.com,alice@other.org\n"
	"A:info@example.com:carol@example.com,Bob@Example.com\n"
	"A:bob+list@example.com:carol@example.com\n"	/* an alias, not bob's extension */
	"A:@example.com:bob@example.com\n";		/* a catch-all: not a sender */

static void writefile(const char *rel, const char *text)
{
	char p[512];
	path(p, sizeof p, rel);
	FILE *f = fopen(p, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_ge(fputs(text, f), 0);
	ck_assert_int_eq(fclose(f), 0);
}

static int mayuse(const char *login, const char *from)
{
	return users_mayuse(login, strlen(login), from, strlen(from));
}

START_TEST(mayuse_basic)
{
	users_close();
	compile(srcmay);
	ck_assert_int_eq(mayuse("bob@example.com", "bob@example.com"), 1);
	ck_assert_int_eq(mayuse("BOB@example.com", "bob@EXAMPLE.com"), 1);	/* no case */
	ck_assert_int_eq(mayuse("bob@example.com", "root@example.com"), 1);	/* aliases of bob */
	ck_assert_int_eq(mayuse("bob@example.com", "Info@Example.COM"), 1);
	ck_assert_int_eq(mayuse("carol@example.com", "info@example.com"), 1);
	ck_assert_int_eq(mayuse("carol@example.com", "root@example.com"), 0);
	ck_assert_int_eq(mayuse("carol@example.com", "bob+list@example.com"), 1);
	/* Extensions: bob's own, not another user's or alias's address that looks like one. */
	ck_assert_int_eq(mayuse("bob@example.com", "bob+news@example.com"), 1);
	ck_assert_int_eq(mayuse("bob@example.com", "BOB+News@example.com"), 1);
	ck_assert_int_eq(mayuse("bob@example.com", "bob+x@example.com"), 0);
	ck_assert_int_eq(mayuse("bob@example.com", "bob+list@example.com"), 0);
	ck_assert_int_eq(mayuse("bob@example.com", "bob+news@other.org"), 0);
	ck_assert_int_eq(mayuse("bob@example.com", "bobby@example.com"), 0);
	ck_assert_int_eq(mayuse("bob@example.com", "bo+b@example.com"), 0);
	ck_assert_int_eq(mayuse("bob@example.com", "+bob@example.com"), 0);
	/* Not bob's. */
	ck_assert_int_eq(mayuse("bob@example.com", "carol@example.com"), 0);
	ck_assert_int_eq(mayuse("bob@example.com", "anyone@example.com"), 0);	/* catch-all */
	ck_assert_int_eq(mayuse("bob@example.com", "@example.com"), 0);
	ck_assert_int_eq(mayuse("bob@example.com", "bob@other.org"), 0);
	ck_assert_int_eq(mayuse("bob@example.com", "bob"), 0);
	ck_assert_int_eq(mayuse("bob@example.com", ""), 0);
	ck_assert_int_eq(mayuse("", "bob@example.com"), 0);
	ck_assert_int_eq(mayuse("alice@other.org", "root@example.com"), 1);	/* any target */
	/* Only the given bytes count. */
	ck_assert_int_eq(users_mayuse("bob@example.comXX", 15, "root@example.comYY", 16), 1);
	ck_assert_int_eq(users_mayuse("bob@example.com", 15, "root@example.co", 15), 0);
	char longa[600];
	memset(longa, 'a', sizeof longa);
	longa[300] = '@';
	ck_assert_int_eq(users_mayuse(longa, sizeof longa, "bob@example.com", 15), 0);
	ck_assert_int_eq(users_mayuse("bob@example.com", 15, longa, sizeof longa), 0);
	users_close();
}
END_TEST

/* control/delimiter is the one tern-local splits on. */
START_TEST(mayuse_delimiter)
{
	users_close();
	compile(srcmay);
	writefile("control/delimiter", "--\n");
	ck_assert_int_eq(mayuse("bob@example.com", "bob--news@example.com"), 1);
	ck_assert_int_eq(mayuse("bob@example.com", "bob+news@example.com"), 0);
	ck_assert_int_eq(mayuse("bob@example.com", "bob-news@example.com"), 0);
	writefile("control/delimiter", "\n");		/* no delimiter: no extensions */
	ck_assert_int_eq(mayuse("bob@example.com", "bob+news@example.com"), 0);
	ck_assert_int_eq(mayuse("bob@example.com", "root@example.com"), 1);
	char p[512];
	path(p, sizeof p, "control/delimiter");
	ck_assert_int_eq(unlink(p), 0);
	ck_assert_int_eq(mayuse("bob@example.com", "bob+news@example.com"), 1);
	users_close();
}
END_TEST

/* A target of more aliases than one read holds: every one is found. */
START_TEST(mayuse_many)
{
	static char big[64 * 1024];
	size_t n = (size_t)snprintf(big, sizeof big, "D:example.com\nU:bob@example.com::\n");
	for (int i = 0; i < 500; i++)
		n += (size_t)snprintf(big + n, sizeof big - n, "A:list%03d@example.com:x@y.z,bob@example.com\n", i);
	ck_assert_uint_lt(n, sizeof big - 1);
	users_close();
	compile(big);
	char a[64];
	for (int i = 0; i < 500; i += 37) {
		snprintf(a, sizeof a, "list%03d@example.com", i);
		ck_assert_int_eq(mayuse("bob@example.com", a), 1);
		ck_assert_int_eq(mayuse("x@y.z", a), 1);
	}
	ck_assert_int_eq(mayuse("bob@example.com", "list499@example.com"), 1);
	ck_assert_int_eq(mayuse("bob@example.com", "list500@example.com"), 0);
	users_close();
}
END_TEST

/* A reverse record that is not what tern-users writes: an error, never a yes. */
START_TEST(mayuse_corrupt)
{
	static const struct rawrec recs[] = {
		{ "Sa@x.y", "l@x.y", 5 },			/* not NUL-terminated */
		{ "Sb@x.y", "\0l@x.y\0", 7 },		/* an empty entry */
	};
	users_close();
	rawcdb(recs, sizeof recs / sizeof *recs);
	errno = 0;
	ck_assert_int_eq(mayuse("a@x.y", "l@x.y"), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(mayuse("b@x.y", "l@x.y"), -1);
	ck_assert_int_eq(mayuse("a@x.y", "a@x.y"), 1);		/* itself needs no record */
	users_close();
	nocdb();
}
END_TEST

/* ---- passwords ---- */

START_TEST(passbad)
{
	static char big[USERS_MAXPASS + 2];
	memset(big, 'p', sizeof big);
	ck_assert_ptr_null(users_passbad("x", 1));
	ck_assert_ptr_null(users_passbad("with spaces and \xc3\xa9", 18));
	ck_assert_ptr_null(users_passbad(big, USERS_MAXPASS));
	ck_assert_ptr_nonnull(users_passbad(big, USERS_MAXPASS + 1));
	ck_assert_ptr_nonnull(users_passbad("", 0));
	ck_assert_ptr_nonnull(users_passbad("a\0b", 3));
	ck_assert_ptr_nonnull(users_passbad("a\rb", 3));
	ck_assert_ptr_nonnull(users_passbad("ab\n", 3));
	char h[USERS_HASHSIZE];
	errno = 0;
	ck_assert_int_eq(users_hashpass("a\nb", 3, h, sizeof h), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(users_hashpass("ok", 2, h, 10), -1);		/* too small for the hash */
	ck_assert_int_eq(users_hashpass(big, USERS_MAXPASS, h, sizeof h), 0);	/* crypt takes the longest */
	ck_assert_int_eq(users_hashpass(big, USERS_MAXPASS + 1, h, sizeof h), -1);
}
END_TEST

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int check(const char *login, const char *pass, struct user_rec *u)
{
	return users_checkpass(login, strlen(login), pass, strlen(pass), u);
}

/* The fastest of three failed checks of login, in seconds. */
static double fastest(const char *login)
{
	struct user_rec u;
	double best = 1e9;
	for (int i = 0; i < 3; i++) {
		double t = now();
		ck_assert_int_eq(check(login, "wrong", &u), 0);
		t = now() - t;
		if (t < best) best = t;
	}
	return best;
}

START_TEST(checkpass)
{
	static const char pw[] = "correct horse \xc3\xa9 staple";
	char h1[USERS_HASHSIZE], h2[USERS_HASHSIZE], s[2048];
	ck_assert_int_eq(users_hashpass(pw, sizeof pw - 1, h1, sizeof h1), 0);
	ck_assert_int_eq(users_hashpass(pw, sizeof pw - 1, h2, sizeof h2), 0);
	ck_assert_msg(!strncmp(h1, "$y$", 3) || !strncmp(h1, "$6$", 3), "hash %s", h1);
	ck_assert_str_ne(h1, h2);				/* a new salt each time */
	ck_assert_ptr_null(strstr(h1, "horse"));
	const char *err;
	ck_assert_int_eq(userdb_pwhash(h1, strlen(h1), &err), 0);	/* fits a U record */
	/* carol: SHA-512-crypt of "tern dummy password"; dave: no password. */
	snprintf(s, sizeof s, "D:example.com\nU:bob@example.com:%s:\n"
		 "U:carol@example.com:$6$oJaQip0NppKPtpmQ$d1KprqNVe3crMg4xpeJ4FLm1n/huRAALtLvriZEcc84eIY.c5GrNRPpgEyz741ruQx/w6bFboNgbSf.zcDkIY/:/srv/carol\n"
		 "U:dave@example.com::\nU:eve@example.com:notahash:\nA:root@example.com:bob@example.com\n", h1);
	users_close();
	compile(s);
	struct user_rec u;
	ck_assert_int_eq(check("bob@example.com", pw, &u), 1);
	ck_assert_str_eq(u.addr, "bob@example.com");
	ck_assert_str_eq(u.pwhash, h1);
	ck_assert_int_eq(check("Bob@EXAMPLE.com", pw, &u), 1);		/* logins without case */
	ck_assert_str_eq(u.addr, "bob@example.com");
	ck_assert_int_eq(check("bob@example.com", pw, 0), 1);
	ck_assert_int_eq(check("bob@example.com", "correct horse", &u), 0);
	ck_assert_str_eq(u.addr, "");					/* nothing left behind */
	ck_assert_int_eq(check("bob@example.com", "CORRECT HORSE \xc3\xa9 STAPLE", &u), 0);
	ck_assert_int_eq(check("bob@example.com", "", &u), 0);
	ck_assert_int_eq(users_checkpass("bob@example.com", 15, pw, sizeof pw, &u), 0);	/* + NUL */
	ck_assert_int_eq(check("carol@example.com", "tern dummy password", &u), 1);
	ck_assert_str_eq(u.dir, "/srv/carol");
	ck_assert_int_eq(check("carol@example.com", "tern dummy passwort", &u), 0);
	ck_assert_int_eq(check("dave@example.com", "", &u), 0);		/* no password: no login */
	ck_assert_int_eq(check("dave@example.com", "x", &u), 0);
	ck_assert_int_eq(check("eve@example.com", "notahash", &u), 0);	/* crypt refuses it */
	ck_assert_int_eq(check("root@example.com", pw, &u), 0);		/* an alias */
	ck_assert_int_eq(check("nobody@example.com", pw, &u), 0);
	ck_assert_int_eq(users_checkpass("bob@example.com\0x", 17, pw, sizeof pw - 1, &u), 0);
	static char big[USERS_MAXPASS + 1];
	memset(big, 'p', sizeof big);
	ck_assert_int_eq(users_checkpass("bob@example.com", 15, big, sizeof big, &u), 0);

	/* An unknown login or an empty hash costs about what a wrong password does. */
	double known = fastest("bob@example.com"), unknown = fastest("nobody@example.com");
	double nopw = fastest("dave@example.com");
	if (!strncmp(h1, "$y$", 3)) {
		ck_assert_msg(unknown > known / 3, "unknown login %.4f s, known %.4f s", unknown, known);
		ck_assert_msg(nopw > known / 3, "no password %.4f s, known %.4f s", nopw, known);
	}

	/* A new password in a rebuilt cdb counts at the next check, without users_close. */
	ck_assert_int_eq(users_hashpass("new one", 7, h2, sizeof h2), 0);
	snprintf(s, sizeof s, "D:example.com\nU:bob@example.com:%s:\n", h2);
	compile_rename(s);
	ck_assert_int_eq(check("bob@example.com", "new one", &u), 1);
	ck_assert_int_eq(check("bob@example.com", pw, &u), 0);
	users_close();
	nocdb();
}
END_TEST

int main(void)
{
	if (!mkdtemp(home)) { perror("mkdtemp"); return 1; }
	char p[512];
	snprintf(p, sizeof p, "%s/users", home);
	if (mkdir(p, 0700) != 0) { perror(p); return 1; }
	snprintf(p, sizeof p, "%s/control", home);
	if (mkdir(p, 0700) != 0) { perror(p); return 1; }
	setenv("TERN_HOME", home, 1);
	Suite *s = suite_create("users");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, parse_domain);
	tcase_add_test(tc, parse_user);
	tcase_add_test(tc, parse_alias);
	tcase_add_test(tc, parse_comment_blank);
	tcase_add_test(tc, parse_bad_fields);
	tcase_add_test(tc, parse_bad_bytes);
	tcase_add_test(tc, parse_bad_long);
	tcase_add_test(tc, parse_many_targets);
	tcase_add_test(tc, load_good);
	tcase_add_test(tc, load_errors);
	tcase_add_test(tc, load_too_big);
	tcase_add_test(tc, edit_roundtrip);
	tcase_add_test(tc, sorted);
	tcase_add_test(tc, cdb_keys);
	tcase_add_test(tc, lookups);
	tcase_add_test(tc, islocal);
	tcase_add_test(tc, missing_cdb);
	tcase_add_test(tc, rebuild_seen);
	tcase_add_test(tc, corrupt_cdb);
	tcase_add_test(tc, cdb_write_error);
	tcase_add_test(tc, mayuse_basic);
	tcase_add_test(tc, mayuse_delimiter);
	tcase_add_test(tc, mayuse_many);
	tcase_add_test(tc, mayuse_corrupt);
	tcase_add_test(tc, passbad);
	tcase_add_test(tc, checkpass);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	int f = srunner_ntests_failed(sr);
	srunner_free(sr);
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf %s", home);
	if (system(cmd) != 0) f++;
	return f != 0;
}
