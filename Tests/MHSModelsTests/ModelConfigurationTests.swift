import Foundation
import MHSContract
import MHSModels
import Testing

/// WSInfer's real example (the breast tumour ResNet-34 of its zoo), as the issue quotes it.
let wsinferExample = """
    {"spec_version":"1.0","architecture":"resnet34","num_classes":2,"class_names":["notumor","tumor"],
     "patch_size_pixels":350,"spacing_um_px":0.25,
     "transform":[{"name":"Resize","arguments":{"size":224}},{"name":"ToTensor"},
                  {"name":"Normalize","arguments":{"mean":[0.7238,0.5716,0.6779],"std":[0.112,0.1459,0.1089]}}]}
    """

/// Parses `text` and returns its problems as "path: message" lines (empty when it parsed).
func problems(_ text: String) -> [String] {
    switch ModelConfiguration.parse(Array(text.utf8)) {
    case .success: []
    case .failure(let found): found.problems.map(\.description)
    }
}

/// The example with one top-level member replaced (or removed, with nil).
func exampleText(replacing key: String, with json: String?) -> String {
    guard case .object(var members) = try! JSONParser.parse(wsinferExample) else { fatalError("the example is an object") }
    if let json { members[key] = try! JSONParser.parse(json) } else { members[key] = nil }
    return String(decoding: try! MHSJSON.encode(JSONValue.object(members)), as: UTF8.self)
}

@Suite("model directory configuration (WSInfer's config.json)")
struct ModelConfigurationTests {
    @Test("WSInfer's example: its members, the model's input, the patch on a slide, and the defaults of what to post")
    func example() throws {
        let configuration = try ModelConfiguration.parse(Array(wsinferExample.utf8)).get()
        #expect(configuration.architecture == "resnet34" && configuration.classNames == ["notumor", "tumor"])
        #expect(configuration.transforms == [
            .resize(size: 224), .toTensor, .normalize(mean: [0.7238, 0.5716, 0.6779], std: [0.112, 0.1459, 0.1089]),
        ])
        #expect(configuration.inputSize == 224 && configuration.activation == .softmax)
        // 350 px at 0.25 µm/px: 175 px on a 0.5 µm/px slide, 350 on a 0.25 one, round(87.5/0.499) = 175 on CMU-1.
        #expect(configuration.level0PatchSize(slideMPP: 0.5) == 175)
        #expect(configuration.level0PatchSize(slideMPP: 0.25) == 350)
        #expect(configuration.level0PatchSize(slideMPP: 0.499) == 175)
        #expect(configuration.level0PatchSize(slideMPP: 1e6) == 1)
        let posting = configuration.posting
        #expect(posting.regions == ["tumor"], "a binary model's negative class is not a region")
        #expect(posting.heatmap == "tumor" && posting.threshold == 0.5 && posting.report == .basic && posting.ruo)
        #expect(posting.modelName == "resnet34 (notumor, tumor)")
    }

    @Test("the mhs object chooses what to post; one class is a sigmoid; no Resize means the patch as it is")
    func postingAndShapes() throws {
        let text = exampleText(replacing: "mhs", with: """
            {"model_name":"TIL detector v2","provider":"Acme Lab","ruo":false,"threshold":0.7,
             "regions":["notumor","tumor"],"heatmap":null,"report":"Basic"}
            """)
        let posting = try ModelConfiguration.parse(Array(text.utf8)).get().posting
        #expect(posting.modelName == "TIL detector v2" && posting.provider == "Acme Lab" && !posting.ruo)
        #expect(posting.threshold == 0.7 && posting.regions == ["notumor", "tumor"] && posting.heatmap == nil)
        #expect(posting.report == .basic)

        var one = exampleText(replacing: "num_classes", with: "1")
        one = String(decoding: try MHSJSON.encode(try JSONParser.parse(one).replacing("class_names", with: #"["til"]"#)), as: UTF8.self)
        let single = try ModelConfiguration.parse(Array(one.utf8)).get()
        #expect(single.activation == .sigmoid && single.posting.regions == ["til"] && single.posting.heatmap == "til")

        let plain = exampleText(replacing: "transform", with: #"[{"name":"ToTensor"}]"#)
        let unresized = try ModelConfiguration.parse(Array(plain.utf8)).get()
        #expect(unresized.inputSize == 350)
        #expect(unresized.normalization.mean == [0, 0, 0] && unresized.normalization.std == [1, 1, 1])
    }

    @Test("every problem at once, each at its JSON path")
    func everyProblem() {
        let broken = """
            {"spec_version":"2.0","num_classes":3,"class_names":["a","a"],"patch_size_pixels":0,"spacing_um_px":-1,
             "transform":[{"name":"Normalize","arguments":{"mean":[0.5,0.5],"std":[0.2,0,0.2]}},{"name":"Rotate"},
                          {"name":"Resize","arguments":{}},{"name":"Resize","arguments":{"size":2.5}}],
             "mhs":{"treshold":0.5,"heatmap":"b","report":"Heatmap"}}
            """
        let found = problems(broken)
        for expected in [
            "spec_version: spec_version '2.0' is not one mhs reads",
            "architecture: missing",
            "class_names[1]: 'a' appears twice",
            "class_names: 2 class name(s) for num_classes 3",
            "patch_size_pixels: must be an integer from 1",
            "spacing_um_px: must be a number greater than 0, not -1",
            "transform[0]: Normalize before ToTensor",
            "transform[0].arguments.mean: must be three numbers",
            "transform[1].name: unknown transform 'Rotate'",
            "transform[2].arguments.size: missing",
            "transform[3].arguments.size: must be an integer from 1",
            "mhs.treshold: unknown member",
            "mhs.report: must be one of Basic, AreaDifferential, not 'Heatmap'",
        ] {
            #expect(found.contains { $0.hasPrefix(expected) }, "no problem starting '\(expected)' in:\n\(found.joined(separator: "\n"))")
        }
        // The class names were wrong, so the heatmap's class is not judged against them.
        #expect(!found.contains { $0.hasPrefix("mhs.heatmap") })
    }

    @Test("one problem each: a missing member, a wrong class count, no ToTensor, a standard deviation of 0, not JSON, not an object")
    func oneEach() {
        #expect(problems(exampleText(replacing: "spacing_um_px", with: nil)) == ["spacing_um_px: missing (WSInfer's model format requires it)"])
        #expect(problems(exampleText(replacing: "num_classes", with: "3"))
            == ["class_names: 2 class name(s) for num_classes 3: there must be exactly one per class"])
        #expect(problems(exampleText(replacing: "transform", with: #"[{"name":"Resize","arguments":{"size":224}}]"#))
            == ["transform: no ToTensor step: the model would get bytes 0-255 instead of [0, 1] floats"])
        #expect(problems(exampleText(replacing: "transform", with: #"[{"name":"ToTensor"},{"name":"Normalize","arguments":{"mean":[0,0,0],"std":[1,0,1]}}]"#))
            == ["transform[1].arguments.std[1]: must be a number greater than 0"])
        #expect(problems(exampleText(replacing: "mhs", with: #"{"regions":["tumour"]}"#))
            == ["mhs.regions[0]: 'tumour' is not one of the class names (notumor, tumor)"])
        #expect(problems(#"{"spec_version": "1.0",}"#).first?.hasPrefix("$: config.json is not JSON: line 1, column") == true)
        #expect(problems("[1, 2]") == ["$: config.json must be a JSON object, not array"])
        #expect(problems(exampleText(replacing: "zoo_url", with: #""https://example.org""#)).isEmpty, "other members are allowed")
    }
}

extension JSONValue {
    /// This object with member `key` set to the JSON `json`.
    func replacing(_ key: String, with json: String) throws -> JSONValue {
        guard case .object(var members) = self else { return self }
        members[key] = try JSONParser.parse(json)
        return .object(members)
    }
}

@Suite("model directory")
struct ModelDirectoryTests {
    /// A fresh directory under the temporary folder holding `files` (name → contents).
    func directory(_ files: [String: String]) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("mhs-model-\(UInt64.random(in: 0...UInt64.max))").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        for (name, text) in files { try Data(text.utf8).write(to: URL(fileURLWithPath: path + "/" + name)) }
        return path
    }

    func problems(_ path: String) -> [String] {
        switch ModelDirectory.open(path) {
        case .success: []
        case .failure(let found): found.problems.map(\.description)
        }
    }

    @Test("config.json beside model.onnx opens; the model's path is in the directory")
    func opens() throws {
        let path = try directory(["config.json": wsinferExample, "model.onnx": "not really ONNX, but present"])
        defer { try? FileManager.default.removeItem(atPath: path) }
        let model = try ModelDirectory.open(path).get()
        #expect(model.modelPath == path + "/model.onnx" && model.configuration.classNames == ["notumor", "tumor"])
    }

    @Test("every problem at once: no model, an empty one, no config, a broken config (its JSON paths after the file's name), not a directory")
    func problemsAtOnce() throws {
        let bare = try directory([:])
        let empty = try directory(["model.onnx": "", "config.json": #"{"spec_version":"1.0"}"#])
        defer { for p in [bare, empty] { try? FileManager.default.removeItem(atPath: p) } }
        let none = problems(bare)
        #expect(none.count == 2 && none[0].hasPrefix("model.onnx: missing") && none[1].hasPrefix("config.json: missing"))
        let found = problems(empty)
        #expect(found.first == "model.onnx: is empty")
        #expect(found.contains("config.json architecture: missing (WSInfer's model format requires it)"), "\(found)")
        #expect(found.count == 1 + 6, "the empty model and six missing members: \(found)")
        #expect(problems(bare + "/nowhere").first?.hasSuffix("not a directory: a model directory holds config.json and model.onnx") == true)
    }
}
