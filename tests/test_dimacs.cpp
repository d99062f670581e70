// DIMACS files: reading well-formed files, and clear, line-numbered errors for malformed ones.
#include <doctest/doctest.h>

#include <sstream>

#include "matcher/cpu_solver.hpp"
#include "matcher/dimacs.hpp"

using namespace ewx;

namespace {

// The error message for `text`, or "" if it parses.
std::string error_of(const std::string& text) {
  try {
    parse_dimacs(text, "t.dimacs");
  } catch (const InputError& error) {
    return error.what();
  }
  return "";
}

}  // namespace

TEST_CASE("an assignment file is read and solved") {
  const std::string text =
      "c 3 x 3\np asn 6 9\nn 1\nn 2\nn 3\n"
      "a 1 4 7\na 1 5 2\na 1 6 9\na 2 4 3\na 2 5 8\na 2 6 6\na 3 4 5\na 3 5 4\na 3 6 1\n";
  const DimacsInstance instance = parse_dimacs(text, "t.asn");
  CHECK(instance.kind == DimacsKind::assignment);
  CHECK(instance.problem.source_count() == 3);
  CHECK(instance.problem.sink_count() == 3);
  const TransportationSolution s = solve_on_cpu(instance.problem);
  CHECK(dimacs_objective(instance, s.objective) == 2 + 3 + 1);

  std::ostringstream flow;
  write_dimacs_flow(flow, instance, s.flows, dimacs_objective(instance, s.objective));
  CHECK(flow.str() == "s 6\nf 1 5 1\nf 2 4 1\nf 3 6 1\n");
}

TEST_CASE("a min-cost flow file with lower bounds and negative costs") {
  // Node 1 supplies 5, node 2 supplies 3; node 3 demands 4, node 4 demands 4. Arc 1->3 must carry 2.
  const std::string text =
      "p min 4 4\nn 1 5\nn 2 3\nn 3 -4\nn 4 -4\n"
      "a 1 3 2 5 10\na 1 4 0 5 1\na 2 3 0 3 -2\na 2 4 0 3 4\n";
  const DimacsInstance instance = parse_dimacs(text, "t.min");
  const TransportationSolution s = solve_on_cpu(instance.problem);
  REQUIRE(s.status == SolveStatus::optimal);
  // 2 forced on 1->3 (20), source 2 sends 2 to node 3 (-4) and 1 to node 4 (4), source 1 sends 3 to 4 (3).
  CHECK(dimacs_objective(instance, s.objective) == 20 - 4 + 4 + 3);
  std::ostringstream flow;
  write_dimacs_flow(flow, instance, s.flows, dimacs_objective(instance, s.objective));
  CHECK(flow.str() == "s 23\nf 1 3 2\nf 1 4 3\nf 2 3 2\nf 2 4 1\n");
}

TEST_CASE("malformed DIMACS files name the line and the problem") {
  CHECK(error_of("c nothing here\n").find("no 'p' line") != std::string::npos);
  CHECK(error_of("a 1 2 3\n") == "t.dimacs:1: 'a' line before the 'p' line");
  CHECK(error_of("p asn 2 1\nn 1\na 1 2 x\n") == "t.dimacs:3: expected an integer for arc cost, found 'x'");
  CHECK(error_of("p asn 2 1\nn 1\na 1 3 4\n") == "t.dimacs:3: arc head 3 is not in 1..2");
  CHECK(error_of("p asn 2 2\nn 1\na 1 2 4\n").find("declares 2 arcs but the file has 1") != std::string::npos);
  CHECK(error_of("p asn 2 1\nn 1\na 1 2 4\na 1 2 5\n") == "t.dimacs:4: more arcs than the 1 the 'p' line declares");
  CHECK(error_of("p max 2 1\n").find("unsupported problem type 'max'") != std::string::npos);
  CHECK(error_of("p min 3 2\nn 1 1\nn 3 -1\na 1 2 0 1 1\na 2 3 0 1 1\n").find("not a bipartite") != std::string::npos);
  CHECK(error_of("p min 2 1\nn 1 1\nn 2 -1\na 1 2 3 2 1\n") == "t.dimacs:4: capacity 2 below lower bound 3");
  CHECK(error_of("p asn 2 1\nn 1\nx 1\n") == "t.dimacs:3: unknown line type 'x'");
  CHECK(error_of("p asn 2 1\nn 1\na 1 2 4 9\n") == "t.dimacs:3: unexpected text '9' at the end of the line");
  CHECK(error_of("p asn 2 1\nn 1\na 1 2 99999999999999999999\n").find("out of range") != std::string::npos);
  CHECK(error_of("p asn 2 1\nn 1\nn 1\n") == "t.dimacs:3: node 1 is described twice");
  CHECK(error_of("p asn 2 1\nn 1\na 2 1 4\n").find("not listed as a source") != std::string::npos);
}

TEST_CASE("a 'p' line that declares more than the file can hold is refused at once, without the memory") {
  // Each of these took minutes and most of the machine's memory before anything was said (an arc count of
  // 10^14 failed as a bare std::bad_alloc); now the message names the 'p' line and what is wrong with it.
  CHECK(error_of("p min 2 99999999999999\nn 1 1\nn 2 -1\na 1 2 0 1 1\n") ==
        "t.dimacs:1: the 'p' line declares 99999999999999 arcs, but a file of 48 bytes has room for at most 7 "
        "'a' lines");
  // The bounds are generous (every byte of the file counts as room, the 'p' line's too: an "a 1 2 0" line
  // and its newline are 8 bytes, an "n 1" line 4, and a last line may go without one), and applied exactly.
  CHECK(error_of("p asn 4 5\nn 1\nn 2\na 1 3 0\na 2 4 0").find("declares 5 arcs but the file has 2") !=
        std::string::npos);
  CHECK(error_of("p asn 4 6\nn 1\nn 2\na 1 3 0\na 2 4 0") ==
        "t.dimacs:1: the 'p' line declares 6 arcs, but a file of 33 bytes has room for at most 5 'a' lines");
  const std::string huge_assignment = error_of("p asn 4000000000 0\n");
  CHECK(huge_assignment.starts_with("t.dimacs:1: the 'p' line declares 4000000000 nodes, but an assignment needs"));
  CHECK(huge_assignment.find("a file of 19 bytes has room for at most 5 'n' lines") != std::string::npos);
  // No machine this runs on has the 128 GiB that reading 4,294,967,294 nodes would take.
  CHECK(error_of("p min 4294967294 0\n").find("nodes, which take 128.0 GiB to read; this machine has") !=
        std::string::npos);
  // A file of 10 bytes has room for 3 'n' lines by that count, so 6 nodes parse (and make an unbalanced
  // problem, which is the solver's to say) and 7 do not.
  CHECK(error_of("p asn 6 0\n").empty());
  CHECK(error_of("p asn 7 0\n").find("room for at most 3 'n' lines") != std::string::npos);
}

TEST_CASE("input quoted in a message is printable and short") {
  CHECK(quoted("gpu.h100") == "'gpu.h100'");
  CHECK(quoted(std::string("a\x1b[2J\\\0b", 8)) == "'a\\x1b[2J\\x5c\\x00b'");
  CHECK(quoted(std::string(60, 'x')) == "'" + std::string(48, 'x') + "...'");
  CHECK(error_of("\x89PNG\r\n\x1a\n") == "t.dimacs:1: '\\x89PNG' line before the 'p' line");
}

TEST_CASE("a perfect assignment that cannot exist is reported, not guessed") {
  const DimacsInstance three_two = parse_dimacs("p asn 5 2\nn 1\nn 2\nn 3\na 1 4 1\na 2 5 1\n", "t");
  CHECK(solve_on_cpu(three_two.problem).status == SolveStatus::unbalanced);
  const DimacsInstance blocked = parse_dimacs("p asn 4 2\nn 1\nn 2\na 1 3 1\na 2 3 1\n", "t");
  CHECK(solve_on_cpu(blocked.problem).status == SolveStatus::infeasible);
}
