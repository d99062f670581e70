// Optimality certificates: the independent check that every solve in ewx passes through in the tests, in
// `ewx-solve --check`, and (later) in the auditor's re-check of a stored batch.
#pragma once

#include <span>
#include <string>

#include "matcher/transportation.hpp"

namespace ewx {

struct CertificateReport {
  bool optimal = false;
  std::string failure;   // the first violated condition, naming the node or arc, when not optimal
  Objective primal = 0;  // sum of flow * cost, recomputed here
  Objective dual = 0;    // the dual objective of the potentials, equal to primal when optimal
};

// Checks that `flows` (positive flows in ascending arc order; every other arc carries nothing) is a feasible flow of
// `problem` and that the potentials prove it optimal (linear programming duality: complementary slackness plus dual
// feasibility), and that the solver's claimed objective is the recomputed one. Shares no code with any solver.
CertificateReport check_certificate(const TransportationProblem& problem, std::span<const ArcFlow> flows,
                                    std::span<const Potential> source_potential,
                                    std::span<const Potential> sink_potential, Objective claimed_objective);

inline CertificateReport check_certificate(const TransportationProblem& problem,
                                           const TransportationSolution& solution) {
  return check_certificate(problem, solution.flows, solution.source_potential, solution.sink_potential,
                           solution.objective);
}

}  // namespace ewx
