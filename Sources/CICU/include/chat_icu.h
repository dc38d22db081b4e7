// A few of ICU's functions behind plain C types. Swift's Foundation carries its own copy of ICU whose headers
// define the same C types differently, so ICU's own headers cannot be imported into Swift next to Foundation;
// only this file sees them.
#ifndef CHAT_ICU_H
#define CHAT_ICU_H

#include <stdint.h>

/// NFKC case folding of UTF-16 text. Returns the length written, or the length needed when `capacity` is too
/// small; negative on any other error.
int32_t chat_icu_fold(const uint16_t *text, int32_t length, uint16_t *out, int32_t capacity);

/// UTS #39's skeleton of UTF-16 text (as above for the return value).
int32_t chat_icu_skeleton(const uint16_t *text, int32_t length, uint16_t *out, int32_t capacity);

/// The spoof checker's verdict: 0 when fine, else CHAT_ICU_INVISIBLE and/or CHAT_ICU_MIXED_SCRIPTS; negative on
/// error.
int32_t chat_icu_check(const uint16_t *text, int32_t length);

/// Whether `length` more bytes in `capacity` means the buffer was too small (ICU's U_BUFFER_OVERFLOW_ERROR).
#define CHAT_ICU_INVISIBLE 1
#define CHAT_ICU_MIXED_SCRIPTS 2

#endif
