// `--solver auto` (tools/solver_choice.hpp), as ewx-solve and ewxd take it: which solver a problem goes to,
// that a problem the parallel auction refuses still gets solved, and that either way the answer is the
// certified optimum the CPU solver finds.
#include <doctest/doctest.h>

#include <string>

#include "matcher/certificate.hpp"
#include "matcher/cpu_solver.hpp"
#include "tests/solver_instances.hpp"
#include "tools/solver_choice.hpp"

using namespace ewx;
using namespace ewx::testing;

namespace {

// The automatic solver, and how many problems each solver was handed.
struct Counted {
  int cpu = 0, parallel = 0;
  TransportationSolver solve;
  Counted() {
    tools::SolveObserver observer;
    observer.cpu = [this](const CpuSolverStatistics&) { ++cpu; };
    observer.parallel = [this](const kernels::ParallelStatistics&, kernels::ParallelSystem system) {
      CHECK(system == kernels::ParallelSystem::host);  // never the GPU unless asked for
      ++parallel;
    };
    solve = *tools::choose_solver("auto", {}, observer);
  }
};

void check_optimal_as_cpu(const TransportationProblem& p, const TransportationSolution& s) {
  REQUIRE_MESSAGE(s.status == SolveStatus::optimal, s.detail);
  const CertificateReport report = check_certificate(p, s);
  CHECK_MESSAGE(report.optimal, report.failure);
  CHECK(s.objective == solve_on_cpu(p).objective);
}

// `sources` rows, the first `long_rows` of them 1,024 arcs long and the rest 10.
TransportationProblem rows_of(NodeIndex sources, NodeIndex long_rows) {
  std::vector<Arc> arcs;
  for (NodeIndex i = 0; i < sources; ++i)
    for (NodeIndex j = 0; j < (i < long_rows ? 1024 : 10); ++j) arcs.push_back({i, j, 1, (i * 7 + j * 13) % 101});
  std::vector<Quantity> demand(1024, 0);
  for (NodeIndex j = 0; j < sources; ++j) demand[j] = 1;
  return make_transportation_problem(std::vector<Quantity>(sources, 1), demand, arcs);
}

}  // namespace

// Named "parallel auction ..." so that the ThreadSanitizer build, whose GCC OpenMP runtime it cannot see
// into, leaves it out as it does the auction's other tests (scripts/test --sanitize=thread).
TEST_CASE("parallel auction under --solver auto: dense problems go to it on the cores, others to the CPU solver") {
  SUBCASE("the rule: half the rows or more of 1,024 arcs or longer, on two cores or more") {
    const bool cores = kernels::parallel_pays_on_cores(rows_of(4, 4));
    MESSAGE("this machine " << std::string(cores ? "has" : "does not have") << " the cores for the parallel auction");
    CHECK(kernels::parallel_pays_on_cores(rows_of(4, 2)) == cores);
    CHECK_FALSE(kernels::parallel_pays_on_cores(rows_of(4, 1)));
    CHECK_FALSE(kernels::parallel_pays_on_cores(rows_of(4, 0)));
  }
  SUBCASE("a dense assignment") {
    SeededRandom random(5);
    const TransportationProblem p = dense_assignment(random, 1100, 50);
    Counted counted;
    const TransportationSolution s = counted.solve(p);
    check_optimal_as_cpu(p, s);
    const bool cores = kernels::parallel_pays_on_cores(p);
    CHECK(counted.parallel == (cores ? 1 : 0));
    CHECK(counted.cpu == (cores ? 0 : 1));
  }
  SUBCASE("short rows") {
    SeededRandom random(6);
    const TransportationProblem p = random_problem(random, 300, 200, 20, 30, -500, 500, std::nullopt);
    Counted counted;
    check_optimal_as_cpu(p, counted.solve(p));
    CHECK(counted.parallel == 0);
    CHECK(counted.cpu == 1);
  }
  SUBCASE("a dense problem the auction refuses is solved on the CPU") {
    SeededRandom random(7);
    TransportationProblem p = dense_assignment(random, 1100, 11000);
    p.arc_capacity[5000] = 0;  // binds: the auction does not take it
    Counted counted;
    check_optimal_as_cpu(p, counted.solve(p));
    CHECK(counted.parallel == (kernels::parallel_pays_on_cores(p) ? 1 : 0));
    CHECK(counted.cpu == 1);
  }
  SUBCASE("a defective problem is named, whichever solver is asked first") {
    SeededRandom random(8);
    TransportationProblem p = dense_assignment(random, 1100, 11000);
    p.arc_capacity[7] = -1;
    Counted counted;
    const TransportationSolution s = counted.solve(p);
    CHECK(s.status == SolveStatus::out_of_range);
    CHECK(s.detail == "arc 7 has negative capacity");
  }
}
