import NIOConcurrencyHelpers
import NIOCore

/// The server's live client connections: enforces the connection limit and reaches every connection at shutdown.
final class ConnectionRegistry: Sendable {
    private struct State {
        var channels: [ObjectIdentifier: Channel] = [:]
        var accepting = true
        var requestsInFlight = 0
    }

    private let state = NIOLockedValueBox(State())
    let maxConnections: Int

    init(maxConnections: Int) {
        self.maxConnections = maxConnections
    }

    /// Registers a new connection; false when the limit is reached or the server is draining.
    func register(_ channel: Channel) -> Bool {
        state.withLockedValue { state in
            guard state.accepting, state.channels.count < maxConnections else { return false }
            state.channels[ObjectIdentifier(channel)] = channel
            return true
        }
    }

    func unregister(_ channel: Channel) {
        state.withLockedValue { _ = $0.channels.removeValue(forKey: ObjectIdentifier(channel)) }
    }

    func requestStarted() { state.withLockedValue { $0.requestsInFlight += 1 } }
    func requestFinished() { state.withLockedValue { $0.requestsInFlight -= 1 } }

    var count: Int { state.withLockedValue { $0.channels.count } }
    var requestsInFlight: Int { state.withLockedValue { $0.requestsInFlight } }

    /// Stops registering and returns the live connections.
    func closeRegistration() -> [Channel] {
        state.withLockedValue { state in
            state.accepting = false
            return Array(state.channels.values)
        }
    }
}
