// libFuzzer target for the text formats and the exact solver behind them. The first byte of an input picks
// a reader: a DIMACS file, a batch file (against the built-in topology), a topology file or a participants
// file, the formats that ewx-solve, ewxd and an auditor's re-check read from files someone else wrote. Any
// text must either parse or raise InputError; nothing else may escape, crash, hang, leak or touch memory out
// of bounds (built with AddressSanitizer and UndefinedBehaviorSanitizer).
//
// What parses and is small is then solved, because a reader that accepts an instance promises the solver
// can take it. A DIMACS problem is solved by each exact CPU engine and by their automatic choice, each
// answer proved by the certificate checker and the optima compared; a solve may end infeasible, unbalanced
// or out_of_range (a file may say anything), but then the engines must say so alike. A batch is cleared,
// its certificate and its prices (as a competitive equilibrium) checked, and cleared again on the
// condensed network by each of its engines, ewxd's path, which must reach the same surplus at the same
// prices with an allocation that certifies too. Any other ending aborts.
//
// Inputs whose 'p' line declares more than kMostNodes nodes are only parsed up to that line and skipped:
// the reader keeps a slot for each declared node, as the format numbers nodes 1..n, and memory in
// proportion to a declared count is the format's nature, not a defect (counts beyond the file or the
// machine are refused at the 'p' line, which tests/test_dimacs.cpp checks).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "gateway/participants.hpp"
#include "matcher/batch_file.hpp"
#include "matcher/certificate.hpp"
#include "matcher/clearing.hpp"
#include "matcher/condensed_clearing.hpp"
#include "matcher/cpu_solver.hpp"
#include "matcher/dimacs.hpp"
#include "matcher/equilibrium_check.hpp"
#include "matcher/topology.hpp"

namespace {

constexpr std::int64_t kMostNodes = 1 << 16;
constexpr std::size_t kMostSolvedArcs = 4096;

[[noreturn]] void defect(const char* what, const std::string& detail) {
  std::fprintf(stderr, "fuzz_inputs: %s: %s\n", what, detail.c_str());
  std::abort();
}

// The node count of the first 'p' line, or 0 when there is none to read.
std::int64_t declared_nodes(std::string_view text) {
  ewx::LineReader reader(text);
  std::string_view line;
  while (reader.next(line)) {
    ewx::LineScanner scan(line, "", reader.number());
    if (scan.word() != "p") continue;
    scan.word();
    try {
      return scan.integer("");
    } catch (const ewx::InputError&) {
      return 0;
    }
  }
  return 0;
}

ewx::TransportationSolution proved(const ewx::TransportationProblem& problem, ewx::CpuEngine engine) {
  ewx::CpuSolverOptions options;
  options.engine = engine;
  ewx::TransportationSolution solution = ewx::solve_on_cpu(problem, options);
  if (solution.status == ewx::SolveStatus::optimal) {
    const auto report = ewx::check_certificate(problem, solution);
    if (!report.optimal) defect("an optimal answer without a proof", report.failure);
  }
  return solution;
}

void same_answer(const ewx::TransportationSolution& a, const ewx::TransportationSolution& b) {
  if (a.status != b.status) defect("the engines disagree on the status", a.detail + " / " + b.detail);
  if (a.status == ewx::SolveStatus::optimal && a.objective != b.objective)
    defect("the engines disagree on the optimum", ewx::to_string(a.objective) + " / " + ewx::to_string(b.objective));
}

// The auction forced alone may decline costs whose scaled prices would not fit in 64 bits (out_of_range),
// where the automatic choice hands them to shortest paths; every other answer must be the same.
void solve_dimacs(std::string_view text) {
  if (declared_nodes(text) > kMostNodes) return;
  const ewx::DimacsInstance instance = ewx::parse_dimacs(text, "input");
  if (instance.problem.arc_count() > kMostSolvedArcs) return;
  const auto automatic = proved(instance.problem, ewx::CpuEngine::automatic);
  const auto paths = proved(instance.problem, ewx::CpuEngine::shortest_paths);
  same_answer(automatic, paths);
  const auto auction = proved(instance.problem, ewx::CpuEngine::auction);
  if (auction.status != ewx::SolveStatus::out_of_range || paths.status == ewx::SolveStatus::out_of_range)
    same_answer(auction, paths);
}

void clear_batch_text(std::string_view text) {
  const ewx::Topology& topology = ewx::default_topology();
  const ewx::Batch batch = ewx::parse_batch(text, "input", topology);
  if (batch.orders.size() * batch.offers.size() > kMostSolvedArcs) return;
  const ewx::ClearingResult result = ewx::clear_batch(batch, topology);
  if (result.status != ewx::SolveStatus::optimal) return;
  const auto certificate = ewx::check_certificate(result.graph.problem, result.solution);
  if (!certificate.optimal) defect("a clearing without a proof", certificate.failure);
  const auto equilibrium = ewx::check_equilibrium(batch, topology, result.contracts, result.offer_price);
  if (!equilibrium.holds) defect("clearing prices that are no equilibrium", equilibrium.failure);
  if (equilibrium.total_surplus != result.total_surplus) defect("the surplus differs from its contracts", "");

  // ewxd clears every batch on the condensed network: each of its engines must reach the same surplus at
  // the same buyer-optimal prices, with contracts that are an equilibrium and certify on the bipartite
  // problem (the allocation itself may be another optimal one).
  for (const ewx::CondensedEngine engine :
       {ewx::CondensedEngine::ladder_auction, ewx::CondensedEngine::network_simplex}) {
    for (const std::uint32_t scanned_below : {0u, ewx::detail::kLaddersScannedBelow}) {
      if (engine == ewx::CondensedEngine::network_simplex && scanned_below == 0) continue;
      const auto condensed =
          ewx::clear_batch_condensed(batch, topology, {.engine = engine, .ladders_scanned_below = scanned_below});
      const std::string which = ewx::to_string(engine);
      if (!condensed || condensed->status != ewx::SolveStatus::optimal)
        defect("the condensed network fails a batch clear_batch clears", which);
      if (condensed->total_surplus != result.total_surplus) defect("the condensed surplus differs", which);
      if (condensed->offer_price != result.offer_price) defect("the condensed prices differ", which);
      const auto its_equilibrium =
          ewx::check_equilibrium(batch, topology, condensed->contracts, condensed->offer_price);
      if (!its_equilibrium.holds)
        defect("condensed prices that are no equilibrium", which + ": " + its_equilibrium.failure);
      const auto as_flow = ewx::as_bipartite_solution(batch, result.graph, *condensed);
      const auto its_certificate = ewx::check_certificate(result.graph.problem, as_flow);
      if (!its_certificate.optimal)
        defect("a condensed clearing without a proof", which + ": " + its_certificate.failure);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    switch (data[0] % 4) {
      case 0:
        solve_dimacs(text);
        break;
      case 1:
        clear_batch_text(text);
        break;
      case 2:
        (void)ewx::parse_topology(text, "input");
        break;
      default:
        (void)ewx::gateway::Participants::parse(text, "input");
        break;
    }
  } catch (const ewx::InputError&) {
    // The one way bad text may end.
  }
  return 0;
}
