/* control: qmail-style control files under $TERN_HOME/control, one value per line. */
#ifndef TERN_CONTROL_H
#define TERN_CONTROL_H
#include <stddef.h>
#include <stralloc.h>

/* First line of control/NAME, white space trimmed, into out (size n).
 * Returns 1 read from the file, 0 file absent (out = def, or "" if def is 0),
 * -1 error (errno set; ENAMETOOLONG when the line does not fit). */
int control_readline(char *out, size_t n, const char *name, const char *def);
/* A decimal number; -1 with errno EINVAL when the file holds anything else. */
int control_readulong(unsigned long *out, const char *name, unsigned long def);
/* All non-blank, non-# lines, trimmed, each NUL-terminated, into sa.
 * Returns 1 read, 0 absent (sa empty), -1 error. */
int control_readlines(stralloc *sa, const char *name);
/* 1 if s (len bytes) equals one of the lines in sa, ignoring ASCII case. */
int control_inlist(const stralloc *sa, const char *s, size_t len);
/* Parse a whole decimal number with no sign or junk; 0 on success, -1 otherwise. */
int tern_scan_ulong(const char *s, unsigned long *out);

#endif
