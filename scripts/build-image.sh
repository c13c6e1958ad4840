#!/usr/bin/env bash
# Builds the image where no image can be pulled: the release binaries on the host, staged
# (debug info stripped) in target/image-bin, then the Dockerfile's `prebuilt` target on a
# base made from Debian's packages (scripts/debian-base.sh, cached). Each step is cached:
# cargo's, the staging (a binary is re-stripped only when cargo rebuilt it) and Docker's
# layers, so a second run with nothing changed takes seconds.
#
#   scripts/build-image.sh [TAG]        TAG defaults to zkrs:dev (also tagged zkrs:<version>,
#                                       the operator's default image)
#   ZKRS_BASE_IMAGE=debian:bookworm-slim scripts/build-image.sh
#                                       another base (default zkrs-base:bookworm, made here)
#
# With public images, `docker build -t zkrs:dev .` builds everything in Docker instead.
set -euo pipefail
cd "$(dirname "$0")/.."

tag="${1:-zkrs:dev}"
base="${ZKRS_BASE_IMAGE:-zkrs-base:bookworm}"
wanted=(zkrs-server zkrs-cli zkrs-operator)

if [ "$base" = zkrs-base:bookworm ]; then
  bash scripts/debian-base.sh "$base"
fi

# The packages that hold the image's binaries; zkrs-operator's binary may not exist yet,
# and other workspace binaries (test load generators) are not built.
mapfile -t bins < <(cargo metadata --no-deps --format-version 1 | python3 -c '
import json, sys
wanted = sys.argv[1:]
for p in json.load(sys.stdin)["packages"]:
    for t in p["targets"]:
        if "bin" in t["kind"] and t["name"] in wanted:
            print(t["name"])
' "${wanted[@]}")
[ "${#bins[@]}" -gt 0 ] || {
  echo "build-image: the workspace has none of ${wanted[*]}" >&2
  exit 1
}
echo "== build-image: cargo build --release (${bins[*]})"
cargo build --release $(printf -- '--bin %s ' "${bins[@]}")

mkdir -p target/image-bin
# A binary the workspace no longer builds must not linger in the image.
for f in target/image-bin/*; do
  [ -e "$f" ] || continue
  keep=0
  for b in "${bins[@]}"; do [ "$(basename "$f")" = "$b" ] && keep=1; done
  [ "$keep" = 1 ] || rm -f "$f"
done
for b in "${bins[@]}"; do
  if [ ! -f "target/image-bin/$b" ] || [ "target/release/$b" -nt "target/image-bin/$b" ]; then
    strip --strip-debug -o "target/image-bin/$b.part" "target/release/$b"
    mv "target/image-bin/$b.part" "target/image-bin/$b"
  fi
done

echo "== build-image: docker build --target prebuilt (base $base) -t $tag"
docker build --target prebuilt --build-arg BASE_IMAGE="$base" -t "$tag" .
docker run --rm --network none "$tag" zkrs-server --version
# The operator's default image is zkrs:<version>: the default build carries that tag too.
if [ "$tag" = zkrs:dev ]; then
  version=$(cargo metadata --no-deps --format-version 1 | python3 -c '
import json, sys
print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"] == "zkrs-server"))')
  docker tag "$tag" "zkrs:$version"
fi
docker image ls "$tag"
