// The parallel auction's CUDA system in a build without CUDA: a clear refusal, so that `--solver gpu` says
// why and `--solver auto` clears on the CPU.
#include "kernels/parallel_auction_systems.hpp"

namespace ewx::kernels::detail {

void solve_on_cuda_system(const TransportationProblem&, Potential, Cost, AuctionOutput& out) {
  out.status = SolveStatus::out_of_range;
  out.detail = "this build of ewx has no CUDA kernels (configure with EWX_CUDA=ON where nvcc is installed)";
}

}  // namespace ewx::kernels::detail
