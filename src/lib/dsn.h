/* dsn: RFC 3464 delivery status notifications: bounces ("failed") and, for NOTIFY=SUCCESS
 * (RFC 3461), "delivered" reports.  One writer for both, so they cannot drift apart. */
#ifndef TERN_DSN_H
#define TERN_DSN_H
#include <stddef.h>
#include <time.h>

#define DSN_FAILED 0
#define DSN_DELIVERED 1

struct dsn_rcpt {
	const char *addr;	/* final recipient */
	const char *status;	/* enhanced status code, 5.x.y (failed) or 2.x.y (delivered) */
	const char *text;	/* diagnostic, one line; "NNN ..." is taken as an SMTP reply */
	int action;		/* DSN_FAILED or DSN_DELIVERED */
	const char *orcpt;	/* ORCPT as stored, "addr-type;xtext", or 0 */
};

struct dsn {
	const char *me;		/* reporting MTA (control/me) */
	const char *qid;	/* the original message's queue id */
	time_t arrival;		/* when it was queued */
	time_t now;
	const char *to;		/* header To: the original sender, or the postmaster */
	const char *orig_sender;
	int doublebounce;	/* the failed message was itself a bounce */
	const struct dsn_rcpt *rcpt;
	size_t nrcpt;
	int msgfd;		/* fd at the start of the original message; -1 none */
	unsigned long long msglen;	/* the message's length: the fd goes on past it (queue file) */
	const char *envid;	/* ENVID as stored (xtext), or 0: Original-Envelope-Id */
	int ret_full;		/* RET=FULL: return the whole message in a report with a failure */
	unsigned long long maxbytes;	/* size limit of the report (control/databytes); 0 none */
};

/* Writes the whole notification to fd: text part, message/delivery-status, then the
 * original message: message/rfc822 when ret_full, some recipient failed and it fits in
 * maxbytes; else its header as text/rfc822-headers (cut to fit).  Streams the message
 * from msgfd in constant memory.  0, or -1 with errno. */
int dsn_write(int fd, const struct dsn *d);
/* Diagnostic-Code type for a text: "smtp" for "NNN ..." replies, else "x-tern". */
const char *dsn_diagtype(const char *text);

#endif
