#!/usr/bin/env bash
# Push/pull benchmark: Silo against the distribution registry, started side
# by side on loopback with data in a temporary directory. Both binaries are
# built here; the distribution registry comes from the Go module proxy.
#
#   bash bench/oci/run.sh            # 1 GiB + 200 x 64 KiB, best of 2 rounds
#   BIG_MIB=256 ROUNDS=1 bash bench/oci/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
# BENCH_DIR puts both registries' data elsewhere, e.g. /dev/shm to take the
# disk out of the comparison.
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

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
silo_port=$(free_port)
dist_port=$(free_port)

mkdir -p "$tmp/dist"
cat > "$tmp/dist.yml" <<YAML
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $tmp/dist
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$dist_port
YAML
"$tmp/bin/registry" serve "$tmp/dist.yml" > "$tmp/dist.log" 2>&1 &
pids+=($!)

token=bench-admin-token-0123456789abcdef
SILO_ADMIN_TOKEN=$token SILO_LOG_LEVEL=error "$tmp/silo" serve --addr "127.0.0.1:$silo_port" --data-dir "$tmp/silo-data" > "$tmp/silo.log" 2>&1 &
pids+=($!)

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

silo="silo=http://127.0.0.1:$silo_port,admin,$token"
dist="distribution=http://127.0.0.1:$dist_port"
# DIST_FIRST=1 measures the distribution registry first (order effects).
if [ "${DIST_FIRST:-0}" = 1 ]; then
	order=(-target "$dist" -target "$silo")
else
	order=(-target "$silo" -target "$dist")
fi
go run ./bench/oci -big "${BIG_MIB:-1024}" -rounds "${ROUNDS:-2}" "${order[@]}"
