/* libFuzzer: control/tlsdestinations (tlsc.h), its policies and table lookup, and the reply
 * framing tern-remote uses over TLS (which sees what a remote server sends).  The input is
 * the file: lines split at LF as control_readlines gives them; the first line also serves
 * as a domain to look up. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <stralloc.h>
#include "tlsc.h"

static void check(const struct tlsc_policy *p)
{
	if (p->level < TLSC_NONE || p->level > TLSC_FINGERPRINT) __builtin_trap();
	if (p->level == TLSC_FINGERPRINT ? p->nfp < 1 || p->nfp > TLSC_MAXFP : p->nfp != 0) __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 100000) return 0;
	const char *s = (const char *)data;
	struct tlsc_policy p;
	if (tlsc_policy_parse(s, size, &p) == 0) check(&p);
	else if (p.level != TLSC_MAY || p.nfp) __builtin_trap();
	(void)tlsc_reply_complete(s, size);

	stralloc lines = { 0, 0, 0 };
	for (size_t i = 0; i < size;) {
		const char *nl = memchr(s + i, '\n', size - i);
		size_t n = nl ? (size_t)(nl - (s + i)) : size - i;
		if (!stralloc_catb(&lines, s + i, n) || !stralloc_0(&lines)) break;
		i += n + 1;
	}
	static const char *const domains[] = { "example.org", "a.b.example.org", "[127.0.0.1]", "", "." };
	for (size_t k = 0; k < sizeof domains / sizeof domains[0] + 1; k++) {
		const char *d = k < sizeof domains / sizeof domains[0] ? domains[k] : lines.s;
		size_t dn = d ? strnlen(d, 300) : 0;
		const char *bad = 0;
		int r = tlsc_policy_lookup(&lines, d ? d : "", dn, &p, &bad);
		if (r < -1 || r > 1 || (r == -1) != (bad != 0)) __builtin_trap();
		if (r == -1 && (p.level != TLSC_MAY || bad < lines.s || bad >= lines.s + lines.len)) __builtin_trap();
		check(&p);
	}
	stralloc_free(&lines);
	return 0;
}
