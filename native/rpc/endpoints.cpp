#include "endpoints.hpp"

#include <cctype>
#include <cerrno>
#include <cstring>
#include <memory>
#include <stdexcept>

#include "failures.hpp"
#include "ggml-rpc.h"

#ifdef _WIN32
#define WIN32_LEAN_AND_MEAN
#include <winsock2.h>
#include <ws2tcpip.h>
#else
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#endif

namespace layerlens {
namespace {

constexpr const char* kScheme = "rpc://";
constexpr size_t kMaxServers = GGML_RPC_MAX_SERVERS;
constexpr int kProbeTimeoutMs = 3000;

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// A host name or IPv4 address as ggml's client resolves it (gethostbyname: no IPv6 literals).
bool validHost(const std::string& host) {
  if (host.empty() || host.size() > 253) return false;
  for (unsigned char c : host) {
    if (!std::isalnum(c) && c != '-' && c != '.' && c != '_') return false;
  }
  return true;
}

std::string endpointOf(const std::string& item, const std::string& device) {
  const std::string bad = "device '" + device + "': ";
  if (item.rfind(kScheme, 0) != 0)
    throw std::invalid_argument(bad + "'" + item +
                                "' is not rpc://host:port (several servers: rpc://a:50052,rpc://b:50052)");
  const std::string rest = item.substr(std::strlen(kScheme));
  const size_t colon = rest.rfind(':');
  if (colon == std::string::npos) throw std::invalid_argument(bad + "'" + item + "' has no port (rpc://host:port)");
  const std::string host = rest.substr(0, colon), port = rest.substr(colon + 1);
  if (!validHost(host)) throw std::invalid_argument(bad + "'" + item + "' has no valid host name or IPv4 address");
  long number = 0;
  bool digits = !port.empty() && port.size() <= 5;
  for (char c : port) digits = digits && c >= '0' && c <= '9';
  if (digits) number = std::stol(port);
  if (!digits || number < 1 || number > 65535)
    throw std::invalid_argument(bad + "'" + item + "': the port must be a number in 1..65535");
  return host + ":" + std::to_string(number);
}

#ifdef _WIN32
using Socket = SOCKET;
void closeSocket(Socket s) { closesocket(s); }
bool validSocket(Socket s) { return s != INVALID_SOCKET; }
#else
using Socket = int;
void closeSocket(Socket s) { ::close(s); }
bool validSocket(Socket s) { return s >= 0; }
#endif

struct SocketCloser {
  Socket s;
  ~SocketCloser() {
    if (validSocket(s)) closeSocket(s);
  }
};

#ifdef _WIN32
constexpr int kRefused = WSAECONNREFUSED;
#else
constexpr int kRefused = ECONNREFUSED;
#endif

// Why a non-blocking connect to one address failed ("" when it opened); *refused says whether the
// address actively refused it (nothing listens there).
std::string tryConnect(const addrinfo* ai, int timeoutMs, bool* refused) {
  *refused = false;
  SocketCloser sock{::socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol)};
  if (!validSocket(sock.s)) return "could not create a socket";
#ifdef _WIN32
  u_long nonBlocking = 1;
  ioctlsocket(sock.s, FIONBIO, &nonBlocking);
  if (::connect(sock.s, ai->ai_addr, int(ai->ai_addrlen)) == 0) return "";
  if (WSAGetLastError() != WSAEWOULDBLOCK) {
    *refused = WSAGetLastError() == kRefused;
    return "connection failed";
  }
  WSAPOLLFD pfd{sock.s, POLLOUT, 0};
  const int ready = WSAPoll(&pfd, 1, timeoutMs);
#else
  ::fcntl(sock.s, F_SETFL, ::fcntl(sock.s, F_GETFL, 0) | O_NONBLOCK);
  if (::connect(sock.s, ai->ai_addr, ai->ai_addrlen) == 0) return "";
  if (errno != EINPROGRESS) {
    *refused = errno == kRefused;
    return std::strerror(errno);
  }
  pollfd pfd{sock.s, POLLOUT, 0};
  int ready;
  do ready = ::poll(&pfd, 1, timeoutMs);
  while (ready < 0 && errno == EINTR);
#endif
  if (ready == 0) return "no answer within " + std::to_string(timeoutMs) + " ms";
  if (ready < 0) return "poll failed";
  int err = 0;
  socklen_t len = sizeof(err);
  ::getsockopt(sock.s, SOL_SOCKET, SO_ERROR, reinterpret_cast<char*>(&err), &len);
  *refused = err == kRefused;
  return err == 0 ? "" : std::strerror(err);
}

}  // namespace

bool isRpcDevice(const std::string& device) { return trim(device).rfind(kScheme, 0) == 0; }

std::vector<std::string> parseRpcDevice(const std::string& device) {
  if (!isRpcDevice(device)) return {};
  std::vector<std::string> endpoints;
  size_t start = 0;
  while (true) {
    const size_t comma = device.find(',', start);
    const std::string item = trim(device.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    const std::string endpoint = endpointOf(item, device);
    for (const std::string& seen : endpoints) {
      if (seen == endpoint)
        throw std::invalid_argument("device '" + device + "': rpc://" + endpoint + " is listed twice");
    }
    endpoints.push_back(endpoint);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (endpoints.size() > kMaxServers)
    throw std::invalid_argument("device '" + device + "': at most " + std::to_string(kMaxServers) + " RPC servers");
  return endpoints;
}

namespace {

using AddrList = std::unique_ptr<addrinfo, void (*)(addrinfo*)>;

// The endpoint's IPv4 addresses (as ggml's client, which resolves IPv4 only); null when the host does not resolve.
AddrList resolve(const std::string& endpoint) {
  const size_t colon = endpoint.rfind(':');
  const std::string host = endpoint.substr(0, colon), port = endpoint.substr(colon + 1);
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), port.c_str(), &hints, &found) != 0) found = nullptr;
  return AddrList(found, [](addrinfo* a) {
    if (a) ::freeaddrinfo(a);
  });
}

}  // namespace

void probeRpcEndpoint(const std::string& endpoint, int timeoutMs) {
  const size_t colon = endpoint.rfind(':');
  const std::string host = endpoint.substr(0, colon), port = endpoint.substr(colon + 1);
  const std::string what = "cannot reach rpc://" + endpoint + ": ";
  const AddrList list = resolve(endpoint);
  if (!list) throw std::runtime_error(what + "cannot resolve the host '" + host + "'");
  bool refused = false;
  const std::string why = tryConnect(list.get(), timeoutMs, &refused);
  if (!why.empty())
    throw std::runtime_error(what + why + " (is `layerlens rpc-server --port " + port + "` running there?)");
}

bool rpcEndpointRefuses(const std::string& endpoint, int timeoutMs) {
  const AddrList list = resolve(endpoint);
  if (!list) return true;
  bool refused = false;
  tryConnect(list.get(), timeoutMs, &refused);
  return refused;
}

std::vector<ggml_backend_dev_t> connectRpcServers(const std::vector<std::string>& endpoints) {
  installRpcAbortHandler();
  std::vector<ggml_backend_dev_t> devices;
  for (const std::string& endpoint : endpoints) {
    const std::string failed = rpcFailureOf({endpoint});
    if (!failed.empty()) throw std::runtime_error(failed);
    // Another model of this process already talks to the server: ggml reuses that connection, and a
    // probe would only wait in the accept queue of a server busy with it (it serves one client at a time).
    if (rpcLeases(endpoint) <= 1) probeRpcEndpoint(endpoint, kProbeTimeoutMs);
    ggml_backend_reg_t reg;
    try {
      reg = ggml_backend_rpc_add_server(endpoint.c_str());
    } catch (const RpcAbort& e) {
      throw std::runtime_error("rpc://" + endpoint + " did not answer as a ggml RPC server (protocol v" +
                               std::to_string(RPC_PROTO_MAJOR_VERSION) + "." + std::to_string(RPC_PROTO_MINOR_VERSION) +
                               "; is it `layerlens rpc-server` of this version?): " + e.what());
    }
    const size_t count = reg ? ggml_backend_reg_dev_count(reg) : 0;
    if (count == 0) throw std::runtime_error("rpc://" + endpoint + " offers no devices");
    for (size_t i = 0; i < count; ++i) devices.push_back(ggml_backend_reg_dev_get(reg, i));
  }
  return devices;
}

}  // namespace layerlens
