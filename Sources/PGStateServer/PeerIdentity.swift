import CPGStateSys
import Glibc

/// Who is at the other end of a client socket, as the kernel reports it: `SO_PEERCRED` (the credentials of the
/// process that connected, taken at `connect` time) and `SO_PEERGROUPS` (its supplementary groups). Read once per
/// connection, at accept; never anything the client says about itself.
public struct PeerIdentity: Sendable, Hashable, CustomStringConvertible {
    public var uid: UInt32
    public var gid: UInt32
    /// Informational only: the process may have exited and its pid been reused by the time anyone looks.
    public var pid: Int32
    /// Supplementary groups (may include the primary one).
    public var groups: [UInt32]
    /// The name of `uid` (NSS), nil when it has none.
    public var userName: String?

    public init(uid: UInt32, gid: UInt32, pid: Int32, groups: [UInt32] = [], userName: String? = nil) {
        self.uid = uid
        self.gid = gid
        self.pid = pid
        self.groups = groups
        self.userName = userName
    }

    /// Whether `group` is the peer's primary or one of its supplementary groups.
    public func isMember(of group: UInt32) -> Bool {
        gid == group || groups.contains(group)
    }

    public var description: String {
        "uid=\(uid)\(userName.map { "(\($0))" } ?? "") gid=\(gid) pid=\(pid)"
    }

    /// The kernel's credentials of the peer of a connected Unix socket; nil if the socket has none (which for an
    /// accepted Unix stream socket does not happen).
    static func read(from descriptor: Int32) -> PeerIdentity? {
        var pid: pid_t = 0
        var uid: uid_t = 0
        var gid: gid_t = 0
        guard pgstate_peer_credentials(descriptor, &pid, &uid, &gid) == 0 else { return nil }
        return PeerIdentity(uid: uid, gid: gid, pid: pid, groups: readGroups(descriptor))
    }

    private static func readGroups(_ descriptor: Int32) -> [UInt32] {
        var capacity = 64
        while true {
            var groups = [gid_t](repeating: 0, count: capacity)
            let count = pgstate_peer_groups(descriptor, &groups, Int32(capacity))
            if count >= 0 { return Array(groups.prefix(Int(count))) }
            if count == -1 { return [] }
            capacity = Int(-2 - count)  // the kernel said how many there are
        }
    }
}

/// Names of users and groups through NSS (`/etc/passwd`, or LDAP/sssd where configured). Called at accept (the
/// peer's user name, cached per uid) and when the access file is loaded (the names its rules use), never per
/// request.
public struct NameService: Sendable {
    public var userName: @Sendable (UInt32) -> String?
    public var userID: @Sendable (String) -> UInt32?
    public var groupID: @Sendable (String) -> UInt32?

    public init(userName: @escaping @Sendable (UInt32) -> String?, userID: @escaping @Sendable (String) -> UInt32?,
                groupID: @escaping @Sendable (String) -> UInt32?) {
        self.userName = userName
        self.userID = userID
        self.groupID = groupID
    }

    /// The system's NSS.
    public static let system = NameService(
        userName: { uid in
            passwordEntry({ getpwuid_r(uid, $0, $1, $2, $3) }) { String(cString: $0.pw_name) }
        },
        userID: { name in
            passwordEntry({ getpwnam_r(name, $0, $1, $2, $3) }) { $0.pw_uid }
        },
        groupID: { name in
            var entry = group()
            var result: UnsafeMutablePointer<group>?
            var found: UInt32?
            withLookupBuffer { buffer, size in
                let code = getgrnam_r(name, &entry, buffer, size, &result)
                if code == 0 && result != nil { found = entry.gr_gid }
                return code
            }
            return found
        }
    )

    /// Runs a `getpw*_r` call and takes what `extract` needs from the entry while its buffer is alive (the
    /// entry's strings point into it).
    private static func passwordEntry<T>(
        _ call: (UnsafeMutablePointer<passwd>, UnsafeMutablePointer<CChar>, Int,
                 UnsafeMutablePointer<UnsafeMutablePointer<passwd>?>) -> Int32,
        _ extract: (passwd) -> T
    ) -> T? {
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var found: T?
        withLookupBuffer { buffer, size in
            let code = call(&entry, buffer, size, &result)
            if code == 0 && result != nil { found = extract(entry) }
            return code
        }
        return found
    }

    /// Runs an NSS `_r` call with a buffer that grows while the call answers ERANGE.
    private static func withLookupBuffer(_ call: (UnsafeMutablePointer<CChar>, Int) -> Int32) {
        var size = 1024
        while size <= 1 << 20 {
            let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: size)
            defer { buffer.deallocate() }
            guard call(buffer, size) == ERANGE else { return }
            size *= 2
        }
    }
}
