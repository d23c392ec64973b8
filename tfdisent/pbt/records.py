"""What a PBT run leaves on disk: ``population.csv`` (one row per member x generation), the best
member's lineage (Estermann et al. 2020 export the best model across all generations) and
TensorBoard scalars.

``population.csv`` columns: member, generation, score, learning_rate, batch_size, beta,
copied_from. ``copied_from`` is empty unless the member started that generation from a copy of
another member (truncation selection after the previous generation): it then names the donor,
whose generation ``generation - 1`` checkpoint was copied. Extra columns follow the fixed ones.
"""

from __future__ import annotations

import csv
import json
import math
import os
from typing import Dict, Iterable, List, Mapping, Optional, Sequence

from tfdisent.files import write_text_atomic

COLUMNS = ("member", "generation", "score", "learning_rate", "batch_size", "beta", "copied_from")
EXTRA_COLUMNS = ("nan", "fitness_error", "steps", "train_loss", "wall_seconds")
POPULATION_FILE = "population.csv"
LINEAGE_FILE = "lineage.json"
MEMBERS_DIR = "members"


def checkpoint_dir(output_dir: str, member: int, generation: int) -> str:
    """Where ``member`` saved its state after ``generation`` (weights, optimizer, data stream and
    ``pbt_member.json``): the run's own layout, ``DIR/members/member_<m>/generation_<g>``."""
    return os.path.join(output_dir, MEMBERS_DIR, f"member_{int(member):03d}", f"generation_{int(generation):04d}")


def _write_atomic(path: str, text: str) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    write_text_atomic(path, text)


def row_from_result(result: Mapping[str, object]) -> Dict[str, object]:
    """The population.csv row of one reported result (the member trainable's report dict)."""
    row = {name: result.get(name, "") for name in COLUMNS + EXTRA_COLUMNS}
    row["copied_from"] = "" if result.get("copied_from") in (None, "", -1) else int(result["copied_from"])
    row["score"] = result.get("fitness", result.get("score", ""))  # "score" is Ray's (-1 for NaN members)
    row["member"] = int(result["member"])
    row["generation"] = int(result["generation"])
    return row


def merge_rows(existing: Iterable[Mapping[str, object]], new: Iterable[Mapping[str, object]]) -> List[dict]:
    """Rows keyed by (member, generation); a later row replaces an earlier one (a resumed run
    repeats the generation it was killed in). Sorted by generation, then member."""
    table: Dict[tuple, dict] = {}
    for row in list(existing) + list(new):
        table[(int(row["member"]), int(row["generation"]))] = dict(row)
    return [table[key] for key in sorted(table, key=lambda key: (key[1], key[0]))]


def write_population(path: str, rows: Sequence[Mapping[str, object]]) -> str:
    """Writes population.csv atomically (fixed columns first)."""
    lines: List[str] = []

    class _Sink:
        def write(self, text):
            lines.append(text)

    writer = csv.DictWriter(_Sink(), fieldnames=list(COLUMNS + EXTRA_COLUMNS), extrasaction="ignore",
                            lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: ("" if value is None else value) for key, value in row.items()})
    _write_atomic(path, "".join(lines))
    return path


def read_population(path: str) -> List[dict]:
    """population.csv as a list of dicts with numbers parsed (``copied_from`` None when empty)."""
    if not os.path.exists(path):
        return []
    rows = []
    with open(path, newline="") as stream:
        for raw in csv.DictReader(stream):
            row: Dict[str, object] = dict(raw)
            row["member"] = int(raw["member"])
            row["generation"] = int(raw["generation"])
            for name in ("score", "learning_rate", "beta"):
                row[name] = float(raw[name]) if raw.get(name) not in (None, "") else math.nan
            row["batch_size"] = int(float(raw["batch_size"])) if raw.get("batch_size") not in (None, "") else 0
            row["copied_from"] = int(raw["copied_from"]) if raw.get("copied_from") not in (None, "") else None
            rows.append(row)
    return rows


def best_row(rows: Sequence[Mapping[str, object]]) -> Optional[Mapping[str, object]]:
    """The best (member, generation) over the whole run; ties go to the earlier generation, then
    the lower member id. NaN and NaN-member rows never win."""
    valid = [row for row in rows if isinstance(row["score"], (int, float)) and math.isfinite(float(row["score"]))
             and str(row.get("nan", "")).lower() not in ("true", "1")]
    if not valid:
        return None
    return max(valid, key=lambda row: (float(row["score"]), -int(row["generation"]), -int(row["member"])))


def lineage(rows: Sequence[Mapping[str, object]], member: int, generation: int) -> List[dict]:
    """The history of the model that ``member`` held after ``generation``, oldest first: for each
    generation the member that trained it, its score and hyperparameters, and where a copy
    happened (``copied_from`` names the donor whose previous-generation weights were taken)."""
    table = {(int(row["member"]), int(row["generation"])): row for row in rows}
    chain = []
    current, g = int(member), int(generation)
    while (current, g) in table:
        row = table[(current, g)]
        chain.append({"generation": g, "member": current, "score": row["score"],
                      "learning_rate": row["learning_rate"], "batch_size": row["batch_size"],
                      "beta": row["beta"], "copied_from": row["copied_from"]})
        if row["copied_from"] not in (None, ""):
            current = int(row["copied_from"])
        g -= 1
    return chain[::-1]


def write_lineage(path: str, rows: Sequence[Mapping[str, object]], member: int, generation: int,
                  extra: Optional[Mapping[str, object]] = None) -> dict:
    """Writes the best model's lineage JSON and returns it."""
    chain = lineage(rows, member, generation)
    payload = {"member": int(member), "generation": int(generation),
               "score": chain[-1]["score"] if chain else None,
               "copies": [{"generation": step["generation"], "from_member": step["copied_from"],
                           "to_member": step["member"]} for step in chain if step["copied_from"] is not None],
               "schedule": chain}
    payload.update(dict(extra or {}))
    _write_atomic(path, json.dumps(payload, indent=2, default=float) + "\n")
    return payload


def generation_summary(rows: Sequence[Mapping[str, object]]) -> List[dict]:
    """Per generation: best, median and worst score, and the number of copies."""
    generations = sorted({int(row["generation"]) for row in rows})
    summary = []
    for g in generations:
        scores = [float(row["score"]) for row in rows if int(row["generation"]) == g
                  and math.isfinite(float(row["score"]))]
        copies = sum(1 for row in rows if int(row["generation"]) == g and row["copied_from"] not in (None, ""))
        scores.sort()
        summary.append({"generation": g, "best": scores[-1] if scores else math.nan,
                        "median": scores[len(scores) // 2] if scores else math.nan,
                        "worst": scores[0] if scores else math.nan, "members": len(scores), "copies": copies})
    return summary


def write_tensorboard(log_dir: str, rows: Sequence[Mapping[str, object]]) -> None:
    """Scalars ``pbt/score/member_<m>``, hyperparameters per member, best/median per generation
    and ``pbt/copies`` (exploit events), step = generation. Rewrites the event file directory."""
    import shutil

    import tensorflow as tf  # noqa: PLC0415 - only the driver writes summaries

    if os.path.isdir(log_dir):
        shutil.rmtree(log_dir)
    writer = tf.summary.create_file_writer(log_dir)
    with writer.as_default():
        for row in rows:
            g, m = int(row["generation"]), int(row["member"])
            for name in ("score", "learning_rate", "batch_size", "beta"):
                value = row.get(name)
                if value not in (None, "") and math.isfinite(float(value)):
                    tf.summary.scalar(f"pbt/{name}/member_{m:03d}", float(value), step=g)
        for entry in generation_summary(rows):
            for name in ("best", "median", "copies"):
                if math.isfinite(float(entry[name])):
                    tf.summary.scalar(f"pbt/generation_{name}", float(entry[name]), step=entry["generation"])
    writer.close()
