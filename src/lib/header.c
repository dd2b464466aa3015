#include <errno.h>
#include <string.h>
#include "header.h"

size_t header_namelen(const char *line, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)line[i];
		if (c == ':') return i;
		if (c < 33 || c > 126) return 0;
	}
	return 0;
}

static size_t line_end(const char *s, size_t len, size_t pos)
{
	const char *nl = memchr(s + pos, '\n', len - pos);
	return nl ? (size_t)(nl - s) + 1 : len;
}

int header_next(const char *s, size_t len, size_t *pos, struct header_field *f)
{
	size_t p = *pos;
	while (p < len) {
		size_t e = line_end(s, len, p);
		size_t nl = header_namelen(s + p, e - p);
		if (!nl) { p = e; continue; }
		f->start = p;
		f->name = s + p;
		f->namelen = nl;
		f->value = s + p + nl + 1;
		while (e < len && (s[e] == ' ' || s[e] == '\t')) e = line_end(s, len, e);
		f->end = e;
		size_t vend = e;
		if (vend > p && s[vend - 1] == '\n') vend--;
		f->valuelen = vend - (p + nl + 1);
		*pos = e;
		return 1;
	}
	*pos = p;
	return 0;
}

int header_is(const struct header_field *f, const char *name)
{
	size_t n = strlen(name);
	if (f->namelen != n) return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char a = (unsigned char)f->name[i], b = (unsigned char)name[i];
		if (a >= 'A' && a <= 'Z') a = (unsigned char)(a + 32);
		if (b >= 'A' && b <= 'Z') b = (unsigned char)(b + 32);
		if (a != b) return 0;
	}
	return 1;
}

int header_unfold(stralloc *out, const char *v, size_t n)
{
	size_t i = 0;
	while (i < n) {
		size_t eol = 0;
		if (v[i] == '\n') eol = 1;
		else if (v[i] == '\r' && i + 1 < n && v[i + 1] == '\n') eol = 2;
		if (eol) {
			size_t j = i + eol;
			if (j == n || v[j] == ' ' || v[j] == '\t') { i = j; continue; }
		}
		size_t k = i + 1;
		while (k < n && v[k] != '\n' && v[k] != '\r') k++;
		if (!stralloc_catb(out, v + i, k - i)) return 0;
		i = k;
	}
	return 1;
}

/* ---- address lists ---- */

enum { TK_END, TK_WORD, TK_QUOTED, TK_DLIT, TK_SPECIAL, TK_ERR };

struct tok {
	int type;
	const char *p;		/* WORD, DLIT: the bytes; QUOTED: between the quotes */
	size_t len;
	char c;			/* SPECIAL */
};

static int is_wsp(unsigned char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
static int is_special(unsigned char c) { return c && strchr("<>,:;@", c) != 0; }
static int is_atomend(unsigned char c)
{
	return is_wsp(c) || is_special(c) || c == '(' || c == ')' || c == '"' || c == '[' ||
	       c == ']' || c == '\\';
}

/* Skips white space and (nested) comments; -1 on an unterminated comment. */
static int skip_cfws(const char *s, size_t n, size_t *i)
{
	size_t depth = 0;
	while (*i < n) {
		unsigned char c = (unsigned char)s[*i];
		if (depth) {
			if (c == '\\') { if (++*i == n) return -1; }
			else if (c == '(') depth++;
			else if (c == ')') depth--;
		} else if (c == '(') depth = 1;
		else if (!is_wsp(c)) return 0;
		++*i;
	}
	return depth ? -1 : 0;
}

static void next_token(const char *s, size_t n, size_t *i, struct tok *t)
{
	if (skip_cfws(s, n, i) < 0) { t->type = TK_ERR; return; }
	if (*i >= n) { t->type = TK_END; return; }
	unsigned char c = (unsigned char)s[*i];
	if (is_special(c)) { t->type = TK_SPECIAL; t->c = (char)c; ++*i; return; }
	if (c == '"' || c == '[') {
		char close = c == '"' ? '"' : ']';
		size_t j = *i + 1;
		while (j < n && s[j] != close) {
			if (s[j] == '\\' && ++j == n) break;
			j++;
		}
		if (j >= n) { t->type = TK_ERR; return; }
		if (c == '"') { t->type = TK_QUOTED; t->p = s + *i + 1; t->len = j - *i - 1; }
		else { t->type = TK_DLIT; t->p = s + *i; t->len = j + 1 - *i; }
		*i = j + 1;
		return;
	}
	if (c == ')' || c == ']' || c == '\\') { t->type = TK_ERR; return; }
	size_t j = *i;
	while (j < n && !is_atomend((unsigned char)s[j])) j++;
	t->type = TK_WORD; t->p = s + *i; t->len = j - *i;
	*i = j;
}

struct aparse {
	stralloc *out;
	size_t base;		/* where the current element's address starts in out */
	size_t atpos;		/* position of its '@' in out, 0 = none */
	int angle;		/* 0 not yet, 1 inside <>, 2 after > */
	int route;		/* inside <>, skipping an obsolete source route up to ':' */
	int group;
	int bad;		/* the text so far cannot be a bare addr-spec */
	int last;		/* last piece appended: 0 nothing, 1 word not ending in '.', 2 word
				 * ending in '.', 3 '@' */
	size_t count;
};

static void element_reset(struct aparse *a)
{
	a->out->len = a->base;
	a->atpos = 0;
	a->angle = a->route = a->bad = a->last = 0;
}

/* Appends a word, decoding quoted-pairs and dropping line ends of a quoted string. */
static int append_word(struct aparse *a, const struct tok *t)
{
	int startdot = t->type == TK_WORD && t->len && t->p[0] == '.';
	int enddot = t->type == TK_WORD && t->len && t->p[t->len - 1] == '.';
	if (a->last == 1 && !startdot) a->bad = 1;
	if (a->last == 2 && t->type != TK_WORD) a->bad = 1;
	if (t->type == TK_DLIT && !a->atpos) a->bad = 1;
	if (t->type == TK_QUOTED) {
		for (size_t i = 0; i < t->len; i++) {
			char c = t->p[i];
			if (c == '\\') c = t->p[++i];
			else if (c == '\r' || c == '\n') continue;
			if (!stralloc_append(a->out, &c)) return -1;
		}
	} else if (!stralloc_catb(a->out, t->p, t->len)) return -1;
	a->last = enddot ? 2 : 1;
	return 0;
}

/* 1 if out[base..len) is a usable address, 0 if not. */
static int addr_ok(const struct aparse *a)
{
	const char *s = a->out->s + a->base;
	size_t n = a->out->len - a->base;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f) return 0;
	}
	if (!a->atpos) return n > 0;
	size_t at = a->atpos - a->base;
	return at > 0 && at + 1 < n;
}

/* Ends the current element.  0 ok, -1 syntax error, -2 no memory. */
static int element_end(struct aparse *a)
{
	int empty = a->out->len == a->base;
	if (a->angle == 1) return -1;
	if (a->angle == 0 && !empty && a->bad) return -1;
	if (!empty) {
		if (!addr_ok(a)) return -1;
		if (!stralloc_0(a->out)) return -2;
		a->count++;
		a->base = a->out->len;
	}
	element_reset(a);
	return 0;
}

static int on_special(struct aparse *a, char c)
{
	if (a->angle == 1) {
		if (a->route) { if (c == ':') a->route = 0; return c == '>' ? -1 : 0; }
		if (c == '@') {
			if (a->out->len == a->base) { a->route = 1; return 0; }
			if (a->atpos || (a->last != 1 && a->last != 2)) return -1;
			a->atpos = a->out->len;
			a->last = 3;
			return stralloc_append(a->out, "@") ? 0 : -2;
		}
		if (c != '>') return -1;
		a->angle = 2;
		if (a->bad) return -1;
		return 0;
	}
	switch (c) {
	case '<':
		if (a->angle == 2) return -1;
		a->out->len = a->base;
		a->atpos = 0;
		a->bad = a->last = 0;
		a->angle = 1;
		return 0;
	case '>':
		return -1;
	case '@':
		if (a->angle == 2) return 0;
		if (a->atpos || a->last == 0 || a->last == 3) a->bad = 1;
		else a->atpos = a->out->len;
		a->last = 3;
		return stralloc_append(a->out, "@") ? 0 : -2;
	case ':':
		if (a->angle == 2 || a->group || a->atpos) return -1;
		element_reset(a);	/* the group's display name */
		a->group = 1;
		return 0;
	case ';':
		a->group = 0;
		return element_end(a);
	default:	/* ',' */
		return element_end(a);
	}
}

int header_addrlist(const char *s, size_t n, stralloc *out, size_t *count)
{
	struct aparse a;
	memset(&a, 0, sizeof a);
	a.out = out;
	a.base = out->len;
	size_t start = out->len, i = 0;
	int r = 0;
	for (;;) {
		struct tok t;
		next_token(s, n, &i, &t);
		if (t.type == TK_ERR) { r = -1; break; }
		if (t.type == TK_END) { r = element_end(&a); break; }
		if (t.type == TK_SPECIAL) r = on_special(&a, t.c);
		else if (a.angle == 2 || a.route) r = 0;	/* after <addr>: ignored */
		else if (append_word(&a, &t) < 0) r = -2;
		if (r) break;
	}
	if (r) {
		out->len = start;
		if (r == -2) errno = ENOMEM;
		else errno = EINVAL;
		return -1;
	}
	if (count) *count += a.count;
	return 0;
}

/* ---- producing header text ---- */

static int is_atext(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c >= 0x80 || (c && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

static int cat_quoted(stralloc *out, const char *s, size_t n)
{
	if (!stralloc_append(out, "\"")) return 0;
	for (size_t i = 0; i < n; i++) {
		if ((s[i] == '"' || s[i] == '\\') && !stralloc_append(out, "\\")) return 0;
		if (!stralloc_append(out, s + i)) return 0;
	}
	return stralloc_append(out, "\"");
}

int header_phrase(stralloc *out, const char *name, size_t n)
{
	stralloc clean = {0};
	int plain = 1, ok = 1;
	for (size_t i = 0; i < n && ok; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			if (clean.len && clean.s[clean.len - 1] != ' ') ok = stralloc_append(&clean, " ");
			continue;
		}
		if (c < 0x20 || c == 0x7f) continue;
		if (!is_atext(c)) plain = 0;
		ok = stralloc_append(&clean, (const char *)&c);
	}
	while (ok && clean.len && clean.s[clean.len - 1] == ' ') clean.len--;
	if (ok && clean.len)
		ok = plain ? stralloc_catb(out, clean.s, clean.len) : cat_quoted(out, clean.s, clean.len);
	stralloc_free(&clean);
	return ok;
}

int header_localpart(stralloc *out, const char *local, size_t n)
{
	int dotatom = n > 0 && local[0] != '.' && local[n - 1] != '.';
	for (size_t i = 0; i < n && dotatom; i++) {
		unsigned char c = (unsigned char)local[i];
		if (c == '.') { if (local[i + 1] == '.') dotatom = 0; }
		else if (!is_atext(c)) dotatom = 0;
	}
	return dotatom ? stralloc_catb(out, local, n) : cat_quoted(out, local, n);
}
