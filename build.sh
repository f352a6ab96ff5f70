#!/usr/bin/env bash
# Builds the two deployable artifacts, reproducibly (the same sources give byte-identical zips:
# fixed timestamps and modes, sorted entries), and refuses either over Lambda's size limits:
#
#   dist/function.zip       bootstrap, runtime/ (without the emulator), handlers/, the web page's
#                           files (client/web/, served by handlers/pages.py) and the pinned
#                           packages of requirements.txt for Lambda's Python and architecture
#   dist/runtime-layer.zip  a Lambda layer: bootstrap and runtime/ at its root (/opt/bootstrap,
#                           /opt/runtime/), for AWS_LAMBDA_EXEC_WRAPPER=/opt/bootstrap
#
# Bytecode: when the build machine has Lambda's interpreter (python$LAMBDA_PYTHON, e.g. python3.13),
# every .py is compiled with it into unchecked hash-based .pyc files, valid whatever the files'
# timestamps, so a cold start does not compile the runtime (or boto3). Without that interpreter
# the artifacts ship sources only, and the build says so. BYTECODE=0 turns it off.
#
#   ./build.sh                      arm64, Python 3.13, boto3 bundled (the defaults template.yaml expects)
#   ARCH=x86_64 ./build.sh          for an x86_64 function
#   BUNDLE_SDK=0 ./build.sh         use the managed runtime's boto3 instead (see README: Deploying)
#   OUT=... LAYER_OUT=... ./build.sh   other output paths
#   LAMBDA_PYTHON_BIN=/path/python3.13 ./build.sh   the interpreter to compile bytecode with
set -euo pipefail
cd "$(dirname "$0")"

ARCH=${ARCH:-arm64}
LAMBDA_PYTHON=${LAMBDA_PYTHON:-3.13}
BUNDLE_SDK=${BUNDLE_SDK:-1}
BYTECODE=${BYTECODE:-auto}
OUT=${OUT:-dist/function.zip}
LAYER_OUT=${LAYER_OUT:-dist/runtime-layer.zip}
PYTHON=${PYTHON:-python3}
MAX_ZIPPED=$((50 * 1024 * 1024))
MAX_UNZIPPED=$((250 * 1024 * 1024))

case "$ARCH" in
  arm64) platform=manylinux2014_aarch64 ;;
  x86_64) platform=manylinux2014_x86_64 ;;
  *) echo "build.sh: ARCH must be arm64 or x86_64, not $ARCH" >&2; exit 2 ;;
esac

# Lambda's interpreter: LAMBDA_PYTHON_BIN, else python3.13 on PATH, else a pyenv-installed 3.13.
is_target_python() {
  [ -n "$1" ] && "$1" -c "import sys; sys.exit(sys.version_info[:2] != tuple(map(int, '$LAMBDA_PYTHON'.split('.'))))" 2>/dev/null
}
compiler=""
if [ "$BYTECODE" != 0 ]; then
  for candidate in "${LAMBDA_PYTHON_BIN:-}" "$(command -v "python$LAMBDA_PYTHON" || true)" \
      "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$LAMBDA_PYTHON"*/bin/"python$LAMBDA_PYTHON"; do
    if is_target_python "$candidate"; then
      compiler=$candidate
      break
    fi
  done
  if [ -z "$compiler" ] && [ "$BYTECODE" = 1 ]; then
    echo "build.sh: BYTECODE=1 needs python$LAMBDA_PYTHON (on PATH, or LAMBDA_PYTHON_BIN)" >&2
    exit 2
  elif [ -z "$compiler" ]; then
    echo "build.sh: no python$LAMBDA_PYTHON here: shipping sources only (Lambda compiles them at each cold start)" >&2
  fi
fi

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
function_stage="$stage/function"
layer_stage="$stage/layer"
mkdir -p "$function_stage" "$layer_stage"

# The runtime package without the emulator (a local tool), as .py files.
copy_runtime() {
  cp runtime/bootstrap "$1/bootstrap"
  find runtime -name '*.py' -not -path 'runtime/emulator/*' | while read -r file; do
    mkdir -p "$1/$(dirname "$file")"
    cp "$file" "$1/$file"
  done
}

if [ "$BUNDLE_SDK" = 1 ]; then
  "$PYTHON" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --no-compile --no-deps \
    --target "$function_stage" --platform "$platform" --implementation cp --python-version "$LAMBDA_PYTHON" \
    --only-binary=:all: -r requirements.txt
  # pip's own bookkeeping is not needed at run time and varies with the pip version.
  find "$function_stage" -name RECORD -path '*.dist-info/*' -delete
  find "$function_stage" -name INSTALLER -path '*.dist-info/*' -delete
  find "$function_stage" -name REQUESTED -path '*.dist-info/*' -delete
  rm -rf "$function_stage/bin"
fi
copy_runtime "$function_stage"
find handlers -name '*.py' | while read -r file; do
  mkdir -p "$function_stage/$(dirname "$file")"
  cp "$file" "$function_stage/$file"
done
mkdir -p "$function_stage/client/web"
cp client/web/*.html client/web/*.css client/web/*.js "$function_stage/client/web/"
copy_runtime "$layer_stage"

# Bytecode beside each source, as the interpreter looks for it, recorded under the path Lambda
# mounts the artifact at (/var/task, /opt) so tracebacks name the real files.
if [ -n "$compiler" ]; then
  "$compiler" -m compileall -q -j 0 --invalidation-mode unchecked-hash -s "$function_stage" -p /var/task "$function_stage"
  "$compiler" -m compileall -q -j 0 --invalidation-mode unchecked-hash -s "$layer_stage" -p /opt "$layer_stage"
fi

mkdir -p "$(dirname "$OUT")" "$(dirname "$LAYER_OUT")"
for pair in "$function_stage:$OUT" "$layer_stage:$LAYER_OUT"; do
  "$PYTHON" - "${pair%%:*}" "${pair#*:}" "$MAX_ZIPPED" "$MAX_UNZIPPED" <<'PY'
"""Write a deterministic zip of a staging directory and check Lambda's size limits."""
import hashlib
import os
import stat
import sys
import zipfile

stage, out, max_zipped, max_unzipped = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
EPOCH = (1980, 1, 1, 0, 0, 0)
files = []
for root, dirs, names in os.walk(stage):
    for name in names:
        if name.endswith(".pyo"):
            continue
        path = os.path.join(root, name)
        files.append((os.path.relpath(path, stage).replace(os.sep, "/"), path))
files.sort()
unzipped = sum(os.path.getsize(path) for _, path in files)
if unzipped > max_unzipped:
    sys.exit(f"build.sh: unzipped size {unzipped} bytes exceeds Lambda's {max_unzipped}")
tmp = out + ".tmp"
with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
    for name, path in files:
        info = zipfile.ZipInfo(name, EPOCH)
        executable = name == "bootstrap" or os.stat(path).st_mode & stat.S_IXUSR
        info.external_attr = ((0o100755 if executable else 0o100644) & 0xFFFF) << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        with open(path, "rb") as source:
            archive.writestr(info, source.read(), compresslevel=9)
zipped = os.path.getsize(tmp)
if zipped > max_zipped:
    os.remove(tmp)
    sys.exit(f"build.sh: zipped size {zipped} bytes exceeds Lambda's {max_zipped}")
os.replace(tmp, out)
digest = hashlib.sha256(open(out, "rb").read()).hexdigest()
bytecode = sum(name.endswith(".pyc") for name, _ in files)
print(f"{out}: {zipped} bytes zipped, {unzipped} bytes unzipped, {len(files)} files ({bytecode} .pyc)")
print(f"sha256 {digest}")
PY
done
