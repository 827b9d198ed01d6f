import Foundation
import NIOCore
import PGStateProtocol
import Testing

/// `proto-spec/conformance/scenarios.json`, the end-to-end list every client runs, through raw protocol frames:
/// the Swift runner sends even the values a client library would refuse, so the server's own checks are tested.
@Suite("Conformance scenarios", .enabled(if: TestEnvironment.hasDatabase, "PGSTATE_TEST_DATABASE_URL is not set"))
struct ConformanceTests {
    struct Scenario: Sendable, CustomStringConvertible {
        var name: String
        var steps: [[String: SendableJSON]]
        var description: String { name }
    }

    /// JSON values made Sendable for test arguments.
    indirect enum SendableJSON: Sendable {
        case number(NSNumber)
        case string(String)
        case bool(Bool)
        case object([String: SendableJSON])
        case array([SendableJSON])
        case null

        init(_ value: Any) {
            switch value {
            case let n as NSNumber where String(cString: n.objCType) == "c": self = .bool(n.boolValue)
            case let n as NSNumber: self = .number(n)
            case let s as String: self = .string(s)
            case let o as [String: Any]: self = .object(o.mapValues(SendableJSON.init))
            case let a as [Any]: self = .array(a.map(SendableJSON.init))
            default: self = .null
            }
        }

        var uint64: UInt64? { if case .number(let n) = self { return n.uint64Value }; return nil }
        var int: Int? { if case .number(let n) = self { return n.intValue }; return nil }
        var string: String? { if case .string(let s) = self { return s }; return nil }
        var object: [String: SendableJSON]? { if case .object(let o) = self { return o }; return nil }
        var array: [SendableJSON]? { if case .array(let a) = self { return a }; return nil }
    }

    static let scenarios: [Scenario] = {
        let url = TestEnvironment.root.appendingPathComponent("proto-spec/conformance/scenarios.json")
        let root = try! JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        return (root["scenarios"] as! [[String: Any]]).map {
            Scenario(name: $0["name"] as! String,
                     steps: ($0["steps"] as! [[String: Any]]).map { $0.mapValues(SendableJSON.init) })
        }
    }()

    @Test func scenariosExist() {
        #expect(Self.scenarios.count >= 10)
    }

    @Test(arguments: ConformanceTests.scenarios)
    func scenario(_ scenario: Scenario) async throws {
        let daemon = try await DaemonProcess.start()
        let prefix = "conf-swift-\(UUID().uuidString.prefix(8))-"
        try await TestClient.withConnection(to: daemon.socketPath) { (client: inout TestClient) async throws in
            for (index, step) in scenario.steps.enumerated() {
                try await Self.run(step, index: index, prefix: prefix, client: &client, socket: daemon.socketPath)
            }
        }
        #expect(await daemon.terminate() == 0)
    }

    static func idBytes(_ step: [String: SendableJSON], prefix: String) throws -> [UInt8] {
        if let hex = step["id_hex"]?.string { return try [UInt8](hex: hex) }
        var id = Array(step["id"]!.string!.replacingOccurrences(of: "{p}", with: prefix).utf8)
        if let pad = step["id_pad_to"]?.int { id += Array(repeating: UInt8(ascii: "x"), count: max(0, pad - id.count)) }
        return id
    }

    static func state(_ object: [String: SendableJSON]) throws -> [UInt8] {
        if let hex = object["state_hex"]?.string { return try [UInt8](hex: hex) }
        if let pattern = object["state_repeat"]?.object {
            let unit = try [UInt8](hex: pattern["hex"]!.string!)
            return Array((0..<pattern["count"]!.int!).map { _ in unit }.joined())
        }
        return []
    }

    /// A frame from raw field values (ids and revisions are not validated here: that is the server's job).
    static func frame(_ type: MessageType, flags: UInt8 = 0, requestID: UInt32, _ write: (inout ByteBuffer) -> Void) -> [UInt8] {
        var buffer = ByteBuffer()
        buffer.writeFrame(type: type, flags: flags, requestID: requestID, write)
        return Array(buffer.readableBytesView)
    }

    static func run(
        _ step: [String: SendableJSON], index: Int, prefix: String, client: inout TestClient, socket: String
    ) async throws {
        let op = step["op"]!.string!
        if op == "sleep" {
            try await Task.sleep(for: .milliseconds(step["ms"]!.int!))
            return
        }
        let expect = step["expect"]!.object!
        let where_ = "step \(index) (\(op))"
        if op == "race" {
            try await race(step, prefix: prefix, socket: socket, expect: expect)
            return
        }
        if ["bulk_load", "bulk_write", "transact", "list"].contains(op) {
            try await multiKey(op, step, requestID: UInt32(index + 1), prefix: prefix, client: &client, expect: expect, where_)
            return
        }
        let id = op == "ping" || op == "whoami" ? [] : try idBytes(step, prefix: prefix)
        // A step's "namespace" is sent as written (flag NAMESPACE, str8 before the id): the server validates it.
        let namespace = step["namespace"]?.string.map { Array($0.utf8) }
        let namespaceFlag: UInt8 = namespace == nil ? 0 : RequestFrame.namespaceFlag
        func writeKey(_ payload: inout ByteBuffer) {
            if let namespace { payload.writeInteger(UInt8(namespace.count)); payload.writeBytes(namespace) }
            payload.writeInteger(UInt8(id.count)); payload.writeBytes(id)
        }
        guard id.count <= 255 else {
            // Not even expressible in a frame: refused before sending, as the contract allows.
            #expect(expect["error"]?.string == "INVALID_ARGUMENT", "\(where_)")
            return
        }
        let requestID = UInt32(index + 1)
        let bytes: [UInt8]
        switch op {
        case "ping":
            bytes = frame(.ping, requestID: requestID) { _ in }
        case "whoami":
            bytes = frame(.whoami, requestID: requestID) { _ in }
        case "load":
            bytes = frame(.load, flags: namespaceFlag, requestID: requestID) { writeKey(&$0) }
        case "upsert":
            let state = try state(step)
            let ttl = step["ttl_seconds"]?.uint64.map { UInt32(clamping: $0) }
            bytes = frame(.upsert, flags: namespaceFlag | (ttl == nil ? 0 : Upsert.ttlFlag), requestID: requestID) {
                writeKey(&$0)
                $0.writeInteger(step["expected_revision"]!.uint64!)
                if let ttl { $0.writeInteger(ttl) }
                $0.writeInteger(UInt32(state.count)); $0.writeBytes(state)
            }
        case "delete":
            let expected = step["expected_revision"]?.uint64
            bytes = frame(.delete, flags: (expected == nil ? 0 : 1) | namespaceFlag, requestID: requestID) {
                writeKey(&$0)
                if let expected { $0.writeInteger(expected) }
            }
        default:
            Issue.record("unknown op \(op)")
            return
        }
        try await client.sendRaw(bytes)
        let response = try #require(try await client.receive(), "\(where_): connection closed")
        #expect(response.requestID == requestID)
        try check(response.response, against: expect, where_)
    }

    static func check(_ response: Response, against expect: [String: SendableJSON], _ where_: String) throws {
        if let record = expect["record"]?.object {
            guard case .record(let got) = response else { Issue.record("\(where_): expected a record, got \(response)"); return }
            #expect(got.revision == record["revision"]!.uint64!, "\(where_)")
            #expect(Array(got.state.readableBytesView) == (try state(record)), "\(where_): state")
            let now = Int64(Date().timeIntervalSince1970 * 1_000_000)
            #expect(abs(got.updatedAtMicroseconds - now) < 300_000_000, "\(where_): updated_at")
        } else if expect["not_found"] != nil {
            #expect(response == .notFound, "\(where_)")
        } else if expect["ok"] != nil {
            #expect(response == .ok, "\(where_)")
        } else if let conflict = expect["conflict"]?.object {
            #expect(response == .conflict(conflict["expected"]!.uint64!, conflict["actual"]!.uint64!), "\(where_): \(response)")
        } else if let identity = expect["identity"]?.object {
            guard case .whoamiOK(let got) = response else { Issue.record("\(where_): expected WHOAMI_OK, got \(response)"); return }
            #expect(got.uid == getuid(), "\(where_): uid")
            #expect(got.namespace == identity["namespace"]!.string!, "\(where_): namespace")
            // The daemon runs as this test's user: the runner is an operator (README "Access", no access file).
            var wanted = identity["permissions_include"]!.array!.map { $0.string! }
            wanted += identity["operator_extra"]?.array?.map { $0.string! } ?? []
            let bits: [String: Permissions] = ["read": .read, "write": .write, "admin": .admin, "any_namespace": .anyNamespace]
            for name in wanted {
                guard let bit = bits[name] else { Issue.record("\(where_): unknown permission \(name)"); continue }
                #expect(got.permissions.contains(bit), "\(where_): \(name) in \(got.permissions)")
            }
        } else if let error = expect["error"]?.string {
            #expect(response.status?.name == error, "\(where_): \(response)")
        } else {
            Issue.record("\(where_): unknown expectation \(expect)")
        }
    }

    /// A multi-key step, encoded with the codec (which writes what it is given: an empty id list, a limit of 0 or
    /// an id twice reach the server, whose checks are tested).
    static func multiKey(_ op: String, _ step: [String: SendableJSON], requestID: UInt32, prefix: String,
                         client: inout TestClient, expect: [String: SendableJSON], _ where_: String) async throws {
        func id(_ template: SendableJSON) throws -> PersistenceID {
            try PersistenceID(template.string!.replacingOccurrences(of: "{p}", with: prefix))
        }
        func items() throws -> [WriteItem] {
            try step["items"]!.array!.map { json in
                let item = json.object!
                let key = try id(item["id"]!)
                if item["kind"]!.string! == "delete" {
                    return .delete(Delete(persistenceID: key, expectedRevision: item["expected_revision"]?.uint64))
                }
                return .upsert(Upsert(persistenceID: key, expectedRevision: item["expected_revision"]!.uint64!,
                                      state: ByteBuffer(bytes: try state(item)),
                                      ttlSeconds: item["ttl_seconds"]?.uint64.map { UInt32(clamping: $0) }))
            }
        }
        let request: Request
        switch op {
        case "bulk_load": request = .bulkLoad(try step["ids"]!.array!.map(id))
        case "bulk_write": request = .bulkWrite(try items().map { .valid($0) })
        case "transact": request = .transact(try items())
        default:
            request = .list(ListRequest(prefix: step["prefix"]!.string!.replacingOccurrences(of: "{p}", with: prefix),
                                        after: try step["after"].map(id), limit: step["limit"]!.int!))
        }
        let namespace = try step["namespace"]?.string.map { try Namespace($0) }
        try await client.send([RequestFrame(requestID: requestID, request: request, namespace: namespace)])
        let frame = try #require(try await client.receive(), "\(where_): connection closed")
        #expect(frame.requestID == requestID)
        let response = frame.response
        func record(_ entry: RecordsEntry, _ expected: SendableJSON, _ at: String) throws {
            guard let wanted = expected.object else {
                #expect(entry == .absent, "\(at): expected no record, got \(entry)")
                return
            }
            guard case .found(let got) = entry else { Issue.record("\(at): expected a record, got \(entry)"); return }
            #expect(got.revision == wanted["revision"]!.uint64!, "\(at)")
            #expect(Array(got.state.readableBytesView) == (try state(wanted)), "\(at): state")
        }
        if let error = expect["error"]?.string {
            #expect(response.status?.name == error, "\(where_): \(response)")
        } else if let records = expect["records"]?.array {
            guard case .records(let entries) = response, entries.count == records.count else {
                Issue.record("\(where_): \(response)"); return
            }
            for (index, (entry, wanted)) in zip(entries, records).enumerated() { try record(entry, wanted, "\(where_) entry \(index)") }
        } else if let outcomes = expect["outcomes"]?.array {
            let wanted: [ItemOutcome?] = outcomes.map { json in
                let o = json.object!
                if let conflict = o["conflict"]?.object {
                    return .conflict(Conflict(expectedRevision: conflict["expected"]!.uint64!, actualRevision: conflict["actual"]!.uint64!))
                }
                return o["deleted"] != nil ? .deleted : nil
            }
            guard case .outcomes(let got) = response, got.count == outcomes.count else { Issue.record("\(where_): \(response)"); return }
            for (index, (outcome, json)) in zip(got, outcomes).enumerated() {
                if let revision = json.object!["written"]?.uint64 {
                    guard case .written(let written, _) = outcome else { Issue.record("\(where_) item \(index): \(outcome)"); continue }
                    #expect(written == revision, "\(where_) item \(index)")
                } else {
                    #expect(outcome == wanted[index], "\(where_) item \(index)")
                }
            }
        } else if let committed = expect["committed"]?.array {
            guard case .outcomes(let got) = response, got.count == committed.count else { Issue.record("\(where_): \(response)"); return }
            for (index, (outcome, json)) in zip(got, committed).enumerated() {
                if let revision = json.uint64 {
                    guard case .written(let written, _) = outcome else { Issue.record("\(where_) item \(index): \(outcome)"); continue }
                    #expect(written == revision, "\(where_) item \(index)")
                } else {
                    #expect(outcome == .deleted, "\(where_) item \(index)")
                }
            }
        } else if let conflicts = expect["transaction_conflict"]?.array {
            #expect(response == .transactConflict(conflicts.map {
                let c = $0.object!
                return TransactConflictItem(index: c["index"]!.int!, conflict: Conflict(
                    expectedRevision: c["expected"]!.uint64!, actualRevision: c["actual"]!.uint64!))
            }), "\(where_): \(response)")
        } else if let page = expect["page"]?.object {
            let ids = page["ids"]!.array!.map { $0.string!.replacingOccurrences(of: "{p}", with: prefix) }
            guard case .listOK(let got) = response else { Issue.record("\(where_): \(response)"); return }
            #expect(got.entries.map(\.persistenceID) == ids, "\(where_)")
            let more: Bool
            if case .bool(let value) = page["more"]! { more = value } else { more = false }
            #expect(got.more == more, "\(where_): more")
        } else {
            Issue.record("\(where_): unknown expectation \(expect)")
        }
    }

    static func race(_ step: [String: SendableJSON], prefix: String, socket: String, expect: [String: SendableJSON]) async throws {
        let id = String(decoding: try idBytes(step, prefix: prefix), as: UTF8.self)
        let expected = step["expected_revision"]!.uint64!
        let state = try state(step)
        let writers = step["writers"]!.int!
        let results = try await withThrowingTaskGroup(of: Response.self) { group in
            for _ in 0..<writers {
                group.addTask {
                    try await TestClient.withConnection(to: socket) { (client: inout TestClient) async throws in
                        try await client.upsert(id, expected, state)
                    }
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.filter { $0.revision == expected + 1 }.count == expect["winners"]!.int!)
        #expect(results.filter { $0 == .conflict(expected, expected + 1) }.count == expect["conflicts"]!.int!)
    }
}
