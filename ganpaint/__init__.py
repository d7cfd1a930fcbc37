"""GANPaint: paint with concepts on scenes made by a generative adversarial network.

    from ganpaint import PaintModel, Stroke, compose
    m = PaintModel.load("models/scenes")
    h = m.features(m.z_for_seed(7))
    stroke = Stroke.from_dict({"concept": "tree", "points": [[0.3, 0.8], [0.7, 0.8]]})
    img = m.paint(h, [stroke])            # (1, 3, R, R) in [-1, 1], as the app shows it
    alpha, value = compose([stroke], m.table, m.channels, m.layer_size)   # the edit at layer4 itself
    img_everywhere = m.render(h, alpha, value)   # the generator's whole response, beyond the stroke too
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
