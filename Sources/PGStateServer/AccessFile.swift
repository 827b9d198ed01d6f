import Glibc

/// Reading the access file from disk, with the checks a file that grants access deserves.
public enum AccessFile {
    /// Reads and parses `path` completely. Refuses a file that someone other than root or the daemon's user could
    /// change (owned by another user, or writable by group or others): whoever can write it can grant themselves
    /// any namespace.
    public static func load(_ path: String, names: NameService = .system) throws(AccessFileError) -> AccessRules {
        func fail(_ reason: String) -> AccessFileError { AccessFileError(source: path, line: 0, reason: reason) }
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw fail("cannot open: \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw fail("cannot stat: \(String(cString: strerror(errno)))") }
        guard info.st_mode & S_IFMT == S_IFREG else { throw fail("not a regular file") }
        guard info.st_uid == 0 || info.st_uid == geteuid() else {
            throw fail("owned by uid \(info.st_uid); it must belong to root or to the daemon's user (uid \(geteuid()))")
        }
        guard info.st_mode & 0o022 == 0 else {
            throw fail("writable by its group or by others (mode \(String(info.st_mode & 0o777, radix: 8))); chmod go-w it")
        }
        guard info.st_size <= AccessRules.maxFileBytes else {
            throw fail("the file is larger than \(AccessRules.maxFileBytes) bytes")
        }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw fail("cannot read: \(String(cString: strerror(errno)))")
            }
            if count == 0 { break }
            bytes += chunk[0..<count]
            guard bytes.count <= AccessRules.maxFileBytes else {
                throw fail("the file is larger than \(AccessRules.maxFileBytes) bytes")
            }
        }
        guard let text = String(validating: bytes, as: UTF8.self) else { throw fail("not valid UTF-8") }
        return try AccessRules.parse(text, source: path, names: names)
    }
}
