#include <errno.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "fdio.h"
#include "smtp.h"

void smtp_init(struct smtp_io *io, int in, int out, unsigned timeout)
{
	io->in = in;
	io->out = out;
	io->timeout = timeout;
	io->pos = io->len = io->olen = 0;
}

int smtp_flush(struct smtp_io *io)
{
	if (!io->olen) return 0;
	/* A client that stops reading must not hold the process forever: the default action
	 * of SIGALRM ends it (nothing half-received is ever queued). */
	alarm(io->timeout);
	int r = fd_write_all(io->out, io->obuf, io->olen);
	alarm(0);
	io->olen = 0;
	return r;
}

void smtp_put(struct smtp_io *io, const char *s, size_t n)
{
	while (n) {
		if (io->olen == sizeof io->obuf) smtp_flush(io);
		size_t k = sizeof io->obuf - io->olen;
		if (k > n) k = n;
		memcpy(io->obuf + io->olen, s, k);
		io->olen += k;
		s += k;
		n -= k;
	}
}

void smtp_puts(struct smtp_io *io, const char *s)
{
	smtp_put(io, s, strlen(s));
}

int smtp_pending(struct smtp_io *io, int wait_ms)
{
	if (io->pos < io->len) return 1;
	struct pollfd p = { io->in, POLLIN, 0 };
	return poll(&p, 1, wait_ms) > 0;
}

int smtp_fill(struct smtp_io *io)
{
	if (io->pos < io->len) return SMTP_OK;
	/* About to wait for the client: everything it is owed goes out first. */
	if (smtp_flush(io) != 0) return SMTP_EOF;
	io->pos = io->len = 0;
	time_t deadline = time(0) + io->timeout;
	for (;;) {
		time_t now = time(0);
		if (now >= deadline) return SMTP_TIMEOUT;
		struct pollfd p = { io->in, POLLIN, 0 };
		long ms = (long)(deadline - now) * 1000;
		int r = poll(&p, 1, ms > 0x7fffffff ? 0x7fffffff : (int)ms);
		if (r < 0) { if (errno == EINTR) continue; return SMTP_EOF; }
		if (r == 0) return SMTP_TIMEOUT;
		ssize_t n = read(io->in, io->ibuf, sizeof io->ibuf);
		if (n < 0) { if (errno == EINTR || errno == EAGAIN) continue; return SMTP_EOF; }
		if (n == 0) return SMTP_EOF;
		io->len = (size_t)n;
		return SMTP_OK;
	}
}

int smtp_getline_max(struct smtp_io *io, char *line, size_t max, size_t *n)
{
	size_t k = 0;
	int bad = SMTP_OK, prevcr = 0;
	for (;;) {
		int r = smtp_fill(io);
		if (r != SMTP_OK) return r;
		char c = io->ibuf[io->pos++];
		if (c == '\n') {
			if (!prevcr) { if (bad == SMTP_OK) bad = SMTP_BARELF; }
			else if (k && line[k - 1] == '\r') k--;
			break;
		}
		if (prevcr && bad == SMTP_OK) bad = SMTP_BARECR;
		prevcr = c == '\r';
		if (k < max) line[k++] = c;
		else bad = SMTP_TOOLONG;
	}
	/* max counts the CRLF: SMTP_LINEMAX allows 510 bytes of command. */
	if (k > max - 2) bad = SMTP_TOOLONG;
	line[k] = 0;
	*n = k;
	return bad;
}

int smtp_getline(struct smtp_io *io, char line[SMTP_LINEMAX + 1], size_t *n)
{
	return smtp_getline_max(io, line, SMTP_LINEMAX, n);
}

/* ---- paths ---- */

static int atext(unsigned char c)
{
	if (c >= 0x80) return 1;	/* UTF-8 (RFC 6531); the caller records it */
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return 1;
	return c && strchr("!#$%&'*+-/=?^_`{|}~", c) != 0;
}

static int ldh(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c >= 0x80;
}

/* A domain (labels, or an address literal) at s; returns its length, 0 if none. */
static size_t domain_len(const char *s, size_t n)
{
	size_t i = 0;
	if (n && s[0] == '[') {
		for (i = 1; i < n && s[i] != ']'; i++) {
			unsigned char c = (unsigned char)s[i];
			/* No '@': every program splits an address at its last '@'. */
			if (c < 33 || c > 126 || c == '[' || c == '\\' || c == '@') return 0;
		}
		return i < n && i > 1 ? i + 1 : 0;
	}
	for (;;) {
		size_t start = i;
		while (i < n && ldh((unsigned char)s[i])) i++;
		if (i == start || s[start] == '-' || s[i - 1] == '-') return 0;
		if (i - start > 63) return 0;
		if (i < n && s[i] == '.' && i + 1 < n && ldh((unsigned char)s[i + 1])) { i++; continue; }
		return i;
	}
}

/* 1 if s is well-formed UTF-8 (RFC 3629): no overlong forms, no surrogates, at most
 * U+10FFFF. */
int smtp_utf8_valid(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];
		size_t len;
		unsigned long cp, min;
		if (c < 0x80) { i++; continue; }
		if (c >= 0xc2 && c <= 0xdf) { len = 2; cp = c & 0x1f; min = 0x80; }
		else if (c >= 0xe0 && c <= 0xef) { len = 3; cp = c & 0x0f; min = 0x800; }
		else if (c >= 0xf0 && c <= 0xf4) { len = 4; cp = c & 0x07; min = 0x10000; }
		else return 0;
		if (n - i < len) return 0;
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80) return 0;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
		i += len;
	}
	return 1;
}

/* The limits of RFC 5321 4.5.3.1 count octets as sent: a quoted local part with its
 * quotes and backslashes, a path with its brackets and any source route. */
static int path_checks(size_t i, struct smtp_path *p, const char **why)
{
	if (i > SMTP_PATHMAX) { *why = "5.1.3 address too long"; return -1; }
	if (p->eightbit && !smtp_utf8_valid(p->addr, p->len)) {
		*why = "5.1.3 syntax: malformed UTF-8 in the address";
		return -1;
	}
	return 0;
}

int smtp_parse_path(const char *s, size_t n, int nodomain_ok, struct smtp_path *p,
		    const char **rest, const char **why)
{
	size_t i = 0, k = 0;
	p->len = 0;
	p->at = 0;
	p->eightbit = 0;
	p->addr[0] = 0;
	*why = "5.5.4 syntax: the address must be in angle brackets";
	if (i >= n || s[i] != '<') return -1;
	i++;
	if (i < n && s[i] == '>') { *rest = s + i + 1; return 0; }
	/* A source route (@a,@b:) is obsolete; it is skipped and never followed. */
	if (i < n && s[i] == '@') {
		while (i < n && s[i] != ':') {
			char c = s[i];
			if (c != '@' && c != ',' && c != '.' && c != '[' && c != ']' && !ldh((unsigned char)c)) {
				*why = "5.1.3 syntax: bad source route";
				return -1;
			}
			i++;
		}
		if (i >= n) { *why = "5.1.3 syntax: bad source route"; return -1; }
		i++;
	}
	*why = "5.1.3 syntax: bad local part";
	size_t lstart = i;
	if (i < n && s[i] == '"') {
		for (i++; i < n && s[i] != '"'; i++) {
			unsigned char c = (unsigned char)s[i];
			if (c == '\\') {
				if (++i >= n) return -1;
				c = (unsigned char)s[i];
			}
			if (c < 32 || c == 127) return -1;
			if (c >= 0x80) p->eightbit = 1;
			if (k >= SMTP_LOCALMAX) { *why = "5.1.3 local part too long"; return -1; }
			p->addr[k++] = (char)c;
		}
		if (i >= n) return -1;
		i++;
		if (k == 0) return -1;
		if (i - lstart > SMTP_LOCALMAX) { *why = "5.1.3 local part too long"; return -1; }
	} else {
		while (i < n && (atext((unsigned char)s[i]) || s[i] == '.')) {
			if ((unsigned char)s[i] >= 0x80) p->eightbit = 1;
			if (k >= SMTP_LOCALMAX) { *why = "5.1.3 local part too long"; return -1; }
			p->addr[k++] = s[i++];
		}
		if (k == 0 || p->addr[0] == '.' || p->addr[k - 1] == '.' || memmem(p->addr, k, "..", 2))
			return -1;
	}
	p->at = k;
	if (i < n && s[i] == '>') {
		if (!nodomain_ok) { *why = "5.1.3 syntax: the address needs a domain"; return -1; }
		p->len = k;
		p->addr[k] = 0;
		*rest = s + i + 1;
		return path_checks(i + 1, p, why);
	}
	if (i >= n || s[i] != '@') return -1;
	i++;
	size_t d = domain_len(s + i, n - i);
	*why = "5.1.2 syntax: bad domain";
	if (d == 0 || i + d >= n || s[i + d] != '>') return -1;
	if (d > SMTP_DOMAINMAX) { *why = "5.1.2 domain too long"; return -1; }
	if (k + 1 + d + 2 > SMTP_PATHMAX) { *why = "5.1.3 address too long"; return -1; }
	p->addr[k++] = '@';
	for (size_t j = 0; j < d; j++) {
		unsigned char c = (unsigned char)s[i + j];
		if (c >= 0x80) p->eightbit = 1;
		p->addr[k++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
	}
	p->addr[k] = 0;
	p->len = k;
	*rest = s + i + d + 1;
	return path_checks(i + d + 1, p, why);
}

int smtp_next_param(char **s, char *end, char **name, size_t *nlen, char **val, size_t *vlen)
{
	char *p = *s;
	while (p < end && *p == ' ') p++;
	if (p >= end) { *s = p; return 0; }
	*name = p;
	while (p < end && *p != ' ' && *p != '=') {
		unsigned char c = (unsigned char)*p;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'))
			return -1;
		if (c >= 'a' && c <= 'z') *p = (char)(c - 32);
		p++;
	}
	*nlen = (size_t)(p - *name);
	if (*nlen == 0) return -1;
	*val = p;
	*vlen = 0;
	if (p < end && *p == '=') {
		*val = ++p;
		while (p < end && *p != ' ') {
			unsigned char c = (unsigned char)*p;
			if (c < 33 || c == 127 || c == '=') return -1;
			p++;
		}
		*vlen = (size_t)(p - *val);
		if (*vlen == 0) return -1;
	}
	*s = p;
	return 1;
}
