import CSystemd
import Glibc
import Testing

@Suite("libsystemd system library")
struct CSystemdTests {
    /// Outside systemd, sd_listen_fds reports no sockets and sd_notify is a harmless no-op.
    @Test func isHarmlessWithoutSystemd() {
        unsetenv("LISTEN_FDS")
        unsetenv("NOTIFY_SOCKET")
        #expect(sd_listen_fds(0) == 0)
        #expect(sd_notify(0, "READY=1") == 0)
    }
}
