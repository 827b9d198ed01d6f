/*
 * net.h - libpgstate's connection and I/O layer (INTERNAL, not installed).
 *
 * A pgs_net is one Unix-socket connection's bytes: the descriptor, the output
 * buffer with how much of it was written, the incremental frame reader for
 * the input, and stream offsets that say which request bytes reached the
 * socket.  Nothing here knows about requests or replies (requests.c) or the
 * public API (client.c); like hiredis' net.c it only moves bytes, and every
 * call but net_wait() returns at once.
 */
#ifndef PGSTATE_NET_H
#define PGSTATE_NET_H

#include "codec.h"

#include <stddef.h>
#include <stdint.h>

typedef struct pgs_net {
    int fd;               /* -1: no socket */
    int shut;             /* the connection ended: shut down, descriptor kept until net_close() */
    pgs_reader in;        /* received bytes, cut into frames */
    pgs_buf out;          /* encoded requests not yet (fully) written */
    size_t out_pos;       /* bytes of out already written */
    uint64_t queued_off;  /* bytes ever queued on this connection (stream offset of out's end) */
    uint64_t written_off; /* bytes ever written on this connection */
} pgs_net;

/* Monotonic milliseconds, and deadlines in them (-1: none). */
int64_t pgs_now_ms(void);
int64_t pgs_deadline_after(int timeout_ms);
/* Milliseconds left for poll(): -1 without a deadline, 0 once it passed. */
int pgs_remaining_ms(int64_t deadline);

void pgs_net_init(pgs_net *n);
/* Closes the descriptor (if any) and frees the buffers. */
void pgs_net_free(pgs_net *n);

/*
 * Opens a non-blocking, close-on-exec Unix stream socket to path and waits
 * (until deadline) for the connection.  Returns a PGSTATE_* status with the
 * reason in err (naming the path and whose fault it is); on PGSTATE_OK, n->fd
 * is the socket and the buffers are empty.
 */
int pgs_net_connect(pgs_net *n, const char *path, int64_t deadline, char *err, size_t errcap);

/* The connection ended: shutdown(2) both directions (the peer sees it at
   once), drop unsent output and unread input, keep the descriptor open until
   pgs_net_close() so that an event loop can still unregister it. */
void pgs_net_shutdown(pgs_net *n);

/* Closes the descriptor and resets the buffers and offsets. */
void pgs_net_close(pgs_net *n);

/* Bytes queued and not yet written. */
size_t pgs_net_unwritten(const pgs_net *n);

/* Makes room before appending (reclaims written bytes when that halves the
   buffer); returns the stream offset the next byte appended will have. */
uint64_t pgs_net_prepare_append(pgs_net *n);

/* Removes bytes [from, from + len) (stream offsets) from the output buffer;
   they must all be unwritten. */
void pgs_net_unqueue(pgs_net *n, uint64_t from, size_t len);

/* Writes what the socket takes now.  Returns 0 (all written, or the socket is
   full), or the errno of a failed write (EPIPE for a zero-byte send). */
int pgs_net_write(pgs_net *n);

enum {
    PGS_READ_AGAIN = 0,   /* nothing more to read now */
    PGS_READ_GOT = 1,     /* bytes were added to n->in, as many as fitted: there may be more */
    PGS_READ_DRAINED = 3, /* bytes were added, fewer than fitted: the socket had no more (a stream
                             socket's short read), so the next read would only say EAGAIN */
    PGS_READ_FULL = 2,    /* the reader holds a whole maximal frame: take frames out first */
    PGS_READ_EOF = -1,    /* the peer closed (*err = 0) or the read failed (*err = errno) */
    PGS_READ_NOMEM = -2   /* no memory for the input buffer */
};

/* One read(2) into the frame reader, without blocking. */
int pgs_net_read(pgs_net *n, int *err);

/* Waits until the socket is readable (always watched) or, with want_write,
   writable, or the deadline passes.  Returns a mask of PGS_WAIT_READ /
   PGS_WAIT_WRITE, 0 on timeout, or -1 with errno (EINTR included). */
enum { PGS_WAIT_READ = 1, PGS_WAIT_WRITE = 2 };
int pgs_net_wait(const pgs_net *n, int want_write, int64_t deadline);

/* Thread-safe strerror into a caller's buffer. */
const char *pgs_errno_text(int e, char *buf, size_t cap);

#endif /* PGSTATE_NET_H */
