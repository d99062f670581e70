// Clearing a batch on the condensed network: the same exact market rule as clear_batch, on a network whose
// size grows with the orders and offers rather than with every pair of them that could trade.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>

#include "matcher/clearing.hpp"
#include "matcher/ladder_auction.hpp"

namespace ewx {

// Which exact engine solves the condensed network.
enum class CondensedEngine {
  // The simplex where simplex_is_faster says so, the ladder auction elsewhere: the faster of the two on
  // each batch measured (docs/benchmarks.md).
  automatic,
  // The epsilon-scaling auction with the ladders as its rows (ladder_auction.hpp), one per resource class,
  // the classes on as many threads as there are cores. Batches whose prices are too large for its scaled
  // 64-bit arithmetic go to the network simplex instead.
  ladder_auction,
  // LEMON's network simplex: no such limit, but its pivots grow faster than the network (106 s at 100k x 10k,
  // where the auction takes 0.7 s).
  network_simplex,
};

// Where CondensedEngine::automatic takes the simplex: networks of at most kSimplexUpToArcs arcs. Measured on
// this machine's two cores (ewx-solve, medians of 3, 2026-12-02), the auction against the simplex: ewx-gen
// batches of 500 x 50 (2k arcs) 1.7 against 1.0 ms, 1k x 100 (6k arcs) 3.1 against 3.7, 2k x 200 (15k arcs)
// 8.2 against 11.2, 3k x 300 (24k arcs) 10.9 against 33.6; on the batches of scripts/demo's trading day
// the simplex won up to about 3,000 arcs and the auction from about 4,600, offer-heavy batches too (1,118
// offers against 135 orders, 15k arcs: 3.0 against 7.1 ms; 58k arcs: 17.7 against 37.1), and by 1.0 to 18
// times on the books of a few thousand resting orders that the day's later batches clear (17k to 28k arcs).
// Before the auction's changes of 2026-12-01 (ladder_auction.cpp) the simplex was taken up to 20,000 arcs,
// and up to 100,000 where offers were more than half as many as orders.
inline constexpr std::uint64_t kSimplexUpToArcs = 4'000;
inline bool simplex_is_faster(std::uint64_t arcs) { return arcs <= kSimplexUpToArcs; }

struct CondensedOptions {
  // Above this many arcs, return nothing, having built only the network (a few percent of the work).
  std::uint64_t most_arcs = std::numeric_limits<std::uint64_t>::max();
  CondensedEngine engine = CondensedEngine::automatic;
  // The ladder auction's: ladders shorter than this are scanned, longer ones kept in trees (tests use 0 too).
  std::uint32_t ladders_scanned_below = detail::kLaddersScannedBelow;
  // The ladder auction's bid budget; 0 is bid_budget's (auction_lots.hpp). Tests set less to drive the
  // stoppage.
  std::uint64_t auction_most_bids = 0;
};

struct CondensedStatistics {
  std::uint64_t ladders = 0;  // (class, cluster, earliest start, least green share) groups of offers
  std::uint64_t rungs = 0;    // distinct availability ends on a ladder
  std::uint64_t entries = 0;  // order-to-ladder arcs (one per cluster an order can use)
  std::uint64_t nodes = 0;    // of the whole network
  std::uint64_t arcs = 0;
  CondensedEngine engine = CondensedEngine::network_simplex;  // the one that ran
  std::uint64_t auction_phases = 0;  // the ladder auction's, when it ran: the most of any class, and all bids
  std::uint64_t auction_bids = 0;
  std::uint64_t auction_lifts = 0;        // sinks the unsold source held entirely, raised without a bid
  std::uint64_t auction_refreshed = 0;    // ladder keys written when a query met them after a price rise
  std::uint64_t auction_shortlisted = 0;  // orders' choices answered by their group's shortlist
  std::uint64_t auction_raised = 0;       // big lots a bid nibbled at, raised (raise_nibbled_lot)
  bool auction_out_of_bids = false;       // the ladder auction stopped at its bid budget; the simplex cleared
  Units zero_surplus_units = 0;           // routed through a trade worth nothing, and left untraded (see the .cpp)
  double build_ms = 0;                    // network, solve and prices, for the benchmarks; not part of the result
  double solve_ms = 0;
  double price_ms = 0;  // the simplex's prices; the auction's come with its solve
};

const char* to_string(CondensedEngine engine);

// Clears `batch` exactly, with the same total surplus and the same buyer-optimal prices as clear_batch; where
// several allocations reach that surplus, the contracts may be another of them. `graph` and `solution` in
// the result stay empty: there is no bipartite problem. The status is optimal except for batches outside
// the documented limits (out_of_range, with detail). Deterministic.
//
// Returns nothing when the network has more than options.most_arcs arcs: the caller then clears the
// bipartite problem instead.
std::optional<ClearingResult> clear_batch_condensed(const Batch& batch, const Topology& topology,
                                                    const CondensedOptions& options = {},
                                                    CondensedStatistics* statistics = nullptr);

// A clearing's contracts and prices as a solution of the bipartite problem `graph` (build_market_graph of the
// same batch), for the certificate checker: flows from the contracts and the slack nodes, potentials from
// the prices alone (v_j = price - ask, u_i = the order's best surplus at those prices, or 0). They certify
// the allocation exactly when the prices are equilibrium prices. Throws std::invalid_argument when a
// contract names an unknown order or offer or a pair that cannot trade.
TransportationSolution as_bipartite_solution(const Batch& batch, const MarketGraph& graph,
                                             const ClearingResult& result);

}  // namespace ewx
