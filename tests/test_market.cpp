// The market: topology, batch files, the batch builder, and clearing (surplus, equilibrium, minimal prices).
#include <doctest/doctest.h>

#include <functional>
#include <map>
#include <numeric>
#include <optional>
#include <set>
#include <sstream>

#include "matcher/auction_lots.hpp"
#include "matcher/batch_builder.hpp"
#include "matcher/batch_file.hpp"
#include "matcher/certificate.hpp"
#include "matcher/clearing.hpp"
#include "matcher/condensed_clearing.hpp"
#include "matcher/cpu_solver.hpp"
#include "matcher/equilibrium_check.hpp"
#include "matcher/line_scanner.hpp"
#include "matcher/market_generator.hpp"
#include "matcher/residual_network.hpp"
#include "matcher/two_smallest.hpp"

using namespace ewx;

namespace {

std::string error_of(const std::function<void()>& parse) {
  try {
    parse();
  } catch (const InputError& error) {
    return error.what();
  }
  return "";
}

// The market's allowed-trade rule, written here once as the tests' own oracle (independent of the batch
// builder and of the equilibrium checker): the surplus per unit of a pair that may trade, or nothing.
std::optional<Fen> allowed_surplus(const BuyOrder& o, const SellOffer& s, const Topology& topology) {
  const auto& link = topology.link(o.hub, s.cluster);
  if (o.resource_class != s.resource_class || !link || link->latency_ms > o.max_latency_ms) return std::nullopt;
  if (s.window_begin > o.window_begin || s.window_end < o.window_end || s.green_percent < o.min_green_percent) {
    return std::nullopt;
  }
  const Fen surplus = o.bid - s.ask - link->transfer_charge;
  if (surplus <= 0) return std::nullopt;
  return surplus;
}

// A random tiny batch on the default topology where many pairs can trade and prices collide often.
Batch tiny_batch(SeededRandom& random, int orders, int offers) {
  Batch batch;
  batch.resource_classes = {"gpu.h100", "cpu.c64"};
  const Topology& topology = default_topology();
  for (int k = 0; k < offers; ++k) {
    SellOffer offer;
    offer.id = 100 + k;
    offer.cluster = static_cast<ClusterIndex>(random.between(0, topology.clusters.size() - 1));
    offer.resource_class = static_cast<ResourceClassIndex>(random.between(0, 1));
    offer.units = random.between(1, 3);
    offer.ask = random.between(100, 130);
    offer.green_percent = static_cast<std::int32_t>(random.between(0, 100));
    offer.window_begin = random.between(0, 2);
    offer.window_end = offer.window_begin + random.between(4, 8);
    batch.offers.push_back(offer);
  }
  for (int k = 0; k < orders; ++k) {
    BuyOrder order;
    order.id = 1 + k;
    order.hub = static_cast<HubIndex>(random.between(0, 3));
    order.resource_class = static_cast<ResourceClassIndex>(random.between(0, 1));
    order.units = random.between(1, 3);
    order.bid = random.between(170, 260);
    order.max_latency_ms = static_cast<std::int32_t>(random.between(10, 40));
    order.min_green_percent = static_cast<std::int32_t>(random.between(0, 1) ? 0 : random.between(0, 100));
    order.window_begin = random.between(1, 3);
    order.window_end = order.window_begin + random.between(1, 3);
    batch.orders.push_back(order);
  }
  return batch;
}

// Maximum total surplus by trying every allocation: independent of the builder and the solver.
Objective brute_force_surplus(const Batch& batch, const Topology& topology) {
  struct Pair {
    std::size_t order, offer;
    Fen surplus;
  };
  std::vector<Pair> pairs;
  for (std::size_t i = 0; i < batch.orders.size(); ++i) {
    for (std::size_t j = 0; j < batch.offers.size(); ++j) {
      if (const auto surplus = allowed_surplus(batch.orders[i], batch.offers[j], topology))
        pairs.push_back({i, j, *surplus});
    }
  }
  std::vector<Units> filled(batch.orders.size(), 0), sold(batch.offers.size(), 0);
  Objective best = 0;
  std::function<void(std::size_t, Objective)> go = [&](std::size_t k, Objective total) {
    if (k == pairs.size()) {
      best = std::max(best, total);
      return;
    }
    const Pair& p = pairs[k];
    const Units most =
        std::min(batch.orders[p.order].units - filled[p.order], batch.offers[p.offer].units - sold[p.offer]);
    for (Units x = 0; x <= most; ++x) {
      filled[p.order] += x;
      sold[p.offer] += x;
      go(k + 1, total + static_cast<Objective>(x) * p.surplus);
      filled[p.order] -= x;
      sold[p.offer] -= x;
    }
  };
  go(0, 0);
  return best;
}

// The smallest equilibrium premiums, by Bellman-Ford over the difference constraints of
// clearing_prices.cpp, written again here from the contracts alone.
std::vector<Fen> bellman_ford_premiums(const Batch& batch, const Topology& topology, const ClearingResult& result) {
  const std::size_t n = batch.orders.size(), m = batch.offers.size();
  const std::size_t o = n + m;  // the outside node
  struct Edge {
    std::size_t from, to;
    Fen length;
  };
  std::vector<Edge> edges;
  std::map<std::pair<std::size_t, std::size_t>, Units> traded;
  std::map<OrderId, std::size_t> order_at;
  std::map<OfferId, std::size_t> offer_at;
  for (std::size_t i = 0; i < n; ++i) order_at[batch.orders[i].id] = i;
  for (std::size_t j = 0; j < m; ++j) offer_at[batch.offers[j].id] = j;
  std::vector<Units> filled(n, 0);
  for (const Contract& c : result.contracts) {
    traded[{order_at[c.order], offer_at[c.offer]}] += c.units;
    filled[order_at[c.order]] += c.units;
  }
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < m; ++j) {
      const auto surplus = allowed_surplus(batch.orders[i], batch.offers[j], topology);
      if (!surplus) continue;
      edges.push_back({i, n + j, -*surplus});
      if (traded.count({i, j})) edges.push_back({n + j, i, *surplus});
    }
    if (filled[i] < batch.orders[i].units) edges.push_back({o, i, 0});
  }
  for (std::size_t j = 0; j < m; ++j) edges.push_back({o, n + j, 0});
  std::vector<Objective> dist(n + m + 1, std::numeric_limits<std::int64_t>::max());
  dist[o] = 0;
  for (std::size_t round = 0; round <= n + m; ++round) {
    for (const Edge& e : edges) {
      if (dist[e.from] != std::numeric_limits<std::int64_t>::max() && dist[e.from] + e.length < dist[e.to]) {
        dist[e.to] = dist[e.from] + e.length;
      }
    }
  }
  std::vector<Fen> premium(m);
  for (std::size_t j = 0; j < m; ++j) premium[j] = static_cast<Fen>(-dist[n + j]);
  return premium;
}

}  // namespace

TEST_CASE("the built-in topology is the East Data, West Computing plan") {
  const Topology& topology = default_topology();
  CHECK(topology.hubs.size() == 8);
  CHECK(topology.clusters.size() == 10);
  const HubIndex yrd = *topology.find_hub("yrd");
  const ClusterIndex wuhu = *topology.find_cluster("wuhu");
  const ClusterIndex zhongwei = *topology.find_cluster("zhongwei");
  CHECK(topology.clusters[wuhu].hub == yrd);
  CHECK(topology.link(yrd, wuhu)->latency_ms < topology.link(yrd, zhongwei)->latency_ms);
  for (HubIndex h = 0; h < 8; ++h) {
    for (ClusterIndex c = 0; c < 10; ++c) {
      const auto& link = topology.link(h, c);
      REQUIRE(link);
      CHECK(link->latency_ms >= 3);
      CHECK(link->latency_ms <= 40);
    }
  }
  // The text form round-trips.
  const Topology again = parse_topology(format_topology(topology), "again");
  CHECK(format_topology(again) == format_topology(topology));
}

TEST_CASE("malformed topology files name the line") {
  const auto parse = [](const std::string& text) { return error_of([&] { parse_topology(text, "t.topo"); }); };
  CHECK(parse("hub a A\n") == "t.topo:1: expected the header 'ewx-topology 1', found 'hub'");
  CHECK(parse("ewx-topology 2\n") == "t.topo:1: unsupported topology format version (this ewx reads 1)");
  CHECK(parse("ewx-topology 1\nhub a A\ncluster c b C\n") == "t.topo:3: cluster 'c' names unknown hub 'b'");
  CHECK(parse("ewx-topology 1\nhub a A\ncluster c a C\nlink a c -1 2\n") ==
        "t.topo:4: latency in ms -1 is outside 0..100000");
  CHECK(parse("ewx-topology 1\nhub a A\ncluster c a C\nlink a c 1 2\nlink a c 1 2\n") ==
        "t.topo:5: link a -> c is given twice");
  CHECK(parse("ewx-topology 1\nhub a A\nhub a B\n") == "t.topo:3: key 'a' is used twice");
  CHECK(parse("ewx-topology 1\n").find("at least one hub and one cluster") != std::string::npos);
}

TEST_CASE("batch files round-trip, and malformed ones name the line") {
  const Topology& topology = default_topology();
  const Batch batch = generate_market({.orders = 200, .offers = 20, .seed = 3}, topology);
  std::ostringstream text;
  write_batch(text, batch, topology);
  CHECK(looks_like_batch(text.str()));
  const Batch again = parse_batch(text.str(), "b", topology);
  std::ostringstream text_again;
  write_batch(text_again, again, topology);
  CHECK(text_again.str() == text.str());

  const auto parse = [&](const std::string& body) {
    return error_of([&] { parse_batch("ewx-batch 1\n" + body, "t.batch", topology); });
  };
  CHECK(parse("order 1 mars gpu.h100 1 100 20 0 10 12\n") == "t.batch:2: unknown hub 'mars'");
  CHECK(parse("offer 1 moon gpu.h100 1 100 20 10 12\n") == "t.batch:2: unknown cluster 'moon'");
  CHECK(parse("order 1 yrd gpu.h100 0 100 20 0 10 12\n") == "t.batch:2: units 0 is outside 1..1000000000");
  CHECK(parse("order 1 yrd gpu.h100 1 -5 20 0 10 12\n") == "t.batch:2: bid in fen -5 is outside 0..1000000000000");
  CHECK(parse("order 1 yrd gpu.h100 1 100 20 101 10 12\n") ==
        "t.batch:2: minimum green share in % 101 is outside 0..100");
  CHECK(parse("order 1 yrd gpu.h100 1 100 20 0 12 12\n") == "t.batch:2: empty window [12, 12)");
  CHECK(parse("order 1 yrd gpu.h100 1 100 20 0 10 12\norder 1 yrd gpu.h100 1 100 20 0 10 12\n") ==
        "t.batch:3: order id 1 appears twice");
  CHECK(parse("offer 1 wuhu gpu.h100 1 100 20 10\n") == "t.batch:2: missing window end hour");
  CHECK(parse("order 1 yrd gpu.h100 1 100 20 0 10 12 x\n") ==
        "t.batch:2: expected an integer for participant, found 'x'");
  CHECK(parse("order 1 yrd gpu.h100 1 100 20 0 10 12 7 8\n") ==
        "t.batch:2: unexpected text '8' at the end of the line");
  const Batch owned = parse_batch(
      "ewx-batch 1\norder 1 yrd gpu.h100 1 100 20 0 10 12 7\noffer 2 wuhu gpu.h100 1 90 20 0 99\n", "b", topology);
  CHECK(owned.orders[0].participant == 7);
  CHECK(owned.offers[0].participant == 0);  // optional
  CHECK(parse("order 1 yrd " + std::string(65, 'g') + " 1 100 20 0 10 12\n") ==
        "t.batch:2: resource class longer than 64 characters");
  CHECK(parse("order 1 yrd gpu.h100 1 100 99999999999 0 10 12\n") ==
        "t.batch:2: maximum latency in ms 99999999999 is outside -2147483648..2147483647");
  CHECK(parse("bid 1\n") == "t.batch:2: unknown line type 'bid' (expected batch, order or offer)");
  CHECK(error_of([&] { parse_batch("", "t.batch", topology); }).find("no 'ewx-batch 1' header") != std::string::npos);
}

TEST_CASE("the batch builder links exactly the pairs the market rule allows") {
  const Topology& topology = default_topology();
  const Batch batch = generate_market({.orders = 300, .offers = 60, .seed = 17}, topology);
  const MarketGraph graph = build_market_graph(batch, topology);
  std::set<std::pair<NodeIndex, NodeIndex>> built;
  for (NodeIndex i = 0; i < graph.order_count; ++i) {
    for (ArcIndex e = graph.problem.row_begin[i]; e < graph.problem.row_begin[i + 1]; ++e) {
      if (!graph.is_trade(e)) continue;
      built.insert({i, graph.problem.arc_sink[e]});
      const BuyOrder& o = batch.orders[i];
      const SellOffer& s = batch.offers[graph.problem.arc_sink[e]];
      CHECK(graph.surplus(e) == o.bid - s.ask - topology.link(o.hub, s.cluster)->transfer_charge);
    }
  }
  std::size_t allowed = 0;
  for (NodeIndex i = 0; i < batch.orders.size(); ++i) {
    for (NodeIndex j = 0; j < batch.offers.size(); ++j) {
      const bool ok = allowed_surplus(batch.orders[i], batch.offers[j], topology).has_value();
      allowed += ok;
      CHECK(ok == (built.count({i, j}) == 1));
    }
  }
  CHECK(allowed == graph.trade_count());
  CHECK(allowed > 300);  // the generated market really trades
}

TEST_CASE("tiny markets clear to the brute-force maximum surplus, at minimal equilibrium prices") {
  SeededRandom random(11);
  const Topology& topology = default_topology();
  int traded_batches = 0;
  for (int round = 0; round < 300; ++round) {
    const Batch batch =
        tiny_batch(random, static_cast<int>(random.between(0, 4)), static_cast<int>(random.between(0, 3)));
    const ClearingResult result = clear_batch(batch, topology);
    CAPTURE(round);
    REQUIRE(result.status == SolveStatus::optimal);
    CHECK(result.total_surplus == brute_force_surplus(batch, topology));
    CHECK(check_certificate(result.graph.problem, result.solution).optimal);
    const EquilibriumReport equilibrium = check_equilibrium(batch, topology, result.contracts, result.offer_price);
    CHECK_MESSAGE(equilibrium.holds, equilibrium.failure);
    CHECK(equilibrium.total_surplus == result.total_surplus);
    const std::vector<Fen> minimal = bellman_ford_premiums(batch, topology, result);
    for (std::size_t j = 0; j < batch.offers.size(); ++j)
      CHECK(result.offer_price[j] == batch.offers[j].ask + minimal[j]);
    traded_batches += !result.contracts.empty();
  }
  CHECK(traded_batches > 80);  // enough batches really traded for the comparison to mean something
}

TEST_CASE("generated markets: certified, in equilibrium, minimal prices, deterministic, pricing-independent") {
  const Topology& topology = default_topology();
  for (const std::uint64_t seed : {1u, 2u, 3u}) {
    const Batch batch = generate_market({.orders = 600, .offers = 60, .seed = seed}, topology);
    const ClearingResult result = clear_batch(batch, topology);
    REQUIRE(result.status == SolveStatus::optimal);
    CHECK(check_certificate(result.graph.problem, result.solution).optimal);
    const EquilibriumReport equilibrium = check_equilibrium(batch, topology, result.contracts, result.offer_price);
    CHECK_MESSAGE(equilibrium.holds, equilibrium.failure);
    CHECK(result.contracts.size() > 30);
    const std::vector<Fen> minimal = bellman_ford_premiums(batch, topology, result);
    bool some_premium = false;
    for (std::size_t j = 0; j < batch.offers.size(); ++j) {
      CHECK(result.offer_price[j] == batch.offers[j].ask + minimal[j]);
      some_premium = some_premium || minimal[j] > 0;
    }
    CHECK(some_premium);  // a tight market: some offers clear above their ask

    const ClearingResult again = clear_batch(batch, topology);
    CHECK(again.solution.flows == result.solution.flows);
    CHECK(again.offer_price == result.offer_price);
    const ClearingResult whole = clear_batch(batch, topology, {.arc_pricing = false});
    CHECK(whole.total_surplus == result.total_surplus);
    // The other exact engine reaches the same surplus, and the same (unique) buyer-optimal prices.
    const ClearingResult by_auction = clear_batch(batch, topology, {.engine = CpuEngine::auction});
    CHECK(by_auction.total_surplus == result.total_surplus);
    CHECK(by_auction.offer_price == result.offer_price);
    CHECK(check_certificate(by_auction.graph.problem, by_auction.solution).optimal);
  }
}

TEST_CASE("the equilibrium check rejects prices below the minimum and unfair allocations") {
  const Topology& topology = default_topology();
  const Batch batch = generate_market({.orders = 400, .offers = 40, .seed = 9}, topology);
  const ClearingResult result = clear_batch(batch, topology);
  REQUIRE(check_equilibrium(batch, topology, result.contracts, result.offer_price).holds);

  std::size_t premium_offer = batch.offers.size();
  for (std::size_t j = 0; j < batch.offers.size(); ++j) {
    if (result.offer_price[j] > batch.offers[j].ask) premium_offer = j;
  }
  REQUIRE(premium_offer < batch.offers.size());
  std::vector<Fen> lower = result.offer_price;
  --lower[premium_offer];
  std::vector<Contract> relabelled = result.contracts;
  for (Contract& c : relabelled) {
    if (c.offer == batch.offers[premium_offer].id) c.price = lower[premium_offer];
  }
  CHECK_FALSE(check_equilibrium(batch, topology, relabelled, lower).holds);

  std::vector<Fen> below_ask = result.offer_price;
  below_ask[0] = batch.offers[0].ask - 1;
  CHECK_FALSE(check_equilibrium(batch, topology, result.contracts, below_ask).holds);

  std::vector<Contract> dropped = result.contracts;
  dropped.pop_back();  // someone who should trade does not
  CHECK_FALSE(check_equilibrium(batch, topology, dropped, result.offer_price).holds);
}

TEST_CASE("prices near the limit clear exactly") {
  Batch batch;
  batch.resource_classes = {"gpu.h100"};
  const Topology& topology = default_topology();
  const HubIndex bth = *topology.find_hub("bth");
  const ClusterIndex zjk = *topology.find_cluster("zhangjiakou");
  batch.orders.push_back({1, bth, 0, kMaxUnits, kMaxPrice, 40, 0, 10, 20});
  batch.orders.push_back({2, bth, 0, kMaxUnits, kMaxPrice - 1, 40, 0, 10, 20});
  batch.offers.push_back({7, zjk, 0, kMaxUnits, 0, 50, 0, 100});
  const ClearingResult result = clear_batch(batch, topology);
  REQUIRE(result.status == SolveStatus::optimal);
  const Fen transfer = topology.link(bth, zjk)->transfer_charge;
  CHECK(result.total_surplus == Objective{kMaxUnits} * (kMaxPrice - transfer));
  // The losing bidder sets the price: the winner pays what the runner-up would.
  CHECK(result.offer_price[0] == kMaxPrice - 1 - transfer);
  CHECK(check_equilibrium(batch, topology, result.contracts, result.offer_price).holds);
}

// The condensed network (matcher/condensed_clearing.hpp) must clear exactly like the bipartite problem: the
// same maximum surplus and the same buyer-optimal prices, certified on the bipartite problem.
namespace {

constexpr CondensedEngine kEngines[] = {CondensedEngine::ladder_auction, CondensedEngine::network_simplex};

ClearingResult clear_condensed(const Batch& batch, const Topology& topology,
                               CondensedEngine engine = CondensedEngine::ladder_auction,
                               CondensedStatistics* stats = nullptr,
                               std::uint32_t scanned_below = detail::kLaddersScannedBelow) {
  CondensedStatistics seen;
  std::optional<ClearingResult> result =
      clear_batch_condensed(batch, topology, {.engine = engine, .ladders_scanned_below = scanned_below}, &seen);
  CHECK(seen.engine == engine);
  if (stats) *stats = seen;
  REQUIRE(result.has_value());
  REQUIRE(result->status == SolveStatus::optimal);
  return std::move(*result);
}

void check_certified_condensed(const Batch& batch, const Topology& topology, const ClearingResult& result) {
  const MarketGraph graph = build_market_graph(batch, topology);
  const CertificateReport certificate = check_certificate(graph.problem, as_bipartite_solution(batch, graph, result));
  CHECK_MESSAGE(certificate.optimal, certificate.failure);
  const EquilibriumReport equilibrium = check_equilibrium(batch, topology, result.contracts, result.offer_price);
  CHECK_MESSAGE(equilibrium.holds, equilibrium.failure);
  CHECK(equilibrium.total_surplus == result.total_surplus);
}

}  // namespace

TEST_CASE("two-smallest queries answer the same from trees, from scanned leaves and by brute force") {
  // The ladder auction scans short ladders and walks trees for long ones; the same ties must fall the same way.
  SeededRandom random(41);
  std::vector<std::uint32_t> begin{0};
  for (int s = 0; s < 30; ++s) begin.push_back(begin.back() + static_cast<std::uint32_t>(random.between(0, 40)));
  detail::SegmentForest trees(begin), scanned(begin, 1000);
  std::vector<Potential> key(begin.back(), detail::kNoKey);
  const auto brute = [&](std::uint32_t s, std::uint32_t from) {
    detail::TwoSmallest out;
    for (std::uint32_t leaf = from; leaf < begin[s + 1]; ++leaf)
      out = detail::merge(out, detail::TwoSmallest{{key[leaf], detail::kNoKey}, {leaf, detail::kNoId}});
    return out;
  };
  const auto same = [](const detail::TwoSmallest& a, const detail::TwoSmallest& b) {
    return a.key[0] == b.key[0] && a.key[1] == b.key[1] && (a.key[0] == detail::kNoKey || a.id[0] == b.id[0]) &&
           (a.key[1] == detail::kNoKey || a.id[1] == b.id[1]);
  };
  int compared = 0;
  for (int step = 0; step < 4000; ++step) {
    const auto s = static_cast<std::uint32_t>(random.between(0, 29));
    if (begin[s + 1] == begin[s]) continue;
    const auto leaf = begin[s] + static_cast<std::uint32_t>(random.between(0, begin[s + 1] - begin[s] - 1));
    if (random.between(0, 1) == 0) {
      key[leaf] = random.between(0, 12);  // a narrow range, so ties are common
      const std::uint64_t before = trees.version(s);
      trees.set(leaf, key[leaf]);
      scanned.set(leaf, key[leaf]);
      CHECK(trees.version(s) == before + 1);
      CHECK(scanned.version(s) == trees.version(s));
    } else {
      const detail::TwoSmallest expected = brute(s, leaf);
      CHECK(same(trees.suffix(s, leaf), expected));
      CHECK(same(scanned.suffix(s, leaf), expected));
      CHECK(same(trees.all(s), brute(s, begin[s])));
      CHECK(same(scanned.all(s), brute(s, begin[s])));
      ++compared;
    }
  }
  CHECK(compared > 1500);
}

TEST_CASE("the label-correcting search settles to Bellman-Ford's distances, and meets every reachable negative cycle") {
  // The ladder auction's proof of optimality and its prices rest on this search (residual_network.hpp): it
  // must settle exactly where no negative cycle is reachable, and otherwise find the cycle, well before any
  // budget that would settle a network without one runs out.
  SeededRandom random(53);
  int cycles_found = 0, settled = 0;
  for (int round = 0; round < 400; ++round) {
    const auto nodes = static_cast<std::uint32_t>(random.between(2, 12));
    // Lengths are potential differences plus a non-negative slack: negative arcs, but no negative cycle.
    std::vector<Potential> pi(nodes);
    for (Potential& p : pi) p = random.between(-50, 50);
    detail::FlowArcs arcs;
    const auto arc_count = static_cast<int>(random.between(1, 4 * nodes));
    for (int k = 0; k < arc_count; ++k) {
      const auto a = static_cast<std::uint32_t>(random.between(0, nodes - 1));
      const auto b = static_cast<std::uint32_t>(random.between(0, nodes - 1));
      if (a != b) arcs.add(a, b, pi[b] - pi[a] + random.between(0, 6));
    }
    const bool with_cycle = round % 2 == 1;
    if (with_cycle) {
      // A cycle of length -1 through distinct nodes, the source among them or not, reached from the source.
      std::vector<std::uint32_t> ring(nodes);
      std::iota(ring.begin(), ring.end(), 0u);
      for (std::uint32_t k = nodes - 1; k > 0; --k) std::swap(ring[k], ring[random.between(0, k)]);
      ring.resize(random.between(2, nodes));
      if (ring[0] != 0) arcs.add(0, ring[0], random.between(0, 20));
      Potential length = 0;
      for (std::size_t k = 0; k + 1 < ring.size(); ++k) {
        const Potential step = random.between(-30, 30);
        arcs.add(ring[k], ring[k + 1], step);
        length += step;
      }
      arcs.add(ring.back(), ring[0], -1 - length);
    }
    const std::vector<Quantity> no_flow(arcs.from.size(), 0);
    const detail::ResidualNetwork network = detail::residual_network(nodes, arcs, no_flow);
    std::vector<Potential> distance;
    // The budget is far beyond what settles any network of this size: a reachable negative cycle must be
    // met, not merely outlast it.
    const detail::Search found =
        detail::settle_distances(network, 0, std::uint64_t{nodes + 1} * nodes * 1000, distance);
    CAPTURE(round);
    if (with_cycle) {
      CHECK(found == detail::Search::negative_cycle);
      ++cycles_found;
      continue;
    }
    REQUIRE(found == detail::Search::settled);
    ++settled;
    constexpr Potential kFar = std::numeric_limits<Potential>::max();
    std::vector<Potential> expected(nodes, kFar);
    expected[0] = 0;
    for (std::uint32_t pass = 0; pass + 1 < nodes; ++pass) {
      for (std::size_t e = 0; e < arcs.from.size(); ++e) {
        if (expected[arcs.from[e]] != kFar)
          expected[arcs.to[e]] = std::min(expected[arcs.to[e]], expected[arcs.from[e]] + arcs.cost[e]);
      }
    }
    CHECK(distance == expected);
  }
  CHECK(cycles_found > 80);
  CHECK(settled > 80);
}

TEST_CASE("the condensed network clears tiny markets to the brute-force maximum, at minimal prices") {
  // tiny_batch draws offer starts before and after order starts, any green share and colliding prices, so
  // every ladder threshold and tie is exercised.
  SeededRandom random(23);
  const Topology& topology = default_topology();
  int traded_batches = 0;
  for (int round = 0; round < 300; ++round) {
    const Batch batch =
        tiny_batch(random, static_cast<int>(random.between(0, 5)), static_cast<int>(random.between(0, 4)));
    CAPTURE(round);
    for (const CondensedEngine engine : kEngines) {
      CAPTURE(to_string(engine));
      // Every other round with the ladders in trees instead of scanned, so that both paths meet brute force.
      const ClearingResult result =
          clear_condensed(batch, topology, engine, nullptr, round % 2 == 0 ? detail::kLaddersScannedBelow : 0);
      CHECK(result.total_surplus == brute_force_surplus(batch, topology));
      const std::vector<Fen> minimal = bellman_ford_premiums(batch, topology, result);
      for (std::size_t j = 0; j < batch.offers.size(); ++j)
        CHECK(result.offer_price[j] == batch.offers[j].ask + minimal[j]);
      check_certified_condensed(batch, topology, result);
      traded_batches += !result.contracts.empty();
    }
  }
  CHECK(traded_batches > 160);
}

TEST_CASE("generated markets: the condensed network reaches clear_batch's surplus and prices, deterministically") {
  const Topology& topology = default_topology();
  for (const auto& [orders, offers, seed, engine] :
       {std::tuple{600u, 60u, 1u, CondensedEngine::ladder_auction},
        {600u, 60u, 2u, CondensedEngine::ladder_auction},
        {3000u, 300u, 3u, CondensedEngine::ladder_auction},
        {600u, 60u, 4u, CondensedEngine::network_simplex},
        {3000u, 300u, 5u, CondensedEngine::network_simplex},
        // Offers outnumbering orders, as in continuous trading: the unsold source must lift the offers it holds.
        {400u, 800u, 6u, CondensedEngine::ladder_auction}}) {
    CAPTURE(seed);
    const Batch batch = generate_market({.orders = orders, .offers = offers, .seed = seed}, topology);
    CondensedStatistics stats;
    const ClearingResult result = clear_condensed(batch, topology, engine, &stats);
    const ClearingResult bipartite = clear_batch(batch, topology);
    CHECK(result.total_surplus == bipartite.total_surplus);
    CHECK(result.offer_price == bipartite.offer_price);
    CHECK(result.contracts.size() > 30);
    check_certified_condensed(batch, topology, result);
    // Condensed indeed, once orders reach many offers each: far fewer arcs than the pairs that can trade.
    if (orders >= 3000) CHECK(stats.arcs * 3 < bipartite.graph.trade_count());
    if (offers > orders) CHECK(stats.auction_lifts > 0);
    // With every ladder in a tree (short ones are scanned, and read current keys), prices rose under the
    // trees and queries met the old keys: the lazy path gives the same clearing.
    if (engine == CondensedEngine::ladder_auction) {
      CondensedStatistics in_trees;
      const ClearingResult treed = clear_condensed(batch, topology, engine, &in_trees, 0);
      CHECK(in_trees.auction_refreshed > 0);
      CHECK(stats.auction_refreshed == 0);
      CHECK(treed.total_surplus == result.total_surplus);
      CHECK(treed.offer_price == result.offer_price);
      check_certified_condensed(batch, topology, treed);
    }
    // Orders with the same entries chose from their group's shortlist: that path is tested too.
    if (engine == CondensedEngine::ladder_auction) CHECK(stats.auction_shortlisted > 0);

    const ClearingResult again = clear_condensed(batch, topology, engine);
    REQUIRE(again.contracts.size() == result.contracts.size());
    for (std::size_t k = 0; k < result.contracts.size(); ++k) {
      CHECK(again.contracts[k].order == result.contracts[k].order);
      CHECK(again.contracts[k].offer == result.contracts[k].offer);
      CHECK(again.contracts[k].units == result.contracts[k].units);
    }
  }
}

TEST_CASE("an order of a billion units clears in about as many bids as one of a few thousand") {
  // Found by tests/fuzz_inputs. Both auctions let a bidder with a few units back outbid its own big lot a
  // few units at a time (auction_lots.hpp), so the bids grew with an order's units: 6.1 million for one order
  // of 314 million units against one offer of 256, where 3,140 units took 85. One enterprise could stall
  // every batch that way. The number of bids must not depend on the units.
  const Topology& topology = default_topology();
  const auto bids_to_clear = [&](const Batch& batch) {
    CondensedStatistics ladder;
    const ClearingResult condensed = clear_condensed(batch, topology, CondensedEngine::ladder_auction, &ladder);
    const MarketGraph graph = build_market_graph(batch, topology);
    CpuSolverStatistics scaled;
    const TransportationSolution solution =
        solve_on_cpu(graph.problem, {.arc_pricing = false, .engine = CpuEngine::auction}, &scaled);
    REQUIRE(solution.status == SolveStatus::optimal);
    CHECK_FALSE(scaled.auction_out_of_bids);  // cured, not cut short
    const ClearingResult bipartite = clear_batch(batch, topology);
    CHECK(condensed.total_surplus == bipartite.total_surplus);
    CHECK(condensed.offer_price == bipartite.offer_price);
    CHECK(-solution.objective == bipartite.total_surplus);
    check_certified_condensed(batch, topology, condensed);
    return std::pair{ladder.auction_bids, scaled.auction_bids};
  };

  Batch one_on_one;
  one_on_one.resource_classes = {"gpu.h100"};
  const HubIndex gba = *topology.find_hub("gba");
  const ClusterIndex zhongwei = *topology.find_cluster("zhongwei");
  one_on_one.orders.push_back({1, gba, 0, 3'140, 2'184, 125, 0, 493'087, 493'092});
  one_on_one.offers.push_back({7, zhongwei, 0, 256, 1'684, 8, 493'084, 493'118});
  const auto [ladder_few, scaled_few] = bids_to_clear(one_on_one);
  for (const Units units : {Units{314'000'000}, kMaxUnits}) {
    CAPTURE(units);
    one_on_one.orders[0].units = units;
    const auto [ladder, scaled] = bids_to_clear(one_on_one);
    CHECK(ladder <= 2 * ladder_few);
    CHECK(scaled <= 2 * scaled_few);
  }

  // In a market: a few orders raised to the most units an order may have.
  Batch market = generate_market({.orders = 3000, .offers = 300, .seed = 3}, topology);
  const auto [ladder_before, scaled_before] = bids_to_clear(market);
  for (const std::size_t i : {0, 1000, 2999}) market.orders[i].units = kMaxUnits;
  const auto [ladder_after, scaled_after] = bids_to_clear(market);
  CHECK(ladder_after <= 2 * ladder_before);
  CHECK(scaled_after <= 2 * scaled_before);
}

TEST_CASE("orders of huge units that bid over each other's lots clear in few bids, and within any bid budget") {
  // Found by a sweep of batches with units up to kMaxUnits (2026-12-07). Orders of hundreds of millions of
  // units hold big lots at offers that others prefer, and the few units passing between them raised only
  // their own lots' prices (raise_nibbled_lot in auction_lots.hpp): this batch took the ladder auction 49
  // million bids. Nibbled lots are now raised. Where an auction still reaches its bid budget it hands the
  // batch to an engine whose work does not grow with the units, which must clear it exactly: a budget of
  // 100 bids drives that path here.
  const Topology& topology = default_topology();
  const Batch batch = parse_batch(
      "ewx-batch 1\n"
      "batch 1\n"
      "order 1 gba gpu.h100 5 2100 200 0 493087 493092 1\n"
      "order 2 gba gpu.h100 335780754 2593 200 0 493087 493092 2\n"
      "order 3 gba gpu.h100 406025570 1684 200 0 493087 493092 3\n"
      "order 4 gba gpu.h100 23242364 1862 200 0 493087 493092 4\n"
      "order 5 gba gpu.h100 740581916 2535 200 0 493087 493092 5\n"
      "order 6 gba gpu.h100 999999937 2573 200 0 493087 493092 6\n"
      "order 7 gba gpu.h100 123456789 2380 200 0 493087 493092 7\n"
      "order 8 gba gpu.h100 897171202 2017 200 0 493087 493092 8\n"
      "order 9 gba gpu.h100 993835580 2200 200 0 493087 493092 9\n"
      "order 10 gba gpu.h100 965870252 2000 200 0 493087 493092 10\n"
      "order 11 gba gpu.h100 872349680 2000 200 0 493087 493092 11\n"
      "order 12 gba gpu.h100 3140 2094 200 0 493087 493092 12\n"
      "offer 1000000000 chongqing gpu.h100 123456789 1442 50 493084 493118 100000\n"
      "offer 1000000001 zhongwei gpu.h100 3140 1600 50 493084 493118 100000\n"
      "offer 1000000002 zhongwei gpu.h100 123456789 1437 50 493084 493118 100000\n"
      "offer 1000000003 guian gpu.h100 999999937 1500 50 493084 493118 100000\n"
      "offer 1000000004 chongqing gpu.h100 314000000 1600 50 493084 493118 100000\n"
      "offer 1000000005 guian gpu.h100 5 1367 50 493084 493118 100000\n"
      "offer 1000000006 guian gpu.h100 256 1993 50 493084 493118 100000\n"
      "offer 1000000007 zhongwei gpu.h100 123456789 1966 50 493084 493118 100000\n"
      "offer 1000000008 zhongwei gpu.h100 1 1500 50 493084 493118 100000\n"
      "offer 1000000009 chongqing gpu.h100 270654030 1600 50 493084 493118 100000\n"
      "offer 1000000010 zhongwei gpu.h100 123456789 1846 50 493084 493118 100000\n"
      "offer 1000000011 chongqing gpu.h100 5 1870 50 493084 493118 100000\n"
      "offer 1000000012 guian gpu.h100 123456789 1966 50 493084 493118 100000\n"
      "offer 1000000013 guian gpu.h100 256 1246 50 493084 493118 100000\n"
      "offer 1000000014 guian gpu.h100 3140 1746 50 493084 493118 100000\n"
      "offer 1000000015 chongqing gpu.h100 1 1600 50 493084 493118 100000\n"
      "offer 1000000016 chongqing gpu.h100 123456789 1408 50 493084 493118 100000\n"
      "offer 1000000017 zhongwei gpu.h100 461504957 1500 50 493084 493118 100000\n"
      "offer 1000000018 chongqing gpu.h100 1000000000 1600 50 493084 493118 100000\n"
      "offer 1000000019 chongqing gpu.h100 256 1600 50 493084 493118 100000\n"
      "offer 1000000020 zhongwei gpu.h100 881103248 1215 50 493084 493118 100000\n"
      "offer 1000000021 zhongwei gpu.h100 1 1046 50 493084 493118 100000\n"
      "offer 1000000022 chongqing gpu.h100 256 1600 50 493084 493118 100000\n",
      "huge lots", topology);
  const ClearingResult bipartite = clear_batch(batch, topology);
  REQUIRE(bipartite.status == SolveStatus::optimal);
  const MarketGraph graph = build_market_graph(batch, topology);
  for (const std::uint64_t most_bids : {std::uint64_t{0}, std::uint64_t{100}}) {
    CAPTURE(most_bids);
    const bool stopped = most_bids > 0;
    CondensedStatistics stats;
    const std::optional<ClearingResult> condensed = clear_batch_condensed(
        batch, topology, {.engine = CondensedEngine::ladder_auction, .auction_most_bids = most_bids}, &stats);
    REQUIRE(condensed.has_value());
    REQUIRE(condensed->status == SolveStatus::optimal);
    CHECK(stats.auction_out_of_bids == stopped);
    CHECK(stats.engine == (stopped ? CondensedEngine::network_simplex : CondensedEngine::ladder_auction));
    if (!stopped) CHECK(stats.auction_raised > 0);
    CHECK(stats.auction_bids < 10'000);
    CHECK(condensed->total_surplus == bipartite.total_surplus);
    CHECK(condensed->offer_price == bipartite.offer_price);
    check_certified_condensed(batch, topology, *condensed);

    // The scaled auction, asked for by name: it clears, or hands on to shortest paths at its budget.
    CpuSolverStatistics scaled;
    const TransportationSolution solution = solve_on_cpu(
        graph.problem, {.arc_pricing = false, .engine = CpuEngine::auction, .auction_most_bids = most_bids}, &scaled);
    REQUIRE(solution.status == SolveStatus::optimal);
    CHECK(scaled.auction_out_of_bids == stopped);
    CHECK((scaled.augmentations > 0) == stopped);
    CHECK(scaled.auction_bids < 10'000);
    CHECK(-solution.objective == bipartite.total_surplus);
    const CertificateReport certificate = check_certificate(graph.problem, solution);
    CHECK_MESSAGE(certificate.optimal, certificate.failure);
  }
}

TEST_CASE("the condensed network records no trade worth nothing, and steps aside above its arc limit") {
  Batch batch;
  batch.resource_classes = {"gpu.h100"};
  const Topology& topology = default_topology();
  const HubIndex bth = *topology.find_hub("bth");
  const ClusterIndex zjk = *topology.find_cluster("zhangjiakou");
  const Fen transfer = topology.link(bth, zjk)->transfer_charge;
  // Order 1 wants 2 units: offer 7 gives it 50 fen of surplus per unit, offer 8 exactly nothing.
  batch.orders.push_back({1, bth, 0, 2, 1000 + transfer, 40, 0, 10, 20});
  batch.offers.push_back({7, zjk, 0, 1, 950, 50, 0, 100});
  batch.offers.push_back({8, zjk, 0, 1, 1000, 50, 0, 100});
  CondensedStatistics stats;
  const ClearingResult result = clear_condensed(batch, topology, CondensedEngine::ladder_auction, &stats);
  REQUIRE(result.contracts.size() == 1);
  CHECK(result.contracts[0].offer == 7);
  CHECK(result.contracts[0].units == 1);
  CHECK(result.total_surplus == 50);
  // The order is not completely filled, so it gains nothing: offer 7's price rises to offer 8's ask.
  CHECK(result.offer_price == std::vector<Fen>{1000, 1000});
  CHECK(result.offer_price == clear_batch(batch, topology).offer_price);
  check_certified_condensed(batch, topology, result);

  CondensedStatistics automatic;
  REQUIRE(clear_batch_condensed(batch, topology, {}, &automatic).has_value());
  CHECK(automatic.engine == CondensedEngine::network_simplex);  // far below kSimplexUpToArcs
  const Batch generated = generate_market({.orders = 3000, .offers = 300, .seed = 3}, topology);
  REQUIRE(clear_batch_condensed(generated, topology, {}, &automatic).has_value());
  CHECK(automatic.arcs > kSimplexUpToArcs);
  CHECK(automatic.engine == CondensedEngine::ladder_auction);
  CHECK_FALSE(clear_batch_condensed(batch, topology, {.most_arcs = stats.arcs - 1}).has_value());
  CHECK(clear_batch_condensed(batch, topology, {.most_arcs = stats.arcs}).has_value());
  for (const CondensedEngine engine : kEngines) CHECK(clear_condensed(Batch{}, topology, engine).contracts.empty());
}

TEST_CASE("the ladder auction hands batches whose prices its scaled arithmetic cannot hold to the simplex") {
  // Bids near the largest price allowed, on a batch of 660 nodes all of one class (the auction runs per
  // class): (bid + ask + transfer) * K^2 * 16 passes 2^62, which the auction refuses; the simplex, unscaled,
  // still clears it within the market's limits.
  const Topology& topology = default_topology();
  Batch batch = generate_market({.orders = 600, .offers = 60, .seed = 12}, topology);
  for (std::size_t i = 0; i < batch.orders.size(); ++i) batch.orders[i].bid = kMaxPrice - 1000 - static_cast<Fen>(i);
  for (BuyOrder& order : batch.orders) order.resource_class = 0;
  for (SellOffer& offer : batch.offers) offer.resource_class = 0;
  CondensedStatistics stats;
  const std::optional<ClearingResult> result =
      clear_batch_condensed(batch, topology, {.engine = CondensedEngine::ladder_auction}, &stats);
  REQUIRE(result.has_value());
  REQUIRE(result->status == SolveStatus::optimal);
  CHECK(stats.engine == CondensedEngine::network_simplex);
  CHECK(stats.auction_bids == 0);
  CHECK(result->total_surplus == clear_batch(batch, topology).total_surplus);
  check_certified_condensed(batch, topology, *result);
}

TEST_CASE("the bipartite certificate of a clearing fails for prices off equilibrium or trades not allowed") {
  const Topology& topology = default_topology();
  const Batch batch = generate_market({.orders = 400, .offers = 40, .seed = 9}, topology);
  const MarketGraph graph = build_market_graph(batch, topology);
  ClearingResult result = clear_condensed(batch, topology);
  REQUIRE(check_certificate(graph.problem, as_bipartite_solution(batch, graph, result)).optimal);

  std::size_t premium_offer = batch.offers.size();
  for (std::size_t j = 0; j < batch.offers.size(); ++j) {
    if (result.offer_price[j] > batch.offers[j].ask) premium_offer = j;
  }
  REQUIRE(premium_offer < batch.offers.size());
  ClearingResult cheaper = result;
  --cheaper.offer_price[premium_offer];
  CHECK_FALSE(check_certificate(graph.problem, as_bipartite_solution(batch, graph, cheaper)).optimal);

  ClearingResult forged = result;
  for (std::size_t j = 0; j < batch.offers.size(); ++j) {
    if (!allowed_surplus(batch.orders[0], batch.offers[j], topology)) {
      forged.contracts.push_back({batch.orders[0].id, batch.offers[j].id, 1, forged.offer_price[j], 0});
      break;
    }
  }
  REQUIRE(forged.contracts.size() == result.contracts.size() + 1);
  CHECK_THROWS_AS(as_bipartite_solution(batch, graph, forged), std::invalid_argument);
}
