/* libFuzzer: tern-tlsd's session description (tlsctl.h).  The program behind tern-tlsd
 * reads it from TERN_TLS or the control socket and logs it; the SNI in it is whatever
 * the client sent.  Whatever parses must format and parse back to the same thing, and
 * the formatted text is as long as the input (the same pairs, perhaps in another order). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "tlsctl.h"

static int value_ok(const char *v, size_t size)
{
	size_t n = strnlen(v, size);
	if (n == size) return 0;		/* not terminated */
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];
		if (c <= ' ' || c >= 0x7f || c == '"' || c == '\\') return 0;
	}
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size copy, so that ASan sees any read past the end. */
	char *s = malloc(size ? size : 1);
	if (!s) abort();
	memcpy(s, data, size);
	static struct tls_info a, b;
	if (tlsctl_parse(s, size, &a) == 0) {
		if (!value_ok(a.proto, sizeof a.proto) || !value_ok(a.cipher, sizeof a.cipher) ||
		    !value_ok(a.sni, sizeof a.sni) || !a.proto[0] || !a.cipher[0])
			abort();
		char out[TLSCTL_LINEMAX];
		size_t n = tlsctl_format(out, sizeof out, &a);
		if (n == 0 || n != size || strlen(out) != n) abort();
		if (tlsctl_parse(out, n, &b) != 0 || memcmp(&a, &b, sizeof a)) abort();
		/* One byte short of room: refused. */
		char *h = malloc(n);
		if (!h) abort();
		if (tlsctl_format(h, n, &a) != 0 || h[0]) abort();
		free(h);
	}
	free(s);
	/* The names tern-tlsd would put in a description must parse there. */
	if (size >= 2) {
		const char *cn = tls_suite_name((uint16_t)(data[0] << 8 | data[1]));
		const char *vn = tls_version_name((unsigned)(data[0] << 8 | data[1]));
		struct tls_info t;
		memset(&t, 0, sizeof t);
		memcpy(t.proto, "TLSv1.2", 8);
		memcpy(t.cipher, "X", 2);
		if (cn) {
			if (strlen(cn) >= sizeof t.cipher) abort();
			memcpy(t.cipher, cn, strlen(cn) + 1);
		}
		if (vn) {
			if (strlen(vn) >= sizeof t.proto) abort();
			memcpy(t.proto, vn, strlen(vn) + 1);
		}
		char out[TLSCTL_LINEMAX];
		size_t n = tlsctl_format(out, sizeof out, &t);
		if (n == 0 || tlsctl_parse(out, n, &a) != 0 || memcmp(&a, &t, sizeof t)) abort();
	}
	return 0;
}
