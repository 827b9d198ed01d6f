import Testing

@testable import PGStateStore

/// Helpers shared by the router tests: a router of plain string items whose connections are up as asked.
typealias Router = PoolRouter<String>

func makeRouter(poolSize: Int, up: [Int]? = nil, queueLimit: Int = 1_000) -> Router {
    var router = Router(poolSize: poolSize, queueLimit: queueLimit)
    for worker in up ?? Array(0..<poolSize) {
        _ = router.setUp(worker, true)
    }
    return router
}

extension PoolRouter {
    func queued(_ worker: Int) -> [Item] { workers[worker].queue.map(\.item) }
    /// `delegatedAway` of every home, by home.
    var delegated: [Int] { workers.indices.map { delegatedAway($0) } }

    /// Takes a batch with generous limits, marking the worker idle when there is nothing to run.
    mutating func take(_ worker: Int, maxRequests: Int = 100, maxBytes: Int = 1_000) -> [Entry] {
        takeBatch(worker: worker, maxRequests: maxRequests, maxBytes: maxBytes, markIdle: true)
    }
}

extension PoolRouter where Item == String {
    /// Submits and records an issue when the request is refused.
    @discardableResult
    mutating func accept(
        _ item: String, home: Int, stateBytes: Int = 0, sourceLocation: SourceLocation = #_sourceLocation
    ) -> Int? {
        switch submit(item, home: home, stateBytes: stateBytes) {
        case .success(let wake):
            return wake
        case .failure(let error):
            Issue.record("\(item) refused: \(error.refusal)", sourceLocation: sourceLocation)
            return nil
        }
    }

    func refusal(of result: Result<Int?, RefusalError>) -> Refusal? {
        if case .failure(let error) = result { return error.refusal }
        return nil
    }
}

@Suite("PoolRouter: key affinity")
struct PoolRouterHomeTests {
    /// FNV-1a 64 of the published test vectors, so the home is the same in every process and every release.
    @Test func homeIsFNV1aOfTheKeyBytes() {
        #expect(Router.home(ofKey: "".utf8, poolSize: Int.max) == Int(0xcbf2_9ce4_8422_2325 % UInt64(Int.max)))
        #expect(Router.home(ofKey: "a".utf8, poolSize: Int.max) == Int(0xaf63_dc4c_8601_ec8c % UInt64(Int.max)))
        #expect(Router.home(ofKey: "foobar".utf8, poolSize: Int.max) == Int(0x8594_4171_f739_67e8 % UInt64(Int.max)))
    }

    @Test(arguments: [1, 2, 3, 4, 7, 16, 64])
    func homeIsStableAndInRange(poolSize: Int) {
        for n in 0..<500 {
            let key = "persistence-\(n)"
            let home = Router.home(ofKey: key.utf8, poolSize: poolSize)
            #expect((0..<poolSize).contains(home))
            #expect(Router.home(ofKey: Array(key.utf8), poolSize: poolSize) == home, "same bytes, same home")
        }
    }

    @Test func homesSpreadOverThePool() {
        var counts = [0, 0, 0, 0]
        for n in 0..<4_000 {
            counts[Router.home(ofKey: "id-\(n)".utf8, poolSize: 4)] += 1
        }
        // Uniform would be 1000 each; any connection left without keys (or hogging them) means a broken hash.
        #expect(counts.allSatisfy { (800...1_200).contains($0) }, "\(counts)")
    }

    @Test func differentKeysCanHaveDifferentHomes() {
        let homes = Set((0..<50).map { Router.home(ofKey: "k\($0)".utf8, poolSize: 3) })
        #expect(homes == [0, 1, 2])
    }
}

@Suite("PoolRouter: submit")
struct PoolRouterSubmitTests {
    @Test func routesToTheHomeWhenItIsUp() {
        var router = makeRouter(poolSize: 4)
        #expect(router.accept("a", home: 2) == nil, "a busy (not idle) worker is not woken")
        #expect(router.accept("b", home: 0) == nil)
        #expect(router.accept("c", home: 2) == nil)
        #expect(router.queued(2) == ["a", "c"])
        #expect(router.queued(0) == ["b"])
        #expect(router.queued(1).isEmpty && router.queued(3).isEmpty)
        #expect(router.delegated == [0, 0, 0, 0])
        #expect(router.outstanding == 3)
        #expect(router.connectionsUp == 4)
    }

    @Test func numbersRequestsInArrivalOrderAcrossThePool() {
        var router = makeRouter(poolSize: 3, up: [0, 2])
        router.accept("a", home: 0)
        router.accept("b", home: 1)  // → 2
        router.accept("c", home: 2)
        router.accept("d", home: 0)
        let sequence = { (item: String) in
            router.workers.flatMap(\.queue).first { $0.item == item }!.sequence
        }
        let numbers = ["a", "b", "c", "d"].map(sequence)
        #expect(numbers == numbers.sorted() && Set(numbers).count == 4, "\(numbers)")
        #expect(router.workers.allSatisfy { $0.queue.map(\.sequence) == $0.queue.map(\.sequence).sorted() })
    }

    @Test func wakesAnIdleWorkerOnce() {
        var router = makeRouter(poolSize: 2)
        #expect(router.take(1).isEmpty)
        #expect(router.workers[1].isIdle)
        #expect(router.accept("a", home: 1) == 1)
        #expect(!router.workers[1].isIdle)
        #expect(router.accept("b", home: 1) == nil, "already woken")
    }

    @Test func goesToTheNextUpConnectionInRingOrderWhenTheHomeIsDown() {
        var router = makeRouter(poolSize: 4, up: [0, 3])
        router.accept("a", home: 1)  // 1 down, 2 down, 3 up
        router.accept("b", home: 2)  // 2 down, 3 up
        router.accept("c", home: 3)  // home
        router.accept("d", home: 0)  // home
        #expect(router.queued(3) == ["a", "b", "c"])
        #expect(router.queued(0) == ["d"])
        #expect(router.delegated == [0, 1, 1, 0])
        #expect(router.outstanding == 4)
    }

    @Test func ringOrderWrapsAround() {
        var router = makeRouter(poolSize: 4, up: [1])
        router.accept("a", home: 2)  // 2, 3, 0 down → wraps to 1
        router.accept("b", home: 3)
        #expect(router.queued(1) == ["a", "b"])
        #expect(router.delegated == [0, 0, 1, 1])
        #expect(router.placement(forHome: 0) == 1)
        #expect(router.placement(forHome: 1) == 1)
    }

    /// New requests go to the current placement, even while older ones of the same home are elsewhere (they wait
    /// there; see the takeBatch tests).
    @Test func aNewRequestGoesToThePlacementWhileOlderOnesAreElsewhere() {
        var router = makeRouter(poolSize: 3, up: [2])
        router.accept("a", home: 0)  // → 2
        _ = router.setUp(1, true)
        router.accept("b", home: 0)  // → 1, the new fallback
        _ = router.setUp(0, true)
        router.accept("c", home: 0)  // → the home
        #expect(router.queued(0) == ["c"])
        #expect(router.queued(1) == ["b"])
        #expect(router.queued(2) == ["a"])
        #expect(router.delegated == [2, 0, 0])
        #expect(!router.isRunnable(home: 0, on: 0) && !router.isRunnable(home: 0, on: 1))
    }

    @Test func refusesUnavailableWhenNoConnectionIsUp() {
        var router = makeRouter(poolSize: 3, up: [])
        #expect(router.refusal(of: router.submit("a", home: 1, stateBytes: 0)) == .unavailable)
        #expect(router.outstanding == 0, "a refused request is not outstanding")
        #expect(router.delegated == [0, 0, 0])
        #expect((0..<3).allSatisfy { router.queued($0).isEmpty })
        #expect(router.placement(forHome: 1) == nil)
    }

    @Test func refusesOverloadedAtTheQueueLimitCountingExecutingRequests() {
        var router = makeRouter(poolSize: 2, queueLimit: 3)
        router.accept("a", home: 0)
        router.accept("b", home: 1)
        let taken = router.takeBatch(worker: 0, maxRequests: 10, maxBytes: 100, markIdle: false)
        #expect(taken.map(\.item) == ["a"])
        router.accept("c", home: 0)
        #expect(router.outstanding == 3)
        // "a" is executing, not queued, and still counts.
        #expect(router.refusal(of: router.submit("d", home: 1, stateBytes: 0)) == .overloaded)
        #expect(router.outstanding == 3)
        #expect(router.queued(1) == ["b"], "the refused request is not queued")
        _ = router.finished(taken, on: 0)
        #expect(router.outstanding == 2)
        router.accept("d", home: 1)
        #expect(router.queued(1) == ["b", "d"])
    }

    @Test func refusesShuttingDownAfterStopAcceptingWhateverElseHolds() {
        var router = makeRouter(poolSize: 2, queueLimit: 1)
        router.accept("a", home: 0)
        router.stopAccepting()
        #expect(!router.isAccepting)
        // Full queue and an up connection: shutting down wins.
        #expect(router.refusal(of: router.submit("b", home: 0, stateBytes: 0)) == .shuttingDown)
        _ = router.setUp(1, false)
        _ = router.setUp(0, false)
        #expect(router.refusal(of: router.submit("c", home: 1, stateBytes: 0)) == .shuttingDown)
    }

    @Test func stopAcceptingLetsQueuedWorkFinish() {
        var router = makeRouter(poolSize: 1)
        router.accept("a", home: 0)
        router.stopAccepting()
        #expect(!router.isDrained(0))
        let batch = router.takeBatch(worker: 0, maxRequests: 10, maxBytes: 10, markIdle: true)
        #expect(batch.map(\.item) == ["a"])
        #expect(router.isDrained(0))
        _ = router.finished(batch, on: 0)
        #expect(router.outstanding == 0)
    }
}

@Suite("PoolRouter: takeBatch")
struct PoolRouterTakeBatchTests {
    @Test func respectsMaxRequestsAndKeepsArrivalOrder() {
        var router = makeRouter(poolSize: 1)
        for item in ["a", "b", "c", "d", "e"] { router.accept(item, home: 0) }
        let first = router.takeBatch(worker: 0, maxRequests: 2, maxBytes: 1_000, markIdle: true)
        #expect(first.map(\.item) == ["a", "b"])
        #expect(router.queued(0) == ["c", "d", "e"])
        let second = router.takeBatch(worker: 0, maxRequests: 2, maxBytes: 1_000, markIdle: true)
        #expect(second.map(\.item) == ["c", "d"])
        let third = router.takeBatch(worker: 0, maxRequests: 2, maxBytes: 1_000, markIdle: true)
        #expect(third.map(\.item) == ["e"])
        #expect(!router.workers[0].isIdle)
        #expect(router.outstanding == 5, "taking does not finish")
    }

    @Test func respectsMaxBytes() {
        var router = makeRouter(poolSize: 1)
        router.accept("a", home: 0, stateBytes: 10)
        router.accept("b", home: 0, stateBytes: 10)
        router.accept("c", home: 0, stateBytes: 10)
        let batch = router.takeBatch(worker: 0, maxRequests: 100, maxBytes: 25, markIdle: true)
        #expect(batch.map(\.item) == ["a", "b"])
        #expect(batch.map(\.stateBytes) == [10, 10])
        #expect(router.queued(0) == ["c"])
    }

    @Test func maxBytesIsInclusive() {
        var router = makeRouter(poolSize: 1)
        router.accept("a", home: 0, stateBytes: 10)
        router.accept("b", home: 0, stateBytes: 15)
        router.accept("c", home: 0, stateBytes: 1)
        let batch = router.takeBatch(worker: 0, maxRequests: 100, maxBytes: 25, markIdle: true)
        #expect(batch.map(\.item) == ["a", "b"])
    }

    @Test func alwaysTakesAtLeastOneRequestEvenOverTheByteLimit() {
        var router = makeRouter(poolSize: 1)
        router.accept("huge", home: 0, stateBytes: 1_000)
        router.accept("next", home: 0, stateBytes: 1)
        let batch = router.takeBatch(worker: 0, maxRequests: 100, maxBytes: 10, markIdle: true)
        #expect(batch.map(\.item) == ["huge"])
        #expect(router.queued(0) == ["next"])
    }

    /// A batch is a prefix of the runnable requests: nothing behind a request that does not fit is taken, even a
    /// smaller one that would (it may be a later request for the same id).
    @Test func stopsAtTheFirstRequestThatDoesNotFitTheBytes() {
        var router = makeRouter(poolSize: 1)
        router.accept("a", home: 0, stateBytes: 10)
        router.accept("big", home: 0, stateBytes: 20)
        router.accept("small", home: 0, stateBytes: 1)
        let first = router.takeBatch(worker: 0, maxRequests: 100, maxBytes: 25, markIdle: true)
        #expect(first.map(\.item) == ["a"])
        #expect(router.queued(0) == ["big", "small"])
        let second = router.takeBatch(worker: 0, maxRequests: 100, maxBytes: 25, markIdle: true)
        #expect(second.map(\.item) == ["big", "small"])
    }

    @Test func marksIdleOnlyWhenEmptyAndAsked() {
        var router = makeRouter(poolSize: 1)
        #expect(router.takeBatch(worker: 0, maxRequests: 10, maxBytes: 10, markIdle: false).isEmpty)
        #expect(!router.workers[0].isIdle)
        router.accept("a", home: 0)
        #expect(router.takeBatch(worker: 0, maxRequests: 10, maxBytes: 10, markIdle: true).count == 1)
        #expect(!router.workers[0].isIdle, "a worker that got work is not idle")
        #expect(router.takeBatch(worker: 0, maxRequests: 10, maxBytes: 10, markIdle: true).isEmpty)
        #expect(router.workers[0].isIdle)
    }

    /// Pool of 3: home 0 was down when "own-1" arrived (→ worker 1); it is back, so later requests of home 0 go
    /// there and wait for "own-1". Home 2 is down: its requests go to worker 0 and may run at once.
    private func waitingRouter() -> Router {
        var router = makeRouter(poolSize: 3, up: [1])
        router.accept("own-1", home: 0)  // → worker 1
        _ = router.setUp(0, true)
        router.accept("own-2", home: 0)  // home is up: queued at home, waits for own-1
        router.accept("other", home: 2)  // 2 down → ring → worker 0
        router.accept("own-3", home: 0)
        return router
    }

    @Test func entriesWaitWhileOlderRequestsOfTheirHomeAreUnfinishedElsewhere() {
        var router = waitingRouter()
        #expect(router.queued(0) == ["own-2", "other", "own-3"])
        #expect(router.queued(1) == ["own-1"])
        #expect(router.delegated == [1, 0, 1])

        let batch = router.take(0)
        #expect(batch.map(\.item) == ["other"])
        #expect(router.queued(0) == ["own-2", "own-3"], "waiting requests keep their order")
        #expect(!router.workers[0].isIdle)

        #expect(router.take(0).isEmpty)
        #expect(router.workers[0].isIdle, "nothing runnable: idle although requests are queued")

        let older = router.take(1)
        #expect(older.map(\.item) == ["own-1"], "the older request runs where it is")
        #expect(router.finished(older, on: 1) == [0], "its finishing wakes the home")
        #expect(router.delegated == [0, 0, 1])
        #expect(!router.workers[0].isIdle)

        let own = router.take(0)
        #expect(own.map(\.item) == ["own-2", "own-3"])
        _ = router.finished(batch, on: 0)
        #expect(router.delegated == [0, 0, 0])
        _ = router.finished(own, on: 0)
        #expect(router.outstanding == 0)
    }

    @Test func aWaitingRequestDoesNotCountTowardsTheBatchLimits() {
        var router = waitingRouter()
        router.accept("other-2", home: 2)
        let batch = router.takeBatch(worker: 0, maxRequests: 2, maxBytes: 100, markIdle: true)
        #expect(batch.map(\.item) == ["other", "other-2"])
        #expect(router.queued(0) == ["own-2", "own-3"])
    }

    @Test func aWaitingRequestOverTheByteLimitDoesNotStopTheBatch() {
        var router = makeRouter(poolSize: 3, up: [1])
        router.accept("own-1", home: 0)  // → worker 1
        _ = router.setUp(0, true)
        router.accept("own-2", home: 0, stateBytes: 1_000)  // waits at home
        router.accept("other", home: 2, stateBytes: 10)  // → worker 0
        router.accept("other-2", home: 2, stateBytes: 10)
        let batch = router.takeBatch(worker: 0, maxRequests: 10, maxBytes: 25, markIdle: true)
        #expect(batch.map(\.item) == ["other", "other-2"])
        #expect(router.queued(0) == ["own-2"])
    }

    @Test func requestsOfAHomeRunWhereverAllOfItsUnfinishedRequestsAre() {
        var router = makeRouter(poolSize: 2, up: [1])
        router.accept("a", home: 0)  // → 1
        router.accept("b", home: 0)
        _ = router.setUp(0, true)
        #expect(router.isRunnable(home: 0, on: 1) && !router.isRunnable(home: 0, on: 0))
        #expect(router.take(1).map(\.item) == ["a", "b"], "the fallback keeps running them after the home is back")
    }
}

@Suite("PoolRouter: finished")
struct PoolRouterFinishedTests {
    @Test func decrementsOutstanding() {
        var router = makeRouter(poolSize: 1)
        for item in ["a", "b", "c"] { router.accept(item, home: 0) }
        let batch = router.takeBatch(worker: 0, maxRequests: 2, maxBytes: 10, markIdle: true)
        #expect(router.finished(batch, on: 0).isEmpty)
        #expect(router.outstanding == 1)
        #expect(router.finished([], on: 0).isEmpty)
        #expect(router.outstanding == 1)
    }

    @Test func wakesTheIdleHomeOnlyWhenItsLastOlderRequestFinished() {
        var router = makeRouter(poolSize: 2, up: [1])
        router.accept("a", home: 0)
        router.accept("b", home: 0)
        _ = router.setUp(0, true)
        router.accept("c", home: 0)
        #expect(router.take(0).isEmpty)
        #expect(router.workers[0].isIdle)

        let first = router.takeBatch(worker: 1, maxRequests: 1, maxBytes: 10, markIdle: true)
        #expect(first.map(\.item) == ["a"])
        #expect(router.finished(first, on: 1).isEmpty, "one older request is still unfinished")
        #expect(router.delegated == [1, 0])
        #expect(router.workers[0].isIdle)

        let second = router.takeBatch(worker: 1, maxRequests: 1, maxBytes: 10, markIdle: true)
        #expect(second.map(\.item) == ["b"])
        #expect(router.finished(second, on: 1) == [0])
        #expect(router.delegated == [0, 0])
        #expect(router.take(0).map(\.item) == ["c"])
    }

    @Test func doesNotWakeAWorkerThatIsNotIdle() {
        var router = makeRouter(poolSize: 2, up: [1])
        router.accept("a", home: 0)
        _ = router.setUp(0, true)
        router.accept("b", home: 0)  // waits at home; worker 0 has not looked yet
        let batch = router.take(1)
        #expect(batch.map(\.item) == ["a"])
        #expect(router.finished(batch, on: 1).isEmpty, "worker 0 never went idle: it will look again by itself")
        #expect(router.delegated == [0, 0])
        #expect(router.take(0).map(\.item) == ["b"])
    }

    @Test func wakesEveryIdleWorkerWhoseRequestsMayNowRun() {
        var router = makeRouter(poolSize: 3, up: [2])
        router.accept("a", home: 0)  // → 2
        router.accept("b", home: 1)  // → 2
        _ = router.setUp(0, true)
        _ = router.setUp(1, true)
        router.accept("c", home: 0)  // → 0, waits for a
        router.accept("d", home: 1)  // → 1, waits for b
        #expect(router.take(0).isEmpty && router.take(1).isEmpty)
        let batch = router.take(2)
        #expect(batch.map(\.item) == ["a", "b"])
        #expect(router.finished(batch, on: 2).sorted() == [0, 1])
        #expect(router.take(0).map(\.item) == ["c"])
        #expect(router.take(1).map(\.item) == ["d"])
    }

    @Test func aRequestRunAtItsHomeIsNotDelegated() {
        var router = makeRouter(poolSize: 2)
        router.accept("a", home: 1)
        let batch = router.takeBatch(worker: 1, maxRequests: 10, maxBytes: 10, markIdle: true)
        #expect(router.finished(batch, on: 1).isEmpty)
        #expect(router.delegated == [0, 0])
    }
}

@Suite("PoolRouter: connections going down and up")
struct PoolRouterFailoverTests {
    @Test func goingDownMovesTheQueueToThePlacementMergedByArrivalOrder() {
        var router = makeRouter(poolSize: 3)
        router.accept("x", home: 1)
        router.accept("a", home: 0)
        router.accept("b", home: 0)
        router.accept("c", home: 2)
        let result = router.setUp(0, false)
        #expect(result.unplaced.isEmpty)
        #expect(result.wake.isEmpty, "worker 1 is not idle")
        #expect(router.queued(0).isEmpty)
        #expect(router.queued(1) == ["x", "a", "b"], "x arrived first")
        #expect(router.delegated == [2, 0, 0])
        #expect(router.outstanding == 4)
        #expect(router.connectionsUp == 2)
    }

    @Test func goingDownInterleavesTheMovedQueueWithTheTargetsByArrivalOrder() {
        var router = makeRouter(poolSize: 2)
        router.accept("a", home: 0)
        router.accept("x", home: 1)
        router.accept("b", home: 0)
        router.accept("y", home: 1)
        _ = router.setUp(0, false)
        #expect(router.queued(1) == ["a", "x", "b", "y"])
        let sequences = router.workers[1].queue.map(\.sequence)
        #expect(sequences == sequences.sorted())
    }

    @Test func goingDownWakesAnIdleTarget() {
        var router = makeRouter(poolSize: 2)
        _ = router.take(1)
        router.accept("a", home: 0)
        #expect(router.setUp(0, false).wake == [1])
        #expect(!router.workers[1].isIdle)
    }

    @Test func delegatedRequestsMoveOnWhenTheirHostGoesDown() {
        var router = makeRouter(poolSize: 3, up: [1, 2])
        router.accept("a", home: 0)  // → 1
        #expect(router.delegated == [1, 0, 0])
        _ = router.setUp(1, false)  // → 2, still delegated by 0
        #expect(router.queued(2) == ["a"])
        #expect(router.delegated == [1, 0, 0])
        _ = router.setUp(0, true)
        _ = router.setUp(2, false)  // → its home, no longer delegated
        #expect(router.queued(0) == ["a"])
        #expect(router.delegated == [0, 0, 0])
    }

    @Test func reportsUnplacedRequestsInOrderWhenNoConnectionIsUp() {
        var router = makeRouter(poolSize: 2, up: [1])
        router.accept("a", home: 0)
        router.accept("b", home: 1)
        router.accept("c", home: 0)
        #expect(router.outstanding == 3)
        let result = router.setUp(1, false)
        #expect(result.unplaced.map(\.item) == ["a", "b", "c"])
        #expect(result.wake.isEmpty)
        #expect(router.outstanding == 0)
        #expect(router.delegated == [0, 0])
        #expect(router.queued(1).isEmpty)
        #expect(router.connectionsUp == 0)
    }

    @Test func comingUpLeavesDelegatedRequestsWhereTheyAre() {
        var router = makeRouter(poolSize: 2, up: [1])
        router.accept("a", home: 0)
        let result = router.setUp(0, true)
        #expect(result.wake.isEmpty && result.unplaced.isEmpty)
        #expect(router.queued(1) == ["a"])
        #expect(router.queued(0).isEmpty)
        #expect(router.delegated == [1, 0])
        #expect(router.take(1).map(\.item) == ["a"], "and they still run there")
    }

    @Test func requeueMergesTakenRequestsBackByArrivalOrder() {
        var router = makeRouter(poolSize: 2)
        for item in ["a", "b", "c"] { router.accept(item, home: 0) }
        let taken = router.takeBatch(worker: 0, maxRequests: 2, maxBytes: 10, markIdle: true)
        router.accept("d", home: 0)
        let result = router.requeue(taken, from: 0)
        #expect(result.unplaced.isEmpty)
        #expect(router.queued(0) == ["a", "b", "c", "d"])
        #expect(router.outstanding == 4)
        #expect(router.delegated == [0, 0])
    }

    @Test func requeueFromADownWorkerMergesTakenAndQueuedIntoTheTarget() {
        // The pool's sequence when a batch breaks: mark down (moves the queue), then requeue the unsent batch.
        var router = makeRouter(poolSize: 2)
        for item in ["a", "b", "c"] { router.accept(item, home: 0) }
        router.accept("y", home: 1)
        let taken = router.takeBatch(worker: 0, maxRequests: 2, maxBytes: 10, markIdle: true)
        _ = router.setUp(0, false)
        #expect(router.queued(1) == ["c", "y"])
        let result = router.requeue(taken, from: 0)
        #expect(result.unplaced.isEmpty)
        #expect(router.queued(1) == ["a", "b", "c", "y"])
        #expect(router.delegated == [3, 0])
        #expect(router.outstanding == 4)
    }

    /// Moved requests are not put in front: an older request already on the target stays ahead of them.
    @Test func requeueDoesNotPutMovedRequestsAheadOfOlderOnesOnTheTarget() {
        var router = makeRouter(poolSize: 2)
        router.accept("y", home: 1)
        for item in ["a", "b", "c"] { router.accept(item, home: 0) }
        let taken = router.takeBatch(worker: 0, maxRequests: 2, maxBytes: 10, markIdle: true)
        _ = router.setUp(0, false)
        _ = router.requeue(taken, from: 0)
        #expect(router.queued(1) == ["y", "a", "b", "c"])
    }

    @Test func requeueWithoutAnyConnectionUpReportsEverythingUnplaced() {
        var router = makeRouter(poolSize: 2, up: [1])
        router.accept("a", home: 0)
        router.accept("b", home: 1)
        router.accept("c", home: 1)
        let taken = router.takeBatch(worker: 1, maxRequests: 2, maxBytes: 10, markIdle: true)
        let down = router.setUp(1, false)
        #expect(down.unplaced.map(\.item) == ["c"])
        let result = router.requeue(taken, from: 1)
        #expect(result.unplaced.map(\.item) == ["a", "b"])
        #expect(router.outstanding == 0)
        #expect(router.delegated == [0, 0])
    }

    @Test func requeueOfADelegatedRequestReturnsItToItsHomeOnceUp() {
        var router = makeRouter(poolSize: 2, up: [1])
        router.accept("a", home: 0)
        let taken = router.take(1)
        _ = router.setUp(0, true)
        router.accept("b", home: 0)
        #expect(router.take(0).isEmpty, "b waits for a")
        _ = router.setUp(1, false)
        let result = router.requeue(taken, from: 1)
        #expect(result.wake == [0])
        #expect(router.queued(0) == ["a", "b"])
        #expect(router.delegated == [0, 0])
        let batch = router.take(0)
        #expect(batch.map(\.item) == ["a", "b"])
    }

    @Test func requeueWakesEachTargetOnce() {
        var router = makeRouter(poolSize: 3)
        #expect(router.take(1).isEmpty)
        for item in ["a", "b", "c"] { router.accept(item, home: 0) }
        let taken = router.takeBatch(worker: 0, maxRequests: 1, maxBytes: 10, markIdle: true)
        let down = router.setUp(0, false)
        let again = router.requeue(taken, from: 0)
        #expect(down.wake + again.wake == [1], "woken once, by the first move")
        #expect(router.queued(1) == ["a", "b", "c"])
    }
}

@Suite("PoolRouter: removing queued requests")
struct PoolRouterRemoveQueuedTests {
    @Test func removedRequestsAreFinishedAndTheRestStillRun() {
        var router = PoolRouter<Int>(poolSize: 2, queueLimit: 100)
        _ = router.setUp(0, true)
        _ = router.setUp(1, true)
        for item in 0..<6 { _ = router.submit(item, home: item % 2, stateBytes: 0) }
        #expect(router.outstanding == 6)
        let removed = router.removeQueued(from: 0) { $0.item < 4 }
        #expect(removed.map(\.item) == [0, 2])
        #expect(router.outstanding == 4)
        let batch = router.takeBatch(worker: 0, maxRequests: 10, maxBytes: 1 << 20, markIdle: false)
        #expect(batch.map(\.item) == [4], "the request left behind runs; its older neighbours are gone")
        _ = router.finished(batch, on: 0)
        #expect(router.removeQueued(from: 0) { _ in true }.isEmpty)
        #expect(router.outstanding == 3)
    }
}
