import PGStateProtocol

/// A line of the access file that cannot be used; the whole file is then refused (at start-up the daemon does
/// not start, on reload the old rules stay).
public struct AccessFileError: Error, Sendable, Hashable, CustomStringConvertible {
    public var source: String
    /// 1-based; 0 when the file as a whole is at fault.
    public var line: Int
    public var reason: String

    public var description: String { line == 0 ? "\(source): \(reason)" : "\(source):\(line): \(reason)" }
}

extension AccessRules {
    /// Largest access file read (a file this large is a mistake, not a policy).
    public static let maxFileBytes = 1 << 20

    /// Parses an access file completely; any bad line refuses the whole file.
    ///
    /// One rule per line: `WHO NAMESPACE PERMISSIONS [connections=N] [in-flight=N]`, `#` starts a comment.
    /// WHO is `user:NAME`, `user:*`, `uid:N`, `group:NAME` or `gid:N`; NAMESPACE a name, `""` (the shared
    /// namespace), `{user}` or `*`; PERMISSIONS `r`, `rw` or `admin`. Names are resolved through `names` now.
    public static func parse(_ text: String, source: String, names: NameService) throws(AccessFileError) -> AccessRules {
        var rules: [AccessRule] = []
        var warnings: [String] = []
        func fail(_ line: Int, _ reason: String) -> AccessFileError {
            AccessFileError(source: source, line: line, reason: reason)
        }
        guard text.utf8.count <= maxFileBytes else {
            throw fail(0, "the file is larger than \(maxFileBytes) bytes")
        }
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = index + 1
            let content = rawLine.prefix { $0 != "#" }
            let fields = content.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }).map(String.init)
            if fields.isEmpty { continue }
            guard fields.count >= 3 else {
                throw fail(number, "expected WHO NAMESPACE PERMISSIONS, found \(fields.count) field\(fields.count == 1 ? "" : "s")")
            }
            let who: AccessRule.Who
            do { who = try parseWho(fields[0], names: names, warnings: &warnings, line: number, source: source) }
            catch { throw fail(number, "\(error)") }
            let namespace: AccessRule.NamespaceChoice
            switch fields[1] {
            case "*": namespace = .every
            case "{user}": namespace = .userName
            case "\"\"": namespace = .literal(.shared)
            default:
                guard !fields[1].isEmpty, let literal = try? Namespace(fields[1]) else {
                    throw fail(number, "namespace \"\(fields[1])\" is not *, {user}, \"\" or a name of 1 to 63 letters, digits, '.', '_' or '-'")
                }
                namespace = .literal(literal)
            }
            let permissions: Permissions
            switch fields[2] {
            case "r": permissions = [.read]
            case "rw": permissions = [.read, .write]
            case "admin": permissions = [.read, .write, .admin]
            default: throw fail(number, "permissions \"\(fields[2])\" are not r, rw or admin")
            }
            var limits = IdentityLimits()
            for option in fields.dropFirst(3) {
                guard let equals = option.firstIndex(of: "=") else {
                    throw fail(number, "\"\(option)\" is not an option of the form connections=N or in-flight=N")
                }
                let key = String(option[..<equals])
                let valueText = String(option[option.index(after: equals)...])
                guard let value = Int(valueText), value >= 1, value <= 10_000_000 else {
                    throw fail(number, "\(key)=\(valueText): the value must be an integer from 1 to 10000000")
                }
                switch key {
                case "connections":
                    guard limits.connections == nil else { throw fail(number, "connections= is given twice") }
                    limits.connections = value
                case "in-flight":
                    guard limits.inFlight == nil else { throw fail(number, "in-flight= is given twice") }
                    limits.inFlight = value
                default:
                    throw fail(number, "unknown option \"\(key)\" (known: connections, in-flight)")
                }
            }
            rules.append(AccessRule(who: who, namespace: namespace, permissions: permissions, limits: limits,
                                    line: number))
        }
        if rules.isEmpty {
            warnings.append("\(source): no rules: every connection is refused")
        }
        return AccessRules(source: source, rules: rules, warnings: warnings)
    }

    private struct WhoError: Error, CustomStringConvertible {
        let description: String
    }

    private static func parseWho(_ text: String, names: NameService, warnings: inout [String], line: Int,
                                 source: String) throws -> AccessRule.Who {
        guard let colon = text.firstIndex(of: ":") else {
            throw WhoError(description: "\"\(text)\" is not user:NAME, user:*, uid:N, group:NAME or gid:N")
        }
        let kind = text[..<colon]
        let value = String(text[text.index(after: colon)...])
        guard !value.isEmpty else { throw WhoError(description: "\"\(text)\" names nobody") }
        func number() throws -> UInt32 {
            guard let id = UInt32(value) else {
                throw WhoError(description: "\(kind):\(value): expected a number from 0 to \(UInt32.max)")
            }
            return id
        }
        switch kind {
        case "user":
            if value == "*" { return .anyUser }
            let uid = names.userID(value)
            if uid == nil { warnings.append("\(source):\(line): no user named \"\(value)\"; the rule matches nobody until it exists and the rules are reloaded") }
            return .user(name: value, uid: uid)
        case "uid":
            return .uid(try number())
        case "group":
            let gid = names.groupID(value)
            if gid == nil { warnings.append("\(source):\(line): no group named \"\(value)\"; the rule matches nobody until it exists and the rules are reloaded") }
            return .group(name: value, gid: gid)
        case "gid":
            return .gid(try number())
        default:
            throw WhoError(description: "\"\(kind):\" is not user:, uid:, group: or gid:")
        }
    }
}
