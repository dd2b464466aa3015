/* smtpc: the client side of SMTP (RFC 5321 4.2): reading a peer's replies, multi-line or
 * not, and the extensions its EHLO reply names.  Whatever the peer sends is outside input:
 * the text kept is one printable line, and anything that is not a reply counts as a lost
 * connection. */
#ifndef TERN_SMTPC_H
#define TERN_SMTPC_H
#include <stddef.h>
#include "smtp.h"

#define SMTPC_TEXTMAX 480
#define SMTPC_MAXLINES 1000	/* lines in one reply; more is a broken peer */

struct smtpc_ext {
	int pipelining, eightbitmime, smtputf8, dsn, starttls, chunking;
	unsigned long long size;	/* SIZE n; 0 none given (or SIZE 0: no limit) */
};

struct smtpc_reply {
	int code;			/* 0: none (lost, timed out, or not a reply) */
	char text[SMTPC_TEXTMAX];	/* "250 2.0.0 text more text": the code once, each line's text */
	char status[16];		/* the enhanced code (RFC 3463) of the same class, else x.0.0 */
};

/* Reads one reply from io.  With ext, the EHLO keywords of its lines after the first are
 * recorded there (ext is cleared first).  Returns the code, or 0. */
int smtpc_reply(struct smtp_io *io, struct smtpc_reply *r, struct smtpc_ext *ext);
/* A printable, single-line copy of s (n bytes) into out (size outn, NUL-terminated):
 * control bytes and DEL become spaces. */
void smtpc_clean(char *out, size_t outn, const char *s, size_t n);

#endif
