// The exact CPU solver against brute force, against itself with and without pricing, and through the
// certificate checker on every solve; plus the checker's own ability to say no.
#include <doctest/doctest.h>

#include <algorithm>
#include <functional>
#include <limits>
#include <numeric>
#include <optional>
#include <string>

#include "matcher/batch_builder.hpp"
#include "matcher/certificate.hpp"
#include "matcher/cpu_solver.hpp"
#include "matcher/dimacs.hpp"
#include "matcher/market_generator.hpp"
#include "tests/solver_instances.hpp"

using namespace ewx;
using testing::brute_force_minimum;
using testing::dense_assignment;
using testing::random_problem;

TEST_CASE("tiny random problems match brute force, and every solve carries a valid certificate") {
  SeededRandom random(20261122);
  int feasible = 0, infeasible = 0;
  for (int round = 0; round < 400; ++round) {
    const NodeIndex sources = static_cast<NodeIndex>(random.between(1, 3));
    const NodeIndex sinks = static_cast<NodeIndex>(random.between(1, 3));
    const TransportationProblem p = random_problem(random, sources, sinks, 3, 70, -20, 20, 3);
    const std::optional<Objective> expected = brute_force_minimum(p);
    const TransportationSolution solved = solve_on_cpu(p, {.arc_pricing = false});
    CAPTURE(round);
    if (!expected) {
      CHECK(solved.status == SolveStatus::infeasible);
      ++infeasible;
      continue;
    }
    ++feasible;
    REQUIRE(solved.status == SolveStatus::optimal);
    CHECK(solved.objective == *expected);
    const CertificateReport report = check_certificate(p, solved);
    CHECK_MESSAGE(report.optimal, report.failure);
  }
  // Both outcomes must have been exercised for this test to mean anything.
  CHECK(feasible > 100);
  CHECK(infeasible > 20);
}

TEST_CASE("tiny assignments match brute force over all permutations") {
  SeededRandom random(7);
  for (int round = 0; round < 200; ++round) {
    const NodeIndex n = static_cast<NodeIndex>(random.between(1, 6));
    const TransportationProblem p = dense_assignment(random, n, 10);  // many ties
    std::vector<NodeIndex> permutation(n);
    std::iota(permutation.begin(), permutation.end(), 0);
    Objective best = std::numeric_limits<std::int64_t>::max();
    do {
      Objective cost = 0;
      for (NodeIndex i = 0; i < n; ++i) cost += p.arc_cost[p.row_begin[i] + permutation[i]];
      best = std::min(best, cost);
    } while (std::next_permutation(permutation.begin(), permutation.end()));
    const TransportationSolution solved = solve_on_cpu(p);
    REQUIRE(solved.status == SolveStatus::optimal);
    CHECK(solved.objective == best);
    CHECK(check_certificate(p, solved).optimal);
  }
}

TEST_CASE("pricing and whole-graph solving agree on dense assignments, and both are certified") {
  SeededRandom random(99);
  for (const NodeIndex n : {30u, 120u, 300u}) {
    for (const Cost range : {Cost{3}, Cost{10} * n, Cost{1'000'000}}) {
      CAPTURE(n);
      CAPTURE(range);
      const TransportationProblem p = dense_assignment(random, n, range);
      CpuSolverStatistics priced_stats;
      const TransportationSolution priced = solve_on_cpu(p, {}, &priced_stats);
      const TransportationSolution whole = solve_on_cpu(p, {.arc_pricing = false});
      REQUIRE(priced.status == SolveStatus::optimal);
      REQUIRE(whole.status == SolveStatus::optimal);
      CHECK(priced.objective == whole.objective);
      if (n >= 120) CHECK(priced_stats.pricing_rounds >= 1);  // large enough that the pricing path must run
      const CertificateReport a = check_certificate(p, priced), b = check_certificate(p, whole);
      CHECK_MESSAGE(a.optimal, a.failure);
      CHECK_MESSAGE(b.optimal, b.failure);
    }
  }
}

TEST_CASE("seeded random transportation problems with quantities and capacities are certified") {
  SeededRandom random(4242);
  int solved_count = 0;
  for (int round = 0; round < 60; ++round) {
    const NodeIndex sources = static_cast<NodeIndex>(random.between(1, 80));
    const NodeIndex sinks = static_cast<NodeIndex>(random.between(1, 40));
    const TransportationProblem p = random_problem(random, sources, sinks, 50, 60, -1000, 1000, 60);
    const TransportationSolution s = solve_on_cpu(p);
    if (s.status != SolveStatus::optimal) {
      CHECK(s.status == SolveStatus::infeasible);
      continue;
    }
    ++solved_count;
    const CertificateReport report = check_certificate(p, s);
    CHECK_MESSAGE(report.optimal, report.failure);
    CHECK(report.primal == s.objective);
  }
  CHECK(solved_count > 10);
}

TEST_CASE("the same problem gives the same flow and potentials on every run") {
  SeededRandom random(5);
  const TransportationProblem p = dense_assignment(random, 200, 5);  // heavy ties: many optima exist
  const TransportationSolution first = solve_on_cpu(p);
  for (int run = 0; run < 3; ++run) {
    const TransportationSolution again = solve_on_cpu(p);
    CHECK(again.flows == first.flows);
    CHECK(again.source_potential == first.source_potential);
    CHECK(again.sink_potential == first.sink_potential);
  }
}

TEST_CASE("edge cases") {
  SUBCASE("no sources and no sinks") {
    const TransportationProblem p = make_transportation_problem({}, {}, {});
    const TransportationSolution s = solve_on_cpu(p);
    CHECK(s.status == SolveStatus::optimal);
    CHECK(s.objective == 0);
    CHECK(check_certificate(p, s).optimal);
  }
  SUBCASE("one side empty with nothing to ship") {
    const TransportationProblem p = make_transportation_problem({0, 0}, {}, {});
    CHECK(solve_on_cpu(p).status == SolveStatus::optimal);
  }
  SUBCASE("supply with no arcs is infeasible, with a reason") {
    const TransportationProblem p = make_transportation_problem({2}, {2}, {});
    const TransportationSolution s = solve_on_cpu(p);
    CHECK(s.status == SolveStatus::infeasible);
    CHECK_FALSE(s.detail.empty());
  }
  SUBCASE("unbalanced totals are reported, not solved") {
    const std::vector<Arc> arcs{{0, 0, 5, 1}};
    const TransportationSolution s = solve_on_cpu(make_transportation_problem({3}, {2}, arcs));
    CHECK(s.status == SolveStatus::unbalanced);
    CHECK(s.detail.find("differs") != std::string::npos);
  }
  SUBCASE("all costs tied") {
    SeededRandom random(1);
    TransportationProblem p = dense_assignment(random, 40, 1);
    const TransportationSolution s = solve_on_cpu(p);
    CHECK(s.objective == 0);
    CHECK(check_certificate(p, s).optimal);
  }
  SUBCASE("costs at the exactness limit are solved exactly; beyond it they are refused") {
    // 4 nodes + 1: |cost| * 5 must not exceed 2^60.
    const Cost limit = kCostPathBound / 5;
    const std::vector<Arc> arcs{{0, 0, 1, limit}, {0, 1, 1, -limit}, {1, 0, 1, -limit}, {1, 1, 1, limit}};
    const TransportationProblem p = make_transportation_problem({1, 1}, {1, 1}, arcs);
    const TransportationSolution s = solve_on_cpu(p);
    REQUIRE(s.status == SolveStatus::optimal);
    CHECK(s.objective == -2 * Objective{limit});
    CHECK(check_certificate(p, s).optimal);

    const std::vector<Arc> too_big{{0, 0, 1, limit + 1}, {1, 1, 1, 0}};
    const TransportationSolution refused = solve_on_cpu(make_transportation_problem({1, 1}, {1, 1}, too_big));
    CHECK(refused.status == SolveStatus::out_of_range);
    CHECK(refused.detail.find("too large") != std::string::npos);
    // Below zero too, down to the one cost whose magnitude int64 cannot hold.
    for (const Cost cost : {-(limit + 1), std::numeric_limits<Cost>::min()}) {
      CAPTURE(cost);
      const std::vector<Arc> too_low{{0, 0, 1, 0}, {1, 1, 1, cost}};
      const TransportationSolution low = solve_on_cpu(make_transportation_problem({1, 1}, {1, 1}, too_low));
      CHECK(low.status == SolveStatus::out_of_range);
      CHECK(low.detail.find("arc 1 cost " + std::to_string(cost) + " is too large") == 0);
    }
  }
  SUBCASE("one huge quantity") {
    const Quantity huge = Quantity{1} << 61;
    const std::vector<Arc> arcs{{0, 0, huge, 7}, {0, 1, huge, 3}, {1, 1, 5, -2}};
    const TransportationProblem p = make_transportation_problem({huge, 5}, {huge - 10, 15}, arcs);
    const TransportationSolution s = solve_on_cpu(p);
    REQUIRE(s.status == SolveStatus::optimal);
    // Source 1 sends its 5 units to sink 1 (cost -2); source 0 fills sink 1's other 10 and the rest to 0.
    CHECK(s.objective == Objective{huge - 10} * 7 + 10 * 3 - 10);
    CHECK(check_certificate(p, s).optimal);
  }
  SUBCASE("negative quantities are refused") {
    CHECK(solve_on_cpu(make_transportation_problem({-1}, {-1}, {})).status == SolveStatus::out_of_range);
  }
}

TEST_CASE("the certificate checker rejects what is not optimal or not feasible") {
  SeededRandom random(3);
  const TransportationProblem p = dense_assignment(random, 8, 100);
  const TransportationSolution good = solve_on_cpu(p);
  REQUIRE(check_certificate(p, good).optimal);

  SUBCASE("a wrong claimed objective") {
    CHECK_FALSE(
        check_certificate(p, good.flows, good.source_potential, good.sink_potential, good.objective + 1).optimal);
  }
  SUBCASE("potentials that do not prove optimality") {
    std::vector<Potential> alpha = good.source_potential;
    alpha[0] += 1000;  // makes some arc of source 0 negative while it could carry more
    const CertificateReport report = check_certificate(p, good.flows, alpha, good.sink_potential, good.objective);
    CHECK_FALSE(report.optimal);
    CHECK(report.failure.find("reduced cost") != std::string::npos);
  }
  SUBCASE("a flow that leaves supply unshipped") {
    std::vector<ArcFlow> flows = good.flows;
    flows.pop_back();
    CHECK_FALSE(check_certificate(p, flows, good.source_potential, good.sink_potential, total_cost(p, flows)).optimal);
  }
  SUBCASE("a feasible but worse flow, even with its own cost claimed") {
    // Swap two rows' assignments: still a perfect assignment, generally costlier, never provably optimal
    // with the old potentials unless it is equally cheap.
    std::vector<ArcFlow> swapped;
    const ArcIndex a = good.flows[0].arc, b = good.flows[1].arc;
    const NodeIndex ja = p.arc_sink[a], jb = p.arc_sink[b];
    swapped.push_back({p.row_begin[0] + jb, 1});
    swapped.push_back({p.row_begin[1] + ja, 1});
    for (std::size_t k = 2; k < good.flows.size(); ++k) swapped.push_back(good.flows[k]);
    std::sort(swapped.begin(), swapped.end(), [](const ArcFlow& x, const ArcFlow& y) { return x.arc < y.arc; });
    const Objective cost = total_cost(p, swapped);
    const CertificateReport report = check_certificate(p, swapped, good.source_potential, good.sink_potential, cost);
    CHECK(report.optimal == (cost == good.objective));
  }
  SUBCASE("flows out of order or naming arcs that do not exist") {
    std::vector<ArcFlow> reversed(good.flows.rbegin(), good.flows.rend());
    CHECK_FALSE(check_certificate(p, reversed, good.source_potential, good.sink_potential, good.objective).optimal);
    std::vector<ArcFlow> bogus = good.flows;
    bogus.push_back({p.arc_count() + 5, 1});
    CHECK_FALSE(check_certificate(p, bogus, good.source_potential, good.sink_potential, good.objective).optimal);
  }
}

TEST_CASE("the scaled auction and successive shortest paths agree, and both are certified") {
  SeededRandom random(777);
  int compared = 0;
  for (int round = 0; round < 80; ++round) {
    const NodeIndex sources = static_cast<NodeIndex>(random.between(1, 60));
    const NodeIndex sinks = static_cast<NodeIndex>(random.between(1, 30));
    // Small capacities make arcs fill up, which the auction must respect.
    const TransportationProblem p = random_problem(random, sources, sinks, 30, 70, -500, 500, round % 2 ? 8 : 100);
    const TransportationSolution by_auction = solve_on_cpu(p, {.arc_pricing = false, .engine = CpuEngine::auction});
    const TransportationSolution by_paths =
        solve_on_cpu(p, {.arc_pricing = false, .engine = CpuEngine::shortest_paths});
    CAPTURE(round);
    REQUIRE(by_auction.status == by_paths.status);
    if (by_paths.status != SolveStatus::optimal) continue;
    ++compared;
    CHECK(by_auction.objective == by_paths.objective);
    const CertificateReport report = check_certificate(p, by_auction);
    CHECK_MESSAGE(report.optimal, report.failure);
  }
  CHECK(compared > 20);
}

TEST_CASE("a source whose every open arc is full keeps its lots from one auction phase to the next") {
  // Found by tests/fuzz_inputs: source 0 must fill both arcs it can use (sink 0 takes nothing), so between
  // phases it has no usable arc and its best profit is none; the test of whether its lots still fit added
  // to that "none" (the 64-bit minimum) and overflowed, which UndefinedBehaviorSanitizer reports.
  const std::vector<Arc> arcs{{0, 1, 1, -3}, {0, 2, 2, 4}, {1, 1, 2, 1}, {1, 2, 2, 0}, {0, 0, 1, 0}};
  const TransportationProblem p = make_transportation_problem({3, 2}, {0, 2, 3}, arcs);
  for (const bool pricing : {false, true}) {
    CAPTURE(pricing);
    const TransportationSolution s = solve_on_cpu(p, {.arc_pricing = pricing, .engine = CpuEngine::auction});
    REQUIRE(s.status == SolveStatus::optimal);
    CHECK(s.objective == -3 + 2 * 4 + 1 + 0);
    const CertificateReport report = check_certificate(p, s);
    CHECK_MESSAGE(report.optimal, report.failure);
  }
}

TEST_CASE("parallel arcs between one source and one sink do not make the auction outbid itself") {
  // Found by tests/fuzz_inputs: source 0 has two arcs into sink 0, one far cheaper. Its bids counted the
  // dearer one as the second best, so each bid overshot by the gap between them, prices climbed by that gap
  // in every phase, and the auction forced alone called this feasible problem infeasible.
  for (const Cost gap : {Cost{1'000}, Cost{1'000'000'000}, Cost{949'308'499'210'400}}) {
    CAPTURE(gap);
    const std::vector<Arc> arcs{{0, 0, 2, -gap}, {0, 1, 0, 4}, {0, 0, 2, 1}, {1, 0, 1, 1}, {1, 1, 1, 1}};
    const TransportationProblem p = make_transportation_problem({1, 1}, {1, 1}, arcs);
    const TransportationSolution by_auction = solve_on_cpu(p, {.arc_pricing = false, .engine = CpuEngine::auction});
    REQUIRE(by_auction.status == SolveStatus::optimal);
    CHECK(by_auction.objective == -gap + 1);
    const CertificateReport report = check_certificate(p, by_auction);
    CHECK_MESSAGE(report.optimal, report.failure);
  }
}

TEST_CASE("the auction alone reports infeasible problems instead of looping") {
  // Two sources need the one sink that can take a single unit.
  const std::vector<Arc> arcs{{0, 0, 5, 1}, {1, 0, 5, 2}, {1, 1, 5, 3}};
  const TransportationProblem p = make_transportation_problem({2, 1}, {1, 2}, arcs);
  CHECK(solve_on_cpu(p, {.arc_pricing = false, .engine = CpuEngine::auction}).status == SolveStatus::infeasible);
  CHECK(solve_on_cpu(p, {.arc_pricing = false}).status == SolveStatus::infeasible);
}

TEST_CASE(
    "a balanced problem whose prices climb past the auction's bound is still solved when the auction is asked for") {
  // Found by tests/fuzz_inputs. No slack: both sinks sell out, so prices are fixed only up to a constant,
  // and every phase both climbed by about the largest value (source 2 is indifferent between the sinks and
  // sent the price of node 4 up to node 5's, source 1 values node 4 hugely and bid it far above) until
  // they passed the bound meant for infeasible problems. The auction, asked for by name, said infeasible.
  const DimacsInstance instance = parse_dimacs(
      "p min 5 5\n"
      "n 1 4\nn 2 2\nn 4 -3\nn 5 -3\n"
      "a 1 4 1 3 -949308499210400\na 1 5 2 3 4\na 2 4 0 2 1\na 2 4 1 2 1\na 2 5 0 1 1\n",
      "drift.min");
  const TransportationSolution by_paths =
      solve_on_cpu(instance.problem, {.arc_pricing = false, .engine = CpuEngine::shortest_paths});
  REQUIRE(by_paths.status == SolveStatus::optimal);
  CpuSolverStatistics stats;
  const TransportationSolution by_auction =
      solve_on_cpu(instance.problem, {.arc_pricing = false, .engine = CpuEngine::auction}, &stats);
  CHECK(stats.auction_phases > 0);
  REQUIRE(by_auction.status == SolveStatus::optimal);
  CHECK(by_auction.objective == by_paths.objective);
  const CertificateReport report = check_certificate(instance.problem, by_auction);
  CHECK_MESSAGE(report.optimal, report.failure);
}

TEST_CASE("markets as DIMACS (slack rows with capacities at the sinks' demand) clear to the batch optimum") {
  // ewx-gen writes a market's slack arcs with capacity min(supply, demand); the auction must treat such
  // capacities as non-binding. A 0-unit bid once looped for ever here.
  const Topology& topology = default_topology();
  for (const std::uint64_t seed : {4u, 5u}) {
    const Batch batch = generate_market({.orders = 800, .offers = 80, .seed = seed}, topology);
    const MarketGraph graph = build_market_graph(batch, topology);
    TransportationProblem as_file = graph.problem;
    as_file.slack_sources = as_file.slack_sinks = 0;  // DIMACS carries no marks
    for (NodeIndex i = 0; i < as_file.source_count(); ++i) {
      for (ArcIndex e = as_file.row_begin[i]; e < as_file.row_begin[i + 1]; ++e) {
        as_file.arc_capacity[e] =
            std::min({as_file.arc_capacity[e], as_file.supply[i], as_file.demand[as_file.arc_sink[e]]});
      }
    }
    const TransportationSolution marked = solve_on_cpu(graph.problem, {.engine = CpuEngine::auction});
    const TransportationSolution unmarked = solve_on_cpu(as_file, {.engine = CpuEngine::auction});
    const TransportationSolution paths = solve_on_cpu(as_file, {.engine = CpuEngine::shortest_paths});
    REQUIRE(marked.status == SolveStatus::optimal);
    REQUIRE(unmarked.status == SolveStatus::optimal);
    CHECK(unmarked.objective == marked.objective);
    CHECK(paths.objective == marked.objective);
    CHECK(check_certificate(as_file, unmarked).optimal);
  }
}
