// The parallel auction's row reductions (kernels/parallel_auction_kernel.cuh) split across lanes. On the GPU
// a warp of 32 lanes shares each row and combines its parts by shuffles; on the CPU one thread reads the
// whole row. The GPU and the CPU agree to the bit only if every reduction's answer is the same however the
// row is split and the parts merged. This checks that on the CPU, without a GPU: each reduction's parts for
// 2, 4, 8 and 32 lanes merged in the order the warp's shuffles merge them, and for 3 and 5 lanes merged left
// to right, against the whole row read by one thread. Rows are short, long and empty; values repeat, so
// that best and second best tie often; some sinks are closed. The reductions over a node's lots (a phase's
// counts, a sink's dual pass) are also checked against the same counts taken over every arc. And the short
// lists (ShortList): merged from any split of a row they are the whole row's, and as quotes rise a list
// that answers gives the whole row's best two, ties included; the rounds' bid from them (ListedBid) is
// Bid's, answered from a list or scanned across any number of lanes, and the lists it writes agree.
//
// Built with Thrust's OpenMP system in the kernels' own Thrust namespace, as parallel_auction_host.cpp is.
#include <doctest/doctest.h>

#include <algorithm>
#include <vector>

#include "kernels/parallel_auction_kernel.cuh"
#include "matcher/market_generator.hpp"

using namespace ewx;
using namespace ewx::kernels::detail;

namespace {

// One row's part per lane, merged as reduce_rows (parallel_auction.cu) merges them: lane l takes lane
// l + offset's part (its own where that lane is past the warp) for offset = lanes / 2, ..., 1. Lane 0's is
// the row's answer.
template <typename R>
typename R::Part warp_fold(const R& reduction, std::uint32_t i, unsigned lanes) {
  std::vector<typename R::Part> parts;
  for (unsigned lane = 0; lane < lanes; ++lane) parts.push_back(reduction.part(i, lane, lanes));
  for (unsigned offset = lanes / 2; offset > 0; offset /= 2) {
    std::vector<typename R::Part> next = parts;
    for (unsigned lane = 0; lane < lanes; ++lane)
      next[lane] = R::merge(parts[lane], lane + offset < lanes ? parts[lane + offset] : parts[lane]);
    parts = next;
  }
  return parts[0];
}
template <typename R>
typename R::Part left_fold(const R& reduction, std::uint32_t i, unsigned lanes) {
  typename R::Part whole = reduction.part(i, 0, lanes);
  for (unsigned lane = 1; lane < lanes; ++lane) whole = R::merge(whole, reduction.part(i, lane, lanes));
  return whole;
}

// Runs `make(outputs)`'s reduction over every row, whole and split every way, and checks the outputs match.
template <typename Output, typename Make>
void check_every_split(std::uint32_t rows, std::size_t output_size, Make make) {
  std::vector<Output> whole(output_size, Output{});
  const auto reduction = make(whole.data());
  for (std::uint32_t i = 0; i < rows; ++i) reduction.finish(i, reduction.part(i, 0, 1));
  for (const unsigned lanes : {2u, 3u, 4u, 5u, 8u, 32u}) {
    CAPTURE(lanes);
    std::vector<Output> split(output_size, Output{});
    const auto split_reduction = make(split.data());
    const bool warp = (lanes & (lanes - 1)) == 0;
    for (std::uint32_t i = 0; i < rows; ++i)
      split_reduction.finish(i, warp ? warp_fold(split_reduction, i, lanes) : left_fold(split_reduction, i, lanes));
    CHECK(split == whole);
  }
}

struct Rows {
  std::vector<Index> row_begin{0};
  std::vector<std::uint32_t> arc_sink;
  std::vector<Cost> cost;  // values are -cost (scale 1)
  std::vector<Potential> quote;
  std::vector<Quantity> flow, supply;
};

Rows random_rows(SeededRandom& random, std::uint32_t rows, std::uint32_t sinks) {
  Rows r;
  for (std::uint32_t j = 0; j < sinks; ++j)
    r.quote.push_back(random.between(0, 9) == 0 ? kClosed : static_cast<Potential>(random.between(0, 4)));
  for (std::uint32_t i = 0; i < rows; ++i) {
    const int length = random.between(0, 4) == 0 ? 0 : random.between(1, random.between(0, 1) ? 6 : 150);
    for (int k = 0; k < length; ++k) {
      r.arc_sink.push_back(static_cast<std::uint32_t>(random.between(0, static_cast<int>(sinks) - 1)));
      r.cost.push_back(-random.between(0, 5));  // few values: ties for best and second best are common
      r.flow.push_back(random.between(0, 2) == 0 ? random.between(1, 9) : 0);
    }
    r.row_begin.push_back(r.arc_sink.size());
    r.supply.push_back(100);
  }
  return r;
}

}  // namespace

TEST_CASE("row reductions: every split of a row across lanes gives the whole row's answer") {
  SeededRandom random(2026);
  for (int round = 0; round < 20; ++round) {
    CAPTURE(round);
    const std::uint32_t rows = 60, sinks = 40;
    Rows r = random_rows(random, rows, sinks);

    // The bid: best arc, ties to the lower arc, and the price from the second best.
    std::vector<Index> bid_arc(rows, 0);
    std::vector<std::uint32_t> bid_sink(rows, 0);
    std::vector<std::uint8_t> on_lot(rows, 0);
    int stuck_whole = 0;
    check_every_split<Potential>(rows, rows, [&](Potential* bid_price) {
      return Bid{r.row_begin.data(), r.arc_sink.data(), Values{r.cost.data(), 1}, r.quote.data(), 1, kClosed / 2,
                 bid_price,          bid_arc.data(),   bid_sink.data(), &stuck_whole, r.flow.data(), on_lot.data()};
    });
    // The arcs the bids chose, compared through the bid's own finish: a split that picked another arc of the
    // same profit would write another bid_arc.
    for (const unsigned lanes : {2u, 8u, 32u}) {
      std::vector<Potential> price_whole(rows, 0), price_split(rows, 0);
      std::vector<Index> arc_whole(rows, 0), arc_split(rows, 0);
      int stuck = 0;
      const Bid whole{r.row_begin.data(), r.arc_sink.data(), Values{r.cost.data(), 1}, r.quote.data(), 1, kClosed / 2,
                      price_whole.data(), arc_whole.data(),  bid_sink.data(), &stuck,  r.flow.data(), on_lot.data()};
      const Bid split{r.row_begin.data(), r.arc_sink.data(), Values{r.cost.data(), 1}, r.quote.data(), 1, kClosed / 2,
                      price_split.data(), arc_split.data(),  bid_sink.data(), &stuck,  r.flow.data(), on_lot.data()};
      for (std::uint32_t i = 0; i < rows; ++i) {
        whole.finish(i, whole.part(i, 0, 1));
        split.finish(i, warp_fold(split, i, lanes));
      }
      CHECK(arc_split == arc_whole);
      CHECK(price_split == price_whole);
    }
    CHECK(stuck_whole == 1);  // empty rows, or rows whose every sink is closed, have nowhere to bid

    const std::vector<std::uint32_t> unlisted(rows, kUnlisted);
    check_every_split<Potential>(rows, rows, [&](Potential* best) {
      return BestProfit{r.row_begin.data(), r.arc_sink.data(), Values{r.cost.data(), 1}, r.quote.data(), best,
                        nullptr,            unlisted.data()};
    });
    std::vector<Potential> beta(sinks);
    for (Potential& b : beta) b = random.between(-5, 5);
    int changed = 0;
    check_every_split<Potential>(rows, rows, [&](Potential* alpha) {
      for (std::uint32_t i = 0; i < rows; ++i) alpha[i] = 3;
      return LowerAlpha{r.row_begin.data(), r.arc_sink.data(), r.cost.data(), beta.data(), alpha, &changed};
    });
    CHECK(changed == 1);
  }
}

namespace {

// The arcs with flow, grouped as run_parallel_auction groups its lots: by arc (so by source) and by sink.
struct LotGroups {
  std::vector<Index> by_arc, source_lot_begin, by_sink, lot_begin;
};
LotGroups group_lots(const Rows& r, std::uint32_t sinks) {
  LotGroups g;
  for (Index e = 0; e < r.flow.size(); ++e)
    if (r.flow[e] > 0) g.by_arc.push_back(e);
  for (const Index begin : r.row_begin)
    g.source_lot_begin.push_back(std::lower_bound(g.by_arc.begin(), g.by_arc.end(), begin) - g.by_arc.begin());
  g.by_sink = g.by_arc;
  std::stable_sort(g.by_sink.begin(), g.by_sink.end(),
                   [&](Index a, Index b) { return r.arc_sink[a] < r.arc_sink[b]; });
  for (std::uint32_t j = 0; j <= sinks; ++j)
    g.lot_begin.push_back(std::partition_point(g.by_sink.begin(), g.by_sink.end(),
                                               [&](Index e) { return r.arc_sink[e] < j; }) -
                          g.by_sink.begin());
  return g;
}

}  // namespace

TEST_CASE("lot reductions: a phase's counts from the lots equal those over every arc, however split") {
  SeededRandom random(1207);
  for (int round = 0; round < 20; ++round) {
    CAPTURE(round);
    const std::uint32_t rows = 60, sinks = 40;
    Rows r = random_rows(random, rows, sinks);
    for (Index e = 0; e < r.flow.size(); ++e)  // every eighth sink has sold nothing
      if (r.arc_sink[e] % 8 == 0) r.flow[e] = 0;
    const LotGroups g = group_lots(r, sinks);
    const std::uint32_t sources = rows;

    // The source of every arc, by binary search over the rows (empty rows included).
    const SourceOf source_of{r.row_begin.data(), sources};
    for (std::uint32_t i = 0; i < rows; ++i)
      for (Index e = r.row_begin[i]; e < r.row_begin[i + 1]; ++e) REQUIRE(source_of(e) == i);

    // Units left: the lots of a source against its whole row.
    std::vector<Quantity> left_by_row(r.supply);
    for (std::uint32_t i = 0; i < rows; ++i)
      for (Index e = r.row_begin[i]; e < r.row_begin[i + 1]; ++e) left_by_row[i] -= r.flow[e];
    check_every_split<Quantity>(rows, rows, [&](Quantity* left) {
      return CountLeft{g.source_lot_begin.data(), g.by_arc.data(), r.supply.data(), r.flow.data(), left};
    });
    std::vector<Quantity> left(rows);
    const CountLeft by_lots{g.source_lot_begin.data(), g.by_arc.data(), r.supply.data(), r.flow.data(), left.data()};
    for (std::uint32_t i = 0; i < rows; ++i) by_lots.finish(i, by_lots.part(i, 0, 1));
    CHECK(left == left_by_row);

    // Units unsold and quotes: the lots of a sink against every arc into it. Some sinks sell nothing, some
    // are sold out (their quote is their cheapest lot's), the rest quote their base price.
    std::vector<Quantity> sold(sinks, 0), demand(sinks);
    std::vector<Potential> cheapest(sinks, kClosed), base(sinks), lot_price(r.flow.size());
    for (Potential& price : lot_price) price = random.between(0, 6);
    for (Index e = 0; e < r.flow.size(); ++e) {
      sold[r.arc_sink[e]] += r.flow[e];
      if (r.flow[e] > 0) cheapest[r.arc_sink[e]] = std::min(cheapest[r.arc_sink[e]], lot_price[e]);
    }
    for (std::uint32_t j = 0; j < sinks; ++j) {
      const bool closed_sink = sold[j] == 0 && (j % 16 == 0 || random.between(0, 2) == 0);
      const bool sells_out = random.between(0, 1) == 0;
      demand[j] = closed_sink ? 0 : sells_out ? sold[j] : sold[j] + random.between(1, 5);
      base[j] = random.between(0, 9);
    }
    std::vector<Quantity> unsold(sinks);
    std::vector<Potential> quote(sinks);
    const SinkFromLots sink_counts{g.lot_begin.data(), g.by_sink.data(), demand.data(), r.flow.data(),
                                   lot_price.data(), base.data(),        unsold.data(), quote.data()};
    for (std::uint32_t j = 0; j < sinks; ++j) sink_counts.finish(j, sink_counts.part(j, 0, 1));
    int sold_out = 0, closed = 0;
    for (std::uint32_t j = 0; j < sinks; ++j) {
      CAPTURE(j);
      CHECK(unsold[j] == demand[j] - sold[j]);
      const Potential expected = demand[j] == 0 ? kClosed : unsold[j] > 0 ? base[j] : cheapest[j];
      CHECK(quote[j] == expected);
      sold_out += demand[j] > 0 && unsold[j] == 0;
      closed += demand[j] == 0;
    }
    CHECK(sold_out > 0);
    CHECK(closed > 0);
    // Both outputs of a split must match the whole: compared through quote, then unsold, split by split.
    check_every_split<Potential>(sinks, sinks, [&](Potential* split_quote) {
      return SinkFromLots{g.lot_begin.data(), g.by_sink.data(), demand.data(), r.flow.data(),
                          lot_price.data(), base.data(),        unsold.data(), split_quote};
    });
    check_every_split<Quantity>(sinks, sinks, [&](Quantity* split_unsold) {
      return SinkFromLots{g.lot_begin.data(), g.by_sink.data(), demand.data(), r.flow.data(),
                          lot_price.data(), base.data(),        split_unsold, quote.data()};
    });

    // A sink's dual pass over its lots: beta_j lowered to alpha_i - c_e over the arcs with flow.
    std::vector<Potential> alpha(rows);
    for (Potential& a : alpha) a = random.between(-5, 5);
    std::vector<Potential> expected_beta(sinks, 4);
    for (std::uint32_t i = 0; i < rows; ++i)
      for (Index e = r.row_begin[i]; e < r.row_begin[i + 1]; ++e)
        if (r.flow[e] > 0) expected_beta[r.arc_sink[e]] = std::min(expected_beta[r.arc_sink[e]], alpha[i] - r.cost[e]);
    int changed = 0;
    check_every_split<Potential>(sinks, sinks, [&](Potential* beta) {
      for (std::uint32_t j = 0; j < sinks; ++j) beta[j] = 4;
      return LowerBeta{g.lot_begin.data(), g.by_sink.data(), source_of, r.cost.data(), alpha.data(), beta, &changed};
    });
    std::vector<Potential> beta(sinks, 4);
    const LowerBeta lower_beta{g.lot_begin.data(), g.by_sink.data(), source_of, r.cost.data(), alpha.data(),
                               beta.data(),        &changed};
    for (std::uint32_t j = 0; j < sinks; ++j) lower_beta.finish(j, lower_beta.part(j, 0, 1));
    CHECK(beta == expected_beta);
    CHECK(changed == 1);
  }
}

namespace {

bool same_best_two(const BestTwo& a, const BestTwo& b) {
  return a.best == b.best && a.second == b.second && (a.best == kNone || a.arc == b.arc);
}
bool same_list(const ShortList& a, const ShortList& b) {
  if (a.count != b.count || a.bound != b.bound) return false;
  for (unsigned k = 0; k < a.count; ++k)
    if (a.entry[k].profit != b.entry[k].profit || a.entry[k].arc != b.entry[k].arc) return false;
  return true;
}

}  // namespace

TEST_CASE("short lists: a tail bid answered from its list is the whole row's as quotes rise, however split") {
  SeededRandom random(811);
  int answered = 0, rescanned = 0, answered_on_ties = 0;
  for (int round = 0; round < 20; ++round) {
    CAPTURE(round);
    const std::uint32_t rows = 60, sinks = 40;
    Rows r = random_rows(random, rows, sinks);
    const Values value{r.cost.data(), 1};
    const auto whole_row = [&](std::uint32_t i) {
      return best_two(r.row_begin.data(), r.arc_sink.data(), value, r.quote.data(), i, 0, 1);
    };
    std::vector<ShortList> lists;
    for (std::uint32_t i = 0; i < rows; ++i) {
      CAPTURE(i);
      const Index first = r.row_begin[i], end = r.row_begin[i + 1];
      lists.push_back(list_over(r.arc_sink.data(), value, r.quote.data(), first, end, 1));
      CHECK(same_best_two(lists.back().best_two(), whole_row(i)));
      // The row in contiguous pieces, as the tail's cores scan it, merged in either order.
      for (const Index pieces : {2, 3, 5, 7}) {
        ShortList forward, backward;
        for (Index k = 0; k < pieces; ++k) {
          const auto piece = [&](Index p) {
            return list_over(r.arc_sink.data(), value, r.quote.data(), first + (end - first) * p / pieces,
                             first + (end - first) * (p + 1) / pieces, 1);
          };
          forward = ShortList::merge(forward, piece(k));
          backward = ShortList::merge(piece(pieces - 1 - k), backward);
        }
        CHECK(same_list(forward, lists.back()));
        CHECK(same_list(backward, lists.back()));
      }
    }
    // Quotes rise, as in a solve; a list that answers must give the whole row's best two, ties included.
    for (int step = 0; step < 40; ++step) {
      for (int k = 0; k < 6; ++k) {
        Potential& q = r.quote[static_cast<std::size_t>(random.between(0, static_cast<int>(sinks) - 1))];
        if (q != kClosed) q += random.between(0, 3);
      }
      for (std::uint32_t i = 0; i < rows; ++i) {
        CAPTURE(i);
        BestTwo two;
        if (lists[i].answers(r.arc_sink.data(), value, r.quote.data(), two)) {
          ++answered;
          answered_on_ties += two.best != kNone && two.best == two.second;
          CHECK(same_best_two(two, whole_row(i)));
        } else {
          ++rescanned;
          lists[i] = list_over(r.arc_sink.data(), value, r.quote.data(), r.row_begin[i], r.row_begin[i + 1], 1);
        }
      }
    }
  }
  INFO("answered " << answered << ", rescanned " << rescanned << ", on ties " << answered_on_ties);
  CHECK(answered > 1000);
  CHECK(rescanned > 100);
  CHECK(answered_on_ties > 100);
}

TEST_CASE("short lists in the rounds: ListedBid bids as Bid does, from its list or a scan split across lanes, and a "
          "phase's best profits from them are the rows'") {
  SeededRandom random(4242);
  int answered = 0, scanned = 0, best_answered = 0, best_scans = 0;
  for (int round = 0; round < 20; ++round) {
    CAPTURE(round);
    const std::uint32_t rows = 60, sinks = 40;
    Rows r = random_rows(random, rows, sinks);
    const Values value{r.cost.data(), 1};
    // Every other row has a list; the rest are scanned each time, as rows too short for one are.
    std::vector<std::uint32_t> slot(rows, kUnlisted);
    std::uint32_t slots = 0;
    for (std::uint32_t i = 0; i < rows; i += 2) slot[i] = slots++;
    struct Bids {
      std::vector<Potential> price;
      std::vector<Index> arc;
      std::vector<std::uint32_t> sink;
      std::vector<std::uint8_t> on_lot;
      int stuck = 0;
      explicit Bids(std::uint32_t rows) : price(rows, 0), arc(rows, 0), sink(rows, 0), on_lot(rows, 0) {}
      Bid bid(const Rows& r, Values value) {
        return Bid{r.row_begin.data(), r.arc_sink.data(), value,       r.quote.data(), 1,
                   kClosed / 2,        price.data(),      arc.data(),  sink.data(),    &stuck,
                   r.flow.data(),      on_lot.data()};
      }
    };
    std::vector<ShortList> lists(slots);
    std::vector<std::uint32_t> answers(rows, 0);
    for (int step = 0; step < 30; ++step) {
      // The oracle: Bid over every whole row.
      Bids expected(rows);
      const Bid whole = expected.bid(r, value);
      for (std::uint32_t i = 0; i < rows; ++i) whole.finish(i, whole.part(i, 0, 1));
      // A phase's start takes each source's best profit from its list, as the last step left it, where that
      // is exact (BestProfit).
      std::vector<Potential> best_scanned(rows), best_listed(rows);
      const std::vector<std::uint32_t> unlisted(rows, kUnlisted);
      const BestProfit scan{r.row_begin.data(), r.arc_sink.data(), value,          r.quote.data(),
                            best_scanned.data(), nullptr,         unlisted.data()};
      const BestProfit from_lists{r.row_begin.data(), r.arc_sink.data(), value,      r.quote.data(),
                                  best_listed.data(), lists.data(),      slot.data()};
      for (std::uint32_t i = 0; i < rows; ++i) {
        scan.finish(i, scan.part(i, 0, 1));
        if (from_lists.answered(i, true)) {
          ++best_answered;
        } else {
          ++best_scans;
          from_lists.finish(i, from_lists.part(i, 0, 1));
        }
      }
      CHECK(best_listed == best_scanned);
      // ListedBid with the row split over 1, 2, 8 and 32 lanes merged as a warp merges them, and over 3 and
      // 5 lanes merged left to right: each list it writes is the one-lane list, and every bid is Bid's.
      std::vector<ShortList> one_lane;
      for (const unsigned lanes : {1u, 2u, 3u, 5u, 8u, 32u}) {
        CAPTURE(lanes);
        Bids got(rows);
        std::vector<ShortList> split = lists;
        const ListedBid listed{got.bid(r, value), split.data(), slot.data(), answers.data()};
        for (std::uint32_t i = 0; i < rows; ++i) {
          if (listed.answered(i, true)) {
            ++answered;
            continue;
          }
          ++scanned;
          const bool warp = (lanes & (lanes - 1)) == 0;
          listed.finish(i, warp ? warp_fold(listed, i, lanes) : left_fold(listed, i, lanes));
        }
        CHECK(got.price == expected.price);
        CHECK(got.arc == expected.arc);
        CHECK(got.on_lot == expected.on_lot);
        CHECK(got.stuck == expected.stuck);
        if (lanes == 1) {
          one_lane = split;
        } else {
          for (std::uint32_t k = 0; k < slots; ++k) CHECK(same_list(split[k], one_lane[k]));
        }
      }
      lists = one_lane;
      // Quotes rise, as in a solve.
      for (int k = 0; k < 6; ++k) {
        Potential& q = r.quote[static_cast<std::size_t>(random.between(0, static_cast<int>(sinks) - 1))];
        if (q != kClosed) q += random.between(0, 3);
      }
    }
  }
  INFO("bids answered " << answered << ", scanned " << scanned << "; best profits answered " << best_answered
                         << ", scanned " << best_scans);
  CHECK(answered > 5000);
  CHECK(best_answered > 1000);
  CHECK(best_scans > 1000);
  CHECK(scanned > 5000);
}
