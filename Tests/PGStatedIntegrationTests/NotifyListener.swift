import Foundation
import Glibc
import NIOConcurrencyHelpers

/// Receives `sd_notify` datagrams the way systemd does: an AF_UNIX datagram socket whose path goes in
/// `NOTIFY_SOCKET`. (NIO's datagram channel cannot take the unnamed sender address, so this uses a thread.)
final class NotifyListener: Sendable {
    struct Message: Sendable {
        var text: String
        var at: Date
    }

    let path: String
    private let descriptor: Int32
    private let received = NIOLockedValueBox<[Message]>([])
    private let stopped = NIOLockedValueBox(false)

    init() async throws {
        path = TestEnvironment.scratchDirectory() + "/notify.sock"
        descriptor = socket(AF_UNIX, 2 /* SOCK_DGRAM */ | 0o2000000 /* SOCK_CLOEXEC */, 0)
        guard descriptor >= 0 else { throw TestFailure("socket failed: errno \(errno)") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: path.utf8) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard bound == 0 else { throw TestFailure("bind \(path) failed: errno \(errno)") }
        var timeout = timeval(tv_sec: 0, tv_usec: 100_000)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let thread = Thread { [self] in self.receiveLoop() }
        thread.start()
    }

    private func receiveLoop() {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !stopped.withLockedValue({ $0 }) {
            let count = recv(descriptor, &buffer, buffer.count, 0)
            if count > 0 {
                let text = String(decoding: buffer[0..<count], as: UTF8.self)
                received.withLockedValue { $0.append(Message(text: text, at: Date())) }
            }
        }
        Glibc.close(descriptor)
    }

    var messages: [Message] { received.withLockedValue { $0 } }

    /// Waits until a message containing `line` (as one of its lines) arrives.
    func waitFor(_ line: String, timeout: TimeInterval = 30) async throws -> Message {
        try await waitFor(timeout: timeout) { $0.text.split(separator: "\n").contains { $0 == line } }
    }

    /// Waits until a message satisfying `matches` arrives.
    func waitFor(timeout: TimeInterval = 30, _ matches: (Message) -> Bool) async throws -> Message {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let message = messages.first(where: matches) { return message }
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        throw TestFailure("no matching notification on \(path); got \(messages.map(\.text))")
    }

    func close() async {
        stopped.withLockedValue { $0 = true }
    }
}
