// The web page's own files (web/*.html, *.css, *.js), compiled into the
// binary by cmake/embed_web.cmake: nothing is read from disk or fetched.
#ifndef AETHERFLOW_CLIENT_WEB_ASSETS_H_
#define AETHERFLOW_CLIENT_WEB_ASSETS_H_

#include <string_view>

namespace aetherflow {

// The file's text ("page.html", "style.css", "app.js"), or "" when there
// is none of that name.
std::string_view WebAsset(std::string_view name);

}  // namespace aetherflow

#endif  // AETHERFLOW_CLIENT_WEB_ASSETS_H_
