/// The size limits of one connection, announced by the server in `HELLO_OK`.
///
/// The defaults hold an 8 MiB state plus every header with room to spare.
/// Invariant: `maxFrameBytes >= maxStateBytes + 4096` (an UPSERT of a maximal state must fit in one frame).
public struct ProtocolLimits: Sendable, Hashable {
    /// Largest frame body (the value of the length prefix) a peer may send.
    public var maxFrameBytes: Int
    /// Largest persistence id in bytes. Fixed at 255 by the `str8` encoding in protocol v1.
    public var maxIDBytes: Int
    /// Largest state in bytes.
    public var maxStateBytes: Int
    /// Requests a client may have in flight on one connection before the server stops reading from it.
    public var maxInFlight: Int
    /// Most ids of a `BULK_LOAD`, items of a `BULK_WRITE` or `TRANSACT`, and the largest `LIST` limit.
    public var maxBatchItems: Int = ProtocolLimits.defaultMaxBatchItems
    /// Most state bytes of all items of one `BULK_WRITE` or `TRANSACT` together.
    public var maxBatchBytes: Int = ProtocolLimits.defaultMaxBatchBytes

    public static let defaultMaxBatchItems = 1000
    /// Half the default state limit: a request of that many state bytes plus the items' headers (at most 1000 ×
    /// 273 bytes) still fits the default frame.
    public static let defaultMaxBatchBytes = 4 * 1024 * 1024

    public static let defaultMaxStateBytes = 8 * 1024 * 1024
    public static let frameOverheadBytes = 4096

    public static let `default` = ProtocolLimits(
        maxFrameBytes: defaultMaxStateBytes + frameOverheadBytes,
        maxIDBytes: 255,
        maxStateBytes: defaultMaxStateBytes,
        maxInFlight: 1024
    )

    public init(maxFrameBytes: Int, maxIDBytes: Int = 255, maxStateBytes: Int, maxInFlight: Int) {
        self.maxFrameBytes = maxFrameBytes
        self.maxIDBytes = maxIDBytes
        self.maxStateBytes = maxStateBytes
        self.maxInFlight = maxInFlight
    }

    /// Limits for a given maximum state size, with the frame limit derived from it.
    public init(maxStateBytes: Int, maxInFlight: Int = ProtocolLimits.default.maxInFlight) {
        self.init(
            maxFrameBytes: maxStateBytes + Self.frameOverheadBytes,
            maxIDBytes: 255,
            maxStateBytes: maxStateBytes,
            maxInFlight: maxInFlight
        )
    }
}
