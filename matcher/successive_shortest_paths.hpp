// The exact CPU engine: successive shortest paths with Dijkstra and node potentials.
//
// See successive_shortest_paths.cpp for the algorithm. This header is internal to the CPU solver
// (cpu_solver.cpp drives it, possibly several times on growing candidate graphs); everything else calls
// solve_on_cpu() from cpu_solver.hpp.
#pragma once

#include <vector>

#include "matcher/transportation.hpp"

namespace ewx::detail {

struct EngineStatistics {
  std::uint64_t augmentations = 0;
  std::uint64_t nodes_settled = 0;
  std::uint64_t arcs_scanned = 0;
};

// Runs successive shortest paths on `problem` from a dual-feasible starting point and leaves the flow and
// potentials in `flow`, `source_potential`, `sink_potential`.
//
// Contract on entry: `flow` is within capacities and ships no more than each supply and demand;
// potentials make every residual arc's reduced cost non-negative (r_ij >= 0 where flow < capacity,
// r_ij <= 0 where flow > 0). Pass an all-zero flow and row-minimum potentials for a cold start.
// On return with SolveStatus::optimal the flow is complete and the contract holds for an optimal flow.
// Returns infeasible when some source's remaining supply can reach no sink with remaining demand.
SolveStatus run_successive_shortest_paths(const TransportationProblem& problem, std::vector<Quantity>& flow,
                                          std::vector<Potential>& source_potential,
                                          std::vector<Potential>& sink_potential, EngineStatistics& stats);

}  // namespace ewx::detail
