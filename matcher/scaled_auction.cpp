// Epsilon-scaling auction: the exact CPU engine for large, tight problems.
//
// Why not successive shortest paths everywhere. In a tight market most offers are sold out, and the
// shortest-path engine raises their prices only when a search happens to settle them; until then every
// search from a losing order wanders the whole sold-out region before it finds a way out. An auction
// raises a price the moment an offer is over-demanded, so conflicts stay local (Bertsekas, "The auction
// algorithm for assignment and other network flow problems", 1989; Bertsekas and Castanon, "The auction
// algorithm for the transportation problem", 1989).
//
// The algorithm. Think of sources as bidders with `supply` units to place and sinks as sellers of `demand`
// units, the value of a unit on arc e being a_e = -cost_e. A sink's sold units are held in lots, each at
// the price its holder bid; the sink's price is that of its cheapest lot (or its base price while it still
// has unsold units). A bidder with units left finds its best arc (largest a_e - price) and the best arc
// into another sink, and bids the price at which the two are equally good, plus epsilon, for every unit of
// that sink priced below the bid (its own lots there it takes back whole, and a big lot it takes little of
// it raises: auction_lots.hpp); displaced holders get their units back and bid again. Prices only rise,
// so each phase ends when every bidder has placed everything.
//
// Exactness. At the end of a phase every unit sits on an arc within epsilon of its holder's best, which
// makes the flow epsilon-optimal for node potentials (the bidder's best profit, the sink's price); such a
// flow is optimal once epsilon < 1/n for n nodes with integer costs (Goldberg and Tarjan, 1990). Costs are
// therefore scaled by K = n + 1 and the last phase runs at epsilon = 1. Earlier phases, with epsilon
// divided by kScaleFactor each time, keep the prices and every lot that is still within the finer epsilon
// of its holder's best, and re-place only the rest: most of the price discovery happens at coarse epsilon,
// and a finer phase mostly polishes.
//
// Exact duals. The auction's potentials are epsilon-optimal, not exact, and the certificate needs exact
// ones. Because the flow is optimal, its residual graph has no negative cycle, so the complementary
// slackness conditions form a feasible system of difference constraints; a few Gauss-Seidel passes of
// Bellman-Ford, started from the scaled-down auction prices (each at most one unit off), find the largest
// solution below them.
//
// Infeasible problems would make prices climb for ever; a price bound stops the auction and the caller
// falls back to successive shortest paths, which reports infeasibility exactly. The bound is no proof: a
// balanced problem with no slack, whose every sink sells out, has its prices fixed only up to a constant,
// and they can climb together by about the largest value each phase until they pass it (tests/fuzz_inputs
// found a 5-node min-cost flow file that the auction called infeasible that way). So "infeasible" from the
// auction is always checked by shortest paths (cpu_solver.cpp). Where two sources of huge supply bid over each other's
// lots, the bids grow with the units; a budget of bids stops the auction there, and shortest paths finish (bid_budget
// in auction_lots.hpp). Determinism: bidders are served first-in first-out starting in index order, ties between arcs
// go to the lower arc index, so the same problem gives the same flow.
#include "matcher/scaled_auction.hpp"

#include <algorithm>
#include <deque>
#include <limits>
#include <stdexcept>

#include "matcher/auction_lots.hpp"
#include "matcher/two_smallest.hpp"

namespace ewx::detail {
namespace {

// Measured on ewx-gen market batches: 4 needs the fewest bids (6 and 8 need 15-100% more; 3 more phases).
constexpr Potential kScaleFactor = 4;

struct Lot {
  Potential price;
  ArcIndex arc;
  NodeIndex holder;
  Quantity units;
  bool operator>(const Lot& other) const { return price > other.price || (price == other.price && arc > other.arc); }
};

// Far above any price (see the range check in run_scaled_auction), yet safe to subtract from a value.
constexpr Potential kClosed = kNoKey;
// A profit not found: no arc, or no arc into another sink.
constexpr Potential kNone = std::numeric_limits<Potential>::min();

class Auction {
 public:
  Auction(const TransportationProblem& problem, std::vector<Quantity>& flow, AuctionStatistics& stats, Potential scale,
          std::uint64_t most_bids)
      : problem_(problem),
        flow_(flow),
        stats_(stats),
        scale_(scale),
        base_price_(problem.sink_count(), 0),
        unsold_(problem.sink_count(), 0),
        lots_(problem.sink_count()),
        units_left_(problem.source_count(), 0),
        queued_(problem.source_count(), 0),
        uniform_row_(problem.source_count(), 0),
        unbounded_row_(problem.source_count(), 0),
        quoted_(problem.sink_count(), kClosed),
        cheapest_(std::vector<std::uint32_t>{0, static_cast<std::uint32_t>(problem.sink_count())}) {
    for (NodeIndex i = 0; i < problem.source_count(); ++i) {
      uniform_row_[i] = reaches_every_sink_alike(problem, i);
      bool unbounded = true;
      for (ArcIndex e = problem.row_begin[i]; e < problem.row_begin[i + 1]; ++e) {
        unbounded = unbounded && problem.capacity_never_binds(i, e);
      }
      unbounded_row_[i] = unbounded;
    }
    cache_.resize(static_cast<std::size_t>(problem.source_count()) * kCached);
    cache_size_.assign(problem.source_count(), kStale);
    cache_threshold_.assign(problem.source_count(), 0);
    for (const Cost c : problem.arc_cost) largest_value_ = std::max(largest_value_, (c < 0 ? -c : c) * scale_);
    price_limit_ = 4 * static_cast<Potential>(problem.source_count() + problem.sink_count() + 1) * (largest_value_ + 1);
    bid_budget_ = most_bids > 0
                      ? most_bids
                      : bid_budget(std::uint64_t{problem.source_count()} + problem.sink_count() + problem.arc_count());
  }

  SolveStatus run() {
    Potential epsilon = std::max<Potential>(1, largest_value_ / kScaleFactor);
    for (;;) {
      ++stats_.phases;
      if (!run_phase(epsilon)) return stats_.out_of_bids ? SolveStatus::out_of_range : SolveStatus::infeasible;
      if (epsilon == 1) return SolveStatus::optimal;
      epsilon = std::max<Potential>(1, epsilon / kScaleFactor);
    }
  }

  // The sink's current price: its base while unsold units remain, else its cheapest lot's.
  Potential price(NodeIndex sink) const {
    return unsold_[sink] > 0 || lots_[sink].empty() ? base_price_[sink] : lots_[sink].front().price;
  }

 private:
  Potential value(ArcIndex e) const { return -problem_.arc_cost[e] * scale_; }

  // Every change to a sink's lots or unsold units ends here, so quoted_ always holds the current price
  // (or kClosed for a sink that sells nothing), which is all a row scan needs to read per arc.
  void reprice(NodeIndex sink) {
    const Potential now = problem_.demand[sink] > 0 ? price(sink) : kClosed;
    if (now == quoted_[sink] && !stale_quotes_) return;
    quoted_[sink] = now;
    cheapest_.set(sink, now);
  }

  // False when the problem is infeasible (no arc left, or prices beyond the limit) or the bids reach their
  // budget (stats_.out_of_bids).
  bool run_phase(Potential epsilon) {
    if (stats_.phases == 1)
      start_cold();
    else
      keep_what_still_fits(epsilon);
    while (!waiting_.empty() || !slack_waiting_.empty()) {
      // Slack bidders (uniform rows) go last: they take what the others leave, instead of fighting over it.
      std::deque<NodeIndex>& line = waiting_.empty() ? slack_waiting_ : waiting_;
      const NodeIndex bidder = line.front();
      line.pop_front();
      queued_[bidder] = 0;
      while (units_left_[bidder] > 0) {
        if (stats_.bids >= bid_budget_) {
          stats_.out_of_bids = true;
          return false;
        }
        if (!bid(bidder, epsilon)) return false;
      }
    }
    return true;
  }

  void enqueue(NodeIndex bidder) {
    if (queued_[bidder] || units_left_[bidder] == 0) return;
    queued_[bidder] = 1;
    (uniform_row_[bidder] ? slack_waiting_ : waiting_).push_back(bidder);
  }

  void start_cold() {
    for (NodeIndex j = 0; j < problem_.sink_count(); ++j) {
      unsold_[j] = problem_.demand[j];
      reprice(j);
    }
    stale_quotes_ = false;
    for (NodeIndex i = 0; i < problem_.source_count(); ++i) {
      units_left_[i] = problem_.supply[i];
      enqueue(i);
    }
  }

  // The warm start of a finer phase. Every lot is repriced to its sink's price (its cheapest lot's), which
  // changes no sink's price; then a lot stays only if it is within the new epsilon of its holder's best
  // (reduced cost phi_i + price_j - a_e <= epsilon), which is exactly epsilon-optimality for the node
  // potentials. Everything else goes back to its holder to be bid again. A lot that filled its arc is
  // returned together with all its holder's lots, since freeing the arc changes the holder's best.
  void keep_what_still_fits(Potential epsilon) {
    std::vector<Potential> best(problem_.source_count(), kNone);
    for (NodeIndex i = 0; i < problem_.source_count(); ++i) {
      Potential second = kNone;
      ArcIndex arc = 0;
      find_best(i, best[i], second, arc);
    }
    // A holder with no usable arc left (every arc it has is full) has nowhere better to go, so each of its
    // lots fits; its best is kNone, which the sum below must not be formed with.
    const auto fits = [&](const Lot& lot, Potential sink_price) {
      return best[lot.holder] == kNone || best[lot.holder] + sink_price - value(lot.arc) <= epsilon;
    };
    std::vector<std::uint8_t> reset(problem_.source_count(), 0);
    for (NodeIndex j = 0; j < problem_.sink_count(); ++j) {
      const Potential sink_price = price(j);
      for (Lot& lot : lots_[j]) {
        lot.price = sink_price;
        if (!fits(lot, sink_price) && flow_[lot.arc] == problem_.arc_capacity[lot.arc]) reset[lot.holder] = 1;
      }
    }
    for (NodeIndex j = 0; j < problem_.sink_count(); ++j) {
      std::vector<Lot>& lots = lots_[j];
      const Potential sink_price = price(j);
      std::size_t kept = 0;
      for (const Lot& lot : lots) {
        if (!reset[lot.holder] && fits(lot, sink_price)) {
          lots[kept++] = lot;
          continue;
        }
        flow_[lot.arc] -= lot.units;
        units_left_[lot.holder] += lot.units;
        unsold_[j] += lot.units;
      }
      lots.resize(kept);
      base_price_[j] = sink_price;
      std::make_heap(lots.begin(), lots.end(), std::greater<>{});
      reprice(j);
    }
    for (NodeIndex i = 0; i < problem_.source_count(); ++i) enqueue(i);
  }

  bool usable(ArcIndex e) const { return flow_[e] < problem_.arc_capacity[e]; }

  // One arc of a scan towards a bid: `best` is the best profit and `second` the best through any other
  // sink. Raising a sink's price lowers every arc into it alike, so a second arc into the best sink never
  // becomes as good as the best; counted as the second best, it made the bid overshoot by the gap between
  // the two arcs' costs, and with parallel arcs (a DIMACS file may have them; a market has one arc a pair)
  // prices climbed by that gap in every phase, past the bound that stands for infeasible (found by
  // tests/fuzz_inputs). The best arc itself seen again, as a rescan after the cache sees it, does count:
  // the bid is then the smallest raise, price + epsilon, which is how the engine has always bid there (on
  // the m20k market as DIMACS, not counting it gave 3.11 million bids instead of 2.40). `lower_index_wins`
  // breaks ties towards the lower arc, for scans that do not run in arc order.
  void consider(ArcIndex e, Potential profit, Potential& best, Potential& second, ArcIndex& best_arc,
                bool lower_index_wins) const {
    const bool other_arc_same_sink =
        best != kNone && e != best_arc && problem_.arc_sink[e] == problem_.arc_sink[best_arc];
    if (profit > best || (lower_index_wins && profit == best && e < best_arc)) {
      if (!other_arc_same_sink) second = best;
      best = profit;
      best_arc = e;
    } else if (profit > second && !other_arc_same_sink) {
      second = profit;
    }
  }

  // Candidate lists (Bertsekas): the bidder's kCached best arcs at its last scan, and the profit of the
  // best arc left out. Prices only rise during a phase, so no arc left out can have become better than that
  // threshold; while a cached arc is still at least as good, the cache alone answers the bid, with the
  // threshold standing in for the second best when it is higher (a slightly lower bid, still epsilon-
  // optimal). Arcs that cannot carry more are ranked too, so that one freed by an eviction cannot hide
  // above the threshold.
  bool best_from_cache(NodeIndex bidder, Potential& best, Potential& second, ArcIndex& best_arc) const {
    const std::size_t at = static_cast<std::size_t>(bidder) * kCached;
    if (cache_size_[bidder] == kStale) return false;
    for (std::uint32_t k = 0; k < cache_size_[bidder]; ++k) {
      const ArcIndex e = cache_[at + k];
      if (!unbounded_row_[bidder] && !usable(e)) continue;
      consider(e, value(e) - quoted_[problem_.arc_sink[e]], best, second, best_arc, true);
    }
    const Potential threshold = cache_threshold_[bidder];
    if (threshold == kNone) return best != kNone;  // the cache holds the whole row
    if (best == kNone || best < threshold) return false;
    second = std::max(second, threshold);
    return true;
  }

  std::uint32_t weakest_cached() const {
    std::uint32_t worst = 0;
    for (std::uint32_t k = 1; k < kCached; ++k) {
      if (cache_profit_[k] < cache_profit_[worst]) worst = k;
    }
    return worst;
  }

  void rescan(NodeIndex bidder, Potential& best, Potential& second, ArcIndex& best_arc) {
    const std::size_t at = static_cast<std::size_t>(bidder) * kCached;
    std::uint32_t held = 0, worst = 0;
    Potential threshold = kNone;
    const ArcIndex begin = problem_.row_begin[bidder], end = problem_.row_begin[bidder + 1];
    const bool unbounded = unbounded_row_[bidder];
    for (ArcIndex e = begin; e < end; ++e) {
      const Potential profit = value(e) - quoted_[problem_.arc_sink[e]];
      if (profit <= -kClosed / 2) continue;  // a closed sink
      if (unbounded || usable(e)) consider(e, profit, best, second, best_arc, false);
      // Keep the kCached most profitable arcs (usable or not); the best one dropped sets the threshold.
      if (held < kCached) {
        cache_profit_[held] = profit;
        cache_[at + held++] = e;
        if (held == kCached) worst = weakest_cached();
        continue;
      }
      if (profit > cache_profit_[worst]) {
        threshold = std::max(threshold, cache_profit_[worst]);
        cache_profit_[worst] = profit;
        cache_[at + worst] = e;
        worst = weakest_cached();
      } else {
        threshold = std::max(threshold, profit);
      }
    }
    cache_size_[bidder] = held;
    cache_threshold_[bidder] = threshold;
    stats_.arcs_scanned += end - begin;
  }

  // A source's best arc and the profit of its best arc into another sink. `best` and `second` come in as
  // kNone and stay so where there is no such arc. Uniform rows read the tree of the cheapest sinks, others
  // their candidate cache or their row.
  void find_best(NodeIndex source, Potential& best, Potential& second, ArcIndex& best_arc) {
    if (uniform_row_[source]) {
      const TwoSmallest two = cheapest_.all(0);
      const Potential v = value(problem_.row_begin[source]);
      if (two.key[0] != kClosed) {
        best = v - two.key[0];
        best_arc = problem_.row_begin[source] + two.id[0];
      }
      if (two.key[1] != kClosed) second = v - two.key[1];
    } else if (!best_from_cache(source, best, second, best_arc)) {
      rescan(source, best, second, best_arc);
    }
  }

  // One bid: the bidder's best arc, at the price that makes it exactly as good as the best arc into
  // another sink, plus epsilon. It takes units from every price level of that sink below the bid (unsold
  // units first, then the cheapest lots): afterwards the sink's cheapest level is at least the bid, so the
  // new lot is within epsilon of the bidder's best, as epsilon-optimality requires.
  bool bid(NodeIndex bidder, Potential epsilon) {
    ++stats_.bids;
    Potential best = kNone, second = kNone;
    ArcIndex best_arc = 0;
    find_best(bidder, best, second, best_arc);
    if (best == kNone) return false;  // nowhere left to place units: infeasible

    const NodeIndex sink = problem_.arc_sink[best_arc];
    const Potential offered = second == kNone ? price(sink) + epsilon : value(best_arc) - second + epsilon;
    if (offered > price_limit_) return false;  // prices beyond any feasible problem's: infeasible

    // Where no capacity binds, the units a sink holds bound the arc's flow already, so only the bidder's
    // units limit the bid.
    const Quantity wanted = unbounded_row_[bidder]
                                ? units_left_[bidder]
                                : std::min(units_left_[bidder], problem_.arc_capacity[best_arc] - flow_[best_arc]);
    const Quantity from_unsold = std::min(wanted, unsold_[sink]);
    unsold_[sink] -= from_unsold;
    std::vector<Lot>& lots = lots_[sink];
    // The bidder's own lots move to the best arc whole (auction_lots.hpp says why): those on it always, those
    // on another arc into the sink, worth no more than the best, where no capacity binds. A row with a
    // binding capacity (only a DIMACS file's, never a market's) takes those back like anyone's, up to what
    // the best arc can still carry.
    const auto own = [&](const Lot& lot) {
      if (lot.holder != bidder || (lot.arc != best_arc && !unbounded_row_[bidder])) return false;
      flow_[lot.arc] -= lot.units;
      return true;
    };
    const LotsTaken from_lots =
        take_lots_below(lots, offered, wanted - from_unsold, own, [&](const Lot& displaced, Quantity units) {
          flow_[displaced.arc] -= units;
          units_left_[displaced.holder] += units;
          if (displaced.holder != bidder) enqueue(displaced.holder);
        });
    const Quantity taken = from_unsold + from_lots.taken;
    // A bid always takes something: the bid is above the sink's price, so at least its cheapest level
    // qualifies, and wanted >= 1. Anything else is a bug, and looping on it would never end.
    if (taken == 0 && from_lots.reclaimed == 0) throw std::logic_error("scaled auction: a bid took no units");
    // Slack bidders value every sink alike and only take what the others leave; their lots stay.
    const auto holder_limit = [&](const Lot& lot) {
      if (lot.holder == bidder || uniform_row_[lot.holder]) return kNone;
      Potential holder_best = kNone, holder_second = kNone;
      ArcIndex holder_arc = 0;
      find_best(lot.holder, holder_best, holder_second, holder_arc);
      return holder_best == kNone ? kNone : value(lot.arc) - holder_best + epsilon;
    };
    if (raise_nibbled_lot(lots, offered, from_lots.taken, holder_limit)) ++stats_.raised;
    lots.push_back({offered, best_arc, bidder, taken + from_lots.reclaimed});
    std::push_heap(lots.begin(), lots.end(), std::greater<>{});
    reprice(sink);
    flow_[best_arc] += taken + from_lots.reclaimed;
    units_left_[bidder] -= taken;
    return true;
  }

  const TransportationProblem& problem_;
  std::vector<Quantity>& flow_;
  AuctionStatistics& stats_;
  const Potential scale_;
  Potential largest_value_ = 0;
  Potential price_limit_ = 0;
  std::uint64_t bid_budget_ = 0;
  std::vector<Potential> base_price_;
  std::vector<Quantity> unsold_;
  std::vector<std::vector<Lot>> lots_;
  std::vector<Quantity> units_left_;
  std::vector<std::uint8_t> queued_;
  std::vector<std::uint8_t> uniform_row_;
  std::vector<std::uint8_t> unbounded_row_;  // no arc of the row has a capacity that binds
  std::vector<Potential> quoted_;            // per sink: price(), or kClosed
  bool stale_quotes_ = true;                 // until the first full repricing
  // The two cheapest sinks, kept up to date as prices change: a bidder whose arcs reach every sink at one
  // and the same cost (a market's "unsold" slack source) needs nothing else, so its bids cost O(1) instead of
  // a scan of every sink.
  SegmentForest cheapest_;
  static constexpr std::uint32_t kCached = 6;
  static constexpr std::uint32_t kStale = std::numeric_limits<std::uint32_t>::max();
  std::vector<ArcIndex> cache_;
  std::vector<std::uint32_t> cache_size_;
  std::vector<Potential> cache_threshold_;
  Potential cache_profit_[kCached];
  std::deque<NodeIndex> waiting_;
  std::deque<NodeIndex> slack_waiting_;
};

Potential floor_divide(Potential a, Potential b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// Exact potentials for an optimal flow: the largest solution, below the starting estimates, of
//   alpha_i <= beta_j + c_e   for arcs that can carry more   (r_e >= 0)
//   beta_j  <= alpha_i - c_e  for arcs carrying flow         (r_e <= 0).
// Returns false if it does not settle, which an optimal flow rules out.
bool recover_exact_potentials(const TransportationProblem& problem, const std::vector<Quantity>& flow,
                              std::vector<Potential>& alpha, std::vector<Potential>& beta, AuctionStatistics& stats) {
  const std::uint64_t pass_limit = 4 * (std::uint64_t{problem.source_count()} + problem.sink_count()) + 8;
  for (std::uint64_t pass = 0; pass < pass_limit; ++pass) {
    ++stats.potential_passes;
    bool changed = false;
    for (NodeIndex i = 0; i < problem.source_count(); ++i) {
      Potential a = alpha[i];
      for (ArcIndex e = problem.row_begin[i]; e < problem.row_begin[i + 1]; ++e) {
        if (flow[e] < problem.arc_capacity[e]) {
          const Potential bound = beta[problem.arc_sink[e]] + problem.arc_cost[e];
          if (a > bound) a = bound;
        }
      }
      if (a != alpha[i]) changed = true;
      alpha[i] = a;
      for (ArcIndex e = problem.row_begin[i]; e < problem.row_begin[i + 1]; ++e) {
        if (flow[e] > 0) {
          Potential& b = beta[problem.arc_sink[e]];
          if (b > a - problem.arc_cost[e]) {
            b = a - problem.arc_cost[e];
            changed = true;
          }
        }
      }
    }
    if (!changed) return true;
  }
  return false;
}

}  // namespace

SolveStatus run_scaled_auction(const TransportationProblem& problem, std::vector<Quantity>& flow,
                               std::vector<Potential>& alpha, std::vector<Potential>& beta, AuctionStatistics& stats,
                               std::uint64_t most_bids) {
  const Potential scale = static_cast<Potential>(problem.source_count()) + problem.sink_count() + 1;
  Cost largest = 0;
  for (const Cost c : problem.arc_cost) largest = std::max(largest, c < 0 ? -c : c);
  // Prices stay below 4 * nodes * (largest scaled value + 1) (the auction's price limit); all of that and a
  // bid's arithmetic must fit in 63 bits.
  if (static_cast<Objective>(largest + 1) * scale * scale * 8 > (Objective{1} << 62)) return SolveStatus::out_of_range;

  flow.assign(problem.arc_count(), 0);
  Auction auction(problem, flow, stats, scale, most_bids);
  const SolveStatus status = auction.run();
  if (status != SolveStatus::optimal) return status;

  // Auction potentials in the engine's convention (r = c - alpha + beta), scaled down to an estimate.
  beta.resize(problem.sink_count());
  alpha.resize(problem.source_count());
  for (NodeIndex j = 0; j < problem.sink_count(); ++j) beta[j] = floor_divide(auction.price(j), scale);
  for (NodeIndex i = 0; i < problem.source_count(); ++i) {
    Potential lowest = std::numeric_limits<Potential>::max();
    for (ArcIndex e = problem.row_begin[i]; e < problem.row_begin[i + 1]; ++e) {
      lowest = std::min(lowest, problem.arc_cost[e] + beta[problem.arc_sink[e]]);
    }
    alpha[i] = lowest == std::numeric_limits<Potential>::max() ? 0 : lowest;
  }
  if (!recover_exact_potentials(problem, flow, alpha, beta, stats)) return SolveStatus::out_of_range;
  return SolveStatus::optimal;
}

}  // namespace ewx::detail
