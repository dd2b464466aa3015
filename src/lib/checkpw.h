/* checkpw: the input of the checkpassword interface (qmail's checkpassword(8)), which
 * tern-pop3d and others write to the checker's fd 3 and then close: login '\0' password
 * '\0', then an optional timestamp '\0' and anything else, all of it ignored; at most
 * CHECKPW_MAX bytes.  checkpw.c also holds users.h's password functions. */
#ifndef TERN_CHECKPW_H
#define TERN_CHECKPW_H
#include <stddef.h>
#include <sys/types.h>

/* qmail's interface says 512; tern's logins and passwords may each be about that long
 * (an address of 511 bytes, a password of 511), so a login with a long password must
 * still fit.  Callers (tern-smtpd's AUTH, tern-pop3d) send at most 2 x 1024 + 2. */
#define CHECKPW_MAX 4096

/* Reads fd until end of file into buf (size at least CHECKPW_MAX + 1).  The byte count;
 * -1 with errno (EBADF: fd is not open); -2 more than CHECKPW_MAX bytes. */
ssize_t checkpw_read(int fd, char *buf, size_t size);
/* Splits buf (n bytes): *login (*ln bytes) and *pass (*pn bytes) point into buf, each
 * followed there by its NUL and holding none; either may be empty.  0, or -1 for a bad
 * format: over CHECKPW_MAX bytes, or fewer than two NULs. */
int checkpw_parse(const char *buf, size_t n, const char **login, size_t *ln, const char **pass, size_t *pn);

#endif
