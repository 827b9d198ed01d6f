import NIOCore
import NIOEmbedded
import Testing

@testable import PGStateServer

@Suite("ConnectionRegistry")
struct ConnectionRegistryTests {
    @Test func enforcesTheLimitAndFreesSlotsOnUnregister() {
        let registry = ConnectionRegistry(maxConnections: 2)
        let channels = (0..<3).map { _ in EmbeddedChannel() }
        #expect(registry.register(channels[0]))
        #expect(registry.register(channels[1]))
        #expect(!registry.register(channels[2]))
        #expect(registry.count == 2)
        registry.unregister(channels[0])
        #expect(registry.count == 1)
        #expect(registry.register(channels[2]))
        #expect(registry.count == 2)
        registry.unregister(channels[0])  // twice: no effect
        #expect(registry.count == 2)
    }

    @Test func zeroConnectionsRefusesEveryone() {
        let registry = ConnectionRegistry(maxConnections: 0)
        #expect(!registry.register(EmbeddedChannel()))
        #expect(registry.count == 0)
    }

    @Test func closeRegistrationReturnsTheLiveConnectionsAndRefusesNewOnes() {
        let registry = ConnectionRegistry(maxConnections: 10)
        let a = EmbeddedChannel()
        let b = EmbeddedChannel()
        #expect(registry.register(a))
        #expect(registry.register(b))
        registry.unregister(b)
        let live = registry.closeRegistration()
        #expect(live.count == 1)
        #expect(live.first === a)
        #expect(!registry.register(EmbeddedChannel()), "draining")
        #expect(registry.count == 1, "live connections stay until they close")
    }

    @Test func countsRequestsInFlight() {
        let registry = ConnectionRegistry(maxConnections: 1)
        registry.requestStarted()
        registry.requestStarted()
        #expect(registry.requestsInFlight == 2)
        registry.requestFinished()
        #expect(registry.requestsInFlight == 1)
    }
}
