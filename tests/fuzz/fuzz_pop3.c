/* libFuzzer: what tern-pop3d and tern-pop3d-box parse from a client, and the conversion of
 * a message (any bytes of a Maildir file) into its CRLF form (pop3.h).  The first byte
 * picks the test; the rest is its input:
 *	0  a command line: pop3_parse, then every argument as a message number and a count
 *	1  a message: converted in pieces (RETR and TOP), checked against its size
 *	2  a file name: its UIDL (1..70 printable bytes) and ",W=" size */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "pop3.h"

static char *copy(const uint8_t *data, size_t size)
{
	char *b = malloc(size + 1);
	if (!b) abort();
	memcpy(b, data, size);
	b[size] = 0;
	return b;
}

static void fuzz_line(const uint8_t *data, size_t size)
{
	char *s = copy(data, size);
	struct pop3_req r;
	if (pop3_parse(s, size, &r) == 0) {
		if (r.nargs > POP3_MAXARGS || r.rest < s || r.rest + r.restlen != s + size) abort();
		for (size_t i = 0; i < r.nargs; i++) {
			if (r.arg[i] < r.rest || r.arg[i] + r.alen[i] > s + size || r.alen[i] == 0) abort();
			if (memchr(r.arg[i], ' ', r.alen[i])) abort();
			size_t k = 0;
			int m = pop3_msgnum(r.arg[i], r.alen[i], 5, &k);
			if (m == 0 && (k < 1 || k > 5)) abort();
			if (m != 0 && m != POP3_NUM_SYNTAX && m != POP3_NUM_RANGE) abort();
			m = pop3_msgnum(r.arg[i], r.alen[i], (size_t)-1, &k);
			if (m == 0 && k == 0) abort();
			unsigned long long c;
			int d = pop3_count(r.arg[i], r.alen[i], &c);
			if ((d == 0) != (m != POP3_NUM_SYNTAX)) abort();	/* the same digits rule */
		}
	}
	free(s);
}

/* Converts s in pieces of step bytes; returns the output (malloc'd), its length in *on. */
static char *convert(const char *s, size_t n, long long lines, int stuff, size_t step, size_t *on,
		     unsigned long long *size)
{
	char *out = malloc(2 * n + 2);
	if (!out) abort();
	struct pop3_conv c;
	pop3_conv_init(&c, lines);
	size_t o = 0, i = 0;
	while (i < n && !c.done) {
		size_t k = n - i < step ? n - i : step, used;
		size_t w = pop3_conv(&c, s + i, k, &used, out + o, stuff);
		if (used > k || w > 2 * used || (used < k && !c.done) || (!used && !c.done)) abort();
		o += w;
		i += used;
	}
	o += pop3_conv_end(&c, out + o);
	if (o > 2 * n + 2) abort();
	*on = o;
	*size = c.size;
	return out;
}

static void fuzz_message(const uint8_t *data, size_t size)
{
	if (size < 2) return;
	size_t step = (size_t)data[0] + 1;
	long long lines = data[1] < 128 ? data[1] % 8 : -1;
	char *s = copy(data + 2, size - 2);
	size_t n = size - 2, on, sn;
	unsigned long long size1, size2, size3;
	char *plain = convert(s, n, -1, 0, n ? n : 1, &on, &size1);
	char *stuffed = convert(s, n, -1, 1, step, &sn, &size2);
	if (size1 != on || size2 != on) abort();
	/* CRLF form: every LF after a CR, and it ends in CRLF (unless empty). */
	for (size_t i = 0; i < on; i++)
		if (plain[i] == '\n' && (i == 0 || plain[i - 1] != '\r')) abort();
	if (on && (on < 2 || memcmp(plain + on - 2, "\r\n", 2))) abort();
	/* Undoing the stuffing gives the plain form back. */
	size_t k = 0;
	for (size_t i = 0; i < sn; i++) {
		if (stuffed[i] == '.' && (i == 0 || stuffed[i - 1] == '\n')) {
			if (i + 1 >= sn || stuffed[i + 1] != '.') abort();
			i++;
		}
		if (k >= on || stuffed[i] != plain[k++]) abort();
	}
	if (k != on) abort();
	/* The size, counted in other pieces. */
	struct pop3_conv c;
	char end[2];
	pop3_conv_init(&c, -1);
	for (size_t i = 0; i < n; i += step) pop3_size(&c, s + i, n - i < step ? n - i : step);
	pop3_conv_end(&c, end);
	if (c.size != on) abort();
	/* TOP: a prefix of RETR's output. */
	if (lines >= 0) {
		size_t tn;
		char *t = convert(s, n, lines, 1, step, &tn, &size3);
		if (tn > sn || memcmp(t, stuffed, tn)) abort();
		free(t);
	}
	free(plain);
	free(stuffed);
	free(s);
}

static void fuzz_name(const uint8_t *data, size_t size)
{
	char *s = copy(data, size);
	char u[POP3_UIDLMAX + 1], v[POP3_UIDLMAX + 1];
	size_t k = pop3_uidl(s, size, u);
	if (k == 0 || k > POP3_UIDLMAX || strlen(u) != k) abort();
	for (size_t i = 0; i < k; i++)
		if ((unsigned char)u[i] < 0x21 || (unsigned char)u[i] > 0x7e) abort();
	if (pop3_uidl(s, size, v) != k || memcmp(u, v, k)) abort();
	k = pop3_uidl_alt(s, size, v);
	if (k != 33 || v[0] != '~') abort();
	size_t ul = pop3_uniqlen(s, size);
	if (ul > size || (ul < size && s[ul] != ':') || memchr(s, ':', ul)) abort();
	unsigned long long w;
	if (pop3_wsize(s, size, &w) != 0 && pop3_wsize(s, size, &w) != 1) abort();
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0 || size > 65536) return 0;
	switch (data[0] % 3) {
	case 0: fuzz_line(data + 1, size - 1); break;
	case 1: fuzz_message(data + 1, size - 1); break;
	case 2: fuzz_name(data + 1, size - 1); break;
	}
	return 0;
}
