// The parallel auction on the GPU: parallel_auction_kernel.cuh with Thrust's CUDA system. Before anything
// is allocated, the working set is checked against the device's free memory, so a batch too large for the
// device is refused with a message (and cleared on the CPU by the caller) instead of failing part way.
// Every CUDA call is checked; Thrust reports failed launches and copies as exceptions, which end here and
// come back as a status, never across the launcher.
//
// Thrust's algorithms that need scratch space (the sorts, copy_if, unique) take it from CUB's caching
// allocator rather than from cudaMalloc and cudaFree on each call: a round makes a dozen such calls, and
// cudaFree waits for the whole device. It is a small part of a round's fixed cost: on the H100, with the
// tails nearly switched off, the 4,311 rounds of n = 8,192 took 4.61 s before and 4.31 s with the cache (one
// run each); the rest is the round's some 35 launches and the waits for their results. The policy is
// par_nosync: an algorithm that hands nothing back to the host does not wait for its kernels (the rounds of
// n = 8,192 257-262 -> 225 ms, of the 50k x 5k market batch 10.9-11.3 -> 10.4 s, one H100 run). Everything the
// host reads comes through a copy or a count, which waits for the work before it on the default stream.
#include <cub/util_allocator.cuh>
#include <cuda_runtime.h>
#include <thrust/device_vector.h>
#include <thrust/system/cuda/execution_policy.h>

#include <exception>
#include <stdexcept>
#include <string>

#include "kernels/parallel_auction_kernel.cuh"

namespace ewx::kernels::detail {

// The GPU's row launcher: reduce_rows (parallel_auction_kernel.cuh), one warp per row; the CPU runs the same
// reductions one thread per row (RowsOnOneThread).
struct RowsOnWarps {
  template <typename Policy, typename R>
  static void run(Policy, const std::uint32_t* rows, Index count, const R& reduction) {
    if (count == 0) return;
    const Index blocks = (count + kRowsPerBlock - 1) / kRowsPerBlock;
    reduce_rows<<<static_cast<unsigned>(blocks), kRowsPerBlock * kLanes>>>(rows, count, reduction);
    if (const cudaError_t status = cudaGetLastError(); status != cudaSuccess)
      throw std::runtime_error(std::string("a row reduction's launch failed: ") + cudaGetErrorString(status));
  }
};

// Thrust's temporary storage from a CUB cache. Blocks up to 64 MiB (a round's scratch) are kept for reuse
// until the solve ends; a larger one (the sort of a phase's lots on a batch of millions of units) gets an
// exact block, freed at once, so the cache never holds more than the rounds need besides the working set
// checked below.
class CachedScratch {
 public:
  using value_type = char;
  CachedScratch() = default;
  CachedScratch(const CachedScratch&) = delete;
  CachedScratch& operator=(const CachedScratch&) = delete;

  char* allocate(std::ptrdiff_t bytes) {
    void* block = nullptr;
    if (const cudaError_t status = cache_.DeviceAllocate(&block, static_cast<std::size_t>(bytes)); status != cudaSuccess)
      throw std::runtime_error(std::string("scratch space for a Thrust call: ") + cudaGetErrorString(status));
    return static_cast<char*>(block);
  }
  // Called from Thrust's destructors, also while an exception unwinds, so it must not throw: a failure here
  // is a device error that the solve's next checked call reports.
  void deallocate(char* block, std::size_t) noexcept { static_cast<void>(cache_.DeviceFree(block)); }

 private:
  // Bins of powers of two from 1 KiB to 64 MiB, at most 512 MiB cached.
  cub::CachingDeviceAllocator cache_{2, 10, 26, std::size_t{512} << 20};
};

void solve_on_cuda_system(const TransportationProblem& problem, Potential scale, Cost largest, AuctionOutput& out) {
  std::size_t free_bytes = 0, total_bytes = 0;
  if (const cudaError_t status = cudaMemGetInfo(&free_bytes, &total_bytes); status != cudaSuccess) {
    out.status = SolveStatus::out_of_range;
    out.detail = std::string("no usable CUDA device: ") + cudaGetErrorString(status);
    return;
  }
  const std::uint64_t needed = parallel_working_set(problem);
  if (needed > free_bytes / 10 * 9) {
    out.status = SolveStatus::out_of_range;
    out.detail = "the batch needs " + std::to_string(needed) + " bytes on the device, which has " +
                 std::to_string(free_bytes) + " free";
    return;
  }
  cudaEvent_t start = nullptr, stop = nullptr;
  const auto check = [](cudaError_t status) {
    if (status != cudaSuccess) throw std::runtime_error(cudaGetErrorString(status));
  };
  try {
    check(cudaEventCreate(&start));
    check(cudaEventCreate(&stop));
    check(cudaEventRecord(start));
    CachedScratch scratch;
    auto policy = th::cuda::par_nosync(scratch);
    run_parallel_auction<decltype(policy), th::device_vector, RowsOnWarps, ProblemMemory::uploaded>(
        policy, problem, scale, largest, out);
    check(cudaGetLastError());
    check(cudaEventRecord(stop));
    check(cudaEventSynchronize(stop));
    float ms = 0;
    check(cudaEventElapsedTime(&ms, start, stop));
    out.statistics.device_ms = ms;
  } catch (const std::exception& e) {
    out.status = SolveStatus::out_of_range;
    out.detail = std::string("the GPU solver failed: ") + e.what();
  }
  if (start) cudaEventDestroy(start);
  if (stop) cudaEventDestroy(stop);
}

}  // namespace ewx::kernels::detail
