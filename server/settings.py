"""Server settings: one pydantic-settings class, read from GANPAINT_* environment variables.

    s = Settings()                                  # GANPAINT_PORT=9000 GANPAINT_MODELS='["scenes"]' ...
    s = Settings(device="cpu", max_sessions=4)      # tests and the CLI override fields directly

Everything that bounds memory or work per client lives here, so an operator can see and tune it.
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ganpaint.paint.edit import StrokeLimits

__all__ = ["Settings", "REPO_ROOT"]

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GANPAINT_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    threads: int | None = Field(None, ge=1, description="render threads on a CPU: batches are split across them, "
                                "torch runs single-threaded in each (default: one per core)")
    models_dir: Path = REPO_ROOT / "models"
    models: list[str] = Field(["scenes"], description='model ids to load; ["all"] loads every model with weights')
    home: Path | None = Field(None, description="download cache with pulled models (default ~/.cache/ganpaint)")
    frontend_dir: Path = REPO_ROOT / "frontend"
    cors_origins: list[str] = Field([], description="other sites' origins that may call the API, upload and open "
                                    "websockets (e.g. https://tools.example.org)")
    allowed_hosts: list[str] | None = Field(None, description='Host names served ("*.example.org" and "*" work); '
                                            "default: localhost names when bound to loopback, else any")

    store: str | None = Field(None, description="where sessions outlive the process: unset → an SQLite file under "
                              "GANPAINT_HOME (a restarted server keeps them); 'redis://host:port/db' → shared by "
                              "replicas; 'none' → in memory only, lost on restart")

    # sessions: every one holds cached activations and its history, so both are capped
    session_ttl_s: float = Field(3600.0, gt=0)
    max_sessions: int = Field(256, ge=1)
    max_strokes: int = Field(100, ge=1, description="committed strokes per image")
    max_history: int = Field(100, ge=1, description="undo steps kept per session")
    max_session_points: int = Field(20_000, ge=1, description="stroke points kept per session, all history")
    frame_cache: int = Field(8, ge=0, description="encoded frames of committed states kept per session")

    # input limits
    max_message_bytes: int = Field(4 * 2**20, ge=1024, description="one websocket text message")
    max_body_bytes: int = Field(4 * 2**20, ge=1024, description="one REST request body")
    max_upload_bytes: int = Field(10 * 2**20, ge=1024, description="one uploaded image")
    max_upload_pixels: int = Field(4096 * 4096, ge=1)
    header_timeout_s: float = Field(10.0, gt=0, description="a request's headers must arrive within this")
    body_timeout_s: float = Field(60.0, gt=0, description="a request's body must arrive within this after its "
                                  "headers (408 otherwise)")
    max_points: int = Field(2048, ge=1, description="points in one stroke")
    max_mask_bytes: int = Field(2_000_000, ge=1)
    max_request_mask_pixels: int = Field(4096 * 4096, ge=1, description="pixels of all masks in one request or "
                                         "websocket message together: decoding a 4096² RGBA mask takes ~1 s of CPU")
    decode_threads: int = Field(2, ge=1, description="threads that decode masks and uploads (one client uses one "
                                "at a time)")

    # per client (IP address): a burst, then a steady rate; beyond it 429 with Retry-After
    client_session_burst: int = Field(30, ge=1, description="new sessions one client may make at once")
    client_sessions_per_min: float = Field(30.0, gt=0, description="new sessions per client and minute after that")
    client_upload_burst: int = Field(6, ge=1, description="uploads (photos, segment) one client may send at once")
    client_uploads_per_min: float = Field(6.0, gt=0, description="uploads per client and minute after that")
    client_sockets: int = Field(16, ge=1, description="websockets one client may hold open")
    session_protect_s: float = Field(300.0, ge=0, description="a session used within this is evicted only when "
                                     "no idle one is left")
    client_sessions: int = Field(32, ge=1, description="sessions one client may hold; a new one beyond this "
                                 "replaces that client's own least recently used idle session")

    # rendering
    batching: bool = True
    region_previews: bool = Field(True, description="previews re-render only what changed since the socket's "
                                  "previous frame (ganpaint.gan.renderer.RegionRenderer); they then do not batch")
    fold: bool = Field(True, description="on a CPU, render through the folded generator (ganpaint.gan.folding): "
                       "the same images up to float rounding, faster; off: the plain network")
    max_batch: int = Field(8, ge=1)
    max_pending: int = Field(64, ge=1, description="queued REST renders before answering 503")
    quality: int = Field(90, ge=1, le=100, description="WebP/JPEG quality of frames")

    # photos: adaptation is minutes of CPU per photo, so jobs run in a small pool behind a short queue
    photo_ttl_s: float = Field(1800.0, gt=0, description="an idle photo session (and its photo) is dropped after this")
    photo_memory_bytes: int = Field(1 << 30, ge=0, description="photo pixels held in memory by all sessions "
                                    "together (a 4096² upload holds ≈ 50 MB); beyond it uploads get 503 + Retry-After")
    photo_frame_size: int = Field(512, ge=16, le=2048, description="side of the frames shown while painting a "
                                  "photo (the full-resolution composite at display size; smaller photos: their own)")
    photo_fit: Literal["crop", "letterbox"] = Field("crop", description="default fit of a photo to the model's square")
    job_workers: int = Field(1, ge=1, description="adaptation jobs that run at once (threads)")
    job_threads: int = Field(1, ge=1, description="torch intra-op threads of one adaptation job; more than one "
                             "makes an OpenMP team that stalls whenever a render thread takes its core (threads.py)")
    job_queue: int = Field(4, ge=0, description="jobs that may wait for a worker before uploads get 503")
    job_keep_s: float = Field(600.0, gt=0, description="how long a finished job's record stays readable")
    # adaptation budget; None keeps ganpaint.photo.adapt.AdaptSettings' defaults (tests use tiny budgets)
    adapt_h_steps: int | None = Field(None, ge=0, description="ganpaint.photo.adapt steps: layer4 activations")
    adapt_coarse_steps: int | None = Field(None, ge=0, description="ganpaint.photo.adapt steps: coarse layer weights")
    adapt_fine_steps: int | None = Field(None, ge=0, description="ganpaint.photo.adapt steps: fine layer offset")
    adapt_init_candidates: int | None = Field(None, ge=1, description="random starts tried without an encoder")

    @field_validator("models")
    @classmethod
    def _nonempty_ids(cls, v: list[str]) -> list[str]:
        if any(not m or "/" in m or m.startswith(".") for m in v):
            raise ValueError("model ids must be plain folder names")
        return v

    def stroke_limits(self) -> StrokeLimits:
        return StrokeLimits(max_points=self.max_points, max_mask_bytes=self.max_mask_bytes)

    def resolve_device(self) -> str:
        if self.device != "auto":
            return self.device
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
