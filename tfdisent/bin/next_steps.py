"""The commands the binaries print as next steps: one pure function per binary, so that the binary
prints exactly what a test runs (tests/test_commands.py executes every one of them).

Each function returns ``[(label, command), ...]``; a command uses only flags and paths that exist
once the printing binary has finished (an evaluate step is offered only when there is an export).
No flags, no TensorFlow: this module is safe to import anywhere.
"""

from __future__ import annotations

import os
import shlex
from typing import List, Optional, Sequence, Tuple

NextSteps = List[Tuple[str, str]]

# tfdisent-evaluate's suggested metrics after training: MIG, DCI and SAP (the study's three most used).
SUGGESTED_METRICS = "mig,dci,sap"


def _quote(path: str) -> str:
    return shlex.quote(os.path.abspath(path))


def _plugins_flag(plugins: Sequence[str]) -> str:
    """`` --plugins=a,b`` when the run used plugins (a plugin's dataset or metric is needed again)."""
    return f" --plugins={','.join(plugins)}" if plugins else ""


def train_next_steps(run_dir: str, exported: bool, plugins: Sequence[str] = ()) -> NextSteps:
    """After ``tfdisent-train``: evaluate and picture the export (if there is one), TensorBoard."""
    run, extra = _quote(run_dir), _plugins_flag(plugins)
    steps: NextSteps = []
    if exported:
        steps += [("evaluate", f"tfdisent-evaluate{extra} --model_dir={run} --metrics={SUGGESTED_METRICS}"),
                  ("pictures", f"tfdisent-visualize{extra} --model_dir={run}")]
    steps.append(("tensorboard", f"tensorboard --logdir {_quote(os.path.join(run_dir, 'logs'))}"))
    return steps


def study_next_steps(output_dir: str, verb: str, has_results: bool = True) -> NextSteps:
    """After ``tfdisent-study run`` or ``aggregate``: the report (when some model finished) and
    TensorBoard over every model."""
    out = _quote(output_dir)
    steps: NextSteps = []
    if verb in ("run", "aggregate") and has_results:
        steps.append(("report", f"tfdisent-study analyze --output_dir={out}"))
    if verb == "run":
        steps.append(("tensorboard", f"tensorboard --logdir {_quote(os.path.join(output_dir, 'models'))}"))
    return steps


def pbt_next_steps(output_dir: str, export: Optional[str], plugins: Sequence[str] = ()) -> NextSteps:
    """After ``tfdisent-pbt``: evaluate and picture the best model (when it was exported: the toy
    backend exports none), TensorBoard over the population."""
    best, extra = os.path.join(output_dir, "best"), _plugins_flag(plugins)
    steps: NextSteps = []
    if export:
        steps += [("evaluate best",
                   f"tfdisent-evaluate{extra} --model_dir={_quote(best)} --metrics={SUGGESTED_METRICS}"),
                  ("pictures", f"tfdisent-visualize{extra} --model_dir={_quote(best)}")]
    steps.append(("tensorboard", f"tensorboard --logdir {_quote(os.path.join(output_dir, 'logs'))}"))
    return steps


def visualize_next_steps(run_dir: str, projector: bool) -> NextSteps:
    """After ``tfdisent-visualize``: TensorBoard's Embedding Projector on the run's logs."""
    if not projector:
        return []
    return [("projector", f"tensorboard --logdir {_quote(os.path.join(run_dir, 'logs'))}")]


def format_next_steps(steps: Sequence[Tuple[str, str]]) -> str:
    """``next steps:`` then one ``  label:  command`` line each, labels aligned."""
    width = max(len(label) for label, _ in steps) + 1
    return "\n".join(["next steps:"] + [f"  {label + ':':<{width}}  {command}" for label, command in steps])


def commands_in(text: str) -> List[str]:
    """The commands in a binary's printed closing block (the lines after ``next steps:``), for tests
    that run exactly what was printed."""
    lines = text.splitlines()
    if "next steps:" not in lines:
        return []
    found = []
    for line in lines[lines.index("next steps:") + 1:]:
        if not line.startswith("  ") or ":" not in line:
            break
        found.append(line.split(":", 1)[1].strip())
    return found
