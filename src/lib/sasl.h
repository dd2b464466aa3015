/* sasl: the server side of SASL PLAIN (RFC 4616) and LOGIN, as SMTP AUTH (RFC 4954) and
 * POP3 AUTH (RFC 5034) carry them: strict base64 (RFC 4648 section 4, padding required,
 * no white space) and the PLAIN message's three fields. */
#ifndef TERN_SASL_H
#define TERN_SASL_H
#include <stddef.h>

#define SASL_LINEMAX 12288	/* an AUTH line or response, RFC 4954 section 4 */
#define SASL_FIELDMAX 1024	/* authzid, authcid or password */

/* Decodes n base64 bytes into out (room for at least n / 4 * 3 bytes).  "=" alone is
 * the empty response.  Returns the decoded length, or -1 when s is not strict base64. */
long sasl_b64decode(const char *s, size_t n, unsigned char *out, size_t outn);
/* Encodes n bytes into out (room for 4 * ((n + 2) / 3) + 1 bytes, NUL-terminated). */
size_t sasl_b64encode(const unsigned char *s, size_t n, char *out, size_t outn);

struct sasl_cred {
	char authzid[SASL_FIELDMAX + 1];
	char authcid[SASL_FIELDMAX + 1];
	char pass[SASL_FIELDMAX + 1];
	size_t zlen, clen, plen;
};

/* A decoded PLAIN message (n bytes): authzid NUL authcid NUL passwd.  0, or -1 when it is
 * malformed: not exactly two NULs, an empty authcid or password, a field over
 * SASL_FIELDMAX, or a CR or LF anywhere. */
int sasl_plain(const unsigned char *s, size_t n, struct sasl_cred *c);
/* One LOGIN field (user name or password), decoded: the same rules as a PLAIN field, and
 * no NUL.  0 or -1. */
int sasl_field(const unsigned char *s, size_t n, char *out, size_t *outlen);
/* Wipes a credential. */
void sasl_wipe(struct sasl_cred *c);

#endif
