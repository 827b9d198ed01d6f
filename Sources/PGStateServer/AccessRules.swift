import PGStateProtocol

/// Limits one identity (one peer uid) lives within, across all of its connections, so that one service cannot
/// exhaust the daemon for the others. nil: no limit beyond the server's own.
public struct IdentityLimits: Sendable, Hashable {
    public var connections: Int?
    /// Requests of the identity executing in the store at once (beyond it: `OVERLOADED`, not executed).
    public var inFlight: Int?

    public init(connections: Int? = nil, inFlight: Int? = nil) {
        self.connections = connections
        self.inFlight = inFlight
    }

    public static let none = IdentityLimits()
}

/// One line of the access file: who it matches, the namespace it grants and what it permits.
public struct AccessRule: Sendable, Hashable {
    public enum Who: Sendable, Hashable {
        /// `user:NAME`, resolved to a uid when the file was loaded (nil: no such user then; matches nobody).
        case user(name: String, uid: UInt32?)
        case uid(UInt32)
        /// `group:NAME`, primary or supplementary, resolved when loaded (nil: no such group; matches nobody).
        case group(name: String, gid: UInt32?)
        case gid(UInt32)
        /// `user:*`: every peer.
        case anyUser
    }

    public enum NamespaceChoice: Sendable, Hashable {
        case literal(Namespace)
        /// `{user}`: the peer's user name (a peer without one, or whose name is not a valid namespace, does not
        /// match the rule).
        case userName
        /// `*`: requests name the namespace (flag NAMESPACE); without it they address the shared one.
        case every
    }

    public var who: Who
    public var namespace: NamespaceChoice
    public var permissions: Permissions
    public var limits: IdentityLimits
    /// 1-based line in the file, for WHOAMI, logs and audit lines.
    public var line: Int

    public func matches(_ peer: PeerIdentity) -> Bool {
        switch who {
        case .user(_, let uid): return uid == peer.uid
        case .uid(let uid): return uid == peer.uid
        case .group(_, let gid): return gid.map(peer.isMember(of:)) ?? false
        case .gid(let gid): return peer.isMember(of: gid)
        case .anyUser: return true
        }
    }
}

/// What a connection was granted when it was accepted; it keeps it for its whole life (a reload applies to new
/// connections only).
public struct AccessGrant: Sendable, Hashable {
    /// Where requests without the NAMESPACE flag go.
    public var namespace: Namespace
    public var permissions: Permissions
    /// `path:line` of the rule, empty without an access file.
    public var rule: String
    public var limits: IdentityLimits

    public init(namespace: Namespace, permissions: Permissions, rule: String, limits: IdentityLimits = .none) {
        self.namespace = namespace
        self.permissions = permissions
        self.rule = rule
        self.limits = limits
    }

    /// The namespace a request addresses, if the grant allows it: its own, or any with ANY_NAMESPACE.
    public func namespace(for named: Namespace?) -> Namespace? {
        guard let named, named != namespace else { return namespace }
        return permissions.contains(.anyNamespace) ? named : nil
    }
}

/// The rules in force: an access file's, or the open policy of a server without one.
public enum AccessPolicy: Sendable {
    /// No access file: one shared namespace and full access for every peer that can open the socket; a peer
    /// running as root or as the daemon's own user is an operator (admin, any namespace).
    case open(operatorUID: UInt32)
    case rules(AccessRules)

    /// The grant for a peer; nil when no rule matches (the HELLO is answered `PERMISSION_DENIED`).
    public func grant(for peer: PeerIdentity) -> AccessGrant? {
        switch self {
        case .open(let operatorUID):
            let isOperator = peer.uid == 0 || peer.uid == operatorUID
            return AccessGrant(namespace: .shared,
                               permissions: isOperator ? [.read, .write, .admin, .anyNamespace] : [.read, .write],
                               rule: "")
        case .rules(let rules):
            return rules.grant(for: peer)
        }
    }
}

/// A parsed access file: its rules in order (first match wins).
public struct AccessRules: Sendable {
    /// The file's path, for rule references (`path:line`).
    public var source: String
    public var rules: [AccessRule]
    /// Lines that parse but cannot match anyone now (a user or group that does not exist), for the log.
    public var warnings: [String]

    public func grant(for peer: PeerIdentity) -> AccessGrant? {
        for rule in rules where rule.matches(peer) {
            let namespace: Namespace
            var permissions = rule.permissions
            switch rule.namespace {
            case .literal(let literal):
                namespace = literal
            case .every:
                namespace = .shared
                permissions.insert(.anyNamespace)
            case .userName:
                guard let name = peer.userName, let templated = try? Namespace(name) else { continue }
                namespace = templated
            }
            return AccessGrant(namespace: namespace, permissions: permissions, rule: "\(source):\(rule.line)",
                               limits: rule.limits)
        }
        return nil
    }
}

extension AccessRule: CustomStringConvertible {
    /// The rule in the access file's own syntax (names as written, with the uid or gid they resolved to).
    public var description: String {
        let who: String
        switch self.who {
        case .user(let name, let uid): who = "user:\(name) (\(uid.map { "uid \($0)" } ?? "no such user"))"
        case .uid(let uid): who = "uid:\(uid)"
        case .group(let name, let gid): who = "group:\(name) (\(gid.map { "gid \($0)" } ?? "no such group"))"
        case .gid(let gid): who = "gid:\(gid)"
        case .anyUser: who = "user:*"
        }
        let namespace: String
        switch self.namespace {
        case .literal(let literal): namespace = literal.isShared ? "\"\"" : literal.value
        case .userName: namespace = "{user}"
        case .every: namespace = "*"
        }
        let permissions = self.permissions.contains(.admin) ? "admin" : self.permissions.contains(.write) ? "rw" : "r"
        var text = "\(who) \(namespace) \(permissions)"
        if let connections = limits.connections { text += " connections=\(connections)" }
        if let inFlight = limits.inFlight { text += " in-flight=\(inFlight)" }
        return text
    }
}
