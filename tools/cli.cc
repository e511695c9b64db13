#include <ostream>

#include "tools/commands.h"

namespace eg::tools {

namespace {

constexpr char kVersion[] = EG_VERSION;

const char kCommonHelp[] = R"(
Common options:
  --config FILE   the daemon's configuration (else $ENROLLGATE_CONFIG, else config/embedded.json
                  of the repository the command is run from or installed in)
  --help          this text

Exit codes: 0 ok; 1 the operation failed or was denied; 2 usage or configuration error.
)";

std::vector<OptionSpec> WithCommon(std::vector<OptionSpec> options, bool json) {
  options.push_back({"config", true});
  options.push_back({"help", false});
  if (json) options.push_back({"json", false});
  return options;
}

std::vector<CommandSpec> MakeCommands() {
  std::vector<CommandSpec> c;
  c.push_back({"eab create", "make an ACME invitation (EAB key id + HMAC key) for an account",
               R"(Usage: enrollgate eab create --account NAME [--email ADDR] [--expires DURATION]

Creates an External Account Binding credential for enrollment account NAME and prints the
invitation: the ACME directory URL, the key id, the HMAC key (shown only now), when it expires, and
a certbot command line that uses it. The account must serve ACME and require EAB
(accounts[].protocols contains "acme", accounts[].acme.eab_required is true).

  --account NAME       the enrollment account (accounts[].name)
  --email ADDR         whom the invitation is for; recorded, and put in the certbot line
  --expires DURATION   how long the credential may be used to register: 60s, 90m, 12h, 30d, 2w,
                       or "never" (default 30d). Once bound to an ACME account it stays bound.

The directory URL uses server.tls_names[0] (else server.listen_host) and server.port, or
$ENROLLGATE_PORT as the daemon does. In embedded mode the certbot line sets REQUESTS_CA_BUNDLE
to server.ca_bundle_out, the CA bundle enrollgated writes for its own certificate.
)",
               WithCommon({{"account"}, {"email"}, {"expires"}}, false), &RunEabCreate});
  c.push_back({"eab list", "list EAB credentials",
               R"(Usage: enrollgate eab list [--account NAME] [--json]

Lists External Account Binding credentials: key id, account, email, created, expires, the ACME
account it is bound to, revoked. HMAC keys are never shown again.

  --account NAME   only this enrollment account's credentials
  --json           a JSON array, one object per credential
)",
               WithCommon({{"account"}}, true), &RunEabList, false, true});
  c.push_back({"eab revoke", "revoke an EAB credential",
               R"(Usage: enrollgate eab revoke KEYID

Revokes the credential: it can no longer bind a new ACME account. An ACME account already bound
with it stays bound (deactivate that account to shut it out). Revoking twice is not an error;
an unknown key id exits 1.
)",
               WithCommon({}, false), &RunEabRevoke});
  c.push_back({"est password", "make a new password for an EST Basic user",
               R"(Usage: enrollgate est password --account NAME --user USER [--iterations N]

Generates a strong random password (32 base64url characters from the system's CSPRNG) for HTTP
Basic user USER of EST account NAME, writes its PBKDF2-HMAC-SHA256 hash to the user's
accounts[].est.basic_users[].password_hash_file (atomically, mode 0600, directories created) and
prints the password on stdout, alone on one line; it is not stored anywhere else. A previous
password of the user stops working once enrollgated reads the new hash (at its next start, or
reload with SIGHUP). The hash file need not exist yet.

  --account NAME     the enrollment account (it must serve EST)
  --user USER        a user listed in its est.basic_users with a password_hash_file (a user whose
                     password_hash is written in the configuration is refused: the command would
                     have nowhere to put the new one)
  --iterations N     PBKDF2 iterations, 1000..100000000 (default 600000)
)",
               WithCommon({{"account"}, {"user"}, {"iterations"}}, false), &RunEstPassword});
  c.push_back({"mapping explain", "show what a request would get, or exactly why it is denied",
               R"(Usage: enrollgate mapping explain (--account NAME | --est-label LABEL)
                                (--identifier NAME ... | --csr FILE | both)
                                [--profile NAME] [--protocol acme|est] [--json]

Runs the daemon's decision (mapping::Decide) for a request and prints the outcome: the account,
the SCM profile (id and name), term, auto-renew (on/off, days before expiration), custom fields,
external requesters, comments, organization/department, certificate type, the names the
certificate will carry and the key types allowed. Or the denial: reason, the rule (config key
path or SCM rule) that decided it, the identifier concerned and a message. Nothing is written.

  --account NAME      the enrollment account (ACME clients reach it through their EAB binding)
  --est-label LABEL   the account EST clients reach at /.well-known/est/LABEL/
  --identifier NAME   a name to certify, as an ACME order would list it; repeatable. DNS name,
                      IP address or email address (prefix dns:, ip: or email: to force the type)
  --csr FILE          a PKCS#10 CSR (PEM or DER): its key type is checked, and with no
                      --identifier its CN and SANs are the names
  --profile NAME      a profile of the account (default: the account's default profile)
  --protocol P        acme or est (default: est with --est-label, else the account's first)
  --json              the decision as a JSON object

The decision is checked against SCM's profile listing as enrollgated last published it in the
store. Without one (enrollgated never started with this store), the configuration alone decides
and the output says that SCM's listing was not checked.

Exit codes: 0 allowed; 1 denied; 2 usage or configuration error.
)",
               WithCommon({{"account"},
                           {"est-label"},
                           {"identifier", true, true},
                           {"csr"},
                           {"profile"},
                           {"protocol"}},
                          true),
               &RunMappingExplain, false, true});
  c.push_back({"config check", "load the configuration and check it against SCM's listing",
               R"(Usage: enrollgate config check

Loads the configuration as enrollgated does (secret files included), prints its warnings and, if
enrollgated has published SCM's profile listing in the store, checks every enrollment account
against it (terms, key types, mandatory custom fields). Each problem names its key path.

Exit codes: 0 OK (warnings allowed); 1 problems found (the configuration does not load, or SCM
would refuse it); 2 usage error or no configuration file found.
)",
               WithCommon({}, false), &RunConfigCheck, true});
  c.push_back({"certs list", "list certificates, e.g. those expiring soon",
               R"(Usage: enrollgate certs list [--expiring DURATION] [--account NAME] [--json]

Lists the certificates enrollgated collected: serial (hex), common name, account, not-after,
days left, revoked. Soonest expiry first.

  --expiring DURATION   only unrevoked certificates whose not-after is within DURATION from now
                        (already expired ones included), e.g. 30d
  --account NAME        only this enrollment account's certificates
  --json                a JSON array
)",
               WithCommon({{"expiring"}, {"account"}}, true), &RunCertsList, false, true});
  c.push_back({"enrollments list", "list enrollments, e.g. those still pending",
               R"(Usage: enrollgate enrollments list [--pending] [--account NAME] [--json]

Lists enrollments (one SCM request each): id, account, profile, state, SCM id, created, protocol,
failure. Newest first. States: intent (recorded, not yet sent to SCM), submitted (SCM has it:
processing or awaiting approval), issued, failed, revoked.

  --pending        only intent and submitted
  --account NAME   only this enrollment account's enrollments
  --json           a JSON array
)",
               WithCommon({{"pending", false}, {"account"}}, true), &RunEnrollmentsList, false,
               true});
  c.push_back(
      {"enroll", "enroll a CSR on behalf of a device without ACME or EST",
       R"(Usage: enrollgate enroll --account NAME --csr FILE [--profile NAME]
                        [--protocol acme|est] [--wait DURATION] [--out FILE]

Decides the request as `mapping explain` does (denied: the reason, exit 1, nothing written), then
records it in the store as an intent (protocol "admin", requester $SUDO_USER or $USER). A running
enrollgated sends it to SCM and collects the certificate; this command does not talk to SCM.
Prints the enrollment id. The same CSR for the same account and profile maps to the same
enrollment until that one fails, so running the command twice does not enroll twice.

  --account NAME      the enrollment account
  --csr FILE          the device's PKCS#10 CSR (PEM or DER)
  --profile NAME      a profile of the account (default: its default profile)
  --protocol P        whose rules apply: acme or est (default: the account's first protocol)
  --wait DURATION     wait up to DURATION (e.g. 60s, 10m) for enrollgated to collect it
  --out FILE          with --wait: write the PEM chain (leaf first) here; else it goes to
                      stdout and the messages to stderr

Exit codes: 0 recorded (issued, with --wait); 1 denied or failed (SCM refused or declined);
2 usage or configuration error; 3 still pending when --wait ended (the enrollment goes on:
`enrollgate enrollments list --pending`).
)",
       WithCommon({{"account"}, {"csr"}, {"profile"}, {"protocol"}, {"wait"}, {"out"}}, false),
       &RunEnroll});
  return c;
}

// Splits the leading options (before the command words) from the rest.
struct CommandLine {
  const CommandSpec* command = nullptr;
  std::vector<std::string> rest;
  std::string leading_config;
  bool help = false;
  bool version = false;
  std::string unknown;  // the words that name no command
};

CommandLine Split(const std::vector<std::string>& args) {
  CommandLine line;
  size_t i = 0;
  for (; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      line.help = true;
    } else if (a == "--version") {
      line.version = true;
    } else if (a == "--config" && i + 1 < args.size()) {
      line.leading_config = args[++i];
    } else if (a.rfind("--config=", 0) == 0) {
      line.leading_config = a.substr(9);
    } else {
      break;
    }
  }
  if (i >= args.size()) return line;
  for (const CommandSpec& spec : Commands()) {
    // "eab create" is two words, "enroll" one.
    std::vector<std::string> words;
    size_t start = 0;
    while (start <= spec.name.size()) {
      size_t space = spec.name.find(' ', start);
      if (space == std::string::npos) space = spec.name.size();
      words.push_back(spec.name.substr(start, space - start));
      start = space + 1;
    }
    if (i + words.size() > args.size()) continue;
    bool match = true;
    for (size_t k = 0; k < words.size(); ++k) match = match && args[i + k] == words[k];
    if (!match) continue;
    line.command = &spec;
    line.rest.assign(args.begin() + static_cast<std::ptrdiff_t>(i + words.size()), args.end());
    return line;
  }
  for (size_t k = i; k < args.size() && k < i + 2; ++k) {
    if (args[k].rfind("-", 0) == 0) break;
    line.unknown += (line.unknown.empty() ? "" : " ") + args[k];
  }
  if (line.unknown.empty()) line.unknown = args[i];
  return line;
}

}  // namespace

const std::vector<CommandSpec>& Commands() {
  static const std::vector<CommandSpec> commands = MakeCommands();
  return commands;
}

std::string OverviewHelp() {
  std::string text =
      "Usage: enrollgate [--config FILE] COMMAND [options]\n"
      "\n"
      "The administrator's command for enrollgated: ACME invitations, EST passwords, the\n"
      "mapping's decisions, inventory, and enrollments on behalf of devices. It reads the\n"
      "daemon's configuration and works on the daemon's store; it never calls SCM.\n"
      "\n"
      "Commands:\n";
  for (const CommandSpec& c : Commands()) {
    std::string name = "  " + c.name;
    name.resize(22, ' ');
    text += name + c.synopsis + "\n";
  }
  text +=
      "\n"
      "`enrollgate COMMAND --help` describes a command. The list and explain commands take\n"
      "--json for scripts.\n";
  text += kCommonHelp;
  text +=
      "`enroll --wait` also exits 3 when the enrollment is still pending.\n"
      "\n"
      "Environment: ENROLLGATE_CONFIG (the configuration file), ENROLLGATE_PORT (overrides\n"
      "server.port, as for enrollgated).\n";
  return text;
}

int Main(const std::vector<std::string>& args, const Environment& env) {
  std::ostream& out = *env.out;
  std::ostream& err = *env.err;
  CommandLine line = Split(args);
  if (line.version && line.command == nullptr) {
    out << "enrollgate " << kVersion << "\n";
    return kExitOk;
  }
  if (line.command == nullptr) {
    if (line.help || args.empty()) {
      (line.help ? out : err) << OverviewHelp();
      return line.help ? kExitOk : kExitUsage;
    }
    err << "enrollgate: unknown command \"" << line.unknown
        << "\" (enrollgate --help lists the commands)\n";
    return kExitUsage;
  }
  const CommandSpec& command = *line.command;
  Result<ParsedArgs> parsed = ParseArgs(line.rest, command.options);
  if (!parsed.ok()) {
    err << "enrollgate " << command.name << ": " << parsed.error().message() << " (enrollgate "
        << command.name << " --help)\n";
    return kExitUsage;
  }
  if (line.help || parsed->Has("help")) {
    out << command.help << kCommonHelp;
    return kExitOk;
  }
  Result<std::string> path = ResolveConfigPath(parsed->Get("config", line.leading_config), env);
  if (!path.ok()) {
    err << "enrollgate: " << path.error().message() << "\n";
    return kExitUsage;
  }
  Result<config::Config> config = LoadToolConfig(*path, env.getenv, command.read_secrets);
  if (!config.ok()) {
    if (command.run == &RunConfigCheck) {
      out << "configuration " << *path << ": NOT OK\n" << config.error().message() << "\n";
      return kExitFailed;
    }
    err << "enrollgate: configuration does not load: " << config.error().message() << "\n";
    return kExitUsage;
  }
  Session session(env, *path, std::move(config).value());
  return command.run(session, *parsed);
}

}  // namespace eg::tools
