// Reading and writing DIMACS files for bipartite problems.
//
// The formats are those of the first DIMACS implementation challenge (1991):
//
//   c <comment>
//   p asn <nodes> <arcs>            assignment: `n <id>` lists the sources ("persons"), the rest are sinks;
//   n <id>                          every source ships 1 and every sink receives 1;
//   a <from> <to> <cost>            arcs have capacity 1.
//
//   p min <nodes> <arcs>            minimum-cost flow: `n <id> <supply>`, positive for supply, negative for
//   n <id> <supply>                 demand, absent for zero;
//   a <from> <to> <low> <cap> <cost>
//
// ewx accepts the bipartite case only, which is what a transportation problem is: every arc must leave a
// supply-side node and enter a demand-side node. A node with arcs both in and out is rejected with the line
// of the arc that revealed it. Lower bounds are shipped up front and taken out of the problem, so the solver
// sees capacities cap - low and adjusted supplies; the writer adds them back.
//
// The reader is a hand-written scanner over the whole file in memory, because files of 20-60 million arc
// lines are normal here and a stream-based reader would spend longer parsing than the solver spends solving.
#include "matcher/dimacs.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <limits>
#include <ostream>

namespace ewx {
namespace {

enum class Side : std::uint8_t { none, source, sink };

struct RawNode {
  Side side = Side::none;
  bool declared = false;
  Quantity supply = 0;
};

// The shortest lines there can be: "n 1" and "a 1 2 0", each with its newline.
constexpr std::uint64_t kShortestNodeLine = 4;
constexpr std::uint64_t kShortestArcLine = 8;

// What reading costs for each declared node: its RawNode and its index while reading, then its supply or
// demand and its file id in the instance.
constexpr std::uint64_t kReadingBytesPerNode = sizeof(RawNode) + 2 * sizeof(std::uint32_t) + sizeof(Quantity);

std::uint64_t physical_memory_bytes() {
  const long pages = ::sysconf(_SC_PHYS_PAGES);
  const long page_size = ::sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page_size <= 0) return std::numeric_limits<std::uint64_t>::max();
  return static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(page_size);
}

// The reader keeps a slot for every node the 'p' line declares and room for every arc, so a count of
// billions in a file of a few lines (a typo, or a file that is not what it says) would take minutes and all
// of memory before the count could be found wrong. Checks at the 'p' line say it at once instead:
// - a file has room for at most one arc per kShortestArcLine bytes;
// - an assignment needs exactly as many sources ('n' lines) as sinks (the other nodes), so it can declare
//   at most twice the 'n' lines its file has room for; more can only end as an unbalanced problem;
// - no declared node count may need more memory to read than the machine has. (A min-cost flow file may
//   declare nodes no line names; they take no part, but the format numbers nodes 1..n and the reader keeps
//   them so.)
void check_declared_counts(const LineScanner& scan, DimacsKind kind, std::uint64_t nodes, std::uint64_t arcs,
                           std::uint64_t file_bytes) {
  const std::uint64_t most_arcs = file_bytes / kShortestArcLine + 1;
  if (arcs > most_arcs) {
    scan.fail("the 'p' line declares " + std::to_string(arcs) + " arcs, but a file of " + std::to_string(file_bytes) +
              " bytes has room for at most " + std::to_string(most_arcs) + " 'a' lines");
  }
  if (kind == DimacsKind::assignment) {
    const std::uint64_t most_sources = file_bytes / kShortestNodeLine + 1;
    if (nodes > 2 * most_sources) {
      scan.fail("the 'p' line declares " + std::to_string(nodes) + " nodes, but an assignment needs as many " +
                "sources ('n' lines) as sinks, and a file of " + std::to_string(file_bytes) +
                " bytes has room for at most " + std::to_string(most_sources) + " 'n' lines");
    }
  }
  const std::uint64_t memory = physical_memory_bytes();
  if (nodes >= memory / kReadingBytesPerNode) {
    constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
    scan.fail(fmt::format("the 'p' line declares {} nodes, which take {:.1f} GiB to read; this machine has {:.1f} GiB",
                          nodes, static_cast<double>(nodes) * kReadingBytesPerNode / kGiB,
                          static_cast<double>(memory) / kGiB));
  }
}

}  // namespace

DimacsInstance parse_dimacs(std::string_view text, const std::string& name) {
  DimacsInstance instance;
  std::uint64_t declared_nodes = 0;
  std::uint64_t declared_arcs = 0;
  bool have_problem_line = false;
  std::vector<RawNode> nodes;
  std::vector<Arc> arcs;  // source/sink hold file node ids until the sides are known
  std::vector<Quantity> lower;

  LineReader reader(text);
  std::string_view line;
  while (reader.next(line)) {
    LineScanner scan(line, name, reader.number());
    const std::string_view tag = scan.word();
    if (tag.empty() || tag == "c") continue;

    if (tag == "p") {
      if (have_problem_line) scan.fail("a second 'p' line");
      const std::string_view kind = scan.word();
      if (kind == "asn")
        instance.kind = DimacsKind::assignment;
      else if (kind == "min")
        instance.kind = DimacsKind::min_cost_flow;
      else
        scan.fail("unsupported problem type " + quoted(kind) + " (ewx reads 'asn' and 'min')");
      const std::int64_t n = scan.integer("node count");
      const std::int64_t m = scan.integer("arc count");
      scan.finish();
      if (n < 0 || n > std::numeric_limits<std::uint32_t>::max() - 1) scan.fail("node count out of range");
      if (m < 0) scan.fail("negative arc count");
      declared_nodes = static_cast<std::uint64_t>(n);
      declared_arcs = static_cast<std::uint64_t>(m);
      check_declared_counts(scan, instance.kind, declared_nodes, declared_arcs, text.size());
      nodes.assign(declared_nodes + 1, RawNode{});
      arcs.reserve(declared_arcs);
      if (instance.kind == DimacsKind::min_cost_flow) lower.reserve(declared_arcs);
      have_problem_line = true;
      continue;
    }
    if (!have_problem_line) scan.fail(quoted(tag) + " line before the 'p' line");

    const auto node_id = [&](const char* what) {
      const std::int64_t id = scan.integer(what);
      if (id < 1 || static_cast<std::uint64_t>(id) > declared_nodes) {
        scan.fail(std::string(what) + " " + std::to_string(id) + " is not in 1.." + std::to_string(declared_nodes));
      }
      return static_cast<std::uint32_t>(id);
    };

    if (tag == "n") {
      const std::uint32_t id = node_id("node id");
      RawNode& node = nodes[id];
      if (node.declared) scan.fail("node " + std::to_string(id) + " is described twice");
      node.declared = true;
      if (instance.kind == DimacsKind::assignment) {
        node.side = Side::source;
        node.supply = 1;
      } else {
        node.supply = scan.integer("node supply");
      }
      scan.finish();
    } else if (tag == "a") {
      if (arcs.size() == declared_arcs)
        scan.fail("more arcs than the " + std::to_string(declared_arcs) + " the 'p' line declares");
      const std::uint32_t from = node_id("arc tail");
      const std::uint32_t to = node_id("arc head");
      Quantity low = 0;
      Quantity capacity = 1;
      if (instance.kind == DimacsKind::min_cost_flow) {
        low = scan.integer("arc lower bound");
        capacity = scan.integer("arc capacity");
        if (low < 0) scan.fail("negative lower bound " + std::to_string(low));
        if (capacity < low)
          scan.fail("capacity " + std::to_string(capacity) + " below lower bound " + std::to_string(low));
        lower.push_back(low);
      }
      const Cost cost = scan.integer("arc cost");
      scan.finish();
      if (from == to) scan.fail("arc from node " + std::to_string(from) + " to itself");
      // The tail is on the supply side and the head on the demand side; a contradiction means the graph is
      // not bipartite in the direction a transportation problem needs.
      if (instance.kind == DimacsKind::assignment && nodes[from].side != Side::source) {
        scan.fail("arc leaves node " + std::to_string(from) + ", which is not listed as a source ('n' line)");
      }
      if (nodes[from].side == Side::sink) {
        scan.fail("node " + std::to_string(from) + " has arcs both in and out: not a bipartite transportation problem");
      }
      if (nodes[to].side == Side::source) {
        scan.fail("node " + std::to_string(to) + " has arcs both in and out: not a bipartite transportation problem");
      }
      nodes[from].side = Side::source;
      nodes[to].side = Side::sink;
      arcs.push_back({from, to, capacity - low, cost});
    } else {
      scan.fail("unknown line type " + quoted(tag));
    }
  }
  if (!have_problem_line) throw InputError(name, reader.number(), "no 'p' line: not a DIMACS file");
  if (arcs.size() != declared_arcs) {
    throw InputError(name, reader.number(),
                     "the 'p' line declares " + std::to_string(declared_arcs) + " arcs but the file has " +
                         std::to_string(arcs.size()));
  }

  // Number the sources and sinks in node-id order.
  std::vector<std::uint32_t> index(declared_nodes + 1, 0);
  std::vector<Quantity> supply;
  std::vector<Quantity> demand;
  for (std::uint32_t id = 1; id <= declared_nodes; ++id) {
    RawNode& node = nodes[id];
    if (node.side == Side::none) {
      if (instance.kind == DimacsKind::assignment || node.supply < 0)
        node.side = Side::sink;
      else if (node.supply > 0)
        node.side = Side::source;
    }
    if (instance.kind == DimacsKind::assignment && node.side == Side::sink) node.supply = -1;
    if (node.side == Side::source) {
      if (node.supply < 0) {
        throw InputError(name, reader.number(), "node " + std::to_string(id) + " has demand but arcs leave it");
      }
      index[id] = static_cast<std::uint32_t>(supply.size());
      supply.push_back(node.supply);
      instance.source_node.push_back(id);
    } else if (node.side == Side::sink) {
      if (node.supply > 0) {
        throw InputError(name, reader.number(), "node " + std::to_string(id) + " has supply but arcs enter it");
      }
      index[id] = static_cast<std::uint32_t>(demand.size());
      demand.push_back(-node.supply);
      instance.sink_node.push_back(id);
    }
  }
  for (std::size_t k = 0; k < arcs.size(); ++k) {
    Arc& arc = arcs[k];
    if (!lower.empty() && lower[k] != 0) {
      supply[index[arc.source]] -= lower[k];
      demand[index[arc.sink]] -= lower[k];
      instance.lower_bound_cost += static_cast<Objective>(lower[k]) * arc.cost;
    }
    arc.source = index[arc.source];
    arc.sink = index[arc.sink];
  }
  for (std::size_t i = 0; i < supply.size(); ++i) {
    if (supply[i] < 0) {
      throw InputError(
          name, reader.number(),
          "lower bounds on the arcs of node " + std::to_string(instance.source_node[i]) + " exceed its supply");
    }
  }
  for (std::size_t j = 0; j < demand.size(); ++j) {
    if (demand[j] < 0) {
      throw InputError(
          name, reader.number(),
          "lower bounds on the arcs into node " + std::to_string(instance.sink_node[j]) + " exceed its demand");
    }
  }

  // The CSR keeps arcs of a source in file order; remember each one's file position for writing flows.
  instance.problem = make_transportation_problem(std::move(supply), std::move(demand), arcs, &instance.arc_order);
  instance.arc_lower.assign(arcs.size(), 0);
  if (!lower.empty()) {
    for (ArcIndex slot = 0; slot < arcs.size(); ++slot) instance.arc_lower[slot] = lower[instance.arc_order[slot]];
  }
  return instance;
}

void write_dimacs_flow(std::ostream& out, const DimacsInstance& instance, std::span<const ArcFlow> flows,
                       Objective objective) {
  const TransportationProblem& problem = instance.problem;
  struct Line {
    ArcIndex file_position;
    std::uint32_t from, to;
    Quantity flow;
  };
  std::vector<Line> lines;
  std::size_t next_flow = 0;
  for (NodeIndex i = 0; i < problem.source_count(); ++i) {
    for (ArcIndex e = problem.row_begin[i]; e < problem.row_begin[i + 1]; ++e) {
      Quantity shipped = instance.arc_lower[e];
      if (next_flow < flows.size() && flows[next_flow].arc == e) shipped += flows[next_flow++].units;
      if (shipped > 0) {
        lines.push_back(
            {instance.arc_order[e], instance.source_node[i], instance.sink_node[problem.arc_sink[e]], shipped});
      }
    }
  }
  std::sort(lines.begin(), lines.end(), [](const Line& a, const Line& b) { return a.file_position < b.file_position; });
  out << "s " << to_string(objective) << '\n';
  for (const Line& line : lines) out << "f " << line.from << ' ' << line.to << ' ' << line.flow << '\n';
}

}  // namespace ewx

namespace ewx {

FastWriter& FastWriter::number(std::int64_t value) {
  char digits[24];
  const auto [end, error] = std::to_chars(digits, digits + sizeof digits, value);
  buffer_.append(digits, end);
  if (buffer_.size() >= kCapacity) flush();
  return *this;
}

void FastWriter::flush() {
  if (!buffer_.empty()) std::fwrite(buffer_.data(), 1, buffer_.size(), out_);
  buffer_.clear();
}

void write_dimacs_min(std::FILE* out, const TransportationProblem& problem, std::string_view comment) {
  FastWriter w(out);
  const std::int64_t sources = problem.source_count();
  w.text("c ").text(comment).put('\n');
  w.text("p min ")
      .number(sources + problem.sink_count())
      .put(' ')
      .number(static_cast<std::int64_t>(problem.arc_count()))
      .put('\n');
  for (NodeIndex i = 0; i < problem.source_count(); ++i) {
    if (problem.supply[i] != 0) w.text("n ").number(i + 1).put(' ').number(problem.supply[i]).put('\n');
  }
  for (NodeIndex j = 0; j < problem.sink_count(); ++j) {
    if (problem.demand[j] != 0) w.text("n ").number(sources + j + 1).put(' ').number(-problem.demand[j]).put('\n');
  }
  for (NodeIndex i = 0; i < problem.source_count(); ++i) {
    for (ArcIndex e = problem.row_begin[i]; e < problem.row_begin[i + 1]; ++e) {
      const NodeIndex j = problem.arc_sink[e];
      const Quantity capacity = std::min({problem.arc_capacity[e], problem.supply[i], problem.demand[j]});
      w.text("a ").number(i + 1).put(' ').number(sources + j + 1).text(" 0 ").number(capacity).put(' ');
      w.number(problem.arc_cost[e]).put('\n');
    }
  }
}

}  // namespace ewx
