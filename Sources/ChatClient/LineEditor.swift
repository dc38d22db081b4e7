/// The input line: editing, history of sent lines, and the sideways scroll that keeps the cursor visible when the
/// line is wider than the terminal. Nothing typed is ever cut: a narrower terminal only scrolls the view.
public struct LineEditor: Sendable {
    public private(set) var characters: [Character] = []
    /// Index in `characters` the next character goes before.
    public private(set) var cursor = 0
    private var history: [String] = []
    /// Position while walking the history with up/down; `history.count` is the line being typed.
    private var historyIndex = 0
    /// What was being typed before walking the history, given back when walking past the newest entry.
    private var draft: [Character] = []
    /// First character shown, for the sideways scroll.
    private var firstVisible = 0
    public var historyLimit = 500

    public init() {}

    public var text: String { String(characters) }
    public var isEmpty: Bool { characters.isEmpty }

    public mutating func insert(_ character: Character) {
        characters.insert(character, at: cursor)
        cursor += 1
    }

    public mutating func insert(_ text: String) { for character in text { insert(character) } }

    /// A typed code point: a combining mark, variation selector or joiner belongs to the character before it,
    /// so that one user-perceived character stays one (one cursor step, one backspace).
    public mutating func insert(scalar: Unicode.Scalar) {
        if cursor > 0 {
            let merged = String(characters[cursor - 1]) + String(scalar)
            if merged.count == 1 {
                characters[cursor - 1] = Character(merged)
                return
            }
        }
        insert(Character(scalar))
    }

    public mutating func backspace() {
        guard cursor > 0 else { return }
        cursor -= 1
        characters.remove(at: cursor)
    }

    public mutating func deleteForward() {
        guard cursor < characters.count else { return }
        characters.remove(at: cursor)
    }

    /// Ctrl-W: deletes the word before the cursor.
    public mutating func deleteWordBackward() {
        while cursor > 0, characters[cursor - 1] == " " { backspace() }
        while cursor > 0, characters[cursor - 1] != " " { backspace() }
    }

    /// Ctrl-U: deletes everything before the cursor.
    public mutating func deleteToStart() {
        characters.removeFirst(cursor)
        cursor = 0
    }

    public mutating func left() { cursor = max(0, cursor - 1) }
    public mutating func right() { cursor = min(characters.count, cursor + 1) }
    public mutating func home() { cursor = 0 }
    public mutating func end() { cursor = characters.count }

    /// Replaces the whole line (completion, history) and puts the cursor at its end.
    public mutating func replace(with text: String, cursorAt position: Int? = nil) {
        characters = Array(text)
        cursor = min(position ?? characters.count, characters.count)
    }

    public mutating func historyUp() {
        guard historyIndex > 0 else { return }
        if historyIndex == history.count { draft = characters }
        historyIndex -= 1
        replace(with: history[historyIndex])
    }

    public mutating func historyDown() {
        guard historyIndex < history.count else { return }
        historyIndex += 1
        if historyIndex == history.count {
            characters = draft
            cursor = characters.count
        } else {
            replace(with: history[historyIndex])
        }
    }

    /// Takes the line out of the editor (Enter), remembering it for up/down unless it is a secret (a password, or
    /// a command that carries one).
    public mutating func submit(remember: Bool = true) -> String {
        let line = text
        if remember, !line.isEmpty, history.last != line {
            history.append(line)
            if history.count > historyLimit { history.removeFirst(history.count - historyLimit) }
        }
        historyIndex = history.count
        draft = []
        characters = []
        cursor = 0
        firstVisible = 0
        return line
    }

    /// What to show in `columns` columns and the column the cursor is at. Keeps the cursor inside the view,
    /// scrolling sideways as little as it can; the last column is kept free for the cursor at the end.
    public mutating func view(columns: Int) -> (text: String, cursorColumn: Int) {
        let columns = max(2, columns)
        firstVisible = min(firstVisible, cursor)
        while firstVisible < cursor,
            DisplayWidth.of(characters[firstVisible..<cursor].map { String($0) }.joined()) > columns - 1
        {
            firstVisible += 1
        }
        // Show as much as possible: scroll back left when the line got shorter (after a resize or deletes).
        while firstVisible > 0,
            DisplayWidth.of(String(characters[(firstVisible - 1)...])) <= columns - 1
        {
            firstVisible -= 1
        }
        let visible = DisplayWidth.prefix(of: String(characters[firstVisible...]), fitting: columns)
        let cursorColumn = DisplayWidth.of(String(characters[firstVisible..<cursor]))
        return (String(visible), cursorColumn)
    }
}
