// Internal to the parallel solver: the one entry point per Thrust system, which the launcher
// (parallel_auction.cpp) calls and parallel_auction_host.cpp / parallel_auction.cu define. No Thrust and no
// CUDA syntax here, so the launcher compiles as plain C++.
#pragma once

#include <string>
#include <vector>

#include "kernels/parallel_auction.hpp"

namespace ewx::kernels::detail {

struct AuctionOutput {
  SolveStatus status = SolveStatus::optimal;
  std::string detail;
  std::vector<Quantity> flow;  // per arc
  std::vector<Potential> alpha, beta;
  ParallelStatistics statistics;
};

// `scale` is n + 1; the launcher has checked the problem (balanced, capacities that never bind, scaled
// costs within range). Never throw: failures come back in `out.status` and `out.detail`.
void solve_on_host_system(const TransportationProblem& problem, Potential scale, AuctionOutput& out);
void solve_on_cuda_system(const TransportationProblem& problem, Potential scale, AuctionOutput& out);

}  // namespace ewx::kernels::detail
