// The parallel auction's body: Thrust algorithms and the functors they run, templated on the Thrust system
// (its execution policy and vector), so that one source serves the GPU (parallel_auction.cu) and the CPU
// (parallel_auction_host.cpp, Thrust's OpenMP system). Included by those two files only.
//
// The algorithm. It is the CPU engine's epsilon-scaling auction (matcher/scaled_auction.cpp: Bertsekas and
// Castanon's auction for the transportation problem), made Jacobi: instead of one bidder at a time, every
// bidder with units left bids at once against the prices of the round's start, and then every sink decides
// its bids at once. Sources are bidders with `supply` units; a sink sells `demand` units, held in lots (here
// one lot per arc: the units its source holds there, at one price). A sink's quoted price is its base price
// while it has unsold units, else its cheapest lot's. One round:
//   1. bid (a warp per source on the GPU, a thread on the CPU: see the row reductions below): the best arc
//      (value - quoted price, ties to the lower arc) and the best other; the bid is the price at which the
//      two are equally good, plus epsilon, for all units left. Where most rows are long, a bidder's short
//      list of its best arcs answers instead of its row when that is sure to give the same bid (ShortList,
//      ListedBid);
//   2. sort the bids by (sink, price descending, source) and the lots by (sink, price, arc);
//   3. decide (one thread per sink): highest bid first, each takes unsold units, then the cheapest lots
//      priced below it, up to its units; displaced holders simply hold less (they bid again next round). A
//      bid that takes nothing waits for the next round. The highest bid at a sink always takes something,
//      because it exceeds the price the round started from, so every round makes progress;
//   4. count what moved: a bidder's units left fall by what it took, and each holder gets back what its
//      lots lost (summed by holder), and the sinks that got bids requote (from their lots and winners).
//      The arcs that carry flow are kept in a list, so a round's passes are over what it touches and the
//      lots, never over every arc nor even over a bidder's row twice.
// Nothing reads a column. What a sink needs to know (its units sold, its quote, its dual constraints) is in
// its lots, which are few: each holds a unit at least, so there are never more of them than units of
// supply. So a phase's counts and the duals' sink passes read the lots grouped by sink (SinkFromLots,
// LowerBeta), and the arrays of lots are that long, not one slot per arc: the device keeps 28 bytes per arc
// (costs, sinks, flows, lot prices), where the columns and per-arc lists had made it 128.
// When few bidders are left, the rest of the phase is displacement chains, sequential by nature, and the
// sequential auction finishes it on the host, on a copy of the same state (SequentialTail, HostTail), on
// both systems, its bidders answered from the same short lists where those are exact.
// Every held unit stays within epsilon of its holder's best at the quoted prices, as in the sequential
// auction (later rounds only raise other prices), so each phase ends epsilon-optimal; with costs scaled by
// n + 1 the phase at epsilon = 1 ends optimal (Goldberg and Tarjan). Each phase starts from the previous
// phase's prices and keeps the lots still within its epsilon (KeepWhatFits). The first epsilon comes from
// the spread of the sources' best values, widened if the first phase turns into a price war (EpsilonGuard);
// any start gives the same optimum, only the work differs.
//
// Why an auction rather than cost-scaling push-relabel: a round is a handful of flat, data-parallel passes
// (a row scan, two stable sorts, a segmented walk), each element written by exactly one thread (or, for a
// row scan on the GPU, one warp whose lanes' parts merge to the same answer in any grouping), so it needs
// no locks and no atomic read-modify-writes, and the result does not depend on thread timing: the same
// problem gives the same flow on a GPU and on any number of CPU threads. The only values many threads
// write are flags (a bidder is stuck; a pass of the exact duals moved something), all of them writing 1,
// with a relaxed atomic store (raise_flag): that keeps them well defined rather than data races, which
// ThreadSanitizer, with the OpenMP runtime's Archer tool, found the plain stores to be.
//
// Exact duals, as in the CPU engine: the scaled prices, divided by n + 1, are within one unit of optimal
// potentials; Jacobi passes of Bellman-Ford over the complementary-slackness constraints (a source's pass
// reads its row, a sink's its lots, so again one writer per element) settle the exact ones.
//
// Scope: arcs whose capacity never binds (each is at least what either end moves), which is every market
// batch and assignment problem; the launcher hands anything else back to the CPU solver.
#pragma once

#include <thrust/binary_search.h>
#include <thrust/copy.h>
#include <thrust/for_each.h>
#include <thrust/functional.h>
#include <thrust/gather.h>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/partition.h>
#include <thrust/reduce.h>
#include <thrust/scatter.h>
#include <thrust/sequence.h>
#include <thrust/sort.h>
#include <thrust/transform.h>
#include <thrust/transform_reduce.h>
#include <thrust/unique.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <concepts>
#include <cstdint>
#include <cuda/atomic>
#include <limits>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "kernels/parallel_auction_systems.hpp"

#if defined(_OPENMP)
#include <omp.h>
#endif

#if defined(__CUDACC__)
#define EWX_HOST_DEVICE __host__ __device__
#else
#define EWX_HOST_DEVICE
#endif

namespace ewx::kernels::detail {

namespace th = THRUST_NS_QUALIFIER;

using Index = std::uint64_t;
inline constexpr Potential kNone = std::numeric_limits<Potential>::min();
inline constexpr Potential kHighest = std::numeric_limits<Potential>::max();
inline constexpr Potential kClosed = Potential{1} << 62;  // the quote of a sink that sells nothing

EWX_HOST_DEVICE inline Potential lower(Potential a, Potential b) { return a < b ? a : b; }
EWX_HOST_DEVICE inline Potential higher(Potential a, Potential b) { return a > b ? a : b; }

// What a unit on arc e is worth to its source at scale: -cost * (n + 1). Computed where it is read rather
// than kept per arc: a multiply is free beside the load, and an array would be 8 more bytes per arc on the
// device and, for the GPU's tail, on the host.
struct Values {
  const Cost* cost;
  Potential scale;
  EWX_HOST_DEVICE Potential operator[](Index e) const { return -cost[e] * scale; }
};

// Reductions over a row (or a node's lots). Most passes of a round and of a phase read one row per source or
// the lots of each node: a bidder's best arc, a source's units placed, a sink's cheapest lot. Each is written as a
// reduction, so that the system's row launcher decides how many threads share a row: on the GPU a warp, whose
// 32 lanes read consecutive arcs (one thread walking a row of thousands of arcs reads one arc per memory
// transaction and leaves the device nearly idle); on the CPU one thread. A reduction `R` has
//   R::Part part(i, lane, lanes)      the fold of arcs lane, lane + lanes, ... of row i;
//   static R::Part merge(Part, Part)  two parts combined, with the same answer in any grouping, so that the
//                                     result does not depend on the number of lanes: the GPU and the CPU
//                                     agree to the bit;
//   void finish(i, Part)              the whole row's answer written.
// `RowsOnOneThread` runs them on any Thrust system; on the GPU, reduce_rows below (launched by RowsOnWarps in
// parallel_auction.cu) gives each row a warp.
// A reduction may also answer some rows without reading them (ListedBid, from a short list):
//   bool answered(i, write)           whether it did, the same on every lane, the answer written only
//                                     where `write` is set (one lane of the warp).
template <typename R>
concept AnswersSomeRows = requires(const R& reduction, std::uint32_t i) {
  { reduction.answered(i, true) } -> std::same_as<bool>;
};
template <typename R>
struct WholeRow {
  R reduction;
  EWX_HOST_DEVICE void operator()(std::uint32_t i) const {
    if constexpr (AnswersSomeRows<R>)
      if (reduction.answered(i, true)) return;
    reduction.finish(i, reduction.part(i, 0, 1));
  }
};
struct RowsOnOneThread {
  // Row i for each i in rows[0, count), or in [0, count) when rows is null.
  template <typename Policy, typename R>
  static void run(Policy policy, const std::uint32_t* rows, Index count, const R& reduction) {
    if (rows == nullptr) {
      const th::counting_iterator<std::uint32_t> all(0);
      th::for_each(policy, all, all + count, WholeRow<R>{reduction});
    } else {
      th::for_each(policy, rows, rows + count, WholeRow<R>{reduction});
    }
  }
};

#if defined(__CUDACC__)
// The GPU's row kernel: one warp per row, its lanes reading consecutive arcs, the parts combined by
// shuffles (lane l takes lane l + 16's part, then l + 8's, ..., as tests/test_row_reductions.cpp replays on
// the CPU). Launched by RowsOnWarps in parallel_auction.cu.
inline constexpr unsigned kLanes = 32;
inline constexpr unsigned kRowsPerBlock = 8;

// `value` moved down the warp by `offset` lanes, word by word: the parts are small structs of integers.
template <typename T>
__device__ T shuffle_down(const T& value, unsigned offset) {
  constexpr unsigned words = (sizeof(T) + sizeof(unsigned) - 1) / sizeof(unsigned);
  unsigned in[words] = {}, out[words];
  memcpy(in, &value, sizeof(T));
#pragma unroll
  for (unsigned w = 0; w < words; ++w) out[w] = __shfl_down_sync(0xffffffffu, in[w], offset);
  T moved;
  memcpy(&moved, out, sizeof(T));
  return moved;
}

template <typename R>
__global__ void reduce_rows(const std::uint32_t* rows, Index count, R reduction) {
  const Index row = static_cast<Index>(blockIdx.x) * kRowsPerBlock + threadIdx.x / kLanes;
  if (row >= count) return;  // the whole warp leaves together, so the shuffles below see every lane
  const unsigned lane = threadIdx.x % kLanes;
  const std::uint32_t i = rows ? rows[row] : static_cast<std::uint32_t>(row);
  if constexpr (AnswersSomeRows<R>)
    if (reduction.answered(i, lane == 0)) return;  // every lane read the same answer: the warp leaves together
  typename R::Part part = reduction.part(i, lane, kLanes);
#pragma unroll
  for (unsigned offset = kLanes / 2; offset > 0; offset /= 2) part = R::merge(part, shuffle_down(part, offset));
  if (lane == 0) reduction.finish(i, part);
}
#endif

// A row's best profit (ties to the lower arc) and the second best (equal to the best when two arcs tie).
struct BestTwo {
  Potential best = kNone, second = kNone;
  Index arc = 0;
};
EWX_HOST_DEVICE inline void consider(BestTwo& two, Potential profit, Index e) {
  if (profit > two.best) {  // arcs come in increasing order within a part, so a tie keeps the lower one
    two.second = two.best;
    two.best = profit;
    two.arc = e;
  } else if (profit > two.second) {
    two.second = profit;
  }
}
EWX_HOST_DEVICE inline BestTwo merge_best_two(const BestTwo& a, const BestTwo& b) {
  const bool a_wins = a.best > b.best || (a.best == b.best && a.arc < b.arc);
  BestTwo two = a_wins ? a : b;
  const Potential loser = a_wins ? b.best : a.best;
  const Potential seconds = a.second > b.second ? a.second : b.second;
  two.second = loser > seconds ? loser : seconds;
  return two;
}
// Over arcs begin, begin + stride, ... before end.
EWX_HOST_DEVICE inline BestTwo best_two_over(const std::uint32_t* arc_sink, Values value, const Potential* quote,
                                             Index begin, Index end, Index stride) {
  BestTwo two;
  for (Index e = begin; e < end; e += stride) {
    const Potential q = quote[arc_sink[e]];
    if (q != kClosed) consider(two, value[e] - q, e);
  }
  return two;
}
EWX_HOST_DEVICE inline BestTwo best_two(const Index* row_begin, const std::uint32_t* arc_sink, Values value,
                                        const Potential* quote, std::uint32_t i, unsigned lane, unsigned lanes) {
  return best_two_over(arc_sink, value, quote, row_begin[i] + lane, row_begin[i + 1], lanes);
}

// A bidder's bid: its best arc at the quoted prices and the price at which that arc is exactly as good as its
// best other arc, plus epsilon. Not placed when the bidder has nowhere to go or would bid past any feasible
// price: the problem is infeasible. Shared by the rounds and the tail.
struct Offer {
  Index arc = 0;
  Potential price = 0;
  bool placed = false;
};
EWX_HOST_DEVICE inline Offer offer_from(const BestTwo& two, const std::uint32_t* arc_sink, Values value,
                                        const Potential* quote, Potential epsilon, Potential price_limit) {
  Offer offer;
  if (two.best == kNone) return offer;
  offer.arc = two.arc;
  offer.price = two.second == kNone ? quote[arc_sink[two.arc]] + epsilon : value[two.arc] - two.second + epsilon;
  offer.placed = offer.price <= price_limit;
  return offer;
}

// Sets a flag that any number of threads may set in the same pass; nothing reads it until the pass is over
// (the launch, or the OpenMP loop, ends first), so relaxed is enough.
EWX_HOST_DEVICE inline void raise_flag(int* flag) {
  cuda::atomic_ref<int, cuda::thread_scope_device>(*flag).store(1, cuda::std::memory_order_relaxed);
}

// 1. Each source with units left finds its best and second-best arc and bids.
struct Bid {
  const Index* row_begin;
  const std::uint32_t* arc_sink;
  Values value;
  const Potential* quote;
  Potential epsilon, price_limit;
  Potential* bid_price;
  Index* bid_arc;
  std::uint32_t* bid_sink;
  int* stuck;  // set when a bidder has nowhere to go or would bid past any feasible price: infeasible
  const Quantity* flow;
  std::uint8_t* on_lot;  // per source: whether its bid's arc is a lot already (so not a new one: NewLot)

  using Part = BestTwo;
  EWX_HOST_DEVICE Part part(std::uint32_t i, unsigned lane, unsigned lanes) const {
    return best_two(row_begin, arc_sink, value, quote, i, lane, lanes);
  }
  EWX_HOST_DEVICE static Part merge(const Part& a, const Part& b) { return merge_best_two(a, b); }
  EWX_HOST_DEVICE void finish(std::uint32_t i, const Part& two) const {
    const Offer offer = offer_from(two, arc_sink, value, quote, epsilon, price_limit);
    if (!offer.placed) {
      raise_flag(stuck);
      return;
    }
    bid_price[i] = offer.price;
    bid_arc[i] = offer.arc;
    bid_sink[i] = arc_sink[offer.arc];
    on_lot[i] = flow[offer.arc] > 0;
  }
};

// A bidder's short list (Bertsekas's candidate lists, as in the CPU engine): its kSize best arcs at its
// last scan of its row, in order of profit (ties to the lower arc), and `bound`, the best profit of an arc
// left out. Quotes never fall: a bid takes the cheapest units below it and is itself above the quote, and a
// phase's warm start reprices each kept lot to its sink's quote, which leaves every quote as it was. So no
// arc left out can since have passed `bound`, in any later round or tail of the solve. A later bid reprices
// the listed arcs alone; when the best of them is above `bound` and the second best at least `bound`, they
// are the row's best and second best exactly as a scan of the whole row would find them (the best's ties
// to the lower arc included: an arc left out at `bound` cannot tie a best above it), so the bid is the
// same. Otherwise the row is scanned again, and listed anew. Unlike the CPU engine's lists, which let the
// bound stand in for the second best, this never changes a bid, so the flows stay those of the whole-row
// scans. Rows shorter than kShortListFrom arcs have no list (has_short_list, ListSlots). Sixteen arcs, not
// eight: a tail bids from one row again and again, each bid taking its best arc's price up past the rest,
// and eight ran out (dense n = 8,192: tails scanned 9,798 rows for 96,235 bids with eight, 2,173 with
// sixteen); thirty-two made the rounds slower and the tails no faster (docs/benchmarks.md).
struct ShortList {
  static constexpr unsigned kSize = kShortListArcs;
  struct Entry {
    Potential profit;
    Index arc;
  };
  Entry entry[kSize];
  unsigned count = 0;
  bool scanned = false;     // false until the row's first scan: nothing listed yet
  Potential bound = kNone;  // kNone: every open arc of the row is listed

  EWX_HOST_DEVICE static bool ahead(const Entry& a, const Entry& b) {
    return a.profit > b.profit || (a.profit == b.profit && a.arc < b.arc);
  }
  // Arcs considered in increasing order, so an arc that ties the last listed one ranks behind it.
  EWX_HOST_DEVICE void consider(Potential profit, Index e) {
    if (count == kSize) {
      if (profit <= entry[kSize - 1].profit) {
        bound = higher(bound, profit);
        return;
      }
      bound = higher(bound, entry[kSize - 1].profit);
      --count;
    }
    unsigned k = count++;
    for (; k > 0 && entry[k - 1].profit < profit; --k) entry[k] = entry[k - 1];
    entry[k] = {profit, e};
  }
  // The lists of two parts of a row: the best kSize of both, and the best of everything else. The same
  // answer in any grouping, so the row's list does not depend on how many lanes or cores shared the scan.
  EWX_HOST_DEVICE static ShortList merge(const ShortList& a, const ShortList& b) {
    ShortList both;
    both.scanned = a.scanned || b.scanned;
    both.bound = higher(a.bound, b.bound);
    unsigned i = 0, j = 0;
    while (i < a.count || j < b.count) {
      const bool from_a = j == b.count || (i < a.count && ahead(a.entry[i], b.entry[j]));
      const Entry& next = from_a ? a.entry[i++] : b.entry[j++];
      if (both.count < kSize) {
        both.entry[both.count++] = next;
      } else {
        both.bound = higher(both.bound, next.profit);  // the first left out is the best left out
        break;
      }
    }
    return both;
  }
  // The best two at the time of the scan.
  EWX_HOST_DEVICE BestTwo best_two() const {
    BestTwo two;
    if (count > 0) two.best = entry[0].profit, two.arc = entry[0].arc;
    if (count > 1) two.second = entry[1].profit;
    return two;
  }
  // The row's best two at today's quotes, from the listed arcs alone, when they are sure to be exactly those
  // of the whole row; false when the row must be scanned again.
  EWX_HOST_DEVICE bool answers(const std::uint32_t* arc_sink, Values value, const Potential* quote,
                               BestTwo& two) const {
    if (!scanned) return false;
    two = {};
    for (unsigned k = 0; k < count; ++k) {  // listed by profit at the scan, not by arc: merged as parts are
      const Index e = entry[k].arc;
      two = merge_best_two(two, BestTwo{value[e] - quote[arc_sink[e]], kNone, e});
    }
    return bound == kNone || (two.best > bound && two.second >= bound);
  }
  // The row's best profit at today's quotes, from the listed arcs alone, when it is sure to be the whole
  // row's (no arc left out is worth more than `bound`); false when the row must be scanned.
  EWX_HOST_DEVICE bool best_now(const std::uint32_t* arc_sink, Values value, const Potential* quote,
                                Potential& best) const {
    if (!scanned) return false;
    best = kNone;
    for (unsigned k = 0; k < count; ++k) best = higher(best, value[entry[k].arc] - quote[arc_sink[entry[k].arc]]);
    return bound == kNone || best >= bound;
  }
};
// Lists the best arcs of begin, begin + stride, ... before end, at `quote`.
EWX_HOST_DEVICE inline ShortList list_over(const std::uint32_t* arc_sink, Values value, const Potential* quote,
                                           Index begin, Index end, Index stride) {
  ShortList list;
  for (Index e = begin; e < end; e += stride) {
    const Potential q = quote[arc_sink[e]];
    if (q != kClosed) list.consider(value[e] - q, e);
  }
  list.scanned = true;
  return list;
}
static_assert(sizeof(ShortList) <= kShortListBytes, "parallel_working_set counts kShortListBytes per list");
inline constexpr std::uint32_t kUnlisted = std::numeric_limits<std::uint32_t>::max();

// 1, with short lists: the bid of a bidder whose list answers (ShortList) costs kSize reads, not a row, and
// is the bid Bid would make. For problems whose rows are mostly long (dense ones: on n = 2,048 to 8,192
// assignments the lists answered 92 % of the rounds' bids, and the CPU build's rounds took half the
// time); on market batches, whose orders' rows are short, the rounds bid with Bid alone.
struct ListedBid {
  Bid bid;
  ShortList* lists;
  const std::uint32_t* list_slot;   // per source: its list in `lists`, or kUnlisted (ListSlots)
  std::uint32_t* answered_by_list;  // per source: its bids a list answered, for the statistics

  EWX_HOST_DEVICE bool answered(std::uint32_t i, bool write) const {
    const std::uint32_t slot = list_slot[i];
    BestTwo two;
    if (slot == kUnlisted || !lists[slot].answers(bid.arc_sink, bid.value, bid.quote, two)) return false;
    if (write) {
      bid.finish(i, two);
      ++answered_by_list[i];
    }
    return true;
  }
  using Part = ShortList;
  EWX_HOST_DEVICE Part part(std::uint32_t i, unsigned lane, unsigned lanes) const {
    return list_over(bid.arc_sink, bid.value, bid.quote, bid.row_begin[i] + lane, bid.row_begin[i + 1], lanes);
  }
  EWX_HOST_DEVICE static Part merge(const Part& a, const Part& b) { return ShortList::merge(a, b); }
  EWX_HOST_DEVICE void finish(std::uint32_t i, const Part& list) const {
    if (list_slot[i] != kUnlisted) lists[list_slot[i]] = list;
    bid.finish(i, list.best_two());
  }
};

struct HasUnitsLeft {
  const Quantity* left;
  EWX_HOST_DEVICE bool operator()(std::uint32_t i) const { return left[i] > 0; }
};
struct CarriesFlow {
  const Quantity* flow;
  EWX_HOST_DEVICE bool operator()(Index e) const { return flow[e] > 0; }
};
template <typename T, typename I>
struct Gather {
  const T* from;
  EWX_HOST_DEVICE T operator()(I k) const { return from[k]; }
};

// 3. Each sink decides its bids, highest first, taking unsold units and then its cheapest lots. A bidder's
// units left fall by what it took, and what each lot lost is written beside it (`lost`, by position in
// sorted_lot), for ReturnUnits to give back to its holder: a holder may lose lots at several sinks, so no
// sink's thread writes its units left. Both are counts of what moved rather than recounts of the rows: a
// round had read the whole row of every bidder and holder again, 18 % of the CPU build's profile of a
// 20k x 2k market batch.
struct Decide {
  const Index* bid_begin;  // per sink: its bids in sorted_bidder, [bid_begin[j], bid_begin[j + 1])
  const std::uint32_t* sorted_bidder;
  const Potential* bid_price;
  const Index* bid_arc;
  const Index* lot_begin;  // per sink: its lots in sorted_lot
  const Index* sorted_lot;
  Quantity* left;
  Quantity* flow;
  Potential* lot_price;
  Quantity* unsold;
  Quantity* taken;  // per source: what its bid took this round
  Quantity* lost;   // per lot, as sorted_lot: the units it lost this round
  EWX_HOST_DEVICE void operator()(std::uint32_t j) const {
    Index lot = lot_begin[j];
    const Index lots_end = lot_begin[j + 1];
    for (Index k = lot; k < lots_end; ++k) lost[k] = 0;
    Quantity lot_left = lot < lots_end ? flow[sorted_lot[lot]] : 0;
    Index k = bid_begin[j];
    for (; k < bid_begin[j + 1]; ++k) {
      const std::uint32_t i = sorted_bidder[k];
      const Potential offered = bid_price[i];
      const Quantity wanted = left[i];
      Quantity got = wanted < unsold[j] ? wanted : unsold[j];
      unsold[j] -= got;
      while (got < wanted && lot < lots_end && lot_price[sorted_lot[lot]] < offered) {
        const Quantity units = wanted - got < lot_left ? wanted - got : lot_left;
        lot_left -= units;
        lost[lot] += units;
        got += units;
        if (lot_left == 0) {
          flow[sorted_lot[lot]] = 0;
          ++lot;
          lot_left = lot < lots_end ? flow[sorted_lot[lot]] : 0;
        }
      }
      if (lot < lots_end) flow[sorted_lot[lot]] = lot_left;  // the partly taken lot, written as we go
      taken[i] = got;
      left[i] = wanted - got;
      if (got == 0) break;  // nothing left below this bid, so nothing below any lower one either
    }
    // The bids never reached took nothing; left from an earlier round, their `taken` would list (NewLot)
    // arcs they did not win.
    for (++k; k < bid_begin[j + 1]; ++k) taken[sorted_bidder[k]] = 0;
    // The winners' lots, after every displacement (a bidder may have taken back units of its own lot).
    for (k = bid_begin[j]; k < bid_begin[j + 1]; ++k) {
      const std::uint32_t i = sorted_bidder[k];
      if (taken[i] == 0) break;
      const Index e = bid_arc[i];
      const Potential offered = bid_price[i];
      lot_price[e] = flow[e] > 0 && lot_price[e] > offered ? lot_price[e] : offered;
      flow[e] += taken[i];
    }
  }
};
// 3b. The units the lots lost go back to their holders: `holder` and `units` are the lots' holders and
// losses summed by holder (a sort and a reduction by key), one writer per holder.
struct ReturnUnits {
  const std::uint32_t* holder;
  const Quantity* units;
  Quantity* left;
  EWX_HOST_DEVICE void operator()(Index k) const { left[holder[k]] += units[k]; }
};

// Bookkeeping that keeps a round's cost to what it touches: the sinks that got bids, the sources that bid
// or held lots there, and the list of arcs that carry flow (the lots), kept up to date instead of gathered
// from every arc.
struct SinkHasBids {
  const Index* bid_begin;
  const std::uint32_t* arc_sink;
  EWX_HOST_DEVICE bool operator()(Index e) const {
    const std::uint32_t j = arc_sink[e];
    return bid_begin[j] < bid_begin[j + 1];
  }
};
// The list holds exactly the arcs with flow at a round's start, so a winner's arc is a new lot unless it
// had flow when the round began (Bid's `on_lot`): then it is one of its sink's lots, kept if it still has
// flow.
struct NewLot {
  const Quantity* taken;
  const std::uint8_t* on_lot;
  EWX_HOST_DEVICE bool operator()(std::uint32_t i) const { return taken[i] > 0 && on_lot[i] == 0; }
};

// 4. Units each source has to place at a phase's start: its supply less the flows of its lots, lots[begin[i]]
// to lots[begin[i + 1] - 1] (see SinkFromLots); a round counts what moved instead (Decide, ReturnUnits).
struct CountLeft {
  const Index* begin;
  const Index* lots;
  const Quantity* supply;
  const Quantity* flow;
  Quantity* left;

  using Part = Quantity;
  EWX_HOST_DEVICE Part part(std::uint32_t i, unsigned lane, unsigned lanes) const {
    Quantity placed = 0;
    for (Index k = begin[i] + lane; k < begin[i + 1]; k += lanes) placed += flow[lots[k]];
    return placed;
  }
  EWX_HOST_DEVICE static Part merge(Part a, Part b) { return a + b; }
  EWX_HOST_DEVICE void finish(std::uint32_t i, Part placed) const { left[i] = supply[i] - placed; }
};
// A sink's quote once it has sold out is its cheapest lot: `cheapest` lowered to arc e's price if e holds one.
EWX_HOST_DEVICE inline void lower_to_lot(Potential& cheapest, Index e, const Quantity* flow,
                                         const Potential* lot_price) {
  if (flow[e] > 0 && lot_price[e] < cheapest) cheapest = lot_price[e];
}

// The source holding arc e: rows are contiguous runs of arcs, so the last row that begins at or before e.
// A binary search where an array per arc would be 4 more bytes per arc on the device; only lots (a few per
// sink) and the tail's displacements ask.
struct SourceOf {
  const Index* row_begin;
  std::uint32_t sources;
  EWX_HOST_DEVICE std::uint32_t operator()(Index e) const {
    std::uint32_t low = 0, high = sources;  // row_begin[low] <= e < row_begin[high]
    while (high - low > 1) {
      const std::uint32_t middle = low + (high - low) / 2;
      if (row_begin[middle] <= e)
        low = middle;
      else
        high = middle;
    }
    return low;
  }
};

// A phase's counts, from its lots rather than from every arc: a sink's units sold and its quote, and (by
// CountLeft) a source's units left. The lots are grouped by sink (`lot_begin`) or by source
// (`source_lot_begin`) in `lots`; a lot is an arc with flow, so a sink's lots are all it has sold and a source's all it has placed.
// A pass over a few lots per node replaces a pass over every row and two over every column (on the CPU the
// column passes, a gather per arc, had been a third of the solve).
struct SinkFromLots {
  const Index* lot_begin;
  const Index* lots;
  const Quantity* demand;
  const Quantity* flow;
  const Potential* lot_price;
  const Potential* base;
  Quantity* unsold;
  Potential* quote;
  struct Part {
    Quantity sold = 0;
    Potential cheapest = kClosed;
  };
  EWX_HOST_DEVICE Part part(std::uint32_t j, unsigned lane, unsigned lanes) const {
    Part part;
    for (Index k = lot_begin[j] + lane; k < lot_begin[j + 1]; k += lanes) {
      part.sold += flow[lots[k]];
      lower_to_lot(part.cheapest, lots[k], flow, lot_price);
    }
    return part;
  }
  EWX_HOST_DEVICE static Part merge(const Part& a, const Part& b) { return {a.sold + b.sold, lower(a.cheapest, b.cheapest)}; }
  // The quote: closed if the sink sells nothing, its base price while it has unsold units, else its
  // cheapest lot's.
  EWX_HOST_DEVICE void finish(std::uint32_t j, const Part& part) const {
    unsold[j] = demand[j] - part.sold;
    quote[j] = demand[j] == 0 ? kClosed : unsold[j] > 0 ? base[j] : part.cheapest;
  }
};

// 4b. The quote of a sink that got bids, after the round, as SinkFromLots gives it, read from the sink's lots
// at the round's start and its winners' arcs, which hold every unit it has sold after the round. Only the
// sinks that got bids requote, one thread each over a few lots.
struct Requote {
  const Index* bid_begin;
  const std::uint32_t* sorted_bidder;
  const Quantity* taken;
  const Index* bid_arc;
  const Index* lot_begin;
  const Index* sorted_lot;
  const Quantity* unsold;
  const Quantity* flow;
  const Potential* lot_price;
  const Potential* base;
  Potential* quote;
  EWX_HOST_DEVICE void operator()(std::uint32_t j) const {
    if (unsold[j] > 0) {  // a sink with bids sells something, so its quote is not kClosed
      quote[j] = base[j];
      return;
    }
    Potential cheapest = kClosed;
    for (Index k = lot_begin[j]; k < lot_begin[j + 1]; ++k) lower_to_lot(cheapest, sorted_lot[k], flow, lot_price);
    for (Index k = bid_begin[j]; k < bid_begin[j + 1] && taken[sorted_bidder[k]] > 0; ++k)
      lower_to_lot(cheapest, bid_arc[sorted_bidder[k]], flow, lot_price);
    quote[j] = cheapest;
  }
};

// The warm start of a finer phase (the CPU engine's keep_what_still_fits): each source's best profit at the
// quoted prices; a lot stays, repriced to its sink's quote (which changes no quote), only if it is within
// the new epsilon of its holder's best; every other lot goes back to its holder to be bid again.
struct BestProfit {
  const Index* row_begin;
  const std::uint32_t* arc_sink;
  Values value;
  const Potential* quote;
  Potential* best;
  const ShortList* lists;
  const std::uint32_t* list_slot;  // per source: its list in `lists`, or kUnlisted (ListSlots)

  // From the source's short list where that is exact: the phase's start had scanned every row, 11 % of the
  // CPU build's profile of a dense n = 4,096 solve.
  EWX_HOST_DEVICE bool answered(std::uint32_t i, bool write) const {
    const std::uint32_t slot = list_slot[i];
    Potential listed_best;
    if (slot == kUnlisted || !lists[slot].best_now(arc_sink, value, quote, listed_best)) return false;
    if (write) best[i] = listed_best;
    return true;
  }
  // The bid's scan, of which only the best is kept.
  using Part = BestTwo;
  EWX_HOST_DEVICE Part part(std::uint32_t i, unsigned lane, unsigned lanes) const {
    return best_two(row_begin, arc_sink, value, quote, i, lane, lanes);
  }
  EWX_HOST_DEVICE static Part merge(const Part& a, const Part& b) { return merge_best_two(a, b); }
  EWX_HOST_DEVICE void finish(std::uint32_t i, const Part& two) const { best[i] = two.best; }
};
// The range of the sources' best values, for the first phase's epsilon (EpsilonGuard).
struct ValueRange {
  Potential low, high;  // empty when low > high
};
struct BestOfRow {
  const Potential* best;
  const Quantity* supply;
  EWX_HOST_DEVICE ValueRange operator()(std::uint32_t i) const {
    if (supply[i] == 0 || best[i] == kNone) return {kHighest, kNone};
    return {best[i], best[i]};
  }
};
struct Widen {
  EWX_HOST_DEVICE ValueRange operator()(const ValueRange& a, const ValueRange& b) const {
    return {lower(a.low, b.low), a.high > b.high ? a.high : b.high};
  }
};
// Where the schedule starts. Epsilon-scaling's phases do little useful work while epsilon is wider than the
// prices need to move, and the largest value is far wider than that on problems whose sources are much
// alike: the sources' best values (at the opening prices, zero) of a dense assignment with costs in
// [0, 10n) span 1/200 of the largest at n = 2,048. So the first epsilon is a sixteenth of that spread
// rather than a quarter of the largest value (the schedule's start until 2026-12-04); for market batches,
// whose orders' best surpluses span nearly everything, the two are about the same.
// A spread says nothing of the price wars within rows, though: many sources tied on a few sinks, each bid
// an epsilon above the last, which a small epsilon makes long. So the first phase (the only one not warm
// started from a coarser phase's prices) widens its epsilon sixteenfold, up to a quarter of the largest
// value, each time it has taken `budget` bids at the one it has: 64 per node, where the first phase of a
// 20k x 2k market batch took between 32 and 64 and of a dense assignment 2 or 3. A wider epsilon keeps
// every lot within it, so the phase goes on from where it is, and the phases after it narrow from there as
// before. Widening later phases too was tried and dropped: each narrowing restarted the war, prices drifted
// up phase after phase, and one test problem's passed the infeasibility limit. Bids are counted in the same
// order on every system, so the widenings, and the result, do not depend on the system.
struct EpsilonGuard {
  Potential epsilon, widest;
  std::uint64_t budget;
  std::uint64_t spent = 0;   // bids at this epsilon in this phase
  std::uint64_t widenings = 0;
  bool first_phase = true;
  void start_phase(Potential next) {
    epsilon = next;
    spent = 0;
  }
  void next_phase() {
    start_phase(std::max<Potential>(1, epsilon / 4));
    first_phase = false;
  }
  void spend(std::uint64_t bids) {
    spent += bids;
    if (first_phase && spent > budget && epsilon < widest) {
      epsilon = std::min(widest, epsilon * 16);
      spent = 0;
      ++widenings;
    }
  }
};
struct KeepWhatFits {
  SourceOf source_of;
  const std::uint32_t* arc_sink;
  Values value;
  const Potential* quote;
  const Potential* best;
  Potential epsilon;
  Quantity* flow;
  Potential* lot_price;
  EWX_HOST_DEVICE void operator()(Index e) const {
    if (flow[e] == 0) return;
    const Potential q = quote[arc_sink[e]];
    if (best[source_of(e)] + q - value[e] <= epsilon)
      lot_price[e] = q;
    else
      flow[e] = 0;
  }
};
// A phase's tail. When few bidders are left, a round of several passes does the work of a few bids: the
// displacement chains at the end of a phase (a bid displaces a holder, whose bid displaces another) are
// sequential by nature. So the tail is run as the sequential auction (Gauss-Seidel: each bid sees every bid
// before it) on the host, on a copy of the state (HostTail, below): the lots and the node arrays. Each bid
// takes unsold units, then the cheapest lots below it, exactly as a sink decides in a round; each sink's
// lots are in a min-heap by (price, arc), whose entries go stale when a lot is emptied or repriced and are
// dropped when they surface.
//
// The lots' flows and prices are kept in a map of the arcs that are or become lots (LotMap): a tail touches a
// few thousand arcs, and per-arc host arrays were 1.9 GB to fill at n = 8,192 (on the H100, copying flows and
// prices of every arc both ways had made the tails 5.7 of a 7.5 s solve at n = 4,096). The CPU build runs
// the very same copy and map, so that CI tests the GPU's tail too.
struct LotMap {
  struct Lot {
    Quantity flow = 0;
    Potential price = 0;
  };
  std::unordered_map<Index, Lot> at;  // every arc the tail read or wrote; flow 0 on any arc it does not hold
};

// The sources' short lists, kept for the whole solve (quotes never fall) and shared by the rounds and the
// tails: a slot per source whose row is long enough for one (has_short_list), numbered in source order.
struct ListSlots {
  std::vector<std::uint32_t> slot;  // per source: its list, or kUnlisted
  std::uint32_t lists = 0;
  explicit ListSlots(const TransportationProblem& p) : slot(p.source_count(), kUnlisted) {
    for (std::uint32_t i = 0; i < p.source_count(); ++i)
      if (has_short_list(p, i)) slot[i] = lists++;
  }
};
// The tails' copy of the lists.
struct ShortLists {
  const std::uint32_t* slot;
  std::vector<ShortList> lists;
  std::uint64_t scans = 0;  // whole-row scans
};

// The sources with units left, a bit each in source order. The tail bids in the order of sweeps over every
// source (each source bids until it has nothing left; a source displaced behind the sweep waits for the
// next), and reading every source's units left to find the few that have some was half the tails' time at
// n = 8,192 (8,192 reads for every few bids); the bits give the next one in the same order, 64 at a read.
class Waiting {
 public:
  static constexpr std::uint32_t kNobody = std::numeric_limits<std::uint32_t>::max();
  Waiting(const Quantity* left, std::uint32_t sources) : word_((sources + 63) / 64, 0) {
    for (std::uint32_t i = 0; i < sources; ++i)
      if (left[i] > 0) add(i);
  }
  void add(std::uint32_t i) { word_[i / 64] |= bit(i); }
  void remove(std::uint32_t i) { word_[i / 64] &= ~bit(i); }
  // The next source after `i` in the sweep, or the first of the next sweep; kNobody when none has units left.
  std::uint32_t after(std::uint32_t i) const {
    const std::uint32_t later = first_from(i + 1);
    return later != kNobody ? later : first_from(0);
  }
  std::uint32_t first_from(std::uint32_t i) const {
    std::size_t w = i / 64;
    if (w >= word_.size()) return kNobody;
    for (std::uint64_t bits = word_[w] & (~std::uint64_t{0} << (i % 64));; bits = word_[w]) {
      if (bits != 0) return static_cast<std::uint32_t>(64 * w + std::countr_zero(bits));
      if (++w == word_.size()) return kNobody;
    }
  }

 private:
  static std::uint64_t bit(std::uint32_t i) { return std::uint64_t{1} << (i % 64); }
  std::vector<std::uint64_t> word_;
};

struct SequentialTail {
  const Index* row_begin;
  const std::uint32_t* arc_sink;
  Values value;
  const Quantity* demand;
  const Potential* base;
  EpsilonGuard& guard;
  Potential price_limit;
  std::uint32_t sources, sinks;
  Quantity* left;
  LotMap& lot;
  Quantity* unsold;
  Potential* quote;
  ShortLists& short_lists;

  using Entry = std::pair<Potential, Index>;  // (price, arc); std::greater makes the heaps min-heaps
  std::vector<std::vector<Entry>> heaps;

  bool current(const Entry& entry) {
    const LotMap::Lot& held = lot.at[entry.second];
    return held.flow > 0 && held.price == entry.first;
  }
  // The sink's cheapest current lot, after dropping stale entries; nothing when it has none.
  const Entry* cheapest(std::uint32_t j) {
    std::vector<Entry>& heap = heaps[j];
    while (!heap.empty() && !current(heap.front())) {
      std::pop_heap(heap.begin(), heap.end(), std::greater<>{});
      heap.pop_back();
    }
    return heap.empty() ? nullptr : &heap.front();
  }
  void requote(std::uint32_t j) {
    if (demand[j] == 0) {
      quote[j] = kClosed;
    } else if (unsold[j] > 0) {
      quote[j] = base[j];
    } else {
      const Entry* cheapest_lot = cheapest(j);
      quote[j] = cheapest_lot ? cheapest_lot->first : kClosed;
    }
  }

  // A bidder's best two arcs, from its short list where that answers exactly, else from a scan of its row
  // that lists it anew. On dense problems a row is thousands of arcs, read one after another at the speed
  // of one core's memory reads, and most of a tail's bids come from bidders displaced again and again, whose
  // lists still answer. A long row is split into contiguous pieces scanned by the host's cores, and the
  // pieces' lists merged (same answer in any grouping), so the result does not depend on how many cores
  // there are. On the H100 machine's 16 cores, splitting rows of 8,192 arcs took the n = 8,192 assignment's
  // tails from 2.1 to 1.7 s (before the lists); splitting rows of 4,096 (256 arcs a thread) made the
  // n = 4,096 tails slower, 0.73 to 0.93 s: starting and joining the threads costs more than the scan.
  static constexpr Index kSplitRowsFrom = 8192;

  ShortList scan_row(std::uint32_t i) const {
    const Index first = row_begin[i], length = row_begin[i + 1] - first;
#if defined(_OPENMP)
    const int threads = omp_get_max_threads();
    if (length >= kSplitRowsFrom && threads > 1) {
      ShortList whole;
#pragma omp parallel num_threads(threads)
      {
        const Index pieces = static_cast<Index>(omp_get_num_threads()), piece = static_cast<Index>(omp_get_thread_num());
        const ShortList part = list_over(arc_sink, value, quote, first + length * piece / pieces,
                                         first + length * (piece + 1) / pieces, 1);
#pragma omp critical
        whole = ShortList::merge(whole, part);
      }
      return whole;
    }
#endif
    return list_over(arc_sink, value, quote, first, first + length, 1);
  }
  // Rows shorter than kShortListFrom are scanned whole every time: on market batches (rows of 45 to 450
  // arcs) the lists answered only a fifth of the tails' bids, and the tails of a 20k x 2k batch took 1.5 to
  // 1.7 s with them against 1.0 to 1.2 s without (this machine's two cores, three runs each).
  BestTwo best_two_of(std::uint32_t i) {
    const std::uint32_t slot = short_lists.slot[i];
    if (slot == kUnlisted) {
      ++short_lists.scans;
      return best_two(row_begin, arc_sink, value, quote, i, 0, 1);
    }
    ShortList& list = short_lists.lists[slot];
    BestTwo two;
    if (list.answers(arc_sink, value, quote, two)) return two;
    ++short_lists.scans;
    list = scan_row(i);
    return list.best_two();
  }

  // Returns the number of bids, or nothing when a bidder is stuck (the problem is infeasible).
  std::optional<std::uint64_t> run() {
    heaps.assign(sinks, {});
    for (const auto& [e, held] : lot.at)
      if (held.flow > 0) heaps[arc_sink[e]].push_back({held.price, e});
    for (std::vector<Entry>& heap : heaps) std::make_heap(heap.begin(), heap.end(), std::greater<>{});
    std::uint64_t bids = 0;
    Waiting waiting(left, sources);
    for (std::uint32_t i = waiting.first_from(0); i != Waiting::kNobody; i = waiting.after(i)) {
      while (left[i] > 0) {
        ++bids;
        guard.spend(1);
        const Offer offer = offer_from(best_two_of(i), arc_sink, value, quote, guard.epsilon, price_limit);
        if (!offer.placed) return std::nullopt;
        const Index best_arc = offer.arc;
        const Potential offered = offer.price;
        const std::uint32_t j = arc_sink[best_arc];
        const Quantity wanted = left[i];
        Quantity got = std::min(wanted, unsold[j]);
        unsold[j] -= got;
        while (got < wanted) {
          const Entry* cheapest_lot = cheapest(j);
          if (!cheapest_lot || cheapest_lot->first >= offered) break;
          const Index e = cheapest_lot->second;
          Quantity& held = lot.at[e].flow;
          const Quantity units = std::min(wanted - got, held);
          held -= units;  // an emptied lot's entry goes stale and is dropped by cheapest()
          const std::uint32_t holder = SourceOf{row_begin, sources}(e);
          left[holder] += units;
          waiting.add(holder);
          got += units;
        }
        LotMap::Lot& won = lot.at[best_arc];  // a lookup hashes the arc: one per lot touched
        if (won.flow == 0 || won.price < offered) won.price = offered;
        won.flow += got;
        left[i] -= got;
        heaps[j].push_back({won.price, best_arc});
        std::push_heap(heaps[j].begin(), heaps[j].end(), std::greater<>{});
        requote(j);
      }
      waiting.remove(i);
    }
    return bids;
  }
};

// Exact duals: Jacobi passes over alpha_i <= beta_j + c_e (every arc can carry more) and, for arcs with
// flow, beta_j <= alpha_i - c_e. Each pass lowers values only; `changed` reports whether any moved.
struct LowerAlpha {
  const Index* row_begin;
  const std::uint32_t* arc_sink;
  const Cost* cost;
  const Potential* beta;
  Potential* alpha;
  int* changed;

  using Part = Potential;
  EWX_HOST_DEVICE Part part(std::uint32_t i, unsigned lane, unsigned lanes) const {
    Potential a = alpha[i];
    for (Index e = row_begin[i] + lane; e < row_begin[i + 1]; e += lanes) a = lower(a, beta[arc_sink[e]] + cost[e]);
    return a;
  }
  EWX_HOST_DEVICE static Part merge(Part a, Part b) { return lower(a, b); }
  EWX_HOST_DEVICE void finish(std::uint32_t i, Part a) const {
    if (a != alpha[i]) {
      alpha[i] = a;
      raise_flag(changed);
    }
  }
};
// A sink's constraints are its arcs with flow, its lots (grouped by sink as for SinkFromLots).
struct LowerBeta {
  const Index* lot_begin;
  const Index* lots;
  SourceOf source_of;
  const Cost* cost;
  const Potential* alpha;
  Potential* beta;
  int* changed;

  using Part = Potential;
  EWX_HOST_DEVICE Part part(std::uint32_t j, unsigned lane, unsigned lanes) const {
    Potential b = beta[j];
    for (Index k = lot_begin[j] + lane; k < lot_begin[j + 1]; k += lanes) {
      const Index e = lots[k];
      b = lower(b, alpha[source_of(e)] - cost[e]);
    }
    return b;
  }
  EWX_HOST_DEVICE static Part merge(Part a, Part b) { return lower(a, b); }
  EWX_HOST_DEVICE void finish(std::uint32_t j, Part b) const {
    if (b != beta[j]) {
      beta[j] = b;
      raise_flag(changed);
    }
  }
};

struct Positive {
  EWX_HOST_DEVICE bool operator()(Quantity q) const { return q > 0; }
};
struct FloorDivide {
  Potential by;
  EWX_HOST_DEVICE Potential operator()(Potential a) const { return a / by - ((a % by != 0) && (a < 0)); }
};

// A phase's tail on the host (SequentialTail). The device's lots (gathered into short arrays)
// and node arrays come up; the problem's costs, rows and sinks are the host's own (the caller's problem);
// afterwards every arc the tail touched goes back, emptied lots with flow 0.
template <template <typename...> class Vector>
struct HostTail {
  std::vector<Potential> base, quote, lot_price;
  std::vector<Quantity> left, unsold, flow;
  std::vector<Index> lot_arcs;
  Vector<Index> changed;
  Vector<Quantity> changed_flow;
  Vector<Potential> changed_price;
  ShortLists short_lists;

  template <typename V>
  static void download(const V& from, std::size_t count, std::vector<typename V::value_type>& to) {
    to.resize(count);
    th::copy(from.begin(), from.begin() + count, to.begin());
  }

  template <typename Policy>
  std::optional<std::uint64_t> run_tail(Policy policy, const TransportationProblem& p, Potential scale,
                                        EpsilonGuard& guard, Potential price_limit, const Vector<Potential>& base_d,
                                        Vector<Quantity>& left_d, Vector<Quantity>& unsold_d,
                                        Vector<Potential>& quote_d, Vector<Quantity>& flow_d,
                                        Vector<Potential>& lot_price_d, const Vector<Index>& held_d, Index held_count,
                                        Vector<ShortList>& lists_d) {
    changed_flow.resize(held_count);
    changed_price.resize(held_count);
    th::gather(policy, held_d.begin(), held_d.begin() + held_count, flow_d.begin(), changed_flow.begin());
    th::gather(policy, held_d.begin(), held_d.begin() + held_count, lot_price_d.begin(), changed_price.begin());
    download(held_d, held_count, lot_arcs);
    download(changed_flow, held_count, flow);
    download(changed_price, held_count, lot_price);
    download(base_d, base_d.size(), base);
    download(left_d, left_d.size(), left);
    download(unsold_d, unsold_d.size(), unsold);
    download(quote_d, quote_d.size(), quote);
    download(lists_d, lists_d.size(), short_lists.lists);
    LotMap lots;
    lots.at.reserve(2 * held_count + 1024);
    for (Index k = 0; k < held_count; ++k) lots.at[lot_arcs[k]] = {flow[k], lot_price[k]};

    SequentialTail tail{p.row_begin.data(),
                        p.arc_sink.data(),
                        Values{p.arc_cost.data(), scale},
                        p.demand.data(),
                        base.data(),
                        guard,
                        price_limit,
                        p.source_count(),
                        p.sink_count(),
                        left.data(),
                        lots,
                        unsold.data(),
                        quote.data(),
                        short_lists,
                        {}};
    const std::optional<std::uint64_t> bids = tail.run();
    if (!bids) return bids;

    lot_arcs.clear();
    flow.clear();
    lot_price.clear();
    for (const auto& [e, lot] : lots.at) {
      lot_arcs.push_back(e);
      flow.push_back(lot.flow);
      lot_price.push_back(lot.price);
    }
    changed.assign(lot_arcs.begin(), lot_arcs.end());
    changed_flow.assign(flow.begin(), flow.end());
    changed_price.assign(lot_price.begin(), lot_price.end());
    th::scatter(policy, changed_flow.begin(), changed_flow.end(), changed.begin(), flow_d.begin());
    th::scatter(policy, changed_price.begin(), changed_price.end(), changed.begin(), lot_price_d.begin());
    th::copy(left.begin(), left.end(), left_d.begin());
    th::copy(unsold.begin(), unsold.end(), unsold_d.begin());
    th::copy(quote.begin(), quote.end(), quote_d.begin());
    th::copy(short_lists.lists.begin(), short_lists.lists.end(), lists_d.begin());
    return bids;
  }
};

// Where the problem's arrays are on the system: uploaded to the GPU; on the CPU system, whose memory is the
// host's, the caller's own arrays read in place (copying the costs and sinks of a dense n = 8,192 assignment
// had been 0.42 s of the CPU build's 2.1 s solve).
enum class ProblemMemory { uploaded, in_place };
template <typename T, template <typename...> class Vector, ProblemMemory kMemory>
class ProblemArray {
 public:
  explicit ProblemArray(const std::vector<T>& host) : size_(host.size()) {
    if constexpr (kMemory == ProblemMemory::in_place) {
      data_ = host.data();
    } else {
      copy_.assign(host.begin(), host.end());
      data_ = th::raw_pointer_cast(copy_.data());
    }
  }
  const T* data() const { return data_; }
  const T* begin() const { return data_; }
  const T* end() const { return data_ + size_; }

 private:
  Vector<T> copy_;  // empty when in place
  const T* data_ = nullptr;
  std::size_t size_;
};

// Runs the auction with Thrust execution policy `policy` on vectors `Vector` of that system. `scale` is
// n + 1 and `widest` the largest |cost| (the launcher's check found both); the caller has checked that the
// scaled costs fit (as run_scaled_auction does).
// The sequential tails run on the host (HostTail), which runs sequential work far faster than one GPU
// thread, on a copy of the lots and node arrays; on the OpenMP system too, so that both run one code path.
// `Rows` runs the row and lot reductions (RowsOnOneThread, or the GPU's warp per row).
template <typename Policy, template <typename...> class Vector, typename Rows, ProblemMemory kMemory>
void run_parallel_auction(Policy policy, const TransportationProblem& p, Potential scale, Cost widest,
                          AuctionOutput& out) {
  // Host clock for the statistics' breakdown: `lap` adds the time since the last lap to one part.
  auto lap_start = std::chrono::steady_clock::now();
  const auto lap = [&](double& part) {
    const auto now = std::chrono::steady_clock::now();
    part += std::chrono::duration<double, std::milli>(now - lap_start).count();
    lap_start = now;
  };
  const std::uint32_t sources = p.source_count(), sinks = p.sink_count();
  const Index arcs = p.arc_count();
  auto ptr = [](auto& v) { return th::raw_pointer_cast(v.data()); };  // vectors and ProblemArrays
  const th::counting_iterator<std::uint32_t> source_ids(0), sink_ids(0);

  // The problem on the system: its rows only. Nothing reads a column; what a sink needs is its lots.
  const ProblemArray<Quantity, Vector, kMemory> supply(p.supply), demand(p.demand);
  const ProblemArray<Index, Vector, kMemory> row_begin(p.row_begin);
  const ProblemArray<std::uint32_t, Vector, kMemory> arc_sink(p.arc_sink);
  const ProblemArray<Cost, Vector, kMemory> cost(p.arc_cost);
  const Values value{ptr(cost), scale};
  const SourceOf source_of{ptr(row_begin), sources};
  const Potential largest = widest * scale;
  const Potential price_limit = 4 * (static_cast<Potential>(sources) + sinks + 1) * (largest + 1);

  // The auction's state.
  Vector<Quantity> flow(arcs, 0), left(sources), unsold(sinks), taken(sources, 0);
  Vector<Potential> lot_price(arcs, 0), base(sinks, 0), quote(sinks, 0), bid_price(sources, 0);
  Vector<Index> bid_arc(sources, 0);
  Vector<std::uint32_t> bid_sink(sources), bidders(sources), bidder_keys(sources);
  Vector<Potential> price_keys(sources);
  // Arrays of lots have room for every lot there can be: each holds a unit at least (lot_room).
  const Index room = lot_room(p);
  Vector<Index> bid_begin(sinks + 1), lots(room), lot_begin(sinks + 1), source_lot_begin(sources + 1);
  Vector<Potential> lot_keys(room);
  Vector<std::uint32_t> lot_sinks(room), touched(sinks), holders(room), holder_keys(room);
  Vector<Quantity> lost(room), returned(room);
  Vector<Index> held(room), held_next(room);  // the arcs that carry flow, in no particular order
  Vector<std::uint8_t> on_lot(sources);
  Index held_count = 0;
  // The lots, `held`, copied to `lots` in arc order (so by source too, rows being runs of arcs), with each
  // source's range in source_lot_begin; then regrouped by sink, with each sink's range in lot_begin.
  const auto lots_by_arc = [&] {
    th::copy(policy, held.begin(), held.begin() + held_count, lots.begin());
    th::sort(policy, lots.begin(), lots.begin() + held_count);
    th::lower_bound(policy, lots.begin(), lots.begin() + held_count, row_begin.begin(), row_begin.end(),
                    source_lot_begin.begin());
  };
  const auto lots_by_sink = [&] {
    th::transform(policy, lots.begin(), lots.begin() + held_count, lot_sinks.begin(),
                  Gather<std::uint32_t, Index>{ptr(arc_sink)});
    th::stable_sort_by_key(policy, lot_sinks.begin(), lot_sinks.begin() + held_count, lots.begin());
    th::lower_bound(policy, lot_sinks.begin(), lot_sinks.begin() + held_count, sink_ids, sink_ids + sinks + 1,
                    lot_begin.begin());
  };
  // The short lists of the rows long enough for one (ListSlots), used by the tails always and by the rounds
  // where most rows are long (ListedBid).
  const ListSlots slots(p);
  Vector<std::uint32_t> list_slot(slots.slot.begin(), slots.slot.end()), answered_by_list(sources, 0);
  Vector<ShortList> lists(slots.lists);
  const bool lists_in_rounds = 2 * Index{slots.lists} >= sources;
  HostTail<Vector> host;
  host.short_lists.slot = slots.slot.data();
  // Below this many bidders a phase finishes sequentially (SequentialTail). Where the rounds hand over is
  // a trade of a round's fixed cost (0.7 to 0.9 ms on the H100 at any size) against a tail bid's row scan:
  // on the H100, sources / 256 (at least 4) made n = 8,192 faster in two runs (2.94 against 3.85 s, 3.28
  // against 3.51 s) but n = 4,096 slower (1.22 against 0.92 s, 1.24 against 1.01 s) and the 50k x 5k market
  // batch slower (23 to 25 s against 17 to 18 s); sources / 1,024 was slower everywhere; sources / 16 on the
  // market batch no faster (20.1 s against 19.1 s).
  const Index tail_bidders = std::max<Index>(16, sources / 64);
  Vector<int> flag(1, 0);
  out.statistics.device_bytes = parallel_working_set(p);
  flag[0] = 0;  // a copy to the system, which waits for the uploads
  lap(out.statistics.setup_ms);

  const Potential widest_epsilon = std::max<Potential>(1, largest / 4);
  EpsilonGuard guard{0, widest_epsilon, 64 * (static_cast<std::uint64_t>(sources) + sinks)};
  for (;;) {
    ++out.statistics.phases;
    // A phase keeps the lots that are still within its epsilon, repriced to their sinks' quotes; the rest of
    // each sink is unsold at its quote, and the rest of each source's supply is left to bid.
    Rows::run(policy, nullptr, sources,
              BestProfit{ptr(row_begin), ptr(arc_sink), value, ptr(quote), ptr(price_keys), ptr(lists),
                         ptr(list_slot)});
    if (out.statistics.phases == 1) {
      // The sources' best values at the opening prices (zero) are what BestProfit has just found.
      const ValueRange range =
          th::transform_reduce(policy, source_ids, source_ids + sources, BestOfRow{ptr(price_keys), ptr(supply)},
                               ValueRange{kHighest, kNone}, Widen{});
      const Potential spread = range.low <= range.high ? range.high - range.low : 0;
      guard.start_phase(std::clamp<Potential>(spread / 16, 1, widest_epsilon));
    }
    th::for_each(policy, held.begin(), held.begin() + held_count,
                 KeepWhatFits{source_of, ptr(arc_sink), value, ptr(quote), ptr(price_keys), guard.epsilon,
                              ptr(flow), ptr(lot_price)});
    held_count = static_cast<Index>(
        th::copy_if(policy, held.begin(), held.begin() + held_count, held_next.begin(), CarriesFlow{ptr(flow)}) -
        held_next.begin());
    held.swap(held_next);
    th::copy(policy, quote.begin(), quote.end(), base.begin());
    lots_by_arc();
    Rows::run(policy, nullptr, sources,
              CountLeft{ptr(source_lot_begin), ptr(lots), ptr(supply), ptr(flow), ptr(left)});
    lots_by_sink();
    Rows::run(policy, nullptr, sinks,
              SinkFromLots{ptr(lot_begin), ptr(lots), ptr(demand), ptr(flow), ptr(lot_price), ptr(base), ptr(unsold),
                           ptr(quote)});
    for (;;) {
      // The bidders of this round, in source order.
      const auto bidders_end =
          th::copy_if(policy, source_ids, source_ids + sources, bidders.begin(), HasUnitsLeft{ptr(left)});
      const Index active = static_cast<Index>(bidders_end - bidders.begin());
      if (active == 0) break;
      if (active <= tail_bidders) {
        lap(out.statistics.rounds_ms);
        const std::optional<std::uint64_t> tail_bids = host.run_tail(
            policy, p, scale, guard, price_limit, base, left, unsold, quote, flow, lot_price, held, held_count, lists);
        if (!tail_bids) {
          out.status = SolveStatus::infeasible;
          out.detail = "the parallel auction found no way to place some supply";
          return;
        }
        out.statistics.bids += *tail_bids;
        out.statistics.tail_bids += *tail_bids;
        out.statistics.tail_scans = host.short_lists.scans;
        // The tail's arcs, every lot it started from and every arc it wrote, are the list's new superset.
        held_count = static_cast<Index>(th::copy_if(policy, host.changed.begin(), host.changed.end(),
                                                    host.changed_flow.begin(), held.begin(), Positive{}) -
                                        held.begin());
        flag[0] = 0;
        lap(out.statistics.tail_ms);
        break;
      }
      ++out.statistics.rounds;
      out.statistics.bids += active;
      guard.spend(active);
      flag[0] = 0;
      const Bid bid{ptr(row_begin),  ptr(arc_sink), value,         ptr(quote), guard.epsilon, price_limit,
                    ptr(bid_price), ptr(bid_arc),  ptr(bid_sink), ptr(flag),  ptr(flow),     ptr(on_lot)};
      if (lists_in_rounds)
        Rows::run(policy, ptr(bidders), active, ListedBid{bid, ptr(lists), ptr(list_slot), ptr(answered_by_list)});
      else
        Rows::run(policy, ptr(bidders), active, bid);
      if (flag[0] != 0) {
        out.status = SolveStatus::infeasible;
        out.detail = "the parallel auction found no way to place some supply";
        return;
      }
      // Bids by (sink, price descending, source): two stable sorts of the bidders.
      th::transform(policy, bidders.begin(), bidders_end, price_keys.begin(),
                    Gather<Potential, std::uint32_t>{ptr(bid_price)});
      th::stable_sort_by_key(policy, price_keys.begin(), price_keys.begin() + active, bidders.begin(),
                             th::greater<Potential>());
      th::transform(policy, bidders.begin(), bidders_end, bidder_keys.begin(),
                    Gather<std::uint32_t, std::uint32_t>{ptr(bid_sink)});
      th::stable_sort_by_key(policy, bidder_keys.begin(), bidder_keys.begin() + active, bidders.begin());
      th::lower_bound(policy, bidder_keys.begin(), bidder_keys.begin() + active, sink_ids, sink_ids + sinks + 1,
                      bid_begin.begin());
      // The sinks that got bids, and their lots by (sink, price, arc). Only those sinks decide, so only their
      // lots are sorted: with few bidders left a round had sorted every lot three times over.
      const Index touched_count = static_cast<Index>(
          th::unique_copy(policy, bidder_keys.begin(), bidder_keys.begin() + active, touched.begin()) -
          touched.begin());
      // The lots of other sinks cannot change this round: they go straight to the next round's list.
      const auto [lots_end, untouched_end] =
          th::stable_partition_copy(policy, held.begin(), held.begin() + held_count, lots.begin(), held_next.begin(),
                                    SinkHasBids{ptr(bid_begin), ptr(arc_sink)});
      const Index lot_count = static_cast<Index>(lots_end - lots.begin());
      th::stable_sort(policy, lots.begin(), lots_end);
      th::transform(policy, lots.begin(), lots_end, lot_keys.begin(), Gather<Potential, Index>{ptr(lot_price)});
      th::stable_sort_by_key(policy, lot_keys.begin(), lot_keys.begin() + lot_count, lots.begin());
      th::transform(policy, lots.begin(), lots_end, lot_sinks.begin(), Gather<std::uint32_t, Index>{ptr(arc_sink)});
      th::stable_sort_by_key(policy, lot_sinks.begin(), lot_sinks.begin() + lot_count, lots.begin());
      th::lower_bound(policy, lot_sinks.begin(), lot_sinks.begin() + lot_count, sink_ids, sink_ids + sinks + 1,
                      lot_begin.begin());

      th::for_each(policy, touched.begin(), touched.begin() + touched_count,
                   Decide{ptr(bid_begin), ptr(bidders), ptr(bid_price), ptr(bid_arc), ptr(lot_begin), ptr(lots),
                          ptr(left), ptr(flow), ptr(lot_price), ptr(unsold), ptr(taken), ptr(lost)});
      // What the lots lost, summed by holder and given back.
      th::transform(policy, lots.begin(), lots_end, holders.begin(), source_of);
      th::sort_by_key(policy, holders.begin(), holders.begin() + lot_count, lost.begin());
      const Index holder_count =
          static_cast<Index>(th::reduce_by_key(policy, holders.begin(), holders.begin() + lot_count, lost.begin(),
                                               holder_keys.begin(), returned.begin())
                                 .first -
                             holder_keys.begin());
      th::for_each(policy, th::counting_iterator<Index>(0), th::counting_iterator<Index>(holder_count),
                   ReturnUnits{ptr(holder_keys), ptr(returned), ptr(left)});
      th::for_each(policy, touched.begin(), touched.begin() + touched_count,
                   Requote{ptr(bid_begin), ptr(bidders), ptr(taken), ptr(bid_arc), ptr(lot_begin), ptr(lots),
                           ptr(unsold), ptr(flow), ptr(lot_price), ptr(base), ptr(quote)});
      // The list of lots: of the touched sinks' lots, emptied ones leave; new winners' arcs join.
      const auto kept_end = th::copy_if(policy, lots.begin(), lots_end, untouched_end, CarriesFlow{ptr(flow)});
      const auto joined_end = th::copy_if(policy, bidders.begin(), bidders_end, bidder_keys.begin(),
                                          NewLot{ptr(taken), ptr(on_lot)});
      const auto held_end =
          th::transform(policy, bidder_keys.begin(), joined_end, kept_end, Gather<Index, std::uint32_t>{ptr(bid_arc)});
      held_count = static_cast<Index>(held_end - held_next.begin());
      held.swap(held_next);
    }
    if (guard.epsilon == 1) break;
    guard.next_phase();
  }
  out.statistics.epsilon_widenings = guard.widenings;
  out.statistics.round_scans = out.statistics.bids - out.statistics.tail_bids -
                               th::reduce(policy, answered_by_list.begin(), answered_by_list.end(), std::uint64_t{0});
  lap(out.statistics.rounds_ms);

  // Exact duals from the scaled prices.
  Vector<Potential> beta(sinks), alpha(sources, std::numeric_limits<Potential>::max());
  th::transform(policy, quote.begin(), quote.end(), beta.begin(), FloorDivide{scale});
  {
    // A sink that sells nothing has no price; one above every arc's bound leaves its arcs' constraints slack.
    std::vector<Potential> b(sinks);
    th::copy(beta.begin(), beta.end(), b.begin());
    Potential highest = 0;
    for (std::uint32_t j = 0; j < sinks; ++j)
      if (p.demand[j] > 0) highest = std::max(highest, b[j]);
    for (std::uint32_t j = 0; j < sinks; ++j)
      if (p.demand[j] == 0) b[j] = highest + 2 * widest + 1;
    th::copy(b.begin(), b.end(), beta.begin());
  }
  // A sink's constraints are its lots: grouped by sink once, since the passes move no flow. lots_by_arc's
  // order is also the solution's (ascending arcs), downloaded below.
  lots_by_arc();
  Vector<Index> solution_arcs(lots.begin(), lots.begin() + held_count);
  Vector<Quantity> solution_units(held_count);
  th::gather(policy, solution_arcs.begin(), solution_arcs.end(), flow.begin(), solution_units.begin());
  lots_by_sink();
  const std::uint64_t pass_limit = 4 * (static_cast<std::uint64_t>(sources) + sinks) + 8;
  bool settled = false;
  for (std::uint64_t pass = 0; pass < pass_limit && !settled; ++pass) {
    ++out.statistics.potential_passes;
    flag[0] = 0;
    Rows::run(policy, nullptr, sources,
              LowerAlpha{ptr(row_begin), ptr(arc_sink), ptr(cost), ptr(beta), ptr(alpha), ptr(flag)});
    Rows::run(policy, nullptr, sinks,
              LowerBeta{ptr(lot_begin), ptr(lots), source_of, ptr(cost), ptr(alpha), ptr(beta), ptr(flag)});
    settled = flag[0] == 0 && pass > 0;
  }
  if (!settled) {
    out.status = SolveStatus::out_of_range;
    out.detail = "the exact potentials did not settle";
    return;
  }
  // Only the lots come back: the flows of every arc were 8 bytes per arc to download and scan.
  std::vector<Index> host_arcs(held_count);
  std::vector<Quantity> host_units(held_count);
  th::copy(solution_arcs.begin(), solution_arcs.end(), host_arcs.begin());
  th::copy(solution_units.begin(), solution_units.end(), host_units.begin());
  out.flows.clear();
  out.flows.reserve(held_count);
  for (Index k = 0; k < held_count; ++k) out.flows.push_back({host_arcs[k], host_units[k]});
  out.alpha.resize(sources);
  out.beta.resize(sinks);
  th::copy(alpha.begin(), alpha.end(), out.alpha.begin());
  th::copy(beta.begin(), beta.end(), out.beta.begin());
  lap(out.statistics.duals_ms);
  out.status = SolveStatus::optimal;
}

}  // namespace ewx::kernels::detail
