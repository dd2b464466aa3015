/* tern-tlsd: TLS for the program behind it (BearSSL).  The only process that ever opens
 * a private key.  Under a superserver, on the network socket as fds 0/1:
 *
 *   tern-tlsd [-i] [-u UID:GID] [-U UID:GID] PROG [ARGS...]
 *
 * -i: implicit TLS (ports 465, 995): handshake first, then PROG on a socket of cleartext.
 * Otherwise PROG runs on the network socket itself and may ask for TLS (STARTTLS, STLS)
 * over the TERN_TLSCTL socket: see tlsctl.h.  As root, PROG runs as -u's ids and this
 * process, holding the key, as -U's (default 65534:65534), after the key files are read.
 * Exit: 0 done, 64 usage, 100 no usable certificate, 111 temporary trouble. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>
#include <bearssl.h>

#include "control.h"
#include "die.h"
#include "fdio.h"
#include "home.h"
#include "pem.h"
#include "prot.h"
#include "qlog.h"
#include "tlsc.h"
#include "tlsctl.h"

#define EX_USAGE 64
#define MAXCERT 16
#define PEMMAX (256 * 1024)

struct cert {
	char name[256];			/* file stem: the SNI name it serves */
	br_x509_certificate chain[8];
	size_t chainlen;
	struct pem_list pem;		/* owns the DER the chain points into */
	br_skey_decoder_context key;	/* owns the private key */
	int type;			/* BR_KEYTYPE_RSA or BR_KEYTYPE_EC */
};

static struct cert certs[MAXCERT];
static size_t ncert;
static char remoteip[64] = "unknown";

static void logfail(const char *event, const char *why)
{
	struct qlog l;
	qlog_start(&l);
	qlog_kv(&l, "event", event);
	qlog_kv(&l, "remote", remoteip);
	qlog_kv(&l, "error", why);
	qlog_emit(&l);
}

/* ---- certificates: control/tls/NAME.pem (the chain) with NAME.key ---- */

static int keyfile(const char *path, struct cert *c)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	struct stat st;
	if (fd < 0) tern_die_sys(111, "opening ", path);
	if (fstat(fd, &st) != 0) tern_die_sys(111, "stat ", path);
	/* A key others can read is a key already lost: refuse it loudly, at once. */
	if (st.st_mode & 077)
		tern_die(111, "key file is readable by group or others (chmod 600 it): ", path);
	struct pem_list l = { 0, 0, 0 };
	if (pem_load_fd(&l, fd, PEMMAX) != 0) tern_die_sys(111, "reading ", path);
	int found = 0;
	for (size_t i = 0; i < l.n && !found; i++) {
		if (!strstr(l.obj[i].label, "PRIVATE KEY")) continue;
		br_skey_decoder_init(&c->key);
		br_skey_decoder_push(&c->key, l.obj[i].der, l.obj[i].len);
		if (br_skey_decoder_last_error(&c->key) != 0) {
			pem_free(&l);
			tern_die(111, "not a usable RSA or EC private key: ", path);
		}
		c->type = br_skey_decoder_key_type(&c->key);
		found = 1;
	}
	pem_free(&l);
	if (!found) tern_die(111, "no private key in ", path);
	return 0;
}

static void load_cert(const char *dir, const char *file)
{
	size_t fl = strlen(file);
	if (fl < 5 || strcmp(file + fl - 4, ".pem") != 0 || file[0] == '.') return;
	if (ncert == MAXCERT) { tern_warn("more than 16 certificates: ignoring ", file); return; }
	struct cert *c = &certs[ncert];
	char pem[4096], key[4096];
	if (fl - 4 >= sizeof c->name) return;
	memcpy(c->name, file, fl - 4);
	c->name[fl - 4] = 0;
	if (snprintf(pem, sizeof pem, "%s/%s", dir, file) >= (int)sizeof pem) return;
	/* cert.pem goes with key.pem (the names doc/control.md always had); NAME.pem with NAME.key. */
	if (!strcmp(c->name, "cert")) {
		if (snprintf(key, sizeof key, "%s/key.pem", dir) >= (int)sizeof key) return;
	} else if (!strcmp(c->name, "key")) return;
	else if (snprintf(key, sizeof key, "%s/%s.key", dir, c->name) >= (int)sizeof key) return;
	if (pem_load(&c->pem, pem, PEMMAX) != 0) tern_die_sys(111, "reading ", pem);
	c->chainlen = 0;
	for (size_t i = 0; i < c->pem.n && c->chainlen < 8; i++) {
		if (strcmp(c->pem.obj[i].label, "CERTIFICATE") != 0) continue;
		c->chain[c->chainlen].data = c->pem.obj[i].der;
		c->chain[c->chainlen].data_len = c->pem.obj[i].len;
		c->chainlen++;
	}
	if (!c->chainlen) tern_die(111, "no certificate in ", pem);
	keyfile(key, c);
	for (char *p = c->name; *p; p++)
		if (*p >= 'A' && *p <= 'Z') *p = (char)(*p - 'A' + 'a');
	ncert++;
}

static void load_certs(void)
{
	char dir[4096];
	if (tern_path(dir, sizeof dir, "control/tls") != 0) tern_die(111, "TERN_HOME too long");
	DIR *d = opendir(dir);
	if (!d) {
		if (errno == ENOENT) return;
		tern_die_sys(111, "opening ", dir);
	}
	/* Sorted, so that which certificate is the default does not depend on the disk. */
	char names[MAXCERT * 2][256];
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d)) && n < sizeof names / sizeof names[0]) {
		size_t l = strlen(e->d_name);
		if (l < sizeof names[0]) memcpy(names[n++], e->d_name, l + 1);
	}
	closedir(d);
	qsort(names, n, sizeof names[0], (int (*)(const void *, const void *))strcmp);
	for (size_t i = 0; i < n; i++) load_cert(dir, names[i]);
}

/* ---- the policy: which chain for this client (SNI first, then what it can verify) ---- */

struct policy { const br_ssl_server_policy_class *vtable; };

static int usable(const struct cert *c, int rsa, int ec)
{
	return (c->type == BR_KEYTYPE_RSA && rsa) || (c->type == BR_KEYTYPE_EC && ec);
}

static int choose(const br_ssl_server_policy_class **pctx, const br_ssl_server_context *ccc,
		  br_ssl_server_choices *choices)
{
	(void)pctx;
	br_ssl_server_context *cc = (br_ssl_server_context *)ccc;
	size_t ns;
	const br_suite_translated *st = br_ssl_server_get_client_suites(cc, &ns);
	int rsa = 0, ec = 0;
	for (size_t i = 0; i < ns; i++) {
		unsigned kx = st[i][1] >> 12;
		if (kx == BR_SSLKEYX_ECDHE_RSA) rsa = 1;
		if (kx == BR_SSLKEYX_ECDHE_ECDSA) ec = 1;
	}
	const char *sni = br_ssl_engine_get_server_name(&cc->eng);
	const struct cert *pick = 0;
	for (size_t i = 0; i < ncert && !pick; i++)
		if (sni && *sni && !strcasecmp(sni, certs[i].name) && usable(&certs[i], rsa, ec)) pick = &certs[i];
	for (size_t i = 0; i < ncert && !pick; i++)
		if (usable(&certs[i], rsa, ec)) pick = &certs[i];
	if (!pick) return 0;
	/* Hand the rest to BearSSL's own single-chain policy for that key: it replaces
	 * cc's policy, so do_keyx and do_sign go straight to it. */
	if (pick->type == BR_KEYTYPE_RSA)
		br_ssl_server_set_single_rsa(cc, pick->chain, pick->chainlen, br_skey_decoder_get_rsa(&pick->key),
					     BR_KEYTYPE_SIGN, br_rsa_private_get_default(), br_rsa_pkcs1_sign_get_default());
	else
		br_ssl_server_set_single_ec(cc, pick->chain, pick->chainlen, br_skey_decoder_get_ec(&pick->key),
					    BR_KEYTYPE_SIGN, BR_KEYTYPE_EC, br_ec_get_default(),
					    br_ecdsa_sign_asn1_get_default());
	return (*cc->policy_vtable)->choose(cc->policy_vtable, cc, choices);
}

static uint32_t nokeyx(const br_ssl_server_policy_class **p, unsigned char *d, size_t *l)
{
	(void)p; (void)d; (void)l;
	return 0;
}

static size_t nosign(const br_ssl_server_policy_class **p, unsigned a, unsigned char *d, size_t l, size_t m)
{
	(void)p; (void)a; (void)d; (void)l; (void)m;
	return 0;
}

static const br_ssl_server_policy_class policy_vtable = { sizeof(struct policy), choose, nokeyx, nosign };
static struct policy policy = { &policy_vtable };

static br_ssl_server_context sc;
static void setup_clientca(void);
static unsigned char iobuf[BR_SSL_BUFSIZE_BIDI];

/* TLS 1.2 only (RFC 8996 retired 1.0 and 1.1; BearSSL has no 1.3), ECDHE with AEAD
 * ciphers only: forward secrecy and no CBC padding oracles. */
static void setup(void)
{
	static const uint16_t suites[] = {
		BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	};
	br_ssl_server_zero(&sc);
	br_ssl_engine_set_versions(&sc.eng, BR_TLS12, BR_TLS12);
	br_ssl_engine_set_suites(&sc.eng, suites, sizeof suites / sizeof suites[0]);
	br_ssl_engine_set_hash(&sc.eng, br_sha1_ID, &br_sha1_vtable);
	br_ssl_engine_set_hash(&sc.eng, br_sha224_ID, &br_sha224_vtable);
	br_ssl_engine_set_hash(&sc.eng, br_sha256_ID, &br_sha256_vtable);
	br_ssl_engine_set_hash(&sc.eng, br_sha384_ID, &br_sha384_vtable);
	br_ssl_engine_set_hash(&sc.eng, br_sha512_ID, &br_sha512_vtable);
	br_ssl_engine_set_prf_sha256(&sc.eng, &br_tls12_sha256_prf);
	br_ssl_engine_set_prf_sha384(&sc.eng, &br_tls12_sha384_prf);
	br_ssl_engine_set_default_ec(&sc.eng);
	br_ssl_engine_set_default_aes_gcm(&sc.eng);
	br_ssl_engine_set_default_chapol(&sc.eng);
	br_ssl_engine_add_flags(&sc.eng, BR_OPT_NO_RENEGOTIATION | BR_OPT_ENFORCE_SERVER_PREFERENCES);
	br_ssl_server_set_policy(&sc, &policy.vtable);
	br_ssl_engine_set_buffer(&sc.eng, iobuf, sizeof iobuf, 1);
	setup_clientca();
	unsigned char seed[32];
	if (getentropy(seed, sizeof seed) != 0) tern_die_sys(111, "getentropy");
	br_ssl_engine_inject_entropy(&sc.eng, seed, sizeof seed);
	explicit_bzero(seed, sizeof seed);
	if (!br_ssl_server_reset(&sc)) tern_die(111, "TLS engine setup failed");
}

/* ---- client certificates: asked for only when control/tlsclientca names CAs ---- */

/* BearSSL's own chain validation, plus what the program is told: whether a certificate
 * came, its fingerprint and CN, and the verdict.  A chain that does not validate does
 * not end the session (BR_OPT_TOLERATE_NO_CLIENT_AUTH): the client is just not
 * authenticated. */
static struct ccert {
	const br_x509_class *vtable;
	br_x509_minimal_context mini;
	br_sha256_context sha;
	br_name_element cn;
	char cnbuf[128];
	unsigned ncert;
	int ok;
	unsigned char fp[32];
} cx;
static struct tlsc_ca clientca;

#define INNER (&cx.mini.vtable)

static void cx_start_chain(const br_x509_class **c, const char *name)
{
	(void)c;
	cx.ncert = 0;
	cx.ok = 0;
	(*INNER)->start_chain(INNER, name);
}

static void cx_start_cert(const br_x509_class **c, uint32_t len)
{
	(void)c;
	if (cx.ncert == 0) br_sha256_init(&cx.sha);
	(*INNER)->start_cert(INNER, len);
}

static void cx_append(const br_x509_class **c, const unsigned char *buf, size_t len)
{
	(void)c;
	if (cx.ncert == 0) br_sha256_update(&cx.sha, buf, len);
	(*INNER)->append(INNER, buf, len);
}

static void cx_end_cert(const br_x509_class **c)
{
	(void)c;
	if (cx.ncert++ == 0) br_sha256_out(&cx.sha, cx.fp);
	(*INNER)->end_cert(INNER);
}

static unsigned cx_end_chain(const br_x509_class **c)
{
	(void)c;
	unsigned r = (*INNER)->end_chain(INNER);
	cx.ok = r == 0 && cx.ncert > 0;
	return r;
}

static const br_x509_pkey *cx_get_pkey(const br_x509_class *const *c, unsigned *usages)
{
	(void)c;
	return (*INNER)->get_pkey(INNER, usages);
}

static const br_x509_class cx_vtable = {
	sizeof(struct ccert), cx_start_chain, cx_start_cert, cx_append, cx_end_cert, cx_end_chain, cx_get_pkey
};

static void load_clientca(void)
{
	char path[4096];
	if (tern_path(path, sizeof path, "control/tlsclientca") != 0) tern_die(111, "TERN_HOME too long");
	if (access(path, F_OK) != 0) return;
	if (tlsc_ca_load(&clientca, path) != 0) tern_die_sys(111, "reading ", path);
}

static void setup_clientca(void)
{
	if (!clientca.n) return;
	br_x509_minimal_init_full(&cx.mini, clientca.ta, clientca.n);
	static const unsigned char oid_cn[] = { 3, 0x55, 0x04, 0x03 };
	cx.cn.oid = oid_cn;
	cx.cn.buf = cx.cnbuf;
	cx.cn.len = sizeof cx.cnbuf;
	br_x509_minimal_set_name_elements(&cx.mini, &cx.cn, 1);
	cx.vtable = &cx_vtable;
	br_ssl_engine_set_x509(&sc.eng, &cx.vtable);
	br_ssl_engine_set_default_rsavrfy(&sc.eng);
	br_ssl_engine_set_default_ecdsa(&sc.eng);
	br_ssl_server_set_trust_anchor_names_alt(&sc, clientca.ta, clientca.n);
	br_ssl_engine_add_flags(&sc.eng, BR_OPT_TOLERATE_NO_CLIENT_AUTH);
}

static void describe_ccert(struct tls_info *ti)
{
	if (!cx.ncert) return;
	tls_fp_text(cx.fp, ti->ccert_fp);
	/* A name is a label for logs, never an identity to match: made printable. */
	size_t k = 0;
	if (cx.cn.status > 0)
		for (; cx.cnbuf[k] && k + 1 < sizeof ti->ccert_cn; k++) {
			unsigned char c = (unsigned char)cx.cnbuf[k];
			ti->ccert_cn[k] = c > ' ' && c < 0x7f && c != '"' && c != '\\' ? (char)c : '_';
		}
	ti->ccert_cn[k] = 0;
	if (!k) memcpy(ti->ccert_cn, "none", 5);
	memcpy(ti->ccert_verify, cx.ok ? "ok" : "fail", cx.ok ? 3 : 5);
}

/* ---- the pump: network records <-> engine <-> cleartext socket ---- */

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* Runs the engine until the handshake is done (app < 0) or the session is over.
 * timeout_ms bounds the handshake and the goodbye; a session's idle time is the
 * program's to bound.  0 on a clean end, -1 (with *why) otherwise. */
static int pump(int app, long long timeout_ms, const char **why)
{
	br_ssl_engine_context *eng = &sc.eng;
	int app_rd = app >= 0, app_wr = app >= 0, net_rd = 1;
	long long deadline = timeout_ms > 0 ? now_ms() + timeout_ms : -1;
	*why = "closed";
	for (;;) {
		unsigned st = br_ssl_engine_current_state(eng);
		if (st & BR_SSL_CLOSED) {
			int err = br_ssl_engine_last_error(eng);
			if (err == BR_ERR_OK) return 0;
			static char e[80];
			*why = tls_error_text(err, e, sizeof e);
			return -1;
		}
		if (app < 0 && (st & BR_SSL_SENDAPP)) return 0;
		struct pollfd p[3];
		int np = 0, inet = -1, onet = -1, iapp = -1;
		if ((st & BR_SSL_RECVREC) && net_rd) { p[np] = (struct pollfd){ 0, POLLIN, 0 }; inet = np++; }
		if (st & BR_SSL_SENDREC) { p[np] = (struct pollfd){ 1, POLLOUT, 0 }; onet = np++; }
		short ev = 0;
		if (app_rd && (st & BR_SSL_SENDAPP)) ev |= POLLIN;
		if (app_wr && (st & BR_SSL_RECVAPP)) ev |= POLLOUT;
		if (ev) { p[np] = (struct pollfd){ app, ev, 0 }; iapp = np++; }
		if (np == 0) {
			/* Nothing can move: the client is gone and the engine waits for it. */
			if (!net_rd) { *why = "client closed the connection"; return app_rd ? -1 : 0; }
			*why = "engine stalled";
			return -1;
		}
		int wait = -1;
		if (deadline >= 0) {
			long long left = deadline - now_ms();
			if (left <= 0) { *why = "timeout"; return -1; }
			wait = (int)left;
		}
		int r = poll(p, (nfds_t)np, wait);
		if (r < 0) {
			if (errno == EINTR) continue;
			*why = "poll failed";
			return -1;
		}
		if (r == 0) { *why = "timeout"; return -1; }
		if (onet >= 0 && p[onet].revents) {
			size_t len;
			unsigned char *b = br_ssl_engine_sendrec_buf(eng, &len);
			ssize_t w = write(1, b, len);
			if (w < 0 && errno != EAGAIN && errno != EINTR) { *why = "write to client failed"; return -1; }
			if (w > 0) br_ssl_engine_sendrec_ack(eng, (size_t)w);
		}
		if (inet >= 0 && p[inet].revents) {
			size_t len;
			unsigned char *b = br_ssl_engine_recvrec_buf(eng, &len);
			ssize_t n = read(0, b, len);
			if (n > 0) br_ssl_engine_recvrec_ack(eng, (size_t)n);
			else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
				net_rd = 0;
				/* The program sees the end of its input; what it still says goes nowhere. */
				if (app_wr) { shutdown(app, SHUT_WR); app_wr = 0; }
				if (app < 0) { *why = "client closed the connection"; return -1; }
			}
		}
		if (iapp >= 0 && (p[iapp].revents & (POLLOUT | POLLERR | POLLHUP)) && app_wr && (st & BR_SSL_RECVAPP)) {
			size_t len;
			unsigned char *b = br_ssl_engine_recvapp_buf(eng, &len);
			ssize_t w = send(app, b, len, MSG_NOSIGNAL);
			if (w > 0) br_ssl_engine_recvapp_ack(eng, (size_t)w);
			else if (w < 0 && errno != EAGAIN && errno != EINTR) app_wr = 0;
		}
		if (iapp >= 0 && (p[iapp].revents & (POLLIN | POLLERR | POLLHUP)) && app_rd && (st & BR_SSL_SENDAPP)) {
			size_t len;
			unsigned char *b = br_ssl_engine_sendapp_buf(eng, &len);
			ssize_t n = read(app, b, len);
			if (n > 0) {
				br_ssl_engine_sendapp_ack(eng, (size_t)n);
				br_ssl_engine_flush(eng, 0);
			} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
				/* The program is done: say goodbye (close_notify), bounded. */
				app_rd = 0;
				br_ssl_engine_close(eng);
				if (!net_rd) return 0;
				deadline = now_ms() + 5000;
			}
		}
		if (!app_rd && !net_rd) return 0;
	}
}

static void describe(struct tls_info *ti)
{
	br_ssl_session_parameters sp;
	memset(ti, 0, sizeof *ti);
	br_ssl_engine_get_session_parameters(&sc.eng, &sp);
	const char *v = tls_version_name(br_ssl_engine_get_version(&sc.eng));
	const char *c = tls_suite_name(sp.cipher_suite);
	snprintf(ti->proto, sizeof ti->proto, "%s", v ? v : "unknown");
	snprintf(ti->cipher, sizeof ti->cipher, "%s", c ? c : "unknown");
	const char *sni = br_ssl_engine_get_server_name(&sc.eng);
	size_t k = 0;
	for (; sni && sni[k] && k + 1 < sizeof ti->sni; k++) {
		char ch = sni[k];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		      ch == '.' || ch == '-' || ch == '_')) { k = 0; break; }
		ti->sni[k] = ch;
	}
	ti->sni[k] = 0;
	describe_ccert(ti);
}

/* ---- the environment a superserver may not have given ---- */

static void peerenv(void)
{
	const char *ip = getenv("TCPREMOTEIP");
	if (ip && *ip) { snprintf(remoteip, sizeof remoteip, "%s", ip); return; }
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	char buf[64], port[16];
	for (int local = 0; local < 2; local++) {
		len = sizeof ss;
		int r = local ? getsockname(0, (struct sockaddr *)&ss, &len) : getpeername(0, (struct sockaddr *)&ss, &len);
		if (r != 0) return;
		unsigned pn;
		if (ss.ss_family == AF_INET) {
			inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, buf, sizeof buf);
			pn = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		} else if (ss.ss_family == AF_INET6) {
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, buf, sizeof buf);
			pn = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
		} else return;
		snprintf(port, sizeof port, "%u", pn);
		if (setenv(local ? "TCPLOCALIP" : "TCPREMOTEIP", buf, 1) != 0 ||
		    setenv(local ? "TCPLOCALPORT" : "TCPREMOTEPORT", port, 1) != 0) tern_die_sys(111, "setenv");
		if (!local) snprintf(remoteip, sizeof remoteip, "%s", buf);
	}
	if (setenv("PROTO", "TCP", 0) != 0) tern_die_sys(111, "setenv");
}

/* ---- main ---- */

static uid_t app_uid, tls_uid = 65534;
static gid_t app_gid, tls_gid = 65534;
static int app_drop;

static void usage(void)
{
	tern_die(EX_USAGE, "usage: tern-tlsd [-i] [-u UID:GID] [-U UID:GID] PROG [ARGS...]");
}

/* The program's half: PROG as -u's ids, fd `keep' open for it. */
static void run_app(char **argv, int gate)
{
	if (getuid() == 0 && app_drop && prot_drop(app_uid, app_gid) != 0)
		tern_die_sys(111, "dropping privileges for ", argv[0]);
	if (gate >= 0) {
		/* Implicit TLS: wait for the handshake's outcome; nothing but a description
		 * lets the program start. */
		char line[TLSCTL_LINEMAX];
		size_t n = 0;
		for (;;) {
			ssize_t r = read(gate, line + n, sizeof line - 1 - n);
			if (r < 0 && errno == EINTR) continue;
			if (r <= 0) _exit(0);
			n += (size_t)r;
			if (memchr(line, '\n', n) || n == sizeof line - 1) break;
		}
		char *nl = memchr(line, '\n', n);
		struct tls_info ti;
		if (!nl || tlsctl_parse(line, (size_t)(nl - line), &ti) != 0) _exit(111);
		*nl = 0;
		if (setenv("TERN_TLS", line, 1) != 0) _exit(111);
		close(gate);
	}
	execvp(argv[0], argv);
	tern_die_sys(111, "running ", argv[0]);
}

static pid_t child;

static int finish(int rc)
{
	int st;
	if (child > 0) {
		while (waitpid(child, &st, 0) < 0 && errno == EINTR) {}
	}
	return rc;
}

int main(int argc, char **argv)
{
	tern_prog = "tern-tlsd";
	int implicit = 0, opt;
	while ((opt = getopt(argc, argv, "+iu:U:")) != -1) {
		if (opt == 'i') implicit = 1;
		else if (opt == 'u') { if (prot_scan(optarg, &app_uid, &app_gid) != 0) usage(); app_drop = 1; }
		else if (opt == 'U') { if (prot_scan(optarg, &tls_uid, &tls_gid) != 0) usage(); }
		else usage();
	}
	if (optind >= argc) usage();
	char **prog = argv + optind;
	signal(SIGPIPE, SIG_IGN);
	peerenv();
	unsetenv("TERN_TLS");
	unsetenv("TERN_TLSCTL");
	load_certs();
	load_clientca();
	unsigned long tmo;
	if (control_readulong(&tmo, "timeouttls", 60) < 0) tern_die_sys(111, "reading control/timeouttls");
	if (!ncert) {
		if (implicit) tern_die(100, "no certificate in control/tls: no TLS");
		/* STARTTLS is not offered without a certificate: the program runs alone. */
		tern_warn("no certificate in control/tls: STARTTLS not offered");
		if (getuid() == 0 && app_drop && prot_drop(app_uid, app_gid) != 0) tern_die_sys(111, "dropping privileges");
		execvp(prog[0], prog);
		tern_die_sys(111, "running ", prog[0]);
	}
	int sp[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) != 0) tern_die_sys(111, "socketpair");
	int gate[2] = { -1, -1 };
	if (implicit && pipe2(gate, O_CLOEXEC) != 0) tern_die_sys(111, "pipe");
	char fdname[16];
	snprintf(fdname, sizeof fdname, "%d", sp[1]);
	child = fork();
	if (child < 0) tern_die_sys(111, "fork");
	if (child == 0) {
		close(sp[0]);
		if (implicit) {
			close(gate[1]);
			if (dup2(sp[1], 0) < 0 || dup2(sp[1], 1) < 0) _exit(111);
			close(sp[1]);
		} else {
			int fl = fcntl(sp[1], F_GETFD);
			if (fl < 0 || fcntl(sp[1], F_SETFD, fl & ~FD_CLOEXEC) != 0 || setenv("TERN_TLSCTL", fdname, 1) != 0)
				_exit(111);
		}
		for (size_t i = 0; i < ncert; i++) pem_free(&certs[i].pem);
		explicit_bzero(certs, sizeof certs);
		run_app(prog, gate[0]);
	}
	close(sp[1]);
	if (implicit) close(gate[0]);
	/* The key stays in this process: no core dumps, no ptrace by the program's user. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) tern_die_sys(111, "prctl");
	if (getuid() == 0 && prot_drop(tls_uid, tls_gid) != 0) tern_die_sys(111, "dropping privileges");
	setup();
	const char *why;
	struct tls_info ti;
	char desc[TLSCTL_LINEMAX];
	if (!implicit) {
		/* Wait for "starttls\n", or for the program to end without asking. */
		char req[64];
		size_t n = 0;
		for (;;) {
			ssize_t r = read(sp[0], req + n, sizeof req - n);
			if (r < 0 && errno == EINTR) continue;
			if (r <= 0) return finish(0);
			n += (size_t)r;
			if (memchr(req, '\n', n) || n == sizeof req) break;
		}
		if (n != strlen(TLSCTL_REQUEST) || memcmp(req, TLSCTL_REQUEST, n) != 0) {
			logfail("tls-fail", "bad control request");
			return finish(111);
		}
	}
	if (nonblock(0) != 0 || nonblock(1) != 0 || nonblock(sp[0]) != 0) tern_die_sys(111, "fcntl");
	/* Handshake flights and replies go out as the engine makes them: without this,
	 * Nagle holds the Finished record behind the client's delayed ACK (40 ms). */
	int one = 1;
	setsockopt(1, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);	/* not TCP: no matter */
	if (pump(-1, (long long)tmo * 1000, &why) != 0) {
		logfail("tls-fail", why);
		if (!implicit) {
			char line[128];
			int k = snprintf(line, sizeof line, "fail %s\n", why);
			if (fd_write_all(sp[0], line, (size_t)k) != 0) {}
		}
		close(sp[0]);
		if (implicit) close(gate[1]);
		return finish(0);
	}
	describe(&ti);
	size_t dl = tlsctl_format(desc, sizeof desc - 5, &ti);
	if (!dl) tern_die(111, "session description too long");
	{
		struct qlog l;
		qlog_start(&l);
		qlog_kv(&l, "event", "tls");
		qlog_kv(&l, "remote", remoteip);
		qlog_kv(&l, "tls", ti.proto);
		qlog_kv(&l, "cipher", ti.cipher);
		if (ti.sni[0]) qlog_kv(&l, "sni", ti.sni);
		if (ti.ccert_fp[0]) {
			qlog_kv(&l, "ccert_cn", ti.ccert_cn);
			qlog_kv(&l, "ccert_fp", ti.ccert_fp);
			qlog_kv(&l, "ccert_verify", ti.ccert_verify);
		}
		qlog_emit(&l);
	}
	char line[TLSCTL_LINEMAX + 8];
	int k = snprintf(line, sizeof line, "%s%s\n", implicit ? "" : "ok ", desc);
	int wfd = implicit ? gate[1] : sp[0];
	/* The control socket is non-blocking now, but it is empty: one short line fits. */
	if (fd_write_all(wfd, line, (size_t)k) != 0) { logfail("tls-fail", "program gone"); return finish(0); }
	if (implicit) close(gate[1]);
	if (pump(sp[0], 0, &why) != 0 && strcmp(why, "client closed the connection") != 0) logfail("tls-end", why);
	close(sp[0]);
	return finish(0);
}
