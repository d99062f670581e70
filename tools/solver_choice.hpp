// Where a program clears batches, decided once at start-up and said in one log line (ewx-solve, ewxd).
//
//   cpu       the exact CPU solver (matcher/cpu_solver.hpp), the oracle;
//   parallel  the parallel auction (kernels/parallel_auction.hpp) on this machine's cores, through Thrust's
//             OpenMP system: the very algorithm the GPU runs, for anyone to check without a GPU;
//   gpu       the parallel auction on the GPU; without a CUDA build or a usable device, an error;
//   auto      the GPU for problems of at least kGpuFromArcs arcs when a device is usable, else the CPU. A
//             missing driver or device is a normal answer that means the CPU, and a problem the GPU
//             refuses (too large for its memory, say) is cleared on the CPU with a warning;
//   condensed for market batches only: the condensed network (matcher/condensed_clearing.hpp) whatever its
//             size. Under auto, market batches are cleared that way too where no GPU is usable (the ladder
//             auction beats the bipartite CPU solver at every size measured), and where one is, those whose
//             condensed network has at most kCondensedBeforeGpuArcs arcs; larger ones go to the GPU as above
//             (batch_clearer).
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

// Below this many arcs the CPU solver's candidate pricing is faster than a trip to the device.
inline constexpr ArcIndex kGpuFromArcs = 1'000'000;

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
  if (!usable) {
    spdlog::info("solver: exact CPU solver (no usable CUDA device: {})",
                 kernels::built_with_cuda() ? probe.reason : std::string("this build has no CUDA kernels"));
    return on_cpu;
  }
  spdlog::info("solver: the parallel auction on {} for problems of {} arcs or more, else the CPU", probe.name,
               kGpuFromArcs);
  return TransportationSolver([on_cpu, on_gpu](const TransportationProblem& problem) {
    if (problem.arc_count() < kGpuFromArcs) return on_cpu(problem);
    TransportationSolution solution = on_gpu(problem);
    if (solution.status != SolveStatus::out_of_range) return solution;
    spdlog::warn("solver: {}; clearing on the CPU", solution.detail);
    return on_cpu(problem);
  });
}

// How a program clears market batches (ewxd, ewx-solve): `bipartite` is choose_solver's answer for the same
// request. Tells `observer` how each clearing on the condensed network went.
using BatchClearer = std::function<ClearingResult(const Batch&, const Topology&)>;
inline BatchClearer batch_clearer(const std::string& requested, TransportationSolver bipartite,
                                  CondensedEngine engine = CondensedEngine::automatic,
                                  std::function<void(const CondensedStatistics&)> observer = {}) {
  if (requested != "auto" && requested != "condensed") {
    return
        [bipartite](const Batch& batch, const Topology& topology) { return clear_batch(batch, topology, bipartite); };
  }
  CondensedOptions options{.engine = engine};
  if (requested == "auto") {
    const kernels::DeviceProbe probe = kernels::probe_device();
    if (probe.usable && kernels::built_with_cuda()) options.most_arcs = kCondensedBeforeGpuArcs;
    spdlog::info("solver: market batches on the condensed network{}",
                 options.most_arcs == std::numeric_limits<std::uint64_t>::max()
                     ? std::string()
                     : " when it has at most " + std::to_string(options.most_arcs) + " arcs");
  }
  return [bipartite, options, observer](const Batch& batch, const Topology& topology) {
    CondensedStatistics statistics;
    std::optional<ClearingResult> condensed = clear_batch_condensed(batch, topology, options, &statistics);
    if (!condensed) return clear_batch(batch, topology, bipartite);
    if (observer) observer(statistics);
    return std::move(*condensed);
  };
}

}  // namespace ewx::tools
