// From a batch of orders and offers to the transportation problem that clears it.
#pragma once

#include <limits>
#include <vector>

#include "matcher/market.hpp"
#include "matcher/topology.hpp"
#include "matcher/transportation.hpp"

namespace ewx {

// Capacity of arcs that nothing but the node quantities limits.
inline constexpr Quantity kUnboundedCapacity = std::numeric_limits<Quantity>::max();

// The clearing problem of one batch.
//
// Sources are the orders (supply = units) followed by one slack source, "unsold", whose supply is all the
// offered units plus one; sinks are the offers (demand = units) followed by one slack sink, "unfilled",
// whose demand is all the ordered units plus one. Row i < order_count holds order i's trading arcs, in
// offer order, with cost = -surplus, and then its arc to "unfilled" (cost 0). The "unsold" row reaches every
// offer and "unfilled" at cost 0. The extra unit on each slack node always travels unsold -> unfilled, which
// keeps that arc's reduced cost at zero and lets the two slack nodes act as one (see clearing_prices.cpp).
//
// Minimising cost therefore maximises total surplus = sum of (bid - ask - transfer charge) * units traded,
// with every order and offer free to trade less than its quantity.
struct MarketGraph {
  TransportationProblem problem;
  std::vector<Fen> arc_transfer_charge;  // per arc; 0 on slack arcs
  NodeIndex order_count = 0;
  NodeIndex offer_count = 0;

  NodeIndex unsold_source() const { return order_count; }
  NodeIndex unfilled_sink() const { return offer_count; }
  bool is_trade(ArcIndex arc) const {
    return problem.arc_sink[arc] < offer_count && arc < problem.row_begin[order_count];
  }
  Fen surplus(ArcIndex arc) const { return -problem.arc_cost[arc]; }
  std::uint64_t trade_count() const { return problem.row_begin[order_count] - order_count; }
};

// An order can trade with an offer when the resource class matches, the link from the order's hub to the
// offer's cluster exists with latency <= the order's maximum, the offer's availability window covers the
// order's delivery window, the offer's green share meets the order's minimum, and the surplus
// bid - ask - transfer charge is positive. Deterministic: arcs appear in order, then offer, index order.
MarketGraph build_market_graph(const Batch& batch, const Topology& topology);

}  // namespace ewx
