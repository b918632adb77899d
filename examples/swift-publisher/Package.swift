// swift-tools-version:6.1
import PackageDescription

// A trading engine's side of Guardian Fleet, as another package sees it: GuardianPublisher and
// GuardianEvents used as a dependency (by path here; by URL and version in a real engine).
// `make examples` builds it; CI runs that after `make test`.
let package = Package(
    name: "publisher-example",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "guardian-fleet", path: "../.."),
    ],
    targets: [
        .executableTarget(
            name: "PublisherExample",
            dependencies: [
                .product(name: "GuardianPublisher", package: "guardian-fleet"),
                .product(name: "GuardianEvents", package: "guardian-fleet"),
                .product(name: "GuardianKafka", package: "guardian-fleet"),
            ]
        ),
    ]
)
