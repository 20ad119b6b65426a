import Foundation
import MHSTransport

/// Download progress for people and for log tabs: a bar on a terminal, otherwise a line
/// every few seconds with MB, MB/s and ETA.
final class ProgressPrinter: @unchecked Sendable {
    // @unchecked: called from one download at a time; `last` is only touched there.
    let console: Console
    let tty = isatty(1) == 1
    var last = 0.0

    init(console: Console) { self.console = console }

    func report(_ p: DownloadProgress) {
        let done = p.total.map { p.received >= $0 } ?? false
        guard tty || p.elapsed - last >= 5 || done else { return }
        last = p.elapsed
        let mb = Double(p.received) / 1e6
        let rate = p.elapsed > 0 ? mb / p.elapsed : 0
        if let total = p.total, total > 0 {
            let fraction = Double(p.received) / Double(total)
            let eta = rate > 0 ? (Double(total) / 1e6 - mb) / rate : 0
            if tty {
                let width = 30
                let filled = Int(fraction * Double(width))
                let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
                FileHandle.standardOutput.write(Data(String(format: "\r[%@] %5.1f%% %.1f/%.1f MB %.1f MB/s ETA %.0f s", bar, fraction * 100, mb, Double(total) / 1e6, rate, eta).utf8))
                if done { FileHandle.standardOutput.write(Data("\n".utf8)) }
            } else if !done {
                console.say(String(format: "download: %.1f of %.1f MB (%.0f%%), %.1f MB/s, ETA %.0f s", mb, Double(total) / 1e6, fraction * 100, rate, eta))
            }
        } else if !done {
            console.say(String(format: "download: %.1f MB, %.1f MB/s", mb, rate))
        }
    }
}
