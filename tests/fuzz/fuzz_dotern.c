/* libFuzzer: the .tern instruction-file parser (dotern.h).  A .tern file is written by
 * the mailbox owner, and tern-local must never crash on one, whatever it holds. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "dotern.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct dotern_iter it;
	struct dotern_line l;
	const char *err = 0;
	size_t n = 0, lastline = 0, ni, ln;
	int r;
	dotern_init(&it, s, size);
	while ((r = dotern_next(&it, &l, &err)) == 1) {
		/* The argument lies inside the input, is not empty and not over the limit. */
		if (l.arg < s || l.arg + l.len > s + size || l.len == 0 || l.len > DOTERN_MAXLINE) __builtin_trap();
		if (l.index != n++ || l.lineno <= lastline) __builtin_trap();
		lastline = l.lineno;
		if (memchr(l.arg, 0, l.len) || memchr(l.arg, '\n', l.len)) __builtin_trap();
		switch (l.kind) {
		case DT_MAILDIR: if (l.arg[l.len - 1] != '/') __builtin_trap(); /* fall through */
		case DT_MBOX: if (l.arg[0] != '/' && l.arg[0] != '.') __builtin_trap(); break;
		case DT_PROGRAM: case DT_FORWARD: break;
		default: __builtin_trap();
		}
	}
	if (r < 0 && !err) __builtin_trap();
	/* dotern_check agrees with the iteration. */
	int c = dotern_check(s, size, &ni, &ln, &err);
	if ((c == 0) != (r == 0) || ni != n) __builtin_trap();
	return 0;
}
