# GANPaint, CPU image: the server with the embedded `scenes` model; pulled models persist in /data.
#   docker build -t ganpaint .
#   docker run -p 8000:8000 -v ganpaint-home:/data ganpaint
#   docker run --rm -v ganpaint-home:/data ganpaint ganpaint models pull churchoutdoor
FROM python:3.11-slim

# A CPU-only torch keeps the image small (the PyPI wheel bundles CUDA libraries); see docker/Dockerfile.cuda.
ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
RUN pip install --no-cache-dir "torch==${TORCH_VERSION}" --index-url "${TORCH_INDEX}"

# Only what the server needs; the embedded model's weights and tables are in models/.
COPY pyproject.toml README.md ./
COPY ganpaint/ ganpaint/
COPY server/ server/
COPY frontend/ frontend/
COPY models/ models/
RUN pip install --no-cache-dir .

RUN groupadd --gid 10001 ganpaint \
    && useradd --create-home --uid 10001 --gid 10001 ganpaint \
    && mkdir -p /data \
    && chown 10001:10001 /data

# The installed package cannot find the source tree's folders by itself: point the settings at /app.
ENV GANPAINT_HOME=/data \
    GANPAINT_MODELS_DIR=/app/models \
    GANPAINT_FRONTEND_DIR=/app/frontend
VOLUME ["/data"]
USER 10001:10001
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/api/health', timeout=4)"]

CMD ["ganpaint", "serve", "--host", "0.0.0.0", "--port", "8000"]
