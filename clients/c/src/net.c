/*
 * net.c - libpgstate's connection and I/O layer: the Unix socket, reading into
 * the frame reader, writing the output buffer, waiting with poll(2).  See net.h.
 */
#include "net.h"

#include "pgstate.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int64_t pgs_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t pgs_deadline_after(int timeout_ms) {
    return timeout_ms > 0 ? pgs_now_ms() + timeout_ms : -1;
}

int pgs_remaining_ms(int64_t deadline) {
    if (deadline < 0) return -1;
    int64_t left = deadline - pgs_now_ms();
    if (left <= 0) return 0;
    return left > 0x7fffffff ? 0x7fffffff : (int)left;
}

const char *pgs_errno_text(int e, char *buf, size_t cap) {
#if defined(__GLIBC__) && defined(_GNU_SOURCE)
    return strerror_r(e, buf, cap); /* GNU variant */
#else
    if (strerror_r(e, buf, cap) != 0) snprintf(buf, cap, "errno %d", e);
    return buf;
#endif
}

void pgs_net_init(pgs_net *n) {
    memset(n, 0, sizeof *n);
    n->fd = -1;
    pgs_reader_init(&n->in, PGS_DEFAULT_MAX_FRAME_BYTES);
    pgs_buf_init(&n->out);
}

void pgs_net_free(pgs_net *n) {
    if (n->fd >= 0) close(n->fd);
    n->fd = -1;
    pgs_reader_free(&n->in);
    pgs_buf_free(&n->out);
}

static void reset_streams(pgs_net *n) {
    n->out.len = 0;
    n->out_pos = 0;
    n->queued_off = 0;
    n->written_off = 0;
    pgs_reader_reset(&n->in);
    pgs_reader_set_max_frame(&n->in, PGS_DEFAULT_MAX_FRAME_BYTES); /* until HELLO_OK */
}

void pgs_net_shutdown(pgs_net *n) {
    if (n->fd >= 0 && !n->shut) (void)shutdown(n->fd, SHUT_RDWR);
    n->shut = 1;
    n->out.len = 0;
    n->out_pos = 0;
    pgs_reader_reset(&n->in);
}

void pgs_net_close(pgs_net *n) {
    if (n->fd >= 0) close(n->fd);
    n->fd = -1;
    n->shut = 0;
    reset_streams(n);
}

size_t pgs_net_unwritten(const pgs_net *n) {
    return n->out.len - n->out_pos;
}

uint64_t pgs_net_prepare_append(pgs_net *n) {
    if (n->out_pos > 0 && n->out_pos >= n->out.len / 2) {
        pgs_buf_consume(&n->out, n->out_pos);
        n->out_pos = 0;
    }
    return n->queued_off;
}

void pgs_net_unqueue(pgs_net *n, uint64_t from, size_t len) {
    uint64_t base = n->written_off - n->out_pos; /* stream offset of out.data[0] */
    size_t at = (size_t)(from - base);
    memmove(n->out.data + at, n->out.data + at + len, n->out.len - at - len);
    n->out.len -= len;
    n->queued_off -= len;
}

static ssize_t send_nosignal(int fd, const void *buf, size_t len) {
#ifdef MSG_NOSIGNAL
    return send(fd, buf, len, MSG_NOSIGNAL);
#else
    return send(fd, buf, len, 0); /* SO_NOSIGPIPE is set on the socket where available */
#endif
}

int pgs_net_write(pgs_net *n) {
    while (n->out_pos < n->out.len) {
        ssize_t w = send_nosignal(n->fd, n->out.data + n->out_pos, n->out.len - n->out_pos);
        if (w > 0) {
            n->out_pos += (size_t)w;
            n->written_off += (uint64_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
        return w < 0 ? errno : EPIPE;
    }
    n->out.len = 0;
    n->out_pos = 0;
    return 0;
}

int pgs_net_read(pgs_net *n, int *err) {
    *err = 0;
    uint8_t *ptr;
    size_t avail;
    if (pgs_reader_space(&n->in, &ptr, &avail) != 0) return PGS_READ_NOMEM;
    if (avail == 0) return PGS_READ_FULL;
    for (;;) {
        ssize_t r = read(n->fd, ptr, avail);
        if (r > 0) {
            pgs_reader_commit(&n->in, (size_t)r);
            return (size_t)r < avail ? PGS_READ_DRAINED : PGS_READ_GOT;
        }
        if (r == 0) return PGS_READ_EOF;
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return PGS_READ_AGAIN;
        *err = errno;
        return PGS_READ_EOF;
    }
}

int pgs_net_wait(const pgs_net *n, int want_write, int64_t deadline) {
    struct pollfd pfd;
    pfd.fd = n->fd;
    pfd.events = (short)(POLLIN | (want_write ? POLLOUT : 0));
    pfd.revents = 0;
    int r = poll(&pfd, 1, pgs_remaining_ms(deadline));
    if (r <= 0) return r;
    int mask = 0;
    if (pfd.revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) mask |= PGS_WAIT_READ;
    if (pfd.revents & POLLOUT) mask |= PGS_WAIT_WRITE;
    return mask;
}

#define FAIL(status, ...) (snprintf(err, errcap, __VA_ARGS__), (status))

int pgs_net_connect(pgs_net *n, const char *path, int64_t deadline, char *err, size_t errcap) {
    char eb[128];
    struct sockaddr_un sa;
    size_t plen = strlen(path);
    if (plen >= sizeof sa.sun_path) {
        snprintf(err, errcap, "socket path is %zu bytes, longer than the %zu allowed: %s", plen,
                 sizeof sa.sun_path - 1, path);
        return PGSTATE_ERR_INVALID_ARGUMENT;
    }
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, plen + 1);

    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0) return FAIL(PGSTATE_ERR_IO, "socket(AF_UNIX) for %s failed: %s", path,
                            pgs_errno_text(errno, eb, sizeof eb));
    (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
    int fl = fcntl(fd, F_GETFL, 0);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
        int e = errno;
        close(fd);
        return FAIL(PGSTATE_ERR_IO, "fcntl(O_NONBLOCK) on the socket for %s failed: %s", path,
                    pgs_errno_text(e, eb, sizeof eb));
    }
#ifdef SO_NOSIGPIPE
    {
        int one = 1;
        (void)setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
    }
#endif
    for (;;) {
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) break;
        int e = errno;
        if (e == EINPROGRESS || e == EINTR || e == EALREADY) {
            struct pollfd pfd = {fd, POLLOUT, 0};
            int r;
            do {
                r = poll(&pfd, 1, pgs_remaining_ms(deadline));
            } while (r < 0 && errno == EINTR);
            if (r == 0) {
                close(fd);
                return FAIL(PGSTATE_ERR_TIMEOUT, "timed out connecting to pgstated at %s", path);
            }
            int soerr = 0;
            socklen_t sl = sizeof soerr;
            if (r < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0) soerr = errno;
            if (soerr == 0) break;
            e = soerr;
        } else if (e == EAGAIN) {
            /* Linux: the listen backlog is full; try again shortly. */
            if (deadline >= 0 && pgs_remaining_ms(deadline) == 0) {
                close(fd);
                return FAIL(PGSTATE_ERR_TIMEOUT, "timed out connecting to pgstated at %s (listen backlog full)", path);
            }
            struct timespec ts = {0, 5 * 1000 * 1000};
            nanosleep(&ts, NULL);
            continue;
        }
        close(fd);
        switch (e) {
        case ENOENT:
            return FAIL(PGSTATE_ERR_UNAVAILABLE,
                        "no pgstated socket at %s (is pgstated running? the path comes from the socket_path "
                        "argument, else $PGSTATE_SOCKET, else " PGSTATE_DEFAULT_SOCKET ")",
                        path);
        case ECONNREFUSED:
            return FAIL(PGSTATE_ERR_UNAVAILABLE,
                        "connection refused by %s (pgstated not running, or a stale socket file)", path);
        case ENOTDIR:
            return FAIL(PGSTATE_ERR_UNAVAILABLE, "cannot reach pgstated socket %s: %s", path,
                        pgs_errno_text(e, eb, sizeof eb));
        case EACCES:
        case EPERM:
            return FAIL(PGSTATE_ERR_IO, "permission denied connecting to pgstated socket %s: %s",
                        path, pgs_errno_text(e, eb, sizeof eb));
        default:
            return FAIL(PGSTATE_ERR_IO, "cannot connect to pgstated socket %s: %s", path,
                        pgs_errno_text(e, eb, sizeof eb));
        }
    }
    if (n->fd >= 0) close(n->fd);
    n->fd = fd;
    n->shut = 0;
    reset_streams(n);
    return PGSTATE_OK;
}
