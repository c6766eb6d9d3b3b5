// Failures as API errors; see errors.hpp.
#include "api/errors.hpp"

#include "query/query_reader.hpp"
#include "storage/series_registry.hpp"
#include "storage/storage_pool.hpp"

namespace metricsd::api {

MappedError map_error(std::exception_ptr failure) {
  try {
    std::rethrow_exception(failure);
  } catch (const ApiError& e) {
    return {e, false, e.what()};
  } catch (const storage::Unavailable& e) {
    return {ApiError::unavailable(e.what(), 2), false, e.what()};
  } catch (const storage::Overloaded& e) {
    return {ApiError::unavailable(e.what(), 1), false, e.what()};
  } catch (const query::QueryTimedOut& e) {
    return {ApiError::unavailable(e.what(), 1), false, e.what()};
  } catch (const storage::SeriesLimitExceeded& e) {
    return {ApiError::invalid_argument(e.what(), nlohmann::json::array({{{"field", "series"}}})),
            false, e.what()};
  } catch (const std::exception& e) {
    return {ApiError::internal("internal error; the server log has the details"), true, e.what()};
  } catch (...) {
    return {ApiError::internal("internal error; the server log has the details"), true,
            "unknown exception"};
  }
}

}  // namespace metricsd::api
