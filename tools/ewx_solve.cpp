// ewx-solve: clears one problem file exactly and reports the optimum.
//
//   ewx-solve FILE [--solver cpu|parallel|gpu|condensed|auto] [--condensed-engine auto|auction|simplex] [--flow OUT]
//             [--check] [--topology FILE]
//
// FILE is a DIMACS `p asn` or bipartite `p min` file, or an ewx batch file. It prints
//   objective: <integer>    the optimum in the file's own sense (DIMACS: minimum cost; batch: maximum surplus)
//   solve_ms: <number>      solver time, excluding reading and parsing
// and with --check the verdict of the independent certificate checker; with --record, `record_ms:`, the time of
// the ledger's commit_batch (contracts, Merkle log, signed record, one synced write). Exit status: 0 solved, 1 the input
// cannot be read or is malformed (the message names the line), 2 a usage error, 3 the problem has no
// solution (infeasible, unbalanced or out of range, with the reason), 4 a certificate check failed.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>

#include "ledger/ledger.hpp"
#include "matcher/batch_file.hpp"
#include "matcher/certificate.hpp"
#include "matcher/clearing.hpp"
#include "matcher/condensed_clearing.hpp"
#include "matcher/dimacs.hpp"
#include "matcher/equilibrium_check.hpp"
#include "tools/market_report.hpp"
#include "tools/read_file.hpp"
#include "tools/solver_choice.hpp"

namespace {

enum ExitCode { kSolved = 0, kBadInput = 1, kUsage = 2, kNoSolution = 3, kCheckFailed = 4 };

struct Options {
  std::string input;
  std::string solver = "auto";
  std::string flow_path;
  std::string topology_path;
  bool check = false;
  bool no_pricing = false;
  bool report = false;
  std::string engine = "auto";
  std::string condensed_engine = "auto";
  std::string record_dir;
  int repeat = 1;
};

struct Timer {
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  double elapsed_ms() const {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  }
};

void log_statistics(const ewx::CpuSolverStatistics& stats) {
  spdlog::info(
      "pricing rounds {}, candidate arcs {}, admitted {}; auction phases {}, bids {}{}, dual passes {}; "
      "augmentations {}; arcs scanned {}",
      stats.pricing_rounds, stats.candidate_arcs, stats.arcs_admitted, stats.auction_phases, stats.auction_bids,
      stats.auction_out_of_bids ? " (stopped at its bid budget; shortest paths finished)" : "",
      stats.potential_passes, stats.augmentations, stats.arcs_scanned);
}

void print_line(const char* key, const std::string& value) { std::printf("%s: %s\n", key, value.c_str()); }

int report_unsolved(ewx::SolveStatus status, const std::string& detail) {
  spdlog::error("no solution: {}: {}", ewx::to_string(status), detail);
  print_line("status", ewx::to_string(status));
  return kNoSolution;
}

int check_transportation(const ewx::TransportationProblem& problem, const ewx::TransportationSolution& solution) {
  const ewx::CertificateReport report = ewx::check_certificate(problem, solution);
  if (!report.optimal) {
    print_line("certificate", "FAILED: " + report.failure);
    return kCheckFailed;
  }
  print_line("certificate", "optimal (primal = dual = " + ewx::to_string(report.primal) + ")");
  return kSolved;
}

int solve_dimacs(const Options& options, const std::string& text, const ewx::TransportationSolver& solve) {
  const ewx::DimacsInstance instance = ewx::parse_dimacs(text, options.input);
  spdlog::info("{}: {} sources, {} sinks, {} arcs", options.input, instance.problem.source_count(),
               instance.problem.sink_count(), instance.problem.arc_count());
  const Timer timer;
  const ewx::TransportationSolution solution = solve(instance.problem);
  const double solve_ms = timer.elapsed_ms();
  if (solution.status != ewx::SolveStatus::optimal) return report_unsolved(solution.status, solution.detail);

  const ewx::Objective objective = ewx::dimacs_objective(instance, solution.objective);
  print_line("objective", ewx::to_string(objective));
  std::printf("solve_ms: %.3f\n", solve_ms);
  int code = kSolved;
  if (options.check) code = check_transportation(instance.problem, solution);
  if (!options.flow_path.empty()) {
    std::ofstream out(options.flow_path);
    if (!out) throw std::runtime_error("cannot open '" + options.flow_path + "' for writing");
    ewx::write_dimacs_flow(out, instance, solution.flows, objective);
  }
  return code;
}

// Journals the batch's orders and offers and commits its clearing to the ledger in `dir` (created if
// new), as the next batch there.
int record_in_ledger(const std::string& dir, ewx::Batch batch, const ewx::Topology& topology,
                     const ewx::ClearingResult& result) {
  auto opened = ewx::ledger::Ledger::open(dir, true);
  if (!opened.is_ok()) {
    spdlog::error("cannot record in {}: {}", dir, opened.status().message());
    return kBadInput;
  }
  ewx::ledger::Ledger& ledger = *opened.value();
  batch.number = ledger.batch_count() + 1;
  if (const auto status = ledger.journal(ewx::ledger::submissions_of(batch)); !status.is_ok()) {
    spdlog::error("cannot journal the batch's orders in {}: {}", dir, status.message());
    return kBadInput;
  }
  const auto cleared_at =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  const Timer timer;
  const auto record = ledger.commit_batch(batch, topology, result, cleared_at);
  const double record_ms = timer.elapsed_ms();
  if (!record.is_ok()) {
    spdlog::error("cannot record the batch in {}: {}", dir, record.status().message());
    return kBadInput;
  }
  const ewx::ledger::BatchRecord& r = record.value();
  const std::string ids = r.contract_count == 0
                              ? "no contracts"
                              : std::to_string(r.contract_count) + " contracts (ids " +
                                    std::to_string(r.first_contract) + ".." + std::to_string(r.log_size - 1) + ")";
  print_line("recorded", "batch " + std::to_string(r.number) + " in " + dir + ", " + ids + ", log root " +
                             ewx::ledger::to_hex(r.log_root));
  std::printf("record_ms: %.3f\n", record_ms);
  return kSolved;
}

int solve_batch(const Options& options, const std::string& text, const ewx::tools::BatchClearer& clear) {
  const ewx::Topology topology =
      options.topology_path.empty()
          ? ewx::default_topology()
          : ewx::parse_topology(ewx::tools::read_whole_file(options.topology_path), options.topology_path);
  const ewx::Batch batch = ewx::parse_batch(text, options.input, topology);
  const Timer timer;
  const ewx::ClearingResult result = clear(batch, topology);
  const double solve_ms = timer.elapsed_ms();
  if (result.status != ewx::SolveStatus::optimal) return report_unsolved(result.status, result.detail);
  // The condensed clearing has no bipartite graph; --check builds one to certify it.
  const bool condensed = result.graph.problem.source_count() == 0;
  if (!condensed) {
    spdlog::info("batch {}: {} orders, {} offers, {} trading arcs", batch.number, batch.orders.size(),
                 batch.offers.size(), result.graph.trade_count());
  }

  print_line("objective", ewx::to_string(result.total_surplus));
  std::printf("solve_ms: %.3f\n", solve_ms);
  print_line("contracts", std::to_string(result.contracts.size()));
  print_line("units", std::to_string(result.units_traded));
  int code = kSolved;
  if (options.check && condensed) {
    const ewx::MarketGraph graph = ewx::build_market_graph(batch, topology);
    code = check_transportation(graph.problem, ewx::as_bipartite_solution(batch, graph, result));
  } else if (options.check) {
    code = check_transportation(result.graph.problem, result.solution);
  }
  if (options.check) {
    const ewx::EquilibriumReport equilibrium =
        ewx::check_equilibrium(batch, topology, result.contracts, result.offer_price);
    if (!equilibrium.holds) {
      print_line("equilibrium", "FAILED: " + equilibrium.failure);
      code = kCheckFailed;
    } else if (equilibrium.total_surplus != result.total_surplus) {
      print_line("equilibrium", "FAILED: contracts add up to a different surplus");
      code = kCheckFailed;
    } else {
      print_line("equilibrium", "holds at the buyer-optimal prices");
    }
  }
  if (options.report) ewx::tools::print_market_report(stdout, batch, topology, result);
  if (!options.record_dir.empty() && code == kSolved)
    code = record_in_ledger(options.record_dir, batch, topology, result);
  if (!options.flow_path.empty()) {
    std::ofstream out(options.flow_path);
    if (!out) throw std::runtime_error("cannot open '" + options.flow_path + "' for writing");
    out << "# contract <order> <offer> <units> <price fen/unit-hour> <transfer charge fen/unit-hour>\n";
    for (const ewx::Contract& c : result.contracts) {
      out << "contract " << c.order << ' ' << c.offer << ' ' << c.units << ' ' << c.price << ' ' << c.transfer_charge
          << '\n';
    }
  }
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ewx-solve: clear a DIMACS assignment/transportation file or an ewx batch exactly"};
  Options options;
  app.add_option("file", options.input, "DIMACS 'p asn' / bipartite 'p min' file, or an ewx batch file")->required();
  app.add_option("--solver", options.solver,
                 "where to solve: cpu; parallel (the GPU's algorithm on the CPU cores); gpu; condensed (batch files "
                 "only: the condensed network); auto (the fastest measured: batches on the condensed network, problems "
                 "whose rows are mostly long on the parallel auction on the cores, others on the CPU solver; a "
                 "usable GPU is only taken when asked for)")
      ->check(CLI::IsMember({"cpu", "parallel", "gpu", "condensed", "auto"}));
  app.add_option("--flow", options.flow_path, "write the solution here (DIMACS 'f' lines, or contracts for a batch)");
  app.add_flag("--check", options.check, "verify the solution with the independent certificate checker");
  app.add_option("--topology", options.topology_path, "topology file for batch files (default: built-in)");
  app.add_option("--record", options.record_dir,
                 "for batch files: journal the orders and record the clearing in the ledger in this data directory");
  app.add_flag("--report", options.report, "for batch files: print volumes, prices by cluster and the flow matrix");
  app.add_option("--engine", options.engine,
                 "exact CPU engine: auto (scaled auction, shortest paths where it cannot), auction, shortest-paths")
      ->check(CLI::IsMember({"auto", "auction", "shortest-paths"}));
  app.add_option("--condensed-engine", options.condensed_engine,
                 "engine of the condensed network: auto (the simplex on small networks, the auction elsewhere), "
                 "auction (the ladder auction; the simplex where its scaled prices would overflow) or simplex "
                 "(LEMON's network simplex)")
      ->check(CLI::IsMember({"auto", "auction", "simplex"}));
  app.add_flag("--no-pricing", options.no_pricing, "solve the whole graph at once instead of pricing candidate arcs");
  app.add_option("--repeat", options.repeat, "solve this many times (warm) and print the median as solve_ms_median")
      ->check(CLI::Range(1, 1000));
  CLI11_PARSE(app, argc, argv);
  spdlog::set_pattern("[%H:%M:%S.%e] [ewx-solve] [%l] %v");

  ewx::CpuSolverOptions solver_options;
  solver_options.arc_pricing = !options.no_pricing;
  solver_options.engine = options.engine == "auction"          ? ewx::CpuEngine::auction
                          : options.engine == "shortest-paths" ? ewx::CpuEngine::shortest_paths
                                                               : ewx::CpuEngine::automatic;
  // Each solve's statistics are logged; GPU times are kept for the --repeat median.
  std::vector<double> device_ms;
  ewx::tools::SolveObserver observer;
  observer.cpu = log_statistics;
  observer.parallel = [&device_ms](const ewx::kernels::ParallelStatistics& stats, ewx::kernels::ParallelSystem system) {
    const bool gpu = system == ewx::kernels::ParallelSystem::cuda;
    spdlog::info(
        "{} auction: {} phases (epsilon widened {} times), {} rounds, {} bids ({} whole-row scans in rounds; {} "
        "in tails, {} of them whole-row scans), {} dual passes, {} bytes of working set; setup "
        "{:.1f} ms, rounds {:.1f} ms, tails {:.1f} ms, duals {:.1f} ms{}",
        gpu ? "GPU" : "parallel", stats.phases, stats.epsilon_widenings, stats.rounds, stats.bids, stats.round_scans,
        stats.tail_bids, stats.tail_scans, stats.potential_passes, stats.device_bytes, stats.setup_ms, stats.rounds_ms,
        stats.tail_ms, stats.duals_ms, gpu ? fmt::format(", {:.3f} ms on the device", stats.device_ms) : std::string());
    if (gpu) device_ms.push_back(stats.device_ms);
  };
  std::optional<ewx::TransportationSolver> solve = ewx::tools::choose_solver(options.solver, solver_options, observer);
  if (!solve) return kUsage;
  // --repeat: the same solve (or batch clearing) again and again, each timed; the figures are their medians.
  std::vector<double> solve_ms;
  const auto repeated = [repeat = options.repeat, &solve_ms](auto once) {
    return [once, repeat, &solve_ms](const auto&... problem) {
      decltype(once(problem...)) solution;
      for (int k = 0; k < repeat; ++k) {
        const Timer timer;
        solution = once(problem...);
        solve_ms.push_back(timer.elapsed_ms());
      }
      return solution;
    };
  };
  const ewx::tools::BatchClearer clear = ewx::tools::batch_clearer(
      options.solver, *solve,
      options.condensed_engine == "simplex"   ? ewx::CondensedEngine::network_simplex
      : options.condensed_engine == "auction" ? ewx::CondensedEngine::ladder_auction
                                              : ewx::CondensedEngine::automatic,
      [](const ewx::CondensedStatistics& stats) {
        spdlog::info(
            "condensed network: {} ladders, {} rungs, {} entries, {} nodes, {} arcs; {}{}; build {:.1f} ms, "
            "solve {:.1f} ms, prices {:.1f} ms",
            stats.ladders, stats.rungs, stats.entries, stats.nodes, stats.arcs, ewx::to_string(stats.engine),
            stats.engine == ewx::CondensedEngine::ladder_auction
                ? fmt::format(
                      " ({} phases, {} bids, {} lifts, {} keys refreshed, {} choices shortlisted, {} lots raised)",
                      stats.auction_phases, stats.auction_bids, stats.auction_lifts, stats.auction_refreshed,
                      stats.auction_shortlisted, stats.auction_raised)
            : stats.auction_out_of_bids
                ? fmt::format(" (the ladder auction stopped at its bid budget, {} bids)", stats.auction_bids)
                : std::string(),
            stats.build_ms, stats.solve_ms, stats.price_ms);
      });
  const auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0.0 : v[v.size() / 2];
  };
  try {
    const std::string text = ewx::tools::read_whole_file(options.input);
    const bool batch = ewx::looks_like_batch(text);
    if (!batch && options.solver == "condensed") {
      spdlog::error("--solver condensed clears market batches; {} is a DIMACS problem", options.input);
      return kUsage;
    }
    const int code = batch ? solve_batch(options, text, options.repeat > 1 ? repeated(clear) : clear)
                           : solve_dimacs(options, text, options.repeat > 1 ? repeated(*solve) : *solve);
    if (!solve_ms.empty()) std::printf("solve_ms_median: %.3f (of %zu)\n", median(solve_ms), solve_ms.size());
    if (!device_ms.empty())
      std::printf("device_ms_median: %.3f (CUDA events, of %zu)\n", median(device_ms), device_ms.size());
    return code;
  } catch (const ewx::InputError& error) {
    spdlog::error("{}", error.what());
    return kBadInput;
  } catch (const std::exception& error) {
    spdlog::error("{}", error.what());
    return kBadInput;
  }
}
