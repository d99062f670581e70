// The competitive-equilibrium check. See equilibrium_check.hpp for the conditions; here is why they suffice.
//
// Read u_i = the best surplus order i can get at the posted prices (0 if none is positive) and
// v_j = price_j - ask_j. Then u_i + v_j >= bid_i - ask_j - transfer_ij for every allowed pair (u_i is a
// maximum), u, v >= 0, and the conditions checked below are exactly complementary slackness with the
// contracts. A feasible allocation with such duals is optimal for the surplus-maximisation LP, so a batch
// that passes this check was cleared both at equilibrium prices and with maximum total surplus.
//
// Deliberately plain: it tests each order against every offer of its class, and does not reuse the batch
// builder's eligibility code, so that a bug there cannot hide itself here.
#include "matcher/equilibrium_check.hpp"

#include <unordered_map>

namespace ewx {
namespace {

EquilibriumReport fail(std::string why) {
  EquilibriumReport report;
  report.failure = std::move(why);
  return report;
}

// The allowed-trade rule, written again on purpose (see above). Returns the link's transfer charge, or -1.
Fen allowed_transfer(const BuyOrder& order, const SellOffer& offer, const Topology& topology) {
  if (order.resource_class != offer.resource_class) return -1;
  const auto& link = topology.link(order.hub, offer.cluster);
  if (!link || link->latency_ms > order.max_latency_ms) return -1;
  if (offer.window_begin > order.window_begin || order.window_end > offer.window_end) return -1;
  if (offer.green_percent < order.min_green_percent) return -1;
  if (order.bid - offer.ask - link->transfer_charge <= 0) return -1;
  return link->transfer_charge;
}

}  // namespace

EquilibriumReport check_equilibrium(const Batch& batch, const Topology& topology, std::span<const Contract> contracts,
                                    std::span<const Fen> offer_price) {
  if (offer_price.size() != batch.offers.size()) return fail("one price per offer expected");
  std::unordered_map<OrderId, std::size_t> order_at;
  std::unordered_map<OfferId, std::size_t> offer_at;
  for (std::size_t i = 0; i < batch.orders.size(); ++i) order_at.emplace(batch.orders[i].id, i);
  for (std::size_t j = 0; j < batch.offers.size(); ++j) offer_at.emplace(batch.offers[j].id, j);

  for (std::size_t j = 0; j < batch.offers.size(); ++j) {
    if (offer_price[j] < batch.offers[j].ask) {
      return fail("offer " + std::to_string(batch.offers[j].id) + " priced " + std::to_string(offer_price[j]) +
                  " below its ask " + std::to_string(batch.offers[j].ask));
    }
  }

  // Best surplus of each order at the posted prices, over every offer of its class.
  std::vector<std::vector<std::size_t>> offers_of_class(batch.resource_classes.size());
  for (std::size_t j = 0; j < batch.offers.size(); ++j) offers_of_class[batch.offers[j].resource_class].push_back(j);
  std::vector<Fen> best(batch.orders.size(), 0);
  for (std::size_t i = 0; i < batch.orders.size(); ++i) {
    const BuyOrder& order = batch.orders[i];
    for (const std::size_t j : offers_of_class[order.resource_class]) {
      const Fen transfer = allowed_transfer(order, batch.offers[j], topology);
      if (transfer >= 0) best[i] = std::max(best[i], order.bid - offer_price[j] - transfer);
    }
  }

  EquilibriumReport report;
  std::vector<Units> filled(batch.orders.size(), 0);
  std::vector<Units> sold(batch.offers.size(), 0);
  for (const Contract& contract : contracts) {
    const auto oi = order_at.find(contract.order);
    const auto si = offer_at.find(contract.offer);
    const std::string what = "contract " + std::to_string(contract.order) + " <- " + std::to_string(contract.offer);
    if (oi == order_at.end() || si == offer_at.end()) return fail(what + " names an order or offer not in the batch");
    const BuyOrder& order = batch.orders[oi->second];
    const SellOffer& offer = batch.offers[si->second];
    if (contract.units <= 0) return fail(what + " has no units");
    const Fen transfer = allowed_transfer(order, offer, topology);
    if (transfer < 0) return fail(what + " is not an allowed trade");
    if (contract.transfer_charge != transfer) return fail(what + " has the wrong transfer charge");
    if (contract.price != offer_price[si->second]) return fail(what + " is not at its offer's price");
    const Fen buyer_gain = order.bid - contract.price - transfer;
    if (buyer_gain != best[oi->second]) {
      return fail(what + ": the order gains " + std::to_string(buyer_gain) + " per unit here but " +
                  std::to_string(best[oi->second]) + " from its best offer at these prices");
    }
    filled[oi->second] += contract.units;
    sold[si->second] += contract.units;
    report.total_surplus += static_cast<Objective>(contract.units) * (order.bid - offer.ask - transfer);
  }
  for (std::size_t i = 0; i < batch.orders.size(); ++i) {
    const BuyOrder& order = batch.orders[i];
    if (filled[i] > order.units) return fail("order " + std::to_string(order.id) + " is overfilled");
    if (filled[i] < order.units && best[i] > 0) {
      return fail("order " + std::to_string(order.id) + " is not completely filled although it would gain " +
                  std::to_string(best[i]) + " per unit at these prices");
    }
  }
  for (std::size_t j = 0; j < batch.offers.size(); ++j) {
    const SellOffer& offer = batch.offers[j];
    if (sold[j] > offer.units) return fail("offer " + std::to_string(offer.id) + " is oversold");
    if (sold[j] < offer.units && offer_price[j] != offer.ask) {
      return fail("offer " + std::to_string(offer.id) + " has unsold units but is priced above its ask");
    }
  }
  report.holds = true;
  return report;
}

}  // namespace ewx
