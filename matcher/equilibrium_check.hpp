// The independent check of a cleared batch: are these contracts at these prices a competitive equilibrium?
#pragma once

#include <span>
#include <string>

#include "matcher/market.hpp"
#include "matcher/topology.hpp"
#include "matcher/transportation.hpp"

namespace ewx {

struct EquilibriumReport {
  bool holds = false;
  std::string failure;          // the first violated condition, naming the order or offer
  Objective total_surplus = 0;  // recomputed from the contracts
};

// Checks, from the batch and the topology alone (sharing no code with the builder, solver or pricing):
//  - every contract is an allowed trade (class, latency, windows, green share, positive surplus) at its
//    offer's price and at the link's transfer charge;
//  - no order or offer trades more than its units;
//  - every price is at least the offer's ask, and exactly the ask if the offer is not completely sold;
//  - every order trades only with offers that give it the largest surplus at these prices, and an order
//    that is not completely filled could gain nothing from any offer at these prices.
// Together these make the allocation a competitive equilibrium, which by LP duality also proves that it
// maximises total surplus.
EquilibriumReport check_equilibrium(const Batch& batch, const Topology& topology, std::span<const Contract> contracts,
                                    std::span<const Fen> offer_price);

}  // namespace ewx
