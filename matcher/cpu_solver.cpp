// The exact CPU solver: successive shortest paths on a candidate subgraph, with every other arc priced out.
//
// Large assignment-like problems are dense: in a dense assignment every row reaches every column, yet the
// optimum uses almost none of those arcs; what it uses are arcs that are cheap relative to the dual prices.
// So the solver works in rounds (column generation, as in the pricing step of the simplex method):
//
//  1. Start from row-minimum potentials (alpha_i = min_j c_ij, beta = 0) and take as candidates each
//     source's k cheapest arcs and each sink's k cheapest arcs by reduced cost, plus every arc touching a
//     slack node (a market's "unsold"/"unfilled" choice must always be open).
//  2. Solve the candidate graph exactly (successive_shortest_paths.cpp).
//  3. Price every other arc at the resulting potentials. Arcs outside the candidate set carry no flow, so
//     r >= 0 is the only condition they must meet. If every one meets it, the potentials prove the
//     candidate optimum optimal for the whole graph. Otherwise admit the violators, withdraw the flow of
//     the sources they leave from (so those sources' potentials may drop until the new arcs are feasible),
//     and go back to 2, warm.
//
// Every round ends with a full check of the dual, so the answer is exact whatever k is; k only trades
// candidate-graph size against rounds. Pricing pays when row-minimum prices already say which arcs matter
// (dense assignments: two rounds, a few arcs admitted). In a tight market they do not: the first round's
// prices are far from equilibrium and the second round admits most of the graph. So a round that admits
// more arcs than the candidate graph holds abandons pricing and solves the whole graph, and problems that
// are not much larger than the candidate budget are solved whole from the start. If the candidate graph
// alone cannot ship all supply (possible for sparse balanced problems), the whole graph is solved too.
//
// Memory: the pricing path never allocates per-arc state of the whole graph except one bit per arc; flows
// live on the candidate graph, and solutions list positive flows only.
#include "matcher/cpu_solver.hpp"

#include <algorithm>
#include <limits>

#include "matcher/successive_shortest_paths.hpp"

namespace ewx {
namespace {

// The k best arcs seen so far by (reduced cost, arc index), unordered, with the worst one tracked so
// that most candidates are rejected with one comparison.
class BestArcs {
 public:
  struct Entry {
    Cost reduced;
    ArcIndex arc;
    bool worse_than(const Entry& other) const {
      return reduced > other.reduced || (reduced == other.reduced && arc > other.arc);
    }
  };

  static void offer(Entry* slots, std::uint32_t& held, std::uint32_t& worst, std::uint32_t k, Entry entry) {
    if (held < k) {
      slots[held] = entry;
      if (held == 0 || slots[held].worse_than(slots[worst])) worst = held;
      ++held;
      return;
    }
    if (k == 0 || !slots[worst].worse_than(entry)) return;
    slots[worst] = entry;
    for (std::uint32_t s = 0; s < k; ++s) {
      if (slots[s].worse_than(slots[worst])) worst = s;
    }
  }
};

class ArcBits {
 public:
  explicit ArcBits(ArcIndex arcs) : words_((arcs + 63) / 64, 0) {}
  bool test(ArcIndex e) const { return (words_[e >> 6] >> (e & 63)) & 1; }
  void set(ArcIndex e) { words_[e >> 6] |= std::uint64_t{1} << (e & 63); }
  // Set arcs in ascending order.
  std::vector<ArcIndex> list() const {
    std::vector<ArcIndex> arcs;
    for (std::size_t w = 0; w < words_.size(); ++w) {
      for (std::uint64_t bits = words_[w]; bits != 0; bits &= bits - 1) {
        arcs.push_back(w * 64 + static_cast<ArcIndex>(__builtin_ctzll(bits)));
      }
    }
    return arcs;
  }

 private:
  std::vector<std::uint64_t> words_;
};

struct Candidates {
  std::vector<Potential> alpha;  // row minima
  ArcBits member;
  std::vector<ArcIndex> arcs;    // ascending
};

// Row minima, and each source's and sink's k cheapest arcs by reduced cost c - alpha (beta is zero), and
// every arc at a slack node. One pass over the arcs, each row read twice while it is in cache.
Candidates initial_candidates(const TransportationProblem& problem, const CpuSolverOptions& options) {
  Candidates result{std::vector<Potential>(problem.source_count(), 0), ArcBits(problem.arc_count()), {}};
  const std::uint32_t per_source = options.candidates_per_source;
  const std::uint32_t per_sink = options.candidates_per_sink;
  std::vector<BestArcs::Entry> sink_best(static_cast<std::size_t>(problem.sink_count()) * per_sink);
  std::vector<std::uint32_t> sink_held(problem.sink_count(), 0);
  std::vector<std::uint32_t> sink_worst(problem.sink_count(), 0);
  std::vector<BestArcs::Entry> row_best(per_source);

  for (NodeIndex i = 0; i < problem.source_count(); ++i) {
    const ArcIndex begin = problem.row_begin[i];
    const ArcIndex end = problem.row_begin[i + 1];
    const bool slack_row = problem.is_slack_source(i);
    std::uint32_t row_held = 0, row_worst = 0;
    Cost lowest = std::numeric_limits<Cost>::max();
    for (ArcIndex e = begin; e < end; ++e) {
      if (problem.arc_capacity[e] == 0) continue;
      lowest = std::min(lowest, problem.arc_cost[e]);
      if (slack_row || problem.is_slack_sink(problem.arc_sink[e])) {
        result.member.set(e);
      } else {
        BestArcs::offer(row_best.data(), row_held, row_worst, per_source, {problem.arc_cost[e], e});
      }
    }
    const Potential alpha = lowest == std::numeric_limits<Cost>::max() ? 0 : lowest;
    result.alpha[i] = alpha;
    for (std::uint32_t k = 0; k < row_held; ++k) result.member.set(row_best[k].arc);
    if (slack_row) continue;
    for (ArcIndex e = begin; e < end; ++e) {
      const NodeIndex j = problem.arc_sink[e];
      if (problem.arc_capacity[e] == 0 || problem.is_slack_sink(j)) continue;
      BestArcs::offer(sink_best.data() + static_cast<std::size_t>(j) * per_sink, sink_held[j], sink_worst[j], per_sink,
                      {problem.arc_cost[e] - alpha, e});
    }
  }
  for (NodeIndex j = 0; j < problem.sink_count(); ++j) {
    for (std::uint32_t k = 0; k < sink_held[j]; ++k) result.member.set(sink_best[static_cast<std::size_t>(j) * per_sink + k].arc);
  }
  result.arcs = result.member.list();
  return result;
}

// The candidate graph as a problem of its own; its arc k is full-graph arc `arcs[k]`.
TransportationProblem extract_candidates(const TransportationProblem& full, const std::vector<ArcIndex>& arcs) {
  TransportationProblem sub;
  sub.supply = full.supply;
  sub.demand = full.demand;
  sub.slack_sources = full.slack_sources;
  sub.slack_sinks = full.slack_sinks;
  sub.row_begin.assign(full.source_count() + 1, 0);
  sub.arc_sink.reserve(arcs.size());
  sub.arc_cost.reserve(arcs.size());
  sub.arc_capacity.reserve(arcs.size());
  NodeIndex row = 0;
  for (std::size_t k = 0; k < arcs.size(); ++k) {
    const ArcIndex e = arcs[k];
    while (full.row_begin[row + 1] <= e) sub.row_begin[++row] = k;
    sub.arc_sink.push_back(full.arc_sink[e]);
    sub.arc_cost.push_back(full.arc_cost[e]);
    sub.arc_capacity.push_back(full.arc_capacity[e]);
  }
  while (row < full.source_count()) sub.row_begin[++row] = arcs.size();
  return sub;
}

// Non-candidate arcs with a negative reduced cost, ascending.
std::vector<ArcIndex> find_violations(const TransportationProblem& problem, const Candidates& candidates,
                                      const std::vector<Potential>& alpha, const std::vector<Potential>& beta) {
  std::vector<ArcIndex> violated;
  for (NodeIndex i = 0; i < problem.source_count(); ++i) {
    const Potential a = alpha[i];
    for (ArcIndex e = problem.row_begin[i]; e < problem.row_begin[i + 1]; ++e) {
      if (problem.arc_cost[e] - a + beta[problem.arc_sink[e]] < 0 && !candidates.member.test(e) &&
          problem.arc_capacity[e] > 0) {
        violated.push_back(e);
      }
    }
  }
  return violated;
}

std::vector<ArcFlow> positive_flows(const std::vector<Quantity>& flow, const std::vector<ArcIndex>* arc_of) {
  std::vector<ArcFlow> flows;
  for (std::size_t k = 0; k < flow.size(); ++k) {
    if (flow[k] > 0) flows.push_back({arc_of ? (*arc_of)[k] : k, flow[k]});
  }
  return flows;
}

TransportationSolution solve_whole_graph(const TransportationProblem& problem, CpuSolverStatistics& stats) {
  TransportationSolution solution;
  std::vector<Quantity> flow(problem.arc_count(), 0);
  std::vector<Potential> alpha = initial_candidates(problem, {true, 0, 0}).alpha;
  std::vector<Potential> beta(problem.sink_count(), 0);
  detail::EngineStatistics engine;
  solution.status = detail::run_successive_shortest_paths(problem, flow, alpha, beta, engine);
  stats.augmentations += engine.augmentations;
  stats.arcs_scanned += engine.arcs_scanned;
  stats.candidate_arcs = problem.arc_count();
  if (solution.status != SolveStatus::optimal) {
    solution.detail = "the supply cannot all be shipped: some sources cannot reach enough demand";
    return solution;
  }
  solution.flows = positive_flows(flow, nullptr);
  solution.source_potential = std::move(alpha);
  solution.sink_potential = std::move(beta);
  solution.objective = total_cost(problem, solution.flows);
  return solution;
}

}  // namespace

ProblemDefect find_problem_defect(const TransportationProblem& problem) {
  const auto defect = [](SolveStatus status, std::string detail) { return ProblemDefect{status, std::move(detail)}; };
  if (problem.row_begin.size() != static_cast<std::size_t>(problem.source_count()) + 1 ||
      problem.arc_cost.size() != problem.arc_count() || problem.arc_capacity.size() != problem.arc_count()) {
    return defect(SolveStatus::out_of_range, "malformed problem: arc arrays disagree in length");
  }
  Objective total_supply = 0;
  Objective total_demand = 0;
  for (NodeIndex i = 0; i < problem.source_count(); ++i) {
    if (problem.supply[i] < 0) return defect(SolveStatus::out_of_range, "source " + std::to_string(i) + " has negative supply");
    total_supply += problem.supply[i];
  }
  for (NodeIndex j = 0; j < problem.sink_count(); ++j) {
    if (problem.demand[j] < 0) return defect(SolveStatus::out_of_range, "sink " + std::to_string(j) + " has negative demand");
    total_demand += problem.demand[j];
  }
  if (total_supply > (Objective{1} << 62)) {
    return defect(SolveStatus::out_of_range, "total supply " + to_string(total_supply) + " exceeds 2^62");
  }
  if (total_supply != total_demand) {
    return defect(SolveStatus::unbalanced,
                  "total supply " + to_string(total_supply) + " differs from total demand " + to_string(total_demand));
  }
  const Objective nodes = Objective{problem.source_count()} + problem.sink_count() + 1;
  for (ArcIndex e = 0; e < problem.arc_count(); ++e) {
    if (problem.arc_sink[e] >= problem.sink_count()) {
      return defect(SolveStatus::out_of_range, "arc " + std::to_string(e) + " names a sink that does not exist");
    }
    if (problem.arc_capacity[e] < 0) {
      return defect(SolveStatus::out_of_range, "arc " + std::to_string(e) + " has negative capacity");
    }
    const Objective magnitude = problem.arc_cost[e] < 0 ? -Objective{problem.arc_cost[e]} : problem.arc_cost[e];
    if (magnitude * nodes > kCostPathBound) {
      return defect(SolveStatus::out_of_range,
                    "arc " + std::to_string(e) + " cost " + std::to_string(problem.arc_cost[e]) +
                        " is too large for exact 64-bit duals with " + to_string(nodes - 1) +
                        " nodes (|cost| * (nodes + 1) must not exceed 2^60)");
    }
  }
  return {};
}

TransportationSolution solve_on_cpu(const TransportationProblem& problem, const CpuSolverOptions& options,
                                    CpuSolverStatistics* statistics) {
  CpuSolverStatistics local;
  CpuSolverStatistics& stats = statistics ? *statistics : local;
  stats = {};
  if (ProblemDefect defect = find_problem_defect(problem)) {
    TransportationSolution solution;
    solution.status = defect.status;
    solution.detail = std::move(defect.detail);
    return solution;
  }

  const std::uint64_t candidate_budget =
      std::uint64_t{options.candidates_per_source} * problem.source_count() +
      std::uint64_t{options.candidates_per_sink} * problem.sink_count();
  if (!options.arc_pricing || problem.arc_count() <= 4 * candidate_budget) return solve_whole_graph(problem, stats);

  Candidates candidates = initial_candidates(problem, options);
  std::vector<Potential> alpha = candidates.alpha;
  std::vector<Potential> beta(problem.sink_count(), 0);
  std::vector<Quantity> flow(candidates.arcs.size(), 0);
  for (;;) {
    ++stats.pricing_rounds;
    stats.candidate_arcs = candidates.arcs.size();
    const TransportationProblem graph = extract_candidates(problem, candidates.arcs);
    detail::EngineStatistics engine;
    const SolveStatus status = detail::run_successive_shortest_paths(graph, flow, alpha, beta, engine);
    stats.augmentations += engine.augmentations;
    stats.arcs_scanned += engine.arcs_scanned;
    if (status == SolveStatus::infeasible) return solve_whole_graph(problem, stats);

    const std::vector<ArcIndex> violated = find_violations(problem, candidates, alpha, beta);
    if (violated.empty()) break;
    if (violated.size() > candidates.arcs.size()) return solve_whole_graph(problem, stats);
    stats.arcs_admitted += violated.size();

    // Merge the violators in, carrying the flow of arcs already there, except on the rows they leave
    // from: those rows give their flow back and lower their potential to the tightest the row allows.
    std::vector<std::uint8_t> row_touched(problem.source_count(), 0);
    for (const ArcIndex e : violated) candidates.member.set(e);
    std::vector<ArcIndex> merged(candidates.arcs.size() + violated.size());
    std::merge(candidates.arcs.begin(), candidates.arcs.end(), violated.begin(), violated.end(), merged.begin());
    std::vector<Quantity> merged_flow(merged.size(), 0);
    {
      std::size_t old = 0;
      for (std::size_t k = 0; k < merged.size(); ++k) {
        if (old < candidates.arcs.size() && candidates.arcs[old] == merged[k]) merged_flow[k] = flow[old++];
      }
    }
    NodeIndex row = 0;
    for (const ArcIndex e : violated) {
      while (problem.row_begin[row + 1] <= e) ++row;
      row_touched[row] = 1;
    }
    std::vector<Potential> lowest(problem.source_count(), std::numeric_limits<Potential>::max());
    row = 0;
    for (std::size_t k = 0; k < merged.size(); ++k) {
      const ArcIndex e = merged[k];
      while (problem.row_begin[row + 1] <= e) ++row;
      if (!row_touched[row]) continue;
      merged_flow[k] = 0;
      if (problem.arc_capacity[e] > 0) lowest[row] = std::min(lowest[row], problem.arc_cost[e] + beta[problem.arc_sink[e]]);
    }
    for (NodeIndex i = 0; i < problem.source_count(); ++i) {
      if (row_touched[i]) alpha[i] = lowest[i];
    }
    candidates.arcs = std::move(merged);
    flow = std::move(merged_flow);
  }

  TransportationSolution solution;
  solution.status = SolveStatus::optimal;
  solution.flows = positive_flows(flow, &candidates.arcs);
  solution.source_potential = std::move(alpha);
  solution.sink_potential = std::move(beta);
  solution.objective = total_cost(problem, solution.flows);
  return solution;
}

}  // namespace ewx
