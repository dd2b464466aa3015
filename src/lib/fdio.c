#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <linux/magic.h>
#include "fdio.h"

int fd_write_all(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = write(fd, s, n);
		if (w < 0) { if (errno == EINTR) continue; return -1; }
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

int fd_sync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) return -1;
	int r = fsync(fd);
	int e = errno;
	close(fd);
	errno = e;
	return r;
}


/* The jbd2 journal of block device dev, by name: /proc/fs/jbd2/<its name>-<inode>. */
static int jbd2_for(dev_t dev)
{
	char link[64], target[512];
	snprintf(link, sizeof link, "/sys/dev/block/%u:%u", major(dev), minor(dev));
	ssize_t n = readlink(link, target, sizeof target - 1);
	if (n <= 0) return 0;
	target[n] = 0;
	const char *name = strrchr(target, '/');
	name = name ? name + 1 : target;
	size_t len = strlen(name);
	DIR *d = opendir("/proc/fs/jbd2");
	if (!d) return 0;
	int found = 0;
	struct dirent *e;
	while (!found && (e = readdir(d)))
		found = strncmp(e->d_name, name, len) == 0 && e->d_name[len] == '-';
	closedir(d);
	return found;
}

int fd_journaled(int fd)
{
	static dev_t dev;
	static int known, answer;
	struct stat st;
	struct statfs sf;
	if (fstat(fd, &st) != 0) return 0;
	if (known && st.st_dev == dev) return answer;
	if (fstatfs(fd, &sf) != 0) return 0;
	unsigned long type = (unsigned long)sf.f_type;
	/* EXT4_SUPER_MAGIC is ext2's and ext3's too: whether there is a journal is looked up */
	answer = type == XFS_SUPER_MAGIC || (type == EXT4_SUPER_MAGIC && jbd2_for(st.st_dev));
	dev = st.st_dev;
	known = 1;
	return answer;
}

int fd_send_fd(int sock, const void *buf, size_t n, int fd)
{
	return fd_send_fds(sock, buf, n, &fd, 1);
}

int fd_send_fds(int sock, const void *buf, size_t n, const int *fds, size_t nfds)
{
	if (nfds < 1 || nfds > FD_SEND_MAX) { errno = EINVAL; return -1; }
	struct iovec iov = { (void *)buf, n };
	union { struct cmsghdr h; char b[CMSG_SPACE(FD_SEND_MAX * sizeof(int))]; } cm;
	memset(&cm, 0, sizeof cm);
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.b,
			     .msg_controllen = CMSG_SPACE(nfds * sizeof(int)) };
	struct cmsghdr *ch = CMSG_FIRSTHDR(&mh);
	ch->cmsg_level = SOL_SOCKET;
	ch->cmsg_type = SCM_RIGHTS;
	ch->cmsg_len = CMSG_LEN(nfds * sizeof(int));
	memcpy(CMSG_DATA(ch), fds, nfds * sizeof(int));
	ssize_t r;
	do r = sendmsg(sock, &mh, MSG_NOSIGNAL); while (r < 0 && errno == EINTR);
	if (r < 0) return -1;
	if ((size_t)r != n) { errno = EIO; return -1; }
	return 0;
}
