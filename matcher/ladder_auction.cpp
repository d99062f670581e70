// The epsilon-scaling auction on the condensed network's ladders.
//
// Why. The bipartite auction (scaled_auction.cpp) spends its time finding each bidder's best two offers: a
// scan of the bidder's row, about 770 arcs per bid on a 100k x 10k ewx-gen batch, 7.4 billion arcs read in
// all. But a row is not arbitrary. An order's partners in one cluster are a suffix of one ladder (the
// offers of its class there that start early enough and are green enough, by availability end, see
// condensed_clearing.cpp), and its profit from offer j through that ladder is
//     (bid - transfer) * K  -  (ask_j * K + price_j),
// an order part minus an offer part. So the order's best two offers in the cluster are the two smallest
// offer parts in that suffix, whoever the order is. A long ladder keeps them in a segment tree of
// "two smallest" pairs, and a price change updates the offer's leaf in each ladder that holds it (about
// 1.5); a short one, most of them, is scanned, reading its offers' current parts. A bid asks one suffix
// query per entry (about 8 per order on that batch, against 770 arcs), and most queries are answered by
// the last answer for the same suffix, kept while its two offers' parts stand.
//
// The auction itself is the one of scaled_auction.cpp on the same transportation problem: sources are the
// orders and a slack "unsold" source (supply: all offered units plus one) that values every sink at zero;
// sinks are the offers and a slack "unfilled" sink (demand: all ordered units plus one) that every order
// values at zero. Offers' sold units are held in lots at the prices their holders bid; a bidder bids for
// its best sink the price that makes it as good as its second best, plus epsilon, taking units from lots
// priced below that (its own there it takes back whole, and a big lot it takes little of it raises, so that
// the bids do not grow with the units: see auction_lots.hpp). Values are scaled by K = nodes + 1 and the last phase
// runs at epsilon = 1, which makes the final allocation optimal (Bertsekas and Castanon 1989; Goldberg and Tarjan
// 1990). A finer phase keeps every lot still within its epsilon of the holder's best and re-places the rest. Two
// departures: offers that the unsold source holds entirely are lifted, not bid for (see open_sinks_ below), and the
// scaling stops as soon as a label-correcting search proves the allocation optimal (flow_is_optimal), which on 100k x
// 10k batches saves about half the phases and more than half the bids. And a budget of bids stops it where they would
// grow with the units, handing the batch to the simplex (bid_budget in auction_lots.hpp).
//
// Why every order bids for itself, though orders with the same entries share their choices (Shortlist).
// Such a group's members differ only by bid, so it could bid as one source whose unbought units are its
// lowest bidders' (the 2.16 million bids at 100k x 10k might become far fewer). Tried (2026-12-01): with a
// group's kept units outside every sink, the sources' supply no longer matches the sinks' demand, an offer
// can end the auction with units unsold at a raised price, and the last phase's allocation failed the
// proof on 1 of the first 9 tiny test markets. Balancing it needs a sink per member for the kept units,
// priced and shared with the unsold source: as many objects as orders again, and unmeasured.
//
// Which arcs. Through a ladder an order reaches every offer above its entry rung, including offers too dear
// to give a positive surplus, which the bipartite problem leaves out. Adding arcs worth zero or less
// changes neither the optimum nor the market's duals (their constraints follow from u, v >= 0), and no
// optimal allocation carries units on an arc worth less than zero: the units could go unfilled and unsold
// instead, for more. Arcs have no capacities; the order's and offer's units bound every flow.
//
// What it returns. The allocation, and each offer's buyer-optimal premium over its ask, exact: minus the
// shortest distance from the no-trade node to the offer in the residual network of the final allocation (the
// search that proves it optimal, see flow_is_optimal). Nothing of the auction's epsilon-optimal prices
// reaches a contract. The network here has one node per ladder position where condensed_clearing.cpp's has
// one per rung, but both carry the same transportation problem, every order reaching the same offers at the
// same transfer through uncapacitated arcs, so their optimal duals for orders and offers are the same set
// and the extremal one, the buyer-optimal prices, is the same.
#include "matcher/ladder_auction.hpp"

#include <algorithm>
#include <deque>
#include <functional>
#include <limits>
#include <stdexcept>
#include <unordered_map>

#include "matcher/auction_lots.hpp"
#include "matcher/residual_network.hpp"
#include "matcher/two_smallest.hpp"

namespace ewx::detail {
namespace {

// Far above any price or offer part (see the range check in run_ladder_auction), yet safe to subtract.
constexpr Potential kClosed = kNoKey;
constexpr Potential kNone = std::numeric_limits<Potential>::min();

struct Lot {
  Potential price;
  std::uint32_t holder;
  std::uint32_t entry;     // kNoId for the slack arcs (to "unfilled", from "unsold")
  std::uint32_t position;  // kNoId likewise
  Units units;
  bool operator>(const Lot& other) const {
    return price > other.price || (price == other.price && holder > other.holder);
  }
};

// A bidder's best sink and the profit of the best other one.
struct Choice {
  Potential best = kNone;
  Potential second = kNone;
  std::uint32_t sink = kNoId;
  std::uint32_t entry = kNoId;
  std::uint32_t position = kNoId;
};

class LadderAuction {
 public:
  LadderAuction(const LadderMarket& market, LadderAuctionStatistics& stats, Potential scale,
                std::uint32_t scanned_below, std::uint64_t most_bids)
      : market_(market),
        stats_(stats),
        scale_(scale),
        orders_(static_cast<std::uint32_t>(market.order_units.size())),
        offers_(static_cast<std::uint32_t>(market.offer_units.size())),
        scanned_below_(scanned_below),
        ladders_(market.ladder_begin, scanned_below),
        open_sinks_(std::vector<std::uint32_t>{0, offers_ + 1}),
        own_sinks_(std::vector<std::uint32_t>{0, offers_ + 1}),
        sink_stale_(offers_ + 1, 0),
        own_(offers_ + 1, 0),
        demand_(offers_ + 1),
        base_price_(offers_ + 1, 0),
        unsold_(offers_ + 1, 0),
        quoted_(offers_ + 1, kNone),
        lots_(offers_ + 1),
        supply_(orders_ + 1),
        units_left_(orders_ + 1, 0),
        queued_(orders_ + 1, 0),
        bid_budget_(most_bids > 0 ? most_bids
                                  : bid_budget(std::uint64_t{orders_} + offers_ + market.entries.size() +
                                               2 * market.position_offer.size())) {
    Units offered = 0, ordered = 0;
    for (std::uint32_t j = 0; j < offers_; ++j) offered += demand_[j] = market.offer_units[j];
    for (std::uint32_t i = 0; i < orders_; ++i) ordered += supply_[i] = market.order_units[i];
    demand_[unfilled()] = ordered + 1;
    supply_[unsold()] = offered + 1;
    position_begin_.assign(offers_ + 1, 0);
    for (const std::uint32_t j : market.position_offer) ++position_begin_[j + 1];
    for (std::uint32_t j = 0; j < offers_; ++j) position_begin_[j + 1] += position_begin_[j];
    positions_.resize(market.position_offer.size());
    std::vector<std::uint32_t> next(position_begin_.begin(), position_begin_.end() - 1);
    for (std::uint32_t p = 0; p < market.position_offer.size(); ++p) positions_[next[market.position_offer[p]]++] = p;
    group_orders();
  }

  // Numbers the groups of orders whose entries are the same, in order of their first member (Shortlist).
  void group_orders() {
    const auto same_entries = [&](std::uint32_t a, std::uint32_t b) {
      const std::uint32_t length = market_.entry_begin[a + 1] - market_.entry_begin[a];
      if (market_.entry_begin[b + 1] - market_.entry_begin[b] != length) return false;
      for (std::uint32_t k = 0; k < length; ++k) {
        const LadderMarket::Entry& x = market_.entries[market_.entry_begin[a] + k];
        const LadderMarket::Entry& y = market_.entries[market_.entry_begin[b] + k];
        if (x.ladder != y.ladder || x.first != y.first || x.transfer != y.transfer) return false;
      }
      return true;
    };
    std::unordered_map<std::uint64_t, std::vector<std::uint32_t>> members_by_hash;  // -> a member of each group
    group_of_.resize(orders_);
    std::vector<std::uint32_t> first_member;
    for (std::uint32_t i = 0; i < orders_; ++i) {
      std::uint64_t hash = 0x9e3779b97f4a7c15;
      for (std::uint32_t x = market_.entry_begin[i]; x < market_.entry_begin[i + 1]; ++x) {
        const LadderMarket::Entry& e = market_.entries[x];
        for (const std::uint64_t word :
             {std::uint64_t{e.ladder} << 32 | e.first, static_cast<std::uint64_t>(e.transfer)})
          hash = (hash ^ word) * 0x100000001b3 + (hash >> 29);
      }
      std::vector<std::uint32_t>& same_hash = members_by_hash[hash];
      const auto known = std::find_if(same_hash.begin(), same_hash.end(),
                                      [&](std::uint32_t group) { return same_entries(first_member[group], i); });
      if (known != same_hash.end()) {
        group_of_[i] = *known;
        continue;
      }
      group_of_[i] = static_cast<std::uint32_t>(first_member.size());
      same_hash.push_back(group_of_[i]);
      first_member.push_back(i);
    }
    shortlists_.assign(first_member.size(), Shortlist{});
    group_entries_.resize(first_member.size());
    for (std::size_t g = 0; g < first_member.size(); ++g) group_entries_[g] = market_.entry_begin[first_member[g]];
  }

  // Clears the market; false when the last phase's allocation could not be proven optimal (see
  // kLastProofScansPerNode), which the scaling argument says never happens, or at the bid budget.
  bool run() {
    start_cold();
    largest_value_ = 0;
    for (std::uint32_t i = 0; i < orders_; ++i) largest_value_ = std::max(largest_value_, choose(i).best);
    price_limit_ = 4 * static_cast<Potential>(orders_ + offers_ + 3) * (largest_value_ + 1);
    Potential epsilon = std::max<Potential>(1, largest_value_ / kFirstEpsilonDivisor);
    for (;;) {
      ++stats_.phases;
      if (stats_.phases > 1) keep_what_still_fits(epsilon);
      if (!run_phase(epsilon)) return false;
      // Optimal by the scaling argument, so the search settles. One that does not within its budget, a
      // defect or a search slower than any measured, hands the batch to the simplex instead of hanging.
      if (epsilon == 1) return flow_is_optimal(kLastProofScansPerNode);
      // Epsilon = 1 guarantees optimality, but the allocation is usually optimal phases earlier (on 100k x 10k
      // batches after 4 to 7 of 11 to 13), and a cheap test can prove it. Not before epsilon, unscaled, is
      // down to a few fen (kProveFromEpsilonFen), where money's granularity makes an optimal allocation likely:
      // on ewx-loadgen batches every test at a coarser epsilon failed, and each cost a quarter of a phase.
      if (epsilon <= kProveFromEpsilonFen * scale_ && flow_is_optimal(kProofScansPerNode)) return true;
      epsilon = std::max<Potential>(1, epsilon / kScaleFactor);
    }
  }

  // Whether the allocation held now is already a maximum-surplus one: whether the residual network of its
  // flow on the ladders has no negative cycle. That network has the orders, the offers, a no-trade node and
  // the ladders' positions, each chained to the next (the condensed network with one rung per position).
  // Its forward arcs form a DAG, so a cycle uses a backward arc, whose tail lies on a path of flow; every
  // such path is reachable from the no-trade node (offers hang off it, and backward arcs lead from an offer
  // down its ladder to the orders that bought there). So a label-correcting search from the no-trade node
  // that settles proves that no negative cycle exists. One that meets a negative cycle, or has not settled
  // after 8 scans per node, proves nothing, and the auction goes on. Measured on an ewx-loadgen 100k x 10k
  // batch (with the tree of residual_network.cpp): searches that settle take 2.2 to 2.9 scans per node, and
  // those that meet a cycle stop after 0.5 to 1.4; before it, plain FIFO searches took 4 to 5 to settle
  // there, and every failing one its whole budget. The distances a settled search leaves are the prices
  // (premiums()).
  bool flow_is_optimal(std::uint64_t scans_per_node) {
    const std::uint32_t n = orders_, m = offers_;
    const std::uint32_t no_trade = n + m, first_position = n + m + 1;
    const auto positions = static_cast<std::uint32_t>(market_.position_offer.size());
    std::vector<Quantity> entering(positions, 0), leaving(positions, 0), untraded(orders_), left_unsold(offers_);
    for (std::uint32_t i = 0; i < n; ++i) untraded[i] = supply_[i];
    for (std::uint32_t j = 0; j < m; ++j) left_unsold[j] = demand_[j];
    std::vector<Quantity> entry_flow(market_.entries.size(), 0);
    for (std::uint32_t j = 0; j < m; ++j) {
      for (const Lot& lot : lots_[j]) {
        if (lot.holder == unsold()) continue;
        entry_flow[lot.entry] += lot.units;
        entering[market_.entries[lot.entry].first] += lot.units;
        leaving[lot.position] += lot.units;
        untraded[lot.holder] -= lot.units;
        left_unsold[j] -= lot.units;
      }
    }
    // The arcs are enumerated twice (residual_network_of) rather than stored: orders to no-trade and to
    // their entries' positions, no-trade to offers, each position to its offer and up to the next. Stored
    // first, as four arrays of a few million values written once and read once, they took the solve of an
    // ewx-loadgen 100k x 10k batch to 513 ms against 451 (an ewx-gen one's to 423 against 386; medians of 9
    // alternated runs, this machine). Grown arc by arc, as before that, they cost more still.
    const auto each_arc = [&](const auto& visit) {
      for (std::uint32_t i = 0; i < n; ++i) {
        visit(i, no_trade, 0, untraded[i]);
        for (std::uint32_t x = market_.entry_begin[i]; x < market_.entry_begin[i + 1]; ++x) {
          const LadderMarket::Entry& entry = market_.entries[x];
          visit(i, first_position + entry.first, entry.transfer - market_.order_bid[i], entry_flow[x]);
        }
      }
      for (std::uint32_t j = 0; j < m; ++j) visit(no_trade, n + j, 0, left_unsold[j]);
      for (std::uint32_t l = 0; l + 1 < market_.ladder_begin.size(); ++l) {
        Quantity carried = 0;
        for (std::uint32_t p = market_.ladder_begin[l]; p < market_.ladder_begin[l + 1]; ++p) {
          carried += entering[p] - leaving[p];
          const std::uint32_t offer = market_.position_offer[p];
          visit(first_position + p, n + offer, market_.offer_ask[offer], leaving[p]);
          if (p + 1 < market_.ladder_begin[l + 1]) visit(first_position + p, first_position + p + 1, 0, carried);
        }
      }
    };
    const std::uint64_t nodes = first_position + positions;
    const std::uint64_t budget = scans_per_node > std::numeric_limits<std::uint64_t>::max() / nodes
                                     ? std::numeric_limits<std::uint64_t>::max()
                                     : scans_per_node * nodes;
    return settle_distances(residual_network_of(nodes, each_arc), no_trade, budget, distance_) == Search::settled;
  }

  // Each offer's buyer-optimal premium over its ask: minus its distance from the no-trade node, which the
  // direct no-trade arc bounds by zero. Valid once run() has returned.
  std::vector<Fen> premiums() const {
    std::vector<Fen> premium(offers_);
    for (std::uint32_t j = 0; j < offers_; ++j) premium[j] = -distance_[orders_ + j];
    return premium;
  }

  std::vector<LadderTrade> trades() const {
    std::vector<LadderTrade> out;
    for (std::uint32_t j = 0; j < offers_; ++j) {
      for (const Lot& lot : lots_[j]) {
        if (lot.holder != unsold()) out.push_back({lot.holder, lot.entry, lot.position, lot.units});
      }
    }
    std::sort(out.begin(), out.end(), [](const LadderTrade& a, const LadderTrade& b) {
      return a.order != b.order ? a.order < b.order : a.position < b.position;
    });
    std::size_t kept = 0;
    for (const LadderTrade& trade : out) {
      if (kept > 0 && out[kept - 1].order == trade.order && out[kept - 1].position == trade.position) {
        out[kept - 1].units += trade.units;
      } else {
        out[kept++] = trade;
      }
    }
    out.resize(kept);
    return out;
  }

 private:
  // What a ladder's tree answered for the suffix from one position (cheapest_two).
  struct Suffix {
    std::uint64_t version = std::numeric_limits<std::uint64_t>::max();  // the ladder's, when `two` was read
    TwoSmallest two;
    std::uint32_t offer[2] = {kNoId, kNoId};  // two's positions' offers
  };
  // As in scaled_auction.cpp: 4 needed the fewest bids on ewx-gen batches.
  static constexpr Potential kScaleFactor = 4;
  // The first phase's epsilon is the largest value over this. Measured (bids in all, on ewx-gen's batches of
  // 2k to 100k orders and an ewx-loadgen 100k x 10k): 5.31 million at 4, 4.88 at 8, 5.23 at 16; from 64 on the
  // first phase's price war costs more than the phases it saves. At 8 the ewx-loadgen batch's auction took
  // 0.83 s against 0.90 s at 4, ewx-gen's 100k x 10k 368 against 389 ms (medians of 5 alternated runs).
  static constexpr Potential kFirstEpsilonDivisor = 8;
  // The coarsest phase, in fen of unscaled epsilon, after which flow_is_optimal is tried. Measured on ewx-gen
  // and ewx-loadgen batches of 50k x 5k and 100k x 10k: every test that succeeded came at 0.3 to 3.9 fen,
  // every one at 17 fen or more failed, and so did the five at about 4.4 fen on an ewx-loadgen 100k x 10k
  // batch, which a bound of 16 let through for 4 % of its auction (ewx-gen's batches of 2k to 100k took the
  // same phases with either bound).
  static constexpr Potential kProveFromEpsilonFen = 4;
  // The label-correcting search's budget when it tries to prove optimality early (see flow_is_optimal).
  static constexpr std::uint64_t kProofScansPerNode = 8;
  // Its budget after the last phase, where it must settle. A network of n nodes with no negative cycle
  // settles within n + 1 scans per node (n - 1 passes of the FIFO search), so up to 255 nodes this is a proof
  // either way; beyond, it is 50 to 100 times what the searches that settle take. Unbounded, as it once was,
  // a defect that left a negative cycle hung the solver instead of failing (seen while trying a change).
  static constexpr std::uint64_t kLastProofScansPerNode = 256;
  std::uint32_t unfilled() const { return offers_; }
  std::uint32_t unsold() const { return orders_; }

  Potential price(std::uint32_t sink) const {
    return unsold_[sink] > 0 || lots_[sink].empty() ? base_price_[sink] : lots_[sink].front().price;
  }

  // The scaled value of a unit on a lot's arc: the pair's surplus, or zero on the slack arcs.
  Potential value(std::uint32_t holder, std::uint32_t entry, std::uint32_t position) const {
    if (entry == kNoId) return 0;
    const LadderMarket::Entry& e = market_.entries[entry];
    return (market_.order_bid[holder] - e.transfer - market_.offer_ask[market_.position_offer[position]]) * scale_;
  }

  // An offer's part of every profit through it: ask * K + price, or kClosed for an offer of no units. Kept
  // up to date by publish, since the queries check it about ten times per bid.
  Potential key(std::uint32_t offer) const { return keys_[offer]; }

  // Every change to a sink's lots or unsold units ends here, so that the trees hold current prices.
  void reprice(std::uint32_t sink) {
    // Who holds the sink's units may have changed even where its price did not.
    if (!sink_stale_[sink]) sink_stale_[sink] = 1, stale_sinks_.push_back(sink);
    publish(sink);
  }

  // The ladders learn of a price at once only when it is the first or a fall (which the auction never makes);
  // a rise waits until a query meets the offer's old key (cheapest_two).
  void publish(std::uint32_t sink) {
    const Potential now = demand_[sink] > 0 ? price(sink) : kClosed;
    const Potential before = quoted_[sink];
    if (now == before) return;
    quoted_[sink] = now;
    if (sink == unfilled()) return;
    keys_[sink] = now == kClosed ? kClosed : market_.offer_ask[sink] * scale_ + now;
    if (before != kNone && now > before) return;
    for (std::uint32_t k = position_begin_[sink]; k < position_begin_[sink + 1]; ++k) {
      ladders_.set(positions_[k], key(sink));
    }
  }

  // The two cheapest offers from position `first` up `ladder`, at the current prices. A ladder's tree may
  // hold an offer's key from before its price last rose (publish): each offer's at most 15 or so positions
  // are then written only where a query finds them, and most never are. A stale key is lower than the real
  // one, so when the two smallest the tree returns are both current, no other offer can be cheaper (nor
  // tie with a smaller position); otherwise they are corrected and the ladder asked again.
  //
  // Many orders enter a ladder at the same position, and with rises written lazily a ladder's tree changes far
  // less often than its prices: so the tree's answer is kept per position, with the ladder's version (on
  // ewx-loadgen's batches 9 queries in 10 find it).
  Suffix cheapest_two(std::uint32_t ladder, std::uint32_t first) {
    if (market_.ladder_begin[ladder + 1] - market_.ladder_begin[ladder] < scanned_below_)
      return scan_cheapest_two(ladder, first);
    for (;;) {
      Suffix& known = suffixes_[first];
      if (known.version != ladders_.version(ladder)) {
        known.version = ladders_.version(ladder);
        known.two = ladders_.suffix(ladder, first);
        for (int k = 0; k < 2; ++k)
          known.offer[k] = known.two.key[k] < kClosed ? market_.position_offer[known.two.id[k]] : kNoId;
      }
      bool stale = false;
      for (int k = 0; k < 2 && known.two.key[k] < kClosed; ++k) {
        const Potential now = key(known.offer[k]);
        if (now == known.two.key[k]) continue;
        ladders_.set(known.two.id[k], now);  // changes the version, so `known` is read again
        ++stats_.refreshed;
        stale = true;
      }
      if (!stale) return known;
    }
  }

  // cheapest_two on a short ladder (kLaddersScannedBelow). The scan reads each position's offer's current key, so
  // it never meets a stale one, and the forest's copy of the ladder's keys is only written (on a first price
  // or a fall, which changes its version). Keys only rise, so an answer whose two offers still have the
  // keys it found is still the answer, and it is kept per position as the trees' are. Before, the scan read
  // the forest's copy, each stale key it returned was written there, which changed the version, and the
  // whole suffix was scanned again: 2.8 million writes and rescans for 2.2 million bids on an ewx-loadgen
  // 100k x 10k batch. Measured against that (15 alternated runs, this machine, medians): that batch's
  // solve 769 to 595 ms, an ewx-gen 100k x 10k batch's 507 to 469.
  Suffix scan_cheapest_two(std::uint32_t ladder, std::uint32_t first) {
    Suffix& known = suffixes_[first];
    bool current = known.version == ladders_.version(ladder);
    for (int k = 0; current && k < 2 && known.two.key[k] < kClosed; ++k)
      current = key(known.offer[k]) == known.two.key[k];
    if (current) return known;
    known.version = ladders_.version(ladder);
    TwoSmallest two;
    std::uint32_t offer_of[2] = {kNoId, kNoId};
    for (std::uint32_t at = first; at < market_.ladder_begin[ladder + 1]; ++at) {
      const std::uint32_t offer = market_.position_offer[at];
      const Potential now = key(offer);
      if (now >= two.key[1]) continue;  // ties go to the earlier position
      if (now < two.key[0]) {
        two.key[1] = two.key[0], two.id[1] = two.id[0], offer_of[1] = offer_of[0];
        two.key[0] = now, two.id[0] = at, offer_of[0] = offer;
      } else {
        two.key[1] = now, two.id[1] = at, offer_of[1] = offer;
      }
    }
    known.two = two;
    for (int k = 0; k < 2; ++k) known.offer[k] = two.key[k] < kClosed ? offer_of[k] : kNoId;
    return known;
  }

  // Raises a sink that the unsold source holds entirely to `to`, the price of the cheapest sink it can still
  // buy from. See own_sinks_.
  void lift(std::uint32_t sink, Potential to) {
    ++stats_.lifts;
    for (Lot& lot : lots_[sink]) lot.price = to;
    own_sinks_.set(sink, to);
    publish(sink);
  }

  // The bidder's best sink and the profit of its second best. For an order this asks each ladder it
  // enters, unless its group's shortlist still answers (see Shortlist).
  Choice choose(std::uint32_t bidder) {
    Choice choice;
    const auto consider = [&choice](Potential profit, std::uint32_t sink, std::uint32_t entry, std::uint32_t position) {
      if (profit > choice.best || (profit == choice.best && position < choice.position)) {
        choice.second = choice.best;
        choice.best = profit;
        choice.sink = sink;
        choice.entry = entry;
        choice.position = position;
      } else if (profit > choice.second) {
        choice.second = profit;
      }
    };
    if (bidder == unsold()) {
      for (const std::uint32_t sink : stale_sinks_) {
        const bool own = demand_[sink] > 0 && unsold_[sink] == 0 && own_[sink] == demand_[sink];
        open_sinks_.set(sink, own ? kClosed : quoted_[sink]);
        own_sinks_.set(sink, own ? quoted_[sink] : kClosed);
        sink_stale_[sink] = 0;
      }
      stale_sinks_.clear();
      const TwoSmallest two = open_sinks_.all(0);
      if (two.key[0] < kClosed) {
        for (TwoSmallest low = own_sinks_.all(0); low.key[0] < two.key[0]; low = own_sinks_.all(0)) {
          lift(low.id[0], two.key[0]);
        }
      }
      for (int k = 0; k < 2; ++k) {
        if (two.key[k] < kClosed) consider(-two.key[k], two.id[k], kNoId, kNoId);
      }
      const TwoSmallest own = own_sinks_.all(0);
      if (own.key[0] < kClosed) consider(-own.key[0], own.id[0], kNoId, kNoId);
      return choice;
    }
    const Fen bid = market_.order_bid[bidder];
    const Potential own_part = bid * scale_;
    const std::uint32_t first_entry = market_.entry_begin[bidder];
    Shortlist& shortlist = shortlists_[group_of_[bidder]];
    if (shortlist.count > 0) {
      // The shortlisted offers at their current worth; everything else is worth at most the bound.
      for (int k = 0; k < shortlist.count; ++k) {
        const Candidate& c = shortlist.candidate[k];
        consider(own_part - (c.transfer_part + key(c.offer)), c.offer, first_entry + c.entry, c.position);
      }
      if (shortlist.bound == kNone || choice.best - own_part >= shortlist.bound) {
        consider(-quoted_[unfilled()], unfilled(), kNoId, kNoId);
        if (shortlist.bound != kNone) choice.second = std::max(choice.second, own_part + shortlist.bound);
        ++stats_.shortlisted;
        return choice;
      }
      choice = Choice{};
    }
    // A full look: each entry's two cheapest offers, which also make the group's new shortlist.
    Candidate found[kShortlisted + 1];  // by worth, highest first
    Potential found_worth[kShortlisted + 1];
    int count = 0;
    Potential bound = kNone;
    const std::uint32_t entries = market_.entry_begin[bidder + 1] - first_entry;
    // Read from the group's first member: the same entries, in cache lines the whole group shares, where
    // the bidder's own (a million in all at 100k x 10k) missed the cache, a seventh of this function's time
    // by perf. Solve medians of 9 alternated runs, this machine: 625 to 562 ms on an ewx-loadgen batch, 463
    // to 447 on an ewx-gen one (both 100k x 10k).
    const LadderMarket::Entry* const same_entries = &market_.entries[group_entries_[group_of_[bidder]]];
    for (std::uint32_t k = 0; k < entries; ++k) {
      const LadderMarket::Entry& entry = same_entries[k];
      const Suffix cheapest = cheapest_two(entry.ladder, entry.first);
      const Potential transfer_part = entry.transfer * scale_;
      for (int r = 0; r < 2 && cheapest.two.key[r] < kClosed; ++r) {
        const Potential worth = -(transfer_part + cheapest.two.key[r]);
        consider(own_part + worth, cheapest.offer[r], first_entry + k, cheapest.two.id[r]);
        // The runner-up of a ladder bounds every other offer up that ladder, now and later.
        if (r == 1) bound = std::max(bound, worth);
        if (worth < bound) continue;
        int place = count;
        for (; place > 0 && found_worth[place - 1] < worth; --place) {
          if (place <= kShortlisted) found[place] = found[place - 1], found_worth[place] = found_worth[place - 1];
        }
        if (place <= kShortlisted) {
          found[place] = {transfer_part, cheapest.offer[r], k, cheapest.two.id[r]};
          found_worth[place] = worth;
        }
        count = std::min(count + 1, kShortlisted + 1);
      }
    }
    stats_.ladder_queries += entries;
    // Those below the bound can never be shown the best by it; one beyond the list raises the bound.
    if (count > kShortlisted) {
      bound = std::max(bound, found_worth[kShortlisted]);
      count = kShortlisted;
    }
    shortlist.bound = bound;
    shortlist.count = 0;
    for (int k = 0; k < count && found_worth[k] >= bound; ++k) shortlist.candidate[shortlist.count++] = found[k];
    consider(-quoted_[unfilled()], unfilled(), kNoId, kNoId);
    return choice;
  }

  void enqueue(std::uint32_t bidder) {
    if (queued_[bidder] || units_left_[bidder] == 0) return;
    queued_[bidder] = 1;
    (bidder == unsold() ? slack_waiting_ : waiting_).push_back(bidder);
  }

  void start_cold() {
    for (std::uint32_t j = 0; j <= offers_; ++j) {
      unsold_[j] = demand_[j];
      reprice(j);
    }
    for (std::uint32_t i = 0; i <= orders_; ++i) {
      units_left_[i] = supply_[i];
      enqueue(i);
    }
  }

  // False when the bids reach their budget.
  bool run_phase(Potential epsilon) {
    while (!waiting_.empty() || !slack_waiting_.empty()) {
      // The unsold source goes last: it takes what the orders leave instead of fighting over it.
      std::deque<std::uint32_t>& line = waiting_.empty() ? slack_waiting_ : waiting_;
      const std::uint32_t bidder = line.front();
      line.pop_front();
      queued_[bidder] = 0;
      while (units_left_[bidder] > 0) {
        if (stats_.bids >= bid_budget_) {
          stats_.out_of_bids = true;
          return false;
        }
        bid(bidder, epsilon);
      }
    }
    return true;
  }

  // The warm start of a finer phase: a lot stays, repriced to its sink's price, only while it is within
  // the new epsilon of its holder's best; everything else goes back to be bid again.
  void keep_what_still_fits(Potential epsilon) {
    std::vector<Potential> best(orders_ + 1);
    for (std::uint32_t b = 0; b <= orders_; ++b) best[b] = choose(b).best;
    for (std::uint32_t j = 0; j <= offers_; ++j) {
      std::vector<Lot>& lots = lots_[j];
      const Potential sink_price = price(j);
      std::size_t kept = 0;
      for (Lot lot : lots) {
        if (best[lot.holder] + sink_price - value(lot.holder, lot.entry, lot.position) <= epsilon) {
          lot.price = sink_price;
          lots[kept++] = lot;
          continue;
        }
        units_left_[lot.holder] += lot.units;
        unsold_[j] += lot.units;
        if (lot.holder == unsold()) own_[j] -= lot.units;
      }
      lots.resize(kept);
      base_price_[j] = sink_price;
      std::make_heap(lots.begin(), lots.end(), std::greater<>{});
      reprice(j);
    }
    for (std::uint32_t b = 0; b <= orders_; ++b) enqueue(b);
  }

  // One bid, as in scaled_auction.cpp: every unit the bidder still has goes to its best sink at the price
  // that makes it as good as the second best, plus epsilon, taking the sink's unsold units first and then
  // its cheapest lots below that price. Arcs have no capacities, so nothing else limits the bid.
  void bid(std::uint32_t bidder, Potential epsilon) {
    ++stats_.bids;
    const Choice choice = choose(bidder);
    // The slack sinks are always open to the bidders that reach them, so a bidder always has a best.
    if (choice.best == kNone) throw std::logic_error("ladder auction: a bidder has nowhere to place units");
    const std::uint32_t sink = choice.sink;
    const Potential offered =
        choice.second == kNone ? price(sink) + epsilon : price(sink) + (choice.best - choice.second) + epsilon;
    if (offered > price_limit_) throw std::logic_error("ladder auction: prices beyond any optimum's");

    const Units wanted = units_left_[bidder];
    const Units from_unsold = std::min(wanted, unsold_[sink]);
    unsold_[sink] -= from_unsold;
    std::vector<Lot>& lots = lots_[sink];
    // The bidder's own lots move to the arc it bids on whole: the best arc into the sink is worth at least
    // as much as any other into it, and arcs have no capacities (auction_lots.hpp says why).
    const auto own = [bidder](const Lot& lot) { return lot.holder == bidder; };
    const LotsTaken from_lots =
        take_lots_below(lots, offered, wanted - from_unsold, own, [&](const Lot& displaced, Units units) {
          units_left_[displaced.holder] += units;
          if (displaced.holder == unsold()) own_[sink] -= units;
          enqueue(displaced.holder);
        });
    const Units taken = from_unsold + from_lots.taken;
    if (taken == 0 && from_lots.reclaimed == 0) throw std::logic_error("ladder auction: a bid took no units");
    if (bidder == unsold()) own_[sink] += taken;
    // The unsold source's lots are lifted instead (own_sinks_).
    const auto holder_limit = [&](const Lot& lot) {
      if (lot.holder == unsold() || lot.holder == bidder) return kNone;
      return value(lot.holder, lot.entry, lot.position) - choose(lot.holder).best + epsilon;
    };
    if (raise_nibbled_lot(lots, offered, from_lots.taken, holder_limit)) ++stats_.raised;
    lots.push_back({offered, bidder, choice.entry, choice.position, taken + from_lots.reclaimed});
    std::push_heap(lots.begin(), lots.end(), std::greater<>{});
    reprice(sink);
    units_left_[bidder] -= taken;
  }

  const LadderMarket& market_;
  LadderAuctionStatistics& stats_;
  const Potential scale_;
  const std::uint32_t orders_;
  const std::uint32_t offers_;
  Potential largest_value_ = 0;
  Potential price_limit_ = 0;
  const std::uint32_t scanned_below_;
  SegmentForest ladders_;  // per ladder, its offers' ask * K + price by position, or less (see publish)
  std::vector<Suffix> suffixes_ = std::vector<Suffix>(market_.position_offer.size());  // by first position
  // The unsold source's view of the sinks. It values them all at zero, so wherever it holds every unit of a
  // sink, taking more there gains it nothing; left to bid, it would outbid itself there, raising the sink to
  // the next cheapest, and sweep every sink it holds up by about epsilon at a time until they pass the
  // cheapest sink it can still buy from (measured: 5 million bids on a 1,400 x 2,400 batch of ewxd's,
  // nearly all of them the unsold source's). Instead such sinks are kept apart (own_sinks_), and before the
  // unsold source chooses, those priced below the cheapest sink it can buy from (open_sinks_) are lifted to
  // that price at once: prices only rise, so every other bidder's lots stay epsilon-optimal, and its own
  // lots there are then exactly as good as its best. Both trees are brought up to date only when it
  // chooses, once per sink changed since: it bids only when no order is waiting.
  SegmentForest open_sinks_;
  SegmentForest own_sinks_;
  std::vector<std::uint32_t> stale_sinks_;
  std::vector<std::uint8_t> sink_stale_;
  std::vector<Units> own_;                     // per sink: units held by the unsold source's lots
  std::vector<std::uint32_t> position_begin_;  // offer j's positions: positions_[begin[j], begin[j + 1])
  std::vector<std::uint32_t> positions_;
  std::vector<Units> demand_;  // per sink: offers' units, then "unfilled"
  std::vector<Potential> base_price_;
  std::vector<Units> unsold_;
  std::vector<Potential> quoted_;  // per sink: price(), or kClosed for a sink with nothing to sell
  std::vector<Potential> keys_ = std::vector<Potential>(offers_ + 1, kClosed);  // per offer: key()
  std::vector<std::vector<Lot>> lots_;
  std::vector<Units> supply_;  // per bidder: orders' units, then "unsold"
  std::vector<Units> units_left_;
  std::vector<std::uint8_t> queued_;
  const std::uint64_t bid_budget_;
  std::deque<std::uint32_t> waiting_;
  std::deque<std::uint32_t> slack_waiting_;
  // Candidate lists (Bertsekas), one per group of orders with the same entries: same ladders, same first
  // positions, same transfer charges. An offer's worth to such an order through one of its entries is
  // -(transfer * K + key), the same for the whole group, its bid only adding a constant; so the group's best
  // offer is every member's. A full look keeps the offers worth at least a bound that no other offer can
  // exceed: the largest worth of a ladder's runner-up (every other offer up that ladder was worth no more
  // then, and prices only rise). While the best of the list is still worth at least the bound it is the
  // best, and the larger of the list's second and the bound stands in for the second best's worth (a bid
  // no higher than the exact one, still epsilon-optimal). On ewx-loadgen batches a class's 20,000 orders
  // fall into about 100 groups, on ewx-gen's into about 1,000. Measured on an ewx-loadgen 100k x 10k batch,
  // against a list of one per order: 2.7 million ladder queries instead of 18.8 million, for 2.06 million
  // bids instead of 1.87 (the bound stands in for more seconds); the time went to the keys the rarer looks
  // find stale, until short ladders were scanned (kLaddersScannedBelow): together 745 to 610 ms for that batch;
  // on ewx-gen's, with groups of 15 to 20 orders, 350 to 308 ms for one 100k x 10k batch but 364 to 378 ms
  // for bench-condensed's (seed 1), and 103 to 100 ms at 30k x 3k (medians of 3, alternated, this machine).
  // The allocation may differ from the old one's; its surplus and prices do not.
  static constexpr int kShortlisted = 4;
  struct Candidate {
    Potential transfer_part = 0;  // transfer * K
    std::uint32_t offer = kNoId;
    std::uint32_t entry = 0;  // the k-th of each member's entries
    std::uint32_t position = kNoId;
  };
  struct Shortlist {
    Potential bound = kNone;
    int count = 0;  // none: the next member takes a full look
    Candidate candidate[kShortlisted];
  };
  std::vector<std::uint32_t> group_of_;       // per order
  std::vector<Shortlist> shortlists_;         // per group
  std::vector<std::uint32_t> group_entries_;  // per group: where its first member's entries begin
  std::vector<Potential> distance_;           // from the no-trade node, left by the last settled search
};

}  // namespace

std::optional<LadderClearing> run_ladder_auction(const LadderMarket& market, LadderAuctionStatistics& stats,
                                                 std::uint32_t scanned_below, std::uint64_t most_bids) {
  const Potential nodes = static_cast<Potential>(market.order_units.size() + market.offer_units.size()) + 2;
  const Potential scale = nodes + 1;
  // Every value, key and price is within a few times (largest bid + transfer + ask) * K * nodes.
  Fen largest = 0;
  for (const Fen bid : market.order_bid) largest = std::max(largest, bid < 0 ? -bid : bid);
  Fen dearest = 0;
  for (const Fen ask : market.offer_ask) dearest = std::max(dearest, ask < 0 ? -ask : ask);
  Fen farthest = 0;
  for (const LadderMarket::Entry& entry : market.entries) farthest = std::max(farthest, entry.transfer);
  const Objective bound = static_cast<Objective>(largest) + dearest + farthest + 1;
  if (bound * scale * scale * 16 > (Objective{1} << 62)) return std::nullopt;

  LadderAuction auction(market, stats, scale, scanned_below, most_bids);
  if (!auction.run()) return std::nullopt;
  return LadderClearing{auction.trades(), auction.premiums()};
}

}  // namespace ewx::detail
