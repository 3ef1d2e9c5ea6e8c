#!/usr/bin/env bash
# Runs buf with google/api/*.proto taken from the google-proto-files npm package.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .buf/googleapis/google/api
cp node_modules/google-proto-files/google/api/{annotations,http}.proto .buf/googleapis/google/api/
PATH="$PWD/node_modules/.bin:$PATH" exec buf "$@"
