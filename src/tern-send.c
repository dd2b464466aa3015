/* tern-send: the scheduler.  Long-running; picks up new messages from the trigger FIFO,
 * delivers each recipient (tern-local now, tern-remote once it exists) in parallel,
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
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include "addr.h"
#include "control.h"
#include "die.h"
#include "dsn.h"
#include "env.h"
#include "fdio.h"
#include "home.h"
#include "qfile.h"
#include "qlog.h"
#include "qprog.h"
#include "sig.h"
#include "spawn.h"
#include "users.h"

#define EX_TEMP 111
#define MAXJOBS 1000
#define NBUCKET 65536
#define DOUBLEBOUNCE_SENDER "#@[]"

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
	int infodirty;
};

struct job {
	pid_t pid;
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

static unsigned long conc_local = 10, lifetime = 432000, databytes = 52428800;
static char me[256], doublebounceto[512];

/* ---- configuration ---- */

static void read_control(void)
{
	unsigned long v;
	if (control_readulong(&v, "concurrencylocal", 10) >= 0) conc_local = v < 1 ? 1 : v > MAXJOBS ? MAXJOBS : v;
	else tern_warn_sys("control/concurrencylocal unreadable; keeping ", "the old value");
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
	if (!m->heaprefs) { free(m->info); free(m); }
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

static void round_begin(struct msg *m, time_t now)
{
	if (qfile_open(&m->q, m->qid, 1) != 0) {
		if (errno == ENOENT) { log_msg("removed", m, 0, 0); forget(m); return; }
		log_msg("unreadable", m, "error", strerror(errno));
		m->wake = now + 3600;
		heap_push(m->wake, m);
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
	m->nrcpt = m->q.nrcpt;
	if (!m->info) {
		m->info = calloc(m->q.nrcpt, sizeof *m->info);
		if (!m->info) tern_die(EX_TEMP, "out of memory");
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
		       const char *text, double delay)
{
	struct qlog l;
	qlog_start(&l);
	qlog_kv(&l, "qid", m->qid);
	qlog_kv(&l, "event", event);
	qlog_kv(&l, "rcpt", m->q.rcpt[i]);
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
static void defer(struct msg *m, size_t i, const char *status, const char *text, time_t now, double delay)
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
		log_result("failed", m, i, r->status, r->text, delay);
		return;
	}
	size_t n = sizeof backoff / sizeof backoff[0];
	time_t next = now + backoff[r->attempts - 1 < n ? r->attempts - 1 : n - 1];
	if (next > m->q.ctime + (time_t)lifetime) next = m->q.ctime + (time_t)lifetime;
	r->next = next;
	log_result("deferred", m, i, status, text, delay);
}

extern char **environ;

static int spawn_local(struct msg *m, size_t i, struct job *j)
{
	char path[4096], rcptbuf[1100];
	const char *rcpt = m->q.rcpt[i];
	if (!strchr(rcpt, '@')) { snprintf(rcptbuf, sizeof rcptbuf, "%s@%s", rcpt, me); rcpt = rcptbuf; }
	if (tern_binpath(path, sizeof path, "tern-local") < 0) return -1;
	int p[2];
	if (pipe2(p, O_CLOEXEC) != 0) return -1;
	int in = qfile_msgfd(&m->q);
	if (in < 0) { close(p[0]); close(p[1]); return -1; }
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
	snprintf(eqid, sizeof eqid, "TERN_QID=%s", m->qid);
	snprintf(edtag, sizeof edtag, "TERN_DTAG=%s.%zu", m->qid, i);
	snprintf(esize, sizeof esize, "TERN_MSGSIZE=%llu", (unsigned long long)m->q.msglen);
	envp[k++] = eqid;
	envp[k++] = edtag;
	envp[k++] = esize;
	envp[k] = 0;
	char *argv[] = { "tern-local", (char *)m->q.sender, (char *)rcpt, 0 };
	int fds[3] = { in, p[1], -1 };
	pid_t pid = tern_spawn(path, argv, envp, fds);
	int e = errno;
	free(envp);
	close(in);
	close(p[1]);
	if (pid < 0) { close(p[0]); errno = e; return -1; }
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	memset(j, 0, sizeof *j);
	j->pid = pid; j->fd = p[0]; j->m = m; j->rcpt = i;
	gettimeofday(&j->start, 0);
	return 0;
}

static void round_end(struct msg *m, time_t now);

/* Starts deliveries from the ready list while slots are free. */
static void dispatch(time_t now)
{
	while (ready_head && !stopping) {
		struct msg *m = ready_head;
		while (m->scan < m->q.nrcpt) {
			size_t i = m->scan;
			if (m->q.state[i] != QS_PENDING || m->info[i].next > now) { m->scan++; continue; }
			if (!is_local(m->q.rcpt[i])) {
				defer(m, i, "4.4.0", "remote delivery is not available yet (no tern-remote)", now, -1);
				m->scan++;
				continue;
			}
			if (njobs >= conc_local) return;
			if (spawn_local(m, i, &jobs[njobs]) != 0) {
				tern_warn_sys("spawning tern-local for ", m->qid);
				defer(m, i, "4.3.0", "cannot start tern-local", now, -1);
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
		/* NOTIFY=SUCCESS: a report is owed; S keeps that across a crash until it is queued. */
		int owed = (notify_bits(m, i) & ENV_NOTIFY_SUCCESS) && sender_notifiable(m);
		if (owed) {
			struct qinfo_rcpt *r = &m->info[i];
			snprintf(r->status, sizeof r->status, "%s", status);
			snprintf(r->text, sizeof r->text, "delivered");
			m->infodirty = 1;
		}
		set_final(m, i, owed ? QS_NOTIFY : QS_DONE);
		log_result("delivered", m, i, status, text, delay);
	} else if (code == 100) {
		split_result(j, status, &text, "5.0.0");
		if (status[0] != '5') snprintf(status, sizeof status, "5.0.0");
		struct qinfo_rcpt *r = &m->info[i];
		snprintf(r->status, sizeof r->status, "%s", status);
		snprintf(r->text, sizeof r->text, "%s", text);
		m->infodirty = 1;
		set_final(m, i, QS_FAILED);
		log_result("failed", m, i, status, text, delay);
	} else {
		split_result(j, status, &text, "4.3.0");
		if (status[0] != '4') snprintf(status, sizeof status, "4.3.0");
		char why[480];
		if (code != 111) {
			snprintf(why, sizeof why, "tern-local exited %d: %s", code, text);
			text = why;
		}
		defer(m, i, status, text, now, delay);
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
		for (size_t k = 0; k < njobs; k++) {
			if (jobs[k].pid != pid) continue;
			jobs[k].exited = 1;
			jobs[k].status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		}
	}
	for (size_t k = 0; k < njobs;) {
		struct job *j = &jobs[k];
		if (j->exited) {
			job_read(j);	/* the child is gone: what is in the pipe is all there is */
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

static void handle_trigger(int fd, time_t now)
{
	static char line[128];
	static size_t len;
	char b[4096];
	for (;;) {
		ssize_t r = read(fd, b, sizeof b);
		if (r < 0 && errno == EINTR) continue;
		if (r <= 0) return;
		for (ssize_t i = 0; i < r; i++) {
			if (b[i] != '\n') { if (len < sizeof line - 1) line[len++] = b[i]; continue; }
			line[len] = 0;
			if (line[0] == 'N') add(line + 1);
			else if (line[0] == 'F') flush_all(now);
			else if (line[0] == 'R') scan_queue();
			len = 0;
		}
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
		while (!stopping && heaplen && heap[0].t <= now) {
			struct heapent h = heap_pop();
			if (h.m->dead) {
				if (!h.m->heaprefs) { free(h.m->info); free(h.m); }
				continue;
			}
			if (h.m->inround || h.m->wake != h.t) continue;	/* stale entry */
			round_begin(h.m, now);
		}
		dispatch(now);
		if (dirfsync_pending) fsync_messdir();
		if (stopping && njobs == 0) break;
		if (stopping && now >= stopat) {
			tern_warn("stopping with deliveries still running; they will be retried");
			break;
		}
		int timeout = 60000;
		if (heaplen && !stopping) {
			time_t d = heap[0].t - now;
			timeout = d <= 0 ? 0 : d > 60 ? 60000 : (int)d * 1000;
		}
		if (ready_head && njobs < conc_local) timeout = 0;
		struct pollfd p[2 + MAXJOBS];
		p[0].fd = sfd; p[0].events = POLLIN;
		p[1].fd = stopping ? -1 : tfd; p[1].events = POLLIN;
		for (size_t k = 0; k < njobs; k++) { p[2 + k].fd = jobs[k].fd; p[2 + k].events = POLLIN; }
		if (poll(p, 2 + njobs, timeout) < 0 && errno != EINTR) tern_die_sys(EX_TEMP, "poll");
		now = time(0);
		for (size_t k = 0; k < njobs; k++)
			if (p[2 + k].revents) job_read(&jobs[k]);
		if (p[0].revents) {
			unsigned char s[64];
			ssize_t n = read(sfd, s, sizeof s);
			for (ssize_t i = 0; i < n; i++) {
				if (s[i] == SIGHUP) { read_control(); struct qlog l; qlog_start(&l); qlog_kv(&l, "event", "reload"); qlog_emit(&l); }
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
