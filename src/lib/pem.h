/* pem: PEM files (RFC 7468) into DER objects, with BearSSL's decoder.  Certificates, trust
 * anchors and private keys all arrive this way; what each object is, the caller decides
 * from its label ("CERTIFICATE", "EC PRIVATE KEY", "PRIVATE KEY", ...). */
#ifndef TERN_PEM_H
#define TERN_PEM_H
#include <stddef.h>

struct pem_obj {
	char label[64];		/* the text after "-----BEGIN ", NUL-terminated */
	unsigned char *der;	/* malloc'd */
	size_t len;
};

struct pem_list {
	struct pem_obj *obj;	/* malloc'd array */
	size_t n, cap;
};

/* Decodes every object of buf (n bytes) and appends them to l.  Text outside objects is
 * ignored.  0, or -1 with errno EINVAL (malformed PEM, an unterminated object, a label
 * over 63 bytes), ENOMEM, or E2BIG (more than 1000 objects). */
int pem_decode(struct pem_list *l, const char *buf, size_t n);
/* Reads a whole file (at most max bytes: EFBIG past that) and decodes it.  0 or -1 (errno). */
int pem_load(struct pem_list *l, const char *path, size_t max);
/* The same from an open descriptor, read to its end and closed (whatever happens). */
int pem_load_fd(struct pem_list *l, int fd, size_t max);
/* Frees every object; l is empty and reusable afterwards. */
void pem_free(struct pem_list *l);

#endif
