/* libFuzzer: the injection engine (inject.h) on a buffer.  The first byte picks the
 * options and a chunk size; the engine fed in chunks must give the same bytes as
 * inject_buffer, and the result must keep the engine's promises. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "env.h"
#include "inject.h"

static int sa_w(void *ctx, const char *s, size_t n) { return stralloc_catb(ctx, s, n) ? 0 : -1; }

static int chunked(const struct inject_opt *o, const char *in, size_t n, size_t chunk,
		   stralloc *msg, stralloc *env)
{
	static struct inject ij;
	int r = inject_init(&ij, o);
	size_t off = 0;
	while (r == INJ_OK && off < n && !inject_ended(&ij)) {
		size_t end = off + chunk < n ? off + chunk : n, used;
		r = inject_feed(&ij, in + off, end - off, &used);
		off += used;
		if (r == INJ_OK && inject_headdone(&ij) && !ij.begun) {
			r = inject_header(&ij);
			if (r == INJ_OK) r = inject_begin(&ij, sa_w, msg);
		}
	}
	if (r == INJ_OK) r = inject_eof(&ij);
	if (r == INJ_OK && !ij.begun) {
		r = inject_header(&ij);
		if (r == INJ_OK) r = inject_begin(&ij, sa_w, msg);
	}
	if (r == INJ_OK) r = inject_finish(&ij);
	if (r == INJ_OK && !inject_envelope(&ij, env)) r = INJ_ENOMEM;
	inject_free(&ij);
	return r;
}

static int ci_prefix(const char *s, size_t n, const char *p)
{
	size_t k = strlen(p);
	if (n < k) return 0;
	for (size_t i = 0; i < k; i++) {
		char c = s[i];
		if (c >= 'A' && c <= 'Z') c = (char)(c + 32);
		if (c != p[i]) return 0;
	}
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1) return 0;
	static char *args[] = { "root", "A <a@b.example>", 0 };
	struct inject_opt o = {0};
	o.me = "example.test";
	o.user = "joe";
	o.fullname = (data[0] & 8) ? "Joe \"X\" User" : 0;
	o.dotend = data[0] & 1;
	o.rcpt_headers = (data[0] & 2) != 0;
	o.args = args;
	o.nargs = (data[0] & 4) ? 2 : 0;
	o.pid = 1;
	o.unique = "u";
	size_t chunk = 1 + (data[0] >> 4) * 3;
	const char *in = (const char *)data + 1;
	size_t n = size - 1;

	stralloc m1 = {0}, e1 = {0}, m2 = {0}, e2 = {0};
	int r1 = inject_buffer(&o, in, n, &m1, &e1);
	int r2 = chunked(&o, in, n, chunk, &m2, &e2);
	if (r1 != r2) __builtin_trap();
	if (r1 == INJ_OK) {
		if (m1.len != m2.len || memcmp(m1.s, m2.s, m1.len)) __builtin_trap();
		if (e1.len != e2.len || memcmp(e1.s, e2.s, e1.len)) __builtin_trap();
		if (!m1.len || m1.s[m1.len - 1] != '\n') __builtin_trap();
		for (size_t i = 0; i + 1 < m1.len; i++)
			if (m1.s[i] == '\r' && m1.s[i + 1] == '\n') __builtin_trap();
		/* The header section (up to the first empty line) holds no Bcc. */
		size_t p = 0;
		while (p < m1.len && m1.s[p] != '\n') {
			const char *nl = memchr(m1.s + p, '\n', m1.len - p);
			size_t l = (size_t)(nl - m1.s) - p;
			if (ci_prefix(m1.s + p, l, "bcc:") || ci_prefix(m1.s + p, l, "resent-bcc:")) __builtin_trap();
			p += l + 1;
		}
		struct env_limits lim = { (size_t)1 << 30, (size_t)1 << 30 };
		size_t k;
		if (env_parse(e1.s, e1.len, &lim, &k) != ENV_OK) __builtin_trap();
	}
	stralloc_free(&m1); stralloc_free(&e1); stralloc_free(&m2); stralloc_free(&e2);
	return 0;
}
