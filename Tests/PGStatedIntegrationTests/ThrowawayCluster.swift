import Foundation

/// A private PostgreSQL cluster for tests that stop and restart the database, so they disturb no other test.
/// PostgreSQL refuses to run as root: as root, every server command runs as the `postgres` user.
final class ThrowawayCluster: @unchecked Sendable {
    let directory: String
    let port: Int
    let bindir: String

    var url: String { "host=\(directory)/sock port=\(port) user=postgres dbname=postgres" }

    init() async throws {
        bindir = ProcessInfo.processInfo.environment["PGSTATE_TEST_PG_BINDIR"] ?? Self.findBindir()
        directory = TestEnvironment.scratchDirectory()
        port = Int.random(in: 40_000..<50_000)
        try FileManager.default.createDirectory(atPath: "\(directory)/sock", withIntermediateDirectories: true)
        if getuid() == 0 {
            try await run("/bin/chown", ["-R", "postgres:", directory], asOwner: false)
        }
        try await run("\(bindir)/initdb", ["-D", "\(directory)/data", "-U", "postgres", "--auth=trust", "-E", "UTF8"])
        try await start()
    }

    private static func findBindir() -> String {
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        let newest = versions.compactMap(Int.init).max() ?? 15
        return "/usr/lib/postgresql/\(newest)/bin"
    }

    /// Runs `body` with a new cluster and destroys the cluster afterwards, also when `body` throws.
    static func with<R>(_ body: (ThrowawayCluster) async throws -> R) async throws -> R {
        let cluster = try await ThrowawayCluster()
        do {
            let result = try await body(cluster)
            await cluster.destroy()
            return result
        } catch {
            await cluster.destroy()
            throw error
        }
    }

    func start() async throws {
        try await run("\(bindir)/pg_ctl", [
            "-D", "\(directory)/data", "-l", "\(directory)/postgres.log", "-w", "-t", "60",
            "-o", "-c listen_addresses='' -c unix_socket_directories='\(directory)/sock' -p \(port)", "start",
        ])
    }

    func stop() async throws {
        try await run("\(bindir)/pg_ctl", ["-D", "\(directory)/data", "-m", "fast", "-w", "stop"])
    }

    func destroy() async {
        try? await stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func run(_ executable: String, _ arguments: [String], asOwner: Bool = true) async throws {
        let words = (asOwner && getuid() == 0 ? ["-u", "postgres", "--", executable] : []) + arguments
        let (status, output) = try await ChildProcess.run(
            asOwner && getuid() == 0 ? "/usr/sbin/runuser" : executable, asOwner && getuid() == 0 ? words : arguments)
        guard status == 0 else { throw TestFailure("\(executable) \(arguments) failed with \(status): \(output)") }
    }
}
