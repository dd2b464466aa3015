#include "tlsc.h"
#include "tlsctl.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include "pem.h"
#include "route.h"

/* ---- policies ---- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

/* One fingerprint, s to e: 64 hex digits, colons anywhere. */
static int parse_fp(const char *s, const char *e, unsigned char out[32])
{
	size_t k = 0;
	for (; s < e; s++) {
		if (*s == ':') continue;
		int v = hexval(*s);
		if (v < 0 || k == 64) return -1;
		if (k & 1) out[k / 2] = (unsigned char)(out[k / 2] | v);
		else out[k / 2] = (unsigned char)(v << 4);
		k++;
	}
	return k == 64 ? 0 : -1;
}

int tlsc_policy_parse(const char *s, size_t n, struct tlsc_policy *p)
{
	static const char fpkw[] = "fingerprint:";
	const size_t fpl = sizeof fpkw - 1;
	p->nfp = 0;
	p->level = TLSC_MAY;
	if (n == 4 && strncasecmp(s, "none", 4) == 0) { p->level = TLSC_NONE; return 0; }
	if (n == 3 && strncasecmp(s, "may", 3) == 0) return 0;
	if (n == 6 && strncasecmp(s, "verify", 6) == 0) { p->level = TLSC_VERIFY; return 0; }
	if (n <= fpl || strncasecmp(s, fpkw, fpl) != 0) return -1;
	const char *c = s + fpl, *end = s + n;
	for (;;) {
		const char *comma = memchr(c, ',', (size_t)(end - c));
		const char *e = comma ? comma : end;
		if (p->nfp == TLSC_MAXFP || parse_fp(c, e, p->fp[p->nfp]) != 0) {
			p->nfp = 0;
			return -1;
		}
		p->nfp++;
		if (!comma) break;
		c = comma + 1;
	}
	p->level = TLSC_FINGERPRINT;
	return 0;
}

/* A tlsdestinations line's domain part: up to the first ':' (after the ']' of a literal). */
static int split_dest(const char *line, size_t *dlen, void *arg)
{
	(void)arg;
	const char *c = line[0] == '[' ? strchr(line, ']') : line;
	if (c) c = strchr(c, ':');
	if (!c) return -1;
	*dlen = (size_t)(c - line);
	return 0;
}

int tlsc_policy_lookup(const stralloc *lines, const char *domain, size_t n, struct tlsc_policy *p,
		       const char **bad)
{
	p->level = TLSC_MAY;
	p->nfp = 0;
	*bad = 0;
	const char *line = route_match(lines, domain, n, split_dest, 0);
	if (!line) return 0;
	size_t dl = 0;
	split_dest(line, &dl, 0);
	const char *v = line + dl + 1;
	if (tlsc_policy_parse(v, strlen(v), p) == 0) return 1;
	*bad = line;
	return -1;
}

/* ---- trust anchors ---- */

#define DNMAX 4096	/* a subject DN; longer ones are not worth trusting */

struct dnbuf {
	unsigned char b[DNMAX];
	size_t len;
	int over;
};

static void dn_add(void *ctx, const void *buf, size_t len)
{
	struct dnbuf *d = ctx;
	if (d->over || len > sizeof d->b - d->len) { d->over = 1; return; }
	memcpy(d->b + d->len, buf, len);
	d->len += len;
}

/* One certificate (DER) into ta: its DN and key copied into one block (ta->dn.data). */
static int ta_from_der(br_x509_trust_anchor *ta, const unsigned char *der, size_t len)
{
	static struct dnbuf dn;
	br_x509_decoder_context dc;
	dn.len = 0;
	dn.over = 0;
	br_x509_decoder_init(&dc, dn_add, &dn);
	br_x509_decoder_push(&dc, der, len);
	const br_x509_pkey *pk = br_x509_decoder_get_pkey(&dc);
	if (!pk || dn.over) { errno = EINVAL; return -1; }
	size_t klen;
	if (pk->key_type == BR_KEYTYPE_RSA) klen = pk->key.rsa.nlen + pk->key.rsa.elen;
	else if (pk->key_type == BR_KEYTYPE_EC) klen = pk->key.ec.qlen;
	else { errno = EINVAL; return -1; }
	unsigned char *b = malloc(dn.len + klen + 1);
	if (!b) { errno = ENOMEM; return -1; }
	memcpy(b, dn.b, dn.len);
	unsigned char *k = b + dn.len;
	ta->dn.data = b;
	ta->dn.len = dn.len;
	ta->flags = br_x509_decoder_isCA(&dc) ? BR_X509_TA_CA : 0;
	ta->pkey.key_type = pk->key_type;
	if (pk->key_type == BR_KEYTYPE_RSA) {
		const br_rsa_public_key *r = &pk->key.rsa;
		memcpy(k, r->n, r->nlen);
		memcpy(k + r->nlen, r->e, r->elen);
		ta->pkey.key.rsa.n = k;
		ta->pkey.key.rsa.nlen = r->nlen;
		ta->pkey.key.rsa.e = k + r->nlen;
		ta->pkey.key.rsa.elen = r->elen;
	} else {
		memcpy(k, pk->key.ec.q, pk->key.ec.qlen);
		ta->pkey.key.ec.curve = pk->key.ec.curve;
		ta->pkey.key.ec.q = k;
		ta->pkey.key.ec.qlen = pk->key.ec.qlen;
	}
	return 0;
}

static int is_cert(const char *label)
{
	return strcmp(label, "CERTIFICATE") == 0 || strcmp(label, "X509 CERTIFICATE") == 0;
}

int tlsc_ca_load_fd(struct tlsc_ca *ca, int fd)
{
	struct pem_list l = { 0, 0, 0 };
	ca->ta = 0;
	ca->n = 0;
	if (pem_load_fd(&l, fd, TLSC_CAMAX) != 0) { int e = errno; pem_free(&l); errno = e; return -1; }
	size_t ncert = 0;
	for (size_t i = 0; i < l.n; i++) ncert += is_cert(l.obj[i].label);
	ca->ta = calloc(ncert ? ncert : 1, sizeof *ca->ta);
	if (!ca->ta) { pem_free(&l); errno = ENOMEM; return -1; }
	for (size_t i = 0; i < l.n; i++) {
		if (!is_cert(l.obj[i].label)) continue;
		if (ta_from_der(&ca->ta[ca->n], l.obj[i].der, l.obj[i].len) == 0) ca->n++;
		else if (errno == ENOMEM) { pem_free(&l); tlsc_ca_free(ca); errno = ENOMEM; return -1; }
	}
	pem_free(&l);
	if (!ca->n) { tlsc_ca_free(ca); errno = EINVAL; return -1; }
	return 0;
}

int tlsc_ca_load(struct tlsc_ca *ca, const char *path)
{
	ca->ta = 0;
	ca->n = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	return fd < 0 ? -1 : tlsc_ca_load_fd(ca, fd);
}

void tlsc_ca_free(struct tlsc_ca *ca)
{
	for (size_t i = 0; i < ca->n; i++) free(ca->ta[i].dn.data);
	free(ca->ta);
	ca->ta = 0;
	ca->n = 0;
}

/* ---- the validator ----
 * Every call goes to BearSSL's minimal engine as well, so its verdict on chain, dates and
 * name is known in every mode; the server's own certificate (the first) is also decoded
 * for its key and hashed for its fingerprint.  Only the policy decides whether a bad
 * verdict ends the handshake. */

static struct tlsc_x509 *xv(const br_x509_class **ctx)
{
	return (struct tlsc_x509 *)(void *)ctx;
}

static void xv_start_chain(const br_x509_class **ctx, const char *server_name)
{
	struct tlsc_x509 *x = xv(ctx);
	x->mini.vtable->start_chain(&x->mini.vtable, server_name);
	br_x509_decoder_init(&x->dec, 0, 0);
	br_sha256_init(&x->sha);
	x->ncert = 0;
	x->verr = BR_ERR_X509_EMPTY_CHAIN;
	x->fpmatch = x->checked = x->refused = 0;
}

static void xv_start_cert(const br_x509_class **ctx, uint32_t length)
{
	struct tlsc_x509 *x = xv(ctx);
	x->mini.vtable->start_cert(&x->mini.vtable, length);
}

static void xv_append(const br_x509_class **ctx, const unsigned char *buf, size_t len)
{
	struct tlsc_x509 *x = xv(ctx);
	x->mini.vtable->append(&x->mini.vtable, buf, len);
	if (x->ncert == 0) {
		br_x509_decoder_push(&x->dec, buf, len);
		br_sha256_update(&x->sha, buf, len);
	}
}

static void xv_end_cert(const br_x509_class **ctx)
{
	struct tlsc_x509 *x = xv(ctx);
	x->mini.vtable->end_cert(&x->mini.vtable);
	x->ncert++;
}

static int fp_listed(const struct tlsc_policy *p, const unsigned char fp[32])
{
	for (size_t i = 0; i < p->nfp; i++)
		if (memcmp(p->fp[i], fp, 32) == 0) return 1;
	return 0;
}

static unsigned xv_end_chain(const br_x509_class **ctx)
{
	struct tlsc_x509 *x = xv(ctx);
	x->verr = x->mini.vtable->end_chain(&x->mini.vtable);
	if (!x->ncert) return BR_ERR_X509_EMPTY_CHAIN;
	br_sha256_out(&x->sha, x->fp);
	x->checked = 1;
	int derr = br_x509_decoder_last_error(&x->dec);
	if (derr) return (unsigned)derr;	/* no key to talk to */
	x->fpmatch = fp_listed(&x->pol, x->fp);
	if (x->pol.level == TLSC_VERIFY && x->verr) { x->refused = 1; return x->verr; }
	if (x->pol.level == TLSC_FINGERPRINT && !x->fpmatch) { x->refused = 1; return BR_ERR_X509_NOT_TRUSTED; }
	return 0;
}

static const br_x509_pkey *xv_get_pkey(const br_x509_class *const *ctx, unsigned *usages)
{
	struct tlsc_x509 *x = (struct tlsc_x509 *)(void *)(uintptr_t)ctx;
	/* Verified: the certificate's own key usage counts.  Otherwise nothing was promised
	 * about the key beyond its being the server's. */
	if (x->pol.level == TLSC_VERIFY) return x->mini.vtable->get_pkey(&x->mini.vtable, usages);
	if (usages) *usages = BR_KEYTYPE_KEYX | BR_KEYTYPE_SIGN;
	return br_x509_decoder_get_pkey(&x->dec);
}

static const br_x509_class xv_class = {
	sizeof(struct tlsc_x509),
	xv_start_chain, xv_start_cert, xv_append, xv_end_cert, xv_end_chain, xv_get_pkey,
};

void tlsc_x509_init(struct tlsc_x509 *x, const struct tlsc_policy *p, const struct tlsc_ca *ca)
{
	br_x509_minimal_init_full(&x->mini, ca ? ca->ta : 0, ca ? ca->n : 0);
	x->vtable = &xv_class;
	x->pol = *p;	/* a copy: the caller's need not outlive the session */
	x->ncert = 0;
	x->verr = BR_ERR_X509_EMPTY_CHAIN;
	x->checked = x->refused = x->fpmatch = 0;
}

/* ---- the engine pump ---- */

int tlsc_poll(int fd, short events, time_t deadline)
{
	for (;;) {
		time_t now = time(0);
		if (now >= deadline) { errno = ETIMEDOUT; return -1; }
		struct pollfd p = { fd, events, 0 };
		time_t left = deadline - now;
		int r = poll(&p, 1, left > 86400 ? 86400000 : (int)left * 1000);
		if (r > 0) return 0;
		if (r == 0) { errno = ETIMEDOUT; return -1; }
		if (errno != EINTR) return -1;
	}
}

static time_t wait_until(unsigned wait, time_t total)
{
	time_t d = time(0) + (time_t)wait;
	return total && total < d ? total : d;
}

/* Drives the engine until its state has one of the target bits, moving records over
 * t->fd; each wait for the socket ends after wait seconds (or at total, when set).
 * 0, or -1: the engine closed or failed, or the socket did (t->syserr, t->eof). */
static int run_until(struct tlsc *t, unsigned target, unsigned wait, time_t total)
{
	br_ssl_engine_context *e = &t->cc.eng;
	for (;;) {
		unsigned st = br_ssl_engine_current_state(e);
		if (st & BR_SSL_CLOSED) return -1;
		if (st & BR_SSL_SENDREC) {
			size_t len;
			unsigned char *buf = br_ssl_engine_sendrec_buf(e, &len);
			ssize_t w = write(t->fd, buf, len);
			if (w > 0) { br_ssl_engine_sendrec_ack(e, (size_t)w); continue; }
			if (w < 0 && errno == EINTR) continue;
			if (w < 0 && errno == EAGAIN && tlsc_poll(t->fd, POLLOUT, wait_until(wait, total)) == 0) continue;
			t->syserr = w < 0 ? errno : EIO;
			return -1;
		}
		if (st & target) return 0;
		/* Data the caller is not reading blocks what it wants: a peer out of step. */
		if (st & BR_SSL_RECVAPP) { t->syserr = EPROTO; return -1; }
		if (st & BR_SSL_RECVREC) {
			size_t len;
			unsigned char *buf = br_ssl_engine_recvrec_buf(e, &len);
			ssize_t r = read(t->fd, buf, len);
			if (r > 0) { br_ssl_engine_recvrec_ack(e, (size_t)r); continue; }
			if (r == 0) { t->eof = 1; return -1; }
			if (errno == EINTR) continue;
			if (errno == EAGAIN && tlsc_poll(t->fd, POLLIN, wait_until(wait, total)) == 0) continue;
			t->syserr = errno;
			return -1;
		}
		br_ssl_engine_flush(e, 0);
	}
}

int tlsc_start(struct tlsc *t, int fd, const char *name, const struct tlsc_policy *p,
	       const struct tlsc_ca *ca, unsigned timeout)
{
	t->fd = fd;
	t->syserr = t->eof = t->up = 0;
	t->haveca = ca && ca->n;
	br_ssl_client_init_full(&t->cc, &t->x.mini, 0, 0);
	/* Opportunistic TLS takes what the peer has (anything beats cleartext); where the
	 * admin asked for TLS, nothing older than 1.2. */
	if (p->level != TLSC_MAY) br_ssl_engine_set_versions(&t->cc.eng, BR_TLS12, BR_TLS12);
	tlsc_x509_init(&t->x, p, ca);
	/* A second handshake mid-session could change the peer under a checked session. */
	br_ssl_engine_add_flags(&t->cc.eng, BR_OPT_NO_RENEGOTIATION);
	br_ssl_engine_set_x509(&t->cc.eng, &t->x.vtable);
	br_ssl_engine_set_buffer(&t->cc.eng, t->iobuf, sizeof t->iobuf, 1);
	unsigned char seed[32];
	if (getentropy(seed, sizeof seed) != 0) { t->syserr = errno; return -1; }
	br_ssl_engine_inject_entropy(&t->cc.eng, seed, sizeof seed);
	explicit_bzero(seed, sizeof seed);
	if (!br_ssl_client_reset(&t->cc, name, 0)) return -1;
	if (timeout == 0) timeout = 1;
	if (run_until(t, BR_SSL_SENDAPP | BR_SSL_RECVAPP, timeout, time(0) + (time_t)timeout) != 0) return -1;
	t->up = 1;
	return 0;
}

ssize_t tlsc_read(struct tlsc *t, void *buf, size_t n, unsigned timeout)
{
	br_ssl_engine_context *e = &t->cc.eng;
	if (run_until(t, BR_SSL_RECVAPP, timeout, 0) != 0) {
		if ((br_ssl_engine_current_state(e) & BR_SSL_CLOSED) && br_ssl_engine_last_error(e) == BR_ERR_OK) return 0;
		if (t->syserr) errno = t->syserr;
		else errno = t->eof ? ECONNRESET : EPROTO;
		return -1;
	}
	size_t len;
	unsigned char *p = br_ssl_engine_recvapp_buf(e, &len);
	if (len > n) len = n;
	memcpy(buf, p, len);
	br_ssl_engine_recvapp_ack(e, len);
	return (ssize_t)len;
}

int tlsc_write(struct tlsc *t, const void *buf, size_t n, unsigned timeout)
{
	br_ssl_engine_context *e = &t->cc.eng;
	const unsigned char *s = buf;
	while (n) {
		if (run_until(t, BR_SSL_SENDAPP, timeout, 0) != 0) return -1;
		size_t len;
		unsigned char *p = br_ssl_engine_sendapp_buf(e, &len);
		if (len > n) len = n;
		memcpy(p, s, len);
		br_ssl_engine_sendapp_ack(e, len);
		s += len;
		n -= len;
	}
	br_ssl_engine_flush(e, 0);
	return run_until(t, BR_SSL_SENDAPP, timeout, 0);
}

void tlsc_close(struct tlsc *t, unsigned timeout)
{
	br_ssl_engine_context *e = &t->cc.eng;
	if (br_ssl_engine_current_state(e) & BR_SSL_CLOSED) return;
	br_ssl_engine_close(e);
	/* Our close_notify out; the peer's is not worth waiting for. */
	time_t total = time(0) + (time_t)(timeout ? timeout : 1);
	while (!(br_ssl_engine_current_state(e) & BR_SSL_CLOSED) && (br_ssl_engine_current_state(e) & BR_SSL_SENDREC))
		if (run_until(t, BR_SSL_RECVAPP | BR_SSL_RECVREC, timeout, total) != 0) break;
}

/* ---- what happened ---- */

const char *tlsc_version(const struct tlsc *t)
{
	switch (br_ssl_engine_get_version(&t->cc.eng)) {
	case BR_TLS10: return "TLSv1.0";
	case BR_TLS11: return "TLSv1.1";
	case BR_TLS12: return "TLSv1.2";
	default: return "unknown";
	}
}

static const struct { uint16_t id; const char *name; } suites[] = {
	{ BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, "ECDHE-ECDSA-CHACHA20-POLY1305" },
	{ BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, "ECDHE-RSA-CHACHA20-POLY1305" },
	{ BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, "ECDHE-ECDSA-AES128-GCM-SHA256" },
	{ BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, "ECDHE-RSA-AES128-GCM-SHA256" },
	{ BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, "ECDHE-ECDSA-AES256-GCM-SHA384" },
	{ BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, "ECDHE-RSA-AES256-GCM-SHA384" },
	{ BR_TLS_ECDHE_ECDSA_WITH_AES_128_CCM, "ECDHE-ECDSA-AES128-CCM" },
	{ BR_TLS_ECDHE_ECDSA_WITH_AES_256_CCM, "ECDHE-ECDSA-AES256-CCM" },
	{ BR_TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8, "ECDHE-ECDSA-AES128-CCM8" },
	{ BR_TLS_ECDHE_ECDSA_WITH_AES_256_CCM_8, "ECDHE-ECDSA-AES256-CCM8" },
	{ BR_TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256, "ECDHE-ECDSA-AES128-SHA256" },
	{ BR_TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256, "ECDHE-RSA-AES128-SHA256" },
	{ BR_TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384, "ECDHE-ECDSA-AES256-SHA384" },
	{ BR_TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384, "ECDHE-RSA-AES256-SHA384" },
	{ BR_TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, "ECDHE-ECDSA-AES128-SHA" },
	{ BR_TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, "ECDHE-RSA-AES128-SHA" },
	{ BR_TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, "ECDHE-ECDSA-AES256-SHA" },
	{ BR_TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA, "ECDHE-RSA-AES256-SHA" },
	{ BR_TLS_ECDH_ECDSA_WITH_AES_128_GCM_SHA256, "ECDH-ECDSA-AES128-GCM-SHA256" },
	{ BR_TLS_ECDH_RSA_WITH_AES_128_GCM_SHA256, "ECDH-RSA-AES128-GCM-SHA256" },
	{ BR_TLS_ECDH_ECDSA_WITH_AES_256_GCM_SHA384, "ECDH-ECDSA-AES256-GCM-SHA384" },
	{ BR_TLS_ECDH_RSA_WITH_AES_256_GCM_SHA384, "ECDH-RSA-AES256-GCM-SHA384" },
	{ BR_TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA256, "ECDH-ECDSA-AES128-SHA256" },
	{ BR_TLS_ECDH_RSA_WITH_AES_128_CBC_SHA256, "ECDH-RSA-AES128-SHA256" },
	{ BR_TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA384, "ECDH-ECDSA-AES256-SHA384" },
	{ BR_TLS_ECDH_RSA_WITH_AES_256_CBC_SHA384, "ECDH-RSA-AES256-SHA384" },
	{ BR_TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA, "ECDH-ECDSA-AES128-SHA" },
	{ BR_TLS_ECDH_RSA_WITH_AES_128_CBC_SHA, "ECDH-RSA-AES128-SHA" },
	{ BR_TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA, "ECDH-ECDSA-AES256-SHA" },
	{ BR_TLS_ECDH_RSA_WITH_AES_256_CBC_SHA, "ECDH-RSA-AES256-SHA" },
	{ BR_TLS_RSA_WITH_AES_128_GCM_SHA256, "AES128-GCM-SHA256" },
	{ BR_TLS_RSA_WITH_AES_256_GCM_SHA384, "AES256-GCM-SHA384" },
	{ BR_TLS_RSA_WITH_AES_128_CCM, "AES128-CCM" },
	{ BR_TLS_RSA_WITH_AES_256_CCM, "AES256-CCM" },
	{ BR_TLS_RSA_WITH_AES_128_CCM_8, "AES128-CCM8" },
	{ BR_TLS_RSA_WITH_AES_256_CCM_8, "AES256-CCM8" },
	{ BR_TLS_RSA_WITH_AES_128_CBC_SHA256, "AES128-SHA256" },
	{ BR_TLS_RSA_WITH_AES_256_CBC_SHA256, "AES256-SHA256" },
	{ BR_TLS_RSA_WITH_AES_128_CBC_SHA, "AES128-SHA" },
	{ BR_TLS_RSA_WITH_AES_256_CBC_SHA, "AES256-SHA" },
	{ BR_TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA, "ECDHE-ECDSA-DES-CBC3-SHA" },
	{ BR_TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA, "ECDHE-RSA-DES-CBC3-SHA" },
	{ BR_TLS_ECDH_ECDSA_WITH_3DES_EDE_CBC_SHA, "ECDH-ECDSA-DES-CBC3-SHA" },
	{ BR_TLS_ECDH_RSA_WITH_3DES_EDE_CBC_SHA, "ECDH-RSA-DES-CBC3-SHA" },
	{ BR_TLS_RSA_WITH_3DES_EDE_CBC_SHA, "DES-CBC3-SHA" },
};

const char *tlsc_cipher(const struct tlsc *t, char *buf, size_t n)
{
	br_ssl_session_parameters sp;
	br_ssl_engine_get_session_parameters(&t->cc.eng, &sp);
	for (size_t i = 0; i < sizeof suites / sizeof suites[0]; i++)
		if (suites[i].id == sp.cipher_suite) return suites[i].name;
	snprintf(buf, n, "0x%04X", (unsigned)sp.cipher_suite);
	return buf;
}

void tlsc_fingerprint(const struct tlsc *t, char *out, size_t n)
{
	if (!n) return;
	out[0] = 0;
	if (!t->x.checked || n < 7 + 64 + 1) return;
	tls_fp_text(t->x.fp, out);
}

const char *tlsc_verify(const struct tlsc *t, char *buf, size_t n)
{
	if (!t->x.checked) return "";
	if (!t->haveca) return "unchecked";
	switch (t->x.verr) {
	case 0: return "ok";
	case BR_ERR_X509_NOT_TRUSTED: return "fail(untrusted)";
	case BR_ERR_X509_BAD_SERVER_NAME: return "fail(name-mismatch)";
	case BR_ERR_X509_EXPIRED: return "fail(expired)";
	}
	snprintf(buf, n, "fail(error-%u)", t->x.verr);
	return buf;
}

int tlsc_refused(const struct tlsc *t)
{
	return t->x.refused;
}

const char *tlsc_error(const struct tlsc *t, char *buf, size_t n)
{
	if (t->x.refused) {
		if (t->x.pol.level == TLSC_FINGERPRINT) return "certificate fingerprint not listed";
		switch (t->x.verr) {
		case BR_ERR_X509_NOT_TRUSTED:
			return t->haveca ? "certificate not trusted (unknown issuer)" : "certificate not trusted (no CA bundle)";
		case BR_ERR_X509_BAD_SERVER_NAME: return "certificate not trusted (name does not match)";
		case BR_ERR_X509_EXPIRED: return "certificate not trusted (expired or not yet valid)";
		}
		snprintf(buf, n, "certificate not trusted (BearSSL error %u)", t->x.verr);
		return buf;
	}
	const char *during = t->up ? "over TLS" : "in the TLS handshake";
	if (t->syserr == ETIMEDOUT) { snprintf(buf, n, "timed out %s", during); return buf; }
	if (t->syserr) { snprintf(buf, n, "%s %s", strerror(t->syserr), during); return buf; }
	if (t->eof) { snprintf(buf, n, "connection closed by the server %s", during); return buf; }
	int err = br_ssl_engine_last_error(&t->cc.eng);
	if (err >= BR_ERR_SEND_FATAL_ALERT) snprintf(buf, n, "TLS failed: sent alert %d", err - BR_ERR_SEND_FATAL_ALERT);
	else if (err >= BR_ERR_RECV_FATAL_ALERT) snprintf(buf, n, "TLS failed: the server sent alert %d", err - BR_ERR_RECV_FATAL_ALERT);
	else if (err == BR_ERR_UNSUPPORTED_VERSION || err == BR_ERR_BAD_VERSION) snprintf(buf, n, "TLS failed: no common protocol version (or not TLS), error %d", err);
	else snprintf(buf, n, "TLS failed: BearSSL error %d", err);
	return buf;
}

int tlsc_satisfies(const struct tlsc *t, const struct tlsc_policy *p)
{
	if (p->level == TLSC_VERIFY) return t->x.checked && t->x.verr == 0;
	if (p->level == TLSC_FINGERPRINT) return t->x.checked && fp_listed(p, t->x.fp);
	return 1;
}

/* ---- replies ---- */

int tlsc_reply_complete(const char *buf, size_t n)
{
	size_t start = 0;
	for (size_t i = 0; i < n; i++) {
		if (buf[i] != '\n') continue;
		if (i - start < 4 || buf[start + 3] != '-') return 1;
		start = i + 1;
	}
	return 0;
}
