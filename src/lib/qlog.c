#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "qlog.h"
#include "die.h"

static void put(struct qlog *l, const char *s, size_t n)
{
	size_t room = sizeof l->buf - 1 - l->n;	/* keep one byte for \n */
	if (n > room) n = room;
	memcpy(l->buf + l->n, s, n);
	l->n += n;
}

void qlog_start(struct qlog *l)
{
	l->n = 0;
	put(l, "prog=", 5);
	put(l, tern_prog, strlen(tern_prog));
}

void qlog_kvb(struct qlog *l, const char *key, const char *val, size_t len)
{
	int quote = len == 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)val[i];
		if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c >= 0x7f) { quote = 1; break; }
	}
	put(l, " ", 1);
	put(l, key, strlen(key));
	put(l, "=", 1);
	if (!quote) { put(l, val, len); return; }
	put(l, "\"", 1);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)val[i];
		char esc[5];
		if (c == '"' || c == '\\') { esc[0] = '\\'; esc[1] = (char)c; put(l, esc, 2); }
		else if (c < ' ' || c == 0x7f) { snprintf(esc, sizeof esc, "\\x%02x", c); put(l, esc, 4); }
		else put(l, (const char *)&val[i], 1);
	}
	put(l, "\"", 1);
}

void qlog_kv(struct qlog *l, const char *key, const char *val)
{
	qlog_kvb(l, key, val ? val : "", val ? strlen(val) : 0);
}

void qlog_kvu(struct qlog *l, const char *key, unsigned long long val)
{
	char num[32];
	int n = snprintf(num, sizeof num, "%llu", val);
	put(l, " ", 1); put(l, key, strlen(key)); put(l, "=", 1); put(l, num, (size_t)n);
}

void qlog_kvt(struct qlog *l, const char *key, double secs)
{
	char num[48];
	int n = snprintf(num, sizeof num, "%.3f", secs < 0 ? 0 : secs);
	put(l, " ", 1); put(l, key, strlen(key)); put(l, "=", 1); put(l, num, (size_t)n);
}

void qlog_emit(struct qlog *l)
{
	l->buf[l->n++] = '\n';
	ssize_t w = write(2, l->buf, l->n);
	(void)w;
	l->n = 0;
}

void qlog_event(const char *sid, const char *event, const char *k1, const char *v1,
		const char *k2, const char *v2)
{
	struct qlog l;
	qlog_start(&l);
	qlog_kv(&l, "sid", sid);
	qlog_kv(&l, "event", event);
	if (k1) qlog_kv(&l, k1, v1);
	if (k2) qlog_kv(&l, k2, v2);
	qlog_emit(&l);
}
