import Foundation

/// Where the integration tests find the database and the daemon. `make test` sets all of it; a bare `swift test`
/// without `PGSTATE_TEST_DATABASE_URL` skips these suites (and says so).
enum TestEnvironment {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static var databaseURL: String? { ProcessInfo.processInfo.environment["PGSTATE_TEST_DATABASE_URL"] }

    static var hasDatabase: Bool { databaseURL != nil }

    static var daemonBinary: String {
        ProcessInfo.processInfo.environment["PGSTATED_BIN"]
            ?? root.appendingPathComponent(".build/debug/pgstated").path
    }

    /// A fresh folder for sockets (short, since Unix socket paths are limited to 107 bytes).
    static func scratchDirectory() -> String {
        let path = "/tmp/pgst-\(UUID().uuidString.prefix(8))"
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// A unique id prefix so tests never collide on the shared database.
    static func uniqueID(_ label: String) -> String {
        "\(label)-\(UUID().uuidString.prefix(12))"
    }

    /// Runs psql against the test database; returns its output.
    @discardableResult
    static func psql(_ sql: String, url: String? = nil) async throws -> String {
        let (status, output) = try await ChildProcess.run(
            "/usr/bin/psql", [url ?? databaseURL!, "-v", "ON_ERROR_STOP=1", "-qAtc", sql])
        guard status == 0 else { throw TestFailure("psql failed (\(status)) for: \(sql)\n\(output)") }
        return output.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension Array where Element == UInt8 {
    /// Bytes from lowercase or uppercase hex digits, as the shared JSON files write them.
    init(hex: String) throws {
        let digits = Array(hex.utf8)
        guard digits.count % 2 == 0 else { throw TestFailure("odd number of hex digits") }
        self = try stride(from: 0, to: digits.count, by: 2).map {
            guard let byte = UInt8(String(decoding: digits[$0..<$0 + 2], as: UTF8.self), radix: 16) else {
                throw TestFailure("bad hex digits at \($0)")
            }
            return byte
        }
    }
}
