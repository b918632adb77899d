#ifndef GUARDIAN_CRDKAFKA_SHIM_H
#define GUARDIAN_CRDKAFKA_SHIM_H
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#endif
