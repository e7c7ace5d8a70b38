"""The evaluation harness behind `coach eval`: datasets, statistics, one module per suite, the runner and the report.
Leaves out the coach itself (search, ask, grade, judge): suites only call it and score what comes back."""

from .harness import CHOICES, SUITES, EvalRun, plan, run_eval

__all__ = ["CHOICES", "SUITES", "EvalRun", "plan", "run_eval"]
