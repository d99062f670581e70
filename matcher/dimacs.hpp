// DIMACS assignment (`p asn`) and minimum-cost flow (`p min`) files, for bipartite instances.
#pragma once

#include <cstdint>
#include <cstdio>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

#include "matcher/line_scanner.hpp"
#include "matcher/transportation.hpp"

namespace ewx {

enum class DimacsKind { assignment, min_cost_flow };

struct DimacsInstance {
  DimacsKind kind = DimacsKind::assignment;
  TransportationProblem problem;
  std::vector<std::uint32_t> source_node;  // the file's node id of each source
  std::vector<std::uint32_t> sink_node;    // the file's node id of each sink
  std::vector<Quantity> arc_lower;         // lower bounds, already shipped and taken out of the problem
  std::vector<ArcIndex> arc_order;         // for each problem arc, its position among the file's arcs
  Objective lower_bound_cost = 0;          // cost of the flow the lower bounds force
};

// Parses a DIMACS file's text. Throws InputError naming the line for anything malformed, including
// instances that are not bipartite (a node with arcs both in and out) or a `p` line whose counts disagree
// with the body. `name` is used in messages.
DimacsInstance parse_dimacs(std::string_view text, const std::string& name);

// Writes `s <objective>` and one `f <from> <to> <flow>` line per arc with positive flow (lower bounds
// included), in file order.
void write_dimacs_flow(std::ostream& out, const DimacsInstance& instance, std::span<const ArcFlow> flows,
                       Objective objective);

// Objective of a solution in the file's own sense: the solver's cost plus the lower bounds' cost.
inline Objective dimacs_objective(const DimacsInstance& instance, Objective solver_objective) {
  return solver_objective + instance.lower_bound_cost;
}

}  // namespace ewx

namespace ewx {

// Writes `problem` as a bipartite DIMACS `p min` file: sources are nodes 1..n, sinks n+1..n+m. Capacities
// larger than what the two end nodes can move (kUnboundedCapacity, say) are written as that smaller bound,
// which changes nothing and keeps the file readable by solvers with 32- or 64-bit capacities.
void write_dimacs_min(std::FILE* out, const TransportationProblem& problem, std::string_view comment);

// Buffered writer of integers and text for files of tens of millions of lines.
class FastWriter {
 public:
  explicit FastWriter(std::FILE* out) : out_(out) { buffer_.reserve(kCapacity + 64); }
  ~FastWriter() { flush(); }
  FastWriter& text(std::string_view s) {
    buffer_.append(s);
    if (buffer_.size() >= kCapacity) flush();
    return *this;
  }
  FastWriter& number(std::int64_t value);
  FastWriter& put(char c) {
    buffer_.push_back(c);
    if (buffer_.size() >= kCapacity) flush();
    return *this;
  }
  void flush();

 private:
  static constexpr std::size_t kCapacity = 1 << 20;
  std::FILE* out_;
  std::string buffer_;
};

}  // namespace ewx
