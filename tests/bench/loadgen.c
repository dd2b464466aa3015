/* loadgen: the SMTP load generator of tests/bench/postfix.py.
 *   loadgen PORT SESSIONS TOTAL SIZE RCPT
 * SESSIONS connections to 127.0.0.1:PORT, each sending TOTAL/SESSIONS messages of about
 * SIZE bytes, one after another, with PIPELINING (MAIL, RCPT and DATA in one write, then
 * the message and its dot).  RCPT may hold one %d, replaced by the message's number.
 * Prints "sent=N seconds=S" when every message got its 250; exit 1 (and a line on
 * stderr) on any other reply or a lost connection.  Written in C so that the client takes
 * little of the 2 cores the servers share with it; the Python client it replaces took up
 * to a tenth of them. */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int port, per;
static size_t size;
static const char *rcpt;

struct conn { int fd; char buf[4096]; size_t len, pos; };

static int getreply(struct conn *c, int *code)
{
	/* One reply, multi-line or not; its code into *code.  0, or -1 when lost. */
	for (;;) {
		char *nl = memchr(c->buf + c->pos, '\n', c->len - c->pos);
		if (nl) {
			char *line = c->buf + c->pos;
			c->pos = (size_t)(nl + 1 - c->buf);
			if (nl - line >= 3 && line[3] == '-') continue;
			*code = atoi(line);
			return 0;
		}
		if (c->pos) { memmove(c->buf, c->buf + c->pos, c->len - c->pos); c->len -= c->pos; c->pos = 0; }
		if (c->len == sizeof c->buf) return -1;
		ssize_t n = read(c->fd, c->buf + c->len, sizeof c->buf - c->len);
		if (n <= 0) return -1;
		c->len += (size_t)n;
	}
}

static int putall(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = write(fd, s, n);
		if (w <= 0) return -1;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

static void *session(void *arg)
{
	long k = (long)arg;
	struct conn *c = calloc(1, sizeof *c);
	char *msg = malloc(size + 1024), cmd[1200], to[1000];
	if (!c || !msg) return (void *)1;
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((unsigned short)port),
				  .sin_addr.s_addr = htonl(0x7f000001) };
	int one = 1, code;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) != 0) { perror("loadgen: connect"); return (void *)1; }
	if (getreply(c, &code) || code != 220) { fprintf(stderr, "loadgen: greeting %d\n", code); return (void *)1; }
	if (putall(c->fd, "EHLO loadgen.test\r\n", 19) || getreply(c, &code) || code != 250) return (void *)1;
	for (int i = (int)k * per; i < ((int)k + 1) * per; i++) {
		const char *pc = strstr(rcpt, "%d");
		if (pc) snprintf(to, sizeof to, "%.*s%d%s", (int)(pc - rcpt), rcpt, i, pc + 2);
		else snprintf(to, sizeof to, "%s", rcpt);
		int n = snprintf(cmd, sizeof cmd, "MAIL FROM:<bench@example.test>\r\nRCPT TO:<%s>\r\nDATA\r\n", to);
		if (putall(c->fd, cmd, (size_t)n)) return (void *)1;
		int c1, c2, c3;
		if (getreply(c, &c1) || getreply(c, &c2) || getreply(c, &c3) || c1 != 250 || c2 != 250 || c3 != 354) {
			fprintf(stderr, "loadgen: MAIL/RCPT/DATA got %d %d %d\n", c1, c2, c3);
			return (void *)1;
		}
		size_t m = (size_t)snprintf(msg, 1024, "From: bench@example.test\r\nTo: %s\r\nSubject: bench %d\r\n"
					    "Message-ID: <loadgen.%d.%ld@example.test>\r\n\r\n", to, i, i, (long)time(0));
		while (m + 78 <= size) { memset(msg + m, 'x', 76); memcpy(msg + m + 76, "\r\n", 2); m += 78; }
		memcpy(msg + m, ".\r\n", 3);
		if (putall(c->fd, msg, m + 3) || getreply(c, &code) || code != 250) {
			fprintf(stderr, "loadgen: end of data got %d\n", code);
			return (void *)1;
		}
	}
	putall(c->fd, "QUIT\r\n", 6);
	getreply(c, &code);
	close(c->fd);
	free(msg);
	free(c);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 6) { fprintf(stderr, "usage: loadgen PORT SESSIONS TOTAL SIZE RCPT\n"); return 2; }
	port = atoi(argv[1]);
	int sessions = atoi(argv[2]), total = atoi(argv[3]);
	size = (size_t)atol(argv[4]);
	rcpt = argv[5];
	if (port <= 0 || sessions <= 0 || sessions > 1000 || total < sessions || size > 64 << 20) {
		fprintf(stderr, "loadgen: bad arguments\n");
		return 2;
	}
	per = total / sessions;
	pthread_t *t = calloc((size_t)sessions, sizeof *t);
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long k = 0; k < sessions; k++)
		if (pthread_create(&t[k], 0, session, (void *)k) != 0) { perror("loadgen: thread"); return 1; }
	int bad = 0;
	for (int k = 0; k < sessions; k++) {
		void *r;
		pthread_join(t[k], &r);
		bad |= r != 0;
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	if (bad) return 1;
	printf("sent=%d seconds=%.3f\n", per * sessions, (double)(b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9);
	return 0;
}
