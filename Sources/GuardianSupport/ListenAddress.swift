#if canImport(Glibc)
import Glibc
#endif

/// Checks that a TCP listen address is free before a service commits to it, so a clash (a second
/// worker on the same host) fails at once with the address and the setting to change, instead of a
/// bare `bind(…): Address already in use` after the worker joined its group.
public enum ListenAddress {
    public struct Unavailable: GuardianError {
        public let message: String
        public var code: String { "listen.unavailable" }
    }

    /// Throws `Unavailable` when `host:port` cannot be bound now; `setting` names what to change.
    public static func checkAvailable(host: String, port: Int, setting: String) throws(Unavailable) {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &list)
        guard rc == 0, let first = list else {
            throw Unavailable(message: "cannot listen on \(host):\(port): \(String(cString: gai_strerror(rc))); check \(setting)")
        }
        defer { freeaddrinfo(list) }
        let fd = socket(first.pointee.ai_family, first.pointee.ai_socktype, first.pointee.ai_protocol)
        guard fd >= 0 else { return }  // cannot tell; the server reports its own error
        defer { close(fd) }
        var yes: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        if bind(fd, first.pointee.ai_addr, first.pointee.ai_addrlen) != 0 {
            let reason = errno == EADDRINUSE ? "the address is already in use (another worker or service listens there)" : String(cString: strerror(errno))
            throw Unavailable(message: "cannot listen on \(host):\(port) for /metrics and health: \(reason); set \(setting)")
        }
    }

    /// A loopback TCP port nothing listens on right now (the kernel's pick), for child processes that
    /// each need their own; nil when none can be had.
    public static func freeLoopbackPort() -> Int? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        return bound ? Int(UInt16(bigEndian: addr.sin_port)) : nil
    }
}
