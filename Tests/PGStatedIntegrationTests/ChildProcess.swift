import Foundation
import Glibc

/// A child process started with `posix_spawn` and reaped with non-blocking `waitpid`.
///
/// Foundation's `Process` is not used: it waits for a child on one shared thread with a blocking `wait4` once the
/// child closes a descriptor Foundation gave it, and `systemd-socket-activate` closes every descriptor before it
/// execs the daemon, which stalls every other test's process handling until that daemon exits.
final class ChildProcess: @unchecked Sendable {
    let pid: pid_t
    private var status: Int32?
    private let lock = NSLock()

    /// Starts `executable` with `arguments`; stdout and stderr go to `outputPath` (created or truncated).
    init(_ executable: String, _ arguments: [String], environment: [String: String], outputPath: String) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // Nothing else of the test process: a child that inherited another test's client socket would keep that
        // connection open after the test closed it (tests run in parallel), and the daemon would rightly count
        // it as still connected.
        for descriptor in Self.openDescriptors() where descriptor > 2 {
            posix_spawn_file_actions_addclose(&actions, descriptor)
        }

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, nil, argv, envp)
        guard result == 0 else { throw TestFailure("cannot start \(executable): \(String(cString: strerror(result)))") }
        self.pid = pid
    }

    /// The descriptors open in this process now (read from /proc/self/fd, each checked with fcntl).
    private static func openDescriptors() -> [Int32] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        return names.compactMap(Int32.init).filter { fcntl($0, F_GETFD) != -1 }
    }

    /// The exit status once the process has ended (a signal number is reported as 128 + signal).
    var exitStatus: Int32? {
        lock.lock()
        defer { lock.unlock() }
        if status == nil {
            var raw: Int32 = 0
            if waitpid(pid, &raw, WNOHANG) == pid {
                let signal = raw & 0x7F
                status = signal == 0 ? (raw >> 8) & 0xFF : 128 + signal
            }
        }
        return status
    }

    var isRunning: Bool { exitStatus == nil }

    func signal(_ signal: Int32) {
        if isRunning { kill(pid, signal) }
    }

    /// Waits (without blocking a thread) for the exit; SIGKILLs after `timeout` seconds and returns -1 then.
    func waitForExit(timeout: TimeInterval) async -> Int32 {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let status = exitStatus { return status }
            try? await Task.sleep(nanoseconds: 10_000_000)
        }
        kill(pid, SIGKILL)
        while isRunning { try? await Task.sleep(nanoseconds: 10_000_000) }
        return -1
    }

    /// Runs a command to completion and returns its exit status and output.
    static func run(_ executable: String, _ arguments: [String], timeout: TimeInterval = 120) async throws
        -> (status: Int32, output: String)
    {
        let outputPath = TestEnvironment.scratchDirectory() + "/output"
        let child = try ChildProcess(executable, arguments, environment: ProcessInfo.processInfo.environment,
                                     outputPath: outputPath)
        let status = await child.waitForExit(timeout: timeout)
        let output = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        try? FileManager.default.removeItem(atPath: (outputPath as NSString).deletingLastPathComponent)
        return (status, output)
    }
}
