import Glibc

/// The usual `process_*` figures of this process, from `/proc/self` (Linux).
struct ProcessMetrics {
    var cpuSeconds: Double = 0
    var residentBytes: Double = 0
    var virtualBytes: Double = 0
    var openDescriptors: Double = 0
    var maxDescriptors: Double = 0
    var startTimeSeconds: Double = 0
    var threads: Double = 0

    static func read() -> ProcessMetrics {
        var metrics = ProcessMetrics()
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let page = Double(sysconf(Int32(_SC_PAGESIZE)))
        // /proc/self/stat: the fields after the command name (which is in parentheses and may hold spaces).
        if let stat = readFile("/proc/self/stat"), let close = stat.lastIndex(of: ")") {
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            // fields[0] is field 3 (state): field n is fields[n - 3].
            func field(_ number: Int) -> Double { number - 3 < fields.count ? Double(fields[number - 3]) ?? 0 : 0 }
            metrics.cpuSeconds = (field(14) + field(15)) / ticks
            metrics.threads = field(20)
            metrics.virtualBytes = field(23)
            metrics.residentBytes = field(24) * page
            if let boot = bootTime() { metrics.startTimeSeconds = boot + field(22) / ticks }
        }
        metrics.openDescriptors = Double(countDescriptors())
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 { metrics.maxDescriptors = Double(limit.rlim_cur) }
        return metrics
    }

    private static func bootTime() -> Double? {
        guard let text = readFile("/proc/stat") else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("btime ") {
            return Double(line.dropFirst("btime ".count))
        }
        return nil
    }

    private static func countDescriptors() -> Int {
        guard let directory = opendir("/proc/self/fd") else { return 0 }
        defer { closedir(directory) }
        var count = 0
        while let entry = readdir(directory) {
            if entry.pointee.d_name.0 != 0x2E { count += 1 }
        }
        return max(0, count - 1)  // the directory's own descriptor
    }

    static func readFile(_ path: String) -> String? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
            if count <= 0 { break }
            bytes.append(contentsOf: chunk[0..<count])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
