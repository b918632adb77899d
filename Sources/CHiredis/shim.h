#ifndef GUARDIAN_CHIREDIS_SHIM_H
#define GUARDIAN_CHIREDIS_SHIM_H
#include <hiredis/hiredis.h>
#endif
