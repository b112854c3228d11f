//===- Errors.h - error reporting inside the hyla runtime -------*- C++ -*-===//
//
// Internally the runtime reports failures by throwing hyla::Error; every C
// entry point catches it, stores the message as the thread's last error and
// returns the status. Exceptions never cross the C API.
//
//===----------------------------------------------------------------------===//
#ifndef HYLA_RUNTIME_ERRORS_H
#define HYLA_RUNTIME_ERRORS_H

#include "hyla/runtime.h"

#include <exception>
#include <sstream>
#include <string>
#include <utility>

namespace hyla {

class Error : public std::exception {
public:
  Error(hyla_status status, std::string message)
      : status_(status), message_(std::move(message)) {}
  hyla_status status() const { return status_; }
  const std::string &message() const { return message_; }
  const char *what() const noexcept override { return message_.c_str(); }

private:
  hyla_status status_;
  std::string message_;
};

/// Concatenates anything that can be streamed, e.g.
/// strCat("buffer ", id, " has rank ", rank).
template <typename... Args> std::string strCat(Args &&...args) {
  std::ostringstream os;
  (os << ... << std::forward<Args>(args));
  return os.str();
}

template <typename... Args>
[[noreturn]] void fail(hyla_status status, Args &&...args) {
  throw Error(status, strCat(std::forward<Args>(args)...));
}

/// Quotes a name for messages: 'forward'.
inline std::string quoted(const std::string &name) { return "'" + name + "'"; }

void setLastError(const std::string &message);

/// Runs `body`, converting any exception into a status and the thread's last
/// error. This is the only place exceptions are caught.
template <typename Body> hyla_status guarded(Body &&body) noexcept {
  try {
    body();
    return HYLA_OK;
  } catch (const Error &error) {
    setLastError(error.message());
    return error.status();
  } catch (const std::bad_alloc &) {
    setLastError("out of host memory");
    return HYLA_ERROR_INVALID_ARGUMENT;
  } catch (const std::exception &error) {
    setLastError(strCat("internal error: ", error.what()));
    return HYLA_ERROR_INVALID_ARGUMENT;
  } catch (...) {
    setLastError("internal error: unknown exception");
    return HYLA_ERROR_INVALID_ARGUMENT;
  }
}

} // namespace hyla

#endif // HYLA_RUNTIME_ERRORS_H
