import Subprocess
import Synchronization
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

extension SlideProbe {
    /// Starts the probe child now, before its slide exists, and runs `body` beside it: the
    /// child's start (the Swift runtime, the command line, OpenSlide's libraries) then
    /// overlaps whatever `body` does first — the token exchange and the download — instead
    /// of following them. `body` hands the slide over with ``StartedChild/problem(with:thumbnail:)``;
    /// a child never given one sees its input end and exits. The child is gone when this returns.
    ///
    /// The slide travels over a socket pair that is the child's standard input (sent with
    /// `MSG_NOSIGNAL`, so a child that died first cannot take the parent with it), and the
    /// time limit runs from the moment it is sent. When the child did not take the slide — it
    /// could not start, or ended before — the slide is probed by a child started for it.
    public func withStartedChild<R>(_ body: (StartedChild) async throws -> R) async throws -> R {
        var ends: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &ends) == 0 else {
            return try await body(StartedChild(probe: self, requests: nil, replies: nil))
        }
        let (ours, theirs) = (ends[0], ends[1])
        let (requests, requestSink) = AsyncStream.makeStream(of: [UInt8].self)
        let (replies, replySink) = AsyncStream.makeStream(of: Outcome?.self)
        let child = StartedChild(probe: self, requests: requestSink, replies: replies)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                replySink.yield(await self.serve(requests, through: ours, childEnd: theirs))
                replySink.finish()
            }
            defer {
                // Unblocks a child still waiting for its slide (it reads the end of its input
                // and exits), and stops one still running (the task's time is up, or the body failed).
                requestSink.finish()
                group.cancelAll()
            }
            return try await body(child)
        }
    }

    /// Runs the child with `childEnd` as its standard input, sends it the first request, and
    /// says how it ended; nil when it ended without having taken a request.
    private func serve(_ requests: AsyncStream<[UInt8]>, through socket: Int32, childEnd: Int32) async -> Outcome? {
        enum Event { case ended(Outcome), sent, notSent, timedOut }
        let executable = self.executable, limit = timeout
        let sent = SentFlag()
        return await withTaskGroup(of: Event?.self) { group in
            group.addTask {
                do {
                    let result = try await Subprocess.run(
                        .path(FilePath(executable)), arguments: ["probe-slide", "--from-standard-input"], environment: .inherit,
                        input: .fileDescriptor(FileDescriptor(rawValue: childEnd), closeAfterSpawningProcess: true),
                        output: .discarded, error: .string(limit: 1 << 20))
                    return .ended(Self.outcome(result.terminationStatus, stderr: result.standardError))
                } catch {
                    if Task.isCancelled { return nil }
                    return .ended(.failedToRun("cannot start \(executable) probe-slide: \(error)"))
                }
            }
            group.addTask {
                defer { close(socket) }
                var iterator = requests.makeAsyncIterator()
                guard let request = await iterator.next() else { return .notSent }
                let written = request.withUnsafeBytes { send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                guard written == request.count else { return .notSent }
                sent.value.store(true, ordering: .sequentiallyConsistent)
                return .sent
            }
            var outcome: Outcome?, decided = false
            while let event = await group.next() {
                if decided { continue }  // a killed child's end, after its time ran out
                switch event {
                case .ended(let ended)?:
                    // Ended before it had its slide: not the slide's doing.
                    outcome = sent.value.load(ordering: .sequentiallyConsistent) ? ended : nil
                    decided = true
                    group.cancelAll()
                case .sent?:
                    group.addTask {
                        do { try await Task.sleep(for: limit) } catch { return nil }
                        return .timedOut
                    }
                case .timedOut?:
                    outcome = .hung(seconds: Double(limit.components.seconds) + Double(limit.components.attoseconds) / 1e18)
                    decided = true
                    group.cancelAll()  // kills the child
                case .notSent?, nil:
                    break
                }
            }
            return outcome
        }
    }

    /// Whether the request reached the child, set by the task that sent it.
    private final class SentFlag: Sendable {
        let value = Atomic<Bool>(false)
    }

    /// A child's end in words, from its exit status and what it wrote on standard error.
    static func outcome(_ status: TerminationStatus, stderr: String) -> Outcome {
        switch status {
        case .exited(0): return .readable
        case .exited(4):
            let message = Self.message(stderr)
            return .refused(Self.stage(stderr) == "opening" ? message : "the slide opens but its pixels cannot be read: \(message)")
        case .exited(let code): return .failedToRun("mhs probe-slide exited with status \(code): \(Self.message(stderr))")
        case .signaled(let signal): return .crashed(signal: signal, stage: Self.stage(stderr), library: Self.crashSite(stderr))
        }
    }

    /// What the child reads on its standard input: the slide's path and the thumbnail's
    /// (empty for none), each ended by a NUL, so any path travels unchanged.
    static func request(path: String, thumbnail: String?) -> [UInt8] {
        Array(path.utf8) + [0] + Array((thumbnail ?? "").utf8) + [0]
    }

    /// The slide's path and the thumbnail's from what the child read; nil when malformed.
    public static func parseRequest(_ bytes: [UInt8]) -> (path: String, thumbnail: String?)? {
        let parts = bytes.split(separator: 0, omittingEmptySubsequences: false)
        guard parts.count == 3, parts[2].isEmpty, !parts[0].isEmpty else { return nil }
        let thumbnail = String(decoding: parts[1], as: UTF8.self)
        return (String(decoding: parts[0], as: UTF8.self), thumbnail.isEmpty ? nil : thumbnail)
    }

    /// A probe child already started by ``SlideProbe/withStartedChild(_:)``, waiting for its slide.
    public struct StartedChild: Sendable {
        let probe: SlideProbe
        let requests: AsyncStream<[UInt8]>.Continuation?
        let replies: AsyncStream<Outcome?>?

        /// Like ``SlideProbe/problem(with:thumbnail:)``, in the child already started; the
        /// first call only (a later one, or one after the child ended, starts a child of its own).
        public func problem(with path: String, thumbnail: String? = nil) async -> Finding? {
            let format = SlideFormat.sniff(path: path)
            if case .unsupported(let what) = format {
                let message = SlideError.unsupportedFormat(path: path, detail: what).description
                return Finding(outcome: .refused(message), message: message)
            }
            var outcome: Outcome?
            if let requests, let replies, case .enqueued = requests.yield(SlideProbe.request(path: path, thumbnail: thumbnail)) {
                requests.finish()
                var iterator = replies.makeAsyncIterator()
                outcome = await iterator.next() ?? nil
            }
            let ended: Outcome
            if let outcome { ended = outcome } else { ended = await probe.check(path, thumbnail: thumbnail) }
            return SlideProbe.describe(ended, format: format).map { Finding(outcome: ended, message: $0) }
        }
    }
}
