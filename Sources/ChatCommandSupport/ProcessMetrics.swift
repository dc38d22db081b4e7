#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// This process's CPU time, resident memory, open descriptors and start time, read from /proc when asked (a
/// scrape), under the names Prometheus's own client libraries use (`process_cpu_seconds_total`, ...), so the
/// usual dashboards and alerts work on the node and the balancer unchanged. Outside Linux every value reads 0.
public enum ProcessMetrics {
    public struct Sample: Sendable {
        public var cpuSeconds: Double = 0
        public var residentBytes: Int = 0
        public var openDescriptors: Int = 0
        /// Unix time, seconds.
        public var startTime: Double = 0
    }

    /// `countingDescriptors`: reading /proc/self/fd takes time in proportion to the open descriptors (two per
    /// client in the balancer), so only scrapes pay for it.
    public static func sample(countingDescriptors: Bool = true) -> Sample {
        var sample = Sample()
        #if os(Linux)
        let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))
        // /proc/self/stat: the command may hold spaces and parentheses, so fields are counted after its last ')'.
        // utime and stime are fields 14 and 15.
        if let stat = read("/proc/self/stat"), let close = stat.lastIndex(of: UInt8(ascii: ")")), ticksPerSecond > 0 {
            let fields = stat[(close + 2)...].split(separator: UInt8(ascii: " "))
            if fields.count > 12 {
                sample.cpuSeconds = Double(decimal(fields[11]) + decimal(fields[12])) / ticksPerSecond
            }
        }
        // /proc/self/statm: sizes in pages; the second is what is resident.
        if let statm = read("/proc/self/statm") {
            let fields = statm.split(separator: UInt8(ascii: " "))
            if fields.count > 1 { sample.residentBytes = decimal(fields[1]) * Int(sysconf(Int32(_SC_PAGESIZE))) }
        }
        sample.startTime = startTime
        if countingDescriptors { sample.openDescriptors = openDescriptorCount() }
        #endif
        return sample
    }

    /// When the process started, in Unix seconds: boot time (/proc/stat's `btime`) plus field 22 of
    /// /proc/self/stat (ticks after boot). Read once; it does not change.
    private static let startTime: Double = {
        #if os(Linux)
        let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))
        guard ticksPerSecond > 0, let boot = bootTime(), let stat = read("/proc/self/stat"),
            let close = stat.lastIndex(of: UInt8(ascii: ")"))
        else { return 0 }
        let fields = stat[(close + 2)...].split(separator: UInt8(ascii: " "))
        guard fields.count > 19 else { return 0 }
        return boot + Double(decimal(fields[19])) / ticksPerSecond
        #else
        return 0
        #endif
    }()

    /// The sample in Prometheus's text format, to append to a registry's output.
    public static func prometheusText(_ sample: Sample = sample()) -> String {
        """
        # HELP process_cpu_seconds_total User and system CPU time spent, in seconds.
        # TYPE process_cpu_seconds_total counter
        process_cpu_seconds_total \(sample.cpuSeconds)
        # HELP process_resident_memory_bytes Resident memory size in bytes.
        # TYPE process_resident_memory_bytes gauge
        process_resident_memory_bytes \(sample.residentBytes)
        # HELP process_open_fds Number of open file descriptors.
        # TYPE process_open_fds gauge
        process_open_fds \(sample.openDescriptors)
        # HELP process_start_time_seconds Start time of the process since the Unix epoch, in seconds.
        # TYPE process_start_time_seconds gauge
        process_start_time_seconds \(sample.startTime)

        """
    }

    private static let systemRead = read(_:_:_:)

    private static func read(_ path: String) -> [UInt8]? {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { systemRead(descriptor, $0.baseAddress, $0.count) }
            guard count > 0 else { break }
            bytes += chunk[..<count]
            // /proc/stat lists every CPU and interrupt; its btime line still comes within this on large hosts.
            if bytes.count > 1 << 20 { break }
        }
        return bytes
    }

    private static func decimal(_ digits: ArraySlice<UInt8>) -> Int {
        var value = 0
        for digit in digits {
            guard digit >= UInt8(ascii: "0"), digit <= UInt8(ascii: "9") else { break }
            let (times, overflowTimes) = value.multipliedReportingOverflow(by: 10)
            let (plus, overflowPlus) = times.addingReportingOverflow(Int(digit - UInt8(ascii: "0")))
            guard !overflowTimes, !overflowPlus else { return 0 }
            value = plus
        }
        return value
    }

    /// The `btime` line of /proc/stat: when the machine booted, in Unix seconds.
    private static func bootTime() -> Double? {
        guard let stat = read("/proc/stat") else { return nil }
        for line in stat.split(separator: UInt8(ascii: "\n")) where line.starts(with: Array("btime ".utf8)) {
            return Double(decimal(line.dropFirst(6)))
        }
        return nil
    }

    private static func openDescriptorCount() -> Int {
        guard let directory = opendir("/proc/self/fd") else { return 0 }
        defer { closedir(directory) }
        var count = 0
        while let entry = readdir(directory) {
            let isDot = withUnsafeBytes(of: entry.pointee.d_name) { $0.first == UInt8(ascii: ".") }
            if !isDot { count += 1 }
        }
        // The directory being read is itself open while it is counted.
        return max(0, count - 1)
    }
}
