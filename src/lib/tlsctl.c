#include "tlsctl.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <bearssl.h>

static const struct { uint16_t id; const char *name; } suites[] = {
	{ BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, "ECDHE-ECDSA-AES128-GCM-SHA256" },
	{ BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, "ECDHE-RSA-AES128-GCM-SHA256" },
	{ BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, "ECDHE-ECDSA-AES256-GCM-SHA384" },
	{ BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, "ECDHE-RSA-AES256-GCM-SHA384" },
	{ BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, "ECDHE-ECDSA-CHACHA20-POLY1305" },
	{ BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, "ECDHE-RSA-CHACHA20-POLY1305" },
	{ BR_TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256, "ECDHE-ECDSA-AES128-SHA256" },
	{ BR_TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256, "ECDHE-RSA-AES128-SHA256" },
	{ BR_TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, "ECDHE-ECDSA-AES128-SHA" },
	{ BR_TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, "ECDHE-RSA-AES128-SHA" },
	{ BR_TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, "ECDHE-ECDSA-AES256-SHA" },
	{ BR_TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA, "ECDHE-RSA-AES256-SHA" },
	{ BR_TLS_RSA_WITH_AES_128_GCM_SHA256, "AES128-GCM-SHA256" },
	{ BR_TLS_RSA_WITH_AES_256_GCM_SHA384, "AES256-GCM-SHA384" },
	{ BR_TLS_RSA_WITH_AES_128_CBC_SHA256, "AES128-SHA256" },
	{ BR_TLS_RSA_WITH_AES_128_CBC_SHA, "AES128-SHA" },
	{ BR_TLS_RSA_WITH_AES_256_CBC_SHA, "AES256-SHA" },
};

const char *tls_suite_name(uint16_t suite)
{
	for (size_t i = 0; i < sizeof suites / sizeof suites[0]; i++)
		if (suites[i].id == suite) return suites[i].name;
	return 0;
}

const char *tls_version_name(unsigned v)
{
	switch (v) {
	case BR_TLS10: return "TLSv1.0";
	case BR_TLS11: return "TLSv1.1";
	case BR_TLS12: return "TLSv1.2";
	}
	return 0;
}

/* A value: printable ASCII other than space, '"' and '\\', 1..n-1 bytes. */
static int value(const char *s, size_t len, char *out, size_t n)
{
	if (len == 0 || len >= n) return -1;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f || s[i] == '"' || s[i] == '\\') return -1;
	memcpy(out, s, len);
	out[len] = 0;
	return 0;
}

#define FIELD(k, f) { k, sizeof k - 1, offsetof(struct tls_info, f), sizeof ((struct tls_info *)0)->f }
static const struct { const char *key; size_t kl, off, size; } fields[] = {
	FIELD("tls", proto), FIELD("cipher", cipher), FIELD("sni", sni),
	FIELD("ccert_cn", ccert_cn), FIELD("ccert_fp", ccert_fp), FIELD("ccert_verify", ccert_verify),
};
#define NFIELD (sizeof fields / sizeof fields[0])

int tlsctl_parse(const char *s, size_t n, struct tls_info *ti)
{
	memset(ti, 0, sizeof *ti);
	size_t i = 0;
	while (i < n) {
		size_t k = i;
		while (k < n && s[k] != ' ') k++;
		const char *eq = memchr(s + i, '=', k - i);
		if (!eq) return -1;
		size_t kl = (size_t)(eq - (s + i));
		const char *v = eq + 1;
		size_t vl = (size_t)(s + k - v), f;
		for (f = 0; f < NFIELD; f++)
			if (kl == fields[f].kl && !memcmp(s + i, fields[f].key, kl)) break;
		if (f == NFIELD) return -1;
		char *dst = (char *)ti + fields[f].off;
		if (*dst || value(v, vl, dst, fields[f].size) < 0) return -1;	/* twice, or bad */
		i = k;
		if (i < n) {
			i++;	/* one space between pairs, none at the end */
			if (i == n) return -1;
		}
	}
	return ti->proto[0] && ti->cipher[0] ? 0 : -1;
}

static size_t add(char *out, size_t n, size_t at, const char *key, const char *val)
{
	size_t kl = strlen(key), vl = strlen(val);
	if (at == (size_t)-1 || kl + vl + 2 >= n - at) return (size_t)-1;
	if (at) out[at++] = ' ';
	memcpy(out + at, key, kl);
	at += kl;
	out[at++] = '=';
	memcpy(out + at, val, vl);
	at += vl;
	out[at] = 0;
	return at;
}

size_t tlsctl_format(char *out, size_t n, const struct tls_info *ti)
{
	if (n == 0) return 0;
	out[0] = 0;
	size_t at = 0;
	for (size_t f = 0; f < NFIELD; f++) {
		const char *v = (const char *)ti + fields[f].off;
		if (f < 2 || *v) at = add(out, n, at, fields[f].key, v);	/* tls and cipher always */
	}
	if (at == (size_t)-1) { out[0] = 0; return 0; }
	return at;
}

static const char *alert_name(int a)
{
	static const struct { int a; const char *name; } t[] = {
		{ 0, "close_notify" }, { 10, "unexpected_message" }, { 20, "bad_record_mac" },
		{ 22, "record_overflow" }, { 40, "handshake_failure" }, { 42, "bad_certificate" },
		{ 43, "unsupported_certificate" }, { 44, "certificate_revoked" }, { 45, "certificate_expired" },
		{ 46, "certificate_unknown" }, { 47, "illegal_parameter" }, { 48, "unknown_ca" },
		{ 50, "decode_error" }, { 51, "decrypt_error" }, { 70, "protocol_version" },
		{ 71, "insufficient_security" }, { 80, "internal_error" }, { 90, "user_canceled" },
		{ 100, "no_renegotiation" }, { 110, "unsupported_extension" }, { 112, "unrecognized_name" },
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
		if (t[i].a == a) return t[i].name;
	return "unknown";
}

const char *tls_error_text(int err, char *buf, size_t n)
{
	static const struct { int e; const char *text; } t[] = {
		{ BR_ERR_UNSUPPORTED_VERSION, "no common protocol version" },
		{ BR_ERR_BAD_VERSION, "not TLS or an unknown version" },
		{ BR_ERR_BAD_MAC, "bad record MAC" },
		{ BR_ERR_UNEXPECTED, "unexpected message" },
		{ BR_ERR_BAD_HANDSHAKE, "malformed handshake message" },
		{ BR_ERR_BAD_CIPHER_SUITE, "no common cipher suite" },
		{ BR_ERR_BAD_SECRENEG, "renegotiation refused" },
		{ BR_ERR_BAD_FINISHED, "bad Finished message" },
		{ BR_ERR_BAD_SIGNATURE, "bad signature" },
		{ BR_ERR_NO_CLIENT_AUTH, "client certificate required" },
		{ BR_ERR_IO, "I/O error" },
	};
	if (err >= BR_ERR_SEND_FATAL_ALERT && err < BR_ERR_SEND_FATAL_ALERT + 256)
		snprintf(buf, n, "sent alert %d (%s)", err - BR_ERR_SEND_FATAL_ALERT, alert_name(err - BR_ERR_SEND_FATAL_ALERT));
	else if (err >= BR_ERR_RECV_FATAL_ALERT && err < BR_ERR_RECV_FATAL_ALERT + 256)
		snprintf(buf, n, "received alert %d (%s)", err - BR_ERR_RECV_FATAL_ALERT, alert_name(err - BR_ERR_RECV_FATAL_ALERT));
	else {
		snprintf(buf, n, "error %d", err);
		for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
			if (t[i].e == err) snprintf(buf, n, "%s (%d)", t[i].text, err);
	}
	return buf;
}

void tls_fp_text(const unsigned char fp[32], char out[72])
{
	static const char hex[] = "0123456789abcdef";
	memcpy(out, "sha256:", 7);
	for (size_t i = 0; i < 32; i++) {
		out[7 + 2 * i] = hex[fp[i] >> 4];
		out[8 + 2 * i] = hex[fp[i] & 15];
	}
	out[71] = 0;
}
