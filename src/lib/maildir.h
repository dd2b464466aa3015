/* maildir: delivery into a Maildir (https://cr.yp.to/proto/maildir.html).
 * A message is written to tmp/, fsync'd, then link()ed (never renamed) into new/, and
 * new/ is fsync'd.  A tagged name (<time>.<tag>_<index>.<host>) makes a repeated delivery
 * of the same message to the same instruction find the first one (MD_DUP) instead of
 * writing a second copy. */
#ifndef TERN_MAILDIR_H
#define TERN_MAILDIR_H
#include <stddef.h>
#include <time.h>
#include <sys/types.h>

/* A message the delivery primitives read, from its start, as often as needed:
 * read() returns up to n bytes, 0 at the end, -1 with errno set. */
struct msgsrc {
	ssize_t (*read)(void *ctx, char *buf, size_t n);
	void *ctx;
};

#define MAILDIR_NAMEMAX 512
#define MAILDIR_TAGMAX 100

/* The host name as it may appear in a Maildir file name: '/' becomes "\057" and ':'
 * becomes "\072".  Returns the length, or -1 when out (size n) is too small. */
int maildir_host(char *out, size_t n, const char *host);
/* 1 if a delivery tag may be part of a file name: 1..MAILDIR_TAGMAX bytes of
 * A-Z a-z 0-9 '.' '-' '_', not starting with '.'. */
int maildir_tag_ok(const char *tag);
/* "<t>.<tag>_<index>.<host>" into out; host already sanitized.  Length or -1. */
int maildir_name_tag(char *out, size_t n, time_t t, const char *tag, size_t index, const char *host);
/* "<t>.M<usec>P<pid>.<host>" into out.  Length or -1. */
int maildir_name_unique(char *out, size_t n, time_t t, long usec, unsigned long pid, const char *host);

/* Creates dir (mode 0700) and dir/tmp, dir/new, dir/cur where missing (not the parents
 * of dir).  0, or -1 with errno. */
int maildir_make(const char *dir);

#define MD_OK 0
#define MD_DUP 1		/* the tagged name already existed: delivered before */

/* Delivers prefix (plen bytes) and then the whole of src into the Maildir dir.
 * tagname: the file name for new/ (from maildir_name_tag), or 0 for a fresh unique name.
 * host: the sanitized host name for unique names.  The name used goes to name (size
 * MAILDIR_NAMEMAX).  Returns MD_OK, MD_DUP, or -1 with errno and *step saying which
 * operation failed; nothing is left in tmp/ or new/ after a failure. */
int maildir_deliver(const char *dir, const char *tagname, const char *host,
		    const char *prefix, size_t plen, const struct msgsrc *src,
		    char name[MAILDIR_NAMEMAX], const char **step);

#endif
