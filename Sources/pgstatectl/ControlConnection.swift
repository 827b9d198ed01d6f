import Glibc
import NIOCore
import PGStateProtocol

/// Why a command failed, and the exit code it gives (see `pgstatectl --help`).
struct ControlFailure: Error, CustomStringConvertible {
    enum Kind {
        /// No answer: the socket cannot be reached, the connection ended, the deadline passed, a protocol error.
        case noAnswer
        /// The server answered ERROR.
        case server(Status)
        /// The command cannot be sent (an argument, a capability the server lacks).
        case usage
    }

    var kind: Kind
    var description: String

    /// 2: no answer or a server-side condition; 3: permission denied; 4: the request was wrong; 64: usage.
    var exitCode: Int32 {
        switch kind {
        case .noAnswer: return 2
        case .usage: return 64
        case .server(let status):
            if status == .permissionDenied { return 3 }
            return status.category == .clientError ? 4 : 2
        }
    }
}

/// One blocking connection to pgstated for the command line: HELLO on open, then one request at a time, each
/// with the deadline given. The protocol's codec is the daemon's own (PGStateProtocol).
final class ControlConnection {
    private let descriptor: Int32
    private var input = ByteBuffer()
    private var decoder = FrameDecoder()
    private var lastRequestID: UInt32 = 0
    private let timeoutMilliseconds: Int32
    private(set) var hello: HelloOK!
    let path: String

    init(path: String, timeoutSeconds: Double, clientName: String = "pgstatectl/\(PGStateCtl.version)") throws {
        self.path = path
        self.timeoutMilliseconds = Int32(clamping: Int((timeoutSeconds * 1000).rounded()))
        descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw Self.failure("cannot create a socket", errno) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            close(descriptor)
            throw ControlFailure(kind: .usage, description: "socket path \(path) is longer than 107 bytes")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard connected == 0 else {
            let code = errno
            close(descriptor)
            throw Self.failure("no answer from \(path): cannot connect", code)
        }
        switch try call(.hello(Hello(versions: [1], clientName: clientName))) {
        case .helloOK(let hello):
            self.hello = hello
            decoder.maxFrameBytes = hello.limits.maxFrameBytes
        case let other:
            throw ControlFailure(kind: .noAnswer, description: "\(path) answered HELLO with \(other.type)")
        }
    }

    deinit { close(descriptor) }

    var capabilities: Capabilities { hello.capabilities }

    /// Sends `request` and waits for its answer. An ERROR is returned as a response; a closing ERROR with request
    /// id 0 and every failure to get an answer are thrown.
    func call(_ request: Request, namespace: Namespace? = nil) throws -> Response {
        lastRequestID &+= 1
        let id = lastRequestID
        var frame = ByteBuffer()
        RequestFrame(requestID: id, request: request, namespace: namespace).encode(into: &frame)
        try send(frame)
        let deadline = monotonicMilliseconds() + Int64(timeoutMilliseconds)
        while true {
            let answer = try nextResponse(deadline: deadline)
            if answer.requestID == id { return answer.response }
            if answer.requestID == 0, case .error(let error) = answer.response {
                throw ControlFailure(kind: .server(error.status),
                                     description: "\(error.status): \(error.message)")
            }
            throw ControlFailure(kind: .noAnswer, description: "protocol error: an answer for request \(answer.requestID) while waiting for \(id)")
        }
    }

    private func send(_ frame: ByteBuffer) throws {
        var frame = frame
        while frame.readableBytes > 0 {
            let sent = frame.withUnsafeReadableBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent < 0 {
                if errno == EINTR { continue }
                throw Self.failure("no answer from \(path): the connection failed", errno)
            }
            frame.moveReaderIndex(forwardBy: sent)
        }
    }

    private func nextResponse(deadline: Int64) throws -> ResponseFrame {
        while true {
            do {
                if let frame = try decoder.decode(buffer: &input) { return try ResponseFrame.decode(frame) }
            } catch {
                throw ControlFailure(kind: .noAnswer, description: "protocol error from \(path): \(error)")
            }
            let left = deadline - monotonicMilliseconds()
            guard left > 0 else {
                throw ControlFailure(kind: .noAnswer, description: "no answer from \(path) within \(timeoutMilliseconds) ms")
            }
            var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, Int32(clamping: left))
            if ready < 0 && errno != EINTR { throw Self.failure("poll failed", errno) }
            guard ready > 0 else { continue }
            var chunk = [UInt8](repeating: 0, count: 64 * 1024)
            let count = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count == 0 {
                throw ControlFailure(kind: .noAnswer, description: "no answer from \(path): the server closed the connection")
            }
            if count < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                throw Self.failure("no answer from \(path): the connection failed", errno)
            }
            input.writeBytes(chunk[0..<count])
        }
    }

    private static func failure(_ what: String, _ code: Int32) -> ControlFailure {
        ControlFailure(kind: .noAnswer, description: "\(what): \(String(cString: strerror(code)))")
    }
}

func monotonicMilliseconds() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
}

func monotonicNanoseconds() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
}
