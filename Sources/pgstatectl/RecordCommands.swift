import ArgumentParser
import Glibc
import NIOCore
import PGStateProtocol

/// The store's requests from the command line: get, put, delete, and a latency probe.
extension PGStateCtl {
    struct RecordOptions: ParsableArguments {
        @Option(help: "Address this namespace instead of the connection's own (needs the any-namespace permission for another).")
        var namespace: String?

        func resolved() throws -> Namespace? {
            guard let namespace else { return nil }
            do { return try Namespace(namespace) } catch {
                throw ControlFailure(kind: .usage, description: "namespace \(namespace): \(error)")
            }
        }
    }

    static func persistenceID(_ text: String) throws -> PersistenceID {
        do { return try PersistenceID(text) } catch {
            throw ControlFailure(kind: .usage, description: "persistence id \(text.debugDescription): \(error)")
        }
    }

    struct Get: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a record's state to stdout (raw bytes; the revision goes to stderr). Exit 1 when there is none.")
        @OptionGroup var options: ConnectionOptions
        @OptionGroup var record: RecordOptions
        @Argument(help: "The persistence id.") var id: String

        func run() throws {
            try runCommand {
                let id = try PGStateCtl.persistenceID(id)
                let namespace = try record.resolved()
                let response = try options.connect().call(.load(id), namespace: namespace)
                switch response {
                case .record(let found):
                    let bytes = Array(found.state.readableBytesView)
                    if options.json {
                        print(JSON.object([("revision", .unsigned(found.revision)),
                                           ("updated_at_us", .integer(found.updatedAtMicroseconds)),
                                           ("state_base64", .string(base64(bytes)))]).text)
                    } else {
                        printError("revision \(found.revision)")
                        writeAll(1, bytes)
                    }
                    return 0
                case .notFound:
                    if options.json { print(JSON.object([("found", .bool(false))]).text) } else { printError("not found") }
                    return 1
                default:
                    throw unexpected(response, to: "LOAD")
                }
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the ids that start with PREFIX, in byte order, one per line with its revision (every page, or one with --limit).")
        @OptionGroup var options: ConnectionOptions
        @OptionGroup var record: RecordOptions
        @Argument(help: "The prefix (empty: every id).") var prefix: String = ""
        @Option(help: "Print one page of at most this many ids, then the cursor to continue from on stderr.") var limit: Int?
        @Option(help: "Start after this id (a cursor).") var after: String?

        func run() throws {
            try runCommand {
                let namespace = try record.resolved()
                let connection = try options.connect()
                guard connection.capabilities.contains(.multiKey) else {
                    throw ControlFailure(kind: .noAnswer, description: "\(connection.path) does not serve LIST (no MULTI_KEY capability)")
                }
                let maxItems = connection.hello.limits.maxBatchItems
                let pageSize = limit ?? maxItems
                guard pageSize >= 1 && pageSize <= maxItems else {
                    throw ControlFailure(kind: .usage, description: "--limit must be 1 to \(maxItems)")
                }
                var cursor = try after.map(PGStateCtl.persistenceID)
                while true {
                    let response = try connection.call(
                        .list(ListRequest(prefix: prefix, after: cursor, limit: pageSize)), namespace: namespace)
                    guard case .listOK(let page) = response else { throw unexpected(response, to: "LIST") }
                    for entry in page.entries {
                        if options.json {
                            print(JSON.object([("id", .string(entry.persistenceID)), ("revision", .unsigned(entry.revision)),
                                               ("updated_at_us", .integer(entry.updatedAtMicroseconds))]).text)
                        } else {
                            print("\(entry.persistenceID)\t\(entry.revision)")
                        }
                    }
                    guard page.more, let last = page.entries.last else { return 0 }
                    cursor = try PGStateCtl.persistenceID(last.persistenceID)
                    if limit != nil {
                        printError("more: continue with --after \(last.persistenceID.debugDescription)")
                        return 0
                    }
                }
            }
        }
    }

    struct Put: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Store a state read from FILE (or - for stdin) if the record's revision is EXPECTED (0 creates). Prints the new revision; exit 1 on a conflict (the current revision is printed).")
        @OptionGroup var options: ConnectionOptions
        @OptionGroup var record: RecordOptions
        @Argument(help: "The persistence id.") var id: String
        @Argument(help: "The revision the record has now; 0 creates it.") var expected: UInt64
        @Argument(help: "The file holding the new state, or - for standard input.") var file: String

        func run() throws {
            try runCommand {
                let id = try PGStateCtl.persistenceID(id)
                let namespace = try record.resolved()
                guard expected <= Revision.maxExpectedForUpsert else {
                    throw ControlFailure(kind: .usage, description: "EXPECTED must be 0 to \(Revision.maxExpectedForUpsert)")
                }
                let state = try Self.read(file)
                let connection = try options.connect()
                guard state.count <= connection.hello.limits.maxStateBytes else {
                    throw ControlFailure(kind: .usage, description: "the state is \(state.count) bytes; the daemon takes at most \(connection.hello.limits.maxStateBytes)")
                }
                let response = try connection.call(
                    .upsert(Upsert(persistenceID: id, expectedRevision: expected, state: ByteBuffer(bytes: state))),
                    namespace: namespace)
                switch response {
                case .record(let stored):
                    print(options.json ? JSON.object([("revision", .unsigned(stored.revision))]).text
                                       : "revision \(stored.revision)")
                    return 0
                case .conflict(let conflict):
                    return conflicted(conflict, json: options.json)
                default:
                    throw unexpected(response, to: "UPSERT")
                }
            }
        }

        static func read(_ path: String) throws -> [UInt8] {
            let descriptor = path == "-" ? 0 : open(path, O_RDONLY | O_CLOEXEC)
            guard descriptor >= 0 else {
                throw ControlFailure(kind: .usage, description: "cannot read \(path): \(String(cString: strerror(errno)))")
            }
            defer { if descriptor != 0 { close(descriptor) } }
            var bytes: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 64 * 1024)
            while true {
                let count = chunk.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
                if count < 0 && errno == EINTR { continue }
                guard count >= 0 else {
                    throw ControlFailure(kind: .usage, description: "cannot read \(path): \(String(cString: strerror(errno)))")
                }
                if count == 0 { return bytes }
                bytes += chunk[0..<count]
            }
        }
    }

    struct DeleteCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "delete",
            abstract: "Delete a record (absent already counts as deleted); with --expected only at that revision, exit 1 otherwise.")
        @OptionGroup var options: ConnectionOptions
        @OptionGroup var record: RecordOptions
        @Argument(help: "The persistence id.") var id: String
        @Option(help: "Delete only if the record's revision is this (0: only if absent).") var expected: UInt64?

        func run() throws {
            try runCommand {
                let id = try PGStateCtl.persistenceID(id)
                let namespace = try record.resolved()
                let connection = try options.connect()
                if expected != nil { try options.needs(.conditionalDelete, "DELETE --expected", on: connection) }
                let response = try connection.call(.delete(Delete(persistenceID: id, expectedRevision: expected)),
                                                   namespace: namespace)
                switch response {
                case .ok:
                    print(options.json ? JSON.object([("deleted", .bool(true))]).text : "deleted")
                    return 0
                case .conflict(let conflict):
                    return conflicted(conflict, json: options.json)
                default:
                    throw unexpected(response, to: "DELETE")
                }
            }
        }
    }

    struct BenchLatency: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "bench-latency",
            abstract: "Round trips one at a time (like redis-cli --latency): PING measures the daemon, LOAD of an absent id the daemon and PostgreSQL. Prints min, p50, p99, max and mean.")
        @OptionGroup var options: ConnectionOptions
        @Option(help: "Round trips to make.") var count: Int = 1000
        @Option(help: "ping or load.") var op: String = "load"

        func run() throws {
            try runCommand {
                guard count >= 1 else { throw ControlFailure(kind: .usage, description: "--count must be at least 1") }
                let request: Request
                switch op {
                case "ping": request = .ping
                case "load": request = .load(try PGStateCtl.persistenceID("pgstatectl-bench-latency-absent"))
                default: throw ControlFailure(kind: .usage, description: "--op must be ping or load")
                }
                let connection = try options.connect()
                var samples: [Int64] = []
                samples.reserveCapacity(count)
                for _ in 0..<count {
                    let start = monotonicNanoseconds()
                    let response = try connection.call(request)
                    samples.append(monotonicNanoseconds() - start)
                    if case .error = response { throw unexpected(response, to: op.uppercased()) }
                }
                samples.sort()
                func ms(_ nanoseconds: Int64) -> Double { Double(nanoseconds) / 1e6 }
                func at(_ q: Double) -> Int64 { samples[min(samples.count - 1, Int((Double(samples.count) * q).rounded(.up)) - 1)] }
                let mean = Double(samples.reduce(0, +)) / Double(samples.count)
                let figures: [(String, Double)] = [("min", ms(samples[0])), ("p50", ms(at(0.5))), ("p99", ms(at(0.99))),
                                                   ("max", ms(samples[samples.count - 1])), ("mean", mean / 1e6)]
                if options.json {
                    print(JSON.object([("op", .string(op)), ("count", .integer(Int64(count)))]
                                      + figures.map { ("\($0.0)_ms", JSON.number(($0.1 * 1000).rounded() / 1000)) }).text)
                } else {
                    let text = figures.map { "\($0.0) \(String(format3($0.1))) ms" }.joined(separator: ", ")
                    print("\(count) \(op.uppercased()) round trips: \(text)")
                }
                return 0
            }
        }
    }
}

/// A conflict: the current revision, exit 1.
func conflicted(_ conflict: Conflict, json: Bool) -> Int32 {
    print(json ? JSON.object([("conflict", .bool(true)), ("actual_revision", .unsigned(conflict.actualRevision))]).text
               : "conflict: the current revision is \(conflict.actualRevision)")
    return 1
}

/// Three decimals without Foundation.
func format3(_ value: Double) -> String {
    let thousandths = Int64((value * 1000).rounded())
    let fraction = String(thousandths % 1000)
    return "\(thousandths / 1000).\(String(repeating: "0", count: 3 - fraction.count))\(fraction)"
}
