import Foundation
import ZIPFoundation

/// The zip PUT to `DEBUG_FILE_UPLOAD_URL`: run report, redacted environment, log, picture.
enum DebugBundle {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Zips named files in memory. A PNG is stored as it is: it is deflated already, and
    /// deflating it again took most of the bundle's time for nothing.
    static func zip(_ files: [(name: String, bytes: [UInt8])]) throws -> [UInt8] {
        let archive = try Archive(data: Data(), accessMode: .create, pathEncoding: nil)
        for (name, bytes) in files {
            let data = Data(bytes)
            try archive.addEntry(
                with: name, type: .file, uncompressedSize: Int64(data.count),
                compressionMethod: name.hasSuffix(".png") ? .none : .deflate,
                provider: { position, size in data.subdata(in: Int(position)..<Int(position) + size) })
        }
        guard let data = archive.data else { throw Failure(description: "the in-memory zip has no data") }
        return Array(data)
    }
}
