import CPGStateSys
import Glibc

/// Starts a detached POSIX thread running `body`. The daemon's request-path threads (one per reactor)
/// are plain pthreads, not Dispatch or Foundation threads: nothing asks the kernel for a
/// scheduling class the service's sandbox refuses.
func spawnThread(name: String, _ body: @escaping @Sendable () -> Void) {
    final class Start: Sendable {
        let name: String
        let body: @Sendable () -> Void
        init(name: String, body: @escaping @Sendable () -> Void) {
            self.name = name
            self.body = body
        }
    }
    let start = Unmanaged.passRetained(Start(name: name, body: body)).toOpaque()
    var thread = pthread_t()
    let created = pthread_create(&thread, nil, { argument in
        let start = Unmanaged<Start>.fromOpaque(argument!).takeRetainedValue()
        pgstate_set_thread_name(start.name)
        start.body()
        return nil
    }, start)
    precondition(created == 0, "pthread_create failed: \(created)")
    pthread_detach(thread)
}
