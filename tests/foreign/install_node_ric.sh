#!/usr/bin/env bash
# Installs AWS's Node.js runtime interface client for the compatibility test, if this machine
# can: Debian build tools for its native part, then npm aws-lambda-ric@3.3.0 (4.x needs Node 22).
# Exits non-zero, printing why, when it cannot; the test then skips with that reason.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
target="$here/node"
[ -f "$target/node_modules/aws-lambda-ric/package.json" ] && exit 0
command -v npm >/dev/null || { echo "npm is not installed"; exit 1; }
missing=()
for package in cmake autoconf automake libtool libcurl4-openssl-dev g++; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}") >/dev/null 2>&1 \
      || { echo "apt-get could not install ${missing[*]}"; exit 1; }
  else
    echo "missing build packages: ${missing[*]}"; exit 1
  fi
fi
mkdir -p "$target"
cd "$target"
[ -f package.json ] || echo '{"name":"node-ric-compat","private":true}' > package.json
npm install --no-audit --no-fund --loglevel=error aws-lambda-ric@3.3.0 >/dev/null 2>npm-error.log \
  || { echo "npm install aws-lambda-ric@3.3.0 failed: $(tail -n 3 npm-error.log)"; exit 1; }
