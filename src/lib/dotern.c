#include <string.h>
#include "dotern.h"

static int blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

const char *dotern_kindname(enum dotern_kind k)
{
	switch (k) {
	case DT_MAILDIR: return "maildir";
	case DT_MBOX: return "mbox";
	case DT_PROGRAM: return "program";
	case DT_FORWARD: return "forward";
	}
	return "unknown";
}

/* Classifies one trimmed, non-empty, non-comment line. 0 or -1 with *err. */
static int classify(const char *a, size_t n, struct dotern_line *l, const char **err)
{
	if (a[0] == '|' || a[0] == '&') {
		size_t i = 1;
		while (i < n && blank(a[i])) i++;
		if (i == n) { *err = a[0] == '|' ? "empty command" : "empty address"; return -1; }
		l->kind = a[0] == '|' ? DT_PROGRAM : DT_FORWARD;
		l->arg = a + i;
		l->len = n - i;
		if (l->kind == DT_FORWARD)
			for (size_t k = 0; k < l->len; k++) {
				unsigned char c = (unsigned char)l->arg[k];
				if (c < 0x20 || c == 0x7f) { *err = "control byte in address"; return -1; }
			}
		return 0;
	}
	if (a[0] == '/' || (n >= 2 && a[0] == '.' && a[1] == '/')) {
		if ((n == 1 && a[0] == '/') || (n == 2 && a[0] == '.')) { *err = "path names no file"; return -1; }
		for (size_t k = 0; k < n; k++)
			if ((unsigned char)a[k] < 0x20 && a[k] != '\t') { *err = "control byte in path"; return -1; }
		l->kind = a[n - 1] == '/' ? DT_MAILDIR : DT_MBOX;
		l->arg = a;
		l->len = n;
		return 0;
	}
	*err = "unknown instruction (not ./path, /path, |command or &address)";
	return -1;
}

void dotern_init(struct dotern_iter *it, const char *s, size_t len)
{
	it->s = s;
	it->len = len;
	it->pos = it->lineno = it->count = 0;
}

int dotern_next(struct dotern_iter *it, struct dotern_line *l, const char **err)
{
	const char *s = it->s;
	size_t len = it->len;
	if (len > DOTERN_MAXFILE) { l->lineno = 0; *err = "file too big"; return -1; }
	while (it->pos < len) {
		size_t i = it->pos, j = i;
		while (j < len && s[j] != '\n') j++;
		it->pos = j < len ? j + 1 : j;
		l->lineno = ++it->lineno;
		if (memchr(s + i, 0, j - i)) { *err = "NUL byte"; return -1; }
		size_t a = i, b = j;
		while (a < b && blank(s[a])) a++;
		while (b > a && blank(s[b - 1])) b--;
		if (a == b || s[a] == '#') continue;
		if (b - a > DOTERN_MAXLINE) { *err = "line too long"; return -1; }
		if (it->count >= DOTERN_MAXLINES) { *err = "too many instructions"; return -1; }
		if (classify(s + a, b - a, l, err) < 0) return -1;
		l->index = it->count++;
		return 1;
	}
	return 0;
}

int dotern_check(const char *s, size_t len, size_t *ninstr, size_t *lineno, const char **err)
{
	struct dotern_iter it;
	struct dotern_line l;
	int r;
	dotern_init(&it, s, len);
	while ((r = dotern_next(&it, &l, err)) == 1) {}
	*ninstr = it.count;
	if (r < 0) { *lineno = l.lineno; return -1; }
	*lineno = 0;
	return 0;
}
