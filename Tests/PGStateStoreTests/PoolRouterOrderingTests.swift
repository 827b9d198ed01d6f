import Testing

@testable import PGStateStore

/// Per-id ordering (PROTOCOL.md section 4: requests for the same persistence id are applied in the order they were
/// sent) in the situations where earlier versions of `PoolRouter` broke it, and, for each, that the requests held
/// back to keep the order do run once the older ones have finished.
@Suite("PoolRouter: per-id ordering")
struct PoolRouterOrderingTests {
    /// Formerly: `takeBatch` skipped an entry that did not fit the byte budget but went on taking later, smaller
    /// ones. A later request for the same id then ran in this batch, before the skipped one (next batch). E.g. a
    /// pipelined `UPSERT(k, large state)` followed by `LOAD(k)` whose batch is nearly full of other states: the LOAD
    /// overtook the UPSERT and returned the old state.
    @Test func aRequestThatDoesNotFitTheBytesIsNotOvertakenByALaterOneForTheSameID() {
        var router = PoolRouter<Job>(poolSize: 1, queueLimit: 100)
        _ = router.setUp(0, true)
        _ = router.submit(Job(key: 1, seq: 0), home: 0, stateBytes: 40)  // other id
        _ = router.submit(Job(key: 7, seq: 0), home: 0, stateBytes: 80)  // UPSERT k7, large
        _ = router.submit(Job(key: 7, seq: 1), home: 0, stateBytes: 0)  // LOAD k7
        let batch = router.takeBatch(worker: 0, maxRequests: 10, maxBytes: 100, markIdle: true)
        #expect(!batch.map(\.item).contains(Job(key: 7, seq: 1)), "k7#1 would run before k7#0")
        #expect(batch.map(\.item) == [Job(key: 1, seq: 0)], "a batch is a prefix of the queue")
        let next = router.takeBatch(worker: 0, maxRequests: 10, maxBytes: 100, markIdle: true)
        #expect(next.map(\.item) == [Job(key: 7, seq: 0), Job(key: 7, seq: 1)])
    }

    /// Formerly: a home that came back held its new requests while older ones were delegated, but if it went down
    /// again before those finished, `setUp(false)` moved the held (newer) requests *in front* of the older ones
    /// still queued on the fallback. A connection that flaps (reconnects, then breaks again, as during a database
    /// restart) was enough, with any pool size of 2 or more.
    @Test func aFlappingHomeDoesNotMoveItsWaitingRequestsAheadOfTheOlderOnes() {
        var sim = Simulation(poolSize: 2)
        sim.connect(1)
        sim.submit(key: 0)  // home 0 down → worker 1
        sim.submit(key: 0)
        sim.connect(0)
        sim.submit(key: 0)  // waits at home
        #expect(sim.take(0).isEmpty)
        sim.breakConnection(0)  // the waiting request moves to worker 1
        sim.checkInvariants()
        #expect(sim.router.queued(1) == [Job(key: 0, seq: 0), Job(key: 0, seq: 1), Job(key: 0, seq: 2)])
        // The simulation records an issue when a request starts before an earlier one of its id finished.
        #expect(sim.take(1) == [Job(key: 0, seq: 0), Job(key: 0, seq: 1), Job(key: 0, seq: 2)])
        sim.complete(1)
        sim.checkInvariants()
        #expect(sim.router.outstanding == 0)
    }

    /// The same flap while the fallback is running the older requests: the moved one queues behind them.
    @Test func aFlappingHomeWhileTheFallbackRunsTheOlderRequests() {
        var sim = Simulation(poolSize: 2)
        sim.connect(1)
        sim.submit(key: 0)  // → worker 1
        sim.submit(key: 0)
        #expect(sim.take(1) == [Job(key: 0, seq: 0), Job(key: 0, seq: 1)])
        sim.connect(0)
        sim.submit(key: 0)  // → home, waits
        #expect(sim.take(0).isEmpty)
        sim.breakConnection(0)
        sim.checkInvariants()
        #expect(sim.router.queued(1) == [Job(key: 0, seq: 2)])
        sim.complete(1)
        #expect(sim.take(1) == [Job(key: 0, seq: 2)])
        sim.complete(1)
        sim.checkInvariants()
    }

    /// Formerly: only the *home* held requests while some were delegated. When the home stayed down and the ring
    /// order changed (a connection between the home and its fallback came up, e.g. connections reconnecting one by
    /// one after a database restart), new requests for the id went to the new fallback and could run before the
    /// older ones still queued on (or running on) the previous fallback.
    @Test func aNewFallbackDoesNotRunRequestsAheadOfOlderOnesOnThePreviousFallback() {
        var sim = Simulation(poolSize: 3)
        sim.connect(2)
        sim.submit(key: 0)  // home 0 is down, 1 is down → worker 2
        #expect(sim.router.queued(2) == [Job(key: 0, seq: 0)])
        sim.connect(1)
        sim.submit(key: 0)  // → worker 1, the first up after the home
        #expect(sim.router.queued(1) == [Job(key: 0, seq: 1)])
        // The simulation records an issue when a request starts before an earlier one of its id finished.
        #expect(sim.take(1).isEmpty, "k0#1 waits for k0#0")
        sim.checkInvariants()
    }

    /// The same, carried on: the previous fallback runs the older request, which wakes the new one.
    @Test func aNewFallbackRunsItsRequestsOnceThoseOnThePreviousFallbackFinished() {
        var sim = Simulation(poolSize: 3)
        sim.connect(2)
        sim.submit(key: 0)  // → worker 2
        sim.connect(1)
        sim.submit(key: 0)  // → worker 1
        #expect(sim.take(1).isEmpty)
        #expect(sim.take(2) == [Job(key: 0, seq: 0)], "the older request runs where it is")
        sim.checkInvariants()
        sim.complete(2)
        #expect(!sim.asleep[1], "worker 1 was woken")
        #expect(sim.take(1) == [Job(key: 0, seq: 1)])
        sim.complete(1)
        sim.checkInvariants()
        #expect(sim.router.outstanding == 0)
    }

    /// Three placements in a row (fallback 2, then fallback 1, then the home): each runs only after the previous.
    @Test func requestsSpreadOverThreePlacementsRunInArrivalOrder() {
        var sim = Simulation(poolSize: 3)
        sim.connect(2)
        sim.submit(key: 0)  // → 2
        sim.connect(1)
        sim.submit(key: 0)  // → 1
        sim.connect(0)
        sim.submit(key: 0)  // → 0
        #expect(sim.take(0).isEmpty && sim.take(1).isEmpty)
        #expect(sim.take(2) == [Job(key: 0, seq: 0)])
        sim.complete(2)
        #expect(!sim.asleep[1] && sim.asleep[0], "only the next placement may run now")
        #expect(sim.take(1) == [Job(key: 0, seq: 1)])
        sim.complete(1)
        #expect(!sim.asleep[0])
        #expect(sim.take(0) == [Job(key: 0, seq: 2)])
        sim.complete(0)
        sim.checkInvariants()
    }

    /// Formerly the same gap reversed by a failover: the newer request, moved "in front" of the target's queue,
    /// landed ahead of the older one already there.
    @Test func requeueDoesNotPutANewerRequestAheadOfAnOlderOneOfTheSameID() {
        var router = makeRouter(poolSize: 3, up: [2])
        router.accept("k#0", home: 0)  // → 2
        _ = router.setUp(1, true)
        router.accept("k#1", home: 0)  // → 1
        _ = router.setUp(1, false)  // k#1 moves to worker 2, behind k#0
        #expect(router.queued(2) == ["k#0", "k#1"])
        #expect(router.take(2).map(\.item) == ["k#0", "k#1"])
    }

    /// The smallest case of a home coming back while its older requests are still queued on the fallback: the
    /// fallback runs them, then the home runs the newer one.
    @Test func theHomeComingBackLetsTheFallbackFinishTheOlderRequests() {
        var router = makeRouter(poolSize: 2, up: [1])
        router.accept("old", home: 0)  // home down → worker 1
        _ = router.setUp(0, true)
        router.accept("new", home: 0)  // → the home
        #expect(router.take(0).isEmpty, "new waits for old")
        let older = router.take(1)
        #expect(older.map(\.item) == ["old"])
        #expect(router.finished(older, on: 1) == [0])
        #expect(router.take(0).map(\.item) == ["new"])
    }
}
