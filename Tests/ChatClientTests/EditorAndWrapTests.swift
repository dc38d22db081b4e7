import ChatClient
import Testing

@Suite("Input line, wrapping and completion")
struct EditorAndWrapTests {
    @Test("wide characters and emoji take two columns; wrapping keeps every character and fits the width")
    func wrapping() {
        #expect(DisplayWidth.of("abc") == 3)
        #expect(DisplayWidth.of("你好") == 4)
        #expect(DisplayWidth.of("👍") == 2)
        #expect(DisplayWidth.of("👍🏽") == 2)
        #expect(DisplayWidth.of("e\u{301}") == 1)
        let text = "こんにちは世界 hello 👋🏽 wörld ❤️ Здравствуйте"
        for width in [3, 5, 8, 13, 40] {
            let lines = DisplayWidth.wrap(text, columns: width)
            #expect(lines.allSatisfy { DisplayWidth.of($0) <= width }, "width \(width): \(lines)")
            #expect(lines.joined().filter { $0 != " " } == text.filter { $0 != " " }, "width \(width): \(lines)")
        }
        #expect(DisplayWidth.wrap("the quick brown fox", columns: 10) == ["the quick", "brown fox"])
    }

    @Test("the input line scrolls sideways to keep the cursor in view and never loses what was typed")
    func sidewaysScroll() {
        var editor = LineEditor()
        let typed = "0123456789abcdefghij世界"
        editor.insert(typed)
        var view = editor.view(columns: 10)
        #expect(DisplayWidth.of(view.text) <= 10 && view.text.hasSuffix("世界"))
        #expect(view.cursorColumn == DisplayWidth.of(view.text))
        editor.home()
        view = editor.view(columns: 10)
        #expect(view.text.hasPrefix("0123") && view.cursorColumn == 0)
        // A resize to a narrower, then a wider terminal: same text, cursor still visible.
        editor.end()
        for columns in [6, 40] {
            view = editor.view(columns: columns)
            #expect(view.cursorColumn < columns && editor.text == typed)
        }
        #expect(view.text == typed, "a wide enough line shows everything again")
    }

    @Test("editing: combining marks join their letter, backspace removes one character, history walks sent lines")
    func editing() {
        var editor = LineEditor()
        editor.insert(scalar: "e")
        editor.insert(scalar: "\u{301}")
        #expect(editor.characters.count == 1)
        editor.backspace()
        #expect(editor.isEmpty)
        editor.insert("first")
        _ = editor.submit()
        editor.insert("second")
        _ = editor.submit()
        editor.insert("draft")
        editor.historyUp()
        #expect(editor.text == "second")
        editor.historyUp()
        #expect(editor.text == "first")
        editor.historyDown()
        editor.historyDown()
        #expect(editor.text == "draft")
        editor.deleteWordBackward()
        #expect(editor.isEmpty)
    }

    @Test("Tab completes commands, #rooms and names")
    func completion() {
        let names = ["bob", "Bobby", "carol"]
        #expect(Completion.complete("/jo", cursor: 3, names: names, rooms: [])?.line == "/join ")
        #expect(
            Completion.complete("/join #de", cursor: 9, names: names, rooms: ["dev", "lobby"])?.line == "/join #dev ")
        #expect(Completion.complete("car", cursor: 3, names: names, rooms: [])?.line == "carol: ")
        // Moderation commands complete, and a name after them.
        #expect(Completion.complete("/kic", cursor: 4, names: names, rooms: [])?.line == "/kick ")
        #expect(Completion.complete("/kick car", cursor: 9, names: names, rooms: [])?.line == "/kick carol ")
        // `/room` completes, and what it does after it (registered rooms).
        #expect(Completion.complete("/room tr", cursor: 8, names: names, rooms: [])?.line == "/room transfer ")
        #expect(
            Completion.complete("hi bo", cursor: 5, names: names, rooms: [])?.line == "hi bob",
            "common prefix of bob and Bobby")
        #expect(Completion.complete("zz", cursor: 2, names: names, rooms: []) == nil)
    }
}
