import Testing
@testable import PGStateStore

@Test func scratchDeadlock() {
    var r = PoolRouter<String>(poolSize: 2, queueLimit: 100)
    _ = r.setUp(1, true)
    _ = r.submit("old", home: 0, stateBytes: 0)   // home 0 down → worker 1
    _ = r.setUp(0, true)
    _ = r.submit("new", home: 0, stateBytes: 0)   // → worker 0
    let b1 = r.takeBatch(worker: 1, maxRequests: 10, maxBytes: 100, markIdle: true)
    let b0 = r.takeBatch(worker: 0, maxRequests: 10, maxBytes: 100, markIdle: true)
    print("SCRATCH b1=\(b1.map(\.item)) b0=\(b0.map(\.item)) r1=\(r.isRunnable(home: 0, on: 1)) r0=\(r.isRunnable(home: 0, on: 0)) idle=\(r.workers.map(\.isIdle)) out=\(r.outstanding)")
}
