import OrderedCollections
import Synchronization

/// Encoded tiles, least recently used dropped first once their bytes pass `byteLimit`.
final class TileCache: Sendable {
    private struct State {
        var tiles: OrderedDictionary<String, [UInt8]> = [:]
        var bytes = 0
    }

    /// The most bytes kept.
    let byteLimit: Int
    private let state = Mutex(State())

    init(byteLimit: Int = 64 << 20) { self.byteLimit = byteLimit }

    /// The tile under `key`, made by `make` when absent (outside the lock: two requests for one
    /// missing tile may both make it, and the cache keeps one).
    func tile(_ key: String, make: () throws -> [UInt8]) rethrows -> [UInt8] {
        if let hit = state.withLock({ s -> [UInt8]? in
            guard let bytes = s.tiles.removeValue(forKey: key) else { return nil }
            s.tiles[key] = bytes  // most recently used last
            return bytes
        }) { return hit }
        let bytes = try make()
        state.withLock { s in
            if let old = s.tiles.updateValue(bytes, forKey: key) { s.bytes -= old.count }
            s.bytes += bytes.count
            while s.bytes > byteLimit, let first = s.tiles.elements.first {
                s.tiles.removeFirst()
                s.bytes -= first.value.count
            }
        }
        return bytes
    }

    /// Tiles and bytes held now.
    var usage: (tiles: Int, bytes: Int) { state.withLock { ($0.tiles.count, $0.bytes) } }
}
