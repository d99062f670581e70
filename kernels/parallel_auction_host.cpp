// The parallel auction on the CPU: parallel_auction_kernel.cuh compiled by the host compiler for Thrust's
// OpenMP system (every core), inside its own Thrust namespace (THRUST_CUB_WRAPPED_NAMESPACE, set by
// kernels/CMakeLists.txt) so that it can live in one program beside the CUDA build of the same code.
#include <thrust/system/omp/execution_policy.h>
#include <thrust/system/omp/vector.h>

#include <exception>

#include "kernels/parallel_auction_kernel.cuh"

namespace ewx::kernels::detail {

void solve_on_host_system(const TransportationProblem& problem, Potential scale, Cost largest, AuctionOutput& out) {
  try {
    run_parallel_auction<decltype(th::omp::par), th::omp::vector, RowsOnOneThread, ProblemMemory::in_place>(
        th::omp::par, problem, scale, largest, out);
  } catch (const std::exception& e) {
    out.status = SolveStatus::out_of_range;
    out.detail = std::string("the parallel solver failed: ") + e.what();
  }
}

}  // namespace ewx::kernels::detail
