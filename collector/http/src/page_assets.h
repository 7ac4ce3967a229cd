// The live page's static files (HTML, JavaScript, CSS and the Chart.js of Debian's
// libjs-chart.js), embedded in the binary at build time by cmake/EmbedFiles.cmake. They hold no
// data: the page fetches everything through the authenticated API.
#pragma once

#include <span>
#include <string_view>

namespace edgesketch::http {

struct PageAsset {
  std::string_view url;           // "/" or "/ui/<name>"
  std::string_view content_type;  // with charset where it is text
  std::string_view body;
};

// Every embedded file, in a fixed order.
std::span<const PageAsset> page_assets();

}  // namespace edgesketch::http
