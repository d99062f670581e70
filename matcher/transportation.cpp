// Construction and small helpers of the transportation problem (see transportation.hpp for the model).
//
// make_transportation_problem is a counting sort of the arcs by source: two passes, stable, so that the arc
// order inside a row is the input order. Stability matters because the solvers break cost ties by arc
// index, and "same batch, same contracts" must hold however the caller produced the arcs.
#include "matcher/transportation.hpp"

#include <algorithm>

namespace ewx {

std::string to_string(Objective value) {
  if (value == 0) return "0";
  const bool negative = value < 0;
  // Work in the negative range so that the most negative value does not overflow on negation.
  std::string digits;
  Objective v = negative ? value : -value;
  while (v != 0) {
    digits.push_back(static_cast<char>('0' - static_cast<int>(v % 10)));
    v /= 10;
  }
  if (negative) digits.push_back('-');
  std::reverse(digits.begin(), digits.end());
  return digits;
}

TransportationProblem make_transportation_problem(std::vector<Quantity> supply, std::vector<Quantity> demand,
                                                  std::span<const Arc> arcs, std::vector<ArcIndex>* input_position) {
  TransportationProblem problem;
  problem.supply = std::move(supply);
  problem.demand = std::move(demand);
  const std::size_t sources = problem.supply.size();
  problem.row_begin.assign(sources + 1, 0);
  for (const Arc& arc : arcs) ++problem.row_begin[arc.source + 1];
  for (std::size_t i = 0; i < sources; ++i) problem.row_begin[i + 1] += problem.row_begin[i];

  problem.arc_sink.resize(arcs.size());
  problem.arc_cost.resize(arcs.size());
  problem.arc_capacity.resize(arcs.size());
  std::vector<ArcIndex> next(problem.row_begin.begin(), problem.row_begin.end() - 1);
  if (input_position) input_position->resize(arcs.size());
  for (std::size_t k = 0; k < arcs.size(); ++k) {
    const Arc& arc = arcs[k];
    const ArcIndex slot = next[arc.source]++;
    problem.arc_sink[slot] = arc.sink;
    problem.arc_cost[slot] = arc.cost;
    problem.arc_capacity[slot] = arc.capacity;
    if (input_position) (*input_position)[slot] = k;
  }
  return problem;
}

bool reaches_every_sink_alike(const TransportationProblem& problem, NodeIndex source) {
  const ArcIndex begin = problem.row_begin[source];
  if (problem.row_begin[source + 1] - begin != problem.sink_count() || problem.sink_count() == 0) return false;
  for (NodeIndex k = 0; k < problem.sink_count(); ++k) {
    const ArcIndex e = begin + k;
    if (problem.arc_sink[e] != k || problem.arc_cost[e] != problem.arc_cost[begin] ||
        !problem.capacity_never_binds(source, e)) {
      return false;
    }
  }
  return true;
}

const char* to_string(SolveStatus status) {
  switch (status) {
    case SolveStatus::optimal:
      return "optimal";
    case SolveStatus::infeasible:
      return "infeasible";
    case SolveStatus::unbalanced:
      return "unbalanced";
    case SolveStatus::out_of_range:
      return "out_of_range";
  }
  return "unknown";
}

Objective total_cost(const TransportationProblem& problem, std::span<const ArcFlow> flows) {
  Objective sum = 0;
  for (const ArcFlow& flow : flows) sum += static_cast<Objective>(flow.units) * problem.arc_cost[flow.arc];
  return sum;
}

std::vector<NodeIndex> flow_sources(const TransportationProblem& problem, std::span<const ArcFlow> flows) {
  std::vector<NodeIndex> sources(flows.size());
  NodeIndex row = 0;
  for (std::size_t k = 0; k < flows.size(); ++k) {
    while (problem.row_begin[row + 1] <= flows[k].arc) ++row;
    sources[k] = row;
  }
  return sources;
}

}  // namespace ewx
