// The batch builder: which orders can trade with which offers, as a sparse bipartite graph.
//
// Testing every order against every offer is 250 million checks for a 50k x 5k batch. Instead the offers
// are grouped by (resource class, cluster) and sorted by ask within a group. An order then visits only the
// clusters its hub reaches within its latency limit, and in each such group only the prefix of offers whose
// ask is below its bid net of that link's transfer charge (a binary search), checking windows and green
// share on those alone. The work is proportional to the arcs produced plus a small per-cluster term.
#include "matcher/batch_builder.hpp"

#include <algorithm>

namespace ewx {

MarketGraph build_market_graph(const Batch& batch, const Topology& topology) {
  MarketGraph graph;
  TransportationProblem& problem = graph.problem;
  graph.order_count = static_cast<NodeIndex>(batch.orders.size());
  graph.offer_count = static_cast<NodeIndex>(batch.offers.size());
  const std::size_t clusters = topology.clusters.size();

  // Offers grouped by (class, cluster), each group sorted by ask, ties by offer index.
  const std::size_t groups = batch.resource_classes.size() * clusters;
  std::vector<std::uint32_t> group_begin(groups + 1, 0);
  for (const SellOffer& offer : batch.offers) ++group_begin[offer.resource_class * clusters + offer.cluster + 1];
  for (std::size_t g = 0; g < groups; ++g) group_begin[g + 1] += group_begin[g];
  std::vector<std::uint32_t> grouped(batch.offers.size());
  {
    std::vector<std::uint32_t> fill(group_begin.begin(), group_begin.end() - 1);
    for (std::uint32_t j = 0; j < batch.offers.size(); ++j) {
      const SellOffer& offer = batch.offers[j];
      grouped[fill[offer.resource_class * clusters + offer.cluster]++] = j;
    }
  }
  for (std::size_t g = 0; g < groups; ++g) {
    std::stable_sort(grouped.begin() + group_begin[g], grouped.begin() + group_begin[g + 1],
                     [&](std::uint32_t a, std::uint32_t b) { return batch.offers[a].ask < batch.offers[b].ask; });
  }

  Quantity ordered = 0;
  Quantity offered = 0;
  for (const BuyOrder& order : batch.orders) ordered += order.units;
  for (const SellOffer& offer : batch.offers) offered += offer.units;

  problem.row_begin.reserve(batch.orders.size() + 2);
  problem.row_begin.push_back(0);
  const auto add_arc = [&](NodeIndex sink, Cost cost, Fen transfer) {
    problem.arc_sink.push_back(sink);
    problem.arc_cost.push_back(cost);
    problem.arc_capacity.push_back(kUnboundedCapacity);
    graph.arc_transfer_charge.push_back(transfer);
  };

  std::vector<std::pair<std::uint32_t, Fen>> reachable;  // (offer, transfer charge)
  for (const BuyOrder& order : batch.orders) {
    reachable.clear();
    for (ClusterIndex c = 0; c < clusters; ++c) {
      const auto& link = topology.link(order.hub, c);
      if (!link || link->latency_ms > order.max_latency_ms) continue;
      const Fen most_ask = order.bid - link->transfer_charge;  // surplus > 0  <=>  ask < most_ask
      const std::size_t g = order.resource_class * clusters + c;
      const auto begin = grouped.begin() + group_begin[g];
      const auto end = std::partition_point(begin, grouped.begin() + group_begin[g + 1],
                                            [&](std::uint32_t j) { return batch.offers[j].ask < most_ask; });
      for (auto it = begin; it != end; ++it) {
        const SellOffer& offer = batch.offers[*it];
        if (offer.window_begin > order.window_begin || offer.window_end < order.window_end) continue;
        if (offer.green_percent < order.min_green_percent) continue;
        reachable.emplace_back(*it, link->transfer_charge);
      }
    }
    std::sort(reachable.begin(), reachable.end());
    for (const auto& [j, transfer] : reachable) {
      add_arc(j, -(order.bid - batch.offers[j].ask - transfer), transfer);
    }
    add_arc(graph.unfilled_sink(), 0, 0);
    problem.row_begin.push_back(problem.arc_sink.size());
    problem.supply.push_back(order.units);
  }
  for (NodeIndex j = 0; j < graph.offer_count; ++j) add_arc(j, 0, 0);
  add_arc(graph.unfilled_sink(), 0, 0);
  problem.row_begin.push_back(problem.arc_sink.size());
  problem.supply.push_back(offered + 1);

  for (const SellOffer& offer : batch.offers) problem.demand.push_back(offer.units);
  problem.demand.push_back(ordered + 1);
  problem.slack_sources = 1;
  problem.slack_sinks = 1;
  return graph;
}

}  // namespace ewx
