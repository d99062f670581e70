// The exact CPU engine for large, tight problems: an epsilon-scaling auction. Internal to the CPU solver;
// see scaled_auction.cpp for the algorithm and cpu_solver.cpp for when it is used.
#pragma once

#include <vector>

#include "matcher/successive_shortest_paths.hpp"
#include "matcher/transportation.hpp"

namespace ewx::detail {

struct AuctionStatistics {
  std::uint64_t phases = 0;
  std::uint64_t bids = 0;
  std::uint64_t arcs_scanned = 0;
  std::uint64_t potential_passes = 0;  // passes of the exact-dual recovery
  std::uint64_t raised = 0;            // big lots a bid nibbled at, raised (raise_nibbled_lot)
  bool out_of_bids = false;            // stopped at its bid budget (bid_budget in auction_lots.hpp)
};

// Solves `problem` exactly. On SolveStatus::optimal, `flow` (per arc) is an optimal flow and the potentials
// satisfy complementary slackness with it in the problem's own integer costs. Returns infeasible when the
// supply cannot all be shipped, or when its prices passed their bound on a feasible problem (see the .cpp);
// out_of_range when the scaled costs would not fit in 64 bits or the bids reached their budget
// (stats.out_of_bids). Callers finish every such problem with successive shortest paths. `most_bids`
// overrides the budget (0: bid_budget in auction_lots.hpp).
SolveStatus run_scaled_auction(const TransportationProblem& problem, std::vector<Quantity>& flow,
                               std::vector<Potential>& source_potential, std::vector<Potential>& sink_potential,
                               AuctionStatistics& stats, std::uint64_t most_bids = 0);

}  // namespace ewx::detail
