// Turns a validated flow into stages and the JetStream names they use. Pure: no I/O, so the
// plan is unit-tested and the runtime only executes it.
//
// Durable hops sit after each input, before each output and around each stateful processor;
// consecutive stateless processors are fused into one stage (DESIGN §4). A crash replays a stage
// from its durable input, so fusion keeps the delivery guarantee.
#pragma once

#include <string>
#include <vector>

#include "flow/flow.hpp"

namespace weir::graph {

// Deterministic names: several engines running the same flow share them (never per process).
std::string stream_name(const std::string& flow);      // WEIR_<FLOW>
std::string stream_subjects(const std::string& flow);  // weir.<flow>.>
std::string port_subject(const std::string& flow, const std::string& component,
                         const std::string& port);  // weir.<flow>.<component>.<port>
std::string durable_name(const std::string& consumer, const std::string& upstream,
                         const std::string& port);         // <consumer>__<upstream>__<port>
std::string dead_letter_stream(const std::string& flow);   // WEIR_DLQ_<FLOW>
std::string dead_letter_subject(const std::string& flow);  // weir_dlq.<flow>
// Where each publisher of the flow checkpoints the positions it stored (runtime/positions.hpp).
std::string positions_stream(const std::string& flow);    // WEIR_POS_<FLOW>
std::string positions_subjects(const std::string& flow);  // weir_pos.<flow>.>
std::string positions_subject(const std::string& flow,
                              const std::string& publisher);  // weir_pos.<flow>.<publisher>

enum class StageKind { input, processors, output };

// Where the records one member emits on one port go.
struct PortRoute {
  std::vector<std::size_t> local;  // members of the same stage (indices into Stage::members)
  bool publish = false;            // consumed outside the stage: published on `subject`
  bool dead_letter = false;        // an error port nobody consumes: to the flow's dead letters
  std::string subject;
  bool operator==(const PortRoute&) const = default;
};

struct Member {
  std::size_t component = 0;     // index into Flow::components
  std::vector<PortRoute> ports;  // indexed like the component's outputs (error last)
  bool operator==(const Member&) const = default;
};

// One durable consumer of a stage: the stage's root reads one upstream port through it.
struct Upstream {
  std::string durable;
  std::string subject;
  std::string component;  // upstream component id
  std::string port;
  bool operator==(const Upstream&) const = default;
};

struct Stage {
  StageKind kind = StageKind::processors;
  std::string id;               // the root component's id
  std::vector<Member> members;  // members[0] is the root; a member's parent comes before it
  std::vector<Upstream> upstreams;
  bool operator==(const Stage&) const = default;
};

struct Plan {
  std::vector<Stage> stages;
  std::vector<std::string> durables() const;  // every consumer the flow's stream should have
  // Same stages, members, routes and consumers: a flow's plan is unchanged by a reload that
  // only changes components' config.
  bool operator==(const Plan&) const = default;
};

Plan make_plan(const flow::Flow& flow);

}  // namespace weir::graph
