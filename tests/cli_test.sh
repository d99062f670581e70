#!/usr/bin/env bash
# End-to-end checks of the programs as a user runs them: exit codes, output lines, error messages.
# Usage: cli_test.sh EWX_SOLVE EWX_GEN WORKDIR EWX LEDGER_WORKLOAD EWXD EWX_LOADGEN EWX_BENCH_GATEWAY_FLOOR
set -u
solve=$1 gen=$2 work=$3 ewx=$4 workload=$5 ewxd=$6 loadgen=$7 floor=$8
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
failures=0 passed=0
expect() {  # expect NAME EXPECTED_EXIT PATTERN -- command...
  local name=$1 want=$2 pattern=$3; shift 4
  local out rc
  out=$("$@" 2>&1); rc=$?
  if [[ $rc -ne $want ]]; then
    echo "FAIL $name: exit $rc, expected $want"; echo "$out" | tail -5; failures=$((failures + 1)); return
  fi
  if ! grep -Eq -- "$pattern" <<<"$out"; then
    echo "FAIL $name: output lacks /$pattern/"; echo "$out" | tail -5; failures=$((failures + 1)); return
  fi
  passed=$((passed + 1))
}

printf 'p asn 6 9\nn 1\nn 2\nn 3\na 1 4 7\na 1 5 2\na 1 6 9\na 2 4 3\na 2 5 8\na 2 6 6\na 3 4 5\na 3 5 4\na 3 6 1\n' > small.asn
expect "assignment objective" 0 '^objective: 6$' -- "$solve" small.asn --solver cpu
expect "solve_ms line" 0 '^solve_ms: [0-9]+\.[0-9]+$' -- "$solve" small.asn
expect "certificate" 0 '^certificate: optimal' -- "$solve" small.asn --check
expect "auto says where it solves" 0 'solver: exact CPU solver' -- "$solve" small.asn --solver auto
expect "gpu without a GPU solver is an error" 2 'not available' -- "$solve" small.asn --solver gpu
"$solve" small.asn --flow small.flow > /dev/null 2>&1
expect "flow file" 0 '^f 3 6 1$' -- cat small.flow

printf 'p asn 2 1\nn 1\na 1 2 x\n' > bad.asn
expect "malformed file names the line" 1 'bad.asn:3: expected an integer for arc cost' -- "$solve" bad.asn
expect "missing file" 1 "cannot open 'nope.asn'" -- "$solve" nope.asn
mkdir -p a-directory
expect "a directory is named as one" 1 "'a-directory' is a directory, not a file" -- "$solve" a-directory
expect "a file read from a pipe" 0 '^objective: 6$' -- "$solve" <(cat small.asn)
printf 'p asn 4 2\nn 1\nn 2\na 1 3 1\na 2 3 1\n' > blocked.asn
expect "infeasible" 3 '^status: infeasible$' -- "$solve" blocked.asn

expect "generate a market" 0 '' -- "$gen" market --orders 400 --offers 40 --seed 5 --batch m.batch --dimacs m.min
"$gen" market --orders 300 --offers 30 --seed 6 --batch small-market.batch > /dev/null 2>&1
sed -i -E 's/^(order|offer) ([0-9]+) /\1 7000\2 /' small-market.batch  # other ids than m.batch
expect "batch clears with checks" 0 '^equilibrium: holds' -- "$solve" m.batch --check
batch_objective=$("$solve" m.batch 2>/dev/null | sed -n 's/^objective: //p')
expect "the condensed network is certified on the bipartite problem" 0 '^certificate: optimal' -- \
  "$solve" m.batch --solver condensed --check
expect "the CPU solver reaches the same optimum" 0 "^objective: $batch_objective\$" -- "$solve" m.batch --solver cpu
for engine in auction simplex; do
  expect "the condensed network's $engine engine is certified" 0 '^certificate: optimal' -- \
    "$solve" m.batch --solver condensed --condensed-engine $engine --check
  expect "the $engine engine reaches the same optimum" 0 "^objective: $batch_objective\$" -- \
    "$solve" m.batch --solver condensed --condensed-engine $engine
done
expect "a small batch's condensed network goes to the simplex" 0 'arcs; network simplex' -- "$solve" m.batch
expect "condensed is for batches only" 2 'clears market batches' -- "$solve" small.asn --solver condensed
expect "DIMACS form has minus the same optimum" 0 "^objective: -$batch_objective\$" -- "$solve" m.min --check
"$solve" m.batch --flow m.contracts > /dev/null 2>&1
expect "contracts file" 0 '^contract [0-9]+ [0-9]+ [0-9]+ [0-9]+ [0-9]+$' -- cat m.contracts

expect "generate an assignment" 0 '' -- "$gen" assignment --n 50 --seed 2 --dimacs a.asn --npy a.npy
expect "npy header" 0 '^NUMPY$' -- sh -c 'head -c 6 a.npy | tail -c 5'
expect "dense assignment certified" 0 '^certificate: optimal' -- "$solve" a.asn --check
expect "usage error" 106 'file is required' -- "$solve"

# A cleared batch recorded in a new ledger, then audited.
expect "record a batch" 0 '^recorded: batch 1 in rec, [0-9]+ contracts \(ids 0\.\.[0-9]+\), log root [0-9a-f]{64}$' -- "$solve" m.batch --record rec
expect "record the next batch" 0 '^recorded: batch 2 in rec' -- "$solve" small-market.batch --record rec
expect "recording the same orders twice is refused" 1 'already open' -- "$solve" m.batch --record rec
expect "recorded ledger verifies" 0 '^verified: [0-9]+ contracts in 2 batches' -- "$ewx" audit verify --data-dir rec
expect "recorded batch re-checks" 0 '^batch 2: ' -- "$ewx" audit batch 2 --data-dir rec

# The auditor's commands, on a ledger written by the test workload (15 batches, no crash).
"$workload" ledger 0 acks > /dev/null 2>&1
expect "audit verify" 0 '^verified: [0-9]+ contracts in 15 batches' -- "$ewx" audit verify --data-dir ledger
expect "audit verify --json" 0 '"ok": true' -- "$ewx" --json audit verify --data-dir ledger
expect "audit batch" 0 '^batch 7: [0-9]+ contracts re-checked: competitive equilibrium' -- "$ewx" audit batch 7 --data-dir ledger
expect "audit contract" 0 'inclusion in the log of [0-9]+ \(root [0-9a-f]{64}\): verified' -- "$ewx" audit contract 5 --data-dir ledger
expect "audit head" 0 'signature valid' -- "$ewx" audit head --data-dir ledger
expect "audit report" 0 '^batches 2 to 7, ' -- "$ewx" audit report --data-dir ledger --from-batch 2 --to-batch 7 \
  --csv report-csv
expect "audit report: flows" 0 '^hub,cluster,units$' -- head -1 report-csv/flows.csv
expect "audit report: one row per batch" 0 '^7$' -- sh -c 'wc -l < report-csv/batches.csv'
expect "audit report: past the end" 1 'no batches from 99' -- "$ewx" audit report --data-dir ledger --from-batch 99
expect "no such batch" 4 'FAILED: there is no batch record 99' -- "$ewx" audit batch 99 --data-dir ledger
expect "checkpoint" 0 'checkpoint of ledger written to snap' -- "$ewx" admin checkpoint snap --data-dir ledger
expect "checkpoint verifies" 0 '^verified' -- "$ewx" audit verify --data-dir snap
expect "checkpoint refuses a used directory" 1 'not empty' -- "$ewx" admin checkpoint snap --data-dir ledger
mkdir -p foreign && echo precious > foreign/notes.txt
expect "foreign directory" 4 'not an ewx data directory' -- "$ewx" audit verify --data-dir foreign
expect "foreign directory is untouched" 0 '^precious$' -- cat foreign/notes.txt
expect "wrong trusted key" 4 'not the trusted one' -- "$ewx" audit verify --data-dir ledger --public-key "$(printf '%064d' 7)"

# The daemon and the trading commands: ewxd on a free port with its default participants file, trading
# through ewx, a graceful stop on SIGTERM, and a restart that still knows every client order id.
# Waits for the `event=started` line of ewxd (or ewx-bench-gateway-floor) in log $1; sets $port.
await_started() {
  for _ in $(seq 200); do grep -q 'event=started' "$1" && break; sleep 0.05; done
  port=$(sed -n 's/.*event=started listen=127\.0\.0\.1:\([0-9]*\).*/\1/p' "$1")
}
start_daemon() {
  "$ewxd" --data-dir daemon --listen 127.0.0.1:0 --metrics 127.0.0.1:0 --batch-interval 3600000 > ewxd.log 2>&1 &
  daemon=$!
  await_started ewxd.log
  trade=("$ewx" --server "127.0.0.1:$port" --participants daemon/participants)
}
start_daemon
expect "ewxd runs on jemalloc on ordinary pages" 0 'allocator=jemalloc/[0-9.]+ thp=default' -- grep 'event=started' ewxd.log
bid=(bid --participant enterprise-001 --hub yrd --class gpu.h100 --units 10 --price 3500 --client-id 42)
expect "bid" 0 '^accepted: order 1 \(client order id 42\)$' -- "${trade[@]}" "${bid[@]}"
expect "a resend creates nothing" 0 '^accepted: order 1, a resend of it' -- "${trade[@]}" "${bid[@]}"
expect "offer --json" 0 '^\{"accepted": true, "offer": 1, ' -- "${trade[@]}" --json offer --participant provider-001 \
  --cluster wuhu --class gpu.h100 --units 100 --price 2000 --green 50 --from 2026-12-01T00 --to 2026-12-02T00
expect "orders" 0 '^order +1 +42 +10 +10  open$' -- "${trade[@]}" orders --participant enterprise-001
expect "another's order cannot be cancelled" 3 'unknown_id' -- "${trade[@]}" cancel 1 --participant enterprise-002
expect "unknown hub" 3 "unknown hub 'mars' \(hubs: " -- "${trade[@]}" bid --participant enterprise-001 --hub mars \
  --class gpu.h100 --units 1 --price 1
expect "bad window" 1 "--from 'tomorrow'" -- "${trade[@]}" bid --participant enterprise-001 --hub yrd --class gpu.h100 \
  --units 1 --price 1 --from tomorrow
expect "wrong secret" 5 'authentication_failed' -- env EWX_SECRET="$(printf '%064d' 0)" "$ewx" --server "127.0.0.1:$port" \
  orders --participant enterprise-001
expect "no server" 5 'cannot connect to 127.0.0.1:1' -- "$ewx" --server 127.0.0.1:1 --participants daemon/participants \
  orders --participant enterprise-001
expect "auditors have no orders" 3 'forbidden' -- "${trade[@]}" orders --participant auditor-1
expect "no contracts yet" 0 '^0 contracts$' -- "${trade[@]}" contracts --participant enterprise-001
expect "cancel" 0 '^cancelled: order 1$' -- "${trade[@]}" cancel 1 --participant enterprise-001
kill -TERM "$daemon"; wait "$daemon"; rc=$?
expect "SIGTERM stops cleanly" 0 'event=stopped orders=1 offers=1 cancels=1 resends=1' -- sh -c "cat ewxd.log; exit $rc"
start_daemon
expect "after a restart, still a resend" 0 '^accepted: order 1, a resend of it' -- "${trade[@]}" "${bid[@]}"
expect "ids go on" 0 '^accepted: order 2 ' -- "${trade[@]}" bid --participant enterprise-001 --hub yrd --class gpu.h100 \
  --units 1 --price 100
kill -TERM "$daemon"; wait "$daemon"
printf 'listen = "127.0.0.1:0"\nmetrics = "off"\nbatch-interval = 250000\nsolver = "parallel"\n' > ewxd.ini
MALLOC_CONF=thp:always "$ewxd" --config ewxd.ini --data-dir daemon > ewxd-config.log 2>&1 &
daemon=$!
await_started ewxd-config.log
kill -TERM "$daemon"; wait "$daemon"
expect "a config file sets the options" 0 'batch_interval_ms=250000' -- cat ewxd-config.log
expect "MALLOC_CONF overrides the allocator's pages" 0 'thp=always' -- grep 'event=started' ewxd-config.log
expect "a config file: metrics off, the parallel solver" 0 'metrics=off .*|parallel auction on this machine' -- \
  grep -E 'event=started|solver:' ewxd-config.log
expect "the daemon's ledger verifies" 0 '^verified: 0 contracts in 0 batches, 4 journal entries' -- \
  "$ewx" audit verify --data-dir daemon/ledger
printf 'participant x trader 1 00\n' > bad-participants
expect "bad participants file" 1 'bad-participants:1' -- "$ewxd" --data-dir daemon2 --participants bad-participants
expect "missing participants file" 1 'not found' -- "$ewxd" --data-dir daemon2 --participants nope

# ewx-loadgen: a fixed-rate load sends exactly rate x seconds requests, each answered and in the journal
# (none of them fills: batches are held off); the same load again, after a restart, is answered as resends
# of the first one's client order ids.
lg_daemon() {
  "$ewxd" --data-dir loadgen --listen 127.0.0.1:0 --metrics off --batch-interval 3600000 > ewxd-loadgen.log 2>&1 &
  daemon=$!
  await_started ewxd-loadgen.log
  lg=("$loadgen" --server "127.0.0.1:$port" --participants loadgen/participants --connections 2 --rate 500
    --seconds 2 --warmup 0 --seed 11 --json)
}
lg_daemon
expect "ewx-loadgen --rate sends rate x seconds" 0 '"sent": 1000, "accepted": 1000, "duplicates": 0, "rejected": 0,' \
  -- "${lg[@]}"
kill -TERM "$daemon"; wait "$daemon"
expect "every request ewx-loadgen had answered is in the journal" 0 '^verified: .*, 1000 journal entries' -- \
  "$ewx" audit verify --data-dir loadgen/ledger
lg_daemon
expect "ewx-loadgen again: resends" 0 '"sent": 1000, "accepted": [0-9]+, "duplicates": [0-9]{3}, "rejected": 0,' \
  -- "${lg[@]}"
kill -TERM "$daemon"; wait "$daemon"

# bench-gateway's floor: the gateway answering every request at once, journalling nothing.
"$ewx" admin participants > floor-participants
"$floor" --data-dir floor --participants floor-participants > floor.log 2>&1 &
daemon=$!
await_started floor.log
expect "the floor answers a fixed-rate load" 0 '"sent": 500, "accepted": 500, "duplicates": 0, "rejected": 0,' -- \
  "$loadgen" --server "127.0.0.1:$port" --participants floor-participants --connections 2 --rate 500 --seconds 1 \
  --warmup 0 --json
expect "the floor answers auditors from its empty ledger" 0 '^0 contracts' -- "$ewx" --server "127.0.0.1:$port" \
  --participants floor-participants contracts --participant auditor-1 --by batch --key 1
kill -TERM "$daemon"; wait "$daemon"; rc=$?
expect "the floor stops cleanly on SIGTERM" 0 'event=stopped acks=500$' -- sh -c "cat floor.log; exit $rc"

echo "$passed passed, $failures failed"
[[ $failures -eq 0 ]]
