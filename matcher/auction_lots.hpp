// A sink's sold units in the epsilon-scaling auctions (scaled_auction.cpp, ladder_auction.cpp): lots held at
// the prices their holders bid, in a min-heap by price, and the one step both auctions take when a bid
// arrives.
#pragma once

#include <algorithm>
#include <functional>
#include <vector>

#include "matcher/transportation.hpp"

namespace ewx::detail {

// Takes up to `wanted` units from the lots priced below `offered`, cheapest first, and returns how many it
// took. `give_back(lot, units)` is told of every part taken, while `lot` still names its holder, so that the
// caller can return the units to the holder and queue it to bid again. `Lot` has `price`, `units` and
// `operator>` for the heap.
//
// A lot taken in part keeps its price, so it stays at the top of the heap where it is: only a lot taken
// whole leaves it. Popped and pushed back, as it was, the partial take that ends most bids cost two walks
// down the heap (walks were a third of the ladder auction's bidding loop by perf); without them, its solve
// of an ewx-loadgen 100k x 10k batch took 539 ms against 618, an ewx-gen one 430 against 460 (medians of
// 11 alternated runs, this machine; the same bids).
template <class Lot, class GiveBack>
Quantity take_lots_below(std::vector<Lot>& lots, Potential offered, Quantity wanted, GiveBack&& give_back) {
  Quantity taken = 0;
  while (taken < wanted && !lots.empty() && lots.front().price < offered) {
    Lot& cheapest = lots.front();
    const Quantity units = std::min(wanted - taken, cheapest.units);
    cheapest.units -= units;
    taken += units;
    give_back(cheapest, units);
    if (cheapest.units == 0) {
      std::pop_heap(lots.begin(), lots.end(), std::greater<>{});
      lots.pop_back();
    }
  }
  return taken;
}

}  // namespace ewx::detail
