import CZlibInflate

#if canImport(Glibc)
import Glibc
#endif

/// A zip archive's central directory (zip64 too), read with every size, count and offset
/// checked against the file, and entries inflated with bounded work: zlib is fed exactly
/// the entry's compressed bytes and may produce at most its declared size, so corrupt data
/// ends in an error, never a spin or an over-read.
struct ZipStructure {
    /// One file or folder in the archive.
    struct Entry: Sendable {
        var path: String
        var method: UInt16
        var crc32: UInt32
        var compressedSize: UInt64
        var uncompressedSize: UInt64
        var localHeaderOffset: UInt64
        var isDirectory: Bool { path.hasSuffix("/") }
    }

    let bytes: FileBytes
    let entries: [Entry]
    private let order = ByteOrder(little: true)

    init(fd: Int32) throws(MalformedFile) {
        bytes = try FileBytes(fd: fd)
        let order = ByteOrder(little: true)
        // The end-of-central-directory record: in the last 64 KiB + 22 bytes.
        let tailSize = min(bytes.size, 65_557)
        let tail = try bytes.read(at: bytes.size - tailSize, count: tailSize, what: "the end of the zip")
        guard tail.count >= 22, let eocd = stride(from: tail.count - 22, through: 0, by: -1).first(where: {
            tail[$0] == 0x50 && tail[$0 + 1] == 0x4B && tail[$0 + 2] == 0x05 && tail[$0 + 3] == 0x06
        }) else { throw MalformedFile("no end-of-central-directory record: not a zip, or truncated") }
        let eocdOffset = bytes.size - tailSize + UInt64(eocd)
        var count = order.u16(tail, eocd + 10)
        var cdSize = order.u32(tail, eocd + 12)
        var cdOffset = order.u32(tail, eocd + 16)
        if count == 0xFFFF || cdSize == 0xFFFF_FFFF || cdOffset == 0xFFFF_FFFF {
            // zip64: the locator sits just before the record.
            guard eocdOffset >= 20 else { throw MalformedFile("a zip64 archive without its locator") }
            let locator = try bytes.read(at: eocdOffset - 20, count: 20, what: "the zip64 locator")
            guard order.u32(locator, 0) == 0x0706_4B50 else { throw MalformedFile("a zip64 archive without its locator") }
            let record = try bytes.read(at: order.u64(locator, 8), count: 56, what: "the zip64 end record")
            guard order.u32(record, 0) == 0x0606_4B50 else { throw MalformedFile("the zip64 end record is missing") }
            count = order.u64(record, 32)
            cdSize = order.u64(record, 40)
            cdOffset = order.u64(record, 48)
        }
        // Each central entry is at least 46 bytes: the count cannot exceed what the directory holds.
        guard bytes.contains(offset: cdOffset, count: cdSize), count <= cdSize / 46 else {
            throw MalformedFile("the central directory (\(count) entries, \(cdSize) bytes at \(cdOffset)) does not fit in the \(bytes.size)-byte file")
        }
        let cd = try bytes.read(at: cdOffset, count: cdSize, what: "the central directory")
        var list: [Entry] = []
        var at = 0
        for i in 0..<Int(count) {
            guard at + 46 <= cd.count, order.u32(cd, at) == 0x0201_4B50 else { throw MalformedFile("central directory entry \(i) is malformed") }
            let nameLength = Int(order.u16(cd, at + 28)), extraLength = Int(order.u16(cd, at + 30)), commentLength = Int(order.u16(cd, at + 32))
            let end = at + 46 + nameLength + extraLength + commentLength
            guard end <= cd.count else { throw MalformedFile("central directory entry \(i) runs past the directory") }
            var entry = Entry(
                path: String(decoding: cd[(at + 46)..<(at + 46 + nameLength)], as: UTF8.self), method: UInt16(order.u16(cd, at + 10)),
                crc32: UInt32(order.u32(cd, at + 16)), compressedSize: order.u32(cd, at + 20), uncompressedSize: order.u32(cd, at + 24),
                localHeaderOffset: order.u32(cd, at + 42))
            // zip64 extra field: the 64-bit values of the fields that say 0xFFFFFFFF, in order.
            var x = at + 46 + nameLength
            let extraEnd = x + extraLength
            while x + 4 <= extraEnd {
                let id = order.u16(cd, x), size = Int(order.u16(cd, x + 2))
                guard x + 4 + size <= extraEnd else { break }
                if id == 0x0001 {
                    var y = x + 4
                    func next() -> UInt64? {
                        guard y + 8 <= x + 4 + size else { return nil }
                        defer { y += 8 }
                        return order.u64(cd, y)
                    }
                    if entry.uncompressedSize == 0xFFFF_FFFF, let v = next() { entry.uncompressedSize = v }
                    if entry.compressedSize == 0xFFFF_FFFF, let v = next() { entry.compressedSize = v }
                    if entry.localHeaderOffset == 0xFFFF_FFFF, let v = next() { entry.localHeaderOffset = v }
                }
                x += 4 + size
            }
            list.append(entry)
            at = end
        }
        entries = list
    }

    /// Where an entry's data starts, after its local header; the data checked to lie in the file.
    func dataOffset(_ e: Entry) throws(MalformedFile) -> UInt64 {
        let header = try bytes.read(at: e.localHeaderOffset, count: 30, what: "the local header of \(e.path)")
        guard order.u32(header, 0) == 0x0403_4B50 else { throw MalformedFile("the local header of \(e.path) is missing") }
        let start = e.localHeaderOffset + 30 + order.u16(header, 26) + order.u16(header, 28)
        guard bytes.contains(offset: start, count: e.compressedSize) else {
            throw MalformedFile("the data of \(e.path) (\(e.compressedSize) bytes) runs past the end of the \(bytes.size)-byte zip")
        }
        return start
    }

    /// Writes an entry's contents to `fd`: stored or deflated, the size and CRC-32 checked.
    func extract(_ e: Entry, to out: Int32) throws(MalformedFile) {
        let start = try dataOffset(e)
        var written: UInt64 = 0
        var crc = crc32(0, nil, 0)
        func emit(_ part: ArraySlice<UInt8>) throws(MalformedFile) {
            guard !part.isEmpty else { return }
            written += UInt64(part.count)
            guard written <= e.uncompressedSize else {
                throw MalformedFile("\(e.path) expands past its declared \(e.uncompressedSize) bytes")
            }
            let ok: Bool = part.withUnsafeBufferPointer { b in
                crc = crc32(crc, b.baseAddress, uInt(b.count))
                var done = 0
                while done < b.count {
                    let n = write(out, b.baseAddress! + done, b.count - done)
                    guard n > 0 else { return false }
                    done += n
                }
                return true
            }
            guard ok else { throw MalformedFile("cannot write \(e.path): \(String(cString: strerror(errno)))") }
        }
        let chunk: UInt64 = 1 << 20
        switch e.method {
        case 0:
            guard e.compressedSize == e.uncompressedSize else { throw MalformedFile("\(e.path) is stored but its two sizes differ") }
            var at: UInt64 = 0
            while at < e.compressedSize {
                let part = try bytes.read(at: start + at, count: min(chunk, e.compressedSize - at), what: "the data of \(e.path)")
                try emit(part[...])
                at += UInt64(part.count)
            }
        case 8:
            var stream = z_stream()
            guard inflateInit2_(&stream, -MAX_WBITS, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
                throw MalformedFile("zlib cannot start")
            }
            defer { inflateEnd(&stream) }
            var output = [UInt8](repeating: 0, count: Int(chunk))
            var consumed: UInt64 = 0
            var ended = false
            while !ended {
                // Every round either consumes input or produces output, or the stream is
                // declared corrupt: the loop is bounded by the entry's two sizes.
                guard consumed < e.compressedSize else {
                    throw MalformedFile("the deflate data of \(e.path) ends before its stream does (corrupt or truncated)")
                }
                var input = try bytes.read(at: start + consumed, count: min(chunk, e.compressedSize - consumed), what: "the data of \(e.path)")
                let given = input.count
                var result: Int32 = Z_OK
                var failure: MalformedFile?
                input.withUnsafeMutableBufferPointer { inBuffer in
                    stream.next_in = inBuffer.baseAddress
                    stream.avail_in = uInt(given)
                    repeat {
                        let produced: Int = output.withUnsafeMutableBufferPointer { outBuffer in
                            stream.next_out = outBuffer.baseAddress
                            stream.avail_out = uInt(outBuffer.count)
                            result = inflate(&stream, Z_NO_FLUSH)
                            return outBuffer.count - Int(stream.avail_out)
                        }
                        if result != Z_OK && result != Z_STREAM_END && !(result == Z_BUF_ERROR && produced == 0) {
                            failure = MalformedFile("the deflate data of \(e.path) is corrupt (zlib \(result))")
                            return
                        }
                        do throws(MalformedFile) {
                            try emit(output[0..<produced])
                        } catch {
                            failure = error
                            return
                        }
                        if result == Z_STREAM_END { return }
                        if produced == 0 && stream.avail_in == 0 { return }  // needs the next chunk
                        if produced == 0 { failure = MalformedFile("the deflate data of \(e.path) makes no progress"); return }
                    } while true
                }
                if let failure { throw failure }
                consumed += UInt64(given) - UInt64(stream.avail_in)
                ended = result == Z_STREAM_END
                if !ended && stream.avail_in > 0 && given > 0 && UInt64(given) == UInt64(stream.avail_in) {
                    throw MalformedFile("the deflate data of \(e.path) makes no progress")
                }
            }
        default:
            throw MalformedFile("\(e.path) uses compression method \(e.method); only stored (0) and deflate (8) are read")
        }
        guard written == e.uncompressedSize else {
            throw MalformedFile("\(e.path) expanded to \(written) bytes, not the declared \(e.uncompressedSize)")
        }
        guard UInt32(truncatingIfNeeded: crc) == e.crc32 else { throw MalformedFile("\(e.path) fails its CRC-32 check") }
    }
}
