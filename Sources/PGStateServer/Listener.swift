import CPGStateSys
import Glibc
import Logging
import NIOCore
import PGStateProtocol

/// The listening socket, watched by the reactor that accepts (reactor 0), with the accept backoff state.
final class Listener {
    let descriptor: Int32
    /// Accepting is paused (the process or system is out of descriptors) until then.
    var retryDeadline: Int64?
    var backoffMilliseconds: Int64 = 0
    /// Accepts refused by the descriptor limit in the current episode (logged once at its start and end).
    var refusedInEpisode = 0

    static let initialBackoffMilliseconds: Int64 = 20
    static let maxBackoffMilliseconds: Int64 = 1000

    init(descriptor: Int32) {
        self.descriptor = descriptor
    }
}

extension Reactor {
    func startListening(_ descriptor: Int32) {
        let flags = fcntl(descriptor, F_GETFL)
        _ = fcntl(descriptor, F_SETFL, flags | O_NONBLOCK)
        let listener = Listener(descriptor: descriptor)
        do {
            try epoll.add(descriptor, .input, Epoll.Token(.listener))
        } catch {
            logger.critical("cannot watch the listening socket: \(error)")
            return
        }
        self.listener = listener
    }

    func stopListening(_ listener: Listener) {
        if listener.retryDeadline == nil { epoll.remove(listener.descriptor) }
        Glibc.close(listener.descriptor)
        self.listener = nil
    }

    /// Accepts what is waiting (a bounded number per pass) and hands each client to a reactor, round robin.
    func acceptClients() {
        guard let listener else { return }
        for _ in 0..<64 {
            let descriptor = pgstate_accept(listener.descriptor)
            if descriptor < 0 {
                let code = errno
                switch code {
                case EAGAIN, EWOULDBLOCK:
                    return
                case EINTR, ECONNABORTED, EPROTO:
                    continue
                case EMFILE, ENFILE, ENOBUFS, ENOMEM:
                    pauseAccepting(listener, code)
                    return
                default:
                    logger.error("accept failed: \(String(cString: strerror(code)))")
                    pauseAccepting(listener, code)
                    return
                }
            }
            if listener.refusedInEpisode > 0 {
                logger.notice("accepting clients again", metadata: [
                    "waited.accepts": "\(listener.refusedInEpisode)"])
                listener.refusedInEpisode = 0
                listener.backoffMilliseconds = 0
            }
            guard shared.reserveConnection() else {
                logger.warning("connection limit of \(shared.maxConnections) reached; refusing a client")
                metrics.refused(.connectionLimit)
                refuse(descriptor, .overloaded,
                       "connection limit of \(shared.maxConnections) reached; try again later")
                continue
            }
            switch admit(descriptor) {
            case .refused(let message, let identity, let reason):
                shared.releaseConnection()
                metrics.refused(reason)
                audit(.warning, "refusing a connection: \(message)", identity: identity, rule: nil)
                refuse(descriptor, .overloaded, message)
            case .admitted(let admission):
                let target = shared.reactorForNextClient()
                if target == handle.index {
                    adopt(admission)
                } else {
                    shared.handles[target].post(.adopt(admission))
                }
            }
        }
    }

    /// Out of descriptors: stop watching the socket for a while (so `epoll_wait` does not return at once again
    /// and again), keep serving the connected clients, and retry with a growing delay. Logged once per episode.
    private func pauseAccepting(_ listener: Listener, _ code: Int32) {
        if listener.refusedInEpisode == 0 {
            logger.warning("cannot accept clients: \(String(cString: strerror(code))) (the open descriptor limit is reached); connected clients are still served, accepting resumes when descriptors free up")
        }
        listener.refusedInEpisode += 1
        listener.backoffMilliseconds = listener.backoffMilliseconds == 0
            ? Listener.initialBackoffMilliseconds
            : min(listener.backoffMilliseconds * 2, Listener.maxBackoffMilliseconds)
        epoll.remove(listener.descriptor)
        listener.retryDeadline = monotonicMilliseconds() + listener.backoffMilliseconds
    }

    func resumeAccepting(_ listener: Listener) {
        listener.retryDeadline = nil
        do {
            try epoll.add(listener.descriptor, .input, Epoll.Token(.listener))
        } catch {
            logger.critical("cannot watch the listening socket again: \(error)")
        }
    }

}
