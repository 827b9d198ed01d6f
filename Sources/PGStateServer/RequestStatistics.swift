/// The store requests one reactor has answered and how long each took (routed → answered), as a histogram of
/// four buckets per power of two of microseconds. Pure and mergeable: each reactor counts its own with plain
/// arithmetic (no atomics on the request path), and a reader merges the reactors' snapshots.
public struct RequestStatistics: Sendable, Equatable {
    public static let bucketCount = 128

    public private(set) var answered: UInt64 = 0
    /// The sum of the durations recorded, in microseconds.
    public private(set) var sumMicroseconds: UInt64 = 0
    public private(set) var buckets = [UInt64](repeating: 0, count: bucketCount)

    public init() {}

    /// The bucket of a duration: 0-3 µs one each, then four per power of two (exact bounds, no floating point).
    static func bucket(microseconds: Int64) -> Int {
        let value = UInt64(max(0, microseconds))
        guard value >= 4 else { return Int(value) }
        let top = 63 - value.leadingZeroBitCount  // >= 2
        let sub = Int((value >> UInt64(top - 2)) & 3)
        return min(bucketCount - 1, top * 4 + sub - 4)
    }

    /// The exclusive upper bound of a bucket, in microseconds.
    public static func upperBound(ofBucket index: Int) -> Int64 {
        guard index >= 4 else { return Int64(index + 1) }
        let top = index / 4 + 1
        let sub = Int64(index % 4)
        return (5 + sub) << Int64(top - 2)
    }

    public mutating func record(microseconds: Int64) {
        answered &+= 1
        sumMicroseconds &+= UInt64(max(0, microseconds))
        buckets[Self.bucket(microseconds: microseconds)] &+= 1
    }

    public mutating func merge(_ other: RequestStatistics) {
        answered &+= other.answered
        sumMicroseconds &+= other.sumMicroseconds
        for index in buckets.indices { buckets[index] &+= other.buckets[index] }
    }

    /// What happened since `earlier` (a snapshot of the same counters taken before).
    public func subtracting(_ earlier: RequestStatistics) -> RequestStatistics {
        var delta = self
        delta.answered &-= earlier.answered
        delta.sumMicroseconds &-= earlier.sumMicroseconds
        for index in buckets.indices { delta.buckets[index] &-= earlier.buckets[index] }
        return delta
    }

    /// The upper bound (µs) of the bucket holding the `q` quantile (0 < q ≤ 1); nil without requests. A bound,
    /// so at most 25 % above the true value.
    public func quantile(_ q: Double) -> Int64? {
        guard answered > 0 else { return nil }
        let rank = max(1, UInt64((Double(answered) * q).rounded(.up)))
        var seen: UInt64 = 0
        for (index, count) in buckets.enumerated() {
            seen += count
            if seen >= rank { return Self.upperBound(ofBucket: index) }
        }
        return Self.upperBound(ofBucket: buckets.count - 1)
    }
}
