#!/usr/bin/env bash
# Installs the Debian packages whose real servers the tests start, when they are missing.
# The system services are never started: the test fixtures run throwaway servers on loopback.
set -euo pipefail
need=()
command -v pg_ctl >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || need+=(postgresql)
command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
# kubectl builds deploy/ with `kubectl kustomize` in the operator tests (the machine image has it).
command -v kubectl >/dev/null 2>&1 || need+=(kubernetes-client)
# The HTML report's browser test drives Debian's headless Chromium through its chromedriver.
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
if ((${#need[@]})); then
  sudo=""; [[ $(id -u) -eq 0 ]] || sudo="sudo"
  echo "installing Debian packages: ${need[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  # Debian starts the packaged services on install; the tests run their own on free ports.
  $sudo systemctl stop prometheus postgresql >/dev/null 2>&1 || true
fi
# Azurite (Microsoft's Blob storage emulator) from npm into the repository's git-ignored
# node_modules/, pinned; the azurite fixture runs node_modules/.bin/azurite-blob in memory.
AZURITE_VERSION=3.37.0
cd "$(dirname "$0")/.."
if [[ ! -x node_modules/.bin/azurite-blob ]] || \
   ! grep -q "\"version\": \"${AZURITE_VERSION}\"" node_modules/azurite/package.json 2>/dev/null; then
  if command -v npm >/dev/null 2>&1; then
    echo "installing azurite@${AZURITE_VERSION} into node_modules/"
    npm install --no-save --no-audit --no-fund --loglevel=error "azurite@${AZURITE_VERSION}" >/dev/null
  else
    # The Azure Blob tests skip (with this hint) when Azurite is missing.
    echo "warning: npm not found; install Node.js/npm to run the Azurite tests" >&2
  fi
fi
# Grafana's dashboard schema as TypeScript types (@grafana/schema, the Grafana release's own
# package) and the compiler that checks deploy/grafana/*.json against them, pinned, in their own
# git-ignored folder (a second `npm install --no-save` in node_modules/ would prune Azurite).
GRAFANA_SCHEMA_VERSION=13.2.3
TYPESCRIPT_VERSION=5.9.3
tools=.tools/grafana-schema
if ! grep -q "\"version\": \"${GRAFANA_SCHEMA_VERSION}\"" "$tools/node_modules/@grafana/schema/package.json" 2>/dev/null || \
   ! grep -q "\"version\": \"${TYPESCRIPT_VERSION}\"" "$tools/node_modules/typescript/package.json" 2>/dev/null; then
  if command -v npm >/dev/null 2>&1; then
    echo "installing @grafana/schema@${GRAFANA_SCHEMA_VERSION} typescript@${TYPESCRIPT_VERSION} into $tools/"
    mkdir -p "$tools"
    npm install --prefix "$tools" --no-save --no-audit --no-fund --loglevel=error \
      "@grafana/schema@${GRAFANA_SCHEMA_VERSION}" "typescript@${TYPESCRIPT_VERSION}" >/dev/null
  else
    echo "warning: npm not found; the Grafana dashboard schema test needs it" >&2
  fi
fi
