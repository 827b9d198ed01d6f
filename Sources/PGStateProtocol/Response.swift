import NIOCore

/// A decoded response (server → client) with the request id it answers.
public struct ResponseFrame: Sendable, Hashable {
    /// The id of the request this answers; 0 for an `ERROR` that belongs to no request.
    public var requestID: UInt32
    public var response: Response

    public init(requestID: UInt32, response: Response) {
        self.requestID = requestID
        self.response = response
    }
}

/// The responses of protocol v1.
public enum Response: Sendable, Hashable {
    case helloOK(HelloOK)
    /// Answer to `PING` and to a `DELETE` that took effect (or found nothing to delete).
    case ok
    case record(Record)
    case notFound
    case conflict(Conflict)
    case error(ErrorResponse)
    case whoamiOK(WhoAmI)
    case healthOK(Health)
    case statsOK([StatsEntry])
    case clientsOK(ClientsPage)
    /// Answer to `BULK_LOAD`.
    case records([RecordsEntry])
    /// Answer to `BULK_WRITE`, and to a `TRANSACT` that applied.
    case outcomes([ItemOutcome])
    /// Answer to a `TRANSACT` that applied nothing: every item whose expectation failed.
    case transactConflict([TransactConflictItem])
    case listOK(ListPage)

    public var type: MessageType {
        switch self {
        case .helloOK: return .helloOK
        case .ok: return .ok
        case .record: return .record
        case .notFound: return .notFound
        case .conflict: return .conflict
        case .error: return .error
        case .whoamiOK: return .whoamiOK
        case .healthOK: return .healthOK
        case .statsOK: return .statsOK
        case .clientsOK: return .clientsOK
        case .records: return .records
        case .outcomes: return .outcomes
        case .transactConflict: return .transactConflict
        case .listOK: return .listOK
        }
    }
}

/// `RECORD`: a stored record as of the answered request.
public struct Record: Sendable, Hashable {
    public var revision: UInt64
    /// Microseconds since 1970-01-01T00:00:00Z, from the database clock.
    public var updatedAtMicroseconds: Int64
    public var state: ByteBuffer

    public init(revision: UInt64, updatedAtMicroseconds: Int64, state: ByteBuffer) {
        self.revision = revision
        self.updatedAtMicroseconds = updatedAtMicroseconds
        self.state = state
    }
}

/// `CONFLICT`: the expected revision did not match. An ordinary outcome, not an error.
public struct Conflict: Sendable, Hashable {
    public var expectedRevision: UInt64
    /// The latest committed revision, 0 when the record is absent. Never equal to `expectedRevision`.
    public var actualRevision: UInt64

    public init(expectedRevision: UInt64, actualRevision: UInt64) {
        self.expectedRevision = expectedRevision
        self.actualRevision = actualRevision
    }
}

/// `ERROR`: a status from the closed table and a human-readable message for logs.
public struct ErrorResponse: Sendable, Hashable {
    public var status: Status
    public var message: String

    public init(status: Status, message: String) {
        self.status = status
        self.message = message
    }

    public init(_ error: ProtocolError) {
        self.init(status: error.status, message: error.message)
    }

    /// Messages are for logs: an encoder cuts them to at most this many bytes rather than fail.
    public static let maxMessageBytes = 1024

    /// The message cut to ``maxMessageBytes`` at a character boundary.
    var truncatedMessage: String {
        guard message.utf8.count > Self.maxMessageBytes else { return message }
        var cut = Substring(message)
        while cut.utf8.count > Self.maxMessageBytes { cut = cut.dropLast() }
        return String(cut)
    }
}

extension ResponseFrame {
    /// Decodes one response frame.
    ///
    /// - Throws: ``ProtocolError`` with `MALFORMED_FRAME` for a structural fault and `UNKNOWN_MESSAGE_TYPE` for a
    ///   type that is not a v1 response. A client treats either as fatal for the connection.
    public static func decode(_ frame: Frame) throws -> ResponseFrame {
        var reader = PayloadReader(frame)
        try reader.requireFlags(frame.flags, allowed: 0)
        let response: Response
        switch frame.type {
        case .helloOK:
            response = .helloOK(try HelloOK.decode(&reader))
        case .ok:
            response = .ok
        case .record:
            let revision = try reader.integer("revision", as: UInt64.self)
            let updatedAt = try reader.integer("updated_at", as: Int64.self)
            let state = try reader.slice("state", lengthAs: UInt32.self)
            response = .record(Record(revision: revision, updatedAtMicroseconds: updatedAt, state: state))
        case .notFound:
            response = .notFound
        case .conflict:
            let expected = try reader.integer("expected_revision", as: UInt64.self)
            let actual = try reader.integer("actual_revision", as: UInt64.self)
            response = .conflict(Conflict(expectedRevision: expected, actualRevision: actual))
        case .error:
            let status = try reader.integer("status", as: UInt16.self)
            let message = try reader.text("message", lengthAs: UInt16.self)
            response = .error(ErrorResponse(status: Status(rawValue: status), message: message))
        case .whoamiOK:
            response = .whoamiOK(try WhoAmI.decode(&reader))
        case .healthOK:
            response = .healthOK(try Health.decode(&reader))
        case .statsOK:
            response = .statsOK(try StatsEntry.decodeAll(&reader))
        case .clientsOK:
            response = .clientsOK(try ClientsPage.decode(&reader))
        case .records:
            response = .records(try reader.recordsEntries())
        case .outcomes:
            response = .outcomes(try reader.itemOutcomes())
        case .transactConflict:
            response = .transactConflict(try reader.transactConflicts())
        case .listOK:
            response = .listOK(try reader.listPage())
        default:
            throw ProtocolError(
                .unknownMessageType, requestID: frame.requestID,
                "message type \(frame.type) is not a response of protocol v1"
            )
        }
        try reader.finish()
        guard frame.requestID != 0 || frame.type == .error else {
            throw reader.malformed("only ERROR may carry request id 0")
        }
        return ResponseFrame(requestID: frame.requestID, response: response)
    }

    /// Encodes the whole frame, length prefix included.
    public func encode(into buffer: inout ByteBuffer) {
        switch response {
        case .helloOK(let hello):
            buffer.writeFrame(type: .helloOK, requestID: requestID) { hello.encode(into: &$0) }
        case .ok:
            buffer.writeFrame(type: .ok, requestID: requestID)
        case .record(let record):
            buffer.writeFrame(type: .record, requestID: requestID) {
                $0.writeInteger(record.revision)
                $0.writeInteger(record.updatedAtMicroseconds)
                $0.writeInteger(UInt32(record.state.readableBytes))
                $0.writeImmutableBuffer(record.state)
            }
        case .notFound:
            buffer.writeFrame(type: .notFound, requestID: requestID)
        case .conflict(let conflict):
            buffer.writeFrame(type: .conflict, requestID: requestID) {
                $0.writeInteger(conflict.expectedRevision)
                $0.writeInteger(conflict.actualRevision)
            }
        case .error(let error):
            buffer.writeFrame(type: .error, requestID: requestID) {
                $0.writeInteger(error.status.rawValue)
                let message = error.truncatedMessage
                $0.writeInteger(UInt16(message.utf8.count))
                $0.writeBytes(message.utf8)
            }
        case .whoamiOK(let identity):
            buffer.writeFrame(type: .whoamiOK, requestID: requestID) { identity.encode(into: &$0) }
        case .healthOK(let health):
            buffer.writeFrame(type: .healthOK, requestID: requestID) { health.encode(into: &$0) }
        case .statsOK(let entries):
            buffer.writeFrame(type: .statsOK, requestID: requestID) { StatsEntry.encodeAll(entries, into: &$0) }
        case .clientsOK(let page):
            buffer.writeFrame(type: .clientsOK, requestID: requestID) { page.encode(into: &$0) }
        case .records(let entries):
            buffer.writeFrame(type: .records, requestID: requestID) { $0.writeRecordsEntries(entries) }
        case .outcomes(let outcomes):
            buffer.writeFrame(type: .outcomes, requestID: requestID) { $0.writeItemOutcomes(outcomes) }
        case .transactConflict(let conflicts):
            buffer.writeFrame(type: .transactConflict, requestID: requestID) { $0.writeTransactConflicts(conflicts) }
        case .listOK(let page):
            buffer.writeFrame(type: .listOK, requestID: requestID) { $0.writeListPage(page) }
        }
    }
}
