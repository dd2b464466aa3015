#include <errno.h>
#include <string.h>
#include <unistd.h>
#include "checkpw.h"

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
