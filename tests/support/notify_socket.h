// A datagram socket standing in for systemd's notify socket (NOTIFY_SOCKET): bound to a fresh
// path under the temporary directory, it receives what sd_notify() sends.
#pragma once

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace edgesketch::test_support {

class NotifySocket {
 public:
  NotifySocket();
  ~NotifySocket();
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;

  const std::string& path() const { return path_; }
  // The next datagram; empty after `timeout_ms` without one.
  std::string receive(int timeout_ms = 2000);

  // From now on a thread receives every datagram as it comes, as systemd does: the kernel
  // queues only a few unread datagrams per socket (net.unix.max_dgram_qlen, often 10) and then
  // blocks the sender. Do not call receive() after this.
  void start_collecting();
  // What the collecting thread received so far, in order.
  std::vector<std::string> collected() const;

 private:
  std::string path_;
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;  // guards collected_
  std::vector<std::string> collected_;
  std::thread collector_;
};

}  // namespace edgesketch::test_support
