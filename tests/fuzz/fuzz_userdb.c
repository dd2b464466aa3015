/* libFuzzer: the users database source (userdb.h) and the cdb lookups (users.h).  The
 * source is written by hand, and tern-users must never crash on one, never compile a
 * record it calls bad, and the cdb it writes must answer for every record it keeps.
 * The cdb goes to a memfd that $TERN_HOME/users/users.cdb names through a symlink to
 * /proc/self/fd/CDBFD, so the lookups read what userdb_cdb wrote. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include "userdb.h"
#include "users.h"

#define CDBFD 900

static int ready;
static char home[] = "/tmp/tern-fuzz-userdb.XXXXXX";

static void cleanup(void)
{
	char p[256];
	snprintf(p, sizeof p, "%s/users/users.cdb", home);
	unlink(p);
	snprintf(p, sizeof p, "%s/users", home);
	rmdir(p);
	rmdir(home);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc; (void)argv;
	char p[256], target[64];
	if (!mkdtemp(home)) return 0;
	atexit(cleanup);
	snprintf(p, sizeof p, "%s/users", home);
	if (mkdir(p, 0700) != 0) return 0;
	snprintf(p, sizeof p, "%s/users/users.cdb", home);
	snprintf(target, sizeof target, "/proc/self/fd/%d", CDBFD);
	if (symlink(target, p) != 0) return 0;
	setenv("TERN_HOME", home, 1);
	ready = 1;
	return 0;
}

static int lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

/* Every live record of db answers from the cdb as the source says (db has no errors). */
static void lookups(const struct userdb *db)
{
	stralloc t = {0};
	struct user_rec u;
	for (size_t i = 0; i < db->nent; i++) {
		const struct userdb_ent *e = &db->ent[i];
		const struct userdb_line *r = &e->rec;
		if (e->gone || e->bad || !r->kind) continue;
		switch (r->kind) {
		case 'D':
			if (users_isdomain(r->addr, r->addrlen) != 1) __builtin_trap();
			break;
		case 'U':
			if (users_finduser(r->addr, r->addrlen, &u) != 1) __builtin_trap();
			if (strlen(u.pwhash) != r->pwlen || memcmp(u.pwhash, r->pwhash, r->pwlen)) __builtin_trap();
			if (r->dirlen && (strlen(u.dir) != r->dirlen || memcmp(u.dir, r->dir, r->dirlen))) __builtin_trap();
			if (!r->dirlen && u.dir[0] != '/') __builtin_trap();
			if (users_findalias(r->addr, r->addrlen, &t) != 0) __builtin_trap();
			break;
		case 'A':
			t.len = 0;
			if (users_findalias(r->addr, r->addrlen, &t) != 1) __builtin_trap();
			if (t.len != r->tlen + 1) __builtin_trap();
			for (size_t k = 0; k < r->tlen; k++)
				if (t.s[k] != (r->targets[k] == ',' ? 0 : r->targets[k])) __builtin_trap();
			if (r->at > 0 && users_finduser(r->addr, r->addrlen, &u) != 0) __builtin_trap();
			break;
		default:
			__builtin_trap();
		}
	}
	stralloc_free(&t);
}

static void compile(const struct userdb *db, int check)
{
	int fd = memfd_create("userdb", MFD_CLOEXEC);
	if (fd < 0) return;
	if (userdb_cdb(db, fd) != 0) __builtin_trap();
	if (check && ready && dup2(fd, CDBFD) == CDBFD) {
		lookups(db);
		close(CDBFD);
	}
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct userdb db;
	if (userdb_load(&db, s, size) != 0) __builtin_trap();

	/* One entry per line; the errors in line order, each naming a real line. */
	size_t lines = 0;
	for (size_t i = 0; i < size; i++) if (s[i] == '\n') lines++;
	if (size && s[size - 1] != '\n') lines++;
	if (db.nent != lines) __builtin_trap();
	for (size_t i = 0; i < db.nerr; i++) {
		const struct userdb_err *e = &db.err[i];
		if (e->lineno == 0 || e->lineno > lines || !e->msg || e->other >= e->lineno) __builtin_trap();
		if (i && e->lineno < db.err[i - 1].lineno) __builtin_trap();
	}
	/* Parsed records: lowercase, inside the line, no byte a field may not hold. */
	size_t live[3] = {0};
	for (size_t i = 0; i < db.nent; i++) {
		const struct userdb_ent *e = &db.ent[i];
		const struct userdb_line *r = &e->rec;
		if (e->bad || !r->kind) continue;
		if (r->addr < e->text || r->addr + r->addrlen > e->text + e->len) __builtin_trap();
		if (r->addrlen == 0 || r->addrlen > USERDB_MAXADDR) __builtin_trap();
		for (size_t k = 0; k < r->addrlen; k++) {
			unsigned char c = (unsigned char)r->addr[k];
			if (c <= 0x20 || c == 0x7f || c == ':' || c == ',' || (c >= 'A' && c <= 'Z')) __builtin_trap();
		}
		if (r->kind != 'D' && (r->at >= r->addrlen || r->addr[r->at] != '@')) __builtin_trap();
		if (r->kind == 'U' && (r->at == 0 || (r->dirlen && r->dir[0] != '/'))) __builtin_trap();
		if (r->kind == 'A' && (r->ntargets == 0 || r->ntargets > USERDB_MAXTARGETS)) __builtin_trap();
		live[r->kind == 'D' ? 0 : r->kind == 'U' ? 1 : 2]++;
	}
	/* The text is the source, lowercased where parsed, each line ending in '\n'. */
	stralloc text = {0};
	if (!userdb_text(&db, &text)) __builtin_trap();
	if (text.len != size + (size && s[size - 1] != '\n')) __builtin_trap();
	for (size_t i = 0; i < size; i++)
		if (text.s[i] != s[i] && text.s[i] != lower((unsigned char)s[i])) __builtin_trap();
	/* Loading it again gives the same verdict and the same text. */
	struct userdb db2;
	if (userdb_load(&db2, text.len ? text.s : "", text.len) != 0) __builtin_trap();
	if (db2.nent != db.nent || db2.nerr != db.nerr) __builtin_trap();
	stralloc text2 = {0};
	if (!userdb_text(&db2, &text2) || text2.len != text.len || (text.len && memcmp(text2.s, text.s, text.len))) __builtin_trap();
	userdb_free(&db2);
	stralloc_free(&text2);

	long nerr = userdb_check(&db);
	if (nerr < 0 || (size_t)nerr != db.nerr) __builtin_trap();
	compile(&db, nerr == 0);

	static const char kinds[3] = { 'D', 'U', 'A' };
	for (int k = 0; k < 3; k++) {
		size_t *idx;
		long n = userdb_sorted(&db, kinds[k], &idx);
		if (n < 0 || (size_t)n != live[k]) __builtin_trap();
		for (long i = 1; i < n; i++) {
			const struct userdb_line *a = &db.ent[idx[i - 1]].rec, *b = &db.ent[idx[i]].rec;
			size_t m = a->addrlen < b->addrlen ? a->addrlen : b->addrlen;
			int c = memcmp(a->addr, b->addr, m);
			if (c > 0 || (c == 0 && a->addrlen > b->addrlen)) __builtin_trap();
		}
		free(idx);
	}

	/* Putting a line back over itself changes nothing; a bad line is refused. */
	for (size_t i = 0; i < db.nent && i < 8; i++) {
		char *copy = malloc(db.ent[i].len + 1);
		if (!copy) break;
		memcpy(copy, db.ent[i].text, db.ent[i].len);
		const char *err = 0;
		int bad = db.ent[i].bad != 0;
		int r = userdb_put(&db, (long)i, copy, db.ent[i].len, &err);
		free(copy);
		if (r == -2) break;
		if (bad != (r == -1) || (r == -1 && !err)) __builtin_trap();
	}
	if (userdb_check(&db) != nerr) __builtin_trap();
	/* Deleting every other entry leaves a database that still compiles. */
	for (size_t i = 0; i < db.nent; i += 2) userdb_del(&db, i);
	if (userdb_check(&db) < 0) __builtin_trap();
	compile(&db, db.nerr == 0);

	stralloc_free(&text);
	userdb_free(&db);
	return 0;
}
