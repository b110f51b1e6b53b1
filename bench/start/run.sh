#!/usr/bin/env bash
# Start-up time of the `silo` client (issue 14: `silo version` and
# `silo registry list` under 50 ms, median of 10 runs, on this machine).
#
# Builds silo twice, as `go build` makes it by default (cgo on when a C
# compiler is present: net and os/user then link libc dynamically) and as
# docs/client.md recommends installing it (CGO_ENABLED=0: static, no libc),
# plus an empty Go program as the floor of any Go binary here, and times
# each command RUNS times in turn, printing median and minimum wall time.
#
#   bash bench/start/run.sh            # RUNS=21 by default
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${RUNS:-21}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

go build -o "$tmp/silo-default" ./cmd/silo
CGO_ENABLED=0 go build -o "$tmp/silo-static" ./cmd/silo
mkdir "$tmp/empty"
printf 'package main\n\nfunc main() {}\n' >"$tmp/empty/main.go"
(cd "$tmp/empty" && go mod init empty >/dev/null 2>&1 && go build -o "$tmp/empty-go" .)

# A client home with a remote and one recorded registry login, so registry
# list reads and prints a remote.yaml as a user's (docs/client.md "Files").
export HOME="$tmp/home" SILO_CONFIGDIR="$tmp/home/.silo"
mkdir -p -m 0700 "$SILO_CONFIGDIR"
cat >"$SILO_CONFIGDIR/remote.yaml" <<'YAML'
Active: silo
Remotes:
  silo:
    URI: registry.example.org
    System: false
    Exclusive: false
Credentials:
- URI: oras://registry.example.org
  Insecure: false
YAML
chmod 0600 "$SILO_CONFIGDIR/remote.yaml"
"$tmp/silo-default" registry list | grep -q registry.example.org

# time_ms prints the median and minimum of $runs wall-clock runs, in ms.
time_ms() {
	local i s e
	for ((i = 0; i < runs; i++)); do
		s=$(date +%s%N)
		"$@" >/dev/null 2>&1
		e=$(date +%s%N)
		echo $(((e - s) / 1000))
	done | sort -n | awk '{a[NR] = $1} END {printf "median %6.1f ms   min %6.1f ms\n", a[int((NR + 1) / 2)] / 1000, a[1] / 1000}'
}

printf '%-36s %s\n' "empty Go program" "$(time_ms "$tmp/empty-go")"
for build in default static; do
	printf '%-36s %s\n' "silo version ($build build)" "$(time_ms "$tmp/silo-$build" version)"
	printf '%-36s %s\n' "silo registry list ($build build)" "$(time_ms "$tmp/silo-$build" registry list)"
done
