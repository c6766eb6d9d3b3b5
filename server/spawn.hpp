// Starting a background coroutine whose unexpected end is logged once, with its name.
#pragma once

#include <spdlog/spdlog.h>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <exception>

namespace metricsd::server {

template <class Executor>
void spawn_logged(const Executor& ex, boost::asio::awaitable<void> task, const char* name) {
  boost::asio::co_spawn(ex, std::move(task), [name](std::exception_ptr e) {
    if (!e) return;  // a normal end (never rethrow a null exception_ptr)
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& x) {
      spdlog::error("{} stopped by an unexpected error: {}", name, x.what());
    }
  });
}

}  // namespace metricsd::server
