import CPGStateSys
import Glibc
import Logging
import NIOCore
import PGStateProtocol
import PGStateStore

/// The client side of a reactor: adopting connections, reading requests, queueing answers, writing output.
extension Reactor {
    /// Takes a connected client socket (non-blocking), admitted by the listener, into this reactor.
    func adopt(_ admission: Admission) {
        let descriptor = admission.descriptor
        if isDraining {
            Glibc.close(descriptor)
            admission.release()
            shared.releaseConnection()
            return
        }
        let slot: Int
        if let free = freeSlots.popLast() {
            slot = free
        } else {
            slot = clients.count
            clients.append(nil)
        }
        lastGeneration &+= 1
        let machine = ClientConnectionStateMachine(limits: configuration.limits,
                                                   serverVersion: configuration.serverVersion,
                                                   connectionLimits: configuration.connectionLimits,
                                                   access: admission.access)
        let client = ClientConnection(descriptor: descriptor, slot: slot, generation: lastGeneration,
                                      machine: machine, registered: [.input, .readHangUp], budget: admission.budget,
                                      connectionID: shared.lastConnectionID.add(1, ordering: .relaxed).newValue,
                                      connectedAt: unixMilliseconds())
        do {
            try epoll.add(descriptor, client.registered, client.token)
        } catch {
            logger.warning("cannot watch a client socket: \(error)")
            Glibc.close(descriptor)
            admission.release()
            shared.releaseConnection()
            freeSlots.append(slot)
            return
        }
        clients[slot] = client
        handle.clients.add(1, ordering: .relaxed)
        handshakeDeadlines.append((monotonicMilliseconds() + configuration.handshakeTimeoutMilliseconds,
                                   slot, client.generation))
        if logger.logLevel <= .debug {
            logger.debug("client connected", metadata: [
                "peer": "\(admission.access.identity)",
                "namespace": "\(admission.access.grant.map { "\($0.namespace)" } ?? "none: refused at HELLO")"])
        }
    }

    func clientEvent(slot: Int, generation: UInt32, _ events: Epoll.Events) {
        // A slot closed earlier in this batch (and perhaps reused) is not the connection the event was for.
        guard slot < clients.count, let client = clients[slot], client.generation == generation else { return }
        if !events.isDisjoint(with: [.error, .hangUp]) && !events.contains(.input) {
            close(client, reason: "the connection failed")
            return
        }
        if events.contains(.output) {
            touch(client)
        }
        if !events.isDisjoint(with: [.input, .readHangUp, .hangUp]) {
            read(client)
            if events.contains(.hangUp) && client.machine.state != .closed && client.machine.state != .outputClosed {
                // Both directions are gone: nobody is left to answer.
                close(client, reason: "the client closed the connection")
            }
        }
    }

    /// Reads while the machine wants input, at most a few chunks per pass so that one client cannot hold the
    /// reactor; level-triggered epoll reports the rest next pass.
    private func read(_ client: ClientConnection) {
        var reads = 0
        reading: while client.machine.wantsInput && reads < 4 {
            switch client.read(using: readScratch) {
            case .data(let filled):
                reads += 1
                if client.machine.state == .outputClosed {
                    client.discardInput()
                } else {
                    takeFrames(client)
                }
                guard client.machine.state != .closed else { return }
                // A short read emptied the socket: do not spend a read(2) to learn EAGAIN (level-triggered epoll
                // reports whatever arrives later).
                if !filled { break reading }
            case .wouldBlock:
                touch(client)
                return
            case .endOfInput:
                touch(client)
                perform(client.machine.inputClosed(), on: client)
                if client.machine.state != .closed { takeFrames(client) }
                return
            case .failed(let code):
                close(client, reason: "read failed: \(String(cString: strerror(code)))")
                return
            }
        }
        touch(client)
    }

    /// Takes the buffered complete frames the machine allows.
    func takeFrames(_ client: ClientConnection) {
        while client.machine.mayTakeFrame && client.machine.state != .closed {
            let frame: Frame?
            do {
                frame = try client.nextFrame()
            } catch let error as ProtocolError {
                audit(.info, "protocol error from client: \(error)", identity: client.machine.access.identity,
                      rule: nil)
                let action = client.machine.protocolError(error)
                countImmediate(action, .unknown, for: client)
                perform(action, on: client)
                return
            } catch {
                preconditionFailure("frame decoder threw \(error)")
            }
            guard let frame else {
                // A partial frame left when the client has ended its input can never complete: drop it.
                if client.machine.inputEnded { client.discardInput() }
                break
            }
            let action = client.machine.frameReceived(frame)
            countImmediate(action, ReactorMetrics.Operation(frame.type), for: client)
            perform(action, on: client)
            if client.inHandshake && client.machine.state == .ready { client.finishHandshake() }
        }
        if client.machine.state == .outputClosed { client.discardInput() }
        client.releaseInputIfEmpty()
    }

    func perform(_ action: ClientConnectionStateMachine.Action, on client: ClientConnection) {
        switch action {
        case .none:
            break
        case .send(let frame):
            client.queue(frame)
            touch(client)
        case .sendAndClose(let frame):
            client.queue(frame)
            _ = client.write()
            close(client, reason: "closed after a protocol error")
        case .sendAndCloseOutput(let notice):
            client.queue(notice)
            closeOutputWhenWritten(client)
        case .sendAnswerAndCloseOutput(let answer, let notice):
            client.queue(answer)
            client.queue(notice)
            closeOutputWhenWritten(client)
        case .execute(let requestID, let request, let namespace):
            execute(requestID: requestID, request, in: namespace, for: client)
        case .operate(let requestID, let request):
            operate(requestID: requestID, request, for: client)
        case .deny(let frame, let closes):
            if case .error(let error) = frame.response {
                audit(.notice, "denied: \(error.message)", identity: client.machine.access.identity,
                      rule: client.machine.access.grant?.rule)
            }
            client.queue(frame)
            if closes {
                metrics.refused(.permissionDenied)
                _ = client.write()
                close(client, reason: "refused at HELLO")
            } else {
                touch(client)
            }
        case .close:
            close(client, reason: "closed")
        }
    }

    private func closeOutputWhenWritten(_ client: ClientConnection) {
        touch(client)
        let deadline = monotonicMilliseconds() + configuration.closeGracePeriodMilliseconds
        graceDeadlines.append((deadline, client.slot, client.generation))
    }

    private func execute(requestID: UInt32, _ request: Request, in namespace: Namespace,
                         for client: ClientConnection) {
        precondition(request.isStoreRequest, "\(request.type) is answered by the connection itself")
        let kind = ReactorMetrics.Operation(request.type)
        let namespaceSlot = namespace == client.machine.access.grant?.namespace
            ? self.namespaceSlot(of: client) : metrics.slot(for: namespace.value, labels: shared.namespaceLabels)
        func refuse(_ error: ErrorResponse) {
            metrics.count(kind, ReactorMetrics.Outcome(error.status), namespaceSlot: namespaceSlot)
            client.requestsAnswered &+= 1
            perform(client.machine.answered(ResponseFrame(requestID: requestID, response: .error(error))), on: client)
        }
        // The identity's limit of requests executing at once, across all its connections and reactors.
        var budget: IdentityBudget?
        if let limit = client.machine.access.grant?.limits.inFlight {
            guard IdentityBudget.take(client.budget.inFlight, limit: limit) else {
                refuse(ErrorResponse(
                    status: .overloaded,
                    message: "\(client.machine.access.identity) has \(limit) requests in flight, the limit of its access rule; the request was not executed"))
                return
            }
            budget = client.budget
        }
        // Same (namespace, id) → same id → same home connection, which keeps their order; ids alone spread well.
        let received = monotonicMicroseconds()
        client.storeRequests &+= 1
        let order = client.storeRequests
        func pending(_ part: StorePart) -> PendingRequest {
            PendingRequest(client: client.slot, generation: client.generation, requestID: requestID,
                           operation: part.operation, budget: budget, received: received, kind: kind,
                           namespaceSlot: namespaceSlot, order: order,
                           homes: Homes(first: part.home, others: part.otherHomes))
        }
        switch StorePlan(request, in: namespace, poolSize: databases.count) {
        case .single(let part):
            if case .failure(let refusal) = submit(part, pending(part)) {
                budget?.inFlight.subtract(1, ordering: .relaxed)
                refuse(Self.refusal(refusal.refusal))
            }
        case .answered(let response):
            budget?.inFlight.subtract(1, ordering: .relaxed)
            metrics.count(kind, ReactorMetrics.Outcome(response), namespaceSlot: namespaceSlot)
            client.requestsAnswered &+= 1
            perform(client.machine.answered(ResponseFrame(requestID: requestID, response: response)), on: client)
        case .gathered(let parts, let gather):
            // The request answers once, when its last part has; the parts carry no budget of their own.
            let slot = freeGathers.popLast() ?? { gathers.append(nil); return gathers.count - 1 }()
            var request = pending(parts[0])
            var homes = Set(parts.map(\.home))
            homes.remove(parts[0].home)
            request.homes = Homes(first: parts[0].home, others: Array(homes))
            request.closesGather = true
            client.answerOrder.opened(order: order, homes: request.homes)
            gathers[slot] = GatherSlot(request: request, gather: gather)
            for (index, part) in parts.enumerated() {
                var entry = pending(part)
                entry.budget = nil
                entry.gather = slot
                entry.part = index
                if case .failure(let refusal) = submit(part, entry) {
                    gathered(entry, .error(Self.refusal(refusal.refusal)))
                }
            }
        }
    }

    private func submit(_ part: StorePart, _ pending: PendingRequest) -> Result<Int?, PoolRouter<PendingRequest>.RefusalError> {
        router.submit(pending, home: part.home, otherHomes: part.otherHomes, alone: part.alone,
                      stateBytes: part.operation.stateBytes)
    }

    /// A part of a multi-key request answered: once all have, the request is answered as one.
    private func gathered(_ part: PendingRequest, _ response: Response, sentAt: Int64 = 0, batchSize: Int = 0) {
        guard var slot = gathers[part.gather] else { preconditionFailure("an answer for a finished gather") }
        let answer = slot.gather.received(part: part.part, response, maxFrameBytes: configuration.limits.maxFrameBytes)
        guard let answer else {
            gathers[part.gather] = slot
            return
        }
        gathers[part.gather] = nil
        freeGathers.append(part.gather)
        deliver(slot.request, answer, sentAt: sentAt, batchSize: batchSize)
    }

    static func refusal(_ refusal: PoolRouter<PendingRequest>.Refusal) -> ErrorResponse {
        switch refusal {
        case .unavailable:
            return ErrorResponse(status: .unavailable, message: "no database connection is up; the request was not executed")
        case .overloaded:
            return ErrorResponse(status: .overloaded, message: "the request queue is full; the request was not executed")
        case .shuttingDown:
            return ErrorResponse(status: .shuttingDown, message: "pgstated is shutting down; the request was not executed")
        }
    }

    /// An answer from the database for a request; dropped if its client has gone. `sentAt` and `batchSize`
    /// describe the batch that answered it, for the slow-request log.
    func deliver(_ request: PendingRequest, _ response: Response, sentAt: Int64 = 0, batchSize: Int = 0) {
        if request.gather >= 0 {
            gathered(request, response, sentAt: sentAt, batchSize: batchSize)
            return
        }
        request.budget?.inFlight.subtract(1, ordering: .relaxed)
        let now = monotonicMicroseconds()
        metrics.recordDuration(request.kind, microseconds: now - request.received)
        metrics.count(request.kind, ReactorMetrics.Outcome(response), namespaceSlot: request.namespaceSlot)
        guard request.client < clients.count, let client = clients[request.client],
              client.generation == request.generation else { return }
        let held = HeldAnswer(request: request, response: response, sentAt: sentAt, batchSize: batchSize, answeredAt: now)
        guard client.answerOrder.isIdle && !request.closesGather else {
            for answer in client.answerOrder.ready(order: request.order, homes: request.homes,
                                                   closes: request.closesGather, held) {
                answerClient(client, answer)
            }
            return
        }
        answerClient(client, held)
    }

    /// Queues one store answer on its connection.
    private func answerClient(_ client: ClientConnection, _ held: HeldAnswer) {
        let (request, response, now, sentAt, batchSize) = (held.request, held.response, held.answeredAt, held.sentAt,
                                                           held.batchSize)
        client.requestsAnswered &+= 1
        let queuedBefore = client.bytesQueued
        perform(client.machine.answered(ResponseFrame(requestID: request.requestID, response: response)), on: client)
        if configuration.slowRequestMicroseconds != nil {
            watchAnswer(request, client: client, queuedBefore: queuedBefore, answeredAt: now, sentAt: sentAt,
                        batchSize: batchSize)
        }
    }

    /// Counts an answer the connection gave by itself (PING, WHOAMI, HELLO, a refusal, a protocol error).
    private func countImmediate(_ action: ClientConnectionStateMachine.Action, _ operation: ReactorMetrics.Operation,
                                for client: ClientConnection) {
        switch action {
        case .send(let frame), .sendAndClose(let frame), .deny(let frame, _):
            count(operation, frame.response, for: client)
        case .none, .sendAndCloseOutput, .sendAnswerAndCloseOutput, .execute, .operate, .close:
            break
        }
    }

    /// Counts one answer to `client` under its own namespace.
    func count(_ operation: ReactorMetrics.Operation, _ response: Response, for client: ClientConnection) {
        client.requestsAnswered &+= 1
        metrics.count(operation, ReactorMetrics.Outcome(response), namespaceSlot: namespaceSlot(of: client))
    }

    /// The metrics slot of the connection's own namespace (the shared one without a grant).
    func namespaceSlot(of client: ClientConnection) -> Int {
        if let slot = client.namespaceSlot { return slot }
        let slot = metrics.slot(for: client.machine.access.grant?.namespace.value ?? "",
                                labels: shared.namespaceLabels)
        client.namespaceSlot = slot
        return slot
    }

    func touch(_ client: ClientConnection) {
        if !client.isDirty {
            client.isDirty = true
            touched.append(client)
        }
    }

    /// The end of a pass for one client: write its output once, then watch what it now waits for.
    func finishPass(_ client: ClientConnection) {
        if client.output.readableBytes > 0 {
            switch client.write() {
            case .complete, .partial:
                break
            case .failed(let code):
                close(client, reason: "write failed: \(String(cString: strerror(code)))")
                return
            }
        }
        if !client.slowWatch.isEmpty { answersWritten(client) }
        let flushed = client.output.readableBytes == 0
        if flushed && client.machine.state == .outputClosed && !client.outputShut {
            // The closing notice is out: close our side, keep reading (and dropping) until the client closes.
            client.outputShut = true
            if client.machine.inputEnded || shutdown(client.descriptor, Int32(SHUT_WR)) != 0 {
                close(client, reason: "closed after the closing notice")
                return
            }
        }
        if flushed && client.machine.isFinished && !client.hasBufferedInputFrames {
            close(client, reason: client.machine.state == .outputClosed ? "closed after the closing notice"
                                                                          : "the client closed its side")
            return
        }
        // Level-triggered: watch input only while it will be read, or a client we do not read (or one that has
        // half-closed) would report itself ready on every pass. A full close still shows as a hang-up.
        var wanted: Epoll.Events = client.machine.wantsInput ? [.input, .readHangUp] : []
        if !flushed { wanted.insert(.output) }
        if wanted != client.registered {
            client.registered = wanted
            epoll.modify(client.descriptor, wanted, client.token)
        }
    }

    func close(_ client: ClientConnection, reason: String) {
        guard clients[client.slot] === client else { return }
        client.machine.closed()
        epoll.remove(client.descriptor)
        Glibc.close(client.descriptor)
        clients[client.slot] = nil
        freeSlots.append(client.slot)
        handle.clients.subtract(1, ordering: .relaxed)
        shared.releaseConnection()
        client.releaseBudget()
        logger.debug("client disconnected", metadata: ["reason": "\(reason)"])
    }
}

extension ClientConnection {
    /// Whether frames remain buffered that the client sent before ending its input (they still get answers).
    var hasBufferedInputFrames: Bool { hasBufferedInput && machine.state != .outputClosed }
}
