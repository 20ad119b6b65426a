import ArgumentParser
import Foundation
import MHS

/// `mhs inspect`: what the container will see of a slide.
struct InspectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show what mhs sees in a slide: format, vendor, levels, MPP, associated images.",
        discussion: """
            The slide is first opened and read in a child process (as `mhs run` does), so a \
            crash or a hang inside OpenSlide is reported, not suffered. \
            Exit status: 0 readable, 4 unreadable or unsupported (the message says why).
            """
    )

    @Argument(help: "A slide file (SVS, TIFF, DICOM), a DICOM series folder, or a zip of one.")
    var slide: String

    @Flag(help: "Also read the thumbnail and a region of every level, through OpenSlide and the direct tile path.")
    var read = false

    @Flag(help: "Print JSON instead of text.")
    var json = false

    @Option(help: "Write a region as PNG: X,Y,LEVEL,WIDTH,HEIGHT (X and Y in level-0 pixels). Needs --out.")
    var region: String?

    @Option(help: "Where --region's PNG goes.")
    var out: String?

    func validate() throws {
        if region != nil, out == nil { throw ValidationError("--region needs --out FILE.png") }
        if let region, Self.parseRegion(region) == nil { throw ValidationError("--region must be X,Y,LEVEL,WIDTH,HEIGHT, found '\(region)'") }
    }

    static func parseRegion(_ text: String) -> [Int]? {
        let parts = text.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        return parts.count == 5 && parts[3] > 0 && parts[4] > 0 ? parts : nil
    }

    func run() async throws {
        let (path, cleanup) = try openable(slide)
        defer { cleanup() }
        let format = SlideFormat.sniff(path: path)
        let s: Slide
        do {
            if case .unsupported(let what) = format { throw SlideError.unsupportedFormat(path: slide, detail: what) }
            if let exe = SlideProbe.currentExecutable {
                let timeout = min(max(CommandContext.current.environment["MHS_PROBE_TIMEOUT"].flatMap(TaskConfiguration.seconds) ?? 120, 0.001), 86400)
                let probe = SlideProbe(executable: exe, timeout: .milliseconds(Int64(timeout * 1000)))
                if let finding = await probe.problem(with: path) {
                    // A refusal names the file already; a crash or a hang does not.
                    if case .refused = finding.outcome { printError("mhs inspect: \(finding.message)") } else { printError("mhs inspect: \(slide): \(finding.message)") }
                    throw ExitCode(4)
                }
            }
            s = read ? try SlideProbe.exercise(path: path) : try Slide(path: path)
        } catch let exit as ExitCode {
            throw exit
        } catch {
            printError("mhs inspect: \(error)")
            throw ExitCode(4)
        }
        if let warning = s.mppWarning { printError("mhs inspect: warning: \(warning)") }
        var info = JSONObject()
        info["path"] = .string(slide)
        if path != slide { info["opened"] = .string(path) }
        info["format"] = .string(format.description)
        info["vendor"] = s.vendor.map(JSONValue.string) ?? .null
        info["width"] = .int(Int64(s.dimensions.width))
        info["height"] = .int(Int64(s.dimensions.height))
        info["levels"] = .array(s.levels.map { ["width": .int(Int64($0.width)), "height": .int(Int64($0.height)), "downsample": .double($0.downsample)] })
        info["mpp"] = s.mpp.map { ["x": .double($0.x), "y": .double($0.y)] } ?? .null
        info["objective_power"] = s.objectivePower.map(JSONValue.double) ?? .null
        info["associated_images"] = .object(JSONObject(uniqueKeysWithValues: s.associatedImages.sorted { $0.key < $1.key }.map {
            ($0.key, ["width": .int(Int64($0.value.width)), "height": .int(Int64($0.value.height))])
        }))
        if case .dicom = format, let header = DICOMHeader.read(path: path) {
            info["dicom_image_type"] = .string(header.imageType.joined(separator: "\\"))
        }
        info["openslide"] = .string(s.openslideVersion)
        if let region, let out, let r = Self.parseRegion(region) {
            do {
                let image = try s.readRegion(x: r[0], y: r[1], level: r[2], width: r[3], height: r[4])
                try Data(try PNG.encode(image)).write(to: URL(fileURLWithPath: out))
                info["region_png"] = .string(out)
            } catch {
                printError("mhs inspect: reading the region failed: \(error)")
                throw ExitCode(4)
            }
        }
        if json {
            print(try MHSJSON.encodeString(JSONValue.object(info)))
            return
        }
        print("\(slide)")
        if path != slide { print("  opened:   \(path)") }
        print("  format:   \(format)")
        print("  vendor:   \(s.vendor ?? "unknown") (OpenSlide \(s.openslideVersion))")
        print("  size:     \(s.dimensions.width) x \(s.dimensions.height) px at level 0")
        print("  MPP:      \(s.mpp.map { "\($0.x) x \($0.y) µm/px" } ?? "not recorded")")
        print("  objective: \(s.objectivePower.map { "\($0)x" } ?? "not recorded")")
        print("  levels:")
        for (i, l) in s.levels.enumerated() { print("    \(i): \(l.width) x \(l.height), downsample \(l.downsample)") }
        print("  associated images: \(s.associatedImages.isEmpty ? "none" : s.associatedImages.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value.width)x\($0.value.height)" }.joined(separator: ", "))")
        if let t = info["dicom_image_type"]?.stringValue { print("  DICOM ImageType: \(t)") }
        if let png = info["region_png"]?.stringValue { print("  region written to \(png)") }
    }

    /// The file to open for `path`: itself; for a DICOM series folder, its full-resolution
    /// instance; for a zip, that of the series it holds (unpacked into a temporary folder,
    /// removed by the returned closure).
    func openable(_ path: String) throws -> (String, () -> Void) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            printError("mhs inspect: \(path): no such file or folder")
            throw ExitCode(4)
        }
        func series(in folder: String, files: [String]) throws -> String {
            guard let entry = SeriesArchive.entryToOpen(files) else {
                printError("mhs inspect: \(path): the \(isDirectory.boolValue ? "folder" : "zip") holds no DICOM file (\(files.count) file(s))")
                throw ExitCode(4)
            }
            return entry
        }
        if isDirectory.boolValue {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
            return (try series(in: path, files: names.sorted().map { path + "/" + $0 }), {})
        }
        guard SlideFormat.sniff(path: path) == .zip else { return (path, {}) }
        let folder = NSTemporaryDirectory() + "mhs-inspect-" + UUID().uuidString
        let remove = { _ = try? FileManager.default.removeItem(atPath: folder) }
        do {
            let files = try SeriesArchive.extract(path, into: folder)
            return (try series(in: folder, files: files), remove)
        } catch let exit as ExitCode {
            remove()
            throw exit
        } catch {
            remove()
            printError("mhs inspect: \(path): \(error)")
            throw ExitCode(4)
        }
    }
}
