#!/usr/bin/env bash
# Installs everything contactd needs to build, run and test on Debian 12.
# Idempotent: each step checks first, and prints nothing when there is nothing to do.
# Used by README.md, .ci/run and the Dockerfile alike.
#   scripts/setup.sh            build + test dependencies (apt packages, MinIO server)
#   scripts/setup.sh --runtime  only what the server needs to run (Dockerfile runtime stage)
# Model files come from npm registry packages, checked against pinned sha256 sums, into
# $CONTACTD_MODEL_DIR (default /usr/local/share/contactd/models as root, else
# ~/.local/share/contactd/models), where contactd looks for them.
# SETUP_SKIP_TEST_TOOLS=1 leaves out what only the tests need (MinIO, the onnxruntime harness).
set -euo pipefail

MINIO_VERSION="v0.0.0-20260212201848-7aac2a2c5b7c"
VAD_PACKAGE="@ricky0123/vad-web@0.0.31"
VAD_TGZ_SHA256="d1a211cf1a2ed26297da52cc08de79e75d79838a274bfc6de546feb1f828c940"
VAD_ONNX_SHA256="2623a2953f6ff3d2c1e61740c6cdb7168133479b267dfef114a4a3cc5bdd788f"
FACE_PACKAGE="@vladmandic/face-api@1.7.15"
FACE_TGZ_SHA256="0d77fffeef362ef9c0939cf6c567f3a2e8e177f114fa257a3270cbd2e509b031"
# The tiny face detector and the expression network (tfjs weights manifests and their shards).
FACE_FILES=(
  "b7503ce7df31039b1c43316a9b865cab6a70dd748cc602d3fa28b551503c3871 tiny_face_detector_model.bin"
  "5d1af4849ac48d5b985f4a9b16010c512353ddd6fcc63d50fd0bc9e9e64296e5 tiny_face_detector_model-weights_manifest.json"
  "9a9840f2cf1f4c7eab95f197512569345c00d2426754d4608b92af30e0300f3d face_expression_model.bin"
  "5b349c17c7836da506e03422cd6461c74085d8bb2713ad4114647dc5d28174c8 face_expression_model-weights_manifest.json"
)

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

# Node.js and npm fetch the model packages (a Node.js that ships npm may already be here).
if ! command -v npm >/dev/null; then
  echo "setup: installing nodejs and npm"
  sudo_ apt-get update -qq
  DEBIAN_FRONTEND=noninteractive sudo_ apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi

# Silero VAD v5 weights (MIT), from the npm package that ships them.
if [ "$(id -u)" = 0 ]; then model_dir="${CONTACTD_MODEL_DIR:-/usr/local/share/contactd/models}"
else model_dir="${CONTACTD_MODEL_DIR:-$HOME/.local/share/contactd/models}"; fi
if ! echo "$VAD_ONNX_SHA256  $model_dir/silero_vad_v5.onnx" | sha256sum -c --status 2>/dev/null; then
  echo "setup: installing silero_vad_v5.onnx from $VAD_PACKAGE into $model_dir"
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "$VAD_PACKAGE" >/dev/null 2>&1)
  tgz="$(ls "$tmp"/*.tgz)"
  echo "$VAD_TGZ_SHA256  $tgz" | sha256sum -c --status || { echo "setup: $VAD_PACKAGE: checksum mismatch" >&2; exit 1; }
  tar -xzf "$tgz" -C "$tmp" package/dist/silero_vad_v5.onnx
  echo "$VAD_ONNX_SHA256  $tmp/package/dist/silero_vad_v5.onnx" | sha256sum -c --status || { echo "setup: silero_vad_v5.onnx: checksum mismatch" >&2; exit 1; }
  mkdir -p "$model_dir"
  install -m 0644 "$tmp/package/dist/silero_vad_v5.onnx" "$model_dir/silero_vad_v5.onnx"
fi

# Face detector and expression network (MIT), from the npm package that ships them.
face_ok=1
for f in "${FACE_FILES[@]}"; do
  echo "${f%% *}  $model_dir/face/${f#* }" | sha256sum -c --status 2>/dev/null || face_ok=0
done
if [ "$face_ok" = 0 ]; then
  echo "setup: installing the face models from $FACE_PACKAGE into $model_dir/face"
  ftmp="$(mktemp -d)"
  (cd "$ftmp" && npm pack --silent "$FACE_PACKAGE" >/dev/null 2>&1)
  ftgz="$(ls "$ftmp"/*.tgz)"
  echo "$FACE_TGZ_SHA256  $ftgz" | sha256sum -c --status || { echo "setup: $FACE_PACKAGE: checksum mismatch" >&2; exit 1; }
  mkdir -p "$model_dir/face"
  for f in "${FACE_FILES[@]}"; do
    name="${f#* }"
    tar -xzf "$ftgz" -C "$ftmp" "package/model/$name"
    echo "${f%% *}  $ftmp/package/model/$name" | sha256sum -c --status || { echo "setup: $name: checksum mismatch" >&2; exit 1; }
    install -m 0644 "$ftmp/package/model/$name" "$model_dir/face/$name"
  done
  rm -rf "$ftmp"
fi

[ "${SETUP_SKIP_TEST_TOOLS:-}" = 1 ] && exit 0

# onnxruntime (npm onnxruntime-node), only as the reference the VAD test and benchmark compare with.
ortref="$(cd "$(dirname "$0")/.." && pwd)/tools/ortref"
if ! [ -f "$ortref/node_modules/onnxruntime-node/package.json" ] || ! cmp -s "$ortref/package-lock.json" "$ortref/node_modules/.contactd-lock" 2>/dev/null; then
  echo "setup: installing the onnxruntime reference harness (tools/ortref)"
  (cd "$ortref" && npm ci --ignore-scripts --no-audit --no-fund --silent && cp package-lock.json node_modules/.contactd-lock)
fi

# face-api on tfjs wasm (npm), only as the reference the face tests and benchmark compare with.
faceref="$(cd "$(dirname "$0")/.." && pwd)/tools/faceref"
if ! [ -f "$faceref/node_modules/@vladmandic/face-api/package.json" ] || ! cmp -s "$faceref/package-lock.json" "$faceref/node_modules/.contactd-lock" 2>/dev/null; then
  echo "setup: installing the face reference harness (tools/faceref)"
  (cd "$faceref" && npm ci --ignore-scripts --no-audit --no-fund --silent && cp package-lock.json node_modules/.contactd-lock)
fi

# playwright-core (npm), driving Debian's chromium in the pages' end-to-end test.
e2e="$(cd "$(dirname "$0")/.." && pwd)/tools/e2e"
if ! [ -f "$e2e/node_modules/playwright-core/package.json" ] || ! cmp -s "$e2e/package-lock.json" "$e2e/node_modules/.contactd-lock" 2>/dev/null; then
  echo "setup: installing the end-to-end test driver (tools/e2e, playwright-core)"
  (cd "$e2e" && npm ci --ignore-scripts --no-audit --no-fund --silent && cp package-lock.json node_modules/.contactd-lock)
fi

# MinIO server for the S3 tests. It builds from source in about 5 minutes, so skip when present.
gobin="$(go env GOPATH)/bin"
if ! [ -x "$gobin/minio" ] || ! go version -m "$gobin/minio" 2>/dev/null | grep -q "$MINIO_VERSION"; then
  echo "setup: building MinIO server $MINIO_VERSION (takes a few minutes)"
  GOFLAGS=-mod=mod go install "github.com/minio/minio@$MINIO_VERSION"
fi
