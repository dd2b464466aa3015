/* tern-remote: delivers one message to the recipients of one domain over SMTP.
 *   tern-remote [-f SENDER] RECIPIENT...    one message on fd 0 (a file), results on fd 1
 *   tern-remote -s                          jobs from tern-send on fd 0 (a socket)
 * Routes by control/smtproutes, else by the domain's MX (RFC 5321 5.1, RFC 7505); STARTTLS
 * as control/tlsdestinations says (opportunistic by default; tlsc.h).  One
 * line per recipient, "r|h|s STATUS TEXT" (accepted, hard, soft), then one for the
 * message, "R|H|S STATUS RELAY TEXT".  In session mode (-s) each job is one packet on
 * fd 0 carrying the message fd: "J" msglen "\n" envelope (the qmail-queue envelope with
 * DSN records); the answer is one packet of the same lines.  The connection stays open
 * between jobs for the same destination (RSET); EOF on fd 0 ends with QUIT.
 * The contract is doc/tern-remote.8. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <ifaddrs.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <stralloc.h>
#include "addr.h"
#include "control.h"
#include "die.h"
#include "dnsmx.h"
#include "env.h"
#include "fdio.h"
#include "home.h"
#include "qlog.h"
#include "route.h"
#include "smtp.h"
#include "smtpc.h"
#include "tlsc.h"

#define EX_TEMP 111
#define MAXRCPT 1000		/* recipients in one job */
#define MAXMX 32
#define MAXADDR 10		/* addresses tried for one delivery */
#define TEXTMAX SMTPC_TEXTMAX	/* a result's text */
#define JOBMAX (256 * 1024)	/* one job packet */
#define REUSEMAX 100		/* messages over one connection */

struct result {
	char kind;		/* r, h, s; 0 = not yet known */
	char status[16];
	char text[TEXTMAX];
};

struct job {
	int msgfd;
	off_t msgoff;		/* where the message starts in msgfd */
	unsigned long long msglen;
	int sized;		/* msglen known (else: to EOF) */
	const char *sender;
	const char *envid, *ret;
	size_t nrcpt;
	const char *rcpt[MAXRCPT];
	const char *notify[MAXRCPT], *orcpt[MAXRCPT];
	struct result res[MAXRCPT];
	/* what the content needs */
	unsigned long long wiresize;	/* CRLF form, before dot-stuffing */
	int eightbit, utf8;
	/* the message as a whole */
	char mkind, mstatus[16], mtext[TEXTMAX], relay[320];
};

struct conn {
	int fd;			/* -1 when none */
	struct smtp_io io;
	char dest[320];		/* what it is a connection for (route_dest) */
	char relay[320];	/* host[ip]:port, for results and logs */
	struct smtpc_ext ext;	/* what its EHLO offered (over TLS: the EHLO after STARTTLS) */
	unsigned used;
	int tls;		/* TLS is up (the session in tls) */
};

static char helohost[256];
static unsigned long timeoutconnect = 60, timeoutremote = 300;
static stralloc routes;
static struct sockaddr_storage srcip4, srcip6;
static int have_src4, have_src6;
#define MAXLOCALIP 256
static unsigned char localips[MAXLOCALIP][16];
static size_t nlocalips;
static struct conn conn = { .fd = -1 };
static char qid[48];		/* the job's queue id, for the log */
static stralloc tlsdests;	/* control/tlsdestinations */
static char tlscafile[512];
static struct tlsc tls;		/* conn's TLS session, when conn.tls */
static struct tlsc_ca ca;	/* control/tlscafile, loaded at most once (ca_get) */
static int ca_state;		/* 0 not loaded, 1 loaded, -1 failed (ca_errno) */
static int ca_errno;
static int cafd = -1, cafd_errno;	/* tlscafile, opened before privileges are dropped */
static int eofpipe = -1;	/* reads end-of-file at once: c->io's fds while TLS is up */
#define CACHEAP (32 * 1024)	/* a bundle this small is loaded just to record verdicts */

/* ---- configuration ---- */

static void read_control(void)
{
	if (control_readline(helohost, sizeof helohost, "helohost", 0) <= 0 || !*helohost)
		snprintf(helohost, sizeof helohost, "%s", tern_me());
	if (control_readulong(&timeoutconnect, "timeoutconnect", 60) < 0)
		tern_die_sys(EX_TEMP, "reading control/timeoutconnect");
	if (control_readulong(&timeoutremote, "timeoutremote", 300) < 0)
		tern_die_sys(EX_TEMP, "reading control/timeoutremote");
	if (!timeoutconnect) timeoutconnect = 1;
	if (!timeoutremote) timeoutremote = 1;
	if (control_readlines(&routes, "smtproutes") < 0) tern_die_sys(EX_TEMP, "reading control/smtproutes");
	if (control_readlines(&tlsdests, "tlsdestinations") < 0) tern_die_sys(EX_TEMP, "reading control/tlsdestinations");
	char caf[sizeof tlscafile];
	if (control_readline(caf, sizeof caf, "tlscafile", "/etc/ssl/certs/ca-certificates.crt") < 0)
		tern_die_sys(EX_TEMP, "reading control/tlscafile");
	if (!caf[0]) snprintf(caf, sizeof caf, "/etc/ssl/certs/ca-certificates.crt");
	/* A relative name is under control/, like the file that names it. */
	char rel[sizeof tlscafile];
	if (caf[0] != '/' && (snprintf(rel, sizeof rel, "control/%s", caf) >= (int)sizeof rel ||
			      tern_path(tlscafile, sizeof tlscafile, rel) != 0))
		tern_die(EX_TEMP, "control/tlscafile: name too long");
	if (caf[0] == '/') memcpy(tlscafile, caf, sizeof caf);
	cafd = open(tlscafile, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	cafd_errno = errno;
	stralloc ips = {0};
	if (control_readlines(&ips, "outgoingip") < 0) tern_die_sys(EX_TEMP, "reading control/outgoingip");
	for (size_t i = 0; i < ips.len; i += strlen(ips.s + i) + 1) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&srcip4;
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&srcip6;
		if (inet_pton(AF_INET, ips.s + i, &s4->sin_addr) == 1) { s4->sin_family = AF_INET; have_src4 = 1; }
		else if (inet_pton(AF_INET6, ips.s + i, &s6->sin6_addr) == 1) { s6->sin6_family = AF_INET6; have_src6 = 1; }
		else tern_die(EX_TEMP, "control/outgoingip: not an IP address: ", ips.s + i);
	}
	stralloc_free(&ips);
}

static void to16(unsigned char out[16], const struct sockaddr *sa)
{
	memset(out, 0, 16);
	if (sa->sa_family == AF_INET) {
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	} else memcpy(out, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
}

/* This host's addresses: an MX that points at one of them is a mail loop.  The
 * interfaces' addresses, plus control/moreipme (a NAT's public address), minus
 * control/notipme (addresses here that are other hosts, as notqmail has them). */
static void read_localips(void)
{
	struct ifaddrs *ifa, *p;
	static const unsigned char any4[16] = { [10] = 0xff, [11] = 0xff };
	memcpy(localips[nlocalips++], any4, 16);
	memset(localips[nlocalips++], 0, 16);
	if (getifaddrs(&ifa) == 0) {
		for (p = ifa; p && nlocalips < MAXLOCALIP; p = p->ifa_next) {
			if (!p->ifa_addr || (p->ifa_addr->sa_family != AF_INET && p->ifa_addr->sa_family != AF_INET6)) continue;
			to16(localips[nlocalips++], p->ifa_addr);
		}
		freeifaddrs(ifa);
	}
	stralloc sa = {0};
	for (int pass = 0; pass < 2; pass++) {
		const char *name = pass ? "notipme" : "moreipme";
		if (control_readlines(&sa, name) < 0) tern_die_sys(EX_TEMP, "reading control/", name);
		for (size_t i = 0; i < sa.len; i += strlen(sa.s + i) + 1) {
			unsigned char ip[16] = { [10] = 0xff, [11] = 0xff };
			if (inet_pton(AF_INET, sa.s + i, ip + 12) != 1 && inet_pton(AF_INET6, sa.s + i, ip) != 1)
				tern_die(EX_TEMP, "control/", name, ": not an IP address: ", sa.s + i);
			if (!pass) { if (nlocalips < MAXLOCALIP) memcpy(localips[nlocalips++], ip, 16); continue; }
			for (size_t k = 0; k < nlocalips;)
				if (memcmp(localips[k], ip, 16) == 0) memcpy(localips[k], localips[--nlocalips], 16);
				else k++;
		}
	}
	stralloc_free(&sa);
}

static int is_localip(const unsigned char ip[16])
{
	for (size_t i = 0; i < nlocalips; i++)
		if (memcmp(localips[i], ip, 16) == 0) return 1;
	return 0;
}

/* ---- results ---- */

static void set_result(struct result *r, char kind, const char *status, const char *text)
{
	r->kind = kind;
	snprintf(r->status, sizeof r->status, "%s", status);
	smtpc_clean(r->text, sizeof r->text, text, strlen(text));
}

/* Every recipient without a result gets this one; the message too. */
static void settle(struct job *j, char kind, const char *status, const char *text)
{
	for (size_t i = 0; i < j->nrcpt; i++)
		if (!j->res[i].kind) set_result(&j->res[i], kind, status, text);
	if (!j->mkind) {
		j->mkind = (char)(kind - 'a' + 'A');
		snprintf(j->mstatus, sizeof j->mstatus, "%s", status);
		smtpc_clean(j->mtext, sizeof j->mtext, text, strlen(text));
	}
}

/* ---- the connection ---- */

static int wait_fd(int fd, short ev, unsigned long secs)
{
	return tlsc_poll(fd, ev, time(0) + (time_t)secs);
}

/* Writes everything, waiting at most timeoutremote for the peer to take each part. */
static int net_write(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = write(fd, s, n);
		if (w < 0) {
			if (errno == EINTR) continue;
			if (errno != EAGAIN) return -1;
			if (wait_fd(fd, POLLOUT, timeoutremote) != 0) return -1;
			continue;
		}
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

static int conn_write(struct conn *c, const char *s, size_t n)
{
	if (c->tls) return tlsc_write(&tls, s, n, (unsigned)timeoutremote);
	return net_write(c->fd, s, n);
}

/* One reply.  Over TLS, decrypted bytes go into io's buffer first, up to a whole reply
 * (or a full buffer), so that smtpc reads them as it reads a socket; io's own fds then
 * read end-of-file at once (eofpipe): nothing undecrypted can ever reach it. */
static int reply(struct conn *c, struct smtpc_reply *r, struct smtpc_ext *ext)
{
	struct smtp_io *io = &c->io;
	if (c->tls) {
		if (io->pos) {
			memmove(io->ibuf, io->ibuf + io->pos, io->len - io->pos);
			io->len -= io->pos;
			io->pos = 0;
		}
		while (io->len < sizeof io->ibuf && !tlsc_reply_complete(io->ibuf, io->len)) {
			ssize_t k = tlsc_read(&tls, io->ibuf + io->len, sizeof io->ibuf - io->len, io->timeout);
			if (k <= 0) break;
			io->len += (size_t)k;
		}
	}
	return smtpc_reply(io, r, ext);
}

static int cmd_flush(struct conn *c)
{
	int r = conn_write(c, c->io.obuf, c->io.olen);
	c->io.olen = 0;
	return r;
}

static void cmd(struct conn *c, const char *s)
{
	size_t n = strlen(s);
	if (c->io.olen + n > sizeof c->io.obuf) cmd_flush(c);
	smtp_put(&c->io, s, n);
}

static void conn_close(struct conn *c, int quit)
{
	if (c->fd < 0) return;
	if (quit) {
		struct smtpc_reply r;
		c->io.olen = 0;
		cmd(c, "QUIT\r\n");
		if (cmd_flush(c) == 0) {
			c->io.timeout = 5;
			reply(c, &r, 0);
		}
	}
	if (c->tls && quit) tlsc_close(&tls, 2);
	close(c->fd);
	c->fd = -1;
	c->tls = 0;
	c->dest[0] = 0;
}

static void fmt_ip(char *out, size_t n, const struct dnsmx_addr *a)
{
	if (a->v6) inet_ntop(AF_INET6, a->ip, out, (socklen_t)n);
	else inet_ntop(AF_INET, a->ip, out, (socklen_t)n);
}

/* Connects to one address; the fd, or -1 with a reason in why. */
static int dial(const struct dnsmx_addr *a, unsigned port, char *why, size_t whyn)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	memset(&ss, 0, sizeof ss);
	if (a->v6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((unsigned short)port);
		memcpy(&s6->sin6_addr, a->ip, 16);
		sl = sizeof *s6;
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((unsigned short)port);
		memcpy(&s4->sin_addr, a->ip, 4);
		sl = sizeof *s4;
	}
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) { snprintf(why, whyn, "socket: %s", strerror(errno)); return -1; }
	if (a->v6 ? have_src6 : have_src4) {
		const struct sockaddr_storage *src = a->v6 ? &srcip6 : &srcip4;
		if (bind(fd, (const struct sockaddr *)src, a->v6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in)) != 0) {
			snprintf(why, whyn, "binding control/outgoingip: %s", strerror(errno));
			close(fd);
			return -1;
		}
	}
	/* Commands are batched here already; Nagle would only hold the last of them back. */
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(fd, (struct sockaddr *)&ss, sl) != 0) {
		int e = errno, soerr = 0;
		socklen_t el = sizeof soerr;
		if (e != EINPROGRESS) { snprintf(why, whyn, "connect: %s", strerror(e)); close(fd); return -1; }
		if (wait_fd(fd, POLLOUT, timeoutconnect) != 0) {
			snprintf(why, whyn, "connect: %s", errno == ETIMEDOUT ? "timed out" : strerror(errno));
			close(fd);
			return -1;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &el) != 0) soerr = errno;
		if (soerr) { snprintf(why, whyn, "connect: %s", strerror(soerr)); close(fd); return -1; }
	}
	return fd;
}

/* EHLO (HELO when EHLO is refused).  0 ready, -1 with the reason in r. */
static int ehlo(struct conn *c, struct smtpc_reply *r)
{
	char line[300];
	snprintf(line, sizeof line, "EHLO %s\r\n", helohost);
	cmd(c, line);
	if (cmd_flush(c) != 0) { r->code = 0; return -1; }
	int code = reply(c, r, &c->ext);
	if (code / 100 == 2) return 0;
	if (code / 100 != 5) return -1;
	snprintf(line, sizeof line, "HELO %s\r\n", helohost);
	cmd(c, line);
	if (cmd_flush(c) != 0) { r->code = 0; return -1; }
	memset(&c->ext, 0, sizeof c->ext);
	return reply(c, r, 0) / 100 == 2 ? 0 : -1;
}

/* Greeting and EHLO.  0 ready, -1 with the reason in r. */
static int hello(struct conn *c, struct smtpc_reply *r)
{
	if (reply(c, r, 0) / 100 != 2) return -1;
	return ehlo(c, r);
}

/* ---- STARTTLS ---- */

/* Why an address was given up: the last one's reason is the job's. */
struct fail {
	char why[1024];
	char status[16];
	int perm;		/* every address refused us with a 5xx greeting or EHLO/HELO */
};

static void failed(struct fail *f, const struct conn *c, const char *status, const char *text)
{
	snprintf(f->why, sizeof f->why, "%s: %s", c->relay, text);
	snprintf(f->status, sizeof f->status, "%s", status);
	f->perm = 0;
}

/* The CA bundle, loaded at most once per process: when verification is needed, and
 * otherwise only when the file is small (a private CA), merely to record a verdict:
 * BearSSL takes some 80 ms over a full system bundle.  0 when there is none. */
static const struct tlsc_ca *ca_get(int need)
{
	if (ca_state == 0 && cafd < 0) { ca_state = -1; ca_errno = cafd_errno; }
	if (ca_state == 0 && !need) {
		struct stat st;
		if (fstat(cafd, &st) != 0 || st.st_size > CACHEAP) return 0;
	}
	if (ca_state == 0) {
		int fd = cafd;
		cafd = -1;
		if (tlsc_ca_load_fd(&ca, fd) == 0) ca_state = 1;
		else {
			ca_state = -1;
			ca_errno = errno;
			tern_warn_sys("cannot load control/tlscafile ", tlscafile);
		}
	}
	return ca_state == 1 ? &ca : 0;
}

static const char *level_name(int level)
{
	static const char *const names[] = { "none", "may", "verify", "fingerprint" };
	return level >= 0 && level <= TLSC_FINGERPRINT ? names[level] : "?";
}

/* One line per connection about TLS: tls=none and why (starttls=), or the session, or
 * tls=failed with what was learnt of the certificate and what happens next. */
static void log_tls(const struct conn *c, const struct tlsc_policy *pol, const char *state, const char *why,
		    const char *action)
{
	struct qlog l;
	char b1[64], b2[64], fp[80];
	qlog_start(&l);
	if (qid[0]) qlog_kv(&l, "qid", qid);
	qlog_kv(&l, "event", "tls");
	qlog_kv(&l, "relay", c->relay);
	qlog_kv(&l, "policy", level_name(pol->level));
	qlog_kv(&l, "tls", state);
	if (strcmp(state, "none") == 0) qlog_kv(&l, "starttls", why);
	else {
		if (c->tls) qlog_kv(&l, "cipher", tlsc_cipher(&tls, b1, sizeof b1));
		tlsc_fingerprint(&tls, fp, sizeof fp);
		if (fp[0]) qlog_kv(&l, "fingerprint", fp);
		const char *v = tlsc_verify(&tls, b2, sizeof b2);
		if (v[0]) qlog_kv(&l, "verify", v);
		if (why) qlog_kv(&l, "error", why);
	}
	if (action) qlog_kv(&l, "action", action);
	qlog_emit(&l);
}

#define TLS_OK 0	/* go on, over TLS or in cleartext as the policy allows */
#define TLS_FAIL 1	/* this address failed (f says why); the connection is closed */
#define TLS_PLAIN 2	/* an opportunistic handshake failed: try the address in cleartext */

/* STARTTLS as the policy says, after the first EHLO; then EHLO again over TLS.  plain:
 * this connection is the cleartext retry.  What Postfix does (smtp_tls_security_level):
 * under "may" a refused STARTTLS goes on in cleartext on the same connection, and a
 * failed handshake is retried once in cleartext on a new one; where TLS is required,
 * either is a temporary failure of this address, never a cleartext send. */
static int starttls(struct conn *c, const char *host, const struct tlsc_policy *pol, int plain, struct fail *f)
{
	struct smtpc_reply r;
	char buf[600], e[200];
	int need = pol->level >= TLSC_VERIFY;
	if (pol->level == TLSC_NONE || plain) {
		log_tls(c, pol, "none", plain ? "plaintext-retry" : "disabled", 0);
		return TLS_OK;
	}
	if (!c->ext.starttls) {
		log_tls(c, pol, "none", "not-offered", need ? "next-host" : 0);
		if (!need) return TLS_OK;
		failed(f, c, "4.7.4", "TLS required by tlsdestinations, but the server does not offer STARTTLS");
		conn_close(c, 1);
		return TLS_FAIL;
	}
	const struct tlsc_ca *cap = ca_get(pol->level == TLSC_VERIFY);
	if (pol->level == TLSC_VERIFY && !cap) {
		snprintf(buf, sizeof buf, "TLS required by tlsdestinations, but the CA bundle %.200s cannot be loaded: %s",
			 tlscafile, strerror(ca_errno));
		failed(f, c, "4.7.5", buf);
		conn_close(c, 1);
		return TLS_FAIL;
	}
	cmd(c, "STARTTLS\r\n");
	if (cmd_flush(c) != 0 || !reply(c, &r, 0)) {
		failed(f, c, "4.4.1", "connection lost or timed out after STARTTLS");
		conn_close(c, 0);
		return TLS_FAIL;
	}
	if (r.code / 100 != 2) {
		log_tls(c, pol, "none", "refused", need ? "next-host" : 0);
		if (!need) return TLS_OK;
		snprintf(buf, sizeof buf, "TLS required by tlsdestinations, but STARTTLS was refused: %s", r.text);
		failed(f, c, "4.7.4", buf);
		conn_close(c, 1);
		return TLS_FAIL;
	}
	/* What came before the handshake cannot count after it (RFC 3207 5). */
	c->io.pos = c->io.len = 0;
	const char *name = host[0] == '[' ? 0 : host;	/* no SNI, no name check for a literal */
	if (tlsc_start(&tls, c->fd, name, pol, cap, (unsigned)timeoutremote) != 0) {
		const char *why = tlsc_error(&tls, e, sizeof e);
		log_tls(c, pol, "failed", why, need ? "next-host" : "plaintext-retry");
		conn_close(c, 0);
		if (!need) return TLS_PLAIN;
		snprintf(buf, sizeof buf, "TLS required by tlsdestinations: %s", why);
		failed(f, c, "4.7.5", buf);
		return TLS_FAIL;
	}
	c->tls = 1;
	c->io.in = c->io.out = eofpipe;
	memset(&c->ext, 0, sizeof c->ext);	/* the EHLO before TLS counts no more */
	if (ehlo(c, &r) != 0) {
		const char *why = r.code ? r.text : "connection lost or timed out in EHLO after STARTTLS";
		log_tls(c, pol, "failed", why, need ? "next-host" : "plaintext-retry");
		conn_close(c, r.code != 0);
		if (!need) return TLS_PLAIN;
		snprintf(buf, sizeof buf, "TLS required by tlsdestinations: %s", why);
		failed(f, c, "4.7.5", buf);
		return TLS_FAIL;
	}
	log_tls(c, pol, tlsc_version(&tls), 0, 0);
	return TLS_OK;
}

/* Whether an open connection serves a job under pol (a reused one was opened for another
 * domain's policy, perhaps). */
static int conn_satisfies(const struct conn *c, const struct tlsc_policy *pol)
{
	if (pol->level < TLSC_VERIFY) return 1;
	return c->tls && tlsc_satisfies(&tls, pol);
}

/* ---- the message ---- */

/* One pass over the message: its size in CRLF form and whether it has 8-bit bytes. */
static int scan(struct job *j)
{
	char b[65536];
	unsigned long long left = j->msglen, size = 0;
	off_t off = j->msgoff;
	for (;;) {
		size_t want = sizeof b;
		if (j->sized && left < want) want = (size_t)left;
		if (!want) break;
		ssize_t r = pread(j->msgfd, b, want, off);
		if (r < 0) { if (errno == EINTR) continue; return -1; }
		if (r == 0) { if (j->sized) { errno = EIO; return -1; } break; }
		for (ssize_t i = 0; i < r; i++) {
			if (b[i] == '\n') size++;
			if ((unsigned char)b[i] >= 0x80) j->eightbit = 1;
		}
		size += (unsigned long long)r;
		off += r;
		left -= (unsigned long long)r;
	}
	if (!j->sized) j->msglen = (unsigned long long)(off - j->msgoff);
	j->wiresize = size;
	return 0;
}

/* Sends the message: LF (and a bare CR) become CRLF, a leading '.' is doubled, then the
 * terminating ".".  Nothing but CRLF.CRLF can end the data at the peer. */
static int send_body(struct conn *c, struct job *j)
{
	static char in[65536], out[2 * 65536 + 16];
	unsigned long long left = j->msglen;
	off_t off = j->msgoff;
	int bol = 1, cr = 0;
	size_t k = 0;
	while (left) {
		size_t want = left < sizeof in ? (size_t)left : sizeof in;
		ssize_t r = pread(j->msgfd, in, want, off);
		if (r < 0 && errno == EINTR) continue;
		if (r <= 0) return -2;
		for (ssize_t i = 0; i < r; i++) {
			char ch = in[i];
			if (cr) {
				cr = 0;
				if (ch == '\n') continue;	/* CRLF already written */
			}
			if (bol && ch == '.') out[k++] = '.';
			if (ch == '\r' || ch == '\n') {
				out[k++] = '\r'; out[k++] = '\n';
				bol = 1;
				cr = ch == '\r';
				continue;
			}
			out[k++] = ch;
			bol = 0;
		}
		off += r;
		left -= (unsigned long long)r;
		/* The last part goes out with the final dot, in one write: a small segment on
		 * its own would wait for the peer's delayed ACK (Nagle). */
		if (left && k >= 65536) {
			if (conn_write(c, out, k) != 0) return -1;
			k = 0;
		}
	}
	if (!bol) { out[k++] = '\r'; out[k++] = '\n'; }
	memcpy(out + k, ".\r\n", 3);
	return conn_write(c, out, k + 3);
}

/* ---- addresses ---- */

static int atext(unsigned char c)
{
	if (c >= 0x80) return 1;
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return 1;
	return c && strchr("!#$%&'*+-/=?^_`{|}~", c) != 0;
}

/* "<addr>" with the local part quoted when it is not a dot-atom (the queue keeps
 * addresses unquoted). */
static void put_path(struct conn *c, const char *a)
{
	if (!*a || strcmp(a, "#@[]") == 0) { cmd(c, "<>"); return; }
	size_t len = strlen(a), at = addr_at(a, len);
	int dotatom = at > 0 && a[0] != '.' && a[at - 1] != '.';
	for (size_t i = 0; i < at && dotatom; i++)
		if (!atext((unsigned char)a[i]) && !(a[i] == '.' && a[i + 1] != '.')) dotatom = 0;
	char buf[2 * SMTP_PATHMAX + 8];
	size_t k = 0;
	buf[k++] = '<';
	if (!dotatom) buf[k++] = '"';
	for (size_t i = 0; i < at && k < sizeof buf - 8; i++) {
		if (!dotatom && (a[i] == '"' || a[i] == '\\')) buf[k++] = '\\';
		buf[k++] = a[i];
	}
	if (!dotatom) buf[k++] = '"';
	buf[k] = 0;
	cmd(c, buf);
	snprintf(buf, sizeof buf, "%s>", a + at);
	cmd(c, buf);
}

/* ---- one transaction ---- */

/* MAIL, RCPT..., DATA and the message on an open connection.  Returns 0 when every
 * recipient has its result, 1 when the connection failed before the peer took any
 * responsibility (the caller tries the next address). */
static int transact(struct conn *c, struct job *j, int rset)
{
	char buf[1200];
	struct smtpc_reply r;
	size_t accepted = 0;

	/* What the peer lacks that the message needs: permanent, at this host. */
	if (j->utf8 && !c->ext.smtputf8) {
		settle(j, 'h', "5.6.7", "the peer does not support SMTPUTF8, which the addresses need");
		return 0;
	}
	if (c->ext.size && j->wiresize > c->ext.size) {
		snprintf(buf, sizeof buf, "message size %llu exceeds the peer's limit of %llu", j->wiresize, c->ext.size);
		settle(j, 'h', "5.3.4", buf);
		return 0;
	}
	if (j->eightbit && !c->ext.eightbitmime) {
		settle(j, 'h', "5.6.3", "the message has 8-bit data and the peer does not support 8BITMIME");
		return 0;
	}
	/* A reused connection: RSET first, in the same batch as MAIL when pipelining. */
	if (rset) {
		cmd(c, "RSET\r\n");
		if (!c->ext.pipelining && (cmd_flush(c) != 0 || reply(c, &r, 0) / 100 != 2)) return 1;
	}
	cmd(c, "MAIL FROM:");
	put_path(c, j->sender);
	if (c->ext.size) { snprintf(buf, sizeof buf, " SIZE=%llu", j->wiresize); cmd(c, buf); }
	if (j->eightbit) cmd(c, " BODY=8BITMIME");
	if (j->utf8) cmd(c, " SMTPUTF8");
	if (c->ext.dsn && j->ret) { cmd(c, " RET="); cmd(c, j->ret); }
	if (c->ext.dsn && j->envid) { cmd(c, " ENVID="); cmd(c, j->envid); }
	cmd(c, "\r\n");
	int mailcode = 0;
	if (!c->ext.pipelining) {
		if (cmd_flush(c) != 0 || !reply(c, &r, 0)) return 1;
		mailcode = r.code;
		if (mailcode / 100 != 2) {
			settle(j, mailcode / 100 == 5 ? 'h' : 's', r.status, r.text);
			return 0;
		}
	}
	for (size_t i = 0; i < j->nrcpt; i++) {
		cmd(c, "RCPT TO:");
		put_path(c, j->rcpt[i]);
		if (c->ext.dsn && j->notify[i]) { cmd(c, " NOTIFY="); cmd(c, j->notify[i]); }
		if (c->ext.dsn && j->orcpt[i]) { cmd(c, " ORCPT="); cmd(c, j->orcpt[i]); }
		cmd(c, "\r\n");
		if (!c->ext.pipelining) {
			if (cmd_flush(c) != 0 || !reply(c, &r, 0)) goto lost;
			if (r.code / 100 == 2) accepted++;
			else set_result(&j->res[i], r.code / 100 == 5 ? 'h' : 's', r.status, r.text);
		}
	}
	if (!c->ext.pipelining && !accepted) {
		settle(j, 's', "4.0.0", "no recipient accepted");	/* every one has its result */
		return 0;
	}
	cmd(c, "DATA\r\n");
	if (cmd_flush(c) != 0) goto lost;
	if (c->ext.pipelining) {
		if (rset && reply(c, &r, 0) / 100 != 2) return 1;
		if (!reply(c, &r, 0)) return 1;
		mailcode = r.code;
		struct smtpc_reply mr = r;
		for (size_t i = 0; i < j->nrcpt; i++) {
			if (!reply(c, &r, 0)) goto lost;
			if (mailcode / 100 != 2) continue;
			if (r.code / 100 == 2) accepted++;
			else set_result(&j->res[i], r.code / 100 == 5 ? 'h' : 's', r.status, r.text);
		}
		if (mailcode / 100 != 2) {
			reply(c, &r, 0);	/* DATA, refused (or, wrongly, 354: then end it) */
			if (r.code == 354) { conn_write(c, ".\r\n", 3); reply(c, &r, 0); }
			settle(j, mailcode / 100 == 5 ? 'h' : 's', mr.status, mr.text);
			return 0;
		}
	}
	if (!reply(c, &r, 0)) goto lost;
	if (r.code != 354) {
		if (accepted) settle(j, r.code / 100 == 5 ? 'h' : 's', r.status, r.text);
		else settle(j, 's', "4.0.0", "no recipient accepted");
		return 0;
	}
	if (!accepted) {
		/* A peer that says 354 after refusing every RCPT: send nothing. */
		conn_write(c, ".\r\n", 3);
		reply(c, &r, 0);
		settle(j, 's', "4.0.0", "no recipient accepted");
		return 0;
	}
	int e = send_body(c, j);
	if (e == -2) {
		/* Our own read failed: the peer must not get a truncated message. */
		conn_close(c, 0);
		settle(j, 's', "4.3.0", "cannot read the message from the queue");
		return 0;
	}
	if (e != 0 || !reply(c, &r, 0)) {
		/* The peer may have the message: a retry may duplicate it, never lose it. */
		conn_close(c, 0);
		snprintf(buf, sizeof buf, "connection lost after the message was sent to %s", c->relay);
		settle(j, 's', "4.4.2", buf);
		return 0;
	}
	char kind = r.code / 100 == 2 ? 'r' : r.code / 100 == 5 ? 'h' : 's';
	settle(j, kind, r.status, r.text);
	j->mkind = (char)(kind - 'a' + 'A');
	return 0;
lost:
	/* Lost before DATA was answered: the peer took nothing; results so far stand for
	 * nobody, so every recipient goes to the next address. */
	for (size_t i = 0; i < j->nrcpt; i++) j->res[i].kind = 0;
	return 1;
}

/* ---- routing ---- */

struct target { char host[256]; unsigned pref; struct dnsmx_addr a; };

static int literal(const char *s, struct dnsmx_addr *a)
{
	char ip[64];
	size_t n = strlen(s);
	if (n < 3 || s[0] != '[' || s[n - 1] != ']' || n - 2 >= sizeof ip) return 0;
	memcpy(ip, s + 1, n - 2);
	ip[n - 2] = 0;
	memset(a, 0, sizeof *a);
	if (inet_pton(AF_INET, ip, a->ip) == 1) { a->v6 = 0; return 1; }
	if (strncasecmp(ip, "IPv6:", 5) == 0 && inet_pton(AF_INET6, ip + 5, a->ip) == 1) { a->v6 = 1; return 1; }
	return -1;
}

/* Adds host's addresses to t; 0 added some, else the DNSMX_ outcome. */
static int add_host(const char *host, struct target *t, size_t *nt, int loopcheck, int *loop)
{
	struct dnsmx_addr a[MAXADDR];
	size_t n = 0;
	int r = literal(host, &a[0]);
	if (r < 0) return DNSMX_BADNAME;
	if (r == 1) n = 1;
	else {
		r = dnsmx_addrs(host, 0, a, MAXADDR, &n);
		if (r != DNSMX_OK) return r;
	}
	for (size_t i = 0; i < n && *nt < MAXADDR; i++) {
		unsigned char ip16[16] = { [10] = 0xff, [11] = 0xff };
		if (a[i].v6) memcpy(ip16, a[i].ip, 16); else memcpy(ip16 + 12, a[i].ip, 4);
		if (loopcheck && is_localip(ip16)) { *loop = 1; return DNSMX_OK; }
		snprintf(t[*nt].host, sizeof t[*nt].host, "%s", host);
		t[*nt].a = a[i];
		(*nt)++;
	}
	return DNSMX_OK;
}

/* Where the job's domain goes: the addresses to try in order, or a final result. */
static int targets(struct job *j, const char *domain, const struct route *rt, struct target *t, size_t *nt)
{
	char why[TEXTMAX];
	int loop = 0;
	*nt = 0;
	if (rt->host[0]) {
		int r = add_host(rt->host, t, nt, 0, &loop);
		if (r == DNSMX_OK && *nt) return 0;
		snprintf(why, sizeof why, "cannot find the address of relay %s from control/smtproutes%s", rt->host,
			 r == DNSMX_TEMP ? " (DNS failure)" : "");
		/* A relay the admin named: a typo there must not bounce mail. */
		settle(j, 's', r == DNSMX_TEMP ? "4.4.3" : "4.4.4", why);
		return -1;
	}
	if (domain[0] == '[') {
		int r = add_host(domain, t, nt, 0, &loop);
		if (r == DNSMX_OK && *nt) return 0;
		settle(j, 'h', "5.1.2", "bad address literal");
		return -1;
	}
	struct dnsmx_mx mx[MAXMX];
	size_t nmx = 0;
	int r = dnsmx_mx(domain, mx, MAXMX, &nmx);
	switch (r) {
	case DNSMX_OK: break;
	case DNSMX_NODATA:	/* implicit MX (RFC 5321 5.1) */
		snprintf(mx[0].host, sizeof mx[0].host, "%s", domain);
		mx[0].pref = 0;
		nmx = 1;
		break;
	case DNSMX_NULLMX:
		snprintf(why, sizeof why, "domain %s accepts no mail (null MX)", domain);
		settle(j, 'h', "5.1.10", why);
		return -1;
	case DNSMX_NXDOMAIN:
		snprintf(why, sizeof why, "domain %s does not exist", domain);
		settle(j, 'h', "5.1.2", why);
		return -1;
	case DNSMX_BADNAME:
		snprintf(why, sizeof why, "bad domain name %s", domain);
		settle(j, 'h', "5.1.2", why);
		return -1;
	default:
		snprintf(why, sizeof why, "DNS lookup of the MX for %s failed temporarily", domain);
		settle(j, 's', "4.4.3", why);
		return -1;
	}
	int temp = 0;
	for (size_t i = 0; i < nmx && *nt < MAXADDR; i++) {
		size_t before = *nt;
		int e = add_host(mx[i].host, t, nt, 1, &loop);
		if (e == DNSMX_TEMP) temp = 1;
		for (size_t k = before; k < *nt; k++) t[k].pref = mx[i].pref;
		if (loop) {
			/* RFC 5321 5.1: only MXs more preferred than this host may be used. */
			while (*nt && t[*nt - 1].pref >= mx[i].pref) (*nt)--;
			break;
		}
	}
	if (loop && !*nt && temp) {
		/* A better MX could not be looked up: not a loop yet. */
		snprintf(why, sizeof why, "DNS lookup of a better MX than this host for %s failed temporarily", domain);
		settle(j, 's', "4.4.3", why);
		return -1;
	}
	if (loop && !*nt) {
		snprintf(why, sizeof why, "mail loop: the best MX for %s is this host", domain);
		settle(j, 'h', "5.4.6", why);
		return -1;
	}
	if (!*nt) {
		snprintf(why, sizeof why, "no address for any MX of %s%s", domain, temp ? " (DNS failure)" : "");
		settle(j, temp ? 's' : 'h', temp ? "4.4.3" : "5.4.4", why);
		return -1;
	}
	return 0;
}

/* ---- a job ---- */

/* One address: connect, greet, STARTTLS as pol says (never when plain), deliver.
 * TLS_OK the job has its results, TLS_PLAIN try this address again in cleartext, else
 * TLS_FAIL with f saying why this address failed. */
static int try_addr(struct job *j, const struct target *t, unsigned port, const char *dest,
		    const struct tlsc_policy *pol, int plain, struct fail *f)
{
	struct smtpc_reply r;
	char ip[INET6_ADDRSTRLEN], e[200];
	fmt_ip(ip, sizeof ip, &t->a);
	if (t->host[0] == '[') snprintf(conn.relay, sizeof conn.relay, "%s:%u", t->host, port);
	else snprintf(conn.relay, sizeof conn.relay, "%s[%s]:%u", t->host, ip, port);
	snprintf(j->relay, sizeof j->relay, "%s", conn.relay);
	int fd = dial(&t->a, port, e, sizeof e);
	if (fd < 0) {
		failed(f, &conn, "4.4.1", e);
		return TLS_FAIL;
	}
	conn.fd = fd;
	conn.tls = 0;
	smtp_init(&conn.io, fd, fd, (unsigned)timeoutremote);
	memset(&conn.ext, 0, sizeof conn.ext);
	conn.used = 1;
	if (hello(&conn, &r) != 0) {
		int perm = f->perm && r.code / 100 == 5;
		if (r.code) snprintf(f->why, sizeof f->why, "%s said: %s", conn.relay, r.text);
		else snprintf(f->why, sizeof f->why, "%s: connection lost or timed out in the greeting", conn.relay);
		snprintf(f->status, sizeof f->status, "4.4.1");
		f->perm = perm;
		conn_close(&conn, r.code != 0);
		return TLS_FAIL;
	}
	int s = starttls(&conn, t->host, pol, plain, f);
	if (s != TLS_OK) return s;
	snprintf(conn.dest, sizeof conn.dest, "%s", dest);
	if (transact(&conn, j, 0) == 0) return TLS_OK;
	failed(f, &conn, "4.4.1", "connection lost or timed out");
	conn_close(&conn, 0);
	return TLS_FAIL;
}

static void deliver(struct job *j)
{
	const char *first = j->rcpt[0];
	size_t len = strlen(first), at = addr_at(first, len);
	char domain[300];
	if (at == len || len - at - 1 >= sizeof domain || len - at - 1 == 0) {
		settle(j, 'h', "5.1.3", "recipient without a domain");
		return;
	}
	memcpy(domain, first + at + 1, len - at - 1);
	domain[len - at - 1] = 0;
	addr_lower(domain, strlen(domain));
	for (size_t i = 1; i < j->nrcpt; i++) {
		size_t l = strlen(j->rcpt[i]), a = addr_at(j->rcpt[i], l);
		if (a == l || strcasecmp(j->rcpt[i] + a + 1, domain) != 0) {
			settle(j, 's', "4.3.5", "internal error: recipients of different domains in one job");
			return;
		}
	}
	for (const char *p = j->sender; *p; p++) if ((unsigned char)*p >= 0x80) j->utf8 = 1;
	for (size_t i = 0; i < j->nrcpt; i++)
		for (const char *p = j->rcpt[i]; *p; p++) if ((unsigned char)*p >= 0x80) j->utf8 = 1;
	if (scan(j) != 0) { settle(j, 's', "4.3.0", "cannot read the message"); return; }

	struct route rt;
	char dest[320];
	route_lookup(&routes, domain, strlen(domain), &rt);
	if (route_dest(dest, sizeof dest, &rt, domain, strlen(domain)) != 0) {
		settle(j, 'h', "5.1.2", "domain name too long");
		return;
	}
	struct tlsc_policy pol;
	const char *bad;
	if (tlsc_policy_lookup(&tlsdests, domain, strlen(domain), &pol, &bad) < 0) {
		char why[TEXTMAX];
		snprintf(why, sizeof why, "control/tlsdestinations: malformed policy: %s", bad);
		settle(j, 's', "4.3.5", why);
		return;
	}
	/* An open connection to the same destination, good enough for the policy: RSET and
	 * go on. */
	if (conn.fd >= 0 && strcmp(conn.dest, dest) == 0 && conn.used < REUSEMAX && conn_satisfies(&conn, &pol)) {
		conn.used++;
		snprintf(j->relay, sizeof j->relay, "%s", conn.relay);
		if (transact(&conn, j, 1) == 0) return;
		conn_close(&conn, 0);
	} else conn_close(&conn, 1);

	struct target t[MAXADDR];
	size_t nt;
	if (targets(j, domain, &rt, t, &nt) != 0) return;
	struct fail f = { "", "4.4.1", 1 };
	for (size_t i = 0; i < nt; i++) {
		int e = try_addr(j, &t[i], rt.port, dest, &pol, 0, &f);
		if (e == TLS_PLAIN) e = try_addr(j, &t[i], rt.port, dest, &pol, 1, &f);
		if (e == TLS_OK) return;
	}
	j->relay[0] = 0;
	settle(j, f.perm ? 'h' : 's', f.perm ? "5.4.0" : f.status, f.why);
}

/* ---- output ---- */

static void results(struct job *j, stralloc *out)
{
	char line[TEXTMAX + 400];
	for (size_t i = 0; i < j->nrcpt; i++) {
		const struct result *r = &j->res[i];
		int n = snprintf(line, sizeof line, "%c %s %s\n", r->kind, r->status, r->text);
		stralloc_catb(out, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
	}
	/* The message as a whole: accepted for anyone, else retried for anyone, else refused. */
	char mk = 'H';
	for (size_t i = 0; i < j->nrcpt; i++) {
		if (j->res[i].kind == 'r') mk = 'R';
		else if (j->res[i].kind == 's' && mk == 'H') mk = 'S';
	}
	if (!j->nrcpt) mk = j->mkind ? j->mkind : 'S';
	char cls = mk == 'R' ? '2' : mk == 'H' ? '5' : '4';
	if (j->mstatus[0] != cls) snprintf(j->mstatus, sizeof j->mstatus, "%c.0.0", cls);
	int n = snprintf(line, sizeof line, "%c %s %s %s\n", mk, j->mstatus, j->relay[0] ? j->relay : "-", j->mtext);
	stralloc_catb(out, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

static void log_job(const struct job *j)
{
	for (size_t i = 0; i < j->nrcpt; i++) {
		struct qlog l;
		qlog_start(&l);
		if (qid[0]) qlog_kv(&l, "qid", qid);
		qlog_kv(&l, "event", j->res[i].kind == 'r' ? "accepted" : j->res[i].kind == 'h' ? "refused" : "deferred");
		qlog_kv(&l, "rcpt", j->rcpt[i]);
		qlog_kv(&l, "relay", j->relay[0] ? j->relay : "-");
		qlog_kv(&l, "status", j->res[i].status);
		qlog_kv(&l, "text", j->res[i].text);
		qlog_emit(&l);
	}
}

static void job_reset(struct job *j)
{
	j->nrcpt = 0;
	j->eightbit = j->utf8 = 0;
	j->mkind = 0;
	j->relay[0] = 0;
	for (size_t i = 0; i < MAXRCPT; i++) j->res[i].kind = 0;
}

/* Fills j from a checked envelope. */
static int job_env(struct job *j, const char *s, size_t len)
{
	struct env_dsn d;
	env_dsn(s, len, &d);
	j->sender = env_sender(s);
	j->envid = d.envid;
	j->ret = d.ret;
	size_t pos = 0;
	const char *a;
	while ((a = env_next_rcpt_dsn(s, len, &pos, &j->notify[j->nrcpt], &j->orcpt[j->nrcpt]))) {
		if (j->nrcpt == MAXRCPT) return -1;
		j->rcpt[j->nrcpt++] = a;
	}
	return j->nrcpt ? 0 : -1;
}

/* ---- session mode ---- */

static struct job job;

static void session(void)
{
	static char buf[JOBMAX];
	for (;;) {
		struct iovec iov = { buf, sizeof buf };
		union { struct cmsghdr h; char b[CMSG_SPACE(sizeof(int))]; } cm;
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.b, .msg_controllen = sizeof cm.b };
		ssize_t n = recvmsg(0, &mh, MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR) continue;
		if (n < 0) tern_die_sys(EX_TEMP, "reading a job");
		if (n == 0) break;
		int fd = -1;
		struct cmsghdr *ch = CMSG_FIRSTHDR(&mh);
		if (ch && ch->cmsg_level == SOL_SOCKET && ch->cmsg_type == SCM_RIGHTS)
			memcpy(&fd, CMSG_DATA(ch), sizeof fd);
		job_reset(&job);
		stralloc out = {0};
		char *nl = memchr(buf, '\n', (size_t)n);
		unsigned long long len = 0;
		int bad = fd < 0 || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || buf[0] != 'J' || !nl;
		if (!bad) {
			char *p = buf + 1;
			for (; p < nl && *p != ' '; p++) {
				if (*p < '0' || *p > '9' || len > 1ULL << 50) { bad = 1; break; }
				len = len * 10 + (unsigned)(*p - '0');
			}
			/* The queue id, for the log only. */
			size_t ql = p < nl ? (size_t)(nl - p - 1) : 0;
			if (ql >= sizeof qid) ql = sizeof qid - 1;
			if (ql) memcpy(qid, p + 1, ql);
			qid[ql] = 0;
			for (size_t k = 0; k < ql; k++)
				if (!((qid[k] >= '0' && qid[k] <= '9') || (qid[k] >= 'a' && qid[k] <= 'f'))) qid[k] = '?';
		}
		size_t nr;
		struct env_limits lim = { SMTP_PATHMAX * 4, MAXRCPT };
		if (!bad) {
			size_t el = (size_t)n - (size_t)(nl + 1 - buf);
			if (env_parse(nl + 1, el, &lim, &nr) != ENV_OK || job_env(&job, nl + 1, el) != 0) bad = 1;
		}
		if (bad) {
			/* tern-send's bug, not the message's: nothing to say per recipient. */
			if (fd >= 0) close(fd);
			stralloc_cats(&out, "S 4.3.5 - malformed job\n");
		} else {
			job.msgfd = fd;
			job.msgoff = lseek(fd, 0, SEEK_CUR);
			if (job.msgoff < 0) job.msgoff = 0;
			job.msglen = len;
			job.sized = 1;
			deliver(&job);
			close(fd);
			log_job(&job);
			results(&job, &out);
		}
		if (!out.s || send(0, out.s, out.len, MSG_NOSIGNAL) < 0) tern_die_sys(EX_TEMP, "writing results");
		stralloc_free(&out);
	}
	conn_close(&conn, 1);
}

/* -u UID:GID: the account tern-send chose (control/remoteuser); from here on nothing of
 * root's is needed: the message comes as an fd, the rest is the network. */
static void drop(const char *ids)
{
	unsigned long uid = 0, gid = 0;
	const char *c = strchr(ids, ':');
	char u[32];
	if (!c || (size_t)(c - ids) >= sizeof u) tern_die(EX_TEMP, "-u wants UID:GID");
	memcpy(u, ids, (size_t)(c - ids));
	u[c - ids] = 0;
	if (tern_scan_ulong(u, &uid) < 0 || tern_scan_ulong(c + 1, &gid) < 0 || !uid)
		tern_die(EX_TEMP, "-u wants UID:GID, not root");
	gid_t g = (gid_t)gid;
	if (setgroups(1, &g) != 0 || setgid(g) != 0 || setuid((uid_t)uid) != 0)
		tern_die_sys(EX_TEMP, "dropping privileges to ", ids);
	if (setuid(0) == 0) tern_die(EX_TEMP, "could regain root after dropping privileges");
}

int main(int argc, char **argv)
{
	tern_prog = "tern-remote";
	signal(SIGPIPE, SIG_IGN);
	int opt, sess = 0;
	const char *sender = "";
	const char *ids = 0;
	while ((opt = getopt(argc, argv, "sf:u:")) != -1) {
		if (opt == 's') sess = 1;
		else if (opt == 'f') sender = optarg;
		else if (opt == 'u') ids = optarg;
		else tern_die(100, "usage: tern-remote [-u uid:gid] [-f sender] recipient... < message | tern-remote [-u uid:gid] -s");
	}
	read_control();
	read_localips();
	int p[2];
	if (pipe2(p, O_CLOEXEC) != 0 || close(p[1]) != 0) tern_die_sys(EX_TEMP, "creating a pipe");
	eofpipe = p[0];
	if (ids) drop(ids);
	dnsmx_timeout(60);
	if (sess) {
		if (optind != argc) tern_die(100, "usage: tern-remote -s (jobs on fd 0)");
		session();
		return 0;
	}
	if (optind >= argc) tern_die(100, "usage: tern-remote [-f sender] recipient... < message");
	stralloc env = {0};
	if (!env_start(&env, sender)) tern_die(EX_TEMP, "out of memory");
	for (int i = optind; i < argc; i++) if (!env_add_rcpt(&env, argv[i])) tern_die(EX_TEMP, "out of memory");
	if (!env_finish(&env)) tern_die(EX_TEMP, "out of memory");
	struct env_limits lim = { SMTP_PATHMAX * 4, MAXRCPT };
	size_t nr;
	if (env_parse(env.s, env.len, &lim, &nr) != ENV_OK || job_env(&job, env.s, env.len) != 0)
		tern_die(100, "bad sender or recipients (at most ", "1000", " recipients)");
	struct stat st;
	if (fstat(0, &st) != 0 || !S_ISREG(st.st_mode)) tern_die(100, "fd 0 must be a regular file (the message)");
	job.msgfd = 0;
	job.msgoff = lseek(0, 0, SEEK_CUR);
	if (job.msgoff < 0) job.msgoff = 0;
	deliver(&job);
	conn_close(&conn, 1);
	log_job(&job);
	stralloc out = {0};
	results(&job, &out);
	if (!out.s || fd_write_all(1, out.s, out.len) != 0) tern_die_sys(EX_TEMP, "writing results");
	stralloc_free(&out);
	stralloc_free(&env);
	return 0;
}
