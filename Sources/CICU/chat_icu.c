#include "chat_icu.h"

#include <pthread.h>
#include <unicode/unorm2.h>
#include <unicode/uspoof.h>

// One checker for the process, configured once; ICU's checks only read it afterwards, from any thread.
static USpoofChecker *checker = NULL;
static pthread_once_t checker_once = PTHREAD_ONCE_INIT;

static void open_checker(void) {
    UErrorCode status = U_ZERO_ERROR;
    USpoofChecker *opened = uspoof_open(&status);
    if (U_FAILURE(status)) return;
    uspoof_setChecks(opened, USPOOF_RESTRICTION_LEVEL | USPOOF_INVISIBLE, &status);
    uspoof_setRestrictionLevel(opened, USPOOF_MODERATELY_RESTRICTIVE);
    if (U_FAILURE(status)) {
        uspoof_close(opened);
        return;
    }
    checker = opened;
}

static USpoofChecker *shared_checker(void) {
    pthread_once(&checker_once, open_checker);
    return checker;
}

static int32_t result(int32_t length, UErrorCode status) {
    if (status == U_BUFFER_OVERFLOW_ERROR || U_SUCCESS(status)) return length;
    return -1;
}

int32_t chat_icu_fold(const uint16_t *text, int32_t length, uint16_t *out, int32_t capacity) {
    UErrorCode status = U_ZERO_ERROR;
    const UNormalizer2 *folding = unorm2_getNFKCCasefoldInstance(&status);
    if (U_FAILURE(status)) return -1;
    int32_t written = unorm2_normalize(folding, (const UChar *)text, length, (UChar *)out, capacity, &status);
    return result(written, status);
}

int32_t chat_icu_skeleton(const uint16_t *text, int32_t length, uint16_t *out, int32_t capacity) {
    USpoofChecker *spoof = shared_checker();
    if (spoof == NULL) return -1;
    UErrorCode status = U_ZERO_ERROR;
    int32_t written = uspoof_getSkeleton(spoof, 0, (const UChar *)text, length, (UChar *)out, capacity, &status);
    return result(written, status);
}

int32_t chat_icu_check(const uint16_t *text, int32_t length) {
    USpoofChecker *spoof = shared_checker();
    if (spoof == NULL) return -1;
    UErrorCode status = U_ZERO_ERROR;
    int32_t verdict = uspoof_check(spoof, (const UChar *)text, length, NULL, &status);
    if (U_FAILURE(status)) return -1;
    int32_t found = 0;
    if (verdict & USPOOF_INVISIBLE) found |= CHAT_ICU_INVISIBLE;
    if (verdict & USPOOF_RESTRICTION_LEVEL) found |= CHAT_ICU_MIXED_SCRIPTS;
    return found;
}
