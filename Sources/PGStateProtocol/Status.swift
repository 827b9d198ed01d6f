/// A status code carried by an `ERROR` frame (`u16be`).
///
/// The table is closed for protocol v1, but the type is a struct so new codes never break callers:
/// code that meets an unknown status classifies it by its hundreds (``category``).
public struct Status: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// Who is at fault and whether a retry can help, derived from the hundreds of the code.
    public enum Category: Sendable, Hashable {
        /// 1xx: the client sent something wrong; retrying it unchanged fails again.
        case clientError
        /// 2xx: a server condition; the request was NOT executed and may be retried with backoff.
        case retryable
        /// 3xx: the request may or may not have been applied.
        case outcomeUnknown
        /// 5xx and anything unassigned: the server's fault.
        case internalError
    }

    // 1xx: the client's fault.
    public static let malformedFrame = Status(rawValue: 100)
    public static let unknownMessageType = Status(rawValue: 101)
    public static let invalidArgument = Status(rawValue: 102)
    public static let frameTooLarge = Status(rawValue: 103)
    public static let unsupportedVersion = Status(rawValue: 104)
    public static let notAllowed = Status(rawValue: 105)
    /// The connection's identity may not do this (PROTOCOL.md 6.14); closes only when answering HELLO.
    public static let permissionDenied = Status(rawValue: 106)
    // 2xx: retryable, not executed.
    public static let unavailable = Status(rawValue: 200)
    public static let overloaded = Status(rawValue: 201)
    public static let shuttingDown = Status(rawValue: 202)
    // 3xx: outcome unknown.
    public static let outcomeUnknown = Status(rawValue: 300)
    // 5xx: the server's fault.
    public static let internalError = Status(rawValue: 500)

    /// Every status defined by protocol v1.
    public static let allDefined: [Status] = [
        .malformedFrame, .unknownMessageType, .invalidArgument, .frameTooLarge, .unsupportedVersion, .notAllowed,
        .permissionDenied, .unavailable, .overloaded, .shuttingDown, .outcomeUnknown, .internalError,
    ]

    public var category: Category {
        switch rawValue {
        case 100..<200: return .clientError
        case 200..<300: return .retryable
        case 300..<400: return .outcomeUnknown
        default: return .internalError
        }
    }

    /// The name used in PROTOCOL.md and the test vectors, e.g. `MALFORMED_FRAME`.
    public var name: String {
        switch self {
        case .malformedFrame: return "MALFORMED_FRAME"
        case .unknownMessageType: return "UNKNOWN_MESSAGE_TYPE"
        case .invalidArgument: return "INVALID_ARGUMENT"
        case .frameTooLarge: return "FRAME_TOO_LARGE"
        case .unsupportedVersion: return "UNSUPPORTED_VERSION"
        case .notAllowed: return "NOT_ALLOWED"
        case .permissionDenied: return "PERMISSION_DENIED"
        case .unavailable: return "UNAVAILABLE"
        case .overloaded: return "OVERLOADED"
        case .shuttingDown: return "SHUTTING_DOWN"
        case .outcomeUnknown: return "OUTCOME_UNKNOWN"
        case .internalError: return "INTERNAL_ERROR"
        default: return "STATUS_\(rawValue)"
        }
    }

    public var description: String { "\(name) (\(rawValue))" }
}
