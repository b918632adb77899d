/// When the spool forces its writes to disk.
public enum SpoolSyncPolicy: Sendable, Equatable {
    /// After every record: nothing acknowledged is lost on power failure; slowest.
    case everyRecord
    /// At most this often (the publisher's flusher calls `sync()`); a crash of the machine may lose the
    /// last interval, a crash of the process loses nothing.
    case interval(Duration)
    /// Only when segments roll and on close; the OS decides otherwise.
    case never
}
