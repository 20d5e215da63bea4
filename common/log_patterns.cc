#include "common/log_patterns.h"

#include <array>

namespace aetherflow {
namespace {

using K = RuleKind;

// Reviewed against tests/data/logs/index.tsv. Keep each example a real line
// (shortened only where noted) and add a corpus excerpt with every family.
constexpr LogRule kRules[] = {
    // ------------------------------------------------------ severity prefix
    {"glog.prefix", "glog (Caffe, PyTorch c10, TensorFlow C++)",
     K::kSeverityPrefix,
     R"re(^\s*(?:\[\d+\] )?(?:\[rank\d+\]:)?\[?(?P<sev>[IWEF])\d{3,4} \d\d:\d\d:\d\d)re",
     "F0519 13:47:44.378706 22962 math_functions.cu:79] Check failed: error "
     "== cudaSuccess (4 vs. 0)  unspecified launch failure"},
    {"c10.prefix", "PyTorch c10, Optuna", K::kSeverityPrefix,
     R"re(^\s*\[(?P<sev>[IWEF]) (?:[\w.]+:\d+\]|\d{4}-\d\d-\d\d))re",
     "[E ProcessGroupNCCL.cpp:737] [Rank 1] Watchdog caught collective "
     "operation timeout"},
    {"tensorflow.prefix", "TensorFlow", K::kSeverityPrefix,
     R"re(^(?:\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: (?P<sev>[IWEF]) |(?P<sev2>[IWEF]) (?:tensorflow|external|third_party|xla)/))re",
     "2020-06-01 20:07:58.089327: W "
     "tensorflow/core/common_runtime/bfc_allocator.cc:239] Allocator "
     "(GPU_0_bfc) ran out of memory trying to allocate 45.53MiB"},
    {"python_logging.prefix", "Python logging, vLLM, DeepSpeed, Nextflow",
     K::kSeverityPrefix,
     R"re((?i)^\s*(?:\([^)]*\) |\[[^\]]*\]\([^)]*\): |\[[^\]]*\] |\w{3}-\d\d \d\d:\d\d:\d\d\.\d+ \[[^\]]*\] |\d{4}-\d\d-\d\d[ T][\d:.,]+\s*(?:-\s*(?:\w+\s*-\s*)?)?|\*+)?\[?(?P<sev>debug|info|warning|warn|error|critical|fatal)(?:\]|\*+|:|\s|-|$))re",
     "2022-12-28 16:13:02 [ERROR]  RuntimeError: CUDA error: device-side "
     "assert triggered"},
    {"nccl.prefix", "NCCL", K::kSeverityPrefix,
     R"re(^\S+:\d+:\d+ \[\d+\] (?:NCCL )?(?P<sev>INFO|WARN)\b)re",
     "skyaxe-computing-0:19778:20039 [0] INFO [0] Ring 0 :    0   1   2   3"},

    // --------------------------------------------------------------- harmless
    {"zero_counts", "MSBuild, pytest, linters", K::kHarmless,
     R"re((?i)\b0 (?:error|warning)\(s\)|\b(?:0|no) (?:errors?|warnings?|failures?)\b)re",
     "    0 Error(s)"},
    {"apex.overflow", "NVIDIA apex", K::kHarmless,
     R"re(Gradient overflow\.\s+Skipping step, loss scaler \d+ reducing loss scale to \S+)re",
     "Gradient overflow.  Skipping step, loss scaler 0 reducing loss scale to "
     "32768.0"},
    {"deepspeed.overflow", "DeepSpeed", K::kHarmless,
     R"re(OVERFLOW! Rank \d+ Skipping step\. Attempted loss scale: [\d.]+, (?:reducing to [\d.]+|but hysteresis is \d+\. Reducing hysteresis to \d+))re",
     "[2023-04-28 06:51:30,648] [INFO] [loss_scaler.py:181:update_scale] "
     "[deepspeed] OVERFLOW! Rank 0 Skipping step. Attempted loss scale: "
     "65536, reducing to 32768"},
    {"lightgbm.no_split", "LightGBM", K::kHarmless,
     R"re(\[LightGBM\] \[Warning\] No further splits with positive gain.*)re",
     "[LightGBM] [Warning] No further splits with positive gain, best gain: "
     "-inf"},
    {"tensorflow.not_a_failure", "TensorFlow", K::kHarmless,
     R"re(ran out of memory trying to allocate .*The caller indicates that this is not a failure.*)re",
     "2020-06-01 20:07:58.089327: W "
     "tensorflow/core/common_runtime/bfc_allocator.cc:239] Allocator "
     "(GPU_0_bfc) ran out of memory trying to allocate 45.53MiB with "
     "freed_by_count=0. The caller indicates that this is not a failure, but "
     "may mean that there could be performance gains if more memory were "
     "available."},
    {"keras.not_improved", "Keras", K::kHarmless,
     R"re(\S+ did not improve(?: from \S+)?)re",
     "Epoch 00010: val_acc did not improve from 0.54000"},
    {"python.warnings_call", "Python", K::kHarmless,
     R"re(^\s*warnings\.warn\()re", "  warnings.warn("},

    // --------------------------------------------------------------- critical
    {"cuda.oom", "PyTorch", K::kCritical,
     R"re(CUDA out of memory|OutOfMemoryError|\bMemoryError\b|std::bad_alloc)re",
     "torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate "
     "2.00 GiB"},
    {"out_of_memory", "Linux OOM killer, XLA, generic", K::kCritical,
     R"re((?i)\bout of memory\b|\boom-kill(?:er)?\b|RESOURCE_EXHAUSTED)re",
     "Out of memory: Killed process 7899 (python) total-vm:26,184,840kB"},
    {"killed", "shell, Linux", K::kCritical, R"re(^\s*Killed|\bKilled\b)re",
     "Killedg in train batch: 127687 / 263115"},
    {"fatal", "generic", K::kCritical,
     R"re(\bFATAL\b|(?i:\bfatal(?: error)?:)|\bFatal Python error\b|\bpanic:|terminate called after throwing)re",
     "panic: runtime error: index out of range [5] with length 3"},
    {"segfault", "generic", K::kCritical,
     R"re((?i)segmentation fault|\bcore dumped\b)re",
     "[Info: Device_0: train_Ep_11: loss: 4.38811e+02; avg_loss: "
     "4.53619e+02]:  20%|| 11/56 [00:02<00:08,  5.02it/s]Segmentation fault "
     "(core dumped)"},
    {"nan_loss", "PyTorch, Keras, Hugging Face", K::kCritical,
     R"re((?i)loss[\w/.\-]*['"]?(?:\s*[:=]\s*|\s+(?:is|became|was)\s+)(?:tensor\()?[-+]?nan\b)re",
     "epoch 2 | loss: nan | lr 0.1"},
    {"nccl.watchdog", "PyTorch NCCL", K::kCritical,
     R"re(Watchdog caught collective operation timeout|watchdog thread terminated with exception)re",
     "[E ProcessGroupNCCL.cpp:737] [Rank 1] Watchdog caught collective "
     "operation timeout: WorkNCCL(SeqNum=469508, OpType=ALLREDUCE, "
     "Timeout(ms)=1800000) ran for 1802212 milliseconds before timing out."},
    {"glog.check_failed", "glog (Caffe)", K::kCritical,
     R"re(\bCheck failed: |\*\*\* Check failure stack trace)re",
     " Check failed: error == cudaSuccess (74 vs. 0)  misaligned address"},
    {"cuda.error", "PyTorch, CUDA", K::kCritical,
     R"re(CUDA error: |device-side assert triggered|\bcuDNN error: CUDNN_STATUS_|CUBLAS_STATUS_(?:EXECUTION_FAILED|INTERNAL_ERROR|ALLOC_FAILED))re",
     "RuntimeError: CUDA error: device-side assert triggered"},
    {"torchrun.child_failed", "torchrun (torch.distributed.elastic)",
     K::kCritical,
     R"re(\bChildFailedError\b|torch\.distributed\.elastic\.multiprocessing\.api:failed \(exitcode)re",
     "torch.distributed.elastic.multiprocessing.errors.ChildFailedError: "},
    {"slurm.cancelled", "Slurm", K::kCritical,
     R"re(slurmstepd\S*: error: \*\*\* (?:JOB|STEP) \S+ ON \S+ CANCELLED AT|slurmstepd\S*: error: Detected \d+ oom[-_]kill event)re",
     "slurmstepd: error: *** JOB 3884617 ON node023 CANCELLED AT "
     "2018-08-19T16:30:21 DUE TO TIME LIMIT ***"},
    {"ninja.stopped", "ninja", K::kCritical,
     R"re(^ninja: build stopped)re", "ninja: build stopped: subcommand failed."},
    {"make.stop", "GNU make", K::kCritical,
     R"re(^make(?:\[\d+\])?: \*\*\* .*Stop\.\s*$|^make: \*\*\* \[[^\]]*\] Error \d+)re",
     "make[2]: *** wait: No child processes.  Stop."},
    {"snakemake.exiting", "Snakemake", K::kCritical,
     R"re(^Exiting because a job execution failed)re",
     "Exiting because a job execution failed. Look above for error message"},
    {"keras.terminate_on_nan", "Keras", K::kCritical,
     R"re(Invalid loss, terminating training)re",
     "  3/234 [..............................] - ETA: 33:37:24 - loss: "
     "44.4110Batch 3: Invalid loss, terminating training"},
    {"nextflow.error", "Nextflow", K::kCritical, R"re(^ERROR ~ )re",
     "ERROR ~ Error executing process > 'FASTQC (1)'"},

    // ------------------------------------------------------------------ error
    {"exception", "Python", K::kError,
     R"re(\b[A-Za-z_][\w.]*(?:Error|Exception)\b:)re",
     "requests.exceptions.ConnectionError: Max retries exceeded"},
    {"error_word", "generic", K::kError,
     R"re(^\s*(?:Error|ERROR|error|Exception)\b|\bERROR\b|\berror:|\berror\[E\d+\]:|\berror [A-Z]{1,4}\d{3,5}:)re",
     "main.c:3:5: error: expected ';' before '}' token"},
    {"ninja.failed", "ninja", K::kError, R"re(^FAILED: )re", "FAILED: out "},
    {"make.error", "GNU make", K::kError,
     R"re(^make\[\d+\]: \*\*\* \[[^\]]*\] Error \d+)re",
     "make[2]: *** [obj-x86_64-apple-darwin16.7.0/charlcd.o] Error 1"},
    {"pytest.failed", "pytest", K::kError,
     R"re(^\s*(?:FAILED|FAIL|ERROR) \S+::|^\s*E {2,}\S)re",
     "FAIL foo.py::test[0]"},
    {"snakemake.rule_error", "Snakemake", K::kError, R"re(^Error in rule )re",
     "Error in rule make_plot:"},

    // ---------------------------------------------------------------- warning
    {"warning_word", "generic, Python warnings", K::kWarning,
     R"re(\b[\w.]*Warning\b|\bWARN(?:ING)?\b|(?i:\bwarn(?:ing)?\s*:)|(?i:\[warn(?:ing)?\])|\bwarning [A-Z]{1,4}\d{3,5}:)re",
     "/usr/lib/python3/dist-packages/torch/nn/x.py:12: UserWarning: "
     "deprecated"},
    {"nextflow.retried", "Nextflow", K::kWarning,
     R"re(-- Execution is retried \(\d+\)|-- Error is ignored)re",
     "[2a/0acf5d] NOTE: Process `execute_jobs (46)` terminated with an error "
     "exit status (2) -- Execution is retried (1)",
     0, {}, /*goes_on=*/true},
    {"skips_and_goes_on", "generic", K::kWarning,
     R"re((?i)\bskipp(?:ing|ed) (?:this |the )?(?:step|batch|iteration|sample|update)\b|\bretrying\b|\bwill (?:be )?retried\b)re",
     "loss is nan, skipping batch", 0, {}, /*goes_on=*/true},
    {"horovod.stall", "Horovod", K::kWarning,
     R"re(One or more tensors were submitted to be reduced, gathered or broadcasted by subset of ranks)re",
     "WARNING: One or more tensors were submitted to be reduced, gathered or "
     "broadcasted by subset of ranks and are waiting for remainder of ranks "
     "for more than 60 seconds."},
    {"grad_norm.nan", "Megatron-LM", K::kWarning,
     R"re((?i)\bgrad[_ ]norm\s*[:=]\s*nan\b)re",
     " iteration     5428/  250000 | consumed samples:        43424 | loss "
     "scale: 1.0 | grad norm: nan | number of skipped iterations:   0 |"},
    {"deepspeed.scale_at_minimum", "DeepSpeed", K::kWarning,
     R"re(Attempted loss scale: 1(?:\.0)?, reducing to 1(?:\.0)?\b|Current loss scale already at minimum)re",
     "OVERFLOW! Rank 0 Skipping step. Attempted loss scale: 1, reducing to 1",
     0, {}, false, /*beats_harmless=*/true},
    {"apex.scale_collapsed", "NVIDIA apex", K::kWarning,
     R"re(reducing loss scale to (?:0\.\d+|\d+(?:\.\d+)?e-\d+|1\.0\s*$))re",
     "Gradient overflow.  Skipping step, loss scaler 0 reducing loss scale to "
     "0.5",
     0, {}, false, /*beats_harmless=*/true},

    // -------------------------------------------------------------- discovery
    {"keras.checkpoint_improved", "Keras", K::kDiscovery,
     R"re(\b(?P<metric>\w+) improved from (?P<old>\S+) to (?P<value>[-+\d.eE]+))re",
     "Epoch 00002: val_acc improved from 0.39000 to 0.54000, saving model to "
     "/tmp/model.h5"},
    {"pytorch.early_stopping", "early-stopping-pytorch (Bjarten)",
     K::kDiscovery,
     R"re(Validation loss decreased \((?P<old>\S+) --> (?P<value>[-+\d.eE]+)\))re",
     "Validation loss decreased (0.410000 --> 0.370000).  Saving model ..."},
    {"lightning.checkpoint_reached", "PyTorch Lightning", K::kDiscovery,
     R"re(\bglobal step \d+: \S+ reached (?P<value>[-+\d.eE]+) \(best (?P<best>[-+\d.eE]+)\))re",
     "Epoch 292, global step 11720: 'val_loss' reached 0.04955 (best "
     "0.04955), saving model to '/best_loss.ckpt' as top 1"},
    {"lightning.early_stopping", "PyTorch Lightning", K::kDiscovery,
     R"re(Metric \S+ improved(?: by \S+ >= min_delta = \S+)?\. New best score: (?P<value>[-+\d.eE]+))re",
     "Metric val_loss improved by 0.050 >= min_delta = 0.0. New best score: "
     "0.350"},
    {"mmcv.best_checkpoint", "OpenMMLab (MMCV, MMEngine)", K::kDiscovery,
     R"re(The best checkpoint with (?P<value>[-+\d.eE]+) \S+ at \d+ (?:epoch|iter) is saved|Now best checkpoint is saved as)re",
     "The best checkpoint with 0.8 accuracy_top-1 at 2 epoch is saved to "
     "best_accuracy_top-1_epoch_2.pth."},
    {"optuna.best_trial", "Optuna", K::kDiscovery,
     R"re(Trial #?(?P<trial>\d+) finished with value.*Best is trial #?(?P<best_trial>\d+) with value: (?P<value>[^\s,]+)|Finished trial#(?P<trial2>\d+) with value.*Best is trial#(?P<best_trial2>\d+) with value: (?P<value2>[^\s,]+)|Best is trial#? ?(?P<best_trial3>\d+) with value: (?P<value3>[^\s,]+))re",
     "[I 2020-12-16 12:46:55,364] Trial 42 finished with value: 0.934375 and "
     "parameters: {'n_layers': 1}. Best is trial 31 with value: 0.95.",
     0, {}, false, false, /*state=*/true},
    {"optuna.current_best", "Optuna (< 2.0)", K::kDiscovery,
     R"re(Finished trial#\d+ resulted in value: (?P<value>[-+\d.eE]+)\. Current best value is (?P<best>[-+\d.eE]+))re",
     "[I 2019-09-26 16:58:23,064] Finished trial#1 resulted in value: "
     "0.3400000035762787. Current best value is 0.3400000035762787 with "
     "parameters: {'optimizer': 'sgd'}.",
     0, {}, false, false, /*state=*/true},

    // --------------------------------------------------------------- progress
    {"ray_tune.trials", "Ray Tune", K::kProgress,
     R"re(Number of trials: \d+/(?P<total>\d+) \([^)]*?\b(?P<done>\d+) TERMINATED)re",
     "Number of trials: 4/4 (1 RUNNING, 3 TERMINATED)", 0, "trials"},
    {"ray_tune.trials_dict", "Ray Tune (< 1.0)", K::kProgress,
     R"re(Number of trials: (?P<total>\d+) \(\{[^}]*'TERMINATED': (?P<done>\d+))re",
     "Number of trials: 1000 ({'TERMINATED': 252, 'RUNNING': 63, 'PENDING': "
     "685})",
     0, "trials"},
    {"labeled_counter", "PyTorch, Optuna, Megatron, DeepSpeed, generic",
     K::kProgress,
     R"re((?i)(?:\b|_)(?P<label>trial|epoch|step|iter(?:ation)?|batch)s?\s*[:#]?\s*\[?\s*(?P<done>\d+)\s*(?:/|of\b)\s*(?P<total>\d+))re",
     " iteration     5426/  250000 | consumed samples:        43408 |", -1},
    {"openmmlab.epoch_iter", "OpenMMLab (MMCV)", K::kProgress,
     R"re((?i)\bEpoch(?:\((?:train|val|test)\))?\W{0,3}\[(?P<outer>\d+)\]\[(?P<done>\d+)/(?P<total>\d+)\])re",
     "2023-05-31 15:08:46,211 - mmaction - INFO - Epoch [3][38/43]\tlr: "
     "3.124e-03, eta: 0:14:03",
     1, "Epoch"},
    {"nested_brackets", "Swin Transformer, timm-style trainers",
     K::kProgress,
     R"re(\[(?P<done>\d+)/(?P<total>\d+)\]\[\d+/\d+\])re",
     "[2021-04-25 05:35:19 swin_base_patch4_window7_224](main_prune.py 310): "
     "INFO Train: [0/300][4050/5004]   eta 0:17:06 lr 0.000500",
     1},
    {"hf.total_steps", "Hugging Face Transformers (Trainer)", K::kProgress,
     R"re(^\s*Total optimization steps = (?P<total>\d+))re",
     "  Total optimization steps = 564", 2, "step"},
    {"hf.log_step", "Hugging Face Transformers (Trainer)", K::kProgress,
     R"re(^\{'loss': .*'step': (?P<done>\d+)\}$)re",
     "{'loss': 18.6387, 'learning_rate': 4.9113474e-05, 'epoch': "
     "0.05851063829787234, 'step': 10}",
     2, "step"},
    {"nextflow.process", "Nextflow", K::kProgress,
     R"re(\[\s*\d+%\]\s+(?P<done>\d+) of (?P<total>\d+))re",
     "[3c/cbb0c0] process > execute_jobs (51) [  0%] 2 of 227, failed: 2, "
     "retries: 2",
     2},
    {"snakemake.steps", "Snakemake", K::kProgress,
     R"re(^(?P<done>\d+) of (?P<total>\d+) steps \(\d+%\) done)re",
     "1 of 3 steps (33%) done", 2, "steps"},
    {"ninja.edges", "ninja", K::kProgress,
     R"re(^\[(?P<done>\d+)/(?P<total>\d+)\] )re",
     "[112/156] Building CXX object tools\\CMakeFiles\\caffe.bin.dir\\caffe.cpp.obj",
     2},
    {"cargo.building", "cargo", K::kProgress,
     R"re(\] (?P<done>\d+)/(?P<total>\d+): )re",
     "warning: unused variable: `py`=======> ] 105/106: vrp_env", 2},
    {"joblib.done", "scikit-learn (joblib)", K::kProgress,
     R"re(\bDone\s+(?P<done>\d+) out of\s+(?P<total>\d+))re",
     "[Parallel(n_jobs=4)]: Done  50 out of  50 | elapsed:    1.2s finished",
     2},
    {"cmake.percent", "CMake Makefiles", K::kProgress,
     R"re(^\[\s*(?P<pct>\d{1,3})%\] )re",
     "[ 12%] Building CXX object lib/Support/CMakeFiles/LLVMSupport.dir/Timer.cpp.o",
     2},
    {"pytest.percent", "pytest", K::kProgress,
     R"re(\s\[\s*(?P<pct>\d{1,3})%\]\s*$)re",
     "foo.py F.F.F.F.F.                                              [100%]",
     2},
    {"tqdm.bar", "tqdm (Hugging Face, Lightning, accelerate, vLLM)",
     K::kProgress, R"re((?P<done>\d+)/(?P<total>\d+)\s*\[\d+:\d+)re",
     " 14%|█▍        | 378/2724 [13:58:09<86:18:35, 132.44s/it]", 3},
    {"keras.bar", "Keras", K::kProgress,
     R"re(^\s*(?P<done>\d+)/(?P<total>\d+) \[[=>.]*\])re",
     "430/430 [==============================] - 1s 2ms/step", 3},
    {"percent", "generic", K::kProgress,
     R"re((?i)^\s*(?P<pct>\d{1,3}(?:\.\d+)?)\s*%|(?P<pct2>\d{1,3}(?:\.\d+)?)%\s*\||progress\W{0,3}(?P<pct3>\d{1,3}(?:\.\d+)?)\s*%|(?P<pct4>\d{1,3}(?:\.\d+)?)\s*%\s*(?:complete|done)|(?:complete|done)\s*\[\s*(?P<pct5>\d{1,3})%\])re",
     "Progress: 45%", 3},
};

}  // namespace

std::string_view RuleKindName(RuleKind kind) {
  switch (kind) {
    case RuleKind::kProgress:
      return "progress";
    case RuleKind::kError:
      return "error";
    case RuleKind::kCritical:
      return "critical";
    case RuleKind::kWarning:
      return "warning";
    case RuleKind::kDiscovery:
      return "discovery";
    case RuleKind::kHarmless:
      return "harmless";
    case RuleKind::kSeverityPrefix:
      return "severity";
  }
  return "error";
}

std::span<const LogRule> BuiltinLogRules() { return kRules; }

}  // namespace aetherflow
