// Clearing a batch: build the graph, solve it exactly, price it, and write the contracts.
#pragma once

#include <functional>
#include <vector>

#include "matcher/batch_builder.hpp"
#include "matcher/cpu_solver.hpp"
#include "matcher/market.hpp"

namespace ewx {

struct ClearingResult {
  SolveStatus status = SolveStatus::infeasible;
  std::string detail;
  MarketGraph graph;
  TransportationSolution solution;
  std::vector<Fen> offer_price;     // per offer: ask + buyer-optimal premium
  std::vector<Contract> contracts;  // in order, then offer, order
  Objective total_surplus = 0;      // sum of (bid - ask - transfer charge) * units over the contracts
  Units units_traded = 0;
  CpuSolverStatistics statistics;
};

// Clears `batch` exactly on the CPU. The status is optimal except for batches outside the documented
// limits (out_of_range, with detail). Deterministic.
ClearingResult clear_batch(const Batch& batch, const Topology& topology, const CpuSolverOptions& options = {});

// The same with another exact solver for the transportation problem (the parallel one, on a GPU or the
// CPU): everything but the solve is shared, so every solver's clearing is priced and recorded alike.
using TransportationSolver = std::function<TransportationSolution(const TransportationProblem&)>;
ClearingResult clear_batch(const Batch& batch, const Topology& topology, const TransportationSolver& solve);

}  // namespace ewx
