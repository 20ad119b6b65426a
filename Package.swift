// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "mhs",
    platforms: [.macOS(.v14)],
    products: [
        /// What a lab's classifier depends on: the typed Techcyte results contract.
        .library(name: "MHSContract", targets: ["MHSContract"]),
        .executable(name: "mhs", targets: ["mhs"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
    ],
    targets: [
        // The contract: results model, GeoJSON, JSON value type, builders, validator and the
        // fast encoder. No networking, no image code, no file I/O.
        .target(
            name: "MHSContract",
            dependencies: [.product(name: "OrderedCollections", package: "swift-collections")]
        ),
        // The command-line tool: one file per subcommand.
        .executableTarget(
            name: "mhs",
            dependencies: [
                "MHSContract",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Encode/validate throughput against Python's json and orjson (run by Benchmarks/contract.sh).
        .executableTarget(
            name: "ContractBenchmark",
            dependencies: ["MHSContract"],
            path: "Benchmarks/ContractBenchmark"
        ),
        .testTarget(name: "MHSContractTests", dependencies: ["MHSContract"]),
        .testTarget(name: "CLITests", dependencies: ["MHSContract"]),
    ],
    swiftLanguageModes: [.v6]
)
