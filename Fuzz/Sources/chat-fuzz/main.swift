import CFuzzDriver

#if canImport(Glibc)
import Glibc
#endif

// Built with `-sanitize=fuzzer,address` (scripts/fuzz.sh): this top-level code is the program's entry point (SwiftPM
// names it) and hands over to libFuzzer's driver, with libFuzzer's own arguments. One binary holds every harness;
// CHAT_FUZZ_TARGET picks the one a run fuzzes (one build and one link for all of them, which keeps the test
// command's short runs short).

let selected: FuzzTarget = {
    let name = getenv("CHAT_FUZZ_TARGET").map { String(cString: $0) } ?? ""
    guard let target = FuzzTarget(rawValue: name) else {
        let known = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
        fatalError("set CHAT_FUZZ_TARGET to one of: \(known)")
    }
    return target
}()

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(
    LLVMFuzzerRunDriver(&argc, &argv) { data, count in
        let bytes = count == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: count))
        selected.run(bytes)
        return 0
    })
