import NIOCore
import PGStateProtocol
import Testing

/// Every file of `proto-spec/vectors/`: byte-exact encoding, decoding equality, and the right error status.
@Suite("Shared test vectors")
struct VectorTests {
    @Test func thereAreEnoughVectorsAndNamesAreUnique() {
        #expect(TestVector.all.count >= 30)
        #expect(Set(TestVector.all.map(\.name)).count == TestVector.all.count)
        #expect(!TestVector.invalid.isEmpty && !TestVector.incomplete.isEmpty)
    }

    @Test(arguments: TestVector.valid.filter { !$0.holdsInvalidItem })
    func validVectorEncodesByteExactly(_ vector: TestVector) {
        var buffer = ByteBuffer()
        switch vector.expectation {
        case .request(let frame): frame.encode(into: &buffer)
        case .response(let frame): frame.encode(into: &buffer)
        default: Issue.record("not a valid vector")
        }
        #expect(Array(buffer.readableBytesView) == vector.bytes)
    }

    @Test(arguments: TestVector.valid)
    func validVectorDecodesToItsFields(_ vector: TestVector) throws {
        var input = ByteBuffer(bytes: vector.bytes)
        var decoder = FrameDecoder(maxFrameBytes: vector.limits.maxFrameBytes)
        let frame = try #require(try decoder.decode(buffer: &input))
        #expect(input.readableBytes == 0)
        switch vector.expectation {
        case .request(let expected):
            #expect(Self.withoutItemMessages(try RequestFrame.decode(frame, limits: vector.limits)) == expected)
        case .response(let expected):
            #expect(try ResponseFrame.decode(frame) == expected)
        default:
            Issue.record("not a valid vector")
        }
    }

    @Test(arguments: TestVector.invalid)
    func invalidVectorFailsWithItsStatus(_ vector: TestVector) {
        guard case .error(let status, let requestID) = vector.expectation else { return }
        #expect(decodeError(vector) == ProtocolErrorSummary(status: status, requestID: requestID))
    }

    @Test(arguments: TestVector.incomplete)
    func incompleteVectorConsumesNothing(_ vector: TestVector) throws {
        var input = ByteBuffer(bytes: vector.bytes)
        var decoder = FrameDecoder(maxFrameBytes: vector.limits.maxFrameBytes)
        #expect(try decoder.decode(buffer: &input) == nil)
        #expect(input.readerIndex == 0)
    }

    /// A BULK_WRITE item's refusal message is the decoder's prose; the vector says only that the item is refused.
    static func withoutItemMessages(_ frame: RequestFrame) -> RequestFrame {
        guard case .bulkWrite(let items) = frame.request else { return frame }
        var copy = frame
        copy.request = .bulkWrite(items.map { if case .invalid = $0 { return .invalid("") }; return $0 })
        return copy
    }

    struct ProtocolErrorSummary: Equatable {
        var status: Status
        var requestID: UInt32
    }

    /// Runs a vector through framing then message decoding and returns the first error, if any.
    func decodeError(_ vector: TestVector) -> ProtocolErrorSummary? {
        var input = ByteBuffer(bytes: vector.bytes)
        var decoder = FrameDecoder(maxFrameBytes: vector.limits.maxFrameBytes)
        do {
            guard let frame = try decoder.decode(buffer: &input) else { return nil }
            if vector.isRequest {
                _ = try RequestFrame.decode(frame, limits: vector.limits)
            } else {
                _ = try ResponseFrame.decode(frame)
            }
            return nil
        } catch let error as ProtocolError {
            return ProtocolErrorSummary(status: error.status, requestID: error.requestID)
        } catch {
            return nil
        }
    }
}
