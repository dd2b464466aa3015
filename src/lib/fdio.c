#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include "fdio.h"
#include <sys/uio.h>
#include <sys/socket.h>
#include <string.h>

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
