// The transportation problem: the one optimisation problem every ewx clearing reduces to.
//
// Sources (orders, or DIMACS supply nodes) hold supply; sinks (offers, or DIMACS demand nodes) hold demand;
// arcs run from a source to a sink with an integer cost per unit and an integer capacity. A solution ships
// every unit of supply to some sink, fills every sink's demand exactly, and minimises total cost. Total
// supply must equal total demand; markets get there by adding two slack nodes (see batch_builder.hpp), and
// the linear assignment problem is the case where every supply, demand and capacity is 1.
//
// The arcs are stored once, in compressed rows by source (CSR), because every consumer (the solvers, the
// certificate checker, the price computation, the DIMACS writer) walks them row by row.
//
// Duals follow one sign convention everywhere in ewx: each source i has a potential alpha_i and each sink j a
// potential beta_j, and the reduced cost of arc (i, j) is
//
//     r_ij = c_ij - alpha_i + beta_j.
//
// A flow is optimal exactly when some potentials satisfy complementary slackness: r_ij >= 0 wherever the
// arc could carry more (flow < capacity), and r_ij <= 0 wherever it carries something (flow > 0). That pair
// of conditions is what certificate.cpp checks, independently of how the solution was found.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace ewx {

using Cost = std::int64_t;       // per unit, in the problem's own money (fen for markets)
using Quantity = std::int64_t;   // units
using Potential = std::int64_t;  // dual price of a node, same money as Cost
using ArcIndex = std::uint64_t;
using NodeIndex = std::uint32_t;

// Totals over many arcs can exceed 64 bits (a million arcs of 10^12 fen each); they are kept in 128.
using Objective = __int128;
std::string to_string(Objective value);

// The largest |cost| times (number of nodes + 1) that the solvers accept. Potentials stay within about one
// cost per node of a path (2^60), reduced costs and search distances within a few times that, so every
// intermediate sum of a relaxation stays below 2^63.
inline constexpr Cost kCostPathBound = Cost{1} << 60;

struct Arc {
  NodeIndex source;
  NodeIndex sink;
  Quantity capacity;
  Cost cost;
};

struct TransportationProblem {
  std::vector<Quantity> supply;  // per source
  std::vector<Quantity> demand;  // per sink

  // CSR by source: the arcs of source i are [row_begin[i], row_begin[i + 1]).
  std::vector<ArcIndex> row_begin;
  std::vector<NodeIndex> arc_sink;
  std::vector<Cost> arc_cost;
  std::vector<Quantity> arc_capacity;

  // Slack nodes a reduction added (the market's "unsold" source and "unfilled" sink). Every arc that
  // touches one is always offered to the solver's candidate set, because such a node stands for a choice
  // every participant has, not for one more trading partner. The last
  // slack_sources sources and the last slack_sinks sinks are slack; by default there are none.
  NodeIndex slack_sources = 0;
  NodeIndex slack_sinks = 0;

  NodeIndex source_count() const { return static_cast<NodeIndex>(supply.size()); }
  NodeIndex sink_count() const { return static_cast<NodeIndex>(demand.size()); }
  ArcIndex arc_count() const { return arc_sink.size(); }
  bool is_slack_source(NodeIndex i) const { return i + slack_sources >= source_count(); }
  bool is_slack_sink(NodeIndex j) const { return j + slack_sinks >= sink_count(); }
  // Flow on an arc never exceeds what either end moves, so a capacity at least that large never binds.
  bool capacity_never_binds(NodeIndex source, ArcIndex e) const {
    return arc_capacity[e] >= std::min(supply[source], demand[arc_sink[e]]);
  }
  std::span<const NodeIndex> sinks_of(NodeIndex source) const {
    return {arc_sink.data() + row_begin[source], arc_sink.data() + row_begin[source + 1]};
  }
};

// Builds the CSR form from arcs in any order. Arcs of one source keep their relative order, so arc indices
// (and therefore the solution) do not depend on anything but the input. When `input_position` is given, it
// receives for each CSR arc its index in `arcs`.
TransportationProblem make_transportation_problem(std::vector<Quantity> supply, std::vector<Quantity> demand,
                                                  std::span<const Arc> arcs,
                                                  std::vector<ArcIndex>* input_position = nullptr);

// True when row `source` is arc k -> sink k for every sink, all at one cost, with capacities that never
// bind: the shape of a market's "unsold" slack source, whose best choice is simply the cheapest sink.
bool reaches_every_sink_alike(const TransportationProblem& problem, NodeIndex source);

enum class SolveStatus {
  optimal,
  infeasible,    // supply cannot all be shipped (missing arcs or capacities too small)
  unbalanced,    // total supply differs from total demand
  out_of_range,  // costs or quantities too large for exact 64-bit potentials; see kCostPathBound
};
const char* to_string(SolveStatus status);

// A positive flow on one arc. Solutions list only these, in ascending arc order: a 19-million-arc batch
// has a few tens of thousands of them.
struct ArcFlow {
  ArcIndex arc;
  Quantity units;
  bool operator==(const ArcFlow&) const = default;
};

struct TransportationSolution {
  SolveStatus status = SolveStatus::infeasible;
  std::vector<ArcFlow> flows;               // positive flows, ascending arc index
  std::vector<Potential> source_potential;  // alpha
  std::vector<Potential> sink_potential;    // beta
  Objective objective = 0;                  // sum of flow * cost
  std::string detail;                       // why, when status is not optimal
};

// Sum of flow times cost, in 128 bits.
Objective total_cost(const TransportationProblem& problem, std::span<const ArcFlow> flows);

// The source (row) of each flow's arc, for flows in ascending arc order.
std::vector<NodeIndex> flow_sources(const TransportationProblem& problem, std::span<const ArcFlow> flows);

}  // namespace ewx
