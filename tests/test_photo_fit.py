import numpy as np
import torch

from ganpaint.photo.photo_fit import fit_summary, photo_omissions


class ColourSegmenter:
    """A stand-in Segmenter: red pixels are 'brick', blue 'sky', the rest 'grass'."""

    labels = ("sky", "grass", "brick")
    id = "colour-test"

    def segment(self, images: torch.Tensor) -> torch.Tensor:
        r, b = images[:, 0], images[:, 2]
        out = torch.ones(images.shape[0], *images.shape[2:], dtype=torch.long)
        out[b > 0.5] = 0
        out[r > 0.5] = 2
        return out


def test_omissions_list_what_the_reconstruction_loses():
    photo = np.zeros((16, 16, 3), np.uint8)
    photo[:8, :, 2] = 255  # sky on top (50 %)
    photo[8:, :4, 0] = 255  # a brick wall (12.5 %)
    recon = photo.copy()
    recon[8:, :4] = 0  # the model drew grass where the wall was
    om = photo_omissions(ColourSegmenter(), photo, recon)
    assert om["segmenter"] == "colour-test" and om["labels"] == ["sky", "grass", "brick"]
    assert om["photo"] == {"sky": 0.5, "grass": 0.375, "brick": 0.125}
    assert om["reconstruction"]["brick"] == 0 and om["reconstruction"]["grass"] == 0.5
    assert [o["class"] for o in om["omitted"]] == ["brick"] and om["missing_share"] == 0.125
    # tensors in [-1, 1] read the same
    t = torch.from_numpy(photo).permute(2, 0, 1)[None].float() / 127.5 - 1
    assert photo_omissions(ColourSegmenter(), t, t)["omitted"] == []


def test_fit_summary_levels_and_words():
    assert fit_summary(27.0) == {"level": "good", "psnr_model": 27.0, "hint": None, "omitted": []}
    rough = fit_summary(23.0)
    assert rough["level"] == "rough" and "roughly" in rough["hint"]
    poor = fit_summary(19.6, {"omitted": [{"class": "sky"}, {"class": "tree"}]})
    assert poor["level"] == "poor" and "far from" in poor["hint"] and "sky and tree" in poor["hint"]
    assert fit_summary(28.0, {"omitted": [{"class": "door"}]})["level"] == "rough"  # a lost class is never "good"
