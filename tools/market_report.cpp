// The market report printed by `ewx-solve --report` and the demo.
//
// Money is shown in yuan with two decimals, computed from integer fen (a display conversion only: every
// figure is exact). Mean prices are volume-weighted over the contracts of a cluster.
#include "tools/market_report.hpp"

#include <fmt/core.h>

#include <string>
#include <unordered_map>
#include <vector>

namespace ewx::tools {
namespace {

std::string yuan(Objective fen) {
  const bool negative = fen < 0;
  const Objective magnitude = negative ? -fen : fen;
  return fmt::format("{}{}.{:02d}", negative ? "-" : "", to_string(magnitude / 100), static_cast<int>(magnitude % 100));
}

}  // namespace

void print_market_report(std::FILE* out, const Batch& batch, const Topology& topology, const ClearingResult& result) {
  Units ordered = 0, offered = 0;
  for (const BuyOrder& o : batch.orders) ordered += o.units;
  for (const SellOffer& s : batch.offers) offered += s.units;
  Objective value = 0;
  for (const Contract& c : result.contracts) value += static_cast<Objective>(c.units) * c.price;

  fmt::print(out, "\nbatch {}: {} orders ({} units), {} offers ({} units), {} tradable pairs\n", batch.number,
             batch.orders.size(), ordered, batch.offers.size(), offered, result.graph.trade_count());
  fmt::print(out, "cleared: {} contracts, {} units, provider revenue {} yuan/h, total surplus {} yuan/h\n",
             result.contracts.size(), result.units_traded, yuan(value), yuan(result.total_surplus));

  const std::size_t clusters = topology.clusters.size(), hubs = topology.hubs.size();
  std::vector<Units> cluster_offered(clusters, 0), cluster_sold(clusters, 0);
  std::vector<Objective> cluster_value(clusters, 0);
  std::vector<Units> flow(hubs * clusters, 0);
  std::unordered_map<OrderId, std::size_t> order_at;
  std::unordered_map<OfferId, std::size_t> offer_at;
  for (std::size_t i = 0; i < batch.orders.size(); ++i) order_at.emplace(batch.orders[i].id, i);
  for (std::size_t j = 0; j < batch.offers.size(); ++j) {
    offer_at.emplace(batch.offers[j].id, j);
    cluster_offered[batch.offers[j].cluster] += batch.offers[j].units;
  }
  for (const Contract& c : result.contracts) {
    const SellOffer& offer = batch.offers[offer_at.at(c.offer)];
    const BuyOrder& order = batch.orders[order_at.at(c.order)];
    cluster_sold[offer.cluster] += c.units;
    cluster_value[offer.cluster] += static_cast<Objective>(c.units) * c.price;
    flow[order.hub * clusters + offer.cluster] += c.units;
  }

  fmt::print(out, "\n{:<14} {:>10} {:>10} {:>8} {:>16}\n", "cluster", "offered", "sold", "used", "mean price yuan/h");
  for (std::size_t c = 0; c < clusters; ++c) {
    if (cluster_offered[c] == 0) continue;
    const std::string mean = cluster_sold[c] ? yuan(cluster_value[c] / cluster_sold[c]) : "-";
    fmt::print(out, "{:<14} {:>10} {:>10} {:>7}% {:>16}\n", topology.clusters[c].key, cluster_offered[c],
               cluster_sold[c], cluster_sold[c] * 100 / cluster_offered[c], mean);
  }

  fmt::print(out, "\nunits flowing from demand hubs (rows) to clusters (columns)\n{:<6}", "");
  for (std::size_t c = 0; c < clusters; ++c) fmt::print(out, " {:>8.8}", topology.clusters[c].key);
  fmt::print(out, "\n");
  for (std::size_t h = 0; h < hubs; ++h) {
    Units row = 0;
    for (std::size_t c = 0; c < clusters; ++c) row += flow[h * clusters + c];
    if (row == 0) continue;
    fmt::print(out, "{:<6}", topology.hubs[h].key);
    for (std::size_t c = 0; c < clusters; ++c) fmt::print(out, " {:>8}", flow[h * clusters + c]);
    fmt::print(out, "\n");
  }
}

}  // namespace ewx::tools
