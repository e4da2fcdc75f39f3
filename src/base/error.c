/* Texts of the error codes in base/error.h. System errors take glibc's description through
 * strerrordesc_np(), which (unlike strerror) returns static storage and is safe from any thread:
 * messages built from it in a model thread and a loop thread at once stay intact. */
#include "base/error.h"

#include <string.h>

const char *cs_strerror(int code) {
    switch (code) {
    case 0:
        return "success";
#define CS__ERROR(name, value, text)                                                               \
    case name:                                                                                     \
        if (text)                                                                                  \
            return text;                                                                           \
        break;
        CS_ERRORS(CS__ERROR)
#undef CS__ERROR
    default:
        break;
    }
    const char *s = code < 0 && code > -4096 ? strerrordesc_np(-code) : NULL;
    return s ? s : "unknown error";
}
