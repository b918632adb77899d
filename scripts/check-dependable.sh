#!/usr/bin/env bash
# Can another package depend on this one by URL and version? SwiftPM refuses a versioned dependency
# whose targets use unsafe build flags (`.unsafeFlags`), which a path dependency or the root package
# never shows. This clones HEAD into a temporary git repository, tags it 1.0.0, and builds a throwaway
# package that depends on it by URL and exact version and uses GuardianEvents and GuardianPublisher.
# Part of `make examples` (CI). Exit status: the build's.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SWIFT="${SWIFT:-swift}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
git clone -q --no-local "$ROOT" "$tmp/guardian-fleet"
git -C "$tmp/guardian-fleet" -c user.name=check -c user.email=check@localhost tag -a 1.0.0 -m "dependability check" HEAD
mkdir -p "$tmp/consumer/Sources/Consumer"
cat >"$tmp/consumer/Package.swift" <<MANIFEST
// swift-tools-version:6.1
import PackageDescription
let package = Package(
    name: "consumer",
    platforms: [.macOS(.v15)],
    dependencies: [.package(url: "file://$tmp/guardian-fleet", exact: "1.0.0")],
    targets: [.executableTarget(name: "Consumer", dependencies: [
        .product(name: "GuardianEvents", package: "guardian-fleet"),
        .product(name: "GuardianPublisher", package: "guardian-fleet"),
    ])]
)
MANIFEST
cat >"$tmp/consumer/Sources/Consumer/main.swift" <<'SOURCE'
import GuardianEvents
import GuardianPublisher
let event = GuardianEvent(eventID: .random(), symbol: "AAPL", seq: 1, ts: 1_700_000_000_000_000_000, kind: .orderCheck)
print(EventEncoder().encode(event).count, PublisherConfiguration(topic: "t").topic)
SOURCE
echo "check-dependable: building a package that depends on $(git -C "$ROOT" rev-parse --short HEAD) by URL, version 1.0.0"
set +e
"$SWIFT" build --package-path "$tmp/consumer" >"$tmp/build.log" 2>&1
status=$?
set -e
tail -n 20 "$tmp/build.log"
[ "$status" = 0 ] && echo "check-dependable: OK" || echo "check-dependable: FAILED (see above)"
exit "$status"
