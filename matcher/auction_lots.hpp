// A sink's sold units in the epsilon-scaling auctions (scaled_auction.cpp, ladder_auction.cpp): lots held at
// the prices their holders bid, in a min-heap by price, and the one step both auctions take when a bid
// arrives.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <vector>

#include "matcher/transportation.hpp"

namespace ewx::detail {

// The most bids either auction takes before it stops and hands the problem to an engine whose work does
// not grow with the units (the network simplex after the ladder auction, successive shortest paths after
// the scaled one). A backstop: the two ways in which bids were seen to grow with the units are cured
// (take_lots_below, raise_nibbled_lot), but no proof bounds the bids of these auctions independently of the
// units; an exact cure would be sink-wide prices, as in epsilon-relaxation. Ordinary batches take far fewer
// than this budget: 1.1 to 1.6 bids per node and arc in the ladder auction on ewx-gen's batches of 2k to 100k
// orders, 0.4 to 3.7 in the scaled auction on batches and DIMACS files of 2k to 20k (this machine,
// 2026-12-07).
inline constexpr std::uint64_t kBidsPerElement = 16;  // per node and per arc
inline constexpr std::uint64_t kBidsAtLeast = std::uint64_t{1} << 18;
inline std::uint64_t bid_budget(std::uint64_t nodes_and_arcs) {
  return kBidsAtLeast + kBidsPerElement * nodes_and_arcs;
}

// Raises a big lot that a bid only nibbled at: the sink's cheapest lot after the bid, when it is below the
// bid and holds more than kNibbledLotRatio times the units the bid took from other lots, goes up to the
// bid, or to `holder_limit(lot)` if that is lower: the highest price at which the lot stays within epsilon
// of its holder's best (or anything at or below its price, to leave it). Returns whether it rose.
//
// Why. Where two orders of huge units each hold a big lot at a sink the other prefers, the few units that
// pass between them raised only their own new lots' prices, and the sinks' prices (their cheapest lots')
// waited until a big lot had been bid over a few units at a time: 12 orders and 23 offers of up to 10^9
// units took the ladder auction 49 million bids, 11 orders and 10 offers the scaled auction 106 million.
// Raised, the big lot moves the sink's price as a bid on all its units would; prices only rise, and the
// lot stays within epsilon of its holder's best, so every lot still is. Those batches now take 420 and 350
// bids. No lot of ewx-gen's batches of 2k to 100k orders was ever 64 times a take: they raised none and
// took the same bids as without (this machine, 2026-12-07).
inline constexpr Quantity kNibbledLotRatio = 64;

template <class Lot, class HolderLimit>
bool raise_nibbled_lot(std::vector<Lot>& lots, Potential offered, Quantity taken, HolderLimit&& holder_limit) {
  if (taken == 0 || lots.empty()) return false;
  const Lot& front = lots.front();
  if (front.price >= offered || front.units <= kNibbledLotRatio * taken) return false;
  const Potential raised = std::min(offered, holder_limit(front));
  if (raised <= front.price) return false;
  std::pop_heap(lots.begin(), lots.end(), std::greater<>{});
  lots.back().price = raised;
  std::push_heap(lots.begin(), lots.end(), std::greater<>{});
  return true;
}

// What one bid took from a sink's lots: units from other lots, which come out of the bidder's units left,
// and the bidder's own lots taken back whole, which it holds already.
struct LotsTaken {
  Quantity taken = 0;
  Quantity reclaimed = 0;
};

// Takes up to `wanted` units from the lots priced below `offered`, cheapest first. `give_back(lot, units)`
// is told of every part taken, while `lot` still names its holder, so that the caller can return the units
// to the holder and queue it to bid again. `Lot` has `price`, `units` and `operator>` for the heap.
//
// A lot for which `reclaims(lot)` says yes is the bidder's own, on an arc its units may move to the one it
// bids on: it is taken whole and moved into the new lot, counting nothing against `wanted` (`reclaims` does
// the caller's bookkeeping for it). Taken like anyone's, it cost a bid per `wanted` units. A bidder with a
// few units back, whose own big lot was the cheapest of its best sink, outbid itself a few units at a
// time, its units left the same after each bid, and the sink's price did not move until the whole lot had
// been bid over: one order of 314 million units against one offer of 256 took the ladder auction 6.1
// million bids, and raising one order of an ewx-gen 20k x 2k batch to 10^9 units took it from 45 ms to
// 62 s (single runs, this machine). Taken whole, the lot is priced as the new one, within epsilon of the
// bidder's best like it, and a price rise harms no other holder's lots.
//
// A lot taken in part keeps its price, so it stays at the top of the heap where it is: only a lot taken
// whole leaves it. Popped and pushed back, as it was, the partial take that ends most bids cost two walks
// down the heap (walks were a third of the ladder auction's bidding loop by perf); without them, its solve
// of an ewx-loadgen 100k x 10k batch took 539 ms against 618, an ewx-gen one 430 against 460 (medians of
// 11 alternated runs, this machine; the same bids).
template <class Lot, class Reclaims, class GiveBack>
LotsTaken take_lots_below(std::vector<Lot>& lots, Potential offered, Quantity wanted, Reclaims&& reclaims,
                          GiveBack&& give_back) {
  LotsTaken out;
  while (!lots.empty() && lots.front().price < offered) {
    Lot& cheapest = lots.front();
    if (reclaims(cheapest)) {
      out.reclaimed += cheapest.units;
      cheapest.units = 0;
    } else if (out.taken < wanted) {
      const Quantity units = std::min(wanted - out.taken, cheapest.units);
      cheapest.units -= units;
      out.taken += units;
      give_back(cheapest, units);
    } else {
      break;
    }
    if (cheapest.units == 0) {
      std::pop_heap(lots.begin(), lots.end(), std::greater<>{});
      lots.pop_back();
    }
  }
  return out;
}

}  // namespace ewx::detail
