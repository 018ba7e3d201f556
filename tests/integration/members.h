#pragma once

// Starting and stopping sluice members inside a gtest test.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>

#include "pipeline.h"

namespace sluice::testing {

// SIGTERM, then expects a clean exit (status 0) within 30 s.
inline void stopGracefully(Pipeline& pl, std::size_t i) {
  pl.sluice(i).signal(SIGTERM);
  const auto status = pl.sluice(i).wait(std::chrono::seconds(30));
  ASSERT_TRUE(status.has_value()) << "sluice " << i << " did not exit after SIGTERM";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << pl.sluiceLog(i);
}

}  // namespace sluice::testing
