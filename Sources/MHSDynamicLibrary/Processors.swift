#if canImport(Glibc)
import Glibc
#endif

/// The machine's processors, for defaults where no count is passed in (a task's
/// configuration carries the count its entry point measured).
public enum Processors {
    /// Processors online now, at least 1.
    public static var online: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }
}
