/* qlog: one event per line in logfmt on stderr: prog=tern-send qid=… event=… */
#ifndef TERN_QLOG_H
#define TERN_QLOG_H
#include <stddef.h>

struct qlog { char buf[2048]; size_t n; };

/* Starts a line with prog=<tern_prog>. */
void qlog_start(struct qlog *l);
/* key=value; value quoted and escaped when it holds space, quote, = or control bytes. */
void qlog_kv(struct qlog *l, const char *key, const char *val);
void qlog_kvb(struct qlog *l, const char *key, const char *val, size_t len);
void qlog_kvu(struct qlog *l, const char *key, unsigned long long val);
/* key=seconds with 3 decimals. */
void qlog_kvt(struct qlog *l, const char *key, double secs);
/* One whole line: sid=SID event=EVENT, then k1=v1 and k2=v2 when k1, k2 are not 0. */
void qlog_event(const char *sid, const char *event, const char *k1, const char *v1,
		const char *k2, const char *v2);
/* Writes the line (truncated if needed, always ending in \n) to fd 2 in one write(). */
void qlog_emit(struct qlog *l);

#endif
