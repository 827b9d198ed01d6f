/// The first header byte. Requests use 0x01–0x7F, responses 0x81–0xFF.
public struct MessageType: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let hello = MessageType(rawValue: 0x01)
    public static let ping = MessageType(rawValue: 0x02)
    public static let load = MessageType(rawValue: 0x03)
    public static let upsert = MessageType(rawValue: 0x04)
    public static let delete = MessageType(rawValue: 0x05)
    public static let whoami = MessageType(rawValue: 0x06)
    public static let health = MessageType(rawValue: 0x07)
    public static let stats = MessageType(rawValue: 0x08)
    public static let clients = MessageType(rawValue: 0x09)
    public static let pause = MessageType(rawValue: 0x0A)
    public static let resume = MessageType(rawValue: 0x0B)
    public static let bulkLoad = MessageType(rawValue: 0x0C)
    public static let bulkWrite = MessageType(rawValue: 0x0D)
    public static let transact = MessageType(rawValue: 0x0E)
    public static let list = MessageType(rawValue: 0x0F)

    public static let helloOK = MessageType(rawValue: 0x81)
    public static let ok = MessageType(rawValue: 0x82)
    public static let record = MessageType(rawValue: 0x83)
    public static let notFound = MessageType(rawValue: 0x84)
    public static let conflict = MessageType(rawValue: 0x85)
    public static let error = MessageType(rawValue: 0x86)
    public static let whoamiOK = MessageType(rawValue: 0x87)
    public static let healthOK = MessageType(rawValue: 0x88)
    public static let statsOK = MessageType(rawValue: 0x89)
    public static let clientsOK = MessageType(rawValue: 0x8A)
    public static let records = MessageType(rawValue: 0x8B)
    public static let outcomes = MessageType(rawValue: 0x8C)
    public static let transactConflict = MessageType(rawValue: 0x8D)
    public static let listOK = MessageType(rawValue: 0x8E)

    public var description: String {
        switch self {
        case .hello: return "HELLO"
        case .ping: return "PING"
        case .load: return "LOAD"
        case .upsert: return "UPSERT"
        case .delete: return "DELETE"
        case .whoami: return "WHOAMI"
        case .health: return "HEALTH"
        case .stats: return "STATS"
        case .clients: return "CLIENTS"
        case .pause: return "PAUSE"
        case .resume: return "RESUME"
        case .bulkLoad: return "BULK_LOAD"
        case .bulkWrite: return "BULK_WRITE"
        case .transact: return "TRANSACT"
        case .list: return "LIST"
        case .helloOK: return "HELLO_OK"
        case .ok: return "OK"
        case .record: return "RECORD"
        case .notFound: return "NOT_FOUND"
        case .conflict: return "CONFLICT"
        case .error: return "ERROR"
        case .whoamiOK: return "WHOAMI_OK"
        case .healthOK: return "HEALTH_OK"
        case .statsOK: return "STATS_OK"
        case .clientsOK: return "CLIENTS_OK"
        case .records: return "RECORDS"
        case .outcomes: return "OUTCOMES"
        case .transactConflict: return "TRANSACT_CONFLICT"
        case .listOK: return "LIST_OK"
        default: return "0x" + String(rawValue, radix: 16)
        }
    }
}
