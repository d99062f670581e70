// Buyer-optimal clearing prices from shortest paths in the residual graph of the optimal flow.
//
// The dual of the market's surplus maximisation has one variable per order, u_i >= 0 (the buyer's surplus
// per unit), and one per offer, v_j >= 0 (the offer's premium over its ask), with u_i + v_j >= s_ij for
// every arc. Complementary slackness ties them to the allocation: u_i + v_j = s_ij where they trade, u_i = 0
// where an order is not completely filled, v_j = 0 where an offer is not completely sold. Every (u, v) that
// meets these conditions is a competitive equilibrium with prices p_j = ask_j + v_j (Shapley and Shubik,
// "The assignment game I: the core", 1971), and these equilibria form a lattice.
//
// The buyer-optimal one, with the smallest prices, is a shortest-path computation. Put pi(i) = u_i,
// pi(j) = -v_j and add a node o with pi(o) = 0. Each condition reads pi(w) <= pi(v) + len(v -> w) for an
// arc of this graph:
//
//   i -> j  length -s_ij     every arc                  (u_i + v_j >= s_ij)
//   j -> i  length  s_ij     where they trade           (u_i + v_j <= s_ij)
//   o -> j  length  0        every offer                (v_j >= 0)
//   o -> i  length  0        order not completely filled (u_i <= 0)
//
// (the arcs into o, for u_i >= 0 and v_j <= 0, never lie on a shortest path from o and are left out). The
// largest pi meeting all of them is the shortest-path distance from o, so the smallest premiums are
// v_j = -dist(o, j). The solver's potentials give one feasible pi, which makes every length non-negative
// after reweighting, so one Dijkstra suffices, and distances only lower the solver's premiums.
//
// From the solver's potentials (alpha, beta): u_i = beta_unfilled - alpha_i and v_j = beta_j - alpha_unsold.
// The unit always sent unsold -> unfilled makes alpha_unsold = beta_unfilled, so this is one consistent
// reading of both slack nodes as the node o.
#include "matcher/clearing_prices.hpp"

#include <algorithm>
#include <functional>
#include <limits>
#include <queue>
#include <stdexcept>

namespace ewx {

std::vector<Fen> buyer_optimal_premiums(const MarketGraph& graph, const TransportationSolution& solution) {
  const TransportationProblem& problem = graph.problem;
  const NodeIndex orders = graph.order_count;
  const NodeIndex offers = graph.offer_count;
  const Potential unfilled = solution.sink_potential[graph.unfilled_sink()];
  const Potential unsold = solution.source_potential[graph.unsold_source()];
  if (unfilled != unsold) throw std::logic_error("clearing prices: slack potentials differ");

  std::vector<Potential> u(orders);
  std::vector<Potential> v(offers);
  for (NodeIndex i = 0; i < orders; ++i) u[i] = unfilled - solution.source_potential[i];
  for (NodeIndex j = 0; j < offers; ++j) v[j] = solution.sink_potential[j] - unsold;

  // Trades seen from the offer side, for the j -> i arcs: (arc, order).
  std::vector<std::vector<std::pair<ArcIndex, NodeIndex>>> trades_of(offers);
  std::vector<bool> unfilled_order(orders, false);
  const std::vector<NodeIndex> source_of = flow_sources(problem, solution.flows);
  for (std::size_t k = 0; k < solution.flows.size(); ++k) {
    const ArcIndex e = solution.flows[k].arc;
    const NodeIndex i = source_of[k];
    if (i >= orders) continue;
    if (problem.arc_sink[e] == graph.unfilled_sink())
      unfilled_order[i] = true;
    else
      trades_of[problem.arc_sink[e]].emplace_back(e, i);
  }

  // Dijkstra from o over nodes [0, orders) = orders and [orders, orders + offers) = offers, on reduced
  // lengths len + pi(v) - pi(w), all non-negative.
  constexpr Potential kUnreached = std::numeric_limits<Potential>::max();
  std::vector<Potential> distance(static_cast<std::size_t>(orders) + offers, kUnreached);
  using Entry = std::pair<Potential, NodeIndex>;
  std::priority_queue<Entry, std::vector<Entry>, std::greater<>> heap;
  const auto reach = [&](NodeIndex node, Potential d) {
    if (d < 0) throw std::logic_error("clearing prices: negative reduced length; the duals are not optimal");
    if (d < distance[node]) {
      distance[node] = d;
      heap.emplace(d, node);
    }
  };
  for (NodeIndex j = 0; j < offers; ++j) reach(orders + j, v[j]);
  for (NodeIndex i = 0; i < orders; ++i) {
    if (unfilled_order[i]) reach(i, -u[i]);
  }
  while (!heap.empty()) {
    const auto [d, node] = heap.top();
    heap.pop();
    if (d != distance[node]) continue;
    if (node < orders) {
      for (ArcIndex e = problem.row_begin[node]; e < problem.row_begin[node + 1]; ++e) {
        const NodeIndex j = problem.arc_sink[e];
        if (j >= offers) continue;
        reach(orders + j, d + u[node] + v[j] - graph.surplus(e));
      }
    } else {
      const NodeIndex j = node - orders;
      for (const auto& [e, i] : trades_of[j]) {
        reach(i, d + graph.surplus(e) - u[i] - v[j]);
      }
    }
  }

  std::vector<Fen> premium(offers);
  for (NodeIndex j = 0; j < offers; ++j) premium[j] = v[j] - distance[orders + j];
  return premium;
}

}  // namespace ewx
