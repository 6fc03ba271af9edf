#!/usr/bin/env bash
# Puts code-server (the VS Code 1.100 workbench and extension host) into DIR for the end-to-end
# test, fetching only from the npm registry and Debian. Used when the workplace's own installer
# (../shared/tools/install-code-server.sh) is not beside the checkout.
#
# What it has to work around: code-server's install scripts build native modules (so Kerberos
# headers are needed) and two dependencies would fetch from GitHub (ripgrep's binary, node-gyp):
# scripts are skipped, Debian's rg stands in for the bundled one, and modules are rebuilt locally.
# 4.100.3 is the last release whose engines field takes Node 20.
set -euo pipefail
target=${1:?usage: install-code-server.sh DIR}
release=${CODE_SERVER_VERSION:-4.100.3}
export npm_config_yes=true

missing=()
for pkg in libkrb5-dev pkg-config ripgrep chromium build-essential; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

mkdir -p "$target"
cd "$target"
[ -f package.json ] || printf '{"name": "ghostls-code-server", "private": true}\n' > package.json
npm install --ignore-scripts --no-audit --no-fund "code-server@$release"
npm rebuild argon2

workbench=node_modules/code-server/lib/vscode
(
  cd "$workbench"
  npm install --omit=dev --ignore-scripts --no-audit --no-fund
  mkdir -p node_modules/@vscode/ripgrep/bin
  cp "$(command -v rg)" node_modules/@vscode/ripgrep/bin/rg
  npm rebuild
  # The server looks for its modules in an asar archive that the npm package does not ship.
  rm -rf node_modules.asar
  ln -s node_modules node_modules.asar
  ln -sf code-linux.sh bin/remote-cli/code-server
  ln -sf browser-linux.sh bin/helpers/browser.sh
  cd extensions
  npm install --omit=dev --no-audit --no-fund
)
"$target/node_modules/.bin/code-server" --version
