// The parallel auction (kernels/parallel_auction.hpp) on its CPU system: the same source the GPU build
// compiles, so these tests check the GPU's algorithm without a GPU. Every solve is checked by the
// independent certificate, against brute force on tiny problems and against the CPU solver (the oracle) on
// everything else, and market clearings also by the equilibrium checker and the prices the CPU's clearing
// gives.
#include <doctest/doctest.h>

#include <functional>
#include <numeric>
#include <optional>

#include "kernels/device_probe.hpp"
#include "kernels/parallel_auction.hpp"
#include "matcher/batch_builder.hpp"
#include "matcher/certificate.hpp"
#include "matcher/clearing.hpp"
#include "matcher/cpu_solver.hpp"
#include "matcher/equilibrium_check.hpp"
#include "matcher/market_generator.hpp"
#include "tests/solver_instances.hpp"

using namespace ewx;
using kernels::ParallelSystem;
using testing::brute_force_minimum;
using testing::dense_assignment;

namespace {

// Random problems whose capacities never bind (the parallel solver's scope).
TransportationProblem random_problem(SeededRandom& random, NodeIndex sources, NodeIndex sinks, Quantity most_units,
                                     int arc_percent, Cost cost_low, Cost cost_high) {
  return testing::random_problem(random, sources, sinks, most_units, arc_percent, cost_low, cost_high, std::nullopt);
}

TransportationSolution parallel(const TransportationProblem& p) {
  return kernels::solve_parallel(p, ParallelSystem::host);
}

void check_certified(const TransportationProblem& p, const TransportationSolution& s) {
  const CertificateReport report = check_certificate(p, s);
  CHECK_MESSAGE(report.optimal, report.failure);
  CHECK(report.primal == s.objective);
}

}  // namespace

TEST_CASE("parallel auction: tiny random problems match brute force, infeasible ones are reported") {
  SeededRandom random(99);
  int feasible = 0, infeasible = 0;
  for (int round = 0; round < 300; ++round) {
    const TransportationProblem p = random_problem(random, static_cast<NodeIndex>(random.between(1, 3)),
                                                   static_cast<NodeIndex>(random.between(1, 3)), 3, 70, -20, 20);
    CAPTURE(round);
    const std::optional<Objective> expected = brute_force_minimum(p);
    const TransportationSolution s = parallel(p);
    if (!expected) {
      CHECK(s.status == SolveStatus::infeasible);
      ++infeasible;
      continue;
    }
    ++feasible;
    REQUIRE_MESSAGE(s.status == SolveStatus::optimal, s.detail);
    CHECK(s.objective == *expected);
    check_certified(p, s);
  }
  CHECK(feasible > 100);
  CHECK(infeasible > 20);
}

TEST_CASE("parallel auction: assignments with many ties match brute force and the CPU solver") {
  SeededRandom random(7);
  for (int round = 0; round < 150; ++round) {
    const TransportationProblem p = dense_assignment(random, static_cast<NodeIndex>(random.between(1, 6)), 4);
    CAPTURE(round);
    const TransportationSolution s = parallel(p);
    REQUIRE_MESSAGE(s.status == SolveStatus::optimal, s.detail);
    CHECK(s.objective == *brute_force_minimum(p));
    check_certified(p, s);
  }
  const TransportationProblem big = dense_assignment(random, 120, 1200);
  const TransportationSolution s = parallel(big);
  REQUIRE_MESSAGE(s.status == SolveStatus::optimal, s.detail);
  CHECK(s.objective == solve_on_cpu(big).objective);
  check_certified(big, s);
}

TEST_CASE("parallel auction: random transportation problems with quantities agree with the CPU solver") {
  SeededRandom random(4242);
  int solved = 0;
  for (int round = 0; round < 40; ++round) {
    const TransportationProblem p = random_problem(random, static_cast<NodeIndex>(random.between(1, 60)),
                                                   static_cast<NodeIndex>(random.between(1, 30)), 50, 60, -1000, 1000);
    CAPTURE(round);
    const TransportationSolution oracle = solve_on_cpu(p);
    const TransportationSolution s = parallel(p);
    CHECK(s.status == oracle.status);
    if (oracle.status != SolveStatus::optimal) continue;
    ++solved;
    CHECK(s.objective == oracle.objective);
    check_certified(p, s);
  }
  CHECK(solved > 10);
}

TEST_CASE("parallel auction: market batches clear to the CPU's surplus, prices and equilibrium") {
  for (const auto& [orders, offers, seed] :
       {std::tuple{200, 25, 1}, std::tuple{600, 60, 2}, std::tuple{1500, 120, 3}}) {
    MarketShape shape;
    shape.orders = orders;
    shape.offers = offers;
    shape.seed = seed;
    const Batch batch = generate_market(shape, default_topology());
    CAPTURE(shape.orders);  // not the structured binding: clang 14 cannot capture one (this file is also built
                            // with clang, under ThreadSanitizer)
    const ClearingResult oracle = clear_batch(batch, default_topology());
    const ClearingResult result = clear_batch(batch, default_topology(), parallel);
    REQUIRE_MESSAGE(result.status == SolveStatus::optimal, result.detail);
    CHECK(result.total_surplus == oracle.total_surplus);
    CHECK(result.offer_price == oracle.offer_price);  // buyer-optimal prices are unique
    check_certified(result.graph.problem, result.solution);
    const EquilibriumReport equilibrium =
        check_equilibrium(batch, default_topology(), result.contracts, result.offer_price);
    CHECK_MESSAGE(equilibrium.holds, equilibrium.failure);
    CHECK(equilibrium.total_surplus == result.total_surplus);
  }
}

TEST_CASE("parallel auction: the same problem gives the same flow and potentials on every run") {
  SeededRandom random(5);
  const TransportationProblem p = dense_assignment(random, 80, 5);  // heavy ties: many optima exist
  const TransportationSolution first = parallel(p);
  REQUIRE(first.status == SolveStatus::optimal);
  for (int run = 0; run < 3; ++run) {
    const TransportationSolution again = parallel(p);
    CHECK(again.flows == first.flows);
    CHECK(again.source_potential == first.source_potential);
    CHECK(again.sink_potential == first.sink_potential);
  }
}

TEST_CASE("parallel auction: rows long enough to be split across cores in the tails agree with the CPU solver") {
  // A few sources with thousands of arcs each: every phase is mostly tail, and each tail bid's row scan is
  // split across the host's threads (SequentialTail::scan_row) where it has more than one.
  SeededRandom random(77);
  for (int round = 0; round < 2; ++round) {
    const TransportationProblem p = random_problem(random, 6, 9000, 400, 100, -500, 500);
    CAPTURE(round);
    kernels::ParallelStatistics statistics;
    const TransportationSolution s = kernels::solve_parallel(p, ParallelSystem::host, &statistics);
    REQUIRE_MESSAGE(s.status == SolveStatus::optimal, s.detail);
    CHECK(statistics.tail_bids > 0);
    CHECK(s.objective == solve_on_cpu(p).objective);
    check_certified(p, s);
    CHECK(kernels::solve_parallel(p, ParallelSystem::host).flows == s.flows);
  }
}

TEST_CASE("parallel auction: the first epsilon from the sources' best values, widened in a price war") {
  // Every source's best arc costs 0, so the spread of best values is 0 and the schedule starts (and ends)
  // at epsilon 1: one phase.
  SeededRandom random(5);
  {
    TransportationProblem p = dense_assignment(random, 60, 400);
    for (NodeIndex i = 0; i < 60; ++i) p.arc_cost[p.row_begin[i] + random.between(0, 59)] = 0;
    kernels::ParallelStatistics statistics;
    const TransportationSolution s = kernels::solve_parallel(p, ParallelSystem::host, &statistics);
    REQUIRE_MESSAGE(s.status == SolveStatus::optimal, s.detail);
    CHECK(statistics.phases == 1);
    CHECK(statistics.epsilon_widenings == 0);
    CHECK(s.objective == solve_on_cpu(p).objective);
    check_certified(p, s);
  }
  // The same spread, but 80 sources tied on 30 sinks that cost nothing, the other 50 costing 1,000: the 50
  // who lose must be priced out, the 30 sinks' prices climbing 1,000 x 161 (the scale) a unit of epsilon at
  // a time. The first phase widens its epsilon instead; without that this test ran past 5 minutes.
  {
    std::vector<Arc> arcs;
    for (NodeIndex i = 0; i < 80; ++i)
      for (NodeIndex j = 0; j < 80; ++j) arcs.push_back({i, j, 1, j < 30 ? 0 : 1'000});
    const TransportationProblem p =
        make_transportation_problem(std::vector<Quantity>(80, 1), std::vector<Quantity>(80, 1), arcs);
    kernels::ParallelStatistics statistics;
    const TransportationSolution s = kernels::solve_parallel(p, ParallelSystem::host, &statistics);
    REQUIRE_MESSAGE(s.status == SolveStatus::optimal, s.detail);
    CHECK(statistics.epsilon_widenings > 0);
    CHECK(statistics.bids < 200'000);
    CHECK(s.objective == 50'000);
    check_certified(p, s);
  }
}

TEST_CASE("parallel auction on the GPU: the same flows and potentials as on the CPU system") {
  if (!kernels::built_with_cuda() || !kernels::probe_device().usable) {
    MESSAGE("no usable CUDA device here: " << kernels::probe_device().reason
                                           << " (scripts/gpu-bench runs this on one)");
    return;
  }
  SeededRandom random(11);
  std::vector<TransportationProblem> problems;
  for (int k = 0; k < 10; ++k)
    problems.push_back(random_problem(random, static_cast<NodeIndex>(random.between(1, 60)),
                                      static_cast<NodeIndex>(random.between(1, 30)), 50, 60, -1000, 1000));
  problems.push_back(dense_assignment(random, 300, 3000));
  MarketShape shape;
  shape.orders = 3000;
  shape.offers = 300;
  problems.push_back(build_market_graph(generate_market(shape, default_topology()), default_topology()).problem);
  for (std::size_t k = 0; k < problems.size(); ++k) {
    CAPTURE(k);
    const TransportationSolution on_host = parallel(problems[k]);
    const TransportationSolution on_gpu = kernels::solve_parallel(problems[k], ParallelSystem::cuda);
    REQUIRE_MESSAGE(on_gpu.status == on_host.status, on_gpu.detail);
    if (on_gpu.status != SolveStatus::optimal) continue;
    CHECK(on_gpu.flows == on_host.flows);
    CHECK(on_gpu.source_potential == on_host.source_potential);
    CHECK(on_gpu.sink_potential == on_host.sink_potential);
    check_certified(problems[k], on_gpu);
  }
}

TEST_CASE("parallel auction: what it does not take is refused with a reason, never a crash") {
  SUBCASE("a capacity that binds") {
    const std::vector<Arc> arcs = {{0, 0, 5, 5}, {0, 1, 1, 7}, {1, 1, 5, 2}};  // arc 1 carries at most 1 of 2
    const TransportationProblem p = make_transportation_problem({2, 1}, {1, 2}, arcs);
    const TransportationSolution s = parallel(p);
    CHECK(s.status == SolveStatus::out_of_range);
    CHECK(s.detail.find("arc 1 has a capacity that can bind") != std::string::npos);
    CHECK(solve_on_cpu(p).status == SolveStatus::optimal);  // the CPU solver takes it
  }
  SUBCASE("the first of several binding capacities is named, however the cores share the arcs") {
    std::vector<Arc> arcs;
    for (NodeIndex i = 0; i < 200; ++i) arcs.push_back({i, 0, i == 40 || i == 60 || i == 120 ? 1 : 2, 1});
    const TransportationProblem p = make_transportation_problem(std::vector<Quantity>(200, 2), {400}, arcs);
    const TransportationSolution s = parallel(p);
    CHECK(s.status == SolveStatus::out_of_range);
    CHECK(s.detail.find("arc 40 has a capacity that can bind") != std::string::npos);
  }
  SUBCASE("an unsound arc is named as the CPU solver names it, before any binding capacity") {
    // The launcher checks the arcs in its own pass across the cores; the lowest unsound arc must win
    // whichever core's share it falls in, and over a binding capacity on an earlier arc.
    std::vector<Arc> arcs;
    for (NodeIndex i = 0; i < 200; ++i) {
      const Cost cost = i == 170 ? Cost{1} << 59 : 1;  // too large for exact duals with 201 nodes
      arcs.push_back({i, 0, i == 40 ? 1 : i == 90 || i == 130 ? -1 : 2, cost});
    }
    const TransportationProblem p = make_transportation_problem(std::vector<Quantity>(200, 2), {400}, arcs);
    const TransportationSolution s = parallel(p);
    CHECK(s.status == SolveStatus::out_of_range);
    CHECK(s.detail == "arc 90 has negative capacity");
    CHECK(s.detail == solve_on_cpu(p).detail);
    arcs[90].capacity = arcs[130].capacity = 2;
    const TransportationProblem costly = make_transportation_problem(std::vector<Quantity>(200, 2), {400}, arcs);
    const TransportationSolution c = parallel(costly);
    CHECK(c.status == SolveStatus::out_of_range);
    CHECK(c.detail.find("arc 170 cost ") == 0);
    CHECK(c.detail == solve_on_cpu(costly).detail);
  }
  SUBCASE("unbalanced supply and demand") {
    const std::vector<Arc> arcs = {{0, 0, 9, 5}};
    CHECK(parallel(make_transportation_problem({3}, {2}, arcs)).status == SolveStatus::unbalanced);
  }
  SUBCASE("the GPU system without a GPU") {
    if (kernels::probe_device().usable) return;  // a machine with a GPU tests it for real in scripts/gpu-bench
    const std::vector<Arc> arcs = {{0, 0, 9, 5}};
    const TransportationSolution s =
        kernels::solve_parallel(make_transportation_problem({3}, {3}, arcs), ParallelSystem::cuda);
    CHECK(s.status == SolveStatus::out_of_range);
    CHECK_FALSE(s.detail.empty());
  }
}
