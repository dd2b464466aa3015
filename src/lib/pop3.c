#include <string.h>
#include <strings.h>
#include <bearssl.h>
#include "pop3.h"

/* ---- command lines ---- */

static const struct { const char *kw; enum pop3_cmd cmd; } cmds[] = {
	{ "USER", P3_USER }, { "PASS", P3_PASS }, { "APOP", P3_APOP }, { "AUTH", P3_AUTH },
	{ "STLS", P3_STLS }, { "CAPA", P3_CAPA }, { "QUIT", P3_QUIT }, { "STAT", P3_STAT },
	{ "LIST", P3_LIST }, { "RETR", P3_RETR }, { "DELE", P3_DELE }, { "NOOP", P3_NOOP },
	{ "RSET", P3_RSET }, { "TOP", P3_TOP }, { "UIDL", P3_UIDL },
};

int pop3_parse(const char *line, size_t n, struct pop3_req *r)
{
	memset(r, 0, sizeof *r);
	if (n == 0) return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)line[i];
		if (c < 0x20 || c == 0x7f) return -1;
	}
	const char *sp = memchr(line, ' ', n);
	size_t kl = sp ? (size_t)(sp - line) : n;
	if (kl == 0 || kl > 4) return -1;
	r->cmd = P3_UNKNOWN;
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
		if (strlen(cmds[i].kw) == kl && !strncasecmp(cmds[i].kw, line, kl)) r->cmd = cmds[i].cmd;
	r->rest = sp ? sp + 1 : line + n;
	r->restlen = n - (size_t)(r->rest - line);
	const char *p = r->rest, *e = line + n;
	for (;;) {
		while (p < e && *p == ' ') p++;
		if (p == e) break;
		const char *a = p;
		while (p < e && *p != ' ') p++;
		if (r->nargs == POP3_MAXARGS) { r->toomany = 1; break; }
		r->arg[r->nargs] = a;
		r->alen[r->nargs] = (size_t)(p - a);
		r->nargs++;
	}
	return 0;
}

static int digits(const char *s, size_t n)
{
	if (n == 0) return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9') return 0;
	return 1;
}

int pop3_msgnum(const char *s, size_t n, size_t count, size_t *out)
{
	if (!digits(s, n)) return POP3_NUM_SYNTAX;
	size_t v = 0;
	for (size_t i = 0; i < n; i++) {
		size_t d = (size_t)(s[i] - '0');
		if (v > ((size_t)-1 - d) / 10) return POP3_NUM_RANGE;
		v = v * 10 + d;
		if (v > count) return POP3_NUM_RANGE;
	}
	if (v == 0) return POP3_NUM_RANGE;
	*out = v;
	return 0;
}

int pop3_count(const char *s, size_t n, unsigned long long *out)
{
	if (!digits(s, n)) return POP3_NUM_SYNTAX;
	unsigned long long v = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (~0ULL - d) / 10) { v = ~0ULL; break; }
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

/* ---- the CRLF form ---- */

void pop3_conv_init(struct pop3_conv *c, long long lines)
{
	memset(c, 0, sizeof *c);
	c->bol = 1;
	c->limited = lines >= 0;
	c->lines = lines >= 0 ? (unsigned long long)lines : 0;
}

/* A line ended (empty: nothing but its CRLF or LF): the header's end, or one more body
 * line for TOP. */
static void line_end(struct pop3_conv *c, int empty)
{
	if (!c->inbody) {
		if (!empty) return;
		c->inbody = 1;
	} else if (c->limited && c->lines) c->lines--;
	if (c->limited && c->inbody && c->lines == 0) c->done = 1;
}

size_t pop3_conv(struct pop3_conv *c, const char *in, size_t n, size_t *used, char *out, int stuff)
{
	size_t i = 0, o = 0;
	while (i < n && !c->done) {
		char ch = in[i];
		if (ch == '\n') {
			int empty = c->bol || c->crline;
			if (!c->prevcr) out[o++] = '\r';
			out[o++] = '\n';
			c->size += c->prevcr ? 1 : 2;
			c->bol = 1;
			c->prevcr = c->crline = 0;
			c->any = 1;
			i++;
			line_end(c, empty);
			continue;
		}
		if (c->bol) {
			if (ch == '.' && stuff) out[o++] = '.';
			c->crline = ch == '\r';
			c->bol = 0;
			out[o++] = ch;
			c->size++;
			c->prevcr = ch == '\r';
			c->any = 1;
			i++;
			continue;
		}
		/* Inside a line: everything up to the next LF goes out as it is. */
		const char *lf = memchr(in + i, '\n', n - i);
		size_t k = lf ? (size_t)(lf - (in + i)) : n - i;
		memcpy(out + o, in + i, k);
		o += k;
		c->size += k;
		c->prevcr = in[i + k - 1] == '\r';
		c->crline = 0;
		i += k;
	}
	*used = i;
	return o;
}

size_t pop3_conv_end(struct pop3_conv *c, char *out)
{
	if (c->done || !c->any || c->bol) return 0;
	out[0] = '\r';
	out[1] = '\n';
	c->size += 2;
	c->bol = 1;
	c->prevcr = c->crline = 0;
	return 2;
}

void pop3_size(struct pop3_conv *c, const char *in, size_t n)
{
	if (n == 0) return;
	c->size += n;
	const char *p = in, *e = in + n;
	while ((p = memchr(p, '\n', (size_t)(e - p)))) {
		int cr = p > in ? p[-1] == '\r' : c->prevcr;
		if (!cr) c->size++;
		p++;
	}
	c->prevcr = e[-1] == '\r';
	c->bol = e[-1] == '\n';
	c->crline = 0;
	c->any = 1;
}

/* ---- Maildir file names ---- */

size_t pop3_uniqlen(const char *name, size_t n)
{
	const char *colon = memchr(name, ':', n);
	return colon ? (size_t)(colon - name) : n;
}

/* The length of a ",S=digits" or ",W=digits" field at p (up to e), or 0. */
static size_t sizefield(const char *p, const char *e)
{
	if (e - p < 4 || p[0] != ',' || (p[1] != 'S' && p[1] != 'W') || p[2] != '=') return 0;
	const char *d = p + 3;
	while (d < e && *d >= '0' && *d <= '9') d++;
	if (d == p + 3 || (d < e && *d != ',')) return 0;
	return (size_t)(d - p);
}

int pop3_wsize(const char *name, size_t n, unsigned long long *w)
{
	const char *e = name + pop3_uniqlen(name, n);
	for (const char *p = name; p < e; p++) {
		size_t k = sizefield(p, e);
		if (!k || p[1] != 'W') continue;
		if (k - 3 > 19) return 0;
		unsigned long long v = 0;
		for (size_t i = 3; i < k; i++) v = v * 10 + (unsigned long long)(p[i] - '0');
		*w = v;
		return 1;
	}
	return 0;
}

static size_t hashed(const char *prefix, const char *s, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char h[32];
	br_sha256_context sc;
	br_sha256_init(&sc);
	br_sha256_update(&sc, prefix, strlen(prefix));
	br_sha256_update(&sc, s, n);
	br_sha256_out(&sc, h);
	out[0] = '~';
	for (size_t i = 0; i < 16; i++) {
		out[1 + 2 * i] = hex[h[i] >> 4];
		out[2 + 2 * i] = hex[h[i] & 15];
	}
	out[33] = 0;
	return 33;
}

size_t pop3_uidl(const char *name, size_t n, char *out)
{
	size_t ul = pop3_uniqlen(name, n), k = 0;
	const char *p = name, *e = name + ul;
	int ok = ul > 0 && name[0] != '~';
	char buf[POP3_UIDLMAX + 1];
	while (p < e && ok) {
		size_t f = sizefield(p, e);
		if (f) { p += f; continue; }
		unsigned char c = (unsigned char)*p++;
		if (c < 0x21 || c > 0x7e || k == POP3_UIDLMAX) ok = 0;
		else buf[k++] = (char)c;
	}
	if (ok && k > 0) {
		memcpy(out, buf, k);
		out[k] = 0;
		return k;
	}
	return hashed("", name, ul, out);
}

size_t pop3_uidl_alt(const char *name, size_t n, char *out)
{
	return hashed("!", name, n, out);
}
