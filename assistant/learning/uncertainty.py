"""How unsure the model was of an answer: the entropy of its next-token distribution at each generated token."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class EntropyMeter:
    """A llama-cpp-python logits processor that records each step's entropy (nats) and changes nothing."""

    entropies: list[float] = field(default_factory=list)

    def __call__(self, _input_ids: Any, scores: np.ndarray) -> np.ndarray:
        logits = np.asarray(scores, dtype=np.float32)
        finite = logits[np.isfinite(logits)]
        if finite.size:
            shifted = finite - finite.max()
            weights = np.exp(shifted)
            total = float(weights.sum())
            # H = log Z - E[s]: one pass, no log of tiny probabilities.
            self.entropies.append(max(0.0, float(np.log(total) - float((weights * shifted).sum()) / total)))
        return scores

    def reset(self) -> None:
        self.entropies.clear()

    def summary(self) -> dict[str, float | int] | None:
        """Mean and max token entropy of the generation, or None when nothing was generated."""
        if not self.entropies:
            return None
        values = np.asarray(self.entropies)
        return {"mean_entropy": round(float(values.mean()), 4), "max_entropy": round(float(values.max()), 4),
                "tokens": int(values.size)}
