// Clearing a batch on the condensed network: the same exact market rule as clear_batch, on a network whose
// size grows with the orders and offers rather than with every pair of them that could trade.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>

#include "matcher/clearing.hpp"

namespace ewx {

struct CondensedStatistics {
  std::uint64_t ladders = 0;  // (class, cluster, earliest start, least green share) groups of offers
  std::uint64_t rungs = 0;    // distinct availability ends on a ladder
  std::uint64_t entries = 0;  // order-to-ladder arcs (one per cluster an order can use)
  std::uint64_t nodes = 0;    // of the whole network
  std::uint64_t arcs = 0;
  Units zero_surplus_units = 0;  // routed through a trade worth nothing, and left untraded (see the .cpp)
  double build_ms = 0;           // network, solve and prices, for the benchmarks; not part of the result
  double solve_ms = 0;
  double price_ms = 0;
};

// Up to about this many arcs of the condensed network, its network simplex clears faster than the
// bipartite auction; beyond, slower (measured on ewx-gen batches, docs/benchmarks.md: 2.5x faster at
// 10k x 1k with 89k arcs, 1.5x at 20k x 2k with 183k, even at 30k x 3k with 276k, 1.6x slower at 50k x 5k
// with 462k).
inline constexpr std::uint64_t kCondensedFasterUpToArcs = 200'000;

// Clears `batch` exactly, with the same total surplus and the same buyer-optimal prices as clear_batch; where
// several allocations reach that surplus, the contracts may be another of them. `graph` and `solution` in
// the result stay empty: there is no bipartite problem. The status is optimal except for batches outside
// the documented limits (out_of_range, with detail). Deterministic.
//
// Returns nothing, having built only the network (a few percent of the work), when the network has more
// than `most_arcs` arcs: the caller then clears the bipartite problem instead.
std::optional<ClearingResult> clear_batch_condensed(const Batch& batch, const Topology& topology,
                                                    std::uint64_t most_arcs = std::numeric_limits<std::uint64_t>::max(),
                                                    CondensedStatistics* statistics = nullptr);

// A clearing's contracts and prices as a solution of the bipartite problem `graph` (build_market_graph of the
// same batch), for the certificate checker: flows from the contracts and the slack nodes, potentials from
// the prices alone (v_j = price - ask, u_i = the order's best surplus at those prices, or 0). They certify
// the allocation exactly when the prices are equilibrium prices. Throws std::invalid_argument when a
// contract names an unknown order or offer or a pair that cannot trade.
TransportationSolution as_bipartite_solution(const Batch& batch, const MarketGraph& graph,
                                             const ClearingResult& result);

}  // namespace ewx
