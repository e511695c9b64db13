// enrollgate-scm-emulator: the SCM emulator as its own program, and the administrator's
// approve/decline command on its state directory.
#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>

#include "core/log.h"
#include "scm/emulator/emulator.h"

namespace {

constexpr const char* kUsage =
    "usage: enrollgate-scm-emulator --listen HOST:PORT --state DIR [--config FILE]\n"
    "       enrollgate-scm-emulator approve|decline --state DIR ID [--message TEXT]\n"
    "\n"
    "Serves Sectigo Certificate Manager's REST API over HTTPS with a local CA whose certificate\n"
    "is written to DIR/ca.pem. PORT 0 picks a free port; the line 'listening on "
    "https://HOST:PORT'\n"
    "is printed once connections are accepted. Without --config the password login is\n"
    "admin / admin / customerUri demo. SIGTERM or SIGINT stops it (exit 0).\n"
    "approve/decline act as an SCM administrator on enrollment ID in DIR.\n";

int Decide(int argc, char** argv, bool approve) {
  std::string state, id,
      message = approve ? "approved by administrator" : "declined by administrator";
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--state" && i + 1 < argc) {
      state = argv[++i];
    } else if (a == "--message" && i + 1 < argc) {
      message = argv[++i];
    } else if (!a.empty() && a[0] != '-' && id.empty()) {
      id = a;
    } else {
      std::cerr << kUsage;
      return 2;
    }
  }
  if (state.empty() || id.empty()) {
    std::cerr << kUsage;
    return 2;
  }
  auto r = approve ? eg::scm_emulator::ApproveInState(state, id, message)
                   : eg::scm_emulator::DeclineInState(state, id, message);
  if (!r.ok()) {
    std::cerr << (approve ? "approve" : "decline") << " " << id << ": " << r.error().ToString()
              << "\n";
    return 1;
  }
  std::cout << (approve ? "approved " : "declined ") << id << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && (std::strcmp(argv[1], "approve") == 0 || std::strcmp(argv[1], "decline") == 0)) {
    return Decide(argc, argv, std::strcmp(argv[1], "approve") == 0);
  }
  eg::scm_emulator::Options options;
  std::string listen;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::cout << kUsage;
      return 0;
    } else if (a == "--listen" && i + 1 < argc) {
      listen = argv[++i];
    } else if (a == "--state" && i + 1 < argc) {
      options.state_dir = argv[++i];
    } else if (a == "--config" && i + 1 < argc) {
      options.config_file = argv[++i];
    } else {
      std::cerr << "unknown argument: " << a << "\n" << kUsage;
      return 2;
    }
  }
  const size_t colon = listen.rfind(':');
  if (listen.empty() || options.state_dir.empty() || colon == std::string::npos) {
    std::cerr << kUsage;
    return 2;
  }
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  const std::string port_text = listen.substr(colon + 1);
  char* end = nullptr;
  const long port = std::strtol(port_text.c_str(), &end, 10);
  if (port_text.empty() || *end != '\0' || port < 0 || port > 65535) {
    std::cerr << "bad port in --listen: " << listen << "\n";
    return 2;
  }
  options.listen_host = host;
  options.port = static_cast<uint16_t>(port);

  // Block the stop signals before any thread starts, then wait for one.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  eg::Logger logger(eg::LogLevel::kInfo, stderr);
  auto emulator = eg::scm_emulator::Emulator::Start(options, logger);
  if (!emulator.ok()) {
    std::cerr << "enrollgate-scm-emulator: " << emulator.error().ToString() << "\n";
    return 1;
  }
  const bool v6 = host.find(':') != std::string::npos;
  std::cout << "listening on https://" << (v6 ? "[" + host + "]" : host) << ":"
            << (*emulator)->port() << std::endl;
  int sig = 0;
  sigwait(&set, &sig);
  logger.Info("scm emulator stopping", {{"signal", sig}});
  (*emulator)->Stop();
  return 0;
}
