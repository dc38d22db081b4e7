#include <stddef.h>
#include <stdint.h>

/// libFuzzer's driver (LLVM 11 and later), for a program whose `main` is its own: SwiftPM names an executable's
/// entry point itself, so the harness's top-level code starts the fuzzer instead of libFuzzer's `main`.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
