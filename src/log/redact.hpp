// Secrets never reach a log line: helpers for values that may carry one.
#pragma once

#include <string>
#include <string_view>

namespace weir::log {

// A URL (or a comma-separated list of them, as nats.url allows) with the password of its
// user info masked: "nats://bob:s3cret@hub:4222" -> "nats://bob:***@hub:4222". User info without a
// colon is a token in NATS URLs and is masked whole: "nats://t0k3n@hub" -> "nats://***@hub".
std::string redact_url(std::string_view url);

// The same for every "scheme://" URL inside free text (an error message that quotes a URL).
// Returns false, leaving `out` alone, when there is nothing to mask: the common case costs one
// scan and no allocation. The loggers setup_logging() installs apply it to every message.
bool redact_urls(std::string_view text, std::string& out);

}  // namespace weir::log
