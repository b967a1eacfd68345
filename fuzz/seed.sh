#!/usr/bin/env bash
# Copies the golden files and the bad-data corpus into the fuzz corpus as seeds.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p corpus/read_segment
cp ../format/tests/golden/*.scope ../format/tests/bad_data/*.scope corpus/read_segment/
