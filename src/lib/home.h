/* home: where a program finds $TERN_HOME and its sibling programs. */
#ifndef TERN_HOME_H
#define TERN_HOME_H
#include <stddef.h>

/* $TERN_HOME unless running set-uid/set-gid; otherwise the compiled-in default. */
const char *tern_home(void);
/* TERN_HOME/rel into out (size n); returns 0, or -1 if it does not fit. */
int tern_path(char *out, size_t n, const char *rel);
/* The directory this program was run from (for spawning siblings), else TERN_BINDIR. */
const char *tern_bindir(void);
/* bindir/name into out (size n); returns 0, or -1 if it does not fit. */
int tern_binpath(char *out, size_t n, const char *name);
/* This host's name for trace headers, from control/me, else gethostname. */
const char *tern_me(void);

#endif
