#include <errno.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include "env.h"

/* An address may hold any byte but NUL, control characters and DEL. */
static int addr_bytes_ok(const char *a, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)a[i];
		if (c < 0x20 || c == 0x7f) return 0;
	}
	return 1;
}

static int ishex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f');
}

/* RFC 3461 section 4 xtext.  Lowercase hex after '+' is accepted: clients send it, and
 * refusing it here would turn a harmless variation into a queue failure. */
static int xtext_ok(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '+') {
			if (n - i < 3 || !ishex(s[i + 1]) || !ishex(s[i + 2])) return 0;
			i += 2;
		} else if (c < 33 || c > 126 || c == '=') return 0;
	}
	return 1;
}

int env_envid_ok(const char *s, size_t n)
{
	return n > 0 && n <= ENV_MAXENVID && xtext_ok(s, n);
}

int env_orcpt_ok(const char *s, size_t n)
{
	if (n == 0 || n > ENV_MAXORCPT) return 0;
	/* addr-type is an atom; in practice "rfc822", "utf-8", "x400": letters, digits, '-'. */
	size_t i = 0;
	while (i < n && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
			 (s[i] >= '0' && s[i] <= '9') || s[i] == '-')) i++;
	if (i == 0 || i >= n || s[i] != ';' || i + 1 == n) return 0;
	return xtext_ok(s + i + 1, n - i - 1);
}

static const struct { const char *w; size_t n; unsigned bit; } notify_words[] = {
	{ "NEVER", 5, ENV_NOTIFY_NEVER }, { "SUCCESS", 7, ENV_NOTIFY_SUCCESS },
	{ "FAILURE", 7, ENV_NOTIFY_FAILURE }, { "DELAY", 5, ENV_NOTIFY_DELAY },
};

int env_notify_parse(const char *s, size_t n, int strict, unsigned *bits)
{
	unsigned b = 0;
	size_t i = 0;
	if (n == 0) return 0;
	for (;;) {
		size_t j = i;
		while (j < n && s[j] != ',') j++;
		unsigned w = 0;
		for (size_t k = 0; k < sizeof notify_words / sizeof notify_words[0]; k++) {
			if (j - i != notify_words[k].n) continue;
			if (strict ? memcmp(s + i, notify_words[k].w, j - i) == 0
				   : strncasecmp(s + i, notify_words[k].w, j - i) == 0) w = notify_words[k].bit;
		}
		if (!w || (b & w)) return 0;
		b |= w;
		if (j == n) break;
		i = j + 1;	/* a trailing comma leaves an empty word, which matches nothing */
	}
	if ((b & ENV_NOTIFY_NEVER) && b != ENV_NOTIFY_NEVER) return 0;
	*bits = b;
	return 1;
}

/* Extension records seen for the current owner (the F record, then each T in turn). */
#define SEEN_E 1u
#define SEEN_R 2u
#define SEEN_N 4u
#define SEEN_O 8u

int env_parse(const char *s, size_t len, const struct env_limits *lim, size_t *nrcpt)
{
	size_t pos = 0, n = 0;
	int first = 1;
	unsigned seen = 0, bits;
	for (;;) {
		if (pos >= len) return ENV_FORMAT;
		if (s[pos] == 0) { pos++; break; }
		char type = s[pos];
		const char *end = memchr(s + pos, 0, len - pos);
		if (!end) return ENV_FORMAT;
		size_t alen = (size_t)(end - s) - pos - 1;
		const char *a = s + pos + 1;
		int addr = 1;
		if (first) {
			if (type != 'F') return ENV_FORMAT;
			first = 0;
		} else switch (type) {
		case 'T':
			if (alen == 0) return ENV_FORMAT;
			if (++n > lim->maxrcpt) return ENV_FORMAT;
			seen = 0;
			break;
		case 'E':	/* message records belong between F and the first T */
			if (n || (seen & SEEN_E) || !env_envid_ok(a, alen)) return ENV_FORMAT;
			seen |= SEEN_E; addr = 0;
			break;
		case 'R':
			if (n || (seen & SEEN_R)) return ENV_FORMAT;
			if (!(alen == 4 && (memcmp(a, "FULL", 4) == 0 || memcmp(a, "HDRS", 4) == 0))) return ENV_FORMAT;
			seen |= SEEN_R; addr = 0;
			break;
		case 'N':	/* recipient records follow their T */
			if (!n || (seen & SEEN_N) || !env_notify_parse(a, alen, 1, &bits)) return ENV_FORMAT;
			seen |= SEEN_N; addr = 0;
			break;
		case 'O':
			if (!n || (seen & SEEN_O) || !env_orcpt_ok(a, alen)) return ENV_FORMAT;
			seen |= SEEN_O; addr = 0;
			break;
		default:
			return ENV_FORMAT;
		}
		if (addr) {
			if (alen > lim->maxaddr) return ENV_TOOLONG;
			if (!addr_bytes_ok(a, alen)) return ENV_FORMAT;
		}
		pos += alen + 2;
	}
	if (first || n == 0 || pos != len) return ENV_FORMAT;
	if (nrcpt) *nrcpt = n;
	return ENV_OK;
}

/* Room an envelope may take beyond its addresses: the longest extension records. */
#define EXTRA_MSG (1 + ENV_MAXENVID + 1 + sizeof "RHDRS")
#define EXTRA_RCPT (sizeof "NSUCCESS,FAILURE,DELAY" + 1 + ENV_MAXORCPT + 1)

int env_read_fd(int fd, stralloc *sa, const struct env_limits *lim, size_t *nrcpt)
{
	size_t start = sa->len;
	/* Generous bound: the largest envelope the limits allow, clamped so that huge
	 * limits in control files can neither overflow nor allow more than 256 MB. */
	size_t cap = ENV_MAXBYTES;
	if (lim->maxrcpt < cap && lim->maxaddr < cap) {
		size_t per = lim->maxaddr + 2 + EXTRA_RCPT;
		if (lim->maxrcpt + 1 <= (cap - EXTRA_MSG - 1) / per)
			cap = (lim->maxrcpt + 1) * per + EXTRA_MSG + 1;
	}
	int prevnul = 0, any = 0;
	for (;;) {
		char buf[4096];
		ssize_t r = read(fd, buf, sizeof buf);
		if (r < 0) { if (errno == EINTR) continue; return ENV_READ; }
		if (r == 0) return any ? ENV_FORMAT : ENV_READ;
		/* Find the end: the first '\0' that follows another '\0' (record terminator). */
		size_t take = (size_t)r, i;
		int done = 0;
		for (i = 0; i < (size_t)r; i++) {
			if (buf[i] == 0 && prevnul && any) { take = i + 1; done = 1; break; }
			prevnul = buf[i] == 0;
			any = 1;
			if (i == 0 && sa->len == start && buf[0] == 0) { take = 1; done = 1; break; }
		}
		if (sa->len - start + take > cap) return ENV_FORMAT;
		if (!stralloc_catb(sa, buf, take)) return ENV_NOMEM;
		if (done) {
			if (take < (size_t)r) return ENV_FORMAT;	/* bytes after the end */
			return env_parse(sa->s + start, sa->len - start, lim, nrcpt);
		}
	}
}

const char *env_sender(const char *s)
{
	return s + 1;
}

const char *env_next_rcpt_dsn(const char *s, size_t len, size_t *pos,
			      const char **notify, const char **orcpt)
{
	if (notify) *notify = 0;
	if (orcpt) *orcpt = 0;
	if (*pos == 0) *pos = strlen(s) + 1;		/* skip F record */
	while (*pos < len && (s[*pos] == 'E' || s[*pos] == 'R')) *pos += strlen(s + *pos) + 1;
	if (*pos >= len || s[*pos] != 'T') return 0;
	const char *a = s + *pos + 1;
	*pos += strlen(s + *pos) + 1;
	while (*pos < len && (s[*pos] == 'N' || s[*pos] == 'O')) {
		if (s[*pos] == 'N' && notify) *notify = s + *pos + 1;
		if (s[*pos] == 'O' && orcpt) *orcpt = s + *pos + 1;
		*pos += strlen(s + *pos) + 1;
	}
	return a;
}

const char *env_next_rcpt(const char *s, size_t len, size_t *pos)
{
	return env_next_rcpt_dsn(s, len, pos, 0, 0);
}

void env_dsn(const char *s, size_t len, struct env_dsn *d)
{
	d->envid = 0;
	d->ret = 0;
	size_t pos = strlen(s) + 1;
	while (pos < len && (s[pos] == 'E' || s[pos] == 'R')) {
		if (s[pos] == 'E') d->envid = s + pos + 1;
		else d->ret = s + pos + 1;
		pos += strlen(s + pos) + 1;
	}
}

const char *env_rcpt_dsn(const char *s, size_t len, size_t idx, const char **notify, const char **orcpt)
{
	size_t pos = 0;
	const char *a;
	do a = env_next_rcpt_dsn(s, len, &pos, notify, orcpt);
	while (a && idx--);
	return a;
}

static int add(stralloc *sa, char type, const char *v)
{
	return stralloc_catb(sa, &type, 1) && stralloc_cats(sa, v) && stralloc_catb(sa, "", 1);
}

int env_start(stralloc *sa, const char *sender)
{
	sa->len = 0;
	return add(sa, 'F', sender);
}

int env_add_envid(stralloc *sa, const char *xtext) { return add(sa, 'E', xtext); }
int env_add_ret(stralloc *sa, const char *ret) { return add(sa, 'R', ret); }
int env_add_rcpt(stralloc *sa, const char *rcpt) { return add(sa, 'T', rcpt); }
int env_add_orcpt(stralloc *sa, const char *value) { return add(sa, 'O', value); }

int env_add_notify(stralloc *sa, unsigned bits)
{
	char v[sizeof "SUCCESS,FAILURE,DELAY"];
	size_t n = 0;
	if (!bits) return 1;		/* no NOTIFY: nothing to keep */
	if (bits & ENV_NOTIFY_NEVER) bits = ENV_NOTIFY_NEVER;
	for (size_t k = 0; k < sizeof notify_words / sizeof notify_words[0]; k++) {
		if (!(bits & notify_words[k].bit)) continue;
		if (n) v[n++] = ',';
		memcpy(v + n, notify_words[k].w, notify_words[k].n);
		n += notify_words[k].n;
	}
	v[n] = 0;
	return add(sa, 'N', v);
}

int env_finish(stralloc *sa)
{
	return stralloc_catb(sa, "", 1);
}
