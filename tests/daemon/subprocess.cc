#include "tests/daemon/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

extern char** environ;

namespace eg::testing {
namespace {

int PollTimeoutMs(std::chrono::steady_clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

}  // namespace

Subprocess::Subprocess(std::vector<std::string> argv,
                       std::vector<std::pair<std::string, std::string>> env,
                       std::string stderr_path) {
  int out[2];
  int err[2] = {-1, -1};
  const bool pipe_err = stderr_path == kPipe;
  if (pipe2(out, O_CLOEXEC) != 0) return;
  if (pipe_err && pipe2(err, O_CLOEXEC) != 0) {
    close(out[0]);
    close(out[1]);
    return;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  if (pipe_err) {
    posix_spawn_file_actions_adddup2(&actions, err[1], STDERR_FILENO);
  } else {
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO,
                                     stderr_path.empty() ? "/dev/null" : stderr_path.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
  }
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);

  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry(*e);
    bool overridden = false;
    for (const auto& [k, v] : env) overridden = overridden || entry.rfind(k + "=", 0) == 0;
    if (!overridden) env_strings.push_back(entry);
  }
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (std::string& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<char*> args;
  for (std::string& s : argv) args.push_back(s.data());
  args.push_back(nullptr);

  // The child starts with no blocked signals whatever the test thread has blocked.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);

  pid_t pid = -1;
  int rc = posix_spawn(&pid, args[0], &actions, &attr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  close(out[1]);
  if (pipe_err) close(err[1]);
  if (rc != 0) {
    close(out[0]);
    if (pipe_err) close(err[0]);
    return;
  }
  pid_ = pid;
  out_.fd = out[0];
  err_.fd = err[0];
  pidfd_ = static_cast<int>(syscall(SYS_pidfd_open, pid_, 0));
}

Subprocess::~Subprocess() {
  if (pid_ > 0 && !status_.has_value()) {
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
  if (pidfd_ >= 0) close(pidfd_);
  if (out_.fd >= 0) close(out_.fd);
  if (err_.fd >= 0) close(err_.fd);
}

bool Subprocess::Fill(Stream& stream, std::chrono::steady_clock::time_point deadline) {
  if (stream.eof || stream.fd < 0) return false;
  pollfd p{stream.fd, POLLIN, 0};
  int ready = poll(&p, 1, PollTimeoutMs(deadline));
  if (ready <= 0) return false;
  char buf[4096];
  ssize_t n = read(stream.fd, buf, sizeof buf);
  if (n <= 0) {
    stream.eof = true;
    return false;
  }
  stream.buffer.append(buf, static_cast<size_t>(n));
  return true;
}

std::optional<std::string> Subprocess::ReadLineFrom(Stream& stream,
                                                    std::chrono::steady_clock::duration timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    size_t nl = stream.buffer.find('\n');
    if (nl != std::string::npos) {
      std::string line = stream.buffer.substr(0, nl);
      stream.buffer.erase(0, nl + 1);
      return line;
    }
    if (!Fill(stream, deadline)) return std::nullopt;
  }
}

std::optional<std::string> Subprocess::ReadLine(std::chrono::steady_clock::duration timeout) {
  return ReadLineFrom(out_, timeout);
}

std::optional<std::string> Subprocess::ReadErrorLine(std::chrono::steady_clock::duration timeout) {
  return ReadLineFrom(err_, timeout);
}

std::string Subprocess::ReadAll(std::chrono::steady_clock::duration timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (Fill(out_, deadline)) {
  }
  std::string all = std::move(out_.buffer);
  out_.buffer.clear();
  return all;
}

void Subprocess::Signal(int sig) {
  if (pid_ > 0 && !status_.has_value()) kill(pid_, sig);
}

std::optional<int> Subprocess::Wait(std::chrono::steady_clock::duration timeout) {
  if (status_.has_value()) return status_;
  if (pid_ <= 0) return std::nullopt;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    int status = 0;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      return status_;
    }
    if (pidfd_ < 0) return std::nullopt;
    pollfd p{pidfd_, POLLIN, 0};
    if (poll(&p, 1, PollTimeoutMs(deadline)) <= 0) {
      // Timed out: one last non-blocking look.
      r = waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      return status_;
    }
  }
}

RunResult RunProgram(const std::vector<std::string>& argv,
                     const std::vector<std::pair<std::string, std::string>>& env,
                     bool merge_stderr) {
  TempDir dir;
  std::string err = dir.path() + "/stderr";
  Subprocess p(argv, env, err);
  RunResult result;
  result.output = p.ReadAll(std::chrono::seconds(60));
  result.status = p.Wait(std::chrono::seconds(60)).value_or(-1);
  if (merge_stderr) result.output += ReadTextFile(err);
  return result;
}

TempDir::TempDir() {
  std::string templ = (std::filesystem::temp_directory_path() / "eg-daemon-test-XXXXXX").string();
  char* made = mkdtemp(templ.data());
  path_ = made != nullptr ? made : "";
}

TempDir::~TempDir() {
  if (!path_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
}

std::string ReadTextFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void WriteTextFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

}  // namespace eg::testing
