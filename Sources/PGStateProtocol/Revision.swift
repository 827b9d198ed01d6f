/// Revision arithmetic and limits. Revisions are PostgreSQL `bigint`s: 0 to 2^63−1 (0 means "absent").
public enum Revision {
    /// Largest revision a record can have.
    public static let max = UInt64(Int64.max)
    /// Largest expected revision of an UPSERT: its result, expected + 1, must still fit a bigint.
    public static let maxExpectedForUpsert = max - 1
}
