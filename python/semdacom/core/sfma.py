"""SC-SFMA system model (seed 001, *Semantic Feature Multiple Access Empowered Integrated Learning
and Communication Networks*), reconstructed in ``docs/sfma_model.md``.

numpy/scipy only: the SFMA optimiser (``optimize/sfma``) and the learned transceiver's profiling
code (``sfma/``) both import it, and it never imports torch or GNU Radio.
"""

from __future__ import annotations

__all__ = [
    "PAIR_CLASSES",
    "SUPER_GROUPS",
    "pair_class",
]

#: Pair classes of Fashion-MNIST label pairs (docs/sfma_model.md, "Pair classes").
PAIR_CLASSES = ("same", "related", "dissimilar")

#: Fashion-MNIST super-groups: tops {T-shirt, Pullover, Dress, Coat, Shirt}, footwear
#: {Sandal, Sneaker, Ankle boot}, trouser, bag.
SUPER_GROUPS = {
    "tops": (0, 2, 3, 4, 6),
    "footwear": (5, 7, 9),
    "trouser": (1,),
    "bag": (8,),
}
_GROUP_OF = {label: name for name, labels in SUPER_GROUPS.items() for label in labels}


def pair_class(label_a: int, label_b: int) -> str:
    """Pair class of two Fashion-MNIST labels: ``"same"`` (equal labels), ``"related"``
    (different labels in one super-group) or ``"dissimilar"`` (otherwise).

    The seed's interference factor xi (eq. (10)) is pair dependent; we profile it per pair class
    (docs/sfma_model.md). Raises ``ValueError`` for a label outside 0..9.
    """
    a, b = int(label_a), int(label_b)
    if a != label_a or b != label_b or a not in _GROUP_OF or b not in _GROUP_OF:
        raise ValueError(f"Fashion-MNIST labels are integers 0..9, got {label_a!r}, {label_b!r}")
    if a == b:
        return "same"
    if _GROUP_OF[a] == _GROUP_OF[b]:
        return "related"
    return "dissimilar"
