#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "qfile.h"
#include "env.h"
#include "home.h"

#define QF_MAXENV (256UL * 1024 * 1024)

int qid_valid(const char *s)
{
	size_t n = 0;
	for (; s[n]; n++) {
		char c = s[n];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return 0;
		if (n >= QID_MAX - 1) return 0;
	}
	return n > 0;
}

/* Time first so ids sort by age; the inode makes it unique among messages that exist. */
void qid_make(char out[QID_MAX], time_t sec, long usec, unsigned long long ino)
{
	snprintf(out, QID_MAX, "%08llx%05lx%llx", (unsigned long long)sec, usec & 0xfffff, ino);
}

void qfile_header(char out[QF_HDRLEN], const struct qfile *q)
{
	memset(out, ' ', QF_HDRLEN);
	int n = snprintf(out, QF_HDRLEN, "TQ1 %llu %llu %llu %llu %llu %zu %lld %lu %016llx",
			 (unsigned long long)q->msgoff, (unsigned long long)q->msglen,
			 (unsigned long long)q->envoff, (unsigned long long)q->envlen,
			 (unsigned long long)q->stateoff, q->nrcpt, (long long)q->ctime, q->uid,
			 (unsigned long long)q->sum);
	if (n > 0 && n < QF_HDRLEN) out[n] = ' ';
	out[QF_HDRLEN - 1] = '\n';
}

int qfile_path(char *out, size_t n, const char *sub, const char *qid)
{
	char rel[128];
	if (!qid_valid(qid)) { errno = EINVAL; return -1; }
	int r = snprintf(rel, sizeof rel, "queue/%s/%s", sub, qid);
	if (r < 0 || (size_t)r >= sizeof rel) { errno = ENAMETOOLONG; return -1; }
	return tern_path(out, n, rel);
}

int qfile_parse_header(struct qfile *q, const char *h)
{
	unsigned long long v[8];
	char buf[QF_HDRLEN + 1];
	memcpy(buf, h, QF_HDRLEN);
	buf[QF_HDRLEN] = 0;
	if (memcmp(buf, "TQ1 ", 4) != 0) return -1;
	char *p = buf + 4;
	for (int i = 0; i < 8; i++) {
		char *end;
		errno = 0;
		if (*p < '0' || *p > '9') return -1;
		v[i] = strtoull(p, &end, 10);
		if (errno || end == p || (*end != ' ' && *end != '\n')) return -1;
		p = end;
		while (*p == ' ') p++;
	}
	/* The sum: 16 hex digits; a header from before it has none. */
	q->hassum = 0;
	q->sum = 0;
	if (*p != '\n') {
		int i = 0;
		for (; i < 16; i++) {
			int d = p[i] >= '0' && p[i] <= '9' ? p[i] - '0' : p[i] >= 'a' && p[i] <= 'f' ? p[i] - 'a' + 10 : -1;
			if (d < 0) return -1;
			q->sum = q->sum << 4 | (uint64_t)d;
		}
		if (p[i] != ' ' && p[i] != '\n') return -1;
		q->hassum = 1;
	}
	q->msgoff = v[0]; q->msglen = v[1]; q->envoff = v[2]; q->envlen = v[3];
	q->stateoff = v[4]; q->nrcpt = (size_t)v[5]; q->ctime = (time_t)v[6]; q->uid = (unsigned long)v[7];
	if (q->msgoff != QF_HDRLEN || q->envoff != q->msgoff + q->msglen ||
	    q->stateoff != q->envoff + q->envlen || q->envlen > QF_MAXENV || q->nrcpt == 0 ||
	    q->nrcpt > q->envlen) return -1;
	return 0;
}

void qsum_init(struct qsum *s)
{
	memset(s, 0, sizeof *s);
}

static uint64_t le64(const unsigned char *p)
{
	uint64_t w;
	memcpy(&w, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	w = __builtin_bswap64(w);
#endif
	return w;
}

void qsum_add(struct qsum *s, const void *v, size_t n)
{
	const unsigned char *p = v;
	while (s->npart && n) {
		s->part[s->npart++] = *p++;
		n--;
		if (s->npart == 8) {
			s->a += le64(s->part);
			s->b += s->a;
			s->npart = 0;
		}
	}
	uint64_t a = s->a, b = s->b;
	for (; n >= 8; p += 8, n -= 8) {
		a += le64(p);
		b += a;
	}
	s->a = a;
	s->b = b;
	memcpy(s->part, p, n);
	s->npart += n;
}

uint64_t qsum_end(struct qsum *s)
{
	if (s->npart) {
		memset(s->part + s->npart, 0, 8 - s->npart);
		s->a += le64(s->part);
		s->b += s->a;
		s->npart = 0;
	}
	return s->a ^ (s->b * 0x9e3779b97f4a7c15ULL);
}

static int pread_all(int fd, void *buf, size_t n, off_t off)
{
	char *b = buf;
	while (n) {
		ssize_t r = pread(fd, b, n, off);
		if (r < 0) { if (errno == EINTR) continue; return -1; }
		if (r == 0) { errno = EINVAL; return -1; }
		b += r; n -= (size_t)r; off += r;
	}
	return 0;
}

int qfile_open(struct qfile *q, const char *qid, int rw)
{
	char path[4096], hdr[QF_HDRLEN];
	memset(q, 0, sizeof *q);
	q->fd = -1;
	if (qfile_path(path, sizeof path, "mess", qid) < 0) return -1;
	memcpy(q->qid, qid, strlen(qid) + 1);
	q->fd = open(path, (rw ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (q->fd < 0) return -1;
	struct stat st;
	if (fstat(q->fd, &st) != 0) goto fail;
	if (pread_all(q->fd, hdr, QF_HDRLEN, 0) < 0 || qfile_parse_header(q, hdr) < 0) goto damaged;
	if ((uint64_t)st.st_size < q->stateoff + q->nrcpt + 1) goto damaged;
	if (!stralloc_ready(&q->env, q->envlen + 1)) { errno = ENOMEM; goto fail; }
	if (pread_all(q->fd, q->env.s, q->envlen, (off_t)q->envoff) < 0) goto bad;
	q->env.len = q->envlen;
	struct env_limits lim = { 65536, q->nrcpt };
	size_t n;
	if (env_parse(q->env.s, q->env.len, &lim, &n) != ENV_OK || n != q->nrcpt) goto bad;
	q->state = malloc(q->nrcpt);
	q->rcpt = malloc(q->nrcpt * sizeof *q->rcpt);
	q->notify = malloc(q->nrcpt * sizeof *q->notify);
	q->orcpt = malloc(q->nrcpt * sizeof *q->orcpt);
	if (!q->state || !q->rcpt || !q->notify || !q->orcpt) { errno = ENOMEM; goto fail; }
	if (pread_all(q->fd, q->state, q->nrcpt, (off_t)q->stateoff) < 0) goto bad;
	q->sender = env_sender(q->env.s);
	size_t pos = 0;
	for (size_t i = 0; i < q->nrcpt; i++)
		q->rcpt[i] = env_next_rcpt_dsn(q->env.s, q->env.len, &pos, &q->notify[i], &q->orcpt[i]);
	env_dsn(q->env.s, q->env.len, &q->dsn);
	return 0;
damaged:
	errno = EBADMSG;
	goto fail;
bad:
	errno = EINVAL;
fail:;
	int e = errno;
	qfile_close(q);
	errno = e;
	return -1;
}

int qfile_verify(const struct qfile *q)
{
	if (!q->hassum) return 0;
	static char buf[65536];
	struct qsum s;
	qsum_init(&s);
	for (uint64_t off = q->msgoff; off < q->stateoff;) {
		size_t n = q->stateoff - off < sizeof buf ? (size_t)(q->stateoff - off) : sizeof buf;
		if (pread_all(q->fd, buf, n, (off_t)off) < 0) {
			if (errno == EINVAL) errno = EBADMSG;	/* shorter than it says */
			return -1;
		}
		qsum_add(&s, buf, n);
		off += n;
	}
	if (qsum_end(&s) != q->sum) { errno = EBADMSG; return -1; }
	return 0;
}

void qfile_close(struct qfile *q)
{
	if (q->fd >= 0) close(q->fd);
	q->fd = -1;
	stralloc_free(&q->env);
	free(q->state);
	free(q->rcpt);
	free(q->notify);
	free(q->orcpt);
	q->state = 0;
	q->rcpt = 0;
	q->notify = 0;
	q->orcpt = 0;
}

int qfile_setstate(struct qfile *q, size_t i, char st)
{
	if (i >= q->nrcpt) { errno = EINVAL; return -1; }
	q->state[i] = st;
	for (;;) {
		ssize_t w = pwrite(q->fd, &st, 1, (off_t)(q->stateoff + i));
		if (w == 1) return 0;
		if (w < 0 && errno == EINTR) continue;
		return -1;
	}
}

int qfile_msgfd(const struct qfile *q)
{
	char path[4096];
	if (qfile_path(path, sizeof path, "mess", q->qid) < 0) return -1;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) return -1;
	if (lseek(fd, (off_t)q->msgoff, SEEK_SET) < 0) { close(fd); return -1; }
	return fd;
}

int qinfo_load(const char *qid, struct qinfo_rcpt *info, size_t nrcpt)
{
	char path[4096];
	memset(info, 0, nrcpt * sizeof *info);
	if (qfile_path(path, sizeof path, "info", qid) < 0) return -1;
	FILE *f = fopen(path, "re");
	if (!f) return errno == ENOENT ? 0 : -1;
	char line[1024];
	while (fgets(line, sizeof line, f)) {
		unsigned long idx, att;
		long long next;
		char status[16];
		int used = 0;
		if (sscanf(line, "%lu %lu %lld %15s %n", &idx, &att, &next, status, &used) < 4 || idx >= nrcpt)
			continue;
		struct qinfo_rcpt *r = &info[idx];
		r->attempts = (unsigned)att;
		r->next = (time_t)next;
		memcpy(r->status, status, sizeof r->status);
		char *t = line + used;
		size_t tl = strcspn(t, "\n");
		if (tl >= sizeof r->text) tl = sizeof r->text - 1;
		memcpy(r->text, t, tl);
		r->text[tl] = 0;
	}
	fclose(f);
	return 0;
}

int qinfo_save(const char *qid, const struct qinfo_rcpt *info, size_t nrcpt, int durable)
{
	char path[4096], tmp[4160];
	if (qfile_path(path, sizeof path, "info", qid) < 0) return -1;
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	FILE *f = fopen(tmp, "we");
	if (!f) return -1;
	for (size_t i = 0; i < nrcpt; i++) {
		const struct qinfo_rcpt *r = &info[i];
		if (!r->attempts && !r->status[0]) continue;
		char text[sizeof r->text];
		size_t j;
		for (j = 0; r->text[j] && j < sizeof text - 1; j++)
			text[j] = (r->text[j] == '\n' || r->text[j] == '\r') ? ' ' : r->text[j];
		text[j] = 0;
		fprintf(f, "%zu %u %lld %s %s\n", i, r->attempts, (long long)r->next,
			r->status[0] ? r->status : "-", text);
	}
	int bad = ferror(f) != 0;
	if (fflush(f) != 0) bad = 1;
	if (durable && fdatasync(fileno(f)) != 0) bad = 1;
	if (fclose(f) != 0) bad = 1;
	if (bad || rename(tmp, path) != 0) { int e = errno; unlink(tmp); errno = e; return -1; }
	return 0;
}
