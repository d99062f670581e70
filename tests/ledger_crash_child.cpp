// The crash test's child: runs the ledger workload on DATA_DIR and kills itself with SIGKILL at the
// KILL_AT-th crash point (journal and batch writes, before and after), appending to ACKS one line per step
// the ledger acknowledged; with PREPARED_LOG_BYTES, its write-ahead logs are written over prepared spares
// (ledger/prepared_log.hpp). Usage: ledger_crash_child DATA_DIR KILL_AT ACKS [PREPARED_LOG_BYTES]
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>

#include "tests/ledger_workload.hpp"

int main(int argc, char** argv) {
  if (argc != 4 && argc != 5) return 2;
  const long kill_at = std::atol(argv[2]);
  const ewx::ledger::Ledger::Options options{.prepared_log_bytes = argc == 5 ? std::strtoull(argv[4], nullptr, 10) : 0};
  auto opened = ewx::ledger::Ledger::open(argv[1], true, options);
  if (!opened.is_ok()) {
    std::fprintf(stderr, "%s\n", opened.status().message().c_str());
    return 1;
  }
  long points = 0;
  opened.value()->set_crash_hook([&](const char*) {
    if (++points == kill_at) raise(SIGKILL);
  });
  std::FILE* acks = std::fopen(argv[3], "a");
  for (int step = 0; step < 2 * ewx::testing::kWorkloadMarkets; ++step) {
    if (!ewx::testing::run_workload_step(*opened.value(), step)) return 1;
    std::fprintf(acks, "%d\n", step);
    std::fflush(acks);
    fsync(fileno(acks));
  }
  return 0;
}
