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
template <class Lot, class GiveBack>
Quantity take_lots_below(std::vector<Lot>& lots, Potential offered, Quantity wanted, GiveBack&& give_back) {
  Quantity taken = 0;
  while (taken < wanted && !lots.empty() && lots.front().price < offered) {
    std::pop_heap(lots.begin(), lots.end(), std::greater<>{});
    Lot& displaced = lots.back();
    const Quantity units = std::min(wanted - taken, displaced.units);
    displaced.units -= units;
    taken += units;
    give_back(displaced, units);
    if (displaced.units == 0)
      lots.pop_back();
    else
      std::push_heap(lots.begin(), lots.end(), std::greater<>{});
  }
  return taken;
}

}  // namespace ewx::detail
