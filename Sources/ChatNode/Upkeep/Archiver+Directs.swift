import ChatArchive
import ChatCore
import ChatStore

/// The archiver's share of direct messages: users' direct logs (`ChatKeys.directLog`), read as rooms' streams are,
/// but found by marks that stay in Redis until their logs are archived (there is no index of logs to sweep), and
/// trimmed as they are archived. docs/architecture.md, "The archive", says why.
extension Archiver {
    /// Adds marked users to the pending ones, oldest marks first. A user read while their mark was young is not
    /// read again until the mark is old enough to remove, or is renewed.
    func takeDirectMarks(_ state: inout LeaderState) async throws {
        let (now, marks) = try await store.directArchiveMarks(count: settings.roomsPerPass * 4).get()
        // A mark younger than this may announce a message the direct script has not logged yet.
        state.directsSettled = now - 2000
        for (user, mark) in marks {
            if state.readYoung[user] == mark, (Int64(mark) ?? 0) >= state.directsSettled { continue }
            state.pendingDirects[user] = mark
        }
    }

    /// Adds what was read of users' logs to `batch`, with their cursors and gaps; returns the users whose reads were
    /// full (more waits).
    func add(
        _ pages: [DirectArchivePage], of users: [String], to batch: inout ArchiveBatch, state: LeaderState
    ) -> Set<String> {
        var full: Set<String> = []
        for (user, page) in zip(users, pages) {
            let stream = Self.directStream(user)
            let cursor = state.cursors[stream] ?? .zero
            if let trimmed = page.trimmedPast {
                // The archive is behind what was trimmed from the log once archived (restored, or failed over).
                batch.gaps.append(
                    ArchiveBatch.Gap(room: stream, after: cursor, resumedAt: page.entries.first?.id ?? trimmed))
            }
            for entry in page.entries {
                batch.addDirect(
                    entry: entry.payload, id: entry.id, recipientKey: user,
                    senderAuthor: entry.senderAuthor.flatMap { $0.isEmpty ? nil : $0 },
                    recipientAuthor: entry.recipientIdentity.isEmpty
                        ? nil : SessionHandler.authorID(entry.recipientIdentity))
            }
            if let last = page.entries.last { batch.cursors[stream] = last.id }
            if page.entries.count >= settings.entriesPerRoom {
                full.insert(user)
            } else if page.lost > 0 {
                // Messages the full log did not take (delivered, never archived) came after all it held: recorded
                // once it is read to its end, with how many.
                let end = page.entries.last?.id ?? cursor
                batch.gaps.append(ArchiveBatch.Gap(room: stream, after: end, resumedAt: end, lost: page.lost))
            }
        }
        return full
    }

    /// After the batch is committed: the logs read lose what the archive now has, their lost counts what was
    /// recorded, and the marks of those read to their end go (unless renewed since, or too young). Their cursors
    /// are not kept in memory: most logs are read once.
    func settle(
        _ pages: [DirectArchivePage], of users: [String], full: Set<String>, state: inout LeaderState
    ) async throws {
        let settled = state.directsSettled
        let entries = zip(users, pages).map { user, page in
            let done = !full.contains(user)
            let cursor = state.cursors[Self.directStream(user)]
            return (
                user: user, mark: done ? state.pendingDirects[user] : nil,
                through: page.entries.last?.id ?? cursor, lostRecorded: done ? page.lost : 0
            )
        }
        try await store.settleDirectArchive(entries, settled: settled).get()
        for user in users where !full.contains(user) {
            let mark = state.pendingDirects.removeValue(forKey: user)
            state.readYoung[user] = mark.flatMap { (Int64($0) ?? 0) >= settled ? $0 : nil }
            state.cursors[Self.directStream(user)] = nil
        }
    }
}
