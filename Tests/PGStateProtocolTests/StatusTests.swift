import PGStateProtocol
import Testing

@Suite("Status table")
struct StatusTests {
    @Test func categoriesFollowTheHundreds() {
        #expect(Status.invalidArgument.category == .clientError)
        #expect(Status.unavailable.category == .retryable)
        #expect(Status.overloaded.category == .retryable)
        #expect(Status.shuttingDown.category == .retryable)
        #expect(Status.outcomeUnknown.category == .outcomeUnknown)
        #expect(Status.internalError.category == .internalError)
        // Unknown codes are classified by range, so new codes never break old clients.
        #expect(Status(rawValue: 199).category == .clientError)
        #expect(Status(rawValue: 250).category == .retryable)
        #expect(Status(rawValue: 0).category == .internalError)
    }

    @Test func exactlyTheFramingAndHandshakeErrorsClose() {
        let closing = Status.allDefined.filter { ProtocolError($0, requestID: 1, "").closesConnection }
        #expect(closing == [.malformedFrame, .frameTooLarge, .unsupportedVersion, .notAllowed])
    }

    @Test func namesAreUnique() {
        #expect(Set(Status.allDefined.map(\.name)).count == Status.allDefined.count)
    }
}
