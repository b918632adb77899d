#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization

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

    public static func run(_ executable: String, _ arguments: [String], environment: [String: String], stdin: String? = nil,
                           timeout: Duration) async throws -> Result {
        let child = try Child(executable, arguments, environment: environment, stdin: stdin)
        return try await child.wait(timeout: timeout)
    }
}

/// A running child process (posix_spawn), its stdout and stderr in files of its own. Every wait has a
/// deadline after which the child is killed and the result says so; a child still running when this
/// value is released is killed and reaped, so no test leaves one behind.
public final class Child: @unchecked Sendable {
    public let pid: pid_t
    private let directory: URL
    /// Where the child's stdout and stderr go.
    public let stdoutPath: String, stderrPath: String
    /// The wait status once reaped.
    private let reaped = Mutex<Int32?>(nil)

    /// Starts `executable` with `arguments` and exactly `environment`; stdin is `stdin`, or /dev/null.
    public init(_ executable: String, _ arguments: [String], environment: [String: String], stdin: String? = nil) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("child-\(UInt64.random(in: 0...UInt64.max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        stdoutPath = directory.appendingPathComponent("stdout").path
        stderrPath = directory.appendingPathComponent("stderr").path

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var input = "/dev/null"
        if let stdin {
            input = directory.appendingPathComponent("stdin").path
            try Data(stdin.utf8).write(to: URL(fileURLWithPath: input))
        }
        posix_spawn_file_actions_addopen(&actions, 0, input, O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, &actions, nil, argv, envp)
        guard rc == 0 else {
            try? FileManager.default.removeItem(at: directory)
            throw POSIXError(POSIXErrorCode(rawValue: rc) ?? .EIO)
        }
        self.pid = pid
    }

    deinit {
        if isRunning {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        }
        try? FileManager.default.removeItem(at: directory)
    }

    /// Whether the child has not exited yet (reaps it when it has).
    public var isRunning: Bool {
        reaped.withLock { r in
            if r != nil { return false }
            var status: Int32 = 0
            let got = waitpid(pid, &status, WNOHANG)
            if got == pid { r = status; return false }
            return got == 0
        }
    }

    /// Sends `signal` (SIGTERM, SIGKILL, …) unless the child is gone.
    public func signal(_ signal: Int32) {
        if isRunning { kill(pid, signal) }
    }

    public var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    public var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    /// Waits for the child to exit, polling with `Task.sleep`; past `timeout` it is killed with SIGKILL
    /// and the result has `timedOut` set. The status is the exit code, or 128 + the signal, as a shell says.
    public func wait(timeout: Duration) async throws -> ChildProcess.Result {
        let deadline = ContinuousClock.now + timeout
        var timedOut = false
        while isRunning {
            if ContinuousClock.now >= deadline && !timedOut {
                timedOut = true
                kill(pid, SIGKILL)
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        let status = reaped.withLock { $0 } ?? 0
        let exited = (status & 0x7f) == 0
        let code = exited ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return ChildProcess.Result(status: code, stdout: stdout, stderr: stderr, timedOut: timedOut)
    }
}

/// Runs `body` and waits for it for at most `deadline` (generous: a bound on hanging, not a speed
/// target). Returns its result, or nil when it had not finished by then; the caller records the issue.
public func finishes<T: Sendable>(within deadline: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T? {
    let task = Task { try await body() }
    let done = Mutex(false)
    let watcher = Task {
        _ = try? await task.value
        done.withLock { $0 = true }
    }
    let end = ContinuousClock.now + deadline
    while !done.withLock({ $0 }) && ContinuousClock.now < end { try await Task.sleep(for: .milliseconds(20)) }
    guard done.withLock({ $0 }) else { watcher.cancel(); return nil }
    return try await task.value
}
