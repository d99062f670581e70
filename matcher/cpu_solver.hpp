// The exact CPU solver for transportation problems: the oracle every other solver in ewx must match.
#pragma once

#include <cstdint>

#include "matcher/transportation.hpp"

namespace ewx {

// Which exact engine solves (each candidate graph, or the whole graph). automatic: successive shortest paths
// for small graphs, the scaled auction for large ones, shortest paths for what the auction does not take
// (see cpu_solver.cpp).
enum class CpuEngine { automatic, auction, shortest_paths };

struct CpuSolverOptions {
  // Solve on a candidate subgraph first and price out the rest (see cpu_solver.cpp). Exact either way;
  // switching it off is for tests that compare the two paths and for graphs too small to benefit.
  bool arc_pricing = true;
  std::uint32_t candidates_per_source = 6;
  std::uint32_t candidates_per_sink = 6;
  CpuEngine engine = CpuEngine::automatic;
  // The scaled auction's bid budget; 0 is bid_budget's (auction_lots.hpp). Tests set less to drive the
  // stoppage.
  std::uint64_t auction_most_bids = 0;
};

struct CpuSolverStatistics {
  std::uint64_t pricing_rounds = 0;  // 0 when the whole graph was solved directly
  std::uint64_t candidate_arcs = 0;  // arcs in the last candidate graph
  std::uint64_t arcs_admitted = 0;   // arcs added by pricing after the first round
  std::uint64_t augmentations = 0;   // successive shortest paths
  std::uint64_t auction_phases = 0;  // scaled auction
  std::uint64_t auction_bids = 0;
  bool auction_out_of_bids = false;  // the auction stopped at its bid budget; shortest paths finished
  std::uint64_t potential_passes = 0;  // exact-dual recovery after the auction
  std::uint64_t arcs_scanned = 0;
};

// Validates `problem` and solves it exactly.
//
// Returns status optimal with a complete flow, its objective and optimal potentials; or unbalanced,
// out_of_range (negative quantities, |cost| * (nodes + 1) beyond kCostPathBound, totals beyond int64) or
// infeasible, each with `detail` saying what and where. Deterministic: the same problem gives the same
// flow and potentials.
TransportationSolution solve_on_cpu(const TransportationProblem& problem, const CpuSolverOptions& options = {},
                                    CpuSolverStatistics* statistics = nullptr);

// The checks solve_on_cpu starts with, for other solvers to share: empty when the problem is solvable in
// 64-bit potentials, otherwise the status and reason.
struct ProblemDefect {
  SolveStatus status = SolveStatus::optimal;
  std::string detail;
  explicit operator bool() const { return status != SolveStatus::optimal; }
};
ProblemDefect find_problem_defect(const TransportationProblem& problem);

// find_problem_defect in its two parts, for a solver that reads every arc anyway and would rather check
// them in that pass (the parallel launcher, on all the cores): the checks of the arrays and the nodes,
// which come first, then each arc's. An arc that arc_is_sound rejects is the one find_arc_defect names, so
// a pass that keeps the lowest such arc reports exactly what find_problem_defect would.
ProblemDefect find_node_defect(const TransportationProblem& problem);
ProblemDefect find_arc_defect(const TransportationProblem& problem, ArcIndex e);
// The largest |cost| an arc of `problem` may have: |cost| * (nodes + 1) within kCostPathBound, which for
// integers is |cost| at most kCostPathBound / (nodes + 1), rounded down. Found once, so that the check of
// each arc is a comparison rather than a 128-bit product.
inline std::uint64_t largest_sound_cost(const TransportationProblem& problem) {
  return static_cast<std::uint64_t>(kCostPathBound) /
         (std::uint64_t{problem.source_count()} + problem.sink_count() + 1);
}
inline bool arc_is_sound(const TransportationProblem& problem, ArcIndex e, std::uint64_t largest_cost) {
  const Cost c = problem.arc_cost[e];
  const std::uint64_t magnitude = c < 0 ? 0 - static_cast<std::uint64_t>(c) : static_cast<std::uint64_t>(c);
  return problem.arc_sink[e] < problem.sink_count() && problem.arc_capacity[e] >= 0 && magnitude <= largest_cost;
}

}  // namespace ewx
