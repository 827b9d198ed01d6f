import Glibc
import NIOCore
import NIOPosix

/// Preparing a socket path pgstated binds itself (not under socket activation).
enum UnixSocketPath {
    struct Error: Swift.Error, CustomStringConvertible {
        let description: String
    }

    /// Creates the parent folder, refuses a path another live server answers on, and removes a stale socket file.
    static func prepare(_ path: String, group: EventLoopGroup) async throws {
        guard path.utf8.count < 108 else {
            throw Error(description: "socket path \(path) is \(path.utf8.count) bytes; Unix sockets allow 107")
        }
        try makeParentFolder(of: path)
        var info = stat()
        guard lstat(path, &info) == 0 else { return }  // nothing there
        guard info.st_mode & S_IFMT == S_IFSOCK else {
            throw Error(description: "\(path) exists and is not a socket; refusing to replace it")
        }
        if await isLive(path, group: group) {
            throw Error(description: "another server is listening on \(path); refusing to start")
        }
        guard unlink(path) == 0 || errno == ENOENT else {
            throw Error(description: "cannot remove stale socket \(path): \(String(cString: strerror(errno)))")
        }
    }

    static func setMode(_ path: String, _ mode: mode_t) throws {
        guard chmod(path, mode) == 0 else {
            throw Error(description: "cannot chmod \(path): \(String(cString: strerror(errno)))")
        }
    }

    private static func makeParentFolder(of path: String) throws {
        var folder = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/").dropLast() {
            folder += "/\(component)"
            if mkdir(folder, 0o755) != 0 && errno != EEXIST {
                throw Error(description: "cannot create folder \(folder): \(String(cString: strerror(errno)))")
            }
        }
    }

    /// Whether a server accepts connections on `path` right now.
    private static func isLive(_ path: String, group: EventLoopGroup) async -> Bool {
        do {
            let channel = try await ClientBootstrap(group: group)
                .connectTimeout(.seconds(2))
                .connect(unixDomainSocketPath: path).get()
            try? await channel.close()
            return true
        } catch {
            return false
        }
    }
}
