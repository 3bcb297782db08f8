// swift-tools-version:6.0
// l2s: LLM-to-SLM generation served as ZeroMQ + protobuf microservices. See docs/architecture.md and README.md.
import PackageDescription

/// One set of Swift settings for every Swift target.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny")
]

let package = Package(
    name: "l2s",
    products: [
        .executable(name: "l2s", targets: ["l2s"])
    ],
    targets: [
        // MARK: C libraries from Debian (module maps only) and C/C++ code of our own
        .systemLibrary(name: "CZeroMQ", path: "Sources/CZeroMQ"),
        .systemLibrary(name: "COpenBLAS", path: "Sources/COpenBLAS"),
        .systemLibrary(name: "CCrypto", path: "Sources/CCrypto"),
        .target(
            name: "CSentencePiece",
            path: "Sources/CSentencePiece",
            linkerSettings: [.linkedLibrary("sentencepiece")]
        ),
        .target(name: "CKernels", path: "Sources/CKernels"),
        .target(
            name: "CMicroHTTPD",
            path: "Sources/CMicroHTTPD",
            linkerSettings: [.linkedLibrary("microhttpd")]
        ),
        .target(
            name: "L2SProtoC",
            path: "Sources/L2SProtoC",
            linkerSettings: [.linkedLibrary("protobuf-c")]
        ),

        // MARK: Model side (no sockets below this line)
        .target(name: "Digest", dependencies: ["CCrypto"], swiftSettings: swiftSettings),
        .target(name: "Numerics", dependencies: ["COpenBLAS", "CKernels"], swiftSettings: swiftSettings),
        .target(name: "Tokenizers", dependencies: ["CSentencePiece", "Digest"], swiftSettings: swiftSettings),
        .target(name: "Models", dependencies: ["Numerics", "Tokenizers", "Digest"], swiftSettings: swiftSettings),
        .target(name: "Generation", dependencies: ["Models", "Numerics", "Tokenizers"], swiftSettings: swiftSettings),

        // MARK: Wire and services
        .target(name: "Wire", dependencies: ["CZeroMQ", "L2SProtoC"], swiftSettings: swiftSettings),
        .target(
            name: "Cluster", dependencies: ["Generation", "Models", "Tokenizers", "Wire", "Metrics", "Digest"],
            swiftSettings: swiftSettings),
        .target(name: "Metrics", swiftSettings: swiftSettings),
        .target(name: "HTTP", dependencies: ["CMicroHTTPD"], swiftSettings: swiftSettings),
        .target(
            name: "Gateway", dependencies: ["Cluster", "Generation", "Wire", "HTTP", "Metrics"],
            swiftSettings: swiftSettings),
        .executableTarget(
            name: "l2s",
            dependencies: [
                "Cluster", "Gateway", "HTTP", "Metrics", "Wire", "Generation", "Models", "Tokenizers", "Numerics",
            ],
            swiftSettings: swiftSettings),

        // MARK: Tests
        .target(name: "TestSupport", path: "Tests/TestSupport", swiftSettings: swiftSettings),
        .testTarget(name: "DigestTests", dependencies: ["Digest"], swiftSettings: swiftSettings),
        .testTarget(
            name: "NumericsTests", dependencies: ["Numerics", "CKernels", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(
            name: "TokenizersTests", dependencies: ["Tokenizers", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(
            name: "ModelsTests", dependencies: ["Models", "Numerics", "Digest", "TestSupport"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "GenerationTests", dependencies: ["Generation", "Models", "TestSupport"], swiftSettings: swiftSettings
        ),
        .testTarget(name: "WireTests", dependencies: ["Wire", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(
            name: "ClusterTests", dependencies: ["Cluster", "Wire", "Generation", "Models", "Metrics", "TestSupport"],
            swiftSettings: swiftSettings),
        .testTarget(name: "CLITests", dependencies: ["TestSupport"], swiftSettings: swiftSettings),
    ],
    cxxLanguageStandard: .cxx17
)
