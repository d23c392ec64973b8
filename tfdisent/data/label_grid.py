"""Label tables -> the factor grid of a dataset (:class:`LabelGrid`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np

from tfdisent.data.locate import file_error


@dataclass(frozen=True)
class LabelGrid:
    """A complete factor grid recovered from a per-row label table.

    ``factor_values[i]`` are the sorted distinct label values of factor i (a factor's index is the rank
    of its value), and ``grid_to_row[flat]`` is the file row holding the observation of grid cell
    ``flat`` (C order, last factor fastest). ``grid_to_row`` is None when the file is already in grid
    order, so the common case costs no lookup table.
    """

    factor_values: Tuple[np.ndarray, ...]
    factor_sizes: Tuple[int, ...]
    grid_to_row: Optional[np.ndarray]

    def rows(self, flat_indices: np.ndarray) -> np.ndarray:
        flat_indices = np.asarray(flat_indices, dtype=np.int64)
        return flat_indices if self.grid_to_row is None else self.grid_to_row[flat_indices]


def grid_from_labels(labels: np.ndarray, dataset: str, path: str) -> LabelGrid:
    """Derives the factor grid from a label table [rows, factors] and checks that it is complete:
    every combination of the distinct values of every column appears exactly once.
    """
    labels = np.asarray(labels)
    if labels.ndim != 2 or labels.shape[0] == 0:
        raise file_error(dataset, path, f"labels must be a non-empty [rows, factors] table, "
                                        f"got shape {labels.shape}")
    values, codes = [], []
    for column in labels.T:
        distinct, code = np.unique(column, return_inverse=True)
        values.append(distinct)
        codes.append(code.reshape(-1))
    sizes = tuple(int(len(v)) for v in values)
    num_cells = int(np.prod(sizes, dtype=np.int64))
    flat = np.ravel_multi_index(tuple(codes), sizes).astype(np.int64)
    counts = np.bincount(flat, minlength=num_cells)
    if labels.shape[0] != num_cells or counts.max() != 1:
        missing = int((counts == 0).sum())
        duplicated = int((counts > 1).sum())
        raise file_error(dataset, path,
                         f"labels do not form a complete factor grid ({labels.shape[0]} rows for "
                         f"{'x'.join(map(str, sizes))}={num_cells} combinations; {missing} missing, "
                         f"{duplicated} duplicated)")
    if np.array_equal(flat, np.arange(num_cells)):
        return LabelGrid(tuple(values), sizes, None)
    grid_to_row = np.empty(num_cells, dtype=np.int64)
    grid_to_row[flat] = np.arange(num_cells, dtype=np.int64)
    return LabelGrid(tuple(values), sizes, grid_to_row)
