#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "die.h"

const char *tern_prog = "tern";

/* Build the whole line first so it reaches stderr in one write(). */
static void emit(const char *kind, const char *s, va_list ap, int err)
{
	char line[1024];
	size_t n = 0;
	const char *parts[3] = { tern_prog, ": ", kind };
	for (int i = 0; i < 3; i++)
		for (const char *p = parts[i]; *p && n < sizeof line - 2; p++) line[n++] = *p;
	for (; s; s = va_arg(ap, const char *))
		for (const char *p = s; *p && n < sizeof line - 2; p++)
			line[n++] = (*p == '\n' || *p == '\r') ? ' ' : *p;
	if (err) {
		const char *e = strerror(err);
		for (const char *p = ": "; *p && n < sizeof line - 2; p++) line[n++] = *p;
		for (const char *p = e; *p && n < sizeof line - 2; p++) line[n++] = *p;
	}
	line[n++] = '\n';
	ssize_t w = write(2, line, n);
	(void)w;
}

void tern_die_x(int code, const char *s, ...)
{
	va_list ap; va_start(ap, s); emit("fatal: ", s, ap, 0); va_end(ap);
	_exit(code);
}

void tern_die_sys_x(int code, const char *s, ...)
{
	int e = errno;
	va_list ap; va_start(ap, s); emit("fatal: ", s, ap, e); va_end(ap);
	_exit(code);
}

void tern_fatal_x(const char *s, ...)
{
	va_list ap; va_start(ap, s); emit("fatal: ", s, ap, 0); va_end(ap);
}

void tern_fatal_sys_x(const char *s, ...)
{
	int e = errno;
	va_list ap; va_start(ap, s); emit("fatal: ", s, ap, e); va_end(ap);
}

void tern_warn_x(const char *s, ...)
{
	va_list ap; va_start(ap, s); emit("warning: ", s, ap, 0); va_end(ap);
}

void tern_warn_sys_x(const char *s, ...)
{
	int e = errno;
	va_list ap; va_start(ap, s); emit("warning: ", s, ap, e); va_end(ap);
}
