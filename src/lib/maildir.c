#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/time.h>
#include "fdio.h"
#include "maildir.h"

#define PATHMAX 4096

int maildir_host(char *out, size_t n, const char *host)
{
	size_t k = 0;
	for (const char *p = host; *p; p++) {
		const char *rep = *p == '/' ? "\\057" : *p == ':' ? "\\072" : 0;
		size_t l = rep ? 4 : 1;
		if (k + l + 1 > n) return -1;
		if (rep) memcpy(out + k, rep, 4);
		else out[k] = *p;
		k += l;
	}
	if (k + 1 > n) return -1;
	out[k] = 0;
	return (int)k;
}

int maildir_tag_ok(const char *tag)
{
	size_t n = 0;
	if (tag[0] == '.') return 0;
	for (; tag[n]; n++) {
		char c = tag[n];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '-' || c == '_')) return 0;
		if (n >= MAILDIR_TAGMAX) return 0;
	}
	return n > 0;
}

static int fitted(int r, size_t n)
{
	if (r < 0 || (size_t)r >= n) { errno = ENAMETOOLONG; return -1; }
	return r;
}

int maildir_name_tag(char *out, size_t n, time_t t, const char *tag, size_t index, const char *host)
{
	return fitted(snprintf(out, n, "%lld.%s_%zu.%s", (long long)t, tag, index, host), n);
}

int maildir_name_unique(char *out, size_t n, time_t t, long usec, unsigned long pid, const char *host)
{
	return fitted(snprintf(out, n, "%lld.M%ldP%lu.%s", (long long)t, usec, pid, host), n);
}

static int join(char *out, const char *dir, const char *sub, const char *name)
{
	int r = name ? snprintf(out, PATHMAX, "%s/%s/%s", dir, sub, name)
		     : snprintf(out, PATHMAX, "%s/%s", dir, sub);
	return fitted(r, PATHMAX) < 0 ? -1 : 0;
}

int maildir_make(const char *dir)
{
	static const char *const sub[3] = { "tmp", "new", "cur" };
	char path[PATHMAX];
	int made = 0;
	if (mkdir(dir, 0700) == 0) made = 1;
	else if (errno != EEXIST) return -1;
	for (int i = 0; i < 3; i++) {
		if (join(path, dir, sub[i], 0) < 0) return -1;
		if (mkdir(path, 0700) == 0) made = 1;
		else if (errno != EEXIST) return -1;
	}
	/* New directories must survive a crash as much as the file that goes into them. */
	if (made && fd_sync_dir(dir) != 0) return -1;
	return 0;
}

static int unique(char name[MAILDIR_NAMEMAX], const char *host)
{
	struct timeval tv;
	gettimeofday(&tv, 0);
	return maildir_name_unique(name, MAILDIR_NAMEMAX, tv.tv_sec, (long)tv.tv_usec,
				   (unsigned long)getpid(), host);
}

/* Creates a fresh file in tmp/; its name goes to name, its path to tmppath. */
static int create_tmp(const char *dir, const char *host, char name[MAILDIR_NAMEMAX], char tmppath[PATHMAX])
{
	for (int tries = 0; tries < 20; tries++) {
		if (unique(name, host) < 0 || join(tmppath, dir, "tmp", name) < 0) return -1;
		int fd = open(tmppath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd >= 0) return fd;
		if (errno != EEXIST) return -1;
		usleep(1000);
	}
	errno = EEXIST;
	return -1;
}

static char buf[65536];

/* Writes prefix + src to fd, then fsync.  0, or -1 with *step. */
static int fill(int fd, const char *prefix, size_t plen, const struct msgsrc *src, const char **step)
{
	*step = "writing to tmp/";
	if (fd_write_all(fd, prefix, plen) < 0) return -1;
	for (;;) {
		ssize_t r = src->read(src->ctx, buf, sizeof buf);
		if (r < 0) { *step = "reading the message"; return -1; }
		if (r == 0) break;
		if (fd_write_all(fd, buf, (size_t)r) < 0) return -1;
	}
	*step = "fsync tmp/";
	return fsync(fd);
}

/* Links tmppath into new/; for a unique name, a clash picks another name.  MD_OK, MD_DUP, -1. */
static int place(const char *dir, const char *tagname, const char *host, const char *tmppath,
		 char name[MAILDIR_NAMEMAX], const char **step)
{
	char newpath[PATHMAX];
	*step = "link into new/";
	if (tagname) memcpy(name, tagname, strlen(tagname) + 1);
	for (int tries = 0; tries < 20; tries++) {
		if (join(newpath, dir, "new", name) < 0) return -1;
		if (link(tmppath, newpath) == 0) return MD_OK;
		if (errno != EEXIST) return -1;
		if (tagname) return MD_DUP;
		usleep(1000);
		if (unique(name, host) < 0) return -1;
	}
	errno = EEXIST;
	return -1;
}

/* tmp/ file, link into new/.  MD_OK, MD_DUP, or -1 with errno and *step. */
static int write_and_link(const char *dir, const char *tagname, const char *host,
			  const char *prefix, size_t plen, const struct msgsrc *src,
			  char name[MAILDIR_NAMEMAX], const char **step)
{
	char tmppath[PATHMAX];
	*step = "creating a file in tmp/";
	int fd = create_tmp(dir, host, name, tmppath);
	if (fd < 0) return -1;
	int r = fill(fd, prefix, plen, src, step);
	if (r == 0) {
		if (close(fd) != 0) { *step = "close tmp/"; r = -1; }
	} else {
		int e = errno;
		close(fd);
		errno = e;
	}
	if (r == 0) r = place(dir, tagname, host, tmppath, name, step);
	int e = errno;
	/* tmp/ must not keep a copy.  Once the link exists the message is delivered: a
	 * leftover tmp/ file would only be litter (readers clean tmp/ after 36 hours). */
	unlink(tmppath);
	errno = e;
	return r;
}

int maildir_deliver(const char *dir, const char *tagname, const char *host,
		    const char *prefix, size_t plen, const struct msgsrc *src,
		    char name[MAILDIR_NAMEMAX], const char **step)
{
	char path[PATHMAX];
	struct stat st;
	int r;
	if (tagname && strlen(tagname) + 1 > MAILDIR_NAMEMAX) {
		*step = "file name";
		errno = ENAMETOOLONG;
		return -1;
	}
	/* Cheap early answer for a repeated delivery: nothing to write. */
	if (tagname && join(path, dir, "new", tagname) == 0 && lstat(path, &st) == 0) {
		memcpy(name, tagname, strlen(tagname) + 1);
		r = MD_DUP;
	} else {
		r = write_and_link(dir, tagname, host, prefix, plen, src, name, step);
		if (r < 0) return -1;
	}
	/* For MD_DUP too: the first attempt may have crashed before its directory sync. */
	*step = "fsync new/";
	if (join(path, dir, "new", 0) < 0 || fd_sync_dir(path) != 0) {
		/* Not durable.  Without a tag, take the file back so that the retry does not
		 * leave two copies; with one, the retry finds it and syncs again. */
		int e = errno;
		if (!tagname && join(path, dir, "new", name) == 0) unlink(path);
		errno = e;
		return -1;
	}
	return r;
}
