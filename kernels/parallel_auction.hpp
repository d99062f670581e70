// The parallel exact solver: a Jacobi epsilon-scaling auction for the transportation problem, written once
// on Thrust and built twice, for the GPU (CUDA) and for the CPU (Thrust's OpenMP system). No CUDA syntax
// here: any .cpp may call it. The algorithm is explained in parallel_auction_kernel.cuh.
//
// The CPU build is the same source as the GPU's, so CI, which has no GPU, runs the very algorithm the GPU
// runs on every test instance and checks it with the certificate and against the CPU solver
// (matcher/cpu_solver.hpp), the oracle.
#pragma once

#include <cstdint>
#include <string>

#include "matcher/transportation.hpp"

namespace ewx::kernels {

enum class ParallelSystem {
  host,  // Thrust's OpenMP system: every core of this machine
  cuda,  // the GPU (a build with CUDA and a usable device)
};

struct ParallelStatistics {
  std::uint64_t phases = 0;
  std::uint64_t epsilon_widenings = 0;  // times the first phase widened its epsilon (EpsilonGuard)
  std::uint64_t rounds = 0;  // Jacobi rounds: every waiting bidder bids at once, then every sink decides
  std::uint64_t bids = 0;
  std::uint64_t tail_bids = 0;  // of `bids`, those of the sequential tails
  std::uint64_t tail_scans = 0;  // of `tail_bids`, those that scanned the bidder's whole row (not a short list)
  std::uint64_t round_scans = 0;  // of the rounds' bids, those that scanned the bidder's whole row
  std::uint64_t potential_passes = 0;  // of the exact-dual recovery
  std::uint64_t device_bytes = 0;      // the working set (docs/solver.md states it per arc and per node)
  double device_ms = 0;                // on the GPU: the solve as CUDA events time it (copies included)
  // Where the time went, by the host's clock (each part ends at a point where the system has finished it):
  // the problem's upload and columns, the Jacobi rounds (with each phase's warm start), the sequential
  // tails (with their copies to and from the host on the GPU), and the exact duals (with the download).
  double setup_ms = 0, rounds_ms = 0, tail_ms = 0, duals_ms = 0;
};

// Bytes the solver holds on its system for `problem`, an upper bound: 28 per arc (the costs, sinks, flows
// and lot prices), 128 per lot it can hold (at most one per unit of supply, at most one per arc: the lists
// of lots, the units each lost in a round summed by holder, and their sorts' scratch), 128 per node and 272
// per source whose row has 1,024 arcs or more (its short list). A tail adds 24 bytes per arc it touched.
std::uint64_t parallel_working_set(const TransportationProblem& problem);

// The arcs a short list keeps in this build: 16, or what EWX_SHORT_LIST_ARCS set (scripts/gpu-bench's
// second build; parallel_auction_systems.hpp says why).
std::uint32_t short_list_arcs();

// Solves `problem` exactly on `system`. Returns status optimal with the flow, the objective and exact optimal
// potentials (the certificate's); or the CPU solver's statuses for defective problems; or out_of_range with
// `detail` when this solver does not take the problem: arcs whose capacity can bind (markets and assignment
// problems have none), costs too large for its scaled 64-bit prices, a device without room for the working
// set, or a CUDA system this build or machine does not have. Deterministic: the same problem gives the same
// flow on either system.
TransportationSolution solve_parallel(const TransportationProblem& problem, ParallelSystem system,
                                      ParallelStatistics* statistics = nullptr);

// Whether the parallel auction on this machine's cores should beat the CPU solver on `problem`, as
// `--solver auto` asks: two threads or more (OpenMP's count) and rows of 1,024 arcs or more for at least half
// the sources, where its short lists serve the rounds too. Measured on a 2-core Xeon (docs/benchmarks.md):
// dense assignments from n = 1,536 up 1.1 to 1.3x faster with costs uniform in [0, 10n), 10x with costs in
// [0, 50) (ties the CPU solver's auction is slow on); n = 1,100 1.14x slower; shorter rows, as in market
// batches, 1.2 to 1.8x slower. It says nothing of whether the auction takes the problem (solve_parallel).
bool parallel_pays_on_cores(const TransportationProblem& problem);

}  // namespace ewx::kernels
