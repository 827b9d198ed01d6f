/* The few Linux interfaces the daemon's reactors need that Swift's Glibc module does not export:
 * epoll, eventfd, peer credentials and malloc_trim. Functions rather than macros or packed structs, so that
 * Swift sees plain C calls. */
#ifndef CPGSTATESYS_H
#define CPGSTATESYS_H

#include <stdint.h>
#include <sys/types.h>

/* epoll_create1(EPOLL_CLOEXEC); -1 and errno on failure. */
int pgstate_epoll_create(void);
/* op: 0 add, 1 modify, 2 delete. events: a mask of PGSTATE_EPOLL_* below. */
int pgstate_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data);
/* Waits for up to `capacity` events; fills the parallel arrays. Returns the count, or -1 and errno. */
int pgstate_epoll_wait(int epfd, uint32_t *events, uint64_t *data, int capacity, int timeout_ms);

extern const uint32_t PGSTATE_EPOLL_IN;
extern const uint32_t PGSTATE_EPOLL_OUT;
extern const uint32_t PGSTATE_EPOLL_RDHUP;
extern const uint32_t PGSTATE_EPOLL_ERR;
extern const uint32_t PGSTATE_EPOLL_HUP;

/* eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC). */
int pgstate_eventfd_create(void);
/* Adds 1 to the counter (wakes a waiter); never blocks. */
void pgstate_eventfd_signal(int fd);
/* Resets the counter. */
void pgstate_eventfd_drain(int fd);

/* SO_PEERCRED of a connected Unix socket. 0, or -1 and errno. */
int pgstate_peer_credentials(int fd, pid_t *pid, uid_t *uid, gid_t *gid);
/* The peer's supplementary groups (SO_PEERGROUPS): their count, -1 on failure, or -2 - needed when `capacity`
   is too small. */
int pgstate_peer_groups(int fd, gid_t *groups, int capacity);
/* umask(2), for creating the socket file with its mode from the start. */
mode_t pgstate_umask(mode_t mask);

/* accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC). */
int pgstate_accept(int fd);
/* send(fd, bytes, count, MSG_NOSIGNAL | MSG_DONTWAIT). */
long pgstate_send(int fd, const void *bytes, unsigned long count);

/* socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC [| SOCK_NONBLOCK], 0). */
int pgstate_unix_stream_socket(int nonblocking);

/* Names the calling thread (at most 15 bytes are kept). */
void pgstate_set_thread_name(const char *name);

/* Returns freed heap memory to the kernel (glibc malloc_trim(0)). */
void pgstate_release_free_memory(void);

#endif
