#if canImport(Glibc)
import Glibc
#endif

/// The server side of this process's TCP connections on given local ports (the dev broker's brokers
/// live in this process), found through /proc/self/fd.
///
/// Kept apart from the files that import CRdKafka: librdkafka's headers include <sys/socket.h>, and in
/// a release (whole-module) build the socket constants then resolved to that module and went missing
/// from files that do not import it.
enum AcceptedConnections {
    /// Shuts down (both directions) every accepted connection whose local port is in `localPorts`; the
    /// owner (librdkafka's mock) sees the connection end and closes it. Listeners are left alone:
    /// their local port is the same, but they accept connections rather than carry one.
    static func shutDown(localPorts: Set<UInt16>) {
        guard !localPorts.isEmpty, let dir = opendir("/proc/self/fd") else { return }
        defer { closedir(dir) }
        let own = dirfd(dir)
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard let fd = Int32(name), fd != own else { continue }
            var st = stat()
            guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFSOCK else { continue }
            var addr = sockaddr_in()
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let named = withUnsafeMutablePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
            }
            guard named == 0, addr.sin_family == sa_family_t(AF_INET), localPorts.contains(UInt16(bigEndian: addr.sin_port)) else { continue }
            var listening: Int32 = 0
            var size = socklen_t(MemoryLayout<Int32>.size)
            guard getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &size) == 0, listening == 0 else { continue }
            shutdown(fd, Int32(SHUT_RDWR))
        }
    }
}
