import GuardianKafka

/// A control command for the dev broker, as sent one per line over its control port or stdin.
public enum DevBrokerCommand: Equatable, Sendable {
    case status
    case help
    /// `down all|ID`
    case down(broker: Int32?)
    /// `up all|ID`
    case up(broker: Int32?)
    /// `rtt all|ID MS`
    case rtt(broker: Int32?, milliseconds: Int)
    /// `topic NAME PARTITIONS [REPLICATION]`
    case createTopic(name: String, partitions: Int, replicationFactor: Int)
    /// `errors API_KEY CODE[,CODE...]`
    case pushErrors(apiKey: Int16, codes: [Int32])
    /// `clear-errors API_KEY`
    case clearErrors(apiKey: Int16)

    /// The text `help` prints.
    public static let usage = """
        commands: status | down all|ID | up all|ID | rtt all|ID MS | topic NAME PARTITIONS [REPLICATION] \
        | errors API_KEY CODE[,CODE...] | clear-errors API_KEY | help
        """

    /// Parses one line. Errors name the offending word and show the usage.
    public static func parse(_ line: String) throws(KafkaError) -> DevBrokerCommand {
        let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard let verb = words.first?.lowercased() else { throw bad("empty command") }
        let args = Array(words.dropFirst())

        func broker(_ i: Int) throws(KafkaError) -> Int32? {
            guard i < args.count else { throw bad("'\(verb)' needs a broker id or 'all'") }
            if args[i].lowercased() == "all" { return nil }
            guard let id = Int32(args[i]) else { throw bad("'\(args[i])' is not a broker id or 'all'") }
            return id
        }
        func int(_ i: Int, _ what: String) throws(KafkaError) -> Int {
            guard i < args.count, let v = Int(args[i]) else { throw bad("'\(verb)' needs \(what) as a number") }
            return v
        }
        func arity(_ range: ClosedRange<Int>) throws(KafkaError) {
            if !range.contains(args.count) { throw bad("'\(verb)' takes \(range.lowerBound == range.upperBound ? "\(range.lowerBound)" : "\(range.lowerBound) to \(range.upperBound)") argument(s), got \(args.count)") }
        }

        switch verb {
        case "status": try arity(0...0); return .status
        case "help": return .help
        case "down": try arity(1...1); return .down(broker: try broker(0))
        case "up": try arity(1...1); return .up(broker: try broker(0))
        case "rtt": try arity(2...2); return .rtt(broker: try broker(0), milliseconds: try int(1, "milliseconds"))
        case "topic":
            try arity(2...3)
            return .createTopic(name: args[0], partitions: try int(1, "a partition count"),
                                replicationFactor: args.count == 3 ? try int(2, "a replication factor") : 1)
        case "errors":
            try arity(2...2)
            guard let key = Int16(args[0]) else { throw bad("'\(args[0])' is not a Kafka API key (e.g. 0 Produce, 8 OffsetCommit)") }
            var codes: [Int32] = []
            for part in args[1].split(separator: ",") {
                guard let c = Int32(part) else { throw bad("'\(part)' is not a Kafka error code") }
                codes.append(c)
            }
            return .pushErrors(apiKey: key, codes: codes)
        case "clear-errors":
            try arity(1...1)
            guard let key = Int16(args[0]) else { throw bad("'\(args[0])' is not a Kafka API key") }
            return .clearErrors(apiKey: key)
        default:
            throw bad("unknown command '\(verb)'")
        }
    }

    private static func bad(_ why: String) -> KafkaError {
        KafkaError(.controlCommand, "\(why). \(usage)")
    }

    /// Applies the command to `broker` and returns the reply text.
    public func apply(to broker: DevBroker) throws(KafkaError) -> String {
        switch self {
        case .status: return broker.status()
        case .help: return Self.usage
        case .down(let id): try broker.setDown(id)
        case .up(let id): try broker.setUp(id)
        case .rtt(let id, let ms): try broker.setRTT(id, milliseconds: ms)
        case .createTopic(let name, let partitions, let rf): try broker.createTopic(name, partitions: partitions, replicationFactor: rf)
        case .pushErrors(let key, let codes): broker.pushRequestErrors(apiKey: key, errors: codes)
        case .clearErrors(let key): broker.clearRequestErrors(apiKey: key)
        }
        return broker.status()
    }
}
