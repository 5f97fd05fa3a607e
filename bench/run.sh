#!/usr/bin/env bash
# bench/run.sh: rivetgo against RivetKit 2.3.19, side by side (see bench/RESULTS.md).
#
#   bash bench/run.sh            # or: make bench
#
# Builds bin/ (make build) and bench/.bin/goclient, installs bench/rivetkit's
# pinned packages (npm ci, optional packages included: the linux-x64
# rivet-engine and native runtime come as optional packages) when missing or
# stale, then runs bench/run.mjs, which alternates rivetgo and the RivetKit
# server scenario by scenario and prints a Markdown table (also written to
# bench/out/<time>.md and .jsonl). Knobs: see the header of bench/run.mjs
# (BENCH_SCENARIOS, BENCH_SYSTEMS, BENCH_RK_ENV, ...). About 4.5–5 minutes on 2
# cores, plus the first npm ci (~1.5 min).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
	make build >&2
fi
mkdir -p bench/.bin
go build -o bench/.bin/goclient ./bench/goclient

stamp=bench/rivetkit/node_modules/.installed
if [ ! -f "$stamp" ] || [ bench/rivetkit/package-lock.json -nt "$stamp" ] || [ bench/rivetkit/package.json -nt "$stamp" ]; then
	(cd bench/rivetkit && npm ci --no-audit --no-fund >&2)
	touch "$stamp"
fi

exec node bench/run.mjs "$@"
