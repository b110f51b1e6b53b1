#!/usr/bin/env bash
# Silo on S3 against the S3 server itself: versitygw (an S3 gateway, posix
# backend on a temporary directory) and Silo (storage: s3 on it, SQLite
# metadata) on loopback, then ./bench/s3: a 1 GiB blob pushed and pulled
# straight to S3 with minio-go and through Silo, and Silo's peak memory
# while an 8 GiB push streams through it.
#
#   bash bench/s3/run.sh                   # 1 GiB, best of 2 rounds, 8 GiB RSS push
#   MIB=256 ROUNDS=1 RSS_GIB=2 bash bench/s3/run.sh
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

vgw_dir="${XDG_CACHE_HOME:-$HOME/.cache}/silo-tools/versitygw-v1.0.14"
if [ ! -x "$vgw_dir/versitygw" ]; then
	echo "building versitygw v1.0.14 ..."
	GOBIN="$vgw_dir" go install github.com/versity/versitygw/cmd/versitygw@v1.0.14
fi
echo "building silo ..."
go build -o "$tmp/silo" ./cmd/silo

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
s3_port=$(free_port)
silo_port=$(free_port)
key=bench-access-key
secret=bench-secret-key-0123456789
mkdir -p "$tmp/s3/silo"   # the bucket: a directory of the posix backend
"$vgw_dir/versitygw" --access "$key" --secret "$secret" --port "127.0.0.1:$s3_port" --quiet posix "$tmp/s3" > "$tmp/s3.log" 2>&1 &
pids+=($!)

token=bench-admin-token-0123456789abcdef
SILO_ADMIN_TOKEN=$token SILO_LOG_LEVEL=error SILO_STORAGE=s3 SILO_S3_ENDPOINT="http://127.0.0.1:$s3_port" \
	SILO_S3_BUCKET=silo SILO_S3_ACCESS_KEY="$key" SILO_S3_SECRET_KEY="$secret" SILO_S3_PATH_STYLE=true \
	"$tmp/silo" serve --addr "127.0.0.1:$silo_port" --data-dir "$tmp/silo-data" > "$tmp/silo.log" 2>&1 &
silo_pid=$!
pids+=($silo_pid)

for _ in $(seq 200); do
	if curl -sf -o /dev/null "http://127.0.0.1:$silo_port/readyz"; then break; fi
	sleep 0.1
done
curl -sf -o /dev/null "http://127.0.0.1:$silo_port/readyz" || { cat "$tmp"/*.log >&2; exit 1; }

go run ./bench/s3 -mib "${MIB:-1024}" -rounds "${ROUNDS:-2}" -rss-pid "$silo_pid" -rss-gib "${RSS_GIB:-8}" \
	-s3 "http://127.0.0.1:$s3_port,$key,$secret,bench" -silo "http://127.0.0.1:$silo_port,admin,$token"
