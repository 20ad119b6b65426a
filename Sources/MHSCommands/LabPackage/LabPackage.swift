import MHS

/// The files of a lab's package, as `mhs new` writes them.
///
/// The classifier is the template example's own source (embedded at build time from
/// `Sources/MHSExamples/Template/TemplateClassifier.swift`), renamed: what a lab starts from
/// is exactly what mhs builds and tests.
struct LabPackage {
    /// Where the package gets mhs.
    enum Dependency {
        /// The published package at ``LabPackage/defaultURL``.
        case published
        /// A local checkout.
        case path(String)
    }

    static let defaultURL = "https://github.com/techcyte-labs/mhs"
    static let defaultVersion = MHSVersion.number

    var name: String
    var dependency: Dependency

    /// `my-lab` → `MyLab`: the Swift name of the package's types and modules.
    var typeName: String {
        name.split(whereSeparator: { $0 == "-" || $0 == "_" }).map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
    }

    /// `my-lab` → `my-lab`: the classifier's name (`MHS_CLASSIFIER`).
    var classifierName: String { name.lowercased() }

    var classifierPath: String { "Sources/\(typeName)Classifiers/\(typeName)Classifier.swift" }

    static func isValidName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first.properties.isAlphabetic, first.isASCII else { return false }
        return name.count <= 64 && name.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "-" || $0 == "_") }
    }

    /// Relative path and contents of every file, in the order they are listed.
    var files: [(path: String, contents: String)] {
        [
            ("Package.swift", packageManifest),
            (classifierPath, classifierSource),
            ("Sources/\(typeName)/main.swift", mainSource),
            ("Tests/\(typeName)Tests/\(typeName)ClassifierTests.swift", testSource),
            ("Dockerfile", dockerfile),
            (".gitignore", ".build/\nPackage.resolved\n/output/\n"),
            ("README.md", readme),
        ]
    }

    /// How SwiftPM names the mhs dependency: the last component of its URL or path.
    var dependencyIdentity: String {
        switch dependency {
        case .published: "mhs"
        case .path(let path): String(path.split(separator: "/").last ?? "mhs").lowercased()
        }
    }

    var packageManifest: String {
        let mhs: String
        switch dependency {
        case .published: mhs = #".package(url: "\#(Self.defaultURL)", from: "\#(Self.defaultVersion)")"#
        case .path(let path): mhs = #".package(path: "\#(path)")"#
        }
        let id = dependencyIdentity
        return """
            // swift-tools-version:6.0
            import PackageDescription

            let package = Package(
                name: "\(name)",
                platforms: [.macOS(.v15)],
                dependencies: [
                    \(mhs),
                ],
                targets: [
                    // The lab's classifiers: what `mhs run` runs in the container.
                    .target(name: "\(typeName)Classifiers", dependencies: [.product(name: "MHS", package: "\(id)")]),
                    // The container's entrypoint: mhs's commands over the lab's classifiers.
                    .executableTarget(
                        name: "\(typeName)",
                        dependencies: ["\(typeName)Classifiers", .product(name: "MHSCommands", package: "\(id)")]
                    ),
                    .testTarget(
                        name: "\(typeName)Tests",
                        dependencies: ["\(typeName)Classifiers", .product(name: "MHSTesting", package: "\(id)")]
                    ),
                ],
                swiftLanguageModes: [.v6]
            )

            """
    }

    /// The template example, renamed for the lab.
    var classifierSource: String {
        String(decoding: PackageResources.TemplateClassifier_swift_txt, as: UTF8.self)
            .replacingOccurrences(of: "TemplateClassifier", with: "\(typeName)Classifier")
            .replacingOccurrences(of: #"public let name = "template""#, with: #"public let name = "\#(classifierName)""#)
            .replacingOccurrences(of: #"modelName: "mhs template""#, with: #"modelName: "\#(name)""#)
            .replacingOccurrences(of: "// The template classifier: the one file a lab edits.", with: "// \(name)'s classifier: the one file the lab edits (started from mhs's template).")
    }

    var mainSource: String {
        """
        // The container's entrypoint (`\(name) run`), and the rest of mhs's commands (demo,
        // emulator, validate, inspect, gpu), over this package's classifiers.
        import \(typeName)Classifiers
        import MHSCommands

        await MHSCommand.main(classifiers: [\(typeName)Classifier()])

        """
    }

    var testSource: String {
        """
        // The classifier through a whole task: a synthetic slide, the in-process emulator, the
        // same runner as the container, one evaluation posted.
        import \(typeName)Classifiers
        import MHSTesting
        import Testing

        @Test("\(classifierName) posts one valid evaluation with its annotations")
        func postsOnce() async throws {
            let run = try await TaskHarness.run(\(typeName)Classifier())
            #expect(run.status == .posted, "\\(run.console.joined(separator: "\\n"))")
            #expect(run.evaluations == 1 && run.duplicates == 0)
            let results = try run.results()
            #expect(results.scanResults.count == 1)
            #expect((results.scanResults.first?.geojson?.features.count ?? 0) > 0)
            #expect(run.files.contains("result.png") && run.files.contains("run-report.json"))
        }

        """
    }

    var dockerfile: String {
        """
        # \(name)'s classifier container: `\(name) run` as the entrypoint, OpenSlide 4 and ONNX
        # Runtime from their wheels. Builds with the published mhs dependency (a --mhs-path
        # checkout outside this folder is not in the build context).
        #
        #   docker build -t \(classifierName) .
        #   docker run --rm -e HOST=... -e TASK_ID=... -e SCAN_ID=... -e SCAN_URL=... -e JWT_TOKEN=... \(classifierName)
        ARG ONNXRUNTIME_VERSION=1.31.1

        FROM swift:6.3-bookworm AS build
        RUN apt-get update \\
            && apt-get install -y --no-install-recommends libspng-dev libturbojpeg0-dev zlib1g-dev pkg-config \\
            && rm -rf /var/lib/apt/lists/*
        WORKDIR /src
        COPY Package.swift ./
        COPY Sources ./Sources
        COPY Tests ./Tests
        RUN swift build -c release --product \(typeName) --static-swift-stdlib \\
            && strip .build/release/\(typeName) \\
            && install -m 0755 .build/release/\(typeName) /usr/local/bin/classifier

        FROM python:3.11-slim-bookworm AS libraries
        ARG ONNXRUNTIME_VERSION
        RUN pip install --no-cache-dir --no-deps openslide-bin==4.0.1.2 onnxruntime==${ONNXRUNTIME_VERSION} \\
            && python -c "import glob, os, shutil, sysconfig; sp = sysconfig.get_paths()['purelib']; os.makedirs('/out', exist_ok=True); [shutil.copy(f, '/out/') for f in [sp + '/openslide_bin/libopenslide.so.1'] + glob.glob(sp + '/onnxruntime/capi/libonnxruntime.so*')]"

        FROM debian:bookworm-slim
        ARG ONNXRUNTIME_VERSION
        RUN apt-get update \\
            && apt-get install -y --no-install-recommends ca-certificates libspng0 libturbojpeg0 zlib1g \\
            && rm -rf /var/lib/apt/lists/* \\
            && useradd --create-home --uid 10001 lab \\
            && mkdir -p /output \\
            && chown lab /output
        COPY --from=libraries /out/ /usr/local/lib/mhs/
        COPY --from=build /usr/local/bin/classifier /usr/local/bin/classifier
        ENV MHS_OPENSLIDE_LIB=/usr/local/lib/mhs/libopenslide.so.1 \\
            MHS_ONNXRUNTIME_LIB=/usr/local/lib/mhs/libonnxruntime.so.${ONNXRUNTIME_VERSION} \\
            MHS_OUTPUT_DIR=/output \\
            MHS_WORK_DIR=/tmp
        USER 10001
        ENTRYPOINT ["classifier", "run"]

        """
    }

    var readme: String {
        """
        # \(name)

        A Techcyte Model Hosting Service classifier built on [mhs](\(Self.defaultURL)).

            swift test                      # the classifier through a whole task, on a synthetic slide
            swift run \(typeName) demo --output demo-output   # the task against the embedded emulator; see demo-output/result.png
            swift run \(typeName) validate demo-output/results.json

        * `\(classifierPath)` is the one file to edit: `classify(_:context:)` gets the opened slide
          and returns the results to post. Everything around it — download, validation, the
          picture, posting exactly once, the run report and the debug bundle — is mhs's.
        * `Sources/\(typeName)/main.swift` is the container's entrypoint: `\(typeName) run` reads
          the task from the environment the platform sets (HOST, TASK_ID, SCAN_ID, SCAN_URL,
          JWT_TOKEN). Add more classifiers to the list there; `MHS_CLASSIFIER` picks one.
        * `Tests/\(typeName)Tests` runs the classifier with `MHSTesting.TaskHarness` against the
          in-process emulator and checks what was posted.
        * `docker build -t \(classifierName) .` builds the container (CPU; Debian 12 bases).

        """
    }
}
