#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fmt.h>
#include "fdio.h"
#include "addr.h"
#include "date822.h"
#include "die.h"
#include "env.h"
#include "header.h"
#include "home.h"
#include "inject.h"
#include "qprog.h"
#include "sig.h"
#include "spawn.h"

/* The reason for an error: a, then b (blen bytes) with control bytes shown as '?'. */
static void seterr(struct inject *ij, const char *a, const char *b, size_t blen)
{
	int k = snprintf(ij->err, sizeof ij->err, "%s%.*s", a, (int)(blen > 300 ? 300 : blen), b ? b : "");
	size_t n = k < 0 ? 0 : (size_t)k >= sizeof ij->err ? sizeof ij->err - 1 : (size_t)k;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)ij->err[i];
		if (c < 0x20 || c == 0x7f) ij->err[i] = '?';
	}
}

/* Appends addr (len bytes), with "@me" when it has no '@', NUL-terminated. */
static int add_qualified(stralloc *sa, const char *a, size_t len, const char *me)
{
	if (!stralloc_catb(sa, a, len)) return 0;
	if (addr_at(a, len) == len && (!stralloc_append(sa, "@") || !stralloc_cats(sa, me))) return 0;
	return stralloc_0(sa);
}

/* Parses an address list and appends its addresses, qualified, to ij->rcpt.
 * 0, or -1 (errno EINVAL syntax, ENOMEM). */
static int add_list(struct inject *ij, const char *s, size_t n)
{
	stralloc tmp = {0};
	size_t k = 0;
	int r = header_addrlist(s, n, &tmp, &k);
	for (size_t p = 0; r == 0 && p < tmp.len; ) {
		size_t l = strlen(tmp.s + p);
		if (!add_qualified(&ij->rcpt, tmp.s + p, l, ij->o.me)) { errno = ENOMEM; r = -1; }
		ij->nrcpt++;
		p += l + 1;
	}
	stralloc_free(&tmp);
	return r;
}

static int set_sender(struct inject *ij)
{
	const char *f = ij->o.sender;
	ij->sender.len = 0;
	if (!f) {
		if (!add_qualified(&ij->sender, ij->o.user, strlen(ij->o.user), ij->o.me)) return INJ_ENOMEM;
		return INJ_OK;
	}
	stralloc tmp = {0};
	size_t k = 0;
	int r = header_addrlist(f, strlen(f), &tmp, &k);
	if (r < 0 && errno == ENOMEM) r = INJ_ENOMEM;
	else if (r < 0 || k > 1) { seterr(ij, "bad sender address: ", f, strlen(f)); r = INJ_EUSAGE; }
	else if (k == 0) r = stralloc_0(&ij->sender) ? INJ_OK : INJ_ENOMEM;
	else r = add_qualified(&ij->sender, tmp.s, strlen(tmp.s), ij->o.me) ? INJ_OK : INJ_ENOMEM;
	stralloc_free(&tmp);
	return r;
}

/* A login name usable as a local part unquoted: a dot-atom of at most 64 bytes. */
static int inject_user_ok(const char *u)
{
	size_t n = u ? strlen(u) : 0;
	if (n == 0 || n > 64 || u[0] == '.' || u[n - 1] == '.') return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)u[i];
		if (c == '.' ? u[i + 1] == '.' : !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr("!#$%&'*+-/=?^_`{|}~", c))) return 0;
	}
	return 1;
}

int inject_init(struct inject *ij, const struct inject_opt *o)
{
	memset(ij, 0, sizeof *ij);
	ij->o = *o;
	if (!ij->o.me || !*ij->o.me) ij->o.me = "localhost";
	if (!inject_user_ok(ij->o.user)) ij->o.user = "anonymous";
	if (!ij->o.unique) ij->o.unique = "0";
	ij->bol = 1;
	ij->last = '\n';
	int r = set_sender(ij);
	if (r) return r;
	for (size_t i = 0; i < o->nargs; i++)
		if (add_list(ij, o->args[i], strlen(o->args[i])) < 0) {
			if (errno == ENOMEM) return INJ_ENOMEM;
			seterr(ij, "bad recipient address: ", o->args[i], strlen(o->args[i]));
			return INJ_EUSAGE;
		}
	return INJ_OK;
}

/* ---- the byte pipeline: CR stage, dot stage, then header or body ---- */

static int flush(struct inject *ij)
{
	if (ij->olen && !ij->werr && ij->write(ij->wctx, ij->obuf, ij->olen) < 0) ij->werr = 1;
	ij->olen = 0;
	return ij->werr ? INJ_EWRITE : INJ_OK;
}

static int body_put(struct inject *ij, char c)
{
	if (!ij->begun) return stralloc_append(&ij->head, &c) ? INJ_OK : INJ_ENOMEM;
	ij->obuf[ij->olen++] = c;
	ij->last = c;
	if (ij->olen == sizeof ij->obuf) return flush(ij);
	return INJ_OK;
}

/* Decides what the complete line [line, head.len) is; it ends in '\n'. */
static void head_line(struct inject *ij)
{
	const char *l = ij->head.s + ij->line;
	size_t len = ij->head.len - ij->line - 1;
	if (len == 0) {				/* the empty line ending the header */
		ij->head.len = ij->line;
		ij->hlen = ij->line;
		ij->phase = 1;
		return;
	}
	if (ij->nlines++ == 0 && len >= 5 && memcmp(l, "From ", 5) == 0) {
		ij->head.len = ij->line;	/* mbox separator */
		return;
	}
	if ((l[0] == ' ' || l[0] == '\t') ? ij->nfields > 0 : header_namelen(l, len) > 0) {
		if (l[0] != ' ' && l[0] != '\t') ij->nfields++;
		ij->line = ij->head.len;
		return;
	}
	ij->hlen = ij->line;			/* not a field: the body starts here */
	ij->phase = 1;
}

static int head_put(struct inject *ij, char c)
{
	if (!stralloc_append(&ij->head, &c)) return INJ_ENOMEM;
	if (c == '\n') head_line(ij);
	else if (ij->head.len - ij->line > HEADER_LINEMAX) {
		ij->hlen = ij->line;
		ij->phase = 1;
	}
	if (ij->phase == 0 && ij->head.len > INJECT_HEADMAX) {
		seterr(ij, "header section over 1 MiB", 0, 0);
		return INJ_EHEADER;
	}
	return INJ_OK;
}

static int put(struct inject *ij, char c)
{
	ij->bol = c == '\n';
	return ij->phase ? body_put(ij, c) : head_put(ij, c);
}

static int dot_stage(struct inject *ij, char c)
{
	if (ij->dot) {
		ij->dot = 0;
		if (c == '\n') { ij->ended = 1; return INJ_OK; }
		int r = put(ij, '.');
		if (r) return r;
	} else if (ij->bol && c == '.' && ij->o.dotend) {
		ij->dot = 1;
		ij->bol = 0;
		return INJ_OK;
	}
	return put(ij, c);
}

static int waiting(const struct inject *ij) { return ij->phase && !ij->begun; }

int inject_feed(struct inject *ij, const char *s, size_t n, size_t *used)
{
	size_t i;
	int r = INJ_OK;
	for (i = 0; i < n && r == INJ_OK; i++) {
		if (ij->ended) { i = n; break; }
		if (waiting(ij)) break;
		char c = s[i];
		if (c == '\r') { ij->ncr++; continue; }
		if (ij->ncr) {
			if (c == '\n') ij->ncr = 0;
			while (ij->ncr && !waiting(ij) && r == INJ_OK) { ij->ncr--; r = dot_stage(ij, '\r'); }
			if (ij->ncr || r) break;	/* c is for later */
		}
		r = dot_stage(ij, c);
	}
	*used = i;
	if (r == INJ_OK && ij->werr) r = INJ_EWRITE;
	return r;
}

int inject_headdone(const struct inject *ij) { return ij->phase == 1; }
int inject_ended(const struct inject *ij) { return ij->ended; }

/* Held CRs and a held dot, in input order (the dot came first). */
static int drain(struct inject *ij, int headonly)
{
	int r = INJ_OK;
	while (ij->ncr && r == INJ_OK && !(headonly && ij->phase)) { ij->ncr--; r = dot_stage(ij, '\r'); }
	if (r == INJ_OK && ij->dot && !(headonly && ij->phase)) { ij->dot = 0; r = put(ij, '.'); }
	return r;
}

int inject_eof(struct inject *ij)
{
	ij->ncr = 0;		/* CRs at the end are the last line's end */
	int r = drain(ij, 1);
	if (r || ij->phase) return r;
	if (ij->head.len > ij->line) {		/* a last line without newline */
		const char *l = ij->head.s + ij->line;
		size_t len = ij->head.len - ij->line;
		int field = (l[0] == ' ' || l[0] == '\t') ? ij->nfields > 0 : header_namelen(l, len) > 0;
		if (ij->nlines == 0 && len >= 5 && memcmp(l, "From ", 5) == 0) ij->head.len = ij->line;
		else if (field) {
			if (!stralloc_append(&ij->head, "\n")) return INJ_ENOMEM;
			ij->line = ij->head.len;
		}
	}
	ij->hlen = ij->line;
	ij->phase = 1;
	return INJ_OK;
}

/* ---- the header ---- */

static int has_prefix_ci(const char *s, size_t n, const char *p)
{
	size_t k = strlen(p);
	if (n < k) return 0;
	for (size_t i = 0; i < k; i++) {
		char a = s[i];
		if (a >= 'A' && a <= 'Z') a = (char)(a + 32);
		if (a != p[i]) return 0;
	}
	return 1;
}

enum { H_FROM, H_DATE, H_MSGID, H_RFROM, H_RDATE, H_RMSGID, H_N };
static const char *const seen_names[H_N] = {
	"From", "Date", "Message-ID", "Resent-From", "Resent-Date", "Resent-Message-ID"
};

static int dropped(const struct header_field *f)
{
	return header_is(f, "Bcc") || header_is(f, "Resent-Bcc") || header_is(f, "Return-Path") ||
	       header_is(f, "Content-Length");
}

static int rcpt_field(const struct header_field *f, int resent)
{
	if (resent) return header_is(f, "Resent-To") || header_is(f, "Resent-Cc") || header_is(f, "Resent-Bcc");
	return header_is(f, "To") || header_is(f, "Cc") || header_is(f, "Bcc");
}

static int add_field(stralloc *sa, const char *name, const char *v1, const char *v2, const char *v3)
{
	return stralloc_cats(sa, name) && stralloc_cats(sa, ": ") && stralloc_cats(sa, v1) &&
	       (!v2 || stralloc_cats(sa, v2)) && (!v3 || stralloc_cats(sa, v3)) && stralloc_append(sa, "\n");
}

static int from_value(const struct inject *ij, stralloc *v)
{
	stralloc name = {0};
	const char *fn = ij->o.fullname;
	int ok = header_phrase(&name, fn ? fn : "", fn ? strlen(fn) : 0);
	if (ok && name.len) ok = stralloc_cat(v, &name) && stralloc_cats(v, " <");
	ok = ok && header_localpart(v, ij->o.user, strlen(ij->o.user)) && stralloc_append(v, "@") &&
	     stralloc_cats(v, ij->o.me);
	if (ok && name.len) ok = stralloc_append(v, ">");
	ok = ok && stralloc_0(v);
	stralloc_free(&name);
	return ok;
}

static int added_fields(struct inject *ij, const int *seen, int resent)
{
	char date[DATE822_LEN], num[2 * FMT_ULONG + 3];
	stralloc from = {0}, id = {0};
	date822_fmt(date, ij->o.now);
	int ok = from_value(ij, &from);
	size_t k = fmt_ulonglong(num, (unsigned long long)ij->o.now);
	num[k++] = '.';
	k += fmt_ulong(num + k, ij->o.pid);
	num[k++] = '.';
	num[k] = 0;
	ok = ok && stralloc_cats(&id, "<") && stralloc_cats(&id, num) && stralloc_cats(&id, ij->o.unique) &&
	     stralloc_append(&id, "@") && stralloc_cats(&id, ij->o.me) && stralloc_cats(&id, ">") &&
	     stralloc_0(&id);
	for (int r = 0; ok && r <= resent; r++) {
		const int *s = seen + 3 * r;
		if (!s[0]) ok = add_field(&ij->prefix, seen_names[3 * r], from.s, 0, 0);
		if (ok && !s[1]) ok = add_field(&ij->prefix, seen_names[3 * r + 1], date, 0, 0);
		if (ok && !s[2]) ok = add_field(&ij->prefix, seen_names[3 * r + 2], id.s, 0, 0);
	}
	stralloc_free(&from);
	stralloc_free(&id);
	return ok;
}

int inject_header(struct inject *ij)
{
	const char *h = ij->head.s;
	size_t hlen = ij->hlen, pos = 0;
	struct header_field f;
	int seen[H_N] = {0}, resent = 0;
	while (header_next(h, hlen, &pos, &f)) {
		if (has_prefix_ci(f.name, f.namelen, "resent-")) resent = 1;
		for (int i = 0; i < H_N; i++)
			if (header_is(&f, seen_names[i])) seen[i] = 1;
	}
	ij->prefix.len = 0;
	if (!added_fields(ij, seen, resent)) return INJ_ENOMEM;
	stralloc v = {0};
	int r = INJ_OK;
	for (pos = 0; r == INJ_OK && header_next(h, hlen, &pos, &f); ) {
		if (ij->o.rcpt_headers && rcpt_field(&f, resent)) {
			v.len = 0;
			if (!header_unfold(&v, f.value, f.valuelen)) r = INJ_ENOMEM;
			else if (add_list(ij, v.s, v.len) < 0) {
				if (errno == ENOMEM) r = INJ_ENOMEM;
				else {
					char what[96];
					snprintf(what, sizeof what, "cannot parse the addresses in %.*s: ",
						 (int)(f.namelen < 40 ? f.namelen : 40), f.name);
					size_t sp = 0;
					while (sp < v.len && (v.s[sp] == ' ' || v.s[sp] == '\t')) sp++;
					seterr(ij, what, v.s + sp, v.len - sp);
					r = INJ_EADDR;
				}
			}
		}
		if (r == INJ_OK && !dropped(&f) && !stralloc_catb(&ij->prefix, h + f.start, f.end - f.start))
			r = INJ_ENOMEM;
	}
	stralloc_free(&v);
	if (r) return r;
	if (!stralloc_append(&ij->prefix, "\n")) return INJ_ENOMEM;
	if (ij->nrcpt == 0) { seterr(ij, "no recipients: none given, and no To:, Cc: or Bcc: in the header", 0, 0); return INJ_ENORCPT; }
	return INJ_OK;
}

int inject_begin(struct inject *ij, inject_writer w, void *ctx)
{
	ij->write = w;
	ij->wctx = ctx;
	ij->begun = 1;
	ij->olen = 0;
	if (w(ctx, ij->prefix.s, ij->prefix.len) < 0) ij->werr = 1;
	ij->last = '\n';
	size_t n = ij->head.len - ij->hlen;
	if (n && !ij->werr && w(ctx, ij->head.s + ij->hlen, n) < 0) ij->werr = 1;
	if (n) ij->last = ij->head.s[ij->head.len - 1];
	/* The header is no longer needed: give its memory back before the body streams. */
	stralloc_free(&ij->head);
	stralloc_free(&ij->prefix);
	return ij->werr ? INJ_EWRITE : INJ_OK;
}

int inject_finish(struct inject *ij)
{
	int r = drain(ij, 0);
	if (r == INJ_OK && ij->last != '\n') r = body_put(ij, '\n');
	if (r == INJ_OK) r = flush(ij);
	return r;
}

/* ---- the envelope ---- */

struct rref { const char *s; size_t idx; };

static int rref_cmp(const void *a, const void *b)
{
	const struct rref *x = a, *y = b;
	int c = strcmp(x->s, y->s);
	if (c) return c;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

int inject_envelope(struct inject *ij, stralloc *env)
{
	size_t n = ij->nrcpt;
	struct rref *r = n ? calloc(n, sizeof *r) : 0;
	char *dup = n ? calloc(n, 1) : 0;
	if (n && (!r || !dup)) { free(r); free(dup); return 0; }
	size_t p = 0;
	for (size_t i = 0; i < n; i++) {
		r[i].s = ij->rcpt.s + p;
		r[i].idx = i;
		p += strlen(r[i].s) + 1;
	}
	qsort(r, n, sizeof *r, rref_cmp);
	for (size_t i = 1; i < n; i++)
		if (strcmp(r[i].s, r[i - 1].s) == 0) dup[r[i].idx] = 1;
	int ok = env_start(env, ij->sender.s);
	for (size_t i = 0, q = 0; ok && i < n; i++) {
		const char *a = ij->rcpt.s + q;
		q += strlen(a) + 1;
		if (!dup[i]) ok = env_add_rcpt(env, a);
	}
	ok = ok && env_finish(env);
	free(r);
	free(dup);
	return ok;
}

void inject_free(struct inject *ij)
{
	stralloc_free(&ij->head);
	stralloc_free(&ij->prefix);
	stralloc_free(&ij->rcpt);
	stralloc_free(&ij->sender);
}

/* ---- on a buffer ---- */

static int sa_writer(void *ctx, const char *s, size_t n)
{
	return stralloc_catb((stralloc *)ctx, s, n) ? 0 : -1;
}

int inject_buffer(const struct inject_opt *o, const char *in, size_t n, stralloc *msg, stralloc *env)
{
	struct inject *ij = malloc(sizeof *ij);
	if (!ij) return INJ_ENOMEM;
	int r = inject_init(ij, o);
	size_t off = 0, used;
	while (r == INJ_OK && off < n && !ij->ended && !ij->phase) {
		r = inject_feed(ij, in + off, n - off, &used);
		off += used;
	}
	if (r == INJ_OK && !ij->phase) r = inject_eof(ij);
	if (r == INJ_OK) r = inject_header(ij);
	if (r == INJ_OK) r = inject_begin(ij, sa_writer, msg);
	while (r == INJ_OK && off < n && !ij->ended) {
		r = inject_feed(ij, in + off, n - off, &used);
		off += used;
	}
	if (r == INJ_OK) r = inject_eof(ij);
	if (r == INJ_OK) r = inject_finish(ij);
	if (r == INJ_OK && !inject_envelope(ij, env)) r = INJ_ENOMEM;
	inject_free(ij);
	free(ij);
	return r;
}

/* ---- running it ---- */

static char *envdup(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? strdup(v) : 0;
}

/* The gecos field's first comma field, '&' standing for the capitalised login name. */
static char *gecos_name(const struct passwd *pw)
{
	if (!pw || !pw->pw_gecos) return 0;
	size_t n = strcspn(pw->pw_gecos, ",");
	stralloc sa = {0};
	int ok = 1;
	for (size_t i = 0; i < n && ok; i++) {
		if (pw->pw_gecos[i] != '&') { ok = stralloc_append(&sa, pw->pw_gecos + i); continue; }
		size_t at = sa.len;
		ok = stralloc_cats(&sa, pw->pw_name);
		if (ok && sa.len > at && sa.s[at] >= 'a' && sa.s[at] <= 'z') sa.s[at] = (char)(sa.s[at] - 32);
	}
	if (!ok || !sa.len || !stralloc_0(&sa)) { stralloc_free(&sa); return 0; }
	return sa.s;
}

void inject_defaults(struct inject_opt *o)
{
	static char unique[17];
	static const char *const users[] = { "MAILUSER", "USER", "LOGNAME" };
	struct passwd *pw = getpwuid(getuid());
	o->me = tern_me();
	o->user = 0;
	for (size_t i = 0; i < 3 && !o->user; i++) {
		char *u = envdup(users[i]);
		if (u && inject_user_ok(u)) o->user = u;
		else free(u);
	}
	if (!o->user && pw && inject_user_ok(pw->pw_name)) o->user = strdup(pw->pw_name);
	if (!o->user) o->user = "anonymous";
	if (!o->fullname) o->fullname = envdup("MAILNAME");
	if (!o->fullname) o->fullname = envdup("NAME");
	if (!o->fullname) o->fullname = gecos_name(pw);
	o->now = time(0);
	o->pid = (unsigned long)getpid();
	unsigned char r[8];
	if (getentropy(r, sizeof r) != 0) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		unsigned long long x = (unsigned long long)ts.tv_nsec ^ ((unsigned long long)ts.tv_sec << 30);
		memcpy(r, &x, sizeof r);
	}
	for (size_t i = 0; i < sizeof r; i++) {
		unique[2 * i] = "0123456789abcdef"[r[i] >> 4];
		unique[2 * i + 1] = "0123456789abcdef"[r[i] & 15];
	}
	unique[16] = 0;
	o->unique = unique;
}

int inject_exitcode(int q, const char **why)
{
	switch (q) {
	case 0: *why = "queued"; return 0;
	case 11: *why = "an address is too long"; return 65;
	case 31: *why = "the message was refused"; return 69;
	case 91: *why = "the envelope was malformed"; return 65;
	case 51: *why = "out of memory"; return 75;
	case 52: *why = "timeout"; return 75;
	case 53: *why = "disk full or write error"; return 75;
	case 54: *why = "it could not read the message or the envelope"; return 75;
	case 55: *why = "it could not read a configuration file"; return 75;
	case 61: case 62: case 63: case 64: case 65: case 66:
		*why = "a queue directory problem"; return 75;
	case 71: *why = "temporary refusal"; return 75;
	case 81: *why = "an internal bug"; return 75;
	}
	if (q < 0) { *why = "it could not be waited for"; return 75; }
	if (q >= 128) { *why = "it was killed by a signal"; return 75; }
	if (q < 40) { *why = "permanent refusal"; return 69; }
	*why = "temporary failure";
	return 75;
}

/* The queue program's pipes: message (m) and envelope (e). */
struct qrun { pid_t pid; int m, e; const char *path; };	/* pid, m, e as in struct qprog */

static int fd_writer(void *ctx, const char *s, size_t n)
{
	return fd_write_all(*(int *)ctx, s, n);
}

static void die_engine(struct inject *ij, int r)
{
	switch (r) {
	case INJ_EUSAGE: case INJ_ENORCPT: tern_die(64, ij->err);
	case INJ_EHEADER: case INJ_EADDR: tern_die(65, ij->err);
	case INJ_ENOMEM: errno = ENOMEM; tern_die_sys(75, "message not queued");
	}
	tern_die(70, "message not queued: internal error");
}

static void queue_start(struct qrun *q)
{
	static char path[4096];
	if (qprog_path(path, sizeof path, 1) < 0) tern_die(75, "cannot run the queue program: path too long");
	q->path = path;
	struct qprog p;
	if (qprog_start(&p, path) < 0) tern_die_sys(75, "cannot run the queue program ", path);
	q->pid = p.pid;
	q->m = p.m;
	q->e = p.e;
}

/* Waits for the queue program and exits as its exit code says. */
static void __attribute__((noreturn)) queue_end(struct qrun *q, int werr)
{
	int code = tern_wait(q->pid);
	const char *why;
	int ex = inject_exitcode(code, &why);
	char num[FMT_ULONG];
	num[fmt_ulong(num, (unsigned long)(code < 0 ? 0 : code))] = 0;
	if (ex) tern_die(ex, "message not queued: ", why, " (queue program exit ", num, ")");
	if (werr) tern_die(75, "message not queued: write error to the queue program");
	_exit(0);
}

/* Input failed midway: the queue program gets the message's EOF but no envelope, so it
 * publishes nothing. */
static void __attribute__((noreturn)) queue_abort(struct qrun *q, int ex, const char *what)
{
	int e = errno;
	if (q->pid > 0) {
		close(q->m);
		close(q->e);
		tern_wait(q->pid);
	}
	errno = e;
	tern_die_sys(ex, what);
}

static void fds_sane(void)
{
	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0) {
			int n = open("/dev/null", O_RDWR);
			if (n < 0) tern_die_sys(71, "opening /dev/null");
			if (n != fd) tern_die(71, "cannot set up descriptors 0, 1, 2");
		}
}

static void start(struct inject *ij, struct qrun *q)
{
	int r = inject_header(ij);
	if (r) die_engine(ij, r);
	queue_start(q);
	if (inject_begin(ij, fd_writer, &q->m) != INJ_OK) {
		close(q->m);
		close(q->e);
		queue_end(q, 1);
	}
}

void inject_main(const struct inject_opt *o, int fd)
{
	static struct inject ij;
	struct qrun q = { -1, -1, -1, 0 };
	fds_sane();
	int r = inject_init(&ij, o);
	if (r) die_engine(&ij, r);
	if (sig_ignore(SIGPIPE) != 0) tern_die_sys(71, "ignoring SIGPIPE");
	char *buf = malloc(65536);
	if (!buf) { errno = ENOMEM; tern_die_sys(75, "message not queued"); }
	while (!inject_ended(&ij)) {
		ssize_t n = read(fd, buf, 65536);
		if (n < 0) {
			if (errno == EINTR) continue;
			queue_abort(&q, 74, "message not queued: reading the message");
		}
		if (n == 0) break;
		size_t off = 0, used;
		while (off < (size_t)n && !inject_ended(&ij)) {
			r = inject_feed(&ij, buf + off, (size_t)n - off, &used);
			off += used;
			if (r == INJ_EWRITE) { close(q.m); close(q.e); queue_end(&q, 1); }
			if (r) { errno = 0; if (q.pid > 0) { close(q.m); close(q.e); tern_wait(q.pid); } die_engine(&ij, r); }
			if (inject_headdone(&ij) && q.pid < 0) start(&ij, &q);
		}
	}
	free(buf);
	r = inject_eof(&ij);
	if (r) die_engine(&ij, r);
	if (q.pid < 0) start(&ij, &q);
	r = inject_finish(&ij);
	int werr = r != INJ_OK;
	if (close(q.m) != 0) werr = 1;
	stralloc env = {0};
	if (!werr) {
		if (!inject_envelope(&ij, &env)) queue_abort(&q, 75, "message not queued: building the envelope");
		if (fd_writer(&q.e, env.s, env.len) < 0) werr = 1;
	}
	if (close(q.e) != 0) werr = 1;
	queue_end(&q, werr);
}
