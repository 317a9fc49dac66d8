// swift-tools-version:6.0
import PackageDescription

// No target uses `unsafeFlags`, so SwiftRec stays usable as a versioned dependency.
// Fast paths come from the C kernels' run-time CPU dispatch and from BLAS found at run time.
let package = Package(
    name: "SwiftRec",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "SwiftRecTensor", targets: ["SwiftRecTensor"]),
        .library(name: "SwiftRecData", targets: ["SwiftRecData"]),
        .library(name: "SwiftRecModels", targets: ["SwiftRecModels"]),
        .library(name: "SwiftRecEvaluation", targets: ["SwiftRecEvaluation"]),
        .library(name: "SwiftRecServing", targets: ["SwiftRecServing"]),
        .executable(name: "swiftrec", targets: ["swiftrec"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        // partitioningIndex(where:): binary searches over time-ordered histories.
        .package(url: "https://github.com/apple/swift-algorithms", from: "1.2.1"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        // HMAC-SHA256 for pseudonymised user ids and the popularity noise (already built for Hummingbird).
        .package(url: "https://github.com/apple/swift-crypto", from: "4.0.0"),
        // Tests only: reads docs/openapi.yaml so replies are checked against its schemas.
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        .target(name: "CSwiftRecKernels"),
        .target(name: "SwiftRecTensor", dependencies: ["CSwiftRecKernels"]),
        .target(name: "SwiftRecData", dependencies: ["CSwiftRecKernels"]),
        .target(
            name: "SwiftRecModels",
            dependencies: ["SwiftRecTensor", "SwiftRecData", .product(name: "Algorithms", package: "swift-algorithms")]),
        .target(
            name: "SwiftRecEvaluation",
            dependencies: [
                "SwiftRecTensor", "SwiftRecData", "SwiftRecModels",
                .product(name: "Algorithms", package: "swift-algorithms"),
            ]),
        .target(
            name: "SwiftRecServing",
            dependencies: [
                "SwiftRecTensor", "SwiftRecData", "SwiftRecModels", "SwiftRecEvaluation",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]),
        .target(
            name: "SwiftRecCLI",
            dependencies: [
                "SwiftRecTensor", "SwiftRecData", "SwiftRecModels", "SwiftRecEvaluation", "SwiftRecServing",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]),
        .executableTarget(name: "swiftrec", dependencies: ["SwiftRecCLI"]),
        .testTarget(
            name: "SwiftRecTensorTests",
            dependencies: ["SwiftRecTensor"],
            resources: [.copy("Fixtures")]),
        .testTarget(name: "SwiftRecDataTests", dependencies: ["SwiftRecData"]),
        .testTarget(
            name: "SwiftRecModelsTests",
            dependencies: ["SwiftRecModels", "SwiftRecEvaluation", "SwiftRecData", "SwiftRecTensor"],
            resources: [.copy("Fixtures")]),
        .testTarget(
            name: "SwiftRecEvaluationTests",
            dependencies: ["SwiftRecEvaluation", "SwiftRecModels", "SwiftRecData", "SwiftRecTensor"]),
        .testTarget(
            name: "SwiftRecCLITests",
            dependencies: ["SwiftRecCLI", "SwiftRecModels", "SwiftRecData", "SwiftRecServing"]),
        .testTarget(
            name: "SwiftRecServingTests",
            dependencies: [
                "SwiftRecServing", "SwiftRecModels", "SwiftRecData", "SwiftRecEvaluation", "SwiftRecTensor",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Yams", package: "Yams"),
            ]),
    ]
)
