import NIOCore

/// `HELLO` (0x01, client → server): the first frame of every connection.
public struct Hello: Sendable, Hashable {
    /// Protocol versions the client speaks; the server picks the highest one it shares.
    public var versions: [UInt16]
    /// A free-form client name for the server's logs (UTF-8, may be empty, at most 255 bytes).
    public var clientName: String

    /// - Precondition: `clientName` is at most 255 bytes of UTF-8 and `versions` has 1 to 255 entries (a longer
    ///   name is refused, never truncated).
    public init(versions: [UInt16], clientName: String) {
        precondition(clientName.utf8.count <= 255, "client name of \(clientName.utf8.count) bytes; at most 255")
        precondition(versions.count <= 255, "at most 255 versions")
        self.versions = versions
        self.clientName = clientName
    }

    static func decode(_ reader: inout PayloadReader) throws -> Hello {
        let count = try reader.integer("versions_count", as: UInt8.self)
        guard count > 0 else { throw reader.malformed("versions_count is 0") }
        var versions: [UInt16] = []
        versions.reserveCapacity(Int(count))
        for _ in 0..<count {
            versions.append(try reader.integer("versions", as: UInt16.self))
        }
        let name = try reader.text("client_name", lengthAs: UInt8.self)
        return Hello(versions: versions, clientName: name)
    }

    func encode(into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(versions.count))
        for version in versions { buffer.writeInteger(version) }
        buffer.writeStr8(clientName.utf8)
    }
}

/// `HELLO_OK` (0x81, server → client): the chosen version, the server's version string, limits and capabilities.
public struct HelloOK: Sendable, Hashable {
    public var version: UInt16
    public var serverVersion: String
    public var limits: ProtocolLimits
    public var capabilities: Capabilities

    public init(version: UInt16, serverVersion: String, limits: ProtocolLimits, capabilities: Capabilities) {
        precondition(serverVersion.utf8.count <= 255, "server version of \(serverVersion.utf8.count) bytes; at most 255")
        self.version = version
        self.serverVersion = serverVersion
        self.limits = limits
        self.capabilities = capabilities
    }

    static func decode(_ reader: inout PayloadReader) throws -> HelloOK {
        let version = try reader.integer("version", as: UInt16.self)
        let serverVersion = try reader.text("server_version", lengthAs: UInt8.self)
        let maxFrame = try reader.integer("max_frame_bytes", as: UInt32.self)
        let maxID = try reader.integer("max_id_bytes", as: UInt16.self)
        let maxState = try reader.integer("max_state_bytes", as: UInt32.self)
        let maxInFlight = try reader.integer("max_in_flight", as: UInt32.self)
        let capabilities = Capabilities(rawValue: try reader.integer("capabilities", as: UInt32.self))
        var limits = ProtocolLimits(
            maxFrameBytes: Int(maxFrame), maxIDBytes: Int(maxID),
            maxStateBytes: Int(maxState), maxInFlight: Int(maxInFlight)
        )
        // The multi-key limits follow only when MULTI_KEY is announced (PROTOCOL.md 6.2).
        if capabilities.contains(.multiKey) {
            limits.maxBatchItems = Int(try reader.integer("max_batch_items", as: UInt32.self))
            limits.maxBatchBytes = Int(try reader.integer("max_batch_bytes", as: UInt32.self))
        }
        return HelloOK(version: version, serverVersion: serverVersion, limits: limits, capabilities: capabilities)
    }

    func encode(into buffer: inout ByteBuffer) {
        buffer.writeInteger(version)
        buffer.writeStr8(serverVersion.utf8)
        buffer.writeInteger(UInt32(clamping: limits.maxFrameBytes))
        buffer.writeInteger(UInt16(clamping: limits.maxIDBytes))
        buffer.writeInteger(UInt32(clamping: limits.maxStateBytes))
        buffer.writeInteger(UInt32(clamping: limits.maxInFlight))
        buffer.writeInteger(capabilities.rawValue)
        if capabilities.contains(.multiKey) {
            buffer.writeInteger(UInt32(clamping: limits.maxBatchItems))
            buffer.writeInteger(UInt32(clamping: limits.maxBatchBytes))
        }
    }
}

/// Capability bits announced in `HELLO_OK`. Clients ignore bits they do not know.
public struct Capabilities: OptionSet, Sendable, Hashable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// `DELETE` with the `EXPECTED_REVISION` flag is supported.
    public static let conditionalDelete = Capabilities(rawValue: 1 << 0)
    /// `WHOAMI` and the `NAMESPACE` flag are served (PROTOCOL.md 6.14).
    public static let identity = Capabilities(rawValue: 1 << 1)
    /// The operators' requests `HEALTH`, `STATS`, `CLIENTS`, `PAUSE` and `RESUME` are served (PROTOCOL.md 6.15).
    public static let `operator` = Capabilities(rawValue: 1 << 2)
    /// `BULK_LOAD`, `BULK_WRITE`, `TRANSACT` and `LIST` are served, and `HELLO_OK` carries their limits (6.22).
    public static let multiKey = Capabilities(rawValue: 1 << 3)
    /// The `TTL` flag of `UPSERT` and of upsert items is served (6.22).
    public static let ttl = Capabilities(rawValue: 1 << 4)
}
