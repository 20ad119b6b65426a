// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "mhs",
    platforms: [.macOS(.v15)],
    products: [
        /// Everything a classifier needs, in one import: the results contract, slides and the
        /// tile pipeline, images, the GPU and ONNX Runtime, the `Classifier` protocol and the
        /// task runner.
        .library(name: "MHS", targets: ["MHS"]),
        /// The `mhs` command line for a lab's own executable:
        /// `MHSCommand.main(classifiers: [MyClassifier()])`.
        .library(name: "MHSCommands", targets: ["MHSCommands"]),
        /// Tests of a classifier: run it on a slide against the in-process emulator and get the
        /// posted body, the exit status, the console and the files back.
        .library(name: "MHSTesting", targets: ["MHSTesting"]),
        /// The typed Techcyte results contract alone (no slides, no networking).
        .library(name: "MHSContract", targets: ["MHSContract"]),
        /// The local Techcyte: the platform's HTTP contract on loopback.
        .library(name: "MHSEmulator", targets: ["MHSEmulator"]),
        .executable(name: "mhs", targets: ["mhs"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.20"),
        .package(url: "https://github.com/apple/swift-async-algorithms", from: "1.1.4"),
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.5.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.7.4"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
    ],
    targets: [
        // The contract: results model, GeoJSON, JSON value type, builders, validator and the
        // fast encoder. No networking, no image code, no file I/O.
        .target(
            name: "MHSContract",
            dependencies: [.product(name: "OrderedCollections", package: "swift-collections")]
        ),
        // libspng (Debian's libspng-dev) for PNG encoding.
        .systemLibrary(name: "CSpng", pkgConfig: "spng", providers: [.apt(["libspng-dev"])]),
        // dlopen and the search for a run-time library (a variable, Python wheels, sonames),
        // shared by OpenSlide, the CUDA driver, cuBLAS and ONNX Runtime.
        .target(name: "MHSDynamicLibrary"),
        // Secret redaction for logs, errors, records and files.
        .target(name: "MHSSecrets"),
        // RGBA rasters, drawing, PNG encoding.
        .target(name: "MHSImaging", dependencies: ["CSpng", "MHSContract", "MHSDynamicLibrary"]),
        // libturbojpeg (Debian's libturbojpeg0-dev) for JPEG tiles.
        .systemLibrary(name: "CTurboJPEG", pkgConfig: "libturbojpeg", providers: [.apt(["libturbojpeg0-dev"])]),
        // zlib (Debian's zlib1g-dev) for series zips, inflated with bounded work.
        .systemLibrary(name: "CZlibInflate", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // OpenSlide 4 through dlopen: open, levels, properties, regions, thumbnails; the TIFF,
        // DICOM and zip structure parsers (every number checked), format sniffing, DICOM
        // headers, series zips, the crash-contained probe (a child process, swift-subprocess),
        // the demo's synthetic slide.
        .target(
            name: "MHSSlide",
            dependencies: [
                "MHSImaging", "CTurboJPEG", "CZlibInflate", "MHSDynamicLibrary",
                .product(name: "AsyncAlgorithms", package: "swift-async-algorithms"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        // The GPU through dlopen: CUDA driver probe, cuBLAS, the SGEMM check (`mhs gpu`).
        .target(name: "MHSGPU", dependencies: ["MHSDynamicLibrary"]),
        // ONNX Runtime through dlopen: sessions on the CPU or CUDA, float tensors, and the
        // producer/consumer overlap of preprocessing with inference.
        .target(
            name: "MHSInference",
            dependencies: ["MHSGPU", "MHSDynamicLibrary", .product(name: "AsyncAlgorithms", package: "swift-async-algorithms")]
        ),
        // WSInfer-compatible model directories (config.json beside model.onnx): what a
        // config means, read purely, every problem with its JSON path.
        .target(name: "MHSModels", dependencies: ["MHSContract"]),
        // A model directory as a classifier: the check of model against config, the
        // transform into NCHW batches, tissue patches scored through ONNX Runtime, the posting.
        .target(
            name: "MHSModelRunner",
            dependencies: ["MHSModels", "MHSContract", "MHSSlide", "MHSImaging", "MHSInference", "MHSGPU", "MHSRunner"]
        ),
        // HTTP: slide downloads and the Techcyte API (AsyncHTTPClient).
        .target(
            name: "MHSTransport",
            dependencies: [
                "MHSSecrets",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        // The task runner: environment, classifier API, stages, exit codes, console, bundle.
        .target(
            name: "MHSRunner",
            dependencies: [
                "MHSContract", "MHSSlide", "MHSImaging", "MHSGPU", "MHSTransport", "MHSSecrets",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        // One import for a classifier: re-exports the contract, slides, imaging, GPU,
        // inference and the runner.
        .target(
            name: "MHS",
            dependencies: [
                "MHSContract", "MHSSlide", "MHSImaging", "MHSGPU", "MHSInference", "MHSRunner", "MHSDynamicLibrary", "MHSModels",
                "MHSModelRunner", .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The example classifiers (template, stain, nuclei) and the diagnostics (slow,
        // invalid): written as a lab's package would be, importing only `MHS`.
        .target(name: "MHSExamples", dependencies: ["MHS"]),
        // The local Techcyte platform.
        .target(
            name: "MHSEmulator",
            dependencies: [
                "MHSContract", "MHSSlide", "MHSImaging", "MHSSecrets",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "OrderedCollections", package: "swift-collections"),
            ],
            resources: [
                // The web page: templates over a typed view model, its stylesheet and viewer.
                .embedInCode("Web/Templates/page.mustache"), .embedInCode("Web/Templates/focus.mustache"),
                .embedInCode("Web/Templates/head.mustache"), .embedInCode("Web/Templates/scripts.mustache"),
                .embedInCode("Web/Templates/legend.mustache"), .embedInCode("Web/Templates/scan.mustache"),
                .embedInCode("Web/Templates/evaluation.mustache"), .embedInCode("Web/Templates/table.mustache"),
                .embedInCode("Web/Assets/page.css"), .embedInCode("Web/Assets/viewer.js"),
            ]
        ),
        // The command line, one file per subcommand, over the classifiers a package hands
        // `MHSCommand.main(classifiers:)`; `mhs new` writes a lab package.
        .target(
            name: "MHSCommands",
            dependencies: [
                "MHS", "MHSEmulator", "MHSTransport", "MHSSecrets",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            resources: [.embedInCode("LabPackage/TemplateClassifier.swift.txt")]
        ),
        // Running a classifier on a slide against the in-process emulator, for a lab's tests.
        .target(name: "MHSTesting", dependencies: ["MHS", "MHSEmulator"]),
        // The `mhs` tool: the commands over the examples.
        .executableTarget(name: "mhs", dependencies: ["MHSCommands", "MHSExamples"]),
        // Encode/validate throughput against Python's json and orjson (run by Benchmarks/contract.sh).
        .executableTarget(
            name: "ContractBenchmark",
            dependencies: ["MHSContract"],
            path: "Benchmarks/ContractBenchmark"
        ),
        // Helpers shared by the test targets: paths, the mhs binary, HTTP calls.
        .target(
            name: "MHSTestSupport",
            dependencies: [
                "MHSContract", "MHSEmulator",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Tests/MHSTestSupport"
        ),
        // Tile pipeline throughput against openslide-python and the JPEG decode limit (Benchmarks/tiles.sh).
        .executableTarget(
            name: "TileBenchmark",
            dependencies: ["MHSSlide", "MHSImaging"],
            path: "Benchmarks/TileBenchmark"
        ),
        // Nuclei classifier throughput with and without overlap (Benchmarks/nuclei.sh).
        .executableTarget(
            name: "NucleiBenchmark",
            dependencies: ["MHSExamples", "MHS"],
            path: "Benchmarks/NucleiBenchmark"
        ),
        .testTarget(name: "MHSContractTests", dependencies: ["MHSContract", .product(name: "PropertyBased", package: "swift-property-based")]),
        .testTarget(name: "MHSModelsTests", dependencies: ["MHSModels", "MHSContract"]),
        .testTarget(
            name: "MHSModelRunnerTests",
            dependencies: ["MHSModelRunner", "MHSModels", "MHSInference", "MHSSlide", "MHSImaging", "MHSRunner", "MHSTestSupport"]
        ),
        .testTarget(name: "MHSInferenceTests", dependencies: ["MHSInference", "MHSGPU", "MHSDynamicLibrary", "MHSExamples", "MHSTestSupport"]),
        .testTarget(
            name: "MHSEmulatorTests",
            dependencies: [
                "MHSEmulator", "MHSSlide", "MHSImaging", "MHSTestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "MHSRunnerTests",
            dependencies: [
                "MHSRunner", "MHSContract", "MHSEmulator", "MHSImaging", "MHSSecrets", "MHSSlide", "MHSTransport", "MHSTestSupport",
            ]
        ),
        .testTarget(name: "FrameworkTests", dependencies: ["MHSTesting", "MHSExamples", "MHSTestSupport"]),
        .testTarget(name: "CLITests", dependencies: ["MHSContract", "MHSTestSupport"]),
        .testTarget(
            name: "MHSTransportTests", dependencies: ["MHSTransport", .product(name: "PropertyBased", package: "swift-property-based")]),
        .testTarget(
            name: "MHSSlideTests",
            dependencies: ["MHSSlide", "MHSImaging", "MHSTestSupport", .product(name: "PropertyBased", package: "swift-property-based")]),
        .testTarget(
            name: "RunTests",
            dependencies: [
                "MHSContract", "MHSEmulator", "MHSImaging", "MHSSlide", "MHSSecrets", "MHSTestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
