import PGStateProtocol

/// One router entry of a store request: the operation, the home it is placed by, and every other home whose
/// order it must keep (PROTOCOL.md 4: a multi-key request is ordered with every request of each of its ids).
public struct StorePart {
    public var operation: any StoreOperation
    /// The home connection the part is placed on (its placement when that is down, see ``PoolRouter``).
    public var home: Int
    /// The other homes of the ids it touches; empty for single-key operations and parts of one home.
    public var otherHomes: [Int]
    /// Runs alone in its batch, its own implicit transaction (`TRANSACT`).
    public var alone: Bool

    public init(operation: any StoreOperation, home: Int, otherHomes: [Int] = [], alone: Bool = false) {
        self.operation = operation
        self.home = home
        self.otherHomes = otherHomes
        self.alone = alone
    }
}

/// How the reactor runs one store request: as one router entry answered directly, or as several parts whose
/// answers a ``Gather`` builds into one response. Pure: decided from the request and the pool size.
public enum StorePlan {
    case single(StorePart)
    case gathered([StorePart], Gather)
    /// Answered without the database (a `BULK_WRITE` whose every item broke an argument rule).
    case answered(Response)

    public static func home(of id: PersistenceID, poolSize: Int) -> Int {
        PoolRouter<Void>.home(ofKey: id.value.utf8, poolSize: poolSize)
    }

    /// The plan of a store request (`request.isStoreRequest`), in `namespace`.
    public init(_ request: Request, in namespace: Namespace, poolSize: Int) {
        // Single-key requests first, without a detour through another existential (the common path).
        if let id = request.persistenceID, let operation = storeOperation(for: request, in: namespace) {
            self = .single(StorePart(operation: operation, home: Self.home(of: id, poolSize: poolSize)))
            return
        }
        switch request {
        case .bulkLoad(let ids):
            // One part per home, each with its distinct ids; the gather maps answers back to request positions.
            var partOfHome: [Int: Int] = [:]
            var partIDs: [[PersistenceID]] = []
            var partHomes: [Int] = []
            var indexInPart: [PersistenceID: (part: Int, index: Int)] = [:]
            var positions: [(part: Int, index: Int)] = []
            positions.reserveCapacity(ids.count)
            for id in ids {
                if let known = indexInPart[id] {
                    positions.append(known)
                    continue
                }
                let home = Self.home(of: id, poolSize: poolSize)
                let part: Int
                if let existing = partOfHome[home] {
                    part = existing
                } else {
                    part = partIDs.count
                    partOfHome[home] = part
                    partIDs.append([])
                    partHomes.append(home)
                }
                let position = (part: part, index: partIDs[part].count)
                partIDs[part].append(id)
                indexInPart[id] = position
                positions.append(position)
            }
            let parts = zip(partIDs, partHomes).map { ids, home in
                StorePart(operation: BulkLoadOperation(ids: ids, namespace: namespace), home: home)
            }
            self = .gathered(parts, Gather(bulkLoad: positions, parts: parts.count))
        case .bulkWrite(let items):
            // Each valid item is its own single-key entry: independent, group-committed with everything else,
            // ordered with every other request of its id.
            var parts: [StorePart] = []
            var partItems: [Int] = []
            var outcomes: [ItemOutcome?] = []
            for (index, item) in items.enumerated() {
                switch item {
                case .invalid(let message):
                    outcomes.append(.failed(ErrorResponse(status: .invalidArgument, message: "item \(index): \(message)")))
                case .valid(let item):
                    outcomes.append(nil)
                    let operation: any SingleKeyOperation
                    switch item {
                    case .upsert(let upsert): operation = UpsertOperation(upsert, namespace: namespace)
                    case .delete(let delete): operation = DeleteOperation(delete, namespace: namespace)
                    }
                    parts.append(StorePart(operation: operation, home: Self.home(of: operation.persistenceID, poolSize: poolSize)))
                    partItems.append(index)
                }
            }
            if parts.isEmpty {
                self = .answered(.outcomes(outcomes.map { $0! }))
            } else {
                self = .gathered(parts, Gather(bulkWrite: outcomes, partItems: partItems))
            }
        case .transact(let items):
            let homes = Self.homes(items.map(\.persistenceID), poolSize: poolSize)
            self = .single(StorePart(operation: TransactOperation(items, namespace: namespace), home: homes.first!,
                                     otherHomes: Array(homes.dropFirst()), alone: true))
        case .list(let list):
            // A listing touches every id of the namespace: it keeps its place among all homes.
            let home = PoolRouter<Void>.home(ofKey: list.prefix.utf8, poolSize: poolSize)
            self = .single(StorePart(operation: ListOperation(list, namespace: namespace), home: home,
                                     otherHomes: (0..<poolSize).filter { $0 != home }))
        default:
            preconditionFailure("\(request.type) is not a store request")
        }
    }

    /// The distinct homes of `ids`, the smallest id's first (a transaction is placed by its first id in id order).
    static func homes(_ ids: [PersistenceID], poolSize: Int) -> [Int] {
        var homes: [Int] = []
        for id in ids.sorted() {
            let home = Self.home(of: id, poolSize: poolSize)
            if !homes.contains(home) { homes.append(home) }
        }
        return homes
    }
}

/// The answers of a request's parts, gathered into one response. Pure.
public struct Gather {
    enum Kind {
        /// For each position of the request, the part and the index within it that answers it.
        case bulkLoad(positions: [(part: Int, index: Int)])
        /// Outcomes known already (invalid items), and the item each part answers.
        case bulkWrite(outcomes: [ItemOutcome?], partItems: [Int])
    }

    var kind: Kind
    var answers: [Response?]
    public private(set) var missing: Int

    init(bulkLoad positions: [(part: Int, index: Int)], parts: Int) {
        self.kind = .bulkLoad(positions: positions)
        self.answers = Array(repeating: nil, count: parts)
        self.missing = parts
    }

    init(bulkWrite outcomes: [ItemOutcome?], partItems: [Int]) {
        self.kind = .bulkWrite(outcomes: outcomes, partItems: partItems)
        self.answers = Array(repeating: nil, count: partItems.count)
        self.missing = partItems.count
    }

    /// Records the answer of `part`. Returns the request's response once every part has answered.
    /// - Parameter maxFrameBytes: the frame limit a `RECORDS` answer must fit (entries beyond it are OMITTED).
    public mutating func received(part: Int, _ response: Response, maxFrameBytes: Int) -> Response? {
        precondition(answers[part] == nil, "part \(part) answered twice")
        answers[part] = response
        missing -= 1
        guard missing == 0 else { return nil }
        switch kind {
        case .bulkLoad(let positions):
            return Self.records(positions: positions, answers: answers.map { $0! }, maxFrameBytes: maxFrameBytes)
        case .bulkWrite(var outcomes, let partItems):
            for (part, item) in partItems.enumerated() { outcomes[item] = ItemOutcome(answers[part]!) }
            return .outcomes(outcomes.map { $0! })
        }
    }

    /// `RECORDS` in request order, or the first part's error (a part that failed fails the request: a read can
    /// simply be repeated). Entries that would not fit the frame are OMITTED, keeping a byte for each entry still
    /// to come; the first always fits (`max_frame_bytes` ≥ `max_state_bytes` + 4096).
    static func records(positions: [(part: Int, index: Int)], answers: [Response], maxFrameBytes: Int) -> Response {
        var partEntries: [[RecordsEntry]] = []
        for answer in answers {
            switch answer {
            case .records(let entries): partEntries.append(entries)
            case .error(let error): return .error(error)
            default: return .error(ErrorResponse(status: .internalError, message: "unexpected answer \(answer.type) to a bulk load"))
            }
        }
        var budget = maxFrameBytes - Frame.headerBytes - 2
        var entries: [RecordsEntry] = []
        entries.reserveCapacity(positions.count)
        for (offset, position) in positions.enumerated() {
            let entry = partEntries[position.part][position.index]
            let stillToCome = positions.count - offset - 1
            if entry.encodedBytes + stillToCome <= budget {
                entries.append(entry)
                budget -= entry.encodedBytes
            } else {
                entries.append(.omitted)
                budget -= 1
            }
        }
        return .records(entries)
    }
}
