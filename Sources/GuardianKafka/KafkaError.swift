import CRdKafka
import GuardianSupport

/// An error from the Kafka client, carrying librdkafka's own code and text where there is one.
public struct KafkaError: GuardianError, Equatable {
    /// What kind of failure this is.
    public enum Kind: String, Sendable {
        case configuration
        case clientCreation = "client_creation"
        case produce
        case queueFull = "queue_full"
        case subscribe
        case poll
        case commit
        case rebalance
        case query
        case timeout
        case transport
        case closed
        case admin
        case controlCommand = "control_command"
        /// The broker cannot answer this request (an API it does not implement, like the dev broker's).
        case unsupported
    }

    /// The kind of failure.
    public let kind: Kind
    /// librdkafka's error code (`rd_kafka_resp_err_t`), when the failure came from librdkafka.
    public let rdkafkaCode: Int32?
    public let message: String

    public var code: String {
        if let rdkafkaCode {
            return "kafka.\(kind.rawValue).\(String(cString: rd_kafka_err2name(rd_kafka_resp_err_t(rdkafkaCode))))"
        }
        return "kafka.\(kind.rawValue)"
    }

    public init(_ kind: Kind, _ message: String, rdkafkaCode: Int32? = nil) {
        self.kind = kind
        self.message = message
        self.rdkafkaCode = rdkafkaCode
    }

    /// Builds an error from a librdkafka response code, appending librdkafka's text to `context`.
    package init(_ kind: Kind, context: String, err: rd_kafka_resp_err_t) {
        let text = String(cString: rd_kafka_err2str(err))
        let mapped: Kind
        switch err {
        case RD_KAFKA_RESP_ERR__TIMED_OUT, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT: mapped = .timeout
        case RD_KAFKA_RESP_ERR__TRANSPORT, RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN: mapped = .transport
        case RD_KAFKA_RESP_ERR__QUEUE_FULL: mapped = .queueFull
        default: mapped = kind
        }
        self.init(mapped, "\(context): \(text)", rdkafkaCode: err.rawValue)
    }

    /// Builds an error from an `rd_kafka_error_t`, destroying it.
    package init(_ kind: Kind, context: String, consuming error: OpaquePointer) {
        let err = rd_kafka_error_code(error)
        let text = String(cString: rd_kafka_error_string(error))
        rd_kafka_error_destroy(error)
        self.init(kind, "\(context): \(text)", rdkafkaCode: err.rawValue)
    }

    /// True for errors where retrying later can succeed (broker down, timeouts, full queue).
    public var isRetriable: Bool {
        switch kind {
        case .timeout, .transport, .queueFull: return true
        default: return false
        }
    }
}
