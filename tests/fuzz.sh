#!/usr/bin/env bash
# Runs one of the libFuzzer targets (fuzz_frame, the frame decoder; fuzz_inputs, the text formats and the
# solver behind them) for a bounded time and reports like any other test.
#
# Why a wrapper: libFuzzer prints a line for every new input it keeps, a few hundred kilobytes in twenty
# seconds, and ctest keeps only the head of a failing test's output, so the report at the end (the
# sanitizer's stack and the input that triggered it) was cut off exactly when it mattered. Here the fuzzer's
# chatter goes to a log, and a failure prints the log's tail and the offending input in hex.
#
# What counts as a failure: neither target keeps state between inputs (each one gets a fresh FrameReader,
# or a fresh parse and solve), so any real defect is an input that fails again when replayed alone. Every input libFuzzer saves is
# replayed three times, and one that fails fails the test. A session that ends badly but leaves no input
# that fails again (a ten-second timeout on a machine stalled by other jobs, the leak checker unable to stop
# the process's threads) is reported in full and fuzzed again; the test fails if that second session ends
# badly too. Replay an input by hand with `fuzz_frame INPUT` (or `fuzz_inputs INPUT`).
#
# Usage: fuzz.sh FUZZ_BINARY WORKDIR SEED_CORPUS [SECONDS]
set -u
binary=$1 work=$2 seeds=$3 seconds=${4:-20}
target=$(basename "$binary")
mkdir -p "$work/corpus" "$work/artifacts" || exit 1

# fuzz ATTEMPT: one bounded session; its log is $work/fuzz-ATTEMPT.log, what it saves lands in artifacts/.
fuzz() {
  "$binary" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
            -artifact_prefix="$work/artifacts/" "$work/corpus" "$seeds" > "$work/fuzz-$1.log" 2>&1
}

# report ATTEMPT RC: the end of the session's log and every input it saved.
report() {
  echo "$target: session $1 exited with $2; the last lines of $work/fuzz-$1.log:"
  tail -n 60 "$work/fuzz-$1.log"
  for input in "$work"/artifacts/*; do
    [[ -f $input ]] || continue
    echo "saved input $input ($(stat -c %s "$input") bytes):"
    od -A d -t x1 "$input" | head -n 40
  done
}

# replays: fails when any saved input fails again on its own.
replays() {
  local input k
  for input in "$work"/artifacts/*; do
    [[ -f $input ]] || continue
    for k in 1 2 3; do
      if ! "$binary" -timeout=10 "$input" > "$work/replay.log" 2>&1; then
        echo "FAIL $target: $input fails again when replayed alone:"
        tail -n 60 "$work/replay.log"
        return 1
      fi
    done
    echo "$target: $input passes when replayed alone (3 times)"
  done
  return 0
}

rm -f "$work"/artifacts/* "$work"/fuzz-*.log
for attempt in 1 2; do
  fuzz "$attempt"
  rc=$?
  if [[ $rc -eq 0 ]]; then
    grep -E '^(Done|stat::)' "$work/fuzz-$attempt.log"
    echo "$target: no crash, leak, hang or sanitizer report in ${seconds} s (session $attempt)"
    exit 0
  fi
  report "$attempt" "$rc"
  replays || exit 1
  rm -f "$work"/artifacts/*
  [[ $attempt -eq 1 ]] && echo "$target: no input fails again; fuzzing once more"
done
echo "FAIL $target: two sessions in a row ended badly"
exit 1
