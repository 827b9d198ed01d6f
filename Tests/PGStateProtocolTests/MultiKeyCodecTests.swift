import NIOCore
import PGStateProtocol
import Testing

private func pid(_ text: String) -> PersistenceID { try! PersistenceID(text) }

private func frame(_ bytes: ByteBuffer) throws -> Frame {
    var input = bytes
    var decoder = FrameDecoder()
    return try decoder.decode(buffer: &input)!
}

private func roundTrip(_ request: RequestFrame, limits: ProtocolLimits = .default) throws -> RequestFrame {
    var buffer = ByteBuffer()
    request.encode(into: &buffer)
    return try RequestFrame.decode(try frame(buffer), limits: limits)
}

/// A frame of `type` with `payload` built by hand, for what an encoder of this project never writes.
private func raw(_ type: MessageType, flags: UInt8 = 0, id: UInt32 = 9, _ payload: (inout ByteBuffer) -> Void) -> ByteBuffer {
    var body = ByteBuffer()
    payload(&body)
    var buffer = ByteBuffer()
    buffer.writeInteger(UInt32(6 + body.readableBytes))
    buffer.writeInteger(type.rawValue)
    buffer.writeInteger(flags)
    buffer.writeInteger(id)
    buffer.writeBuffer(&body)
    return buffer
}

private func decodeError(_ bytes: ByteBuffer, limits: ProtocolLimits = .default) -> ProtocolError? {
    do {
        _ = try RequestFrame.decode(try frame(bytes), limits: limits)
        return nil
    } catch let error as ProtocolError {
        return error
    } catch {
        return nil
    }
}

@Suite("Multi-key requests and TTL: codec and argument rules")
struct MultiKeyCodecTests {
    @Test func requestsRoundTrip() throws {
        let items: [WriteItem] = [
            .upsert(Upsert(persistenceID: pid("a"), expectedRevision: 0, state: ByteBuffer(bytes: [1, 2]), ttlSeconds: 60)),
            .delete(Delete(persistenceID: pid("b"), expectedRevision: 3)),
            .delete(Delete(persistenceID: pid("c"))),
        ]
        let namespace = try Namespace("billing")
        for request in [
            RequestFrame(requestID: 1, request: .bulkLoad([pid("a"), pid("b"), pid("a")])),
            RequestFrame(requestID: 2, request: .bulkWrite(items.map { .valid($0) }), namespace: namespace),
            RequestFrame(requestID: 3, request: .transact(items)),
            RequestFrame(requestID: 4, request: .list(ListRequest(prefix: "", limit: 10))),
            RequestFrame(requestID: 5, request: .list(ListRequest(prefix: "ord", after: pid("ord-9"), limit: 1000)),
                         namespace: namespace),
            RequestFrame(requestID: 6, request: .upsert(Upsert(persistenceID: pid("t"), expectedRevision: 2,
                                                               state: ByteBuffer(), ttlSeconds: 1))),
        ] {
            #expect(try roundTrip(request) == request)
        }
    }

    @Test func responsesRoundTrip() throws {
        let record = Record(revision: 3, updatedAtMicroseconds: -5, state: ByteBuffer(bytes: [7]))
        for response: Response in [
            .records([.found(record), .absent, .omitted]),
            .outcomes([.written(revision: 1, updatedAtMicroseconds: 9), .deleted,
                       .conflict(Conflict(expectedRevision: 2, actualRevision: 0)),
                       .failed(ErrorResponse(status: .invalidArgument, message: "item 3: bad"))]),
            .transactConflict([TransactConflictItem(index: 4, conflict: Conflict(expectedRevision: 1, actualRevision: 2))]),
            .listOK(ListPage(more: true, entries: [ListPage.Entry(persistenceID: "k", revision: 1, updatedAtMicroseconds: 2)])),
            .listOK(ListPage(more: false, entries: [])),
        ] {
            var buffer = ByteBuffer()
            ResponseFrame(requestID: 8, response: response).encode(into: &buffer)
            #expect(try ResponseFrame.decode(try frame(buffer)).response == response)
        }
    }

    @Test func helloOKCarriesTheBatchLimitsOnlyWithMultiKey() throws {
        var limits = ProtocolLimits.default
        limits.maxBatchItems = 7
        limits.maxBatchBytes = 99
        for capabilities: Capabilities in [[.conditionalDelete], [.multiKey, .ttl]] {
            let hello = HelloOK(version: 1, serverVersion: "x", limits: limits, capabilities: capabilities)
            var buffer = ByteBuffer()
            ResponseFrame(requestID: 1, response: .helloOK(hello)).encode(into: &buffer)
            #expect(buffer.readableBytes == 4 + 6 + 2 + 2 + 4 + 2 + 4 + 4 + 4 + (capabilities.contains(.multiKey) ? 8 : 0))
            guard case .helloOK(let decoded) = try ResponseFrame.decode(try frame(buffer)).response else {
                Issue.record("not HELLO_OK"); continue
            }
            #expect(decoded.limits.maxBatchItems == (capabilities.contains(.multiKey) ? 7 : ProtocolLimits.defaultMaxBatchItems))
        }
    }

    @Test func requestWideRulesAreInvalidArguments() {
        var small = ProtocolLimits.default
        small.maxBatchItems = 2
        small.maxBatchBytes = 3
        let empty = raw(.bulkLoad) { $0.writeInteger(UInt16(0)) }
        #expect(decodeError(empty)?.status == .invalidArgument)
        let three = raw(.bulkLoad) { buffer in
            buffer.writeInteger(UInt16(3))
            for id in ["a", "b", "c"] { buffer.writeInteger(UInt8(1)); buffer.writeString(id) }
        }
        #expect(decodeError(three, limits: small)?.status == .invalidArgument)
        #expect(decodeError(three) == nil)
        var buffer = ByteBuffer()
        RequestFrame(requestID: 3, request: .transact([
            .upsert(Upsert(persistenceID: pid("a"), expectedRevision: 0, state: ByteBuffer(bytes: [1, 2, 3, 4]))),
        ])).encode(into: &buffer)
        #expect(decodeError(buffer, limits: small)?.message.contains("max_batch_bytes") == true)
        buffer.clear()
        RequestFrame(requestID: 3, request: .transact([.delete(Delete(persistenceID: pid("a"))),
                                                       .delete(Delete(persistenceID: pid("a")))])).encode(into: &buffer)
        let duplicate = decodeError(buffer)
        #expect(duplicate?.status == .invalidArgument)
        #expect(duplicate?.message.contains("item 1") == true)
        #expect(duplicate?.closesConnection == false)
    }

    @Test func aBulkWriteItemThatBreaksARuleIsAnsweredInItsPlace() throws {
        let bytes = raw(.bulkWrite) { buffer in
            buffer.writeInteger(UInt16(3))
            for (id, ttl) in [("ok", UInt32(5)), ("bad\u{1}", UInt32(5)), ("ttl", UInt32(0))] {
                buffer.writeInteger(WriteItem.upsertKind)
                buffer.writeInteger(WriteItem.ttlFlag)
                buffer.writeInteger(UInt8(id.utf8.count))
                buffer.writeString(id)
                buffer.writeInteger(UInt64(0))
                buffer.writeInteger(ttl)
                buffer.writeInteger(UInt32(0))
            }
        }
        let decoded = try RequestFrame.decode(try frame(bytes))
        guard case .bulkWrite(let items) = decoded.request else { Issue.record("not BULK_WRITE"); return }
        #expect(items[0] == .valid(.upsert(Upsert(persistenceID: pid("ok"), expectedRevision: 0, state: ByteBuffer(), ttlSeconds: 5))))
        guard case .invalid(let control) = items[1], case .invalid(let ttl) = items[2] else {
            Issue.record("items 1 and 2 must be invalid: \(items)"); return
        }
        #expect(control.contains("control character"))
        #expect(ttl.contains("ttl_seconds 0"))
    }

    @Test func structuralFaultsOfItemsAreMalformed() {
        let unknownKind = raw(.transact) { $0.writeInteger(UInt16(1)); $0.writeInteger(UInt8(3)); $0.writeInteger(UInt8(0)) }
        #expect(decodeError(unknownKind)?.status == .malformedFrame)
        let expectedOnUpsert = raw(.bulkWrite) { buffer in
            buffer.writeInteger(UInt16(1))
            buffer.writeInteger(WriteItem.upsertKind)
            buffer.writeInteger(WriteItem.expectedRevisionFlag)
        }
        #expect(decodeError(expectedOnUpsert)?.status == .malformedFrame)
        let ttlOnDelete = raw(.bulkWrite) { buffer in
            buffer.writeInteger(UInt16(1))
            buffer.writeInteger(WriteItem.deleteKind)
            buffer.writeInteger(WriteItem.ttlFlag)
        }
        #expect(decodeError(ttlOnDelete)?.status == .malformedFrame)
        let listFlag = raw(.list, flags: 0x04) { $0.writeInteger(UInt8(0)); $0.writeInteger(UInt16(1)) }
        #expect(decodeError(listFlag)?.status == .malformedFrame)
    }

    @Test func listArguments() {
        func list(_ prefix: String, limit: UInt16) -> ByteBuffer {
            raw(.list) { buffer in
                buffer.writeInteger(UInt8(prefix.utf8.count))
                buffer.writeString(prefix)
                buffer.writeInteger(limit)
            }
        }
        #expect(decodeError(list("", limit: 0))?.status == .invalidArgument)
        #expect(decodeError(list("", limit: 1001))?.status == .invalidArgument)
        #expect(decodeError(list("a\u{7F}", limit: 5))?.message.contains("prefix") == true)
        #expect(decodeError(list("a%_", limit: 5)) == nil, "LIKE metacharacters are ordinary characters")
    }

    @Test func ttlOfAnUpsertIsCheckedAfterTheRevision() {
        let bytes = raw(.upsert, flags: Upsert.ttlFlag) { buffer in
            buffer.writeInteger(UInt8(1))
            buffer.writeString("a")
            buffer.writeInteger(UInt64(0))
            buffer.writeInteger(UInt32(1) << 31)
            buffer.writeInteger(UInt32(0))
        }
        #expect(decodeError(bytes)?.message.contains("ttl_seconds 2147483648 is out of range") == true)
    }
}
