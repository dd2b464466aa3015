/* inject: the injection engine shared by tern-inject and tern-sendmail.
 *
 * Input is normalised on the fly: CRLF (any run of CR before LF) becomes LF; with dotend a
 * line holding a single '.' ends the input; a leading mbox "From " line is dropped.  The
 * header section (at most INJECT_HEADMAX bytes) is collected in memory; it ends at the
 * first empty line or at the first line that is not a header field (see header.h) or is
 * longer than HEADER_LINEMAX.  Then the engine knows the recipients, the caller starts the
 * queue program, and the rest of the message streams through a fixed buffer.
 *
 * The message written: the added fields (From, Date, Message-ID, and their Resent- forms
 * when the message has Resent- fields, each only when missing), the header fields minus
 * Bcc, Resent-Bcc, Return-Path and Content-Length, one empty line, the body; a missing
 * final newline is added.  8-bit and NUL bytes pass unchanged.
 *
 * Use:  inject_init; inject_feed until inject_headdone (or EOF, then inject_eof);
 *       inject_header; inject_begin(writer); inject_feed the rest; inject_eof;
 *       inject_finish; inject_envelope; inject_free.
 * inject_buffer does all of it on a buffer in memory (tests, fuzzing). */
#ifndef TERN_INJECT_H
#define TERN_INJECT_H
#include <stddef.h>
#include <time.h>
#include <stralloc.h>

#define INJECT_HEADMAX (1024 * 1024)

/* Engine results. */
#define INJ_OK 0
#define INJ_EUSAGE 1		/* bad sender or recipient argument */
#define INJ_EHEADER 2		/* header section over INJECT_HEADMAX */
#define INJ_EADDR 3		/* unparsable address list in a header field */
#define INJ_ENORCPT 4		/* no recipients */
#define INJ_ENOMEM 5
#define INJ_EWRITE 6		/* the writer failed (errno as it left it) */

struct inject_opt {
	const char *me;		/* domain for bare names and Message-ID (control/me) */
	const char *user;	/* login name: From: and default envelope sender */
	const char *fullname;	/* display name for a missing From:, or 0 */
	const char *sender;	/* envelope sender as given (-f), 0 = user@me; "" or "<>" = null */
	int dotend;		/* a line "." ends input (sendmail without -i) */
	int rcpt_headers;	/* recipients from To/Cc/Bcc (or Resent-*) too */
	char *const *args;	/* recipient arguments, each an address list */
	size_t nargs;
	time_t now;		/* for Date: and Message-ID: */
	unsigned long pid;
	const char *unique;	/* random part of Message-ID */
};

typedef int (*inject_writer)(void *ctx, const char *s, size_t n);	/* 0 or -1 */

struct inject {
	struct inject_opt o;
	int phase;		/* 0 header, 1 body */
	int ended;		/* input ended early by a "." line */
	int begun;		/* inject_begin done */
	int bol, dot;		/* at the start of a line; a '.' held there */
	size_t ncr;		/* CRs held: dropped if an LF follows */
	stralloc head;		/* header section [0, hlen), then the start of the body */
	size_t hlen, line, nlines, nfields;
	stralloc prefix;	/* added fields, kept fields, empty line */
	stralloc rcpt;		/* recipients, each NUL-terminated */
	size_t nrcpt;
	stralloc sender;	/* envelope sender, NUL-terminated */
	inject_writer write;
	void *wctx;
	int werr;
	char last;		/* last byte written */
	size_t olen;
	char obuf[65536];
	char err[512];		/* reason for the last error, one line */
};

/* Checks sender and recipient arguments.  INJ_OK, INJ_EUSAGE or INJ_ENOMEM. */
int inject_init(struct inject *ij, const struct inject_opt *o);
/* Consumes input; *used says how much.  It stops early when the header section ends before
 * inject_begin, and ignores everything after a "." line.  INJ_OK, INJ_EHEADER, INJ_ENOMEM,
 * INJ_EWRITE. */
int inject_feed(struct inject *ij, const char *s, size_t n, size_t *used);
/* The header section is complete (inject_header may run). */
int inject_headdone(const struct inject *ij);
/* Input ended by a "." line: read no more. */
int inject_ended(const struct inject *ij);
/* End of input.  INJ_OK or INJ_ENOMEM (or INJ_EHEADER). */
int inject_eof(struct inject *ij);
/* Once the header is complete: recipients from the header fields, the added fields.
 * INJ_OK, INJ_EADDR, INJ_ENORCPT, INJ_ENOMEM. */
int inject_header(struct inject *ij);
/* Starts the output: the header section, then the start of the body. */
int inject_begin(struct inject *ij, inject_writer w, void *ctx);
/* After inject_eof: the rest of the body, a final newline, flush. */
int inject_finish(struct inject *ij);
/* The qmail-queue envelope (duplicate recipients dropped) into env.  1 ok, 0 no memory. */
int inject_envelope(struct inject *ij, stralloc *env);
void inject_free(struct inject *ij);

/* The whole engine on a buffer: the message into msg, the envelope into env. */
int inject_buffer(const struct inject_opt *o, const char *in, size_t n, stralloc *msg, stralloc *env);

/* ---- running it (tern-inject, tern-sendmail) ---- */

/* Fills me, user, fullname (when o->fullname is 0), now, pid and unique from the
 * environment (MAILUSER, USER, LOGNAME; MAILNAME, NAME), the password file and
 * control/me. */
void inject_defaults(struct inject_opt *o);
/* Maps a queue program's exit code (tern_wait's) to a sysexits code; *why gets a short
 * reason.  0 stays 0. */
int inject_exitcode(int qcode, const char **why);
/* Reads the message from fd, runs the queue program ($TERN_QUEUE unless set-uid, else
 * tern-queue next to this program) and exits with the sysexits code, after one line on
 * stderr when it is not 0. */
void inject_main(const struct inject_opt *o, int fd) __attribute__((noreturn));

#endif
