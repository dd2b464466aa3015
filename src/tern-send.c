/* tern-send: the scheduler.  Long-running; picks up new messages from the trigger FIFO,
 * delivers each recipient in parallel (tern-local one recipient at a time; tern-remote
 * sessions one domain's recipients at a time, connections reused per destination),
 * retries temporary failures on a backoff schedule, bounces permanent ones (RFC 3464),
 * reports successes asked for with NOTIFY=SUCCESS (RFC 3461), and removes a message when
 * every recipient is final.  doc/queue.md has the states. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include "addr.h"
#include "control.h"
#include "die.h"
#include "dsn.h"
#include "env.h"
#include "fdio.h"
#include "getpw.h"
#include "home.h"
#include "qfile.h"
#include "qlog.h"
#include "qprog.h"
#include "route.h"
#include "sig.h"
#include "spawn.h"
#include "users.h"
#include "zfork.h"

#define EX_TEMP 111
#define MAXJOBS 1000
#define NBUCKET 65536
#define DOUBLEBOUNCE_SENDER "#@[]"
#define MAXSESS 1000		/* tern-remote sessions */
#define MAXROUNDS 512		/* messages open at once */
#define RJOBMAX 100		/* recipients in one remote job (RFC 5321 4.5.3.1.8) */
#define SESS_IDLE 2		/* seconds an idle connection waits for more mail */

/* Backoff after the n-th temporary failure (doc/queue.md). */
static const unsigned backoff[] = { 60, 300, 900, 1800, 3600, 7200, 14400 };

struct msg {
	struct msg *hnext;		/* hash chain */
	struct msg *rnext;		/* ready list */
	char qid[QID_MAX];
	time_t wake;			/* next round, when idle */
	int inround, onready, dead;
	size_t nrcpt;
	size_t heaprefs;		/* heap entries that point here; freed only at 0 */
	size_t inflight, scan;
	struct qfile q;			/* open during a round */
	struct qinfo_rcpt *info;
	char *busy;			/* per recipient: in a remote job this round */
	int infodirty;
};

/* A destination: a relay from smtproutes, or a domain's MX (route_dest). */
struct dest {
	struct dest *next;
	char key[320];
	size_t sessions;		/* tern-remote sessions running for it */
	time_t holduntil;		/* backoff: no new connection before */
	unsigned failures;		/* connection failures in a row */
	char status[16], text[400];	/* the last one */
	struct rjob *qhead, *qtail;	/* jobs waiting for a session */
};

/* One remote delivery: one message's recipients of one domain. */
struct rjob {
	struct rjob *next;
	struct msg *m;
	struct dest *d;
	size_t n;
	size_t idx[RJOBMAX];
};

struct rsess {
	pid_t pid;
	int fd;				/* our end of the job socket; -1 once closed */
	struct dest *d;
	struct rjob *job;		/* the job running, or 0 when idle */
	struct timeval start;
	time_t idle;			/* idle since */
	int exited, status;
};

struct job {
	pid_t pid;			/* 0: run by the fork server (zid) */
	unsigned long zid;
	int fd;				/* result pipe */
	struct msg *m;
	size_t rcpt;
	struct timeval start;
	char out[512];
	size_t outlen;
	int exited, status, eof;
};

struct heapent { time_t t; struct msg *m; };

static struct msg *bucket[NBUCKET];
static struct msg *ready_head, *ready_tail;
static struct job jobs[MAXJOBS];
static size_t njobs;
static struct heapent *heap;
static size_t heaplen, heapcap;
static size_t nmsg;
static int stopping;
static int dirfsync_pending;
static size_t nround;
static struct dest *dests;
static struct rsess sess[MAXSESS];
static size_t nsess;
static stralloc routes;
static char remoteids[64];	/* "-uUID:GID" for tern-remote when running as root */
static int remoteuser_ok = 1;

static unsigned long conc_local = 10, conc_remote = 20, conc_dest = 5, lifetime = 432000, databytes = 52428800;
static char me[256], doublebounceto[512];

/* ---- configuration ---- */

static void read_control(void)
{
	unsigned long v;
	if (control_readulong(&v, "concurrencylocal", 20) >= 0) conc_local = v < 1 ? 1 : v > MAXJOBS ? MAXJOBS : v;
	else tern_warn_sys("control/concurrencylocal unreadable; keeping ", "the old value");
	if (control_readulong(&v, "concurrencyremote", 20) >= 0) conc_remote = v < 1 ? 1 : v > MAXSESS ? MAXSESS : v;
	else tern_warn_sys("control/concurrencyremote unreadable; keeping ", "the old value");
	if (control_readulong(&v, "concurrencydest", 5) >= 0) conc_dest = v < 1 ? 1 : v;
	else tern_warn_sys("control/concurrencydest unreadable; keeping ", "the old value");
	if (control_readlines(&routes, "smtproutes") < 0)
		tern_warn_sys("control/smtproutes unreadable; keeping ", "the old routes");
	for (size_t i = 0; i < routes.len; i += strlen(routes.s + i) + 1) {
		const char *dom;
		size_t dl;
		struct route rt;
		if (route_parse(routes.s + i, &dom, &dl, &rt) != 0)
			tern_warn("control/smtproutes: malformed line ignored: ", routes.s + i);
	}
	if (control_readulong(&v, "queuelifetime", 432000) >= 0) lifetime = v;
	else tern_warn_sys("control/queuelifetime unreadable; keeping ", "the old value");
	/* A report bigger than databytes would be refused by tern-queue forever. */
	if (control_readulong(&v, "databytes", 52428800) >= 0) databytes = v;
	else tern_warn_sys("control/databytes unreadable; keeping ", "the old value");
	if (control_readline(me, sizeof me, "me", 0) <= 0 || !*me) {
		if (gethostname(me, sizeof me - 1) != 0 || !*me) snprintf(me, sizeof me, "localhost");
	}
	if (control_readline(doublebounceto, sizeof doublebounceto, "doublebounceto", "postmaster") < 0)
		snprintf(doublebounceto, sizeof doublebounceto, "postmaster");
	if (*doublebounceto && !strchr(doublebounceto, '@')) {
		size_t l = strlen(doublebounceto);
		snprintf(doublebounceto + l, sizeof doublebounceto - l, "@%s", me);
	}
	users_close();
	/* tern-remote talks to the network: as root it runs as control/remoteuser. */
	remoteids[0] = 0;
	remoteuser_ok = 1;
	if (geteuid() == 0) {
		char name[256];
		struct sysacct a;
		/* ternr (INSTALL) when it exists, else nobody. */
		int given = control_readline(name, sizeof name, "remoteuser", "ternr") == 1 && *name;
		if (!given) snprintf(name, sizeof name, "ternr");
		int r = getpw_find(name, &a);
		if (r == 0 && !given) { snprintf(name, sizeof name, "nobody"); r = getpw_find(name, &a); }
		if (r == 1 && a.uid != 0) snprintf(remoteids, sizeof remoteids, "-u%lu:%lu", (unsigned long)a.uid, (unsigned long)a.gid);
		else {
			remoteuser_ok = 0;
			tern_warn("control/remoteuser: no usable account ", name, r < 0 ? " (lookup failed)" : "",
				  "; remote deliveries wait");
		}
	}
}

/* ---- messages: hash, heap, ready list ---- */

static unsigned hash(const char *s)
{
	unsigned h = 5381;
	while (*s) h = h * 33 ^ (unsigned char)*s++;
	return h % NBUCKET;
}

static struct msg *find(const char *qid)
{
	for (struct msg *m = bucket[hash(qid)]; m; m = m->hnext)
		if (strcmp(m->qid, qid) == 0) return m;
	return 0;
}

/* Drops the message from the table; the memory goes once no heap entry points at it. */
static void forget(struct msg *m)
{
	struct msg **pp = &bucket[hash(m->qid)];
	while (*pp && *pp != m) pp = &(*pp)->hnext;
	if (*pp) *pp = m->hnext;
	m->dead = 1;
	nmsg--;
	if (!m->heaprefs) { free(m->info); free(m->busy); free(m); }
}

static void heap_push(time_t t, struct msg *m)
{
	if (heaplen == heapcap) {
		size_t nc = heapcap ? heapcap * 2 : 1024;
		struct heapent *nh = realloc(heap, nc * sizeof *nh);
		if (!nh) tern_die(EX_TEMP, "out of memory");
		heap = nh; heapcap = nc;
	}
	size_t i = heaplen++;
	while (i > 0 && heap[(i - 1) / 2].t > t) { heap[i] = heap[(i - 1) / 2]; i = (i - 1) / 2; }
	heap[i].t = t; heap[i].m = m;
	m->heaprefs++;
}

static struct heapent heap_pop(void)
{
	struct heapent top = heap[0], last = heap[--heaplen];
	size_t i = 0;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= heaplen) break;
		if (c + 1 < heaplen && heap[c + 1].t < heap[c].t) c++;
		if (heap[c].t >= last.t) break;
		heap[i] = heap[c]; i = c;
	}
	if (heaplen) heap[i] = last;
	top.m->heaprefs--;
	return top;
}

static void ready_push(struct msg *m)
{
	m->rnext = 0;
	m->onready = 1;
	if (ready_tail) ready_tail->rnext = m; else ready_head = m;
	ready_tail = m;
}

static void ready_pop(void)
{
	struct msg *m = ready_head;
	ready_head = m->rnext;
	if (!ready_head) ready_tail = 0;
	m->onready = 0;
}

static void log_msg(const char *event, const struct msg *m, const char *k, const char *v)
{
	struct qlog l;
	qlog_start(&l);
	qlog_kv(&l, "qid", m->qid);
	qlog_kv(&l, "event", event);
	if (k) qlog_kv(&l, k, v);
	qlog_emit(&l);
}

/* Knows the message from now on; its first round starts at once. */
static void add(const char *qid)
{
	if (!qid_valid(qid) || find(qid)) return;
	struct msg *m = calloc(1, sizeof *m);
	if (!m) tern_die(EX_TEMP, "out of memory");
	memcpy(m->qid, qid, strlen(qid) + 1);
	m->q.fd = -1;
	unsigned h = hash(qid);
	m->hnext = bucket[h];
	bucket[h] = m;
	nmsg++;
	m->wake = 0;
	heap_push(0, m);
}

/* ---- rounds ---- */

/* Not read now (an I/O error, a malformed envelope): logged, tried again in an hour. */
static void unreadable(struct msg *m, const char *why, time_t now)
{
	log_msg("unreadable", m, "error", why);
	m->wake = now + 3600;
	heap_push(m->wake, m);
}

/* A file in queue/mess that is not whole: what a crash leaves when it comes between
 * tern-queue's link and its fsync (a message never acknowledged), or a damaged disk.  It
 * goes to queue/corrupt, for the administrator to look at, as in Postfix. */
static void quarantine(struct msg *m, const char *why, time_t now)
{
	char from[4096], to[4096];
	if (qfile_path(from, sizeof from, "mess", m->qid) == 0 && qfile_path(to, sizeof to, "corrupt", m->qid) == 0) {
		char *slash = strrchr(to, '/');
		*slash = 0;
		if (mkdir(to, 0700) != 0 && errno != EEXIST) tern_warn_sys("mkdir ", to);
		*slash = '/';
		if (rename(from, to) == 0) {
			log_msg("corrupt", m, "reason", why);
			forget(m);
			return;
		}
		tern_warn_sys("moving to queue/corrupt: ", m->qid);
	}
	unreadable(m, why, now);
}

static void round_begin(struct msg *m, time_t now)
{
	if (qfile_open(&m->q, m->qid, 1) != 0) {
		if (errno == ENOENT) { log_msg("removed", m, 0, 0); forget(m); return; }
		if (errno == EBADMSG) { quarantine(m, "header unreadable or file shorter than it says", now); return; }
		unreadable(m, strerror(errno), now);
		return;
	}
	/* tern-qdel holds this lock while it removes a message. */
	struct stat st;
	if (flock(m->q.fd, LOCK_EX | LOCK_NB) != 0 || fstat(m->q.fd, &st) != 0 || st.st_nlink == 0) {
		int gone = fstat(m->q.fd, &st) == 0 && st.st_nlink == 0;
		qfile_close(&m->q);
		if (gone) { log_msg("removed", m, 0, 0); forget(m); return; }
		m->wake = now + 1;
		heap_push(m->wake, m);
		return;
	}
	/* Checked once, when this process first meets the message. */
	if (!m->info && qfile_verify(&m->q) != 0) {
		int e = errno;
		qfile_close(&m->q);
		if (e == EBADMSG) quarantine(m, "message and envelope do not match the header's sum", now);
		else unreadable(m, strerror(e), now);
		return;
	}
	m->nrcpt = m->q.nrcpt;
	if (!m->info) {
		m->info = calloc(m->q.nrcpt, sizeof *m->info);
		m->busy = calloc(m->q.nrcpt ? m->q.nrcpt : 1, 1);
		if (!m->info || !m->busy) tern_die(EX_TEMP, "out of memory");
		if (qinfo_load(m->qid, m->info, m->q.nrcpt) != 0) tern_warn_sys("reading queue/info/", m->qid);
		struct qlog l;
		qlog_start(&l);
		qlog_kv(&l, "qid", m->qid);
		qlog_kv(&l, "event", "new");
		qlog_kv(&l, "from", m->q.sender);
		qlog_kvu(&l, "nrcpt", m->q.nrcpt);
		qlog_kvu(&l, "size", m->q.msglen);
		qlog_kvu(&l, "uid", m->q.uid);
		qlog_emit(&l);
	}
	m->inround = 1;
	nround++;
	m->scan = 0;
	m->inflight = 0;
	ready_push(m);
}

static int is_local(const char *rcpt)
{
	size_t len = strlen(rcpt), at = addr_at(rcpt, len);
	if (at == len) return 1;
	int r = users_islocal(rcpt + at + 1, len - at - 1);
	return r != 0;	/* an unreadable users db counts as local: tern-local then says 4.3.0 */
}

/* The recipient's NOTIFY (RFC 3461) as bits; no N record means FAILURE,DELAY. */
static unsigned notify_bits(const struct msg *m, size_t i)
{
	unsigned b;
	const char *n = m->q.notify[i];
	if (!n || !env_notify_parse(n, strlen(n), 1, &b)) return ENV_NOTIFY_FAILURE | ENV_NOTIFY_DELAY;
	return b;
}

/* Reports go to the sender; a bounce (null sender) or a double bounce gets none of its
 * own, except the postmaster's copy of a failure (doublebounceto). */
static int sender_notifiable(const struct msg *m)
{
	return *m->q.sender && strcmp(m->q.sender, DOUBLEBOUNCE_SENDER) != 0;
}

static void log_result(const char *event, const struct msg *m, size_t i, const char *status,
		       const char *text, const char *relay, double delay)
{
	struct qlog l;
	qlog_start(&l);
	qlog_kv(&l, "qid", m->qid);
	qlog_kv(&l, "event", event);
	qlog_kv(&l, "rcpt", m->q.rcpt[i]);
	if (relay) qlog_kv(&l, "relay", relay);
	if (delay >= 0) qlog_kvt(&l, "delay", delay);
	qlog_kv(&l, "status", status);
	qlog_kv(&l, "text", text);
	if (m->q.notify[i]) {
		/* Lowercase, like the other values, so that "notify=never" greps the same. */
		char v[32];
		size_t k;
		for (k = 0; m->q.notify[i][k] && k < sizeof v - 1; k++) {
			char c = m->q.notify[i][k];
			v[k] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
		}
		v[k] = 0;
		qlog_kv(&l, "notify", v);
	}
	qlog_emit(&l);
}

static void set_final(struct msg *m, size_t i, char st)
{
	if (qfile_setstate(&m->q, i, st) != 0) tern_warn_sys("updating queue/mess/", m->qid);
}

/* A temporary failure: retry later, or give up once the lifetime is over. */
static void defer(struct msg *m, size_t i, const char *status, const char *text, const char *relay,
		  time_t now, double delay)
{
	struct qinfo_rcpt *r = &m->info[i];
	r->attempts++;
	snprintf(r->status, sizeof r->status, "%s", status);
	snprintf(r->text, sizeof r->text, "%s", text);
	m->infodirty = 1;
	if (now - m->q.ctime >= (time_t)lifetime) {
		snprintf(r->status, sizeof r->status, "5.4.7");
		snprintf(r->text, sizeof r->text, "delivery time expired; last error: %s %s", status, text);
		set_final(m, i, QS_FAILED);
		log_result("failed", m, i, r->status, r->text, relay, delay);
		return;
	}
	size_t n = sizeof backoff / sizeof backoff[0];
	time_t next = now + backoff[r->attempts - 1 < n ? r->attempts - 1 : n - 1];
	if (next > m->q.ctime + (time_t)lifetime) next = m->q.ctime + (time_t)lifetime;
	r->next = next;
	log_result("deferred", m, i, status, text, relay, delay);
}

extern char **environ;

/* ---- the tern-local fork server (tern-local -z; tern-local(8)) ----
 * One long-running tern-local forks a child per delivery instead of tern-send exec'ing
 * tern-local each time.  If it cannot be started or ends, deliveries are exec'd as
 * before; it is restarted when next needed.  After SIGHUP it is retired once its
 * running deliveries have ended, so that a new tern-local binary is used. */
static struct zfork zs = { -1, 0 };
static unsigned long zseq;
static size_t zrunning;
static int zretire;
static int zbroken;		/* servers keep ending before answering: exec from now on */
static unsigned zearly;		/* servers in a row that ended before their first answer */
static unsigned long zanswers;	/* answers from the server running now */

static void zstop(void)
{
	zfork_stop(&zs);	/* the server sees EOF and exits */
	zretire = 0;
}

static void zlost(void);
static void zread(void);
static void job_read(struct job *j);

/* Hands a delivery to the fork server: 0, or -1 (then exec it instead). */
static int zsend(struct job *j, const char *const f[5], int in, int out)
{
	if (zretire || zbroken) return -1;
	if (zs.fd < 0) {
		char path[4096];
		if (tern_binpath(path, sizeof path, "tern-local") < 0 || zfork_start(&zs, path, "tern-local", 1) != 0)
			return -1;
		zanswers = 0;
	}
	if (zfork_send(&zs, zseq + 1, f, 5, in, out) != 0) {
		int e = errno;
		if (e == EPIPE || e == ECONNRESET || e == ENOTCONN) {
			tern_warn_sys("tern-local fork server", "");
			zread();	/* the answers it sent before it ended still count */
			if (zs.fd >= 0) zlost();
		}
		return -1;	/* this one is exec'd; a server that is alive stays */
	}
	j->pid = 0;
	j->zid = ++zseq;
	zrunning++;
	return 0;
}

/* The fork server's answers, for each delivery that ended. */
static void zread(void)
{
	while (zs.fd >= 0) {
		unsigned long id;
		int code;
		int r = zfork_answer(&zs, &id, &code);
		if (r < 0 && errno == EAGAIN) break;
		if (r < 0 && errno == EPROTO) { tern_warn("tern-local fork server: malformed answer"); continue; }
		if (r <= 0) { zlost(); break; }
		for (size_t k = 0; k < njobs; k++)
			if (!jobs[k].pid && jobs[k].zid == id && !jobs[k].exited) {
				jobs[k].exited = 1;
				jobs[k].status = code;
				zrunning--;
				zanswers++;
				zearly = 0;
				break;
			}
	}
	if (zretire && zrunning == 0) zstop();
}

/* The fork server ended (killed?) and its children with it (pdeath), as if each
 * tern-local had been killed.  A child that got as far as its result line had finished
 * its delivery: that line decides, by its class.  The others count as temporary failures;
 * a Maildir delivery cut short is found by its name at the retry (TERN_DTAG). */
static void zlost(void)
{
	/* One killed early is an accident; three in a row, a server that cannot work. */
	if (!zanswers && ++zearly >= 3) {
		zbroken = 1;
		tern_warn("tern-local fork server ended before its first answer 3 times; exec'ing tern-local from now on");
	} else tern_warn("tern-local fork server ended; its running deliveries will be retried");
	for (size_t k = 0; k < njobs; k++)
		if (!jobs[k].pid && !jobs[k].exited) {
			struct job *j = &jobs[k];
			job_read(j);
			j->exited = 1;
			j->eof = 1;
			if (memchr(j->out, '\n', j->outlen) && (j->out[0] == '2' || j->out[0] == '5'))
				j->status = j->out[0] == '2' ? 0 : 100;
			else {
				j->status = EX_TEMP;
				j->outlen = (size_t)snprintf(j->out, sizeof j->out,
							     "4.3.0 tern-local fork server ended during the delivery\n");
			}
		}
	zrunning = 0;
	zstop();
}

/* Execs tern-local for one delivery, f as for zsend (sender, recipient, TERN_QID,
 * TERN_DTAG, TERN_MSGSIZE), with fds in and out as its 0 and 1: its pid, or -1. */
static pid_t exec_local(const char *const f[5], int in, int out)
{
	char path[4096];
	if (tern_binpath(path, sizeof path, "tern-local") < 0) { errno = ENAMETOOLONG; return -1; }
	size_t ne = 0;
	while (environ[ne]) ne++;
	char **envp = calloc(ne + 4, sizeof *envp);
	if (!envp) tern_die(EX_TEMP, "out of memory");
	size_t k = 0;
	for (size_t e = 0; e < ne; e++)
		if (strncmp(environ[e], "TERN_QID=", 9) && strncmp(environ[e], "TERN_DTAG=", 10) &&
		    strncmp(environ[e], "TERN_MSGSIZE=", 13))
			envp[k++] = environ[e];
	char eqid[64], edtag[96], esize[64];
	snprintf(eqid, sizeof eqid, "TERN_QID=%s", f[2]);
	snprintf(edtag, sizeof edtag, "TERN_DTAG=%s", f[3]);
	snprintf(esize, sizeof esize, "TERN_MSGSIZE=%s", f[4]);
	envp[k++] = eqid;
	envp[k++] = edtag;
	envp[k++] = esize;
	envp[k] = 0;
	char *argv[] = { "tern-local", (char *)f[0], (char *)f[1], 0 };
	int fds[3] = { in, out, -1 };
	pid_t pid = tern_spawn(path, argv, envp, fds);
	int e = errno;
	free(envp);
	errno = e;
	return pid;
}

/* One local delivery: through the fork server, else exec'd. */
static int spawn_local(struct msg *m, size_t i, struct job *j)
{
	char rcptbuf[1100], dtag[QID_MAX + 24], size[24];
	const char *rcpt = m->q.rcpt[i];
	if (!strchr(rcpt, '@')) { snprintf(rcptbuf, sizeof rcptbuf, "%s@%s", rcpt, me); rcpt = rcptbuf; }
	snprintf(dtag, sizeof dtag, "%s.%zu", m->qid, i);
	snprintf(size, sizeof size, "%llu", (unsigned long long)m->q.msglen);
	const char *f[5] = { m->q.sender, rcpt, m->qid, dtag, size };
	int p[2];
	if (pipe2(p, O_CLOEXEC) != 0) return -1;
	int in = qfile_msgfd(&m->q);
	if (in < 0) { close(p[0]); close(p[1]); return -1; }
	memset(j, 0, sizeof *j);
	if (zsend(j, f, in, p[1]) != 0 && (j->pid = exec_local(f, in, p[1])) < 0) {
		int e = errno;
		close(in); close(p[0]); close(p[1]);
		errno = e;
		return -1;
	}
	close(in);
	close(p[1]);
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	j->fd = p[0]; j->m = m; j->rcpt = i;
	gettimeofday(&j->start, 0);
	return 0;
}

static void round_end(struct msg *m, time_t now);

/* ---- remote deliveries: destinations, jobs, tern-remote sessions ---- */

static struct dest *dest_get(const char *key)
{
	for (struct dest *d = dests; d; d = d->next)
		if (strcmp(d->key, key) == 0) return d;
	struct dest *d = calloc(1, sizeof *d);
	if (!d) tern_die(EX_TEMP, "out of memory");
	snprintf(d->key, sizeof d->key, "%s", key);
	d->next = dests;
	dests = d;
	return d;
}

/* The domain of address a (after its last '@'), n bytes; 0 if none. */
static const char *domain_of(const char *a, size_t *n)
{
	size_t len = strlen(a), at = addr_at(a, len);
	if (at == len) return 0;
	*n = len - at - 1;
	return a + at + 1;
}

/* Recipient i and the others of its domain that are due now become one job, queued on
 * their destination. */
static void remote_group(struct msg *m, size_t i, time_t now)
{
	size_t dl = 0;
	const char *dom = domain_of(m->q.rcpt[i], &dl);
	if (!dom) dom = "";
	struct route rt;
	char key[320];
	route_lookup(&routes, dom, dl, &rt);
	if (route_dest(key, sizeof key, &rt, dom, dl) != 0) {
		struct qinfo_rcpt *r = &m->info[i];
		snprintf(r->status, sizeof r->status, "5.1.2");
		snprintf(r->text, sizeof r->text, "domain name too long");
		m->infodirty = 1;
		set_final(m, i, QS_FAILED);
		log_result("failed", m, i, r->status, r->text, 0, -1);
		return;
	}
	struct rjob *j = calloc(1, sizeof *j);
	if (!j) tern_die(EX_TEMP, "out of memory");
	j->m = m;
	j->d = dest_get(key);
	for (size_t k = i; k < m->q.nrcpt && j->n < RJOBMAX; k++) {
		size_t kl;
		const char *kd;
		if (k != i && (m->q.state[k] != QS_PENDING || m->info[k].next > now || m->busy[k])) continue;
		if (k != i && (!(kd = domain_of(m->q.rcpt[k], &kl)) || kl != dl || strncasecmp(kd, dom, dl) != 0)) continue;
		m->busy[k] = 1;
		j->idx[j->n++] = k;
	}
	if (j->d->qtail) j->d->qtail->next = j; else j->d->qhead = j;
	j->d->qtail = j;
	m->inflight++;
}

static void log_dest(const char *event, const struct dest *d)
{
	struct qlog l;
	qlog_start(&l);
	qlog_kv(&l, "event", event);
	qlog_kv(&l, "dest", d->key);
	if (d->holduntil) { qlog_kvu(&l, "failures", d->failures); qlog_kvu(&l, "hold", (unsigned long long)(d->holduntil - time(0))); }
	qlog_emit(&l);
}

static void outcome(struct msg *m, size_t i, char kind, const char *status, const char *text,
		    const char *relay, double delay, time_t now);

/* The job's recipients all get the same temporary result. */
static void rjob_defer(struct rjob *j, const char *status, const char *text, time_t now)
{
	for (size_t k = 0; k < j->n; k++) outcome(j->m, j->idx[k], 's', status, text, 0, -1, now);
}

static void rjob_done(struct rjob *j, time_t now)
{
	struct msg *m = j->m;
	for (size_t k = 0; k < j->n; k++) m->busy[j->idx[k]] = 0;
	free(j);
	m->inflight--;
	if (!m->onready && m->inflight == 0) round_end(m, now);
}

static int sess_start(struct dest *d)
{
	char path[4096];
	int sv[2];
	if (tern_binpath(path, sizeof path, "tern-remote") < 0) { errno = ENAMETOOLONG; return -1; }
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return -1;
	char *argv[] = { "tern-remote", "-s", remoteids[0] ? remoteids : 0, 0 };
	int fds[3] = { sv[1], -1, -1 };
	pid_t pid = tern_spawn(path, argv, 0, fds);
	int e = errno;
	close(sv[1]);
	if (pid < 0) { close(sv[0]); errno = e; return -1; }
	struct rsess *s = &sess[nsess++];
	memset(s, 0, sizeof *s);
	s->pid = pid;
	s->fd = sv[0];
	s->d = d;
	d->sessions++;
	return 0;
}

/* Hands job j to idle session s: one packet "J<msglen> <qid>\n" + envelope, with the
 * message's fd attached. */
static int sess_send(struct rsess *s, struct rjob *j)
{
	struct msg *m = j->m;
	stralloc pk = {0}, env = {0};
	char head[96];
	snprintf(head, sizeof head, "J%llu %s\n", (unsigned long long)m->q.msglen, m->qid);
	int ok = env_start(&env, m->q.sender);
	if (ok && m->q.dsn.envid) ok = env_add_envid(&env, m->q.dsn.envid);
	if (ok && m->q.dsn.ret) ok = env_add_ret(&env, m->q.dsn.ret);
	for (size_t k = 0; ok && k < j->n; k++) {
		size_t i = j->idx[k];
		unsigned bits;
		ok = env_add_rcpt(&env, m->q.rcpt[i]);
		if (ok && m->q.notify[i] && env_notify_parse(m->q.notify[i], strlen(m->q.notify[i]), 1, &bits))
			ok = env_add_notify(&env, bits);
		if (ok && m->q.orcpt[i]) ok = env_add_orcpt(&env, m->q.orcpt[i]);
	}
	/* env_start begins a new envelope: the head goes in front afterwards. */
	if (ok) ok = env_finish(&env) && stralloc_copys(&pk, head) && stralloc_cat(&pk, &env);
	stralloc_free(&env);
	if (!ok) tern_die(EX_TEMP, "out of memory");
	int fd = qfile_msgfd(&m->q);
	if (fd < 0) { stralloc_free(&pk); return -1; }
	int r = fd_send_fd(s->fd, pk.s, pk.len, fd);
	int e = errno;
	close(fd);
	stralloc_free(&pk);
	if (r < 0) { errno = e; return -1; }
	s->job = j;
	gettimeofday(&s->start, 0);
	return 0;
}

/* A session's socket closes: tern-remote says QUIT and exits. */
static void sess_close(struct rsess *s)
{
	if (s->fd >= 0) close(s->fd);
	s->fd = -1;
}

/* Starts the waiting remote jobs that have a session or may get one. */
static void remote_dispatch(time_t now)
{
	size_t total = 0;
	for (size_t k = 0; k < nsess; k++) if (sess[k].fd >= 0) total++;
	for (struct dest *d = dests; d; d = d->next) {
		if (!d->qhead) continue;
		if (d->holduntil > now) {
			/* The destination failed lately: don't hammer it; its jobs wait. */
			char why[1024];
			snprintf(why, sizeof why, "destination %s held after %u failures: %s", d->key, d->failures, d->text);
			while (d->qhead) {
				struct rjob *j = d->qhead;
				d->qhead = j->next;
				rjob_defer(j, d->status[0] ? d->status : "4.4.1", why, now);
				for (size_t k = 0; k < j->n; k++)
					if (j->m->info[j->idx[k]].next < d->holduntil) j->m->info[j->idx[k]].next = d->holduntil;
				rjob_done(j, now);
			}
			d->qtail = 0;
			continue;
		}
		while (d->qhead && !stopping) {
			struct rsess *s = 0;
			for (size_t k = 0; k < nsess && !s; k++)
				if (sess[k].d == d && sess[k].fd >= 0 && !sess[k].job) s = &sess[k];
			if (!s) {
				if (d->sessions >= conc_dest || nsess >= MAXSESS) break;
				if (total >= conc_remote) {
					/* Make room: an idle connection to another destination goes. */
					struct rsess *idle = 0;
					for (size_t k = 0; k < nsess && !idle; k++)
						if (sess[k].fd >= 0 && !sess[k].job) idle = &sess[k];
					if (!idle) break;
					sess_close(idle);
					total--;
				}
				if (!remoteuser_ok || sess_start(d) != 0) {
					if (remoteuser_ok) tern_warn_sys("starting tern-remote for ", d->key);
					struct rjob *j = d->qhead;
					d->qhead = j->next;
					if (!d->qhead) d->qtail = 0;
					rjob_defer(j, "4.3.0", "cannot start tern-remote", now);
					rjob_done(j, now);
					continue;
				}
				total++;
				s = &sess[nsess - 1];
			}
			struct rjob *j = d->qhead;
			d->qhead = j->next;
			if (!d->qhead) d->qtail = 0;
			j->next = 0;
			if (sess_send(s, j) != 0) {
				tern_warn_sys("handing a job to tern-remote for ", d->key);
				sess_close(s);
				rjob_defer(j, "4.3.0", "cannot hand the message to tern-remote", now);
				rjob_done(j, now);
			}
		}
	}
}

/* Applies one tern-remote answer: a line per recipient, then the message's line. */
static void sess_result(struct rsess *s, const char *b, size_t n, time_t now)
{
	struct rjob *j = s->job;
	struct timeval tv;
	gettimeofday(&tv, 0);
	double delay = -1;
	const char *lines[RJOBMAX + 1];
	size_t nl = 0;
	char buf[RJOBMAX * 600];
	if (n >= sizeof buf) n = sizeof buf - 1;
	memcpy(buf, b, n);
	buf[n] = 0;
	for (char *p = buf; *p && nl <= j->n;) {
		char *e = strchr(p, '\n');
		if (!e) break;
		*e = 0;
		lines[nl++] = p;
		p = e + 1;
	}
	/* The message line: "R|H|S status relay text" (doc/tern-remote.8). */
	char relay[320] = "-", mstatus[16] = "4.3.0";
	const char *mtext = "tern-remote gave no result";
	int whole = nl == j->n + 1;
	if (nl >= 1) {
		const char *ml = lines[nl - 1];
		if (sscanf(ml + 1, " %15s %319s", mstatus, relay) == 2) {
			const char *t = strchr(ml + 2, ' ');
			t = t ? strchr(t + 1, ' ') : 0;
			mtext = t ? t + 1 : "";
		}
	}
	(void)delay;
	int accepted = 0, connfail = 0;
	for (size_t k = 0; k < j->n; k++) {
		size_t i = j->idx[k];
		char kind = 's', status[16];
		const char *text = mtext;
		snprintf(status, sizeof status, "%s", mstatus[0] == '4' ? mstatus : "4.3.0");
		if (whole) {
			const char *l = lines[k];
			char st[16];
			if ((l[0] == 'r' || l[0] == 'h' || l[0] == 's') && sscanf(l + 1, " %15s", st) == 1) {
				kind = l[0];
				snprintf(status, sizeof status, "%s", st);
				const char *t = strchr(l + 2, ' ');
				text = t ? t + 1 : "";
			}
		}
		if (kind == 'r') accepted = 1;
		outcome(j->m, i, kind, status, text, relay, (double)(tv.tv_sec - j->m->q.ctime), now);
	}
	/* No session with the destination at all: back off from it (doc/tern-send.8). */
	struct dest *d = s->d;
	connfail = !accepted && strcmp(relay, "-") == 0 && strncmp(mstatus, "4.4.", 4) == 0;
	if (connfail) {
		d->failures++;
		unsigned wait = 60u << (d->failures > 6 ? 6 : d->failures - 1);
		if (wait > 3600) wait = 3600;
		d->holduntil = now + wait;
		snprintf(d->status, sizeof d->status, "%s", mstatus);
		snprintf(d->text, sizeof d->text, "%s", mtext);
		log_dest("dest-hold", d);
	} else if (d->failures) {
		d->failures = 0;
		d->holduntil = 0;
		log_dest("dest-ok", d);
	}
	s->job = 0;
	s->idle = now;
	rjob_done(j, now);
}

static void sess_read(struct rsess *s, time_t now)
{
	static char b[RJOBMAX * 600];
	if (s->fd < 0) return;
	ssize_t r;
	do r = recv(s->fd, b, sizeof b, MSG_DONTWAIT); while (r < 0 && errno == EINTR);
	if (r < 0 && errno == EAGAIN) return;
	if (r <= 0) { sess_close(s); return; }	/* it died: reap() settles its job */
	if (!s->job) return;
	sess_result(s, b, (size_t)r, now);
}

/* Sessions that ended: their job, if any, is retried; the slot is freed. */
static void sess_reap(time_t now)
{
	for (size_t k = 0; k < nsess;) {
		struct rsess *s = &sess[k];
		if (!s->exited) { k++; continue; }
		if (s->fd >= 0) sess_read(s, now);	/* an answer written just before it ended */
		if (s->job) {
			char why[96];
			snprintf(why, sizeof why, "tern-remote ended (status %d) during the delivery", s->status);
			struct rjob *j = s->job;
			s->job = 0;
			rjob_defer(j, "4.3.0", why, now);
			rjob_done(j, now);
		}
		sess_close(s);
		s->d->sessions--;
		sess[k] = sess[--nsess];
	}
}

/* Idle connections end after SESS_IDLE seconds, or at once when stopping. */
static void sess_expire(time_t now)
{
	for (size_t k = 0; k < nsess; k++) {
		struct rsess *s = &sess[k];
		if (s->fd >= 0 && !s->job && (stopping || (now - s->idle >= SESS_IDLE && !s->d->qhead))) sess_close(s);
	}
	/* Destinations nobody needs any more are forgotten, unless they are held. */
	for (struct dest **pp = &dests; *pp;) {
		struct dest *d = *pp;
		if (!d->sessions && !d->qhead && d->holduntil <= now) { *pp = d->next; free(d); }
		else pp = &d->next;
	}
}

/* Starts deliveries from the ready list while slots are free. */
static void dispatch(time_t now)
{
	while (ready_head && !stopping) {
		struct msg *m = ready_head;
		while (m->scan < m->q.nrcpt) {
			size_t i = m->scan;
			if (m->q.state[i] != QS_PENDING || m->info[i].next > now) { m->scan++; continue; }
			if (m->busy[i]) { m->scan++; continue; }
			if (!is_local(m->q.rcpt[i])) {
				remote_group(m, i, now);
				m->scan++;
				continue;
			}
			if (njobs >= conc_local) return;
			if (spawn_local(m, i, &jobs[njobs]) != 0) {
				tern_warn_sys("spawning tern-local for ", m->qid);
				defer(m, i, "4.3.0", "cannot start tern-local", 0, now, -1);
				m->scan++;
				continue;
			}
			njobs++;
			m->inflight++;
			m->scan++;
		}
		ready_pop();
		if (m->inflight == 0) round_end(m, now);
	}
}

/* Runs tern-queue with a report (bounce or success notification); 0 when queued. */
static int inject_report(struct msg *m, const char *envsender, const char *to,
			 const struct dsn_rcpt *r, size_t n, int dbl)
{
	char path[4096];
	struct qprog q;
	if (qprog_path(path, sizeof path, 0) < 0 || qprog_start(&q, path) < 0) return -1;
	struct dsn d = {
		.me = me, .qid = m->qid, .arrival = m->q.ctime, .now = time(0), .to = to,
		.orig_sender = m->q.sender, .doublebounce = dbl, .rcpt = r, .nrcpt = n,
		.msgfd = qfile_msgfd(&m->q), .msglen = m->q.msglen, .envid = m->q.dsn.envid,
		.ret_full = m->q.dsn.ret && strcmp(m->q.dsn.ret, "FULL") == 0, .maxbytes = databytes,
	};
	int bad = dsn_write(q.m, &d) != 0;
	if (d.msgfd >= 0) close(d.msgfd);
	close(q.m);
	stralloc env = {0};
	if (!env_start(&env, envsender) || !env_add_rcpt(&env, to) || !env_finish(&env)) bad = 1;
	if (!bad && fd_write_all(q.e, env.s, env.len) != 0) bad = 1;
	stralloc_free(&env);
	close(q.e);
	int rc = tern_wait(q.pid);
	return bad || rc != 0 ? -1 : 0;
}

/* Sends the reports owed for one kind of outcome as a single RFC 3464 notification:
 * failures (state F → B: a bounce, or a double bounce to the postmaster for a bounce) or
 * successes asked for with NOTIFY=SUCCESS (state S → D).  The state changes only once
 * tern-queue took the report, and are synced, so a crash never reports twice.  A failed
 * recipient whose NOTIFY leaves out FAILURE (NEVER, SUCCESS alone, ...) is only marked. */
static void report(struct msg *m, int success)
{
	const char owed = success ? QS_NOTIFY : QS_FAILED, done = success ? QS_DONE : QS_BOUNCED;
	size_t n = 0, quiet = 0;
	for (size_t i = 0; i < m->q.nrcpt; i++) {
		if (m->q.state[i] != owed) continue;
		if (success || (notify_bits(m, i) & ENV_NOTIFY_FAILURE)) n++;
		else quiet++;
	}
	if (!n && !quiet) return;
	const char *sender = m->q.sender;
	if (!n) {
		/* only unwanted failure reports: nothing to send */
	} else if (success && !sender_notifiable(m)) {
		/* S is never set for such a sender; an old file or a hand edit: just finish. */
	} else if (!success && (strcmp(sender, DOUBLEBOUNCE_SENDER) == 0 || (!*sender && !*doublebounceto))) {
		log_msg("dropped", m, "reason", *sender ? "double bounce failed" : "bounce failed; no doublebounceto");
	} else {
		struct dsn_rcpt *r = calloc(n, sizeof *r);
		if (!r) tern_die(EX_TEMP, "out of memory");
		size_t k = 0;
		for (size_t i = 0; i < m->q.nrcpt; i++) {
			if (m->q.state[i] != owed || (!success && !(notify_bits(m, i) & ENV_NOTIFY_FAILURE))) continue;
			r[k].addr = m->q.rcpt[i];
			r[k].action = success ? DSN_DELIVERED : DSN_FAILED;
			if (success) {
				/* Not tern-local's words: they name mailbox paths and programs, which
				 * are none of a (possibly remote) sender's business. */
				r[k].status = m->info[i].status[0] == '2' ? m->info[i].status : "2.0.0";
				r[k].text = "delivered";
			} else {
				r[k].status = m->info[i].status[0] ? m->info[i].status : "5.0.0";
				r[k].text = m->info[i].text[0] ? m->info[i].text : "permanent failure";
			}
			r[k].orcpt = m->q.orcpt[i];
			k++;
		}
		int dbl = !success && !*sender;
		int rc = dbl ? inject_report(m, DOUBLEBOUNCE_SENDER, doublebounceto, r, n, 1)
			     : inject_report(m, "", sender, r, n, 0);
		free(r);
		if (rc != 0) {
			log_msg(success ? "report-deferred" : "bounce-deferred", m, "reason", "tern-queue failed");
			return;		/* states stay F or S: the next round tries again */
		}
		log_msg(dbl ? "doublebounce" : success ? "success-report" : "bounce", m, "to",
			dbl ? doublebounceto : sender);
	}
	for (size_t i = 0; i < m->q.nrcpt; i++)
		if (m->q.state[i] == owed) set_final(m, i, done);
	if (fdatasync(m->q.fd) != 0) tern_warn_sys("fsync of queue/mess/", m->qid);
}

static void round_end(struct msg *m, time_t now)
{
	nround--;
	report(m, 0);
	report(m, 1);
	time_t wake = 0;
	int pending = 0, failed = 0;	/* failed: a report is still owed (F or S) */
	for (size_t i = 0; i < m->q.nrcpt; i++) {
		if (m->q.state[i] == QS_FAILED || m->q.state[i] == QS_NOTIFY) failed = 1;
		if (m->q.state[i] != QS_PENDING) continue;
		pending = 1;
		if (!wake || m->info[i].next < wake) wake = m->info[i].next;
	}
	if (!pending && !failed) {
		char path[4096];
		if (qfile_path(path, sizeof path, "info", m->qid) == 0) unlink(path);
		if (qfile_path(path, sizeof path, "mess", m->qid) == 0 && unlink(path) != 0 && errno != ENOENT)
			tern_warn_sys("removing ", path);
		dirfsync_pending = 1;
		qfile_close(&m->q);
		log_msg("done", m, 0, 0);
		forget(m);
		return;
	}
	if (m->infodirty && qinfo_save(m->qid, m->info, m->q.nrcpt, failed) != 0)
		tern_warn_sys("writing queue/info/", m->qid);
	m->infodirty = 0;
	if (failed) wake = now + 300;		/* the report could not be queued: again soon */
	qfile_close(&m->q);
	m->inround = 0;
	m->wake = wake > now ? wake : now + 1;
	heap_push(m->wake, m);
}

/* ---- job results ---- */

static void job_read(struct job *j)
{
	for (;;) {
		char b[512];
		ssize_t r = read(j->fd, b, sizeof b);
		if (r < 0 && errno == EINTR) continue;
		if (r < 0) return;	/* EAGAIN */
		if (r == 0) { j->eof = 1; return; }
		size_t room = sizeof j->out - 1 - j->outlen;
		size_t k = (size_t)r < room ? (size_t)r : room;
		memcpy(j->out + j->outlen, b, k);
		j->outlen += k;
	}
}

/* The first line of the child's output: "X.Y.Z text". */
static void split_result(struct job *j, char status[16], const char **text, const char *dflt)
{
	j->out[j->outlen] = 0;
	char *nl = strchr(j->out, '\n');
	if (nl) *nl = 0;
	for (char *p = j->out; *p; p++) if ((unsigned char)*p < 0x20) *p = ' ';
	const char *s = j->out;
	size_t k = 0;
	while (k < 15 && s[k] && (s[k] == '.' || (s[k] >= '0' && s[k] <= '9'))) k++;
	if (k >= 5 && (s[k] == ' ' || !s[k]) && s[1] == '.') {
		memcpy(status, s, k); status[k] = 0;
		*text = s[k] ? s + k + 1 : "";
	} else {
		snprintf(status, 16, "%s", dflt);
		*text = s;
	}
	if (!**text) *text = "(no reason given)";
}

/* One recipient's result: r delivered, h failed for good, s try again later. */
static void outcome(struct msg *m, size_t i, char kind, const char *status, const char *text,
		    const char *relay, double delay, time_t now)
{
	char st[16];
	snprintf(st, sizeof st, "%s", status);
	if (kind == 'r') {
		if (st[0] != '2') snprintf(st, sizeof st, "2.0.0");
		/* NOTIFY=SUCCESS: a report is owed; S keeps that across a crash until it is queued. */
		int owed = (notify_bits(m, i) & ENV_NOTIFY_SUCCESS) && sender_notifiable(m);
		if (owed) {
			struct qinfo_rcpt *r = &m->info[i];
			snprintf(r->status, sizeof r->status, "%s", st);
			snprintf(r->text, sizeof r->text, "delivered");
			m->infodirty = 1;
		}
		set_final(m, i, owed ? QS_NOTIFY : QS_DONE);
		log_result("delivered", m, i, st, text, relay, delay);
	} else if (kind == 'h') {
		if (st[0] != '5') snprintf(st, sizeof st, "5.0.0");
		struct qinfo_rcpt *r = &m->info[i];
		snprintf(r->status, sizeof r->status, "%s", st);
		snprintf(r->text, sizeof r->text, "%s", text);
		m->infodirty = 1;
		set_final(m, i, QS_FAILED);
		log_result("failed", m, i, st, text, relay, delay);
	} else {
		if (st[0] != '4') snprintf(st, sizeof st, "4.3.0");
		defer(m, i, st, text, relay, now, delay);
	}
}

static void job_finish(struct job *j, time_t now)
{
	struct msg *m = j->m;
	size_t i = j->rcpt;
	struct timeval tv;
	gettimeofday(&tv, 0);
	/* The queue id starts with the injection time: 8 hex digits of seconds, 5 of µs. */
	char usec[6];
	memcpy(usec, m->q.qid + 8, 5);
	usec[5] = 0;
	double delay = (double)(tv.tv_sec - m->q.ctime) + (tv.tv_usec - (double)strtol(usec, 0, 16)) / 1e6;
	char status[16];
	const char *text;
	int code = j->status;
	if (code == 0 || code == 99) {
		split_result(j, status, &text, "2.0.0");
		outcome(m, i, 'r', status, text, 0, delay, now);
	} else if (code == 100) {
		split_result(j, status, &text, "5.0.0");
		outcome(m, i, 'h', status, text, 0, delay, now);
	} else {
		split_result(j, status, &text, "4.3.0");
		char why[480];
		if (code != 111) {
			snprintf(why, sizeof why, "tern-local exited %d: %s", code, text);
			text = why;
		}
		outcome(m, i, 's', status, text, 0, delay, now);
	}
	close(j->fd);
	m->inflight--;
	if (!m->onready && m->inflight == 0) round_end(m, now);
}

static void reap(time_t now)
{
	pid_t pid;
	int st;
	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		if (pid == zs.pid) { zs.pid = 0; continue; }	/* its socket's EOF says the rest */
		for (size_t k = 0; k < njobs; k++)
			if (jobs[k].pid == pid) { jobs[k].exited = 1; jobs[k].status = code; }
		for (size_t k = 0; k < nsess; k++)
			if (sess[k].pid == pid) { sess[k].exited = 1; sess[k].status = code; }
	}
	sess_reap(now);
	for (size_t k = 0; k < njobs;) {
		struct job *j = &jobs[k];
		if (j->exited) {
			if (!j->eof) job_read(j);	/* the child is gone: what is in the pipe is all there is */
			job_finish(j, now);
			jobs[k] = jobs[--njobs];
		} else k++;
	}
}

/* ---- the queue directory ---- */

static void scan_queue(void)
{
	char path[4096];
	if (tern_path(path, sizeof path, "queue/mess") < 0) return;
	DIR *d = opendir(path);
	if (!d) { tern_warn_sys("opening ", path); return; }
	struct dirent *e;
	while ((e = readdir(d))) if (qid_valid(e->d_name)) add(e->d_name);
	closedir(d);
}

/* Crash leftovers: unpublished tern-queue files older than an hour, stray notes. */
static void clean_tmp(void)
{
	static const char *sub[] = { "queue/tmp", "queue/info" };
	time_t now = time(0);
	for (int s = 0; s < 2; s++) {
		char dir[4096], path[4400];
		if (tern_path(dir, sizeof dir, sub[s]) < 0) continue;
		DIR *d = opendir(dir);
		if (!d) continue;
		struct dirent *e;
		while ((e = readdir(d))) {
			if (e->d_name[0] == '.') continue;
			snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
			struct stat st;
			if (stat(path, &st) != 0) continue;
			if (s == 0 && now - st.st_mtime > 3600) unlink(path);
			if (s == 1) {
				char mess[4096];
				size_t l = strlen(e->d_name);
				int tmp = l > 4 && strcmp(e->d_name + l - 4, ".tmp") == 0;
				if (tmp || (qfile_path(mess, sizeof mess, "mess", e->d_name) == 0 && access(mess, F_OK) != 0))
					unlink(path);
			}
		}
		closedir(d);
	}
}

static void fsync_messdir(void)
{
	char path[4096];
	dirfsync_pending = 0;
	if (tern_path(path, sizeof path, "queue/mess") < 0) return;
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) return;
	if (fsync(fd) != 0) tern_warn_sys("fsync of ", path);
	close(fd);
}

/* Retry everything now (SIGALRM, tern-flush): every recipient's wait ends. */
static void flush_all(time_t now)
{
	size_t n = 0;
	for (size_t h = 0; h < NBUCKET; h++)
		for (struct msg *m = bucket[h]; m; m = m->hnext) {
			if (m->info) for (size_t k = 0; k < m->nrcpt; k++) m->info[k].next = 0;
			if (!m->inround) { m->wake = now; heap_push(now, m); }
			n++;
		}
	struct qlog l;
	qlog_start(&l);
	qlog_kv(&l, "event", "flush");
	qlog_kvu(&l, "messages", n);
	qlog_emit(&l);
}

/* The trigger FIFO's lines.  When it was (nearly) full, a tern-queue may have found no
 * room for its line (it does not wait): then the directory says what is new, at once
 * rather than at the next periodic scan. */
static void handle_trigger(int fd, time_t now)
{
	static char line[128];
	static size_t len;
	char b[4096];
	size_t total = 0;
	long cap = fcntl(fd, F_GETPIPE_SZ);	/* it can change: any writer may resize it */
	if (cap <= 0) cap = 65536;
	for (;;) {
		ssize_t r = read(fd, b, sizeof b);
		if (r < 0 && errno == EINTR) continue;
		if (r <= 0) break;
		total += (size_t)r;
		for (ssize_t i = 0; i < r; i++) {
			if (b[i] != '\n') { if (len < sizeof line - 1) line[len++] = b[i]; continue; }
			line[len] = 0;
			if (line[0] == 'N') add(line + 1);
			else if (line[0] == 'F') flush_all(now);
			else if (line[0] == 'R') scan_queue();
			len = 0;
		}
	}
	/* Lines never straddle the pipe's pages, so a full pipe can hold a line less per
	 * page than its size: half of it read at once is the sign. */
	if (total >= (size_t)cap / 2) {
		struct qlog l;
		qlog_start(&l);
		qlog_kv(&l, "event", "trigger-full");
		qlog_kvu(&l, "bytes", total);
		qlog_emit(&l);
		scan_queue();
	}
}

static int lock_queue(void)
{
	char path[4096];
	if (tern_path(path, sizeof path, "queue/lock") < 0) return -1;
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) return -1;
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) { close(fd); errno = EBUSY; return -1; }
	return fd;
}

static void write_pid(void)
{
	char path[4096], tmp[4200], buf[32];
	if (tern_path(path, sizeof path, "queue/pid") < 0) return;
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) return;
	int n = snprintf(buf, sizeof buf, "%d\n", (int)getpid());
	if (write(fd, buf, (size_t)n) != n || close(fd) != 0 || rename(tmp, path) != 0)
		tern_warn_sys("writing ", path);
}

static void remove_pid(void)
{
	char path[4096];
	if (tern_path(path, sizeof path, "queue/pid") == 0) unlink(path);
}

int main(void)
{
	tern_prog = "tern-send";
	char path[4096];
	if (lock_queue() < 0) {
		if (errno == EBUSY) tern_die(EX_TEMP, "another tern-send is running on ", tern_home());
		tern_die_sys(EX_TEMP, "locking ", tern_home(), "/queue/lock");
	}
	read_control();
	if (tern_path(path, sizeof path, "queue/trigger") < 0) tern_die(EX_TEMP, "home path too long");
	int tfd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (tfd < 0) tern_die_sys(EX_TEMP, "opening ", path);
	int tkeep = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);	/* never see EOF */
	if (tkeep < 0) tern_die_sys(EX_TEMP, "opening ", path, " for writing");
	int sfd = sig_pipe();
	if (sfd < 0 || sig_catch(SIGCHLD) || sig_catch(SIGHUP) || sig_catch(SIGALRM) ||
	    sig_catch(SIGTERM) || sig_catch(SIGINT) || sig_ignore(SIGPIPE))
		tern_die_sys(EX_TEMP, "setting up signals");
	clean_tmp();
	scan_queue();
	write_pid();
	{
		struct qlog l;
		qlog_start(&l);
		qlog_kv(&l, "event", "start");
		qlog_kvu(&l, "queued", nmsg);
		qlog_kvu(&l, "concurrencylocal", conc_local);
		qlog_emit(&l);
	}
	time_t lastscan = time(0), stopat = 0;
	for (;;) {
		time_t now = time(0);
		while (!stopping && heaplen && heap[0].t <= now && nround < MAXROUNDS) {
			struct heapent h = heap_pop();
			if (h.m->dead) {
				if (!h.m->heaprefs) { free(h.m->info); free(h.m->busy); free(h.m); }
				continue;
			}
			if (h.m->inround || h.m->wake != h.t) continue;	/* stale entry */
			round_begin(h.m, now);
		}
		dispatch(now);
		remote_dispatch(now);
		sess_expire(now);
		if (dirfsync_pending) fsync_messdir();
		if (stopping && njobs == 0 && nsess == 0) break;
		if (stopping && now >= stopat) {
			tern_warn("stopping with deliveries still running; they will be retried");
			break;
		}
		int timeout = 60000;
		if (heaplen && !stopping && nround < MAXROUNDS) {
			time_t d = heap[0].t - now;
			timeout = d <= 0 ? 0 : d > 60 ? 60000 : (int)d * 1000;
		}
		if (ready_head && njobs < conc_local) timeout = 0;
		for (size_t k = 0; k < nsess; k++)
			if (sess[k].fd >= 0 && !sess[k].job && timeout > SESS_IDLE * 1000) timeout = SESS_IDLE * 1000;
		static struct pollfd p[3 + MAXJOBS + MAXSESS];
		p[0].fd = sfd; p[0].events = POLLIN;
		p[1].fd = stopping ? -1 : tfd; p[1].events = POLLIN;
		for (size_t k = 0; k < njobs; k++) { p[2 + k].fd = jobs[k].eof ? -1 : jobs[k].fd; p[2 + k].events = POLLIN; }
		for (size_t k = 0; k < nsess; k++) { p[2 + njobs + k].fd = sess[k].fd; p[2 + njobs + k].events = POLLIN; }
		size_t nsess0 = nsess, zk = 2 + njobs + nsess;
		p[zk].fd = zs.fd; p[zk].events = POLLIN;
		if (poll(p, zk + 1, timeout) < 0 && errno != EINTR) tern_die_sys(EX_TEMP, "poll");
		now = time(0);
		for (size_t k = 0; k < njobs; k++)
			if (p[2 + k].revents) job_read(&jobs[k]);
		for (size_t k = 0; k < nsess0; k++)
			if (p[2 + njobs + k].revents && p[2 + njobs + k].fd == sess[k].fd) sess_read(&sess[k], now);
		if (p[0].revents) {
			unsigned char s[64];
			ssize_t n = read(sfd, s, sizeof s);
			for (ssize_t i = 0; i < n; i++) {
				if (s[i] == SIGHUP) {
					read_control();
					zretire = zs.fd >= 0;	/* a new tern-local binary from now on */
					if (zretire && zrunning == 0) zstop();
					struct qlog l; qlog_start(&l); qlog_kv(&l, "event", "reload"); qlog_emit(&l);
				}
				else if (s[i] == SIGALRM) flush_all(now);
				else if ((s[i] == SIGTERM || s[i] == SIGINT) && !stopping) {
					stopping = 1;
					stopat = now + 30;
					struct qlog l;
					qlog_start(&l);
					qlog_kv(&l, "event", "stopping");
					qlog_kvu(&l, "running", njobs);
					qlog_emit(&l);
				}
			}
		}
		if (p[zk].revents && p[zk].fd == zs.fd) zread();	/* before reap: answers end jobs */
		reap(now);
		if (p[1].revents) handle_trigger(tfd, now);
		/* Backstop for a trigger lost to a full FIFO: look at the directory now and then. */
		if (now - lastscan >= 300) { scan_queue(); lastscan = now; }
	}
	if (dirfsync_pending) fsync_messdir();
	remove_pid();
	struct qlog l;
	qlog_start(&l);
	qlog_kv(&l, "event", "stop");
	qlog_emit(&l);
	close(tkeep);
	return 0;
}
