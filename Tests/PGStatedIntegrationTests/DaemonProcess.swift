import Foundation
import NIOCore
import NIOPosix

/// A pgstated child process for one test, logging to a file that is printed when a test needs it.
final class DaemonProcess: @unchecked Sendable {
    let process: ChildProcess
    let socketPath: String
    let logPath: String

    private init(process: ChildProcess, socketPath: String, logPath: String) {
        self.process = process
        self.socketPath = socketPath
        self.logPath = logPath
    }

    /// Starts `pgstated --socket <fresh path>` against the test database and waits until it accepts.
    static func start(
        arguments: [String] = [],
        environment: [String: String] = [:],
        databaseURL: String? = TestEnvironment.databaseURL,
        socketPath: String? = nil,
        waitUntilServing: Bool = true,
        executable: String? = nil,
        fullArguments: [String]? = nil
    ) async throws -> DaemonProcess {
        let directory = TestEnvironment.scratchDirectory()
        let socket = socketPath ?? "\(directory)/pgstated.sock"
        let log = "\(directory)/pgstated.log"
        let arguments = fullArguments ?? (["--socket", socket, "--pool-size", "2", "--log-level", "debug"] + arguments)
        var env = ProcessInfo.processInfo.environment
        for key in env.keys where key.hasPrefix("PGSTATED_") || key == "NOTIFY_SOCKET" || key.hasPrefix("LISTEN_")
            || key.hasPrefix("WATCHDOG_") {
            env.removeValue(forKey: key)
        }
        if let databaseURL { env["PGSTATED_DATABASE_URL"] = databaseURL }
        env.merge(environment) { $1 }
        let process = try ChildProcess(executable ?? TestEnvironment.daemonBinary, arguments, environment: env,
                                       outputPath: log)
        let daemon = DaemonProcess(process: process, socketPath: socket, logPath: log)
        if waitUntilServing { try await daemon.waitUntilServing() }
        return daemon
    }

    /// Polls the socket until a connection succeeds.
    func waitUntilServing(timeout: TimeAmount = .seconds(30)) async throws {
        let deadline = NIODeadline.now() + timeout
        while NIODeadline.now() < deadline {
            guard process.isRunning else {
                throw TestFailure("pgstated exited with \(process.exitStatus ?? -1):\n\(log)")
            }
            if let channel = try? await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connect(unixDomainSocketPath: socketPath).get() {
                try? await channel.close()
                return
            }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        throw TestFailure("pgstated did not serve \(socketPath) in time:\n\(log)")
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Waits until the debug log shows as many clients disconnected as connected.
    func waitUntilNoClients(timeout: TimeInterval = 10) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let log = self.log
            let connected = log.components(separatedBy: "client connected").count
            let disconnected = log.components(separatedBy: "client disconnected").count
            if connected == disconnected { return }
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        throw TestFailure("clients still connected after \(timeout) s:\n\(log)")
    }

    /// SIGTERM, then waits for the exit status.
    @discardableResult
    func terminate(timeout: TimeInterval = 30) async -> Int32 {
        process.signal(SIGTERM)
        return await waitForExit(timeout: timeout)
    }

    func waitForExit(timeout: TimeInterval = 30) async -> Int32 {
        await process.waitForExit(timeout: timeout)
    }

    deinit {
        process.signal(SIGKILL)
        _ = process.exitStatus
    }
}
