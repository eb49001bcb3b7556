"""An LLM judge's suggestion of which salient features are about safety.

Each feature's top activating contexts go into a rubric prompt (`rubric`); a backend answers
it (`openai_chat`: any chat-completions server; `local_chat`: a small model on this machine);
the answer is read strictly as a 1–5 score and a one-line explanation, or stored as a
failure with its reason. `plan` chooses the features and finds cached answers, `run` asks
and stores each answer as it arrives. The judgements live in `labels.sqlite`
(`safer_engine.labels.judgements`), where the explorer reads them.

An explanation's fit tests it on held-out contexts (`holdout`): the judge says yes or no per
context (`fit_prompt`), `fit_plan` builds the calls and finds cached scores, `fit_run` asks
and stores each feature's balanced accuracy and AUC (`safer_engine.labels.fits`).
"""

from safer_engine.judge.backends import make_backend
from safer_engine.judge.chat import CallStats, ChatBackend, Reply, RequestFailed
from safer_engine.judge.fit_plan import FitJob, FitPlan, calls_per_feature, plan_fits
from safer_engine.judge.fit_run import FitReport, FitTotals, score_explanations
from safer_engine.judge.plan import FeatureJob, JudgePlan, judged_sae, plan_judging
from safer_engine.judge.run import JudgeReport, JudgeTotals, judge_features

__all__ = [
    "CallStats",
    "ChatBackend",
    "FeatureJob",
    "FitJob",
    "FitPlan",
    "FitReport",
    "FitTotals",
    "JudgePlan",
    "JudgeReport",
    "JudgeTotals",
    "Reply",
    "RequestFailed",
    "calls_per_feature",
    "judge_features",
    "judged_sae",
    "make_backend",
    "plan_fits",
    "plan_judging",
    "score_explanations",
]
