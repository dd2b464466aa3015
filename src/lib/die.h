/* die: one-line diagnostics, `prog: fatal: what: why`, and exit with a contract code. */
#ifndef TERN_DIE_H
#define TERN_DIE_H

extern const char *tern_prog;

/* Strings up to a NULL; tern_die_sys appends ": " and strerror(errno). */
void tern_die_x(int code, const char *s, ...) __attribute__((noreturn, sentinel));
void tern_die_sys_x(int code, const char *s, ...) __attribute__((noreturn, sentinel));
void tern_warn_x(const char *s, ...) __attribute__((sentinel));
void tern_warn_sys_x(const char *s, ...) __attribute__((sentinel));
/* The line tern_die writes, without the exit: a server's job that ended in failure. */
void tern_fatal_x(const char *s, ...) __attribute__((sentinel));
void tern_fatal_sys_x(const char *s, ...) __attribute__((sentinel));

#define tern_die(code, ...) tern_die_x((code), __VA_ARGS__, (const char *)0)
#define tern_die_sys(code, ...) tern_die_sys_x((code), __VA_ARGS__, (const char *)0)
#define tern_fatal(...) tern_fatal_x(__VA_ARGS__, (const char *)0)
#define tern_fatal_sys(...) tern_fatal_sys_x(__VA_ARGS__, (const char *)0)
#define tern_warn(...) tern_warn_x(__VA_ARGS__, (const char *)0)
#define tern_warn_sys(...) tern_warn_sys_x(__VA_ARGS__, (const char *)0)

#endif
