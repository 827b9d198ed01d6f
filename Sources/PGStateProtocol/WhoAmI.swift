import NIOCore

/// What a connection's identity may do (WHOAMI_OK `permissions`, PROTOCOL.md 6.13).
public struct Permissions: OptionSet, Sendable, Hashable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let read = Permissions(rawValue: 1 << 0)
    public static let write = Permissions(rawValue: 1 << 1)
    /// The operators' requests.
    public static let admin = Permissions(rawValue: 1 << 2)
    /// May name any namespace with the `NAMESPACE` flag.
    public static let anyNamespace = Permissions(rawValue: 1 << 3)

    public var description: String {
        var names: [String] = []
        if contains(.read) { names.append("read") }
        if contains(.write) { names.append("write") }
        if contains(.admin) { names.append("admin") }
        if contains(.anyNamespace) { names.append("any-namespace") }
        return names.isEmpty ? "none" : names.joined(separator: ",")
    }
}

/// `WHOAMI_OK` (0x87): who the server takes the peer to be, its namespace and permissions.
public struct WhoAmI: Sendable, Hashable {
    public var uid: UInt32
    public var gid: UInt32
    /// As the server saw it at accept; 0 when unknown. Informational only (pids are reused).
    public var pid: UInt32
    /// The name of `uid`, empty when it has none.
    public var user: String
    public var namespace: String
    public var permissions: Permissions
    /// The access rule that granted the permissions (`file:line`), empty without access rules.
    public var rule: String

    public init(uid: UInt32, gid: UInt32, pid: UInt32, user: String, namespace: String, permissions: Permissions,
                rule: String) {
        self.uid = uid
        self.gid = gid
        self.pid = pid
        self.user = String(clippedToStr8: user)
        self.namespace = String(clippedToStr8: namespace)
        self.permissions = permissions
        self.rule = String(clippedToStr8: rule)
    }

    static func decode(_ reader: inout PayloadReader) throws -> WhoAmI {
        let uid = try reader.integer("uid", as: UInt32.self)
        let gid = try reader.integer("gid", as: UInt32.self)
        let pid = try reader.integer("pid", as: UInt32.self)
        let user = try reader.text("user", lengthAs: UInt8.self)
        let namespace = try reader.text("namespace", lengthAs: UInt8.self)
        let permissions = try reader.integer("permissions", as: UInt8.self)
        let rule = try reader.text("rule", lengthAs: UInt8.self)
        return WhoAmI(uid: uid, gid: gid, pid: pid, user: user, namespace: namespace,
                      permissions: Permissions(rawValue: permissions), rule: rule)
    }

    func encode(into buffer: inout ByteBuffer) {
        buffer.writeInteger(uid)
        buffer.writeInteger(gid)
        buffer.writeInteger(pid)
        buffer.writeStr8(user.utf8)
        buffer.writeStr8(namespace.utf8)
        buffer.writeInteger(permissions.rawValue)
        buffer.writeStr8(rule.utf8)
    }
}
