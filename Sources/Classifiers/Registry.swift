import MHSRunner

/// The classifiers `mhs run` can run, chosen by `MHS_CLASSIFIER` (default: the template).
public enum ClassifierRegistry {
    /// Every classifier by name.
    public static let all: [String: any Classifier] = [
        "template": TemplateClassifier(), "stain": StainHeatmapClassifier(), "nuclei": NucleiClassifier(), "slow": SlowClassifier(),
        "invalid": InvalidResultsClassifier(),
    ]

    /// The classifier called `name`, or the template when `name` is nil.
    public static func named(_ name: String?) -> (any Classifier)? {
        all[name ?? "template"]
    }
}
