// The parallel solver's launcher (design in parallel_auction.hpp): checks what the solver takes, picks the
// Thrust system, and turns its output into a TransportationSolution. Plain C++: the systems are behind
// parallel_auction_systems.hpp.
#include "kernels/parallel_auction.hpp"

#include <algorithm>
#include <cstdint>

#include <omp.h>

#include "kernels/parallel_auction_systems.hpp"
#include "matcher/cpu_solver.hpp"

namespace ewx::kernels {

std::uint64_t parallel_working_set(const TransportationProblem& problem) {
  return 28 * problem.arc_count() + 128 * detail::lot_room(problem) +
         128 * (std::uint64_t{problem.source_count()} + problem.sink_count() + 1) +
         detail::kShortListBytes * detail::listed_rows(problem);
}

std::uint32_t short_list_arcs() { return detail::kShortListArcs; }

bool parallel_pays_on_cores(const TransportationProblem& problem) {
  return omp_get_max_threads() >= 2 && 2 * detail::listed_rows(problem) >= problem.source_count();
}

TransportationSolution solve_parallel(const TransportationProblem& problem, ParallelSystem system,
                                      ParallelStatistics* statistics) {
  TransportationSolution solution;
  const auto fail = [&](ProblemDefect defect) {
    solution.status = defect.status;
    solution.detail = std::move(defect.detail);
    return solution;
  };
  if (ProblemDefect defect = find_node_defect(problem)) return fail(std::move(defect));
  const auto refuse = [&](std::string why) {
    return fail({SolveStatus::out_of_range, "the parallel solver does not take this problem: " + std::move(why)});
  };
  // One pass over the arcs, shared by the cores: the first unsound arc (find_problem_defect's arc checks,
  // which on one core in a pass of their own had read every arc a second time: the solve was 1.07 to 1.11x
  // slower at n = 4,096 and 8,192), the first arc whose capacity can bind, and the largest cost. An unsound
  // arc's sink may not exist, so nothing else is read of it.
  const std::int64_t sources = problem.source_count();
  const std::uint64_t largest_cost = largest_sound_cost(problem);
  ArcIndex first_unsound = problem.arc_count(), first_binding = problem.arc_count();
  Cost largest = 0;
#pragma omp parallel for schedule(static) reduction(min : first_unsound, first_binding) reduction(max : largest)
  for (std::int64_t i = 0; i < sources; ++i) {
    const auto source = static_cast<NodeIndex>(i);
    for (ArcIndex e = problem.row_begin[source]; e < problem.row_begin[source + 1]; ++e) {
      if (!arc_is_sound(problem, e, largest_cost)) {
        first_unsound = std::min(first_unsound, e);
        continue;
      }
      if (e < first_binding && !problem.capacity_never_binds(source, e)) first_binding = e;
      const Cost c = problem.arc_cost[e];
      largest = std::max(largest, c < 0 ? -c : c);
    }
  }
  if (first_unsound < problem.arc_count()) return fail(find_arc_defect(problem, first_unsound));
  if (first_binding < problem.arc_count())
    return refuse("arc " + std::to_string(first_binding) + " has a capacity that can bind (use the CPU solver)");
  const Potential scale = static_cast<Potential>(problem.source_count()) + problem.sink_count() + 1;
  if (static_cast<Objective>(largest + 1) * scale * scale * 8 > (Objective{1} << 62))
    return refuse("its costs times (nodes + 1) squared exceed the auction's 64-bit prices");

  detail::AuctionOutput out;
  if (system == ParallelSystem::cuda)
    detail::solve_on_cuda_system(problem, scale, largest, out);
  else
    detail::solve_on_host_system(problem, scale, largest, out);
  if (statistics) *statistics = out.statistics;
  solution.status = out.status;
  solution.detail = out.detail;
  if (out.status != SolveStatus::optimal) return solution;
  solution.flows = std::move(out.flows);
  solution.source_potential = std::move(out.alpha);
  solution.sink_potential = std::move(out.beta);
  solution.objective = total_cost(problem, solution.flows);
  return solution;
}

}  // namespace ewx::kernels
