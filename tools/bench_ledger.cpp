// ewx-bench-ledger: the ledger's durable throughput, proof latency and verification rate.
//
//   ewx-bench-ledger --data-dir DIR [--batches 12] [--orders 6000] [--offers 600] [--queries 20000]
//
// Generates market batches, journals their orders and offers (one synced write per batch's worth) and
// commits each cleared batch (one synced write each), timing only the ledger calls. Then times inclusion
// and consistency proofs at random and a full offline verification. Prints `key: value` lines for
// scripts/bench-ledger, which runs RocksDB's db_bench beside it and writes the table.
#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>

#include "ledger/audit.hpp"
#include "ledger/ledger.hpp"
#include "matcher/market_generator.hpp"

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

double percentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  return values[std::min(values.size() - 1, static_cast<std::size_t>(p * values.size()))];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ewx-bench-ledger: durable contracts/s, proof latency, verification rate"};
  std::string dir;
  int batches = 12, orders = 6000, offers = 600, queries = 20000;
  app.add_option("--data-dir", dir, "a new directory for the benchmark's ledger")->required();
  app.add_option("--batches", batches);
  app.add_option("--orders", orders);
  app.add_option("--offers", offers);
  app.add_option("--queries", queries);
  CLI11_PARSE(app, argc, argv);

  using namespace ewx;
  auto opened = ledger::Ledger::open(dir, true);
  if (!opened.is_ok()) {
    fmt::print(stderr, "ewx-bench-ledger: {}\n", opened.status().message());
    return 1;
  }
  ledger::Ledger& book = *opened.value();
  const Topology& topology = default_topology();
  double journal_seconds = 0, commit_seconds = 0;
  std::uint64_t journalled = 0, contracts = 0;
  for (int b = 0; b < batches; ++b) {
    Batch batch = generate_market({.orders = static_cast<std::uint64_t>(orders),
                                   .offers = static_cast<std::uint64_t>(offers),
                                   .seed = 77 + static_cast<std::uint64_t>(b),
                                   .batch_number = static_cast<std::uint64_t>(b) + 1},
                                  topology);
    for (BuyOrder& o : batch.orders) o.id += static_cast<OrderId>(b) * 100'000'000;
    for (SellOffer& s : batch.offers) s.id += static_cast<OfferId>(b) * 100'000'000;
    const std::vector<ledger::JournalEntry> entries = ledger::submissions_of(batch);
    const ClearingResult result = clear_batch(batch, topology);
    auto start = Clock::now();
    if (!book.journal(entries).is_ok()) return 1;
    journal_seconds += seconds_since(start);
    journalled += entries.size();
    start = Clock::now();
    if (!book.commit_batch(batch, topology, result, 1'775'000'000 + b).is_ok()) return 1;
    commit_seconds += seconds_since(start);
    contracts += result.contracts.size();
  }

  const std::uint64_t size = book.log_size();
  SeededRandom random(5);
  std::vector<double> inclusion_us, consistency_us;
  for (int q = 0; q < queries; ++q) {
    const std::uint64_t leaf = static_cast<std::uint64_t>(random.between(0, static_cast<std::int64_t>(size) - 1));
    auto start = Clock::now();
    const auto proof = book.inclusion_proof(leaf, size);
    inclusion_us.push_back(seconds_since(start) * 1e6);
    if (!proof) return 1;
    const std::uint64_t old_size = static_cast<std::uint64_t>(random.between(1, static_cast<std::int64_t>(size)));
    start = Clock::now();
    const auto consistency = book.consistency_proof(old_size, size);
    consistency_us.push_back(seconds_since(start) * 1e6);
    if (!consistency) return 1;
  }
  opened.value().reset();

  const auto start = Clock::now();
  const ledger::VerifyReport report = ledger::verify_data_dir(dir);
  const double verify_seconds = seconds_since(start);
  if (!report.ok) {
    fmt::print(stderr, "ewx-bench-ledger: verification failed: {}\n", report.first_problem);
    return 1;
  }

  fmt::print("contracts: {}\nbatches: {}\ncommit_seconds: {:.4f}\ncontracts_per_second: {:.0f}\n", contracts, batches,
             commit_seconds, contracts / commit_seconds);
  fmt::print("journal_entries: {}\njournal_seconds: {:.4f}\njournal_entries_per_second: {:.0f}\n", journalled,
             journal_seconds, journalled / journal_seconds);
  fmt::print("inclusion_proof_median_us: {:.1f}\ninclusion_proof_p99_us: {:.1f}\n", percentile(inclusion_us, 0.5),
             percentile(inclusion_us, 0.99));
  fmt::print("consistency_proof_median_us: {:.1f}\nconsistency_proof_p99_us: {:.1f}\n", percentile(consistency_us, 0.5),
             percentile(consistency_us, 0.99));
  fmt::print("verify_seconds: {:.4f}\nverify_contracts_per_second: {:.0f}\n", verify_seconds,
             report.contracts / verify_seconds);
  return 0;
}
