// The exact CPU solver: two exact engines, and arc pricing around them for dense problems.
//
// Engines. The epsilon-scaling auction (scaled_auction.cpp) solves large graphs: it is fast on large,
// tight markets, where prices must move a lot. Successive shortest paths (successive_shortest_paths.cpp)
// solves small graphs, where it is faster (see kShortestPathsUpTo), and whatever the auction does not
// take: costs too large for its scaled 64-bit prices, and infeasible problems, where it gives the exact
// verdict. Either can be forced (CpuEngine) so that the tests can check one against the other.
//
// Arc pricing. Large assignment-like problems are dense: in a dense assignment every row reaches every
// column, yet the optimum uses almost none of those arcs; what it uses are arcs that are cheap relative to
// the dual prices. So the solver works in rounds (column generation, as in the pricing step of the simplex
// method):
//
//  1. Take as candidates each source's k cheapest arcs and each sink's k cheapest arcs by reduced cost at
//     row-minimum potentials, plus every arc touching a slack node (a market's "unsold"/"unfilled" choice
//     must always be open).
//  2. Solve the candidate graph exactly.
//  3. Price every other arc at the resulting potentials. Arcs outside the candidate set carry no flow, so
//     r >= 0 is the only condition they must meet. If every one meets it, the potentials prove the
//     candidate optimum optimal for the whole graph. Otherwise admit the violators and go back to 2.
//
// Every round ends with a full check of the dual, so the answer is exact whatever k is; k only trades
// candidate-graph size against rounds. Pricing pays when row-minimum prices already say which arcs matter
// (dense assignments: two rounds, a handful of arcs admitted). In a tight market they do not, and a round
// that would admit more arcs than the candidate graph holds abandons pricing for the whole graph; so
// does a candidate graph that cannot ship all supply. Markets skip pricing altogether (any problem with
// slack nodes: measured on a 5k-order batch, round two would admit 155k of its 220k arcs), and problems
// not much larger than the candidate budget are solved whole from the start.
//
// Memory: the pricing path keeps one bit per arc of the whole graph; flows live on the candidate graph,
// and solutions list positive flows only.
#include "matcher/cpu_solver.hpp"

#include <algorithm>
#include <limits>

#include "matcher/scaled_auction.hpp"
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
  ArcBits member;
  std::vector<ArcIndex> arcs;  // ascending
};

// Slack nodes: those the problem marks, and those that look like one, because a DIMACS file carries no
// marks. A source is slack-shaped when it reaches every sink at one cost with capacities that never bind
// (capacity >= what either end moves); a sink likewise when every source reaches it so. A market written as
// DIMACS has exactly one of each: its "unsold" source and "unfilled" sink.
struct SlackNodes {
  std::vector<std::uint8_t> source, sink;
};

SlackNodes find_slack_nodes(const TransportationProblem& problem) {
  SlackNodes slack{std::vector<std::uint8_t>(problem.source_count(), 0),
                   std::vector<std::uint8_t>(problem.sink_count(), 0)};
  std::vector<std::uint32_t> reached(problem.sink_count(), 0);
  std::vector<Cost> cost_in(problem.sink_count(), 0);
  std::vector<std::uint8_t> alike(problem.sink_count(), 1);
  for (NodeIndex i = 0; i < problem.source_count(); ++i) {
    slack.source[i] = problem.is_slack_source(i) || (problem.sink_count() > 1 && reaches_every_sink_alike(problem, i));
    for (ArcIndex e = problem.row_begin[i]; e < problem.row_begin[i + 1]; ++e) {
      const NodeIndex j = problem.arc_sink[e];
      if (reached[j]++ == 0) cost_in[j] = problem.arc_cost[e];
      alike[j] = alike[j] && problem.arc_cost[e] == cost_in[j] && problem.capacity_never_binds(i, e);
    }
  }
  for (NodeIndex j = 0; j < problem.sink_count(); ++j) {
    slack.sink[j] =
        problem.is_slack_sink(j) || (alike[j] && reached[j] == problem.source_count() && problem.source_count() > 1);
  }
  return slack;
}

// Row minima, and each source's and sink's k cheapest arcs by reduced cost c - alpha (beta is zero), and
// every arc at a slack node. One pass over the arcs, each row read twice while it is in cache.
Candidates initial_candidates(const TransportationProblem& problem, const CpuSolverOptions& options,
                              const SlackNodes& slack) {
  Candidates result{ArcBits(problem.arc_count()), {}};
  const std::uint32_t per_source = options.candidates_per_source;
  const std::uint32_t per_sink = options.candidates_per_sink;
  std::vector<BestArcs::Entry> sink_best(static_cast<std::size_t>(problem.sink_count()) * per_sink);
  std::vector<std::uint32_t> sink_held(problem.sink_count(), 0);
  std::vector<std::uint32_t> sink_worst(problem.sink_count(), 0);
  std::vector<BestArcs::Entry> row_best(per_source);

  for (NodeIndex i = 0; i < problem.source_count(); ++i) {
    const ArcIndex begin = problem.row_begin[i];
    const ArcIndex end = problem.row_begin[i + 1];
    const bool slack_row = slack.source[i];
    std::uint32_t row_held = 0, row_worst = 0;
    Cost lowest = std::numeric_limits<Cost>::max();
    for (ArcIndex e = begin; e < end; ++e) {
      if (problem.arc_capacity[e] == 0) continue;
      lowest = std::min(lowest, problem.arc_cost[e]);
      if (slack_row || slack.sink[problem.arc_sink[e]]) {
        result.member.set(e);
      } else {
        BestArcs::offer(row_best.data(), row_held, row_worst, per_source, {problem.arc_cost[e], e});
      }
    }
    const Potential alpha = lowest == std::numeric_limits<Cost>::max() ? 0 : lowest;
    for (std::uint32_t k = 0; k < row_held; ++k) result.member.set(row_best[k].arc);
    if (slack_row) continue;
    for (ArcIndex e = begin; e < end; ++e) {
      const NodeIndex j = problem.arc_sink[e];
      if (problem.arc_capacity[e] == 0 || slack.sink[j]) continue;
      BestArcs::offer(sink_best.data() + static_cast<std::size_t>(j) * per_sink, sink_held[j], sink_worst[j], per_sink,
                      {problem.arc_cost[e] - alpha, e});
    }
  }
  for (NodeIndex j = 0; j < problem.sink_count(); ++j) {
    for (std::uint32_t k = 0; k < sink_held[j]; ++k)
      result.member.set(sink_best[static_cast<std::size_t>(j) * per_sink + k].arc);
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

std::vector<Potential> row_minimum_potentials(const TransportationProblem& problem) {
  std::vector<Potential> alpha(problem.source_count(), 0);
  for (NodeIndex i = 0; i < problem.source_count(); ++i) {
    Cost lowest = std::numeric_limits<Cost>::max();
    for (ArcIndex e = problem.row_begin[i]; e < problem.row_begin[i + 1]; ++e) {
      if (problem.arc_capacity[e] > 0) lowest = std::min(lowest, problem.arc_cost[e]);
    }
    alpha[i] = lowest == std::numeric_limits<Cost>::max() ? 0 : lowest;
  }
  return alpha;
}

// Solves `problem` exactly with the chosen engine; the auction hands what it does not take to successive
// shortest paths. Flows are per arc of `problem`.
struct EngineResult {
  SolveStatus status = SolveStatus::infeasible;
  std::vector<Quantity> flow;
  std::vector<Potential> alpha, beta;
};

// Below this many arcs successive shortest paths is the faster engine (measured on ewx-gen markets here:
// 2000 x 200, 35k arcs: 48 ms against the auction's 91 ms; 5000 x 500, 220k arcs: 390 ms against 240-356 ms;
// 50000 x 5000: the auction 10 s, shortest paths over 300 s). The auction's phases cost the same however
// small the problem.
constexpr ArcIndex kShortestPathsUpTo = 100'000;

EngineResult solve_exactly(const TransportationProblem& problem, CpuEngine engine, std::uint64_t most_bids,
                           CpuSolverStatistics& stats) {
  EngineResult result;
  if (engine == CpuEngine::automatic && problem.arc_count() <= kShortestPathsUpTo) engine = CpuEngine::shortest_paths;
  if (engine != CpuEngine::shortest_paths) {
    detail::AuctionStatistics auction;
    result.status = detail::run_scaled_auction(problem, result.flow, result.alpha, result.beta, auction, most_bids);
    stats.auction_phases += auction.phases;
    stats.auction_bids += auction.bids;
    stats.arcs_scanned += auction.arcs_scanned;
    stats.potential_passes += auction.potential_passes;
    stats.auction_out_of_bids = stats.auction_out_of_bids || auction.out_of_bids;
    // Even when asked for by name, the auction hands the problem on where it ran out of bids (bid_budget in
    // auction_lots.hpp) or found it infeasible, which for the auction is only a sign: the prices of a
    // balanced problem with no slack can climb together past its bound (run_scaled_auction). Shortest
    // paths decide exactly.
    if (result.status == SolveStatus::optimal ||
        (engine == CpuEngine::auction && result.status != SolveStatus::infeasible && !auction.out_of_bids))
      return result;
  }
  result.flow.assign(problem.arc_count(), 0);
  result.alpha = row_minimum_potentials(problem);
  result.beta.assign(problem.sink_count(), 0);
  detail::EngineStatistics engine_stats;
  result.status = detail::run_successive_shortest_paths(problem, result.flow, result.alpha, result.beta, engine_stats);
  stats.augmentations += engine_stats.augmentations;
  stats.arcs_scanned += engine_stats.arcs_scanned;
  return result;
}

TransportationSolution finish(const TransportationProblem& problem, EngineResult&& result,
                              const std::vector<ArcIndex>* arc_of) {
  TransportationSolution solution;
  solution.status = result.status;
  if (result.status != SolveStatus::optimal) {
    solution.detail = result.status == SolveStatus::infeasible
                          ? "the supply cannot all be shipped: some sources cannot reach enough demand"
                          : "costs too large for the chosen engine";
    return solution;
  }
  solution.flows = positive_flows(result.flow, arc_of);
  solution.source_potential = std::move(result.alpha);
  solution.sink_potential = std::move(result.beta);
  solution.objective = total_cost(problem, solution.flows);
  return solution;
}

TransportationSolution solve_whole_graph(const TransportationProblem& problem, const CpuSolverOptions& options,
                                         CpuSolverStatistics& stats) {
  stats.candidate_arcs = problem.arc_count();
  return finish(problem, solve_exactly(problem, options.engine, options.auction_most_bids, stats), nullptr);
}

}  // namespace

ProblemDefect find_node_defect(const TransportationProblem& problem) {
  const auto defect = [](SolveStatus status, std::string detail) { return ProblemDefect{status, std::move(detail)}; };
  if (problem.row_begin.size() != static_cast<std::size_t>(problem.source_count()) + 1 ||
      problem.arc_cost.size() != problem.arc_count() || problem.arc_capacity.size() != problem.arc_count()) {
    return defect(SolveStatus::out_of_range, "malformed problem: arc arrays disagree in length");
  }
  Objective total_supply = 0;
  Objective total_demand = 0;
  for (NodeIndex i = 0; i < problem.source_count(); ++i) {
    if (problem.supply[i] < 0)
      return defect(SolveStatus::out_of_range, "source " + std::to_string(i) + " has negative supply");
    total_supply += problem.supply[i];
  }
  for (NodeIndex j = 0; j < problem.sink_count(); ++j) {
    if (problem.demand[j] < 0)
      return defect(SolveStatus::out_of_range, "sink " + std::to_string(j) + " has negative demand");
    total_demand += problem.demand[j];
  }
  if (total_supply > (Objective{1} << 62)) {
    return defect(SolveStatus::out_of_range, "total supply " + to_string(total_supply) + " exceeds 2^62");
  }
  if (total_supply != total_demand) {
    return defect(SolveStatus::unbalanced,
                  "total supply " + to_string(total_supply) + " differs from total demand " + to_string(total_demand));
  }
  return {};
}

ProblemDefect find_arc_defect(const TransportationProblem& problem, ArcIndex e) {
  const auto defect = [e](std::string what) {
    return ProblemDefect{SolveStatus::out_of_range, "arc " + std::to_string(e) + " " + std::move(what)};
  };
  if (problem.arc_sink[e] >= problem.sink_count()) return defect("names a sink that does not exist");
  if (problem.arc_capacity[e] < 0) return defect("has negative capacity");
  if (!arc_is_sound(problem, e, largest_sound_cost(problem))) {
    const Objective nodes = Objective{problem.source_count()} + problem.sink_count() + 1;
    return defect("cost " + std::to_string(problem.arc_cost[e]) + " is too large for exact 64-bit duals with " +
                  to_string(nodes - 1) + " nodes (|cost| * (nodes + 1) must not exceed 2^60)");
  }
  return {};
}

ProblemDefect find_problem_defect(const TransportationProblem& problem) {
  if (ProblemDefect defect = find_node_defect(problem)) return defect;
  const std::uint64_t largest_cost = largest_sound_cost(problem);
  for (ArcIndex e = 0; e < problem.arc_count(); ++e)
    if (!arc_is_sound(problem, e, largest_cost)) return find_arc_defect(problem, e);
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

  const std::uint64_t candidate_budget = std::uint64_t{options.candidates_per_source} * problem.source_count() +
                                         std::uint64_t{options.candidates_per_sink} * problem.sink_count();
  if (!options.arc_pricing || problem.arc_count() <= 4 * candidate_budget) {
    return solve_whole_graph(problem, options, stats);
  }
  const SlackNodes slack = find_slack_nodes(problem);
  const auto any = [](const std::vector<std::uint8_t>& v) { return std::find(v.begin(), v.end(), 1) != v.end(); };
  if (any(slack.source) || any(slack.sink)) return solve_whole_graph(problem, options, stats);

  // Candidate graphs are small, and successive shortest paths, grown from row-minimum potentials, leave
  // duals that price the rest of a dense graph well (two rounds on dense assignments, against eight with
  // the auction's recovered duals), so it solves them unless told otherwise.
  const CpuEngine round_engine = options.engine == CpuEngine::automatic ? CpuEngine::shortest_paths : options.engine;
  Candidates candidates = initial_candidates(problem, options, slack);
  for (;;) {
    ++stats.pricing_rounds;
    stats.candidate_arcs = candidates.arcs.size();
    EngineResult round =
        solve_exactly(extract_candidates(problem, candidates.arcs), round_engine, options.auction_most_bids, stats);
    if (round.status != SolveStatus::optimal) return solve_whole_graph(problem, options, stats);

    const std::vector<ArcIndex> violated = find_violations(problem, candidates, round.alpha, round.beta);
    if (violated.empty()) return finish(problem, std::move(round), &candidates.arcs);
    if (violated.size() > candidates.arcs.size()) return solve_whole_graph(problem, options, stats);
    stats.arcs_admitted += violated.size();
    for (const ArcIndex e : violated) candidates.member.set(e);
    std::vector<ArcIndex> merged(candidates.arcs.size() + violated.size());
    std::merge(candidates.arcs.begin(), candidates.arcs.end(), violated.begin(), violated.end(), merged.begin());
    candidates.arcs = std::move(merged);
  }
}

}  // namespace ewx
