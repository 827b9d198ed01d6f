import Foundation

/// A private PostgreSQL cluster for tests that stop and restart the database, so they disturb no other test.
/// PostgreSQL refuses to run as root: as root, every server command runs as the `postgres` user.
final class ThrowawayCluster: @unchecked Sendable {
    let directory: String
    let port: Int
    let bindir: String

    var url: String { "host=\(directory)/sock port=\(port) user=postgres dbname=postgres" }

    init() throws {
        bindir = ProcessInfo.processInfo.environment["PGSTATE_TEST_PG_BINDIR"] ?? Self.findBindir()
        directory = TestEnvironment.scratchDirectory()
        port = Int.random(in: 40_000..<50_000)
        try FileManager.default.createDirectory(atPath: "\(directory)/sock", withIntermediateDirectories: true)
        if getuid() == 0 {
            try run("/bin/chown", ["-R", "postgres:", directory], asOwner: false)
        }
        try run("\(bindir)/initdb", ["-D", "\(directory)/data", "-U", "postgres", "--auth=trust", "-E", "UTF8"])
        try start()
    }

    private static func findBindir() -> String {
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        let newest = versions.compactMap(Int.init).max() ?? 15
        return "/usr/lib/postgresql/\(newest)/bin"
    }

    func start() throws {
        try run("\(bindir)/pg_ctl", [
            "-D", "\(directory)/data", "-l", "\(directory)/postgres.log", "-w", "-t", "60",
            "-o", "-c listen_addresses='' -c unix_socket_directories='\(directory)/sock' -p \(port)", "start",
        ])
    }

    func stop() throws {
        try run("\(bindir)/pg_ctl", ["-D", "\(directory)/data", "-m", "fast", "-w", "stop"])
    }

    func destroy() {
        try? stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Runs a command through `system()`, which waits with waitpid: Foundation's Process would also wait for
    /// descendants holding its internal descriptors, and the postmaster pg_ctl leaves behind holds them forever.
    private func run(_ executable: String, _ arguments: [String], asOwner: Bool = true) throws {
        let words = (asOwner && getuid() == 0 ? ["/usr/sbin/runuser", "-u", "postgres", "--"] : [])
            + [executable] + arguments
        let command = words.map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
        let status = system(command + " </dev/null >/dev/null 2>&1")
        guard status == 0 else {
            throw TestFailure("\(executable) \(arguments) failed with status \(status)")
        }
    }
}
