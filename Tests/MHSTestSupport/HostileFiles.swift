import Foundation

/// A folder for the generated hostile files of this test process.
public let hostileFolder: String = {
    let path = NSTemporaryDirectory() + "mhs-hostile-\(getpid())"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}()

/// Writes `bytes` as a generated hostile file and returns its path. Written atomically (a
/// temporary file renamed into place): tests running at once may write the same file while
/// another reads it, and must never see it empty or half-written.
public func hostile(_ name: String, _ bytes: [UInt8]) throws -> String {
    let path = hostileFolder + "/" + name
    try Data(bytes).write(to: URL(fileURLWithPath: path), options: .atomic)
    return path
}

/// wsi2dcm-test-jpeg.dcm with DimensionOrganizationType TILED_SPARSE: OpenSlide 4.0.1
/// dereferences a null pointer opening it (SIGSEGV), so it can only be met in a child process.
public func tiledSparseDICOM() throws -> String {
    var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: slide("wsi2dcm-test-jpeg.dcm"))))
    let full: [UInt8] = [0x20, 0x00, 0x11, 0x93, 0x43, 0x53, 0x0A, 0x00] + Array("TILED_FULL".utf8)
    guard let at = bytes.indices.first(where: { bytes[$0..<min($0 + full.count, bytes.count)].elementsEqual(full) }) else {
        throw CocoaError(.fileReadCorruptFile)
    }
    bytes.replaceSubrange(at..<(at + full.count), with: [0x20, 0x00, 0x11, 0x93, 0x43, 0x53, 0x0C, 0x00] + Array("TILED_SPARSE".utf8))
    return try hostile("tiled-sparse.dcm", bytes)
}
