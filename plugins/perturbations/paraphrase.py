"""Built-in query perturbation ``paraphrase``: rewording by whatever plugin fills the hook.

Paraphrasing needs a generative model, which rankarena does not ship; the ``paraphrase`` hook
(``rankarena.core.hookspecs.paraphrase``) lets a model-backed plugin provide it. This perturbation
picks k = ``change_count(n, intensity)`` of the n queries (uniformly, from ``rng``), asks the
host for their paraphrases with a seed drawn from ``rng``, and returns every other query
unchanged. Paraphrase robustness follows the query-variation dimension of Wu et al. 2022,
"Are Neural Ranking Models Robust?" (ACM TOIS) and Penha, Câmara & Hauff 2022, "Evaluating the
Robustness of Retrieval Pipelines with Query Variation Generators" (ECIR).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

import rankarena
from rankarena import RankarenaError
from rankarena.api.perturbation import change_count, check_intensity, choose_positions


class Paraphrase:
    """Replace a share of the queries by a plugin's paraphrases.

    :param intensity: share of the queries that are paraphrased.
    """

    target = "queries"

    def __init__(self, intensity: float = 0.5):
        self.intensity = check_intensity("perturbation 'paraphrase'", intensity)

    def apply(self, texts: Mapping[str, str], rng: np.random.Generator) -> dict[str, str]:
        """The texts, with ``change_count(n, intensity)`` of them paraphrased."""
        out = dict(texts)
        keys = list(texts)
        picked = [
            keys[i]
            for i in choose_positions(len(keys), change_count(len(keys), self.intensity), rng)
        ]
        if not picked:
            return out
        seed = int(rng.integers(2**31))
        rewritten = rankarena.plugin_manager().paraphrase([texts[k] for k in picked], seed)
        if rewritten is None:
            raise RankarenaError(
                "perturbation 'paraphrase': no plugin implements the paraphrase hook; install "
                "a paraphraser plugin (see docs/hooks.md, paraphrase)"
            )
        out.update(zip(picked, rewritten, strict=True))
        return out


@rankarena.hookimpl
def register_perturbations(register) -> None:
    register("paraphrase", Paraphrase)
