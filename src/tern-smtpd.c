/* tern-smtpd: an ESMTP receiver (RFC 5321) on fd 0/1 under tcpserver, inetd or systemd,
 * or a local session on a pipe.  Each accepted message is streamed to tern-queue (or the
 * program in $TERN_QUEUE).  The contract is doc/tern-smtpd.8. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <stralloc.h>
#include "addr.h"
#include "control.h"
#include "date822.h"
#include "die.h"
#include "env.h"
#include "fdio.h"
#include "home.h"
#include "qlog.h"
#include "qprog.h"
#include "zfork.h"
#include "resolve.h"
#include "sasl.h"
#include "smtp.h"
#include "spawn.h"
#include "tlsserv.h"
#include "users.h"

#define MAXBAD 10		/* bad commands before 421 */
#define MAXAUTHFAIL 3		/* failed AUTH before 421 */

extern char **environ;

static struct smtp_io io;

/* ---- configuration and the client ---- */

static char me[256], greeting[512], delim[16];
static unsigned long databytes, maxrcpt, timeout, greetdelay, barelf_ok;
static stralloc rcpthosts;
static char remoteip[64] = "unknown", remotehost[256] = "unknown", sid[40];
static int relayclient, localsession;

/* ---- TLS and AUTH ---- */

static int submission;		/* -s: AUTH before MAIL (and TLS before AUTH) */
static int tlsctl = -1;		/* tern-tlsd's control socket, while STARTTLS is possible */
static int tls;			/* the session is encrypted */
static struct tls_info tlsinfo;
static char authuser[SASL_FIELDMAX + 1];	/* the login, lowercase, once authenticated */
static int authfails;
static char authsender[8];	/* control/smtpauthsender: own or any */

/* ---- the session ---- */

static char helo[256];
static int esmtp, badcmds;
static struct {
	int active;		/* MAIL given */
	int utf8;		/* SMTPUTF8 */
	int bdat;		/* BDAT used: DATA is out of sequence */
	int bdatfail;		/* a chunk failed: the rest are read and refused */
	size_t nrcpt;
	stralloc env;		/* envelope being built */
	char from[SMTP_PATHMAX + 1];
	char firstrcpt[SMTP_PATHMAX + 1];
	unsigned long msgs;	/* messages in this session (for the id) */
} tx;

static void out(const char *s) { smtp_puts(&io, s); smtp_puts(&io, "\r\n"); }

static void logev(const char *event, const char *k1, const char *v1, const char *k2, const char *v2)
{
	qlog_event(sid, event, k1, v1, k2, v2);
}

static void __attribute__((noreturn)) quit(const char *reply, const char *why)
{
	if (reply) out(reply);
	smtp_flush(&io);
	logev("end", "why", why, 0, 0);
	_exit(0);
}

/* A reply to a bad command; the tenth closes the session. */
static void bad(const char *reply)
{
	out(reply);
	if (++badcmds >= MAXBAD) quit("421 4.7.0 too many bad commands, closing", "too many bad commands");
}

static void readconf(void)
{
	if (control_readline(me, sizeof me, "me", 0) < 0 || control_readline(delim, sizeof delim, "delimiter", "+") < 0)
		tern_die_sys(111, "reading control/me");
	if (!*me) snprintf(me, sizeof me, "%s", tern_me());
	char g[256];
	if (control_readline(g, sizeof g, "smtpgreeting", me) < 0) tern_die_sys(111, "reading control/smtpgreeting");
	snprintf(greeting, sizeof greeting, "220 %s ESMTP tern", g);
	if (control_readulong(&databytes, "databytes", 52428800) < 0 ||
	    control_readulong(&maxrcpt, "smtpmaxrcpt", 100) < 0 ||
	    control_readulong(&timeout, "timeoutsmtpd", 300) < 0 ||
	    control_readulong(&greetdelay, "smtpgreetdelay", 0) < 0 ||
	    control_readulong(&barelf_ok, "smtpbarelf", 0) < 0 ||
	    control_readlines(&rcpthosts, "rcpthosts") < 0 ||
	    control_readline(authsender, sizeof authsender, "smtpauthsender", "own") < 0)
		tern_die_sys(111, "reading control files");
	if (strcmp(authsender, "own") != 0 && strcmp(authsender, "any") != 0)
		tern_die(111, "control/smtpauthsender must be own or any");
	if (timeout == 0) timeout = 1;
	if (maxrcpt == 0) maxrcpt = 1;
}

/* Printable ASCII only: what a client says goes into a header and the log. */
static void clean(char *dst, size_t n, const char *s)
{
	size_t k = 0;
	for (; *s && k + 1 < n; s++) {
		unsigned char c = (unsigned char)*s;
		dst[k++] = c > 32 && c < 127 && c != '(' && c != ')' && c != '\\' ? (char)c : '?';
	}
	dst[k] = 0;
}

static void peer(void)
{
	const char *ip = getenv("TCPREMOTEIP"), *host = getenv("TCPREMOTEHOST");
	if (ip && *ip) {
		clean(remoteip, sizeof remoteip, ip);
		if (host && *host) clean(remotehost, sizeof remotehost, host);
	} else {
		/* inetd or systemd Accept=yes: ask the socket.  Not a network socket (a pipe, a
		 * socketpair): a local session.  A network socket whose peer cannot be told (it
		 * is already gone) stays a remote one. */
		struct sockaddr_storage ss;
		socklen_t len = sizeof ss;
		int inet = getsockname(0, (struct sockaddr *)&ss, &len) == 0 &&
			   (ss.ss_family == AF_INET || ss.ss_family == AF_INET6);
		len = sizeof ss;
		if (inet && getpeername(0, (struct sockaddr *)&ss, &len) != 0) ss.ss_family = AF_UNSPEC;
		if (inet && ss.ss_family == AF_INET)
			inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, remoteip, sizeof remoteip);
		else if (inet && ss.ss_family == AF_INET6)
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, remoteip, sizeof remoteip);
		else if (!inet && !getenv("TERN_TLS") && !getenv("TERN_TLSCTL")) {
			localsession = 1;
			snprintf(remoteip, sizeof remoteip, "local");
			snprintf(remotehost, sizeof remotehost, "localhost");
		}
	}
	relayclient = localsession || getenv("RELAYCLIENT") != 0;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(sid, sizeof sid, "%llx.%lx.%lx", (unsigned long long)ts.tv_sec,
		 (unsigned long)(ts.tv_nsec / 1000), (unsigned long)getpid());
}

/* ---- recipients ---- */

/* 1 if tern-local would accept a (lowercased, local domain), 0 if not, -1 on error:
 * the same resolver (src/lib/resolve.c) decides for both. */
static int local_exists(const char *a, size_t n)
{
	static struct res_rcpt r;
	static stralloc targets;
	static struct user_rec u;
	static struct sysacct acct;
	static char key[RES_ADDRMAX + 258];
	size_t at = addr_at(a, n);
	if (res_parse(&r, a, at, a + at + 1, n - at - 1, delim) != 0) return 0;
	int k = res_local(&r, &targets, &u, &acct, key);
	return k < 0 ? -1 : k != RES_NONE;
}

/* The reply for RCPT TO:<a>, or 0 to accept. */
static const char *rcpt_policy(struct smtp_path *p)
{
	char a[SMTP_PATHMAX + 1];
	memcpy(a, p->addr, p->len + 1);
	addr_lower(a, p->len);
	const char *domain = a + p->at + 1;
	size_t dlen = p->len - p->at - 1;
	int r = users_islocal(domain, dlen);
	if (r < 0) return "451 4.3.0 users database unreadable, try again later";
	if (r == 1) {
		r = local_exists(a, p->len);
		if (r < 0) return "451 4.3.0 users database unreadable, try again later";
		return r ? 0 : "550 5.1.1 no such user here";
	}
	if (relayclient || control_inlist(&rcpthosts, domain, dlen)) return 0;
	return "554 5.7.1 relaying denied";
}

/* ---- commands ---- */

static void q_abort(void);

static void tx_reset(void)
{
	q_abort();	/* a BDAT transaction cut short: its queue program stores nothing */
	tx.active = tx.utf8 = tx.bdat = tx.bdatfail = 0;
	tx.nrcpt = 0;
	tx.env.len = 0;
	tx.from[0] = tx.firstrcpt[0] = 0;
}

static void ehlo_reply(void)
{
	char line[600];
	snprintf(line, sizeof line, "250-%s hello %s [%s]", me, helo, remoteip);
	out(line);
	snprintf(line, sizeof line, "250-SIZE %lu", databytes);
	out(line);
	out("250-PIPELINING");
	out("250-8BITMIME");
	out("250-ENHANCEDSTATUSCODES");
	out("250-SMTPUTF8");
	out("250-CHUNKING");
	if (tlsctl >= 0 && !tls) out("250-STARTTLS");
	if (tls && submission && !*authuser) out("250-AUTH PLAIN LOGIN");
	out("250 DSN");
}

static void cmd_helo(char *arg, int extended)
{
	while (*arg == ' ') arg++;
	if (!*arg) { bad("501 5.5.4 syntax: HELO/EHLO needs a domain or address literal"); return; }
	char *sp = strchr(arg, ' ');
	if (sp) *sp = 0;
	clean(helo, sizeof helo, arg);
	esmtp = extended;
	tx_reset();
	if (extended) ehlo_reply();
	else { char l[300]; snprintf(l, sizeof l, "250 %s", me); out(l); }
}

/* Skips "FROM:" / "TO:" and spaces; 0 if the keyword is missing. */
static char *after(char *arg, const char *kw)
{
	size_t k = strlen(kw);
	if (strncasecmp(arg, kw, k) != 0) return 0;
	arg += k;
	while (*arg == ' ') arg++;
	return arg;
}

static int eightbit(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) if ((unsigned char)s[i] >= 0x80) return 1;
	return 0;
}

static void cmd_mail(char *arg, size_t len)
{
	if (!*helo) { bad("503 5.5.1 say EHLO or HELO first"); return; }
	if (tx.active) { bad("503 5.5.1 nested MAIL command"); return; }
	const char *gate = submission && !tls ? "530 5.7.0 must issue a STARTTLS command first" :
			   submission && !*authuser ? "530 5.7.0 authentication required" : 0;
	if (gate) { logev("refused", "reply", gate, 0, 0); bad(gate); return; }
	char *a = after(arg, "FROM:"), *end = arg + len, *rest;
	struct smtp_path p;
	const char *why, *cr;
	if (!a) { bad("501 5.5.4 syntax: MAIL FROM:<address>"); return; }
	if (smtp_parse_path(a, (size_t)(end - a), 0, &p, &cr, &why) != 0) {
		char r[200]; snprintf(r, sizeof r, "501 %s", why); bad(r); return;
	}
	rest = a + (cr - a);
	int utf8 = 0;
	char *name, *val, *envid = 0, ret[5] = "";
	size_t nl, vl, envidlen = 0;
	int k;
	if (rest < end && *rest != ' ') { bad("501 5.5.4 syntax: junk after the address"); return; }
	while ((k = smtp_next_param(&rest, end, &name, &nl, &val, &vl)) == 1) {
		if (!esmtp) { bad("555 5.5.4 parameters need EHLO"); return; }
		if (nl == 4 && !memcmp(name, "SIZE", 4)) {
			unsigned long sz;
			char num[24];
			if (vl == 0 || vl >= sizeof num) { bad("501 5.5.4 syntax: SIZE=number"); return; }
			memcpy(num, val, vl); num[vl] = 0;
			if (tern_scan_ulong(num, &sz) != 0) { bad("501 5.5.4 syntax: SIZE=number"); return; }
			if (databytes && sz > databytes) { out("552 5.3.4 message size exceeds the fixed limit"); return; }
		} else if (nl == 4 && !memcmp(name, "BODY", 4)) {
			if (!((vl == 4 && !strncasecmp(val, "7BIT", 4)) || (vl == 8 && !strncasecmp(val, "8BITMIME", 8)))) {
				bad("555 5.5.4 BODY must be 7BIT or 8BITMIME"); return;
			}
		} else if (nl == 8 && !memcmp(name, "SMTPUTF8", 8)) {
			if (vl) { bad("555 5.5.4 SMTPUTF8 takes no value"); return; }
			utf8 = 1;
		} else if (nl == 3 && !memcmp(name, "RET", 3)) {
			if (*ret) { bad("501 5.5.4 RET given twice"); return; }
			if (!((vl == 4 && !strncasecmp(val, "FULL", 4)) || (vl == 4 && !strncasecmp(val, "HDRS", 4)))) {
				bad("501 5.5.4 RET must be FULL or HDRS"); return;
			}
			for (int i = 0; i < 4; i++) ret[i] = (char)(val[i] & ~0x20);
			ret[4] = 0;
		} else if (nl == 5 && !memcmp(name, "ENVID", 5)) {
			if (envid) { bad("501 5.5.4 ENVID given twice"); return; }
			if (!env_envid_ok(val, vl)) { bad("501 5.5.4 ENVID must be xtext of at most 100 bytes"); return; }
			envid = val;
			envidlen = vl;
		} else { bad("555 5.5.4 unsupported MAIL parameter"); return; }
	}
	if (k < 0) { bad("501 5.5.4 syntax: bad parameter"); return; }
	if (p.eightbit && !utf8) { bad("553 5.6.7 non-ASCII address needs SMTPUTF8"); return; }
	if (eightbit(arg, len) && !utf8) { bad("501 5.5.4 8-bit bytes in a command need SMTPUTF8"); return; }
	if (*authuser && !strcmp(authsender, "own")) {
		char f[SMTP_PATHMAX + 1];
		memcpy(f, p.addr, p.len + 1);
		addr_lower(f, p.len);
		int r = p.len ? users_mayuse(authuser, strlen(authuser), f, p.len) : 0;
		if (r < 0) { out("451 4.3.0 users database unreadable, try again later"); return; }
		if (!r) {
			logev("mail", "from", p.addr, "refused", "not the user's address");
			bad("553 5.7.1 sender address not owned by the authenticated user");
			return;
		}
	}
	tx_reset();
	tx.active = 1;
	tx.utf8 = utf8;
	memcpy(tx.from, p.addr, p.len + 1);
	if (!env_start(&tx.env, p.addr)) quit("421 4.3.0 out of memory", "out of memory");
	if (envid) {
		envid[envidlen] = 0;	/* the parameter list is not read again */
		if (!env_add_envid(&tx.env, envid)) quit("421 4.3.0 out of memory", "out of memory");
	}
	if (*ret && !env_add_ret(&tx.env, ret)) quit("421 4.3.0 out of memory", "out of memory");
	logev("mail", "from", p.addr, 0, 0);
	out("250 2.1.0 sender ok");
}

static void cmd_rcpt(char *arg, size_t len)
{
	if (!tx.active) { bad("503 5.5.1 MAIL first"); return; }
	char *a = after(arg, "TO:"), *end = arg + len, *rest;
	struct smtp_path p;
	const char *why, *cr;
	if (!a) { bad("501 5.5.4 syntax: RCPT TO:<address>"); return; }
	if (smtp_parse_path(a, (size_t)(end - a), 1, &p, &cr, &why) != 0) {
		char r[200]; snprintf(r, sizeof r, "501 %s", why); bad(r); return;
	}
	if (p.len == 0) { bad("501 5.1.3 syntax: empty recipient"); return; }
	rest = a + (cr - a);
	if (rest < end && *rest != ' ') { bad("501 5.5.4 syntax: junk after the address"); return; }
	char *name, *val, *orcpt = 0;
	size_t nl, vl, orcptlen = 0;
	unsigned notify = 0;
	int k;
	while ((k = smtp_next_param(&rest, end, &name, &nl, &val, &vl)) == 1) {
		if (!esmtp) { bad("555 5.5.4 parameters need EHLO"); return; }
		if (nl == 6 && !memcmp(name, "NOTIFY", 6)) {
			if (notify) { bad("501 5.5.4 NOTIFY given twice"); return; }
			if (!env_notify_parse(val, vl, 0, &notify) || !notify) { bad("501 5.5.4 syntax: NOTIFY"); return; }
		} else if (nl == 5 && !memcmp(name, "ORCPT", 5)) {
			if (orcpt) { bad("501 5.5.4 ORCPT given twice"); return; }
			if (!env_orcpt_ok(val, vl)) { bad("501 5.5.4 syntax: ORCPT=addr-type;xtext"); return; }
			orcpt = val;
			orcptlen = vl;
		} else { bad("555 5.5.4 unsupported RCPT parameter"); return; }
	}
	if (k < 0) { bad("501 5.5.4 syntax: bad parameter"); return; }
	if (p.eightbit && !tx.utf8) { bad("553 5.6.7 non-ASCII address needs SMTPUTF8"); return; }
	if (eightbit(arg, len) && !tx.utf8) { bad("501 5.5.4 8-bit bytes in a command need SMTPUTF8"); return; }
	if (p.at == p.len) {
		/* <postmaster> without a domain (RFC 5321 4.5.1): ours. */
		if (strcasecmp(p.addr, "postmaster") != 0) {
			bad("501 5.1.3 syntax: the address needs a domain"); return;
		}
		int n = snprintf(p.addr, sizeof p.addr, "postmaster@%s", me);
		if (n < 0 || (size_t)n >= sizeof p.addr) { out("451 4.3.5 control/me too long"); return; }
		p.len = (size_t)n;
		p.at = 10;
		addr_lower(p.addr + 11, p.len - 11);
	}
	if (tx.nrcpt >= maxrcpt) { out("452 4.5.3 too many recipients"); return; }
	const char *refuse = rcpt_policy(&p);
	if (refuse) {
		logev("rcpt", "to", p.addr, "refused", refuse);
		if (*refuse == '5') bad(refuse); else out(refuse);
		return;
	}
	if (orcpt) orcpt[orcptlen] = 0;	/* the parameter list is not read again */
	if (!env_add_rcpt(&tx.env, p.addr) || (notify && !env_add_notify(&tx.env, notify)) ||
	    (orcpt && !env_add_orcpt(&tx.env, orcpt)))
		quit("421 4.3.0 out of memory", "out of memory");
	if (tx.nrcpt++ == 0) memcpy(tx.firstrcpt, p.addr, p.len + 1);
	logev("rcpt", "to", p.addr, 0, 0);
	out("250 2.1.5 recipient ok");
}

/* ---- the message: to the queue program ---- */

static struct {
	pid_t pid;		/* the queue program; 0 when the session server has the message */
	unsigned long zid;	/* then the message's request id; 0 when none */
	int m, e;		/* message and envelope pipes' write ends, -1 when closed */
	int werr;		/* a write failed: the queue program went away */
	unsigned long long size;
	int over;		/* over databytes: the rest is read and dropped */
	size_t olen;
	char obuf[65536];
} q;

static void q_flushbuf(void)
{
	if (q.olen && !q.werr && q.m >= 0 && fd_write_all(q.m, q.obuf, q.olen) != 0) q.werr = 1;
	q.olen = 0;
}

static void q_put(const char *s, size_t n)
{
	q.size += n;
	if (databytes && q.size > databytes) { q.over = 1; return; }
	while (n) {
		if (q.olen == sizeof q.obuf) q_flushbuf();
		size_t k = sizeof q.obuf - q.olen;
		if (k > n) k = n;
		memcpy(q.obuf + q.olen, s, k);
		q.olen += k;
		s += k;
		n -= k;
	}
}

/* RFC 3848 and 6531: ESMTP, ESMTPS, ESMTPA, ESMTPSA, UTF8SMTP... */
static const char *proto(void)
{
	static char p[16];
	if (!esmtp) return "SMTP";
	snprintf(p, sizeof p, "%s%s%s", tx.utf8 ? "UTF8SMTP" : "ESMTP", tls ? "S" : "", *authuser ? "A" : "");
	return p;
}

/* From a session's second message on, tern-queue is its session server (tern-queue -z,
 * zfork.h), which queues one message after another in its own process: one exec for the
 * session instead of one per message.  A $TERN_QUEUE filter is exec'd per message, as
 * its protocol says. */
static struct zfork zq = { -1, 0 };
static int zq_off;		/* the fork server failed: exec from now on */

static int q_start_forked(const char *path, const char *tsid)
{
	if (zq_off) return -1;
	if (zq.fd < 0 && zfork_start(&zq, path, "tern-queue", 0) != 0) { zq_off = 1; return -1; }
	int mp[2], ep[2];
	if (qprog_pipes(mp, ep) != 0) return -1;
	const char *f[1] = { tsid };
	if (zfork_send(&zq, tx.msgs + 1, f, 1, mp[0], ep[0]) != 0) {
		close(mp[0]); close(mp[1]); close(ep[0]); close(ep[1]);
		zfork_stop(&zq);
		zq_off = 1;
		return -1;
	}
	close(mp[0]);
	close(ep[0]);
	q.pid = 0;
	q.zid = tx.msgs + 1;
	q.m = mp[1];
	q.e = ep[1];
	return 0;
}

/* The session server's answer for request id: the queue program's exit code for that
 * message, or -1 (the server is gone: then exec from now on). */
static int q_wait_forked(unsigned long id)
{
	for (;;) {
		unsigned long got;
		int code;
		int r = zfork_answer(&zq, &got, &code);
		if (r == 1 && got == id) return code;
		if (r == 1 || (r < 0 && errno == EPROTO)) continue;	/* not ours: an old request's */
		zfork_stop(&zq);
		zq_off = 1;
		return -1;
	}
}

static int q_start(void)
{
	char path[4096];
	struct qprog p;
	/* tern-queue logs this id with its queue id: the two logs join on it. */
	char tsid[64];
	snprintf(tsid, sizeof tsid, "%s.%lu", sid, tx.msgs + 1);
	if (setenv("TERN_SID", tsid, 1) != 0) return -1;
	if (qprog_path(path, sizeof path, 1) < 0) return -1;
	q.zid = 0;
	char plain[4096];
	int queue = tern_binpath(plain, sizeof plain, "tern-queue") == 0 && strcmp(path, plain) == 0;
	if (!(queue && tx.msgs >= 1 && q_start_forked(path, tsid) == 0)) {
		if (qprog_start(&p, path) < 0) return -1;
		q.pid = p.pid;
		q.m = p.m;
		q.e = p.e;
	}
	q.werr = q.over = 0;
	q.size = 0;
	q.olen = 0;
	tx.msgs++;
	char date[DATE822_LEN], rdns[sizeof remotehost + sizeof remoteip + 4];
	date822_fmt(date, time(0));
	if (strcmp(remotehost, "unknown") == 0) snprintf(rdns, sizeof rdns, "[%s]", remoteip);
	else snprintf(rdns, sizeof rdns, "%s [%s]", remotehost, remoteip);
	char hdr[1600], using[128] = "";
	int n;
	if (tls) snprintf(using, sizeof using, "\n\t(using %s with cipher %s)", tlsinfo.proto, tlsinfo.cipher);
	if (tx.nrcpt == 1)
		n = snprintf(hdr, sizeof hdr, "Received: from %s (%s)%s\n\tby %s (tern-smtpd) with %s id %s.%lu\n\tfor <%s>; %s\n",
			     helo, rdns, using, me, proto(), sid, tx.msgs, tx.firstrcpt, date);
	else
		n = snprintf(hdr, sizeof hdr, "Received: from %s (%s)%s\n\tby %s (tern-smtpd) with %s id %s.%lu;\n\t%s\n",
			     helo, rdns, using, me, proto(), sid, tx.msgs, date);
	if (n > 0) q_put(hdr, (size_t)n < sizeof hdr ? (size_t)n : sizeof hdr - 1);
	return 0;
}

/* Ends the message: with the envelope when ok, else without (the queue program then
 * stores nothing).  Returns the queue program's exit code, or -1. */
static int q_finish(int ok)
{
	q_flushbuf();
	if (q.m >= 0) { if (close(q.m) != 0) q.werr = 1; q.m = -1; }
	if (ok && !q.werr) {
		if (!env_finish(&tx.env)) quit("421 4.3.0 out of memory", "out of memory");
		if (fd_write_all(q.e, tx.env.s, tx.env.len) != 0) q.werr = 1;
	}
	if (q.e >= 0) { close(q.e); q.e = -1; }
	int st = q.zid ? q_wait_forked(q.zid) : tern_wait(q.pid);
	q.pid = 0;
	q.zid = 0;
	return st;
}

/* Drops a message being streamed (RSET, EHLO or MAIL after BDAT chunks without LAST). */
static void q_abort(void)
{
	if (q.pid > 0 || q.zid) q_finish(0);
}

/* qmail-queue exit codes as replies. */
static const char *q_reply(int st)
{
	switch (st) {
	case 0: return 0;
	case 11: return "554 5.1.3 address too long";
	case 31: return "554 5.3.0 message refused";
	case 51: return "451 4.3.0 out of memory in the queue";
	case 52: return "451 4.3.0 queue timeout";
	case 53: return "452 4.3.1 insufficient system storage";
	case 54: return "451 4.3.0 the queue could not read the message";
	case 55: return "451 4.3.5 the queue could not read its configuration";
	case 71: return "451 4.3.0 message temporarily refused";
	case 91: return "554 5.6.0 envelope format error";
	}
	if (st > 0 && st < 40) return "554 5.3.0 message refused permanently";
	return "451 4.3.0 queue problem, try again later";
}

static void accepted(int st)
{
	const char *r = q_reply(st);
	char size[32];
	snprintf(size, sizeof size, "%llu", q.size);
	if (r) { logev("refused", "reply", r, "size", size); out(r); }
	else {
		char l[200];
		snprintf(l, sizeof l, "250 2.0.0 ok: queued as %s.%lu", sid, tx.msgs);
		logev("accepted", "size", size, "from", tx.from);
		out(l);
	}
}

static void __attribute__((noreturn)) lost(int r)
{
	q_abort();
	if (r == SMTP_TIMEOUT) quit("421 4.4.2 timeout, closing", "timeout in message");
	quit(0, "connection lost in message");
}

/* DATA: dot-unstuffing; only CRLF.CRLF ends it; bare CR or LF ends the session (smuggling)
 * unless control/smtpbarelf allows them, and then they are data, never a line start. */
static void cmd_data(void)
{
	if (!tx.active) { bad("503 5.5.1 MAIL first"); return; }
	if (tx.bdat) { bad("503 5.5.1 DATA after BDAT"); return; }
	if (!tx.nrcpt) { bad("554 5.5.1 no valid recipients"); return; }
	if (q_start() != 0) { out("451 4.3.0 cannot run the queue program"); return; }
	out("354 go ahead, end with <CRLF>.<CRLF>");
	enum { BOL, DOT, DOTCR, MID, CR } s = BOL;
	int badnl = 0;
	for (;;) {
		int r = smtp_fill(&io);
		if (r != SMTP_OK) lost(r);
		char *b = io.ibuf + io.pos, *e = io.ibuf + io.len, *p = b;
		for (; p < e; p++) {
			char c = *p;
			switch (s) {
			case MID:
				if (c == '\r') s = CR;
				else if (c == '\n') { badnl = 1; q_put("\n", 1); }
				else {
					/* The common case: copy up to the next CR or LF at once. */
					char *stop = p;
					while (stop < e && *stop != '\r' && *stop != '\n') stop++;
					q_put(p, (size_t)(stop - p));
					p = stop - 1;
				}
				break;
			case BOL:
				if (c == '.') s = DOT;
				else if (c == '\r') s = CR;
				else if (c == '\n') { badnl = 1; q_put("\n", 1); s = MID; }
				else { q_put(&c, 1); s = MID; }
				break;
			case DOT:
				if (c == '\r') s = DOTCR;
				else if (c == '\n') { badnl = 1; q_put("\n", 1); s = MID; }
				else { q_put(&c, 1); s = MID; }
				break;
			case DOTCR:
				if (c == '\n') { io.pos = (size_t)(p + 1 - io.ibuf); goto end; }
				badnl = 1;
				q_put("\r", 1);
				s = MID;
				p--;
				break;
			case CR:
				if (c == '\n') { q_put("\n", 1); s = BOL; }
				else { badnl = 1; q_put("\r", 1); s = MID; p--; }
				break;
			}
			if (badnl && !barelf_ok) {
				io.pos = io.len;
				q_finish(0);
				logev("refused", "reply", "bare CR or LF in DATA", 0, 0);
				quit("521 5.5.2 bare CR or LF in message refused (RFC 5321 2.3.8), closing", "bare CR or LF");
			}
		}
		io.pos = io.len;
	}
end:
	if (q.over) {
		q_finish(0);
		logev("refused", "reply", "over databytes", 0, 0);
		out("552 5.3.4 message size exceeds the fixed limit");
	} else accepted(q_finish(1));
	tx_reset();
}

/* BDAT n [LAST] (RFC 3030): exactly n bytes, CRLF stored as LF. */
static int bdat_cr;
static void cmd_bdat(char *arg)
{
	while (*arg == ' ') arg++;
	char *sp = strchr(arg, ' ');
	int last = 0, badlast = 0;
	if (sp) {
		*sp++ = 0;
		while (*sp == ' ') sp++;
		if (strcasecmp(sp, "LAST") == 0) last = 1;
		else badlast = 1;
	}
	/* Without a size the chunk's end is unknown: what follows is read as commands. */
	unsigned long long n = 0;
	if (!*arg || strlen(arg) > 19) { bad("501 5.5.4 syntax: BDAT size [LAST]"); return; }
	for (char *d = arg; *d; d++) {
		if (*d < '0' || *d > '9') { bad("501 5.5.4 syntax: BDAT size [LAST]"); return; }
		n = n * 10 + (unsigned long long)(*d - '0');
	}
	/* The chunk is read whatever the reply will be: it is not a command. */
	int fail = 0;
	const char *why = 0;
	if (badlast) { fail = 1; why = "501 5.5.4 syntax: BDAT size [LAST]"; }
	else if (!tx.active) { fail = 1; why = "503 5.5.1 MAIL first"; }
	else if (!tx.nrcpt) { fail = 1; why = "554 5.5.1 no valid recipients"; }
	else if (tx.bdatfail) { fail = 1; why = "554 5.5.0 an earlier chunk failed; RSET"; }
	if (!fail && !tx.bdat) {
		if (q_start() != 0) { fail = 1; why = "451 4.3.0 cannot run the queue program"; }
		else { tx.bdat = 1; bdat_cr = 0; }
	}
	while (n) {
		int r = smtp_fill(&io);
		if (r != SMTP_OK) lost(r);
		size_t k = io.len - io.pos;
		if (k > n) k = (size_t)n;
		if (!fail) {
			const char *p = io.ibuf + io.pos, *e = p + k;
			while (p < e) {
				if (bdat_cr) { bdat_cr = 0; if (*p != '\n') q_put("\r", 1); }
				const char *stop = p;
				while (stop < e && *stop != '\r') stop++;
				q_put(p, (size_t)(stop - p));
				if (stop < e) { bdat_cr = 1; stop++; }
				p = stop;
			}
		}
		io.pos += k;
		n -= k;
	}
	if (fail) {
		if (tx.bdat) tx.bdatfail = 1;
		bad(why);
		return;
	}
	if (q.over) {
		q_finish(0);
		tx.bdatfail = 1;
		out("552 5.3.4 message size exceeds the fixed limit");
		return;
	}
	if (!last) { out("250 2.0.0 chunk received"); return; }
	if (bdat_cr) q_put("\r", 1);
	accepted(q_finish(1));
	tx_reset();
}

/* ---- STARTTLS (RFC 3207) through tern-tlsd ---- */

static void tls_setup(void)
{
	tls = tlsserv_setup(&tlsctl, &tlsinfo);
}

/* The session's TLS, and a client certificate when tern-tlsd asked for one. */
static void logtls(const char *event)
{
	struct qlog l;
	qlog_start(&l);
	qlog_kv(&l, "sid", sid);
	qlog_kv(&l, "event", event);
	qlog_kv(&l, "tls", tlsinfo.proto);
	qlog_kv(&l, "cipher", tlsinfo.cipher);
	if (tlsinfo.ccert_fp[0]) {
		qlog_kv(&l, "ccert_cn", tlsinfo.ccert_cn);
		qlog_kv(&l, "ccert_fp", tlsinfo.ccert_fp);
		qlog_kv(&l, "ccert_verify", tlsinfo.ccert_verify);
	}
	qlog_emit(&l);
}

static void cmd_starttls(const char *arg)
{
	if (*arg) { bad("501 5.5.4 syntax: STARTTLS takes no argument"); return; }
	if (tls) { bad("503 5.5.1 TLS already active"); return; }
	if (tlsctl < 0) { bad("502 5.5.1 STARTTLS not available"); return; }
	out("220 2.0.0 ready to start TLS");
	if (smtp_flush(&io) != 0) quit(0, "connection lost");
	const char *why;
	if (tlsserv_start(&tlsctl, (unsigned)timeout + 60, &tlsinfo, &why) != 0) {
		logev("tls-fail", "why", why, 0, 0);
		_exit(0);
	}
	/* From now on the client is the cleartext side of tern-tlsd.  Whatever the client
	 * sent before the handshake, still in our buffer, is dropped (CVE-2011-0411), and
	 * so is all we knew of the session (RFC 3207 4.2). */
	smtp_init(&io, 0, 1, (unsigned)timeout);
	tls = 1;
	helo[0] = 0;
	esmtp = 0;
	tx_reset();
	logtls("starttls");
}

/* ---- AUTH (RFC 4954): PLAIN (RFC 4616) and LOGIN, checked by tern-checkpassword ---- */

static char authline[SASL_LINEMAX + 1];

/* A client response to a 334 challenge, decoded into buf.  Returns its length, -1 when
 * the client cancelled or sent bad base64 (the reply is given), -2 when too long. */
static long auth_response(const char *challenge, unsigned char *buf, size_t bufn)
{
	out(challenge);
	size_t n;
	int r = smtp_getline_max(&io, authline, SASL_LINEMAX, &n);
	if (r == SMTP_EOF) quit(0, "client closed in AUTH");
	if (r == SMTP_TIMEOUT) quit("421 4.4.2 timeout, closing", "timeout in AUTH");
	if (r == SMTP_TOOLONG) { out("500 5.5.6 authentication exchange line too long"); return -2; }
	if (r != SMTP_OK) { out("501 5.5.2 bare CR or LF in AUTH response"); return -1; }
	if (n == 1 && authline[0] == '*') { out("501 5.0.0 authentication cancelled"); return -1; }
	long k = sasl_b64decode(authline, n, buf, bufn);
	explicit_bzero(authline, n);
	if (k < 0) out("501 5.5.2 cannot decode the base64 response");
	return k;
}

/* Runs tern-checkpassword with login\0password\0 on fd 3: 0 good, 1 bad, -1 trouble. */
static int checkpassword(const char *login, size_t ln, const char *pass, size_t pn)
{
	char path[4096];
	if (tern_binpath(path, sizeof path, "tern-checkpassword") != 0) return -1;
	int p[2];
	if (pipe2(p, O_CLOEXEC) != 0) return -1;
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, null, 0);
	posix_spawn_file_actions_adddup2(&fa, null, 1);
	posix_spawn_file_actions_adddup2(&fa, p[0], 3);
	char *argv[] = { "tern-checkpassword", 0 };
	pid_t pid;
	int r = null < 0 ? -1 : posix_spawn(&pid, path, &fa, 0, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(p[0]);
	if (null >= 0) close(null);
	if (r != 0) { close(p[1]); return -1; }
	/* The whole request fits in the pipe's buffer: write it, then wait. */
	int w = fd_write_all(p[1], login, ln) == 0 && fd_write_all(p[1], "", 1) == 0 &&
		fd_write_all(p[1], pass, pn) == 0 && fd_write_all(p[1], "\0\0", 2) == 0;
	close(p[1]);
	int st = tern_wait(pid);
	if (!w) return -1;
	return st == 0 ? 0 : st == 1 ? 1 : -1;
}

static void auth_done(const char *mech, struct sasl_cred *c)
{
	char who[SASL_FIELDMAX + 1];
	memcpy(who, c->authcid, c->clen + 1);
	addr_lower(who, c->clen);
	int ok = c->zlen == 0 || (c->zlen == c->clen && !strcasecmp(c->authzid, c->authcid));
	int r = ok ? checkpassword(who, c->clen, c->pass, c->plen) : 1;
	sasl_wipe(c);
	struct qlog l;
	qlog_start(&l);
	qlog_kv(&l, "sid", sid);
	qlog_kv(&l, "event", "auth");
	qlog_kv(&l, "mech", mech);
	qlog_kv(&l, "user", who);
	qlog_kv(&l, "result", r == 0 ? "ok" : r == 1 ? "fail" : "error");
	qlog_emit(&l);
	if (r < 0) { out("454 4.7.0 temporary authentication failure"); return; }
	if (r == 1) {
		if (++authfails >= MAXAUTHFAIL)
			quit("421 4.7.0 too many failed authentications, closing", "too many failed AUTH");
		out(ok ? "535 5.7.8 authentication credentials invalid" : "535 5.7.8 authorization identity refused");
		return;
	}
	memcpy(authuser, who, strlen(who) + 1);
	relayclient = 1;
	out("235 2.7.0 authentication successful");
}

static void cmd_auth(char *arg)
{
	if (!submission) { bad("502 5.5.1 AUTH not available on this port"); return; }
	if (!tls) { bad("530 5.7.0 must issue a STARTTLS command first"); return; }
	if (!esmtp) { bad("503 5.5.1 say EHLO first"); return; }
	if (*authuser) { bad("503 5.5.1 already authenticated"); return; }
	if (tx.active) { bad("503 5.5.1 AUTH not allowed in a mail transaction"); return; }
	while (*arg == ' ') arg++;
	char *mech = arg, *init = strchr(arg, ' ');
	if (init) { *init++ = 0; while (*init == ' ') init++; }
	static unsigned char buf[SASL_LINEMAX];
	static struct sasl_cred c;
	long k;
	if (!strcasecmp(mech, "PLAIN")) {
		if (init && *init) {
			if (!strcmp(init, "*")) { out("501 5.0.0 authentication cancelled"); return; }
			k = sasl_b64decode(init, strlen(init), buf, sizeof buf);
			explicit_bzero(init, strlen(init));
			if (k < 0) { bad("501 5.5.2 cannot decode the base64 response"); return; }
		} else if ((k = auth_response("334 ", buf, sizeof buf)) < 0) { badcmds++; return; }
		int r = sasl_plain(buf, (size_t)k, &c);
		explicit_bzero(buf, (size_t)k);
		if (r != 0) { bad("501 5.5.2 malformed PLAIN response"); return; }
		auth_done("PLAIN", &c);
	} else if (!strcasecmp(mech, "LOGIN")) {
		memset(&c, 0, sizeof c);
		if (init && *init) {
			k = sasl_b64decode(init, strlen(init), buf, sizeof buf);
			if (k < 0) { bad("501 5.5.2 cannot decode the base64 response"); return; }
		} else if ((k = auth_response("334 VXNlcm5hbWU6", buf, sizeof buf)) < 0) { badcmds++; return; }
		if (sasl_field(buf, (size_t)k, c.authcid, &c.clen) != 0) { bad("501 5.5.2 malformed user name"); return; }
		if ((k = auth_response("334 UGFzc3dvcmQ6", buf, sizeof buf)) < 0) { sasl_wipe(&c); badcmds++; return; }
		int r = sasl_field(buf, (size_t)k, c.pass, &c.plen);
		explicit_bzero(buf, (size_t)k);
		if (r != 0) { sasl_wipe(&c); bad("501 5.5.2 malformed password"); return; }
		auth_done("LOGIN", &c);
	} else if (!*mech) bad("501 5.5.4 syntax: AUTH mechanism [initial-response]");
	else bad("504 5.5.4 unrecognized authentication type");
}

/* ---- the loop ---- */

int main(int argc, char **argv)
{
	tern_prog = "tern-smtpd";
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-s")) submission = 1;
		else tern_die(64, "usage: tern-smtpd [-s]");
	}
	signal(SIGPIPE, SIG_IGN);
	readconf();
	peer();
	tls_setup();
	smtp_init(&io, 0, 1, (unsigned)timeout);
	logev("start", "ip", remoteip, "host", remotehost);
	if (tls) logtls("tls");
	if (greetdelay && smtp_pending(&io, (int)(greetdelay > 600 ? 600000 : greetdelay * 1000)))
		quit("554 5.5.0 talking before the greeting, closing", "early talker");
	out(greeting);
	static char line[SASL_LINEMAX + 1];
	for (;;) {
		size_t n;
		/* AUTH lines may be longer (RFC 4954 4); every other command is held to 512. */
		int r = smtp_getline_max(&io, line, SASL_LINEMAX, &n);
		if (r == SMTP_OK && n > SMTP_LINEMAX - 2 && strncasecmp(line, "AUTH ", 5) != 0) r = SMTP_TOOLONG;
		if (r == SMTP_EOF) quit(0, "client closed");
		if (r == SMTP_TIMEOUT) quit("421 4.4.2 timeout, closing", "timeout");
		if (r == SMTP_TOOLONG) {
			/* RFC 4954 4: an AUTH line over its own limit has a code of its own. */
			bad(strncasecmp(line, "AUTH ", 5) ? "500 5.5.2 line too long" : "500 5.5.6 authentication exchange line too long");
			continue;
		}
		if (r == SMTP_BARELF || r == SMTP_BARECR) { bad("500 5.5.2 bare CR or LF in command refused"); continue; }
		if (memchr(line, 0, n)) { bad("500 5.5.2 NUL byte in command"); continue; }
		char *arg = line;
		while (*arg && *arg != ' ') arg++;
		if (*arg) *arg++ = 0;
		size_t alen = n - (size_t)(arg - line);
		if (!strcasecmp(line, "EHLO")) cmd_helo(arg, 1);
		else if (!strcasecmp(line, "HELO")) cmd_helo(arg, 0);
		else if (!strcasecmp(line, "MAIL")) cmd_mail(arg, alen);
		else if (!strcasecmp(line, "RCPT")) cmd_rcpt(arg, alen);
		else if (!strcasecmp(line, "DATA")) { if (*arg) bad("501 5.5.4 syntax: DATA takes no argument"); else cmd_data(); }
		else if (!strcasecmp(line, "BDAT")) cmd_bdat(arg);
		else if (!strcasecmp(line, "RSET")) { tx_reset(); out("250 2.0.0 reset"); }
		else if (!strcasecmp(line, "NOOP")) out("250 2.0.0 ok");
		else if (!strcasecmp(line, "QUIT")) { char l[300]; snprintf(l, sizeof l, "221 2.0.0 %s closing", me); quit(l, "quit"); }
		else if (!strcasecmp(line, "VRFY")) out("252 2.1.5 cannot verify, but will accept and attempt delivery");
		else if (!strcasecmp(line, "EXPN")) out("502 5.5.1 EXPN not available");
		else if (!strcasecmp(line, "HELP")) out("214 2.0.0 commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP");
		else if (!strcasecmp(line, "STARTTLS")) cmd_starttls(arg);
		else if (!strcasecmp(line, "AUTH")) cmd_auth(arg);
		else bad("500 5.5.1 unknown command");
	}
}
