import ArgumentParser
import Foundation
import MHSContract
import MHSImaging
import MHSSlide

/// `mhs inspect`: what the container will see of a slide.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show what mhs sees in a slide: format, vendor, levels, MPP, associated images.",
        discussion: "Exit status: 0 readable, 4 unreadable or unsupported (the message says why)."
    )

    @Argument(help: "A slide file (SVS, TIFF, DICOM; for a DICOM series, any file of its folder).")
    var slide: String

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

    func run() throws {
        let format = SlideFormat.sniff(path: slide)
        let s: Slide
        do {
            if case .unsupported(let what) = format { throw SlideError.unsupportedFormat(path: slide, detail: what) }
            s = try Slide(path: slide)
        } catch {
            printError("mhs inspect: \(error)")
            throw ExitCode(4)
        }
        var info = JSONObject()
        info["path"] = .string(slide)
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
        if case .dicom = format, let header = DICOMHeader.read(path: slide) {
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
}
