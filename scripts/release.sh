#!/usr/bin/env bash
# Cuts a release (docs/releasing.md): sets VERSION in ChatVersion.swift, CHANGELOG.md (the Unreleased section
# becomes the release's), the image's label and the Kubernetes image tag, commits, and tags vVERSION. Pushing and the image are yours.
#   scripts/release.sh 0.10.0
set -euo pipefail
cd "$(dirname "$0")/.."

version="${1:-}"
if ! [[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+(-rc\.[0-9]+)?$ ]]; then
  echo "usage: scripts/release.sh X.Y.Z (or X.Y.Z-rc.N)" >&2; exit 2
fi
if [ -n "$(git status --porcelain)" ]; then echo "the tree has uncommitted changes: commit or stash them" >&2; exit 1; fi
current=$(sed -n 's/^    public static let number = "\(.*\)"$/\1/p' Sources/ChatCore/ChatVersion.swift)
# A release candidate comes before its release: X.Y.Z-rc.N orders as X.Y.Z.0.N, X.Y.Z as X.Y.Z.1.0 (sort -V alone
# puts 1.0.0-rc.1 after 1.0.0).
order() { if [[ "$1" == *-rc.* ]]; then echo "${1%-rc.*}.0.${1##*-rc.}"; else echo "$1.1.0"; fi; }
if [ "$(printf '%s\n%s\n' "$(order "$current")" "$(order "$version")" | sort -V | tail -1)" != "$(order "$version")" ] \
  || [ "$current" = "$version" ]; then
  echo "$version is not above the current release $current" >&2; exit 1
fi
if git rev-parse -q --verify "refs/tags/v$version" >/dev/null; then echo "tag v$version exists" >&2; exit 1; fi
# What is under "## [Unreleased]" up to the next release's heading: the release's notes. None, no release.
notes=$(awk '/^## \[Unreleased\]/{on=1; next} /^## \[/{on=0} on' CHANGELOG.md | grep -c '[^[:space:]]' || true)
if [ "$notes" -eq 0 ]; then echo "CHANGELOG.md's Unreleased section is empty: say what changed first" >&2; exit 1; fi

today=$(date -u +%Y-%m-%d)
sed -i "s/^    public static let number = \".*\"$/    public static let number = \"$version\"/" Sources/ChatCore/ChatVersion.swift
sed -i "s/^## \[Unreleased\]$/## [Unreleased]\n\n## [$version] - $today/" CHANGELOG.md
sed -i "s/org.opencontainers.image.version=\"[^\"]*\"/org.opencontainers.image.version=\"$version\"/" deploy/Dockerfile
sed -i "s/^    newTag: \".*\"$/    newTag: \"$version\"/" deploy/kubernetes/components/release/kustomization.yaml
git add Sources/ChatCore/ChatVersion.swift CHANGELOG.md deploy/Dockerfile deploy/kubernetes/components/release/kustomization.yaml
git commit -q -m "Release $version"
git tag -a "v$version" -m "swift-redis-chat $version"
echo "tagged v$version; next: scripts/test.sh, git push origin HEAD v$version, docker build (docs/releasing.md)"
