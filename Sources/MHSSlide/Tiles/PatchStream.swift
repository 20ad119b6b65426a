import AsyncAlgorithms
import Foundation
import MHSDynamicLibrary
import MHSImaging
import Synchronization

/// One patch of a grid.
public struct Patch: Sendable {
    public let column: Int
    public let row: Int
    /// Level-0 origin.
    public let x: Int
    public let y: Int
    /// Level-0 side.
    public let extent: Double
    /// `patchSize` x `patchSize` straight RGBA.
    public let image: RGBAImage
    /// The tissue share under the patch, when a mask was given.
    public let tissueFraction: Double?
    /// Which decoder read it.
    public let path: Slide.ReadPath
    /// The JPEG decoding reduction used (1: decoded in full; 2, 4 or 8: in the DCT domain).
    public var decodeScale: Int = 1
}

/// Every patch of a grid (optionally only those with enough tissue) as an `AsyncSequence`,
/// read by `concurrency` workers. Back-pressure: each worker hands over a handful of
/// patches (`handoff`, default 1) and waits until the consumer takes them, so at most
/// `concurrency × handoff` patches are in flight and memory does not grow with the slide.
/// Patches arrive in no fixed order; each carries its place.
public struct PatchStream: AsyncSequence, Sendable {
    public typealias Element = Patch

    public let slide: Slide
    public let grid: PatchGrid
    public let mask: TissueMask?
    public let minimumTissueFraction: Double
    public let concurrency: Int
    /// Whether a grid coarser than its level by 2x or more is decoded smaller in the DCT
    /// domain (``PatchGrid/dctScale``) where the direct path allows.
    public let scaledDecoding: Bool
    /// Patches a worker gathers before handing them over (fewer task switches).
    public let handoff: Int
    /// The cells that will be read, in row order, with their tissue share (worked out once).
    public let cells: [(column: Int, row: Int, tissue: Double?)]
    /// Time spent reading (decoding, resampling), summed over the workers.
    public let statistics = ReadStatistics()

    /// Busy time of the readers, for utilisation reports.
    public final class ReadStatistics: Sendable {
        private let state = Mutex((busy: Duration.zero, patches: 0))
        public init() {}
        func add(_ d: Duration) { state.withLock { $0.busy += d; $0.patches += 1 } }
        /// Reading time summed over all workers.
        public var busy: Duration { state.withLock { $0.busy } }
        /// Patches read.
        public var patches: Int { state.withLock { $0.patches } }
    }

    /// - Parameters:
    ///   - mask: with `minimumTissueFraction` > 0, patches with less tissue are skipped.
    ///   - concurrency: parallel readers (default: one per core).
    ///   - scaledDecoding: decode at 1/2, 1/4 or 1/8 in the DCT domain when the grid is that much
    ///     coarser than its level (default); off reads every pixel and area-averages.
    public init(
        slide: Slide, grid: PatchGrid, mask: TissueMask? = nil, minimumTissueFraction: Double = 0,
        concurrency: Int = Processors.online, handoff: Int = 1, scaledDecoding: Bool = true
    ) {
        self.scaledDecoding = scaledDecoding
        self.handoff = Swift.max(1, handoff)
        var cells: [(column: Int, row: Int, tissue: Double?)] = []
        cells.reserveCapacity(grid.count)
        for row in 0..<grid.rows {
            for column in 0..<grid.columns {
                let o = grid.origin(column: column, row: row)
                let t = mask?.fraction(x: Double(o.x), y: Double(o.y), width: grid.extent, height: grid.extent)
                if let t, minimumTissueFraction > 0, t < minimumTissueFraction { continue }
                cells.append((column, row, t))
            }
        }
        self.cells = cells
        self.slide = slide
        self.grid = grid
        self.mask = mask
        self.minimumTissueFraction = minimumTissueFraction
        self.concurrency = Swift.max(1, concurrency)
    }

    /// Reads one cell.
    public func read(column: Int, row: Int, tissue: Double? = nil) throws(SlideError) -> Patch {
        let start = ContinuousClock.now
        defer { statistics.add(ContinuousClock.now - start) }
        let o = grid.origin(column: column, row: row)
        let side = grid.resamples ? Int((Double(grid.patchSize) * grid.readScale).rounded(.up)) : grid.patchSize
        if scaledDecoding, let k = grid.dctScale {
            // The patch in level pixels, then in reduced pixels: the reduced read starts at the
            // reduced pixel holding the origin and takes one more, and the rest of the way is
            // exact area averaging over the patch's own (fractional) rectangle.
            let lx = Double(o.x) / grid.levelDownsample, ly = Double(o.y) / grid.levelDownsample
            let rx = Int((lx / Double(k)).rounded(.down)), ry = Int((ly / Double(k)).rounded(.down))
            let reducedSide = Double(grid.patchSize) * grid.readScale / Double(k)
            let fx = lx / Double(k) - Double(rx), fy = ly / Double(k) - Double(ry)
            // On the reduced grid with a whole side (a 1 µm/px grid on a 0.25 µm/px level): no
            // resampling at all, or plain box averaging.
            let aligned = fx < 1e-9 && fy < 1e-9 && abs(reducedSide - reducedSide.rounded()) < 1e-9
            let readReduced = aligned ? Int(reducedSide.rounded()) : Int((Swift.max(fx, fy) + reducedSide).rounded(.up))
            let startX = Int((Double(rx * k) * grid.levelDownsample).rounded()), startY = Int((Double(ry * k) * grid.levelDownsample).rounded())
            if let small = try slide.readScaled(x: startX, y: startY, level: grid.level, width: readReduced * k, height: readReduced * k, scale: k) {
                let patch =
                    aligned
                    ? (readReduced == grid.patchSize ? small : small.resized(width: grid.patchSize, height: grid.patchSize))
                    : small.resampled(x: fx, y: fy, sourceWidth: reducedSide, sourceHeight: reducedSide, width: grid.patchSize, height: grid.patchSize)
                return Patch(column: column, row: row, x: o.x, y: o.y, extent: grid.extent, image: patch, tissueFraction: tissue, path: .direct, decodeScale: k)
            }
        }
        let (image, path) = try slide.read(x: o.x, y: o.y, level: grid.level, width: side, height: side)
        let patch = grid.resamples ? image.resized(width: grid.patchSize, height: grid.patchSize) : image
        return Patch(column: column, row: row, x: o.x, y: o.y, extent: grid.extent, image: patch, tissueFraction: tissue, path: path)
    }

    /// Groups patches for a model: arrays of `size` (the last one shorter).
    public func batches(of size: Int) -> AsyncChunksOfCountSequence<PatchStream, [Patch]> {
        chunks(ofCount: Swift.max(1, size))
    }

    public func makeAsyncIterator() -> Iterator { Iterator(self) }

    /// Pulls patches from the workers; dropping it stops them.
    public final class Iterator: AsyncIteratorProtocol {
        private var channel: AsyncThrowingChannel<[Patch], any Error>.AsyncIterator
        private var pending: [Patch] = []
        private let producer: Task<Void, Never>

        init(_ stream: PatchStream) {
            let channel = AsyncThrowingChannel<[Patch], any Error>()
            self.channel = channel.makeAsyncIterator()
            let cells = stream.cells
            let next = Dispenser()
            producer = Task {
                await withTaskGroup(of: Void.self) { group in
                    for _ in 0..<stream.concurrency {
                        group.addTask {
                            var gathered: [Patch] = []
                            while !Task.isCancelled {
                                let index = next.take()
                                guard index < cells.count else { break }
                                let cell = cells[index]
                                do {
                                    gathered.append(try stream.read(column: cell.column, row: cell.row, tissue: cell.tissue))
                                } catch {
                                    channel.fail(error)
                                    return
                                }
                                if gathered.count == stream.handoff {
                                    await channel.send(gathered)
                                    gathered.removeAll(keepingCapacity: true)
                                }
                            }
                            if !gathered.isEmpty, !Task.isCancelled { await channel.send(gathered) }
                        }
                    }
                }
                channel.finish()
            }
        }

        deinit { producer.cancel() }

        public func next() async throws -> Patch? {
            while pending.isEmpty {
                guard let batch = try await channel.next() else { return nil }
                pending = batch.reversed()
            }
            return pending.popLast()
        }
    }

}

/// Hands out 0, 1, 2, … to concurrent workers.
final class Dispenser: Sendable {
    private let value = Mutex(0)
    func take() -> Int {
        value.withLock { i in
            defer { i += 1 }
            return i
        }
    }
}
