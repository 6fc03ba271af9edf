#!/usr/bin/env bash
# The VS Code extension's whole test, as `make test-vscode` runs it: install the npm packages from
# the lock file, unit tests, build and package the .vsix, install code-server when missing, then the
# end-to-end test in code-server + headless Chromium. Exits non-zero when anything fails.
set -euo pipefail
ext_dir=$(cd "$(dirname "$0")/.." && pwd)
repo_root=$(cd "$ext_dir/.." && pwd)
cd "$ext_dir"

start=$(date +%s)
npm ci --no-audit --no-fund
npm run test:unit
npm run package

export CODE_SERVER_DIR=${CODE_SERVER_DIR:-$ext_dir/.code-server}
if ! [ -x "$CODE_SERVER_DIR/node_modules/.bin/code-server" ]; then
  # The workplace's installer when it is beside the checkout, else our own (same steps).
  installer=$repo_root/../shared/tools/install-code-server.sh
  [ -f "$installer" ] || installer=$ext_dir/test/install-code-server.sh
  echo "installing code-server into $CODE_SERVER_DIR (about 10 minutes the first time)"
  bash "$installer" "$CODE_SERVER_DIR"
fi

echo "VS Code extension: npm ci, unit tests, package and code-server took $(( $(date +%s) - start ))s"
# Last, so its "N passed, M failed" line closes the output.
node test/e2e/run.mjs
