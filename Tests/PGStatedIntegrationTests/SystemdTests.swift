import Foundation
import NIOCore
import PGStateProtocol
import Testing

/// systemd integration: socket activation, READY/STATUS/STOPPING/WATCHDOG notifications, socket file handling.
@Suite("systemd integration", .enabled(if: TestEnvironment.hasDatabase, "PGSTATE_TEST_DATABASE_URL is not set"))
struct SystemdTests {
    /// `systemd-socket-activate` binds the socket and starts pgstated on the first connection; pgstated adopts it
    /// and reports READY=1 on the NOTIFY_SOCKET the test listens on.
    @Test func socketActivation() async throws {
        let notify = try await NotifyListener()
        let socket = TestEnvironment.scratchDirectory() + "/activated.sock"
        let activator = try await DaemonProcess.start(
            socketPath: socket,
            waitUntilServing: false,
            executable: "/usr/bin/systemd-socket-activate",
            fullArguments: [
                "-l", socket,
                "-E", "PGSTATED_DATABASE_URL=\(TestEnvironment.databaseURL!)",
                "-E", "NOTIFY_SOCKET=\(notify.path)",
                "-E", "PGSTATED_POOL_SIZE=2",
                "-E", "PGSTATED_LOG_LEVEL=debug",
                TestEnvironment.daemonBinary,
                // Socket activation must win over --socket: this path must never be created.
                "--socket", socket + ".unused",
            ]
        )
        // systemd-socket-activate binds at once, but starts pgstated only on the first connection.
        let deadline = Date().addingTimeInterval(10)
        while !FileManager.default.fileExists(atPath: socket) && Date() < deadline {
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        #expect(notify.messages.isEmpty, "nothing runs before the first connection")
        let id = TestEnvironment.uniqueID("activated")
        try await TestClient.withConnection(to: socket) { (client: inout TestClient) async throws in
            #expect(try await client.upsert(id, 0, [42]).revision == 1)
        }
        _ = try await notify.waitFor("READY=1")
        #expect(!FileManager.default.fileExists(atPath: socket + ".unused"))
        #expect(activator.log.contains("socket passed by systemd"), "\(activator.log)")
        // A second connection is served by the same daemon.
        try await TestClient.withConnection(to: socket) { (client: inout TestClient) async throws in
            #expect(try await client.load(id).state == [42])
        }
        #expect(await activator.terminate() == 0)
        _ = try await notify.waitFor("STOPPING=1")
        await notify.close()
    }

    /// READY=1 comes only once the database is reachable; before that pgstated retries and says why.
    @Test func readyOnlyOnceTheDatabaseIsUp() async throws {
        let notify = try await NotifyListener()
        let daemon = try await DaemonProcess.start(
            environment: ["NOTIFY_SOCKET": notify.path],
            databaseURL: "host=/nonexistent-pgstate-socket-dir port=5 connect_timeout=1",
            waitUntilServing: false
        )
        try await Task.sleep(nanoseconds: 1_500_000_000)
        #expect(daemon.process.isRunning)
        #expect(!notify.messages.contains { $0.text.contains("READY=1") })
        #expect(!FileManager.default.fileExists(atPath: daemon.socketPath), "no socket before the pool is up")
        #expect(daemon.log.contains("cannot connect to the database"), "\(daemon.log)")
        #expect(daemon.log.contains("nonexistent-pgstate-socket-dir"), "the log says why")
        #expect(await daemon.terminate() == 0, "SIGTERM during start-up exits cleanly")
        await notify.close()
    }

    @Test func notificationsStatusAndWatchdog() async throws {
        let notify = try await NotifyListener()
        let daemon = try await DaemonProcess.start(environment: [
            "NOTIFY_SOCKET": notify.path,
            "WATCHDOG_USEC": "400000",
        ])
        let ready = try await notify.waitFor("READY=1")
        #expect(ready.text.contains("STATUS=clients="))
        try await TestClient.withConnection(to: daemon.socketPath) { (client: inout TestClient) async throws in
            _ = try await notify.waitFor("WATCHDOG=1")
            // STATUS= is refreshed every 2 seconds with the live figures.
            let connectedAt = Date()
            let status = try await notify.waitFor(timeout: 10) {
                $0.at > connectedAt.addingTimeInterval(0.1) && $0.text.hasPrefix("STATUS=")
                    && $0.text.contains("clients=1 ")
            }
            #expect(status.text.contains("pool=2/2 up"), "\(status.text)")
            // requests/s and p99 cover the interval since the previous line.
            let id = TestEnvironment.uniqueID("status")
            for _ in 0..<300 { _ = try await client.load(id) }
            let loadedAt = Date()
            let busy = try await notify.waitFor(timeout: 10) {
                $0.at > loadedAt && $0.text.hasPrefix("STATUS=") && $0.text.contains(" p99<=")
            }
            let rate = busy.text.split(separator: " ").first { $0.hasPrefix("requests/s=") }
                .flatMap { Int($0.dropFirst("requests/s=".count)) }
            #expect((rate ?? 0) > 0, "\(busy.text)")
            print("status after 300 loads: \(busy.text)")
            #expect(!busy.text.contains("PAUSED"))
            // A pause shows in the line until RESUME.
            #expect(try await client.call(.pause(timeoutMilliseconds: 0)) == .ok)
            let pausedAt = Date()
            let paused = try await notify.waitFor(timeout: 10) { $0.at > pausedAt && $0.text.hasPrefix("STATUS=") }
            #expect(paused.text.hasPrefix("STATUS=PAUSED "), "\(paused.text)")
            #expect(try await client.call(.resume) == .ok)
            let resumedAt = Date()
            let resumed = try await notify.waitFor(timeout: 10) { $0.at > resumedAt && $0.text.hasPrefix("STATUS=") }
            #expect(!resumed.text.contains("PAUSED"), "\(resumed.text)")
        }
        // WATCHDOG=1 at about half the 400 ms interval.
        let deadline = Date().addingTimeInterval(10)
        while notify.messages.filter({ $0.text == "WATCHDOG=1" }).count < 10 && Date() < deadline {
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        let pings = notify.messages.filter { $0.text == "WATCHDOG=1" }.map(\.at)
        #expect(pings.count >= 8)
        let gaps = zip(pings.dropFirst(), pings).map { $0.timeIntervalSince($1) }.sorted()
        let median = gaps[gaps.count / 2]
        print("watchdog: \(pings.count) pings, median gap \(Int(median * 1000)) ms for WATCHDOG_USEC=400000")
        #expect(median > 0.15 && median < 0.3)
        #expect(await daemon.terminate() == 0)
        _ = try await notify.waitFor("STOPPING=1")
        await notify.close()
    }

    @Test func socketFileLifecycle() async throws {
        let directory = TestEnvironment.scratchDirectory()
        let socket = directory + "/nested/folder/pgstated.sock"
        // Parent folders are created; the socket gets mode 0660 (or the configured mode).
        let daemon = try await DaemonProcess.start(arguments: ["--socket-mode", "0600"], socketPath: socket)
        let attributes = try FileManager.default.attributesOfItem(atPath: socket)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)

        // A second daemon refuses to take over a live socket.
        let intruder = try await DaemonProcess.start(socketPath: socket, waitUntilServing: false)
        #expect(await intruder.waitForExit() != 0)
        #expect(intruder.log.contains("another server is listening"), "\(intruder.log)")
        try await TestClient.withConnection(to: socket) { (client: inout TestClient) async throws in
            #expect(try await client.call(.ping) == .ok)
        }
        // Removed on exit.
        #expect(await daemon.terminate() == 0)
        #expect(!FileManager.default.fileExists(atPath: socket))

        // A stale socket file (nobody listening) is replaced.
        let stale = try await DaemonProcess.start(socketPath: socket)
        stale.process.signal(SIGKILL)
        _ = await stale.waitForExit()
        #expect(FileManager.default.fileExists(atPath: socket))
        let successor = try await DaemonProcess.start(socketPath: socket)
        try await TestClient.withConnection(to: socket) { (client: inout TestClient) async throws in
            #expect(try await client.call(.ping) == .ok)
        }
        #expect(await successor.terminate() == 0)

        // A regular file in the way is never deleted.
        FileManager.default.createFile(atPath: socket, contents: Data("precious".utf8))
        let blocked = try await DaemonProcess.start(socketPath: socket, waitUntilServing: false)
        #expect(await blocked.waitForExit() != 0)
        #expect(try String(contentsOfFile: socket, encoding: .utf8) == "precious")
    }
}
