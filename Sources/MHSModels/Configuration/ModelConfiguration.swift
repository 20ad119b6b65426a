import MHSContract

/// What a model directory's `config.json` says: WSInfer's model format (spec 1.0) plus an
/// optional `mhs` object that says what to post.
///
/// Reading it is pure: ``parse(_:)`` takes the file's bytes and returns the configuration or
/// every problem at once, each with the JSON path it is about. WSInfer's required members are
/// `spec_version` ("1.0"), `architecture`, `num_classes` (≥ 1), `class_names` (unique, exactly
/// `num_classes`), `patch_size_pixels` (≥ 1), `spacing_um_px` (> 0) and `transform` (`Resize`
/// {size}, `ToTensor`, `Normalize` {mean, std}); other top-level members are allowed and ignored.
public struct ModelConfiguration: Sendable, Hashable {
    /// One step of the patch transform, in the order the config lists them.
    public enum Transform: Sendable, Hashable {
        /// Resize the patch to `size` × `size` pixels.
        case resize(size: Int)
        /// Scale the bytes to [0, 1] floats, channels first.
        case toTensor
        /// Subtract `mean` and divide by `std`, per channel (R, G, B).
        case normalize(mean: [Double], std: [Double])
    }

    /// How the model's outputs become probabilities.
    public enum Activation: String, Sendable, Hashable {
        /// `num_classes` > 1: one probability per class, summing to 1.
        case softmax
        /// `num_classes` == 1: the probability of the one class.
        case sigmoid
    }

    /// The report a model directory posts.
    public enum ReportKind: String, Sendable, Hashable, CaseIterable {
        /// Per-class area (mm²) and share of the scored tissue, one segment per region class.
        case basic = "Basic"
        /// Each region as a weighted area (its share of the scored tissue, its mean
        /// probability) holding its patches' centres as classified points.
        case areaDifferential = "AreaDifferential"
    }

    /// What to post, from the `mhs` object with its defaults filled in.
    public struct Posting: Sendable, Hashable {
        /// The workflow's `model_name` (default: the architecture and the class names).
        public var modelName: String
        /// The workflow's `provider` (default "mhs model directory").
        public var provider: String
        /// Research use only (default true).
        public var ruo: Bool
        /// The probability at or above which a patch belongs to a class's region (default 0.5).
        public var threshold: Double
        /// The classes posted as regions (default: every class but the first of two — the
        /// negative one of a binary model — else every class).
        public var regions: [String]
        /// The class drawn as a heatmap (default: the last class), or nil for none.
        public var heatmap: String?
        /// The report (default Basic).
        public var report: ReportKind
    }

    public var specVersion: String
    public var architecture: String
    public var classNames: [String]
    public var patchSizePixels: Int
    public var spacingMicronsPerPixel: Double
    public var transforms: [Transform]
    public var posting: Posting

    /// The number of classes (`num_classes`).
    public var numberOfClasses: Int { classNames.count }

    /// Softmax over the classes, or a sigmoid for one class.
    public var activation: Activation { classNames.count > 1 ? .softmax : .sigmoid }

    /// The side of the square the model sees: the last `Resize`, else the patch itself.
    public var inputSize: Int {
        for case .resize(let size) in transforms.reversed() { return size }
        return patchSizePixels
    }

    /// The per-channel mean and standard deviation to apply after scaling to [0, 1]
    /// (identity when the config has no `Normalize`).
    public var normalization: (mean: [Double], std: [Double]) {
        for case .normalize(let mean, let std) in transforms { return (mean, std) }
        return ([0, 0, 0], [1, 1, 1])
    }

    /// The side, in level-0 pixels, of the patch to read on a slide of `slideMPP` µm per pixel:
    /// `round(patch_size_pixels × spacing_um_px / slideMPP)` (WSInfer's rule), at least 1.
    public func level0PatchSize(slideMPP: Double) -> Int {
        max(1, Int((Double(patchSizePixels) * spacingMicronsPerPixel / slideMPP).rounded()))
    }

    /// The members of the `mhs` object.
    static let postingMembers = ["model_name", "provider", "ruo", "threshold", "regions", "heatmap", "report"]
    /// The transform names WSInfer's schema allows.
    static let transformNames = ["Resize", "ToTensor", "Normalize"]

    /// Reads `config.json`'s bytes: the configuration, or every problem found.
    public static func parse(_ bytes: [UInt8]) -> Result<ModelConfiguration, ModelProblems> {
        let root: JSONValue
        do {
            root = try JSONParser.parse(bytes)
        } catch {
            return .failure(ModelProblems([ModelProblem(path: "$", "config.json is not JSON: \(error)")]))
        }
        var reader = ConfigurationReader()
        guard let configuration = reader.read(root), reader.problems.isEmpty else {
            return .failure(ModelProblems(reader.problems))
        }
        return .success(configuration)
    }
}

/// One thing wrong with a model directory, and where.
public struct ModelProblem: Sendable, Hashable, CustomStringConvertible {
    /// The JSON path in `config.json` (`transform[1].arguments.size`), or the file it is about.
    public var path: String
    public var message: String

    public init(path: String, _ message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { "\(path): \(message)" }
}

/// Everything wrong with a model directory, found at once.
public struct ModelProblems: Error, Sendable, Hashable, CustomStringConvertible {
    public var problems: [ModelProblem]

    public init(_ problems: [ModelProblem]) { self.problems = problems }

    public var description: String { problems.map(\.description).joined(separator: "\n") }
}

/// Walks the parsed config, collecting problems instead of stopping at the first.
struct ConfigurationReader {
    var problems: [ModelProblem] = []

    mutating func problem(_ path: JSONPath, _ message: String) {
        problems.append(ModelProblem(path: path.description, message))
    }

    mutating func read(_ root: JSONValue) -> ModelConfiguration? {
        guard let object = root.objectValue else {
            problem(JSONPath(), "config.json must be a JSON object, not \(root.typeName)")
            return nil
        }
        let top = JSONPath()
        let spec = string(object, "spec_version", top)
        if let spec, spec != "1.0" {
            problem(top.key("spec_version"), "spec_version '\(spec)' is not one mhs reads (WSInfer's model format 1.0)")
        }
        let architecture = string(object, "architecture", top)
        let count = integer(object, "num_classes", top, minimum: 1)
        let names = classNames(object, top, count: count)
        let patch = integer(object, "patch_size_pixels", top, minimum: 1)
        let spacing = positiveNumber(object, "spacing_um_px", top)
        let transforms = self.transforms(object, top)
        let posting = self.posting(object["mhs"], top.key("mhs"), classNames: names, architecture: architecture ?? "model")
        guard let spec, let architecture, let names, let patch, let spacing, let transforms, let posting else { return nil }
        return ModelConfiguration(
            specVersion: spec, architecture: architecture, classNames: names, patchSizePixels: patch,
            spacingMicronsPerPixel: spacing, transforms: transforms, posting: posting)
    }

    // MARK: members

    mutating func required(_ object: JSONObject, _ key: String, _ path: JSONPath) -> JSONValue? {
        guard let value = object[key] else {
            problem(path.key(key), "missing (WSInfer's model format requires it)")
            return nil
        }
        return value
    }

    mutating func string(_ object: JSONObject, _ key: String, _ path: JSONPath) -> String? {
        guard let value = required(object, key, path) else { return nil }
        guard let text = value.stringValue, !text.isEmpty else {
            problem(path.key(key), "must be a non-empty string, not \(value.typeName)")
            return nil
        }
        return text
    }

    mutating func integer(_ object: JSONObject, _ key: String, _ path: JSONPath, minimum: Int) -> Int? {
        guard let value = required(object, key, path) else { return nil }
        return integer(value, path.key(key), minimum: minimum)
    }

    mutating func integer(_ value: JSONValue, _ path: JSONPath, minimum: Int) -> Int? {
        guard case .int(let n) = value, n >= Int64(minimum), n <= 1 << 20 else {
            problem(path, "must be an integer from \(minimum) to \(1 << 20), not \(value.shortDescription)")
            return nil
        }
        return Int(n)
    }

    mutating func positiveNumber(_ object: JSONObject, _ key: String, _ path: JSONPath) -> Double? {
        guard let value = required(object, key, path) else { return nil }
        guard let n = value.doubleValue, n.isFinite, n > 0 else {
            problem(path.key(key), "must be a number greater than 0, not \(value.shortDescription)")
            return nil
        }
        return n
    }

    mutating func classNames(_ object: JSONObject, _ path: JSONPath, count: Int?) -> [String]? {
        guard let value = required(object, "class_names", path) else { return nil }
        let here = path.key("class_names")
        guard let items = value.arrayValue else {
            problem(here, "must be a list of class names, not \(value.typeName)")
            return nil
        }
        var names: [String] = []
        var ok = true
        for (i, item) in items.enumerated() {
            guard let name = item.stringValue, !name.isEmpty else {
                problem(here.index(i), "must be a non-empty string, not \(item.shortDescription)")
                ok = false
                continue
            }
            if names.contains(name) {
                problem(here.index(i), "'\(name)' appears twice: class names must be unique")
                ok = false
            }
            names.append(name)
        }
        if let count, items.count != count {
            problem(here, "\(items.count) class name(s) for num_classes \(count): there must be exactly one per class")
            ok = false
        }
        return ok ? names : nil
    }

    mutating func transforms(_ object: JSONObject, _ path: JSONPath) -> [ModelConfiguration.Transform]? {
        guard let value = required(object, "transform", path) else { return nil }
        let here = path.key("transform")
        guard let items = value.arrayValue else {
            problem(here, "must be a list of {name, arguments} steps, not \(value.typeName)")
            return nil
        }
        var steps: [ModelConfiguration.Transform] = []
        var ok = true
        var tensorAt: Int?
        for (i, item) in items.enumerated() {
            let at = here.index(i)
            guard let step = item.objectValue else {
                problem(at, "must be an object {name, arguments}, not \(item.typeName)")
                ok = false
                continue
            }
            guard let name = step["name"]?.stringValue else {
                problem(at.key("name"), "missing: one of \(ModelConfiguration.transformNames.joined(separator: ", "))")
                ok = false
                continue
            }
            let arguments = step["arguments"]?.objectValue ?? [:]
            if let given = step["arguments"], given.objectValue == nil {
                problem(at.key("arguments"), "must be an object, not \(given.typeName)")
                ok = false
                continue
            }
            switch name {
            case "Resize":
                guard let size = arguments["size"] else {
                    problem(at.key("arguments").key("size"), "missing: Resize needs the side in pixels")
                    ok = false
                    continue
                }
                if let n = integer(size, at.key("arguments").key("size"), minimum: 1) { steps.append(.resize(size: n)) } else { ok = false }
            case "ToTensor":
                if tensorAt != nil {
                    problem(at, "ToTensor appears twice")
                    ok = false
                }
                tensorAt = i
                steps.append(.toTensor)
            case "Normalize":
                let mean = channels(arguments["mean"], at.key("arguments").key("mean"), positive: false)
                let std = channels(arguments["std"], at.key("arguments").key("std"), positive: true)
                if tensorAt == nil {
                    problem(at, "Normalize before ToTensor: it works on the [0, 1] tensor ToTensor makes")
                    ok = false
                }
                if let mean, let std { steps.append(.normalize(mean: mean, std: std)) } else { ok = false }
            default:
                problem(at.key("name"), "unknown transform '\(name)': mhs runs \(ModelConfiguration.transformNames.joined(separator: ", ")) (WSInfer's schema)")
                ok = false
            }
        }
        if tensorAt == nil, ok {
            problem(here, "no ToTensor step: the model would get bytes 0-255 instead of [0, 1] floats")
            ok = false
        }
        return ok ? steps : nil
    }

    /// Three finite numbers (R, G, B); positive ones for a standard deviation.
    mutating func channels(_ value: JSONValue?, _ path: JSONPath, positive: Bool) -> [Double]? {
        guard let value else {
            problem(path, "missing: three numbers, one per channel (R, G, B)")
            return nil
        }
        guard let items = value.arrayValue, items.count == 3 else {
            problem(path, "must be three numbers, one per channel (R, G, B), not \(value.shortDescription)")
            return nil
        }
        var numbers: [Double] = []
        for (i, item) in items.enumerated() {
            guard let n = item.doubleValue, n.isFinite, !positive || n > 0 else {
                problem(path.index(i), positive ? "must be a number greater than 0" : "must be a number")
                return nil
            }
            numbers.append(n)
        }
        return numbers
    }

    // MARK: the mhs object

    /// - Parameter known: the class names, when they were read without problems; the
    ///   members naming classes are checked against them only then.
    mutating func posting(_ value: JSONValue?, _ path: JSONPath, classNames known: [String]?, architecture: String) -> ModelConfiguration.Posting? {
        let classNames = known ?? []
        func isClass(_ name: String) -> Bool { known == nil || classNames.contains(name) }
        let defaultRegions = classNames.count == 2 ? [classNames[1]] : classNames
        var posting = ModelConfiguration.Posting(
            modelName: "\(architecture) (\(classNames.joined(separator: ", ")))", provider: "mhs model directory", ruo: true,
            threshold: 0.5, regions: defaultRegions, heatmap: classNames.last, report: .basic)
        guard let value else { return posting }
        guard let object = value.objectValue else {
            problem(path, "must be an object saying what to post, not \(value.typeName)")
            return nil
        }
        let before = problems.count
        for key in object.keys where !ModelConfiguration.postingMembers.contains(key) {
            problem(path.key(key), "unknown member: the mhs object has \(ModelConfiguration.postingMembers.joined(separator: ", "))")
        }
        if let v = object["model_name"] {
            if let s = v.stringValue, !s.isEmpty { posting.modelName = s } else { problem(path.key("model_name"), "must be a non-empty string") }
        }
        if let v = object["provider"] {
            if let s = v.stringValue, !s.isEmpty { posting.provider = s } else { problem(path.key("provider"), "must be a non-empty string") }
        }
        if let v = object["ruo"] {
            if let b = v.boolValue { posting.ruo = b } else { problem(path.key("ruo"), "must be true or false") }
        }
        if let v = object["threshold"] {
            if let t = v.doubleValue, t > 0, t < 1 { posting.threshold = t } else {
                problem(path.key("threshold"), "must be a probability between 0 and 1 (exclusive), not \(v.shortDescription)")
            }
        }
        if let v = object["regions"] {
            if let items = v.arrayValue {
                var regions: [String] = []
                for (i, item) in items.enumerated() {
                    if let name = item.stringValue, isClass(name) {
                        regions.append(name)
                    } else {
                        problem(path.key("regions").index(i), "\(item.shortDescription) is not one of the class names (\(classNames.joined(separator: ", ")))")
                    }
                }
                posting.regions = regions
            } else {
                problem(path.key("regions"), "must be a list of class names")
            }
        }
        if let v = object["heatmap"] {
            if case .null = v {
                posting.heatmap = nil
            } else if let name = v.stringValue, isClass(name) {
                posting.heatmap = name
            } else {
                problem(path.key("heatmap"), "\(v.shortDescription) is not one of the class names (\(classNames.joined(separator: ", "))) or null")
            }
        }
        if let v = object["report"] {
            if let name = v.stringValue, let kind = ModelConfiguration.ReportKind(rawValue: name) { posting.report = kind } else {
                problem(path.key("report"), "must be one of \(ModelConfiguration.ReportKind.allCases.map(\.rawValue).joined(separator: ", ")), not \(v.shortDescription)")
            }
        }
        return problems.count == before ? posting : nil
    }
}

extension JSONValue {
    /// A short spelling for messages: the value itself when small, else its type.
    var shortDescription: String {
        switch self {
        case .null: "null"
        case .bool(let b): String(b)
        case .int(let i): String(i)
        case .double(let d): String(d)
        case .string(let s): s.count <= 40 ? "'\(s)'" : "a string"
        case .array, .object: typeName
        }
    }
}
