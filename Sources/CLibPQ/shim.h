#ifndef GUARDIAN_CLIBPQ_SHIM_H
#define GUARDIAN_CLIBPQ_SHIM_H
#include <libpq-fe.h>
#endif
