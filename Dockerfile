# nst: the CLI and the Telegram bot (`nst serve-bot`, `nst worker`) on CPU PyTorch.
#
#   docker build -t nst .
#   docker run --rm -v "$PWD:/work" -w /work nst stylize photo.jpg style.jpg -o out.png
#   docker compose up -d                     # the bot, its workers and Redis: compose.yaml
#
# Build arguments (all optional):
#   BASE_IMAGE     a Debian bookworm image with or without Python: python:3.11-slim-bookworm
#                  (default) or plain debian:bookworm-slim, where Debian's python3 is installed
#   TORCH_INDEX    where pip finds PyTorch's CPU wheels (default: PyTorch's CPU index; the
#                  CUDA wheels on PyPI would add ~3 GB of unused GPU libraries)
#   TORCH_PIP_ARGS more pip arguments for that step, e.g. --find-links /wheels
#   TORCH_PACKAGES what to install there, e.g. "torch==2.13.0+cpu torchvision==0.28.0"
#   PIP_CERT       a CA bundle for pip (one mounted into the build, e.g. `podman build -v`)
#   TORCHVISION_OPS_OPTIONAL  1: let torchvision import without its compiled ops (below; off
#                  by default, for sandboxes whose only torchvision is a CUDA build)
#   VERSION        the version label (the Makefile passes pyproject's)
ARG BASE_IMAGE=python:3.11-slim-bookworm

# -- runtime: Python, a venv's interpreter, the user -------------------------------------------
FROM ${BASE_IMAGE} AS runtime
# The official Python image has python3 with venv; plain Debian gets its own 3.11 here.
RUN if ! python3 -c "import ensurepip, venv" 2>/dev/null; then \
        apt-get update \
        && apt-get install -y --no-install-recommends python3 python3-venv \
        && apt-get clean && rm -rf /var/lib/apt/lists/*; \
    fi \
    && useradd --system --uid 10001 --user-group --create-home --home-dir /home/nst nst \
    && mkdir -p /data /cache \
    && chown nst:nst /data /cache

# -- build: PyTorch's CPU wheels, then nst with the redis extra, into /opt/nst ----------------
FROM runtime AS build
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
ARG TORCH_PIP_ARGS=
ARG TORCH_PACKAGES="torch torchvision"
ARG PIP_CERT
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# torch first, in its own layer: a change to nst's code does not download it again. Its C++
# tests and headers go: nst neither compiles extensions nor runs them (~170 MB).
RUN [ -n "$PIP_CERT" ] || unset PIP_CERT; \
    python3 -m venv /opt/nst \
    && /opt/nst/bin/pip install --index-url "$TORCH_INDEX" $TORCH_PIP_ARGS $TORCH_PACKAGES \
    && site=$(/opt/nst/bin/python -c "import sysconfig; print(sysconfig.get_path('purelib'))") \
    && rm -rf "$site/torch/test" "$site/torch/include" "$site"/torch/bin/test_* \
        "$site"/torch/bin/protoc*
# Off by default: torchvision is left as pip installed it. `make image` sets it because this
# project's sandbox has only a CUDA build of torchvision: its compiled ops (_C.so) need CUDA
# torch and never load beside the CPU torch, and then torchvision 0.28 registers fake kernels
# for torchvision::nms and ::qnms unguarded, so `import torchvision` raises ("operator
# torchvision::nms does not exist"). nst uses no torchvision ops (model definitions, weight
# enums, gaussian_blur), so those two registrations are skipped when the ops are missing, as
# torchvision already does for its other ops. The build fails if the patch did not apply.
ARG TORCHVISION_OPS_OPTIONAL=0
RUN if [ "$TORCHVISION_OPS_OPTIONAL" = 1 ]; then \
        meta=$(/opt/nst/bin/python -c "import importlib.util as u; print(u.find_spec('torchvision').submodule_search_locations[0])")/_meta_registrations.py \
        && fakes=$(grep -c '^@torch\.library\.register_fake("torchvision::' "$meta") \
        && sed -i 's/^@torch\.library\.register_fake(\("torchvision::[a-z_]*"\))$/@(torch.library.register_fake(\1) if torchvision.extension._has_ops() else lambda fn: fn)/' "$meta" \
        && [ "$(grep -c '^@(torch\.library\.register_fake("torchvision::[a-z_]*") if torchvision\.extension\._has_ops() else' "$meta")" = "$fakes" ] \
        && [ "$(grep -c 'register_fake(' "$meta")" = "$fakes" ] \
        && /opt/nst/bin/python -m compileall -q "$meta" \
        && echo "torchvision: $fakes fake-kernel registrations made optional in $meta"; \
    fi \
    && /opt/nst/bin/python -c "import torchvision.models, torchvision.transforms.functional"
COPY pyproject.toml README.md LICENSE /src/
COPY nstcli /src/nstcli
RUN [ -n "$PIP_CERT" ] || unset PIP_CERT; \
    /opt/nst/bin/pip install "/src[redis]" \
    && /opt/nst/bin/nst --version

# -- the image ---------------------------------------------------------------------------------
FROM runtime
ARG VERSION=dev
LABEL org.opencontainers.image.title="nst" \
      org.opencontainers.image.description="Neural style transfer and x4 super-resolution on CPU: CLI and Telegram bot" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.version="${VERSION}"
COPY --from=build /opt/nst /opt/nst
# /data: the bot's job store, queue and downloads (NST_DATA_DIR is --data-dir); /cache: the
# torch hub cache, where downloaded weights (ResNet50) stay between containers. The heartbeat
# lives in the container's own /tmp, so workers sharing a volume never share it.
ENV PATH=/opt/nst/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    NST_DATA_DIR=/data \
    TORCH_HOME=/cache/torch \
    XDG_CACHE_HOME=/cache \
    NST_HEARTBEAT_FILE=/tmp/nst-heartbeat.json
USER nst
WORKDIR /home/nst
VOLUME ["/data", "/cache"]
# The bot vouches for polling, a worker for taking jobs (`nst health` reads their heartbeat);
# polling may stay quiet 60 s, a worker 30 s. A one-shot `nst stylize` exits long before.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 CMD ["nst", "health"]
ENTRYPOINT ["nst"]
CMD ["--help"]
