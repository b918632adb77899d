#ifndef GUARDIAN_CRDKAFKA_SHIM_H
#define GUARDIAN_CRDKAFKA_SHIM_H
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

/* Swift cannot call C variadic functions: one fixed-arity entry point for the dev broker's per-broker
 * "down" (a transport error closes the client's connection when a request of `api_key` arrives). */
static inline rd_kafka_resp_err_t
guardian_mock_broker_push_transport_error(rd_kafka_mock_cluster_t *mcluster, int32_t broker_id, int16_t api_key) {
    return rd_kafka_mock_broker_push_request_error_rtts(mcluster, broker_id, api_key, 1,
                                                        RD_KAFKA_RESP_ERR__TRANSPORT, 0);
}

/* Gives a broker an (empty) error list of its own for `api_key`; the mock consults a broker's own list
 * instead of the cluster's, so this exempts the broker from cluster-wide injected errors. */
static inline rd_kafka_resp_err_t
guardian_mock_broker_own_error_list(rd_kafka_mock_cluster_t *mcluster, int32_t broker_id, int16_t api_key) {
    return rd_kafka_mock_broker_push_request_error_rtts(mcluster, broker_id, api_key, 0);
}
#endif
