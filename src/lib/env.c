#include <errno.h>
#include <string.h>
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

int env_parse(const char *s, size_t len, const struct env_limits *lim, size_t *nrcpt)
{
	size_t pos = 0, n = 0;
	int first = 1;
	for (;;) {
		if (pos >= len) return ENV_FORMAT;
		if (s[pos] == 0) { pos++; break; }
		char type = s[pos];
		const char *end = memchr(s + pos, 0, len - pos);
		if (!end) return ENV_FORMAT;
		size_t alen = (size_t)(end - s) - pos - 1;
		const char *a = s + pos + 1;
		if (first) {
			if (type != 'F') return ENV_FORMAT;
			first = 0;
		} else {
			if (type != 'T' || alen == 0) return ENV_FORMAT;
			if (++n > lim->maxrcpt) return ENV_FORMAT;
		}
		if (alen > lim->maxaddr) return ENV_TOOLONG;
		if (!addr_bytes_ok(a, alen)) return ENV_FORMAT;
		pos += alen + 2;
	}
	if (first || n == 0 || pos != len) return ENV_FORMAT;
	if (nrcpt) *nrcpt = n;
	return ENV_OK;
}

int env_read_fd(int fd, stralloc *sa, const struct env_limits *lim, size_t *nrcpt)
{
	size_t start = sa->len;
	/* Generous bound: the largest envelope the limits allow, clamped so that huge
	 * limits in control files can neither overflow nor allow more than 256 MB. */
	size_t cap = ENV_MAXBYTES;
	if (lim->maxrcpt < cap && lim->maxaddr < cap
	    && (lim->maxrcpt + 1) <= cap / (lim->maxaddr + 2))
		cap = (lim->maxrcpt + 1) * (lim->maxaddr + 2) + 1;
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

const char *env_next_rcpt(const char *s, size_t len, size_t *pos)
{
	if (*pos == 0) *pos = strlen(s) + 1;		/* skip F record */
	if (*pos >= len || s[*pos] != 'T') return 0;
	const char *a = s + *pos + 1;
	*pos += strlen(s + *pos) + 1;
	return a;
}

int env_start(stralloc *sa, const char *sender)
{
	sa->len = 0;
	return stralloc_catb(sa, "F", 1) && stralloc_cats(sa, sender) && stralloc_catb(sa, "", 1);
}

int env_add_rcpt(stralloc *sa, const char *rcpt)
{
	return stralloc_catb(sa, "T", 1) && stralloc_cats(sa, rcpt) && stralloc_catb(sa, "", 1);
}

int env_finish(stralloc *sa)
{
	return stralloc_catb(sa, "", 1);
}
