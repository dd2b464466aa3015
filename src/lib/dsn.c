#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "dsn.h"
#include "date822.h"

#define DSN_HDRMAX (1024 * 1024)	/* the returned header is cut at 1 MiB */
#define DSN_TRAILER 400			/* room kept for the closing lines of a report */

struct out { int fd; char buf[8192]; size_t n; int err; unsigned long long total; };

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
	o->total += n;
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

static int hexval(char c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	return -1;
}

/* An xtext value (checked by env_parse) in a report field: decoded (RFC 3464 wants the
 * sender's own envelope id and address back), unless decoding yields a byte that has no
 * place in a header line; then the xtext itself, which is plain ASCII and unambiguous. */
static void putxtext(struct out *o, const char *s)
{
	for (const char *p = s; *p; p++) {
		if (*p != '+') continue;
		int h = hexval(p[1]), l = h < 0 ? -1 : hexval(p[2]);
		if (l < 0 || h * 16 + l < 0x20 || h * 16 + l > 0x7e) { putsafe(o, s); return; }
		p += 2;
	}
	for (const char *p = s; *p; p++) {
		char c = *p;
		if (c == '+') { c = (char)(hexval(p[1]) * 16 + hexval(p[2])); p += 2; }
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

/* Copies at most max bytes of the original message: the header only (up to the empty
 * line), or the whole message.  Ends with a newline either way. */
static void copy_message(struct out *o, int fd, unsigned long long max, int whole)
{
	char b[8192];
	unsigned long long done = 0;
	int nl = 1;	/* at the start of a line */
	while (done < max) {
		size_t want = max - done < sizeof b ? (size_t)(max - done) : sizeof b;
		ssize_t r = read(fd, b, want);
		if (r < 0 && errno == EINTR) continue;
		if (r <= 0) break;
		size_t n = (size_t)r;
		if (!whole) {
			for (size_t i = 0; i < n; i++) {
				if (b[i] == '\n' && nl) { n = i; max = done + n; break; }	/* end of header */
				nl = b[i] == '\n';
			}
		} else nl = b[n - 1] == '\n';
		put(o, b, n);
		done += n;
	}
	if (done && !nl) put(o, "\n", 1);
}

int dsn_write(int fd, const struct dsn *d)
{
	struct out o;
	o.fd = fd; o.n = 0; o.err = 0; o.total = 0;
	char date[DATE822_LEN], arrival[DATE822_LEN], boundary[160];
	date822_fmt(date, d->now);
	date822_fmt(arrival, d->arrival);
	snprintf(boundary, sizeof boundary, "%s.%lld/%s", d->qid, (long long)d->now, d->me);
	size_t nfailed = 0;
	for (size_t i = 0; i < d->nrcpt; i++) nfailed += d->rcpt[i].action != DSN_DELIVERED;
	int success = nfailed == 0;

	puts_(&o, "From: Mail Delivery System <MAILER-DAEMON@"); puts_(&o, d->me); puts_(&o, ">\n");
	puts_(&o, "To: "); putsafe(&o, d->to); puts_(&o, "\n");
	puts_(&o, d->doublebounce ? "Subject: Undeliverable bounce (postmaster notify)\n"
		  : success ? "Subject: Successful Mail Delivery Report\n"
		  : nfailed < d->nrcpt ? "Subject: Delivery Status Notification\n"
		  : "Subject: Undelivered Mail Returned to Sender\n");
	puts_(&o, "Date: "); puts_(&o, date); puts_(&o, "\n");
	puts_(&o, "Message-ID: <"); puts_(&o, d->qid); puts_(&o, success ? ".dsn-ok@" : ".dsn@");
	puts_(&o, d->me); puts_(&o, ">\n");
	puts_(&o, "Auto-Submitted: auto-replied\nMIME-Version: 1.0\n");
	puts_(&o, "Content-Type: multipart/report; report-type=delivery-status;\n\tboundary=\"");
	puts_(&o, boundary); puts_(&o, "\"\n\nThis is a MIME-encapsulated message.\n\n");

	puts_(&o, "--"); puts_(&o, boundary); puts_(&o, "\n");
	puts_(&o, "Content-Description: Notification\nContent-Type: text/plain; charset=utf-8\n\n");
	puts_(&o, "This is the mail system at host "); puts_(&o, d->me); puts_(&o, ".\n\n");
	if (d->doublebounce) {
		puts_(&o, "A delivery status notification from <"); putsafe(&o, d->orig_sender);
		puts_(&o, "> could not be delivered.\nIt is returned to the postmaster; it will not be bounced again.\n\n");
	} else if (success) {
		puts_(&o, "Your message was delivered to the recipients below, as you asked\n"
			  "(NOTIFY=SUCCESS).\n\n");
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
	if (d->envid) { puts_(&o, "Original-Envelope-Id: "); putxtext(&o, d->envid); puts_(&o, "\n"); }
	puts_(&o, "Reporting-MTA: dns; "); puts_(&o, d->me); puts_(&o, "\n");
	puts_(&o, "X-Tern-Queue-ID: "); puts_(&o, d->qid); puts_(&o, "\n");
	puts_(&o, "Arrival-Date: "); puts_(&o, arrival); puts_(&o, "\n");
	for (size_t i = 0; i < d->nrcpt; i++) {
		const struct dsn_rcpt *r = &d->rcpt[i];
		puts_(&o, "\n");
		if (r->orcpt) {
			/* addr-type stays as is; only the address after ';' is xtext. */
			const char *semi = strchr(r->orcpt, ';');
			puts_(&o, "Original-Recipient: ");
			if (semi) { put(&o, r->orcpt, (size_t)(semi - r->orcpt)); puts_(&o, "; "); putxtext(&o, semi + 1); }
			else putsafe(&o, r->orcpt);
			puts_(&o, "\n");
		}
		puts_(&o, "Final-Recipient: rfc822; "); putsafe(&o, r->addr);
		puts_(&o, r->action == DSN_DELIVERED ? "\nAction: delivered\nStatus: " : "\nAction: failed\nStatus: ");
		putsafe(&o, r->status);
		if (r->action != DSN_DELIVERED) {
			puts_(&o, "\nDiagnostic-Code: "); puts_(&o, dsn_diagtype(r->text));
			puts_(&o, "; "); putsafe(&o, r->text);
		}
		puts_(&o, "\nLast-Attempt-Date: "); puts_(&o, date); puts_(&o, "\n");
	}
	/* The original: whole only for a failure with RET=FULL (RFC 3461 4.3: RET is about
	 * failed DSNs) and only if the report stays within maxbytes, so that tern-queue takes
	 * it; otherwise the header, cut so that the report fits. */
	unsigned long long room = ~0ULL;
	if (d->maxbytes) {
		unsigned long long used = o.total + 200 + DSN_TRAILER;
		room = d->maxbytes > used ? d->maxbytes - used : 0;
	}
	int whole = d->ret_full && !success && d->msgfd >= 0 && d->msglen <= room;
	puts_(&o, "\n--"); puts_(&o, boundary); puts_(&o, "\n");
	if (whole) {
		puts_(&o, "Content-Description: Undelivered Message\nContent-Type: message/rfc822\n\n");
		copy_message(&o, d->msgfd, d->msglen, 1);
	} else {
		puts_(&o, success ? "Content-Description: Delivered Message Headers\n"
			  : "Content-Description: Undelivered Message Headers\n");
		puts_(&o, "Content-Type: text/rfc822-headers\n\n");
		unsigned long long max = d->msglen < DSN_HDRMAX ? d->msglen : DSN_HDRMAX;
		if (max > room) max = room;
		if (d->msgfd >= 0) copy_message(&o, d->msgfd, max, 0);
	}
	puts_(&o, "\n--"); puts_(&o, boundary); puts_(&o, "--\n");
	flush(&o);
	if (o.err) { errno = o.err; return -1; }
	return 0;
}
