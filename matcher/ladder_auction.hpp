// The epsilon-scaling auction on the condensed network's ladders: the exact engine of condensed clearing for
// large batches. See ladder_auction.cpp for the algorithm; condensed_clearing.cpp builds its input.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "matcher/market.hpp"
#include "matcher/transportation.hpp"

namespace ewx::detail {

// A batch as the ladder auction sees it. Positions number the ladders' offers, each ladder's contiguous and
// ordered by availability end: ladder L holds positions [ladder_begin[L], ladder_begin[L + 1]). An order's
// entry into a ladder reaches the positions from `first` to the ladder's end, paying `transfer` on each unit.
struct LadderMarket {
  struct Entry {
    std::uint32_t ladder;
    std::uint32_t first;
    Fen transfer;
  };
  std::vector<Units> order_units;
  std::vector<Fen> order_bid;
  std::vector<std::uint32_t> entry_begin;  // order i's entries: entries[entry_begin[i], entry_begin[i + 1])
  std::vector<Entry> entries;
  std::vector<std::uint32_t> ladder_begin;    // one past the last ladder too
  std::vector<std::uint32_t> position_offer;  // the offer at each position
  std::vector<Units> offer_units;
  std::vector<Fen> offer_ask;
};

// Units an order buys from the offer at `position`, reached through its entry `entry`.
struct LadderTrade {
  std::uint32_t order;
  std::uint32_t entry;
  std::uint32_t position;
  Units units;
};

struct LadderAuctionStatistics {
  std::uint64_t phases = 0;  // run, the last being the one after which the allocation was proven optimal
  std::uint64_t bids = 0;
  std::uint64_t ladder_queries = 0;  // suffix queries, one per entry of an order that looked at its ladders
  std::uint64_t shortlisted = 0;     // orders' choices answered by their group's shortlist, with no query
  std::uint64_t lifts = 0;           // sinks the unsold source held entirely, raised without a bid
  std::uint64_t refreshed = 0;       // ladder keys brought up to a risen price when a query met them
  std::uint64_t raised = 0;          // big lots a bid nibbled at, raised (raise_nibbled_lot)
  bool out_of_bids = false;          // stopped at its bid budget (bid_budget in auction_lots.hpp)
};

// Ladders with fewer positions than this are scanned rather than kept in trees. Once the shortlists made
// full looks rare, most of the auction's time went to walking the trees for the keys a look found stale: on
// an ewx-loadgen 100k x 10k batch the auction took 21 % less with every ladder scanned (256) than with
// none (0), and the same with 100,000; on ewx-gen's 100k x 10k batch all three took the same (medians of 3,
// this machine).
inline constexpr std::uint32_t kLaddersScannedBelow = 256;

// What the auction clears: the trades, and each offer's exact buyer-optimal premium over its ask (the
// offer's clearing price is ask + premium), indexed like the market's offers.
struct LadderClearing {
  std::vector<LadderTrade> trades;
  std::vector<Fen> offer_premium;
};

// A maximum-surplus allocation of `market` with its buyer-optimal prices. One trade per (order, offer) pair
// that carries units, in order then position order. Trades worth exactly zero may appear (the caller decides
// whether to record them); none worth less. Deterministic. Returns nothing when prices scaled by the node
// count could overflow 64 bits (bids, asks and transfer charges beyond about 2^62 / (8 (orders + offers)^2)
// fen), when the allocation after the last phase could not be proven optimal within a bounded search (a
// defect, never seen), or when the bids reach their budget (stats.out_of_bids), so that the caller can use
// an engine without that limit.
//
// Ladders with fewer positions than `scanned_below` are scanned for their two cheapest offers, longer ones
// kept in trees (kLaddersScannedBelow); the answer is the same either way, and tests set 0 (every ladder in
// a tree) beside the default to drive each path. `most_bids` overrides the bid budget (0: bid_budget), for
// tests of the stoppage.
std::optional<LadderClearing> run_ladder_auction(const LadderMarket& market, LadderAuctionStatistics& stats,
                                                 std::uint32_t scanned_below = kLaddersScannedBelow,
                                                 std::uint64_t most_bids = 0);

}  // namespace ewx::detail
