// Where a program clears batches, decided once at start-up and said in one log line (ewx-solve, ewxd).
//
//   cpu       the exact CPU solver (matcher/cpu_solver.hpp), the oracle;
//   parallel  the parallel auction (kernels/parallel_auction.hpp) on this machine's cores, through Thrust's
//             OpenMP system: the very algorithm the GPU runs, for anyone to check without a GPU;
//   gpu       the parallel auction on the GPU; without a CUDA build or a usable device, an error;
//   auto      the fastest exact solver measured for the problem: market batches on the condensed network
//             (batch_clearer); problems whose rows are mostly long (dense ones) on the parallel auction on
//             this machine's cores where kernels::parallel_pays_on_cores says it is the faster, and on the
//             CPU solver where the auction refuses them; everything else on the CPU solver. The two give
//             the same optimum, each certified, though where optima tie not always the same flow. A usable
//             GPU is reported but not taken:
//             on an H100 the parallel auction was slower than the CPU at every size measured (dense
//             assignment n = 4,096: 2.18 s against the CPU solver's 0.36 s; the 50k x 5k market batch: 29 s
//             against 0.26 s on the condensed network; docs/benchmarks.md). Where a GPU build ever wins, the
//             size from which it does belongs here, measured by scripts/gpu-bench;
//   condensed for market batches only: the condensed network (matcher/condensed_clearing.hpp) whatever its
//             size, the CPU solver for other problems.
#pragma once

#include <spdlog/spdlog.h>

#include <functional>
#include <limits>
#include <optional>
#include <string>

#include "kernels/device_probe.hpp"
#include "kernels/parallel_auction.hpp"
#include "matcher/clearing.hpp"
#include "matcher/condensed_clearing.hpp"

namespace ewx::tools {

// Told how each solve went, by the solver that ran it (ewx-solve logs these; ewxd does not ask).
struct SolveObserver {
  std::function<void(const CpuSolverStatistics&)> cpu;
  std::function<void(const kernels::ParallelStatistics&, kernels::ParallelSystem)> parallel;
};

// Returns the solver, or nothing for a request this build or machine cannot serve (after logging why).
inline std::optional<TransportationSolver> choose_solver(const std::string& requested, const CpuSolverOptions& cpu = {},
                                                         const SolveObserver& observer = {}) {
  const TransportationSolver on_cpu = [cpu, report = observer.cpu](const TransportationProblem& problem) {
    CpuSolverStatistics statistics;
    TransportationSolution solution = solve_on_cpu(problem, cpu, &statistics);
    if (report) report(statistics);
    return solution;
  };
  const auto on = [report = observer.parallel](kernels::ParallelSystem system) {
    return TransportationSolver([report, system](const TransportationProblem& problem) {
      kernels::ParallelStatistics statistics;
      TransportationSolution solution = kernels::solve_parallel(problem, system, &statistics);
      if (report) report(statistics, system);
      return solution;
    });
  };
  const TransportationSolver on_gpu = on(kernels::ParallelSystem::cuda);
  if (requested == "condensed") {
    spdlog::info("solver: the condensed network for market batches (requested); the exact CPU solver otherwise");
    return on_cpu;
  }
  if (requested == "cpu") {
    spdlog::info("solver: exact CPU solver (requested)");
    return on_cpu;
  }
  if (requested == "parallel") {
    spdlog::info("solver: the parallel auction on this machine's CPU cores (Thrust OpenMP system)");
    return on(kernels::ParallelSystem::host);
  }
  const kernels::DeviceProbe probe = kernels::probe_device();
  const bool usable = probe.usable && kernels::built_with_cuda();
  if (requested == "gpu") {
    if (!usable) {
      spdlog::error("--solver gpu is not available: {}", kernels::built_with_cuda()
                                                             ? "no usable CUDA device: " + probe.reason
                                                             : std::string("this build has no CUDA kernels"));
      return std::nullopt;
    }
    spdlog::info("solver: the parallel auction on {} (requested)", probe.name);
    return on_gpu;
  }
  constexpr const char* kAutomatic =
      "exact CPU solver, and the parallel auction on this machine's cores for problems whose rows are mostly "
      "1,024 arcs or longer (where it has two cores or more)";
  if (!usable) {
    spdlog::info("solver: {} (no usable CUDA device: {})", kAutomatic,
                 kernels::built_with_cuda() ? probe.reason : std::string("this build has no CUDA kernels"));
  } else {
    spdlog::info("solver: {}; {} is usable but slower at every size measured (--solver gpu takes it)", kAutomatic,
                 probe.name);
  }
  // The auction refuses what it does not take (a capacity that can bind, prices too wide for 64 bits) with
  // out_of_range, as it does a defective problem; the CPU solver then solves the first or names the defect.
  return [on_cpu, on_cores = on(kernels::ParallelSystem::host)](const TransportationProblem& problem) {
    if (kernels::parallel_pays_on_cores(problem)) {
      TransportationSolution solution = on_cores(problem);
      if (solution.status != SolveStatus::out_of_range) return solution;
    }
    return on_cpu(problem);
  };
}

// How a program clears market batches (ewxd, ewx-solve): `bipartite` is choose_solver's answer for the same
// request. Tells `observer` how each clearing on the condensed network went, and the log when the ladder
// auction stopped at its bid budget.
using BatchClearer = std::function<ClearingResult(const Batch&, const Topology&)>;
inline BatchClearer batch_clearer(const std::string& requested, TransportationSolver bipartite,
                                  CondensedEngine engine = CondensedEngine::automatic,
                                  std::function<void(const CondensedStatistics&)> observer = {}) {
  if (requested != "auto" && requested != "condensed") {
    return
        [bipartite](const Batch& batch, const Topology& topology) { return clear_batch(batch, topology, bipartite); };
  }
  const CondensedOptions options{.engine = engine};
  if (requested == "auto") spdlog::info("solver: market batches on the condensed network");
  return [bipartite, options, observer](const Batch& batch, const Topology& topology) {
    CondensedStatistics statistics;
    std::optional<ClearingResult> condensed = clear_batch_condensed(batch, topology, options, &statistics);
    if (!condensed) return clear_batch(batch, topology, bipartite);
    // Exact either way, but slower by far on a large batch: an operator should know (docs/solver.md, "Huge
    // orders").
    if (statistics.auction_out_of_bids)
      spdlog::warn(
          "batch {}: the ladder auction stopped at its bid budget after {} bids (orders of huge units bidding "
          "over each other's lots); the network simplex cleared it in {:.0f} ms",
          batch.number, statistics.auction_bids, statistics.solve_ms);
    if (observer) observer(statistics);
    return std::move(*condensed);
  };
}

}  // namespace ewx::tools
