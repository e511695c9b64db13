// The Store contract: tests every Store implementation must pass. A backend instantiates
// StoreContractTest with a factory (see sqlite_store_test.cc); the tests speak only the port.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>

#include "core/ports/est_store.h"
#include "core/ports/store.h"

namespace eg::testing {

struct StoreFactory {
  std::string name;
  // Opens the store named `tag` inside the empty directory `dir` (a backend that is not
  // file-based uses them to name a database); a second call with the same arguments opens the
  // same database again, as a second daemon would.
  std::function<std::unique_ptr<Store>(const std::string& dir, const std::string& tag)> open;
  // The same store's EstStore side (the backend's one object implements both ports).
  std::function<EstStore*(Store& store)> est;
};

// Gives each test its own empty directory, removed afterwards.
class StoreContractTest : public ::testing::TestWithParam<StoreFactory> {
 protected:
  void SetUp() override;
  void TearDown() override;
  std::unique_ptr<Store> Open(const std::string& tag) { return GetParam().open(dir_, tag); }
  EstStore& Est(Store& store) { return *GetParam().est(store); }

 private:
  std::string dir_;
};

}  // namespace eg::testing
