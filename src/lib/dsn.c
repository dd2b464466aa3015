#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "dsn.h"
#include "date822.h"

#define DSN_HDRMAX (1024 * 1024)	/* the returned header is cut at 1 MiB */

struct out { int fd; char buf[8192]; size_t n; int err; };

static void flush(struct out *o)
{
	size_t off = 0;
	while (off < o->n && !o->err) {
		ssize_t w = write(o->fd, o->buf + off, o->n - off);
		if (w < 0) { if (errno == EINTR) continue; o->err = errno; break; }
		off += (size_t)w;
	}
	o->n = 0;
}

static void put(struct out *o, const char *s, size_t n)
{
	while (n) {
		if (o->n == sizeof o->buf) flush(o);
		size_t k = sizeof o->buf - o->n < n ? sizeof o->buf - o->n : n;
		memcpy(o->buf + o->n, s, k);
		o->n += k; s += k; n -= k;
	}
}

static void puts_(struct out *o, const char *s) { put(o, s, strlen(s)); }

/* Header-safe copy: control bytes (a CR or LF from a remote reply) become spaces. */
static void putsafe(struct out *o, const char *s)
{
	for (; *s; s++) {
		char c = (unsigned char)*s < 0x20 ? ' ' : *s;
		put(o, &c, 1);
	}
}

const char *dsn_diagtype(const char *text)
{
	if (text[0] >= '2' && text[0] <= '5' && text[1] >= '0' && text[1] <= '9' &&
	    text[2] >= '0' && text[2] <= '9' && (text[3] == ' ' || text[3] == '-'))
		return "smtp";
	return "x-tern";
}

static void copy_header(struct out *o, int fd)
{
	char b[8192];
	size_t total = 0;
	int nl = 1;	/* at the start of a line */
	for (;;) {
		ssize_t r = read(fd, b, sizeof b);
		if (r < 0 && errno == EINTR) continue;
		if (r <= 0) break;
		for (ssize_t i = 0; i < r; i++) {
			if (b[i] == '\n' && nl) return;	/* the empty line: end of header */
			nl = b[i] == '\n';
			put(o, &b[i], 1);
			if (++total >= DSN_HDRMAX) { if (!nl) put(o, "\n", 1); return; }
		}
	}
	if (!nl) put(o, "\n", 1);
}

int dsn_write(int fd, const struct dsn *d)
{
	struct out o;
	o.fd = fd; o.n = 0; o.err = 0;
	char date[DATE822_LEN], arrival[DATE822_LEN], boundary[160];
	date822_fmt(date, d->now);
	date822_fmt(arrival, d->arrival);
	snprintf(boundary, sizeof boundary, "%s.%lld/%s", d->qid, (long long)d->now, d->me);

	puts_(&o, "From: Mail Delivery System <MAILER-DAEMON@"); puts_(&o, d->me); puts_(&o, ">\n");
	puts_(&o, "To: "); putsafe(&o, d->to); puts_(&o, "\n");
	puts_(&o, d->doublebounce ? "Subject: Undeliverable bounce (postmaster notify)\n"
				  : "Subject: Undelivered Mail Returned to Sender\n");
	puts_(&o, "Date: "); puts_(&o, date); puts_(&o, "\n");
	puts_(&o, "Message-ID: <"); puts_(&o, d->qid); puts_(&o, ".dsn@"); puts_(&o, d->me); puts_(&o, ">\n");
	puts_(&o, "Auto-Submitted: auto-replied\nMIME-Version: 1.0\n");
	puts_(&o, "Content-Type: multipart/report; report-type=delivery-status;\n\tboundary=\"");
	puts_(&o, boundary); puts_(&o, "\"\n\nThis is a MIME-encapsulated message.\n\n");

	puts_(&o, "--"); puts_(&o, boundary); puts_(&o, "\n");
	puts_(&o, "Content-Description: Notification\nContent-Type: text/plain; charset=utf-8\n\n");
	puts_(&o, "This is the mail system at host "); puts_(&o, d->me); puts_(&o, ".\n\n");
	if (d->doublebounce) {
		puts_(&o, "A delivery status notification from <"); putsafe(&o, d->orig_sender);
		puts_(&o, "> could not be delivered.\nIt is returned to the postmaster; it will not be bounced again.\n\n");
	} else {
		puts_(&o, "Your message could not be delivered to one or more recipients.\n"
			  "This is a permanent error; the details are below.\n\n");
	}
	for (size_t i = 0; i < d->nrcpt; i++) {
		puts_(&o, "<"); putsafe(&o, d->rcpt[i].addr); puts_(&o, ">: ");
		putsafe(&o, d->rcpt[i].text); puts_(&o, "\n");
	}
	puts_(&o, "\n--"); puts_(&o, boundary); puts_(&o, "\n");
	puts_(&o, "Content-Description: Delivery report\nContent-Type: message/delivery-status\n\n");
	puts_(&o, "Reporting-MTA: dns; "); puts_(&o, d->me); puts_(&o, "\n");
	puts_(&o, "X-Tern-Queue-ID: "); puts_(&o, d->qid); puts_(&o, "\n");
	puts_(&o, "Arrival-Date: "); puts_(&o, arrival); puts_(&o, "\n");
	for (size_t i = 0; i < d->nrcpt; i++) {
		puts_(&o, "\nFinal-Recipient: rfc822; "); putsafe(&o, d->rcpt[i].addr);
		puts_(&o, "\nAction: failed\nStatus: "); putsafe(&o, d->rcpt[i].status);
		puts_(&o, "\nDiagnostic-Code: "); puts_(&o, dsn_diagtype(d->rcpt[i].text));
		puts_(&o, "; "); putsafe(&o, d->rcpt[i].text);
		puts_(&o, "\nLast-Attempt-Date: "); puts_(&o, date); puts_(&o, "\n");
	}
	puts_(&o, "\n--"); puts_(&o, boundary); puts_(&o, "\n");
	puts_(&o, "Content-Description: Undelivered Message Headers\nContent-Type: text/rfc822-headers\n\n");
	if (d->hdrfd >= 0) copy_header(&o, d->hdrfd);
	puts_(&o, "\n--"); puts_(&o, boundary); puts_(&o, "--\n");
	flush(&o);
	if (o.err) { errno = o.err; return -1; }
	return 0;
}
