import Glibc
import NIOCore

/// The connecting process's pid/uid/gid (`SO_PEERCRED`), for logs.
struct PeerCredentials: Sendable {
    /// Layout-compatible with Linux's `struct ucred`, which Glibc does not export to Swift.
    private struct UCred: Sendable {
        var pid: Int32 = 0
        var uid: UInt32 = 0
        var gid: UInt32 = 0
    }

    let pid: Int32
    let uid: UInt32
    let gid: UInt32

    struct Unavailable: Error {}

    static func read(from channel: Channel) -> EventLoopFuture<PeerCredentials> {
        guard let provider = channel as? SocketOptionProvider else {
            return channel.eventLoop.makeFailedFuture(Unavailable())
        }
        let future: EventLoopFuture<UCred> = provider.unsafeGetSocketOption(
            level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERCRED)
        )
        return future.map { PeerCredentials(pid: $0.pid, uid: $0.uid, gid: $0.gid) }
    }
}
