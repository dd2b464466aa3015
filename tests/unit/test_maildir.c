/* Unit tests: Maildir names and delivery (maildir.h). */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "maildir.h"

static char top[64];

struct mem { const char *s; size_t n, pos; size_t chunk; int fail; };

static ssize_t memread(void *ctx, char *buf, size_t n)
{
	struct mem *m = ctx;
	if (m->fail && m->pos >= m->n / 2) { errno = EIO; return -1; }
	size_t k = m->n - m->pos;
	if (k > n) k = n;
	if (m->chunk && k > m->chunk) k = m->chunk;
	memcpy(buf, m->s + m->pos, k);
	m->pos += k;
	return (ssize_t)k;
}

static size_t count(const char *dir, const char *sub)
{
	char p[512];
	snprintf(p, sizeof p, "%s/%s", dir, sub);
	DIR *d = opendir(p);
	ck_assert_ptr_nonnull(d);
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d))) if (e->d_name[0] != '.') n++;
	closedir(d);
	return n;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	ck_assert_ptr_nonnull(f);
	static char buf[1 << 20];
	*len = fread(buf, 1, sizeof buf, f);
	fclose(f);
	return buf;
}

START_TEST(host)
{
	char out[64];
	ck_assert_int_eq(maildir_host(out, sizeof out, "mail.example.org"), 16);
	ck_assert_str_eq(out, "mail.example.org");
	ck_assert_int_eq(maildir_host(out, sizeof out, "a/b:c"), 11);
	ck_assert_str_eq(out, "a\\057b\\072c");
	ck_assert_int_eq(maildir_host(out, sizeof out, "::"), 8);
	ck_assert_str_eq(out, "\\072\\072");
	ck_assert_int_eq(maildir_host(out, 5, "abcd"), 4);
	ck_assert_int_eq(maildir_host(out, 4, "abcd"), -1);
	ck_assert_int_eq(maildir_host(out, 8, "abcd/"), -1);	/* needs 9 */
	ck_assert_int_eq(maildir_host(out, 9, "abcd/"), 8);
}
END_TEST

START_TEST(names)
{
	char out[MAILDIR_NAMEMAX];
	ck_assert_int_eq(maildir_name_tag(out, sizeof out, 1700000000, "18c0ffee00001.3", 2, "h\\057x"), 35);
	ck_assert_str_eq(out, "1700000000.18c0ffee00001.3_2.h\\057x");
	ck_assert_int_gt(maildir_name_unique(out, sizeof out, 1700000000, 42, 999, "host"), 0);
	ck_assert_str_eq(out, "1700000000.M42P999.host");
	ck_assert_int_eq(maildir_name_unique(out, 10, 1700000000, 42, 999, "host"), -1);
	ck_assert(maildir_tag_ok("18c0ffee00001.3"));
	ck_assert(maildir_tag_ok("a-b_c.D9"));
	ck_assert(!maildir_tag_ok(""));
	ck_assert(!maildir_tag_ok(".x"));
	ck_assert(!maildir_tag_ok("a/b"));
	ck_assert(!maildir_tag_ok("a:b"));
	ck_assert(!maildir_tag_ok("a b"));
	char big[MAILDIR_TAGMAX + 2];
	memset(big, 'a', sizeof big);
	big[MAILDIR_TAGMAX] = 0;
	ck_assert(maildir_tag_ok(big));
	big[MAILDIR_TAGMAX] = 'a';
	big[MAILDIR_TAGMAX + 1] = 0;
	ck_assert(!maildir_tag_ok(big));
}
END_TEST

START_TEST(make)
{
	char d[128];
	snprintf(d, sizeof d, "%s/mk/", top);
	ck_assert_int_eq(maildir_make(d), 0);
	ck_assert_int_eq(maildir_make(d), 0);	/* again: fine */
	ck_assert_uint_eq(count(d, "tmp") + count(d, "new") + count(d, "cur"), 0);
	struct stat st;
	char p[160];
	snprintf(p, sizeof p, "%s/cur", d);
	ck_assert_int_eq(stat(p, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	ck_assert_int_eq(st.st_mode & 0777, 0700);
	snprintf(d, sizeof d, "%s/missing/parent/Maildir", top);
	ck_assert_int_eq(maildir_make(d), -1);
	ck_assert_int_eq(errno, ENOENT);
}
END_TEST

START_TEST(deliver_tagged)
{
	char d[128], name[MAILDIR_NAMEMAX], tag[MAILDIR_NAMEMAX], path[700];
	const char *step;
	const char *msg = "Subject: x\n\nbody\n";
	snprintf(d, sizeof d, "%s/tagged", top);
	ck_assert_int_eq(maildir_make(d), 0);
	maildir_name_tag(tag, sizeof tag, 1700000000, "abc.0", 0, "host");
	struct mem m = { msg, strlen(msg), 0, 3, 0 };
	struct msgsrc src = { memread, &m };
	ck_assert_int_eq(maildir_deliver(d, tag, "host", "RP\n", 3, &src, name, &step), MD_OK);
	ck_assert_str_eq(name, tag);
	snprintf(path, sizeof path, "%s/new/%s", d, name);
	size_t n;
	char *got = slurp(path, &n);
	ck_assert_uint_eq(n, 3 + strlen(msg));
	ck_assert(memcmp(got, "RP\nSubject: x\n\nbody\n", n) == 0);
	/* The same tag again: recognised, nothing written, tmp/ empty. */
	m.pos = 0;
	ck_assert_int_eq(maildir_deliver(d, tag, "host", "RP\n", 3, &src, name, &step), MD_DUP);
	ck_assert_uint_eq(m.pos, 0);
	ck_assert_uint_eq(count(d, "new"), 1);
	ck_assert_uint_eq(count(d, "tmp"), 0);
	/* Another index: another file. */
	maildir_name_tag(tag, sizeof tag, 1700000000, "abc.0", 1, "host");
	ck_assert_int_eq(maildir_deliver(d, tag, "host", "", 0, &src, name, &step), MD_OK);
	ck_assert_uint_eq(count(d, "new"), 2);
}
END_TEST

START_TEST(deliver_unique)
{
	char d[128], name[MAILDIR_NAMEMAX], first[MAILDIR_NAMEMAX];
	const char *step;
	snprintf(d, sizeof d, "%s/unique", top);
	ck_assert_int_eq(maildir_make(d), 0);
	struct mem m = { "x\n", 2, 0, 0, 0 };
	struct msgsrc src = { memread, &m };
	ck_assert_int_eq(maildir_deliver(d, 0, "h\\057x", "", 0, &src, name, &step), MD_OK);
	memcpy(first, name, sizeof first);
	ck_assert_ptr_nonnull(strstr(name, ".M"));
	ck_assert_ptr_nonnull(strstr(name, ".h\\057x"));
	for (int i = 0; i < 5; i++) {
		m.pos = 0;
		ck_assert_int_eq(maildir_deliver(d, 0, "h\\057x", "", 0, &src, name, &step), MD_OK);
		ck_assert_str_ne(name, first);
	}
	ck_assert_uint_eq(count(d, "new"), 6);
	ck_assert_uint_eq(count(d, "tmp"), 0);
}
END_TEST

START_TEST(deliver_fails_clean)
{
	char d[128], name[MAILDIR_NAMEMAX];
	const char *step = 0;
	snprintf(d, sizeof d, "%s/fail", top);
	ck_assert_int_eq(maildir_make(d), 0);
	struct mem m = { "0123456789abcdef", 16, 0, 4, 1 };
	struct msgsrc src = { memread, &m };
	ck_assert_int_eq(maildir_deliver(d, 0, "h", "", 0, &src, name, &step), -1);
	ck_assert_int_eq(errno, EIO);
	ck_assert_str_eq(step, "reading the message");
	ck_assert_uint_eq(count(d, "new") + count(d, "tmp"), 0);
	/* Not a Maildir: an error, not a crash. */
	snprintf(d, sizeof d, "%s/nonexistent", top);
	m.fail = 0; m.pos = 0;
	ck_assert_int_eq(maildir_deliver(d, 0, "h", "", 0, &src, name, &step), -1);
	ck_assert_int_eq(errno, ENOENT);
}
END_TEST

int main(void)
{
	snprintf(top, sizeof top, "/tmp/tern-unit-maildir.XXXXXX");
	if (!mkdtemp(top)) return 1;
	Suite *s = suite_create("maildir");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, host);
	tcase_add_test(tc, names);
	tcase_add_test(tc, make);
	tcase_add_test(tc, deliver_tagged);
	tcase_add_test(tc, deliver_unique);
	tcase_add_test(tc, deliver_fails_clean);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int f = srunner_ntests_failed(sr);
	srunner_free(sr);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", top);
	if (system(cmd) != 0) f++;
	return f != 0;
}
