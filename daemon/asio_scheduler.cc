#include "daemon/asio_scheduler.h"

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

namespace eg::daemon {

struct AsioScheduler::Impl {
  boost::asio::io_context io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard{
      boost::asio::make_work_guard(io)};
  std::vector<std::thread> workers;
  std::atomic<bool> stopped{false};
};

AsioScheduler::AsioScheduler(int threads) : impl_(std::make_unique<Impl>()) {
  for (int i = 0; i < std::max(1, threads); ++i) {
    impl_->workers.emplace_back([io = &impl_->io] { io->run(); });
  }
}

AsioScheduler::~AsioScheduler() { Shutdown(); }

void AsioScheduler::After(std::chrono::milliseconds delay, std::function<void()> task) {
  if (impl_->stopped) return;
  if (delay.count() <= 0) {
    boost::asio::post(impl_->io, [impl = impl_.get(), task = std::move(task)] {
      if (!impl->stopped) task();
    });
    return;
  }
  auto timer = std::make_shared<boost::asio::steady_timer>(impl_->io, delay);
  timer->async_wait(
      [impl = impl_.get(), timer, task = std::move(task)](const boost::system::error_code& ec) {
        if (!ec && !impl->stopped) task();
      });
}

void AsioScheduler::Shutdown() {
  if (impl_->stopped.exchange(true)) return;
  impl_->guard.reset();
  impl_->io.stop();
  for (auto& t : impl_->workers) {
    if (t.joinable()) t.join();
  }
}

}  // namespace eg::daemon
