/* dsn: RFC 3464 delivery status notifications (bounces). */
#ifndef TERN_DSN_H
#define TERN_DSN_H
#include <stddef.h>
#include <time.h>

struct dsn_rcpt {
	const char *addr;	/* final recipient */
	const char *status;	/* enhanced status code, 5.x.y */
	const char *text;	/* diagnostic, one line; "NNN ..." is taken as an SMTP reply */
};

struct dsn {
	const char *me;		/* reporting MTA (control/me) */
	const char *qid;	/* the failed message's queue id */
	time_t arrival;		/* when it was queued */
	time_t now;
	const char *to;		/* header To: the original sender, or the postmaster */
	const char *orig_sender;
	int doublebounce;	/* the failed message was itself a bounce */
	const struct dsn_rcpt *rcpt;
	size_t nrcpt;
	int hdrfd;		/* fd at the start of the failed message, for its header; -1 none */
};

/* Writes the whole notification to fd. 0, or -1 with errno. */
int dsn_write(int fd, const struct dsn *d);
/* Diagnostic-Code type for a text: "smtp" for "NNN ..." replies, else "x-tern". */
const char *dsn_diagtype(const char *text);

#endif
