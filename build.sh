#!/usr/bin/env bash
# Builds dist/function.zip: bootstrap, runtime/ (without the emulator), handlers/, the web client's
# static files (client/web/, served by handlers/pages.py) and the pinned
# third-party packages from requirements.txt, installed for Lambda's Python and architecture.
# Reproducible: the same sources give a byte-identical zip (fixed timestamps and modes, sorted
# entries, no .pyc from this machine). Refuses a package over Lambda's limits.
#
#   ./build.sh                      arm64, Python 3.13, boto3 bundled (the defaults template.yaml expects)
#   ARCH=x86_64 ./build.sh          for an x86_64 function
#   BUNDLE_SDK=0 ./build.sh         use the managed runtime's boto3 instead (see README: Deploying)
set -euo pipefail
cd "$(dirname "$0")"

ARCH=${ARCH:-arm64}
LAMBDA_PYTHON=${LAMBDA_PYTHON:-3.13}
BUNDLE_SDK=${BUNDLE_SDK:-1}
OUT=${OUT:-dist/function.zip}
PYTHON=${PYTHON:-python3}
MAX_ZIPPED=$((50 * 1024 * 1024))
MAX_UNZIPPED=$((250 * 1024 * 1024))

case "$ARCH" in
  arm64) platform=manylinux2014_aarch64 ;;
  x86_64) platform=manylinux2014_x86_64 ;;
  *) echo "build.sh: ARCH must be arm64 or x86_64, not $ARCH" >&2; exit 2 ;;
esac

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

if [ "$BUNDLE_SDK" = 1 ]; then
  "$PYTHON" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --no-compile --no-deps \
    --target "$stage" --platform "$platform" --implementation cp --python-version "$LAMBDA_PYTHON" \
    --only-binary=:all: -r requirements.txt
  # pip's own bookkeeping is not needed at run time and varies with the pip version.
  find "$stage" -name RECORD -path '*.dist-info/*' -delete
  find "$stage" -name INSTALLER -path '*.dist-info/*' -delete
  find "$stage" -name REQUESTED -path '*.dist-info/*' -delete
  rm -rf "$stage/bin"
fi
cp bootstrap "$stage/bootstrap"
# The runtime package without the emulator (a local tool), the handlers (.py files only), and the
# web page's files that handlers/pages.py serves.
(find runtime -name '*.py' -not -path 'runtime/emulator/*'; find handlers -name '*.py') | while read -r file; do
  mkdir -p "$stage/$(dirname "$file")"
  cp "$file" "$stage/$file"
done
mkdir -p "$stage/client/web"
cp client/web/*.html client/web/*.css client/web/*.js "$stage/client/web/"

mkdir -p "$(dirname "$OUT")"
"$PYTHON" - "$stage" "$OUT" "$MAX_ZIPPED" "$MAX_UNZIPPED" <<'PY'
"""Write a deterministic zip of the staging directory and check Lambda's size limits."""
import hashlib
import os
import stat
import sys
import zipfile

stage, out, max_zipped, max_unzipped = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
EPOCH = (1980, 1, 1, 0, 0, 0)
files = []
for root, dirs, names in os.walk(stage):
    dirs[:] = [d for d in dirs if d != "__pycache__"]
    for name in names:
        if name.endswith((".pyc", ".pyo")):
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
print(f"{out}: {zipped} bytes zipped, {unzipped} bytes unzipped, {len(files)} files")
print(f"sha256 {digest}")
PY
