#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Runs a command to its end with posix_spawn and waitpid, stdout and stderr captured in files.
///
/// Not Foundation's `Process`: with many processes started from concurrent tests, Foundation on Linux
/// occasionally misses a child's exit (the child stays a zombie, `isRunning` stays true and
/// `waitUntilExit` spins forever) — seen once in a full run. This child is reaped here, and polled
/// with `Task.sleep`, so no test thread blocks.
public enum ChildProcess {
    public struct Result: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
        /// True when it ran past the timeout and was killed.
        public var timedOut: Bool
    }

    public static func run(_ executable: String, _ arguments: [String], environment: [String: String], timeout: Duration) async throws -> Result {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("child-\(UInt64.random(in: 0...UInt64.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("stdout").path, err = dir.appendingPathComponent("stderr").path

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, err, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, &actions, nil, argv, envp)
        guard rc == 0 else { throw POSIXError(POSIXErrorCode(rawValue: rc) ?? .EIO) }

        var status: Int32 = 0
        var timedOut = false
        let deadline = ContinuousClock.now + timeout
        while true {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid { break }
            if r < 0 && errno != EINTR { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .ECHILD) }
            if ContinuousClock.now >= deadline && !timedOut {
                timedOut = true
                kill(pid, SIGKILL)
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        // Exit code, or 128 + signal as a shell reports it.
        let exited = (status & 0x7f) == 0
        let code = exited ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return Result(status: code, stdout: (try? String(contentsOfFile: out, encoding: .utf8)) ?? "",
                      stderr: (try? String(contentsOfFile: err, encoding: .utf8)) ?? "", timedOut: timedOut)
    }
}
