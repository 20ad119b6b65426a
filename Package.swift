// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "mhs",
    platforms: [.macOS(.v15)],
    products: [
        /// What a lab's classifier depends on: the typed Techcyte results contract.
        .library(name: "MHSContract", targets: ["MHSContract"]),
        /// Whole-slide images through OpenSlide 4 (loaded at run time).
        .library(name: "MHSSlide", targets: ["MHSSlide"]),
        /// The container runtime: the `Classifier` protocol and the task runner.
        .library(name: "MHSRunner", targets: ["MHSRunner"]),
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
        .target(name: "MHSImaging", dependencies: ["CSpng", "MHSContract"]),
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
        // HTTP: slide downloads and the Techcyte API (AsyncHTTPClient).
        .target(
            name: "MHSTransport",
            dependencies: [
                "MHSSecrets",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // The task runner: environment, classifier API, stages, exit codes, console, bundle.
        .target(
            name: "MHSRunner",
            dependencies: [
                "MHSContract", "MHSSlide", "MHSImaging", "MHSGPU", "MHSTransport", "MHSSecrets",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
            ]
        ),
        // The classifiers: the template (the one file a lab edits) and the examples.
        .target(name: "Classifiers", dependencies: ["MHSRunner", "MHSContract", "MHSSlide", "MHSInference", "MHSGPU"]),
        // The local Techcyte platform.
        .target(
            name: "MHSEmulator",
            dependencies: [
                "MHSContract", "MHSSlide", "MHSImaging", "MHSSecrets",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
            ]
        ),
        // The command-line tool: one file per subcommand.
        .executableTarget(
            name: "mhs",
            dependencies: [
                "MHSContract", "MHSEmulator", "MHSSlide", "MHSRunner", "Classifiers", "MHSGPU", "MHSInference", "MHSTransport",
                "MHSSecrets",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
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
            dependencies: ["Classifiers", "MHSSlide", "MHSInference", "MHSRunner"],
            path: "Benchmarks/NucleiBenchmark"
        ),
        .testTarget(name: "MHSContractTests", dependencies: ["MHSContract"]),
        .testTarget(name: "MHSInferenceTests", dependencies: ["MHSInference", "MHSGPU", "Classifiers", "MHSTestSupport"]),
        .testTarget(
            name: "MHSEmulatorTests",
            dependencies: [
                "MHSEmulator", "MHSSlide", "MHSImaging", "MHSTestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "CLITests", dependencies: ["MHSContract", "MHSTestSupport"]),
        .testTarget(
            name: "MHSTransportTests", dependencies: ["MHSTransport", .product(name: "PropertyBased", package: "swift-property-based")]),
        .testTarget(name: "MHSSlideTests", dependencies: ["MHSSlide", "MHSImaging", "MHSTestSupport"]),
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
