#if canImport(Glibc)
import Glibc
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

    public static func sample() -> Sample {
        var sample = Sample()
        let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))
        // /proc/self/stat: the command may hold spaces and parentheses, so fields are counted after its last ')'.
        // utime and stime are fields 14 and 15, starttime (ticks after boot) 22.
        if let stat = read("/proc/self/stat"), let close = stat.lastIndex(of: UInt8(ascii: ")")) {
            let fields = stat[(close + 2)...].split(separator: UInt8(ascii: " "))
            func field(_ number: Int) -> Double { fields.count > number - 3 ? Double(decimal(fields[number - 3])) : 0 }
            if ticksPerSecond > 0 {
                sample.cpuSeconds = (field(14) + field(15)) / ticksPerSecond
                if let boot = bootTime() { sample.startTime = boot + field(22) / ticksPerSecond }
            }
        }
        // /proc/self/statm: sizes in pages; the second is what is resident.
        if let statm = read("/proc/self/statm") {
            let fields = statm.split(separator: UInt8(ascii: " "))
            if fields.count > 1 { sample.residentBytes = decimal(fields[1]) * Int(sysconf(Int32(_SC_PAGESIZE))) }
        }
        sample.openDescriptors = openDescriptorCount()
        return sample
    }

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

    private static func read(_ path: String) -> [UInt8]? {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
            guard count > 0 else { break }
            bytes += chunk[..<count]
            if bytes.count > 65536 { break }
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
