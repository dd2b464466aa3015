#include "pem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bearssl.h>

#define PEM_MAXOBJ 1000

struct sink {
	unsigned char *buf;
	size_t len, cap;
	int oom;
};

static void append(void *ctx, const void *src, size_t n)
{
	struct sink *s = ctx;
	if (s->oom) return;
	if (n > s->cap - s->len) {
		size_t cap = s->cap ? s->cap : 2048;
		while (n > cap - s->len) {
			if (cap > (size_t)-1 / 2) { s->oom = 1; return; }
			cap *= 2;
		}
		unsigned char *p = realloc(s->buf, cap);
		if (!p) { s->oom = 1; return; }
		s->buf = p;
		s->cap = cap;
	}
	memcpy(s->buf + s->len, src, n);
	s->len += n;
}

static int push(struct pem_list *l, const char *label, struct sink *s)
{
	if (l->n == PEM_MAXOBJ) { errno = E2BIG; return -1; }
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 4;
		struct pem_obj *o = realloc(l->obj, cap * sizeof *o);
		if (!o) { errno = ENOMEM; return -1; }
		l->obj = o;
		l->cap = cap;
	}
	struct pem_obj *o = &l->obj[l->n++];
	memcpy(o->label, label, strlen(label) + 1);
	o->der = s->buf;
	o->len = s->len;
	s->buf = 0;
	s->len = s->cap = 0;
	return 0;
}

int pem_decode(struct pem_list *l, const char *buf, size_t n)
{
	br_pem_decoder_context pc;
	struct sink s = { 0, 0, 0, 0 };
	char label[64];
	int inobj = 0;
	br_pem_decoder_init(&pc);
	/* The decoder wants a line end after the last END line; feed one more newline. */
	for (int last = 0; last < 2; last++) {
		const char *p = last ? "\n" : buf;
		size_t left = last ? 1 : n;
		while (left > 0) {
			size_t k = br_pem_decoder_push(&pc, p, left);
			p += k;
			left -= k;
			switch (br_pem_decoder_event(&pc)) {
			case BR_PEM_BEGIN_OBJ: {
				const char *name = br_pem_decoder_name(&pc);
				size_t nl = strlen(name);
				/* BearSSL 0.6 strips the closing dashes only when the line ends
				 * right after them: with CRLF or trailing blanks the name would
				 * be "CERTIFICATE-----".  A label never ends in '-' or a blank
				 * (RFC 7468 section 3). */
				while (nl && (name[nl - 1] == '-' || name[nl - 1] == ' ' || name[nl - 1] == '\t' || name[nl - 1] == '\r'))
					nl--;
				if (nl >= sizeof label) goto bad;
				memcpy(label, name, nl);
				label[nl] = 0;
				br_pem_decoder_setdest(&pc, append, &s);
				inobj = 1;
				break;
			}
			case BR_PEM_END_OBJ:
				if (s.oom) { free(s.buf); errno = ENOMEM; return -1; }
				if (push(l, label, &s) < 0) { free(s.buf); return -1; }
				inobj = 0;
				break;
			case BR_PEM_ERROR:
				goto bad;
			}
		}
	}
	if (!inobj) return 0;
bad:
	free(s.buf);
	errno = EINVAL;
	return -1;
}

int pem_load(struct pem_list *l, const char *path, size_t max)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	return fd < 0 ? -1 : pem_load_fd(l, fd, max);
}

int pem_load_fd(struct pem_list *l, int fd, size_t max)
{
	char *buf = malloc(max + 1);
	if (!buf) { close(fd); errno = ENOMEM; return -1; }
	size_t len = 0;
	for (;;) {
		ssize_t r = read(fd, buf + len, max + 1 - len);
		if (r < 0) {
			if (errno == EINTR) continue;
			goto fail;
		}
		if (r == 0) break;
		len += (size_t)r;
		if (len > max) { errno = EFBIG; goto fail; }
	}
	close(fd);
	int rc = pem_decode(l, buf, len);
	int e = errno;
	explicit_bzero(buf, len);	/* it may have held a private key */
	free(buf);
	errno = e;
	return rc;
fail:;
	int e2 = errno;
	close(fd);
	explicit_bzero(buf, len);
	free(buf);
	errno = e2;
	return -1;
}

void pem_free(struct pem_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		if (l->obj[i].der)	/* an empty object has none */
			explicit_bzero(l->obj[i].der, l->obj[i].len);
		free(l->obj[i].der);
	}
	free(l->obj);
	l->obj = 0;
	l->n = l->cap = 0;
}
