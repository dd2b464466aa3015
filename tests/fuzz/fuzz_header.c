/* libFuzzer: header fields and address lists (header.h): outside input to tern-inject and
 * tern-sendmail -t (and later to anything that reads a message's header). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "header.h"

static void no_ctl(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 && s[i] != '\t' && s[i] != ' ') __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	stralloc out = {0}, tmp = {0};
	size_t n = 0;

	/* Address lists: every address non-empty, free of control bytes, counted. */
	if (header_addrlist(s, size, &out, &n) == 0) {
		size_t k = 0;
		for (size_t p = 0; p < out.len; k++) {
			const char *a = memchr(out.s + p, 0, out.len - p);
			if (!a || a == out.s + p) __builtin_trap();
			for (const char *q = out.s + p; q < a; q++)
				if ((unsigned char)*q < 0x20 || *q == 0x7f) __builtin_trap();
			p = (size_t)(a - out.s) + 1;
		}
		if (k != n) __builtin_trap();
	} else if (out.len != 0 || n != 0) __builtin_trap();

	/* Fields: inside the block, in order, names accepted by header_namelen. */
	size_t pos = 0, last = 0;
	struct header_field f;
	while (header_next(s, size, &pos, &f)) {
		if (f.start < last || f.end > size || f.end <= f.start || pos != f.end) __builtin_trap();
		if (header_namelen(f.name, f.namelen + 1) != f.namelen) __builtin_trap();
		if (f.value + f.valuelen > s + size) __builtin_trap();
		last = f.end;
		tmp.len = 0;
		if (!header_unfold(&tmp, f.value, f.valuelen)) break;
		if (tmp.len > f.valuelen) __builtin_trap();
		size_t k = 0;
		(void)header_addrlist(tmp.s, tmp.len, &out, &k);
	}

	/* Display names: the result never holds a line end or control byte. */
	tmp.len = 0;
	if (header_phrase(&tmp, s, size)) no_ctl(tmp.s, tmp.len);
	tmp.len = 0;
	if (header_localpart(&tmp, s, size) && tmp.len < size) __builtin_trap();
	stralloc_free(&out);
	stralloc_free(&tmp);
	return 0;
}
