/* tlsc: the client side of STARTTLS (RFC 3207) for tern-remote, with BearSSL (TLS 1.2 at
 * most).  What is here:
 *   - control/tlsdestinations: per-domain policies, looked up like control/smtproutes;
 *   - the CA bundle (control/tlscafile) as BearSSL trust anchors;
 *   - a certificate validator that runs BearSSL's real chain and name validation and
 *     records its verdict, hashes the server's certificate (SHA-256) and, unless the
 *     policy demands otherwise, accepts any certificate: opportunistic TLS needs the
 *     server's key, not its identity;
 *   - the engine pump: a connection's records over a non-blocking socket, every wait
 *     bounded by a timeout.
 * tern-remote holds no private key, so TLS runs in its own process. */
#ifndef TERN_TLSC_H
#define TERN_TLSC_H
#include <stddef.h>
#include <sys/types.h>
#include <time.h>
#include <bearssl.h>
#include <stralloc.h>

/* ---- policies ---- */

#define TLSC_NONE 0		/* never STARTTLS */
#define TLSC_MAY 1		/* STARTTLS when offered, any certificate (the default) */
#define TLSC_VERIFY 2		/* TLS required, chain to the CA bundle, host name matched */
#define TLSC_FINGERPRINT 3	/* TLS required, the certificate's SHA-256 one of fp[] */
#define TLSC_MAXFP 8

struct tlsc_policy {
	int level;
	size_t nfp;
	unsigned char fp[TLSC_MAXFP][32];
};

/* A policy: "none", "may", "verify" (any case) or "fingerprint:HEX[,HEX...]", each HEX 64
 * hex digits in any case, colons anywhere between them; at most TLSC_MAXFP.  s is n
 * bytes.  0, or -1 when malformed. */
int tlsc_policy_parse(const char *s, size_t n, struct tlsc_policy *p);
/* The policy for domain (n bytes, any case) from the lines of control/tlsdestinations
 * ("domain:policy", control_readlines), matched as route.h matches smtproutes.  1 a line
 * matched, 0 none (p is "may"), -1 the matching line's policy is malformed (p is "may"
 * too; the caller refuses to guess, *bad points at the line).  A line without ':' does
 * not count; a domain "[literal]" may hold colons. */
int tlsc_policy_lookup(const stralloc *lines, const char *domain, size_t n, struct tlsc_policy *p,
		       const char **bad);

/* ---- trust anchors ---- */

struct tlsc_ca {
	br_x509_trust_anchor *ta;	/* malloc'd, each with its own DN and key copies */
	size_t n;
};

#define TLSC_CAMAX (16u << 20)	/* bytes of a CA bundle */
/* Every CERTIFICATE of the PEM file at path becomes a trust anchor: a CA one when the
 * certificate says it is a CA, else trusted directly for its own name and key.
 * Certificates BearSSL cannot decode are skipped.  0, or -1 with errno (ENOENT and the
 * like, EFBIG over TLSC_CAMAX, EINVAL malformed PEM or no usable certificate, ENOMEM). */
int tlsc_ca_load(struct tlsc_ca *ca, const char *path);
/* The same from the file open on fd (which is closed): a process can open the file
 * before it drops privileges and read it only once a connection needs it. */
int tlsc_ca_load_fd(struct tlsc_ca *ca, int fd);
void tlsc_ca_free(struct tlsc_ca *ca);

/* ---- a connection ---- */

/* The validator: BearSSL's minimal X.509 engine inside, plus what it records. */
struct tlsc_x509 {
	const br_x509_class *vtable;
	br_x509_minimal_context mini;
	br_x509_decoder_context dec;	/* the server's certificate: its key */
	br_sha256_context sha;
	struct tlsc_policy pol;	/* the policy checked (a copy) */
	unsigned ncert;
	unsigned verr;		/* minimal's verdict on chain and name: 0 ok, else BR_ERR_X509_* */
	int fpmatch;		/* fingerprint among pol.fp */
	int checked;		/* end_chain ran */
	int refused;		/* end_chain failed the handshake for the policy's sake */
	unsigned char fp[32];	/* SHA-256 of the server's certificate (DER) */
};

/* Makes x a validator for policy p trusting ca (0: none); tlsc_start does this.  Its
 * BearSSL engine is x->mini (br_x509_minimal_set_time and the like apply). */
void tlsc_x509_init(struct tlsc_x509 *x, const struct tlsc_policy *p, const struct tlsc_ca *ca);

struct tlsc {
	br_ssl_client_context cc;
	struct tlsc_x509 x;
	int fd;
	int haveca;		/* a CA bundle was given (else verr says untrusted) */
	int syserr;		/* the socket's errno, ETIMEDOUT for a timeout; 0 none */
	int eof;		/* the peer closed the socket */
	int up;			/* the handshake is done */
	unsigned char iobuf[BR_SSL_BUFSIZE_BIDI];
};

/* Waits until fd has one of events (poll), at most until deadline.  0, or -1 with errno
 * (ETIMEDOUT). */
int tlsc_poll(int fd, short events, time_t deadline);
/* Handshake on fd (connected, non-blocking) under policy p (may, verify or fingerprint),
 * sending name as SNI and matching it against the certificate (0: neither, e.g. an IP
 * literal), trusting ca (0: none).  The whole handshake gets timeout seconds.  0 up, -1
 * failed: tlsc_error() says why, tlsc_refused() whether it was the policy's check.
 * t is large (about 40 KiB): keep it static. */
int tlsc_start(struct tlsc *t, int fd, const char *name, const struct tlsc_policy *p,
	       const struct tlsc_ca *ca, unsigned timeout);
/* Application data: up to n bytes into buf, waiting at most timeout seconds for each
 * record.  >0 bytes, 0 the peer closed, -1 error or timeout (errno ETIMEDOUT). */
ssize_t tlsc_read(struct tlsc *t, void *buf, size_t n, unsigned timeout);
/* All n bytes, then flushed to the socket; each wait at most timeout seconds.  0 or -1. */
int tlsc_write(struct tlsc *t, const void *buf, size_t n, unsigned timeout);
/* Sends close_notify (best effort, waiting at most timeout seconds); fd stays open. */
void tlsc_close(struct tlsc *t, unsigned timeout);

/* After the handshake (or its failure): */
const char *tlsc_version(const struct tlsc *t);	/* "TLSv1.2" */
const char *tlsc_cipher(const struct tlsc *t, char *buf, size_t n);	/* OpenSSL's name */
/* "sha256:" and 64 lowercase hex digits into out (size >= 72); "" before a certificate. */
void tlsc_fingerprint(const struct tlsc *t, char *out, size_t n);
/* The recorded chain verdict: "ok", "fail(untrusted)", "fail(name-mismatch)",
 * "fail(expired)", "fail(error-N)" (a BearSSL code), "unchecked" when no CA bundle was
 * given; "" before a certificate. */
const char *tlsc_verify(const struct tlsc *t, char *buf, size_t n);
/* 1 if the handshake failed because the certificate did not pass the policy's check. */
int tlsc_refused(const struct tlsc *t);
/* Why the handshake or the connection failed, one line, into buf. */
const char *tlsc_error(const struct tlsc *t, char *buf, size_t n);
/* 1 if the chain and name passed (verify would accept), 1 if the fingerprint is among
 * p's: what a reused connection is checked against. */
int tlsc_satisfies(const struct tlsc *t, const struct tlsc_policy *p);

/* ---- replies over TLS ---- */

/* 1 if buf (n bytes) starts with a whole SMTP reply: lines up to one whose fourth byte
 * is not '-', each ended by LF. */
int tlsc_reply_complete(const char *buf, size_t n);

#endif
