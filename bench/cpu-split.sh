#!/usr/bin/env bash
# Runs a command (normally `bin/shoppulse bench ...`) and prints the CPU
# seconds each local service spent while it ran: PostgreSQL (the postmaster
# with its reaped backends, plus the live ones), the Kafka broker (java), the
# Temporal dev server, and the command itself. On one shared box this says
# where the cores went, e.g.:
#
#   bench/cpu-split.sh bin/shoppulse bench --events 60000 --json
#
# Linux only (reads /proc); the services must run on this machine.
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: $0 COMMAND [ARGS...]" >&2; exit 2; }
tick=$(getconf CLK_TCK)

# cpu_of NAME: CPU ticks of every process whose comm is NAME, including the
# children they have reaped (fields 14-17 of /proc/PID/stat).
cpu_of() {
	local name=$1 total=0 pid stat rest
	for pid in $(pgrep -x "$name" || true); do
		stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
		rest=${stat##*) } # fields from 3 on; comm may hold spaces
		# shellcheck disable=SC2086
		set -- $rest
		total=$((total + ${12} + ${13} + ${14} + ${15}))
	done
	echo "$total"
}

snapshot() { echo "$(cpu_of postgres) $(cpu_of java) $(cpu_of temporal)"; }

read -r pg0 kafka0 temporal0 < <(snapshot)
t0=$(date +%s.%N)
status=0
/usr/bin/env time -f '%U %S' -o /tmp/cpu-split.$$ "$@" || status=$?
t1=$(date +%s.%N)
read -r pg1 kafka1 temporal1 < <(snapshot)
read -r user sys < /tmp/cpu-split.$$
rm -f /tmp/cpu-split.$$

awk -v tick="$tick" -v wall="$(echo "$t1 - $t0" | bc)" \
	-v pg=$((pg1 - pg0)) -v kafka=$((kafka1 - kafka0)) -v temporal=$((temporal1 - temporal0)) \
	-v cmd="$user + $sys" 'BEGIN {
	split(cmd, c, " \\+ "); self = c[1] + c[2]
	p = pg / tick; k = kafka / tick; t = temporal / tick
	all = p + k + t + self
	printf "cpu-split: %.1f s wall, %.1f CPU s in all (%.2f cores busy)\n", wall, all, all / wall
	printf "cpu-split: postgres %6.1f s  %5.1f%%\n", p, 100 * p / all
	printf "cpu-split: kafka    %6.1f s  %5.1f%%\n", k, 100 * k / all
	printf "cpu-split: temporal %6.1f s  %5.1f%%\n", t, 100 * t / all
	printf "cpu-split: command  %6.1f s  %5.1f%%\n", self, 100 * self / all
}'
exit "$status"
