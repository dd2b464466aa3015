#include <crypt.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include "checkpw.h"
#include "users.h"

ssize_t checkpw_read(int fd, char *buf, size_t size)
{
	size_t n = 0;
	if (size < CHECKPW_MAX + 1) { errno = EINVAL; return -1; }
	/* One byte more than allowed is enough to know the input is too long. */
	while (n <= CHECKPW_MAX) {
		ssize_t r = read(fd, buf + n, CHECKPW_MAX + 1 - n);
		if (r < 0 && errno == EINTR) continue;
		if (r < 0) return -1;
		if (r == 0) return (ssize_t)n;
		n += (size_t)r;
	}
	return -2;
}

int checkpw_parse(const char *buf, size_t n, const char **login, size_t *ln, const char **pass, size_t *pn)
{
	if (n > CHECKPW_MAX) return -1;
	const char *z1 = memchr(buf, 0, n);
	if (!z1) return -1;
	size_t l = (size_t)(z1 - buf);
	const char *z2 = memchr(z1 + 1, 0, n - l - 1);
	if (!z2) return -1;
	*login = buf;
	*ln = l;
	*pass = z1 + 1;
	*pn = (size_t)(z2 - z1 - 1);
	return 0;
}

/* ---- passwords: users.h declares these; they live here so that only the programs
 * that hash or check passwords link libcrypt (tern-local and tern-send stay smaller) ---- */

_Static_assert(USERS_MAXPASS < CRYPT_MAX_PASSPHRASE_SIZE, "crypt(3) takes every password");

const char *users_passbad(const char *pass, size_t n)
{
	if (n == 0) return "empty password";
	if (n > USERS_MAXPASS) return "password longer than 511 bytes";
	if (memchr(pass, 0, n)) return "NUL byte in the password";
	if (memchr(pass, '\r', n) || memchr(pass, '\n', n)) return "line break in the password";
	return 0;
}

static void wipe(void *p, size_t n) { explicit_bzero(p, n); }

/* crypt_r of pass (n bytes, users_passbad-clean) with setting, into cd->output; its
 * length, or 0 when crypt cannot use the setting (libxcrypt's failure token is "*..."). */
static size_t docrypt(const char *pass, size_t n, const char *setting, struct crypt_data *cd)
{
	char p[USERS_MAXPASS + 1];
	memcpy(p, pass, n);
	p[n] = 0;
	memset(cd, 0, sizeof *cd);
	const char *h = crypt_r(p, setting, cd);
	wipe(p, sizeof p);
	if (!h || h[0] == '*') return 0;
	return strlen(h);
}

int users_hashpass(const char *pass, size_t pn, char *out, size_t n)
{
	static const char *const prefixes[] = { "$y$", "$6$" };
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data cd;
	if (users_passbad(pass, pn)) { errno = EINVAL; return -1; }
	for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++) {
		/* No random bytes given: libxcrypt takes them from getentropy itself. */
		if (!crypt_gensalt_rn(prefixes[i], 0, 0, 0, setting, sizeof setting)) continue;
		size_t hl = docrypt(pass, pn, setting, &cd);
		if (!hl) continue;
		int ok = hl < n;
		if (ok) memcpy(out, cd.output, hl + 1);
		wipe(&cd, sizeof cd);
		if (!ok) { errno = ENAMETOOLONG; return -1; }
		return 0;
	}
	wipe(&cd, sizeof cd);
	errno = ENOSYS;
	return -1;
}

/* Same cost as the hashes tern-users passwd writes (libxcrypt's default yescrypt). */
static const char dummy_y[] = "$y$j9T$oJaQip0NppKPtpmQVl4Rh.HAmA1$O0UrXs6kFHfSDW.ry79NC06/yJjVzbmC21z3E6ePLb1";
static const char dummy_6[] = "$6$oJaQip0NppKPtpmQ$d1KprqNVe3crMg4xpeJ4FLm1n/huRAALtLvriZEcc84eIY.c5GrNRPpgEyz741ruQx/w6bFboNgbSf.zcDkIY/";

/* Spends what a real check would, and fails. */
static int dummy(const char *pass, size_t pn, struct crypt_data *cd)
{
	static const char fixed[] = "tern: not a password";
	if (users_passbad(pass, pn)) { pass = fixed; pn = sizeof fixed - 1; }
	if (!docrypt(pass, pn, dummy_y, cd)) (void)docrypt(pass, pn, dummy_6, cd);
	wipe(cd, sizeof *cd);
	return 0;
}

/* 1 if a (an, NUL-terminated) equals b (NUL-terminated, at most USERS_HASHSIZE - 1
 * bytes), in time that depends on b's length only. */
static int ct_equal(const char *a, size_t an, const char *b)
{
	size_t bn = strlen(b);
	unsigned char d = an != bn;
	for (size_t i = 0; i < bn; i++) d |= (unsigned char)(a[i < an ? i : an] ^ b[i]);
	return d == 0;
}

int users_checkpass(const char *login, size_t ln, const char *pass, size_t pn, struct user_rec *u)
{
	struct user_rec own;
	struct crypt_data cd;
	if (!u) u = &own;
	int r = memchr(login, 0, ln) ? 0 : users_finduser(login, ln, u);
	if (r < 0) return -1;
	if (r == 0 || !u->pwhash[0] || users_passbad(pass, pn)) {
		memset(u, 0, sizeof *u);
		return dummy(pass, pn, &cd);
	}
	size_t hl = docrypt(pass, pn, u->pwhash, &cd);
	int ok = hl && ct_equal(cd.output, hl, u->pwhash);
	wipe(&cd, sizeof cd);
	if (!ok) memset(u, 0, sizeof *u);
	return ok;
}
