/* tlsctl: how tern-tlsd and the program behind it talk about TLS.
 *
 * Implicit TLS (tern-tlsd -i): the handshake is done before the program starts; its fds
 * 0/1 are a socket to tern-tlsd carrying cleartext, and TERN_TLS holds the session's
 * description (below).
 *
 * STARTTLS: the program starts on the network socket itself (fds 0/1) and TERN_TLSCTL
 * names a socket to tern-tlsd.  To start TLS it writes "starttls\n" there and stops
 * using fds 0/1.  tern-tlsd handshakes on the network socket and answers one line,
 * "ok " + description + "\n" or "fail " + reason + "\n".  After "ok", the TERN_TLSCTL
 * socket carries the session's cleartext both ways; after "fail" tern-tlsd closes it.
 * Bytes the client sent before the handshake are not the program's to read: it drops
 * whatever it had buffered (CVE-2011-0411), and tern-tlsd reads only TLS records.
 *
 * A description is logfmt: "tls=TLSv1.2 cipher=ECDHE-RSA-AES128-GCM-SHA256" plus
 * " sni=NAME" when the client named the server, and " ccert_cn=... ccert_fp=...
 * ccert_verify=..." when it presented a certificate. */
#ifndef TERN_TLSCTL_H
#define TERN_TLSCTL_H
#include <stddef.h>
#include <stdint.h>

#define TLSCTL_REQUEST "starttls\n"
/* Room for the longest description ("ok " and every field at its largest: about 620
 * bytes) and its newline. */
#define TLSCTL_LINEMAX 1024

struct tls_info {
	char proto[16];		/* "TLSv1.2" */
	char cipher[64];	/* IANA-style OpenSSL name */
	char sni[256];		/* "" if none */
	/* A client certificate, when control/tlsclientca made tern-tlsd ask for one and the
	 * client sent it: its subject's CN (bytes outside printable ASCII, space and quotes
	 * as '_'), "sha256:HEX" of it, and "ok" or "fail" (chained to control/tlsclientca
	 * and the key proven, or not).  All "" without one. */
	char ccert_cn[128];
	char ccert_fp[72];
	char ccert_verify[8];
};

/* Parses a description (n bytes, no newline).  0, or -1 when it is not one. */
int tlsctl_parse(const char *s, size_t n, struct tls_info *ti);
/* Formats a description into out (size n, NUL-terminated).  Returns its length, or 0
 * when it does not fit. */
size_t tlsctl_format(char *out, size_t n, const struct tls_info *ti);
/* The OpenSSL-style name of a BearSSL cipher suite number, or 0 if unknown. */
const char *tls_suite_name(uint16_t suite);
/* "TLSv1.0" .. "TLSv1.2" for BearSSL's BR_TLS10.. numbers, or 0. */
const char *tls_version_name(unsigned v);
/* "sha256:" and the 64 lowercase hex digits of a SHA-256 into out (72 bytes). */
void tls_fp_text(const unsigned char fp[32], char out[72]);
/* A BearSSL engine error for a log line, into buf (size n): "received alert 40
 * (handshake_failure)", "sent alert 70 (protocol_version)", "not TLS or an unknown
 * version (4)", or "error N". */
const char *tls_error_text(int err, char *buf, size_t n);

#endif
