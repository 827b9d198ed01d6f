/// How the store reaches PostgreSQL and how its pool behaves.
public struct StoreConfiguration: Sendable {
    /// A libpq conninfo string or URI. Empty: libpq's `PG*` environment variables and defaults apply.
    public var connectionString: String
    /// Number of libpq connections (each with its own thread).
    public var poolSize: Int
    public var table: TableName
    /// Create the table at start-up when it is missing.
    public var createSchema: Bool
    /// Most requests one pipeline (one commit) carries.
    public var maxBatchRequests: Int
    /// Most state bytes one pipeline carries (a batch always takes at least one request).
    public var maxBatchBytes: Int
    /// Requests queued or executing in the whole pool beyond which new ones are answered `OVERLOADED`.
    public var queueLimit: Int
    /// Reconnect backoff: first delay and cap, in milliseconds.
    public var reconnectInitialDelayMilliseconds: Int
    public var reconnectMaxDelayMilliseconds: Int
    /// Seconds one connection attempt (connect, set-up) may take before it counts as failed.
    public var connectTimeoutSeconds: Int
    /// How often expired rows are deleted (TTL); 0: never (reads ignore expired rows all the same).
    public var expirySweepIntervalMilliseconds = 10_000
    /// The most rows one sweep transaction deletes; a full batch is followed by the next at once.
    public var expirySweepBatch = 500

    public init(
        connectionString: String = "",
        poolSize: Int = 4,
        table: TableName = .default,
        createSchema: Bool = true,
        maxBatchRequests: Int = 512,
        maxBatchBytes: Int = 32 * 1024 * 1024,
        queueLimit: Int = 65_536,
        reconnectInitialDelayMilliseconds: Int = 100,
        reconnectMaxDelayMilliseconds: Int = 5_000,
        connectTimeoutSeconds: Int = 5
    ) {
        self.connectionString = connectionString
        self.poolSize = poolSize
        self.table = table
        self.createSchema = createSchema
        self.maxBatchRequests = maxBatchRequests
        self.maxBatchBytes = maxBatchBytes
        self.queueLimit = queueLimit
        self.reconnectInitialDelayMilliseconds = reconnectInitialDelayMilliseconds
        self.reconnectMaxDelayMilliseconds = reconnectMaxDelayMilliseconds
        self.connectTimeoutSeconds = connectTimeoutSeconds
    }
}
