#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization

/// A loopback port with nothing listening on it, for a test to connect to (refused) or to hand to a
/// child process to bind. It lies below the kernel's ephemeral range (`ip_local_port_range`), from
/// which every bind to port 0 and every outgoing connection draws, so no other socket of the parallel
/// suite lands on it by chance; no two calls in this process hand out the same port.
public func closedLoopbackPort() throws -> Int {
    try LoopbackPorts.reserve()
}

enum LoopbackPorts {
    private static let handedOut = Mutex<Set<Int>>([])

    /// A port in [10000, start of the ephemeral range) that binds now and was not handed out before.
    static func reserve() throws -> Int {
        let range = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8))?
            .split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).compactMap { Int($0) } ?? []
        let low = 10_000, high = max(low + 1000, range.first ?? 32768) - 1
        for _ in 0..<500 {
            let candidate = Int.random(in: low...high)
            let taken = handedOut.withLock { used in
                if used.contains(candidate) || !canBind(port: candidate) { return true }
                used.insert(candidate)
                return false
            }
            if !taken { return candidate }
        }
        throw PrivateServerError(message: "no free loopback port between \(low) and \(high)")
    }

    static func canBind(port: Int) -> Bool { onLoopbackSocket(port: port, bind) }

    /// Opens a TCP socket, calls `operation` (bind or connect) with 127.0.0.1:`port`, closes it; true on success.
    static func onLoopbackSocket(port: Int, _ operation: (Int32, UnsafePointer<sockaddr>, socklen_t) -> Int32) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = UInt16(port).bigEndian
        addr.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { operation(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }
}
