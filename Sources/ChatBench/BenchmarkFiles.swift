import Foundation

extension BenchmarkRecord {
    /// The command a record shows, from the arguments after the binary: the options that only file the run away
    /// (--record, --group, --target-name, --run-number) are left out, and so is --measure, whose pids mean nothing
    /// later, so the command reads as what a reader would type to measure the same thing.
    public static func command(arguments: [String]) -> String {
        (["chat-bench"] + arguments.filter { !$0.isEmpty })
            .joined(separator: " ")
            .replacingOccurrences(
                of: #" --(record|group|target-name|run-number|measure) \S+"#, with: "", options: .regularExpression)
    }

    /// Appends the record as one JSON line, creating the file first if needed: a sweep gathers its runs in one file
    /// that `chat-bench report` reads.
    public func append(toFile path: String) throws {
        let data = Data((try jsonLine() + "\n").utf8)
        // A failed create shows up as the open below failing.
        if !FileManager.default.fileExists(atPath: path) {
            _ = FileManager.default.createFile(atPath: path, contents: nil)
        }
        let file = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try file.seekToEnd()
        try file.write(contentsOf: data)
        try file.close()
    }
}

extension BenchmarkReport {
    /// What `chat-bench report` does. Merges the record files (a later file's groups replace an earlier file's),
    /// writes the merged records to `mergedRecords` when given (the figures' raw data kept beside the page), draws
    /// the plots into `plots` next to `document`, and replaces the document's generated section.
    /// Returns the plots' directory and the plots made.
    public static func update(
        document: String, records: [String], mergedRecords: String?, plots: String, setup: [String]
    ) throws -> (directory: String, plots: [String]) {
        let merged = try merge(records.map(Self.load(jsonLines:)))
        if let mergedRecords {
            let lines = try merged.map { try $0.jsonLine() }
            try (lines.joined(separator: "\n") + "\n").write(toFile: mergedRecords, atomically: true, encoding: .utf8)
        }
        let report = BenchmarkReport(records: merged, setup: setup)
        let directory = URL(fileURLWithPath: document).deletingLastPathComponent().appendingPathComponent(plots).path
        let made = try report.writePlots(to: directory)
        let page = try String(contentsOfFile: document, encoding: .utf8)
        let updated = try splice(report.markdown(plotDirectory: plots), into: page)
        try updated.write(toFile: document, atomically: true, encoding: .utf8)
        return (directory, made)
    }
}
