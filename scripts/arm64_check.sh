#!/usr/bin/env bash
# l2m-edge on arm64, proved on an x86-64 machine: a Debian bookworm arm64 root run under
# qemu-user-static. On x86: build the wheel, export the shipped demo checkpoint to ONNX and to an
# OpenVINO IR (fp32), write a short SynthFaces-actor clip, run `l2m-edge run` on it with each
# artifact. In the arm64 root: install the wheel with its aarch64 dependencies from PyPI (no torch),
# run the same commands, and record the tracker's landmarks on the photos of
# benchmarks/mediapipe_versions.py. Then scripts/arm64_compare.py compares the edited faces and the
# landmarks with x86's and writes benchmarks/arm64.json and benchmarks/arm64.md.
#
# The root runs on two emulated Neoverse N1 cores: qemu emulates that CPU (QEMU_CPU) and
# scripts/arm64_cpu.py describes it in the root's /sys and /proc/cpuinfo, where qemu-user would show
# this machine's x86 CPU (onnxruntime's and OpenVINO's CPU detection crash on that). On qemu's default
# `max` CPU (SVE2, bf16, i8mm) OpenVINO's ARM plugin computes a wrong edit (max abs 1.7 against x86);
# on an N1 it matches x86 to 1e-5 — an emulation or SVE-kernel fault this machine cannot tell apart.
#
# Needs root (debootstrap, chroot, binfmt_misc) and ~3 GB under ARM64_ROOT. Reuses an existing root
# and its venv, so a rerun only installs the new wheel and runs. Emulation is slow: building the root
# takes 10-20 minutes and its first pip install as long again; a rerun takes a few minutes
# (benchmarks/arm64.md records each step), so it is not part of the test suite.
#
#   ARM64_ROOT  the arm64 root, outside the repository (default /var/tmp/l2m-arm64/root)
#   ARM64_WORK  wheels, artifacts, clip and outputs (default /var/tmp/l2m-arm64/work)
#   FRAMES      frames in the clip (default 4; each costs minutes under emulation)
#   QEMU_CPU    the Arm CPU emulated (default neoverse-n1; qemu-aarch64-static -cpu help lists them)
#   MIRROR      Debian mirror for debootstrap (default: the first one this machine's apt uses)
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
ROOT=${ARM64_ROOT:-/var/tmp/l2m-arm64/root}
WORK=${ARM64_WORK:-/var/tmp/l2m-arm64/work}
FRAMES=${FRAMES:-4}
X86=${X86_PYTHON:-$REPO/.venv/bin/python}
VENV=/opt/l2m  # inside the root
QEMU_CPU=${QEMU_CPU:-neoverse-n1}
CHECKPOINT=l2m_edge/assets/demo.safetensors
BACKENDS=(onnxruntime openvino)
SOURCE_DOMAIN=${SOURCE_DOMAIN:-auto}  # run --from: the faces' current domain (auto: the attribute classifier reads it)
declare -A TARGET=([onnxruntime]=onnx [openvino]=openvino)

mkdir -p "$WORK"
: > "$WORK/steps.tsv"
step() {  # step NAME COMMAND…: run it and record its wall time
  local name=$1 t0=$SECONDS
  shift
  echo "== $name" >&2
  "$@"
  printf '%s\t%d\n' "$name" $((SECONDS - t0)) >> "$WORK/steps.tsv"
}

tools() {
  if ! command -v debootstrap > /dev/null || ! [ -e /usr/bin/qemu-aarch64-static ] || ! command -v update-binfmts > /dev/null; then
    apt-get update -q && apt-get install -y -q qemu-user-static debootstrap binfmt-support
  fi
  mountpoint -q /proc/sys/fs/binfmt_misc || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  update-binfmts --enable qemu-aarch64
}

mirror() {
  local sources
  sources=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2> /dev/null || true)
  awk '/^URIs:/ {print $2; exit} /^deb / {print ($2 ~ /^\[/ ? $3 : $2); exit}' <<< "$sources"
}

root() {
  if [ ! -f "$ROOT/.l2m-arm64-root" ]; then
    local t0=$SECONDS
    debootstrap --arch=arm64 --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates \
      bookworm "$ROOT" "${MIRROR:-$(mirror)}"
    echo $((SECONDS - t0)) > "$ROOT/.l2m-arm64-root"  # how long the root took to build, for the record
  fi
  cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
  cp /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/ssl/certs/ca-certificates.crt"  # trust what this machine trusts (a proxy's CA)
}

cpu() {  # the Arm CPU the root is shown (scripts/arm64_cpu.py)
  rm -rf "$WORK/cpu"
  "$X86" "$REPO/scripts/arm64_cpu.py" "$WORK/cpu"
}

mounts() {
  mkdir -p "$ROOT/mnt/work"
  mountpoint -q "$ROOT/proc" || mount -t proc proc "$ROOT/proc"
  mountpoint -q "$ROOT/proc/cpuinfo" || mount --bind "$WORK/cpu/cpuinfo" "$ROOT/proc/cpuinfo"
  mountpoint -q "$ROOT/sys" || mount --bind "$WORK/cpu/sys" "$ROOT/sys"
  mountpoint -q "$ROOT/dev" || mount --rbind /dev "$ROOT/dev"
  mountpoint -q "$ROOT/mnt/work" || mount --bind "$WORK" "$ROOT/mnt/work"
}
unmount() {
  for dir in "$ROOT/mnt/work" "$ROOT/dev" "$ROOT/sys" "$ROOT/proc/cpuinfo" "$ROOT/proc"; do
    if mountpoint -q "$dir"; then umount -R "$dir" || umount -lR "$dir"; fi
  done
}

# pip's OpenCV (the one MediaPipe pulls, not the headless build) loads libGL and GLib: a desktop
# image has them, a minimal or server image (this root, a Pi OS Lite) needs them from its packages
system_packages() {
  in_root dpkg -s libgl1 libglib2.0-0 > /dev/null 2>&1 && return
  in_root apt-get update -q
  in_root apt-get install -y -q --no-install-recommends libgl1 libglib2.0-0
}

in_root() {  # a clean environment: nothing of this machine's Python or pip settings leaks in
  env -i HOME=/root LANG=C.UTF-8 PATH=$VENV/bin:/usr/sbin:/usr/bin:/sbin:/bin GLOG_minloglevel=2 QEMU_CPU="$QEMU_CPU" chroot "$ROOT" "$@"
}

wheel() {
  rm -rf "$WORK/wheels" && mkdir -p "$WORK/wheels"
  "$X86" -m pip wheel --quiet --no-deps -w "$WORK/wheels" "$REPO"
}

artifacts() {
  for backend in "${BACKENDS[@]}"; do
    "$REPO/.venv/bin/l2m-edge" export "$REPO/$CHECKPOINT" --target "${TARGET[$backend]}" --precision fp32 --out "$WORK/art-${TARGET[$backend]}" --force
  done
}

clip() {
  rm -rf "$WORK/clip"
  # PNG frames, not a compressed video: both machines must start from the same pixels (a decoder may round differently per CPU)
  "$X86" -c "
import sys
from pathlib import Path
import cv2
from l2m_edge.runtime.clip import clip_frames
out = Path(sys.argv[1]); out.mkdir()
for i, frame in enumerate(clip_frames(seconds=int(sys.argv[2]) / 25, fps=25, kind='actor')):
    cv2.imwrite(str(out / f'frame_{i:03d}.png'), frame)
" "$WORK/clip" "$FRAMES"
}

install() {
  [ -x "$ROOT$VENV/bin/python" ] || in_root python3 -m venv "$VENV"
  local whl
  whl=$(basename "$WORK"/wheels/l2m_edge-*.whl)
  in_root "$VENV/bin/pip" install --quiet --upgrade pip
  in_root "$VENV/bin/pip" install --progress-bar off "/mnt/work/wheels/$whl" > "$WORK/arm64-pip.log" 2>&1
  # --force-reinstall --no-deps for the project only: the same version number may carry new code
  in_root "$VENV/bin/pip" install --quiet --force-reinstall --no-deps "/mnt/work/wheels/$whl"
  {
    echo "machine: $(in_root uname -m)"
    echo "python: $(in_root "$VENV/bin/python" -V)"
    echo "glibc: $(in_root ldd --version | head -1)"
    echo "debian: $(cat "$ROOT/etc/debian_version")"
    echo "qemu: $(/usr/bin/qemu-aarch64-static --version | head -1), -cpu $QEMU_CPU"
    echo "root_build_seconds: $(cat "$ROOT/.l2m-arm64-root")"
  } > "$WORK/arm64-system.txt"
  in_root "$VENV/bin/pip" list --format json > "$WORK/arm64-packages.json"
  if in_root "$VENV/bin/python" -c "import torch" 2> /dev/null; then
    echo "torch is installed in the arm64 root: the device install must not need it" >&2
    exit 1
  fi
}

landmarks() {  # the tracker on benchmarks/mediapipe_versions.py's photos and clips, with aarch64's MediaPipe
  cp "$REPO/benchmarks/mediapipe_versions.py" "$WORK/"
  in_root /bin/sh -c "cd /mnt/work && exec $VENV/bin/python mediapipe_versions.py record --out arm64-mediapipe.npz"
}

model_inputs() {  # the clip's aligned faces, for the graph alone on both machines
  cp "$REPO/scripts/arm64_model_parity.py" "$WORK/"
  "$X86" "$WORK/arm64_model_parity.py" inputs --work "$WORK"
}

graph_one() {  # graph_one PLATFORM BACKEND: the editor graph on those faces; a crash leaves no output (compared as failed)
  local platform=$1 backend=$2 log="$WORK/model_out/$1-$2.log"
  mkdir -p "$WORK/model_out" && rm -f "$WORK/model_out/$platform-$backend.npy"
  if [ "$platform" = arm64 ]; then
    in_root "$VENV/bin/python" /mnt/work/arm64_model_parity.py infer --work /mnt/work --backend "$backend" --platform arm64 > "$log" 2>&1 || true
  else
    "$X86" "$WORK/arm64_model_parity.py" infer --work "$WORK" --backend "$backend" --platform "$platform" > "$log" 2>&1 || true
  fi
}

run_one() {  # run_one PLATFORM BACKEND; a failed run is recorded in out/PLATFORM-BACKEND.failed (its exit status)
  local platform=$1 backend=$2 out="$WORK/out/$1-$2" art="art-${TARGET[$2]}" rc=0
  rm -rf "$out" "$out.failed" && mkdir -p "$WORK/out"
  local args=(run --source clip --model "$art" --backend "$backend" --attr smile --from "$SOURCE_DOMAIN" --sink "out/$platform-$backend/")
  echo "l2m-edge ${args[*]}" > "$out.cmd"
  if [ "$platform" = arm64 ]; then
    in_root /bin/sh -c "cd /mnt/work && exec $VENV/bin/l2m-edge ${args[*]}" > "$out.log" 2>&1 || rc=$?
  else
    (cd "$WORK" && "$REPO/.venv/bin/l2m-edge" "${args[@]}") > "$out.log" 2>&1 || rc=$?
  fi
  if [ "$rc" != 0 ] || ! grep -q "faces edited [1-9]" "$out.log"; then
    echo "$platform $backend: no face edited (exit $rc), see $out.log" >&2
    echo "$rc" > "$out.failed"
  fi
}

step tools tools
step "arm64 root (debootstrap; reused when present)" root
step "x86: the Arm CPU the root is shown" cpu
trap unmount EXIT
mounts
step "arm64: libGL and GLib for OpenCV (apt; skipped when present)" system_packages
step "x86: wheel" wheel
step "x86: export onnx + openvino fp32" artifacts
step "x86: clip ($FRAMES frames)" clip
step "x86: the clip's aligned faces" model_inputs
step "arm64: pip install wheel + aarch64 dependencies" install
step "arm64: MediaPipe landmarks on the photos" landmarks
for backend in "${BACKENDS[@]}"; do
  step "x86: run $backend" run_one x86_64 "$backend"
  step "arm64: run $backend" run_one arm64 "$backend"
  step "x86: graph on the faces, $backend" graph_one x86_64 "$backend"
  step "arm64: graph on the faces, $backend" graph_one arm64 "$backend"
done
"$X86" "$REPO/scripts/arm64_compare.py" --work "$WORK" --out "$REPO/benchmarks/arm64"
