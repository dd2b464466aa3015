#include "sasl.h"

#include <string.h>

static int b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z') return c - 'A';
	if (c >= 'a' && c <= 'z') return c - 'a' + 26;
	if (c >= '0' && c <= '9') return c - '0' + 52;
	if (c == '+') return 62;
	if (c == '/') return 63;
	return -1;
}

long sasl_b64decode(const char *s, size_t n, unsigned char *out, size_t outn)
{
	if (n == 1 && s[0] == '=') return 0;
	if (n % 4 != 0 || n / 4 * 3 > outn) return -1;
	size_t o = 0;
	for (size_t i = 0; i < n; i += 4) {
		int v[4], pad = 0;
		for (int k = 0; k < 4; k++) {
			unsigned char c = (unsigned char)s[i + k];
			if (c == '=' && i + 4 == n && k >= 2) { v[k] = 0; pad++; continue; }
			if (pad) return -1;	/* data after '=' */
			if ((v[k] = b64val(c)) < 0) return -1;
		}
		unsigned long w = (unsigned long)v[0] << 18 | (unsigned long)v[1] << 12 | (unsigned long)v[2] << 6 | (unsigned long)v[3];
		/* The bits a padded group drops must be zero (canonical encoding). */
		if ((pad == 1 && (w & 0xff)) || (pad == 2 && (w & 0xffff))) return -1;
		out[o++] = (unsigned char)(w >> 16);
		if (pad < 2) out[o++] = (unsigned char)(w >> 8);
		if (pad < 1) out[o++] = (unsigned char)w;
	}
	return (long)o;
}

size_t sasl_b64encode(const unsigned char *s, size_t n, char *out, size_t outn)
{
	static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t need = 4 * ((n + 2) / 3) + 1, o = 0;
	if (outn < need) { if (outn) out[0] = 0; return 0; }
	for (size_t i = 0; i < n; i += 3) {
		unsigned long w = (unsigned long)s[i] << 16;
		if (i + 1 < n) w |= (unsigned long)s[i + 1] << 8;
		if (i + 2 < n) w |= s[i + 2];
		out[o++] = abc[w >> 18 & 63];
		out[o++] = abc[w >> 12 & 63];
		out[o++] = i + 1 < n ? abc[w >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? abc[w & 63] : '=';
	}
	out[o] = 0;
	return o;
}

static int field(const unsigned char *s, size_t n, int empty_ok, char *out, size_t *outlen)
{
	if ((n == 0 && !empty_ok) || n > SASL_FIELDMAX) return -1;
	for (size_t i = 0; i < n; i++)
		if (s[i] == 0 || s[i] == '\r' || s[i] == '\n') return -1;
	memcpy(out, s, n);
	out[n] = 0;
	*outlen = n;
	return 0;
}

int sasl_field(const unsigned char *s, size_t n, char *out, size_t *outlen)
{
	return field(s, n, 0, out, outlen);
}

int sasl_plain(const unsigned char *s, size_t n, struct sasl_cred *c)
{
	const unsigned char *z1 = memchr(s, 0, n);
	if (!z1) return -1;
	size_t a = (size_t)(z1 - s);
	const unsigned char *z2 = memchr(z1 + 1, 0, n - a - 1);
	if (!z2) return -1;
	size_t b = (size_t)(z2 - (z1 + 1));
	size_t p = n - a - b - 2;
	if (field(s, a, 1, c->authzid, &c->zlen) < 0 || field(z1 + 1, b, 0, c->authcid, &c->clen) < 0 ||
	    field(z2 + 1, p, 0, c->pass, &c->plen) < 0) {
		sasl_wipe(c);
		return -1;
	}
	return 0;
}

void sasl_wipe(struct sasl_cred *c)
{
	explicit_bzero(c, sizeof *c);
}
