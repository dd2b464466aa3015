/* mbox: delivery to an mbox file in the mboxrd format.  Each message is
 *   From SENDER Www Mmm dd hh:mm:ss yyyy   (UTC; MAILER-DAEMON for the null sender)
 *   the message, every line matching ^>*From  quoted with one more '>'
 *   a newline if the message lacks a final one, then one empty line.
 * The file is opened O_APPEND (created 0600), locked with a dot lock (path.lock) and an
 * fcntl write lock, fsync'd; on any failure it is cut back to its size before. */
#ifndef TERN_MBOX_H
#define TERN_MBOX_H
#include <stddef.h>
#include <time.h>
#include "maildir.h"	/* struct msgsrc */

#define MBOX_LOCKWAIT 60	/* seconds to wait for the locks */
#define MBOX_LOCKSTALE 600	/* a dot lock older than this is removed */

typedef int (*mbox_writer)(void *ctx, const char *s, size_t n);	/* 0, or -1 with errno */

/* Streaming ">From " quoting: bytes in, quoted bytes out through a writer. */
struct mbox_quote {
	int state;		/* 0 inside a line, 1 at a line start counting '>', 2 matching "From " */
	size_t gt;		/* '>' held at the line start */
	size_t match;		/* bytes of "From " matched */
	char last;		/* last byte passed on, '\n' at the start */
	mbox_writer w;
	void *ctx;
};

void mbox_quote_init(struct mbox_quote *q, mbox_writer w, void *ctx);
/* 0, or -1 when the writer failed. */
int mbox_quote_feed(struct mbox_quote *q, const char *s, size_t n);
/* Flushes what is held, adds a final newline if missing, then the empty line. */
int mbox_quote_end(struct mbox_quote *q);

/* The "From " line (with its newline) into out; its length, or 0 if it does not fit.
 * Blanks and control bytes in the sender become '_'. */
size_t mbox_fromline(char *out, size_t n, const char *sender, time_t t);

/* Appends one message: fromline, then prefix (plen bytes) and src, quoted.
 * 0, or -1 with errno and *step naming what failed (errno EAGAIN: still locked after
 * MBOX_LOCKWAIT seconds).  *nodotlock is set when the directory does not allow a dot
 * lock (EACCES, EROFS, EPERM) and only the fcntl lock was used. */
int mbox_deliver(const char *path, const char *fromline, const char *prefix, size_t plen,
		 const struct msgsrc *src, const char **step, int *nodotlock);

#endif
