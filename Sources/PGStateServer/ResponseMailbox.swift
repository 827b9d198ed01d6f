import NIOConcurrencyHelpers
import NIOCore
import PGStateProtocol

/// Carries store responses from pool threads to one event loop in bulk.
///
/// A pool connection answers a whole batch at once. Posting each response with its own `eventLoop.execute` would
/// wake the loop (an `eventfd` write and an `epoll` return) and flush the socket once per response; the mailbox
/// schedules one task for everything posted until it runs, and that task flushes each connection once.
final class ResponseMailbox: Sendable {
    struct Delivery: Sendable {
        var handler: NIOLoopBound<ClientConnectionHandler>
        var requestID: UInt32
        var response: Response
    }

    private struct State {
        var deliveries: [Delivery] = []
        var isScheduled = false
    }

    let eventLoop: EventLoop
    private let state = NIOLockedValueBox(State())

    init(eventLoop: EventLoop) {
        self.eventLoop = eventLoop
    }

    /// Called from any thread.
    func post(_ delivery: Delivery) {
        let schedule = state.withLockedValue { state -> Bool in
            state.deliveries.append(delivery)
            defer { state.isScheduled = true }
            return !state.isScheduled
        }
        if schedule {
            eventLoop.execute { self.deliver() }
        }
    }

    private func deliver() {
        let deliveries = state.withLockedValue { state -> [Delivery] in
            state.isScheduled = false
            defer { state.deliveries.removeAll(keepingCapacity: true) }
            return state.deliveries
        }
        var toFlush: [ObjectIdentifier: ClientConnectionHandler] = [:]
        for delivery in deliveries {
            let handler = delivery.handler.value
            if handler.answer(requestID: delivery.requestID, delivery.response) {
                toFlush[ObjectIdentifier(handler)] = handler
            }
        }
        for handler in toFlush.values { handler.flushAnswers() }
    }
}

/// One mailbox per event loop of the server's group.
final class ResponseMailboxes: Sendable {
    private let mailboxes: [ObjectIdentifier: ResponseMailbox]

    init(group: EventLoopGroup) {
        var mailboxes: [ObjectIdentifier: ResponseMailbox] = [:]
        for eventLoop in group.makeIterator() {
            mailboxes[ObjectIdentifier(eventLoop)] = ResponseMailbox(eventLoop: eventLoop)
        }
        self.mailboxes = mailboxes
    }

    func mailbox(for eventLoop: EventLoop) -> ResponseMailbox {
        // A loop outside the group (an EmbeddedEventLoop in tests) gets a mailbox of its own.
        mailboxes[ObjectIdentifier(eventLoop)] ?? ResponseMailbox(eventLoop: eventLoop)
    }
}
