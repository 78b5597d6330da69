#!/usr/bin/env bash
# Installs everything contactd needs to build, run and test on Debian 12.
# Idempotent: each step checks first, and prints nothing when there is nothing to do.
# Used by README.md, .ci/run and the Dockerfile alike.
#   scripts/setup.sh            build + test dependencies (apt packages, MinIO server)
#   scripts/setup.sh --runtime  only what the server needs to run (Dockerfile runtime stage)
set -euo pipefail

MINIO_VERSION="v0.0.0-20260212201848-7aac2a2c5b7c"

BUILD_PKGS=(libavcodec-dev libavformat-dev libavfilter-dev libavutil-dev libswresample-dev
  libswscale-dev libavdevice-dev portaudio19-dev pkg-config ffmpeg espeak-ng sox prometheus chromium fonts-dejavu-core gcc git ca-certificates)
RUNTIME_PKGS=(libavcodec59 libavformat59 libavfilter8 libavutil57 libswresample4 libswscale6
  libavdevice59 libportaudio2 ffmpeg ca-certificates)

mode="${1:-all}"
case "$mode" in
  all) pkgs=("${BUILD_PKGS[@]}") ;;
  --runtime) pkgs=("${RUNTIME_PKGS[@]}") ;;
  *) echo "setup.sh: unknown argument $mode (want nothing or --runtime)" >&2; exit 2 ;;
esac

sudo_() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing apt packages: ${missing[*]}"
  sudo_ apt-get update -qq
  DEBIAN_FRONTEND=noninteractive sudo_ apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

[ "$mode" = --runtime ] && exit 0

# MinIO server for the S3 tests. It builds from source in about 5 minutes, so skip when present.
[ "${SETUP_SKIP_MINIO:-}" = 1 ] && exit 0
gobin="$(go env GOPATH)/bin"
if ! [ -x "$gobin/minio" ] || ! go version -m "$gobin/minio" 2>/dev/null | grep -q "$MINIO_VERSION"; then
  echo "setup: building MinIO server $MINIO_VERSION (takes a few minutes)"
  GOFLAGS=-mod=mod go install "github.com/minio/minio@$MINIO_VERSION"
fi
