import Foundation
import UnixSignals

/// SIGTERM and SIGINT as the run's third racer, through swift-service-lifecycle's
/// `UnixSignalsSequence` — the one way mhs handles signals (the emulator's Hummingbird
/// service group uses the same). The platform sends SIGTERM when it stops a task.
enum SignalWatcher {
    /// Starts trapping SIGTERM and SIGINT (call it first thing, so none is missed).
    static func trap() async -> UnixSignalsSequence { await UnixSignalsSequence(trapping: .sigterm, .sigint) }

    /// The first SIGTERM or SIGINT `signals` trapped, or nil when the waiting task is cancelled.
    static func first(of signals: UnixSignalsSequence) async -> Int32? {
        for await signal in signals {
            return signal == .sigterm ? SIGTERM : SIGINT
        }
        return nil
    }

    /// From now on SIGTERM and SIGINT are ignored: the run is finishing (the report, the
    /// debug bundle) and must not die half-way through writing them.
    static func ignoreFromNowOn() {
        signal(SIGTERM, SIG_IGN)
        signal(SIGINT, SIG_IGN)
    }
}
