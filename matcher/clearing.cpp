// The market rule, end to end: a batch's maximum-surplus allocation at buyer-optimal equilibrium prices.
//
// The steps are the ones docs/clearing.md explains to participants: build the graph of feasible trades,
// find the allocation with the largest total surplus (an exact transportation problem), then price each
// offer at the smallest competitive-equilibrium price, and record every positive flow on a trading arc as a
// contract at its offer's price.
#include "matcher/clearing.hpp"

#include "matcher/clearing_prices.hpp"

namespace ewx {

ClearingResult clear_batch(const Batch& batch, const Topology& topology, const CpuSolverOptions& options) {
  CpuSolverStatistics statistics;
  ClearingResult result = clear_batch(batch, topology, [&](const TransportationProblem& problem) {
    return solve_on_cpu(problem, options, &statistics);
  });
  result.statistics = statistics;
  return result;
}

ClearingResult clear_batch(const Batch& batch, const Topology& topology, const TransportationSolver& solve) {
  ClearingResult result;
  result.graph = build_market_graph(batch, topology);
  result.solution = solve(result.graph.problem);
  result.status = result.solution.status;
  result.detail = result.solution.detail;
  if (result.status != SolveStatus::optimal) return result;

  const std::vector<Fen> premium = buyer_optimal_premiums(result.graph, result.solution);
  result.offer_price.resize(batch.offers.size());
  for (std::size_t j = 0; j < batch.offers.size(); ++j) result.offer_price[j] = batch.offers[j].ask + premium[j];

  const TransportationProblem& problem = result.graph.problem;
  const std::vector<NodeIndex> order_of = flow_sources(problem, result.solution.flows);
  for (std::size_t k = 0; k < result.solution.flows.size(); ++k) {
    const auto [e, units] = result.solution.flows[k];
    if (!result.graph.is_trade(e)) continue;
    const NodeIndex j = problem.arc_sink[e];
    result.contracts.push_back({batch.orders[order_of[k]].id, batch.offers[j].id, units, result.offer_price[j],
                                result.graph.arc_transfer_charge[e]});
    result.total_surplus += static_cast<Objective>(units) * result.graph.surplus(e);
    result.units_traded += units;
  }
  return result;
}

}  // namespace ewx
