import Foundation
import NIOCore
import PGStateProtocol

/// The shared test vectors of `proto-spec/vectors/`, parsed into the Swift codec's types.
///
/// The JSON format is described in `proto-spec/PROTOCOL.md` ("Test vectors").
struct TestVector: Sendable, CustomStringConvertible {
    enum Expectation: Sendable {
        case request(RequestFrame)
        case response(ResponseFrame)
        case error(status: Status, requestID: UInt32)
        case incomplete
    }

    var name: String
    var file: String
    var isRequest: Bool
    var bytes: [UInt8]
    var limits: ProtocolLimits
    var expectation: Expectation

    var description: String { "\(file):\(name)" }

    static let directory: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("proto-spec/vectors")

    /// Files of the same folder that hold no frames: `envelope.json` holds the clients' envelopes of states
    /// (ENVELOPE.md), checked by its generator and the clients.
    static let notFrames: Set<String> = ["envelope.json"]

    /// Every vector of every file, in file order.
    static let all: [TestVector] = {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return files.filter { $0.hasSuffix(".json") && !notFrames.contains($0) }.sorted().flatMap { file -> [TestVector] in
            let data = try! Data(contentsOf: directory.appendingPathComponent(file))
            let root = try! JSONSerialization.jsonObject(with: data) as! [String: Any]
            return (root["vectors"] as! [[String: Any]]).map { try! TestVector(json: $0, file: file) }
        }
    }()

    static var valid: [TestVector] {
        all.filter { if case .request = $0.expectation { return true }; if case .response = $0.expectation { return true }; return false }
    }
    static var invalid: [TestVector] {
        all.filter { if case .error = $0.expectation { return true }; return false }
    }
    static var incomplete: [TestVector] {
        all.filter { if case .incomplete = $0.expectation { return true }; return false }
    }

    struct FormatError: Error, CustomStringConvertible { var description: String }

    init(json: [String: Any], file: String) throws {
        name = json["name"] as! String
        self.file = file
        isRequest = (json["direction"] as! String) == "request"
        bytes = try Self.bytes(fromHex: json["hex"] as! String)
        limits = .default
        if let override = json["limits"] as? [String: Any] {
            if let maxFrame = override["max_frame_bytes"] as? Int { limits.maxFrameBytes = maxFrame }
            if let maxState = override["max_state_bytes"] as? Int { limits.maxStateBytes = maxState }
            if let items = override["max_batch_items"] as? Int { limits.maxBatchItems = items }
            if let bytes = override["max_batch_bytes"] as? Int { limits.maxBatchBytes = bytes }
        }
        if json["incomplete"] as? Bool == true {
            expectation = .incomplete
        } else if let error = json["error"] as? [String: Any] {
            let status = Status(rawValue: UInt16(error["status"] as! Int))
            guard status.name == error["name"] as? String else {
                throw FormatError(description: "\(name): status \(status) does not match name \(error["name"]!)")
            }
            expectation = .error(status: status, requestID: UInt32(json["request_id"] as! Int))
        } else {
            let message = json["message"] as! [String: Any]
            expectation = isRequest
                ? .request(try Self.request(message, limits: limits)) : .response(try Self.response(message))
        }
    }

    static func bytes(fromHex hex: String) throws -> [UInt8] {
        let digits = Array(hex.utf8)
        guard digits.count % 2 == 0 else { throw FormatError(description: "odd hex length") }
        return try stride(from: 0, to: digits.count, by: 2).map { index in
            guard let byte = UInt8(String(decoding: digits[index..<index + 2], as: UTF8.self), radix: 16) else {
                throw FormatError(description: "bad hex digit near \(index)")
            }
            return byte
        }
    }

    private static func buffer(hex: Any?) throws -> ByteBuffer {
        ByteBuffer(bytes: try bytes(fromHex: hex as! String))
    }

    private static func uint64(_ value: Any?) -> UInt64 {
        (value as! NSNumber).uint64Value
    }

    /// The argument rules of section 8 an item can break (the id's are checked by `PersistenceID`).
    private static func breaksNoRule(_ item: WriteItem, limits: ProtocolLimits) -> Bool {
        switch item {
        case .upsert(let upsert):
            return upsert.expectedRevision <= Revision.maxExpectedForUpsert
                && (upsert.ttlSeconds.map { $0 >= 1 && $0 <= Upsert.maxTTLSeconds } ?? true)
                && upsert.state.readableBytes <= limits.maxStateBytes
        case .delete(let delete):
            return (delete.expectedRevision ?? 0) <= Revision.max
        }
    }

    /// Whether the request holds a BULK_WRITE item that breaks a rule: this project's encoder never writes one
    /// (the C and Python encoders check those vectors' bytes).
    var holdsInvalidItem: Bool {
        guard case .request(let frame) = expectation, case .bulkWrite(let items) = frame.request else { return false }
        return items.contains { if case .invalid = $0 { return true }; return false }
    }

    static func request(_ m: [String: Any], limits: ProtocolLimits = .default) throws -> RequestFrame {
        let requestID = UInt32(m["request_id"] as! Int)
        let id = { try PersistenceID(m["persistence_id"] as! String) }
        let request: Request
        switch m["type"] as! String {
        case "HELLO":
            request = .hello(Hello(
                versions: (m["versions"] as! [Int]).map { UInt16($0) }, clientName: m["client_name"] as! String
            ))
        case "PING":
            request = .ping
        case "LOAD":
            request = .load(try id())
        case "UPSERT":
            request = .upsert(try item(m, kind: "upsert").upsertValue)
        case "DELETE":
            let expected = m["expected_revision"].flatMap { $0 is NSNull ? nil : uint64($0) }
            request = .delete(Delete(persistenceID: try id(), expectedRevision: expected))
        case "WHOAMI":
            request = .whoami
        case "HEALTH":
            request = .health
        case "STATS":
            request = .stats
        case "CLIENTS":
            request = .clients(after: uint64(m["after_connection"]))
        case "PAUSE":
            request = .pause(timeoutMilliseconds: UInt32(uint64(m["timeout_ms"])))
        case "RESUME":
            request = .resume
        case "BULK_LOAD":
            request = .bulkLoad(try (m["ids"] as! [String]).map { try PersistenceID($0) })
        case "BULK_WRITE":
            // An item that breaks an argument rule decodes as `.invalid` (its message is the decoder's own).
            request = .bulkWrite((m["items"] as! [[String: Any]]).map { json in
                guard let item = try? item(json), breaksNoRule(item, limits: limits) else { return .invalid("") }
                return .valid(item)
            })
        case "TRANSACT":
            request = .transact(try (m["items"] as! [[String: Any]]).map { try item($0) })
        case "LIST":
            request = .list(ListRequest(prefix: m["prefix"] as! String,
                                        after: try (m["after"] as? String).map { try PersistenceID($0) },
                                        limit: m["limit"] as! Int))
        case let other:
            throw FormatError(description: "unknown request type \(other)")
        }
        // "namespace" is present iff the NAMESPACE flag is set.
        let namespace = try (m["namespace"] as? String).map(Namespace.init)
        return RequestFrame(requestID: requestID, request: request, namespace: namespace)
    }

    /// An item of BULK_WRITE or TRANSACT, or the fields of an UPSERT (`kind` given).
    private static func item(_ m: [String: Any], kind: String? = nil) throws -> WriteItem {
        let id = try PersistenceID(m["persistence_id"] as! String)
        let expected = m["expected_revision"].flatMap { $0 is NSNull ? nil : uint64($0) }
        switch kind ?? (m["kind"] as! String) {
        case "upsert":
            return .upsert(Upsert(persistenceID: id, expectedRevision: expected!, state: try buffer(hex: m["state_hex"]),
                                  ttlSeconds: (m["ttl_seconds"] as? Int).map { UInt32($0) }))
        case "delete":
            return .delete(Delete(persistenceID: id, expectedRevision: expected))
        case let other:
            throw FormatError(description: "unknown item kind \(other)")
        }
    }

    static func response(_ m: [String: Any]) throws -> ResponseFrame {
        let requestID = UInt32(m["request_id"] as! Int)
        let response: Response
        switch m["type"] as! String {
        case "HELLO_OK":
            var limits = ProtocolLimits(
                maxFrameBytes: m["max_frame_bytes"] as! Int, maxIDBytes: m["max_id_bytes"] as! Int,
                maxStateBytes: m["max_state_bytes"] as! Int, maxInFlight: m["max_in_flight"] as! Int
            )
            if let items = m["max_batch_items"] as? Int { limits.maxBatchItems = items }
            if let bytes = m["max_batch_bytes"] as? Int { limits.maxBatchBytes = bytes }
            response = .helloOK(HelloOK(
                version: UInt16(m["version"] as! Int),
                serverVersion: m["server_version"] as! String,
                limits: limits,
                capabilities: Capabilities(rawValue: UInt32(m["capabilities"] as! Int))
            ))
        case "OK":
            response = .ok
        case "NOT_FOUND":
            response = .notFound
        case "RECORD":
            response = .record(Record(
                revision: uint64(m["revision"]), updatedAtMicroseconds: (m["updated_at_us"] as! NSNumber).int64Value,
                state: try buffer(hex: m["state_hex"])
            ))
        case "CONFLICT":
            response = .conflict(Conflict(
                expectedRevision: uint64(m["expected_revision"]), actualRevision: uint64(m["actual_revision"])
            ))
        case "ERROR":
            response = .error(ErrorResponse(
                status: Status(rawValue: UInt16(m["status"] as! Int)), message: m["message"] as! String
            ))
        case "WHOAMI_OK":
            response = .whoamiOK(WhoAmI(
                uid: UInt32(m["uid"] as! Int), gid: UInt32(m["gid"] as! Int), pid: UInt32(m["pid"] as! Int),
                user: m["user"] as! String, namespace: m["namespace"] as! String,
                permissions: Permissions(rawValue: UInt8(m["permissions"] as! Int)), rule: m["rule"] as! String
            ))
        case "HEALTH_OK":
            response = .healthOK(Health(
                state: Health.State(rawValue: UInt8(m["state"] as! Int)), poolUp: UInt16(m["pool_up"] as! Int),
                poolSize: UInt16(m["pool_size"] as! Int), clients: UInt32(m["clients"] as! Int),
                uptimeMilliseconds: uint64(m["uptime_ms"])))
        case "STATS_OK":
            response = .statsOK((m["entries"] as! [[String: Any]]).map {
                StatsEntry(name: $0["name"] as! String, labels: $0["labels"] as! String,
                           value: ($0["value"] as! NSNumber).doubleValue)
            })
        case "CLIENTS_OK":
            response = .clientsOK(ClientsPage(
                rows: (m["rows"] as! [[String: Any]]).map {
                    ClientRow(connectionID: uint64($0["connection_id"]), uid: UInt32(uint64($0["uid"])),
                              pid: UInt32(uint64($0["pid"])), user: $0["user"] as! String,
                              namespace: $0["namespace"] as! String, clientName: $0["client_name"] as! String,
                              stateCode: UInt8($0["state"] as! Int), connectedAtMilliseconds: uint64($0["connected_ms"]),
                              requests: uint64($0["requests"]), inFlight: UInt32(uint64($0["in_flight"])))
                },
                more: (m["more"] as! Int) == 1))
        case "RECORDS":
            response = .records(try (m["entries"] as! [[String: Any]]).map { entry in
                switch entry["presence"] as! Int {
                case 0: return .absent
                case 2: return .omitted
                default:
                    return .found(Record(revision: uint64(entry["revision"]),
                                         updatedAtMicroseconds: (entry["updated_at_us"] as! NSNumber).int64Value,
                                         state: try buffer(hex: entry["state_hex"])))
                }
            })
        case "OUTCOMES":
            response = .outcomes((m["outcomes"] as! [[String: Any]]).map { outcome in
                switch outcome["result"] as! Int {
                case 1: return .written(revision: uint64(outcome["revision"]),
                                        updatedAtMicroseconds: (outcome["updated_at_us"] as! NSNumber).int64Value)
                case 2: return .deleted
                case 3: return .conflict(Conflict(expectedRevision: uint64(outcome["expected_revision"]),
                                                  actualRevision: uint64(outcome["actual_revision"])))
                default: return .failed(ErrorResponse(status: Status(rawValue: UInt16(outcome["status"] as! Int)),
                                                      message: outcome["message"] as! String))
                }
            })
        case "TRANSACT_CONFLICT":
            response = .transactConflict((m["conflicts"] as! [[String: Any]]).map {
                TransactConflictItem(index: $0["index"] as! Int, conflict: Conflict(
                    expectedRevision: uint64($0["expected_revision"]), actualRevision: uint64($0["actual_revision"])))
            })
        case "LIST_OK":
            response = .listOK(ListPage(more: (m["more"] as! Int) == 1, entries: (m["entries"] as! [[String: Any]]).map {
                ListPage.Entry(persistenceID: $0["persistence_id"] as! String, revision: uint64($0["revision"]),
                               updatedAtMicroseconds: ($0["updated_at_us"] as! NSNumber).int64Value)
            }))
        case let other:
            throw FormatError(description: "unknown response type \(other)")
        }
        return ResponseFrame(requestID: requestID, response: response)
    }
}
