// Failpoints: named places where a test build can make the process die on the spot, to prove
// that a crash there loses nothing and duplicates nothing (the SIGKILL tests in tests/daemon).
//
//   EG_FAILPOINT("issuance.after_scm_enroll");
//
// Compiled in only when the build defines EG_FAILPOINTS (CMake option EG_FAILPOINTS, on with the
// tests; release builds from scripts/run have none). Armed by the environment variable
// ENROLLGATE_FAILPOINT=<name>: the first time that point is reached the process sends itself
// SIGKILL — no destructors, no flush, exactly like kill -9 from outside at that instant.
// Thread-safe.
#pragma once

#include <string_view>

namespace eg::failpoint {

// Dies by SIGKILL if ENROLLGATE_FAILPOINT names this point; otherwise returns at once.
void Hit(std::string_view name);

}  // namespace eg::failpoint

#ifdef EG_FAILPOINTS
#define EG_FAILPOINT(name) ::eg::failpoint::Hit(name)
#else
#define EG_FAILPOINT(name) ((void)0)
#endif
