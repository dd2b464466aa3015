/* fdio: the two file descriptor chores every writer of mail needs. */
#ifndef TERN_FDIO_H
#define TERN_FDIO_H
#include <stddef.h>

/* Writes all n bytes, retrying after EINTR and short writes.  0, or -1 with errno. */
int fd_write_all(int fd, const char *s, size_t n);
/* One sendmsg of n bytes with fd attached (SCM_RIGHTS) on a unix socket, retried after
 * EINTR, without SIGPIPE.  0 when all n bytes went, or -1 with errno. */
int fd_send_fd(int sock, const void *buf, size_t n, int fd);
/* The same with nfds (at most FD_SEND_MAX) descriptors attached. */
#define FD_SEND_MAX 4
int fd_send_fds(int sock, const void *buf, size_t n, const int *fds, size_t nfds);
/* fsync(2) of a directory, so that a new or removed entry in it is durable.  0 or -1. */
int fd_sync_dir(const char *path);
/* 1 when fd's file system journals metadata in order, so that fsync(fd) also makes the
 * directory entries made for the file before it durable (they are in the transaction it
 * waits for): ext4 with a jbd2 journal (/proc/fs/jbd2/DEV-*), XFS.  0 for anything else,
 * and whenever it cannot tell (then fsync the directory).  Cached for the last device. */
int fd_journaled(int fd);

#endif
