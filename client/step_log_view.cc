#include "client/step_log_view.h"

#include "absl/strings/str_cat.h"

namespace aetherflow {
namespace {

// A line that starts like a marker but goes on and on is output.
constexpr std::size_t kMaxMarkerBytes = 4096;

}  // namespace

std::string AttemptHeading(const AttemptStart& start,
                           const std::optional<std::string>& result,
                           const StepLogViewOptions& options) {
  const char* rule = options.utf8 ? "──" : "--";
  std::string text = absl::StrCat(rule, " attempt ", start.attempt);
  if (start.max_attempts > 0) absl::StrAppend(&text, " of ", start.max_attempts);
  if (start.resumed) absl::StrAppend(&text, " (after a resume)");
  if (start.started_at_ms > 0) {
    absl::StrAppend(&text, ", ",
                    absl::FormatTime("%H:%M:%S", absl::FromUnixMillis(start.started_at_ms),
                                     options.zone));
  }
  if (result && !result->empty()) absl::StrAppend(&text, ", ", *result);
  absl::StrAppend(&text, " ", rule);
  return text;
}

std::string StepLogView::Feed(std::string_view data) {
  std::string out;
  while (!data.empty()) {
    const std::size_t newline = data.find('\n');
    const std::string_view piece =
        data.substr(0, newline == std::string_view::npos ? data.size() : newline + 1);
    data.remove_prefix(piece.size());
    const bool ends_line = newline != std::string_view::npos;
    if (at_line_start_ || !partial_.empty()) {
      // A line start: it may be a marker, which is known at its newline.
      partial_.append(piece);
      at_line_start_ = false;
      if (ends_line) {
        std::string line = std::move(partial_);
        partial_.clear();
        Line(line, &out);
        at_line_start_ = true;
      } else if (!MayBeAttemptMarker(partial_) || partial_.size() > kMaxMarkerBytes) {
        // Plain output (a progress bar's "\r" updates): shown at once.
        std::string text = std::move(partial_);
        partial_.clear();
        Text(text, &out);
      }
    } else {
      Text(piece, &out);
      at_line_start_ = ends_line;
    }
  }
  return out;
}

std::string StepLogView::Finish() {
  std::string out;
  if (!partial_.empty()) {
    std::string text = std::move(partial_);
    partial_.clear();
    Text(text, &out);
  }
  if (open_) CloseSection(std::nullopt, &out);
  at_line_start_ = true;
  return out;
}

void StepLogView::Line(std::string_view line, std::string* out) {
  std::string_view body = line;
  if (!body.empty() && body.back() == '\n') body.remove_suffix(1);
  if (std::optional<AttemptStart> start = ParseAttemptStart(body)) {
    // A section that never ended (the daemon died with it) closes here.
    if (open_) CloseSection(std::nullopt, out);
    if (options_.hold) {
      open_ = *start;
      held_.clear();
    } else {
      absl::StrAppend(out, AttemptHeading(*start, std::nullopt, options_), "\n");
    }
    return;
  }
  if (std::optional<AttemptEnd> end = ParseAttemptEnd(body)) {
    // Said in the heading when held; otherwise the closing line says it.
    if (open_ && open_->attempt == end->attempt) CloseSection(end->result, out);
    return;
  }
  Text(line, out);
}

void StepLogView::Text(std::string_view text, std::string* out) {
  if (!open_) {
    out->append(text);
    return;
  }
  held_.append(text);
  if (held_.size() > kHoldBytes) CloseSection(std::nullopt, out);
}

void StepLogView::CloseSection(const std::optional<std::string>& result,
                               std::string* out) {
  absl::StrAppend(out, AttemptHeading(*open_, result, options_), "\n", held_);
  open_.reset();
  held_.clear();
}

std::string RenderStepLog(std::string_view text, const StepLogViewOptions& options) {
  StepLogView view(options);
  std::string out = view.Feed(text);
  out += view.Finish();
  return out;
}

}  // namespace aetherflow
