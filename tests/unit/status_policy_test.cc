#include "delivery/status_policy.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

HttpResponse status(long s) {
  HttpResponse r;
  r.status = s;
  return r;
}

TEST(StatusPolicy, DefaultsFollowTheDesignTable) {
  const StatusPolicy p;
  for (long s : {200, 201, 202, 204, 299}) EXPECT_EQ(p.classify(status(s)), Verdict::kAccepted) << s;
  for (long s : {408, 409, 425, 429, 500, 502, 503, 504, 599}) {
    EXPECT_EQ(p.classify(status(s)), Verdict::kRetryable) << s;
  }
  for (long s : {301, 302, 400, 401, 403, 404, 405, 410, 413, 415, 422}) {
    EXPECT_EQ(p.classify(status(s)), Verdict::kPermanent) << s;
  }
}

TEST(StatusPolicy, TransportFailuresAreRetryable) {
  const StatusPolicy p;
  for (auto f : {TransportFailure::kConnect, TransportFailure::kTimeout, TransportFailure::kOther}) {
    HttpResponse r;
    r.failure = f;
    EXPECT_EQ(p.classify(r), Verdict::kRetryable);
  }
}

TEST(StatusPolicy, ConfiguredClassesOverrideTheDefaults) {
  StatusPolicy p;
  p.success = {409};    // this sink answers a duplicate key with 409
  p.retryable = {404};  // a sink that 404s while it deploys
  p.permanent = {501};
  EXPECT_EQ(p.classify(status(409)), Verdict::kAccepted);
  EXPECT_EQ(p.classify(status(404)), Verdict::kRetryable);
  EXPECT_EQ(p.classify(status(501)), Verdict::kPermanent);
  EXPECT_EQ(p.classify(status(503)), Verdict::kRetryable);
}

}  // namespace
}  // namespace sluice
