// A deterministic trading workload for the ledger tests: step 2g journals the orders and offers of market g,
// step 2g+1 clears market g and commits it as batch g+1. The crash child runs it and is killed somewhere;
// the test runs it without a kill to know every state the ledger can durably be in.
#pragma once

#include <vector>

#include "ledger/ledger.hpp"
#include "matcher/clearing.hpp"
#include "matcher/market_generator.hpp"

namespace ewx::testing {

inline constexpr int kWorkloadMarkets = 15;

inline Batch workload_market(int g) {
  Batch batch = generate_market({.orders = 120,
                                 .offers = 12,
                                 .seed = 1000 + static_cast<std::uint64_t>(g),
                                 .batch_number = static_cast<std::uint64_t>(g) + 1},
                                default_topology());
  // Ids unique across markets.
  for (BuyOrder& o : batch.orders) o.id += static_cast<OrderId>(g) * 1'000'000;
  for (SellOffer& s : batch.offers) s.id += static_cast<OfferId>(g) * 1'000'000;
  return batch;
}

inline std::vector<ledger::JournalEntry> workload_entries(const Batch& batch) {
  Batch owned = batch;
  for (BuyOrder& o : owned.orders) o.participant = 100 + o.id % 7;   // seven enterprises
  for (SellOffer& s : owned.offers) s.participant = 900 + s.id % 5;  // five providers
  return ledger::submissions_of(owned);
}

// Runs step `step` of the workload; returns false if the ledger refused it.
inline bool run_workload_step(ledger::Ledger& ledger, int step) {
  const Batch batch = workload_market(step / 2);
  if (step % 2 == 0) return ledger.journal(workload_entries(batch)).is_ok();
  const ClearingResult result = clear_batch(batch, default_topology());
  return ledger.commit_batch(batch, default_topology(), result, 1'775'000'000 + step).is_ok();
}

}  // namespace ewx::testing
