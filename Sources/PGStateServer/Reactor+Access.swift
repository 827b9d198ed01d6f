import CPGStateSys
import Glibc
import Logging
import NIOCore
import PGStateProtocol

/// Admission (on the listening reactor) and audit (on every reactor): who a new connection is, what the rules
/// grant it, whether its identity's budget has room, and rate-limited log lines about refusals.
extension Reactor {
    enum AdmissionOutcome {
        case admitted(Admission)
        /// Refused before HELLO: one ERROR 201 OVERLOADED with request id 0, then close.
        case refused(message: String, identity: PeerIdentity, reason: ReactorMetrics.Refusal)
    }

    /// Reads the peer's credentials, matches the rules, and takes the identity's connection and handshake
    /// budget. Runs on the listening reactor only (it owns the user name cache).
    func admit(_ descriptor: Int32) -> AdmissionOutcome {
        guard var identity = PeerIdentity.read(from: descriptor) else {
            return .refused(message: "the peer's credentials cannot be read",
                            identity: PeerIdentity(uid: UInt32.max, gid: UInt32.max, pid: 0), reason: .permissionDenied)
        }
        identity.userName = userName(of: identity.uid)
        let grant = shared.policy.withLock { $0 }.grant(for: identity)
        let budget = shared.budgets.budget(for: identity.uid)
        guard IdentityBudget.take(budget.handshakes, limit: configuration.maxHandshakesPerPeer) else {
            return .refused(message: "\(identity) already has \(configuration.maxHandshakesPerPeer) connections in the handshake; try again later",
                            identity: identity, reason: .handshakeLimit)
        }
        guard IdentityBudget.take(budget.connections, limit: grant?.limits.connections) else {
            budget.handshakes.subtract(1, ordering: .relaxed)
            return .refused(message: "\(identity) has reached the connection limit of its access rule (\(grant?.limits.connections ?? 0), \(grant?.rule ?? "")); try again later",
                            identity: identity, reason: .identityLimit)
        }
        return .admitted(Admission(descriptor: descriptor,
                                   access: ClientConnectionStateMachine.Access(identity: identity, grant: grant),
                                   budget: budget))
    }

    /// The user name of `uid`, from NSS once per uid and rule generation (a reload forgets the cache, so a
    /// renamed user is seen after it).
    private func userName(of uid: UInt32) -> String? {
        let generation = shared.policyGeneration.load(ordering: .relaxed)
        if generation != userNamesGeneration {
            userNames.removeAll()
            userNamesGeneration = generation
        }
        if let cached = userNames[uid] { return cached }
        let name = configuration.names.userName(uid)
        if userNames.count >= 4096 { userNames.removeAll() }  // bounded: uids are few, but never trust that
        userNames[uid] = name
        return name
    }

    /// A log line about something a peer did (a refusal, a denied request, a protocol error), at most a few per
    /// peer and window; the rest are counted and summarised.
    func audit(_ level: Logger.Level, _ message: @autoclosure () -> String, identity: PeerIdentity, rule: String?) {
        let (log, summary) = auditLimiter.admit(identity.uid, now: monotonicMilliseconds())
        if let summary { logSummary(summary) }
        guard log else { return }
        var metadata: Logger.Metadata = ["uid": "\(identity.uid)", "pid": "\(identity.pid)"]
        if let user = identity.userName { metadata["user"] = "\(user)" }
        if let rule { metadata["rule"] = "\(rule.isEmpty ? "none (no access file)" : rule)" }
        logger.log(level: level, "\(message())", metadata: metadata)
    }

    /// Summaries of audit windows that ended (called from the timers).
    func flushAuditSummaries(now: Int64) {
        for summary in auditLimiter.expired(now: now) { logSummary(summary) }
    }

    private func logSummary(_ summary: LogRateLimiter.Summary) {
        logger.notice("suppressed \(summary.suppressed) similar log lines about uid \(summary.uid) in the last \(summary.milliseconds / 1000) s",
                      metadata: ["uid": "\(summary.uid)"])
    }

    /// Sends one ERROR with request id 0 to a socket that is not (or no longer) a client, then closes it.
    func refuse(_ descriptor: Int32, _ status: Status, _ message: String) {
        var frame = ByteBuffer()
        ResponseFrame(requestID: 0, response: .error(ErrorResponse(status: status, message: message)))
            .encode(into: &frame)
        frame.withUnsafeReadableBytes { bytes in
            _ = pgstate_send(descriptor, bytes.baseAddress, UInt(bytes.count))
        }
        Glibc.close(descriptor)
    }

    /// Connections that have not completed HELLO in time: ERROR 105 with request id 0, then close.
    func expireHandshakes(now: Int64) {
        while handshakeHead < handshakeDeadlines.count, handshakeDeadlines[handshakeHead].deadline <= now {
            let (_, slot, generation) = handshakeDeadlines[handshakeHead]
            handshakeHead += 1
            guard slot < clients.count, let client = clients[slot], client.generation == generation,
                  client.inHandshake else { continue }
            audit(.notice, "closing a connection that sent no HELLO within \(configuration.handshakeTimeoutMilliseconds) ms",
                  identity: client.machine.access.identity, rule: client.machine.access.grant?.rule)
            client.queue(ResponseFrame(requestID: 0, response: .error(ErrorResponse(
                status: .notAllowed, message: "no HELLO within \(configuration.handshakeTimeoutMilliseconds) ms"))))
            _ = client.write()
            metrics.refused(.handshakeTimeout)
            close(client, reason: "handshake timeout")
        }
        if handshakeHead > 0 && handshakeHead == handshakeDeadlines.count {
            handshakeDeadlines.removeAll(keepingCapacity: true)
            handshakeHead = 0
        }
    }
}
