"""GANPaint: paint with concepts on scenes made by a generative adversarial network.

    from ganpaint import PaintModel, Stroke, compose
    m = PaintModel.load("models/scenes")
    h = m.features(m.z_for_seed(7))
    stroke = Stroke.from_dict({"concept": "tree", "points": [[0.3, 0.8], [0.7, 0.8]]})
    alpha, value = compose([stroke], m.table, m.channels, m.layer_size)
    img = m.render(h, alpha, value)
"""
from .gan.checkpoint import CheckpointError, load_generator
from .paint.concepts import ConceptTable
from .paint.edit import Stroke, StrokeError, apply_edit, compose
from .paint.model import PaintModel
from .gan.networks import Generator, GeneratorConfig

__all__ = [
    "CheckpointError", "load_generator", "ConceptTable", "Stroke", "StrokeError", "apply_edit", "compose",
    "PaintModel", "Generator", "GeneratorConfig",
]
__version__ = "0.1.0"
