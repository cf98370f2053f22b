// The loop of an output stage whose output is an sdk::BatchOutput (the site bridge): batches go
// out whole and stay in flight, up to the output's window, until the output reports them
// delivered; only then are they acked upstream. In its own unit so ConsumerStage stays short.
#pragma once

#include <mutex>

#include "bus/connection.hpp"
#include "bus/pull_consumer.hpp"
#include "runtime/flow_shared.hpp"

namespace weir::runtime {

// Runs until the stage stops; what is still in flight then stays unacked (redelivered later).
void run_forwarding(FlowShared& shared, const StageStop& stop, const graph::Stage& stage,
                    bus::PullConsumer& consumer, bus::JetStream& js, bus::AsyncPublisher& pub,
                    std::mutex& serial, std::string source, bus::InOrder& in_order);

}  // namespace weir::runtime
