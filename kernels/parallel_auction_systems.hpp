// Internal to the parallel solver: the one entry point per Thrust system, which the launcher
// (parallel_auction.cpp) calls and parallel_auction_host.cpp / parallel_auction.cu define. No Thrust and no
// CUDA syntax here, so the launcher compiles as plain C++.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/parallel_auction.hpp"

namespace ewx::kernels::detail {

struct AuctionOutput {
  SolveStatus status = SolveStatus::optimal;
  std::string detail;
  std::vector<ArcFlow> flows;  // positive flows, ascending arc index
  std::vector<Potential> alpha, beta;
  ParallelStatistics statistics;
};

// Room for every lot the auction can hold at once: a lot is an arc with flow, at least a unit, so there are
// never more than the units to place, nor than arcs. The arrays of lots are this long, not one per arc.
inline std::uint64_t lot_room(const TransportationProblem& problem) {
  Quantity units = 0;
  for (const Quantity s : problem.supply) units += s;
  return std::min<std::uint64_t>(problem.arc_count(), static_cast<std::uint64_t>(units));
}

// Sources whose rows are long enough to keep a short list of their best arcs (ShortList in
// parallel_auction_kernel.cuh, which checks these figures), the arcs each list keeps, and the bytes it
// takes. Sixteen arcs (ShortList says why), unless a build sets EWX_SHORT_LIST_ARCS: scripts/gpu-bench
// builds lists of 8 beside the default, because on the GPU a list is also each lane's part of a row's
// warp reduction, and there 16 arcs cost registers and local memory that 8 do not (ptxas for sm_90:
// the rounds' ListedBid kernel 87 registers and an 816-byte stack frame, against 53 and 432). The
// lists never change a bid, so the flows are the same at any size; only the time differs.
#ifndef EWX_SHORT_LIST_ARCS
#define EWX_SHORT_LIST_ARCS 16
#endif
inline constexpr std::uint32_t kShortListArcs = EWX_SHORT_LIST_ARCS;
static_assert(kShortListArcs >= 2, "a short list answers from its best two arcs");
inline constexpr std::uint64_t kShortListFrom = 1024, kShortListBytes = 16 * std::uint64_t{kShortListArcs} + 16;
inline bool has_short_list(const TransportationProblem& problem, NodeIndex source) {
  return problem.row_begin[source + 1] - problem.row_begin[source] >= kShortListFrom;
}
inline std::uint64_t listed_rows(const TransportationProblem& problem) {
  std::uint64_t rows = 0;
  for (NodeIndex i = 0; i < problem.source_count(); ++i) rows += has_short_list(problem, i);
  return rows;
}

// `scale` is n + 1 and `largest` the largest |cost|; the launcher has checked the problem (balanced,
// capacities that never bind, scaled costs within range). Never throw: failures come back in `out.status`
// and `out.detail`.
void solve_on_host_system(const TransportationProblem& problem, Potential scale, Cost largest, AuctionOutput& out);
void solve_on_cuda_system(const TransportationProblem& problem, Potential scale, Cost largest, AuctionOutput& out);

}  // namespace ewx::kernels::detail
