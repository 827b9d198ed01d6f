import NIOCore
import NIOTestUtils
import PGStateProtocol
import Testing

@Suite("Frame decoder")
struct FrameDecoderTests {
    /// Feeds every valid vector one byte at a time, all at once, and in between (NIO's verifier).
    @Test func decodesEveryValidVectorWhateverTheChunking() throws {
        let pairs = TestVector.valid.map { vector -> (ByteBuffer, [Frame]) in
            var input = ByteBuffer(bytes: vector.bytes)
            var decoder = FrameDecoder()
            let frame = try! decoder.decode(buffer: &input)!
            return (ByteBuffer(bytes: vector.bytes), [frame])
        }
        try ByteToMessageDecoderVerifier.verifyDecoder(inputOutputPairs: pairs) { FrameDecoder() }
    }

    @Test func decodesBackToBackFramesFromOneBuffer() throws {
        var input = ByteBuffer()
        for id in 1...100 as ClosedRange<UInt32> {
            RequestFrame(requestID: id, request: .ping).encode(into: &input)
        }
        var decoder = FrameDecoder()
        var ids: [UInt32] = []
        while let frame = try decoder.decode(buffer: &input) { ids.append(frame.requestID) }
        #expect(ids == Array(1...100))
    }

    /// The length is judged before the body arrives: a huge announced frame is refused at once.
    @Test func refusesAnOversizedLengthBeforeBufferingTheBody() {
        var input = ByteBuffer()
        input.writeInteger(UInt32(ProtocolLimits.default.maxFrameBytes + 1))
        var decoder = FrameDecoder()
        #expect(throws: ProtocolError.self) { try decoder.decode(buffer: &input) }
        do {
            _ = try decoder.decode(buffer: &input)
        } catch let error as ProtocolError {
            #expect(error.status == .frameTooLarge)
            #expect(error.closesConnection)
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func acceptsAFrameOfExactlyTheMaximum() throws {
        let limits = ProtocolLimits(maxStateBytes: 100)
        var input = ByteBuffer()
        let id = try PersistenceID("k")
        let overhead = 1 + 1 + 8 + 4 + Frame.headerBytes
        let state = ByteBuffer(repeating: 0xAB, count: limits.maxFrameBytes - overhead)
        RequestFrame(requestID: 1, request: .upsert(Upsert(persistenceID: id, expectedRevision: 0, state: state)))
            .encode(into: &input)
        var decoder = FrameDecoder(maxFrameBytes: limits.maxFrameBytes)
        let frame = try #require(try decoder.decode(buffer: &input))
        #expect(frame.payload.readableBytes == limits.maxFrameBytes - Frame.headerBytes)
        // The frame fits, but its state is over the state limit: an argument error, not a framing error.
        #expect(throws: ProtocolError(.invalidArgument, requestID: 1,
                                      "UPSERT: state is \(state.readableBytes) bytes, more than the limit of 100")) {
            try RequestFrame.decode(frame, limits: limits)
        }
    }
}
