import ArgumentParser
import ChatArchive
import ChatCore
import Foundation
import Logging

/// `chat-bench archive-search`: fills an archive with generated messages through `ChatArchive.write` (the
/// archiver's own batched, idempotent write), then times searches through `ChatArchive.search` (the query every
/// node runs, on its read pool). `ONLY=search scripts/bench.sh` runs it against a PostgreSQL of its own.
///
/// The text is made to search like chat: words drawn from a vocabulary by Zipf's law (a few words in most
/// messages, most words rare), a tenth of the messages in Cyrillic and a twentieth in Japanese, so that common
/// words match hundreds of thousands of rows and rare ones a handful.
struct ArchiveSearch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "archive-search",
        abstract: "Fill an archive with generated messages, then time searches over it (p50, p99 per kind).")

    @Option(help: "The archive: postgres://user@host:port/database?sslmode=disable")
    var archive: String

    @Option(help: "Messages the archive should hold (filled up to this many; none written when it has them).")
    var messages = 5_000_000

    @Option(help: "Rooms the messages are spread over.")
    var rooms = 1000

    @Option(help: "Messages written in one transaction.")
    var batch = 5000

    @Option(help: "Searches timed of each kind and scope.")
    var queries = 100

    @Option(help: "Rooms a searching person is in (the scope of most searches).")
    var memberOf = 20

    func run() async throws {
        guard let address = ArchiveAddress(archive) else { throw ValidationError("not a postgres:// URL: \(archive)") }
        var logger = Logger(label: "chat-bench.archive")
        logger.logLevel = .warning
        let store = ChatArchive(address: address, logger: logger)
        let pools = Task { await store.run() }
        defer { pools.cancel() }
        _ = try await store.migrate()
        try await fill(store)
        try await time(store)
    }

    static let vocabulary: [String] = {
        // Pronounceable made-up words (consonant-vowel syllables), deterministic, none an English stop word.
        let consonants = Array("bdfgklmnprstvz")
        let vowels = Array("aeiou")
        var words: [String] = []
        for length in 2...3 {
            var generator = SeededGenerator(seed: UInt64(length))
            while words.count < (length == 2 ? 2000 : 20_000) {
                words.append(
                    String(
                        (0..<length).flatMap { _ in
                            [consonants.randomElement(using: &generator)!, vowels.randomElement(using: &generator)!]
                        }))
            }
        }
        return Array(Set(words)).sorted()
    }()
    static let cyrillic = [
        "привет", "ребята", "сервер", "сегодня", "работает", "быстро", "база", "данных", "чат", "новый",
    ]
    static let japanese = ["東京タワーに行きました", "今日は会議があります", "サーバーが速い", "新しいチャット", "データベース"]

    /// A word's rank by Zipf's law (s = 1) over the vocabulary.
    static func zipfWord(_ generator: inout SeededGenerator) -> String {
        let count = Double(vocabulary.count)
        // Inverse of the continuous approximation of the Zipf CDF: rank = count^u.
        let rank = Int(pow(count, Double.random(in: 0..<1, using: &generator)))
        return vocabulary[min(vocabulary.count - 1, max(0, rank - 1))]
    }

    static func text(_ number: Int) -> String {
        var generator = SeededGenerator(seed: UInt64(number) &* 0x9E37_79B9_7F4A_7C15)
        switch number % 20 {
        case 0: return japanese[number / 20 % japanese.count] + " " + zipfWord(&generator)
        case 1, 2:
            return (0..<Int.random(in: 4...10, using: &generator)).map { _ in
                cyrillic.randomElement(using: &generator)!
            }.joined(separator: " ")
        default:
            return (0..<Int.random(in: 5...14, using: &generator)).map { _ in zipfWord(&generator) }
                .joined(separator: " ")
        }
    }

    private func fill(_ store: ChatArchive) async throws {
        let have = try await store.counts().messages
        guard have < messages else {
            say("the archive holds \(have) messages already: not filled")
            return
        }
        let started = ContinuousClock.now
        let base: Millis = 1_700_000_000_000
        var written = have
        while written < messages {
            var batch = ArchiveBatch()
            for number in written..<min(messages, written + self.batch) {
                let room = RoomName(trusted: "r\(number % rooms)")
                let id = StreamID(millis: UInt64(base + Millis(number) * 10), sequence: 0)
                let text = Self.text(number)
                let outgoing = OutgoingMessage(
                    room: room, from: "user\(number % 5000)", text: text, isAction: false,
                    time: base + Millis(number) * 10)
                batch.messages.append(
                    ArchiveBatch.Message(
                        room: room.value, id: id, sender: outgoing.from, author: nil, kind: .say,
                        time: outgoing.time, text: text,
                        entry: RelayCodec.messageBody(outgoing, origin: nil)))
            }
            try await store.write(batch)
            written += batch.messages.count
            if written % 500_000 < self.batch {
                let seconds = (ContinuousClock.now - started) / .seconds(1)
                say("\(written) messages, \(Int(Double(written - have) / seconds)) a second")
            }
        }
        let seconds = (ContinuousClock.now - started) / .seconds(1)
        say(
            "filled: \(written - have) messages in \(String(format: "%.0f", seconds)) s, "
                + "\(Int(Double(written - have) / seconds)) a second (\(batch) a transaction)")
    }

    private func time(_ store: ChatArchive) async throws {
        let kinds: [(name: String, text: String)] = [
            ("common word", Self.vocabulary[0]), ("mid word", Self.vocabulary[300]),
            ("rare word", Self.vocabulary[15_000]), ("two words", "\(Self.vocabulary[1]) \(Self.vocabulary[40])"),
            ("phrase", "\"ребята сервер\""), ("prefix", "\(Self.vocabulary[2].prefix(2))*"),
            ("Japanese", "東京タワ"),
        ]
        var generator = SeededGenerator(seed: 7)
        say("| scope | search | results on the first page (mean) | p50 ms | p99 ms | failed (3 s limit) |")
        say("|---|---|---|---|---|---|")
        // A session is in at most 50 rooms (the default `maximumRoomsPerSession`): the widest search there is.
        for (scope, roomCount) in [("\(memberOf) rooms", memberOf), ("1 room", 1), ("50 rooms", 50)] {
            for kind in kinds {
                guard let terms = SearchTerms.query(kind.text) else { continue }
                var samples: [Double] = []
                var found = 0
                var failed = 0
                for round in 0..<(queries + 10) {
                    let chosen = (0..<roomCount).map { _ in "r\(Int.random(in: 0..<rooms, using: &generator))" }
                    let started = ContinuousClock.now
                    // A search past the node's statement timeout fails as it would for a person: counted, and
                    // timed as what it cost.
                    let result = try? await store.search(
                        ChatArchive.SearchQuery(terms: terms, rooms: chosen, limit: SearchRequest.pageSize))
                    let elapsed = (ContinuousClock.now - started) / .milliseconds(1)
                    // The first ten warm the pool and the cache.
                    if round >= 10 {
                        samples.append(elapsed)
                        found += result?.found.count ?? 0
                        if result == nil { failed += 1 }
                    }
                }
                samples.sort()
                let p50 = samples[samples.count / 2]
                let p99 = samples[min(samples.count - 1, samples.count * 99 / 100)]
                say(
                    "| \(scope) | \(kind.name) (`\(kind.text)`) | \(found / max(1, samples.count)) "
                        + "| \(String(format: "%.1f", p50)) | \(String(format: "%.1f", p99)) | \(failed) |")
            }
        }
    }
}

/// A line out at once (print buffers when the output is a pipe, as under `tee`).
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// SplitMix64: the same text for the same message number on every run.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
