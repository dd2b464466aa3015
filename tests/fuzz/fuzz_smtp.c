/* libFuzzer: the SMTP server's argument parsers and line reader (smtp.h).  Everything
 * here reads bytes straight from the network, before any authentication. */
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "smtp.h"

static void check_path(const char *s, size_t size, int nodomain_ok, struct smtp_path *p, int *ok)
{
	const char *rest = 0, *why = 0;
	int r = smtp_parse_path(s, size, nodomain_ok, p, &rest, &why);
	*ok = r == 0;
	if (r != 0) {
		if (r != -1 || !why) __builtin_trap();
		return;
	}
	/* rest lies inside the input, just after the closing '>'. */
	if (rest <= s || rest > s + size || rest[-1] != '>' || s[0] != '<') __builtin_trap();
	if (p->len >= sizeof p->addr || p->addr[p->len] != 0) __builtin_trap();
	if (p->len + 2 > SMTP_PATHMAX) __builtin_trap();
	if (p->at > p->len || p->at > SMTP_LOCALMAX) __builtin_trap();
	if (p->at < p->len && p->addr[p->at] != '@') __builtin_trap();
	if (p->at < p->len && p->len - p->at - 1 > SMTP_DOMAINMAX) __builtin_trap();
	if (p->len == 0 && p->at != 0) __builtin_trap();
	if (p->len && p->at == 0) __builtin_trap();		/* no empty local part */
	if (p->at == p->len && p->len && !nodomain_ok) __builtin_trap();
	int high = 0;
	for (size_t i = 0; i < p->len; i++) {
		unsigned char c = (unsigned char)p->addr[i];
		if (c < 32 || c == 127) __builtin_trap();
		if (c >= 0x80) high = 1;
		if (i > p->at && c >= 'A' && c <= 'Z') __builtin_trap();
		if (i > p->at && c == '@') __builtin_trap();
	}
	if (high != p->eightbit) __builtin_trap();
}

static void fuzz_path(const char *s, size_t size)
{
	static struct smtp_path a, b;
	int oka, okb;
	check_path(s, size, 0, &a, &oka);
	check_path(s, size, 1, &b, &okb);
	/* nodomain_ok only lets a path without a domain through. */
	if (oka && !okb) __builtin_trap();
	if (oka && (a.len != b.len || a.at != b.at || a.eightbit != b.eightbit || memcmp(a.addr, b.addr, a.len)))
		__builtin_trap();
	if (okb && !oka && (b.at != b.len || b.len == 0)) __builtin_trap();
}

static void fuzz_params(const uint8_t *data, size_t size)
{
	/* An exact-size copy, so that ASan sees any read past end. */
	char *buf = malloc(size ? size : 1), *end = buf + size, *s = buf, *name, *val;
	size_t nl, vl;
	int r = 0;
	if (!buf) return;
	memcpy(buf, data, size);
	for (size_t iter = 0; iter <= size + 1; iter++) {
		char *before = s;
		r = smtp_next_param(&s, end, &name, &nl, &val, &vl);
		if (r <= 0) break;
		if (s <= before || s > end) __builtin_trap();		/* progress, inside */
		if (name < before || nl == 0 || name + nl > s) __builtin_trap();
		for (size_t i = 0; i < nl; i++) {
			char c = name[i];
			if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-')) __builtin_trap();
		}
		if (vl) {
			if (val != name + nl + 1 || name[nl] != '=' || val + vl != s) __builtin_trap();
			for (size_t i = 0; i < vl; i++) {
				unsigned char c = (unsigned char)val[i];
				if (c < 33 || c == 127 || c == '=') __builtin_trap();
			}
		} else if (s != name + nl) __builtin_trap();
		if (s < end && *s != ' ') __builtin_trap();
	}
	if (r > 0) __builtin_trap();		/* more params than bytes */
	if (r == 0 && s != end) __builtin_trap();
	free(buf);
}

static void fuzz_getline(const char *data, size_t size)
{
	/* What one write into an empty pipe holds without blocking. */
	if (size > 65536) size = 65536;
	int fd[2];
	if (pipe(fd) != 0) return;
	size_t off = 0;
	while (off < size) {
		ssize_t w = write(fd[1], data + off, size - off);
		if (w <= 0) __builtin_trap();
		off += (size_t)w;
	}
	close(fd[1]);
	static struct smtp_io io;
	static char line[SMTP_LINEMAX + 1];
	smtp_init(&io, fd[0], -1, 5);
	off = 0;		/* where the next line starts in the input */
	for (size_t iter = 0; iter <= size + 1; iter++) {
		size_t n = (size_t)-1;
		int r = smtp_getline(&io, line, &n);
		const char *nl = off < size ? memchr(data + off, '\n', size - off) : 0;
		if (r == SMTP_EOF) {
			if (nl) __builtin_trap();		/* a complete line was lost */
			break;
		}
		if (!nl || r == SMTP_TIMEOUT) __builtin_trap();
		size_t raw = (size_t)(nl - (data + off));	/* bytes before the LF */
		if (n > SMTP_LINEMAX || line[n] != 0) __builtin_trap();
		switch (r) {
		case SMTP_OK:
			if (raw == 0 || data[off + raw - 1] != '\r' || n != raw - 1 || n > SMTP_LINEMAX - 2) __builtin_trap();
			if (memcmp(line, data + off, n) || memchr(line, '\r', n)) __builtin_trap();
			break;
		case SMTP_BARELF:
			if ((raw && data[off + raw - 1] == '\r') || n != raw || memcmp(line, data + off, n)) __builtin_trap();
			break;
		case SMTP_BARECR:
			if (!memchr(data + off, '\r', raw)) __builtin_trap();
			break;
		case SMTP_TOOLONG:
			if (raw < SMTP_LINEMAX - 1) __builtin_trap();
			break;
		default:
			__builtin_trap();
		}
		off += raw + 1;
	}
	close(fd[0]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	fuzz_path(s, size);
	/* The way the server calls it: the path, then parameters after a space. */
	if (size > 5 && !memcmp(s, "FROM:", 5)) fuzz_path(s + 5, size - 5);
	fuzz_params(data, size);
	fuzz_getline(s, size);
	return 0;
}
