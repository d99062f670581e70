// Person-readable market reports: one cleared batch (`ewx-solve --report`), and a run of recorded batches
// read from a ledger (`ewx audit report`, the demo's end-of-day report). Both tally the same things: what
// each cluster offered and sold at what mean price, and how many units flowed from each demand hub to each
// cluster.
#pragma once

#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "matcher/clearing.hpp"
#include "matcher/topology.hpp"

namespace ewx::tools {

// Fen as yuan with two decimals, exactly (integer arithmetic; a display conversion only).
std::string yuan(Objective fen);

struct MarketTally {
  explicit MarketTally(const Topology& topology);
  void add_offer(ClusterIndex cluster, Units units) { offered[cluster] += units; }
  void add_trade(HubIndex hub, ClusterIndex cluster, Units units, Fen price);

  std::size_t clusters;
  std::vector<Units> offered, sold;  // per cluster
  std::vector<Objective> value;      // per cluster: units x price, fen per hour
  std::vector<Units> flow;           // hub * clusters + cluster
};
// The cluster table (offered, sold, share used, volume-weighted mean price) and the hub-to-cluster flows.
void print_tally(std::FILE* out, const Topology& topology, const MarketTally& tally);

void print_market_report(std::FILE* out, const Batch& batch, const Topology& topology, const ClearingResult& result);

// The report of batches [first, last] of the ledger in `ledger_dir` (opened read-only, so it may run beside
// ewxd): contracts, units and unit-hours, revenue and surplus, the cluster table and the flow matrix. The
// capacity a cluster offered counts each offer once, with the units it had when it first entered one of
// these batches. With `csv_dir`, also writes batches.csv, clusters.csv and flows.csv there for a chart.
// Returns an error message, or nothing when the report was printed.
std::optional<std::string> print_trading_report(std::FILE* out, const std::filesystem::path& ledger_dir,
                                                std::uint64_t first, std::uint64_t last,
                                                const std::filesystem::path& csv_dir);

}  // namespace ewx::tools
