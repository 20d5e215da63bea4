#include "common/log_analysis.h"

#include <algorithm>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace aetherflow {
namespace {

using Json = nlohmann::json;

WatchSpec Spec(const char* json) {
  absl::StatusOr<WatchSpec> spec = WatchSpecFromJson(Json::parse(json));
  EXPECT_TRUE(spec.ok()) << json << ": " << spec.status();
  return spec.ok() ? *spec : WatchSpec{};
}

std::vector<Finding> Of(const StepAnalysis& a, FindingKind kind) {
  std::vector<Finding> out;
  for (const Finding& f : a.findings) {
    if (f.kind == kind) out.push_back(f);
  }
  return out;
}

// Everything a reader of the findings would see, one line each.
std::string Describe(const std::vector<Finding>& findings) {
  std::string out;
  for (const Finding& f : findings) {
    absl::StrAppend(&out, std::string(FindingKindName(f.kind)), " ", f.line,
                    ": ", f.text, "\n");
  }
  return out;
}

// Analyses `log` as a log that grows `chunk` bytes between check-ins: each
// call gets the log from the cursor's offset to the current end, as the
// daemon reads it. Returns all findings.
std::vector<Finding> Grow(const WatchSpec& spec, std::string_view log,
                          size_t chunk, StepCursor* cursor) {
  std::vector<Finding> all;
  for (size_t end = 0; end < log.size();) {
    end = std::min(log.size(), end + chunk);
    StepAnalysis a = AnalyzeLog(
        spec, log.substr(cursor->offset, end - cursor->offset), cursor);
    all.insert(all.end(), a.findings.begin(), a.findings.end());
  }
  return all;
}

// ---------------------------------------------------------------- progress

TEST(LogAnalysisTest, PyTorchEpochAndStep) {
  StepCursor c;
  StepAnalysis a = AnalyzeLog({},
                              "Epoch [1/10], Step [100/600], Loss: 0.6931\n"
                              "Epoch [3/10], Step [600/600], Loss: 0.2874\n",
                              &c);
  EXPECT_TRUE(a.findings.empty()) << Describe(a.findings);
  EXPECT_EQ(a.progress.text, "Epoch 3/10");
  EXPECT_DOUBLE_EQ(a.progress.fraction, 0.3);
  EXPECT_TRUE(a.progress_changed);
  EXPECT_EQ(c.line, 2);

  StepCursor s;
  a = AnalyzeLog({}, "step 1200/5000 | lr 3.0e-04 | loss 2.41\n", &s);
  EXPECT_EQ(a.progress.text, "step 1200/5000");
  EXPECT_DOUBLE_EQ(a.progress.fraction, 0.24);
}

TEST(LogAnalysisTest, KerasEpochLineNotItsBatchBar) {
  StepCursor c;
  StepAnalysis a = AnalyzeLog(
      {},
      "Epoch 3/10\n"
      "12/12 [==============================] - 1s 5ms/step - loss: 0.3000 - "
      "accuracy: 0.9100 - val_loss: 0.3512\n",
      &c);
  EXPECT_TRUE(a.findings.empty()) << Describe(a.findings);
  EXPECT_EQ(a.progress.text, "Epoch 3/10");
  EXPECT_DOUBLE_EQ(a.progress.fraction, 0.3);
}

TEST(LogAnalysisTest, TqdmRewritesWithCarriageReturns) {
  // tqdm starts each redraw with '\r' and ends it with nothing: the current
  // bar is an unfinished line, read now and again next time.
  std::string log =
      "Loading data\n"
      "\r  0%|          | 0/100 [00:00<?, ?it/s]"
      "\r 12%|█▏        | 12/100 [00:02<00:17, 5.01it/s]"
      "\r 45%|████▌     | 45/100 [00:10<00:12, 4.50it/s]";
  StepCursor c;
  StepAnalysis a = AnalyzeLog({}, log, &c);
  EXPECT_TRUE(a.findings.empty()) << Describe(a.findings);
  EXPECT_EQ(a.progress.text, "45/100");
  EXPECT_DOUBLE_EQ(a.progress.fraction, 0.45);
  EXPECT_GT(c.pending, 0);  // the last bar is left for the next call

  log +=
      "\r100%|██████████| 100/100 [00:22<00:00, 4.50it/s]\n"
      "ValueError: bad input\n";
  a = AnalyzeLog({}, std::string_view(log).substr(c.offset), &c);
  EXPECT_EQ(a.progress.text, "100/100");
  EXPECT_DOUBLE_EQ(a.progress.fraction, 1.0);
  // All the bars are on line 2; the error is on line 3.
  ASSERT_EQ(a.findings.size(), 1u) << Describe(a.findings);
  EXPECT_EQ(a.findings[0].line, 3);
  EXPECT_EQ(c.offset, static_cast<int64_t>(log.size()));
  EXPECT_EQ(c.pending, 0);
}

TEST(LogAnalysisTest, TqdmWithDescriptionAndPercentages) {
  StepCursor c;
  StepAnalysis a = AnalyzeLog(
      {}, "Training:  45%|████▌     | 45/100 [00:10<00:12, 4.50it/s]\n", &c);
  EXPECT_EQ(a.progress.text, "45/100");

  StepCursor p;
  a = AnalyzeLog({}, "Progress: 45%\n", &p);
  EXPECT_EQ(a.progress.text, "45%");
  EXPECT_DOUBLE_EQ(a.progress.fraction, 0.45);
  a = AnalyzeLog({}, "62.5% complete\n", &p);
  EXPECT_DOUBLE_EQ(a.progress.fraction, 0.625);

  // A percentage that is a measure, not progress.
  StepCursor m;
  a = AnalyzeLog({}, "val accuracy: 95%\nGPU util 99%\n", &m);
  EXPECT_FALSE(a.progress.known());
  EXPECT_FALSE(a.progress_changed);
}

TEST(LogAnalysisTest, ControlLineProgress) {
  StepCursor c;
  StepAnalysis a =
      AnalyzeLog({}, "::aetherflow tokens=1500 cost=0.01 progress=3/10\n", &c);
  EXPECT_DOUBLE_EQ(a.progress.fraction, 0.3);
  EXPECT_EQ(a.progress.text, "3/10");
  a = AnalyzeLog({}, "::aetherflow progress=45%\n", &c);
  EXPECT_DOUBLE_EQ(a.progress.fraction, 0.45);
  // Bad values are not progress.
  a = AnalyzeLog({}, "::aetherflow progress=11/10\n", &c);
  EXPECT_DOUBLE_EQ(a.progress.fraction, 0.45);
  EXPECT_FALSE(a.progress_changed);
}

TEST(LogAnalysisTest, UnfinishedNumberIsNotReadAsProgress) {
  // "Trial 5/10" may be the start of "Trial 5/100": wait for what follows.
  StepCursor c;
  StepAnalysis a = AnalyzeLog({}, "Trial 5/10", &c);
  EXPECT_FALSE(a.progress.known());
  a = AnalyzeLog({}, "Trial 5/100 done", &c);
  EXPECT_DOUBLE_EQ(a.progress.fraction, 0.05);
}

// ------------------------------------------------------------------ errors

TEST(LogAnalysisTest, TracebackReportsTheFinalExceptionLine) {
  StepCursor c;
  StepAnalysis a = AnalyzeLog({},
                              "Loading checkpoint\n"
                              "Traceback (most recent call last):\n"
                              "  File \"train.py\", line 10, in <module>\n"
                              "    main()\n"
                              "  File \"train.py\", line 7, in main\n"
                              "    raise ValueError(\"Error: bad input\")\n"
                              "ValueError: bad input\n"
                              "Cleaning up\n",
                              &c);
  ASSERT_EQ(a.findings.size(), 1u) << Describe(a.findings);
  EXPECT_EQ(a.findings[0].kind, FindingKind::kError);
  EXPECT_EQ(a.findings[0].line, 7);
  EXPECT_EQ(a.findings[0].text, "ValueError: bad input");
  EXPECT_FALSE(c.in_traceback);
}

TEST(LogAnalysisTest, ChainedTracebacksReportEachException) {
  StepCursor c;
  StepAnalysis a = AnalyzeLog(
      {},
      "Traceback (most recent call last):\n"
      "  File \"a.py\", line 2, in <module>\n"
      "    d[\"x\"]\n"
      "KeyError: 'x'\n"
      "\n"
      "During handling of the above exception, another exception occurred:\n"
      "\n"
      "Traceback (most recent call last):\n"
      "  File \"a.py\", line 4, in <module>\n"
      "    raise RuntimeError(\"lookup failed\")\n"
      "RuntimeError: lookup failed\n",
      &c);
  EXPECT_EQ(Describe(a.findings),
            "error 4: KeyError: 'x'\n"
            "error 11: RuntimeError: lookup failed\n");
}

TEST(LogAnalysisTest, TracebackSplitAcrossCheckins) {
  StepCursor c;
  StepAnalysis a = AnalyzeLog({},
                              "Traceback (most recent call last):\n"
                              "  File \"x.py\", line 1, in <module>\n",
                              &c);
  EXPECT_TRUE(a.findings.empty());
  EXPECT_TRUE(c.in_traceback);
  a = AnalyzeLog({}, "    f(\"ERROR\")\nZeroDivisionError: division by zero\n",
                 &c);
  EXPECT_EQ(Describe(a.findings),
            "error 4: ZeroDivisionError: division by zero\n");
}

TEST(LogAnalysisTest, CudaOutOfMemoryIsCritical) {
  StepCursor c;
  StepAnalysis a = AnalyzeLog(
      {},
      "Traceback (most recent call last):\n"
      "  File \"train.py\", line 88, in <module>\n"
      "    out = model(batch)\n"
      "torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate "
      "2.00 GiB (GPU 0; 23.69 GiB total capacity)\n"
      "RuntimeError: CUDA out of memory. Tried to allocate 20.00 MiB\n",
      &c);
  ASSERT_EQ(a.findings.size(), 2u) << Describe(a.findings);
  EXPECT_EQ(a.findings[0].kind, FindingKind::kCritical);
  EXPECT_EQ(a.findings[0].line, 4);
  EXPECT_EQ(a.findings[1].kind, FindingKind::kCritical);
  EXPECT_EQ(a.count(FindingKind::kCritical), 2);
  EXPECT_EQ(a.count(FindingKind::kError), 0);
}

TEST(LogAnalysisTest, KilledPanicFatalSegfaultAreCritical) {
  StepCursor c;
  StepAnalysis a =
      AnalyzeLog({},
                 "Trial 12 running\n"
                 "Killed\n"
                 "sh: line 1:  4242 Killed                  python train.py\n"
                 "panic: runtime error: index out of range [5] with length 3\n"
                 "F0501 12:00:00.000 FATAL: cannot open shard\n"
                 "Segmentation fault (core dumped)\n",
                 &c);
  EXPECT_EQ(a.count(FindingKind::kCritical), 5) << Describe(a.findings);
  EXPECT_EQ(a.findings[0].line, 2);
  EXPECT_EQ(a.count(FindingKind::kError), 0);
}

TEST(LogAnalysisTest, NanLossIsCritical) {
  StepCursor c;
  StepAnalysis a = AnalyzeLog({},
                              "epoch 1 | loss: 0.6931 | val_loss: 0.7012\n"
                              "epoch 2 | loss: nan | lr 0.1\n"
                              "step 300 loss=nan\n"
                              "Epoch 3: val_loss: NaN\n"
                              "{'loss': nan, 'grad_norm': inf}\n"
                              "nan_count: 0, loss_scale: 65536\n",
                              &c);
  EXPECT_EQ(Describe(Of(a, FindingKind::kCritical)),
            "critical 2: epoch 2 | loss: nan | lr 0.1\n"
            "critical 3: step 300 loss=nan\n"
            "critical 4: Epoch 3: val_loss: NaN\n"
            "critical 5: {'loss': nan, 'grad_norm': inf}\n");
  EXPECT_EQ(a.findings.size(), 4u) << Describe(a.findings);
}

TEST(LogAnalysisTest, ErrorLinesButNotMetricsNamedError) {
  StepCursor c;
  StepAnalysis a =
      AnalyzeLog({},
                 "ERROR:root:connection refused\n"
                 "main.c:3:5: error: expected ';' before '}' token\n"
                 "Error: ENOENT: no such file or directory\n"
                 "requests.exceptions.ConnectionError: Max retries exceeded\n"
                 "Mean Absolute Error: 0.31\n"
                 "mean_squared_error: 0.12\n"
                 "0 errors, 0 failures\n",
                 &c);
  EXPECT_EQ(Describe(a.findings),
            "error 1: ERROR:root:connection refused\n"
            "error 2: main.c:3:5: error: expected ';' before '}' token\n"
            "error 3: Error: ENOENT: no such file or directory\n"
            "error 4: requests.exceptions.ConnectionError: Max retries "
            "exceeded\n");
}

TEST(LogAnalysisTest, WarningsAreNotErrors) {
  StepCursor c;
  StepAnalysis a = AnalyzeLog(
      {},
      "/usr/lib/python3/dist-packages/torch/nn/x.py:12: UserWarning: "
      "deprecated\n"
      "  warnings.warn(\n"
      "WARNING:tensorflow:5 out of the last 5 calls triggered retracing\n"
      "[W 2024-05-01 12:00:00,000] Trial 7 pruned.\n"
      "Finished with 0 warnings\n",
      &c);
  EXPECT_EQ(Describe(a.findings),
            "warning 1: /usr/lib/python3/dist-packages/torch/nn/x.py:12: "
            "UserWarning: deprecated\n"
            "warning 3: WARNING:tensorflow:5 out of the last 5 calls "
            "triggered retracing\n"
            "warning 4: [W 2024-05-01 12:00:00,000] Trial 7 pruned.\n");
}

TEST(LogAnalysisTest, AnsiColouredLinesAreMatchedAndCleaned) {
  StepCursor c;
  StepAnalysis a =
      AnalyzeLog({},
                 "\x1b[32mINFO\x1b[0m loading\n"
                 "\x1b[1;31mERROR\x1b[0m: connection refused\n"
                 "\x1b]0;title\x07\x1b[33mWARNING\x1b[0m disk 91% full\n"
                 "\x1b[35mTraceback (most recent call last):\x1b[0m\n"
                 "  File \x1b[35m\"x.py\"\x1b[0m, line 1\n"
                 "\x1b[1;35mKeyError\x1b[0m: \x1b[35m'k'\x1b[0m\n",
                 &c);
  EXPECT_EQ(Describe(a.findings),
            "error 2: ERROR: connection refused\n"
            "warning 3: WARNING disk 91% full\n"
            "error 6: KeyError: 'k'\n");
  EXPECT_EQ(StripAnsi("a\x1b[0;1;38;5;208mb\x1b(Bc\x1b]8;;http://x\x1b\\d"),
            "abcd");
}

TEST(LogAnalysisTest, CrLfLineEndings) {
  StepCursor c;
  StepAnalysis a = AnalyzeLog({}, "ok\r\nok\r\nValueError: x\r\n", &c);
  ASSERT_EQ(a.findings.size(), 1u);
  EXPECT_EQ(a.findings[0].line, 3);
  EXPECT_EQ(c.line, 3);
}

TEST(LogAnalysisTest, CustomPatternsReplaceDefaults) {
  WatchSpec spec = Spec(R"j({
    "error": "BOOM",
    "warning": ["meh", "so-so"],
    "progress": "done (\\d+) of (\\d+)",
    "discovery": "found a (cat|dog)"
  })j");
  StepCursor c;
  StepAnalysis a = AnalyzeLog(
      spec,
      "Error: this is how the tool says hello\n"  // default error: off
      "BOOM went the reactor\n"
      "UserWarning: ignored\n"  // default warning: off
      "meh, so-so\n"
      "Trial 5/100\n"  // default progress: off
      "done 3 of 4\n"
      "found a cat\n"
      "Killed\n",  // critical lines stay on
      &c);
  EXPECT_EQ(Describe(a.findings),
            "error 2: BOOM went the reactor\n"
            "warning 4: meh, so-so\n"
            "discovery 7: found a cat\n"
            "critical 8: Killed\n");
  EXPECT_EQ(a.progress.text, "3/4");
  EXPECT_DOUBLE_EQ(a.progress.fraction, 0.75);
}

TEST(LogAnalysisTest, CustomProgressWithOneGroupIsAPercentage) {
  WatchSpec spec = Spec(R"j({"progress": "compiled (\\d+)%"})j");
  StepCursor c;
  StepAnalysis a = AnalyzeLog(spec, "[ 40%] compiled 40% of sources\n", &c);
  EXPECT_DOUBLE_EQ(a.progress.fraction, 0.4);
}


TEST(LogAnalysisTest, OutermostCounterWinsOverItsBatchBar) {
  StepCursor c;
  StepAnalysis a = AnalyzeLog({},
                              "Epoch 3/10\n"
                              "430/430 [==============================] - 1s "
                              "2ms/step - loss: 0.30\n",
                              &c);
  EXPECT_EQ(a.progress.text, "Epoch 3/10");
  EXPECT_EQ(c.progress_level, 1);
  // The next epoch replaces it; bars never do.
  a = AnalyzeLog({}, " 12/430 [>....] - ETA: 3s\nEpoch 4/10\n", &c);
  EXPECT_EQ(a.progress.text, "Epoch 4/10");
  // A bar alone is read.
  StepCursor k;
  a = AnalyzeLog({}, "430/430 [==============================] - 1s 2ms/step\n",
                 &k);
  EXPECT_EQ(a.progress.text, "430/430");
  EXPECT_DOUBLE_EQ(a.progress.fraction, 1.0);
}

TEST(LogAnalysisTest, ProgressOfBuildAndPipelineTools) {
  struct Case {
    const char* line;
    const char* text;
    double fraction;
  };
  const Case cases[] = {
      {"[3c/cbb0c0] process > align (51) [  0%] 2 of 227, failed: 2", "2/227",
       2.0 / 227},
      {"1 of 3 steps (33%) done", "steps 1/3", 1.0 / 3},
      {"[112/156] Building CXX object caffe.cpp.obj", "112/156", 112.0 / 156},
      {"tests/test_a.py ..........                      [ 45%]", "45%", 0.45},
      {"[ 12%] Building CXX object lib/Timer.cpp.o", "12%", 0.12},
      {" iteration     5428/  250000 | consumed samples: 43424 |",
       "iteration 5428/250000", 5428.0 / 250000},
      {"Number of trials: 4/4 (1 RUNNING, 3 TERMINATED)", "trials 3/4", 0.75},
      {"2023-05-31 15:08:46,211 - mmaction - INFO - Epoch [2][20/500]\tlr: 1",
       "Epoch 2 [20/500]", -1},
  };
  for (const Case& k : cases) {
    StepCursor c;
    StepAnalysis a = AnalyzeLog({}, std::string(k.line) + "\n", &c);
    EXPECT_EQ(a.progress.text, k.text) << k.line;
    EXPECT_DOUBLE_EQ(a.progress.fraction, k.fraction) << k.line;
  }
}

TEST(LogAnalysisTest, AnnouncedTotalIsKeptForALaterCounter) {
  StepCursor c;
  StepAnalysis a = AnalyzeLog({},
                              "***** Running training *****\n"
                              "  Total optimization steps = 564\n",
                              &c);
  EXPECT_EQ(a.progress.text, "step 0/564");
  a = AnalyzeLog({},
                 "{'loss': 18.6387, 'learning_rate': 4.9e-05, 'epoch': 0.05, "
                 "'step': 141}\n",
                 &c);
  EXPECT_EQ(a.progress.text, "step 141/564");
  EXPECT_DOUBLE_EQ(a.progress.fraction, 0.25);
  // Without an announced total the counter alone is not progress.
  StepCursor d;
  a = AnalyzeLog({}, "{'loss': 1.5, 'epoch': 0.05, 'step': 141}\n", &d);
  EXPECT_FALSE(a.progress.known());
}

TEST(LogAnalysisTest, StepProgressTextWithShareAndEta) {
  EXPECT_EQ(StepProgressText(Progress{0.3, "Epoch 3/10"}, 60'000),
            "Epoch 3/10 (30%, eta 2m20s)");
  EXPECT_EQ(StepProgressText(Progress{0.3, "Epoch 3/10"}, 0),
            "Epoch 3/10 (30%)");
  EXPECT_EQ(StepProgressText(Progress{0.45, "45%"}, 0), "45%");
  EXPECT_EQ(StepProgressText(Progress{1, "100/100"}, 5000), "100/100 (100%)");
  EXPECT_EQ(StepProgressText(Progress{-1, "Epoch 3 [43/43]"}, 5000),
            "Epoch 3 [43/43]");
  EXPECT_EQ(StepProgressText(Progress{}, 5000), "");
}

// ------------------------------------------------------------- discoveries

TEST(LogAnalysisTest, FirstBestSeenMidRunIsTheBaseline) {
  auto line = [](int t, int best) {
    return absl::StrCat("[I 2020-12-16 12:46:55,364] Trial ", t,
                        " finished with value: 0.93 and parameters: {'x': 1}."
                        " Best is trial ",
                        best, " with value: 0.95.\n");
  };
  StepCursor c;
  StepAnalysis a = AnalyzeLog({}, line(42, 31) + line(43, 31), &c);
  EXPECT_TRUE(a.findings.empty()) << Describe(a.findings);
  EXPECT_EQ(c.optuna_best_trial, 31);
  a = AnalyzeLog({}, line(44, 31) + line(45, 45), &c);
  EXPECT_EQ(Describe(a.findings),
            "discovery 4: Best is trial 45 with value: 0.95 (was trial 31)\n");
  // A trial that reaches the best as it finishes is news even unseen before.
  StepCursor d;
  a = AnalyzeLog({}, line(7, 7), &d);
  EXPECT_EQ(a.count(FindingKind::kDiscovery), 1);
}

TEST(LogAnalysisTest, NewBestsAsLibrariesPrintThem) {
  StepCursor c;
  StepAnalysis a = AnalyzeLog(
      {},
      "Epoch 00002: val_acc improved from 0.39000 to 0.54000, saving model to "
      "/tmp/model.h5\n"
      "Epoch 00003: val_acc did not improve from 0.54000\n"
      "Validation loss decreased (0.410000 --> 0.370000).  Saving model ...\n"
      "Epoch 3, global step 1200: 'val_acc' reached 0.91000 (best 0.91000), "
      "saving model to '/ckpt/best.ckpt' as top 1\n"
      "Epoch 4, global step 1600: 'val_acc' reached 0.88000 (best 0.91000), "
      "saving model to '/ckpt/e4.ckpt' as top 2\n"
      "The best checkpoint with 0.8 accuracy_top-1 at 2 epoch is saved to "
      "best_accuracy_top-1_epoch_2.pth.\n",
      &c);
  EXPECT_EQ(Describe(Of(a, FindingKind::kDiscovery)),
            "discovery 1: Epoch 00002: val_acc improved from 0.39000 to "
            "0.54000, saving model to /tmp/model.h5\n"
            "discovery 3: Validation loss decreased (0.410000 --> 0.370000).  "
            "Saving model ...\n"
            "discovery 4: Epoch 3, global step 1200: 'val_acc' reached 0.91000 "
            "(best 0.91000), saving model to '/ckpt/best.ckpt' as top 1\n"
            "discovery 6: The best checkpoint with 0.8 accuracy_top-1 at 2 "
            "epoch is saved to best_accuracy_top-1_epoch_2.pth.\n");
  EXPECT_EQ(a.findings.size(), 4u) << Describe(a.findings);
  // A metric of the step's own replaces them.
  StepCursor m;
  a = AnalyzeLog(Spec(R"j({"metric": "acc=([0-9.]+)", "goal": "max"})j"),
                 "Epoch 00002: val_acc improved from 0.39 to 0.54\n", &m);
  EXPECT_TRUE(a.findings.empty()) << Describe(a.findings);
}

TEST(LogAnalysisTest, OptunaBestChangeIsAnnouncedOnce) {
  const std::string trial =
      "[I 2024-05-01 12:00:0%d,000] Trial %d finished with value: %s and "
      "parameters: {'lr': 0.01, 'layers': 3}. Best is trial %d with value: "
      "%s.\n";
  auto line = [&](int t, const char* v, int best, const char* bv) {
    char buf[400];
    snprintf(buf, sizeof(buf), trial.c_str(), t, t, v, best, bv);
    return std::string(buf);
  };
  StepCursor c;
  StepAnalysis a = AnalyzeLog(
      {},
      "[I 2024-05-01 12:00:00,000] A new study created in memory with name: "
      "s\n" +
          line(0, "0.5", 0, "0.5") + line(1, "0.7", 0, "0.5") +
          line(2, "0.1", 2, "0.1") + line(3, "0.2", 2, "0.1"),
      &c);
  EXPECT_EQ(Describe(a.findings),
            "discovery 2: Best is trial 0 with value: 0.5 (first best)\n"
            "discovery 4: Best is trial 2 with value: 0.1 (was trial 0)\n");
  // Next check-in: the same best again is not news; a new one is.
  a = AnalyzeLog({}, line(4, "0.3", 2, "0.1"), &c);
  EXPECT_TRUE(a.findings.empty()) << Describe(a.findings);
  a = AnalyzeLog({}, line(5, "0.05", 5, "0.05"), &c);
  EXPECT_EQ(Describe(a.findings),
            "discovery 7: Best is trial 5 with value: 0.05 (was trial 2)\n");
  EXPECT_EQ(c.optuna_best_trial, 5);
}

TEST(LogAnalysisTest, MetricMinGoal) {
  WatchSpec spec =
      Spec(R"j({"metric": "val_loss: ([0-9.eE+-]+)", "goal": "min"})j");
  StepCursor c;
  StepAnalysis a = AnalyzeLog(spec,
                              "epoch 1 val_loss: 0.5\n"
                              "epoch 2 val_loss: 0.4\n"
                              "epoch 3 val_loss: 0.45\n"
                              "epoch 4 val_loss: 0.4\n"
                              "epoch 5 val_loss: 0.3\n",
                              &c);
  EXPECT_EQ(Describe(a.findings),
            "new_best 1: new best 0.5 (first value): epoch 1 val_loss: 0.5\n"
            "new_best 2: new best 0.4 (was 0.5): epoch 2 val_loss: 0.4\n"
            "new_best 5: new best 0.3 (was 0.4): epoch 5 val_loss: 0.3\n");
  EXPECT_EQ(c.best, 0.3);
  // The same best at the next check-in is not announced again.
  a = AnalyzeLog(spec, "epoch 6 val_loss: 0.3\nepoch 7 val_loss: 0.31\n", &c);
  EXPECT_TRUE(a.findings.empty()) << Describe(a.findings);
  a = AnalyzeLog(spec, "epoch 8 val_loss: 0.25\n", &c);
  EXPECT_EQ(a.count(FindingKind::kNewBest), 1);
}

TEST(LogAnalysisTest, MetricMaxGoalAndItReplacesOptuna) {
  WatchSpec spec = Spec(R"j({"metric": "acc=([0-9.]+)", "goal": "max"})j");
  StepCursor c;
  StepAnalysis a = AnalyzeLog(
      spec,
      "acc=0.80\nacc=0.90\nacc=0.85\nacc=0.90\n"
      "Trial 1 finished with value: 0.9. Best is trial 1 with value: 0.9.\n",
      &c);
  EXPECT_EQ(Describe(a.findings),
            "new_best 1: new best 0.8 (first value): acc=0.80\n"
            "new_best 2: new best 0.9 (was 0.8): acc=0.90\n");
  EXPECT_FALSE(c.optuna_best_trial.has_value());
}

// What a check-in's new bests add up to (issue 18.5): the metric's name,
// the last best as written, the best it beat, where, and how many.
TEST(LogAnalysisTest, NewBestNewsSumsUpACall) {
  WatchSpec spec =
      Spec(R"j({"metric": "val_loss: ([0-9.]+)", "goal": "min"})j");
  StepCursor c;
  StepAnalysis a = AnalyzeLog(spec,
                              "Epoch 1/20 - val_loss: 0.5120\n"
                              "Epoch 2/20 - val_loss: 0.6\n"
                              "Epoch 3/20 - val_loss: 0.5000\n"
                              "Epoch 4/20 - val_loss: 0.4900\n"
                              "Epoch 5/20\n",
                              &c);
  ASSERT_TRUE(a.new_best.has_value());
  EXPECT_EQ(a.new_best->metric, "val_loss");
  EXPECT_EQ(a.new_best->value, "0.4900");
  EXPECT_EQ(a.new_best->was, "0.5120") << "the first value is what was beaten";
  EXPECT_EQ(a.new_best->count, 2);
  EXPECT_EQ(a.new_best->where, "Epoch 4/20") << "where it was reached";
  EXPECT_EQ(a.new_best->line, 4);
  EXPECT_EQ(a.count(FindingKind::kNewBest), 3) << "findings unchanged";

  // The next call beats the best as the log wrote it; none without news.
  a = AnalyzeLog(spec, "Epoch 6/20 - val_loss: 0.4783\n", &c);
  ASSERT_TRUE(a.new_best.has_value());
  EXPECT_EQ(a.new_best->was, "0.4900");
  EXPECT_EQ(a.new_best->count, 1);
  EXPECT_EQ(a.new_best->where, "Epoch 6/20");
  a = AnalyzeLog(spec, "Epoch 7/20 - val_loss: 0.5\n", &c);
  EXPECT_FALSE(a.new_best.has_value());

  // The best's text travels in the cursor.
  absl::StatusOr<StepCursor> back = StepCursorFromJson(StepCursorToJson(c));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->best_text, "0.4783");
}

TEST(LogAnalysisTest, NewBestNewsNamesTheMetric) {
  auto name = [](const char* spec, std::string_view line) {
    StepCursor c;
    StepAnalysis a = AnalyzeLog(Spec(spec), line, &c);
    return a.new_best ? a.new_best->metric : std::string("<none>");
  };
  EXPECT_EQ(name(R"j({"metric": "acc=([0-9.]+)", "goal": "max"})j",
                 "step 3 acc=0.9\n"),
            "acc");
  EXPECT_EQ(name(R"j({"metric": "'eval_loss': ([0-9.]+)", "goal": "min"})j",
                 "{'eval_loss': 0.31, 'epoch': 1.0}\n"),
            "eval_loss");
  EXPECT_EQ(name(R"j({"metric": "(?P<top1>[0-9.]+)% top-1", "goal": "max"})j",
                 "71.2% top-1\n"),
            "top1");
  EXPECT_EQ(name(R"j({"metric": "^([0-9.]+)$", "goal": "max"})j", "0.5\n"),
            "metric");
}

TEST(LogAnalysisTest, MergeNewBestKeepsTheFirstBeatenBest) {
  WatchSpec spec = Spec(R"j({"metric": "loss ([0-9.]+)", "goal": "min"})j");
  StepCursor c;
  std::optional<NewBestNews> merged;
  MergeNewBest(&merged, AnalyzeLog(spec, "loss 0.9\n", &c).new_best);
  MergeNewBest(&merged, AnalyzeLog(spec, "loss 0.8\nloss 0.7\n", &c).new_best);
  MergeNewBest(&merged, AnalyzeLog(spec, "loss 0.75\n", &c).new_best);
  MergeNewBest(&merged, AnalyzeLog(spec, "loss 0.6\n", &c).new_best);
  ASSERT_TRUE(merged.has_value());
  EXPECT_EQ(merged->was, "0.9");
  EXPECT_EQ(merged->value, "0.6");
  EXPECT_EQ(merged->count, 3);
  EXPECT_EQ(merged->line, 5);
  EXPECT_EQ(merged->where, "");
}

// --------------------------------------------- chunks, caps, long lines

// A log with a bit of everything, including ANSI colours, CRLF, tqdm bars
// and a traceback, to cut anywhere.
std::string MixedLog() {
  std::string log =
      "[I 2024-05-01 12:00:00,000] A new study created in memory\r\n"
      "\x1b[33mWARNING\x1b[0m: low disk\n";
  for (int t = 0; t < 6; ++t) {
    const int best = t < 3 ? 0 : 3;
    absl::StrAppend(&log, "\r", t * 20, "%|##  | ", t, "/5 [00:0", t,
                    "<00:10, 1.00it/s]");
    absl::StrAppend(&log, "\n[I 2024-05-01 12:00:0", t, ",000] Trial ", t,
                    " finished with value: 0.", 9 - t,
                    " and parameters: {'x': 1}. Best is trial ", best,
                    " with value: 0.", 9 - best, ".\n");
    absl::StrAppend(&log, "val_loss: 0.", 9 - t % 4, "\n");
  }
  log +=
      "Traceback (most recent call last):\n"
      "  File \"x.py\", line 1, in <module>\n"
      "\x1b[31mValueError\x1b[0m: bad input\n"
      "loss: nan\n"
      "Epoch 7/10";
  return log;
}

void ExpectSameAsWhole(const WatchSpec& spec, const std::string& log) {
  StepCursor whole;
  StepAnalysis a = AnalyzeLog(spec, log, &whole);
  ASSERT_FALSE(a.findings.empty());
  for (size_t chunk : {1, 7, 64}) {
    StepCursor c;
    std::vector<Finding> findings = Grow(spec, log, chunk, &c);
    EXPECT_EQ(Describe(findings), Describe(a.findings)) << "chunk " << chunk;
    EXPECT_EQ(c.offset, whole.offset) << "chunk " << chunk;
    EXPECT_EQ(c.line, whole.line);
    EXPECT_EQ(c.pending, whole.pending);
    EXPECT_EQ(c.best, whole.best);
    EXPECT_EQ(c.optuna_best_trial, whole.optuna_best_trial);
    EXPECT_EQ(c.progress, whole.progress);
    EXPECT_EQ(c.in_traceback, whole.in_traceback);
  }
}

TEST(LogAnalysisTest, SameFindingsHoweverTheLogIsCut) {
  const std::string log = MixedLog();
  ExpectSameAsWhole({}, log);
  ExpectSameAsWhole(Spec(R"j({"metric": "val_loss: ([0-9.]+)", "goal": "min",
                             "discovery": "Trial [0-9]+ finished"})j"),
                    log);
  StepCursor whole;
  StepAnalysis a = AnalyzeLog({}, log, &whole);
  EXPECT_EQ(Describe(a.findings),
            "warning 2: WARNING: low disk\n"
            "discovery 4: Best is trial 0 with value: 0.9 (first best)\n"
            "discovery 13: Best is trial 3 with value: 0.6 (was trial 0)\n"
            "error 23: ValueError: bad input\n"
            "critical 24: loss: nan\n");
  // The last bar; "Epoch 7/10" is unfinished and may yet be "Epoch 7/100".
  EXPECT_EQ(whole.progress.text, "5/5");
}

TEST(LogAnalysisTest, LongLinesAreCutForMatching) {
  const std::string huge(3 * kMaxLineBytes, 'x');
  const std::string log = "ERROR at the start " + huge + "\n" + "x" + huge +
                          " ERROR too far\n" + "ValueError: after\n" +
                          huge;  // unfinished, long
  StepCursor whole;
  StepAnalysis a = AnalyzeLog({}, log, &whole);
  ASSERT_EQ(a.findings.size(), 2u) << Describe(a.findings);
  EXPECT_EQ(a.findings[0].line, 1);
  EXPECT_LE(a.findings[0].text.size(), kMaxFindingTextBytes + 3);
  EXPECT_EQ(a.findings[0].text.substr(a.findings[0].text.size() - 3), "...");
  EXPECT_EQ(a.findings[1].line, 3);
  EXPECT_EQ(a.findings[1].text, "ValueError: after");
  // The long unfinished line is consumed, not kept for later.
  EXPECT_EQ(whole.offset, static_cast<int64_t>(log.size()));
  EXPECT_TRUE(whole.skipping);

  StepCursor c;
  std::vector<Finding> findings = Grow({}, log, 5000, &c);
  EXPECT_EQ(Describe(findings), Describe(a.findings));
  EXPECT_EQ(c.offset, whole.offset);
  EXPECT_EQ(c.line, whole.line);

  // The next line after the long one is numbered right.
  a = AnalyzeLog({}, "tail\nKilled\n", &whole);
  ASSERT_EQ(a.findings.size(), 1u);
  EXPECT_EQ(a.findings[0].line, 5);
}

TEST(LogAnalysisTest, FloodsKeepTheFirstAndLastFindings) {
  std::string log;
  for (int i = 1; i <= 10000; ++i) {
    absl::StrAppend(&log, "RuntimeError: retry ", i, "\n");
  }
  log += "UserWarning: one\n";
  StepCursor c;
  StepAnalysis a = AnalyzeLog({}, log, &c);
  EXPECT_EQ(a.count(FindingKind::kError), 10000);
  EXPECT_EQ(a.count(FindingKind::kWarning), 1);
  std::vector<Finding> errors = Of(a, FindingKind::kError);
  ASSERT_EQ(errors.size(), 2u * kFindingsKeptAtEachEnd);
  EXPECT_EQ(errors.front().line, 1);
  EXPECT_EQ(errors[kFindingsKeptAtEachEnd - 1].line, kFindingsKeptAtEachEnd);
  EXPECT_EQ(errors[kFindingsKeptAtEachEnd].line,
            10000 - kFindingsKeptAtEachEnd + 1);
  EXPECT_EQ(errors.back().line, 10000);
  EXPECT_EQ(a.findings.back().kind, FindingKind::kWarning);  // log order
}

TEST(LogAnalysisTest, FiftyMegabytesInOneGo) {
  // Linear work, bounded memory: a big log with one error at the very end.
  std::string log;
  const std::string filler =
      " | loss 2.4131 | lr 3.0e-04 | tokens/s 48211 | grad_norm 0.93\n";
  log.reserve(50 * 1024 * 1024 + 100);
  int64_t lines = 0;
  while (log.size() < 50u * 1024 * 1024) {
    absl::StrAppend(&log, "step ", lines + 1, "/1000000", filler);
    ++lines;
  }
  log += "RuntimeError: NCCL communicator was aborted\n";
  StepCursor c;
  StepAnalysis a = AnalyzeLog({}, log, &c);
  ASSERT_EQ(a.findings.size(), 1u) << Describe(a.findings);
  EXPECT_EQ(a.findings[0].line, lines + 1);
  EXPECT_EQ(a.findings[0].kind, FindingKind::kError);
  EXPECT_EQ(c.line, lines + 1);
  EXPECT_EQ(a.progress.text, absl::StrCat("step ", lines, "/1000000"));
}

// ------------------------------------------------------ stalls and cursors

TEST(LogAnalysisTest, QuietCheckinsCountOnlyAfterOutput) {
  StepCursor c;
  AnalyzeLog({}, "", &c);
  AnalyzeLog({}, "", &c);
  EXPECT_EQ(c.quiet_checkins, 0);  // silent from the start: not a stall
  StepAnalysis a = AnalyzeLog({}, "Epoch 1/10\nEpoch 2/1", &c);
  EXPECT_TRUE(a.new_output);
  EXPECT_EQ(c.quiet_checkins, 0);
  // The unfinished line read again, unchanged: no new output.
  a = AnalyzeLog({}, "Epoch 2/1", &c);
  EXPECT_FALSE(a.new_output);
  EXPECT_FALSE(a.progress_changed);
  EXPECT_EQ(a.progress.text, "Epoch 1/10");  // the cursor's, still known
  EXPECT_EQ(c.quiet_checkins, 1);
  AnalyzeLog({}, "Epoch 2/1", &c);
  EXPECT_EQ(c.quiet_checkins, 2);
  a = AnalyzeLog({}, "Epoch 2/10\n", &c);
  EXPECT_TRUE(a.new_output);
  EXPECT_TRUE(a.progress_changed);
  EXPECT_EQ(c.quiet_checkins, 0);
}

TEST(LogAnalysisTest, CursorJsonKeepsProgressLevelAndBuiltinBest) {
  StepCursor c;
  AnalyzeLog({},
             "[I 2019-09-26 16:58:23,064] Finished trial#1 resulted in value: "
             "0.34. Current best value is 0.34 with parameters: {}.\n"
             "  Total optimization steps = 564\n"
             "Epoch 3/10\n",
             &c);
  EXPECT_EQ(c.builtin_best, 0.34);
  EXPECT_EQ(c.progress_level, 1);
  EXPECT_EQ(c.announced_total, 564);
  absl::StatusOr<StepCursor> back = StepCursorFromJson(StepCursorToJson(c));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, c);
  EXPECT_FALSE(StepCursorFromJson(Json::parse(R"j({"progress_level": 10})j"))
                   .ok());
}

TEST(LogAnalysisTest, CursorJsonRoundTrip) {
  StepCursor c;
  AnalyzeLog(Spec(R"j({"metric": "loss ([0-9.]+)", "goal": "min",
                      "progress": "(\\S+) of (\\d+)"})j"),
             "loss 0.25\n3 of 9\nTraceback (most recent call last):\n"
             "  File \"x\"\nunfinished",
             &c);
  c.optuna_best_trial = 12;
  c.quiet_checkins = 3;
  ASSERT_TRUE(c.in_traceback);
  ASSERT_GT(c.pending, 0);
  const std::string text = StepCursorToJson(c).dump();
  absl::StatusOr<StepCursor> back = StepCursorFromJson(Json::parse(text));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, c) << text;

  absl::StatusOr<StepCursor> empty = StepCursorFromJson(Json::object());
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*empty, StepCursor{});

  for (const char* bad :
       {R"j([])j", R"j({"offset": -1})j", R"j({"offset": "12"})j",
        R"j({"offset": 1.5})j", R"j({"line": 9, "offset": 3})j",
        R"j({"pending": 99999999})j", R"j({"best": "low"})j",
        R"j({"skipping": 1})j",
        R"j({"progress": {"fraction": 2, "text": ""}})j",
        R"j({"progress": {"fraction": 0.5}})j"}) {
    absl::StatusOr<StepCursor> r = StepCursorFromJson(Json::parse(bad));
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

// Found by tests/fuzz/log_analysis_fuzz: a control character at the end of
// a progress text became a trailing space, which reading the cursor back
// from JSON trimmed, so the cursor changed on its way through a poller.
TEST(LogAnalysisTest, ControlCharactersAtTheEdgesOfATextAreTrimmed) {
  StepCursor c;
  StepAnalysis a = AnalyzeLog(Spec(R"j({"progress": "stage [^ ]+"})j"),
                              "\x01" "ERROR x\x02\nstage one\x01\n", &c);
  ASSERT_EQ(a.findings.size(), 1u) << Describe(a.findings);
  EXPECT_EQ(a.findings[0].text, "ERROR x");
  EXPECT_EQ(c.progress.text, "stage one");
  absl::StatusOr<StepCursor> back = StepCursorFromJson(StepCursorToJson(c));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, c);
}

TEST(LogAnalysisTest, CursorJsonSurvivesInvalidUtf8) {
  // Custom progress text and findings come from the log, which may hold
  // any bytes; the cursor must still serialise.
  WatchSpec spec = Spec(R"j({"progress": "phase \\S+"})j");
  StepCursor c;
  StepAnalysis a =
      AnalyzeLog(spec, "phase \xff\xfe!\nValueError: \xc3\x28 bad\n", &c);
  ASSERT_EQ(a.findings.size(), 1u);
  EXPECT_NO_THROW(Json(a.findings[0].text).dump());
  std::string text;
  EXPECT_NO_THROW(text = StepCursorToJson(c).dump());
  EXPECT_TRUE(StepCursorFromJson(Json::parse(text)).ok());
}

TEST(LogAnalysisTest, WatchSpecFromJsonErrorsNameTheKey) {
  auto code_and_message = [](const char* json) {
    absl::StatusOr<WatchSpec> s = WatchSpecFromJson(Json::parse(json));
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << json;
    return std::string(s.status().message());
  };
  EXPECT_NE(code_and_message(R"j({"error": "(unclosed"})j").find("watch.error"),
            std::string::npos);
  EXPECT_NE(code_and_message(R"j({"warning": ["ok", "[z-a]"]})j")
                .find("watch.warning"),
            std::string::npos);
  EXPECT_NE(code_and_message(R"j({"progress": 3})j").find("watch.progress"),
            std::string::npos);
  EXPECT_NE(code_and_message(R"j({"discovery": ""})j").find("watch.discovery"),
            std::string::npos);
  EXPECT_NE(code_and_message(R"j({"metric": "loss [0-9.]+", "goal": "min"})j")
                .find("watch.metric"),
            std::string::npos);
  EXPECT_NE(code_and_message(R"j({"metric": "loss ([0-9.]+)", "goal": "up"})j")
                .find("watch.goal"),
            std::string::npos);
  EXPECT_NE(
      code_and_message(R"j({"metric": "loss ([0-9.]+)"})j").find("watch.goal"),
      std::string::npos);
  EXPECT_NE(code_and_message(R"j({"goal": "max"})j").find("watch.goal"),
            std::string::npos);
  code_and_message(R"j("error")j");

  absl::StatusOr<WatchSpec> none = WatchSpecFromJson(Json());
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->error.empty());
  WatchSpec spec = Spec(R"j({"metric": "acc ([0-9.]+)", "goal": "maximize",
                            "tags": ["unknown keys are ignored"]})j");
  EXPECT_EQ(spec.goal, WatchSpec::Goal::kMax);
}

}  // namespace
}  // namespace aetherflow
