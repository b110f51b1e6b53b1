#!/usr/bin/env bash
# Concurrency benchmark: Silo against the distribution registry (and zot,
# when ZOT_BIN names a zot binary built from its source), side by side on
# loopback, each on its embedded defaults with data in a temporary
# directory. Silo's requests carry an API token (Basic); the others run
# without authentication.
#
#   bash bench/concurrency/run.sh
#   ZOT_BIN=/path/to/zot DURATION=5s ROUNDS=2 bash bench/concurrency/run.sh
#   ZOT_COMMIT=true ...   zot with its "commit" storage option (it syncs
#       what it writes, as Silo does), off by default in zot
#   BENCH_DIR=/mnt/x ...  the registries' data on another filesystem
#   PROFILE=cpu.pprof bash bench/concurrency/run.sh   # Silo CPU profile of one round
#   TRACE=push.trace ONLY=push bash bench/concurrency/run.sh
#       Silo execution trace of the first seconds (TRACE_SECONDS, 3): where
#       requests wait (go tool trace -pprof=syscall|sync|sched push.trace)
#   BASE_REF=main ONLY=push bash bench/concurrency/run.sh
#       also runs Silo built from that git ref ("silo@main") in the same
#       run: on a shared machine rates drift ±30 % between runs, so a change
#       is judged by its ratio to the ref measured beside it.
#
# Figures, the profile and what limits them: bench/concurrency/README.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d -p "${BENCH_DIR:-${TMPDIR:-/tmp}}")
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

echo "building silo and distribution registry v3.0.0 ..."
go build -o "$tmp/silo" ./cmd/silo
GOBIN="$tmp/bin" GOFLAGS=-mod=mod go install github.com/distribution/distribution/v3/cmd/registry@v3.0.0
go build -o "$tmp/bench" ./bench/concurrency

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
silo_port=$(free_port)
dist_port=$(free_port)
pprof_port=$(free_port)

mkdir -p "$tmp/dist"
cat > "$tmp/dist.yml" <<YAML
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $tmp/dist
http:
  addr: 127.0.0.1:$dist_port
YAML
"$tmp/bin/registry" serve "$tmp/dist.yml" > "$tmp/dist.log" 2>&1 &
pids+=($!)

token=bench-admin-token-0123456789abcdef
SILO_ADMIN_TOKEN=$token SILO_LOG_LEVEL=error SILO_PPROF_ADDR=127.0.0.1:$pprof_port \
	"$tmp/silo" serve --addr "127.0.0.1:$silo_port" --data-dir "$tmp/silo-data" > "$tmp/silo.log" 2>&1 &
pids+=($!)

targets=(-target "silo=http://127.0.0.1:$silo_port,admin,$token")
if [ -n "${BASE_REF:-}" ]; then
	mkdir -p "$tmp/base-src"
	git archive "$BASE_REF" | tar -x -C "$tmp/base-src"
	(cd "$tmp/base-src" && go build -o "$tmp/silo-base" ./cmd/silo)
	base_port=$(free_port)
	SILO_ADMIN_TOKEN=$token SILO_LOG_LEVEL=error \
		"$tmp/silo-base" serve --addr "127.0.0.1:$base_port" --data-dir "$tmp/silo-base-data" > "$tmp/silo-base.log" 2>&1 &
	pids+=($!)
	targets+=(-target "silo@$BASE_REF=http://127.0.0.1:$base_port,admin,$token")
fi
wait_up() {
	for _ in $(seq 100); do
		code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1/v2/" || true)
		if [ "$code" = 200 ] || [ "$code" = 401 ]; then return 0; fi
		sleep 0.1
	done
	echo "registry on port $1 did not start" >&2
	cat "$tmp"/*.log >&2
	return 1
}
wait_up "$silo_port"
wait_up "$dist_port"
if [ -n "${BASE_REF:-}" ]; then wait_up "$base_port"; fi

if [ -n "${ZOT_BIN:-}" ]; then
	zot_port=$(free_port)
	cat > "$tmp/zot.json" <<JSON
{"distSpecVersion": "1.1.0", "storage": {"rootDirectory": "$tmp/zot", "gc": false, "dedupe": false, "commit": ${ZOT_COMMIT:-false}},
 "http": {"address": "127.0.0.1", "port": "$zot_port"}, "log": {"level": "error"}}
JSON
	"$ZOT_BIN" serve "$tmp/zot.json" > "$tmp/zot.log" 2>&1 &
	pids+=($!)
	wait_up "$zot_port"
	targets+=(-target "zot=http://127.0.0.1:$zot_port")
fi
targets+=(-target "distribution=http://127.0.0.1:$dist_port")

profiler=
if [ -n "${PROFILE:-}" ]; then
	curl -s -o "$PROFILE" "http://127.0.0.1:$pprof_port/debug/pprof/profile?seconds=${PROFILE_SECONDS:-25}" &
	profiler=$!
fi
if [ -n "${TRACE:-}" ]; then
	(sleep 1 && curl -s -o "$TRACE" "http://127.0.0.1:$pprof_port/debug/pprof/trace?seconds=${TRACE_SECONDS:-3}") &
	tracer=$!
fi
"$tmp/bench" -duration "${DURATION:-10s}" -rounds "${ROUNDS:-3}" -only "${ONLY:-}" "${targets[@]}"
if [ -n "$profiler" ]; then wait "$profiler"; fi
if [ -n "${TRACE:-}" ]; then wait "$tracer"; fi
