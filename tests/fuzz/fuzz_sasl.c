/* libFuzzer: strict base64 and the SASL PLAIN and LOGIN fields (sasl.h), which read what
 * an SMTP or POP3 client sends before it has authenticated.  The first byte picks the
 * test; the rest is its input:
 *	0  base64 decode, then sasl_plain on the result
 *	1  base64 decode, then sasl_field on the result
 *	2  encode the bytes, decode them again: the round trip must hold
 * Decoding is strict, so whatever decodes must encode back to exactly its input. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "sasl.h"

/* An exact-size heap copy, so that ASan sees any read past the end. */
static unsigned char *copy(const uint8_t *data, size_t size)
{
	unsigned char *b = malloc(size ? size : 1);
	if (!b) abort();
	memcpy(b, data, size);
	return b;
}

/* Decodes s (n bytes) into a malloc'd buffer of exactly n / 4 * 3 bytes; -1 or the
 * length, checked against re-encoding. */
static long decode(const char *s, size_t n, unsigned char **out)
{
	size_t outn = n / 4 * 3;
	*out = malloc(outn ? outn : 1);
	if (!*out) abort();
	long r = sasl_b64decode(s, n, *out, outn);
	if (r < 0) {
		if (r != -1) abort();
		return r;
	}
	if ((size_t)r > outn) abort();
	if (n == 1 && s[0] == '=') {
		if (r != 0) abort();
		return r;
	}
	if (n % 4 || (size_t)r != outn - (n && s[n - 1] == '=') - (n > 1 && s[n - 2] == '=')) abort();
	size_t en = 4 * (((size_t)r + 2) / 3) + 1;
	char *e = malloc(en);
	if (!e) abort();
	if (sasl_b64encode(*out, (size_t)r, e, en) != n || memcmp(e, s, n) || e[n]) abort();
	free(e);
	return r;
}

static int clean(const char *f, size_t n)
{
	if (n > SASL_FIELDMAX || f[n] != 0) return 0;
	for (size_t i = 0; i < n; i++)
		if (f[i] == 0 || f[i] == '\r' || f[i] == '\n') return 0;
	return 1;
}

static void fuzz_plain(const uint8_t *data, size_t size)
{
	char *s = (char *)copy(data, size);
	unsigned char *d;
	long n = decode(s, size, &d);
	if (n >= 0) {
		static struct sasl_cred c;
		unsigned char *m = copy(d, (size_t)n);	/* exact size again */
		if (sasl_plain(m, (size_t)n, &c) == 0) {
			if (!clean(c.authzid, c.zlen) || !clean(c.authcid, c.clen) || !clean(c.pass, c.plen))
				abort();
			if (c.clen == 0 || c.plen == 0 || c.zlen + c.clen + c.plen + 2 != (size_t)n) abort();
			if (memcmp(m, c.authzid, c.zlen) || m[c.zlen] || memcmp(m + c.zlen + 1, c.authcid, c.clen) ||
			    m[c.zlen + 1 + c.clen] || memcmp(m + c.zlen + c.clen + 2, c.pass, c.plen))
				abort();
		}
		sasl_wipe(&c);
		for (size_t i = 0; i < sizeof c; i++)
			if (((unsigned char *)&c)[i]) abort();
		free(m);
	}
	free(d);
	free(s);
}

static void fuzz_field(const uint8_t *data, size_t size)
{
	char *s = (char *)copy(data, size);
	unsigned char *d;
	long n = decode(s, size, &d);
	if (n >= 0) {
		static char f[SASL_FIELDMAX + 1];
		size_t fl = (size_t)-1;
		if (sasl_field(d, (size_t)n, f, &fl) == 0) {
			if (fl != (size_t)n || fl == 0 || !clean(f, fl) || memcmp(f, d, fl)) abort();
		} else if (n > 0 && n <= SASL_FIELDMAX && !memchr(d, 0, (size_t)n) && !memchr(d, '\r', (size_t)n) &&
			   !memchr(d, '\n', (size_t)n))
			abort();		/* refused a good field */
	}
	free(d);
	free(s);
}

static void fuzz_roundtrip(const uint8_t *data, size_t size)
{
	unsigned char *in = copy(data, size);
	size_t en = 4 * ((size + 2) / 3) + 1;
	char *e = malloc(en);
	if (!e) abort();
	/* Too small by one: refused, nothing but the NUL written. */
	if (sasl_b64encode(in, size, e, en - 1) != 0 || (en > 1 && e[0])) abort();
	size_t el = sasl_b64encode(in, size, e, en);
	if (el != en - 1 || e[el] || strlen(e) != el) abort();
	unsigned char *back;
	long r = decode(e, el, &back);
	if (r != (long)size || memcmp(back, in, size)) abort();
	free(back);
	free(e);
	free(in);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0 || size > SASL_LINEMAX) return 0;
	switch (data[0] % 3) {
	case 0: fuzz_plain(data + 1, size - 1); break;
	case 1: fuzz_field(data + 1, size - 1); break;
	case 2: fuzz_roundtrip(data + 1, size - 1); break;
	}
	return 0;
}
