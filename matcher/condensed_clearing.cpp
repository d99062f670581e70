// The condensed clearing network: the batch's maximum-surplus allocation without listing every pair of an
// order and an offer that could trade.
//
// Why. The bipartite problem of batch_builder.hpp has one arc per such pair: a 100k x 10k batch has about
// 89 million, and building that graph alone takes longer than the batch interval. Yet the pairs carry little
// information. The surplus of a pair separates, bid_i - transfer(hub_i, cluster_j) - ask_j, into a part of
// the order, a part of the link and a part of the offer; and whether the pair may trade depends on the
// offer only through its class, its cluster and three thresholds (availability start <= the order's window
// start, availability end >= the order's window end, green share >= the order's minimum). So an order can
// reach all its trading partners in one cluster through a few shared nodes instead of one arc each.
//
// The network. Offers of one class in one cluster that start no later than hour s and are at least g percent
// green form a *ladder*. Its *rungs* are the distinct hours at which those offers' availability ends, lowest
// first; each rung leads to its offers (cost ask_j) and climbs to the next rung (cost 0). An order whose window
// ends at hour e enters the ladder at the lowest rung >= e, at cost transfer - bid, so from there it reaches
// exactly the offers of the ladder that run until e or later: all the offers it may trade with in that
// cluster. Which ladder: s is the latest start of an offer in the group that is not after the order's start,
// and g the smallest green share in the group that meets the order's minimum; orders with different
// thresholds but the same s and g see the same offers and share the ladder. A ladder is built when an order
// first needs it. Every order also has an arc to the *no-trade* node (cost 0), and that node one to every
// offer (cost 0): units that do not trade pass through it, as the slack nodes do in the bipartite problem.
// An order enters a ladder only if some offer above its rung is cheap enough for a positive surplus: other
// entries could carry only trades worth nothing or less, and leaving them out changes neither the optimum
// nor the prices (their dual constraints follow from u, v >= 0).
//
// Every path order -> rung -> ... -> rung -> offer costs exactly -surplus of that pair, and every allowed pair
// has such a path, so a minimum-cost flow of this network is a maximum-surplus allocation, and its node
// potentials are optimal duals of the bipartite problem too: the dual of the condensed network, projected
// onto orders and offers, is the market's dual. On the default synthetic market the network has about
// 0.9 million arcs where the bipartite problem of a 100k x 10k batch has 89 million.
//
// The solve. Two exact engines, the faster of them on each batch measured (CondensedEngine::automatic): LEMON's
// network simplex (exact, integer) on small networks (simplex_is_faster), and elsewhere the epsilon-scaling auction
// with the ladders as its rows (ladder_auction.cpp), where an order's best two offers in a cluster are the two
// cheapest in a suffix of one ladder, a segment-tree query, so a bid costs a few queries instead of a scan of every
// pair. Orders trade only within their resource class, so the auction runs once per class, the classes side by side
// on the machine's cores (auction_by_class); smaller auctions also need fewer bids and smaller trees, which made it
// 2.4x faster on one core at 100k x 10k, and two cores another 1.7x. Each class's network and auction market are
// built on those cores too, by the thread that clears the class (an ewx-loadgen 100k x 10k batch: 585-615 to
// 512-524 ms). The simplex needs no scaling and also takes the batches whose prices are too large
// for the auction's scaled 64-bit arithmetic, but its pivots grow faster than the network: 106 s at 100k x 10k,
// where the auction takes 0.7 s. Two other ways were tried and dropped: LEMON's cost scaling was no faster than
// the simplex (6.5 s at 30k x 3k; its StaticDigraph maps also do not compile as C++20), and the auction on the
// transportation form of this network (each rung split into a source and a sink) fought price wars along the
// ladders: 60 million bids on a 1k x 100 batch. Nothing is taken on trust: the tests check every condensed
// clearing, by both engines, with the market's equilibrium check and the bipartite certificate, and against
// clear_batch.
//
// From flow to contracts. The auction's allocation is already a list of pairs. The simplex's flow is split
// into pairs by walking each ladder's rungs upward with a first-in first-out queue of the units that entered
// below: an offer's units at a rung are taken from the front. The units in the queue above a rung are the
// flow on its climbing arc, so this consumes the flow exactly. A pair whose surplus is zero is not recorded
// as a contract (the bipartite problem has no arc for it): its units stay untraded on both sides, which keeps
// the allocation optimal, because such a pair can carry flow only where the order's surplus u_i and the
// offer's premium v_j are both zero.
//
// Prices. The buyer-optimal premiums are shortest-path distances from the no-trade node in the residual
// network of the optimal flow, as clearing_prices.cpp derives for the bipartite graph; the set of optimal
// duals does not depend on which optimal flow gives the residual network, so the premiums are the same as
// clear_batch's, whichever engine ran. After the simplex, its potentials make every residual length
// non-negative and one Dijkstra suffices. The auction finds them itself, class by class: its search for a
// negative cycle, the proof that ends it, leaves exactly these distances on a network with a node per ladder
// position instead of per rung (ladder_auction.cpp), and a shortest path from the no-trade node to an offer
// never leaves the offer's class (it would have to pass the no-trade node again). That took the prices of an
// ewx-loadgen 100k x 10k batch from a search of the whole network after the auction, about 180 ms here, to
// nothing. A negative reduced length, or a negative cycle, would mean a solver bug and throws
// std::logic_error.
#include "matcher/condensed_clearing.hpp"

#include <lemon/network_simplex.h>
#include <lemon/smart_graph.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <exception>
#include <functional>
#include <limits>
#include <numeric>
#include <optional>
#include <queue>
#include <span>
#include <stdexcept>
#include <thread>
#include <unordered_map>

#include "matcher/ladder_auction.hpp"
#include "matcher/residual_network.hpp"

namespace ewx {
namespace {

using Clock = std::chrono::steady_clock;
double milliseconds_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

constexpr std::uint32_t kNoArc = std::numeric_limits<std::uint32_t>::max();

// The offers of one (class, cluster), by availability end and then offer index, and the distinct starts and
// green shares among them (ascending): a ladder's thresholds are always one of each.
struct OfferGroup {
  std::vector<std::uint32_t> offers;
  std::vector<Hour> starts;
  std::vector<std::int32_t> greens;
  std::unordered_map<std::uint64_t, std::uint32_t> ladder_of;  // (start index << 32 | green index) -> ladder
};

struct Ladder {
  std::uint32_t first_rung = 0;
  std::uint32_t rung_count = 0;
};

// An order's arc into a ladder: the order pays the link's transfer charge on every unit it buys there.
struct Entry {
  std::uint32_t order;
  std::uint32_t rung;
  Fen transfer;
};

// The ladders and the orders' entries into them; FlowNetwork below numbers them as nodes and arcs.
class CondensedNetwork {
 public:
  // The whole batch's network, or with `only` the part of one resource class: the same ladders, rungs and
  // entries, in the same relative order, as that class has in the whole.
  CondensedNetwork(const Batch& batch, const Topology& topology, std::optional<ResourceClassIndex> only = std::nullopt)
      : batch_(batch), topology_(topology), only_(only) {
    group_offers();
    enter_orders();
  }

  const std::vector<Ladder>& ladders() const { return ladders_; }
  std::size_t rung_count() const { return rung_end_.size(); }
  const std::vector<Entry>& entries() const { return entries_; }
  std::span<const std::uint32_t> offers_at(std::uint32_t k) const {
    return {rung_offers_.data() + rung_offer_begin_[k], rung_offers_.data() + rung_offer_begin_[k + 1]};
  }
  std::uint32_t first_offer_position(std::uint32_t k) const { return rung_offer_begin_[k]; }
  std::size_t rung_offer_count() const { return rung_offers_.size(); }
  // The offer at each position: positions number the rungs' offers, rung by rung and ladder by ladder.
  const std::vector<std::uint32_t>& offer_at_position() const { return rung_offers_; }

 private:
  void group_offers() {
    const std::size_t clusters = topology_.clusters.size();
    groups_.resize(batch_.resource_classes.size() * clusters);
    for (std::uint32_t j = 0; j < batch_.offers.size(); ++j) {
      const SellOffer& offer = batch_.offers[j];
      if (only_ && offer.resource_class != *only_) continue;
      groups_[offer.resource_class * clusters + offer.cluster].offers.push_back(j);
    }
    for (OfferGroup& group : groups_) {
      std::stable_sort(group.offers.begin(), group.offers.end(), [&](std::uint32_t a, std::uint32_t b) {
        return batch_.offers[a].window_end < batch_.offers[b].window_end;
      });
      for (const std::uint32_t j : group.offers) {
        group.starts.push_back(batch_.offers[j].window_begin);
        group.greens.push_back(batch_.offers[j].green_percent);
      }
      std::sort(group.starts.begin(), group.starts.end());
      group.starts.erase(std::unique(group.starts.begin(), group.starts.end()), group.starts.end());
      std::sort(group.greens.begin(), group.greens.end());
      group.greens.erase(std::unique(group.greens.begin(), group.greens.end()), group.greens.end());
    }
  }

  // The ladder of offers in `group` starting by starts[s] and at least greens[g] green, built on first use.
  std::uint32_t ladder(OfferGroup& group, std::size_t s, std::size_t g) {
    const std::uint64_t key = (std::uint64_t{s} << 32) | g;
    const auto [it, added] = group.ladder_of.try_emplace(key, static_cast<std::uint32_t>(ladders_.size()));
    if (!added) return it->second;
    Ladder built{static_cast<std::uint32_t>(rung_end_.size()), 0};
    for (const std::uint32_t j : group.offers) {
      const SellOffer& offer = batch_.offers[j];
      if (offer.window_begin > group.starts[s] || offer.green_percent < group.greens[g]) continue;
      if (built.rung_count == 0 || rung_end_.back() != offer.window_end) {
        rung_end_.push_back(offer.window_end);
        rung_cheapest_.push_back(offer.ask);
        rung_offer_begin_.push_back(static_cast<std::uint32_t>(rung_offers_.size()));
        ++built.rung_count;
      }
      rung_cheapest_.back() = std::min(rung_cheapest_.back(), offer.ask);
      rung_offers_.push_back(j);
      rung_offer_begin_.back() = static_cast<std::uint32_t>(rung_offers_.size());
    }
    // From the top down, the cheapest ask at or above each rung: what an order entering there can hope for.
    for (std::uint32_t k = built.first_rung + built.rung_count; k-- > built.first_rung + 1;) {
      rung_cheapest_[k - 1] = std::min(rung_cheapest_[k - 1], rung_cheapest_[k]);
    }
    ladders_.push_back(built);
    return it->second;
  }

  void enter_orders() {
    const std::size_t clusters = topology_.clusters.size();
    for (std::uint32_t i = 0; i < batch_.orders.size(); ++i) {
      const BuyOrder& order = batch_.orders[i];
      if (only_ && order.resource_class != *only_) continue;
      for (ClusterIndex c = 0; c < clusters; ++c) {
        const auto& link = topology_.link(order.hub, c);
        if (!link || link->latency_ms > order.max_latency_ms) continue;
        OfferGroup& group = groups_[order.resource_class * clusters + c];
        const auto start = std::upper_bound(group.starts.begin(), group.starts.end(), order.window_begin);
        const auto green = std::lower_bound(group.greens.begin(), group.greens.end(), order.min_green_percent);
        if (start == group.starts.begin() || green == group.greens.end()) continue;
        const Ladder& on = ladders_[ladder(group, static_cast<std::size_t>(start - group.starts.begin()) - 1,
                                           static_cast<std::size_t>(green - group.greens.begin()))];
        const auto rungs_begin = rung_end_.begin() + on.first_rung;
        const auto rung = std::lower_bound(rungs_begin, rungs_begin + on.rung_count, order.window_end);
        if (rung == rungs_begin + on.rung_count) continue;
        const auto k = static_cast<std::uint32_t>(rung - rung_end_.begin());
        if (order.bid - link->transfer_charge <= rung_cheapest_[k]) continue;
        entries_.push_back({i, k, link->transfer_charge});
      }
    }
  }

  const Batch& batch_;
  const Topology& topology_;
  std::optional<ResourceClassIndex> only_;
  std::vector<OfferGroup> groups_;
  std::vector<Ladder> ladders_;
  std::vector<Hour> rung_end_;
  std::vector<Fen> rung_cheapest_;
  std::vector<std::uint32_t> rung_offer_begin_{0};  // rung k's offers: rung_offers_[begin[k], begin[k + 1])
  std::vector<std::uint32_t> rung_offers_;
  std::vector<Entry> entries_;  // by order, then cluster
};

// The network as arcs, numbered as they are added to LEMON's graph:
//   [0, n)                  order i -> no-trade                     cost 0
//   [n, n + E)              entries, order -> rung                  cost transfer - bid
//   [n + E, n + E + m)      no-trade -> offer j                     cost 0
//   then per ladder, the climbs rung k -> k + 1 (cost 0), then per rung its offers rung -> offer (cost ask).
// Nodes: orders [0, n), offers [n, n + m), no-trade n + m, rungs after it.
struct FlowNetwork : detail::FlowArcs {
  std::vector<Quantity> supply;          // per node; negative for demand
  std::vector<std::uint32_t> climb_arc;  // per rung: its climbing arc, or kNoArc at a ladder's top
  std::uint32_t first_exit_arc = 0;      // exit arcs follow rung_offers order
  std::uint32_t no_trade = 0;
  std::uint32_t first_rung_node = 0;
};

FlowNetwork lay_out(const Batch& batch, const CondensedNetwork& net) {
  FlowNetwork flow;
  const auto n = static_cast<std::uint32_t>(batch.orders.size());
  const auto m = static_cast<std::uint32_t>(batch.offers.size());
  flow.no_trade = n + m;
  flow.first_rung_node = n + m + 1;
  const std::size_t arcs = n + net.entries().size() + m + 2 * net.rung_count() + net.rung_offer_count();
  flow.reserve(arcs);

  for (std::uint32_t i = 0; i < n; ++i) flow.add(i, flow.no_trade, 0);
  for (const Entry& entry : net.entries()) {
    flow.add(entry.order, flow.first_rung_node + entry.rung, entry.transfer - batch.orders[entry.order].bid);
  }
  for (std::uint32_t j = 0; j < m; ++j) flow.add(flow.no_trade, n + j, 0);
  flow.climb_arc.assign(net.rung_count(), kNoArc);
  for (const Ladder& ladder : net.ladders()) {
    for (std::uint32_t k = ladder.first_rung; k + 1 < ladder.first_rung + ladder.rung_count; ++k) {
      flow.climb_arc[k] = flow.add(flow.first_rung_node + k, flow.first_rung_node + k + 1, 0);
    }
  }
  flow.first_exit_arc = static_cast<std::uint32_t>(flow.from.size());
  for (std::uint32_t k = 0; k < net.rung_count(); ++k) {
    for (const std::uint32_t j : net.offers_at(k)) flow.add(flow.first_rung_node + k, n + j, batch.offers[j].ask);
  }

  flow.supply.assign(flow.first_rung_node + net.rung_count(), 0);
  Quantity ordered = 0;
  Quantity offered = 0;
  for (std::uint32_t i = 0; i < n; ++i) ordered += flow.supply[i] = batch.orders[i].units;
  for (std::uint32_t j = 0; j < m; ++j) offered += batch.offers[j].units, flow.supply[n + j] = -batch.offers[j].units;
  flow.supply[flow.no_trade] = offered - ordered;
  return flow;
}

struct FlowSolution {
  std::vector<Quantity> flow;        // per arc
  std::vector<Potential> potential;  // per node, feasible for shortest paths: pi(w) <= pi(v) + cost(v -> w)
};

FlowSolution solve_min_cost_flow(const FlowNetwork& network) {
  using Graph = lemon::SmartDigraph;
  Graph graph;
  graph.reserveNode(static_cast<int>(network.supply.size()));
  graph.reserveArc(static_cast<int>(network.from.size()));
  for (std::size_t v = 0; v < network.supply.size(); ++v) graph.addNode();
  for (std::size_t e = 0; e < network.from.size(); ++e) {
    graph.addArc(graph.nodeFromId(static_cast<int>(network.from[e])),
                 graph.nodeFromId(static_cast<int>(network.to[e])));
  }
  Graph::ArcMap<Cost> cost(graph);
  Graph::NodeMap<Quantity> supply(graph);
  for (std::size_t e = 0; e < network.from.size(); ++e) cost[graph.arcFromId(static_cast<int>(e))] = network.cost[e];
  for (std::size_t v = 0; v < network.supply.size(); ++v)
    supply[graph.nodeFromId(static_cast<int>(v))] = network.supply[v];

  lemon::NetworkSimplex<Graph, Quantity, Cost> simplex(graph);
  simplex.costMap(cost).supplyMap(supply);
  using Simplex = lemon::NetworkSimplex<Graph, Quantity, Cost>;
  // Candidate lists took 15-20 % less time than LEMON's default block search on ewx-gen batches of 10k x 1k.
  if (simplex.run(Simplex::CANDIDATE_LIST) != Simplex::OPTIMAL) {
    // Every unit can always go through the no-trade node and there is no cycle, so this is a bug.
    throw std::logic_error("condensed clearing: the network simplex found no optimal flow");
  }
  FlowSolution solution;
  solution.flow.resize(network.from.size());
  solution.potential.resize(network.supply.size());
  for (std::size_t e = 0; e < network.from.size(); ++e)
    solution.flow[e] = simplex.flow(graph.arcFromId(static_cast<int>(e)));
  // LEMON's potentials already have the shortest-path sign: cost + pi(from) - pi(to) >= 0 on residual arcs.
  for (std::size_t v = 0; v < network.supply.size(); ++v) {
    solution.potential[v] = simplex.potential(graph.nodeFromId(static_cast<int>(v)));
  }
  return solution;
}

// One order's units delivered by one offer, as the ladders' flow decomposes.
struct Trade {
  std::uint32_t order;
  std::uint32_t offer;
  Units units;
  Fen transfer;
};

std::vector<Trade> decompose(const Batch& batch, const CondensedNetwork& net, const FlowNetwork& network,
                             const FlowSolution& solution) {
  const auto n = static_cast<std::uint32_t>(batch.orders.size());
  // Entries by rung, keeping order-index order within a rung.
  std::vector<std::uint32_t> entry_begin(net.rung_count() + 1, 0);
  for (const Entry& entry : net.entries()) ++entry_begin[entry.rung + 1];
  for (std::size_t k = 0; k < net.rung_count(); ++k) entry_begin[k + 1] += entry_begin[k];
  std::vector<std::uint32_t> entries_by_rung(net.entries().size());
  {
    std::vector<std::uint32_t> next(entry_begin.begin(), entry_begin.end() - 1);
    for (std::uint32_t x = 0; x < net.entries().size(); ++x) entries_by_rung[next[net.entries()[x].rung]++] = x;
  }

  std::vector<Trade> trades;
  struct Waiting {
    std::uint32_t entry;
    Units units;
  };
  std::deque<Waiting> waiting;
  for (const Ladder& ladder : net.ladders()) {
    waiting.clear();
    Units queued = 0;
    for (std::uint32_t k = ladder.first_rung; k < ladder.first_rung + ladder.rung_count; ++k) {
      for (std::uint32_t p = entry_begin[k]; p < entry_begin[k + 1]; ++p) {
        const std::uint32_t x = entries_by_rung[p];
        const Units units = solution.flow[n + x];
        if (units > 0) waiting.push_back({x, units}), queued += units;
      }
      const std::span<const std::uint32_t> offers = net.offers_at(k);
      for (std::size_t q = 0; q < offers.size(); ++q) {
        Units wanted = solution.flow[network.first_exit_arc + net.first_offer_position(k) + q];
        while (wanted > 0) {
          if (waiting.empty()) throw std::logic_error("condensed clearing: an offer's flow has no order below it");
          Waiting& front = waiting.front();
          const Units units = std::min(wanted, front.units);
          const Entry& entry = net.entries()[front.entry];
          trades.push_back({entry.order, offers[q], units, entry.transfer});
          wanted -= units;
          queued -= units;
          if ((front.units -= units) == 0) waiting.pop_front();
        }
      }
      const Units climbing = network.climb_arc[k] == kNoArc ? 0 : solution.flow[network.climb_arc[k]];
      if (climbing != queued) throw std::logic_error("condensed clearing: a ladder's flow is not conserved");
    }
  }
  return trades;
}

// Runs task(k) for every k in `queue`, in that order, on as many threads as there are cores (and tasks),
// the calling thread one of them. Each task writes only its own results, so which thread runs it changes
// nothing. The first failure in queue order is rethrown once all have run.
template <typename Task>
void on_cores(std::span<const std::size_t> queue, const Task& task) {
  std::vector<std::exception_ptr> failure(queue.size());
  std::atomic<std::size_t> next{0};
  const auto work = [&] {
    for (std::size_t k; (k = next++) < queue.size();) {
      try {
        task(queue[k]);
      } catch (...) {
        failure[k] = std::current_exception();
      }
    }
  };
  {
    const std::size_t workers = std::min<std::size_t>(queue.size(), std::max(1u, std::thread::hardware_concurrency()));
    std::vector<std::jthread> helpers;
    for (std::size_t w = 1; w < workers; ++w) helpers.emplace_back(work);
    work();
  }
  for (const std::exception_ptr& failed : failure)
    if (failed) std::rethrow_exception(failed);
}

// One resource class's network as a ladder auction's input. Local order, entry and position numbers map
// back to the batch's orders, the network's entries and its positions through `order`, `entry` and
// `position`.
struct ClassMarket {
  detail::LadderMarket market;
  std::vector<std::uint32_t> order;
  std::vector<std::uint32_t> entry;
  std::vector<std::uint32_t> position;
  std::vector<std::uint32_t> offer;  // the batch's offer for each of the market's
};

// `net` is class c's part (CondensedNetwork's `only`).
ClassMarket class_market(const Batch& batch, const CondensedNetwork& net, ResourceClassIndex c) {
  ClassMarket part;
  // Sized first: grown entry by entry, the million entries of a 100k x 10k batch cost a third more.
  std::size_t orders = 0, offers = 0;
  for (const BuyOrder& order : batch.orders) orders += order.resource_class == c;
  for (const SellOffer& offer : batch.offers) offers += offer.resource_class == c;
  part.market.ladder_begin.push_back(0);
  part.market.entry_begin.reserve(orders + 1);
  part.market.entry_begin.push_back(0);
  part.market.order_units.reserve(orders);
  part.market.order_bid.reserve(orders);
  part.order.reserve(orders);
  part.market.entries.reserve(net.entries().size());
  part.entry.reserve(net.entries().size());
  part.market.offer_units.reserve(offers);
  part.market.offer_ask.reserve(offers);
  part.offer.reserve(offers);
  part.position.reserve(net.rung_offer_count());
  part.market.position_offer.reserve(net.rung_offer_count());

  std::vector<std::uint32_t> local_offer(batch.offers.size());  // the batch's offer -> the market's
  for (std::uint32_t j = 0; j < batch.offers.size(); ++j) {
    if (batch.offers[j].resource_class != c) continue;
    local_offer[j] = static_cast<std::uint32_t>(part.offer.size());
    part.offer.push_back(j);
    part.market.offer_units.push_back(batch.offers[j].units);
    part.market.offer_ask.push_back(batch.offers[j].ask);
  }
  // A ladder without offers has no entries and is left out.
  std::vector<std::uint32_t> local_ladder_of_rung(net.rung_count());
  std::vector<std::uint32_t> local_position(net.rung_offer_count());
  for (const Ladder& ladder : net.ladders()) {
    const std::uint32_t begin = net.first_offer_position(ladder.first_rung);
    const std::uint32_t end = net.first_offer_position(ladder.first_rung + ladder.rung_count);
    if (begin == end) continue;
    std::fill_n(local_ladder_of_rung.begin() + ladder.first_rung, ladder.rung_count,
                static_cast<std::uint32_t>(part.market.ladder_begin.size() - 1));
    for (std::uint32_t p = begin; p < end; ++p) {
      local_position[p] = static_cast<std::uint32_t>(part.position.size());
      part.position.push_back(p);
      part.market.position_offer.push_back(local_offer[net.offer_at_position()[p]]);
    }
    part.market.ladder_begin.push_back(static_cast<std::uint32_t>(part.position.size()));
  }
  // Entries are by order, so each order's come together.
  std::uint32_t x = 0;
  for (std::uint32_t i = 0; i < batch.orders.size(); ++i) {
    if (batch.orders[i].resource_class != c) continue;
    part.order.push_back(i);
    part.market.order_units.push_back(batch.orders[i].units);
    part.market.order_bid.push_back(batch.orders[i].bid);
    for (; x < net.entries().size() && net.entries()[x].order == i; ++x) {
      const Entry& entry = net.entries()[x];
      part.market.entries.push_back(
          {local_ladder_of_rung[entry.rung], local_position[net.first_offer_position(entry.rung)], entry.transfer});
      part.entry.push_back(x);
    }
    part.market.entry_begin.push_back(static_cast<std::uint32_t>(part.market.entries.size()));
  }
  return part;
}

// The ladder auction's clearing of every class, in the batch's numbering.
struct Auctioned {
  std::vector<Trade> trades;  // class by class
  std::vector<Fen> premium;   // per offer of the batch
};

// The ladder auction on every class's network, largest first, on the cores, each class's market built by
// the thread that clears it. Nothing when some class's prices are out of the auction's range, or its
// allocation could not be proven optimal (run_ladder_auction).
// Deterministic: each class's auction is, whatever thread runs it. An offer of a class where no order can
// reach any offer trades nothing and has no dearer alternative for a buyer: premium zero, as the no-trade
// arc gives it.
std::optional<Auctioned> auction_by_class(const Batch& batch, std::span<const std::optional<CondensedNetwork>> nets,
                                          const CondensedOptions& options, CondensedStatistics& stats) {
  std::vector<std::size_t> queue;
  for (std::size_t c = 0; c < nets.size(); ++c) {
    if (!nets[c]->entries().empty()) queue.push_back(c);  // without entries nothing can trade
  }
  std::stable_sort(queue.begin(), queue.end(),
                   [&](std::size_t a, std::size_t b) { return nets[a]->entries().size() > nets[b]->entries().size(); });
  Auctioned auctioned;
  auctioned.premium.assign(batch.offers.size(), 0);
  std::vector<std::optional<std::vector<Trade>>> traded(nets.size());
  std::vector<detail::LadderAuctionStatistics> seen(nets.size());
  on_cores(queue, [&](std::size_t c) {
    const CondensedNetwork& net = *nets[c];
    const ClassMarket part = class_market(batch, net, static_cast<ResourceClassIndex>(c));
    const std::optional<detail::LadderClearing> found =
        detail::run_ladder_auction(part.market, seen[c], options.ladders_scanned_below, options.auction_most_bids);
    if (!found) return;
    std::vector<Trade>& trades = traded[c].emplace();
    trades.reserve(found->trades.size());
    for (const detail::LadderTrade& trade : found->trades) {
      const Entry& entry = net.entries()[part.entry[trade.entry]];
      trades.push_back({part.order[trade.order], net.offer_at_position()[part.position[trade.position]], trade.units,
                        entry.transfer});
    }
    for (std::size_t j = 0; j < part.offer.size(); ++j) auctioned.premium[part.offer[j]] = found->offer_premium[j];
  });
  for (const std::size_t c : queue) {
    stats.auction_bids += seen[c].bids;
    stats.auction_out_of_bids = stats.auction_out_of_bids || seen[c].out_of_bids;
  }
  for (const std::size_t c : queue) {
    if (!traded[c]) return std::nullopt;
    stats.auction_phases = std::max(stats.auction_phases, seen[c].phases);
    stats.auction_lifts += seen[c].lifts;
    stats.auction_refreshed += seen[c].refreshed;
    stats.auction_shortlisted += seen[c].shortlisted;
    stats.auction_raised += seen[c].raised;
    auctioned.trades.insert(auctioned.trades.end(), traded[c]->begin(), traded[c]->end());
  }
  return auctioned;
}

// Buyer-optimal premiums after the simplex: v_j = -dist(no-trade -> offer j) in the residual network (see
// the essay). The simplex's potentials make every reduced length non-negative, so Dijkstra finds the
// distances; one that is negative means the duals are not optimal.
std::vector<Fen> buyer_optimal_premiums(const Batch& batch, const FlowNetwork& network, const FlowSolution& solution) {
  const std::size_t nodes = network.supply.size();
  const std::vector<Potential>& pi = solution.potential;
  const detail::ResidualNetwork residual = detail::residual_network(nodes, network, solution.flow);
  for (std::uint32_t v = 0; v < nodes; ++v) {
    for (std::uint32_t a = residual.begin[v]; a < residual.begin[v + 1]; ++a) {
      if (residual.length[a] + pi[v] - pi[residual.head[a]] < 0)
        throw std::logic_error("clearing prices: negative reduced length; the duals are not optimal");
    }
  }
  std::vector<Potential> distance(nodes, std::numeric_limits<Potential>::max());
  using Reached = std::pair<Potential, std::uint32_t>;
  std::priority_queue<Reached, std::vector<Reached>, std::greater<>> heap;
  distance[network.no_trade] = 0;
  heap.emplace(0, network.no_trade);
  while (!heap.empty()) {
    const auto [d, v] = heap.top();
    heap.pop();
    if (d != distance[v]) continue;
    for (std::uint32_t a = residual.begin[v]; a < residual.begin[v + 1]; ++a) {
      const std::uint32_t w = residual.head[a];
      const Potential through = d + residual.length[a] + pi[v] - pi[w];
      if (through < distance[w]) {
        distance[w] = through;
        heap.emplace(through, w);
      }
    }
  }
  const auto n = static_cast<std::uint32_t>(batch.orders.size());
  const Potential origin = pi[network.no_trade];
  std::vector<Fen> premium(batch.offers.size());
  for (std::uint32_t j = 0; j < batch.offers.size(); ++j) {
    // Reduced distances telescope: dist = reduced dist - pi(no-trade) + pi(j). The no-trade -> j arc bounds
    // it by zero, so every offer is reached and every premium is >= 0.
    premium[j] = -(distance[n + j] - origin + pi[n + j]);
  }
  return premium;
}

// The bipartite solvers' limits, for the same batches: |cost| * (nodes + 1) within kCostPathBound.
// Checked on the network's costs before it is laid out: an entry's transfer - bid, an exit's ask (the
// other arcs cost nothing).
std::string out_of_range(const Batch& batch, std::span<const std::optional<CondensedNetwork>> nets,
                         std::uint64_t node_count) {
  Objective ordered = 0;
  for (const BuyOrder& order : batch.orders) ordered += order.units;
  if (ordered > (Objective{1} << 62)) return "total ordered units " + to_string(ordered) + " exceed 2^62";
  Objective offered = 0;
  for (const SellOffer& offer : batch.offers) offered += offer.units;
  if (offered > (Objective{1} << 62)) return "total offered units " + to_string(offered) + " exceed 2^62";
  const Objective nodes = static_cast<Objective>(node_count) + 1;
  const auto too_large = [&](Cost cost) {
    const Objective magnitude = cost < 0 ? -Objective{cost} : cost;
    return magnitude * nodes > kCostPathBound;
  };
  const auto refusal = [&](Cost cost) {
    return "a price of " + std::to_string(cost < 0 ? -cost : cost) + " fen is too large for exact 64-bit duals with " +
           to_string(nodes - 1) + " nodes";
  };
  for (const std::optional<CondensedNetwork>& net : nets) {
    for (const Entry& entry : net->entries()) {
      const Cost cost = entry.transfer - batch.orders[entry.order].bid;
      if (too_large(cost)) return refusal(cost);
    }
  }
  for (const std::optional<CondensedNetwork>& net : nets) {
    for (std::uint32_t k = 0; k < net->rung_count(); ++k) {
      for (const std::uint32_t j : net->offers_at(k))
        if (too_large(batch.offers[j].ask)) return refusal(batch.offers[j].ask);
    }
  }
  return {};
}

}  // namespace

const char* to_string(CondensedEngine engine) {
  switch (engine) {
    case CondensedEngine::automatic:
      return "automatic";
    case CondensedEngine::ladder_auction:
      return "ladder auction";
    case CondensedEngine::network_simplex:
      return "network simplex";
  }
  return "?";
}

std::optional<ClearingResult> clear_batch_condensed(const Batch& batch, const Topology& topology,
                                                    const CondensedOptions& options, CondensedStatistics* statistics) {
  CondensedStatistics stats;
  ClearingResult result;
  const auto started = Clock::now();
  // Orders trade only within their resource class, so for the auction each class's network is built on its
  // own, the classes side by side on the cores (at 100k x 10k the network took 87 ms on one core, and the
  // auction's markets 36 ms more). The simplex takes the whole network at once.
  const bool by_class = options.engine != CondensedEngine::network_simplex;
  std::vector<std::optional<CondensedNetwork>> nets(by_class ? batch.resource_classes.size() : 1);
  if (by_class) {
    std::vector<std::size_t> classes(nets.size());
    std::iota(classes.begin(), classes.end(), std::size_t{0});
    on_cores(classes, [&](std::size_t c) { nets[c].emplace(batch, topology, static_cast<ResourceClassIndex>(c)); });
  } else {
    nets[0].emplace(batch, topology);
  }
  std::uint64_t rung_offers = 0, climbs = 0;
  for (const std::optional<CondensedNetwork>& net : nets) {
    stats.ladders += net->ladders().size();
    stats.rungs += net->rung_count();
    stats.entries += net->entries().size();
    rung_offers += net->rung_offer_count();
    for (const Ladder& ladder : net->ladders()) climbs += ladder.rung_count > 0 ? ladder.rung_count - 1 : 0;
  }
  // Counted, not laid out: the auction works on the ladders themselves, and only the simplex needs the arcs
  // as a list (54 ms of lay_out at 100k x 10k).
  stats.nodes = batch.orders.size() + batch.offers.size() + 1 + stats.rungs;
  stats.arcs = batch.orders.size() + stats.entries + batch.offers.size() + rung_offers + climbs;
  stats.build_ms = milliseconds_since(started);
  const auto report = [&] {
    if (statistics) *statistics = stats;
  };
  if (stats.arcs > options.most_arcs) {
    report();
    return std::nullopt;
  }
  if (std::string defect = out_of_range(batch, nets, stats.nodes); !defect.empty()) {
    result.status = SolveStatus::out_of_range;
    result.detail = std::move(defect);
    report();
    return result;
  }

  const auto solving = Clock::now();
  std::vector<Trade> trades;
  std::vector<Fen> premium;
  std::optional<Auctioned> auctioned;
  if (options.engine == CondensedEngine::ladder_auction ||
      (options.engine == CondensedEngine::automatic && !simplex_is_faster(stats.arcs))) {
    auctioned = auction_by_class(batch, nets, options, stats);
  }
  if (auctioned) {
    stats.engine = CondensedEngine::ladder_auction;
    trades = std::move(auctioned->trades);
    premium = std::move(auctioned->premium);  // the auction's own proof of optimality priced it
    stats.solve_ms = milliseconds_since(solving);
  } else {
    stats.engine = CondensedEngine::network_simplex;
    std::optional<CondensedNetwork> whole;
    // A small batch's (simplex_is_faster), or one the auction could not clear (run_ladder_auction).
    if (by_class) whole.emplace(batch, topology);
    const CondensedNetwork& net = by_class ? *whole : *nets[0];
    const FlowNetwork network = lay_out(batch, net);
    if (network.from.size() != stats.arcs || network.supply.size() != stats.nodes)
      throw std::logic_error("condensed clearing: the network laid out differs from the one counted");
    const FlowSolution solution = solve_min_cost_flow(network);
    trades = decompose(batch, net, network, solution);
    stats.solve_ms = milliseconds_since(solving);
    const auto pricing = Clock::now();
    premium = buyer_optimal_premiums(batch, network, solution);
    stats.price_ms = milliseconds_since(pricing);
  }

  result.offer_price.resize(batch.offers.size());
  for (std::size_t j = 0; j < batch.offers.size(); ++j) result.offer_price[j] = batch.offers[j].ask + premium[j];

  std::sort(trades.begin(), trades.end(),
            [](const Trade& a, const Trade& b) { return a.order != b.order ? a.order < b.order : a.offer < b.offer; });
  for (const Trade& trade : trades) {
    const Fen surplus = batch.orders[trade.order].bid - batch.offers[trade.offer].ask - trade.transfer;
    if (surplus < 0) throw std::logic_error("condensed clearing: a trade with negative surplus in an optimal flow");
    if (surplus == 0) {
      stats.zero_surplus_units += trade.units;
      continue;
    }
    result.contracts.push_back({batch.orders[trade.order].id, batch.offers[trade.offer].id, trade.units,
                                result.offer_price[trade.offer], trade.transfer});
    result.total_surplus += static_cast<Objective>(trade.units) * surplus;
    result.units_traded += trade.units;
  }
  result.status = SolveStatus::optimal;
  result.solution.status = SolveStatus::optimal;
  report();
  return result;
}

TransportationSolution as_bipartite_solution(const Batch& batch, const MarketGraph& graph,
                                             const ClearingResult& result) {
  const TransportationProblem& problem = graph.problem;
  std::unordered_map<OrderId, NodeIndex> order_index;
  std::unordered_map<OfferId, NodeIndex> offer_index;
  for (NodeIndex i = 0; i < batch.orders.size(); ++i) order_index.emplace(batch.orders[i].id, i);
  for (NodeIndex j = 0; j < batch.offers.size(); ++j) offer_index.emplace(batch.offers[j].id, j);

  std::vector<Units> filled(batch.orders.size(), 0);
  std::vector<Units> sold(batch.offers.size(), 0);
  TransportationSolution solution;
  solution.status = SolveStatus::optimal;
  Units traded = 0;
  for (const Contract& contract : result.contracts) {
    const auto i = order_index.find(contract.order);
    const auto j = offer_index.find(contract.offer);
    if (i == order_index.end() || j == offer_index.end())
      throw std::invalid_argument("contract names an order or offer not in the batch");
    // A row's trading arcs are in offer order, followed by its arc to "unfilled".
    const auto row = problem.arc_sink.begin();
    const auto first = row + static_cast<std::ptrdiff_t>(problem.row_begin[i->second]);
    const auto last = row + static_cast<std::ptrdiff_t>(problem.row_begin[i->second + 1] - 1);
    const auto at = std::lower_bound(first, last, j->second);
    if (at == last || *at != j->second) {
      throw std::invalid_argument("contract of order " + std::to_string(contract.order) + " with offer " +
                                  std::to_string(contract.offer) + " is not an allowed trade");
    }
    solution.flows.push_back({static_cast<ArcIndex>(at - row), contract.units});
    filled[i->second] += contract.units;
    sold[j->second] += contract.units;
    traded += contract.units;
  }
  for (NodeIndex i = 0; i < graph.order_count; ++i) {
    if (batch.orders[i].units > filled[i])
      solution.flows.push_back({problem.row_begin[i + 1] - 1, batch.orders[i].units - filled[i]});
  }
  const ArcIndex unsold_row = problem.row_begin[graph.unsold_source()];
  for (NodeIndex j = 0; j < graph.offer_count; ++j) {
    if (batch.offers[j].units > sold[j]) solution.flows.push_back({unsold_row + j, batch.offers[j].units - sold[j]});
  }
  solution.flows.push_back({unsold_row + graph.offer_count, traded + 1});
  std::sort(solution.flows.begin(), solution.flows.end(),
            [](const ArcFlow& a, const ArcFlow& b) { return a.arc < b.arc; });

  solution.sink_potential.assign(problem.sink_count(), 0);
  solution.source_potential.assign(problem.source_count(), 0);
  for (NodeIndex j = 0; j < graph.offer_count; ++j) {
    solution.sink_potential[j] = result.offer_price[j] - batch.offers[j].ask;
  }
  for (NodeIndex i = 0; i < graph.order_count; ++i) {
    Potential best = 0;
    for (ArcIndex e = problem.row_begin[i]; e + 1 < problem.row_begin[i + 1]; ++e) {
      best = std::max(best, graph.surplus(e) - solution.sink_potential[problem.arc_sink[e]]);
    }
    solution.source_potential[i] = -best;
  }
  solution.objective = total_cost(problem, solution.flows);
  return solution;
}

}  // namespace ewx
