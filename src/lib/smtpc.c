#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "smtpc.h"

void smtpc_clean(char *out, size_t outn, const char *s, size_t n)
{
	size_t k = 0;
	if (!outn) return;
	for (size_t i = 0; i < n && k + 1 < outn; i++) {
		unsigned char c = (unsigned char)s[i];
		out[k++] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
	}
	out[k] = 0;
}

static void keyword(struct smtpc_ext *x, const char *t, size_t tn)
{
	char kw[32];
	size_t k = 0;
	while (k < tn && k < sizeof kw - 1 && t[k] != ' ' && t[k] != '=') { kw[k] = t[k]; k++; }
	kw[k] = 0;
	if (!strcasecmp(kw, "PIPELINING")) x->pipelining = 1;
	else if (!strcasecmp(kw, "8BITMIME")) x->eightbitmime = 1;
	else if (!strcasecmp(kw, "SMTPUTF8")) x->smtputf8 = 1;
	else if (!strcasecmp(kw, "DSN")) x->dsn = 1;
	else if (!strcasecmp(kw, "STARTTLS")) x->starttls = 1;
	else if (!strcasecmp(kw, "CHUNKING")) x->chunking = 1;
	else if (!strcasecmp(kw, "SIZE")) {
		unsigned long long v = 0;
		/* A limit beyond any message is no limit worth checking: stop growing. */
		for (k++; k < tn && t[k] >= '0' && t[k] <= '9'; k++)
			if (v < 1000000000000ULL) v = v * 10 + (unsigned)(t[k] - '0');
		x->size = v;
	}
}

int smtpc_reply(struct smtp_io *io, struct smtpc_reply *r, struct smtpc_ext *ext)
{
	char line[SMTP_LINEMAX + 1];
	size_t n, tl = 0;
	int done = 0;
	r->code = 0;
	r->text[0] = 0;
	r->status[0] = 0;
	if (ext) memset(ext, 0, sizeof *ext);
	for (int lines = 0; lines < SMTPC_MAXLINES && !done; lines++) {
		int e = smtp_getline(io, line, &n);
		if (e == SMTP_EOF || e == SMTP_TIMEOUT) { r->code = 0; return 0; }
		/* A peer's bare LF or overlong line is its own business: the line still counts. */
		if (n < 3 || line[0] < '2' || line[0] > '5' || line[1] < '0' || line[1] > '9' ||
		    line[2] < '0' || line[2] > '9' || (n > 3 && line[3] != ' ' && line[3] != '-')) {
			r->code = 0;
			return 0;
		}
		int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
		if (lines && code != r->code) { r->code = 0; return 0; }
		r->code = code;
		const char *t = n > 4 ? line + 4 : "";
		size_t tn = n > 4 ? n - 4 : 0;
		if (!lines) tl = (size_t)snprintf(r->text, sizeof r->text, "%d", code);
		if (tn && tl + 2 < sizeof r->text) {
			r->text[tl++] = ' ';
			smtpc_clean(r->text + tl, sizeof r->text - tl, t, tn);
			tl += strlen(r->text + tl);
		}
		if (ext && lines) keyword(ext, t, tn);
		done = n == 3 || line[3] == ' ';
	}
	if (!done) { r->code = 0; return 0; }
	const char *s = r->text + 3;
	size_t k = 0;
	if (*s == ' ') s++;
	while (k < 15 && (s[k] == '.' || (s[k] >= '0' && s[k] <= '9'))) k++;
	if (k >= 5 && s[0] == r->text[0] && s[1] == '.' && (s[k] == ' ' || !s[k])) {
		memcpy(r->status, s, k);
		r->status[k] = 0;
	} else snprintf(r->status, sizeof r->status, "%c.0.0", '0' + r->code / 100);
	return r->code;
}
