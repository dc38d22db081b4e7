#ifndef CHIREDIS_SHIM_H
#define CHIREDIS_SHIM_H
// Only the parts that hiredis 0.14 (Debian bookworm) and 1.x share: the RESP reader and the argv formatter.
#include <hiredis/hiredis.h>
#include <hiredis/read.h>
#endif
