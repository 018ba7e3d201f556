#include "delivery/status_policy.h"

namespace sluice {

const char* verdictName(Verdict v) {
  switch (v) {
    case Verdict::kAccepted:
      return "accepted";
    case Verdict::kRetryable:
      return "retryable";
    case Verdict::kPermanent:
      return "permanent";
  }
  return "unknown";
}

Verdict StatusPolicy::classify(const HttpResponse& r) const {
  if (r.failure != TransportFailure::kNone) return Verdict::kRetryable;
  const int status = static_cast<int>(r.status);
  // Explicit configuration wins over the defaults, success first.
  if (success.contains(status)) return Verdict::kAccepted;
  if (permanent.contains(status)) return Verdict::kPermanent;
  if (retryable.contains(status)) return Verdict::kRetryable;
  if (status >= 200 && status < 300) return Verdict::kAccepted;
  if (status >= 500 && status < 600) return Verdict::kRetryable;
  switch (status) {
    case 408:  // Request Timeout
    case 409:  // Conflict: the key is still being processed (httpapi idempotency draft)
    case 425:  // Too Early
    case 429:  // Too Many Requests
      return Verdict::kRetryable;
    default:
      return Verdict::kPermanent;
  }
}

}  // namespace sluice
