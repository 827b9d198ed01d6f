import Foundation
import NIOCore
import PGStateProtocol
import Testing

private func pid(_ text: String) -> PersistenceID { try! PersistenceID(text) }

private func up(_ id: String, _ expected: UInt64, _ state: [UInt8] = [1], ttl: UInt32? = nil) -> WriteItem {
    .upsert(Upsert(persistenceID: pid(id), expectedRevision: expected, state: ByteBuffer(bytes: state), ttlSeconds: ttl))
}

extension TestClient {
    mutating func bulkLoad(_ ids: [String]) async throws -> [RecordsEntry] {
        let response = try await call(.bulkLoad(ids.map(pid)))
        guard case .records(let entries) = response else { throw TestFailure("BULK_LOAD answered \(response)") }
        return entries
    }

    mutating func revisions(_ ids: [String]) async throws -> [UInt64] {
        try await bulkLoad(ids).map { if case .found(let record) = $0 { return record.revision }; return 0 }
    }

    mutating func states(_ ids: [String]) async throws -> [[UInt8]?] {
        try await bulkLoad(ids).map { if case .found(let record) = $0 { return Array(record.state.readableBytesView) }; return nil }
    }

    /// One page of `prefix` after `after`.
    mutating func page(_ prefix: String, after: String?, limit: Int) async throws -> ListPage {
        let response = try await call(.list(ListRequest(prefix: prefix, after: after.map(pid), limit: limit)))
        guard case .listOK(let page) = response else { throw TestFailure("LIST answered \(response)") }
        return page
    }

    /// Every id under `prefix`, page by page of `limit`.
    mutating func listAll(_ prefix: String, limit: Int) async throws -> [String] {
        var ids: [String] = []
        while true {
            let page = try await page(prefix, after: ids.last, limit: limit)
            ids += page.entries.map(\.persistenceID)
            guard page.more else { return ids }
        }
    }
}

/// BULK_LOAD, BULK_WRITE, TRANSACT, LIST and TTL against PostgreSQL (PROTOCOL.md 6.22–6.30).
@Suite("Multi-key requests and TTL", .enabled(if: TestEnvironment.hasDatabase, "PGSTATE_TEST_DATABASE_URL is not set"))
struct MultiKeyIntegrationTests {
    @Test func bulkLoadAnswersEveryIDInRequestOrderAcrossThePool() async throws {
        let daemon = try await DaemonProcess.start(arguments: ["--pool-size", "4"])
        let p = TestEnvironment.uniqueID("bulk")
        try await TestClient.withConnection(to: daemon.socketPath) { (client: inout TestClient) async throws in
            for n in 0..<30 where n % 3 != 0 { _ = try await client.upsert("\(p)-\(n)", 0, [UInt8(n)]) }
            let ids = (0..<30).map { "\(p)-\($0)" } + ["\(p)-1", "\(p)-0"]
            let states = try await client.states(ids)
            var expected: [[UInt8]?] = (0..<30).map { n -> [UInt8]? in n % 3 == 0 ? nil : [UInt8(n)] }
            expected.append([1])
            expected.append(nil)
            #expect(states == expected)
            // A BULK_LOAD pipelined right behind an UPSERT of one of its ids sees it (section 4).
            let first = try await client.send(.upsert(Upsert(persistenceID: pid("\(p)-0"), expectedRevision: 0,
                                                              state: ByteBuffer(bytes: [42]))))
            let second = try await client.send(.bulkLoad([pid("\(p)-0"), pid("\(p)-3")]))
            var answers: [UInt32: Response] = [:]
            for _ in 0..<2 { let frame = try await client.receive()!; answers[frame.requestID] = frame.response }
            #expect(answers[first]?.revision == 1)
            #expect(answers[second] == .records([.found(Record(revision: 1, updatedAtMicroseconds: {
                if case .record(let record) = answers[first]! { return record.updatedAtMicroseconds }
                return 0
            }(), state: ByteBuffer(bytes: [42]))), .absent]))
        }
        #expect(await daemon.terminate() == 0)
    }

    /// Requests pipelined behind a multi-key one that touch its ids are answered after it (section 4), although
    /// its parts run on several connections and theirs may finish first.
    @Test func answersForTheSameIDsComeAfterAMultiKeyRequest() async throws {
        let daemon = try await DaemonProcess.start(arguments: ["--pool-size", "4"])
        let p = TestEnvironment.uniqueID("order")
        try await TestClient.withConnection(to: daemon.socketPath) { (client: inout TestClient) async throws in
            for round in 0..<5 {
                let ids = (0..<40).map { pid("\(p)-\(round)-\($0)") }
                var frames = [RequestFrame(requestID: 1, request: .bulkWrite(ids.map { .valid(.upsert(
                    Upsert(persistenceID: $0, expectedRevision: 0, state: ByteBuffer(bytes: [1])))) }))]
                frames.append(RequestFrame(requestID: 2, request: .bulkLoad(ids)))
                for (n, id) in ids.enumerated() {
                    frames.append(RequestFrame(requestID: UInt32(3 + n), request: .upsert(
                        Upsert(persistenceID: id, expectedRevision: 1, state: ByteBuffer(bytes: [2])))))
                }
                try await client.send(frames)
                var arrival: [UInt32] = []
                var answers: [UInt32: Response] = [:]
                for _ in frames.indices {
                    let frame = try #require(try await client.receive())
                    arrival.append(frame.requestID)
                    answers[frame.requestID] = frame.response
                }
                #expect(Array(arrival.prefix(2)) == [1, 2], "the multi-key answers first, in order: \(arrival)")
                guard case .records(let entries) = answers[2] else { Issue.record("\(String(describing: answers[2]))"); return }
                #expect(entries.allSatisfy { if case .found(let r) = $0 { return r.revision == 1 }; return false },
                        "the bulk load saw the bulk write and none of the later upserts")
                #expect((3..<UInt32(3 + ids.count)).allSatisfy { answers[$0]?.revision == 2 })
            }
        }
        #expect(await daemon.terminate() == 0)
    }

    @Test func bulkWriteItemsAreIndependent() async throws {
        let daemon = try await DaemonProcess.start()
        let p = TestEnvironment.uniqueID("bw")
        try await TestClient.withConnection(to: daemon.socketPath) { (client: inout TestClient) async throws in
            _ = try await client.upsert("\(p)-exists", 0, [1])
            // Items: create, create over an existing record (conflict), a TTL of 0 (invalid), a conditional delete
            // that holds, an update of a missing record (conflict with actual 0), and a create. The invalid item is
            // written by hand: this project's encoder never writes one.
            var frame = ByteBuffer()
            var body = ByteBuffer()
            body.writeInteger(UInt16(6))
            func item(_ kind: UInt8, _ flags: UInt8, _ id: String, expected: UInt64?, ttl: UInt32? = nil, state: [UInt8]? = nil) {
                body.writeInteger(kind)
                body.writeInteger(flags)
                body.writeInteger(UInt8(id.utf8.count))
                body.writeString(id)
                if let expected { body.writeInteger(expected) }
                if let ttl { body.writeInteger(ttl) }
                if let state { body.writeInteger(UInt32(state.count)); body.writeBytes(state) }
            }
            item(1, 0, "\(p)-a", expected: 0, state: [1])
            item(1, 0, "\(p)-exists", expected: 0, state: [2])
            item(1, 4, "\(p)-ttl", expected: 0, ttl: 0, state: [3])
            item(2, 1, "\(p)-exists", expected: 1)
            item(1, 0, "\(p)-missing", expected: 4, state: [4])
            item(1, 0, "\(p)-b", expected: 0, state: [5])
            frame.writeInteger(UInt32(6 + body.readableBytes))
            frame.writeInteger(MessageType.bulkWrite.rawValue)
            frame.writeInteger(UInt8(0))
            frame.writeInteger(UInt32(77))
            frame.writeBuffer(&body)
            try await client.sendRaw(Array(frame.readableBytesView))
            let answer = try #require(try await client.receive())
            #expect(answer.requestID == 77)
            guard case .outcomes(let outcomes) = answer.response else { Issue.record("\(answer)"); return }
            #expect(outcomes.count == 6)
            if case .written(let revision, _) = outcomes[0] { #expect(revision == 1) } else { Issue.record("0: \(outcomes[0])") }
            // Items 1 and 3 touch the same id and apply in item order: the create conflicts with revision 1,
            // then the conditional delete of revision 1 holds.
            #expect(outcomes[1] == .conflict(Conflict(expectedRevision: 0, actualRevision: 1)))
            guard case .failed(let failure) = outcomes[2] else { Issue.record("2: \(outcomes[2])"); return }
            #expect(failure.status == .invalidArgument && failure.message.contains("ttl_seconds 0"))
            #expect(outcomes[3] == .deleted)
            #expect(outcomes[4] == .conflict(Conflict(expectedRevision: 4, actualRevision: 0)))
            if case .written(let revision, _) = outcomes[5] { #expect(revision == 1) } else { Issue.record("5: \(outcomes[5])") }
            #expect(try await client.revisions(["\(p)-a", "\(p)-exists", "\(p)-ttl", "\(p)-missing", "\(p)-b"])
                    == [1, 0, 0, 0, 1])
            // The connection is still in step.
            #expect(try await client.call(.ping) == .ok)
        }
        #expect(await daemon.terminate() == 0)
    }

    @Test func transactionIsAllOrNothingAndNamesEveryFailedItem() async throws {
        let daemon = try await DaemonProcess.start(arguments: ["--pool-size", "3"])
        let p = TestEnvironment.uniqueID("tx")
        try await TestClient.withConnection(to: daemon.socketPath) { (client: inout TestClient) async throws in
            let created = try await client.call(.transact([up("\(p)-a", 0), up("\(p)-b", 0), up("\(p)-c", 0, ttl: 60)]))
            guard case .outcomes(let outcomes) = created else { Issue.record("\(created)"); return }
            #expect(outcomes.map { outcome -> UInt64 in if case .written(let r, _) = outcome { return r }; return 0 } == [1, 1, 1])
            // Two stale expectations, one good, one unconditional delete: nothing applies, both stale ones named.
            let stale = try await client.call(.transact([
                up("\(p)-a", 5), up("\(p)-b", 1), .delete(Delete(persistenceID: pid("\(p)-c"))), up("\(p)-d", 3),
            ]))
            #expect(stale == .transactConflict([
                TransactConflictItem(index: 0, conflict: Conflict(expectedRevision: 5, actualRevision: 1)),
                TransactConflictItem(index: 3, conflict: Conflict(expectedRevision: 3, actualRevision: 0)),
            ]))
            #expect(try await client.revisions(["\(p)-a", "\(p)-b", "\(p)-c", "\(p)-d"]) == [1, 1, 1, 0],
                    "nothing of the refused transaction applied")
            let applied = try await client.call(.transact([
                up("\(p)-a", 1), .delete(Delete(persistenceID: pid("\(p)-b"), expectedRevision: 1)),
                .delete(Delete(persistenceID: pid("\(p)-c"))), up("\(p)-d", 0),
            ]))
            guard case .outcomes(let done) = applied else { Issue.record("\(applied)"); return }
            #expect(done.count == 4 && done[1] == .deleted && done[2] == .deleted)
            #expect(try await client.revisions(["\(p)-a", "\(p)-b", "\(p)-c", "\(p)-d"]) == [2, 0, 0, 1])
            let duplicate = try await client.call(.transact([up("\(p)-a", 2), up("\(p)-a", 3)]))
            #expect(duplicate.status == .invalidArgument)
        }
        #expect(await daemon.terminate() == 0)
    }

    /// Many clients on two daemons move amounts between accounts with TRANSACT (load → transact → retry on
    /// conflict), in both id orders. The total never changes, every refused transaction names an item whose
    /// expectation really was stale, and PostgreSQL records no deadlock.
    @Test func transfersOnTwoDaemonsKeepTheSumWithoutDeadlocks() async throws {
        let first = try await DaemonProcess.start(arguments: ["--pool-size", "3"])
        let second = try await DaemonProcess.start(arguments: ["--pool-size", "3"])
        let p = TestEnvironment.uniqueID("acct")
        let accounts = (0..<6).map { "\(p)-\($0)" }
        let deadlocksBefore = Int(try await TestEnvironment.psql(
            "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")) ?? -1
        try await TestClient.withConnection(to: first.socketPath) { (client: inout TestClient) async throws in
            let created = try await client.call(.transact(accounts.map { up($0, 0, Array("100".utf8)) }))
            guard case .outcomes = created else { throw TestFailure("\(created)") }
        }
        let workers = 10, transfersPerWorker = 25
        let conflicts = try await withThrowingTaskGroup(of: Int.self) { group in
            for worker in 0..<workers {
                let socket = worker % 2 == 0 ? first.socketPath : second.socketPath
                group.addTask {
                    try await TestClient.withConnection(to: socket) { (client: inout TestClient) async throws in
                        var conflicts = 0
                        var random = SystemRandomNumberGenerator()
                        for _ in 0..<transfersPerWorker {
                            let from = Int.random(in: 0..<accounts.count, using: &random)
                            let to = (from + Int.random(in: 1..<accounts.count, using: &random)) % accounts.count
                            let ids = worker % 2 == 0 ? [accounts[from], accounts[to]] : [accounts[to], accounts[from]]
                            while true {
                                let entries = try await client.bulkLoad(ids)
                                let records = entries.map { entry -> Record in
                                    guard case .found(let record) = entry else { fatalError("account missing") }
                                    return record
                                }
                                let balances = records.map { Int(String(decoding: $0.state.readableBytesView, as: UTF8.self))! }
                                let amount = Int.random(in: 1...10, using: &random)
                                let delta = worker % 2 == 0 ? [-amount, amount] : [amount, -amount]
                                let items = zip(ids, zip(records, zip(balances, delta))).map { id, rest in
                                    up(id, rest.0.revision, Array(String(rest.1.0 + rest.1.1).utf8))
                                }
                                let response = try await client.call(.transact(items))
                                if case .outcomes = response { break }
                                guard case .transactConflict(let failed) = response, !failed.isEmpty else {
                                    throw TestFailure("transfer answered \(response)")
                                }
                                for conflict in failed {
                                    #expect(conflict.conflict.actualRevision > conflict.conflict.expectedRevision,
                                            "a stale expectation names a later revision")
                                }
                                conflicts += 1
                            }
                        }
                        return conflicts
                    }
                }
            }
            return try await group.reduce(0, +)
        }
        try await TestClient.withConnection(to: second.socketPath) { (client: inout TestClient) async throws in
            let states = try await client.states(accounts)
            let total = states.map { Int(String(decoding: $0!, as: UTF8.self))! }.reduce(0, +)
            #expect(total == 100 * accounts.count)
            let revisions = try await client.revisions(accounts)
            #expect(revisions.reduce(0) { $0 + Int($1) - 1 } == 2 * workers * transfersPerWorker,
                    "every transfer applied once, to both accounts")
        }
        let deadlocksAfter = Int(try await TestEnvironment.psql(
            "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")) ?? -2
        #expect(deadlocksAfter == deadlocksBefore, "no deadlock between opposite-order transactions")
        print("transfers: \(workers * transfersPerWorker) applied, \(conflicts) conflicts retried, deadlocks \(deadlocksAfter - deadlocksBefore)")
        #expect(await first.terminate() == 0)
        #expect(await second.terminate() == 0)
    }

    /// Pages of 17 while another client creates and deletes ids under the same prefix: every id present
    /// throughout appears exactly once, all in byte order; other prefixes never appear.
    @Test func listPagingIsCompleteAndStableWhileRowsComeAndGo() async throws {
        let daemon = try await DaemonProcess.start(arguments: ["--pool-size", "3"])
        let p = TestEnvironment.uniqueID("ls") + "%_"
        let stable = (0..<200).map { p + "s" + String(format: "%03d", $0) }
        let churn = (0..<100).map { p + "c" + String(format: "%03d", $0) }
        try await TestClient.withConnection(to: daemon.socketPath) { (client: inout TestClient) async throws in
            for chunk in stride(from: 0, to: stable.count, by: 50) {
                let items = stable[chunk..<min(chunk + 50, stable.count)].map { BulkWriteItem.valid(up($0, 0)) }
                guard case .outcomes = try await client.call(.bulkWrite(items)) else { throw TestFailure("bulk write") }
            }
            for id in churn.prefix(50) { _ = try await client.upsert(id, 0, [0]) }
            _ = try await client.upsert(String(p.dropLast(2)) + "xx-other", 0, [0])  // shares the prefix but for %_
        }
        let listed = try await TestClient.withConnection(to: daemon.socketPath) { (lister: inout TestClient) async throws -> [String] in
            try await TestClient.withConnection(to: daemon.socketPath) { (writer: inout TestClient) async throws -> [String] in
                var ids: [String] = []
                for step in 0... {
                    let page = try await lister.page(p, after: ids.last, limit: 17)
                    ids += page.entries.map(\.persistenceID)
                    guard page.more else { break }
                    // Between pages: delete an early churn id, create a late one.
                    if step < 50 {
                        _ = try await writer.delete(churn[step])
                        _ = try await writer.upsert(churn[50 + step], 0, [1])
                    }
                }
                return ids
            }
        }
        #expect(zip(listed, listed.dropFirst()).allSatisfy { $0.utf8.lexicographicallyPrecedes($1.utf8) },
                "strictly ascending byte order, no id twice")
        #expect(Set(stable).isSubset(of: Set(listed)), "every id present throughout is listed")
        #expect(listed.allSatisfy { $0.hasPrefix(p) }, "only the prefix, with % and _ taken literally")
        let plan = try await TestEnvironment.psql(
            "EXPLAIN SELECT persistence_id FROM durable_state WHERE namespace = '' AND persistence_id >= 'a' AND persistence_id < 'b' ORDER BY persistence_id LIMIT 10")
        #expect(plan.contains("Index") && plan.contains("durable_state_pkey"), "\(plan)")
        #expect(!plan.contains("Sort"), "the index gives the order: \(plan)")
        #expect(await daemon.terminate() == 0)
    }

    @Test func expiredRecordsAreAbsentAtOnceAndSweptWithinTheInterval() async throws {
        let daemon = try await DaemonProcess.start(arguments: ["--ttl-sweep-interval-ms", "300"])
        let p = TestEnvironment.uniqueID("ttl")
        try await TestClient.withConnection(to: daemon.socketPath) { (client: inout TestClient) async throws in
            // Three seconds: the suite runs many daemons at once, and the reads below must come before the expiry.
            let written = try await client.call(.upsert(Upsert(persistenceID: pid("\(p)-short"), expectedRevision: 0,
                                                               state: ByteBuffer(bytes: [1]), ttlSeconds: 3)))
            #expect(written.revision == 1)
            let writtenAt = Date()
            _ = try await client.call(.upsert(Upsert(persistenceID: pid("\(p)-cleared"), expectedRevision: 0,
                                                     state: ByteBuffer(bytes: [1]), ttlSeconds: 3)))
            #expect(try await client.upsert("\(p)-cleared", 1, [2]).revision == 2, "a write without TTL clears it")
            #expect(try await client.load("\(p)-short").revision == 1)
            let expiresAt = try await TestEnvironment.psql(
                "SELECT extract(epoch FROM expires_at - updated_at) FROM durable_state WHERE persistence_id = '\(p)-short'")
            #expect(Double(expiresAt).map { abs($0 - 3) < 0.01 } == true, "expires three seconds after the commit: \(expiresAt)")
            try await Task.sleep(for: .milliseconds(max(0, Int((3.1 - Date().timeIntervalSince(writtenAt)) * 1000))))
            #expect(try await client.load("\(p)-short") == .notFound)
            #expect(try await client.bulkLoad(["\(p)-short", "\(p)-cleared"]).map { if case .absent = $0 { return true }; return false }
                    == [true, false])
            #expect(try await client.listAll("\(p)-", limit: 10) == ["\(p)-cleared"])
            #expect(try await client.upsert("\(p)-short", 1, [3]) == .conflict(1, 0), "an expired record has revision 0")
            #expect(try await client.delete("\(p)-short", expected: 0) == .ok)
            // The sweeper removes the row (it may have already); a create over it starts at revision 1 either way.
            var remaining = "1"
            for _ in 0..<20 where remaining != "0" {
                try await Task.sleep(for: .milliseconds(150))
                remaining = try await TestEnvironment.psql("SELECT count(*) FROM durable_state WHERE persistence_id = '\(p)-short'")
            }
            #expect(remaining == "0", "swept within the interval")
            #expect(try await client.upsert("\(p)-short", 0, [4]).revision == 1)
            #expect(try await client.load("\(p)-cleared").revision == 2, "no TTL: still there")
        }
        #expect(await daemon.terminate() == 0)
    }

    @Test func createOverAnExpiredRowThatIsNotSweptYetStartsAtRevisionOne() async throws {
        // A table of its own: the sweepers of the other tests' daemons share the default one.
        let table = "mk_\(UUID().uuidString.prefix(8).lowercased())"
        let daemon = try await DaemonProcess.start(arguments: ["--ttl-sweep-interval-ms", "0", "--table", table])
        let p = TestEnvironment.uniqueID("ttl0")
        try await TestClient.withConnection(to: daemon.socketPath) { (client: inout TestClient) async throws in
            _ = try await client.upsert("\(p)-a", 0, [1])
            _ = try await client.call(.upsert(Upsert(persistenceID: pid("\(p)-a"), expectedRevision: 1,
                                                     state: ByteBuffer(bytes: [2]), ttlSeconds: 1)))
            try await Task.sleep(for: .milliseconds(1_100))
            #expect(try await TestEnvironment.psql("SELECT revision FROM \(table) WHERE persistence_id = '\(p)-a'") == "2",
                    "the sweeper is off: the row is still there")
            #expect(try await client.upsert("\(p)-a", 0, [3]).revision == 1)
            let tx = try await client.call(.transact([up("\(p)-b", 0, ttl: 1)]))
            guard case .outcomes = tx else { Issue.record("\(tx)"); return }
            try await Task.sleep(for: .milliseconds(1_100))
            let again = try await client.call(.transact([up("\(p)-b", 0)]))
            guard case .outcomes(let outcomes) = again, case .written(let revision, _) = outcomes[0] else {
                Issue.record("\(again)"); return
            }
            #expect(revision == 1, "a transaction's create over an expired row starts at 1")
        }
        #expect(await daemon.terminate() == 0)
        try await TestEnvironment.psql("DROP TABLE \(table)")
    }

    @Test func limitsAreInvalidArgumentsAndTheConnectionStays() async throws {
        let daemon = try await DaemonProcess.start()
        try await TestClient.withConnection(to: daemon.socketPath) { (client: inout TestClient) async throws in
            let hello = try #require(client.helloOK)
            #expect(hello.capabilities.contains([.multiKey, .ttl]))
            #expect(hello.limits.maxBatchItems == 1000 && hello.limits.maxBatchBytes == 4 * 1024 * 1024)
            let tooMany = try await client.call(.bulkLoad((0...1000).map { pid("limit-\($0)") }))
            #expect(tooMany.status == .invalidArgument)
            let big = ByteBuffer(repeating: 7, count: 1024 * 1024)
            let tooLarge = try await client.call(.transact((0..<5).map {
                .upsert(Upsert(persistenceID: pid("limit-big-\($0)"), expectedRevision: 0, state: big))
            }))
            #expect(tooLarge.status == .invalidArgument)
            #expect(try await client.load("limit-big-0") == .notFound, "nothing executed")
            let zero = try await client.call(.list(ListRequest(prefix: "", limit: 1000)))
            guard case .listOK = zero else { Issue.record("a limit of max_batch_items is allowed: \(zero)"); return }
            #expect(try await client.call(.ping) == .ok)
        }
        #expect(await daemon.terminate() == 0)
    }

    @Test func aTableOfTheLastVersionIsMigratedInPlace() async throws {
        let table = "mk_\(UUID().uuidString.prefix(8).lowercased())"
        try await TestEnvironment.psql("""
            CREATE TABLE \(table) (namespace text NOT NULL DEFAULT '', persistence_id text COLLATE "POSIX" NOT NULL,
            revision bigint NOT NULL, state bytea NOT NULL, updated_at timestamptz NOT NULL,
            PRIMARY KEY (namespace, persistence_id));
            INSERT INTO \(table) VALUES ('', 'kept', 3, '\\x01', now())
            """)
        let refused = try await DaemonProcess.start(arguments: ["--table", table, "--no-create-schema"],
                                                    waitUntilServing: false)
        var log = ""
        for _ in 0..<100 where !log.contains("expires_at") {
            try await Task.sleep(for: .milliseconds(100))
            log = (try? String(contentsOfFile: refused.logPath, encoding: .utf8)) ?? ""
        }
        #expect(log.contains("predates TTL") && log.contains("--no-create-schema"), "names the fix")
        _ = await refused.terminate()
        let daemon = try await DaemonProcess.start(arguments: ["--table", table])
        #expect(try await TestEnvironment.psql(
            "SELECT collname FROM pg_attribute a JOIN pg_collation c ON c.oid = a.attcollation WHERE attrelid = '\(table)'::regclass AND attname = 'persistence_id'") == "C")
        try await TestClient.withConnection(to: daemon.socketPath) { (client: inout TestClient) async throws in
            #expect(try await client.load("kept").revision == 3)
            #expect(try await client.listAll("", limit: 10) == ["kept"])
        }
        #expect(await daemon.terminate() == 0)
        try await TestEnvironment.psql("DROP TABLE \(table)")
    }
}
