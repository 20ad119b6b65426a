import MHS

/// The classifiers the `mhs` tool ships: the template (what `mhs new` starts a lab from), the
/// stain heatmap and nuclei examples, and two diagnostics for exercising the runner (`slow`
/// for deadlines and signals, `invalid` for results that break the contract).
public enum ExampleClassifiers {
    /// Every example, the template first (the default when `MHS_CLASSIFIER` is unset).
    public static let all: [any Classifier] = [
        TemplateClassifier(), StainHeatmapClassifier(), NucleiClassifier(), SlowClassifier(), InvalidResultsClassifier(),
    ]
}
