// The optimality certificate checker.
//
// A transportation solution is optimal if and only if there are potentials alpha (sources) and beta
// (sinks) such that, with reduced cost r_ij = c_ij - alpha_i + beta_j,
//
//   primal feasibility   0 <= x_ij <= u_ij, every source ships its supply, every sink gets its demand;
//   dual feasibility     r_ij >= 0 wherever x_ij < u_ij;
//   slackness            r_ij <= 0 wherever x_ij > 0.
//
// The dual objective  sum_i alpha_i s_i - sum_j beta_j d_j + sum_ij u_ij min(0, r_ij)  then equals the
// primal cost, which is recomputed here and compared with the solver's claim as well.
//
// This file is deliberately small and shares no code with any solver: all it trusts is the problem data.
// Arithmetic is in 128 bits, so a check can fail but never overflow.
#include "matcher/certificate.hpp"

namespace ewx {
namespace {

CertificateReport failed(std::string why) {
  CertificateReport report;
  report.failure = std::move(why);
  return report;
}

}  // namespace

CertificateReport check_certificate(const TransportationProblem& problem, std::span<const ArcFlow> flows,
                                    std::span<const Potential> source_potential,
                                    std::span<const Potential> sink_potential, Objective claimed_objective) {
  const std::size_t sources = problem.supply.size();
  const std::size_t sinks = problem.demand.size();
  for (std::size_t k = 0; k < flows.size(); ++k) {
    if (flows[k].arc >= problem.arc_sink.size())
      return failed("a flow names arc " + std::to_string(flows[k].arc) + ", which does not exist");
    if (k > 0 && flows[k].arc <= flows[k - 1].arc) return failed("flows are not in strictly ascending arc order");
  }
  if (source_potential.size() != sources || sink_potential.size() != sinks) {
    return failed("potentials have the wrong number of nodes");
  }

  std::vector<Objective> shipped(sources, 0);
  std::vector<Objective> received(sinks, 0);
  Objective primal = 0;
  Objective capacity_term = 0;
  std::size_t next_flow = 0;
  for (std::size_t i = 0; i < sources; ++i) {
    for (ArcIndex e = problem.row_begin[i]; e < problem.row_begin[i + 1]; ++e) {
      const std::size_t j = problem.arc_sink[e];
      Objective x = 0;
      if (next_flow < flows.size() && flows[next_flow].arc == e) x = flows[next_flow++].units;
      const Objective u = problem.arc_capacity[e];
      const auto where = [&] {
        return "arc " + std::to_string(e) + " (source " + std::to_string(i) + " -> sink " + std::to_string(j) + ")";
      };
      if (x < 0 || x > u) return failed(where() + ": flow " + to_string(x) + " outside [0, " + to_string(u) + "]");
      const Objective reduced = Objective{problem.arc_cost[e]} - source_potential[i] + sink_potential[j];
      if (x < u && reduced < 0) return failed(where() + ": can carry more but has reduced cost " + to_string(reduced));
      if (x > 0 && reduced > 0) return failed(where() + ": carries flow at reduced cost " + to_string(reduced));
      if (reduced < 0) capacity_term += u * reduced;
      shipped[i] += x;
      received[j] += x;
      primal += x * problem.arc_cost[e];
    }
  }
  Objective dual = capacity_term;
  for (std::size_t i = 0; i < sources; ++i) {
    if (shipped[i] != problem.supply[i]) {
      return failed("source " + std::to_string(i) + " ships " + to_string(shipped[i]) + " of supply " +
                    std::to_string(problem.supply[i]));
    }
    dual += Objective{source_potential[i]} * problem.supply[i];
  }
  for (std::size_t j = 0; j < sinks; ++j) {
    if (received[j] != problem.demand[j]) {
      return failed("sink " + std::to_string(j) + " receives " + to_string(received[j]) + " of demand " +
                    std::to_string(problem.demand[j]));
    }
    dual -= Objective{sink_potential[j]} * problem.demand[j];
  }
  if (primal != claimed_objective) {
    return failed("claimed objective " + to_string(claimed_objective) + " but the flow costs " + to_string(primal));
  }
  if (primal != dual) {
    return failed("primal " + to_string(primal) + " differs from dual " + to_string(dual));
  }
  CertificateReport report;
  report.optimal = true;
  report.primal = primal;
  report.dual = dual;
  return report;
}

}  // namespace ewx
