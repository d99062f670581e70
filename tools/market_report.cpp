// The market reports (design in market_report.hpp).
//
// Money is shown in yuan with two decimals, computed from integer fen (a display conversion only: every
// figure is exact). Mean prices are volume-weighted over the contracts of a cluster.
#include "tools/market_report.hpp"

#include <fmt/core.h>

#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "ledger/ledger.hpp"
#include "matcher/batch_file.hpp"

namespace ewx::tools {
namespace {

// A batch record's decimal total surplus (it may exceed 64 bits).
std::optional<Objective> parse_objective(std::string_view text) {
  const bool negative = text.starts_with('-');
  if (negative) text.remove_prefix(1);
  if (text.empty() || text.size() > 38) return std::nullopt;
  Objective value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  return negative ? -value : value;
}

}  // namespace

std::string yuan(Objective fen) {
  const bool negative = fen < 0;
  const Objective magnitude = negative ? -fen : fen;
  return fmt::format("{}{}.{:02d}", negative ? "-" : "", to_string(magnitude / 100), static_cast<int>(magnitude % 100));
}

MarketTally::MarketTally(const Topology& topology)
    : clusters(topology.clusters.size()),
      offered(clusters, 0),
      sold(clusters, 0),
      value(clusters, 0),
      flow(topology.hubs.size() * clusters, 0) {}

void MarketTally::add_trade(HubIndex hub, ClusterIndex cluster, Units units, Fen price) {
  sold[cluster] += units;
  value[cluster] += static_cast<Objective>(units) * price;
  flow[hub * clusters + cluster] += units;
}

void print_tally(std::FILE* out, const Topology& topology, const MarketTally& tally) {
  fmt::print(out, "\n{:<14} {:>10} {:>10} {:>8} {:>16}\n", "cluster", "offered", "sold", "used", "mean price yuan/h");
  for (std::size_t c = 0; c < tally.clusters; ++c) {
    if (tally.offered[c] == 0 && tally.sold[c] == 0) continue;
    const std::string mean = tally.sold[c] ? yuan(tally.value[c] / tally.sold[c]) : "-";
    const std::string used = tally.offered[c] ? fmt::format("{}%", tally.sold[c] * 100 / tally.offered[c]) : "-";
    fmt::print(out, "{:<14} {:>10} {:>10} {:>8} {:>16}\n", topology.clusters[c].key, tally.offered[c], tally.sold[c],
               used, mean);
  }
  fmt::print(out, "\nunits flowing from demand hubs (rows) to clusters (columns)\n{:<6}", "");
  for (std::size_t c = 0; c < tally.clusters; ++c) fmt::print(out, " {:>8.8}", topology.clusters[c].key);
  fmt::print(out, "\n");
  for (std::size_t h = 0; h < topology.hubs.size(); ++h) {
    Units row = 0;
    for (std::size_t c = 0; c < tally.clusters; ++c) row += tally.flow[h * tally.clusters + c];
    if (row == 0) continue;
    fmt::print(out, "{:<6}", topology.hubs[h].key);
    for (std::size_t c = 0; c < tally.clusters; ++c) fmt::print(out, " {:>8}", tally.flow[h * tally.clusters + c]);
    fmt::print(out, "\n");
  }
}

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

  MarketTally tally(topology);
  std::unordered_map<OrderId, std::size_t> order_at;
  std::unordered_map<OfferId, std::size_t> offer_at;
  for (std::size_t i = 0; i < batch.orders.size(); ++i) order_at.emplace(batch.orders[i].id, i);
  for (std::size_t j = 0; j < batch.offers.size(); ++j) {
    offer_at.emplace(batch.offers[j].id, j);
    tally.add_offer(batch.offers[j].cluster, batch.offers[j].units);
  }
  for (const Contract& c : result.contracts) {
    const SellOffer& offer = batch.offers[offer_at.at(c.offer)];
    tally.add_trade(batch.orders[order_at.at(c.order)].hub, offer.cluster, c.units, c.price);
  }
  print_tally(out, topology, tally);
}

std::optional<std::string> print_trading_report(std::FILE* out, const std::filesystem::path& ledger_dir,
                                                std::uint64_t first, std::uint64_t last,
                                                const std::filesystem::path& csv_dir) {
  auto opened = ledger::Ledger::open_for_audit(ledger_dir);
  if (!opened.is_ok()) return opened.status().message();
  const ledger::Ledger& ledger = *opened.value();
  const auto latest = ledger.last_batch_record();
  if (!latest) return "the ledger in " + ledger_dir.string() + " has no batches yet";
  last = std::min(last, latest->number);
  first = std::max<std::uint64_t>(first, 1);
  if (first > last) return fmt::format("no batches from {} to {} (the ledger has {})", first, last, latest->number);

  std::optional<Topology> topology;
  std::unique_ptr<MarketTally> tally;
  std::unordered_set<OfferId> offers_seen;
  std::uint64_t contracts = 0;
  Units units = 0, unit_hours = 0;
  Objective revenue = 0, transfer = 0, surplus = 0;
  std::int64_t opened_at = 0, closed_at = 0;
  std::string batches_csv = "batch,cleared_at,orders,offers,contracts,units,mean_price_fen\n";
  for (std::uint64_t number = first; number <= last; ++number) {
    const auto record = ledger.batch_record(number);
    const auto inputs = ledger.batch_inputs(number);
    if (!record || !inputs) return fmt::format("batch {} is missing from the ledger", number);
    try {
      if (!topology) {
        topology = parse_topology(inputs->topology, fmt::format("batch {} topology", number));
        tally = std::make_unique<MarketTally>(*topology);
      }
      const Batch batch = parse_batch(inputs->batch, fmt::format("batch {} inputs", number), *topology);
      for (const SellOffer& offer : batch.offers)
        if (offers_seen.insert(offer.id).second) tally->add_offer(offer.cluster, offer.units);
      Units batch_units = 0;
      Objective batch_value = 0;
      const auto page = ledger.contracts_in_batch(number, 0, record->contract_count);
      for (const auto& c : page.contracts) {
        tally->add_trade(c.hub, c.cluster, c.units, c.price);
        batch_units += c.units;
        batch_value += static_cast<Objective>(c.units) * c.price;
        unit_hours += c.units * (c.window_end - c.window_begin);
        transfer += static_cast<Objective>(c.units) * c.transfer_charge;
      }
      contracts += page.contracts.size();
      units += batch_units;
      revenue += batch_value;
      surplus += parse_objective(record->total_surplus).value_or(0);
      if (number == first) opened_at = record->cleared_at;
      closed_at = record->cleared_at;
      batches_csv +=
          fmt::format("{},{},{},{},{},{},{}\n", number, record->cleared_at, batch.orders.size(), batch.offers.size(),
                      page.contracts.size(), batch_units, batch_units ? to_string(batch_value / batch_units) : "");
    } catch (const std::exception& e) {
      return fmt::format("batch {}: {}", number, e.what());
    }
  }

  fmt::print(out, "batches {} to {}, cleared over {} s\n", first, last, closed_at - opened_at);
  fmt::print(out, "contracts {}; {} units for {} unit-hours\n", contracts, units, unit_hours);
  fmt::print(out, "provider revenue {} yuan/h, transfer charges {} yuan/h, total surplus {} yuan/h\n", yuan(revenue),
             yuan(transfer), yuan(surplus));
  print_tally(out, *topology, *tally);

  if (!csv_dir.empty()) {
    std::filesystem::create_directories(csv_dir);
    std::string clusters_csv = "cluster,offered,sold,mean_price_fen\n", flows_csv = "hub,cluster,units\n";
    for (std::size_t c = 0; c < tally->clusters; ++c)
      clusters_csv += fmt::format("{},{},{},{}\n", topology->clusters[c].key, tally->offered[c], tally->sold[c],
                                  tally->sold[c] ? to_string(tally->value[c] / tally->sold[c]) : "");
    for (std::size_t h = 0; h < topology->hubs.size(); ++h)
      for (std::size_t c = 0; c < tally->clusters; ++c)
        flows_csv += fmt::format("{},{},{}\n", topology->hubs[h].key, topology->clusters[c].key,
                                 tally->flow[h * tally->clusters + c]);
    for (const auto& [name, text] : {std::pair{"batches.csv", &batches_csv}, std::pair{"clusters.csv", &clusters_csv},
                                     std::pair{"flows.csv", &flows_csv}}) {
      std::FILE* file = std::fopen((csv_dir / name).c_str(), "w");
      if (!file) return "cannot write " + (csv_dir / name).string();
      const bool written = std::fwrite(text->data(), 1, text->size(), file) == text->size();
      if (std::fclose(file) != 0 || !written) return "cannot write " + (csv_dir / name).string();
    }
  }
  return std::nullopt;
}

}  // namespace ewx::tools
