#!/usr/bin/env bash
# What a process between a client and an upstream costs on this machine when it does no work:
# a C relay that only copies bytes, timed against the upstream alone (scripts/measure_hop_cost.py).
# Three placements, ROUNDS times each (default 3): everything free to move, as `cargo bench
# --bench http` runs unpinned; the relay on CPU 1 and the client and upstream on CPU 0; all on
# CPU 0. On the 2-core VM this showed that the hops alone cost more than 100 µs when the
# process in the middle runs on the other CPU (README, "Why the unpinned p50 misses").
# Needs gcc, python3 and taskset (util-linux), and two CPUs.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
gcc -O2 -Wall -o "$work/relay" "$here/measure_hop_cost_relay.c"
for round in $(seq "${ROUNDS:-3}"); do
    echo "round $round"
    echo " floating (no pinning):"
    python3 "$here/measure_hop_cost.py" "$work/relay" 0-1
    echo " relay on CPU 1, client and upstream on CPU 0:"
    taskset -c 0 python3 "$here/measure_hop_cost.py" "$work/relay" 1
    echo " all on CPU 0:"
    taskset -c 0 python3 "$here/measure_hop_cost.py" "$work/relay" 0
done
