// The one import a classifier needs.
//
//     import MHS
//
//     struct MyClassifier: Classifier {
//         let name = "my-model"
//         func classify(_ slide: Slide, context: ClassifierContext) async throws -> ResultsBody { ... }
//     }
//
// A lab's package depends on the `MHS` product for its classifiers, on `MHSCommands` for its
// executable (`MHSCommand.main(classifiers:)`) and on `MHSTesting` for its tests.

/// The results contract: `ResultsBody`, GeoJSON features, reports, the validator, `MHSJSON`.
@_exported import MHSContract
/// Whole-slide images (`Slide`), the patch grid, the tissue mask and `PatchStream`.
@_exported import MHSSlide
/// RGBA rasters, drawing and PNG.
@_exported import MHSImaging
/// The CUDA probe and `ComputeDevice`.
@_exported import MHSGPU
/// ONNX Runtime sessions, tensors and the read/infer overlap.
@_exported import MHSInference
/// `Classifier`, `ClassifierContext`, `TaskConfiguration` and the task runner.
@_exported import MHSRunner
/// WSInfer-compatible model directories: `ModelConfiguration`, `ModelResults`, WSInfer's files.
@_exported import MHSModels
/// A model directory as a classifier: `ModelDirectoryClassifier`, `LoadedModel`, `PatchTensors`.
@_exported import MHSModelRunner
/// `LibraryLocations`: where OpenSlide, ONNX Runtime and CUDA are looked for.
@_exported import MHSDynamicLibrary
/// `Logger`, as `ClassifierContext.logger` hands it out.
@_exported import Logging
