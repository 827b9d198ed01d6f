import CPGStateSys
import Glibc

/// The socket path pgstated binds itself (not under socket activation).
enum UnixSocketPath {
    struct Error: Swift.Error, CustomStringConvertible {
        let description: String
    }

    /// Creates the parent folder, refuses a path another live server answers on, removes a stale socket file,
    /// then binds and listens. Returns the listening descriptor (non-blocking, close-on-exec).
    ///
    /// The socket file gets `mode` from the start: `bind` runs under a umask that leaves no more than `mode`, so
    /// there is no moment in which the file exists with the process umask's wider mode (with umask 0 another user
    /// could connect in that window and keep the connection). The chmod after it only widens to exactly `mode`.
    /// The umask is process-wide; this runs once at start-up, before any other thread creates files.
    static func bindAndListen(_ path: String, mode: mode_t, backlog: Int32 = 1024) throws -> Int32 {
        try prepare(path)
        let descriptor = pgstate_unix_stream_socket(1)
        guard descriptor >= 0 else { throw Error(description: "socket failed: \(lastError)") }
        let previousMask = pgstate_umask(~mode & 0o777)
        let bound = withAddress(of: path) { bind(descriptor, $0, $1) }
        _ = pgstate_umask(previousMask)
        guard bound == 0 else {
            let why = lastError
            close(descriptor)
            throw Error(description: "cannot bind \(path): \(why)")
        }
        guard chmod(path, mode) == 0 else {
            let why = lastError
            close(descriptor)
            throw Error(description: "cannot chmod \(path): \(why)")
        }
        guard Glibc.listen(descriptor, backlog) == 0 else {
            let why = lastError
            close(descriptor)
            throw Error(description: "cannot listen on \(path): \(why)")
        }
        return descriptor
    }

    static func prepare(_ path: String) throws {
        guard path.utf8.count < 108 else {
            throw Error(description: "socket path \(path) is \(path.utf8.count) bytes; Unix sockets allow 107")
        }
        try makeParentFolder(of: path)
        var info = stat()
        guard lstat(path, &info) == 0 else { return }  // nothing there
        guard info.st_mode & S_IFMT == S_IFSOCK else {
            throw Error(description: "\(path) exists and is not a socket; refusing to replace it")
        }
        if isLive(path) {
            throw Error(description: "another server is listening on \(path); refusing to start")
        }
        guard unlink(path) == 0 || errno == ENOENT else {
            throw Error(description: "cannot remove stale socket \(path): \(lastError)")
        }
    }

    private static var lastError: String { String(cString: strerror(errno)) }

    private static func makeParentFolder(of path: String) throws {
        var folder = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/").dropLast() {
            folder += "/\(component)"
            if mkdir(folder, 0o755) != 0 && errno != EEXIST {
                throw Error(description: "cannot create folder \(folder): \(lastError)")
            }
        }
        try checkParentFolder(folder.isEmpty ? "/" : folder)
    }

    /// The folder holding the socket must not let another user replace the socket file (and so take the
    /// clients' connections): it belongs to root or to the daemon's user, and if others may write to it, the
    /// sticky bit must stop them from removing what is not theirs (as on /tmp).
    static func checkParentFolder(_ folder: String) throws {
        var info = stat()
        guard stat(folder, &info) == 0 else { throw Error(description: "cannot stat folder \(folder): \(lastError)") }
        guard info.st_uid == 0 || info.st_uid == geteuid() else {
            throw Error(description: "the socket folder \(folder) belongs to uid \(info.st_uid); it must belong to root or to the daemon's user (uid \(geteuid())), or that user could replace the socket")
        }
        let writableByOthers = info.st_mode & 0o022 != 0
        let sticky = info.st_mode & mode_t(S_ISVTX) != 0
        guard !writableByOthers || sticky else {
            throw Error(description: "the socket folder \(folder) is writable by its group or by others without the sticky bit (mode \(String(info.st_mode & 0o7777, radix: 8))); anyone there could replace the socket")
        }
    }

    /// Whether a server accepts connections on `path` right now (a blocking connect: the path is local).
    private static func isLive(_ path: String) -> Bool {
        let descriptor = pgstate_unix_stream_socket(0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        return withAddress(of: path) { connect(descriptor, $0, $1) } == 0
    }

    private static func withAddress<R>(of path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            let bytes = Array(path.utf8.prefix(raw.count - 1))
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                body($0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
    }
}
