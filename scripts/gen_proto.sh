#!/usr/bin/env bash
# Regenerate federation/pb/v1 from proto/ (the folder path is the Python import path).
# --check: fail if the committed generated code differs from what the .proto files produce.
set -euo pipefail
cd "$(dirname "$0")/.."
out=federation/pb/v1
gen() {
  local dest=$1
  python -m grpc_tools.protoc -I proto --python_out="$dest" --pyi_out="$dest" --grpc_python_out="$dest" \
    proto/federation/pb/v1/*.proto
}
if [ "${1:-}" = "--check" ]; then
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
  gen "$tmp"
  if ! diff -r -q "$tmp/federation/pb/v1" "$out" --exclude=__init__.py --exclude=__pycache__; then
    echo "generated protobuf code is stale: run scripts/gen_proto.sh and commit" >&2
    exit 1
  fi
  echo "generated protobuf code is up to date"
  exit 0
fi
gen .
touch federation/pb/__init__.py federation/pb/v1/__init__.py
