#pragma once

#include "config/config.h"
#include "delivery/http_transport.h"

namespace sluice {

enum class Verdict {
  kAccepted,   // the sink has the event
  kRetryable,  // try again later (backoff, Retry-After)
  kPermanent,  // trying again cannot help: the event goes to the dead-letter topic
};

const char* verdictName(Verdict v);

// Decides what a sink's answer means. Defaults follow DESIGN.md: 2xx accepted; 408, 409 (the
// key is still being processed), 425, 429, 5xx and every transport failure retryable; every
// other status permanent (3xx too: curl does not follow redirects, so a redirect is a
// misconfigured URL, and retrying it forever would hide that). Per sink, statuses can be
// moved between the classes (StatusClasses, from the config).
struct StatusPolicy : StatusClasses {
  StatusPolicy() = default;
  explicit StatusPolicy(StatusClasses classes) : StatusClasses(std::move(classes)) {}

  Verdict classify(const HttpResponse& response) const;
};

}  // namespace sluice
