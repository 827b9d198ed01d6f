import Testing

@testable import PGStateServer

@Suite("AnswerOrder: a connection's answers after a late multi-key one")
struct AnswerOrderTests {
    typealias Order = AnswerOrder<String>

    @Test func withoutAnOpenGatherEveryAnswerGoesAtOnce() {
        var order = Order()
        #expect(order.isIdle)
        #expect(order.ready(order: 1, homes: Homes(first: 0), closes: false, "a") == ["a"])
        #expect(order.isIdle)
    }

    @Test func anAnswerTouchingAnOpenGathersHomeWaitsForIt() {
        var order = Order()
        order.opened(order: 1, homes: Homes(first: 0, others: [2]))
        #expect(order.ready(order: 2, homes: Homes(first: 2), closes: false, "later on home 2") == [])
        #expect(order.ready(order: 3, homes: Homes(first: 1), closes: false, "other home") == ["other home"])
        #expect(order.ready(order: 1, homes: Homes(first: 0, others: [2]), closes: true, "gather")
                == ["gather", "later on home 2"])
        #expect(order.isIdle)
    }

    @Test func anEarlierAnswerIsNeverHeldByALaterGather() {
        var order = Order()
        order.opened(order: 5, homes: Homes(first: 0))
        #expect(order.ready(order: 4, homes: Homes(first: 0), closes: false, "earlier") == ["earlier"])
    }

    @Test func aWaitingAnswerHoldsLaterOnesOfItsHomes() {
        var order = Order()
        order.opened(order: 1, homes: Homes(first: 0))
        // 2 touches homes 0 and 1: it waits for 1; 3 on home 1 alone must then wait for 2, not overtake it.
        #expect(order.ready(order: 2, homes: Homes(first: 1, others: [0]), closes: false, "two homes") == [])
        #expect(order.ready(order: 3, homes: Homes(first: 1), closes: false, "home 1") == [])
        #expect(order.waitingCount == 2)
        #expect(order.ready(order: 1, homes: Homes(first: 0), closes: true, "gather") == ["gather", "two homes", "home 1"])
    }

    @Test func gathersAnsweringOutOfOrderAreReleasedInOrder() {
        var order = Order()
        order.opened(order: 1, homes: Homes(first: 0, others: [1]))
        order.opened(order: 2, homes: Homes(first: 1))
        #expect(order.ready(order: 2, homes: Homes(first: 1), closes: true, "second") == [], "waits for the first")
        #expect(order.ready(order: 1, homes: Homes(first: 0, others: [1]), closes: true, "first") == ["first", "second"])
        #expect(order.isIdle)
    }

    @Test func homesIntersect() {
        #expect(Homes(first: 1).intersects(Homes(first: 1)))
        #expect(Homes(first: 1, others: [3]).intersects(Homes(first: 2, others: [3])))
        #expect(Homes(first: 1).intersects(Homes(first: 2, others: [1])))
        #expect(!Homes(first: 1, others: [4]).intersects(Homes(first: 2, others: [3])))
    }
}
