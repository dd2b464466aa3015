#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <cdb_make.h>
#include "addr.h"
#include "userdb.h"

static int blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

/* Bytes no field may hold: white space, control bytes, DEL, the separators. */
static int plain(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= 0x20 || c == 0x7f || c == ':' || c == ',') return 0;
	}
	return 1;
}

static int fail(const char **err, const char *msg) { *err = msg; return -1; }

int userdb_domain(char *d, size_t n, const char **err)
{
	if (n == 0) return fail(err, "empty domain");
	addr_lower(d, n);
	if (!plain(d, n) || memchr(d, '@', n)) return fail(err, "forbidden character in domain");
	if (!addr_domain_ok(d, n) || d[n - 1] == '.') return fail(err, "bad domain");
	/* The domain names a directory under mail/: the one gate, whatever domain_ok allows. */
	if (!addr_pathsafe(d, n)) return fail(err, "domain not usable as a directory name");
	return 0;
}

int userdb_address(char *a, size_t n, int catchall, size_t *at, const char **err)
{
	if (n == 0) return fail(err, "empty address");
	if (n > USERDB_MAXADDR) return fail(err, "address too long");
	addr_lower(a, n);
	size_t p = addr_at(a, n);
	if (p == n) return fail(err, "address has no @domain");
	if (p == 0 && !catchall) return fail(err, "empty local part");
	if (p > USERDB_MAXLOCAL) return fail(err, "local part too long");
	if (!plain(a, p) || memchr(a, '@', p)) return fail(err, "forbidden character in local part");
	if (p > 0 && !addr_pathsafe(a, p)) return fail(err, "local part not usable as a directory name");
	if (userdb_domain(a + p + 1, n - p - 1, err) < 0) return -1;
	*at = p;
	return 0;
}

int userdb_target(char *t, size_t n, const char **err)
{
	if (n == 0) return fail(err, "empty target");
	if (n > USERDB_MAXADDR) return fail(err, "target too long");
	addr_lower(t, n);
	if (!plain(t, n)) return fail(err, "forbidden character in target");
	size_t p = addr_at(t, n);
	if (p == n || p + 1 == n) return fail(err, "target needs a domain (local@domain)");
	if (p == 0) return fail(err, "empty local part in target");
	if (memchr(t, '@', p)) return fail(err, "forbidden character in target");
	if (!addr_domain_ok(t + p + 1, n - p - 1) || t[n - 1] == '.')
		return fail(err, "bad domain in target");
	return 0;
}

int userdb_dir(const char *d, size_t n, const char **err)
{
	if (n == 0) return 0;
	if (n > USERDB_MAXDIR) return fail(err, "directory too long");
	if (d[0] != '/') return fail(err, "directory not an absolute path");
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)d[i];
		if (c <= 0x20 || c == 0x7f || c == ':') return fail(err, "forbidden character in directory");
	}
	/* No "." or ".." components: the path says plainly where the mail goes. */
	size_t i = 1;
	while (i <= n) {
		size_t j = i;
		while (j < n && d[j] != '/') j++;
		size_t l = j - i;
		if ((l == 1 && d[i] == '.') || (l == 2 && d[i] == '.' && d[i + 1] == '.'))
			return fail(err, "directory with a . or .. component");
		i = j + 1;
	}
	return 0;
}

int userdb_pwhash(const char *p, size_t n, const char **err)
{
	if (n > USERDB_MAXPW) return fail(err, "password hash too long");
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c <= 0x20 || c >= 0x7f || c == ':') return fail(err, "forbidden character in password hash");
	}
	return 0;
}

/* Targets of an alias: each one checked, no repeats, not the alias itself. */
static int targets(struct userdb_line *l, const char **err)
{
	char *t = l->targets;
	size_t n = l->tlen, i = 0;
	if (n == 0) return fail(err, "no targets");
	while (i <= n) {
		size_t j = i;
		while (j < n && t[j] != ',') j++;
		if (userdb_target(t + i, j - i, err) < 0) return -1;
		if (++l->ntargets > USERDB_MAXTARGETS) return fail(err, "too many targets");
		if (j - i == l->addrlen && memcmp(t + i, l->addr, j - i) == 0)
			return fail(err, "alias to itself");
		/* Earlier targets: a comma-separated prefix, so a quadratic scan; bounded by
		 * USERDB_MAXLINE. */
		size_t k = 0;
		while (k < i) {
			size_t m = k;
			while (t[m] != ',') m++;
			if (m - k == j - i && memcmp(t + k, t + i, j - i) == 0)
				return fail(err, "duplicate target");
			k = m + 1;
		}
		i = j + 1;
	}
	return 0;
}

int userdb_parse(char *s, size_t n, struct userdb_line *l, const char **err)
{
	memset(l, 0, sizeof *l);
	if (n > USERDB_MAXLINE) return fail(err, "line too long");
	size_t a = 0, b = n;
	while (a < b && blank(s[a])) a++;
	while (b > a && blank(s[b - 1])) b--;
	if (a == b || s[a] == '#') return 0;

	char *f[5] = {0};
	size_t fl[5] = {0}, nf = 0, st = a;
	for (size_t i = a; i <= b; i++) {
		if (i < b && s[i] != ':') continue;
		if (nf == 5) return fail(err, "too many fields");
		f[nf] = s + st;
		fl[nf++] = i - st;
		st = i + 1;
	}
	if (fl[0] != 1) return fail(err, "unknown record type (D, U or A)");
	switch (f[0][0]) {
	case 'D':
		if (nf != 2) return fail(err, "expected D:domain");
		if (userdb_domain(f[1], fl[1], err) < 0) return -1;
		break;
	case 'U':
		if (nf != 4) return fail(err, "expected U:local@domain:pwhash:dir");
		if (userdb_address(f[1], fl[1], 0, &l->at, err) < 0) return -1;
		if (userdb_pwhash(f[2], fl[2], err) < 0) return -1;
		if (userdb_dir(f[3], fl[3], err) < 0) return -1;
		l->pwhash = f[2]; l->pwlen = fl[2];
		l->dir = f[3]; l->dirlen = fl[3];
		break;
	case 'A':
		if (nf != 3) return fail(err, "expected A:local@domain:target,target...");
		if (userdb_address(f[1], fl[1], 1, &l->at, err) < 0) return -1;
		l->addr = f[1]; l->addrlen = fl[1];
		l->targets = f[2]; l->tlen = fl[2];
		if (targets(l, err) < 0) return -1;
		break;
	default:
		return fail(err, "unknown record type (D, U or A)");
	}
	l->kind = f[0][0];
	l->addr = f[1];
	l->addrlen = fl[1];
	return 0;
}

/* ---- the whole source ---- */

static int grow(void **p, size_t *cap, size_t n, size_t size)
{
	if (n < *cap) return 0;
	size_t c = *cap ? *cap * 2 : 64;
	if (c > ((size_t)-1) / size) { errno = ENOMEM; return -1; }
	void *q = realloc(*p, c * size);
	if (!q) { errno = ENOMEM; return -1; }
	*p = q;
	*cap = c;
	return 0;
}

static int adderr(struct userdb *db, size_t lineno, size_t other, const char *msg)
{
	if (grow((void **)&db->err, &db->caperr, db->nerr, sizeof *db->err) < 0) return -1;
	db->err[db->nerr].lineno = lineno;
	db->err[db->nerr].other = other;
	db->err[db->nerr].msg = msg;
	db->nerr++;
	return 0;
}

static struct userdb_ent *newent(struct userdb *db)
{
	if (grow((void **)&db->ent, &db->capent, db->nent, sizeof *db->ent) < 0) return 0;
	struct userdb_ent *e = &db->ent[db->nent++];
	memset(e, 0, sizeof *e);
	return e;
}

int userdb_load(struct userdb *db, const char *src, size_t len)
{
	memset(db, 0, sizeof *db);
	if (len > USERDB_MAXSRC) { errno = EFBIG; return -1; }
	db->buf = malloc(len + 1);
	if (!db->buf) { errno = ENOMEM; return -1; }
	memcpy(db->buf, src, len);
	db->buf[len] = 0;
	size_t i = 0, lineno = 0;
	while (i < len) {
		char *nl = memchr(db->buf + i, '\n', len - i);
		size_t j = nl ? (size_t)(nl - db->buf) : len;
		struct userdb_ent *e = newent(db);
		if (!e) return -1;
		e->text = db->buf + i;
		e->len = j - i;
		e->lineno = ++lineno;
		const char *err;
		if (userdb_parse(e->text, e->len, &e->rec, &err) < 0) {
			memset(&e->rec, 0, sizeof e->rec);
			e->bad = err;
		}
		i = j + 1;
	}
	return userdb_check(db) < 0 ? -1 : 0;
}

struct key { const char *s; size_t len; char ns; size_t idx; };

static int keycmp(const void *a, const void *b)
{
	const struct key *x = a, *y = b;
	if (x->ns != y->ns) return x->ns < y->ns ? -1 : 1;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->s, y->s, n);
	if (c) return c;
	if (x->len != y->len) return x->len < y->len ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int errcmp(const void *a, const void *b)
{
	const struct userdb_err *x = a, *y = b;
	return x->lineno < y->lineno ? -1 : x->lineno > y->lineno;
}

long userdb_check(struct userdb *db)
{
	db->nerr = 0;
	struct key *k = db->nent ? malloc(db->nent * sizeof *k) : 0;
	if (db->nent && !k) { errno = ENOMEM; return -1; }
	size_t nk = 0;
	for (size_t i = 0; i < db->nent; i++) {
		const struct userdb_ent *e = &db->ent[i];
		if (e->gone) continue;
		if (e->bad) {
			if (adderr(db, e->lineno, 0, e->bad) < 0) { free(k); return -1; }
			continue;
		}
		if (!e->rec.kind) continue;
		/* Users and aliases share one name space: an address is one or the other. */
		k[nk].s = e->rec.addr;
		k[nk].len = e->rec.addrlen;
		k[nk].ns = e->rec.kind == 'D' ? 'D' : 'a';
		k[nk].idx = i;
		nk++;
	}
	if (nk) qsort(k, nk, sizeof *k, keycmp);
	for (size_t i = 1; i < nk; i++) {
		if (k[i].ns != k[i - 1].ns || k[i].len != k[i - 1].len || memcmp(k[i].s, k[i - 1].s, k[i].len))
			continue;
		size_t first = i - 1;
		while (first > 0 && k[first - 1].ns == k[i].ns && k[first - 1].len == k[i].len &&
		       !memcmp(k[first - 1].s, k[i].s, k[i].len)) first--;
		const struct userdb_ent *e = &db->ent[k[i].idx], *o = &db->ent[k[first].idx];
		const char *msg = k[i].ns == 'D' ? "duplicate domain" :
			e->rec.kind == o->rec.kind ? "duplicate address" :
			e->rec.kind == 'U' ? "address already an alias" : "address already a user";
		if (adderr(db, e->lineno, o->lineno, msg) < 0) { free(k); return -1; }
	}
	free(k);
	if (db->nerr > 1) qsort(db->err, db->nerr, sizeof *db->err, errcmp);
	return (long)db->nerr;
}

long userdb_find(const struct userdb *db, char kind, const char *key, size_t n)
{
	for (size_t i = 0; i < db->nent; i++) {
		const struct userdb_ent *e = &db->ent[i];
		if (e->gone || e->bad || e->rec.kind != kind) continue;
		if (e->rec.addrlen == n && memcmp(e->rec.addr, key, n) == 0) return (long)i;
	}
	return -1;
}

int userdb_put(struct userdb *db, long idx, const char *line, size_t n, const char **err)
{
	char *own = malloc(n + 1);
	if (!own) return -2;
	memcpy(own, line, n);
	own[n] = 0;
	struct userdb_line rec;
	if (userdb_parse(own, n, &rec, err) < 0) { free(own); return -1; }
	struct userdb_ent *e;
	if (idx >= 0 && (size_t)idx < db->nent) {
		e = &db->ent[idx];
		free(e->own);
		e->bad = 0;
		e->gone = 0;
	} else {
		e = newent(db);
		if (!e) { free(own); return -2; }
	}
	e->own = own;
	e->text = own;
	e->len = n;
	e->rec = rec;
	return 0;
}

void userdb_del(struct userdb *db, size_t idx)
{
	if (idx < db->nent) db->ent[idx].gone = 1;
}

int userdb_text(const struct userdb *db, stralloc *out)
{
	for (size_t i = 0; i < db->nent; i++) {
		const struct userdb_ent *e = &db->ent[i];
		if (e->gone) continue;
		if (!stralloc_catb(out, e->text, e->len) || !stralloc_catb(out, "\n", 1)) return 0;
	}
	return 1;
}

/* libowfat's cdb_make keeps its hash lists on the heap and does not free them. */
static void cdbm_free(struct cdb_make *m)
{
	struct cdb_hplist *h = m->head;
	while (h) {
		struct cdb_hplist *n = h->next;
		free(h);
		h = n;
	}
	m->head = 0;
	free(m->split);
	m->split = 0;
}

static int record(const struct userdb_line *r, stralloc *key, stralloc *data)
{
	key->len = 0;
	data->len = 0;
	if (!stralloc_catb(key, &r->kind, 1) || !stralloc_catb(key, r->addr, r->addrlen)) return -1;
	if (r->kind == 'U') {
		if (!stralloc_catb(data, r->pwhash, r->pwlen) || !stralloc_catb(data, "", 1) ||
		    !stralloc_catb(data, r->dir, r->dirlen)) return -1;
	} else if (r->kind == 'A') {
		if (!stralloc_catb(data, r->targets, r->tlen) || !stralloc_catb(data, "", 1)) return -1;
		for (size_t i = 0; i < r->tlen; i++)
			if (data->s[i] == ',') data->s[i] = 0;
	}
	return 0;
}

/* ---- the reverse of the aliases: "S" target -> the aliases listing it ---- */

struct rev { const char *t, *a; size_t tl, al, seq; };

static int revcmp(const void *x, const void *y)
{
	const struct rev *a = x, *b = y;
	size_t n = a->tl < b->tl ? a->tl : b->tl;
	int c = memcmp(a->t, b->t, n);
	if (c) return c;
	if (a->tl != b->tl) return a->tl < b->tl ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Every (target, alias) pair of the live aliases, catch-alls left out: *out (malloc'd),
 * sorted by target, each target's aliases in source order.  The count, or -1 (ENOMEM). */
static long reverse_pairs(const struct userdb *db, struct rev **out)
{
	size_t n = 0, cap = 0;
	*out = 0;
	for (size_t i = 0; i < db->nent; i++) {
		const struct userdb_ent *e = &db->ent[i];
		const struct userdb_line *r = &e->rec;
		if (e->gone || e->bad || r->kind != 'A' || r->at == 0) continue;
		for (size_t k = 0; k <= r->tlen;) {
			size_t j = k;
			while (j < r->tlen && r->targets[j] != ',') j++;
			if (grow((void **)out, &cap, n, sizeof **out) < 0) { free(*out); *out = 0; return -1; }
			struct rev *v = &(*out)[n];
			v->t = r->targets + k;
			v->tl = j - k;
			v->a = r->addr;
			v->al = r->addrlen;
			v->seq = n++;
			k = j + 1;
		}
	}
	if (n > 1) qsort(*out, n, sizeof **out, revcmp);
	return (long)n;
}

static int add(struct cdb_make *m, const stralloc *key, const stralloc *data)
{
	errno = 0;
	if (cdb_make_add(m, (const unsigned char *)key->s, key->len,
			 (const unsigned char *)(data->len ? data->s : ""), data->len) == 0) return 0;
	if (!errno) errno = EIO;
	return -1;
}

static int reverse(const struct userdb *db, struct cdb_make *m, stralloc *key, stralloc *data)
{
	struct rev *v;
	long n = reverse_pairs(db, &v);
	if (n < 0) { errno = ENOMEM; return -1; }
	for (size_t i = 0; i < (size_t)n;) {
		key->len = 0;
		data->len = 0;
		if (!stralloc_catb(key, "S", 1) || !stralloc_catb(key, v[i].t, v[i].tl)) goto nomem;
		size_t j = i;
		for (; j < (size_t)n && v[j].tl == v[i].tl && !memcmp(v[j].t, v[i].t, v[i].tl); j++)
			if (!stralloc_catb(data, v[j].a, v[j].al) || !stralloc_catb(data, "", 1)) goto nomem;
		if (add(m, key, data) < 0) { int e = errno; free(v); errno = e; return -1; }
		i = j;
	}
	free(v);
	return 0;
nomem:
	free(v);
	errno = ENOMEM;
	return -1;
}

int userdb_cdb(const struct userdb *db, int fd)
{
	struct cdb_make *m = calloc(1, sizeof *m);
	stralloc key = {0}, data = {0};
	int r = -1, e = ENOMEM;
	if (!m) { errno = ENOMEM; return -1; }
	if (cdb_make_start(m, fd) < 0) { e = errno; goto out; }
	for (size_t i = 0; i < db->nent; i++) {
		const struct userdb_ent *en = &db->ent[i];
		if (en->gone || en->bad || !en->rec.kind) continue;
		if (record(&en->rec, &key, &data) < 0) { e = ENOMEM; goto out; }
		if (add(m, &key, &data) < 0) { e = errno; goto out; }
	}
	if (reverse(db, m, &key, &data) < 0) { e = errno; goto out; }
	errno = 0;
	if (cdb_make_finish(m) < 0) { e = errno ? errno : EIO; goto out; }
	r = 0;
out:
	cdbm_free(m);
	free(m);
	stralloc_free(&key);
	stralloc_free(&data);
	if (r < 0) errno = e;
	return r;
}

void userdb_free(struct userdb *db)
{
	for (size_t i = 0; i < db->nent; i++) free(db->ent[i].own);
	free(db->ent);
	free(db->err);
	free(db->buf);
	memset(db, 0, sizeof *db);
}

static int sortcmp(const void *a, const void *b, void *arg)
{
	const struct userdb *db = arg;
	const struct userdb_line *x = &db->ent[*(const size_t *)a].rec, *y = &db->ent[*(const size_t *)b].rec;
	size_t n = x->addrlen < y->addrlen ? x->addrlen : y->addrlen;
	int c = memcmp(x->addr, y->addr, n);
	if (c) return c;
	return x->addrlen < y->addrlen ? -1 : x->addrlen > y->addrlen;
}

long userdb_sorted(const struct userdb *db, char kind, size_t **idx)
{
	size_t n = 0;
	*idx = malloc((db->nent ? db->nent : 1) * sizeof **idx);
	if (!*idx) { errno = ENOMEM; return -1; }
	for (size_t i = 0; i < db->nent; i++) {
		const struct userdb_ent *e = &db->ent[i];
		if (!e->gone && !e->bad && e->rec.kind == kind) (*idx)[n++] = i;
	}
	if (n > 1) qsort_r(*idx, n, sizeof **idx, sortcmp, (void *)db);
	return (long)n;
}
