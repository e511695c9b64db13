// Subprocess: a child process for tests — argv and extra environment in, stdout through a pipe
// read line by line with a deadline, stderr to a file, exit awaited with a deadline (pidfd +
// poll, no sleeping). The destructor kills (SIGKILL) and reaps a child that is still running, so
// a failing test never leaves a process behind.
//
// Not thread-safe: one test thread owns a Subprocess.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace eg::testing {

class Subprocess {
 public:
  // Pass as `stderr_path` to read stderr with ReadErrorLine() instead of writing it to a file.
  static constexpr const char* kPipe = "|";

  // Starts argv[0] (a path) with the parent's environment plus `env`; stderr goes to
  // `stderr_path` ("" = /dev/null, kPipe = a pipe).
  Subprocess(std::vector<std::string> argv, std::vector<std::pair<std::string, std::string>> env,
             std::string stderr_path = "");
  ~Subprocess();
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  bool started() const { return pid_ > 0; }
  int pid() const { return pid_; }

  // The next stdout line (without '\n'), or nullopt at EOF or when the deadline passes.
  std::optional<std::string> ReadLine(std::chrono::steady_clock::duration timeout);
  // The next stderr line (kPipe only), as ReadLine.
  std::optional<std::string> ReadErrorLine(std::chrono::steady_clock::duration timeout);
  // Everything left on stdout until EOF or the deadline.
  std::string ReadAll(std::chrono::steady_clock::duration timeout);

  void Signal(int sig);
  // The exit status (WEXITSTATUS, or 128+signal), or nullopt if still running at the deadline.
  std::optional<int> Wait(std::chrono::steady_clock::duration timeout);

 private:
  struct Stream {
    int fd = -1;
    bool eof = false;
    std::string buffer;
  };
  // Reads more of `stream` into its buffer; false at EOF or deadline.
  static bool Fill(Stream& stream, std::chrono::steady_clock::time_point deadline);
  static std::optional<std::string> ReadLineFrom(Stream& stream,
                                                 std::chrono::steady_clock::duration timeout);

  int pid_ = -1;
  int pidfd_ = -1;
  Stream out_;
  Stream err_;
  std::optional<int> status_;
};

// Runs a program to completion (deadline 60 s); returns its exit status and stdout, with stderr
// appended to stdout when `merge_stderr`.
struct RunResult {
  int status = -1;
  std::string output;
};
RunResult RunProgram(const std::vector<std::string>& argv,
                     const std::vector<std::pair<std::string, std::string>>& env = {},
                     bool merge_stderr = true);

// A fresh temporary directory, removed (recursively) by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string ReadTextFile(const std::string& path);
void WriteTextFile(const std::string& path, const std::string& text);

}  // namespace eg::testing
